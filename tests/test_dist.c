/* test_dist.c - the wider distribution set: gradients of statements and of log-density
 * expressions against central finite differences, closed-form spot values, bind-time
 * errors for data outside the support, and -inf (never NaN) for points outside it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dist.h"
#include "program.h"
#include "rmc.h"

#define PI 3.14159265358979323846

#define OK(call) assert_int_equal((call), RMC_OK)

/* Data every model may read; a program binds only the fields its model names. */
static const double Y[3] = { 0.3, -1.2, 2.1 };
static const double YPOS[3] = { 0.4, 1.3, 0.2 };
static const double YUNIT[3] = { 0.2, 0.7, 0.95 };
static const int64_t YCOUNT[3] = { 3, 0, 7 };
static const int64_t NTRIALS[3] = { 5, 2, 9 };
static const int64_t YCAT[3] = { 2, 1, 3 };
static const double YSIMPLEX[6] = { 0.2, 0.5, 0.3, 0.6, 0.1, 0.3 };
static const double YMVN[6] = { 0.5, -1.0, 2.0, 0.3, -0.7, 1.1 };
static const double LOWSTRICT[9] = { 0, 0, 0, 1, 0, 0, 1, 1, 0 };
static const double EYE[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
/* one-hot 3 x 3 matrices that place the entries of a correlation Cholesky factor */
static const double E11[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
static const double E21[9] = { 0, 0, 0, 1, 0, 0, 0, 0, 0 };
static const double E22[9] = { 0, 0, 0, 0, 1, 0, 0, 0, 0 };
static const double E31[9] = { 0, 0, 0, 0, 0, 0, 1, 0, 0 };
static const double E32[9] = { 0, 0, 0, 0, 0, 0, 0, 1, 0 };
static const double E33[9] = { 0, 0, 0, 0, 0, 0, 0, 0, 1 };
/* a correlation Cholesky factor: rows of unit length */
static double LCORR[9];

static void init_lcorr(void)
{
    double a = 0.3, b = -0.4, cc = 0.5;

    memset(LCORR, 0, sizeof LCORR);
    LCORR[0] = 1.0;
    LCORR[3] = a;
    LCORR[4] = sqrt(1.0 - a * a);
    LCORR[6] = b;
    LCORR[7] = cc * sqrt(1.0 - b * b);
    LCORR[8] = sqrt((1.0 - b * b) * (1.0 - cc * cc));
}

static rmc_data *make_data(void)
{
    rmc_data *d;
    int64_t n3 = 3, m23[2] = { 2, 3 }, m33[2] = { 3, 3 };
    static const struct {
        const char *name;
        const double *v;
    } mats[] = { { "lowstrict", LOWSTRICT }, { "eye", EYE }, { "E11", E11 }, { "E21", E21 },
                 { "E22", E22 },           { "E31", E31 }, { "E32", E32 }, { "E33", E33 },
                 { "lcorr", LCORR } };

    init_lcorr();
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, Y, 1, &n3));
    OK(rmc_data_set(d, "ypos", RMC_REAL, YPOS, 1, &n3));
    OK(rmc_data_set(d, "yunit", RMC_REAL, YUNIT, 1, &n3));
    OK(rmc_data_set(d, "ycount", RMC_INT64, YCOUNT, 1, &n3));
    OK(rmc_data_set(d, "ntrials", RMC_INT64, NTRIALS, 1, &n3));
    OK(rmc_data_set(d, "ycat", RMC_INT64, YCAT, 1, &n3));
    OK(rmc_data_set(d, "ysimplex", RMC_REAL, YSIMPLEX, 2, m23));
    OK(rmc_data_set(d, "ymvn", RMC_REAL, YMVN, 2, m23));
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        OK(rmc_data_set(d, mats[i].name, RMC_REAL, mats[i].v, 2, m33));
    return d;
}

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_node param(rmc_model *m, const char *name, int32_t ndim, int64_t r, int64_t c,
                      double lower, double upper)
{
    rmc_node p;
    int64_t dims[2] = { r, c };

    OK(rmc_param(m, name, ndim, dims, NULL, isnan(lower) ? RMC_NONE : konst(m, lower),
                 isnan(upper) ? RMC_NONE : konst(m, upper), &p));
    return p;
}

static rmc_node scalar_param(rmc_model *m, const char *name, double lower)
{
    return param(m, name, 0, 0, 0, lower, NAN);
}

static rmc_node vec_param(rmc_model *m, const char *name, int64_t n, double lower)
{
    return param(m, name, 1, n, 0, lower, NAN);
}

static rmc_node data(rmc_model *m, const char *name, rmc_dtype t, int32_t ndim)
{
    rmc_node n;
    int64_t any[2] = { -1, -1 };

    OK(rmc_data_field(m, name, t, ndim, any, NULL, &n));
    return n;
}

static rmc_node op1(rmc_model *m, rmc_op op, rmc_node a)
{
    rmc_node o;

    OK(rmc_op1(m, op, a, &o));
    return o;
}

static rmc_node op2(rmc_model *m, rmc_op op, rmc_node a, rmc_node b)
{
    rmc_node o;

    OK(rmc_op2(m, op, a, b, &o));
    return o;
}

/* value ~ dist(args), or, with lpdf set, target += the elementwise log density times a
 * parameter, so that the expression's adjoint is not all ones. */
static void add_density(rmc_model *m, int lpdf, int dist, rmc_node value, int nargs,
                        rmc_node *args)
{
    static int weights;
    char name[16];
    rmc_node lp;

    if (!lpdf) {
        OK(rmc_tilde(m, dist, value, nargs, args));
        return;
    }
    OK(rmc_lpdf(m, dist, value, nargs, args, &lp));
    snprintf(name, sizeof name, "w%d", weights++);
    OK(rmc_target(m, op2(m, RMC_OP_MUL, lp, scalar_param(m, name, NAN))));
}

/* Gradient cases beyond one per distribution. */
enum {
    CASE_CAT_ROWS = 1000,  /* categorical_logit with one row of logits per observation */
    CASE_MVN_DATA,         /* multi_normal_cholesky: data rows, scalar mu               */
    CASE_MVN_MU_ROWS,      /* data rows, one mu row per value row                       */
    CASE_MVN_PARAM_ROWS,   /* a matrix parameter as the value                           */
    CASE_DIRICHLET_DATA,   /* dirichlet: data rows, shared alpha                        */
    CASE_DIRICHLET_ROWS,   /* data rows, one alpha row per value row                    */
    CASE_LKJ_DATA,         /* lkj_corr_cholesky on a data factor                        */
};

/* A lower-triangular 3 x 3 factor with a positive diagonal from a free matrix M. */
static rmc_node cholesky_from(rmc_model *m, rmc_node M)
{
    rmc_node low = op2(m, RMC_OP_MUL, M, data(m, "lowstrict", RMC_REAL, 2));
    rmc_node diag = op2(m, RMC_OP_MUL, op1(m, RMC_OP_EXP, M), data(m, "eye", RMC_REAL, 2));

    return op2(m, RMC_OP_ADD, low, diag);
}

