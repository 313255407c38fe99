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

typedef struct {
    int fit_end;          /* yyyymmdd: last day of the fit window            */
    int fit_days;         /* days averaged into the fitted market            */
    int forward_end;      /* yyyymmdd: last day scored forward (0 = all)     */
    int flow_date;        /* yyyymmdd: the app x model snapshot              */
    int snapshot_start;   /* yyyymmdd..: daily model tokens that the         */
    int snapshot_end;     /*   snapshot's ~30-day flows are shares of        */
    int price;            /* PrillmFitPrice                                  */
    double elasticity;    /* target |own-price elasticity|; 0 = choose forward */
    double price_floor;   /* USD/Mtok: price sensitivity of free models      */
    double shrinkage;     /* app x author shrinkage; < 0 = choose held-out   */
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
    char name[32];        /* "model e=1.5", "persistence", "market share"    */
    double elasticity;    /* NaN for baselines                               */
    double r2;            /* linear R^2 over (model, day) totals             */
    double r2_log;        /* R^2 of log totals (cells positive in both)      */
    double median_abs_log_error;
    double r2_changed;    /* linear R^2 on the cells whose price had changed */
    long cells, changed_cells;
} PrillmForwardScore;

typedef struct {
    double shrinkage;     /* candidate                                       */
    double r2;            /* held-out listed cells, linear                   */
    double r2_log;
    long cells;
} PrillmHeldoutScore;

typedef struct {
    PrillmStatus status;
    PrillmMarket *market;     /* the calibrated whole market (owned)         */
    int n_apps;               /* users 0..n_apps-1 are apps; the last user is
                                 the rest of the market                      */
    double elasticity;        /* the target used                             */
    double shrinkage;         /* the app x author shrinkage used             */
    /* per model [m] */
    double *observed_flow;    /* F_j, Mtok/day over the fit window           */
    double *own_elasticity;   /* at the calibrated equilibrium               */
    double *implied_cost;     /* p + F / (dF/dp): marginal cost at which
                                 today's price is profit-maximising          */
    int *diversion_to;        /* [m*3] closest rivals (-1 = none)            */
    double *diversion;        /* [m*3] share of j's lost flow going to them  */
    double *throughput;       /* tok/s used (carried or imputed)             */
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
} PrillmFitResult;

typedef void (*PrillmFitProgressFn)(void *context, const char *message);

/* Read the OpenRouter tables in dir (models.csv, flows.csv), build the
 * whole market of the fit window, calibrate it, validate it forward and on
 * held-out cells. warn receives each assumption the data forced. */
PRILLM_API PrillmErrorCode prillm_fit_openrouter(const char *dir, const PrillmFitSettings *settings, PrillmWarnFn warn,
                                      void *warn_context, PrillmFitResult **out, PrillmError *err);
PRILLM_API void prillm_fit_result_free(PrillmFitResult *result);

/* Own- and cross-price derivatives dF_k/dp_j at the market's equilibrium,
 * exact on its active set: jacobian[j*m+k] (NULL rows are not wanted:
 * columns lists which j to compute, count n_columns; NULL = all). */
PRILLM_API PrillmErrorCode prillm_market_price_jacobian(const PrillmMarket *market, const int *columns, int n_columns,
                                             double *jacobian, PrillmError *err);

/* Write the fit report as JSON (or a table). */
PRILLM_API void prillm_fit_write_json(FILE *out, const PrillmFitResult *result);
PRILLM_API void prillm_fit_write_table(FILE *out, const PrillmFitResult *result);

#ifdef __cplusplus
}
#endif
#endif
