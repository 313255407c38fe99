/*
 * The OpenRouter tables as daily series for the whole-market model
 * (include/prillm/market_model.h): every model's daily tokens, prompt share,
 * listed and effective prices, latency and throughput, and the app x model
 * snapshot. Internal.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market_model_internal.h"

void prillm__fit_say(PrillmWarnFn warn, void *ctx, const char *fmt, ...) {
    if (!warn) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    warn(ctx, text);
}

int prillm__fit_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double prillm__fit_median(double *x, int count) {
    if (count <= 0) return NAN;
    qsort(x, (size_t)count, sizeof *x, prillm__fit_compare_doubles);
    return count % 2 ? x[count / 2] : 0.5 * (x[count / 2 - 1] + x[count / 2]);
}

long prillm__day_number(int yyyymmdd) {
    /* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
     * days_from_civil), so that day arithmetic crosses month ends */
    int y = yyyymmdd / 10000, mo = yyyymmdd / 100 % 100, d = yyyymmdd % 100;
    y -= mo <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int prillm__day_date(long day) {
    day += 719468;
    long era = (day >= 0 ? day : day - 146096) / 146097;
    long doe = day - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long mo = mp + (mp < 10 ? 3 : -9);
    y += mo <= 2;
    return (int)(y * 10000 + mo * 100 + d);
}

void prillm__daily_free(PrillmDaily *dl) {
    if (!dl) return;
    prillm__names_free(&dl->models);
    prillm__names_free(&dl->apps);
    prillm__csv_free(&dl->model_table);
    prillm__csv_free(&dl->flow_table);
    prillm__csv_free(&dl->category_table);
    prillm__names_free(&dl->categories);
    free(dl->app_category);
    free(dl->tokens);
    free(dl->prompt);
    free(dl->completion);
    free(dl->listed_in);
    free(dl->listed_out);
    free(dl->effective_in);
    free(dl->effective_out);
    free(dl->latency);
    free(dl->throughput);
    free(dl->flow_app);
    free(dl->flow_model);
    free(dl->flow_tokens);
    memset(dl, 0, sizeof *dl);
}

static double *nan_array(size_t count) {
    double *x = malloc((count ? count : 1) * sizeof(double));
    if (x)
        for (size_t k = 0; k < count; k++) x[k] = NAN;
    return x;
}

