/* Every target of a market priced with its rivals fixed, in parallel: the
 * targets share nothing but the (read-only) market, so each thread runs
 * prillm_price on its own. */
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pricing_internal.h"

PrillmErrorCode prillm_price_all(const PrillmMarket *market, const PrillmPriceSettings *settings,
                                 const int *targets, int n_targets, int threads, PrillmPriceResult *results,
                                 PrillmError *errors, PrillmError *err) {
    if (!market || !results || !errors)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market, results or errors is NULL");
    if (threads < 0) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "threads is %d: 0 or more", threads);
    PrillmErrorCode rc = prillm_market_validate(market, err);
    if (rc) return rc;
    if (settings && (rc = prillm_price_check_settings(settings, err))) return rc;
    if (!targets) n_targets = market->n_providers;
    if (n_targets < 0) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "n_targets is %d", n_targets);
    for (int k = 0; targets && k < n_targets; k++)
        if (targets[k] < 0 || targets[k] >= market->n_providers)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "targets[%d] = %d is not a provider index (0..%d)",
                                k, targets[k], market->n_providers - 1);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 0 ? threads : omp_get_max_threads())
#endif
    for (int k = 0; k < n_targets; k++) {
        int s = targets ? targets[k] : k;
        errors[k].code = PRILLM_OK;
        errors[k].message[0] = '\0';
        /* on failure prillm_price leaves the result empty (NaN, no memory) */
        (void)prillm_price(market, s, settings, &results[k], &errors[k]);
    }
    (void)threads;
    return PRILLM_OK;
}
