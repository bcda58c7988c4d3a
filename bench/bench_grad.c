/*
 * bench_grad.c - gradient evaluations per second, rmc against hand-written C.
 *
 * Builds the quick-start, eight schools, logistic regression (N=5,000, K=25) and
 * posteriordb's diamonds (N=5,000, K=24) models through the rmc C API, checks that
 * rmc_program_logp_grad agrees with bench/handwritten.c at random positions (so a wrong
 * answer is never timed), then times both on the same batch of positions.
 *
 * Usage: bench_grad [seconds per repetition, default 1] [posteriordb folder]
 * diamonds needs cJSON at build time and the posteriordb folder (argument, $RMC_POSTERIORDB
 * or ../shared/posteriordb beside the source); without them it is skipped, saying why.
 * Exit status: 0 on success, 1 on an rmc error, 2 on a mismatch with the hand-written code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handwritten.h"
#include "rmc.h"

#ifdef RMC_BENCH_DIAMONDS
#include <cjson/cJSON.h>

#include "posteriordb_json.h"
#endif

#define BATCH 256
#define REPS 5
#define CHECK_POINTS 8
#define REL_TOL 1e-9
#define NSUBJ 4
/* The largest model's dimension sizes the check and position buffers (diamonds: 26). */
#define MAX_DIM 32

/* Jump to the function's fail label, saying which call failed and why. */
#define CHECK(call)                                                                       \
    do {                                                                                  \
        rmc_status check_status_ = (call);                                                \
        if (check_status_ != RMC_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,      \
                    rmc_status_string(check_status_), rmc_last_error());                  \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

/* ---------------------------------------------------------------- small helpers */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: positions for checking and timing; independent of the data generator. */
static double uniform(uint64_t *state, double lo, double hi)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    uint64_t z = *state * 0x2545f4914f6cdd1du;
    return lo + (hi - lo) * ((double)(z >> 11) * 0x1.0p-53);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Relative agreement, with the scale floored at `floor` so that a gradient component
 * that happens to be near zero is judged against the size of its neighbours rather than
 * against zero itself. */
static int close_enough(double a, double b, double floor)
{
    double scale = fmax(floor, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= REL_TOL * scale;
}

/* ---------------------------------------------------------------- the two models */

/* Quick-start: beta ~ Normal(0, 1); y ~ Normal(beta * x, 1). Returns 0 on success. */
static int build_quick(rmc_model **out)
{
    rmc_model *m = NULL;
    rmc_node beta, x, y, zero, one, mean;
    int64_t any = -1;

    *out = NULL;
    CHECK(rmc_model_create(&m));
    CHECK(rmc_param(m, "beta", 0, NULL, NULL, RMC_NONE, RMC_NONE, &beta));
    CHECK(rmc_data_field(m, "x", RMC_REAL, 1, &any, NULL, &x));
    CHECK(rmc_data_field(m, "y", RMC_REAL, 1, &any, NULL, &y));
    CHECK(rmc_const(m, 0.0, &zero));
    CHECK(rmc_const(m, 1.0, &one));

    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){zero, one}));
    CHECK(rmc_op2(m, RMC_OP_MUL, beta, x, &mean));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){mean, one}));

    *out = m;
    return 0;
fail:
    if (m != NULL) {
        rmc_model_free(m);
    }
    return 1;
}

/* Eight schools, non-centred. Parameters are declared mu, tau, theta_trans so that the
 * unconstrained layout is the hand-written one: mu, log tau, theta_trans[1..8]. Returns 0
 * on success. */
static int build_eight(rmc_model **out)
{
    rmc_model *m = NULL;
    rmc_node mu, tau, tt, y, sigma, zero, one, five, scaled, theta;
    int64_t j = HW_EIGHT_J;

    *out = NULL;
    CHECK(rmc_model_create(&m));
    CHECK(rmc_const(m, 0.0, &zero));
    CHECK(rmc_const(m, 1.0, &one));
    CHECK(rmc_const(m, 5.0, &five));
    CHECK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    CHECK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    CHECK(rmc_param(m, "theta_trans", 1, &j, NULL, RMC_NONE, RMC_NONE, &tt));
    CHECK(rmc_data_field(m, "y", RMC_REAL, 1, &j, NULL, &y));
    CHECK(rmc_data_field(m, "sigma", RMC_REAL, 1, &j, NULL, &sigma));

    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){zero, five}));
    CHECK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, &five));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, tt, 2, (rmc_node[]){zero, one}));

    CHECK(rmc_op2(m, RMC_OP_MUL, tau, tt, &scaled));
    CHECK(rmc_op2(m, RMC_OP_ADD, mu, scaled, &theta));
    CHECK(rmc_deterministic(m, "theta", theta));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){theta, sigma}));

    *out = m;
    return 0;
