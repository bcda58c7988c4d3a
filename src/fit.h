/* fit.h - the results of a run. */
#ifndef RMC_FIT_H
#define RMC_FIT_H

#include <stdint.h>

#include "rmc.h"

struct rmc_fit {
    int64_t chains, draws, columns, dim;
    double *values;       /* [chains][draws][columns]        */
    double *stats;        /* [chains][draws][RMC_STAT_COUNT] */
    int64_t *completed;   /* kept draws per chain            */
    char **names;         /* column names (copied)           */
    double *step_size;    /* [chains]                        */
    double *inv_metric;   /* [chains][dim]                   */
    int64_t gradients;
    int32_t max_depth;    /* NUTS depth limit of the run, 0 for other samplers */
    int64_t batch_slots, batch_used; /* lockstep batches: chains x batches, useful ones */
    double seconds;
    int32_t cancelled;
    char *summary_text;
    int32_t backend;          /* rmc_backend that ran: CPU or VULKAN */
    char device[400];         /* "cpu (4 threads)", "NVIDIA H200, float64" */
    char backend_reason[1200]; /* why this backend */
};

/* Allocate a fit for a run, or NULL when out of memory. */
struct rmc_fit *fit_create(const rmc_program *program, const rmc_config *config);

#endif
