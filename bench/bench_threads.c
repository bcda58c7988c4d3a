/*
 * bench_threads.c - NUTS wall time on eight schools with one and two threads, and a check
 * that the thread count does not change a single bit of the draws.
 *
 * 8 chains, 1000 warmup, 1000 draws, fixed seed. Runs alternate between the thread
 * counts so that a slow spell on a shared machine hurts both alike; the median of RUNS
 * runs per count is reported.
 *
 * Exit status: 0 on success, 1 on an rmc error, 2 when draws differ between runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rmc.h"

#define RUNS 3
#define CHAINS 8
#define WARMUP 1000
#define DRAWS 1000
#define SEED 20240607u
#define J 8

#define CHECK(call)                                                                       \
    do {                                                                                  \
        rmc_status check_status_ = (call);                                                \
        if (check_status_ != RMC_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,      \
                    rmc_status_string(check_status_), rmc_last_error());                  \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

static const double school_y[J] = {28, 8, -3, 7, -1, 1, 18, 12};
static const double school_sigma[J] = {15, 10, 16, 11, 9, 11, 10, 18};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Eight schools, non-centred, theta recorded as a deterministic. Returns 0 on success. */
static int build_model(rmc_model **out)
{
    rmc_model *m = NULL;
    rmc_node mu, tau, tt, y, sigma, zero, one, five, scaled, theta;
    int64_t j = J;

    *out = NULL;
    CHECK(rmc_model_create(&m));
    CHECK(rmc_const(m, 0.0, &zero));
    CHECK(rmc_const(m, 1.0, &one));
    CHECK(rmc_const(m, 5.0, &five));
    CHECK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    CHECK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    CHECK(rmc_param(m, "theta_trans", 1, &j, NULL, RMC_NONE, RMC_NONE, &tt));
    CHECK(rmc_data_field(m, "y", RMC_REAL, 1, &j, NULL, &y));
    CHECK(rmc_data_field(m, "sigma", RMC_REAL, 1, &j, NULL, &sigma));

    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){zero, five}));
    CHECK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, &five));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, tt, 2, (rmc_node[]){zero, one}));

    CHECK(rmc_op2(m, RMC_OP_MUL, tau, tt, &scaled));
    CHECK(rmc_op2(m, RMC_OP_ADD, mu, scaled, &theta));
    CHECK(rmc_deterministic(m, "theta", theta));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){theta, sigma}));

    *out = m;
    return 0;
fail:
    if (m != NULL) {
        rmc_model_free(m);
    }
    return 1;
}

/* Whether two fits hold the same draws and statistics, bit for bit. Prints the first
 * difference. memcmp, not ==, so that NaN against NaN and -0 against +0 count too. */