fail:
    if (m != NULL) {
        rmc_model_free(m);
    }
    return 1;
}

/* Logistic regression: alpha ~ Normal(0, 2.5); beta ~ Normal(0, 1);
 * y ~ BernoulliLogit(alpha + X beta). Returns 0 on success. */
static int build_logit(rmc_model **out)
{
    rmc_model *m = NULL;
    rmc_node alpha, beta, x, y, zero, one, sd, xb, eta;
    int64_t k = HW_LOGIT_K, any = -1;

    *out = NULL;
    CHECK(rmc_model_create(&m));
    CHECK(rmc_const(m, 0.0, &zero));
    CHECK(rmc_const(m, 1.0, &one));
    CHECK(rmc_const(m, HW_LOGIT_ALPHA_SD, &sd));
    CHECK(rmc_param(m, "alpha", 0, NULL, NULL, RMC_NONE, RMC_NONE, &alpha));
    CHECK(rmc_param(m, "beta", 1, &k, NULL, RMC_NONE, RMC_NONE, &beta));
    CHECK(rmc_data_field(m, "x", RMC_REAL, 2, (int64_t[]){any, k}, NULL, &x));
    CHECK(rmc_data_field(m, "y", RMC_INT32, 1, &any, NULL, &y));

    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, alpha, 2, (rmc_node[]){zero, sd}));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){zero, one}));
    CHECK(rmc_matvec(m, x, beta, &xb));
    CHECK(rmc_op2(m, RMC_OP_ADD, alpha, xb, &eta));
    CHECK(rmc_tilde(m, RMC_DIST_BERNOULLI_LOGIT, y, 1, &eta));

    *out = m;
    return 0;
fail:
    if (m != NULL) {
        rmc_model_free(m);
    }
    return 1;
}

/* diamonds-diamonds with centred predictors, as examples/diamonds.c writes it; the
 * parameters in the hand-written layout: b[p], Intercept, sigma. Returns 0 on success. */
static int build_diamonds(int64_t p, rmc_model **out)
{
    rmc_model *m = NULL;
    rmc_node zero, one, three, eight, ten, b, intercept, sigma, xc, y, xb, mu;
    int64_t any = -1;

    *out = NULL;
    CHECK(rmc_model_create(&m));
    CHECK(rmc_const(m, 0.0, &zero));
    CHECK(rmc_const(m, 1.0, &one));
    CHECK(rmc_const(m, 3.0, &three));
    CHECK(rmc_const(m, 8.0, &eight));
    CHECK(rmc_const(m, 10.0, &ten));
    CHECK(rmc_param(m, "b", 1, &p, NULL, RMC_NONE, RMC_NONE, &b));
    CHECK(rmc_param(m, "Intercept", 0, NULL, NULL, RMC_NONE, RMC_NONE, &intercept));
    CHECK(rmc_param(m, "sigma", 0, NULL, NULL, zero, RMC_NONE, &sigma));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, b, 2, (rmc_node[]){zero, one}));
    CHECK(rmc_tilde(m, RMC_DIST_STUDENT_T, intercept, 3, (rmc_node[]){three, eight, ten}));
    CHECK(rmc_tilde(m, RMC_DIST_HALF_STUDENT_T, sigma, 2, (rmc_node[]){three, ten}));
    CHECK(rmc_data_field(m, "Xc", RMC_REAL, 2, (int64_t[]){any, p}, NULL, &xc));
    CHECK(rmc_data_field(m, "Y", RMC_REAL, 1, &any, NULL, &y));
    CHECK(rmc_matvec(m, xc, b, &xb));
    CHECK(rmc_op2(m, RMC_OP_ADD, intercept, xb, &mu));
    CHECK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){mu, sigma}));

    *out = m;
    return 0;
fail:
    if (m != NULL) {
        rmc_model_free(m);
    }
    return 1;
}

struct diamonds_ctx {
    int64_t n, p;
    double *xc, *y; /* owned */
};

/* Read Y and X from posteriordb and centre X's predictor columns (its first column is the
 * intercept's ones). Returns 0, or 1 with a line on stderr saying why not. */
