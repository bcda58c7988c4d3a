/* model.c - recording the model graph. Validation that needs data waits for binding
 * (program.c); what can be checked now (names, arity, node ids) is checked here. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "linalg.h"
#include "util.h"

const char *model_op_name(int32_t op)
{
    switch (op) {
    case RMC_OP_ADD:      return "add";
    case RMC_OP_SUB:      return "sub";
    case RMC_OP_MUL:      return "mul";
    case RMC_OP_DIV:      return "div";
    case RMC_OP_POW:      return "pow";
    case RMC_OP_MIN:      return "min";
    case RMC_OP_MAX:      return "max";
    case RMC_OP_NEG:      return "neg";
    case RMC_OP_EXP:      return "exp";
    case RMC_OP_LOG:      return "log";
    case RMC_OP_LOG1P:    return "log1p";
    case RMC_OP_SQRT:     return "sqrt";
    case RMC_OP_SQUARE:   return "square";
    case RMC_OP_LOGISTIC: return "logistic";
    case RMC_OP_LGAMMA:   return "lgamma";
    case RMC_OP_EXPM1:    return "expm1";
    case RMC_OP_LOG1P_EXP: return "log1p_exp";
    case RMC_OP_TANH:     return "tanh";
    case RMC_OP_ABS:      return "abs";
    case RMC_OP_LOG_SUM_EXP: return "log_sum_exp";
    case RMC_OP_LOG_MIX:  return "log_mix";
    case RMC_OP_SUM:      return "sum";
    case RMC_OP_DOT:      return "dot";
    }
    return NULL;
}

static int is_binary(int32_t op)
{
    return (op >= RMC_OP_ADD && op <= RMC_OP_MAX) || op == RMC_OP_DOT;
}

static int is_unary(int32_t op)
{
    return (op >= RMC_OP_NEG && op <= RMC_OP_ABS) || op == RMC_OP_SUM ||
           op == RMC_OP_LOG_SUM_EXP;
}

void model_describe(const rmc_model *model, rmc_node id, char *buf, size_t cap)
{
    const struct node *nd;
    size_t len;

    if (cap == 0)
        return;
    if (id < 0 || id >= model->n_nodes) {
        snprintf(buf, cap, "?");
        return;
    }
    nd = &model->nodes[id];
    switch (nd->kind) {
    case NODE_PARAM:
        snprintf(buf, cap, "parameter '%s'", nd->name);
        return;
    case NODE_DATA:
        snprintf(buf, cap, "data '%s'", nd->name);
        return;
    case NODE_CONST:
        if (nd->nvalues == 0)
            snprintf(buf, cap, "%g", nd->values[0]);
        else
            snprintf(buf, cap, "constant vector[%lld]", (long long)nd->nvalues);
        return;
    case NODE_TILDE:
        snprintf(buf, cap, "%s statement", dist_info(nd->op)->name);
        return;
    case NODE_TARGET:
        snprintf(buf, cap, "target statement");
        return;
    case NODE_SCAN_STATE:
        snprintf(buf, cap, "scan state");
        return;
    case NODE_SCAN_INPUT:
        snprintf(buf, cap, "scan input");
        return;
    default:
        break;
    }

    /* op(input, input): recursion is bounded by the buffer, which shrinks each level. */
    snprintf(buf, cap, "%s(", nd->kind == NODE_GATHER    ? "gather"
                              : nd->kind == NODE_MATVEC    ? "matvec"
                              : nd->kind == NODE_SLICE     ? "slice"
                              : nd->kind == NODE_DROP      ? "drop"
                              : nd->kind == NODE_ROW       ? "row"
                              : nd->kind == NODE_COL       ? "col"
                              : nd->kind == NODE_TRANSPOSE ? "transpose"
                              : nd->kind == NODE_CONCAT    ? "concat"
                              : nd->kind == NODE_LINALG    ? la_name(nd->op)
                              : nd->kind == NODE_LPDF      ? dist_info(nd->op)->name
                              : nd->kind == NODE_SCAN      ? "scan"
                                                           : model_op_name(nd->op));
    for (int32_t k = 0; k < nd->nin; k++) {
        len = strlen(buf);
        if (len + 8 >= cap)
            break;
        if (k > 0)
            buf[len++] = ',', buf[len++] = ' ', buf[len] = 0;
        model_describe(model, nd->in[k], buf + len, cap - len);
    }
    len = strlen(buf);
    if (len + 2 <= cap)
        buf[len] = ')', buf[len + 1] = 0;
}

