/* rng.h - counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
 *
 * A stream is keyed by (seed, chain) and its counter is (iteration, purpose, sequence),
 * so a draw depends only on where it is used, never on which thread ran the chain or how
 * many numbers earlier iterations consumed. */
#ifndef RMC_RNG_H
#define RMC_RNG_H

#include <stdint.h>

enum rng_purpose {
    RNG_INIT = 1,     /* initial points          */
    RNG_MOMENTUM,     /* momentum refresh        */
    RNG_TREE,         /* tree directions, multinomial picks */
    RNG_ACCEPT,       /* Metropolis decisions    */
};

struct rng {
    uint32_t key[2];
    uint32_t ctr[4]; /* sequence, purpose, iteration, chain */
    uint32_t buf[4];
    int used;        /* words of buf consumed */
};

/* Start the stream (seed, chain) at (iteration, purpose). */
void rng_init(struct rng *r, uint64_t seed, uint64_t chain, uint64_t iteration,
              uint32_t purpose);

/* Uniform in (0, 1), never 0 or 1. */
double rng_uniform(struct rng *r);

/* Standard normal. */
double rng_normal(struct rng *r);

#endif
