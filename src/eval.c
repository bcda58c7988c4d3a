/* eval.c - the CPU evaluator: a forward sweep over the dynamic instructions, with
 * distribution statements writing their partials straight into the adjoints, then a
 * reverse sweep through the operations. Nothing is allocated per evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
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

static void matvec_forward(const struct inst *in, const double *m, const double *v, double *o)
{
    const int64_t rows = in->n, cols = in->dims[1];

    for (int64_t r = 0; r < rows; r++) {
        const double *row = m + r * cols;
        double s = 0.0;

        for (int64_t k = 0; k < cols; k++)
            s += row[k] * v[k];
        o[r] = s;
    }
}

/* One instruction of the forward sweep; returns its contribution to lp. With adjoints on,
 * a distribution statement adds its partials to its operands' adjoints as it goes (its own
 * adjoint is always 1), so the reverse sweep only walks the operations. */
static double forward_one(const rmc_program *p, struct workspace *ws, const double *x,
                          const struct inst *in, int grad)
{
    double *o = ws->val + in->off;

    switch (in->kind) {
    case NODE_PARAM:
        return transform_forward(in, x, o);
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
        matvec_forward(in, value_of(p, ws, in->in[0]), value_of(p, ws, in->in[1]), o);
        return 0.0;
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

static void backward(const rmc_program *p, struct workspace *ws, const double *x, double *grad)
{
    for (int32_t k = p->n_dyn - 1; k >= 0; k--) {
        const struct inst *in = &p->inst[p->dyn[k]];
        const double *o = ws->val + in->off, *go = ws->adj + in->off;

        switch (in->kind) {
        case NODE_PARAM:
            transform_backward(in, x, o, go, grad);
            break;
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
        case NODE_MATVEC: {
            const double *m = value_of(p, ws, in->in[0]);
            double *gv = adjoint_of(p, ws, in->in[1]);
            const int64_t cols = in->dims[1];

            for (int64_t r = 0; r < in->n; r++) {
                const double *row = m + r * cols;

                for (int64_t c = 0; c < cols; c++)
                    gv[c] += go[r] * row[c];
            }
            break;
        }
        default:
            break;
        }
    }
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

        if (!isfinite(forward_one(p, ws, x, in, 0)) &&
            (in->kind == NODE_TILDE || in->kind == NODE_TARGET))
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

struct workspace *workspace_create(const rmc_program *p)
{
    struct workspace *ws = rmc_calloc(1, sizeof *ws);
    size_t n = p->kind == PROGRAM_GRAPH ? (size_t)p->ws_size : (size_t)p->dim;

    if (!ws)
        return NULL;
    ws->val = rmc_calloc(n, sizeof(double));
    ws->adj = rmc_calloc(n, sizeof(double));
    if (!ws->val || !ws->adj) {
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
    free(ws);
}