static int read_diamonds(const char *dir, struct diamonds_ctx *d)
{
#ifdef RMC_BENCH_DIAMONDS
    cJSON *json = pdbx_load(dir, "diamonds-diamonds");
    int64_t rows = 0, cols = 0, ny = 0, one = 0;
    double *x = NULL;

    if (json == NULL)
        return 1;
    d->y = pdbx_array(json, "Y", 0, &ny, &one);
    x = pdbx_array(json, "X", 0, &rows, &cols);
    cJSON_Delete(json);
    if (d->y == NULL || x == NULL || rows != ny || cols < 2 || cols - 1 + 2 > MAX_DIM) {
        fprintf(stderr, "diamonds: unexpected data shapes\n");
        free(x);
        return 1;
    }
    d->n = rows;
    d->p = cols - 1;
    d->xc = malloc((size_t)(d->n * d->p) * sizeof *d->xc);
    if (d->xc == NULL) {
        free(x);
        return 1;
    }
    pdbx_centre_predictors(x, d->n, cols, d->xc);
    free(x);
    return 0;
#else
    (void)dir;
    (void)d;
    fprintf(stderr, "built without cJSON (libcjson-dev)\n");
    return 1;
#endif
}

/* ---------------------------------------------------------------- evaluators */

/* One benchmark subject: evaluate lp and grad for batch positions. Returns 0 on success. */
typedef int (*eval_fn)(void *ctx, int64_t batch, const double *x, double *lp, double *grad);

struct rmc_ctx {
    const rmc_program *program;
};

static int eval_rmc(void *ctx, int64_t batch, const double *x, double *lp, double *grad)
{
    const struct rmc_ctx *c = ctx;
    rmc_status s = rmc_program_logp_grad(c->program, batch, x, lp, grad);
    if (s != RMC_OK) {
        fprintf(stderr, "rmc_program_logp_grad failed: %s: %s\n", rmc_status_string(s),
                rmc_last_error());
        return 1;
    }
    return 0;
}

struct quick_ctx {
    const double *x, *y;
};

static int eval_hw_quick(void *ctx, int64_t batch, const double *x, double *lp, double *grad)
{
    const struct quick_ctx *c = ctx;
    hw_quick_logp_grad_batch(HW_QUICK_N, c->x, c->y, batch, x, lp, grad);
    return 0;
}

static int eval_hw_eight(void *ctx, int64_t batch, const double *x, double *lp, double *grad)
{
    (void)ctx;
    hw_eight_logp_grad_batch(batch, x, lp, grad);
    return 0;
}

struct logit_ctx {
    const double *x;
    const int32_t *y;
};

static int eval_hw_logit(void *ctx, int64_t batch, const double *x, double *lp, double *grad)
{
    const struct logit_ctx *c = ctx;
    hw_logit_logp_grad_batch(HW_LOGIT_N, HW_LOGIT_K, c->x, c->y, batch, x, lp, grad);
    return 0;
}

static int eval_hw_diamonds(void *ctx, int64_t batch, const double *x, double *lp,
                            double *grad)
{
    const struct diamonds_ctx *c = ctx;
    hw_diamonds_logp_grad_batch(c->n, c->p, c->xc, c->y, batch, x, lp, grad);
    return 0;
}

/* ---------------------------------------------------------------- checking */

/* Compare rmc and hand-written lp and gradient at CHECK_POINTS positions uniform in
 * (-half_width, half_width). Returns 0 when every value agrees. */
static int check_agreement(const char *label, void *rmc_ctx, void *hw_ctx, eval_fn hw,
                           int64_t dim, double half_width, uint64_t seed)
{
    double x[CHECK_POINTS * MAX_DIM];
    double lp_r[CHECK_POINTS], lp_h[CHECK_POINTS];
    double g_r[CHECK_POINTS * MAX_DIM], g_h[CHECK_POINTS * MAX_DIM];
    int bad = 0;

    if (dim > MAX_DIM) {
        fprintf(stderr, "%s: dimension %lld exceeds the check buffers\n", label,
                (long long)dim);
        return 1;
    }
    for (int64_t k = 0; k < CHECK_POINTS * dim; k++) {
        x[k] = uniform(&seed, -half_width, half_width);
    }

    if (eval_rmc(rmc_ctx, CHECK_POINTS, x, lp_r, g_r) != 0) {
        return 1;
    }
    if (hw(hw_ctx, CHECK_POINTS, x, lp_h, g_h) != 0) {
        return 1;
    }

    for (int p = 0; p < CHECK_POINTS; p++) {
        if (!close_enough(lp_r[p], lp_h[p], 1.0)) {
            fprintf(stderr, "%s: point %d: lp rmc %.17g hand-written %.17g\n", label, p,
                    lp_r[p], lp_h[p]);
            bad = 1;
        }
        double gscale = 1.0;
        for (int64_t k = 0; k < dim; k++) {
            gscale = fmax(gscale, fabs(g_h[p * dim + k]));
        }
        for (int64_t k = 0; k < dim; k++) {
            double a = g_r[p * dim + k], b = g_h[p * dim + k];
            if (!close_enough(a, b, gscale)) {
                fprintf(stderr, "%s: point %d: grad[%lld] rmc %.17g hand-written %.17g\n",
                        label, p, (long long)k, a, b);
                bad = 1;
            }
        }
    }
    return bad;
}

