/* Option tables (HiGHS style): one table per solver gives defaults, bounds,
 * help text and the CLI flags; these functions serve every table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void option_store(void *settings, const PrillmOptionInfo *opt, double value) {
    char *base = (char *)settings + opt->offset;
    if (opt->type == PRILLM_OPTION_DOUBLE) *(double *)(void *)base = value;
    else *(int *)(void *)base = (int)value;
}

static double option_load(const void *settings, const PrillmOptionInfo *opt) {
    const char *base = (const char *)settings + opt->offset;
    return opt->type == PRILLM_OPTION_DOUBLE ? *(const double *)(const void *)base
                                             : (double)*(const int *)(const void *)base;
}

void prillm_options_defaults(const PrillmOptionInfo *table, int count, void *settings) {
    for (int k = 0; k < count; k++) option_store(settings, &table[k], table[k].default_value);
}

/* Index of name in a '|' list, or -1. */
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

const char *prillm_options_choice_name(const char *choices, int index, char *buf, size_t size) {
    const char *c = choices;
    for (int skip = index; skip > 0 && c; skip--) c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL;
    size_t len = c ? strcspn(c, "|") : 0;
    if (size) snprintf(buf, size, "%.*s", (int)len, c ? c : "");
    return buf;
}

PrillmErrorCode prillm_options_set(const PrillmOptionInfo *table, int count, void *settings, const char *name,
                                   const char *value, PrillmError *err) {
    if (!table || !settings || !name || !value) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    for (int k = 0; k < count; k++) {
        const PrillmOptionInfo *opt = &table[k];
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
        option_store(settings, opt, x);
        return PRILLM_OK;
    }
    return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "unknown option \"%s\"", name);
}

PrillmErrorCode prillm_options_check(const PrillmOptionInfo *table, int count, const void *settings,
                                     PrillmError *err) {
    if (!settings) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings is NULL");
    for (int k = 0; k < count; k++) {
        double x = option_load(settings, &table[k]);
        if (!(x >= table[k].min_value && x <= table[k].max_value))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings.%s = %g is outside [%g, %g]", table[k].name, x,
                                table[k].min_value, table[k].max_value);
    }
    return PRILLM_OK;
}