/* The Cholesky factor of a 3 x 3 correlation matrix from three free scalars, built as a
 * sum of one-hot data matrices times its entries (rows of unit length by construction). */
static rmc_node corr_cholesky_from(rmc_model *m)
{
    rmc_node z21 = op1(m, RMC_OP_TANH, scalar_param(m, "u21", NAN));
    rmc_node z31 = op1(m, RMC_OP_TANH, scalar_param(m, "u31", NAN));
    rmc_node z32 = op1(m, RMC_OP_TANH, scalar_param(m, "u32", NAN));
    rmc_node one = konst(m, 1.0);
    rmc_node r21 = op1(m, RMC_OP_SQRT, op2(m, RMC_OP_SUB, one, op1(m, RMC_OP_SQUARE, z21)));
    rmc_node r31 = op1(m, RMC_OP_SQRT, op2(m, RMC_OP_SUB, one, op1(m, RMC_OP_SQUARE, z31)));
    rmc_node r32 = op1(m, RMC_OP_SQRT, op2(m, RMC_OP_SUB, one, op1(m, RMC_OP_SQUARE, z32)));
    rmc_node L = data(m, "E11", RMC_REAL, 2);

    L = op2(m, RMC_OP_ADD, L, op2(m, RMC_OP_MUL, z21, data(m, "E21", RMC_REAL, 2)));
    L = op2(m, RMC_OP_ADD, L, op2(m, RMC_OP_MUL, r21, data(m, "E22", RMC_REAL, 2)));
    L = op2(m, RMC_OP_ADD, L, op2(m, RMC_OP_MUL, z31, data(m, "E31", RMC_REAL, 2)));
    L = op2(m, RMC_OP_ADD, L, op2(m, RMC_OP_MUL, op2(m, RMC_OP_MUL, z32, r31),
                                   data(m, "E32", RMC_REAL, 2)));
    L = op2(m, RMC_OP_ADD, L, op2(m, RMC_OP_MUL, op2(m, RMC_OP_MUL, r31, r32),
                                   data(m, "E33", RMC_REAL, 2)));
    return L;
}

/* A point on the 3-simplex from three free coordinates: exp(u) / sum(exp(u)). */
static rmc_node simplex_from(rmc_model *m)
{
    rmc_node e = op1(m, RMC_OP_EXP, vec_param(m, "u", 3, NAN));

    return op2(m, RMC_OP_DIV, e, op1(m, RMC_OP_SUM, e));
}

/* An elementwise continuous distribution: every argument a parameter (scalars and vectors
 * mixed, so both broadcast patterns run), on a parameter value and on data. */
static void build_continuous(rmc_model *m, int dist, int lpdf)
{
    rmc_node args[2], value, obs;
    const char *obs_name = "y";
    double vlo = NAN, vhi = NAN;

    switch (dist) {
    case RMC_DIST_GAMMA:
    case RMC_DIST_INV_GAMMA:
        args[0] = scalar_param(m, "alpha", 0.0);
        args[1] = vec_param(m, "beta", 3, 0.0);
        vlo = 0.0;
        obs_name = "ypos";
        break;
    case RMC_DIST_LOGNORMAL:
        args[0] = scalar_param(m, "mu", NAN);
        args[1] = vec_param(m, "sigma", 3, 0.0);
        vlo = 0.0;
        obs_name = "ypos";
        break;
    case RMC_DIST_BETA:
        args[0] = scalar_param(m, "a", 0.0);
        args[1] = vec_param(m, "b", 3, 0.0);
        vlo = 0.0;
        vhi = 1.0;
        obs_name = "yunit";
        break;
    case RMC_DIST_LAPLACE:
    case RMC_DIST_LOGISTIC:
        args[0] = vec_param(m, "mu", 3, NAN);
        args[1] = scalar_param(m, "scale", 0.0);
        break;
    case RMC_DIST_WEIBULL:
        args[0] = vec_param(m, "alpha", 3, 0.2);
        args[1] = scalar_param(m, "sigma", 0.0);
        vlo = 0.0;
        obs_name = "ypos";
        break;
    case RMC_DIST_HALF_STUDENT_T:
        args[0] = scalar_param(m, "nu", 0.5);
        args[1] = vec_param(m, "sigma", 3, 0.0);
        vlo = 0.0;
        obs_name = "ypos";
        break;
    default:
        fail_msg("no continuous case for distribution %d", dist);
    }
    value = param(m, "v", 1, 3, 0, vlo, vhi);
    add_density(m, lpdf, dist, value, 2, args);
    obs = data(m, obs_name, RMC_REAL, 1);
    add_density(m, lpdf, dist, obs, 2, args);
}

/* A discrete distribution: integer data, continuous arguments as parameters. */
static void build_discrete(rmc_model *m, int dist, int lpdf)
{
    rmc_node args[2], y = data(m, "ycount", RMC_INT64, 1);
    int nargs = 2;

    switch (dist) {
    case RMC_DIST_BINOMIAL:
        args[0] = data(m, "ntrials", RMC_INT64, 1);
        args[1] = op1(m, RMC_OP_LOGISTIC, vec_param(m, "a", 3, NAN));
        break;
    case RMC_DIST_BINOMIAL_LOGIT:
        args[0] = data(m, "ntrials", RMC_INT64, 1);
        args[1] = scalar_param(m, "a", NAN);
        break;
    case RMC_DIST_POISSON:
        args[0] = vec_param(m, "lambda", 3, 0.0);
        nargs = 1;
        break;
    case RMC_DIST_POISSON_LOG:
        args[0] = scalar_param(m, "alpha", NAN);
        nargs = 1;
        break;
    case RMC_DIST_NEG_BINOMIAL_2:
        args[0] = vec_param(m, "mu", 3, 0.0);
        args[1] = scalar_param(m, "phi", 0.0);
        break;
    case RMC_DIST_NEG_BINOMIAL_2_LOG:
        args[0] = vec_param(m, "eta", 3, NAN);
        args[1] = vec_param(m, "phi", 3, 0.0);
        break;
    case RMC_DIST_CATEGORICAL_LOGIT:
    case CASE_CAT_ROWS:
        y = data(m, "ycat", RMC_INT64, 1);
        args[0] = dist == CASE_CAT_ROWS ? param(m, "logits", 2, 3, 3, NAN, NAN)
                                        : vec_param(m, "logits", 3, NAN);
        dist = RMC_DIST_CATEGORICAL_LOGIT;
        nargs = 1;
        break;
    default:
        fail_msg("no discrete case for distribution %d", dist);
    }
    add_density(m, lpdf, dist, y, nargs, args);
}

