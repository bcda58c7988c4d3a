/* modelfile.c - models as JSON files (docs/model-files.md): loading replays each record
 * through the public builder calls, as python/rmc/builder.py does, so a file gives the
 * same graph (and the same draws) whichever side loads it; saving writes the C model's
 * nodes back as records.
 *
 * Every record is checked before its builder call (kind, input count, inputs that are
 * earlier records with a value, attributes of the right type), so that a damaged or
 * hand-edited file fails with a message naming the record, its kind and the field rather
 * than with the builder's terser one. What only the builder knows (a name declared
 * twice, shapes) comes back from it with the record named in front. */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "linalg.h"
#include "model.h"
#include "util.h"

#define FORMAT_VERSION 2

/* ---------------------------------------------------------------- saving */

/* A growing text buffer; a failed allocation makes every later append a no-op and is
 * reported once at the end, which keeps the writer free of error paths per field. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

static void put(struct text *t, const char *fmt, ...) RMC_PRINTF(2, 3);

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (!t->s || t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *grown;

        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        grown = realloc(t->s, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
        va_start(ap, fmt);
        vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

/* A double as the shortest text that reads back to the same value. JSON has no infinity:
 * 1e999 overflows to it in every reader (cJSON's strtod, Python's json). NaN cannot occur:
 * the builder refuses NaN constants. */
static void put_number(struct text *t, double v)
{
    char buf[40];

    if (isinf(v)) {
        put(t, "%s", v > 0 ? "1e999" : "-1e999");
        return;
    }
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    put(t, "%s", buf);
}

/* Names passed the builder's check (no quotes or control characters), so only the
 * backslash needs escaping. */
static void put_string(struct text *t, const char *s)
{
    put(t, "\"");
    for (; *s; s++) {
        if (*s == '\\')
            put(t, "\\\\");
        else
            put(t, "%c", *s);
    }
    put(t, "\"");
}

static void put_shape(struct text *t, const struct node *nd)
{
    if (nd->ndim < 0) {
        put(t, "null");
        return;
    }
    put(t, "[");
    for (int32_t d = 0; d < nd->ndim; d++) {
        if (d)
            put(t, ", ");
        if (nd->dim_names[d])
            put_string(t, nd->dim_names[d]);
        else
            put(t, "%lld", (long long)nd->dims[d]);
    }
    put(t, "]");
}

static void put_inputs(struct text *t, const int32_t *rec, const rmc_node *in, int32_t n)
{
    put(t, ", \"inputs\": [");
    for (int32_t k = 0; k < n; k++)
        put(t, "%s%d", k ? ", " : "", (int)rec[in[k]]);
    put(t, "]");
}

static const char *const TRANSFORM_NAMES[] = { "none", "ordered", "positive_ordered",
                                               "simplex", "cholesky_corr" };

