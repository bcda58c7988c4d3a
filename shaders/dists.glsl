// dists.glsl - distributions: log density of one element and its partials, the formulas
// of src/dist.c with full normalising constants.
//
// Every one takes the value and up to three arguments (v0 .. v3, unused ones 0) and writes
// the partial with respect to each (g0 .. g3); it returns -inf outside the support, where
// the partials mean nothing. The lowering names them from its distribution table.

#define DIST_ARGS real v0, real v1, real v2, real v3, out real g0, out real g1, out real g2, \
                  out real g3

real dist_normal(DIST_ARGS)
{
    real inv = 1.0LF / v2, z = (v0 - v1) * inv;

    g0 = -z * inv;
    g1 = z * inv;
    g2 = (z * z - 1.0LF) * inv;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF))
        return NEG_INF;
    return -0.5LF * z * z - rmc_log(v2) - LOG_SQRT_2PI;
}

// Normal given 1 / sigma in v2 (a data vector of scales, inverted at bind time, or one
// scale inverted once per chain): the log terms are added once per statement (see the
// lowering), as the CPU does. g2 is the partial in sigma itself.
real dist_normal_inv(DIST_ARGS)
{
    real z = (v0 - v1) * v2;

    g0 = -z * v2;
    g1 = z * v2;
    g2 = (z * z - 1.0LF) * v2;
    g3 = 0.0LF;
    return -0.5LF * z * z;
}

real dist_half_normal(DIST_ARGS)
{
    real inv = 1.0LF / v1, z = v0 * inv;

    g0 = -z * inv;
    g1 = (z * z - 1.0LF) * inv;
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || v0 < 0.0LF)
        return NEG_INF;
    return LOG_2 - 0.5LF * z * z - rmc_log(v1) - LOG_SQRT_2PI;
}

real dist_cauchy(DIST_ARGS)
{
    real inv = 1.0LF / v2, z = (v0 - v1) * inv, q = 1.0LF / (1.0LF + z * z);

    g0 = -2.0LF * z * q * inv;
    g1 = 2.0LF * z * q * inv;
    g2 = (-1.0LF + 2.0LF * z * z * q) * inv;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF))
        return NEG_INF;
    return -LOG_PI - rmc_log(v2) - rmc_log1p(z * z);
}

real dist_half_cauchy(DIST_ARGS)
{
    real inv = 1.0LF / v1, z = v0 * inv, q = 1.0LF / (1.0LF + z * z);

    g0 = -2.0LF * z * q * inv;
    g1 = (-1.0LF + 2.0LF * z * z * q) * inv;
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || v0 < 0.0LF)
        return NEG_INF;
    return -LOG_PI - rmc_log(v1) - rmc_log1p(z * z) + LOG_2;
}

// (value, nu, mu, sigma). The partial in nu needs digamma; when nu is data the lowering
// never reads g1 and the compiler drops that work.
real dist_student_t(DIST_ARGS)
{
    real nu = v1, inv = 1.0LF / v3, z = (v0 - v2) * inv;
    real r = z * z / nu, w = (nu + 1.0LF) / (nu + z * z), l1r = rmc_log1p(r);

    g0 = -w * z * inv;
    g2 = w * z * inv;
    g3 = (w * z * z - 1.0LF) * inv;
    g1 = 0.5LF * (rmc_digamma(0.5LF * (nu + 1.0LF)) - rmc_digamma(0.5LF * nu)) - 0.5LF / nu
         - 0.5LF * l1r + 0.5LF * w * z * z / nu;
    if (!(v3 > 0.0LF) || !(nu > 0.0LF))
        return NEG_INF;
    return rmc_lgamma(0.5LF * (nu + 1.0LF)) - rmc_lgamma(0.5LF * nu)
           - 0.5LF * rmc_log(nu * PI_R) - rmc_log(v3) - 0.5LF * (nu + 1.0LF) * l1r;
}

real dist_uniform(DIST_ARGS)
{
    real w = v2 - v1;

    g0 = 0.0LF;
    g1 = 1.0LF / w;
    g2 = -1.0LF / w;
    g3 = 0.0LF;
    if (!(v1 < v2) || v0 < v1 || v0 > v2)
        return NEG_INF;
    return -rmc_log(w);
}

real dist_exponential(DIST_ARGS)
{
    g0 = -v1;
    g1 = 1.0LF / v1 - v0;
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || v0 < 0.0LF)
        return NEG_INF;
    return rmc_log(v1) - v1 * v0;
}

real dist_bernoulli(DIST_ARGS)
{
    g0 = 0.0LF;
    g1 = v0 != 0.0LF ? 1.0LF / v1 : -1.0LF / (1.0LF - v1);
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!(v1 >= 0.0LF && v1 <= 1.0LF))
        return NEG_INF;
    return v0 != 0.0LF ? rmc_log(v1) : rmc_log1p(-v1);
}

