/* sampler.c - NUTS (multinomial, generalized U-turn criterion) and static HMC, with
 * Stan's warmup: step size by dual averaging, diagonal mass matrix in doubling windows.
 *
 * NUTS is iterative: a subtree of depth j is 2^j leapfrog steps in one direction, and
 * after step k the completed blocks ending at k (sizes 1, 2, 4, ... that divide k) are
 * merged like the carries of a binary counter, each merge checking the U-turn criterion
 * on the merged block and across its two halves. levels[l] holds the left half waiting at
 * level l. This visits the same checks as Stan's recursive build_tree. */
#include "sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "util.h"

enum chain_state {
    ST_START,
    ST_INIT,
    ST_STEPSIZE,
    ST_NUTS,
    ST_HMC,
    ST_DONE,
};

enum { RNG_TRANSITION = RNG_TREE, RNG_STEPSIZE = 16 };

#define MAX_DELTA_H 1000.0 /* energy error that marks a divergence, as in Stan */

/* Dual averaging constants (Hoffman and Gelman 2014), Stan's defaults. */
#define DA_GAMMA 0.05
#define DA_T0 10.0
#define DA_KAPPA 0.75

static double log_add_exp(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0.0;

    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double kinetic(const struct chain *c, const double *p)
{
    double s = 0.0;

    for (int64_t i = 0; i < c->dim; i++)
        s += c->inv_metric[i] * p[i] * p[i];
    return 0.5 * s;
}

static void sample_momentum(struct chain *c, struct rng *r, double *p)
{
    for (int64_t i = 0; i < c->dim; i++)
        p[i] = rng_normal(r) / sqrt(c->inv_metric[i]);
}

static void swap_arrays(double **a, double **b)
{
    double *t = *a;

    *a = *b;
    *b = t;
}

static void copy(double *dst, const double *src, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof *dst);
}

/* First half of a leapfrog step from s in direction dir: p_half, and the position to
 * evaluate next. */
static void leapfrog_begin(struct chain *c, const struct point *s, int dir)
{
    const double h = 0.5 * dir * c->eps, e = dir * c->eps;

    for (int64_t i = 0; i < c->dim; i++) {
        c->p_half[i] = s->p[i] + h * s->grad[i];
        c->pending.q[i] = s->q[i] + e * c->inv_metric[i] * c->p_half[i];
    }
}

/* Second half: the evaluated pending point replaces s (its arrays are recycled). */
static void leapfrog_end(struct chain *c, struct point *s, int dir)
{
    const double h = 0.5 * dir * c->eps;

    swap_arrays(&s->q, &c->pending.q);
    swap_arrays(&s->grad, &c->pending.grad);
    s->lp = c->pending.lp;
    for (int64_t i = 0; i < c->dim; i++)
        s->p[i] = c->p_half[i] + h * s->grad[i];
    c->gradients++;
}

/* The energy, +inf for a point to reject: NaN, and also -inf, which a log density of
 * +inf gives (an improper model or a callback's bug). -inf would be neither NaN nor a
 * divergence: HMC would accept the point (exp(H0 - H) = inf) and NUTS would weigh it as
 * inf - inf; +inf makes the step a divergence, as init_step refuses such points. */
static double hamiltonian(const struct chain *c, const struct point *s)
{
    double h = -s->lp + kinetic(c, s->p);

    return h == h && h != -INFINITY ? h : INFINITY;
}

/* ------------------------------------------------------------------ adaptation */

static void da_restart(struct chain *c)
{
    c->da_count = 0;
    c->da_sbar = 0;
    c->da_xbar = 0;
}

static void da_learn(struct chain *c, double accept)
{
    double eta, x, w;

    c->da_count += 1;
    if (accept > 1.0)
        accept = 1.0;
    eta = 1.0 / (c->da_count + DA_T0);
    c->da_sbar = (1.0 - eta) * c->da_sbar + eta * (c->config->target_accept - accept);
    x = c->da_mu - c->da_sbar * sqrt(c->da_count) / DA_GAMMA;
    w = pow(c->da_count, -DA_KAPPA);
    c->da_xbar = (1.0 - w) * c->da_xbar + w * x;
    c->eps = exp(x);
}

