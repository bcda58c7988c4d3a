/* test_scan.c - the recurrence op: values against the recurrence written out, gradients
 * against finite differences, and the rules of a step. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rmc.h"

#define OK(call) assert_int_equal((call), RMC_OK)

#define T 6
static const double Y[T] = { 0.3, -1.1, 2.0, 0.4, -0.2, 1.3 };

/* GARCH(1,1): s[1] = sigma1; s[t]^2 = a0 + a1 (y[t-1] - mu)^2 + b1 s[t-1]^2;
 * y[t] ~ normal(mu, s[t]). The step maps (s[t-1], y[t-1]) to s[t]. */
static rmc_model *garch(void)
{
    rmc_model *m;
    rmc_node mu, a0, a1, b1, zero, one, upper, y, y_prev, s1, state, row, s, e, e2, v, w;
    rmc_node all_s, head, tail;
    int64_t n = T;

    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 1.0, &one));
    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_param(m, "alpha0", 0, NULL, NULL, zero, RMC_NONE, &a0));
    OK(rmc_param(m, "alpha1", 0, NULL, NULL, zero, one, &a1));
    OK(rmc_op2(m, RMC_OP_SUB, one, a1, &upper));
    OK(rmc_param(m, "beta1", 0, NULL, NULL, zero, upper, &b1));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &n, NULL, &y));
    OK(rmc_data_field(m, "sigma1", RMC_REAL, 0, NULL, NULL, &s1));
    OK(rmc_slice(m, y, 0, T - 1, &y_prev));

    OK(rmc_scan_begin(m, s1, 1, &y_prev, &state, &row));
    OK(rmc_op2(m, RMC_OP_SUB, row, mu, &e));
    OK(rmc_op1(m, RMC_OP_SQUARE, e, &e2));
    OK(rmc_op2(m, RMC_OP_MUL, a1, e2, &v));
    OK(rmc_op2(m, RMC_OP_ADD, a0, v, &v));
    OK(rmc_op1(m, RMC_OP_SQUARE, state, &w));
    OK(rmc_op2(m, RMC_OP_MUL, b1, w, &w));
    OK(rmc_op2(m, RMC_OP_ADD, v, w, &v));
    OK(rmc_op1(m, RMC_OP_SQRT, v, &s));
    OK(rmc_scan_end(m, s, 0, NULL, &all_s));

    OK(rmc_deterministic(m, "s", all_s));
    OK(rmc_slice(m, y, 1, T, &tail));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, tail, 2, (rmc_node[]){ mu, all_s }));
    OK(rmc_index(m, y, 0, &head));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, head, 2, (rmc_node[]){ mu, s1 }));
    return m;
}

static rmc_program *bind(rmc_model *m, rmc_data **d)
{
    static const double sigma1 = 0.5;
    int64_t n = T;
    rmc_program *p;

    OK(rmc_data_create(d));
    OK(rmc_data_set(*d, "y", RMC_REAL, Y, 1, &n));
    OK(rmc_data_set(*d, "sigma1", RMC_REAL, &sigma1, 0, NULL));
    if (rmc_program_create(m, *d, &p) != RMC_OK)
        fail_msg("rmc_program_create: %s", rmc_last_error());
    return p;
}

/* The same log density with the recurrence written out by hand. */
static double garch_by_hand(const double *c)
{
    double mu = c[0], a0 = c[1], a1 = c[2], b1 = c[3], s = 0.5, lp = 0.0;

    for (int t = 0; t < T; t++) {
        if (t > 0)
            s = sqrt(a0 + a1 * (Y[t - 1] - mu) * (Y[t - 1] - mu) + b1 * s * s);
        lp += -0.5 * ((Y[t] - mu) / s) * ((Y[t] - mu) / s) - log(s) - 0.9189385332046727;
    }
    return lp;
}

