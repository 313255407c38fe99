/*
 * prillm — price competition among several leaders (docs/competition.md).
 *
 * Each leader is a group of models with one owner (a provider without an
 * owner is its own group). A group's value is the sum of its models'
 * profits (p_k - cost_k) F_k, every model of the owner counted, leader or
 * not. The leaders take turns best-responding to the others' prices:
 *
 *   best response of a one-model group: the exact global optimum of its
 *     profit curve over [price_min, min(price_max, default pmax)], the
 *     rivals' prices fixed (the homotopy of pricing.h);
 *   of an owner with several leading models: coordinate ascent, each step
 *     the exact optimum of one model's price for the owner's whole value
 *     (every flow is affine on a piece of the homotopy, so the value is a
 *     concave quadratic there, and the walk keeps the best piece).
 *
 * Orders: Gauss-Seidel (each group answers the latest prices) or Jacobi
 * (all answer the same prices); each step moves a price by damping times
 * the way to its best response. The run stops when the best responses
 * agree with the prices (and the values stop moving), when the prices of a
 * round repeat an earlier round's (a cycle, reported with the prices
 * visited), or at the round or time limit.
 *
 * The certificate, recomputed at the final prices whatever the status: for
 * each leading model, the owner's largest gain from moving that price
 * alone (the exact walk's optimum, scored by an equilibrium solve), and for
 * owners with two or more leading models the largest gain on a grid over
 * each pair of their prices.
 */
#ifndef PRILLM_COMPETE_H
#define PRILLM_COMPETE_H

#include "prillm/export.h"

#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(ENUM, "name", "help") */
#define PRILLM_COMPETE_ORDER_LIST(X)                                                        \
    X(GAUSS_SEIDEL, "gauss-seidel", "leaders answer in turn, each seeing the latest prices") \
    X(JACOBI, "jacobi", "every leader answers the same prices, then all move (damped)")

typedef enum {
#define PRILLM_COMPETE_ORDER_ENUM(id, name, help) PRILLM_COMPETE_##id,
    PRILLM_COMPETE_ORDER_LIST(PRILLM_COMPETE_ORDER_ENUM)
#undef PRILLM_COMPETE_ORDER_ENUM
        PRILLM_COMPETE_ORDER_COUNT
} PrillmCompeteOrder;

typedef struct {
    int order;               /* PrillmCompeteOrder                                  */
    double damping;          /* p += damping * (best response - p), in (0, 1]       */
    int max_rounds;          /* rounds (every leader answers once per round)        */
    double time_limit;       /* seconds, 0 = none (checked between best responses;
                                the certificate is computed after it)             */
    double tolerance;        /* converged: |BR - p| <= tolerance * max(1, |p|)       */
    double profit_tolerance; /* ... and every group value moved by at most this,
                                relative, over the last round                     */
    double certificate;      /* certified: every relative gain <= this              */
    int owner_sweeps;        /* coordinate-ascent sweeps of one owner's answer      */
    int pair_grid;           /* owners: grid points per price in the pair check
                                (0 = no pair check)                               */
    int verbose;             /* progress on stderr: 0 quiet, 1 rounds, 2 answers    */
    int threads;             /* best responses computed at once, where they do not
                                depend on each other: a Jacobi round's, and the
                                certificate's deviations (0 = OMP_NUM_THREADS or
                                every core; 1 without OpenMP). The result is the
                                same whatever the count, a failed run's error
                                and counts included; where time_limit stops a
                                run depends on timing, as on one thread.          */
} PrillmCompeteSettings;

