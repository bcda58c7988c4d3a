/* program.c - binding a model to data. Every check that needs the data happens here,
 * once: shapes, sizes, names, finiteness, index ranges, supports of data-only values and
 * constant arguments. Data-only subexpressions are computed here too, so the evaluator
 * only ever touches what depends on parameters. */
#include "program.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "dist.h"
#include "ops.h"
#include "transform.h"
#include "model.h"
#include "util.h"

/* Bound on the elements of one node: refuses absurd sizes before allocating. */
#define MAX_ELEMENTS ((int64_t)1 << 31)

struct compiler {
    const rmc_model *model;
    const rmc_data *data;
    rmc_program *p;
};

static void *own(rmc_program *p, size_t n, size_t size)
{
    void *block;

    if (p->n_owned == p->cap_owned) {
        int32_t cap = p->cap_owned ? 2 * p->cap_owned : 32;
        void **grown = realloc(p->owned, (size_t)cap * sizeof *grown);

        if (!grown)
            return NULL;
        p->owned = grown;
        p->cap_owned = cap;
    }
    block = rmc_calloc(n, size);
    if (block)
        p->owned[p->n_owned++] = block;
    return block;
}

static const char *describe(const struct compiler *c, int32_t id, char *buf, size_t cap)
{
    model_describe(c->model, id, buf, cap);
    return buf;
}

static void shape_text(const struct inst *in, char *buf, size_t cap)
{
    if (in->ndim == 0)
        snprintf(buf, cap, "scalar");
    else if (in->ndim == 1)
        snprintf(buf, cap, "vector[%lld]", (long long)in->dims[0]);
    else
        snprintf(buf, cap, "matrix[%lld, %lld]", (long long)in->dims[0],
                 (long long)in->dims[1]);
}

/* The value of an integer data scalar that sizes a dimension. */
static rmc_status size_from_data(const struct compiler *c, const char *owner, const char *name,
                                 int64_t *out)
{
    const struct binding *b = data_find(c->data, name);
    int64_t v;

    if (!b)
        return rmc_fail(RMC_ERR_DATA, "data field '%s' is missing (it gives the size of '%s')",
                        name, owner);
    if (b->dtype == RMC_REAL || b->size != 1)
        return rmc_fail(RMC_ERR_DATA,
                        "data field '%s' must be an integer scalar (it gives the size of '%s')",
                        name, owner);
    v = binding_int(b, 0);
    if (v < 0 || v > MAX_ELEMENTS)
        return rmc_fail(RMC_ERR_DATA, "data field '%s' = %lld is not a valid size for '%s'",
                        name, (long long)v, owner);
    *out = v;
    return RMC_OK;
}

static rmc_status resolve_dims(const struct compiler *c, const struct node *nd,
                               struct inst *in)
{
    rmc_status st;

    in->ndim = nd->ndim;
    in->n = 1;
    for (int32_t d = 0; d < nd->ndim; d++) {
        in->dims[d] = nd->dims[d];
        if (nd->dim_names[d]) {
            st = size_from_data(c, nd->name, nd->dim_names[d], &in->dims[d]);
            if (st != RMC_OK)
                return st;
        }
        in->n = rmc_mul_size(in->n, in->dims[d]);
    }
    if (in->n < 0 || in->n > MAX_ELEMENTS)
        return rmc_fail(RMC_ERR_NOMEM, "'%s' has too many elements", nd->name);
    return RMC_OK;
}

