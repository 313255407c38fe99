/* The TTC market file (docs/ttc.md): JSON in with cJSON, and out. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_document.h"
#include "prillm/ttc.h"

/* Missing (or null) and not required: *out keeps its default. */
static PrillmErrorCode get_number(const cJSON *object, const char *key, const char *where, int required, double *out,
                                  PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s is missing", where, key);
        return PRILLM_OK;
    }
    if (!cJSON_IsNumber(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s must be a number", where, key);
    *out = item->valuedouble;
    return PRILLM_OK;
}

static PrillmErrorCode get_string(const cJSON *object, const char *key, const char *where, int required, char **out,
                                  PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s is missing", where, key);
        return PRILLM_OK;
    }
    if (!cJSON_IsString(item) || !item->valuestring)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s must be a string", where, key);
    if (!(*out = prillm__strdup(item->valuestring)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s%s", where, key);
    return PRILLM_OK;
}

/* A number array of exactly `count` entries (count < 0: any length >= 1,
 * returned in *length). */
static const cJSON *get_numbers(const cJSON *object, const char *key, const char *where, int required,
                                PrillmError *err, PrillmErrorCode *rc) {
    *rc = PRILLM_OK;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s is missing", where, key);
        return NULL;
    }
    if (!cJSON_IsArray(item)) {
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s must be an array of numbers", where, key);
        return NULL;
    }
    int k = 0;
    for (const cJSON *c = item->child; c; c = c->next, k++)
        if (!cJSON_IsNumber(c)) {
            *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s[%d] must be a number", where, key, k);
            return NULL;
        }
    return item;
}

static void copy_numbers(const cJSON *array, double *out) {
    int k = 0;
    for (const cJSON *c = array->child; c; c = c->next) out[k++] = c->valuedouble;
}

static PrillmErrorCode read_value(const cJSON *root, PrillmTtcMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"scale", "baseline", "shape", "curvature", NULL};
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(root, "value");
    if (!value) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"value\" is missing");
    if (!cJSON_IsObject(value)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"value\" must be an object");
    PrillmErrorCode rc;
    if ((rc = prillm__json_check_keys(value, "value", known, NULL, w, err))) return rc;
    mk->value_baseline = 0.1;
    if ((rc = get_number(value, "scale", "value.", 1, &mk->value_scale, err))) return rc;
    if ((rc = get_number(value, "baseline", "value.", 0, &mk->value_baseline, err))) return rc;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(value, "shape");
    mk->value_shape = PRILLM_TTC_VALUE_LINEAR;
    if (shape && !cJSON_IsNull(shape)) {
        static const char *const names[] = {"linear", "power", "exp"};
        if (!cJSON_IsString(shape) || !shape->valuestring)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "value.shape must be \"linear\", \"power\" or \"exp\"");
        int found = -1;
        for (int s = 0; s < 3; s++)
            if (strcmp(shape->valuestring, names[s]) == 0) found = s;
        if (found < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "value.shape must be \"linear\", \"power\" or \"exp\", got \"%.100s\"", shape->valuestring);
        mk->value_shape = found;
    }
    /* the reference code's defaults: gamma = 3.5 (power), kappa = 6 (exp) */
    mk->value_curvature = mk->value_shape == PRILLM_TTC_VALUE_EXP ? 6.0 : 3.5;
    return get_number(value, "curvature", "value.", 0, &mk->value_curvature, err);
}

static PrillmErrorCode read_models(const cJSON *models, PrillmTtcMarket *mk, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"id", "price_per_million", "levels", "accuracy", "tokens", NULL};
    int i = 0;
    for (const cJSON *m = models->child; m; m = m->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "models[%d]", i);
        char prefix[52];
        snprintf(prefix, sizeof prefix, "%s.", where);
        PrillmErrorCode rc;
        if ((rc = prillm__json_check_keys(m, where, known, NULL, w, err))) return rc;
        if ((rc = get_string(m, "id", prefix, 1, &mk->model_id[i], err))) return rc;
        if ((rc = get_number(m, "price_per_million", prefix, 1, &mk->list_price[i], err))) return rc;
        static const char *const arrays[] = {"accuracy", "tokens", "levels"};
        double *targets[] = {mk->accuracy + mk->level_offset[i], mk->tokens + mk->level_offset[i],
                             mk->level_label + mk->level_offset[i]};
        for (int a = 0; a < 3; a++) {
            const cJSON *array = get_numbers(m, arrays[a], prefix, a < 2, err, &rc);
            if (rc) return rc;
            if (!array) continue;
            int size = cJSON_GetArraySize(array);
            if (size != mk->n_levels[i])
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "%s.%s has %d entries but %s.accuracy has %d (one per TTC level)", where, arrays[a],
                                    size, where, mk->n_levels[i]);
            copy_numbers(array, targets[a]);
        }
    }
    return PRILLM_OK;
}

/* Sizes first (each model's accuracy array decides its level count), so
 * the market can be allocated before anything is copied. */