rmc_status rmc_model_save_json(const rmc_model *model, char **out)
{
    struct text t = { 0 };
    int32_t *rec, nrec = 0, scan_state = -1, scan_row = 0;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_save_json: out is NULL");
    *out = NULL;
    if (!model)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_save_json: model is NULL");
    if (model->status != RMC_OK)
        return rmc_fail(model->status, "rmc_model_save_json: the model has an error: %s",
                        model->error);
    if (model->scan_open)
        return rmc_fail(RMC_ERR_MODEL, "rmc_model_save_json: the model is inside a scan "
                        "(rmc_scan_begin without rmc_scan_end)");
    /* Node ids and record indexes differ only where a record stands for no node of its
     * own (deterministics), so a map is kept rather than assumed. */
    rec = rmc_calloc((size_t)model->n_nodes + 1, sizeof *rec);
    if (!rec)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_model_save_json: out of memory");

    put(&t, "{\n \"format\": \"rmc-model\",\n \"version\": %d,\n \"records\": [",
        FORMAT_VERSION);
    for (int32_t i = 0; i < model->n_nodes; i++) {
        const struct node *nd = &model->nodes[i];

        put(&t, "%s\n  {\"op\": ", nrec ? "," : "");
        rec[i] = nrec++;
        switch (nd->kind) {
        case NODE_PARAM:
            put(&t, "\"param\", \"name\": ");
            put_string(&t, nd->name);
            put(&t, ", \"shape\": ");
            put_shape(&t, nd);
            if (nd->lower != RMC_NONE)
                put(&t, ", \"lower\": %d", (int)rec[nd->lower]);
            else
                put(&t, ", \"lower\": null");
            if (nd->upper != RMC_NONE)
                put(&t, ", \"upper\": %d", (int)rec[nd->upper]);
            else
                put(&t, ", \"upper\": null");
            if (nd->transform != RMC_TRANSFORM_NONE)
                put(&t, ", \"transform\": \"%s\"", TRANSFORM_NAMES[nd->transform]);
            break;
        case NODE_DATA:
            put(&t, "\"data\", \"name\": ");
            put_string(&t, nd->name);
            put(&t, ", \"dtype\": \"%s\", \"shape\": ", nd->dtype == RMC_REAL ? "real" : "int");
            put_shape(&t, nd);
            break;
        case NODE_CONST:
            if (nd->nvalues == 0) {
                put(&t, "\"const\", \"value\": ");
                put_number(&t, nd->values[0]);
            } else {
                put(&t, "\"const_vector\", \"values\": [");
                for (int64_t k = 0; k < nd->nvalues; k++) {
                    if (k)
                        put(&t, ", ");
                    put_number(&t, nd->values[k]);
                }
                put(&t, "]");
            }
            break;
        case NODE_OP1:
        case NODE_OP2:
        case NODE_OP3:
            put(&t, "\"op%d\", \"fn\": \"%s\"", (int)nd->nin, model_op_name(nd->op));
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_GATHER:
            put(&t, "\"gather\", \"base\": %d", (int)nd->base);
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_SLICE:
            /* rmc_index records a slice with end -1; rmc_slice never has end < begin. */
            if (nd->end < 0)
                put(&t, "\"index\", \"i\": %lld", (long long)nd->begin);
            else
                put(&t, "\"slice\", \"begin\": %lld, \"end\": %lld", (long long)nd->begin,
                    (long long)nd->end);
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_DROP:
            put(&t, "\"drop\", \"first\": %lld, \"last\": %lld", (long long)nd->begin,
                (long long)nd->end);
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_ROW:
        case NODE_COL:
            put(&t, nd->kind == NODE_ROW ? "\"row\", \"i\": %lld" : "\"col\", \"j\": %lld",
                (long long)nd->begin);
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_MATVEC:
        case NODE_TRANSPOSE:
        case NODE_CONCAT:
            put(&t, "\"%s\"", nd->kind == NODE_MATVEC ? "matvec"
                              : nd->kind == NODE_TRANSPOSE ? "transpose" : "concat");
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_LINALG:
            put(&t, "\"%s\"", la_name(nd->op));
            if (nd->op == LA_COV_EXP_QUAD) {
                put(&t, ", \"delta\": ");
                put_number(&t, nd->delta);
            }
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_TILDE:
        case NODE_LPDF:
            put(&t, "\"%s\", \"dist\": \"%s\"", nd->kind == NODE_TILDE ? "tilde" : "lpdf",
                dist_info(nd->op)->name);
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_TARGET:
            put(&t, "\"target\"");
            put_inputs(&t, rec, nd->in, nd->nin);
            break;
        case NODE_SCAN_STATE: {
            /* rmc_scan_begin records the state, then one input node per sequence. */
            rmc_node in[3] = { nd->in[0] };
            int32_t n = 1;

            while (n < 3 && i + n < model->n_nodes &&
                   model->nodes[i + n].kind == NODE_SCAN_INPUT) {
                in[n] = model->nodes[i + n].in[0];
                n++;
            }
            put(&t, "\"scan_begin\"");
            put_inputs(&t, rec, in, n);
            scan_state = i;
            scan_row = 0;
            break;
        }
        case NODE_SCAN_INPUT:
            put(&t, "\"scan_row\", \"k\": %d, \"inputs\": [%d, %d]", (int)scan_row++,
                (int)rec[scan_state], (int)rec[nd->in[0]]);
            break;
        case NODE_SCAN: {
            rmc_node in[4] = { (rmc_node)nd->begin };

            for (int32_t k = 1; k < nd->nin; k++)
                in[k] = nd->in[k];
            put(&t, "\"scan_end\"");
            put_inputs(&t, rec, in, nd->nin);
            if (nd->dim_names[0]) {
                put(&t, ", \"steps\": null, \"steps_name\": ");
                put_string(&t, nd->dim_names[0]);
            } else if (nd->nin == 2) {
                put(&t, ", \"steps\": %lld, \"steps_name\": null", (long long)nd->dims[0]);
            } else {
                put(&t, ", \"steps\": null, \"steps_name\": null");
            }
            break;
        }
        default:
            free(rec);
            free(t.s);
            return rmc_fail(RMC_ERR_INTERNAL, "rmc_model_save_json: node %d has kind %d, "
                            "which has no record form", (int)i, (int)nd->kind);
        }
        put(&t, "}");
    }
    /* Deterministics name a node and are kept apart from the nodes, in their own order:
     * written last, they give the same columns in the same order. */
    for (int32_t d = 0; d < model->n_dets; d++) {
        put(&t, "%s\n  {\"op\": \"deterministic\", \"name\": ", nrec ? "," : "");
        put_string(&t, model->dets[d].name);
        put(&t, ", \"inputs\": [%d]}", (int)rec[model->dets[d].node]);
        nrec++;
    }
    put(&t, "\n ]\n}\n");
    free(rec);
    if (t.failed) {
        free(t.s);
        return rmc_fail(RMC_ERR_NOMEM, "rmc_model_save_json: out of memory");
    }
    *out = t.s;
    return RMC_OK;
}

void rmc_model_json_free(char *text)
{
    free(text);
}

/* ---------------------------------------------------------------- loading */

#ifndef RMC_HAVE_CJSON

rmc_status rmc_model_load_json(const char *text, size_t len, rmc_model **out)
{
    if (out)
        *out = NULL;
    return rmc_fail(RMC_ERR_BACKEND, "rmc_model_load_json: librmc was built without cJSON "
                    "(install libcjson-dev and configure again)");
}

