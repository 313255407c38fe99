/* The reverse second-price (second-score) auction for one request. Each
 * provider bids a quality and a price; its score is their difference, the
 * surplus it offers. The best score wins and the user pays the winner's
 * quality minus the runner-up's score, so the user keeps exactly the surplus
 * the runner-up would have offered, and the winner keeps the surplus it adds
 * over the runner-up. The outside option enters as a phantom bidder whose
 * score is the reserve: nobody is served below it, and a lone bidder pays
 * against it. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "prillm/ttc.h"

PrillmErrorCode prillm_ttc_auction_run(int n, const double *quality_bid, const double *price_bid,
                                       const double *realised_quality, double reserve,
                                       PrillmTtcAuctionOutcome *outcome, PrillmError *err) {
    if (!outcome) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "outcome is NULL");
    outcome->winner = outcome->runner_up = -1;
    outcome->winner_score = outcome->runner_up_score = outcome->payment = NAN;
    if (n < 1 || !quality_bid || !price_bid)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the auction needs n >= 1 bidders and their bids");
    if (!isfinite(reserve)) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "reserve must be finite");
    for (int i = 0; i < n; i++) {
        if (!isfinite(quality_bid[i]) || !isfinite(price_bid[i]) || !isfinite(quality_bid[i] - price_bid[i]))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "bid %d (quality %g, price %g) must be finite", i,
                                quality_bid[i], price_bid[i]);
        if (realised_quality && !isfinite(realised_quality[i]))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "realised_quality[%d] must be finite", i);
    }
    /* strict comparisons in index order: ties go to the lower index */
    int best = -1, second = -1;
    for (int i = 0; i < n; i++) {
        double score = quality_bid[i] - price_bid[i];
        if (best < 0 || score > quality_bid[best] - price_bid[best]) {
            second = best;
            best = i;
        } else if (second < 0 || score > quality_bid[second] - price_bid[second]) {
            second = i;
        }
    }
    double best_score = quality_bid[best] - price_bid[best];
    /* the phantom has index n: it loses ties to every real bidder */
    if (best_score < reserve) {
        outcome->winner_score = reserve;
        outcome->runner_up = best;
        outcome->runner_up_score = best_score;
        outcome->payment = 0;
        return PRILLM_OK;
    }
    outcome->winner = best;
    outcome->winner_score = best_score;
    double second_score = second >= 0 ? quality_bid[second] - price_bid[second] : -INFINITY;
    if (second >= 0 && second_score >= reserve) {
        outcome->runner_up = second;
        outcome->runner_up_score = second_score;
    } else {
        outcome->runner_up = -1;
        outcome->runner_up_score = reserve;
    }
    double quality = realised_quality ? realised_quality[best] : quality_bid[best];
    outcome->payment = quality - outcome->runner_up_score;
    return PRILLM_OK;
}

void prillm_ttc_auction_result_free(PrillmTtcAuctionResult *r) {
    if (!r) return;
    free(r->level);
    free(r->quality_bid);
    free(r->price_bid);
    free(r->score);
    free(r->utility);
    free(r);
}

PrillmErrorCode prillm_ttc_auction(const PrillmTtcMarket *mk, PrillmTtcAuctionResult **result, PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
    PrillmErrorCode rc;
    if ((rc = prillm_ttc_market_validate(mk, err))) return rc;
    int n = mk->n_models;
    PrillmTtcAuctionResult *r = calloc(1, sizeof *r);
    if (r) {
        r->n_models = n;
        r->level = calloc((size_t)n, sizeof *r->level);
        r->quality_bid = calloc((size_t)n, sizeof *r->quality_bid);
        r->price_bid = calloc((size_t)n, sizeof *r->price_bid);
        r->score = calloc((size_t)n, sizeof *r->score);
        r->utility = calloc((size_t)n, sizeof *r->utility);
    }
    if (!r || !r->level || !r->quality_bid || !r->price_bid || !r->score || !r->utility) {
        prillm_ttc_auction_result_free(r);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory running the auction");
    }
    for (int i = 0; i < n; i++) {
        int best = 0;
        double best_surplus = prillm_ttc_level(mk, i, 0).surplus;
        for (int k = 1; k < mk->n_levels[i]; k++) {
            double w = prillm_ttc_level(mk, i, k).surplus;
            if (w > best_surplus) {
                best_surplus = w;
                best = k;
            }
        }
        PrillmTtcLevel t = prillm_ttc_level(mk, i, best);
        r->level[i] = best;
        r->quality_bid[i] = t.quality;
        r->price_bid[i] = t.cost;
        r->score[i] = t.quality - t.cost;
    }
    if ((rc = prillm_ttc_auction_run(n, r->quality_bid, r->price_bid, NULL, mk->outside_value, &r->outcome, err))) {
        prillm_ttc_auction_result_free(r);
        return rc;
    }
    int w = r->outcome.winner;
    if (w >= 0) {
        r->utility[w] = r->outcome.payment - r->price_bid[w];
        r->user_utility = r->quality_bid[w] - r->outcome.payment;
        r->welfare = r->score[w];
    } else {
        r->user_utility = r->welfare = mk->outside_value;
    }
    *result = r;
    return PRILLM_OK;
}
