/*
 * The users' equilibrium (DESIGN.md section 2).
 *
 * Method "exact": water-filling Gauss-Seidel sweeps find a nearly right
 * active set cheaply; the reduced system of active_set.c then gives the exact
 * equilibrium for that set, and a primal-dual active-set correction (drop
 * pairs whose flow went negative, add pairs whose marginal cost undercuts
 * the user's multiplier) repeats the exact solve until the KKT conditions
 * hold. Sweeps are the safety net: they decrease the strictly convex
 * potential, so when the correction stalls we sweep again from the last
 * exact point. A final polish re-fills each user's split in its own scale
 * over the providers it uses (a tiny user's flows are a difference of large
 * provider totals in the reduced formulas), a full sweep only if that does
 * not certify, and the answer is certified from the returned flows. A
 * re-solve after update_price starts from the last exact set instead of
 * sweeps when the last solve ended solved.
 *
 * The Gauss-Seidel state lives in the output arrays themselves: for the
 * largest markets (10^4 x 10^3) every n x m array is 80 MB of page faults.
 */
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "active_set.h"
#include "internal.h"

/* fmin/fmax are calls with NaN rules; these inline in the O(nm) loops */
#define MIN2(a, b) ((a) < (b) ? (a) : (b))
#define MAX2(a, b) ((a) > (b) ? (a) : (b))

/* ---- options ---------------------------------------------------------- */

#define OFFSET(field) offsetof(PrillmEquilibriumSettings, field)
static const PrillmOptionInfo equilibrium_options[] = {
    {"method", PRILLM_OPTION_CHOICE, PRILLM_EQ_EXACT, 0, 2, "exact|gauss-seidel|ipopt",
     "algorithm: exact active-set solve, plain Gauss-Seidel sweeps, or Ipopt on the QP", OFFSET(method)},
    {"tolerance", PRILLM_OPTION_DOUBLE, 1e-9, 1e-15, 1e-1, NULL,
     "largest scaled KKT violation accepted as solved", OFFSET(tolerance)},
    {"max-rounds", PRILLM_OPTION_INT, 50, 1, 100000, NULL,
     "exact active-set solves before giving up", OFFSET(max_rounds)},
    {"presweeps", PRILLM_OPTION_INT, 2, 0, 1000, NULL,
     "Gauss-Seidel sweeps before the first exact solve (exact method)", OFFSET(presweeps)},
    {"max-sweeps", PRILLM_OPTION_INT, 100000, 1, 1e9, NULL,
     "Gauss-Seidel sweeps in total before giving up", OFFSET(max_sweeps)},
    {"time-limit", PRILLM_OPTION_DOUBLE, 0, 0, 1e9, NULL, "seconds before giving up (0 = no limit)",
     OFFSET(time_limit)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 2, NULL, "progress on stderr (0 quiet, 1 summary, 2 every round)",
     OFFSET(verbose)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_equilibrium_options(int *count) {
    if (count) *count = (int)(sizeof equilibrium_options / sizeof equilibrium_options[0]);
    return equilibrium_options;
}

void prillm_equilibrium_default_settings(PrillmEquilibriumSettings *settings) {
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    prillm_options_defaults(opts, count, settings);
}

PrillmErrorCode prillm_equilibrium_set_option(PrillmEquilibriumSettings *settings, const char *name,
                                              const char *value, PrillmError *err) {
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    return prillm_options_set(opts, count, settings, name, value, err);
}

PrillmErrorCode prillm_equilibrium_check_settings(const PrillmEquilibriumSettings *settings, PrillmError *err) {
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    return prillm_options_check(opts, count, settings, err);
}

/* ---- workspace -------------------------------------------------------- */

/* The candidates' screen of the active-set correction (exact_round).
 *
 * Each correction round asks, for every pair outside the active set,
 * whether its reduced cost v_ij = c_ij + a_j F_j - nu_i is below the user's
 * (slightly negative) limit: a full read of the n x m costs, one pass per
 * round, the largest part of a cold solve. The screen makes most rounds
 * read only a short list per user, with the same answers:
 *
 * at a reference round R every row is scanned in full, and user i keeps
 * its SCREEN_LIST smallest v_ij (whatever their state) in `list` and the
 * smallest of the others in theta_i. At a later round, for a pair not in
 * the list,
 *     v_ij = v^R_ij + (a_j F_j - L^R_j) - (nu_i - nu^R_i)
 *          >= theta_i + min_j (a_j F_j - L^R_j) - (nu_i - nu^R_i),
 * minus a bound on the round-off of both evaluations (`margin`). When that
 * is at least the limit, no pair outside the list can enter: the row reads
 * its list only. Providers whose a_j F_j fell by more than delta since R,
 * and those whose costs moved (update_price), are left out of the minimum
 * and tested pair by pair instead (a strided read of one column each).
 * Rows whose bound fails are read in full as before; when many do, the
 * round rebuilds the screen. The entering pairs, and so every round, the
 * active sets and the flows, are the ones of the full test, bit for bit. */
#define SCREEN_LIST 24
#define SCREEN_MIN_PROVIDERS 64
/* How many rows ahead the passes over the pattern's scattered pairs of an
 * n x m array (the certificate, the exact flows' writes) ask for them */
#define CERT_AHEAD 4

/* The nonzero flows of every row after a full sweep, ascending (the
 * pre-sweeps keep two: the last sweep's, read by the next, which writes the
 * other). With it the next sweep reads a row's flows at those entries
 * instead of all m of them: the second pre-sweep of a cold 10000 x 500
 * solve then reads the costs alone, not the 40 MB of flows as well. */
typedef struct {
    int *start;     /* [n + 1]                                         */
    int *prov;      /* [capacity]                                      */
    long capacity;
    int valid;      /* lists exactly the nonzeros of f                 */
} SweepSupport;

enum { F_SUPPORT_UNKNOWN, F_SUPPORT_PATTERN, F_SUPPORT_PACK, F_SUPPORT_ACTIVE, F_SUPPORT_SWEPT }; /* PrillmEquilibriumSolver.f_support */

typedef struct {
    int off;             /* prillm__equilibrium_set_screen(s, 0)                 */
    int valid;           /* lists describe the current costs but `dirty` columns */
    int *list;           /* [n * SCREEN_LIST] providers (-1 ends a short list)   */
    double *list_cost;   /* [n * SCREEN_LIST] their c_ij: no scattered reads     */
    double cut;          /* a rebuild lists the v_ij below it (then theta >= cut) */
    double *theta;       /* [n] smallest v^R over the providers not listed       */
    double *nu_ref;      /* [n] nu^R                                             */
    double *load_ref;    /* [m] L^R = a_j F^R_j                                  */
    double delta;        /* fall of a load beyond which its column is tested     */
    unsigned char *dirty;/* [m] costs changed since R                            */
    int *cols;           /* [m] providers tested pair by pair this round         */
    double *col_change;  /* [m] their loads' change since R (-inf: costs moved)  */
    unsigned char *skip; /* [m] scratch, all 0 between uses: a row's pattern while its list is read */
    double cost_max;     /* max |c_ij| (an upper bound after update_price)       */
    long rebuilds, screened_rows, full_rows; /* counters (tests, tuning)         */
    long cols_spared, cols_read;   /* column pairs settled by their bound, read (tests) */
    long cols_entered;             /* of those read, pairs that entered (tests)          */
    int check_bounds;              /* tests: every spared pair's bound checked           */
    long bounds_checked, bounds_broken;
    int round_full_rows; /* rows read in full by the last round (-1: a rebuild)  */
    int round_cols;      /* columns tested pair by pair in the last round        */
} Screen;

struct PrillmEquilibriumSolver {
    PrillmEquilibriumSettings settings;
    PrillmMarket *market; /* own copy: prices change with update_price */
    int pairs_shared;     /* market's delay and affinity are the caller's
                             (prillm__market_copy_sharing_pairs)          */
    int n, m;
    const double *demand; /* [n], the market copy's                         */
    double *slope;        /* [m] a_j = w_congestion / capacity_j            */
    double *beta;         /* [m] 1 / slope                                  */
    double *half_inv;     /* [m] 1 / (2 slope)                              */
    double *cost;         /* [n*m] c_ij                                     */
    double *f, *F;        /* Gauss-Seidel state = solution.flows / provider_flow */
    double *lambda;       /* [n] water-filling multipliers (warm starts)    */
    double *pair_flow, *exact_F, *nu, *rhs, *e_row;
    long pair_capacity;
    unsigned char *active;
    PrillmActiveSystem system;
    /* The rows of `active` that the last exact round changed after its
     * factorisation, ascending: the next round's update of the factor
     * compares those rows alone with the factored pattern instead of all
     * n x m flags (at 5000 x 500 that and rebuilding the pattern from
     * every flag were a fifth of a bounding solve's round), and a
     * factorisation from scratch rebuilds only their part of the pattern.
     * -1: not known (the set was written elsewhere: sweeps, a seed). */
    int *round_rows;   /* [n] */
    /* The column of `cost` that update_price moved since the last exact
     * round read the costs (-1 none, -2 more than one): the round's rhs
     * then re-reads that column alone (prillm__system_rhs_moved). */
    int cost_moved;
    int *changed_rows; /* [n] scratch: those and the rows given a provider */
    int n_round_rows;
    /* The rows with demand that the last exact round left without an
     * active pair, ascending (empty_rows_known; 0 where the set was written
     * elsewhere, as n_round_rows = -1): the next round gives those a
     * provider without reading every row's flags (5 MB a round at
     * 10000 x 500). Rows without demand are clear then. */
    int *empty_rows;
    int n_empty_rows, empty_rows_known;
    int no_row_hints;  /* tests: every update compares all flags        */
    long rows_told;    /* updates told the rows (tests)                  */
    int warm;
    /* The last solve ended solved by the exact method and `active` still
     * holds its set: after update_price (one column of costs) the next solve
     * starts from that set instead of Gauss-Seidel sweeps, each of which
     * costs several passes over the n x m arrays. */
    int warm_exact;
    double *h_row;        /* [m] scratch of the support polish              */
    int *support_row;     /* [m]                                            */
    int *entering;        /* [m] scratch: a rebuilt row's entering pairs     */
    int no_enter_cap;     /* prillm__equilibrium_set_enter_cap(s, 0)         */
    long capped_rows, capped_listed; /* rows the cap held back, those on their list (tests) */
    /* After update_price the outputs must read NaN, yet the next solve
     * should start from the last answer: its nonzero flows wait here. */
    int packed, packed_from_cert;
    long packed_count, packed_capacity;
    size_t *packed_index;
    double *packed_value;
    int out_of_memory;
    int flows_zero;       /* f was just cleared: its loads are zero          */
    unsigned char *moved; /* [m] prices moved by update_price since the last solve */
    int moved_count, seeded, no_local;
    unsigned char *local_rows; /* [n] scratch of local_sweep */
    Screen screen;
    /* the certificate's packed rows (certify_packed) */
    int *cert_start, *cert_index;  /* [n+1], [cert_capacity]               */
    double *cert_value;            /* [cert_capacity]                       */
    unsigned char *cert_mask;      /* [m], all zero between uses            */
    long cert_capacity;
    long cert_rows_bounded;        /* rows the screen's bound spared (tests) */
    /* Where f can be nonzero, so that a warm re-solve need not pass over
     * all n x m flows to clear, pack or sum them (at 5000 x 500 each such
     * pass costs about as much as the round itself):
     *   F_SUPPORT_UNKNOWN  anywhere;
     *   F_SUPPORT_PATTERN  only on the system's pattern (take_exact_flows
     *                      wrote f from it; polish_support keeps to it);
     *   F_SUPPORT_PACK     only on the last certificate's packed rows
     *                      (exactly f's nonzeros then), or on a row flagged
     *                      in f_rows (swept since);
     *   F_SUPPORT_ACTIVE   only where `active` is set (the pre-sweeps just
     *                      wrote it as f > 0; the next round's factor
     *                      copies its pattern to swept_start/swept_prov);
     *   F_SUPPORT_SWEPT    only on that copy (the pre-sweeps' f > 0, kept
     *                      while the rounds change `active`): about 60,000
     *                      indices at 10000 x 500 instead of a copy of
     *                      the 5 MB of flags.
     * Only which entries are read changes: every sum is the same, in the
     * same order. */
    int f_support;
    int pack_on_pattern;           /* the pack was taken on the pattern     */
    unsigned char *f_rows;         /* [n] rows swept since the pack         */
    int f_rows_any;
    /* F holds exactly recompute_loads(f) (the certificate summed it, and
     * nothing moved since): a warm start need not sum it again */
    int loads_fresh;
    /* update_price leaves the last answer in the outputs instead of NaN
     * (prillm__equilibrium_set_keep_outputs: internal callers that read
     * the outputs only after a solve), so f needs no packing */
    int keep_outputs;
    /* the exact point published before any polish, polished only when it
     * does not certify (prillm__equilibrium_set_lazy_polish) */
    int lazy_polish;
    long lazy_certified; /* exact points that certified unpolished (tests) */
    int no_support; /* tests: f_support always unknown (every pass over f whole) */
    int *swept_start, *swept_prov; /* [n+1], [swept_capacity] F_SUPPORT_SWEPT's rows */
    long swept_capacity;
    /* A cold exact solve leaves f as it was (NaN after setup) and its first
     * sweep clears each row just before writing it: one pass over the
     * n x m flows instead of a clearing pass and then the sweep's. */
    int rows_unset;
    SweepSupport sweep_support[2];
    double *own_row; /* [m] scratch of the sweeps: a row's listed flows, zero elsewhere */
    int *group_first;              /* [m / 8 + 1] scratch of the sweeps (ShiftGroups) */
    unsigned char *group_shifted;  /* [m / 8 + 1]                                     */
    long rows_listed, rows_grouped; /* rows swept from listed flows, told the groups (tests) */
    PrillmEquilibrium solution;
};

static void fill_costs(PrillmEquilibriumSolver *s) {
    const PrillmMarket *mk = s->market;
    int n = s->n, m = s->m;
    double cost_max = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double c = prillm__user_cost(mk, i, j, mk->price[j]);
            s->cost[(size_t)i * m + j] = c;
            cost_max = MAX2(cost_max, fabs(c));
        }
    s->screen.cost_max = cost_max;
}

static PrillmErrorCode setup_solver(PrillmEquilibriumSolver **out, const PrillmMarket *market,
                                    const PrillmEquilibriumSettings *settings, const PrillmEquilibriumSolver *costs_of,
                                    PrillmEquilibriumSolver *move_from, int share_pairs, PrillmError *err);

PrillmErrorCode prillm_equilibrium_setup(PrillmEquilibriumSolver **out, const PrillmMarket *market,
                                         const PrillmEquilibriumSettings *settings, PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver output pointer is NULL");
    *out = NULL;
    PrillmErrorCode rc = prillm_market_validate(market, err);
    if (rc) return rc;
    return setup_solver(out, market, settings, NULL, NULL, 0, err);
}


PrillmErrorCode prillm__equilibrium_setup_validated(PrillmEquilibriumSolver **out, const PrillmMarket *market,
                                                    const PrillmEquilibriumSettings *settings, PrillmError *err) {
    return setup_solver(out, market, settings, NULL, NULL, 1, err);
}

/* costs_of: a solver of the same market and prices whose costs are copied
 * (the same numbers: prillm__user_cost of the same entries) instead of
 * computed again. move_from (then also costs_of): a solver about to be
 * cleaned up whose market copy, costs, flows, multipliers and active set
 * are taken over instead of copied; the caller sets the state that is not
 * copied by setup_from (the n x m arrays then hold what a copy would).
 * share_pairs: the market copy reads market's delays and tastes where they
 * are (the internal setups, whose market outlives the solver); the public
 * setup copies them, as the caller may free or change its market. */
static PrillmErrorCode setup_solver(PrillmEquilibriumSolver **out, const PrillmMarket *market,
                                    const PrillmEquilibriumSettings *settings, const PrillmEquilibriumSolver *costs_of,
                                    PrillmEquilibriumSolver *move_from, int share_pairs, PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver output pointer is NULL");
    *out = NULL;
    PrillmErrorCode rc;
    PrillmEquilibriumSettings defaults;
    if (!settings) {
        prillm_equilibrium_default_settings(&defaults);
        settings = &defaults;
    }
    if ((rc = prillm_equilibrium_check_settings(settings, err))) return rc;
    PrillmEquilibriumSolver *s = prillm__calloc(1, sizeof *s);
    if (!s) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    s->settings = *settings;
    s->n = market->n_users;
    s->m = market->n_providers;
    size_t n = (size_t)s->n, m = (size_t)s->m, nm = n * m;
    if (move_from) {
        /* taken over: the same numbers as the copies below would hold */
        s->market = move_from->market;
        s->pairs_shared = move_from->pairs_shared;
        s->cost = move_from->cost;
        s->lambda = move_from->lambda;
        s->active = move_from->active;
        s->solution.flows = move_from->solution.flows;
        s->solution.provider_flow = move_from->solution.provider_flow;
        s->solution.lambda = move_from->solution.lambda;
        move_from->market = NULL;
        move_from->cost = move_from->lambda = NULL;
        move_from->active = NULL;
        move_from->solution.flows = move_from->solution.provider_flow = move_from->solution.lambda = NULL;
        move_from->f = move_from->F = NULL;
    } else {
        s->market = share_pairs ? prillm__market_copy_sharing_pairs(market, err) : prillm_market_copy(market, err);
        if (!s->market) {
            free(s);
            return err ? err->code : PRILLM_ERR_NO_MEMORY;
        }
        s->pairs_shared = share_pairs;
        s->cost = prillm__calloc(nm, sizeof(double));
        s->lambda = prillm__calloc(n, sizeof(double));
        s->active = prillm__calloc(nm, 1);
        s->solution.flows = prillm__calloc(nm, sizeof(double));
        s->solution.provider_flow = prillm__calloc(m, sizeof(double));
        s->solution.lambda = prillm__calloc(n, sizeof(double));
    }
    s->slope = prillm__calloc(m, sizeof(double));
    s->beta = prillm__calloc(m, sizeof(double));
    s->half_inv = prillm__calloc(m, sizeof(double));
    s->exact_F = prillm__calloc(m, sizeof(double));
    s->nu = prillm__calloc(n, sizeof(double));
    s->rhs = prillm__calloc(n, sizeof(double));
    s->e_row = prillm__calloc(m, sizeof(double));
    s->h_row = prillm__calloc(m, sizeof(double));
    s->support_row = prillm__calloc(m, sizeof(int));
    s->entering = prillm__calloc(m, sizeof(int));
    s->group_first = prillm__calloc(m / 8 + 1, sizeof(int));
    s->group_shifted = prillm__calloc(m / 8 + 1, 1);
    s->f = s->solution.flows;
    s->F = s->solution.provider_flow;
    if (!s->slope || !s->beta || !s->half_inv || !s->cost || !s->lambda ||
        !s->exact_F || !s->nu || !s->rhs || !s->e_row || !s->h_row || !s->support_row || !s->entering || !s->group_first ||
        !s->group_shifted || !s->active || !s->solution.flows ||
        !s->solution.provider_flow || !s->solution.lambda ||
        prillm__system_init(&s->system, s->n, s->m, s->beta)) {
        prillm_equilibrium_cleanup(s);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for a %d x %d equilibrium", market->n_users,
                            market->n_providers);
    }
    /* the reduced system depends on beta (fixed here) and the active set:
     * later rounds and warm-started re-solves change a few pairs, and the
     * factor is updated instead of rebuilt */
    if (prillm__system_set_incremental(&s->system, 1)) {
        prillm_equilibrium_cleanup(s);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for a %d x %d equilibrium", market->n_users,
                            market->n_providers);
    }
    s->demand = s->market->demand;
    for (size_t j = 0; j < m; j++) {
        s->slope[j] = market->w_congestion / market->capacity[j];
        s->beta[j] = 1.0 / s->slope[j];
        s->half_inv[j] = 0.5 / s->slope[j];
    }
    if (costs_of) {
        if (!move_from) memcpy(s->cost, costs_of->cost, nm * sizeof(double));
        s->screen.cost_max = costs_of->screen.cost_max;
    } else {
        fill_costs(s);
    }
    s->solution.n_users = s->n;
    s->solution.n_providers = s->m;
    if (!move_from) {
        prillm__fill_nan(s->solution.flows, nm);
        prillm__fill_nan(s->solution.provider_flow, m);
        prillm__fill_nan(s->solution.lambda, n);
    }
    s->solution.info.status = PRILLM_STATUS_UNSOLVED;
    s->n_round_rows = -1;
    s->empty_rows_known = 0;
    s->cost_moved = -1;
    *out = s;
    prillm__clear_error(err);
    return PRILLM_OK;
}