rmc_status rmc_model_load_file(const char *path, rmc_model **out)
{
    if (out)
        *out = NULL;
    return rmc_fail(RMC_ERR_BACKEND, "rmc_model_load_file: librmc was built without cJSON "
                    "(install libcjson-dev and configure again)");
}

#else

#include <cjson/cJSON.h>

enum kind {
    K_PARAM, K_DATA, K_CONST, K_CONST_VECTOR, K_OP1, K_OP2, K_OP3, K_GATHER, K_SLICE,
    K_INDEX, K_MATVEC, K_VECMAT, K_MATMUL, K_TRANSPOSE, K_CONCAT, K_DIAG_PRE, K_CHOLESKY,
    K_TRI_SOLVE, K_ROW, K_COL, K_DROP, K_COV_EXP_QUAD, K_TILDE, K_LPDF, K_TARGET,
    K_DETERMINISTIC, K_SCAN_BEGIN, K_SCAN_ROW, K_SCAN_END, K_COUNT
};

/* name, fewest and most inputs: the schema of python/rmc/modelfile.py. */
static const struct {
    const char *name;
    int min_in, max_in;
} KINDS[K_COUNT] = {
    [K_PARAM] = { "param", 0, 0 },           [K_DATA] = { "data", 0, 0 },
    [K_CONST] = { "const", 0, 0 },           [K_CONST_VECTOR] = { "const_vector", 0, 0 },
    [K_OP1] = { "op1", 1, 1 },               [K_OP2] = { "op2", 2, 2 },
    [K_OP3] = { "op3", 3, 3 },               [K_GATHER] = { "gather", 2, 2 },
    [K_SLICE] = { "slice", 1, 1 },           [K_INDEX] = { "index", 1, 1 },
    [K_MATVEC] = { "matvec", 2, 2 },         [K_VECMAT] = { "vecmat", 2, 2 },
    [K_MATMUL] = { "matmul", 2, 2 },         [K_TRANSPOSE] = { "transpose", 1, 1 },
    [K_CONCAT] = { "concat", 2, 2 },         [K_DIAG_PRE] = { "diag_pre_multiply", 2, 2 },
    [K_CHOLESKY] = { "cholesky", 1, 1 },     [K_TRI_SOLVE] = { "tri_solve", 2, 2 },
    [K_ROW] = { "row", 1, 1 },               [K_COL] = { "col", 1, 1 },
    [K_DROP] = { "drop", 1, 1 },             [K_COV_EXP_QUAD] = { "cov_exp_quad", 3, 3 },
    [K_TILDE] = { "tilde", 1, 4 },           [K_LPDF] = { "lpdf", 1, 4 },
    [K_TARGET] = { "target", 1, 1 },         [K_DETERMINISTIC] = { "deterministic", 1, 1 },
    [K_SCAN_BEGIN] = { "scan_begin", 1, 3 }, [K_SCAN_ROW] = { "scan_row", 2, 2 },
    [K_SCAN_END] = { "scan_end", 2, 4 },
};

static const int32_t OP_CODES[] = { RMC_OP_ADD, RMC_OP_SUB, RMC_OP_MUL, RMC_OP_DIV,
                                    RMC_OP_POW, RMC_OP_MIN, RMC_OP_MAX, RMC_OP_NEG,
                                    RMC_OP_EXP, RMC_OP_LOG, RMC_OP_LOG1P, RMC_OP_SQRT,
                                    RMC_OP_SQUARE, RMC_OP_LOGISTIC, RMC_OP_LGAMMA,
                                    RMC_OP_EXPM1, RMC_OP_LOG1P_EXP, RMC_OP_TANH, RMC_OP_ABS,
                                    RMC_OP_SUM, RMC_OP_DOT, RMC_OP_LOG_SUM_EXP,
                                    RMC_OP_LOG_MIX };
#define N_OPS ((int)(sizeof OP_CODES / sizeof OP_CODES[0]))

static int op_arity(int32_t op)
{
    if (op == RMC_OP_LOG_MIX)
        return 3;
    if ((op >= RMC_OP_ADD && op <= RMC_OP_MAX) || op == RMC_OP_DOT)
        return 2;
    return 1;
}

/* The loader's state: record index -> C node (RMC_NONE for records that stand for no
 * value: tilde, target, deterministic), the kind of each record, the open scan. */
struct loader {
    rmc_model *model;
    rmc_node *node;
    int8_t *kind;
    int32_t i;          /* the record being read */
    const char *op;     /* its kind as written   */
    int32_t scan_begin; /* record of the open scan_begin, or -1 */
    int32_t scan_nseq;
    int32_t scan_seq[2];  /* its sequences (record indexes) */
    rmc_node scan_rows[2];
};

/* A value in a message: JSON text, shortened. */
static void describe(const cJSON *v, char *buf, size_t cap)
{
    char *s = cJSON_PrintUnformatted(v);

    if (!s) {
        snprintf(buf, cap, "?");
        return;
    }
    if (strlen(s) > 40)
        snprintf(buf, cap, "%.37s...", s);
    else
        snprintf(buf, cap, "%s", s);
    cJSON_free(s);
}

