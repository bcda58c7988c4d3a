/* test_transform.c - constrained parameter shapes (ordered, positive ordered, simplex,
 * correlation Cholesky factor) and bounds that are expressions of other parameters:
 * gradients against finite differences, each log-Jacobian by integrating a density of
 * known mass over the unconstrained space, sampled moments against known distributions,
 * the inverse maps, and the errors. */
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

#define PI 3.14159265358979323846

#define OK(call) assert_int_equal((call), RMC_OK)

/* The error message must name what is wrong. */
#define assert_error(call, status, needle)                                              \
    do {                                                                                \
        rmc_status st_ = (call);                                                        \
        if (st_ != (status) || !strstr(rmc_last_error(), (needle)))                     \
            fail_msg("%s: got %s \"%s\", wanted %s mentioning \"%s\"", #call,           \
                     rmc_status_string(st_), rmc_last_error(), #status, (needle));      \
    } while (0)

static const double Y3[3] = { 0.4, -1.1, 2.0 };

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_node shaped(rmc_model *m, const char *name, int32_t ndim, int64_t k,
                       rmc_transform t)
{
    int64_t dims[2] = { k, k };
    rmc_node p;

    OK(rmc_param_transform(m, name, ndim, dims, NULL, t, &p));
    return p;
}

static rmc_node bounded(rmc_model *m, const char *name, int64_t n, rmc_node lo, rmc_node hi)
{
    rmc_node p;

    OK(rmc_param(m, name, n ? 1 : 0, &n, NULL, lo, hi, &p));
    return p;
}

static rmc_node op2(rmc_model *m, rmc_op op, rmc_node a, rmc_node b)
{
    rmc_node o;

    OK(rmc_op2(m, op, a, b, &o));
    return o;
}

/* value ~ normal(mu, sigma): a density that depends on every element. */
static void normal(rmc_model *m, rmc_node value, double mu, double sigma)
{
    OK(rmc_tilde(m, RMC_DIST_NORMAL, value, 2,
                 (rmc_node[]){ konst(m, mu), konst(m, sigma) }));
}

static rmc_program *program(rmc_model *m)
{
    rmc_data *d;
    rmc_program *p = NULL;
    int64_t three = 3;

    OK(rmc_model_status(m));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, Y3, 1, &three));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("rmc_program_create: %s", rmc_last_error());
    rmc_data_free(d); /* the program points into Y3, not into the set */
    return p;
}

/* ---------------------------------------------------------------- gradients */

struct case_ {
    const char *name;
    void (*build)(rmc_model *m, int variant);
    int variant;
};

/* variant: the transform, and K in the tens digit */
static void build_shape(rmc_model *m, int variant)
{
    rmc_transform t = variant % 10;
    int64_t k = variant / 10;
    rmc_node x = shaped(m, "x", t == RMC_TRANSFORM_CHOLESKY_CORR ? 2 : 1, k, t);

    normal(m, x, 0.3, 0.7);
}

/* GARCH's beta < 1 - alpha, a vector between a scalar parameter and a vector expression,
 * a data vector lower bound, and an upper bound alone. */
static void build_expression_bounds(rmc_model *m, int variant)
{
    rmc_node zero = konst(m, 0.0), one = konst(m, 1.0), y, a, beta, v, hi, g, e, f;
    int64_t three = 3;

    (void)variant;
    a = bounded(m, "alpha", 0, zero, one);
    beta = bounded(m, "beta", 0, zero, op2(m, RMC_OP_SUB, one, a));
    v = bounded(m, "v", 3, RMC_NONE, RMC_NONE);
    OK(rmc_op1(m, RMC_OP_EXP, v, &hi));
    g = bounded(m, "g", 3, a, op2(m, RMC_OP_ADD, a, hi));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &three, NULL, &y));
    e = bounded(m, "e", 3, y, RMC_NONE);
    f = bounded(m, "f", 0, RMC_NONE, op2(m, RMC_OP_MUL, a, beta));
    normal(m, a, 0.3, 0.5);
    normal(m, beta, 0.1, 0.4);
    normal(m, g, 0.5, 1.3);
    normal(m, e, 0.2, 2.0);
    normal(m, f, -0.4, 1.1);
}