PrillmErrorCode prillm__equilibrium_setup_from(PrillmEquilibriumSolver **out, const PrillmEquilibriumSolver *from,
                                               PrillmError *err) {
    if (!out || !from) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver is NULL");
    /* from's own copy of the market, validated when from was set up, and
     * its costs at that market's prices */
    /* shares only what from shares: arrays of the caller's market, never
     * from's own copy, which setup_moved's caller frees right after */
    PrillmErrorCode rc = setup_solver(out, from->market, &from->settings, from, NULL, from->pairs_shared, err);
    if (rc) return rc;
    PrillmEquilibriumSolver *s = *out;
    size_t n = (size_t)s->n, m = (size_t)s->m, nm = n * m;
    if (from->packed) {
        /* between update_price and solve: no answer to show (NaN, as set
         * up), the last one waits packed for the next solve */
        if (from->packed_count > 0) {
            s->packed_index = malloc((size_t)from->packed_count * sizeof(size_t));
            s->packed_value = malloc((size_t)from->packed_count * sizeof(double));
            if (!s->packed_index || !s->packed_value) {
                prillm_equilibrium_cleanup(s);
                *out = NULL;
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory copying a warm start");
            }
            memcpy(s->packed_index, from->packed_index, (size_t)from->packed_count * sizeof(size_t));
            memcpy(s->packed_value, from->packed_value, (size_t)from->packed_count * sizeof(double));
        }
        s->packed_count = s->packed_capacity = from->packed_count;
        s->packed = 1;
    } else {
        memcpy(s->f, from->f, nm * sizeof(double));
        memcpy(s->F, from->F, m * sizeof(double));
        memcpy(s->solution.lambda, from->solution.lambda, n * sizeof(double));
        s->solution.info = from->solution.info;
    }
    memcpy(s->lambda, from->lambda, n * sizeof(double));
    memcpy(s->active, from->active, nm);
    s->warm = from->warm;
    s->warm_exact = from->warm_exact;
    return PRILLM_OK;
}

PrillmErrorCode prillm__equilibrium_setup_moved(PrillmEquilibriumSolver **out, PrillmEquilibriumSolver *from,
                                                PrillmError *err) {
    if (!out || !from) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver is NULL");
    /* a packed answer lives outside f: the copy's way keeps it */
    if (from->packed) return prillm__equilibrium_setup_from(out, from, err);
    PrillmErrorCode rc = setup_solver(out, from->market, &from->settings, from, from, 0, err);
    if (rc) return rc;
    PrillmEquilibriumSolver *s = *out;
    /* what setup_from copies besides the arrays taken over */
    s->solution.info = from->solution.info;
    s->warm = from->warm;
    s->warm_exact = from->warm_exact;
    return PRILLM_OK;
}

void prillm__equilibrium_seed_active(PrillmEquilibriumSolver *s, const unsigned char *active) {
    if (!s || !active) return;
    memcpy(s->active, active, (size_t)s->n * (size_t)s->m);
    s->n_round_rows = -1;
    s->empty_rows_known = 0;
    s->warm_exact = 1;
    s->seeded = 1;
}

/* A seed can tell the first round its rows: the solver's set is its last
 * solved one, the factored pattern, and the last round changed none. */
static int seed_rows_known(const PrillmEquilibriumSolver *s) {
    return s->warm_exact && s->n_round_rows == 0 && s->round_rows && s->system.csr_valid && !s->no_row_hints;
}

/* After a seed: the rows whose flags it changed, ascending, in
 * round_rows[0..count) (the last round changed none), so that the first
 * round rebuilds and re-reads only those; a seeded row without a pair, or
 * a row without demand given one, makes the round look at every row. */
static void seeded_rows(PrillmEquilibriumSolver *s, int count) {
    for (int k = 0; k < count && s->empty_rows_known; k++) {
        int i = s->round_rows[k];
        const unsigned char *row = s->active + (size_t)i * (size_t)s->m;
        int any = prillm__next_flag(row, 0, s->m) < s->m;
        if (any != (s->demand[i] > 0)) s->empty_rows_known = 0;
    }
    s->n_round_rows = count;
}

void prillm__equilibrium_seed_pairs(PrillmEquilibriumSolver *s, const long *pairs, const unsigned char *in,
                                    long count) {
    if (!s || !s->warm_exact) return;
    int known = seed_rows_known(s), rows = 0;
    for (long k = 0; k < count; k++) {
        unsigned char flag = in[k] != 0;
        if (s->active[pairs[k]] == flag) continue;
        s->active[pairs[k]] = flag;
        if (known && rows < s->n) s->round_rows[rows++] = (int)(pairs[k] / s->m);
        else known = 0;
    }
    if (known) {
        /* ascending, once each */
        qsort(s->round_rows, (size_t)rows, sizeof(int), prillm__compare_int);
        int unique = 0;
        for (int k = 0; k < rows; k++)
            if (unique == 0 || s->round_rows[unique - 1] != s->round_rows[k]) s->round_rows[unique++] = s->round_rows[k];
        seeded_rows(s, unique);
    } else {
        s->n_round_rows = -1;
        s->empty_rows_known = 0;
    }
    s->seeded = 1;
}

void prillm__equilibrium_seed_rows(PrillmEquilibriumSolver *s, const int *start, const int *prov) {
    if (!s || !start || !prov) return;
    int n = s->n, m = s->m;
    if (!seed_rows_known(s)) {
        /* no last set to compare with: the flags written whole */
        memset(s->active, 0, (size_t)n * (size_t)m);
        for (int i = 0; i < n; i++)
            for (int q = start[i]; q < start[i + 1]; q++) s->active[(size_t)i * m + (size_t)prov[q]] = 1;
        s->n_round_rows = -1;
        s->empty_rows_known = 0;
    } else {
        /* the last set is the system's pattern (its last round changed
         * nothing): rows are compared there, and only those that differ
         * are rewritten */
        const PrillmActiveSystem *sys = &s->system;
        int rows = 0;
        for (int i = 0; i < n; i++) {
            int a = sys->user_start[i], a_end = sys->user_start[i + 1], b = start[i], b_end = start[i + 1];
            if (a_end - a == b_end - b && memcmp(sys->user_prov + a, prov + b, (size_t)(b_end - b) * sizeof(int)) == 0)
                continue;
            unsigned char *row = s->active + (size_t)i * (size_t)m;
            for (int q = a; q < a_end; q++) row[sys->user_prov[q]] = 0;
            for (int q = b; q < b_end; q++) row[prov[q]] = 1;
            s->round_rows[rows++] = i;
        }
        seeded_rows(s, rows);
    }
    s->warm_exact = 1;
    s->seeded = 1;
}

double prillm__equilibrium_price(const PrillmEquilibriumSolver *s, int j) {
    return s && j >= 0 && j < s->m ? s->market->price[j] : NAN;
}

const double *prillm__equilibrium_costs(const PrillmEquilibriumSolver *s) { return s ? s->cost : NULL; }

void prillm_equilibrium_cleanup(PrillmEquilibriumSolver *s) {
    if (!s) return;
    prillm__system_free(&s->system);
    if (s->pairs_shared) prillm__market_free_sharing_pairs(s->market);
    else prillm_market_free(s->market);
    free(s->slope);
    free(s->beta);
    free(s->half_inv);
    free(s->cost);
    free(s->lambda);
    free(s->pair_flow);
    free(s->exact_F);
    free(s->nu);
    free(s->rhs);
    free(s->e_row);
    free(s->h_row);
    free(s->support_row);
    free(s->entering);
    free(s->active);
    free(s->packed_index);
    free(s->packed_value);
    free(s->moved);
    free(s->local_rows);
    free(s->swept_start);
    free(s->swept_prov);
    free(s->empty_rows);
    free(s->round_rows);
    free(s->changed_rows);
    free(s->cert_start);
    free(s->cert_index);
    free(s->cert_value);
    free(s->cert_mask);
    free(s->f_rows);
    free(s->screen.list);
    free(s->screen.list_cost);
    free(s->screen.theta);
    free(s->screen.nu_ref);
    free(s->screen.load_ref);
    free(s->screen.dirty);
    free(s->screen.cols);
    free(s->screen.skip);
    free(s->screen.col_change);
    for (int k = 0; k < 2; k++) {
        free(s->sweep_support[k].start);
        free(s->sweep_support[k].prov);
    }
    free(s->own_row);
    free(s->group_first);
    free(s->group_shifted);
    free(s->solution.flows);
    free(s->solution.provider_flow);
    free(s->solution.lambda);
    free(s);
}

const PrillmEquilibrium *prillm_equilibrium_solution(const PrillmEquilibriumSolver *s) {
    return s ? &s->solution : NULL;
}

/* No stale numbers: what is not a current answer reads NaN. */
static void clear_outputs(PrillmEquilibriumSolver *s) {
    PrillmEquilibrium *out = &s->solution;
    if (!s->keep_outputs) {
        prillm__fill_nan(out->flows, (size_t)s->n * s->m);
        prillm__fill_nan(out->provider_flow, (size_t)s->m);
        s->loads_fresh = 0;
        s->f_support = F_SUPPORT_UNKNOWN;
    }
    prillm__fill_nan(out->lambda, (size_t)s->n);
    memset(&out->info, 0, sizeof out->info);
    out->info.status = PRILLM_STATUS_UNSOLVED;
    out->info.kkt_violation = out->info.demand_residual = out->info.potential = out->info.seconds = NAN;
}

