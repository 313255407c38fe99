/*
 * prillm_compete: iterated exact best responses among leaders (see
 * prillm/compete.h and docs/competition.md).
 *
 * Every best response is the exact walk of pricing_pieces.c over the
 * leader's price range, with the owner's other models' margins added to the
 * objective; every number reported is the true game's (an equilibrium
 * solve at the prices in question), never the walk's own model.
 */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "compete_internal.h"
#include "pricing_internal.h"

typedef struct {
    PrillmMarket *mk;                  /* working copy: the prices move        */
    const PrillmCompeteSettings *set;
    PrillmPriceSettings walk;          /* the exact walk's defaults            */
    PrillmEquilibriumSolver *eq;
    int m, L, G;
    const int *leader;                 /* [L] provider indices                 */
    int *group;                        /* [L] group of each leader             */
    int *owner_of;                     /* [m] group whose value counts the
                                          provider's profit, -1 = none         */
    char **group_name;                 /* [G] borrowed from the market         */
    double unit;                       /* a profit too small to matter         */
    double deadline;
    long solves;                       /* equilibrium solves: eq's and the walks' */
    long walks;                        /* best-response walks, counted in task order */
    int inexact;
    /* the prices eq last solved at (eq_solved: and solved there): a best
     * response at exactly those prices starts from a copy of that solve
     * instead of a cold one (32 ms, 15 rounds, on the calibrated whole
     * market, against about 120 ms a pruned best response there) */
    double *eq_prices;                 /* [m]                                  */
    int eq_solved;
} Game;

/* What one best response works in: a market at the working prices (the
 * game's own for the first worker; a copy sharing its delays and tastes for
 * the others, whose prices are set from it before each parallel step) and
 * scratch, with the counts of the walks of its current task (moved to the
 * game in task order, so the counts too are those of a run on one thread).
 * A worker is used by one thread at a time, so best responses that do not
 * depend on each other (a Jacobi round's, the certificate's deviations) run
 * side by side and give the numbers they give one after another. */
typedef struct {
    PrillmMarket *mk;
    int own_market;                    /* mk is a copy to free                 */
    double *margins;                   /* [m] the owner's other models' margins */
    long walks, solves;
    int inexact;
} Worker;

static double cost_of(const PrillmMarket *mk, int j) { return isnan(mk->cost[j]) ? 0.0 : mk->cost[j]; }

static double rel(double change, double size) { return fabs(change) / fmax(1.0, fabs(size)); }

/* The exact equilibrium at the working prices: the providers' flows. */
static PrillmErrorCode solve(Game *g, const double **flows, PrillmError *err) {
    PrillmErrorCode rc = PRILLM_OK;
    g->eq_solved = 0;
    for (int l = 0; l < g->L && !rc; l++)
        rc = prillm_equilibrium_update_price(g->eq, g->leader[l], g->mk->price[g->leader[l]], err);
    if (!rc) rc = prillm_equilibrium_solve(g->eq, err);
    if (rc) return rc;
    g->solves++;
    const PrillmEquilibrium *sol = prillm_equilibrium_solution(g->eq);
    if (sol->info.status != PRILLM_STATUS_SOLVED && sol->info.status != PRILLM_STATUS_INACCURATE)
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the equilibrium at the leaders' prices did not solve (status %s)",
                            prillm_status_name(sol->info.status));
    memcpy(g->eq_prices, g->mk->price, (size_t)g->m * sizeof(double));
    g->eq_solved = 1;
    *flows = sol->provider_flow;
    return PRILLM_OK;
}

/* Each group's value: the profits of every model it owns. */
static void group_values(const Game *g, const double *flows, double *value) {
    for (int q = 0; q < g->G; q++) value[q] = 0;
    for (int k = 0; k < g->m; k++)
        if (g->owner_of[k] >= 0) value[g->owner_of[k]] += (g->mk->price[k] - cost_of(g->mk, k)) * flows[k];
}

static PrillmErrorCode group_value_now(Game *g, int q, double *value, PrillmError *err) {
    const double *flows = NULL;
    PrillmErrorCode rc = solve(g, &flows, err);
    if (rc) return rc;
    *value = 0;
    for (int k = 0; k < g->m; k++)
        if (g->owner_of[k] == q) *value += (g->mk->price[k] - cost_of(g->mk, k)) * flows[k];
    return PRILLM_OK;
}

