/* The reverse second-price auction on explicit bids: each provider offers a
 * price for some of its compute levels (and may claim an accuracy); its
 * effective bid is its best-scoring offer, and prillm_ttc_auction_run
 * decides the winner and the payment, on the bid quality or on the quality
 * the winner's answer turned out to have. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/ttc.h"

PrillmTtcBids *prillm_ttc_bids_alloc(const PrillmTtcMarket *mk, PrillmError *err) {
    if (!mk || mk->n_models < 1 || !mk->level_offset) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the bids need a market");
        return NULL;
    }
    int total = mk->level_offset[mk->n_models];
    PrillmTtcBids *b = calloc(1, sizeof *b);
    if (b) {
        b->n_models = mk->n_models;
        b->total_levels = total;
        b->price = prillm__calloc((size_t)total, sizeof *b->price);
        b->claimed_accuracy = prillm__calloc((size_t)total, sizeof *b->claimed_accuracy);
    }
    if (!b || !b->price || !b->claimed_accuracy) {
        prillm_ttc_bids_free(b);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating the bids");
        return NULL;
    }
    prillm__fill_nan(b->price, (size_t)total);
    prillm__fill_nan(b->claimed_accuracy, (size_t)total);
    b->reserve = NAN;
    return b;
}

PrillmTtcBids *prillm_ttc_bids_truthful(const PrillmTtcMarket *mk, PrillmError *err) {
    PrillmTtcBids *b = prillm_ttc_bids_alloc(mk, err);
    if (!b) return NULL;
    for (int i = 0; i < mk->n_models; i++)
        for (int k = 0; k < mk->n_levels[i]; k++) b->price[mk->level_offset[i] + k] = prillm_ttc_level(mk, i, k).cost;
    return b;
}

void prillm_ttc_bids_free(PrillmTtcBids *b) {
    if (!b) return;
    free(b->price);
    free(b->claimed_accuracy);
    free(b);
}

PrillmErrorCode prillm_ttc_bids_validate(const PrillmTtcMarket *mk, const PrillmTtcBids *b, PrillmError *err) {
    if (!mk || !b || !b->price || !b->claimed_accuracy)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or bids is NULL");
    if (b->n_models != mk->n_models || b->total_levels != mk->level_offset[mk->n_models])
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "the bids are for %d models and %d levels, the market has %d and %d", b->n_models,
                            b->total_levels, mk->n_models, mk->level_offset[mk->n_models]);
    if (!isnan(b->reserve) && !isfinite(b->reserve))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "reserve must be finite, got %g", b->reserve);
    for (int i = 0; i < mk->n_models; i++)
        for (int k = 0; k < mk->n_levels[i]; k++) {
            int at = mk->level_offset[i] + k;
            if (!isnan(b->price[at]) && !(fabs(b->price[at]) <= 1e12))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "bids for %s: price at level %d must be finite, got %g",
                                    mk->model_id[i], k, b->price[at]);
            double a = b->claimed_accuracy[at];
            if (!isnan(a) && !(a >= 0 && a <= 1))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "bids for %s: claimed accuracy at level %d must be in [0, 1], got %g",
                                    mk->model_id[i], k, a);
            if (!isnan(a) && isnan(b->price[at]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "bids for %s: an accuracy is claimed at level %d, which has no price", mk->model_id[i],
                                    k);
        }
    return PRILLM_OK;
}

PrillmErrorCode prillm_ttc_bids_run(const PrillmTtcMarket *mk, const PrillmTtcBids *b, double value_scale,
                                    const double *realised_quality, PrillmTtcBidOutcome *o, PrillmError *err) {
    if (!o) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "outcome is NULL");
    memset(o, 0, sizeof *o);
    o->outcome.winner = o->outcome.runner_up = -1;
    PrillmErrorCode rc = prillm_ttc_bids_validate(mk, b, err);
    if (rc) return rc;
    if (isnan(value_scale)) value_scale = mk->value_scale;
    if (!(value_scale > 0 && isfinite(value_scale)))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "value_scale must be > 0 and finite, got %g", value_scale);
    int n = mk->n_models;
    o->n_models = n;
    o->reserve = isnan(b->reserve) ? mk->outside_value : b->reserve;
    /* the bidders are the models offering some level; index map into the market */
    int who[PRILLM_TTC_MAX_MODELS], bidders = 0;
    double q[PRILLM_TTC_MAX_MODELS], p[PRILLM_TTC_MAX_MODELS], realised[PRILLM_TTC_MAX_MODELS];
    for (int i = 0; i < n; i++) {
        o->level[i] = -1;
        o->quality_bid[i] = o->price_bid[i] = o->score[i] = NAN;
        for (int k = 0; k < mk->n_levels[i]; k++) {
            int at = mk->level_offset[i] + k;
            if (isnan(b->price[at])) continue;
            double a = isnan(b->claimed_accuracy[at]) ? mk->accuracy[at] : b->claimed_accuracy[at];
            double quality = prillm_ttc_quality(mk, value_scale, a), score = quality - b->price[at];
            if (o->level[i] < 0 || score > o->score[i]) {
                o->level[i] = k;
                o->quality_bid[i] = quality;
                o->price_bid[i] = b->price[at];
                o->score[i] = score;
            }
        }
        if (o->level[i] >= 0) {
            q[bidders] = o->quality_bid[i];
            p[bidders] = o->price_bid[i];
            realised[bidders] = realised_quality ? realised_quality[i] : NAN;
            who[bidders++] = i;
        }
    }
    PrillmTtcAuctionOutcome a;
    if (bidders == 0) {
        /* only the phantom: nobody served */
        o->outcome.winner = o->outcome.runner_up = -1;
        o->outcome.winner_score = o->reserve;
        o->outcome.runner_up_score = NAN;
        o->outcome.payment = 0;
        o->user_utility = o->welfare = o->reserve;
        o->quality = o->cost = NAN;
        return PRILLM_OK;
    }
    /* the winner is known only after the run: check its realised quality then */
    double fake[PRILLM_TTC_MAX_MODELS];
    for (int j = 0; j < bidders; j++) fake[j] = isnan(realised[j]) ? 0 : realised[j];
    if ((rc = prillm_ttc_auction_run(bidders, q, p, realised_quality ? fake : NULL, o->reserve, &a, err))) return rc;
    o->outcome = a;
    o->outcome.winner = a.winner >= 0 ? who[a.winner] : -1;
    o->outcome.runner_up = a.runner_up >= 0 ? who[a.runner_up] : -1;
    int w = o->outcome.winner;
    if (w < 0) {
        o->user_utility = o->welfare = o->reserve;
        o->quality = o->cost = NAN;
        return PRILLM_OK;
    }
    if (realised_quality && !isfinite(realised_quality[w]))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the realised quality of the winner %s is missing",
                            mk->model_id[w]);
    /* what the user got: the realised quality, or the expected quality of
     * the level delivered (the measured accuracy, whatever was claimed) */
    o->quality = realised_quality ? realised_quality[w]
                                  : prillm_ttc_quality(mk, value_scale, mk->accuracy[mk->level_offset[w] + o->level[w]]);
    o->cost = prillm_ttc_level(mk, w, o->level[w]).cost;
    o->user_utility = o->quality - o->outcome.payment;
    o->winner_profit = o->outcome.payment - o->cost;
    o->welfare = o->quality - o->cost;
    return PRILLM_OK;
}
