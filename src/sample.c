/* sample.c - rmc_sample(): checks the settings, chooses a backend, runs chains on a pool
 * of threads (CPU) or in lockstep batches (Vulkan) and supervises them (progress,
 * cancellation) from the calling thread.
 *
 * CPU: threads take whole chains from a shared counter and run each to its end, so a
 * chain's draws never depend on which thread ran it: with counter-based random numbers the
 * output is bit-identical for any thread count.
 *
 * Vulkan: the calling thread advances every chain until it asks for an evaluation, sends
 * all the pending positions to the device as one batch, hands each chain its result and
 * repeats; finished chains simply drop out of the batch. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <math.h>

#include "chees.h"
#include "fit.h"
#include "program.h"
#include "sampler.h"
#include "util.h"
#include "vk.h"

struct run {
    const rmc_program *program;
    const rmc_config *config;
    struct rmc_fit *fit;
    atomic_llong next_chain;
    atomic_llong iterations;   /* finished iterations over all chains */
    atomic_llong gradients;
    atomic_llong warmup_done;  /* for progress reports: warmup iterations finished */
    atomic_llong divergent;    /* and divergences among the kept draws            */
    double t0;                 /* when rmc_sample() began                          */
    atomic_int stop;           /* cancel, or a chain failed           */
    atomic_int running;        /* worker threads not yet finished     */
    pthread_mutex_t lock;      /* guards error and done               */
    pthread_cond_t done;
    rmc_status error;
    char message[1024];
    int backend_lost;          /* Vulkan failed midway under an explicit request */
};

void rmc_config_default(rmc_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->sampler = RMC_SAMPLER_AUTO;
    c->backend = RMC_BACKEND_AUTO;
    c->chains = 4;
    c->draws = 1000;
    c->warmup = 1000;
    c->thin = 1;
    c->seed = 1;
    c->threads = 0;
    c->max_depth = 10;
    c->target_accept = 0.8;
    c->step_size = 1.0;
    c->adapt_metric = 1;
    c->hmc_steps = 16;
    c->init_radius = 2.0;
    c->init = NULL;
    c->init_tries = 100;
    c->keep_draws = 1;
}

