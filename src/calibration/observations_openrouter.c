/*
 * The OpenRouter layout (../shared/data/openrouter, docs/calibration.md):
 * models.csv (daily per-model tokens, prices, latency, throughput) and
 * flows.csv (app x model tokens over a trailing ~30-day window to one
 * snapshot date). Builds ONE period: the top models x top apps market at
 * the snapshot. Every assumption the data forces is a setting, and each is
 * reported through warn.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observations_internal.h"

typedef struct {
    double window_tokens, window_prompt, window_completion;
    int window_days;
    double price_in, price_out, latency, throughput;
    double smallest_flow; /* over all listed apps at the snapshot */
    int listed;
} ModelStats;

static void say(PrillmWarnFn warn, void *ctx, const char *fmt, ...) PRILLM__PRINTF(3, 4);
static void say(PrillmWarnFn warn, void *ctx, const char *fmt, ...) {
    if (!warn) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    warn(ctx, text);
}

static void date_text(int yyyymmdd, char *out, size_t size) {
    snprintf(out, size, "%04d-%02d-%02d", yyyymmdd / 10000, yyyymmdd / 100 % 100, yyyymmdd % 100);
}

PrillmErrorCode prillm__observations_read_openrouter(const char *dir, const PrillmCalibrationSettings *st,
                                                     PrillmWarnFn warn, void *ctx, PrillmObservations **out,
                                                     PrillmError *err) {
    char path[4096];
    PrillmCsvTable models, flows;
    PrillmNameIndex model_names, app_names;
    memset(&flows, 0, sizeof flows);
    ModelStats *stats = NULL;
    double *app_score = NULL;
    int *chosen_models = NULL, *chosen_apps = NULL, *app_row = NULL, *model_col = NULL;
    PrillmObservations *obs = NULL;
    int have_names = 0, have_apps = 0;
    snprintf(path, sizeof path, "%s/models.csv", dir);
    PrillmErrorCode rc = prillm__csv_read(path, &models, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    if ((rc = prillm__csv_read(path, &flows, err))) goto done;
    int c_date, c_model, c_pin, c_pout, c_lat, c_tps, c_tok, c_prompt, c_compl;
    if ((rc = prillm__csv_require(&models, "date", &c_date, err)) ||
        (rc = prillm__csv_require(&models, "model_id", &c_model, err)) ||
        (rc = prillm__csv_require(&models, "price_in_per_mtok", &c_pin, err)) ||
        (rc = prillm__csv_require(&models, "price_out_per_mtok", &c_pout, err)) ||
        (rc = prillm__csv_require(&models, "latency_s", &c_lat, err)) ||
        (rc = prillm__csv_require(&models, "throughput_tps", &c_tps, err)) ||
        (rc = prillm__csv_require(&models, "tokens", &c_tok, err)) ||
        (rc = prillm__csv_require(&models, "prompt_tokens", &c_prompt, err)) ||
        (rc = prillm__csv_require(&models, "completion_tokens", &c_compl, err)))
        goto done;
    int f_date, f_app, f_model, f_tok;
    if ((rc = prillm__csv_require(&flows, "date", &f_date, err)) ||
        (rc = prillm__csv_require(&flows, "app", &f_app, err)) ||
        (rc = prillm__csv_require(&flows, "model_id", &f_model, err)) ||
        (rc = prillm__csv_require(&flows, "tokens", &f_tok, err)))
        goto done;
    if (prillm__names_init(&model_names) || (have_names = 1, prillm__names_init(&app_names))) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    have_apps = 1;
    /* every model id first, so stats can be one array */
    for (long r = 0; r < models.rows; r++) {
        char *id = (char *)prillm__csv_get(&models, r, c_model);
        if (*id && prillm__names_add(&model_names, id) < 0) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
    }
    int M = model_names.count;
    if (M == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s lists no model", models.path);
        goto done;
    }
    stats = prillm__calloc((size_t)M, sizeof *stats);
    if (!stats) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (int k = 0; k < M; k++) {
        stats[k].price_in = stats[k].price_out = stats[k].latency = stats[k].throughput = NAN;
        stats[k].smallest_flow = INFINITY;
    }
    for (long r = 0; r < models.rows; r++) {
        const char *id = prillm__csv_get(&models, r, c_model);
        if (!*id) continue;
        int date = prillm__csv_date(prillm__csv_get(&models, r, c_date));
        if (date < 0) {
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s row %ld: date \"%s\" is not YYYY-MM-DD", models.path, r + 2,
                              prillm__csv_get(&models, r, c_date));
            goto done;
        }
        ModelStats *s = &stats[prillm__names_find(&model_names, id)];
        double x[6];
        int cols[6] = {c_tok, c_prompt, c_compl, c_pin, c_pout, c_lat};
        for (int q = 0; q < 6; q++)
            if ((rc = prillm__csv_number(&models, r, cols[q], &x[q], err))) goto done;
        double tps;
        if ((rc = prillm__csv_number(&models, r, c_tps, &tps, err))) goto done;
        if (date >= st->window_start && date <= st->window_end && x[0] >= 0) {
            s->window_tokens += x[0];
            s->window_prompt += isnan(x[1]) ? 0 : x[1];
            s->window_completion += isnan(x[2]) ? 0 : x[2];
            s->window_days++;
        }
        if (date == st->price_date) {
            s->price_in = x[3];
            s->price_out = x[4];
            s->latency = x[5];
            s->throughput = tps;
        }
    }
    long snapshot_rows = 0, no_model = 0;
    for (long r = 0; r < flows.rows; r++) {
        if (prillm__csv_date(prillm__csv_get(&flows, r, f_date)) != st->flow_date) continue;
        const char *id = prillm__csv_get(&flows, r, f_model);
        int k = *id ? prillm__names_find(&model_names, id) : -1;
        if (k < 0) {
            no_model++;
            continue;
        }
        double tok;
        if ((rc = prillm__csv_number(&flows, r, f_tok, &tok, err))) goto done;
        if (!(tok >= 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: tokens must be >= 0", flows.path, r + 2);
            goto done;
        }
        stats[k].listed++;
        if (tok < stats[k].smallest_flow) stats[k].smallest_flow = tok;
        snapshot_rows++;
    }
    char flow_day[16], price_day[16], w0[16], w1[16];
    date_text(st->flow_date, flow_day, sizeof flow_day);
    date_text(st->price_date, price_day, sizeof price_day);
    date_text(st->window_start, w0, sizeof w0);
    date_text(st->window_end, w1, sizeof w1);
    if (snapshot_rows == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has no flow dated %s (option flow-date)", flows.path, flow_day);
        goto done;
    }
    /* eligible: listed at the snapshot, volume in the window, a price, a
     * latency and what the capacity definition needs on the price date */
    double *score = prillm__calloc((size_t)M, sizeof(double));
    chosen_models = prillm__calloc((size_t)M, sizeof(int));
    if (!score || !chosen_models) {
        free(score);
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    int dropped = 0, max_days = 0;
    for (int k = 0; k < M; k++) {
        const ModelStats *s = &stats[k];
        if (s->window_days > max_days) max_days = s->window_days;
        int ok = s->listed > 0 && s->window_tokens > 0 && isfinite(s->latency) && s->latency >= 0 &&
                 (st->price == PRILLM_PRICE_OUTPUT ? isfinite(s->price_out) : isfinite(s->price_in)) &&
                 (st->price != PRILLM_PRICE_BLEND || isfinite(s->price_out)) &&
                 (st->capacity == PRILLM_CAPACITY_TOKENS || s->throughput > 0);
        score[k] = ok ? s->window_tokens : NAN;
        if (!ok && s->listed > 0 && s->window_tokens > 0) dropped++;
    }
    int m = prillm__top_k(score, M, st->models, chosen_models);
    free(score);
    if (m == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "no model has flows on %s, tokens in %s..%s and price/latency/throughput on %s", flow_day, w0,
                          w1, price_day);
        goto done;
    }
    say(warn, ctx, "prices, latency and throughput of %s used for the flows of %s (options price-date, flow-date)",
        price_day, flow_day);
    say(warn, ctx, "model volume = daily tokens %s..%s (%d days found) x %g (option window-scale) to match the ~30-day flow window",
        w0, w1, max_days, st->window_scale);
    if (dropped)
        say(warn, ctx, "%d listed models skipped: no price, latency or throughput on %s", dropped, price_day);
    if (no_model) say(warn, ctx, "%ld flow rows on %s have no model id in models.csv: skipped", no_model, flow_day);
    /* apps: by listed flow on the chosen models */
    model_col = prillm__calloc((size_t)M, sizeof(int));
    if (!model_col) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (int k = 0; k < M; k++) model_col[k] = -1;
    for (int j = 0; j < m; j++) model_col[chosen_models[j]] = j;
    for (long r = 0; r < flows.rows; r++) {
        if (prillm__csv_date(prillm__csv_get(&flows, r, f_date)) != st->flow_date) continue;
        const char *id = prillm__csv_get(&flows, r, f_model);
        int k = *id ? prillm__names_find(&model_names, id) : -1;
        char *app = (char *)prillm__csv_get(&flows, r, f_app);
        if (k < 0 || model_col[k] < 0 || !*app) continue;
        if (prillm__names_add(&app_names, app) < 0) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
    }
    int A = app_names.count;
    app_score = prillm__calloc((size_t)A + 1, sizeof(double));
    chosen_apps = prillm__calloc((size_t)A + 1, sizeof(int));
    app_row = prillm__calloc((size_t)A + 1, sizeof(int));
    if (!app_score || !chosen_apps || !app_row) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (long r = 0; r < flows.rows; r++) {
        if (prillm__csv_date(prillm__csv_get(&flows, r, f_date)) != st->flow_date) continue;
        const char *id = prillm__csv_get(&flows, r, f_model);
        int k = *id ? prillm__names_find(&model_names, id) : -1;
        if (k < 0 || model_col[k] < 0) continue;
        int a = prillm__names_find(&app_names, prillm__csv_get(&flows, r, f_app));
        double tok;
        if (a < 0 || prillm__csv_number(&flows, r, f_tok, &tok, err)) continue;
        app_score[a] += tok;
    }
    int n = prillm__top_k(app_score, A, st->apps, chosen_apps);
    if (n == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "no app sent tokens to the chosen models on %s", flow_day);
        goto done;
    }
    for (int a = 0; a < A; a++) app_row[a] = -1;
    for (int i = 0; i < n; i++) app_row[chosen_apps[i]] = i;
    if (!(obs = prillm_observations_alloc(1, n, m, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    snprintf(obs->layout, sizeof obs->layout, "openrouter");
    PrillmObservedPeriod *p = &obs->periods[0];
    PrillmMarket *mk = p->market;
    if (!(p->label = prillm__strdup(flow_day))) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    double *bound = prillm__calloc((size_t)m, sizeof(double));
    if (!bound) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (int j = 0; j < m; j++) {
        const ModelStats *s = &stats[chosen_models[j]];
        if (!(mk->provider_id[j] = prillm__strdup(model_names.key[chosen_models[j]]))) {
            free(bound);
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        double share_in = s->window_prompt + s->window_completion > 0
                              ? s->window_prompt / (s->window_prompt + s->window_completion)
                              : 1.0;
        mk->price[j] = st->price == PRILLM_PRICE_INPUT    ? s->price_in
                       : st->price == PRILLM_PRICE_OUTPUT ? s->price_out
                                                          : share_in * s->price_in + (1 - share_in) * s->price_out;
        mk->latency[j] = s->latency;
        p->throughput[j] = s->throughput;
        p->tokens[j] = s->window_tokens * st->window_scale / 1e6;
        bound[j] = s->smallest_flow / 1e6;
    }
    for (int i = 0; i < n; i++) {
        if (!(mk->user_id[i] = prillm__strdup(app_names.key[chosen_apps[i]]))) {
            free(bound);
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        mk->demand[i] = 0;
        for (int j = 0; j < m; j++) mk->delay[(size_t)i * m + j] = mk->latency[j];
    }
    long duplicates = 0;
    for (long r = 0; r < flows.rows; r++) {
        if (prillm__csv_date(prillm__csv_get(&flows, r, f_date)) != st->flow_date) continue;
        const char *id = prillm__csv_get(&flows, r, f_model);
        int k = *id ? prillm__names_find(&model_names, id) : -1;
        if (k < 0 || model_col[k] < 0) continue;
        int a = prillm__names_find(&app_names, prillm__csv_get(&flows, r, f_app));
        if (a < 0 || app_row[a] < 0) continue;
        double tok;
        if ((rc = prillm__csv_number(&flows, r, f_tok, &tok, err))) {
            free(bound);
            goto done;
        }
        size_t cell = (size_t)app_row[a] * m + model_col[k];
        if (isnan(p->observed[cell])) p->observed[cell] = 0;
        else duplicates++;
        p->observed[cell] += tok / 1e6;
        mk->demand[app_row[a]] += tok / 1e6;
    }
    if (duplicates) say(warn, ctx, "%ld duplicate app x model rows summed", duplicates);
    prillm__observations_set_bounds(p, n, m, bound);
    free(bound);
    if ((rc = prillm__observations_capacity(p, m, st->capacity, err))) goto done;
    mk->w_price = mk->w_congestion = mk->w_delay = 1.0;
    say(warn, ctx,
        "%d models x %d apps; demand = sum of the app's listed flows on these models; delay = model latency "
        "(the same for every app)", m, n);
done:
    if (rc) {
        prillm_observations_free(obs);
        obs = NULL;
    }
    *out = obs;
    free(stats);
    free(app_score);
    free(chosen_models);
    free(chosen_apps);
    free(app_row);
    free(model_col);
    if (have_names) prillm__names_free(&model_names);
    if (have_apps) prillm__names_free(&app_names);
    prillm__csv_free(&models);
    prillm__csv_free(&flows);
    return rc;
}
