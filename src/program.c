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
#include "linalg.h"
#include "ops.h"
#include "transform.h"
#include "model.h"
#include "util.h"

/* Bound on the elements of one node: refuses absurd sizes before allocating. */
#define MAX_ELEMENTS ((int64_t)1 << 31)
/* Bound on the memory a program may take (32 GiB): its folded values, one thread's
 * workspace and its column names. Each node may be below MAX_ELEMENTS and their sum still
 * more than a machine holds; beyond this, sampling (which needs a workspace per thread
 * and a row of draws per iteration) could not run anyway. A fixed bound, rather than the
 * machine's memory, so a model binds or is refused the same way everywhere. */
#define MAX_PROGRAM_BYTES ((double)((int64_t)1 << 35))

struct compiler {
    const rmc_model *model;
    const rmc_data *data;
    rmc_program *p;
    double bytes;        /* estimated so far, before allocating (count_bytes) */
    double largest;      /* the largest single part of it, and its node */
    int32_t largest_id;
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

/* One bound of a parameter: a scalar, or an array of the parameter's shape; the value of
 * a data-only bound must be finite. A bound that depends on parameters is checked by the
 * transform at each evaluation instead. */
static rmc_status check_bound(struct compiler *c, int32_t id, rmc_node b, const char *which)
{
    const struct node *nd = &c->model->nodes[id];
    const struct inst *in = &c->p->inst[id], *bi = &c->p->inst[b];
    char d1[256], s1[64], s2[64];

    if (bi->n != 1 && (bi->ndim != in->ndim || bi->n != in->n || bi->dims[0] != in->dims[0])) {
        shape_text(bi, s1, sizeof s1);
        shape_text(in, s2, sizeof s2);
        return rmc_fail(RMC_ERR_SHAPE, "parameter '%s': the %s bound %s is %s, but must be a "
                        "scalar or have the parameter's shape, %s", nd->name, which,
                        describe(c, b, d1, sizeof d1), s1, s2);
    }
    for (int64_t i = 0; !bi->dynamic && i < bi->n; i++) {
        if (!isfinite(bi->cval[i]))
            return rmc_fail(RMC_ERR_MODEL, "parameter '%s': the %s bound %s is not finite (%g"
                            " at index %lld)", nd->name, which, describe(c, b, d1, sizeof d1),
                            bi->cval[i], (long long)i);
    }
    return RMC_OK;
}

/* A bound as one number, for code that handles only scalar data-only bounds. */
static double scalar_bound(const struct compiler *c, rmc_node b, double absent)
{
    const struct inst *bi;

    if (b == RMC_NONE)
        return absent;
    bi = &c->p->inst[b];
    return !bi->dynamic && bi->n == 1 ? bi->cval[0] : NAN;
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
    in->transform = nd->transform;
    in->lower = nd->lower;
    in->upper = nd->upper;

    /* Sizes from data are only known now: a simplex or a correlation factor needs at
     * least two, and the factor a square matrix. */
    if ((nd->transform == RMC_TRANSFORM_SIMPLEX || nd->transform == RMC_TRANSFORM_CHOLESKY_CORR)
        && (in->dims[0] < 2 || (in->ndim == 2 && in->dims[1] != in->dims[0])))
        return rmc_fail(RMC_ERR_SHAPE, "parameter '%s': a %s needs %s of size 2 or more, got "
                        "%lld x %lld", nd->name,
                        nd->transform == RMC_TRANSFORM_SIMPLEX ? "simplex"
                                                               : "correlation Cholesky factor",
                        in->ndim == 2 ? "a square matrix" : "a vector",
                        (long long)in->dims[0], (long long)(in->ndim == 2 ? in->dims[1] : 1));

    /* Bounds: any earlier node, scalar or of the parameter's shape. Data-only bounds are
     * checked here, once; bounds that depend on parameters are read from the workspace at
     * each evaluation and receive the transform's adjoint in the reverse sweep. */
    in->lo = scalar_bound(c, nd->lower, -INFINITY);
    in->hi = scalar_bound(c, nd->upper, INFINITY);
    if (nd->lower != RMC_NONE) {
        st = check_bound(c, id, nd->lower, "lower");
        if (st != RMC_OK)
            return st;
        in->bound |= BOUND_LOWER;
    }
    if (nd->upper != RMC_NONE) {
        st = check_bound(c, id, nd->upper, "upper");
        if (st != RMC_OK)
            return st;
        in->bound |= BOUND_UPPER;
    }
    if (in->bound == BOUND_BOTH && !c->p->inst[nd->lower].dynamic &&
        !c->p->inst[nd->upper].dynamic) {
        const struct inst *lo = &c->p->inst[nd->lower], *hi = &c->p->inst[nd->upper];
        /* as many pairs as the bounds hold: one for two scalars, whatever the size */
        const int64_t pairs = lo->n > hi->n ? lo->n : hi->n;

        for (int64_t i = 0; i < pairs; i++) {
            double l = lo->cval[lo->n > 1 ? i : 0], h = hi->cval[hi->n > 1 ? i : 0];

            if (!(l < h)) {
                char at[48] = "";

                if (pairs > 1)
                    snprintf(at, sizeof at, " at index %lld", (long long)i);
                return rmc_fail(RMC_ERR_MODEL, "parameter '%s': lower bound %g is not below "
                                "upper %g%s", nd->name, l, h, at);
            }
        }
    }
    if (in->bound != BOUND_NONE && ((in->lower >= 0 && c->p->inst[in->lower].dynamic) ||
                                    (in->upper >= 0 && c->p->inst[in->upper].dynamic))) {
        /* named when no initial point can be found because the bounds cross */
        char d1[256], *label = own(c->p, 320, 1);

        if (!label)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        snprintf(label, 320, "%s (whose bounds must be finite, lower below upper)",
                 describe(c, id, d1, sizeof d1));
        in->label = label;
    }
    in->ntmp = transform_scratch(in);
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

/* Row i of a matrix is a contiguous slice; a column and the transpose are gathers by an
 * index built here. Either way the evaluator needs nothing new. */
static rmc_status compile_pick(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *a = &c->p->inst[nd->in[0]];
    const int64_t rows = a->dims[0], cols = a->dims[1];
    char d1[256], d2[256], s1[64];
    int32_t *index;

    if (a->ndim != 2 || (nd->kind == NODE_ROW && nd->begin >= rows) ||
        (nd->kind == NODE_COL && nd->begin >= cols)) {
        shape_text(a, s1, sizeof s1);
        if (a->ndim != 2)
            return rmc_fail(RMC_ERR_SHAPE, "%s needs a matrix, %s is %s",
                            describe(c, id, d1, sizeof d1),
                            describe(c, nd->in[0], d2, sizeof d2), s1);
        return rmc_fail(RMC_ERR_SHAPE, "%s: %s %lld is outside %s, which is %s (zero-based)",
                        describe(c, id, d1, sizeof d1), nd->kind == NODE_ROW ? "row" : "column",
                        (long long)nd->begin, describe(c, nd->in[0], d2, sizeof d2), s1);
    }
    if (nd->kind == NODE_ROW) {
        in->kind = NODE_SLICE;
        in->begin = nd->begin * cols;
        in->ndim = 1;
        in->dims[0] = in->n = cols;
        return RMC_OK;
    }

    in->kind = NODE_GATHER;
    in->n = nd->kind == NODE_COL ? rows : a->n;
    index = own(c->p, (size_t)in->n, sizeof *index);
    if (!index)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    if (nd->kind == NODE_COL) {
        for (int64_t r = 0; r < rows; r++)
            index[r] = (int32_t)(r * cols + nd->begin);
        in->ndim = 1;
        in->dims[0] = rows;
    } else {
        for (int64_t j = 0; j < cols; j++) {
            for (int64_t r = 0; r < rows; r++)
                index[j * rows + r] = (int32_t)(r * cols + j);
        }
        in->ndim = 2;
        in->dims[0] = cols;
        in->dims[1] = rows;
    }
    in->index = index;
    return RMC_OK;
}

/* Shapes of a linear-algebra node; a mismatch names the node and every operand's shape. */
static rmc_status compile_linalg(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *a = &c->p->inst[nd->in[0]];
    const struct inst *b = nd->nin > 1 ? &c->p->inst[nd->in[1]] : NULL;
    const struct inst *z = nd->nin > 2 ? &c->p->inst[nd->in[2]] : NULL;
    const char *need = NULL;
    char d1[256], got[200];

    switch (nd->op) {
    case LA_VECMAT:
        if (a->ndim != 1 || b->ndim != 2 || a->n != b->dims[0])
            need = "a vector of length rows and a matrix (rows x cols)";
        in->ndim = 1;
        in->dims[0] = b->dims[1];
        break;
    case LA_MATMUL:
        if (a->ndim != 2 || b->ndim != 2 || a->dims[1] != b->dims[0])
            need = "matrices (rows x inner) and (inner x cols)";
        in->ndim = 2;
        in->dims[0] = a->dims[0];
        in->dims[1] = b->dims[1];
        break;
    case LA_DIAG_PRE:
        if (a->ndim != 1 || b->ndim != 2 || a->n != b->dims[0])
            need = "a vector of length rows and a matrix (rows x cols)";
        in->ndim = 2;
        in->dims[0] = b->dims[0];
        in->dims[1] = b->dims[1];
        break;
    case LA_CHOLESKY:
        if (a->ndim != 2 || a->dims[0] != a->dims[1])
            need = "a square matrix";
        in->ndim = 2;
        in->dims[0] = in->dims[1] = a->dims[0];
        break;
    case LA_TRI_SOLVE:
        if (a->ndim != 2 || a->dims[0] != a->dims[1] || b->ndim < 1 ||
            b->dims[0] != a->dims[0])
            need = "a square matrix (K x K) and a vector of K or a matrix of K rows";
        in->ndim = b->ndim;
        in->dims[0] = b->dims[0];
        in->dims[1] = b->dims[1];
        break;
    case LA_COV_EXP_QUAD:
        if (a->ndim != 1 || b->n != 1 || z->n != 1)
            need = "a vector x and scalars alpha and rho";
        else if (a->dynamic) /* TODO: the derivative in x, once a model needs latent inputs */
            return rmc_fail(RMC_ERR_MODEL, "%s: the points x must be data (inputs that depend "
                            "on parameters are not supported)", describe(c, id, d1, sizeof d1));
        in->ndim = 2;
        in->dims[0] = in->dims[1] = a->n;
        in->delta = nd->delta;
        break;
    default:
        return rmc_fail(RMC_ERR_INTERNAL, "compile_linalg: unknown op %d", (int)nd->op);
    }
    if (need) {
        size_t len = 0;

        got[0] = 0;
        for (int32_t k = 0; k < nd->nin && len + 64 < sizeof got; k++) {
            if (k > 0)
                len += (size_t)snprintf(got + len, sizeof got - len, " and ");
            shape_text(&c->p->inst[nd->in[k]], got + len, sizeof got - len);
            len = strlen(got);
        }
        return rmc_fail(RMC_ERR_SHAPE, "%s needs %s, got %s", describe(c, id, d1, sizeof d1),
                        need, got);
    }
    in->n = rmc_mul_size(in->dims[0], in->ndim == 2 ? in->dims[1] : 1);
    if (in->n < 0 || in->n > MAX_ELEMENTS)
        return rmc_fail(RMC_ERR_NOMEM, "%s has too many elements",
                        describe(c, id, d1, sizeof d1));
    in->ntmp = la_scratch(in);
    if (nd->op == LA_CHOLESKY || nd->op == LA_TRI_SOLVE) {
        /* named when no initial point can be found: the node rejects points */
        char *label = own(c->p, 320, 1);

        if (!label)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        snprintf(label, 320, "%s (%s)", describe(c, id, d1, sizeof d1),
                 nd->op == LA_CHOLESKY ? "its matrix is not positive definite"
                                       : "its triangular matrix has a zero diagonal");
        in->label = label;
    }
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
            int64_t v = binding_int(ib, i);

            /* Compare before subtracting the base: v - base overflows for INT64_MIN. */
            if (v < nd->base || v - nd->base >= a->n)
                return rmc_fail(RMC_ERR_DATA, "index data '%s' has value %lld at position %lld,"
                                " outside %lld..%lld (the length of %s, %s-based)",
                                ib->name, (long long)binding_int(ib, i), (long long)i,
                                (long long)nd->base, (long long)(a->n - 1 + nd->base),
                                describe(c, nd->in[0], d1, sizeof d1),
                                nd->base ? "one" : "zero");
            index[i] = (int32_t)(v - nd->base);
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
        if (a->ndim != 2 || b->ndim != 1 || b->n != a->dims[1]) {
            shape_text(a, s1, sizeof s1);
            shape_text(b, s2, sizeof s2);
            return rmc_fail(RMC_ERR_SHAPE, "%s needs a matrix with as many columns as the "
                            "vector's length, got %s and %s", describe(c, id, d1, sizeof d1),
                            s1, s2);
        }
        in->ndim = 1;
        in->dims[0] = in->n = a->dims[0];
        in->dims[1] = a->dims[1];
        return RMC_OK;
    case NODE_DROP:
        /* a slice whose end is only known now */
        if (a->ndim != 1 || nd->begin + nd->end >= a->n) {
            shape_text(a, s1, sizeof s1);
            return rmc_fail(RMC_ERR_SHAPE, "%s: dropping %lld first and %lld last elements of "
                            "%s (%s) leaves none", describe(c, id, d1, sizeof d1),
                            (long long)nd->begin, (long long)nd->end,
                            describe(c, nd->in[0], s2, sizeof s2), s1);
        }
        in->kind = NODE_SLICE;
        in->begin = nd->begin;
        in->ndim = 1;
        in->dims[0] = in->n = a->n - nd->begin - nd->end;
        return RMC_OK;
    case NODE_ROW:
    case NODE_COL:
    case NODE_TRANSPOSE:
        return compile_pick(c, id);
    case NODE_CONCAT:
        if (a->ndim > 1 || b->ndim > 1) {
            shape_text(a, s1, sizeof s1);
            shape_text(b, s2, sizeof s2);
            return rmc_fail(RMC_ERR_SHAPE, "%s joins vectors or scalars, got %s and %s",
                            describe(c, id, d1, sizeof d1), s1, s2);
        }
        in->ndim = 1;
        in->dims[0] = in->n = a->n + b->n;
        return RMC_OK;
    case NODE_LINALG:
        return compile_linalg(c, id);
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

/* Support checks that can be made once: data-only arguments and observed values. Also
 * keeps what a kernel reads from its statement's aux (sizes of a multivariate density, the
 * data-only factors of a count density), and sums a data-only multivariate statement,
 * whose kernel cannot be folded without those sizes. */
static rmc_status check_constant_support(const struct compiler *c, int32_t id, int observed)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *v = &c->p->inst[nd->in[0]];
    const struct dist_info *info = dist_info(nd->op);
    const struct inst *shp[4];
    char d1[256], d2[256], why[256];
    int32_t bad;
    int64_t naux;

    for (int32_t k = 1; k < nd->nin; k++) {
        const struct inst *a = &c->p->inst[nd->in[k]];
        int positive = (info->positive >> (k - 1)) & 1, unit = (info->unit >> (k - 1)) & 1;
        int count = (info->count >> (k - 1)) & 1;

        if (a->dynamic && count)
            return rmc_fail(RMC_ERR_MODEL, "%s(%s): argument %s = %s depends on parameters; "
                            "it must be data (a count)", info->name,
                            describe(c, nd->in[0], d1, sizeof d1), info->args[k - 1],
                            describe(c, nd->in[k], d2, sizeof d2));
        if (a->dynamic)
            continue;
        for (int64_t i = 0; i < a->n; i++) {
            double x = a->cval[i];

            if ((positive && !(x > 0.0)) || (unit && !(x >= 0.0 && x <= 1.0)) ||
                (count && !(x >= 0.0 && x == floor(x))) || !isfinite(x)) {
                char at[48] = "";

                if (a->n > 1)
                    snprintf(at, sizeof at, " at index %lld", (long long)i);
                return rmc_fail(reads_data(c, nd->in[k]) ? RMC_ERR_DATA : RMC_ERR_MODEL,
                                "%s(%s): argument %s = %s must be %s, got %g%s", info->name,
                                describe(c, nd->in[0], d1, sizeof d1), info->args[k - 1],
                                describe(c, nd->in[k], d2, sizeof d2),
                                unit ? "in [0, 1]" : positive ? "positive"
                                : count ? "a non-negative integer" : "finite", x, at);
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
    if (!observed && info->rowwise)
        return rmc_fail(RMC_ERR_MODEL, "%s(%s): no elementwise log density: the density is "
                        "one number per row of the value; use a statement", info->name,
                        describe(c, nd->in[0], d1, sizeof d1));
    if (!observed && info->check_shapes && !in->dynamic)
        return rmc_fail(RMC_ERR_MODEL, "%s(%s): a log-density expression on data alone is a "
                        "constant; use a statement", info->name,
                        describe(c, nd->in[0], d1, sizeof d1));

    if (v->dynamic && info->discrete)
        return rmc_fail(RMC_ERR_MODEL, "%s: the value %s depends on parameters; discrete "
                        "parameters cannot be sampled", info->name,
                        describe(c, nd->in[0], d1, sizeof d1));
    for (int64_t i = 0; observed && !v->dynamic && i < v->n; i++) {
        double y = v->cval[i];
        const char *need = NULL;

        switch (info->support) {
        case SUPPORT_NONNEGATIVE:
            need = y >= 0.0 ? NULL : ">= 0";
            break;
        case SUPPORT_BINARY:
            need = y == 0.0 || y == 1.0 ? NULL : "0 or 1";
            break;
        case SUPPORT_POSITIVE:
            need = y > 0.0 ? NULL : "> 0";
            break;
        case SUPPORT_UNIT_OPEN:
            need = y > 0.0 && y < 1.0 ? NULL : "in (0, 1)";
            break;
        case SUPPORT_COUNT:
            need = y >= 0.0 && y == floor(y) ? NULL : "a non-negative integer";
            break;
        }
        if (need)
            return rmc_fail(RMC_ERR_DATA, "%s: observed %s has %g at index %lld, outside the "
                            "support (values must be %s)", info->name,
                            describe(c, nd->in[0], d1, sizeof d1), y, (long long)i, need);
    }

    /* what the registry's bits cannot say: counts above N, categories, simplexes,
     * Cholesky factors */
    for (int32_t k = 0; k < nd->nin; k++)
        shp[k] = &c->p->inst[nd->in[k]];
    bad = dist_check_data(nd->op, shp, observed, why, sizeof why);
    if (bad == 0)
        return rmc_fail(RMC_ERR_DATA, "%s: observed %s %s", info->name,
                        describe(c, nd->in[0], d1, sizeof d1), why);
    if (bad > 0)
        return rmc_fail(reads_data(c, nd->in[bad]) ? RMC_ERR_DATA : RMC_ERR_MODEL,
                        "%s(%s): argument %s = %s %s", info->name,
                        describe(c, nd->in[0], d1, sizeof d1), info->args[bad - 1],
                        describe(c, nd->in[bad], d2, sizeof d2), why);

    naux = dist_aux_size(nd->op, shp);
    if (naux > 0) {
        double *aux = own(c->p, (size_t)naux, sizeof *aux);

        if (!aux)
            return rmc_fail(RMC_ERR_NOMEM, "out of memory");
        dist_aux_fill(nd->op, shp, aux);
        in->aux = aux;
    }
    if (info->check_shapes && !in->dynamic) {
        struct dist_call dc = { .n = v->n, .in = in };
        double lp;

        for (int32_t k = 0; k < nd->nin; k++) {
            dc.v[k] = shp[k]->cval;
            dc.s[k] = shp[k]->n > 1;
        }
        lp = dist_eval(nd->op, &dc);
        if (!isfinite(lp))
            return rmc_fail(RMC_ERR_DATA, "%s(%s) has a non-finite log density on the data",
                            info->name, describe(c, nd->in[0], d1, sizeof d1));
        c->p->lp_const += lp;
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

/* A data-only linear-algebra node, computed once: a matrix that is not symmetric
 * positive definite, or a zero pivot, is an error here rather than a rejection later. */
static rmc_status fold_linalg(struct compiler *c, int32_t id, double *o)
{
    const struct node *nd = &c->model->nodes[id];
    struct la_call lc = { .in = &c->p->inst[id], .o = o };
    int err = reads_data(c, id) ? RMC_ERR_DATA : RMC_ERR_MODEL;
    char d1[256];
    int64_t bad;

    for (int32_t k = 0; k < nd->nin; k++) {
        lc.arg[k] = &c->p->inst[nd->in[k]];
        lc.v[k] = lc.arg[k]->cval;
    }
    if (nd->op == LA_CHOLESKY) {
        double asym = la_asymmetry(lc.arg[0]->dims[0], lc.v[0]);

        if (!(asym <= 1e-8))
            return rmc_fail(err, "%s: the matrix is not symmetric (relative difference %g "
                            "between a[i, j] and a[j, i])", describe(c, id, d1, sizeof d1),
                            asym);
    }
    bad = la_forward(&lc);
    if (bad >= 0 && nd->op == LA_CHOLESKY)
        return rmc_fail(err, "%s: the matrix is not positive definite (its leading %lld x "
                        "%lld block is not)", describe(c, id, d1, sizeof d1),
                        (long long)bad + 1, (long long)bad + 1);
    if (bad >= 0)
        return rmc_fail(err, "%s: the triangular matrix has %g on its diagonal at row %lld",
                        describe(c, id, d1, sizeof d1),
                        lc.v[0][bad * lc.arg[0]->dims[0] + bad], (long long)bad);
    return RMC_OK;
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
    switch (in->kind) { /* rows, columns and drops were compiled to slices and gathers */
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
    case NODE_MATVEC:
        la_matvec(in->n, in->dims[1], c->p->inst[nd->in[0]].cval, c->p->inst[nd->in[1]].cval,
                  o);
        break;
    case NODE_CONCAT: {
        const struct inst *a = &c->p->inst[nd->in[0]], *b = &c->p->inst[nd->in[1]];

        memcpy(o, a->cval, (size_t)a->n * sizeof *o);
        memcpy(o + a->n, b->cval, (size_t)b->n * sizeof *o);
        break;
    }
    case NODE_LINALG: {
        rmc_status st = fold_linalg(c, id, o);

        if (st != RMC_OK)
            return st;
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

/* Bytes of one column: its name's pointer and text (name, "[i,j]", terminator) and the
 * allocator's overhead, which for names this short is as much as the text. */
static double column_bytes(const char *name)
{
    return (double)(sizeof(char *) + 2 * (strlen(name) + 24));
}

/* Add a node's memory to the estimate and refuse the program, before anything that large
 * is allocated, once the whole is beyond MAX_PROGRAM_BYTES (absurd sizes from data, such
 * as J = 2^31 - 1, would otherwise be allocated until the process is killed). */
static rmc_status count_bytes(struct compiler *c, int32_t id, double bytes)
{
    char d1[256];

    c->bytes += bytes;
    if (bytes > c->largest) {
        c->largest = bytes;
        c->largest_id = id;
    }
    if (c->bytes <= MAX_PROGRAM_BYTES)
        return RMC_OK;
    return rmc_fail(RMC_ERR_NOMEM, "binding would take about %.0f GiB, more than the %.0f GiB"
                    " a program may take; the largest part is %s (%lld elements)",
                    c->bytes / (1 << 30), MAX_PROGRAM_BYTES / (1 << 30),
                    describe(c, c->largest_id, d1, sizeof d1),
                    (long long)c->p->inst[c->largest_id].n);
}

/* A node's values: folded once if data-only, else a value and an adjoint in each
 * workspace, with its scratch; a parameter also has its columns in every draw. */
static rmc_status count_node(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    const struct inst *in = &c->p->inst[id];
    double bytes = (double)in->n * sizeof(double) * (in->dynamic ? 2 : 1) +
                   (double)in->ntmp * sizeof(double);

    if (nd->kind == NODE_DATA || nd->kind == NODE_TILDE || nd->kind == NODE_TARGET)
        return RMC_OK; /* bound by pointer, or no values of their own */
    if (nd->kind == NODE_PARAM)
        bytes += (double)in->n * column_bytes(nd->name);
    return count_bytes(c, id, bytes);
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

/* A scan's previous-state node (shaped like the initial state) or current-row node (a
 * scalar for a vector sequence, a row vector for a matrix). Both change every step, so
 * they count as dynamic even over data. */
static rmc_status compile_scan_slot(struct compiler *c, int32_t id)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *a = &c->p->inst[nd->in[0]];
    char d1[256];

    in->dynamic = 1;
    if (nd->kind == NODE_SCAN_STATE) {
        in->ndim = a->ndim;
        in->dims[0] = a->dims[0];
        in->dims[1] = a->dims[1];
        in->n = a->n;
        return RMC_OK;
    }
    if (a->ndim == 0 || a->n == 0)
        return rmc_fail(RMC_ERR_SHAPE, "scan: sequence %s must be a non-empty vector or "
                        "matrix", describe(c, nd->in[0], d1, sizeof d1));
    in->ndim = a->ndim - 1;
    in->dims[0] = in->n = a->ndim == 2 ? a->dims[1] : 1;
    return RMC_OK;
}

/* Close a scan: check the step's result and the sequences, and lay out the tape. */
static rmc_status compile_scan(struct compiler *c, int32_t id, const int32_t *body,
                               int32_t n_body)
{
    const struct node *nd = &c->model->nodes[id];
    struct inst *in = &c->p->inst[id];
    const struct inst *state = &c->p->inst[nd->begin], *next = &c->p->inst[nd->in[1]];
    char d1[256], s1[64], s2[64];
    int64_t steps = nd->dims[0], span;
    int32_t *copy;

    if (!next->dynamic || next->scan_of != nd->begin + 1)
        return rmc_fail(RMC_ERR_MODEL, "scan: the next state %s must be computed inside the "
                        "step", describe(c, nd->in[1], d1, sizeof d1));
    if (next->n != state->n || next->ndim != state->ndim) {
        shape_text(next, s1, sizeof s1);
        shape_text(state, s2, sizeof s2);
        return rmc_fail(RMC_ERR_SHAPE, "scan: the next state is %s but the state is %s", s1,
                        s2);
    }
    if (nd->dim_names[0]) {
        rmc_status st = size_from_data(c, "scan", nd->dim_names[0], &steps);

        if (st != RMC_OK)
            return st;
    }
    for (int32_t k = 2; k < nd->nin; k++) {
        const struct inst *seq = &c->p->inst[nd->in[k]];
        int64_t rows = seq->ndim == 2 ? seq->dims[0] : seq->n;

        if (k > 2 && rows != steps)
            return rmc_fail(RMC_ERR_SHAPE, "scan: sequence %s has %lld rows, the first has "
                            "%lld", describe(c, nd->in[k], d1, sizeof d1), (long long)rows,
                            (long long)steps);
        steps = rows;
    }
    if (steps < 1)
        return rmc_fail(RMC_ERR_SHAPE, "scan: %lld steps", (long long)steps);

    copy = own(c->p, (size_t)(n_body ? n_body : 1), sizeof *copy);
    if (!copy)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory");
    memcpy(copy, body, (size_t)n_body * sizeof *copy);
    in->body = copy;
    in->n_body = n_body;
    in->steps = steps;
    in->dynamic = 1;
    in->ndim = state->ndim == 0 ? 1 : 2;
    in->dims[0] = steps;
    in->dims[1] = state->n;
    in->n = rmc_mul_size(steps, state->n);

    /* The step's values and scratch lie in one span each, from the state node on; the
     * tape keeps a copy of both per step, then one state's worth of carried adjoint. */
    in->body_val = c->p->ws_size - state->off;
    in->body_tmp = c->p->tmp_size - state->tmp_off;
    span = rmc_mul_size(steps, in->body_val + in->body_tmp);
    if (in->n < 0 || span < 0 || span > ((int64_t)1 << 31))
        return rmc_fail(RMC_ERR_NOMEM, "scan: %lld steps of %lld values is too large",
                        (long long)steps, (long long)(in->body_val + in->body_tmp));
    in->ntmp = span + state->n;
    return RMC_OK;
}

/* A bound field that no node reads (as data or as a size) is likely a typo for one it
 * does: binding goes on, but the log callback hears a warning naming it. */
static void warn_unread_data(const struct compiler *c)
{
    const rmc_model *m = c->model;

    for (int32_t b = 0; c->data && b < c->data->n; b++) {
        const char *name = c->data->items[b].name;
        int read = 0;

        for (int32_t id = 0; id < m->n_nodes && !read; id++) {
            const struct node *nd = &m->nodes[id];

            read = nd->kind == NODE_DATA && strcmp(nd->name, name) == 0;
            for (int32_t d = 0; d < RMC_MAX_DIMS && !read; d++)
                read = nd->dim_names[d] && strcmp(nd->dim_names[d], name) == 0;
        }
        if (!read)
            rmc_log(RMC_LOG_WARN, "data field '%s' is not used by the model (a typo?)", name);
    }
}

static rmc_status compile(struct compiler *c)
{
    const rmc_model *m = c->model;
    rmc_program *p = c->p;
    rmc_status st = RMC_OK;
    int32_t n_params = 0, scan_state = -1, n_body = 0;
    int32_t *body;

    p->inst = rmc_calloc((size_t)m->n_nodes, sizeof *p->inst);
    p->dyn = rmc_calloc((size_t)m->n_nodes, sizeof *p->dyn);
    body = own(p, (size_t)m->n_nodes, sizeof *body);
    p->vars = rmc_calloc((size_t)m->n_nodes + (size_t)m->n_dets, sizeof *p->vars);
    if (!p->inst || !p->dyn || !p->vars || !body)
        return rmc_fail(RMC_ERR_NOMEM, "out of memory compiling the model");
    p->n_inst = m->n_nodes;

    /* Nodes are recorded after their inputs, so one pass in order resolves everything. */
    for (int32_t id = 0; id < m->n_nodes && st == RMC_OK; id++) {
        const struct node *nd = &m->nodes[id];
        struct inst *in = &p->inst[id];

        in->kind = nd->kind;
        in->op = nd->op;
        in->nin = nd->nin;
        in->scan_of = scan_state >= 0 && nd->kind != NODE_SCAN ? scan_state + 1 : 0;
        for (int32_t k = 0; k < nd->nin; k++) {
            const struct inst *a = &p->inst[nd->in[k]];

            in->in[k] = nd->in[k];
            in->dynamic |= a->dynamic;
            /* A step's values exist only while the step runs. */
            if (a->scan_of && a->dynamic && a->scan_of != in->scan_of &&
                !(nd->kind == NODE_SCAN && k == 1)) {
                char d1[256];

                return rmc_fail(RMC_ERR_MODEL, "%s uses a value from inside a scan step",
                                describe(c, id, d1, sizeof d1));
            }
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
        case NODE_SCAN_STATE:
            scan_state = id;
            n_body = 0;
            in->scan_of = id + 1;
            st = compile_scan_slot(c, id);
            break;
        case NODE_SCAN_INPUT:
            st = compile_scan_slot(c, id);
            break;
        case NODE_SCAN:
            st = compile_scan(c, id, body, n_body);
            scan_state = -1;
            break;
        default:
            st = compile_op(c, id);
            break;
        }
        if (st == RMC_OK)
            st = count_node(c, id);
        if (st != RMC_OK)
            break;
        if (in->dynamic && in->scan_of) {
            /* A step's instruction: run by its scan, not by the sweep. Its slots are laid
             * out like any other, so the step's span stays contiguous. */
            if (nd->kind != NODE_SCAN_STATE && nd->kind != NODE_SCAN_INPUT)
                body[n_body++] = id;
            in->off = p->ws_size;
            p->ws_size += in->n;
            in->tmp_off = p->tmp_size;
            p->tmp_size += in->ntmp;
        } else if (in->dynamic) {
            p->dyn[p->n_dyn++] = id;
            if (nd->kind != NODE_TILDE && nd->kind != NODE_TARGET) {
                in->off = p->ws_size;
                p->ws_size += in->n;
                in->tmp_off = p->tmp_size;
                p->tmp_size += in->ntmp;
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
    for (int32_t d = 0; d < m->n_dets && st == RMC_OK; d++) {
        if (p->inst[m->dets[d].node].scan_of && p->inst[m->dets[d].node].dynamic)
            return rmc_fail(RMC_ERR_MODEL, "deterministic '%s' is a value inside a scan step",
                            m->dets[d].name);
        st = add_var(p, m->dets[d].name, m->dets[d].node);
        if (st == RMC_OK)
            st = count_bytes(c, m->dets[d].node,
                             (double)p->inst[m->dets[d].node].n * column_bytes(m->dets[d].name));
    }
    if (st == RMC_OK)
        warn_unread_data(c);
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
    if ((double)dim * column_bytes("x") > MAX_PROGRAM_BYTES)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_program_from_callback: dim %lld would take more"
                        " than %.0f GiB for its column names alone", (long long)dim,
                        MAX_PROGRAM_BYTES / (1 << 30));
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
    struct workspace *ws;
    char why[200];
    int64_t bad;

    if (!p || !params || !x)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_program_unconstrain: bad arguments");
    if (p->kind == PROGRAM_CALLBACK) {
        memcpy(x, params, (size_t)p->dim * sizeof *x);
        return RMC_OK;
    }
    /* bounds that depend on earlier parameters need those parameters' values */
    ws = workspace_create(p);
    if (!ws)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_program_unconstrain: out of memory");
    bad = program_unconstrain(p, ws, params, x, why, sizeof why);
    workspace_free(ws);
    if (bad >= 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "value %g of %s is outside its support (%s)",
                        params[bad], p->columns[bad], why);
    return RMC_OK;
}