real dist_bernoulli_logit(DIST_ARGS)
{
    g0 = 0.0LF;
    g1 = v0 - rmc_logistic(v1);
    g2 = 0.0LF;
    g3 = 0.0LF;
    return v0 != 0.0LF ? -rmc_log1p_exp(-v1) : -rmc_log1p_exp(v1);
}

// The nu-only terms of the Student-t log density and of its nu partial.
real student_t_const(real nu)
{
    return rmc_lgamma(0.5LF * (nu + 1.0LF)) - rmc_lgamma(0.5LF * nu) - 0.5LF * rmc_log(nu * PI_R);
}

real student_t_dconst(real nu)
{
    return 0.5LF * (rmc_digamma(0.5LF * (nu + 1.0LF)) - rmc_digamma(0.5LF * nu)) - 0.5LF / nu;
}

// (value, nu, sigma): twice the Student-t density on value >= 0.
real dist_half_student_t(DIST_ARGS)
{
    real nu = v1, inv = 1.0LF / v2, z = v0 * inv;
    real r = z * z / nu, w = (nu + 1.0LF) / (nu + z * z), l1r = rmc_log1p(r);

    g0 = -w * z * inv;
    g2 = (w * z * z - 1.0LF) * inv;
    g1 = student_t_dconst(nu) - 0.5LF * l1r + 0.5LF * w * z * z / nu;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF) || !(nu > 0.0LF) || v0 < 0.0LF)
        return NEG_INF;
    return LOG_2 + student_t_const(nu) - rmc_log(v2) - 0.5LF * (nu + 1.0LF) * l1r;
}

// (value, alpha shape, beta rate)
real dist_gamma(DIST_ARGS)
{
    real ly = rmc_log(v0), lb = rmc_log(v2);

    g0 = (v1 - 1.0LF) / v0 - v2;
    g1 = lb - rmc_digamma(v1) + ly;
    g2 = v1 / v2 - v0;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || !(v2 > 0.0LF) || !(v0 > 0.0LF))
        return NEG_INF;
    return v1 * lb - rmc_lgamma(v1) + (v1 - 1.0LF) * ly - v2 * v0;
}

// (value, alpha shape, beta scale)
real dist_inv_gamma(DIST_ARGS)
{
    real ly = rmc_log(v0), lb = rmc_log(v2);

    g0 = (v2 / v0 - (v1 + 1.0LF)) / v0;
    g1 = lb - rmc_digamma(v1) - ly;
    g2 = v1 / v2 - 1.0LF / v0;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || !(v2 > 0.0LF) || !(v0 > 0.0LF))
        return NEG_INF;
    return v1 * lb - rmc_lgamma(v1) - (v1 + 1.0LF) * ly - v2 / v0;
}

// (value, mu, sigma) of log value
real dist_lognormal(DIST_ARGS)
{
    real inv = 1.0LF / v2, ly = rmc_log(v0), z = (ly - v1) * inv;

    g0 = -(z * inv + 1.0LF) / v0;
    g1 = z * inv;
    g2 = (z * z - 1.0LF) * inv;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF) || !(v0 > 0.0LF))
        return NEG_INF;
    return -0.5LF * z * z - rmc_log(v2) - ly - LOG_SQRT_2PI;
}

// (value, a, b); value in (0, 1)
real dist_beta(DIST_ARGS)
{
    real ly = rmc_log(v0), l1y = rmc_log1p(-v0), dab = rmc_digamma(v1 + v2);

    g0 = (v1 - 1.0LF) / v0 - (v2 - 1.0LF) / (1.0LF - v0);
    g1 = ly - rmc_digamma(v1) + dab;
    g2 = l1y - rmc_digamma(v2) + dab;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || !(v2 > 0.0LF) || !(v0 > 0.0LF && v0 < 1.0LF))
        return NEG_INF;
    return (v1 - 1.0LF) * ly + (v2 - 1.0LF) * l1y
           - (rmc_lgamma(v1) + rmc_lgamma(v2) - rmc_lgamma(v1 + v2));
}

// (value, mu, scale)
real dist_laplace(DIST_ARGS)
{
    real inv = 1.0LF / v2, d = v0 - v1, ad = abs(d);
    real sgn = d > 0.0LF ? 1.0LF : d < 0.0LF ? -1.0LF : 0.0LF;

    g0 = -sgn * inv;
    g1 = sgn * inv;
    g2 = (ad * inv - 1.0LF) * inv;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF))
        return NEG_INF;
    return -LOG_2 - rmc_log(v2) - ad * inv;
}

// (value, mu, scale); d lp / dz = -tanh(z / 2), and the density is written in |z| so
// that no exp overflows.
real dist_logistic(DIST_ARGS)
{
    real inv = 1.0LF / v2, z = (v0 - v1) * inv, az = abs(z), t = rmc_tanh(0.5LF * z);

    g0 = -t * inv;
    g1 = t * inv;
    g2 = (z * t - 1.0LF) * inv;
    g3 = 0.0LF;
    if (!(v2 > 0.0LF))
        return NEG_INF;
    return -rmc_log(v2) - az - 2.0LF * rmc_log1p(rmc_exp(-az));
}