static rmc_status compile_param(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    rmc_status st = resolve_dims(c, nd, in);

    if (st != RMC_OK)
        return st;
    if (in->n < 1)
        return rmc_fail(RMC_ERR_SHAPE, "parameter '%s' has no elements", nd->name);
    in->dynamic = 1;
    in->xoff = c->p->dim;

    /* Bounds: data-only scalars for now. TODO: expression bounds (GARCH's beta < 1 - alpha)
     * need the bound's value and adjoint inside the transform. */
    in->lo = -INFINITY;
    in->hi = INFINITY;
    for (int which = 0; which < 2; which++) {
        rmc_node b = which ? nd->upper : nd->lower;
        const struct inst *bi;

        if (b == RMC_NONE)
            continue;
        bi = &c->p->inst[b];
        if (bi->dynamic || bi->n != 1)
            return rmc_fail(RMC_ERR_MODEL,
                            "parameter '%s': the %s bound must be a constant or data scalar",
                            nd->name, which ? "upper" : "lower");
        if (!isfinite(bi->cval[0]))
            return rmc_fail(RMC_ERR_MODEL, "parameter '%s': the %s bound is not finite",
                            nd->name, which ? "upper" : "lower");
        if (which)
            in->hi = bi->cval[0];
        else
            in->lo = bi->cval[0];
        in->bound |= which ? BOUND_UPPER : BOUND_LOWER;
    }
    if (in->bound == BOUND_BOTH && !(in->lo < in->hi))
        return rmc_fail(RMC_ERR_MODEL, "parameter '%s': lower bound %g is not below upper %g",
                        nd->name, in->lo, in->hi);
    c->p->dim += transform_free_dim(in);
    return RMC_OK;
}

static rmc_status compile_data(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct binding *b = data_find(c->data, nd->name);
    const char *kind = nd->dtype == RMC_REAL ? "real" : "integer";
    char want[64], got[64];

    if (!b)
        return rmc_fail(RMC_ERR_DATA, "data field '%s' is missing: the model uses it as %s %s",
                        nd->name, kind, nd->ndim == 0 ? "scalar" : "array");
    if (nd->dtype != RMC_REAL && b->dtype == RMC_REAL)
        return rmc_fail(RMC_ERR_DATA, "data field '%s' must hold integers, got reals",
                        nd->name);

    /* A scalar may be bound as a one-element array, the way JSON writers often do. */
    in->ndim = nd->ndim < 0 ? b->ndim : nd->ndim;
    in->n = b->size;
    for (int32_t d = 0; d < b->ndim && d < RMC_MAX_DIMS; d++)
        in->dims[d] = b->shape[d];
    if (nd->ndim >= 0 && b->ndim != nd->ndim && !(nd->ndim == 0 && b->size == 1)) {
        struct inst tmp = { .ndim = b->ndim, .dims = { b->shape[0], b->shape[1] } };

        shape_text(&tmp, got, sizeof got);
        return rmc_fail(RMC_ERR_DATA, "data field '%s' has shape %s, the model expects %d "
                        "dimension%s", nd->name, got, (int)nd->ndim, nd->ndim == 1 ? "" : "s");
    }
    for (int32_t d = 0; d < nd->ndim; d++) {
        int64_t expect = nd->dims[d];

        if (nd->dim_names[d]) {
            rmc_status st = size_from_data(c, nd->name, nd->dim_names[d], &expect);

            if (st != RMC_OK)
                return st;
        }
        if (expect >= 0 && expect != in->dims[d]) {
            shape_text(in, got, sizeof got);
            snprintf(want, sizeof want, "%lld%s%s%s", (long long)expect,
                     nd->dim_names[d] ? " (" : "", nd->dim_names[d] ? nd->dim_names[d] : "",
                     nd->dim_names[d] ? ")" : "");
            return rmc_fail(RMC_ERR_DATA, "data field '%s' has shape %s, but dimension %d "
                            "must have size %s", nd->name, got, (int)d + 1, want);
        }
    }

    /* Every value the density reads must be finite: a NaN here would silently turn every
     * log density into NaN. */
    for (int64_t i = 0; i < b->size; i++) {
        double v = binding_real(b, i);

        if (!isfinite(v))
            return rmc_fail(RMC_ERR_DATA, "data field '%s' has a non-finite value (%g) at "
                            "index %lld", nd->name, v, (long long)i);
    }

    if (b->dtype == RMC_REAL) {
        in->cval = b->ptr; /* zero copy */
    } else {
        double *v = own(c->p, (size_t)(b->size ? b->size : 1), sizeof *v);

        if (!v)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory converting data '%s'", nd->name);
        for (int64_t i = 0; i < b->size; i++)
            v[i] = (double)binding_int(b, i);
        in->cval = v;
    }
    return RMC_OK;
}

