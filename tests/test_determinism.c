/* test_determinism.c - the same seed gives bit-identical draws: run after run, whatever
 * the number of threads, for NUTS and HMC on several models; another seed gives other
 * draws.
 *
 * `test_determinism --digest` prints one 64-bit digest of the draws and statistics per
 * model and sampler instead, so that builds can be compared: scripts/sanitize.sh compares
 * the portable build with -march=native and with -ffp-contract=off (docs/RELIABILITY.md
 * says what differs and why). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rmc.h"

#define OK(call) assert_int_equal((call), RMC_OK)

#define N 60

static double xs[N], ys[N], xm[N * 3];
static int64_t ybin[N], group[N];
static const double school_y[8] = { 28, 8, -3, 7, -1, 1, 18, 12 };
static const double school_sigma[8] = { 15, 10, 16, 11, 9, 11, 10, 18 };

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_program *compile(rmc_model *m, rmc_data *d)
{
    rmc_program *p;

    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s", rmc_last_error());
    rmc_model_free(m);
    rmc_data_free(d);
    return p;
}

/* Linear regression with a Student-t likelihood: long sums in the hot loop. */
static rmc_program *robust_regression(void)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node a, b, s, x, y, bx, mu;
    int64_t n = N, any = -1;

    OK(rmc_model_create(&m));
    OK(rmc_param(m, "a", 0, NULL, NULL, RMC_NONE, RMC_NONE, &a));
    OK(rmc_param(m, "b", 0, NULL, NULL, RMC_NONE, RMC_NONE, &b));
    OK(rmc_param(m, "s", 0, NULL, NULL, konst(m, 0.0), RMC_NONE, &s));
    OK(rmc_data_field(m, "x", RMC_REAL, 1, &any, NULL, &x));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &any, NULL, &y));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, a, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, b, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, s, 1, (rmc_node[]){ konst(m, 2.0) }));
    OK(rmc_op2(m, RMC_OP_MUL, b, x, &bx));
    OK(rmc_op2(m, RMC_OP_ADD, a, bx, &mu));
    OK(rmc_tilde(m, RMC_DIST_STUDENT_T, y, 3, (rmc_node[]){ konst(m, 4.0), mu, s }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "x", RMC_REAL, xs, 1, &n));
    OK(rmc_data_set(d, "y", RMC_REAL, ys, 1, &n));
    return compile(m, d);
}

static rmc_program *eight_schools(void)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node mu, tau, z, tz, theta, y, sigma;
    int64_t j = 8, any = -1;

    OK(rmc_model_create(&m));
    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_param(m, "tau", 0, NULL, NULL, konst(m, 0.0), RMC_NONE, &tau));
    OK(rmc_param(m, "z", 1, &j, NULL, RMC_NONE, RMC_NONE, &z));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &any, NULL, &y));
    OK(rmc_data_field(m, "sigma", RMC_REAL, 1, &any, NULL, &sigma));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, (rmc_node[]){ konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, z, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
    OK(rmc_op2(m, RMC_OP_MUL, tau, z, &tz));
    OK(rmc_op2(m, RMC_OP_ADD, mu, tz, &theta));
    OK(rmc_deterministic(m, "theta", theta));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ theta, sigma }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, school_y, 1, &j));
    OK(rmc_data_set(d, "sigma", RMC_REAL, school_sigma, 1, &j));
    return compile(m, d);
}

/* Logistic regression through a data matrix, with varying intercepts by group: matvec,
 * gather and the Bernoulli-logit kernel. */
