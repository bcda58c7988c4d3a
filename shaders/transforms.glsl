// transforms.glsl - constrained parameter maps too long to generate inline: the Cholesky
// factor of a correlation matrix (src/transform.c's corr_forward and corr_backward, the same
// loops in the same order). The chain's first thread runs them: each row is a running
// product. x is the parameter's first coordinate in the positions, v its values in the
// workspace, tmp free-dimension scratch reals there (the row length left before each
// element, kept from the forward map for the reverse one).

// tanh(y), sech(y) and log sech^2(y), each without overflow.
void tf_tanh_sech(real y, out real z, out real w, out real lw2)
{
    real e = rmc_exp(-abs(y)), e2 = e * e;

    z = rmc_tanh(y);
    w = 2.0LF * e / (1.0LF + e2);
    lw2 = 2.0LF * (LOG_2 - abs(y) - rmc_log1p(e2));
}

// Row i of L from z_j = tanh(u_j), j < i: L[i, j] = z_j r_j, r_{j+1} = r_j sech(u_j),
// L[i, i] = r_i; row 0 is (1, 0, ...). Returns the log-Jacobian.
real tf_corr_forward(uint k, uint x, uint v, uint tmp)
{
    k = la_n(k);
    real logj = 0.0LF;
    uint idx = 0u;

    for (uint i = 0u; i < k * k; i++)
        V(v + i) = 0.0LF;
    V(v) = 1.0LF;
    for (uint i = 1u; i < k; i++) {
        real r = 1.0LF;

        for (uint j = 0u; j < i; j++, idx++) {
            real z, w, lw2;

            tf_tanh_sech(X(x + idx), z, w, lw2);
            V(tmp + idx) = r;
            V(v + i * k + j) = z * r;
            logj += (1.0LF + 0.5LF * real(int(i) - 1 - int(j))) * lw2;
            r *= w;
        }
        V(v + i * k + i) = r;
    }
    return logj;
}

// Back along each row with ar, the adjoint of r_{j+1}; writes the gradient of the chain's
// free coordinates (log-Jacobian included).
void tf_corr_back(uint k, uint x, uint v, uint tmp)
{
    k = la_n(k);
    for (uint i = 1u; i < k; i++) {
        uint row = i * (i - 1u) / 2u;
        real ar = A(v + i * k + i);

        for (int j = int(i) - 1; j >= 0; j--) {
            uint idx = row + uint(j);
            real r = V(tmp + idx), gl = A(v + i * k + uint(j)), z, w, lw2;

            tf_tanh_sech(X(x + idx), z, w, lw2);
            if (live)
                G(x + idx) = gl * r * w * w - ar * r * w * z
                             - 2.0LF * (1.0LF + 0.5LF * real(int(i) - 1 - j)) * z;
            ar = ar * w + gl * z;
        }
    }
}