/* Record the first builder error; every later call returns it again. */
static rmc_status model_error(rmc_model *model, rmc_status status, const char *fmt, ...)
    RMC_PRINTF(3, 4);

static rmc_status model_error(rmc_model *model, rmc_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(model->error, sizeof model->error, fmt, ap);
    va_end(ap);
    model->status = status;
    return rmc_fail(status, "%s", model->error);
}

/* The common prologue of builder calls: refuse a NULL model, repeat a sticky error. */
#define BUILDER_ENTER(model, out)                                                      \
    do {                                                                               \
        if (!(model))                                                                  \
            return rmc_fail(RMC_ERR_ARGUMENT, "%s: model is NULL", __func__);          \
        if ((out) == NULL)                                                             \
            return rmc_fail(RMC_ERR_ARGUMENT, "%s: out is NULL", __func__);            \
        *(out) = RMC_NONE;                                                             \
        if ((model)->status != RMC_OK)                                                 \
            return rmc_fail((model)->status, "%s", (model)->error);                    \
    } while (0)

static rmc_status push_node(rmc_model *model, const struct node *nd, rmc_node *out)
{
    /* A scan body is a pure function of its state and inputs: no parameters or terms of
     * the density inside it. */
    if (model->scan_open &&
        (nd->kind == NODE_PARAM || nd->kind == NODE_TILDE || nd->kind == NODE_TARGET))
        return model_error(model, RMC_ERR_MODEL, "a scan body cannot declare %s; declare "
                           "it before rmc_scan_begin", nd->kind == NODE_PARAM ? "parameters"
                           : "distribution statements or target terms");
    if (model->n_nodes == model->cap_nodes) {
        int32_t cap = model->cap_nodes ? 2 * model->cap_nodes : 64;
        struct node *grown = realloc(model->nodes, (size_t)cap * sizeof *grown);

        if (!grown || cap < 0)
            return model_error(model, RMC_ERR_NOMEM, "out of memory growing the model");
        model->nodes = grown;
        model->cap_nodes = cap;
    }
    model->nodes[model->n_nodes] = *nd;
    *out = model->n_nodes++;
    return RMC_OK;
}

static int valid_node(const rmc_model *model, rmc_node id)
{
    return id >= 0 && id < model->n_nodes && model->nodes[id].kind != NODE_TILDE &&
           model->nodes[id].kind != NODE_TARGET;
}

static int valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 200)
        return 0;
    for (const char *c = name; *c; c++) {
        if (*c == '[' || *c == ']' || *c == ',' || *c == '"' || (unsigned char)*c < 32)
            return 0;
    }
    return 1;
}

/* Names of parameters and deterministics share one namespace: both are draw columns. */
static int name_taken(const rmc_model *model, const char *name)
{
    for (int32_t i = 0; i < model->n_nodes; i++) {
        if (model->nodes[i].kind == NODE_PARAM && strcmp(model->nodes[i].name, name) == 0)
            return 1;
    }
    for (int32_t i = 0; i < model->n_dets; i++) {
        if (strcmp(model->dets[i].name, name) == 0)
            return 1;
    }
    return 0;
}

static void node_release(struct node *nd)
{
    free(nd->name);
    free(nd->dim_names[0]);
    free(nd->dim_names[1]);
    free(nd->values);
}

/* Bound on one declared size: beyond it, no machine could hold even the node (binding
 * then bounds the whole program, src/program.c). */
#define MAX_DIM_SIZE ((int64_t)1 << 40)

