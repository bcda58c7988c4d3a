/* vk_lower.c - lowering a bound program to a GLSL compute shader.
 *
 * The shader is the CPU evaluator (eval.c) transcribed: a forward sweep over the dynamic
 * instructions, then a reverse sweep, for one chain per TPC threads. Values and adjoints
 * of the dynamic instructions live in a per-chain workspace in a device buffer; the chain's
 * threads split each instruction's elements and meet at a barrier between instructions.
 *
 * Statements are fused: an elementwise operation whose only use is a distribution statement
 * (or target, or another such operation) of the same length is computed inside the
 * statement's loop. Its value and adjoint for element i stay in registers of the thread
 * that owns i, so a likelihood over N observations writes no N-long intermediates at all;
 * partials flow back to the statement's leaves right there (scalars are summed over the
 * chain's threads once, after the loop), as the CPU's fused distributions do.
 *
 * Everything the shader needs to know about ops and distributions comes from the tables
 * below, keyed by op, distribution and node kind. A missing entry refuses the model with
 * "not supported on the Vulkan backend yet: <what>", so new ops can never run wrongly here:
 * the automatic backend then falls back to the CPU.
 *
 * Scans are a loop over their step's instructions, lowered like the main program, with a
 * tape of the step's values in the workspace. Linear algebra, correlation factors and
 * distributions over rows call fixed functions (shaders/linalg.glsl, transforms.glsl,
 * rowdists.glsl) on the chain's first thread: they are sequential loops over small
 * matrices, transcribed from linalg.c, transform.c and dist.c.
 *
 * Data values are never baked into the source: they go to the data buffer, so the source,
 * and the SPIR-V cached for it, depend only on the model's structure and sizes. */
#include "vk.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "linalg.h"
#include "mathfn.h"
#include "model.h"
#include "program.h"
#include "transform.h"
#include "util.h"

/* ------------------------------------------------------------------ tables */

/* An op's GLSL: f_NAME and d_NAME in shaders/ops.glsl, or a reduction written here. */
struct op_rule {
    int32_t op;
    const char *name;
    int32_t arity;
    int32_t reduce;
};

static const struct op_rule op_rules[] = {
    { RMC_OP_ADD, "add", 2, 0 },
    { RMC_OP_SUB, "sub", 2, 0 },
    { RMC_OP_MUL, "mul", 2, 0 },
    { RMC_OP_DIV, "div", 2, 0 },
    { RMC_OP_POW, "pow", 2, 0 },
    { RMC_OP_MIN, "min", 2, 0 },
    { RMC_OP_MAX, "max", 2, 0 },
    { RMC_OP_NEG, "neg", 1, 0 },
    { RMC_OP_EXP, "exp", 1, 0 },
    { RMC_OP_LOG, "log", 1, 0 },
    { RMC_OP_LOG1P, "log1p", 1, 0 },
    { RMC_OP_SQRT, "sqrt", 1, 0 },
    { RMC_OP_SQUARE, "square", 1, 0 },
    { RMC_OP_LOGISTIC, "logistic", 1, 0 },
    { RMC_OP_LGAMMA, "lgamma", 1, 0 },
    { RMC_OP_EXPM1, "expm1", 1, 0 },
    { RMC_OP_LOG1P_EXP, "log1p_exp", 1, 0 },
    { RMC_OP_TANH, "tanh", 1, 0 },
    { RMC_OP_ABS, "abs", 1, 0 },
    { RMC_OP_SUM, "sum", 1, 1 },
    { RMC_OP_DOT, "dot", 2, 1 },
    { RMC_OP_LOG_SUM_EXP, "log_sum_exp", 1, 1 },
    { RMC_OP_LOG_MIX, "log_mix", 3, 0 },
};

/* A distribution's GLSL: a function of shaders/dists.glsl (value and partials). Only
 * elementwise distributions can have one: a multivariate one (with a shape hook) needs its
 * own lowering. */
enum count_term {
    TERM_NONE,   /* no data-only factor                                   */
    TERM_CHOOSE, /* log C(n, y): operand 1 is the number of trials         */
    TERM_FACT,   /* -log y!                                               */
};

struct dist_rule {
    int32_t dist;
    const char *fn;
    int32_t term; /* enum count_term: a factor made at bind time, passed as v3 */
};

static const struct dist_rule dist_rules[] = {
    { RMC_DIST_NORMAL, "dist_normal", TERM_NONE },
    { RMC_DIST_HALF_NORMAL, "dist_half_normal", TERM_NONE },
    { RMC_DIST_CAUCHY, "dist_cauchy", TERM_NONE },
    { RMC_DIST_HALF_CAUCHY, "dist_half_cauchy", TERM_NONE },
    { RMC_DIST_STUDENT_T, "dist_student_t", TERM_NONE },
    { RMC_DIST_UNIFORM, "dist_uniform", TERM_NONE },
    { RMC_DIST_EXPONENTIAL, "dist_exponential", TERM_NONE },
    { RMC_DIST_BERNOULLI, "dist_bernoulli", TERM_NONE },
    { RMC_DIST_BERNOULLI_LOGIT, "dist_bernoulli_logit", TERM_NONE },
    { RMC_DIST_GAMMA, "dist_gamma", TERM_NONE },
    { RMC_DIST_INV_GAMMA, "dist_inv_gamma", TERM_NONE },
    { RMC_DIST_LOGNORMAL, "dist_lognormal", TERM_NONE },
    { RMC_DIST_BETA, "dist_beta", TERM_NONE },
    { RMC_DIST_LAPLACE, "dist_laplace", TERM_NONE },
    { RMC_DIST_LOGISTIC, "dist_logistic", TERM_NONE },
    { RMC_DIST_WEIBULL, "dist_weibull", TERM_NONE },
    { RMC_DIST_HALF_STUDENT_T, "dist_half_student_t", TERM_NONE },
    { RMC_DIST_BINOMIAL, "dist_binomial", TERM_CHOOSE },
    { RMC_DIST_BINOMIAL_LOGIT, "dist_binomial_logit", TERM_CHOOSE },
    { RMC_DIST_POISSON, "dist_poisson", TERM_FACT },
    { RMC_DIST_POISSON_LOG, "dist_poisson_log", TERM_FACT },
    { RMC_DIST_NEG_BINOMIAL_2, "dist_neg_binomial_2", TERM_FACT },
    { RMC_DIST_NEG_BINOMIAL_2_LOG, "dist_neg_binomial_2_log", TERM_FACT },
};

/* Distributions over rows (a vector per element, or a matrix): a function of
 * shaders/rowdists.glsl, run for the whole statement by the chain's first thread. */
static const struct dist_rule row_rules[] = {
    { RMC_DIST_CATEGORICAL_LOGIT, "mv_categorical_logit", TERM_NONE },
    { RMC_DIST_MULTI_NORMAL_CHOLESKY, "mv_multi_normal_cholesky", TERM_NONE },
    { RMC_DIST_DIRICHLET, "mv_dirichlet", TERM_NONE },
    { RMC_DIST_LKJ_CORR_CHOLESKY, "mv_lkj_corr_cholesky", TERM_NONE },
};

static const char *find_row_dist(int32_t dist)
{
    for (size_t k = 0; k < sizeof row_rules / sizeof row_rules[0]; k++) {
        if (row_rules[k].dist == dist)
            return row_rules[k].fn;
    }
    return NULL;
}

/* Whether instruction id is a statement or an expression over rows. */
static int over_rows(const rmc_program *p, int32_t id)
{
    return (p->inst[id].kind == NODE_TILDE || p->inst[id].kind == NODE_LPDF) &&
           find_row_dist(p->inst[id].op) != NULL;
}

static const struct op_rule *find_op(int32_t op)
{
    for (size_t k = 0; k < sizeof op_rules / sizeof op_rules[0]; k++) {
        if (op_rules[k].op == op)
            return &op_rules[k];
    }
    return NULL;
}

static const struct dist_rule *find_dist_rule(int32_t dist)
{
    const struct dist_info *info = dist_info(dist);

    if (!info || info->check_shapes)
        return NULL;
    for (size_t k = 0; k < sizeof dist_rules / sizeof dist_rules[0]; k++) {
        if (dist_rules[k].dist == dist)
            return &dist_rules[k];
    }
    return NULL;
}

static const char *find_dist(int32_t dist)
{
    const struct dist_rule *r = find_dist_rule(dist);

    return r ? r->fn : NULL;
}

/* ------------------------------------------------------------------ generator state */

/* A growing text; on allocation failure it stops growing and `failed` is set. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

struct gen {
    const rmc_program *p;
    int f64;
    struct text src;   /* model_forward and model_backward                      */
    struct text body;  /* the loop body being assembled                          */
    struct text pre;   /* code before the loop, inside its scope                    */
    struct text post;  /* code after the loop's reductions, inside its scope        */
    struct text *cur;  /* where out() writes                                     */
    double *dat;
    int64_t n_dat, cap_dat;
    int32_t *idx;
    int64_t n_idx, cap_idx;
    int64_t *off;      /* per instruction: its values (and adjoints) in the workspace */
    int64_t ws;        /* workspace reals per chain, for values (as many adjoints)    */
    int64_t *doff;     /* per instruction: its values in dat, -1 until uploaded  */
    int64_t *blk;      /* per instruction: its own block (bounds, aux, index)   */
    int64_t *xws;      /* per instruction: workspace beyond its values (a scan's tape,
                          a factorisation's scratch), -1 for none                 */
    int64_t *span;     /* scan: reals of one step (state, rows, step instructions) */
    int32_t *uses;     /* per instruction: uses by dynamic instructions          */
    int32_t *root;     /* fused member: the statement that computes it, else -1 */
    int32_t region;    /* statement whose loop is being emitted, else -1         */
    int32_t *accs;     /* scalar operands summed over the loop (one per id)      */
    int32_t n_accs;
    int32_t *held;     /* scalar operands read once before the loop              */
    int32_t n_held;
    int64_t loop_n;    /* elements of the loop being written, 0 outside one      */
    int32_t fused;
    rmc_status st;
};

