/* linalg.c - matrix kernels and their reverse-mode rules. Every rule is derived from the
 * forward loop it reverses: each assignment of the forward pass becomes, in reverse order,
 * an accumulation of its output's adjoint into its inputs' adjoints. Loops run along rows,
 * which are contiguous in the row-major layout. */
#include "linalg.h"

#include <math.h>
#include <string.h>

#include "program.h"

const char *la_name(int32_t op)
{
    switch (op) {
    case LA_VECMAT:       return "vecmat";
    case LA_MATMUL:       return "matmul";
    case LA_DIAG_PRE:     return "diag_pre_multiply";
    case LA_CHOLESKY:     return "cholesky";
    case LA_TRI_SOLVE:    return "tri_solve";
    case LA_COV_EXP_QUAD: return "cov_exp_quad";
    }
    return NULL;
}

/* ---------------------------------------------------------------- products */

void la_matvec(int64_t rows, int64_t cols, const double *m, const double *v, double *o)
{
    /* Four partial sums per row: one running sum waits on each addition's latency, which
     * made this loop twice the cost of the backward pass. The order is fixed, so results
     * stay the same for every thread count and vector width. */
    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        int64_t k = 0;

        for (; k + 4 <= cols; k += 4) {
            s0 += row[k] * v[k];
            s1 += row[k + 1] * v[k + 1];
            s2 += row[k + 2] * v[k + 2];
            s3 += row[k + 3] * v[k + 3];
        }
        for (; k < cols; k++)
            s0 += row[k] * v[k];
        o[r] = (s0 + s1) + (s2 + s3);
    }
}

/* o[r] = sum_k m[r, k] v[k]: dm[r, k] = go[r] v[k], dv[k] = sum_r go[r] m[r, k]. */
void la_matvec_backward(int64_t rows, int64_t cols, const double *m, const double *v,
                        const double *go, double *gm, double *gv)
{
    if (gv) {
        int64_t r = 0;

        /* Four rows per sweep of gv: a quarter of the loads and stores of gv, which
         * otherwise cost as much as the arithmetic. A fixed grouping, so deterministic. */
        for (; r + 4 <= rows; r += 4) {
            const double *r0 = m + r * cols, *r1 = r0 + cols, *r2 = r1 + cols, *r3 = r2 + cols;
            const double w0 = go[r], w1 = go[r + 1], w2 = go[r + 2], w3 = go[r + 3];

            for (int64_t k = 0; k < cols; k++)
                gv[k] += (w0 * r0[k] + w1 * r1[k]) + (w2 * r2[k] + w3 * r3[k]);
        }
        for (; r < rows; r++) {
            const double *row = m + r * cols;
            const double w = go[r];

            for (int64_t k = 0; k < cols; k++)
                gv[k] += w * row[k];
        }
    }
    if (gm) {
        for (int64_t r = 0; r < rows; r++) {
            double *grow = gm + r * cols;
            const double w = go[r];

            for (int64_t k = 0; k < cols; k++)
                grow[k] += w * v[k];
        }
    }
}

/* o[c] = sum_r v[r] m[r, c], accumulated row by row so the inner loop is contiguous. */
static void vecmat(int64_t rows, int64_t cols, const double *v, const double *m, double *o)
{
    memset(o, 0, (size_t)cols * sizeof *o);
    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols;
        const double w = v[r];

        for (int64_t c = 0; c < cols; c++)
            o[c] += w * row[c];
    }
}

static void vecmat_backward(int64_t rows, int64_t cols, const double *v, const double *m,
                            const double *go, double *gv, double *gm)
{
    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols;

        if (gv) {
            double s = 0.0;

            for (int64_t c = 0; c < cols; c++)
                s += go[c] * row[c];
            gv[r] += s;
        }
        if (gm) {
            double *grow = gm + r * cols;

            for (int64_t c = 0; c < cols; c++)
                grow[c] += v[r] * go[c];
        }
    }
}

/* o = a b for a (rows x inner) and b (inner x cols), in i-k-j order: the innermost loop
 * runs along a row of b and a row of o. */
static void matmul(int64_t rows, int64_t inner, int64_t cols, const double *a,
                   const double *b, double *o)
{
    memset(o, 0, (size_t)(rows * cols) * sizeof *o);
    for (int64_t r = 0; r < rows; r++) {
        double *orow = o + r * cols;

        for (int64_t k = 0; k < inner; k++) {
            const double w = a[r * inner + k];
            const double *brow = b + k * cols;

            for (int64_t c = 0; c < cols; c++)
                orow[c] += w * brow[c];
        }
    }
}