/* The multivariate distributions (statements only: their rmc_lpdf is refused). */
static void build_multivariate(rmc_model *m, int which, int lpdf)
{
    rmc_node args[2], value;

    (void)lpdf;
    switch (which) {
    case RMC_DIST_MULTI_NORMAL_CHOLESKY:
        value = vec_param(m, "v", 3, NAN);
        args[0] = vec_param(m, "mu", 3, NAN);
        args[1] = cholesky_from(m, param(m, "M", 2, 3, 3, NAN, NAN));
        OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, value, 2, args));
        return;
    case CASE_MVN_DATA:
    case CASE_MVN_MU_ROWS:
        value = data(m, "ymvn", RMC_REAL, 2);
        args[0] = which == CASE_MVN_DATA ? scalar_param(m, "mu", NAN)
                                         : param(m, "mu", 2, 2, 3, NAN, NAN);
        args[1] = cholesky_from(m, param(m, "M", 2, 3, 3, NAN, NAN));
        OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, value, 2, args));
        return;
    case CASE_MVN_PARAM_ROWS:
        value = param(m, "v", 2, 2, 3, NAN, NAN);
        args[0] = vec_param(m, "mu", 3, NAN);
        args[1] = cholesky_from(m, param(m, "M", 2, 3, 3, NAN, NAN));
        OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, value, 2, args));
        return;
    case RMC_DIST_DIRICHLET:
        args[0] = vec_param(m, "alpha", 3, 0.0);
        OK(rmc_tilde(m, RMC_DIST_DIRICHLET, simplex_from(m), 1, args));
        return;
    case CASE_DIRICHLET_DATA:
        args[0] = vec_param(m, "alpha", 3, 0.0);
        OK(rmc_tilde(m, RMC_DIST_DIRICHLET, data(m, "ysimplex", RMC_REAL, 2), 1, args));
        return;
    case CASE_DIRICHLET_ROWS:
        args[0] = param(m, "alpha", 2, 2, 3, 0.0, NAN);
        OK(rmc_tilde(m, RMC_DIST_DIRICHLET, data(m, "ysimplex", RMC_REAL, 2), 1, args));
        return;
    case RMC_DIST_LKJ_CORR_CHOLESKY:
        args[0] = scalar_param(m, "eta", 0.0);
        OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, corr_cholesky_from(m), 1, args));
        return;
    case CASE_LKJ_DATA:
        args[0] = scalar_param(m, "eta", 0.0);
        OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, data(m, "lcorr", RMC_REAL, 2), 1, args));
        return;
    }
    fail_msg("no multivariate case %d", which);
}

struct case_ {
    const char *name;
    void (*build)(rmc_model *m, int which, int lpdf);
    int which;
};

static void check_gradient(const struct case_ *tc, int lpdf)
{
    rmc_model *m;
    rmc_data *d = make_data();
    rmc_program *p;
    uint64_t state = 2024;

    OK(rmc_model_create(&m));
    tc->build(m, tc->which, lpdf);
    OK(rmc_model_status(m));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s%s: %s", tc->name, lpdf ? " (lpdf)" : "", rmc_last_error());

    for (int trial = 0; trial < 5; trial++) {
        int64_t dim = rmc_program_dim(p);
        double x[64], g[64], lp, lp1, lp2;

        assert_true(dim <= 64);
        for (int64_t i = 0; i < dim; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = ((double)(state >> 11) / 9007199254740992.0) * 2.0 - 1.0;
        }
        OK(rmc_program_logp_grad(p, 1, x, &lp, g));
        if (!isfinite(lp))
            fail_msg("%s%s: lp = %g at a random point", tc->name, lpdf ? " (lpdf)" : "", lp);
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
                fail_msg("%s%s: d lp / d x[%lld] = %.10g, finite difference %.10g", tc->name,
                         lpdf ? " (lpdf)" : "", (long long)i, g[i], fd);
        }
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static const struct case_ elementwise_cases[] = {
    { "gamma", build_continuous, RMC_DIST_GAMMA },
    { "inv_gamma", build_continuous, RMC_DIST_INV_GAMMA },
    { "lognormal", build_continuous, RMC_DIST_LOGNORMAL },
    { "beta", build_continuous, RMC_DIST_BETA },
    { "laplace", build_continuous, RMC_DIST_LAPLACE },
    { "logistic", build_continuous, RMC_DIST_LOGISTIC },
    { "weibull", build_continuous, RMC_DIST_WEIBULL },
    { "half_student_t", build_continuous, RMC_DIST_HALF_STUDENT_T },
    { "binomial", build_discrete, RMC_DIST_BINOMIAL },
    { "binomial_logit", build_discrete, RMC_DIST_BINOMIAL_LOGIT },
    { "poisson", build_discrete, RMC_DIST_POISSON },
    { "poisson_log", build_discrete, RMC_DIST_POISSON_LOG },
    { "neg_binomial_2", build_discrete, RMC_DIST_NEG_BINOMIAL_2 },
    { "neg_binomial_2_log", build_discrete, RMC_DIST_NEG_BINOMIAL_2_LOG },
    { "categorical_logit", build_discrete, RMC_DIST_CATEGORICAL_LOGIT },
    { "categorical_logit rows", build_discrete, CASE_CAT_ROWS },
};

static const struct case_ multivariate_cases[] = {
    { "multi_normal_cholesky", build_multivariate, RMC_DIST_MULTI_NORMAL_CHOLESKY },
    { "multi_normal_cholesky data rows", build_multivariate, CASE_MVN_DATA },
    { "multi_normal_cholesky mu rows", build_multivariate, CASE_MVN_MU_ROWS },
    { "multi_normal_cholesky param rows", build_multivariate, CASE_MVN_PARAM_ROWS },
    { "dirichlet", build_multivariate, RMC_DIST_DIRICHLET },
    { "dirichlet data rows", build_multivariate, CASE_DIRICHLET_DATA },
    { "dirichlet alpha rows", build_multivariate, CASE_DIRICHLET_ROWS },
    { "lkj_corr_cholesky", build_multivariate, RMC_DIST_LKJ_CORR_CHOLESKY },
    { "lkj_corr_cholesky data", build_multivariate, CASE_LKJ_DATA },
};

static void statement_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof elementwise_cases / sizeof elementwise_cases[0]; i++)
        check_gradient(&elementwise_cases[i], 0);
    for (size_t i = 0; i < sizeof multivariate_cases / sizeof multivariate_cases[0]; i++)
        check_gradient(&multivariate_cases[i], 0);
}

static void lpdf_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof elementwise_cases / sizeof elementwise_cases[0]; i++)
        check_gradient(&elementwise_cases[i], 1);
}

/* ------------------------------------------------------------------ spot values */

/* lp of "v ~ dist(consts)" for an unbounded scalar parameter v at x: the log density
 * itself, with no Jacobian. */
