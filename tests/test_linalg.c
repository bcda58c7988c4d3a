/* test_linalg.c - vector and matrix operations: gradients against finite differences,
 * values against direct computations (both for parameters and for data folded at bind
 * time), the rejection of matrices that are not positive definite, and shape errors that
 * name the nodes. */
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

/* Data shared by the models: points x, a vector y, a 3 x 3 identity, a symmetric
 * positive-definite S and a symmetric S_BAD that is not positive definite. */
static const double XS[4] = { -1.0, 0.2, 0.9, 2.5 };
static const double Y3[3] = { 0.4, -1.1, 2.0 };
static const double EYE3[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
static const double S[9] = { 4.0, 1.2, -0.6, 1.2, 3.0, 0.5, -0.6, 0.5, 2.0 };
static const double S_BAD[9] = { 1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0 };
static const double S_ASYM[9] = { 4.0, 1.2, -0.6, 1.0, 3.0, 0.5, -0.6, 0.5, 2.0 };

static rmc_node konst(rmc_model *m, double v)
{
    rmc_node n;

    OK(rmc_const(m, v, &n));
    return n;
}

/* An unbounded parameter of rows x cols (cols 0: a vector, rows 0: a scalar). */
static rmc_node param(rmc_model *m, const char *name, int64_t rows, int64_t cols)
{
    int64_t dims[2] = { rows, cols };
    rmc_node p;

    OK(rmc_param(m, name, rows == 0 ? 0 : cols == 0 ? 1 : 2, dims, NULL, RMC_NONE, RMC_NONE,
                 &p));
    return p;
}

static rmc_node positive(rmc_model *m, const char *name, int64_t n)
{
    rmc_node p;

    OK(rmc_param(m, name, n ? 1 : 0, &n, NULL, konst(m, 0.0), RMC_NONE, &p));
    return p;
}

static rmc_node data(rmc_model *m, const char *name, int32_t ndim)
{
    int64_t any[2] = { -1, -1 };
    rmc_node n;

    OK(rmc_data_field(m, name, RMC_REAL, ndim, any, NULL, &n));
    return n;
}

static void normal(rmc_model *m, rmc_node value, double mu, double sigma)
{
    OK(rmc_tilde(m, RMC_DIST_NORMAL, value, 2,
                 (rmc_node[]){ konst(m, mu), konst(m, sigma) }));
}

static rmc_data *dataset(void)
{
    static const int64_t n4 = 4, n3 = 3, m33[2] = { 3, 3 };
    rmc_data *d;

    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "x", RMC_REAL, XS, 1, &n4));
    OK(rmc_data_set(d, "y", RMC_REAL, Y3, 1, &n3));
    OK(rmc_data_set(d, "I", RMC_REAL, EYE3, 2, m33));
    OK(rmc_data_set(d, "S", RMC_REAL, S, 2, m33));
    OK(rmc_data_set(d, "S_bad", RMC_REAL, S_BAD, 2, m33));
    OK(rmc_data_set(d, "S_asym", RMC_REAL, S_ASYM, 2, m33));
    return d;
}

static rmc_program *program(rmc_model *m)
{
    rmc_data *d = dataset();
    rmc_program *p = NULL;

    OK(rmc_model_status(m));
    if (rmc_program_create(m, d, &p) != RMC_OK)
        fail_msg("rmc_program_create: %s", rmc_last_error());
    rmc_data_free(d); /* the program points into the static arrays, not into the set */
    return p;
}

/* S = M M^T + 3 I: symmetric positive definite for any M, and a function of it. */
static rmc_node spd_from(rmc_model *m, rmc_node mm)
{
    rmc_node t, prod, scaled, s;

    OK(rmc_transpose(m, mm, &t));
    OK(rmc_matmul(m, mm, t, &prod));
    OK(rmc_op2(m, RMC_OP_MUL, data(m, "I", 2), konst(m, 3.0), &scaled));
    OK(rmc_op2(m, RMC_OP_ADD, prod, scaled, &s));
    return s;
}

