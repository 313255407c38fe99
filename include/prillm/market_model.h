/*
 * prillm — the whole-market model: every app and model of the OpenRouter
 * data in one calibrated market, with app tastes and a price sensitivity
 * taken from real price variation, validated forward (docs/market-model.md).
 *
 * The market (DESIGN.md sections 2 and 7): app i's cost per token at model j
 *   c_ij = p_j - b_j - a_ij + (F_j + f_ij) / beta_j
 * with w_price = 1, w_congestion = 1 and capacity_j = beta_j. The quadratic
 * term is read as the curvature of demand (tastes that differ within an
 * app's traffic), not as physical congestion: it is what makes a model's
 * flow fall smoothly as its price rises, with slope about -beta_j.
 *
 * How each part is fixed:
 *   beta_j   from a target own-price elasticity e (|dF/dp| p / F at the
 *            observed market): beta_j is scaled, model by model, until the
 *            exact equilibrium's own-price elasticity of every paid model
 *            equals e; a free model (or one below price_floor) gets the
 *            beta of a model with its volume at price_floor. e is chosen by
 *            forward validation on later days (or given).
 *   b_j      by exact inversion: the "rest of the market" (all traffic not
 *            in a public app list) is one user with no affinity and
 *            multiplier 0, so b_j = p_j + (F_j + f_rest,j) / beta_j.
 *   a_ij     by exact inversion on listed cells (app multipliers 0:
 *            a_ij = (f_ij - f_rest,j) / beta_j), and from structure on cells
 *            never observed: below the level at which app i starts to use
 *            model j by a margin that shrinks toward the app's taste for the
 *            model's author (app x author effect, shrinkage chosen on
 *            held-out listed cells).
 * So the calibrated equilibrium reproduces the observed model totals and
 * listed app flows exactly (a certificate, not a fit statistic), and what
 * the model adds is how the traffic moves when prices change.
 */
#ifndef PRILLM_MARKET_MODEL_H
#define PRILLM_MARKET_MODEL_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/elasticity.h"
#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PRILLM_FIT_PRICE_EFFECTIVE = 0, PRILLM_FIT_PRICE_LISTED = 1 } PrillmFitPrice;
#define PRILLM_FIT_MAX_SEGMENTS 8

/* The service a model sells. OpenRouter's chat catalogue
 * (raw/sui414_openrouter-pricing-data/models_daily.csv: every model there
 * generates text) lists the chat models; a model with traffic that is not in
 * it sells something else, told apart by its tokens: input-only (no output
 * tokens: embeddings, reranking, speech synthesis billed on input) or media
 * (image generation, transcription, speech with output tokens). Apps do not
 * swap an embedding model for a chat model, so each class is its own market:
 * the fit gives each non-chat class its own rest-of-market user, and puts
 * every cell across classes far below its margin (docs/market-model.md). */
typedef enum {
    PRILLM_SERVICE_CHAT = 0,
    PRILLM_SERVICE_INPUT_ONLY = 1,
    PRILLM_SERVICE_MEDIA = 2
} PrillmServiceClass;
#define PRILLM_SERVICE_CLASSES 3
/* "chat", "input-only", "media"; "unknown" otherwise. */
PRILLM_API const char *prillm_service_class_name(int service);

typedef struct {
    int fit_end;          /* yyyymmdd: last day of the fit window            */
    int fit_days;         /* days averaged into the fitted market            */
    int forward_end;      /* yyyymmdd: last day scored forward (0 = all)     */
    int flow_date;        /* yyyymmdd: the app x model snapshot              */
    int snapshot_start;   /* yyyymmdd..: daily model tokens that the         */
    int snapshot_end;     /*   snapshot's ~30-day flows are shares of        */
    int price;            /* PrillmFitPrice                                  */
    double elasticity;    /* target |own-price elasticity|; 0 = choose forward
                             among 0.5..3 within the measured intervals    */
    double price_floor;   /* USD/Mtok: price sensitivity of free models      */
    double shrinkage;     /* app x author shrinkage; < 0 = choose held-out   */
    int segments;         /* rest-of-market users by price tier (1 = one);
                             0 = 1 or 4, the better forward               */
    int entry_quality;    /* 1: entrants' volume also from a quality index   */
    int classes;          /* 1: each service class its own market (above);
                             0: every model a substitute for every other    */
    int max_models;       /* 0 = all                                         */
    int max_apps;         /* 0 = all                                         */
    int verbose;
} PrillmFitSettings;

PRILLM_API const PrillmOptionInfo *prillm_fit_options(int *count);
PRILLM_API void prillm_fit_default_settings(PrillmFitSettings *settings);
PRILLM_API PrillmErrorCode prillm_fit_set_option(PrillmFitSettings *settings, const char *name, const char *value,
                                      PrillmError *err);

/* One row of the forward-validation table: a candidate elasticity (0 = no
 * price response) or a baseline, scored on (model, day) totals after the
 * fit window. */
