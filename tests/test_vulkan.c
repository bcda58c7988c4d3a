/* test_vulkan.c - the Vulkan backend against the CPU evaluator, sampling through it, and
 * its faults.
 *
 * Runs on lavapipe (Mesa's CPU Vulkan driver, package mesa-vulkan-drivers), asked for
 * explicitly; RMC_TEST_VULKAN_DEVICE names another device. Skips (exit 77) with a message
 * when no Vulkan device can be created. XDG_CACHE_HOME points at a temporary folder,
 * removed at the end, so neither our SPIR-V cache nor Mesa's shader cache touches home.
 *
 * Equivalence: for every model below, random positions in batches of 1, 7 and 256 must
 * give lp and gradient within a relative 1e-10 of the CPU's in float64 (|gpu - cpu| <=
 * 1e-10 max(1, |cpu|)), and within 1e-4 in float32 (RMC_VULKAN_FLOAT32). */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dist.h"
#include "posteriordb.h"
#include "rmc.h"

#define OK(call) assert_int_equal((call), RMC_OK)

static const char *device = "llvmpipe";
static char cache_dir[256];
static int no_driver_result = -1; /* from the child run with the driver hidden */
static char no_driver_report[2048];

/* rmc_config.device for the test device: its index + 1. */
static int32_t device_number(void)
{
    int32_t k = -1;

    OK(rmc_device_find(device, &k));
    return k + 1;
}

/* ------------------------------------------------------------------ model helpers */

static const double Y3[3] = { 0.3, -1.2, 2.1 };
static const double YPOS3[3] = { 0.4, 1.3, 0.2 };
static const double YUNIT3[3] = { 0.2, 0.7, 0.45 };
static const int64_t BIN3[3] = { 1, 0, 1 };
static const int64_t CNT3[3] = { 1, 0, 4 };
static const int64_t TRIALS3[3] = { 3, 2, 6 };
static const int64_t IDX5[5] = { 3, 1, 2, 2, 3 };
static const double X62[12] = { 0.5, -1.0, 2.0, 0.3, -0.7, 1.1, 0.2, 0.9, -0.4, 1.5, 0.8, -0.2 };
static const double Y6[6] = { 0.1, -0.4, 1.2, 0.8, -1.5, 0.6 };
static const double ES_Y[8] = { 28, 8, -3, 7, -1, 1, 18, 12 };
static const double ES_SIGMA[8] = { 15, 10, 16, 11, 9, 11, 10, 18 };
static double *big_y, *big_x; /* made on first use: see large_models_stay_within_... */

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

static rmc_node param(rmc_model *m, const char *name, int64_t n, rmc_node lo, rmc_node hi)
{
    rmc_node out;

    OK(rmc_param(m, name, n > 1 ? 1 : 0, n > 1 ? (int64_t[]){ n } : NULL, NULL, lo, hi, &out));
    return out;
}

static rmc_node field(rmc_model *m, const char *name, rmc_dtype t)
{
    rmc_node out;

    OK(rmc_data_field(m, name, t, -1, NULL, NULL, &out));
    return out;
}

static void tilde(rmc_model *m, int dist, rmc_node v, int nargs, const rmc_node *args)
{
    OK(rmc_tilde(m, dist, v, nargs, args));
}

static void std_normal(rmc_model *m, rmc_node v)
{
    tilde(m, RMC_DIST_NORMAL, v, 2, (rmc_node[]){ konst(m, 0.0), konst(m, 1.0) });
}

static void bind_all(rmc_data *d)
{
    OK(rmc_data_set(d, "y", RMC_REAL, Y3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "ypos", RMC_REAL, YPOS3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "yunit", RMC_REAL, YUNIT3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "bin", RMC_INT64, BIN3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "cnt", RMC_INT64, CNT3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "trials", RMC_INT64, TRIALS3, 1, (int64_t[]){ 3 }));
    OK(rmc_data_set(d, "idx", RMC_INT64, IDX5, 1, (int64_t[]){ 5 }));
    OK(rmc_data_set(d, "X", RMC_REAL, X62, 2, (int64_t[]){ 6, 2 }));
    OK(rmc_data_set(d, "y6", RMC_REAL, Y6, 1, (int64_t[]){ 6 }));
    OK(rmc_data_set(d, "J", RMC_INT64, (int64_t[]){ 8 }, 0, NULL));
    OK(rmc_data_set(d, "es_y", RMC_REAL, ES_Y, 1, (int64_t[]){ 8 }));
    OK(rmc_data_set(d, "es_sigma", RMC_REAL, ES_SIGMA, 1, (int64_t[]){ 8 }));
    if (!big_y) {
        big_y = calloc(70000, sizeof *big_y);
        big_x = calloc(3000 * 25, sizeof *big_x);
        assert_non_null(big_y);
        assert_non_null(big_x);
        for (int k = 0; k < 70000; k++)
            big_y[k] = sin(0.37 * k) * 2.0;
        for (int k = 0; k < 3000 * 25; k++)
            big_x[k] = cos(0.11 * k) * (1 + k % 7);
    }
    OK(rmc_data_set(d, "ybig", RMC_REAL, big_y, 1, (int64_t[]){ 70000 }));
    OK(rmc_data_set(d, "ybig3000", RMC_REAL, big_y, 1, (int64_t[]){ 3000 }));
    OK(rmc_data_set(d, "Xbig", RMC_REAL, big_x, 2, (int64_t[]){ 3000, 25 }));
}

/* ------------------------------------------------------------------ models */

/* op(a, b) with a vector parameter and a scalar, both orders, and vector with vector;
 * positive parameters keep pow and div defined. */
static void m_binary(rmc_model *m, int op)
{
    rmc_node zero = konst(m, 0.0), a = param(m, "a", 3, zero, RMC_NONE);
    rmc_node b = param(m, "b", 1, zero, RMC_NONE), c = param(m, "c", 3, zero, RMC_NONE);
    rmc_node ab, ba, ac, s;

    std_normal(m, a);
    std_normal(m, b);
    std_normal(m, c);
    OK(rmc_op2(m, op, a, b, &ab));
    OK(rmc_op2(m, op, b, a, &ba));
    OK(rmc_op2(m, op, a, c, &ac));
    tilde(m, RMC_DIST_NORMAL, field(m, "y", RMC_REAL), 2, (rmc_node[]){ ab, konst(m, 2.0) });
    OK(rmc_op2(m, RMC_OP_ADD, ba, ac, &s));
    tilde(m, RMC_DIST_NORMAL, field(m, "y", RMC_REAL), 2, (rmc_node[]){ s, konst(m, 3.0) });
}

static void m_unary(rmc_model *m, int op)
{
    /* log, sqrt and lgamma want positive arguments; log1p > -1 */
    rmc_node a = param(m, "a", 3, konst(m, 0.0), RMC_NONE), r, e;

    std_normal(m, a);
    OK(rmc_op1(m, op, a, &r));
    tilde(m, RMC_DIST_NORMAL, field(m, "y", RMC_REAL), 2, (rmc_node[]){ r, konst(m, 2.0) });
    /* the same op on a scalar, as a target term, unfused */
    OK(rmc_index(m, a, 1, &e));
    OK(rmc_op1(m, op, e, &r));
    OK(rmc_target(m, r));
}