/* The range leader j searches at the working prices: its floor (0 if none)
 * to its cap or the default pmax, whichever is lower (above the default
 * pmax it sells nothing, as at the pmax itself). */
static PrillmErrorCode price_range(const PrillmMarket *mk, int j, double *lo, double *hi, PrillmError *err) {
    double floor = prillm__market_price_min(mk, j), cap = prillm__market_price_max(mk, j);
    double dflt = prillm_price_default_pmax(mk, j);
    *lo = isnan(floor) ? 0.0 : floor;
    *hi = isnan(cap) ? dflt : isnan(dflt) ? cap : fmin(cap, dflt);
    PrillmErrorCode rc = prillm__price_default_range_check(mk, j, *hi, "its price_max", err);
    if (rc) return rc;
    if (*hi < *lo) *hi = *lo;
    return PRILLM_OK;
}

/* The best price of leader j for its group's value, the others' prices as
 * they are in the worker's market (the exact walk). */
static PrillmErrorCode best_price(const Game *g, Worker *w, int j, double deadline, double *price, PrillmError *err) {
    const PrillmMarket *mk = w->mk;
    int q = g->owner_of[j], any = 0;
    for (int k = 0; k < g->m; k++) {
        w->margins[k] = k != j && g->owner_of[k] == q ? mk->price[k] - cost_of(mk, k) : 0.0;
        any |= w->margins[k] != 0;
    }
    double lo, hi;
    PrillmErrorCode rc = price_range(mk, j, &lo, &hi, err);
    if (rc) return rc;
    /* the game's solve, if it is at exactly these prices (only read here,
     * also by tasks running side by side) */
    const PrillmEquilibriumSolver *solved =
        g->eq_solved && memcmp(mk->price, g->eq_prices, (size_t)g->m * sizeof(double)) == 0 ? g->eq : NULL;
    PrillmPriceRange out;
    rc = prillm__price_exact_range(mk, j, lo, hi, any ? w->margins : NULL, &g->walk, deadline, solved, &out, err);
    if (rc) return rc;
    w->walks++;
    w->solves += out.equilibrium_solves;
    if (out.status == PRILLM_STATUS_FAILED)
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the exact walk for provider \"%s\" lost its way (status failed)",
                            mk->provider_id[j]);
    if (out.status != PRILLM_STATUS_SOLVED) w->inexact = 1;
    *price = out.price;
    return PRILLM_OK;
}

/* Group q's answer to the worker's prices, into br (indexed by leader):
 * one walk for a single model, coordinate ascent over an owner's leading
 * models otherwise. The prices are left as they were. Groups own disjoint
 * leaders, so answers running side by side write disjoint entries of br
 * and saved. */
static PrillmErrorCode best_response(const Game *g, Worker *w, int q, double *br, double *saved, PrillmError *err) {
    double *price = w->mk->price;
    int members = 0;
    for (int l = 0; l < g->L; l++)
        if (g->group[l] == q) {
            saved[l] = price[g->leader[l]];
            members++;
        }
    int sweeps = members > 1 ? g->set->owner_sweeps : 1;
    PrillmErrorCode rc = PRILLM_OK;
    for (int sweep = 0; sweep < sweeps && !rc; sweep++) {
        double moved = 0;
        for (int l = 0; l < g->L && !rc; l++) {
            if (g->group[l] != q) continue;
            int j = g->leader[l];
            double p = NAN;
            rc = best_price(g, w, j, g->deadline, &p, err);
            if (rc) break;
            moved = fmax(moved, rel(p - price[j], price[j]));
            price[j] = p;
        }
        if (moved <= g->set->tolerance) break;
    }
    for (int l = 0; l < g->L; l++)
        if (g->group[l] == q) {
            br[l] = price[g->leader[l]];
            price[g->leader[l]] = saved[l];
        }
    return rc;
}