/* Fill the shape fields of nd from the caller's declaration. */
static rmc_status set_shape(rmc_model *model, struct node *nd, const char *what, int32_t ndim,
                            const int64_t *dims, const char *const *dim_names, int allow_any)
{
    if (ndim < 0 || ndim > RMC_MAX_DIMS)
        return model_error(model, RMC_ERR_ARGUMENT, "%s: ndim must be 0, 1 or 2, got %d",
                           what, (int)ndim);
    nd->ndim = ndim;
    for (int32_t d = 0; d < ndim; d++) {
        const char *dn = dim_names ? dim_names[d] : NULL;

        if (dn) {
            if (!valid_name(dn))
                return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid size name", what);
            nd->dim_names[d] = rmc_strdup(dn);
            if (!nd->dim_names[d])
                return model_error(model, RMC_ERR_NOMEM, "out of memory");
            nd->dims[d] = 0;
            continue;
        }
        if (!dims)
            return model_error(model, RMC_ERR_ARGUMENT, "%s: dims is NULL", what);
        if (dims[d] == -1 && allow_any) {
            nd->dims[d] = -1;
            continue;
        }
        if (dims[d] < 1)
            return model_error(model, RMC_ERR_SHAPE,
                               "%s: size %lld of dimension %d must be positive",
                               what, (long long)dims[d], (int)d + 1);
        if (dims[d] > MAX_DIM_SIZE)
            return model_error(model, RMC_ERR_SHAPE,
                               "%s: size %lld of dimension %d is too large (at most 2^40)",
                               what, (long long)dims[d], (int)d + 1);
        nd->dims[d] = dims[d];
    }
    return RMC_OK;
}

rmc_status rmc_model_create(rmc_model **out)
{
    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_create: out is NULL");
    *out = rmc_calloc(1, sizeof **out);
    if (!*out)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_model_create: out of memory");
    return RMC_OK;
}

void rmc_model_free(rmc_model *model)
{
    if (!model)
        return;
    for (int32_t i = 0; i < model->n_nodes; i++)
        node_release(&model->nodes[i]);
    for (int32_t i = 0; i < model->n_dets; i++)
        free(model->dets[i].name);
    free(model->nodes);
    free(model->dets);
    free(model);
}

rmc_status rmc_model_status(const rmc_model *model)
{
    return model ? model->status : RMC_ERR_ARGUMENT;
}

const char *rmc_model_error(const rmc_model *model)
{
    return model ? model->error : "model is NULL";
}

/* The shape a transform needs, checked as far as sizes are known before binding. */
static rmc_status check_transform_shape(rmc_model *model, const char *name, int32_t transform,
                                        int32_t ndim, const int64_t *dims,
                                        const char *const *dim_names)
{
    static const char *const what[] = { "", "an ordered vector", "a positive ordered vector",
                                         "a simplex", "a correlation Cholesky factor" };
    int32_t want = transform == RMC_TRANSFORM_CHOLESKY_CORR ? 2 : 1;

    if (ndim != want)
        return model_error(model, RMC_ERR_SHAPE, "parameter '%s': %s needs %s, got %d "
                           "dimension%s", name, what[transform],
                           want == 1 ? "one dimension" : "two (a square matrix)", (int)ndim,
                           ndim == 1 ? "" : "s");
    for (int32_t d = 0; d < ndim; d++) {
        int fixed = !(dim_names && dim_names[d]) && dims;

        if (fixed && dims[d] < 2 && (transform == RMC_TRANSFORM_SIMPLEX ||
                                     transform == RMC_TRANSFORM_CHOLESKY_CORR))
            return model_error(model, RMC_ERR_SHAPE, "parameter '%s': %s needs a size of at "
                               "least 2, got %lld", name, what[transform],
                               (long long)dims[d]);
    }
    if (ndim == 2 && dims && !(dim_names && (dim_names[0] || dim_names[1])) &&
        dims[0] != dims[1])
        return model_error(model, RMC_ERR_SHAPE, "parameter '%s': %s must be square, got "
                           "%lld x %lld", name, what[transform], (long long)dims[0],
                           (long long)dims[1]);
    return RMC_OK;
}