/* ---------------------------------------------------------------- gradients */

struct case_ {
    const char *name;
    void (*build)(rmc_model *m);
};

static void build_products(rmc_model *m)
{
    rmc_node a = param(m, "A", 3, 2), b = param(m, "B", 2, 3), v = param(m, "v", 3, 0);
    rmc_node w = param(m, "w", 2, 0), o;

    OK(rmc_matvec(m, a, w, &o)); /* both dynamic */
    normal(m, o, 0.1, 1.3);
    OK(rmc_matvec(m, b, data(m, "y", 1), &o)); /* dynamic matrix, data vector */
    normal(m, o, -0.2, 0.8);
    OK(rmc_vecmat(m, v, a, &o));
    normal(m, o, 0.3, 1.1);
    OK(rmc_vecmat(m, data(m, "y", 1), a, &o));
    normal(m, o, 0.0, 2.0);
    OK(rmc_matmul(m, a, b, &o));
    normal(m, o, 0.2, 1.7);
    OK(rmc_matmul(m, data(m, "S", 2), a, &o));
    normal(m, o, 0.2, 3.0);
    OK(rmc_diag_pre_multiply(m, v, a, &o));
    normal(m, o, -0.1, 0.9);
}

static void build_picks(rmc_model *m)
{
    rmc_node a = param(m, "A", 2, 3), v = param(m, "v", 5, 0), s = param(m, "s", 0, 0), o;

    OK(rmc_transpose(m, a, &o));
    normal(m, o, 0.1, 1.3);
    OK(rmc_row(m, a, 1, &o));
    normal(m, o, -0.4, 0.7);
    OK(rmc_col(m, a, 2, &o));
    normal(m, o, 0.6, 0.5);
    OK(rmc_drop(m, v, 0, 2, &o)); /* lag 2 */
    {
        rmc_node lead, prod;

        OK(rmc_drop(m, v, 2, 0, &lead));
        OK(rmc_op2(m, RMC_OP_MUL, o, lead, &prod));
        normal(m, prod, 0.3, 1.2);
    }
    OK(rmc_concat(m, s, v, &o));
    normal(m, o, 0.2, 0.9);
    OK(rmc_concat(m, v, data(m, "y", 1), &o));
    normal(m, o, -0.2, 1.9);
}

/* A Cholesky factor of an SPD function of parameters, and solves with it. */
static void build_cholesky(rmc_model *m)
{
    rmc_node mm = param(m, "M", 3, 3), b = param(m, "b", 3, 0), bm = param(m, "B", 3, 2);
    rmc_node l, o;

    OK(rmc_cholesky(m, spd_from(m, mm), &l));
    normal(m, l, 0.3, 1.1);
    OK(rmc_tri_solve(m, l, b, &o));
    normal(m, o, 0.1, 0.6);
    OK(rmc_tri_solve(m, l, bm, &o));
    normal(m, o, -0.3, 0.8);
    OK(rmc_tri_solve(m, l, data(m, "y", 1), &o));
    normal(m, o, 0.2, 0.7);
    OK(rmc_cholesky(m, data(m, "S", 2), &l)); /* folded once; a solve against parameters */
    OK(rmc_tri_solve(m, l, b, &o));
    normal(m, o, 0.0, 1.0);
}

/* A Gaussian process marginal likelihood: y ~ MVN(0, K) written with the ops. */
static void build_gp(rmc_model *m)
{
    rmc_node alpha = positive(m, "alpha", 0), rho = positive(m, "rho", 0), k, l, z, zz, t;

    OK(rmc_cov_exp_quad(m, data(m, "x", 1), alpha, rho, 1e-3, &k));
    normal(m, k, 0.2, 1.5);
    OK(rmc_cholesky(m, k, &l));
    OK(rmc_tri_solve(m, l, data(m, "x", 1), &z));
    OK(rmc_op2(m, RMC_OP_DOT, z, z, &zz));
    OK(rmc_op2(m, RMC_OP_MUL, zz, konst(m, -0.5), &t));
    OK(rmc_target(m, t));
    normal(m, l, 0.0, 2.0);
}

