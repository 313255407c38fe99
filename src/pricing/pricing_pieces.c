/*
 * The affine pieces of the equilibrium in the target's price, and the three
 * methods built on them: exact pricing by parametric active-set homotopy
 * (DESIGN.md section 3, reference/solvers.md section 0), and SPITER, the
 * same segment walk stopped at the first local optimum (solvers.md 1), and
 * BF, which enumerates every support pattern (solvers.md 2).
 *
 * Only the target's column of the cost offsets moves with its price p, and
 * the equilibrium's Hessian does not depend on p, so for a fixed active set S
 * the multipliers, flows and slacks are affine in p: one factorisation of
 * the reduced system serves two right-hand sides (the values at the piece's
 * start, and the slopes from dc/dp with zero demand). A piece ends where an
 * active flow or an inactive slack reaches zero (ratio test); there the set
 * changes and the walk goes on. On a piece the profit (p - k) F_s(p) is a
 * concave quadratic, maximised in closed form.
 *
 * Degenerate breakpoints (several pairs at once: identical rivals or apps,
 * or a pair that touches zero and turns back) are settled by the
 * directional rule of parametric QP: at the breakpoint every pair whose
 * flow and slack are both (nearly) zero is ambiguous; the next set is the
 * one whose slopes are consistent (an included ambiguous pair's flow does
 * not decrease, an excluded one's slack does not decrease). The natural
 * guess (flip the pairs that hit zero) is checked first; if it fails,
 * violating pairs are flipped primal-dual style, then, for few ambiguous
 * pairs, every subset is tried. Each check costs one factorisation that the
 * next piece reuses.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "active_set.h"
#include "pricing_internal.h"

/* Ambiguous pairs up to which every subset may be tried (2^14 factorisations
 * is still under a second on small markets). */
#define ENUMERATE_MAX 14
#define ENUMERATE_WORK 1e7 /* pair visits the enumeration may spend */

/* Bounded rows (settings->row_bounds): each app lists the providers with its
 * smallest reduced costs c_ij + a_j F_j, its active ones and LISTED_EXTRA
 * more, at least LISTED in all (row_bounds from 2 to LISTED_MAX: exactly
 * that many, a knob for tests), and keeps a lower bound on the rest. Below
 * ROW_BOUNDS_AUTO providers every row is scanned. Every piece reads every
 * listed pair of every app whose bound holds, so a list is kept short: 16
 * more and at least 24 read a 5000 x 500 walk 20 to 25% slower than 4 and
 * 10, whose bound fails about twice as often (docs/benchmarks.md). */
#define LISTED 10
#define LISTED_EXTRA 4
#define LISTED_MAX 64
#define ROW_BOUNDS_AUTO 64

/* Relative size of round-off in a value: below it a value is zero whatever
 * its slope. */
#define NOISE 1e-12

/* Relative round-off of a computed flow's terms (a few hundred units in the
 * last place of beta_j nu_i and F_j). */
#define FLOW_NOISE 1e-13

typedef struct {
    const PrillmMarket *mk;
    int n, m, s;
    double w_p, cost;
    const double *margins; /* NULL, or the value of a unit of each provider's
                              flow added to the objective (an owner's other
                              models; the target's own entry is ignored)      */
    double tol;          /* relative tolerance for zero values                */
    double flow_noise;   /* FLOW_NOISE / tol (flow_scale, per pair: no division) */
    double range;        /* price range, for slope tolerances                 */
    double *slope;       /* a_j                                               */
    double *beta;        /* 1 / a_j                                           */
    double *c;           /* cost offsets at the current price (n*m)           */
    double *c0;          /* target column at price 0 (n)                      */
    unsigned char *active;  /* n*m                                             */
    unsigned char *flip;    /* per ambiguous pair: the rule wants it flipped   */
    unsigned char *was_in;  /* per ambiguous pair: its membership before the
                               breakpoint (for the recorded breakpoints)       */
    unsigned char *saved;   /* n*m: the set before a breakpoint an equilibrium
                               solve had to settle                             */
    PrillmActiveSystem sys;
    double *r, *r1, *nu, *nu1, *F, *F1;
    double *pf, *pf1;    /* active flows and slopes, indexed like sys.user_prov */
    /* dense n*m, meaningful on active pairs only: flow and its slope. An
     * inactive pair's slack c_ij + a_j F_j - nu_i and its slope are not
     * stored but computed where needed (pair_value, pair_slope) from c and
     * the vectors below: writing two n*m arrays per piece cost more than
     * the rest of the piece at 5000 x 500 (43,000 of 2.5 million pairs
     * active). */
    /* After an equilibrium start (a walk's start, a fallback), its flows
     * (start_val, by rows start_row with their models start_prov, the
     * active pairs then) and every active pair's slope from the last piece
     * whose pattern held it (slopes: a map from the pair's index, 0 for a
     * pair never in one): what the start's classification reads. Dense
     * n x m arrays, each touched at the pattern's pairs, cost a page fault
     * per 4 kB page, a tenth of a 5000 x 500 target's time. */
    int *start_row, *start_prov;
    double *start_val;
    size_t start_capacity;
    struct SlopeMap { long *key; double *value; size_t capacity, count; } slopes;
    double *slack_F, *slack_F1; /* [m] a_j F_j, and its slope a_j F1_j (+ w_p on the target) */
    double *slack_nu;           /* [n] nu_i of the slacks (the slope uses nu1)   */
    double *user_scale;  /* G_i: size of user i's marginal cost terms          */
    long *ambiguous;
    int n_ambiguous;
    int set_reset;       /* h->active may differ from the last factored set
                            anywhere (0: only at the ambiguous pairs)      */
    int piece_valid;     /* pf, pf1 hold the flows and slopes of h->sys's
                            pattern (the last evaluation succeeded)        */
    double piece_price;  /* the price the arrays above describe               */
    /* the curve */
    PrillmPriceSegment *segments;
    int n_segments, cap_segments;
    PrillmPriceBreakpoint *breakpoints;
    int n_breakpoints, cap_breakpoints;
    /* With keep_sets, the active set of every recorded segment (n*m flags
     * each, in segment order): the warm start of the dispatcher's scoring
     * and certificate solves at prices on the curve. Dropped (NULL, off)
     * once it would pass SETS_MAX_BYTES. */
    unsigned char *sets;
    int keep_sets;
    int record;
    int fallbacks;       /* breakpoints settled by an equilibrium solve        */
    long evaluations;    /* factorisations (pieces plus rejected trial sets)   */
    int verbose;
    /* one equilibrium solver for every start and fallback of the walk, warm
     * from the last price it solved: a start near a price already solved
     * costs a few corrections instead of a cold solve (0.8 s at 5000 x 500) */
    /* the scan that checks a new piece also finds its next breakpoint:
     * ratio_next (distance walking ratio_dir) is valid until the next
     * evaluation (ratio_dir 0: not known) */
    double ratio_next;
    int ratio_dir;
    PrillmEquilibriumSolver *eq;
    int eq_borrowed;     /* eq is the caller's (pb->solver): not freed here   */
    /* Bounded rows. A piece changes one or two pairs, yet finding its end
     * and classifying its breakpoint read every inactive slack
     * c_ij + a_j F_j - nu_i: two passes over the n x m pairs a piece, most
     * of a piece's time at 5000 x 500 (43,000 of 2.5 million pairs
     * active). Instead each user i lists the providers j != s with its
     * smallest keys c_ij + a_j F_j (its active pairs, whose key is nu_i,
     * come first) and keeps rest_i, the smallest unlisted key less the
     * drift at that time. The drift adds up, at every change of the loads,
     * the smallest change of a_j F_j over j != s, so at any later time every
     * unlisted key is at least rest_i + drift: a bound that holds whatever
     * enters or leaves the active set (the target's column, whose cost moves
     * with the price, is always read). A row is read whole, and its list
     * renewed, only when that bound cannot rule out the piece's end or a
     * breakpoint in the row. */
    int bounded;
    int list_length;       /* providers listed per user: at least this many */
    int list_fixed;        /* exactly list_length (row_bounds >= 2)          */
    /* user i's list: providers listed_prov[list_at[i] ..] (n_listed[i] of
     * them, room for list_room[i]), and their c_ij (j != s: fixed) kept
     * beside them: reading c's row at scattered columns cost a cache miss
     * a pair. A user with many active pairs (78 of 500 at 5000 x 500) gets
     * a longer list from the end of the pool. */
    int *listed_prov;
    double *listed_cost;
    size_t *list_at;
    int *list_room;
    size_t pool_used, pool_size;
    struct ListKey { double key; int provider; } *list_keys; /* [m] scratch */
    unsigned char *list_mark; /* [m] scratch, all 0 between calls of list_row and scans */
    int *list_open;           /* [m] scratch of a scan: a row's listed entries not active */
    int *n_listed;         /* [n]; -1: not listed (read whole every time)     */
    double *rest;          /* [n] */
    /* The same bound for the row's listed slacks that are not active
     * (j != s): listed_min_i is their least key less the drift when the
     * row's list was last read whole (-INFINITY: not known). It holds while
     * no active pair of the row leaves the set, so a row that has an
     * ambiguous pair at the piece's breakpoint (row_forced) reads its list
     * in every scan of the piece, which sets the bound again for the set
     * that settles; a fallback's restart forgets every row's. A row whose
     * listed and unlisted slacks are then all too far from zero to end the
     * piece reads only its flows and the target's pair (the lists were most
     * of a 5000 x 500 target's scans). */
    double *listed_min;    /* [n] */
    unsigned char *row_forced; /* [n] */
    double *loads_seen;    /* [m] a_j F_j at the last drift update            */
    double drift, drift_size; /* the drift, and the sum of its steps' sizes (for round-off) */
    int loads_known;       /* loads_seen holds loads                          */
    double slope_low[2];   /* per piece: min over j != s of -slack_F1_j ([0]) and of slack_F1_j ([1]) */
    double slope_high;     /* per piece: max |slack_F1_j| over j != s           */
    long rows_read, rows_bounded; /* counters (verbose)                      */
    long lists_skipped;    /* bounded rows whose list the listed bound spared */
    /* The active sets of the equilibria solved at the pruning's prices,
     * packed per user: a pruning solve starts from the set of the nearest
     * price solved instead of wherever the solver last was (a solve after
     * a sample above the target's market started from a set without it:
     * 10 rounds and 5 sweeps, now 4 rounds; see solve_near), and two sets
     * tell how many breakpoints lie between their prices at least (see
     * set_difference) */
    struct SolvedSet { double price; int *start, *prov; } *solved;
    int n_solved, solved_cap;
    size_t solved_bytes;   /* their memory, kept under SOLVED_SETS_BYTES       */
    double solver_price;   /* the price the solver last solved (NaN: none)  */
} Homotopy;

static void homotopy_free(Homotopy *h) {
    free(h->slope);
    free(h->beta);
    free(h->c);
    free(h->c0);
    free(h->active);
    free(h->flip);
    free(h->was_in);
    free(h->saved);
    free(h->listed_prov);
    free(h->listed_cost);
    free(h->list_at);
    free(h->list_room);
    free(h->list_keys);
    free(h->list_mark);
    free(h->list_open);
    free(h->n_listed);
    free(h->rest);
    free(h->listed_min);
    free(h->row_forced);
    free(h->loads_seen);
    prillm__system_free(&h->sys);
    free(h->r);
    free(h->r1);
    free(h->nu);
    free(h->nu1);
    free(h->F);
    free(h->F1);
    free(h->pf);
    free(h->pf1);
    free(h->start_row);
    free(h->start_prov);
    free(h->start_val);
    free(h->slopes.key);
    free(h->slopes.value);
    free(h->slack_F);
    free(h->slack_F1);
    free(h->slack_nu);
    free(h->user_scale);
    free(h->ambiguous);
    free(h->segments);
    free(h->breakpoints);
    free(h->sets);
    for (int k = 0; k < h->n_solved; k++) {
        free(h->solved[k].start);
        free(h->solved[k].prov);
    }
    free(h->solved);
    if (!h->eq_borrowed) prillm_equilibrium_cleanup(h->eq);
    memset(h, 0, sizeof *h);
}