/* Whether output column k exists and is called name. */
static int column_is(const rmc_program *program, int64_t k, const char *name)
{
    const char *got = rmc_program_column_name(program, k);
    return got != NULL && strcmp(got, name) == 0;
}

/* The eight schools output columns must be mu, tau = exp(u), theta_trans, theta: this
 * pins down the unconstrained layout and the log transform the hand-written code
 * assumes, and exercises rmc_program_constrain. */
static int check_eight_columns(const rmc_program *program)
{
    static const double x[HW_EIGHT_DIM] = {0.5, -0.3, 1.0, -1.0, 0.2, 0.4,
                                           -0.6, 0.8, -1.2, 1.5};
    double cols[2 + 2 * HW_EIGHT_J];
    int64_t ncol = rmc_program_num_columns(program);

    if (ncol != 2 + 2 * HW_EIGHT_J) {
        fprintf(stderr, "eight schools: %lld output columns, expected %d\n",
                (long long)ncol, 2 + 2 * HW_EIGHT_J);
        return 1;
    }
    if (!column_is(program, 0, "mu") || !column_is(program, 1, "tau")
        || !column_is(program, 2, "theta_trans[1]")
        || !column_is(program, 2 + HW_EIGHT_J, "theta[1]")) {
        fprintf(stderr, "eight schools: columns are not mu, tau, theta_trans[1..8], "
                        "theta[1..8]\n");
        return 1;
    }

    rmc_status s = rmc_program_constrain(program, x, cols);
    if (s != RMC_OK) {
        fprintf(stderr, "rmc_program_constrain failed: %s: %s\n", rmc_status_string(s),
                rmc_last_error());
        return 1;
    }
    double tau = exp(x[1]);
    int bad = !close_enough(cols[0], x[0], 1.0) || !close_enough(cols[1], tau, 1.0);
    for (int j = 0; j < HW_EIGHT_J; j++) {
        bad |= !close_enough(cols[2 + j], x[2 + j], 1.0);
        bad |= !close_enough(cols[2 + HW_EIGHT_J + j], x[0] + tau * x[2 + j], 1.0);
    }
    if (bad) {
        fprintf(stderr, "eight schools: rmc_program_constrain disagrees with mu, exp(u), "
                        "theta_trans, mu + tau * theta_trans\n");
    }
    return bad;
}

/* ---------------------------------------------------------------- timing */

struct rate {
    double median, min, max; /* evaluations per second */
};

/* Evaluations per second of fn: REPS repetitions, each calling fn on the same BATCH
 * positions until `seconds` have passed. Returns 0 on success. */
static int measure(eval_fn fn, void *ctx, int64_t dim, const double *x, double seconds,
                   struct rate *out)
{
    double *lp = malloc(BATCH * sizeof *lp);
    double *grad = malloc((size_t)(BATCH * dim) * sizeof *grad);
    double rates[REPS];
    int rc = 1;

    if (lp == NULL || grad == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }

    /* One untimed call to fault in pages and warm the caches. */
    if (fn(ctx, BATCH, x, lp, grad) != 0) {
        goto done;
    }

    for (int r = 0; r < REPS; r++) {
        int64_t calls = 0;
        double start = now_seconds(), elapsed;
        do {
            if (fn(ctx, BATCH, x, lp, grad) != 0) {
                goto done;
            }
            calls++;
            elapsed = now_seconds() - start;
        } while (elapsed < seconds);
        rates[r] = (double)(calls * BATCH) / elapsed;
    }

    qsort(rates, REPS, sizeof rates[0], compare_doubles);
    out->median = rates[REPS / 2];
    out->min = rates[0];
    out->max = rates[REPS - 1];
    rc = 0;
done:
    free(lp);
    free(grad);
    return rc;
}

