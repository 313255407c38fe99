/* A prediction's JSON and CSV (prillm predict --json / --csv, and the
 * service's POST /markets/{id}/predict): one writer for both. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "market_model_internal.h"

static PrillmErrorCode check(const PrillmPrediction *pr, FILE *out, PrillmError *err) {
    if (!pr || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL prediction or stream");
    if (!pr->market || !pr->flows || !pr->provider_flow || !pr->entrant || !pr->carried || !pr->new_app ||
        !pr->app_carried)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the prediction has no market or flows (not from prillm_predict)");
    return PRILLM_OK;
}

static PrillmErrorCode written(FILE *out, PrillmError *err) {
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "cannot write the prediction: stream error");
    return PRILLM_OK;
}

PrillmErrorCode prillm_prediction_write_json(const PrillmPrediction *pr, FILE *out, PrillmError *err) {
    PrillmErrorCode rc = check(pr, out, err);
    if (rc) return rc;
    const PrillmMarket *mk = pr->market;
    int n = mk->n_users, m = mk->n_providers;
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"date\": \"%04d-%02d-%02d\",\n  \"market_scale\": ",
            prillm_status_name(pr->status), pr->date / 10000, pr->date / 100 % 100, pr->date % 100);
    prillm__json_number(out, pr->scale);
    fputs(",\n  \"kkt_violation\": ", out);
    prillm__json_number(out, pr->kkt_violation);
    fputs(",\n  \"models\": [", out);
    for (int j = 0; j < m; j++) {
        fputs(j ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[j]);
        fputs(", \"price\": ", out);
        prillm__json_number(out, mk->price[j]);
        fputs(", \"tokens\": ", out);
        prillm__json_number(out, pr->provider_flow[j] * 1e6);
        fprintf(out, ", \"entrant\": %s, \"price_carried\": %s}", pr->entrant[j] ? "true" : "false",
                pr->carried[j] ? "true" : "false");
    }
    fputs("\n  ],\n  \"apps\": [", out);
    for (int i = 0; i < n; i++) {
        fputs(i ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->user_id[i]);
        fputs(", \"demand\": ", out);
        prillm__json_number(out, mk->demand[i] * 1e6);
        fprintf(out, ", \"new\": %s, \"demand_carried\": %s, \"flows\": [", pr->new_app[i] ? "true" : "false",
                pr->app_carried[i] ? "true" : "false");
        for (int j = 0, first = 1; j < m; j++) {
            double f = pr->flows[(size_t)i * (size_t)m + (size_t)j];
            if (!(f > 0)) continue;
            fputs(first ? "{\"model_id\": " : ", {\"model_id\": ", out);
            prillm__json_string(out, mk->provider_id[j]);
            fputs(", \"tokens\": ", out);
            prillm__json_number(out, f * 1e6);
            fputs("}", out);
            first = 0;
        }
        fputs("]}", out);
    }
    fputs("\n  ]\n}\n", out);
    return written(out, err);
}

PrillmErrorCode prillm_prediction_write_csv(const PrillmPrediction *pr, FILE *out, PrillmError *err) {
    PrillmErrorCode rc = check(pr, out, err);
    if (rc) return rc;
    const PrillmMarket *mk = pr->market;
    int n = mk->n_users, m = mk->n_providers;
    fputs("app,model_id,tokens\n", out);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double f = pr->flows[(size_t)i * (size_t)m + (size_t)j];
            if (!(f > 0)) continue;
            prillm__csv_field(out, mk->user_id[i]);
            fputc(',', out);
            prillm__csv_field(out, mk->provider_id[j]);
            fprintf(out, ",%.0f\n", f * 1e6);
        }
    return written(out, err);
}
