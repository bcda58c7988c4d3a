/* test_api.c - the C API's contract: bad input gets a clear error naming the culprit,
 * seeds fix draws whatever the thread count, and the samplers, callbacks and
 * cancellation behave as documented. */
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

/* The error message must name what is wrong. */
#define assert_error(call, status, needle)                                              \
    do {                                                                                \
        rmc_status st_ = (call);                                                        \
        if (st_ != (status) || !strstr(rmc_last_error(), (needle)))                     \
            fail_msg("%s: got %s \"%s\", wanted %s mentioning \"%s\"", #call,           \
                     rmc_status_string(st_), rmc_last_error(), #status, (needle));      \
    } while (0)

#define N 50

static double xs[N], ys[N];

/* The quick-start regression: beta ~ N(0, 1); y ~ N(beta * x, sigma), sigma ~ HalfNormal. */
static rmc_model *regression(double sigma_scale)
{
    rmc_model *m;
    rmc_node beta, sigma, x, y, mu, zero, one, s;
    int64_t any = -1;
    const char *n_name[] = { "N" };

    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 1.0, &one));
    OK(rmc_const(m, sigma_scale, &s));
    OK(rmc_param(m, "beta", 0, NULL, NULL, RMC_NONE, RMC_NONE, &beta));
    OK(rmc_param(m, "sigma", 0, NULL, NULL, zero, RMC_NONE, &sigma));
    OK(rmc_data_field(m, "x", RMC_REAL, 1, &any, NULL, &x));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, NULL, n_name, &y));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){ zero, one }));
    OK(rmc_tilde(m, RMC_DIST_HALF_NORMAL, sigma, 1, (rmc_node[]){ s }));
    OK(rmc_op2(m, RMC_OP_MUL, beta, x, &mu));
    rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ mu, sigma });
    return m;
}

static rmc_data *regression_data(int64_t n_x, int64_t n_y)
{
    static int64_t n_value = N;
    rmc_data *d;

    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "x", RMC_REAL, xs, 1, &n_x));
    OK(rmc_data_set(d, "y", RMC_REAL, ys, 1, &n_y));
    OK(rmc_data_set(d, "N", RMC_INT64, &n_value, 0, NULL));
    return d;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        xs[i] = sin(0.7 * i) * 2.0;
        ys[i] = 1.5 * xs[i] + cos(1.3 * i);
    }
    return 0;
}

static rmc_program *compile_ok(rmc_model *m, rmc_data *d)
{
    rmc_program *p = NULL;

    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("rmc_program_create: %s", rmc_last_error());
    return p;
}

static void missing_data_field(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d;
    rmc_program *p;
    int64_t n = N;

    (void)state;
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "x", RMC_REAL, xs, 1, &n));
    OK(rmc_data_set(d, "N", RMC_INT64, &(int64_t){ N }, 0, NULL));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "'y' is missing");
    assert_null(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void wrong_length_and_shape(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N - 1);
    rmc_program *p;
    int64_t mat[2] = { 5, 10 };

    (void)state;
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "'y'");
    assert_true(strstr(rmc_last_error(), "49") && strstr(rmc_last_error(), "N"));
    rmc_data_free(d);

    /* x and y disagree: the mismatch names the expression and both shapes */
    d = regression_data(N - 1, N);
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_SHAPE, "vector[49]");
    rmc_data_free(d);

    d = regression_data(N, N);
    OK(rmc_data_set(d, "x", RMC_REAL, xs, 2, mat));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "'x' has shape matrix[5, 10]");
    rmc_data_free(d);
    rmc_model_free(m);
}

static void non_finite_data(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p;
    double keep = ys[7];

    (void)state;
    ys[7] = NAN;
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "'y' has a non-finite value");
    assert_non_null(strstr(rmc_last_error(), "index 7"));
    ys[7] = INFINITY;
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "index 7");
    ys[7] = keep;
    rmc_data_free(d);
    rmc_model_free(m);
}