static rmc_status bad(const struct loader *L, const char *fmt, ...) RMC_PRINTF(2, 3);

/* An error in the current record: "record 3 (tilde): ...". */
static rmc_status bad(const struct loader *L, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rmc_fail(RMC_ERR_ARGUMENT, "record %d (%s): %s", (int)L->i, L->op, msg);
}

static rmc_status bad_value(const struct loader *L, const char *key, const char *want,
                            const cJSON *v)
{
    char got[48];

    describe(v, got, sizeof got);
    return bad(L, "\"%s\" must be %s, got %s", key, want, got);
}

/* JSON numbers are doubles: an integer is a whole number that a double holds exactly. */
static int whole(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return 0;
    d = v->valuedouble;
    if (!(d == floor(d) && d >= (double)lo && d <= (double)hi))
        return 0;
    *out = (int64_t)d;
    return 1;
}

#define MAX_EXACT ((int64_t)1 << 53)

static rmc_status get_int(const struct loader *L, const cJSON *rec, const char *key,
                          int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

    if (!v)
        return bad(L, "missing \"%s\" (an integer)", key);
    if (!whole(v, -MAX_EXACT, MAX_EXACT, out))
        return bad_value(L, key, "an integer", v);
    return RMC_OK;
}

static rmc_status get_number(const struct loader *L, const cJSON *rec, const char *key,
                             double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

    if (!v)
        return bad(L, "missing \"%s\" (a number)", key);
    if (!cJSON_IsNumber(v))
        return bad_value(L, key, "a number", v);
    *out = v->valuedouble;
    return RMC_OK;
}

static rmc_status get_name(const struct loader *L, const cJSON *rec, const char *key,
                           const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

    if (!v)
        return bad(L, "missing \"%s\" (a non-empty string)", key);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad_value(L, key, "a non-empty string", v);
    *out = v->valuestring;
    return RMC_OK;
}

/* A string attribute that must be one of names[0..n); its position goes to *out. */
static rmc_status get_choice(const struct loader *L, const cJSON *rec, const char *key,
                             const char *const *names, int n, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    char list[512] = "one of ";

    if (v && cJSON_IsString(v)) {
        for (int k = 0; k < n; k++) {
            if (names[k] && strcmp(v->valuestring, names[k]) == 0) {
                *out = k;
                return RMC_OK;
            }
        }
    }
    for (int k = 0; k < n; k++) {
        if (names[k] && strlen(list) + strlen(names[k]) + 3 < sizeof list) {
            strcat(list, names[k]);
            strcat(list, k + 1 < n ? ", " : "");
        }
    }
    if (!v)
        return bad(L, "missing \"%s\" (%s)", key, list);
    return bad_value(L, key, list, v);
}

/* "shape": null (ndim -1: from the data) or a list of at most RMC_MAX_DIMS sizes, each an
 * integer >= 1, -1, or the name of an integer data scalar. */
static rmc_status get_shape(const struct loader *L, const cJSON *rec, int32_t *ndim,
                            int64_t *dims, const char **names, int *named)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "shape");
    static const char want[] = "null or a list of at most 2 sizes (integers >= 1, -1, or "
                               "names of integer data)";
    const cJSON *s;
    int32_t d = 0;

    *named = 0;
    if (!v)
        return bad(L, "missing \"shape\" (%s)", want);
    if (cJSON_IsNull(v)) {
        *ndim = -1;
        return RMC_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > RMC_MAX_DIMS)
        return bad_value(L, "shape", want, v);
    cJSON_ArrayForEach(s, v) {
        names[d] = NULL;
        dims[d] = 0;
        if (cJSON_IsString(s) && s->valuestring[0]) {
            names[d] = s->valuestring;
            *named = 1;
        } else if (!whole(s, -1, MAX_EXACT, &dims[d]) || dims[d] == 0) {
            return bad_value(L, "shape", want, v);
        }
        d++;
    }
    *ndim = d;
    return RMC_OK;
}

/* A record index given as an attribute (a bound): null, or an earlier record with a
 * value. */
static rmc_status get_bound(const struct loader *L, const cJSON *rec, const char *key,
                            int required, rmc_node *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    int64_t j;

    *out = RMC_NONE;
    if (!v) {
        if (required)
            return bad(L, "missing \"%s\" (null or an earlier record)", key);
        return RMC_OK;
    }
    if (cJSON_IsNull(v))
        return RMC_OK;
    if (!whole(v, 0, L->i - 1, &j))
        return bad_value(L, key, "null or an earlier record", v);
    if (L->node[j] == RMC_NONE)
        return bad(L, "\"%s\" is record %d (%s), which stands for no value", key, (int)j,
                   KINDS[L->kind[j]].name);
    *out = L->node[j];
    return RMC_OK;
}

/* "inputs": a list of earlier records with a value; their nodes go to in[], their record
 * indexes to idx[]. */
