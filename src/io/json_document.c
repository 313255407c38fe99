/* The shared half of every JSON reader: see json_document.h. */
#define _POSIX_C_SOURCE 200809L
#include "json_document.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define PRILLM__STR2(x) #x
#define PRILLM__STR(x) PRILLM__STR2(x)
#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

const char *prillm__input_limit_text(size_t limit, char *buf, size_t size) {
    if (limit >= ((size_t)1 << 30) && limit % ((size_t)1 << 30) == 0)
        snprintf(buf, size, "%zu GiB", limit >> 30);
    else if (limit >= ((size_t)1 << 20) && limit % ((size_t)1 << 20) == 0)
        snprintf(buf, size, "%zu MiB", limit >> 20);
    else
        snprintf(buf, size, "%zu-byte", limit);
    return buf;
}

PrillmErrorCode prillm__input_too_large(PrillmError *err, const char *what, size_t limit) {
    char text[48];
    return prillm__fail(err, PRILLM_ERR_PARSE, "input exceeds the %s limit (PRILLM_MAX_INPUT_BYTES) reading %s",
                        prillm__input_limit_text(limit, text, sizeof text), what);
}

/* The bytes left in a regular file (0: not a regular file, or at its end).
 * A regular file says its size up front: no need to read a gigabyte to
 * learn that it is too big, nor to grow the buffer step by step. Only a
 * hint: the read goes on past it, or stops short, as the file does. */