static void check_gradient(const struct case_ *tc)
{
    rmc_model *m;
    rmc_program *p;
    uint64_t state = 42;

    OK(rmc_model_create(&m));
    tc->build(m);
    p = program(m);
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
        { "products", build_products },
        { "rows, columns, drop, concat", build_picks },
        { "cholesky and tri_solve", build_cholesky },
        { "gaussian process", build_gp },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_gradient(&cases[i]);
}

/* ---------------------------------------------------------------- values */

/* The deterministic columns of var, which must have n values. */
static const double *var_values(const rmc_program *p, const double *cols, const char *name,
                                int64_t n)
{
    for (int64_t v = 0; v < rmc_program_num_vars(p); v++) {
        const char *vn;
        int32_t ndim;
        int64_t dims[2], first;

        OK(rmc_program_var(p, v, &vn, &ndim, dims, &first));
        if (strcmp(vn, name) == 0) {
            int64_t count = ndim == 0 ? 1 : ndim == 1 ? dims[0] : dims[0] * dims[1];

            if (count != n)
                fail_msg("%s has %lld values, expected %lld", name, (long long)count,
                         (long long)n);
            return cols + first;
        }
    }
    fail_msg("no variable %s", name);
    return NULL;
}

static void expect_values(const char *what, const double *got, const double *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!(fabs(got[i] - want[i]) <= 1e-12 * fmax(1.0, fabs(want[i]))))
            fail_msg("%s[%lld] = %.15g, expected %.15g", what, (long long)i, got[i], want[i]);
    }
}

/* l must be lower triangular with a positive diagonal and l l^T = a. */
static void expect_cholesky(const char *what, const double *l, const double *a, int64_t k)
{
    for (int64_t i = 0; i < k; i++) {
        assert_true(l[i * k + i] > 0.0);
        for (int64_t j = 0; j < k; j++) {
            double s = 0.0;

            if (j > i && l[i * k + j] != 0.0)
                fail_msg("%s: nonzero above the diagonal at [%lld, %lld]", what,
                         (long long)i, (long long)j);
            for (int64_t m = 0; m < k; m++)
                s += l[i * k + m] * l[j * k + m];
            if (!(fabs(s - a[i * k + j]) <= 1e-12 * fmax(1.0, fabs(a[i * k + j]))))
                fail_msg("%s: (L L^T)[%lld, %lld] = %.15g, expected %.15g", what,
                         (long long)i, (long long)j, s, a[i * k + j]);
        }
    }
}

static void det(rmc_model *m, const char *name, rmc_node node)
{
    OK(rmc_deterministic(m, name, node));
}

