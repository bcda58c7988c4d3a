/* eval.c - the CPU evaluator: a forward sweep over the dynamic instructions, with
 * distribution statements writing their partials straight into the adjoints, then a
 * reverse sweep through the operations. Nothing is allocated per evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "linalg.h"
#include "model.h"
#include "ops.h"
#include "program.h"
#include "transform.h"
#include "util.h"

static const double *value_of(const rmc_program *p, const struct workspace *ws, int32_t id)
{
    const struct inst *in = &p->inst[id];

    return in->dynamic ? ws->val + in->off : in->cval;
}

static double *adjoint_of(const rmc_program *p, const struct workspace *ws, int32_t id)
{
    const struct inst *in = &p->inst[id];

    return in->dynamic ? ws->adj + in->off : NULL;
}

/* Where a parameter's bounds are: data-only values or workspace values, and adjoints when
 * the reverse sweep wants them. */
static struct tf_bounds bounds_of(const rmc_program *p, const struct workspace *ws,
                                  const struct inst *in, int grad)
{
    struct tf_bounds b = { NULL, NULL, 0, 0, NULL, NULL };

    if (in->bound & BOUND_LOWER) {
        b.lo = value_of(p, ws, in->lower);
        b.slo = p->inst[in->lower].n > 1;
        b.glo = grad ? adjoint_of(p, ws, in->lower) : NULL;
    }
    if (in->bound & BOUND_UPPER) {
        b.hi = value_of(p, ws, in->upper);
        b.shi = p->inst[in->upper].n > 1;
        b.ghi = grad ? adjoint_of(p, ws, in->upper) : NULL;
    }
    return b;
}

/* The operands of a linear-algebra node, with adjoints when grad is set. */
static struct la_call la_call_of(const rmc_program *p, struct workspace *ws,
                                 const struct inst *in, int grad)
{
    struct la_call c = { .in = in, .o = ws->val + in->off, .go = ws->adj + in->off,
                         .tmp = ws->tmp + in->tmp_off };

    for (int32_t k = 0; k < in->nin; k++) {
        c.arg[k] = &p->inst[in->in[k]];
        c.v[k] = value_of(p, ws, in->in[k]);
        c.g[k] = grad ? adjoint_of(p, ws, in->in[k]) : NULL;
    }
    return c;
}

static double forward_one(const rmc_program *p, struct workspace *ws, const double *x,
                          const struct inst *in, int grad);
static void backward_one(const rmc_program *p, struct workspace *ws, const double *x,
                         const struct inst *in, double *grad);

/* Point a scan's state and input nodes at step t: the previous state (init at t = 0) and
 * row t of each sequence. */
static void scan_load(const rmc_program *p, struct workspace *ws, const struct inst *in,
                      int64_t t)
{
    const struct inst *sn = &p->inst[p->inst[in->in[1]].scan_of - 1];
    const double *out = ws->val + in->off;

    memcpy(ws->val + sn->off, t ? out + (t - 1) * sn->n : value_of(p, ws, in->in[0]),
           (size_t)sn->n * sizeof(double));
    for (int32_t k = 2; k < in->nin; k++) {
        const struct inst *slot = sn + (k - 1); /* the input nodes follow the state node */

        memcpy(ws->val + slot->off, value_of(p, ws, in->in[k]) + t * slot->n,
               (size_t)slot->n * sizeof(double));
    }
}

/* Run the step T times. The step's values and scratch are saved per step (the tape) so
 * the reverse sweep can restore them. Returns the steps' contribution to lp: 0, or -inf
 * when an operation inside has no value there (a Cholesky factor of a matrix that is not
 * positive definite). */
static double scan_forward(const rmc_program *p, struct workspace *ws, const double *x,
                           const struct inst *in)
{
    const struct inst *sn = &p->inst[p->inst[in->in[1]].scan_of - 1];
    const struct inst *next = &p->inst[in->in[1]];
    double *out = ws->val + in->off, *tape = ws->tmp + in->tmp_off;
    double lp = 0.0;

    for (int64_t t = 0; t < in->steps; t++) {
        scan_load(p, ws, in, t);
        for (int32_t j = 0; j < in->n_body; j++)
            lp += forward_one(p, ws, x, &p->inst[in->body[j]], 0);
        memcpy(out + t * sn->n, ws->val + next->off, (size_t)sn->n * sizeof(double));
        memcpy(tape, ws->val + sn->off, (size_t)in->body_val * sizeof(double));
        memcpy(tape + in->body_val, ws->tmp + sn->tmp_off,
               (size_t)in->body_tmp * sizeof(double));
        tape += in->body_val + in->body_tmp;
    }
    return lp == lp ? lp : -INFINITY;
}

