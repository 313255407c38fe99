/*
 * The seller's side of LMaaS (docs/lmaas.md, "Seller"): Iterative Model
 * Pricing, the exhaustive grid it is compared with, and the followers'
 * response at given prices.
 *
 * A customer's robust value of model m depends on beta_m alone, so both
 * methods first tabulate every customer's RSR answer for every model and
 * grid price (n x M x G exact solves, each on U's vertices computed once per
 * customer and model). A price vector is then evaluated by letting each
 * customer pick its best model from the table, which is exactly what RSR
 * does (same candidates, same tie rule), in O(n M).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmaas_internal.h"

/* ---- options ---------------------------------------------------------- */

#define OFFSET(field) offsetof(PrillmLmaasSettings, field)
static const PrillmOptionInfo lmaas_options[] = {
    {"method", PRILLM_OPTION_CHOICE, PRILLM_LMAAS_IMP, 0, 2, "imp|exhaustive|fixed",
     "seller's pricing: Iterative Model Pricing, every grid price vector, or the file's prices", OFFSET(method)},
    {"grid-points", PRILLM_OPTION_INT, 21, 1, 100000, NULL,
     "candidate prices per model, evenly spaced on [price_min, price_max]", OFFSET(grid_points)},
    {"max-iterations", PRILLM_OPTION_INT, 100, 1, 1000000, NULL, "IMP passes over all models before giving up",
     OFFSET(max_iterations)},
    {"start", PRILLM_OPTION_CHOICE, PRILLM_LMAAS_START_HIGHEST, 0, 2, "middle|lowest|highest",
     "IMP's first price of every model on the grid (from the top, IMP lowers prices until "
     "customers come; from the bottom it can stall below cost)", OFFSET(start)},
    {"max-exhaustive", PRILLM_OPTION_DOUBLE, 1e7, 1, 1e12, NULL,
     "largest number of price vectors the exhaustive method may visit", OFFSET(max_exhaustive)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 1, NULL, "progress on stderr, one line per IMP pass", OFFSET(verbose)},
    {"on-demand", PRILLM_OPTION_CHOICE, PRILLM_LMAAS_ON_DEMAND_EXPECTED, 0, 1, "expected|ignore",
     "seller's profit: count the expected on-demand margin ((1+premium) price - serving cost) x on-demand time, "
     "or rental revenue only", OFFSET(on_demand)},
    {"on-demand-points", PRILLM_OPTION_INT, 8, 1, 64, NULL,
     "K: the seller's expectation over the uncertainty set is the mean over a K x K lattice (1 = nominal scenario)",
     OFFSET(on_demand_points)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_lmaas_options(int *count) {
    if (count) *count = (int)(sizeof lmaas_options / sizeof lmaas_options[0]);
    return lmaas_options;
}

#define LMAAS_OPTION_COUNT ((int)(sizeof lmaas_options / sizeof lmaas_options[0]))

void prillm_lmaas_default_settings(PrillmLmaasSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(lmaas_options, LMAAS_OPTION_COUNT, settings);
}

PrillmErrorCode prillm_lmaas_set_option(PrillmLmaasSettings *settings, const char *name, const char *value,
                                        PrillmError *err) {
    return prillm_options_set(lmaas_options, LMAAS_OPTION_COUNT, settings, name, value, err);
}

PrillmErrorCode prillm_lmaas_check_settings(const PrillmLmaasSettings *settings, PrillmError *err) {
    return prillm_options_check(lmaas_options, LMAAS_OPTION_COUNT, settings, err);
}

/* ---- the followers' table --------------------------------------------- */

typedef struct {
    int n, models, points;
    double *grid;   /* [points]                        */
    double *rental; /* [(i * models + m) * points + g] */
    double *profit; /* same layout: the customer's robust profit */
    double *seller; /* same layout: the seller's margin on the customer */
} Table;

static PrillmErrorCode table_build(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s, Table *t,
                                   PrillmError *err) {
    int points = s->grid_points;
    memset(t, 0, sizeof *t);
    t->n = mk->n_customers;
    t->models = mk->n_models;
    t->points = points;
    size_t cells = (size_t)t->n * (size_t)t->models;
    if (cells > ((size_t)1 << 40) / (size_t)points)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%d customers x %d models x %d grid prices is too large", t->n,
                            t->models, points);
    t->grid = malloc((size_t)points * sizeof *t->grid);
    t->rental = malloc(cells * (size_t)points * sizeof *t->rental);
    t->profit = malloc(cells * (size_t)points * sizeof *t->profit);
    t->seller = malloc(cells * (size_t)points * sizeof *t->seller);
    int expected = s->on_demand == PRILLM_LMAAS_ON_DEMAND_EXPECTED;
    PrillmLmaasOutcome *lattice = malloc((size_t)s->on_demand_points * (size_t)s->on_demand_points * sizeof *lattice);
    if (!t->grid || !t->rental || !t->profit || !t->seller || !lattice) {
        free(lattice);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the followers' table (%zu entries)",
                            cells * (size_t)points);
    }
    for (int g = 0; g < points; g++)
        t->grid[g] = points == 1 ? mk->price_min
                                 : mk->price_min + (mk->price_max - mk->price_min) * ((double)g / (double)(points - 1));
    PrillmLmaasScenario vertices[8];
    PrillmLmaasOutcome outcomes[8];
    int count = prillm_lmaas_vertices(mk->budget, vertices);
    for (int i = 0; i < t->n; i++)
        for (int m = 0; m < t->models; m++) {
            for (int k = 0; k < count; k++) outcomes[k] = prillm__lmaas_outcome(mk, i, m, vertices[k]);
            int n_lattice = expected ? prillm__lmaas_lattice_outcomes(mk, i, m, s->on_demand_points, lattice) : 0;
            size_t base = ((size_t)i * (size_t)t->models + (size_t)m) * (size_t)points;
            for (int g = 0; g < points; g++) {
                double beta = t->grid[g], tau;
                prillm__lmaas_robust_rental(outcomes, count, beta, mk->premium, mk->max_rental, &t->rental[base + g],
                                            &t->profit[base + g], NULL);
                tau = t->rental[base + g];
                double z = expected ? prillm__lmaas_expected_on_demand(lattice, n_lattice, tau, beta, mk->premium) : 0.0;
                t->seller[base + g] =
                    (beta - mk->serving_cost[m]) * tau + ((1.0 + mk->premium) * beta - mk->serving_cost[m]) * z;
            }
        }
    free(lattice);
    return PRILLM_OK;
}