/* A correlation factor scaled into a covariance factor, and a simplex used as weights. */
static void build_composed(rmc_model *m, int variant)
{
    rmc_node l = shaped(m, "L", 2, 3, RMC_TRANSFORM_CHOLESKY_CORR);
    rmc_node s = shaped(m, "s", 1, 3, RMC_TRANSFORM_SIMPLEX);
    rmc_node o = shaped(m, "o", 1, 3, RMC_TRANSFORM_POSITIVE_ORDERED), w, d;

    (void)variant;
    OK(rmc_diag_pre_multiply(m, o, l, &w));
    normal(m, w, 0.2, 0.9);
    OK(rmc_op2(m, RMC_OP_DOT, s, o, &d));
    normal(m, d, 1.0, 0.5);
}

static void check_gradient(const struct case_ *tc)
{
    rmc_model *m;
    rmc_program *p;
    uint64_t state = 987654321;

    OK(rmc_model_create(&m));
    tc->build(m, tc->variant);
    p = program(m);
    for (int trial = 0; trial < 6; trial++) {
        int64_t dim = rmc_program_dim(p);
        double x[64], g[64], lp, lp1, lp2;

        assert_true(dim <= 64);
        for (int64_t i = 0; i < dim; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = ((double)(state >> 11) / 9007199254740992.0) * 3.0 - 1.5;
        }
        OK(rmc_program_logp_grad(p, 1, x, &lp, g));
        if (!isfinite(lp))
            fail_msg("%s: lp = %g", tc->name, lp);
        for (int64_t i = 0; i < dim; i++) {
            const double h = 1e-5, keep = x[i];
            double fd;

            x[i] = keep + h;
            OK(rmc_program_logp_grad(p, 1, x, &lp1, NULL));
            x[i] = keep - h;
            OK(rmc_program_logp_grad(p, 1, x, &lp2, NULL));
            x[i] = keep;
            fd = (lp1 - lp2) / (2.0 * h);
            if (!(fabs(fd - g[i]) <= 1e-5 * fmax(1.0, fabs(fd))))
                fail_msg("%s: d lp / d x[%lld] = %.10g, finite difference %.10g", tc->name,
                         (long long)i, g[i], fd);
        }
    }
    rmc_program_free(p);
    rmc_model_free(m);
}