/* ga = go b^T (a dot product of two rows), gb = a^T go (rows of go scaled and added). */
static void matmul_backward(int64_t rows, int64_t inner, int64_t cols, const double *a,
                            const double *b, const double *go, double *ga, double *gb)
{
    for (int64_t r = 0; r < rows; r++) {
        const double *gorow = go + r * cols;

        for (int64_t k = 0; k < inner; k++) {
            const double *brow = b + k * cols;

            if (ga) {
                double s = 0.0;

                for (int64_t c = 0; c < cols; c++)
                    s += gorow[c] * brow[c];
                ga[r * inner + k] += s;
            }
            if (gb) {
                const double w = a[r * inner + k];
                double *gbrow = gb + k * cols;

                for (int64_t c = 0; c < cols; c++)
                    gbrow[c] += w * gorow[c];
            }
        }
    }
}

static void diag_pre(int64_t rows, int64_t cols, const double *v, const double *m, double *o)
{
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            o[r * cols + c] = v[r] * m[r * cols + c];
    }
}

static void diag_pre_backward(int64_t rows, int64_t cols, const double *v, const double *m,
                              const double *go, double *gv, double *gm)
{
    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols, *gorow = go + r * cols;

        if (gv) {
            double s = 0.0;

            for (int64_t c = 0; c < cols; c++)
                s += gorow[c] * row[c];
            gv[r] += s;
        }
        if (gm) {
            for (int64_t c = 0; c < cols; c++)
                gm[r * cols + c] += v[r] * gorow[c];
        }
    }
}

/* ---------------------------------------------------------------- Cholesky */

double la_asymmetry(int64_t k, const double *a)
{
    double worst = 0.0;

    for (int64_t i = 0; i < k; i++) {
        for (int64_t j = 0; j < i; j++) {
            double x = a[i * k + j], y = a[j * k + i];
            double scale = fmax(1.0, fmax(fabs(x), fabs(y)));
            double d = fabs(x - y) / scale;

            if (!(d <= worst))
                worst = d; /* NaN propagates as "not symmetric" */
        }
    }
    return worst;
}

/* Row by row (Cholesky-Banachiewicz): for j <= i,
 *   s = a[i, j] - sum_{k < j} l[i, k] l[j, k];  l[i, i] = sqrt(s);  l[i, j] = s / l[j, j].
 * A pivot s that is not positive and finite means a is not positive definite. */
int64_t la_cholesky(int64_t k, const double *a, double *l)
{
    for (int64_t i = 0; i < k; i++) {
        double *li = l + i * k;

        for (int64_t j = 0; j <= i; j++) {
            const double *lj = l + j * k;
            double s = a[i * k + j];

            for (int64_t m = 0; m < j; m++)
                s -= li[m] * lj[m];
            if (j < i) {
                li[j] = s / lj[j];
            } else {
                if (!(s > 0.0 && s < INFINITY))
                    return i;
                li[i] = sqrt(s);
            }
        }
        for (int64_t j = i + 1; j < k; j++)
            li[j] = 0.0;
    }
    return -1;
}

/* The reverse of la_cholesky (the unblocked algorithm of Murray 2016, "Differentiation of
 * the Cholesky decomposition", derived again from the loop above). lb starts as the
 * output's adjoint (lower triangle) and absorbs the contributions that entries of l make
 * to earlier entries. Entries are visited in reverse topological order: columns from the
 * last, and within a column the off-diagonal entries (which use l[j, j]) before the
 * diagonal. For i > j, l[i, j] = s / l[j, j] with s = a[i, j] - sum_{k<j} l[i, k] l[j, k]:
 *   t = lb[i, j] / l[j, j];  ga[i, j] += t;  lb[i, k] -= t l[j, k];  lb[j, k] -= t l[i, k];
 *   lb[j, j] -= t l[i, j].
 * For the diagonal, l[j, j] = sqrt(s) with s = a[j, j] - sum_{k<j} l[j, k]^2:
 *   t = lb[j, j] / (2 l[j, j]);  ga[j, j] += t;  lb[j, k] -= 2 t l[j, k]. */
