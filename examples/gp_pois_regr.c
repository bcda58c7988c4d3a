/*
 * gp_pois_regr.c - posteriordb's gp_pois_regr-gp_pois_regr: Poisson counts with a latent
 * Gaussian process, non-centred, with rmc's C API.
 *
 *     C[i, j]    = alpha^2 exp(-(x[i] - x[j])^2 / (2 rho^2)) + 1e-10 [i == j]
 *     L          = the lower Cholesky factor of C
 *     rho        ~ Gamma(25, 4),       rho > 0
 *     alpha      ~ HalfNormal(0, 2),   alpha > 0
 *     f_tilde[i] ~ Normal(0, 1)
 *     f          = L f_tilde                              (recorded in the draws)
 *     k[i]       ~ Poisson(exp(f[i])),  i = 1..11
 *
 * f = L f_tilde has the Gaussian process prior f ~ MultiNormal(0, C) but moves the sampler
 * over independent standard normals, which removes the funnel between alpha (the scale of
 * f) and f that the centred form has. The covariance depends on rho and alpha, so its
 * Cholesky factor is taken inside the log density, and its reverse-mode rule carries the
 * gradient back to them. The reference run (Stan) used a target acceptance of 0.99 and
 * trees up to depth 15; this example uses the same.
 *
 * Run: ./gp_pois_regr [posteriordb folder]   (default: $RMC_POSTERIORDB, else the folder
 * set at build time). tests/test_posteriordb_examples.c holds this model to the reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "posteriordb_json.h"
#include "rmc.h"

/* The data as rmc binds them; rmc keeps pointers, so these outlive the program. */
typedef struct gp_data {
    int64_t n;  /* points                                      */
    double *x;  /* their positions, n (integers in the file)     */
    int64_t *k; /* the counts, n                                 */
} gp_data;

static void gp_data_free(gp_data *d)
{
    free(d->x);
    free(d->k);
}

/* Read N, x and k from DIR/gp_pois_regr-gp_pois_regr.data.json (its y is not used by
 * this model). Returns 0, or -1 after printing why. */
static int gp_read(const char *dir, gp_data *d)
{
    cJSON *json = pdbx_load(dir, "gp_pois_regr-gp_pois_regr");
    int64_t nx = 0, nk = 0, one;
    int rc = -1;

    d->x = NULL;
    d->k = NULL;
    if (json == NULL)
        return -1;
    d->n = pdbx_int(json, "N");
    d->x = pdbx_array(json, "x", 0, &nx, &one);
    d->k = pdbx_array(json, "k", 1, &nk, &one);
    if (d->n < 1 || d->x == NULL || d->k == NULL)
        goto done;
    if (nx != d->n || nk != d->n) {
        fprintf(stderr, "gp_pois_regr: N = %lld, but x has %lld values and k %lld\n",
                (long long)d->n, (long long)nx, (long long)nk);
        goto done;
    }
    rc = 0;

done:
    cJSON_Delete(json);
    if (rc != 0)
        gp_data_free(d);
    return rc;
}

/* The model. Builder errors are sticky (see rmc.h): one check at the end covers every
 * call, and rmc_model_error() names the first that failed. */