/* Back through the steps: restore step t, seed its result's adjoint with the output's and
 * the adjoint carried from step t + 1, run the step's reverse sweep, and carry the state's
 * adjoint on. Outer nodes used by the step (parameters) accumulate across all steps. */
static void scan_backward(const rmc_program *p, struct workspace *ws, const double *x,
                          const struct inst *in, double *grad)
{
    const struct inst *sn = &p->inst[p->inst[in->in[1]].scan_of - 1];
    const struct inst *next = &p->inst[in->in[1]];
    const int64_t s = sn->n, span = in->body_val + in->body_tmp;
    const double *go = ws->adj + in->off;
    double *carry = ws->tmp + in->tmp_off + in->steps * span;
    double *g_init = adjoint_of(p, ws, in->in[0]);

    memset(carry, 0, (size_t)s * sizeof *carry);
    for (int64_t t = in->steps - 1; t >= 0; t--) {
        const double *tape = ws->tmp + in->tmp_off + t * span;
        double *g_next = ws->adj + next->off;

        memcpy(ws->val + sn->off, tape, (size_t)in->body_val * sizeof(double));
        memcpy(ws->tmp + sn->tmp_off, tape + in->body_val,
               (size_t)in->body_tmp * sizeof(double));
        memset(ws->adj + sn->off, 0, (size_t)in->body_val * sizeof(double));
        for (int64_t i = 0; i < s; i++)
            g_next[i] += go[t * s + i] + carry[i];
        for (int32_t j = in->n_body - 1; j >= 0; j--)
            backward_one(p, ws, x, &p->inst[in->body[j]], grad);
        memcpy(carry, ws->adj + sn->off, (size_t)s * sizeof *carry);
        for (int32_t k = 2; k < in->nin; k++) {
            const struct inst *slot = sn + (k - 1);
            double *g_seq = adjoint_of(p, ws, in->in[k]);

            for (int64_t i = 0; g_seq && i < slot->n; i++)
                g_seq[t * slot->n + i] += ws->adj[slot->off + i];
        }
    }
    for (int64_t i = 0; g_init && i < s; i++)
        g_init[i] += carry[i];
}

/* One instruction of the forward sweep; returns its contribution to lp. With adjoints on,
 * a distribution statement adds its partials to its operands' adjoints as it goes (its own
 * adjoint is always 1), so the reverse sweep only walks the operations. */
static double forward_one(const rmc_program *p, struct workspace *ws, const double *x,
                          const struct inst *in, int grad)
{
    double *o = ws->val + in->off;

    switch (in->kind) {
    case NODE_PARAM: {
        struct tf_bounds b = bounds_of(p, ws, in, 0);

        return transform_forward(in, &b, x, o, ws->tmp + in->tmp_off);
    }
    case NODE_OP1:
        op_forward(in->op, p->inst[in->in[0]].n, value_of(p, ws, in->in[0]), 1, NULL, 0, o);
        return 0.0;
    case NODE_OP2: {
        const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];
        int64_t n = in->op == RMC_OP_DOT ? a->n : in->n;

        op_forward(in->op, n, value_of(p, ws, in->in[0]), a->n > 1, value_of(p, ws, in->in[1]),
                   b->n > 1, o);
        return 0.0;
    }
    case NODE_GATHER: {
        const double *src = value_of(p, ws, in->in[0]);

        for (int64_t i = 0; i < in->n; i++)
            o[i] = src[in->index[i]];
        return 0.0;
    }
    case NODE_MATVEC:
        la_matvec(in->n, in->dims[1], value_of(p, ws, in->in[0]), value_of(p, ws, in->in[1]),
                  o);
        return 0.0;
    case NODE_CONCAT: {
        const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];

        memcpy(o, value_of(p, ws, in->in[0]), (size_t)a->n * sizeof *o);
        memcpy(o + a->n, value_of(p, ws, in->in[1]), (size_t)b->n * sizeof *o);
        return 0.0;
    }
    case NODE_LINALG: {
        struct la_call c = la_call_of(p, ws, in, 0);

        /* a matrix that is not positive definite here: no such point, reject it */
        if (la_forward(&c) >= 0) {
            for (int64_t i = 0; i < in->n; i++)
                o[i] = NAN;
            return -INFINITY;
        }
        return 0.0;
    }
    case NODE_SLICE:
        memcpy(o, value_of(p, ws, in->in[0]) + in->begin, (size_t)in->n * sizeof *o);
        return 0.0;
    case NODE_TILDE:
    case NODE_LPDF: {
        struct dist_call c = { .n = p->inst[in->in[0]].n, .in = in };
        int tilde = in->kind == NODE_TILDE;

        for (int32_t a = 0; a < in->nin; a++) {
            c.v[a] = value_of(p, ws, in->in[a]);
            c.s[a] = p->inst[in->in[a]].n > 1;
            c.g[a] = grad && tilde ? adjoint_of(p, ws, in->in[a]) : NULL;
        }
        if (tilde)
            return dist_eval(in->op, &c);
        c.out = o; /* an expression: partials wait for the reverse sweep */
        dist_eval(in->op, &c);
        return 0.0;
    }
    case NODE_OP3: {
        const double *v[3];
        int64_t s[3];

        for (int k = 0; k < 3; k++) {
            v[k] = value_of(p, ws, in->in[k]);
            s[k] = p->inst[in->in[k]].n > 1;
        }
        op3_forward(in->op, in->n, v, s, o);
        return 0.0;
    }
    case NODE_SCAN:
        return scan_forward(p, ws, x, in);
    case NODE_SCAN_STATE:
    case NODE_SCAN_INPUT:
        return 0.0; /* loaded by their scan */
    case NODE_TARGET: {
        const struct inst *a = &p->inst[in->in[0]];
        const double *v = value_of(p, ws, in->in[0]);
        double *g = grad ? adjoint_of(p, ws, in->in[0]) : NULL;
        double sum = 0.0;

        for (int64_t i = 0; i < a->n; i++) {
            sum += v[i];
            if (g)
                g[i] += 1.0;
        }
        return sum;
    }
    }
    return NAN;
}

