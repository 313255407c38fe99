/*
 * Internal interface between the pricing dispatcher (pricing.c) and the
 * methods (pricing_*.c). A method only proposes a price (and what its own
 * model believes the profit is); the dispatcher scores every proposal in the
 * true game, so no method can report a profit it does not earn.
 */
#ifndef PRILLM_PRICING_INTERNAL_H
#define PRILLM_PRICING_INTERNAL_H

#include "internal.h"
#include "prillm/pricing.h"

typedef struct {
    const PrillmMarket *market;           /* validated                                */
    int target;
    double p_max;                         /* > 0, finite                              */
    double cost;                          /* target's marginal cost, 0 when absent     */
    double start_price;                   /* in [0, p_max]                            */
    const PrillmPriceSettings *settings;  /* checked                                  */
    double deadline;                      /* prillm__now() value to stop at, 0 = none */
    /* NULL, or per provider the value of a unit of its flow added to the
     * target's profit (an owner pricing one model of its line: the other
     * models' margins); exact walk only */
    const double *margins;
    /* NULL, or a solver solved at the market's prices, the target's
     * possibly excepted (a da check's fallback gets it where the check left
     * it; the exact method reads which), that the method may use for its
     * own solves, warm: it is left wherever the method moved it */
    PrillmEquilibriumSolver *solver;
    /* NULL, or every user's cost offsets at the market's prices (n*m: the
     * solver's, read before the method's first solve moves its target
     * column) and the rivals' load bounds (m, prillm__rival_reach) */
    const double *costs;
    const double *reach;
} PrillmPriceProblem;

/* prillm_price, starting from a solver solved at the market's prices
 * (shared by every target of prillm_price_all; only read). The caller has
 * validated the market (it is not validated again per target). */
PrillmErrorCode prillm__price_from(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                   const PrillmEquilibriumSolver *shared, PrillmPriceResult *result, PrillmError *err);
/* prillm_price without the exact curve's certificate (curve_residual stays
 * NaN; up to 17 equilibrium solves at segment ends): for a price that is
 * scored again in another market (da's abstracted one). */
PrillmErrorCode prillm__price_uncertified(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                                          PrillmPriceResult *result, PrillmError *err);

typedef struct {
    double price;            /* in [0, p_max]; NaN when the method failed          */
    double model_profit;     /* the method's own estimate, NaN if it has none       */
    long iterations;         /* the method's natural count (NLP iterations, ...)    */
    long equilibrium_solves; /* exact equilibrium solves the method itself made     */
    PrillmStatus status;     /* solved: reached its stopping rule; inaccurate: gave
                                a usable price without it; failed: no price         */
    /* exact only: the curve (malloc'ed, handed over to the result) */
    int n_segments;
    PrillmPriceSegment *segments;
    int n_breakpoints;
    PrillmPriceBreakpoint *breakpoints;
    double walked_fraction;  /* exact: share of [0, p_max] walked (NaN otherwise) */
    /* exact, unpruned, not too large: the active set of each segment (n*m
     * flags per segment, malloc'ed, freed by the dispatcher), or NULL */
    unsigned char *segment_sets;
    long bound_solves;       /* exact with pruning: solves bounding the rest      */
    /* exact with pruning (tests, verbose): of bound_solves, those at a
     * predicted optimum and those placed to prune; the walks that stopped
     * where the rest of their run was beaten; of the placed, those that
     * left the part they aimed to prune unbeaten */
    long located_solves, placed_solves, walks_stopped, placed_missed;
    /* da's confidence check (PrillmPriceResult's fields of the same names) */
    int check;
    double abstract_price, abstract_profit, check_price, check_profit, check_shortfall;
    long check_solves;
} PrillmPriceCandidate;

/* The true game at price p of provider s, with a solver kept across calls
 * (warm starts): the target's flow, and the solve's KKT violation (kkt may
 * be NULL). An equilibrium that does not solve is PRILLM_ERR_SOLVER. */
PrillmErrorCode prillm__price_score(PrillmEquilibriumSolver *solver, int s, double p, double *flow, double *kkt,
                                    PrillmError *err);
/* The same, the solve's active-set rounds starting from `active` (n*m
 * flags; NULL: from the last solve), e.g. the walk's set at p. */
PrillmErrorCode prillm__price_score_from(PrillmEquilibriumSolver *solver, int s, double p, const unsigned char *active,
                                         double *flow, double *kkt, PrillmError *err);
/* prillm__price_score_from for an answer that is published (a pricing
 * call's final scoring): with the solver's lazy polish off whatever the
 * method left it at, so its point is polished before it is certified. */
PrillmErrorCode prillm__price_score_published(PrillmEquilibriumSolver *solver, int s, double p,
                                              const unsigned char *active, double *flow, double *kkt,
                                              PrillmError *err);
/* The same from a set given by rows (user i's providers prov[start[i] ..
 * start[i+1]), ascending): see prillm__equilibrium_seed_rows. */
PrillmErrorCode prillm__price_score_rows(PrillmEquilibriumSolver *solver, int s, double p, const int *start,
                                         const int *prov, double *flow, double *kkt, PrillmError *err);

typedef PrillmErrorCode (*PrillmPriceMethodFn)(const PrillmPriceProblem *problem, PrillmPriceCandidate *out,
                                               PrillmError *err);