static double lp_param_value(int dist, double x, int nargs, const double *args)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node v, a[3];
    double lp;

    OK(rmc_model_create(&m));
    v = scalar_param(m, "v", NAN);
    for (int k = 0; k < nargs; k++)
        a[k] = konst(m, args[k]);
    OK(rmc_tilde(m, dist, v, nargs, a));
    OK(rmc_data_create(&d));
    OK(rmc_program_create(m, d, &p));
    OK(rmc_program_logp_grad(p, 1, &x, &lp, NULL));
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
    return lp;
}

/* lp of "y ~ dist(N, theta)" for integer data y (and N when nargs is 2) at the value x of
 * the unbounded parameter theta. */
static double lp_count(int dist, int64_t y, int64_t n, int nargs, double x)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node a[2], theta;
    double lp;

    OK(rmc_model_create(&m));
    theta = scalar_param(m, "theta", NAN);
    if (nargs == 2) {
        a[0] = data(m, "n", RMC_INT64, 0);
        a[1] = theta;
    } else {
        a[0] = theta;
    }
    OK(rmc_tilde(m, dist, data(m, "y", RMC_INT64, 0), nargs, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_INT64, &y, 0, NULL));
    OK(rmc_data_set(d, "n", RMC_INT64, &n, 0, NULL));
    OK(rmc_program_create(m, d, &p));
    OK(rmc_program_logp_grad(p, 1, &x, &lp, NULL));
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
    return lp;
}

/* The negative binomials with phi a constant: lp of y ~ dist(theta, 2.2). */
static double lp_neg_binomial(int dist, int64_t y, double x)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node a[2];
    double lp;

    OK(rmc_model_create(&m));
    a[0] = scalar_param(m, "theta", NAN);
    a[1] = konst(m, 2.2);
    OK(rmc_tilde(m, dist, data(m, "y", RMC_INT64, 0), 2, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_INT64, &y, 0, NULL));
    OK(rmc_program_create(m, d, &p));
    OK(rmc_program_logp_grad(p, 1, &x, &lp, NULL));
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
    return lp;
}

#define NEAR(got, want)                                                                  \
    do {                                                                                 \
        double g_ = (got), w_ = (want);                                                  \
        if (!(fabs(g_ - w_) <= 1e-12 * fmax(1.0, fabs(w_))))                            \
            fail_msg("%s: got %.17g, want %.17g", #got, g_, w_);                         \
    } while (0)

/* Reference values from scipy.stats (the parameterisation in each comment), and from
 * closed forms where scipy has no such distribution. */
static void densities_match_closed_forms(void **state)
{
    (void)state;
    /* gamma(2, scale=1/3).logpdf(0.5) */
    NEAR(lp_param_value(RMC_DIST_GAMMA, 0.5, 2, (double[]){ 2.0, 3.0 }), 0.004077396776274167);
    /* invgamma(2.5, scale=1.5).logpdf(0.7) */
    NEAR(lp_param_value(RMC_DIST_INV_GAMMA, 0.7, 2, (double[]){ 2.5, 1.5 }),
         -0.165514939274088);
    /* lognorm(s=0.8, scale=exp(0.3)).logpdf(1.7) */
    NEAR(lp_param_value(RMC_DIST_LOGNORMAL, 1.7, 2, (double[]){ 0.3, 0.8 }),
         -1.2679774440370046);
    /* beta(2.5, 0.7).logpdf(0.35) */
    NEAR(lp_param_value(RMC_DIST_BETA, 0.35, 2, (double[]){ 2.5, 0.7 }), -1.1056436017699576);
    /* laplace(0.4, 1.3).logpdf(-0.9), logistic(0.4, 1.3).logpdf(-0.9) */
    NEAR(lp_param_value(RMC_DIST_LAPLACE, -0.9, 2, (double[]){ 0.4, 1.3 }),
         -1.9555114450274362);
    NEAR(lp_param_value(RMC_DIST_LOGISTIC, -0.9, 2, (double[]){ 0.4, 1.3 }),
         -1.8888876395039367);
    /* weibull_min(1.7, scale=2.2).logpdf(1.3) */
    NEAR(lp_param_value(RMC_DIST_WEIBULL, 1.3, 2, (double[]){ 1.7, 2.2 }),
         -1.0349641778308898);
    /* log 2 + t(3.5, 0, 1.2).logpdf(0.9) */
    NEAR(lp_param_value(RMC_DIST_HALF_STUDENT_T, 0.9, 2, (double[]){ 3.5, 1.2 }),
         -0.8139780206046089);
    /* binom(9, 0.3).logpmf(4); binom(9, logistic(-0.4)).logpmf(4) */
    NEAR(lp_count(RMC_DIST_BINOMIAL, 4, 9, 2, 0.3), -1.7629840300459296);
    NEAR(lp_count(RMC_DIST_BINOMIAL_LOGIT, 4, 9, 2, -0.4), -1.3808553646480966);
    /* poisson(3.7).logpmf(5); poisson(exp(1.2)).logpmf(5) */
    NEAR(lp_count(RMC_DIST_POISSON, 5, 0, 1, 3.7), -1.9458276445311515);
    NEAR(lp_count(RMC_DIST_POISSON_LOG, 5, 0, 1, 1.2), -2.107608665518593);
    /* nbinom(2.2, 2.2 / (mu + 2.2)).logpmf(5) at mu = 3.7 and mu = exp(1.2) */
    NEAR(lp_neg_binomial(RMC_DIST_NEG_BINOMIAL_2, 5, 3.7), -2.4309777651961073);
    NEAR(lp_neg_binomial(RMC_DIST_NEG_BINOMIAL_2_LOG, 5, 1.2), -2.4934580372658526);
}

/* lp of a model whose only statement has data operands but for one parameter, at x. */
static double lp_of(rmc_model *m, rmc_data *d, const double *x)
{
    rmc_program *p;
    double lp;

    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s", rmc_last_error());
    OK(rmc_program_logp_grad(p, 1, x, &lp, NULL));
    rmc_program_free(p);
    return lp;
}

static void multivariate_closed_forms(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node lg, v, mu, L;
    int64_t n2 = 2, m22[2] = { 2, 2 }, n3 = 3, y = 3;
    const double L2[4] = { 1.5, 0.0, 0.4, 0.8 }, mu2[2] = { 0.3, -0.2 };
    const double theta[3] = { 0.2, 0.5, 0.3 };
    double x[3];

    (void)state;
    /* categorical_logit: logits - log_sum_exp(logits) at the category, 1-based */
    OK(rmc_model_create(&m));
    lg = vec_param(m, "logits", 3, NAN);
    OK(rmc_tilde(m, RMC_DIST_CATEGORICAL_LOGIT, data(m, "y", RMC_INT64, 0), 1, &lg));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_INT64, &y, 0, NULL));
    NEAR(lp_of(m, d, (double[]){ 0.2, -0.5, 1.1 }), -0.4752810402674479);
    rmc_data_free(d);
    rmc_model_free(m);

    /* multi_normal_cholesky: scipy multivariate_normal(mu, L L').logpdf([1.0, 0.5]) */
    OK(rmc_model_create(&m));
    v = vec_param(m, "v", 2, NAN);
    OK(rmc_data_field(m, "mu", RMC_REAL, 1, &n2, NULL, &mu));
    OK(rmc_data_field(m, "L", RMC_REAL, 2, m22, NULL, &L));
    OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, v, 2, (rmc_node[]){ mu, L }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "mu", RMC_REAL, mu2, 1, &n2));
    OK(rmc_data_set(d, "L", RMC_REAL, L2, 2, m22));
    NEAR(lp_of(m, d, (double[]){ 1.0, 0.5 }), -2.3349555676477447);
    rmc_data_free(d);
    rmc_model_free(m);

    /* dirichlet: scipy dirichlet([1.5, 2.0, 0.7]).logpdf([0.2, 0.5, 0.3]), theta as data
     * and alpha the parameter */
    OK(rmc_model_create(&m));
    v = vec_param(m, "alpha", 3, NAN);
    OK(rmc_tilde(m, RMC_DIST_DIRICHLET, data(m, "theta", RMC_REAL, 1), 1, &v));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "theta", RMC_REAL, theta, 1, &n3));
    x[0] = 1.5;
    x[1] = 2.0;
    x[2] = 0.7;
    NEAR(lp_of(m, d, x), 0.7717963325849542);
    rmc_data_free(d);
    rmc_model_free(m);

    /* lkj_corr_cholesky, K = 3, eta = 1: uniform over correlation matrices, whose volume
     * is pi^2 / 2, times the Jacobian L22^1 L33^0 of the factor */
    {
        rmc_node eta;
        double lp;

        OK(rmc_model_create(&m));
        eta = scalar_param(m, "eta", NAN);
        OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, data(m, "lcorr", RMC_REAL, 2), 1, &eta));
        d = make_data();
        x[0] = 1.0;
        lp = lp_of(m, d, x);
        NEAR(lp, log(2.0 / (PI * PI)) + log(LCORR[4]));
        /* K = 2 closed form: 1/Z = 1 / (2^(2 eta - 1) B(eta, eta)) and L22^(2 eta - 2) */
        rmc_data_free(d);
        rmc_model_free(m);
    }
    {
        rmc_node eta;
        const double L22[4] = { 1.0, 0.0, 0.6, 0.8 };
        double e = 2.5;

        OK(rmc_model_create(&m));
        eta = scalar_param(m, "eta", NAN);
        OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, data(m, "L", RMC_REAL, 2), 1, &eta));
        OK(rmc_data_create(&d));
        OK(rmc_data_set(d, "L", RMC_REAL, L22, 2, m22));
        NEAR(lp_of(m, d, &e), -((2 * e - 1) * log(2.0) + 2 * lgamma(e) - lgamma(2 * e))
                                  + (2 * e - 2) * log(0.8));
        rmc_data_free(d);
        rmc_model_free(m);
    }
}