static rmc_status get_inputs(const struct loader *L, const cJSON *rec, int k, rmc_node *in,
                             int32_t *idx, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "inputs"), *e;
    int count;

    *n = 0;
    if (v && !cJSON_IsArray(v))
        return bad_value(L, "inputs", "a list of record indexes", v);
    count = v ? cJSON_GetArraySize(v) : 0;
    if (count < KINDS[k].min_in || count > KINDS[k].max_in) {
        if (KINDS[k].min_in == KINDS[k].max_in)
            return bad(L, "takes %d input(s), got %d", KINDS[k].min_in, count);
        return bad(L, "takes %d to %d inputs, got %d", KINDS[k].min_in, KINDS[k].max_in,
                   count);
    }
    if (!v)
        return RMC_OK;
    cJSON_ArrayForEach(e, v) {
        int64_t j;
        char got[48];

        if (!whole(e, -MAX_EXACT, MAX_EXACT, &j)) {
            describe(e, got, sizeof got);
            return bad(L, "input %d must be a record index, got %s", *n, got);
        }
        if (j < 0 || j >= L->i)
            return bad(L, "input %lld is not an earlier record", (long long)j);
        if (L->node[j] == RMC_NONE)
            return bad(L, "input %lld is record %lld (%s), which stands for no value",
                       (long long)j, (long long)j, KINDS[L->kind[j]].name);
        idx[*n] = (int32_t)j;
        in[(*n)++] = L->node[j];
    }
    return RMC_OK;
}

/* The builder's verdict on the record just replayed: its own message, the record named. */
static rmc_status builder_said(const struct loader *L, rmc_status st)
{
    char msg[768];

    if (st == RMC_OK)
        return RMC_OK;
    snprintf(msg, sizeof msg, "%s", rmc_last_error());
    return rmc_fail(st, "record %d (%s): the model does not build: %s", (int)L->i, L->op,
                    msg);
}

static rmc_status load_param(struct loader *L, const cJSON *rec, rmc_node *out)
{
    static const char *const transforms[] = { "none", "ordered", "positive_ordered",
                                              "simplex", "cholesky_corr" };
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(rec, "transform");
    const char *name, *names[RMC_MAX_DIMS] = { 0 };
    int64_t dims[RMC_MAX_DIMS] = { 0 };
    int32_t ndim;
    int named, transform = RMC_TRANSFORM_NONE;
    rmc_node lo, hi;
    rmc_status st;

    if ((st = get_name(L, rec, "name", &name)) || (st = get_shape(L, rec, &ndim, dims, names,
                                                                  &named)))
        return st;
    if (tv && !cJSON_IsNull(tv) &&
        (st = get_choice(L, rec, "transform", transforms, 5, &transform)))
        return st;
    /* Bounds are required (as null) unless a transform is named, as the Python checker
     * asks. */
    if ((st = get_bound(L, rec, "lower", !tv || cJSON_IsNull(tv), &lo)) ||
        (st = get_bound(L, rec, "upper", !tv || cJSON_IsNull(tv), &hi)))
        return st;
    if (transform != RMC_TRANSFORM_NONE) {
        if (lo != RMC_NONE || hi != RMC_NONE)
            return bad(L, "a %s parameter takes no bounds (\"lower\" and \"upper\" must be "
                       "null)", transforms[transform]);
        return builder_said(L, rmc_param_transform(L->model, name, ndim, dims,
                                                   named ? names : NULL, transform, out));
    }
    return builder_said(L, rmc_param(L->model, name, ndim, dims, named ? names : NULL, lo,
                                     hi, out));
}

static rmc_status load_data(struct loader *L, const cJSON *rec, rmc_node *out)
{
    static const char *const dtypes[] = { "real", "int" };
    const char *name, *names[RMC_MAX_DIMS] = { 0 };
    int64_t dims[RMC_MAX_DIMS] = { 0 };
    int32_t ndim;
    int named, dtype;
    rmc_status st;

    if ((st = get_name(L, rec, "name", &name)) ||
        (st = get_shape(L, rec, &ndim, dims, names, &named)) ||
        (st = get_choice(L, rec, "dtype", dtypes, 2, &dtype)))
        return st;
    return builder_said(L, rmc_data_field(L->model, name, dtype ? RMC_INT64 : RMC_REAL, ndim,
                                          dims, named ? names : NULL, out));
}

static rmc_status load_const_vector(struct loader *L, const cJSON *rec, rmc_node *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "values"), *e;
    double *values;
    int64_t n = 0;
    rmc_status st;

    if (!v)
        return bad(L, "missing \"values\" (a non-empty list of numbers)");
    if (!cJSON_IsArray(v) || !v->child)
        return bad_value(L, "values", "a non-empty list of numbers", v);
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e))
            return bad_value(L, "values", "a non-empty list of numbers", v);
        n++;
    }
    values = rmc_calloc((size_t)n, sizeof *values);
    if (!values)
        return rmc_fail(RMC_ERR_NOMEM, "record %d (%s): out of memory", (int)L->i, L->op);
    n = 0;
    cJSON_ArrayForEach(e, v)
        values[n++] = e->valuedouble;
    st = builder_said(L, rmc_const_vector(L->model, values, n, out));
    free(values);
    return st;
}

