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

/* Quality (USD per query) of an answer of accuracy (or realised score) a in
 * [0, 1] for a user whose value scale is value_scale:
 * value_scale * (baseline + (1 - baseline) f(a)) with the market's baseline
 * and shape. At value_scale = market->value_scale it equals
 * prillm_ttc_level(...).quality bit for bit. */
PRILLM_API double prillm_ttc_quality(const PrillmTtcMarket *market, double value_scale, double accuracy);

/* ---- measured curves ------------------------------------------------------ */

/* Evaluation results, one row per (model, compute level): CSV with a header
 * or JSON (an array of objects, or {"results": [...]}), docs/ttc.md
 * "Measured curves". Fields:
 *   model              required, text
 *   level              required, the TTC parameter: samples (majority vote,
 *                      best-of-N) or effort bin; a number, unique per model
 *   accuracy           required, in [0, 1] (fraction correct or mean score)
 *   tokens             required, > 0, mean billed tokens per query at that
 *                      level (all samples of a vote count); must increase
 *                      strictly with level within a model
 *   price_per_million  required, USD per 1M tokens, > 0, the same on every
 *                      row of a model
 *   benchmark, method  optional text; rows not matching the settings'
 *                      benchmark/method are skipped; a file holding several
 *                      distinct values needs a choice
 *   questions          optional, the number of questions behind the row (an
 *                      integer >= 1; only checked)
 * Other columns/keys are warned about and ignored. Models keep their order
 * of first appearance, levels are sorted by level. */
typedef struct {
    const char *benchmark;    /* keep rows whose benchmark is this; NULL: any */
    const char *method;       /* keep rows whose method is this; NULL: any    */
    int allow_missing_levels; /* 0 (default): every model must have every    */
                              /* level some model has                          */
    /* the market terms the file does not hold (as in the market file) */
    double value_scale;       /* required (> 0); NaN by default               */
    double value_baseline;    /* 0.1                                          */
    int value_shape;          /* linear                                        */
    double value_curvature;   /* NaN: 3.5 (power) or 6 (exp)                  */
    double margin;            /* 0.25                                         */
    double beta;              /* NaN (only ttc-market needs it)               */
    double outside_value;     /* 0                                            */
} PrillmTtcCurveSettings;

PRILLM_API void prillm_ttc_curve_default_settings(PrillmTtcCurveSettings *settings);
/* Build a TTC market from measured curves. name labels the text in messages
 * (a path, or "-"). Format by the first non-blank byte: '[' or '{' is
 * JSON, anything else CSV. Errors name the row (CSV: the file's line; JSON:
 * results[i]) and the field: a non-number, accuracy outside [0, 1], tokens
 * <= 0, tokens not increasing with level, a repeated level, a model missing
 * a level, a price differing between rows, no row left after the
 * benchmark/method filter, several benchmarks or methods and no choice. */
