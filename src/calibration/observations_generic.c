/*
 * The generic layout (docs/calibration.md): one directory with
 *   providers.csv  period,provider,price,latency[,throughput][,tokens][,capacity]
 *   flows.csv      period,app,provider,tokens
 *   delays.csv     period,app,provider,delay        (optional: per-app delays)
 *   demands.csv    period,app,demand                (optional: app totals)
 * Token counts are raw tokens (converted to millions); prices USD per
 * million tokens; latency and delay seconds. A (period, app, provider)
 * without a flows.csv row is censored: bounded above by the smallest flow
 * the provider lists in that period.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "observations_internal.h"

typedef struct {
    PrillmCsvTable prov, flows, delays, demands;
    int have_delays, have_demands;
    PrillmNameIndex periods, providers, apps;
} Tables;

static int file_exists(const char *dir, const char *name, char *path, size_t size) {
    struct stat st;
    snprintf(path, size, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* Column indices of the named columns, all required. */
static PrillmErrorCode columns(const PrillmCsvTable *t, const char *const *names, int count, int *out,
                               PrillmError *err) {
    for (int q = 0; q < count; q++) {
        PrillmErrorCode rc = prillm__csv_require(t, names[q], &out[q], err);
        if (rc) return rc;
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm__observations_read_generic(const char *dir, const PrillmCalibrationSettings *st,
                                                  PrillmWarnFn warn, void *ctx, PrillmObservations **out,
                                                  PrillmError *err) {
    char path[4096];
    Tables tb;
    memset(&tb, 0, sizeof tb);
    PrillmObservations *obs = NULL;
    double *score = NULL, *app_score = NULL, *bound = NULL;
    int *chosen_prov = NULL, *chosen_apps = NULL, *prov_col = NULL, *app_row = NULL;
    unsigned char *seen = NULL;
    PrillmErrorCode rc;
    file_exists(dir, "providers.csv", path, sizeof path);
    if ((rc = prillm__csv_read(path, &tb.prov, err))) return rc;
    file_exists(dir, "flows.csv", path, sizeof path);
    if ((rc = prillm__csv_read(path, &tb.flows, err))) goto done;
    if (file_exists(dir, "delays.csv", path, sizeof path)) {
        if ((rc = prillm__csv_read(path, &tb.delays, err))) goto done;
        tb.have_delays = 1;
    }
    if (file_exists(dir, "demands.csv", path, sizeof path)) {
        if ((rc = prillm__csv_read(path, &tb.demands, err))) goto done;
        tb.have_demands = 1;
    }
    if (prillm__names_init(&tb.periods) || prillm__names_init(&tb.providers) || prillm__names_init(&tb.apps)) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    static const char *const prov_names[] = {"period", "provider", "price", "latency"};
    static const char *const flow_names[] = {"period", "app", "provider", "tokens"};
    static const char *const delay_names[] = {"period", "app", "provider", "delay"};
    static const char *const demand_names[] = {"period", "app", "demand"};
    int pc[4], fc[4], dc[4], qc[3];
    if ((rc = columns(&tb.prov, prov_names, 4, pc, err)) || (rc = columns(&tb.flows, flow_names, 4, fc, err)) ||
        (tb.have_delays && (rc = columns(&tb.delays, delay_names, 4, dc, err))) ||
        (tb.have_demands && (rc = columns(&tb.demands, demand_names, 3, qc, err))))
        goto done;
    int c_tps = prillm__csv_column(&tb.prov, "throughput"), c_tok = prillm__csv_column(&tb.prov, "tokens"),
        c_cap = prillm__csv_column(&tb.prov, "capacity");
    for (long r = 0; r < tb.prov.rows; r++)
        if (prillm__names_add(&tb.periods, (char *)prillm__csv_get(&tb.prov, r, pc[0])) < 0 ||
            prillm__names_add(&tb.providers, (char *)prillm__csv_get(&tb.prov, r, pc[1])) < 0) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
    int T = tb.periods.count, P = tb.providers.count;
    if (T == 0 || P == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has no rows", tb.prov.path);
        goto done;
    }
    score = prillm__calloc((size_t)P, sizeof(double));
    chosen_prov = prillm__calloc((size_t)P, sizeof(int));
    prov_col = prillm__calloc((size_t)P, sizeof(int));
    if (!score || !chosen_prov || !prov_col) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    /* providers ranked by listed flow (the volume the market sees) */
    for (long r = 0; r < tb.flows.rows; r++) {
        const char *name = prillm__csv_get(&tb.flows, r, fc[2]);
        int j = prillm__names_find(&tb.providers, name);
        if (j < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: provider \"%s\" is not in providers.csv",
                              tb.flows.path, r + 2, name);
            goto done;
        }
        if (prillm__names_find(&tb.periods, prillm__csv_get(&tb.flows, r, fc[0])) < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: period \"%s\" is not in providers.csv",
                              tb.flows.path, r + 2, prillm__csv_get(&tb.flows, r, fc[0]));
            goto done;
        }
        double tok;
        if ((rc = prillm__csv_number(&tb.flows, r, fc[3], &tok, err))) goto done;
        if (!(tok >= 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: tokens must be a number >= 0", tb.flows.path,
                              r + 2);
            goto done;
        }
        score[j] += tok;
    }
    int m = prillm__top_k(score, P, st->models, chosen_prov);
    if (m == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s lists no positive flow", tb.flows.path);
        goto done;
    }
    for (int k = 0; k < P; k++) prov_col[k] = -1;
    for (int j = 0; j < m; j++) prov_col[chosen_prov[j]] = j;
    for (long r = 0; r < tb.flows.rows; r++)
        if (prov_col[prillm__names_find(&tb.providers, prillm__csv_get(&tb.flows, r, fc[2]))] >= 0 &&
            prillm__names_add(&tb.apps, (char *)prillm__csv_get(&tb.flows, r, fc[1])) < 0) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
    int A = tb.apps.count;
    app_score = prillm__calloc((size_t)A + 1, sizeof(double));
    chosen_apps = prillm__calloc((size_t)A + 1, sizeof(int));
    app_row = prillm__calloc((size_t)A + 1, sizeof(int));
    if (!app_score || !chosen_apps || !app_row) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (long r = 0; r < tb.flows.rows; r++) {
        int a = prillm__names_find(&tb.apps, prillm__csv_get(&tb.flows, r, fc[1]));
        double tok;
        if (a >= 0 && prov_col[prillm__names_find(&tb.providers, prillm__csv_get(&tb.flows, r, fc[2]))] >= 0 &&
            !prillm__csv_number(&tb.flows, r, fc[3], &tok, NULL))
            app_score[a] += tok;
    }
    int n = prillm__top_k(app_score, A, st->apps, chosen_apps);
    if (n == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "no app sends a positive flow to the chosen providers");
        goto done;
    }
    for (int a = 0; a < A; a++) app_row[a] = -1;
    for (int i = 0; i < n; i++) app_row[chosen_apps[i]] = i;
    if (!(obs = prillm_observations_alloc(T, n, m, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    snprintf(obs->layout, sizeof obs->layout, "generic");
    seen = prillm__calloc((size_t)T * m, 1);
    bound = prillm__calloc((size_t)T * m, sizeof(double));
    if (!seen || !bound) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < (size_t)T * m; k++) bound[k] = INFINITY;
    for (int t = 0; t < T; t++) {
        PrillmObservedPeriod *p = &obs->periods[t];
        PrillmMarket *mk = p->market;
        mk->w_price = mk->w_congestion = mk->w_delay = 1.0;
        if (!(p->label = prillm__strdup(tb.periods.key[t]))) goto oom;
        for (int j = 0; j < m; j++)
            if (!(mk->provider_id[j] = prillm__strdup(tb.providers.key[chosen_prov[j]]))) goto oom;
        for (int i = 0; i < n; i++) {
            if (!(mk->user_id[i] = prillm__strdup(tb.apps.key[chosen_apps[i]]))) goto oom;
            mk->demand[i] = tb.have_demands ? NAN : 0.0;
        }
    }
    int any_capacity = 0;
    for (long r = 0; r < tb.prov.rows; r++) {
        int t = prillm__names_find(&tb.periods, prillm__csv_get(&tb.prov, r, pc[0]));
        int j = prov_col[prillm__names_find(&tb.providers, prillm__csv_get(&tb.prov, r, pc[1]))];
        if (j < 0) continue;
        PrillmObservedPeriod *p = &obs->periods[t];
        if (seen[(size_t)t * m + j]) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: provider \"%s\" listed twice in period \"%s\"",
                              tb.prov.path, r + 2, p->market->provider_id[j], p->label);
            goto done;
        }
        seen[(size_t)t * m + j] = 1;
        double x;
        if ((rc = prillm__csv_number(&tb.prov, r, pc[2], &p->market->price[j], err)) ||
            (rc = prillm__csv_number(&tb.prov, r, pc[3], &p->market->latency[j], err)) ||
            (c_tps >= 0 && (rc = prillm__csv_number(&tb.prov, r, c_tps, &p->throughput[j], err))) ||
            (c_tok >= 0 && (rc = prillm__csv_number(&tb.prov, r, c_tok, &x, err))))
            goto done;
        if (c_tok >= 0) p->tokens[j] = x / 1e6;
        if (c_cap >= 0) {
            if ((rc = prillm__csv_number(&tb.prov, r, c_cap, &x, err))) goto done;
            if (!isnan(x)) {
                p->market->capacity[j] = x;
                any_capacity = 1;
            }
        }
        if (isnan(p->market->price[j]) || !(p->market->latency[j] >= 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: provider \"%s\" needs a price and a latency >= 0",
                              tb.prov.path, r + 2, p->market->provider_id[j]);
            goto done;
        }
    }
    for (int t = 0; t < T; t++)
        for (int j = 0; j < m; j++)
            if (!seen[(size_t)t * m + j]) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: provider \"%s\" has no row for period \"%s\"",
                                  tb.prov.path, obs->periods[t].market->provider_id[j], obs->periods[t].label);
                goto done;
            }
    for (long r = 0; r < tb.flows.rows; r++) {
        int t = prillm__names_find(&tb.periods, prillm__csv_get(&tb.flows, r, fc[0]));
        int j = prov_col[prillm__names_find(&tb.providers, prillm__csv_get(&tb.flows, r, fc[2]))];
        double tok;
        if (j < 0 || (rc = prillm__csv_number(&tb.flows, r, fc[3], &tok, err))) {
            if (rc) goto done;
            continue;
        }
        tok /= 1e6;
        if (tok < bound[(size_t)t * m + j]) bound[(size_t)t * m + j] = tok;
        int a = prillm__names_find(&tb.apps, prillm__csv_get(&tb.flows, r, fc[1]));
        if (app_row[a] < 0) continue;
        PrillmObservedPeriod *p = &obs->periods[t];
        size_t cell = (size_t)app_row[a] * m + j;
        if (!isnan(p->observed[cell])) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: app \"%s\" x provider \"%s\" listed twice in period \"%s\"",
                              tb.flows.path, r + 2, p->market->user_id[app_row[a]], p->market->provider_id[j], p->label);
            goto done;
        }
        p->observed[cell] = tok;
        if (!tb.have_demands) p->market->demand[app_row[a]] += tok;
    }
    for (int t = 0; t < T; t++) {
        PrillmObservedPeriod *p = &obs->periods[t];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) p->market->delay[(size_t)i * m + j] = p->market->latency[j];
        prillm__observations_set_bounds(p, n, m, bound + (size_t)t * m);
    }
    if (tb.have_delays)
        for (long r = 0; r < tb.delays.rows; r++) {
            int t = prillm__names_find(&tb.periods, prillm__csv_get(&tb.delays, r, dc[0]));
            int pj = prillm__names_find(&tb.providers, prillm__csv_get(&tb.delays, r, dc[2]));
            int a = prillm__names_find(&tb.apps, prillm__csv_get(&tb.delays, r, dc[1]));
            if (t < 0 || pj < 0 || prov_col[pj] < 0 || a < 0 || app_row[a] < 0) continue;
            double x;
            if ((rc = prillm__csv_number(&tb.delays, r, dc[3], &x, err))) goto done;
            if (!(x >= 0)) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: delay must be >= 0", tb.delays.path, r + 2);
                goto done;
            }
            obs->periods[t].market->delay[(size_t)app_row[a] * m + prov_col[pj]] = x;
        }
    if (tb.have_demands) {
        for (long r = 0; r < tb.demands.rows; r++) {
            int t = prillm__names_find(&tb.periods, prillm__csv_get(&tb.demands, r, qc[0]));
            int a = prillm__names_find(&tb.apps, prillm__csv_get(&tb.demands, r, qc[1]));
            if (t < 0 || a < 0 || app_row[a] < 0) continue;
            double x;
            if ((rc = prillm__csv_number(&tb.demands, r, qc[2], &x, err))) goto done;
            if (!(x >= 0)) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: demand must be >= 0", tb.demands.path, r + 2);
                goto done;
            }
            obs->periods[t].market->demand[app_row[a]] = x / 1e6;
        }
        for (int t = 0; t < T; t++)
            for (int i = 0; i < n; i++)
                if (isnan(obs->periods[t].market->demand[i])) {
                    rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: app \"%s\" has no demand in period \"%s\"",
                                      tb.demands.path, obs->periods[t].market->user_id[i], obs->periods[t].label);
                    goto done;
                }
    }
    if (!any_capacity)
        for (int t = 0; t < T && !rc; t++) rc = prillm__observations_capacity(&obs->periods[t], m, st->capacity, err);
    if (rc) goto done;
    if (warn) {
        char text[256];
        snprintf(text, sizeof text, "%d period(s), %d providers x %d apps; demand from %s; capacity from %s", T, m, n,
                 tb.have_demands ? "demands.csv" : "the sum of listed flows",
                 any_capacity ? "the capacity column" : "the capacity option");
        warn(ctx, text);
    }
    goto done;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
done:
    if (rc) {
        prillm_observations_free(obs);
        obs = NULL;
    }
    *out = obs;
    free(score);
    free(app_score);
    free(bound);
    free(chosen_prov);
    free(chosen_apps);
    free(prov_col);
    free(app_row);
    free(seen);
    prillm__names_free(&tb.periods);
    prillm__names_free(&tb.providers);
    prillm__names_free(&tb.apps);
    prillm__csv_free(&tb.prov);
    prillm__csv_free(&tb.flows);
    prillm__csv_free(&tb.delays);
    prillm__csv_free(&tb.demands);
    return rc;
}
