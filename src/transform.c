/* transform.c - parameter transforms: the map from the sampler's unconstrained
 * coordinates to a parameter's constrained values, its log-Jacobian, the reverse-mode rule,
 * and the inverse map for user-supplied initial values.
 *
 * Two families: elementwise bounds (enum bound_kind, program.h), whose bound values may
 * depend on parameters and so receive adjoints, and constrained shapes (rmc_transform),
 * which take no bounds. Adding a shape: a value in rmc_transform (rmc.h), its free
 * dimension in transform_free_dim (and scratch in transform_scratch, if its reverse step
 * needs what the forward map computed), a case in each map below, and its support's
 * description.
 *
 * Logistic and tanh terms are written with exp(-|u|), so no branch overflows for large
 * |u|, and the log-Jacobians are sums of logs computed in log space rather than logs of
 * products that could underflow. */
#include "transform.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mathfn.h"
#include "program.h"

/* Values off by less than this from a constraint (a sum of 1, a unit row) still count as
 * on it, for user-supplied values that went through text or float32. */
#define SUPPORT_TOL 1e-8

int64_t transform_free_dim(const struct inst *in)
{
    const int64_t k = in->dims[0];

    switch (in->transform) {
    case RMC_TRANSFORM_SIMPLEX:       return k - 1;
    case RMC_TRANSFORM_CHOLESKY_CORR: return k * (k - 1) / 2;
    }
    return in->n;
}

int64_t transform_scratch(const struct inst *in)
{
    /* the correlation factor keeps the remaining row length before each element */
    return in->transform == RMC_TRANSFORM_CHOLESKY_CORR ? transform_free_dim(in) : 0;
}

/* logistic(t) and 1 - logistic(t), each without cancellation. */
static void logistic_pair(double t, double *z, double *one_minus_z)
{
    const double e = exp(-fabs(t)), big = 1.0 / (1.0 + e), small = e / (1.0 + e);

    *z = t >= 0 ? big : small;
    *one_minus_z = t >= 0 ? small : big;
}

/* tanh(y), sech(y) = sqrt(1 - tanh(y)^2) and log(sech(y)^2), accurate for large |y|
 * where 1 - tanh(y)^2 would round to zero. */
static void tanh_sech(double y, double *z, double *w, double *log_w2)
{
    const double e = exp(-fabs(y)), e2 = e * e;

    *z = tanh(y);
    *w = 2.0 * e / (1.0 + e2);
    *log_w2 = 2.0 * (LOG_2 - fabs(y) - log1p(e2));
}

/* ---------------------------------------------------------------- bounds */

static double bounded_forward(const struct inst *in, const struct tf_bounds *b,
                              const double *u, double *v)
{
    double logj = 0.0;

    switch (in->bound) {
    case BOUND_NONE:
        memcpy(v, u, (size_t)in->n * sizeof *v);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++) {
            const double lo = b->lo[i * b->slo];

            if (!isfinite(lo))
                return -INFINITY;
            v[i] = lo + exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++) {
            const double hi = b->hi[i * b->shi];

            if (!isfinite(hi))
                return -INFINITY;
            v[i] = hi - exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_BOTH:
        for (int64_t i = 0; i < in->n; i++) {
            const double lo = b->lo[i * b->slo], hi = b->hi[i * b->shi], w = hi - lo;
            const double e = exp(-fabs(u[i]));
            const double s = u[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            /* bounds that depend on parameters may cross: no such point exists */
            if (!(w > 0.0 && w < INFINITY))
                return -INFINITY;
            v[i] = lo + w * s;
            if (v[i] >= hi)
                v[i] = nextafter(hi, lo);
            /* log s + log(1 - s) = -|u| - 2 log1p(exp(-|u|)), stable for large |u| */
            logj += log(w) - fabs(u[i]) - 2.0 * log1p(e);
        }
        break;
    }
    return logj;
}

/* Lower: v = lo + exp(u), so dv/du = v - lo and dv/dlo = 1; log-Jacobian u. Upper alike.
 * Both: v = lo + w s(u), w = hi - lo, log-Jacobian log w + log s + log(1 - s):
 * dv/du = w s (1 - s), dv/dlo = 1 - s, dv/dhi = s, and the log w term gives -1/w to lo
 * and 1/w to hi. */
static void bounded_backward(const struct inst *in, const struct tf_bounds *b, const double *u,
                             const double *v, const double *gv, double *g)
{
    switch (in->bound) {
    case BOUND_NONE:
        memcpy(g, gv, (size_t)in->n * sizeof *g);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++) {
            g[i] = gv[i] * (v[i] - b->lo[i * b->slo]) + 1.0;
            if (b->glo)
                b->glo[i * b->slo] += gv[i];
        }
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++) {
            g[i] = -gv[i] * (b->hi[i * b->shi] - v[i]) + 1.0;
            if (b->ghi)
                b->ghi[i * b->shi] += gv[i];
        }
        break;
    case BOUND_BOTH:
        for (int64_t i = 0; i < in->n; i++) {
            const double w = b->hi[i * b->shi] - b->lo[i * b->slo];
            double s, t;

            logistic_pair(u[i], &s, &t);
            g[i] = gv[i] * w * s * t + 1.0 - 2.0 * s;
            if (b->glo)
                b->glo[i * b->slo] += gv[i] * t - 1.0 / w;
            if (b->ghi)
                b->ghi[i * b->shi] += gv[i] * s + 1.0 / w;
        }
        break;
    }
}