static unsigned long long known_bytes_left(FILE *stream) {
    struct stat st;
    if (fstat(fileno(stream), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) return 0;
    long at = ftell(stream);
    if (at < 0) at = 0; /* unknown (a byte pushed back at the start): the whole file */
    if (at >= st.st_size) return 0; /* at or past its end */
    return (unsigned long long)st.st_size - (unsigned long long)at;
}

PrillmErrorCode prillm__read_stream_limited(FILE *stream, const char *what, const char *io_error, size_t limit,
                                            char **text, size_t *length, PrillmError *err) {
    *text = NULL;
    *length = 0;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    if (limit > ((size_t)-1) / 2) limit = ((size_t)-1) / 2;
    unsigned long long left = known_bytes_left(stream);
    if (left > (unsigned long long)limit) return prillm__input_too_large(err, what, limit);
    /* at most limit + 1 bytes are held (one more than allowed tells that
     * there is more), plus the terminating NUL */
    size_t cap = limit + 2 < ((size_t)1 << 16) ? limit + 2 : ((size_t)1 << 16), len = 0;
    /* a file of known size: read into one buffer of its size (plus the
     * byte that tells it grew, and the NUL), in huge pages when large */
    if (left > 0) cap = (size_t)left + 2;
    char *buf = prillm__malloc_array(cap, 1);
    if (!buf) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", what);
    for (;;) {
        if (len + 1 >= cap) {
            if (len > limit) break;
            size_t want = cap * 2 < limit + 2 ? cap * 2 : limit + 2;
            char *bigger = realloc(buf, want);
            if (!bigger) {
                free(buf);
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", what);
            }
            buf = bigger;
            cap = want;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, stream);
        len += got;
        if (got == 0 || len > limit) break;
    }
    if (len > limit) {
        free(buf);
        return prillm__input_too_large(err, what, limit);
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

PrillmErrorCode prillm__json_read_stream(FILE *stream, const char *what, const char *io_error, char **text,
                                         size_t *length, PrillmError *err) {
    return prillm__read_stream_limited(stream, what, io_error, PRILLM_MAX_INPUT_BYTES, text, length, err);
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

/* Open arrays and objects before at (strings skipped): how deep the parser
 * was when it stopped. */
static int depth_at(const char *text, const char *at) {
    int depth = 0, in_string = 0;
    for (const char *c = text; c < at && *c; c++) {
        if (in_string) {
            if (*c == '\\' && c + 1 < at) c++;
            else if (*c == '"') in_string = 0;
        } else if (*c == '"') {
            in_string = 1;
        } else if (*c == '[' || *c == '{') {
            depth++;
        } else if (*c == ']' || *c == '}') {
            depth--;
        }
    }
    return depth;
}

/* Whether any string (key or value) under item is not UTF-8: the quick
 * pass over every node (a 10000 x 500 market has 10 million), building no
 * path; find_bad_utf8 then names the first one. */
static int has_bad_utf8(const cJSON *item) {
    for (const cJSON *child = item->child; child; child = child->next) {
        if (child->string && prillm__utf8_invalid_at(child->string, strlen(child->string)) != strlen(child->string))
            return 1;
        if (cJSON_IsString(child) && child->valuestring &&
            prillm__utf8_invalid_at(child->valuestring, strlen(child->valuestring)) != strlen(child->valuestring))
            return 1;
        if (child->child && has_bad_utf8(child)) return 1;
    }
    return 0;
}

/* The first string (key or value) that is not UTF-8, by its path
 * ("providers[3].id"): ids are copied into every output, which must stay
 * text. */
static int find_bad_utf8(const cJSON *item, char *path, size_t used, size_t size, const char **what) {
    int index = 0;
    for (const cJSON *child = item->child; child; child = child->next, index++) {
        size_t at = used;
        if (cJSON_IsObject(item)) {
            const char *key = child->string ? child->string : "";
            if (prillm__utf8_invalid_at(key, strlen(key)) != strlen(key)) {
                *what = "has a key that is";
                return 1;
            }
            int w = snprintf(path + used, size - used, "%s%s", used ? "." : "", key);
            at = w < 0 ? used : MIN_SIZE(used + (size_t)w, size - 1);
        } else {
            int w = snprintf(path + used, size - used, "[%d]", index);
            at = w < 0 ? used : MIN_SIZE(used + (size_t)w, size - 1);
        }
        if (cJSON_IsString(child) && child->valuestring) {
            size_t n = strlen(child->valuestring);
            if (prillm__utf8_invalid_at(child->valuestring, n) != n) {
                *what = "is";
                return 1;
            }
        }
        if (child->child && find_bad_utf8(child, path, at, size, what)) return 1;
        path[used] = '\0';
    }
    return 0;
}

const char *prillm__json_escaped_nul(const char *text, size_t length) {
    int in_string = 0;
    for (size_t k = 0; k < length; k++) {
        char c = text[k];
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && k + 1 < length) {
            if (text[k + 1] == 'u' && k + 5 < length && memcmp(text + k + 2, "0000", 4) == 0) return text + k;
            k++; /* the escaped character: \" does not end the string */
        }
    }
    return NULL;
}

PrillmErrorCode prillm__json_parse(const char *text, size_t length, const char *what, const char *document,
                                   cJSON **root, PrillmError *err) {
    *root = NULL;
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text is NULL");
    const char *prefix = what ? what : "", *colon = what ? ": " : "";
    /* a byte order mark is not JSON, but editors on Windows write one (cJSON
     * would skip one more: only one is text) */
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        length -= 3;
        if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
            return prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line 1, column 1: a second byte order mark",
                                prefix, colon);
    }
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
    /* cJSON decodes \u0000 into a NUL that ends the C string there: an id
     * "model-0\u0000x" would read as "model-0" */
    const char *nul = *root ? prillm__json_escaped_nul(buf, end ? (size_t)(end - buf) : length) : NULL;
    if (nul) {
        line_column(buf, nul, &line, &col);
        rc = prillm__fail(err, PRILLM_ERR_PARSE,
                          "%s%smalformed JSON at line %d, column %d: NUL character (\\u0000) in a string", prefix,
                          colon, line, col);
        cJSON_Delete(*root);
        *root = NULL;
        goto done;
    }
    if (!*root) {
        line_column(buf, end ? end : buf, &line, &col);
        const char *why = "";
        if (strspn(buf, " \t\r\n") == length) why = ": empty input";
        else if (end && depth_at(buf, end) >= CJSON_NESTING_LIMIT) why = ": nesting deeper than " PRILLM__STR(CJSON_NESTING_LIMIT) " levels";
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line %d, column %d%s", prefix, colon, line, col,
                          why);
        goto done;
    }
    for (const char *c = end; c && *c; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') {
            line_column(buf, c, &line, &col);
            rc = prillm__fail(err, PRILLM_ERR_PARSE, "%s%smalformed JSON at line %d, column %d: text after the %s", prefix,
                              colon, line, col, document);
            cJSON_Delete(*root);
            *root = NULL;
            goto done;
        }
    char path[256] = "";
    const char *problem = NULL;
    if (cJSON_IsString(*root) && (*root)->valuestring &&
        prillm__utf8_invalid_at((*root)->valuestring, strlen((*root)->valuestring)) != strlen((*root)->valuestring)) {
        snprintf(path, sizeof path, "the top-level string");
        problem = "is";
    } else if (has_bad_utf8(*root)) {
        find_bad_utf8(*root, path, 0, sizeof path, &problem);
    }
    if (problem) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s%s %s not valid UTF-8", prefix, colon,
                          path[0] ? path : "the top-level object", problem);
        cJSON_Delete(*root);
        *root = NULL;
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
        if (required)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                item ? "%s.%s is missing (null, where a number is needed)" : "%s.%s is missing", where,
                                key);
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
