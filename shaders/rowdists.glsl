// rowdists.glsl - the distributions over rows of src/dist.c (categorical_logit,
// multi_normal_cholesky, dirichlet, lkj_corr_cholesky) as statements: each returns the log
// density summed over the value's rows (-inf outside the support) and adds its partials to
// the operands' adjoints, the loops of dist.c in the same order. Operands are codes as in
// linalg.glsl (la_v, la_g); the chain's first thread runs them. Sizes come from the
// statement's layout made at bind time: rows, K (the row length), step (0: one scalar for
// every element of a row, 1: a vector) and row_step (0: one row of the argument for every
// value row, K: a row per value row).
// TODO: as log-density expressions (per-row values, adjoint-weighted partials) they are
// refused for now; the same functions with a weight per row would serve them.

#define MV_UNIT_TOL 1e-8LF // dist.h's DIST_UNIT_TOL: a sum of 1, a unit row, within noise

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
real mv_categorical_logit(uint y, uint ystep, uint eta, uint n, uint k, uint row_step)
{
    real lp = 0.0LF, lse = 0.0LF, wsum = 0.0LF;

    if (row_step == 0u)
        lse = mv_log_sum_exp(eta, k);
    for (uint i = 0u; i < n; i++) {
        uint row = eta + i * row_step;
        real yv = la_v(y + i * ystep);

        if (row_step != 0u)
            lse = mv_log_sum_exp(row, k);
        if (!(yv >= 1.0LF && yv <= real(k) && yv == floor(yv)) || isinf(lse) || isnan(lse))
            return NEG_INF;
        uint c = uint(yv) - 1u;
        lp += la_v(row + c) - lse;
        la_g(row + c, 1.0LF);
        if (row_step == 0u) {
            wsum += 1.0LF;
            continue;
        }
        for (uint j = 0u; j < k; j++)
            la_g(row + j, -rmc_exp(la_v(row + j) - lse));
    }
    if (row_step == 0u) {
        for (uint j = 0u; j < k; j++)
            la_g(eta + j, -wsum * rmc_exp(la_v(eta + j) - lse));
    }
    return lp;
}

// Per row, z = L^-1 (y - mu): lp = -z'z / 2 - sum log L[j][j] - K log sqrt(2 pi); with
// a = L^-T z, the partials are -a (y), a (mu), a_j z_l on L's lower triangle less
// 1 / L[j][j] per row on its diagonal. z and a: 2 K scratch reals in the workspace.
real mv_multi_normal_cholesky(uint y, uint mu, uint l, uint rows, uint k, uint step,
                              uint row_step, uint z)
{
    uint a = z + k;
    real lp = 0.0LF, logdet = 0.0LF, wsum = 0.0LF;

    for (uint j = 0u; j < k; j++) {
        if (!(la_v(l + j * k + j) > 0.0LF))
            return NEG_INF;
        logdet += rmc_log(la_v(l + j * k + j));
    }
    for (uint i = 0u; i < rows; i++) {
        real q = 0.0LF;

        for (uint j = 0u; j < k; j++) {
            real s = la_v(y + i * k + j) - la_v(mu + i * row_step + j * step);

            for (uint m = 0u; m < j; m++)
                s -= la_v(l + j * k + m) * V(z + m);
            V(z + j) = s / la_v(l + j * k + j);
            q += V(z + j) * V(z + j);
        }
        lp += -0.5LF * q - logdet - real(k) * LOG_SQRT_2PI;
        for (int sj = int(k) - 1; sj >= 0; sj--) {
            uint j = uint(sj);
            real s = V(z + j);

            for (uint m = j + 1u; m < k; m++)
                s -= la_v(l + m * k + j) * V(a + m);
            V(a + j) = s / la_v(l + j * k + j);
        }
        for (uint j = 0u; j < k; j++) {
            la_g(y + i * k + j, -V(a + j));
            la_g(mu + i * row_step + j * step, V(a + j));
            if (l < LA_DATA) {
                for (uint m = 0u; m <= j; m++)
                    A(l + j * k + m) += V(a + j) * V(z + m);
            }
        }
        wsum += 1.0LF;
    }
    for (uint j = 0u; j < k; j++)
        la_g(l + j * k + j, -wsum / la_v(l + j * k + j));
    return lp;
}

// Per row: lgamma(A) - sum lgamma(alpha_j) + sum (alpha_j - 1) log theta_j, A = sum alpha;
// shared alpha takes its constant and digammas once.
real mv_dirichlet(uint th, uint al, uint rows, uint k, uint step, uint row_step)
{
    real lp = 0.0LF, cst = 0.0LF, sa = 0.0LF, wsum = 0.0LF;
    bool alpha_ok = false;

    for (uint i = 0u; i < rows; i++) {
        uint t = th + i * k, a = al + i * row_step;
        real sum = 0.0LF, lr = 0.0LF;
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
        if (!alpha_ok || !theta_ok || !(abs(sum - 1.0LF) <= MV_UNIT_TOL))
            return NEG_INF;
        lp += cst + lr;
        for (uint j = 0u; j < k; j++)
            la_g(t + j, (la_v(a + j * step) - 1.0LF) / la_v(t + j));
        for (uint j = 0u; j < k; j++) {
            real d = rmc_log(la_v(t + j));

            if (row_step != 0u)
                d += rmc_digamma(sa) - rmc_digamma(la_v(a + j * step));
            la_g(a + j * step, d);
        }
        wsum += 1.0LF;
    }
    if (row_step == 0u) {
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
real mv_lkj_corr_cholesky(uint l, uint eta, uint k)
{
    real e = la_v(eta), lz = 0.0LF, dz = 0.0LF, lsum = 0.0LF;

    if (!(e > 0.0LF) || !mv_corr_cholesky_ok(l, k))
        return NEG_INF;
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
        la_g(l + j * k + j, c / d);
    }
    la_g(eta, 2.0LF * lsum - dz);
    return lr;
}
