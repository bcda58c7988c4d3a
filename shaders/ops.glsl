// ops.glsl - elementwise operations: f_NAME gives the value, d_NAME the partials, the same
// formulas as src/ops.c. The lowering (src/vk_lower.c) names them from its op table; a
// binary partial takes (x, y, o) and writes dx, dy; a unary one takes (x, o).

real f_add(real x, real y) { return x + y; }
real f_sub(real x, real y) { return x - y; }
real f_mul(real x, real y) { return x * y; }
real f_div(real x, real y) { return x / y; }
real f_pow(real x, real y) { return rmc_pow(x, y); }
real f_min(real x, real y) { return x <= y ? x : y; }
real f_max(real x, real y) { return x >= y ? x : y; }

void d_add(real x, real y, real o, out real dx, out real dy) { dx = 1.0LF; dy = 1.0LF; }
void d_sub(real x, real y, real o, out real dx, out real dy) { dx = 1.0LF; dy = -1.0LF; }
void d_mul(real x, real y, real o, out real dx, out real dy) { dx = y; dy = x; }

void d_div(real x, real y, real o, out real dx, out real dy)
{
    dx = 1.0LF / y;
    dy = -o / y;
}

void d_pow(real x, real y, real o, out real dx, out real dy)
{
    dx = y * rmc_pow(x, y - 1.0LF);
    dy = x > 0.0LF ? o * rmc_log(x) : 0.0LF;
}

// min and max pass the adjoint to the chosen operand; a tie goes to the first.
void d_min(real x, real y, real o, out real dx, out real dy)
{
    dx = x <= y ? 1.0LF : 0.0LF;
    dy = 1.0LF - dx;
}

void d_max(real x, real y, real o, out real dx, out real dy)
{
    dx = x >= y ? 1.0LF : 0.0LF;
    dy = 1.0LF - dx;
}

real f_neg(real x) { return -x; }
real f_exp(real x) { return rmc_exp(x); }
real f_log(real x) { return rmc_log(x); }
real f_log1p(real x) { return rmc_log1p(x); }
real f_sqrt(real x) { return sqrt(x); }
real f_square(real x) { return x * x; }
real f_logistic(real x) { return rmc_logistic(x); }
real f_lgamma(real x) { return rmc_lgamma(x); }
real f_expm1(real x) { return rmc_expm1(x); }
real f_log1p_exp(real x) { return rmc_log1p_exp(x); }
real f_tanh(real x) { return rmc_tanh(x); }
real f_abs(real x) { return abs(x); }

real d_neg(real x, real o) { return -1.0LF; }
real d_exp(real x, real o) { return o; }
real d_log(real x, real o) { return 1.0LF / x; }
real d_log1p(real x, real o) { return 1.0LF / (1.0LF + x); }
real d_sqrt(real x, real o) { return 0.5LF / o; }
real d_square(real x, real o) { return 2.0LF * x; }
real d_logistic(real x, real o) { return o * (1.0LF - o); }
real d_lgamma(real x, real o) { return rmc_digamma(x); }
real d_expm1(real x, real o) { return o + 1.0LF; }
real d_log1p_exp(real x, real o) { return rmc_exp(x - o); }
real d_tanh(real x, real o) { return 1.0LF - o * o; }
real d_abs(real x, real o) { return x > 0.0LF ? 1.0LF : x < 0.0LF ? -1.0LF : 0.0LF; }

// log(theta exp(a) + (1 - theta) exp(b)), as a log-sum-exp of the two weighted terms.
real f_log_mix(real theta, real a, real b)
{
    real x = rmc_log(theta) + a, y = rmc_log1p(-theta) + b, m = x > y ? x : y;

    if (m == NEG_INF)
        return NEG_INF;
    return m + rmc_log(rmc_exp(x - m) + rmc_exp(y - m));
}

void d_log_mix(real theta, real a, real b, real o, out real dt, out real da, out real db)
{
    real pa = rmc_exp(a - o), pb = rmc_exp(b - o);

    dt = pa - pb;
    da = theta * pa;
    db = (1.0LF - theta) * pb;
}
