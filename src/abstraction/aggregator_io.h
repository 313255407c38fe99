/* Reading and writing aggregation models; shared with the training
 * checkpoint, which embeds a model. Internal. */
#ifndef PRILLM_AGGREGATOR_IO_H
#define PRILLM_AGGREGATOR_IO_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "json_document.h"
#include "prillm/aggregator.h"

#define PRILLM__AGGREGATOR_FORMAT "prillm-aggregator"
#define PRILLM__AGGREGATOR_VERSION 1

/* The model as one JSON object (no trailing newline); indent is prefixed to
 * every line after the first. */
void prillm__aggregator_write_object(const PrillmAggregator *model, FILE *out, const char *indent);
/* A model from its JSON object; where names it in messages. */
PrillmErrorCode prillm__aggregator_from_json(const cJSON *object, const char *where, PrillmAggregator **model,
                                             PrillmError *err);
/* A JSON array of count numbers into x (exactly count finite entries). */
PrillmErrorCode prillm__json_numbers(const cJSON *array, const char *where, double *x, long count, PrillmError *err);
void prillm__write_numbers(FILE *out, const double *x, long count);

#endif