static int64_t bounded_inverse(const struct inst *in, const struct tf_bounds *b,
                               const double *y, double *u)
{
    for (int64_t i = 0; i < in->n; i++) {
        switch (in->bound) {
        case BOUND_LOWER: u[i] = log(y[i] - b->lo[i * b->slo]); break;
        case BOUND_UPPER: u[i] = log(b->hi[i * b->shi] - y[i]); break;
        case BOUND_BOTH: {
            const double lo = b->lo[i * b->slo], hi = b->hi[i * b->shi];

            u[i] = log(y[i] - lo) - log(hi - y[i]);
            break;
        }
        default: u[i] = y[i]; break;
        }
        if (!isfinite(u[i]))
            return i;
    }
    return -1;
}

/* ---------------------------------------------------------------- ordered vectors */

/* x[0] = u[0] (ordered) or exp(u[0]) (positive ordered), x[k] = x[k-1] + exp(u[k]). The
 * Jacobian is triangular with diagonal exp(u[k]) (1 for an ordered x[0]). */
static double ordered_forward(int positive, int64_t n, const double *u, double *v)
{
    double logj = positive ? u[0] : 0.0;

    v[0] = positive ? exp(u[0]) : u[0];
    for (int64_t k = 1; k < n; k++) {
        v[k] = v[k - 1] + exp(u[k]);
        logj += u[k];
    }
    return logj;
}

/* u[k] moves every x[m] with m >= k by the same amount, so its adjoint is the suffix sum
 * of gv times exp(u[k]), plus 1 from the log-Jacobian. */
static void ordered_backward(int positive, int64_t n, const double *u, const double *gv,
                             double *g)
{
    double c = 0.0;

    for (int64_t k = n - 1; k >= 0; k--) {
        c += gv[k];
        g[k] = k == 0 && !positive ? c : c * exp(u[k]) + 1.0;
    }
}

static int64_t ordered_inverse(int positive, int64_t n, const double *y, double *u)
{
    for (int64_t k = 0; k < n; k++) {
        if (k == 0)
            u[0] = positive ? log(y[0]) : y[0];
        else
            u[k] = y[k] > y[k - 1] ? log(y[k] - y[k - 1]) : NAN;
        if (!isfinite(u[k]) || !isfinite(y[k]))
            return k;
    }
    return -1;
}

/* ---------------------------------------------------------------- simplex */

/*
 * Stick-breaking over K elements from K - 1 free coordinates. With the stick s_0 = 1,
 *   z_k = logistic(u_k - log(K - 1 - k)),  x_k = s_k z_k,  s_{k+1} = s_k (1 - z_k),
 * for k = 0 .. K - 2 (zero-based), and x_{K-1} = s_{K-1}. The offset makes u = 0 the
 * uniform simplex: there s_k = (K - k) / K and z_k = 1 / (K - k), so every x_k = 1 / K.
 *
 * The map from u to (x_0 .. x_{K-2}) is triangular (x_k depends on u_0 .. u_k), with
 * diagonal dx_k/du_k = s_k z_k (1 - z_k); log s_k = sum_{j<k} log(1 - z_j), so
 *   log J = sum_k [log z_k + (K - 1 - k) log(1 - z_k)],
 * each log(1 - z_j) counted once in its own term and once in every later s_k.
 */
static double simplex_forward(int64_t n, const double *u, double *v)
{
    double s = 1.0, logj = 0.0;

    for (int64_t k = 0; k + 1 < n; k++) {
        const double t = u[k] - log((double)(n - 1 - k));
        double z, zc;

        logistic_pair(t, &z, &zc);
        v[k] = s * z;
        s *= zc;
        /* log z = -log1p(exp(-t)), log(1 - z) = -log1p(exp(t)) */
        logj -= rmc_log1p_exp(-t) + (double)(n - 1 - k) * rmc_log1p_exp(t);
    }
    v[n - 1] = s;
    return logj;
}