static int homotopy_init(Homotopy *h, const PrillmPriceProblem *pb) {
    memset(h, 0, sizeof *h);
    const PrillmMarket *mk = pb->market;
    int n = mk->n_users, m = mk->n_providers;
    size_t N = (size_t)n, M = (size_t)m, NM = N * M;
    h->mk = mk;
    h->n = n;
    h->m = m;
    h->s = pb->target;
    h->w_p = mk->w_price;
    h->cost = pb->cost;
    h->margins = pb->margins;
    h->tol = pb->settings->tolerance;
    h->flow_noise = FLOW_NOISE / h->tol;
    h->range = pb->p_max;
    h->verbose = pb->settings->verbose;
    h->eq = pb->solver;
    h->eq_borrowed = pb->solver != NULL;
    /* the price the caller's solver last solved the target at: the
     * market's, or wherever a da check left it (reading its solution as the
     * market's would prune with another price's flow) */
    h->solver_price = pb->solver ? prillm__equilibrium_price(pb->solver, h->s) : NAN;
    h->set_reset = 1;
    h->slope = prillm__calloc(M, sizeof(double));
    h->beta = prillm__calloc(M, sizeof(double));
    h->c = prillm__malloc_array(NM, sizeof(double)); /* written whole below */
    h->c0 = prillm__calloc(N, sizeof(double));
    h->active = prillm__calloc(NM, 1);
    h->flip = prillm__calloc(NM, 1);
    h->was_in = prillm__calloc(NM, 1);
    h->saved = prillm__calloc(NM, 1);
    h->r = prillm__calloc(N, sizeof(double));
    h->r1 = prillm__calloc(N, sizeof(double));
    h->nu = prillm__calloc(N, sizeof(double));
    h->nu1 = prillm__calloc(N, sizeof(double));
    h->F = prillm__calloc(M, sizeof(double));
    h->F1 = prillm__calloc(M, sizeof(double));
    h->pf = prillm__malloc_array(NM, sizeof(double));   /* indexed by the pattern, written by each piece */
    h->pf1 = prillm__malloc_array(NM, sizeof(double));
    h->start_row = prillm__calloc(N + 1, sizeof(int));
    h->slack_F = prillm__calloc(M, sizeof(double));
    h->slack_F1 = prillm__calloc(M, sizeof(double));
    h->slack_nu = prillm__calloc(N, sizeof(double));
    h->user_scale = prillm__calloc(N, sizeof(double));
    h->ambiguous = prillm__malloc_array(NM, sizeof(long)); /* [n_ambiguous] in use */
    if (!h->slope || !h->beta || !h->c || !h->c0 || !h->active || !h->flip || !h->was_in || !h->saved || !h->r || !h->r1 ||
        !h->nu || !h->nu1 || !h->F || !h->F1 || !h->pf || !h->pf1 || !h->start_row || !h->user_scale || !h->slack_F || !h->slack_F1 || !h->slack_nu ||
        !h->ambiguous)
        return -1;
    prillm__price_costs(mk, h->s, 0.0, h->slope, h->c);
    for (int j = 0; j < m; j++) h->beta[j] = 1.0 / h->slope[j];
    for (int i = 0; i < n; i++) {
        h->c0[i] = h->c[(size_t)i * M + (size_t)h->s];
    }
    if (prillm__system_init(&h->sys, n, m, h->beta)) return -1;
    /* consecutive pieces differ in a pair or two: update the factor */
    if (prillm__system_set_incremental(&h->sys, 1)) return -1;
    int bounded = pb->settings->row_bounds;
    if (bounded < 0) bounded = m >= ROW_BOUNDS_AUTO;
    h->bounded = bounded && m > 1;
    if (h->bounded) {
        h->list_length = bounded > 1 ? (bounded < LISTED_MAX ? bounded : LISTED_MAX) : LISTED;
        h->list_fixed = bounded > 1;
        h->pool_size = h->pool_used = N * (size_t)h->list_length;
        h->listed_prov = prillm__calloc(h->pool_size, sizeof(int));
        h->listed_cost = prillm__calloc(h->pool_size, sizeof(double));
        h->list_at = prillm__calloc(N, sizeof(size_t));
        h->list_room = prillm__calloc(N, sizeof(int));
        h->list_keys = prillm__calloc(M, sizeof *h->list_keys);
        h->list_mark = prillm__calloc(M, 1);
        h->list_open = prillm__calloc(M, sizeof(int));
        h->n_listed = prillm__calloc(N, sizeof(int));
        if (!h->listed_prov || !h->listed_cost || !h->list_at || !h->list_room || !h->list_keys || !h->list_mark ||
            !h->list_open || !h->n_listed)
            return -1;
        for (int i = 0; i < n; i++) {
            h->list_at[i] = (size_t)i * (size_t)h->list_length;
            h->list_room[i] = h->list_length;
        }
        h->rest = prillm__calloc(N, sizeof(double));
        h->loads_seen = prillm__calloc(M, sizeof(double));
        h->listed_min = prillm__malloc_array(N, sizeof(double));
        h->row_forced = prillm__calloc(N, 1);
        if (!h->n_listed || !h->rest || !h->loads_seen || !h->listed_min || !h->row_forced) return -1;
        for (int i = 0; i < n; i++) {
            h->n_listed[i] = -1;
            h->listed_min[i] = -INFINITY;
        }
    }
    return 0;
}

/* ---- bounded rows ---- */

/* The loads a_j F_j (h->slack_F) just changed: add the smallest change over
 * j != s to the drift. */
static void follow_loads(Homotopy *h) {
    if (!h->bounded) return;
    int m = h->m, s = h->s;
    if (!h->loads_known) {
        memcpy(h->loads_seen, h->slack_F, (size_t)m * sizeof(double));
        h->loads_known = 1;
        return;
    }
    double low = INFINITY;
    for (int j = 0; j < m; j++) {
        if (j == s) continue;
        double change = h->slack_F[j] - h->loads_seen[j];
        low = change < low ? change : low;
        h->loads_seen[j] = h->slack_F[j];
    }
    if (low < 0) {
        h->drift += low;
        h->drift_size -= low;
    }
}

/* The slopes' extremes over j != s of the piece just evaluated. */
static void piece_slope_range(Homotopy *h) {
    if (!h->bounded) return;
    double low_down = INFINITY, low_up = INFINITY, high = 0;
    for (int j = 0; j < h->m; j++) {
        if (j == h->s) continue;
        double g = h->slack_F1[j];
        low_up = g < low_up ? g : low_up;
        low_down = -g < low_down ? -g : low_down;
        high = fabs(g) > high ? fabs(g) : high;
    }
    h->slope_low[0] = low_down;
    h->slope_low[1] = low_up;
    h->slope_high = high;
}

static int list_key_less(const struct ListKey *x, const struct ListKey *y) {
    return x->key < y->key || (x->key == y->key && x->provider < y->provider);
}

/* The k smallest of a row's keys (by key, then provider: a total order, so
 * the same set a full sort gives), ascending, in best[0..k), in one pass
 * over the row: a key is inserted only when it is below the k-th smallest
 * so far, which after the first few providers is seldom (a row's list
 * needs its 10 to 40 smallest keys of m). Quickselect over all m keys,
 * before, mispredicted about 2 million branches a 5000 x 500 target and
 * took a twentieth of an --all run's time at the walks' starts, where every
 * row is listed. */
static void smallest_keys(const double *c, const double *load, int m, int skip, int k, struct ListKey *best) {
    int filled = 0;
    for (int j = 0; j < m; j++) {
        if (j == skip) continue;
        struct ListKey x = {c[j] + load[j], j};
        if (filled == k) {
            if (!list_key_less(&x, &best[k - 1])) continue;
            filled--;
        }
        int q = filled++;
        for (; q > 0 && list_key_less(&x, &best[q - 1]); q--) best[q] = best[q - 1];
        best[q] = x;
    }
}

/* Renews user i's list and rest from its keys at the piece's start: its
 * active pairs (the smallest keys) and list_length more. When the pool has
 * no room for a longer list, the row stays unlisted (read whole). */
static void list_row(Homotopy *h, int i) {
    int m = h->m, s = h->s, count = m - 1; /* every provider but the target */
    const double *c = h->c + (size_t)i * (size_t)m, *load = h->slack_F;
    const unsigned char *act = h->active + (size_t)i * (size_t)m;
    struct ListKey *keys = h->list_keys;
    int active = prillm__count_flags(act, m) - (act[s] != 0);
    /* the active ones and LISTED_EXTRA more, at least list_length; with
     * row_bounds N >= 2, N in all (the knob that leans on the bound hardest) */
    int want = h->list_fixed                                ? h->list_length
               : active + LISTED_EXTRA > h->list_length ? active + LISTED_EXTRA
                                                          : h->list_length;
    if (want > count) want = count;
    h->rows_read++;
    if (want > h->list_room[i]) {
        if (h->pool_used + (size_t)want > h->pool_size) {
            size_t size = 2 * (h->pool_used + (size_t)want);
            int *prov = realloc(h->listed_prov, size * sizeof *prov);
            if (prov) h->listed_prov = prov;
            double *cost = prov ? realloc(h->listed_cost, size * sizeof *cost) : NULL;
            if (cost) h->listed_cost = cost;
            if (!prov || !cost) {
                h->n_listed[i] = -1; /* no room: read whole */
                return;
            }
            h->pool_size = size;
        }
        h->list_at[i] = h->pool_used;
        h->list_room[i] = want;
        h->pool_used += (size_t)want;
    }
    /* the want smallest, then keys[want], the smallest unlisted */
    smallest_keys(c, load, m, s, want < count ? want + 1 : count, keys);
    /* by provider, to be merged with the row's active pairs (the CSR is
     * sorted by provider too) without reading the n x m flags: marked, then
     * read back in provider order (an insertion sort of the list was most
     * of list_row's time on the calibrated market, whose apps use dozens
     * of models) */
    int *list = h->listed_prov + h->list_at[i];
    unsigned char *mark = h->list_mark;
    for (int q = 0; q < want; q++) mark[keys[q].provider] = 1;
    for (int j = 0, t = 0; t < want; j++) {
        list[t] = j;
        t += mark[j];
        mark[j] = 0;
    }
    double *cost = h->listed_cost + h->list_at[i];
    for (int q = 0; q < want; q++) cost[q] = c[list[q]];
    h->n_listed[i] = want;
    h->rest[i] = (want < count ? keys[want].key : INFINITY) - h->drift;
    double least = INFINITY; /* the listed ones not active */
    for (int q = 0; q < want; q++)
        if (!act[keys[q].provider]) least = least < keys[q].key ? least : keys[q].key;
    h->listed_min[i] = least - h->drift;
}

/* A lower bound on every unlisted slack of user i at the piece's start
 * (-INFINITY when the row has no list), less a margin for the round-off of
 * the keys, the drift and nu_i. */
static double unlisted_floor(const Homotopy *h, int i) {
    if (h->n_listed[i] < 0) return -INFINITY;
    double nu = h->slack_nu[i], bound = h->rest[i] + h->drift - nu;
    double size = fabs(h->rest[i]) + fabs(h->drift) + h->drift_size + fabs(nu) + h->user_scale[i];
    return bound - 1e-12 * size;
}

/* The same for the row's listed slacks that are not active (listed_min). */
static double listed_floor(const Homotopy *h, int i) {
    if (h->n_listed[i] < 0 || !(h->listed_min[i] > -INFINITY)) return -INFINITY;
    double nu = h->slack_nu[i], bound = h->listed_min[i] + h->drift - nu;
    double size = fabs(h->listed_min[i]) + fabs(h->drift) + h->drift_size + fabs(nu) + h->user_scale[i];
    return bound - 1e-12 * size;
}

static void set_price(Homotopy *h, double p) {
    size_t M = (size_t)h->m, s = (size_t)h->s;
    /* a column of an n x m array: a line per user, asked for ahead */
    for (int i = 0; i < h->n; i++) {
        if (i + 8 < h->n) PRILLM__PREFETCH_WRITE(h->c + (size_t)(i + 8) * M + s);
        h->c[(size_t)i * M + s] = h->c0[i] + h->w_p * p;
    }
}

/* Values and slopes at price p for the set in h->active. Returns 0, 1 if the
 * reduced system is not positive definite (a user without an active pair or
 * round-off), -1 out of memory. */
static int evaluate_piece(Homotopy *h, double p) {
    int n = h->n, m = h->m;
    set_price(h, p);
    h->piece_price = p;
    h->ratio_dir = 0;
    h->evaluations++;
    h->piece_valid = 0;
    int rc = h->set_reset ? prillm__system_factor(&h->sys, h->active)
                          : prillm__system_factor_changed(&h->sys, h->active, h->ambiguous, h->n_ambiguous);
    h->set_reset = 0;
    if (rc) return rc;
    const PrillmActiveSystem *sys = &h->sys;
    for (int i = 0; i < n; i++)
        if (h->mk->demand[i] > 0 && sys->user_start[i + 1] == sys->user_start[i]) return 1;
    /* h->c changes only in the target's column (set_price) */
    prillm__system_rhs_moved(&h->sys, h->c, h->s, h->mk->demand, h->r);
    prillm__system_rhs_column(sys, h->s, h->w_p, h->r1); /* dc/dp: w_p on the target's column */
    prillm__system_solve2(&h->sys, h->r, h->nu, h->r1, h->nu1); /* the values and their slopes */
    prillm__system_flows(sys, h->nu, h->F, h->pf);
    prillm__system_flows_column(sys, h->s, h->w_p, h->nu1, h->F1, h->pf1);
    for (int j = 0; j < m; j++) {
        h->slack_F[j] = h->slope[j] * h->F[j];
        h->slack_F1[j] = h->slope[j] * h->F1[j] + (j == h->s ? h->w_p : 0.0);
    }
    memcpy(h->slack_nu, h->nu, (size_t)n * sizeof(double));
    follow_loads(h);
    piece_slope_range(h);
    for (int i = 0; i < n; i++) {
        if (!(h->mk->demand[i] > 0)) {
            h->user_scale[i] = 1;
            continue;
        }
        double scale = fabs(h->nu[i]);
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            double g = fabs(sys->pair_cost[q]) + h->slope[j] * (h->F[j] + fabs(h->pf[q])); /* c_ij */
            if (g > scale) scale = g;
        }
        h->user_scale[i] = scale > 0 ? scale : 1;
    }
    h->piece_valid = 1;
    return 0;
}

/* Where the piece's solve left active pair (i, j): its index in the
 * pattern's CSR (pf, pf1), -1 if the pattern lacks it. */
static inline int pattern_index(const Homotopy *h, int i, int j) {
    const PrillmActiveSystem *sys = &h->sys;
    for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
        if (sys->user_prov[q] == j) return q;
    return -1;
}

/* ---- the slopes kept at a start: an open-addressing map pair -> slope ---- */

static size_t slope_slot(const struct SlopeMap *map, long key) {
    return (size_t)(((unsigned long long)key * 0x9E3779B97F4A7C15ull) >> 7) & (map->capacity - 1);
}

/* 0 for a pair never kept (as the dense array's zeros were) */
static double slope_get(const struct SlopeMap *map, long key) {
    if (!map->capacity) return 0.0;
    for (size_t at = slope_slot(map, key);; at = (at + 1) & (map->capacity - 1)) {
        if (map->key[at] == key) return map->value[at];
        if (map->key[at] < 0) return 0.0;
    }
}

/* Returns -1 out of memory. */
static int slope_set(struct SlopeMap *map, long key, double value) {
    if (2 * (map->count + 1) > map->capacity) {
        size_t capacity = map->capacity ? 2 * map->capacity : 1024;
        long *keys = malloc(capacity * sizeof *keys);
        double *values = malloc(capacity * sizeof *values);
        if (!keys || !values) {
            free(keys);
            free(values);
            return -1;
        }
        for (size_t k = 0; k < capacity; k++) keys[k] = -1;
        struct SlopeMap bigger = {keys, values, capacity, 0};
        for (size_t k = 0; k < map->capacity; k++)
            if (map->key[k] >= 0) {
                size_t at = slope_slot(&bigger, map->key[k]);
                while (keys[at] >= 0) at = (at + 1) & (capacity - 1);
                keys[at] = map->key[k];
                values[at] = map->value[k];
                bigger.count++;
            }
        free(map->key);
        free(map->value);
        *map = bigger;
    }
    size_t at = slope_slot(map, key);
    while (map->key[at] >= 0 && map->key[at] != key) at = (at + 1) & (map->capacity - 1);
    if (map->key[at] < 0) {
        map->key[at] = key;
        map->count++;
    }
    map->value[at] = value;
    return 0;
}