typedef struct {
    char name[48];        /* "model e=1.5, 4 tiers", "persistence", ...      */
    double elasticity;    /* NaN for baselines and the per-model candidate   */
    int segments;         /* rest-of-market segments (0 for baselines)       */
    double r2;            /* linear R^2 over (model, day) totals             */
    double r2_log;        /* R^2 of log totals (cells positive in both)      */
    double median_abs_log_error;
    double r2_changed;    /* linear R^2 on the cells whose price had changed */
    long cells, changed_cells;
} PrillmForwardScore;

typedef struct {
    double shrinkage;     /* candidate                                       */
    int category;         /* 1: with the app-category x model effect         */
    double r2;            /* held-out listed cells, linear                   */
    double r2_log;
    long cells;
} PrillmHeldoutScore;

typedef struct {
    PrillmStatus status;
    PrillmMarket *market;     /* the calibrated whole market (owned)         */
    int n_apps;               /* users 0..n_apps-1 are apps; the others are
                                 the rest of the market, one per price tier  */
    int segments;             /* how many                                    */
    double tier_edge[PRILLM_FIT_MAX_SEGMENTS]; /* tier t: price < edge[t]    */
    int *tier;                /* [m] each model's tier                       */
    double elasticity;        /* the target used                             */
    int per_model_elasticity; /* 1: each model with a measured elasticity has
                                 its own target (forward validation chose it) */
    double candidate_lo, candidate_hi; /* the candidates' range: the union of
                                 the measured 90% intervals (0..inf without) */
    double shrinkage;         /* the app x author shrinkage used             */
    int category_effect;      /* 1: unlisted tastes also from the apps of the
                                 same category (raw apps snapshot) using the
                                 model, chosen on held-out cells              */
    /* per model [m] */
    double *observed_flow;    /* F_j, Mtok/day over the fit window           */
    double *own_elasticity;   /* at the calibrated equilibrium               */
    double *implied_cost;     /* p + F / (dF/dp): marginal cost at which
                                 today's price is profit-maximising          */
    int *diversion_to;        /* [m*3] closest rivals (-1 = none)            */
    double *diversion;        /* [m*3] share of j's lost flow going to them  */
    double *throughput;       /* tok/s used (carried or imputed)             */
    double *latency;          /* s used (carried or imputed)                 */
    double *prompt_share;     /* input share of the blended price            */
    double *kappa;            /* beta_j = kappa_j F_j / max(p_j, floor)      */
    /* a model with no traffic yet (a what-if entrant): its volume predicted
     * from observables, log F = c0 + c1 log max(p, floor) + c2 log latency
     * + c3 log throughput + c4 [has a quality index] + c5 index / 10 (the
     * Artificial Analysis intelligence index of models_daily.csv), least
     * squares over the market's models */
    double entry_coef[6];
    double entry_r2;          /* in-sample R^2 of that regression (log F)    */
    int indexed_models;       /* market models with a quality index          */
    double entry_kappa;       /* median kappa                                */
    PrillmFitSettings settings; /* as used                                   */
    unsigned char *imputed;   /* 1: latency/throughput imputed               */
    /* certificate of the inversion: the calibrated equilibrium against the
     * observed totals and listed flows */
    double max_total_error;   /* max_j |F*_j - F_j| / F_j                    */
    double max_cell_error;    /* max over listed cells, relative to D_i      */
    double kkt_violation;
    int stranded;             /* models with observed flow and F*_j = 0      */
    /* forward validation (model rows first, then the two baselines) */
    PrillmForwardScore *forward;
    int n_forward;
    int forward_days;
    PrillmHeldoutScore *heldout;
    int n_heldout;
    long listed_cells;
    int dropped_models;       /* with volume but no price in the window      */
    /* the elasticity measured from real price variation (across inference
     * providers of one model, and over time), at the fit's price; its
     * per-model estimates are matched to the market's models */
    int have_measured;        /* 0: raw/ tables absent or not usable         */
    PrillmElasticityResult measured;
    int *measured_model;      /* [m] index into measured.models, -1 = none   */
    double seconds;
    /* 90% intervals of diversion[] ([m*3] each, NaN = none): a bootstrap
     * over the listed apps (resampled with replacement, 200 draws, seed 1;
     * the rest-of-market users kept), at the calibrated equilibrium's
     * derivatives, so they say how much the diversion rests on which apps
     * multi-home between the two models */
    double *diversion_lo, *diversion_hi;
    /* [m] each model's PrillmServiceClass (all chat when settings.classes
     * is 0 or the catalogue is absent or starts after the fit window) */
    int *service_class;
    /* rest-of-market users after the price tiers (users n_apps + segments
     * ...): one per non-chat class with models, in class order */
    int class_users;
    /* [m] the price below which a model gets the price sensitivity of a
     * model at that price: settings.price_floor for chat, scaled by the
     * ratio of the class's median positive price to chat's for the others
     * (an embedding at 0.01 USD/Mtok is not "near free") */
    double *floor;
    /* 1: the models were classed (settings.classes on and the catalogue
     * covers the fit window), even if every one kept is chat; predict then
     * classes its entrants too */
    int classes_applied;
} PrillmFitResult;

