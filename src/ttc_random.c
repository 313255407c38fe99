/* Seeded synthetic TTC curves, shaped like majority voting: accuracy rises
 * with the number of samples theta and saturates, tokens grow linearly. */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "prillm/ttc.h"
#include "random.h"

PrillmTtcMarket *prillm_ttc_market_random(int n_models, int n_levels, unsigned long long seed, PrillmError *err) {
    if (n_models < 1 || n_models > PRILLM_TTC_MAX_MODELS || n_levels < 1 || n_levels > 30) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "random TTC market: need 1..%d models and 1..30 levels",
                     PRILLM_TTC_MAX_MODELS);
        return NULL;
    }
    int counts[PRILLM_TTC_MAX_MODELS];
    for (int i = 0; i < n_models; i++) counts[i] = n_levels;
    PrillmTtcMarket *mk = prillm_ttc_market_alloc(n_models, counts, err);
    if (!mk) return NULL;
    PrillmRng rng = {seed * 0x2545f4914f6cdd1dULL + 7};
    mk->value_scale = 0.01;
    mk->value_baseline = 0.1;
    mk->margin = 0.25;
    mk->beta = 1e3;
    mk->outside_value = 0;
    for (int i = 0; i < n_models; i++) {
        char id[32];
        snprintf(id, sizeof id, "model-%d", i);
        if (!(mk->model_id[i] = prillm__strdup(id))) {
            prillm_ttc_market_free(mk);
            prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            return NULL;
        }
        mk->list_price[i] = 0.05 + 0.2 * prillm__rng_uniform(&rng);
        double first = 0.1 + 0.7 * prillm__rng_uniform(&rng);
        double top = first + (1.0 - first) * prillm__rng_uniform(&rng);
        double kappa = 0.3 + 1.2 * prillm__rng_uniform(&rng);
        double tokens_one = 150 + 300 * prillm__rng_uniform(&rng);
        for (int k = 0; k < n_levels; k++) {
            double theta = ldexp(1.0, k);
            int at = mk->level_offset[i] + k;
            mk->level_label[at] = theta;
            mk->accuracy[at] = top - (top - first) * pow(theta, -kappa);
            mk->tokens[at] = theta * tokens_one;
        }
    }
    return mk;
}