static void windows_init(struct chain *c)
{
    int64_t w = c->config->warmup;

    c->adapt_windows = c->config->adapt_metric && w >= 20;
    c->win_init = 75;
    c->win_term = 50;
    c->win_size = 25;
    if (c->win_init + c->win_term + c->win_size > w) {
        c->win_init = (int64_t)(0.15 * (double)w);
        c->win_term = (int64_t)(0.1 * (double)w);
        c->win_size = w - (c->win_init + c->win_term);
    }
    c->win_counter = 0;
    c->win_next = c->win_init + c->win_size - 1;
}

static void windows_next(struct chain *c)
{
    int64_t w = c->config->warmup, last = w - c->win_term - 1;

    if (c->win_next == last)
        return;
    c->win_size *= 2;
    c->win_next = c->win_counter + c->win_size;
    /* A window that would leave too short a final one is stretched to the end. */
    if (c->win_next != last && c->win_next + 2 * c->win_size >= w - c->win_term)
        c->win_next = last;
}

/* Feed one warmup draw to the metric estimate; returns 1 when the metric was updated. */
static int metric_learn(struct chain *c)
{
    int64_t w = c->config->warmup, k = c->win_counter;
    int updated = 0;

    if (k >= c->win_init && k < w - c->win_term && k != w) {
        struct welford *v = &c->var;

        v->n++;
        for (int64_t i = 0; i < c->dim; i++) {
            double d = c->z.q[i] - v->mean[i];

            v->mean[i] += d / (double)v->n;
            v->m2[i] += d * (c->z.q[i] - v->mean[i]);
        }
    }
    if (k == c->win_next && k != w) {
        struct welford *v = &c->var;
        double n = (double)v->n;

        windows_next(c);
        /* Shrink toward a small constant, as Stan does, so short windows stay sane. */
        for (int64_t i = 0; v->n > 1 && i < c->dim; i++) {
            double var = v->m2[i] / (n - 1.0);

            c->inv_metric[i] = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0));
        }
        v->n = 0;
        memset(v->mean, 0, (size_t)c->dim * sizeof *v->mean);
        memset(v->m2, 0, (size_t)c->dim * sizeof *v->m2);
        updated = 1;
    }
    c->win_counter++;
    return updated;
}

/* ------------------------------------------------------------------ step size search */

/* Stan's heuristic: double or halve the step size until one leapfrog step from the
 * current point crosses an acceptance probability of 0.8. */
static enum chain_result stepsize_trial(struct chain *c)
{
    struct point *s = &c->ends[0];

    copy(s->q, c->z.q, c->dim);
    copy(s->grad, c->z.grad, c->dim);
    s->lp = c->z.lp;
    sample_momentum(c, &c->rng_tree, s->p);
    c->ss_h0 = hamiltonian(c, s);
    leapfrog_begin(c, s, 1);
    c->state = ST_STEPSIZE;
    return CHAIN_NEED_EVAL;
}

static enum chain_result begin_iteration(struct chain *c);
static enum chain_result begin_transition(struct chain *c);

static enum chain_result stepsize_step(struct chain *c)
{
    struct point *s = &c->ends[0];
    double delta;

    leapfrog_end(c, s, 1);
    delta = c->ss_h0 - hamiltonian(c, s);
    if (c->ss_direction == 0)
        c->ss_direction = delta > log(0.8) ? 1 : -1;
    if ((c->ss_direction > 0 && !(delta > log(0.8))) ||
        (c->ss_direction < 0 && !(delta < log(0.8))) || ++c->ss_trials > 100) {
        /* After a metric update, dual averaging restarts around the new step size. */
        c->da_mu = log(10.0 * c->eps);
        da_restart(c);
        return begin_transition(c);
    }
    c->eps = c->ss_direction > 0 ? 2.0 * c->eps : 0.5 * c->eps;
    if (c->eps > 1e7 || c->eps < 1e-300) {
        c->error = rmc_fail(RMC_ERR_INIT, "chain %lld: step size search diverged (%g); the "
                            "posterior may be improper", (long long)c->index, c->eps);
        return CHAIN_FAILED;
    }
    return stepsize_trial(c);
}

