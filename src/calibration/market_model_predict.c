/*
 * prillm_predict: a new period on a calibrated whole market
 * (include/prillm/market_model.h). Known models take the period's price;
 * entrants get a volume from observables (the fit's entry regression) and
 * the value at which the rest of the market would buy that volume; app
 * demands come from the period's data; the market's size scales demands
 * and curvature together (as in the forward validation). Nothing is
 * dropped silently: every entrant, carried model, new app and carried app
 * is reported through warn and flagged in the result.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_document.h"
#include "market_model_internal.h"
#include "prillm/equilibrium.h"


typedef struct {
    int price_listed;
    double floor;
    double entry[PRILLM_FIT_ENTRY_TERMS], entry_kappa;
    double *flow, *share, *kappa, *throughput; /* [m] of the calibrated market */
    int segments;                    /* rest-of-market users, one per price tier */
    int rest[PRILLM_FIT_MAX_SEGMENTS];  /* their user indices                    */
    double edge[PRILLM_FIT_MAX_SEGMENTS]; /* tier t: price < edge[t]              */
    int n_class;                     /* rest-of-market users of non-chat classes */
    int class_user[PRILLM_SERVICE_CLASSES]; /* their user indices                */
    int class_of_user[PRILLM_SERVICE_CLASSES]; /* the class each buys            */
    int classes;                     /* 1: the fit classed its models          */
    int *service;                    /* [m] each calibrated model's class      */
    double *class_floor;             /* [m] its class's price floor            */
} Meta;

static void meta_free(Meta *m) {
    free(m->flow);
    free(m->share);
    free(m->kappa);
    free(m->throughput);
    free(m->service);
    free(m->class_floor);
}

