/* dist.c - the distribution registry and fused kernels: value and analytic partials in
 * one pass over the elements, with full normalising constants. */
#include "dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* The last argument a special function saw, and its value: a scalar argument broadcast
 * over many elements then costs one call per evaluation instead of one per element. */
struct memo {
    double x, fx;
};

#define MEMO_INIT { NAN, NAN }

static double memo(struct memo *m, double (*f)(double), double x)
{
    if (x != m->x) {
        m->x = x;
        m->fx = f(x);
    }
    return m->fx;
}

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

/* The nu-only terms of the Student-t log density and of its nu partial. */
static double student_t_const(double nu)
{
    return rmc_lgamma(0.5 * (nu + 1.0)) - rmc_lgamma(0.5 * nu) - 0.5 * log(nu * RMC_PI);
}

static double student_t_dconst(double nu)
{
    return 0.5 * (rmc_digamma(0.5 * (nu + 1.0)) - rmc_digamma(0.5 * nu)) - 0.5 / nu;
}

/* Student-t and half-Student-t share the kernel; the half form has no location and puts
 * twice the density on value >= 0. */
static double student_t_kernel(const struct dist_call *c, int half)
{
    const int ks = half ? 2 : 3;
    struct memo cst = MEMO_INIT, dcst = MEMO_INIT;
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double nu = V(1), mu = half ? 0.0 : V(2), s = V(ks), inv = 1.0 / s;
        double z = (V(0) - mu) * inv, r = z * z / nu, w = (nu + 1.0) / (nu + z * z);

        if (!(s > 0.0) || !(nu > 0.0) || (half && V(0) < 0.0))
            REJECT
        LP((half ? LOG_2 : 0.0) + memo(&cst, student_t_const, nu) - log(s)
           - 0.5 * (nu + 1.0) * log1p(r));
        G(0, -w * z * inv);
        if (!half)
            G(2, w * z * inv);
        G(ks, (w * z * z - 1.0) * inv);
        G(1, memo(&dcst, student_t_dconst, nu) - 0.5 * log1p(r) + 0.5 * w * z * z / nu);
    }
    return lp;
}

static double dist_student_t(const struct dist_call *c)
{
    return student_t_kernel(c, 0);
}

static double dist_half_student_t(const struct dist_call *c)
{
    return student_t_kernel(c, 1);
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

static double dist_gamma(const struct dist_call *c)
{
    struct memo lga = MEMO_INIT, dga = MEMO_INIT;
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), b = V(2), ly, lb;

        if (!(a > 0.0) || !(b > 0.0) || !(y > 0.0))
            REJECT
        ly = log(y);
        lb = log(b);
        LP(a * lb - memo(&lga, rmc_lgamma, a) + (a - 1.0) * ly - b * y);
        G(0, (a - 1.0) / y - b);
        G(1, lb - memo(&dga, rmc_digamma, a) + ly);
        G(2, a / b - y);
    }
    return lp;
}

static double dist_inv_gamma(const struct dist_call *c)
{
    struct memo lga = MEMO_INIT, dga = MEMO_INIT;
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), b = V(2), ly, lb;

        if (!(a > 0.0) || !(b > 0.0) || !(y > 0.0))
            REJECT
        ly = log(y);
        lb = log(b);
        LP(a * lb - memo(&lga, rmc_lgamma, a) - (a + 1.0) * ly - b / y);
        G(0, (b / y - (a + 1.0)) / y);
        G(1, lb - memo(&dga, rmc_digamma, a) - ly);
        G(2, a / b - 1.0 / y);
    }
    return lp;
}

static double dist_lognormal(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), sigma = V(2), inv = 1.0 / sigma, ly, z;

        if (!(sigma > 0.0) || !(y > 0.0))
            REJECT
        ly = log(y);
        z = (ly - V(1)) * inv;
        LP(-0.5 * z * z - log(sigma) - ly - LOG_SQRT_2PI);
        G(0, -(z * inv + 1.0) / y);
        G(1, z * inv);
        G(2, (z * z - 1.0) * inv);
    }
    return lp;
}

static double dist_beta(const struct dist_call *c)
{
    double lp = 0.0, ma = NAN, mb = NAN, lbeta = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), b = V(2), ly, l1y;

        if (!(a > 0.0) || !(b > 0.0) || !(y > 0.0 && y < 1.0))
            REJECT
        if (a != ma || b != mb) {
            ma = a;
            mb = b;
            lbeta = rmc_lbeta(a, b);
        }
        ly = log(y);
        l1y = log1p(-y);
        LP((a - 1.0) * ly + (b - 1.0) * l1y - lbeta);
        G(0, (a - 1.0) / y - (b - 1.0) / (1.0 - y));
        if (c->g[1] || c->g[2]) {
            double dab = rmc_digamma(a + b);

            G(1, ly - rmc_digamma(a) + dab);
            G(2, l1y - rmc_digamma(b) + dab);
        }
    }
    return lp;
}

