/*
 * prillm_explain: the numbers of the analyst's report (explain.h). Every
 * number comes from public calls a user could make: prillm_price for the
 * prices and profits, equilibrium solves for the flows, exact re-solves for
 * the sensitivities, prillm_aggregate_market for what an abstraction kept.
 * So the report equals `prillm price` and `prillm equilibrium` on the same
 * market by construction, and the test checks it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/aggregator.h"
#include "prillm/explain.h"

#define OFFSET(field) offsetof(PrillmExplainSettings, field)
static const PrillmOptionInfo explain_options[] = {
    {"sensitivities", PRILLM_OPTION_INT, 5, 0, 1000000, NULL,
     "rival prices listed by how much the exact optimum moves with them (0: skip the re-solves)",
     OFFSET(sensitivities)},
    {"step", PRILLM_OPTION_DOUBLE, 1e-3, 1e-9, 0.1, NULL,
     "relative change h / max(|p_j|, 1e-3) of a rival's price in the sensitivity re-solves", OFFSET(step)},
    {"breakpoints", PRILLM_OPTION_INT, 6, 0, 1000000, NULL, "breakpoints of the curve described around the price",
     OFFSET(breakpoints)},
    {"far-below", PRILLM_OPTION_DOUBLE, 0.9, 0, 1, NULL,
     "with --compare: flag a method whose profit is below this share of the exact optimum", OFFSET(far_below)},
};
#undef OFFSET
#define N_OPTIONS ((int)(sizeof explain_options / sizeof explain_options[0]))

const PrillmOptionInfo *prillm_explain_options(int *count) {
    if (count) *count = N_OPTIONS;
    return explain_options;
}

void prillm_explain_default_settings(PrillmExplainSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_price_default_settings(&settings->price);
    prillm_options_defaults(explain_options, N_OPTIONS, settings);
}

PrillmErrorCode prillm_explain_set_option(PrillmExplainSettings *settings, const char *name, const char *value,
                                          PrillmError *err) {
    for (int k = 0; k < N_OPTIONS; k++)
        if (name && strcmp(name, explain_options[k].name) == 0)
            return prillm_options_set(explain_options, N_OPTIONS, settings, name, value, err);
    return prillm_price_set_option(&settings->price, name, value, err);
}

PrillmErrorCode prillm_explain_check_settings(const PrillmExplainSettings *settings, PrillmError *err) {
    if (!settings) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings is NULL");
    PrillmErrorCode rc = prillm_options_check(explain_options, N_OPTIONS, settings, err);
    return rc ? rc : prillm_price_check_settings(&settings->price, err);
}

const char *prillm_explain_role_name(int role) {
    static const char *const names[] = {"kept", "merged", "dropped", "averaged"};
    return role >= 0 && role < 4 ? names[role] : "unknown";
}

static void result_reset(PrillmExplainResult *r) {
    memset(r, 0, sizeof *r);
    r->status = r->sensitivity_status = PRILLM_STATUS_FAILED;
    r->target = -1;
    prillm_price_result_clear(&r->price);
    prillm_price_result_clear(&r->exact);
    r->total_demand = r->far_below_threshold = r->sensitivity_step = r->seconds = NAN;
}

void prillm_explain_result_clear(PrillmExplainResult *r) {
    if (!r) return;
    prillm_price_result_clear(&r->price);
    prillm_price_result_clear(&r->exact);
    free(r->flows_current);
    free(r->flows_price);
    free(r->diversion);
    free(r->apps);
    free(r->rivals);
    free(r->most_sensitive);
    free(r->breakpoints);
    result_reset(r);
}

static PrillmStatus worse(PrillmStatus a, PrillmStatus b) {
    /* solved < inaccurate < anything else */
    int ra = a == PRILLM_STATUS_SOLVED ? 0 : a == PRILLM_STATUS_INACCURATE ? 1 : 2;
    int rb = b == PRILLM_STATUS_SOLVED ? 0 : b == PRILLM_STATUS_INACCURATE ? 1 : 2;
    return ra >= rb ? a : b;
}

/* The equilibrium flows with the target's price set to p (NaN p: NaN flows). */
static PrillmErrorCode flows_at(PrillmEquilibriumSolver *solver, int target, double p, size_t nm, double *flows,
                                PrillmError *err) {
    if (!isfinite(p)) {
        prillm__fill_nan(flows, nm);
        return PRILLM_OK;
    }
    PrillmErrorCode rc = prillm_equilibrium_update_price(solver, target, p, err);
    if (!rc) rc = prillm_equilibrium_solve(solver, err);
    if (rc) return rc;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the equilibrium at price %g did not solve (status %s)", p,
                            prillm_status_name(eq->info.status));
    memcpy(flows, eq->flows, nm * sizeof *flows);
    return PRILLM_OK;
}