/* The start's flow of active pair (i, j) (0 if the start had none there) */
static double start_flow(const Homotopy *h, int i, int j) {
    for (int q = h->start_row[i]; q < h->start_row[i + 1]; q++)
        if (h->start_prov[q] == j) return h->start_val[q];
    return 0.0;
}

/* Value of pair (i,j) at the piece's start (flow if active, slack if not)
 * and its slope in the price, for the set just evaluated. */
static inline double pair_value(const Homotopy *h, int i, int j) {
    size_t pair = (size_t)i * (size_t)h->m + (size_t)j;
    if (!h->active[pair]) return h->c[pair] + h->slack_F[j] - h->slack_nu[i];
    int q = h->piece_valid ? pattern_index(h, i, j) : -1;
    return q >= 0 ? h->pf[q] : start_flow(h, i, j);
}

static inline double pair_slope(const Homotopy *h, int i, int j) {
    size_t pair = (size_t)i * (size_t)h->m + (size_t)j;
    if (!h->active[pair]) return h->slack_F1[j] - h->nu1[i];
    int q = h->piece_valid ? pattern_index(h, i, j) : -1;
    return q >= 0 ? h->pf1[q] : slope_get(&h->slopes, (long)pair);
}

/* The size an active flow f_ij is measured against. The flow is computed as
 * beta_j (nu_i - c_ij) - F_j, so besides the app's demand the round-off of
 * those terms bounds what can be told from zero: a tiny app on a huge model
 * (demand 1e-4 beside a provider carrying 1e6) has flows known only to
 * about 1e-9, not to a billionth of its demand. */
static double flow_scale(const Homotopy *h, int i, int j) {
    return h->mk->demand[i] + h->flow_noise * (h->beta[j] * h->user_scale[i] + fabs(h->F[j]));
}

/* The size a value of pair (i,j) is measured against: flow_scale for
 * flows, the user's marginal cost scale for slacks. */
static double value_scale(const Homotopy *h, int i, int j) {
    return h->active[(size_t)i * (size_t)h->m + (size_t)j] ? flow_scale(h, i, j) : h->user_scale[i];
}

/* A slope is negligible when it would move the value by less than the
 * tolerance over the whole price range. */
static double slope_tolerance(const Homotopy *h, int i, int j) {
    return h->tol * value_scale(h, i, j) / h->range;
}

/* One scan of every pair at the piece's start: the number of values below
 * -100 tol of their scale (infeasible), and the distance in price, walking
 * in direction dir, to the first pair that reaches zero (capped at limit). */
static int scan_pairs(Homotopy *h, int dir, double limit, double *next) {
    int n = h->n, m = h->m, bad = 0;
    double best = limit, tol_range = h->tol / h->range, infeasible = -100 * h->tol;
    const double *slack_F = h->slack_F, *slack_F1 = h->slack_F1;
    const PrillmActiveSystem *sys = &h->sys; /* the pattern of h->active, just evaluated */
    for (int i = 0; i < n; i++) {
        if (!(h->mk->demand[i] > 0)) continue;
        const double *c = h->c + (size_t)i * (size_t)m;
        const unsigned char *act = h->active + (size_t)i * (size_t)m;
        /* the flows: few (the active set is sparse), read where the piece's
         * solve left them (h->val holds the same numbers, scattered) */
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            double flow = h->pf[q], v1 = dir * h->pf1[q];
            /* neither below zero nor falling: nothing to test (the bound
             * infeasible * scale is not positive), so no scale to compute */
            if (flow >= 0 && v1 >= 0) continue;
            double scale = flow_scale(h, i, sys->user_prov[q]);
            bad += flow < infeasible * scale;
            if (v1 >= 0 || v1 > -tol_range * scale) continue;
            double v = flow > 0 ? flow : 0;
            if (v / -v1 < best) best = v / -v1;
        }
        double nu = h->slack_nu[i], nu1 = h->nu1[i];
        double slack_limit = -tol_range * h->user_scale[i]; /* a slope must beat this to count */
        double slack_floor = infeasible * h->user_scale[i];
        double row_best = best;
        int row_bad = 0;
        if (h->bounded && h->n_listed[i] >= 0) {
            /* the unlisted slacks are at least floor and fall at most at
             * rate steepest: if they can neither be infeasible nor end the
             * piece before best, only the listed ones and the target's are
             * read */
            double floor = unlisted_floor(h, i);
            double steepest = dir * nu1 - h->slope_low[dir > 0];
            steepest += 1e-12 * (fabs(steepest) + h->slope_high + fabs(nu1));
            double reach = steepest <= -slack_limit ? INFINITY : floor > 0 ? floor / steepest : 0;
            if (floor >= slack_floor && reach >= best) {
                const int *list = h->listed_prov + h->list_at[i];
                const double *cost = h->listed_cost + h->list_at[i];
                const int *prov = sys->user_prov;
                int count = h->n_listed[i], a = sys->user_start[i], a_end = sys->user_start[i + 1];
                /* the listed ones too far as well: the target's pair alone */
                double listed = h->row_forced[i] ? -INFINITY : listed_floor(h, i);
                double listed_reach = steepest <= -slack_limit ? INFINITY : listed > 0 ? listed / steepest : 0;
                int skip_list = listed >= slack_floor && listed_reach >= best;
                double least = INFINITY; /* the listed keys not active, read */
                /* the listed entries not active (prillm__open_entries),
                 * in list order, then the target's pair */
                const int *open_at = h->list_open;
                int open =
                    skip_list ? 0 : prillm__open_entries(list, count, prov + a, a_end - a, h->list_mark, h->list_open);
                for (int o = 0; o <= open; o++) {
                    int j, q = o < open ? open_at[o] : count;
                    if (q < count) {
                        j = list[q];
                    } else {
                        j = h->s;
                        if (act[j]) continue;
                    }
                    double v1 = dir * (slack_F1[j] - nu1);
                    double key = (q < count ? cost[q] : c[j]) + slack_F[j];
                    if (q < count) least = least < key ? least : key;
                    double v = key - nu;
                    row_bad += v < slack_floor;
                    if (!(v1 < slack_limit)) continue;
                    v = v > 0 ? v : 0;
                    /* a division only for a pair that may come first (the
                     * margin covers the product's rounding) */
                    if (v > row_best * -v1 * (1 + 1e-15)) continue;
                    double t = v / -v1;
                    row_best = t < row_best ? t : row_best;
                }
                if (!skip_list) h->listed_min[i] = least - h->drift;
                h->lists_skipped += skip_list;
                best = row_best;
                bad += row_bad;
                h->rows_bounded++;
                continue;
            }
        }
        /* the slacks: every other pair, a branch-free loop the compiler
         * vectorises (the minimum is exact whatever the order) */
#pragma omp simd reduction(min : row_best) reduction(+ : row_bad)
        for (int j = 0; j < m; j++) {
            int slack = act[j] == 0;
            double v1 = dir * (slack_F1[j] - nu1);
            double v = c[j] + slack_F[j] - nu;
            row_bad += slack & (v < slack_floor);
            v = v > 0 ? v : 0;
            double t = v / -v1;
            t = ((v1 < slack_limit) & slack) ? t : INFINITY;
            row_best = t < row_best ? t : row_best;
        }
        best = row_best;
        bad += row_bad;
        /* a fresh list makes the bound tight again for the next pieces */
        if (h->bounded) list_row(h, i);
    }
    *next = best;
    return bad;
}

/* Distance in price from the current piece's start, walking in direction
 * dir, to the first pair that reaches zero (capped at limit): from the
 * check's scan when the piece was just checked. */
static double ratio_test(Homotopy *h, int dir, double limit) {
    if (h->ratio_dir == dir) return h->ratio_next < limit ? h->ratio_next : limit;
    double best;
    scan_pairs(h, dir, limit, &best);
    return best;
}

/* Checks the set in h->active, just evaluated at the breakpoint, against the
 * directional rule on the ambiguous pairs and sign feasibility elsewhere.
 * Ambiguous pairs that violate the rule are marked in h->flip (for the
 * primal-dual retry); returns the number of violations. */
static int check_set(Homotopy *h, int dir) {
    int m = h->m, bad = 0;
    memset(h->flip, 0, (size_t)h->n_ambiguous);
    for (int a = 0; a < h->n_ambiguous; a++) {
        long pair = h->ambiguous[a];
        int i = (int)(pair / m), j = (int)(pair % m);
        /* A flow below what double precision resolves (flow_scale) has no
         * trustworthy sign or slope: its pair keeps the natural guess, and
         * the error is bounded by the app's negligible demand. */
        if (h->active[pair] && flow_scale(h, i, j) > 2.0 * h->mk->demand[i]) continue;
        double stol = slope_tolerance(h, i, j);
        /* the slope rule binds a value at zero; one still clearly positive
         * may move toward zero (it is the ratio test's next breakpoint) */
        double scale = value_scale(h, i, j);
        double v = pair_value(h, i, j), v1 = pair_slope(h, i, j);
        if ((dir * v1 < -stol && v <= NOISE * scale) || v < -10 * h->tol * scale) {
            h->flip[a] = 1;
            bad++;
        }
    }
    if (bad) return bad;
    /* the pairs the rule did not choose must stay feasible at the breakpoint;
     * the same scan finds where the piece ends */
    bad = scan_pairs(h, dir, INFINITY, &h->ratio_next);
    h->ratio_dir = dir;
    return bad;
}

/* Evaluate h->active at price p and check it; 1 if consistent, 0 if not,
 * -1 out of memory. */
static int try_set(Homotopy *h, double p, int dir) {
    int rc = evaluate_piece(h, p);
    if (rc < 0) return -1;
    if (rc > 0) {
        memset(h->flip, 0, (size_t)h->n_ambiguous); /* nothing to go on */
        return 0;
    }
    return check_set(h, dir) == 0;
}

/* Settles the active set at a breakpoint t. On entry h->active is the guess
 * (ambiguous pairs set by the natural rule) and h->ambiguous lists the
 * ambiguous pairs. On success h's arrays describe the new piece at t.
 * Returns 1 settled by the rule, 0 not settled, -1 out of memory. */
static int settle_set(Homotopy *h, double t, int dir) {
    int ok = try_set(h, t, dir);
    if (ok) return ok;
    /* primal-dual flips of the violating ambiguous pairs */
    for (int round = 0; round < 2 * h->n_ambiguous + 10; round++) {
        int flipped = 0;
        for (int a = 0; a < h->n_ambiguous; a++)
            if (h->flip[a]) {
                h->active[h->ambiguous[a]] ^= 1;
                flipped = 1;
            }
        if (!flipped) break; /* nothing left to flip */
        ok = try_set(h, t, dir);
        if (ok) return ok;
    }
    /* Enumerate only while it costs less than the fallback, an equilibrium
     * solve (a few dozen passes over the n x m pairs): on a large market a
     * cascade of near-simultaneous breakpoints would otherwise try 2^14
     * sets at every step. */
    int enumerate_max = ENUMERATE_MAX;
    while (enumerate_max > 2 && ldexp((double)h->n * (double)h->m, enumerate_max) > ENUMERATE_WORK) enumerate_max--;
    if (h->n_ambiguous > enumerate_max) return 0;
    /* every subset of the ambiguous pairs, on top of the definite ones */
    unsigned long subsets = 1ul << h->n_ambiguous;
    for (unsigned long mask = 0; mask < subsets; mask++) {
        for (int a = 0; a < h->n_ambiguous; a++) h->active[h->ambiguous[a]] = (unsigned char)((mask >> a) & 1u);
        ok = try_set(h, t, dir);
        if (ok) return ok;
    }
    return 0;
}

/* Row constants of classify_at. */
typedef struct {
    double nu, nu1, user_scale, definite_slack;
} ClassifyRow;

/* One pair of classify_at, with its value v at the breakpoint and its slope
 * v1 (a flow if active, else a slack): an ambiguous pair is listed, with its
 * membership before, and (unless keep_membership) set to the natural guess. */