PRILLM_API const PrillmOptionInfo *prillm_compete_options(int *count);
PRILLM_API void prillm_compete_default_settings(PrillmCompeteSettings *settings);
PRILLM_API PrillmErrorCode prillm_compete_set_option(PrillmCompeteSettings *settings, const char *name,
                                                     const char *value, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_compete_check_settings(const PrillmCompeteSettings *settings, PrillmError *err);
/* "gauss-seidel", "jacobi"; "unknown" out of range. */
PRILLM_API const char *prillm_compete_order_name(int order);

typedef enum {
    PRILLM_COMPETE_CONVERGED = 0, /* best responses = prices, values settled            */
    PRILLM_COMPETE_CYCLE,         /* a round's prices repeat an earlier round's          */
    PRILLM_COMPETE_ROUND_LIMIT,   /* max_rounds reached                                 */
    PRILLM_COMPETE_TIME_LIMIT,    /* time_limit reached                                 */
    PRILLM_COMPETE_FAILED         /* a best response or equilibrium did not solve       */
} PrillmCompeteStatus;

/* "converged", "cycle", "round_limit", "time_limit", "failed". */
PRILLM_API const char *prillm_compete_status_name(int status);

typedef struct {
    int status;               /* PrillmCompeteStatus                                 */
    int certified;            /* every gain_relative (and pair_gain_relative) is
                                 <= settings.certificate                           */
    int exact;                /* 1 if every exact walk reached the end of its range
                                 without a fallback (else some answer is
                                 inaccurate, as for prillm_price)                  */
    int rounds;
    long best_responses;      /* exact walks, the certificate's included             */
    long equilibrium_solves;
    double residual;          /* last round: max |BR - p| / max(1, |p|)              */
    double profit_change;     /* last round: max relative change of a group value    */
    double seconds;
    /* Every provider at the final prices (the exact equilibrium there): */
    int n_providers;
    double *price, *profit, *flow;  /* [n_providers]; profit = (price - cost) flow */
    /* The leaders: */
    int n_leaders;
    int *leader;              /* [n_leaders] provider indices, in the order given    */
    int *group;               /* [n_leaders] their group                             */
    double *price_min, *price_max; /* [n_leaders] the range each answer searched at
                                 the final prices (price_max: the cap or the
                                 default pmax, whichever is lower)                */
    double *deviation_price;  /* [n_leaders] the best unilateral deviation           */
    double *gain;             /* [n_leaders] group value there minus group value now */
    double *gain_relative;    /* [n_leaders] gain / max(|value|, value scale)        */
    int n_groups;
    char **group_name;        /* [n_groups] the owner, or the model's id             */
    double *group_value;      /* [n_groups] sum of the owner's models' profits       */
    double *pair_gain_relative; /* [n_groups] NaN without a pair check               */
    double max_gain_relative; /* over gain_relative and pair_gain_relative           */
    /* status cycle: the leaders' prices of the rounds in the cycle, round by
     * round ([cycle_length * n_leaders]); else 0 / NULL */
    int cycle_length;
    double *cycle;
} PrillmCompeteResult;

/* Compete among the leaders (provider indices; NULL = every provider, with
 * n_leaders = market->n_providers). Price floors and caps and owners come
 * from the market (price_min, price_max, owner; NULL arrays = none). The
 * starting prices are the market's, clamped into the floors and caps.
 * settings may be NULL (defaults). On success the result is filled (free
 * with prillm_compete_result_clear), whatever the status; on error nothing
 * is held and err names the field. */
PRILLM_API PrillmErrorCode prillm_compete(const PrillmMarket *market, const int *leaders, int n_leaders,
                                          const PrillmCompeteSettings *settings, PrillmCompeteResult *result,
                                          PrillmError *err);
PRILLM_API void prillm_compete_result_clear(PrillmCompeteResult *result);

/* The models of one owner, in market order, into providers (up to
 * capacity); returns how many there are (0: no such owner). */
PRILLM_API int prillm_market_owner_models(const PrillmMarket *market, const char *owner, int *providers,
                                          int capacity);

/* The result of prillm_compete on market, run with settings, as the JSON
 * object that prillm compete prints (and prillm serve answers): status,
 * certified, exact, order, damping, the counts, the certificate, then the
 * leaders, owners, every provider at the final prices and the cycle.
 * Writes to out (kept open). Returns PRILLM_ERR_INVALID_ARGUMENT for NULL
 * arguments or a result that does not belong to market (nothing written),
 * PRILLM_ERR_IO when the stream reports a write error. */
PRILLM_API PrillmErrorCode prillm_compete_result_write_json(const PrillmMarket *market,
                                                            const PrillmCompeteResult *result,
                                                            const PrillmCompeteSettings *settings, FILE *out,
                                                            PrillmError *err);
#ifdef __cplusplus
}
#endif
#endif
