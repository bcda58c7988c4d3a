/* dist.h - distributions: a registry of what each one takes and accepts, and the fused
 * kernels that add a statement's log density and its partials in one pass.
 *
 * Adding a distribution: an enum value in rmc.h, a row in the registry in dist.c, and a
 * kernel. The kernel sees the value as operand 0 and the arguments as operands 1..nargs,
 * each with a stride (0 broadcasts a scalar) and an adjoint (NULL when the operand does not
 * depend on parameters); it returns -inf outside the support. Kernels are written per
 * element with the V, LP, REJECT and G macros of dist.c, so that the same kernel serves a
 * statement and an elementwise log-density expression (out and w set).
 *
 * Multivariate distributions (a check_shapes hook) loop over the value's rows instead, with
 * the sizes that binding keeps in the statement's aux (enum mv_layout); their log density
 * is one number per row, so those marked rowwise refuse rmc_lpdf. Count distributions keep
 * their data-only log factors in aux too. */
#ifndef RMC_DIST_H
#define RMC_DIST_H

#include <stddef.h>
#include <stdint.h>

struct inst;

/* What values a distribution puts mass on; data-only values are checked at bind time. */
enum support {
    SUPPORT_REAL,
    SUPPORT_NONNEGATIVE,
    SUPPORT_BINARY,        /* {0, 1}                                           */
    SUPPORT_POSITIVE,      /* > 0                                              */
    SUPPORT_UNIT_OPEN,     /* (0, 1)                                           */
    SUPPORT_COUNT,         /* 0, 1, 2, ... (binomials: also at most N)         */
    SUPPORT_CATEGORY,      /* 1, 2, ..., K                                     */
    SUPPORT_SIMPLEX,       /* each row positive, summing to 1                  */
    SUPPORT_CHOLESKY_CORR, /* lower triangular, positive diagonal, unit rows   */
};

/* Tolerance of the sums and norms a simplex or a correlation Cholesky factor must hit. */
#define DIST_UNIT_TOL 1e-8

/* A multivariate statement's sizes, kept in its inst's aux at bind time (a kernel sees
 * the operands' values but not their shapes). The "spread" argument is the one that may
 * come per row or once for all rows: mu, alpha, logits. Sizes are exact as doubles. */
enum mv_layout {
    MV_ROWS,     /* rows of the value (1 for a vector value)                  */
    MV_K,        /* event size: the value's columns, or categories            */
    MV_STEP,     /* element step of the spread argument: 0 for a scalar       */
    MV_ROW_STEP, /* its row step: 0 when one row serves every row of the value */
    MV_LAYOUT
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
    uint32_t count;    /* bit k: argument k must be data holding non-negative integers */
    /* The density is one number per row of the value, so an elementwise expression shaped
     * like the value cannot hold it: rmc_lpdf is refused at bind time. */
    int32_t rowwise;
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

/* What a statement or expression of dist keeps in its inst's aux, made once at bind time
 * from the operands' shapes and data-only values shp[0..nargs]: the sizes of a
 * multivariate distribution (enum mv_layout), or per element the data-only log factor of
 * a count distribution (-lgamma(y + 1), or log C(N, y) for the binomials). Returns the
 * number of doubles (0: nothing to keep); dist_aux_fill writes them. The count case needs
 * its value and its N as data, which the bind-time checks guarantee. */
int64_t dist_aux_size(int32_t dist, const struct inst *const *shp);
void dist_aux_fill(int32_t dist, const struct inst *const *shp, double *aux);

/* Bind-time checks of data-only operands that the registry's bits cannot express: an
 * observed count above its N, a category outside 1..K, a row off the simplex, a factor
 * that is not a Cholesky factor (observed values only when observed is set). Returns the
 * operand at fault (0: the value) and writes what is wrong, naming the index, into why;
 * -1 when all is well. */
int32_t dist_check_data(int32_t dist, const struct inst *const *shp, int observed, char *why,
                        size_t cap);

#endif
