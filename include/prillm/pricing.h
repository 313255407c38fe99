/*
 * prillm — single-leader Stackelberg pricing.
 *
 * A target provider s picks its price p in [0, p_max]; the apps answer with
 * their unique equilibrium (equilibrium.h). The target earns
 *     Psi(p) = (p - k_s) * F_s(p)
 * with k_s the marginal serving cost (market "cost", 0 when absent) and F_s
 * the target's equilibrium flow.
 *
 * F_s is continuous, nonincreasing and piecewise affine in p (the active set
 * of the apps' equilibrium is constant between breakpoints), so Psi is a
 * concave quadratic on each piece but not concave overall. The exact method
 * walks the pieces from 0 to p_max (a parametric active-set homotopy,
 * DESIGN.md section 3) and keeps the best piece optimum: the global optimum,
 * with the curve it walked (the whole curve, or above 50 app x model pairs
 * by default only the intervals that can hold the optimum: settings.prune).
 * The other methods are the baselines the PriLLM paper compares
 * (reference/solvers.md); whatever price a method returns, the result's
 * profit is always measured in the true game: the exact equilibrium at that
 * price.
 */
#ifndef PRILLM_PRICING_H
#define PRILLM_PRICING_H

#include "prillm/export.h"

#include <stddef.h>

#include "prillm/equilibrium.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(ENUM, "name", "help") — one list drives the enum, the names and --help. */
#define PRILLM_PRICE_METHOD_LIST(X)                                                                     \
    X(EXACT, "exact", "parametric homotopy over the whole price range: the global optimum and its curve") \
    X(GRID, "grid", "exact equilibrium at grid-points evenly spaced prices, keep the best")               \
    X(BF, "bf", "brute force over every support pattern (the paper's BF; tiny markets only)")            \
    X(SPITER, "spiter", "segment walk uphill from start-price to a local optimum")                       \
    X(PMPEC, "pmpec", "Scholtes-relaxed MPEC solved by Ipopt (Pyomo mpec_nlp style)")                    \
    X(SMOOTH, "smooth", "log-barrier smoothing of the equilibrium with continuation")                    \
    X(ODCA, "odca", "optimal demand per app ignoring the other apps' congestion")                        \
    X(SPGCE, "spgce", "one aggregate nonatomic population (Harks-Schedel model)")                       \
    X(DA, "da", "exact price of the market abstracted to k rivals by the trained aggregation network")   \
    X(MIN, "min", "exact price of the market abstracted to the k cheapest rivals")                       \
    X(AVG, "avg", "exact price of the market abstracted to k identical averaged rivals")

typedef enum {
#define PRILLM_PRICE_METHOD_ENUM(id, name, help) PRILLM_PRICE_##id,
    PRILLM_PRICE_METHOD_LIST(PRILLM_PRICE_METHOD_ENUM)
#undef PRILLM_PRICE_METHOD_ENUM
        PRILLM_PRICE_METHOD_COUNT
} PrillmPriceMethod;

/* "exact", "grid", ...; "unknown" out of range. */
PRILLM_API const char *prillm_price_method_name(int method);

