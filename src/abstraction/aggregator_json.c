/*
 * The aggregation model file (docs/aggregator.md): format name and version,
 * the network's shape, the feature normalisation, and every weight tensor by
 * name and shape in the order of the flat parameter vector. Numbers are
 * written shortest round-trip, so a model reads back bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator_io.h"
#include "internal.h"
#include "set_transformer.h"

static const char *const feature_names[PRILLM_AGGREGATOR_FEATURES] = {
    "price", "log_capacity_share", "value", "mean_delay", "delay_spread",
    "price_gap", "value_gap", "log_capacity_ratio", "mean_delay_gap",
};

typedef struct {
    char name[32];
    long offset;
    int rows, cols;
} Tensor;

/* The tensors of a model, in parameter order; returns how many. */
static int tensors(const PrillmAggregator *m, Tensor *t) {
    int k = 0, d = m->width;
#define T(label, off, r, c) (snprintf(t[k].name, sizeof t[k].name, "%s", label), t[k].offset = (off), t[k].rows = (r), t[k].cols = (c), k++)
    T("embed.weight", m->embed_w, m->d_in, d);
    T("embed.bias", m->embed_b, 1, d);
    for (int b = 0; b < m->blocks; b++) {
        const PrillmSabOffsets *s = &m->sab[b];
        char name[32];
#define TB(suffix, off, r, c) (snprintf(name, sizeof name, "sab%d.%s", b, suffix), T(name, off, r, c))
        TB("query.weight", s->wq, d, d);
        TB("query.bias", s->bq, 1, d);
        TB("key.weight", s->wk, d, d);
        TB("key.bias", s->bk, 1, d);
        TB("value.weight", s->wv, d, d);
        TB("value.bias", s->bv, 1, d);
        if (m->layer_norm) TB("norm0.gain", s->g0, 1, d), TB("norm0.bias", s->c0, 1, d);
        TB("rff.weight", s->wo, d, d);
        TB("rff.bias", s->bo, 1, d);
        if (m->layer_norm) TB("norm1.gain", s->g1, 1, d), TB("norm1.bias", s->c1, 1, d);
#undef TB
    }
    T("output.weight", m->out_w, d, 2);
    T("output.bias", m->out_b, 1, 2);
#undef T
    return k;
}

#define MAX_TENSORS (4 + 12 * PRILLM__MAX_BLOCKS)

void prillm__write_numbers(FILE *out, const double *x, long count) {
    fputc('[', out);
    for (long k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_number(out, x[k]);
    }
    fputc(']', out);
}

void prillm__aggregator_write_object(const PrillmAggregator *m, FILE *out, const char *in) {
    fprintf(out, "{\n%s  \"format\": \"%s\",\n%s  \"version\": %d,\n", in, PRILLM__AGGREGATOR_FORMAT, in,
            PRILLM__AGGREGATOR_VERSION);
    fprintf(out, "%s  \"shape\": {\"features\": %d, \"width\": %d, \"heads\": %d, \"blocks\": %d, \"layer_norm\": %s, "
                 "\"seed\": \"%llu\"},\n",
            in, m->d_in, m->width, m->heads, m->blocks, m->layer_norm ? "true" : "false", m->seed);
    fprintf(out, "%s  \"features\": [", in);
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) fprintf(out, "%s\"%s\"", k ? ", " : "", feature_names[k]);
    fprintf(out, "],\n%s  \"feature_mean\": ", in);
    prillm__write_numbers(out, m->feature_mean, PRILLM_AGGREGATOR_FEATURES);
    fprintf(out, ",\n%s  \"feature_std\": ", in);
    prillm__write_numbers(out, m->feature_std, PRILLM_AGGREGATOR_FEATURES);
    fprintf(out, ",\n%s  \"tensors\": [\n", in);
    Tensor t[MAX_TENSORS];
    int count = tensors(m, t);
    for (int k = 0; k < count; k++) {
        fprintf(out, "%s    {\"name\": \"%s\", \"shape\": [%d, %d], \"values\": ", in, t[k].name, t[k].rows, t[k].cols);
        prillm__write_numbers(out, m->params + t[k].offset, (long)t[k].rows * t[k].cols);
        fprintf(out, "}%s\n", k + 1 < count ? "," : "");
    }
    fprintf(out, "%s  ]\n%s}", in, in);
}

