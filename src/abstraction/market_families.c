/*
 * Random markets of several families, for training the aggregation network
 * across market shapes (docs/aggregator.md, "Market families"). The seed
 * draws the family and its hyperparameters, then the market:
 *   0 "standard": prillm_market_random (the shape of the real market);
 *   1 "varied":   every distribution's location and spread drawn per market
 *                 (demand spread, price level and spread, capacity / demand
 *                 ratio, how value follows price, latency, the three
 *                 weights), and with probability 1/2 app-specific affinities;
 *   2 "tiered":   a few cheap high-capacity models and a long tail of small
 *                 expensive ones, apps that care about delay to different
 *                 degrees (per-app delay scales).
 */
#include <math.h>
#include <stdio.h>

#include "internal.h"

#include "prillm/aggregator.h"
#include "random.h"

static double uniform(PrillmRng *rng, double lo, double hi) { return lo + (hi - lo) * prillm__rng_uniform(rng); }

static int name_market(PrillmMarket *mk) {
    for (int j = 0; j < mk->n_providers; j++) {
        char id[32];
        snprintf(id, sizeof id, "model-%d", j);
        if (!(mk->provider_id[j] = prillm__strdup(id))) return -1;
    }
    for (int i = 0; i < mk->n_users; i++) {
        char id[32];
        snprintf(id, sizeof id, "app-%d", i);
        if (!(mk->user_id[i] = prillm__strdup(id))) return -1;
    }
    return 0;
}

int prillm_aggregator_market_family(unsigned long long seed) {
    PrillmRng rng = {seed * 0x9e3779b97f4a7c15ULL ^ 0x6a09e667f3bcc909ULL};
    return (int)(prillm__rng_uniform(&rng) * PRILLM_MARKET_FAMILIES);
}

PrillmMarket *prillm_aggregator_random_market(int n_users, int n_providers, unsigned long long seed,
                                              PrillmError *err) {
    if (n_users < 1 || n_providers < 1) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "a random market needs n_users >= 1 and n_providers >= 1, got %d x %d",
                     n_users, n_providers);
        return NULL;
    }
    int family = prillm_aggregator_market_family(seed);
    if (family == 0) return prillm_market_random(n_users, n_providers, seed ^ 0x243f6a8885a308d3ULL, err);
    PrillmMarket *mk = prillm_market_alloc(n_users, n_providers, err);
    if (!mk) return NULL;
    PrillmRng rng = {seed * 0xd1342543de82ef95ULL + 0x13198a2e03707344ULL};
    int n = n_users, m = n_providers;
    /* the market's hyperparameters */
    double demand_sigma = uniform(&rng, 0.3, 2.0);
    double price_mu = uniform(&rng, -1.5, 1.5), price_sigma = uniform(&rng, 0.3, 1.5);
    double capacity_ratio = exp(uniform(&rng, log(0.3), log(3.0))), capacity_sigma = uniform(&rng, 0.2, 1.2);
    double value_slope = uniform(&rng, 0.0, 1.0), value_spread = uniform(&rng, 0.3, 3.0);
    double latency_lo = uniform(&rng, 0.05, 1.0), latency_span = uniform(&rng, 0.2, 3.0);
    double delay_spread = uniform(&rng, 0.1, 0.8);
    mk->w_price = exp(uniform(&rng, log(0.5), log(2.0)));
    mk->w_congestion = exp(uniform(&rng, log(0.2), log(2.0)));
    mk->w_delay = uniform(&rng, 0.0, 1.5);
    int affinities = family == 1 && prillm__rng_uniform(&rng) < 0.5;
    double affinity_sigma = uniform(&rng, 0.05, 0.6) * value_spread;
    double total = 0;
    for (int i = 0; i < n; i++) {
        mk->demand[i] = 100.0 * exp(demand_sigma * prillm__rng_normal(&rng));
        total += mk->demand[i];
    }
    double capacity_sum = 0;
    for (int j = 0; j < m; j++) {
        if (family == 2) {
            /* tier: the first ~15% are cheap and large */
            int cheap = j < (m + 6) / 7;
            mk->price[j] = exp(price_mu + (cheap ? -1.0 : 0.5) + 0.5 * price_sigma * prillm__rng_normal(&rng));
            mk->capacity[j] = exp((cheap ? 1.5 : 0.0) + capacity_sigma * prillm__rng_normal(&rng));
        } else {
            mk->price[j] = exp(price_mu + price_sigma * prillm__rng_normal(&rng));
            mk->capacity[j] = exp(capacity_sigma * prillm__rng_normal(&rng));
        }
        capacity_sum += mk->capacity[j];
        mk->value[j] = value_slope * mk->price[j] + value_spread * prillm__rng_uniform(&rng);
        mk->latency[j] = latency_lo + latency_span * prillm__rng_uniform(&rng);
        mk->cost[j] = NAN;
    }
    for (int j = 0; j < m; j++) mk->capacity[j] *= capacity_ratio * total / capacity_sum;
    for (int i = 0; i < n; i++) {
        double app_scale = family == 2 ? exp(0.7 * prillm__rng_normal(&rng)) : 1.0;
        for (int j = 0; j < m; j++) {
            size_t k = (size_t)i * m + j;
            mk->delay[k] = app_scale * mk->latency[j] * exp(delay_spread * (2 * prillm__rng_uniform(&rng) - 1));
            mk->affinity[k] = affinities ? affinity_sigma * prillm__rng_normal(&rng) : 0.0;
        }
    }
    if (name_market(mk)) {
        prillm_market_free(mk);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory generating a market");
        return NULL;
    }
    return mk;
}