typedef struct {
    int method;          /* PrillmPriceMethod                                    */
    double p_max;        /* upper end of the price range; 0 = data-derived bound */
    int grid_points;     /* grid: prices evaluated, both ends included           */
    double start_price;  /* spiter, pmpec, smooth: start; negative = the target's
                            current market price (capped at p_max)             */
    double tolerance;    /* relative tolerance for breakpoint ties (exact, spiter, bf) */
    double bf_max_patterns; /* bf refuses markets with more support patterns     */
    double epsilon;      /* pmpec: Scholtes relaxation bound                     */
    double time_limit;   /* seconds, 0 = none (checked between steps)            */
    int max_pieces;      /* exact: safety cap on the number of pieces walked     */
    int k;               /* da, min, avg: rivals kept in the abstracted market   */
    int compare;         /* not in the option table (a flag): also price the true
                            market exactly, for exact_profit and profit_ratio  */
    int verbose;         /* progress on stderr: 0 quiet                          */
    /* da: the trained network (not an option: set it in code, or --model on
     * the command line); borrowed, NULL for the other methods */
    const struct PrillmAggregator *model;
    /* exact: walk only the price intervals that can hold the optimum (1),
     * the whole range (0), or decide by size (-1, the default: on above
     * 50 app x model pairs, where it is measured faster; prillm_explain
     * walks its curve whole up to 100000). The target's flow never rises
     * with its price, so on [a, b] the profit is at most (b - cost) F(a); intervals
     * whose bound is below a profit already found are skipped, certified by
     * equilibrium solves at their ends. The curve then has gaps. */
    int prune;
    /* da: the confidence check (docs/aggregator.md, "Confidence check").
     * With da_check 1 (the default) the true market's profit at da's price
     * p is compared with exact equilibrium solves at p (1 - step),
     * p (1 + step) and the vertex of the parabola through the three
     * (clamped to within 4 steps of p); if da's profit is below
     * (1 - da_check_tolerance) times the best of them, or da's price sells
     * nothing while the target can sell at its cost, the answer falls back
     * to exact pricing of the whole market; otherwise it is the best of
     * the points evaluated (da's price, or a nearby one that earns more).
     * Unitless fractions. */
    int da_check;
    double da_check_tolerance;
    double da_check_step;
    /* exact, spiter: bound each app's inactive pairs instead of scanning
     * them at every piece of the walk (1), scan every pair (0), or decide
     * by size (-1, the default: on from 64 providers). Each app keeps its
     * smallest reduced costs listed and a lower bound on the rest that
     * follows the providers' loads; a row is read whole only when that
     * bound cannot rule out its next breakpoint. Same answer either way.
     * N from 2 to 64 turns it on with exactly N providers listed per app
     * instead of its active ones and 16 more, at least 24 (a tuning and
     * testing knob: fewer listed, more bounding). */
    int row_bounds;
    /* exact, pruned: also walk every price between the optimum and the
     * start price (the current one by default) that pruning left out, so
     * that the curve joins them (1; prillm_explain sets it), or not (0, the
     * default). The answer is the same; the walk is longer. */
    int join_current;
} PrillmPriceSettings;

PRILLM_API const PrillmOptionInfo *prillm_price_options(int *count);
PRILLM_API void prillm_price_default_settings(PrillmPriceSettings *settings);
PRILLM_API PrillmErrorCode prillm_price_set_option(PrillmPriceSettings *settings, const char *name, const char *value,
                                        PrillmError *err);
PRILLM_API PrillmErrorCode prillm_price_check_settings(const PrillmPriceSettings *settings, PrillmError *err);

/* One piece of the exact profit curve: on [from, to] the target's flow is
 * flow_from + flow_slope * (p - from) and the active set is constant. */
typedef struct {
    double from, to;
    double flow_from;   /* F_s(from)                                  */
    double flow_slope;  /* dF_s/dp on the piece, <= 0                 */
    double best_price;  /* argmax of the profit on [from, to]         */
    double best_profit;
} PrillmPriceSegment;

/* A pair (user, provider) entering or leaving the equilibrium's active set
 * at a price: the events that separate the segments. */
typedef struct {
    double price;
    int user, provider;
    int enters;         /* 1: the pair starts carrying flow; 0: it stops */
} PrillmPriceBreakpoint;