/* A parameter, bounded (transform RMC_TRANSFORM_NONE) or of a constrained shape. */
static rmc_status add_param(rmc_model *model, const char *name, int32_t ndim,
                            const int64_t *dims, const char *const *dim_names, rmc_node lower,
                            rmc_node upper, int32_t transform, rmc_node *out)
{
    struct node nd = { .kind = NODE_PARAM, .lower = lower, .upper = upper,
                       .transform = transform };
    rmc_status st;

    if (!valid_name(name))
        return model_error(model, RMC_ERR_ARGUMENT,
                           "parameter name must be non-empty, at most 200 characters, "
                           "without brackets, commas or quotes");
    if (name_taken(model, name))
        return model_error(model, RMC_ERR_MODEL, "duplicate parameter name '%s'", name);
    /* A bound must be an existing node, so it precedes the parameter in recording order:
     * its value is known, and its adjoint still open, when the parameter is reached. */
    if ((lower != RMC_NONE && !valid_node(model, lower)) ||
        (upper != RMC_NONE && !valid_node(model, upper)))
        return model_error(model, RMC_ERR_ARGUMENT, "parameter '%s': invalid bound node",
                           name);
    if (transform != RMC_TRANSFORM_NONE) {
        st = check_transform_shape(model, name, transform, ndim, dims, dim_names);
        if (st != RMC_OK)
            return st;
    }

    st = set_shape(model, &nd, name, ndim, dims, dim_names, 0);
    if (st == RMC_OK) {
        nd.name = rmc_strdup(name);
        st = nd.name ? push_node(model, &nd, out)
                     : model_error(model, RMC_ERR_NOMEM, "out of memory");
    }
    if (st != RMC_OK)
        node_release(&nd);
    return st;
}

rmc_status rmc_param(rmc_model *model, const char *name, int32_t ndim, const int64_t *dims,
                     const char *const *dim_names, rmc_node lower, rmc_node upper,
                     rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_param(model, name, ndim, dims, dim_names, lower, upper, RMC_TRANSFORM_NONE,
                     out);
}

rmc_status rmc_param_transform(rmc_model *model, const char *name, int32_t ndim,
                               const int64_t *dims, const char *const *dim_names,
                               rmc_transform transform, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    if ((int)transform < RMC_TRANSFORM_NONE || transform > RMC_TRANSFORM_CHOLESKY_CORR)
        return model_error(model, RMC_ERR_ARGUMENT, "parameter '%s': unknown transform %d",
                           name ? name : "?", (int)transform);
    return add_param(model, name, ndim, dims, dim_names, RMC_NONE, RMC_NONE, transform, out);
}

rmc_status rmc_data_field(rmc_model *model, const char *name, rmc_dtype dtype, int32_t ndim,
                          const int64_t *dims, const char *const *dim_names, rmc_node *out)
{
    struct node nd = { .kind = NODE_DATA, .lower = RMC_NONE, .upper = RMC_NONE };
    rmc_status st;

    BUILDER_ENTER(model, out);
    if (!valid_name(name))
        return model_error(model, RMC_ERR_ARGUMENT, "invalid data field name");
    if (dtype != RMC_REAL && dtype != RMC_INT32 && dtype != RMC_INT64)
        return model_error(model, RMC_ERR_ARGUMENT, "data '%s': unknown dtype %d", name,
                           (int)dtype);

    /* The same field may be declared twice (the Python builder does so for each use);
     * the declarations must then agree. */
    for (int32_t i = 0; i < model->n_nodes; i++) {
        const struct node *o = &model->nodes[i];

        if (o->kind == NODE_DATA && strcmp(o->name, name) == 0 &&
            (o->dtype == RMC_REAL) == (dtype == RMC_REAL) &&
            o->ndim == ndim && !o->dim_names[0] && !o->dim_names[1] && !dim_names &&
            (ndim <= 0 || (dims && memcmp(o->dims, dims, (size_t)ndim * 8) == 0))) {
            *out = i;
            return RMC_OK;
        }
    }

    nd.dtype = dtype == RMC_REAL ? RMC_REAL : RMC_INT64;
    if (ndim == -1) {
        nd.ndim = -1; /* rank from the bound array */
        st = RMC_OK;
    } else {
        st = set_shape(model, &nd, name, ndim, dims, dim_names, 1);
    }
    if (st == RMC_OK) {
        nd.name = rmc_strdup(name);
        st = nd.name ? push_node(model, &nd, out)
                     : model_error(model, RMC_ERR_NOMEM, "out of memory");
    }
    if (st != RMC_OK)
        node_release(&nd);
    return st;
}