/* A multivariate normal with K above the kernel's stack scratch (64) takes its scratch
 * from the heap: with L = 2 I, lp = -|v|^2 / 8 - K log 2 - K log sqrt(2 pi). */
static void multi_normal_large_k(void **state)
{
    enum { K = 70 };
    rmc_model *m;
    rmc_data *d;
    rmc_node a[2];
    int64_t dims[2] = { K, K };
    static double L[K * K];
    double x[K], g[K], want = 0.0, lp;
    rmc_program *p;

    (void)state;
    for (int i = 0; i < K; i++) {
        L[i * K + i] = 2.0;
        x[i] = 0.1 * (i % 7) - 0.3;
        want += -x[i] * x[i] / 8.0 - log(2.0) - 0.91893853320467274178;
    }
    OK(rmc_model_create(&m));
    a[0] = konst(m, 0.0);
    OK(rmc_data_field(m, "L", RMC_REAL, 2, dims, NULL, &a[1]));
    OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, vec_param(m, "v", K, NAN), 2, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "L", RMC_REAL, L, 2, dims));
    OK(rmc_program_create(m, d, &p));
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    NEAR(lp, want);
    for (int i = 0; i < K; i++)
        NEAR(g[i], -x[i] / 4.0);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* A statement whose operands are all data adds its density as a constant, multivariate
 * ones included (their sizes are known only at bind time). */
static void data_only_statements(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node mu, L, s;
    int64_t n2 = 2, m22[2] = { 2, 2 };
    const double L2[4] = { 1.5, 0.0, 0.4, 0.8 }, mu2[2] = { 0.3, -0.2 }, y2[2] = { 1.0, 0.5 };
    double x = 0.0;

    (void)state;
    OK(rmc_model_create(&m));
    s = scalar_param(m, "s", NAN);
    OK(rmc_tilde(m, RMC_DIST_NORMAL, s, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
    OK(rmc_data_field(m, "mu", RMC_REAL, 1, &n2, NULL, &mu));
    OK(rmc_data_field(m, "L", RMC_REAL, 2, m22, NULL, &L));
    OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, data(m, "y", RMC_REAL, 1), 2,
                 (rmc_node[]){ mu, L }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "mu", RMC_REAL, mu2, 1, &n2));
    OK(rmc_data_set(d, "L", RMC_REAL, L2, 2, m22));
    OK(rmc_data_set(d, "y", RMC_REAL, y2, 1, &n2));
    NEAR(lp_of(m, d, &x), -2.3349555676477447 - 0.91893853320467274178);
    rmc_data_free(d);
    rmc_model_free(m);

    /* counts folded at bind time, without the kernels' precomputed factors:
     * poisson(3.7).logpmf(5) + binom(9, 0.3).logpmf(4) (scipy) */
    {
        const int64_t y5 = 5, y4 = 4, n9 = 9;
        const double p3 = 0.3;

        OK(rmc_model_create(&m));
        s = scalar_param(m, "s", NAN);
        OK(rmc_tilde(m, RMC_DIST_NORMAL, s, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) }));
        OK(rmc_tilde(m, RMC_DIST_POISSON, data(m, "a", RMC_INT64, 0), 1,
                     (rmc_node[]){ konst(m, 3.7) }));
        OK(rmc_tilde(m, RMC_DIST_BINOMIAL, data(m, "b", RMC_INT64, 0), 2,
                     (rmc_node[]){ data(m, "n", RMC_INT64, 0), data(m, "p", RMC_REAL, 0) }));
        OK(rmc_data_create(&d));
        OK(rmc_data_set(d, "a", RMC_INT64, &y5, 0, NULL));
        OK(rmc_data_set(d, "b", RMC_INT64, &y4, 0, NULL));
        OK(rmc_data_set(d, "n", RMC_INT64, &n9, 0, NULL));
        OK(rmc_data_set(d, "p", RMC_REAL, &p3, 0, NULL));
        NEAR(lp_of(m, d, &x),
             -1.9458276445311515 - 1.7629840300459296 - 0.91893853320467274178);
        rmc_data_free(d);
        rmc_model_free(m);
    }
}