typedef struct {
    PrillmStatus status;   /* solved / inaccurate / failed                        */
    int method, target;
    double p_max, cost;    /* the range used, the target's marginal cost          */
    /* In the true game at `price` (NaN if the call failed): */
    double price, profit, flow;
    double kkt_violation;  /* of the equilibrium solve that scored the price      */
    /* What the method itself believed the profit to be (its own model, NaN if
     * none); for exact it equals profit up to curve_residual * price. */
    double model_profit;
    /* exact: the largest |F_s(curve) - F_s(equilibrium solve)| over the
     * checked prices (the optimum and up to 17 segment ends spread over the
     * range), relative to total demand; above 1e-7 the status is inaccurate. */
    double curve_residual;
    long iterations;        /* pieces, grid points, patterns, NLP iterations ...   */
    long equilibrium_solves; /* scoring and the current price included       */
    /* with settings.compare: the exact optimum of the true market and
     * profit / exact_profit (NaN otherwise) */
    double exact_profit, profit_ratio;
    double method_seconds;  /* the method alone, before scoring and certifying    */
    double seconds;         /* the whole call                                     */
    /* The market as given, for comparison (computed by prillm_price for every
     * method, also when the method failed): the target's price in the market
     * file, and the true game's flow and (current_price - cost) * current_flow
     * there (the exact equilibrium of the unchanged market; NaN if that
     * equilibrium did not solve). */
    double current_price, current_profit, current_flow;
    /* profit - current_profit, and that divided by current_profit when
     * current_profit > 0 (NaN otherwise, and both NaN when the method failed).
     * With the default pmax the exact method's uplift is >= 0 up to round-off;
     * a pmax below the current price can make it negative. */
    double uplift, uplift_relative;
    /* PrillmPriceWarning bits: answers worth a second look (0 = none).
     * prillm_price_warning_text says each in plain words. */
    unsigned warnings;
    /* exact only (else 0 / NULL): the curve, owned by the result. */
    int n_segments;
    PrillmPriceSegment *segments;
    int n_breakpoints;
    PrillmPriceBreakpoint *breakpoints;
    /* exact with pruning: the share of the price range walked (1 = all; the
     * rest was bounded below the optimum), and the equilibrium solves that
     * bounded it */
    double walked_fraction;
    long bound_solves;
    /* da's confidence check (settings.da_check): check is a PrillmPriceCheck.
     * abstract_price / abstract_profit: da's own price and its profit in the
     * true game; check_price / check_profit: the best of the points
     * evaluated (da's price among them), which is the answer (price /
     * profit) when the check passed; with PRILLM_PRICE_CHECK_FALLBACK the
     * answer is the exact method's; check_shortfall = 1 -
     * abstract_profit / check_profit (<= 0: no nearby point beats da; NaN
     * when check_profit <= 0); check_solves: the check's equilibrium solves
     * (the fallback's are in equilibrium_solves). NaN / 0 when not run. */
    int check;
    double abstract_price, abstract_profit;
    double check_price, check_profit, check_shortfall;
    long check_solves;
} PrillmPriceResult;

/* Values of PrillmPriceResult.check. */
typedef enum {
    PRILLM_PRICE_CHECK_OFF = 0,      /* not da, da_check 0, or the method failed */
    PRILLM_PRICE_CHECK_PASSED = 1,   /* within tolerance: the best point kept    */
    PRILLM_PRICE_CHECK_FALLBACK = 2, /* da's price fell short: exact pricing's   */
    PRILLM_PRICE_CHECK_SKIPPED = 3   /* at most k rivals: da priced the market
                                        itself exactly, nothing to check        */
} PrillmPriceCheck;

/* "off", "passed", "fallback", "skipped"; "unknown" otherwise. */
PRILLM_API const char *prillm_price_check_name(int check);

/* The optimum is flagged when it is more than this many times, or less than
 * its inverse times, the current price. */
#define PRILLM_PRICE_FAR_RATIO 3.0
/* The target "sells nothing" at a price when its equilibrium flow there is
 * at most this fraction of the total demand (exactly 0 in practice: the
 * equilibrium's unused pairs carry exactly 0). */
#define PRILLM_PRICE_NO_FLOW 1e-12

/* Bits of PrillmPriceResult.warnings. The ratio warnings need a price that
 * sells something (at a price that sells nothing the optimum is any price
 * past the choke point, so its ratio says nothing). */
typedef enum {
    /* price > PRILLM_PRICE_FAR_RATIO * current_price, current_price > 0,
     * and the target sells something at price */
    PRILLM_PRICE_WARN_FAR_ABOVE = 1u << 0,
    /* price < current_price / PRILLM_PRICE_FAR_RATIO, likewise */
    PRILLM_PRICE_WARN_FAR_BELOW = 1u << 1,
    /* the target sells nothing at the returned price (flow <= PRILLM_PRICE_NO_FLOW
     * x total demand); with the exact method: no price in [0, p_max] earns
     * it anything */
    PRILLM_PRICE_WARN_SELLS_NOTHING = 1u << 2,
    /* current_price <= 0 (a free model): the ratio to it is undefined */
    PRILLM_PRICE_WARN_FREE = 1u << 3,
    /* not exact: the method's price sells nothing, although the exact
     * optimum sells something (the target's flow at max(cost, 0) is above the
     * threshold and cost < p_max, so some price in range earns a profit). The
     * status still says whether the method reached its own stopping rule. */
    PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING = 1u << 4,
    PRILLM_PRICE_WARN_ALL = (1u << 5) - 1
} PrillmPriceWarning;