static double dist_laplace(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double s = V(2), inv = 1.0 / s, d = V(0) - V(1), ad = fabs(d);
        double sign = (d > 0.0) - (d < 0.0);

        if (!(s > 0.0))
            REJECT
        LP(-LOG_2 - log(s) - ad * inv);
        G(0, -sign * inv);
        G(1, sign * inv);
        G(2, (ad * inv - 1.0) * inv);
    }
    return lp;
}

static double dist_logistic(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double s = V(2), inv = 1.0 / s, z = (V(0) - V(1)) * inv, az = fabs(z);
        /* d lp / dz = 1 - 2 logistic(z) = -tanh(z / 2) */
        double t = tanh(0.5 * z);

        if (!(s > 0.0))
            REJECT
        /* symmetric in z: written in |z| so that exp never overflows */
        LP(-log(s) - az - 2.0 * log1p(exp(-az)));
        G(0, -t * inv);
        G(1, t * inv);
        G(2, (z * t - 1.0) * inv);
    }
    return lp;
}

static double dist_weibull(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), s = V(2), l, p;

        if (!(a > 0.0) || !(s > 0.0) || !(y > 0.0))
            REJECT
        l = log(y / s);
        p = exp(a * l); /* (y / sigma)^alpha */
        LP(log(a) - log(s) + (a - 1.0) * l - p);
        G(0, (a - 1.0 - a * p) / y);
        G(1, 1.0 / a + l - p * l);
        G(2, a * (p - 1.0) / s);
    }
    return lp;
}

/* A count: a non-negative integer, small enough to be exact as a double. */
static int is_count(double y)
{
    return y >= 0.0 && y <= 9007199254740992.0 && y == floor(y);
}

/* The data-only log factor of element i of a count distribution: made once at bind time
 * into aux (dist_aux_fill), or computed here when a data-only statement is folded. */
#define COUNT_TERM(fallback) (c->in && c->in->aux ? c->in->aux[i] : (fallback))

/* Binomial and binomial-logit share the kernel; logit tells which the third operand is. */
static double binomial_kernel(const struct dist_call *c, int logit)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), n = V(1), x = V(2), t, p;

        if (!is_count(y) || !is_count(n) || y > n || (!logit && !(x >= 0.0 && x <= 1.0)))
            REJECT
        t = COUNT_TERM(rmc_lchoose(n, y));
        if (logit) {
            /* log p = -log(1 + exp(-x)), log(1 - p) = -log(1 + exp(x)) */
            t -= y * rmc_log1p_exp(-x) + (n - y) * rmc_log1p_exp(x);
            p = x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
        } else {
            /* skipping a zero count keeps p = 0 or 1 from making 0 * log 0 */
            if (y > 0.0)
                t += y * log(x);
            if (n > y)
                t += (n - y) * log1p(-x);
            p = x;
        }
        if (!(t > -INFINITY))
            REJECT
        LP(t);
        if (logit)
            G(2, y - n * p);
        else
            G(2, (y > 0.0 ? y / p : 0.0) - (n > y ? (n - y) / (1.0 - p) : 0.0));
    }
    return lp;
}

static double dist_binomial(const struct dist_call *c)
{
    return binomial_kernel(c, 0);
}

static double dist_binomial_logit(const struct dist_call *c)
{
    return binomial_kernel(c, 1);
}

static double dist_poisson(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), lambda = V(1), t;

        if (!is_count(y) || !(lambda >= 0.0))
            REJECT
        t = COUNT_TERM(-rmc_lgamma(y + 1.0)) - lambda;
        if (y > 0.0)
            t += y * log(lambda);
        if (!(t > -INFINITY))
            REJECT
        LP(t);
        G(1, (y > 0.0 ? y / lambda : 0.0) - 1.0);
    }
    return lp;
}

static double dist_poisson_log(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), a = V(1), rate = exp(a), t;

        if (!is_count(y))
            REJECT
        t = COUNT_TERM(-rmc_lgamma(y + 1.0)) - rate;
        if (y > 0.0)
            t += y * a;
        if (!(t > -INFINITY))
            REJECT
        LP(t);
        G(1, y - rate);
    }
    return lp;
}

/*
 * Negative binomial in Stan's mean parameterisation, mu = exp(eta) for the log form:
 *   lp = lgamma(y + phi) - lgamma(phi) - lgamma(y + 1)
 *        + y log(mu / (mu + phi)) + phi log(phi / (mu + phi)),
 * with the two logarithms written as -log1p of a ratio so that a large phi (near the
 * Poisson limit) does not cancel. With q = mu / (mu + phi):
 *   d lp / d mu  = y / mu - (y + phi) / (mu + phi),  d lp / d eta = y - (y + phi) q,
 *   d lp / d phi = digamma(y + phi) - digamma(phi) + log(1 - q) + (mu - y) / (mu + phi).
 */