/* ------------------------------------------------------------------ bind-time errors */

/* Binding fails with status want and a message holding every string in parts. */
static void expect_bind_error(rmc_model *m, rmc_data *d, rmc_status want, const char *const *parts)
{
    rmc_program *p = NULL;
    rmc_status st = rmc_program_create(m, d, &p);
    const char *msg = rmc_last_error();

    if (st != want)
        fail_msg("status %s, want %s (%s)", rmc_status_string(st), rmc_status_string(want),
                 st == RMC_OK ? "bound" : msg);
    for (int i = 0; parts[i]; i++) {
        if (!strstr(msg, parts[i]))
            fail_msg("message \"%s\" lacks \"%s\"", msg, parts[i]);
    }
    assert_null(p);
}

/* A model "yname ~ dist(args)" with a parameter theta standing in for the continuous
 * argument, so that the model has a parameter. */
static void bad_count_data(int dist, const int64_t *y, const int64_t *n, const char *const *parts)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node a[2];
    int64_t n3 = 3;
    int nargs = 1;

    OK(rmc_model_create(&m));
    if (dist == RMC_DIST_BINOMIAL) {
        a[0] = data(m, "n", RMC_INT64, 1);
        a[1] = op1(m, RMC_OP_LOGISTIC, scalar_param(m, "theta", NAN));
        nargs = 2;
    } else if (dist == RMC_DIST_CATEGORICAL_LOGIT) {
        a[0] = vec_param(m, "theta", 3, NAN);
    } else if (dist == RMC_DIST_NEG_BINOMIAL_2_LOG) {
        a[0] = scalar_param(m, "theta", NAN);
        a[1] = konst(m, 2.0);
        nargs = 2;
    } else {
        a[0] = scalar_param(m, "theta", 0.0);
    }
    OK(rmc_tilde(m, dist, data(m, "counts", RMC_INT64, 1), nargs, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "counts", RMC_INT64, y, 1, &n3));
    if (n)
        OK(rmc_data_set(d, "n", RMC_INT64, n, 1, &n3));
    expect_bind_error(m, d, RMC_ERR_DATA, parts);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void bad_real_data(int dist, const double *y, int64_t n, const double *arg,
                          const char *const *parts)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node a[2];
    int64_t n3 = n;

    OK(rmc_model_create(&m));
    a[0] = scalar_param(m, "a", 0.0);
    a[1] = arg ? data(m, "arg", RMC_REAL, 1) : scalar_param(m, "b", 0.0);
    OK(rmc_tilde(m, dist, data(m, "obs", RMC_REAL, 1), 2, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "obs", RMC_REAL, y, 1, &n3));
    if (arg)
        OK(rmc_data_set(d, "arg", RMC_REAL, arg, 1, &n3));
    expect_bind_error(m, d, RMC_ERR_DATA, parts);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void data_outside_support_fails_at_bind(void **state)
{
    (void)state;
    bad_count_data(RMC_DIST_POISSON, (int64_t[]){ 3, -1, 7 }, NULL,
                   (const char *[]){ "poisson", "data 'counts'", "-1", "index 1",
                                     "non-negative integer", NULL });
    bad_count_data(RMC_DIST_NEG_BINOMIAL_2_LOG, (int64_t[]){ 3, 0, -2 }, NULL,
                   (const char *[]){ "data 'counts'", "index 2", NULL });
    bad_count_data(RMC_DIST_BINOMIAL, (int64_t[]){ 3, 6, 7 }, (int64_t[]){ 5, 5, 9 },
                   (const char *[]){ "binomial", "data 'counts'", "6", "index 1",
                                     "N = 5", NULL });
    bad_count_data(RMC_DIST_BINOMIAL, (int64_t[]){ 0, 1, 0 }, (int64_t[]){ 5, -5, 9 },
                   (const char *[]){ "argument N = data 'n'", "non-negative integer",
                                     "index 1", NULL });
    bad_count_data(RMC_DIST_CATEGORICAL_LOGIT, (int64_t[]){ 1, 3, 4 }, NULL,
                   (const char *[]){ "categorical_logit", "data 'counts'", "index 2",
                                     "K = 3", NULL });
    bad_count_data(RMC_DIST_CATEGORICAL_LOGIT, (int64_t[]){ 0, 3, 1 }, NULL,
                   (const char *[]){ "data 'counts'", "index 0", NULL });

    bad_real_data(RMC_DIST_BETA, (double[]){ 0.2, 1.0, 0.5 }, 3, NULL,
                  (const char *[]){ "beta", "data 'obs'", "index 1", "(0, 1)", NULL });
    bad_real_data(RMC_DIST_BETA, (double[]){ 0.2, 0.3, 0.0 }, 3, NULL,
                  (const char *[]){ "data 'obs'", "index 2", NULL });
    bad_real_data(RMC_DIST_GAMMA, (double[]){ 0.2, -0.3, 1.0 }, 3, NULL,
                  (const char *[]){ "gamma", "data 'obs'", "index 1", "> 0", NULL });
    bad_real_data(RMC_DIST_GAMMA, (double[]){ 0.2, 0.3, 1.0 }, 3, (double[]){ 1.0, 0.0, 2.0 },
                  (const char *[]){ "argument beta = data 'arg'", "positive", "index 1", NULL });

    /* a probability given as data outside [0, 1] */
    {
        rmc_model *m;
        rmc_data *d;
        rmc_node a[2];
        int64_t n3 = 3;
        const double p[3] = { 0.5, 1.5, 0.2 };

        OK(rmc_model_create(&m));
        (void)scalar_param(m, "theta", NAN);
        a[0] = data(m, "n", RMC_INT64, 1);
        a[1] = data(m, "p", RMC_REAL, 1);
        OK(rmc_tilde(m, RMC_DIST_BINOMIAL, data(m, "counts", RMC_INT64, 1), 2, a));
        OK(rmc_data_create(&d));
        OK(rmc_data_set(d, "counts", RMC_INT64, YCOUNT, 1, &n3));
        OK(rmc_data_set(d, "n", RMC_INT64, NTRIALS, 1, &n3));
        OK(rmc_data_set(d, "p", RMC_REAL, p, 1, &n3));
        expect_bind_error(m, d, RMC_ERR_DATA,
                          (const char *[]){ "argument p = data 'p'", "[0, 1]", "1.5",
                                            "index 1", NULL });
        rmc_data_free(d);
        rmc_model_free(m);
    }
}

