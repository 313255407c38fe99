/*
 * prillm — calibration: learn the users' preferences from observed traffic
 * (PriLLM phase 1, DESIGN.md section 4; docs/calibration.md).
 *
 * theta = (w_congestion, w_delay, value_1..value_m) with w_price = 1:
 *   1. LP initialisation (paper Alg. 1, GLPK) of the values, with slack so
 *      that real (non-equilibrium) data is always feasible;
 *   2. gradient descent (Adam) on the normalised squared error of the
 *      equilibrium flows against the observed ones; the gradient comes from
 *      implicit differentiation of the equilibrium's KKT system (one adjoint
 *      solve per period); w_congestion is optimised as its logarithm and
 *      w_delay projected onto >= 0;
 *   3. evaluation: R^2 and MAE over observed cells, in-sample and on k-fold
 *      held-out cells.
 * Baselines run through the same driver and the same evaluation: NPM (no
 * values), noQ (no congestion), FD (finite-difference gradients), XGBoost
 * (flows from features, no game) and A2C (actor-critic over theta).
 *
 * One option table (prillm_calibration_options) holds the ingest and the
 * calibration settings: the command line builds its flags from it.
 */
#ifndef PRILLM_CALIBRATION_H
#define PRILLM_CALIBRATION_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/observations.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PRILLM_CAL_PRILLM = 0,  /* LP init + adjoint gradient (the method)           */
    PRILLM_CAL_NPM = 1,     /* values fixed at 0: objective factors only         */
    PRILLM_CAL_NOQ = 2,     /* congestion weight pinned near 0                   */
    PRILLM_CAL_FD = 3,      /* as prillm, central finite-difference gradients    */
    PRILLM_CAL_XGBOOST = 4, /* gradient-boosted trees on cell features, no game  */
    PRILLM_CAL_A2C = 5      /* advantage actor-critic over theta                 */
} PrillmCalibrationMethod;

typedef enum { PRILLM_CAPACITY_TOKENS_PER_THROUGHPUT = 0, PRILLM_CAPACITY_TOKENS = 1, PRILLM_CAPACITY_THROUGHPUT = 2 } PrillmCapacityDefinition;
typedef enum { PRILLM_CENSOR_UPPER = 0, PRILLM_CENSOR_MISSING = 1 } PrillmCensoring;
typedef enum { PRILLM_PRICE_BLEND = 0, PRILLM_PRICE_INPUT = 1, PRILLM_PRICE_OUTPUT = 2 } PrillmPriceDefinition;

typedef struct {
    /* ingest (market building) */
    int models;             /* top N providers by volume                      */
    int apps;               /* top M apps by listed flow                      */
    int capacity;           /* PrillmCapacityDefinition                       */
    int price;              /* PrillmPriceDefinition (OpenRouter layout)      */
    int flow_date;          /* yyyymmdd of the flow snapshot (OpenRouter)     */
    int price_date;         /* yyyymmdd whose prices/latency/throughput are used */
    int window_start;       /* yyyymmdd: first day of daily tokens summed     */
    int window_end;         /* yyyymmdd: last day of daily tokens summed      */
    double window_scale;    /* multiplies the summed daily tokens (20 -> 30 days) */
    /* calibration */
    int method;             /* PrillmCalibrationMethod                        */
    int censoring;          /* PrillmCensoring: how the loss treats unlisted cells */
    int iterations;         /* optimiser iterations (A2C: updates)            */
    double learning_rate;   /* Adam step in scaled coordinates                */
    int init;               /* 0 = LP scanned over w_congestion, 1 = LP at weights 1 (paper), 2 = zero */
    double slack_weight;    /* LP: cost of one unit of slack vs one unit of value */
    int folds;              /* k of the held-out k-fold (0 or 1: no held-out) */
    int seed;               /* fold assignment, A2C, XGBoost                  */
    int xgb_rounds;         /* XGBoost boosting rounds                        */
    int xgb_depth;          /* XGBoost max_depth                              */
    int verbose;            /* progress through the callback                  */
} PrillmCalibrationSettings;

