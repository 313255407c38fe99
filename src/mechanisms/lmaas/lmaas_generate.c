/* Seeded synthetic LMaaS markets (docs/lmaas.md, "Generator"), in the
 * ranges of the reconstruction notes: bigger models compress more, are more
 * accurate and cost more to serve and fine-tune. Customers spread over
 * distance, bandwidth, power and data rate so that some cannot use the
 * small models at all (their link cannot carry the stream) and the energy
 * budget binds for some. */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "prillm/lmaas.h"
#include "random.h"

static double uniform(PrillmRng *rng, double lo, double hi) { return lo + (hi - lo) * prillm__rng_uniform(rng); }

PrillmLmaasMarket *prillm_lmaas_random(int n_customers, int n_models, unsigned long long seed, PrillmError *err) {
    PrillmLmaasMarket *mk = prillm_lmaas_alloc(n_customers, n_models, err);
    if (!mk) return NULL;
    PrillmRng rng = {seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL};
    mk->path_loss_exponent = 3.0;
    mk->reference_gain = 1e-3; /* -30 dB at 1 m */
    mk->noise_power = 1e-13;   /* -100 dBm */
    mk->premium = 0.5;
    mk->budget = 2.0;
    mk->max_rental = 100.0;
    mk->ssl_cost = 100.0;
    mk->price_min = 0.0;
    mk->price_max = 10.0;
    for (int j = 0; j < n_models; j++) {
        double size = (j + 0.5) / n_models; /* 0 = smallest model */
        mk->compression[j] = fmin(1.0, 0.5 * pow(0.1, size) * exp(0.1 * prillm__rng_normal(&rng)));
        mk->fidelity[j] = fmin(1.0, fmax(0.0, 0.6 + 0.38 * size + uniform(&rng, -0.02, 0.02)));
        mk->serving_cost[j] = (0.2 + 1.8 * size) * uniform(&rng, 0.9, 1.1);
        mk->finetune_cost[j] = (10.0 + 40.0 * size) * uniform(&rng, 0.9, 1.1);
        mk->price[j] = 1.5 * mk->serving_cost[j]; /* cost-plus, for method "fixed" */
        char id[32];
        snprintf(id, sizeof id, "model-%d", j);
        if (!(mk->model_id[j] = prillm__strdup(id))) goto oom;
    }
    for (int i = 0; i < n_customers; i++) {
        mk->data_rate[i] = uniform(&rng, 1.0, 10.0);
        mk->bandwidth[i] = uniform(&rng, 1.0, 20.0);
        mk->power[i] = uniform(&rng, 0.1, 1.0);
        mk->distance[i] = uniform(&rng, 50.0, 500.0);
        mk->energy_price[i] = uniform(&rng, 1.0, 20.0);
        mk->energy_capacity[i] = uniform(&rng, 1.0, 15.0);
        mk->value[i] = uniform(&rng, 1.0, 10.0);
        mk->demand[i] = uniform(&rng, 10.0, 60.0);
        mk->demand_deviation[i] = uniform(&rng, 0.1, 0.4);
        mk->gain_deviation[i] = uniform(&rng, 0.1, 0.4);
        char id[32];
        snprintf(id, sizeof id, "customer-%d", i);
        if (!(mk->customer_id[i] = prillm__strdup(id))) goto oom;
    }
    return mk;
oom:
    prillm_lmaas_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory generating an LMaaS market");
    return NULL;
}
