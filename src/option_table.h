/* Defaults, set-from-text and validation driven by an option table. Internal. */
#ifndef PRILLM_OPTION_TABLE_H
#define PRILLM_OPTION_TABLE_H

#include "prillm/error.h"
#include "prillm/options.h"

void prillm__options_default(const PrillmOptionInfo *opts, int count, void *settings);
PrillmErrorCode prillm__options_set(const PrillmOptionInfo *opts, int count, void *settings, const char *name,
                                    const char *value, PrillmError *err);
PrillmErrorCode prillm__options_check(const PrillmOptionInfo *opts, int count, const void *settings,
                                      PrillmError *err);

#endif