static PrillmErrorCode copy_price_result(const PrillmPriceResult *from, PrillmPriceResult *to, PrillmError *err) {
    *to = *from;
    to->segments = NULL;
    to->breakpoints = NULL;
    if (from->n_segments) {
        to->segments = prillm__calloc((size_t)from->n_segments, sizeof *to->segments);
        if (!to->segments) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory copying the curve");
        memcpy(to->segments, from->segments, (size_t)from->n_segments * sizeof *to->segments);
    }
    if (from->n_breakpoints) {
        to->breakpoints = prillm__calloc((size_t)from->n_breakpoints, sizeof *to->breakpoints);
        if (!to->breakpoints) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory copying the curve");
        memcpy(to->breakpoints, from->breakpoints, (size_t)from->n_breakpoints * sizeof *to->breakpoints);
    }
    return PRILLM_OK;
}

/* Per app and per rival: flows at both prices and the diversion shares. */
static void diversions(const PrillmMarket *mk, int s, PrillmExplainResult *r) {
    int n = mk->n_users, m = mk->n_providers;
    double lost_total = 0;
    for (int i = 0; i < n; i++) lost_total -= r->flows_price[(size_t)i * m + s] - r->flows_current[(size_t)i * m + s];
    for (int i = 0; i < n; i++) {
        const double *now = r->flows_current + (size_t)i * m, *then = r->flows_price + (size_t)i * m;
        PrillmExplainApp *a = &r->apps[i];
        a->user = i;
        a->flow_current = now[s];
        a->flow_price = then[s];
        a->top_rival = -1;
        a->top_diversion = NAN;
        double lost = now[s] - then[s];
        /* a change below round-off of the app's demand is no change */
        int moved = isfinite(lost) && fabs(lost) > 1e-12 * (mk->demand[i] > 0 ? mk->demand[i] : 1);
        for (int j = 0; j < m; j++) {
            double d = j != s && moved ? (then[j] - now[j]) / lost : NAN;
            r->diversion[(size_t)i * m + j] = d;
            if (j != s && moved && (a->top_rival < 0 || d > a->top_diversion)) a->top_rival = j, a->top_diversion = d;
        }
    }
    int moved = isfinite(lost_total) && fabs(lost_total) > 1e-12 * (r->total_demand > 0 ? r->total_demand : 1);
    for (int k = 0; k < r->n_rivals; k++) {
        PrillmExplainRival *v = &r->rivals[k];
        int j = v->provider;
        v->flow_current = v->flow_price = 0;
        for (int i = 0; i < n; i++) {
            v->flow_current += r->flows_current[(size_t)i * m + j];
            v->flow_price += r->flows_price[(size_t)i * m + j];
        }
        v->diversion = moved ? (v->flow_price - v->flow_current) / lost_total : NAN;
    }
}

/* What the abstraction did with each rival: a rival whose id is in the
 * abstracted market was kept (the synthetic rivals get fresh ids that no
 * real rival has). */
static PrillmErrorCode roles(const PrillmMarket *mk, int s, const PrillmPriceSettings *set, PrillmExplainResult *r,
                             PrillmError *err) {
    int method = set->method;
    if (method != PRILLM_PRICE_DA && method != PRILLM_PRICE_MIN && method != PRILLM_PRICE_AVG) return PRILLM_OK;
    if (set->k >= mk->n_providers - 1) return PRILLM_OK; /* nothing abstracted: every rival kept */
    PrillmAggregateMethod how = method == PRILLM_PRICE_DA    ? PRILLM_AGGREGATE_DA
                                : method == PRILLM_PRICE_MIN ? PRILLM_AGGREGATE_MIN
                                                             : PRILLM_AGGREGATE_AVG;
    PrillmMarket *small = NULL;
    int t = -1;
    PrillmErrorCode rc = prillm_aggregate_market(mk, s, set->k, how, set->model, &small, &t, err);
    if (rc) return rc;
    int gone = how == PRILLM_AGGREGATE_DA    ? PRILLM_EXPLAIN_MERGED
               : how == PRILLM_AGGREGATE_MIN ? PRILLM_EXPLAIN_DROPPED
                                             : PRILLM_EXPLAIN_AVERAGED;
    for (int k = 0; k < r->n_rivals; k++)
        r->rivals[k].role =
            prillm_market_provider_index(small, mk->provider_id[r->rivals[k].provider]) >= 0 ? PRILLM_EXPLAIN_KEPT : gone;
    prillm_market_free(small);
    r->abstracted = 1;
    return PRILLM_OK;
}