static rmc_status gp_model(rmc_model **out)
{
    rmc_model *m;
    rmc_node zero, one, two, four, twenty_five;
    rmc_node rho, alpha, f_tilde, x, k, cov, chol, f;
    const char *n_name[] = {"N"}; /* the length of f_tilde is the data scalar N */
    int64_t any = -1;
    rmc_status status = rmc_model_create(&m);

    if (status != RMC_OK)
        return status;
    rmc_const(m, 0.0, &zero);
    rmc_const(m, 1.0, &one);
    rmc_const(m, 2.0, &two);
    rmc_const(m, 4.0, &four);
    rmc_const(m, 25.0, &twenty_five);

    /* Parameters. The lower bounds make rho and alpha positive (sampled as their logs);
     * a distribution statement alone would not restrict them. */
    rmc_param(m, "rho", 0, NULL, NULL, zero, RMC_NONE, &rho);
    rmc_param(m, "alpha", 0, NULL, NULL, zero, RMC_NONE, &alpha);
    rmc_param(m, "f_tilde", 1, NULL, n_name, RMC_NONE, RMC_NONE, &f_tilde);

    /* Priors: Gamma takes (shape, rate); HalfNormal takes its scale. */
    rmc_tilde(m, RMC_DIST_GAMMA, rho, 2, (rmc_node[]){twenty_five, four});
    rmc_tilde(m, RMC_DIST_HALF_NORMAL, alpha, 1, &two);
    rmc_tilde(m, RMC_DIST_NORMAL, f_tilde, 2, (rmc_node[]){zero, one});

    /* f = L f_tilde. The jitter 1e-10 on the diagonal keeps C numerically positive
     * definite when rho is large and neighbouring points are almost perfectly correlated;
     * a point where the factorisation still fails gets log density -inf, a rejection. */
    rmc_data_field(m, "x", RMC_REAL, 1, &any, NULL, &x);
    rmc_cov_exp_quad(m, x, alpha, rho, 1e-10, &cov);
    rmc_cholesky(m, cov, &chol);
    rmc_matvec(m, chol, f_tilde, &f);
    rmc_deterministic(m, "f", f);

    /* Counts on the log scale: PoissonLog(f) is Poisson(exp(f)) without forming exp(f). */
    rmc_data_field(m, "k", RMC_INT64, 1, NULL, n_name, &k);
    rmc_tilde(m, RMC_DIST_POISSON_LOG, k, 1, &f);

    status = rmc_model_status(m);
    if (status != RMC_OK) {
        fprintf(stderr, "building the model failed: %s\n", rmc_model_error(m));
        rmc_model_free(m);
        return status;
    }
    *out = m;
    return RMC_OK;
}

/* Bind the arrays under the names the model's data fields use. */
static rmc_status gp_bind(const gp_data *d, rmc_data **out)
{
    rmc_data *data;
    rmc_status status = rmc_data_create(&data);

    if (status == RMC_OK)
        status = rmc_data_set(data, "N", RMC_INT64, &d->n, 0, NULL);
    if (status == RMC_OK)
        status = rmc_data_set(data, "x", RMC_REAL, d->x, 1, &d->n);
    if (status == RMC_OK)
        status = rmc_data_set(data, "k", RMC_INT64, d->k, 1, &d->n);
    if (status != RMC_OK) {
        fprintf(stderr, "binding the data failed: %s\n", rmc_last_error());
        rmc_data_free(data);
        return status;
    }
    *out = data;
    return RMC_OK;
}

/* 4 chains of 1000 warmup and 1000 kept draws, with the reference run's settings: a
 * target acceptance of 0.99 (smaller steps, for the curvature left between rho, alpha and
 * f) and trees up to depth 15. */
static void gp_config(rmc_config *config)
{
    rmc_config_default(config);
    config->chains = 4;
    config->warmup = 1000;
    config->draws = 1000;
    config->target_accept = 0.99;
    config->max_depth = 15;
    config->seed = 20261204;
}

#ifndef RMC_EXAMPLE_NO_MAIN
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

int main(int argc, char **argv)
{
    gp_data d;
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_fit *fit = NULL;
    rmc_config config;
    int rc = 1;

    if (gp_read(pdbx_folder(argc, argv), &d) != 0)
        return 1;
    CHECK(gp_model(&model));
    CHECK(gp_bind(&d, &data));
    CHECK(rmc_program_create(model, data, &program));

    gp_config(&config);
    CHECK(rmc_sample(program, &config, &fit));

    const char *text = rmc_fit_summary_text(fit);
    if (text == NULL) {
        fprintf(stderr, "rmc_fit_summary_text failed: %s\n", rmc_last_error());
        goto done;
    }
    fputs(text, stdout);

    /* The summary ends with the run's size, its gradient evaluations and time, and a
     * warning if trees hit the depth limit. Divergent transitions would mean the
     * posterior was not explored faithfully. */
    const double *stats = rmc_fit_stats(fit);
    int64_t total = rmc_fit_chains(fit) * rmc_fit_draws(fit), divergent = 0;
    for (int64_t i = 0; i < total; i++)
        divergent += stats[i * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0.0;
    printf("divergent transitions: %lld of %lld\n", (long long)divergent, (long long)total);
    rc = 0;

done:
    /* The header does not promise that the free functions accept NULL. */
    if (fit != NULL)
        rmc_fit_free(fit);
    if (program != NULL)
        rmc_program_free(program);
    if (data != NULL)
        rmc_data_free(data);
    if (model != NULL)
        rmc_model_free(model);
    gp_data_free(&d);
    return rc;
}
#endif