static void m_reductions(rmc_model *m, int variant)
{
    rmc_node a = param(m, "a", 3, RMC_NONE, RMC_NONE), b = param(m, "b", 3, RMC_NONE, RMC_NONE);
    rmc_node s, d, l, t;

    (void)variant;
    std_normal(m, a);
    std_normal(m, b);
    OK(rmc_op1(m, RMC_OP_SUM, a, &s));
    OK(rmc_op2(m, RMC_OP_DOT, a, b, &d));
    OK(rmc_op1(m, RMC_OP_LOG_SUM_EXP, b, &l));
    OK(rmc_op2(m, RMC_OP_ADD, s, d, &t));
    OK(rmc_op2(m, RMC_OP_SUB, t, l, &t));
    tilde(m, RMC_DIST_NORMAL, konst(m, 0.5), 2, (rmc_node[]){ t, konst(m, 1.5) });
}

/* gather (with repeated indexes), matvec, slice and scalar index */
static void m_gather_matvec(rmc_model *m, int variant)
{
    rmc_node g = param(m, "g", 4, RMC_NONE, RMC_NONE), beta = param(m, "beta", 2, RMC_NONE,
                                                                       RMC_NONE);
    rmc_node ga, mv, sl, el, sum, sig = param(m, "sig", 1, konst(m, 0.0), RMC_NONE);

    (void)variant;
    std_normal(m, g);
    std_normal(m, beta);
    tilde(m, RMC_DIST_EXPONENTIAL, sig, 1, (rmc_node[]){ konst(m, 1.0) });
    OK(rmc_gather(m, g, field(m, "idx", RMC_INT64), 0, &ga));
    OK(rmc_matvec(m, field(m, "X", RMC_REAL), beta, &mv));
    OK(rmc_slice(m, mv, 1, 6, &sl));
    OK(rmc_op2(m, RMC_OP_ADD, ga, sl, &sum));
    tilde(m, RMC_DIST_NORMAL, sum, 2, (rmc_node[]){ konst(m, 0.2), sig });
    OK(rmc_index(m, g, 2, &el));
    OK(rmc_op2(m, RMC_OP_ADD, mv, el, &sum));
    tilde(m, RMC_DIST_NORMAL, field(m, "y6", RMC_REAL), 2, (rmc_node[]){ sum, sig });
}

/* Recurrences. 0: GARCH(1,1) over y6 (a scalar state from data, a vector sequence, bounds
 * that depend on a parameter). 1: a vector state from a parameter, a matrix sequence of
 * data and a vector sequence of parameters, so that every adjoint path of a scan (the
 * initial state, both sequences, outer parameters) is taken. */
static void m_scan(rmc_model *m, int variant)
{
    rmc_node zero = konst(m, 0.0), one = konst(m, 1.0), state, rows[2], out, a, b, c;

    if (variant == 0) {
        rmc_node mu = param(m, "mu", 1, RMC_NONE, RMC_NONE);
        rmc_node a0 = param(m, "alpha0", 1, zero, RMC_NONE);
        rmc_node a1 = param(m, "alpha1", 1, zero, one), up, b1, y = field(m, "y6", RMC_REAL);
        rmc_node prev, tail, head;

        OK(rmc_op2(m, RMC_OP_SUB, one, a1, &up));
        b1 = param(m, "beta1", 1, zero, up);
        OK(rmc_drop(m, y, 0, 1, &prev));
        OK(rmc_scan_begin(m, konst(m, 0.5), 1, &prev, &state, rows));
        OK(rmc_op2(m, RMC_OP_SUB, rows[0], mu, &a));
        OK(rmc_op1(m, RMC_OP_SQUARE, a, &a));
        OK(rmc_op2(m, RMC_OP_MUL, a1, a, &a));
        OK(rmc_op2(m, RMC_OP_ADD, a0, a, &a));
        OK(rmc_op1(m, RMC_OP_SQUARE, state, &b));
        OK(rmc_op2(m, RMC_OP_MUL, b1, b, &b));
        OK(rmc_op2(m, RMC_OP_ADD, a, b, &c));
        OK(rmc_op1(m, RMC_OP_SQRT, c, &c));
        OK(rmc_scan_end(m, c, 0, NULL, &out));
        OK(rmc_drop(m, y, 1, 0, &tail));
        tilde(m, RMC_DIST_NORMAL, tail, 2, (rmc_node[]){ mu, out });
        OK(rmc_index(m, y, 0, &head));
        tilde(m, RMC_DIST_NORMAL, head, 2, (rmc_node[]){ mu, konst(m, 0.5) });
        std_normal(m, mu);
        return;
    }
    {
        rmc_node s0 = param(m, "s0", 2, RMC_NONE, RMC_NONE), e = param(m, "e", 6, RMC_NONE,
                                                                         RMC_NONE);
        rmc_node w = param(m, "w", 1, RMC_NONE, RMC_NONE);

        std_normal(m, s0);
        std_normal(m, e);
        std_normal(m, w);
        OK(rmc_scan_begin(m, s0, 2, (rmc_node[]){ field(m, "X", RMC_REAL), e }, &state, rows));
        OK(rmc_op2(m, RMC_OP_MUL, state, w, &a));
        OK(rmc_op2(m, RMC_OP_ADD, a, rows[0], &a));
        OK(rmc_op1(m, RMC_OP_TANH, a, &a));
        OK(rmc_op2(m, RMC_OP_ADD, a, rows[1], &a));
        OK(rmc_scan_end(m, a, 0, NULL, &out));
        tilde(m, RMC_DIST_NORMAL, out, 2, (rmc_node[]){ konst(m, 0.3), konst(m, 2.0) });
    }
}

/* Linear algebra: a latent Gaussian process as gp_pois_regr builds it (cov_exp_quad,
 * Cholesky, the factor times a parameter vector), and every other node with parameters
 * on both sides and with data on one side. */
static void m_linalg(rmc_model *m, int variant)
{
    rmc_node alpha = param(m, "alpha", 1, konst(m, 0.0), RMC_NONE);
    rmc_node rho = param(m, "rho", 1, konst(m, 0.0), RMC_NONE);
    rmc_node v = param(m, "v", 3, RMC_NONE, RMC_NONE), k, l, t[9], mm;

    (void)variant;
    std_normal(m, alpha);
    std_normal(m, rho);
    std_normal(m, v);
    OK(rmc_param(m, "M", 2, (int64_t[]){ 3, 3 }, NULL, RMC_NONE, RMC_NONE, &mm));
    std_normal(m, mm);
    OK(rmc_cov_exp_quad(m, field(m, "y", RMC_REAL), alpha, rho, 0.3, &k));
    OK(rmc_cholesky(m, k, &l));
    OK(rmc_matvec(m, l, v, &t[0]));
    OK(rmc_tri_solve(m, l, v, &t[1]));
    OK(rmc_tri_solve(m, l, mm, &t[2]));
    OK(rmc_matmul(m, mm, l, &t[3]));
    OK(rmc_vecmat(m, v, mm, &t[4]));
    OK(rmc_diag_pre_multiply(m, v, mm, &t[5]));
    OK(rmc_matmul(m, mm, mm, &t[6]));
    OK(rmc_vecmat(m, field(m, "ypos", RMC_REAL), l, &t[7]));
    OK(rmc_matvec(m, mm, v, &t[8]));
    for (int j = 0; j < 9; j++)
        tilde(m, RMC_DIST_NORMAL, t[j], 2, (rmc_node[]){ konst(m, 0.1 * j), konst(m, 2.0) });
}

