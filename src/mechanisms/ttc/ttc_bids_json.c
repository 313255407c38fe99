/* The bids file of `prillm auction --bids` (docs/ttc.md "Explicit bids"):
 * each provider's offered prices per compute level, optional accuracy
 * claims, and optionally the realised quality of answers, per request. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_document.h"
#include "prillm/ttc.h"

static int model_index(const PrillmTtcMarket *mk, const char *id) {
    for (int i = 0; i < mk->n_models; i++)
        if (strcmp(mk->model_id[i], id) == 0) return i;
    return -1;
}

static void list_models(const PrillmTtcMarket *mk, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < mk->n_models && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%.40s", i ? ", " : "", mk->model_id[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static void list_levels(const PrillmTtcMarket *mk, int i, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < mk->n_levels[i] && used + 1 < size; k++) {
        int w = snprintf(buf + used, size - used, "%s%g", k ? ", " : "", mk->level_label[mk->level_offset[i] + k]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Per level of model i, what `price` of a bid means in USD per query. */
static double to_query_price(const PrillmTtcMarket *mk, int i, int k, int kind, double x) {
    int at = mk->level_offset[i] + k;
    if (kind == 1) return x * mk->tokens[at] / 1e6;  /* per million billed tokens */
    if (kind == 2) return x * mk->level_label[at];   /* per unit of the level parameter */
    return x;                                       /* per query */
}