static void multivariate_data_checked_at_bind(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_node a[2];
    int64_t m23[2] = { 2, 3 }, m33[2] = { 3, 3 }, n3 = 3;
    const double off[6] = { 0.2, 0.5, 0.3, 0.6, 0.1, 0.2 };
    const double upper[9] = { 1, 0.1, 0, 0.2, 1, 0, 0.3, 0.4, 1 };
    const double longrow[9] = { 1, 0, 0, 0.6, 0.9, 0, 0, 0, 1 };

    (void)state;
    /* dirichlet: a data row off the simplex */
    OK(rmc_model_create(&m));
    a[0] = vec_param(m, "alpha", 3, 0.0);
    OK(rmc_tilde(m, RMC_DIST_DIRICHLET, data(m, "theta", RMC_REAL, 2), 1, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "theta", RMC_REAL, off, 2, m23));
    expect_bind_error(m, d, RMC_ERR_DATA,
                      (const char *[]){ "dirichlet", "data 'theta'", "row 1", "simplex", NULL });
    rmc_data_free(d);
    rmc_model_free(m);

    /* multi_normal_cholesky: a data L with an entry above the diagonal */
    OK(rmc_model_create(&m));
    a[0] = vec_param(m, "mu", 3, NAN);
    a[1] = data(m, "L", RMC_REAL, 2);
    OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, vec_param(m, "v", 3, NAN), 2, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "L", RMC_REAL, upper, 2, m33));
    expect_bind_error(m, d, RMC_ERR_DATA,
                      (const char *[]){ "argument L = data 'L'", "[0, 1]", "lower triangular",
                                        NULL });
    rmc_data_free(d);
    rmc_model_free(m);

    /* lkj_corr_cholesky: a data factor with a row longer than 1 */
    OK(rmc_model_create(&m));
    a[0] = scalar_param(m, "eta", 0.0);
    OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, data(m, "L", RMC_REAL, 2), 1, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "L", RMC_REAL, longrow, 2, m33));
    expect_bind_error(m, d, RMC_ERR_DATA,
                      (const char *[]){ "lkj_corr_cholesky", "data 'L'", "row 1", NULL });
    rmc_data_free(d);
    rmc_model_free(m);

    /* shapes: L of the wrong size, logits rows against too few observations */
    OK(rmc_model_create(&m));
    a[0] = vec_param(m, "mu", 3, NAN);
    a[1] = param(m, "L", 2, 2, 2, NAN, NAN);
    OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, vec_param(m, "v", 3, NAN), 2, a));
    OK(rmc_data_create(&d));
    expect_bind_error(m, d, RMC_ERR_SHAPE,
                      (const char *[]){ "multi_normal_cholesky", "L must be a 3 x 3", NULL });
    rmc_data_free(d);
    rmc_model_free(m);

    OK(rmc_model_create(&m));
    a[0] = param(m, "logits", 2, 2, 3, NAN, NAN);
    OK(rmc_tilde(m, RMC_DIST_CATEGORICAL_LOGIT, data(m, "y", RMC_INT64, 1), 1, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_INT64, YCAT, 1, &n3));
    expect_bind_error(m, d, RMC_ERR_SHAPE,
                      (const char *[]){ "categorical_logit", "logits", "3 rows", NULL });
    rmc_data_free(d);
    rmc_model_free(m);

    /* a count argument that depends on parameters */
    OK(rmc_model_create(&m));
    a[0] = scalar_param(m, "n", 0.0);
    a[1] = konst(m, 0.5);
    OK(rmc_tilde(m, RMC_DIST_BINOMIAL, data(m, "y", RMC_INT64, 1), 2, a));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_INT64, YCAT, 1, &n3));
    expect_bind_error(m, d, RMC_ERR_MODEL,
                      (const char *[]){ "argument N = parameter 'n'", "must be data", NULL });
    rmc_data_free(d);
    rmc_model_free(m);
}

/* rmc_lpdf of a distribution with one density per row is refused with a clear message. */
static void rowwise_lpdf_refused(void **state)
{
    static const int dists[] = { RMC_DIST_MULTI_NORMAL_CHOLESKY, RMC_DIST_DIRICHLET,
                                 RMC_DIST_LKJ_CORR_CHOLESKY };

    (void)state;
    for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++) {
        rmc_model *m;
        rmc_data *d = make_data();
        rmc_node a[2], value, lp;
        int nargs = 1;

        OK(rmc_model_create(&m));
        if (dists[i] == RMC_DIST_MULTI_NORMAL_CHOLESKY) {
            value = vec_param(m, "v", 3, NAN);
            a[0] = konst(m, 0.0);
            a[1] = data(m, "eye", RMC_REAL, 2);
            nargs = 2;
        } else if (dists[i] == RMC_DIST_DIRICHLET) {
            value = simplex_from(m);
            a[0] = konst(m, 2.0);
        } else {
            value = corr_cholesky_from(m);
            a[0] = konst(m, 2.0);
        }
        OK(rmc_lpdf(m, dists[i], value, nargs, a, &lp));
        OK(rmc_target(m, lp));
        expect_bind_error(m, d, RMC_ERR_MODEL,
                          (const char *[]){ dist_info(dists[i])->name, "one number per row",
                                            "use a statement", NULL });
        rmc_data_free(d);
        rmc_model_free(m);
    }
}

/* ------------------------------------------------------------------ run time */

/* lp and gradient at x: lp must be -inf, never NaN, and nothing may crash. */
static void expect_minus_inf(rmc_model *m, rmc_data *d, const double *x, const char *what)
{
    rmc_program *p;
    double lp = 0.0, g[64];

    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("%s: %s", what, rmc_last_error());
    assert_true(rmc_program_dim(p) <= 64);
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    if (!(lp == -INFINITY))
        fail_msg("%s: lp = %g, want -inf", what, lp);
    OK(rmc_program_logp_grad(p, 1, x, &lp, NULL));
    assert_true(lp == -INFINITY);
    rmc_program_free(p);
}