/* A correlation Cholesky factor (K = 4), used elementwise and as a matrix. */
static void m_corr(rmc_model *m, int variant)
{
    rmc_node l, s = param(m, "s", 4, konst(m, 0.0), RMC_NONE), v = param(m, "v", 4, RMC_NONE,
                                                                         RMC_NONE), dp, mv;

    (void)variant;
    OK(rmc_param_transform(m, "L", 2, (int64_t[]){ 4, 4 }, NULL, RMC_TRANSFORM_CHOLESKY_CORR,
                           &l));
    std_normal(m, s);
    std_normal(m, v);
    tilde(m, RMC_DIST_NORMAL, l, 2, (rmc_node[]){ konst(m, 0.1), konst(m, 0.7) });
    OK(rmc_diag_pre_multiply(m, s, l, &dp));
    OK(rmc_matvec(m, dp, v, &mv));
    tilde(m, RMC_DIST_NORMAL, mv, 2, (rmc_node[]){ konst(m, 0.2), konst(m, 1.5) });
}

/* The distributions over rows, parameters in every argument: categorical_logit (shared
 * logits; as a statement and as an expression), multi_normal_cholesky with a parameter
 * factor, dirichlet with parameter concentrations, lkj_corr_cholesky with a parameter
 * shape. */
static void m_rows(rmc_model *m, int variant)
{
    rmc_node lg = param(m, "lg", 3, RMC_NONE, RMC_NONE), l, s, v, mu, dp, th, al, eta;

    (void)variant;
    std_normal(m, lg);
    tilde(m, RMC_DIST_CATEGORICAL_LOGIT, field(m, "idx", RMC_INT64), 1, &lg);
    eta = param(m, "eta", 1, konst(m, 0.0), RMC_NONE);
    tilde(m, RMC_DIST_EXPONENTIAL, eta, 1, (rmc_node[]){ konst(m, 1.0) });
    OK(rmc_param_transform(m, "L", 2, (int64_t[]){ 3, 3 }, NULL, RMC_TRANSFORM_CHOLESKY_CORR,
                           &l));
    tilde(m, RMC_DIST_LKJ_CORR_CHOLESKY, l, 1, &eta);
    s = param(m, "s", 3, konst(m, 0.0), RMC_NONE);
    mu = param(m, "mu", 3, RMC_NONE, RMC_NONE);
    v = param(m, "v", 3, RMC_NONE, RMC_NONE);
    std_normal(m, s);
    std_normal(m, mu);
    OK(rmc_diag_pre_multiply(m, s, l, &dp));
    tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, v, 2, (rmc_node[]){ mu, dp });
    tilde(m, RMC_DIST_MULTI_NORMAL_CHOLESKY, field(m, "y", RMC_REAL), 2, (rmc_node[]){ mu, dp });
    al = param(m, "al", 3, konst(m, 0.0), RMC_NONE);
    tilde(m, RMC_DIST_EXPONENTIAL, al, 1, (rmc_node[]){ konst(m, 1.0) });
    OK(rmc_param_transform(m, "th", 1, (int64_t[]){ 3 }, NULL, RMC_TRANSFORM_SIMPLEX, &th));
    tilde(m, RMC_DIST_DIRICHLET, th, 1, &al);
    /* categorical_logit as an expression: one log density per observation */
    OK(rmc_lpdf(m, RMC_DIST_CATEGORICAL_LOGIT, field(m, "idx", RMC_INT64), 1, &lg, &v));
    OK(rmc_op1(m, RMC_OP_LOG_SUM_EXP, v, &v));
    OK(rmc_target(m, v));
}

static void m_mixture(rmc_model *m, int variant)
{
    rmc_node th = param(m, "theta", 1, konst(m, 0.0), konst(m, 1.0));
    rmc_node mu = param(m, "mu", 2, RMC_NONE, RMC_NONE), m1, m2, la, lb, mix;
    rmc_node y = field(m, "y", RMC_REAL), one = konst(m, 1.0);

    (void)variant;
    std_normal(m, mu);
    OK(rmc_index(m, mu, 0, &m1));
    OK(rmc_index(m, mu, 1, &m2));
    OK(rmc_lpdf(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ m1, one }, &la));
    OK(rmc_lpdf(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ m2, one }, &lb));
    OK(rmc_op3(m, RMC_OP_LOG_MIX, th, la, lb, &mix));
    OK(rmc_target(m, mix));
}

/* Arguments that keep each distribution's support: args[k] for distribution d. */
static void dist_model(rmc_model *m, int dist, int lpdf)
{
    rmc_node zero = konst(m, 0.0), one = konst(m, 1.0), lp;
    rmc_node pos = param(m, "pos", 1, zero, RMC_NONE), loc = param(m, "loc", 3, RMC_NONE,
                                                                   RMC_NONE);
    rmc_node unit = param(m, "unit", 3, zero, one), v, args[3];
    int nargs = 0;

    std_normal(m, loc);
    tilde(m, RMC_DIST_EXPONENTIAL, pos, 1, (rmc_node[]){ one });
    switch (dist) {
    case RMC_DIST_NORMAL:
    case RMC_DIST_CAUCHY:
        v = field(m, "y", RMC_REAL);
        args[0] = loc, args[1] = pos, nargs = 2;
        break;
    case RMC_DIST_HALF_NORMAL:
    case RMC_DIST_HALF_CAUCHY:
        v = field(m, "ypos", RMC_REAL);
        args[0] = pos, nargs = 1;
        break;
    case RMC_DIST_STUDENT_T:
        v = field(m, "y", RMC_REAL);
        args[0] = pos, args[1] = loc, args[2] = pos, nargs = 3;
        break;
    case RMC_DIST_UNIFORM: {
        rmc_node hi;

        OK(rmc_op2(m, RMC_OP_ADD, pos, konst(m, 1.0), &hi));
        v = unit;
        args[0] = konst(m, -0.1), args[1] = hi, nargs = 2;
        break;
    }
    case RMC_DIST_EXPONENTIAL:
        v = field(m, "ypos", RMC_REAL);
        args[0] = pos, nargs = 1;
        break;
    case RMC_DIST_BERNOULLI:
        v = field(m, "bin", RMC_INT64);
        args[0] = unit, nargs = 1;
        break;
    case RMC_DIST_BERNOULLI_LOGIT:
        v = field(m, "bin", RMC_INT64);
        args[0] = loc, nargs = 1;
        break;
    case RMC_DIST_GAMMA:
    case RMC_DIST_INV_GAMMA:
    case RMC_DIST_WEIBULL:
    case RMC_DIST_HALF_STUDENT_T:
        v = field(m, "ypos", RMC_REAL);
        args[0] = pos, args[1] = unit, nargs = 2;
        break;
    case RMC_DIST_LOGNORMAL:
        v = field(m, "ypos", RMC_REAL);
        args[0] = loc, args[1] = pos, nargs = 2;
        break;
    case RMC_DIST_BETA:
        v = field(m, "yunit", RMC_REAL);
        args[0] = pos, args[1] = unit, nargs = 2;
        break;
    case RMC_DIST_LAPLACE:
    case RMC_DIST_LOGISTIC:
        v = field(m, "y", RMC_REAL);
        args[0] = loc, args[1] = pos, nargs = 2;
        break;
    case RMC_DIST_BINOMIAL:
        v = field(m, "cnt", RMC_INT64);
        args[0] = field(m, "trials", RMC_INT64), args[1] = unit, nargs = 2;
        break;
    case RMC_DIST_BINOMIAL_LOGIT:
        v = field(m, "cnt", RMC_INT64);
        args[0] = field(m, "trials", RMC_INT64), args[1] = loc, nargs = 2;
        break;
    case RMC_DIST_POISSON:
        v = field(m, "cnt", RMC_INT64);
        args[0] = pos, nargs = 1;
        break;
    case RMC_DIST_POISSON_LOG:
        v = field(m, "cnt", RMC_INT64);
        args[0] = loc, nargs = 1;
        break;
    case RMC_DIST_NEG_BINOMIAL_2:
        v = field(m, "cnt", RMC_INT64);
        args[0] = unit, args[1] = pos, nargs = 2;
        break;
    case RMC_DIST_NEG_BINOMIAL_2_LOG:
        v = field(m, "cnt", RMC_INT64);
        args[0] = loc, args[1] = pos, nargs = 2;
        break;
    default:
        fail_msg("no test model for distribution %d", dist);
        return;
    }
    if (!lpdf) {
        tilde(m, dist, v, nargs, args);
        /* and with the value a parameter: partials in the value too */
        if (dist == RMC_DIST_NORMAL || dist == RMC_DIST_CAUCHY || dist == RMC_DIST_STUDENT_T ||
            dist == RMC_DIST_LAPLACE || dist == RMC_DIST_LOGISTIC)
            tilde(m, dist, loc, nargs, (rmc_node[]){ konst(m, 0.3), pos, pos });
        if (dist == RMC_DIST_GAMMA || dist == RMC_DIST_INV_GAMMA || dist == RMC_DIST_WEIBULL ||
            dist == RMC_DIST_HALF_STUDENT_T || dist == RMC_DIST_LOGNORMAL)
            tilde(m, dist, unit, nargs, (rmc_node[]){ pos, konst(m, 1.3) });
        if (dist == RMC_DIST_BETA)
            tilde(m, dist, unit, nargs, (rmc_node[]){ pos, konst(m, 1.3) });
        return;
    }
    OK(rmc_lpdf(m, dist, v, nargs, args, &lp));
    OK(rmc_target(m, lp));
}