static enum chain_result begin_stepsize_search(struct chain *c)
{
    rng_init(&c->rng_tree, c->config->seed, (uint64_t)c->index, (uint64_t)c->iteration,
             RNG_STEPSIZE);
    c->ss_direction = 0;
    c->ss_trials = 0;
    return stepsize_trial(c);
}

/* ------------------------------------------------------------------ NUTS */

/* The U-turn criterion on a stretch with momentum sum rho and sharp momenta at its ends. */
static int no_uturn(const struct chain *c, const double *ps_a, const double *ps_b,
                    const double *rho)
{
    return dot(ps_a, rho, c->dim) > 0 && dot(ps_b, rho, c->dim) > 0;
}

/* Merge block a (first in build order) into b (second, adjacent): b becomes the whole.
 * Returns 0 on a U-turn, over the whole and across the seam as Stan checks. */
static int merge_blocks(struct chain *c, const struct block *a, struct block *b)
{
    double *tmp = c->pending.p; /* scratch: pending momentum is never used otherwise */
    int ok;

    for (int64_t i = 0; i < c->dim; i++)
        tmp[i] = a->rho[i] + b->p_begin[i];
    ok = no_uturn(c, a->ps_begin, b->ps_begin, tmp);
    for (int64_t i = 0; ok && i < c->dim; i++)
        tmp[i] = b->rho[i] + a->p_end[i];
    ok = ok && no_uturn(c, a->ps_end, b->ps_end, tmp);
    for (int64_t i = 0; i < c->dim; i++)
        b->rho[i] += a->rho[i];
    ok = ok && no_uturn(c, a->ps_begin, b->ps_end, b->rho);
    copy(b->p_begin, a->p_begin, c->dim);
    copy(b->ps_begin, a->ps_begin, c->dim);
    return ok;
}

static void swap_blocks(struct block *a, struct block *b)
{
    struct block t = *a;

    *a = *b;
    *b = t;
}

static void swap_points(struct point *a, struct point *b)
{
    struct point t = *a;

    *a = *b;
    *b = t;
}

static enum chain_result end_iteration(struct chain *c);

/* The subtree's candidate becomes the selected point. */
static void take_candidate(struct chain *c)
{
    double h = c->sample_h;

    swap_points(&c->sample, &c->cand);
    c->sample_h = c->cand_h;
    c->cand_h = h;
}

static enum chain_result finish_transition(struct chain *c, double accept, double energy)
{
    double *st = NULL;

    swap_arrays(&c->z.q, &c->sample.q);
    swap_arrays(&c->z.grad, &c->sample.grad);
    c->z.lp = c->sample.lp;
    if (c->iteration >= c->config->warmup &&
        (c->iteration - c->config->warmup) % c->config->thin == 0)
        st = c->out.stats + c->kept * RMC_STAT_COUNT;
    if (st) {
        st[RMC_STAT_LP] = c->z.lp;
        st[RMC_STAT_ACCEPT] = accept;
        st[RMC_STAT_STEP_SIZE] = c->eps;
        st[RMC_STAT_TREE_DEPTH] = c->depth;
        st[RMC_STAT_N_LEAPFROG] = c->n_leapfrog;
        st[RMC_STAT_DIVERGENT] = c->divergent;
        st[RMC_STAT_ENERGY] = energy;
    }
    c->accept = accept;
    return end_iteration(c);
}

static enum chain_result begin_subtree(struct chain *c)
{
    c->direction = rng_uniform(&c->rng_tree) > 0.5 ? 1 : -1;
    c->sub_depth = c->depth;
    c->sub_step = 0;
    c->sub_log_sum_w = -INFINITY;
    leapfrog_begin(c, &c->ends[c->direction > 0], c->direction);
    return CHAIN_NEED_EVAL;
}

static enum chain_result begin_transition(struct chain *c)
{
    struct point *e0 = &c->ends[0], *e1 = &c->ends[1];

