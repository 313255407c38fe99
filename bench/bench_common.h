/* Helpers shared by the benchmark programs (header-only: CMake builds every
 * bench_*.c as its own executable). */
#ifndef PRILLM_BENCH_COMMON_H
#define PRILLM_BENCH_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prillm/market.h"

static inline int bench_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts x in place. */
static inline double bench_median(double *x, int count) {
    qsort(x, (size_t)count, sizeof *x, bench_compare_doubles);
    return count % 2 ? x[count / 2] : 0.5 * (x[count / 2 - 1] + x[count / 2]);
}

/* "-" for a time not measured; us_decimals digits below a millisecond. */
static inline const char *bench_format_time(double seconds, int us_decimals, char *buf, size_t size) {
    if (!isfinite(seconds)) snprintf(buf, size, "-");
    else if (seconds < 1e-3) snprintf(buf, size, "%.*f us", us_decimals, seconds * 1e6);
    else if (seconds < 1.0) snprintf(buf, size, "%.2f ms", seconds * 1e3);
    else snprintf(buf, size, "%.2f s", seconds);
    return buf;
}

/* The market in the JSON file at path, or NULL (a parse error printed). */
static inline PrillmMarket *bench_load_market(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    PrillmMarket *mk = NULL;
    PrillmError err;
    if (prillm_market_read_json(f, NULL, NULL, &mk, &err)) fprintf(stderr, "%s: %s\n", path, err.message);
    fclose(f);
    return mk;
}

#endif