static void m_dist(rmc_model *m, int dist)
{
    dist_model(m, dist, 0);
}

static void m_lpdf(rmc_model *m, int dist)
{
    dist_model(m, dist, 1);
}

/* Bounds: scalar data, vector data, and an expression of another parameter. */
static void m_bounds(rmc_model *m, int variant)
{
    rmc_node lo = konst(m, -1.0), hi = konst(m, 2.0), a, b, c, d, e, f, up;

    (void)variant;
    a = param(m, "a", 3, lo, RMC_NONE);
    b = param(m, "b", 3, RMC_NONE, hi);
    c = param(m, "c", 3, lo, hi);
    d = param(m, "d", 3, field(m, "y", RMC_REAL), RMC_NONE);
    e = param(m, "e", 1, konst(m, 0.0), konst(m, 1.0));
    OK(rmc_op2(m, RMC_OP_SUB, konst(m, 1.0), e, &up));
    f = param(m, "f", 1, konst(m, 0.0), up);
    std_normal(m, a);
    std_normal(m, b);
    std_normal(m, c);
    std_normal(m, d);
    std_normal(m, f);
}

/* Ordered, positive-ordered and simplex parameters. */
static void m_shapes(rmc_model *m, int variant)
{
    rmc_node o, po, sx, e, lo;

    (void)variant;
    OK(rmc_param_transform(m, "o", 1, (int64_t[]){ 4 }, NULL, RMC_TRANSFORM_ORDERED, &o));
    OK(rmc_param_transform(m, "po", 1, (int64_t[]){ 3 }, NULL, RMC_TRANSFORM_POSITIVE_ORDERED,
                           &po));
    OK(rmc_param_transform(m, "sx", 1, (int64_t[]){ 5 }, NULL, RMC_TRANSFORM_SIMPLEX, &sx));
    std_normal(m, o);
    tilde(m, RMC_DIST_EXPONENTIAL, po, 1, (rmc_node[]){ konst(m, 0.7) });
    OK(rmc_op1(m, RMC_OP_LOG, sx, &lo));
    OK(rmc_index(m, lo, 1, &e));
    OK(rmc_op2(m, RMC_OP_MUL, konst(m, 1.5), lo, &lo));
    OK(rmc_target(m, lo));
    OK(rmc_target(m, e));
    /* and a concatenation of two of them */
    OK(rmc_concat(m, o, po, &lo));
    tilde(m, RMC_DIST_NORMAL, lo, 2, (rmc_node[]){ konst(m, 0.5), konst(m, 2.0) });
}

/* mu ~ N(0, 5); tau ~ HalfCauchy(5); theta_trans ~ N(0, 1); y ~ N(mu + tau theta_trans,
 * sigma): eight schools, non-centred. */

static void eight_schools_named(rmc_model *m, const char *y, const char *sigma);

static void eight_schools(rmc_model *m)
{
    eight_schools_named(m, "y", "sigma");
}

static void eight_schools_named(rmc_model *m, const char *y, const char *sigma)
{
    const char *j_name[] = { "J" };
    rmc_node mu, tau, tt, theta, scaled, zero = konst(m, 0.0), five = konst(m, 5.0);

    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    OK(rmc_param(m, "theta_trans", 1, NULL, j_name, RMC_NONE, RMC_NONE, &tt));
    tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ zero, five });
    tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, (rmc_node[]){ five });
    std_normal(m, tt);
    OK(rmc_op2(m, RMC_OP_MUL, tau, tt, &scaled));
    OK(rmc_op2(m, RMC_OP_ADD, mu, scaled, &theta));
    OK(rmc_deterministic(m, "theta", theta));
    tilde(m, RMC_DIST_NORMAL, field(m, y, RMC_REAL), 2,
          (rmc_node[]){ theta, field(m, sigma, RMC_REAL) });
}

/* kid_score ~ N(beta[1] + beta[2] mom_iq, sigma), beta flat, sigma ~ HalfCauchy(2.5) */
static void kidiq(rmc_model *m)
{
    rmc_node beta, sigma, b0, b1, mu, t;

    OK(rmc_param(m, "beta", 1, (int64_t[]){ 2 }, NULL, RMC_NONE, RMC_NONE, &beta));
    OK(rmc_param(m, "sigma", 0, NULL, NULL, konst(m, 0.0), RMC_NONE, &sigma));
    tilde(m, RMC_DIST_HALF_CAUCHY, sigma, 1, (rmc_node[]){ konst(m, 2.5) });
    OK(rmc_index(m, beta, 0, &b0));
    OK(rmc_index(m, beta, 1, &b1));
    OK(rmc_op2(m, RMC_OP_MUL, b1, field(m, "mom_iq", RMC_REAL), &t));
    OK(rmc_op2(m, RMC_OP_ADD, b0, t, &mu));
    tilde(m, RMC_DIST_NORMAL, field(m, "kid_score", RMC_REAL), 2, (rmc_node[]){ mu, sigma });
}