    rng_init(&c->rng_tree, c->config->seed, (uint64_t)c->index, (uint64_t)c->iteration,
             RNG_TRANSITION);
    sample_momentum(c, &c->rng_tree, e0->p);
    copy(e0->q, c->z.q, c->dim);
    copy(e0->grad, c->z.grad, c->dim);
    e0->lp = c->z.lp;
    copy(e1->q, e0->q, c->dim);
    copy(e1->p, e0->p, c->dim);
    copy(e1->grad, e0->grad, c->dim);
    e1->lp = e0->lp;
    copy(c->sample.q, e0->q, c->dim);
    copy(c->sample.grad, e0->grad, c->dim);
    c->sample.lp = e0->lp;
    c->h0 = hamiltonian(c, e0);
    c->sample_h = c->h0;
    c->n_leapfrog = 0;
    c->divergent = 0;
    c->depth = 0;
    c->sum_metro = 0.0;

    if (c->config->sampler == RMC_SAMPLER_HMC) {
        c->hmc_step = 0;
        c->state = ST_HMC;
        leapfrog_begin(c, e1, 1);
        return CHAIN_NEED_EVAL;
    }

    copy(c->traj.rho, e0->p, c->dim);
    copy(c->traj.p_begin, e0->p, c->dim);
    copy(c->traj.p_end, e0->p, c->dim);
    for (int64_t i = 0; i < c->dim; i++)
        c->traj.ps_begin[i] = c->traj.ps_end[i] = c->inv_metric[i] * e0->p[i];
    c->log_sum_w = 0.0;
    c->state = ST_NUTS;
    return begin_subtree(c);
}

/* The whole new subtree (c->leaf) joins the trajectory. Returns 0 on a U-turn. */
static int merge_into_trajectory(struct chain *c)
{
    struct block *t = &c->traj, *s = &c->leaf;
    const int fwd = c->direction > 0;
    double *far_ps = fwd ? t->ps_begin : t->ps_end;
    double *near_ps = fwd ? t->ps_end : t->ps_begin;
    double *near_p = fwd ? t->p_end : t->p_begin;
    double *tmp = c->pending.p;
    int ok;

    for (int64_t i = 0; i < c->dim; i++)
        tmp[i] = t->rho[i] + s->p_begin[i];
    ok = no_uturn(c, far_ps, s->ps_begin, tmp);
    for (int64_t i = 0; i < c->dim; i++)
        tmp[i] = s->rho[i] + near_p[i];
    ok = ok && no_uturn(c, near_ps, s->ps_end, tmp);
    for (int64_t i = 0; i < c->dim; i++)
        t->rho[i] += s->rho[i];
    ok = ok && no_uturn(c, far_ps, s->ps_end, t->rho);

    /* The subtree's far end is the trajectory's new end on this side. */
    copy(near_p, s->p_end, c->dim);
    copy(near_ps, s->ps_end, c->dim);
    return ok;
}

static enum chain_result nuts_step(struct chain *c)
{
    const int side = c->direction > 0;
    struct point *e = &c->ends[side];
    struct block *cur = &c->leaf;
    double h, lw;
    int64_t idx;
    int level;

    leapfrog_end(c, e, c->direction);
    c->n_leapfrog++;
    h = hamiltonian(c, e);
    lw = c->h0 - h;
    c->sum_metro += lw > 0 ? 1.0 : exp(lw);
    if (h - c->h0 > MAX_DELTA_H)
        c->divergent = 1;

    /* Multinomial pick within the subtree, one leaf at a time. */
    c->sub_log_sum_w = log_add_exp(c->sub_log_sum_w, lw);
    if (log(rng_uniform(&c->rng_tree)) < lw - c->sub_log_sum_w) {
        copy(c->cand.q, e->q, c->dim);
        copy(c->cand.grad, e->grad, c->dim);
        c->cand.lp = e->lp;
        c->cand_h = h;
    }
    if (c->divergent)
        return finish_transition(c, c->sum_metro / c->n_leapfrog, c->sample_h);

    copy(cur->rho, e->p, c->dim);
    copy(cur->p_begin, e->p, c->dim);
    copy(cur->p_end, e->p, c->dim);
    for (int64_t i = 0; i < c->dim; i++)
        cur->ps_begin[i] = cur->ps_end[i] = c->inv_metric[i] * e->p[i];

    /* Carry merges: every completed left half below waits in levels[]. */
    idx = c->sub_step;
    for (level = 0; idx & 1; level++, idx >>= 1) {
        if (!merge_blocks(c, &c->levels[level], cur))
            return finish_transition(c, c->sum_metro / c->n_leapfrog, c->sample_h);
    }
    if (level < c->sub_depth)
        swap_blocks(&c->levels[level], cur);

