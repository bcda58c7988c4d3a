/* mathfn.c - scalar special functions. */
#define _DEFAULT_SOURCE /* lgamma_r */
#include "mathfn.h"

#include <math.h>

double rmc_lgamma(double x)
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
        return rmc_digamma(1.0 - x) - RMC_PI / tan(RMC_PI * x);
    while (x < 6.0) {
        r -= 1.0 / x;
        x += 1.0;
    }
    f = 1.0 / (x * x);
    return r + log(x) - 0.5 / x
           - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

double rmc_log1p_exp(double a)
{
    return a > 0.0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

double rmc_lbeta(double a, double b)
{
    return rmc_lgamma(a) + rmc_lgamma(b) - rmc_lgamma(a + b);
}

double rmc_lchoose(double n, double k)
{
    /* C(n, 0) = C(n, n) = 1 exactly, where the three lgamma terms would leave rounding. */
    if (k == 0.0 || k == n)
        return 0.0;
    return rmc_lgamma(n + 1.0) - rmc_lgamma(k + 1.0) - rmc_lgamma(n - k + 1.0);
}