static double neg_binomial_2_kernel(const struct dist_call *c, int log_mean)
{
    struct memo lgp = MEMO_INIT, dgp = MEMO_INIT;
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double y = V(0), m = V(1), phi = V(2), lq, l1q, q, t;

        if (!is_count(y) || !(phi > 0.0) || (!log_mean && !(m > 0.0)))
            REJECT
        if (log_mean) {
            double d = m - log(phi); /* log(mu / phi) */

            lq = -rmc_log1p_exp(-d);
            l1q = -rmc_log1p_exp(d);
            q = d >= 0.0 ? 1.0 / (1.0 + exp(-d)) : exp(d) / (1.0 + exp(d));
        } else {
            lq = -log1p(phi / m);
            l1q = -log1p(m / phi);
            q = m / (m + phi);
        }
        t = COUNT_TERM(-rmc_lgamma(y + 1.0)) + rmc_lgamma(y + phi) - memo(&lgp, rmc_lgamma, phi)
            + phi * l1q;
        if (y > 0.0)
            t += y * lq;
        if (!(t > -INFINITY))
            REJECT
        LP(t);
        if (log_mean)
            G(1, y - (y + phi) * q);
        else
            G(1, y / m - (y + phi) / (m + phi));
        /* (mu - y) / (mu + phi) = q - y (1 - q) / phi, which needs no mu */
        G(2, rmc_digamma(y + phi) - memo(&dgp, rmc_digamma, phi) + l1q + q
                 - y * (1.0 - q) / phi);
    }
    return lp;
}

static double dist_neg_binomial_2(const struct dist_call *c)
{
    return neg_binomial_2_kernel(c, 0);
}

static double dist_neg_binomial_2_log(const struct dist_call *c)
{
    return neg_binomial_2_kernel(c, 1);
}

/*
 * Multivariate kernels loop over the value's rows themselves, with sizes from the
 * statement's aux (enum mv_layout). The macros still serve them, with i as the row: a
 * statement sums the rows, an expression would take one log density per row (out[i],
 * weights w[i]). A data-only statement is folded without an inst, so without sizes:
 * check_constant_support adds those at bind time and the kernels give 0 here.
 */

/* Stack scratch of the multivariate normal, enough for K up to this. */
#define MV_STACK 64

struct mv {
    int64_t rows, k, step, row_step;
};

static struct mv mv_layout(const struct dist_call *c)
{
    const double *aux = c->in->aux;
    struct mv m = { (int64_t)aux[MV_ROWS], (int64_t)aux[MV_K], (int64_t)aux[MV_STEP],
                    (int64_t)aux[MV_ROW_STEP] };

    return m;
}

/* Every row outside the support, for a reason shared by all of them (an argument). */
static double reject_rows(const struct dist_call *c, int64_t rows)
{
    for (int64_t i = 0; c->out && i < rows; i++)
        c->out[i] = -INFINITY;
    return -INFINITY;
}

/* log(sum(exp(x[0..k-1]))) without overflow. */
static double log_sum_exp_row(const double *x, int64_t k)
{
    double top = -INFINITY, s = 0.0;

    for (int64_t j = 0; j < k; j++)
        top = x[j] > top ? x[j] : top;
    if (!isfinite(top))
        return top;
    for (int64_t j = 0; j < k; j++)
        s += exp(x[j] - top);
    return top + log(s);
}

/* lp = logits[y] - log_sum_exp(logits); d lp / d logits = onehot(y) - softmax(logits).
 * Shared logits (one row for every observation) take their log_sum_exp and softmax once. */
static double dist_categorical_logit(const struct dist_call *c)
{
    struct mv m;
    const double *eta = c->v[1];
    double *g = c->g[1], lp = 0.0, lse = 0.0, wsum = 0.0;

    if (!c->in)
        return 0.0;
    m = mv_layout(c);
    if (!m.row_step)
        lse = log_sum_exp_row(eta, m.k);
    for (int64_t i = 0; i < c->n; i++) {
        const double *row = eta + i * m.row_step;
        double y = V(0), w = c->w ? c->w[i] : 1.0;
        int64_t k;

        if (m.row_step)
            lse = log_sum_exp_row(row, m.k);
        if (!(y >= 1.0 && y <= (double)m.k && y == floor(y)) || !isfinite(lse))
            REJECT
        k = (int64_t)y - 1;
        LP(row[k] - lse);
        if (!g)
            continue;
        g[i * m.row_step + k] += w;
        if (!m.row_step) {
            wsum += w;
            continue;
        }
        for (int64_t j = 0; j < m.k; j++)
            g[i * m.row_step + j] -= w * exp(row[j] - lse);
    }
    for (int64_t j = 0; g && !m.row_step && j < m.k; j++)
        g[j] -= wsum * exp(eta[j] - lse);
    return lp;
}

