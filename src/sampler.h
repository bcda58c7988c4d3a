/* sampler.h - the sampler kernel: one chain as a resumable state machine.
 *
 * Every step that needs the log density asks for it by filling `pending` and returning
 * CHAIN_NEED_EVAL; whoever drives the chain evaluates lp and gradient there and calls
 * chain_advance() again. The kernel never calls a backend itself, so the same code can run
 * one chain per CPU thread or a whole batch of chains in lockstep against a device. */
#ifndef RMC_SAMPLER_H
#define RMC_SAMPLER_H

#include <stdint.h>

#include "rmc.h"
#include "rng.h"

enum chain_result {
    CHAIN_NEED_EVAL,
    CHAIN_FINISHED,
    CHAIN_FAILED,
};

/* A phase-space point. */
struct point {
    double *q, *p, *grad;
    double lp;
};

/* A contiguous stretch of a trajectory, for the generalized U-turn criterion: the sum of
 * momenta and the momenta (plain and "sharp", M^-1 p) at both ends. */
struct block {
    double *rho, *p_begin, *p_end, *ps_begin, *ps_end;
};

/* Welford accumulator of per-coordinate variance for the mass matrix. */
struct welford {
    int64_t n;
    double *mean, *m2;
};

/* Where a chain writes its results: rows of the fit's arrays. */
struct chain_output {
    double *values; /* [draws][columns] */
    double *stats;  /* [draws][RMC_STAT_COUNT] */
    int64_t columns;
};

struct chain {
    /* fixed for the run */
    const rmc_program *program;
    const rmc_config *config;
    int64_t index, dim;
    struct workspace *ws; /* for output columns */
    struct chain_output out;

    /* evaluation request: q in, lp and grad out */
    struct point pending;

    /* progress */
    int state;
    int64_t iteration, total, kept;
    int64_t gradients;
    rmc_status error;

    /* current position */
    struct point z;

    /* adaptation */
    double eps;
    double *inv_metric;
    double da_mu, da_xbar, da_sbar, da_count;
    int64_t win_init, win_term, win_size, win_next, win_counter;
    int adapt_windows;
    struct welford var;

    /* step size search */
    double ss_h0, ss_direction;
    int ss_trials;

    /* init */
    int init_tries;

    /* one transition */
    struct rng rng_tree;
    double h0, log_sum_w, sub_log_sum_w, sum_metro, accept;
    double sample_h, cand_h;      /* energies of the selected and candidate points */
    int depth, sub_depth, direction, n_leapfrog, divergent, hmc_step;
    int64_t sub_step;
    struct point ends[2];         /* backward and forward ends of the trajectory  */
    struct point sample, cand;    /* selected point; candidate from the subtree   */
    double *p_half;
    struct block traj, leaf, *levels; /* whole trajectory; current block; level slots */
    double *mem;                  /* one allocation behind every array above      */
};

/* Allocate a chain's state. Returns NULL when out of memory. */
struct chain *chain_create(const rmc_program *program, const rmc_config *config,
                           int64_t index, struct workspace *ws, struct chain_output out);
void chain_free(struct chain *c);

/* Move the chain forward after its pending evaluation (or, the first time, start it). */
enum chain_result chain_advance(struct chain *c);

#endif