/* Reverse through x_k = s_k z_k and s_{k+1} = s_k (1 - z_k), from the last step, carrying
 * gs, the adjoint of s_{k+1}:
 *   dz_k = s_k (gv_k - gs),  then  gs <- gv_k z_k + gs (1 - z_k)  (the adjoint of s_k),
 * and dz/du = z (1 - z), with s_k z_k = x_k. The log-Jacobian adds
 * d/du [log z + (K - 1 - k) log(1 - z)] = (1 - z) - (K - 1 - k) z. */
static void simplex_backward(int64_t n, const double *u, const double *v, const double *gv,
                             double *g)
{
    double gs = gv[n - 1];

    for (int64_t k = n - 2; k >= 0; k--) {
        const double t = u[k] - log((double)(n - 1 - k));
        double z, zc;

        logistic_pair(t, &z, &zc);
        g[k] = (gv[k] - gs) * v[k] * zc + zc - (double)(n - 1 - k) * z;
        gs = gv[k] * z + gs * zc;
    }
}

/* z_k = x_k / s_k with s_k the sum of x_k .. x_{K-1}, so 1 - z_k = s_{k+1} / s_k and
 * u_k = log x_k - log s_{k+1} + log(K - 1 - k), without forming z. */
static int64_t simplex_inverse(int64_t n, const double *y, double *u)
{
    double total = 0.0, rest;

    for (int64_t k = 0; k < n; k++) {
        if (!(y[k] > 0.0 && y[k] < INFINITY))
            return k;
        total += y[k];
    }
    if (!(fabs(total - 1.0) <= SUPPORT_TOL))
        return n - 1;
    rest = y[n - 1];
    for (int64_t k = n - 2; k >= 0; k--) {
        u[k] = log(y[k]) - log(rest) + log((double)(n - 1 - k));
        rest += y[k];
    }
    return -1;
}

/* ---------------------------------------------------------------- correlation factors */

/*
 * Row i of L (i >= 1) from canonical partial correlations z_j = tanh(u_j), j < i:
 *   r_0 = 1,  L[i, j] = z_j r_j,  r_{j+1} = r_j sqrt(1 - z_j^2) = r_j sech(u_j),
 *   L[i, i] = r_i,
 * so each row has unit norm (r_j^2 is what the first j elements leave) and a positive
 * diagonal; row 0 is (1, 0, ...). The free coordinates run row by row over the strict
 * lower triangle.
 *
 * Within a row, L[i, j] depends on z_0 .. z_j: triangular, with dL[i, j]/dz_j = r_j, and
 * log r_j = (1/2) sum_{l<j} log(1 - z_l^2). With dz/du = 1 - z^2 = sech^2(u),
 *   log J = sum_{i, j} [log sech^2(u_ij) + (1/2) log r_ij^2]
 *         = sum_{i, j} (1 + (i - 1 - j) / 2) log sech^2(u_ij),
 * since log sech^2(u_il) appears in r_ij^2 for each j in l + 1 .. i - 1.
 */
static double corr_forward(int64_t k, const double *u, double *v, double *tmp)
{
    double logj = 0.0;
    int64_t idx = 0;

    memset(v, 0, (size_t)(k * k) * sizeof *v);
    v[0] = 1.0;
    for (int64_t i = 1; i < k; i++) {
        double r = 1.0;

        for (int64_t j = 0; j < i; j++, idx++) {
            double z, w, lw2;

            tanh_sech(u[idx], &z, &w, &lw2);
            tmp[idx] = r;
            v[i * k + j] = z * r;
            logj += (1.0 + 0.5 * (double)(i - 1 - j)) * lw2;
            r *= w;
        }
        v[i * k + i] = r;
    }
    return logj;
}

/* Reverse along each row with ar, the adjoint of r_{j+1}: L[i, j] = z r_j gives
 * dz = gL r_j, r_{j+1} = r_j w gives dw = ar r_j and ar <- ar w + gL z for r_j; then
 * dz/du = w^2, dw/du = -w z, and the log-Jacobian term c log sech^2(u) adds -2 c z. */
static void corr_backward(int64_t k, const double *u, const double *gv, const double *tmp,
                          double *g)
{
    for (int64_t i = 1; i < k; i++) {
        const int64_t row = i * (i - 1) / 2;
        double ar = gv[i * k + i];

        for (int64_t j = i - 1; j >= 0; j--) {
            const int64_t idx = row + j;
            const double r = tmp[idx], gl = gv[i * k + j];
            double z, w, lw2;

            tanh_sech(u[idx], &z, &w, &lw2);
            g[idx] = gl * r * w * w - ar * r * w * z
                     - 2.0 * (1.0 + 0.5 * (double)(i - 1 - j)) * z;
            ar = ar * w + gl * z;
        }
    }
}