static rmc_status check_config(const rmc_program *p, const rmc_config *c)
{
    if (c->sampler != RMC_SAMPLER_NUTS && c->sampler != RMC_SAMPLER_HMC &&
        c->sampler != RMC_SAMPLER_CHEES && c->sampler != RMC_SAMPLER_MEADS &&
        c->sampler != RMC_SAMPLER_AUTO)
        return rmc_fail(RMC_ERR_ARGUMENT, "sampler: unknown value %d", (int)c->sampler);
    if (c->sampler == RMC_SAMPLER_MEADS && c->chains < 8)
        return rmc_fail(RMC_ERR_ARGUMENT, "sampler meads adapts each of its 4 folds of chains "
                        "from another and needs at least 8 chains (64 or more work best), "
                        "got %lld", (long long)c->chains);
    if (c->draws_fn && c->sampler != RMC_SAMPLER_CHEES && c->sampler != RMC_SAMPLER_MEADS)
        return rmc_fail(RMC_ERR_ARGUMENT, "draws_fn: streaming draws works with samplers "
                        "chees and meads only for now (NUTS and HMC keep them in the fit)");
    if (!c->keep_draws && !c->draws_fn)
        return rmc_fail(RMC_ERR_ARGUMENT, "keep_draws = 0 needs a draws_fn to receive the "
                        "draws, or they would be lost");
    if (c->chunk_draws < 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "chunk_draws must be 0 (automatic) or more, got %lld",
                        (long long)c->chunk_draws);
    if (c->sampler == RMC_SAMPLER_CHEES && c->chains < 2)
        return rmc_fail(RMC_ERR_ARGUMENT, "sampler chees adapts from statistics across "
                        "chains and needs at least 2 chains (64 or more work best), got %lld",
                        (long long)c->chains);
    if (c->backend != RMC_BACKEND_AUTO && c->backend != RMC_BACKEND_CPU &&
        c->backend != RMC_BACKEND_VULKAN)
        return rmc_fail(RMC_ERR_BACKEND, "backend: unknown value %d", (int)c->backend);
    if (c->device < -1)
        return rmc_fail(RMC_ERR_ARGUMENT, "device must be 0 (choose) or k + 1 for device k, "
                        "got %d", (int)c->device);
    if (c->chains < 1 || c->chains > 100000000)
        return rmc_fail(RMC_ERR_ARGUMENT, "chains must be at least 1, got %lld",
                        (long long)c->chains);
    if (c->draws < 1)
        return rmc_fail(RMC_ERR_ARGUMENT, "draws must be at least 1, got %lld",
                        (long long)c->draws);
    if (c->warmup < 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "warmup must be 0 or more, got %lld",
                        (long long)c->warmup);
    if (c->thin < 1)
        return rmc_fail(RMC_ERR_ARGUMENT, "thin must be at least 1, got %lld",
                        (long long)c->thin);
    if (c->threads < 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "threads must be 0 (one per core) or more, got %d",
                        (int)c->threads);
    if (c->max_depth < 1 || c->max_depth > 30)
        return rmc_fail(RMC_ERR_ARGUMENT, "max_depth must be in 1..30, got %d",
                        (int)c->max_depth);
    if (!(c->target_accept > 0.0 && c->target_accept < 1.0))
        return rmc_fail(RMC_ERR_ARGUMENT, "target_accept must be in (0, 1), got %g",
                        c->target_accept);
    if (!(c->step_size > 0.0) || !isfinite(c->step_size))
        return rmc_fail(RMC_ERR_ARGUMENT, "step_size must be positive, got %g", c->step_size);
    if (c->hmc_steps < 1)
        return rmc_fail(RMC_ERR_ARGUMENT, "hmc_steps must be at least 1, got %d",
                        (int)c->hmc_steps);
    if (!(c->init_radius >= 0.0) || !isfinite(c->init_radius))
        return rmc_fail(RMC_ERR_ARGUMENT, "init_radius must be 0 or more, got %g",
                        c->init_radius);
    if (c->init_tries < 1)
        return rmc_fail(RMC_ERR_ARGUMENT, "init_tries must be at least 1, got %d",
                        (int)c->init_tries);
    /* The run's total, chains x (warmup + draws x thin) iterations, is counted for the
     * progress callback, so it must fit in int64 (the product is checked last, after the
     * memory the draws need, which is the likelier culprit). */
    if (c->draws > (INT64_MAX - c->warmup) / c->thin)
        return rmc_fail(RMC_ERR_ARGUMENT, "warmup + draws * thin overflows");
    for (int64_t i = 0; c->init && i < c->chains * p->dim; i++) {
        if (!isfinite(c->init[i]))
            return rmc_fail(RMC_ERR_ARGUMENT, "init: value %lld (chain %lld, coordinate %lld)"
                            " is not finite", (long long)i, (long long)(i / p->dim),
                            (long long)(i % p->dim));
    }

    /* Refuse absurd output sizes before allocating anything: 2^36 doubles is 512 GiB. */
    if (c->keep_draws &&
        (rmc_mul_size(rmc_mul_size(c->chains, c->draws), p->n_columns + RMC_STAT_COUNT) < 0 ||
         c->chains * c->draws * (p->n_columns + RMC_STAT_COUNT) > ((int64_t)1 << 36)))
        return rmc_fail(RMC_ERR_NOMEM, "%lld chains x %lld draws x %lld columns would need "
                        "more memory than any machine has", (long long)c->chains,
                        (long long)c->draws, (long long)p->n_columns);
    if (c->warmup + c->draws * c->thin > INT64_MAX / c->chains)
        return rmc_fail(RMC_ERR_ARGUMENT, "chains * (warmup + draws * thin) overflows (%lld "
                        "chains, %lld iterations each)", (long long)c->chains,
                        (long long)(c->warmup + c->draws * c->thin));
    return RMC_OK;
}

