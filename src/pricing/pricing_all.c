/* Every target of a market priced with its rivals fixed, in parallel: the
 * targets share the (read-only) market and its equilibrium at today's
 * prices, solved once here; each thread prices its target from a copy of
 * that solve (prillm__price_from), as prillm_price would from its own. */
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
    /* today's equilibrium, once: every target's current profit and the
     * warm start of its walk (a solve that fails is no error here: each
     * target then reports it, as prillm_price would) */
    PrillmEquilibriumSolver *shared = NULL;
    if ((rc = prillm__equilibrium_setup_validated(&shared, market, NULL, err))) return rc;
    if ((rc = prillm_equilibrium_solve(shared, err)) && rc != PRILLM_ERR_SOLVER) {
        prillm_equilibrium_cleanup(shared);
        return rc;
    }
    const PrillmEquilibriumSolver *from = shared;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 0 ? threads : omp_get_max_threads())
#endif
    for (int k = 0; k < n_targets; k++) {
        int s = targets ? targets[k] : k;
        errors[k].code = PRILLM_OK;
        errors[k].message[0] = '\0';
        /* on failure prillm_price leaves the result empty (NaN, no memory) */
        (void)prillm__price_from(market, s, settings, from, &results[k], &errors[k]);
    }
    prillm_equilibrium_cleanup(shared);
    (void)threads;
    return PRILLM_OK;
}