PrillmErrorCode prillm__daily_read(const char *dir, int first_date, int last_date, int flow_date, PrillmDaily *dl,
                                   PrillmError *err) {
    memset(dl, 0, sizeof *dl);
    char path[4096];
    PrillmErrorCode rc;
    if (prillm__names_init(&dl->models) || prillm__names_init(&dl->apps)) {
        prillm__daily_free(dl);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    snprintf(path, sizeof path, "%s/models.csv", dir);
    if ((rc = prillm__csv_read(path, &dl->model_table, err))) goto fail;
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    if ((rc = prillm__csv_read(path, &dl->flow_table, err))) goto fail;
    const PrillmCsvTable *mt = &dl->model_table, *ft = &dl->flow_table;
    int c_date, c_model, c_pin, c_pout, c_ein, c_eout, c_lat, c_tps, c_tok, c_prompt, c_compl;
    if ((rc = prillm__csv_require(mt, "date", &c_date, err)) ||
        (rc = prillm__csv_require(mt, "model_id", &c_model, err)) ||
        (rc = prillm__csv_require(mt, "price_in_per_mtok", &c_pin, err)) ||
        (rc = prillm__csv_require(mt, "price_out_per_mtok", &c_pout, err)) ||
        (rc = prillm__csv_require(mt, "price_in_effective_per_mtok", &c_ein, err)) ||
        (rc = prillm__csv_require(mt, "price_out_effective_per_mtok", &c_eout, err)) ||
        (rc = prillm__csv_require(mt, "latency_s", &c_lat, err)) ||
        (rc = prillm__csv_require(mt, "throughput_tps", &c_tps, err)) ||
        (rc = prillm__csv_require(mt, "tokens", &c_tok, err)) ||
        (rc = prillm__csv_require(mt, "prompt_tokens", &c_prompt, err)) ||
        (rc = prillm__csv_require(mt, "completion_tokens", &c_compl, err)))
        goto fail;
    int f_date, f_app, f_model, f_tok;
    if ((rc = prillm__csv_require(ft, "date", &f_date, err)) || (rc = prillm__csv_require(ft, "app", &f_app, err)) ||
        (rc = prillm__csv_require(ft, "model_id", &f_model, err)) ||
        (rc = prillm__csv_require(ft, "tokens", &f_tok, err)))
        goto fail;
    dl->first_day = prillm__day_number(first_date);
    dl->n_days = (int)(prillm__day_number(last_date) - dl->first_day + 1);
    if (dl->n_days < 1) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the date range %d..%d is empty", first_date, last_date);
        goto fail;
    }
    /* every model id with a row in the range, then the series */
    for (long r = 0; r < mt->rows; r++) {
        int date = prillm__csv_date(prillm__csv_get(mt, r, c_date));
        if (date < 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: date '%s' is not yyyy-mm-dd", mt->path, r + 2,
                              prillm__csv_get(mt, r, c_date));
            goto fail;
        }
        if (date < first_date || date > last_date) continue;
        const char *id = prillm__csv_get(mt, r, c_model);
        if (!id[0]) continue;
        if (prillm__names_add(&dl->models, (char *)id) < 0) goto oom;
    }
    size_t cells = (size_t)dl->models.count * (size_t)dl->n_days;
    double **series[] = {&dl->tokens, &dl->prompt, &dl->completion, &dl->listed_in, &dl->listed_out,
                         &dl->effective_in, &dl->effective_out, &dl->latency, &dl->throughput};
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++)
        if (!(*series[s] = nan_array(cells))) goto oom;
    int cols[] = {c_tok, c_prompt, c_compl, c_pin, c_pout, c_ein, c_eout, c_lat, c_tps};
    for (long r = 0; r < mt->rows; r++) {
        int date = prillm__csv_date(prillm__csv_get(mt, r, c_date));
        if (date < first_date || date > last_date) continue;
        int j = prillm__names_find(&dl->models, prillm__csv_get(mt, r, c_model));
        if (j < 0) continue;
        long t = prillm__day_number(date) - dl->first_day;
        for (size_t s = 0; s < sizeof cols / sizeof cols[0]; s++) {
            double x;
            if ((rc = prillm__csv_number(mt, r, cols[s], &x, err))) goto fail;
            if (isfinite(x) && x < 0 && s >= 3 && s <= 6) {
                /* a negative price is a sentinel (openrouter/auto, a router
                 * with no price of its own): no price */
                x = NAN;
                dl->negative_prices++;
            } else if (isfinite(x) && x < 0) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: column %s must be >= 0, got %g", mt->path,
                                  r + 2, mt->name[cols[s]], x);
                goto fail;
            }
            (*series[s])[(size_t)j * (size_t)dl->n_days + (size_t)t] = x;
        }
    }
    /* the snapshot */
    dl->flow_app = malloc(((size_t)ft->rows + 1) * sizeof(int));
    dl->flow_model = malloc(((size_t)ft->rows + 1) * sizeof(int));
    dl->flow_tokens = malloc(((size_t)ft->rows + 1) * sizeof(double));
    if (!dl->flow_app || !dl->flow_model || !dl->flow_tokens) goto oom;
    for (long r = 0; r < ft->rows; r++) {
        if (prillm__csv_date(prillm__csv_get(ft, r, f_date)) != flow_date) continue;
        const char *app = prillm__csv_get(ft, r, f_app), *model = prillm__csv_get(ft, r, f_model);
        double x;
        if ((rc = prillm__csv_number(ft, r, f_tok, &x, err))) goto fail;
        if (!app[0] || !model[0] || !(x > 0)) {
            dl->flows_skipped++;
            continue;
        }
        int j = prillm__names_find(&dl->models, model);
        if (j < 0) {
            dl->flows_skipped++;
            continue;
        }
        int i = prillm__names_add(&dl->apps, (char *)app);
        if (i < 0) goto oom;
        dl->flow_app[dl->n_flows] = i;
        dl->flow_model[dl->n_flows] = j;
        dl->flow_tokens[dl->n_flows] = x;
        dl->n_flows++;
    }
    if (dl->n_flows == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: no app x model flow dated %d for a model in models.csv",
                          ft->path, flow_date);
        goto fail;
    }
    /* the apps' categories (optional): the first category an app lists in
     * the raw snapshot the flows were built from */
    if (!(dl->app_category = malloc(((size_t)dl->apps.count + 1) * sizeof(int)))) goto oom;
    for (int a = 0; a < dl->apps.count; a++) dl->app_category[a] = -1;
    if (prillm__names_init(&dl->categories)) goto oom;
    snprintf(path, sizeof path, "%s/raw/pluriholonomic_ai-routing/h5_apps_snapshot_2026-07-07.csv", dir);
    FILE *probe = fopen(path, "r");
    if (probe) {
        fclose(probe);
        if ((rc = prillm__csv_read(path, &dl->category_table, err))) goto fail;
        const PrillmCsvTable *ct = &dl->category_table;
        int c_title, c_cat;
        if ((rc = prillm__csv_require(ct, "app_title", &c_title, err)) ||
            (rc = prillm__csv_require(ct, "app_categories", &c_cat, err)))
            goto fail;
        for (long r = 0; r < ct->rows; r++) {
            int a = prillm__names_find(&dl->apps, prillm__csv_get(ct, r, c_title));
            char *cat = (char *)prillm__csv_get(ct, r, c_cat);
            if (a < 0 || dl->app_category[a] >= 0 || !cat[0]) continue;
            cat[strcspn(cat, "|")] = '\0'; /* the first of "cli-agent|ide-extension" */
            int k = prillm__names_add(&dl->categories, cat);
            if (k < 0) goto oom;
            dl->app_category[a] = k;
        }
    }
    return PRILLM_OK;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", dir);