static rmc_status load_op(struct loader *L, const cJSON *rec, int k, const rmc_node *in,
                          rmc_node *out)
{
    const char *names[N_OPS];
    int which, want = k == K_OP1 ? 1 : k == K_OP2 ? 2 : 3;
    int32_t op;
    rmc_status st;

    for (int j = 0; j < N_OPS; j++)
        names[j] = model_op_name(OP_CODES[j]);
    if ((st = get_choice(L, rec, "fn", names, N_OPS, &which)))
        return st;
    op = OP_CODES[which];
    if (op_arity(op) != want)
        return bad(L, "fn \"%s\" takes %d input(s): its record kind is op%d", names[which],
                   op_arity(op), op_arity(op));
    if (want == 1)
        return builder_said(L, rmc_op1(L->model, op, in[0], out));
    if (want == 2)
        return builder_said(L, rmc_op2(L->model, op, in[0], in[1], out));
    return builder_said(L, rmc_op3(L->model, op, in[0], in[1], in[2], out));
}

static rmc_status load_density(struct loader *L, const cJSON *rec, int k, const rmc_node *in,
                               int n, rmc_node *out)
{
    const char *names[RMC_DIST_COUNT];
    const struct dist_info *info;
    int d;
    rmc_status st;

    for (int j = 0; j < RMC_DIST_COUNT; j++)
        names[j] = dist_info(j) ? dist_info(j)->name : NULL;
    if ((st = get_choice(L, rec, "dist", names, RMC_DIST_COUNT, &d)))
        return st;
    info = dist_info(d);
    if (n != 1 + info->nargs)
        return bad(L, "%s takes the value and %d argument(s): %d inputs, got %d", info->name,
                   (int)info->nargs, (int)info->nargs + 1, n);
    if (k == K_TILDE)
        return builder_said(L, rmc_tilde(L->model, d, in[0], n - 1, in + 1));
    return builder_said(L, rmc_lpdf(L->model, d, in[0], n - 1, in + 1, out));
}

static rmc_status load_scan(struct loader *L, const cJSON *rec, int k, const rmc_node *in,
                            const int32_t *idx, int n, rmc_node *out)
{
    rmc_status st;

    if (k == K_SCAN_BEGIN) {
        if (L->scan_begin >= 0)
            return bad(L, "scans cannot be nested (the scan of record %d is still open)",
                       (int)L->scan_begin);
        st = builder_said(L, rmc_scan_begin(L->model, in[0], n - 1, in + 1, out,
                                            L->scan_rows));
        if (st == RMC_OK) {
            L->scan_begin = L->i;
            L->scan_nseq = n - 1;
            for (int q = 0; q < n - 1; q++)
                L->scan_seq[q] = idx[q + 1];
        }
        return st;
    }
    if (idx[0] != L->scan_begin || L->scan_begin < 0)
        return bad(L, "input 0 must be the open scan_begin record%s", L->scan_begin < 0
                   ? " (there is none)" : "");
    if (k == K_SCAN_ROW) {
        int64_t q;

        if ((st = get_int(L, rec, "k", &q)))
            return st;
        if (q < 0 || q >= L->scan_nseq)
            return bad(L, "\"k\" must be a sequence of the scan (0 to %d), got %lld",
                       (int)L->scan_nseq - 1, (long long)q);
        if (idx[1] != L->scan_seq[q])
            return bad(L, "input 1 must be the scan's sequence %lld, record %d", (long long)q,
                       (int)L->scan_seq[q]);
        *out = L->scan_rows[q];
        return RMC_OK;
    }
    /* scan_end: the begin record, the next state, then the same sequences. */
    {
        const cJSON *sv = cJSON_GetObjectItemCaseSensitive(rec, "steps");
        const cJSON *nv = cJSON_GetObjectItemCaseSensitive(rec, "steps_name");
        int64_t steps = 0;

        if (n != 2 + L->scan_nseq)
            return bad(L, "takes the begin record, the next state and the scan's %d "
                       "sequence(s): %d inputs, got %d", (int)L->scan_nseq,
                       2 + (int)L->scan_nseq, n);
        for (int q = 0; q < L->scan_nseq; q++) {
            if (idx[2 + q] != L->scan_seq[q])
                return bad(L, "input %d must be the scan's sequence %d, record %d", 2 + q, q,
                           (int)L->scan_seq[q]);
        }
        if (sv && !cJSON_IsNull(sv) && !whole(sv, -MAX_EXACT, MAX_EXACT, &steps))
            return bad_value(L, "steps", "null or an integer", sv);
        if (nv && !cJSON_IsNull(nv) && !cJSON_IsString(nv))
            return bad_value(L, "steps_name", "null or a string", nv);
        L->scan_begin = -1;
        return builder_said(L, rmc_scan_end(L->model, in[1], steps,
                                            nv && cJSON_IsString(nv) ? nv->valuestring : NULL,
                                            out));
    }
}

