// rowdists.glsl - the distributions over rows of src/dist.c (categorical_logit,
// multi_normal_cholesky, dirichlet, lkj_corr_cholesky), the loops of dist.c in the same
// order. Operands are codes as in linalg.glsl (la_v, la_g); the chain's first thread runs
// them. Sizes come from the layout made at bind time: rows, K (the row length), step (0:
// one scalar for every element of a row, 1: a vector) and row_step (0: one row of the
// argument for every value row, K: a row per value row).
//
// Each serves dist.c's three uses, by mode:
//   MV_STATEMENT  the log density summed over the rows, partials added to the operands'
//                 adjoints; -inf as a whole outside the support.
//   MV_VALUES     an expression's forward sweep: row i's log density into V(o + i) (-inf
//                 for a row outside the support), no partials.
//   MV_PARTIALS   its reverse sweep: partials weighted by row i's adjoint A(o + i); stops
//                 at a row outside the support, as dist.c does.

// dist.h's DIST_UNIT_TOL: a sum of 1, a unit row, within noise; float32's own rounding of
// a row's sum is already near 1e-7, so it allows more.
#if RMC_F64
#define MV_UNIT_TOL 1e-8LF
#else
#define MV_UNIT_TOL 1e-5
#endif
#define MV_STATEMENT 0u
#define MV_VALUES 1u
#define MV_PARTIALS 2u

// Row i's weight: its adjoint for the partials of an expression, else 1.
real mv_w(uint mode, uint o, uint i)
{
    return mode == MV_PARTIALS ? A(o + i) : 1.0LF;
}

// An argument outside its support rejects every row.
real mv_reject_rows(uint mode, uint o, uint rows)
{
    if (mode == MV_VALUES) {
        for (uint i = 0u; i < rows; i++)
            V(o + i) = NEG_INF;
    }
    return NEG_INF;
}

// log(sum(exp(x[0..k-1]))) without overflow.
real mv_log_sum_exp(uint x, uint k)
{
    real top = NEG_INF, s = 0.0LF;

    for (uint j = 0u; j < k; j++)
        top = la_v(x + j) > top ? la_v(x + j) : top;
    if (isinf(top) || isnan(top))
        return top;
    for (uint j = 0u; j < k; j++)
        s += rmc_exp(la_v(x + j) - top);
    return top + rmc_log(s);
}

// lp = logits[y] - log_sum_exp(logits); shared logits take their log_sum_exp once. y has
// n elements (ystep 1) or is one scalar (ystep 0).
real mv_categorical_logit(uint y, uint ystep, uint eta, uint n, uint k, uint row_step,
                          uint mode, uint o)
{
    n = la_n(n); k = la_n(k);
    real lp = 0.0LF, lse = 0.0LF, wsum = 0.0LF;

    if (row_step == 0u)
        lse = mv_log_sum_exp(eta, k);
    for (uint i = 0u; i < n; i++) {
        uint row = eta + i * row_step;
        real yv = la_v(y + i * ystep), w = mv_w(mode, o, i);

        if (row_step != 0u)
            lse = mv_log_sum_exp(row, k);
        if (!(yv >= 1.0LF && yv <= real(k) && yv == floor(yv)) || isinf(lse) || isnan(lse)) {
            if (mode != MV_VALUES)
                return NEG_INF;
            V(o + i) = NEG_INF;
            continue;
        }
        uint c = uint(yv) - 1u;
        lp += la_v(row + c) - lse;
        if (mode == MV_VALUES) {
            V(o + i) = la_v(row + c) - lse;
            continue;
        }
        la_g(row + c, w);
        if (row_step == 0u) {
            wsum += w;
            continue;
        }
        for (uint j = 0u; j < k; j++)
            la_g(row + j, -w * rmc_exp(la_v(row + j) - lse));
    }
    if (row_step == 0u && mode != MV_VALUES) {
        for (uint j = 0u; j < k; j++)
            la_g(eta + j, -wsum * rmc_exp(la_v(eta + j) - lse));
    }
    return lp;
}

// Per row, z = L^-1 (y - mu): lp = -z'z / 2 - sum log L[j][j] - K log sqrt(2 pi); with
// a = L^-T z, the partials are -a (y), a (mu), a_j z_l on L's lower triangle less
// 1 / L[j][j] per row on its diagonal. z and a: 2 K scratch reals in the workspace.
real mv_multi_normal_cholesky(uint y, uint mu, uint l, uint rows, uint k, uint step,
                              uint row_step, uint z, uint mode, uint o)
{
    rows = la_n(rows); k = la_n(k);
    uint a = z + k;
    real lp = 0.0LF, logdet = 0.0LF, wsum = 0.0LF;

    for (uint j = 0u; j < k; j++) {
        if (!(la_v(l + j * k + j) > 0.0LF))
            return mv_reject_rows(mode, o, rows);
        logdet += rmc_log(la_v(l + j * k + j));
    }
    for (uint i = 0u; i < rows; i++) {
        real q = 0.0LF, w = mv_w(mode, o, i);

        for (uint j = 0u; j < k; j++) {
            real s = la_v(y + i * k + j) - la_v(mu + i * row_step + j * step);

            for (uint m = 0u; m < j; m++)
                s -= la_v(l + j * k + m) * V(z + m);
            V(z + j) = s / la_v(l + j * k + j);
            q += V(z + j) * V(z + j);
        }
        lp += -0.5LF * q - logdet - real(k) * LOG_SQRT_2PI;
        if (mode == MV_VALUES) {
            V(o + i) = -0.5LF * q - logdet - real(k) * LOG_SQRT_2PI;
            continue;
        }
        for (int sj = int(k) - 1; sj >= 0; sj--) {
            uint j = uint(sj);
            real s = V(z + j);

            for (uint m = j + 1u; m < k; m++)
                s -= la_v(l + m * k + j) * V(a + m);
            V(a + j) = s / la_v(l + j * k + j);
        }
        for (uint j = 0u; j < k; j++) {
            la_g(y + i * k + j, -w * V(a + j));
            la_g(mu + i * row_step + j * step, w * V(a + j));
            if (l < LA_DATA) {
                for (uint m = 0u; m <= j; m++)
                    A(l + j * k + m) += w * V(a + j) * V(z + m);
            }
        }
        wsum += w;
    }
    for (uint j = 0u; j < k && mode != MV_VALUES; j++)
        la_g(l + j * k + j, -wsum / la_v(l + j * k + j));
    return lp;
}