static int timed_out(const Game *g) { return g->deadline > 0 && prillm__now() > g->deadline; }

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Threads for `tasks` independent best responses: settings.threads (0 =
 * OpenMP's default), at most one per task; 1 without OpenMP. */
static int thread_count(const PrillmCompeteSettings *set, int tasks) {
#ifdef _OPENMP
    int t = set->threads > 0 ? set->threads : omp_get_max_threads();
#else
    int t = 1;
    (void)set;
#endif
    return t < 1 ? 1 : t > tasks ? (tasks < 1 ? 1 : tasks) : t;
}

/* Up to `count` workers (see Worker); returns how many were set up (the
 * later copies are left out when memory runs short), 0 if not even the
 * first. */
static int workers_setup(Game *g, Worker *w, int count) {
    memset(w, 0, (size_t)count * sizeof *w);
    int made = 0;
    for (int t = 0; t < count; t++) {
        PrillmError ignored;
        w[t].mk = t == 0 ? g->mk : prillm__market_copy_sharing_pairs(g->mk, &ignored);
        w[t].own_market = t > 0;
        w[t].margins = prillm__calloc((size_t)g->m, sizeof(double));
        if (!w[t].mk || !w[t].margins) {
            if (w[t].own_market) prillm__market_free_sharing_pairs(w[t].mk);
            free(w[t].margins);
            memset(&w[t], 0, sizeof w[t]);
            break;
        }
        made++;
    }
    return made;
}

/* A task's counts: taken from its worker when it ends, added to the game's
 * in task order. */
typedef struct {
    long walks, solves;
    int inexact;
} Counts;

static Counts counts_take(Worker *w) {
    Counts c = {w->walks, w->solves, w->inexact};
    w->walks = w->solves = 0;
    w->inexact = 0;
    return c;
}

static void counts_add(Game *g, Counts c) {
    g->walks += c.walks;
    g->solves += c.solves;
    g->inexact |= c.inexact;
}

static void workers_free(Worker *w, int count) {
    for (int t = 0; t < count; t++) {
        if (w[t].own_market) prillm__market_free_sharing_pairs(w[t].mk);
        free(w[t].margins);
    }
}

/* The copies' prices := the game's working prices. */
static void workers_sync(const Game *g, Worker *w, int count) {
    for (int t = 1; t < count; t++) memcpy(w[t].mk->price, g->mk->price, (size_t)g->m * sizeof(double));
}

/* Per-task outcomes of a parallel step, read in task order afterwards up
 * to the first failure: the error, the numbers and the counts a sequential
 * run would have. A task numbered above a failed one is skipped (or its
 * outcome ignored, if it had started); one below never is, however the
 * threads are scheduled. */
typedef struct {
    PrillmErrorCode *rc; /* [tasks]                                  */
    PrillmError *err;    /* [tasks]                                  */
    char *done;          /* [tasks] ran to its end                   */
    Counts *counts;      /* [tasks] its walks and solves             */
    atomic_int first_failed; /* lowest failed task so far (INT_MAX: none);
                                C11 atomics, not a named OpenMP critical,
                                whose lock would be an exported symbol */
} StepOutcomes;

static void step_start(StepOutcomes *o, int tasks) {
    atomic_store(&o->first_failed, INT_MAX);
    memset(o->done, 0, (size_t)tasks);
}

/* Whether task k still has to run: no task below it failed. */
static int step_wanted(StepOutcomes *o, int k) { return k < atomic_load(&o->first_failed); }

static void step_record(StepOutcomes *o, Worker *w, int k, PrillmErrorCode rc) {
    o->rc[k] = rc;
    o->counts[k] = counts_take(w);
    o->done[k] = 1;
    if (!rc) return;
    /* the lowest failure, while other tasks read it (step_wanted) */
    int first = atomic_load(&o->first_failed);
    while (k < first && !atomic_compare_exchange_weak(&o->first_failed, &first, k)) {
    }
}

/* Every group answers the same working prices, on nw workers at once.
 * *stopped: the time limit passed during the round (a Jacobi round is then
 * dropped whole, as the sequential one was). */
static PrillmErrorCode jacobi_answers(Game *g, Worker *w, int nw, double *br, double *saved, StepOutcomes *o,
                                      int round, int *stopped, PrillmError *err) {
    int G = g->G;
    workers_sync(g, w, nw);
    step_start(o, G);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nw) if (nw > 1)
#endif
    for (int q = 0; q < G; q++) {
        if (!step_wanted(o, q) || timed_out(g)) continue;
        Worker *me = &w[thread_id()];
        step_record(o, me, q, best_response(g, me, q, br, saved, &o->err[q]));
    }
    for (int q = 0; q < G; q++) {
        if (!o->done[q]) break; /* past the time limit: a sequential run stops here, and the round is dropped */
        counts_add(g, o->counts[q]);
        if (o->rc[q]) {
            if (err) *err = o->err[q];
            return o->rc[q];
        }
        if (g->set->verbose >= 2) fprintf(stderr, "prillm: round %d: %s answered\n", round, g->group_name[q]);
    }
    *stopped = timed_out(g);
    return PRILLM_OK;
}

