/*
 * prillm — option tables.
 *
 * Each solver describes its settings in one table (HiGHS style): the table
 * gives the defaults, the bounds used to validate a value, and the help text;
 * the command line builds its flags and --help from the same table.
 */
#ifndef PRILLM_OPTIONS_H
#define PRILLM_OPTIONS_H

#include "prillm/export.h"

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

/* Generic operations on any settings struct described by a table; each
 * module's prillm_X_default_settings / set_option / check_settings are these
 * applied to its own table. */
PRILLM_API void prillm_options_defaults(const PrillmOptionInfo *table, int count, void *settings);
/* Set one option from text ("1e-10", "ipopt"), validated against the table;
 * the error names the option and the accepted range or choices. */
PRILLM_API PrillmErrorCode prillm_options_set(const PrillmOptionInfo *table, int count, void *settings, const char *name,
                                   const char *value, PrillmError *err);
/* Every value of the struct within the table's bounds (catches NaN). */
PRILLM_API PrillmErrorCode prillm_options_check(const PrillmOptionInfo *table, int count, const void *settings,
                                     PrillmError *err);
/* The name of choice index `index` in a '|' list, copied into buf. */
PRILLM_API const char *prillm_options_choice_name(const char *choices, int index, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
