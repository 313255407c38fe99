/*
 * Reading observations: picks the layout from the files present, and the
 * helpers both readers share (name index, top-k selection, censoring
 * bounds, capacity definitions).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "observations_internal.h"

static unsigned long hash_text(const char *s) {
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

int prillm__names_init(PrillmNameIndex *names) {
    memset(names, 0, sizeof *names);
    names->capacity = 64;
    names->slots = 256;
    names->key = prillm__calloc((size_t)names->capacity, sizeof(char *));
    names->slot = prillm__calloc((size_t)names->slots, sizeof(int));
    if (!names->key || !names->slot) {
        prillm__names_free(names);
        return -1;
    }
    return 0;
}

void prillm__names_free(PrillmNameIndex *names) {
    free(names->key);
    free(names->slot);
    memset(names, 0, sizeof *names);
}

int prillm__names_find(const PrillmNameIndex *names, const char *key) {
    unsigned long mask = (unsigned long)names->slots - 1;
    for (unsigned long h = hash_text(key) & mask;; h = (h + 1) & mask) {
        int s = names->slot[h];
        if (s == 0) return -1;
        if (strcmp(names->key[s - 1], key) == 0) return s - 1;
    }
}

static int rehash(PrillmNameIndex *names, int slots) {
    int *slot = prillm__calloc((size_t)slots, sizeof(int));
    if (!slot) return -1;
    unsigned long mask = (unsigned long)slots - 1;
    for (int k = 0; k < names->count; k++) {
        unsigned long h = hash_text(names->key[k]) & mask;
        while (slot[h]) h = (h + 1) & mask;
        slot[h] = k + 1;
    }
    free(names->slot);
    names->slot = slot;
    names->slots = slots;
    return 0;
}

int prillm__names_add(PrillmNameIndex *names, char *key) {
    int found = prillm__names_find(names, key);
    if (found >= 0) return found;
    if (names->count == names->capacity) {
        char **bigger = realloc(names->key, 2 * (size_t)names->capacity * sizeof(char *));
        if (!bigger) return -1;
        names->key = bigger;
        names->capacity *= 2;
    }
    if (2 * (names->count + 1) > names->slots && rehash(names, 2 * names->slots)) return -1;
    names->key[names->count] = key;
    unsigned long mask = (unsigned long)names->slots - 1;
    unsigned long h = hash_text(key) & mask;
    while (names->slot[h]) h = (h + 1) & mask;
    names->slot[h] = ++names->count;
    return names->count - 1;
}

int prillm__top_k(const double *score, int count, int k, int *chosen) {
    int got = 0;
    for (int c = 0; c < count; c++) {
        if (!(score[c] > 0)) continue;
        /* insertion into the sorted prefix, at most k kept */
        int pos = got < k ? got : k;
        while (pos > 0 && score[chosen[pos - 1]] < score[c]) pos--;
        if (pos >= k) continue;
        int last = got < k ? got : k - 1;
        for (int q = last; q > pos; q--) chosen[q] = chosen[q - 1];
        chosen[pos] = c;
        if (got < k) got++;
    }
    return got;
}

void prillm__observations_set_bounds(PrillmObservedPeriod *p, int n, int m, const double *smallest_listed) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            size_t k = (size_t)i * m + j;
            p->upper[k] = isnan(p->observed[k]) ? smallest_listed[j] : NAN;
        }
}

PrillmErrorCode prillm__observations_capacity(PrillmObservedPeriod *p, int m, int definition, PrillmError *err) {
    static const char *names[] = {"tokens-per-throughput", "tokens", "throughput"};
    for (int j = 0; j < m; j++) {
        double tokens = p->tokens[j], tps = p->throughput[j], alpha = NAN;
        if (definition == PRILLM_CAPACITY_TOKENS_PER_THROUGHPUT) alpha = tokens / tps;
        else if (definition == PRILLM_CAPACITY_TOKENS) alpha = tokens;
        else alpha = tps;
        if (!(alpha > 0) || !isfinite(alpha))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "provider \"%s\": capacity by %s needs tokens > 0 and throughput > 0 (tokens %g Mtok, "
                                "throughput %g tok/s)",
                                p->market->provider_id[j], names[definition], tokens, tps);
        p->market->capacity[j] = alpha;
    }
    return PRILLM_OK;
}

static int exists(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

PrillmErrorCode prillm_observations_read(const char *dir, const PrillmCalibrationSettings *settings,
                                         PrillmWarnFn warn, void *warn_context, PrillmObservations **out,
                                         PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *out = NULL;
    if (!dir) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "data directory is NULL");
    PrillmCalibrationSettings defaults;
    if (!settings) {
        prillm_calibration_default_settings(&defaults);
        settings = &defaults;
    }
    PrillmErrorCode rc = prillm_calibration_check_settings(settings, err);
    if (rc) return rc;
    if (exists(dir, "providers.csv") && exists(dir, "flows.csv"))
        rc = prillm__observations_read_generic(dir, settings, warn, warn_context, out, err);
    else if (exists(dir, "models.csv") && exists(dir, "flows.csv"))
        rc = prillm__observations_read_openrouter(dir, settings, warn, warn_context, out, err);
    else
        return prillm__fail(err, PRILLM_ERR_IO,
                            "%s holds neither the generic layout (providers.csv, flows.csv) nor the OpenRouter one "
                            "(models.csv, flows.csv)",
                            dir);
    if (!rc) rc = prillm_observations_validate(*out, err);
    if (rc) {
        prillm_observations_free(*out);
        *out = NULL;
    }
    return rc;
}
