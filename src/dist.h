/* dist.h - distributions: a registry of what each one takes and accepts, and the fused
 * kernels that add a statement's log density and its partials in one pass.
 *
 * Adding a distribution: an enum value in rmc.h, a row in the registry in dist.c, and a
 * kernel. The kernel sees the value as operand 0 and the arguments as operands 1..nargs,
 * each with a stride (0 broadcasts a scalar) and an adjoint (NULL when the operand does not
 * depend on parameters); it returns -inf outside the support. Kernels are written per
 * element with the V, LP, REJECT and G macros of dist.c, so that the same kernel serves a
 * statement and an elementwise log-density expression (out and w set). */
#ifndef RMC_DIST_H
#define RMC_DIST_H

#include <stddef.h>
#include <stdint.h>

struct inst;

/* What values a distribution puts mass on; data-only values are checked at bind time. */
enum support {
    SUPPORT_REAL,
    SUPPORT_NONNEGATIVE,
    SUPPORT_BINARY,       /* {0, 1}                          */
};

struct dist_call {
    int64_t n;
    const double *v[4];
    int64_t s[4];
    double *g[4];
    const double *w;       /* NULL, or per-element weights of the partials      */
    double *out;           /* NULL, or per-element log densities written here   */
    const struct inst *in; /* the statement: bind-time precomputations, or NULL */
};

struct dist_info {
    const char *name;
    int32_t nargs;
    const char *args[3];
    uint32_t positive; /* bit k: argument k must be > 0      */
    uint32_t unit;     /* bit k: argument k must be in [0, 1] */
    int32_t support;   /* enum support                        */
    int32_t discrete;  /* the value must be data              */
    double (*lpdf)(const struct dist_call *c);
    /* NULL for elementwise distributions (each argument a scalar or the value's shape);
     * else checks the shapes of shp[0] (value) and shp[1..nargs] (arguments) and writes a
     * message naming the mismatch into why, returning non-zero when they do not fit. Used
     * by multivariate distributions (a vector value against a matrix argument, ...). */
    int (*check_shapes)(const struct inst *const *shp, char *why, size_t cap);
};

/* The registry row of a distribution, or NULL for an unknown one. */
const struct dist_info *dist_info(int32_t dist);

/* Log density of a statement, adding partials into the operands' adjoints. */
double dist_eval(int32_t dist, const struct dist_call *c);

/* Log density of a statement whose operands are all data. */
double dist_lpdf_const(int32_t dist, int32_t nargs, int64_t n, const double *const *v,
                       const int64_t *s);

/* Per-element log densities of data-only operands into out. */
void dist_lpdf_values(int32_t dist, int32_t nargs, int64_t n, const double *const *v,
                      const int64_t *s, double *out);

#endif