/* One record: checks, then its builder call. */
static rmc_status load_record(struct loader *L, const cJSON *rec)
{
    const cJSON *opv;
    rmc_node in[4], out = RMC_NONE;
    int32_t idx[4];
    int k, n;
    int64_t a, b;
    double x;
    const char *name;
    rmc_status st;

    L->op = "?";
    opv = cJSON_IsObject(rec) ? cJSON_GetObjectItemCaseSensitive(rec, "op") : NULL;
    if (!cJSON_IsString(opv))
        return rmc_fail(RMC_ERR_ARGUMENT, "record %d must be an object with an \"op\"",
                        (int)L->i);
    L->op = opv->valuestring;
    for (k = 0; k < K_COUNT && strcmp(KINDS[k].name, L->op) != 0; k++)
        ;
    if (k == K_COUNT) {
        char known[512] = "";

        for (int j = 0; j < K_COUNT; j++) {
            strcat(known, KINDS[j].name);
            strcat(known, j + 1 < K_COUNT ? ", " : "");
        }
        L->op = "?";
        return rmc_fail(RMC_ERR_ARGUMENT, "record %d: unknown kind \"%.60s\"; known kinds: %s",
                        (int)L->i, opv->valuestring, known);
    }
    L->kind[L->i] = (int8_t)k;
    if ((st = get_inputs(L, rec, k, in, idx, &n)))
        return st;

    switch (k) {
    case K_PARAM:
        st = load_param(L, rec, &out);
        break;
    case K_DATA:
        st = load_data(L, rec, &out);
        break;
    case K_CONST:
        if (!(st = get_number(L, rec, "value", &x)))
            st = builder_said(L, rmc_const(L->model, x, &out));
        break;
    case K_CONST_VECTOR:
        st = load_const_vector(L, rec, &out);
        break;
    case K_OP1:
    case K_OP2:
    case K_OP3:
        st = load_op(L, rec, k, in, &out);
        break;
    case K_GATHER:
        if (!(st = get_int(L, rec, "base", &a)))
            st = a == 0 || a == 1 ? builder_said(L, rmc_gather(L->model, in[0], in[1],
                                                               (int32_t)a, &out))
                                  : bad(L, "\"base\" must be 0 or 1, got %lld", (long long)a);
        break;
    case K_SLICE:
        if (!(st = get_int(L, rec, "begin", &a)) && !(st = get_int(L, rec, "end", &b)))
            st = builder_said(L, rmc_slice(L->model, in[0], a, b, &out));
        break;
    case K_INDEX:
        if (!(st = get_int(L, rec, "i", &a)))
            st = builder_said(L, rmc_index(L->model, in[0], a, &out));
        break;
    case K_ROW:
        if (!(st = get_int(L, rec, "i", &a)))
            st = builder_said(L, rmc_row(L->model, in[0], a, &out));
        break;
    case K_COL:
        if (!(st = get_int(L, rec, "j", &a)))
            st = builder_said(L, rmc_col(L->model, in[0], a, &out));
        break;
    case K_DROP:
        if (!(st = get_int(L, rec, "first", &a)) && !(st = get_int(L, rec, "last", &b)))
            st = builder_said(L, rmc_drop(L->model, in[0], a, b, &out));
        break;
    case K_MATVEC:
        st = builder_said(L, rmc_matvec(L->model, in[0], in[1], &out));
        break;
    case K_VECMAT:
        st = builder_said(L, rmc_vecmat(L->model, in[0], in[1], &out));
        break;
    case K_MATMUL:
        st = builder_said(L, rmc_matmul(L->model, in[0], in[1], &out));
        break;
    case K_TRANSPOSE:
        st = builder_said(L, rmc_transpose(L->model, in[0], &out));
        break;
    case K_CONCAT:
        st = builder_said(L, rmc_concat(L->model, in[0], in[1], &out));
        break;
    case K_DIAG_PRE:
        st = builder_said(L, rmc_diag_pre_multiply(L->model, in[0], in[1], &out));
        break;
    case K_CHOLESKY:
        st = builder_said(L, rmc_cholesky(L->model, in[0], &out));
        break;
    case K_TRI_SOLVE:
        st = builder_said(L, rmc_tri_solve(L->model, in[0], in[1], &out));
        break;
    case K_COV_EXP_QUAD:
        if (!(st = get_number(L, rec, "delta", &x)))
            st = builder_said(L, rmc_cov_exp_quad(L->model, in[0], in[1], in[2], x, &out));
        break;
    case K_TILDE:
    case K_LPDF:
        st = load_density(L, rec, k, in, n, &out);
        break;
    case K_TARGET:
        st = builder_said(L, rmc_target(L->model, in[0]));
        break;
    case K_DETERMINISTIC:
        if (!(st = get_name(L, rec, "name", &name)))
            st = builder_said(L, rmc_deterministic(L->model, name, in[0]));
        break;
    default:
        st = load_scan(L, rec, k, in, idx, n, &out);
        break;
    }
    /* tilde, target and deterministic stand for no value: later inputs may not name them. */
    L->node[L->i] = k == K_TILDE || k == K_TARGET || k == K_DETERMINISTIC ? RMC_NONE : out;
    return st;
}

/* line:column of a byte offset, for JSON syntax errors. */
static void position(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t k = 0; k < off; k++) {
        if (text[k] == '\n')
            ++*line, *col = 1;
        else
            ++*col;
    }
}