/* ------------------------------------------------------------------ comparison */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(double lo, double hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* The largest relative error of the evaluator against the CPU over a batch; fails the
 * test when a point with a finite CPU lp is not finite on the device, or the reverse. */
static double compare(const char *name, const rmc_program *p, rmc_evaluator *ev,
                      int64_t batch, double radius)
{
    const int64_t d = rmc_program_dim(p);
    double *x = calloc((size_t)(batch * d), sizeof *x), *lp0 = calloc((size_t)batch, 8);
    double *lp1 = calloc((size_t)batch, 8), *g0 = calloc((size_t)(batch * d), 8);
    double *g1 = calloc((size_t)(batch * d), 8), worst = 0.0;
    int64_t finite = 0;

    assert_non_null(x);
    for (int64_t k = 0; k < batch * d; k++)
        x[k] = uniform(-radius, radius);
    OK(rmc_program_logp_grad(p, batch, x, lp0, g0));
    OK(rmc_evaluator_logp_grad(ev, batch, x, lp1, g1));
    for (int64_t b = 0; b < batch; b++) {
        if (!isfinite(lp0[b])) {
            if (isfinite(lp1[b]))
                fail_msg("%s: point %lld: cpu lp %g, vulkan %g", name, (long long)b, lp0[b],
                         lp1[b]);
            continue;
        }
        finite++;
        if (!isfinite(lp1[b]))
            fail_msg("%s: point %lld: cpu lp %.17g, vulkan %g", name, (long long)b, lp0[b],
                     lp1[b]);
        worst = fmax(worst, fabs(lp1[b] - lp0[b]) / fmax(1.0, fabs(lp0[b])));
        for (int64_t k = 0; k < d; k++) {
            double a = g0[b * d + k], v = g1[b * d + k];

            worst = fmax(worst, fabs(v - a) / fmax(1.0, fabs(a)));
            if (!(fabs(v - a) <= 1e-3 * fmax(1.0, fabs(a))))
                print_message("%s: point %lld grad[%lld]: cpu %.17g vulkan %.17g\n", name,
                              (long long)b, (long long)k, a, v);
        }
    }
    if (finite == 0)
        fail_msg("%s: no point with a finite log density among %lld", name, (long long)batch);
    free(x);
    free(lp0);
    free(lp1);
    free(g0);
    free(g1);
    return worst;
}

/* Build, bind, compare at batches 1, 7 and 256. Returns the worst relative error, or -1
 * when the backend refuses the model (named in *refused). */
static double check_model(const char *name, void (*build)(rmc_model *, int), int arg,
                          double radius, double tol)
{
    static const int64_t batches[3] = { 1, 7, 256 };
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_evaluator *ev;
    double worst = 0.0;
    rmc_status st;

    OK(rmc_model_create(&m));
    build(m, arg);
    OK(rmc_model_status(m));
    OK(rmc_data_create(&d));
    bind_all(d);
    st = rmc_program_create(m, d, &p);
    if (st != RMC_OK)
        fail_msg("%s: %s", name, rmc_last_error());
    st = rmc_evaluator_create(p, RMC_BACKEND_VULKAN, device, 0, &ev);
    if (st != RMC_OK) {
        print_message("%s: %s\n", name, rmc_last_error());
        assert_non_null(strstr(rmc_last_error(), "not supported on the Vulkan backend yet"));
        worst = -1.0;
    } else {
        for (int k = 0; k < 3; k++)
            worst = fmax(worst, compare(name, p, ev, batches[k], radius));
        rmc_evaluator_free(ev);
        if (!(worst <= tol))
            fail_msg("%s: relative error %.3g above %.3g", name, worst, tol);
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
    return worst;
}

static void wrap_eight(rmc_model *m, int arg)
{
    (void)arg;
    eight_schools_named(m, "es_y", "es_sigma");
}

struct model_case {
    const char *name;
    void (*build)(rmc_model *, int);
    int arg;
};

static const struct model_case cases[] = {
    { "add", m_binary, RMC_OP_ADD },
    { "sub", m_binary, RMC_OP_SUB },
    { "mul", m_binary, RMC_OP_MUL },
    { "div", m_binary, RMC_OP_DIV },
    { "pow", m_binary, RMC_OP_POW },
    { "min", m_binary, RMC_OP_MIN },
    { "max", m_binary, RMC_OP_MAX },
    { "neg", m_unary, RMC_OP_NEG },
    { "exp", m_unary, RMC_OP_EXP },
    { "log", m_unary, RMC_OP_LOG },
    { "log1p", m_unary, RMC_OP_LOG1P },
    { "sqrt", m_unary, RMC_OP_SQRT },
    { "square", m_unary, RMC_OP_SQUARE },
    { "logistic", m_unary, RMC_OP_LOGISTIC },
    { "lgamma", m_unary, RMC_OP_LGAMMA },
    { "expm1", m_unary, RMC_OP_EXPM1 },
    { "log1p_exp", m_unary, RMC_OP_LOG1P_EXP },
    { "tanh", m_unary, RMC_OP_TANH },
    { "abs", m_unary, RMC_OP_ABS },
    { "sum/dot/log_sum_exp", m_reductions, 0 },
    { "gather/matvec/slice/index", m_gather_matvec, 0 },
    { "log_mix", m_mixture, 0 },
    { "bounds", m_bounds, 0 },
    { "normal", m_dist, RMC_DIST_NORMAL },
    { "half_normal", m_dist, RMC_DIST_HALF_NORMAL },
    { "cauchy", m_dist, RMC_DIST_CAUCHY },
    { "half_cauchy", m_dist, RMC_DIST_HALF_CAUCHY },
    { "student_t", m_dist, RMC_DIST_STUDENT_T },
    { "uniform", m_dist, RMC_DIST_UNIFORM },
    { "exponential", m_dist, RMC_DIST_EXPONENTIAL },
    { "bernoulli", m_dist, RMC_DIST_BERNOULLI },
    { "bernoulli_logit", m_dist, RMC_DIST_BERNOULLI_LOGIT },
    { "normal_lpdf", m_lpdf, RMC_DIST_NORMAL },
    { "half_normal_lpdf", m_lpdf, RMC_DIST_HALF_NORMAL },
    { "cauchy_lpdf", m_lpdf, RMC_DIST_CAUCHY },
    { "half_cauchy_lpdf", m_lpdf, RMC_DIST_HALF_CAUCHY },
    { "student_t_lpdf", m_lpdf, RMC_DIST_STUDENT_T },
    { "uniform_lpdf", m_lpdf, RMC_DIST_UNIFORM },
    { "exponential_lpdf", m_lpdf, RMC_DIST_EXPONENTIAL },
    { "bernoulli_lpdf", m_lpdf, RMC_DIST_BERNOULLI },
    { "bernoulli_logit_lpdf", m_lpdf, RMC_DIST_BERNOULLI_LOGIT },
    { "eight_schools", wrap_eight, 0 },
    { "gamma", m_dist, RMC_DIST_GAMMA },
    { "inv_gamma", m_dist, RMC_DIST_INV_GAMMA },
    { "lognormal", m_dist, RMC_DIST_LOGNORMAL },
    { "beta", m_dist, RMC_DIST_BETA },
    { "laplace", m_dist, RMC_DIST_LAPLACE },
    { "logistic_dist", m_dist, RMC_DIST_LOGISTIC },
    { "weibull", m_dist, RMC_DIST_WEIBULL },
    { "half_student_t", m_dist, RMC_DIST_HALF_STUDENT_T },
    { "binomial", m_dist, RMC_DIST_BINOMIAL },
    { "binomial_logit", m_dist, RMC_DIST_BINOMIAL_LOGIT },
    { "poisson", m_dist, RMC_DIST_POISSON },
    { "poisson_log", m_dist, RMC_DIST_POISSON_LOG },
    { "neg_binomial_2", m_dist, RMC_DIST_NEG_BINOMIAL_2 },
    { "neg_binomial_2_log", m_dist, RMC_DIST_NEG_BINOMIAL_2_LOG },
    { "gamma_lpdf", m_lpdf, RMC_DIST_GAMMA },
    { "beta_lpdf", m_lpdf, RMC_DIST_BETA },
    { "weibull_lpdf", m_lpdf, RMC_DIST_WEIBULL },
    { "binomial_lpdf", m_lpdf, RMC_DIST_BINOMIAL },
    { "poisson_log_lpdf", m_lpdf, RMC_DIST_POISSON_LOG },
    { "neg_binomial_2_lpdf", m_lpdf, RMC_DIST_NEG_BINOMIAL_2 },
    { "ordered/positive_ordered/simplex", m_shapes, 0 },
    { "scan garch", m_scan, 0 },
    { "scan vector state", m_scan, 1 },
    { "linear algebra", m_linalg, 0 },
    { "cholesky_corr", m_corr, 0 },
    { "row distributions", m_rows, 0 },
};

/* Each model in each form of the shader: one thread per chain (what lavapipe runs), the
 * model's own threads per chain (what a GPU runs for small batches), and two threads per
 * chain, so that each thread takes several elements and the reductions have work. */
static void every_model_matches_the_cpu(void **state)
{
    static const char *const forms[3] = { "1", "wide", "2" };
    /* lavapipe takes about a second to compile each shader: every model runs in the first
     * form, and these cover the code that only the wide forms have (reductions across a
     * chain's threads, loops of several elements per thread). */
    static const char *const wide_ones[] = { "mul", "pow", "exp", "lgamma",
                                             "sum/dot/log_sum_exp", "gather/matvec/slice/index",
                                             "log_mix", "bounds", "student_t", "normal_lpdf",
                                             "eight_schools", "beta", "neg_binomial_2",
                                             "binomial_lpdf",
                                             "ordered/positive_ordered/simplex",
                                             "scan garch", "scan vector state",
                                             "linear algebra", "cholesky_corr",
                                             "row distributions" };
    int refused = 0;

    (void)state;
    for (int f = 0; f < 3; f++) {
        setenv("RMC_VULKAN_LANES", forms[f], 1);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            int wanted = f == 0;
            double worst;

            for (size_t j = 0; j < sizeof wide_ones / sizeof wide_ones[0]; j++)
                wanted |= !strcmp(wide_ones[j], cases[k].name);
            if (!wanted)
                continue;
            worst = check_model(cases[k].name, cases[k].build, cases[k].arg, 1.5, 1e-10);

            if (worst < 0)
                refused++;
            else
                print_message("%-28s lanes %-4s float64 relative error %.2g\n", cases[k].name,
                              forms[f], worst);
        }
    }
    unsetenv("RMC_VULKAN_LANES");
    /* Every op and distribution these models use exists in GLSL. */
    assert_int_equal(refused, 0);
}

/* Likelihoods and matrices large enough that one thread per chain would run loops past
 * lavapipe's silent limit of 65535 iterations: the backend must pick more threads per
 * chain (or refuse), never return wrong numbers. */

static void m_big(rmc_model *m, int variant)
{
    rmc_node mu = param(m, "mu", 1, RMC_NONE, RMC_NONE), sig = param(m, "sig", 1,
                                                                        konst(m, 0.0), RMC_NONE);
    rmc_node beta = param(m, "beta", 25, RMC_NONE, RMC_NONE), mv;

    std_normal(m, mu);
    std_normal(m, beta);
    tilde(m, RMC_DIST_EXPONENTIAL, sig, 1, (rmc_node[]){ konst(m, 1.0) });
    if (variant == 0) {
        tilde(m, RMC_DIST_NORMAL, field(m, "ybig", RMC_REAL), 2, (rmc_node[]){ mu, sig });
        return;
    }
    OK(rmc_matvec(m, field(m, "Xbig", RMC_REAL), beta, &mv));
    tilde(m, RMC_DIST_NORMAL, field(m, "ybig3000", RMC_REAL), 2, (rmc_node[]){ mv, sig });
}

static void large_models_stay_within_driver_limits(void **state)
{
    (void)state;
    unsetenv("RMC_VULKAN_LANES");
    print_message("likelihood of 70000: relative error %.2g\n",
                  check_model("big likelihood", m_big, 0, 1.0, 1e-10));
    print_message("matvec 3000 x 25: relative error %.2g\n",
                  check_model("big matvec", m_big, 1, 1.0, 1e-10));
}

static void float32_is_close(void **state)
{
    static const int which[] = { 2, 4, 8, 14, 19, 20, 21, 22, 27, 41, 45, 52, 54 };
    static const char *const named[] = { "scan garch", "scan vector state", "linear algebra",
                                         "cholesky_corr", "row distributions" };

    (void)state;
    setenv("RMC_VULKAN_FLOAT32", "1", 1);
    for (size_t k = 0; k < sizeof which / sizeof which[0]; k++) {
        const struct model_case *c = &cases[which[k]];
        double worst = check_model(c->name, c->build, c->arg, 1.0, 1e-4);

        print_message("%-28s float32 relative error %.2g\n", c->name, worst);
    }
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
            const struct model_case *c = &cases[j];

            if (!strcmp(c->name, named[k]))
                print_message("%-28s float32 relative error %.2g\n", c->name,
                              check_model(c->name, c->build, c->arg, 1.0, 1e-4));
        }
    }
    unsetenv("RMC_VULKAN_FLOAT32");
}

