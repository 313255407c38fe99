/* Pricing through game abstraction (PriLLM phase 2): shrink the market to
 * the target plus k rivals (the trained aggregation network, the k cheapest
 * rivals, or k averaged ones; aggregator.h), price the small market exactly,
 * and hand that price back to be scored in the true market. da's price is
 * then checked against exact solves near it in the true market and replaced
 * by the exact optimum when it falls short (settings.da_check). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abstraction_check.h"
#include "prillm/aggregator.h"
#include "pricing_internal.h"
#include "set_transformer.h"

PrillmErrorCode prillm__price_abstracted(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    const PrillmPriceSettings *set = pb->settings;
    PrillmAggregateMethod how = set->method == PRILLM_PRICE_DA    ? PRILLM_AGGREGATE_DA
                                : set->method == PRILLM_PRICE_MIN ? PRILLM_AGGREGATE_MIN
                                                                  : PRILLM_AGGREGATE_AVG;
    if (how == PRILLM_AGGREGATE_DA && !set->model)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "method da needs a trained aggregation model (settings.model, --model FILE)");
    /* da abstracts only the part of the market the target's price can reach
     * (prillm__market_part): the rest never trades with it, and merging it
     * in would swamp the merged rival's features (the fitted market's
     * service classes); on most markets the part is the whole market. min
     * and avg stay the paper's baselines, on the whole market (min keeping a
     * rival nobody uses is their documented weakness). */
    PrillmMarket *part = NULL, *small = NULL;
    int in_part = pb->target, target = -1;
    PrillmErrorCode rc = how == PRILLM_AGGREGATE_DA
                             ? prillm__market_part(pb->market, pb->target, pb->costs, pb->reach, &part, &in_part, err)
                             : PRILLM_OK;
    if (rc) return rc;
    /* the dispatcher validated the market; its part is a copy of some of
     * its entries */
    rc = prillm__aggregate_market_validated(part ? part : pb->market, in_part, set->k, how, set->model, &small,
                                            &target, err);
    prillm_market_free(part);
    if (rc) return rc;
    PrillmPriceSettings exact = *set;
    exact.method = PRILLM_PRICE_EXACT;
    exact.p_max = pb->p_max; /* the same range as the true market's */
    exact.compare = 0;
    exact.model = NULL;
    if (pb->deadline > 0) {
        exact.time_limit = pb->deadline - prillm__now();
        if (!(exact.time_limit > 0)) exact.time_limit = 1e-9;
    }
    PrillmPriceResult r;
    /* the price is scored in the true market: the abstracted curve's own
     * certificate would certify nothing the answer uses */
    rc = prillm__price_uncertified(small, target, &exact, &r, err);
    prillm_market_free(small);
    if (rc) return rc;
    out->price = r.price;
    out->model_profit = r.profit; /* the abstracted market's own profit */
    out->iterations = r.iterations;
    out->equilibrium_solves = r.equilibrium_solves;
    out->status = r.status;
    prillm_price_result_clear(&r);
    if (how != PRILLM_AGGREGATE_DA || !set->da_check ||
        (out->status != PRILLM_STATUS_SOLVED && out->status != PRILLM_STATUS_INACCURATE))
        return PRILLM_OK;
    out->abstract_price = out->price;
    if (pb->market->n_providers - 1 <= set->k) { /* the abstracted market was the market itself */
        out->check = PRILLM_PRICE_CHECK_SKIPPED;
        return PRILLM_OK;
    }
    PrillmAbstractionCheck check;
    if ((rc = prillm__abstraction_check(pb->market, pb->target, pb->cost, pb->p_max, out->price, set->da_check_step,
                                        set->da_check_tolerance, pb->solver, &check, err)))
        return rc;
    out->equilibrium_solves += check.solves;
    out->check_solves = check.solves;
    out->abstract_profit = check.profit;
    out->check_price = check.best_price;
    out->check_profit = check.best_profit;
    out->check_shortfall = check.shortfall;
    out->check = check.fallback ? PRILLM_PRICE_CHECK_FALLBACK : PRILLM_PRICE_CHECK_PASSED;
    if (!check.fallback) {
        /* within the tolerance: the best price seen, da's or a nearby one
         * that earns more in the true market */
        out->price = check.best_price;
        return PRILLM_OK;
    }
    /* fall back: the exact walk of the whole market, from the same solver */
    PrillmPriceSettings whole = *set;
    whole.method = PRILLM_PRICE_EXACT;
    PrillmPriceProblem q = *pb;
    q.settings = &whole;
    /* the costs point into the solver's, whose target column the check
     * moved; the exact walk does not read them, and must not */
    q.costs = NULL;
    q.reach = NULL;
    PrillmPriceCandidate ex;
    memset(&ex, 0, sizeof ex);
    ex.price = ex.model_profit = ex.walked_fraction = NAN;
    ex.status = PRILLM_STATUS_FAILED;
    rc = prillm__price_exact(&q, &ex, err);
    free(ex.segments);
    free(ex.breakpoints);
    free(ex.segment_sets);
    if (rc) return rc;
    out->price = ex.price;
    out->model_profit = ex.model_profit;
    out->iterations += ex.iterations;
    out->equilibrium_solves += ex.equilibrium_solves;
    out->status = ex.status;
    return PRILLM_OK;
}