/* Every op once on parameters (evaluated per point) and once on data (folded at bind). */
static void values_match_direct_computations(void **state)
{
    rmc_model *m;
    rmc_program *p;
    rmc_node a, b, v, s, o, l, ld, alpha, rho;
    double x[32], cols[512], want[64];
    const double *got, *av, *bv, *vv;

    (void)state;
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    b = param(m, "B", 3, 2);
    v = param(m, "v", 3, 0);
    s = param(m, "s", 0, 0);
    alpha = param(m, "alpha", 0, 0);
    rho = param(m, "rho", 0, 0);
    OK(rmc_matvec(m, a, v, &o));
    det(m, "matvec", o);
    OK(rmc_vecmat(m, v, b, &o));
    det(m, "vecmat", o);
    OK(rmc_matmul(m, a, b, &o));
    det(m, "matmul", o);
    OK(rmc_transpose(m, a, &o));
    det(m, "transpose", o);
    OK(rmc_row(m, a, 1, &o));
    det(m, "row", o);
    OK(rmc_col(m, a, 1, &o));
    det(m, "col", o);
    OK(rmc_drop(m, v, 1, 1, &o));
    det(m, "drop", o);
    OK(rmc_concat(m, v, s, &o));
    det(m, "concat", o);
    OK(rmc_diag_pre_multiply(m, v, b, &o));
    det(m, "diag_pre", o);
    OK(rmc_cholesky(m, spd_from(m, b), &l));
    det(m, "chol", l);
    det(m, "spd", spd_from(m, b));
    OK(rmc_tri_solve(m, l, v, &o));
    det(m, "solve", o);
    OK(rmc_cov_exp_quad(m, data(m, "x", 1), alpha, rho, 0.25, &o));
    det(m, "cov", o);
    /* data only: folded at bind time */
    OK(rmc_cholesky(m, data(m, "S", 2), &ld));
    det(m, "chol_data", ld);
    OK(rmc_tri_solve(m, ld, data(m, "y", 1), &o));
    det(m, "solve_data", o);
    OK(rmc_matmul(m, data(m, "S", 2), data(m, "I", 2), &o));
    det(m, "matmul_data", o);
    OK(rmc_col(m, data(m, "S", 2), 2, &o));
    det(m, "col_data", o);
    OK(rmc_cov_exp_quad(m, data(m, "x", 1), konst(m, 1.5), konst(m, 0.7), 0.0, &o));
    det(m, "cov_data", o);
    p = program(m);
    assert_int_equal(rmc_program_dim(p), 6 + 6 + 3 + 1 + 2);
    for (int i = 0; i < 18; i++)
        x[i] = sin(0.9 * i + 0.4) * 1.3;
    x[17] = 0.8; /* rho, away from 0 */
    assert_true(rmc_program_num_columns(p) <= 512);
    OK(rmc_program_constrain(p, x, cols));
    av = x;
    bv = x + 6;
    vv = x + 12;

    for (int r = 0; r < 2; r++) {
        want[r] = 0.0;
        for (int k = 0; k < 3; k++)
            want[r] += av[r * 3 + k] * vv[k];
    }
    expect_values("matvec", var_values(p, cols, "matvec", 2), want, 2);
    for (int c = 0; c < 2; c++) {
        want[c] = 0.0;
        for (int r = 0; r < 3; r++)
            want[c] += vv[r] * bv[r * 2 + c];
    }
    expect_values("vecmat", var_values(p, cols, "vecmat", 2), want, 2);
    for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 2; c++) {
            want[r * 2 + c] = 0.0;
            for (int k = 0; k < 3; k++)
                want[r * 2 + c] += av[r * 3 + k] * bv[k * 2 + c];
        }
    }
    expect_values("matmul", var_values(p, cols, "matmul", 4), want, 4);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 2; c++)
            want[r * 2 + c] = av[c * 3 + r];
    }
    expect_values("transpose", var_values(p, cols, "transpose", 6), want, 6);
    expect_values("row", var_values(p, cols, "row", 3), av + 3, 3);
    want[0] = av[1];
    want[1] = av[4];
    expect_values("col", var_values(p, cols, "col", 2), want, 2);
    expect_values("drop", var_values(p, cols, "drop", 1), vv + 1, 1);
    memcpy(want, vv, 3 * sizeof *want);
    want[3] = x[15];
    expect_values("concat", var_values(p, cols, "concat", 4), want, 4);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 2; c++)
            want[r * 2 + c] = vv[r] * bv[r * 2 + c];
    }
    expect_values("diag_pre", var_values(p, cols, "diag_pre", 6), want, 6);

    got = var_values(p, cols, "chol", 9);
    expect_cholesky("chol", got, var_values(p, cols, "spd", 9), 3);
    {
        /* L z = v */
        const double *z = var_values(p, cols, "solve", 3);

        for (int i = 0; i < 3; i++) {
            double lz = 0.0;

            for (int k = 0; k < 3; k++)
                lz += got[i * 3 + k] * z[k];
            want[i] = lz;
        }
        expect_values("L * solve", want, vv, 3);
    }
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            double d = XS[i] - XS[j];

            want[i * 4 + j] = x[16] * x[16] * exp(-d * d / (2.0 * x[17] * x[17])) +
                              (i == j ? 0.25 : 0.0);
        }
    }
    expect_values("cov", var_values(p, cols, "cov", 16), want, 16);

    got = var_values(p, cols, "chol_data", 9);
    expect_cholesky("chol_data", got, S, 3);
    {
        const double *z = var_values(p, cols, "solve_data", 3);

        for (int i = 0; i < 3; i++) {
            double lz = 0.0;

            for (int k = 0; k < 3; k++)
                lz += got[i * 3 + k] * z[k];
            want[i] = lz;
        }
        expect_values("L * solve_data", want, Y3, 3);
    }
    expect_values("matmul_data", var_values(p, cols, "matmul_data", 9), S, 9);
    want[0] = S[2];
    want[1] = S[5];
    want[2] = S[8];
    expect_values("col_data", var_values(p, cols, "col_data", 3), want, 3);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            double d = XS[i] - XS[j];

            want[i * 4 + j] = 2.25 * exp(-d * d / (2.0 * 0.49));
        }
    }
    expect_values("cov_data", var_values(p, cols, "cov_data", 16), want, 16);
    rmc_program_free(p);
    rmc_model_free(m);
}