    if (++c->sub_step < ((int64_t)1 << c->sub_depth)) {
        leapfrog_begin(c, e, c->direction);
        return CHAIN_NEED_EVAL;
    }

    /* The subtree is complete and valid: biased progressive sampling between it and the
     * old trajectory, then the U-turn check over the joined trajectory. */
    c->depth++;
    if (c->sub_log_sum_w > c->log_sum_w ||
        log(rng_uniform(&c->rng_tree)) < c->sub_log_sum_w - c->log_sum_w)
        take_candidate(c);
    c->log_sum_w = log_add_exp(c->log_sum_w, c->sub_log_sum_w);
    if (!merge_into_trajectory(c) || c->depth >= c->config->max_depth)
        return finish_transition(c, c->sum_metro / c->n_leapfrog, c->sample_h);
    return begin_subtree(c);
}

/* ------------------------------------------------------------------ static HMC */

static enum chain_result hmc_step(struct chain *c)
{
    struct point *e = &c->ends[1];
    double h, accept;

    leapfrog_end(c, e, 1);
    c->n_leapfrog++;
    h = hamiltonian(c, e);
    if (h - c->h0 > MAX_DELTA_H)
        c->divergent = 1;
    if (++c->hmc_step < c->config->hmc_steps && !c->divergent) {
        leapfrog_begin(c, e, 1);
        return CHAIN_NEED_EVAL;
    }

    accept = c->divergent ? 0.0 : (c->h0 - h > 0 ? 1.0 : exp(c->h0 - h));
    if (!c->divergent && rng_uniform(&c->rng_tree) < accept) {
        copy(c->sample.q, e->q, c->dim);
        copy(c->sample.grad, e->grad, c->dim);
        c->sample.lp = e->lp;
        c->sample_h = h;
    }
    return finish_transition(c, accept, c->sample_h);
}

/* ------------------------------------------------------------------ iterations */

static enum chain_result end_iteration(struct chain *c)
{
    const int64_t warmup = c->config->warmup;
    int search = 0;

    if (c->iteration < warmup) {
        da_learn(c, c->accept);
        if (c->adapt_windows && metric_learn(c))
            search = 1;
        if (c->iteration == warmup - 1)
            c->eps = exp(c->da_xbar);
    } else if ((c->iteration - warmup) % c->config->thin == 0) {
        program_columns(c->program, c->ws, c->z.q, c->out.values + c->kept * c->out.columns);
        c->kept++;
    }
    c->iteration++;
    if (c->iteration == c->total) {
        c->state = ST_DONE;
        return CHAIN_FINISHED;
    }
    return search ? begin_stepsize_search(c) : begin_iteration(c);
}

static enum chain_result begin_iteration(struct chain *c)
{
    if (c->iteration == c->total) {
        c->state = ST_DONE;
        return CHAIN_FINISHED;
    }
    return begin_transition(c);
}

static int finite_point(const struct chain *c, const struct point *s)
{
    if (!isfinite(s->lp))
        return 0;
    for (int64_t i = 0; i < c->dim; i++) {
        if (!isfinite(s->grad[i]))
            return 0;
    }
    return 1;
}

static enum chain_result propose_init(struct chain *c)
{
    const double r = c->config->init_radius;

    if (c->config->init && c->init_tries == 0) {
        copy(c->pending.q, c->config->init + c->index * c->dim, c->dim);
    } else {
        for (int64_t i = 0; i < c->dim; i++)
            c->pending.q[i] = r * (2.0 * rng_uniform(&c->rng_tree) - 1.0);
    }
    c->init_tries++;
    c->state = ST_INIT;
    return CHAIN_NEED_EVAL;
}