rmc_status rmc_const(rmc_model *model, double value, rmc_node *out)
{
    struct node nd = { .kind = NODE_CONST, .lower = RMC_NONE, .upper = RMC_NONE };
    rmc_status st;

    BUILDER_ENTER(model, out);
    if (value != value)
        return model_error(model, RMC_ERR_ARGUMENT, "constant is NaN");
    nd.values = malloc(sizeof(double));
    if (!nd.values)
        return model_error(model, RMC_ERR_NOMEM, "out of memory");
    nd.values[0] = value;
    st = push_node(model, &nd, out);
    if (st != RMC_OK)
        node_release(&nd);
    return st;
}

rmc_status rmc_const_vector(rmc_model *model, const double *values, int64_t n, rmc_node *out)
{
    struct node nd = { .kind = NODE_CONST, .lower = RMC_NONE, .upper = RMC_NONE };
    rmc_status st;

    BUILDER_ENTER(model, out);
    if (n < 1 || n > ((int64_t)1 << 32) || !values)
        return model_error(model, RMC_ERR_ARGUMENT,
                           "constant vector needs 1 or more values, got %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (values[i] != values[i])
            return model_error(model, RMC_ERR_ARGUMENT, "constant vector: NaN at index %lld",
                               (long long)i);
    }
    nd.values = rmc_calloc((size_t)n, sizeof(double));
    if (!nd.values)
        return model_error(model, RMC_ERR_NOMEM, "out of memory");
    memcpy(nd.values, values, (size_t)n * sizeof(double));
    nd.nvalues = n;
    st = push_node(model, &nd, out);
    if (st != RMC_OK)
        node_release(&nd);
    return st;
}

rmc_status rmc_op2(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node *out)
{
    struct node nd = { .kind = NODE_OP2, .op = op, .nin = 2, .in = { a, b },
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (op == RMC_OP_SUM && b == RMC_NONE)
        return rmc_op1(model, op, a, out);
    if (!is_binary(op))
        return model_error(model, RMC_ERR_ARGUMENT, "rmc_op2: op %d is not binary", (int)op);
    if (!valid_node(model, a) || !valid_node(model, b))
        return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid input node",
                           model_op_name(op));
    return push_node(model, &nd, out);
}

rmc_status rmc_op1(rmc_model *model, rmc_op op, rmc_node a, rmc_node *out)
{
    struct node nd = { .kind = NODE_OP1, .op = op, .nin = 1, .in = { a },
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!is_unary(op))
        return model_error(model, RMC_ERR_ARGUMENT, "rmc_op1: op %d is not unary", (int)op);
    if (!valid_node(model, a))
        return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid input node",
                           model_op_name(op));
    return push_node(model, &nd, out);
}

rmc_status rmc_gather(rmc_model *model, rmc_node vec, rmc_node index, int32_t base,
                      rmc_node *out)
{
    struct node nd = { .kind = NODE_GATHER, .nin = 2, .in = { vec, index }, .base = base,
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!valid_node(model, vec) || !valid_node(model, index))
        return model_error(model, RMC_ERR_ARGUMENT, "gather: invalid input node");
    if (model->nodes[index].kind != NODE_DATA || model->nodes[index].dtype == RMC_REAL)
        return model_error(model, RMC_ERR_MODEL,
                           "gather: the index must be an integer data field");
    if (base != 0 && base != 1)
        return model_error(model, RMC_ERR_ARGUMENT, "gather: base must be 0 or 1");
    return push_node(model, &nd, out);
}

rmc_status rmc_slice(rmc_model *model, rmc_node vec, int64_t begin, int64_t end,
                     rmc_node *out)
{
    struct node nd = { .kind = NODE_SLICE, .nin = 1, .in = { vec }, .begin = begin,
                       .end = end, .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!valid_node(model, vec))
        return model_error(model, RMC_ERR_ARGUMENT, "slice: invalid input node");
    if (begin < 0 || end < begin)
        return model_error(model, RMC_ERR_ARGUMENT, "slice: the range %lld..%lld is invalid",
                           (long long)begin, (long long)end);
    return push_node(model, &nd, out);
}