static void index_out_of_range(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node a, idx, g, zero, one;
    int64_t three = 3, four = 4, any = -1;
    int64_t index[4] = { 1, 2, 4, 3 };

    (void)state;
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 1.0, &one));
    OK(rmc_param(m, "a", 1, &three, NULL, RMC_NONE, RMC_NONE, &a));
    OK(rmc_data_field(m, "group", RMC_INT64, 1, &any, NULL, &idx));
    OK(rmc_gather(m, a, idx, 1, &g));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, g, 2, (rmc_node[]){ zero, one }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "group", RMC_INT64, index, 1, &four));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_DATA, "'group' has value 4 at position 2");
    assert_non_null(strstr(rmc_last_error(), "1..3"));
    rmc_data_free(d);
    rmc_model_free(m);
}

static void non_positive_constant_scale(void **state)
{
    rmc_model *m = regression(0.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p;

    (void)state;
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_MODEL,
                 "argument sigma = 0 must be positive");
    assert_non_null(strstr(rmc_last_error(), "half_normal(parameter 'sigma')"));
    rmc_model_free(m);

    m = regression(-2.0);
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_MODEL, "got -2");
    rmc_data_free(d);
    rmc_model_free(m);
}

static void duplicate_parameter(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_node dup, later;

    (void)state;
    assert_error(rmc_param(m, "beta", 0, NULL, NULL, RMC_NONE, RMC_NONE, &dup), RMC_ERR_MODEL,
                 "duplicate parameter name 'beta'");
    /* sticky: later calls and compilation report the first error */
    assert_error(rmc_const(m, 1.0, &later), RMC_ERR_MODEL, "'beta'");
    assert_int_equal(rmc_model_status(m), RMC_ERR_MODEL);
    rmc_model_free(m);
}

/* The default sampler is chosen by the chain count: ChEES (one number of steps for every
 * chain, no tree) from 64 chains, NUTS below. */
static void auto_sampler_by_chain_count(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p = compile_ok(m, d);
    rmc_config c;
    rmc_fit *f;

    (void)state;
    rmc_config_default(&c);
    assert_int_equal(c.sampler, RMC_SAMPLER_AUTO);
    for (int many = 0; many < 2; many++) {
        const double *st;
        int64_t chains;
        int trees = 0, same = 1;

        c.chains = many ? 64 : 4;
        c.warmup = 100;
        c.draws = 20;
        assert_int_equal(rmc_sample(p, &c, &f), RMC_OK);
        st = rmc_fit_stats(f);
        chains = rmc_fit_chains(f);
        for (int64_t k = 0; k < chains * 20; k++) {
            trees |= st[k * RMC_STAT_COUNT + RMC_STAT_TREE_DEPTH] > 0;
            same &= st[k * RMC_STAT_COUNT + RMC_STAT_N_LEAPFROG] ==
                    st[(k % 20) * RMC_STAT_COUNT + RMC_STAT_N_LEAPFROG];
        }
        assert_int_equal(trees, !many);
        if (many)
            assert_true(same);
        rmc_fit_free(f);
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void bad_settings(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p = compile_ok(m, d);
    rmc_config c;
    rmc_fit *f;

    (void)state;
    rmc_config_default(&c);
    c.chains = 0;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_ARGUMENT, "chains must be at least 1");
    assert_null(f);
    rmc_config_default(&c);
    c.draws = 0;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_ARGUMENT, "draws must be at least 1");
    rmc_config_default(&c);
    c.warmup = -1;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_ARGUMENT, "warmup must be 0 or more");
    rmc_config_default(&c);
    c.target_accept = 1.0;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_ARGUMENT, "target_accept");
    rmc_config_default(&c);
    c.max_depth = 0;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_ARGUMENT, "max_depth");
    rmc_config_default(&c);
    c.chains = 1000000;
    c.draws = 1000000;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_NOMEM, "more memory");
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* A density that is -inf everywhere on the region inits come from. */
static int nowhere(int64_t batch, int64_t dim, const double *x, double *lp, double *grad,
                   void *user)
{
    (void)user;
    for (int64_t b = 0; b < batch; b++) {
        lp[b] = x[b * dim] < 100.0 ? -INFINITY : 0.0;
        memset(grad + b * dim, 0, (size_t)dim * sizeof *grad);
    }
    return 0;
}

