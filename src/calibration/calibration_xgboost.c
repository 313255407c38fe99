/*
 * XGBoost baseline: predict each app x model flow from cell features with
 * gradient-boosted trees, no game. Target is the app's share f_ij / D_i
 * (demand is an input for every method alike), prediction = share x D_i.
 * Features: log(1 + price_j), delay_ij, log capacity_j, log(1 + volume_j),
 * log(1 + D_i), and the provider's and app's indices (the trees can learn
 * per-model and per-app effects from them, as a game's values do).
 * XGBoost's own logging is silenced; it runs on one thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration_internal.h"

#if PRILLM_HAVE_XGBOOST

#include <xgboost/c_api.h>

#define N_FEATURES 7

static void features(const PrillmObservations *obs, int t, int i, int j, float *x) {
    const PrillmObservedPeriod *p = &obs->periods[t];
    const PrillmMarket *mk = p->market;
    int m = obs->n_providers;
    x[0] = (float)log1p(fmax(mk->price[j], 0.0));
    x[1] = (float)mk->delay[(size_t)i * m + j];
    x[2] = (float)log(mk->capacity[j]);
    x[3] = isfinite(p->tokens[j]) ? (float)log1p(p->tokens[j]) : NAN;
    x[4] = (float)log1p(mk->demand[i]);
    x[5] = (float)j;
    x[6] = (float)i;
}

PrillmErrorCode prillm__cal_xgboost(const PrillmObservations *obs, const unsigned char *train_mask, int rounds,
                                    int depth, unsigned long long seed, double *predicted, PrillmError *err) {
    int T = obs->n_periods, n = obs->n_users, m = obs->n_providers;
    size_t nm = (size_t)n * m, total = nm * T;
    long rows = 0;
    for (size_t k = 0; k < total; k++) rows += train_mask[k] && obs->periods[k / nm].market->demand[(k % nm) / m] > 0;
    prillm__fill_nan(predicted, total);
    if (rows == 0) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "XGBoost: no training cell");
    float *xtrain = calloc((size_t)rows * N_FEATURES, sizeof(float)), *ytrain = calloc((size_t)rows, sizeof(float));
    float *xall = calloc(total * N_FEATURES, sizeof(float));
    if (!xtrain || !ytrain || !xall) {
        free(xtrain), free(ytrain), free(xall);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for XGBoost");
    }
    long r = 0;
    for (size_t k = 0; k < total; k++) {
        int t = (int)(k / nm), i = (int)((k % nm) / m), j = (int)(k % (size_t)m);
        double D = obs->periods[t].market->demand[i];
        features(obs, t, i, j, xall + k * N_FEATURES);
        if (!train_mask[k] || !(D > 0)) continue;
        memcpy(xtrain + (size_t)r * N_FEATURES, xall + k * N_FEATURES, N_FEATURES * sizeof(float));
        ytrain[r++] = (float)(obs->periods[t].observed[k % nm] / D);
    }
    DMatrixHandle dtrain = NULL, dall = NULL;
    BoosterHandle booster = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    char text[64];
    /* silence XGBoost before anything can log */
    int bad = XGBSetGlobalConfig("{\"verbosity\": 0}");
    bad = bad || XGDMatrixCreateFromMat(xtrain, (bst_ulong)rows, N_FEATURES, NAN, &dtrain);
    bad = bad || XGDMatrixSetFloatInfo(dtrain, "label", ytrain, (bst_ulong)rows);
    bad = bad || XGDMatrixCreateFromMat(xall, (bst_ulong)total, N_FEATURES, NAN, &dall);
    bad = bad || XGBoosterCreate(&dtrain, 1, &booster);
    bad = bad || XGBoosterSetParam(booster, "verbosity", "0");
    bad = bad || XGBoosterSetParam(booster, "nthread", "1");
    bad = bad || XGBoosterSetParam(booster, "objective", "reg:squarederror");
    bad = bad || XGBoosterSetParam(booster, "eta", "0.1");
    bad = bad || XGBoosterSetParam(booster, "subsample", "0.8");
    snprintf(text, sizeof text, "%d", depth);
    bad = bad || XGBoosterSetParam(booster, "max_depth", text);
    snprintf(text, sizeof text, "%llu", seed % 2147483647ULL);
    bad = bad || XGBoosterSetParam(booster, "seed", text);
    for (int it = 0; it < rounds && !bad; it++) bad = XGBoosterUpdateOneIter(booster, it, dtrain);
    bst_ulong length = 0;
    const float *out = NULL;
    bad = bad || XGBoosterPredict(booster, dall, 0, 0, 0, &length, &out);
    if (bad || length != total) {
        rc = prillm__fail(err, PRILLM_ERR_SOLVER, "XGBoost failed: %s", bad ? XGBGetLastError() : "prediction size");
    } else {
        for (size_t k = 0; k < total; k++) {
            double share = fmin(fmax((double)out[k], 0.0), 1.0);
            predicted[k] = share * obs->periods[k / nm].market->demand[(k % nm) / m];
        }
    }
    if (booster) XGBoosterFree(booster);
    if (dtrain) XGDMatrixFree(dtrain);
    if (dall) XGDMatrixFree(dall);
    free(xtrain), free(ytrain), free(xall);
    return rc;
}

#else /* !PRILLM_HAVE_XGBOOST */

PrillmErrorCode prillm__cal_xgboost(const PrillmObservations *obs, const unsigned char *train_mask, int rounds,
                                    int depth, unsigned long long seed, double *predicted, PrillmError *err) {
    (void)train_mask, (void)rounds, (void)depth, (void)seed;
    prillm__fill_nan(predicted, (size_t)obs->n_users * obs->n_providers * obs->n_periods);
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE,
                        "built without XGBoost: the xgboost calibration method needs it (the other methods do not)");
}

#endif