static void gradients_match_finite_differences(void **state)
{
    static const struct case_ cases[] = {
        { "ordered[1]", build_shape, 10 + RMC_TRANSFORM_ORDERED },
        { "ordered[4]", build_shape, 40 + RMC_TRANSFORM_ORDERED },
        { "positive_ordered[1]", build_shape, 10 + RMC_TRANSFORM_POSITIVE_ORDERED },
        { "positive_ordered[4]", build_shape, 40 + RMC_TRANSFORM_POSITIVE_ORDERED },
        { "simplex[2]", build_shape, 20 + RMC_TRANSFORM_SIMPLEX },
        { "simplex[5]", build_shape, 50 + RMC_TRANSFORM_SIMPLEX },
        { "cholesky_corr[2]", build_shape, 20 + RMC_TRANSFORM_CHOLESKY_CORR },
        { "cholesky_corr[4]", build_shape, 40 + RMC_TRANSFORM_CHOLESKY_CORR },
        { "expression bounds", build_expression_bounds, 0 },
        { "composed", build_composed, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_gradient(&cases[i]);
}

/* ---------------------------------------------------------------- Jacobians */

/* The integral of exp(lp) over the box [lo, hi]^dim (dim <= 3) by the trapezoid rule on
 * a grid of step h: for smooth integrands that decay fast this is accurate to far below
 * the tolerances used, so a wrong log-Jacobian shows as a wrong mass. Per-axis ranges
 * come from lo[d], hi[d]. */
static double integrate(const rmc_program *p, const double *lo, const double *hi, double h)
{
    int64_t dim = rmc_program_dim(p), n[3] = { 1, 1, 1 };
    double total = 0.0, *x, *lp;

    assert_true(dim >= 1 && dim <= 3);
    for (int64_t d = 0; d < dim; d++)
        n[d] = (int64_t)((hi[d] - lo[d]) / h) + 1;
    x = malloc((size_t)(n[0] * dim) * sizeof *x);
    lp = malloc((size_t)n[0] * sizeof *lp);
    assert_non_null(x);
    assert_non_null(lp);
    for (int64_t k = 0; k < n[2]; k++) {
        for (int64_t j = 0; j < n[1]; j++) {
            /* one batched call per line of the grid */
            for (int64_t i = 0; i < n[0]; i++) {
                x[i * dim] = lo[0] + (double)i * h;
                if (dim > 1)
                    x[i * dim + 1] = lo[1] + (double)j * h;
                if (dim > 2)
                    x[i * dim + 2] = lo[2] + (double)k * h;
            }
            OK(rmc_program_logp_grad(p, n[0], x, lp, NULL));
            for (int64_t i = 0; i < n[0]; i++)
                total += exp(lp[i]);
        }
    }
    free(x);
    free(lp);
    return total * pow(h, (double)dim);
}

static void check_mass(const char *what, rmc_model *m, double lo, double hi, double h,
                       double want)
{
    rmc_program *p = program(m);
    double los[3] = { lo, lo, lo }, his[3] = { hi, hi, hi };
    double got = integrate(p, los, his, h);

    if (!(fabs(got - want) <= 1e-4 * want))
        fail_msg("%s: the density integrates to %.8g, expected %.8g", what, got, want);
    rmc_program_free(p);
    rmc_model_free(m);
}

static void jacobians_integrate_to_known_masses(void **state)
{
    rmc_model *m;
    rmc_node x, a, b;

    (void)state;

    /* Flat on the simplex: the mass is the volume of {x_1..x_{K-1} > 0, sum < 1}, 1/(K-1)!. */
    OK(rmc_model_create(&m));
    shaped(m, "x", 1, 2, RMC_TRANSFORM_SIMPLEX);
    check_mass("simplex[2], flat", m, -45.0, 45.0, 0.05, 1.0);
    OK(rmc_model_create(&m));
    shaped(m, "x", 1, 3, RMC_TRANSFORM_SIMPLEX);
    check_mass("simplex[3], flat", m, -45.0, 45.0, 0.1, 0.5);

    /* Two iid normals, ordered: half the mass of the unordered pair. */
    OK(rmc_model_create(&m));
    x = shaped(m, "x", 1, 2, RMC_TRANSFORM_ORDERED);
    normal(m, x, 0.0, 1.0);
    check_mass("ordered[2], iid normal", m, -40.0, 12.0, 0.05, 0.5);

    /* Two iid exponentials, positive and ordered: again half. */
    OK(rmc_model_create(&m));
    x = shaped(m, "x", 1, 2, RMC_TRANSFORM_POSITIVE_ORDERED);
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, x, 1, (rmc_node[]){ konst(m, 1.0) }));
    check_mass("positive_ordered[2], iid exponential", m, -45.0, 6.0, 0.05, 0.5);

    /* Flat over the strict lower triangle of a correlation factor: for K = 2 the
     * correlation ranges over (-1, 1), mass 2; for K = 3, L[1, 0] in (-1, 1) and
     * (L[2, 0], L[2, 1]) in the unit disc, mass 2 pi. */
    OK(rmc_model_create(&m));
    shaped(m, "L", 2, 2, RMC_TRANSFORM_CHOLESKY_CORR);
    check_mass("cholesky_corr[2], flat", m, -25.0, 25.0, 0.02, 2.0);
    OK(rmc_model_create(&m));
    shaped(m, "L", 2, 3, RMC_TRANSFORM_CHOLESKY_CORR);
    check_mass("cholesky_corr[3], flat", m, -13.0, 13.0, 0.13, 2.0 * PI);

    /* b flat on (a, a + 2), a ~ normal(0, 1): mass 2, through a bound expression. */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, RMC_NONE, RMC_NONE);
    normal(m, a, 0.0, 1.0);
    bounded(m, "b", 0, a, op2(m, RMC_OP_ADD, a, konst(m, 2.0)));
    check_mass("b in (a, a + 2)", m, -40.0, 40.0, 0.05, 2.0);

    /* GARCH's region: a in (0, 1), b in (0, 1 - a), flat: the triangle of area 1/2. */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, konst(m, 0.0), konst(m, 1.0));
    bounded(m, "b", 0, konst(m, 0.0), op2(m, RMC_OP_SUB, konst(m, 1.0), a));
    check_mass("b < 1 - a", m, -40.0, 40.0, 0.05, 0.5);

    /* b > a with exponential(1) on b - a, and a ~ normal: mass 1. */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, RMC_NONE, RMC_NONE);
    normal(m, a, 0.0, 1.0);
    b = bounded(m, "b", 0, a, RMC_NONE);
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, op2(m, RMC_OP_SUB, b, a), 1,
                 (rmc_node[]){ konst(m, 1.0) }));
    check_mass("b > a", m, -40.0, 10.0, 0.05, 1.0);

    /* Constant bounds on one side, each map on its own: x = 1 + exp(u) with exponential(1)
     * on x - 1, and x = 2 - exp(u) with exponential(1) on 2 - x: mass 1 each. */
    OK(rmc_model_create(&m));
    x = bounded(m, "x", 0, konst(m, 1.0), RMC_NONE);
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, op2(m, RMC_OP_SUB, x, konst(m, 1.0)), 1,
                 (rmc_node[]){ konst(m, 1.0) }));
    check_mass("x > 1", m, -40.0, 10.0, 0.05, 1.0);
    OK(rmc_model_create(&m));
    x = bounded(m, "x", 0, RMC_NONE, konst(m, 2.0));
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, op2(m, RMC_OP_SUB, konst(m, 2.0), x), 1,
                 (rmc_node[]){ konst(m, 1.0) }));
    check_mass("x < 2", m, -40.0, 10.0, 0.05, 1.0);

    /* An upper bound that is an expression: b < a, exponential(1) on a - b, a ~ normal. */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, RMC_NONE, RMC_NONE);
    normal(m, a, 0.0, 1.0);
    b = bounded(m, "b", 0, RMC_NONE, a);
    OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, op2(m, RMC_OP_SUB, a, b), 1,
                 (rmc_node[]){ konst(m, 1.0) }));
    check_mass("b < a", m, -40.0, 10.0, 0.05, 1.0);
}

