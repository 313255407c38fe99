/* Measured accuracy/token curves (evaluation results, one row per model and
 * compute level, CSV or JSON) turned into a TTC market (docs/ttc.md
 * "Measured curves"). Every check names the row and the field. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_table.h"
#include "internal.h"
#include "json_document.h"
#include "prillm/ttc.h"

void prillm_ttc_curve_default_settings(PrillmTtcCurveSettings *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->benchmark = s->method = NULL;
    s->allow_missing_levels = 0;
    s->value_scale = NAN;
    s->value_baseline = 0.1;
    s->value_shape = PRILLM_TTC_VALUE_LINEAR;
    s->value_curvature = NAN;
    s->margin = 0.25;
    s->beta = NAN;
    s->outside_value = 0;
}

typedef struct {
    const char *model, *benchmark, *method; /* borrowed from the table or the JSON tree */
    double level, accuracy, tokens, price, questions;
    char where[96];                         /* "name row 7" or "name: results[5]" */
} Row;

typedef struct {
    Row *rows;
    long count;
} Rows;

static const char *const fields[] = {"model",     "level",  "accuracy",  "tokens",
                                     "price_per_million", "benchmark", "method", "questions", NULL};

/* ---- CSV ----------------------------------------------------------------- */

static PrillmErrorCode rows_from_csv(const char *text, size_t length, const char *name, const PrillmJsonWarner *w,
                                     PrillmCsvTable *t, Rows *out, PrillmError *err) {
    PrillmErrorCode rc = prillm__csv_parse(name, text, length, t, err);
    if (rc) return rc;
    int col[8];
    for (int f = 0; f < 8; f++) {
        col[f] = prillm__csv_column(t, fields[f]);
        if (f < 5 && col[f] < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has no column \"%s\" (the curves need model, level, "
                                "accuracy, tokens and price_per_million)", t->path, fields[f]);
    }
    for (int c = 0; c < t->columns && w->warn; c++) {
        int known = 0;
        for (int f = 0; f < 8; f++) known |= col[f] == c;
        if (!known) {
            char message[400];
            snprintf(message, sizeof message, "%.200s: column \"%.100s\" is not a curve field; ignored", t->path,
                     t->name[c]);
            w->warn(w->context, message);
        }
    }
    if (t->rows < 1) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has a header but no rows", t->path);
    out->rows = prillm__calloc((size_t)t->rows, sizeof *out->rows);
    if (!out->rows) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", t->path);
    out->count = t->rows;
    for (long r = 0; r < t->rows; r++) {
        Row *row = &out->rows[r];
        /* the header is line 1 of the file: data row r is line r + 2 (blank lines aside) */
        snprintf(row->where, sizeof row->where, "%.60s row %ld", t->path, r + 2);
        row->model = prillm__csv_get(t, r, col[0]);
        row->benchmark = col[5] >= 0 ? prillm__csv_get(t, r, col[5]) : "";
        row->method = col[6] >= 0 ? prillm__csv_get(t, r, col[6]) : "";
        double *numbers[] = {&row->level, &row->accuracy, &row->tokens, &row->price, &row->questions};
        int at[] = {col[1], col[2], col[3], col[4], col[7]};
        for (int f = 0; f < 5; f++) {
            *numbers[f] = NAN;
            if (at[f] >= 0 && (rc = prillm__csv_number(t, r, at[f], numbers[f], err))) return rc;
        }
    }
    return PRILLM_OK;
}

/* ---- JSON ---------------------------------------------------------------- */