PrillmErrorCode prillm_equilibrium_update_price(PrillmEquilibriumSolver *s, int provider, double price,
                                                PrillmError *err) {
    if (!s) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver is NULL");
    if (provider < 0 || provider >= s->m)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "provider index %d is outside 0..%d", provider, s->m - 1);
    if (!isfinite(price))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "price of providers[%d] must be finite", provider);
    if (s->warm && !s->packed && !s->keep_outputs) {
        size_t nm = (size_t)s->n * s->m;
        /* the certificate's rows are exactly f's nonzeros, in this order */
        int from_pack = s->f_support == F_SUPPORT_PACK && !s->f_rows_any;
        long count = 0;
        if (from_pack) count = s->cert_start[s->n];
        else
            for (size_t k = 0; k < nm; k++) count += s->f[k] != 0.0;
        if (count > s->packed_capacity) {
            size_t *index = realloc(s->packed_index, (size_t)count * sizeof(size_t));
            if (index) s->packed_index = index;
            double *value = realloc(s->packed_value, (size_t)count * sizeof(double));
            if (value) s->packed_value = value;
            if (!index || !value) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory keeping the warm start");
            s->packed_capacity = count;
        }
        s->packed_from_cert = from_pack;
        if (from_pack) {
            for (int i = 0; i < s->n; i++)
                for (int q = s->cert_start[i]; q < s->cert_start[i + 1]; q++) {
                    s->packed_index[q] = (size_t)i * s->m + (size_t)s->cert_index[q];
                    s->packed_value[q] = s->cert_value[q];
                }
        } else {
            count = 0;
            for (size_t k = 0; k < nm; k++)
                if (s->f[k] != 0.0) {
                    s->packed_index[count] = k;
                    s->packed_value[count++] = s->f[k];
                }
        }
        s->packed_count = count;
        s->packed = 1;
    }
    clear_outputs(s);
    double old_price = s->market->price[provider];
    s->market->price[provider] = price;
    const PrillmMarket *mk = s->market;
    /* only the column moves, by w_price per unit (what the pricing walk assumes) */
    double column_max = 0;
    for (int i = 0; i < s->n; i++) {
        double c = prillm__user_cost(mk, i, provider, price);
        s->cost[(size_t)i * s->m + provider] = c;
        column_max = MAX2(column_max, fabs(c));
    }
    s->cost_moved = s->cost_moved == -1 || s->cost_moved == provider ? provider : -2;
    /* the screen tests this column pair by pair from now on */
    s->screen.cost_max = MAX2(s->screen.cost_max, column_max);
    /* a move by more than 5% gets a local sweep at the next warm start */
    if (!s->moved && fabs(price - old_price) > 0.05 * fabs(old_price)) s->moved = prillm__calloc((size_t)s->m, 1);
    if (s->moved && !s->moved[provider] && fabs(price - old_price) > 0.05 * fabs(old_price)) {
        s->moved[provider] = 1;
        s->moved_count++;
    }
    if (s->screen.dirty) s->screen.dirty[provider] = 1;
    return PRILLM_OK;
}

/* ---- Gauss-Seidel ----------------------------------------------------- */

/* cond ? a : b, by a mask on the bits: a select the compiler cannot turn
 * back into a branch (where which way it goes is hard to predict) */
static inline double pick(int cond, double a, double b) {
    uint64_t x, y, mask = (uint64_t)0 - (uint64_t)(cond != 0);
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & mask) | (y & ~mask);
    memcpy(&a, &x, sizeof a);
    return a;
}

/* User's best response: minimise sum_j e_j f_j + slope_j f_j^2 over
 * sum_j f_j = D, f >= 0, i.e. f_j = max(0, (lambda - e_j) h_j) with
 * h_j = 1/(2 slope_j). h(lambda) = sum_j max(0, lambda - e_j) h_j - D is
 * convex, piecewise linear and increasing, so Newton's method from any
 * start lands right of the root in one step and then walks down the pieces
 * monotonically, ending exactly: no sort, usually two or three O(m) passes
 * from the previous sweep's multiplier.
 *
 * Everything is measured from the lowest marginal cost e_lo: e_j - e_lo is
 * exact near the bottom, and lambda - e_lo is as small as the demand needs.
 * In absolute terms a demand of 1e-20 moves lambda by less than one unit in
 * the last place of e_lo, and no flow at all would come out. Returns
 * lambda - e_lo (>= 0); e is left shifted (e_j - e_lo) for the caller. */
static double water_start(const double *e, const double *h, int m, double demand) {
    double start = INFINITY;
#pragma omp simd reduction(min : start)
    for (int j = 0; j < m; j++) start = MIN2(start, e[j] + demand / h[j]);
    return start;
}

/* min of x[0..m): eight independent running minima, so that the loop is
 * not one chain of dependent comparisons (the minimum of finite numbers
 * does not depend on the order) */
static double min_of(const double *x, int m) {
    double a[8] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
    int j = 0;
    for (; j + 8 <= m; j += 8)
        for (int t = 0; t < 8; t++) a[t] = MIN2(a[t], x[j + t]);
    for (; j < m; j++) a[0] = MIN2(a[0], x[j]);
    for (int t = 1; t < 8; t++) a[0] = MIN2(a[0], a[t]);
    return a[0];
}

/* With idx (scratch of m ints, or NULL), the iterations after the first
 * visit only the entries below the last multiplier: the iterates only fall
 * after the first step, so every later sum has the same terms in the same
 * order as a full pass (an iterate above the last one, possible only by
 * round-off, makes a full pass again). A user of a 500-model market uses a
 * handful of them: the later passes cost that handful instead of m. On
 * return *used (with idx) is the number of entries in idx below the
 * returned multiplier, ascending, or -1 when idx does not describe it. */
/* The groups of eight entries of e that the sweep found could lie below
 * the multiplier (those whose least is below the warm multiplier or the
 * start, either of which lambda + lo stays under): e is shifted by lo in
 * those groups and the tail alone (marked in `shifted`, one byte a group),
 * until a pass over every entry needs the rest (shift_rest). An entry of
 * a group left out is not below lambda: e_j >= warm (or start_at) makes
 * e_j - lo >= lambda, as rounding is monotone. */
typedef struct {
    int *first;             /* the listed groups' first entries, ascending */
    int count;
    unsigned char *shifted; /* [m / 8]: 1 where e is shifted              */
    int all;                /* every entry shifted                         */
} ShiftGroups;

static void shift_rest(double *e, int m, double lo, ShiftGroups *g) {
    if (!g || g->all) return;
    for (int j = 0; j + 8 <= m; j += 8)
        if (!g->shifted[j / 8])
            for (int t = 0; t < 8; t++) e[j + t] -= lo;
    g->all = 1;
}

/* e_j - lo, whether or not e_j was shifted yet */
static inline double shifted_entry(const double *e, int j, int m, double lo, const ShiftGroups *g) {
    return !g || g->all || j >= m - m % 8 || g->shifted[j / 8] ? e[j] : e[j] - lo;
}

static double water_fill_from(double *e, const double *h, int m, double demand, double warm, double lo,
                              double start_at, double *e_lo, int *idx, int *used, ShiftGroups *groups);
static double water_fill(double *e, const double *h, int m, double demand, double warm, double *e_lo, int *idx,
                         int *used) {
    return water_fill_from(e, h, m, demand, warm, min_of(e, m), NAN, e_lo, idx, used, NULL);
}

/* water_fill with lo = min_j e_j already known, and (start_at not NaN)
 * min_j e_j + demand 2 a_j too, where a_j = 1 / (2 h_j): the sweep finds
 * both while writing e. With idx, the shift by lo and the first
 * iteration's pass (which entries lie below lambda) are then one loop over
 * the m entries, where they were three or four (the least, the shift, the
 * start, the entries below it). The start start_at - lo is water_start's
 * up to rounding: like it, at or above the root up to rounding, from where
 * Newton's iterates fall to the same last set and the same multiplier,
 * summed over the same entries in the same order. */
PRILLM__VECTOR_CLONES static double water_fill_from(double *e, const double *h, int m, double demand, double warm,
                                                    double lo, double start_at, double *e_lo, int *idx, int *used,
                                                    ShiftGroups *groups) {
    *e_lo = lo;
    int k = -1;           /* entries of idx in use (-1: none yet)           */
    double bound = NAN;   /* idx holds every entry below bound, ascending   */
    /* the start is needed only without a usable warm multiplier */
    double start = NAN, lambda;
    int warm_ok = isfinite(warm) && warm - lo > 0;
    if (warm_ok || (idx && start_at - lo > 0)) {
        lambda = warm_ok ? warm - lo : (start = start_at - lo);
        if (idx) {
            /* eight entries at a time: a user uses a few of m models, so
             * most groups have none below lambda and are only shifted
             * (or, told the groups that can hold one, not visited) */
            k = 0;
            int j = 0;
            for (int g = 0; groups && g < groups->count; g++) {
                j = groups->first[g];
                double least = INFINITY;
#pragma omp simd reduction(min : least)
                for (int t = 0; t < 8; t++) {
                    e[j + t] -= lo;
                    least = MIN2(least, e[j + t]);
                }
                groups->shifted[j / 8] = 1;
                if (!(least < lambda)) continue;
                for (int t = 0; t < 8; t++) {
                    idx[k] = j + t;
                    k += e[j + t] < lambda;
                }
            }
            if (groups) j = m - m % 8; /* the tail, shifted always */
            for (; j + 8 <= m; j += 8) {
                double least = INFINITY;
#pragma omp simd reduction(min : least)
                for (int t = 0; t < 8; t++) {
                    e[j + t] -= lo;
                    least = MIN2(least, e[j + t]);
                }
                if (!(least < lambda)) continue;
                for (int t = 0; t < 8; t++) {
                    idx[k] = j + t;
                    k += e[j + t] < lambda;
                }
            }
            for (; j < m; j++) {
                e[j] -= lo;
                idx[k] = j;
                k += e[j] < lambda;
            }
            bound = lambda;
        } else {
            for (int j = 0; j < m; j++) e[j] -= lo;
            if (groups) groups->all = 1;
        }
    } else {
        for (int j = 0; j < m; j++) e[j] -= lo;
        if (groups) groups->all = 1;
        lambda = start = water_start(e, h, m, demand);
    }
    for (int it = 0; it < 2 * m + 20; it++) {
        double s1 = 0, s0 = 0;
        if (idx && k >= 0 && lambda <= bound && it == 0) {
            /* the entries below lambda, listed by the shift's loop */
            for (int t = 0; t < k; t++) {
                s1 += h[idx[t]];
                s0 += h[idx[t]] * e[idx[t]];
            }
        } else if (idx && k >= 0 && lambda <= bound) {
            /* without a branch (which entries stay is hard to predict):
             * one that leaves adds +0.0 to sums that are never -0.0 (h >
             * 0, e >= 0 here), which changes no bit */
            int kept = 0;
            for (int t = 0; t < k; t++) {
                int j = idx[t], below = e[j] < lambda;
                idx[kept] = j;
                kept += below;
                s1 += pick(below, h[j], 0.0);
                s0 += pick(below, h[j] * e[j], 0.0);
            }
            k = kept;
            bound = lambda;
        } else if (idx) {
            /* branch-free: which entries are below is hard to predict */
            shift_rest(e, m, lo, groups);
            k = 0;
            for (int j = 0; j < m; j++) {
                idx[k] = j;
                k += e[j] < lambda;
            }
            for (int t = 0; t < k; t++) {
                s1 += h[idx[t]];
                s0 += h[idx[t]] * e[idx[t]];
            }
            bound = lambda;
        } else {
            for (int j = 0; j < m; j++)
                if (e[j] < lambda) {
                    s1 += h[j];
                    s0 += h[j] * e[j];
                }
        }
        if (s1 == 0) {
            shift_rest(e, m, lo, groups);
            if (isnan(start)) start = water_start(e, h, m, demand);
            lambda = start;
            continue;
        }
        double next = (demand + s0) / s1;
        if (next == lambda) break;
        lambda = next;
    }
    if (used) *used = idx && k >= 0 && bound == lambda ? k : -1;
    if (used && *used < 0) shift_rest(e, m, lo, groups); /* the caller reads every entry */
    return lambda;
}

static void recompute_loads(PrillmEquilibriumSolver *s, const double *f, double *F) {
    int n = s->n, m = s->m;
    memset(F, 0, (size_t)m * sizeof(double));
    for (int i = 0; i < n; i++) {
        const double *row = f + (size_t)i * m;
#pragma omp simd
        for (int j = 0; j < m; j++) F[j] += row[j];
    }
    if (f == s->f && F == s->F) s->loads_fresh = 1;
}

/* F := recompute_loads(f), bit for bit, without the n x m pass where f's
 * nonzeros are known: the same additions in the same order, less those of
 * zeros (the flows are never -0, so adding +0 changes no sum) */
static void refresh_loads(PrillmEquilibriumSolver *s) {
    if (s->loads_fresh && !s->no_support) return;
    if (s->f_support != F_SUPPORT_PACK || s->f_rows_any) {
        recompute_loads(s, s->f, s->F);
        return;
    }
    memset(s->F, 0, (size_t)s->m * sizeof(double));
    long count = s->cert_start[s->n];
    for (long q = 0; q < count; q++) s->F[s->cert_index[q]] += s->cert_value[q];
    s->loads_fresh = 1;
}

/* Rows about to be swept (only: those flagged; NULL: every row) may gain
 * nonzeros anywhere: the support keeps them as rows, or is lost. */
static void support_rows_swept(PrillmEquilibriumSolver *s, const unsigned char *only) {
    s->loads_fresh = 0;
    if (s->f_support == F_SUPPORT_UNKNOWN) return;
    if (!only || s->f_support != F_SUPPORT_PACK) {
        s->f_support = F_SUPPORT_UNKNOWN;
        return;
    }
    if (!s->f_rows && !(s->f_rows = prillm__calloc((size_t)s->n, 1))) {
        s->f_support = F_SUPPORT_UNKNOWN;
        return;
    }
    for (int i = 0; i < s->n; i++) {
        s->f_rows[i] |= only[i];
        s->f_rows_any |= only[i];
    }
}

static void support_rows_clear(PrillmEquilibriumSolver *s) {
    if (s->f_rows_any) memset(s->f_rows, 0, (size_t)s->n);
    s->f_rows_any = 0;
}

/* f := 0, clearing only where f can be nonzero */
static void clear_flows(PrillmEquilibriumSolver *s) {
    int n = s->n, m = s->m;
    s->rows_unset = 0;
    if (s->f_support == F_SUPPORT_SWEPT) {
        for (int i = 0; i < n; i++) {
            double *row = s->f + (size_t)i * m;
            if (i + CERT_AHEAD < n)
                for (int q = s->swept_start[i + CERT_AHEAD]; q < s->swept_start[i + CERT_AHEAD + 1]; q++)
                    PRILLM__PREFETCH_WRITE(row + (size_t)CERT_AHEAD * m + (size_t)s->swept_prov[q]);
            for (int q = s->swept_start[i]; q < s->swept_start[i + 1]; q++) row[s->swept_prov[q]] = 0.0;
        }
    } else if (s->f_support == F_SUPPORT_ACTIVE) {
        /* about 1% of the flags are set: whole words of clear ones skipped */
        for (int i = 0; i < n; i++) {
            double *row = s->f + (size_t)i * m;
            const unsigned char *flag = s->active + (size_t)i * m;
            for (int j = prillm__next_flag(flag, 0, m); j < m; j = prillm__next_flag(flag, j + 1, m)) row[j] = 0.0;
        }
    } else if (s->f_support == F_SUPPORT_PACK) {
        for (int i = 0; i < n; i++) {
            double *row = s->f + (size_t)i * m;
            if (s->f_rows_any && s->f_rows[i]) memset(row, 0, (size_t)m * sizeof(double));
            else
                for (int q = s->cert_start[i]; q < s->cert_start[i + 1]; q++) row[s->cert_index[q]] = 0.0;
        }
    } else {
        memset(s->f, 0, (size_t)n * m * sizeof(double));
    }
    support_rows_clear(s);
    s->f_support = F_SUPPORT_UNKNOWN; /* all zero: the caller says what comes next */
    s->loads_fresh = 0;
}

