/*
 * prillm — test-time compute (TTC) games: the pay-per-compute market and the
 * reverse second-price auction (after Artola Velasco et al., "Test-Time
 * Compute Games", arXiv:2601.21839; docs/ttc.md says what is exact and what
 * is a reconstruction).
 *
 * Every model i offers TTC levels k = 0..K_i-1, each with an accuracy a_i(k)
 * and a mean number of billed tokens tau_i(k). Per query, in USD:
 *   price    p_i(k) = list_price_i * tau_i(k) / 1e6   (list price per 1M tokens)
 *   cost     c_i(k) = p_i(k) / (1 + margin)
 *   quality  q_i(k) = scale * (baseline + (1 - baseline) * f(a_i(k)))
 *   user net value V_i(k) = q_i(k) - p_i(k),   surplus W_i(k) = q_i(k) - c_i(k)
 * with f(a) = a (linear), a^curvature (power) or
 * (e^(curvature a) - 1) / (e^curvature - 1) (exp).
 *
 * Market: in a profile k = (k_1..k_n), users pick provider i with the logit
 * share s_i = e^{beta V_i} / (e^{beta v0} + sum_j e^{beta V_j}) (v0: the
 * outside option); provider utility u_i = s_i (p_i - c_i); social welfare
 * SW = sum_i s_i W_i. Providers choose k_i.
 *
 * Auction: per request each provider bids (quality, price); the highest score
 * quality - price wins and is paid its quality minus the runner-up's score.
 */
#ifndef PRILLM_TTC_H
#define PRILLM_TTC_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PRILLM_TTC_VALUE_LINEAR = 0, PRILLM_TTC_VALUE_POWER = 1, PRILLM_TTC_VALUE_EXP = 2 } PrillmTtcValueShape;

/* Limits checked by prillm_ttc_market_validate: they keep the brute-force
 * enumeration and the exp() arguments inside what doubles and ints hold. */
#define PRILLM_TTC_MAX_MODELS 64
#define PRILLM_TTC_MAX_LEVELS 4096
#define PRILLM_TTC_MAX_BETA 1e12

typedef struct {
    char *description;        /* free text (where the numbers come from); NULL ok */
    int n_models;
    char **model_id;          /* [n_models], unique                              */
    double *list_price;       /* [n_models], USD per million tokens, > 0         */
    int *n_levels;            /* [n_models], >= 1                                */
    int *level_offset;        /* [n_models + 1]: model i's levels are            */
                              /* level_offset[i] .. level_offset[i+1]-1          */
    double *level_label;      /* [total] the TTC parameter (samples, effort bin); */
                              /* NaN = not given (labels are only printed)       */
    double *accuracy;         /* [total] in [0, 1]                               */
    double *tokens;           /* [total] billed tokens per query, > 0            */

    double value_scale;       /* alpha, USD per query, > 0                       */
    double value_baseline;    /* b in [0, 1]                                     */
    int value_shape;          /* PrillmTtcValueShape                             */
    double value_curvature;   /* gamma (power) or kappa (exp), > 0               */
    double margin;            /* m >= 0: price = (1 + m) cost                    */
    double beta;              /* logit rationality > 0; NaN = not given (the     */
                              /* auction does not need it)                       */
    double outside_value;     /* v0, USD per query: the outside option / reserve */
} PrillmTtcMarket;

/* The per-query terms of one (model, level). */
typedef struct {
    double price, cost, quality, user_value, surplus;
} PrillmTtcLevel;

/* Allocate a market with the given level counts, every number NaN, every id
 * NULL, value shape linear; n_levels[i] >= 1. NULL (err filled) on failure. */
PRILLM_API PrillmTtcMarket *prillm_ttc_market_alloc(int n_models, const int *n_levels, PrillmError *err);
PRILLM_API void prillm_ttc_market_free(PrillmTtcMarket *market);
/* Check every number and id; the first problem names the field and index
 * ("models[2].tokens[3] must be > 0, got 0"). beta may be NaN. */
