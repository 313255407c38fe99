/* The LMaaS input file (docs/lmaas.md, "File format"): JSON in and out. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/lmaas.h"

typedef struct {
    PrillmWarnFn warn;
    void *context;
} Warner;

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate keys are an error (cJSON would silently keep the first); unknown
 * keys are warned about, a few per object, so a typo does not pass unseen. */
static PrillmErrorCode check_keys(const cJSON *object, const char *where, const char *const *known, const Warner *w,
                                  PrillmError *err) {
    enum { MAX_WARNINGS = 5 };
    size_t count = 0, unknown = 0;
    for (const cJSON *a = object->child; a; a = a->next) count++;
    if (count == 0) return PRILLM_OK;
    const char **keys = malloc(count * sizeof *keys);
    if (!keys) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory checking %s", where);
    size_t k = 0;
    for (const cJSON *a = object->child; a; a = a->next) {
        keys[k++] = a->string;
        int is_known = 0;
        for (const char *const *name = known; *name && !is_known; name++) is_known = strcmp(*name, a->string) == 0;
        if (!is_known && ++unknown <= MAX_WARNINGS && w->warn) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s: unknown key \"%.200s\" ignored", where, a->string);
            w->warn(w->context, msg);
        }
    }
    qsort(keys, count, sizeof *keys, compare_strings);
    PrillmErrorCode rc = PRILLM_OK;
    for (k = 1; k < count && rc == PRILLM_OK; k++)
        if (strcmp(keys[k], keys[k - 1]) == 0)
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s: duplicate key \"%.200s\"", where, keys[k]);
    free(keys);
    return rc;
}

static PrillmErrorCode get_number(const cJSON *object, const char *key, const char *where, int required, double *out,
                                  PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s is missing", where, key);
        return PRILLM_OK;
    }
    if (!cJSON_IsNumber(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a number", where, key);
    *out = item->valuedouble;
    return PRILLM_OK;
}

static PrillmErrorCode get_id(const cJSON *object, const char *where, char **out, PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, "id");
    if (!item) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id is missing", where);
    if (!cJSON_IsString(item) || !item->valuestring)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id must be a string", where);
    if (!(*out = prillm__strdup(item->valuestring)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s.id", where);
    return PRILLM_OK;
}

static const cJSON *get_object(const cJSON *root, const char *key, PrillmError *err, PrillmErrorCode *rc) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" is missing", key);
    else if (!cJSON_IsObject(item)) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be an object", key);
    else return item;
    return NULL;
}

static const cJSON *get_array(const cJSON *root, const char *key, PrillmError *err, PrillmErrorCode *rc) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" is missing", key);
    else if (!cJSON_IsArray(item)) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be an array", key);
    else if (cJSON_GetArraySize(item) == 0) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" has no entries", key);
    else return item;
    return NULL;
}

typedef struct {
    const char *key;
    double *value;
} Field;

