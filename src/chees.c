/* chees.c - ChEES-HMC (Hoffman, Radul and Sountsov, 2021): every chain runs static HMC with
 * the same step size and the same jittered number of leapfrog steps, so a batch of chains
 * never waits for its longest trajectory, as it does under NUTS.
 *
 * Warmup first lets the chains settle: for its first 20%, each chain adapts its own step
 * size (a chain far out in the tails needs a far smaller one than the rest, and with one
 * shared step size it would either stall or hold every other chain back). Then, from
 * statistics taken across chains at each iteration, it adapts:
 * - one step size, by dual averaging on the harmonic mean of the chains' acceptance
 *   probabilities (one badly placed chain pulls it down, which is the point);
 * - the trajectory length T, by gradient ascent on log T of the ChEES criterion
 *   1/4 E[(|q' - E q'|^2 - |q - E q|^2)^2], with RMSProp-scaled steps and iterate averaging;
 *   iteration k integrates for u_k T, u_k from a base-2 van der Corput sequence, which
 *   avoids the resonances of a fixed length;
 * - a diagonal mass matrix from the variance of the positions across chains, averaged over
 *   the iterations of two windows (the first forgets the start, the second is kept).
 * The constants (rates 0.025 and 0.05, a log-step clipped to 0.35, at most 1000 leapfrog
 * steps) are the published defaults of TensorFlow Probability's implementation.
 *
 * Chains run on a pool of threads, each taking a fixed slice of chains for a whole
 * iteration; the calling thread reduces the cross-chain statistics in chain order between
 * iterations. A chain's random numbers are keyed by (seed, chain, iteration), so the
 * draws do not depend on the number of threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chees.h"
#include "fit.h"
#include "program.h"
#include "rng.h"
#include "util.h"

enum {
    MAX_LEAPFROG = 1000,   /* T is clipped to this many steps of the current step size */
    HALTON_BITS = 10,      /* the jitter sequence repeats every 1024 iterations         */
    PROBE_TRIES = 60,      /* initial step size: doublings or halvings at most          */
    RNG_PROBE = 17,        /* stream purpose of the step size probes                    */
    SETTLE_STEPS = 32,     /* leapfrog steps at most while the chains settle           */
};

static const double TRAJ_RATE = 0.025;    /* learning rate of log T                     */
static const double SQ_GRAD_RATE = 0.05;  /* RMSProp average of the squared gradient    */
static const double MAX_LOG_STEP = 0.35;  /* about log(2) / 2 per iteration             */
static const double DIVERGENCE = 1000.0;  /* energy error that marks a divergence       */
static const double DA_GAMMA = 0.05, DA_T0 = 10.0, DA_KAPPA = 0.75;

enum job { JOB_INIT, JOB_PROBE, JOB_TRANSITION, JOB_QUIT };

/* Dual averaging of log step size (Nesterov; Hoffman and Gelman's constants). */
struct dual_avg {
    double mu, xbar, sbar, count;
};

struct slice {
    struct chees *c;
    int index;
    struct workspace *ws;
    double *p, *x, *gx;    /* scratch: momentum, position and gradient along a trajectory */
    int64_t gradients;
    pthread_t thread;
};

struct chees {
    const rmc_program *program;
    const rmc_config *config;
    struct rmc_fit *fit;
    int64_t n, d;

    /* per chain: the state, and what the last transition proposed ([n][d] or [n]) */
    double *q, *g, *lp;
    double *q0;            /* position before the transition (adaptation only)          */
    double *x1, *v1;       /* proposal: position and velocity M^-1 p at its end          */
    double *accept, *energy;
    int32_t *divergent, *steps_taken;
    int64_t *kept;

    /* settings of the current job, written by the calling thread between jobs */
    enum job job;
    int64_t iteration, draw;
    int64_t steps;
    int adapting, keep;
    int settling;          /* per-chain step sizes (the first part of warmup)            */
    double eps;
    double t_len;          /* while settling: this iteration's jitter in (0, 1)         */
    double *eps_chain;     /* [n] step sizes while settling                              */
    struct dual_avg *da_chain; /* [n]                                                    */
    double *inv_metric;    /* [d] */

    /* MEADS: K folds of chains, each moved by generalized HMC (one leapfrog step, partial
     * momentum refreshment, a persistent slice variable) with parameters computed from
     * another fold's positions and gradients */
    int meads, folds, frozen;  /* frozen: the fold left still this iteration, or -1    */
    int32_t *fold_of;          /* [n] */
    double *fold_eps, *fold_alpha, *fold_delta; /* [folds] */
    double *fold_metric;       /* [folds][d] inverse metric (variances)                 */
    double *pm, *slice_u;      /* [n][d] persistent momenta, [n] slice variables        */
    double *gram;              /* [d][d] scratch for the eigenvalue estimate, or NULL   */
    int64_t *rows, *ident;     /* [n] a fold's chains; 0, 1, 2, ...                     */

    /* streaming (config->draws_fn): draws [chunk_first, chunk_first + chunk_rows) of every
     * chain, [n][chunk_rows][columns] and [n][chunk_rows][RMC_STAT_COUNT] */
    double *chunk_values, *chunk_stats;
    int64_t chunk_rows, chunk_first;

    /* the batched path (a device): momenta, gradients, log densities, starting energies
     * and steps taken (-1 while moving) of every chain; positions are in x1 */
    const struct chees_hooks *hooks;
    double *bp, *bg, *blp, *h0;
    int64_t *taken;

    /* the pool: the calling thread runs slice 0 */
    int nthreads;
    struct slice *slices;
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    int generation, pending;
    rmc_status error;      /* first failure, with its message (guarded by lock) */
    char message[1024];
};

/* ------------------------------------------------------------------ one chain's work */

static void fail(struct chees *c, rmc_status st)
{
    pthread_mutex_lock(&c->lock);
    if (c->error == RMC_OK) {
        c->error = st;
        snprintf(c->message, sizeof c->message, "%s", rmc_last_error());
    }
    pthread_mutex_unlock(&c->lock);
}

static int finite_all(const double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return 0;
    }
    return 1;
}

static int eval(struct slice *s, int64_t chain, const double *x, double *lp, double *grad)
{
    s->gradients++;
    if (program_eval(s->c->program, s->ws, x, lp, grad) == 0)
        return 0;
    fail(s->c, rmc_fail(RMC_ERR_CALLBACK, "chain %lld: the log density callback reported "
                        "failure", (long long)chain));
    return -1;
}

/* The inverse metric chain i moves with: its fold's under MEADS, the shared one else. */
static const double *metric_of(const struct chees *c, int64_t i)
{
    return c->meads ? c->fold_metric + (int64_t)c->fold_of[i] * c->d : c->inv_metric;
}

