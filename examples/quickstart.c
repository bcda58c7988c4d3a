/*
 * quickstart.c - a linear regression through the origin with rmc's C API.
 *
 *     beta ~ Normal(0, 1)
 *     y[i] ~ Normal(beta * x[i], 1),   i = 1..1000
 *
 * The data are simulated with beta = 2.5, so the posterior mean of beta should be close
 * to 2.5. Build with the project (RMC_BUILD_EXAMPLES=ON) and run ./quickstart.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmc.h"

#define N 1000

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

/* A small self-contained generator (splitmix64), so the example needs nothing but libm
 * and gives the same data everywhere. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A standard normal by Box-Muller, from two uniforms in (0, 1). */
static double std_normal(uint64_t *state)
{
    double u1 = ((double)(next_u64(state) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = ((double)(next_u64(state) >> 11) + 0.5) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.28318530717958647693 * u2);
}

int main(void)
{
    /* The data set keeps pointers, not copies: these arrays outlive the program. */
    static double x[N], y[N];
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_fit *fit = NULL;
    double *summary = NULL;
    int rc = 1;

    /* Simulate: x ~ N(0, 1), y = 2.5 x + N(0, 1). */
    uint64_t state = 12345;
    for (int i = 0; i < N; i++) {
        x[i] = std_normal(&state);
        y[i] = 2.5 * x[i] + std_normal(&state);
    }

    /* The model: one parameter, two data vectors whose length comes from the data. */
    rmc_node beta, xs, ys, zero, one, mean;
    int64_t any = -1;
    CHECK(rmc_model_create(&model));
    CHECK(rmc_param(model, "beta", 0, NULL, NULL, RMC_NONE, RMC_NONE, &beta));
    CHECK(rmc_data_field(model, "x", RMC_REAL, 1, &any, NULL, &xs));
    CHECK(rmc_data_field(model, "y", RMC_REAL, 1, &any, NULL, &ys));
    CHECK(rmc_const(model, 0.0, &zero));
    CHECK(rmc_const(model, 1.0, &one));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){zero, one}));
    CHECK(rmc_op2(model, RMC_OP_MUL, beta, xs, &mean));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, ys, 2, (rmc_node[]){mean, one}));

    /* Bind the data and compile. */
    int64_t n = N;
    CHECK(rmc_data_create(&data));
    CHECK(rmc_data_set(data, "x", RMC_REAL, x, 1, &n));
    CHECK(rmc_data_set(data, "y", RMC_REAL, y, 1, &n));
    CHECK(rmc_program_create(model, data, &program));

    /* Sample: 8 chains of 500 warmup and 1000 kept draws. */
    rmc_config config;
    rmc_config_default(&config);
    config.chains = 8;
    config.warmup = 500;
    config.draws = 1000;
    config.seed = 2024;
    CHECK(rmc_sample(program, &config, &fit));

    const char *text = rmc_fit_summary_text(fit);
    if (text == NULL) {
        fprintf(stderr, "rmc_fit_summary_text failed: %s\n", rmc_last_error());
        goto done;
    }
    fputs(text, stdout);

    /* The posterior mean of beta, from the summary, found by column name. */
    int64_t ncol = rmc_fit_num_columns(fit);
    int64_t beta_col = -1;
    for (int64_t c = 0; c < ncol; c++) {
        const char *name = rmc_fit_column_name(fit, c);
        if (name != NULL && strcmp(name, "beta") == 0) {
            beta_col = c;
        }
    }
    if (beta_col < 0) {
        fprintf(stderr, "no column named beta in the fit\n");
        goto done;
    }
    summary = malloc((size_t)(ncol * RMC_SUM_COUNT) * sizeof *summary);
    if (summary == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    CHECK(rmc_fit_summary(fit, summary));
    printf("\nposterior mean of beta: %.4f (simulated with 2.5)\n",
           summary[beta_col * RMC_SUM_COUNT + RMC_SUM_MEAN]);
    rc = 0;

done:
    free(summary);
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