rmc_status rmc_index(rmc_model *model, rmc_node vec, int64_t i, rmc_node *out)
{
    struct node nd = { .kind = NODE_SLICE, .nin = 1, .in = { vec }, .begin = i, .end = -1,
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!valid_node(model, vec))
        return model_error(model, RMC_ERR_ARGUMENT, "index: invalid input node");
    if (i < 0)
        return model_error(model, RMC_ERR_ARGUMENT, "index: %lld is negative", (long long)i);
    return push_node(model, &nd, out);
}

rmc_status rmc_matvec(rmc_model *model, rmc_node matrix, rmc_node vec, rmc_node *out)
{
    struct node nd = { .kind = NODE_MATVEC, .nin = 2, .in = { matrix, vec },
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!valid_node(model, matrix) || !valid_node(model, vec))
        return model_error(model, RMC_ERR_ARGUMENT, "matvec: invalid input node");
    return push_node(model, &nd, out);
}

/* A distribution over value: a statement (NODE_TILDE) or an expression (NODE_LPDF). */
static rmc_status add_density(rmc_model *model, int32_t kind, rmc_dist dist, rmc_node value,
                              int32_t nargs, const rmc_node *args, rmc_node *out)
{
    struct node nd = { .kind = kind, .op = dist, .lower = RMC_NONE, .upper = RMC_NONE };
    const struct dist_info *info = dist_info(dist);

    if (!info)
        return model_error(model, RMC_ERR_ARGUMENT, "unknown distribution %d", (int)dist);
    if (nargs != info->nargs)
        return model_error(model, RMC_ERR_MODEL, "%s takes %d arguments, got %d", info->name,
                           (int)info->nargs, (int)nargs);
    if (!valid_node(model, value))
        return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid value node", info->name);
    nd.in[0] = value;
    for (int32_t k = 0; k < nargs; k++) {
        if (!args || !valid_node(model, args[k]))
            return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid node for argument %s",
                               info->name, info->args[k]);
        nd.in[k + 1] = args[k];
    }
    nd.nin = nargs + 1;
    return push_node(model, &nd, out);
}

rmc_status rmc_tilde(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
                     const rmc_node *args)
{
    rmc_node ignored;

    BUILDER_ENTER(model, &ignored);
    return add_density(model, NODE_TILDE, dist, value, nargs, args, &ignored);
}

rmc_status rmc_lpdf(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
                    const rmc_node *args, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_density(model, NODE_LPDF, dist, value, nargs, args, out);
}

rmc_status rmc_target(rmc_model *model, rmc_node node)
{
    struct node nd = { .kind = NODE_TARGET, .nin = 1, .in = { node }, .lower = RMC_NONE,
                       .upper = RMC_NONE };
    rmc_node ignored;

    BUILDER_ENTER(model, &ignored);
    if (!valid_node(model, node))
        return model_error(model, RMC_ERR_ARGUMENT, "target: invalid node");
    return push_node(model, &nd, &ignored);
}

rmc_status rmc_op3(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node c,
                   rmc_node *out)
{
    struct node nd = { .kind = NODE_OP3, .op = op, .nin = 3, .in = { a, b, c },
                       .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (op != RMC_OP_LOG_MIX)
        return model_error(model, RMC_ERR_ARGUMENT, "rmc_op3: op %d is not ternary", (int)op);
    if (!valid_node(model, a) || !valid_node(model, b) || !valid_node(model, c))
        return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid input node",
                           model_op_name(op));
    return push_node(model, &nd, out);
}

rmc_status rmc_deterministic(rmc_model *model, const char *name, rmc_node node)
{
    rmc_node ignored;
    char *copy;

    BUILDER_ENTER(model, &ignored);
    if (!valid_name(name))
        return model_error(model, RMC_ERR_ARGUMENT, "invalid deterministic name");
    if (name_taken(model, name))
        return model_error(model, RMC_ERR_MODEL, "duplicate name '%s'", name);
    if (!valid_node(model, node))
        return model_error(model, RMC_ERR_ARGUMENT, "deterministic '%s': invalid node", name);
    if (model->scan_open)
        return model_error(model, RMC_ERR_MODEL, "deterministic '%s': not inside a scan body; "
                           "record the scan's output after rmc_scan_end", name);
    if (model->n_dets == model->cap_dets) {
        int32_t cap = model->cap_dets ? 2 * model->cap_dets : 8;
        struct deterministic *grown = realloc(model->dets, (size_t)cap * sizeof *grown);

        if (!grown)
            return model_error(model, RMC_ERR_NOMEM, "out of memory");
        model->dets = grown;
        model->cap_dets = cap;
    }
    copy = rmc_strdup(name);
    if (!copy)
        return model_error(model, RMC_ERR_NOMEM, "out of memory");
    model->dets[model->n_dets].name = copy;
    model->dets[model->n_dets].node = node;
    model->n_dets++;
    return RMC_OK;
}