static PrillmErrorCode read_bid(const cJSON *item, int index, const char *where, const PrillmTtcMarket *mk,
                                PrillmTtcBids *b, int *seen, const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"model", "level", "level_index", "price", "price_per_million", "price_per_unit",
                                        "accuracy", NULL};
    static const char *const kinds[] = {"price", "price_per_million", "price_per_unit"};
    PrillmErrorCode rc;
    if (!cJSON_IsObject(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    if ((rc = prillm__json_check_keys(item, where, known, NULL, w, err))) return rc;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(item, "model");
    if (!model || cJSON_IsNull(model)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.model is missing", where);
    if (!cJSON_IsString(model) || !model->valuestring)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.model must be a string", where);
    int i = model_index(mk, model->valuestring);
    if (i < 0) {
        char models[400];
        list_models(mk, models, sizeof models);
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.model \"%.60s\" is not a model of the market (%s)", where,
                            model->valuestring, models);
    }
    if (seen[i])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.model \"%.60s\" already has a bid (bids[%d]); give one "
                            "bid per model, with an array for several levels", where, mk->model_id[i], seen[i] - 1);
    int kind = -1;
    const cJSON *price = NULL;
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, kinds[k]);
        if (!v || cJSON_IsNull(v)) continue;
        if (price)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has both %s and %s: give one price", where, kinds[kind],
                                kinds[k]);
        price = v;
        kind = k;
    }
    if (!price)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has no price (price, price_per_million or price_per_unit)",
                            where);
    if (kind == 2)
        for (int k = 0; k < mk->n_levels[i]; k++)
            if (!(mk->level_label[mk->level_offset[i] + k] > 0))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "%s.price_per_unit needs the level parameters of model \"%.60s\" (the market's "
                                    "\"levels\"), each > 0, got %g at level %d", where, mk->model_id[i],
                                    mk->level_label[mk->level_offset[i] + k], k);
    const cJSON *claim = cJSON_GetObjectItemCaseSensitive(item, "accuracy");
    if (claim && cJSON_IsNull(claim)) claim = NULL;
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(item, "level");
    const cJSON *level_index = cJSON_GetObjectItemCaseSensitive(item, "level_index");
    if (level && cJSON_IsNull(level)) level = NULL;
    if (level_index && cJSON_IsNull(level_index)) level_index = NULL;
    int base = mk->level_offset[i];
    if (cJSON_IsNumber(price)) {
        if (level && level_index)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has both level and level_index: give one", where);
        int k = -1;
        if (level) {
            if (!cJSON_IsNumber(level))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.level must be a number", where);
            for (int j = 0; j < mk->n_levels[i] && k < 0; j++)
                if (mk->level_label[base + j] == level->valuedouble) k = j;
            if (k < 0 && isnan(mk->level_label[base]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "%s.level: model \"%.60s\" has no level labels (the market's \"levels\"); name the "
                                    "level by level_index", where, mk->model_id[i]);
            if (k < 0) {
                char levels[300];
                list_levels(mk, i, levels, sizeof levels);
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.level %g is not a level of model \"%.60s\" (%s)",
                                    where, level->valuedouble, mk->model_id[i], levels);
            }
        } else if (level_index) {
            if (!cJSON_IsNumber(level_index) || level_index->valuedouble != floor(level_index->valuedouble) ||
                !(level_index->valuedouble >= 0 && level_index->valuedouble < mk->n_levels[i]))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.level_index must be an integer in 0..%d", where,
                                    mk->n_levels[i] - 1);
            k = (int)level_index->valuedouble;
        } else if (mk->n_levels[i] == 1) {
            k = 0;
        } else {
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "%s: a single %s needs level (or level_index): model \"%.60s\" has %d levels", where,
                                kinds[kind], mk->model_id[i], mk->n_levels[i]);
        }
        b->price[base + k] = to_query_price(mk, i, k, kind, price->valuedouble);
        if (claim) {
            if (!cJSON_IsNumber(claim))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.accuracy must be a number (one level bid)", where);
            b->claimed_accuracy[base + k] = claim->valuedouble;
        }
    } else if (cJSON_IsArray(price)) {
        if (level || level_index)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "%s: level goes with a single price; an array has one price per level", where);
        if (cJSON_GetArraySize(price) != mk->n_levels[i])
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s has %d entries but model \"%.60s\" has %d levels",
                                where, kinds[kind], cJSON_GetArraySize(price), mk->model_id[i], mk->n_levels[i]);
        int k = 0;
        for (const cJSON *v = price->child; v; v = v->next, k++) {
            if (cJSON_IsNull(v)) continue;
            if (!cJSON_IsNumber(v))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s[%d] must be a number or null", where,
                                    kinds[kind], k);
            b->price[base + k] = to_query_price(mk, i, k, kind, v->valuedouble);
        }
        if (claim) {
            if (!cJSON_IsArray(claim) || cJSON_GetArraySize(claim) != mk->n_levels[i])
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "%s.accuracy must be an array with an entry per level (%d), like the price", where,
                                    mk->n_levels[i]);
            k = 0;
            for (const cJSON *v = claim->child; v; v = v->next, k++) {
                if (cJSON_IsNull(v)) continue;
                if (!cJSON_IsNumber(v))
                    return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.accuracy[%d] must be a number or null", where,
                                        k);
                b->claimed_accuracy[base + k] = v->valuedouble;
            }
        }
    } else {
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a number or an array with an entry per level",
                            where, kinds[kind]);
    }
    /* name the field in the range checks (validate names only the model) */
    for (int k = 0; k < mk->n_levels[i]; k++) {
        double x = b->price[base + k], a = b->claimed_accuracy[base + k];
        if (!isnan(x) && !(fabs(x) <= 1e12))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s: the price at level %d must be finite", where,
                                kinds[kind], k);
        if (!isnan(a) && !(a >= 0 && a <= 1))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.accuracy at level %d must be in [0, 1], got %g", where,
                                k, a);
        if (!isnan(a) && isnan(x))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.accuracy at level %d claims a level with no price",
                                where, k);
    }
    seen[i] = 1 + index;
    return PRILLM_OK;
}