/* How a user's water-filled split (x_j = (lambda - e_j) h_j over e_j <
 * lambda) is made to add up to its demand D exactly. Returns the split's
 * total before the correction; sets *absorb to the used entry with the
 * largest h_j (-1 if none) and either *shortfall (D - total, to add there)
 * or *fix (a factor for every flow) when that flow could not absorb it.
 * Over entries 0..k-1 of e and h, or (idx not NULL) over idx[0..k), the
 * ascending entries not above lambda, in that order; *absorb is an index
 * into e either way. */
static double split_correction(const double *e, const double *h, const int *idx, int k, double lambda, double D,
                               int *absorb, double *fix, double *shortfall) {
    double total = 0, widest = 0;
    *absorb = -1;
    for (int t = 0; t < k; t++) {
        int j = idx ? idx[t] : t;
        if (lambda > e[j]) {
            total += (lambda - e[j]) * h[j];
            if (h[j] > widest) widest = h[j], *absorb = j;
        }
    }
    *fix = 1.0;
    *shortfall = 0;
    if (total > 0 && *absorb >= 0 && (lambda - e[*absorb]) * h[*absorb] + (D - total) >= 0) *shortfall = D - total;
    else if (total > 0) *fix = D / total;
    return total;
}

/* One sweep over users; returns how many pairs changed between used and
 * unused, and the largest flow change relative to the user's demand. With
 * flags (n x m), also flags := f > 0 after the sweep. */
static long sweep_rows(PrillmEquilibriumSolver *s, double *max_change, unsigned char *flags, int rows_zero,
                       const unsigned char *only, const SweepSupport *in, SweepSupport *out);
static long sweep(PrillmEquilibriumSolver *s, double *max_change, unsigned char *flags) {
    return sweep_rows(s, max_change, flags, 0, NULL, NULL, NULL);
}

/* Room in out for count + m entries; 0, or -1 (out is then left invalid). */
static int support_room(SweepSupport *out, long count, int m) {
    if (count + m <= out->capacity) return 0;
    long cap = out->capacity > 0 ? out->capacity : 1024;
    while (cap < count + m) cap *= 2;
    int *bigger = realloc(out->prov, (size_t)cap * sizeof(int));
    if (!bigger) return -1;
    out->prov = bigger;
    out->capacity = cap;
    return 0;
}

/* rows_zero: every flow is 0 before the sweep (a cold start's first), so
 * no pair used before has to be cleared: the loop that looks for them over
 * all m providers of each row is left out (it would change nothing).
 * in (a full sweep only, NULL: unknown): f's nonzeros, listed by the last
 * full sweep; each row's flows are then read there alone, through own_row
 * (zero elsewhere, as the row is), in the same operations. out (NULL:
 * none): where this sweep leaves f nonzero. */
PRILLM__VECTOR_CLONES static long sweep_rows(PrillmEquilibriumSolver *s, double *max_change, unsigned char *flags,
                                             int rows_zero, const unsigned char *only, const SweepSupport *in,
                                             SweepSupport *out) {
    int n = s->n, m = s->m;
    long flips = 0;
    const double *slope = s->slope, *F = s->F;
    double biggest = 0;
    double *e = s->e_row;
    if (only || s->rows_unset || s->no_support || (in && !in->valid)) in = NULL;
    if (in && !s->own_row && !(s->own_row = prillm__calloc((size_t)m, sizeof(double)))) in = NULL;
    if (only) out = NULL;
    if (out) {
        out->valid = 0;
        if (!out->start && !(out->start = malloc(((size_t)n + 1) * sizeof(int)))) out = NULL;
    }
    long listed = 0;
    /* groups told to the water-filling where the pass for a pair left
     * needs no full shift: none to leave, or the row's flows listed */
    int group_rows = (rows_zero || in) && !only && !s->no_support;
    if (s->rows_unset && only) clear_flows(s); /* rows it skips must be zero too */
    support_rows_swept(s, only);
    for (int i = 0; i < n; i++) {
        if (only && !only[i]) continue;
        double *row = s->f + (size_t)i * m;
        const double *c = s->cost + (size_t)i * m;
        unsigned char *flag = flags ? flags + (size_t)i * m : NULL;
        double D = s->demand[i];
        if (s->rows_unset) memset(row, 0, (size_t)m * sizeof(double)); /* written whole below */
        /* the row's flows before the sweep: read where they are listed */
        const double *was = row;
        const int *sup = NULL;
        int sup_count = 0;
        if (in) {
            sup = in->prov + in->start[i];
            sup_count = in->start[i + 1] - in->start[i];
            for (int t = 0; t < sup_count; t++) s->own_row[sup[t]] = row[sup[t]];
            was = s->own_row;
            s->rows_listed++;
        }
        if (out && support_room(out, listed, m)) out = NULL;
        if (out) out->start[i] = (int)listed;
        /* the marginal costs and their least (min_of's, in one pass) */
        double e_min = INFINITY, start_at = INFINITY, two_D = 2.0 * D;
        ShiftGroups groups = {s->group_first, 0, s->group_shifted, 0}, *told = NULL;
        if (group_rows && D > 0) {
            /* by groups of eight, listing those that can hold an entry
             * below the multiplier (see ShiftGroups): the water-filling
             * then shifts and reads those alone. A group is listed when its
             * least is below the warm multiplier or the start so far (at
             * or above the final start, the least of the terms): which of
             * the two the water-filling starts from is known only with the
             * least of all (the second sweep's loads are higher than the
             * first's, and many a row's last multiplier is then below its
             * least; listing by the warm one alone took more work). */
            double warm = isfinite(s->lambda[i]) ? s->lambda[i] : -INFINITY;
            int j = 0;
            for (; j + 8 <= m; j += 8) {
                double least = INFINITY, start = INFINITY;
#pragma omp simd reduction(min : least, start)
                for (int t = j; t < j + 8; t++) {
                    e[t] = c[t] + slope[t] * (F[t] - was[t]);
                    least = MIN2(least, e[t]);
                    start = MIN2(start, e[t] + two_D * slope[t]);
                }
                e_min = MIN2(e_min, least);
                start_at = MIN2(start_at, start);
                groups.first[groups.count] = j;
                groups.count += least < MAX2(warm, start_at);
            }
            for (; j < m; j++) {
                e[j] = c[j] + slope[j] * (F[j] - was[j]);
                e_min = MIN2(e_min, e[j]);
                start_at = MIN2(start_at, e[j] + two_D * slope[j]);
            }
            memset(groups.shifted, 0, (size_t)(m / 8));
            told = &groups;
            s->rows_grouped++;
        } else {
#pragma omp simd reduction(min : e_min, start_at)
            for (int j = 0; j < m; j++) {
                e[j] = c[j] + slope[j] * (F[j] - was[j]);
                e_min = MIN2(e_min, e[j]);
                start_at = MIN2(start_at, e[j] + two_D * slope[j]);
            }
        }
        if (flag && in) /* set below where the new flow is positive; set now
                         * only where the last sweep left it so (the lists) */
            for (int t = 0; t < sup_count; t++) flag[sup[t]] = 0;
        else if (flag)
            for (int j = 0; j < m; j++) flag[j] = 0;
        if (D <= 0) {
            for (int j = 0; j < m; j++) {
                s->F[j] -= was[j];
                row[j] = 0;
            }
            double lo = INFINITY;
            for (int j = 0; j < m; j++) lo = MIN2(lo, e[j]);
            s->lambda[i] = lo;
            for (int t = 0; t < sup_count; t++) s->own_row[sup[t]] = 0.0;
            continue; /* no nonzero to list */
        }
        double lo;
        int *used_idx = s->support_row, used;
        double lambda = water_fill_from(e, s->half_inv, m, D, s->lambda[i], e_min, start_at, &lo, used_idx, &used,
                                        told); /* e, lambda from lo */
        s->lambda[i] = lo + lambda;
        /* (lambda - e_j) h_j loses digits when the user is tiny next to the
         * market; the split must still add up to its demand exactly. The
         * shortfall goes to the used provider with the largest h_j (the
         * flattest marginal cost: a huge model's flow is where the lost
         * digits are, and there the correction moves the marginal cost
         * least); spreading it in proportion instead would move a tiny
         * congested provider's marginal cost by slope * share of the
         * round-off, enough to break the certificate (1e-7 on the whole
         * OpenRouter market). Proportional only if that flow cannot absorb it. */
        int absorb;
        double fix, shortfall;
        double total = used >= 0 ? split_correction(e, s->half_inv, used_idx, used, lambda, D, &absorb, &fix, &shortfall)
                                 : split_correction(e, s->half_inv, NULL, m, lambda, D, &absorb, &fix, &shortfall);
        /* a demand so small (subnormal) that lambda - e_lo underflows to 0:
         * the limit of the split, the cheapest providers in proportion to
         * h_j */
        double tied = 0;
        if (!(total > 0)) {
            lambda = 0;
            shift_rest(e, m, lo, told);
            for (int j = 0; j < m; j++) tied += e[j] == 0 ? s->half_inv[j] : 0.0;
        }
        if (tied == 0 && used >= 0) {
            /* the new split lives on used_idx (exactly the entries below
             * lambda); elsewhere the flow becomes 0, which changes only
             * the pairs used before. Each pair is visited once, and the
             * results do not depend on the order. */
            for (int t = 0; t < used; t++) {
                int j = used_idx[t];
                double x = (lambda - e[j]) * s->half_inv[j] * fix;
                if (j == absorb) x += shortfall;
                if (flag) flag[j] = x > 0;
                double old = was[j];
                if (x == old) continue;
                if ((x > 0) != (old > 0)) flips++;
                biggest = MAX2(biggest, fabs(x - old) / D);
                s->F[j] += x - old;
                row[j] = x;
            }
            /* a pair left: where the row's flows are listed, those are
             * tested (the same pairs, visited in the same order) */
            for (int t = 0; t < sup_count && !rows_zero; t++) {
                int j = sup[t];
                double old = was[j];
                if (old == 0 || lambda > shifted_entry(e, j, m, lo, told)) continue; /* set above */
                if (old > 0) flips++;
                biggest = MAX2(biggest, fabs(old) / D);
                s->F[j] += 0.0 - old;
                row[j] = 0.0;
            }
            /* else it is rare: eight entries are tested at once, and only
             * a group holding one is visited pair by pair */
            for (int g = 0; g < m && !rows_zero && !in; g += 8) {
                int end = g + 8 <= m ? g + 8 : m, stale = 0;
                if (end - g == 8) {
#pragma omp simd reduction(| : stale)
                    for (int t = g; t < g + 8; t++) stale |= (was[t] != 0) & !(lambda > e[t]);
                    if (!stale) continue;
                }
                for (int j = g; j < end; j++) {
                    double old = was[j];
                    if (old == 0 || lambda > e[j]) continue; /* unused, or set above */
                    if (old > 0) flips++;
                    biggest = MAX2(biggest, fabs(old) / D);
                    s->F[j] += 0.0 - old;
                    row[j] = 0.0;
                }
            }
            for (int t = 0; t < sup_count; t++) s->own_row[sup[t]] = 0.0;
            if (out) /* the nonzeros: used entries (ascending) whose flow is not 0 */
                for (int t = 0; t < used; t++) {
                    out->prov[listed] = used_idx[t];
                    listed += row[used_idx[t]] != 0;
                }
            continue;
        }
        for (int j = 0; j < m; j++) {
            double x = tied > 0 ? (e[j] == 0 ? D * (s->half_inv[j] / tied) : 0.0)
                                : lambda > e[j] ? (lambda - e[j]) * s->half_inv[j] * fix : 0.0;
            if (j == absorb && tied == 0) x += shortfall;
            if (flag) flag[j] = x > 0;
            double old = was[j];
            if (x == old) continue; /* most pairs: unused before and after */
            if ((x > 0) != (old > 0)) flips++;
            biggest = MAX2(biggest, fabs(x - old) / D);
            s->F[j] += x - old;
            row[j] = x;
        }
        for (int t = 0; t < sup_count; t++) s->own_row[sup[t]] = 0.0;
        if (out)
            for (int j = 0; j < m; j++) {
                out->prov[listed] = j;
                listed += row[j] != 0;
            }
    }
    if (out) {
        out->start[n] = (int)listed;
        out->valid = 1;
    }
    s->rows_unset = 0; /* every row written */
    *max_change = biggest;
    return flips;
}

/* The exact solve's flows polished user by user on the solve's own
 * support: each user's best response to the others' loads restricted to the
 * providers it uses. It does for the split of a tiny user (a difference of
 * large provider totals in the reduced formulas) what a full sweep does, at
 * the cost of the support instead of all m providers; the certificate that
 * follows checks every pair, and a failure falls back to a full sweep. */
static void polish_support(PrillmEquilibriumSolver *s) {
    const PrillmActiveSystem *sys = &s->system;
    int m = s->m;
    /* writes on the pattern only: a pack taken on it stays within it */
    s->loads_fresh = 0;
    if (s->f_support == F_SUPPORT_PACK)
        s->f_support = s->pack_on_pattern && !s->f_rows_any ? F_SUPPORT_PATTERN : F_SUPPORT_UNKNOWN;
    else if (s->f_support == F_SUPPORT_SWEPT || s->f_support == F_SUPPORT_ACTIVE)
        s->f_support = F_SUPPORT_UNKNOWN;
    double *e = s->e_row, *h = s->h_row;
    int *idx = s->support_row;
    for (int i = 0; i < s->n; i++) {
        double D = s->demand[i];
        if (D <= 0) continue;
        double *row = s->f + (size_t)i * m;
        /* the row's costs and flows on the pattern from their packed
         * copies (the rhs's, and take_exact_flows's kept by the polishes):
         * the same numbers as c_ij and f_ij, without a cache miss each */
        const int first = sys->user_start[i];
        const double *cost = sys->pair_cost + first;
        double *flow = s->pair_flow + first;
        int k = 0;
        for (int q = first; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            idx[k] = j;
            e[k] = cost[k] + s->slope[j] * (s->F[j] - flow[k]);
            h[k] = s->half_inv[j];
            k++;
        }
        if (k == 0) continue;
        double lo;
        double lambda = water_fill(e, h, k, D, s->lambda[i], &lo, NULL, NULL);
        int absorb;
        double fix, shortfall;
        if (!(split_correction(e, h, NULL, k, lambda, D, &absorb, &fix, &shortfall) > 0))
            continue; /* underflow: the full sweep's tie rule handles it */
        s->lambda[i] = lo + lambda;
        for (int t = 0; t < k; t++) {
            int j = idx[t];
            double x = lambda > e[t] ? (lambda - e[t]) * h[t] * fix : 0.0;
            if (t == absorb) x += shortfall;
            s->F[j] += x - flow[t];
            row[j] = flow[t] = x;
        }
    }
}

/* ---- certificate ------------------------------------------------------ */

/* The certificate, from flows alone.
 * F is recomputed here rather than trusted from the solver. */