static PrillmErrorCode read_meta(const char *text, size_t length, const PrillmMarket *mk, Meta *meta,
                                 PrillmError *err) {
    int m = mk->n_providers;
    memset(meta, 0, sizeof *meta);
    cJSON *root = NULL;
    PrillmErrorCode rc = prillm__json_parse_text(text, length, "calibrated market", &root, err);
    if (rc) return rc;
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(root, "calibration");
    const cJSON *providers = cal ? cJSON_GetObjectItemCaseSensitive(cal, "providers") : NULL;
    const cJSON *entry = cal ? cJSON_GetObjectItemCaseSensitive(cal, "entry") : NULL;
    const cJSON *coef = entry ? cJSON_GetObjectItemCaseSensitive(entry, "coefficients") : NULL;
    const cJSON *price = cal ? cJSON_GetObjectItemCaseSensitive(cal, "price") : NULL;
    const cJSON *rest = cal ? cJSON_GetObjectItemCaseSensitive(cal, "rest_users") : NULL;
    const cJSON *edges = cal ? cJSON_GetObjectItemCaseSensitive(cal, "tier_edges") : NULL;
    if (!cJSON_IsObject(cal) || !cJSON_IsArray(providers) || !cJSON_IsArray(coef) ||
        cJSON_GetArraySize(coef) != PRILLM_FIT_ENTRY_TERMS ||
        !cJSON_IsString(price) || !cJSON_IsArray(rest) || !cJSON_IsArray(edges)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "calibrated market: no \"calibration\" object from prillm fit (calibration.providers, "
                          ".entry.coefficients[6], .price, .rest_users, .tier_edges); write it with prillm fit --out");
        goto done;
    }
    meta->segments = cJSON_GetArraySize(rest);
    if (meta->segments < 1 || meta->segments > PRILLM_FIT_MAX_SEGMENTS || cJSON_GetArraySize(edges) != meta->segments - 1) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "calibration.rest_users must list 1..%d users and tier_edges one fewer (got %d and %d)",
                          PRILLM_FIT_MAX_SEGMENTS, meta->segments, cJSON_GetArraySize(edges));
        goto done;
    }
    for (int t = 0; t < meta->segments; t++) {
        const cJSON *u = cJSON_GetArrayItem(rest, t);
        meta->rest[t] = cJSON_IsString(u) ? prillm_market_user_index(mk, u->valuestring) : -1;
        if (meta->rest[t] < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.rest_users[%d] is not a user of the market", t);
            goto done;
        }
        const cJSON *e = t + 1 < meta->segments ? cJSON_GetArrayItem(edges, t) : NULL;
        meta->edge[t] = e ? (cJSON_IsNumber(e) ? e->valuedouble : NAN) : INFINITY;
        if (!(meta->edge[t] >= 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.tier_edges[%d] must be a number >= 0", t);
            goto done;
        }
    }
    /* optional (fits before service classes have none) */
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(cal, "class_users");
    if (classes && (!cJSON_IsArray(classes) || cJSON_GetArraySize(classes) >= PRILLM_SERVICE_CLASSES)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.class_users must be an array of at most %d users",
                          PRILLM_SERVICE_CLASSES - 1);
        goto done;
    }
    meta->n_class = classes ? cJSON_GetArraySize(classes) : 0;
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(cal, "class_user_services");
    if (meta->n_class && (!cJSON_IsArray(services) || cJSON_GetArraySize(services) != meta->n_class)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "calibration.class_user_services must name the class of each of the %d class_users", meta->n_class);
        goto done;
    }
    for (int t = 0; t < meta->n_class; t++) {
        const cJSON *u = cJSON_GetArrayItem(classes, t), *c = cJSON_GetArrayItem(services, t);
        meta->class_user[t] = cJSON_IsString(u) ? prillm_market_user_index(mk, u->valuestring) : -1;
        if (meta->class_user[t] < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.class_users[%d] is not a user of the market", t);
            goto done;
        }
        for (int q = 0; q < meta->segments; q++)
            if (meta->rest[q] == meta->class_user[t]) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.class_users[%d] is also in rest_users", t);
                goto done;
            }
        meta->class_of_user[t] = -1;
        for (int q = PRILLM_SERVICE_CHAT + 1; q < PRILLM_SERVICE_CLASSES && cJSON_IsString(c); q++)
            if (strcmp(c->valuestring, prillm_service_class_name(q)) == 0) meta->class_of_user[t] = q;
        if (meta->class_of_user[t] < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                              "calibration.class_user_services[%d] must be \"input-only\" or \"media\"", t);
            goto done;
        }
    }
    const cJSON *classed = cJSON_GetObjectItemCaseSensitive(cal, "classes");
    meta->classes = classed ? cJSON_IsTrue(classed) : meta->n_class > 0;
    if (cJSON_GetArraySize(providers) != m) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.providers has %d entries but the market has %d providers",
                          cJSON_GetArraySize(providers), m);
        goto done;
    }
    meta->price_listed = strcmp(price->valuestring, "listed") == 0;
    if (!meta->price_listed && strcmp(price->valuestring, "effective") != 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.price must be \"effective\" or \"listed\", got \"%s\"",
                          price->valuestring);
        goto done;
    }
    if ((rc = prillm__json_get_number(cal, "price_floor", "calibration", 1, &meta->floor, err)) ||
        (rc = prillm__json_get_number(entry, "kappa", "calibration.entry", 1, &meta->entry_kappa, err)))
        goto done;
    if (!(meta->floor > 0) || !(meta->entry_kappa > 0)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.price_floor and calibration.entry.kappa must be > 0");
        goto done;
    }
    for (int q = 0; q < PRILLM_FIT_ENTRY_TERMS; q++) {
        const cJSON *c = cJSON_GetArrayItem(coef, q);
        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "calibration.entry.coefficients[%d] must be a finite number", q);
            goto done;
        }
        meta->entry[q] = c->valuedouble;
    }
    meta->flow = malloc((size_t)m * sizeof(double));
    meta->share = malloc((size_t)m * sizeof(double));
    meta->kappa = malloc((size_t)m * sizeof(double));
    meta->throughput = malloc((size_t)m * sizeof(double));
    meta->service = malloc(((size_t)m + 1) * sizeof(int));
    meta->class_floor = malloc(((size_t)m + 1) * sizeof(double));
    if (!meta->flow || !meta->share || !meta->kappa || !meta->throughput || !meta->service || !meta->class_floor) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    for (int j = 0; j < m; j++) {
        const cJSON *p = cJSON_GetArrayItem(providers, j);
        char where[64];
        snprintf(where, sizeof where, "calibration.providers[%d]", j);
        if ((rc = prillm__json_get_number(p, "flow", where, 1, &meta->flow[j], err)) ||
            (rc = prillm__json_get_number(p, "prompt_share", where, 1, &meta->share[j], err)) ||
            (rc = prillm__json_get_number(p, "kappa", where, 1, &meta->kappa[j], err)) ||
            (rc = prillm__json_get_number(p, "throughput", where, 1, &meta->throughput[j], err)))
            goto done;
        if (!(meta->flow[j] > 0) || !(meta->kappa[j] > 0) || !(meta->share[j] >= 0 && meta->share[j] <= 1)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: flow and kappa must be > 0, prompt_share in [0, 1]", where);
            goto done;
        }
        /* optional (fits before service classes): chat at the market's floor */
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(p, "service");
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(p, "price_floor");
        meta->service[j] = PRILLM_SERVICE_CHAT;
        for (int q = 0; q < PRILLM_SERVICE_CLASSES && cJSON_IsString(svc); q++)
            if (strcmp(svc->valuestring, prillm_service_class_name(q)) == 0) meta->service[j] = q;
        if (svc && (!cJSON_IsString(svc) || strcmp(svc->valuestring, prillm_service_class_name(meta->service[j])) != 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.service must be \"chat\", \"input-only\" or \"media\"", where);
            goto done;
        }
        meta->class_floor[j] = cJSON_IsNumber(fl) ? fl->valuedouble : meta->floor;
        if (!(meta->class_floor[j] > 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.price_floor must be > 0", where);
            goto done;
        }
    }
done:
    cJSON_Delete(root);
    if (rc) meta_free(meta);
    return rc;
}

