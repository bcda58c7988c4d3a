/* test_robustness.c - numerical robustness: densities and gradients at extreme but valid
 * inputs are finite or reject the position (lp = -inf), never NaN; positions whose
 * density is NaN or infinite are rejected by the sampler, so divergent trajectories never
 * put a NaN, or a point the density refused, into the draws. */
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

/* Unconstrained coordinates from tame to the edge of exp()'s range and beyond. */
static const double GRID[] = { -1e6, -745.5, -710.0, -300.0, -30.0, -1e-9, 0.0, 1e-9,
                               30.0, 300.0, 709.0, 710.0, 745.5, 1e6 };
#define NGRID ((int)(sizeof GRID / sizeof GRID[0]))

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_node param(rmc_model *m, const char *name, double lower, double upper)
{
    rmc_node p;

    OK(rmc_param(m, name, 0, NULL, NULL, isnan(lower) ? RMC_NONE : konst(m, lower),
                 isnan(upper) ? RMC_NONE : konst(m, upper), &p));
    return p;
}

/* value ~ dist(args), each of them a parameter, so that extreme coordinates give extreme
 * values and arguments. Positive arguments are lower-bounded at 0; kinds[k] says how
 * operand k (0 the value) is constrained: 'r' real, 'p' positive, 'u' in (0, 1). */
static rmc_program *dist_model(int dist, const char *kinds)
{
    static const char *names[] = { "v", "a", "b", "c" };
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node nodes[4];
    int n = (int)strlen(kinds);

    OK(rmc_model_create(&m));
    for (int k = 0; k < n; k++) {
        double lo = kinds[k] == 'r' ? NAN : 0.0, hi = kinds[k] == 'u' ? 1.0 : NAN;

        nodes[k] = param(m, names[k], lo, hi);
    }
    OK(rmc_tilde(m, (rmc_dist)dist, nodes[0], n - 1, nodes + 1));
    OK(rmc_data_create(&d));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("dist %d: %s", dist, rmc_last_error());
    rmc_model_free(m);
    rmc_data_free(d);
    return p;
}

/* Evaluate at every point of GRID^dim. lp is never NaN or +inf. Where every coordinate
 * is moderate (|x| <= 30, so bounded values stay within about e^30 of their bound), a
 * finite lp comes with a finite gradient. Further out a partial derivative may overflow
 * (to inf, or to NaN through inf * 0 in a chain rule): the sampler then rejects the
 * position as a divergence (see the sampler tests below); those points are counted and
 * printed, not failed. */
static int check_grid(const rmc_program *p, const char *what)
{
    int64_t dim = rmc_program_dim(p), points = 1, bad = 0, overflow = 0, nan_grad = 0;
    double x[4], grad[4], lp;

    assert_true(dim <= 4);
    for (int64_t k = 0; k < dim; k++)
        points *= NGRID;
    for (int64_t pt = 0; pt < points; pt++) {
        int64_t r = pt;
        int finite_grad = 1, any_nan = 0, moderate = 1;

        for (int64_t k = 0; k < dim; k++, r /= NGRID) {
            x[k] = GRID[r % NGRID];
            moderate &= fabs(x[k]) <= 30.0;
        }
        OK(rmc_program_logp_grad(p, 1, x, &lp, grad));
        for (int64_t k = 0; k < dim; k++) {
            finite_grad &= isfinite(grad[k]) != 0;
            any_nan |= isnan(grad[k]) != 0;
        }
        if (isfinite(lp) && !finite_grad && !moderate) {
            overflow++;
            nan_grad += any_nan;
            continue;
        }
        if (isnan(lp) || lp == INFINITY || (isfinite(lp) && !finite_grad)) {
            if (bad++ < 5)
                print_error("%s at x = (%g, %g, %g, %g): lp %g, grad (%g, %g, %g, %g)\n", what,
                            x[0], dim > 1 ? x[1] : 0.0, dim > 2 ? x[2] : 0.0,
                            dim > 3 ? x[3] : 0.0, lp, grad[0], dim > 1 ? grad[1] : 0.0,
                            dim > 2 ? grad[2] : 0.0, dim > 3 ? grad[3] : 0.0);
        }
    }
    if (overflow)
        print_message("%s: %lld of %lld extreme points have a finite lp and an overflowed "
                      "gradient (%lld with NaN)\n", what, (long long)overflow,
                      (long long)points, (long long)nan_grad);
    return (int)bad;
}

