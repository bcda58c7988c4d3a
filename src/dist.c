/* dist.c - the distribution registry and fused kernels: value and analytic partials in
 * one pass over the elements, with full normalising constants. */
#include "dist.h"

#include <math.h>

#include "mathfn.h"
#include "program.h"
#include "rmc.h"

/* Kernels are written per element i with these macros, which serve both uses of a
 * kernel: a statement (sum of log densities, partials added to adjoints) and an
 * elementwise log-density expression (each element's value written to out; on the reverse
 * sweep, partials weighted by the expression's adjoint w). */

/* Operand k at element i. */
#define V(k) (c->v[k][i * c->s[k]])

/* Element i contributes x. */
#define LP(x)                                                                           \
    do {                                                                                \
        double lp_i_ = (x);                                                             \
        lp += lp_i_;                                                                    \
        if (c->out)                                                                     \
            c->out[i] = lp_i_;                                                          \
    } while (0)

/* Element i is outside the support: a statement is -inf as a whole; an expression marks
 * the element and goes on. Use as `if (cond) REJECT`. */
#define REJECT                                                                          \
    {                                                                                   \
        if (!c->out)                                                                    \
            return -INFINITY;                                                           \
        c->out[i] = -INFINITY;                                                          \
        lp = -INFINITY;                                                                 \
        continue;                                                                       \
    }

/* Add partial d to the adjoint of operand k at element i. */
#define G(k, d)                                                                         \
    do {                                                                                \
        if (c->g[k])                                                                    \
            c->g[k][i * c->s[k]] += (c->w ? c->w[i] : 1.0) * (d);                       \
    } while (0)

/* Normal with a scalar scale, the common case, hoists log and reciprocal of sigma. */
static double normal_scalar_sigma(const struct dist_call *c)
{
    const double sigma = c->v[2][0], inv = 1.0 / sigma;
    const double *y = c->v[0], *mu = c->v[1];
    const int64_t sy = c->s[0], sm = c->s[1], n = c->n;
    double *gy = c->g[0], *gm = c->g[1];
    double ss = 0.0;

    if (!(sigma > 0.0))
        return -INFINITY;
    if (sy && sm && !gy && gm) {
        /* observed vector ~ normal(expression, sigma): the likelihood's hot loop, with
         * four partial sums (see ACCUMULATE) */
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        int64_t i = 0;

        for (; i + 4 <= n; i += 4) {
            double z0 = (y[i] - mu[i]) * inv, z1 = (y[i + 1] - mu[i + 1]) * inv;
            double z2 = (y[i + 2] - mu[i + 2]) * inv, z3 = (y[i + 3] - mu[i + 3]) * inv;

            s0 += z0 * z0;
            s1 += z1 * z1;
            s2 += z2 * z2;
            s3 += z3 * z3;
            gm[i] += z0 * inv;
            gm[i + 1] += z1 * inv;
            gm[i + 2] += z2 * inv;
            gm[i + 3] += z3 * inv;
        }
        for (; i < n; i++) {
            double z = (y[i] - mu[i]) * inv;

            s0 += z * z;
            gm[i] += z * inv;
        }
        ss = (s0 + s1) + (s2 + s3);
    } else {
        for (int64_t i = 0; i < n; i++) {
            double z = (y[i * sy] - mu[i * sm]) * inv;

            ss += z * z;
            if (gy)
                gy[i * sy] -= z * inv;
            if (gm)
                gm[i * sm] += z * inv;
        }
    }
    if (c->g[2])
        c->g[2][0] += (ss - (double)n) * inv;
    return -0.5 * ss - (double)n * (log(sigma) + LOG_SQRT_2PI);
}

/* Normal with a data vector of scales (eight schools' sigma): 1/sigma and the sum of
 * log sigma were computed at bind time, so no logarithm is taken per evaluation. */
static double normal_data_sigma(const struct dist_call *c)
{
    const double *inv = c->in->aux, *y = c->v[0], *mu = c->v[1];
    const int64_t sy = c->s[0], sm = c->s[1];
    double *gy = c->g[0], *gm = c->g[1];
    double ss = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double z = (y[i * sy] - mu[i * sm]) * inv[i];

        ss += z * z;
        if (gy)
            gy[i * sy] -= z * inv[i];
        if (gm)
            gm[i * sm] += z * inv[i];
    }
    return c->in->cterm - 0.5 * ss;
}

static double dist_normal(const struct dist_call *c)
{
    double lp = 0.0;

    if (!c->out && !c->w && c->s[2] == 0)
        return normal_scalar_sigma(c);
    if (!c->out && !c->w && c->in && c->in->aux)
        return normal_data_sigma(c);
    for (int64_t i = 0; i < c->n; i++) {
        double sigma = V(2), inv = 1.0 / sigma, z = (V(0) - V(1)) * inv;

        if (!(sigma > 0.0))
            REJECT
        LP(-0.5 * z * z - log(sigma) - LOG_SQRT_2PI);
        G(0, -z * inv);
        G(1, z * inv);
        G(2, (z * z - 1.0) * inv);
    }
    return lp;
}

static double dist_half_normal(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double sigma = V(1), inv = 1.0 / sigma, z = V(0) * inv;

        if (!(sigma > 0.0) || V(0) < 0.0)
            REJECT
        LP(LOG_2 - 0.5 * z * z - log(sigma) - LOG_SQRT_2PI);
        G(0, -z * inv);
        G(1, (z * z - 1.0) * inv);
    }
    return lp;
}