static void cholesky_backward(int64_t k, const double *l, const double *go, double *lb,
                              double *ga)
{
    memcpy(lb, go, (size_t)(k * k) * sizeof *lb);
    for (int64_t j = k - 1; j >= 0; j--) {
        const double *lj = l + j * k;
        double *lbj = lb + j * k;

        for (int64_t i = k - 1; i > j; i--) {
            const double *li = l + i * k;
            double *lbi = lb + i * k;
            const double t = lbi[j] / lj[j];

            if (ga)
                ga[i * k + j] += t;
            for (int64_t m = 0; m < j; m++) {
                lbi[m] -= t * lj[m];
                lbj[m] -= t * li[m];
            }
            lbj[j] -= t * li[j];
        }

        const double t = lbj[j] / (2.0 * lj[j]);

        if (ga)
            ga[j * k + j] += t;
        for (int64_t m = 0; m < j; m++)
            lbj[m] -= 2.0 * t * lj[m];
    }
}

/* ---------------------------------------------------------------- triangular solve */

/* x = L \ b by forward substitution over the rows of b (k x cols):
 *   x[i, :] = (b[i, :] - sum_{m < i} l[i, m] x[m, :]) / l[i, i]. */
static int64_t tri_solve(int64_t k, int64_t cols, const double *l, const double *b, double *x)
{
    for (int64_t i = 0; i < k; i++) {
        const double *li = l + i * k;
        double *xi = x + i * cols;

        if (!(li[i] != 0.0 && isfinite(li[i])))
            return i;
        memcpy(xi, b + i * cols, (size_t)cols * sizeof *xi);
        for (int64_t m = 0; m < i; m++) {
            const double w = li[m];
            const double *xm = x + m * cols;

            for (int64_t c = 0; c < cols; c++)
                xi[c] -= w * xm[c];
        }
        for (int64_t c = 0; c < cols; c++)
            xi[c] /= li[i];
    }
    return -1;
}

/* With x = L^-1 b, dx = L^-1 (db - dL x), so bb = L^-T xb and lb = -bb x^T (on the lower
 * triangle, the only part read). bb comes from back substitution with L^T, done along the
 * rows of L: once bb[i, :] is final, its multiples are taken out of the rows above. */
static void tri_solve_backward(int64_t k, int64_t cols, const double *l, const double *x,
                               const double *go, double *bb, double *gl, double *gb)
{
    memcpy(bb, go, (size_t)(k * cols) * sizeof *bb);
    for (int64_t i = k - 1; i >= 0; i--) {
        const double *li = l + i * k;
        double *bi = bb + i * cols;

        for (int64_t c = 0; c < cols; c++)
            bi[c] /= li[i];
        for (int64_t m = 0; m < i; m++) {
            const double w = li[m];
            double *bm = bb + m * cols;

            for (int64_t c = 0; c < cols; c++)
                bm[c] -= w * bi[c];
        }
    }
    if (gb) {
        for (int64_t i = 0; i < k * cols; i++)
            gb[i] += bb[i];
    }
    if (gl) {
        for (int64_t i = 0; i < k; i++) {
            const double *bi = bb + i * cols;

            for (int64_t m = 0; m <= i; m++) {
                const double *xm = x + m * cols;
                double s = 0.0;

                for (int64_t c = 0; c < cols; c++)
                    s += bi[c] * xm[c];
                gl[i * k + m] -= s;
            }
        }
    }
}

/* ---------------------------------------------------------------- covariance */

/* exp as shaders/math.glsl computes it in float64, operation for operation: the same
 * range reduction and Taylor polynomial in IEEE arithmetic, so the device's covariance is
 * this one bit for bit. A covariance with a small jitter is badly conditioned (its
 * Cholesky factor magnifies a last-bit difference in one entry a hundred million times),
 * so the backends could not otherwise agree to 1e-10 on models such as gp_pois_regr.
 * Within an ulp or two of libm's exp. No contraction into FMAs: the shader has none. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
static double la_exp(double x)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    static const double inv_fact[14] = { 1.0 / 6227020800.0, 1.0 / 479001600.0,
                                         1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                         1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                                         1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0 };
    double k, r, p;
    int n, h;

    if (!(x < 709.782712893384))
        return x > 0.0 ? INFINITY : x;
    if (x < -745.2)
        return 0.0;
    k = nearbyint(x * 1.44269504088896340736);
    r = (x - k * ln2_hi) - k * ln2_lo;
    p = inv_fact[0];
    for (int i = 1; i < 14; i++)
        p = p * r + inv_fact[i];
    n = (int)k;
    h = n / 2;
    return ldexp(ldexp(p, h), n - h);
}

/* k[i, j] = alpha^2 exp(-(x[i] - x[j])^2 / (2 rho^2)) + delta [i == j], symmetric, so each
 * exponential is computed once. */