PrillmErrorCode prillm_aggregator_write_json(const PrillmAggregator *model, FILE *stream, PrillmError *err) {
    if (!model || !stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model or stream is NULL");
    prillm__aggregator_write_object(model, stream, "");
    fputc('\n', stream);
    if (fflush(stream) || ferror(stream)) return prillm__fail(err, PRILLM_ERR_IO, "error writing the model");
    return PRILLM_OK;
}

/* ---- reading ---------------------------------------------------------- */

PrillmErrorCode prillm__json_numbers(const cJSON *array, const char *where, double *x, long count, PrillmError *err) {
    if (!array) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s is missing", where);
    if (!cJSON_IsArray(array)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an array", where);
    long size = cJSON_GetArraySize(array), k = 0;
    for (const cJSON *item = array->child; item; item = item->next, k++) {
        if (!cJSON_IsNumber(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%ld] must be a number", where, k);
        if (!isfinite(item->valuedouble) || fabs(item->valuedouble) > PRILLM_MAX_MAGNITUDE)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%ld] must be finite and at most %g in size", where, k,
                                PRILLM_MAX_MAGNITUDE);
        if (k < count) x[k] = item->valuedouble;
    }
    if (size != count)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must have %ld numbers, has %ld", where, count, size);
    return PRILLM_OK;
}

static PrillmErrorCode get_int(const cJSON *obj, const char *key, const char *where, int lo, int hi, int *out,
                               PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s is missing", where, key);
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) || item->valuedouble < lo ||
        item->valuedouble > hi)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be an integer in %d..%d", where, key, lo, hi);
    *out = (int)item->valuedouble;
    return PRILLM_OK;
}