/* ---------------------------------------------------------------- sampling */

/* Posterior means (and second moments) of columns from a run of 4 chains. */
static void sample_moments(rmc_model *m, int64_t ncols, const int64_t *cols, double *mean,
                           double *second, double *mcse)
{
    rmc_program *p = program(m);
    rmc_config cfg;
    rmc_fit *fit;
    const double *v;
    double *summary;
    int64_t nc, total;

    rmc_config_default(&cfg);
    cfg.chains = 4;
    cfg.draws = 2000;
    cfg.warmup = 1000;
    cfg.seed = 20240611;
    cfg.threads = 4;
    cfg.backend = RMC_BACKEND_CPU; /* the checks are of the CPU evaluator */
    OK(rmc_sample(p, &cfg, &fit));
    nc = rmc_fit_num_columns(fit);
    total = rmc_fit_chains(fit) * rmc_fit_draws(fit);
    v = rmc_fit_values(fit);
    summary = malloc((size_t)(nc * RMC_SUM_COUNT) * sizeof *summary);
    assert_non_null(summary);
    OK(rmc_fit_summary(fit, summary));
    for (int64_t c = 0; c < ncols; c++) {
        double s = 0.0, s2 = 0.0;

        for (int64_t d = 0; d < total; d++) {
            double y = v[d * nc + cols[c]];

            if (!isfinite(y))
                fail_msg("a draw of column %lld is %g", (long long)cols[c], y);
            s += y;
            s2 += y * y;
        }
        mean[c] = s / (double)total;
        second[c] = s2 / (double)total;
        mcse[c] = summary[cols[c] * RMC_SUM_COUNT + RMC_SUM_MCSE_MEAN];
    }
    free(summary);
    rmc_fit_free(fit);
    rmc_program_free(p);
    rmc_model_free(m);
}

static void expect_mean(const char *what, double got, double mcse, double want)
{
    /* five standard errors, and never tighter than 0.01 */
    if (!(fabs(got - want) <= fmax(5.0 * mcse, 0.01)))
        fail_msg("%s: mean %.5f (mcse %.5f), expected %.5f", what, got, mcse, want);
}

static void expect_close(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: %.5f, expected %.5f", what, got, want);
}

