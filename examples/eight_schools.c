/*
 * eight_schools.c - the eight schools hierarchical model, non-centred, with rmc's C API.
 *
 *     mu             ~ Normal(0, 5)
 *     tau            ~ HalfCauchy(0, 5),  tau > 0
 *     theta_trans[j] ~ Normal(0, 1)
 *     theta          = mu + tau * theta_trans          (recorded in the draws)
 *     y[j]           ~ Normal(theta[j], sigma[j]),     j = 1..8
 *
 * Writing theta through theta_trans (the non-centred form) removes the funnel between
 * tau and theta that makes the centred form hard to sample; a high target_accept takes
 * smaller steps for what curvature is left.
 */
#include <stdio.h>

#include "rmc.h"

#define J 8

/* Report a failed call with rmc's message and leave through the cleanup label. */
#define CHECK(call)                                                                       \
    do {                                                                                  \
        rmc_status check_status_ = (call);                                                \
        if (check_status_ != RMC_OK) {                                                    \
            fprintf(stderr, "%s failed: %s: %s\n", #call, rmc_status_string(check_status_), \
                    rmc_last_error());                                                    \
            goto done;                                                                    \
        }                                                                                 \
    } while (0)

/* Estimated coaching effects and their standard errors (Rubin 1981). The data set keeps
 * pointers to these, so they are static. */
static const double effect[J] = {28, 8, -3, 7, -1, 1, 18, 12};
static const double std_err[J] = {15, 10, 16, 11, 9, 11, 10, 18};

int main(void)
{
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_fit *fit = NULL;
    int rc = 1;

    /* Constants first: tau's lower bound is a node, so it must exist before tau. */
    rmc_node zero, one, five;
    CHECK(rmc_model_create(&model));
    CHECK(rmc_const(model, 0.0, &zero));
    CHECK(rmc_const(model, 1.0, &one));
    CHECK(rmc_const(model, 5.0, &five));

    /* Parameters, in the order they appear in the output. */
    rmc_node mu, tau, theta_trans;
    int64_t j = J;
    CHECK(rmc_param(model, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    CHECK(rmc_param(model, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    CHECK(rmc_param(model, "theta_trans", 1, &j, NULL, RMC_NONE, RMC_NONE, &theta_trans));

    /* Priors. */
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){zero, five}));
    CHECK(rmc_tilde(model, RMC_DIST_HALF_CAUCHY, tau, 1, &five));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, theta_trans, 2, (rmc_node[]){zero, one}));

    /* theta = mu + tau * theta_trans, kept in the draws. */
    rmc_node scaled, theta;
    CHECK(rmc_op2(model, RMC_OP_MUL, tau, theta_trans, &scaled));
    CHECK(rmc_op2(model, RMC_OP_ADD, mu, scaled, &theta));
    CHECK(rmc_deterministic(model, "theta", theta));

    /* Likelihood. */
    rmc_node y, sigma;
    CHECK(rmc_data_field(model, "y", RMC_REAL, 1, &j, NULL, &y));
    CHECK(rmc_data_field(model, "sigma", RMC_REAL, 1, &j, NULL, &sigma));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, y, 2, (rmc_node[]){theta, sigma}));

    /* Bind the data and compile. */
    CHECK(rmc_data_create(&data));
    CHECK(rmc_data_set(data, "y", RMC_REAL, effect, 1, &j));
    CHECK(rmc_data_set(data, "sigma", RMC_REAL, std_err, 1, &j));
    CHECK(rmc_program_create(model, data, &program));

    /* Sample: 4 chains, the default 1000 warmup and 1000 draws each. */
    rmc_config config;
    rmc_config_default(&config);
    config.chains = 4;
    config.target_accept = 0.95;
    config.seed = 8;
    CHECK(rmc_sample(program, &config, &fit));

    const char *text = rmc_fit_summary_text(fit);
    if (text == NULL) {
        fprintf(stderr, "rmc_fit_summary_text failed: %s\n", rmc_last_error());
        goto done;
    }
    fputs(text, stdout);

    /* Divergent transitions would mean the posterior was not explored faithfully. */
    const double *stats = rmc_fit_stats(fit);
    int64_t chains = rmc_fit_chains(fit), draws = rmc_fit_draws(fit), divergent = 0;
    for (int64_t k = 0; k < chains * draws; k++) {
        divergent += stats[k * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0.0;
    }
    printf("\ndivergent transitions: %lld of %lld\n", (long long)divergent,
           (long long)(chains * draws));
    rc = 0;

done:
    /* The header does not promise that the free functions accept NULL. */
    if (fit != NULL) {
        rmc_fit_free(fit);
    }
    if (program != NULL) {
        rmc_program_free(program);
    }
    if (data != NULL) {
        rmc_data_free(data);
    }
    if (model != NULL) {
        rmc_model_free(model);
    }
    return rc;
}
