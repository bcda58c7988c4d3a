/*
 * handwritten.c - the benchmark models' log densities and gradients, written by hand.
 *
 * Compiled at -O3 (bench/CMakeLists.txt) but without -ffast-math, the same rules rmc is
 * held to, so the comparison is of the code, not of licence to reassociate sums. Each
 * model is one fused loop over the data; constants that do not depend on the position are
 * computed once per batch, as a practitioner would hoist them.
 */
#include "handwritten.h"

#include <math.h>

/* log(sqrt(2 pi)), log(pi), log(2), log(5), to double precision. */
#define LOG_SQRT_2PI 0.91893853320467274178
#define LOG_PI 1.14472988584940017414
#define LOG_2 0.69314718055994530942
#define LOG_5 1.60943791243410037460

/* ---------------------------------------------------------------- data generator */

/* splitmix64: tiny, portable and good enough to make benchmark data reproducible. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1), never 0, so that log() below is finite. */
static double uniform_open(uint64_t *state)
{
    return ((double)(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* One standard normal by Box-Muller; the second value of the pair is dropped because
 * simplicity matters more here than speed. */
static double std_normal(uint64_t *state)
{
    double u1 = uniform_open(state);
    double u2 = uniform_open(state);
    return sqrt(-2.0 * log(u1)) * cos(6.28318530717958647693 * u2);
}

void hw_quick_make_data(int64_t n, uint64_t seed, double *x, double *y)
{
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) {
        x[i] = std_normal(&state);
        y[i] = 2.5 * x[i] + std_normal(&state);
    }
}

/* ---------------------------------------------------------------- quick-start model */

/* Everything but the loop's sums: n + 1 normal terms of -log(sqrt(2 pi)) each. */
static double quick_const(int64_t n)
{
    return -(double)(n + 1) * LOG_SQRT_2PI;
}

static inline double quick_eval(double c, int64_t n, const double *x, const double *y,
                                const double *theta, double *grad)
{
    double beta = theta[0];
    double ss = 0.0;  /* sum of squared residuals */
    double sxr = 0.0; /* sum of x * residual: the likelihood's gradient */

    for (int64_t i = 0; i < n; i++) {
        double r = y[i] - beta * x[i];
        ss += r * r;
        sxr += x[i] * r;
    }

    grad[0] = sxr - beta;
    return c - 0.5 * beta * beta - 0.5 * ss;
}

double hw_quick_logp_grad(int64_t n, const double *x, const double *y, const double *theta,
                          double *grad)
{
    return quick_eval(quick_const(n), n, x, y, theta, grad);
}

void hw_quick_logp_grad_batch(int64_t n, const double *x, const double *y, int64_t batch,
                              const double *theta, double *lp, double *grad)
{
    double c = quick_const(n);
    for (int64_t b = 0; b < batch; b++) {
        lp[b] = quick_eval(c, n, x, y, theta + b * HW_QUICK_DIM, grad + b * HW_QUICK_DIM);
    }
}

/* ---------------------------------------------------------------- eight schools */

const double hw_eight_y[HW_EIGHT_J] = {28, 8, -3, 7, -1, 1, 18, 12};
const double hw_eight_sigma[HW_EIGHT_J] = {15, 10, 16, 11, 9, 11, 10, 18};

/* 1 / sigma^2, folded at compile time so the loop multiplies instead of dividing. */
static const double eight_inv_var[HW_EIGHT_J] = {
    1.0 / (15.0 * 15.0), 1.0 / (10.0 * 10.0), 1.0 / (16.0 * 16.0), 1.0 / (11.0 * 11.0),
    1.0 / (9.0 * 9.0),   1.0 / (11.0 * 11.0), 1.0 / (10.0 * 10.0), 1.0 / (18.0 * 18.0),
};

/* The position-free part of the log density:
 *   Normal(mu | 0, 5):          -log sqrt(2 pi) - log 5
 *   HalfCauchy(tau | 5):        log 2 - log pi - log 5
 *   8 x Normal(theta_trans | 0, 1): -8 log sqrt(2 pi)
 *   8 x Normal(y | theta, sigma):   -8 log sqrt(2 pi) - sum log sigma */
static double eight_const(void)
{
    double sum_log_sigma = 0.0;
    for (int j = 0; j < HW_EIGHT_J; j++) {
        sum_log_sigma += log(hw_eight_sigma[j]);
    }
    return -(1.0 + 2.0 * HW_EIGHT_J) * LOG_SQRT_2PI - LOG_5 + LOG_2 - LOG_PI - LOG_5
           - sum_log_sigma;
}

static inline double eight_eval(double c, const double *theta, double *grad)
{
    double mu = theta[0];
    double u = theta[1];
    const double *tt = theta + 2;
    double tau = exp(u);

    /* One pass over the schools: the likelihood, the theta_trans prior and the sums the
     * gradients of mu and u need. */
    double quad = 0.0;  /* sum of theta_trans^2 + (residual / sigma)^2 */
    double g_mu = 0.0;  /* sum of residual / sigma^2 */
    double g_tau = 0.0; /* sum of theta_trans * residual / sigma^2 */
    for (int j = 0; j < HW_EIGHT_J; j++) {
        double r = hw_eight_y[j] - (mu + tau * tt[j]);
        double w = r * eight_inv_var[j];
        quad += tt[j] * tt[j] + r * w;
        g_mu += w;
        g_tau += tt[j] * w;
        grad[2 + j] = tau * w - tt[j];
    }

    /* HalfCauchy(tau | 5) in u: -log(1 + tau^2 / 25) plus the log-Jacobian u. Its
     * derivative in u is 1 - 2 tau^2 / (25 + tau^2). */
    double tau2 = tau * tau;
    grad[0] = g_mu - mu / 25.0;
    grad[1] = tau * g_tau + 1.0 - 2.0 * tau2 / (25.0 + tau2);
    return c - mu * mu / 50.0 - log1p(tau2 / 25.0) + u - 0.5 * quad;
}

double hw_eight_logp_grad(const double *theta, double *grad)
{
    return eight_eval(eight_const(), theta, grad);
}

void hw_eight_logp_grad_batch(int64_t batch, const double *theta, double *lp, double *grad)
{
    double c = eight_const();
    for (int64_t b = 0; b < batch; b++) {
        lp[b] = eight_eval(c, theta + b * HW_EIGHT_DIM, grad + b * HW_EIGHT_DIM);
    }
}

/* ---------------------------------------------------------------- logistic regression */

void hw_logit_make_data(int64_t n, int64_t k, uint64_t seed, double *x, int32_t *y)
{
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) {
        double eta = 0.3;
        for (int64_t j = 0; j < k; j++) {
            x[i * k + j] = std_normal(&state);
            eta += x[i * k + j] * (j % 2 == 0 ? 0.5 : -0.25) / (double)(1 + j / 5);
        }
        y[i] = uniform_open(&state) < 1.0 / (1.0 + exp(-eta)) ? 1 : 0;
    }
}

/* log(1 + exp(a)) without overflow, and its derivative, the logistic function. */
static inline double log1p_exp(double a)
{
    return a > 0.0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

/* One position: a pass over the rows forms each logit and its residual y - p, which
 * flows straight back into the gradient of alpha and beta; no per-row storage. */
static double logit_eval(int64_t n, int64_t k, const double *x, const int32_t *y,
                         const double *theta, double *grad)
{
    const double alpha = theta[0], *beta = theta + 1;
    double lp = -0.5 * (alpha * alpha) / (HW_LOGIT_ALPHA_SD * HW_LOGIT_ALPHA_SD)
                - LOG_SQRT_2PI - log(HW_LOGIT_ALPHA_SD);
    double g_alpha = -alpha / (HW_LOGIT_ALPHA_SD * HW_LOGIT_ALPHA_SD);

    for (int64_t j = 0; j < k; j++) {
        lp += -0.5 * beta[j] * beta[j] - LOG_SQRT_2PI;
        grad[1 + j] = -beta[j];
    }
    for (int64_t i = 0; i < n; i++) {
        const double *row = x + i * k;
        double eta = alpha;
        for (int64_t j = 0; j < k; j++)
            eta += row[j] * beta[j];

        /* log p = -log1p_exp(-eta), log(1 - p) = -log1p_exp(eta). */
        double p = eta >= 0.0 ? 1.0 / (1.0 + exp(-eta)) : exp(eta) / (1.0 + exp(eta));
        double r = (double)y[i] - p;
        lp -= y[i] ? log1p_exp(-eta) : log1p_exp(eta);
        g_alpha += r;
        for (int64_t j = 0; j < k; j++)
            grad[1 + j] += r * row[j];
    }
    grad[0] = g_alpha;
    return lp;
}

void hw_logit_logp_grad_batch(int64_t n, int64_t k, const double *x, const int32_t *y,
                              int64_t batch, const double *theta, double *lp, double *grad)
{
    for (int64_t b = 0; b < batch; b++)
        lp[b] = logit_eval(n, k, x, y, theta + b * (k + 1), grad + b * (k + 1));
}

/* ---------------------------------------------------------------- diamonds */

/* Student-t log density's constant for nu = 3 and scale s. */
static double student3_const(double s)
{
    return lgamma(2.0) - lgamma(1.5) - 0.5 * log(3.0 * 3.14159265358979323846) - log(s);
}

static double diamonds_eval(int64_t n, int64_t p, const double *xc, const double *y,
                            const double *theta, double *grad)
{
    const double *b = theta, intercept = theta[p], u = theta[p + 1], sigma = exp(u);
    const double inv_var = 1.0 / (sigma * sigma);
    double *gb = grad;
    double lp = 0.0;

    /* b ~ Normal(0, 1) */
    for (int64_t k = 0; k < p; k++) {
        lp += -0.5 * b[k] * b[k] - LOG_SQRT_2PI;
        gb[k] = -b[k];
    }

    /* Intercept ~ StudentT(3, 8, 10) */
    double d = intercept - 8.0;
    lp += student3_const(10.0) - 2.0 * log1p(d * d / 300.0);
    double g_int = -4.0 * d / (300.0 + d * d);

    /* sigma ~ HalfStudentT(3, 10) on sigma = exp(u), with the Jacobian u */
    lp += LOG_2 + student3_const(10.0) - 2.0 * log1p(sigma * sigma / 300.0) + u;
    double g_u = -4.0 * sigma * sigma / (300.0 + sigma * sigma) + 1.0;

    /* Y ~ Normal(Intercept + Xc b, sigma): one pass, residuals flowing into the gradient */
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double *row = xc + i * p;
        double mu = intercept;
        for (int64_t k = 0; k < p; k++)
            mu += row[k] * b[k];

        double r = y[i] - mu, w = r * inv_var;
        ss += r * r;
        g_int += w;
        for (int64_t k = 0; k < p; k++)
            gb[k] += w * row[k];
    }
    lp += -(double)n * (LOG_SQRT_2PI + u) - 0.5 * ss * inv_var;
    g_u += -(double)n + ss * inv_var;

    grad[p] = g_int;
    grad[p + 1] = g_u;
    return lp;
}

void hw_diamonds_logp_grad_batch(int64_t n, int64_t p, const double *xc, const double *y,
                                 int64_t batch, const double *theta, double *lp, double *grad)
{
    for (int64_t b = 0; b < batch; b++)
        lp[b] = diamonds_eval(n, p, xc, y, theta + b * (p + 2), grad + b * (p + 2));
}