static PrillmErrorCode rows_from_json(const cJSON *root, const char *name, const PrillmJsonWarner *w, Rows *out,
                                      PrillmError *err) {
    static const char *const top_known[] = {"description", "results", NULL};
    const cJSON *array = root;
    PrillmErrorCode rc;
    if (cJSON_IsObject(root)) {
        if (cJSON_GetObjectItemCaseSensitive(root, "models") && !cJSON_GetObjectItemCaseSensitive(root, "results"))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "%s: \"results\" is missing; with \"models\" it looks like a TTC market file, which "
                                "is read as such (FILE.json), not as curves", name);
        if ((rc = prillm__json_check_keys(root, name, top_known, NULL, w, err))) return rc;
        array = cJSON_GetObjectItemCaseSensitive(root, "results");
        if (!array) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: \"results\" is missing", name);
    }
    if (!cJSON_IsArray(array))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: results must be an array of objects", name);
    int n = cJSON_GetArraySize(array);
    if (n < 1) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: results is empty", name);
    out->rows = prillm__calloc((size_t)n, sizeof *out->rows);
    if (!out->rows) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", name);
    out->count = n;
    int r = 0;
    for (const cJSON *item = array->child; item; item = item->next, r++) {
        Row *row = &out->rows[r];
        snprintf(row->where, sizeof row->where, "%.60s: results[%d]", name, r);
        if (!cJSON_IsObject(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", row->where);
        if ((rc = prillm__json_check_keys(item, row->where, fields, NULL, w, err))) return rc;
        const char **texts[] = {&row->model, &row->benchmark, &row->method};
        const char *text_keys[] = {"model", "benchmark", "method"};
        for (int f = 0; f < 3; f++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, text_keys[f]);
            *texts[f] = "";
            if (!v || cJSON_IsNull(v)) continue;
            if (!cJSON_IsString(v) || !v->valuestring)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a string", row->where, text_keys[f]);
            *texts[f] = v->valuestring;
        }
        double *numbers[] = {&row->level, &row->accuracy, &row->tokens, &row->price, &row->questions};
        const char *number_keys[] = {"level", "accuracy", "tokens", "price_per_million", "questions"};
        for (int f = 0; f < 5; f++) {
            *numbers[f] = NAN;
            if ((rc = prillm__json_get_number(item, number_keys[f], row->where, 0, numbers[f], err))) return rc;
        }
    }
    return PRILLM_OK;
}

/* ---- checks and the market ------------------------------------------------- */

static int same(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The one value of a text field over the rows (after the filter), or an
 * error when there are several and no choice. */
static PrillmErrorCode single_choice(const Rows *rows, const char *name, const char *field, int which,
                                     PrillmError *err) {
    const char *first = NULL;
    for (long r = 0; r < rows->count; r++) {
        const char *v = which ? rows->rows[r].method : rows->rows[r].benchmark;
        if (!first) first = v;
        else if (!same(first, v))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "%s holds several %ss (\"%.60s\" and \"%.60s\"): choose one (%s setting, --%s)", name,
                                field, first, v, field, field);
    }
    return PRILLM_OK;
}

static int compare_level(const void *a, const void *b) {
    const Row *x = *(const Row *const *)a, *y = *(const Row *const *)b;
    return (x->level > y->level) - (x->level < y->level);
}

static PrillmErrorCode check_row(const Row *row, PrillmError *err) {
    if (!*row->model) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: model is missing", row->where);
    if (isnan(row->level)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: level is missing", row->where);
    if (!isfinite(row->level))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: level must be a finite number", row->where);
    if (isnan(row->accuracy)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: accuracy is missing", row->where);
    if (!(row->accuracy >= 0 && row->accuracy <= 1))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: accuracy must be in [0, 1], got %g", row->where,
                            row->accuracy);
    if (isnan(row->tokens)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: tokens is missing", row->where);
    if (!(row->tokens > 0 && row->tokens <= 1e12))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: tokens must be in (0, 1e12], got %g", row->where,
                            row->tokens);
    if (isnan(row->price))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: price_per_million is missing", row->where);
    if (!(row->price > 0 && row->price <= 1e9))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: price_per_million must be in (0, 1e9], got %g",
                            row->where, row->price);
    if (!isnan(row->questions) && !(row->questions >= 1 && row->questions == floor(row->questions)))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: questions must be an integer >= 1, got %g", row->where,
                            row->questions);
    return PRILLM_OK;
}