/* Cauchy and half-Cauchy share the kernel; loc is NULL for the half form. */
static double cauchy_kernel(const struct dist_call *c, int half)
{
    const int ks = half ? 1 : 2;
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), loc = half ? 0.0 : V(1), s = V(ks);
        double inv = 1.0 / s, z = (y - loc) * inv, q = 1.0 / (1.0 + z * z);

        if (!(s > 0.0) || (half && y < 0.0))
            REJECT
        LP(-LOG_PI - log(s) - log1p(z * z) + (half ? LOG_2 : 0.0));
        G(0, -2.0 * z * q * inv);
        if (!half)
            G(1, 2.0 * z * q * inv);
        G(ks, (-1.0 + 2.0 * z * z * q) * inv);
    }
    return lp;
}

static double dist_cauchy(const struct dist_call *c)
{
    return cauchy_kernel(c, 0);
}

static double dist_half_cauchy(const struct dist_call *c)
{
    return cauchy_kernel(c, 1);
}

static double dist_student_t(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double nu = V(1), mu = V(2), s = V(3), inv = 1.0 / s;
        double z = (V(0) - mu) * inv, r = z * z / nu, w = (nu + 1.0) / (nu + z * z);

        if (!(s > 0.0) || !(nu > 0.0))
            REJECT
        LP(rmc_lgamma(0.5 * (nu + 1.0)) - rmc_lgamma(0.5 * nu) - 0.5 * log(nu * RMC_PI) - log(s)
           - 0.5 * (nu + 1.0) * log1p(r));
        G(0, -w * z * inv);
        G(2, w * z * inv);
        G(3, (w * z * z - 1.0) * inv);
        if (c->g[1]) {
            double d = 0.5 * (rmc_digamma(0.5 * (nu + 1.0)) - rmc_digamma(0.5 * nu))
                       - 0.5 / nu - 0.5 * log1p(r) + 0.5 * w * z * z / nu;

            G(1, d);
        }
    }
    return lp;
}

static double dist_uniform(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), b = V(2), w = b - a;

        if (!(a < b) || y < a || y > b)
            REJECT
        LP(-log(w));
        G(1, 1.0 / w);
        G(2, -1.0 / w);
    }
    return lp;
}

static double dist_exponential(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), rate = V(1);

        if (!(rate > 0.0) || y < 0.0)
            REJECT
        LP(log(rate) - rate * y);
        G(0, -rate);
        G(1, 1.0 / rate - y);
    }
    return lp;
}

static double dist_bernoulli(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), p = V(1);

        if (!(p >= 0.0 && p <= 1.0))
            REJECT
        LP(y != 0.0 ? log(p) : log1p(-p));
        G(1, y != 0.0 ? 1.0 / p : -1.0 / (1.0 - p));
    }
    return lp;
}

static double dist_bernoulli_logit(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1);
        double p = a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a));

        LP(y != 0.0 ? -rmc_log1p_exp(-a) : -rmc_log1p_exp(a));
        G(1, y - p);
    }
    return lp;
}

#undef V
#undef LP
#undef REJECT
#undef G

static const struct dist_info registry[RMC_DIST_COUNT] = {
    [RMC_DIST_NORMAL] = { "normal", 2, { "mu", "sigma" }, 1u << 1, 0, SUPPORT_REAL, 0,
                          dist_normal },
    [RMC_DIST_HALF_NORMAL] = { "half_normal", 1, { "sigma" }, 1u << 0, 0,
                               SUPPORT_NONNEGATIVE, 0, dist_half_normal },
    [RMC_DIST_CAUCHY] = { "cauchy", 2, { "location", "scale" }, 1u << 1, 0, SUPPORT_REAL, 0,
                          dist_cauchy },
    [RMC_DIST_HALF_CAUCHY] = { "half_cauchy", 1, { "scale" }, 1u << 0, 0,
                               SUPPORT_NONNEGATIVE, 0, dist_half_cauchy },
    [RMC_DIST_STUDENT_T] = { "student_t", 3, { "nu", "mu", "sigma" }, 1u << 0 | 1u << 2, 0,
                             SUPPORT_REAL, 0, dist_student_t },
    [RMC_DIST_UNIFORM] = { "uniform", 2, { "lower", "upper" }, 0, 0, SUPPORT_REAL, 0,
                           dist_uniform },
    [RMC_DIST_EXPONENTIAL] = { "exponential", 1, { "rate" }, 1u << 0, 0,
                               SUPPORT_NONNEGATIVE, 0, dist_exponential },
    [RMC_DIST_BERNOULLI] = { "bernoulli", 1, { "p" }, 0, 1u << 0, SUPPORT_BINARY, 1,
                             dist_bernoulli },
    [RMC_DIST_BERNOULLI_LOGIT] = { "bernoulli_logit", 1, { "alpha" }, 0, 0, SUPPORT_BINARY, 1,
                                   dist_bernoulli_logit },
};

const struct dist_info *dist_info(int32_t dist)
{
    return dist >= 0 && dist < RMC_DIST_COUNT && registry[dist].lpdf ? &registry[dist] : NULL;
}

double dist_eval(int32_t dist, const struct dist_call *c)
{
    return registry[dist].lpdf(c);
}

void dist_lpdf_values(int32_t dist, int32_t nargs, int64_t n, const double *const *v,
                      const int64_t *s, double *out)
{
    struct dist_call c = { .n = n, .out = out };

    for (int32_t k = 0; k <= nargs; k++) {
        c.v[k] = v[k];
        c.s[k] = s[k];
    }
    dist_eval(dist, &c);
}

double dist_lpdf_const(int32_t dist, int32_t nargs, int64_t n, const double *const *v,
                       const int64_t *s)
{
    struct dist_call c = { .n = n, .in = NULL };

    for (int32_t k = 0; k <= nargs; k++) {
        c.v[k] = v[k];
        c.s[k] = s[k];
    }
    return dist_eval(dist, &c);
}