/* d p* / d p_j by exact re-solves at p_j +- h over the same price range: the
 * curve is piecewise affine in every price, so inside a piece the central
 * difference is exact; the one-sided ones differ when the optimum jumps. */
static PrillmErrorCode sensitivities(const PrillmMarket *mk, int s, const PrillmExplainSettings *set,
                                     PrillmExplainResult *r, PrillmError *err) {
    for (int k = 0; k < r->n_rivals; k++) {
        PrillmExplainRival *v = &r->rivals[k];
        v->sensitivity = v->sensitivity_up = v->sensitivity_down = v->step = NAN;
    }
    r->sensitivity_status = PRILLM_STATUS_SOLVED;
    r->sensitivity_step = set->step;
    if (set->sensitivities <= 0 || r->n_rivals == 0 || !isfinite(r->exact.price)) return PRILLM_OK;
    PrillmMarket *copy = prillm_market_copy(mk, err);
    if (!copy) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    PrillmPriceSettings exact = set->price;
    exact.method = PRILLM_PRICE_EXACT;
    exact.compare = 0;
    exact.model = NULL;
    exact.verbose = 0;
    exact.p_max = r->exact.p_max;
    PrillmErrorCode rc = PRILLM_OK;
    for (int k = 0; k < r->n_rivals && !rc; k++) {
        PrillmExplainRival *v = &r->rivals[k];
        int j = v->provider;
        double base = mk->price[j], h = set->step * fmax(fabs(base), 1e-3), at[2];
        for (int side = 0; side < 2 && !rc; side++) {
            copy->price[j] = base + (side ? -h : h);
            PrillmPriceResult pr;
            rc = prillm_price(copy, s, &exact, &pr, err);
            if (rc) break;
            at[side] = pr.price;
            r->sensitivity_status = worse(r->sensitivity_status, pr.status);
            prillm_price_result_clear(&pr);
        }
        copy->price[j] = base;
        if (rc) break;
        v->step = h;
        v->sensitivity_up = (at[0] - r->exact.price) / h;
        v->sensitivity_down = (r->exact.price - at[1]) / h;
        v->sensitivity = (at[0] - at[1]) / (2 * h);
    }
    prillm_market_free(copy);
    if (rc) return rc;
    int n = r->n_rivals < set->sensitivities ? r->n_rivals : set->sensitivities;
    if (!(r->most_sensitive = prillm__calloc((size_t)r->n_rivals, sizeof(int))))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory ranking the sensitivities");
    for (int k = 0; k < r->n_rivals; k++) r->most_sensitive[k] = k;
    /* insertion sort by |sensitivity| descending, market order on ties (stable) */
    for (int a = 1; a < r->n_rivals; a++) {
        int key = r->most_sensitive[a], b = a - 1;
        double kv = fabs(r->rivals[key].sensitivity);
        while (b >= 0 && fabs(r->rivals[r->most_sensitive[b]].sensitivity) < kv) {
            r->most_sensitive[b + 1] = r->most_sensitive[b];
            b--;
        }
        r->most_sensitive[b + 1] = key;
    }
    r->n_sensitive = n;
    return PRILLM_OK;
}

/* The midpoint of the piece of the exact curve just left (side 0) or right
 * (side 1) of price p; p itself nudged when there is no such piece. */
static double piece_midpoint(const PrillmPriceResult *ex, double p, int side) {
    double tol = 1e-12 * fmax(1, fabs(p));
    if (side == 0) {
        for (int k = ex->n_segments - 1; k >= 0; k--)
            if (ex->segments[k].to <= p + tol && ex->segments[k].to > ex->segments[k].from)
                return 0.5 * (ex->segments[k].from + ex->segments[k].to);
        return fmax(0, p - 1e-6 * fmax(1, fabs(p)));
    }
    for (int k = 0; k < ex->n_segments; k++)
        if (ex->segments[k].from >= p - tol && ex->segments[k].to > ex->segments[k].from)
            return 0.5 * (ex->segments[k].from + ex->segments[k].to);
    return p + 1e-6 * fmax(1, fabs(p));
}

/* A breakpoint's rank in the list: the target's events first, then the
 * nearer to the price, then the lower index (a total order, so the choice
 * is deterministic). */