static void run_fail(struct run *r, rmc_status st)
{
    pthread_mutex_lock(&r->lock);
    if (r->error == RMC_OK) {
        r->error = st;
        strncpy(r->message, rmc_last_error(), sizeof r->message - 1);
    }
    pthread_mutex_unlock(&r->lock);
    atomic_store(&r->stop, 1);
}

/* For progress reports: a chain moved on from iteration i0 with k0 kept draws. Counts its
 * warmup iterations and the divergences among its new draws, read back from their stats
 * rows (a few loads per iteration, and atomics only when something changed). */
static void count_progress(struct run *r, const struct chain *c, int64_t index, int64_t i0,
                           int64_t k0)
{
    const int64_t w = r->config->warmup;
    const double *stats = r->fit->stats + index * r->fit->draws * RMC_STAT_COUNT;
    const int64_t warm = (c->iteration < w ? c->iteration : w) - (i0 < w ? i0 : w);
    int64_t div = 0;

    for (int64_t k = k0; k < c->kept; k++)
        div += stats[k * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0;
    if (warm)
        atomic_fetch_add(&r->warmup_done, warm);
    if (div)
        atomic_fetch_add(&r->divergent, div);
}

/* Call the caller's progress callbacks; non-zero when one asks to stop. */
static int report_progress(struct run *r)
{
    const rmc_config *c = r->config;
    const int64_t total = c->chains * (c->warmup + c->draws * c->thin);
    int stop = 0;

    if (c->progress)
        stop |= c->progress(atomic_load(&r->iterations), total, c->progress_user) != 0;
    if (c->progress_info) {
        rmc_progress_info info = {
            .done = atomic_load(&r->iterations), .total = total,
            .warmup_done = atomic_load(&r->warmup_done), .warmup_total = c->chains * c->warmup,
            .divergent = atomic_load(&r->divergent), .seconds = rmc_now() - r->t0,
        };
        stop |= c->progress_info(&info, c->progress_user) != 0;
    }
    return stop;
}

/* Run one chain to its end, or until the run is stopped. */
static void run_chain(struct run *r, int64_t index, struct workspace *ws)
{
    const rmc_program *p = r->program;
    struct rmc_fit *f = r->fit;
    struct chain_output out = {
        .values = f->values + index * f->draws * f->columns,
        .stats = f->stats + index * f->draws * RMC_STAT_COUNT,
        .columns = f->columns,
    };
    struct chain *c = chain_create(p, r->config, index, ws, out);
    enum chain_result res;
    int64_t iteration = 0, kept = 0;

    if (!c) {
        run_fail(r, rmc_fail(RMC_ERR_NOMEM, "chain %lld: out of memory", (long long)index));
        return;
    }
    for (res = chain_advance(c); res == CHAIN_NEED_EVAL; res = chain_advance(c)) {
        if (program_eval(p, ws, c->pending.q, &c->pending.lp, c->pending.grad) != 0) {
            run_fail(r, rmc_fail(RMC_ERR_CALLBACK, "chain %lld: the log density callback "
                                 "reported failure", (long long)index));
            break;
        }
        if (c->iteration != iteration) {
            atomic_fetch_add(&r->iterations, c->iteration - iteration);
            count_progress(r, c, index, iteration, kept);
            iteration = c->iteration;
            kept = c->kept;
            if (atomic_load_explicit(&r->stop, memory_order_relaxed))
                break;
        }
    }
    if (res == CHAIN_FAILED)
        run_fail(r, c->error);
    atomic_fetch_add(&r->iterations, c->iteration - iteration);
    count_progress(r, c, index, iteration, kept);
    atomic_fetch_add(&r->gradients, c->gradients);
    f->completed[index] = c->kept;
    f->step_size[index] = c->eps;
    memcpy(f->inv_metric + index * f->dim, c->inv_metric, (size_t)f->dim * sizeof(double));
    chain_free(c);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    struct workspace *ws = workspace_create(r->program);
    int64_t index;

    if (!ws)
        run_fail(r, rmc_fail(RMC_ERR_NOMEM, "out of memory for a workspace"));
    while (ws && !atomic_load(&r->stop) &&
           (index = atomic_fetch_add(&r->next_chain, 1)) < r->config->chains)
        run_chain(r, index, ws);
    workspace_free(ws);

    pthread_mutex_lock(&r->lock);
    if (atomic_fetch_sub(&r->running, 1) == 1)
        pthread_cond_signal(&r->done);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

/* The caller's cancel flag, written by another thread (a signal handler's helper, a
 * GUI): an atomic load, as rmc.h asks writers to store it atomically, so the two are not
 * a data race. Relaxed is enough: nothing else is published through the flag. */
static int cancel_requested(const rmc_config *c)
{
    return c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED) != 0;
}

/* Wait for the workers, reporting progress at most every 100 ms and passing on a
 * cancellation from the flag or the callback. */
static void supervise(struct run *r)
{
    const rmc_config *c = r->config;

    pthread_mutex_lock(&r->lock);
    while (atomic_load(&r->running) > 0) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->done, &r->lock, &until);
        if (atomic_load(&r->running) == 0)
            break;
        pthread_mutex_unlock(&r->lock);
        if (cancel_requested(c) || report_progress(r))
            atomic_store(&r->stop, 1);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    if (!atomic_load(&r->stop))
        report_progress(r);
}