static rmc_program *hierarchical_logistic(void)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node beta, a, xmat, g, y, xb, ag, eta, sd;
    int64_t three = 3, four = 4, n = N, shape[2] = { N, 3 }, any = -1;
    int64_t mdims[2] = { -1, -1 };

    OK(rmc_model_create(&m));
    OK(rmc_param(m, "beta", 1, &three, NULL, RMC_NONE, RMC_NONE, &beta));
    OK(rmc_param(m, "a", 1, &four, NULL, RMC_NONE, RMC_NONE, &a));
    OK(rmc_param(m, "sd", 0, NULL, NULL, konst(m, 0.0), RMC_NONE, &sd));
    OK(rmc_data_field(m, "X", RMC_REAL, 2, mdims, NULL, &xmat));
    OK(rmc_data_field(m, "g", RMC_INT64, 1, &any, NULL, &g));
    OK(rmc_data_field(m, "y", RMC_INT64, 1, &any, NULL, &y));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 2.0) }));
    OK(rmc_tilde(m, RMC_DIST_HALF_NORMAL, sd, 1, (rmc_node[]){ konst(m, 1.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, a, 2, (rmc_node[]){ konst(m, 0.0), sd }));
    OK(rmc_matvec(m, xmat, beta, &xb));
    OK(rmc_gather(m, a, g, 1, &ag));
    OK(rmc_op2(m, RMC_OP_ADD, xb, ag, &eta));
    OK(rmc_tilde(m, RMC_DIST_BERNOULLI_LOGIT, y, 1, &eta));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "X", RMC_REAL, xm, 2, shape));
    OK(rmc_data_set(d, "g", RMC_INT64, group, 1, &n));
    OK(rmc_data_set(d, "y", RMC_INT64, ybin, 1, &n));
    return compile(m, d);
}

static rmc_fit *run(const rmc_program *p, int sampler, int threads, uint64_t seed)
{
    rmc_config c;
    rmc_fit *f;

    rmc_config_default(&c);
    c.chains = 4;
    c.warmup = 150;
    c.draws = 150;
    c.sampler = sampler;
    c.threads = threads;
    c.seed = seed;
    if (rmc_sample(p, &c, &f) != RMC_OK)
        fail_msg("rmc_sample: %s", rmc_last_error());
    return f;
}

/* FNV-1a over the bytes of the draws and statistics. */
static uint64_t digest(const rmc_fit *f)
{
    const size_t nv = (size_t)(rmc_fit_chains(f) * rmc_fit_draws(f) * rmc_fit_num_columns(f));
    const size_t ns = (size_t)(rmc_fit_chains(f) * rmc_fit_draws(f) * RMC_STAT_COUNT);
    uint64_t h = 1469598103934665603ull;

    for (int part = 0; part < 2; part++) {
        const unsigned char *b = (const unsigned char *)(part ? rmc_fit_stats(f)
                                                               : rmc_fit_values(f));
        size_t n = (part ? ns : nv) * sizeof(double);

        for (size_t i = 0; i < n; i++)
            h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

typedef rmc_program *(*model_fn)(void);

static const struct {
    const char *name;
    model_fn make;
} MODELS[] = {
    { "robust_regression", robust_regression },
    { "eight_schools", eight_schools },
    { "hierarchical_logistic", hierarchical_logistic },
};
#define NMODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

static void same_seed_same_draws(void **state)
{
    (void)state;
    for (int k = 0; k < NMODELS; k++) {
        rmc_program *p = MODELS[k].make();

        for (int s = 0; s < 2; s++) {
            rmc_fit *base = run(p, s, 1, 42);
            uint64_t h = digest(base);

            for (int threads = 1; threads <= 4; threads *= 2) {
                rmc_fit *again = run(p, s, threads, 42);

                if (digest(again) != h)
                    fail_msg("%s, sampler %d: %d thread(s) gave other draws", MODELS[k].name,
                             s, threads);
                rmc_fit_free(again);
            }
            {
                rmc_fit *other = run(p, s, 2, 43);

                if (digest(other) == h)
                    fail_msg("%s, sampler %d: seeds 42 and 43 gave the same draws",
                             MODELS[k].name, s);
                rmc_fit_free(other);
            }
            rmc_fit_free(base);
        }
        rmc_program_free(p);
    }
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        xs[i] = sin(0.37 * i) * 2.0;
        ys[i] = 0.7 - 1.3 * xs[i] + 0.5 * tan(0.9 * cos(3.1 * i));
        for (int j = 0; j < 3; j++)
            xm[i * 3 + j] = cos(0.5 * i + 1.7 * j);
        group[i] = 1 + i % 4;
        ybin[i] = sin(1.9 * i) + xm[i * 3] > 0.2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_draws),
    };

    if (argc > 1 && strcmp(argv[1], "--digest") == 0) {
        setup(NULL);
        for (int k = 0; k < NMODELS; k++) {
            rmc_program *p = MODELS[k].make();

            for (int s = 0; s < 2; s++) {
                rmc_fit *f = run(p, s, 0, 42);

                printf("%-22s %-4s %016llx\n", MODELS[k].name, s ? "hmc" : "nuts",
                       (unsigned long long)digest(f));
                rmc_fit_free(f);
            }
            rmc_program_free(p);
        }
        return 0;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
