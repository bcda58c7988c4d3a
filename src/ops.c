/* ops.c - elementwise operations and reductions: forward values and reverse-mode
 * partials, one loop per broadcast pattern. */
#include "ops.h"

#include <math.h>

#include "mathfn.h"
#include "rmc.h"

/* Expand an elementwise loop once per broadcast pattern, so each loop has unit or zero
 * strides the compiler can see and vectorise. Callers give a stride of n > 1, so a vector
 * of length 0 arrives with stride 0 like a scalar: with n == 0 nothing is read or written
 * (its slot in the workspace is empty, so even o[0] belongs to another node). */
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
        } else if ((n) > 0) {                                                           \
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
    case RMC_OP_MIN: ELEMENTWISE(n, sa, sb, x <= y ? x : y); break;
    case RMC_OP_MAX: ELEMENTWISE(n, sa, sb, x >= y ? x : y); break;
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
    case RMC_OP_LGAMMA: for (int64_t i = 0; i < n; i++) o[i] = rmc_lgamma(a[i]); break;
    case RMC_OP_EXPM1: for (int64_t i = 0; i < n; i++) o[i] = expm1(a[i]); break;
    case RMC_OP_LOG1P_EXP: for (int64_t i = 0; i < n; i++) o[i] = rmc_log1p_exp(a[i]); break;
    case RMC_OP_TANH: for (int64_t i = 0; i < n; i++) o[i] = tanh(a[i]); break;
    case RMC_OP_ABS: for (int64_t i = 0; i < n; i++) o[i] = fabs(a[i]); break;
    case RMC_OP_LOG_SUM_EXP: {
        double m = -INFINITY, s = 0.0;

        for (int64_t i = 0; i < n; i++)
            m = a[i] > m ? a[i] : m;
        if (m == -INFINITY || m == INFINITY) {
            o[0] = m;
            break;
        }
        for (int64_t i = 0; i < n; i++)
            s += exp(a[i] - m);
        o[0] = m + log(s);
        break;
    }
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
 * nothing when n == 0 (an empty input has no adjoint slot, not even [0]); a scalar input
 * (s == 0) sums its contributions first, in four interleaved partial sums so the loop is
 * not bound by the latency of one chain of additions. The order is fixed, so results stay
 * bit-reproducible. */
#define ACCUMULATE(ga, s, n, expr)                                                      \
    do {                                                                                \
        if (!(ga) || (n) == 0)                                                          \
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
void op_backward(int32_t op, int64_t n, const double *a, int64_t sa, double *ga,
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
    case RMC_OP_LGAMMA: ACCUMULATE(ga, 1, n, go[i] * rmc_digamma(a[i])); break;
    case RMC_OP_EXPM1: ACCUMULATE(ga, 1, n, go[i] * (o[i] + 1.0)); break;
    case RMC_OP_LOG1P_EXP: ACCUMULATE(ga, 1, n, go[i] * exp(a[i] - o[i])); break;
    case RMC_OP_TANH: ACCUMULATE(ga, 1, n, go[i] * (1.0 - o[i] * o[i])); break;
    case RMC_OP_ABS:
        ACCUMULATE(ga, 1, n, a[i] > 0 ? go[i] : a[i] < 0 ? -go[i] : 0.0);
        break;
    case RMC_OP_LOG_SUM_EXP: ACCUMULATE(ga, 1, n, go[0] * exp(a[i] - o[0])); break;
    /* min and max pass the adjoint to the chosen operand; a tie goes to the first */
    case RMC_OP_MIN:
        ACCUMULATE(ga, sa, n, a[i * sa] <= b[i * sb] ? go[i] : 0.0);
        ACCUMULATE(gb, sb, n, a[i * sa] <= b[i * sb] ? 0.0 : go[i]);
        break;
    case RMC_OP_MAX:
        ACCUMULATE(ga, sa, n, a[i * sa] >= b[i * sb] ? go[i] : 0.0);
        ACCUMULATE(gb, sb, n, a[i * sa] >= b[i * sb] ? 0.0 : go[i]);
        break;
    case RMC_OP_SUM: ACCUMULATE(ga, 1, n, go[0]); break;
    case RMC_OP_DOT:
        ACCUMULATE(ga, 1, n, go[0] * b[i]);
        ACCUMULATE(gb, 1, n, go[0] * a[i]);
        break;
    }
}

/* log(theta exp(a) + (1 - theta) exp(b)), as a log-sum-exp of the two weighted terms. */
static double log_mix(double theta, double a, double b)
{
    double x = log(theta) + a, y = log1p(-theta) + b, m = x > y ? x : y;

    if (m == -INFINITY)
        return -INFINITY;
    return m + log(exp(x - m) + exp(y - m));
}

void op3_forward(int32_t op, int64_t n, const double *const v[3], const int64_t s[3],
                 double *o)
{
    (void)op; /* RMC_OP_LOG_MIX is the only ternary op */
    for (int64_t i = 0; i < n; i++)
        o[i] = log_mix(v[0][i * s[0]], v[1][i * s[1]], v[2][i * s[2]]);
}

void op3_backward(int32_t op, int64_t n, const double *const v[3], const int64_t s[3],
                  double *const g[3], const double *o, const double *go)
{
    (void)op;
    for (int64_t i = 0; i < n; i++) {
        double theta = v[0][i * s[0]], pa = exp(v[1][i * s[1]] - o[i]);
        double pb = exp(v[2][i * s[2]] - o[i]);

        /* d/da = theta e^(a - o), d/db = (1 - theta) e^(b - o), d/dtheta = e^(a-o) - e^(b-o) */
        if (g[0])
            g[0][i * s[0]] += go[i] * (pa - pb);
        if (g[1])
            g[1][i * s[1]] += go[i] * theta * pa;
        if (g[2])
            g[2][i * s[2]] += go[i] * (1.0 - theta) * pb;
    }
}
