// math.glsl - scalar functions in the working precision, matching src/mathfn.c and libm.
//
// GLSL's exp, log, pow and tanh exist for 32-bit floats only, so float64 gets its own exp
// and log here (range reduction and polynomials, within a few ulps); everything else is
// built on those two in both precisions. The backend promises a relative 1e-10 against the
// CPU evaluator in float64, far more than these need.

const real LOG_SQRT_2PI = 0.91893853320467274178LF;
const real LOG_PI = 1.14472988584940017414LF;
const real LOG_2 = 0.69314718055994530942LF;
const real PI_R = 3.14159265358979323846LF;

#if RMC_F64

// ln 2 split so that k * LN2_HI is exact for the |k| <= 1100 that exp and log meet.
const real LN2_HI = 6.93147180369123816490e-01LF;
const real LN2_LO = 1.90821492927058770002e-10LF;

real rmc_exp(real x)
{
    if (!(x < 709.782712893384LF))
        return x > 0.0LF ? POS_INF : x; // overflow; NaN stays NaN
    if (x < -745.2LF)
        return 0.0LF;

    // x = k ln2 + r with |r| <= ln2 / 2, then exp(r) by its Taylor series to r^13: the
    // first term left out is below 1e-17 of the result.
    real k = roundEven(x * 1.44269504088896340736LF);
    real r = (x - k * LN2_HI) - k * LN2_LO;
    real p = 1.0LF / 6227020800.0LF;
    p = p * r + 1.0LF / 479001600.0LF;
    p = p * r + 1.0LF / 39916800.0LF;
    p = p * r + 1.0LF / 3628800.0LF;
    p = p * r + 1.0LF / 362880.0LF;
    p = p * r + 1.0LF / 40320.0LF;
    p = p * r + 1.0LF / 5040.0LF;
    p = p * r + 1.0LF / 720.0LF;
    p = p * r + 1.0LF / 120.0LF;
    p = p * r + 1.0LF / 24.0LF;
    p = p * r + 1.0LF / 6.0LF;
    p = p * r + 0.5LF;
    p = p * r + 1.0LF;
    p = p * r + 1.0LF;

    // Scale by 2^k in two halves so that neither step overflows before the result does.
    int n = int(k), h = n / 2;
    return ldexp(ldexp(p, h), n - h);
}

real rmc_log(real x)
{
    if (!(x > 0.0LF))
        return x == 0.0LF ? NEG_INF : NAN_R;
    if (isinf(x))
        return x;

    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1),
    // a series in s^2 <= 0.0295 whose terms past s^23 are below 1e-18.
    int e;
    real m = frexp(x, e);
    if (m < 0.70710678118654752440LF) {
        m *= 2.0LF;
        e -= 1;
    }
    real f = m - 1.0LF;
    real s = f / (2.0LF + f), z = s * s;
    real q = 2.0LF / 23.0LF;
    q = q * z + 2.0LF / 21.0LF;
    q = q * z + 2.0LF / 19.0LF;
    q = q * z + 2.0LF / 17.0LF;
    q = q * z + 2.0LF / 15.0LF;
    q = q * z + 2.0LF / 13.0LF;
    q = q * z + 2.0LF / 11.0LF;
    q = q * z + 2.0LF / 9.0LF;
    q = q * z + 2.0LF / 7.0LF;
    q = q * z + 2.0LF / 5.0LF;
    q = q * z + 2.0LF / 3.0LF;
    real lm = 2.0LF * s + s * (z * q);
    real de = real(e);
    return de * LN2_HI + (de * LN2_LO + lm);
}

#else

real rmc_exp(real x)
{
    return exp(x);
}

// GLSL leaves log(x) undefined for x <= 0; the CPU gives -inf and NaN.
real rmc_log(real x)
{
    if (!(x > 0.0LF))
        return x == 0.0LF ? NEG_INF : NAN_R;
    return log(x);
}

#endif

// log(1 + x) accurate for small x: the rounding of 1 + x is undone by the ratio
// x / (u - 1) (Goldberg's method).
real rmc_log1p(real x)
{
    real u = 1.0LF + x;

    if (u == 1.0LF)
        return x;
    if (isinf(u) && u > 0.0LF)
        return u;
    return rmc_log(u) * (x / (u - 1.0LF));
}

// exp(x) - 1 accurate for small x (Kahan's method, the counterpart of rmc_log1p).
real rmc_expm1(real x)
{
    real u = rmc_exp(x);

    if (u == 1.0LF)
        return x;
    if (isinf(u))
        return u;
    real um1 = u - 1.0LF;
    if (um1 == -1.0LF)
        return -1.0LF;
    return um1 * x / rmc_log(u);
}

real rmc_tanh(real x)
{
    real a = abs(x);

    if (a > 22.0LF) // tanh(22) rounds to 1 in float64
        return x > 0.0LF ? 1.0LF : -1.0LF;
    real e = rmc_expm1(2.0LF * a);
    real t = e / (e + 2.0LF);
    return x < 0.0LF ? -t : t;
}

// pow with C99's answers for zero, negative and infinite arguments.
real rmc_pow(real x, real y)
{
    if (y == 0.0LF || x == 1.0LF)
        return 1.0LF;
    if (isnan(x) || isnan(y))
        return NAN_R;
    if (x > 0.0LF)
        return rmc_exp(y * rmc_log(x));

    bool whole = floor(y) == y;
    bool odd = whole && abs(y) < 9007199254740992.0LF && mod(y, 2.0LF) == 1.0LF;
    if (x == 0.0LF)
        return y < 0.0LF ? POS_INF : 0.0LF;
    if (!whole && !isinf(x))
        return NAN_R;
    real r = rmc_exp(y * rmc_log(-x));
    return odd ? -r : r;
}

