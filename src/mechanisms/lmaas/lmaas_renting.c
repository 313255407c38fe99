/*
 * Robust Selecting and Renting (docs/lmaas.md, "Customers").
 *
 * Why checking U's vertices is exact. For a rental tau the second-stage
 * value is V2 = F(q(g), m(u, g)) with m = min(u, E / energy(g)) and
 *   F(q, m) = max_{0 <= s <= m} q s - (1 + premium) beta (s - tau)^+.
 * F is nondecreasing in q and m and quasi-concave (its upper level sets are
 * bounded by the convex curves m = t / q and m = (t - p tau) / (q - p)),
 * and q and m are concave in (u, g) because the Shannon rate is concave in
 * g. A nondecreasing quasi-concave function of concave functions is
 * quasi-concave, the unusable region (rate below the compressed stream)
 * only lowers it to 0 on a half-plane, so V2 - beta tau is quasi-concave on
 * U and its minimum over the polytope U is attained at a vertex.
 *
 * Over the vertices, each V2_k(tau) is concave piecewise linear with one
 * kink at its servable time s_k, so min_k V2_k(tau) - beta tau is concave
 * piecewise linear with kinks at the s_k and where two scenarios' pieces
 * cross: its maximum is at 0, max_rental or one of those points, and
 * evaluating every candidate is exact (at most 2 + 8 + 120 of them).
 */
#include <math.h>
#include <string.h>

#include "lmaas_internal.h"

int prillm_lmaas_vertices(double budget, PrillmLmaasScenario vertices[8]) {
    double a = fmin(1.0, fmax(0.0, budget)), b = fmin(1.0, fmax(0.0, budget - 1.0));
    PrillmLmaasScenario all[8];
    int count = 0, raw = 0;
    for (int su = -1; su <= 1; su += 2)
        for (int sg = -1; sg <= 1; sg += 2) {
            all[raw++] = (PrillmLmaasScenario){su * a + 0.0, sg * b + 0.0};
            all[raw++] = (PrillmLmaasScenario){su * b + 0.0, sg * a + 0.0};
        }
    for (int k = 0; k < raw; k++) {
        int seen = 0;
        for (int j = 0; j < count && !seen; j++)
            seen = vertices[j].z_demand == all[k].z_demand && vertices[j].z_gain == all[k].z_gain;
        if (!seen) vertices[count++] = all[k];
    }
    return count;
}

PrillmLmaasOutcome prillm__lmaas_outcome(const PrillmLmaasMarket *mk, int i, int m, PrillmLmaasScenario s) {
    PrillmLmaasOutcome o = {0.0, 0.0, 0};
    double demand = mk->demand[i] * (1.0 + mk->demand_deviation[i] * s.z_demand);
    double gain = mk->reference_gain * pow(mk->distance[i], -mk->path_loss_exponent) *
                  (1.0 + mk->gain_deviation[i] * s.z_gain);
    double rate = mk->bandwidth[i] * log1p(mk->power[i] * gain / mk->noise_power) / log(2.0);
    double stream = mk->compression[m] * mk->data_rate[i];
    if (!(rate > 0) || stream > rate) return o;
    double energy = mk->power[i] * stream / rate; /* transmit power x duty cycle */
    o.usable = 1;
    o.net_value = mk->value[i] * mk->fidelity[m] - mk->energy_price[i] * energy;
    o.servable = fmax(0.0, fmin(demand, mk->energy_capacity[i] / energy));
    return o;
}

double prillm__lmaas_second_stage(PrillmLmaasOutcome o, double rental, double price, double premium) {
    if (!o.usable || o.net_value <= 0) return 0.0;
    double on_demand = o.net_value - (1.0 + premium) * price;
    return o.net_value * fmin(rental, o.servable) + (on_demand > 0 ? on_demand * fmax(0.0, o.servable - rental) : 0.0);
}