static PrillmErrorCode build_market(Rows *all, const char *name, const PrillmTtcCurveSettings *s,
                                    PrillmTtcMarket **market, PrillmError *err) {
    /* keep the chosen benchmark and method */
    Rows rows = {all->rows, 0};
    for (long r = 0; r < all->count; r++) {
        const Row *row = &all->rows[r];
        if (s->benchmark && !same(row->benchmark, s->benchmark)) continue;
        if (s->method && !same(row->method, s->method)) continue;
        all->rows[rows.count++] = *row;
    }
    if (rows.count == 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: no row has benchmark \"%.60s\" and method \"%.60s\"",
                            name, s->benchmark ? s->benchmark : "(any)", s->method ? s->method : "(any)");
    PrillmErrorCode rc;
    if (!s->benchmark && (rc = single_choice(&rows, name, "benchmark", 0, err))) return rc;
    if (!s->method && (rc = single_choice(&rows, name, "method", 1, err))) return rc;
    for (long r = 0; r < rows.count; r++)
        if ((rc = check_row(&rows.rows[r], err))) return rc;

    /* models in order of first appearance */
    const char *ids[PRILLM_TTC_MAX_MODELS];
    int n = 0, counts[PRILLM_TTC_MAX_MODELS];
    int *model_of = prillm__calloc((size_t)rows.count, sizeof *model_of);
    const Row **sorted = prillm__calloc((size_t)rows.count, sizeof *sorted);
    PrillmTtcMarket *mk = NULL;
    if (!model_of || !sorted) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", name);
        goto done;
    }
    for (long r = 0; r < rows.count; r++) {
        int m = 0;
        while (m < n && !same(ids[m], rows.rows[r].model)) m++;
        if (m == n) {
            if (n == PRILLM_TTC_MAX_MODELS) {
                rc = prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%s: more than %d models", name, PRILLM_TTC_MAX_MODELS);
                goto done;
            }
            ids[n] = rows.rows[r].model;
            counts[n++] = 0;
        }
        model_of[r] = m;
        counts[m]++;
    }
    for (int m = 0; m < n; m++)
        if (counts[m] > PRILLM_TTC_MAX_LEVELS) {
            rc = prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%s: model \"%.60s\" has %d levels, at most %d", name, ids[m],
                              counts[m], PRILLM_TTC_MAX_LEVELS);
            goto done;
        }
    if (!(mk = prillm_ttc_market_alloc(n, counts, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    /* each model's rows, sorted by level (stable on the row order: qsort on
     * pointers that are already in row order, ties are errors anyway) */
    int fill[PRILLM_TTC_MAX_MODELS] = {0};
    for (long r = 0; r < rows.count; r++) {
        int m = model_of[r];
        sorted[mk->level_offset[m] + fill[m]++] = &rows.rows[r];
    }
    for (int m = 0; m < n; m++) {
        const Row **mine = sorted + mk->level_offset[m];
        qsort(mine, (size_t)counts[m], sizeof *mine, compare_level);
        if (!(mk->model_id[m] = prillm__strdup(ids[m]))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", name);
            goto done;
        }
        mk->list_price[m] = mine[0]->price;
        for (int k = 0; k < counts[m]; k++) {
            const Row *row = mine[k];
            if (row->price != mk->list_price[m]) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                  "%s: price_per_million %g differs from %g on model \"%.60s\"'s other rows (one list "
                                  "price per model)", row->where, row->price, mk->list_price[m], ids[m]);
                goto done;
            }
            if (k > 0 && row->level == mine[k - 1]->level) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: level %g of model \"%.60s\" repeats %s", row->where,
                                  row->level, ids[m], mine[k - 1]->where);
                goto done;
            }
            if (k > 0 && !(row->tokens > mine[k - 1]->tokens)) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                  "%s: tokens %g at level %g of model \"%.60s\" is not above %g at level %g (%s): "
                                  "tokens must increase with the compute level",
                                  row->where, row->tokens, row->level, ids[m], mine[k - 1]->tokens, mine[k - 1]->level,
                                  mine[k - 1]->where);
                goto done;
            }
            int at = mk->level_offset[m] + k;
            mk->level_label[at] = row->level;
            mk->accuracy[at] = row->accuracy;
            mk->tokens[at] = row->tokens;
        }
    }
    /* missing levels: every level some model has must be in every model */
    if (!s->allow_missing_levels)
        for (int m = 0; m < n; m++)
            for (int o = 0; o < n; o++)
                for (int k = 0; k < counts[o]; k++) {
                    double level = mk->level_label[mk->level_offset[o] + k];
                    int found = 0;
                    for (int j = 0; j < counts[m] && !found; j++) found = mk->level_label[mk->level_offset[m] + j] == level;
                    if (!found) {
                        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                          "%s: model \"%.60s\" has no row for level %g, which model \"%.60s\" has "
                                          "(missing level; allow_missing_levels / --allow-missing-levels accepts it)",
                                          name, ids[m], level, ids[o]);
                        goto done;
                    }
                }
    mk->value_scale = s->value_scale;
    mk->value_baseline = s->value_baseline;
    mk->value_shape = s->value_shape;
    mk->value_curvature = isnan(s->value_curvature) ? (s->value_shape == PRILLM_TTC_VALUE_EXP ? 6.0 : 3.5)
                                                    : s->value_curvature;
    mk->margin = s->margin;
    mk->beta = s->beta;
    mk->outside_value = s->outside_value;
    if (isnan(s->value_scale)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                          "value.scale is missing: measured curves do not hold what an answer is worth; give the value "
                          "scale (USD per query, --scale)");
        goto done;
    }
    {
        /* a description that says where the numbers come from */
        char text[400];
        snprintf(text, sizeof text, "measured curves from %.120s (benchmark %.60s, method %.60s)", name,
                 *rows.rows[0].benchmark ? rows.rows[0].benchmark : "not given",
                 *rows.rows[0].method ? rows.rows[0].method : "not given");
        if (!(mk->description = prillm__strdup(text))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", name);
            goto done;
        }
    }
    rc = prillm_ttc_market_validate(mk, err);