/* The period's data, whatever the layout. */
typedef struct {
    int n_models;
    char **model;                    /* borrowed from the tables */
    double *price, *latency, *throughput, *tokens; /* tokens Mtok/day, NaN = none */
    double *prompt_share;            /* input tokens / all tokens, NaN = unknown  */
    int tokens_known;                /* the layout gives every row's tokens      */
    int n_apps;
    char **app;
    double *demand;                  /* Mtok/day */
    PrillmCsvTable t1, t2;
} Period;

static void period_free(Period *p) {
    free(p->model);
    free(p->price);
    free(p->latency);
    free(p->throughput);
    free(p->tokens);
    free(p->prompt_share);
    free(p->app);
    free(p->demand);
    prillm__csv_free(&p->t1);
    prillm__csv_free(&p->t2);
}

static int file_exists(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

static PrillmErrorCode alloc_models(Period *p, long rows) {
    size_t n = (size_t)rows + 1;
    p->model = malloc(n * sizeof(char *));
    p->price = malloc(n * sizeof(double));
    p->latency = malloc(n * sizeof(double));
    p->throughput = malloc(n * sizeof(double));
    p->tokens = malloc(n * sizeof(double));
    p->prompt_share = malloc(n * sizeof(double));
    if (!p->model || !p->price || !p->latency || !p->throughput || !p->tokens || !p->prompt_share) return PRILLM_ERR_NO_MEMORY;
    for (size_t k = 0; k < n; k++) p->prompt_share[k] = NAN;
    return PRILLM_OK;
}

static PrillmErrorCode alloc_apps(Period *p, long rows) {
    size_t n = (size_t)rows + 1;
    p->app = malloc(n * sizeof(char *));
    p->demand = malloc(n * sizeof(double));
    return p->app && p->demand ? PRILLM_OK : PRILLM_ERR_NO_MEMORY;
}

/* OpenRouter: models.csv rows of the date (the blended price at each model's
 * calibrated prompt share, or 0.9 input for an entrant), apps.csv rows of
 * the date (total_tokens, else flow_sum_lower_bound; per day by its window). */
/* The last date of the table whose price column has a value. */
static int latest_date(const PrillmCsvTable *t, int c_date, int c_price) {
    int best = 0;
    for (long r = 0; r < t->rows; r++) {
        int d = prillm__csv_date(prillm__csv_get(t, r, c_date));
        if (d > best && prillm__csv_get(t, r, c_price)[0]) best = d;
    }
    return best;
}

static PrillmErrorCode read_openrouter(const char *dir, int *date_io, const PrillmMarket *mk, const Meta *meta,
                                       PrillmWarnFn warn, void *ctx, Period *p, PrillmError *err) {
    char path[4096];
    PrillmErrorCode rc;
    snprintf(path, sizeof path, "%s/models.csv", dir);
    if ((rc = prillm__csv_read(path, &p->t1, err))) return rc;
    const PrillmCsvTable *t = &p->t1;
    const char *in_col = meta->price_listed ? "price_in_per_mtok" : "price_in_effective_per_mtok";
    const char *out_col = meta->price_listed ? "price_out_per_mtok" : "price_out_effective_per_mtok";
    int c_date, c_model, c_in, c_out, c_lat, c_tps, c_tok;
    if ((rc = prillm__csv_require(t, "date", &c_date, err)) || (rc = prillm__csv_require(t, "model_id", &c_model, err)) ||
        (rc = prillm__csv_require(t, in_col, &c_in, err)) || (rc = prillm__csv_require(t, out_col, &c_out, err)))
        return rc;
    if (*date_io == 0) *date_io = latest_date(t, c_date, c_in);
    int date = *date_io;
    c_lat = prillm__csv_column(t, "latency_s");
    c_tps = prillm__csv_column(t, "throughput_tps");
    c_tok = prillm__csv_column(t, "tokens");
    int c_prompt = prillm__csv_column(t, "prompt_tokens"), c_compl = prillm__csv_column(t, "completion_tokens");
    if (alloc_models(p, t->rows)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    long negative = 0, *row_of = malloc(((size_t)t->rows + 1) * sizeof *row_of); /* a model's row, for messages */
    if (!row_of) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    for (long r = 0; r < t->rows; r++) {
        if (prillm__csv_date(prillm__csv_get(t, r, c_date)) != date) continue;
        const char *id = prillm__csv_get(t, r, c_model);
        double in, out, lat = NAN, tps = NAN, tok = NAN, prompt = NAN, compl = NAN;
        if ((rc = prillm__csv_number(t, r, c_in, &in, err)) || (rc = prillm__csv_number(t, r, c_out, &out, err)) ||
            (c_lat >= 0 && (rc = prillm__csv_number(t, r, c_lat, &lat, err))) ||
            (c_tps >= 0 && (rc = prillm__csv_number(t, r, c_tps, &tps, err))) ||
            (c_tok >= 0 && (rc = prillm__csv_number(t, r, c_tok, &tok, err))) ||
            (c_prompt >= 0 && (rc = prillm__csv_number(t, r, c_prompt, &prompt, err))) ||
            (c_compl >= 0 && (rc = prillm__csv_number(t, r, c_compl, &compl, err)))) {
            free(row_of);
            return rc;
        }
        /* named here, by row and column: the market built from them would
         * name only a provider index */
        const double *cells[] = {&in, &out, &lat, &tps, &tok, &prompt, &compl};
        const int columns[] = {c_in, c_out, c_lat, c_tps, c_tok, c_prompt, c_compl};
        for (int q = 0; q < 7; q++)
            if (columns[q] >= 0 && fabs(*cells[q]) > PRILLM_MAX_MAGNITUDE) {
                free(row_of);
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld column %s: %g is out of range (|x| <= 1e100)",
                                    t->path, r + 2, t->name[columns[q]], *cells[q]);
            }
        negative += (isfinite(in) && in < 0) || (isfinite(out) && out < 0);
        if (!id[0] || !isfinite(in) || !isfinite(out) || in < 0 || out < 0) continue; /* no usable price */
        for (int q = 0; q < p->n_models; q++)
            if (strcmp(p->model[q], id) == 0) {
                long first = row_of[q];
                free(row_of);
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s rows %ld and %ld: model \"%.200s\" is listed twice on %d",
                                    t->path, first + 2, r + 2, id, date);
            }
        row_of[p->n_models] = r;
        int j = prillm_market_provider_index(mk, id);
        /* an entrant's own token split where the day has one */
        double own = prompt >= 0 && compl >= 0 && prompt + compl > 0 ? prompt / (prompt + compl) : NAN;
        double share = j >= 0 ? meta->share[j] : isfinite(own) ? own : 0.9;
        int k = p->n_models++;
        p->prompt_share[k] = own;
        p->model[k] = (char *)id;
        p->price[k] = share * in + (1 - share) * out;
        p->latency[k] = lat > 0 ? lat : NAN;
        p->throughput[k] = tps > 0 ? tps : NAN;
        p->tokens[k] = tok >= 0 ? tok / 1e6 : NAN;
    }
    free(row_of);
    p->tokens_known = c_tok >= 0;
    if (negative)
        prillm__fit_say(warn, ctx, "%ld negative prices in %s dated %d (sentinels, e.g. openrouter/auto) read as no price",
                        negative, t->path, date);
    if (p->n_models == 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: no model with %s price dated %d", t->path,
                            meta->price_listed ? "a listed" : "an effective", date);
    snprintf(path, sizeof path, "%s/apps.csv", dir);
    if (!file_exists(dir, "apps.csv")) {
        prillm__fit_say(warn, ctx, "%s absent: app demands carried from the calibrated market, scaled by the market's size", path);
        return PRILLM_OK;
    }
    if ((rc = prillm__csv_read(path, &p->t2, err))) return rc;
    const PrillmCsvTable *a = &p->t2;
    int a_date, a_app, a_total, a_lower, a_window;
    if ((rc = prillm__csv_require(a, "date", &a_date, err)) || (rc = prillm__csv_require(a, "app", &a_app, err)) ||
        (rc = prillm__csv_require(a, "total_tokens", &a_total, err)))
        return rc;
    a_lower = prillm__csv_column(a, "flow_sum_lower_bound");
    a_window = prillm__csv_column(a, "window");
    if (alloc_apps(p, a->rows)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    int lower_used = 0, monthly = 0;
    for (long r = 0; r < a->rows; r++) {
        if (prillm__csv_date(prillm__csv_get(a, r, a_date)) != date) continue;
        double total, lower = NAN;
        if ((rc = prillm__csv_number(a, r, a_total, &total, err)) ||
            (a_lower >= 0 && (rc = prillm__csv_number(a, r, a_lower, &lower, err))))
            return rc;
        double x = total;
        if (!(x > 0)) x = lower, lower_used++;
        if (!(x > 0) || !prillm__csv_get(a, r, a_app)[0]) continue;
        /* the tables' windows: a trailing day, or ~30 days */
        const char *window = a_window >= 0 ? prillm__csv_get(a, r, a_window) : "";
        if (strstr(window, "30d")) x /= 30.0, monthly++;
        int k = p->n_apps++;
        p->app[k] = (char *)prillm__csv_get(a, r, a_app);
        p->demand[k] = x / 1e6;
    }
    if (p->n_apps == 0) prillm__fit_say(warn, ctx, "%s has no app dated %d: app demands carried from the calibrated market, scaled by the market's size", a->path, date);
    if (lower_used) prillm__fit_say(warn, ctx, "%d apps without total_tokens: flow_sum_lower_bound used as demand (a lower bound)", lower_used);
    if (monthly) prillm__fit_say(warn, ctx, "%d app demands over a ~30-day window divided by 30 (per day)", monthly);
    return PRILLM_OK;
}

/* Generic: providers.csv (period,provider,price[,latency][,throughput]
 * [,tokens]) and demands.csv (period,app,demand), the period's rows. */
static PrillmErrorCode read_generic(const char *dir, int *date_io, PrillmWarnFn warn, void *ctx, Period *p,
                                    PrillmError *err) {
    char path[4096];
    PrillmErrorCode rc;
    snprintf(path, sizeof path, "%s/providers.csv", dir);
    if ((rc = prillm__csv_read(path, &p->t1, err))) return rc;
    const PrillmCsvTable *t = &p->t1;
    int c_period, c_id, c_price;
    if ((rc = prillm__csv_require(t, "period", &c_period, err)) || (rc = prillm__csv_require(t, "provider", &c_id, err)) ||
        (rc = prillm__csv_require(t, "price", &c_price, err)))
        return rc;
    if (*date_io == 0) *date_io = latest_date(t, c_period, c_price);
    int date = *date_io;
    int c_lat = prillm__csv_column(t, "latency"), c_tps = prillm__csv_column(t, "throughput"),
        c_tok = prillm__csv_column(t, "tokens");
    if (alloc_models(p, t->rows)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    for (long r = 0; r < t->rows; r++) {
        if (prillm__csv_date(prillm__csv_get(t, r, c_period)) != date) continue;
        double price, lat = NAN, tps = NAN, tok = NAN;
        if ((rc = prillm__csv_number(t, r, c_price, &price, err)) ||
            (c_lat >= 0 && (rc = prillm__csv_number(t, r, c_lat, &lat, err))) ||
            (c_tps >= 0 && (rc = prillm__csv_number(t, r, c_tps, &tps, err))) ||
            (c_tok >= 0 && (rc = prillm__csv_number(t, r, c_tok, &tok, err))))
            return rc;
        if (!(price >= 0))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: price must be >= 0", t->path, r + 2);
        int k = p->n_models++;
        p->model[k] = (char *)prillm__csv_get(t, r, c_id);
        p->price[k] = price;
        p->latency[k] = lat > 0 ? lat : NAN;
        p->throughput[k] = tps > 0 ? tps : NAN;
        p->tokens[k] = tok >= 0 ? tok / 1e6 : NAN;
    }
    if (p->n_models == 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: no provider row for period %d (write it yyyy-mm-dd)",
                            t->path, date);
    if (!file_exists(dir, "demands.csv")) {
        prillm__fit_say(warn, ctx, "%s/demands.csv absent: app demands carried from the calibrated market", dir);
        return PRILLM_OK;
    }
    snprintf(path, sizeof path, "%s/demands.csv", dir);
    if ((rc = prillm__csv_read(path, &p->t2, err))) return rc;
    const PrillmCsvTable *a = &p->t2;
    int a_period, a_app, a_demand;
    if ((rc = prillm__csv_require(a, "period", &a_period, err)) || (rc = prillm__csv_require(a, "app", &a_app, err)) ||
        (rc = prillm__csv_require(a, "demand", &a_demand, err)))
        return rc;
    if (alloc_apps(p, a->rows)) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    for (long r = 0; r < a->rows; r++) {
        if (prillm__csv_date(prillm__csv_get(a, r, a_period)) != date) continue;
        double d;
        if ((rc = prillm__csv_number(a, r, a_demand, &d, err))) return rc;
        if (!(d >= 0))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: demand must be >= 0", a->path, r + 2);
        int k = p->n_apps++;
        p->app[k] = (char *)prillm__csv_get(a, r, a_app);
        p->demand[k] = d / 1e6;
    }
    return PRILLM_OK;
}

void prillm_prediction_free(PrillmPrediction *pr) {
    if (!pr) return;
    prillm_market_free(pr->market);
    free(pr->flows);
    free(pr->provider_flow);
    free(pr->entrant);
    free(pr->carried);
    free(pr->new_app);
    free(pr->app_carried);
    free(pr);
}

/* The median of the positive finite entries of x (NaN if none). */
static double median_positive(const double *x, int count) {
    double *y = malloc(((size_t)count + 1) * sizeof *y);
    if (!y) return NAN;
    int n = 0;
    for (int k = 0; k < count; k++)
        if (x[k] > 0 && isfinite(x[k])) y[n++] = x[k];
    double med = prillm__fit_median(y, n);
    free(y);
    return med;
}

PrillmErrorCode prillm_predict(const char *text, size_t length, const char *dir, int date, PrillmWarnFn warn, void *ctx,
                               PrillmPrediction **out, PrillmError *err) {
    if (!text || !dir || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "text, dir or out is NULL");
    *out = NULL;
    if (date != 0 && (date < 19000101 || date > 29991231 || prillm__day_date(prillm__day_number(date)) != date))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "date %d is not a yyyymmdd date (0: the data's last)", date);
    PrillmMarket *cal = NULL;
    PrillmErrorCode rc = prillm_market_parse_json(text, length, NULL, NULL, &cal, err);
    if (rc) return rc;
    Meta meta;
    Period per;
    memset(&per, 0, sizeof per);
    PrillmPrediction *pr = NULL;
    int *model_of = NULL, *app_of = NULL, *entrant_class = NULL;
    if ((rc = read_meta(text, length, cal, &meta, err))) {
        prillm_market_free(cal);
        return rc;
    }
    PrillmQuality quality;
    memset(&quality, 0, sizeof quality);
    unsigned char *is_rest = calloc((size_t)cal->n_users, 1);
    if (!is_rest) {
        meta_free(&meta);
        prillm_market_free(cal);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    for (int t = 0; t < meta.segments; t++) is_rest[meta.rest[t]] = 1;
    for (int t = 0; t < meta.n_class; t++) is_rest[meta.class_user[t]] = 1;
    /* the largest segment stands for a new app's tastes */
    int rest = meta.rest[0];
    for (int t = 1; t < meta.segments; t++)
        if (cal->demand[meta.rest[t]] > cal->demand[rest]) rest = meta.rest[t];
    if (file_exists(dir, "models.csv")) rc = read_openrouter(dir, &date, cal, &meta, warn, ctx, &per, err);
    else if (file_exists(dir, "providers.csv")) rc = read_generic(dir, &date, warn, ctx, &per, err);
    else rc = prillm__fail(err, PRILLM_ERR_IO, "%s has neither models.csv (OpenRouter layout) nor providers.csv (generic)", dir);
    if (rc) goto done;
    /* the entrants' quality index, where the OpenRouter raw tables have one */
    if (file_exists(dir, "models.csv") && (rc = prillm__quality_read(dir, date, &quality, err))) goto done;
    /* providers: every calibrated model (carried when the period lacks it),
     * then the period's entrants */
    int m0 = cal->n_providers, n0 = cal->n_users;
    model_of = malloc(((size_t)m0 + (size_t)per.n_models + 1) * sizeof *model_of);
    app_of = malloc(((size_t)n0 + (size_t)per.n_apps + 1) * sizeof *app_of);
    if (!model_of || !app_of) goto oom;
    int m = m0;
    for (int j = 0; j < m0; j++) model_of[j] = -1;
    int carried_models = 0, entrants = 0;
    for (int k = 0; k < per.n_models; k++) {
        int j = prillm_market_provider_index(cal, per.model[k]);
        if (j >= 0) model_of[j] = k;
        /* an entrant has traffic that day where the layout says (OpenRouter
         * lists every model it knows, used or not); a generic row is one */
        else if (per.tokens_known ? per.tokens[k] > 0 : 1) model_of[m++] = k, entrants++;
    }
    for (int j = 0; j < m0; j++) carried_models += model_of[j] < 0;
    /* apps: every calibrated user, then new apps in the period's demands */
    int n = n0;
    for (int i = 0; i < n0; i++) app_of[i] = -1;
    int new_apps = 0;
    for (int k = 0; k < per.n_apps; k++) {
        int i = prillm_market_user_index(cal, per.app[k]);
        if (i >= 0 && is_rest[i]) continue;
        if (i >= 0) app_of[i] = k;
        else app_of[n++] = k, new_apps++;
    }
    if (!(pr = calloc(1, sizeof *pr))) goto oom;
    pr->date = date;
    if (!(pr->market = prillm_market_alloc(n, m, err))) {
        rc = err->code;
        goto done;
    }
    PrillmMarket *mk = pr->market;
    size_t M = (size_t)m, M0 = (size_t)m0;
    pr->flows = malloc((size_t)n * M * sizeof(double));
    pr->provider_flow = malloc(M * sizeof(double));
    pr->entrant = calloc(M, 1);
    pr->carried = calloc(M, 1);
    pr->new_app = calloc((size_t)n, 1);
    pr->app_carried = calloc((size_t)n, 1);
    if (!pr->flows || !pr->provider_flow || !pr->entrant || !pr->carried || !pr->new_app || !pr->app_carried) goto oom;
    mk->w_price = cal->w_price;
    mk->w_congestion = cal->w_congestion;
    mk->w_delay = cal->w_delay;
    /* the market's size: the period's tokens over the calibrated models that
     * have a row, against their fit-window flow */
    double now = 0, then = 0;
    for (int j = 0; j < m0; j++) {
        int k = model_of[j];
        if (k >= 0 && isfinite(per.tokens[k])) now += per.tokens[k], then += meta.flow[j];
    }
    double scale = then > 0 && now > 0 ? now / then : 1.0;
    if (!(then > 0 && now > 0))
        prillm__fit_say(warn, ctx, "the period has no model tokens: the market's size is kept as calibrated");
    pr->scale = scale;
    double lat_median = median_positive(cal->latency, m0), tps_median = median_positive(meta.throughput, m0);
    /* each entrant's service class, as prillm fit classes its models: chat
     * in OpenRouter's chat catalogue (when the fit classed its models and
     * the catalogue covers the date), else input-only with no output tokens
     * that day, else media. A non-chat entrant is valued as its class's
     * calibrated models are (their median volume and curvature, the class's
     * floor), not by the chat models' entry regression. */
    int catalogue = meta.classes && quality.present && quality.first_date && quality.first_date <= date;
    if (!(entrant_class = calloc((size_t)m + 1, sizeof *entrant_class))) goto oom;
    int nonchat_entrants = 0, unserved_entrants = 0;
    for (int j = m0; j < m; j++) {
        int k = model_of[j];
        if (!catalogue || prillm__quality_in_catalogue(&quality, per.model[k])) continue;
        entrant_class[j] = per.prompt_share[k] >= 1.0 ? PRILLM_SERVICE_INPUT_ONLY : PRILLM_SERVICE_MEDIA;
        nonchat_entrants++;
    }
    for (int j = 0; j < m; j++) {
        int k = model_of[j];
        if (j < m0) {
            if (!(mk->provider_id[j] = prillm__strdup(cal->provider_id[j]))) goto oom;
            mk->price[j] = k >= 0 ? per.price[k] : cal->price[j];
            mk->value[j] = cal->value[j];
            mk->capacity[j] = cal->capacity[j] * scale;
            mk->cost[j] = cal->cost[j];
            mk->latency[j] = cal->latency[j];
            pr->carried[j] = k < 0;
            continue;
        }
        /* an entrant: the volume its observables predict, at the typical
         * curvature, valued as the rest of the market would value it */
        double p = per.price[k], lat = isfinite(per.latency[k]) ? per.latency[k] : lat_median;
        double tps = isfinite(per.throughput[k]) ? per.throughput[k] : tps_median;
        double x[PRILLM_FIT_ENTRY_TERMS], logF = 0;
        prillm__entry_terms(p, meta.floor, lat, tps, prillm__quality_of(&quality, per.model[k]), x);
        for (int q = 0; q < PRILLM_FIT_ENTRY_TERMS; q++) logF += meta.entry[q] * x[q];
        double F = exp(logF) * scale, kappa = meta.entry_kappa, floor = meta.floor;
        if (entrant_class[j] != PRILLM_SERVICE_CHAT) {
            double *f = malloc(((size_t)m0 + 1) * sizeof *f), *kp = malloc(((size_t)m0 + 1) * sizeof *kp);
            if (!f || !kp) {
                free(f);
                free(kp);
                goto oom;
            }
            int same = 0;
            for (int q = 0; q < m0; q++)
                if (meta.service[q] == entrant_class[j]) f[same] = meta.flow[q], kp[same] = meta.kappa[q], floor = meta.class_floor[q], same++;
            if (same) F = prillm__fit_median(f, same) * scale, kappa = prillm__fit_median(kp, same);
            free(f);
            free(kp);
        }
        double beta = kappa * F / fmax(p, floor);
        if (!(mk->provider_id[j] = prillm__strdup(per.model[k]))) goto oom;
        mk->price[j] = p;
        mk->capacity[j] = beta;
        mk->value[j] = p + 2.0 * F / beta; /* the rest of the market alone buys F at multiplier 0 */
        mk->latency[j] = lat;
        pr->entrant[j] = 1;
    }
    double app_then = 0, app_now = 0;
    for (int i = 0; i < n0; i++)
        if (!is_rest[i] && app_of[i] >= 0) app_then += cal->demand[i], app_now += per.demand[app_of[i]];
    double app_total = 0;
    for (int i = 0; i < n; i++) {
        int k = app_of[i];
        const char *id = i < n0 ? cal->user_id[i] : per.app[k];
        if (!(mk->user_id[i] = prillm__strdup(id))) goto oom;
        if (i < n0 && is_rest[i]) continue;
        if (k >= 0) mk->demand[i] = per.demand[k];
        else mk->demand[i] = cal->demand[i] * scale, pr->app_carried[i] = 1;
        pr->new_app[i] = i >= n0;
        app_total += mk->demand[i];
    }
    /* the rest of the market: what the period's volume leaves after the apps */
    double total = 0;
    for (int j = 0; j < m; j++) {
        int k = model_of[j];
        if (k >= 0 && isfinite(per.tokens[k])) total += per.tokens[k];
    }
    double rest_then = 0;
    for (int i = 0; i < n0; i++)
        if (is_rest[i]) rest_then += cal->demand[i];
    if (total > 0 && total > app_total && rest_then > 0) {
        /* split as the segments (and the non-chat classes' users) were */
        for (int i = 0; i < n0; i++)
            if (is_rest[i]) mk->demand[i] = (total - app_total) * cal->demand[i] / rest_then;
    } else {
        for (int i = 0; i < n0; i++)
            if (is_rest[i]) mk->demand[i] = cal->demand[i] * scale;
        if (total > 0)
            prillm__fit_say(warn, ctx, "the apps' demands (%.4g Mtok/day) exceed the period's model tokens (%.4g): the rest of the "
                           "market kept as calibrated, scaled",
                app_total, total);
    }
    /* an entrant's buyers: a non-chat entrant only its class's user (none if
     * the calibrated market has no user of its class: it then sells
     * nothing); a chat entrant everyone but the non-chat users. Out of reach
     * as prillm fit puts cells across classes (PRILLM_FIT_CLASS_WALL). */
    double top_value = 0;
    for (int j = 0; j < m; j++) top_value = fmax(top_value, mk->value[j]);
    int *user_class = calloc((size_t)n + 1, sizeof *user_class); /* PRILLM_SERVICE_CHAT = 0 */
    if (!user_class) goto oom;
    for (int t = 0; t < meta.n_class; t++) user_class[meta.class_user[t]] = meta.class_of_user[t];
    for (int j = m0; j < m; j++) {
        int served = entrant_class[j] == PRILLM_SERVICE_CHAT;
        for (int t = 0; t < meta.n_class; t++) served |= meta.class_of_user[t] == entrant_class[j];
        unserved_entrants += !served;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            size_t c = (size_t)i * M + (size_t)j;
            mk->delay[c] = mk->latency[j];
            if (i < n0 && j < m0) mk->affinity[c] = cal->affinity[(size_t)i * M0 + (size_t)j];
            else if (j >= m0 && entrant_class[j] != user_class[i]) mk->affinity[c] = -(mk->value[j] + PRILLM_FIT_CLASS_WALL * top_value);
            else if (j >= m0 && user_class[i] != PRILLM_SERVICE_CHAT) mk->affinity[c] = 0;
            else if (i < n0 && is_rest[i] && meta.segments > 1) {
                /* the entrant's price tier's segment buys it; the others
                 * sit below their margin like apps */
                int t = 0;
                while (t < meta.segments - 1 && mk->price[j] >= meta.edge[t]) t++;
                mk->affinity[c] = i == meta.rest[t] ? 0 : -0.05 * (mk->value[j] - mk->price[j]);
            } else if (i < n0 && !is_rest[i]) {
                /* an app's taste for an entrant: below the level where it
                 * starts to use it by 5% of its predicted volume */
                mk->affinity[c] = -0.05 * (mk->value[j] - mk->price[j]);
            } else if (i >= n0 && j < m0) {
                mk->affinity[c] = cal->affinity[(size_t)rest * M0 + (size_t)j]; /* a new app: the market's tastes */
            } else mk->affinity[c] = 0;
        }
    (void)app_then;
    (void)app_now;
    free(user_class);
    if (entrants) prillm__fit_say(warn, ctx, "%d models not in the calibrated market enter with a volume predicted from price, latency and throughput", entrants);
    if (nonchat_entrants)
        prillm__fit_say(warn, ctx, "%d of them are not in OpenRouter's chat catalogue: valued like the calibrated models of their class "
                                   "(input-only or media), and only that class's users buy them", nonchat_entrants);
    if (unserved_entrants)
        prillm__fit_say(warn, ctx, "%d non-chat entrants have no users of their class in the calibrated market (fitted without it): they sell nothing",
                        unserved_entrants);
    if (carried_models) prillm__fit_say(warn, ctx, "%d calibrated models have no price in the period: their last price is kept", carried_models);
    if (new_apps) prillm__fit_say(warn, ctx, "%d apps not in the calibrated market are added with the rest of the market's tastes", new_apps);
    int carried_apps = 0;
    for (int i = 0; i < n; i++) carried_apps += pr->app_carried[i];
    if (carried_apps && per.n_apps)
        prillm__fit_say(warn, ctx, "%d calibrated apps have no demand in the period: their demand is scaled by the market's size", carried_apps);
    for (int j = 0; j < m; j++)
        if (!isfinite(mk->latency[j])) mk->latency[j] = lat_median;
    for (size_t c = 0; c < (size_t)n * M; c++)
        if (!isfinite(mk->delay[c])) mk->delay[c] = lat_median;
    if ((rc = prillm_market_validate(mk, err))) goto done;
    PrillmEquilibriumSolver *solver = NULL;
    if ((rc = prillm_equilibrium_setup(&solver, mk, NULL, err))) goto done;
    if ((rc = prillm_equilibrium_solve(solver, err))) {
        prillm_equilibrium_cleanup(solver);
        goto done;
    }
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    memcpy(pr->flows, eq->flows, (size_t)n * M * sizeof(double));
    memcpy(pr->provider_flow, eq->provider_flow, M * sizeof(double));
    pr->status = eq->info.status;
    pr->kkt_violation = eq->info.kkt_violation;
    prillm_equilibrium_cleanup(solver);
    goto done;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory predicting the period");
done:
    free(model_of);
    free(app_of);
    free(entrant_class);
    free(is_rest);
    prillm__quality_free(&quality);
    period_free(&per);
    meta_free(&meta);
    prillm_market_free(cal);
    if (rc) prillm_prediction_free(pr);
    else *out = pr;
    return rc;
}
