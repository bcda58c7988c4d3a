/* test_grad.c - every op, distribution and transform: the reverse-mode gradient against
 * central finite differences at random points on the unconstrained space. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rmc.h"

#define PI 3.14159265358979323846

#define OK(call) assert_int_equal((call), RMC_OK)

/* Small models share these data: a vector y of 3 observations, an integer index and a
 * 3 x 2 matrix. */
static const double Y[3] = { 0.3, -1.2, 2.1 };
static const double YPOS[3] = { 0.4, 1.3, 0.2 };
static const int64_t YBIN[3] = { 1, 0, 1 };
static const int64_t IDX[5] = { 2, 0, 1, 1, 2 };
static const double X[6] = { 0.5, -1.0, 2.0, 0.3, -0.7, 1.1 };

struct case_ {
    const char *name;
    void (*build)(rmc_model *m, int variant);
    int variant;
};

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_node vec_param(rmc_model *m, const char *name, int64_t n, double lower)
{
    rmc_node p;

    OK(rmc_param(m, name, 1, &n, NULL, isnan(lower) ? RMC_NONE : konst(m, lower), RMC_NONE,
                 &p));
    return p;
}

static rmc_node scalar_param(rmc_model *m, const char *name, double lower)
{
    rmc_node p;

    OK(rmc_param(m, name, 0, NULL, NULL, isnan(lower) ? RMC_NONE : konst(m, lower), RMC_NONE,
                 &p));
    return p;
}

static rmc_node data(rmc_model *m, const char *name, rmc_dtype t)
{
    rmc_node n;
    int64_t any = -1;

    OK(rmc_data_field(m, name, t, 1, &any, NULL, &n));
    return n;
}

/* value ~ normal(0.3, 1.7): turns any vector or scalar expression into a density. */
static void observe(rmc_model *m, rmc_node value)
{
    OK(rmc_tilde(m, RMC_DIST_NORMAL, value, 2, (rmc_node[]){ konst(m, 0.3), konst(m, 1.7) }));
}

/* variant: 0 vector-vector, 1 vector-scalar, 2 scalar-vector */
static void build_binary(rmc_model *m, int op)
{
    int positive = op == RMC_OP_POW || op == RMC_OP_DIV;
    rmc_node a = vec_param(m, "a", 3, positive ? 0.2 : NAN);
    rmc_node b = vec_param(m, "b", 3, positive ? 0.2 : NAN);
    rmc_node s = scalar_param(m, "s", positive ? 0.2 : NAN);
    rmc_node o1, o2, o3;

    OK(rmc_op2(m, op, a, b, &o1));
    OK(rmc_op2(m, op, a, s, &o2));
    OK(rmc_op2(m, op, s, b, &o3));
    observe(m, o1);
    observe(m, o2);
    observe(m, o3);
}

static void build_unary(rmc_model *m, int op)
{
    int positive = op == RMC_OP_LOG || op == RMC_OP_SQRT || op == RMC_OP_LGAMMA;
    rmc_node a = vec_param(m, "a", 3, positive ? 0.1 : (op == RMC_OP_LOG1P ? -0.9 : NAN));
    rmc_node o;

    OK(rmc_op1(m, op, a, &o));
    observe(m, o);
}

static void build_reductions(rmc_model *m, int variant)
{
    rmc_node a = vec_param(m, "a", 3, NAN), b = vec_param(m, "b", 3, NAN);
    rmc_node y = data(m, "y", RMC_REAL), o;

    (void)variant;
    OK(rmc_op1(m, RMC_OP_SUM, a, &o));
    observe(m, o);
    OK(rmc_op2(m, RMC_OP_DOT, a, b, &o));
    observe(m, o);
    OK(rmc_op2(m, RMC_OP_DOT, y, b, &o));
    observe(m, o);
}