// (value, alpha shape, sigma scale)
real dist_weibull(DIST_ARGS)
{
    real l = rmc_log(v0 / v2), p = rmc_exp(v1 * l);

    g0 = (v1 - 1.0LF - v1 * p) / v0;
    g1 = 1.0LF / v1 + l - p * l;
    g2 = v1 * (p - 1.0LF) / v2;
    g3 = 0.0LF;
    if (!(v1 > 0.0LF) || !(v2 > 0.0LF) || !(v0 > 0.0LF))
        return NEG_INF;
    return rmc_log(v1) - rmc_log(v2) + (v1 - 1.0LF) * l - p;
}

// Counts take their data-only log factor (log C(n, y), or -log y!) in v3, made at bind
// time as the CPU makes it.
bool rmc_is_count(real y)
{
    return y >= 0.0LF && y <= 9007199254740992.0LF && y == floor(y);
}

// (value, N trials, p, log C(N, value))
real dist_binomial(DIST_ARGS)
{
    real y = v0, n = v1, p = v2, t = v3;

    g0 = 0.0LF;
    g1 = 0.0LF;
    g2 = (y > 0.0LF ? y / p : 0.0LF) - (n > y ? (n - y) / (1.0LF - p) : 0.0LF);
    g3 = 0.0LF;
    if (!rmc_is_count(y) || !rmc_is_count(n) || y > n || !(p >= 0.0LF && p <= 1.0LF))
        return NEG_INF;
    if (y > 0.0LF) // skipping a zero count keeps p = 0 or 1 from making 0 * log 0
        t += y * rmc_log(p);
    if (n > y)
        t += (n - y) * rmc_log1p(-p);
    return t > NEG_INF ? t : NEG_INF;
}

// (value, N trials, logit p, log C(N, value))
real dist_binomial_logit(DIST_ARGS)
{
    real y = v0, n = v1, x = v2;
    real t = v3 - (y * rmc_log1p_exp(-x) + (n - y) * rmc_log1p_exp(x));

    g0 = 0.0LF;
    g1 = 0.0LF;
    g2 = y - n * rmc_logistic(x);
    g3 = 0.0LF;
    if (!rmc_is_count(y) || !rmc_is_count(n) || y > n)
        return NEG_INF;
    return t > NEG_INF ? t : NEG_INF;
}

// (value, lambda, -, -log value!)
real dist_poisson(DIST_ARGS)
{
    real y = v0, t = v3 - v1;

    g0 = 0.0LF;
    g1 = (y > 0.0LF ? y / v1 : 0.0LF) - 1.0LF;
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!rmc_is_count(y) || !(v1 >= 0.0LF))
        return NEG_INF;
    if (y > 0.0LF)
        t += y * rmc_log(v1);
    return t > NEG_INF ? t : NEG_INF;
}

// (value, log rate, -, -log value!)
real dist_poisson_log(DIST_ARGS)
{
    real y = v0, rate = rmc_exp(v1), t = v3 - rate;

    g0 = 0.0LF;
    g1 = y - rate;
    g2 = 0.0LF;
    g3 = 0.0LF;
    if (!rmc_is_count(y))
        return NEG_INF;
    if (y > 0.0LF)
        t += y * v1;
    return t > NEG_INF ? t : NEG_INF;
}

// Negative binomial in Stan's mean parameterisation (see dist.c for the algebra):
// (value, mu or log mu, phi, -log value!).
real neg_binomial_2_common(real y, real m, real phi, real t0, bool log_mean, out real g1,
                           out real g2)
{
    real lq, l1q, q;

    if (log_mean) {
        real d = m - rmc_log(phi); // log(mu / phi)

        lq = -rmc_log1p_exp(-d);
        l1q = -rmc_log1p_exp(d);
        q = rmc_logistic(d);
        g1 = y - (y + phi) * q;
    } else {
        lq = -rmc_log1p(phi / m);
        l1q = -rmc_log1p(m / phi);
        q = m / (m + phi);
        g1 = y / m - (y + phi) / (m + phi);
    }
    g2 = rmc_digamma(y + phi) - rmc_digamma(phi) + l1q + q - y * (1.0LF - q) / phi;
    if (!rmc_is_count(y) || !(phi > 0.0LF) || (!log_mean && !(m > 0.0LF)))
        return NEG_INF;
    real t = t0 + rmc_lgamma(y + phi) - rmc_lgamma(phi) + phi * l1q;
    if (y > 0.0LF)
        t += y * lq;
    return t > NEG_INF ? t : NEG_INF;
}

real dist_neg_binomial_2(DIST_ARGS)
{
    g0 = 0.0LF;
    g3 = 0.0LF;
    return neg_binomial_2_common(v0, v1, v2, v3, false, g1, g2);
}

real dist_neg_binomial_2_log(DIST_ARGS)
{
    g0 = 0.0LF;
    g3 = 0.0LF;
    return neg_binomial_2_common(v0, v1, v2, v3, true, g1, g2);
}