/* Result shape of an elementwise op: equal shapes, or a scalar against anything. */
static rmc_status broadcast(const struct compiler *c, int32_t id, const struct inst *a,
                            const struct inst *b, struct inst *out)
{
    char d1[256], s1[64], s2[64];
    const struct inst *big = a->ndim >= b->ndim ? a : b;

    if (a->ndim != 0 && b->ndim != 0 &&
        (a->ndim != b->ndim || a->dims[0] != b->dims[0] ||
         (a->ndim == 2 && a->dims[1] != b->dims[1]))) {
        shape_text(a, s1, sizeof s1);
        shape_text(b, s2, sizeof s2);
        return rmc_fail(RMC_ERR_SHAPE, "shape mismatch in %s: %s against %s",
                        describe(c, id, d1, sizeof d1), s1, s2);
    }
    out->ndim = big->ndim;
    out->dims[0] = big->dims[0];
    out->dims[1] = big->dims[1];
    out->n = big->n;
    return RMC_OK;
}

static rmc_status compile_op(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *a = &c->p->inst[nd->in[0]];
    const struct inst *b = nd->nin > 1 ? &c->p->inst[nd->in[1]] : NULL;
    char d1[256], s1[64], s2[64];

    switch (nd->kind) {
    case NODE_OP1:
        if (nd->op == RMC_OP_SUM || nd->op == RMC_OP_LOG_SUM_EXP) {
            in->ndim = 0;
            in->n = 1;
        } else {
            in->ndim = a->ndim;
            in->dims[0] = a->dims[0];
            in->dims[1] = a->dims[1];
            in->n = a->n;
        }
        return RMC_OK;
    case NODE_OP3: {
        struct inst ab;
        rmc_status st = broadcast(c, id, a, b, &ab);

        return st == RMC_OK ? broadcast(c, id, &ab, &c->p->inst[nd->in[2]], in) : st;
    }
    case NODE_OP2:
        if (nd->op != RMC_OP_DOT)
            return broadcast(c, id, a, b, in);
        if (a->ndim != 1 || b->ndim != 1 || a->n != b->n) {
            shape_text(a, s1, sizeof s1);
            shape_text(b, s2, sizeof s2);
            return rmc_fail(RMC_ERR_SHAPE, "%s needs two vectors of one length, got %s and %s",
                            describe(c, id, d1, sizeof d1), s1, s2);
        }
        in->ndim = 0;
        in->n = 1;
        return RMC_OK;
    case NODE_GATHER: {
        const struct binding *ib = data_find(c->data, c->model->nodes[nd->in[1]].name);
        int32_t *index;

        if (a->ndim != 1 || b->ndim != 1) {
            return rmc_fail(RMC_ERR_SHAPE, "%s: gathers from a vector by an index vector",
                            describe(c, id, d1, sizeof d1));
        }
        index = own(c->p, (size_t)(b->n ? b->n : 1), sizeof *index);
        if (!index)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < b->n; i++) {
            int64_t k = binding_int(ib, i) - nd->base;

            if (k < 0 || k >= a->n)
                return rmc_fail(RMC_ERR_DATA, "index data '%s' has value %lld at position %lld,"
                                " outside %lld..%lld (the length of %s, %s-based)",
                                ib->name, (long long)binding_int(ib, i), (long long)i,
                                (long long)nd->base, (long long)(a->n - 1 + nd->base),
                                describe(c, nd->in[0], d1, sizeof d1),
                                nd->base ? "one" : "zero");
            index[i] = (int32_t)k;
        }
        in->index = index;
        in->ndim = 1;
        in->dims[0] = in->n = b->n;
        return RMC_OK;
    }
    case NODE_SLICE: {
        int64_t end = nd->end < 0 ? nd->begin + 1 : nd->end;

        if (a->ndim != 1 || end > a->n) {
            char range[64];

            if (nd->end < 0)
                snprintf(range, sizeof range, "index %lld", (long long)nd->begin);
            else
                snprintf(range, sizeof range, "range %lld..%lld", (long long)nd->begin,
                         (long long)nd->end);
            return rmc_fail(RMC_ERR_SHAPE, "%s: %s is outside %s of length %lld",
                            describe(c, id, d1, sizeof d1), range,
                            describe(c, nd->in[0], s1, sizeof s1), (long long)a->n);
        }
        in->begin = nd->begin;
        in->n = end - nd->begin;
        in->ndim = nd->end < 0 ? 0 : 1;
        in->dims[0] = in->n;
        return RMC_OK;
    }
    case NODE_MATVEC:
        if (a->ndim != 2 || a->dynamic || b->ndim != 1 || b->n != a->dims[1]) {
            shape_text(a, s1, sizeof s1);
            shape_text(b, s2, sizeof s2);
            return rmc_fail(RMC_ERR_SHAPE, "%s needs a data matrix with as many columns as the "
                            "vector's length, got %s and %s", describe(c, id, d1, sizeof d1),
                            s1, s2);
        }
        in->ndim = 1;
        in->dims[0] = in->n = a->dims[0];
        in->dims[1] = a->dims[1];
        return RMC_OK;
    }
    return rmc_fail(RMC_ERR_INTERNAL, "compile_op: unexpected node kind %d", (int)nd->kind);
}

