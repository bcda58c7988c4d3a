/* program.h - a model bound to data: resolved shapes, an ordered instruction list, and
 * the CPU evaluator of the log density and its gradient. */
#ifndef RMC_PROGRAM_H
#define RMC_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "rmc.h"

enum bound_kind { BOUND_NONE = 0, BOUND_LOWER = 1, BOUND_UPPER = 2, BOUND_BOTH = 3 };

/* One instruction: a model node with its shape resolved. Data-only instructions hold
 * their values (cval) computed once at bind time; the rest ("dynamic", depending on a
 * parameter) live at offset off of a per-thread workspace. */
struct inst {
    int32_t kind, op;
    int32_t nin;
    int32_t in[4];
    int32_t ndim;
    int64_t dims[RMC_MAX_DIMS];
    int64_t n;             /* number of elements                              */
    int32_t dynamic;
    int64_t off;           /* dynamic: offset into workspace value/adjoint arrays */
    const double *cval;    /* data-only: the values                          */
    int64_t xoff;          /* parameter: offset into the unconstrained vector */
    int64_t begin;         /* slice: first element taken                      */
    int32_t bound;         /* parameter: enum bound_kind                      */
    int32_t transform;     /* parameter: rmc_transform                        */
    int32_t lower, upper;  /* parameter: bound instructions, or -1 (RMC_NONE) */
    double lo, hi;         /* parameter: the bounds when they are data-only scalars (-inf,
                              inf when absent); NaN for an array bound or one that depends
                              on parameters, which only lower/upper describe */
    int64_t tmp_off, ntmp; /* dynamic: scratch doubles at tmp_off of ws->tmp   */
    double delta;          /* cov_exp_quad: diagonal jitter                   */
    const int32_t *index;  /* gather: zero-based indexes, validated           */
    const char *label;     /* statement: its description, for messages       */
    const double *aux;     /* statement: per-element values precomputed at bind */
    double cterm;          /* statement: its data-only terms, summed at bind  */
    int32_t scan_of;       /* 1 + the state node of the scan body holding it, or 0 */
    const int32_t *body;   /* scan: the step's dynamic instructions, in order */
    int32_t n_body;
    int64_t steps;         /* scan: T                                         */
    int64_t body_val, body_tmp; /* scan: the step's workspace and scratch spans,
                              saved per step (the tape) for the reverse sweep  */
};

struct out_var {
    char *name;
    int32_t inst;          /* instruction holding the values                  */
    int32_t ndim;
    int64_t dims[RMC_MAX_DIMS];
    int64_t first, n;      /* first column, element count                     */
};

enum program_kind { PROGRAM_GRAPH, PROGRAM_CALLBACK };

struct rmc_program {
    int32_t kind;
    int64_t dim;           /* unconstrained coordinates                       */

    /* PROGRAM_GRAPH */
    struct inst *inst;
    int32_t n_inst;
    int32_t *dyn;          /* dynamic instructions in evaluation order        */
    int32_t n_dyn;
    int64_t ws_size;       /* doubles per workspace array                     */
    int64_t tmp_size;      /* scratch doubles per workspace                   */
    double lp_const;       /* data-only distribution statements              */
    void **owned;          /* blocks to free with the program                 */
    int32_t n_owned, cap_owned;

    /* PROGRAM_CALLBACK */
    rmc_logp_fn fn;
    void *user;

    struct out_var *vars;
    int32_t n_vars;
    int64_t n_columns;
    char **columns;
};

/* Per-thread scratch for one evaluation at a time. */
struct workspace {
    double *val;
    double *adj;
    double *tmp;           /* what a node keeps from its forward to its reverse step */
};

struct workspace *workspace_create(const rmc_program *program);
void workspace_free(struct workspace *ws);

/* Log density at x, and its gradient into grad unless grad is NULL. Returns 0, or -1 when
 * a user callback failed. A point outside the support gives *lp = -inf. */
int program_eval(const rmc_program *program, struct workspace *ws, const double *x, double *lp,
                 double *grad);

/* The first distribution statement whose log density is not finite at x, described for
 * a message, or NULL when there is none. */
const char *program_explain(const rmc_program *program, struct workspace *ws, const double *x);

/* Unconstrain parameter column values into x, parameter by parameter in recording order,
 * so that a bound that depends on earlier parameters is known when it is needed. Returns
 * -1, or the first column outside its support, with what the support is in why. */
int64_t program_unconstrain(const rmc_program *program, struct workspace *ws,
                            const double *params, double *x, char *why, size_t cap);

/* The output columns at x (constrained parameters, deterministics). */
void program_columns(const rmc_program *program, struct workspace *ws, const double *x,
                     double *columns);

#endif
