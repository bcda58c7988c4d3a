/* eval.c - the CPU evaluator: a forward sweep over the dynamic instructions, with
 * distribution statements writing their partials straight into the adjoints, then a
 * reverse sweep through the operations. Nothing is allocated per evaluation. */
#define _DEFAULT_SOURCE /* lgamma_r: glibc's lgamma writes the global signgam */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "model.h"
#include "program.h"
#include "util.h"

#define LOG_SQRT_2PI 0.91893853320467274178
#define LOG_PI 1.14472988584940017414
#define LOG_2 0.69314718055994530942

static double lgamma_safe(double x)
{
    int sign;

    return lgamma_r(x, &sign);
}

/* Digamma by recurrence up to x >= 6, then the asymptotic series. */
double rmc_digamma(double x)
{
    double r = 0.0, f;

    if (x <= 0.0 && floor(x) == x)
        return NAN;
    if (x < 0.0)
        return rmc_digamma(1.0 - x) - M_PI / tan(M_PI * x);
    while (x < 6.0) {
        r -= 1.0 / x;
        x += 1.0;
    }
    f = 1.0 / (x * x);
    return r + log(x) - 0.5 / x
           - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

static double log1p_exp(double a)
{
    return a > 0.0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

/* ------------------------------------------------------------ elementwise operations */

/* Expand an elementwise loop once per broadcast pattern, so each loop has unit or zero
 * strides the compiler can see and vectorise. */
#define ELEMENTWISE(n, sa, sb, expr)                                                    \
    do {                                                                                \
        if ((sa) && (sb)) {                                                             \
            for (int64_t i = 0; i < (n); i++) {                                         \
                const double x = a[i], y = b[i];                                        \
                o[i] = (expr);                                                          \
            }                                                                           \
        } else if (sa) {                                                                \
            const double y = b[0];                                                      \
            for (int64_t i = 0; i < (n); i++) {                                         \
                const double x = a[i];                                                  \
                o[i] = (expr);                                                          \
            }                                                                           \
        } else if (sb) {                                                                \
            const double x = a[0];                                                      \
            for (int64_t i = 0; i < (n); i++) {                                         \
                const double y = b[i];                                                  \
                o[i] = (expr);                                                          \
            }                                                                           \
        } else {                                                                        \
            const double x = a[0], y = b[0];                                            \
            o[0] = (expr);                                                              \
        }                                                                               \
    } while (0)

void op_forward(int32_t op, int64_t n, const double *a, int64_t sa, const double *b,
                int64_t sb, double *o)
{
    switch (op) {
    case RMC_OP_ADD: ELEMENTWISE(n, sa, sb, x + y); break;
    case RMC_OP_SUB: ELEMENTWISE(n, sa, sb, x - y); break;
    case RMC_OP_MUL: ELEMENTWISE(n, sa, sb, x * y); break;
    case RMC_OP_DIV: ELEMENTWISE(n, sa, sb, x / y); break;
    case RMC_OP_POW: ELEMENTWISE(n, sa, sb, pow(x, y)); break;
    case RMC_OP_NEG: for (int64_t i = 0; i < n; i++) o[i] = -a[i]; break;
    case RMC_OP_EXP: for (int64_t i = 0; i < n; i++) o[i] = exp(a[i]); break;
    case RMC_OP_LOG: for (int64_t i = 0; i < n; i++) o[i] = log(a[i]); break;
    case RMC_OP_LOG1P: for (int64_t i = 0; i < n; i++) o[i] = log1p(a[i]); break;
    case RMC_OP_SQRT: for (int64_t i = 0; i < n; i++) o[i] = sqrt(a[i]); break;
    case RMC_OP_SQUARE: for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i]; break;
    case RMC_OP_LOGISTIC:
        for (int64_t i = 0; i < n; i++)
            o[i] = a[i] >= 0 ? 1.0 / (1.0 + exp(-a[i])) : exp(a[i]) / (1.0 + exp(a[i]));
        break;
    case RMC_OP_SUM: {
        double s = 0.0;

        for (int64_t i = 0; i < n; i++)
            s += a[i];
        o[0] = s;
        break;
    }
    case RMC_OP_DOT: {
        double s = 0.0;

        for (int64_t i = 0; i < n; i++)
            s += a[i] * b[i];
        o[0] = s;
        break;
    }
    }
}

/* Add d(out)/d(input) * adjoint to the input's adjoint, for a broadcast input of stride s:
 * a scalar input (s == 0) sums its contributions first, in four interleaved partial sums
 * so the loop is not bound by the latency of one chain of additions. The order is fixed,
 * so results stay bit-reproducible. */
#define ACCUMULATE(ga, s, n, expr)                                                      \
    do {                                                                                \
        if (!(ga))                                                                      \
            break;                                                                      \
        if (s) {                                                                        \
            for (int64_t i = 0; i < (n); i++)                                           \
                (ga)[i] += (expr);                                                      \
        } else {                                                                        \
            double acc_[4] = { 0.0, 0.0, 0.0, 0.0 };                                    \
            int64_t i = 0;                                                              \
            for (; i + 4 <= (n); i += 4) {                                              \
                acc_[0] += (expr);                                                      \
                i++;                                                                    \
                acc_[1] += (expr);                                                      \
                i++;                                                                    \
                acc_[2] += (expr);                                                      \
                i++;                                                                    \
                acc_[3] += (expr);                                                      \
                i -= 3;                                                                 \
            }                                                                           \
            for (; i < (n); i++)                                                        \
                acc_[0] += (expr);                                                      \
            (ga)[0] += (acc_[0] + acc_[1]) + (acc_[2] + acc_[3]);                       \
        }                                                                               \
    } while (0)

/* Reverse sweep of one elementwise or reduction op. go is the output's adjoint; ga, gb
 * the inputs' adjoints, NULL for data-only inputs. */
static void op_backward(int32_t op, int64_t n, const double *a, int64_t sa, double *ga,
                        const double *b, int64_t sb, double *gb, const double *o,
                        const double *go)
{
    switch (op) {
    case RMC_OP_ADD:
        ACCUMULATE(ga, sa, n, go[i]);
        ACCUMULATE(gb, sb, n, go[i]);
        break;
    case RMC_OP_SUB:
        ACCUMULATE(ga, sa, n, go[i]);
        ACCUMULATE(gb, sb, n, -go[i]);
        break;
    case RMC_OP_MUL:
        if (sb) {
            ACCUMULATE(ga, sa, n, go[i] * b[i]);
        } else {
            ACCUMULATE(ga, sa, n, go[i] * b[0]);
        }
        if (sa) {
            ACCUMULATE(gb, sb, n, go[i] * a[i]);
        } else {
            ACCUMULATE(gb, sb, n, go[i] * a[0]);
        }
        break;
    case RMC_OP_DIV:
        ACCUMULATE(ga, sa, n, go[i] / b[i * sb]);
        ACCUMULATE(gb, sb, n, -go[i] * o[i] / b[i * sb]);
        break;
    case RMC_OP_POW:
        ACCUMULATE(ga, sa, n, go[i] * b[i * sb] * pow(a[i * sa], b[i * sb] - 1.0));
        ACCUMULATE(gb, sb, n, a[i * sa] > 0 ? go[i] * o[i] * log(a[i * sa]) : 0.0);
        break;
    case RMC_OP_NEG: ACCUMULATE(ga, 1, n, -go[i]); break;
    case RMC_OP_EXP: ACCUMULATE(ga, 1, n, go[i] * o[i]); break;
    case RMC_OP_LOG: ACCUMULATE(ga, 1, n, go[i] / a[i]); break;
    case RMC_OP_LOG1P: ACCUMULATE(ga, 1, n, go[i] / (1.0 + a[i])); break;
    case RMC_OP_SQRT: ACCUMULATE(ga, 1, n, go[i] * 0.5 / o[i]); break;
    case RMC_OP_SQUARE: ACCUMULATE(ga, 1, n, go[i] * 2.0 * a[i]); break;
    case RMC_OP_LOGISTIC: ACCUMULATE(ga, 1, n, go[i] * o[i] * (1.0 - o[i])); break;
    case RMC_OP_SUM: ACCUMULATE(ga, 1, n, go[0]); break;
    case RMC_OP_DOT:
        ACCUMULATE(ga, 1, n, go[0] * b[i]);
        ACCUMULATE(gb, 1, n, go[0] * a[i]);
        break;
    }
}

/* ------------------------------------------------------------ distributions */

/* One distribution statement: value v[0] and arguments v[1..], each with a stride (0 for
 * a scalar broadcast) and an adjoint g[k] (NULL when data-only). */
struct dist_call {
    int64_t n;
    const double *v[4];
    int64_t s[4];
    double *g[4];
    const struct inst *in; /* the statement: bind-time precomputations (aux, cterm) */
};

#define V(k) (c->v[k][i * c->s[k]])

/* Add partial d to the adjoint of operand k at element i. */
#define G(k, d)                                                                         \
    do {                                                                                \
        if (c->g[k])                                                                    \
            c->g[k][i * c->s[k]] += (d);                                                \
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

    if (c->s[2] == 0)
        return normal_scalar_sigma(c);
    if (c->in && c->in->aux)
        return normal_data_sigma(c);
    for (int64_t i = 0; i < c->n; i++) {
        double sigma = V(2), inv = 1.0 / sigma, z = (V(0) - V(1)) * inv;

        if (!(sigma > 0.0))
            return -INFINITY;
        lp += -0.5 * z * z - log(sigma) - LOG_SQRT_2PI;
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
            return -INFINITY;
        lp += LOG_2 - 0.5 * z * z - log(sigma) - LOG_SQRT_2PI;
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
            return -INFINITY;
        lp += -LOG_PI - log(s) - log1p(z * z) + (half ? LOG_2 : 0.0);
        G(0, -2.0 * z * q * inv);
        if (!half)
            G(1, 2.0 * z * q * inv);
        G(ks, (-1.0 + 2.0 * z * z * q) * inv);
    }
    return lp;
}

static double dist_student_t(const struct dist_call *c)
{
    double lp = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        double nu = V(1), mu = V(2), s = V(3), inv = 1.0 / s;
        double z = (V(0) - mu) * inv, r = z * z / nu, w = (nu + 1.0) / (nu + z * z);

        if (!(s > 0.0) || !(nu > 0.0))
            return -INFINITY;
        lp += lgamma_safe(0.5 * (nu + 1.0)) - lgamma_safe(0.5 * nu) - 0.5 * log(nu * M_PI)
              - log(s) - 0.5 * (nu + 1.0) * log1p(r);
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
            return -INFINITY;
        lp -= log(w);
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
            return -INFINITY;
        lp += log(rate) - rate * y;
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
            return -INFINITY;
        lp += y != 0.0 ? log(p) : log1p(-p);
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

        lp += y != 0.0 ? -log1p_exp(-a) : -log1p_exp(a);
        G(1, y - p);
    }
    return lp;
}

