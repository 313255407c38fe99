/* Logit demand with an outside option, and everything a profile of TTC
 * levels implies: shares, utilities, welfare and the exact potential. All
 * exponentials are taken after subtracting the largest exponent, so
 * beta * V may be anywhere in the doubles (beta = 1e6, V ~ 1e-2 gives
 * exponents of 1e4, far past exp's overflow at 709). */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "prillm/ttc.h"

double prillm_ttc_logit(int n, const double *values, double outside_value, double beta, double *shares,
                        double *outside_share) {
    double top = beta * outside_value;
    for (int j = 0; j < n; j++)
        if (beta * values[j] > top) top = beta * values[j];
    double sum = exp(beta * outside_value - top);
    for (int j = 0; j < n; j++) sum += exp(beta * values[j] - top);
    /* sum >= 1: the largest term is exp(0) */
    if (shares)
        for (int j = 0; j < n; j++) shares[j] = exp(beta * values[j] - top) / sum;
    if (outside_share) *outside_share = exp(beta * outside_value - top) / sum;
    return top + log(sum);
}

/* ln Z of the profile with provider's level replaced by k (provider < 0:
 * the profile as is). */
static double log_partition(const PrillmTtcMarket *mk, const int *level, int provider, int k) {
    double values[PRILLM_TTC_MAX_MODELS] = {0};
    for (int j = 0; j < mk->n_models; j++)
        values[j] = prillm_ttc_level(mk, j, j == provider ? k : level[j]).user_value;
    return prillm_ttc_logit(mk->n_models, values, mk->outside_value, mk->beta, NULL, NULL);
}

double prillm_ttc_utility(const PrillmTtcMarket *mk, const int *level, int provider, int k) {
    PrillmTtcLevel t = prillm_ttc_level(mk, provider, k);
    double log_share = mk->beta * t.user_value - log_partition(mk, level, provider, k);
    return exp(log_share) * (t.price - t.cost);
}

double prillm_ttc_potential(const PrillmTtcMarket *mk, const int *level) {
    double phi = 0;
    for (int i = 0; i < mk->n_models; i++) {
        PrillmTtcLevel t = prillm_ttc_level(mk, i, level[i]);
        double margin = t.price - t.cost;
        /* as the reference code: a provider that earns nothing per query has ln 0 */
        if (!(margin > 1e-300)) return -INFINITY;
        phi += log(margin) + mk->beta * t.user_value;
    }
    return phi - log_partition(mk, level, -1, 0);
}

PrillmTtcOutcome *prillm_ttc_outcome_alloc(int n, PrillmError *err) {
    if (n < 1 || n > PRILLM_TTC_MAX_MODELS) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "number of models must be in 1..%d, got %d",
                     PRILLM_TTC_MAX_MODELS, n);
        return NULL;
    }
    PrillmTtcOutcome *o = calloc(1, sizeof *o);
    if (o) {
        o->n_models = n;
        o->level = calloc((size_t)n, sizeof *o->level);
        o->price = calloc((size_t)n, sizeof *o->price);
        o->quality = calloc((size_t)n, sizeof *o->quality);
        o->cost = calloc((size_t)n, sizeof *o->cost);
        o->shares = calloc((size_t)n, sizeof *o->shares);
        o->utility = calloc((size_t)n, sizeof *o->utility);
    }
    if (!o || !o->level || !o->price || !o->quality || !o->cost || !o->shares || !o->utility) {
        prillm_ttc_outcome_free(o);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating a TTC outcome");
        return NULL;
    }
    return o;
}

void prillm_ttc_outcome_free(PrillmTtcOutcome *o) {
    if (!o) return;
    free(o->level);
    free(o->price);
    free(o->quality);
    free(o->cost);
    free(o->shares);
    free(o->utility);
    free(o);
}

PrillmErrorCode prillm_ttc_evaluate(const PrillmTtcMarket *mk, const int *level, PrillmTtcOutcome *o,
                                    PrillmError *err) {
    if (!mk || !level || !o) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    if (o->n_models != mk->n_models)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "outcome has %d models, market %d", o->n_models,
                            mk->n_models);
    if (!(mk->beta > 0)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "beta is missing (the market needs it)");
    int n = mk->n_models;
    double values[PRILLM_TTC_MAX_MODELS] = {0};
    for (int i = 0; i < n; i++) {
        if (level[i] < 0 || level[i] >= mk->n_levels[i])
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "level[%d] = %d is outside 0..%d", i, level[i],
                                mk->n_levels[i] - 1);
        PrillmTtcLevel t = prillm_ttc_level(mk, i, level[i]);
        o->level[i] = level[i];
        o->price[i] = t.price;
        o->quality[i] = t.quality;
        o->cost[i] = t.cost;
        values[i] = t.user_value;
    }
    prillm_ttc_logit(n, values, mk->outside_value, mk->beta, o->shares, &o->outside_share);
    o->welfare = o->user_value = o->outside_share * mk->outside_value;
    o->user_spend = o->provider_profit = 0;
    for (int i = 0; i < n; i++) {
        o->utility[i] = o->shares[i] * (o->price[i] - o->cost[i]);
        o->welfare += o->shares[i] * (o->quality[i] - o->cost[i]);
        o->user_value += o->shares[i] * (o->quality[i] - o->price[i]);
        o->user_spend += o->shares[i] * o->price[i];
        o->provider_profit += o->utility[i];
    }
    o->potential = prillm_ttc_potential(mk, level);
    return PRILLM_OK;
}