/* ---------------------------------------------------------------- main */

struct subject {
    const char *label;
    rmc_program *program;
    int64_t dim;
    eval_fn hw;
    void *hw_ctx;
    double half_width; /* positions are uniform in (-half_width, half_width) */
    struct rate rmc, hand;
};

static void print_rate(const struct rate *r)
{
    printf(" %12.4g [%9.3g, %9.3g]", r->median, r->min, r->max);
}

int main(int argc, char **argv)
{
    static double qx[HW_QUICK_N], qy[HW_QUICK_N];
    static double lx[HW_LOGIT_N * HW_LOGIT_K];
    static int32_t ly[HW_LOGIT_N];
    double seconds = 1.0;
    rmc_model *quick_model = NULL, *eight_model = NULL, *logit_model = NULL;
    rmc_model *diamonds_model = NULL;
    rmc_data *quick_data = NULL, *eight_data = NULL, *logit_data = NULL;
    rmc_data *diamonds_data = NULL;
    struct diamonds_ctx dctx = {0, 0, NULL, NULL};
    struct subject subj[NSUBJ];
    int nsubj = NSUBJ - 1;
    double *positions = NULL;
    int64_t n = HW_QUICK_N, j = HW_EIGHT_J, ln = HW_LOGIT_N;
    int rc = 1;

    memset(subj, 0, sizeof subj);
    if (argc > 1) {
        seconds = atof(argv[1]);
        if (!(seconds > 0.0)) {
            fprintf(stderr, "usage: %s [seconds per repetition > 0] [posteriordb folder]\n",
                    argv[0]);
            return 1;
        }
    }

    /* Models and data. The data arrays are static: rmc keeps the pointers. */
    hw_quick_make_data(HW_QUICK_N, 20240607u, qx, qy);
    struct quick_ctx qctx = {qx, qy};
    hw_logit_make_data(HW_LOGIT_N, HW_LOGIT_K, 20240608u, lx, ly);
    struct logit_ctx lctx = {lx, ly};

    if (build_quick(&quick_model) != 0 || build_eight(&eight_model) != 0
        || build_logit(&logit_model) != 0) {
        goto fail;
    }
    CHECK(rmc_data_create(&quick_data));
    CHECK(rmc_data_set(quick_data, "x", RMC_REAL, qx, 1, &n));
    CHECK(rmc_data_set(quick_data, "y", RMC_REAL, qy, 1, &n));
    CHECK(rmc_data_create(&eight_data));
    CHECK(rmc_data_set(eight_data, "y", RMC_REAL, hw_eight_y, 1, &j));
    CHECK(rmc_data_set(eight_data, "sigma", RMC_REAL, hw_eight_sigma, 1, &j));
    CHECK(rmc_data_create(&logit_data));
    CHECK(rmc_data_set(logit_data, "x", RMC_REAL, lx, 2, (int64_t[]){ln, HW_LOGIT_K}));
    CHECK(rmc_data_set(logit_data, "y", RMC_INT32, ly, 1, &ln));

    subj[0] = (struct subject){.label = "quick-start (N=1000)", .dim = HW_QUICK_DIM,
                               .hw = eval_hw_quick, .hw_ctx = &qctx, .half_width = 4.0};
    subj[1] = (struct subject){.label = "eight schools (nc)", .dim = HW_EIGHT_DIM,
                               .hw = eval_hw_eight, .half_width = 2.0};
    subj[2] = (struct subject){.label = "logistic (5000 x 25)", .dim = HW_LOGIT_DIM,
                               .hw = eval_hw_logit, .hw_ctx = &lctx, .half_width = 0.5};
    CHECK(rmc_program_create(quick_model, quick_data, &subj[0].program));
    CHECK(rmc_program_create(eight_model, eight_data, &subj[1].program));
    CHECK(rmc_program_create(logit_model, logit_data, &subj[2].program));

    /* diamonds when its data can be had; a line saying why not otherwise. */
    const char *pdb_dir = argc > 2 ? argv[2] : getenv("RMC_POSTERIORDB");
#ifdef RMC_POSTERIORDB_DEFAULT
    if (pdb_dir == NULL || *pdb_dir == 0)
        pdb_dir = RMC_POSTERIORDB_DEFAULT;
#endif
    if (pdb_dir == NULL || read_diamonds(pdb_dir, &dctx) != 0) {
        printf("diamonds: skipped (no data: see the line above on stderr)\n");
    } else {
        if (build_diamonds(dctx.p, &diamonds_model) != 0)
            goto fail;
        CHECK(rmc_data_create(&diamonds_data));
        CHECK(rmc_data_set(diamonds_data, "Xc", RMC_REAL, dctx.xc, 2,
                           (int64_t[]){dctx.n, dctx.p}));
        CHECK(rmc_data_set(diamonds_data, "Y", RMC_REAL, dctx.y, 1, &dctx.n));
        subj[3] = (struct subject){.label = "diamonds (5000 x 24)", .dim = dctx.p + 2,
                                   .hw = eval_hw_diamonds, .hw_ctx = &dctx,
                                   .half_width = 0.5};
        CHECK(rmc_program_create(diamonds_model, diamonds_data, &subj[3].program));
        nsubj = NSUBJ;
    }

    /* Layouts: same number of unconstrained coordinates, in the same order. */
    for (int s = 0; s < nsubj; s++) {
        int64_t dim = rmc_program_dim(subj[s].program);
        if (dim != subj[s].dim) {
            fprintf(stderr, "%s: rmc_program_dim is %lld, the hand-written code has %lld\n",
                    subj[s].label, (long long)dim, (long long)subj[s].dim);
            rc = 2;
            goto fail;
        }
    }
    if (check_eight_columns(subj[1].program) != 0) {
        rc = 2;
        goto fail;
    }

    /* Values: a mismatch is reported and never benchmarked. */
    for (int s = 0; s < nsubj; s++) {
        struct rmc_ctx rctx = {subj[s].program};
        if (check_agreement(subj[s].label, &rctx, subj[s].hw_ctx, subj[s].hw, subj[s].dim,
                            subj[s].half_width, 0x5eedu + (uint64_t)s)
            != 0) {
            fprintf(stderr, "%s: rmc and the hand-written code disagree; not timing\n",
                    subj[s].label);
            rc = 2;
            goto fail;
        }
    }
    printf("check: rmc and hand-written lp and gradient agree to %.0e relative at %d "
           "points per model\n\n", REL_TOL, CHECK_POINTS);

    /* Timing, on the same positions for both subjects. */
    positions = malloc((size_t)(BATCH * MAX_DIM) * sizeof *positions);
    if (positions == NULL) {
        fprintf(stderr, "out of memory\n");
        goto fail;
    }
    for (int s = 0; s < nsubj; s++) {
        struct rmc_ctx rctx = {subj[s].program};
        uint64_t seed = 0xbe7cu + (uint64_t)s;
        for (int64_t k = 0; k < BATCH * subj[s].dim; k++) {
            positions[k] = uniform(&seed, -subj[s].half_width, subj[s].half_width);
        }
        if (measure(eval_rmc, &rctx, subj[s].dim, positions, seconds, &subj[s].rmc) != 0
            || measure(subj[s].hw, subj[s].hw_ctx, subj[s].dim, positions, seconds,
                       &subj[s].hand)
                   != 0) {
            goto fail;
        }
    }

    printf("gradient evaluations per second: median of %d x %.2g s, batch %d, one calling thread;"
           " [min, max]\n", REPS, seconds, BATCH);
    printf("%-22s %3s %36s %36s %9s\n", "model", "dim", "rmc evals/s",
           "hand-written evals/s", "hand/rmc");
    for (int s = 0; s < nsubj; s++) {
        printf("%-22s %3lld", subj[s].label, (long long)subj[s].dim);
        print_rate(&subj[s].rmc);
        print_rate(&subj[s].hand);
        printf(" %9.2f\n", subj[s].hand.median / subj[s].rmc.median);
    }
    rc = 0;

fail:
    /* The header does not promise that the free functions accept NULL. */
    free(positions);
    for (int s = 0; s < nsubj; s++) {
        if (subj[s].program != NULL) {
            rmc_program_free(subj[s].program);
        }
    }
    if (quick_data != NULL) {
        rmc_data_free(quick_data);
    }
    if (eight_data != NULL) {
        rmc_data_free(eight_data);
    }
    if (logit_data != NULL) {
        rmc_data_free(logit_data);
    }
    if (quick_model != NULL) {
        rmc_model_free(quick_model);
    }
    if (eight_model != NULL) {
        rmc_model_free(eight_model);
    }
    if (logit_model != NULL) {
        rmc_model_free(logit_model);
    }
    if (diamonds_data != NULL) {
        rmc_data_free(diamonds_data);
    }
    if (diamonds_model != NULL) {
        rmc_model_free(diamonds_model);
    }
    free(dctx.xc);
    free(dctx.y);
    return rc;
}