static PrillmErrorCode read_fields(const cJSON *object, const char *where, const Field *fields, int count,
                                   const char *const *known, const Warner *w, PrillmError *err) {
    PrillmErrorCode rc;
    if (!cJSON_IsObject(object)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    if ((rc = check_keys(object, where, known, w, err))) return rc;
    for (int k = 0; k < count; k++)
        if ((rc = get_number(object, fields[k].key, where, 1, fields[k].value, err))) return rc;
    return PRILLM_OK;
}

static PrillmErrorCode read_market(const cJSON *root, PrillmLmaasMarket **out, const Warner *w, PrillmError *err) {
    static const char *const known_root[] = {"environment", "seller", "models", "customers", NULL};
    static const char *const known_env[] = {"path_loss_exponent", "reference_gain", "noise_power", "premium",
                                            "budget", "max_rental", NULL};
    static const char *const known_seller[] = {"ssl_cost", "price_min", "price_max", NULL};
    static const char *const known_model[] = {"id", "compression", "fidelity", "serving_cost", "finetune_cost", "price", NULL};
    static const char *const known_customer[] = {"id", "data_rate", "bandwidth", "power", "distance", "energy_price",
                                                 "energy_capacity", "value", "demand", "demand_deviation",
                                                 "gain_deviation", NULL};
    PrillmErrorCode rc = PRILLM_OK;
    if (!cJSON_IsObject(root)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the LMaaS market must be a JSON object");
    if ((rc = check_keys(root, "market", known_root, w, err))) return rc;
    const cJSON *env = get_object(root, "environment", err, &rc);
    if (!env) return rc;
    const cJSON *seller = get_object(root, "seller", err, &rc);
    if (!seller) return rc;
    const cJSON *models = get_array(root, "models", err, &rc);
    if (!models) return rc;
    const cJSON *customers = get_array(root, "customers", err, &rc);
    if (!customers) return rc;
    PrillmLmaasMarket *mk = prillm_lmaas_alloc(cJSON_GetArraySize(customers), cJSON_GetArraySize(models), err);
    if (!mk) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    *out = mk;
    Field env_fields[] = {{"path_loss_exponent", &mk->path_loss_exponent}, {"reference_gain", &mk->reference_gain},
                          {"noise_power", &mk->noise_power},               {"premium", &mk->premium},
                          {"budget", &mk->budget},                         {"max_rental", &mk->max_rental}};
    if ((rc = read_fields(env, "environment", env_fields, 6, known_env, w, err))) return rc;
    Field seller_fields[] = {{"ssl_cost", &mk->ssl_cost}, {"price_min", &mk->price_min}, {"price_max", &mk->price_max}};
    if ((rc = read_fields(seller, "seller", seller_fields, 3, known_seller, w, err))) return rc;
    int j = 0;
    for (const cJSON *item = models->child; item; item = item->next, j++) {
        char where[48];
        snprintf(where, sizeof where, "models[%d]", j);
        Field f[] = {{"compression", &mk->compression[j]},
                     {"fidelity", &mk->fidelity[j]},
                     {"serving_cost", &mk->serving_cost[j]},
                     {"finetune_cost", &mk->finetune_cost[j]}};
        if ((rc = read_fields(item, where, f, 4, known_model, w, err))) return rc;
        if ((rc = get_id(item, where, &mk->model_id[j], err))) return rc;
        if ((rc = get_number(item, "price", where, 0, &mk->price[j], err))) return rc;
    }
    int i = 0;
    for (const cJSON *item = customers->child; item; item = item->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "customers[%d]", i);
        Field f[] = {{"data_rate", &mk->data_rate[i]},
                     {"bandwidth", &mk->bandwidth[i]},
                     {"power", &mk->power[i]},
                     {"distance", &mk->distance[i]},
                     {"energy_price", &mk->energy_price[i]},
                     {"energy_capacity", &mk->energy_capacity[i]},
                     {"value", &mk->value[i]},
                     {"demand", &mk->demand[i]},
                     {"demand_deviation", &mk->demand_deviation[i]},
                     {"gain_deviation", &mk->gain_deviation[i]}};
        if ((rc = read_fields(item, where, f, 10, known_customer, w, err))) return rc;
        if ((rc = get_id(item, where, &mk->customer_id[i], err))) return rc;
    }
    return prillm_lmaas_validate(mk, err);
}

static void line_column(const char *text, const char *at, int *line, int *column) {
    *line = 1;
    *column = 1;
    for (const char *c = text; c < at && *c; c++) {
        if (*c == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

PrillmErrorCode prillm_lmaas_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                        PrillmLmaasMarket **market, PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    Warner w = {warn, warn_context};
    char *buf = malloc(length + 1);
    if (!buf) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading JSON");
    memcpy(buf, text, length);
    buf[length] = '\0';
    PrillmErrorCode rc = PRILLM_OK;
    cJSON *root = NULL;
    PrillmLmaasMarket *mk = NULL;
    if (strlen(buf) != length) {
        int line, col;
        line_column(buf, buf + strlen(buf), &line, &col);
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "malformed JSON at line %d, column %d: NUL byte in input", line, col);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, length, &end, 0);
    if (!root) {
        int line, col;
        line_column(buf, end ? end : buf, &line, &col);
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "malformed JSON at line %d, column %d%s", line, col,
                          strspn(buf, " \t\r\n") == length ? ": empty input" : "");
        goto done;
    }
    for (const char *c = end; c && *c; c++)
        if (!strchr(" \t\r\n", *c)) {
            int line, col;
            line_column(buf, c, &line, &col);
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "malformed JSON at line %d, column %d: text after the market object",
                              line, col);
            goto done;
        }
    rc = read_market(root, &mk, &w, err);
done:
    cJSON_Delete(root);
    free(buf);
    if (rc) {
        prillm_lmaas_free(mk);
        return rc;
    }
    *market = mk;
    prillm__clear_error(err);
    return PRILLM_OK;
}