static void text_add(struct text *t, const char *fmt, va_list ap)
{
    va_list again;
    int need;

    va_copy(again, ap);
    need = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (t->failed || need < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)need + 1) + 4096;
        char *grown = realloc(t->s, cap);

        if (!grown) {
            t->failed = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    t->len += (size_t)need;
}

static void out(struct gen *g, const char *fmt, ...) RMC_PRINTF(2, 3);

static void out(struct gen *g, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    text_add(g->cur, fmt, ap);
    va_end(ap);
}

static void append(struct text *t, const char *s)
{
    if (t->failed)
        return;
    if (t->len + strlen(s) + 1 > t->cap) {
        size_t cap = 2 * (t->len + strlen(s) + 1) + 4096;
        char *grown = realloc(t->s, cap);

        if (!grown) {
            t->failed = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, strlen(s) + 1);
    t->len += strlen(s);
}

/* Refuse the model: the first reason sticks. */
static void unsupported(struct gen *g, const char *fmt, ...) RMC_PRINTF(2, 3);

static void unsupported(struct gen *g, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    if (g->st != RMC_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    g->st = rmc_fail(RMC_ERR_BACKEND, "not supported on the Vulkan backend yet: %s", what);
}

static int64_t push_reals(struct gen *g, const double *v, int64_t n)
{
    int64_t at = g->n_dat;

    if (g->n_dat + n > g->cap_dat) {
        int64_t cap = 2 * (g->n_dat + n) + 64;
        double *grown = realloc(g->dat, (size_t)cap * sizeof *grown);

        if (!grown) {
            g->st = g->st ? g->st : rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory lowering");
            return 0;
        }
        g->dat = grown;
        g->cap_dat = cap;
    }
    for (int64_t k = 0; k < n; k++)
        g->dat[g->n_dat + k] = v ? v[k] : 0.0;
    g->n_dat += n;
    return at;
}

static int64_t push_ints(struct gen *g, const int32_t *v, int64_t n)
{
    int64_t at = g->n_idx;

    if (g->n_idx + n > g->cap_idx) {
        int64_t cap = 2 * (g->n_idx + n) + 64;
        int32_t *grown = realloc(g->idx, (size_t)cap * sizeof *grown);

        if (!grown) {
            g->st = g->st ? g->st : rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory lowering");
            return 0;
        }
        g->idx = grown;
        g->cap_idx = cap;
    }
    for (int64_t k = 0; k < n; k++)
        g->idx[g->n_idx + k] = v ? v[k] : 0;
    g->n_idx += n;
    return at;
}

/* ------------------------------------------------------------------ operands */

static const struct inst *I(const struct gen *g, int32_t id)
{
    return &g->p->inst[id];
}

/* A few words on instruction id, for comments in the source and messages. */
static const char *what(const struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    switch (in->kind) {
    case NODE_PARAM:
        for (int32_t v = 0; v < g->p->n_vars; v++) {
            if (g->p->vars[v].inst == id)
                return g->p->vars[v].name;
        }
        return "parameter";
    case NODE_GATHER: return "gather";
    case NODE_CONCAT: return "concat";
    case NODE_SLICE: return "slice";
    case NODE_MATVEC: return "matvec";
    case NODE_LINALG: return la_name(in->op) ? la_name(in->op) : "linear algebra";
    case NODE_SCAN: return "scan";
    case NODE_SCAN_STATE: return "scan state";
    case NODE_SCAN_INPUT: return "scan row";
    case NODE_OP1:
    case NODE_OP2:
    case NODE_OP3: return model_op_name(in->op);
    default: return in->label ? in->label : "statement";
    }
}

/* Where data-only instruction id's values are in the data buffer (uploaded on first use). */
static int64_t data_of(struct gen *g, int32_t id)
{
    if (g->doff[id] < 0)
        g->doff[id] = push_reals(g, I(g, id)->cval, I(g, id)->n);
    return g->doff[id];
}

/* GLSL for element `at` of instruction id: a register inside a fused statement, else the
 * workspace or the data buffer. A one-element operand is always element 0 (broadcast). */
static const char *elem(struct gen *g, int32_t id, const char *at, char *buf, size_t cap)
{
    const struct inst *in = I(g, id);

    if (g->region >= 0 && g->root[id] == g->region) {
        snprintf(buf, cap, "r%d", (int)id);
        return buf;
    }
    /* A scalar inside a longer loop is read once, into a register, before the loop:
     * the compiler may not hoist the load itself from a coherent buffer. */
    if (in->n == 1 && g->loop_n > 1 && !strcmp(at, "i")) {
        int32_t k = 0;

        while (k < g->n_held && g->held[k] != id)
            k++;
        if (k == g->n_held)
            g->held[g->n_held++] = id;
        snprintf(buf, cap, "c%d", (int)id);
        return buf;
    }
    if (in->n == 1)
        at = "0u";
    if (in->dynamic)
        snprintf(buf, cap, "V(%lldu + %s)", (long long)g->off[id], at);
    else
        snprintf(buf, cap, "D(%lldu + %s)", (long long)data_of(g, id), at);
    return buf;
}

static const char *ref(struct gen *g, int32_t id, char *buf, size_t cap)
{
    return elem(g, id, "i", buf, cap);
}

/* Add expr, a partial times the adjoint flowing in, to the adjoint of operand id at element
 * i of a loop over n elements. A fused member receives its (only) adjoint in a register; a
 * scalar broadcast over a longer loop is summed in an accumulator first (see open_loop). */
static void deliver(struct gen *g, int32_t id, int64_t n, const char *expr)
{
    const struct inst *in = I(g, id);

    if (!in->dynamic)
        return;
    if (g->region >= 0 && g->root[id] == g->region) {
        out(g, "        real a%d = %s;\n", (int)id, expr);
        return;
    }
    if (in->n > 1 || n == 1) {
        out(g, "        A(%lldu + %s) += %s;\n", (long long)g->off[id], in->n > 1 ? "i" : "0u",
            expr);
        return;
    }
    for (int32_t k = 0; k < g->n_accs; k++) {
        if (g->accs[k] == id) {
            out(g, "        s%d += %s;\n", (int)id, expr);
            return;
        }
    }
    g->accs[g->n_accs++] = id;
    out(g, "        s%d += %s;\n", (int)id, expr);
}

/* Loops: the body is written to g->body, then wrapped with the accumulators it used. */
static void clear(struct text *t)
{
    t->len = 0;
    if (t->s)
        t->s[0] = '\0';
}

static void open_loop(struct gen *g, int64_t n)
{
    clear(&g->body);
    clear(&g->pre);
    clear(&g->post);
    g->n_accs = 0;
    g->n_held = 0;
    g->loop_n = n;
    g->cur = &g->body;
}

static void close_loop(struct gen *g, int64_t n, const char *var)
{
    g->cur = &g->src;
    g->loop_n = 0;
    out(g, "    {\n");
    for (int32_t k = 0; k < g->n_accs; k++)
        out(g, "        real s%d = 0.0LF;\n", (int)g->accs[k]);
    for (int32_t k = 0; k < g->n_held; k++) {
        char v[96];

        out(g, "        real c%d = %s;\n", (int)g->held[k], elem(g, g->held[k], "0u", v,
                                                                sizeof v));
    }
    append(&g->src, g->pre.s ? g->pre.s : "");
    out(g, "        for (uint %s = start; %s < %lldu; %s += TPC) {\n", var, var, (long long)n, var);
    append(&g->src, g->body.s ? g->body.s : "");
    out(g, "        }\n");
    for (int32_t k = 0; k < g->n_accs; k++) {
        int32_t id = g->accs[k];

        out(g, "        s%d = chain_sum(s%d);\n", (int)id, (int)id);
        out(g, "        if (lane == 0u)\n            A(%lldu) += s%d;\n",
            (long long)g->off[id], (int)id);
    }
    append(&g->src, g->post.s ? g->post.s : "");
    out(g, "    }\n    SYNC();\n");
}

/* ------------------------------------------------------------------ elementwise pieces */

/* Whether instruction id is elementwise with a lowering (so it can be fused). */
static int elementwise(const struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const struct op_rule *r;

    switch (in->kind) {
    case NODE_OP1:
    case NODE_OP2:
    case NODE_OP3:
        r = find_op(in->op);
        return r && !r->reduce;
    case NODE_LPDF:
        return find_dist(in->op) != NULL;
    default:
        return 0;
    }
}

/* A normal statement over a vector with one scale: as the CPU's fast path, 1 / sigma and
 * the log terms are computed once per chain, not per element (a log per observation costs
 * more than the rest of the likelihood). */
static int hoisted_sigma(const struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    return in->kind == NODE_TILDE && in->op == RMC_DIST_NORMAL && !(in->aux &&
           !I(g, in->in[2])->dynamic && I(g, in->in[2])->n > 1) &&
           I(g, in->in[2])->n == 1 && I(g, in->in[0])->n > 1 && g->root[in->in[2]] != id;
}

/* The dist call of statement or expression id: `real l = fn(v0..v3, g0..g3)`, with the
 * partial registers named p<id>_k. */
static void dist_call(struct gen *g, int32_t id, const char *result)
{
    const struct inst *in = I(g, id);
    char v[4][96];
    int aux = in->kind == NODE_TILDE && in->op == RMC_DIST_NORMAL && in->aux &&
              !I(g, in->in[2])->dynamic && I(g, in->in[2])->n > 1;

    for (int k = 0; k < 4; k++) {
        if (k < in->nin)
            ref(g, in->in[k], v[k], sizeof v[k]);
        else
            snprintf(v[k], sizeof v[k], "0.0LF");
    }
    if (aux) /* 1 / sigma, precomputed at bind time, in place of sigma */
        snprintf(v[2], sizeof v[2], "D(%lldu + i)", (long long)g->blk[id]);
    if (find_dist_rule(in->op)->term != TERM_NONE) /* the count's data-only factor */
        snprintf(v[3], sizeof v[3], "D(%lldu + i)", (long long)g->blk[id]);
    if (hoisted_sigma(g, id)) /* 1 / sigma, once before the loop */
        snprintf(v[2], sizeof v[2], "hi%d", (int)id);
    aux |= hoisted_sigma(g, id);
    out(g, "        real p%d_0, p%d_1, p%d_2, p%d_3;\n", (int)id, (int)id, (int)id, (int)id);
    out(g, "        real %s = %s(%s, %s, %s, %s, p%d_0, p%d_1, p%d_2, p%d_3);\n", result,
        aux ? "dist_normal_inv" : find_dist(in->op), v[0], v[1], v[2], v[3], (int)id, (int)id,
        (int)id, (int)id);
}

/* `real r<id> = value of element i` for an elementwise instruction. */
static void value(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    char a[96], b[96], c[96], name[16];

    if (in->kind == NODE_LPDF) {
        snprintf(name, sizeof name, "r%d", (int)id);
        dist_call(g, id, name);
        return;
    }
    ref(g, in->in[0], a, sizeof a);
    if (in->kind == NODE_OP1) {
        out(g, "        real r%d = f_%s(%s);\n", (int)id, find_op(in->op)->name, a);
        return;
    }
    ref(g, in->in[1], b, sizeof b);
    if (in->kind == NODE_OP2) {
        out(g, "        real r%d = f_%s(%s, %s);\n", (int)id, find_op(in->op)->name, a, b);
        return;
    }
    ref(g, in->in[2], c, sizeof c);
    out(g, "        real r%d = f_%s(%s, %s, %s);\n", (int)id, find_op(in->op)->name, a, b, c);
}

/* Pass the adjoint a<id> of element i of elementwise instruction id (value in r<id>; for
 * an lpdf expression, partials in p<id>_k) to its operands. */
static void partials(struct gen *g, int32_t id, int64_t n)
{
    const struct inst *in = I(g, id);
    const char *name = in->kind == NODE_LPDF ? NULL : find_op(in->op)->name;
    char a[96], b[96], c[96], e[160];

    if (in->kind == NODE_LPDF) {
        /* Elements outside the support (-inf) pass nothing back. */
        for (int32_t k = 0; k < in->nin; k++) {
            snprintf(e, sizeof e, "(r%d > NEG_INF ? a%d * p%d_%d : 0.0LF)", (int)id, (int)id,
                     (int)id, (int)k);
            deliver(g, in->in[k], n, e);
        }
        return;
    }
    ref(g, in->in[0], a, sizeof a);
    if (in->kind == NODE_OP1) {
        snprintf(e, sizeof e, "a%d * d_%s(%s, r%d)", (int)id, name, a, (int)id);
        deliver(g, in->in[0], n, e);
        return;
    }
    ref(g, in->in[1], b, sizeof b);
    if (in->kind == NODE_OP2) {
        out(g, "        real q%d_0, q%d_1;\n", (int)id, (int)id);
        out(g, "        d_%s(%s, %s, r%d, q%d_0, q%d_1);\n", name, a, b, (int)id, (int)id,
            (int)id);
    } else {
        ref(g, in->in[2], c, sizeof c);
        out(g, "        real q%d_0, q%d_1, q%d_2;\n", (int)id, (int)id, (int)id);
        out(g, "        d_%s(%s, %s, %s, r%d, q%d_0, q%d_1, q%d_2);\n", name, a, b, c, (int)id,
            (int)id, (int)id, (int)id);
    }
    for (int32_t k = 0; k < in->nin; k++) {
        snprintf(e, sizeof e, "a%d * q%d_%d", (int)id, (int)id, (int)k);
        deliver(g, in->in[k], n, e);
    }
}

/* ------------------------------------------------------------------ forward sweep */

/* Ordered, positive-ordered, simplex and correlation-factor parameters are sequential maps
 * (each element builds on the one before): the chain's first thread runs them as
 * transform.c does (the correlation factor through shaders/transforms.glsl). */
static void forward_shape(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const long long off = (long long)g->off[id], x = (long long)in->xoff, n = (long long)in->n;

    if (in->transform == RMC_TRANSFORM_CHOLESKY_CORR) {
        out(g, "    if (start == 0u)\n        lp_acc += tf_corr_forward(%lldu, %lldu, %lldu, "
            "%lldu);\n    SYNC();\n", (long long)in->dims[0], x, off, (long long)g->xws[id]);
        return;
    }
    out(g, "    if (start == 0u) {\n");
    if (in->transform == RMC_TRANSFORM_SIMPLEX) {
        /* stick-breaking; z and 1 - z each without cancellation */
        out(g, "        real s = 1.0LF;\n");
        out(g, "        for (uint k = 0u; k + 1u < %lldu; k++) {\n", n);
        out(g, "            real t = X(%lldu + k) - rmc_log(real(%lldu - 1u - k));\n", x, n);
        out(g, "            real e = rmc_exp(-abs(t)), big = 1.0LF / (1.0LF + e);\n");
        out(g, "            real small = e / (1.0LF + e);\n");
        out(g, "            real z = t >= 0.0LF ? big : small, zc = t >= 0.0LF ? small : big;\n");
        out(g, "            V(%lldu + k) = s * z;\n", off);
        out(g, "            s *= zc;\n");
        out(g, "            lp_acc -= rmc_log1p_exp(-t) + real(%lldu - 1u - k) * "
            "rmc_log1p_exp(t);\n", n);
        out(g, "        }\n");
        out(g, "        V(%lldu + %lldu - 1u) = s;\n", off, n);
    } else {
        int positive = in->transform == RMC_TRANSFORM_POSITIVE_ORDERED;

        out(g, positive ? "        real v = rmc_exp(X(%lldu));\n" : "        real v = X(%lldu);\n",
            x);
        out(g, "        V(%lldu) = v;\n", off);
        if (positive)
            out(g, "        lp_acc += X(%lldu);\n", x);
        out(g, "        for (uint k = 1u; k < %lldu; k++) {\n", n);
        out(g, "            v += rmc_exp(X(%lldu + k));\n", x);
        out(g, "            V(%lldu + k) = v;\n", off);
        out(g, "            lp_acc += X(%lldu + k);\n", x);
        out(g, "        }\n");
    }
    out(g, "    }\n    SYNC();\n");
}

static void backward_shape(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const long long off = (long long)g->off[id], x = (long long)in->xoff, n = (long long)in->n;

    if (in->transform == RMC_TRANSFORM_CHOLESKY_CORR) {
        out(g, "    if (start == 0u)\n        tf_corr_back(%lldu, %lldu, %lldu, %lldu);\n"
            "    SYNC();\n", (long long)in->dims[0], x, off, (long long)g->xws[id]);
        return;
    }
    out(g, "    if (start == 0u) {\n");
    if (in->transform == RMC_TRANSFORM_SIMPLEX) {
        /* from the last step back, gs the adjoint of the stick left after step k */
        out(g, "        real gs = A(%lldu + %lldu - 1u);\n", off, n);
        out(g, "        for (int k = %lld - 2; k >= 0; k--) {\n", n);
        out(g, "            real t = X(%lldu + uint(k)) - rmc_log(real(%lld - 1 - k));\n", x, n);
        out(g, "            real e = rmc_exp(-abs(t)), big = 1.0LF / (1.0LF + e);\n");
        out(g, "            real small = e / (1.0LF + e);\n");
        out(g, "            real z = t >= 0.0LF ? big : small, zc = t >= 0.0LF ? small : big;\n");
        out(g, "            real gv = A(%lldu + uint(k));\n", off);
        out(g, "            if (live)\n");
        out(g, "                G(%lldu + uint(k)) = (gv - gs) * V(%lldu + uint(k)) * zc + zc - "
            "real(%lld - 1 - k) * z;\n", x, off, n);
        out(g, "            gs = gv * z + gs * zc;\n");
        out(g, "        }\n");
    } else {
        int positive = in->transform == RMC_TRANSFORM_POSITIVE_ORDERED;

        /* u[k] moves every later element: a suffix sum of adjoints */
        out(g, "        real c = 0.0LF;\n");
        out(g, "        for (int k = %lld - 1; k >= 0; k--) {\n", n);
        out(g, "            c += A(%lldu + uint(k));\n", off);
        out(g, "            real g = %sc * rmc_exp(X(%lldu + uint(k))) + 1.0LF;\n",
            positive ? "" : "k == 0 ? c : ", x);
        out(g, "            if (live)\n                G(%lldu + uint(k)) = g;\n", x);
        out(g, "        }\n");
    }
    out(g, "    }\n    SYNC();\n");
}

/* A parameter: the transform of transform.c, elementwise over bounds that may be data or
 * expressions of earlier parameters, scalars or of the parameter's shape. */
static void forward_param(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    char lo[96], hi[96];

    if (in->transform != RMC_TRANSFORM_NONE) {
        forward_shape(g, id);
        return;
    }

    open_loop(g, in->n);
    if (in->bound & BOUND_LOWER)
        ref(g, in->lower, lo, sizeof lo);
    if (in->bound & BOUND_UPPER)
        ref(g, in->upper, hi, sizeof hi);
    out(g, "        real u = X(%lldu + i);\n", (long long)in->xoff);
    switch (in->bound) {
    case BOUND_NONE:
        out(g, "        V(%lldu + i) = u;\n", (long long)g->off[id]);
        break;
    case BOUND_LOWER:
    case BOUND_UPPER:
        out(g, "        real b = %s;\n", in->bound == BOUND_LOWER ? lo : hi);
        out(g, "        V(%lldu + i) = b %c rmc_exp(u);\n", (long long)g->off[id],
            in->bound == BOUND_LOWER ? '+' : '-');
        out(g, "        lp_acc += isinf(b) || isnan(b) ? NEG_INF : u;\n");
        break;
    case BOUND_BOTH:
        /* log s + log(1 - s) = -|u| - 2 log1p(exp(-|u|)); bounds that cross (they may
         * depend on parameters) leave no such point; the clamp keeps v below hi where s
         * rounds to 1. */
        out(g, "        real lo = %s, hi = %s, w = hi - lo;\n", lo, hi);
        out(g, "        real e = rmc_exp(-abs(u));\n");
        out(g, "        real s = u >= 0.0LF ? 1.0LF / (1.0LF + e) : e / (1.0LF + e);\n");
        out(g, "        real v = lo + w * s;\n");
        out(g, "        V(%lldu + i) = v >= hi ? rmc_next_down(hi) : v;\n",
            (long long)g->off[id]);
        out(g, "        lp_acc += w > 0.0LF && w < POS_INF ? rmc_log(w) - abs(u) - "
            "2.0LF * rmc_log1p(e) : NEG_INF;\n");
        break;
    }
    close_loop(g, in->n, "i");
}

static void forward_elementwise(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    open_loop(g, in->n);
    value(g, id);
    out(g, "        V(%lldu + i) = r%d;\n", (long long)g->off[id], (int)id);
    close_loop(g, in->n, "i");
}

static void forward_reduce(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int64_t n = I(g, in->in[0])->n;
    char a[96], b[96];

    ref(g, in->in[0], a, sizeof a);
    out(g, "    {\n");
    switch (in->op) {
    case RMC_OP_SUM:
    case RMC_OP_DOT:
        if (in->op == RMC_OP_DOT)
            ref(g, in->in[1], b, sizeof b);
        out(g, "        real s = 0.0LF;\n");
        out(g, "        for (uint i = start; i < %lldu; i += TPC)\n", (long long)n);
        if (in->op == RMC_OP_SUM)
            out(g, "            s += %s;\n", a);
        else
            out(g, "            s += %s * %s;\n", a, b);
        out(g, "        s = chain_sum(s);\n");
        out(g, "        if (lane == 0u)\n            V(%lldu) = s;\n", (long long)g->off[id]);
        break;
    case RMC_OP_LOG_SUM_EXP:
        /* As ops.c: the largest element first, so that no exp overflows. */
        out(g, "        real m = NEG_INF, s = 0.0LF;\n");
        out(g, "        for (uint i = start; i < %lldu; i += TPC)\n", (long long)n);
        out(g, "            m = %s > m ? %s : m;\n", a, a);
        out(g, "        m = chain_max(m);\n");
        out(g, "        if (!isinf(m)) {\n");
        out(g, "            for (uint i = start; i < %lldu; i += TPC)\n", (long long)n);
        out(g, "                s += rmc_exp(%s - m);\n", a);
        out(g, "        }\n");
        out(g, "        s = chain_sum(s);\n");
        out(g, "        if (lane == 0u)\n");
        out(g, "            V(%lldu) = isinf(m) ? m : m + rmc_log(s);\n", (long long)g->off[id]);
        break;
    default:
        unsupported(g, "reduction %s", model_op_name(in->op));
        break;
    }
    out(g, "    }\n    SYNC();\n");
}

static void forward_gather(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    char at[64], s[128];

    snprintf(at, sizeof at, "uint(idx[%lldu + i])", (long long)g->blk[id]);
    open_loop(g, in->n);
    elem(g, in->in[0], at, s, sizeof s);
    out(g, "        V(%lldu + i) = %s;\n", (long long)g->off[id], s);
    close_loop(g, in->n, "i");
}

static void forward_slice(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    char at[64], s[128];

    snprintf(at, sizeof at, "%lldu + i", (long long)in->begin);
    open_loop(g, in->n);
    elem(g, in->in[0], at, s, sizeof s);
    out(g, "        V(%lldu + i) = %s;\n", (long long)g->off[id], s);
    close_loop(g, in->n, "i");
}

/* concat(a, b): element i comes from a below a's length, else from b. */
static void forward_concat(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int64_t na = I(g, in->in[0])->n;
    char a[128], b[128], at[48];

    snprintf(at, sizeof at, "i - %lldu", (long long)na);
    open_loop(g, in->n);
    elem(g, in->in[0], "i", a, sizeof a);
    elem(g, in->in[1], at, b, sizeof b);
    out(g, "        V(%lldu + i) = i < %lldu ? %s : %s;\n", (long long)g->off[id], (long long)na,
        a, b);
    close_loop(g, in->n, "i");
}

static void backward_concat(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int64_t na = I(g, in->in[0])->n;

    open_loop(g, in->n);
    out(g, "        real go = A(%lldu + i);\n", (long long)g->off[id]);
    if (I(g, in->in[0])->dynamic)
        out(g, "        if (i < %lldu)\n            A(%lldu + i) += go;\n", (long long)na,
            (long long)g->off[in->in[0]]);
    if (I(g, in->in[1])->dynamic)
        out(g, "        if (i >= %lldu)\n            A(%lldu + i - %lldu) += go;\n",
            (long long)na, (long long)g->off[in->in[1]], (long long)na);
    close_loop(g, in->n, "i");
}

/* The matrix of a matrix-vector product: data (D) or, when it depends on parameters (a
 * Cholesky factor), the workspace (V); *at gets its offset. */
static char matrix_of(struct gen *g, int32_t id, long long *at)
{
    if (I(g, id)->dynamic) {
        *at = (long long)g->off[id];
        return 'V';
    }
    *at = (long long)data_of(g, id);
    return 'D';
}

static void forward_matvec(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int64_t cols = in->dims[1];
    long long m;
    const char mk = matrix_of(g, in->in[0], &m);
    char v[128];

    /* Row r: the same four partial sums, in the same order, as la_matvec. */
    open_loop(g, in->n);
    out(g, "        real s0 = 0.0LF, s1 = 0.0LF, s2 = 0.0LF, s3 = 0.0LF;\n");
    out(g, "        for (uint k = 0u; k < %lldu; k += 4u) {\n", (long long)(cols / 4 * 4));
    for (int j = 0; j < 4; j++) {
        char k[16];
        snprintf(k, sizeof k, "k + %du", j);
        out(g, "            s%d += %c(%lldu + r * %lldu + %s) * %s;\n", j, mk, m,
            (long long)cols, k, elem(g, in->in[1], k, v, sizeof v));
    }
    out(g, "        }\n");
    out(g, "        for (uint k = %lldu; k < %lldu; k++)\n", (long long)(cols / 4 * 4),
        (long long)cols);
    out(g, "            s0 += %c(%lldu + r * %lldu + k) * %s;\n", mk, m, (long long)cols,
        elem(g, in->in[1], "k", v, sizeof v));
    out(g, "        V(%lldu + r) = (s0 + s1) + (s2 + s3);\n", (long long)g->off[id]);
    close_loop(g, in->n, "r");
}

/* Members of a statement's fused loop, in program order, into list; returns their number.
 * An operand joins when it is elementwise, as long as the loop, and used nowhere else. */
static int32_t collect_members(struct gen *g, int32_t id, int64_t n, int32_t *list,
                               int32_t count)
{
    const struct inst *in = I(g, id);

    for (int32_t k = 0; k < in->nin; k++) {
        int32_t o = in->in[k];

        if (I(g, o)->dynamic && elementwise(g, o) && g->uses[o] == 1 && I(g, o)->n == n &&
            g->root[o] < 0) {
            g->root[o] = g->region;
            count = collect_members(g, o, n, list, count);
            list[count++] = o;
        }
    }
    return count;
}

/* A distribution statement or target: one loop computes its fused members, the log
 * density, and passes every partial back to the leaves. */
static void forward_statement(struct gen *g, int32_t id, int32_t *members)
{
    const struct inst *in = I(g, id);
    const int64_t n = I(g, in->in[0])->n;
    int32_t count = 0;
    char a[96];

    g->region = id;
    for (int32_t k = 0; k < id; k++) {
        if (g->root[k] == id)
            members[count++] = k;
    }

    open_loop(g, n);
    if (hoisted_sigma(g, id)) {
        char sg[96];

        elem(g, in->in[2], "0u", sg, sizeof sg);
        g->cur = &g->pre;
        out(g, "        real hs%d = %s, hi%d = 1.0LF / hs%d;\n", (int)id, sg, (int)id, (int)id);
        g->cur = &g->post;
        out(g, "        if (lane == 0u)\n            lp_acc += hs%d > 0.0LF ? -%lld.0LF * "
            "(rmc_log(hs%d) + LOG_SQRT_2PI) : NEG_INF;\n", (int)id, (long long)n, (int)id);
        g->cur = &g->body;
    }
    for (int32_t k = 0; k < count; k++)
        value(g, members[k]);
    if (in->kind == NODE_TARGET) {
        out(g, "        lp_acc += %s;\n", ref(g, in->in[0], a, sizeof a));
        deliver(g, in->in[0], n, "1.0LF");
    } else {
        dist_call(g, id, "l");
        out(g, "        lp_acc += l;\n");
        for (int32_t k = 0; k < in->nin; k++) {
            char e[32];

            snprintf(e, sizeof e, "p%d_%d", (int)id, (int)k);
            deliver(g, in->in[k], n, e);
        }
    }
    for (int32_t k = count - 1; k >= 0; k--)
        partials(g, members[k], n);
    close_loop(g, n, "i");
    if (in->kind == NODE_TILDE && in->op == RMC_DIST_NORMAL && g->blk[id] >= 0)
        out(g, "    if (lane == 0u)\n        lp_acc += D(%lldu);\n",
            (long long)g->blk[id] + I(g, in->in[2])->n);
    g->region = -1;
}

/* ------------------------------------------------------------------ reverse sweep */

static void backward_param(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    char lo[96], hi[96];

    if (in->transform != RMC_TRANSFORM_NONE) {
        backward_shape(g, id);
        return;
    }

    if (in->bound & BOUND_LOWER)
        ref(g, in->lower, lo, sizeof lo);
    open_loop(g, in->n);
    if (in->bound & BOUND_LOWER)
        ref(g, in->lower, lo, sizeof lo);
    if (in->bound & BOUND_UPPER)
        ref(g, in->upper, hi, sizeof hi);
    out(g, "        real gv = A(%lldu + i), g;\n", (long long)g->off[id]);
    switch (in->bound) {
    case BOUND_NONE:
        out(g, "        g = gv;\n");
        break;
    case BOUND_LOWER:
        out(g, "        g = gv * (V(%lldu + i) - %s) + 1.0LF;\n", (long long)g->off[id], lo);
        deliver(g, in->lower, in->n, "gv");
        break;
    case BOUND_UPPER:
        out(g, "        g = -gv * (%s - V(%lldu + i)) + 1.0LF;\n", hi, (long long)g->off[id]);
        deliver(g, in->upper, in->n, "gv");
        break;
    case BOUND_BOTH:
        /* As transform.c: s and 1 - s each without cancellation. */
        out(g, "        real u = X(%lldu + i), e = rmc_exp(-abs(u)), w = %s - %s;\n",
            (long long)in->xoff, hi, lo);
        out(g, "        real big = 1.0LF / (1.0LF + e), small = e / (1.0LF + e);\n");
        out(g, "        real s = u >= 0.0LF ? big : small, t = u >= 0.0LF ? small : big;\n");
        out(g, "        g = gv * w * s * t + 1.0LF - 2.0LF * s;\n");
        deliver(g, in->lower, in->n, "gv * t - 1.0LF / w");
        deliver(g, in->upper, in->n, "gv * s + 1.0LF / w");
        break;
    }
    out(g, "        if (live)\n            G(%lldu + i) = g;\n", (long long)in->xoff);
    close_loop(g, in->n, "i");
}

static void backward_elementwise(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    open_loop(g, in->n);
    out(g, "        real a%d = A(%lldu + i);\n", (int)id, (long long)g->off[id]);
    if (in->kind == NODE_LPDF)
        value(g, id); /* recompute the partials; the value is needed for the mask */
    else
        out(g, "        real r%d = V(%lldu + i);\n", (int)id, (long long)g->off[id]);
    partials(g, id, in->n);
    close_loop(g, in->n, "i");
}

static void backward_reduce(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int32_t x = in->in[0];
    const int64_t n = I(g, x)->n;
    char a[96], b[96], e[256];

    open_loop(g, n);
    out(g, "        real go = A(%lldu);\n", (long long)g->off[id]);
    ref(g, x, a, sizeof a);
    switch (in->op) {
    case RMC_OP_SUM:
        deliver(g, x, n, "go");
        break;
    case RMC_OP_DOT:
        ref(g, in->in[1], b, sizeof b);
        snprintf(e, sizeof e, "go * %s", b);
        deliver(g, x, n, e);
        snprintf(e, sizeof e, "go * %s", a);
        deliver(g, in->in[1], n, e);
        break;
    case RMC_OP_LOG_SUM_EXP:
        snprintf(e, sizeof e, "go * rmc_exp(%s - V(%lldu))", a, (long long)g->off[id]);
        deliver(g, x, n, e);
        break;
    }
    close_loop(g, n, "i");
}

static void backward_gather(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const struct inst *src = I(g, in->in[0]);
    const int64_t seg = g->blk[id] + in->n, perm = seg + src->n + 1;

    /* The adjoint is a scatter-add. Without float atomics (lavapipe has no float64 ones),
     * each thread owns target elements j and adds the observations that gather from j, in
     * index order: the segments were laid out at bind time, and the sum is the CPU's,
     * operation for operation.
     * TODO: one very large segment serialises on one thread; splitting long segments over
     * the chain's threads (a segmented reduction) would lift that. */
    open_loop(g, src->n);
    out(g, "        real s = A(%lldu + j);\n", (long long)g->off[in->in[0]]);
    out(g, "        int e = idx[%lldu + j + 1u];\n", (long long)seg);
    out(g, "        for (int k = idx[%lldu + j]; k < e; k++)\n", (long long)seg);
    out(g, "            s += A(%lldu + uint(idx[%lldu + k]));\n", (long long)g->off[id],
        (long long)perm);
    out(g, "        A(%lldu + j) = s;\n", (long long)g->off[in->in[0]]);
    close_loop(g, src->n, "j");
}

static void backward_slice(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    open_loop(g, in->n);
    out(g, "        A(%lldu + i) += A(%lldu + i);\n", (long long)(g->off[in->in[0]] + in->begin),
        (long long)g->off[id]);
    close_loop(g, in->n, "i");
}

static void backward_matvec(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int64_t cols = in->dims[1];
    long long m;
    const char mk = matrix_of(g, in->in[0], &m);
    char v[128];

    /* Column c of the vector's adjoint, rows grouped by four as la_matvec_backward adds
     * them, then the rest one by one. */
    if (I(g, in->in[1])->dynamic) {
        const long long go = (long long)g->off[id], rows4 = (long long)(in->n / 4 * 4);

        open_loop(g, cols);
        out(g, "        real s = A(%lldu + c);\n", (long long)g->off[in->in[1]]);
        out(g, "        for (uint r = 0u; r < %lldu; r += 4u)\n", rows4);
        out(g, "            s += (A(%lldu + r) * %c(%lldu + r * %lldu + c)\n", go, mk, m,
            (long long)cols);
        out(g, "                  + A(%lldu + r + 1u) * %c(%lldu + (r + 1u) * %lldu + c))\n", go,
            mk, m, (long long)cols);
        out(g, "                 + (A(%lldu + r + 2u) * %c(%lldu + (r + 2u) * %lldu + c)\n", go,
            mk, m, (long long)cols);
        out(g, "                  + A(%lldu + r + 3u) * %c(%lldu + (r + 3u) * %lldu + c));\n",
            go, mk, m, (long long)cols);
        out(g, "        for (uint r = %lldu; r < %lldu; r++)\n", rows4, (long long)in->n);
        out(g, "            s += A(%lldu + r) * %c(%lldu + r * %lldu + c);\n", go, mk, m,
            (long long)cols);
        out(g, "        A(%lldu + c) = s;\n", (long long)g->off[in->in[1]]);
        close_loop(g, cols, "c");
    }
    /* Row r of a parameter-dependent matrix's adjoint: go[r] v^T. */
    if (I(g, in->in[0])->dynamic) {
        open_loop(g, in->n);
        out(g, "        real w = A(%lldu + r);\n", (long long)g->off[id]);
        out(g, "        for (uint k = 0u; k < %lldu; k++)\n", (long long)cols);
        out(g, "            A(%lldu + r * %lldu + k) += w * %s;\n", m, (long long)cols,
            elem(g, in->in[1], "k", v, sizeof v));
        close_loop(g, in->n, "r");
    }
}

/* ------------------------------------------------------------------ linear algebra */

/* An operand of a linear-algebra node as shaders/linalg.glsl names it: its workspace
 * offset, or LA_DATA plus its offset in the data buffer. */
static long long la_code(struct gen *g, int32_t id)
{
    if (I(g, id)->dynamic)
        return (long long)g->off[id];
    return 0x80000000LL + (long long)data_of(g, id);
}

/* The chain's first thread runs the node's function of linalg.glsl; a matrix that has no
 * factor here (not positive definite, a zero pivot) rejects the point as the CPU does:
 * output NaN, lp -inf. */
static void forward_linalg(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id), *a = I(g, in->in[0]), *b = I(g, in->in[1]);
    const long long o = (long long)g->off[id], c0 = la_code(g, in->in[0]);
    const long long c1 = in->nin > 1 ? la_code(g, in->in[1]) : 0;

    out(g, "    if (start == 0u) {\n");
    switch (in->op) {
    case LA_VECMAT:
        out(g, "        la_vecmat(%lldu, %lldu, %lldu, %lldu, %lldu);\n", (long long)b->dims[0],
            (long long)b->dims[1], c0, c1, o);
        break;
    case LA_MATMUL:
        out(g, "        la_matmul(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)a->dims[0], (long long)a->dims[1], (long long)b->dims[1], c0, c1, o);
        break;
    case LA_DIAG_PRE:
        out(g, "        la_diag_pre(%lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)b->dims[0], (long long)b->dims[1], c0, c1, o);
        break;
    case LA_COV_EXP_QUAD:
        out(g, "        la_cov_exp_quad(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)a->n, c0, c1, la_code(g, in->in[2]), 0x80000000LL + (long long)g->blk[id],
            o);
        break;
    case LA_CHOLESKY:
    case LA_TRI_SOLVE:
        if (in->op == LA_CHOLESKY)
            out(g, "        if (!la_cholesky(%lldu, %lldu, %lldu)) {\n", (long long)a->dims[0],
                c0, o);
        else
            out(g, "        if (!la_tri_solve(%lldu, %lldu, %lldu, %lldu, %lldu)) {\n",
                (long long)a->dims[0], (long long)(b->n / a->dims[0]), c0, c1, o);
        out(g, "            for (uint i = 0u; i < %lldu; i++)\n", (long long)in->n);
        out(g, "                V(%lldu + i) = NAN_R;\n", o);
        out(g, "            lp_acc += NEG_INF;\n");
        out(g, "        }\n");
        break;
    }
    out(g, "    }\n    SYNC();\n");
}

static void backward_linalg(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id), *a = I(g, in->in[0]), *b = I(g, in->in[1]);
    const long long o = (long long)g->off[id], c0 = la_code(g, in->in[0]);
    const long long c1 = in->nin > 1 ? la_code(g, in->in[1]) : 0;

    out(g, "    if (start == 0u)\n");
    switch (in->op) {
    case LA_VECMAT:
        out(g, "        la_vecmat_back(%lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)b->dims[0], (long long)b->dims[1], c0, c1, o);
        break;
    case LA_MATMUL:
        out(g, "        la_matmul_back(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)a->dims[0], (long long)a->dims[1], (long long)b->dims[1], c0, c1, o);
        break;
    case LA_DIAG_PRE:
        out(g, "        la_diag_pre_back(%lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)b->dims[0], (long long)b->dims[1], c0, c1, o);
        break;
    case LA_COV_EXP_QUAD:
        out(g, "        la_cov_exp_quad_back(%lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)a->n, c0, c1, la_code(g, in->in[2]), o);
        break;
    case LA_CHOLESKY:
        out(g, "        la_cholesky_back(%lldu, %lldu, %lldu, %lldu);\n", (long long)a->dims[0],
            c0, o, (long long)g->xws[id]);
        break;
    case LA_TRI_SOLVE:
        out(g, "        la_tri_solve_back(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu);\n",
            (long long)a->dims[0], (long long)(b->n / a->dims[0]), c0, c1, o,
            (long long)g->xws[id]);
        break;
    }
    out(g, "    SYNC();\n");
}

/* ------------------------------------------------------------------ scans */

static void forward_one(struct gen *g, int32_t id, int32_t *members);
static void backward_one(struct gen *g, int32_t id);

/* The state node of scan id; its sequence rows follow it (as program.c lays them out). */
static int32_t scan_state(const struct gen *g, int32_t id)
{
    return I(g, I(g, id)->in[1])->scan_of - 1;
}

/* A scan is eval.c's loop over steps: load the previous state (the initial one at step 0)
 * and each sequence's row, run the step's instructions as the main program's, copy the new
 * state to the output and the whole step (values of the state, rows and step
 * instructions, one contiguous span) to the tape in the workspace, for the reverse
 * sweep. The step loop is uniform across the workgroup, so the barriers inside it are
 * met by every thread. */
static void forward_scan(struct gen *g, int32_t id, int32_t *members)
{
    const struct inst *in = I(g, id);
    const int32_t sn = scan_state(g, id);
    const long long s = (long long)I(g, sn)->n, span = (long long)g->span[id];
    const long long base = (long long)g->off[sn], tape = (long long)g->xws[id];
    char v[128], at[96];

    out(g, "    for (uint step = 0u; step < %lldu; step++) {\n", (long long)in->steps);
    open_loop(g, s);
    out(g, "        V(%lldu + i) = step == 0u ? %s : V(%lldu + (step > 0u ? step - 1u : 0u) * "
        "%lldu + i);\n", base, elem(g, in->in[0], "i", v, sizeof v), (long long)g->off[id], s);
    close_loop(g, s, "i");
    for (int32_t k = 2; k < in->nin; k++) {
        const int32_t slot = sn + (k - 1);
        const long long n = (long long)I(g, slot)->n;

        snprintf(at, sizeof at, "step * %lldu + i", n);
        open_loop(g, n);
        out(g, "        V(%lldu + i) = %s;\n", (long long)g->off[slot],
            elem(g, in->in[k], at, v, sizeof v));
        close_loop(g, n, "i");
    }
    for (int32_t j = 0; j < in->n_body && g->st == RMC_OK; j++)
        forward_one(g, in->body[j], members);
    open_loop(g, s);
    out(g, "        V(%lldu + step * %lldu + i) = V(%lldu + i);\n", (long long)g->off[id], s,
        (long long)g->off[in->in[1]]);
    close_loop(g, s, "i");
    open_loop(g, span);
    out(g, "        V(%lldu + step * %lldu + i) = V(%lldu + i);\n", tape, span, base);
    close_loop(g, span, "i");
    out(g, "    }\n");
}

/* Back through the steps, as eval.c: restore step t from the tape with its adjoints
 * cleared, seed the new state's adjoint with the output's and the one carried from step
 * t + 1, run the step's reverse sweep (outer operands, parameters, accumulate across
 * steps), carry the state's adjoint on and pass the rows' adjoints to their sequences. */
static void backward_scan(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);
    const int32_t sn = scan_state(g, id);
    const long long s = (long long)I(g, sn)->n, span = (long long)g->span[id];
    const long long base = (long long)g->off[sn], tape = (long long)g->xws[id];
    const long long carry = tape + (long long)in->steps * span;

    open_loop(g, s);
    out(g, "        V(%lldu + i) = 0.0LF;\n", carry);
    close_loop(g, s, "i");
    out(g, "    for (uint back = %lldu; back > 0u; back--) {\n", (long long)in->steps);
    out(g, "    uint step = back - 1u;\n");
    open_loop(g, span);
    out(g, "        V(%lldu + i) = V(%lldu + step * %lldu + i);\n", base, tape, span);
    out(g, "        A(%lldu + i) = 0.0LF;\n", base);
    close_loop(g, span, "i");
    open_loop(g, s);
    out(g, "        A(%lldu + i) += A(%lldu + step * %lldu + i) + V(%lldu + i);\n",
        (long long)g->off[in->in[1]], (long long)g->off[id], s, carry);
    close_loop(g, s, "i");
    for (int32_t j = in->n_body - 1; j >= 0 && g->st == RMC_OK; j--)
        backward_one(g, in->body[j]);
    open_loop(g, s);
    out(g, "        V(%lldu + i) = A(%lldu + i);\n", carry, base);
    close_loop(g, s, "i");
    for (int32_t k = 2; k < in->nin; k++) {
        const int32_t slot = sn + (k - 1);
        const long long n = (long long)I(g, slot)->n;

        if (!I(g, in->in[k])->dynamic)
            continue;
        open_loop(g, n);
        out(g, "        A(%lldu + step * %lldu + i) += A(%lldu + i);\n",
            (long long)g->off[in->in[k]], n, (long long)g->off[slot]);
        close_loop(g, n, "i");
    }
    out(g, "    }\n");
    if (I(g, in->in[0])->dynamic) {
        open_loop(g, s);
        out(g, "        A(%lldu + %s) += V(%lldu + i);\n", (long long)g->off[in->in[0]],
            I(g, in->in[0])->n > 1 ? "i" : "0u", carry);
        close_loop(g, s, "i");
    }
}

/* ------------------------------------------------------------------ rows */

/* A distribution over rows, on the chain's first thread, with the sizes binding laid out
 * (dist.c's aux): a statement adds its log density and every partial (mode MV_STATEMENT);
 * an expression writes a log density per row (MV_VALUES), and its reverse sweep passes
 * partials weighted by the rows' adjoints (MV_PARTIALS). */
static void emit_rows(struct gen *g, int32_t id, const char *mode)
{
    const struct inst *in = I(g, id);
    const long long o = in->kind == NODE_LPDF ? (long long)g->off[id] : 0;
    const char *acc = strcmp(mode, "MV_STATEMENT") ? "" : "lp_acc += ";
    const long long rows = (long long)in->aux[MV_ROWS], k = (long long)in->aux[MV_K];
    const long long step = (long long)in->aux[MV_STEP], rs = (long long)in->aux[MV_ROW_STEP];
    const long long c0 = la_code(g, in->in[0]), c1 = la_code(g, in->in[1]);

    out(g, "    if (start == 0u)\n");
    switch (in->op) {
    case RMC_DIST_CATEGORICAL_LOGIT:
        out(g, "        %smv_categorical_logit(%lldu, %du, %lldu, %lldu, %lldu, %lldu, %s, "
            "%lldu);\n", acc, c0, I(g, in->in[0])->n > 1, c1, (long long)I(g, in->in[0])->n,
            k, rs, mode, o);
        break;
    case RMC_DIST_MULTI_NORMAL_CHOLESKY:
        out(g, "        %smv_multi_normal_cholesky(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu, "
            "%lldu, %lldu, %s, %lldu);\n", acc, c0, c1, la_code(g, in->in[2]), rows, k, step,
            rs, (long long)g->xws[id], mode, o);
        break;
    case RMC_DIST_DIRICHLET:
        out(g, "        %smv_dirichlet(%lldu, %lldu, %lldu, %lldu, %lldu, %lldu, %s, %lldu);\n",
            acc, c0, c1, rows, k, step, rs, mode, o);
        break;
    case RMC_DIST_LKJ_CORR_CHOLESKY:
        out(g, "        %smv_lkj_corr_cholesky(%lldu, %lldu, %lldu, %s, %lldu);\n", acc, c0, c1,
            k, mode, o);
        break;
    }
    out(g, "    SYNC();\n");
}

/* ------------------------------------------------------------------ node kinds */

/* A count distribution's data-only factor per element (log C(n, y) or -log y!): the
 * statement's aux where binding made it, else made here the same way. */
static void prepare_count(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id), *y = I(g, in->in[0]), *n = I(g, in->in[1]);
    const int choose = find_dist_rule(in->op)->term == TERM_CHOOSE;
    double *t;

    if (y->dynamic || (choose && n->dynamic)) {
        unsupported(g, "%s with a count that depends on parameters", dist_info(in->op)->name);
        return;
    }
    if (in->aux) {
        g->blk[id] = push_reals(g, in->aux, y->n);
        return;
    }
    t = rmc_calloc((size_t)(y->n ? y->n : 1), sizeof *t);
    if (!t) {
        g->st = g->st ? g->st : rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory lowering");
        return;
    }
    for (int64_t i = 0; i < y->n; i++)
        t[i] = choose ? rmc_lchoose(n->cval[n->n > 1 ? i : 0], y->cval[i])
                      : -rmc_lgamma(y->cval[i] + 1.0);
    g->blk[id] = push_reals(g, t, y->n);
    free(t);
}

/* Bind-time preparation of an instruction: checks that it can be lowered, uploads what it
 * needs. Runs over every dynamic instruction before any code is written. */
static void prepare(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    switch (in->kind) {
    case NODE_PARAM:
        if (in->transform == RMC_TRANSFORM_ORDERED ||
            in->transform == RMC_TRANSFORM_POSITIVE_ORDERED ||
            in->transform == RMC_TRANSFORM_SIMPLEX ||
            in->transform == RMC_TRANSFORM_CHOLESKY_CORR)
            return;
        if (in->transform != RMC_TRANSFORM_NONE || in->bound < BOUND_NONE ||
            in->bound > BOUND_BOTH || transform_free_dim(in) != in->n)
            unsupported(g, "the transform of parameter %s", what(g, id));
        return;
    case NODE_OP1:
    case NODE_OP2:
    case NODE_OP3: {
        const struct op_rule *r = find_op(in->op);

        if (!r || r->arity != in->nin)
            unsupported(g, "operation %s", model_op_name(in->op));
        return;
    }
    case NODE_LPDF:
    case NODE_TILDE:
        if (find_row_dist(in->op)) {
            if (!in->aux)
                unsupported(g, "%s without its row layout", dist_info(in->op)->name);
            return;
        }
        if (!find_dist(in->op)) {
            unsupported(g, "distribution %s", dist_info(in->op) ? dist_info(in->op)->name
                                                                : "(unknown)");
            return;
        }
        if (in->kind == NODE_TILDE && in->op == RMC_DIST_NORMAL && in->aux &&
            !I(g, in->in[2])->dynamic && I(g, in->in[2])->n > 1) {
            g->blk[id] = push_reals(g, in->aux, I(g, in->in[2])->n);
            push_reals(g, &in->cterm, 1);
        }
        if (find_dist_rule(in->op)->term != TERM_NONE)
            prepare_count(g, id);
        return;
    case NODE_TARGET:
    case NODE_SLICE:
        return;
    case NODE_CONCAT:
        if (in->nin != 2)
            unsupported(g, "concatenation of %d operands", (int)in->nin);
        return;
    case NODE_MATVEC:
        return;
    case NODE_GATHER: {
        /* Indexes, then the segments of the adjoint's scatter-add: for each source element
         * j, perm[seg[j] .. seg[j + 1]) lists the positions i with index[i] == j, in order. */
        const int64_t n = in->n, m = I(g, in->in[0])->n;
        int32_t *seg = rmc_calloc((size_t)m + 1, sizeof *seg);
        int32_t *perm = rmc_calloc((size_t)(n ? n : 1), sizeof *perm);
        int32_t *fill = rmc_calloc((size_t)m + 1, sizeof *fill);

        if (!seg || !perm || !fill) {
            g->st = g->st ? g->st : rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory lowering");
        } else {
            for (int64_t i = 0; i < n; i++)
                seg[in->index[i] + 1]++;
            for (int64_t j = 0; j < m; j++)
                seg[j + 1] += seg[j];
            for (int64_t i = 0; i < n; i++)
                perm[seg[in->index[i]] + fill[in->index[i]]++] = (int32_t)i;
            g->blk[id] = push_ints(g, in->index, n);
            push_ints(g, seg, m + 1);
            push_ints(g, perm, n);
        }
        free(seg);
        free(perm);
        free(fill);
        return;
    }
    case NODE_LINALG:
        if (!la_name(in->op)) {
            unsupported(g, "linear algebra op %d", (int)in->op);
            return;
        }
        if (in->op == LA_COV_EXP_QUAD)
            g->blk[id] = push_reals(g, &in->delta, 1);
        return;
    case NODE_SCAN:
        for (int32_t j = 0; j < in->n_body && g->st == RMC_OK; j++) {
            const struct inst *b = I(g, in->body[j]);

            /* TODO: a statement inside a step would add its log density per step; none of
             * the builders make one, so it is refused rather than lowered untested. */
            if (b->kind == NODE_TILDE || b->kind == NODE_TARGET || b->kind == NODE_SCAN)
                unsupported(g, "%s inside a scan step", what(g, in->body[j]));
            else
                prepare(g, in->body[j]);
        }
        return;
    default:
        unsupported(g, "node kind %d", (int)in->kind);
        return;
    }
}

static void forward_one(struct gen *g, int32_t id, int32_t *members)
{
    const struct inst *in = I(g, id);

    if (g->root[id] >= 0)
        return; /* computed inside its statement's loop */
    out(g, "    // %d: %s\n", (int)id, what(g, id));
    switch (in->kind) {
    case NODE_PARAM: forward_param(g, id); break;
    case NODE_OP1:
    case NODE_OP2:
    case NODE_OP3:
        if (find_op(in->op)->reduce)
            forward_reduce(g, id);
        else
            forward_elementwise(g, id);
        break;
    case NODE_LPDF:
        if (find_row_dist(in->op))
            emit_rows(g, id, "MV_VALUES");
        else
            forward_elementwise(g, id);
        break;
    case NODE_GATHER: forward_gather(g, id); break;
    case NODE_SLICE: forward_slice(g, id); break;
    case NODE_MATVEC: forward_matvec(g, id); break;
    case NODE_CONCAT: forward_concat(g, id); break;
    case NODE_LINALG: forward_linalg(g, id); break;
    case NODE_SCAN: forward_scan(g, id, members); break;
    case NODE_TILDE:
        if (over_rows(g->p, id))
            emit_rows(g, id, "MV_STATEMENT");
        else
            forward_statement(g, id, members);
        break;
    case NODE_TARGET: forward_statement(g, id, members); break;
    }
}

static void backward_one(struct gen *g, int32_t id)
{
    const struct inst *in = I(g, id);

    if (g->root[id] >= 0 || in->kind == NODE_TILDE || in->kind == NODE_TARGET)
        return;
    out(g, "    // %d: %s\n", (int)id, what(g, id));
    switch (in->kind) {
    case NODE_PARAM: backward_param(g, id); break;
    case NODE_OP1:
    case NODE_OP2:
    case NODE_OP3:
        if (find_op(in->op)->reduce)
            backward_reduce(g, id);
        else
            backward_elementwise(g, id);
        break;
    case NODE_LPDF:
        if (find_row_dist(in->op))
            emit_rows(g, id, "MV_PARTIALS");
        else
            backward_elementwise(g, id);
        break;
    case NODE_GATHER: backward_gather(g, id); break;
    case NODE_SLICE: backward_slice(g, id); break;
    case NODE_MATVEC: backward_matvec(g, id); break;
    case NODE_CONCAT: backward_concat(g, id); break;
    case NODE_LINALG: backward_linalg(g, id); break;
    case NODE_SCAN: backward_scan(g, id); break;
    }
}

/* ------------------------------------------------------------------ assembly */

/* Threads per chain: enough for the longest loop, a power of two up to 64. */
static int64_t longest_loop(const rmc_program *p, const int32_t *list, int32_t count)
{
    int64_t longest = 1;

    for (int32_t k = 0; k < count; k++) {
        const struct inst *in = &p->inst[list[k]];

        if (in->kind == NODE_SCAN) {
            /* the steps run in sequence: only a step's own vectors are split */
            int64_t b = longest_loop(p, in->body, in->n_body);
            int64_t s = p->inst[in->in[1]].n;

            longest = b > longest ? b : longest;
            longest = s > longest ? s : longest;
            continue;
        }
        for (int32_t j = 0; j < in->nin; j++) {
            const struct inst *a = &p->inst[in->in[j]];

            if (a->kind != NODE_SCAN)
                longest = a->n > longest ? a->n : longest;
        }
        if (in->kind == NODE_MATVEC && in->dims[1] > longest)
            longest = in->dims[1];
        longest = in->n > longest ? in->n : longest;
    }
    return longest;
}

static uint32_t choose_lanes(const rmc_program *p)
{
    int64_t longest = longest_loop(p, p->dyn, p->n_dyn);
    uint32_t t = 1;

    while (t < 64 && (int64_t)t < longest)
        t *= 2;
    return t;
}

static int64_t per_lane(int64_t n, uint32_t tpc)
{
    return (n + tpc - 1) / tpc;
}

/* The iterations one thread runs for a linear-algebra node (all of them: one thread runs
 * it), counting nested loops as their product. */
static int64_t la_trips(const rmc_program *p, const struct inst *in)
{
    const struct inst *a = &p->inst[in->in[0]], *b = &p->inst[in->in[1]];
    int64_t k = a->dims[0];

    switch (in->op) {
    case LA_MATMUL: return a->dims[0] * a->dims[1] * b->dims[1] + in->n;
    case LA_CHOLESKY: return k * k * k / 2 + 2 * k * k;
    case LA_TRI_SOLVE: return k * k * (b->n / (k ? k : 1)) + 2 * b->n;
    case LA_COV_EXP_QUAD: return a->n * a->n;
    default: return in->n + b->n;
    }
}

static int64_t loop_trips(const rmc_program *p, const int32_t *list, int32_t count,
                          uint32_t tpc);

/* A scan's step loop holds every loop of its step, forward and back, and those that load,
 * save and restore a step. */
static int64_t scan_trips(const rmc_program *p, const struct inst *in, uint32_t tpc)
{
    const int64_t s = per_lane(p->inst[in->in[1]].n, tpc);
    int64_t step = 2 * per_lane(in->body_val, tpc) + 4 * s + 2;

    for (int32_t k = 2; k < in->nin; k++)
        step += 2 * per_lane(p->inst[p->inst[in->in[1]].scan_of - 1 + (k - 1)].n, tpc);
    return in->steps * (step + loop_trips(p, in->body, in->n_body, tpc)) + 2 * s;
}

/* lavapipe's guard counts every iteration of every loop an invocation runs, not each loop
 * on its own: three likelihoods of 25000 at one thread per chain came back wrong, as did a
 * GARCH scan of 1200 steps. So the count is the sum over the whole shader, forward and
 * reverse sweeps. */
int64_t vk_loop_trips(const rmc_program *p, uint32_t tpc)
{
    /* clearing the adjoints */
    return per_lane(p->ws_size, tpc) + loop_trips(p, p->dyn, p->n_dyn, tpc);
}

static int64_t loop_trips(const rmc_program *p, const int32_t *list, int32_t count,
                          uint32_t tpc)
{
    int64_t sum = 0;

    for (int32_t k = 0; k < count; k++) {
        const struct inst *in = &p->inst[list[k]];
        int64_t t = per_lane(in->n, tpc);

        if (in->kind == NODE_SCAN) {
            sum += scan_trips(p, in, tpc);
            continue;
        }
        if (in->kind == NODE_LINALG) {
            sum += 2 * la_trips(p, in);
            continue;
        }
        if (over_rows(p, list[k]) && in->aux) {
            /* one thread: rows of K, a K x K triangle per row for the normal */
            const int64_t rows = (int64_t)in->aux[MV_ROWS], kk = (int64_t)in->aux[MV_K];

            sum += 2 * (rows > p->inst[in->in[0]].n ? rows : p->inst[in->in[0]].n) * kk *
                   (kk + 4);
            continue;
        }

        for (int32_t j = 0; j < in->nin; j++)
            t = per_lane(p->inst[in->in[j]].n, tpc) > t ? per_lane(p->inst[in->in[j]].n, tpc)
                                                        : t;
        if (in->kind == NODE_MATVEC)
            t = per_lane(in->n, tpc) * in->dims[1] + per_lane(in->dims[1], tpc) * in->n +
                per_lane(in->n, tpc) * in->dims[1];
        if (in->kind == NODE_GATHER || in->kind == NODE_PARAM)
            t += in->n; /* a lane may take every observation of one group; a shape's loop */
        sum += 2 * t + 2; /* forward and reverse, each entered at least once */
    }
    return sum;
}

/* float32: the templates write literals as doubles (1.5LF); drop the suffix, so that the
 * shader has no 64-bit type at all. */
static void strip_double_suffix(char *s)
{
    char *w = s;

    for (char *r = s; *r; r++) {
        if ((r[0] == 'L' || r[0] == 'l') && (r[1] == 'F' || r[1] == 'f') && r > s &&
            ((r[-1] >= '0' && r[-1] <= '9') || r[-1] == '.') &&
            !((r[2] >= 'a' && r[2] <= 'z') || (r[2] >= 'A' && r[2] <= 'Z') ||
              (r[2] >= '0' && r[2] <= '9') || r[2] == '_')) {
            r++;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
}

rmc_status vk_lower(const rmc_program *p, int f64, uint32_t lanes, struct vk_lowered *lw)
{
    static const char *const parts[] = { "head", "math", "ops", "dists", "linalg",
                                         "transforms", "rowdists" };
    struct gen g = { .p = p, .f64 = f64, .region = -1 };
    struct text all = { 0 };
    int32_t *members = NULL;
    uint32_t tpc = lanes ? lanes : choose_lanes(p), wg = tpc > 64 ? tpc : 64;

    memset(lw, 0, sizeof *lw);
    if (p->kind != PROGRAM_GRAPH)
        return rmc_fail(RMC_ERR_BACKEND, "not supported on the Vulkan backend: a program over "
                        "a user callback runs on the CPU only");
    if (tpc == 0 || (tpc & (tpc - 1)) || tpc > 1024)
        return rmc_fail(RMC_ERR_ARGUMENT, "vulkan: threads per chain must be a power of two "
                        "up to 1024, got %u", (unsigned)tpc);

    g.off = rmc_calloc((size_t)p->n_inst, sizeof *g.off);
    g.doff = rmc_calloc((size_t)p->n_inst, sizeof *g.doff);
    g.blk = rmc_calloc((size_t)p->n_inst, sizeof *g.blk);
    g.xws = rmc_calloc((size_t)p->n_inst, sizeof *g.xws);
    g.span = rmc_calloc((size_t)p->n_inst, sizeof *g.span);
    g.uses = rmc_calloc((size_t)p->n_inst, sizeof *g.uses);
    g.root = rmc_calloc((size_t)p->n_inst, sizeof *g.root);
    g.accs = rmc_calloc((size_t)p->n_inst, sizeof *g.accs);
    g.held = rmc_calloc((size_t)p->n_inst, sizeof *g.held);
    members = rmc_calloc((size_t)p->n_inst, sizeof *members);
    if (!g.off || !g.doff || !g.blk || !g.uses || !g.root || !g.accs || !g.held || !members ||
        !g.xws || !g.span) {
        g.st = rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory lowering the program");
        goto done;
    }
    for (int32_t k = 0; k < p->n_inst; k++) {
        g.doff[k] = -1;
        g.blk[k] = -1;
        g.xws[k] = -1;
        g.root[k] = -1;
    }
    /* Uses by the main sweep and by scan steps alike: an operation that a step reads
     * must keep its values in the workspace. */
    for (int32_t k = 0; k < p->n_inst; k++) {
        const struct inst *in = &p->inst[k];

        if (!in->dynamic || in->kind == NODE_SCAN_STATE || in->kind == NODE_SCAN_INPUT)
            continue;
        for (int32_t j = 0; j < in->nin; j++)
            g.uses[in->in[j]]++;
        /* a parameter's bounds are operands too (they may depend on parameters) */
        if (in->kind == NODE_PARAM && (in->bound & BOUND_LOWER))
            g.uses[in->lower]++;
        if (in->kind == NODE_PARAM && (in->bound & BOUND_UPPER))
            g.uses[in->upper]++;
    }
    /* The data buffer must not be empty: a descriptor needs a real buffer. */
    push_reals(&g, NULL, 1);
    push_ints(&g, NULL, 1);
    for (int32_t k = 0; k < p->n_dyn && g.st == RMC_OK; k++)
        prepare(&g, p->dyn[k]);
    if (g.st != RMC_OK)
        goto done;

    /* Statements claim their fused members before any code is written: a member comes
     * earlier in the program than its statement, and must not be emitted on its own. */
    for (int32_t k = 0; k < p->n_dyn; k++) {
        const struct inst *in = &p->inst[p->dyn[k]];

        if ((in->kind != NODE_TILDE && in->kind != NODE_TARGET) || over_rows(p, p->dyn[k]))
            continue;
        g.region = p->dyn[k];
        g.fused += collect_members(&g, p->dyn[k], p->inst[in->in[0]].n, members, 0);
    }
    g.region = -1;

    /* The workspace holds what lives between operations: fused members and statements
     * need no room, so a likelihood's N-long intermediates take none. */
    for (int32_t k = 0; k < p->n_dyn; k++) {
        const struct inst *in = &p->inst[p->dyn[k]];

        if (g.root[p->dyn[k]] >= 0 || in->kind == NODE_TILDE || in->kind == NODE_TARGET)
            continue;
        g.off[p->dyn[k]] = g.ws;
        g.ws += in->n;
    }
    /* What a node needs beyond its values: a scan's step (its state, rows and
     * instructions in one span, which the tape copies), the tape of T steps and the
     * carried adjoint; a factorisation's scratch.
     * TODO: the workspace's adjoint half mirrors all of this, and the tape's and the
     * scratch's adjoints are never used; a third region without adjoints would halve
     * what a long scan costs per chain. */
    for (int32_t k = 0; k < p->n_inst; k++) {
        const struct inst *in = &p->inst[k];

        if (!in->dynamic)
            continue;
        if (in->kind == NODE_SCAN) {
            const int32_t sn = scan_state(&g, k);

            g.span[k] = 0;
            for (int32_t j = sn; j < sn + in->nin - 1; j++) { /* the state, then the rows */
                g.off[j] = g.ws + g.span[k];
                g.span[k] += p->inst[j].n;
            }
            for (int32_t j = 0; j < in->n_body; j++) {
                g.off[in->body[j]] = g.ws + g.span[k];
                g.span[k] += p->inst[in->body[j]].n;
            }
            g.ws += g.span[k];
            g.xws[k] = g.ws;
            g.ws += in->steps * g.span[k] + p->inst[sn].n;
        } else if (in->kind == NODE_LINALG && la_scratch(in) > 0) {
            g.xws[k] = g.ws;
            g.ws += la_scratch(in);
        } else if ((in->kind == NODE_TILDE || in->kind == NODE_LPDF) &&
                   in->op == RMC_DIST_MULTI_NORMAL_CHOLESKY && in->aux) {
            g.xws[k] = g.ws; /* z and a of one row */
            g.ws += 2 * (int64_t)in->aux[MV_K];
        } else if (in->kind == NODE_PARAM && transform_scratch(in) > 0) {
            g.xws[k] = g.ws;
            g.ws += transform_scratch(in);
        }
    }

    g.cur = &g.src;
    out(&g, "void model_forward()\n{\n");
    for (int32_t k = 0; k < p->n_dyn && g.st == RMC_OK; k++)
        forward_one(&g, p->dyn[k], members);
    out(&g, "}\n\nvoid model_backward()\n{\n");
    for (int32_t k = p->n_dyn - 1; k >= 0 && g.st == RMC_OK; k--)
        backward_one(&g, p->dyn[k]);
    out(&g, "}\n\n");
    if (g.st != RMC_OK)
        goto done;

    {
        char head[256];

        snprintf(head, sizeof head, "#version 450\n#define RMC_F64 %d\n#define TPC %u\n"
                 "#define WG %u\n#define WS %lld\n#define DIM %lld\n\n", f64 ? 1 : 0,
                 (unsigned)tpc, (unsigned)wg, (long long)g.ws, (long long)p->dim);
        append(&all, head);
    }
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        const char *t = vk_shader_text(parts[k]);

        if (!t) {
            g.st = rmc_fail(RMC_ERR_INTERNAL, "vulkan: shader template %s is missing", parts[k]);
            goto done;
        }
        append(&all, t);
        append(&all, "\n");
    }
    append(&all, "// ---------------------------------------------------------------- model\n\n");
    append(&all, g.src.s ? g.src.s : "");
    append(&all, vk_shader_text("main") ? vk_shader_text("main") : "");
    if (all.failed || g.src.failed || g.body.failed || g.pre.failed || g.post.failed) {
        g.st = rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory writing the shader");
        goto done;
    }
    if (!f64)
        strip_double_suffix(all.s);

    lw->source = all.s;
    lw->source_len = strlen(all.s);
    all.s = NULL;
    lw->data = g.dat;
    lw->n_data = g.n_dat;
    lw->index = g.idx;
    lw->n_index = g.n_idx;
    g.dat = NULL;
    g.idx = NULL;
    lw->ws = g.ws;
    lw->dim = p->dim;
    lw->tpc = tpc;
    lw->wg = wg;
    lw->fused = g.fused;

done:
    free(all.s);
    free(g.src.s);
    free(g.body.s);
    free(g.pre.s);
    free(g.post.s);
    free(g.dat);
    free(g.idx);
    free(g.off);
    free(g.doff);
    free(g.blk);
    free(g.xws);
    free(g.span);
    free(g.uses);
    free(g.root);
    free(g.accs);
    free(g.held);
    free(members);
    return g.st;
}

void vk_lowered_free(struct vk_lowered *lw)
{
    if (!lw)
        return;
    free(lw->source);
    free(lw->data);
    free(lw->index);
    memset(lw, 0, sizeof *lw);
}