static PrillmErrorCode read_request(const cJSON *item, const char *where, const PrillmTtcMarket *mk, double *row,
                                    const PrillmJsonWarner *w, PrillmError *err) {
    static const char *const known[] = {"realised_accuracy", "realised_quality", NULL};
    PrillmErrorCode rc;
    if (!cJSON_IsObject(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    if ((rc = prillm__json_check_keys(item, where, known, NULL, w, err))) return rc;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(item, "realised_accuracy");
    const cJSON *qual = cJSON_GetObjectItemCaseSensitive(item, "realised_quality");
    if (acc && qual)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has both realised_accuracy and realised_quality: give one",
                            where);
    const cJSON *map = acc ? acc : qual;
    const char *key = acc ? "realised_accuracy" : "realised_quality";
    if (!map)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s needs realised_accuracy or realised_quality", where);
    if (!cJSON_IsObject(map))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be an object {model: number}", where, key);
    for (int i = 0; i < mk->n_models; i++) row[i] = NAN;
    for (const cJSON *v = map->child; v; v = v->next) {
        int i = model_index(mk, v->string ? v->string : "");
        if (i < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s: \"%.60s\" is not a model of the market", where,
                                key, v->string ? v->string : "");
        if (!isnan(row[i]))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s: \"%.60s\" appears twice", where, key,
                                mk->model_id[i]);
        if (!cJSON_IsNumber(v))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s.%.60s must be a number", where, key,
                                mk->model_id[i]);
        double x = v->valuedouble;
        if (acc) {
            if (!(x >= 0 && x <= 1))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s.%.60s must be in [0, 1], got %g", where, key,
                                    mk->model_id[i], x);
            x = prillm_ttc_quality(mk, mk->value_scale, x);
        } else if (!(fabs(x) <= 1e12)) {
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s.%.60s must be finite", where, key, mk->model_id[i]);
        }
        row[i] = x;
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_ttc_bids_parse_json(const char *text, size_t length, const PrillmTtcMarket *mk,
                                           PrillmWarnFn warn, void *warn_context, PrillmTtcBids **bids,
                                           double **realised, int *n_requests, PrillmError *err) {
    static const char *const known[] = {"description", "reserve", "bids", "requests", NULL};
    if (!bids) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "bids output pointer is NULL");
    *bids = NULL;
    if (realised) *realised = NULL;
    if (n_requests) *n_requests = 0;
    if (!text || !mk) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "bids text or market is NULL");
    PrillmErrorCode rc = prillm_ttc_market_validate(mk, err);
    if (rc) return rc;
    PrillmJsonWarner w = {warn, warn_context};
    cJSON *root;
    if ((rc = prillm__json_parse(text, length, "bids", "object", &root, err))) return rc;
    PrillmTtcBids *b = NULL;
    double *rows = NULL;
    int count = 0;
    int seen[PRILLM_TTC_MAX_MODELS] = {0};
    if (!cJSON_IsObject(root)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the bids file must be a JSON object");
        goto done;
    }
    if ((rc = prillm__json_check_keys(root, "bids file", known, NULL, &w, err))) goto done;
    if (!(b = prillm_ttc_bids_alloc(mk, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    if ((rc = prillm__json_get_number(root, "reserve", "", 0, &b->reserve, err))) goto done;
    if (!isnan(b->reserve) && !(fabs(b->reserve) <= 1e12)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "reserve must be finite");
        goto done;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "bids");
    if (!list) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"bids\" is missing");
        goto done;
    }
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"bids\" must be a non-empty array of objects");
        goto done;
    }
    int k = 0;
    for (const cJSON *item = list->child; item; item = item->next, k++) {
        char where[32];
        snprintf(where, sizeof where, "bids[%d]", k);
        if ((rc = read_bid(item, k, where, mk, b, seen, &w, err))) goto done;
    }
    const cJSON *requests = cJSON_GetObjectItemCaseSensitive(root, "requests");
    if (requests && !cJSON_IsNull(requests)) {
        if (!cJSON_IsArray(requests)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"requests\" must be an array of objects");
            goto done;
        }
        count = cJSON_GetArraySize(requests);
        if (count > 0 && !(rows = prillm__calloc((size_t)count * (size_t)mk->n_models, sizeof *rows))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the requests");
            goto done;
        }
        k = 0;
        for (const cJSON *item = requests->child; item; item = item->next, k++) {
            char where[32];
            snprintf(where, sizeof where, "requests[%d]", k);
            if ((rc = read_request(item, where, mk, rows + (size_t)k * (size_t)mk->n_models, &w, err))) goto done;
        }
    }
    rc = prillm_ttc_bids_validate(mk, b, err);
done:
    cJSON_Delete(root);
    if (rc) {
        prillm_ttc_bids_free(b);
        free(rows);
        return rc;
    }
    *bids = b;
    if (realised) *realised = rows;
    else free(rows);
    if (n_requests) *n_requests = count;
    prillm__clear_error(err);
    return PRILLM_OK;
}

PrillmErrorCode prillm_ttc_bids_read_json(FILE *stream, const PrillmTtcMarket *mk, PrillmWarnFn warn,
                                          void *warn_context, PrillmTtcBids **bids, double **realised, int *n_requests,
                                          PrillmError *err) {
    if (bids) *bids = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__json_read_stream(stream, "the bids", "error reading the bids file", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_ttc_bids_parse_json(buf, len, mk, warn, warn_context, bids, realised, n_requests, err);
    free(buf);
    return rc;
}