#undef V
#undef G

static double dist_eval(int32_t dist, const struct dist_call *c)
{
    switch (dist) {
    case RMC_DIST_NORMAL:          return dist_normal(c);
    case RMC_DIST_HALF_NORMAL:     return dist_half_normal(c);
    case RMC_DIST_CAUCHY:          return cauchy_kernel(c, 0);
    case RMC_DIST_HALF_CAUCHY:     return cauchy_kernel(c, 1);
    case RMC_DIST_STUDENT_T:       return dist_student_t(c);
    case RMC_DIST_UNIFORM:         return dist_uniform(c);
    case RMC_DIST_EXPONENTIAL:     return dist_exponential(c);
    case RMC_DIST_BERNOULLI:       return dist_bernoulli(c);
    case RMC_DIST_BERNOULLI_LOGIT: return dist_bernoulli_logit(c);
    }
    return NAN;
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

/* ------------------------------------------------------------ the evaluator */

static const double *value_of(const rmc_program *p, const struct workspace *ws, int32_t id)
{
    const struct inst *in = &p->inst[id];

    return in->dynamic ? ws->val + in->off : in->cval;
}

static double *adjoint_of(const rmc_program *p, const struct workspace *ws, int32_t id)
{
    const struct inst *in = &p->inst[id];

    return in->dynamic ? ws->adj + in->off : NULL;
}

/* Constrain a parameter block; returns its log-Jacobian. */
static double param_forward(const struct inst *in, const double *x, double *v)
{
    const double *u = x + in->xoff;
    double logj = 0.0;

    switch (in->bound) {
    case BOUND_NONE:
        memcpy(v, u, (size_t)in->n * sizeof *v);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++) {
            v[i] = in->lo + exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++) {
            v[i] = in->hi - exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_BOTH: {
        const double w = in->hi - in->lo;

        for (int64_t i = 0; i < in->n; i++) {
            /* log s + log(1 - s) = -|u| - 2 log1p(exp(-|u|)), stable for large |u| */
            double e = exp(-fabs(u[i]));
            double s = u[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            v[i] = in->lo + w * s;
            if (v[i] >= in->hi)
                v[i] = nextafter(in->hi, in->lo);
            logj += log(w) - fabs(u[i]) - 2.0 * log1p(e);
        }
        break;
    }
    }
    return logj;
}

static void param_backward(const struct inst *in, const double *x, const double *v,
                           const double *gv, double *grad)
{
    const double *u = x + in->xoff;
    double *g = grad + in->xoff;

    switch (in->bound) {
    case BOUND_NONE:
        memcpy(g, gv, (size_t)in->n * sizeof *g);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++)
            g[i] = gv[i] * (v[i] - in->lo) + 1.0;
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++)
            g[i] = -gv[i] * (in->hi - v[i]) + 1.0;
        break;
    case BOUND_BOTH: {
        const double w = in->hi - in->lo;

        for (int64_t i = 0; i < in->n; i++) {
            double e = exp(-fabs(u[i]));
            double s = u[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            g[i] = gv[i] * w * s * (1.0 - s) + 1.0 - 2.0 * s;
        }
        break;
    }
    }
}

static void matvec_forward(const struct inst *in, const double *m, const double *v, double *o)
{
    const int64_t rows = in->n, cols = in->dims[1];

    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols;
        double s = 0.0;

        for (int64_t k = 0; k < cols; k++)
            s += row[k] * v[k];
        o[r] = s;
    }
}