/* Groups: one per owner among the leaders, one per leader without owner. */
static PrillmErrorCode make_groups(Game *g, PrillmError *err) {
    const PrillmMarket *mk = g->mk;
    g->G = 0;
    for (int l = 0; l < g->L; l++) {
        int j = g->leader[l];
        const char *owner = prillm__market_owner(mk, j);
        g->group[l] = -1;
        for (int e = 0; e < l && owner; e++) {
            const char *other = prillm__market_owner(mk, g->leader[e]);
            if (other && strcmp(other, owner) == 0) {
                g->group[l] = g->group[e];
                break;
            }
        }
        if (g->group[l] < 0) {
            g->group_name[g->G] = owner ? (char *)owner : mk->provider_id[j];
            g->group[l] = g->G++;
        }
    }
    for (int k = 0; k < g->m; k++) {
        g->owner_of[k] = -1;
        const char *owner = prillm__market_owner(mk, k);
        for (int l = 0; l < g->L; l++) {
            int j = g->leader[l];
            const char *lo = prillm__market_owner(mk, j);
            if (j == k || (owner && lo && strcmp(owner, lo) == 0)) {
                g->owner_of[k] = g->group[l];
                break;
            }
        }
    }
    (void)err;
    return PRILLM_OK;
}

static PrillmErrorCode check_leaders(const PrillmMarket *mk, const int *leaders, int L, PrillmError *err) {
    if (L < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "leaders: need at least one leader, got %d", L);
    for (int l = 0; l < L; l++) {
        if (leaders[l] < 0 || leaders[l] >= mk->n_providers)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "leaders[%d] = %d is not a provider index (0..%d)", l,
                                leaders[l], mk->n_providers - 1);
        for (int e = 0; e < l; e++)
            if (leaders[e] == leaders[l])
                return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "leaders[%d]: provider \"%s\" is listed twice",
                                    l, mk->provider_id[leaders[l]]);
    }
    return PRILLM_OK;
}

static void result_reset(PrillmCompeteResult *r) {
    memset(r, 0, sizeof *r);
    r->status = PRILLM_COMPETE_FAILED;
    r->residual = r->profit_change = r->max_gain_relative = NAN;
}

void prillm_compete_result_clear(PrillmCompeteResult *r) {
    if (!r) return;
    free(r->price);
    free(r->profit);
    free(r->flow);
    free(r->leader);
    free(r->group);
    free(r->price_min);
    free(r->price_max);
    free(r->deviation_price);
    free(r->gain);
    free(r->gain_relative);
    if (r->group_name)
        for (int q = 0; q < r->n_groups; q++) free(r->group_name[q]);
    free(r->group_name);
    free(r->group_value);
    free(r->pair_gain_relative);
    free(r->cycle);
    result_reset(r);
}