static void table_free(Table *t) {
    free(t->grid);
    free(t->rental);
    free(t->profit);
    free(t->seller);
}

/* Seller's operating profit at grid indices k[models]: RSR's choice rule. */
static double table_profit(const Table *t, const int *k) {
    double total = 0.0;
    for (int i = 0; i < t->n; i++) {
        double best = 0.0, take = 0.0;
        for (int m = 0; m < t->models; m++) {
            size_t at = ((size_t)i * (size_t)t->models + (size_t)m) * (size_t)t->points + (size_t)k[m];
            if (t->profit[at] > best) {
                best = t->profit[at];
                take = t->seller[at];
            }
        }
        total += take;
    }
    return total;
}

/* ---- solve ------------------------------------------------------------ */

static PrillmLmaasResult *result_alloc(int n, int models) {
    PrillmLmaasResult *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->n_models = models;
    r->n_customers = n;
    r->prices = malloc((size_t)models * sizeof *r->prices);
    r->plans = malloc((size_t)n * sizeof *r->plans);
    r->on_demand = malloc((size_t)n * sizeof *r->on_demand);
    if (!r->prices || !r->plans || !r->on_demand) {
        prillm_lmaas_result_free(r);
        return NULL;
    }
    prillm__fill_nan(r->prices, (size_t)models);
    for (int i = 0; i < n; i++) r->plans[i] = (PrillmLmaasPlan){-1, NAN, NAN, {NAN, NAN}};
    prillm__fill_nan(r->on_demand, (size_t)n);
    r->operating_profit = r->net_profit = r->rental_profit = r->on_demand_profit = r->fixed_cost = NAN;
    r->info.status = PRILLM_STATUS_UNSOLVED;
    return r;
}

void prillm_lmaas_result_free(PrillmLmaasResult *r) {
    if (!r) return;
    free(r->prices);
    free(r->plans);
    free(r->on_demand);
    free(r->history);
    free(r);
}

static void progress_line(PrillmWarnFn progress, void *context, int pass, double profit, int changed) {
    if (!progress) return;
    char line[160];
    snprintf(line, sizeof line, "imp pass %d: operating profit %.10g, %d price%s changed", pass, profit, changed,
             changed == 1 ? "" : "s");
    progress(context, line);
}

/* Coordinate ascent (Gauss-Seidel over models) on the grid. A price moves
 * only to a strictly better one, so the profit never falls, no vector is
 * visited twice and the loop ends on a finite grid; at the end no single
 * model's price can be improved (a coordinate-wise maximum). */