/*
 * Per row, with d = y - mu and z = L^-1 d (forward substitution):
 *   lp = -z'z / 2 - sum log L[j][j] - K log sqrt(2 pi).
 * With a = L^-T z (back substitution), d lp / d y = -a, d lp / d mu = a, and, since
 * dz = -L^-1 dL z, d lp / d L[j][l] = a_j z_l on and below the diagonal, less 1 / L[j][j]
 * on it. Only the lower triangle of L is read.
 */
static double dist_multi_normal_cholesky(const struct dist_call *c)
{
    struct mv m;
    const double *y = c->v[0], *mu = c->v[1], *L = c->v[2];
    double *gy = c->g[0], *gmu = c->g[1], *gL = c->g[2];
    double stack[2 * MV_STACK], *z = stack, *a, lp = 0.0, logdet = 0.0, wsum = 0.0;
    int64_t K;

    if (!c->in)
        return 0.0;
    m = mv_layout(c);
    K = m.k;
    for (int64_t j = 0; j < K; j++) {
        if (!(L[j * K + j] > 0.0))
            return reject_rows(c, m.rows);
        logdet += log(L[j * K + j]);
    }
    /* An evaluation allocates nothing, except scratch for a rare large K; without it the
     * position is rejected (NaN reads as -inf). */
    if (K > MV_STACK && !(z = malloc(2 * (size_t)K * sizeof *z)))
        return NAN;
    a = z + K;

    for (int64_t i = 0; i < m.rows; i++) {
        const double *yr = y + i * K, *mr = mu + i * m.row_step;
        double q = 0.0, w = c->w ? c->w[i] : 1.0;

        for (int64_t j = 0; j < K; j++) {
            double s = yr[j] - mr[j * m.step];

            for (int64_t l = 0; l < j; l++)
                s -= L[j * K + l] * z[l];
            z[j] = s / L[j * K + j];
            q += z[j] * z[j];
        }
        LP(-0.5 * q - logdet - (double)K * LOG_SQRT_2PI);
        if (!gy && !gmu && !gL)
            continue;

        for (int64_t j = K - 1; j >= 0; j--) {
            double s = z[j];

            for (int64_t l = j + 1; l < K; l++)
                s -= L[l * K + j] * a[l];
            a[j] = s / L[j * K + j];
        }
        for (int64_t j = 0; j < K; j++) {
            if (gy)
                gy[i * K + j] -= w * a[j];
            if (gmu)
                gmu[i * m.row_step + j * m.step] += w * a[j];
            for (int64_t l = 0; gL && l <= j; l++)
                gL[j * K + l] += w * a[j] * z[l];
        }
        wsum += w;
    }
    for (int64_t j = 0; gL && j < K; j++)
        gL[j * K + j] -= wsum / L[j * K + j];
    if (z != stack)
        free(z);
    return lp;
}

/*
 * Per row: lp = lgamma(A) - sum lgamma(alpha_j) + sum (alpha_j - 1) log theta_j, with
 * A = sum alpha_j; d lp / d theta_j = (alpha_j - 1) / theta_j and
 * d lp / d alpha_j = digamma(A) - digamma(alpha_j) + log theta_j. One alpha row for every
 * value row (row step 0) takes its constant and digammas once.
 */
static double dist_dirichlet(const struct dist_call *c)
{
    struct mv m;
    const double *th = c->v[0], *al = c->v[1];
    double *gt = c->g[0], *ga = c->g[1], lp = 0.0, cst = 0.0, A = 0.0, wsum = 0.0;
    int alpha_ok = 0;

    if (!c->in)
        return 0.0;
    m = mv_layout(c);
    for (int64_t i = 0; i < m.rows; i++) {
        const double *t = th + i * m.k, *a = al + i * m.row_step;
        double sum = 0.0, lr = 0.0, w = c->w ? c->w[i] : 1.0;
        int theta_ok = 1;

        if (i == 0 || m.row_step) {
            alpha_ok = 1;
            A = 0.0;
            cst = 0.0;
            for (int64_t j = 0; j < m.k; j++) {
                double aj = a[j * m.step];

                alpha_ok &= aj > 0.0;
                A += aj;
                cst -= rmc_lgamma(aj);
            }
            cst += rmc_lgamma(A);
        }
        for (int64_t j = 0; j < m.k; j++) {
            theta_ok &= t[j] > 0.0;
            sum += t[j];
            lr += (a[j * m.step] - 1.0) * log(t[j]);
        }
        if (!alpha_ok || !theta_ok || !(fabs(sum - 1.0) <= DIST_UNIT_TOL))
            REJECT
        LP(cst + lr);
        for (int64_t j = 0; gt && j < m.k; j++)
            gt[i * m.k + j] += w * (a[j * m.step] - 1.0) / t[j];
        if (!ga)
            continue;
        for (int64_t j = 0; j < m.k; j++) {
            double d = log(t[j]);

            if (m.row_step)
                d += rmc_digamma(A) - rmc_digamma(a[j * m.step]);
            ga[i * m.row_step + j * m.step] += w * d;
        }
        wsum += w;
    }
    if (ga && !m.row_step) {
        double dA = rmc_digamma(A);

        for (int64_t j = 0; j < m.k; j++)
            ga[j * m.step] += wsum * (dA - rmc_digamma(al[j * m.step]));
    }
    return lp;
}