/* ------------------------------------------------------------------ the batched driver */

struct batch {
    struct chain **ch;
    enum chain_result *res;
    int64_t *who, *iteration;
    double *x, *lp, *grad;
    struct workspace *ws;      /* output columns and messages, in this thread only */
    rmc_evaluator *cpu;        /* after a device failure under backend auto */
};

static void batch_free(struct batch *b, int64_t chains)
{
    for (int64_t i = 0; b->ch && i < chains; i++)
        chain_free(b->ch[i]);
    free(b->ch);
    free(b->res);
    free(b->who);
    free(b->iteration);
    free(b->x);
    free(b->lp);
    free(b->grad);
    workspace_free(b->ws);
    rmc_evaluator_free(b->cpu);
}

/* Hand each evaluated chain its lp and gradient and move it on to its next request. A
 * point outside the support keeps its old gradient, as program_eval leaves it. */
static void batch_resume(struct run *r, struct batch *b, int64_t m)
{
    const int64_t d = r->program->dim;

    for (int64_t k = 0; k < m; k++) {
        int64_t i = b->who[k];
        struct chain *c = b->ch[i];
        const int64_t kept = c->kept;

        c->pending.lp = b->lp[k];
        if (b->lp[k] > -INFINITY)
            memcpy(c->pending.grad, b->grad + k * d, (size_t)d * sizeof(double));
        b->res[i] = chain_advance(c);
        if (b->res[i] == CHAIN_FAILED)
            run_fail(r, c->error);
        atomic_fetch_add(&r->iterations, c->iteration - b->iteration[i]);
        count_progress(r, c, i, b->iteration[i], kept);
        b->iteration[i] = c->iteration;
    }
}

/* Evaluate the pending batch: on the device while it works; after a failure either stop
 * (an explicit Vulkan request; the draws made so far are kept) or carry on with the CPU
 * evaluator (auto), saying so in the fit. */
