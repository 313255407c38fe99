/*
 * Confidence check of an abstracted price: is the price a local optimum of
 * the TRUE market's profit, to within a tolerance? The profit curve
 * (p - cost) F_s(p) is piecewise a concave quadratic, so near a good price it
 * is close to a parabola: evaluate it exactly at p, p (1 - h), p (1 + h),
 * then at the vertex of the parabola through the three (or, if they are not
 * concave, four steps uphill), each within 4 steps of p. The best of them is
 * a price the true market really pays (a lower bound on the optimum), so if
 * the abstracted price earns less than (1 - tolerance) times it, the
 * abstraction has missed by more than the tolerance, certainly.
 */
#include <math.h>

#include "internal.h"

#include "abstraction_check.h"

static PrillmErrorCode profit_at(PrillmEquilibriumSolver *solver, int target, double cost, double price,
                                 double *profit, double *flow, long *solves, PrillmError *err) {
    PrillmErrorCode rc = prillm_equilibrium_update_price(solver, target, price, err);
    if (!rc) rc = prillm_equilibrium_solve(solver, err);
    if (rc) return rc;
    ++*solves;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
        return prillm__fail(err, PRILLM_ERR_SOLVER, "check: equilibrium at price %g: %s", price,
                            prillm_status_name(eq->info.status));
    *profit = (price - cost) * eq->provider_flow[target];
    if (flow) *flow = eq->provider_flow[target];
    return PRILLM_OK;
}

PrillmErrorCode prillm__abstraction_check(const PrillmMarket *market, int target, double cost, double p_max,
                                          double price, double step, double tolerance,
                                          PrillmEquilibriumSolver *solver, PrillmAbstractionCheck *out,
                                          PrillmError *err) {
    out->profit = out->best_price = out->best_profit = out->shortfall = NAN;
    out->fallback = 0;
    out->solves = 0;
    PrillmEquilibriumSolver *own = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    if (!solver) {
        if ((rc = prillm_equilibrium_setup(&own, market, NULL, err))) return rc;
        solver = own;
    }
    double total = 0;
    for (int i = 0; i < market->n_users; i++) total += market->demand[i];
    double flow = 0, best_price = price, best = NAN;
    if ((rc = profit_at(solver, target, cost, price, &out->profit, &flow, &out->solves, err))) goto done;
    best = out->profit;
    if (!(flow > PRILLM_PRICE_NO_FLOW * total)) {
        /* da's price sells nothing: the optimum is positive exactly when the
         * target sells something at its cost (its flow never rises with its
         * price), and then any price is better */
        double low = fmax(cost, 0.0), at_low = 0, unused;
        if (low < p_max) {
            if ((rc = profit_at(solver, target, cost, low, &unused, &at_low, &out->solves, err))) goto done;
            out->fallback = at_low > PRILLM_PRICE_NO_FLOW * total;
        }
        best_price = price;
        goto finish;
    }
    {
        double h = step * (price > 0 ? price : p_max * 1e-3);
        double lo = fmax(price - h, 0.0), hi = fmin(price + h, p_max);
        double y_lo = 0, y_hi = 0;
        if ((rc = profit_at(solver, target, cost, lo, &y_lo, NULL, &out->solves, err))) goto done;
        if ((rc = profit_at(solver, target, cost, hi, &y_hi, NULL, &out->solves, err))) goto done;
        if (y_lo > best) best = y_lo, best_price = lo;
        if (y_hi > best) best = y_hi, best_price = hi;
        /* the parabola through (lo, y_lo), (price, y0), (hi, y_hi) */
        double y0 = out->profit, a = lo - price, b = hi - price;
        double next = NAN;
        if (a < 0 && b > 0) {
            double d1 = (y_lo - y0) / a, d2 = (y_hi - y0) / b; /* secant slopes */
            double curvature = (d2 - d1) / (b - a);            /* half the second derivative */
            double slope = d1 - curvature * a;                 /* at price */
            if (curvature < 0) next = price - slope / (2 * curvature);
            else next = price + (slope >= 0 ? 4 * h : -4 * h);
        } else { /* one side clamped: walk uphill along the other */
            next = best_price == price ? price : price + 4 * (best_price - price);
        }
        next = fmin(fmax(next, price - 4 * h), price + 4 * h);
        next = fmin(fmax(next, 0.0), p_max);
        if (isfinite(next) && next != price && next != lo && next != hi) {
            double y = 0;
            if ((rc = profit_at(solver, target, cost, next, &y, NULL, &out->solves, err))) goto done;
            if (y > best) best = y, best_price = next;
        }
        out->fallback = out->profit < (1 - tolerance) * best;
    }
finish:
    out->best_price = best_price;
    out->best_profit = best;
    out->shortfall = best > 0 ? 1 - out->profit / best : NAN;
done:
    prillm_equilibrium_cleanup(own);
    return rc;
}