/* z_j = L[i, j] / r_j with r_j the length the row has left; the checks allow float noise
 * in the zeros, the unit diagonal of row 0 and the unit row norms. */
static int64_t corr_inverse(int64_t k, const double *y, double *u)
{
    int64_t idx = 0;

    for (int64_t i = 0; i < k; i++) {
        double norm = 0.0, r = 1.0;

        for (int64_t j = 0; j < k; j++) {
            if (!isfinite(y[i * k + j]) || (j > i && fabs(y[i * k + j]) > SUPPORT_TOL))
                return i * k + j;
            if (j <= i)
                norm += y[i * k + j] * y[i * k + j];
        }
        if (!(y[i * k + i] > 0.0) || !(fabs(norm - 1.0) <= SUPPORT_TOL))
            return i * k + i;
        for (int64_t j = 0; j < i; j++, idx++) {
            const double z = y[i * k + j] / r;

            if (!(fabs(z) < 1.0))
                return i * k + j;
            u[idx] = atanh(z);
            r *= sqrt((1.0 - z) * (1.0 + z));
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- dispatch */

double transform_forward(const struct inst *in, const struct tf_bounds *b, const double *x,
                         double *v, double *tmp)
{
    const double *u = x + in->xoff;

    switch (in->transform) {
    case RMC_TRANSFORM_ORDERED:           return ordered_forward(0, in->n, u, v);
    case RMC_TRANSFORM_POSITIVE_ORDERED:  return ordered_forward(1, in->n, u, v);
    case RMC_TRANSFORM_SIMPLEX:           return simplex_forward(in->n, u, v);
    case RMC_TRANSFORM_CHOLESKY_CORR:     return corr_forward(in->dims[0], u, v, tmp);
    }
    return bounded_forward(in, b, u, v);
}

void transform_backward(const struct inst *in, const struct tf_bounds *b, const double *x,
                        const double *v, const double *gv, const double *tmp, double *grad)
{
    const double *u = x + in->xoff;
    double *g = grad + in->xoff;

    switch (in->transform) {
    case RMC_TRANSFORM_ORDERED:
        ordered_backward(0, in->n, u, gv, g);
        return;
    case RMC_TRANSFORM_POSITIVE_ORDERED:
        ordered_backward(1, in->n, u, gv, g);
        return;
    case RMC_TRANSFORM_SIMPLEX:
        simplex_backward(in->n, u, v, gv, g);
        return;
    case RMC_TRANSFORM_CHOLESKY_CORR:
        corr_backward(in->dims[0], u, gv, tmp, g);
        return;
    }
    bounded_backward(in, b, u, v, gv, g);
}

int64_t transform_inverse(const struct inst *in, const struct tf_bounds *b, const double *y,
                          double *x)
{
    double *u = x + in->xoff;

    switch (in->transform) {
    case RMC_TRANSFORM_ORDERED:          return ordered_inverse(0, in->n, y, u);
    case RMC_TRANSFORM_POSITIVE_ORDERED: return ordered_inverse(1, in->n, y, u);
    case RMC_TRANSFORM_SIMPLEX:          return simplex_inverse(in->n, y, u);
    case RMC_TRANSFORM_CHOLESKY_CORR:    return corr_inverse(in->dims[0], y, u);
    }
    return bounded_inverse(in, b, y, u);
}

void transform_describe_support(const struct inst *in, const struct tf_bounds *b, int64_t i,
                                char *buf, size_t cap)
{
    switch (in->transform) {
    case RMC_TRANSFORM_ORDERED:
        snprintf(buf, cap, "an ordered vector must be strictly increasing");
        return;
    case RMC_TRANSFORM_POSITIVE_ORDERED:
        snprintf(buf, cap, "a positive ordered vector must be positive and strictly "
                 "increasing");
        return;
    case RMC_TRANSFORM_SIMPLEX:
        snprintf(buf, cap, "a simplex must be positive and sum to 1");
        return;
    case RMC_TRANSFORM_CHOLESKY_CORR:
        snprintf(buf, cap, "a correlation Cholesky factor must be lower triangular with a "
                 "positive diagonal and rows of unit length");
        return;
    }
    switch (in->bound) {
    case BOUND_LOWER:
        snprintf(buf, cap, "lower bound %g", b->lo[i * b->slo]);
        return;
    case BOUND_UPPER:
        snprintf(buf, cap, "upper bound %g", b->hi[i * b->shi]);
        return;
    case BOUND_BOTH:
        snprintf(buf, cap, "bounds [%g, %g]", b->lo[i * b->slo], b->hi[i * b->shi]);
        return;
    }
    snprintf(buf, cap, "it must be finite");
}