static void build_gather_matvec(rmc_model *m, int variant)
{
    rmc_node a = vec_param(m, "a", 3, NAN), w = vec_param(m, "w", 2, NAN);
    rmc_node idx = data(m, "idx", RMC_INT64), xm, g, mv;
    int64_t dims[2] = { 3, 2 };

    (void)variant;
    OK(rmc_gather(m, a, idx, 0, &g));
    observe(m, g);
    OK(rmc_data_field(m, "X", RMC_REAL, 2, dims, NULL, &xm));
    OK(rmc_matvec(m, xm, w, &mv));
    observe(m, mv);
}

/* value ~ dist(args), or, for an expression (LPDF_MODE + dist), target += the elementwise
 * log density scaled by a parameter, so that the expression's adjoint is not all ones. */
#define LPDF_MODE 100

static void add_density(rmc_model *m, int dist, rmc_node value, int nargs, rmc_node *args)
{
    rmc_node lp, w, scaled;

    if (dist < LPDF_MODE) {
        OK(rmc_tilde(m, dist, value, nargs, args));
        return;
    }
    OK(rmc_lpdf(m, dist - LPDF_MODE, value, nargs, args, &lp));
    w = scalar_param(m, dist % 2 ? "wa" : "wb", NAN);
    OK(rmc_op2(m, RMC_OP_MUL, lp, w, &scaled));
    OK(rmc_target(m, scaled));
}

/* Each distribution with every argument a parameter, on a parameter value and on data. */
static void build_dist(rmc_model *m, int variant)
{
    rmc_node args[3], value, obs;
    int nargs = 0, dist = variant % LPDF_MODE;

    switch (dist) {
    case RMC_DIST_NORMAL:
    case RMC_DIST_CAUCHY:
        args[nargs++] = scalar_param(m, "loc", NAN);
        args[nargs++] = vec_param(m, "scale", 3, 0.0);
        break;
    case RMC_DIST_STUDENT_T:
        args[nargs++] = scalar_param(m, "nu", 0.5);
        args[nargs++] = vec_param(m, "loc", 3, NAN);
        args[nargs++] = scalar_param(m, "scale", 0.0);
        break;
    case RMC_DIST_HALF_NORMAL:
    case RMC_DIST_HALF_CAUCHY:
    case RMC_DIST_EXPONENTIAL:
        args[nargs++] = scalar_param(m, "scale", 0.0);
        break;
    case RMC_DIST_UNIFORM: {
        rmc_node lo = scalar_param(m, "lo", NAN), w = scalar_param(m, "w", 2.5), hi;

        OK(rmc_op2(m, RMC_OP_ADD, lo, w, &hi));
        args[nargs++] = lo;
        args[nargs++] = hi;
        break;
    }
    case RMC_DIST_BERNOULLI: {
        rmc_node a = vec_param(m, "a", 3, NAN), p;

        OK(rmc_op1(m, RMC_OP_LOGISTIC, a, &p));
        args[nargs++] = p;
        break;
    }
    case RMC_DIST_BERNOULLI_LOGIT:
        args[nargs++] = vec_param(m, "a", 3, NAN);
        break;
    }

    if (dist == RMC_DIST_BERNOULLI || dist == RMC_DIST_BERNOULLI_LOGIT) {
        add_density(m, variant, data(m, "ybin", RMC_INT64), nargs, args);
        return;
    }
    if (dist == RMC_DIST_UNIFORM) {
        /* value = lo + w * logistic(u) stays inside (lo, lo + w) */
        rmc_node u = vec_param(m, "u", 3, NAN), s, t;

        OK(rmc_op1(m, RMC_OP_LOGISTIC, u, &s));
        OK(rmc_op2(m, RMC_OP_SUB, args[1], args[0], &t));
        OK(rmc_op2(m, RMC_OP_MUL, t, s, &t));
        OK(rmc_op2(m, RMC_OP_ADD, args[0], t, &value));
        add_density(m, variant, value, nargs, args);
        return;
    }
    value = vec_param(m, "v", 3, dist == RMC_DIST_HALF_NORMAL || dist == RMC_DIST_HALF_CAUCHY ||
                                         dist == RMC_DIST_EXPONENTIAL ? 0.0 : NAN);
    add_density(m, variant, value, nargs, args);
    obs = data(m, dist == RMC_DIST_HALF_NORMAL || dist == RMC_DIST_HALF_CAUCHY ||
                       dist == RMC_DIST_EXPONENTIAL ? "ypos" : "y", RMC_REAL);
    if (variant >= LPDF_MODE) {
        /* a second expression needs its own weight name */
        rmc_node lp, w, scaled;

        OK(rmc_lpdf(m, dist, obs, nargs, args, &lp));
        w = scalar_param(m, "wobs", NAN);
        OK(rmc_op2(m, RMC_OP_MUL, lp, w, &scaled));
        OK(rmc_target(m, scaled));
    } else {
        OK(rmc_tilde(m, dist, obs, nargs, args));
    }
}

