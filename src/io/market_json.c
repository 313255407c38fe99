/* The market file: JSON in (cJSON) and out. The keys are a contract that
 * other tools rely on; see docs/market-format.md. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_document.h"

/* Always valid UTF-8, whatever text holds: the readers reject ids that are
 * not UTF-8, and a byte that is not part of a valid sequence (a string built
 * through the API) is written as U+FFFD, escaped. */
void prillm__json_string(FILE *out, const char *text) {
    fputc('"', out);
    const unsigned char *c = (const unsigned char *)(text ? text : "");
    size_t left = strlen((const char *)c);
    while (left > 0) {
        size_t step = 1;
        switch (*c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*c < 0x20) {
                fprintf(out, "\\u%04x", *c);
            } else if (*c < 0x80) {
                fputc(*c, out);
            } else if ((step = prillm__utf8_sequence(c, left)) > 0) {
                fwrite(c, 1, step, out);
            } else {
                fputs("\\ufffd", out);
                step = 1;
            }
        }
        c += step;
        left -= step;
    }
    fputc('"', out);
}

void prillm__json_number(FILE *out, double value) {
    char buf[40];
    if (!isfinite(value)) fputs("null", out);
    else fputs(prillm_format_double(value, buf, sizeof buf), out);
}

void prillm__csv_field(FILE *out, const char *text) {
    if (!text) text = "";
    if (!strpbrk(text, ",\"\n\r")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* ---- reading ---------------------------------------------------------- */

static const cJSON *get_array(const cJSON *root, const char *key, PrillmError *err, PrillmErrorCode *rc) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) {
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" is missing", key);
        return NULL;
    }
    if (!cJSON_IsArray(item)) {
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be an array", key);
        return NULL;
    }
    if (cJSON_GetArraySize(item) == 0) {
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "empty market: \"%s\" has no entries", key);
        return NULL;
    }
    return item;
}

static PrillmErrorCode read_weights(const cJSON *root, PrillmMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"price", "congestion", "delay", NULL};
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(root, "weights");
    if (!weights) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"weights\" is missing");
    if (!cJSON_IsObject(weights))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"weights\" must be an object");
    PrillmErrorCode rc;
    if ((rc = prillm__json_check_keys(weights, "weights", known, NULL, w, err))) return rc;
    mk->w_price = mk->w_congestion = mk->w_delay = NAN;
    if ((rc = prillm__json_get_number(weights, "price", "weights", 1, &mk->w_price, err))) return rc;
    if ((rc = prillm__json_get_number(weights, "congestion", "weights", 1, &mk->w_congestion, err))) return rc;
    return prillm__json_get_number(weights, "delay", "weights", 1, &mk->w_delay, err);
}

