/* The calibration's one option table: ingest and fitting settings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/calibration.h"

#define OFFSET(field) offsetof(PrillmCalibrationSettings, field)
static const PrillmOptionInfo calibration_options[] = {
    {"models", PRILLM_OPTION_INT, 20, 1, 100000, NULL, "top N providers (models) by volume", OFFSET(models)},
    {"apps", PRILLM_OPTION_INT, 20, 1, 1000000, NULL, "top M apps by listed flow on those providers", OFFSET(apps)},
    {"capacity", PRILLM_OPTION_CHOICE, PRILLM_CAPACITY_TOKENS_PER_THROUGHPUT, 0, 2, "tokens-per-throughput|tokens|throughput",
     "capacity alpha_j: volume / throughput (the paper), volume, or throughput", OFFSET(capacity)},
    {"price", PRILLM_OPTION_CHOICE, PRILLM_PRICE_BLEND, 0, 2, "blend|input|output",
     "OpenRouter price: input/output prices blended by the model's prompt share, or one of them", OFFSET(price)},
    {"flow-date", PRILLM_OPTION_INT, 20260707, 19000101, 29991231, NULL,
     "OpenRouter: yyyymmdd of the app x model flow snapshot, 20260707", OFFSET(flow_date)},
    {"price-date", PRILLM_OPTION_INT, 20260717, 19000101, 29991231, NULL,
     "OpenRouter: yyyymmdd whose price, latency and throughput stand for the flow date, 20260717", OFFSET(price_date)},
    {"window-start", PRILLM_OPTION_INT, 20260617, 19000101, 29991231, NULL,
     "OpenRouter: first day (yyyymmdd) of daily model tokens summed into the model's volume, 20260617", OFFSET(window_start)},
    {"window-end", PRILLM_OPTION_INT, 20260706, 19000101, 29991231, NULL,
     "OpenRouter: last day (yyyymmdd) of daily model tokens summed, 20260706", OFFSET(window_end)},
    {"window-scale", PRILLM_OPTION_DOUBLE, 1.5, 1e-6, 1e6, NULL,
     "OpenRouter: multiplies the summed daily tokens (20 days found, flows cover ~30)", OFFSET(window_scale)},
    {"method", PRILLM_OPTION_CHOICE, PRILLM_CAL_PRILLM, 0, 5, "prillm|npm|noq|fd|xgboost|a2c",
     "calibration method: PriLLM or a baseline", OFFSET(method)},
    {"censoring", PRILLM_OPTION_CHOICE, PRILLM_CENSOR_UPPER, 0, 1, "upper|missing",
     "unlisted cells: penalise only a prediction above the bound, or ignore them", OFFSET(censoring)},
    {"iterations", PRILLM_OPTION_INT, 300, 1, 1000000, NULL, "optimiser iterations (A2C: updates)", OFFSET(iterations)},
    {"learning-rate", PRILLM_OPTION_DOUBLE, 0.05, 1e-8, 10, NULL, "Adam step in scaled coordinates", OFFSET(learning_rate)},
    {"init", PRILLM_OPTION_CHOICE, 0, 0, 2, "lp-scan|lp|zero",
     "start: the LP (paper Alg. 1) at each w_congestion 1e-3..1e3 keeping the best, the LP at weights 1, or zero values",
     OFFSET(init)},
    {"slack-weight", PRILLM_OPTION_DOUBLE, 100, 1e-6, 1e12, NULL,
     "LP init: cost of one unit of slack against one unit of value", OFFSET(slack_weight)},
    {"folds", PRILLM_OPTION_INT, 5, 0, 1000, NULL, "k of the k-fold held-out evaluation (< 2: none)", OFFSET(folds)},
    {"seed", PRILLM_OPTION_INT, 1, 0, 2147483647, NULL, "seed of the folds, A2C and XGBoost", OFFSET(seed)},
    {"xgb-rounds", PRILLM_OPTION_INT, 200, 1, 100000, NULL, "XGBoost boosting rounds", OFFSET(xgb_rounds)},
    {"xgb-depth", PRILLM_OPTION_INT, 3, 1, 20, NULL, "XGBoost tree depth", OFFSET(xgb_depth)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 2, NULL, "progress (0 quiet, 1 summary, 2 every 50 iterations)", OFFSET(verbose)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_calibration_options(int *count) {
    if (count) *count = (int)(sizeof calibration_options / sizeof calibration_options[0]);
    return calibration_options;
}

#define CALIBRATION_OPTION_COUNT ((int)(sizeof calibration_options / sizeof calibration_options[0]))

void prillm_calibration_default_settings(PrillmCalibrationSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(calibration_options, CALIBRATION_OPTION_COUNT, settings);
}

const char *prillm_calibration_method_name(int method) {
    static const char *names[] = {"prillm", "npm", "noq", "fd", "xgboost", "a2c"};
    return method >= 0 && method < 6 ? names[method] : "unknown";
}

PrillmErrorCode prillm_calibration_set_option(PrillmCalibrationSettings *settings, const char *name, const char *value,
                                              PrillmError *err) {
    return prillm_options_set(calibration_options, CALIBRATION_OPTION_COUNT, settings, name, value, err);
}

PrillmErrorCode prillm_calibration_check_settings(const PrillmCalibrationSettings *settings, PrillmError *err) {
    PrillmErrorCode rc = prillm_options_check(calibration_options, CALIBRATION_OPTION_COUNT, settings, err);
    if (rc) return rc;
    if (settings->window_start > settings->window_end)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings.window-start %d is after window-end %d",
                            settings->window_start, settings->window_end);
    return PRILLM_OK;
}