/* Whether L (K x K, row-major) is the Cholesky factor of a correlation matrix: lower
 * triangular, positive diagonal, rows of unit length. If not, and why is not NULL, says
 * where it fails. */
static int corr_cholesky_ok(const double *L, int64_t K, char *why, size_t cap)
{
    for (int64_t j = 0; j < K; j++) {
        double norm2 = 0.0;

        for (int64_t l = j + 1; l < K; l++) {
            if (L[j * K + l] != 0.0) {
                if (why)
                    snprintf(why, cap, "has %g at index [%lld, %lld], above the diagonal; a "
                             "Cholesky factor is lower triangular", L[j * K + l],
                             (long long)j, (long long)l);
                return 0;
            }
        }
        if (!(L[j * K + j] > 0.0)) {
            if (why)
                snprintf(why, cap, "has %g on the diagonal at index [%lld, %lld]; it must be "
                         "positive", L[j * K + j], (long long)j, (long long)j);
            return 0;
        }
        for (int64_t l = 0; l <= j; l++)
            norm2 += L[j * K + l] * L[j * K + l];
        if (!(fabs(sqrt(norm2) - 1.0) <= DIST_UNIT_TOL)) {
            if (why)
                snprintf(why, cap, "has row %lld of length %.10g, not 1: it is not the "
                         "Cholesky factor of a correlation matrix", (long long)j, sqrt(norm2));
            return 0;
        }
    }
    return 1;
}

/*
 * The LKJ density of R = L L' is det(R)^(eta - 1) / Z with, from the C-vine construction
 * (partial correlations at level k, K - k of them, independent Beta(b_k, b_k) on (-1, 1)),
 *   Z = prod_{k=1}^{K-1} (2^(2 b_k - 1) B(b_k, b_k))^(K - k),  b_k = eta + (K - 1 - k) / 2.
 * The map from L's free entries to R's has Jacobian prod_j L[j][j]^(K - 1 - j) (zero-based
 * j), so with det R = prod L[j][j]^2:
 *   lp = -log Z + sum_{j >= 1} (K - 3 - j + 2 eta) log L[j][j].
 */
static double lkj_log_norm(double eta, int64_t K, double *deta)
{
    double lz = 0.0, d = 0.0;

    for (int64_t k = 1; k < K; k++) {
        double b = eta + 0.5 * (double)(K - 1 - k), n = (double)(K - k);

        lz += n * ((2.0 * b - 1.0) * LOG_2 + rmc_lbeta(b, b));
        if (deta)
            d += n * 2.0 * (LOG_2 + rmc_digamma(b) - rmc_digamma(2.0 * b));
    }
    if (deta)
        *deta = d;
    return lz;
}

static double dist_lkj_corr_cholesky(const struct dist_call *c)
{
    struct mv m;
    const double *L = c->v[0];
    double eta = c->v[1][0], *gL = c->g[0], *ge = c->g[1], lp = 0.0, lsum = 0.0, lr, dz = 0.0;

    if (!c->in)
        return 0.0;
    m = mv_layout(c);
    /* one "row": the whole matrix, so that the macros address element 0 */
    for (int64_t i = 0; i < 1; i++) {
        double w = c->w ? c->w[0] : 1.0;

        if (!(eta > 0.0) || !corr_cholesky_ok(L, m.k, NULL, 0))
            REJECT
        lr = -lkj_log_norm(eta, m.k, ge ? &dz : NULL);
        for (int64_t j = 1; j < m.k; j++) {
            double d = L[j * m.k + j], e = (double)(m.k - 3 - j) + 2.0 * eta;

            lr += e * log(d);
            lsum += log(d);
            if (gL)
                gL[j * m.k + j] += w * e / d;
        }
        LP(lr);
        if (ge)
            ge[0] += w * (2.0 * lsum - dz);
    }
    return lp;
}

#undef V
#undef LP
#undef REJECT
#undef G
#undef COUNT_TERM