static double kinetic(const struct chees *c, const double *m, const double *p)
{
    double k = 0.0;

    for (int64_t j = 0; j < c->d; j++)
        k += m[j] * p[j] * p[j];
    return 0.5 * k;
}

/* The energy, +inf for a point to reject: a NaN, or a log density of +inf (which would
 * otherwise be accepted with probability exp(inf)). */
static double hamiltonian(double lp, double kin)
{
    double h = -lp + kin;

    return h == h && h != -INFINITY ? h : INFINITY;
}

static void init_chain(struct slice *s, int64_t i)
{
    struct chees *c = s->c;
    const rmc_config *cfg = c->config;
    double *q = c->q + i * c->d, *g = c->g + i * c->d;
    struct rng r;

    rng_init(&r, cfg->seed, (uint64_t)i, 0, RNG_INIT);
    for (int tries = 0; tries < cfg->init_tries; tries++) {
        if (cfg->init && tries == 0) {
            memcpy(q, cfg->init + i * c->d, (size_t)c->d * sizeof *q);
        } else {
            for (int64_t j = 0; j < c->d; j++)
                q[j] = cfg->init_radius * (2.0 * rng_uniform(&r) - 1.0);
        }
        if (eval(s, i, q, &c->lp[i], g) != 0)
            return;
        if (isfinite(c->lp[i]) && finite_all(g, c->d))
            return;
    }

    const char *culprit = program_explain(c->program, s->ws, q);
    char why[320] = "";

    if (culprit)
        snprintf(why, sizeof why, "; at the last point tried, %s has a log density of -inf",
                 culprit);
    fail(c, rmc_fail(RMC_ERR_INIT, "chain %lld: no initial point with a finite log density "
                     "and gradient after %d tries (inits uniform in (-%g, %g) on the "
                     "unconstrained scale%s)%s", (long long)i, cfg->init_tries,
                     cfg->init_radius, cfg->init_radius, cfg->init ? ", after the given init"
                     : "", why));
}

/* Leapfrog from (x, gx, p) for steps steps of size e, stopping early when the log
 * density stops being finite. Returns the steps taken, or -1 on a failure. */
static int64_t trajectory(struct slice *s, int64_t i, double *lp, double e, int64_t steps)
{
    struct chees *c = s->c;
    const double h = 0.5 * e, *m = metric_of(c, i);
    int64_t k;

    for (k = 0; k < steps; k++) {
        for (int64_t j = 0; j < c->d; j++) {
            s->p[j] += h * s->gx[j];
            s->x[j] += e * m[j] * s->p[j];
        }
        if (eval(s, i, s->x, lp, s->gx) != 0)
            return -1;
        if (!isfinite(*lp))
            return k + 1;
        for (int64_t j = 0; j < c->d; j++)
            s->p[j] += h * s->gx[j];
    }
    return k;
}

static void draw_momentum(const struct chees *c, struct rng *r, double *p)
{
    for (int64_t j = 0; j < c->d; j++)
        p[j] = rng_normal(r) / sqrt(c->inv_metric[j]);
}

static void da_restart(struct dual_avg *a, double eps)
{
    a->mu = log(10.0 * eps);
    a->xbar = 0.0;
    a->sbar = 0.0;
    a->count = 0.0;
}

/* One dual-averaging update from the statistic accept; returns the next step size. */
static double da_learn(struct dual_avg *a, double target, double accept)
{
    double eta, x, w;

    a->count += 1.0;
    eta = 1.0 / (a->count + DA_T0);
    a->sbar = (1.0 - eta) * a->sbar + eta * (target - accept);
    x = a->mu - a->sbar * sqrt(a->count) / DA_GAMMA;
    w = pow(a->count, -DA_KAPPA);
    a->xbar = (1.0 - w) * a->xbar + w * x;
    return exp(x);
}

/* Chain i's draw into row `row` of arrays holding `rows` draws per chain. */
static void write_row(struct slice *s, int64_t i, double *values, double *stats, int64_t rows,
                      int64_t row)
{
    struct chees *c = s->c;
    double *st = stats + (i * rows + row) * RMC_STAT_COUNT;

    program_columns(c->program, s->ws, c->q + i * c->d,
                    values + (i * rows + row) * c->fit->columns);
    st[RMC_STAT_LP] = c->lp[i];
    st[RMC_STAT_ACCEPT] = c->accept[i];
    st[RMC_STAT_STEP_SIZE] = c->eps;
    st[RMC_STAT_TREE_DEPTH] = 0;
    st[RMC_STAT_N_LEAPFROG] = c->steps_taken[i];
    st[RMC_STAT_DIVERGENT] = c->divergent[i];
    st[RMC_STAT_ENERGY] = c->energy[i];
}

/* The kept draw of chain i: into the fit, and into the chunk being streamed. */
static void write_draw(struct slice *s, int64_t i)
{
    struct chees *c = s->c;
    struct rmc_fit *f = c->fit;

    if (f->draws > 0)
        write_row(s, i, f->values, f->stats, f->draws, c->draw);
    if (c->chunk_values)
        write_row(s, i, c->chunk_values, c->chunk_stats, c->chunk_rows,
                  c->draw - c->chunk_first);
    c->kept[i] = c->draw + 1;
}

/* The step size and number of steps of chain i in this iteration. */
static double chain_eps(const struct chees *c, int64_t i)
{
    if (c->meads)
        return c->fold_eps[c->fold_of[i]];
    return c->settling ? c->eps_chain[i] : c->eps;
}

static int64_t chain_steps(const struct chees *c)
{
    if (c->meads)
        return 1;
    const double steps = c->settling ? ceil(c->t_len * SETTLE_STEPS) : (double)c->steps;

    return c->job == JOB_PROBE ? 1 : (int64_t)fmax(1.0, fmin((double)MAX_LEAPFROG, steps));
}

/* Generalized HMC (MEADS): the persistent momentum partly refreshed,
 * p <- sqrt(1 - alpha) p + sqrt(alpha) xi, xi ~ N(0, M), and copied to p. */
static double ghmc_begin(const struct chees *c, int64_t i, double *p, double *x, double *gx)
{
    const int f = c->fold_of[i];
    const double a = c->fold_alpha[f], *m = metric_of(c, i);
    double *pm = c->pm + i * c->d;
    struct rng r;

    rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration + 1, RNG_MOMENTUM);
    for (int64_t j = 0; j < c->d; j++)
        pm[j] = sqrt(1.0 - a) * pm[j] + sqrt(a) * rng_normal(&r) / sqrt(m[j]);
    memcpy(p, pm, (size_t)c->d * sizeof *p);
    memcpy(x, c->q + i * c->d, (size_t)c->d * sizeof *x);
    memcpy(gx, c->g + i * c->d, (size_t)c->d * sizeof *gx);
    return hamiltonian(c->lp[i], kinetic(c, m, p));
}

