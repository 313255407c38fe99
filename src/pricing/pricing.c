/* prillm_price: checks the inputs, runs the chosen method, and scores the
 * price it proposes in the true game, so every method is judged the same
 * way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pricing_internal.h"

static const PrillmPriceMethodFn methods[PRILLM_PRICE_METHOD_COUNT] = {
    prillm__price_exact, prillm__price_grid,   prillm__price_bf,   prillm__price_spiter,
    prillm__price_pmpec, prillm__price_smooth, prillm__price_odca, prillm__price_spgce,
    prillm__price_abstracted, prillm__price_abstracted, prillm__price_abstracted,
};

/* Prices at which the exact curve is checked against independent
 * equilibrium solves, besides the optimum. */
#define CURVE_CHECKS 16

static void result_reset(PrillmPriceResult *result) {
    memset(result, 0, sizeof *result);
    result->status = PRILLM_STATUS_FAILED;
    result->target = -1;
    result->method = -1;
    result->p_max = result->cost = NAN;
    result->price = result->profit = result->flow = NAN;
    result->kkt_violation = result->model_profit = result->curve_residual = result->walked_fraction = NAN;
    result->exact_profit = result->profit_ratio = NAN;
    result->current_price = result->current_profit = result->current_flow = NAN;
    result->uplift = result->uplift_relative = NAN;
    result->warnings = 0;
    result->abstract_price = result->abstract_profit = NAN;
    result->check_price = result->check_profit = result->check_shortfall = NAN;
}

void prillm_price_result_clear(PrillmPriceResult *result) {
    if (!result) return;
    free(result->segments);
    free(result->breakpoints);
    result_reset(result);
}

int prillm__curve_segment(const PrillmPriceResult *r, double p) {
    if (!r || r->n_segments <= 0 || !r->segments) return -1;
    int lo = 0, hi = r->n_segments - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (r->segments[mid].from <= p) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

double prillm_price_curve_flow(const PrillmPriceResult *r, double p) {
    int k = prillm__curve_segment(r, p);
    if (k < 0) return NAN;
    const PrillmPriceSegment *seg = &r->segments[k];
    /* a price no walked piece covers (a gap of a pruned curve, or outside
     * the curve) has no certified flow: extending the neighbour would be a
     * guess */
    if (!(p >= seg->from && p <= seg->to)) return NAN;
    return seg->flow_from + seg->flow_slope * (p - seg->from);
}

PrillmErrorCode prillm__price_score(PrillmEquilibriumSolver *solver, int s, double p, double *flow, double *kkt,
                                    PrillmError *err) {
    return prillm__price_score_from(solver, s, p, NULL, flow, kkt, err);
}

/* The solve of prillm__price_score_from and _rows: seeded by flags, by
 * rows (start, prov), or not at all. */
static PrillmErrorCode score_seeded(PrillmEquilibriumSolver *solver, int s, double p, const unsigned char *active,
                                    const int *start, const int *prov, double *flow, double *kkt, PrillmError *err) {
    PrillmErrorCode rc = prillm_equilibrium_update_price(solver, s, p, err);
    if (!rc && active) prillm__equilibrium_seed_active(solver, active);
    else if (!rc && start) prillm__equilibrium_seed_rows(solver, start, prov);
    if (!rc) rc = prillm_equilibrium_solve(solver, err);
    if (rc) return rc;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the equilibrium at price %g did not solve (status %s)", p,
                            prillm_status_name(eq->info.status));
    *flow = eq->provider_flow[s];
    if (kkt) *kkt = eq->info.kkt_violation;
    return PRILLM_OK;
}

PrillmErrorCode prillm__price_score_from(PrillmEquilibriumSolver *solver, int s, double p, const unsigned char *active,
                                         double *flow, double *kkt, PrillmError *err) {
    return score_seeded(solver, s, p, active, NULL, NULL, flow, kkt, err);
}

PrillmErrorCode prillm__price_score_published(PrillmEquilibriumSolver *solver, int s, double p,
                                              const unsigned char *active, double *flow, double *kkt,
                                              PrillmError *err) {
    prillm__equilibrium_set_lazy_polish(solver, 0); /* whatever the method's solves were */
    return score_seeded(solver, s, p, active, NULL, NULL, flow, kkt, err);
}