static int batch_eval(struct run *r, struct batch *b, struct vk_program *vk, int64_t m)
{
    const rmc_config *cfg = r->config;
    rmc_status st;

    if (!b->cpu) {
        st = vk_program_eval(vk, m, b->x, b->lp, b->grad);
        if (st == RMC_OK)
            return 0;
        if (cfg->backend == RMC_BACKEND_VULKAN) {
            rmc_log(RMC_LOG_ERROR, "%s; the run stops with the draws made so far",
                    rmc_last_error());
            run_fail(r, st);
            r->backend_lost = 1;
            return -1;
        }
        snprintf(r->fit->backend_reason, sizeof r->fit->backend_reason, "auto: vulkan on %s "
                 "failed midway (%s); the run finished on the CPU", vk_program_describe(vk),
                 rmc_last_error());
        rmc_log(RMC_LOG_WARN, "%s", r->fit->backend_reason);
        st = rmc_evaluator_create(r->program, RMC_BACKEND_CPU, NULL, cfg->threads, &b->cpu);
        if (st != RMC_OK) {
            run_fail(r, st);
            return -1;
        }
        r->fit->backend = RMC_BACKEND_CPU;
        snprintf(r->fit->device, sizeof r->fit->device, "%s", rmc_evaluator_device(b->cpu));
    }
    st = rmc_evaluator_logp_grad(b->cpu, m, b->x, b->lp, b->grad);
    if (st != RMC_OK) {
        run_fail(r, st);
        return -1;
    }
    return 0;
}

/* All chains in lockstep against the device, from the calling thread: it also reports
 * progress (at most every 100 ms) and watches for cancellation between batches.
 * TODO: with tens of thousands of chains, advancing them (and writing their draws) on one
 * thread becomes the bottleneck; chain_advance could be split over worker threads, and
 * the next batch's upload overlapped with the device's work on this one. */
static void run_batched(struct run *r, struct vk_program *vk)
{
    const rmc_program *p = r->program;
    const rmc_config *cfg = r->config;
    struct rmc_fit *f = r->fit;
    const int64_t n = cfg->chains, d = p->dim;
    struct batch b = { 0 };
    double last = rmc_now();
    int64_t evals = 0;

    b.ch = rmc_calloc((size_t)n, sizeof *b.ch);
    b.res = rmc_calloc((size_t)n, sizeof *b.res);
    b.who = rmc_calloc((size_t)n, sizeof *b.who);
    b.iteration = rmc_calloc((size_t)n, sizeof *b.iteration);
    b.x = rmc_calloc((size_t)(n * d), sizeof *b.x);
    b.lp = rmc_calloc((size_t)n, sizeof *b.lp);
    b.grad = rmc_calloc((size_t)(n * d), sizeof *b.grad);
    b.ws = workspace_create(p);
    for (int64_t i = 0; b.ch && b.ws && i < n; i++) {
        struct chain_output o = {
            .values = f->values + i * f->draws * f->columns,
            .stats = f->stats + i * f->draws * RMC_STAT_COUNT,
            .columns = f->columns,
        };

        b.ch[i] = chain_create(p, cfg, i, b.ws, o);
        if (!b.ch[i])
            break;
    }
    if (!b.res || !b.who || !b.iteration || !b.x || !b.lp || !b.grad || !b.ws || !b.ch ||
        !b.ch[n - 1]) {
        run_fail(r, rmc_fail(RMC_ERR_NOMEM, "rmc_sample: out of memory for %lld chains",
                             (long long)n));
        batch_free(&b, n);
        return;
    }

    for (int64_t i = 0; i < n; i++) {
        b.res[i] = chain_advance(b.ch[i]);
        if (b.res[i] == CHAIN_FAILED)
            run_fail(r, b.ch[i]->error);
    }
    while (!atomic_load(&r->stop)) {
        int64_t m = 0;

        for (int64_t i = 0; i < n; i++) {
            if (b.res[i] != CHAIN_NEED_EVAL)
                continue;
            memcpy(b.x + m * d, b.ch[i]->pending.q, (size_t)d * sizeof(double));
            b.who[m++] = i;
        }
        if (m == 0 || batch_eval(r, &b, vk, m) != 0)
            break;
        evals++;
        f->batch_slots += n;
        f->batch_used += m;
        batch_resume(r, &b, m);

        if (cancel_requested(cfg))
            atomic_store(&r->stop, 1);
        if ((cfg->progress || cfg->progress_info) && rmc_now() - last >= 0.1) {
            last = rmc_now();
            if (report_progress(r))
                atomic_store(&r->stop, 1);
        }
    }
    if (!atomic_load(&r->stop))
        report_progress(r);
    rmc_log(RMC_LOG_DEBUG, "vulkan: %lld batched evaluations for %lld chains", (long long)evals,
            (long long)n);

    for (int64_t i = 0; i < n; i++) {
        struct chain *c = b.ch[i];

        atomic_fetch_add(&r->gradients, c->gradients);
        f->completed[i] = c->kept;
        f->step_size[i] = c->eps;
        memcpy(f->inv_metric + i * f->dim, c->inv_metric, (size_t)f->dim * sizeof(double));
    }
    batch_free(&b, n);
}