/* Start chain i's trajectory: a fresh momentum in p, the state copied to (x, gx); returns
 * the starting energy. A probe (the initial step size search) draws from its own stream. */
static double begin(const struct chees *c, int64_t i, double *p, double *x, double *gx)
{
    struct rng r;

    if (c->meads)
        return ghmc_begin(c, i, p, x, gx);
    if (c->job == JOB_PROBE)
        rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration, RNG_PROBE);
    else
        rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration + 1, RNG_MOMENTUM);
    draw_momentum(c, &r, p);
    memcpy(x, c->q + i * c->d, (size_t)c->d * sizeof *x);
    memcpy(gx, c->g + i * c->d, (size_t)c->d * sizeof *gx);
    return hamiltonian(c->lp[i], kinetic(c, c->inv_metric, p));
}

/* Generalized HMC's decision, with Neal's (2020) non-reversible slice variable: u moves
 * by delta around (-1, 1) every iteration and the proposal is accepted when |u| is below
 * the acceptance ratio r, after which u / r stays uniform. Rejection reverses the
 * momentum, which is what keeps the chain's long, persistent trajectories correct. */
static void ghmc_end(struct slice *s, int64_t i, const double *x, const double *p,
                     const double *gx, double lp, double h0)
{
    struct chees *c = s->c;
    const int64_t d = c->d;
    const double h1 = hamiltonian(lp, kinetic(c, metric_of(c, i), p));
    const int divergent = !(h1 - h0 <= DIVERGENCE);
    const double ratio = divergent ? 0.0 : exp(h0 - h1);
    double u = c->slice_u[i] + c->fold_delta[c->fold_of[i]], *pm = c->pm + i * d;

    if (u > 1.0)
        u -= 2.0;
    c->accept[i] = fmin(1.0, ratio);
    c->divergent[i] = divergent;
    c->steps_taken[i] = 1;
    if (fabs(u) < ratio) {
        memcpy(c->q + i * d, x, (size_t)d * sizeof *x);
        memcpy(c->g + i * d, gx, (size_t)d * sizeof *gx);
        memcpy(pm, p, (size_t)d * sizeof *p);
        c->lp[i] = lp;
        c->energy[i] = h1;
        u /= ratio;
    } else {
        for (int64_t j = 0; j < d; j++)
            pm[j] = -pm[j];
        c->energy[i] = h0;
    }
    c->slice_u[i] = u;
    if (c->keep)
        write_draw(s, i);
}

/* End chain i's trajectory at (x, p, gx, lp) after taken steps: the acceptance, what the
 * adaptation needs, the Metropolis decision and the draw. A probe keeps the acceptance. */
static void end(struct slice *s, int64_t i, const double *x, const double *p,
                const double *gx, double lp, double h0, int64_t taken)
{
    if (s->c->meads && s->c->job != JOB_PROBE) {
        ghmc_end(s, i, x, p, gx, lp, h0);
        return;
    }
    struct chees *c = s->c;
    const int64_t d = c->d;
    double *q = c->q + i * d, *g = c->g + i * d;
    const double h1 = hamiltonian(lp, kinetic(c, c->inv_metric, p));
    const int divergent = !(h1 - h0 <= DIVERGENCE);
    const double a = divergent ? 0.0 : fmin(1.0, exp(h0 - h1));
    struct rng r;

    c->accept[i] = a;
    if (c->job == JOB_PROBE)
        return;
    c->divergent[i] = divergent;
    c->steps_taken[i] = (int32_t)taken;

    if (c->adapting) {
        memcpy(c->q0 + i * d, q, (size_t)d * sizeof *q);
        if (c->x1 + i * d != x) /* the batched path integrates in x1 itself */
            memcpy(c->x1 + i * d, x, (size_t)d * sizeof *x);
        for (int64_t j = 0; j < d; j++)
            c->v1[i * d + j] = c->inv_metric[j] * p[j];
    }

    rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration + 1, RNG_ACCEPT);
    if (rng_uniform(&r) < a) {
        memcpy(q, x, (size_t)d * sizeof *q);
        memcpy(g, gx, (size_t)d * sizeof *g);
        c->lp[i] = lp;
        c->energy[i] = h1;
    } else {
        c->energy[i] = h0;
    }
    if (c->settling)
        c->eps_chain[i] = da_learn(&c->da_chain[i], c->config->target_accept, a);
    if (c->keep)
        write_draw(s, i);
}

/* One transition (or probe) of chain i on this thread. */
static void transition(struct slice *s, int64_t i)
{
    double lp = -INFINITY, h0;
    int64_t taken;

    if (s->c->meads && s->c->fold_of[i] == s->c->frozen)
        return;
    h0 = begin(s->c, i, s->p, s->x, s->gx);
    taken = trajectory(s, i, &lp, chain_eps(s->c, i), chain_steps(s->c));
    if (taken >= 0)
        end(s, i, s->x, s->p, s->gx, lp, h0, taken);
}

/* One transition (or probe) of every chain in lockstep, each leapfrog step of all chains
 * evaluated as one batch by the hook (a device). A chain whose log density stops being
 * finite stops moving; it is still in the batch (its last position is re-evaluated), which
 * keeps the batch's layout fixed. */
