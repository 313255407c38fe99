/* Counter-based random numbers (SplitMix64): a stream is a seed and a
 * counter, so results never depend on global state or the platform. */
#ifndef PRILLM_RANDOM_H
#define PRILLM_RANDOM_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} PrillmRng;

static inline uint64_t prillm__rng_next(PrillmRng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 random bits. */
static inline double prillm__rng_uniform(PrillmRng *rng) {
    return (double)(prillm__rng_next(rng) >> 11) * 0x1.0p-53;
}

double prillm__rng_normal(PrillmRng *rng);

#endif