static int result_alloc(PrillmCompeteResult *r, int m, int L) {
    size_t M = (size_t)m, N = (size_t)L;
    r->n_providers = m;
    r->n_leaders = L;
    r->price = prillm__calloc(M, sizeof(double));
    r->profit = prillm__calloc(M, sizeof(double));
    r->flow = prillm__calloc(M, sizeof(double));
    r->leader = prillm__calloc(N, sizeof(int));
    r->group = prillm__calloc(N, sizeof(int));
    r->price_min = prillm__calloc(N, sizeof(double));
    r->price_max = prillm__calloc(N, sizeof(double));
    r->deviation_price = prillm__calloc(N, sizeof(double));
    r->gain = prillm__calloc(N, sizeof(double));
    r->gain_relative = prillm__calloc(N, sizeof(double));
    r->group_name = prillm__calloc(N, sizeof(char *));
    r->group_value = prillm__calloc(N, sizeof(double));
    r->pair_gain_relative = prillm__calloc(N, sizeof(double));
    return r->price && r->profit && r->flow && r->leader && r->group && r->price_min && r->price_max &&
                   r->deviation_price && r->gain && r->gain_relative && r->group_name && r->group_value &&
                   r->pair_gain_relative
               ? 0
               : -1;
}

/* The certificate at the working prices (the final ones): each leader's
 * best unilateral deviation for its group, and the pair grid for owners. */
static PrillmErrorCode certify(Game *g, Worker *w, int nw, StepOutcomes *o, const double *value,
                               PrillmCompeteResult *r, PrillmError *err) {
    const PrillmCompeteSettings *set = g->set;
    PrillmErrorCode rc = PRILLM_OK;
    r->max_gain_relative = 0;
    /* the deviations first, side by side: each walk sees the final prices
     * alone; their values after, one solve each on the game's solver, in
     * the leaders' order as before */
    workers_sync(g, w, nw);
    step_start(o, g->L);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nw) if (nw > 1)
#endif
    for (int l = 0; l < g->L; l++) {
        if (!step_wanted(o, l)) continue;
        Worker *me = &w[thread_id()];
        int j = g->leader[l];
        PrillmErrorCode task = price_range(me->mk, j, &r->price_min[l], &r->price_max[l], &o->err[l]);
        if (!task) task = best_price(g, me, j, 0, &r->deviation_price[l], &o->err[l]);
        step_record(o, me, l, task);
    }
    /* every leader up to the first failure ran (step_wanted) */
    for (int l = 0; l < g->L && !rc; l++) {
        int j = g->leader[l], q = g->group[l];
        double keep = g->mk->price[j], dev = r->deviation_price[l], now = NAN;
        counts_add(g, o->counts[l]);
        if ((rc = o->rc[l])) {
            if (err) *err = o->err[l];
            break;
        }
        g->mk->price[j] = dev;
        rc = group_value_now(g, q, &now, err);
        g->mk->price[j] = keep;
        if (rc) break;
        r->gain[l] = now - value[q];
        r->gain_relative[l] = r->gain[l] / fmax(fabs(value[q]), g->unit);
        r->max_gain_relative = fmax(r->max_gain_relative, r->gain_relative[l]);
    }
    for (int q = 0; q < g->G && !rc; q++) {
        r->pair_gain_relative[q] = NAN;
        if (set->pair_grid < 2) continue;
        double best = -INFINITY;
        for (int a = 0; a < g->L && !rc; a++) {
            if (g->group[a] != q) continue;
            for (int b = a + 1; b < g->L && !rc; b++) {
                if (g->group[b] != q) continue;
                int ja = g->leader[a], jb = g->leader[b];
                double keep_a = g->mk->price[ja], keep_b = g->mk->price[jb];
                for (int u = 0; u < set->pair_grid && !rc; u++)
                    for (int v = 0; v < set->pair_grid && !rc; v++) {
                        double t = (double)u / (set->pair_grid - 1), s = (double)v / (set->pair_grid - 1), now = NAN;
                        g->mk->price[ja] = r->price_min[a] + t * (r->price_max[a] - r->price_min[a]);
                        g->mk->price[jb] = r->price_min[b] + s * (r->price_max[b] - r->price_min[b]);
                        rc = group_value_now(g, q, &now, err);
                        if (now > best) best = now;
                    }
                g->mk->price[ja] = keep_a;
                g->mk->price[jb] = keep_b;
            }
        }
        if (best > -INFINITY) {
            r->pair_gain_relative[q] = (best - value[q]) / fmax(fabs(value[q]), g->unit);
            r->max_gain_relative = fmax(r->max_gain_relative, r->pair_gain_relative[q]);
        }
    }
    r->certified = !rc && r->max_gain_relative <= set->certificate;
    return rc;
}