static rmc_status load_doc(const cJSON *doc, rmc_model **out)
{
    const cJSON *format, *version, *records, *rec;
    struct loader L = { .scan_begin = -1 };
    int64_t ver;
    int n;
    rmc_status st;

    format = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "format") : NULL;
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "rmc-model") != 0)
        return rmc_fail(RMC_ERR_ARGUMENT,
                        "not an rmc model file (no \"format\": \"rmc-model\")");
    version = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if (!whole(version, 1, FORMAT_VERSION, &ver)) {
        char got[48] = "none";

        if (version)
            describe(version, got, sizeof got);
        return rmc_fail(RMC_ERR_ARGUMENT, "model file version %s is not supported (this rmc "
                        "reads versions 1 and %d)", got, FORMAT_VERSION);
    }
    records = cJSON_GetObjectItemCaseSensitive(doc, "records");
    if (!cJSON_IsArray(records) || !records->child)
        return rmc_fail(RMC_ERR_ARGUMENT, "\"records\" must be a non-empty list");
    n = cJSON_GetArraySize(records);
    if (ver == 1) {
        /* Version 1 recorded an index as a gather by a fixed index vector (an "index"
         * record with inputs of another meaning); version 2 reuses the kind. */
        cJSON_ArrayForEach(rec, records) {
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(rec, "op");

            if (cJSON_IsString(op) && strcmp(op->valuestring, "index") == 0)
                return rmc_fail(RMC_ERR_ARGUMENT, "this version 1 model file indexes with "
                                "fixed index vectors, which rmc no longer records; build the "
                                "model again");
        }
    }

    if ((st = rmc_model_create(&L.model)) != RMC_OK)
        return st;
    L.node = rmc_calloc((size_t)n, sizeof *L.node);
    L.kind = rmc_calloc((size_t)n, sizeof *L.kind);
    if (!L.node || !L.kind) {
        st = rmc_fail(RMC_ERR_NOMEM, "rmc_model_load_json: out of memory for %d records", n);
        goto done;
    }
    L.i = 0;
    cJSON_ArrayForEach(rec, records) {
        if ((st = load_record(&L, rec)) != RMC_OK)
            goto done;
        L.i++;
    }
    if (L.scan_begin >= 0)
        st = rmc_fail(RMC_ERR_ARGUMENT, "the file ends inside a scan: the scan_begin of "
                      "record %d has no scan_end", (int)L.scan_begin);
done:
    free(L.node);
    free(L.kind);
    if (st != RMC_OK) {
        rmc_model_free(L.model);
        return st;
    }
    *out = L.model;
    return RMC_OK;
}

rmc_status rmc_model_load_json(const char *text, size_t len, rmc_model **out)
{
    const char *end = NULL;
    char *copy;
    cJSON *doc;
    rmc_status st;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_load_json: out is NULL");
    *out = NULL;
    if (!text)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_load_json: text is NULL");
    /* cJSON before 1.7.18 may read a byte past the length it is given (CVE-2023-53154,
     * an unterminated string), so it always parses a NUL-terminated copy. */
    copy = len < SIZE_MAX / 2 ? malloc(len + 1) : NULL;
    if (!copy)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_model_load_json: out of memory for %zu bytes",
                        len);
    memcpy(copy, text, len);
    copy[len] = 0;
    text = copy;
    doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (doc && end) {
        /* Text after the value: whitespace only, or the file is not one JSON value. */
        while ((size_t)(end - text) < len && (*end == ' ' || *end == '\t' || *end == '\n' ||
                                              *end == '\r'))
            end++;
        if ((size_t)(end - text) < len) {
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    if (!doc) {
        int line, col;
        size_t off = end && end >= text && (size_t)(end - text) <= len ? (size_t)(end - text)
                                                                      : 0;

        position(text, off, &line, &col);
        free(copy);
        return rmc_fail(RMC_ERR_ARGUMENT, "not valid JSON (line %d, column %d)", line, col);
    }
    free(copy);
    st = load_doc(doc, out);
    cJSON_Delete(doc);
    return st;
}

/* The whole file, NUL-terminated; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *grown;
    size_t cap = 0, n = 0, got;

    if (!f)
        return NULL;
    do {
        if (n + 65536 + 1 > cap) {
            cap = cap ? 2 * cap : 65536 + 1;
            grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, 65536, f);
        n += got;
    } while (got == 65536);
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

rmc_status rmc_model_load_file(const char *path, rmc_model **out)
{
    char msg[1024], *text;
    size_t len = 0;
    rmc_status st;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_model_load_file: path is NULL");
    text = read_file(path, &len);
    if (!text)
        return rmc_fail(errno == ENOMEM ? RMC_ERR_NOMEM : RMC_ERR_ARGUMENT,
                        "%s: cannot read: %s", path, strerror(errno));
    st = rmc_model_load_json(text, len, out);
    free(text);
    if (st != RMC_OK) {
        /* The file's name goes in front of the loader's message, as Python's does. */
        snprintf(msg, sizeof msg, "%s", rmc_last_error());
        return rmc_fail(st, "%s: %s", path, msg);
    }
    return RMC_OK;
}

#endif /* RMC_HAVE_CJSON */
