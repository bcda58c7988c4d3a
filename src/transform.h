/* transform.h - parameter transforms between unconstrained and constrained values. */
#ifndef RMC_TRANSFORM_H
#define RMC_TRANSFORM_H

#include <stdint.h>

struct inst;

/* Unconstrained coordinates a parameter takes (its element count for bounds; fewer for
 * constrained shapes such as a simplex). */
int64_t transform_free_dim(const struct inst *in);

/* Constrain the parameter's slice of x into v; returns the log-Jacobian. */
double transform_forward(const struct inst *in, const double *x, double *v);

/* Reverse mode: from the adjoint gv of the constrained values to grad (the parameter's
 * slice), including the log-Jacobian's gradient. v holds the forward values. */
void transform_backward(const struct inst *in, const double *x, const double *v,
                        const double *gv, double *grad);

/* Unconstrain values y into the parameter's slice of x. Returns -1, or the index of the
 * first value outside the support. */
int64_t transform_inverse(const struct inst *in, const double *y, double *x);

#endif