/* Which backend runs: the CPU when asked; a Vulkan device when asked or (auto) when one is
 * usable; the reason is kept for the fit and, under auto, logged. Fails only for an
 * explicit Vulkan request that cannot be met. */
static rmc_status choose_backend(const rmc_program *p, const rmc_config *config,
                                 struct vk_program **vk, char *reason, size_t cap)
{
    char filter[16];
    rmc_status st;

    *vk = NULL;
    if (config->backend == RMC_BACKEND_CPU) {
        snprintf(reason, cap, "requested");
        return RMC_OK;
    }
    if (p->kind == PROGRAM_CALLBACK) {
        if (config->backend == RMC_BACKEND_VULKAN)
            return rmc_fail(RMC_ERR_BACKEND, "backend vulkan: a program over a user callback "
                            "runs on the CPU only");
        snprintf(reason, cap, "auto: a program over a user callback runs on the CPU");
        return RMC_OK;
    }
    if (config->device > 0)
        snprintf(filter, sizeof filter, "%d", (int)config->device - 1);
    if (config->device < 0) /* a name that matched nothing (the Python layer says so) */
        st = rmc_fail(RMC_ERR_BACKEND, "no Vulkan device matches the one asked for");
    else
        st = vk_program_create(p, config->device > 0 ? filter : NULL, config->chains, vk);
    if (st == RMC_OK) {
        snprintf(reason, cap, "%s: vulkan on %s", config->backend == RMC_BACKEND_VULKAN ?
                 "requested" : "auto", vk_program_describe(*vk));
        rmc_log(RMC_LOG_INFO, "%s", reason);
        return RMC_OK;
    }
    if (config->backend == RMC_BACKEND_VULKAN)
        return st;
    snprintf(reason, cap, "auto: %s; using the CPU", rmc_last_error());
    rmc_log(RMC_LOG_INFO, "%s", reason);
    return RMC_OK;
}

/* The run's result: its fit, or its error. A device lost under an explicit Vulkan request
 * keeps the fit of the draws made so far, marked cancelled. */
static rmc_status finish(struct run *r, double t0, rmc_fit **out)
{
    r->fit->gradients = atomic_load(&r->gradients);
    r->fit->seconds = rmc_now() - t0;
    if (r->error != RMC_OK && r->backend_lost) {
        r->fit->cancelled = 1;
        *out = r->fit;
        return rmc_fail(r->error, "%s (the fit holds the draws made before)", r->message);
    }
    if (r->error != RMC_OK) {
        rmc_fit_free(r->fit);
        return rmc_fail(r->error, "%s", r->message);
    }
    *out = r->fit;
    if (atomic_load(&r->stop)) {
        r->fit->cancelled = 1;
        return rmc_fail(RMC_ERR_CANCELLED, "the run was cancelled; the fit holds the draws "
                        "completed so far");
    }
    return RMC_OK;
}

/* ------------------------------------------------------------------ ChEES */

struct chees_tick {
    struct run *r;
    double last;
    struct vk_program *vk;
    rmc_evaluator *cpu;    /* after a device failure under backend auto */
};

/* One batch of every chain's positions on the device. Under backend auto a failing device
 * hands the rest of the run to the CPU evaluator, as the NUTS driver does; under an
 * explicit vulkan request the run stops with the draws made so far. */
