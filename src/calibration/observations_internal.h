/* Shared by the observation readers. Internal. */
#ifndef PRILLM_OBSERVATIONS_INTERNAL_H
#define PRILLM_OBSERVATIONS_INTERNAL_H

#include "csv_table.h"
#include "prillm/calibration.h"

/* Strings to dense indices 0..count-1 in order of first insertion. */
typedef struct {
    char **key;   /* [count], borrowed                   */
    int *slot;    /* open addressing: index+1, 0 = empty */
    int count, capacity, slots;
} PrillmNameIndex;

int prillm__names_init(PrillmNameIndex *names);
void prillm__names_free(PrillmNameIndex *names);
/* Index of key, inserting it if new; -1 out of memory. key must outlive names. */
int prillm__names_add(PrillmNameIndex *names, char *key);
int prillm__names_find(const PrillmNameIndex *names, const char *key);

/* The indices of the k largest scores (ties by smaller index), scores NaN
 * or <= 0 never chosen; returns how many were chosen. */
int prillm__top_k(const double *score, int count, int k, int *chosen);

/* Observations readers. */
PrillmErrorCode prillm__observations_read_openrouter(const char *dir, const PrillmCalibrationSettings *settings,
                                                     PrillmWarnFn warn, void *warn_context,
                                                     PrillmObservations **out, PrillmError *err);
PrillmErrorCode prillm__observations_read_generic(const char *dir, const PrillmCalibrationSettings *settings,
                                                  PrillmWarnFn warn, void *warn_context, PrillmObservations **out,
                                                  PrillmError *err);
/* Censoring bounds: for every censored cell of period p, the smallest flow
 * the provider listed in that period (over ALL its listed apps, given in
 * smallest_listed[m], INFINITY if none). */
void prillm__observations_set_bounds(PrillmObservedPeriod *p, int n, int m, const double *smallest_listed);
/* alpha_j from tokens and throughput per settings.capacity; fails naming the
 * provider when the definition cannot be applied. */
PrillmErrorCode prillm__observations_capacity(PrillmObservedPeriod *p, int m, int definition, PrillmError *err);

#endif
