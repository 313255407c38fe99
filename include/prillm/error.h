/*
 * prillm — error codes and solver status names.
 *
 * Two separate ideas, kept apart on purpose:
 *   - an error code says whether a call could do its job at all (bad input,
 *     out of memory, ...); every fallible call returns one and, when given a
 *     PrillmError, fills in a message naming the offending field;
 *   - a status says how good a solver's answer is (solved, inaccurate, ...).
 *     A call can succeed (PRILLM_OK) and still return status "inaccurate".
 */
#ifndef PRILLM_ERROR_H
#define PRILLM_ERROR_H

#include "prillm/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One list drives the enum, the names and the messages (libuv style). */
#define PRILLM_ERROR_LIST(X)                                                  \
    X(OK, 0, "success")                                                       \
    X(INVALID_ARGUMENT, 1, "invalid argument")                                \
    X(PARSE, 2, "malformed input")                                            \
    X(INVALID_DATA, 3, "invalid market data")                                 \
    X(IO, 4, "input/output error")                                            \
    X(NO_MEMORY, 5, "out of memory")                                          \
    X(SOLVER, 6, "solver failure")                                            \
    X(TOO_LARGE, 7, "problem too large")                                      \
    X(UNAVAILABLE, 8, "feature not available in this build")

typedef enum {
#define PRILLM_X_(name, value, text) PRILLM_ERR_##name = value,
    PRILLM_ERROR_LIST(PRILLM_X_)
#undef PRILLM_X_
} PrillmErrorCode;

#define PRILLM_OK PRILLM_ERR_OK

/* Error details. message names the field and index ("providers[3].capacity")
 * and, for malformed JSON, the line and column. */
typedef struct {
    PrillmErrorCode code;
    char message[512];
} PrillmError;

/* Short symbolic name, e.g. "INVALID_DATA". Never NULL. */
PRILLM_API const char *prillm_error_name(PrillmErrorCode code);
/* Generic description of the code, e.g. "invalid market data". Never NULL. */
PRILLM_API const char *prillm_error_text(PrillmErrorCode code);

#define PRILLM_STATUS_LIST(X)                                                 \
    X(UNSOLVED, 0, "unsolved")                                                \
    X(SOLVED, 1, "solved")                                                    \
    X(INACCURATE, 2, "inaccurate")                                            \
    X(INFEASIBLE, 3, "infeasible")                                            \
    X(FAILED, 4, "failed")

typedef enum {
#define PRILLM_X_(name, value, text) PRILLM_STATUS_##name = value,
    PRILLM_STATUS_LIST(PRILLM_X_)
#undef PRILLM_X_
} PrillmStatus;

/* Lower-case status name as printed in JSON ("solved", "inaccurate", ...). */
PRILLM_API const char *prillm_status_name(PrillmStatus status);

#ifdef __cplusplus
}
#endif
#endif