/* The forward sweep; it stops at the first -inf unless every value is wanted (full). */
static double forward(const rmc_program *p, struct workspace *ws, const double *x, int grad,
                      int full)
{
    double lp = p->lp_const;

    for (int32_t k = 0; k < p->n_dyn; k++) {
        lp += forward_one(p, ws, x, &p->inst[p->dyn[k]], grad);
        if ((lp == -INFINITY || lp != lp) && !full)
            return -INFINITY;
    }
    return lp == lp ? lp : -INFINITY;
}

/* One instruction of the reverse sweep: from its adjoint to its inputs' adjoints. */
static void backward_one(const rmc_program *p, struct workspace *ws, const double *x,
                         const struct inst *in, double *grad)
{
    const double *o = ws->val + in->off, *go = ws->adj + in->off;

    switch (in->kind) {
    case NODE_PARAM: {
        struct tf_bounds b = bounds_of(p, ws, in, 1);

        transform_backward(in, &b, x, o, go, ws->tmp + in->tmp_off, grad);
        break;
    }
    case NODE_OP1:
        op_backward(in->op, p->inst[in->in[0]].n, value_of(p, ws, in->in[0]), 1,
                    adjoint_of(p, ws, in->in[0]), NULL, 0, NULL, o, go);
        break;
    case NODE_OP2: {
        const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];
        int64_t n = in->op == RMC_OP_DOT ? a->n : in->n;

        op_backward(in->op, n, value_of(p, ws, in->in[0]), a->n > 1,
                    adjoint_of(p, ws, in->in[0]), value_of(p, ws, in->in[1]), b->n > 1,
                    adjoint_of(p, ws, in->in[1]), o, go);
        break;
    }
    case NODE_GATHER: {
        /* Scatter-add; sequential per thread, so no atomics are needed. */
        double *gs = adjoint_of(p, ws, in->in[0]);

        for (int64_t i = 0; i < in->n; i++)
            gs[in->index[i]] += go[i];
        break;
    }
    case NODE_LPDF: {
        struct dist_call c = { .n = in->n, .in = in, .w = go };

        for (int32_t a = 0; a < in->nin; a++) {
            c.v[a] = value_of(p, ws, in->in[a]);
            c.s[a] = p->inst[in->in[a]].n > 1;
            c.g[a] = adjoint_of(p, ws, in->in[a]);
        }
        dist_eval(in->op, &c);
        break;
    }
    case NODE_OP3: {
        const double *v[3];
        double *g[3];
        int64_t s[3];

        for (int j = 0; j < 3; j++) {
            v[j] = value_of(p, ws, in->in[j]);
            g[j] = adjoint_of(p, ws, in->in[j]);
            s[j] = p->inst[in->in[j]].n > 1;
        }
        op3_backward(in->op, in->n, v, s, g, o, go);
        break;
    }
    case NODE_SLICE: {
        double *gs = adjoint_of(p, ws, in->in[0]) + in->begin;

        for (int64_t i = 0; i < in->n; i++)
            gs[i] += go[i];
        break;
    }
    case NODE_MATVEC:
        la_matvec_backward(in->n, in->dims[1], value_of(p, ws, in->in[0]),
                           value_of(p, ws, in->in[1]), go, adjoint_of(p, ws, in->in[0]),
                           adjoint_of(p, ws, in->in[1]));
        break;
    case NODE_CONCAT: {
        const int64_t na = p->inst[in->in[0]].n, nb = p->inst[in->in[1]].n;
        double *ga = adjoint_of(p, ws, in->in[0]), *gb = adjoint_of(p, ws, in->in[1]);

        for (int64_t i = 0; ga && i < na; i++)
            ga[i] += go[i];
        for (int64_t i = 0; gb && i < nb; i++)
            gb[i] += go[na + i];
        break;
    }
    case NODE_LINALG: {
        struct la_call c = la_call_of(p, ws, in, 1);

        la_backward(&c);
        break;
    }
    case NODE_SCAN:
        scan_backward(p, ws, x, in, grad);
        break;
    default:
        break;
    }
}