typedef void (*PrillmFitProgressFn)(void *context, const char *message);

/* Read the OpenRouter tables in dir (models.csv, flows.csv), build the
 * whole market of the fit window, calibrate it, validate it forward and on
 * held-out cells. warn receives each assumption the data forced. */
PRILLM_API PrillmErrorCode prillm_fit_openrouter(const char *dir, const PrillmFitSettings *settings, PrillmWarnFn warn,
                                      void *warn_context, PrillmFitResult **out, PrillmError *err);
PRILLM_API void prillm_fit_result_free(PrillmFitResult *result);

/* Own- and cross-price derivatives dF_k/dp_j at the market's equilibrium,
 * exact on its active set (one-sided where a pair sits exactly at its
 * margin). columns lists which prices j to differentiate by (n_columns of
 * them; NULL = all m, in order); the q-th requested price's derivatives are
 * written at jacobian[q*m + k], k = 0..m-1, so jacobian holds n_columns x m
 * (m x m for all). */
PRILLM_API PrillmErrorCode prillm_market_price_jacobian(const PrillmMarket *market, const int *columns, int n_columns,
                                             double *jacobian, PrillmError *err);

/* Write the calibrated market with a "calibration" object that predict
 * reads (price definition, floor, each model's prompt share, kappa and
 * fit-window flow, the entry regression). */
PRILLM_API PrillmErrorCode prillm_fit_write_market(FILE *out, const PrillmFitResult *result, PrillmError *err);

/* A new period: providers (prices, latency, throughput; models the
 * calibrated market does not have are entrants) and app demands. */
typedef struct {
    PrillmStatus status;
    PrillmMarket *market;     /* the period's market (owned)                 */
    double *flows;            /* [n*m] predicted, Mtok/day                   */
    double *provider_flow;    /* [m]                                         */
    unsigned char *entrant;   /* [m] 1: not in the calibrated market         */
    unsigned char *carried;   /* [m] 1: no row in the period: last price kept */
    unsigned char *new_app;   /* [n] 1: not in the calibrated market (given the
                                 rest of the market's tastes)                */
    unsigned char *app_carried; /* [n] 1: no demand in the period: scaled    */
    double scale;             /* market size relative to the fit window      */
    double kkt_violation;
    int date;
} PrillmPrediction;

/* Predict the period `date` (yyyymmdd) from a calibrated market written by
 * prillm_fit_write_market (its JSON text) and a data directory in either
 * layout: OpenRouter (models.csv rows of the date, apps.csv demands) or
 * generic (providers.csv: period,provider,price[,latency][,throughput]
 * [,tokens]; demands.csv: period,app,demand; the period column holds the
 * date as yyyy-mm-dd); date 0 = the data's last priced date. warn receives every assumption and every id that
 * was unknown or carried. */
PRILLM_API PrillmErrorCode prillm_predict(const char *calibrated_json, size_t length, const char *dir, int date,
                               PrillmWarnFn warn, void *warn_context, PrillmPrediction **out, PrillmError *err);
PRILLM_API void prillm_prediction_free(PrillmPrediction *prediction);

/* Write a prediction as JSON (what prillm predict --json prints and the
 * service's POST /markets/{id}/predict answers): status, date (yyyy-mm-dd),
 * market_scale, kkt_violation; "models": each model's id, price (USD/Mtok),
 * tokens (per day), entrant and price_carried flags; "apps": each app's id,
 * demand (tokens per day), new and demand_carried flags, and its non-zero
 * flows [{model_id, tokens}]. Tokens are the prediction's Mtok times 1e6.
 * Nothing is kept; errors: PRILLM_ERR_INVALID_ARGUMENT (NULL or incomplete
 * prediction), PRILLM_ERR_IO (the stream reported an error). */
PRILLM_API PrillmErrorCode prillm_prediction_write_json(const PrillmPrediction *prediction, FILE *out,
                                                        PrillmError *err);
/* The same prediction as CSV: header app,model_id,tokens, then one row per
 * non-zero flow (tokens per day, rounded to whole tokens). Errors as above. */
PRILLM_API PrillmErrorCode prillm_prediction_write_csv(const PrillmPrediction *prediction, FILE *out,
                                                       PrillmError *err);

/* Write the fit report as JSON (or a table). */
PRILLM_API void prillm_fit_write_json(FILE *out, const PrillmFitResult *result);
PRILLM_API void prillm_fit_write_table(FILE *out, const PrillmFitResult *result);

#ifdef __cplusplus
}
#endif
#endif