fail:
    prillm__daily_free(dl);
    return rc;
}

double prillm__daily_at(const PrillmDaily *dl, const double *series, int model, long t) {
    if (t < 0 || t >= dl->n_days) return NAN;
    return series[(size_t)model * (size_t)dl->n_days + (size_t)t];
}

void prillm__entry_terms(double price, double floor, double latency, double throughput, double index,
                         double x[PRILLM_FIT_ENTRY_TERMS]) {
    x[0] = 1;
    x[1] = log(fmax(price, floor));
    x[2] = log(latency);
    x[3] = log(throughput);
    x[4] = isfinite(index) ? 1 : 0;
    x[5] = isfinite(index) ? index / 10 : 0;
}

void prillm__quality_free(PrillmQuality *q) {
    if (!q) return;
    prillm__csv_free(&q->table);
    prillm__names_free(&q->ids);
    prillm__names_free(&q->catalogue);
    free(q->value);
    memset(q, 0, sizeof *q);
}

PrillmErrorCode prillm__quality_read(const char *dir, int last_date, PrillmQuality *q, PrillmError *err) {
    memset(q, 0, sizeof *q);
    char path[4096];
    snprintf(path, sizeof path, "%s/raw/sui414_openrouter-pricing-data/models_daily.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return PRILLM_OK; /* optional */
    fclose(f);
    PrillmErrorCode rc = prillm__csv_read(path, &q->table, err);
    if (rc) return rc;
    const PrillmCsvTable *t = &q->table;
    int c_date, c_id, c_index;
    if ((rc = prillm__csv_require(t, "scrape_date", &c_date, err)) || (rc = prillm__csv_require(t, "id", &c_id, err)) ||
        (rc = prillm__csv_require(t, "aa_intelligence", &c_index, err)))
        goto fail;
    int c_slug = prillm__csv_column(t, "permaslug"), c_model = prillm__csv_column(t, "model_slug");
    int *date = NULL;
    if (prillm__names_init(&q->ids) || prillm__names_init(&q->catalogue) ||
        !(q->value = malloc(((size_t)t->rows + 1) * sizeof(double))) ||
        !(date = calloc((size_t)t->rows + 1, sizeof(int)))) {
        free(date);
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", path);
        goto fail;
    }
    for (long r = 0; r < t->rows; r++) {
        int d = prillm__csv_date(prillm__csv_get(t, r, c_date));
        double x;
        if ((rc = prillm__csv_number(t, r, c_index, &x, err))) {
            free(date);
            goto fail;
        }
        if (d < 0 || d > last_date) continue;
        if (!q->first_date || d < q->first_date) q->first_date = d;
        if (prillm__names_add(&q->catalogue, (char *)prillm__csv_get(t, r, c_id)) < 0 ||
            (c_slug >= 0 && prillm__names_add(&q->catalogue, (char *)prillm__csv_get(t, r, c_slug)) < 0) ||
            (c_model >= 0 && prillm__names_add(&q->catalogue, (char *)prillm__csv_get(t, r, c_model)) < 0)) {
            free(date);
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", path);
            goto fail;
        }
        if (!isfinite(x)) continue;
        int k = prillm__names_add(&q->ids, (char *)prillm__csv_get(t, r, c_id));
        if (k < 0) {
            free(date);
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", path);
            goto fail;
        }
        if (d >= date[k]) date[k] = d, q->value[k] = x;
    }
    free(date);
    q->present = 1;
    return PRILLM_OK;
fail:
    prillm__quality_free(q);
    return rc;
}

double prillm__quality_of(const PrillmQuality *q, const char *id) {
    if (!q->present) return NAN;
    int k = prillm__names_find(&q->ids, id);
    return k >= 0 ? q->value[k] : NAN;
}

int prillm__quality_in_catalogue(const PrillmQuality *q, const char *id) {
    if (!q->present) return 0;
    if (prillm__names_find(&q->catalogue, id) >= 0) return 1;
    /* a variant ("vendor/model:free") of a listed model */
    const char *colon = strchr(id, ':');
    if (!colon || colon == id || (size_t)(colon - id) >= 512) return 0;
    char base[512];
    memcpy(base, id, (size_t)(colon - id));
    base[colon - id] = '\0';
    return prillm__names_find(&q->catalogue, base) >= 0;
}
