/* fuzz_model.c - a libFuzzer harness over model building, data binding and what follows
 * (evaluation, constrain/unconstrain, a few sampler iterations, the summary).
 *
 * The input is a little program: each instruction is an opcode byte followed by operand
 * bytes, read until the input runs out. Node operands usually name one of the nodes made
 * so far (counting back from the newest, so short inputs build deep graphs) and sometimes
 * an invalid id; sizes, names, dtypes and values come from small tables that include the
 * awkward cases (0, negative, 2^40, NaN, inf, denormals, names with brackets). The library
 * must refuse what is wrong with a status and a message, and never crash, leak or read out
 * of bounds (ASan, UBSan). tests/fuzz/README.md says how to run it; make_corpus.py writes
 * the seed corpus from the models of the C and Python tests.
 *
 * Built twice: with libFuzzer (RMC_FUZZ, clang), and with a plain main() that replays
 * files given on the command line, which is how ctest runs the corpus in every build. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmc.h"

enum opcode {
    OP_PARAM, OP_DATA_FIELD, OP_CONST, OP_CONST_VECTOR, OP_OP1, OP_OP2, OP_OP3, OP_GATHER,
    OP_SLICE, OP_INDEX, OP_MATVEC, OP_TILDE, OP_LPDF, OP_TARGET, OP_DETERMINISTIC,
    OP_DATA_SET, OP_SAMPLE, OP_COUNT
};

#define MAX_NODES 256
#define MAX_ARRAYS 32
#define MAX_OPS 200
/* Larger programs are bound but not evaluated (or not sampled), to keep each execution
 * fast: the fuzzer's worth is in executions per second. */
#define MAX_EVAL_DIM 256
#define MAX_SAMPLE_DIM 16

static const double REALS[16] = { 0.0, 1.0, -1.0, 0.5, 2.0, 10.0, -3.5, 1e-300, 5e-324,
                                  1e300, -1e300, INFINITY, -INFINITY, NAN, 1e-8, 3.0 };
/* The extremes that found defects 1 to 3 of docs/RELIABILITY.md, fixed since; each
 * crashing input is in the corpus, which every build replays:
 *  - ABSURD, 2^31 elements, the largest size a node may have (binding would have asked
 *    for 16 GiB of column pointers; now refused up front);
 *  - INT64_MIN as index data (the gather's range check overflowed);
 *  - arrays and slices of zero elements (an empty vector was taken for a scalar). */
#define ABSURD ((int64_t)1 << 31)
static const int64_t INTS[16] = { 0, 1, 2, 3, -1, 5, 8, 4, INT64_MAX, INT64_MIN, ABSURD,
                                  (int64_t)1 << 40, -ABSURD, 7, 1, 2 };
static const int64_t SIZES[8] = { 0, -1, -5, (int64_t)1 << 40, ((int64_t)1 << 40) + 1,
                                  ABSURD, 100, INT64_MAX };
static const int32_t OPS[] = { RMC_OP_ADD, RMC_OP_SUB, RMC_OP_MUL, RMC_OP_DIV, RMC_OP_POW,
                               RMC_OP_MIN, RMC_OP_MAX, RMC_OP_NEG, RMC_OP_EXP, RMC_OP_LOG,
                               RMC_OP_LOG1P, RMC_OP_SQRT, RMC_OP_SQUARE, RMC_OP_LOGISTIC,
                               RMC_OP_LGAMMA, RMC_OP_EXPM1, RMC_OP_LOG1P_EXP, RMC_OP_TANH,
                               RMC_OP_ABS, RMC_OP_SUM, RMC_OP_DOT, RMC_OP_LOG_SUM_EXP,
                               RMC_OP_LOG_MIX, 7, 31, -1, 1000 };
#define NOPS ((unsigned)(sizeof OPS / sizeof OPS[0]))

struct reader {
    const uint8_t *p;
    size_t n, i;
};

