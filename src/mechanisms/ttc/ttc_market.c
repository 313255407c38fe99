/* The TTC market data: models x TTC levels, and the per-query terms every
 * TTC computation is built from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/ttc.h"

PrillmTtcMarket *prillm_ttc_market_alloc(int n_models, const int *n_levels, PrillmError *err) {
    if (n_models < 1 || n_models > PRILLM_TTC_MAX_MODELS) {
        prillm__fail(err, PRILLM_ERR_INVALID_DATA, "number of models must be in 1..%d, got %d", PRILLM_TTC_MAX_MODELS,
                     n_models);
        return NULL;
    }
    if (!n_levels) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "n_levels is NULL");
        return NULL;
    }
    size_t total = 0;
    for (int i = 0; i < n_models; i++) {
        if (n_levels[i] < 1 || n_levels[i] > PRILLM_TTC_MAX_LEVELS) {
            prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d] must have 1..%d levels, got %d", i,
                         PRILLM_TTC_MAX_LEVELS, n_levels[i]);
            return NULL;
        }
        total += (size_t)n_levels[i];
    }
    PrillmTtcMarket *mk = calloc(1, sizeof *mk);
    if (mk) {
        mk->n_models = n_models;
        mk->model_id = prillm__calloc((size_t)n_models, sizeof *mk->model_id);
        mk->list_price = prillm__calloc((size_t)n_models, sizeof *mk->list_price);
        mk->n_levels = prillm__calloc((size_t)n_models, sizeof *mk->n_levels);
        mk->level_offset = prillm__calloc((size_t)n_models + 1, sizeof *mk->level_offset);
        mk->level_label = prillm__calloc(total, sizeof *mk->level_label);
        mk->accuracy = prillm__calloc(total, sizeof *mk->accuracy);
        mk->tokens = prillm__calloc(total, sizeof *mk->tokens);
    }
    if (!mk || !mk->model_id || !mk->list_price || !mk->n_levels || !mk->level_offset || !mk->level_label ||
        !mk->accuracy || !mk->tokens) {
        prillm_ttc_market_free(mk);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating a TTC market of %d models", n_models);
        return NULL;
    }
    for (int i = 0; i < n_models; i++) {
        mk->n_levels[i] = n_levels[i];
        mk->level_offset[i + 1] = mk->level_offset[i] + n_levels[i];
    }
    prillm__fill_nan(mk->list_price, (size_t)n_models);
    prillm__fill_nan(mk->level_label, total);
    prillm__fill_nan(mk->accuracy, total);
    prillm__fill_nan(mk->tokens, total);
    mk->value_scale = mk->value_baseline = mk->value_curvature = NAN;
    mk->margin = mk->beta = mk->outside_value = NAN;
    mk->value_shape = PRILLM_TTC_VALUE_LINEAR;
    return mk;
}

void prillm_ttc_market_free(PrillmTtcMarket *mk) {
    if (!mk) return;
    free(mk->description);
    if (mk->model_id)
        for (int i = 0; i < mk->n_models; i++) free(mk->model_id[i]);
    free(mk->model_id);
    free(mk->list_price);
    free(mk->n_levels);
    free(mk->level_offset);
    free(mk->level_label);
    free(mk->accuracy);
    free(mk->tokens);
    free(mk);
}

/* Bounds keep p, q and beta * V far from overflow; real inputs are many
 * orders of magnitude inside them. */
#define MAX_TOKENS 1e15
#define MAX_PRICE 1e9

PrillmErrorCode prillm_ttc_market_validate(const PrillmTtcMarket *mk, PrillmError *err) {
    if (!mk) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    if (!(mk->value_scale > 0 && mk->value_scale <= MAX_PRICE))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "value.scale must be in (0, %g], got %g", MAX_PRICE,
                            mk->value_scale);
    if (!(mk->value_baseline >= 0 && mk->value_baseline <= 1))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "value.baseline must be in [0, 1], got %g", mk->value_baseline);
    if (mk->value_shape < PRILLM_TTC_VALUE_LINEAR || mk->value_shape > PRILLM_TTC_VALUE_EXP)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "value.shape %d is not linear, power or exp", mk->value_shape);
    if (mk->value_shape != PRILLM_TTC_VALUE_LINEAR && !(mk->value_curvature > 0 && mk->value_curvature <= 700))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "value.curvature must be in (0, 700], got %g",
                            mk->value_curvature);
    if (!(mk->margin >= 0 && mk->margin <= 1e6))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "margin must be in [0, 1e6], got %g", mk->margin);
    if (!isnan(mk->beta) && !(mk->beta > 0 && mk->beta <= PRILLM_TTC_MAX_BETA))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "beta must be in (0, %g], got %g", PRILLM_TTC_MAX_BETA,
                            mk->beta);
    if (!(fabs(mk->outside_value) <= MAX_PRICE))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "outside_value must be finite with |v0| <= %g, got %g",
                            MAX_PRICE, mk->outside_value);
    for (int i = 0; i < mk->n_models; i++) {
        if (!mk->model_id[i] || !mk->model_id[i][0])
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].id must be a non-empty string", i);
        for (int j = 0; j < i; j++)
            if (strcmp(mk->model_id[i], mk->model_id[j]) == 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].id \"%s\" repeats models[%d].id", i,
                                    mk->model_id[i], j);
        if (!(mk->list_price[i] > 0 && mk->list_price[i] <= MAX_PRICE))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].price_per_million must be in (0, %g], got %g",
                                i, MAX_PRICE, mk->list_price[i]);
        for (int k = 0; k < mk->n_levels[i]; k++) {
            int at = mk->level_offset[i] + k;
            if (!(mk->accuracy[at] >= 0 && mk->accuracy[at] <= 1))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].accuracy[%d] must be in [0, 1], got %g", i,
                                    k, mk->accuracy[at]);
            if (!(mk->tokens[at] > 0 && mk->tokens[at] <= MAX_TOKENS))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].tokens[%d] must be in (0, %g], got %g", i,
                                    k, MAX_TOKENS, mk->tokens[at]);
            if (!isnan(mk->level_label[at]) && !isfinite(mk->level_label[at]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].levels[%d] must be finite", i, k);
        }
    }
    return PRILLM_OK;
}

static double value_of_accuracy(const PrillmTtcMarket *mk, double a) {
    switch (mk->value_shape) {
    case PRILLM_TTC_VALUE_POWER: return pow(a, mk->value_curvature);
    case PRILLM_TTC_VALUE_EXP: return expm1(mk->value_curvature * a) / expm1(mk->value_curvature);
    default: return a;
    }
}

double prillm_ttc_quality(const PrillmTtcMarket *mk, double value_scale, double accuracy) {
    return value_scale * (mk->value_baseline + (1.0 - mk->value_baseline) * value_of_accuracy(mk, accuracy));
}

PrillmTtcLevel prillm_ttc_level(const PrillmTtcMarket *mk, int model, int level) {
    int at = mk->level_offset[model] + level;
    PrillmTtcLevel t;
    t.price = mk->list_price[model] * mk->tokens[at] / 1e6;
    t.cost = t.price / (1.0 + mk->margin);
    t.quality = mk->value_scale * (mk->value_baseline + (1.0 - mk->value_baseline) * value_of_accuracy(mk, mk->accuracy[at]));
    t.user_value = t.quality - t.price;
    t.surplus = t.quality - t.cost;
    return t;
}
