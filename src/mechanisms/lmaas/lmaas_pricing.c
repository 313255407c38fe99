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
    {"catalogue", PRILLM_OPTION_CHOICE, PRILLM_LMAAS_CATALOGUE_ALL, 0, 3, "all|exact|greedy|auto",
     "which models the seller offers: all, the best subset by net profit (every subset priced), a greedy local "
     "search (add, drop or swap one model), or exact up to max-catalogue-exact models and greedy beyond",
     OFFSET(catalogue)},
    {"max-catalogue-exact", PRILLM_OPTION_INT, 12, 1, 24, NULL,
     "largest number of models for the exact catalogue search (2^M - 1 catalogues priced)", OFFSET(max_catalogue_exact)},
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

/* Seller's operating profit at grid indices k[models]: RSR's choice rule
 * among the offered models. */
static double table_profit(const Table *t, const int *k, const unsigned char *offered) {
    double total = 0.0;
    for (int i = 0; i < t->n; i++) {
        double best = 0.0, take = 0.0;
        for (int m = 0; m < t->models; m++) {
            if (!offered[m]) continue;
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
    r->offered = calloc((size_t)models, sizeof *r->offered);
    if (!r->prices || !r->plans || !r->on_demand || !r->offered) {
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
    free(r->offered);
    free(r->history);
    free(r);
}

/* Pricing one catalogue: the table (IMP, exhaustive) or the followers
 * (fixed), scratch space, and the counters of the whole search. */
typedef struct {
    const PrillmLmaasMarket *mk;
    const PrillmLmaasSettings *s;
    Table t;
    int *k, *best_k;
    double *history; /* [max_iterations + 1]: the last IMP run's */
    int history_length, iterations, status;
    long evaluations, catalogues;
    PrillmLmaasPlan *plans; /* [n]: method fixed's followers */
    PrillmWarnFn progress;
    void *context;
} Pricer;

static void progress_line(const Pricer *p, int pass, double profit, int changed) {
    if (!p->progress || !p->s->verbose) return;
    char line[160];
    snprintf(line, sizeof line, "imp pass %d: operating profit %.10g, %d price%s changed", pass, profit, changed,
             changed == 1 ? "" : "s");
    p->progress(p->context, line);
}

/* Coordinate ascent (Gauss-Seidel over the offered models) on the grid. A
 * price moves only to a strictly better one, so the profit never falls, no
 * vector is visited twice and the loop ends on a finite grid; at the end no
 * single model's price can be improved (a coordinate-wise maximum). */
static double run_imp(Pricer *p, const unsigned char *offered) {
    const Table *t = &p->t;
    int models = t->models, start = p->s->start, *k = p->k;
    for (int m = 0; m < models; m++)
        k[m] = !offered[m] ? 0
               : start == PRILLM_LMAAS_START_LOWEST  ? 0
               : start == PRILLM_LMAAS_START_HIGHEST ? t->points - 1
                                                     : (t->points - 1) / 2;
    double profit = table_profit(t, k, offered);
    p->evaluations++;
    p->history_length = 0;
    p->history[p->history_length++] = profit;
    p->status = PRILLM_STATUS_INACCURATE;
    p->iterations = 0;
    for (int pass = 1; pass <= p->s->max_iterations; pass++) {
        int changed = 0;
        for (int m = 0; m < models; m++) {
            if (!offered[m]) continue;
            int keep = k[m], best_g = keep;
            double best = profit;
            for (int g = 0; g < t->points; g++) {
                if (g == keep) continue;
                k[m] = g;
                double value = table_profit(t, k, offered);
                p->evaluations++;
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
        p->history[p->history_length++] = profit;
        p->iterations = pass;
        progress_line(p, pass, profit, changed);
        if (!changed) {
            p->status = PRILLM_STATUS_SOLVED;
            break;
        }
    }
    return profit;
}

/* Every vector of the offered models' grid in lexicographic order; the
 * first best wins. */
static double run_exhaustive(Pricer *p, const unsigned char *offered) {
    const Table *t = &p->t;
    int models = t->models, *k = p->k, *best_k = p->best_k;
    for (int m = 0; m < models; m++) k[m] = best_k[m] = 0;
    double best = -INFINITY;
    for (;;) {
        double value = table_profit(t, k, offered);
        p->evaluations++;
        if (value > best) {
            best = value;
            memcpy(best_k, k, (size_t)models * sizeof *k);
        }
        int m = models - 1;
        while (m >= 0 && (!offered[m] || ++k[m] == t->points)) {
            if (offered[m]) k[m] = 0;
            m--;
        }
        if (m < 0) break;
    }
    memcpy(k, best_k, (size_t)models * sizeof *k);
    p->iterations = 1;
    p->status = PRILLM_STATUS_SOLVED;
    return best;
}

/* Price one catalogue: prices (+inf where not offered) and the seller's
 * net profit there. */
static PrillmErrorCode price_catalogue(Pricer *p, const unsigned char *offered, double *prices, double *net,
                                       PrillmError *err) {
    const PrillmLmaasMarket *mk = p->mk;
    int models = mk->n_models, any = 0;
    for (int m = 0; m < models; m++) any |= offered[m];
    p->catalogues++;
    for (int m = 0; m < models; m++) prices[m] = INFINITY;
    if (!any) { /* nothing offered, nothing trained */
        *net = 0.0;
        p->history_length = 0;
        p->iterations = 0;
        p->status = PRILLM_STATUS_SOLVED;
        return PRILLM_OK;
    }
    double operating;
    if (p->s->method == PRILLM_LMAAS_FIXED) {
        for (int m = 0; m < models; m++)
            if (offered[m]) prices[m] = mk->price[m];
        PrillmLmaasProfit profit;
        PrillmErrorCode rc = prillm_lmaas_followers(mk, p->s, prices, p->plans, NULL, &profit, err);
        if (rc) return rc;
        p->evaluations++;
        p->history_length = 0;
        p->iterations = 0;
        p->status = PRILLM_STATUS_SOLVED;
        operating = profit.operating;
    } else {
        operating = p->s->method == PRILLM_LMAAS_IMP ? run_imp(p, offered) : run_exhaustive(p, offered);
        for (int m = 0; m < models; m++)
            if (offered[m]) prices[m] = p->t.grid[p->k[m]];
    }
    *net = operating - prillm__lmaas_fixed_cost(mk, prices);
    return PRILLM_OK;
}

static void catalogue_line(const Pricer *p, const unsigned char *offered, double net) {
    if (!p->progress || !p->s->verbose || p->s->catalogue == PRILLM_LMAAS_CATALOGUE_ALL) return;
    char line[200];
    int at = snprintf(line, sizeof line, "catalogue {");
    for (int m = 0, first = 1; m < p->mk->n_models && at < (int)sizeof line - 40; m++)
        if (offered[m]) {
            at += snprintf(line + at, sizeof line - (size_t)at, first ? "%d" : ",%d", m);
            first = 0;
        }
    snprintf(line + at, sizeof line - (size_t)at, "}: net profit %.10g", net);
    p->progress(p->context, line);
}

/* The catalogue to offer, in best (n_models flags):
 *   all:    every model;
 *   exact:  every subset (the empty one is worth 0), the first best in the
 *           order of the bit mask sum_m 2^m [m offered];
 *   greedy: local search from every model: each step takes the move that
 *           raises the net profit most among adding one model, dropping
 *           one, or swapping one offered model for one not offered; it
 *           stops when no move raises it (a local optimum of that
 *           neighbourhood, at most M + M^2 / 4 catalogues priced a step). */
static PrillmErrorCode choose_catalogue(Pricer *p, unsigned char *best, PrillmError *err) {
    int models = p->mk->n_models, mode = p->s->catalogue;
    if (mode == PRILLM_LMAAS_CATALOGUE_AUTO)
        mode = models <= p->s->max_catalogue_exact ? PRILLM_LMAAS_CATALOGUE_EXACT : PRILLM_LMAAS_CATALOGUE_GREEDY;
    for (int m = 0; m < models; m++) best[m] = 1;
    if (mode == PRILLM_LMAAS_CATALOGUE_ALL) return PRILLM_OK;
    size_t size = models > 0 ? (size_t)models : 1;
    unsigned char *trial = malloc(size);
    double *prices = malloc(size * sizeof *prices);
    PrillmErrorCode rc = PRILLM_OK;
    if (!trial || !prices) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the catalogue search");
        goto done;
    }
    double best_net, net;
    if (mode == PRILLM_LMAAS_CATALOGUE_EXACT) {
        best_net = 0.0;
        for (int m = 0; m < models; m++) best[m] = 0;
        for (unsigned long mask = 1; mask < (1UL << models); mask++) {
            for (int m = 0; m < models; m++) trial[m] = (unsigned char)((mask >> m) & 1UL);
            if ((rc = price_catalogue(p, trial, prices, &net, err))) goto done;
            catalogue_line(p, trial, net);
            if (net > best_net) {
                best_net = net;
                memcpy(best, trial, (size_t)models);
            }
        }
    } else {
        if ((rc = price_catalogue(p, best, prices, &best_net, err))) goto done;
        catalogue_line(p, best, best_net);
        for (;;) {
            /* the move: flip model a (add or drop), or swap a offered for b
             * not offered (b >= 0); the best strict improvement wins, the
             * first in this order on ties */
            int move_a = -1, move_b = -1;
            double move_net = best_net;
            for (int a = 0; a < models; a++)
                for (int b = -1; b < models; b++) {
                    if (b >= 0 && !(best[a] && !best[b])) continue;
                    memcpy(trial, best, (size_t)models);
                    trial[a] = (unsigned char)!trial[a];
                    if (b >= 0) trial[b] = 1;
                    if ((rc = price_catalogue(p, trial, prices, &net, err))) goto done;
                    catalogue_line(p, trial, net);
                    if (net > move_net) {
                        move_net = net;
                        move_a = a;
                        move_b = b;
                    }
                }
            if (move_a < 0) break;
            best[move_a] = (unsigned char)!best[move_a];
            if (move_b >= 0) best[move_b] = 1;
            best_net = move_net;
        }
    }
done:
    free(trial);
    free(prices);
    return rc;
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
    if (s->catalogue == PRILLM_LMAAS_CATALOGUE_EXACT && models > s->max_catalogue_exact)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE,
                            "the exact catalogue search prices 2^%d - 1 catalogues, more than max-catalogue-exact = %d "
                            "models allows (use catalogue greedy or auto)",
                            models, s->max_catalogue_exact);
    PrillmLmaasResult *r = result_alloc(mk->n_customers, models);
    Pricer p;
    memset(&p, 0, sizeof p);
    p.mk = mk;
    p.s = s;
    p.progress = progress;
    p.context = progress_context;
    p.k = malloc((size_t)models * sizeof *p.k);
    p.best_k = malloc((size_t)models * sizeof *p.best_k);
    p.history = malloc(((size_t)s->max_iterations + 1) * sizeof *p.history);
    p.plans = malloc((size_t)mk->n_customers * sizeof *p.plans);
    unsigned char *offered = malloc((size_t)models);
    if (!r || !p.k || !p.best_k || !p.history || !p.plans || !offered) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the LMaaS result");
        goto done;
    }
    if (s->method != PRILLM_LMAAS_FIXED) {
        double t_table = prillm__now();
        if ((rc = table_build(mk, s, &p.t, err))) goto done;
        r->info.table_seconds = prillm__now() - t_table;
    }
    if ((rc = choose_catalogue(&p, offered, err))) goto done;
    /* the chosen catalogue priced once more: its prices and IMP history */
    long searched = p.catalogues;
    double net;
    if ((rc = price_catalogue(&p, offered, r->prices, &net, err))) goto done;
    r->info.catalogues = s->catalogue == PRILLM_LMAAS_CATALOGUE_ALL ? 1 : searched;
    r->info.evaluations = p.evaluations;
    r->info.iterations = p.iterations;
    r->info.status = (PrillmStatus)p.status;
    for (int m = 0; m < models; m++) r->offered[m] = offered[m];
    if (s->method == PRILLM_LMAAS_IMP) {
        if (!(r->history = malloc((size_t)(p.history_length > 0 ? p.history_length : 1) * sizeof *r->history))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the IMP history");
            goto done;
        }
        memcpy(r->history, p.history, (size_t)p.history_length * sizeof *r->history);
        r->history_length = p.history_length;
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
    table_free(&p.t);
    free(p.k);
    free(p.best_k);
    free(p.history);
    free(p.plans);
    free(offered);
    if (rc) {
        prillm_lmaas_result_free(r);
        return rc;
    }
    r->info.seconds = prillm__now() - t0;
    *result = r;
    return PRILLM_OK;
}
