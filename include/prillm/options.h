/*
 * prillm — option tables.
 *
 * Each solver describes its settings in one table (HiGHS style): the table
 * gives the defaults, the bounds used to validate a value, and the help text;
 * the command line builds its flags and --help from the same table.
 */
#ifndef PRILLM_OPTIONS_H
#define PRILLM_OPTIONS_H

#include <stddef.h>

#include "prillm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PRILLM_OPTION_DOUBLE,
    PRILLM_OPTION_INT,
    PRILLM_OPTION_CHOICE /* an int indexing a '|'-separated list of names */
} PrillmOptionType;

typedef struct {
    const char *name;    /* flag name without dashes, e.g. "tolerance" */
    PrillmOptionType type;
    double default_value;
    double min_value;    /* inclusive */
    double max_value;    /* inclusive */
    const char *choices; /* for PRILLM_OPTION_CHOICE: "exact|gauss-seidel|ipopt" */
    const char *help;
    size_t offset;       /* where the value lives in the settings struct */
} PrillmOptionInfo;

#ifdef __cplusplus
}
#endif
#endif
