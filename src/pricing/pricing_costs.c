/* What every pricing method shares: the cost offsets at a trial price, the
 * data-derived price bound, and the true game at one price. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pricing_internal.h"

void prillm__price_costs(const PrillmMarket *market, int target, double price, double *slope, double *c) {
    int n = market->n_users, m = market->n_providers;
    for (int j = 0; j < m; j++) slope[j] = market->w_congestion / market->capacity[j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double p = j == target ? price : market->price[j];
            c[(size_t)i * m + j] = prillm__user_cost(market, i, j, p);
        }
}

/* An upper bound on user i's equilibrium marginal cost whatever the
 * target's price: what it would pay at its best rival if that rival's load
 * were as large as it can be (load[l], plus its own demand). */
static double user_cost_bound(const PrillmMarket *market, int target, int i, const double *load) {
    double best = INFINITY;
    for (int l = 0; l < market->n_providers; l++) {
        if (l == target) continue;
        double worst = prillm__user_cost(market, i, l, market->price[l]) +
                       market->w_congestion / market->capacity[l] * (load[l] + market->demand[i]);
        if (worst < best) best = worst;
    }
    return best;
}

/* The most load each rival can carry, whatever the target's price: the
 * demand of the users who could ever use it, those whose cost there with
 * no load is within their bound (user_cost_bound) under the previous
 * pass's loads, starting from the whole market's demand on every rival.
 * Each pass's loads are valid bounds, so the next pass's are too, and never
 * larger: a few passes let a large group's load drop out of a small group's
 * rivals even when the first bound was too loose to. -1 when out of
 * memory. */
static int rival_loads(const PrillmMarket *market, int target, double *reach) {
    int n = market->n_users, m = market->n_providers;
    double *load = malloc((size_t)m * sizeof *load), total = 0;
    if (!load) return -1;
    for (int i = 0; i < n; i++) total += market->demand[i];
    for (int l = 0; l < m; l++) reach[l] = total;
    for (int pass = 0; pass < 4; pass++) {
        memcpy(load, reach, (size_t)m * sizeof *load);
        memset(reach, 0, (size_t)m * sizeof *reach);
        for (int i = 0; i < n; i++) {
            if (!(market->demand[i] > 0)) continue;
            double bound_i = user_cost_bound(market, target, i, load);
            for (int l = 0; l < m; l++)
                if (l != target && prillm__user_cost(market, i, l, market->price[l]) <= bound_i) reach[l] += market->demand[i];
        }
        int same = 1;
        for (int l = 0; l < m && same; l++) same = reach[l] == load[l];
        if (same) break;
    }
    free(load);
    return 0;
}

double prillm_price_default_pmax(const PrillmMarket *market, int target) {
    if (!market || target < 0 || target >= market->n_providers || market->n_providers < 2 || !(market->w_price > 0))
        return NAN;
    /* A rival's load is at most the demand of the users who could ever use
     * it. Counting only them keeps the bound valid and tight when users are
     * split into markets that never mix (service classes: an image model's
     * load is the image users', not the chat users'; with the whole market's
     * demand the bound was 10^4 times the image models' choke price). */
    double *reach = malloc((size_t)market->n_providers * sizeof *reach);
    if (!reach || rival_loads(market, target, reach)) {
        free(reach);
        return NAN;
    }
    double bound = 0;
    for (int i = 0; i < market->n_users; i++) {
        if (!(market->demand[i] > 0)) continue;
        double best_rival = user_cost_bound(market, target, i, reach);
        /* the target's bare cost offset reaches that at this price */
        double p = (best_rival - prillm__static_cost(market, i, target)) / market->w_price;
        if (p > bound) bound = p;
    }
    free(reach);
    /* a little headroom so the choke point itself lies inside the range */
    bound = bound * (1 + 1e-6) + 1e-6;
    /* extreme (valid) magnitudes can overflow the bound; the range is then
     * as wide as arithmetic allows */
    return isfinite(bound) && bound < 1e300 ? bound : 1e300;
}

int prillm__could_use(const PrillmMarket *market, int target, unsigned char *can) {
    int n = market->n_users, m = market->n_providers;
    double *reach = malloc((size_t)m * sizeof *reach);
    if (!reach || rival_loads(market, target, reach)) {
        free(reach);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        double bound_i = user_cost_bound(market, target, i, reach);
        for (int j = 0; j < m; j++)
            can[(size_t)i * m + j] = market->demand[i] > 0 &&
                                     (j == target ? prillm__static_cost(market, i, j)
                                                  : prillm__user_cost(market, i, j, market->price[j])) <= bound_i;
    }
    free(reach);
    return 0;
}

PrillmErrorCode prillm_price_profit_at(const PrillmMarket *market, int target, double price, double *profit,
                                       double *flow, double *kkt_violation, PrillmError *err) {
    if (profit) *profit = NAN;
    if (flow) *flow = NAN;
    if (kkt_violation) *kkt_violation = NAN;
    if (!market || !profit) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    if (target < 0 || target >= market->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "target %d is outside 0..%d", target,
                            market->n_providers - 1);
    if (!(price >= 0) || !(price <= PRILLM_MAX_MAGNITUDE))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "price %g is not in [0, %g]", price, PRILLM_MAX_MAGNITUDE);
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = prillm_equilibrium_setup(&solver, market, NULL, err);
    if (!rc) rc = prillm_equilibrium_update_price(solver, target, price, err);
    if (!rc) rc = prillm_equilibrium_solve(solver, err);
    if (!rc) {
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        double k = isnan(market->cost[target]) ? 0 : market->cost[target];
        if (eq->info.status == PRILLM_STATUS_SOLVED || eq->info.status == PRILLM_STATUS_INACCURATE) {
            *profit = (price - k) * eq->provider_flow[target];
            if (flow) *flow = eq->provider_flow[target];
            if (kkt_violation) *kkt_violation = eq->info.kkt_violation;
        } else {
            rc = prillm__fail(err, PRILLM_ERR_SOLVER, "the equilibrium at price %g did not solve (status %s)", price,
                              prillm_status_name(eq->info.status));
        }
    }
    prillm_equilibrium_cleanup(solver);
    return rc;
}