/* Whether a data-only node reads a data field (else it is built from constants alone). */
static int reads_data(const struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];

    if (nd->kind == NODE_DATA)
        return 1;
    for (int32_t k = 0; k < nd->nin; k++) {
        if (reads_data(c, nd->in[k]))
            return 1;
    }
    return 0;
}

/* Support checks that can be made once: data-only arguments and observed values. */
static rmc_status check_constant_support(const struct compiler *c, int32_t id, int observed)
{
    const struct node *nd = &c->model->nodes[id];
    const struct inst *v = &c->p->inst[nd->in[0]];
    const struct dist_info *info = dist_info(nd->op);
    char d1[256];

    for (int32_t k = 1; k < nd->nin; k++) {
        const struct inst *a = &c->p->inst[nd->in[k]];
        int positive = (info->positive >> (k - 1)) & 1, unit = (info->unit >> (k - 1)) & 1;

        if (a->dynamic)
            continue;
        for (int64_t i = 0; i < a->n; i++) {
            double x = a->cval[i];

            if ((positive && !(x > 0.0)) || (unit && !(x >= 0.0 && x <= 1.0)) || !isfinite(x)) {
                char d2[256], at[48] = "";

                if (a->n > 1)
                    snprintf(at, sizeof at, " at index %lld", (long long)i);
                return rmc_fail(reads_data(c, nd->in[k]) ? RMC_ERR_DATA : RMC_ERR_MODEL,
                                "%s(%s): argument %s = %s must be %s, got %g%s", info->name,
                                describe(c, nd->in[0], d1, sizeof d1), info->args[k - 1],
                                describe(c, nd->in[k], d2, sizeof d2),
                                unit ? "in [0, 1]" : positive ? "positive" : "finite", x, at);
            }
        }
    }
    if (nd->op == RMC_DIST_UNIFORM && !c->p->inst[nd->in[1]].dynamic &&
        !c->p->inst[nd->in[2]].dynamic) {
        const struct inst *lo = &c->p->inst[nd->in[1]], *hi = &c->p->inst[nd->in[2]];

        for (int64_t i = 0; i < v->n; i++) {
            if (!(lo->cval[lo->n > 1 ? i : 0] < hi->cval[hi->n > 1 ? i : 0]))
                return rmc_fail(RMC_ERR_MODEL, "uniform(%s): lower must be below upper",
                                describe(c, nd->in[0], d1, sizeof d1));
        }
    }

    if (v->dynamic) {
        if (info->discrete)
            return rmc_fail(RMC_ERR_MODEL, "%s: the value %s depends on parameters; discrete "
                            "parameters cannot be sampled", info->name,
                            describe(c, nd->in[0], d1, sizeof d1));
        return RMC_OK;
    }
    for (int64_t i = 0; observed && i < v->n; i++) {
        double y = v->cval[i];
        int ok = info->support == SUPPORT_NONNEGATIVE ? y >= 0.0
                 : info->support == SUPPORT_BINARY    ? y == 0.0 || y == 1.0
                                                      : 1;

        if (!ok)
            return rmc_fail(RMC_ERR_DATA, "%s: observed %s has %g at index %lld, outside the "
                            "support", info->name, describe(c, nd->in[0], d1, sizeof d1), y,
                            (long long)i);
    }
    return RMC_OK;
}