static rmc_status chees_eval(void *ctx, int64_t batch, const double *x, double *lp,
                             double *grad)
{
    struct chees_tick *t = ctx;
    struct run *r = t->r;
    rmc_status st;

    if (!t->cpu) {
        st = vk_program_eval(t->vk, batch, x, lp, grad);
        if (st == RMC_OK || r->config->backend == RMC_BACKEND_VULKAN) {
            r->backend_lost = st != RMC_OK;
            return st;
        }
        snprintf(r->fit->backend_reason, sizeof r->fit->backend_reason, "auto: vulkan on %s "
                 "failed midway (%s); the run finished on the CPU", vk_program_describe(t->vk),
                 rmc_last_error());
        rmc_log(RMC_LOG_WARN, "%s", r->fit->backend_reason);
        st = rmc_evaluator_create(r->program, RMC_BACKEND_CPU, NULL, r->config->threads,
                                  &t->cpu);
        if (st != RMC_OK)
            return st;
        r->fit->backend = RMC_BACKEND_CPU;
        snprintf(r->fit->device, sizeof r->fit->device, "%s", rmc_evaluator_device(t->cpu));
    }
    return rmc_evaluator_logp_grad(t->cpu, batch, x, lp, grad);
}

/* After each ChEES iteration: counters for the progress reports, which go out at most
 * every 100 ms, and the caller's cancellation. */
static int chees_tick(void *ctx, int64_t iterations, int64_t warmup_done, int64_t divergent,
                      int64_t gradients)
{
    struct chees_tick *t = ctx;
    struct run *r = t->r;
    const rmc_config *c = r->config;

    atomic_store(&r->iterations, iterations);
    atomic_store(&r->warmup_done, warmup_done);
    atomic_store(&r->divergent, divergent);
    atomic_fetch_add(&r->gradients, gradients);
    if (cancel_requested(c))
        return 1;
    if ((c->progress || c->progress_info) && rmc_now() - t->last >= 0.1) {
        t->last = rmc_now();
        return report_progress(r);
    }
    return 0;
}

static rmc_status sample_chees(struct run *r, struct vk_program *vk, double t0,
                               rmc_fit **out)
{
    const rmc_config *c = r->config;
    struct chees_tick tick = { .r = r, .last = rmc_now(), .vk = vk };
    struct chees_hooks hooks = {
        .tick = chees_tick, .eval_batch = vk ? chees_eval : NULL, .ctx = &tick,
    };
    int nthreads = c->threads ? c->threads : cores();
    rmc_status st;

    if (nthreads > c->chains)
        nthreads = (int)c->chains;
    atomic_init(&r->iterations, 0);
    atomic_init(&r->gradients, 0);
    atomic_init(&r->warmup_done, 0);
    atomic_init(&r->divergent, 0);
    atomic_init(&r->stop, 0);
    r->fit->backend = vk ? RMC_BACKEND_VULKAN : RMC_BACKEND_CPU;
    if (vk)
        snprintf(r->fit->device, sizeof r->fit->device, "%s", vk_program_describe(vk));
    else
        snprintf(r->fit->device, sizeof r->fit->device, "cpu (%d thread%s)", nthreads,
                 nthreads == 1 ? "" : "s");

    st = chees_run(r->program, c, r->fit, nthreads, &hooks);
    rmc_evaluator_free(tick.cpu);
    atomic_store(&r->gradients, r->fit->gradients); /* the driver's count is exact */
    if (st == RMC_ERR_CANCELLED) {
        atomic_store(&r->stop, 1);
    } else if (st != RMC_OK) {
        r->error = st;
        snprintf(r->message, sizeof r->message, "%s", rmc_last_error());
    } else {
        report_progress(r);
    }
    return finish(r, t0, out);
}

static rmc_status sample(const rmc_program *p, const rmc_config *config, rmc_fit **out);

rmc_status rmc_sample(const rmc_program *p, const rmc_config *config, rmc_fit **out)
{
    rmc_config resolved;

    if (!config || config->sampler != RMC_SAMPLER_AUTO)
        return sample(p, config, out);
    resolved = *config;
    resolved.sampler = config->chains >= 64 ? RMC_SAMPLER_CHEES : RMC_SAMPLER_NUTS;
    return sample(p, &resolved, out);
}

