/* The LMaaS input file (docs/lmaas.md, "File format"): JSON in and out. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_document.h"
#include "prillm/lmaas.h"

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
                                   const char *const *known, const PrillmJsonWarner *w, PrillmError *err) {
    PrillmErrorCode rc;
    if (!cJSON_IsObject(object)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    if ((rc = prillm__json_check_keys(object, where, known, NULL, w, err))) return rc;
    for (int k = 0; k < count; k++)
        if ((rc = prillm__json_get_number(object, fields[k].key, where, 1, fields[k].value, err))) return rc;
    return PRILLM_OK;
}

static PrillmErrorCode read_market(const cJSON *root, PrillmLmaasMarket **out, const PrillmJsonWarner *w, PrillmError *err) {
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
    if ((rc = prillm__json_check_keys(root, "market", known_root, NULL, w, err))) return rc;
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
        if ((rc = prillm__json_get_id(item, where, &mk->model_id[j], err))) return rc;
        if ((rc = prillm__json_get_number(item, "price", where, 0, &mk->price[j], err))) return rc;
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
        if ((rc = prillm__json_get_id(item, where, &mk->customer_id[i], err))) return rc;
    }
    return prillm_lmaas_validate(mk, err);
}

PrillmErrorCode prillm_lmaas_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                        PrillmLmaasMarket **market, PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    PrillmJsonWarner w = {warn, warn_context};
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse(text, length, NULL, "market object", &root, err);
    if (rc) return rc;
    PrillmLmaasMarket *mk = NULL;
    rc = read_market(root, &mk, &w, err);
    cJSON_Delete(root);
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
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__json_read_stream(stream, "the LMaaS market", NULL, &buf, &len, err);
    if (rc) return rc;
    rc = prillm_lmaas_parse_json(buf, len, warn, warn_context, market, err);
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