PrillmErrorCode prillm__price_score_rows(PrillmEquilibriumSolver *solver, int s, double p, const int *start,
                                         const int *prov, double *flow, double *kkt, PrillmError *err) {
    return score_seeded(solver, s, p, NULL, start, prov, flow, kkt, err);
}

/* The active set of the walk's segment holding price p (sets: n*m flags
 * per segment, in segment order), or NULL without sets. */
static const unsigned char *segment_set(const PrillmMarket *mk, const PrillmPriceResult *r, const unsigned char *sets,
                                        double p) {
    if (!sets || r->n_segments <= 0) return NULL;
    int lo = 0, hi = r->n_segments - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (r->segments[mid].from <= p) lo = mid;
        else hi = mid - 1;
    }
    return sets + (size_t)lo * (size_t)mk->n_users * (size_t)mk->n_providers;
}

/* Without the walk's sets (a large market's pruned walks keep none: 2.5 MB
 * each at 5000 x 500), the set of the segment holding p is rebuilt from
 * the solver's last set: the curve's breakpoints between the price the
 * solver last solved at and p, replayed on it (going up, each pair takes
 * its state after the breakpoint; going down, its state before). Within
 * one walked run that is the walk's set; across a gap between runs only
 * near it. It is a start, which the solver corrects and certifies as
 * always: on a 5000 x 500 target each certificate solve from the last
 * solve's set took two rounds, the first undoing the few pairs that
 * changed since, and the first one about four. */
typedef struct {
    long *pairs;
    unsigned char *in;
} Replay;

static int replay_init(Replay *rp, const PrillmPriceResult *r) {
    rp->pairs = malloc(((size_t)r->n_breakpoints + 1) * sizeof *rp->pairs);
    rp->in = malloc((size_t)r->n_breakpoints + 1);
    if (rp->pairs && rp->in) return 0;
    free(rp->pairs);
    free(rp->in);
    rp->pairs = NULL, rp->in = NULL;
    return -1;
}

static void replay_free(Replay *rp) {
    free(rp->pairs);
    free(rp->in);
}

