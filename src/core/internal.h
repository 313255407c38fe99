/*
 * prillm internals: not part of the public API. Names start with prillm__.
 */
#ifndef PRILLM_INTERNAL_H
#define PRILLM_INTERNAL_H

#include <stddef.h>

#include "prillm/prillm.h"

#if defined(__GNUC__)
#define PRILLM__PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define PRILLM__PRINTF(fmt_index, first_arg)
#endif

/* Fill err (if not NULL) and return code. */
PrillmErrorCode prillm__fail(PrillmError *err, PrillmErrorCode code, const char *fmt, ...)
    PRILLM__PRINTF(3, 4);
void prillm__clear_error(PrillmError *err);

/* Monotonic wall clock, seconds. */
double prillm__now(void);

/* calloc that refuses overflowing products. */
void *prillm__calloc(size_t count, size_t size);
char *prillm__strdup(const char *text);

/* Fill n doubles with NaN. */
void prillm__fill_nan(double *x, size_t n);

/* Solve the market's equilibrium QP with Ipopt (the generic reference
 * solver). flows is [n_users * n_providers]; on success it holds Ipopt's
 * answer (negative round-off clipped to 0), *iterations Ipopt's count.
 * Returns PRILLM_ERR_SOLVER with Ipopt's status text if Ipopt fails, and
 * PRILLM_ERR_UNAVAILABLE when built without Ipopt. */
PrillmErrorCode prillm__equilibrium_ipopt(const PrillmMarket *market, double tolerance,
                                          double time_limit, int verbose, double *flows,
                                          int *iterations, PrillmError *err);

#endif

/* JSON output helpers shared by the library's writers and the CLI. */
#include <stdio.h>
void prillm__json_string(FILE *out, const char *text);
/* A finite number round-trips; a non-finite one prints as null. */
void prillm__json_number(FILE *out, double value);
/* CSV field: quoted when it holds a comma, quote or newline. */
void prillm__csv_field(FILE *out, const char *text);
