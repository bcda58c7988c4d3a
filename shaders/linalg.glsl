// linalg.glsl - the linear-algebra nodes of src/linalg.c for one chain: products, Cholesky
// decomposition, triangular solves and the exponentiated-quadratic covariance, each with
// its reverse rule. The loops are linalg.c's, in the same order, so sums round as the CPU's
// do. The chain's first thread runs them (the factorisations are sequential; the generator
// puts a barrier after each call).
// TODO: a K x K factor in shared memory, with the chain's threads splitting each row's
// inner loop, would spread the work of large matrices over the chain's threads.
//
// An operand is named by a code: its offset in the chain's workspace (values V, adjoints
// A), or LA_DATA plus its offset in the data buffer for a data-only operand, which has no
// adjoint. Matrices are dense and row-major; adjoints are accumulated, never overwritten.

#define LA_DATA 0x80000000u

// Every size passes through this on entry, so that the driver cannot see the loops' bounds:
// with constant bounds lavapipe unrolled and inlined every call, and a model with a dozen
// matrix nodes took a minute to compile at its first dispatch. idx[0] is always 0 (the
// lowering puts it there); the cost is one load per call.
uint la_n(uint n)
{
    return n + uint(idx[0]);
}

real la_v(uint o)
{
    return o >= LA_DATA ? dat[o - LA_DATA] : V(o);
}

// Add v to the adjoint of operand code o (nothing for a data-only operand).
void la_g(uint o, real v)
{
    if (o < LA_DATA)
        A(o) += v;
}

// ---------------------------------------------------------------- products

// o[c] = sum_r v[r] m[r, c], row by row.
void la_vecmat(uint rows, uint cols, uint v, uint m, uint o)
{
    rows = la_n(rows); cols = la_n(cols);
    for (uint c = 0u; c < cols; c++)
        V(o + c) = 0.0LF;
    for (uint r = 0u; r < rows; r++) {
        real w = la_v(v + r);

        for (uint c = 0u; c < cols; c++)
            V(o + c) += w * la_v(m + r * cols + c);
    }
}

void la_vecmat_back(uint rows, uint cols, uint v, uint m, uint o)
{
    rows = la_n(rows); cols = la_n(cols);
    for (uint r = 0u; r < rows; r++) {
        if (v < LA_DATA) {
            real s = 0.0LF;

            for (uint c = 0u; c < cols; c++)
                s += A(o + c) * la_v(m + r * cols + c);
            A(v + r) += s;
        }
        if (m < LA_DATA) {
            for (uint c = 0u; c < cols; c++)
                A(m + r * cols + c) += la_v(v + r) * A(o + c);
        }
    }
}

// o = a b for a (rows x inner) and b (inner x cols), in i-k-j order.
void la_matmul(uint rows, uint inner, uint cols, uint a, uint b, uint o)
{
    rows = la_n(rows); inner = la_n(inner); cols = la_n(cols);
    for (uint i = 0u; i < rows * cols; i++)
        V(o + i) = 0.0LF;
    for (uint r = 0u; r < rows; r++) {
        for (uint k = 0u; k < inner; k++) {
            real w = la_v(a + r * inner + k);

            for (uint c = 0u; c < cols; c++)
                V(o + r * cols + c) += w * la_v(b + k * cols + c);
        }
    }
}

void la_matmul_back(uint rows, uint inner, uint cols, uint a, uint b, uint o)
{
    rows = la_n(rows); inner = la_n(inner); cols = la_n(cols);
    for (uint r = 0u; r < rows; r++) {
        for (uint k = 0u; k < inner; k++) {
            if (a < LA_DATA) {
                real s = 0.0LF;

                for (uint c = 0u; c < cols; c++)
                    s += A(o + r * cols + c) * la_v(b + k * cols + c);
                A(a + r * inner + k) += s;
            }
            if (b < LA_DATA) {
                real w = la_v(a + r * inner + k);

                for (uint c = 0u; c < cols; c++)
                    A(b + k * cols + c) += w * A(o + r * cols + c);
            }
        }
    }
}

// o[r, c] = v[r] m[r, c]
void la_diag_pre(uint rows, uint cols, uint v, uint m, uint o)
{
    rows = la_n(rows); cols = la_n(cols);
    for (uint r = 0u; r < rows; r++) {
        for (uint c = 0u; c < cols; c++)
            V(o + r * cols + c) = la_v(v + r) * la_v(m + r * cols + c);
    }
}

void la_diag_pre_back(uint rows, uint cols, uint v, uint m, uint o)
{
    rows = la_n(rows); cols = la_n(cols);
    for (uint r = 0u; r < rows; r++) {
        if (v < LA_DATA) {
            real s = 0.0LF;

            for (uint c = 0u; c < cols; c++)
                s += A(o + r * cols + c) * la_v(m + r * cols + c);
            A(v + r) += s;
        }
        if (m < LA_DATA) {
            for (uint c = 0u; c < cols; c++)
                A(m + r * cols + c) += la_v(v + r) * A(o + r * cols + c);
        }
    }
}

// ---------------------------------------------------------------- Cholesky

// Row by row (Cholesky-Banachiewicz) into l (a workspace offset). False where a pivot is
// not positive and finite: the matrix is not positive definite, and the point is rejected.
bool la_cholesky(uint k, uint a, uint l)
{
    k = la_n(k);
    for (uint i = 0u; i < k; i++) {
        for (uint j = 0u; j <= i; j++) {
            real s = la_v(a + i * k + j);

            for (uint m = 0u; m < j; m++)
                s -= V(l + i * k + m) * V(l + j * k + m);
            if (j < i) {
                V(l + i * k + j) = s / V(l + j * k + j);
            } else {
                if (!(s > 0.0LF && s < POS_INF))
                    return false;
                V(l + i * k + i) = sqrt(s);
            }
        }
        for (uint j = i + 1u; j < k; j++)
            V(l + i * k + j) = 0.0LF;
    }
    return true;
}