static void shape_name(const struct inst *in, char *buf, size_t cap)
{
    if (in->ndim == 0)
        snprintf(buf, cap, "a scalar");
    else if (in->ndim == 1)
        snprintf(buf, cap, "vector[%lld]", (long long)in->dims[0]);
    else
        snprintf(buf, cap, "matrix[%lld, %lld]", (long long)in->dims[0],
                 (long long)in->dims[1]);
}

/* The event size of a value of rows: a vector's length, a matrix's columns. */
static int64_t event_size(const struct inst *v)
{
    return v->ndim == 2 ? v->dims[1] : v->n;
}

/* A value of one or more rows (a vector, or a matrix of rows) against an argument that is
 * a scalar, one row, or one row per value row (mu, alpha). */
static int rows_and_spread(const struct inst *v, const struct inst *a, const char *name,
                           char *why, size_t cap)
{
    char s1[64], s2[64];
    int64_t K = event_size(v);

    shape_name(v, s1, sizeof s1);
    shape_name(a, s2, sizeof s2);
    if (v->ndim == 0 || K < 1) {
        snprintf(why, cap, "the value must be a vector or a matrix of rows, got %s", s1);
        return 1;
    }
    if (a->ndim == 0 || (a->ndim == 1 && a->n == K) ||
        (a->ndim == 2 && v->ndim == 2 && a->dims[0] == v->dims[0] && a->dims[1] == K))
        return 0;
    snprintf(why, cap, "%s must be a scalar, a vector of the value's %lld columns, or a matrix "
             "shaped like the value (%s), got %s", name, (long long)K, s1, s2);
    return 1;
}

static int shapes_multi_normal(const struct inst *const *shp, char *why, size_t cap)
{
    const struct inst *L = shp[2];
    int64_t K = event_size(shp[0]);
    char s[64];

    if (rows_and_spread(shp[0], shp[1], "mu", why, cap))
        return 1;
    if (L->ndim != 2 || L->dims[0] != K || L->dims[1] != K) {
        shape_name(L, s, sizeof s);
        snprintf(why, cap, "L must be a %lld x %lld matrix (the value has %lld columns), "
                 "got %s", (long long)K, (long long)K, (long long)K, s);
        return 1;
    }
    return 0;
}

static int shapes_dirichlet(const struct inst *const *shp, char *why, size_t cap)
{
    return rows_and_spread(shp[0], shp[1], "alpha", why, cap);
}

static int shapes_categorical(const struct inst *const *shp, char *why, size_t cap)
{
    const struct inst *y = shp[0], *eta = shp[1];
    char s1[64], s2[64];

    shape_name(y, s1, sizeof s1);
    shape_name(eta, s2, sizeof s2);
    if (y->ndim > 1) {
        snprintf(why, cap, "the value must be a scalar or a vector of categories, got %s", s1);
        return 1;
    }
    if ((eta->ndim == 1 && eta->n >= 1) || (eta->ndim == 2 && eta->dims[0] == y->n &&
                                            eta->dims[1] >= 1))
        return 0;
    snprintf(why, cap, "logits must be a vector of K, or a matrix with one row per "
             "observation (%lld rows), got %s", (long long)y->n, s2);
    return 1;
}

