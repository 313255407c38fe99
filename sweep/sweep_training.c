/*
 * prillm-sweep training-data: the aggregation network's training scenarios
 * (src/abstraction/aggregator_scenarios.c) built and solved over the ranks,
 * one scenario per task, and written by rank 0 as the data file prillm
 * train-aggregator --data reads. Scenario k is the library's
 * prillm_aggregator_scenario_build(k): the same bytes as prillm
 * train-aggregator --save-data builds in one process, on any number of
 * ranks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sweep.h"

/* A task's payload: the error (code PRILLM_OK when built), then the
 * scenario as a one-scenario data file (the library's writer and reader
 * carry it, checksum included, so nothing is lost in transit unseen). */
int sweep_training_task(const PrillmMarket *base, int target, const PrillmScenarioSettings *settings, int k,
                        SweepBuffer *out) {
    PrillmError err = {PRILLM_OK, ""};
    PrillmAggregatorScenario sc;
    PrillmErrorCode rc = prillm_aggregator_scenario_build(base, target, settings, k, &sc, &err);
    char *bytes = NULL;
    size_t size = 0;
    if (!rc) {
        PrillmAggregatorScenarios one = {1, &sc};
        FILE *mem = open_memstream(&bytes, &size);
        if (!mem) rc = prillm__fail(&err, PRILLM_ERR_NO_MEMORY, "scenario %d: out of memory", k);
        else {
            rc = prillm_aggregator_scenarios_write(&one, NULL, mem, &err);
            if (fclose(mem) && !rc) rc = prillm__fail(&err, PRILLM_ERR_NO_MEMORY, "scenario %d: out of memory", k);
        }
        prillm_aggregator_scenario_clear(&sc);
    }
    if (rc) err.code = rc;
    sweep_put(out, &err, sizeof err);
    if (!rc) sweep_put(out, bytes, size);
    free(bytes);
    return out->failed ? -1 : 0;
}

int sweep_training_write(FILE *out, SweepBuffer *results, int n, const char *description) {
    PrillmAggregatorScenarios all = {0, calloc((size_t)(n > 0 ? n : 1), sizeof(PrillmAggregatorScenario))};
    if (!all.items) {
        fprintf(stderr, "prillm-sweep: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    int code = 0;
    for (int k = 0; k < n && !code; k++) {
        SweepReader r = {results[k].data, results[k].length, 0, 0};
        PrillmError err;
        sweep_get(&r, &err, sizeof err);
        if (r.bad) {
            fprintf(stderr, "prillm-sweep: error: scenario %d: a result was lost in transit\n", k);
            code = EXIT_INTERNAL;
            break;
        }
        if (err.code != PRILLM_OK) {
            /* the first scenario that failed, as prillm train-aggregator reports it */
            fprintf(stderr, "prillm-sweep: error: %s\n", err.message);
            code = prillm_cli_exit_for_error(err.code);
            break;
        }
        PrillmAggregatorScenarios one;
        PrillmErrorCode rc = prillm_aggregator_scenarios_parse(r.data + r.at, r.length - r.at, &one, NULL, &err);
        if (!rc && one.count != 1) rc = prillm__fail(&err, PRILLM_ERR_PARSE, "holds %d scenarios, not 1", one.count);
        if (rc) {
            fprintf(stderr, "prillm-sweep: error: scenario %d from its rank: %s\n", k, err.message);
            prillm_aggregator_scenarios_free(&one);
            code = EXIT_INTERNAL;
            break;
        }
        all.items[k] = one.items[0];
        all.count = k + 1;
        free(one.items);
    }
    if (!code) {
        PrillmError err = {PRILLM_OK, ""};
        if (prillm_aggregator_scenarios_write(&all, description, out, &err)) {
            fprintf(stderr, "prillm-sweep: error: %s\n", err.message);
            code = prillm_cli_exit_for_error(err.code);
        }
    }
    prillm_aggregator_scenarios_free(&all);
    free(all.items);
    return code;
}