static unsigned u8(struct reader *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

struct session {
    struct reader in;
    rmc_model *model;
    rmc_data *data;
    rmc_node nodes[MAX_NODES];
    int n_nodes;
    void *arrays[MAX_ARRAYS];
    int n_arrays;
    char long_name[300];
    /* sampler settings, from the last OP_SAMPLE */
    int sample;
    rmc_config config;
};

static const char *name(struct session *s)
{
    static const char *pool[] = { "x", "y", "g", "J", "K", "theta", "mu", "sigma", "z",
                                  "X", "", "a[1]", "b,c", NULL, "long", "tau" };
    const char *n = pool[u8(&s->in) % 16];

    return n && strcmp(n, "long") == 0 ? s->long_name : n;
}

/* A node operand: mostly a recent node, sometimes an id that is not one. */
static rmc_node node(struct session *s)
{
    static const rmc_node invalid[6] = { RMC_NONE, -2, 1000000, INT32_MAX, INT32_MIN, 0 };
    unsigned b = u8(&s->in);

    if (b >= 250 || s->n_nodes == 0)
        return b >= 250 && b - 250 < 5 ? invalid[b - 250] : (rmc_node)s->n_nodes;
    return s->nodes[s->n_nodes - 1 - (int)(b % (unsigned)s->n_nodes)];
}

static rmc_node optional_node(struct session *s)
{
    return u8(&s->in) & 1 ? node(s) : RMC_NONE;
}

static double real(struct session *s)
{
    return REALS[u8(&s->in) % 16];
}

/* A dimension: small mostly, else a special size; with dim names sometimes. */
static int32_t shape(struct session *s, int64_t dims[RMC_MAX_DIMS + 1],
                     const char *names[RMC_MAX_DIMS + 1], int *named)
{
    int32_t ndim = (int32_t)(u8(&s->in) % 5) - 1; /* -1 .. 3 */

    *named = 0;
    for (int d = 0; d < RMC_MAX_DIMS + 1; d++) {
        unsigned b = u8(&s->in);

        dims[d] = b < 192 ? (int64_t)(b % 6) + 1 : SIZES[b % 8];
        names[d] = NULL;
        if (b >= 160 && b < 192) {
            names[d] = b & 1 ? "J" : "K";
            *named = 1;
        }
    }
    return ndim;
}

static void keep(struct session *s, rmc_status st, rmc_node out)
{
    if (st == RMC_OK && s->n_nodes < MAX_NODES)
        s->nodes[s->n_nodes++] = out;
}

static void data_set(struct session *s)
{
    const char *n = name(s);
    unsigned t = u8(&s->in);
    rmc_dtype dtype = (rmc_dtype)(t % 3);
    int32_t ndim = (int32_t)(u8(&s->in) % 4); /* 0 .. 3 */
    int64_t shape_[3], size = 1;
    void *buf = NULL;

    for (int d = 0; d < 3; d++) {
        unsigned b = u8(&s->in);

        shape_[d] = b < 240 ? (int64_t)(b % 10) : (b & 1 ? 60 : -1);
        if (d < ndim)
            size *= shape_[d] < 0 ? 0 : shape_[d];
    }
    if (t >= 250 || ndim > RMC_MAX_DIMS) {
        /* an unknown dtype, a null pointer for a non-empty array, too many dimensions */
        (void)rmc_data_set(s->data, n, t & 1 ? (rmc_dtype)9 : dtype, t & 2 ? NULL : REALS,
                           ndim, shape_);
        return;
    }
    if (s->n_arrays == MAX_ARRAYS || size > 4096)
        return;
    buf = calloc((size_t)(size ? size : 1), 8);
    if (!buf)
        return;
    s->arrays[s->n_arrays++] = buf;
    for (int64_t i = 0; i < size; i++) {
        unsigned b = u8(&s->in);

        if (dtype == RMC_REAL)
            ((double *)buf)[i] = REALS[b % 16];
        else if (dtype == RMC_INT32)
            ((int32_t *)buf)[i] = (int32_t)INTS[b % 16];
        else
            ((int64_t *)buf)[i] = INTS[b % 16];
    }
    (void)rmc_data_set(s->data, n, dtype, size == 0 && (t & 4) ? NULL : buf, ndim, shape_);
}

static void step(struct session *s, unsigned opcode)
{
    rmc_node out = RMC_NONE, args[5];
    int64_t dims[RMC_MAX_DIMS + 1];
    const char *names[RMC_MAX_DIMS + 1];
    int named, nargs;
    int32_t ndim;
    rmc_status st;

    switch (opcode % OP_COUNT) {
    case OP_PARAM: {
        const char *n = name(s);
        rmc_node lo = optional_node(s), hi = optional_node(s);

        ndim = shape(s, dims, names, &named);
        st = rmc_param(s->model, n, ndim, dims, named ? names : NULL, lo, hi, &out);
        keep(s, st, out);
        break;
    }
    case OP_DATA_FIELD: {
        const char *n = name(s);
        rmc_dtype t = (rmc_dtype)(u8(&s->in) % 4);

        ndim = shape(s, dims, names, &named);
        if (u8(&s->in) & 1)
            dims[0] = -1;
        st = rmc_data_field(s->model, n, t, ndim, dims, named ? names : NULL, &out);
        keep(s, st, out);
        break;
    }
    case OP_CONST:
        keep(s, rmc_const(s->model, real(s), &out), out);
        break;
    case OP_CONST_VECTOR: {
        double v[5];
        int64_t n = (int64_t)(u8(&s->in) % 6);

        for (int64_t i = 0; i < n; i++)
            v[i] = real(s);
        keep(s, rmc_const_vector(s->model, n ? v : NULL, n, &out), out);
        break;
    }
    case OP_OP1: {
        int32_t op = OPS[u8(&s->in) % NOPS];

        keep(s, rmc_op1(s->model, (rmc_op)op, node(s), &out), out);
        break;
    }
    case OP_OP2: {
        int32_t op = OPS[u8(&s->in) % NOPS];
        rmc_node a = node(s);

        keep(s, rmc_op2(s->model, (rmc_op)op, a, node(s), &out), out);
        break;
    }
    case OP_OP3: {
        int32_t op = OPS[u8(&s->in) % NOPS];
        rmc_node a = node(s), b = node(s);

        keep(s, rmc_op3(s->model, (rmc_op)op, a, b, node(s), &out), out);
        break;
    }
    case OP_GATHER: {
        rmc_node v = node(s), idx = node(s);

        keep(s, rmc_gather(s->model, v, idx, (int32_t)(u8(&s->in) % 3), &out), out);
        break;
    }
    case OP_SLICE: {
        rmc_node v = node(s);
        int64_t begin = (int64_t)(u8(&s->in) % 8) - 1, end = (int64_t)(u8(&s->in) % 9) - 1;

        keep(s, rmc_slice(s->model, v, begin, end, &out), out);
        break;
    }
    case OP_INDEX: {
        rmc_node v = node(s);

        keep(s, rmc_index(s->model, v, (int64_t)(u8(&s->in) % 8) - 1, &out), out);
        break;
    }
    case OP_MATVEC: {
        rmc_node a = node(s);

        keep(s, rmc_matvec(s->model, a, node(s), &out), out);
        break;
    }
    case OP_TILDE:
    case OP_LPDF: {
        rmc_dist dist = (rmc_dist)((int)(u8(&s->in) % (RMC_DIST_COUNT + 2)) - 1);
        rmc_node value = node(s);

        nargs = (int)(u8(&s->in) % 5);
        for (int k = 0; k < nargs; k++)
            args[k] = node(s);
        if (opcode % OP_COUNT == OP_TILDE) {
            (void)rmc_tilde(s->model, dist, value, nargs, nargs ? args : NULL);
        } else {
            st = rmc_lpdf(s->model, dist, value, nargs, nargs ? args : NULL, &out);
            keep(s, st, out);
        }
        break;
    }
    case OP_TARGET:
        (void)rmc_target(s->model, node(s));
        break;
    case OP_DETERMINISTIC: {
        const char *n = name(s);

        (void)rmc_deterministic(s->model, n, node(s));
        break;
    }
    case OP_DATA_SET:
        data_set(s);
        break;
    case OP_SAMPLE: {
        unsigned b = u8(&s->in);

        s->sample = 1;
        rmc_config_default(&s->config);
        s->config.chains = 1 + (int64_t)(b & 1);
        s->config.threads = 1;
        s->config.warmup = (int64_t)(u8(&s->in) % 24);
        s->config.draws = 1 + (int64_t)(u8(&s->in) % 4);
        s->config.thin = 1 + (int64_t)((b >> 1) & 1);
        s->config.sampler = (b >> 2) & 1 ? RMC_SAMPLER_HMC : RMC_SAMPLER_NUTS;
        s->config.hmc_steps = 1 + (int32_t)((b >> 3) & 3);
        s->config.max_depth = 1 + (int32_t)(u8(&s->in) % 4);
        s->config.step_size = fabs(real(s));
        s->config.init_radius = fabs(real(s));
        s->config.init_tries = 1 + (int32_t)(u8(&s->in) % 4);
        s->config.seed = u8(&s->in);
        break;
    }
    }
}

/* What a bound program offers: evaluation, the output columns and back, sampling. */
static void exercise(struct session *s, const rmc_program *p)
{
    int64_t dim = rmc_program_dim(p), ncol = rmc_program_num_columns(p);
    double *x, *grad, *cols, *back, lp[2];
    rmc_fit *fit = NULL;

    if (dim < 1 || dim > MAX_EVAL_DIM || ncol < dim || ncol > MAX_EVAL_DIM)
        return;
    for (int64_t v = 0; v < rmc_program_num_vars(p); v++) {
        const char *n;
        int32_t nd;
        int64_t dims[RMC_MAX_DIMS], first;

        (void)rmc_program_var(p, v, &n, &nd, dims, &first);
    }
    (void)rmc_program_column_name(p, ncol - 1);
    x = calloc((size_t)(2 * dim), sizeof *x);
    grad = calloc((size_t)(2 * dim), sizeof *grad);
    cols = calloc((size_t)ncol, sizeof *cols);
    back = calloc((size_t)dim, sizeof *back);
    if (x && grad && cols && back) {
        for (int64_t i = 0; i < dim; i++)
            x[dim + i] = REALS[(size_t)i % 16 == 13 ? 0 : (size_t)i % 16];
        (void)rmc_program_logp_grad(p, 2, x, lp, grad);
        (void)rmc_program_logp_grad(p, 2, x, lp, NULL);
        (void)rmc_program_constrain(p, x + dim, cols);
        (void)rmc_program_unconstrain(p, cols, back);
    }
    if (s->sample && dim <= MAX_SAMPLE_DIM && rmc_sample(p, &s->config, &fit) == RMC_OK) {
        double *sum = calloc((size_t)ncol * RMC_SUM_COUNT, sizeof *sum);

        if (sum)
            (void)rmc_fit_summary(fit, sum);
        (void)rmc_fit_summary_text(fit);
        (void)rmc_fit_adaptation(fit, 0, lp, back);
        free(sum);
    }
    rmc_fit_free(fit);
    free(x);
    free(grad);
    free(cols);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The outcome of binding, for the replay's -v. */
static rmc_status bind_status;
static char bind_message[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct session s;
    rmc_program *p = NULL;

    memset(&s, 0, sizeof s);
    s.in = (struct reader){ data, size, 0 };
    memset(s.long_name, 'n', sizeof s.long_name - 1);
    if (rmc_model_create(&s.model) != RMC_OK || rmc_data_create(&s.data) != RMC_OK) {
        rmc_model_free(s.model);
        return 0;
    }
    for (int k = 0; k < MAX_OPS && s.in.i < s.in.n; k++)
        step(&s, u8(&s.in));
    bind_status = rmc_program_create(s.model, s.data, &p);
    snprintf(bind_message, sizeof bind_message, "%s", bind_status ? rmc_last_error() : "");
    if (bind_status == RMC_OK) {
        /* Programs outlive their model: free it first so a dangling reference shows. */
        rmc_model_free(s.model);
        s.model = NULL;
        exercise(&s, p);
    }
    rmc_program_free(p);
    rmc_model_free(s.model);
    rmc_data_free(s.data);
    for (int i = 0; i < s.n_arrays; i++)
        free(s.arrays[i]);
    return 0;
}

#ifndef RMC_LIBFUZZER
/* Replay: run each file named on the command line through the harness once; -v says how
 * binding went for each. */
int main(int argc, char **argv)
{
    int failed = 0, verbose = argc > 1 && strcmp(argv[1], "-v") == 0;

    for (int a = 1 + verbose; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        uint8_t *buf;
        long len;

        if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            failed = 1;
            if (f)
                fclose(f);
            continue;
        }
        buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            failed = 1;
        } else {
            LLVMFuzzerTestOneInput(buf, (size_t)len);
            if (verbose)
                printf("%s: %s %s\n", argv[a], rmc_status_string(bind_status), bind_message);
        }
        free(buf);
        fclose(f);
    }
    printf("replayed %d input(s)\n", argc - 1 - verbose);
    return failed;
}
#endif
