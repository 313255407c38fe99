/*
 * Generic handling of a PrillmOptionInfo table: defaults, setting one option
 * from text, checking a whole settings struct. The aggregation settings use
 * it (the equilibrium keeps its own copy of the same rules).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "option_table.h"

static void store(void *settings, const PrillmOptionInfo *opt, double value) {
    char *base = (char *)settings + opt->offset;
    if (opt->type == PRILLM_OPTION_DOUBLE) *(double *)(void *)base = value;
    else *(int *)(void *)base = (int)value;
}

static double load(const void *settings, const PrillmOptionInfo *opt) {
    const char *base = (const char *)settings + opt->offset;
    return opt->type == PRILLM_OPTION_DOUBLE ? *(const double *)(const void *)base
                                             : (double)*(const int *)(const void *)base;
}

void prillm__options_default(const PrillmOptionInfo *opts, int count, void *settings) {
    for (int k = 0; k < count; k++) store(settings, &opts[k], opts[k].default_value);
}

static int choice_index(const char *choices, const char *name) {
    size_t len = strlen(name);
    int index = 0;
    for (const char *c = choices; *c; index++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncmp(c, name, n) == 0) return index;
        if (!bar) break;
        c = bar + 1;
    }
    return -1;
}

PrillmErrorCode prillm__options_set(const PrillmOptionInfo *opts, int count, void *settings, const char *name,
                                    const char *value, PrillmError *err) {
    if (!settings || !name || !value) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    for (int k = 0; k < count; k++) {
        const PrillmOptionInfo *opt = &opts[k];
        if (strcmp(opt->name, name) != 0) continue;
        double x;
        if (opt->type == PRILLM_OPTION_CHOICE) {
            int c = choice_index(opt->choices, value);
            if (c < 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "option %s: \"%s\" is not one of %s", name, value,
                                    opt->choices);
            x = c;
        } else {
            char *end = NULL;
            x = strtod(value, &end);
            if (!end || end == value || *end != '\0' || !isfinite(x))
                return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "option %s: \"%s\" is not a number", name, value);
            if (opt->type == PRILLM_OPTION_INT && x != floor(x))
                return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "option %s: \"%s\" is not an integer", name, value);
        }
        if (x < opt->min_value || x > opt->max_value)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "option %s: %s is outside [%g, %g]", name, value,
                                opt->min_value, opt->max_value);
        store(settings, opt, x);
        return PRILLM_OK;
    }
    return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "unknown option \"%s\"", name);
}

PrillmErrorCode prillm__options_check(const PrillmOptionInfo *opts, int count, const void *settings,
                                      PrillmError *err) {
    if (!settings) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings is NULL");
    for (int k = 0; k < count; k++) {
        double x = load(settings, &opts[k]);
        if (!(x >= opts[k].min_value && x <= opts[k].max_value))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings.%s = %g is outside [%g, %g]", opts[k].name, x,
                                opts[k].min_value, opts[k].max_value);
    }
    return PRILLM_OK;
}
