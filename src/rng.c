/* rng.c - Philox4x32-10, implemented from the published description. */
#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox(const uint32_t key_in[2], const uint32_t ctr_in[4], uint32_t out[4])
{
    uint32_t k0 = key_in[0], k1 = key_in[1];
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];

    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;

        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void rng_init(struct rng *r, uint64_t seed, uint64_t chain, uint64_t iteration,
              uint32_t purpose)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    /* Purpose and the high bits of the iteration share a word; 2^24 purposes-by-epochs of
     * 2^32 iterations each is far beyond any run. */
    r->ctr[1] = purpose | (uint32_t)(iteration >> 32) << 8;
    r->ctr[2] = (uint32_t)iteration;
    r->ctr[3] = (uint32_t)chain;
    r->used = 4;
}

static uint32_t next_word(struct rng *r)
{
    if (r->used == 4) {
        philox(r->key, r->ctr, r->buf);
        r->ctr[0]++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

double rng_uniform(struct rng *r)
{
    uint64_t hi = next_word(r) >> 5, lo = next_word(r) >> 6; /* 27 + 26 = 53 bits */

    return ((double)(hi * 67108864u + lo) + 0.5) * (1.0 / 9007199254740992.0);
}

double rng_normal(struct rng *r)
{
    /* Box-Muller, one value per pair: no state kept between calls, so each draw depends
     * only on the counter position. */
    double u1 = rng_uniform(r), u2 = rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