/* ---------------------------------------------------------------- rejection */

/* A matrix of parameters that is not positive definite at some points: those points have
 * log density -inf, with or without a gradient, and a run never records one. */
static void not_positive_definite_is_rejected(void **state)
{
    rmc_model *m;
    rmc_program *p;
    rmc_node mm, l;
    rmc_config cfg;
    rmc_fit *fit;
    double x[4], lp, g[4];
    const double *v;
    int64_t nc, total;

    (void)state;
    OK(rmc_model_create(&m));
    mm = param(m, "M", 2, 2);
    normal(m, mm, 0.0, 1.0);
    OK(rmc_cholesky(m, mm, &l));
    OK(rmc_deterministic(m, "L", l));
    normal(m, l, 0.0, 2.0);
    p = program(m);

    x[0] = 1.0, x[1] = 0.0, x[2] = 0.5, x[3] = 1.0; /* lower triangle (1; 0.5, 1): PD */
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    assert_true(isfinite(lp));
    x[3] = 0.1; /* 1 * 0.1 - 0.25 < 0 */
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    assert_true(lp == -INFINITY);
    OK(rmc_program_logp_grad(p, 1, x, &lp, NULL));
    assert_true(lp == -INFINITY);
    x[0] = -1.0;
    OK(rmc_program_logp_grad(p, 1, x, &lp, g));
    assert_true(lp == -INFINITY);

    rmc_config_default(&cfg);
    cfg.chains = 4;
    cfg.draws = 500;
    cfg.warmup = 500;
    cfg.seed = 7;
    cfg.init_radius = 0.5;
    cfg.backend = RMC_BACKEND_CPU; /* the checks are of the CPU evaluator */
    OK(rmc_sample(p, &cfg, &fit));
    nc = rmc_fit_num_columns(fit);
    total = rmc_fit_chains(fit) * rmc_fit_draws(fit);
    v = rmc_fit_values(fit);
    for (int64_t d = 0; d < total; d++) {
        const double *row = v + d * nc;

        for (int64_t c = 0; c < nc; c++) {
            if (!isfinite(row[c]))
                fail_msg("draw %lld, column %lld is %g", (long long)d, (long long)c, row[c]);
        }
        /* M[1,1] > 0 and M[1,1] M[2,2] - M[2,1]^2 > 0 */
        assert_true(row[0] > 0.0 && row[0] * row[3] - row[2] * row[2] > 0.0);
    }
    rmc_fit_free(fit);
    rmc_program_free(p);
    rmc_model_free(m);
}

/* ---------------------------------------------------------------- errors */

static rmc_status bind(rmc_model *m)
{
    rmc_data *d = dataset();
    rmc_program *p = NULL;
    rmc_status st = rmc_program_create(m, d, &p);

    rmc_program_free(p);
    rmc_data_free(d);
    rmc_model_free(m);
    return st;
}