done:
    free(model_of);
    free(sorted);
    if (rc) {
        prillm_ttc_market_free(mk);
        mk = NULL;
    }
    *market = mk;
    return rc;
}

PrillmErrorCode prillm_ttc_curves_parse(const char *text, size_t length, const char *name,
                                        const PrillmTtcCurveSettings *settings, PrillmWarnFn warn, void *warn_context,
                                        PrillmTtcMarket **market, PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "curve text is NULL");
    PrillmTtcCurveSettings defaults;
    if (!settings) {
        prillm_ttc_curve_default_settings(&defaults);
        settings = &defaults;
    }
    if (!name) name = "curves";
    PrillmJsonWarner w = {warn, warn_context};
    size_t k = 0;
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) k = 3;
    while (k < length && isspace((unsigned char)text[k])) k++;
    if (k == length) return prillm__fail(err, PRILLM_ERR_PARSE, "%s is empty", name);
    Rows rows = {NULL, 0};
    PrillmCsvTable table;
    memset(&table, 0, sizeof table);
    cJSON *root = NULL;
    PrillmErrorCode rc;
    if (text[k] == '[' || text[k] == '{') {
        if (!(rc = prillm__json_parse(text, length, name, "curves", &root, err)))
            rc = rows_from_json(root, name, &w, &rows, err);
    } else {
        rc = rows_from_csv(text, length, name, &w, &table, &rows, err);
    }
    if (!rc) rc = build_market(&rows, name, settings, market, err);
    free(rows.rows);
    prillm__csv_free(&table);
    cJSON_Delete(root);
    if (!rc) prillm__clear_error(err);
    return rc;
}

PrillmErrorCode prillm_ttc_curves_read(FILE *stream, const char *name, const PrillmTtcCurveSettings *settings,
                                       PrillmWarnFn warn, void *warn_context, PrillmTtcMarket **market,
                                       PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__read_stream(stream, name ? name : "the curves", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_ttc_curves_parse(buf, len, name, settings, warn, warn_context, market, err);
    free(buf);
    return rc;
}
