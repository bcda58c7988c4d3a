/* transform.c - parameter transforms: the map from the sampler's unconstrained
 * coordinates to a parameter's constrained values, its log-Jacobian, the reverse-mode rule,
 * and the inverse map for user-supplied initial values.
 *
 * Adding a transform: a value in enum bound_kind (program.h), its free dimension in
 * transform_free_dim, and a case in each of the three maps below. */
#include "transform.h"

#include <math.h>
#include <string.h>

#include "program.h"

int64_t transform_free_dim(const struct inst *in)
{
    return in->n;
}

/* Constrain a parameter block; returns its log-Jacobian. */
double transform_forward(const struct inst *in, const double *x, double *v)
{
    const double *u = x + in->xoff;
    double logj = 0.0;

    switch (in->bound) {
    case BOUND_NONE:
        memcpy(v, u, (size_t)in->n * sizeof *v);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++) {
            v[i] = in->lo + exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++) {
            v[i] = in->hi - exp(u[i]);
            logj += u[i];
        }
        break;
    case BOUND_BOTH: {
        const double w = in->hi - in->lo;

        for (int64_t i = 0; i < in->n; i++) {
            /* log s + log(1 - s) = -|u| - 2 log1p(exp(-|u|)), stable for large |u| */
            double e = exp(-fabs(u[i]));
            double s = u[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            v[i] = in->lo + w * s;
            if (v[i] >= in->hi)
                v[i] = nextafter(in->hi, in->lo);
            logj += log(w) - fabs(u[i]) - 2.0 * log1p(e);
        }
        break;
    }
    }
    return logj;
}

void transform_backward(const struct inst *in, const double *x, const double *v,
                           const double *gv, double *grad)
{
    const double *u = x + in->xoff;
    double *g = grad + in->xoff;

    switch (in->bound) {
    case BOUND_NONE:
        memcpy(g, gv, (size_t)in->n * sizeof *g);
        break;
    case BOUND_LOWER:
        for (int64_t i = 0; i < in->n; i++)
            g[i] = gv[i] * (v[i] - in->lo) + 1.0;
        break;
    case BOUND_UPPER:
        for (int64_t i = 0; i < in->n; i++)
            g[i] = -gv[i] * (in->hi - v[i]) + 1.0;
        break;
    case BOUND_BOTH: {
        const double w = in->hi - in->lo;

        for (int64_t i = 0; i < in->n; i++) {
            double e = exp(-fabs(u[i]));
            double s = u[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            g[i] = gv[i] * w * s * (1.0 - s) + 1.0 - 2.0 * s;
        }
        break;
    }
    }
}

int64_t transform_inverse(const struct inst *in, const double *y, double *x)
{
    double *u = x + in->xoff;

    for (int64_t i = 0; i < in->n; i++) {
        switch (in->bound) {
        case BOUND_LOWER: u[i] = log(y[i] - in->lo); break;
        case BOUND_UPPER: u[i] = log(in->hi - y[i]); break;
        case BOUND_BOTH: {
            double s = (y[i] - in->lo) / (in->hi - in->lo);

            u[i] = log(s) - log1p(-s);
            break;
        }
        default: u[i] = y[i]; break;
        }
        if (!isfinite(u[i]))
            return i;
    }
    return -1;
}