static void backward(const rmc_program *p, struct workspace *ws, const double *x, double *grad)
{
    for (int32_t k = p->n_dyn - 1; k >= 0; k--)
        backward_one(p, ws, x, &p->inst[p->dyn[k]], grad);
}

int program_eval(const rmc_program *p, struct workspace *ws, const double *x, double *lp,
                 double *grad)
{
    if (p->kind == PROGRAM_CALLBACK) {
        int rc;

        if (grad) {
            rc = p->fn(1, p->dim, x, lp, grad, p->user);
        } else {
            /* The callback always writes a gradient; give it the workspace. */
            rc = p->fn(1, p->dim, x, lp, ws->adj, p->user);
        }
        if (*lp != *lp)
            *lp = -INFINITY;
        return rc ? -1 : 0;
    }

    if (grad)
        memset(ws->adj, 0, (size_t)p->ws_size * sizeof *ws->adj);
    *lp = forward(p, ws, x, grad != NULL, 0);
    if (grad && *lp > -INFINITY)
        backward(p, ws, x, grad);
    return 0;
}

const char *program_explain(const rmc_program *p, struct workspace *ws, const double *x)
{
    if (p->kind == PROGRAM_CALLBACK)
        return NULL;
    for (int32_t k = 0; k < p->n_dyn; k++) {
        const struct inst *in = &p->inst[p->dyn[k]];

        /* statements, and nodes that reject points (bounds that cross, a matrix that is
         * not positive definite), carry a label */
        if (!isfinite(forward_one(p, ws, x, in, 0)) && in->label)
            return in->label;
    }
    return NULL;
}

void program_columns(const rmc_program *p, struct workspace *ws, const double *x,
                     double *columns)
{
    if (p->kind == PROGRAM_CALLBACK) {
        memcpy(columns, x, (size_t)p->dim * sizeof *x);
        return;
    }

    /* Deterministic nodes need every value: no early stop at -inf. */
    forward(p, ws, x, 0, 1);
    for (int32_t v = 0; v < p->n_vars; v++) {
        const struct out_var *ov = &p->vars[v];

        memcpy(columns + ov->first, value_of(p, ws, ov->inst), (size_t)ov->n * sizeof *columns);
    }
}

int64_t program_unconstrain(const rmc_program *p, struct workspace *ws, const double *params,
                            double *x, char *why, size_t cap)
{
    /* Parameters are unconstrained in recording order, each followed by the forward map of
     * its value into the workspace, and every other node is evaluated as it comes, so a
     * bound is known by the time its parameter is reached. */
    for (int32_t k = 0; k < p->n_dyn; k++) {
        const struct inst *in = &p->inst[p->dyn[k]];
        const struct out_var *ov = NULL;
        struct tf_bounds b;
        int64_t bad;

        if (in->kind != NODE_PARAM) {
            if (in->kind != NODE_TILDE && in->kind != NODE_TARGET)
                forward_one(p, ws, x, in, 0);
            continue;
        }
        for (int32_t v = 0; v < p->n_vars && !ov; v++) {
            if (p->vars[v].inst == p->dyn[k])
                ov = &p->vars[v];
        }
        b = bounds_of(p, ws, in, 0);
        bad = transform_inverse(in, &b, params + ov->first, x);
        if (bad >= 0) {
            transform_describe_support(in, &b, bad, why, cap);
            return ov->first + bad;
        }
        transform_forward(in, &b, x, ws->val + in->off, ws->tmp + in->tmp_off);
    }
    return -1;
}

struct workspace *workspace_create(const rmc_program *p)
{
    struct workspace *ws = rmc_calloc(1, sizeof *ws);
    size_t n = p->kind == PROGRAM_GRAPH ? (size_t)p->ws_size : (size_t)p->dim;

    if (!ws)
        return NULL;
    ws->val = rmc_calloc(n, sizeof(double));
    ws->adj = rmc_calloc(n, sizeof(double));
    ws->tmp = rmc_calloc(p->kind == PROGRAM_GRAPH ? (size_t)p->tmp_size : 0, sizeof(double));
    if (!ws->val || !ws->adj || !ws->tmp) {
        workspace_free(ws);
        return NULL;
    }
    return ws;
}

void workspace_free(struct workspace *ws)
{
    if (!ws)
        return;
    free(ws->val);
    free(ws->adj);
    free(ws->tmp);
    free(ws);
}