static rmc_status batched(struct chees *c)
{
    const int64_t n = c->n, d = c->d, steps = chain_steps(c);
    double *x = c->x1, *p = c->bp, *gx = c->bg;
    int64_t step;
    rmc_status st;

    for (int64_t i = 0; i < n; i++) {
        if (c->meads && c->fold_of[i] == c->frozen) {
            c->taken[i] = 0; /* left still: MEADS freezes a fold per warmup iteration */
            memcpy(x + i * d, c->q + i * d, (size_t)d * sizeof *x);
            continue;
        }
        c->h0[i] = begin(c, i, p + i * d, x + i * d, gx + i * d);
        c->taken[i] = -1; /* still moving */
    }
    for (step = 0; step < steps; step++) {
        for (int64_t i = 0; i < n; i++) {
            const double e = chain_eps(c, i), h = 0.5 * e, *m = metric_of(c, i);
            double *pi = p + i * d, *xi = x + i * d, *gi = gx + i * d;

            if (c->taken[i] >= 0)
                continue;
            for (int64_t j = 0; j < d; j++) {
                pi[j] += h * gi[j];
                xi[j] += e * m[j] * pi[j];
            }
        }
        c->slices[0].gradients += n;
        c->fit->batch_slots += n;
        for (int64_t i = 0; i < n; i++)
            c->fit->batch_used += c->taken[i] < 0;
        st = c->hooks->eval_batch(c->hooks->ctx, n, x, c->blp, gx);
        if (st != RMC_OK) {
            c->error = st;
            snprintf(c->message, sizeof c->message, "%s", rmc_last_error());
            return st;
        }
        for (int64_t i = 0; i < n; i++) {
            const double h = 0.5 * chain_eps(c, i);
            double *pi = p + i * d, *gi = gx + i * d;

            if (c->taken[i] >= 0)
                continue;
            if (!isfinite(c->blp[i])) {
                c->taken[i] = step + 1;
                continue;
            }
            for (int64_t j = 0; j < d; j++)
                pi[j] += h * gi[j];
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (c->meads && c->fold_of[i] == c->frozen)
            continue;
        /* end() copies x into x1 for the adaptation: here they are the same array */
        end(&c->slices[0], i, x + i * d, p + i * d, gx + i * d, c->blp[i], c->h0[i],
            c->taken[i] >= 0 ? c->taken[i] : steps);
    }
    return RMC_OK;
}

static void run_slice(struct slice *s)
{
    struct chees *c = s->c;
    const int64_t lo = c->n * s->index / c->nthreads;
    const int64_t hi = c->n * (s->index + 1) / c->nthreads;

    for (int64_t i = lo; i < hi; i++) {
        switch (c->job) {
        case JOB_INIT:
            init_chain(s, i);
            break;
        case JOB_PROBE:
        case JOB_TRANSITION:
            transition(s, i);
            break;
        default:
            return;
        }
    }
}

/* ------------------------------------------------------------------ the pool */

static void *worker(void *arg)
{
    struct slice *s = arg;
    struct chees *c = s->c;
    int seen = 0;

    for (;;) {
        enum job job;

        pthread_mutex_lock(&c->lock);
        while (c->generation == seen)
            pthread_cond_wait(&c->go, &c->lock);
        seen = c->generation;
        job = c->job;
        pthread_mutex_unlock(&c->lock);
        if (job == JOB_QUIT)
            return NULL;
        run_slice(s);
        pthread_mutex_lock(&c->lock);
        if (--c->pending == 0)
            pthread_cond_signal(&c->done);
        pthread_mutex_unlock(&c->lock);
    }
}

/* Run the current job over every chain; returns the first failure, or RMC_OK. Settings
 * written before the call are seen by the workers (the lock orders them), and their
 * results are seen here after it. */
static rmc_status run_job(struct chees *c, enum job job)
{
    if (job != JOB_INIT && job != JOB_QUIT && c->hooks && c->hooks->eval_batch) {
        c->job = job;
        return batched(c);
    }
    pthread_mutex_lock(&c->lock);
    c->job = job;
    c->pending = c->nthreads - 1;
    c->generation++;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->lock);
    if (job == JOB_QUIT)
        return RMC_OK;

    run_slice(&c->slices[0]);
    pthread_mutex_lock(&c->lock);
    while (c->pending > 0)
        pthread_cond_wait(&c->done, &c->lock);
    pthread_mutex_unlock(&c->lock);
    return c->error;
}

/* ------------------------------------------------------------------ adaptation */

struct adapt {
    struct dual_avg da;
    double log_t, log_tbar, sq_grad;   /* trajectory length, its average, RMSProp state */
    int64_t t_count;
    double *var_sum;                    /* [d] cross-chain variances summed in a window */
    int64_t var_count;
    double *mean0, *mean1;              /* [d] scratch for the ChEES gradient            */
};

/* Harmonic mean of the acceptance probabilities: zero if any chain accepted nothing. */
static double harmonic_accept(const struct chees *c)
{
    double s = 0.0;

    for (int64_t i = 0; i < c->n; i++) {
        if (!(c->accept[i] > 0.0))
            return 0.0;
        s += 1.0 / c->accept[i];
    }
    return (double)c->n / s;
}

/* The derivative of the ChEES criterion along the trajectory length, averaged over chains
 * with their acceptance probabilities as weights (the criterion's inner expectations are
 * cross-chain means, held fixed as in the paper). u is this iteration's jitter. */
static double chees_gradient(const struct chees *c, struct adapt *a, double u)
{
    const int64_t n = c->n, d = c->d;
    double wsum = 0.0, gsum = 0.0;

    for (int64_t j = 0; j < d; j++)
        a->mean0[j] = a->mean1[j] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double *x1 = c->x1 + i * d;

        for (int64_t j = 0; j < d; j++) {
            a->mean0[j] += c->q0[i * d + j];
            if (isfinite(x1[j]))
                a->mean1[j] += c->accept[i] * x1[j];
        }
        wsum += c->accept[i];
    }
    for (int64_t j = 0; j < d; j++) {
        a->mean0[j] /= (double)n;
        a->mean1[j] /= wsum + 1e-20;
    }

    wsum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double *q0 = c->q0 + i * d, *x1 = c->x1 + i * d, *v1 = c->v1 + i * d;
        double change = 0.0, along = 0.0, gi;

        if (!(c->accept[i] > 1e-4))
            continue;
        for (int64_t j = 0; j < d; j++) {
            const double e1 = x1[j] - a->mean1[j], e0 = q0[j] - a->mean0[j];

            change += e1 * e1 - e0 * e0;
            along += e1 * v1[j];
        }
        gi = change * along * u;
        if (!isfinite(gi))
            continue;
        gsum += c->accept[i] * gi;
        wsum += c->accept[i];
    }
    return gsum / (wsum + 1e-20);
}

/* RMSProp step on log T, clipped, with iterate averaging of log T. */
static void trajectory_learn(struct adapt *a, double grad)
{
    double scale, step, w;

    a->t_count++;
    a->sq_grad = (1.0 - SQ_GRAD_RATE) * a->sq_grad + SQ_GRAD_RATE * grad * grad;
    scale = a->sq_grad / (1.0 - pow(1.0 - SQ_GRAD_RATE, (double)a->t_count));
    step = TRAJ_RATE / sqrt(scale + 1e-20) * grad;
    step = fmax(-MAX_LOG_STEP, fmin(MAX_LOG_STEP, step));
    a->log_t += step;
    w = 1.0 / sqrt((double)a->t_count);
    a->log_tbar = w * a->log_t + (1.0 - w) * a->log_tbar;
}

/* Add this iteration's cross-chain variance to the window and set the metric to the
 * window's mean, shrunk towards 1e-3 as Stan does for few samples. */
