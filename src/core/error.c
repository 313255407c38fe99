/* Error codes, status names and the small utilities every module uses. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

const char *prillm_error_name(PrillmErrorCode code) {
    switch (code) {
#define PRILLM_X_(name, value, text) \
    case PRILLM_ERR_##name:          \
        return #name;
        PRILLM_ERROR_LIST(PRILLM_X_)
#undef PRILLM_X_
    }
    return "UNKNOWN";
}

const char *prillm_error_text(PrillmErrorCode code) {
    switch (code) {
#define PRILLM_X_(name, value, text) \
    case PRILLM_ERR_##name:          \
        return text;
        PRILLM_ERROR_LIST(PRILLM_X_)
#undef PRILLM_X_
    }
    return "unknown error";
}

const char *prillm_status_name(PrillmStatus status) {
    switch (status) {
#define PRILLM_X_(name, value, text) \
    case PRILLM_STATUS_##name:       \
        return text;
        PRILLM_STATUS_LIST(PRILLM_X_)
#undef PRILLM_X_
    }
    return "unknown";
}

const char *prillm_version(void) { return PRILLM_VERSION_STRING; }

PrillmErrorCode prillm__fail(PrillmError *err, PrillmErrorCode code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list args;
        va_start(args, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
    }
    return code;
}

void prillm__clear_error(PrillmError *err) {
    if (err) {
        err->code = PRILLM_OK;
        err->message[0] = '\0';
    }
}

double prillm__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* PRILLM_HUGE_PAGES=0 in the environment: no advice. An array between 2
 * and 32 MiB can come from glibc's heap once its mmap threshold has risen,
 * and the advice then stays on that memory after it is freed; a
 * long-running process (prillm serve) on a kernel whose THP defrag is
 * "madvise" may prefer no huge pages to the compaction their faults can
 * wait for, as databases often do. */
static int huge_pages_off(void) {
    const char *value = getenv("PRILLM_HUGE_PAGES");
    return value && strcmp(value, "0") == 0;
}

/* Below one huge page an array cannot hold one: no advice. */
#define HUGE_ADVICE_BYTES ((size_t)2 << 20)

/* Transparent huge pages for the whole pages of [p, p + bytes): the kernel
 * backs each 2 MiB-aligned stretch of them with one huge page at its first
 * touch (a hint: where it has none, or THP is off, 4 KiB pages as before). */
static void *advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (p && bytes >= HUGE_ADVICE_BYTES && !huge_pages_off()) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        uintptr_t from = ((uintptr_t)p + page - 1) / page * page, to = ((uintptr_t)p + bytes) / page * page;
        if (to > from) (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
    }
#endif
    return p;
}

void *prillm__calloc(size_t count, size_t size) {
    if (count == 0 || size == 0) return calloc(1, 1);
    if (count > SIZE_MAX / size) return NULL;
    return advise_huge(calloc(count, size), count * size);
}

void *prillm__malloc_array(size_t count, size_t size) {
    if (count == 0 || size == 0) return malloc(1);
    if (count > SIZE_MAX / size) return NULL;
    return advise_huge(malloc(count * size), count * size);
}

void *prillm__realloc_array(void *p, size_t count, size_t size) {
    if (count == 0 || size == 0) return realloc(p, 1);
    if (count > SIZE_MAX / size) return NULL;
    return advise_huge(realloc(p, count * size), count * size);
}

char *prillm__strdup(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, text, n);
    return copy;
}

void prillm__fill_nan(double *x, size_t n) {
    for (size_t k = 0; k < n; k++) x[k] = NAN;
}

/* snprintf's decimal point follows LC_NUMERIC; JSON and CSV need '.', and
 * the shortest representation that still round-trips reads better than a
 * blind %.17g ("0.10000000000000001"). */
char *prillm_format_double(double value, char *buf, size_t size) {
    if (size == 0) return buf;
    if (isnan(value)) {
        snprintf(buf, size, "NaN");
        return buf;
    }
    if (isinf(value)) {
        snprintf(buf, size, value > 0 ? "Infinity" : "-Infinity");
        return buf;
    }
    char tmp[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(tmp, sizeof tmp, "%.*g", precision, value);
        if (strtod(tmp, NULL) == value) break; /* both in the same locale */
    }
    /* the locale's separator may be several bytes (U+066B in ps_AF) */
    const char *point = localeconv()->decimal_point;
    char *at = point && point[0] && strcmp(point, ".") != 0 ? strstr(tmp, point) : NULL;
    if (at) {
        size_t len = strlen(point);
        *at = '.';
        memmove(at + 1, at + len, strlen(at + len) + 1);
    }
    snprintf(buf, size, "%s", tmp);
    return buf;
}
