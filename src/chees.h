/* chees.h - ChEES-HMC: many chains in lockstep, one trajectory length for all of them,
 * adapted from cross-chain statistics (Hoffman, Radul and Sountsov, 2021). */
#ifndef RMC_CHEES_H
#define RMC_CHEES_H

#include <stdint.h>

#include "rmc.h"

struct rmc_fit;

/* What the driver in sample.c learns after each iteration, for progress reports; a
 * non-zero return stops the run (cancellation), keeping the draws made so far. */
struct chees_hooks {
    int (*tick)(void *ctx, int64_t iterations, int64_t warmup_done, int64_t divergent,
                int64_t gradients);
    /* NULL, or lp[batch] and grad[batch][dim] at x[batch][dim] for every chain at once (a
     * device): then the chains move in lockstep, one batch per leapfrog step, and the
     * threads only find the initial points. A failure's message is rmc_last_error(). */
    rmc_status (*eval_batch)(void *ctx, int64_t batch, const double *x, double *lp,
                             double *grad);
    void *ctx;
};

/* Run config->chains chains of ChEES-HMC on nthreads CPU threads (or on hooks->eval_batch)
 * into fit (allocated by
 * fit_create for the same program and config). Returns RMC_OK, RMC_ERR_CANCELLED when a
 * hook stopped the run (fit->completed says how far each chain got), or an error with
 * its message set; fit->gradients is filled in every case. */
rmc_status chees_run(const rmc_program *program, const rmc_config *config,
                     struct rmc_fit *fit, int nthreads, const struct chees_hooks *hooks);

#endif