static void no_finite_initial_point(void **state)
{
    rmc_program *p;
    rmc_config c;
    rmc_fit *f;

    (void)state;
    OK(rmc_program_from_callback(2, nowhere, NULL, &p));
    rmc_config_default(&c);
    c.init_tries = 20;
    assert_error(rmc_sample(p, &c, &f), RMC_ERR_INIT, "no initial point");
    assert_non_null(strstr(rmc_last_error(), "20 tries"));
    assert_null(f);
    rmc_program_free(p);
}

static rmc_fit *run(const rmc_program *p, int threads, uint64_t seed, int sampler,
                    int64_t draws)
{
    rmc_config c;
    rmc_fit *f = NULL;

    rmc_config_default(&c);
    c.chains = 5;
    c.warmup = 200;
    c.draws = draws;
    c.seed = seed;
    c.threads = threads;
    c.sampler = sampler;
    if (rmc_sample(p, &c, &f) != RMC_OK)
        fail_msg("rmc_sample: %s", rmc_last_error());
    return f;
}

static size_t fit_bytes(const rmc_fit *f)
{
    return (size_t)(rmc_fit_chains(f) * rmc_fit_draws(f) * rmc_fit_num_columns(f)) *
           sizeof(double);
}

static void seeds_fix_draws_whatever_the_threads(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p = compile_ok(m, d);
    rmc_fit *one = run(p, 1, 7, RMC_SAMPLER_NUTS, 200);
    rmc_fit *two = run(p, 2, 7, RMC_SAMPLER_NUTS, 200);
    rmc_fit *again = run(p, 3, 7, RMC_SAMPLER_NUTS, 200);
    rmc_fit *other = run(p, 2, 8, RMC_SAMPLER_NUTS, 200);

    (void)state;
    assert_memory_equal(rmc_fit_values(one), rmc_fit_values(two), fit_bytes(one));
    assert_memory_equal(rmc_fit_stats(one), rmc_fit_stats(two),
                        (size_t)(5 * 200 * RMC_STAT_COUNT) * sizeof(double));
    assert_memory_equal(rmc_fit_values(one), rmc_fit_values(again), fit_bytes(one));
    assert_memory_not_equal(rmc_fit_values(one), rmc_fit_values(other), fit_bytes(one));
    rmc_fit_free(one);
    rmc_fit_free(two);
    rmc_fit_free(again);
    rmc_fit_free(other);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* Both samplers recover the conjugate posterior of beta with sigma near its mode. */
static void samplers_agree_with_least_squares(void **state)
{
    rmc_model *m = regression(1.0);
    rmc_data *d = regression_data(N, N);
    rmc_program *p = compile_ok(m, d);
    double sxx = 0, sxy = 0;

    (void)state;
    for (int i = 0; i < N; i++) {
        sxx += xs[i] * xs[i];
        sxy += xs[i] * ys[i];
    }
    for (int s = 0; s < 2; s++) {
        rmc_fit *f = run(p, 0, 11, s ? RMC_SAMPLER_HMC : RMC_SAMPLER_NUTS, 1000);
        double sum[2 * RMC_SUM_COUNT];

        OK(rmc_fit_summary(f, sum));
        assert_string_equal(rmc_fit_column_name(f, 0), "beta");
        /* sigma is near 0.7, so the prior barely moves beta from least squares */
        assert_true(fabs(sum[RMC_SUM_MEAN] - sxy / sxx) < 0.02);
        if (!(sum[RMC_SUM_RHAT] < 1.01))
            fail_msg("sampler %d: R-hat %g\n%s", s, sum[RMC_SUM_RHAT], rmc_fit_summary_text(f));
        assert_true(sum[RMC_SUM_ESS_BULK] > 1000);
        rmc_fit_free(f);
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* A user's batched density: an anisotropic Gaussian with sds 1, 10, 0.1. */
static int gaussian(int64_t batch, int64_t dim, const double *x, double *lp, double *grad,
                    void *user)
{
    const double *sd = user;

    for (int64_t b = 0; b < batch; b++) {
        lp[b] = 0.0;
        for (int64_t i = 0; i < dim; i++) {
            double z = x[b * dim + i] / sd[i];

            lp[b] -= 0.5 * z * z;
            grad[b * dim + i] = -z / sd[i];
        }
    }
    return 0;
}

static void callback_program_samples(void **state)
{
    static const double sd[3] = { 1.0, 10.0, 0.1 };
    rmc_program *p;
    rmc_fit *f;
    double sum[3 * RMC_SUM_COUNT];

    (void)state;
    OK(rmc_program_from_callback(3, gaussian, (void *)sd, &p));
    f = run(p, 0, 3, RMC_SAMPLER_NUTS, 1000);
    OK(rmc_fit_summary(f, sum));
    for (int i = 0; i < 3; i++) {
        double got = sum[i * RMC_SUM_COUNT + RMC_SUM_SD];

        if (fabs(got / sd[i] - 1.0) > 0.15)
            fail_msg("x[%d]: sd %g, expected %g", i + 1, got, sd[i]);
    }
    assert_string_equal(rmc_fit_column_name(f, 2), "x[3]");
    rmc_fit_free(f);
    rmc_program_free(p);
}

/* Cancel once 1% of the run is done: early enough that the test takes under a second
 * (halfway took 40 s, 150 s under the sanitizers), late enough that draws were kept. */
static int cancel_early(int64_t done, int64_t total, void *user)
{
    (void)user;
    return done * 100 >= total;
}

static int slow_gaussian(int64_t batch, int64_t dim, const double *x, double *lp,
                         double *grad, void *user)
{
    /* Slow enough that the run is still going when the supervisor looks. */
    volatile double burn = 0;

    for (int i = 0; i < 20000; i++)
        burn += i;
    return gaussian(batch, dim, x, lp, grad, user);
}

static void cancellation_keeps_completed_draws(void **state)
{
    static const double sd[3] = { 1.0, 1.0, 1.0 };
    rmc_program *p;
    rmc_config c;
    rmc_fit *f;
    int64_t kept = 0;

    (void)state;
    OK(rmc_program_from_callback(3, slow_gaussian, (void *)sd, &p));
    rmc_config_default(&c);
    c.chains = 2;
    c.warmup = 100; /* 1% of the run is 1000 iterations per chain: past the warmup */
    c.draws = 100000;
    c.progress = cancel_early;
    assert_int_equal(rmc_sample(p, &c, &f), RMC_ERR_CANCELLED);
    assert_non_null(f);
    assert_true(rmc_fit_cancelled(f));
    for (int64_t ch = 0; ch < 2; ch++)
        kept += rmc_fit_completed(f, ch);
    assert_true(kept > 0 && kept < 2 * 100000);
    rmc_fit_free(f);
    rmc_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auto_sampler_by_chain_count),
        cmocka_unit_test(missing_data_field),
        cmocka_unit_test(wrong_length_and_shape),
        cmocka_unit_test(non_finite_data),
        cmocka_unit_test(index_out_of_range),
        cmocka_unit_test(non_positive_constant_scale),
        cmocka_unit_test(duplicate_parameter),
        cmocka_unit_test(bad_settings),
        cmocka_unit_test(no_finite_initial_point),
        cmocka_unit_test(seeds_fix_draws_whatever_the_threads),
        cmocka_unit_test(samplers_agree_with_least_squares),
        cmocka_unit_test(callback_program_samples),
        cmocka_unit_test(cancellation_keeps_completed_draws),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