static void metric_learn(struct chees *c, struct adapt *a)
{
    const int64_t n = c->n, d = c->d;
    const double w = (double)n / ((double)n + 5.0);

    for (int64_t j = 0; j < d; j++) {
        double mean = 0.0, m2 = 0.0;

        for (int64_t i = 0; i < n; i++) {
            const double x = c->q[i * d + j], delta = x - mean;

            mean += delta / (double)(i + 1);
            m2 += delta * (x - mean);
        }
        a->var_sum[j] += m2 / (double)(n - 1);
    }
    a->var_count++;
    for (int64_t j = 0; j < d; j++) {
        const double v = w * a->var_sum[j] / (double)a->var_count + 1e-3 * (1.0 - w);

        if (isfinite(v) && v > 0.0)
            c->inv_metric[j] = v;
    }
}

/* Van der Corput's base-2 sequence at k + 1, in (0, 1). */
static double jitter(int64_t k)
{
    double u = 0.0, f = 0.5;
    int64_t m = (k % (1 << HALTON_BITS)) + 1;

    for (; m > 0; m >>= 1, f *= 0.5) {
        if (m & 1)
            u += f;
    }
    return u;
}

/* Stan's heuristic for the first step size: double or halve it until the mean one-step
 * acceptance across chains crosses the target. */
static rmc_status initial_step_size(struct chees *c)
{
    int direction = 0;

    for (int k = 0; k < PROBE_TRIES; k++) {
        double mean = 0.0;
        rmc_status st;

        c->iteration = k;
        st = run_job(c, JOB_PROBE);
        if (st != RMC_OK)
            return st;
        for (int64_t i = 0; i < c->n; i++)
            mean += c->accept[i];
        mean /= (double)c->n;
        if (direction == 0)
            direction = mean > c->config->target_accept ? 1 : -1;
        if ((direction > 0) != (mean > c->config->target_accept))
            break;
        c->eps = direction > 0 ? 2.0 * c->eps : 0.5 * c->eps;
        if (c->eps < 1e-12 || c->eps > 1e7)
            break;
    }
    return RMC_OK;
}

/* ------------------------------------------------------------------ the run */

static void free_all(struct chees *c, struct adapt *a)
{
    for (int t = 0; c->slices && t < c->nthreads; t++) {
        workspace_free(c->slices[t].ws);
        free(c->slices[t].p);
    }
    free(c->slices);
    free(c->chunk_values);
    free(c->fold_of);
    free(c->fold_eps);
    free(c->rows);
    free(c->gram);
    free(c->bp);
    free(c->taken);
    free(c->q);
    free(c->lp);
    free(c->divergent);
    free(c->eps_chain);
    free(c->da_chain);
    free(c->steps_taken);
    free(c->kept);
    free(c->inv_metric);
    free(a->var_sum);
}

static rmc_status allocate(struct chees *c, struct adapt *a)
{
    const int64_t n = c->n, d = c->d;

    c->q = rmc_calloc((size_t)(5 * n * d), sizeof(double));
    c->lp = rmc_calloc((size_t)(3 * n), sizeof(double));
    c->divergent = rmc_calloc((size_t)n, sizeof(int32_t));
    c->eps_chain = rmc_calloc((size_t)n, sizeof(double));
    c->da_chain = rmc_calloc((size_t)n, sizeof *c->da_chain);
    c->steps_taken = rmc_calloc((size_t)n, sizeof(int32_t));
    c->kept = rmc_calloc((size_t)n, sizeof(int64_t));
    c->inv_metric = rmc_calloc((size_t)d, sizeof(double));
    a->var_sum = rmc_calloc((size_t)(3 * d), sizeof(double));
    c->slices = rmc_calloc((size_t)c->nthreads, sizeof *c->slices);
    if (c->meads) {
        const int64_t k = c->folds;

        c->fold_of = rmc_calloc((size_t)n, sizeof *c->fold_of);
        c->fold_eps = rmc_calloc((size_t)(3 * k + k * d + n * d + n), sizeof(double));
        c->rows = rmc_calloc((size_t)(2 * n), sizeof *c->rows);
        if (d <= 1024)
            c->gram = rmc_calloc((size_t)(d * d), sizeof *c->gram);
        if (!c->fold_of || !c->fold_eps || !c->rows || (d <= 1024 && !c->gram))
            return rmc_fail(RMC_ERR_NOMEM, "meads: out of memory for %lld chains of dimension "
                            "%lld", (long long)n, (long long)d);
        c->fold_alpha = c->fold_eps + k;
        c->fold_delta = c->fold_alpha + k;
        c->fold_metric = c->fold_delta + k;
        c->pm = c->fold_metric + k * d;
        c->slice_u = c->pm + n * d;
        c->ident = c->rows + n;
        for (int64_t i = 0; i < n; i++)
            c->ident[i] = i;
    }
    if (c->config->draws_fn) {
        const int64_t row = c->fit->columns + RMC_STAT_COUNT;
        int64_t rows = c->config->chunk_draws;

        if (rows == 0) /* about 64 MiB of doubles */
            rows = ((int64_t)1 << 23) / (n * row > 0 ? n * row : 1);
        rows = rows < 1 ? 1 : rows > c->config->draws ? c->config->draws : rows;
        c->chunk_rows = rows;
        c->chunk_values = rmc_calloc((size_t)(n * rows), (size_t)row * sizeof(double));
        if (!c->chunk_values)
            return rmc_fail(RMC_ERR_NOMEM, "chees: out of memory for a chunk of %lld draws of "
                            "%lld chains", (long long)rows, (long long)n);
        c->chunk_stats = c->chunk_values + n * rows * c->fit->columns;
    }
    if (c->hooks && c->hooks->eval_batch) {
        c->bp = rmc_calloc((size_t)(2 * n * d + 2 * n), sizeof(double));
        c->taken = rmc_calloc((size_t)n, sizeof *c->taken);
        if (!c->bp || !c->taken)
            return rmc_fail(RMC_ERR_NOMEM, "chees: out of memory for a batch of %lld chains",
                            (long long)n);
        c->bg = c->bp + n * d;
        c->blp = c->bg + n * d;
        c->h0 = c->blp + n;
    }
    if (!c->q || !c->lp || !c->divergent || !c->eps_chain || !c->da_chain ||
        !c->steps_taken || !c->kept || !c->inv_metric ||
        !a->var_sum || !c->slices)
        return rmc_fail(RMC_ERR_NOMEM, "chees: out of memory for %lld chains of dimension "
                        "%lld", (long long)n, (long long)d);
    c->g = c->q + n * d;
    c->q0 = c->g + n * d;
    c->x1 = c->q0 + n * d;
    c->v1 = c->x1 + n * d;
    c->accept = c->lp + n;
    c->energy = c->accept + n;
    a->mean0 = a->var_sum + d;
    a->mean1 = a->mean0 + d;
    for (int t = 0; t < c->nthreads; t++) {
        struct slice *s = &c->slices[t];

        s->c = c;
        s->index = t;
        s->ws = workspace_create(c->program);
        s->p = rmc_calloc((size_t)(3 * d), sizeof(double));
        if (!s->ws || !s->p)
            return rmc_fail(RMC_ERR_NOMEM, "chees: out of memory for a thread's workspace");
        s->x = s->p + d;
        s->gx = s->x + d;
    }
    for (int64_t j = 0; j < d; j++)
        c->inv_metric[j] = 1.0;
    return RMC_OK;
}

