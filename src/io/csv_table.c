/* In-memory CSV tables for the observation readers. */
#include "csv_table.h"

#include "json_document.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

/* "row R column NAME" of field number k of the file (the header is row 1);
 * the column by number while the header is still being read. */
static void field_place(char **fields, int columns, size_t k, char *buf, size_t size) {
    if (columns <= 0) {
        snprintf(buf, size, "row 1 column %zu", k + 1);
        return;
    }
    size_t row = k / (size_t)columns, col = k % (size_t)columns;
    snprintf(buf, size, "row %zu column %.100s", row + 1, fields[col]);
}

static char *read_file(const char *path, size_t limit, size_t *length, PrillmError *err, PrillmErrorCode *rc) {
    FILE *in = fopen(path, "rb");
    if (!in) {
        *rc = prillm__fail(err, PRILLM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf;
    *rc = prillm__read_stream_limited(in, path, NULL, limit, &buf, length, err);
    fclose(in);
    return *rc ? NULL : buf;
}

static int ends_with(const char *text, const char *suffix) {
    size_t n = strlen(text), k = strlen(suffix);
    return n >= k && strcmp(text + n - k, suffix) == 0;
}

/* A gzip-compressed file, inflated into memory (NUL-terminated); at most
 * limit bytes once inflated, so a small bomb cannot fill the memory. */
static char *read_gzip(const char *path, size_t limit, size_t *length, PrillmError *err, PrillmErrorCode *rc) {
    gzFile in = gzopen(path, "rb");
    if (!in) {
        *rc = prillm__fail(err, PRILLM_ERR_IO, "cannot open %s: %s", path, errno ? strerror(errno) : "gzopen failed");
        return NULL;
    }
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            gzclose(in);
            *rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", path);
            return NULL;
        }
        if (used == cap) {
            size_t want = cap <= ((size_t)-1 - 1) / 2 - 1 ? 2 * cap : 0;
            if (want > limit + 1) want = limit + 1; /* room for the byte that tells */
            char *bigger = want > cap ? realloc(buf, want + 1) : NULL;
            if (!bigger) free(buf);
            buf = bigger;
            cap = want;
            continue;
        }
        /* never more than one byte past the limit */
        size_t want = cap - used > (1u << 30) ? (1u << 30) : cap - used;
        if (limit - MIN_SIZE(used, limit) + 1 < want) want = limit - MIN_SIZE(used, limit) + 1;
        int got = gzread(in, buf + used, (unsigned)want);
        if (got < 0) {
            int code;
            const char *why = gzerror(in, &code);
            *rc = prillm__fail(err, PRILLM_ERR_IO, "cannot read %s: %s", path, why ? why : "gzip error");
            free(buf);
            gzclose(in);
            return NULL;
        }
        if (got == 0) break;
        used += (size_t)got;
        if (used > limit) {
            *rc = prillm__input_too_large(err, path, limit);
            free(buf);
            gzclose(in);
            return NULL;
        }
    }
    gzclose(in);
    buf[used] = '\0';
    *length = used;
    return buf;
}

/* Split in place: fields become NUL-terminated strings inside text. */
static PrillmErrorCode split(PrillmCsvTable *t, char *begin, size_t length, PrillmError *err) {
    size_t cap = 1024, count = 0, row_start = 0; /* fields[row_start..count): this row's */
    char **fields = malloc(cap * sizeof *fields);
    if (!fields) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", t->path);
    char *p = begin, *end = begin + length, *out;
    long line = 1, row_line = 1; /* row_line: where the row began (a quoted
                                    field may span lines) */
    int columns = -1, in_row = 0;
    /* a row still open at the end ended with a comma: its last field is
     * empty, and the row is counted and checked like any other (the text is
     * NUL-terminated, so that field is the terminator) */
    while (p < end || in_row) {
        if (!in_row && (*p == '\n' || *p == '\r')) { /* blank line */
            if (*p == '\n') line++;
            p++;
            continue;
        }
        if (!in_row) row_start = count, row_line = line;
        in_row = 1;
        char *start = out = p;
        if (*p == '"') {
            long quote_line = line;
            p++;
            for (;;) {
                if (p >= end) {
                    free(fields);
                    return prillm__fail(err, PRILLM_ERR_PARSE, "%s line %ld: unterminated quoted field (the quote "
                                        "opens there)", t->path, quote_line);
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') line++;
                if (*p == '\0') goto nul;
                *out++ = *p++;
            }
            if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
                free(fields);
                return prillm__fail(err, PRILLM_ERR_PARSE, "%s line %ld: text after a closing quote", t->path, line);
            }
        } else {
            while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
                if (*p == '\0') goto nul;
                p++;
            }
            out = p;
        }
        char sep = p < end ? *p : '\n';
        if (count == cap) {
            char **bigger = realloc(fields, 2 * cap * sizeof *fields);
            if (!bigger) {
                free(fields);
                return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", t->path);
            }
            fields = bigger;
            cap *= 2;
        }
        fields[count++] = start;
        if (p < end) p++;
        if (sep == '\r' && p < end && *p == '\n') p++;
        *out = '\0';
        if (sep != ',') {
            /* each row on its own: a row with twice the header's fields
             * must not pass as two rows */
            if (columns < 0) columns = (int)count;
            else if (count - row_start != (size_t)columns) {
                free(fields);
                if (row_line != line)
                    return prillm__fail(err, PRILLM_ERR_PARSE, "%s lines %ld-%ld (one row, a quoted field spanning "
                                        "lines): %zu fields, the header has %d", t->path, row_line, line,
                                        count - row_start, columns);
                return prillm__fail(err, PRILLM_ERR_PARSE, "%s line %ld: %zu fields, the header has %d", t->path, line,
                                    count - row_start, columns);
            }
            line++;
            in_row = 0;
        }
    }
    if (columns <= 0) {
        free(fields);
        return prillm__fail(err, PRILLM_ERR_PARSE, "%s is empty", t->path);
    }
    /* every field is copied into messages and outputs (ids above all),
     * which must stay text */
    for (size_t k = 0; k < count; k++) {
        size_t n = strlen(fields[k]);
        if (prillm__utf8_invalid_at(fields[k], n) != n) {
            char place[160];
            field_place(fields, k < (size_t)columns ? 0 : columns, k, place, sizeof place);
            free(fields);
            return prillm__fail(err, PRILLM_ERR_PARSE, "%s %s: not valid UTF-8", t->path, place);
        }
    }
    t->columns = columns;
    t->name = fields;
    t->field = fields + columns;
    t->rows = (long)(count / (size_t)columns) - 1;
    return PRILLM_OK;