/* Every op the library knows either lowers or is refused with the standard message: a
 * new op can never run wrongly on the device. */
static void unknown_ops_are_refused_cleanly(void **state)
{
    int refused = 0, lowered = 0;

    (void)state;
    for (int dist = 0; dist < RMC_DIST_COUNT; dist++) {
        rmc_model *m;
        rmc_data *d;
        rmc_program *p;
        rmc_evaluator *ev;
        const struct dist_info *info = dist_info(dist);
        rmc_node v, args[3];

        if (!info || info->check_shapes || info->nargs > 3)
            continue;
        OK(rmc_model_create(&m));
        v = param(m, "v", 3, konst(m, 0.0), konst(m, 1.0));
        for (int k = 0; k < info->nargs; k++)
            args[k] = konst(m, 0.5 + k);
        rmc_tilde(m, dist, v, info->nargs, args);
        OK(rmc_data_create(&d));
        if (rmc_model_status(m) == RMC_OK && rmc_program_create(m, d, &p) == RMC_OK) {
            if (rmc_evaluator_create(p, RMC_BACKEND_VULKAN, device, 0, &ev) == RMC_OK) {
                lowered++;
                rmc_evaluator_free(ev);
            } else {
                assert_non_null(strstr(rmc_last_error(),
                                       "not supported on the Vulkan backend yet"));
                refused++;
            }
            rmc_program_free(p);
        }
        rmc_data_free(d);
        rmc_model_free(m);
    }
    print_message("distributions: %d lowered, %d refused (still CPU only)\n", lowered, refused);
}