static int start_threads(struct chees *c)
{
    for (int t = 1; t < c->nthreads; t++) {
        if (pthread_create(&c->slices[t].thread, NULL, worker, &c->slices[t]) != 0) {
            c->nthreads = t; /* the slices are re-cut over the threads that did start */
            break;
        }
    }
    return c->nthreads;
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

/* The median of the chains' own step sizes, where the shared one starts. */
static double median_step(const struct chees *c)
{
    double m;

    memcpy(c->accept, c->eps_chain, (size_t)c->n * sizeof *c->accept);
    qsort(c->accept, (size_t)c->n, sizeof *c->accept, cmp_double);
    m = c->accept[c->n / 2];
    return isfinite(m) && m > 0.0 ? m : c->config->step_size;
}

static void report(const struct chees *c, const struct adapt *a, int64_t k, double grad)
{
    rmc_log(RMC_LOG_DEBUG, "chees: iteration %lld, step size %g, trajectory length %g "
            "(averaged %g), criterion gradient %g, harmonic-mean acceptance %g, %lld steps",
            (long long)k, c->settling ? median_step(c) : c->eps, exp(a->log_t),
            exp(a->log_tbar), grad, harmonic_accept(c), (long long)c->steps);
}

/* Hand the draws of the chunk made so far to the caller's draws_fn, and start the next
 * chunk. Returns non-zero when the caller asks to stop. */
static int flush(struct chees *c, int64_t upto)
{
    const rmc_config *cfg = c->config;
    const int64_t count = upto - c->chunk_first, rows = c->chunk_rows;
    int stop;

    if (!c->chunk_values || count <= 0)
        return 0;
    if (count < rows) { /* a last, short chunk: pack each chain's rows together */
        const int64_t cols = c->fit->columns;

        for (int64_t i = 1; i < c->n; i++) {
            memmove(c->chunk_values + i * count * cols, c->chunk_values + i * rows * cols,
                    (size_t)(count * cols) * sizeof(double));
            memmove(c->chunk_stats + i * count * RMC_STAT_COUNT,
                    c->chunk_stats + i * rows * RMC_STAT_COUNT,
                    (size_t)(count * RMC_STAT_COUNT) * sizeof(double));
        }
    }
    stop = cfg->draws_fn(c->chunk_first, count, c->n, c->fit->columns, c->chunk_values,
                         c->chunk_stats, cfg->draws_user) != 0;
    c->chunk_first = upto;
    return stop;
}

/* Warmup and sampling, iteration by iteration, from the calling thread. */
static rmc_status iterate(struct chees *c, struct adapt *a, const struct chees_hooks *hooks)
{
    const rmc_config *cfg = c->config;
    const int64_t warmup = cfg->warmup, total = warmup + cfg->draws * cfg->thin;
    /* The phases of warmup, as fractions of it: chains settle with their own step sizes
     * in [0, 20%); the metric is estimated over [20%, 40%) (forgotten: the chains are
     * still spreading out) and [40%, 65%) (kept); step size and trajectory length adapt
     * until 80%, leaving time to follow the metric, and the chains run the final
     * settings for the rest. */
    const int64_t settle_end = (int64_t)(0.2 * (double)warmup);
    const int64_t win2 = (int64_t)(0.4 * (double)warmup);
    const int64_t win_end = (int64_t)(0.65 * (double)warmup);
    const int64_t adapt_end = (int64_t)(0.8 * (double)warmup);
    int64_t divergent = 0, gradients_before = 0;
    rmc_status st;

    for (int64_t i = 0; i < c->n; i++) {
        c->eps_chain[i] = c->eps;
        da_restart(&c->da_chain[i], c->eps);
    }
    da_restart(&a->da, c->eps);
    a->log_t = a->log_tbar = log(c->eps);
    for (int64_t k = 0; k < total; k++) {
        const double u = jitter(k);
        const double t_len = exp(k < adapt_end ? a->log_t : a->log_tbar);

        c->iteration = k;
        c->settling = k < settle_end;
        c->t_len = u; /* while settling, a jittered share of SETTLE_STEPS */
        c->steps = (int64_t)fmax(1.0, fmin((double)MAX_LEAPFROG, ceil(u * t_len / c->eps)));
        c->adapting = k < adapt_end && c->n > 1;
        c->keep = k >= warmup && (k - warmup) % cfg->thin == 0;
        c->draw = k >= warmup ? (k - warmup) / cfg->thin : 0;
        st = run_job(c, JOB_TRANSITION);
        if (st != RMC_OK)
            return st;

        for (int64_t i = 0; c->keep && i < c->n; i++)
            divergent += c->divergent[i];
        if (c->keep && c->draw + 1 - c->chunk_first == c->chunk_rows && flush(c, c->draw + 1))
            return RMC_ERR_CANCELLED;
        if (c->adapting) {
            const double grad = chees_gradient(c, a, u);

            trajectory_learn(a, grad);
            if (k % 50 == 0)
                report(c, a, k, grad);
            if (k >= settle_end && k < win_end) {
                if (k == win2) {
                    memset(a->var_sum, 0, (size_t)c->d * sizeof *a->var_sum);
                    a->var_count = 0;
                }
                metric_learn(c, a);
            }
            if (c->settling) {
                c->eps = median_step(c);
            } else {
                c->eps = da_learn(&a->da, cfg->target_accept, harmonic_accept(c));
            }
            /* The shared step size starts from the chains' median, and restarts its
             * averaging when a metric window closes, as Stan's does. */
            if (k == settle_end - 1 || k == win2 - 1 || k == win_end - 1)
                da_restart(&a->da, c->eps);
            /* At least one step and at most MAX_LEAPFROG of them: below one step the
             * criterion's gradient no longer describes the trajectory that runs, and the
             * length would stay stuck while the step size grows. */
            a->log_t = fmax(log(c->eps), fmin(a->log_t, log(c->eps * MAX_LEAPFROG)));
        }
        if (k == adapt_end - 1 && a->da.count > 0)
            c->eps = exp(a->da.xbar);

        if (hooks && hooks->tick) {
            int64_t gradients = 0;

            for (int t = 0; t < c->nthreads; t++)
                gradients += c->slices[t].gradients;
            if (hooks->tick(hooks->ctx, (k + 1) * c->n, (k < warmup ? k + 1 : warmup) * c->n,
                            divergent, gradients - gradients_before)) {
                flush(c, c->kept[0]); /* what was drawn is delivered, never lost */
                return RMC_ERR_CANCELLED;
            }
            gradients_before = gradients;
        }
    }
    if (flush(c, c->kept[0]))
        return RMC_ERR_CANCELLED;
    return RMC_OK;
}

/* ------------------------------------------------------------------ MEADS */

/* An estimate of the largest eigenvalue of E[x x^T] from rows x_1..x_m (stride d): the
 * unbiased ratio of the sum of squared eigenvalues to the sum of eigenvalues, as Hoffman
 * and Sountsov do, which is far less noisy than an estimate of the maximum itself.
 * sum_{i != j} (x_i . x_j)^2 comes from the d x d Gram matrix when that is smaller than
 * the m x m one. */
static double max_eigenvalue(const double *x, const int64_t *rows, int64_t m, int64_t d,
                             double *gram)
{
    double trace = 0.0, fourth = 0.0, pairs = 0.0;

    if (m < 2)
        return NAN;
    for (int64_t a = 0; a < m; a++) {
        const double *xa = x + rows[a] * d;
        double sq = 0.0;

        for (int64_t j = 0; j < d; j++)
            sq += xa[j] * xa[j];
        trace += sq;
        fourth += sq * sq;
    }
    if (gram && d <= m) {
        memset(gram, 0, (size_t)(d * d) * sizeof *gram);
        for (int64_t a = 0; a < m; a++) {
            const double *xa = x + rows[a] * d;

            for (int64_t j = 0; j < d; j++) {
                for (int64_t k = 0; k <= j; k++)
                    gram[j * d + k] += xa[j] * xa[k];
            }
        }
        for (int64_t j = 0; j < d; j++) {
            for (int64_t k = 0; k <= j; k++)
                pairs += (j == k ? 1.0 : 2.0) * gram[j * d + k] * gram[j * d + k];
        }
        pairs -= fourth;
    } else {
        for (int64_t a = 0; a < m; a++) {
            for (int64_t b = a + 1; b < m; b++) {
                const double *xa = x + rows[a] * d, *xb = x + rows[b] * d;
                double dot = 0.0;

                for (int64_t j = 0; j < d; j++)
                    dot += xa[j] * xb[j];
                pairs += 2.0 * dot * dot;
            }
        }
    }
    return (pairs / ((double)m * (double)(m - 1))) / (trace / (double)m);
}

/* Fold k's parameters from the chains `rows` of another fold at iteration t: the metric
 * from their positions' variances, the step size 0.5 / sqrt(lambda_max) of their scaled
 * gradients (at most 1), and the damping from lambda_max of their standardised positions,
 * floored early on at 1 / ((t + 1) eps) so that the first iterations forget the start. */
static void meads_params(struct chees *c, int k, const int64_t *rows, int64_t m, int64_t t)
{
    const int64_t d = c->d;
    double *metric = c->fold_metric + (int64_t)k * d, *sd = c->x1, *mean = c->x1 + d;
    double *z = c->v1; /* [m][d] scratch: scaled gradients, then standardised positions */
    double lam, eps, gamma;

    for (int64_t j = 0; j < d; j++) {
        double mu = 0.0, m2 = 0.0;

        for (int64_t a = 0; a < m; a++) {
            const double v = c->q[rows[a] * d + j], delta = v - mu;

            mu += delta / (double)(a + 1);
            m2 += delta * (v - mu);
        }
        sd[j] = sqrt(m2 / (double)m);
        if (!(sd[j] > 0.0) || !isfinite(sd[j]))
            sd[j] = 1.0;
        mean[j] = mu;
    }

    /* rows of z are 0..m-1 (the identity list ident) */
    for (int64_t a = 0; a < m; a++) {
        for (int64_t j = 0; j < d; j++)
            z[a * d + j] = c->g[rows[a] * d + j] * sd[j];
    }
    lam = max_eigenvalue(z, c->ident, m, d, c->gram);
    eps = isfinite(lam) && lam > 0.0 ? fmin(1.0, 0.5 / sqrt(lam)) : c->fold_eps[k];

    for (int64_t a = 0; a < m; a++) {
        for (int64_t j = 0; j < d; j++)
            z[a * d + j] = (c->q[rows[a] * d + j] - mean[j]) / sd[j];
    }
    lam = max_eigenvalue(z, c->ident, m, d, c->gram);
    gamma = fmax(isfinite(lam) && lam > 0.0 ? 1.0 / sqrt(lam) : 0.0,
                 1.0 / ((double)(t + 1) * eps));

    c->fold_eps[k] = eps;
    c->fold_alpha[k] = 1.0 - exp(-2.0 * eps * gamma);
    c->fold_delta[k] = 0.5 * c->fold_alpha[k];
    for (int64_t j = 0; j < d; j++)
        metric[j] = sd[j] * sd[j];
}

/* The chains of fold k, in chain order, into rows; returns how many. */
static int64_t fold_rows(const struct chees *c, int k, int64_t *rows)
{
    int64_t m = 0;

    for (int64_t i = 0; i < c->n; i++) {
        if (c->fold_of[i] == k)
            rows[m++] = i;
    }
    return m;
}

/* Deal the chains into folds anew (a seeded Fisher-Yates shuffle of the assignment), so
 * that no fold keeps adapting from the same other fold. */
static void shuffle_folds(struct chees *c, int64_t t)
{
    struct rng r;

    rng_init(&r, c->config->seed, UINT64_MAX, (uint64_t)t, RNG_PROBE);
    for (int64_t i = c->n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(rng_uniform(&r) * (double)(i + 1));
        const int32_t f = c->fold_of[i];

        c->fold_of[i] = c->fold_of[j < i ? j : i];
        c->fold_of[j < i ? j : i] = f;
    }
}

/* MEADS warmup and sampling (Hoffman and Sountsov 2022, their Algorithm 3): at warmup
 * iteration t fold t mod K stays still and every other fold k takes its parameters from
 * fold k - 1; every K iterations the chains are dealt into folds anew. After warmup every
 * chain runs with the folds' mean parameters.
 *
 * The chains first settle for 20% of warmup as under ChEES (their own step sizes, HMC with
 * a jittered share of 32 steps): MEADS's step size comes from the largest curvature the
 * chains see, and chains started far out in the tails, where gradients are huge, would
 * give every fold a step so small that nobody moves. */
static rmc_status meads_iterate(struct chees *c, const struct chees_hooks *hooks)
{
    const rmc_config *cfg = c->config;
    const int64_t warmup = cfg->warmup, total = warmup + cfg->draws * cfg->thin;
    const int K = c->folds;
    int64_t *rows = c->rows;
    int64_t divergent = 0, gradients_before = 0;
    rmc_status st;

    const int64_t settle_end = (int64_t)(0.2 * (double)warmup);

    for (int64_t i = 0; i < c->n; i++) {
        c->fold_of[i] = (int32_t)(i % K);
        c->slice_u[i] = 2.0 * jitter(i) - 1.0;
        c->eps_chain[i] = c->eps;
        da_restart(&c->da_chain[i], c->eps);
    }
    c->meads = 0;
    c->settling = 1;
    for (int64_t t = 0; t < settle_end; t++) {
        c->iteration = t;
        c->t_len = jitter(t);
        st = run_job(c, JOB_TRANSITION);
        if (st != RMC_OK)
            return st;
        if (hooks && hooks->tick && hooks->tick(hooks->ctx, (t + 1) * c->n, (t + 1) * c->n, 0,
                                                0))
            return RMC_ERR_CANCELLED;
    }
    c->meads = 1;
    c->settling = 0;
    meads_params(c, 0, c->ident, c->n, 0);
    for (int k = 1; k < K; k++) {
        c->fold_eps[k] = c->fold_eps[0];
        c->fold_alpha[k] = c->fold_alpha[0];
        c->fold_delta[k] = c->fold_delta[0];
        memcpy(c->fold_metric + k * c->d, c->fold_metric, (size_t)c->d * sizeof(double));
    }

    for (int64_t t = settle_end; t < total; t++) {
        c->iteration = t;
        c->keep = t >= warmup && (t - warmup) % cfg->thin == 0;
        c->draw = t >= warmup ? (t - warmup) / cfg->thin : 0;
        c->frozen = -1;
        if (t < warmup) {
            if (t > 0 && t % K == 0)
                shuffle_folds(c, t);
            c->frozen = (int)(t % K);
            for (int k = 0; k < K; k++) {
                if (k != c->frozen)
                    meads_params(c, k, rows, fold_rows(c, (k + K - 1) % K, rows), t);
            }
        }
        if (t == warmup) { /* the folds' mean parameters, for every chain */
            double e = 0.0, a = 0.0;

            for (int k = 0; k < K; k++) {
                e += c->fold_eps[k] / K;
                a += c->fold_alpha[k] / K;
            }
            for (int64_t j = 0; j < c->d; j++) {
                double sd = 0.0;

                for (int k = 0; k < K; k++)
                    sd += sqrt(c->fold_metric[k * c->d + j]) / K;
                for (int k = 0; k < K; k++)
                    c->fold_metric[k * c->d + j] = sd * sd;
                c->inv_metric[j] = sd * sd;
            }
            for (int k = 0; k < K; k++) {
                c->fold_eps[k] = e;
                c->fold_alpha[k] = a;
                c->fold_delta[k] = 0.5 * a;
            }
            c->eps = e;
        }

        st = run_job(c, JOB_TRANSITION);
        if (st != RMC_OK)
            return st;
        for (int64_t i = 0; c->keep && i < c->n; i++)
            divergent += c->divergent[i];
        if (c->keep && c->draw + 1 - c->chunk_first == c->chunk_rows && flush(c, c->draw + 1))
            return RMC_ERR_CANCELLED;
        if (hooks && hooks->tick) {
            int64_t gradients = 0;

            for (int s = 0; s < c->nthreads; s++)
                gradients += c->slices[s].gradients;
            if (hooks->tick(hooks->ctx, (t + 1) * c->n, (t < warmup ? t + 1 : warmup) * c->n,
                            divergent, gradients - gradients_before)) {
                flush(c, c->kept[0]);
                return RMC_ERR_CANCELLED;
            }
            gradients_before = gradients;
        }
    }
    if (warmup == 0)
        c->eps = c->fold_eps[0];
    if (flush(c, c->kept[0]))
        return RMC_ERR_CANCELLED;
    return RMC_OK;
}

rmc_status chees_run(const rmc_program *program, const rmc_config *config,
                     struct rmc_fit *fit, int nthreads, const struct chees_hooks *hooks)
{
    struct chees c = {
        .program = program, .config = config, .fit = fit, .hooks = hooks,
        .meads = config->sampler == RMC_SAMPLER_MEADS, .folds = 4, .frozen = -1,
        .n = config->chains, .d = program->dim,
        .eps = config->step_size, .error = RMC_OK,
    };
    struct adapt a = { 0 };
    rmc_status st;

    c.nthreads = nthreads < 1 ? 1 : (int64_t)nthreads > c.n ? (int)c.n : nthreads;
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.go, NULL);
    pthread_cond_init(&c.done, NULL);
    st = allocate(&c, &a);
    if (st == RMC_OK) {
        start_threads(&c);
        st = run_job(&c, JOB_INIT);
        c.meads = 0; /* the step size search and MEADS's settling phase run HMC */
        if (st == RMC_OK && config->warmup > 0)
            st = initial_step_size(&c);
        if (st == RMC_OK)
            st = config->sampler == RMC_SAMPLER_MEADS ? meads_iterate(&c, hooks)
                                                      : iterate(&c, &a, hooks);
        run_job(&c, JOB_QUIT);
        for (int t = 1; t < c.nthreads; t++)
            pthread_join(c.slices[t].thread, NULL);

        fit->gradients = 0;
        for (int t = 0; t < c.nthreads; t++)
            fit->gradients += c.slices[t].gradients;
        for (int64_t i = 0; i < c.n; i++) {
            fit->completed[i] = fit->draws > 0 ? c.kept[i] : 0;
            fit->step_size[i] = c.eps;
            memcpy(fit->inv_metric + i * c.d, c.inv_metric, (size_t)c.d * sizeof(double));
        }
        if (c.error != RMC_OK)
            st = rmc_fail(c.error, "%s", c.message);
    }
    free_all(&c, &a);
    pthread_cond_destroy(&c.done);
    pthread_cond_destroy(&c.go);
    pthread_mutex_destroy(&c.lock);
    return st;
}