/* One instruction of the forward sweep; returns its contribution to lp. With adjoints on,
 * a distribution statement adds its partials to its operands' adjoints as it goes (its own
 * adjoint is always 1), so the reverse sweep only walks the operations. */
static double forward_one(const rmc_program *p, struct workspace *ws, const double *x,
                          const struct inst *in, int grad)
{
    double *o = ws->val + in->off;

    switch (in->kind) {
    case NODE_PARAM:
        return param_forward(in, x, o);
    case NODE_OP1:
        op_forward(in->op, p->inst[in->in[0]].n, value_of(p, ws, in->in[0]), 1, NULL, 0, o);
        return 0.0;
    case NODE_OP2: {
        const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];
        int64_t n = in->op == RMC_OP_DOT ? a->n : in->n;

        op_forward(in->op, n, value_of(p, ws, in->in[0]), a->n > 1, value_of(p, ws, in->in[1]),
                   b->n > 1, o);
        return 0.0;
    }
    case NODE_GATHER: {
        const double *src = value_of(p, ws, in->in[0]);

        for (int64_t i = 0; i < in->n; i++)
            o[i] = src[in->index[i]];
        return 0.0;
    }
    case NODE_MATVEC:
        matvec_forward(in, value_of(p, ws, in->in[0]), value_of(p, ws, in->in[1]), o);
        return 0.0;
    case NODE_SLICE:
        memcpy(o, value_of(p, ws, in->in[0]) + in->begin, (size_t)in->n * sizeof *o);
        return 0.0;
    case NODE_TILDE: {
        struct dist_call c = { .n = p->inst[in->in[0]].n, .in = in };

        for (int32_t a = 0; a < in->nin; a++) {
            c.v[a] = value_of(p, ws, in->in[a]);
            c.s[a] = p->inst[in->in[a]].n > 1;
            c.g[a] = grad ? adjoint_of(p, ws, in->in[a]) : NULL;
        }
        return dist_eval(in->op, &c);
    }
    }
    return NAN;
}