static void sampled_moments_match_known_distributions(void **state)
{
    rmc_model *m;
    rmc_node x, a;
    double mean[3], second[3], mcse[3];

    (void)state;

    /* A flat simplex of 3 is Dirichlet(1, 1, 1): means 1/3, E[x^2] = 2 / 12. */
    OK(rmc_model_create(&m));
    shaped(m, "x", 1, 3, RMC_TRANSFORM_SIMPLEX);
    sample_moments(m, 3, (int64_t[]){ 0, 1, 2 }, mean, second, mcse);
    for (int k = 0; k < 3; k++) {
        expect_mean("simplex mean", mean[k], mcse[k], 1.0 / 3.0);
        expect_close("simplex E[x^2]", second[k], 1.0 / 6.0, 0.015);
    }

    /* A flat 2 x 2 correlation factor: the correlation L[2,1] is uniform on (-1, 1), and
     * the columns L[1,1] = 1, L[1,2] = 0 are constant. Columns are row-major. */
    OK(rmc_model_create(&m));
    shaped(m, "L", 2, 2, RMC_TRANSFORM_CHOLESKY_CORR);
    sample_moments(m, 3, (int64_t[]){ 2, 0, 1 }, mean, second, mcse);
    expect_mean("correlation mean", mean[0], mcse[0], 0.0);
    expect_close("correlation E[r^2]", second[0], 1.0 / 3.0, 0.02);
    expect_close("L[1,1]", mean[1], 1.0, 1e-12);
    expect_close("L[1,2]", second[2], 0.0, 1e-12);

    /* Three iid standard normals, ordered: the order statistics' means are
     * -3 / (2 sqrt(pi)), 0, 3 / (2 sqrt(pi)). */
    OK(rmc_model_create(&m));
    x = shaped(m, "x", 1, 3, RMC_TRANSFORM_ORDERED);
    normal(m, x, 0.0, 1.0);
    sample_moments(m, 3, (int64_t[]){ 0, 1, 2 }, mean, second, mcse);
    expect_mean("ordered x[1]", mean[0], mcse[0], -1.5 / sqrt(PI));
    expect_mean("ordered x[2]", mean[1], mcse[1], 0.0);
    expect_mean("ordered x[3]", mean[2], mcse[2], 1.5 / sqrt(PI));

    /* a in (0, 1), b in (0, 1 - a), flat: uniform on the triangle, both means 1/3. */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, konst(m, 0.0), konst(m, 1.0));
    bounded(m, "b", 0, konst(m, 0.0), op2(m, RMC_OP_SUB, konst(m, 1.0), a));
    sample_moments(m, 2, (int64_t[]){ 0, 1 }, mean, second, mcse);
    expect_mean("triangle a", mean[0], mcse[0], 1.0 / 3.0);
    expect_mean("triangle b", mean[1], mcse[1], 1.0 / 3.0);
}

/* ---------------------------------------------------------------- inverse maps */

static void unconstrain_inverts_constrain(void **state)
{
    rmc_model *m;
    rmc_program *p;
    rmc_node zero, one, a;
    double x[32], cols[64], back[32];
    int64_t dim;

    (void)state;
    OK(rmc_model_create(&m));
    shaped(m, "o", 1, 3, RMC_TRANSFORM_ORDERED);
    shaped(m, "po", 1, 3, RMC_TRANSFORM_POSITIVE_ORDERED);
    shaped(m, "s", 1, 4, RMC_TRANSFORM_SIMPLEX);
    shaped(m, "L", 2, 4, RMC_TRANSFORM_CHOLESKY_CORR);
    zero = konst(m, 0.0);
    one = konst(m, 1.0);
    a = bounded(m, "a", 0, zero, one);
    bounded(m, "b", 2, a, op2(m, RMC_OP_ADD, a, one));
    p = program(m);
    dim = rmc_program_dim(p);
    assert_int_equal(dim, 3 + 3 + 3 + 6 + 1 + 2);
    for (int64_t i = 0; i < dim; i++)
        x[i] = sin(1.7 * (double)i + 0.3) * 1.4;
    OK(rmc_program_constrain(p, x, cols));
    OK(rmc_program_unconstrain(p, cols, back));
    for (int64_t i = 0; i < dim; i++) {
        if (!(fabs(back[i] - x[i]) <= 1e-9 * fmax(1.0, fabs(x[i]))))
            fail_msg("coordinate %lld: %.12g came back as %.12g", (long long)i, x[i],
                     back[i]);
    }

    /* Values off their set are refused, naming the column and the set. */
    cols[1] = cols[0] - 1.0;
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "o[2]");
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "increasing");
    OK(rmc_program_constrain(p, x, cols));
    cols[6 + 2] += 0.1; /* s[3]: the sum is no longer 1 */
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "simplex");
    OK(rmc_program_constrain(p, x, cols));
    cols[10 + 1] = 0.5; /* L[1,2] above the diagonal */
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "L[1,2]");
    OK(rmc_program_constrain(p, x, cols));
    cols[27] = cols[26] - 0.1; /* b[1] below its lower bound a */
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "b[1]");
    assert_error(rmc_program_unconstrain(p, cols, back), RMC_ERR_ARGUMENT, "bounds [");
    rmc_program_free(p);
    rmc_model_free(m);
}