/* A two-component mixture written with log densities: log_mix and log_sum_exp. */
static void build_mixture(rmc_model *m, int variant)
{
    rmc_node mu1 = scalar_param(m, "mu1", NAN), mu2 = scalar_param(m, "mu2", NAN);
    rmc_node s = scalar_param(m, "s", 0.0), theta, u = scalar_param(m, "u", NAN);
    rmc_node y = data(m, "y", RMC_REAL), lp1, lp2, mix, both, lse;

    (void)variant;
    OK(rmc_op1(m, RMC_OP_LOGISTIC, u, &theta));
    OK(rmc_lpdf(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ mu1, s }, &lp1));
    OK(rmc_lpdf(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ mu2, s }, &lp2));
    OK(rmc_op3(m, RMC_OP_LOG_MIX, theta, lp1, lp2, &mix));
    OK(rmc_target(m, mix));
    OK(rmc_op2(m, RMC_OP_ADD, lp1, lp2, &both));
    OK(rmc_op1(m, RMC_OP_LOG_SUM_EXP, both, &lse));
    OK(rmc_target(m, lse));
}

/* Transforms: lower, upper and both bounds, vector and scalar. */
static void build_transforms(rmc_model *m, int variant)
{
    rmc_node lo = konst(m, -1.5), hi = konst(m, 2.5), a, b, c;
    int64_t three = 3;

    (void)variant;
    OK(rmc_param(m, "a", 1, &three, NULL, lo, RMC_NONE, &a));
    OK(rmc_param(m, "b", 0, NULL, NULL, RMC_NONE, hi, &b));
    OK(rmc_param(m, "c", 1, &three, NULL, lo, hi, &c));
    observe(m, a);
    observe(m, b);
    observe(m, c);
}

static void check_case(const struct case_ *tc)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    int64_t n3 = 3, n5 = 5, mat[2] = { 3, 2 };
    uint64_t state = 12345;

    OK(rmc_model_create(&m));
    tc->build(m, tc->variant);
    OK(rmc_model_status(m));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, Y, 1, &n3));
    OK(rmc_data_set(d, "ypos", RMC_REAL, YPOS, 1, &n3));
    OK(rmc_data_set(d, "ybin", RMC_INT64, YBIN, 1, &n3));
    OK(rmc_data_set(d, "idx", RMC_INT64, IDX, 1, &n5));
    OK(rmc_data_set(d, "X", RMC_REAL, X, 2, mat));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s: %s", tc->name, rmc_last_error());

    for (int trial = 0; trial < 5; trial++) {
        int64_t dim = rmc_program_dim(p);
        double x[32], g[32], lp, lp1, lp2;

        assert_true(dim <= 32);
        for (int64_t i = 0; i < dim; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = ((double)(state >> 11) / 9007199254740992.0) * 2.0 - 1.0;
        }
        OK(rmc_program_logp_grad(p, 1, x, &lp, g));
        assert_true(isfinite(lp));
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
    rmc_data_free(d);
    rmc_model_free(m);
}

