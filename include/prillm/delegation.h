/*
 * prillm — incentive-compatible delegation ("Pay for the Second-Best
 * Service", Cao et al., WWW 2026).
 *
 * A user sends T queries, one at a time, to K LLM providers. A provider may
 * secretly run a cheaper model than the one it advertises, or bill more
 * output tokens than it produced; the user sees only the reward (b x score)
 * and the billed tokens. The four-phase mechanism (exploration, exploitation
 * with early stop, two blind-trust phases) keeps the user's utility near the
 * second-best provider's honest utility while making honest exploration an
 * approximate best response. docs/delegation.md gives the model, the file
 * format and what is reconstructed.
 *
 * The simulator draws every per-query score and token count from a
 * counter-based stream keyed by (seed, provider id, that provider's query
 * number), so a run is reproducible and a provider's draws do not depend on
 * the order in which providers are listed or served.
 */
#ifndef PRILLM_DELEGATION_H
#define PRILLM_DELEGATION_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/error.h"
#include "prillm/market.h" /* PrillmWarnFn */
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Provider behaviours of the paper's experiments, in the order of its plots. */
#define PRILLM_DELEGATION_STRATEGY_LIST(X)                                                        \
    X(OURS, 0, "ours", "honest exploration, then bill the user down to the second-best utility") \
    X(HONEST, 1, "honest", "advertised model, true token counts, always")                        \
    X(DISHONEST_MODEL, 2, "dishonest-model", "honest exploration, then the worst model")          \
    X(DISHONEST_LENGTH, 3, "dishonest-length", "honest exploration, then bill L tokens")          \
    X(DISHONEST_ALL, 4, "dishonest-all", "worst model billed at L tokens from the first query")   \
    X(SECOND_BEST, 5, "second-best", "honest exploration, then the cheapest model still >= u2")

typedef enum {
#define PRILLM_X_(name, value, text, help) PRILLM_DELEGATION_##name = value,
    PRILLM_DELEGATION_STRATEGY_LIST(PRILLM_X_)
#undef PRILLM_X_
    PRILLM_DELEGATION_N_STRATEGIES
} PrillmDelegationStrategy;

/* "ours", "honest", ...; NULL for an out-of-range value. */
PRILLM_API const char *prillm_delegation_strategy_name(int strategy);
/* Index of a strategy name, or -1. */
PRILLM_API int prillm_delegation_strategy_index(const char *name);

/* The phases in the order they run. BONUS is the best provider's B extra
 * queries after an exploitation phase without early stop. */
typedef enum {
    PRILLM_PHASE_EXPLORE = 0, /* phase 1: B queries to every provider        */
    PRILLM_PHASE_EXPLOIT = 1, /* phase 2: the best provider, batches of B    */
    PRILLM_PHASE_BONUS = 2,   /* phase 2 reward: B blind-trust queries       */
    PRILLM_PHASE_INCENTIVE = 3, /* phase 3: B to every other provider        */
    PRILLM_PHASE_UTILITY = 4, /* phase 4: delta_i * B (randomised rounding)  */
    PRILLM_PHASE_REASSIGN = 5, /* option reassign: the queries an early stop
                                  left unused, to the phase-1 runner-up      */
    PRILLM_PHASE_COUNT = 6
} PrillmDelegationPhase;

/* "explore", "exploit", "bonus", "incentive", "utility", "reassign". */
PRILLM_API const char *prillm_delegation_phase_name(int phase);

typedef enum { PRILLM_DRAW_BETA = 0, PRILLM_DRAW_BERNOULLI = 1, PRILLM_DRAW_MEAN = 2 } PrillmDelegationDraw;
typedef enum { PRILLM_GAIN_OVER_HONEST = 0, PRILLM_PROFIT = 1 } PrillmDelegationProviderUtility;