/* The forward sweep; it stops at the first -inf unless every value is wanted (full). */
static double forward(const rmc_program *p, struct workspace *ws, const double *x, int grad,
                      int full)
{
    double lp = p->lp_const;

    for (int32_t k = 0; k < p->n_dyn; k++) {
        lp += forward_one(p, ws, x, &p->inst[p->dyn[k]], grad);
        if ((lp == -INFINITY || lp != lp) && !full)
            return -INFINITY;
    }
    return lp == lp ? lp : -INFINITY;
}

static void backward(const rmc_program *p, struct workspace *ws, const double *x, double *grad)
{
    for (int32_t k = p->n_dyn - 1; k >= 0; k--) {
        const struct inst *in = &p->inst[p->dyn[k]];
        const double *o = ws->val + in->off, *go = ws->adj + in->off;

        switch (in->kind) {
        case NODE_PARAM:
            param_backward(in, x, o, go, grad);
            break;
        case NODE_OP1:
            op_backward(in->op, p->inst[in->in[0]].n, value_of(p, ws, in->in[0]), 1,
                        adjoint_of(p, ws, in->in[0]), NULL, 0, NULL, o, go);
            break;
        case NODE_OP2: {
            const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];
            int64_t n = in->op == RMC_OP_DOT ? a->n : in->n;

            op_backward(in->op, n, value_of(p, ws, in->in[0]), a->n > 1,
                        adjoint_of(p, ws, in->in[0]), value_of(p, ws, in->in[1]), b->n > 1,
                        adjoint_of(p, ws, in->in[1]), o, go);
            break;
        }
        case NODE_GATHER: {
            /* Scatter-add; sequential per thread, so no atomics are needed. */
            double *gs = adjoint_of(p, ws, in->in[0]);

            for (int64_t i = 0; i < in->n; i++)
                gs[in->index[i]] += go[i];
            break;
        }
        case NODE_SLICE: {
            double *gs = adjoint_of(p, ws, in->in[0]) + in->begin;

            for (int64_t i = 0; i < in->n; i++)
                gs[i] += go[i];
            break;
        }
        case NODE_MATVEC: {
            const double *m = value_of(p, ws, in->in[0]);
            double *gv = adjoint_of(p, ws, in->in[1]);
            const int64_t cols = in->dims[1];

            for (int64_t r = 0; r < in->n; r++) {
                const double *row = m + r * cols;

                for (int64_t c = 0; c < cols; c++)
                    gv[c] += go[r] * row[c];
            }
            break;
        }
        default:
            break;
        }
    }
}

