/* Per-query random draws of the delegation simulator. Every draw comes from
 * its own SplitMix64 stream whose start is a hash of (seed, provider key,
 * query number), so a query's score and tokens are fixed before the run
 * starts: reordering providers, phases or batches cannot change them, and
 * two strategies of one provider see the same noise (common random numbers,
 * which makes strategy comparisons far less noisy). */
#ifndef PRILLM_DELEGATION_RANDOM_H
#define PRILLM_DELEGATION_RANDOM_H

#include <math.h>
#include <stdint.h>

#include "random.h"

/* Stream tags beyond any query number. */
#define PRILLM__DELEGATION_ROUNDING_TAG UINT64_MAX
/* The mixing coin of a provider's query q uses counter MIX_TAG ^ q: a stream
 * apart from the score and token draws of the same query. */
#define PRILLM__DELEGATION_MIX_TAG 0x8000000000000000ULL

static inline uint64_t prillm__mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline PrillmRng prillm__rng_stream(uint64_t seed, uint64_t key, uint64_t counter) {
    PrillmRng rng = {prillm__mix64(prillm__mix64(seed + 0x632be59bd9b4e019ULL) ^ key) ^ prillm__mix64(counter + 1)};
    return rng;
}

/* FNV-1a: a provider's key is its id, not its position in the file. */
static inline uint64_t prillm__hash_text(const char *text) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) h = (h ^ *c) * 0x100000001b3ULL;
    return h;
}

/* Gamma(shape, 1), Marsaglia-Tsang; shape < 1 through Gamma(shape + 1) U^(1/shape). */
static inline double prillm__rng_gamma(PrillmRng *rng, double shape) {
    double boost = 1.0;
    if (shape < 1.0) {
        boost = pow(1.0 - prillm__rng_uniform(rng), 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = prillm__rng_normal(rng), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = 1.0 - prillm__rng_uniform(rng);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return boost * d * v;
    }
}

/* Beta with mean mu and concentration k; mu = 1 gives 1 exactly. */
static inline double prillm__rng_beta_mean(PrillmRng *rng, double mu, double k) {
    if (mu >= 1.0) return 1.0;
    double x = prillm__rng_gamma(rng, k * mu), y = prillm__rng_gamma(rng, k * (1.0 - mu));
    /* both can underflow for tiny shapes: fall back to the two-point law */
    if (!(x + y > 0.0)) return prillm__rng_uniform(rng) < mu ? 1.0 : 0.0;
    return x / (x + y);
}

#endif