/* A node of kind over inputs, each of which must exist. */
static rmc_status add_node(rmc_model *model, int32_t kind, int32_t op, const char *what,
                           int32_t nin, const rmc_node *in, rmc_node *out)
{
    struct node nd = { .kind = kind, .op = op, .nin = nin, .lower = RMC_NONE,
                       .upper = RMC_NONE };

    for (int32_t k = 0; k < nin; k++) {
        if (!valid_node(model, in[k]))
            return model_error(model, RMC_ERR_ARGUMENT, "%s: invalid input node", what);
        nd.in[k] = in[k];
    }
    return push_node(model, &nd, out);
}

rmc_status rmc_vecmat(rmc_model *model, rmc_node vec, rmc_node matrix, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_LINALG, LA_VECMAT, "vecmat", 2, (rmc_node[]){ vec, matrix },
                    out);
}

rmc_status rmc_matmul(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_LINALG, LA_MATMUL, "matmul", 2, (rmc_node[]){ a, b }, out);
}

rmc_status rmc_diag_pre_multiply(rmc_model *model, rmc_node vec, rmc_node matrix,
                                 rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_LINALG, LA_DIAG_PRE, "diag_pre_multiply", 2,
                    (rmc_node[]){ vec, matrix }, out);
}

rmc_status rmc_cholesky(rmc_model *model, rmc_node matrix, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_LINALG, LA_CHOLESKY, "cholesky", 1, &matrix, out);
}

rmc_status rmc_tri_solve(rmc_model *model, rmc_node lower, rmc_node b, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_LINALG, LA_TRI_SOLVE, "tri_solve", 2,
                    (rmc_node[]){ lower, b }, out);
}

rmc_status rmc_cov_exp_quad(rmc_model *model, rmc_node x, rmc_node alpha, rmc_node rho,
                            double delta, rmc_node *out)
{
    rmc_status st;

    BUILDER_ENTER(model, out);
    if (!(delta >= 0.0 && delta < INFINITY))
        return model_error(model, RMC_ERR_ARGUMENT, "cov_exp_quad: the jitter delta must be "
                           "finite and non-negative, got %g", delta);
    st = add_node(model, NODE_LINALG, LA_COV_EXP_QUAD, "cov_exp_quad", 3,
                  (rmc_node[]){ x, alpha, rho }, out);
    if (st == RMC_OK)
        model->nodes[*out].delta = delta;
    return st;
}

rmc_status rmc_transpose(rmc_model *model, rmc_node matrix, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_TRANSPOSE, 0, "transpose", 1, &matrix, out);
}

rmc_status rmc_concat(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_node(model, NODE_CONCAT, 0, "concat", 2, (rmc_node[]){ a, b }, out);
}

/* Row or column index of a matrix, checked against its size at bind time. */
static rmc_status add_pick(rmc_model *model, int32_t kind, rmc_node matrix, int64_t index,
                           rmc_node *out)
{
    const char *what = kind == NODE_ROW ? "row" : "col";
    rmc_status st;

    if (index < 0)
        return model_error(model, RMC_ERR_ARGUMENT, "%s: index %lld is negative", what,
                           (long long)index);
    st = add_node(model, kind, 0, what, 1, &matrix, out);
    if (st == RMC_OK)
        model->nodes[*out].begin = index;
    return st;
}

rmc_status rmc_row(rmc_model *model, rmc_node matrix, int64_t i, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_pick(model, NODE_ROW, matrix, i, out);
}