static enum chain_result init_step(struct chain *c)
{
    c->gradients++;
    if (!finite_point(c, &c->pending)) {
        if (c->init_tries >= c->config->init_tries) {
            const char *culprit = program_explain(c->program, c->ws, c->pending.q);
            char why[320] = "";

            if (culprit)
                snprintf(why, sizeof why, "; at the last point tried, %s has a log density "
                         "of -inf", culprit);
            c->error = rmc_fail(RMC_ERR_INIT, "chain %lld: no initial point with a finite log "
                                "density and gradient after %d tries (inits uniform in "
                                "(-%g, %g) on the unconstrained scale%s)%s",
                                (long long)c->index, c->init_tries, c->config->init_radius,
                                c->config->init_radius,
                                c->config->init ? ", after the given init" : "", why);
            return CHAIN_FAILED;
        }
        return propose_init(c);
    }
    swap_arrays(&c->z.q, &c->pending.q);
    swap_arrays(&c->z.grad, &c->pending.grad);
    c->z.lp = c->pending.lp;
    return c->config->warmup > 0 ? begin_stepsize_search(c) : begin_iteration(c);
}

enum chain_result chain_advance(struct chain *c)
{
    switch (c->state) {
    case ST_START:
        rng_init(&c->rng_tree, c->config->seed, (uint64_t)c->index, 0, RNG_INIT);
        return propose_init(c);
    case ST_INIT:
        return init_step(c);
    case ST_STEPSIZE:
        return stepsize_step(c);
    case ST_NUTS:
        return nuts_step(c);
    case ST_HMC:
        return hmc_step(c);
    default:
        return CHAIN_FINISHED;
    }
}

/* ------------------------------------------------------------------ allocation */

/* The next d doubles of a chain's one block. Slices are taken one statement at a time: in
 * a compound literal the order of the initialisers' side effects is unspecified. */
static double *take(double **mem, int64_t d)
{
    double *slice = *mem;

    *mem += d;
    return slice;
}

static struct point take_point(double **mem, int64_t d)
{
    struct point s = { 0 };

    s.q = take(mem, d);
    s.p = take(mem, d);
    s.grad = take(mem, d);
    return s;
}

static struct block take_block(double **mem, int64_t d)
{
    struct block b;

    b.rho = take(mem, d);
    b.p_begin = take(mem, d);
    b.p_end = take(mem, d);
    b.ps_begin = take(mem, d);
    b.ps_end = take(mem, d);
    return b;
}

struct chain *chain_create(const rmc_program *program, const rmc_config *config,
                           int64_t index, struct workspace *ws, struct chain_output out)
{
    const int64_t d = program->dim;
    const int levels = config->max_depth + 1;
    /* pending 3, z 3, ends 6, sample 3, cand 3, p_half, inv_metric, welford 2,
     * traj 5, leaf 5, levels 5 each */
    const int64_t arrays = 3 + 3 + 6 + 3 + 3 + 1 + 1 + 2 + 5 + 5 + 5 * (int64_t)levels;
    struct chain *c = rmc_calloc(1, sizeof *c);
    double *mem;

    if (!c)
        return NULL;
    c->levels = rmc_calloc((size_t)levels, sizeof *c->levels);
    mem = rmc_calloc((size_t)(arrays * d), sizeof *mem);
    if (!c->levels || !mem) {
        free(c->levels);
        free(mem);
        free(c);
        return NULL;
    }
    c->mem = mem;
    c->pending = take_point(&mem, d);
    c->z = take_point(&mem, d);
    c->ends[0] = take_point(&mem, d);
    c->ends[1] = take_point(&mem, d);
    c->sample = take_point(&mem, d);
    c->cand = take_point(&mem, d);
    c->p_half = take(&mem, d);
    c->inv_metric = take(&mem, d);
    c->var.mean = take(&mem, d);
    c->var.m2 = take(&mem, d);
    c->traj = take_block(&mem, d);
    c->leaf = take_block(&mem, d);
    for (int l = 0; l < levels; l++)
        c->levels[l] = take_block(&mem, d);

    c->program = program;
    c->config = config;
    c->index = index;
    c->dim = d;
    c->ws = ws;
    c->out = out;
    c->total = config->warmup + config->draws * config->thin;
    c->eps = config->step_size;
    c->da_mu = log(10.0 * config->step_size);
    for (int64_t i = 0; i < d; i++)
        c->inv_metric[i] = 1.0;
    windows_init(c);
    c->state = ST_START;
    return c;
}

void chain_free(struct chain *c)
{
    if (!c)
        return;
    free(c->mem);
    free(c->levels);
    free(c);
}