/* A normal statement with a data vector of scales keeps 1/sigma and its log terms. */
static rmc_status precompute_normal(struct compiler *c, struct inst *in)
{
    const struct inst *sigma = &c->p->inst[in->in[2]];
    double *inv;

    if (sigma->dynamic || sigma->n == 1)
        return RMC_OK;
    inv = own(c->p, (size_t)sigma->n, sizeof *inv);
    if (!inv)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    in->cterm = 0.0;
    for (int64_t i = 0; i < sigma->n; i++) {
        inv[i] = 1.0 / sigma->cval[i];
        in->cterm -= log(sigma->cval[i]) + 0.91893853320467274178; /* log sqrt(2 pi) */
    }
    in->aux = inv;
    return RMC_OK;
}

/* A distribution statement, or a log-density expression (NODE_LPDF) with the value's
 * shape. Observed values outside the support are an error for a statement, and -inf
 * elements for an expression. */
static rmc_status compile_tilde(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *v = &c->p->inst[nd->in[0]];
    char d1[256], s1[64], s2[64];
    rmc_status st;

    if (nd->kind == NODE_TARGET) {
        in->ndim = 0;
        in->n = 1;
        in->label = "target statement";
        return RMC_OK;
    }

    if (dist_info(nd->op)->check_shapes) {
        const struct inst *shp[4];
        char why[256];

        for (int32_t k = 0; k < nd->nin; k++)
            shp[k] = &c->p->inst[nd->in[k]];
        if (dist_info(nd->op)->check_shapes(shp, why, sizeof why))
            return rmc_fail(RMC_ERR_SHAPE, "%s(%s): %s", dist_info(nd->op)->name,
                            describe(c, nd->in[0], d1, sizeof d1), why);
    }
    for (int32_t k = 1; k < nd->nin && !dist_info(nd->op)->check_shapes; k++) {
        const struct inst *a = &c->p->inst[nd->in[k]];

        if (a->n != 1 && (a->ndim != v->ndim || a->n != v->n)) {
            shape_text(v, s1, sizeof s1);
            shape_text(a, s2, sizeof s2);
            char d2[256];

            return rmc_fail(RMC_ERR_SHAPE, "%s(%s): argument %s = %s is %s, the value is %s",
                            dist_info(nd->op)->name, describe(c, nd->in[0], d1, sizeof d1),
                            dist_info(nd->op)->args[k - 1],
                            describe(c, nd->in[k], d2, sizeof d2), s2, s1);
        }
    }
    if (nd->kind == NODE_LPDF) {
        in->ndim = v->ndim;
        in->dims[0] = v->dims[0];
        in->dims[1] = v->dims[1];
        in->n = v->n;
    } else {
        in->ndim = 0;
        in->n = 1;
    }
    {
        size_t len = strlen(dist_info(nd->op)->name);
        char *label = own(c->p, len + 260, 1);

        if (!label)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        snprintf(label, len + 260, "%s(%s)", dist_info(nd->op)->name,
                 describe(c, nd->in[0], d1, sizeof d1));
        in->label = label;
    }
    st = check_constant_support(c, id, nd->kind == NODE_TILDE);
    if (st == RMC_OK && nd->op == RMC_DIST_NORMAL && nd->kind == NODE_TILDE)
        st = precompute_normal(c, in);
    return st;
}