/* The largest relative distance between two rounds' leader prices. */
static double distance(const double *x, const double *y, int L) {
    double d = 0;
    for (int l = 0; l < L; l++) d = fmax(d, rel(x[l] - y[l], y[l]));
    return d;
}

int prillm__compete_find_cycle(const double *history, int round, int n_leaders, double tolerance) {
    size_t N = (size_t)n_leaders;
    const double *now = history + (size_t)round * N;
    if (round < 2 || distance(now, now - N, n_leaders) <= tolerance) return 0; /* a fixed point */
    for (int k = 2; k <= round; k++)
        if (distance(now, history + (size_t)(round - k) * N, n_leaders) <= tolerance) return k;
    return 0;
}

static PrillmErrorCode run(Game *g, Worker *w, int nw, PrillmCompeteResult *r, PrillmError *err) {
    const PrillmCompeteSettings *set = g->set;
    int L = g->L, G = g->G;
    size_t N = (size_t)L;
    double *hist = prillm__calloc(((size_t)set->max_rounds + 1) * N, sizeof(double));
    double *br = prillm__calloc(N, sizeof(double)), *saved = prillm__calloc(N, sizeof(double));
    double *value = prillm__calloc((size_t)G, sizeof(double)), *before = prillm__calloc((size_t)G, sizeof(double));
    /* a step's tasks: G groups or L leaders, G <= L */
    StepOutcomes o = {prillm__calloc(N, sizeof(PrillmErrorCode)), prillm__calloc(N, sizeof(PrillmError)),
                      prillm__calloc(N, 1), prillm__calloc(N, sizeof(Counts)), INT_MAX};
    PrillmErrorCode rc = PRILLM_OK;
    if (!hist || !br || !saved || !value || !before || !o.rc || !o.err || !o.done || !o.counts) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory setting up the competition");
        goto done;
    }
    const double *flows = NULL;
    for (int l = 0; l < L; l++) hist[l] = g->mk->price[g->leader[l]];
    if ((rc = solve(g, &flows, err))) goto done;
    group_values(g, flows, value);
    r->status = PRILLM_COMPETE_ROUND_LIMIT;
    for (int round = 1; round <= set->max_rounds; round++) {
        double residual = 0;
        int stopped = 0;
        if (set->order == PRILLM_COMPETE_JACOBI) {
            /* every group answers the same prices: side by side */
            rc = jacobi_answers(g, w, nw, br, saved, &o, round, &stopped, err);
            for (int l = 0; l < L && !rc && !stopped; l++) {
                double p = g->mk->price[g->leader[l]];
                residual = fmax(residual, rel(br[l] - p, p));
            }
        }
        for (int q = 0; q < G && !stopped && set->order == PRILLM_COMPETE_GAUSS_SEIDEL; q++) {
            rc = best_response(g, &w[0], q, br, saved, err);
            counts_add(g, counts_take(&w[0]));
            if (rc) break;
            if (timed_out(g)) { /* the walk may have stopped short: drop it */
                stopped = 1;
                break;
            }
            for (int l = 0; l < L; l++) {
                if (g->group[l] != q) continue;
                double p = g->mk->price[g->leader[l]];
                residual = fmax(residual, rel(br[l] - p, p));
                g->mk->price[g->leader[l]] = p + set->damping * (br[l] - p);
            }
            if (set->verbose >= 2) fprintf(stderr, "prillm: round %d: %s answered\n", round, g->group_name[q]);
            /* the next group's answer starts from these prices' solve, warm
             * from the last (one that does not solve only leaves it cold) */
            if (q + 1 < G) {
                PrillmError ignored;
                (void)solve(g, &flows, &ignored);
            }
        }
        if (rc == PRILLM_ERR_SOLVER) {
            rc = PRILLM_OK;
            r->status = PRILLM_COMPETE_FAILED;
            break;
        }
        if (rc) break;
        if (stopped) {
            /* Jacobi moves nobody in an unfinished round; Gauss-Seidel keeps
             * the answers already given (each was complete) */
            r->status = PRILLM_COMPETE_TIME_LIMIT;
            break;
        }
        if (set->order == PRILLM_COMPETE_JACOBI)
            for (int l = 0; l < L; l++) {
                double p = g->mk->price[g->leader[l]];
                g->mk->price[g->leader[l]] = p + set->damping * (br[l] - p);
            }
        memcpy(before, value, (size_t)G * sizeof(double));
        if ((rc = solve(g, &flows, err))) {
            if (rc == PRILLM_ERR_SOLVER) {
                rc = PRILLM_OK;
                r->status = PRILLM_COMPETE_FAILED;
            }
            break;
        }
        group_values(g, flows, value);
        double change = 0;
        for (int q = 0; q < G; q++) change = fmax(change, fabs(value[q] - before[q]) / fmax(fabs(before[q]), g->unit));
        double *now = hist + (size_t)round * N;
        for (int l = 0; l < L; l++) now[l] = g->mk->price[g->leader[l]];
        r->rounds = round;
        r->residual = residual;
        r->profit_change = change;
        if (set->verbose >= 1)
            fprintf(stderr, "prillm: round %d: best responses within %.3g of the prices, values moved %.3g\n", round,
                    residual, change);
        if (residual <= set->tolerance && change <= set->profit_tolerance) {
            r->status = PRILLM_COMPETE_CONVERGED;
            break;
        }
        /* a cycle: this round's prices repeat those of k >= 2 rounds ago
         * (k = 1 would be a fixed point, caught above unless the values
         * still move) */
        int cycle = prillm__compete_find_cycle(hist, round, L, set->tolerance);
        if (cycle) {
            r->status = PRILLM_COMPETE_CYCLE;
            r->cycle_length = cycle;
            r->cycle = prillm__calloc((size_t)cycle * N, sizeof(double));
            if (!r->cycle) {
                rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory recording the cycle");
                break;
            }
            memcpy(r->cycle, hist + (size_t)(round - cycle + 1) * N, (size_t)cycle * N * sizeof(double));
            break;
        }
        if (timed_out(g)) {
            r->status = PRILLM_COMPETE_TIME_LIMIT;
            break;
        }
    }
    if (rc) goto done;
    /* the final prices: every provider's flow and profit, and the certificate */
    if ((rc = solve(g, &flows, err))) {
        if (rc == PRILLM_ERR_SOLVER) {
            r->status = PRILLM_COMPETE_FAILED;
            rc = PRILLM_OK;
        }
        goto done;
    }
    for (int k = 0; k < g->m; k++) {
        r->price[k] = g->mk->price[k];
        r->flow[k] = flows[k];
        r->profit[k] = (r->price[k] - cost_of(g->mk, k)) * flows[k];
    }
    group_values(g, flows, value);
    for (int q = 0; q < G; q++) r->group_value[q] = value[q];
    rc = certify(g, w, nw, &o, value, r, err);
    if (rc == PRILLM_ERR_SOLVER) {
        r->status = PRILLM_COMPETE_FAILED;
        r->certified = 0;
        rc = PRILLM_OK;
    }
