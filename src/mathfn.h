/* mathfn.h - scalar special functions and constants shared by the kernels. */
#ifndef RMC_MATHFN_H
#define RMC_MATHFN_H

#define LOG_SQRT_2PI 0.91893853320467274178
#define LOG_PI 1.14472988584940017414
#define LOG_2 0.69314718055994530942
#define RMC_PI 3.14159265358979323846

/* log |Gamma(x)|, thread-safe (glibc's lgamma writes the global signgam). */
double rmc_lgamma(double x);

double rmc_digamma(double x);

/* log(1 + exp(a)) without overflow. */
double rmc_log1p_exp(double a);

/* log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b), for a, b > 0. */
double rmc_lbeta(double a, double b);

/* log of the binomial coefficient C(n, k), for integers 0 <= k <= n held as doubles. */
double rmc_lchoose(double n, double k);

#endif