// Per row: lgamma(A) - sum lgamma(alpha_j) + sum (alpha_j - 1) log theta_j, A = sum alpha;
// shared alpha takes its constant and digammas once.
real mv_dirichlet(uint th, uint al, uint rows, uint k, uint step, uint row_step, uint mode,
                  uint o)
{
    rows = la_n(rows); k = la_n(k);
    real lp = 0.0LF, cst = 0.0LF, sa = 0.0LF, wsum = 0.0LF;
    bool alpha_ok = false;

    for (uint i = 0u; i < rows; i++) {
        uint t = th + i * k, a = al + i * row_step;
        real sum = 0.0LF, lr = 0.0LF, w = mv_w(mode, o, i);
        bool theta_ok = true;

        if (i == 0u || row_step != 0u) {
            alpha_ok = true;
            sa = 0.0LF;
            cst = 0.0LF;
            for (uint j = 0u; j < k; j++) {
                real aj = la_v(a + j * step);

                alpha_ok = alpha_ok && aj > 0.0LF;
                sa += aj;
                cst -= rmc_lgamma(aj);
            }
            cst += rmc_lgamma(sa);
        }
        for (uint j = 0u; j < k; j++) {
            theta_ok = theta_ok && la_v(t + j) > 0.0LF;
            sum += la_v(t + j);
            lr += (la_v(a + j * step) - 1.0LF) * rmc_log(la_v(t + j));
        }
        if (!alpha_ok || !theta_ok || !(abs(sum - 1.0LF) <= MV_UNIT_TOL)) {
            if (mode != MV_VALUES)
                return NEG_INF;
            V(o + i) = NEG_INF;
            continue;
        }
        lp += cst + lr;
        if (mode == MV_VALUES) {
            V(o + i) = cst + lr;
            continue;
        }
        for (uint j = 0u; j < k; j++)
            la_g(t + j, w * (la_v(a + j * step) - 1.0LF) / la_v(t + j));
        for (uint j = 0u; j < k; j++) {
            real d = rmc_log(la_v(t + j));

            if (row_step != 0u)
                d += rmc_digamma(sa) - rmc_digamma(la_v(a + j * step));
            la_g(a + j * step, w * d);
        }
        wsum += w;
    }
    if (row_step == 0u && mode != MV_VALUES) {
        real da = rmc_digamma(sa);

        for (uint j = 0u; j < k; j++)
            la_g(al + j * step, wsum * (da - rmc_digamma(la_v(al + j * step))));
    }
    return lp;
}

// Whether L is the Cholesky factor of a correlation matrix: lower triangular, positive
// diagonal, unit rows.
bool mv_corr_cholesky_ok(uint l, uint k)
{
    for (uint j = 0u; j < k; j++) {
        real norm2 = 0.0LF;

        for (uint m = j + 1u; m < k; m++) {
            if (la_v(l + j * k + m) != 0.0LF)
                return false;
        }
        if (!(la_v(l + j * k + j) > 0.0LF))
            return false;
        for (uint m = 0u; m <= j; m++)
            norm2 += la_v(l + j * k + m) * la_v(l + j * k + m);
        if (!(abs(sqrt(norm2) - 1.0LF) <= MV_UNIT_TOL))
            return false;
    }
    return true;
}

// lp = -log Z + sum_{j >= 1} (K - 3 - j + 2 eta) log L[j][j], Z from the C-vine
// construction (dist.c's lkj_log_norm), eta a scalar.
real mv_lkj_corr_cholesky(uint l, uint eta, uint k, uint mode, uint o)
{
    k = la_n(k);
    real e = la_v(eta), lz = 0.0LF, dz = 0.0LF, lsum = 0.0LF, w = mv_w(mode, o, 0u);

    if (!(e > 0.0LF) || !mv_corr_cholesky_ok(l, k))
        return mv_reject_rows(mode, o, 1u);
    for (uint m = 1u; m < k; m++) {
        real b = e + 0.5LF * real(k - 1u - m), n = real(k - m);

        lz += n * ((2.0LF * b - 1.0LF) * LOG_2 + (rmc_lgamma(b) + rmc_lgamma(b)
                                                  - rmc_lgamma(b + b)));
        dz += n * 2.0LF * (LOG_2 + rmc_digamma(b) - rmc_digamma(2.0LF * b));
    }
    real lr = -lz;
    for (uint j = 1u; j < k; j++) {
        real d = la_v(l + j * k + j), c = real(int(k) - 3 - int(j)) + 2.0LF * e;

        lr += c * rmc_log(d);
        lsum += rmc_log(d);
        if (mode != MV_VALUES)
            la_g(l + j * k + j, w * c / d);
    }
    if (mode == MV_VALUES)
        V(o) = lr;
    else
        la_g(eta, w * (2.0LF * lsum - dz));
    return lr;
}