static void certify_flows(int n, int m, const double *cost, const double *slope, const double *demand,
                          const double *f, double *F, double *lambda_out, int *nonzero, PrillmEquilibriumInfo *info) {
    memset(F, 0, (size_t)m * sizeof(double));
    for (int i = 0; i < n; i++) {
        const double *row = f + (size_t)i * m;
#pragma omp simd
        for (int j = 0; j < m; j++) F[j] += row[j];
    }
    double kkt = 0, demand_res = 0, potential = 0, dmax = 0;
    long active = 0;
    for (int i = 0; i < n; i++) dmax = MAX2(dmax, demand[i]);
    for (int j = 0; j < m; j++) potential += 0.5 * slope[j] * F[j] * F[j];
    for (int i = 0; i < n; i++) {
        const double *row = f + (size_t)i * m;
        const double *c = cost + (size_t)i * m;
        double D = demand[i], sum = 0, weighted = 0, scale = 0, lowest = INFINITY;
        if (D > 0 && nonzero) {
            /* The same numbers as the loops below, in two passes a long
             * sparse row runs through quickly. A zero flow adds nothing to
             * the sums (its terms are zeros), and its KKT term
             * |min(0, (g - lambda) / scale)| is largest at the smallest g:
             * rounding is monotone, so the largest of those terms is the
             * term of the smallest g, computed once. */
            int k = 0;
            for (int j = 0; j < m; j++) {
                nonzero[k] = j;
                k += row[j] != 0;
            }
            for (int t = 0; t < k; t++) {
                int j = nonzero[t];
                double g = c[j] + slope[j] * (F[j] + row[j]);
                sum += row[j];
                weighted += row[j] / D * g;
                if (row[j] > 0) {
                    scale = MAX2(scale, fabs(c[j]) + slope[j] * (F[j] + row[j]));
                    active++;
                }
                potential += row[j] * (c[j] + 0.5 * slope[j] * row[j]);
            }
            double lambda = weighted;
            if (lambda_out) lambda_out[i] = lambda;
            demand_res = MAX2(demand_res, fabs(sum - D) / D);
            if (scale == 0) scale = fabs(lambda) > 0 ? fabs(lambda) : 1.0;
            for (int t = 0; t < k; t++) {
                int j = nonzero[t];
                double g = c[j] + slope[j] * (F[j] + row[j]);
                double r = MIN2(row[j] / D, (g - lambda) / scale);
                kkt = MAX2(kkt, fabs(r));
            }
            double g_zero = INFINITY; /* smallest g over the zero flows */
#pragma omp simd reduction(min : g_zero)
            for (int j = 0; j < m; j++) {
                double g = row[j] == 0 ? c[j] + slope[j] * (F[j] + row[j]) : INFINITY;
                g_zero = MIN2(g_zero, g);
            }
            if (k < m) {
                double r = MIN2(0.0, (g_zero - lambda) / scale);
                kkt = MAX2(kkt, fabs(r));
            }
            continue;
        }
        for (int j = 0; j < m; j++) {
            double g = c[j] + slope[j] * (F[j] + row[j]);
            sum += row[j];
            weighted += D > 0 ? row[j] / D * g : 0.0; /* in D's scale: no underflow for tiny D */
            lowest = MIN2(lowest, g);
            if (row[j] > 0) {
                scale = MAX2(scale, fabs(c[j]) + slope[j] * (F[j] + row[j]));
                active++;
            }
            potential += row[j] * (c[j] + 0.5 * slope[j] * row[j]);
        }
        double lambda = D > 0 ? weighted : lowest;
        if (lambda_out) lambda_out[i] = lambda;
        if (D > 0) {
            demand_res = MAX2(demand_res, fabs(sum - D) / D);
            if (scale == 0) scale = fabs(lambda) > 0 ? fabs(lambda) : 1.0;
            for (int j = 0; j < m; j++) {
                double g = c[j] + slope[j] * (F[j] + row[j]);
                double r = MIN2(row[j] / D, (g - lambda) / scale);
                kkt = MAX2(kkt, fabs(r));
            }
        } else {
            /* a user without demand must send nothing */
            double ref = dmax > 0 ? dmax : 1.0;
            for (int j = 0; j < m; j++) kkt = MAX2(kkt, fabs(row[j]) / ref);
            demand_res = MAX2(demand_res, fabs(sum) / ref);
        }
    }
    if (isnan(kkt) || isnan(demand_res)) kkt = demand_res = INFINITY;
    info->kkt_violation = MAX2(kkt, demand_res);
    info->demand_residual = demand_res;
    info->potential = potential;
    info->active_pairs = active;
}

PrillmErrorCode prillm_equilibrium_certify(const PrillmMarket *market, const double *flows, double *lambda,
                                           PrillmEquilibriumInfo *info, PrillmError *err) {
    if (!flows || !info) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "flows or info is NULL");
    memset(info, 0, sizeof *info);
    info->status = PRILLM_STATUS_UNSOLVED;
    info->kkt_violation = info->demand_residual = info->potential = info->seconds = NAN;
    if (market && lambda && market->n_users > 0) prillm__fill_nan(lambda, (size_t)market->n_users);
    PrillmErrorCode rc = prillm_market_validate(market, err);
    if (rc) return rc;
    int n = market->n_users, m = market->n_providers;
    size_t nm = (size_t)n * m;
    for (size_t k = 0; k < nm; k++)
        if (!isfinite(flows[k]))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "flows[%zu][%zu] is not finite", k / (size_t)m,
                                k % (size_t)m);
    double *cost = prillm__calloc(nm, sizeof(double));
    double *slope = prillm__calloc((size_t)m, sizeof(double));
    double *F = prillm__calloc((size_t)m, sizeof(double));
    if (!cost || !slope || !F) {
        free(cost);
        free(slope);
        free(F);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) cost[(size_t)i * m + j] = prillm__user_cost(market, i, j, market->price[j]);
    for (int j = 0; j < m; j++) slope[j] = market->w_congestion / market->capacity[j];
    certify_flows(n, m, cost, slope, market->demand, flows, F, lambda, NULL, info);
    info->seconds = 0;
    free(cost);
    free(slope);
    free(F);
    return PRILLM_OK;
}

/* ---- the exact method ------------------------------------------------- */

static int out_of_time(const PrillmEquilibriumSolver *s, double t0) {
    return s->settings.time_limit > 0 && prillm__now() - t0 > s->settings.time_limit;
}

/* Sweep until the used/unused pattern stops changing (or the flows stop
 * moving), at most limit sweeps; then active := f > 0, written by the
 * sweeps as they go (no pass over f afterwards). */
static void presweep(PrillmEquilibriumSolver *s, int limit, PrillmEquilibriumInfo *info, double t0) {
    int zero = s->flows_zero;
    s->n_round_rows = -1; /* the sweeps write the whole set */
    s->empty_rows_known = 0;
    if (zero) memset(s->F, 0, (size_t)s->m * sizeof(double)); /* a cold start: no pass to sum zeros */
    else recompute_loads(s, s->f, s->F);
    s->flows_zero = 0;
    int swept = 0;
    for (int k = 0; k < limit && info->sweeps < s->settings.max_sweeps; k++) {
        double change;
        /* each sweep lists where it leaves f nonzero, for the next one */
        SweepSupport *in = k > 0 ? &s->sweep_support[(k - 1) & 1] : NULL, *out = &s->sweep_support[k & 1];
        long flips = sweep_rows(s, &change, s->active, k == 0 && zero, NULL, in, out);
        swept = 1;
        info->sweeps++;
        if ((flips == 0 && k > 0) || change < 1e-14 || out_of_time(s, t0)) break;
    }
    size_t nm = (size_t)s->n * (size_t)s->m;
    if (!swept) {
        if (s->rows_unset) clear_flows(s);
        for (size_t k = 0; k < nm; k++) s->active[k] = s->f[k] > 0;
    } else if (!s->no_support) {
        /* every row swept: active is exactly f > 0, until the rounds change
         * it; its pattern, kept by the next round, lets take_exact_flows
         * clear f where it is nonzero instead of all of it (a pass over
         * 40 MB at 10000 x 500) */
        s->f_support = F_SUPPORT_ACTIVE;
    }
}

void prillm__equilibrium_set_enter_cap(PrillmEquilibriumSolver *s, int on) {
    if (s) s->no_enter_cap = !on;
}

long prillm__equilibrium_capped_rows(const PrillmEquilibriumSolver *s, long *listed) {
    if (listed) *listed = s ? s->capped_listed : 0;
    return s ? s->capped_rows : 0;
}

void prillm__equilibrium_set_screen(PrillmEquilibriumSolver *s, int on) {
    if (!s) return;
    s->screen.off = !on;
    s->screen.valid = 0;
}

void prillm__equilibrium_sweep_counters(const PrillmEquilibriumSolver *s, long *rows_listed, long *rows_grouped) {
    if (rows_listed) *rows_listed = s ? s->rows_listed : 0;
    if (rows_grouped) *rows_grouped = s ? s->rows_grouped : 0;
}

void prillm__equilibrium_column_counters(const PrillmEquilibriumSolver *s, long *spared, long *read, long *entered) {
    if (spared) *spared = s ? s->screen.cols_spared : 0;
    if (read) *read = s ? s->screen.cols_read : 0;
    if (entered) *entered = s ? s->screen.cols_entered : 0;
}

void prillm__equilibrium_check_column_bounds(PrillmEquilibriumSolver *s, int on) {
    if (s) s->screen.check_bounds = on;
}

void prillm__equilibrium_column_bound_checks(const PrillmEquilibriumSolver *s, long *checked, long *broken) {
    if (checked) *checked = s ? s->screen.bounds_checked : 0;
    if (broken) *broken = s ? s->screen.bounds_broken : 0;
}

void prillm__equilibrium_screen_counters(const PrillmEquilibriumSolver *s, long *rebuilds, long *listed_rows,
                                         long *full_rows) {
    if (rebuilds) *rebuilds = s ? s->screen.rebuilds : 0;
    if (listed_rows) *listed_rows = s ? s->screen.screened_rows : 0;
    if (full_rows) *full_rows = s ? s->screen.full_rows : 0;
}

const unsigned char *prillm__equilibrium_last_set(const PrillmEquilibriumSolver *s) {
    return s && s->warm_exact ? s->active : NULL;
}

long prillm__equilibrium_cert_rows_bounded(const PrillmEquilibriumSolver *s) { return s ? s->cert_rows_bounded : 0; }

int prillm__equilibrium_last_set_rows(const PrillmEquilibriumSolver *s, const int **start, const int **prov) {
    /* a solved exact solve's last round changed nothing: its set is the
     * factored pattern */
    if (!s || !s->warm_exact || s->n_round_rows != 0 || !s->system.csr_valid) return 0;
    *start = s->system.user_start;
    *prov = s->system.user_prov;
    return 1;
}

int prillm__equilibrium_flow_pack(const PrillmEquilibriumSolver *s, const int **start, const int **index,
                                  const double **value) {
    /* the certificate's pack, while f has not moved since it was taken */
    if (!s || s->f_support != F_SUPPORT_PACK || s->f_rows_any || !s->cert_start) return 0;
    *start = s->cert_start;
    *index = s->cert_index;
    *value = s->cert_value;
    return 1;
}

void prillm__equilibrium_set_local_start(PrillmEquilibriumSolver *s, int on) {
    if (s) s->no_local = !on;
}

void prillm__equilibrium_set_row_hints(PrillmEquilibriumSolver *s, int on) {
    if (s) s->no_row_hints = !on;
}

long prillm__equilibrium_rows_told(const PrillmEquilibriumSolver *s) { return s ? s->rows_told : 0; }

void prillm__equilibrium_set_keep_outputs(PrillmEquilibriumSolver *s, int on) {
    if (s) s->keep_outputs = on != 0;
}

void prillm__equilibrium_set_lazy_polish(PrillmEquilibriumSolver *s, int on) {
    if (s) s->lazy_polish = on != 0;
}

long prillm__equilibrium_lazy_certified(const PrillmEquilibriumSolver *s) { return s ? s->lazy_certified : 0; }

void prillm__equilibrium_set_support_tracking(PrillmEquilibriumSolver *s, int on) {
    if (!s) return;
    s->no_support = !on;
    s->f_support = F_SUPPORT_UNKNOWN;
    s->loads_fresh = 0;
}

/* The screen's arrays, at the first round that uses them; 0 or -1. */
static int screen_alloc(PrillmEquilibriumSolver *s) {
    Screen *sc = &s->screen;
    if (sc->list && sc->list_cost && sc->theta && sc->nu_ref && sc->load_ref && sc->dirty && sc->cols && sc->skip &&
        sc->col_change)
        return 0;
    size_t n = (size_t)s->n, m = (size_t)s->m;
    free(sc->list); /* a part left by an earlier failure */
    free(sc->list_cost);
    free(sc->theta);
    free(sc->nu_ref);
    free(sc->load_ref);
    free(sc->dirty);
    free(sc->cols);
    free(sc->skip);
    free(sc->col_change);
    sc->list = malloc(n * SCREEN_LIST * sizeof(int));
    sc->list_cost = malloc(n * SCREEN_LIST * sizeof(double));
    sc->theta = malloc(n * sizeof(double));
    sc->nu_ref = malloc(n * sizeof(double));
    sc->load_ref = malloc(m * sizeof(double));
    sc->dirty = prillm__calloc(m, 1);
    sc->cols = malloc(m * sizeof(int));
    sc->skip = prillm__calloc(m, 1);
    sc->col_change = malloc(m * sizeof(double));
    sc->valid = 0;
    if (!sc->list || !sc->list_cost || !sc->theta || !sc->nu_ref || !sc->load_ref || !sc->dirty || !sc->cols ||
        !sc->skip || !sc->col_change)
        return -1;
    return 0;
}

/* Column j, whose load a_j F_j changed by `change` since the screen was
 * built, is tested pair by pair (listed in cols, with its change; -inf
 * when its costs moved) when its costs moved or its load fell by more than
 * delta; 1 if so. Else the caller counts it in the drop of every row's
 * bound. The rounds and the certificate share this rule. */
static int tested_column(Screen *sc, int j, double change, int *n_cols) {
    if (!(sc->dirty[j] || change < -sc->delta)) return 0;
    sc->col_change[*n_cols] = sc->dirty[j] ? -INFINITY : change;
    sc->cols[(*n_cols)++] = j;
    return 1;
}

/* Tests: a pair of row i in a column tested pair by pair that the
 * column's bound spared, with its reduced cost v read after all: an
 * unlisted pair's v must be at or above the bound (a listed one was
 * tested with its list). */
static void check_column_bound(Screen *sc, int i, double v, int j, double bound) {
    const int *list = sc->list + (size_t)i * SCREEN_LIST;
    for (int t = 0; t < SCREEN_LIST && list[t] >= 0; t++)
        if (list[t] == j) return;
    sc->bounds_checked++;
    if (!(v >= bound)) sc->bounds_broken++;
}

/* The SCREEN_LIST + 1 smallest of v[j] over j in 0..count (idx NULL) or
 * over j = idx[0..count), ascending, with their j in `at`, by insertion
 * into a short sorted array (after the first few entries almost every v
 * is rejected by one comparison); returns how many (fewer when count is
 * small). */
static int smallest(const double *v, const int *idx, int count, double *best, int *at) {
    int keep = SCREEN_LIST + 1, k = 0;
    for (int q = 0; q < count; q++) {
        int j = idx ? idx[q] : q;
        double x = v[j];
        if (k == keep && !(x < best[keep - 1])) continue;
        int t = k < keep ? k++ : keep - 1;
        while (t > 0 && best[t - 1] > x) {
            best[t] = best[t - 1];
            at[t] = at[t - 1];
            t--;
        }
        best[t] = x;
        at[t] = j;
    }
    return k;
}