static void cov_exp_quad(int64_t n, const double *x, double alpha, double rho, double delta,
                         double *o)
{
    const double a2 = alpha * alpha, c = -0.5 / (rho * rho);

    for (int64_t i = 0; i < n; i++) {
        o[i * n + i] = a2 + delta;
        for (int64_t j = 0; j < i; j++) {
            const double d = x[i] - x[j];

            o[i * n + j] = o[j * n + i] = a2 * la_exp(c * d * d);
        }
    }
}

/* With E[i, j] = exp(-d^2 / (2 rho^2)): dk/dalpha = 2 alpha E, dk/drho = alpha^2 E d^2 /
 * rho^3 (zero on the diagonal, where d = 0). */
static void cov_exp_quad_backward(int64_t n, const double *x, double alpha, double rho,
                                  const double *go, double *galpha, double *grho)
{
    const double c = -0.5 / (rho * rho);
    double se = 0.0, sed = 0.0;

    for (int64_t i = 0; i < n; i++) {
        se += go[i * n + i];
        for (int64_t j = 0; j < i; j++) {
            const double d = x[i] - x[j], e = la_exp(c * d * d);
            const double w = (go[i * n + j] + go[j * n + i]) * e;

            se += w;
            sed += w * d * d;
        }
    }
    if (galpha)
        *galpha += 2.0 * alpha * se;
    if (grho)
        *grho += alpha * alpha * sed / (rho * rho * rho);
}

/* ---------------------------------------------------------------- dispatch */

int64_t la_scratch(const struct inst *in)
{
    switch (in->op) {
    case LA_CHOLESKY:
    case LA_TRI_SOLVE:
        return in->n;
    }
    return 0;
}

int64_t la_forward(const struct la_call *c)
{
    const struct inst *in = c->in, *a = c->arg[0], *b = c->arg[1];

    switch (in->op) {
    case LA_VECMAT:
        vecmat(b->dims[0], b->dims[1], c->v[0], c->v[1], c->o);
        return -1;
    case LA_MATMUL:
        matmul(a->dims[0], a->dims[1], b->dims[1], c->v[0], c->v[1], c->o);
        return -1;
    case LA_DIAG_PRE:
        diag_pre(b->dims[0], b->dims[1], c->v[0], c->v[1], c->o);
        return -1;
    case LA_CHOLESKY:
        return la_cholesky(a->dims[0], c->v[0], c->o);
    case LA_TRI_SOLVE:
        return tri_solve(a->dims[0], b->n / a->dims[0], c->v[0], c->v[1], c->o);
    case LA_COV_EXP_QUAD:
        cov_exp_quad(a->n, c->v[0], c->v[1][0], c->v[2][0], in->delta, c->o);
        return -1;
    }
    return 0;
}

void la_backward(const struct la_call *c)
{
    const struct inst *in = c->in, *a = c->arg[0], *b = c->arg[1];

    switch (in->op) {
    case LA_VECMAT:
        vecmat_backward(b->dims[0], b->dims[1], c->v[0], c->v[1], c->go, c->g[0], c->g[1]);
        break;
    case LA_MATMUL:
        matmul_backward(a->dims[0], a->dims[1], b->dims[1], c->v[0], c->v[1], c->go, c->g[0],
                        c->g[1]);
        break;
    case LA_DIAG_PRE:
        diag_pre_backward(b->dims[0], b->dims[1], c->v[0], c->v[1], c->go, c->g[0],
                          c->g[1]);
        break;
    case LA_CHOLESKY:
        cholesky_backward(a->dims[0], c->o, c->go, c->tmp, c->g[0]);
        break;
    case LA_TRI_SOLVE:
        tri_solve_backward(a->dims[0], b->n / a->dims[0], c->v[0], c->o, c->go, c->tmp,
                           c->g[0], c->g[1]);
        break;
    case LA_COV_EXP_QUAD:
        cov_exp_quad_backward(a->n, c->v[0], c->v[1][0], c->v[2][0], c->go, c->g[1],
                              c->g[2]);
        break;
    }
}