PRILLM_API PrillmErrorCode prillm_ttc_market_validate(const PrillmTtcMarket *market, PrillmError *err);
/* Terms of level k of model i (both in range; no checks). */
PRILLM_API PrillmTtcLevel prillm_ttc_level(const PrillmTtcMarket *market, int model, int level);

/* Read the JSON format of docs/ttc.md and validate. */
PRILLM_API PrillmErrorCode prillm_ttc_market_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                             PrillmTtcMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_ttc_market_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                            PrillmTtcMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_ttc_market_write_json(const PrillmTtcMarket *market, FILE *stream, PrillmError *err);

/* ---- logit shares ------------------------------------------------------- */

/* Shares s_i = e^{beta values_i} / (e^{beta v0} + sum_j e^{beta values_j}),
 * computed with log-sum-exp (no overflow for any finite beta * value).
 * outside_share (may be NULL) gets the outside option's share. Returns
 * ln Z = ln(e^{beta v0} + sum_j e^{beta values_j}), also without overflow. */
PRILLM_API double prillm_ttc_logit(int n, const double *values, double outside_value, double beta, double *shares,
                        double *outside_share);

/* ---- the pay-per-compute market -------------------------------------------- */

/* Everything about one profile. Arrays are [n_models]. */
typedef struct {
    int n_models;
    int *level;               /* the profile k                                 */
    double *price, *quality, *cost;
    double *shares;
    double outside_share;
    double *utility;          /* u_i = s_i (p_i - c_i)                         */
    double welfare;           /* sum_i s_i (q_i - c_i) + s_0 v0                */
    double user_value;        /* sum_i s_i (q_i - p_i) + s_0 v0: users' value  */
    double user_spend;        /* sum_i s_i p_i                                 */
    double provider_profit;   /* sum_i u_i                                     */
    double potential;         /* Phi(k), -inf if some margin p_i - c_i is 0    */
} PrillmTtcOutcome;

PRILLM_API PrillmTtcOutcome *prillm_ttc_outcome_alloc(int n_models, PrillmError *err);
PRILLM_API void prillm_ttc_outcome_free(PrillmTtcOutcome *outcome);
/* Evaluate profile level[] (copied into outcome->level). beta must be set. */
PRILLM_API PrillmErrorCode prillm_ttc_evaluate(const PrillmTtcMarket *market, const int *level, PrillmTtcOutcome *outcome,
                                    PrillmError *err);
/* The exact potential of the log-utility game:
 * Phi(k) = sum_i ln(p_i - c_i) + beta sum_i V_i - ln(e^{beta v0} + sum_j e^{beta V_j}).
 * A unilateral change of k_i changes Phi by exactly the change of ln u_i. */
PRILLM_API double prillm_ttc_potential(const PrillmTtcMarket *market, const int *level);
/* Provider i's utility if it moves to level k while the others keep theirs. */
PRILLM_API double prillm_ttc_utility(const PrillmTtcMarket *market, const int *level, int provider, int k);

typedef struct {
    int max_rounds;          /* rounds of the dynamics before giving up          */
    double tolerance;        /* a move must raise u_i above u_i + tol |u_i|      */
    double zero_margin;      /* ... or above this when u_i = 0                   */
    int seed;                /* seed of the random visiting order per round      */
    double max_profiles;     /* brute-force optimum only up to this many profiles */
} PrillmTtcSettings;

PRILLM_API const PrillmOptionInfo *prillm_ttc_options(int *count);
PRILLM_API void prillm_ttc_default_settings(PrillmTtcSettings *settings);
PRILLM_API PrillmErrorCode prillm_ttc_set_option(PrillmTtcSettings *settings, const char *name, const char *value,
                                      PrillmError *err);
PRILLM_API PrillmErrorCode prillm_ttc_check_settings(const PrillmTtcSettings *settings, PrillmError *err);