/* In a round at most this many of a row's pairs enter, its most negative
 * ones (the others, if still below the multiplier, in the next rounds).
 * Letting every candidate in overshot: after a cold start's sweeps most
 * rows of a 10000 x 500 market had several marginal costs just below
 * their multiplier (56,846 active pairs, 50,900 entering, 86,348 in the
 * next round, 57,436 at the end, 8 rounds); with 8 the set grows less and
 * the solve took 7 rounds and 12 to 19% less time. On the calibrated
 * market, whose apps use dozens of models, warm solves after a large move
 * took up to a third fewer rounds (`openai/gpt-4`'s pruning solves 133 ->
 * 113 rounds, 123 -> 85 ms). 4 and 12 did no better. */
#define ENTER_CAP 8

/* Whether pair (i, j) is in the system's pattern. */
static int in_row(const PrillmActiveSystem *sys, int i, int j) {
    for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
        if (sys->user_prov[q] == j) return 1;
    return 0;
}

static int more_negative(const double *v, int j, int k) {
    return v[j] < v[k] || (v[j] == v[k] && j < k);
}

/* Of the count pairs that just entered a row (entered, in any order, with
 * their reduced costs in v), only the cap (<= ENTER_CAP) most negative
 * stay in act (ties: the lower provider, so that every path through the
 * row keeps the same ones); returns how many stay. */
static int keep_most_negative(unsigned char *act, const double *v, const int *entered, int count, int cap) {
    if (count <= cap) return count;
    int keep[ENTER_CAP], kept = 0;
    for (int e = 0; e < count; e++) {
        int j = entered[e];
        if (kept == cap && !more_negative(v, j, keep[cap - 1])) continue;
        int t = kept < cap ? kept++ : cap - 1;
        while (t > 0 && more_negative(v, j, keep[t - 1])) {
            keep[t] = keep[t - 1];
            t--;
        }
        keep[t] = j;
    }
    for (int e = 0; e < count; e++) act[entered[e]] = 0;
    for (int t = 0; t < kept; t++) act[keep[t]] = 1;
    return kept;
}

/* Row i of a rebuild: the full candidates' test of the row (returns the
 * pairs entering), and the row's screen. v (scratch of m) receives the
 * reduced costs v_j = c_j + L_j - nu (the test's own expression), eight at
 * a time, with their minimum: a block with none below the cut only updates
 * theta; the providers below it (compacted) are the list, theta the
 * smallest v of the others. A row with more than SCREEN_LIST below the cut
 * keeps its SCREEN_LIST smallest instead. At most cap pairs enter, the
 * most negative (entered: scratch of m; a row cut to them counts in
 * *capped). */
PRILLM__VECTOR_CLONES static long screen_row(Screen *sc, int i, const double *c, const double *load_cost, double nu,
                                             double limit, unsigned char *act, double *v, int m, int *idx, int cap,
                                             int *entered, long *capped) {
    int *list = sc->list + (size_t)i * SCREEN_LIST;
    double *list_cost = sc->list_cost + (size_t)i * SCREEN_LIST;
    double cut = sc->cut, above = INFINITY;
    long added = 0;
    int k = 0, j = 0;
    for (; j + 8 <= m; j += 8) {
        double low = INFINITY;
#pragma omp simd reduction(min : low)
        for (int t = 0; t < 8; t++) {
            double x = c[j + t] + load_cost[j + t] - nu;
            v[j + t] = x;
            low = MIN2(low, x);
        }
        /* a pair enters only below the limit: rare, so tested by the
         * group's least first */
        if (low < limit)
            for (int t = 0; t < 8; t++) {
                unsigned char enter = (unsigned char)((act[j + t] == 0) & (v[j + t] < limit));
                act[j + t] |= enter;
                entered[added] = j + t; /* kept only where it entered */
                added += enter;
            }
        if (!(low < cut)) {
            above = MIN2(above, low);
            continue;
        }
        for (int t = 0; t < 8; t++) {
            double x = v[j + t];
            idx[k] = j + t;
            k += x < cut;
            above = MIN2(above, x < cut ? INFINITY : x);
        }
    }
    for (; j < m; j++) {
        double x = c[j] + load_cost[j] - nu;
        unsigned char enter = (unsigned char)((act[j] == 0) & (x < limit));
        act[j] |= enter;
        entered[added] = j;
        added += enter;
        v[j] = x;
        idx[k] = j;
        k += x < cut;
        above = MIN2(above, x < cut ? INFINITY : x);
    }
    if (added > cap) {
        added = keep_most_negative(act, v, entered, (int)added, cap);
        (*capped)++;
    }
    if (k <= SCREEN_LIST) {
        for (int t = 0; t < k; t++) {
            list[t] = idx[t];
            list_cost[t] = c[idx[t]];
        }
        if (k < SCREEN_LIST) list[k] = -1;
        sc->theta[i] = above;
        return added;
    }
    /* more than SCREEN_LIST below the cut: the smallest among those (the
     * others are all above them) */
    double best[SCREEN_LIST + 1];
    int at[SCREEN_LIST + 1];
    smallest(v, idx, k, best, at); /* k > SCREEN_LIST: all SCREEN_LIST + 1 */
    /* by provider, as every list is (the rounds merge it with the row's
     * pattern, sorted by provider too) */
    for (int a = 1; a < SCREEN_LIST; a++)
        for (int b = a; b > 0 && at[b - 1] > at[b]; b--) {
            int swap = at[b];
            at[b] = at[b - 1];
            at[b - 1] = swap;
        }
    for (int t = 0; t < SCREEN_LIST; t++) {
        list[t] = at[t];
        list_cost[t] = c[at[t]];
    }
    sc->theta[i] = MIN2(best[SCREEN_LIST], above);
    return added;
}

/* A warm start after update_price moved a price by more than 5%: the
 * users the move concerns (those that used a moved provider, and those to
 * whom it is now cheaper than their multiplier) answer the new prices by
 * one water-filling each, in turn (Gauss-Seidel), and their rows of the
 * active set become their new supports. After a price rise at 5000 x 500
 * that takes 3 rounds instead of 4 to 6. A cut that concerns more than a
 * quarter of the users is left to the rounds (sweeping them all took more
 * rounds, not fewer). Not after prillm__equilibrium_seed_active: the
 * caller's set is the better start. Only a start: the rounds correct it
 * and certify the answer as always. */
static void local_sweep(PrillmEquilibriumSolver *s) {
    int n = s->n, m = s->m;
    if (!s->local_rows) s->local_rows = prillm__calloc((size_t)n, 1);
    unsigned char *only = s->local_rows;
    if (!only) return; /* only a start: none */
    long count = 0;
    memset(only, 0, (size_t)n);
    for (int p = 0; p < m; p++) {
        if (!s->moved[p]) continue;
        double load = s->slope[p] * s->F[p];
        for (int i = 0; i < n; i++) {
            size_t k = (size_t)i * m + p;
            int affected = s->f[k] > 0 || (isfinite(s->lambda[i]) && s->cost[k] + load < s->lambda[i]);
            count += affected && !only[i];
            only[i] |= (unsigned char)affected;
        }
    }
    if (count == 0 || count > n / 4) return; /* a price cut that concerns most users: the rounds do better */
    double change;
    s->n_round_rows = -1;
    s->empty_rows_known = 0;
    sweep_rows(s, &change, s->active, 0, only, NULL, NULL);
}

/* One exact solve on the current active set, then the active-set
 * correction. Returns the number of violated pairs (0 = KKT holds on the
 * set's own terms), -1 if the system could not be factored or gave
 * non-finite flows, -2 if memory ran out. */
/* f_support ACTIVE -> SWEPT: the pattern just factored holds `active`
 * (the pre-sweeps' f > 0, plus a provider for a row left without one and
 * less the flags of rows without demand, whose flows are 0): a copy of its
 * rows says where f can be nonzero while the rounds change `active`. */
static void keep_swept_support(PrillmEquilibriumSolver *s) {
    const PrillmActiveSystem *sys = &s->system;
    int n = s->n;
    s->f_support = F_SUPPORT_UNKNOWN;
    if (!s->swept_start && !(s->swept_start = malloc(((size_t)n + 1) * sizeof(int)))) return;
    if (sys->n_pairs >= s->swept_capacity) { /* room for one at least: never a NULL to copy into */
        int *bigger = realloc(s->swept_prov, ((size_t)sys->n_pairs + 1) * sizeof(int));
        if (!bigger) return;
        s->swept_prov = bigger;
        s->swept_capacity = sys->n_pairs + 1;
    }
    memcpy(s->swept_start, sys->user_start, ((size_t)n + 1) * sizeof(int));
    memcpy(s->swept_prov, sys->user_prov, (size_t)sys->n_pairs * sizeof(int));
    s->f_support = F_SUPPORT_SWEPT;
}