static rmc_status sample(const rmc_program *p, const rmc_config *config, rmc_fit **out)
{
    struct run r = { .program = p, .config = config };
    pthread_t *threads;
    int nthreads, started = 0;
    double t0 = rmc_now();

    r.t0 = t0;
    struct vk_program *vk = NULL;
    char reason[1200];
    rmc_status st;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_sample: out is NULL");
    *out = NULL;
    if (!p || !config)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_sample: program and config must be given");
    st = check_config(p, config);
    if (st != RMC_OK)
        return st;
    st = choose_backend(p, config, &vk, reason, sizeof reason);
    if (st != RMC_OK)
        return st;
    if (config->sampler == RMC_SAMPLER_CHEES || config->sampler == RMC_SAMPLER_MEADS) {
        r.fit = fit_create(p, config);
        if (!r.fit) {
            vk_program_free(vk);
            return rmc_fail(RMC_ERR_NOMEM, "rmc_sample: out of memory for %lld chains x %lld "
                            "draws", (long long)config->chains, (long long)config->draws);
        }
        snprintf(r.fit->backend_reason, sizeof r.fit->backend_reason, "%s", reason);
        st = sample_chees(&r, vk, t0, out);
        vk_program_free(vk);
        return st;
    }

    r.fit = fit_create(p, config);
    if (r.fit)
        snprintf(r.fit->backend_reason, sizeof r.fit->backend_reason, "%s", reason);
    if (vk) {
        if (!r.fit) {
            vk_program_free(vk);
            return rmc_fail(RMC_ERR_NOMEM, "rmc_sample: out of memory for %lld chains x %lld "
                            "draws", (long long)config->chains, (long long)config->draws);
        }
        r.fit->backend = RMC_BACKEND_VULKAN;
        snprintf(r.fit->device, sizeof r.fit->device, "%s", vk_program_describe(vk));
        pthread_mutex_init(&r.lock, NULL);
        atomic_init(&r.iterations, 0);
        atomic_init(&r.gradients, 0);
        atomic_init(&r.warmup_done, 0);
        atomic_init(&r.divergent, 0);
        atomic_init(&r.stop, 0);
        run_batched(&r, vk);
        vk_program_free(vk);
        pthread_mutex_destroy(&r.lock);
        return finish(&r, t0, out);
    }

    nthreads = config->threads ? config->threads : cores();
    if (nthreads > config->chains)
        nthreads = (int)config->chains;
    threads = rmc_calloc((size_t)nthreads, sizeof *threads);
    if (!r.fit || !threads) {
        rmc_fit_free(r.fit);
        free(threads);
        return rmc_fail(RMC_ERR_NOMEM, "rmc_sample: out of memory for %lld chains x %lld "
                        "draws", (long long)config->chains, (long long)config->draws);
    }
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.done, NULL);
    atomic_init(&r.next_chain, 0);
    atomic_init(&r.iterations, 0);
    atomic_init(&r.gradients, 0);
    atomic_init(&r.warmup_done, 0);
    atomic_init(&r.divergent, 0);
    atomic_init(&r.stop, 0);
    atomic_init(&r.running, nthreads);

    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], NULL, worker, &r) != 0)
            break;
        started++;
    }
    if (started < nthreads) {
        /* Fewer threads than asked: those that started still take every chain. */
        pthread_mutex_lock(&r.lock);
        atomic_fetch_sub(&r.running, nthreads - started);
        pthread_mutex_unlock(&r.lock);
        if (started == 0)
            run_fail(&r, rmc_fail(RMC_ERR_NOMEM, "rmc_sample: could not start a thread"));
    }
    supervise(&r);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_cond_destroy(&r.done);
    pthread_mutex_destroy(&r.lock);
    r.fit->backend = RMC_BACKEND_CPU;
    snprintf(r.fit->device, sizeof r.fit->device, "cpu (%d thread%s)", nthreads,
             nthreads == 1 ? "" : "s");
    return finish(&r, t0, out);
}