PrillmErrorCode prillm_lmaas_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context, PrillmLmaasMarket **market,
                                       PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the LMaaS market");
    for (;;) {
        if (len == cap) {
            char *bigger = cap > ((size_t)-1) / 2 ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the LMaaS market");
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, stream);
        len += got;
        if (got == 0) break;
    }
    if (ferror(stream)) {
        free(buf);
        return prillm__fail(err, PRILLM_ERR_IO, "error reading the LMaaS market");
    }
    PrillmErrorCode rc = prillm_lmaas_parse_json(buf, len, warn, warn_context, market, err);
    free(buf);
    return rc;
}

static void write_pair(FILE *out, const char *key, double value, int first) {
    fprintf(out, "%s\"%s\": ", first ? "" : ", ", key);
    prillm__json_number(out, value);
}

PrillmErrorCode prillm_lmaas_write_json(const PrillmLmaasMarket *mk, FILE *out, PrillmError *err) {
    if (!mk || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or stream is NULL");
    fputs("{\n  \"environment\": {", out);
    write_pair(out, "path_loss_exponent", mk->path_loss_exponent, 1);
    write_pair(out, "reference_gain", mk->reference_gain, 0);
    write_pair(out, "noise_power", mk->noise_power, 0);
    write_pair(out, "premium", mk->premium, 0);
    write_pair(out, "budget", mk->budget, 0);
    write_pair(out, "max_rental", mk->max_rental, 0);
    fputs("},\n  \"seller\": {", out);
    write_pair(out, "ssl_cost", mk->ssl_cost, 1);
    write_pair(out, "price_min", mk->price_min, 0);
    write_pair(out, "price_max", mk->price_max, 0);
    fputs("},\n  \"models\": [\n", out);
    for (int j = 0; j < mk->n_models; j++) {
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->model_id[j]);
        write_pair(out, "compression", mk->compression[j], 0);
        write_pair(out, "fidelity", mk->fidelity[j], 0);
        write_pair(out, "serving_cost", mk->serving_cost[j], 0);
        write_pair(out, "finetune_cost", mk->finetune_cost[j], 0);
        if (!isnan(mk->price[j])) write_pair(out, "price", mk->price[j], 0);
        fputs(j + 1 < mk->n_models ? "},\n" : "}\n", out);
    }
    fputs("  ],\n  \"customers\": [\n", out);
    for (int i = 0; i < mk->n_customers; i++) {
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->customer_id[i]);
        write_pair(out, "data_rate", mk->data_rate[i], 0);
        write_pair(out, "bandwidth", mk->bandwidth[i], 0);
        write_pair(out, "power", mk->power[i], 0);
        write_pair(out, "distance", mk->distance[i], 0);
        write_pair(out, "energy_price", mk->energy_price[i], 0);
        write_pair(out, "energy_capacity", mk->energy_capacity[i], 0);
        write_pair(out, "value", mk->value[i], 0);
        write_pair(out, "demand", mk->demand[i], 0);
        write_pair(out, "demand_deviation", mk->demand_deviation[i], 0);
        write_pair(out, "gain_deviation", mk->gain_deviation[i], 0);
        fputs(i + 1 < mk->n_customers ? "},\n" : "}\n", out);
    }
    fputs("  ]\n}\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "error writing the LMaaS market");
    return PRILLM_OK;
}
