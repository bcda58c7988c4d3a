/* fit.c - draws, statistics and their summary. */
#include "fit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "program.h"
#include "util.h"

struct rmc_fit *fit_create(const rmc_program *p, const rmc_config *config)
{
    struct rmc_fit *f = rmc_calloc(1, sizeof *f);
    const int64_t kept = config->keep_draws ? config->draws : 0; /* 0: streamed only */
    int64_t rows = rmc_mul_size(config->chains, kept);

    if (!f || rows < 0)
        goto fail;
    f->chains = config->chains;
    f->draws = kept;
    f->columns = p->n_columns;
    f->dim = p->dim;
    f->max_depth = config->sampler == RMC_SAMPLER_NUTS ? config->max_depth : 0;
    f->values = rmc_calloc((size_t)rows, (size_t)p->n_columns * sizeof(double));
    f->stats = rmc_calloc((size_t)rows, RMC_STAT_COUNT * sizeof(double));
    f->completed = rmc_calloc((size_t)config->chains, sizeof *f->completed);
    f->step_size = rmc_calloc((size_t)config->chains, sizeof *f->step_size);
    f->inv_metric = rmc_calloc((size_t)config->chains, (size_t)p->dim * sizeof(double));
    f->names = rmc_calloc((size_t)p->n_columns, sizeof *f->names);
    if (!f->values || !f->stats || !f->completed || !f->step_size || !f->inv_metric ||
        !f->names)
        goto fail;
    for (int64_t j = 0; j < p->n_columns; j++) {
        f->names[j] = rmc_strdup(p->columns[j]);
        if (!f->names[j])
            goto fail;
    }
    return f;

fail:
    rmc_fit_free(f);
    return NULL;
}

void rmc_fit_free(rmc_fit *f)
{
    if (!f)
        return;
    for (int64_t j = 0; f->names && j < f->columns; j++)
        free(f->names[j]);
    free(f->names);
    free(f->values);
    free(f->stats);
    free(f->completed);
    free(f->step_size);
    free(f->inv_metric);
    free(f->summary_text);
    free(f);
}

int64_t rmc_fit_chains(const rmc_fit *f) { return f ? f->chains : -1; }
int64_t rmc_fit_draws(const rmc_fit *f) { return f ? f->draws : -1; }
int64_t rmc_fit_num_columns(const rmc_fit *f) { return f ? f->columns : -1; }
int32_t rmc_fit_cancelled(const rmc_fit *f) { return f ? f->cancelled : 0; }
const double *rmc_fit_values(const rmc_fit *f) { return f ? f->values : NULL; }
const double *rmc_fit_stats(const rmc_fit *f) { return f ? f->stats : NULL; }
int64_t rmc_fit_num_gradients(const rmc_fit *f) { return f ? f->gradients : -1; }
double rmc_fit_seconds(const rmc_fit *f) { return f ? f->seconds : NAN; }

double rmc_fit_idle_fraction(const rmc_fit *f)
{
    if (!f || f->batch_slots <= 0)
        return NAN;
    return 1.0 - (double)f->batch_used / (double)f->batch_slots;
}

int32_t rmc_fit_backend(const rmc_fit *f) { return f ? f->backend : -1; }
const char *rmc_fit_device(const rmc_fit *f) { return f ? f->device : ""; }
const char *rmc_fit_backend_reason(const rmc_fit *f) { return f ? f->backend_reason : ""; }

int64_t rmc_fit_completed(const rmc_fit *f, int64_t chain)
{
    return f && chain >= 0 && chain < f->chains ? f->completed[chain] : -1;
}

const char *rmc_fit_column_name(const rmc_fit *f, int64_t column)
{
    return f && column >= 0 && column < f->columns ? f->names[column] : NULL;
}

rmc_status rmc_fit_adaptation(const rmc_fit *f, int64_t chain, double *step_size,
                              double *inv_metric)
{
    if (!f || chain < 0 || chain >= f->chains)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_fit_adaptation: no chain %lld",
                        (long long)chain);
    if (step_size)
        *step_size = f->step_size[chain];
    if (inv_metric)
        memcpy(inv_metric, f->inv_metric + chain * f->dim, (size_t)f->dim * sizeof(double));
    return RMC_OK;
}

/* Draws every chain completed: a cancelled run's chains may differ in length, and the
 * diagnostics need equal lengths. */
static int64_t common_length(const rmc_fit *f)
{
    int64_t n = f->draws;

    for (int64_t c = 0; c < f->chains; c++)
        n = f->completed[c] < n ? f->completed[c] : n;
    return n;
}

/* diag_summary_columns' view of a fit: column j of every chain's first n draws. */
struct column_source {
    const rmc_fit *fit;
    int64_t n;
};