static long exact_round(PrillmEquilibriumSolver *s) {
    int n = s->n, m = s->m;
    double tiny = 1e-3 * s->settings.tolerance;
    int cap = s->no_enter_cap ? INT_MAX : ENTER_CAP;
    /* the pattern is about to change */
    if (s->f_support == F_SUPPORT_PATTERN) s->f_support = F_SUPPORT_UNKNOWN;
    s->pack_on_pattern = 0;
    /* every user with demand keeps at least one provider; the rows this
     * changes join the last round's changed rows (both ascending) */
    int *changed = s->changed_rows, n_changed = 0;
    int known = s->n_round_rows >= 0 && !s->no_row_hints && changed;
    int from_last = 0, n_last = known ? s->n_round_rows : 0;
    int scan_all = !s->empty_rows_known || s->no_row_hints, n_scan = scan_all ? n : s->n_empty_rows;
    for (int k = 0; k < n_scan; k++) {
        int i = scan_all ? k : s->empty_rows[k];
        unsigned char *act = s->active + (size_t)i * m;
        /* eight flags at a time: rows are long and mostly clear */
        int any = 0, j = 0;
        for (; j + 8 <= m && !any; j += 8) {
            uint64_t word;
            memcpy(&word, act + j, sizeof word);
            any = word != 0;
        }
        for (; j < m && !any; j++) any = act[j];
        if (s->demand[i] <= 0) {
            if (!any) continue;
            memset(act, 0, (size_t)m);
        } else if (!any) {
            int best = 0;
            const double *c = s->cost + (size_t)i * m;
            for (int j = 1; j < m; j++)
                if (c[j] + s->slope[j] * s->F[j] < c[best] + s->slope[best] * s->F[best]) best = j;
            act[best] = 1;
        } else {
            continue;
        }
        if (!known) continue;
        while (from_last < n_last && s->round_rows[from_last] < i) changed[n_changed++] = s->round_rows[from_last++];
        if (from_last < n_last && s->round_rows[from_last] == i) from_last++;
        changed[n_changed++] = i;
    }
    while (known && from_last < n_last) changed[n_changed++] = s->round_rows[from_last++];
    s->n_round_rows = -1;
    /* every row with demand has a pair now, the others none: the loop
     * below lists the rows it empties */
    if (!s->empty_rows) s->empty_rows = malloc((size_t)n * sizeof(int));
    s->empty_rows_known = s->empty_rows != NULL;
    s->n_empty_rows = 0;
    s->rows_told += known;
    int rc = known ? prillm__system_factor_rows(&s->system, s->active, changed, n_changed)
                   : prillm__system_factor(&s->system, s->active);
    if (rc < 0) return -2;
    if (rc) return -1;
    if (s->f_support == F_SUPPORT_ACTIVE) keep_swept_support(s);
    /* the rows changed below (none known if there is no room to list them) */
    if (!s->round_rows) s->round_rows = malloc((size_t)n * sizeof(int));
    if (!s->changed_rows) s->changed_rows = malloc((size_t)n * sizeof(int));
    int n_round_rows = s->round_rows && s->changed_rows ? 0 : -1;
    const PrillmActiveSystem *sys = &s->system;
    if (sys->n_pairs > s->pair_capacity) {
        double *bigger = realloc(s->pair_flow, (size_t)sys->n_pairs * sizeof(double));
        if (!bigger) return -2;
        s->pair_flow = bigger;
        s->pair_capacity = sys->n_pairs;
    }
    if (s->cost_moved == -2) prillm__system_rhs(&s->system, s->cost, s->demand, s->rhs);
    else prillm__system_rhs_moved(&s->system, s->cost, s->cost_moved, s->demand, s->rhs);
    s->cost_moved = -1;
    prillm__system_solve(&s->system, s->rhs, s->nu);
    prillm__system_flows(sys, s->nu, s->exact_F, s->pair_flow);
    for (long q = 0; q < sys->n_pairs; q++)
        if (!isfinite(s->pair_flow[q])) return -1; /* let the sweeps carry on */
    long violations = 0;
    /* a_j F_j once per round: the candidates' test below is then a
     * branch-free loop over the row that the compiler vectorises (it was
     * the largest part of a cold 10000 x 500 solve, a third of its time) */
    double *load_cost = s->e_row, *v = s->h_row;
    for (int j = 0; j < m; j++) load_cost[j] = s->slope[j] * s->exact_F[j];
    /* The screen (see Screen): rebuild, use, or (small markets) none */
    Screen *sc = &s->screen;
    int use_screen = 0, rebuild = 0, n_cols = 0, full_rows = 0;
    double drop_min = 0, load_max = 0;
    if (!sc->off && m >= SCREEN_MIN_PROVIDERS && screen_alloc(s) == 0) {
        rebuild = 1;
        if (sc->valid) {
            drop_min = INFINITY;
            for (int j = 0; j < m; j++) {
                double change = load_cost[j] - sc->load_ref[j];
                load_max = MAX2(load_max, MAX2(load_cost[j], sc->load_ref[j]));
                if (!tested_column(sc, j, change, &n_cols)) drop_min = MIN2(drop_min, change);
            }
            if (!(drop_min <= 0)) drop_min = 0;
            rebuild = n_cols > m / 8;
        }
        use_screen = !rebuild;
        if (rebuild) {
            /* the cut: from a sample of rows, the median of their
             * (2/3 SCREEN_LIST)-th smallest v, so that most rows list
             * fewer than SCREEN_LIST below it */
            double sample[64], best[SCREEN_LIST + 1];
            int at[SCREEN_LIST + 1], k = 0;
            for (int i = 0; i < n && k < 64; i += 1 + n / 64) {
                if (s->demand[i] <= 0) continue;
                const double *c = s->cost + (size_t)i * m;
                for (int j = 0; j < m; j++) v[j] = c[j] + load_cost[j] - s->nu[i];
                int got = smallest(v, NULL, m, best, at);
                sample[k++] = best[got < 2 * SCREEN_LIST / 3 ? got - 1 : 2 * SCREEN_LIST / 3 - 1];
            }
            for (int a = 1; a < k; a++)
                for (int b = a; b > 0 && sample[b - 1] > sample[b]; b--) {
                    double t = sample[b];
                    sample[b] = sample[b - 1];
                    sample[b - 1] = t;
                }
            sc->cut = k > 0 ? sample[k / 2] : INFINITY;
        }
    }
    for (int i = 0; i < n; i++) {
        if (s->demand[i] <= 0) continue;
        unsigned char *act = s->active + (size_t)i * m;
        const double *c = s->cost + (size_t)i * m;
        double scale = 0, least_flow = 0;
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            double x = MAX2(s->pair_flow[q], 0.0);
            least_flow = MIN2(least_flow, s->pair_flow[q]);
            scale = MAX2(scale, fabs(sys->pair_cost[q]) + s->slope[j] * (s->exact_F[j] + x)); /* c_ij */
        }
        /* The candidates first, while `act` is still exactly the set in the
         * system: a pair outside it whose marginal cost undercuts the
         * user's multiplier enters. (A pair the loop after this drops has
         * a marginal cost above the multiplier by more than round-off, so
         * the order does not matter.) */
        double nu = s->nu[i], limit = -tiny * scale;
        long added = 0;
        int full = 1;
        if (use_screen) {
            /* round-off of v^R and of v (each two operations on numbers
             * at most cost_max + load_max + |nu|), of the differences and
             * of this bound's own sums (about 15 units of S in all; 64 of
             * them here, still far below a typical theta) */
            double margin = 64 * DBL_EPSILON * (sc->cost_max + load_max + fabs(nu) + fabs(sc->nu_ref[i]));
            double bound = sc->theta[i] + drop_min - (nu - sc->nu_ref[i]) - margin;
            if (bound >= limit) {
                full = 0;
                const int *list = sc->list + (size_t)i * SCREEN_LIST;
                const double *list_cost = sc->list_cost + (size_t)i * SCREEN_LIST;
                /* The listed pairs not in the row's pattern (exactly `act`
                 * now; prillm__open_entries, not the row's flags: a cache
                 * miss or two a row) enter below the limit, unless their
                 * column moved: the listed cost is stale, and the column
                 * test below reads the current one. The entering ones are
                 * gathered without a branch (in the first rounds of a
                 * cold solve many rows take a pair). */
                int count = 0, open_at[SCREEN_LIST], *entering = s->entering, k = 0;
                while (count < SCREEN_LIST && list[count] >= 0) count++;
                int a = sys->user_start[i];
                int open = prillm__open_entries(list, count, sys->user_prov + a, sys->user_start[i + 1] - a, sc->skip,
                                                open_at);
                for (int o = 0; o < open; o++) {
                    int t = open_at[o], j = list[t];
                    v[j] = list_cost[t] + load_cost[j] - nu; /* the full test's v: list_cost is c_ij */
                    entering[k] = j;
                    k += (v[j] < limit) & !sc->dirty[j];
                }
                for (int t = 0; t < k; t++) act[entering[t]] = 1;
                /* a column whose load fell far: its unlisted pairs' v is
                 * at least theta + its own change - (nu - nu^R), less the
                 * same margin, so the row's cost there (a cache miss, a
                 * strided read) is read only when that bound is below the
                 * limit; a listed pair was tested above. Moved columns
                 * are read always. */
                double room = sc->theta[i] - (nu - sc->nu_ref[i]) - margin;
                for (int t = 0; t < n_cols; t++) {
                    int j = sc->cols[t];
                    double bound = room + sc->col_change[t];
                    if (bound >= limit) {
                        sc->cols_spared++;
                        if (sc->check_bounds) check_column_bound(sc, i, c[j] + load_cost[j] - nu, j, bound);
                        continue;
                    }
                    sc->cols_read++;
                    if (c[j] + load_cost[j] - nu < limit && act[j] == 0) {
                        v[j] = c[j] + load_cost[j] - nu;
                        act[j] = 1;
                        entering[k++] = j;
                        sc->cols_entered++;
                    }
                }
                s->capped_rows += k > cap;
                s->capped_listed += k > cap;
                added += keep_most_negative(act, v, entering, k, cap);
                sc->screened_rows++;
            } else {
                sc->full_rows++;
                full_rows++;
            }
        }
        if (full && rebuild) {
            added += screen_row(sc, i, c, load_cost, nu, limit, act, v, m, s->support_row, cap, s->entering,
                                &s->capped_rows);
        } else if (full) {
            long k = 0;
#pragma omp simd reduction(+ : k)
            for (int j = 0; j < m; j++) {
                unsigned char enter = (unsigned char)((act[j] == 0) & (c[j] + load_cost[j] - nu < limit));
                act[j] |= enter;
                k += enter;
            }
            if (k > cap) {
                /* screen_row's cap: the entering ones listed with their v */
                int count = 0;
                for (int j = 0; j < m; j++) {
                    double x = c[j] + load_cost[j] - nu;
                    if (act[j] && x < limit && !in_row(sys, i, j)) {
                        v[j] = x;
                        s->entering[count++] = j;
                    }
                }
                k = keep_most_negative(act, v, s->entering, count, cap);
                s->capped_rows++;
            }
            added += k;
        }
        /* f_ij = beta_j (nu_i - c_ij) - F_j is a difference of numbers of
         * size beta_j * scale: a user whose demand is below that round-off
         * (1e-20 next to costs of 1) gets noise, not flows, from the system.
         * Noise is no reason to drop a pair; the polishing sweep gives such
         * a user its split in its own scale. */
        long dropped = 0;
        /* none below -tiny D: none below the test's line either (most rows) */
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1] && least_flow < -(tiny * s->demand[i]); q++) {
            double noise = 64 * DBL_EPSILON * s->beta[sys->user_prov[q]] * scale;
            if (s->pair_flow[q] < -(tiny * s->demand[i] + noise)) {
                act[sys->user_prov[q]] = 0;
                dropped++;
            }
        }
        violations += added + dropped;
        if (s->empty_rows_known && sys->user_start[i + 1] - sys->user_start[i] + added == dropped)
            s->empty_rows[s->n_empty_rows++] = i; /* round-off only: the flows add up to D_i > 0 */
        if (added + dropped > 0 && n_round_rows >= 0) {
            s->round_rows[n_round_rows++] = i;
        }
    }
    s->n_round_rows = n_round_rows;
    if (rebuild) {
        /* users without demand were not scanned: their rows never enter */
        for (int i = 0; i < n; i++)
            if (s->demand[i] <= 0) {
                sc->theta[i] = INFINITY;
                sc->list[(size_t)i * SCREEN_LIST] = -1;
            }
        memcpy(sc->nu_ref, s->nu, (size_t)n * sizeof(double));
        memcpy(sc->load_ref, load_cost, (size_t)m * sizeof(double));
        memset(sc->dirty, 0, (size_t)m);
        /* delta: half the typical room theta_i - 0 of a row (the median
         * over the rows of a sample), so that a load falling by less keeps
         * most rows on their lists */
        double sample[64];
        int k = 0;
        for (int i = 0; i < n && k < 64; i += 1 + n / 64)
            if (s->demand[i] > 0 && isfinite(sc->theta[i]) && sc->theta[i] > 0) sample[k++] = sc->theta[i];
        for (int a = 1; a < k; a++)
            for (int b = a; b > 0 && sample[b - 1] > sample[b]; b--) {
                double t = sample[b];
                sample[b] = sample[b - 1];
                sample[b - 1] = t;
            }
        sc->delta = k > 0 ? 0.5 * sample[k / 2] : 0.0;
        sc->valid = 1;
        sc->rebuilds++;
    } else if (use_screen && full_rows > n / 8) {
        sc->valid = 0; /* too many rows read in full: the next round rebuilds */
    }
    sc->round_full_rows = rebuild ? -1 : use_screen ? full_rows : n;
    sc->round_cols = use_screen ? n_cols : 0;
    return violations;
}

/* Gauss-Seidel state := the last exact solve's flows, negatives clipped,
 * and the loads F from them: summed over the pairs, user by user, they are
 * the sums of recompute_loads without its zeros (no n x m pass). */
static void take_exact_flows(PrillmEquilibriumSolver *s) {
    const PrillmActiveSystem *sys = &s->system;
    int n = s->n, m = s->m;
    /* f's nonzeros the last certificate's pack: each row cleared there just
     * before its new flows are written, the same lines (a round changes few
     * pairs) while they are in cache, instead of a pass of its own */
    int clear_by_row = s->f_support == F_SUPPORT_PACK && !s->f_rows_any && !s->no_support;
    if (clear_by_row) {
        s->rows_unset = 0;
        support_rows_clear(s);
        s->f_support = F_SUPPORT_UNKNOWN;
        s->loads_fresh = 0;
    } else {
        clear_flows(s);
    }
    memset(s->F, 0, (size_t)m * sizeof(double));
    for (int i = 0; i < n; i++) {
        if (i + CERT_AHEAD < n) /* scattered stores: their lines asked for ahead */
            for (int q = sys->user_start[i + CERT_AHEAD]; q < sys->user_start[i + CERT_AHEAD + 1]; q++)
                PRILLM__PREFETCH_WRITE(s->f + (size_t)(i + CERT_AHEAD) * m + (size_t)sys->user_prov[q]);
        if (clear_by_row)
            for (int q = s->cert_start[i]; q < s->cert_start[i + 1]; q++) s->f[(size_t)i * m + s->cert_index[q]] = 0.0;
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            double x = MAX2(s->pair_flow[q], 0.0);
            s->pair_flow[q] = x; /* f on the pattern, packed, for polish_support */
            s->f[(size_t)i * m + sys->user_prov[q]] = x;
            s->F[sys->user_prov[q]] += x;
        }
    }
    s->f_support = s->no_support ? F_SUPPORT_UNKNOWN : F_SUPPORT_PATTERN;
}

/* certify_flows's numbers, bit for bit (the same sums in the same order),
 * reading the flows once and the costs once: the first pass packs each
 * row's nonzero flows and sums the loads from them (adding the zeros
 * changes no sum), the second takes every user's terms from its packed
 * row and the zero flows' smallest marginal cost from its row of costs.
 * Flows on the system's pattern are packed from pair_flow (the same
 * numbers as f there, in order), not read scattered over n x m doubles;
 * the costs are always read from the solver's own c, not from the active
 * system's copy of them, so a stale copy cannot pass the certificate.
 * Returns -1 when the pack would not stay small (flows dense in more than
 * a quarter of the pairs) or memory runs out: the caller then runs
 * certify_flows, which sums the loads again from the start. */
static int certify_packed(PrillmEquilibriumSolver *s, double *lambda_out, PrillmEquilibriumInfo *info) {
    int n = s->n, m = s->m;
    const double *demand = s->demand, *slope = s->slope;
    double *F = s->F;
    if (!s->cert_start) s->cert_start = malloc(((size_t)n + 1) * sizeof(int));
    if (!s->cert_mask) s->cert_mask = prillm__calloc((size_t)m, 1);
    if (!s->cert_start || !s->cert_mask) return -1;
    long limit = (long)((size_t)n * (size_t)m / 4), count = 0;
    if (limit > INT_MAX / 2) limit = INT_MAX / 2; /* cert_start holds ints */
    memset(F, 0, (size_t)m * sizeof(double));
    /* the pack is read from where f can be nonzero: the pattern (sorted
     * by provider, as a row is read), or the last pack itself */
    const PrillmActiveSystem *sys = &s->system;
    int support = s->f_support, on_pattern = support == F_SUPPORT_PATTERN;
    int reuse = support == F_SUPPORT_PACK && !s->f_rows_any;
    if (reuse) {
        /* f has not moved since the pack was taken */
        count = s->cert_start[n];
        for (long q = 0; q < count; q++) F[s->cert_index[q]] += s->cert_value[q];
        on_pattern = s->pack_on_pattern;
    } else {
        s->f_support = F_SUPPORT_UNKNOWN; /* until the pack is whole */
        s->loads_fresh = 0;
    }
    for (int i = 0; i < n && !reuse; i++) {
        const double *row = s->f + (size_t)i * m;
        s->cert_start[i] = (int)count;
        if (count + m > s->cert_capacity) {
            if (count + m > limit + m) return -1;
            long cap = s->cert_capacity > 0 ? 2 * s->cert_capacity : 4L * n + m;
            while (cap < count + m) cap *= 2;
            int *index = realloc(s->cert_index, (size_t)cap * sizeof(int));
            if (index) s->cert_index = index;
            double *value = realloc(s->cert_value, (size_t)cap * sizeof(double));
            if (value) s->cert_value = value;
            if (!index || !value) return -1;
            s->cert_capacity = cap;
        }
        int *index = s->cert_index + count;
        double *value = s->cert_value + count;
        int k = 0;
        if (support == F_SUPPORT_PATTERN) {
            /* f on the pattern is pair_flow (written beside f by
             * take_exact_flows and polish_support): read packed, not
             * scattered over n x m doubles */
            for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
                index[k] = sys->user_prov[q];
                value[k] = s->pair_flow[q];
                k += s->pair_flow[q] != 0;
            }
        } else {
            for (int j = 0; j < m; j++) {
                index[k] = j;
                k += row[j] != 0;
            }
            for (int t = 0; t < k; t++) value[t] = row[index[t]];
        }
        for (int t = 0; t < k; t++) F[index[t]] += value[t];
        count += k;
    }
    s->cert_start[n] = (int)count;
    /* f's nonzeros are now exactly the pack, F their sums */
    s->f_support = s->no_support ? F_SUPPORT_UNKNOWN : F_SUPPORT_PACK;
    s->pack_on_pattern = on_pattern;
    support_rows_clear(s);
    s->loads_fresh = 1;
    double kkt = 0, demand_res = 0, potential = 0, dmax = 0;
    long active = 0;
    for (int i = 0; i < n; i++) dmax = MAX2(dmax, demand[i]);
    for (int j = 0; j < m; j++) potential += 0.5 * slope[j] * F[j] * F[j];
    unsigned char *used = s->cert_mask;
    /* The screen's bound (see Screen), when it holds, proves that no zero
     * flow outside a row's list and the moved columns has a marginal cost
     * below the row's multiplier: those terms of the certificate are then
     * exactly 0, and the row's costs are not read. */
    Screen *sc = &s->screen; /* its counters: tests */
    int bounded = !sc->off && sc->valid && m >= SCREEN_MIN_PROVIDERS, n_dirty = 0;
    double drop = INFINITY, load_max = 0;
    if (bounded) {
        for (int j = 0; j < m; j++) {
            double load = slope[j] * (F[j] + 0.0);
            load_max = MAX2(load_max, MAX2(fabs(load), fabs(sc->load_ref[j])));
            /* moved columns, and those whose load fell far (as in the
             * rounds: one such column would pull every row's bound down),
             * are tested pair by pair; the others give the drop */
            double change = load - sc->load_ref[j];
            if (!tested_column(sc, j, change, &n_dirty)) drop = MIN2(drop, change);
        }
        if (!(drop > -INFINITY)) bounded = 0; /* NaN loads: read every row */
    }
    for (int i = 0; i < n; i++) {
        const double *c = s->cost + (size_t)i * m;
        const int *index = s->cert_index + s->cert_start[i];
        const double *value = s->cert_value + s->cert_start[i];
        int k = s->cert_start[i + 1] - s->cert_start[i];
        /* the costs at the flows of a row a few ahead (a cache miss each) */
        if (i + CERT_AHEAD < n)
            for (int q = s->cert_start[i + CERT_AHEAD]; q < s->cert_start[i + CERT_AHEAD + 1]; q++)
                PRILLM__PREFETCH(s->cost + (size_t)(i + CERT_AHEAD) * m + (size_t)s->cert_index[q]);
        double D = demand[i], sum = 0, weighted = 0, scale = 0;
        if (!(D > 0)) {
            /* no demand: certify_flows's own loop over the row */
            const double *row = s->f + (size_t)i * m;
            double lowest = INFINITY;
            for (int j = 0; j < m; j++) {
                double g = c[j] + slope[j] * (F[j] + row[j]);
                sum += row[j];
                lowest = MIN2(lowest, g);
                if (row[j] > 0) active++;
                potential += row[j] * (c[j] + 0.5 * slope[j] * row[j]);
            }
            if (lambda_out) lambda_out[i] = lowest;
            double ref = dmax > 0 ? dmax : 1.0;
            for (int j = 0; j < m; j++) kkt = MAX2(kkt, fabs(row[j]) / ref);
            demand_res = MAX2(demand_res, fabs(sum) / ref);
            continue;
        }
        for (int t = 0; t < k; t++) {
            int j = index[t];
            double x = value[t];
            double g = c[j] + slope[j] * (F[j] + x);
            sum += x;
            weighted += x / D * g;
            if (x > 0) {
                scale = MAX2(scale, fabs(c[j]) + slope[j] * (F[j] + x));
                active++;
            }
            potential += x * (c[j] + 0.5 * slope[j] * x);
        }
        double lambda = weighted;
        if (lambda_out) lambda_out[i] = lambda;
        demand_res = MAX2(demand_res, fabs(sum - D) / D);
        if (scale == 0) scale = fabs(lambda) > 0 ? fabs(lambda) : 1.0;
        for (int t = 0; t < k; t++) {
            int j = index[t];
            double x = value[t];
            double g = c[j] + slope[j] * (F[j] + x);
            double r = MIN2(x / D, (g - lambda) / scale);
            kkt = MAX2(kkt, fabs(r));
        }
        /* the zero flows' smallest marginal cost g_zero: its term
         * |min(0, (g_zero - lambda) / scale)| is the largest of theirs */
        for (int t = 0; t < k; t++) used[index[t]] = 1;
        double g_zero = INFINITY;
        /* v_ij >= theta_i + drop - (g - nu^R) for the unlisted, unmoved
         * ones (Screen), less the screen's own round-off margin */
        double margin = 64 * DBL_EPSILON * (sc->cost_max + load_max + fabs(lambda) + fabs(bounded ? sc->nu_ref[i] : 0));
        if (bounded && sc->theta[i] + sc->nu_ref[i] + drop - margin >= lambda) {
            /* the unlisted ones' terms are 0: the listed and moved ones
             * decide g_zero when it is below lambda, and the term is 0
             * otherwise, as with every cost read */
            const int *list = sc->list + (size_t)i * SCREEN_LIST;
            const double *list_cost = sc->list_cost + (size_t)i * SCREEN_LIST;
            for (int t = 0; t < SCREEN_LIST && list[t] >= 0; t++) {
                int j = list[t];
                /* without a branch (which are used is hard to predict):
                 * a used or moved one counts as +inf, which the minimum
                 * ignores */
                double g = list_cost[t] + slope[j] * (F[j] + 0.0);
                g_zero = MIN2(g_zero, pick(used[j] | sc->dirty[j], INFINITY, g));
            }
            /* a fallen column's pair is read only when its own bound,
             * theta + nu^R + its change, less the margin, is below lambda
             * (a listed one is in g_zero already) */
            double room = sc->theta[i] + sc->nu_ref[i] - margin;
            for (int t = 0; t < n_dirty; t++) {
                int j = sc->cols[t];
                if (used[j]) continue;
                double bound = room + sc->col_change[t];
                if (bound >= lambda) {
                    if (sc->check_bounds) check_column_bound(sc, i, c[j] + slope[j] * (F[j] + 0.0), j, bound);
                    continue;
                }
                g_zero = MIN2(g_zero, c[j] + slope[j] * (F[j] + 0.0));
            }
            s->cert_rows_bounded++;
        } else {
            /* eight running minima (the minimum does not depend on the order) */
            double low[8] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
            int j = 0;
            for (; j + 8 <= m; j += 8)
                for (int t = 0; t < 8; t++) {
                    double g = used[j + t] ? INFINITY : c[j + t] + slope[j + t] * (F[j + t] + 0.0);
                    low[t] = MIN2(low[t], g);
                }
            for (; j < m; j++) low[0] = MIN2(low[0], used[j] ? INFINITY : c[j] + slope[j] * (F[j] + 0.0));
            g_zero = low[0];
            for (int t = 1; t < 8; t++) g_zero = MIN2(g_zero, low[t]);
        }
        for (int t = 0; t < k; t++) used[index[t]] = 0;
        if (k < m) {
            double r = MIN2(0.0, (g_zero - lambda) / scale);
            kkt = MAX2(kkt, fabs(r));
        }
    }
    if (isnan(kkt) || isnan(demand_res)) kkt = demand_res = INFINITY;
    info->kkt_violation = MAX2(kkt, demand_res);
    info->demand_residual = demand_res;
    info->potential = potential;
    info->active_pairs = active;
    return 0;
}

