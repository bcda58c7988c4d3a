/* transform.h - parameter transforms between unconstrained and constrained values. */
#ifndef RMC_TRANSFORM_H
#define RMC_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

struct inst;

/* A parameter's bounds at evaluation time: values with strides (0 broadcasts a scalar
 * bound, 1 walks a bound of the parameter's shape), and adjoints (NULL for a data-only
 * bound, or outside the reverse sweep). lo and hi are NULL when the bound is absent. */
struct tf_bounds {
    const double *lo, *hi;
    int64_t slo, shi;
    double *glo, *ghi;
};

/* Unconstrained coordinates a parameter takes: its element count for bounds, K - 1 for a
 * simplex of K, K (K - 1) / 2 for a K x K correlation Cholesky factor. */
int64_t transform_free_dim(const struct inst *in);

/* Scratch doubles the transform keeps from the forward to the reverse sweep. */
int64_t transform_scratch(const struct inst *in);

/* Constrain the parameter's slice of x into v; returns the log-Jacobian, or -inf where
 * the transform does not exist (a bound that depends on parameters and is not finite, a
 * lower bound not below the upper). tmp holds transform_scratch(in) doubles. */
double transform_forward(const struct inst *in, const struct tf_bounds *b, const double *x,
                         double *v, double *tmp);

/* Reverse mode: from the adjoint gv of the constrained values to grad (the parameter's
 * slice, overwritten), including the log-Jacobian's gradient, and to the bounds' adjoints.
 * v and tmp hold what the forward map left there. */
void transform_backward(const struct inst *in, const struct tf_bounds *b, const double *x,
                        const double *v, const double *gv, const double *tmp, double *grad);

/* Unconstrain values y into the parameter's slice of x. Returns -1, or the index of the
 * first value outside the support. */
int64_t transform_inverse(const struct inst *in, const struct tf_bounds *b, const double *y,
                          double *x);

/* What the support of the parameter is, for a message about element i of y. */
void transform_describe_support(const struct inst *in, const struct tf_bounds *b, int64_t i,
                                char *buf, size_t cap);

#endif
