/*
 * prillm — price sensitivity measured on the OpenRouter data
 * (docs/calibration.md, "Price sensitivity").
 *
 * Two log-log estimates of the elasticity of tokens to price:
 *   - across providers: within one (day, model), a provider's log tokens on
 *     its log blended price, with (day x model) fixed effects and the
 *     provider endpoint's log p50 latency and log p50 throughput as controls.
 *     The coefficient is the elasticity of a provider's share of the model's
 *     traffic to its price relative to the model's other providers;
 *   - over time: a model's log daily tokens on its log blended price, with
 *     model and day fixed effects, over the models whose listed price changed.
 * Intervals: cluster bootstrap over models (models resampled with
 * replacement), percentile interval. Per-model cross-provider estimates are
 * shrunk toward the pooled one (empirical Bayes).
 *
 * Reads DIR/models.csv, DIR/raw/sui414_openrouter-pricing-data/
 * effective_pricing_daily.csv and .../endpoints_daily.csv.gz (the layout of
 * ../shared/data/openrouter).
 */
#ifndef PRILLM_ELASTICITY_H
#define PRILLM_ELASTICITY_H

#include "prillm/export.h"

#include "prillm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* transacted price after prompt caching (effective_pricing_daily.csv,
     * models.csv price_*_effective_per_mtok) */
    PRILLM_ELASTICITY_PRICE_EFFECTIVE = 0,
    /* listed price (endpoints_daily.csv.gz, models.csv price_*_per_mtok) */
    PRILLM_ELASTICITY_PRICE_LISTED = 1
} PrillmElasticityPrice;

typedef struct {
    int bootstrap;              /* B replicates of the cluster bootstrap (200); 0: none */
    int seed;                   /* bootstrap stream (1)                               */
    double level;               /* percentile interval coverage (0.90)                */
    int price;                  /* PrillmElasticityPrice (effective)                  */
    int controls;               /* 1: log p50 latency and throughput as controls (1)  */
    double input_share;         /* blend weight of the input price when models.csv
                                   has no prompt/completion split that day (0.9)      */
    double min_price_change;    /* over time: a model counts when its listed blended
                                   price's max/min - 1 exceeds this (0.01)            */
    int model_min_providers;    /* per-model estimates: distinct providers (3)        */
    int model_min_obs;          /* per-model estimates: observations (10)             */
} PrillmElasticitySettings;

typedef struct {
    double elasticity;   /* OLS coefficient on log price (NaN if not identified)      */
    double se;           /* bootstrap standard error                                  */
    double lo, hi;       /* percentile interval at settings.level                     */
    double se_analytic;  /* cluster-robust (by model) standard error, CR1             */
    double r2_within;    /* R^2 after the fixed effects are removed                   */
    double latency;      /* coefficient on log p50 latency (across providers), else NaN */
    double throughput;   /* coefficient on log p50 throughput (across providers), else NaN */
    long n_obs;          /* observations                                              */
    long n_groups;       /* fixed-effect groups: (day, model) or models               */
    int n_models;        /* clusters                                                  */
    int n_days;          /* distinct days                                             */
    int bootstrap_ok;    /* replicates that identified the coefficient                */
} PrillmElasticityEstimate;

typedef struct {
    char *model;         /* OpenRouter id, ":variant" appended when not standard      */
    int providers;       /* distinct providers over the days                          */
    long n_obs;
    long n_groups;       /* days                                                      */
    double raw, raw_se;  /* the model's own coefficient (pooled control coefficients
                            held fixed) and its standard error, clustered by provider */
    double shrunk, shrunk_se; /* shrunk toward the pooled estimate                    */
} PrillmElasticityModel;

typedef struct {
    PrillmElasticityEstimate across_providers;
    PrillmElasticityEstimate over_time;
    PrillmElasticityModel *models; /* per-model estimates, sorted by model id         */
    int n_models;
    double between_sd;   /* tau: sd of the true per-model elasticities (DerSimonian-Laird) */
    long rows_read;      /* provider rows of effective_pricing_daily.csv              */
    long share_fallbacks;/* observations blended with settings.input_share            */
    long controls_missing; /* observations without an endpoint latency/throughput     */
    int over_time_candidates; /* models with a listed price change                    */
    double seconds;      /* wall clock of the whole estimate                          */
} PrillmElasticityResult;

PRILLM_API void prillm_elasticity_default_settings(PrillmElasticitySettings *settings);
PRILLM_API PrillmErrorCode prillm_elasticity_check_settings(const PrillmElasticitySettings *settings, PrillmError *err);
/* "effective" or "listed"; NULL for an unknown value. */
PRILLM_API const char *prillm_elasticity_price_name(int price);

/* Estimate from the OpenRouter directory. settings NULL: defaults. On
 * success result is filled (free it with prillm_elasticity_result_free);
 * on failure it holds nothing to free and err names the file, column and
 * row. Deterministic: the same figures on every run. */
PRILLM_API PrillmErrorCode prillm_elasticity_estimate(const char *openrouter_dir, const PrillmElasticitySettings *settings,
                                           PrillmElasticityResult *result, PrillmError *err);
PRILLM_API void prillm_elasticity_result_free(PrillmElasticityResult *result);

#ifdef __cplusplus
}
#endif
#endif