/* Compute a data-only node's values once. */
static rmc_status fold(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    double *o;
    char d1[256];

    if (nd->kind == NODE_TARGET) {
        const struct inst *a = &c->p->inst[nd->in[0]];

        for (int64_t i = 0; i < a->n; i++)
            c->p->lp_const += a->cval[i];
        return RMC_OK;
    }
    if (nd->kind == NODE_TILDE) {
        const double *v[4];
        int64_t s[4];
        double lp;

        for (int32_t k = 0; k < nd->nin; k++) {
            v[k] = c->p->inst[nd->in[k]].cval;
            s[k] = c->p->inst[nd->in[k]].n > 1;
        }
        lp = dist_lpdf_const(nd->op, nd->nin - 1, c->p->inst[nd->in[0]].n, v, s);
        if (!isfinite(lp))
            return rmc_fail(RMC_ERR_DATA, "%s(%s) has a non-finite log density on the data",
                            dist_info(nd->op)->name, describe(c, nd->in[0], d1, sizeof d1));
        c->p->lp_const += lp;
        return RMC_OK;
    }

    o = own(c->p, (size_t)(in->n ? in->n : 1), sizeof *o);
    if (!o)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    switch (nd->kind) {
    case NODE_CONST:
        memcpy(o, nd->values, (size_t)in->n * sizeof *o);
        break;
    case NODE_OP1:
    case NODE_OP2: {
        const struct inst *a = &c->p->inst[nd->in[0]];
        const struct inst *b = nd->nin > 1 ? &c->p->inst[nd->in[1]] : NULL;

        op_forward(nd->op, nd->op == RMC_OP_DOT || nd->op == RMC_OP_SUM ||
                   nd->op == RMC_OP_LOG_SUM_EXP ? a->n : in->n,
                   a->cval, a->n > 1, b ? b->cval : NULL, b && b->n > 1, o);
        break;
    }
    case NODE_GATHER:
        for (int64_t i = 0; i < in->n; i++)
            o[i] = c->p->inst[nd->in[0]].cval[in->index[i]];
        break;
    case NODE_SLICE:
        memcpy(o, c->p->inst[nd->in[0]].cval + in->begin, (size_t)in->n * sizeof *o);
        break;
    case NODE_OP3: {
        const double *v[3];
        int64_t st[3];

        for (int k = 0; k < 3; k++) {
            v[k] = c->p->inst[nd->in[k]].cval;
            st[k] = c->p->inst[nd->in[k]].n > 1;
        }
        op3_forward(nd->op, in->n, v, st, o);
        break;
    }
    case NODE_LPDF: {
        const double *v[4];
        int64_t st[4];

        for (int32_t k = 0; k < nd->nin; k++) {
            v[k] = c->p->inst[nd->in[k]].cval;
            st[k] = c->p->inst[nd->in[k]].n > 1;
        }
        dist_lpdf_values(nd->op, nd->nin - 1, in->n, v, st, o);
        /* -inf elements are legitimate values of a log density: skip the finite check */
        in->cval = o;
        return RMC_OK;
    }
    case NODE_MATVEC: {
        const double *m = c->p->inst[nd->in[0]].cval, *x = c->p->inst[nd->in[1]].cval;

        for (int64_t r = 0; r < in->n; r++) {
            double s = 0.0;

            for (int64_t k = 0; k < in->dims[1]; k++)
                s += m[r * in->dims[1] + k] * x[k];
            o[r] = s;
        }
        break;
    }
    }
    for (int64_t i = 0; i < in->n; i++) {
        if (!isfinite(o[i]))
            return rmc_fail(RMC_ERR_DATA, "%s is not finite at index %lld (value %g)",
                            describe(c, id, d1, sizeof d1), (long long)i, o[i]);
    }
    in->cval = o;
    return RMC_OK;
}

static rmc_status add_var(rmc_program *p, const char *name, int32_t inst)
{
    struct out_var *v = &p->vars[p->n_vars];
    const struct inst *in = &p->inst[inst];

    v->name = rmc_strdup(name);
    if (!v->name)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    v->inst = inst;
    v->ndim = in->ndim;
    v->dims[0] = in->dims[0];
    v->dims[1] = in->dims[1];
    v->first = p->n_columns;
    v->n = in->n;
    p->n_columns += in->n;
    p->n_vars++;
    return RMC_OK;
}

/* Column names, one-based as in Stan and posteriordb: theta[3], L[2,1]. */
static rmc_status name_columns(rmc_program *p)
{
    p->columns = rmc_calloc((size_t)p->n_columns, sizeof *p->columns);
    if (!p->columns)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    for (int32_t v = 0; v < p->n_vars; v++) {
        const struct out_var *ov = &p->vars[v];

        for (int64_t i = 0; i < ov->n; i++) {
            char buf[320];

            if (ov->ndim == 0)
                snprintf(buf, sizeof buf, "%s", ov->name);
            else if (ov->ndim == 1)
                snprintf(buf, sizeof buf, "%s[%lld]", ov->name, (long long)i + 1);
            else
                snprintf(buf, sizeof buf, "%s[%lld,%lld]", ov->name,
                         (long long)(i / ov->dims[1]) + 1, (long long)(i % ov->dims[1]) + 1);
            p->columns[ov->first + i] = rmc_strdup(buf);
            if (!p->columns[ov->first + i])
                return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        }
    }
    return RMC_OK;
}

