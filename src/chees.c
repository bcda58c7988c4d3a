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

static double kinetic(const struct chees *c, const double *p)
{
    double k = 0.0;

    for (int64_t j = 0; j < c->d; j++)
        k += c->inv_metric[j] * p[j] * p[j];
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
    const double h = 0.5 * e;
    int64_t k;

    for (k = 0; k < steps; k++) {
        for (int64_t j = 0; j < c->d; j++) {
            s->p[j] += h * s->gx[j];
            s->x[j] += e * c->inv_metric[j] * s->p[j];
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
    return c->settling ? c->eps_chain[i] : c->eps;
}

static int64_t chain_steps(const struct chees *c)
{
    const double steps = c->settling ? ceil(c->t_len * SETTLE_STEPS) : (double)c->steps;

    return c->job == JOB_PROBE ? 1 : (int64_t)fmax(1.0, fmin((double)MAX_LEAPFROG, steps));
}

/* Start chain i's trajectory: a fresh momentum in p, the state copied to (x, gx); returns
 * the starting energy. A probe (the initial step size search) draws from its own stream. */
static double begin(const struct chees *c, int64_t i, double *p, double *x, double *gx)
{
    struct rng r;

    if (c->job == JOB_PROBE)
        rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration, RNG_PROBE);
    else
        rng_init(&r, c->config->seed, (uint64_t)i, (uint64_t)c->iteration + 1, RNG_MOMENTUM);
    draw_momentum(c, &r, p);
    memcpy(x, c->q + i * c->d, (size_t)c->d * sizeof *x);
    memcpy(gx, c->g + i * c->d, (size_t)c->d * sizeof *gx);
    return hamiltonian(c->lp[i], kinetic(c, p));
}

/* End chain i's trajectory at (x, p, gx, lp) after taken steps: the acceptance, what the
 * adaptation needs, the Metropolis decision and the draw. A probe keeps the acceptance. */
static void end(struct slice *s, int64_t i, const double *x, const double *p,
                const double *gx, double lp, double h0, int64_t taken)
{
    struct chees *c = s->c;
    const int64_t d = c->d;
    double *q = c->q + i * d, *g = c->g + i * d;
    const double h1 = hamiltonian(lp, kinetic(c, p));
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
        c->h0[i] = begin(c, i, p + i * d, x + i * d, gx + i * d);
        c->taken[i] = -1; /* still moving */
    }
    for (step = 0; step < steps; step++) {
        for (int64_t i = 0; i < n; i++) {
            const double e = chain_eps(c, i), h = 0.5 * e;
            double *pi = p + i * d, *xi = x + i * d, *gi = gx + i * d;

            if (c->taken[i] >= 0)
                continue;
            for (int64_t j = 0; j < d; j++) {
                pi[j] += h * gi[j];
                xi[j] += e * c->inv_metric[j] * pi[j];
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
    if (!c->q || !c->lp || !c->divergent || !c->eps_chain || !c->da_chain || !c->steps_taken || !c->kept || !c->inv_metric ||
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

rmc_status chees_run(const rmc_program *program, const rmc_config *config,
                     struct rmc_fit *fit, int nthreads, const struct chees_hooks *hooks)
{
    struct chees c = {
        .program = program, .config = config, .fit = fit, .hooks = hooks,
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
        if (st == RMC_OK && config->warmup > 0)
            st = initial_step_size(&c);
        if (st == RMC_OK)
            st = iterate(&c, &a, hooks);
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