/* Each returns an error only for failures of the call itself (out of memory,
 * a market the method cannot handle, with a message saying why); a method
 * that runs but does not converge returns PRILLM_OK with status inaccurate or
 * failed. */
PrillmErrorCode prillm__price_exact(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_grid(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_bf(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_spiter(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_pmpec(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_smooth(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_odca(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
PrillmErrorCode prillm__price_spgce(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err);
/* da, min, avg: exact pricing of the abstracted market */
/* can[i*m + j] = 1 if user i could ever use provider j, whatever the
 * target's price (0 or above) and however the others' loads settle: its
 * cost there with no load is within an upper bound on its equilibrium cost
 * (the bound prillm_price_default_pmax uses). A user with no demand uses
 * nothing. -1 when out of memory. */
int prillm__could_use(const PrillmMarket *market, int target, const double *costs, const double *reach,
                      unsigned char *can);
/* The bounds above read every user's costs at the market's prices: costs
 * is NULL (they are computed, row by row) or those costs (n*m, e.g. an
 * equilibrium solver's at the market's prices: the same numbers). reach
 * (m): the most load each rival can carry whatever the target's price (the
 * bounds' first step, five passes over the costs); NULL: computed. */
int prillm__rival_reach(const PrillmMarket *market, int target, const double *costs, double *reach);
/* prillm_price_default_pmax from those. */
double prillm__price_bound(const PrillmMarket *market, int target, const double *costs, const double *reach);
/* The default price range's two failures, worded alike by price and
 * compete: no rival (bound NaN), so the profit grows without bound, or a
 * bound above PRILLM_MAX_MAGNITUDE (a tiny weights.price keeps traffic at
 * every price a market may hold). give names the setting that fixes it
 * ("pmax", "its price_max"). PRILLM_OK when bound ends a range. */
PrillmErrorCode prillm__price_default_range_check(const PrillmMarket *market, int target, double bound,
                                                  const char *give, PrillmError *err);
/* The part of the market the target's price can reach: the users and
 * providers connected to the target through cells some user could ever use
 * (prillm__could_use), in market order. The rest never trades with them at
 * any price of the target, so the target's pricing problem is the same on
 * the part (the fitted market's service classes: an image model's part is
 * the image models and their users), owners and price bounds included.
 * *part is NULL when the part is the whole market (or has no user, or no
 * rival); else the caller frees it. */
PrillmErrorCode prillm__market_part(const PrillmMarket *market, int target, const double *costs, const double *reach,
                                    PrillmMarket **part, int *target_in_part, PrillmError *err);
PrillmErrorCode prillm__price_abstracted(const PrillmPriceProblem *problem, PrillmPriceCandidate *out,
                                         PrillmError *err);

/* The exact walk over [lo, hi] (0 <= lo <= hi), for competition: the best
 * price of the target for the objective
 *     (p - cost_s) F_s(p) + sum_{j != s} margins[j] F_j(p)
 * (margins may be NULL: the profit alone). Every flow is affine on a piece
 * of the homotopy, so the objective is a concave quadratic there and the
 * best piece optimum is the global one. The profit alone over [0, hi]
 * (margins NULL, lo 0) is priced by the pruned method where settings.prune
 * says so (by default above 50 pairs), as prillm_price would with pmax
 * hi. The market must be validated and w_price > 0; settings checked
 * (tolerance, max_pieces, prune, verbose). solved: NULL, or a solver solved
 * at the market's prices (the target's may differ: the walk reads it; a
 * rival's may not: PRILLM_ERR_INVALID_ARGUMENT), whose copy starts the
 * solves (instead of a cold solve of the market as given); it is only
 * read. */
typedef struct {
    double price, value;     /* the best price, the objective there (model) */
    long pieces, equilibrium_solves;
    PrillmStatus status;     /* as for the exact method                     */
} PrillmPriceRange;
PrillmErrorCode prillm__price_exact_range(const PrillmMarket *market, int target, double lo, double hi,
                                         const double *margins, const PrillmPriceSettings *settings, double deadline,
                                         const PrillmEquilibriumSolver *solved, PrillmPriceRange *out,
                                         PrillmError *err);

/* The changes (pairs[k] = user * m + provider, in[k] its new flag, in
 * this order) that carry the active set at price `from` to the one at
 * `to` along an exact result's breakpoints (sorted by price): going up,
 * those in [from, to] take their state after; going down, those in
 * (to, from] their state before, in descending order. pairs and in hold
 * r->n_breakpoints entries. Returns the count. */
long prillm__price_replay(const PrillmPriceResult *r, int m, double from, double to, long *pairs, unsigned char *in);

/* Congestion slope a_j = w_q / capacity_j and cost offset
 * c_ij = w_p p_j + w_d d_ij - b_j with the target's price replaced by
 * `price` (c is n*m, row-major by user). */
void prillm__price_costs(const PrillmMarket *market, int target, double price, double *slope, double *c);

/* The exact method's pruning (pricing_pieces.c): the most the target's
 * flow can fall per unit of its price, certified by the equilibrium's
 * potential; and an upper bound on the profit (p - k) F(p) over [lo, hi]
 * from F(lo), F(hi), that rate and the flows' round-off allowance. */
double prillm__price_flow_fall_rate(const PrillmMarket *market, int target);
double prillm__price_interval_bound(double lo, double hi, double F_lo, double F_hi, double k, double slack_flow,
                                    double rate);

#endif