static int shapes_lkj(const struct inst *const *shp, char *why, size_t cap)
{
    const struct inst *L = shp[0];
    char s[64];

    if (L->ndim != 2 || L->dims[0] != L->dims[1] || L->n < 1) {
        shape_name(L, s, sizeof s);
        snprintf(why, cap, "the value must be a square matrix, got %s", s);
        return 1;
    }
    if (shp[1]->n != 1) {
        shape_name(shp[1], s, sizeof s);
        snprintf(why, cap, "eta must be a scalar, got %s", s);
        return 1;
    }
    return 0;
}

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
    [RMC_DIST_GAMMA] = { "gamma", 2, { "alpha", "beta" }, 1u << 0 | 1u << 1, 0,
                         SUPPORT_POSITIVE, 0, dist_gamma },
    [RMC_DIST_INV_GAMMA] = { "inv_gamma", 2, { "alpha", "beta" }, 1u << 0 | 1u << 1, 0,
                             SUPPORT_POSITIVE, 0, dist_inv_gamma },
    [RMC_DIST_LOGNORMAL] = { "lognormal", 2, { "mu", "sigma" }, 1u << 1, 0, SUPPORT_POSITIVE,
                             0, dist_lognormal },
    [RMC_DIST_BETA] = { "beta", 2, { "a", "b" }, 1u << 0 | 1u << 1, 0, SUPPORT_UNIT_OPEN, 0,
                        dist_beta },
    [RMC_DIST_LAPLACE] = { "laplace", 2, { "mu", "scale" }, 1u << 1, 0, SUPPORT_REAL, 0,
                           dist_laplace },
    [RMC_DIST_LOGISTIC] = { "logistic", 2, { "mu", "scale" }, 1u << 1, 0, SUPPORT_REAL, 0,
                            dist_logistic },
    [RMC_DIST_WEIBULL] = { "weibull", 2, { "alpha", "sigma" }, 1u << 0 | 1u << 1, 0,
                           SUPPORT_POSITIVE, 0, dist_weibull },
    [RMC_DIST_HALF_STUDENT_T] = { "half_student_t", 2, { "nu", "sigma" }, 1u << 0 | 1u << 1, 0,
                                  SUPPORT_NONNEGATIVE, 0, dist_half_student_t },
    [RMC_DIST_BINOMIAL] = { "binomial", 2, { "N", "p" }, 0, 1u << 1, SUPPORT_COUNT, 1,
                            dist_binomial, .count = 1u << 0 },
    [RMC_DIST_BINOMIAL_LOGIT] = { "binomial_logit", 2, { "N", "alpha" }, 0, 0, SUPPORT_COUNT, 1,
                                  dist_binomial_logit, .count = 1u << 0 },
    [RMC_DIST_POISSON] = { "poisson", 1, { "lambda" }, 1u << 0, 0, SUPPORT_COUNT, 1,
                           dist_poisson },
    [RMC_DIST_POISSON_LOG] = { "poisson_log", 1, { "alpha" }, 0, 0, SUPPORT_COUNT, 1,
                               dist_poisson_log },
    [RMC_DIST_NEG_BINOMIAL_2] = { "neg_binomial_2", 2, { "mu", "phi" }, 1u << 0 | 1u << 1, 0,
                                  SUPPORT_COUNT, 1, dist_neg_binomial_2 },
    [RMC_DIST_NEG_BINOMIAL_2_LOG] = { "neg_binomial_2_log", 2, { "eta", "phi" }, 1u << 1, 0,
                                      SUPPORT_COUNT, 1, dist_neg_binomial_2_log },
    [RMC_DIST_CATEGORICAL_LOGIT] = { "categorical_logit", 1, { "logits" }, 0, 0,
                                     SUPPORT_CATEGORY, 1, dist_categorical_logit,
                                     shapes_categorical },
    [RMC_DIST_MULTI_NORMAL_CHOLESKY] = { "multi_normal_cholesky", 2, { "mu", "L" }, 0, 0,
                                         SUPPORT_REAL, 0, dist_multi_normal_cholesky,
                                         shapes_multi_normal, .rowwise = 1 },
    [RMC_DIST_DIRICHLET] = { "dirichlet", 1, { "alpha" }, 1u << 0, 0, SUPPORT_SIMPLEX, 0,
                             dist_dirichlet, shapes_dirichlet, .rowwise = 1 },
    [RMC_DIST_LKJ_CORR_CHOLESKY] = { "lkj_corr_cholesky", 1, { "eta" }, 1u << 0, 0,
                                     SUPPORT_CHOLESKY_CORR, 0, dist_lkj_corr_cholesky,
                                     shapes_lkj, .rowwise = 1 },
};

const struct dist_info *dist_info(int32_t dist)
{
    return dist >= 0 && dist < RMC_DIST_COUNT && registry[dist].lpdf ? &registry[dist] : NULL;
}