static void extreme_points_of_every_distribution(void **state)
{
    static const struct {
        int dist;
        const char *kinds;
    } cases[] = {
        { RMC_DIST_NORMAL, "rrp" },
        { RMC_DIST_HALF_NORMAL, "pp" },
        { RMC_DIST_CAUCHY, "rrp" },
        { RMC_DIST_HALF_CAUCHY, "pp" },
        { RMC_DIST_STUDENT_T, "rprp" },
        { RMC_DIST_EXPONENTIAL, "pp" },
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rmc_program *p = dist_model(cases[i].dist, cases[i].kinds);
        char what[64];

        snprintf(what, sizeof what, "distribution %d (%s)", cases[i].dist, cases[i].kinds);
        bad += check_grid(p, what);
        rmc_program_free(p);
    }
    assert_int_equal(bad, 0);
}

/* Transforms at the ends of their range, under a proper prior on the constrained value. */
static void extreme_points_of_transforms(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node lo, up, both, tiny;

    (void)state;
    OK(rmc_model_create(&m));
    lo = param(m, "lo", 1.0, NAN);
    up = param(m, "up", NAN, -1.0);
    both = param(m, "both", -2.0, 3.0);
    tiny = param(m, "tiny", 0.0, 1e-300);
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, lo, 1, (rmc_node[]){ konst(m, 1.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, up, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 3.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, both, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
    OK(rmc_tilde(m, RMC_DIST_UNIFORM, tiny, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1e-300) }));
    OK(rmc_data_create(&d));
    OK(rmc_program_create(m, d, &p));
    assert_int_equal(check_grid(p, "transforms"), 0);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* Log densities near -inf inside log_sum_exp and log_mix stay finite with a finite
 * gradient: the -inf terms simply drop out. */
static void log_probabilities_near_minus_infinity(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node a, b, theta, v, u, lse, mix, terms[2];
    const double far[3] = { 0.0, -1e308, -745.0 }, outside[3] = { 2.0, 0.5, 0.5 };

    (void)state;
    OK(rmc_model_create(&m));
    a = param(m, "a", NAN, NAN);
    b = param(m, "b", NAN, NAN);
    theta = param(m, "theta", 0.0, 1.0);
    /* uniform(0, 1) log densities: -inf where the value is outside, then far terms */
    OK(rmc_const_vector(m, outside, 3, &u));
    OK(rmc_lpdf(m, RMC_DIST_UNIFORM, u, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) },
                &terms[0]));
    OK(rmc_const_vector(m, far, 3, &v));
    /* a first: a data-only -inf would be refused at bind time as a non-finite value */
    OK(rmc_op2(m, RMC_OP_ADD, terms[0], a, &terms[1]));
    OK(rmc_op2(m, RMC_OP_ADD, terms[1], v, &terms[0]));
    OK(rmc_op1(m, RMC_OP_LOG_SUM_EXP, terms[0], &lse));
    OK(rmc_op1(m, RMC_OP_NEG, a, &terms[1]));
    OK(rmc_op3(m, RMC_OP_LOG_MIX, theta, lse, terms[1], &mix));
    OK(rmc_target(m, mix));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, a, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, b, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
    OK(rmc_data_create(&d));
    OK(rmc_program_create(m, d, &p));
    assert_int_equal(check_grid(p, "log_sum_exp / log_mix"), 0);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* A logistic regression over many observations, at coefficients that saturate every
 * logit: the density stays finite and so does its gradient. */
static void saturated_logits_over_many_observations(void **state)
{
    enum { NOBS = 50000 };
    static double xv[NOBS];
    static int64_t yv[NOBS];
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node alpha, beta, x, y, bx, eta;
    int64_t n = NOBS, any = -1;

    (void)state;
    for (int i = 0; i < NOBS; i++) {
        xv[i] = sin(0.001 * i) * 3.0;
        yv[i] = (i * 7919) % 3 == 0;
    }
    OK(rmc_model_create(&m));
    alpha = param(m, "alpha", NAN, NAN);
    beta = param(m, "beta", NAN, NAN);
    OK(rmc_data_field(m, "x", RMC_REAL, 1, &any, NULL, &x));
    OK(rmc_data_field(m, "y", RMC_INT64, 1, &any, NULL, &y));
    OK(rmc_op2(m, RMC_OP_MUL, beta, x, &bx));
    OK(rmc_op2(m, RMC_OP_ADD, alpha, bx, &eta));
    OK(rmc_tilde(m, RMC_DIST_BERNOULLI_LOGIT, y, 1, &eta));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "x", RMC_REAL, xv, 1, &n));
    OK(rmc_data_set(d, "y", RMC_INT64, yv, 1, &n));
    OK(rmc_program_create(m, d, &p));
    assert_int_equal(check_grid(p, "logistic regression"), 0);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* ---------------------------------------------------------------- the sampler */

enum region { NAN_LP, NAN_GRAD, INF_GRAD, PLUS_INF_LP };

struct cut {
    enum region region;
    double width;   /* the density is sound where |x[0]| <= width */
};