done:
    free(o.rc);
    free(o.err);
    free(o.done);
    free(o.counts);
    free(hist);
    free(br);
    free(saved);
    free(value);
    free(before);
    return rc;
}

PrillmErrorCode prillm_compete(const PrillmMarket *market, const int *leaders, int n_leaders,
                               const PrillmCompeteSettings *settings, PrillmCompeteResult *result, PrillmError *err) {
    double t0 = prillm__now();
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result is NULL");
    result_reset(result);
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    PrillmCompeteSettings defaults;
    if (!settings) {
        prillm_compete_default_settings(&defaults);
        settings = &defaults;
    }
    PrillmErrorCode rc = prillm_compete_check_settings(settings, err);
    if (!rc) rc = prillm_market_validate(market, err);
    if (rc) return rc;
    if (!(market->w_price > 0))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "w_price is %g: competition needs apps that prefer lower prices (w_price > 0)",
                            market->w_price);
    int m = market->n_providers;
    if (!leaders && n_leaders != m)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "leaders is NULL (every provider) but n_leaders is %d, not %d",
                            n_leaders, m);
    int *all = NULL;
    if (!leaders) {
        if (!(all = prillm__calloc((size_t)m, sizeof(int))))
            return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory listing the leaders");
        for (int j = 0; j < m; j++) all[j] = j;
        leaders = all;
    }
    if ((rc = check_leaders(market, leaders, n_leaders, err))) {
        free(all);
        return rc;
    }
    Game g;
    memset(&g, 0, sizeof g);
    g.set = settings;
    g.m = m;
    g.L = n_leaders;
    g.leader = leaders;
    prillm_price_default_settings(&g.walk);
    g.walk.verbose = settings->verbose >= 2 ? 1 : 0;
    g.deadline = settings->time_limit > 0 ? t0 + settings->time_limit : 0;
    g.mk = prillm_market_copy(market, err);
    g.group = prillm__calloc((size_t)n_leaders, sizeof(int));
    g.owner_of = prillm__calloc((size_t)m, sizeof(int));
    g.group_name = prillm__calloc((size_t)n_leaders, sizeof(char *));
    g.eq_prices = prillm__calloc((size_t)m, sizeof(double));
    /* as many workers as threads can use: the certificate's L deviations
     * are the most tasks a step has */
    int n_workers = thread_count(settings, n_leaders);
    Worker *workers = prillm__calloc((size_t)n_workers, sizeof(Worker));
    if (!g.mk) rc = PRILLM_ERR_NO_MEMORY;
    else if (!g.group || !g.owner_of || !g.group_name || !g.eq_prices || !workers || result_alloc(result, m, n_leaders) ||
             !(n_workers = workers_setup(&g, workers, n_workers)))
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory setting up the competition");
    if (!rc) rc = make_groups(&g, err);
    if (!rc) {
        /* start inside the floors and caps */
        double total = 0, top = 1;
        for (int i = 0; i < market->n_users; i++) total += market->demand[i];
        for (int j = 0; j < m; j++) top = fmax(top, fabs(market->price[j]));
        g.unit = 1e-12 * fmax(total, 1e-300) * top;
        for (int l = 0; l < n_leaders; l++) {
            int j = leaders[l];
            double lo = prillm__market_price_min(g.mk, j), hi = prillm__market_price_max(g.mk, j);
            if (!isnan(lo) && g.mk->price[j] < lo) g.mk->price[j] = lo;
            if (!isnan(hi) && g.mk->price[j] > hi) g.mk->price[j] = hi;
            if (g.mk->price[j] < 0) g.mk->price[j] = 0;
        }
        memcpy(result->leader, leaders, (size_t)n_leaders * sizeof(int));
        memcpy(result->group, g.group, (size_t)n_leaders * sizeof(int));
        result->n_groups = g.G;
        for (int q = 0; q < g.G && !rc; q++)
            if (!(result->group_name[q] = prillm__strdup(g.group_name[q])))
                rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory setting up the competition");
    }
    /* sharing the working market's delays and tastes, which outlive it;
     * so do the best responses' copies of its solve */
    if (!rc) rc = prillm__equilibrium_setup_validated(&g.eq, g.mk, NULL, err);
    if (!rc) rc = run(&g, workers, n_workers, result, err);
    result->best_responses = g.walks;
    result->equilibrium_solves = g.solves;
    result->exact = !g.inexact;
    if (workers) workers_free(workers, n_workers);
    free(workers);
    prillm_equilibrium_cleanup(g.eq);
    prillm_market_free(g.mk);
    free(g.group);
    free(g.owner_of);
    free(g.group_name);
    free(g.eq_prices);
    free(all);
    if (rc) {
        prillm_compete_result_clear(result);
        return rc;
    }
    result->seconds = prillm__now() - t0;
    return PRILLM_OK;
}

int prillm_market_owner_models(const PrillmMarket *market, const char *owner, int *providers, int capacity) {
    if (!market || !owner) return 0;
    int count = 0;
    for (int j = 0; j < market->n_providers; j++) {
        const char *o = prillm__market_owner(market, j);
        if (o && strcmp(o, owner) == 0) {
            if (providers && count < capacity) providers[count] = j;
            count++;
        }
    }
    return count;
}
