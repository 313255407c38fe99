/* Helpers shared by the benchmark programs (header-only: CMake builds every
 * bench_*.c as its own executable). */
#ifndef PRILLM_BENCH_COMMON_H
#define PRILLM_BENCH_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
