/*
 * prillm — game abstraction: the deep aggregation network (DESIGN.md section 5).
 *
 * A market with many rivals is reduced to the target plus K rivals so that
 * the target's pricing problem becomes small. The "da" method scores every
 * rival with a Set Transformer (score_sum in (0,1), score_avg > 0), keeps the
 * K-1 rivals with the largest score_avg and merges the others into one rival
 * "aggregate" with capacity sum score_sum_j capacity_j and score_avg-weighted
 * means of price, value, cost, latency and every user's delay. "min" and
 * "avg" are the paper's baselines. docs/aggregator.md gives every detail.
 *
 * Lifecycle: prillm_aggregator_new (random weights) or _read_json (a trained
 * model), use, prillm_aggregator_free. Training: prillm_aggregator_scenarios
 * builds perturbed markets, prillm_aggregator_train fits the weights with the
 * profit-curve loss.
 */
#ifndef PRILLM_AGGREGATOR_H
#define PRILLM_AGGREGATOR_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/equilibrium.h"
#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-rival features (raw, before z-scoring), in this order:
 *   price, log(capacity / total demand), value, mean delay, delay spread,
 *   price - target price, value - target value, log(capacity / target capacity),
 *   mean delay - target mean delay,
 * where mean delay and spread are the demand-weighted mean and standard
 * deviation of the provider's delays over users. */
#define PRILLM_AGGREGATOR_FEATURES 9

typedef struct PrillmAggregator PrillmAggregator;

typedef struct {
    int width;      /* model width d (multiple of heads)                  */
    int heads;      /* attention heads                                    */
    int blocks;     /* stacked Set Attention Blocks                       */
    int layer_norm; /* 1: LayerNorm in every block (as the paper), 0: off  */
    unsigned long long seed; /* initial weights                           */
} PrillmAggregatorShape;

PRILLM_API void prillm_aggregator_default_shape(PrillmAggregatorShape *shape);
/* A network with seeded Xavier-uniform weights and identity feature
 * normalisation (mean 0, std 1). */
PRILLM_API PrillmAggregator *prillm_aggregator_new(const PrillmAggregatorShape *shape, PrillmError *err);
PRILLM_API PrillmAggregator *prillm_aggregator_copy(const PrillmAggregator *model, PrillmError *err);
PRILLM_API void prillm_aggregator_free(PrillmAggregator *model);
PRILLM_API void prillm_aggregator_get_shape(const PrillmAggregator *model, PrillmAggregatorShape *shape);

/* The flat parameter vector (read / write). Its layout is documented in
 * docs/aggregator.md and named tensor by tensor in the model file. */
PRILLM_API int prillm_aggregator_parameter_count(const PrillmAggregator *model);
PRILLM_API double *prillm_aggregator_parameters(PrillmAggregator *model);

/* Feature normalisation stored with the model: z = (x - mean) / std. */
PRILLM_API PrillmErrorCode prillm_aggregator_set_normalisation(PrillmAggregator *model, const double *mean,
                                                    const double *std, PrillmError *err);
PRILLM_API void prillm_aggregator_get_normalisation(const PrillmAggregator *model, double *mean, double *std);

/* Raw features of every rival of target (all providers but target, in market
 * order): features[r * PRILLM_AGGREGATOR_FEATURES + k] for the r-th rival. */
PRILLM_API PrillmErrorCode prillm_aggregator_features(const PrillmMarket *market, int target, double *features,
                                           PrillmError *err);

/* Scores of every provider; the target's entries are NaN. */
PRILLM_API PrillmErrorCode prillm_aggregator_scores(const PrillmAggregator *model, const PrillmMarket *market, int target,
                                         double *score_sum, double *score_avg, PrillmError *err);

typedef enum {
    PRILLM_AGGREGATE_DA = 0,  /* the network's scores (needs a model)       */
    PRILLM_AGGREGATE_MIN = 1, /* the K cheapest rivals, the others dropped  */
    PRILLM_AGGREGATE_AVG = 2  /* K identical rivals averaged over all rivals */
} PrillmAggregateMethod;