void prillm__lmaas_robust_rental(const PrillmLmaasOutcome *outcomes, int count, double price, double premium,
                                 double max_rental, double *rental, double *profit, int *worst) {
    /* V2_k(tau) = rise_k tau + base_k up to s_k, flat (top_k) after it */
    enum { MAX_LINES = 16, MAX_CANDIDATES = 2 + 8 + MAX_LINES * (MAX_LINES - 1) / 2 };
    double slope[MAX_LINES], intercept[MAX_LINES], candidates[MAX_CANDIDATES];
    int lines = 0, n_candidates = 0;
    if (count > 8) count = 8;
    candidates[n_candidates++] = 0.0;
    candidates[n_candidates++] = max_rental;
    for (int k = 0; k < count; k++) {
        const PrillmLmaasOutcome *o = &outcomes[k];
        int serves = o->usable && o->net_value > 0;
        double on_demand = serves ? fmax(0.0, o->net_value - (1.0 + premium) * price) : 0.0;
        slope[lines] = serves ? o->net_value - on_demand : 0.0;
        intercept[lines++] = on_demand * (serves ? o->servable : 0.0);
        slope[lines] = 0.0;
        intercept[lines++] = serves ? o->net_value * o->servable : 0.0;
        if (serves && o->servable < max_rental) candidates[n_candidates++] = o->servable;
    }
    /* the worst case is concave piecewise linear: its kinks are the s_k and
     * the points where two scenarios' pieces cross */
    for (int a = 0; a < lines; a++)
        for (int b = a + 1; b < lines; b++) {
            if (a / 2 == b / 2 || slope[a] == slope[b]) continue;
            double tau = (intercept[b] - intercept[a]) / (slope[a] - slope[b]);
            if (tau > 0 && tau < max_rental) candidates[n_candidates++] = tau;
        }
    double values[MAX_CANDIDATES], best = -INFINITY, magnitude = price * max_rental;
    int arg_worst[MAX_CANDIDATES];
    for (int k = 0; k < lines; k++) magnitude = fmax(magnitude, fabs(intercept[k]) + fabs(slope[k]) * max_rental);
    for (int c = 0; c < n_candidates; c++) {
        double tau = candidates[c], low = INFINITY;
        arg_worst[c] = 0;
        for (int k = 0; k < count; k++) {
            double v = prillm__lmaas_second_stage(outcomes[k], tau, price, premium);
            if (v < low) {
                low = v;
                arg_worst[c] = k;
            }
        }
        values[c] = low - price * tau;
        best = fmax(best, values[c]);
    }
    /* The smallest maximiser, so that choices are well defined. A flat
     * stretch (renting exactly as good as buying on demand, premium 0) is
     * flat only up to round-off, hence the tolerance: without it the choice
     * would jump between 0 and max_rental on the last bit. */
    double best_tau = INFINITY, tie = 1e-12 * magnitude;
    int best_worst = 0;
    for (int c = 0; c < n_candidates; c++)
        if (values[c] >= best - tie && candidates[c] < best_tau) {
            best_tau = candidates[c];
            best_worst = arg_worst[c];
        }
    /* report the chosen plan's own worst case, not the maximum over ties */
    for (int c = 0; c < n_candidates; c++)
        if (candidates[c] == best_tau) best = values[c];
    *rental = best_tau;
    *profit = best;
    if (worst) *worst = best_worst;
}

static PrillmErrorCode check_indices(const PrillmLmaasMarket *mk, int customer, int model, PrillmError *err) {
    if (!mk) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    if (customer < 0 || customer >= mk->n_customers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "customer %d is not in 0..%d", customer, mk->n_customers - 1);
    if (model < 0 || model >= mk->n_models)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model %d is not in 0..%d", model, mk->n_models - 1);
    return PRILLM_OK;
}

static void rent_model(const PrillmLmaasMarket *mk, int i, int m, double price, double *rental, double *profit,
                       PrillmLmaasScenario *worst) {
    PrillmLmaasScenario vertices[8];
    PrillmLmaasOutcome outcomes[8];
    int count = prillm_lmaas_vertices(mk->budget, vertices);
    for (int k = 0; k < count; k++) outcomes[k] = prillm__lmaas_outcome(mk, i, m, vertices[k]);
    int arg = 0;
    prillm__lmaas_robust_rental(outcomes, count, price, mk->premium, mk->max_rental, rental, profit, &arg);
    if (worst) *worst = vertices[arg];
}

PrillmErrorCode prillm_lmaas_rent_model(const PrillmLmaasMarket *mk, int customer, int model, double price,
                                        double *rental, double *robust_profit, PrillmError *err) {
    PrillmErrorCode rc = check_indices(mk, customer, model, err);
    if (!rc && !(isfinite(price) && price >= 0))
        rc = prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "price must be finite and >= 0, got %g", price);
    if (rc) {
        if (rental) *rental = NAN;
        if (robust_profit) *robust_profit = NAN;
        return rc;
    }
    double tau, profit;
    rent_model(mk, customer, model, price, &tau, &profit, NULL);
    if (rental) *rental = tau;
    if (robust_profit) *robust_profit = profit;
    return PRILLM_OK;
}

PrillmErrorCode prillm_lmaas_rent(const PrillmLmaasMarket *mk, int customer, const double *prices,
                                  PrillmLmaasPlan *plan, PrillmError *err) {
    if (!plan) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "plan is NULL");
    *plan = (PrillmLmaasPlan){-1, NAN, NAN, {NAN, NAN}};
    PrillmErrorCode rc = check_indices(mk, customer, 0, err);
    if (rc) return rc;
    if (!prices) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "prices is NULL");
    for (int m = 0; m < mk->n_models; m++)
        if (!(prices[m] >= 0)) /* +inf is allowed: the model is not offered */
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "prices[%d] must be >= 0 (+inf: not offered), got %g", m,
                                prices[m]);
    PrillmLmaasPlan best = {-1, 0.0, 0.0, {0.0, 0.0}};
    for (int m = 0; m < mk->n_models; m++) {
        if (isinf(prices[m])) continue;
        double tau, profit;
        PrillmLmaasScenario worst;
        rent_model(mk, customer, m, prices[m], &tau, &profit, &worst);
        /* individual rationality: staying out is worth 0 */
        if (profit > best.robust_profit) best = (PrillmLmaasPlan){m, tau, profit, worst};
    }
    *plan = best;
    return PRILLM_OK;
}

double prillm_lmaas_realised_profit(const PrillmLmaasMarket *mk, int customer, int model, double price, double rental,
                                    PrillmLmaasScenario scenario) {
    if (!mk || customer < 0 || customer >= mk->n_customers || model < 0 || model >= mk->n_models) return NAN;
    PrillmLmaasOutcome o = prillm__lmaas_outcome(mk, customer, model, scenario);
    return prillm__lmaas_second_stage(o, rental, price, mk->premium) - price * rental;
}