static void publish(PrillmEquilibriumSolver *s, PrillmEquilibriumInfo *info) {
    PrillmEquilibrium *out = &s->solution;
    if (certify_packed(s, out->lambda, info))
        certify_flows(s->n, s->m, s->cost, s->slope, s->demand, s->f, s->F, out->lambda, s->support_row, info);
    /* max() comparisons can step over a NaN; the plain sum in the potential
     * cannot, so both must be finite for any number to be stood behind */
    if (!isfinite(info->kkt_violation) || !isfinite(info->potential)) info->status = PRILLM_STATUS_FAILED;
    else if (info->kkt_violation <= s->settings.tolerance) info->status = PRILLM_STATUS_SOLVED;
    else info->status = PRILLM_STATUS_INACCURATE;
}

static void solve_exact(PrillmEquilibriumSolver *s, PrillmEquilibriumInfo *info, double t0) {
    int n = s->n, m = s->m;
    const int verbose = s->settings.verbose;
    int warm_start = s->warm_exact;
    if (warm_start) {
        /* the last exact set, still in `active`: only the target's column of
         * costs moved, so the correction starts next to the answer */
        refresh_loads(s);
        if (!s->seeded && !s->no_local && s->moved_count > 0) local_sweep(s);
    } else {
        presweep(s, s->settings.presweeps, info, t0);
    }
    if (verbose >= 2)
        fprintf(stderr, "prillm: %s start: %d sweeps, %.1f ms\n", warm_start ? "warm" : "cold", info->sweeps,
                1e3 * (prillm__now() - t0));
    double round_t0 = prillm__now();
    s->seeded = 0;
    if (s->moved) memset(s->moved, 0, (size_t)m);
    s->moved_count = 0;
    s->warm_exact = 0;
    long best_violations = -1;
    int stalled = 0, rounds = 0;
    for (;;) {
        if (rounds >= s->settings.max_rounds || out_of_time(s, t0)) {
            if (!warm_start || out_of_time(s, t0)) break;
            /* A warm start that used up its rounds (a big move of the
             * price, and max-rounds set low): once, start again cold, with
             * the rounds a cold solve would have had. Never worse than a
             * cold solve; the default 50 rounds have not been seen to run
             * out from a warm start. */
            clear_flows(s);
            for (int i = 0; i < n; i++) s->lambda[i] = NAN;
            s->flows_zero = 1;
            presweep(s, s->settings.presweeps, info, t0);
            warm_start = 0;
            rounds = 0;
            best_violations = -1;
            stalled = 0;
            continue;
        }
        long cols_read_before = s->screen.cols_read;
        long violations = exact_round(s);
        rounds++;
        info->iterations++;
        if (violations == -2) {
            s->out_of_memory = 1;
            return;
        }
        if (verbose >= 2) {
            char rows[128] = "every row read";
            if (s->screen.round_full_rows == -1) snprintf(rows, sizeof rows, "every row read, screen rebuilt");
            else if (s->screen.round_full_rows < n)
                snprintf(rows, sizeof rows, "%d of %d rows read in full, %d columns tested, %ld of their pairs read",
                         s->screen.round_full_rows, n, s->screen.round_cols, s->screen.cols_read - cols_read_before);
            double now = prillm__now();
            fprintf(stderr, "prillm: round %d: %ld pairs active, %ld violations (%s), %.1f ms\n",
                    info->iterations, s->system.n_pairs, violations, rows, 1e3 * (now - round_t0));
            round_t0 = now;
        }
        if (violations == 0) {
            take_exact_flows(s); /* and the loads */
            for (int i = 0; i < n; i++) s->lambda[i] = s->nu[i];
            /* users coupled through a tiny congested provider settle
             * together: a few more passes over the supports (cheap) before
             * a sweep over every provider; with lazy polish the exact
             * point is tried first, as it is */
            int first = s->lazy_polish ? 0 : 1; /* pass 0: no polish */
            for (int pass = first; pass < 3; pass++) {
                int polishes = pass == 0 ? 0 : pass == 1 ? 1 : 3;
                if (pass > first) recompute_loads(s, s->f, s->F); /* after a failed certificate */
                for (int k = 0; k < polishes; k++) polish_support(s);
                publish(s, info);
                if (info->status == PRILLM_STATUS_SOLVED) {
                    s->lazy_certified += pass == 0;
                    s->warm_exact = 1;
                    return;
                }
            }
            recompute_loads(s, s->f, s->F);
            double change;
            sweep(s, &change, NULL); /* polish each user's split in its own scale, over every provider */
            info->sweeps++;
            publish(s, info);
            if (info->status == PRILLM_STATUS_SOLVED) {
                s->warm_exact = 1;
                return;
            }
            /* the exact point was not good enough after all (round-off on a
             * nearly degenerate set): sweep before trying again, rather
             * than repeating the same round */
            presweep(s, 5, info, t0);
            continue;
        }
        if (violations > 0 && (best_violations < 0 || violations < best_violations)) {
            best_violations = violations;
            stalled = 0;
        } else if (++stalled >= 3 || violations < 0) {
            /* the correction is not converging from here: Gauss-Seidel from
             * the last exact point (clipped) always decreases the potential.
             * Three rounds without a new fewest, not two: a large move
             * (a pricing solve halving the target's price) often overshoots
             * once and then converges (1236, 1635, 1254, 393, ... 0
             * violations), where the sweeps cost 35 ms at 5000 x 500 */
            if (violations >= 0) take_exact_flows(s);
            presweep(s, 5, info, t0);
            best_violations = -1;
            stalled = 0;
        }
    }
    /* out of rounds or time: the best we have is the Gauss-Seidel state;
     * a warm start cut short by the time limit before any sweep still holds
     * the previous price's flows, which sweeps move toward this price's */
    if (info->sweeps == 0) presweep(s, 5, info, t0);
    recompute_loads(s, s->f, s->F);
    publish(s, info);
}

static void solve_gauss_seidel(PrillmEquilibriumSolver *s, PrillmEquilibriumInfo *info, double t0) {
    recompute_loads(s, s->f, s->F);
    double target = 1e-3 * s->settings.tolerance;
    while (info->sweeps < s->settings.max_sweeps && !out_of_time(s, t0)) {
        double change;
        sweep(s, &change, NULL);
        info->sweeps++;
        if (change < target || info->sweeps % 50 == 0) {
            publish(s, info);
            if (info->status == PRILLM_STATUS_SOLVED || change < 1e-16) return;
            recompute_loads(s, s->f, s->F);
        }
    }
    publish(s, info);
}

PrillmErrorCode prillm_equilibrium_solve(PrillmEquilibriumSolver *s, PrillmError *err) {
    if (!s) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "solver is NULL");
    double t0 = prillm__now();
    int n = s->n, m = s->m;
    size_t nm = (size_t)n * m;
    PrillmEquilibriumInfo info;
    memset(&info, 0, sizeof info);
    s->out_of_memory = 0;
    s->flows_zero = 0;
    if (!s->warm) {
        /* the exact method's first sweep clears the rows itself (it
         * always runs: at least one pre-sweep, see presweep) */
        if (s->settings.method == PRILLM_EQ_EXACT && !s->warm_exact && s->settings.presweeps > 0 &&
            s->settings.max_sweeps > 0) {
            s->f_support = F_SUPPORT_UNKNOWN;
            s->rows_unset = 1;
            s->loads_fresh = 0;
        } else {
            clear_flows(s);
        }
        for (int i = 0; i < n; i++) s->lambda[i] = NAN;
        s->flows_zero = 1;
    } else if (s->packed) {
        /* the outputs read NaN since update_price: every entry is cleared */
        s->f_support = F_SUPPORT_UNKNOWN;
        clear_flows(s);
        for (long q = 0; q < s->packed_count; q++) s->f[s->packed_index[q]] = s->packed_value[q];
        /* a pack copied from the certificate's: f is that pack again */
        if (s->packed_from_cert && !s->no_support) s->f_support = F_SUPPORT_PACK;
    }
    s->packed = 0;
    if (s->settings.method != PRILLM_EQ_EXACT) {
        s->f_support = F_SUPPORT_UNKNOWN; /* written by other means */
        s->loads_fresh = 0;
    }
    PrillmErrorCode rc = PRILLM_OK;
    switch (s->settings.method) {
    case PRILLM_EQ_GAUSS_SEIDEL:
        solve_gauss_seidel(s, &info, t0);
        break;
    case PRILLM_EQ_IPOPT: {
        int iterations = 0;
        /* Ipopt prints to stdout, where the command line writes its JSON:
         * its own log stays off, progress comes from our lines on stderr */
        /* Ipopt's tolerances measure its own scaled NLP, not this
         * certificate: asked for a hundredth of the tolerance, 19 of
         * test_ipopt_reaches_the_default_tolerance's 20 markets (and a 5 x 4
         * one) ended inaccurate at about 3e-9 and the command line exited
         * 4; at 1e-5 of it (1e-14 at the default, the floor Ipopt is held
         * to) 1 does, in about the same time. 1e-4 was not better: one
         * market ended at 1.3e-8. */
        rc = prillm__equilibrium_ipopt(s->market, 1e-5 * s->settings.tolerance, s->settings.time_limit, 0, s->f,
                                       &iterations, err);
        info.iterations = iterations;
        if (rc == PRILLM_OK) publish(s, &info);
        break;
    }
    default:
        solve_exact(s, &info, t0);
        if (s->out_of_memory)
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the exact solve (%d x %d)", n, m);
        break;
    }
    if (rc != PRILLM_OK && rc != PRILLM_ERR_SOLVER) {
        info.status = PRILLM_STATUS_FAILED;
    } else if (rc == PRILLM_ERR_SOLVER) {
        info.status = PRILLM_STATUS_FAILED;
        rc = PRILLM_OK; /* the call worked; the solver did not: that is the status */
    }
    if (info.status == PRILLM_STATUS_FAILED) {
        s->f_support = F_SUPPORT_UNKNOWN;
        s->loads_fresh = 0;
        prillm__fill_nan(s->solution.flows, nm);
        prillm__fill_nan(s->solution.provider_flow, (size_t)m);
        prillm__fill_nan(s->solution.lambda, (size_t)n);
        info.kkt_violation = info.demand_residual = info.potential = NAN;
        s->warm = 0;
        s->warm_exact = 0;
    } else {
        s->warm = 1;
    }
    info.seconds = prillm__now() - t0;
    s->solution.info = info;
    if (s->settings.verbose >= 1)
        fprintf(stderr, "prillm: equilibrium %s: %d x %d, kkt %.3g, %d rounds, %d sweeps, %.3g s\n",
                prillm_status_name(info.status), n, m, info.kkt_violation, info.iterations, info.sweeps,
                info.seconds);
    return rc;
}
