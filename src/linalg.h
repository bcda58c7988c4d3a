/* linalg.h - matrix operations with their reverse-mode rules: products, Cholesky
 * decomposition, triangular solves and the exponentiated-quadratic covariance. Matrices
 * are dense and row-major; adjoints are accumulated (+=), never overwritten. */
#ifndef RMC_LINALG_H
#define RMC_LINALG_H

#include <stdint.h>

struct inst;

/* The operations of a NODE_LINALG node (its op field). */
enum la_op {
    LA_VECMAT = 0,     /* (vec[R], matrix[R, C]) -> vector[C]                       */
    LA_MATMUL,         /* (matrix[R, K], matrix[K, C]) -> matrix[R, C]              */
    LA_DIAG_PRE,       /* (vec[R], matrix[R, C]) -> matrix[R, C], rows scaled       */
    LA_CHOLESKY,       /* (matrix[K, K]) -> lower-triangular factor                 */
    LA_TRI_SOLVE,      /* (lower[K, K], b[K] or b[K, C]) -> L \ b, b's shape        */
    LA_COV_EXP_QUAD,   /* (x[N] data, alpha, rho) -> matrix[N, N]                   */
    LA_COUNT
};

/* The op's name in messages ("cholesky"), or NULL for an unknown op. */
const char *la_name(int32_t op);

/* One evaluation of a NODE_LINALG instruction: operand values v[k] with shapes arg[k],
 * their adjoints g[k] (NULL for data-only operands, and in a forward sweep), the output o
 * with adjoint go, and scratch of la_scratch(in) doubles (NULL for a data-only node, which
 * never runs backward). */
struct la_call {
    const struct inst *in;
    const struct inst *arg[3];
    const double *v[3];
    double *g[3];
    double *o;
    const double *go;
    double *tmp;
};

/* Scratch doubles the reverse sweep of the node needs. */
int64_t la_scratch(const struct inst *in);

/* Forward: writes o. Returns -1, or for an output that does not exist (a matrix that is
 * not positive definite, a zero pivot) the row where it failed. */
int64_t la_forward(const struct la_call *c);

/* Reverse: adds go's contribution to every operand adjoint g[k] that is not NULL. */
void la_backward(const struct la_call *c);

/* Kernels, also used by NODE_MATVEC. */
void la_matvec(int64_t rows, int64_t cols, const double *m, const double *v, double *o);
void la_matvec_backward(int64_t rows, int64_t cols, const double *m, const double *v,
                        const double *go, double *gm, double *gv);

/* Cholesky factor of the lower triangle of a (k x k) into l; returns -1, or the first row
 * whose pivot is not positive (the matrix is not positive definite). */
int64_t la_cholesky(int64_t k, const double *a, double *l);

/* Largest |a[i, j] - a[j, i]| relative to max(1, |a[i, j]|), for symmetry checks. */
double la_asymmetry(int64_t k, const double *a);

#endif
