/*
 * handwritten.h - log densities and gradients written by hand, as a practitioner would,
 * for the benchmark models. They are the yardstick rmc's generated evaluation is
 * measured against, and the reference its values are checked against.
 *
 * Both work on the unconstrained space and include every normalising constant, as rmc
 * does, so the log densities agree exactly (up to rounding), not just up to a constant.
 */
#ifndef RMC_BENCH_HANDWRITTEN_H
#define RMC_BENCH_HANDWRITTEN_H

#include <stdint.h>

/* ---------------------------------------------------------------- quick-start model
 *
 * beta ~ Normal(0, 1); y[i] ~ Normal(beta * x[i], 1), i = 1..n. One coordinate: beta.
 */

#define HW_QUICK_N 1000
#define HW_QUICK_DIM 1

/* Fill x[n] and y[n] from a fixed generator: x ~ N(0, 1), y = 2.5 x + N(0, 1). The same
 * seed gives the same data on every platform with IEEE doubles and a correct libm. */
void hw_quick_make_data(int64_t n, uint64_t seed, double *x, double *y);

/* Log density at theta[HW_QUICK_DIM]; writes grad[HW_QUICK_DIM]. */
double hw_quick_logp_grad(int64_t n, const double *x, const double *y, const double *theta,
                          double *grad);

/* The same for batch positions theta[batch][HW_QUICK_DIM], writing lp[batch] and
 * grad[batch][HW_QUICK_DIM]: the shape of rmc_program_logp_grad's work. */
void hw_quick_logp_grad_batch(int64_t n, const double *x, const double *y, int64_t batch,
                              const double *theta, double *lp, double *grad);

/* ---------------------------------------------------------------- eight schools
 *
 * Non-centred: mu ~ Normal(0, 5); tau ~ HalfCauchy(0, 5), tau > 0;
 * theta_trans[j] ~ Normal(0, 1); theta = mu + tau * theta_trans;
 * y[j] ~ Normal(theta[j], sigma[j]).
 * Coordinates: mu, u = log tau, theta_trans[1..8].
 */

#define HW_EIGHT_J 8
#define HW_EIGHT_DIM (2 + HW_EIGHT_J)

extern const double hw_eight_y[HW_EIGHT_J];
extern const double hw_eight_sigma[HW_EIGHT_J];

/* Log density at theta[HW_EIGHT_DIM]; writes grad[HW_EIGHT_DIM]. */
double hw_eight_logp_grad(const double *theta, double *grad);

/* Batch form, as for the quick-start model. */
void hw_eight_logp_grad_batch(int64_t batch, const double *theta, double *lp, double *grad);

/* ---------------------------------------------------------------- logistic regression
 *
 * alpha ~ Normal(0, 2.5); beta[k] ~ Normal(0, 1); y[i] ~ BernoulliLogit(alpha + x[i] . beta),
 * x an n x k row-major data matrix. Coordinates: alpha, beta[1..k].
 */

#define HW_LOGIT_N 5000
#define HW_LOGIT_K 25
#define HW_LOGIT_DIM (1 + HW_LOGIT_K)
#define HW_LOGIT_ALPHA_SD 2.5

/* Fill x[n][k] ~ N(0, 1) and y[n] in {0, 1} from fixed coefficients, reproducibly. */
void hw_logit_make_data(int64_t n, int64_t k, uint64_t seed, double *x, int32_t *y);

/* Batch form: theta[batch][1 + k] -> lp[batch], grad[batch][1 + k]. */
void hw_logit_logp_grad_batch(int64_t n, int64_t k, const double *x, const int32_t *y,
                              int64_t batch, const double *theta, double *lp, double *grad);

/* ---------------------------------------------------------------- diamonds
 *
 * posteriordb's diamonds-diamonds with its predictors centred (as examples/diamonds.c):
 * b[p] ~ Normal(0, 1); Intercept ~ StudentT(3, 8, 10); sigma ~ HalfStudentT(3, 10);
 * Y ~ Normal(Intercept + Xc b, sigma). Coordinates: b[1..p], Intercept, log sigma.
 */

/* Batch form: theta[batch][p + 2] -> lp[batch], grad[batch][p + 2]. */
void hw_diamonds_logp_grad_batch(int64_t n, int64_t p, const double *xc, const double *y,
                                 int64_t batch, const double *theta, double *lp, double *grad);

#endif