// The reverse of la_cholesky (linalg.c's cholesky_backward): lb, k * k scratch reals in the
// workspace, starts as the output's adjoint and absorbs what later entries pass back.
void la_cholesky_back(uint k, uint a, uint l, uint lb)
{
    k = la_n(k);
    for (uint i = 0u; i < k * k; i++)
        V(lb + i) = A(l + i);
    for (int j = int(k) - 1; j >= 0; j--) {
        uint uj = uint(j), jj = uj * k;

        for (int i = int(k) - 1; i > j; i--) {
            uint ii = uint(i) * k;
            real t = V(lb + ii + uj) / V(l + jj + uj);

            la_g(a + ii + uj, t);
            for (uint m = 0u; m < uj; m++) {
                V(lb + ii + m) -= t * V(l + jj + m);
                V(lb + jj + m) -= t * V(l + ii + m);
            }
            V(lb + jj + uj) -= t * V(l + ii + uj);
        }

        real t = V(lb + jj + uj) / (2.0LF * V(l + jj + uj));

        la_g(a + jj + uj, t);
        for (uint m = 0u; m < uj; m++)
            V(lb + jj + m) -= 2.0LF * t * V(l + jj + m);
    }
}

// ---------------------------------------------------------------- triangular solve

// x = L \ b by forward substitution over the rows of b (k x cols). False at a zero or
// non-finite pivot.
bool la_tri_solve(uint k, uint cols, uint l, uint b, uint x)
{
    k = la_n(k); cols = la_n(cols);
    for (uint i = 0u; i < k; i++) {
        real d = la_v(l + i * k + i);

        if (!(d != 0.0LF && !isinf(d) && !isnan(d)))
            return false;
        for (uint c = 0u; c < cols; c++)
            V(x + i * cols + c) = la_v(b + i * cols + c);
        for (uint m = 0u; m < i; m++) {
            real w = la_v(l + i * k + m);

            for (uint c = 0u; c < cols; c++)
                V(x + i * cols + c) -= w * V(x + m * cols + c);
        }
        for (uint c = 0u; c < cols; c++)
            V(x + i * cols + c) /= d;
    }
    return true;
}

// bb = L^-T xb by back substitution (bb: k * cols scratch reals), then gb += bb and
// gl -= bb x^T on the lower triangle, as linalg.c's tri_solve_backward.
void la_tri_solve_back(uint k, uint cols, uint l, uint b, uint x, uint bb)
{
    k = la_n(k); cols = la_n(cols);
    for (uint i = 0u; i < k * cols; i++)
        V(bb + i) = A(x + i);
    for (int si = int(k) - 1; si >= 0; si--) {
        uint i = uint(si);
        real d = la_v(l + i * k + i);

        for (uint c = 0u; c < cols; c++)
            V(bb + i * cols + c) /= d;
        for (uint m = 0u; m < i; m++) {
            real w = la_v(l + i * k + m);

            for (uint c = 0u; c < cols; c++)
                V(bb + m * cols + c) -= w * V(bb + i * cols + c);
        }
    }
    if (b < LA_DATA) {
        for (uint i = 0u; i < k * cols; i++)
            A(b + i) += V(bb + i);
    }
    if (l < LA_DATA) {
        for (uint i = 0u; i < k; i++) {
            for (uint m = 0u; m <= i; m++) {
                real s = 0.0LF;

                for (uint c = 0u; c < cols; c++)
                    s += V(bb + i * cols + c) * V(x + m * cols + c);
                A(l + i * k + m) -= s;
            }
        }
    }
}

// ---------------------------------------------------------------- covariance

// o[i, j] = alpha^2 exp(-(x[i] - x[j])^2 / (2 rho^2)) + delta [i == j]; x and delta are
// data (codes), alpha and rho scalars.
void la_cov_exp_quad(uint n, uint x, uint alpha, uint rho, uint delta, uint o)
{
    n = la_n(n);
    real al = la_v(alpha), rh = la_v(rho);
    real a2 = al * al, c = -0.5LF / (rh * rh);

    for (uint i = 0u; i < n; i++) {
        V(o + i * n + i) = a2 + la_v(delta);
        for (uint j = 0u; j < i; j++) {
            real d = la_v(x + i) - la_v(x + j);
            real e = a2 * rmc_exp(c * d * d);

            V(o + i * n + j) = e;
            V(o + j * n + i) = e;
        }
    }
}

// dk/dalpha = 2 alpha E, dk/drho = alpha^2 E d^2 / rho^3, E = exp(-d^2 / (2 rho^2)).
void la_cov_exp_quad_back(uint n, uint x, uint alpha, uint rho, uint o)
{
    n = la_n(n);
    real al = la_v(alpha), rh = la_v(rho);
    real c = -0.5LF / (rh * rh), se = 0.0LF, sed = 0.0LF;

    for (uint i = 0u; i < n; i++) {
        se += A(o + i * n + i);
        for (uint j = 0u; j < i; j++) {
            real d = la_v(x + i) - la_v(x + j), e = rmc_exp(c * d * d);
            real w = (A(o + i * n + j) + A(o + j * n + i)) * e;

            se += w;
            sed += w * d * d;
        }
    }
    la_g(alpha, 2.0LF * al * se);
    la_g(rho, al * al * sed / (rh * rh * rh));
}