static PrillmErrorCode read_providers(const cJSON *list, PrillmMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"id",      "price",     "capacity",  "value", "cost",
                                        "latency", "price_min", "price_max", "owner", NULL};
    int j = 0;
    for (const cJSON *p = list->child; p; p = p->next, j++) {
        char where[48];
        snprintf(where, sizeof where, "providers[%d]", j);
        if (!cJSON_IsObject(p)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
        PrillmErrorCode rc;
        if ((rc = prillm__json_check_keys(p, where, known, NULL, w, err))) return rc;
        if ((rc = prillm__json_get_id(p, where, &mk->provider_id[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "price", where, 1, &mk->price[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "capacity", where, 1, &mk->capacity[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "value", where, 1, &mk->value[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "cost", where, 0, &mk->cost[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "latency", where, 0, &mk->latency[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "price_min", where, 0, &mk->price_min[j], err))) return rc;
        if ((rc = prillm__json_get_number(p, "price_max", where, 0, &mk->price_max[j], err))) return rc;
        const cJSON *owner = cJSON_GetObjectItemCaseSensitive(p, "owner");
        if (owner && !cJSON_IsNull(owner)) {
            if (!cJSON_IsString(owner) || !owner->valuestring || !owner->valuestring[0])
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.owner must be a non-empty string", where);
            if (!(mk->owner[j] = prillm__strdup(owner->valuestring)))
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s.owner", where);
        }
    }
    return PRILLM_OK;
}

static PrillmErrorCode read_users(const cJSON *list, PrillmMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"id", "demand", NULL};
    int i = 0;
    for (const cJSON *u = list->child; u; u = u->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "users[%d]", i);
        if (!cJSON_IsObject(u)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
        PrillmErrorCode rc;
        if ((rc = prillm__json_check_keys(u, where, known, NULL, w, err))) return rc;
        if ((rc = prillm__json_get_id(u, where, &mk->user_id[i], err))) return rc;
        if ((rc = prillm__json_get_number(u, "demand", where, 1, &mk->demand[i], err))) return rc;
    }
    return PRILLM_OK;
}

/* A null cell, or no "delay" at all, is filled from the provider's latency:
 * per-model latency is often all a data source has. */
static PrillmErrorCode read_delay(const cJSON *root, PrillmMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers;
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(root, "delay");
    long filled = 0;
    if (delay) {
        if (!cJSON_IsArray(delay)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"delay\" must be an array of arrays");
        int rows = cJSON_GetArraySize(delay);
        if (rows != n)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "\"delay\" has %d rows but there are %d users (one row per user)", rows, n);
        int i = 0;
        for (const cJSON *row = delay->child; row; row = row->next, i++) {
            if (!cJSON_IsArray(row)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "delay[%d] must be an array", i);
            int cols = cJSON_GetArraySize(row);
            if (cols != m)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "delay[%d] has %d entries but there are %d providers (one per provider)", i, cols, m);
            int j = 0;
            for (const cJSON *cell = row->child; cell; cell = cell->next, j++) {
                double *d = &mk->delay[(size_t)i * (size_t)m + (size_t)j];
                if (cJSON_IsNumber(cell)) {
                    *d = cell->valuedouble;
                } else if (cJSON_IsNull(cell)) {
                    if (isnan(mk->latency[j]))
                        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                            "delay[%d][%d] is null and providers[%d].latency is not given", i, j, j);
                    *d = mk->latency[j];
                    filled++;
                } else {
                    return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "delay[%d][%d] must be a number or null", i, j);
                }
            }
        }
    } else {
        for (int j = 0; j < m; j++)
            if (isnan(mk->latency[j]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "\"delay\" is missing and providers[%d].latency is not given to fill it", j);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) mk->delay[(size_t)i * (size_t)m + (size_t)j] = mk->latency[j];
        filled = (long)n * m;
    }
    if (filled > 0 && w->warn) {
        char msg[128];
        snprintf(msg, sizeof msg, "%ld delay entries filled from provider latency", filled);
        w->warn(w->context, msg);
    }
    return PRILLM_OK;
}

/* Optional: absent means every app is indifferent (0). Unlike a delay, a
 * missing cell has nothing to be filled from, so every cell is a number. */
static PrillmErrorCode read_affinity(const cJSON *root, PrillmMarket *mk, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers;
    const cJSON *affinity = cJSON_GetObjectItemCaseSensitive(root, "affinity");
    if (!affinity) return PRILLM_OK;
    if (!cJSON_IsArray(affinity))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"affinity\" must be an array of arrays (one row per user)");
    int rows = cJSON_GetArraySize(affinity);
    if (rows != n)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "\"affinity\" has %d rows but there are %d users (one row per user)", rows, n);
    int i = 0;
    for (const cJSON *row = affinity->child; row; row = row->next, i++) {
        if (!cJSON_IsArray(row)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "affinity[%d] must be an array", i);
        int cols = cJSON_GetArraySize(row);
        if (cols != m)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "affinity[%d] has %d entries but there are %d providers (one per provider)", i, cols, m);
        int j = 0;
        for (const cJSON *cell = row->child; cell; cell = cell->next, j++) {
            if (!cJSON_IsNumber(cell))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "affinity[%d][%d] must be a number", i, j);
            mk->affinity[(size_t)i * (size_t)m + (size_t)j] = cell->valuedouble;
        }
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_market_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                         PrillmMarket **market, PrillmError *err) {
    /* "calibration" holds the calibrator's metadata: known, so no warning,
     * and not read here */
    static const char *const known[] = {"weights", "providers", "users", "delay", "affinity", "calibration", NULL};
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    PrillmJsonWarner w = {warn, warn_context};
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse(text, length, NULL, "market object", &root, err);
    if (rc) return rc;
    PrillmMarket *mk = NULL;
    if (!cJSON_IsObject(root)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the market must be a JSON object");
        goto done;
    }
    if ((rc = prillm__json_check_keys(root, "market", known, NULL, &w, err))) goto done;
    const cJSON *providers = get_array(root, "providers", err, &rc);
    if (!providers) goto done;
    const cJSON *users = get_array(root, "users", err, &rc);
    if (!users) goto done;
    if (!(mk = prillm_market_alloc(cJSON_GetArraySize(users), cJSON_GetArraySize(providers), err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    if ((rc = read_weights(root, mk, &w, err))) goto done;
    if ((rc = read_providers(providers, mk, &w, err))) goto done;
    if ((rc = read_users(users, mk, &w, err))) goto done;
    if ((rc = read_delay(root, mk, &w, err))) goto done;
    if ((rc = read_affinity(root, mk, err))) goto done;
    rc = prillm_market_validate(mk, err);
done:
    cJSON_Delete(root);
    if (rc == PRILLM_OK) {
        *market = mk;
        prillm__clear_error(err);
    } else {
        prillm_market_free(mk);
    }
    return rc;
}

PrillmErrorCode prillm_market_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context, PrillmMarket **market,
                                        PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__json_read_stream(stream, "the market", "error reading the market file", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_market_parse_json(buf, len, warn, warn_context, market, err);
    free(buf);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

PrillmErrorCode prillm_market_write_json(const PrillmMarket *mk, FILE *out, PrillmError *err) {
    if (!mk || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or stream is NULL");
    int n = mk->n_users, m = mk->n_providers;
    fputs("{\n  \"weights\": {\"price\": ", out);
    prillm__json_number(out, mk->w_price);
    fputs(", \"congestion\": ", out);
    prillm__json_number(out, mk->w_congestion);
    fputs(", \"delay\": ", out);
    prillm__json_number(out, mk->w_delay);
    fputs("},\n  \"providers\": [\n", out);
    for (int j = 0; j < m; j++) {
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[j]);
        fputs(", \"price\": ", out);
        prillm__json_number(out, mk->price[j]);
        fputs(", \"capacity\": ", out);
        prillm__json_number(out, mk->capacity[j]);
        fputs(", \"value\": ", out);
        prillm__json_number(out, mk->value[j]);
        if (!isnan(mk->cost[j])) {
            fputs(", \"cost\": ", out);
            prillm__json_number(out, mk->cost[j]);
        }
        if (!isnan(mk->latency[j])) {
            fputs(", \"latency\": ", out);
            prillm__json_number(out, mk->latency[j]);
        }
        double bound[2] = {prillm__market_price_min(mk, j), prillm__market_price_max(mk, j)};
        for (int b = 0; b < 2; b++)
            if (!isnan(bound[b])) {
                fputs(b ? ", \"price_max\": " : ", \"price_min\": ", out);
                prillm__json_number(out, bound[b]);
            }
        if (prillm__market_owner(mk, j)) {
            fputs(", \"owner\": ", out);
            prillm__json_string(out, prillm__market_owner(mk, j));
        }
        fputs(j + 1 < m ? "},\n" : "}\n", out);
    }
    fputs("  ],\n  \"users\": [\n", out);
    for (int i = 0; i < n; i++) {
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->user_id[i]);
        fputs(", \"demand\": ", out);
        prillm__json_number(out, mk->demand[i]);
        fputs(i + 1 < n ? "},\n" : "}\n", out);
    }
    fputs("  ],\n  \"delay\": [\n", out);
    for (int i = 0; i < n; i++) {
        fputs("    [", out);
        for (int j = 0; j < m; j++) {
            if (j) fputs(", ", out);
            prillm__json_number(out, mk->delay[(size_t)i * (size_t)m + (size_t)j]);
        }
        fputs(i + 1 < n ? "],\n" : "]\n", out);
    }
    fputs("  ]", out);
    /* only when some app has a taste, so markets without affinities keep
     * the file they always had */
    int tastes = 0;
    for (size_t k = 0; k < (size_t)n * (size_t)m && !tastes; k++) tastes = mk->affinity[k] != 0.0;
    if (tastes) {
        fputs(",\n  \"affinity\": [\n", out);
        for (int i = 0; i < n; i++) {
            fputs("    [", out);
            for (int j = 0; j < m; j++) {
                if (j) fputs(", ", out);
                prillm__json_number(out, mk->affinity[(size_t)i * (size_t)m + (size_t)j]);
            }
            fputs(i + 1 < n ? "],\n" : "]\n", out);
        }
        fputs("  ]", out);
    }
    fputs("\n}\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "error writing the market");
    return PRILLM_OK;
}