/* A short stable name of one warning bit ("far_above", "far_below",
 * "sells_nothing", "free", "method_sells_nothing"); "unknown" otherwise. */
PRILLM_API const char *prillm_price_warning_name(unsigned warning);
/* One warning of the result in plain words, with its numbers (e.g. "the
 * optimal price 12.3 is 31 times the current price 0.4: check the market's
 * price sensitivity"), into buf (truncated to size). Returns buf; "" when
 * the bit is not set in result->warnings. */
PRILLM_API const char *prillm_price_warning_text(const PrillmPriceResult *result, unsigned warning, char *buf, size_t size);

/* A price at which the target surely carries no traffic, so the optimum is
 * below it: for every app i, p with
 *   w_p p + w_d d_is - b_s - a_is >= min over rivals j of (c_ij + a_j (R_j + D_i)),
 * where R_j, the most load rival j can carry, is the demand of the apps that
 * could ever use j: those whose cost at j with no load is within the same
 * bound with R = D, the total demand, for every rival (an app's marginal
 * cost at a rival can never exceed that). Apps in markets that never mix
 * (the fit's service classes) so do not inflate each other's bound. NaN when
 * the target has no rival (a monopoly's profit grows without bound, so
 * p_max must be given) or memory runs out. At least 1e-6, at most 1e300. */
PRILLM_API double prillm_price_default_pmax(const PrillmMarket *market, int target);

/* Price the target (an index into market->provider_id; see
 * prillm_market_provider_index). settings may be NULL (defaults). On success
 * the result is filled (free with prillm_price_result_clear); the status says
 * whether the method reached its own stopping rule. On error every number is
 * NaN and no memory is held. */
PRILLM_API PrillmErrorCode prillm_price(const PrillmMarket *market, int target, const PrillmPriceSettings *settings,
                             PrillmPriceResult *result, PrillmError *err);
PRILLM_API void prillm_price_result_clear(PrillmPriceResult *result);

/* The target's flow F_s(price) read off the exact curve in result (its
 * segments are sorted by price). NaN when the result has no curve, and at a
 * price no segment covers: a gap of a pruned curve (the default above 50
 * app x model pairs; settings.prune = 0 walks the whole range), or outside
 * [0, p_max]. */
PRILLM_API double prillm_price_curve_flow(const PrillmPriceResult *result, double price);

/* Price several targets, each with its rivals' prices fixed (as prillm_price
 * does one), in parallel over threads (OpenMP; 0 = OMP_NUM_THREADS or all
 * cores; one thread when built without OpenMP). targets lists provider
 * indices (NULL = every provider, n_targets = market->n_providers);
 * results[k] and errors[k] belong to targets[k]: errors[k].code is PRILLM_OK
 * when results[k] was filled (free each with prillm_price_result_clear),
 * else results[k] holds nothing and errors[k] says why. The results do not
 * depend on the thread count. Returns an error only for the call's own
 * arguments (market, settings, targets); a target that fails does not stop
 * the others. */
PRILLM_API PrillmErrorCode prillm_price_all(const PrillmMarket *market, const PrillmPriceSettings *settings,
                                            const int *targets, int n_targets, int threads,
                                            PrillmPriceResult *results, PrillmError *errors, PrillmError *err);

/* The true game at one price: the exact equilibrium with the target's price
 * replaced. flow / kkt_violation may be NULL. */
PRILLM_API PrillmErrorCode prillm_price_profit_at(const PrillmMarket *market, int target, double price, double *profit,
                                       double *flow, double *kkt_violation, PrillmError *err);

/* The result of prillm_price on market as the JSON object that prillm price
 * --target prints (and prillm serve answers): status, method, target, the
 * prices, profits and flows, the certificate, the warnings in words, and for
 * the exact method the curve (segments and breakpoints). compare (as
 * settings.compare) adds exact_profit and profit_ratio. Writes to out (kept
 * open). Returns PRILLM_ERR_INVALID_ARGUMENT for NULL arguments or a result
 * that does not belong to market (nothing written), PRILLM_ERR_IO when the
 * stream reports a write error. */
PRILLM_API PrillmErrorCode prillm_price_result_write_json(const PrillmMarket *market, const PrillmPriceResult *result,
                                                          int compare, FILE *out, PrillmError *err);
#ifdef __cplusplus
}
#endif
#endif
