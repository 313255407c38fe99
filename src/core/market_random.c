/* Seeded random markets, shaped like the real one: a few cheap fast models,
 * a long tail of expensive ones, and apps whose demands span orders of
 * magnitude. */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "random.h"

double prillm__rng_normal(PrillmRng *rng) {
    /* Box-Muller; 1 - u keeps the logarithm finite */
    double u = 1.0 - prillm__rng_uniform(rng), v = prillm__rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

PrillmMarket *prillm_market_random(int n_users, int n_providers, unsigned long long seed, PrillmError *err) {
    PrillmMarket *mk = prillm_market_alloc(n_users, n_providers, err);
    if (!mk) return NULL;
    PrillmRng rng = {seed * 0x2545f4914f6cdd1dULL + 1};
    int n = n_users, m = n_providers;
    mk->w_price = 1.0;
    mk->w_congestion = 0.8;
    mk->w_delay = 0.5;
    double total = 0;
    for (int i = 0; i < n; i++) {
        mk->demand[i] = 100.0 * exp(1.2 * prillm__rng_normal(&rng));
        total += mk->demand[i];
    }
    for (int j = 0; j < m; j++) {
        mk->price[j] = exp(0.0 + 1.1 * prillm__rng_normal(&rng));
        mk->capacity[j] = total / m * exp(0.7 * prillm__rng_normal(&rng));
        /* pricier models tend to be valued more, as in the real market */
        mk->value[j] = 0.6 * mk->price[j] + 1.5 * prillm__rng_uniform(&rng);
        mk->latency[j] = 0.3 + 2.0 * prillm__rng_uniform(&rng);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            mk->delay[(size_t)i * m + j] = mk->latency[j] * (0.6 + 0.8 * prillm__rng_uniform(&rng));
    for (int j = 0; j < m; j++) {
        char id[32];
        snprintf(id, sizeof id, "model-%d", j);
        if (!(mk->provider_id[j] = prillm__strdup(id))) goto oom;
    }
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "app-%d", i);
        if (!(mk->user_id[i] = prillm__strdup(id))) goto oom;
    }
    return mk;
oom:
    prillm_market_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory generating a market");
    return NULL;
}