/* Called after every move of the dynamics (for tracing and tests). */
typedef void (*PrillmTtcMoveFn)(void *context, int round, int provider, int from_level, int to_level,
                                const int *profile, double potential);

typedef struct {
    PrillmStatus status;      /* solved: a full round without a move (a pure NE);
                                 inaccurate: max_rounds reached                   */
    PrillmTtcOutcome *equilibrium;
    PrillmTtcOutcome *optimum; /* welfare-maximising profile (brute force); NULL  */
                               /* when there are more than max_profiles profiles  */
    double price_of_anarchy;  /* SW_opt / SW_NE; 1 if SW_NE <= 1e-9 (as the
                                 reference code); NaN when optimum is NULL        */
    int rounds, moves;
    double profiles;          /* profiles enumerated for the optimum             */
    double seconds;
} PrillmTtcMarketResult;

/* Nearest-improvement dynamics from the lowest levels to a pure Nash
 * equilibrium, then the brute-force welfare optimum and the price of anarchy.
 * settings may be NULL (defaults), on_move may be NULL. Free the result
 * with prillm_ttc_market_result_free. */
PRILLM_API PrillmErrorCode prillm_ttc_market_solve(const PrillmTtcMarket *market, const PrillmTtcSettings *settings,
                                        PrillmTtcMoveFn on_move, void *move_context,
                                        PrillmTtcMarketResult **result, PrillmError *err);
PRILLM_API void prillm_ttc_market_result_free(PrillmTtcMarketResult *result);

/* The welfare-maximising profile by enumeration (ties: the first profile in
 * lexicographic order). Fails with PRILLM_ERR_TOO_LARGE beyond max_profiles. */
PRILLM_API PrillmErrorCode prillm_ttc_welfare_optimum(const PrillmTtcMarket *market, double max_profiles, int *level,
                                           double *welfare, PrillmError *err);

/* ---- the reverse second-price auction ------------------------------------ */

/* The mechanism on given bids. Score_i = quality_bid_i - price_bid_i. The
 * outside option is a phantom bidder with score `reserve` (index n); ties go
 * to the lower index, so the phantom loses ties. The winner w is served when
 * it is a real provider; the runner-up score is W_r = max(second score,
 * reserve). The user pays P = q_w - W_r, where q_w is the realised quality
 * when realised_quality is not NULL (the truthful-by-construction variant)
 * and the bid quality otherwise. */
typedef struct {
    int winner;               /* provider index, -1 when nobody is served        */
    int runner_up;            /* provider index, -1 when it is the reserve; when */
                              /* nobody is served, the best real bidder          */
    double winner_score, runner_up_score;
    double payment;           /* P; 0 when nobody is served                      */
} PrillmTtcAuctionOutcome;

PRILLM_API PrillmErrorCode prillm_ttc_auction_run(int n, const double *quality_bid, const double *price_bid,
                                       const double *realised_quality, double reserve,
                                       PrillmTtcAuctionOutcome *outcome, PrillmError *err);

/* The auction on a TTC market with truthful bidders: provider i picks the
 * level k_i* maximising its surplus W_i(k) = q_i(k) - c_i(k) (ties: the lower
 * level) and bids (q_i(k_i*), c_i(k_i*)); the reserve is the outside value. */
typedef struct {
    int n_models;
    int *level;               /* [n] k_i*                                        */
    double *quality_bid, *price_bid, *score; /* [n]                              */
    double *utility;          /* [n] winner: P - c_w; others 0                   */
    PrillmTtcAuctionOutcome outcome;
    double user_utility;      /* q_w - P = W_r (the outside value if not served) */
    double welfare;           /* W_w, or the outside value if nobody is served   */
} PrillmTtcAuctionResult;

PRILLM_API PrillmErrorCode prillm_ttc_auction(const PrillmTtcMarket *market, PrillmTtcAuctionResult **result, PrillmError *err);
PRILLM_API void prillm_ttc_auction_result_free(PrillmTtcAuctionResult *result);

#ifdef __cplusplus
}
#endif
#endif