static inline void classify_pair(Homotopy *h, const ClassifyRow *row, int i, int j, int in, double v, double v1,
                                 int dir, int keep_membership, long *n_ambiguous) {
    size_t pair = (size_t)i * (size_t)h->m + (size_t)j;
    double tol = h->tol, scale, zero;
    if (in) {
        scale = flow_scale(h, i, j);
        if (v > tol * scale) return; /* definite: membership stays */
        /* a flow is zero when it is within its own round-off
         * (FLOW_NOISE of beta_j |nu_i| + F_j, with a margin), not
         * within a share of the app's demand: a huge app's small
         * flow on a small model is known far better than that */
        zero = 64 * FLOW_NOISE * (h->beta[j] * row->user_scale + fabs(h->F[j]));
        if (zero > NOISE * scale) zero = NOISE * scale;
    } else {
        if (v > row->definite_slack) return;
        scale = row->user_scale;
        zero = NOISE * scale;
    }
    /* Small but clearly off zero, and not reaching zero within the
     * tolerance in price (a tiny model's tiny flow on a huge app):
     * not at this breakpoint; the ratio test meets it when it comes. */
    double toward = -dir * v1;
    if (v > zero && v > tol * h->range * (toward > 0 ? toward : 0)) return;
    /* a zero flow is ambiguous only if its slack would be zero too,
     * which it is at a breakpoint (continuity); a zero slack likewise */
    h->was_in[*n_ambiguous] = (unsigned char)in;
    h->ambiguous[(*n_ambiguous)++] = (long)pair;
    if (keep_membership) return;
    double stol = tol * scale / h->range;
    if (in) h->active[pair] = dir * v1 >= -stol; /* a flow driven to zero leaves   */
    else h->active[pair] = dir * v1 < -stol;     /* a slack driven to zero enters */
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Moves the values h->val by dt along their slopes (to the breakpoint),
 * lists the ambiguous pairs there, and sets h->active to the natural guess:
 * definite pairs keep their membership, ambiguous ones follow the slope of
 * the piece just left (or, with keep_membership, stay as they are). Without
 * keep_membership the set must be the one just evaluated (its pattern is
 * h->sys's): a bounded row then reads only its active, listed and target
 * pairs. */
static void classify_at(Homotopy *h, int dir, int keep_membership, double dt) {
    int m = h->m;
    long n_ambiguous = 0;
    const PrillmActiveSystem *sys = &h->sys;
    for (int i = 0; i < h->n; i++) {
        if (!(h->mk->demand[i] > 0)) continue;
        ClassifyRow row = {h->slack_nu[i], h->nu1[i], h->user_scale[i], h->tol * h->user_scale[i]};
        long row_first = n_ambiguous;
        if (h->bounded && !keep_membership && h->n_listed[i] >= 0) {
            /* every unlisted slack at the breakpoint is at least reach */
            double drop = fabs(dt) * h->slope_low[dt > 0] - dt * row.nu1;
            double reach = unlisted_floor(h, i) + drop - 1e-12 * fabs(dt) * (h->slope_high + fabs(row.nu1));
            if (reach > row.definite_slack) {
                long first = n_ambiguous;
                const int *list = h->listed_prov + h->list_at[i];
                const double *cost = h->listed_cost + h->list_at[i];
                const unsigned char *act = h->active + (size_t)i * (size_t)m;
                const int *prov = sys->user_prov;
                int count = h->n_listed[i], a = sys->user_start[i], a_end = sys->user_start[i + 1];
                /* the listed ones not active are all above the definite
                 * slack at the breakpoint too: none can be ambiguous */
                double listed = listed_floor(h, i) + drop - 1e-12 * fabs(dt) * (h->slope_high + fabs(row.nu1));
                int skip_list = listed > row.definite_slack;
                /* the inactive ones first: the active ones' guesses change act */
                const int *open_at = h->list_open;
                int open =
                    skip_list ? 0 : prillm__open_entries(list, count, prov + a, a_end - a, h->list_mark, h->list_open);
                for (int o = 0; o <= open; o++) {
                    int j, q = o < open ? open_at[o] : count;
                    if (q < count) {
                        j = list[q];
                    } else {
                        j = h->s;
                        if (act[j]) continue;
                    }
                    double v1 = h->slack_F1[j] - row.nu1;
                    double v = (q < count ? cost[q] : h->c[(size_t)i * (size_t)m + (size_t)j]) + h->slack_F[j] - row.nu;
                    classify_pair(h, &row, i, j, 0, v + dt * v1, v1, dir, 0, &n_ambiguous);
                }
                /* the flows from the piece's solve (h->val, scattered, is
                 * written by the next evaluation before anyone reads it) */
                for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
                    classify_pair(h, &row, i, sys->user_prov[q], 1, h->pf[q] + dt * h->pf1[q], h->pf1[q], dir, 0,
                                  &n_ambiguous);
                /* in pair order, as a whole row's scan lists them */
                if (n_ambiguous - first > 1) {
                    /* was_in travels with its pair: sort pairs tagged by it */
                    for (long a = first; a < n_ambiguous; a++) h->ambiguous[a] = 2 * h->ambiguous[a] + h->was_in[a];
                    qsort(h->ambiguous + first, (size_t)(n_ambiguous - first), sizeof(long), cmp_long);
                    for (long a = first; a < n_ambiguous; a++) {
                        h->was_in[a] = (unsigned char)(h->ambiguous[a] & 1);
                        h->ambiguous[a] >>= 1;
                    }
                }
                h->row_forced[i] = n_ambiguous > first;
                h->rows_bounded++;
                continue;
            }
        }
        const double *c = h->c + (size_t)i * (size_t)m;
        int at = h->start_row[i]; /* the start's flows of the row, by model */
        const unsigned char *act = h->active + (size_t)i * (size_t)m;
        /* the set just evaluated: its flows where the solve left them (in
         * the CSR, by provider); a set from an equilibrium solve: h->val */
        int q = keep_membership ? -1 : sys->user_start[i];
        for (int j = 0; j < m; j++) {
            int in = act[j];
            if (in && q >= 0 && q < sys->user_start[i + 1] && sys->user_prov[q] == j) {
                classify_pair(h, &row, i, j, 1, h->pf[q] + dt * h->pf1[q], h->pf1[q], dir, 0, &n_ambiguous);
                q++;
            } else if (in) {
                double slope = slope_get(&h->slopes, (long)((size_t)i * (size_t)m + (size_t)j));
                while (at < h->start_row[i + 1] && h->start_prov[at] < j) at++;
                double value = at < h->start_row[i + 1] && h->start_prov[at] == j ? h->start_val[at] : 0.0;
                value += dt * slope;
                if (at < h->start_row[i + 1] && h->start_prov[at] == j) h->start_val[at] = value;
                classify_pair(h, &row, i, j, 1, value, slope, dir, keep_membership, &n_ambiguous);
            } else {
                double v1 = h->slack_F1[j] - row.nu1;
                double v = c[j] + h->slack_F[j] - row.nu + dt * v1;
                if (v > row.definite_slack) continue;
                classify_pair(h, &row, i, j, 0, v, v1, dir, keep_membership, &n_ambiguous);
            }
        }
        if (h->bounded) {
            list_row(h, i);
            h->row_forced[i] = n_ambiguous > row_first;
        }
    }
    h->n_ambiguous = (int)n_ambiguous;
}

/* The segments' active sets are kept while they take at most this much
 * memory (a 20 x 20 market's 200 pieces take 80 kB; a large market's walk
 * drops them and its certificate solves start from the last solve). */
#define SETS_MAX_BYTES (8u << 20)

static int push_segment(Homotopy *h, const PrillmPriceSegment *seg) {
    size_t NM = (size_t)h->n * (size_t)h->m;
    if (h->n_segments == h->cap_segments) {
        int cap = h->cap_segments ? 2 * h->cap_segments : 64;
        PrillmPriceSegment *bigger = realloc(h->segments, (size_t)cap * sizeof *bigger);
        if (!bigger) return -1;
        h->segments = bigger;
        h->cap_segments = cap;
        if (h->keep_sets && (size_t)cap * NM > SETS_MAX_BYTES) {
            free(h->sets);
            h->sets = NULL;
            h->keep_sets = 0;
        } else if (h->keep_sets) {
            unsigned char *sets = realloc(h->sets, (size_t)cap * NM);
            if (!sets) return -1;
            h->sets = sets;
        }
    }
    if (h->keep_sets) memcpy(h->sets + (size_t)h->n_segments * NM, h->active, NM);
    h->segments[h->n_segments++] = *seg;
    return 0;
}

static int push_breakpoint(Homotopy *h, double price, int i, int j, int enters) {
    if (h->n_breakpoints == h->cap_breakpoints) {
        int cap = h->cap_breakpoints ? 2 * h->cap_breakpoints : 64;
        PrillmPriceBreakpoint *bigger = realloc(h->breakpoints, (size_t)cap * sizeof *bigger);
        if (!bigger) return -1;
        h->breakpoints = bigger;
        h->cap_breakpoints = cap;
    }
    PrillmPriceBreakpoint *b = &h->breakpoints[h->n_breakpoints++];
    b->price = price;
    b->user = i;
    b->provider = j;
    b->enters = enters;
    return 0;
}

/* Best objective (p - k)(F0 + b (p - lo)) + G0 + g (p - lo) on [lo, hi]
 * (G: the margins' value of the other providers' flows, affine on the piece
 * too, so the objective stays a concave quadratic); ties go to the lower
 * price. */
static void piece_optimum(double lo, double hi, double F0, double b, double k, double G0, double g, double *best_p,
                          double *best_profit) {
    double cand[3] = {lo, hi, lo};
    int count = 2;
    if (b < 0) {
        double p = 0.5 * (lo + k) + (F0 + g) / (-2.0 * b);
        if (p > lo && p < hi) cand[count++] = p;
    }
    *best_p = lo;
    *best_profit = (lo - k) * F0 + G0;
    for (int q = 1; q < count; q++) {
        double p = cand[q], profit = (p - k) * (F0 + b * (p - lo)) + G0 + g * (p - lo);
        if (profit > *best_profit) {
            *best_p = p;
            *best_profit = profit;
        }
    }
}

/* Keeps the solver's last exact set as the set of price p. Only a start
 * for later solves: running out of memory, or of SOLVED_SETS_BYTES (about
 * 40 sets of a 5000 x 500 target take 8 MB), keeps nothing. */
#define SOLVED_SETS_BYTES ((size_t)64 << 20)
static void keep_solved_set(Homotopy *h, PrillmEquilibriumSolver *solver, double p) {
    const unsigned char *set = prillm__equilibrium_last_set(solver);
    if (!set || h->solved_bytes > SOLVED_SETS_BYTES) return;
    int n = h->n, m = h->m;
    if (h->n_solved == h->solved_cap) {
        int cap = h->solved_cap ? 2 * h->solved_cap : 32;
        struct SolvedSet *bigger = realloc(h->solved, (size_t)cap * sizeof *bigger);
        if (!bigger) return;
        h->solved = bigger;
        h->solved_cap = cap;
    }
    const int *rows_start, *rows_prov;
    if (prillm__equilibrium_last_set_rows(solver, &rows_start, &rows_prov)) {
        /* the solver's pattern is the set: copied as it is */
        long pairs = rows_start[n];
        int *start = malloc(((size_t)n + 1) * sizeof *start), *prov = malloc((size_t)(pairs > 0 ? pairs : 1) * sizeof *prov);
        if (!start || !prov) {
            free(start);
            free(prov);
            return;
        }
        memcpy(start, rows_start, ((size_t)n + 1) * sizeof *start);
        memcpy(prov, rows_prov, (size_t)pairs * sizeof *prov);
        h->solved[h->n_solved++] = (struct SolvedSet){p, start, prov};
        h->solved_bytes += ((size_t)n + 1 + (size_t)pairs) * sizeof(int);
        return;
    }
    /* the flags are about 2% set on a large market: whole words of clear
     * flags are skipped (a byte-by-byte count and copy of a 5000 x 500
     * set took about 15 million instructions, 5% of a target's) */
    long count = 0;
    for (int i = 0; i < n; i++) count += prillm__count_flags(set + (size_t)i * (size_t)m, m);
    /* 8 more: prillm__list_flags writes an entry before it knows it keeps it */
    int *start = malloc(((size_t)n + 1) * sizeof *start), *prov = malloc((size_t)(count + 8) * sizeof *prov);
    if (!start || !prov || count > INT_MAX) {
        free(start);
        free(prov);
        return;
    }
    count = 0;
    for (int i = 0; i < n; i++) {
        start[i] = (int)count;
        count += prillm__list_flags(set + (size_t)i * (size_t)m, m, prov + count);
    }
    start[n] = (int)count;
    h->solved[h->n_solved++] = (struct SolvedSet){p, start, prov};
    h->solved_bytes += ((size_t)n + 1 + (size_t)count) * sizeof(int);
}

/* The equilibrium at price p (prillm__price_score); with may_seed (the
 * pruning's solves), started from the set of the nearest price solved when
 * that is clearly nearer (by a tenth) than the solver's own last price, and
 * the set then solved kept for the next ones. The walks come after every
 * pruning solve, so a walk's start keeps nothing (no solve would read it);
 * nor is it seeded: its flows are where the
 * walk begins, and on the calibrated market a start from a seeded solve
 * (the same equilibrium to round-off) met a degenerate pair at the start
 * price that the unseeded one did not (`openai/gpt-5.4-pro`: a fallback,
 * status inaccurate). */
static PrillmErrorCode solve_near(Homotopy *h, PrillmEquilibriumSolver *solver, double p, double *flow,
                                  int may_seed, PrillmError *err) {
    int near = -1;
    for (int k = 0; k < h->n_solved; k++)
        if (near < 0 || fabs(h->solved[k].price - p) < fabs(h->solved[near].price - p)) near = k;
    const struct SolvedSet *seed = NULL;
    if (may_seed && near >= 0 && !(fabs(h->solved[near].price - p) >= 0.9 * fabs(h->solver_price - p)))
        seed = &h->solved[near];
    /* the set by rows: the solver rewrites only the rows that differ from
     * its last set (writing and copying all n x m flags was 4% of a
     * 5000 x 500 target's time) */
    PrillmErrorCode rc = seed ? prillm__price_score_rows(solver, h->s, p, seed->start, seed->prov, flow, NULL, err)
                              : prillm__price_score_from(solver, h->s, p, NULL, flow, NULL, err);
    h->solver_price = rc ? NAN : p;
    if (!rc && may_seed) keep_solved_set(h, solver, p);
    return rc;
}

/* Row i of an equilibrium's flows: count entries, value[t] at provider
 * index[t] (packed: the certificate's nonzeros), or at provider t (index
 * NULL: the dense row of solution.flows). */
typedef struct {
    const int *index;
    const double *value;
    int count;
} RowFlows;

static RowFlows row_flows(const PrillmEquilibrium *eq, int packed, const int *start, const int *index,
                          const double *value, int i, int m) {
    if (packed) return (RowFlows){index + start[i], value + start[i], start[i + 1] - start[i]};
    return (RowFlows){NULL, eq->flows + (size_t)i * (size_t)m, m};
}

static PrillmErrorCode equilibrium_start(Homotopy *h, double p, long *solves, PrillmError *err) {
    PrillmErrorCode rc = PRILLM_OK;
    if (!h->eq && !(rc = prillm_equilibrium_setup(&h->eq, h->mk, NULL, err))) {
        prillm__equilibrium_set_keep_outputs(h->eq, 1);
        h->solver_price = NAN;
    }
    double flow;
    if (!rc) rc = solve_near(h, h->eq, p, &flow, 0, err); /* fails unless solved or inaccurate */
    if (rc) return rc;
    PrillmEquilibriumSolver *solver = h->eq;
    (*solves)++;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    int n = h->n, m = h->m;
    /* the active pairs' slopes stay those of the last piece (kept here, not
     * at every piece) */
    if (h->piece_valid) {
        const PrillmActiveSystem *sys = &h->sys;
        for (int i = 0; i < n; i++)
            for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
                if (slope_set(&h->slopes, (long)((size_t)i * (size_t)m + (size_t)sys->user_prov[q]), h->pf1[q]))
                    return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the pricing homotopy");
        h->piece_valid = 0; /* the pattern no longer matches h->active */
    }
    set_price(h, p);
    /* each row's flows: its nonzeros from the solver's certificate when it
     * has them (three passes over n x m numbers, the flows twice and the
     * costs once, were a fifth of a 5000 x 500 walk's start), else the
     * dense row; the same numbers either way */
    const int *pack_start, *pack_index;
    const double *pack_value;
    int packed = prillm__equilibrium_flow_pack(solver, &pack_start, &pack_index, &pack_value);
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        if (!(h->mk->demand[i] > 0)) continue;
        RowFlows r = row_flows(eq, packed, pack_start, pack_index, pack_value, i, m);
        for (int t = 0; t < r.count; t++) count += r.value[t] > 0;
    }
    if (count > h->start_capacity) {
        int *prov = realloc(h->start_prov, count * sizeof *prov);
        if (prov) h->start_prov = prov;
        double *val = prov ? realloc(h->start_val, count * sizeof *val) : NULL;
        if (val) h->start_val = val;
        if (!prov || !val) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the pricing homotopy");
        h->start_capacity = count;
    }
    count = 0;
    memset(h->active, 0, (size_t)n * (size_t)m);
    for (int i = 0; i < n; i++) {
        h->start_row[i] = (int)count;
        RowFlows r = row_flows(eq, packed, pack_start, pack_index, pack_value, i, m);
        double scale = fabs(eq->lambda[i]);
        int with_demand = h->mk->demand[i] > 0;
        for (int t = 0; t < r.count; t++) {
            int j = r.index ? r.index[t] : t;
            double x = r.value[t];
            if (!(x > 0)) continue;
            double g = fabs(h->c[(size_t)i * m + j]) + h->slope[j] * (eq->provider_flow[j] + x);
            if (g > scale) scale = g;
            if (with_demand) {
                h->active[(size_t)i * (size_t)m + (size_t)j] = 1;
                h->start_prov[count] = j;
                h->start_val[count++] = x;
            }
        }
        h->user_scale[i] = scale > 0 ? scale : 1;
        h->slack_nu[i] = eq->lambda[i];
    }
    h->start_row[n] = (int)count;
    /* the slacks from the solver's loads and multipliers; their slopes
     * stay those of the last piece until the next evaluation */
    for (int j = 0; j < m; j++) h->slack_F[j] = h->slope[j] * eq->provider_flow[j];
    follow_loads(h);
    /* a new set: no row's listed bound holds for it */
    if (h->bounded)
        for (int i = 0; i < n; i++) h->listed_min[i] = -INFINITY;
    h->set_reset = 1;
    return PRILLM_OK;
}

/* Find the set valid just beyond price p in direction dir, from an
 * equilibrium solve there; the fallback when the rule cannot settle a
 * breakpoint. Leaves h describing the piece at p. */
static PrillmErrorCode start_at(Homotopy *h, double p, int dir, long *solves, int *settled, PrillmError *err) {
    PrillmErrorCode rc = equilibrium_start(h, p, solves, err);
    if (rc) return rc;
    classify_at(h, dir, 1, 0.0);
    int ok = settle_set(h, p, dir);
    if (ok < 0) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the pricing homotopy");
    if (!ok) {
        /* Rule failed: take the solver's own support at a point just beyond
         * p, where nothing is ambiguous any more. */
        double q = p + dir * 1e-7 * h->range;
        if (q < 0) q = 0;
        rc = equilibrium_start(h, q, solves, err);
        if (rc) return rc;
        ok = evaluate_piece(h, p);
        if (ok < 0) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the pricing homotopy");
        h->fallbacks++;
        /* Not even the solver's support gives a usable piece: the market is
         * beyond what double precision resolves here (e.g. demands 1e21
         * apart); the walk stops with status failed, not a wrong curve. */
        if (ok > 0) return PRILLM_OK;
    }
    *settled = 1;
    return PRILLM_OK;
}

typedef struct {
    double best_price, best_profit;
    double reached; /* where the walk ended: its end, or where it stopped */
    long pieces;
    long solves;
    int complete; /* reached the end of the range or a local optimum, or
                     stopped where the rest is bounded below the best    */
    int lost;     /* stopped: no valid active set found (status failed)   */
} WalkResult;

/* How fast the target's flow can fall with its price, at most: a
 * certified rate L with F(p) - F(p') <= L (p' - p) for p < p', whatever
 * the active sets between. The equilibrium minimises the potential
 * sum c_ij x_ij + sum_j a_j F_j^2 / 2 over each app's fixed demand, and
 * moving the target's price from p to p' moves only its column of c, by
 * w_p (p' - p). The two minimisers' optimality conditions, added, give
 *     sum_j a_j (F_j - F'_j)^2 <= w_p (p' - p) (F_s - F'_s),
 * and as the total flow is fixed, the D = F_s - F'_s the target loses the
 * rivals gain, which costs them at least D^2 / sum_{j != s} (1 / a_j). So
 *     D <= w_p (p' - p) / (a_s + 1 / sum_{j != s} 1 / a_j)
 * (0 without rivals: the target then carries the whole demand). On a
 * random 5000 x 500 market the walked pieces' slopes are 99% of this rate:
 * the flow falls about as fast as it can, and a bound that uses the rate
 * is nearly as tight as the curve. INFINITY where the numbers give none
 * (validation keeps every a_j finite and positive, so only overflow). */
double prillm__price_flow_fall_rate(const PrillmMarket *mk, int s) {
    double rivals = 0; /* sum of 1 / a_j over the rivals */
    for (int j = 0; j < mk->n_providers; j++)
        if (j != s) rivals += mk->capacity[j] / mk->w_congestion;
    double stiffness = mk->w_congestion / mk->capacity[s] + (rivals > 0 ? 1.0 / rivals : INFINITY);
    double rate = mk->w_price / stiffness;
    /* a few units in the last place for the sums' round-off */
    return isfinite(rate) && rate >= 0 ? rate * (1 + 1e-12) : INFINITY;
}

/* An upper bound on the profit (p - k) F(p) over [lo, hi], F nonincreasing
 * with F(lo) = F_lo and F(hi) = F_hi and falling at most at `rate`, with
 * room for the solves' round-off (flows certified to about 1e-9 of
 * demand). Where the margin can be positive: on [lo, hi] F lies below
 * min(F(lo), F(hi) + rate (hi - p)), and the bound is the largest
 * (p - k) times that, a concave quadratic on the part where the line is
 * the lower one; without a rate it is (hi - k) F(lo) (monotone alone).
 * Below the cost every price loses at least (k - hi) F(hi). The price
 * where the bound is taken is rounded, so it is evaluated a few units in
 * the last place of the prices further out: where the rate times the
 * price is 1e8 times the demand and more (capacities far above the
 * demand), a price off by one unit moved the line by more than the
 * flows' allowance, and the bound came out up to 4e-5 below the true
 * largest value. A NaN flow bounds nothing. */
double prillm__price_interval_bound(double lo, double hi, double F_lo, double F_hi, double k, double slack_flow,
                                    double rate) {
    if (isnan(F_lo) || isnan(F_hi)) return INFINITY;
    if (!(hi >= k)) return (hi - k) * fmax(F_hi - slack_flow, 0.0);
    double top = F_lo + slack_flow, end = F_hi + slack_flow, monotone = (hi - k) * top;
    if (!(rate < INFINITY)) return monotone;
    double left = fmax(lo, k);
    if (rate > 0) left = fmax(left, hi - (top - end) / rate); /* where the line meets F(lo) */
    double p = rate > 0 ? 0.5 * (k + hi + end / rate) : hi; /* the quadratic's top */
    p = fmin(fmax(p, left), hi);
    double d = 4 * DBL_EPSILON * fmax(fabs(hi), fabs(k));
    double bound = (p + d - k) * fmin(top, end + rate * (hi - p + d));
    return fmin(bound, monotone);
}

/* The pruned method's walks are intervals between its solved prices,
 * merged into runs where they touch. A walk going up stops where the rest
 * of its run cannot beat the best profit already found: on [p, b] with
 * b >= k, prillm__price_interval_bound from the walk's own flow at the
 * piece's start and the flow solved at b; an interval below the cost
 * keeps the bound of its solved ends, as do the run's later intervals
 * (rest). */
typedef struct {
    const double *hi;    /* the run's interval ends, ascending             */
    const double *hi_flow; /* the flow solved at each of them              */
    const double *bound; /* each interval's bound from its solved ends     */
    const double *rest;  /* rest[q]: the largest bound of the intervals after q */
    int count, at;       /* intervals; the one holding the walk's price   */
    double k, slack;     /* the marginal cost; the solves' flow round-off   */
    double rate;         /* how fast the flow can fall (prillm__price_flow_fall_rate) */
    double best;         /* the best profit found before this walk         */
} WalkStop;

static int walk_may_stop(WalkStop *stop, double p, double F, double walk_best) {
    while (stop->at + 1 < stop->count && p >= stop->hi[stop->at]) stop->at++;
    double hi = stop->hi[stop->at];
    double here = hi >= stop->k ? prillm__price_interval_bound(p, hi, F, stop->hi_flow[stop->at], stop->k,
                                                               stop->slack, stop->rate)
                                : stop->bound[stop->at];
    return fmax(here, stop->rest[stop->at]) < fmax(stop->best, walk_best);
}

/* Walk from p_start in direction dir (+1 up, -1 down) to p_end. With
 * stop_at_local, stop at the first piece whose optimum is interior (or
 * where the profit stops rising); otherwise keep the best over every piece.
 * Starts from an equilibrium solve at p_start. */
static PrillmErrorCode walk(Homotopy *h, const PrillmPriceProblem *pb, double p_start, int dir, double p_end,
                           int stop_at_local, WalkStop *stop, WalkResult *out, PrillmError *err) {
    memset(out, 0, sizeof *out);
    out->best_price = p_start;
    out->best_profit = -INFINITY;
    out->reached = p_end;
    int settled = 0;
    PrillmErrorCode rc = start_at(h, p_start, dir, &out->solves, &settled, err);
    if (rc || !settled) {
        out->lost = !rc;
        return rc;
    }
    double p = p_start, k = h->cost;
    int s = h->s, zero_length = 0;
    double last_fallback_at = NAN;
    size_t NM = (size_t)h->n * (size_t)h->m;
    /* Each fallback is an equilibrium solve standing in for the rule; more
     * of them than pairs means the walk is not resolving the market at all
     * (see docs/pricing.md, limits): give up as failed rather than crawl. */
    const int max_fallbacks = 64 + 2 * h->n * h->m;
    for (;;) {
        if (h->fallbacks > max_fallbacks) {
            out->lost = 1;
            return PRILLM_OK;
        }
        if (out->pieces >= pb->settings->max_pieces) return PRILLM_OK;
        if (pb->deadline > 0 && prillm__now() > pb->deadline) return PRILLM_OK;
        /* after one piece at least: the curve then holds the run's start */
        if (stop && dir > 0 && out->pieces > 0 && walk_may_stop(stop, p, h->F[s], out->best_profit)) {
            out->complete = 1;
            out->reached = p;
            return PRILLM_OK;
        }
        out->pieces++;
        double room = dir > 0 ? p_end - p : p - p_end;
        double step = ratio_test(h, dir, room > 0 ? room : 0);
        double t = step >= room ? p_end : p + dir * step;
        if (h->verbose >= 2)
            fprintf(stderr, "prillm: piece %ld at %.17g: next breakpoint %.17g (%d pairs were ambiguous)\n",
                    out->pieces, p, t, h->n_ambiguous);
        double lo = dir > 0 ? p : t, hi = dir > 0 ? t : p;
        double F_lo = h->F[s] + h->F1[s] * (lo - p), b = h->F1[s];
        double G_lo = 0, g = 0;
        for (int j = 0; h->margins && j < h->m; j++)
            if (j != s && h->margins[j] != 0) {
                G_lo += h->margins[j] * (h->F[j] + h->F1[j] * (lo - p));
                g += h->margins[j] * h->F1[j];
            }
        double piece_p, piece_profit;
        piece_optimum(lo, hi, F_lo, b, k, G_lo, g, &piece_p, &piece_profit);
        if (piece_profit > out->best_profit || (piece_profit == out->best_profit && piece_p < out->best_price)) {
            out->best_profit = piece_profit;
            out->best_price = piece_p;
        }
        if (h->record && hi > lo) {
            PrillmPriceSegment seg = {lo, hi, F_lo, b, piece_p, piece_profit};
            if (push_segment(h, &seg)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory recording the curve");
        }
        if (stop_at_local) {
            /* the profit's slope on entering the next piece, walking dir */
            double at_end = dir > 0 ? hi : lo;
            double slope_end = (F_lo + b * (at_end - lo)) + (at_end - k) * b;
            /* a plateau (slope exactly 0, e.g. no flow yet) is walked through */
            if (dir * slope_end < 0 || (piece_p > lo && piece_p < hi)) {
                out->complete = 1;
                return PRILLM_OK;
            }
        }
        if (step >= room) {
            out->complete = 1;
            return PRILLM_OK;
        }
        /* values at the breakpoint from the piece just walked */
        zero_length = step <= h->tol * h->range ? zero_length + 1 : 0;
        if (zero_length > h->n + h->m + 10) {
            /* Stuck: pairs flipping back and forth within round-off (an app
             * far below the others' scale). Jump a little past the point,
             * bridge the gap by the chord, and let the status say inaccurate. */
            double q = t + dir * 1e-6 * h->range;
            if ((dir > 0 && q > p_end) || (dir < 0 && q < p_end)) q = p_end;
            double F_t = h->F[s] + h->F1[s] * (t - p);
            settled = 0;
            rc = start_at(h, q, dir, &out->solves, &settled, err);
            if (rc || !settled) {
                out->lost = !rc;
                return rc;
            }
            h->fallbacks++;
            double F_q = h->F[s], a = dir > 0 ? t : q, z = dir > 0 ? q : t;
            double F_a = dir > 0 ? F_t : F_q, chord = (F_q - F_t) / (q - t);
            /* the bridged gap: the chord of the target's flow; the other
             * flows are not tracked across it, so an owner's objective
             * there is the target's profit alone (the status is inaccurate) */
            piece_optimum(a, z, F_a, chord, k, 0, 0, &piece_p, &piece_profit);
            if (piece_profit > out->best_profit) {
                out->best_profit = piece_profit;
                out->best_price = piece_p;
            }
            if (h->record && z > a) {
                PrillmPriceSegment seg = {a, z, F_a, chord, piece_p, piece_profit};
                if (push_segment(h, &seg)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory recording the curve");
            }
            zero_length = 0;
            p = q;
            continue;
        }
        /* advance by the ratio test's own step, not t - p: when the step is
         * below the price's rounding, t == p but the pair must still flip */
        classify_at(h, dir, 0, dir * (step < room ? step : room));
        int ok = settle_set(h, t, dir);
        if (ok < 0) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the pricing homotopy");
        int fallbacks = h->fallbacks, restarted = !ok;
        if (!ok) {
            /* the set before the breakpoint (only ambiguous pairs were
             * changed), for the breakpoints recorded below */
            if (h->record) {
                memcpy(h->saved, h->active, NM);
                for (int a = 0; a < h->n_ambiguous; a++) h->saved[h->ambiguous[a]] = h->was_in[a];
            }
            /* a second fallback at the same price makes no progress: take
             * the stuck path (a jump and a chord) next */
            if (t == last_fallback_at) zero_length = h->n + h->m + 10;
            last_fallback_at = t;
            settled = 0;
            rc = start_at(h, t, dir, &out->solves, &settled, err);
            if (rc || !settled) {
                out->lost = !rc;
                return rc;
            }
        }
        /* only ambiguous pairs can have changed, unless the fallback reset
         * the whole set */
        if (h->record) {
            long count = h->fallbacks != fallbacks ? (long)NM : h->n_ambiguous;
            for (long a = 0; a < count; a++) {
                size_t q = h->fallbacks != fallbacks ? (size_t)a : (size_t)h->ambiguous[a];
                int before = restarted ? h->saved[q] : h->was_in[a];
                if (h->active[q] != before &&
                    push_breakpoint(h, t, (int)(q / (size_t)h->m), (int)(q % (size_t)h->m), h->active[q]))
                    return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory recording the curve");
            }
        }
        p = t;
    }
}

/* A whole walk is solved when it reached its end without a fallback. */
static PrillmStatus walk_status(const WalkResult *w, const Homotopy *h) {
    return w->lost                            ? PRILLM_STATUS_FAILED
           : w->complete && h->fallbacks == 0 ? PRILLM_STATUS_SOLVED
                                              : PRILLM_STATUS_INACCURATE;
}

/* ---- exact pricing on a pruned range ----------------------------------
 *
 * The target's flow F never rises with its price, and falls at most at a
 * rate the market gives (prillm__price_flow_fall_rate), so on [a, b] F
 * lies below both F(a) and F(b) + rate (b - p), and the profit
 * (p - k) F(p) below the largest (p - k) times the lower of the two
 * (prillm__price_interval_bound; at most (b - k) F(a), the bound of
 * monotonicity alone). On random markets the
 * flow falls at nearly that rate, so the bound is nearly the curve.
 * Equilibrium solves at sample prices give a profit already reached (the
 * best sample) and such a bound for each interval between samples; the
 * intervals whose bound is below it cannot hold the optimum and are not
 * walked. More solves, placed where they prune most, narrow the
 * survivors; then the walk covers each survivor, best bound first,
 * skipping those the walks already found beaten, and stops where the rest
 * of its run is beaten (WalkStop). On a large market most pieces lie far
 * from the optimum (the apps that leave the target one by one at low
 * prices), so this walks a small part of them.
 *
 * Where the solves go. A solve costs about PRUNE_SOLVE_PIECES walked pieces
 * (at 5000 x 500 about 11 ms against 2.2 ms), so one is placed only where it
 * is expected to spare more walking than that:
 *   - first, at the optimum a line through a surviving interval's solved
 *     ends predicts (F is close to affine over a few percent of the price),
 *     at most PRUNE_LOCATE times, while the predicted profit beats the best
 *     by PRUNE_LOCATE_GAIN: a better best prunes every interval;
 *   - then, in a surviving interval [a, b], at c = k + best / F(a), which
 *     makes [a, c] beaten for sure ((c - k) F(a) = best), or at the c where
 *     the line through the ends puts F(c) just below best / (b - k)
 *     (pruning_price), which makes [c, b] beaten if F lies below its chord
 *     there, or, with the rate, at the c of PRUNE_SCAN tried whose flow
 *     predicted on the chord makes the longer of [a, c] and [c, b] beaten.
 *     Each is worth the length it prunes times the interval's density of
 *     breakpoints, at least the pairs whose state differs between the sets
 *     solved at a and b; the most valuable is solved, until none is worth
 *     a solve.
 * On 12 targets of a 5000 x 500 random market, simulated on their whole
 * curves, the placement without the rate took about as many solves as the
 * 12 bisections it replaced and walked 2.5 times fewer pieces; the rate
 * took those 12 targets from 869 pieces and 464 solves to 129 and 276
 * (docs/benchmarks.md). */

#define PRUNE_AUTO_PAIRS 50.0    /* above this many pairs, prune by default     */
#define PRUNE_SAMPLES 17         /* geometric sample prices over the range      */
#define PRUNE_LOCATE 4           /* solves at a predicted optimum, at most      */
#define PRUNE_LOCATE_GAIN 1e-3   /* ... while it beats the best by this share   */
#define PRUNE_PLACED 32          /* solves placed to prune, at most             */
#define PRUNE_SOLVE_PIECES 5.0   /* a solve's cost in walked pieces             */
#define PRUNE_AIM_BELOW 0.01     /* the chord's aim below the level, see below  */
#define PRUNE_SCAN 32            /* prices tried in an interval with the rate   */
#define PRUNE_CAPACITY (PRUNE_SAMPLES + 2 + PRUNE_LOCATE + PRUNE_PLACED)

typedef struct {
    double lo, hi, F_hi, bound; /* F_hi: the flow solved at hi (a walk's stop) */
} PriceInterval;

static int cmp_segment(const void *a, const void *b) {
    double x = ((const PrillmPriceSegment *)a)->from, y = ((const PrillmPriceSegment *)b)->from;
    return (x > y) - (x < y);
}

static int cmp_breakpoint(const void *a, const void *b) {
    double x = ((const PrillmPriceBreakpoint *)a)->price, y = ((const PrillmPriceBreakpoint *)b)->price;
    return (x > y) - (x < y);
}

/* A run of touching surviving intervals: first..last in price order. */
typedef struct {
    int first, last;
    double bound;
} PriceRun;

static int cmp_run_first(const void *a, const void *b) {
    int x = ((const PriceRun *)a)->first, y = ((const PriceRun *)b)->first;
    return (x > y) - (x < y);
}

static int cmp_run_bound_desc(const void *a, const void *b) {
    double x = ((const PriceRun *)a)->bound, y = ((const PriceRun *)b)->bound;
    return (x < y) - (x > y);
}

/* The pruning's prices in ascending order: each one's flow, and the index
 * of its solved set in h->solved (-1: not solved, at or above a price that
 * carries nothing, or not kept). */
typedef struct {
    double price[PRUNE_CAPACITY], F[PRUNE_CAPACITY];
    int set[PRUNE_CAPACITY], count;
    double best, best_p;  /* the best profit solved, ties to the lowest price */
    double nothing_from;  /* the lowest price solved to carry nothing        */
    long solves;
    double k, slack;      /* the marginal cost; the solves' flow round-off     */
    double rate;          /* prillm__price_flow_fall_rate                      */
} PriceSamples;

static double samples_bound(const PriceSamples *sp, int q) {
    return prillm__price_interval_bound(sp->price[q], sp->price[q + 1], sp->F[q], sp->F[q + 1], sp->k, sp->slack,
                                        sp->rate);
}

/* The target's flow of a solved equilibrium, or NaN where the solve was
 * only inaccurate: the bounds allow the flows' certified round-off, and an
 * uncertified flow may be off by more. A NaN sample bounds nothing (its
 * intervals are walked), counts towards no best and places no solve. */
static double certified_flow(const PrillmEquilibrium *eq, int s) {
    return eq->info.status == PRILLM_STATUS_SOLVED ? eq->provider_flow[s] : NAN;
}

/* Puts price p with flow F and solved set `set` at position q. */
static void insert_sample(PriceSamples *sp, int q, double p, double F, int set) {
    memmove(sp->price + q + 1, sp->price + q, (size_t)(sp->count - q) * sizeof *sp->price);
    memmove(sp->F + q + 1, sp->F + q, (size_t)(sp->count - q) * sizeof *sp->F);
    memmove(sp->set + q + 1, sp->set + q, (size_t)(sp->count - q) * sizeof *sp->set);
    sp->price[q] = p, sp->F[q] = F, sp->set[q] = set;
    sp->count++;
}

/* Adds price p to the samples, solved unless it is at or above a price that
 * carries nothing (F never rises) or already there. */
static PrillmErrorCode sample_at(Homotopy *h, PrillmEquilibriumSolver *solver, PriceSamples *sp, double p,
                                 PrillmError *err) {
    int q = 0;
    while (q < sp->count && sp->price[q] < p) q++;
    if ((q < sp->count && sp->price[q] == p) || sp->count == PRUNE_CAPACITY) return PRILLM_OK;
    double F = 0;
    int set = -1;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (p == h->solver_price && (eq->info.status == PRILLM_STATUS_SOLVED || eq->info.status == PRILLM_STATUS_INACCURATE)) {
        /* the solver's own solution (the market as given): solving it
         * again would only certify it again */
        int kept = h->n_solved;
        F = certified_flow(eq, h->s);
        keep_solved_set(h, solver, p);
        if (h->n_solved > kept) set = h->n_solved - 1;
        if (F == 0) sp->nothing_from = fmin(sp->nothing_from, p);
    } else if (p < sp->nothing_from) {
        int kept = h->n_solved;
        double t0 = prillm__now();
        PrillmErrorCode rc = solve_near(h, solver, p, &F, 1, err);
        if (rc) return rc;
        if (h->verbose >= 2) {
            const PrillmEquilibriumInfo *info = &prillm_equilibrium_solution(solver)->info;
            fprintf(stderr, "prillm: pruning solve at %.17g: flow %.17g, %d rounds, %d sweeps, %.3g ms\n", p, F,
                    info->iterations, info->sweeps, 1e3 * (prillm__now() - t0));
        }
        sp->solves++;
        F = certified_flow(prillm_equilibrium_solution(solver), h->s);
        if (h->n_solved > kept) set = h->n_solved - 1;
        if (F == 0) sp->nothing_from = p;
    }
    insert_sample(sp, q, p, F, set);
    double profit = (p - sp->k) * F;
    if (profit > sp->best || (profit == sp->best && p < sp->best_p)) sp->best = profit, sp->best_p = p;
    return PRILLM_OK;
}

/* Price 0 without a solve, where the rate alone beats [0, a] (a the lowest
 * sample): F(0) is at most F(a) + rate a, which bounds the interval as the
 * solve would have (the line from F(a) is the lower of the two there). Its
 * flow is that bound, not a solved one: it counts towards no best and has
 * no set. Returns whether it was added. On a random 5000 x 500 market this
 * spared the solve at 0 (4 rounds) of most targets. */
static int bound_at_zero(PriceSamples *sp) {
    if (sp->count == 0 || !(sp->price[0] > 0) || !(sp->rate < INFINITY)) return 0;
    double a = sp->price[0], F_a = sp->F[0];
    if (!(prillm__price_interval_bound(0, a, INFINITY, F_a, sp->k, sp->slack, sp->rate) < sp->best)) return 0;
    insert_sample(sp, 0, 0.0, F_a + sp->rate * a, -1);
    return 1;
}

/* The pairs in one solved set and not the other: every breakpoint between
 * the two prices flips one pair, so at least this many lie between them.
 * mark: m bytes of scratch, all 0; open: m ints of scratch. */
static long set_difference(const Homotopy *h, const struct SolvedSet *x, const struct SolvedSet *y,
                           unsigned char *mark, int *open) {
    long diff = 0;
    for (int i = 0; i < h->n; i++) {
        int x_count = x->start[i + 1] - x->start[i], y_count = y->start[i + 1] - y->start[i];
        int only_y = prillm__open_entries(y->prov + y->start[i], y_count, x->prov + x->start[i], x_count, mark, open);
        diff += only_y + (x_count - (y_count - only_y));
    }
    return diff;
}

/* The price at which the line through interval q's solved ends predicts the
 * best profit (NaN: none inside, or F flat there), and that profit. */
static double predicted_optimum(const PriceSamples *sp, int q, double *profit) {
    double a = sp->price[q], b = sp->price[q + 1], Fa = sp->F[q], slope = (sp->F[q + 1] - Fa) / (b - a);
    if (!(slope < 0)) return NAN;
    double p = 0.5 * (a + sp->k) + Fa / (-2 * slope);
    if (!(p > a && p < b)) return NAN;
    *profit = (p - sp->k) * (Fa + slope * (p - a));
    return p;
}

/* The price to solve next in interval q to prune it (NaN: none), what it
 * is worth in walked pieces spared (density: breakpoints per unit price,
 * infinite when unknown), and which side of it the solve should prune
 * (*side: -1 the part below it, +1 the part above).
 *
 * The chord's price aims at a flow PRUNE_AIM_BELOW of the way from the
 * level best / (b - k) down to F(b), not at the level itself: where F is
 * straight over the interval (as the calibrated market's often is) a
 * solve aimed at the level lands on it, misses by a round-off, and the
 * next aim is a hair further. On 16 paid models of the calibrated market
 * 133 of 560 pruning solves were such creeps, within 1e-6 of an earlier
 * price (17 of 38 for google/gemini-2.5-flash), and they used up the
 * placements; aimed below, none, and the walks took 2,995 pieces instead
 * of 4,496. */
static double pruning_price(const PriceSamples *sp, int q, double density, double *worth, int *side) {
    double a = sp->price[q], b = sp->price[q + 1], Fa = sp->F[q], Fb = sp->F[q + 1], k = sp->k;
    double best_p = NAN, best_len = 0;
    *worth = 0;
    *side = 0;
    if (!(sp->best > 0)) return NAN; /* both below need a positive margin */
    /* [a, c] beaten for sure: (c - k)(F(a) + slack) < best, c above k */
    double c = k + sp->best / (Fa + sp->slack);
    while (c > a && (c - k) * (Fa + sp->slack) >= sp->best) c = nextafter(c, -INFINITY);
    if (c > a && c < b) best_p = c, best_len = c - a, *side = -1;
    /* [c, b] beaten if F(c) <= best / (b - k) - slack, F taken on its chord */
    if (b > k) {
        double target = sp->best / (b - k) - sp->slack;
        if (target > Fb && target < Fa) {
            double aim = target - PRUNE_AIM_BELOW * (target - Fb);
            double d = a + (Fa - aim) / (Fa - Fb) * (b - a);
            if (d > a && d < b && b - d > best_len) best_p = d, best_len = b - d, *side = +1;
        }
    }
    /* With a rate, the flow at c bounds both sides, [a, c] and [c, b]
     * (prillm__price_interval_bound): c is tried at PRUNE_SCAN points of
     * the interval, its flow predicted on the chord and raised by
     * PRUNE_AIM_BELOW of F(a) - F(b) (a higher F(c) raises both bounds, so a solve aimed with
     * the raise still prunes where F lies a little above its chord). On 12
     * targets of a random 5000 x 500 market this took the pruned method
     * from 497 walked pieces and 392 solves (the rate in the bounds only)
     * to 129 and 288. */
    if (sp->rate < INFINITY && Fa > Fb) {
        for (int t = 1; t < PRUNE_SCAN; t++) {
            double c = a + (b - a) * t / PRUNE_SCAN;
            double Fc = Fa + (Fb - Fa) * (c - a) / (b - a) + PRUNE_AIM_BELOW * (Fa - Fb);
            if (c - a > best_len && prillm__price_interval_bound(a, c, Fa, Fc, k, sp->slack, sp->rate) < sp->best)
                best_p = c, best_len = c - a, *side = -1;
            if (b - c > best_len && prillm__price_interval_bound(c, b, Fc, Fb, k, sp->slack, sp->rate) < sp->best)
                best_p = c, best_len = b - c, *side = +1;
        }
    }
    *worth = best_len * density;
    return best_p;
}

/* What the pruned method's walks add up to. */
typedef struct {
    long pieces, solves, stopped;
    double walked, best, best_p;
    int lost, complete;
} WalkTotals;

/* Walks [lo, hi] (stopping where stop allows, if not NULL) and adds it to t
 * (a better optimum, or an equal one at a lower price, replaces t's). */
static PrillmErrorCode walk_and_add(Homotopy *h, const PrillmPriceProblem *pb, double lo, double hi, WalkStop *stop,
                                    WalkTotals *t, PrillmError *err) {
    WalkResult w;
    if (stop) stop->best = t->best;
    PrillmErrorCode rc = walk(h, pb, lo, +1, hi, 0, stop, &w, err);
    if (rc) return rc;
    t->pieces += w.pieces;
    t->solves += w.solves;
    t->walked += w.reached - lo;
    t->stopped += w.reached < hi;
    t->lost |= w.lost;
    t->complete &= w.complete;
    if (w.best_profit > t->best || (w.best_profit == t->best && w.best_price < t->best_p))
        t->best = w.best_profit, t->best_p = w.best_price;
    return PRILLM_OK;
}

/* One solve at the best optimum predicted by the line through a surviving
 * interval's ends, if it beats the best profit by PRUNE_LOCATE_GAIN
 * (*solved: whether it did). */
static PrillmErrorCode locate_once(Homotopy *h, PrillmEquilibriumSolver *solver, PriceSamples *sp, int *solved,
                                   PrillmError *err) {
    double at = NAN, top = -INFINITY;
    *solved = 0;
    for (int q = 0; q + 1 < sp->count; q++) {
        double profit;
        if (samples_bound(sp, q) < sp->best) continue;
        double p = predicted_optimum(sp, q, &profit);
        if (!isnan(p) && profit > top) top = profit, at = p;
    }
    if (isnan(at) || !(top > sp->best + PRUNE_LOCATE_GAIN * fabs(sp->best))) return PRILLM_OK;
    *solved = 1;
    return sample_at(h, solver, sp, at, err);
}

/* The solves of the pruning: the current price, 0, the geometric samples,
 * then those placed to locate the optimum and to prune (*missed: the placed
 * ones that left the part they aimed at unbeaten; only the chord's can, as
 * [a, k + best / F(a)] is beaten by construction and best only grows). */
static PrillmErrorCode sample_range(Homotopy *h, const PrillmPriceProblem *pb, PrillmEquilibriumSolver *solver,
                                    PriceSamples *sp, int *located, int *placed, int *missed, PrillmError *err) {
    double k = pb->cost, p_max = pb->p_max, start = pb->start_price;
    PrillmErrorCode rc;
    *missed = 0;
    *located = 0;
    /* The current price first: the market as given, whose solution is
     * read rather than solved again. */
    if (start > 0 && start <= p_max && (rc = sample_at(h, solver, sp, start, err))) return rc;
    double geometric[PRUNE_SAMPLES];
    for (int q = 0; q < PRUNE_SAMPLES; q++) geometric[q] = p_max * ldexp(1.0, -16 + 16 * q / (PRUNE_SAMPLES - 1));
    /* Below the current price, down, each solve near the last, until one
     * whose interval from 0 is beaten: F never rises, so that interval is
     * bounded by F(0), and the samples under it are not solved (on a 5000
     * x 500 market about half of them, at 1e-4 to 1e-1 of the current
     * price). F(0) is solved once the line through the two lowest samples
     * says that may be so (from the current price it took 70 ms at 5000 x
     * 500, from the lowest sample a tenth of that). */
    int have_0 = 0;
    for (int q = PRUNE_SAMPLES - 1; q >= 0; q--) {
        if (!(geometric[q] < start)) continue;
        if ((rc = sample_at(h, solver, sp, geometric[q], err))) return rc;
        int low = have_0; /* the lowest sample above 0 */
        double a = sp->price[low], F_a = sp->F[low];
        if (!have_0 && bound_at_zero(sp)) {
            have_0 = 1;
            break;
        }
        /* before going further down: a solve at the optimum the line
         * through today's price and this sample predicts, once; its
         * better best often lets the rate beat [0, a] with no more
         * solves below */
        if (!have_0 && *located == 0 && sp->rate < INFINITY) {
            int solved = 0;
            if ((rc = locate_once(h, solver, sp, &solved, err))) return rc;
            *located += solved;
            if (solved && bound_at_zero(sp)) {
                have_0 = 1;
                break;
            }
            a = sp->price[low], F_a = sp->F[low]; /* the located price may lie below a */
        }
        if (!have_0) {
            double F_0 = F_a;
            if (low + 1 < sp->count && sp->price[low + 1] > a)
                F_0 = F_a + (F_a - sp->F[low + 1]) / (sp->price[low + 1] - a) * a;
            if (prillm__price_interval_bound(0, a, 1.25 * F_0, F_a, k, sp->slack, sp->rate) < sp->best) {
                if ((rc = sample_at(h, solver, sp, 0.0, err))) return rc;
                have_0 = 1;
            }
        }
        if (have_0 && prillm__price_interval_bound(0, a, sp->F[0], F_a, k, sp->slack, sp->rate) < sp->best) break;
    }
    if (!have_0 && !bound_at_zero(sp) && (rc = sample_at(h, solver, sp, 0.0, err))) return rc;
    /* Above it, up: F never rises, so from the lowest price solved to carry
     * exactly nothing every price carries nothing, and is not solved (the
     * samples near p_max, a price chosen to be surely above the target's
     * market). */
    for (int q = 0; q < PRUNE_SAMPLES; q++)
        if (geometric[q] > start && (rc = sample_at(h, solver, sp, geometric[q], err))) return rc;
    for (; *located < PRUNE_LOCATE; ++*located) {
        if (pb->deadline > 0 && prillm__now() > pb->deadline) return PRILLM_OK;
        int solved = 0;
        if ((rc = locate_once(h, solver, sp, &solved, err))) return rc;
        if (!solved) break;
    }
    unsigned char *mark = prillm__calloc((size_t)h->m, 1);
    int *open = prillm__calloc((size_t)h->m, sizeof *open);
    if (!mark || !open) {
        free(mark);
        free(open);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory pruning the price range");
    }
    for (*placed = 0; *placed < PRUNE_PLACED; ++*placed) {
        if (pb->deadline > 0 && prillm__now() > pb->deadline) break;
        double at = NAN, most = PRUNE_SOLVE_PIECES;
        int aim = 0;
        for (int q = 0; q + 1 < sp->count; q++) {
            double width = sp->price[q + 1] - sp->price[q];
            if (samples_bound(sp, q) < sp->best || width <= 1e-6 * p_max) continue;
            double density = INFINITY, worth;
            if (sp->set[q] >= 0 && sp->set[q + 1] >= 0)
                density = (double)set_difference(h, &h->solved[sp->set[q]], &h->solved[sp->set[q + 1]], mark, open) / width;
            int side;
            double p = pruning_price(sp, q, density, &worth, &side);
            if (!isnan(p) && worth > most) most = worth, at = p, aim = side;
        }
        if (isnan(at)) break;
        if ((rc = sample_at(h, solver, sp, at, err))) break;
        int q = 0;
        while (q + 1 < sp->count && sp->price[q] < at) q++;
        int beaten = aim < 0 ? q > 0 && samples_bound(sp, q - 1) < sp->best
                             : q + 1 < sp->count && samples_bound(sp, q) < sp->best;
        *missed += !beaten;
    }
    free(mark);
    free(open);
    return rc;
}

static PrillmErrorCode price_exact_pruned(Homotopy *h, const PrillmPriceProblem *pb, PrillmPriceCandidate *out,
                                          PrillmError *err) {
    const PrillmMarket *mk = pb->market;
    double k = pb->cost, p_max = pb->p_max, total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    PriceSamples *sp = malloc(sizeof *sp);
    PriceInterval *iv = malloc(PRUNE_CAPACITY * sizeof *iv);
    PriceRun *run = malloc(PRUNE_CAPACITY * sizeof *run);
    double *hi = malloc(PRUNE_CAPACITY * sizeof *hi), *rest = malloc(PRUNE_CAPACITY * sizeof *rest);
    double *own = malloc(PRUNE_CAPACITY * sizeof *own), *hi_flow = malloc(PRUNE_CAPACITY * sizeof *hi_flow);
    if (!sp || !iv || !run || !hi || !rest || !own || !hi_flow) {
        free(sp), free(iv), free(run), free(hi), free(rest), free(own), free(hi_flow);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory pruning the price range");
    }
    *sp = (PriceSamples){.count = 0, .best = -INFINITY, .best_p = 0, .nothing_from = INFINITY, .k = k,
                         .slack = 1e-8 * total, .rate = prillm__price_flow_fall_rate(mk, pb->target)};
    double t_start = prillm__now();
    PrillmEquilibriumSolver *solver = h->eq;
    PrillmErrorCode rc = solver ? PRILLM_OK : prillm_equilibrium_setup(&solver, mk, NULL, err);
    if (!rc) prillm__equilibrium_set_keep_outputs(solver, 1);
    int located = 0, placed = 0, missed = 0;
    if (!rc) rc = sample_range(h, pb, solver, sp, &located, &placed, &missed, err);
    /* the walks start warm from the bounding solves */
    if (!h->eq) h->eq = solver;
    int n_iv = sp->count - 1;
    if (rc || n_iv < 1) {
        free(sp), free(iv), free(run), free(hi), free(rest), free(own), free(hi_flow);
        return rc ? rc : prillm__fail(err, PRILLM_ERR_SOLVER, "pruning the price range solved no interval");
    }
    long bound_solves = sp->solves;
    double best = sp->best, best_p = sp->best_p;
    double t_bound = prillm__now();
    for (int q = 0; q < n_iv; q++)
        iv[q] = (PriceInterval){sp->price[q], sp->price[q + 1], sp->F[q + 1], samples_bound(sp, q)};
    /* The survivors, merged where they touch: one walk crosses the shared
     * end without a new start (the placed solves leave runs of adjacent
     * survivors around the optimum), then runs by their best bound. The
     * best bound is always walked: the curve then holds at least one piece
     * for the certificate. */
    double top = -INFINITY;
    for (int q = 0; q < n_iv; q++) top = fmax(top, iv[q].bound);
    int n_run = 0, skipped = 0;
    for (int q = 0; q < n_iv; q++) {
        if (iv[q].bound < best && iv[q].bound < top) {
            skipped++;
            continue;
        }
        if (n_run > 0 && iv[run[n_run - 1].last].hi == iv[q].lo) {
            run[n_run - 1].last = q;
            run[n_run - 1].bound = fmax(run[n_run - 1].bound, iv[q].bound);
        } else {
            run[n_run++] = (PriceRun){q, q, iv[q].bound};
        }
    }
    qsort(run, (size_t)n_run, sizeof *run, cmp_run_bound_desc);
    h->record = 1;
    WalkTotals t = {0, sp->solves, 0, 0, best, best_p, 0, 1};
    int n_walked = 0;
    for (int r = 0; r < n_run && !rc; r++) {
        if (r > 0 && run[r].bound < t.best) {
            skipped++;
            continue;
        }
        /* the run's ends and the bounds after each of its intervals */
        int count = run[r].last - run[r].first + 1;
        double after = -INFINITY;
        for (int q = count - 1; q >= 0; q--) {
            hi[q] = iv[run[r].first + q].hi;
            hi_flow[q] = iv[run[r].first + q].F_hi;
            own[q] = iv[run[r].first + q].bound;
            rest[q] = after;
            after = fmax(after, iv[run[r].first + q].bound);
        }
        /* join_current walks whole runs: the curve then joins the optimum
         * and the start price */
        WalkStop stop = {hi, hi_flow, own, rest, count, 0, k, sp->slack, sp->rate, t.best};
        WalkStop *stops = pb->settings->join_current ? NULL : &stop;
        if ((rc = walk_and_add(h, pb, iv[run[r].first].lo, iv[run[r].last].hi, stops, &t, err))) break;
        run[n_walked++] = run[r]; /* r >= n_walked: the runs walked, packed in front */
        if (t.lost) break;
    }
    /* join_current: the gaps between the optimum and the start price, walked
     * too (certified below the optimum, so the answer stays) */
    if (pb->settings->join_current && !rc && !t.lost && n_walked > 0) {
        qsort(run, (size_t)n_walked, sizeof *run, cmp_run_first); /* by price */
        double to = fmax(t.best_p, pb->start_price), at = fmin(t.best_p, pb->start_price);
        for (int r = 0; r <= n_walked && at < to && !rc && !t.lost; r++) {
            double gap_end = r < n_walked ? fmin(iv[run[r].first].lo, to) : to;
            if (gap_end > at && (rc = walk_and_add(h, pb, at, gap_end, NULL, &t, err))) break;
            if (r < n_walked) at = fmax(at, iv[run[r].last].hi);
        }
    }
    long pieces = t.pieces;
    double walked = t.walked;
    int lost = t.lost, complete = t.complete;
    long solves = t.solves;
    best = t.best;
    best_p = t.best_p;
    if (pb->settings->verbose >= 1)
        fprintf(stderr,
                "prillm: exact pricing, pruned: %d intervals (%d solves locating the optimum, %d placed to prune, %d of "
                "them missing their aim), "
                "%d bounded below the optimum, %d walks (%ld stopped where the rest was beaten), %.3g of the range "
                "walked; %ld pieces, %ld factorisations (%ld updated), %d fallbacks, %ld equilibrium solves; rows "
                "bounded %ld (%ld without their lists), read %ld; bounding %.3g s, walking %.3g s\n",
                n_iv, located, placed, missed, skipped, n_walked, t.stopped, walked / p_max, pieces, h->evaluations,
                h->sys.updated_factorisations, h->fallbacks, solves, h->rows_bounded, h->lists_skipped, h->rows_read,
                t_bound - t_start, prillm__now() - t_bound);
    free(sp), free(iv), free(run), free(hi), free(rest), free(own), free(hi_flow);
    if (rc) return rc;
    /* the walks ran best bound first, not in price order */
    if (h->n_segments > 1) qsort(h->segments, (size_t)h->n_segments, sizeof *h->segments, cmp_segment);
    if (h->n_breakpoints > 1) qsort(h->breakpoints, (size_t)h->n_breakpoints, sizeof *h->breakpoints, cmp_breakpoint);
    out->price = best_p;
    out->model_profit = best;
    out->iterations = pieces;
    out->equilibrium_solves = solves;
    out->walked_fraction = fmin(walked / p_max, 1.0); /* the widths add up to p_max up to round-off */
    out->bound_solves = bound_solves;
    out->located_solves = located;
    out->placed_solves = placed;
    out->placed_missed = missed;
    out->walks_stopped = t.stopped;
    WalkResult all = {.lost = lost, .complete = complete};
    out->status = walk_status(&all, h);
    out->segments = h->segments;
    out->n_segments = h->n_segments;
    out->breakpoints = h->breakpoints;
    out->n_breakpoints = h->n_breakpoints;
    h->segments = NULL;
    h->breakpoints = NULL;
    return PRILLM_OK;
}

/* settings.prune resolved: -1 prunes above PRUNE_AUTO_PAIRS pairs. */
static int prunes(const PrillmMarket *mk, int prune) {
    return prune >= 0 ? prune : (double)mk->n_users * (double)mk->n_providers > PRUNE_AUTO_PAIRS;
}

/* homotopy_init, after checking the contract on the caller's solver: it is
 * at the market's prices but perhaps the target's (a da check's fallback
 * moves that one, and the walk reads which). A rival at another price would
 * make every warm solve price another market: an error, never an answer.
 * what names the method in the messages. */
static PrillmErrorCode start_homotopy(Homotopy *h, const PrillmPriceProblem *pb, const char *what,
                                      PrillmError *err) {
    const PrillmMarket *mk = pb->market;
    for (int j = 0; pb->solver && j < mk->n_providers; j++) {
        double at = prillm__equilibrium_price(pb->solver, j);
        if (j != pb->target && !(at == mk->price[j]))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                                "%s: the warm solver has provider \"%s\" at price %.17g, the market at %.17g",
                                what, mk->provider_id[j], at, mk->price[j]);
    }
    if (homotopy_init(h, pb)) {
        homotopy_free(h);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory setting up %s", what);
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm__price_exact(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    Homotopy h;
    PrillmErrorCode rc0 = start_homotopy(&h, pb, "the pricing homotopy", err);
    if (rc0) return rc0;
    if (prunes(pb->market, pb->settings->prune)) {
        PrillmErrorCode rc = price_exact_pruned(&h, pb, out, err);
        homotopy_free(&h);
        return rc;
    }
    h.record = 1;
    /* one walk in price order: its segments' sets can seed the scoring and
     * certificate solves (the pruned walks' segments are sorted later) */
    h.keep_sets = 1;
    WalkResult w;
    PrillmErrorCode rc = walk(&h, pb, 0.0, +1, pb->p_max, 0, NULL, &w, err);
    if (pb->settings->verbose >= 1)
        fprintf(stderr,
                "prillm: exact pricing: %ld pieces, %ld factorisations (%ld from scratch, %ld updated, %ld refactored "
                "for accuracy), %d fallbacks, %ld equilibrium solves\n",
                w.pieces, h.evaluations, h.sys.full_factorisations, h.sys.updated_factorisations,
                h.sys.refactorisations, h.fallbacks, w.solves);
    if (!rc) {
        out->price = w.best_price;
        out->model_profit = w.best_profit;
        out->iterations = w.pieces;
        out->equilibrium_solves = w.solves;
        out->walked_fraction = 1.0;
        out->status = walk_status(&w, &h);
        out->segments = h.segments;
        out->n_segments = h.n_segments;
        out->breakpoints = h.breakpoints;
        out->n_breakpoints = h.n_breakpoints;
        out->segment_sets = h.keep_sets ? h.sets : NULL;
        if (h.keep_sets) h.sets = NULL;
        h.segments = NULL;
        h.breakpoints = NULL;
    }
    homotopy_free(&h);
    return rc;
}

static PrillmErrorCode range_from(const PrillmMarket *market, int target, double lo, double hi, const double *margins,
                                  const PrillmPriceSettings *settings, double deadline, PrillmEquilibriumSolver *solver,
                                  PrillmPriceRange *out, PrillmError *err) {
    PrillmPriceProblem pb;
    memset(&pb, 0, sizeof pb);
    pb.market = market;
    pb.target = target;
    pb.settings = settings;
    pb.cost = isnan(market->cost[target]) ? 0.0 : market->cost[target];
    pb.p_max = hi > 0 ? hi : 1.0; /* the range the tolerances are measured on */
    pb.start_price = lo;
    pb.deadline = deadline;
    pb.margins = margins;
    pb.solver = solver; /* borrowed by the homotopy (NULL: its own, cold) */
    Homotopy h;
    PrillmErrorCode rc0 = start_homotopy(&h, &pb, "the pricing homotopy", err);
    if (rc0) return rc0;
    /* The profit alone over [0, hi] is prillm_price's exact problem with
     * pmax = hi: on a market large enough to prune by default, the pruned
     * method (the same optimum, certified by its bounds, for a fraction of
     * the walk: on 16 paid models of the 595 x 398 calibrated market, 1.1 s
     * a model walked whole against 0.12 s pruned). A floor, or the margins
     * of an owner's other models, which the bounds on the profit alone do
     * not cover, keep the whole walk. */
    if (prunes(market, settings->prune) && !margins && lo == 0 && hi > 0) {
        pb.start_price = fmin(fmax(market->price[target], 0.0), hi); /* its solve is the first sample */
        PrillmPriceCandidate cand;
        memset(&cand, 0, sizeof cand);
        PrillmErrorCode rc = price_exact_pruned(&h, &pb, &cand, err);
        if (!rc) {
            out->price = cand.price;
            out->value = cand.model_profit;
            out->pieces = cand.iterations;
            out->equilibrium_solves = cand.equilibrium_solves;
            out->status = cand.status;
        }
        free(cand.segments);
        free(cand.breakpoints);
        homotopy_free(&h);
        return rc;
    }
    WalkResult w;
    PrillmErrorCode rc = walk(&h, &pb, lo, +1, hi, 0, NULL, &w, err);
    if (!rc) {
        out->price = w.best_price;
        out->value = w.best_profit;
        out->pieces = w.pieces;
        out->equilibrium_solves = w.solves;
        out->status = walk_status(&w, &h);
    }
    homotopy_free(&h);
    return rc;
}

PrillmErrorCode prillm__price_exact_range(const PrillmMarket *market, int target, double lo, double hi,
                                         const double *margins, const PrillmPriceSettings *settings, double deadline,
                                         const PrillmEquilibriumSolver *solved, PrillmPriceRange *out,
                                         PrillmError *err) {
    /* a copy of the caller's solve of the market as given: the walk's and
     * the pruning's first solve read it, as prillm_price's read its own
     * (a cold solve of the calibrated whole market took 32 ms, 15 rounds) */
    PrillmEquilibriumSolver *copy = NULL;
    if (solved) {
        PrillmErrorCode rc = prillm__equilibrium_setup_from(&copy, solved, err);
        if (rc) return rc;
        prillm__equilibrium_set_keep_outputs(copy, 1);
    }
    PrillmErrorCode rc = range_from(market, target, lo, hi, margins, settings, deadline, copy, out, err);
    prillm_equilibrium_cleanup(copy);
    return rc;
}

PrillmErrorCode prillm__price_spiter(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    Homotopy h;
    PrillmErrorCode rc0 = start_homotopy(&h, pb, "the segment walk", err);
    if (rc0) return rc0;
    /* Which way is uphill from the start: try up first; if the profit falls
     * right away, walk down instead. */
    WalkResult up, down;
    double p0 = pb->start_price;
    PrillmErrorCode rc = PRILLM_OK;
    memset(&down, 0, sizeof down);
    rc = walk(&h, pb, p0, +1, pb->p_max, 1, NULL, &up, err);
    int went_down = 0;
    if (!rc && up.best_price == p0 && p0 > 0) { /* nothing better uphill */
        rc = walk(&h, pb, p0, -1, 0.0, 1, NULL, &down, err);
        went_down = 1;
    }
    if (!rc) {
        const WalkResult *w = went_down && down.best_profit > up.best_profit ? &down : &up;
        out->price = w->best_price;
        out->model_profit = w->best_profit;
        out->iterations = up.pieces + down.pieces;
        out->equilibrium_solves = up.solves + down.solves;
        out->status = up.lost || down.lost               ? PRILLM_STATUS_FAILED
                      : w->complete && h.fallbacks == 0 ? PRILLM_STATUS_SOLVED
                                                        : PRILLM_STATUS_INACCURATE;
    }
    homotopy_free(&h);
    return rc;
}

/* ---- BF: every support pattern --------------------------------------- */

/* The paper's brute force (solvers.md 2): each app with demand picks a
 * nonempty set of providers; for each pattern the piece's affine values
 * define the price interval where it is the equilibrium's pattern, and the
 * profit is maximised there. Exponential: (2^m - 1)^n patterns. */
PrillmErrorCode prillm__price_bf(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) {
    const PrillmMarket *mk = pb->market;
    int n = mk->n_users, m = mk->n_providers, users = 0;
    for (int i = 0; i < n; i++) users += mk->demand[i] > 0;
    double patterns = pow(pow(2.0, m) - 1.0, users);
    if (!(patterns <= pb->settings->bf_max_patterns))
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE,
                            "bf: %d apps with demand x %d providers have %.3g support patterns, more than "
                            "bf-max-patterns = %.3g (about a minute); use --method exact",
                            users, m, patterns, pb->settings->bf_max_patterns);
    Homotopy h;
    PrillmErrorCode rc0 = start_homotopy(&h, pb, "bf", err);
    if (rc0) return rc0;
    unsigned *choice = prillm__calloc((size_t)n, sizeof(unsigned));
    if (!choice) {
        homotopy_free(&h);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory setting up bf");
    }
    unsigned full = m >= 32 ? ~0u : (1u << m) - 1u;
    for (int i = 0; i < n; i++) choice[i] = mk->demand[i] > 0 ? 1u : 0u;
    double best_p = 0, best_profit = -INFINITY, k = h.cost;
    long visited = 0;
    int s = h.s, timed_out = 0;
    for (;;) {
        visited++;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) h.active[(size_t)i * (size_t)m + (size_t)j] = (unsigned char)((choice[i] >> j) & 1u);
        h.set_reset = 1;
        int rc = evaluate_piece(&h, 0.0);
        if (rc < 0) {
            free(choice);
            homotopy_free(&h);
            return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in bf");
        }
        if (rc == 0) {
            /* prices where every flow and slack of this pattern is >= 0 */
            double lo = 0, hi = pb->p_max;
            for (int i = 0; i < n && lo <= hi; i++) {
                if (!(mk->demand[i] > 0)) continue;
                for (int j = 0; j < m; j++) {
                    double v = pair_value(&h, i, j), v1 = pair_slope(&h, i, j);
                    double slack = h.tol * value_scale(&h, i, j);
                    /* v + p v1 >= -slack */
                    if (v1 > 0) {
                        double bound = (-slack - v) / v1;
                        if (bound > lo) lo = bound;
                    } else if (v1 < 0) {
                        double bound = (-slack - v) / v1;
                        if (bound < hi) hi = bound;
                    } else if (v < -slack) {
                        hi = -1;
                    }
                }
            }
            if (lo <= hi) {
                double p, profit;
                piece_optimum(lo, hi, h.F[s] + lo * h.F1[s], h.F1[s], k, 0, 0, &p, &profit);
                if (profit > best_profit || (profit == best_profit && p < best_p)) {
                    best_profit = profit;
                    best_p = p;
                }
            }
        }
        if ((visited & 1023) == 0 && pb->deadline > 0 && prillm__now() > pb->deadline) {
            timed_out = 1;
            break;
        }
        /* next pattern: odometer over the apps with demand */
        int i = 0;
        for (; i < n; i++) {
            if (!choice[i]) continue;
            if (choice[i] < full) {
                choice[i]++;
                break;
            }
            choice[i] = 1;
        }
        if (i == n) break;
    }
    free(choice);
    homotopy_free(&h);
    out->iterations = visited;
    if (!(best_profit > -INFINITY)) {
        out->status = PRILLM_STATUS_FAILED;
        out->price = NAN;
        out->model_profit = NAN;
        return PRILLM_OK;
    }
    out->price = best_p;
    out->model_profit = best_profit;
    out->status = timed_out ? PRILLM_STATUS_INACCURATE : PRILLM_STATUS_SOLVED;
    return PRILLM_OK;
}
