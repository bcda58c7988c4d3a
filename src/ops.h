/* ops.h - elementwise operations and reductions. */
#ifndef RMC_OPS_H
#define RMC_OPS_H

#include <stdint.h>

/* Forward of an elementwise op (strides 0 or 1 broadcast a scalar) or reduction. */
void op_forward(int32_t op, int64_t n, const double *a, int64_t sa, const double *b,
                int64_t sb, double *o);

/* Reverse sweep of one op: go is the output's adjoint; ga, gb the inputs' adjoints (NULL
 * for data-only inputs), o the forward output. */
void op_backward(int32_t op, int64_t n, const double *a, int64_t sa, double *ga,
                 const double *b, int64_t sb, double *gb, const double *o, const double *go);

/* The ternary elementwise op (RMC_OP_LOG_MIX) over operands v[k] with strides s[k]. */
void op3_forward(int32_t op, int64_t n, const double *const v[3], const int64_t s[3],
                 double *o);
void op3_backward(int32_t op, int64_t n, const double *const v[3], const int64_t s[3],
                  double *const g[3], const double *o, const double *go);

#endif