PRILLM_API const PrillmOptionInfo *prillm_calibration_options(int *count);
PRILLM_API void prillm_calibration_default_settings(PrillmCalibrationSettings *settings);
PRILLM_API PrillmErrorCode prillm_calibration_set_option(PrillmCalibrationSettings *settings, const char *name,
                                              const char *value, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_calibration_check_settings(const PrillmCalibrationSettings *settings, PrillmError *err);
/* "prillm", "npm", "noq", "fd", "xgboost", "a2c" */
PRILLM_API const char *prillm_calibration_method_name(int method);

/* Read observations from a directory: the OpenRouter layout (models.csv +
 * flows.csv, as in ../shared/data/openrouter) or the generic layout
 * (providers.csv + flows.csv [+ delays.csv, demands.csv]); see
 * docs/calibration.md. Builds the top models x apps market(s) per settings.
 * warn receives each assumption the data forced (may be NULL). */
PRILLM_API PrillmErrorCode prillm_observations_read(const char *dir, const PrillmCalibrationSettings *settings,
                                         PrillmWarnFn warn, void *warn_context, PrillmObservations **out,
                                         PrillmError *err);

typedef struct {
    PrillmStatus status;    /* solved, or failed (outputs NaN)                */
    int method;
    double w_congestion, w_delay; /* w_price = 1; NaN for XGBoost              */
    double *value;          /* [m]; NaN for XGBoost                           */
    int iterations;         /* optimiser iterations of the in-sample fit      */
    long evaluations;       /* equilibrium solves of the in-sample fit        */
    double seconds;         /* in-sample fit (LP + optimiser)                 */
    double seconds_total;   /* including the k held-out fits                  */
    double loss_initial;    /* normalised loss after the initialisation       */
    double loss_final;
    double lp_slack;        /* sum |slack| the LP needed (USD/Mtok); NaN if no LP */
    double lp_slack_relative; /* lp_slack / sum |M'| over the LP's rows       */
    double lp_seconds;
    double r2, mae;         /* in-sample, observed cells                      */
    double r2_heldout, mae_heldout; /* k-fold held-out; NaN when folds < 2    */
    long cells;             /* observed cells evaluated                       */
    int n_periods, n_users, n_providers;
    double *predicted;          /* [T][n*m] in-sample prediction            */
    double *predicted_heldout;  /* [T][n*m] held-out prediction of observed cells, NaN elsewhere */
} PrillmCalibrationResult;

/* Progress lines ("iteration 120: loss 0.31"), when settings.verbose > 0. */
typedef void (*PrillmProgressFn)(void *context, const char *message);

/* Fit by settings.method and evaluate in-sample and held-out. A fit that
 * runs but cannot produce numbers gives PRILLM_OK with status failed.
 * obs is validated first; that refreshes its cell counts (observed_cells,
 * censored_cells, bounded_cells) and changes nothing else. */
PRILLM_API PrillmErrorCode prillm_calibrate(const PrillmObservations *obs, const PrillmCalibrationSettings *settings,
                                 PrillmProgressFn progress, void *progress_context,
                                 PrillmCalibrationResult **out, PrillmError *err);
PRILLM_API void prillm_calibration_result_free(PrillmCalibrationResult *result);

/* The calibrated market of one period: obs' market with the result's
 * weights (w_price 1) and values; the format equilibrium and price read. */
PRILLM_API PrillmErrorCode prillm_calibration_market(const PrillmObservations *obs, int period,
                                          const PrillmCalibrationResult *result, PrillmMarket **market,
                                          PrillmError *err);

/* What the calibrated market says, checked against the data: models with
 * observed traffic that the fit strands at zero (predicted flow 0 in every
 * period where they have some), and, on the last period's calibrated
 * market, each model's own-price elasticity and implied marginal cost
 * p + F / (dF/dp) (the cost at which today's price maximises (p - k) F; a
 * negative one means the market contradicts the data). */
typedef struct {
    int n_providers;
    unsigned char *stranded;  /* [m]                                         */
    int n_stranded;
    double *own_elasticity;   /* [m], NaN where the model has no flow        */
    double *implied_cost;     /* [m], NaN where the model has no flow        */
    int paid, paid_nonnegative_cost;
} PrillmCalibrationDiagnostics;

PRILLM_API PrillmErrorCode prillm_calibration_diagnose(const PrillmObservations *obs, const PrillmCalibrationResult *result,
                                            PrillmCalibrationDiagnostics *diagnostics, PrillmError *err);
PRILLM_API void prillm_calibration_diagnostics_free(PrillmCalibrationDiagnostics *diagnostics);

/* R^2 and MAE of predicted against observed over cells where observed is a
 * number and predicted too. */
PRILLM_API void prillm_calibration_fit_quality(const double *observed, const double *predicted, size_t count, double *r2,
                                    double *mae, long *cells);

/* Scatter plot of predicted vs observed flows (log-log) as SVG: in-sample
 * points and, when present, held-out points. */
PRILLM_API PrillmErrorCode prillm_calibration_write_svg(const PrillmObservations *obs, const PrillmCalibrationResult *result,
                                             FILE *out, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