static rmc_status compile(struct compiler *c)
{
    const rmc_model *m = c->model;
    rmc_program *p = c->p;
    rmc_status st = RMC_OK;
    int32_t n_params = 0;

    p->inst = rmc_calloc((size_t)m->n_nodes, sizeof *p->inst);
    p->dyn = rmc_calloc((size_t)m->n_nodes, sizeof *p->dyn);
    p->vars = rmc_calloc((size_t)m->n_nodes + (size_t)m->n_dets, sizeof *p->vars);
    if (!p->inst || !p->dyn || !p->vars)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory compiling the model");
    p->n_inst = m->n_nodes;

    /* Nodes are recorded after their inputs, so one pass in order resolves everything. */
    for (int32_t id = 0; id < m->n_nodes && st == RMC_OK; id++) {
        const struct node *nd = &m->nodes[id];
        struct inst *in = &p->inst[id];

        in->kind = nd->kind;
        in->op = nd->op;
        in->nin = nd->nin;
        for (int32_t k = 0; k < nd->nin; k++) {
            in->in[k] = nd->in[k];
            in->dynamic |= p->inst[nd->in[k]].dynamic;
        }
        switch (nd->kind) {
        case NODE_PARAM:
            st = compile_param(c, id);
            n_params++;
            break;
        case NODE_DATA:
            st = compile_data(c, id);
            break;
        case NODE_CONST:
            in->ndim = nd->nvalues ? 1 : 0;
            in->dims[0] = in->n = nd->nvalues ? nd->nvalues : 1;
            break;
        case NODE_TILDE:
        case NODE_LPDF:
        case NODE_TARGET:
            st = compile_tilde(c, id);
            break;
        default:
            st = compile_op(c, id);
            break;
        }
        if (st != RMC_OK)
            break;
        if (in->dynamic) {
            p->dyn[p->n_dyn++] = id;
            if (nd->kind != NODE_TILDE && nd->kind != NODE_TARGET) {
                in->off = p->ws_size;
                p->ws_size += in->n;
            }
        } else if (nd->kind != NODE_DATA && nd->kind != NODE_PARAM) {
            st = fold(c, id);
        }
    }
    if (st != RMC_OK)
        return st;
    if (n_params == 0)
        return rmc_fail(RMC_ERR_MODEL, "the model has no parameters");

    for (int32_t id = 0; id < m->n_nodes && st == RMC_OK; id++) {
        if (m->nodes[id].kind == NODE_PARAM)
            st = add_var(p, m->nodes[id].name, id);
    }
    for (int32_t d = 0; d < m->n_dets && st == RMC_OK; d++)
        st = add_var(p, m->dets[d].name, m->dets[d].node);
    return st == RMC_OK ? name_columns(p) : st;
}

rmc_status rmc_program_create(const rmc_model *model, const rmc_data *data, rmc_program **out)
{
    struct compiler c = { .model = model, .data = data };
    rmc_status st;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_create: out is NULL");
    *out = NULL;
    if (!model)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_create: model is NULL");
    if (model->status != RMC_OK)
        return rmc_fail(model->status, "%s", model->error);

    c.p = rmc_calloc(1, sizeof *c.p);
    if (!c.p)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_program_create: out of memory");
    c.p->kind = PROGRAM_GRAPH;
    st = compile(&c);
    if (st != RMC_OK) {
        rmc_program_free(c.p);
        return st;
    }
    *out = c.p;
    return RMC_OK;
}