/* ------------------------------------------------------------------ sampling */

static void sample_reference(const char *name, void (*build)(rmc_model *),
                             const char *const *fields, const int *as_int, int n_fields)
{
    cJSON *data_json = pdb_load(name, "data"), *ref = pdb_load(name, "reference");
    rmc_model *m;
    rmc_data *data;
    rmc_program *p;
    rmc_config config;
    rmc_fit *fit;
    void **keep = NULL;
    int n_keep = 0, failures;
    char report[4096];

    if (!data_json || !ref) {
        print_message("posteriordb not found (set RMC_POSTERIORDB): skipping %s\n", name);
        cJSON_Delete(data_json);
        cJSON_Delete(ref);
        return;
    }
    OK(rmc_model_create(&m));
    build(m);
    OK(rmc_data_create(&data));
    for (int k = 0; k < n_fields; k++)
        OK(pdb_bind(data, data_json, fields[k], as_int[k], &keep, &n_keep));
    OK(rmc_program_create(m, data, &p));
    rmc_config_default(&config);
    config.chains = 4;
    config.seed = 20261203;
    config.backend = RMC_BACKEND_VULKAN;
    config.device = device_number();
    pdb_control(ref, &config);
    OK(rmc_sample(p, &config, &fit));
    assert_int_equal(rmc_fit_backend(fit), RMC_BACKEND_VULKAN);
    failures = pdb_check(fit, ref, report, sizeof report);
    print_message("%s on %s (%s):\n%s%s", name, rmc_fit_device(fit),
                  rmc_fit_backend_reason(fit), rmc_fit_summary_text(fit), report);
    assert_int_equal(failures, 0);
    rmc_fit_free(fit);
    rmc_program_free(p);
    rmc_data_free(data);
    rmc_model_free(m);
    pdb_free_kept(keep, n_keep);
    cJSON_Delete(data_json);
    cJSON_Delete(ref);
}

static void eight_schools_samples_on_the_device(void **state)
{
    static const char *const fields[] = { "J", "y", "sigma" };
    static const int as_int[] = { 1, 1, 1 };

    (void)state;
    sample_reference("eight_schools-eight_schools_noncentered", eight_schools, fields, as_int,
                     3);
}

static void kidiq_samples_on_the_device(void **state)
{
    static const char *const fields[] = { "kid_score", "mom_iq" };
    static const int as_int[] = { 1, 0 };

    (void)state;
    sample_reference("kidiq-kidscore_momiq", kidiq, fields, as_int, 2);
}

/* ------------------------------------------------------------------ faults */

static rmc_program *eight_program(rmc_model **m, rmc_data **d)
{
    rmc_program *p;

    OK(rmc_model_create(m));
    eight_schools(*m);
    OK(rmc_data_create(d));
    OK(rmc_data_set(*d, "J", RMC_INT64, (int64_t[]){ 8 }, 0, NULL));
    OK(rmc_data_set(*d, "y", RMC_REAL, ES_Y, 1, (int64_t[]){ 8 }));
    OK(rmc_data_set(*d, "sigma", RMC_REAL, ES_SIGMA, 1, (int64_t[]){ 8 }));
    OK(rmc_program_create(*m, *d, &p));
    return p;
}

static void quick_config_plain(rmc_config *c, int backend)
{
    rmc_config_default(c);
    c->chains = 4;
    c->warmup = 100;
    c->draws = 100;
    c->seed = 7;
    c->backend = backend;
}

static void quick_config(rmc_config *c, int backend)
{
    rmc_config_default(c);
    c->chains = 4;
    c->warmup = 100;
    c->draws = 100;
    c->seed = 7;
    c->backend = backend;
    c->device = device_number();
}

/* A compile failure or no device memory: an explicit request fails with a clear status,
 * auto samples on the CPU and says why. */
