/*
 * The seller's profit (docs/lmaas.md, "Seller"): rental margin, expected
 * on-demand margin and fixed costs, at given prices and the followers' RSR
 * plans.
 *
 * On-demand time is bought after the uncertainty resolves, so the seller
 * can only count its expectation. The project's choice (the paper's seller
 * objective could not be read beyond "revenue = price x rental time"):
 * scenarios uniform on U, the same distribution the out-of-sample
 * evaluation draws from, integrated by the midpoint rule on a K x K lattice
 * of the square mapped onto U. The integrand is piecewise smooth in the
 * scenario, so the rule converges as K grows; K = 1 is the nominal scenario.
 */
#include <math.h>
#include <stdlib.h>

#include "lmaas_internal.h"

int prillm_lmaas_lattice(double budget, int points, PrillmLmaasScenario *out) {
    if (!out || points < 1) return 0;
    if (!(budget > 0)) {
        out[0] = (PrillmLmaasScenario){0.0, 0.0};
        return 1;
    }
    int count = 0;
    for (int j = 0; j < points; j++)
        for (int k = 0; k < points; k++) {
            double a = -1.0 + (2.0 * j + 1.0) / points, b = -1.0 + (2.0 * k + 1.0) / points;
            if (budget <= 1.0) {
                out[count++] = (PrillmLmaasScenario){budget * 0.5 * (a + b) + 0.0, budget * 0.5 * (a - b) + 0.0};
            } else if (fabs(a) + fabs(b) <= budget) {
                out[count++] = (PrillmLmaasScenario){a, b};
            }
        }
    return count;
}

double prillm__lmaas_on_demand_time(PrillmLmaasOutcome o, double rental, double price, double premium) {
    if (!o.usable || !(o.net_value > (1.0 + premium) * price)) return 0.0;
    return fmax(0.0, o.servable - rental);
}

int prillm__lmaas_lattice_outcomes(const PrillmLmaasMarket *mk, int i, int m, int points, PrillmLmaasOutcome *out) {
    PrillmLmaasScenario stack[64], *scenarios = points * points <= 64 ? stack : malloc((size_t)points * (size_t)points * sizeof *scenarios);
    if (!scenarios) return 0;
    int count = prillm_lmaas_lattice(mk->budget, points, scenarios);
    for (int k = 0; k < count; k++) out[k] = prillm__lmaas_outcome(mk, i, m, scenarios[k]);
    if (scenarios != stack) free(scenarios);
    return count;
}

double prillm__lmaas_expected_on_demand(const PrillmLmaasOutcome *lattice, int count, double rental, double price,
                                        double premium) {
    if (count < 1) return 0.0;
    double sum = 0.0;
    for (int k = 0; k < count; k++) sum += prillm__lmaas_on_demand_time(lattice[k], rental, price, premium);
    return sum / count;
}

double prillm__lmaas_fixed_cost(const PrillmLmaasMarket *mk, const double *prices) {
    double fixed = 0.0;
    int any = 0;
    for (int m = 0; m < mk->n_models; m++)
        if (isfinite(prices[m])) {
            any = 1;
            fixed += mk->finetune_cost[m];
        }
    return any ? fixed + mk->ssl_cost : 0.0;
}

PrillmErrorCode prillm_lmaas_followers(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *settings,
                                       const double *prices, PrillmLmaasPlan *plans, double *on_demand,
                                       PrillmLmaasProfit *profit, PrillmError *err) {
    if (profit) *profit = (PrillmLmaasProfit){NAN, NAN, NAN, NAN, NAN};
    if (!mk || !prices || !plans) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market, prices or plans is NULL");
    PrillmLmaasSettings defaults;
    prillm_lmaas_default_settings(&defaults);
    const PrillmLmaasSettings *s = settings ? settings : &defaults;
    PrillmErrorCode rc = prillm_lmaas_check_settings(s, err);
    if (rc) return rc;
    int points = s->on_demand_points;
    PrillmLmaasOutcome *lattice = malloc((size_t)points * (size_t)points * sizeof *lattice);
    if (!lattice) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the seller's lattice");
    PrillmLmaasProfit p = {0.0, 0.0, 0.0, 0.0, 0.0};
    for (int i = 0; i < mk->n_customers; i++) {
        if ((rc = prillm_lmaas_rent(mk, i, prices, &plans[i], err))) {
            /* no stale plans next to an error */
            for (int k = 0; k < mk->n_customers; k++) {
                plans[k] = (PrillmLmaasPlan){-1, NAN, NAN, {NAN, NAN}};
                if (on_demand) on_demand[k] = NAN;
            }
            free(lattice);
            return rc;
        }
        int m = plans[i].model;
        double z = 0.0;
        if (m >= 0) {
            p.rental += (prices[m] - mk->serving_cost[m]) * plans[i].rental;
            if (s->on_demand == PRILLM_LMAAS_ON_DEMAND_EXPECTED) {
                int count = prillm__lmaas_lattice_outcomes(mk, i, m, points, lattice);
                z = prillm__lmaas_expected_on_demand(lattice, count, plans[i].rental, prices[m], mk->premium);
                p.on_demand += ((1.0 + mk->premium) * prices[m] - mk->serving_cost[m]) * z;
            }
        }
        if (on_demand) on_demand[i] = z;
    }
    free(lattice);
    p.operating = p.rental + p.on_demand;
    p.fixed = prillm__lmaas_fixed_cost(mk, prices);
    p.net = p.operating - p.fixed;
    if (profit) *profit = p;
    return PRILLM_OK;
}