PRILLM_API PrillmErrorCode prillm_ttc_curves_parse(const char *text, size_t length, const char *name,
                                                   const PrillmTtcCurveSettings *settings, PrillmWarnFn warn,
                                                   void *warn_context, PrillmTtcMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_ttc_curves_read(FILE *stream, const char *name,
                                                  const PrillmTtcCurveSettings *settings, PrillmWarnFn warn,
                                                  void *warn_context, PrillmTtcMarket **market, PrillmError *err);

/* ---- explicit bids ---------------------------------------------------------- */

/* What each provider offers for a request: per (model, level) of a market, a
 * price (USD per query; NaN: the level is not offered) and optionally a
 * claimed accuracy (NaN: the market's measured accuracy, i.e. audited
 * quality). A model offering no level does not take part. The truthful bid
 * offers every level at its cost c_i(k). */
typedef struct {
    int n_models;
    int total_levels;
    double *price;            /* [total_levels], indexed like market->accuracy */
    double *claimed_accuracy; /* [total_levels] in [0, 1] or NaN              */
    double reserve;           /* the phantom bidder's score; NaN: the market's */
                              /* outside_value                                 */
} PrillmTtcBids;

/* Every price NaN (nothing offered), every claim NaN, reserve NaN. */
PRILLM_API PrillmTtcBids *prillm_ttc_bids_alloc(const PrillmTtcMarket *market, PrillmError *err);
/* Every level of every model at its cost: the dominant strategy. */
PRILLM_API PrillmTtcBids *prillm_ttc_bids_truthful(const PrillmTtcMarket *market, PrillmError *err);
PRILLM_API void prillm_ttc_bids_free(PrillmTtcBids *bids);
PRILLM_API PrillmErrorCode prillm_ttc_bids_validate(const PrillmTtcMarket *market, const PrillmTtcBids *bids,
                                                    PrillmError *err);

/* One request to the auction on explicit bids, for a user of value scale
 * value_scale (NaN: the market's). Each taking-part model's effective bid is
 * its offered level with the best score quality - price (ties: the lower
 * level), quality being value_scale's quality of the claimed or measured
 * accuracy. Then prillm_ttc_auction_run's rule. realised_quality (USD per
 * query, [n_models], NULL: pay on the bid quality) is what the winner's
 * answer turned out to be worth: P = realised_w - W_r; entries of losers are
 * not read and may be NaN. */
typedef struct {
    int n_models;
    int level[PRILLM_TTC_MAX_MODELS];          /* effective level, -1: no bid  */
    double quality_bid[PRILLM_TTC_MAX_MODELS]; /* NaN when no bid              */
    double price_bid[PRILLM_TTC_MAX_MODELS];
    double score[PRILLM_TTC_MAX_MODELS];
    PrillmTtcAuctionOutcome outcome;          /* winner, runner-up, payment:  */
                                              /* indices into the market      */
    double reserve;
    double quality;           /* what the user received: realised, or the     */
                              /* winner's expected quality (measured accuracy) */
    double cost;              /* the winner's cost c_w(k) from the curves     */
    double user_utility;      /* quality - payment (reserve when not served)  */
    double winner_profit;     /* payment - cost (0 when not served)           */
    double welfare;           /* quality - cost (reserve when not served)     */
} PrillmTtcBidOutcome;

PRILLM_API PrillmErrorCode prillm_ttc_bids_run(const PrillmTtcMarket *market, const PrillmTtcBids *bids,
                                               double value_scale, const double *realised_quality,
                                               PrillmTtcBidOutcome *outcome, PrillmError *err);

/* The bids file (docs/ttc.md "Explicit bids"): {"reserve": ..., "bids":
 * [{"model": ..., one of "price" (USD per query), "price_per_million" (USD
 * per 1M billed tokens) or "price_per_unit" (USD per unit of the level
 * parameter, e.g. per sample), each a number (with "level": the one level
 * offered, by its label, or by index with "level_index") or an array with an
 * entry per level (null: not offered); optional "accuracy" claims, the same
 * shape}], "requests": [{"realised_accuracy": {model: a}} or
 * {"realised_quality": {model: USD}}, ...]}. requests is optional; each
 * request is returned as a row of n_models realised qualities (NaN where
 * not given; accuracies already turned into USD with the market's value).
 * *realised may be NULL when the caller does not want them. */
PRILLM_API PrillmErrorCode prillm_ttc_bids_parse_json(const char *text, size_t length, const PrillmTtcMarket *market,
                                                      PrillmWarnFn warn, void *warn_context, PrillmTtcBids **bids,
                                                      double **realised, int *n_requests, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_ttc_bids_read_json(FILE *stream, const PrillmTtcMarket *market, PrillmWarnFn warn,
                                                     void *warn_context, PrillmTtcBids **bids, double **realised,
                                                     int *n_requests, PrillmError *err);

/* ---- a population of users ------------------------------------------------- */

/* Users who differ in their value scale, each sending many requests, each
 * request one auction on the bids (NULL bids: truthful). With
 * realised = 1 every answer is drawn correct with the probability of the
 * winner's measured accuracy at its level (seeded, reproducible) and paid on
 * its realised quality (value_scale * (baseline + (1 - baseline) 1[correct]),
 * so a wrong answer can cost the winner money: a negative payment is a
 * refund); with realised = 0 every request pays on the expected quality. */
typedef struct {
    int realised;             /* 0 (default) or 1                              */
    unsigned long long seed;  /* draws of correct answers                      */
} PrillmTtcPopulationSettings;

PRILLM_API void prillm_ttc_population_default_settings(PrillmTtcPopulationSettings *settings);

#define PRILLM_TTC_N_QUANTILES 9
/* The quantile levels reported: 0, .01, .1, .25, .5, .75, .9, .99, 1, by
 * linear interpolation between order statistics (numpy's default). */
PRILLM_API const double *prillm_ttc_quantile_levels(void);

typedef struct {
    int n_users;
    long long requests;       /* all requests                                 */
    long long served;         /* requests some provider won                    */
    double welfare;           /* sum over requests of quality - cost (reserve  */
                              /* when not served), USD                         */
    double user_value;        /* sum of quality - payment (reserve if not     */
                              /* served)                                       */
    double spend;             /* sum of payments: what users pay ...          */
    double revenue;           /* ... and what providers receive (the same:     */
                              /* the mechanism keeps nothing)                  */
    double provider_cost, provider_profit; /* sum of costs; revenue - cost    */
    double *user_spend;       /* [n_users] each user's total payments          */
    double *user_spend_per_request; /* [n_users]                              */
    double spend_quantiles[PRILLM_TTC_N_QUANTILES];       /* of user_spend    */
    double per_request_quantiles[PRILLM_TTC_N_QUANTILES]; /* of payments      */
    int n_models;
    long long *wins;          /* [n_models] requests won                       */
    double *model_revenue;    /* [n_models]                                    */
    double *model_profit;     /* [n_models]                                    */
} PrillmTtcPopulationResult;

/* value_scale[u] > 0 (USD per query), requests[u] >= 1. */
PRILLM_API PrillmErrorCode prillm_ttc_population_run(const PrillmTtcMarket *market, const PrillmTtcBids *bids,
                                                     int n_users, const double *value_scale,
                                                     const long long *requests,
                                                     const PrillmTtcPopulationSettings *settings,
                                                     PrillmTtcPopulationResult **result, PrillmError *err);
PRILLM_API void prillm_ttc_population_result_free(PrillmTtcPopulationResult *result);
/* A random population of n users (seeded): value_scale[u] =
 * base_scale * exp(spread z - spread^2 / 2) with z standard normal (a
 * log-normal whose mean is base_scale; spread 0: everyone base_scale), and
 * requests[u] uniform in 1..2 mean_requests - 1 (mean mean_requests >= 1,
 * an integer). */
PRILLM_API PrillmErrorCode prillm_ttc_population_generate(double base_scale, double spread, long long mean_requests,
                                                          int n_users, unsigned long long seed, double *value_scale,
                                                          long long *requests, PrillmError *err);
/* A population file: CSV with columns value_scale (USD per query, > 0) and
 * requests (an integer >= 1), one user per row (other columns such as a
 * user id are ignored); errors name the row and column. The arrays are
 * malloc'ed, the caller's to free. */
PRILLM_API PrillmErrorCode prillm_ttc_population_parse_csv(const char *text, size_t length, const char *name,
                                                           int *n_users, double **value_scale, long long **requests,
                                                           PrillmError *err);
/* q-quantile (q in [0, 1]) of x[0..n), linear interpolation between order
 * statistics; sorts a copy. NaN when n < 1 or out of memory. */
PRILLM_API double prillm_ttc_quantile(const double *x, long long n, double q);

#ifdef __cplusplus
}
#endif
#endif
