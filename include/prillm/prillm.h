/*
 * prillm — pricing LLM services with a data-calibrated Stackelberg routing
 * game. Umbrella header: include this one.
 */
#ifndef PRILLM_H
#define PRILLM_H

#define PRILLM_VERSION_MAJOR 0
#define PRILLM_VERSION_MINOR 1
#define PRILLM_VERSION_PATCH 0
#define PRILLM_VERSION_STRING "0.1.0"

#include "prillm/export.h"

#include "prillm/error.h"
#include "prillm/options.h"
#include "prillm/market.h"
#include "prillm/equilibrium.h"
#include "prillm/observations.h"
#include "prillm/calibration.h"
#include "prillm/elasticity.h"
#include "prillm/pricing.h"
#include "prillm/ttc.h"
#include "prillm/aggregator.h"
#include "prillm/lmaas.h"
#include "prillm/delegation.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually linked, e.g. "0.1.0". */
PRILLM_API const char *prillm_version(void);

/* Format a double so that strtod gives back the same bits ("%.17g" reduced
 * to the shortest exact form), with '.' whatever the locale; non-finite
 * values print as "NaN", "Infinity", "-Infinity"... except in JSON, where
 * the caller should print null. buf needs at least 32 bytes. Returns buf. */
PRILLM_API char *prillm_format_double(double value, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