nul: {
        /* a NUL would end the field early: "12\0" + "34" read as 12 */
        char place[160];
        field_place(fields, columns, count, place, sizeof place);
        free(fields);
        return prillm__fail(err, PRILLM_ERR_PARSE, "%s %s: NUL byte in the field", t->path, place);
    }
}

PrillmErrorCode prillm__csv_read(const char *path, PrillmCsvTable *t, PrillmError *err) {
    return prillm__csv_read_limited(path, PRILLM_MAX_INPUT_BYTES, t, err);
}

PrillmErrorCode prillm__csv_read_limited(const char *path, size_t limit, PrillmCsvTable *t, PrillmError *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    size_t length = 0;
    PrillmErrorCode rc = PRILLM_OK;
    t->text = ends_with(path, ".gz") ? read_gzip(path, limit, &length, err, &rc)
                                     : read_file(path, limit, &length, err, &rc);
    if (!t->text) return rc;
    /* a byte order mark (spreadsheets write one) would become part of the
     * first column's name */
    size_t skip = length >= 3 && memcmp(t->text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if ((rc = split(t, t->text + skip, length - skip, err))) {
        free(t->text);
        t->text = NULL;
    }
    return rc;
}

PrillmErrorCode prillm__csv_parse(const char *name, const char *text, size_t length, PrillmCsvTable *t,
                                  PrillmError *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", name ? name : "CSV");
    if (!text) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "CSV text is NULL");
    if (!(t->text = malloc(length + 1))) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", t->path);
    memcpy(t->text, text, length);
    t->text[length] = '\0';
    size_t skip = length >= 3 && memcmp(t->text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    PrillmErrorCode rc = split(t, t->text + skip, length - skip, err);
    if (rc) {
        free(t->text);
        t->text = NULL;
    }
    return rc;
}

void prillm__csv_free(PrillmCsvTable *t) {
    if (!t) return;
    free(t->text);
    free(t->name);
    memset(t, 0, sizeof *t);
}

int prillm__csv_column(const PrillmCsvTable *t, const char *name) {
    for (int c = 0; c < t->columns; c++)
        if (strcmp(t->name[c], name) == 0) return c;
    return -1;
}

PrillmErrorCode prillm__csv_require(const PrillmCsvTable *t, const char *name, int *column, PrillmError *err) {
    *column = prillm__csv_column(t, name);
    if (*column < 0) return prillm__fail(err, PRILLM_ERR_PARSE, "%s has no column \"%s\"", t->path, name);
    return PRILLM_OK;
}

PrillmErrorCode prillm__csv_number(const PrillmCsvTable *t, long row, int column, double *out, PrillmError *err) {
    const char *text = prillm__csv_get(t, row, column);
    while (isspace((unsigned char)*text)) text++;
    if (*text == '\0') {
        *out = NAN;
        return PRILLM_OK;
    }
    char *end = NULL;
    double x = strtod(text, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (!end || end == text || *end != '\0' || !isfinite(x)) {
        *out = NAN;
        return prillm__fail(err, PRILLM_ERR_PARSE, "%s row %ld column %s: \"%s\" is not a finite number", t->path,
                            row + 2, t->name[column], text);
    }
    *out = x;
    return PRILLM_OK;
}

int prillm__csv_date(const char *text) {
    int y, m, d;
    char tail;
    if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return -1;
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    return y * 10000 + m * 100 + d;
}