rmc_status rmc_program_from_callback(int64_t dim, rmc_logp_fn fn, void *user,
                                     rmc_program **out)
{
    rmc_program *p;
    rmc_status st;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_from_callback: out is NULL");
    *out = NULL;
    if (!fn || dim < 1 || dim > MAX_ELEMENTS)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_from_callback: need a function and "
                        "1 <= dim, got dim %lld", (long long)dim);
    p = rmc_calloc(1, sizeof *p);
    if (!p)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    p->kind = PROGRAM_CALLBACK;
    p->dim = dim;
    p->fn = fn;
    p->user = user;
    p->vars = rmc_calloc(1, sizeof *p->vars);
    if (!p->vars || !(p->vars[0].name = rmc_strdup("x"))) {
        rmc_program_free(p);
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    }
    p->vars[0].ndim = 1;
    p->vars[0].dims[0] = p->vars[0].n = dim;
    p->n_vars = 1;
    p->n_columns = dim;
    st = name_columns(p);
    if (st != RMC_OK) {
        rmc_program_free(p);
        return st;
    }
    *out = p;
    return RMC_OK;
}

void rmc_program_free(rmc_program *p)
{
    if (!p)
        return;
    for (int32_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    for (int32_t v = 0; v < p->n_vars; v++)
        free(p->vars[v].name);
    for (int64_t i = 0; p->columns && i < p->n_columns; i++)
        free(p->columns[i]);
    free(p->columns);
    free(p->owned);
    free(p->inst);
    free(p->dyn);
    free(p->vars);
    free(p);
}

int64_t rmc_program_dim(const rmc_program *p)
{
    return p ? p->dim : -1;
}

rmc_status rmc_program_logp_grad(const rmc_program *p, int64_t batch, const double *x,
                                 double *lp, double *grad)
{
    struct workspace *ws;
    int rc = 0;

    if (!p || !x || !lp || batch < 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_logp_grad: bad arguments");
    ws = workspace_create(p);
    if (!ws)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_program_logp_grad: out of memory");
    for (int64_t b = 0; b < batch && rc == 0; b++)
        rc = program_eval(p, ws, x + b * p->dim, &lp[b], grad ? grad + b * p->dim : NULL);
    workspace_free(ws);
    return rc ? rmc_fail(RMC_ERR_CALLBACK, "the log density callback reported failure")
              : RMC_OK;
}

int64_t rmc_program_num_columns(const rmc_program *p)
{
    return p ? p->n_columns : -1;
}

const char *rmc_program_column_name(const rmc_program *p, int64_t column)
{
    return p && column >= 0 && column < p->n_columns ? p->columns[column] : NULL;
}

int64_t rmc_program_num_vars(const rmc_program *p)
{
    return p ? p->n_vars : -1;
}

rmc_status rmc_program_var(const rmc_program *p, int64_t var, const char **name, int32_t *ndim,
                           int64_t dims[RMC_MAX_DIMS], int64_t *first_column)
{
    const struct out_var *v;

    if (!p || var < 0 || var >= p->n_vars)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_var: no variable %lld", (long long)var);
    v = &p->vars[var];
    if (name)
        *name = v->name;
    if (ndim)
        *ndim = v->ndim;
    if (dims) {
        dims[0] = v->dims[0];
        dims[1] = v->dims[1];
    }
    if (first_column)
        *first_column = v->first;
    return RMC_OK;
}

rmc_status rmc_program_constrain(const rmc_program *p, const double *x, double *columns)
{
    struct workspace *ws;

    if (!p || !x || !columns)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_constrain: bad arguments");
    ws = workspace_create(p);
    if (!ws)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_program_constrain: out of memory");
    program_columns(p, ws, x, columns);
    workspace_free(ws);
    return RMC_OK;
}

rmc_status rmc_program_unconstrain(const rmc_program *p, const double *params, double *x)
{
    if (!p || !params || !x)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_unconstrain: bad arguments");
    if (p->kind == PROGRAM_CALLBACK) {
        memcpy(x, params, (size_t)p->dim * sizeof *x);
        return RMC_OK;
    }
    for (int32_t v = 0; v < p->n_vars; v++) {
        const struct out_var *ov = &p->vars[v];
        const struct inst *in = &p->inst[ov->inst];
        int64_t bad;

        if (in->kind != NODE_PARAM)
            continue;
        bad = transform_inverse(in, params + ov->first, x);
        if (bad >= 0)
            return rmc_fail(RMC_ERR_ARGUMENT, "value %g of %s is outside its support (bounds "
                            "[%g, %g])", params[ov->first + bad],
                            p->columns[ov->first + bad], in->lo, in->hi);
    }
    return RMC_OK;
}