static void setup_faults_fall_back(void **state)
{
    static const char *const faults[2][2] = { { "compile", "failed to compile" },
                                              { "memory", "out of device memory" } };
    rmc_model *m;
    rmc_data *d;
    rmc_program *p = eight_program(&m, &d);
    rmc_config c;
    rmc_fit *fit;

    (void)state;
    for (int k = 0; k < 2; k++) {
        setenv("RMC_VULKAN_FAULT", faults[k][0], 1);
        quick_config(&c, RMC_BACKEND_VULKAN);
        assert_int_equal(rmc_sample(p, &c, &fit), RMC_ERR_BACKEND);
        assert_null(fit);
        assert_non_null(strstr(rmc_last_error(), faults[k][1]));
        quick_config(&c, RMC_BACKEND_AUTO);
        OK(rmc_sample(p, &c, &fit));
        assert_int_equal(rmc_fit_backend(fit), RMC_BACKEND_CPU);
        assert_non_null(strstr(rmc_fit_backend_reason(fit), faults[k][1]));
        assert_int_equal(rmc_fit_completed(fit, 3), 100);
        rmc_fit_free(fit);
        unsetenv("RMC_VULKAN_FAULT");
    }
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* The device lost midway: auto finishes on the CPU; an explicit request stops with the
 * draws made so far. */
static void lost_device_keeps_the_draws(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p = eight_program(&m, &d);
    rmc_config c;
    rmc_fit *fit;

    (void)state;
    setenv("RMC_VULKAN_FAULT", "lost:1500", 1);
    quick_config(&c, RMC_BACKEND_AUTO);
    OK(rmc_sample(p, &c, &fit));
    assert_int_equal(rmc_fit_backend(fit), RMC_BACKEND_CPU);
    assert_non_null(strstr(rmc_fit_backend_reason(fit), "lost"));
    for (int k = 0; k < 4; k++)
        assert_int_equal(rmc_fit_completed(fit, k), 100);
    rmc_fit_free(fit);

    quick_config(&c, RMC_BACKEND_VULKAN);
    assert_int_equal(rmc_sample(p, &c, &fit), RMC_ERR_BACKEND);
    assert_non_null(strstr(rmc_last_error(), "lost"));
    assert_non_null(fit);
    assert_true(rmc_fit_cancelled(fit));
    assert_true(rmc_fit_completed(fit, 0) > 0 && rmc_fit_completed(fit, 0) < 100);
    rmc_fit_free(fit);
    unsetenv("RMC_VULKAN_FAULT");

    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static int stop_at_half(int64_t done, int64_t total, void *user)
{
    (*(int *)user)++;
    return done * 2 >= total;
}

/* Progress reports and cancellation work in the batched driver as on the CPU. */
static void progress_and_cancel_on_the_device(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p = eight_program(&m, &d);
    rmc_config c;
    rmc_fit *fit;
    int calls = 0;

    (void)state;
    quick_config(&c, RMC_BACKEND_VULKAN);
    c.warmup = 300;
    c.draws = 2000;
    c.progress = stop_at_half;
    c.progress_user = &calls;
    assert_int_equal(rmc_sample(p, &c, &fit), RMC_ERR_CANCELLED);
    assert_non_null(fit);
    assert_true(calls >= 1);
    assert_true(rmc_fit_cancelled(fit));
    assert_true(rmc_fit_completed(fit, 0) < 2000);
    rmc_fit_free(fit);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

/* The second compile of the same program comes from the SPIR-V cache. */
static void spirv_cache_is_used(void **state)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p = eight_program(&m, &d);
    rmc_evaluator *ev;
    DIR *dir;
    struct dirent *e;
    int files = 0;
    char path[300];

    (void)state;
    OK(rmc_evaluator_create(p, RMC_BACKEND_VULKAN, device, 0, &ev));
    rmc_evaluator_free(ev);
    snprintf(path, sizeof path, "%s/rmc/spirv", cache_dir);
    dir = opendir(path);
    assert_non_null(dir);
    while ((e = readdir(dir)))
        files += strstr(e->d_name, ".spv") != NULL;
    closedir(dir);
    assert_true(files >= 1);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
}

static void hidden_driver_falls_back(void **state)
{
    (void)state;
    print_message("%s", no_driver_report);
    assert_int_equal(no_driver_result, 0);
}

/* In a child, before this process touches Vulkan: with no driver to find, listing
 * fails with the reason, auto samples on the CPU and says why, vulkan fails clearly. */
static int child_without_driver(char *report, size_t cap)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_config c;
    rmc_fit *fit = NULL;
    int32_t count = -1;
    rmc_status st;

    setenv("VK_DRIVER_FILES", "/nonexistent", 1);
    setenv("VK_ICD_FILENAMES", "/nonexistent", 1);
    if (rmc_devices(NULL, 0, &count) != RMC_ERR_BACKEND || count != 0) {
        snprintf(report, cap, "rmc_devices did not fail without a driver\n");
        return 1;
    }
    snprintf(report, cap, "devices: %s\n", rmc_last_error());
    if (rmc_model_create(&m) || (eight_schools(m), 0) || rmc_data_create(&d))
        return 1;
    rmc_data_set(d, "J", RMC_INT64, (int64_t[]){ 8 }, 0, NULL);
    rmc_data_set(d, "y", RMC_REAL, ES_Y, 1, (int64_t[]){ 8 });
    rmc_data_set(d, "sigma", RMC_REAL, ES_SIGMA, 1, (int64_t[]){ 8 });
    if (rmc_program_create(m, d, &p) != RMC_OK)
        return 1;
    quick_config_plain(&c, RMC_BACKEND_AUTO);
    st = rmc_sample(p, &c, &fit);
    if (st != RMC_OK || rmc_fit_backend(fit) != RMC_BACKEND_CPU ||
        !strstr(rmc_fit_backend_reason(fit), "driver")) {
        snprintf(report + strlen(report), cap - strlen(report), "auto: %s / %s\n",
                 rmc_status_string(st), fit ? rmc_fit_backend_reason(fit) : rmc_last_error());
        return 1;
    }
    snprintf(report + strlen(report), cap - strlen(report), "auto: %s\n",
             rmc_fit_backend_reason(fit));
    rmc_fit_free(fit);
    quick_config_plain(&c, RMC_BACKEND_VULKAN);
    st = rmc_sample(p, &c, &fit);
    if (st != RMC_ERR_BACKEND || fit) {
        snprintf(report + strlen(report), cap - strlen(report), "vulkan: %s\n",
                 rmc_status_string(st));
        return 1;
    }
    snprintf(report + strlen(report), cap - strlen(report), "vulkan: %s\n", rmc_last_error());
    return 0;
}

static void run_child_without_driver(void)
{
    int fds[2], status = 0;
    pid_t pid;

    if (pipe(fds) != 0)
        return;
    pid = fork();
    if (pid == 0) {
        char report[2048] = "";
        int rc = child_without_driver(report, sizeof report);

        if (write(fds[1], report, strlen(report)) < 0)
            rc = 2;
        _exit(rc);
    }
    close(fds[1]);
    if (pid > 0) {
        ssize_t n = read(fds[0], no_driver_report, sizeof no_driver_report - 1);

        no_driver_report[n > 0 ? n : 0] = '\0';
        waitpid(pid, &status, 0);
        no_driver_result = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
    }
    close(fds[0]);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The temporary cache folder and everything in it (ours and Mesa's). */
static void remove_cache(void)
{
    nftw(cache_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hidden_driver_falls_back),
        cmocka_unit_test(every_model_matches_the_cpu),
        cmocka_unit_test(large_models_stay_within_driver_limits),
        cmocka_unit_test(float32_is_close),
        cmocka_unit_test(unknown_ops_are_refused_cleanly),
        cmocka_unit_test(spirv_cache_is_used),
        cmocka_unit_test(setup_faults_fall_back),
        cmocka_unit_test(lost_device_keeps_the_draws),
        cmocka_unit_test(progress_and_cancel_on_the_device),
        cmocka_unit_test(eight_schools_samples_on_the_device),
        cmocka_unit_test(kidiq_samples_on_the_device),
    };
    rmc_device_info info[16];
    int32_t count = 0;
    rmc_evaluator *probe = NULL;
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    int rc;

    /* Nothing of this test may land in the home folder. */
    snprintf(cache_dir, sizeof cache_dir, "/tmp/rmc-test-vulkan-XXXXXX");
    if (!mkdtemp(cache_dir)) {
        printf("cannot make a temporary folder\n");
        return 1;
    }
    setenv("XDG_CACHE_HOME", cache_dir, 1); /* ours in rmc/, Mesa's in mesa_shader_cache/ */
    unsetenv("RMC_CACHE_DIR");
    unsetenv("RMC_SPIRV_CACHE");
    if (getenv("RMC_TEST_VULKAN_DEVICE"))
        device = getenv("RMC_TEST_VULKAN_DEVICE");
    unsetenv("RMC_VULKAN_DEVICE");
    unsetenv("RMC_VULKAN_FAULT");

    run_child_without_driver();

    /* Skip where no Vulkan device can be created. */
    if (rmc_devices(info, 16, &count) != RMC_OK) {
        printf("no Vulkan here (%s): skipping; install mesa-vulkan-drivers for lavapipe\n",
               rmc_last_error());
        remove_cache();
        return 77;
    }
    for (int32_t k = 0; k < count && k < 16; k++)
        printf("device %d: %s (type %d, float64 %d)\n", (int)k, info[k].name, (int)info[k].type,
               (int)info[k].float64);
    rmc_model_create(&m);
    eight_schools(m);
    rmc_data_create(&d);
    rmc_data_set(d, "J", RMC_INT64, (int64_t[]){ 8 }, 0, NULL);
    rmc_data_set(d, "y", RMC_REAL, ES_Y, 1, (int64_t[]){ 8 });
    rmc_data_set(d, "sigma", RMC_REAL, ES_SIGMA, 1, (int64_t[]){ 8 });
    if (rmc_program_create(m, d, &p) == RMC_OK &&
        rmc_evaluator_create(p, RMC_BACKEND_VULKAN, device, 0, &probe) != RMC_OK) {
        printf("no Vulkan device '%s' can be created (%s): skipping\n", device,
               rmc_last_error());
        rmc_program_free(p);
        remove_cache();
        return 77;
    }
    rmc_evaluator_free(probe);
    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);

    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(big_y);
    free(big_x);
    remove_cache();
    return rc;
}