PrillmErrorCode prillm__aggregator_from_json(const cJSON *root, const char *where, PrillmAggregator **model,
                                             PrillmError *err) {
    *model = NULL;
    if (!cJSON_IsObject(root)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be a JSON object", where);
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, PRILLM__AGGREGATOR_FORMAT) != 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.format must be \"%s\" (not an aggregation model?)", where,
                            PRILLM__AGGREGATOR_FORMAT);
    int version;
    char at[96];
    snprintf(at, sizeof at, "%s", where);
    if (get_int(root, "version", at, 0, 1000000, &version, err)) return err ? err->code : PRILLM_ERR_INVALID_DATA;
    if (version != PRILLM__AGGREGATOR_VERSION)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.version %d is not supported (this build reads %d)", where,
                            version, PRILLM__AGGREGATOR_VERSION);
    const cJSON *shape_item = cJSON_GetObjectItemCaseSensitive(root, "shape");
    snprintf(at, sizeof at, "%s.shape", where);
    if (!cJSON_IsObject(shape_item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", at);
    PrillmAggregatorShape shape;
    int features;
    if (get_int(shape_item, "features", at, 0, 1000000, &features, err) ||
        get_int(shape_item, "width", at, 1, 4096, &shape.width, err) ||
        get_int(shape_item, "heads", at, 1, 4096, &shape.heads, err) ||
        get_int(shape_item, "blocks", at, 0, PRILLM__MAX_BLOCKS, &shape.blocks, err))
        return err ? err->code : PRILLM_ERR_INVALID_DATA;
    if (features != PRILLM_AGGREGATOR_FEATURES)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.features is %d, this build computes %d features", at,
                            features, PRILLM_AGGREGATOR_FEATURES);
    const cJSON *ln = cJSON_GetObjectItemCaseSensitive(shape_item, "layer_norm");
    if (!cJSON_IsBool(ln)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.layer_norm must be true or false", at);
    shape.layer_norm = cJSON_IsTrue(ln);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(shape_item, "seed");
    shape.seed = 0;
    if (seed) {
        char *end = NULL;
        if (!cJSON_IsString(seed) || !seed->valuestring[0] || seed->valuestring[0] == '-' ||
            (shape.seed = strtoull(seed->valuestring, &end, 10), *end != '\0'))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.seed must be a decimal string", at);
    }
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (names) {
        int k = 0;
        if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) != PRILLM_AGGREGATOR_FEATURES)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.features must list the %d feature names", where,
                                PRILLM_AGGREGATOR_FEATURES);
        for (const cJSON *item = names->child; item; item = item->next, k++)
            if (!cJSON_IsString(item) || strcmp(item->valuestring, feature_names[k]) != 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.features[%d] must be \"%s\"", where, k,
                                    feature_names[k]);
    }
    /* the network's own checks (heads dividing width, ...) call a bad
     * shape an invalid argument; here it is bad data in the file, and the
     * message ("shape.heads ...") gets the file part in front */
    PrillmError local = {PRILLM_OK, ""};
    PrillmAggregator *m = prillm__aggregator_alloc_shape(&shape, &local);
    if (!m) {
        if (local.code == PRILLM_ERR_NO_MEMORY) return prillm__fail(err, local.code, "%s", local.message);
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s", where, local.message);
    }
    PrillmErrorCode rc;
    double mean[PRILLM_AGGREGATOR_FEATURES], std[PRILLM_AGGREGATOR_FEATURES];
    snprintf(at, sizeof at, "%s.feature_mean", where);
    if ((rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(root, "feature_mean"), at, mean,
                                   PRILLM_AGGREGATOR_FEATURES, err)))
        goto fail;
    snprintf(at, sizeof at, "%s.feature_std", where);
    if ((rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(root, "feature_std"), at, std,
                                   PRILLM_AGGREGATOR_FEATURES, err)))
        goto fail;
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++)
        if (!(std[k] > 0)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.feature_std[%d] must be > 0, got %g", where, k, std[k]);
            goto fail;
        }
    if ((rc = prillm_aggregator_set_normalisation(m, mean, std, &local))) {
        rc = prillm__fail(err, rc == PRILLM_ERR_NO_MEMORY ? rc : PRILLM_ERR_INVALID_DATA, "%s.%s", where,
                          local.message);
        goto fail;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    Tensor t[MAX_TENSORS];
    int count = tensors(m, t), k = 0;
    if (!cJSON_IsArray(list)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.tensors must be an array", where);
        goto fail;
    }
    if (cJSON_GetArraySize(list) != count) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.tensors must have %d entries for this shape, has %d", where,
                          count, cJSON_GetArraySize(list));
        goto fail;
    }
    for (const cJSON *item = list->child; item; item = item->next, k++) {
        snprintf(at, sizeof at, "%s.tensors[%d]", where, k);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (!cJSON_IsString(name) || strcmp(name->valuestring, t[k].name) != 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.name must be \"%s\"", at, t[k].name);
            goto fail;
        }
        double dims[2];
        char at_shape[160];
        snprintf(at_shape, sizeof at_shape, "%.95s (%.31s).shape", at, t[k].name);
        if ((rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(item, "shape"), at_shape, dims, 2, err)))
            goto fail;
        if (dims[0] != t[k].rows || dims[1] != t[k].cols) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be [%d, %d], got [%g, %g]", at_shape, t[k].rows,
                              t[k].cols, dims[0], dims[1]);
            goto fail;
        }
        snprintf(at_shape, sizeof at_shape, "%.95s (%.31s).values", at, t[k].name);
        if ((rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(item, "values"), at_shape,
                                       m->params + t[k].offset, (long)t[k].rows * t[k].cols, err)))
            goto fail;
    }
    *model = m;
    return PRILLM_OK;
fail:
    prillm_aggregator_free(m);
    return rc;
}

PrillmErrorCode prillm_aggregator_parse_json(const char *text, size_t length, PrillmAggregator **model,
                                             PrillmError *err) {
    if (!model) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model output pointer is NULL");
    *model = NULL;
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse_text(text, length, "model", &root, err);
    if (rc) return rc;
    rc = prillm__aggregator_from_json(root, "model", model, err);
    cJSON_Delete(root);
    if (!rc) prillm__clear_error(err);
    return rc;
}

PrillmErrorCode prillm_aggregator_read_json(FILE *stream, PrillmAggregator **model, PrillmError *err) {
    if (model) *model = NULL;
    char *text;
    size_t length;
    PrillmErrorCode rc = prillm__read_stream(stream, "the model file", &text, &length, err);
    if (rc) return rc;
    rc = prillm_aggregator_parse_json(text, length, model, err);
    free(text);
    return rc;
}