static void gradients_match_finite_differences(void **state)
{
    static const struct case_ cases[] = {
        { "add", build_binary, RMC_OP_ADD },
        { "sub", build_binary, RMC_OP_SUB },
        { "mul", build_binary, RMC_OP_MUL },
        { "div", build_binary, RMC_OP_DIV },
        { "pow", build_binary, RMC_OP_POW },
        { "min", build_binary, RMC_OP_MIN },
        { "max", build_binary, RMC_OP_MAX },
        { "neg", build_unary, RMC_OP_NEG },
        { "exp", build_unary, RMC_OP_EXP },
        { "log", build_unary, RMC_OP_LOG },
        { "log1p", build_unary, RMC_OP_LOG1P },
        { "sqrt", build_unary, RMC_OP_SQRT },
        { "square", build_unary, RMC_OP_SQUARE },
        { "logistic", build_unary, RMC_OP_LOGISTIC },
        { "lgamma", build_unary, RMC_OP_LGAMMA },
        { "expm1", build_unary, RMC_OP_EXPM1 },
        { "log1p_exp", build_unary, RMC_OP_LOG1P_EXP },
        { "tanh", build_unary, RMC_OP_TANH },
        { "abs", build_unary, RMC_OP_ABS },
        { "mixture", build_mixture, 0 },
        { "sum/dot", build_reductions, 0 },
        { "gather/matvec", build_gather_matvec, 0 },
        { "normal", build_dist, RMC_DIST_NORMAL },
        { "half_normal", build_dist, RMC_DIST_HALF_NORMAL },
        { "cauchy", build_dist, RMC_DIST_CAUCHY },
        { "half_cauchy", build_dist, RMC_DIST_HALF_CAUCHY },
        { "student_t", build_dist, RMC_DIST_STUDENT_T },
        { "uniform", build_dist, RMC_DIST_UNIFORM },
        { "exponential", build_dist, RMC_DIST_EXPONENTIAL },
        { "bernoulli", build_dist, RMC_DIST_BERNOULLI },
        { "bernoulli_logit", build_dist, RMC_DIST_BERNOULLI_LOGIT },
        { "transforms", build_transforms, 0 },
        { "normal_lpdf", build_dist, LPDF_MODE + RMC_DIST_NORMAL },
        { "half_normal_lpdf", build_dist, LPDF_MODE + RMC_DIST_HALF_NORMAL },
        { "cauchy_lpdf", build_dist, LPDF_MODE + RMC_DIST_CAUCHY },
        { "half_cauchy_lpdf", build_dist, LPDF_MODE + RMC_DIST_HALF_CAUCHY },
        { "student_t_lpdf", build_dist, LPDF_MODE + RMC_DIST_STUDENT_T },
        { "uniform_lpdf", build_dist, LPDF_MODE + RMC_DIST_UNIFORM },
        { "exponential_lpdf", build_dist, LPDF_MODE + RMC_DIST_EXPONENTIAL },
        { "bernoulli_lpdf", build_dist, LPDF_MODE + RMC_DIST_BERNOULLI },
        { "bernoulli_logit_lpdf", build_dist, LPDF_MODE + RMC_DIST_BERNOULLI_LOGIT },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

/* Spot values of densities against closed forms, so a gradient consistent with a wrong
 * density cannot pass. */
static void densities_match_closed_forms(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node v, one = 0;
    double x = 0.7, lp, g;

    (void)state;
    OK(rmc_model_create(&m));
    OK(rmc_param(m, "v", 0, NULL, NULL, RMC_NONE, RMC_NONE, &v));
    OK(rmc_const(m, 1.5, &one));
    OK(rmc_tilde(m, RMC_DIST_STUDENT_T, v, 3, (rmc_node[]){ one, one, one }));
    OK(rmc_data_create(&d));
    OK(rmc_program_create(m, d, &p));
    OK(rmc_program_logp_grad(p, 1, &x, &lp, &g));
    /* Student-t(nu 1.5, mu 1.5, sigma 1.5) at 0.7, from the closed form with
     * lgamma(1.25) = -0.0982718364218131, lgamma(0.75) = 0.2032809514312954. */
    {
        double nu = 1.5, z = (0.7 - 1.5) / 1.5;
        double want = -0.0982718364218131 - 0.2032809514312954 - 0.5 * log(nu * PI)
                      - log(1.5) - 0.5 * (nu + 1) * log1p(z * z / nu);

        assert_true(fabs(lp - want) < 1e-12);
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(densities_match_closed_forms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