real rmc_logistic(real a)
{
    return a >= 0.0LF ? 1.0LF / (1.0LF + rmc_exp(-a)) : rmc_exp(a) / (1.0LF + rmc_exp(a));
}

real rmc_log1p_exp(real a)
{
    return a > 0.0LF ? a + rmc_log1p(rmc_exp(-a)) : rmc_log1p(rmc_exp(a));
}

// sin(pi x) and cos(pi x). x - n / 2 is exact in binary, so the reduction to |r| <= 1/4
// loses nothing however large x is; then Taylor series in t = pi r, |t| <= 0.79.
void rmc_sincospi(real x, out real s, out real c)
{
    real n = roundEven(2.0LF * x);
    real r = x - 0.5LF * n;
    real t = PI_R * r, t2 = t * t;
    real sp = -1.0LF / 121645100408832000.0LF;
    sp = sp * t2 + 1.0LF / 355687428096000.0LF;
    sp = sp * t2 - 1.0LF / 1307674368000.0LF;
    sp = sp * t2 + 1.0LF / 6227020800.0LF;
    sp = sp * t2 - 1.0LF / 39916800.0LF;
    sp = sp * t2 + 1.0LF / 362880.0LF;
    sp = sp * t2 - 1.0LF / 5040.0LF;
    sp = sp * t2 + 1.0LF / 120.0LF;
    sp = sp * t2 - 1.0LF / 6.0LF;
    sp = t + t * (sp * t2);
    real cp = 1.0LF / 6402373705728000.0LF;
    cp = cp * t2 - 1.0LF / 20922789888000.0LF;
    cp = cp * t2 + 1.0LF / 87178291200.0LF;
    cp = cp * t2 - 1.0LF / 479001600.0LF;
    cp = cp * t2 + 1.0LF / 3628800.0LF;
    cp = cp * t2 - 1.0LF / 40320.0LF;
    cp = cp * t2 + 1.0LF / 720.0LF;
    cp = cp * t2 - 1.0LF / 24.0LF;
    cp = cp * t2 + 0.5LF;
    cp = 1.0LF - cp * t2;
    int q = int(mod(n, 4.0LF));
    s = q == 0 ? sp : q == 1 ? cp : q == 2 ? -sp : -cp;
    c = q == 0 ? cp : q == 1 ? -sp : q == 2 ? -cp : sp;
}

// log Gamma(z) for z >= 12 by Stirling's series; the first term left out is below 1e-17.
real lgamma_stirling(real z)
{
    real iz = 1.0LF / z, iz2 = iz * iz;
    real s = 1.0LF / 156.0LF;
    s = 691.0LF / 360360.0LF - iz2 * s;
    s = 1.0LF / 1188.0LF - iz2 * s;
    s = 1.0LF / 1680.0LF - iz2 * s;
    s = 1.0LF / 1260.0LF - iz2 * s;
    s = 1.0LF / 360.0LF - iz2 * s;
    s = 1.0LF / 12.0LF - iz2 * s;
    return (z - 0.5LF) * rmc_log(z) - z + LOG_SQRT_2PI + iz * s;
}

// log |Gamma(x)|, as glibc's lgamma: +inf at the poles, reflection below zero, otherwise
// the recurrence Gamma(x + 1) = x Gamma(x) up to 12 and Stirling's series there.
real rmc_lgamma(real x)
{
    if (isnan(x))
        return x;
    if (isinf(x))
        return POS_INF;
    if (x <= 0.0LF && floor(x) == x)
        return POS_INF;

    bool reflect = x < 0.0LF;
    real head = 0.0LF;
    if (reflect) { // Gamma(x) Gamma(1 - x) = pi / sin(pi x)
        real s, c;
        rmc_sincospi(x, s, c);
        head = LOG_PI - rmc_log(abs(s));
        x = 1.0LF - x;
    }
    real prod = 1.0LF;
    for (int k = 0; k < 12 && x < 12.0LF; k++) {
        prod *= x;
        x += 1.0LF;
    }
    real r = lgamma_stirling(x) - rmc_log(prod);
    return reflect ? head - r : r;
}

// The digamma function, step for step as rmc_digamma in src/mathfn.c.
real rmc_digamma(real x)
{
    real r = 0.0LF;

    if (x <= 0.0LF && floor(x) == x)
        return NAN_R;
    if (x < 0.0LF) { // psi(x) = psi(1 - x) - pi / tan(pi x)
        real s, c;
        rmc_sincospi(x, s, c);
        r = -PI_R * c / s;
        x = 1.0LF - x;
    }
    for (int k = 0; k < 8 && x < 6.0LF; k++) {
        r -= 1.0LF / x;
        x += 1.0LF;
    }
    real f = 1.0LF / (x * x);
    return r + rmc_log(x) - 0.5LF / x
           - f * (1.0LF / 12.0LF - f * (1.0LF / 120.0LF - f * (1.0LF / 252.0LF
                  - f * (1.0LF / 240.0LF - f / 132.0LF))));
}

// The next representable number below x (C's nextafter(x, -inf)), for the clamp that keeps
// a bounded parameter strictly below its upper bound.
real rmc_next_down(real x)
{
#if RMC_F64
    if (x == 0.0LF)
        return -packDouble2x32(uvec2(1u, 0u));
    uvec2 b = unpackDouble2x32(x);
    if (x > 0.0LF) {
        if (b.x == 0u)
            b.y -= 1u;
        b.x -= 1u;
    } else {
        b.x += 1u;
        if (b.x == 0u)
            b.y += 1u;
    }
    return packDouble2x32(b);
#else
    if (x == 0.0)
        return -uintBitsToFloat(1u);
    uint b = floatBitsToUint(x);
    return uintBitsToFloat(x > 0.0 ? b - 1u : b + 1u);
#endif
}