static void errors_name_the_nodes(void **state)
{
    rmc_model *m;
    rmc_node a, o;

    (void)state;

    /* data that is not positive definite or not symmetric: a bind-time error */
    OK(rmc_model_create(&m));
    param(m, "t", 0, 0);
    OK(rmc_cholesky(m, data(m, "S_bad", 2), &o));
    assert_error(bind(m), RMC_ERR_DATA, "cholesky(data 'S_bad')");
    OK(rmc_model_create(&m));
    param(m, "t", 0, 0);
    OK(rmc_cholesky(m, data(m, "S_bad", 2), &o));
    assert_error(bind(m), RMC_ERR_DATA, "not positive definite");
    OK(rmc_model_create(&m));
    param(m, "t", 0, 0);
    OK(rmc_cholesky(m, data(m, "S_asym", 2), &o));
    assert_error(bind(m), RMC_ERR_DATA, "not symmetric");
    OK(rmc_model_create(&m));
    param(m, "t", 0, 0);
    OK(rmc_tri_solve(m, data(m, "S_bad", 2), data(m, "y", 1), &o));
    OK(rmc_cholesky(m, data(m, "S", 2), &a));
    OK(rmc_op2(m, RMC_OP_SUB, a, a, &a)); /* zero: a singular triangular matrix */
    OK(rmc_tri_solve(m, a, data(m, "y", 1), &o));
    assert_error(bind(m), RMC_ERR_DATA, "tri_solve(sub(cholesky(data 'S')");

    /* shapes */
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_matmul(m, data(m, "S", 2), a, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "matmul(data 'S', parameter 'A') needs matrices");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_matvec(m, a, data(m, "x", 1), &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "matvec(parameter 'A', data 'x')");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_vecmat(m, data(m, "y", 1), a, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "vector[3] and matrix[2, 3]");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_row(m, a, 2, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "row 2 is outside parameter 'A'");
    OK(rmc_model_create(&m));
    a = param(m, "v", 3, 0);
    OK(rmc_col(m, a, 0, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "col(parameter 'v') needs a matrix");
    OK(rmc_model_create(&m));
    a = param(m, "v", 3, 0);
    OK(rmc_drop(m, a, 2, 1, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "leaves none");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_concat(m, a, data(m, "y", 1), &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "concat(parameter 'A', data 'y')");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 3);
    OK(rmc_cholesky(m, a, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "cholesky(parameter 'A') needs a square matrix");
    OK(rmc_model_create(&m));
    a = param(m, "A", 2, 2);
    OK(rmc_tri_solve(m, a, data(m, "y", 1), &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "tri_solve(parameter 'A', data 'y')");
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    OK(rmc_diag_pre_multiply(m, a, data(m, "S", 2), &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "diag_pre_multiply(parameter 'v', data 'S')");
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    OK(rmc_cov_exp_quad(m, data(m, "x", 1), a, konst(m, 1.0), 0.0, &o));
    assert_error(bind(m), RMC_ERR_SHAPE, "scalars alpha and rho");
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    OK(rmc_cov_exp_quad(m, a, konst(m, 1.0), konst(m, 1.0), 0.0, &o));
    assert_error(bind(m), RMC_ERR_MODEL, "must be data");

    /* builder arguments */
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    assert_error(rmc_cov_exp_quad(m, a, a, a, -1.0, &o), RMC_ERR_ARGUMENT, "delta");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    assert_error(rmc_drop(m, a, -1, 0, &o), RMC_ERR_ARGUMENT, "negative");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    a = param(m, "v", 2, 0);
    assert_error(rmc_row(m, a, -1, &o), RMC_ERR_ARGUMENT, "negative");
    rmc_model_free(m);
    OK(rmc_model_create(&m));
    assert_error(rmc_cholesky(m, 7, &o), RMC_ERR_ARGUMENT, "cholesky: invalid input node");
    rmc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(values_match_direct_computations),
        cmocka_unit_test(not_positive_definite_is_rejected),
        cmocka_unit_test(errors_name_the_nodes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