double dist_eval(int32_t dist, const struct dist_call *c)
{
    /* No observations have log density 0; the densities' scalar fast paths read the first
     * element of a broadcast argument, which an empty argument does not have (found by
     * the fuzzer: normal(empty | empty, empty) read past its buffer). */
    if (c->n == 0)
        return 0.0;
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

int64_t dist_aux_size(int32_t dist, const struct inst *const *shp)
{
    switch (dist) {
    case RMC_DIST_CATEGORICAL_LOGIT:
    case RMC_DIST_MULTI_NORMAL_CHOLESKY:
    case RMC_DIST_DIRICHLET:
    case RMC_DIST_LKJ_CORR_CHOLESKY:
        return MV_LAYOUT;
    case RMC_DIST_BINOMIAL:
    case RMC_DIST_BINOMIAL_LOGIT:
    case RMC_DIST_POISSON:
    case RMC_DIST_POISSON_LOG:
    case RMC_DIST_NEG_BINOMIAL_2:
    case RMC_DIST_NEG_BINOMIAL_2_LOG:
        return shp[0]->dynamic ? 0 : shp[0]->n;
    }
    return 0;
}

void dist_aux_fill(int32_t dist, const struct inst *const *shp, double *aux)
{
    const struct inst *v = shp[0], *a = shp[1];

    switch (dist) {
    case RMC_DIST_CATEGORICAL_LOGIT:
        aux[MV_ROWS] = (double)v->n;
        aux[MV_K] = (double)event_size(a);
        aux[MV_STEP] = 1.0;
        aux[MV_ROW_STEP] = a->ndim == 2 ? aux[MV_K] : 0.0;
        return;
    case RMC_DIST_MULTI_NORMAL_CHOLESKY:
    case RMC_DIST_DIRICHLET:
        aux[MV_ROWS] = v->ndim == 2 ? (double)v->dims[0] : 1.0;
        aux[MV_K] = (double)event_size(v);
        aux[MV_STEP] = a->n > 1 ? 1.0 : 0.0;
        aux[MV_ROW_STEP] = a->ndim == 2 ? aux[MV_K] : 0.0;
        return;
    case RMC_DIST_LKJ_CORR_CHOLESKY:
        aux[MV_ROWS] = 1.0;
        aux[MV_K] = (double)v->dims[0];
        aux[MV_STEP] = aux[MV_ROW_STEP] = 0.0;
        return;
    }

    /* counts: the kernels reject a bad count before reading its factor, so any value
     * will do for one (an expression's value is not checked at bind time) */
    for (int64_t i = 0; i < v->n; i++) {
        int binomial = dist == RMC_DIST_BINOMIAL || dist == RMC_DIST_BINOMIAL_LOGIT;
        double y = v->cval[i], n = binomial ? a->cval[a->n > 1 ? i : 0] : 0.0;

        if (!is_count(y) || (binomial && !(is_count(n) && y <= n)))
            aux[i] = 0.0;
        else
            aux[i] = binomial ? rmc_lchoose(n, y) : -rmc_lgamma(y + 1.0);
    }
}

int32_t dist_check_data(int32_t dist, const struct inst *const *shp, int observed, char *why,
                        size_t cap)
{
    const struct inst *v = shp[0];
    int check_value = observed && !v->dynamic;

    switch (dist) {
    case RMC_DIST_BINOMIAL:
    case RMC_DIST_BINOMIAL_LOGIT: {
        const struct inst *n = shp[1];

        for (int64_t i = 0; check_value && !n->dynamic && i < v->n; i++) {
            double trials = n->cval[n->n > 1 ? i : 0];

            if (v->cval[i] > trials) {
                snprintf(why, cap, "has %g at index %lld, more than its N = %g trials",
                         v->cval[i], (long long)i, trials);
                return 0;
            }
        }
        return -1;
    }
    case RMC_DIST_CATEGORICAL_LOGIT: {
        int64_t K = event_size(shp[1]);

        for (int64_t i = 0; check_value && i < v->n; i++) {
            double y = v->cval[i];

            if (!(y >= 1.0 && y <= (double)K && y == floor(y))) {
                snprintf(why, cap, "has %g at index %lld; categories are the integers 1 to "
                         "K = %lld", y, (long long)i, (long long)K);
                return 0;
            }
        }
        return -1;
    }
    case RMC_DIST_DIRICHLET: {
        int64_t K = event_size(v), rows = v->n / K;

        for (int64_t r = 0; check_value && r < rows; r++) {
            const double *t = v->cval + r * K;
            double sum = 0.0;

            for (int64_t j = 0; j < K; j++) {
                if (!(t[j] > 0.0)) {
                    snprintf(why, cap, "has %g at index %lld; simplex entries must be "
                             "positive", t[j], (long long)(r * K + j));
                    return 0;
                }
                sum += t[j];
            }
            if (!(fabs(sum - 1.0) <= DIST_UNIT_TOL)) {
                if (v->ndim == 2)
                    snprintf(why, cap, "has row %lld summing to %.10g, not 1: not on the "
                             "simplex", (long long)r, sum);
                else
                    snprintf(why, cap, "sums to %.10g, not 1: not on the simplex", sum);
                return 0;
            }
        }
        return -1;
    }
    case RMC_DIST_LKJ_CORR_CHOLESKY:
        return check_value && !corr_cholesky_ok(v->cval, v->dims[0], why, cap) ? 0 : -1;
    case RMC_DIST_MULTI_NORMAL_CHOLESKY: {
        const struct inst *L = shp[2];
        int64_t K = event_size(v);

        for (int64_t j = 0; !L->dynamic && j < K; j++) {
            for (int64_t l = j + 1; l < K; l++) {
                if (L->cval[j * K + l] != 0.0) {
                    snprintf(why, cap, "has %g at index [%lld, %lld], above the diagonal; a "
                             "Cholesky factor is lower triangular", L->cval[j * K + l],
                             (long long)j, (long long)l);
                    return 2;
                }
            }
            if (!(L->cval[j * K + j] > 0.0)) {
                snprintf(why, cap, "has %g on the diagonal at index [%lld, %lld]; it must be "
                         "positive", L->cval[j * K + j], (long long)j, (long long)j);
                return 2;
            }
        }
        return -1;
    }
    }
    return -1;
}