/* A standard normal cut to |x[0]| <= width, with something bad outside. */
static double cut_lp(const double *x, int64_t dim)
{
    double lp = 0.0;

    for (int64_t i = 0; i < dim; i++)
        lp -= 0.5 * x[i] * x[i];
    return lp;
}

static int cut_normal(int64_t batch, int64_t dim, const double *x, double *lp, double *grad,
                      void *user)
{
    const struct cut *cut = user;

    for (int64_t b = 0; b < batch; b++) {
        const double *xb = x + b * dim;
        double *g = grad + b * dim;

        lp[b] = cut_lp(xb, dim);
        for (int64_t i = 0; i < dim; i++)
            g[i] = -xb[i];
        if (fabs(xb[0]) <= cut->width)
            continue;
        switch (cut->region) {
        case NAN_LP: lp[b] = NAN; break;
        case NAN_GRAD: g[0] = NAN; break;
        case INF_GRAD: g[0] = -INFINITY * xb[0]; break;
        case PLUS_INF_LP: lp[b] = INFINITY; break;
        }
    }
    return 0;
}

/* A transition moves to a point of its own trajectory or stays: a draw may repeat the one
 * before it, but never an older one (which would mean a stale point was taken). */
static void check_markov(const rmc_fit *f, int64_t dim, const char *what)
{
    const double *v = rmc_fit_values(f);
    int64_t draws = rmc_fit_draws(f);

    for (int64_t ch = 0; ch < rmc_fit_chains(f); ch++) {
        const double *c = v + ch * draws * dim;

        for (int64_t i = 2; i < draws; i++) {
            if (memcmp(c + i * dim, c + (i - 1) * dim, (size_t)dim * sizeof *c) == 0)
                continue;
            for (int64_t j = 0; j < i - 1; j++) {
                if (memcmp(c + i * dim, c + j * dim, (size_t)dim * sizeof *c) == 0)
                    fail_msg("%s: chain %lld, draw %lld goes back to draw %lld", what,
                             (long long)ch, (long long)i, (long long)j);
            }
        }
    }
}

/* Every kept draw is finite, inside the region where the density is sound, and its lp
 * statistic is the density at the draw. */
static void check_draws(const rmc_fit *f, int64_t dim, double width, int diverges,
                        const char *what)
{
    const double *v = rmc_fit_values(f), *st = rmc_fit_stats(f);
    int64_t rows = rmc_fit_chains(f) * rmc_fit_draws(f), outside = 0, divergent = 0;

    for (int64_t r = 0; r < rows; r++) {
        const double *row = v + r * dim, *s = st + r * RMC_STAT_COUNT;

        for (int64_t i = 0; i < dim; i++) {
            if (!isfinite(row[i]))
                fail_msg("%s: draw %lld has a non-finite value %g", what, (long long)r, row[i]);
        }
        for (int k = 0; k < RMC_STAT_COUNT; k++) {
            if (!isfinite(s[k]))
                fail_msg("%s: draw %lld has statistic %d = %g", what, (long long)r, k, s[k]);
        }
        outside += fabs(row[0]) > width;
        divergent += s[RMC_STAT_DIVERGENT] != 0.0;
        if (fabs(row[0]) <= width && s[RMC_STAT_LP] != cut_lp(row, dim))
            fail_msg("%s: draw %lld: lp statistic %.17g, but the density there is %.17g",
                     what, (long long)r, s[RMC_STAT_LP], cut_lp(row, dim));
    }
    if (outside)
        fail_msg("%s: %lld of %lld draws lie where the density is unsound", what,
                 (long long)outside, (long long)rows);
    check_markov(f, dim, what);
    if (diverges)
        assert_true(divergent > 0); /* the walls were hit, and each hit was a divergence */
}

static void sample_cut(enum region region, int sampler, const char *what)
{
    struct cut cut = { region, 1.5 };
    rmc_program *p;
    rmc_config c;
    rmc_fit *f;

    OK(rmc_program_from_callback(2, cut_normal, &cut, &p));
    rmc_config_default(&c);
    c.chains = 4;
    c.warmup = 200;
    c.draws = 300;
    c.seed = 17;
    c.sampler = sampler;
    c.init_radius = 1.0;
    OK(rmc_sample(p, &c, &f));
    check_draws(f, 2, cut.width, 1, what);
    rmc_fit_free(f);
    rmc_program_free(p);
}

static void nan_density_is_rejected(void **state)
{
    (void)state;
    sample_cut(NAN_LP, RMC_SAMPLER_NUTS, "NUTS, NaN lp");
    sample_cut(NAN_LP, RMC_SAMPLER_HMC, "HMC, NaN lp");
}

static void nan_gradient_is_rejected(void **state)
{
    (void)state;
    sample_cut(NAN_GRAD, RMC_SAMPLER_NUTS, "NUTS, NaN gradient");
    sample_cut(NAN_GRAD, RMC_SAMPLER_HMC, "HMC, NaN gradient");
}

