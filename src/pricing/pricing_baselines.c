/* Shared entry checks of the baseline pricing methods. */
#include <math.h>
#include <string.h>

#include "pricing_baselines.h"

PrillmErrorCode prillm__price_baseline_begin(const char *method, const PrillmPriceProblem *problem,
                                             PrillmPriceCandidate *out, PrillmError *err) {
    if (out) {
        memset(out, 0, sizeof *out);
        out->price = NAN;
        out->model_profit = NAN;
        out->status = PRILLM_STATUS_FAILED;
    }
    if (!problem || !out || !problem->market || !problem->settings)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: NULL problem, market, settings or output",
                            method);
    const PrillmMarket *mk = problem->market;
    if (problem->target < 0 || problem->target >= mk->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: target %d is outside 0..%d", method,
                            problem->target, mk->n_providers - 1);
    if (!(problem->p_max > 0) || !(problem->p_max <= PRILLM_MAX_MAGNITUDE))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: p_max must be in (0, %g], got %g", method,
                            PRILLM_MAX_MAGNITUDE, problem->p_max);
    if (!(problem->start_price >= 0) || !(problem->start_price <= problem->p_max))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: start_price %g is not in [0, p_max = %g]", method,
                            problem->start_price, problem->p_max);
    if (!isfinite(problem->cost) || fabs(problem->cost) > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: cost must be finite, got %g", method,
                            problem->cost);
    if (!(problem->deadline >= 0))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "%s: deadline must be >= 0, got %g", method,
                            problem->deadline);
    return PRILLM_OK;
}

int prillm__price_past_deadline(const PrillmPriceProblem *problem) {
    return problem->deadline > 0 && prillm__now() >= problem->deadline;
}