/* The first breakpoint at or above price p (breakpoints sorted by price). */
static long first_breakpoint_from(const PrillmPriceResult *r, double p) {
    long lo = 0, hi = r->n_breakpoints;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (r->breakpoints[mid].price < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

long prillm__price_replay(const PrillmPriceResult *r, int m, double from, double to, long *pairs, unsigned char *in) {
    long count = 0;
    if (from < to) {
        for (long k = first_breakpoint_from(r, from); k < r->n_breakpoints && r->breakpoints[k].price <= to; k++) {
            pairs[count] = (long)r->breakpoints[k].user * m + r->breakpoints[k].provider;
            in[count++] = (unsigned char)(r->breakpoints[k].enters != 0);
        }
    } else if (to < from) {
        long k = first_breakpoint_from(r, from);
        while (k < r->n_breakpoints && r->breakpoints[k].price <= from) k++;
        for (k--; k >= 0 && r->breakpoints[k].price > to; k--) {
            pairs[count] = (long)r->breakpoints[k].user * m + r->breakpoints[k].provider;
            in[count++] = (unsigned char)(r->breakpoints[k].enters == 0);
        }
    }
    return count;
}

static void seed_by_replay(PrillmEquilibriumSolver *solver, const PrillmMarket *mk, const PrillmPriceResult *r,
                           const Replay *rp, double p) {
    double from = prillm__equilibrium_price(solver, r->target);
    if (!rp->pairs || !prillm__equilibrium_last_set(solver) || !(from != p)) return;
    long count = prillm__price_replay(r, mk->n_providers, from, p, rp->pairs, rp->in);
    prillm__equilibrium_seed_pairs(solver, rp->pairs, rp->in, count);
}

/* The certificate of the exact curve: equilibrium solves at segment ends
 * spread over the range, each certified from its own flows. With the
 * walk's sets (sets not NULL) each solve starts from the set of its
 * segment: one active-set round instead of the several a jump from the
 * last solved price takes; without them, from the breakpoints replayed
 * with `replay`'s buffers (NULL buffers: from the last solve's set). The
 * answer and its certificate are the solver's as always. */
static PrillmErrorCode check_curve(const PrillmMarket *mk, PrillmEquilibriumSolver *solver, PrillmPriceResult *r,
                                   const unsigned char *sets, const Replay *replay, PrillmError *err) {
    if (r->n_segments == 0) return PRILLM_OK; /* curve_residual stays NaN: not certified */
    double total = 0, worst = fabs(r->flow - prillm_price_curve_flow(r, r->price));
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    int checks = r->n_segments < CURVE_CHECKS ? r->n_segments : CURVE_CHECKS;
    for (int q = 0; q <= checks && r->n_segments > 0; q++) {
        long k = q == checks ? r->n_segments - 1 : (long)q * r->n_segments / checks;
        double p = q == checks ? r->segments[k].to : r->segments[k].from;
        const unsigned char *seed = sets ? sets + (size_t)k * (size_t)mk->n_users * (size_t)mk->n_providers : NULL;
        double flow = NAN;
        if (!seed) seed_by_replay(solver, mk, r, replay, p); /* from the solver's price, before it moves */
        PrillmErrorCode rc = prillm__price_score_from(solver, r->target, p, seed, &flow, NULL, err);
        if (rc) return rc;
        r->equilibrium_solves++;
        double gap = fabs(flow - prillm_price_curve_flow(r, p));
        if (gap > worst) worst = gap;
    }
    r->curve_residual = total > 0 ? worst / total : worst;
    return PRILLM_OK;
}

/* The market as given, from a solver of its own started at the market's
 * prices (cold, or a copy of a shared solve of the same market): the
 * equilibrium there, the target's current flow and profit. An equilibrium
 * that does not solve leaves them NaN; only a failure of the call itself is
 * an error. The solver then serves the method and the final scoring as a
 * warm start. */
static PrillmErrorCode solve_current(const PrillmMarket *mk, const PrillmEquilibriumSolver *shared, int s, double cost,
                                     PrillmPriceResult *r, PrillmEquilibriumSolver **solver, PrillmError *err) {
    r->current_price = mk->price[s];
    PrillmErrorCode rc;
    PrillmEquilibriumSolver *own = NULL;
    /* the solve of today's market counts in every target's result, shared
     * (prillm_price_all) or not, so both report the same numbers */
    if (shared) r->equilibrium_solves++;
    if (!shared) {
        rc = prillm__equilibrium_setup_validated(&own, mk, NULL, err); /* by price_impl */
        if (!rc) rc = prillm_equilibrium_solve(own, err);
        if (rc == PRILLM_ERR_SOLVER) rc = PRILLM_OK;
        r->equilibrium_solves++;
        if (rc) {
            prillm_equilibrium_cleanup(own);
            return rc;
        }
        shared = own;
    }
    /* always a copy, also of its own solve: the method then starts from the
     * same state as under prillm_price_all, and gives bit for bit the same
     * answer. Its own solve is not needed after: the copy takes over its
     * n x m arrays instead of copying them (at 5000 x 500 the copy was 14%
     * of a da call's perf samples). */
    rc = own ? prillm__equilibrium_setup_moved(solver, own, err) : prillm__equilibrium_setup_from(solver, shared, err);
    prillm_equilibrium_cleanup(own);
    /* read only after its solves: no NaN-filling and packing at every price */
    if (!rc) prillm__equilibrium_set_keep_outputs(*solver, 1);
    if (rc) {
        prillm_equilibrium_cleanup(*solver);
        *solver = NULL;
        return rc;
    }
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(*solver);
    if (eq->info.status == PRILLM_STATUS_SOLVED || eq->info.status == PRILLM_STATUS_INACCURATE) {
        r->current_flow = eq->provider_flow[s];
        r->current_profit = (r->current_price - cost) * r->current_flow;
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm__price_default_range_check(const PrillmMarket *market, int target, double bound,
                                                  const char *give, PrillmError *err) {
    if (isnan(bound))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "provider \"%s\" has no rival, so its profit grows without bound: give %s",
                            market->provider_id[target], give);
    if (bound > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "provider \"%s\" keeps traffic at every price up to 1e+100 (weights.price = %g): there "
                            "is no default price range, give %s",
                            market->provider_id[target], market->w_price, give);
    return PRILLM_OK;
}

static double total_demand(const PrillmMarket *mk) {
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    return total;
}

/* The flags that depend on the result alone (METHOD_SELLS_NOTHING needs an
 * equilibrium solve and is set while scoring). */
static unsigned plain_warnings(const PrillmPriceResult *r, double total) {
    unsigned w = 0;
    if (r->current_price <= 0) w |= PRILLM_PRICE_WARN_FREE;
    if (isnan(r->price)) return w;
    int sells = r->flow > PRILLM_PRICE_NO_FLOW * total;
    if (!sells) w |= PRILLM_PRICE_WARN_SELLS_NOTHING;
    if (sells && r->current_price > 0) {
        if (r->price > PRILLM_PRICE_FAR_RATIO * r->current_price) w |= PRILLM_PRICE_WARN_FAR_ABOVE;
        if (r->price < r->current_price / PRILLM_PRICE_FAR_RATIO) w |= PRILLM_PRICE_WARN_FAR_BELOW;
    }
    return w;
}

const char *prillm_price_warning_name(unsigned warning) {
    switch (warning) {
    case PRILLM_PRICE_WARN_FAR_ABOVE: return "far_above";
    case PRILLM_PRICE_WARN_FAR_BELOW: return "far_below";
    case PRILLM_PRICE_WARN_SELLS_NOTHING: return "sells_nothing";
    case PRILLM_PRICE_WARN_FREE: return "free";
    case PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING: return "method_sells_nothing";
    default: return "unknown";
    }
}

const char *prillm_price_warning_text(const PrillmPriceResult *r, unsigned warning, char *buf, size_t size) {
    if (!buf || size == 0) return "";
    buf[0] = '\0';
    if (!r || !(r->warnings & warning) || (warning & (warning - 1))) return buf;
    char whose[64];
    if (r->method == PRILLM_PRICE_EXACT) snprintf(whose, sizeof whose, "the optimal price");
    else snprintf(whose, sizeof whose, "method %s's price", prillm_price_method_name(r->method));
    switch (warning) {
    case PRILLM_PRICE_WARN_FAR_ABOVE:
        /* 4.0 times, and 1.92e+300 times rather than 301 digits */
        snprintf(buf, size,
                 r->price / r->current_price < 1e6
                     ? "%s %.6g is %.1f times the current price %.6g: check the market's price sensitivity"
                     : "%s %.6g is %.3g times the current price %.6g: check the market's price sensitivity",
                 whose, r->price, r->price / r->current_price, r->current_price);
        break;
    case PRILLM_PRICE_WARN_FAR_BELOW:
        snprintf(buf, size,
                 "%s %.6g is only %.3g times the current price %.6g: check the market's price sensitivity", whose,
                 r->price, r->price / r->current_price, r->current_price);
        break;
    case PRILLM_PRICE_WARN_SELLS_NOTHING:
        if (r->warnings & PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING)
            snprintf(buf, size, "the target sells nothing at %s %.6g (flow 0)", whose, r->price);
        else
            snprintf(buf, size, "the target sells nothing at %s %.6g (flow 0): no price in [0, %.6g] earns it a profit",
                     whose, r->price, r->p_max);
        break;
    case PRILLM_PRICE_WARN_FREE:
    {
        char which[128], now[64];
        if (isnan(r->price)) snprintf(which, sizeof which, "a price");
        else snprintf(which, sizeof which, "%s %.6g", whose, r->price);
        if (r->current_price == 0) snprintf(now, sizeof now, "is 0 (a free model)");
        else snprintf(now, sizeof now, "%.6g is not positive", r->current_price);
        snprintf(buf, size,
                 "the current price %s: %s cannot be compared to it as a ratio, and the relative uplift is undefined",
                 now, which);
        break;
    }
    case PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING:
        snprintf(buf, size,
                 "%s %.6g sells nothing, yet the target can sell at a profit in [0, %.6g] (method exact finds the "
                 "best price): status %s only means the method reached its own stopping rule",
                 whose, r->price, r->p_max, prillm_status_name(r->status));
        break;
    default: break;
    }
    return buf;
}

/* What price_impl adds to the method's answer besides its scoring. */
enum {
    PRICE_REPORT = 1, /* the market as given: current price, uplift, warnings */
    PRICE_CERTIFY = 2 /* exact: the curve against equilibrium solves (curve_residual) */
};

static PrillmErrorCode price_impl(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                  const PrillmEquilibriumSolver *shared, PrillmPriceResult *result, PrillmError *err,
                                  int report);

PrillmErrorCode prillm_price(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                             PrillmPriceResult *result, PrillmError *err) {
    return price_impl(market, target, settings, NULL, result, err, PRICE_REPORT | PRICE_CERTIFY);
}

PrillmErrorCode prillm__price_from(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                   const PrillmEquilibriumSolver *shared, PrillmPriceResult *result, PrillmError *err) {
    return price_impl(market, target, settings, shared, result, err, PRICE_REPORT | PRICE_CERTIFY);
}

PrillmErrorCode prillm__price_uncertified(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                          PrillmPriceResult *result, PrillmError *err) {
    return price_impl(market, target, settings, NULL, result, err, PRICE_REPORT);
}

/* report (PRICE_REPORT, PRICE_CERTIFY): PRICE_REPORT also gives the market
 * as given (current price, uplift, warnings); off for the exact re-run
 * behind --compare, which only needs the optimum. PRICE_CERTIFY checks an
 * exact curve against equilibrium solves; off only for a price that is
 * scored again elsewhere (da's abstracted market).
 * shared: NULL, or a solver solved at the market's prices to start from
 * (prillm_price_all solves the market once for every target). */
static PrillmErrorCode price_impl(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                  const PrillmEquilibriumSolver *shared, PrillmPriceResult *result, PrillmError *err,
                                  int report) {
    double t0 = prillm__now();
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result is NULL");
    result_reset(result);
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    PrillmPriceSettings defaults;
    if (!settings) {
        prillm_price_default_settings(&defaults);
        settings = &defaults;
    }
    PrillmErrorCode rc = prillm_price_check_settings(settings, err);
    if (rc) return rc;
    /* with a shared solve (prillm_price_all) the market was validated once
     * for every target */
    if (!shared && (rc = prillm_market_validate(market, err))) return rc;
    if (target < 0 || target >= market->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "target %d is not a provider index (0..%d)", target,
                            market->n_providers - 1);
    if (!(market->w_price > 0))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "w_price is %g: pricing needs apps that prefer lower prices (w_price > 0)",
                            market->w_price);
    PrillmPriceProblem pb;
    memset(&pb, 0, sizeof pb);
    pb.market = market;
    pb.target = target;
    pb.settings = settings;
    pb.cost = isnan(market->cost[target]) ? 0.0 : market->cost[target];
    pb.p_max = settings->p_max;
    int default_range = !(pb.p_max > 0);
    if (default_range && market->n_providers < 2)
        return prillm__price_default_range_check(market, target, NAN, "pmax", err);
    if (!default_range && settings->start_price > pb.p_max)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "start-price %g is above pmax %g", settings->start_price,
                            pb.p_max);
    pb.deadline = settings->time_limit > 0 ? t0 + settings->time_limit : 0;

    /* the market as given first: its equilibrium is the warm start of the
     * method's solves and of the final scoring */
    PrillmEquilibriumSolver *solver = NULL;
    if ((rc = solve_current(market, shared, target, pb.cost, result, &solver, err))) {
        prillm_price_result_clear(result);
        return rc;
    }
    /* The price bound and da's reachable part read every user's costs at the
     * market's prices, five passes of them: the solver has them all, the
     * same numbers (at 5000 x 500 the bound took 28.8 ms from the market
     * and takes 20.1 from the costs, da's pairs 32.4 and then 7.4 ms:
     * bench_call_overheads). */
    double *reach = NULL;
    if (default_range || settings->method == PRILLM_PRICE_DA) {
        pb.costs = prillm__equilibrium_costs(solver);
        reach = malloc((size_t)market->n_providers * sizeof *reach);
        if (!reach || prillm__rival_reach(market, target, pb.costs, reach)) {
            free(reach);
            prillm_equilibrium_cleanup(solver);
            prillm_price_result_clear(result);
            return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the price bound");
        }
        pb.reach = reach;
    }
    if (default_range) pb.p_max = prillm__price_bound(market, target, pb.costs, pb.reach);
    if (default_range && pb.p_max > PRILLM_MAX_MAGNITUDE) {
        /* the default range ends where the target sells nothing; with a tiny
         * weights.price that is above any price a market may hold (the
         * bound saturates at 1e300, where the target still sold) */
        free(reach);
        prillm_equilibrium_cleanup(solver);
        prillm_price_result_clear(result);
        return prillm__price_default_range_check(market, target, pb.p_max, "pmax", err);
    }
    /* the natural start of a local search: the price the target charges now */
    pb.start_price = settings->start_price >= 0 ? settings->start_price : fmin(market->price[target], pb.p_max);
    if (isnan(pb.p_max) || pb.start_price > pb.p_max) {
        free(reach);
        prillm_equilibrium_cleanup(solver);
        prillm_price_result_clear(result);
        if (isnan(pb.p_max)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the price bound");
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "start-price %g is above pmax %g", pb.start_price,
                            pb.p_max);
    }
    long current_solves = result->equilibrium_solves;
    pb.solver = solver;
    PrillmPriceCandidate cand;
    memset(&cand, 0, sizeof cand);
    cand.price = cand.model_profit = cand.walked_fraction = NAN;
    cand.abstract_price = cand.abstract_profit = cand.check_price = cand.check_profit = cand.check_shortfall = NAN;
    cand.status = PRILLM_STATUS_FAILED;
    /* the exact method's samples only bound the profit and start the walk:
     * they need only be certified (lazy polish). The other methods' solves
     * choose their price, and da's check publishes its profits: polished,
     * as the scoring below always is */
    prillm__equilibrium_set_lazy_polish(solver, settings->method == PRILLM_PRICE_EXACT);
    rc = methods[settings->method](&pb, &cand, err);
    prillm__equilibrium_set_lazy_polish(solver, 0);
    free(reach); /* read only before the method's first solve */
    pb.costs = pb.reach = NULL;
    result->method_seconds = prillm__now() - t0;
    result->method = settings->method;
    result->target = target;
    result->p_max = pb.p_max;
    result->cost = pb.cost;
    result->iterations = cand.iterations;
    result->equilibrium_solves = current_solves + cand.equilibrium_solves;
    result->segments = cand.segments;
    result->n_segments = cand.n_segments;
    result->breakpoints = cand.breakpoints;
    result->n_breakpoints = cand.n_breakpoints;
    result->walked_fraction = cand.walked_fraction;
    result->bound_solves = cand.bound_solves;
    result->check = cand.check;
    result->abstract_price = cand.abstract_price, result->abstract_profit = cand.abstract_profit;
    result->check_price = cand.check_price, result->check_profit = cand.check_profit;
    result->check_shortfall = cand.check_shortfall, result->check_solves = cand.check_solves;
    if (rc) {
        prillm_equilibrium_cleanup(solver);
        free(cand.segment_sets);
        prillm_price_result_clear(result);
        return rc;
    }
    if (!(report & PRICE_REPORT)) result->current_price = result->current_flow = result->current_profit = NAN;
    result->status = cand.status;
    if (cand.status == PRILLM_STATUS_SOLVED || cand.status == PRILLM_STATUS_INACCURATE) {
        if (!(cand.price >= 0 && cand.price <= pb.p_max)) {
            prillm_equilibrium_cleanup(solver);
            free(cand.segment_sets);
            prillm_price_result_clear(result);
            return prillm__fail(err, PRILLM_ERR_SOLVER, "method %s proposed price %g outside [0, %g]",
                                prillm_price_method_name(settings->method), cand.price, pb.p_max);
        }
        double flow = NAN, kkt = NAN;
        const unsigned char *seed = segment_set(market, result, cand.segment_sets, cand.price);
        /* one replay buffer for the scoring and the certificate solves (none
         * without memory: it is only a start) */
        Replay replay = {NULL, NULL};
        if (!seed && settings->method == PRILLM_PRICE_EXACT && result->n_breakpoints > 0) {
            if (!replay_init(&replay, result)) seed_by_replay(solver, market, result, &replay, cand.price);
        }
        rc = prillm__price_score_published(solver, target, cand.price, seed, &flow, &kkt, err);
        if (!rc) {
            result->equilibrium_solves++;
            result->price = cand.price;
            result->profit = (cand.price - pb.cost) * flow;
            result->flow = flow;
            result->kkt_violation = kkt;
            result->model_profit = cand.model_profit;
            /* a profit from an uncertified equilibrium is not a solved one */
            PrillmEquilibriumSettings eq_defaults;
            prillm_equilibrium_default_settings(&eq_defaults);
            if (!(kkt <= eq_defaults.tolerance) && result->status == PRILLM_STATUS_SOLVED)
                result->status = PRILLM_STATUS_INACCURATE;
            if (settings->method == PRILLM_PRICE_EXACT && (report & PRICE_CERTIFY)) {
                prillm__equilibrium_set_lazy_polish(solver, 1); /* each compared, not published */
                rc = check_curve(market, solver, result, cand.segment_sets, &replay, err);
                prillm__equilibrium_set_lazy_polish(solver, 0);
                /* a curve off by more than the equilibrium's own accuracy is
                 * not a certified optimum */
                if (!rc && !(result->curve_residual <= 1e-7)) result->status = PRILLM_STATUS_INACCURATE;
            }
            /* a baseline's price that sells nothing, while the true game has
             * a price that sells at a profit: the flow at the cost (flow is
             * nonincreasing, so positive there means positive just above) */
            double low = fmax(pb.cost, 0.0), total = total_demand(market), at_low = NAN;
            if (!rc && (report & PRICE_REPORT) && settings->method != PRILLM_PRICE_EXACT && !(flow > PRILLM_PRICE_NO_FLOW * total) &&
                low < pb.p_max) {
                rc = prillm__price_score(solver, target, low, &at_low, NULL, err);
                result->equilibrium_solves++;
                if (!rc && at_low > PRILLM_PRICE_NO_FLOW * total)
                    result->warnings |= PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING;
                if (rc == PRILLM_ERR_SOLVER) rc = PRILLM_OK; /* unknown: no warning, the price stands */
            }
        }
        replay_free(&replay);
        if (rc) {
            prillm_equilibrium_cleanup(solver);
            free(cand.segment_sets);
            prillm_price_result_clear(result);
            return rc;
        }
    } else {
        free(result->segments);
        free(result->breakpoints);
        result->segments = NULL;
        result->breakpoints = NULL;
        result->n_segments = result->n_breakpoints = 0;
    }
    prillm_equilibrium_cleanup(solver);
    free(cand.segment_sets);
    if (settings->compare && settings->method != PRILLM_PRICE_EXACT &&
        (result->status == PRILLM_STATUS_SOLVED || result->status == PRILLM_STATUS_INACCURATE)) {
        PrillmPriceSettings exact = *settings;
        exact.method = PRILLM_PRICE_EXACT;
        exact.compare = 0;
        exact.p_max = pb.p_max;
        PrillmPriceResult best;
        rc = price_impl(market, target, &exact, shared, &best, err, PRICE_CERTIFY);
        if (rc) {
            prillm_price_result_clear(result);
            return rc;
        }
        result->exact_profit = best.profit;
        result->profit_ratio = best.profit > 0 ? result->profit / best.profit : NAN;
        prillm_price_result_clear(&best);
    } else if (settings->compare && settings->method == PRILLM_PRICE_EXACT) {
        result->exact_profit = result->profit;
        result->profit_ratio = result->profit > 0 ? 1.0 : NAN;
    }
    if (report & PRICE_REPORT) {
        result->uplift = result->profit - result->current_profit;
        result->uplift_relative = result->current_profit > 0 ? result->uplift / result->current_profit : NAN;
        result->warnings |= plain_warnings(result, total_demand(market));
    }
    result->seconds = prillm__now() - t0;
    return PRILLM_OK;
}