static PrillmErrorCode count_levels(const cJSON *models, int *n_levels, PrillmError *err) {
    int i = 0;
    for (const cJSON *m = models->child; m; m = m->next, i++) {
        if (!cJSON_IsObject(m)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d] must be an object", i);
        const cJSON *accuracy = cJSON_GetObjectItemCaseSensitive(m, "accuracy");
        if (!accuracy) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].accuracy is missing", i);
        if (!cJSON_IsArray(accuracy))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].accuracy must be an array of numbers", i);
        int size = cJSON_GetArraySize(accuracy);
        if (size < 1 || size > PRILLM_TTC_MAX_LEVELS)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "models[%d].accuracy must have 1..%d entries, got %d", i,
                                PRILLM_TTC_MAX_LEVELS, size);
        n_levels[i] = size;
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_ttc_market_parse_json(const char *text, size_t length, PrillmWarnFn warn_fn, void *warn_context,
                                             PrillmTtcMarket **market, PrillmError *err) {
    static const char *const known[] = {"description", "beta", "margin", "outside_value", "value", "models", NULL};
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    PrillmJsonWarner w = {warn_fn, warn_context};
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse(text, length, NULL, "object", &root, err);
    if (rc) return rc;
    PrillmTtcMarket *mk = NULL;
    if (!cJSON_IsObject(root)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the TTC market must be a JSON object");
        goto done;
    }
    if ((rc = prillm__json_check_keys(root, "market", known, NULL, &w, err))) goto done;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!models) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"models\" is missing");
        goto done;
    }
    if (!cJSON_IsArray(models)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"models\" must be an array");
        goto done;
    }
    int n = cJSON_GetArraySize(models);
    if (n < 1 || n > PRILLM_TTC_MAX_MODELS) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"models\" must have 1..%d entries, got %d",
                          PRILLM_TTC_MAX_MODELS, n);
        goto done;
    }
    int n_levels[PRILLM_TTC_MAX_MODELS];
    if ((rc = count_levels(models, n_levels, err))) goto done;
    if (!(mk = prillm_ttc_market_alloc(n, n_levels, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    mk->outside_value = 0;
    if ((rc = get_string(root, "description", "", 0, &mk->description, err))) goto done;
    if ((rc = get_number(root, "beta", "", 0, &mk->beta, err))) goto done;
    if ((rc = get_number(root, "margin", "", 1, &mk->margin, err))) goto done;
    if ((rc = get_number(root, "outside_value", "", 0, &mk->outside_value, err))) goto done;
    if ((rc = read_value(root, mk, &w, err))) goto done;
    if ((rc = read_models(models, mk, &w, err))) goto done;
    rc = prillm_ttc_market_validate(mk, err);
done:
    cJSON_Delete(root);
    if (rc == PRILLM_OK) {
        *market = mk;
        prillm__clear_error(err);
    } else {
        prillm_ttc_market_free(mk);
    }
    return rc;
}

PrillmErrorCode prillm_ttc_market_read_json(FILE *stream, PrillmWarnFn warn_fn, void *warn_context,
                                            PrillmTtcMarket **market, PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc =
        prillm__json_read_stream(stream, "the TTC market", "error reading the TTC market file", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_ttc_market_parse_json(buf, len, warn_fn, warn_context, market, err);
    free(buf);
    return rc;
}

static void write_array(FILE *out, const double *x, int count) {
    fputc('[', out);
    for (int k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_number(out, x[k]);
    }
    fputc(']', out);
}

PrillmErrorCode prillm_ttc_market_write_json(const PrillmTtcMarket *mk, FILE *out, PrillmError *err) {
    static const char *const shapes[] = {"linear", "power", "exp"};
    if (!mk || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or stream is NULL");
    fputs("{\n", out);
    if (mk->description) {
        fputs("  \"description\": ", out);
        prillm__json_string(out, mk->description);
        fputs(",\n", out);
    }
    if (!isnan(mk->beta)) {
        fputs("  \"beta\": ", out);
        prillm__json_number(out, mk->beta);
        fputs(",\n", out);
    }
    fputs("  \"margin\": ", out);
    prillm__json_number(out, mk->margin);
    fputs(",\n  \"outside_value\": ", out);
    prillm__json_number(out, mk->outside_value);
    fputs(",\n  \"value\": {\"scale\": ", out);
    prillm__json_number(out, mk->value_scale);
    fputs(", \"baseline\": ", out);
    prillm__json_number(out, mk->value_baseline);
    int shape = mk->value_shape >= 0 && mk->value_shape <= 2 ? mk->value_shape : 0;
    fprintf(out, ", \"shape\": \"%s\"", shapes[shape]);
    if (shape != PRILLM_TTC_VALUE_LINEAR) {
        fputs(", \"curvature\": ", out);
        prillm__json_number(out, mk->value_curvature);
    }
    fputs("},\n  \"models\": [\n", out);
    for (int i = 0; i < mk->n_models; i++) {
        int at = mk->level_offset[i], count = mk->n_levels[i];
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->model_id[i]);
        fputs(", \"price_per_million\": ", out);
        prillm__json_number(out, mk->list_price[i]);
        int labelled = 1;
        for (int k = 0; k < count; k++) labelled &= !isnan(mk->level_label[at + k]);
        if (labelled) {
            fputs(",\n     \"levels\": ", out);
            write_array(out, mk->level_label + at, count);
        }
        fputs(",\n     \"accuracy\": ", out);
        write_array(out, mk->accuracy + at, count);
        fputs(",\n     \"tokens\": ", out);
        write_array(out, mk->tokens + at, count);
        fputs(i + 1 < mk->n_models ? "},\n" : "}\n", out);
    }
    fputs("  ]\n}\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "error writing the TTC market");
    return PRILLM_OK;
}
