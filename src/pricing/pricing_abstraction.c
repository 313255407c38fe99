/* Pricing through game abstraction (PriLLM phase 2): shrink the market to
 * the target plus k rivals (the trained aggregation network, the k cheapest
 * rivals, or k averaged ones; aggregator.h), price the small market exactly,
 * and hand that price back to be scored in the true market. */
#include <math.h>
#include <string.h>

#include "prillm/aggregator.h"
#include "pricing_internal.h"

PrillmErrorCode prillm__price_abstracted(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    const PrillmPriceSettings *set = pb->settings;
    PrillmAggregateMethod how = set->method == PRILLM_PRICE_DA    ? PRILLM_AGGREGATE_DA
                                : set->method == PRILLM_PRICE_MIN ? PRILLM_AGGREGATE_MIN
                                                                  : PRILLM_AGGREGATE_AVG;
    if (how == PRILLM_AGGREGATE_DA && !set->model)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "method da needs a trained aggregation model (settings.model, --model FILE)");
    PrillmMarket *small = NULL;
    int target = -1;
    PrillmErrorCode rc = prillm_aggregate_market(pb->market, pb->target, set->k, how, set->model, &small, &target, err);
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
    rc = prillm_price(small, target, &exact, &r, err);
    prillm_market_free(small);
    if (rc) return rc;
    out->price = r.price;
    out->model_profit = r.profit; /* the abstracted market's own profit */
    out->iterations = r.iterations;
    out->equilibrium_solves = r.equilibrium_solves;
    out->status = r.status;
    prillm_price_result_clear(&r);
    return PRILLM_OK;
}