rmc_status rmc_col(rmc_model *model, rmc_node matrix, int64_t j, rmc_node *out)
{
    BUILDER_ENTER(model, out);
    return add_pick(model, NODE_COL, matrix, j, out);
}

rmc_status rmc_drop(rmc_model *model, rmc_node vec, int64_t first, int64_t last,
                    rmc_node *out)
{
    rmc_status st;

    BUILDER_ENTER(model, out);
    if (first < 0 || last < 0)
        return model_error(model, RMC_ERR_ARGUMENT, "drop: the counts %lld and %lld must not "
                           "be negative", (long long)first, (long long)last);
    st = add_node(model, NODE_DROP, 0, "drop", 1, &vec, out);
    if (st == RMC_OK) {
        model->nodes[*out].begin = first;
        model->nodes[*out].end = last;
    }
    return st;
}

rmc_status rmc_scan_begin(rmc_model *model, rmc_node init, int32_t n_seq, const rmc_node *seqs,
                          rmc_node *state, rmc_node *inputs)
{
    struct node nd = { .kind = NODE_SCAN_STATE, .nin = 1, .in = { init }, .lower = RMC_NONE,
                       .upper = RMC_NONE };
    rmc_status st;

    BUILDER_ENTER(model, state);
    if (model->scan_open)
        return model_error(model, RMC_ERR_MODEL, "scans cannot be nested");
    if (!valid_node(model, init))
        return model_error(model, RMC_ERR_ARGUMENT, "scan: invalid initial state node");
    if (n_seq < 0 || n_seq > 2 || (n_seq > 0 && (!seqs || !inputs)))
        return model_error(model, RMC_ERR_ARGUMENT, "scan: 0, 1 or 2 sequences, got %d",
                           (int)n_seq);
    for (int32_t k = 0; k < n_seq; k++) {
        if (!valid_node(model, seqs[k]))
            return model_error(model, RMC_ERR_ARGUMENT, "scan: invalid node for sequence %d",
                               (int)k + 1);
    }

    st = push_node(model, &nd, state);
    for (int32_t k = 0; k < n_seq && st == RMC_OK; k++) {
        struct node row = { .kind = NODE_SCAN_INPUT, .nin = 1, .in = { seqs[k] },
                            .lower = RMC_NONE, .upper = RMC_NONE };

        st = push_node(model, &row, &inputs[k]);
        model->scan_seq[k] = seqs[k];
    }
    if (st != RMC_OK)
        return st;
    model->scan_open = 1;
    model->scan_state = *state;
    model->scan_nseq = n_seq;
    return RMC_OK;
}

rmc_status rmc_scan_end(rmc_model *model, rmc_node next, int64_t steps, const char *steps_name,
                        rmc_node *out)
{
    struct node nd = { .kind = NODE_SCAN, .lower = RMC_NONE, .upper = RMC_NONE };

    BUILDER_ENTER(model, out);
    if (!model->scan_open)
        return model_error(model, RMC_ERR_MODEL, "rmc_scan_end without rmc_scan_begin");
    if (!valid_node(model, next) || next < model->scan_state)
        return model_error(model, RMC_ERR_MODEL, "scan: the next state must be a node built "
                           "inside the body (from the state, the inputs and earlier nodes)");
    if (model->scan_nseq == 0 && !steps_name && steps < 1)
        return model_error(model, RMC_ERR_ARGUMENT, "scan: without sequences the number of "
                           "steps must be given (a positive count or an integer data name)");
    if (steps_name && !valid_name(steps_name))
        return model_error(model, RMC_ERR_ARGUMENT, "scan: invalid steps name");

    nd.in[0] = model->nodes[model->scan_state].in[0];
    nd.in[1] = next;
    for (int32_t k = 0; k < model->scan_nseq; k++)
        nd.in[2 + k] = model->scan_seq[k];
    nd.nin = 2 + model->scan_nseq;
    nd.begin = model->scan_state;
    nd.ndim = 1;
    nd.dims[0] = steps;
    if (steps_name && !(nd.dim_names[0] = rmc_strdup(steps_name)))
        return model_error(model, RMC_ERR_NOMEM, "out of memory");
    model->scan_open = 0;
    return push_node(model, &nd, out);
}