/* "da", "min", "avg" -> method; -1 if unknown. */
PRILLM_API int prillm_aggregate_method_from_name(const char *name);
PRILLM_API const char *prillm_aggregate_method_name(PrillmAggregateMethod method);

/* The abstracted market: the target and at most K rivals (K >= 1), same
 * users and weights. If the market has at most K rivals it is copied
 * unchanged (every method). Otherwise, for da and min, the target and the
 * kept rivals stay in market order and (da only) the merged rival
 * "aggregate" comes last; avg puts the target first, then "average-1" ..
 * "average-K". model is used only by da. Caller frees *abstracted. */
PRILLM_API PrillmErrorCode prillm_aggregate_market(const PrillmMarket *market, int target, int K,
                                        PrillmAggregateMethod method, const PrillmAggregator *model,
                                        PrillmMarket **abstracted, int *target_in_abstracted, PrillmError *err);

/* Model file (JSON, docs/aggregator.md). Numbers are written shortest
 * round-trip, so write then read gives the same model bit for bit. */
PRILLM_API PrillmErrorCode prillm_aggregator_write_json(const PrillmAggregator *model, FILE *stream, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_aggregator_parse_json(const char *text, size_t length, PrillmAggregator **model,
                                             PrillmError *err);
PRILLM_API PrillmErrorCode prillm_aggregator_read_json(FILE *stream, PrillmAggregator **model, PrillmError *err);

/* ---- training data ---------------------------------------------------- */

/* One training scenario: a perturbed market, its target, the sampled target
 * prices and the exact profit curve Y_k = p_k F_s(p_k) of the full market. */
typedef struct {
    PrillmMarket *market;
    int target;
    int n_prices;
    double *prices; /* [n_prices] */
    double *profit; /* [n_prices] */
} PrillmAggregatorScenario;

typedef struct {
    int count;
    PrillmAggregatorScenario *items;
} PrillmAggregatorScenarios;

typedef struct {
    int scenarios;         /* how many to build                           */
    int prices;            /* L, sampled target prices per scenario        */
    double price_span;     /* prices k/(L+1) * span * choke price, where the
                            * choke price is the lowest at which the target
                            * sells nothing                                */
    double price_noise;    /* rival price   *= exp(noise * N(0,1))         */
    double capacity_noise; /* rival capacity *= exp(noise * N(0,1))        */
    double value_noise;    /* rival value   += noise * (|value| + 0.1) * N  */
    double delay_noise;    /* rival delays  *= exp(noise * N(0,1)) (column) */
    double drop_probability; /* each rival removed with this probability  */
    int seed;
    /* Market families (prillm_aggregator_scenarios_mixed): the share of
     * scenarios built on a fresh random market (prillm_aggregator_random_market,
     * a family drawn per scenario) instead of one of the base markets, and
     * the range of its apps and models (each drawn log-uniformly). */
    double random_share;
    int random_min_users, random_max_users;
    int random_min_providers, random_max_providers;
} PrillmScenarioSettings;

PRILLM_API const PrillmOptionInfo *prillm_scenario_options(int *count);
PRILLM_API void prillm_scenario_default_settings(PrillmScenarioSettings *settings);
PRILLM_API PrillmErrorCode prillm_scenario_set_option(PrillmScenarioSettings *settings, const char *name, const char *value,
                                           PrillmError *err);

/* target < 0: every scenario draws its own target among the base market's
 * providers. The scenarios are reproducible from the seed alone. */
PRILLM_API PrillmErrorCode prillm_aggregator_scenarios(const PrillmMarket *base, int target,
                                            const PrillmScenarioSettings *settings,
                                            PrillmAggregatorScenarios *out, PrillmError *err);
PRILLM_API void prillm_aggregator_scenarios_free(PrillmAggregatorScenarios *scenarios);

/* Scenario `index` (0-based) of the set prillm_aggregator_scenarios builds
 * with these arguments, alone: the same market, target, prices and profit
 * curve bit for bit (every scenario draws from its own stream of (seed,
 * index)). For sweeps that spread the scenarios over processes
 * (prillm-sweep training-data). Checks the arguments as
 * prillm_aggregator_scenarios does; settings->scenarios is not used. On
 * failure *out is empty. Free with prillm_aggregator_scenario_clear. */
PRILLM_API PrillmErrorCode prillm_aggregator_scenario_build(const PrillmMarket *base, int target,
                                                            const PrillmScenarioSettings *settings, int index,
                                                            PrillmAggregatorScenario *out, PrillmError *err);
/* Frees one scenario's arrays and market and zeroes it (NULL is a no-op). */
PRILLM_API void prillm_aggregator_scenario_clear(PrillmAggregatorScenario *scenario);

/* Solved scenarios as a data file (docs/aggregator.md, "Training data"), so
 * that they are built once (e.g. over MPI ranks) and trained on many times:
 * a binary file with magic bytes, a version, the count, a free-text
 * description (UTF-8, may be NULL or empty: what the data were built from),
 * then per scenario its target, prices and profits (little-endian IEEE
 * doubles, bit for bit) and its market in the binary market form, and a
 * CRC-32 of everything. The bytes depend only on the scenarios and the
 * description. */
PRILLM_API PrillmErrorCode prillm_aggregator_scenarios_write(const PrillmAggregatorScenarios *scenarios,
                                                             const char *description, FILE *stream,
                                                             PrillmError *err);
/* Read such a file (data/length, or the whole stream): every length is
 * checked before it is used, then the checksum, each market as
 * prillm_market_parse_binary does, each target (a provider of its market)
 * and every price and profit (finite). Errors name the scenario and field
 * ("scenario data: scenarios[3].target ...", PRILLM_ERR_PARSE for a
 * truncated or corrupted file, PRILLM_ERR_INVALID_DATA for an invalid
 * scenario). description (may be NULL) receives a copy of the description
 * (the caller frees). On failure *out is empty. Limited to
 * PRILLM_MAX_INPUT_BYTES. */
PRILLM_API PrillmErrorCode prillm_aggregator_scenarios_parse(const void *data, size_t length,
                                                             PrillmAggregatorScenarios *out, char **description,
                                                             PrillmError *err);
PRILLM_API PrillmErrorCode prillm_aggregator_scenarios_read(FILE *stream, PrillmAggregatorScenarios *out,
                                                            char **description, PrillmError *err);

/* Scenarios across markets: scenario s is built on a fresh random market
 * with probability settings->random_share (its size, family and seed drawn
 * from the scenario's own stream), else on one of the n_bases base markets
 * (drawn uniformly); the target is drawn among that market's providers and
 * its rivals are perturbed as above. n_bases may be 0 only when
 * random_share is 1. With one base and random_share 0 this is exactly
 * prillm_aggregator_scenarios(bases[0], -1, ...). Reproducible from the
 * seed alone, whatever the thread count. */
PRILLM_API PrillmErrorCode prillm_aggregator_scenarios_mixed(const PrillmMarket *const *bases, int n_bases,
                                                  const PrillmScenarioSettings *settings,
                                                  PrillmAggregatorScenarios *out, PrillmError *err);

/* Market families for training across shapes (docs/aggregator.md): */
#define PRILLM_MARKET_FAMILIES 3
/* The family (0 .. PRILLM_MARKET_FAMILIES - 1) a seed draws: 0 standard
 * (prillm_market_random), 1 varied (every distribution's location and
 * spread drawn, affinities half of the time), 2 tiered (a few cheap large
 * models, a tail of small expensive ones, apps with different delay
 * scales). */
PRILLM_API int prillm_aggregator_market_family(unsigned long long seed);
/* A random market of n_users x n_providers from the family the seed draws,
 * reproducible from the seed. Caller frees. NULL (err filled) on bad sizes
 * or out of memory. */
PRILLM_API PrillmMarket *prillm_aggregator_random_market(int n_users, int n_providers, unsigned long long seed,
                                              PrillmError *err);

/* ---- training --------------------------------------------------------- */

typedef struct {
    int K;                 /* rivals in the abstracted market              */
    int epochs;
    int batch;             /* scenarios per Adam step                      */
    double learning_rate;
    double beta1, beta2;   /* Adam                                         */
    double clip;           /* largest norm of a batch gradient, 0 = none   */
    double validation_fraction;
    double test_fraction;
    int seed;              /* split and batch order                        */
    int threads;           /* OpenMP threads, 0 = runtime default          */
} PrillmTrainSettings;

PRILLM_API const PrillmOptionInfo *prillm_train_options(int *count);
PRILLM_API void prillm_train_default_settings(PrillmTrainSettings *settings);
PRILLM_API PrillmErrorCode prillm_train_set_option(PrillmTrainSettings *settings, const char *name, const char *value,
                                        PrillmError *err);

typedef struct {
    int epoch;             /* 1-based, after it finished                   */
    int epochs;
    long step;             /* Adam steps so far                            */
    double train_loss;     /* mean profit-curve loss over the epoch        */
    double validation_loss;
    double seconds;
} PrillmTrainProgress;

/* Return nonzero to stop training after this epoch. */
typedef int (*PrillmTrainCallback)(void *context, const PrillmTrainProgress *progress,
                                   const PrillmAggregator *model);

typedef struct {
    PrillmStatus status;
    int epochs_done;
    int best_epoch;        /* the epoch whose model is returned            */
    long steps;
    long clipped;          /* Adam steps whose gradient was clipped         */
    double train_loss, validation_loss, test_loss;
    double test_loss_min, test_loss_avg; /* the baselines on the same test split */
    int n_train, n_validation, n_test;
    int skipped;           /* scenario evaluations whose equilibrium failed */
    double seconds;
} PrillmTrainInfo;

/* Mean profit-curve loss of the model (method da) or of a baseline on the
 * scenarios [first, first + count). */
PRILLM_API PrillmErrorCode prillm_aggregator_loss(const PrillmAggregator *model, PrillmAggregateMethod method, int K,
                                       const PrillmAggregatorScenarios *scenarios, int first, int count,
                                       double *loss, PrillmError *err);

/* The profit-curve loss of one scenario and its gradient with respect to
 * the model's parameters (grad, parameter_count entries, overwritten).
 * Returns PRILLM_ERR_SOLVER when an equilibrium solve fails. */
PRILLM_API PrillmErrorCode prillm_aggregator_loss_gradient(const PrillmAggregator *model, int K,
                                                const PrillmAggregatorScenario *scenario, double *loss,
                                                double *grad, PrillmError *err);

/* The train / validation / test split prillm_aggregator_train makes of
 * `count` scenarios (it depends only on count, the two fractions and the
 * seed): order[0 .. n_train) are the training scenarios' indices, then
 * n_validation validation ones, then n_test test ones. order has count
 * entries. Lets a benchmark score a trained model on exactly the scenarios
 * it never saw. */
PRILLM_API PrillmErrorCode prillm_aggregator_split(int count, const PrillmTrainSettings *settings, int *order, int *n_train,
                                        int *n_validation, int *n_test, PrillmError *err);

/* Train model in place. The scenarios are split (after a seeded shuffle)
 * into train / validation / test. checkpoint (may be NULL) is a file path:
 * if it exists training resumes from it, and it is rewritten after every
 * epoch. The feature normalisation is set from the training scenarios
 * unless resuming. Deterministic for a seed whatever the thread count. */
PRILLM_API PrillmErrorCode prillm_aggregator_train(PrillmAggregator *model, const PrillmAggregatorScenarios *scenarios,
                                        const PrillmTrainSettings *settings, const char *checkpoint,
                                        PrillmTrainCallback callback, void *context, PrillmTrainInfo *info,
                                        PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