static PrillmErrorCode run_imp(const Table *t, const PrillmLmaasSettings *s, PrillmWarnFn progress, void *context,
                               int *k, PrillmLmaasResult *r, PrillmError *err) {
    int models = t->models, start = s->start;
    for (int m = 0; m < models; m++)
        k[m] = start == PRILLM_LMAAS_START_LOWEST ? 0 : start == PRILLM_LMAAS_START_HIGHEST ? t->points - 1 : (t->points - 1) / 2;
    if (!(r->history = malloc(((size_t)s->max_iterations + 1) * sizeof *r->history)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the IMP history");
    double profit = table_profit(t, k);
    r->info.evaluations = 1;
    r->history[r->history_length++] = profit;
    r->info.status = PRILLM_STATUS_INACCURATE;
    for (int pass = 1; pass <= s->max_iterations; pass++) {
        int changed = 0;
        for (int m = 0; m < models; m++) {
            int keep = k[m], best_g = keep;
            double best = profit;
            for (int g = 0; g < t->points; g++) {
                if (g == keep) continue;
                k[m] = g;
                double value = table_profit(t, k);
                r->info.evaluations++;
                if (value > best) {
                    best = value;
                    best_g = g;
                }
            }
            k[m] = best_g;
            if (best_g != keep) {
                changed++;
                profit = best;
            }
        }
        r->history[r->history_length++] = profit;
        r->info.iterations = pass;
        if (s->verbose) progress_line(progress, context, pass, profit, changed);
        if (!changed) {
            r->info.status = PRILLM_STATUS_SOLVED;
            break;
        }
    }
    return PRILLM_OK;
}

/* Every vector of the grid in lexicographic order; the first best wins. */
static void run_exhaustive(const Table *t, int *k, int *best_k, PrillmLmaasResult *r) {
    int models = t->models;
    for (int m = 0; m < models; m++) k[m] = best_k[m] = 0;
    double best = -INFINITY;
    for (;;) {
        double value = table_profit(t, k);
        r->info.evaluations++;
        if (value > best) {
            best = value;
            memcpy(best_k, k, (size_t)models * sizeof *k);
        }
        int m = models - 1;
        while (m >= 0 && ++k[m] == t->points) k[m--] = 0;
        if (m < 0) break;
    }
    memcpy(k, best_k, (size_t)models * sizeof *k);
    r->info.iterations = 1;
    r->info.status = PRILLM_STATUS_SOLVED;
}

PrillmErrorCode prillm_lmaas_solve(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *settings,
                                   PrillmWarnFn progress, void *progress_context, PrillmLmaasResult **result,
                                   PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
    double t0 = prillm__now();
    PrillmLmaasSettings defaults;
    prillm_lmaas_default_settings(&defaults);
    const PrillmLmaasSettings *s = settings ? settings : &defaults;
    PrillmErrorCode rc;
    if ((rc = prillm_lmaas_check_settings(s, err))) return rc;
    if ((rc = prillm_lmaas_validate(mk, err))) return rc;
    int models = mk->n_models;
    if (s->method == PRILLM_LMAAS_FIXED)
        for (int m = 0; m < models; m++)
            if (isnan(mk->price[m]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].price is missing (method \"fixed\" needs every price)", m);
    if (s->method == PRILLM_LMAAS_EXHAUSTIVE && (double)models * log((double)s->grid_points) > log(s->max_exhaustive) + 1e-9)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE,
                            "the exhaustive grid has %d^%d price vectors, more than max-exhaustive = %g", s->grid_points,
                            models, s->max_exhaustive);
    PrillmLmaasResult *r = result_alloc(mk->n_customers, models);
    int *k = malloc((size_t)models * sizeof *k), *best_k = malloc((size_t)models * sizeof *best_k);
    Table t;
    memset(&t, 0, sizeof t);
    if (!r || !k || !best_k) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the LMaaS result");
        goto done;
    }
    if (s->method == PRILLM_LMAAS_FIXED) {
        memcpy(r->prices, mk->price, (size_t)models * sizeof *r->prices);
        r->info.status = PRILLM_STATUS_SOLVED;
    } else {
        double t_table = prillm__now();
        if ((rc = table_build(mk, s, &t, err))) goto done;
        r->info.table_seconds = prillm__now() - t_table;
        if (s->method == PRILLM_LMAAS_IMP) {
            if ((rc = run_imp(&t, s, progress, progress_context, k, r, err))) goto done;
        } else {
            run_exhaustive(&t, k, best_k, r);
        }
        for (int m = 0; m < models; m++) r->prices[m] = t.grid[k[m]];
    }
    /* the followers are solved again from scratch at the final prices: the
     * reported profit is theirs, not the table's */
    PrillmLmaasProfit profit;
    rc = prillm_lmaas_followers(mk, s, r->prices, r->plans, r->on_demand, &profit, err);
    r->operating_profit = profit.operating;
    r->net_profit = profit.net;
    r->rental_profit = profit.rental;
    r->on_demand_profit = profit.on_demand;
    r->fixed_cost = profit.fixed;
done:
    table_free(&t);
    free(k);
    free(best_k);
    if (rc) {
        prillm_lmaas_result_free(r);
        return rc;
    }
    r->info.seconds = prillm__now() - t0;
    *result = r;
    return PRILLM_OK;
}
