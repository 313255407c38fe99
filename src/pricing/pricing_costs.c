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

/* What the bounds below read of a market, row by row: each rival's
 * congestion slope, and one user's costs at the current prices, computed
 * once per row and pass instead of once per test, or read from a matrix of
 * them (an equilibrium solver's at the market's prices: the same numbers). */
typedef struct {
    const PrillmMarket *market;
    int target;
    const double *matrix; /* NULL, or c_il at the current prices (n*m)      */
    double *slope;        /* [m] w_congestion / capacity_l                  */
    double *row;          /* [m] the row computed (no matrix)               */
    const double *cost;   /* c_il at the current prices, of the row last read */
} RowCosts;

static int row_costs_init(RowCosts *rc, const PrillmMarket *market, int target, const double *matrix) {
    int m = market->n_providers;
    rc->market = market;
    rc->target = target;
    rc->matrix = matrix;
    rc->slope = malloc((size_t)m * sizeof(double));
    rc->row = matrix ? NULL : malloc((size_t)m * sizeof(double));
    if (!rc->slope || (!matrix && !rc->row)) return -1;
    for (int l = 0; l < m; l++) rc->slope[l] = market->w_congestion / market->capacity[l];
    return 0;
}

static void row_costs_free(RowCosts *rc) {
    free(rc->slope);
    free(rc->row);
}

static void row_costs_read(RowCosts *rc, int i) {
    const PrillmMarket *mk = rc->market;
    int m = mk->n_providers;
    if (rc->matrix) {
        rc->cost = rc->matrix + (size_t)i * (size_t)m;
        return;
    }
    double *cost = rc->row;
#pragma omp simd
    for (int l = 0; l < m; l++) cost[l] = prillm__user_cost(mk, i, l, mk->price[l]);
    rc->cost = cost;
}

/* An upper bound on the equilibrium marginal cost of the user whose row was
 * read last, whatever the target's price: what it would pay at its best
 * rival if that rival's load were as large as it can be (load[l], plus its
 * own demand). */
PRILLM__VECTOR_CLONES static double user_cost_bound(const RowCosts *rc, double demand, const double *load) {
    int m = rc->market->n_providers, target = rc->target;
    double best = INFINITY;
    /* the rivals before the target, then after it: two plain loops that
     * vectorise (a test of l against the target in one loop did not) */
#pragma omp simd reduction(min : best)
    for (int l = 0; l < target; l++) {
        double worst = rc->cost[l] + rc->slope[l] * (load[l] + demand);
        best = worst < best ? worst : best;
    }
#pragma omp simd reduction(min : best)
    for (int l = target + 1; l < m; l++) {
        double worst = rc->cost[l] + rc->slope[l] * (load[l] + demand);
        best = worst < best ? worst : best;
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
static int rival_loads(RowCosts *rc, double *reach) {
    const PrillmMarket *market = rc->market;
    int n = market->n_users, m = market->n_providers, target = rc->target;
    double *load = malloc((size_t)m * sizeof *load), total = 0;
    if (!load) return -1;
    for (int i = 0; i < n; i++) total += market->demand[i];
    for (int l = 0; l < m; l++) reach[l] = total;
    for (int pass = 0; pass < 4; pass++) {
        memcpy(load, reach, (size_t)m * sizeof *load);
        memset(reach, 0, (size_t)m * sizeof *reach);
        for (int i = 0; i < n; i++) {
            double demand = market->demand[i];
            if (!(demand > 0)) continue;
            row_costs_read(rc, i);
            double bound_i = user_cost_bound(rc, demand, load);
            /* adding 0 leaves a sum of positive demands as it is: the same
             * sums as adding only where the test holds */
#pragma omp simd
            for (int l = 0; l < m; l++) reach[l] += rc->cost[l] <= bound_i ? demand : 0.0;
            reach[target] = 0.0; /* the target is no rival */
        }
        int same = 1;
        for (int l = 0; l < m && same; l++) same = reach[l] == load[l];
        if (same) break;
    }
    free(load);
    return 0;
}

int prillm__rival_reach(const PrillmMarket *market, int target, const double *costs, double *reach) {
    RowCosts rc = {0};
    int failed = row_costs_init(&rc, market, target, costs) || rival_loads(&rc, reach);
    row_costs_free(&rc);
    return failed ? -1 : 0;
}

double prillm_price_default_pmax(const PrillmMarket *market, int target) {
    return prillm__price_bound(market, target, NULL, NULL);
}

double prillm__price_bound(const PrillmMarket *market, int target, const double *costs, const double *known_reach) {
    if (!market || target < 0 || target >= market->n_providers || market->n_providers < 2 || !(market->w_price > 0))
        return NAN;
    /* A rival's load is at most the demand of the users who could ever use
     * it. Counting only them keeps the bound valid and tight when users are
     * split into markets that never mix (service classes: an image model's
     * load is the image users', not the chat users'; with the whole market's
     * demand the bound was 10^4 times the image models' choke price). */
    RowCosts rc = {0};
    double *reach = known_reach ? NULL : malloc((size_t)market->n_providers * sizeof *reach);
    int failed = row_costs_init(&rc, market, target, costs) ||
                 (!known_reach && (!reach || rival_loads(&rc, reach)));
    const double *load = known_reach ? known_reach : reach;
    double bound = 0;
    for (int i = 0; i < market->n_users && !failed; i++) {
        if (!(market->demand[i] > 0)) continue;
        row_costs_read(&rc, i);
        double best_rival = user_cost_bound(&rc, market->demand[i], load);
        /* the target's bare cost offset reaches that at this price */
        double p = (best_rival - prillm__static_cost(market, i, target)) / market->w_price;
        if (p > bound) bound = p;
    }
    free(reach);
    row_costs_free(&rc);
    if (failed) return NAN;
    /* a little headroom so the choke point itself lies inside the range */
    bound = bound * (1 + 1e-6) + 1e-6;
    /* extreme (valid) magnitudes can overflow the bound; the range is then
     * as wide as arithmetic allows */
    return isfinite(bound) && bound < 1e300 ? bound : 1e300;
}

int prillm__could_use(const PrillmMarket *market, int target, const double *costs, const double *known_reach,
                      unsigned char *can) {
    int n = market->n_users, m = market->n_providers;
    RowCosts rc = {0};
    double *reach = known_reach ? NULL : malloc((size_t)m * sizeof *reach);
    int failed = row_costs_init(&rc, market, target, costs) || (!known_reach && (!reach || rival_loads(&rc, reach)));
    const double *load = known_reach ? known_reach : reach;
    for (int i = 0; i < n && !failed; i++) {
        unsigned char *row = can + (size_t)i * m;
        if (!(market->demand[i] > 0)) {
            memset(row, 0, (size_t)m);
            continue;
        }
        row_costs_read(&rc, i);
        double bound_i = user_cost_bound(&rc, market->demand[i], load);
        for (int j = 0; j < m; j++) row[j] = rc.cost[j] <= bound_i;
        /* the target at a price of 0: its bare cost offset */
        row[target] = prillm__static_cost(market, i, target) <= bound_i;
    }
    free(reach);
    row_costs_free(&rc);
    return failed ? -1 : 0;
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
