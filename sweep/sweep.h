/*
 * prillm-sweep: many independent pieces of work (every provider priced,
 * many scenarios solved) spread over MPI ranks and gathered on rank 0 in a
 * fixed order (docs/sweep.md). Built without MPI (PRILLM_WITH_MPI=OFF) it
 * runs the same work in one process.
 */
#ifndef PRILLM_SWEEP_H
#define PRILLM_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include <prillm/prillm.h>

/* ---- the ranks (sweep_run.c) -------------------------------------------- */

/* MPI_Init (when built with MPI); rank and size of the world (0 and 1
 * without MPI). Returns 0, or -1 (reported) when the process was started by
 * mpirun with several ranks but built without MPI. */
int sweep_init(int *argc, char ***argv);
int sweep_rank(void);
int sweep_size(void);
void sweep_finalize(void);
/* Stop every rank (MPI_Abort) with this exit code. */
void sweep_abort(int code);
/* 1 when built with MPI. */
int sweep_have_mpi(void);

/* Rank 0's bytes to every rank: on rank 0 *data / *length are the input; on
 * the others they are set to a new buffer (the caller frees). length 0 is
 * allowed (a failure rank 0 tells the others about). Returns 0, or -1 (out
 * of memory). */
int sweep_broadcast(unsigned char **data, size_t *length);

/* A growing byte buffer: one task's result, sent to rank 0 as is. Every
 * rank runs the same executable on the same kind of machine, so numbers go
 * in native byte order. */
typedef struct {
    unsigned char *data;
    size_t length, capacity;
    int failed; /* out of memory while appending */
} SweepBuffer;
void sweep_put(SweepBuffer *b, const void *data, size_t length);
void sweep_put_int(SweepBuffer *b, int value);
void sweep_put_double(SweepBuffer *b, double value);
/* Reading back, in the order written; a read past the end sets *bad. */
typedef struct {
    const unsigned char *data;
    size_t length, at;
    int bad;
} SweepReader;
void sweep_get(SweepReader *r, void *out, size_t length);
int sweep_get_int(SweepReader *r);
double sweep_get_double(SweepReader *r);

/* Task `task` (0..n_tasks-1) of the sweep into out (empty on entry).
 * Returns 0, or -1 for a failure that must stop the sweep (out of memory);
 * anything the user should see about one task (a solve that failed) goes
 * into its result instead. */
typedef int (*SweepTask)(void *context, int task, SweepBuffer *out);

enum { SWEEP_DYNAMIC = 0, SWEEP_STATIC = 1 };

typedef struct {
    double wall_seconds;   /* rank 0, from the first task to the last result */
    int ranks;
    int *tasks_per_rank;   /* [ranks] */
    double *busy_per_rank; /* [ranks], seconds spent in tasks */
} SweepStats;
void sweep_stats_free(SweepStats *stats);

/* Run tasks 0..n_tasks-1 over every rank: collective (every rank calls it
 * with the same n_tasks and schedule). dynamic: rank 0 hands the next task
 * to whichever rank finishes first (and works on tasks itself, on a second
 * thread, between its messages); static: task k runs on rank k mod size.
 * On rank 0, results[k] is task k's buffer (the caller frees each and the
 * array) and stats is filled; on the other ranks *results is NULL. The
 * results do not depend on the schedule or the number of ranks. Returns 0,
 * or -1 (reported) when a task failed or memory ran out. */
int sweep_run(int n_tasks, int schedule, SweepTask task, void *context, SweepBuffer **results, SweepStats *stats);

/* ---- scenarios (sweep_scenario.c) --------------------------------------- */

typedef struct {
    double demand_sd, price_sd, capacity_sd; /* log-normal spreads, >= 0 */
    unsigned long long seed;
} SweepPerturbation;

/* One what-if: a list of changes to the base market. */
typedef struct {
    char *id;
    int n_changes;
    struct SweepChange *changes;
} SweepWhatIf;

typedef struct {
    int n;
    SweepWhatIf *items;
} SweepWhatIfs;

/* Parse a what-if file (JSON; docs/sweep.md): {"scenarios": [{"id": ...,
 * "changes": [{"provider": ID or "*", "price": x, ...}, {"user": ID or "*",
 * "demand_scale": x}, ...]}, ...]}. Every id must exist in market; errors
 * name the scenario and the change ("scenarios[2].changes[0].provider
 * \"x\" is not in the market"). */
PrillmErrorCode sweep_whatifs_parse(const char *text, size_t length, const PrillmMarket *market, SweepWhatIfs *out,
                                    PrillmError *err);
void sweep_whatifs_free(SweepWhatIfs *w);

/* The base market with a what-if applied, validated (a change that makes
 * the market invalid is an error naming the what-if). */
PrillmErrorCode sweep_apply_whatif(const PrillmMarket *base, const SweepWhatIf *w, PrillmMarket **out,
                                   PrillmError *err);
/* The base market perturbed: demand_i, price_j and capacity_j each times
 * exp(sd * z), z standard normal from a stream that depends only on
 * (seed, index), so every rank builds the same scenario. Prices of 0 stay
 * 0. */
PrillmErrorCode sweep_perturb(const PrillmMarket *base, const SweepPerturbation *p, int index, PrillmMarket **out,
                              PrillmError *err);

/* ---- training data (sweep_training.c) ----------------------------------- */

/* Task k of training-data: scenario k built and solved
 * (prillm_aggregator_scenario_build) into out. Returns 0, or -1 when out of
 * memory (a scenario that failed is reported in its result). */
int sweep_training_task(const PrillmMarket *base, int target, const PrillmScenarioSettings *settings, int k,
                        SweepBuffer *out);
/* Rank 0: the n results as one data file (prillm_aggregator_scenarios_write)
 * on out, or the first failed scenario reported. Returns an exit code. */
int sweep_training_write(FILE *out, SweepBuffer *results, int n, const char *description);

#endif