/* ---------------------------------------------------------------- errors */

static void bad_declarations_are_refused(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node out, a, v;
    int64_t one = 1, three = 3, two_three[2] = { 2, 3 }, k_any = -1;
    const char *k_name[] = { "K" };
    int64_t k_value = 1;

    (void)state;
    OK(rmc_model_create(&m));
    assert_error(rmc_param_transform(m, "x", 2, two_three, NULL, RMC_TRANSFORM_SIMPLEX, &out),
                 RMC_ERR_SHAPE, "one dimension");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    assert_error(rmc_param_transform(m, "x", 1, &one, NULL, RMC_TRANSFORM_SIMPLEX, &out),
                 RMC_ERR_SHAPE, "at least 2");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    assert_error(rmc_param_transform(m, "L", 2, two_three, NULL, RMC_TRANSFORM_CHOLESKY_CORR,
                                     &out), RMC_ERR_SHAPE, "square");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    assert_error(rmc_param_transform(m, "x", 1, &three, NULL, (rmc_transform)99, &out),
                 RMC_ERR_ARGUMENT, "unknown transform");
    rmc_model_free(m);

    /* a size from data is checked at bind time */
    OK(rmc_model_create(&m));
    OK(rmc_param_transform(m, "x", 1, NULL, k_name, RMC_TRANSFORM_SIMPLEX, &out));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "K", RMC_INT64, &k_value, 0, NULL));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_SHAPE, "'x'");
    rmc_data_free(d);
    rmc_model_free(m);

    /* a bound of the wrong shape names the parameter and the bound */
    OK(rmc_model_create(&m));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &k_any, NULL, &v));
    OK(rmc_param(m, "z", 1, two_three, NULL, v, RMC_NONE, &out));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, Y3, 1, &three));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_SHAPE, "lower bound data 'y'");
    rmc_data_free(d);
    rmc_model_free(m);

    /* data bounds that cross are refused at bind time */
    OK(rmc_model_create(&m));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &k_any, NULL, &v));
    OK(rmc_param(m, "z", 1, &three, NULL, v, konst(m, 0.5), &out));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, Y3, 1, &three));
    assert_error(rmc_program_create(m, d, &p), RMC_ERR_MODEL, "at index 2");
    rmc_data_free(d);
    rmc_model_free(m);

    /* bounds that depend on parameters and cross make a point impossible, not an error */
    OK(rmc_model_create(&m));
    a = bounded(m, "a", 0, RMC_NONE, RMC_NONE);
    bounded(m, "b", 0, a, konst(m, 1.0));
    p = program(m);
    {
        double x[2] = { 0.5, 0.0 }, lp, g[2];

        OK(rmc_program_logp_grad(p, 1, x, &lp, g));
        assert_true(isfinite(lp));
        x[0] = 1.5;
        OK(rmc_program_logp_grad(p, 1, x, &lp, g));
        assert_true(lp == -INFINITY);
    }
    rmc_program_free(p);
    rmc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(jacobians_integrate_to_known_masses),
        cmocka_unit_test(sampled_moments_match_known_distributions),
        cmocka_unit_test(unconstrain_inverts_constrain),
        cmocka_unit_test(bad_declarations_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
