/* Grid search: the exact equilibrium at evenly spaced prices, best kept.
 * Its answer is a lower bound on the optimum that tightens with the grid;
 * the exact method must never do worse. */
#include <math.h>

#include "pricing_internal.h"

PrillmErrorCode prillm__price_grid(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = prillm_equilibrium_setup(&solver, pb->market, NULL, err);
    if (rc) return rc;
    int points = pb->settings->grid_points, s = pb->target;
    double best_p = NAN, best_profit = -INFINITY;
    int inaccurate = 0;
    long solved = 0;
    for (int q = 0; q < points; q++) {
        if (q > 0 && pb->deadline > 0 && prillm__now() > pb->deadline) {
            inaccurate = 1;
            break;
        }
        /* q * step would drift; the last point is exactly p_max */
        double p = q == points - 1 ? pb->p_max : pb->p_max * ((double)q / (double)(points - 1));
        rc = prillm_equilibrium_update_price(solver, s, p, err);
        if (!rc) rc = prillm_equilibrium_solve(solver, err);
        if (rc) break;
        solved++;
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status != PRILLM_STATUS_SOLVED) {
            inaccurate = 1;
            if (eq->info.status != PRILLM_STATUS_INACCURATE) continue;
        }
        double profit = (p - pb->cost) * eq->provider_flow[s];
        if (profit > best_profit) {
            best_profit = profit;
            best_p = p;
        }
    }
    prillm_equilibrium_cleanup(solver);
    if (rc) return rc;
    out->iterations = solved;
    out->equilibrium_solves = solved;
    out->price = best_p;
    out->model_profit = isnan(best_p) ? NAN : best_profit;
    out->status = isnan(best_p) ? PRILLM_STATUS_FAILED : inaccurate ? PRILLM_STATUS_INACCURATE : PRILLM_STATUS_SOLVED;
    return PRILLM_OK;
}