static int same_fit(const rmc_fit *a, const rmc_fit *b, const char *what)
{
    int64_t chains = rmc_fit_chains(a), draws = rmc_fit_draws(a);
    int64_t cols = rmc_fit_num_columns(a);

    if (chains != rmc_fit_chains(b) || draws != rmc_fit_draws(b)
        || cols != rmc_fit_num_columns(b)) {
        fprintf(stderr, "%s: fits differ in shape\n", what);
        return 0;
    }
    for (int64_t c = 0; c < chains; c++) {
        if (rmc_fit_completed(a, c) != rmc_fit_completed(b, c)) {
            fprintf(stderr, "%s: chain %lld completed different numbers of draws\n", what,
                    (long long)c);
            return 0;
        }
    }

    const double *va = rmc_fit_values(a), *vb = rmc_fit_values(b);
    int64_t nv = chains * draws * cols;
    for (int64_t k = 0; k < nv; k++) {
        if (memcmp(&va[k], &vb[k], sizeof va[k]) != 0) {
            int64_t c = k / (draws * cols), d = k / cols % draws;
            fprintf(stderr, "%s: draws differ first at chain %lld, draw %lld, %s: %.17g vs "
                            "%.17g\n", what, (long long)c, (long long)d,
                    rmc_fit_column_name(a, k % cols), va[k], vb[k]);
            return 0;
        }
    }

    /* Identical trajectories give identical statistics; a difference here is
     * nondeterminism that has not reached the draws yet. */
    const double *sa = rmc_fit_stats(a), *sb = rmc_fit_stats(b);
    int64_t ns = chains * draws * RMC_STAT_COUNT;
    for (int64_t k = 0; k < ns; k++) {
        if (memcmp(&sa[k], &sb[k], sizeof sa[k]) != 0) {
            fprintf(stderr, "%s: sampler statistics differ first at chain %lld, draw %lld, "
                            "statistic %lld\n", what, (long long)(k / (draws * RMC_STAT_COUNT)),
                    (long long)(k / RMC_STAT_COUNT % draws), (long long)(k % RMC_STAT_COUNT));
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    static const int32_t thread_counts[2] = {1, 2};
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_fit *reference = NULL, *fit = NULL;
    double wall[2][RUNS], inner[2][RUNS];
    int64_t gradients = 0;
    int64_t j = J;
    int rc = 1;

    if (build_model(&model) != 0) {
        goto fail;
    }
    CHECK(rmc_data_create(&data));
    CHECK(rmc_data_set(data, "y", RMC_REAL, school_y, 1, &j));
    CHECK(rmc_data_set(data, "sigma", RMC_REAL, school_sigma, 1, &j));
    CHECK(rmc_program_create(model, data, &program));

    rmc_config config;
    rmc_config_default(&config);
    config.sampler = RMC_SAMPLER_NUTS;
    config.chains = CHAINS;
    config.warmup = WARMUP;
    config.draws = DRAWS;
    config.seed = SEED;

    /* Alternate 1, 2, 1, 2, ...; every fit is compared with the first one, so this also
     * checks that repeated runs with the same thread count agree. */
    for (int r = 0; r < RUNS; r++) {
        for (int t = 0; t < 2; t++) {
            config.threads = thread_counts[t];
            double start = now_seconds();
            CHECK(rmc_sample(program, &config, &fit));
            wall[t][r] = now_seconds() - start;
            inner[t][r] = rmc_fit_seconds(fit);

            if (reference == NULL) {
                reference = fit;
                gradients = rmc_fit_num_gradients(fit);
            } else {
                char what[64];
                snprintf(what, sizeof what, "run %d, threads=%d", r + 1, thread_counts[t]);
                if (!same_fit(reference, fit, what)) {
                    rc = 2;
                    goto fail;
                }
                rmc_fit_free(fit);
            }
            fit = NULL;
        }
    }

    for (int t = 0; t < 2; t++) {
        qsort(wall[t], RUNS, sizeof wall[t][0], compare_doubles);
        qsort(inner[t], RUNS, sizeof inner[t][0], compare_doubles);
    }
    double med1 = wall[0][RUNS / 2], med2 = wall[1][RUNS / 2];

    printf("eight schools (non-centred), NUTS, %d chains x (%d warmup + %d draws), seed %u\n",
           CHAINS, WARMUP, DRAWS, (unsigned)SEED);
    printf("gradient evaluations per run: %lld\n", (long long)gradients);
    printf("%-8s %12s %12s %12s %14s %12s\n", "threads", "median s", "min s", "max s",
           "rmc_fit_s med", "grads/s");
    for (int t = 0; t < 2; t++) {
        double med = wall[t][RUNS / 2];
        printf("%-8d %12.3f %12.3f %12.3f %14.3f %12.4g\n", thread_counts[t], med,
               wall[t][0], wall[t][RUNS - 1], inner[t][RUNS / 2], (double)gradients / med);
    }
    printf("speed-up 2 threads over 1: %.2fx (median %d runs each)\n", med1 / med2, RUNS);
    printf("draws and statistics bit-identical across all %d runs and both thread counts\n",
           2 * RUNS);
    rc = 0;

fail:
    /* The header does not promise that the free functions accept NULL. */
    if (fit != NULL) {
        rmc_fit_free(fit);
    }
    if (reference != NULL) {
        rmc_fit_free(reference);
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