int program_eval(const rmc_program *p, struct workspace *ws, const double *x, double *lp,
                 double *grad)
{
    if (p->kind == PROGRAM_CALLBACK) {
        int rc;

        if (grad) {
            rc = p->fn(1, p->dim, x, lp, grad, p->user);
        } else {
            /* The callback always writes a gradient; give it the workspace. */
            rc = p->fn(1, p->dim, x, lp, ws->adj, p->user);
        }
        if (*lp != *lp)
            *lp = -INFINITY;
        return rc ? -1 : 0;
    }

    if (grad)
        memset(ws->adj, 0, (size_t)p->ws_size * sizeof *ws->adj);
    *lp = forward(p, ws, x, grad != NULL, 0);
    if (grad && *lp > -INFINITY)
        backward(p, ws, x, grad);
    return 0;
}

const char *program_explain(const rmc_program *p, struct workspace *ws, const double *x)
{
    if (p->kind == PROGRAM_CALLBACK)
        return NULL;
    for (int32_t k = 0; k < p->n_dyn; k++) {
        const struct inst *in = &p->inst[p->dyn[k]];

        if (!isfinite(forward_one(p, ws, x, in, 0)) && in->kind == NODE_TILDE)
            return in->label;
    }
    return NULL;
}

void program_columns(const rmc_program *p, struct workspace *ws, const double *x,
                     double *columns)
{
    if (p->kind == PROGRAM_CALLBACK) {
        memcpy(columns, x, (size_t)p->dim * sizeof *x);
        return;
    }

    /* Deterministic nodes need every value: no early stop at -inf. */
    forward(p, ws, x, 0, 1);
    for (int32_t v = 0; v < p->n_vars; v++) {
        const struct out_var *ov = &p->vars[v];

        memcpy(columns + ov->first, value_of(p, ws, ov->inst), (size_t)ov->n * sizeof *columns);
    }
}

struct workspace *workspace_create(const rmc_program *p)
{
    struct workspace *ws = rmc_calloc(1, sizeof *ws);
    size_t n = p->kind == PROGRAM_GRAPH ? (size_t)p->ws_size : (size_t)p->dim;

    if (!ws)
        return NULL;
    ws->val = rmc_calloc(n, sizeof(double));
    ws->adj = rmc_calloc(n, sizeof(double));
    if (!ws->val || !ws->adj) {
        workspace_free(ws);
        return NULL;
    }
    return ws;
}

void workspace_free(struct workspace *ws)
{
    if (!ws)
        return;
    free(ws->val);
    free(ws->adj);
    free(ws);
}
