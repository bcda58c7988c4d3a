/* eval.h - evaluation kernels shared by the evaluator and the bind-time folding. */
#ifndef RMC_EVAL_H
#define RMC_EVAL_H

#include <stdint.h>

/* Forward of an elementwise op (strides 0 or 1 broadcast a scalar) or reduction. */
void op_forward(int32_t op, int64_t n, const double *a, int64_t sa, const double *b,
                int64_t sb, double *o);

/* Log density of a distribution statement whose operands are all data. */
double dist_lpdf_const(int32_t dist, int32_t nargs, int64_t n, const double *const *v,
                       const int64_t *s);

double rmc_digamma(double x);

#endif