typedef struct {
    int horizon;          /* T, queries in total                              */
    double epsilon;       /* in (0, 1/2): B = floor(T^(2 eps))                */
    double gamma;         /* early-stop slack divisor                         */
    double reward;        /* b, reward of a perfect answer (score 1)          */
    double eta;           /* provider's cost = eta x list price x true tokens */
    int seed;
    int draws;            /* PrillmDelegationDraw: score law (mean = no noise) */
    double concentration; /* Beta(k mu, k (1 - mu)) scores                    */
    double token_sigma;   /* log-normal output tokens, clipped to [1, max]    */
    int provider_utility; /* PrillmDelegationProviderUtility                  */
    /* 1: after an early stop, the queries left once phase 4 is done go to the
     * phase-1 runner-up in batches of B, checked against
     * u2 - M (b + L p_runner) / gamma like exploitation (default 0, the
     * authors' mechanism; docs/delegation.md states the effect on IC). */
    int reassign;
} PrillmDelegationSettings;

PRILLM_API const PrillmOptionInfo *prillm_delegation_options(int *count);
PRILLM_API void prillm_delegation_default_settings(PrillmDelegationSettings *settings);
PRILLM_API PrillmErrorCode prillm_delegation_set_option(PrillmDelegationSettings *settings, const char *name,
                                             const char *value, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_delegation_check_settings(const PrillmDelegationSettings *settings,
                                                 PrillmError *err);

typedef struct {
    char *id;
    double score;      /* mean score in (0, 1]; reward = b x score          */
    double tokens;     /* mean output tokens, >= 1                          */
    double max_tokens; /* largest output, an integer >= tokens              */
    double price;      /* $ per output token, >= 0                          */
} PrillmDelegationModel;

/* Continuous provider strategies. A provider may play, in each group of
 * phases, a continuous action instead of (or mixed with) its menu strategy:
 * on every query it runs its advertised model 0 at a quality/effort level
 * alpha in [0, 1] and bills an inflation beta >= 1 of the tokens produced:
 *   reward       = alpha x b x score      (score drawn for model 0)
 *   billed       = min(round(beta x tokens), L) tokens at model 0's price
 *   list cost    = alpha x price_0 x tokens (alpha is the fraction of the
 *                  advertised model's cost actually spent; cost = eta x it)
 * (alpha, beta) = (1, 1) is exactly honest play. weight is the probability
 * that a query of the group uses the continuous action rather than the menu
 * strategy's (0: menu only, 1: continuous only; the coin has its own random
 * stream, so the score and token draws do not depend on it). */
typedef enum {
    PRILLM_PLAY_EXPLORE = 0, /* phase 1                                   */
    PRILLM_PLAY_EXPLOIT = 1, /* phase 2 (the best provider only)          */
    PRILLM_PLAY_TRUST = 2,   /* bonus, blind trust I and II               */
    PRILLM_PLAY_GROUPS = 3
} PrillmDelegationPlayGroup;

/* "explore", "exploit", "trust"; NULL out of range. */
PRILLM_API const char *prillm_delegation_play_group_name(int group);

typedef struct {
    double weight;    /* in [0, 1]; 0 = the menu strategy only              */
    double quality;   /* alpha in [0, 1]                                    */
    double inflation; /* beta in [1, 1e6]                                   */
    /* Exploitation only: ignore quality and inflation and choose them when
     * u2 is announced, to bring the expected user utility down to u2 (the
     * continuous second-best extraction; see docs/delegation.md). */
    int extract;
} PrillmDelegationPlay;

typedef struct {
    char *id;
    int strategy;  /* PrillmDelegationStrategy */
    int n_models;
    /* Sorted by honest utility b score - price tokens, best first (stable):
     * model 0 is the one advertised and billed. */
    PrillmDelegationModel *models;
    int *input_index; /* [n_models]: position of models[k] in the input    */
    /* Continuous plays by phase group; all weights 0 (menu only) after
     * prillm_delegation_game_alloc. */
    PrillmDelegationPlay play[PRILLM_PLAY_GROUPS];
} PrillmDelegationProvider;

typedef struct {
    int n_providers;
    PrillmDelegationProvider *providers;
} PrillmDelegationGame;

/* An empty game of n providers with the given model counts (ids NULL,
 * numbers NaN, strategies honest); fill it, then validate. */
PRILLM_API PrillmDelegationGame *prillm_delegation_game_alloc(int n_providers, const int *n_models, PrillmError *err);
PRILLM_API void prillm_delegation_game_free(PrillmDelegationGame *game);
/* Check every field (first problem reported by name and index) and sort each
 * provider's models by honest utility for the reward in settings. */
/* The (alpha, beta) of the continuous second-best extraction for a
 * provider whose advertised model has mean score mu_s, mean tokens mu_l and
 * price p: maximise the expected gain eta p (beta - alpha) mu_l subject to
 * the expected user utility alpha b mu_s - p min(beta mu_l, L) = u2 and
 * beta mu_l <= L. Closed form: alpha = min(1, (u2 + p L) / (b mu_s)),
 * beta = (alpha b mu_s - u2) / (p mu_l), clipped to [1, L / mu_l]; honest
 * (1, 1) when the model cannot reach u2 or p = 0. */
PRILLM_API void prillm_delegation_extract_play(const PrillmDelegationModel *advertised, double u2, double reward,
                                               double max_tokens, double *quality, double *inflation);

PRILLM_API PrillmErrorCode prillm_delegation_game_prepare(PrillmDelegationGame *game, const PrillmDelegationSettings *settings,
                                               PrillmError *err);

/* Totals over the queries of one provider in one phase. */
typedef struct {
    long long queries;
    double reward;           /* sum of b x score                             */
    double payment;          /* sum billed: advertised price x billed tokens */
    double user_utility;     /* reward - payment                             */
    double provider_utility; /* see settings.provider_utility                */
    double billed_tokens;
    double true_tokens;
} PrillmDelegationTally;

typedef struct {
    PrillmDelegationTally phase[PRILLM_PHASE_COUNT];
    PrillmDelegationTally total;
    double honest_utility; /* b mu_s - price mu_l of the advertised model   */
    double mean_utility;   /* phase-1 averages seen by the user: u_i,       */
    double mean_reward;    /*   v_i,                                        */
    double mean_tokens;    /*   tau_i (billed)                              */
    double delta;          /* delta_i of phase 4                            */
    int stopped_early;     /* the best provider failed an early-stop check  */
} PrillmDelegationOutcome;

typedef struct {
    PrillmStatus status; /* solved, or failed (then numbers are NaN)        */
    int n_providers;
    long long horizon;   /* T                                                */
    long long batch;     /* B = floor(T^(2 eps))                             */
    double m;            /* M = T^(-eps) ln(K T)                             */
    double max_tokens;   /* L over all models                                */
    double delta1, delta2, delta3;
    long long exploit_budget; /* R                                            */
    double threshold;    /* theta = u2 - M (b + L p_max) / gamma             */
    double price_best;   /* p_max: the best provider's advertised price      */
    int best;            /* i*, by phase-1 average utility                   */
    double second_utility; /* u2, second-largest phase-1 average utility      */
    long long used;      /* queries delegated; T - used stay unused          */
    long long stop_after; /* phase-2 queries when stopped early, else -1     */
    double user_utility; /* sum over all queries                             */
    /* The honest benchmarks: u1* and u2* are the largest and second-largest
     * honest per-query utilities of the advertised models. */
    double first_best_utility, second_best_utility;
    double second_best_total; /* T u2*                                      */
    /* The additive slack of the second-best guarantee as accounted in
     * docs/delegation.md: (b + L p_hi) ((delta1 + 3) K B + T^(1-eps) ln(KT)),
     * p_hi the highest advertised price. */
    double slack;
    PrillmDelegationOutcome *providers; /* [n_providers], input order       */
    int runner_up;          /* reassign: who took the unused queries, else -1 */
    double reassign_threshold; /* its check, NaN when nothing was reassigned  */
    long long reassign_stop_after; /* reassigned queries when it was stopped too, else -1 */
} PrillmDelegationResult;

/* Run the mechanism once on a prepared game. Returns an error for bad
 * arguments (settings out of range, K < 2, K B > T) and out of memory;
 * *result is then NULL. */
PRILLM_API PrillmErrorCode prillm_delegation_run(const PrillmDelegationGame *game, const PrillmDelegationSettings *settings,
                                      PrillmDelegationResult **result, PrillmError *err);
PRILLM_API void prillm_delegation_result_free(PrillmDelegationResult *result);

/* ---- online use ---------------------------------------------------------
 * The mechanism as the user runs it on real traffic: ask which provider
 * gets the next query, send it, observe the reward (b x score), the billed
 * output tokens and the bill, feed them back, repeat. The decisions are
 * exactly those of prillm_delegation_run on the same observations (both
 * drive one state machine); the game's menus only set the constants (L,
 * delta1), its strategies and plays are ignored. The game and settings must
 * outlive the session. */
typedef struct PrillmDelegationSession PrillmDelegationSession;

typedef struct {
    int provider;    /* index in the game, -1 once the mechanism has finished */
    int phase;       /* PrillmDelegationPhase of that query                    */
    long long query; /* 0-based number of the query among all T               */
} PrillmDelegationAssignment;

PRILLM_API PrillmErrorCode prillm_delegation_session_create(const PrillmDelegationGame *game,
                                                            const PrillmDelegationSettings *settings,
                                                            PrillmDelegationSession **session, PrillmError *err);
/* The query due next; returns 1, or 0 (provider -1) when the mechanism is done. */
PRILLM_API int prillm_delegation_session_next(const PrillmDelegationSession *session,
                                              PrillmDelegationAssignment *next);
/* The outcome of the query due: provider must be the one assigned; reward
 * finite, tokens >= 0, bill finite (the user pays it; usually the advertised
 * price x tokens). PRILLM_ERR_INVALID_ARGUMENT (nothing recorded) otherwise,
 * or when the mechanism is done. */
PRILLM_API PrillmErrorCode prillm_delegation_session_observe(PrillmDelegationSession *session, int provider,
                                                             double reward, double tokens, double bill,
                                                             PrillmError *err);
/* The tallies so far, with the same fields as an offline run (totals
 * refreshed on every call). What the user cannot see online, provider
 * utility and true tokens, is NaN. Owned by the session. */
PRILLM_API const PrillmDelegationResult *prillm_delegation_session_result(PrillmDelegationSession *session);
PRILLM_API void prillm_delegation_session_free(PrillmDelegationSession *session);

/* What the simulator draws for provider i's query number n (0-based, its
 * own count) in a phase, playing its strategy: reward, billed tokens and
 * bill. u2 is the announced second-best average (used from exploitation on).
 * Feeding these to a session reproduces prillm_delegation_run. */
PRILLM_API PrillmErrorCode prillm_delegation_simulate_query(const PrillmDelegationGame *game,
                                                            const PrillmDelegationSettings *settings, int provider,
                                                            int phase, long long n, double u2, double *reward,
                                                            double *tokens, double *bill, PrillmError *err);

/* The delegation file (docs/delegation.md): settings by option name at the
 * top level, then "providers": [{"id", "strategy", "models": [{"id",
 * "score", "tokens", "max_tokens", "price"}]}]. settings must hold the
 * defaults (or command-line values) on entry; keys in the file override
 * them. The game comes back prepared. */
PRILLM_API PrillmErrorCode prillm_delegation_parse_json(const char *text, size_t length, PrillmWarnFn warn,
                                             void *warn_context, PrillmDelegationSettings *settings,
                                             PrillmDelegationGame **game, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_delegation_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                            PrillmDelegationSettings *settings, PrillmDelegationGame **game,
                                            PrillmError *err);
/* The result as one JSON object (settings and ids echoed). */
PRILLM_API PrillmErrorCode prillm_delegation_write_json(FILE *stream, const PrillmDelegationGame *game,
                                             const PrillmDelegationSettings *settings,
                                             const PrillmDelegationResult *result, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
