/* The shared half of every JSON reader: see json_document.h. */
#include "json_document.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

PrillmErrorCode prillm__json_read_stream(FILE *stream, const char *what, const char *io_error, char **text,
                                         size_t *length, PrillmError *err) {
    *text = NULL;
    *length = 0;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", what);
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = cap > ((size_t)-1) / 2 ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", what);
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, stream);
        len += got;
        if (got == 0) break;
    }
    if (ferror(stream)) {
        free(buf);
        if (io_error) return prillm__fail(err, PRILLM_ERR_IO, "%s", io_error);
        return prillm__fail(err, PRILLM_ERR_IO, "error reading %s", what);
    }
    buf[len] = '\0';
    *text = buf;
    *length = len;
    return PRILLM_OK;
}

PrillmErrorCode prillm__read_stream(FILE *stream, const char *what, char **text, size_t *length, PrillmError *err) {
    return prillm__json_read_stream(stream, what, NULL, text, length, err);
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

PrillmErrorCode prillm__json_parse(const char *text, size_t length, const char *what, const char *document,
                                   cJSON **root, PrillmError *err) {
    *root = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    const char *prefix = what ? what : "", *colon = what ? ": " : "";
    /* cJSON needs a terminated buffer and would stop at an embedded NUL */
    char *buf = malloc(length + 1);
    if (!buf) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", what ? what : "JSON");
    memcpy(buf, text, length);
    buf[length] = '\0';
    int line, col;
    PrillmErrorCode rc = PRILLM_OK;
    if (strlen(buf) != length) {
        line_column(buf, buf + strlen(buf), &line, &col);
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line %d, column %d: NUL byte in input", prefix,
                          colon, line, col);
        goto done;
    }
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(buf, length, &end, 0);
    if (!*root) {
        line_column(buf, end ? end : buf, &line, &col);
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line %d, column %d%s", prefix, colon, line, col,
                          strspn(buf, " \t\r\n") == length ? ": empty input" : "");
        goto done;
    }
    for (const char *c = end; c && *c; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') {
            line_column(buf, c, &line, &col);
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line %d, column %d: text after the %s", prefix,
                              colon, line, col, document);
            cJSON_Delete(*root);
            *root = NULL;
            break;
        }
done:
    free(buf);
    return rc;
}

PrillmErrorCode prillm__json_parse_text(const char *text, size_t length, const char *what, cJSON **root,
                                        PrillmError *err) {
    return prillm__json_parse(text, length, what, "object", root, err);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_known(const char *key, const char *const *known, int (*also_known)(const char *)) {
    for (const char *const *name = known; *name; name++)
        if (strcmp(*name, key) == 0) return 1;
    return also_known && also_known(key);
}

/* Sorting keeps a hostile file with 1e5 keys at O(k log k), not O(k^2),
 * and the warning cap keeps it from printing 1e5 lines. */
PrillmErrorCode prillm__json_check_keys(const cJSON *object, const char *where, const char *const *known,
                                        int (*also_known)(const char *key), const PrillmJsonWarner *w,
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
        if (!is_known(a->string, known, also_known) && ++unknown <= MAX_WARNINGS && w->warn) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s: unknown key \"%.200s\" ignored", where, a->string);
            w->warn(w->context, msg);
        }
    }
    if (unknown > MAX_WARNINGS && w->warn) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: %zu more unknown keys ignored", where, unknown - MAX_WARNINGS);
        w->warn(w->context, msg);
    }
    qsort(keys, count, sizeof *keys, compare_strings);
    PrillmErrorCode rc = PRILLM_OK;
    for (k = 1; k < count && rc == PRILLM_OK; k++)
        if (strcmp(keys[k], keys[k - 1]) == 0)
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s: duplicate key \"%.200s\"", where, keys[k]);
    free(keys);
    return rc;
}

PrillmErrorCode prillm__json_get_number(const cJSON *object, const char *key, const char *where, int required,
                                        double *out, PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s is missing", where, key);
        return PRILLM_OK;
    }
    if (!cJSON_IsNumber(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a number", where, key);
    *out = item->valuedouble;
    return PRILLM_OK;
}

PrillmErrorCode prillm__json_get_id(const cJSON *object, const char *where, char **out, PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, "id");
    if (!item) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id is missing", where);
    if (!cJSON_IsString(item) || !item->valuestring)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id must be a string", where);
    if (!(*out = prillm__strdup(item->valuestring)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s.id", where);
    return PRILLM_OK;
}
