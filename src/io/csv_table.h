/*
 * A CSV file held in memory (RFC 4180: quoted fields, doubled quotes,
 * CRLF), with columns looked up by header name. Internal.
 */
#ifndef PRILLM_CSV_TABLE_H
#define PRILLM_CSV_TABLE_H

#include "internal.h"

typedef struct {
    char *text;      /* the file, fields unquoted in place          */
    char **field;    /* [rows * columns]; header is row -1 (names)  */
    char **name;     /* [columns]                                   */
    int columns;
    long rows;       /* data rows, header excluded                  */
    char path[256];  /* for messages                                */
} PrillmCsvTable;

/* Read path (gzip-compressed when it ends in .gz); every row must have the
 * header's number of fields. A leading UTF-8 byte order mark is skipped; a
 * NUL byte or text that is not UTF-8 in any field is an error naming the
 * file, row and column; so is a file past PRILLM_MAX_INPUT_BYTES (after
 * decompression). */
PrillmErrorCode prillm__csv_read(const char *path, PrillmCsvTable *table, PrillmError *err);
/* The same with another size limit (tests lower it). */
PrillmErrorCode prillm__csv_read_limited(const char *path, size_t limit, PrillmCsvTable *table, PrillmError *err);
/* The same on text already in memory (copied; length bytes, may hold no
 * NUL); name stands for the file in messages ("-" for standard input). */
PrillmErrorCode prillm__csv_parse(const char *name, const char *text, size_t length, PrillmCsvTable *table,
                                  PrillmError *err);
void prillm__csv_free(PrillmCsvTable *table);
/* Column index of name, or -1. */
int prillm__csv_column(const PrillmCsvTable *table, const char *name);
/* Column index of name; fails naming the file when missing. */
PrillmErrorCode prillm__csv_require(const PrillmCsvTable *table, const char *name, int *column, PrillmError *err);
static inline const char *prillm__csv_get(const PrillmCsvTable *t, long row, int column) {
    return t->field[(size_t)row * (size_t)t->columns + (size_t)column];
}
/* Parse a finite number; "" gives NaN (returns 0). Returns nonzero (and
 * fills err naming file, row and column) for text that is not a number. */
PrillmErrorCode prillm__csv_number(const PrillmCsvTable *t, long row, int column, double *out, PrillmError *err);
/* "2026-07-07" -> 20260707; -1 if malformed. */
int prillm__csv_date(const char *text);

#endif