static void outside_support_at_run_time(void **state)
{
    static const int positive[] = { RMC_DIST_GAMMA, RMC_DIST_INV_GAMMA, RMC_DIST_LOGNORMAL,
                                    RMC_DIST_WEIBULL, RMC_DIST_BETA, RMC_DIST_HALF_STUDENT_T };
    rmc_data *d = make_data();
    double x[16] = { 0 };

    (void)state;
    /* value = v - 2 goes negative at v = 1 */
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++) {
        for (int lpdf = 0; lpdf < 2; lpdf++) {
            rmc_model *m;
            rmc_node v, a[2], lp;

            OK(rmc_model_create(&m));
            v = scalar_param(m, "v", NAN);
            a[0] = konst(m, 2.0);
            a[1] = konst(m, 3.0);
            if (lpdf) {
                OK(rmc_lpdf(m, positive[i], op2(m, RMC_OP_SUB, v, konst(m, 2.0)), 2, a, &lp));
                OK(rmc_target(m, lp));
            } else {
                OK(rmc_tilde(m, positive[i], op2(m, RMC_OP_SUB, v, konst(m, 2.0)), 2, a));
            }
            x[0] = 1.0;
            expect_minus_inf(m, d, x, dist_info(positive[i])->name);
            rmc_model_free(m);
        }
    }

    /* an argument out of range through an expression: poisson(lambda = v - 2) */
    {
        rmc_model *m;
        rmc_node lam;

        OK(rmc_model_create(&m));
        lam = op2(m, RMC_OP_SUB, scalar_param(m, "v", NAN), konst(m, 2.0));
        OK(rmc_tilde(m, RMC_DIST_POISSON, data(m, "ycount", RMC_INT64, 1), 1, &lam));
        x[0] = 1.0;
        expect_minus_inf(m, d, x, "poisson with a negative rate");
        rmc_model_free(m);
    }

    /* a vector that is not on the simplex */
    {
        rmc_model *m;
        rmc_node alpha;

        OK(rmc_model_create(&m));
        alpha = konst(m, 2.0);
        OK(rmc_tilde(m, RMC_DIST_DIRICHLET, vec_param(m, "t", 3, 0.0), 1, &alpha));
        x[0] = x[1] = x[2] = 0.0; /* t = (1, 1, 1) */
        expect_minus_inf(m, d, x, "dirichlet off the simplex");
        rmc_model_free(m);
    }

    /* a factor with a negative diagonal, and one whose rows are not of unit length */
    {
        rmc_model *m;
        rmc_node M, a[2], L;

        OK(rmc_model_create(&m));
        M = param(m, "M", 2, 3, 3, NAN, NAN);
        a[0] = konst(m, 0.0);
        a[1] = op2(m, RMC_OP_SUB, cholesky_from(m, M), data(m, "eye", RMC_REAL, 2));
        OK(rmc_tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, vec_param(m, "v", 3, NAN), 2, a));
        memset(x, 0, sizeof x);
        x[0] = -1.0; /* L[0][0] = exp(-1) - 1 < 0 */
        expect_minus_inf(m, d, x, "multi_normal_cholesky with a negative diagonal");
        rmc_model_free(m);

        OK(rmc_model_create(&m));
        L = corr_cholesky_from(m);
        L = op2(m, RMC_OP_MUL, L, scalar_param(m, "s", 0.0));
        a[0] = konst(m, 2.0);
        OK(rmc_tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, L, 1, a));
        memset(x, 0, sizeof x);
        x[3] = 0.5; /* rows of length exp(0.5) */
        expect_minus_inf(m, d, x, "lkj_corr_cholesky of a scaled factor");
        rmc_model_free(m);
    }

    /* an lpdf expression of counts marks a bad element -inf; log_sum_exp keeps the rest */
    {
        rmc_model *m;
        rmc_program *p;
        rmc_node lam, lp;
        double got;

        OK(rmc_model_create(&m));
        lam = scalar_param(m, "lambda", 0.0);
        OK(rmc_lpdf(m, RMC_DIST_CATEGORICAL_LOGIT, data(m, "ycount", RMC_INT64, 1), 1,
                    (rmc_node[]){ vec_param(m, "logits", 3, NAN) }, &lp));
        OK(rmc_target(m, op1(m, RMC_OP_LOG_SUM_EXP, lp)));
        OK(rmc_tilde(m, RMC_DIST_EXPONENTIAL, lam, 1, (rmc_node[]){ konst(m, 1.0) }));
        OK(rmc_program_create(m, d, &p));
        memset(x, 0, sizeof x);
        /* ycount = (3, 0, 7): 0 and 7 are outside 1..3, 3 has log density log(1/3) */
        OK(rmc_program_logp_grad(p, 1, x, &got, NULL));
        NEAR(got, log(1.0 / 3.0) + (-1.0) + 0.0);
        rmc_program_free(p);
        rmc_model_free(m);
    }
    rmc_data_free(d);
}

/* ------------------------------------------------------------------ kernels directly */

/* A multivariate kernel asked for one log density per row (out) and for weighted partials
 * (w) must agree with its rows taken one at a time: what rmc_lpdf will need once an
 * expression can be shaped by rows. nv[k] is the length of operand k (the value: two
 * rows of K), and the spread argument (operand 1) is one row shared by both. */
static void check_rows(int dist, int K, const double *const *v, const int *nv, int nops)
{
    double aux2[MV_LAYOUT] = { 2, K, 1, 0 }, aux1[MV_LAYOUT] = { 1, K, 1, 0 };
    struct inst rows = { .aux = aux2 }, one = { .aux = aux1 };
    const double w[2] = { 0.7, -1.3 };
    double out[2], total, g1[3][9] = { { 0 } }, gw[3][9] = { { 0 } };
    struct dist_call c = { .n = 2 * K, .s = { 1, 1, 1 }, .out = out, .in = &rows };

    for (int k = 0; k < nops; k++)
        c.v[k] = v[k];
    total = dist_eval(dist, &c);
    for (int r = 0; r < 2; r++) {
        struct dist_call cr = { .n = K, .s = { 1, 1, 1 }, .in = &one };
        double g[3][9] = { { 0 } };

        for (int k = 0; k < nops; k++) {
            cr.v[k] = v[k];
            cr.g[k] = g[k];
        }
        cr.v[0] = v[0] + r * K;
        NEAR(out[r], dist_eval(dist, &cr));
        for (int j = 0; j < K; j++)
            g1[0][r * K + j] = w[r] * g[0][j];
        for (int k = 1; k < nops; k++) {
            for (int j = 0; j < nv[k]; j++)
                g1[k][j] += w[r] * g[k][j];
        }
    }
    NEAR(total, out[0] + out[1]);

    c.out = NULL;
    c.w = w;
    for (int k = 0; k < nops; k++)
        c.g[k] = gw[k];
    dist_eval(dist, &c);
    for (int k = 0; k < nops; k++) {
        for (int j = 0; j < nv[k]; j++)
            NEAR(gw[k][j], g1[k][j]);
    }
}

static void rowwise_kernel_outputs(void **state)
{
    const double y[6] = { 0.5, -1.0, 2.0, 0.3, -0.7, 1.1 }, mu[3] = { 0.1, 0.2, -0.3 };
    const double L[9] = { 1.2, 0, 0, 0.3, 0.9, 0, -0.2, 0.4, 1.1 };
    const double alpha[3] = { 1.5, 0.7, 2.5 };

    (void)state;
    check_rows(RMC_DIST_MULTI_NORMAL_CHOLESKY, 3, (const double *[]){ y, mu, L },
               (int[]){ 6, 3, 9 }, 3);
    check_rows(RMC_DIST_DIRICHLET, 3, (const double *[]){ YSIMPLEX, alpha }, (int[]){ 6, 3 },
               2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statement_gradients),
        cmocka_unit_test(lpdf_gradients),
        cmocka_unit_test(densities_match_closed_forms),
        cmocka_unit_test(multivariate_closed_forms),
        cmocka_unit_test(multi_normal_large_k),
        cmocka_unit_test(data_only_statements),
        cmocka_unit_test(data_outside_support_fails_at_bind),
        cmocka_unit_test(multivariate_data_checked_at_bind),
        cmocka_unit_test(rowwise_lpdf_refused),
        cmocka_unit_test(outside_support_at_run_time),
        cmocka_unit_test(rowwise_kernel_outputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