static void scan_matches_the_recurrence(void **state)
{
    rmc_model *m = garch();
    rmc_data *d;
    rmc_program *p = bind(m, &d);
    double x[4] = { 0.2, -0.5, 0.3, -0.4 }, cols[4 + T - 1], lp, g[4];
    double params[4], jac;

    (void)state;
    assert_int_equal(rmc_program_dim(p), 4);
    OK(rmc_program_constrain(p, x, cols));
    memcpy(params, cols, sizeof params);
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));

    /* lp = density on the constrained scale + log-Jacobians of the three bounds */
    {
        double a1 = params[2], s1 = 1.0 / (1.0 + exp(-x[2])), s2 = 1.0 / (1.0 + exp(-x[3]));

        jac = x[1] + log(s1 * (1 - s1)) + log((1.0 - a1) * s2 * (1 - s2));
    }
    assert_true(fabs(lp - (garch_by_hand(params) + jac)) < 1e-10);

    /* the recorded states follow the recurrence */
    {
        double s = 0.5;

        for (int t = 1; t < T; t++) {
            s = sqrt(params[1] + params[2] * (Y[t - 1] - params[0]) * (Y[t - 1] - params[0]) +
                     params[3] * s * s);
            assert_true(fabs(cols[4 + t - 1] - s) < 1e-12);
        }
    }

    for (int i = 0; i < 4; i++) {
        double h = 1e-6, keep = x[i], up, down;

        x[i] = keep + h;
        OK(rmc_program_logp_grad(p, 1, x, &up, NULL));
        x[i] = keep - h;
        OK(rmc_program_logp_grad(p, 1, x, &down, NULL));
        x[i] = keep;
        if (fabs((up - down) / (2 * h) - g[i]) > 1e-6 * fmax(1.0, fabs(g[i])))
            fail_msg("d lp / d x[%d] = %.10g, finite difference %.10g", i, g[i],
                     (up - down) / (2 * h));
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* A vector state with a matrix sequence, through a parameter vector: each step
 * h[t] = tanh(w * h[t-1] + u[t]) elementwise, checked against finite differences. */
static void vector_state_gradients(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node w, h0, u, st, row, a, hn, out, zero, one, sum;
    int64_t two = 2, mat[2] = { 4, 2 };
    double x[2 + 2 + 8], lp, g[12];

    (void)state;
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 1.0, &one));
    OK(rmc_param(m, "w", 1, &two, NULL, RMC_NONE, RMC_NONE, &w));
    OK(rmc_param(m, "h0", 1, &two, NULL, RMC_NONE, RMC_NONE, &h0));
    OK(rmc_param(m, "u", 2, mat, NULL, RMC_NONE, RMC_NONE, &u));
    OK(rmc_scan_begin(m, h0, 1, &u, &st, &row));
    OK(rmc_op2(m, RMC_OP_MUL, w, st, &a));
    OK(rmc_op2(m, RMC_OP_ADD, a, row, &a));
    OK(rmc_op1(m, RMC_OP_TANH, a, &hn));
    OK(rmc_scan_end(m, hn, 0, NULL, &out));
    OK(rmc_op1(m, RMC_OP_SUM, out, &sum));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, sum, 2, (rmc_node[]){ one, one }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, u, 2, (rmc_node[]){ zero, one }));
    OK(rmc_data_create(&d));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s", rmc_last_error());
    assert_int_equal(rmc_program_dim(p), 12);
    for (int i = 0; i < 12; i++)
        x[i] = 0.3 * sin(1.7 * i + 0.2);
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    for (int i = 0; i < 12; i++) {
        double h = 1e-6, keep = x[i], up, down;

        x[i] = keep + h;
        OK(rmc_program_logp_grad(p, 1, x, &up, NULL));
        x[i] = keep - h;
        OK(rmc_program_logp_grad(p, 1, x, &down, NULL));
        x[i] = keep;
        if (fabs((up - down) / (2 * h) - g[i]) > 1e-6 * fmax(1.0, fabs(g[i])))
            fail_msg("d lp / d x[%d] = %.10g, finite difference %.10g", i, g[i],
                     (up - down) / (2 * h));
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void step_rules(void **state)
{
    rmc_model *m;
    rmc_node a, st, next, out, bad, zero, x[1];
    rmc_data *d;
    rmc_program *p;

    (void)state;
    /* no parameters inside a step */
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_scan_begin(m, zero, 0, NULL, &st, x));
    assert_int_equal(rmc_param(m, "a", 0, NULL, NULL, RMC_NONE, RMC_NONE, &a), RMC_ERR_MODEL);
    assert_non_null(strstr(rmc_last_error(), "scan body cannot declare parameters"));
    rmc_model_free(m);

    /* a step's value used outside it */
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_param(m, "a", 0, NULL, NULL, RMC_NONE, RMC_NONE, &a));
    OK(rmc_scan_begin(m, zero, 0, NULL, &st, x));
    OK(rmc_op2(m, RMC_OP_ADD, st, a, &next));
    OK(rmc_scan_end(m, next, 3, NULL, &out));
    OK(rmc_op2(m, RMC_OP_MUL, next, a, &bad));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, bad, 2, (rmc_node[]){ zero, a }));
    OK(rmc_data_create(&d));
    assert_int_equal(rmc_program_create(m, d, &p), RMC_ERR_MODEL);
    assert_non_null(strstr(rmc_last_error(), "uses a value from inside a scan step"));
    rmc_data_free(d);
    rmc_model_free(m);

    /* nesting, and ending what was never begun */
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    assert_int_equal(rmc_scan_end(m, zero, 3, NULL, &out), RMC_ERR_MODEL);
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_scan_begin(m, zero, 0, NULL, &st, x));
    assert_int_equal(rmc_scan_begin(m, zero, 0, NULL, &st, x), RMC_ERR_MODEL);
    assert_non_null(strstr(rmc_last_error(), "nested"));
    rmc_model_free(m);
}

/* Sampling through a scan: every draw keeps beta1 below its bound 1 - alpha1. */
static void samples_through_a_scan(void **state)
{
    rmc_model *m = garch();
    rmc_data *d;
    rmc_program *p = bind(m, &d);
    rmc_config c;
    rmc_fit *f;
    double sum[(4 + T - 1) * RMC_SUM_COUNT];

    (void)state;
    rmc_config_default(&c);
    c.chains = 2;
    c.warmup = 300;
    c.draws = 300;
    OK(rmc_sample(p, &c, &f));
    OK(rmc_fit_summary(f, sum));
    for (int j = 0; j < 4 + T - 1; j++)
        assert_true(isfinite(sum[j * RMC_SUM_COUNT + RMC_SUM_MEAN]));
    /* beta1 stays below 1 - alpha1 in every draw */
    for (int64_t i = 0; i < 2 * 300; i++) {
        const double *row = rmc_fit_values(f) + i * (4 + T - 1);

        assert_true(row[3] > 0 && row[3] < 1 - row[2]);
    }
    rmc_fit_free(f);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_matches_the_recurrence),
        cmocka_unit_test(vector_state_gradients),
        cmocka_unit_test(step_rules),
        cmocka_unit_test(samples_through_a_scan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