static void fill_column(void *ctx, int64_t j, double *buf)
{
    const struct column_source *src = ctx;
    const rmc_fit *f = src->fit;

    for (int64_t c = 0; c < f->chains; c++) {
        const double *from = f->values + (c * f->draws) * f->columns + j;

        for (int64_t d = 0; d < src->n; d++)
            buf[c * src->n + d] = from[d * f->columns];
    }
}

rmc_status rmc_fit_summary(const rmc_fit *f, double *out)
{
    if (!f || !out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_fit_summary: fit and out must be given");

    struct column_source src = {f, common_length(f)};
    if (src.n == 0) {
        for (int64_t k = 0; k < f->columns * RMC_SUM_COUNT; k++)
            out[k] = NAN;
        return RMC_OK;
    }

    /* Columns are independent, so they spread over the cores; each column's arithmetic is
     * the same whichever thread does it, so the figures do not depend on the core count. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores < 1 ? 1 : cores > DIAG_MAX_THREADS ? DIAG_MAX_THREADS : (int)cores;
    if (diag_summary_columns(f->chains, src.n, f->columns, fill_column, &src, threads,
                             out) != 0)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_fit_summary: out of memory");
    return RMC_OK;
}

/* Append to a growing string; on allocation failure the text is simply cut short. */
struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) RMC_PRINTF(2, 3);

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int need;

    va_start(ap, fmt);
    need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)need + 1);
        char *grown = realloc(t->s, cap);

        if (!grown)
            return;
        t->s = grown;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
}

const char *rmc_fit_summary_text(rmc_fit *f)
{
    struct text t = { 0 };
    double *sum;
    int64_t divergent = 0, saturated = 0, n = 0, bad_rhat = 0;
    int width = 8;

    if (!f)
        return "";
    if (f->summary_text)
        return f->summary_text;
    sum = rmc_calloc((size_t)f->columns, RMC_SUM_COUNT * sizeof *sum);
    if (!sum || rmc_fit_summary(f, sum) != RMC_OK) {
        free(sum);
        return "(summary unavailable: out of memory)";
    }
    for (int64_t j = 0; j < f->columns; j++) {
        int len = (int)strlen(f->names[j]);

        width = len > width ? (len < 40 ? len : 40) : width;
    }

    text_add(&t, "%-*s %10s %10s %10s %10s %10s %9s %9s %9s %7s\n", width, "", "mean", "sd",
             "5%", "50%", "95%", "mcse", "ess_bulk", "ess_tail", "r_hat");
    for (int64_t j = 0; j < f->columns; j++) {
        const double *s = sum + j * RMC_SUM_COUNT;

        text_add(&t, "%-*.40s %10.4g %10.4g %10.4g %10.4g %10.4g %9.2g %9.0f %9.0f %7.3f\n",
                 width, f->names[j], s[RMC_SUM_MEAN], s[RMC_SUM_SD], s[RMC_SUM_Q5],
                 s[RMC_SUM_Q50], s[RMC_SUM_Q95], s[RMC_SUM_MCSE_MEAN], s[RMC_SUM_ESS_BULK],
                 s[RMC_SUM_ESS_TAIL], s[RMC_SUM_RHAT]);
        bad_rhat += s[RMC_SUM_RHAT] > 1.01;
    }
    for (int64_t c = 0; c < f->chains; c++) {
        for (int64_t d = 0; d < f->completed[c]; d++) {
            const double *st = f->stats + (c * f->draws + d) * RMC_STAT_COUNT;

            divergent += st[RMC_STAT_DIVERGENT] != 0.0;
            /* the run's own limit: a tree that reached it stopped doubling there */
            saturated += f->max_depth > 0 && st[RMC_STAT_TREE_DEPTH] >= f->max_depth;
            n++;
        }
    }
    text_add(&t, "\n%lld chains x %lld draws%s; %lld gradient evaluations in %.3f s\n",
             (long long)f->chains, (long long)f->draws, f->cancelled ? " (cancelled)" : "",
             (long long)f->gradients, f->seconds);
    if (divergent)
        text_add(&t, "warning: %lld of %lld draws (%.2f%%) ended in a divergence; consider a "
                 "higher target_accept or a reparameterisation\n", (long long)divergent,
                 (long long)n, 100.0 * (double)divergent / (double)n);
    if (bad_rhat)
        text_add(&t, "warning: %lld column%s with R-hat above 1.01: the chains disagree\n",
                 (long long)bad_rhat, bad_rhat > 1 ? "s" : "");
    if (saturated)
        text_add(&t, "warning: %lld draws hit the maximum tree depth\n", (long long)saturated);
    free(sum);
    f->summary_text = t.s ? t.s : rmc_strdup("");
    return f->summary_text ? f->summary_text : "";
}