typedef struct {
    int other;       /* 0: the target's event, 1: a rival's */
    double distance; /* |price - centre| */
    int index;       /* in the curve's breakpoints (sorted by price) */
} Rank;

static int rank_compare(const void *x, const void *y) {
    const Rank *a = x, *b = y;
    if (a->other != b->other) return a->other - b->other;
    if (a->distance != b->distance) return a->distance < b->distance ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int index_compare(const void *x, const void *y) {
    const Rank *a = x, *b = y;
    return (a->index > b->index) - (a->index < b->index);
}

/* The breakpoints nearest the recommended price (the exact optimum when the
 * method gave none), and for each the provider the app's traffic moves to. */
static PrillmErrorCode near_breakpoints(const PrillmMarket *mk, int s, const PrillmExplainSettings *set,
                                        PrillmEquilibriumSolver *solver, PrillmExplainResult *r, PrillmError *err) {
    const PrillmPriceResult *ex = &r->exact;
    int total = ex->n_breakpoints, want = set->breakpoints < total ? set->breakpoints : total;
    if (want <= 0) return PRILLM_OK;
    double centre = isfinite(r->price.price) ? r->price.price : ex->price;
    /* the target's own events first (an app starting or stopping to use
     * it: what the analyst asks about), nearest first; the other events
     * only fill the list when the target has fewer than `want` */
    Rank *pick = prillm__calloc((size_t)total, sizeof *pick);
    if (!pick) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory describing the breakpoints");
    for (int k = 0; k < total; k++)
        pick[k] = (Rank){ex->breakpoints[k].provider != s, fabs(ex->breakpoints[k].price - centre), k};
    qsort(pick, (size_t)total, sizeof *pick, rank_compare);
    qsort(pick, (size_t)want, sizeof *pick, index_compare); /* the chosen ones in price order */
    size_t m = (size_t)mk->n_providers, nm = (size_t)mk->n_users * m;
    r->breakpoints = prillm__calloc((size_t)want, sizeof *r->breakpoints);
    double *before = prillm__calloc(2 * nm, sizeof(double));
    if (!r->breakpoints || !before) {
        free(before);
        free(pick);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory describing the breakpoints");
    }
    double *after = before + nm;
    PrillmErrorCode rc = PRILLM_OK;
    for (int k = 0; k < want && !rc; k++) {
        const PrillmPriceBreakpoint *b = &ex->breakpoints[pick[k].index];
        PrillmExplainBreakpoint *e = &r->breakpoints[k];
        *e = (PrillmExplainBreakpoint){b->price, b->user, b->provider, b->enters, -1, 0};
        rc = flows_at(solver, s, piece_midpoint(ex, b->price, 0), nm, before, err);
        if (!rc) rc = flows_at(solver, s, piece_midpoint(ex, b->price, 1), nm, after, err);
        if (rc) break;
        size_t row = (size_t)b->user * m;
        for (size_t j = 0; j < m; j++) {
            double rise = after[row + j] - before[row + j];
            /* a provider the app leaves loses its flow; one it enters may be
             * where the traffic goes */
            if ((int)j == s || ((int)j == b->provider && !b->enters) || !(rise > 0)) continue;
            if (e->moves_to < 0 || rise > e->moved) e->moves_to = (int)j, e->moved = rise;
        }
    }
    free(before);
    free(pick);
    if (!rc) r->n_breakpoints = want;
    return rc;
}

/* Up to this many app x model pairs the report's curve is walked whole
 * (unless the settings say otherwise): prillm_price prunes the range by
 * default above 50 pairs, which keeps the optimum but leaves the curve
 * out where it is certified below it, and a report draws the curve. Above
 * it the curve is pruned but joins today's price to the optimum. */
#define WHOLE_CURVE_PAIRS 100000.0

static PrillmErrorCode explain(const PrillmMarket *mk, int s, const PrillmExplainSettings *set,
                               PrillmExplainResult *r, PrillmError *err) {
    double start = prillm__now();
    PrillmPriceSettings curve = set->price;
    if (curve.prune < 0 && (double)mk->n_users * (double)mk->n_providers <= WHOLE_CURVE_PAIRS) curve.prune = 0;
    /* pruned: still the whole stretch from today's price to the optimum */
    curve.join_current = 1;
    int exact_asked = set->price.method == PRILLM_PRICE_EXACT;
    PrillmErrorCode rc = prillm_price(mk, s, exact_asked ? &curve : &set->price, &r->price, err);
    if (rc) return rc;
    r->status = r->price.status;
    if (exact_asked) {
        rc = copy_price_result(&r->price, &r->exact, err);
    } else {
        PrillmPriceSettings exact = curve;
        exact.method = PRILLM_PRICE_EXACT;
        exact.compare = 0;
        exact.model = NULL;
        rc = prillm_price(mk, s, &exact, &r->exact, err);
        if (!rc) r->status = worse(r->status, r->exact.status);
    }
    if (rc) return rc;
    int n = mk->n_users, m = mk->n_providers;
    size_t nm = (size_t)n * m;
    r->n_users = n;
    r->n_providers = m;
    r->n_rivals = m - 1;
    r->total_demand = 0;
    for (int i = 0; i < n; i++) r->total_demand += mk->demand[i];
    r->flows_current = prillm__calloc(nm ? nm : 1, sizeof(double));
    r->flows_price = prillm__calloc(nm ? nm : 1, sizeof(double));
    r->diversion = prillm__calloc(nm ? nm : 1, sizeof(double));
    r->apps = prillm__calloc(n ? (size_t)n : 1, sizeof *r->apps);
    r->rivals = prillm__calloc(m > 1 ? (size_t)m - 1 : 1, sizeof *r->rivals);
    if (!r->flows_current || !r->flows_price || !r->diversion || !r->apps || !r->rivals)
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the report");
    for (int j = 0, k = 0; j < m; j++)
        if (j != s) r->rivals[k++].provider = j;
    PrillmEquilibriumSolver *solver = NULL;
    rc = prillm_equilibrium_setup(&solver, mk, NULL, err);
    /* today's market first: a fresh solve of the unchanged market, as
     * prillm_price scores the current price */
    if (!rc) rc = flows_at(solver, s, mk->price[s], nm, r->flows_current, err);
    if (!rc) rc = flows_at(solver, s, r->price.price, nm, r->flows_price, err);
    if (!rc) diversions(mk, s, r);
    if (!rc) rc = near_breakpoints(mk, s, set, solver, r, err);
    prillm_equilibrium_cleanup(solver);
    if (!rc) rc = roles(mk, s, &set->price, r, err);
    if (!rc) rc = sensitivities(mk, s, set, r, err);
    if (rc) return rc;
    r->far_below_threshold = set->far_below;
    r->far_below = set->price.compare && isfinite(r->price.profit_ratio) && r->price.profit_ratio < set->far_below;
    r->seconds = prillm__now() - start;
    return PRILLM_OK;
}

PrillmErrorCode prillm_explain(const PrillmMarket *market, int target, const PrillmExplainSettings *settings,
                               PrillmExplainResult *result, PrillmError *err) {
    prillm__clear_error(err);
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result is NULL");
    memset(result, 0, sizeof *result);
    result_reset(result);
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    PrillmExplainSettings defaults;
    if (!settings) {
        prillm_explain_default_settings(&defaults);
        settings = &defaults;
    }
    PrillmErrorCode rc = prillm_explain_check_settings(settings, err);
    if (!rc) rc = prillm_market_validate(market, err);
    if (!rc && (target < 0 || target >= market->n_providers))
        rc = prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "target must be a provider index in [0, %d), got %d",
                          market->n_providers, target);
    if (rc) return rc;
    result->target = target;
    rc = explain(market, target, settings, result, err);
    if (rc) {
        PrillmError keep;
        if (err) keep = *err;
        prillm_explain_result_clear(result);
        if (err) *err = keep;
    }
    return rc;
}

const char *prillm_explain_breakpoint_text(const PrillmMarket *mk, const PrillmExplainResult *r, int k, char *buf,
                                           size_t size) {
    if (!buf || size == 0) return buf;
    buf[0] = '\0';
    if (!mk || !r || k < 0 || k >= r->n_breakpoints) return buf;
    const PrillmExplainBreakpoint *b = &r->breakpoints[k];
    const char *app = mk->user_id[b->user], *who = mk->provider_id[b->provider];
    const char *to = b->moves_to >= 0 ? mk->provider_id[b->moves_to] : NULL;
    const char *role = b->provider == r->target ? "the target " : "";
    /* an app starting to use a provider is the whole story; moves_to (in
     * the result and the JSON) says where its traffic grows most */
    if (b->enters)
        snprintf(buf, size, "above %.4g USD/Mtok, %s starts using %s%s", b->price, app, role, who);
    else
        snprintf(buf, size, "above %.4g USD/Mtok, %s stops using %s%s%s%s", b->price, app, role, who,
                 to ? " and moves to " : "", to ? to : "");
    return buf;
}