static void infinite_gradient_is_rejected(void **state)
{
    (void)state;
    sample_cut(INF_GRAD, RMC_SAMPLER_NUTS, "NUTS, infinite gradient");
    sample_cut(INF_GRAD, RMC_SAMPLER_HMC, "HMC, infinite gradient");
}

/* Centred eight schools: the funnel makes trajectories diverge near tau = 0. The draws
 * and statistics of divergent transitions are still finite. */
/* A density of +inf (an improper model, or a user callback's bug) is rejected like NaN:
 * the step is a divergence and no such point reaches the draws. (Finding 5: in
 * src/sampler.c, hamiltonian, -lp = -inf gave H = -inf, neither NaN nor a divergence;
 * HMC accepted the point (exp(H0 - H) = inf) and wrote it into the draws, and NUTS,
 * which never selects such a leaf (its weight is inf - inf), took the subtree's
 * candidate anyway, a stale point from an earlier transition.) */
static void plus_infinite_density_is_rejected(void **state)
{
    struct cut cut = { PLUS_INF_LP, 0.3 };
    rmc_program *p;
    rmc_config c;
    rmc_fit *f;

    (void)state;
    OK(rmc_program_from_callback(1, cut_normal, &cut, &p));
    rmc_config_default(&c);
    c.chains = 2;
    c.warmup = 0;       /* the step size search would stop the run: eps grows forever */
    c.draws = 1000;
    c.seed = 17;
    c.step_size = 0.7;
    c.init_radius = 0.2;
    for (int s = 0; s < 2; s++) {
        c.sampler = s;
        OK(rmc_sample(p, &c, &f));
        check_draws(f, 1, cut.width, 0, s ? "HMC, +inf lp" : "NUTS, +inf lp");
        rmc_fit_free(f);
    }
    rmc_program_free(p);
}

static void divergent_funnel_writes_no_nan(void **state)
{
    static const double y[8] = { 28, 8, -3, 7, -1, 1, 18, 12 };
    static const double sigma[8] = { 15, 10, 16, 11, 9, 11, 10, 18 };
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node mu, tau, theta, yn, sn, zero;
    int64_t j = 8, any = -1, rows, divergent = 0;
    rmc_config c;
    rmc_fit *f;

    (void)state;
    OK(rmc_model_create(&m));
    zero = konst(m, 0.0);
    mu = param(m, "mu", NAN, NAN);
    OK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    OK(rmc_param(m, "theta", 1, &j, NULL, RMC_NONE, RMC_NONE, &theta));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &any, NULL, &yn));
    OK(rmc_data_field(m, "sigma", RMC_REAL, 1, &any, NULL, &sn));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ zero, konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, (rmc_node[]){ konst(m, 5.0) }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, theta, 2, (rmc_node[]){ mu, tau }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, yn, 2, (rmc_node[]){ theta, sn }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, y, 1, &j));
    OK(rmc_data_set(d, "sigma", RMC_REAL, sigma, 1, &j));
    OK(rmc_program_create(m, d, &p));
    rmc_config_default(&c);
    c.chains = 4;
    c.warmup = 200;
    c.draws = 300;
    c.seed = 3;
    c.target_accept = 0.6; /* coarse steps: more divergences */
    OK(rmc_sample(p, &c, &f));
    rows = rmc_fit_chains(f) * rmc_fit_draws(f);
    for (int64_t r = 0; r < rows; r++) {
        const double *row = rmc_fit_values(f) + r * rmc_fit_num_columns(f);
        const double *s = rmc_fit_stats(f) + r * RMC_STAT_COUNT;

        for (int64_t k = 0; k < rmc_fit_num_columns(f); k++)
            assert_true(isfinite(row[k]));
        for (int k = 0; k < RMC_STAT_COUNT; k++)
            assert_true(isfinite(s[k]));
        assert_true(row[1] > 0.0);
        divergent += s[RMC_STAT_DIVERGENT] != 0.0;
    }
    assert_true(divergent > 0);
    rmc_fit_free(f);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extreme_points_of_every_distribution),
        cmocka_unit_test(extreme_points_of_transforms),
        cmocka_unit_test(log_probabilities_near_minus_infinity),
        cmocka_unit_test(saturated_logits_over_many_observations),
        cmocka_unit_test(nan_density_is_rejected),
        cmocka_unit_test(nan_gradient_is_rejected),
        cmocka_unit_test(infinite_gradient_is_rejected),
        cmocka_unit_test(divergent_funnel_writes_no_nan),
        cmocka_unit_test(plus_infinite_density_is_rejected),
    };

    /* known_bug_* tests reproduce open defects: ctest runs each alone by name and expects
     * it to fail (tests/CMakeLists.txt); a plain run skips them. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    else
        cmocka_set_skip_filter("known_*");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
