/* The ranks of prillm-sweep: MPI (Open MPI) when built with it, else one
 * process. Dynamic schedule: rank 0's main thread hands out tasks one at a
 * time to whichever rank returns a result first (all MPI calls stay on that
 * thread: MPI_THREAD_FUNNELED), while a second thread of rank 0 works
 * through tasks too, so that no core sits waiting for messages. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef PRILLM_SWEEP_MPI
#include <mpi.h>
#endif

#include "sweep.h"

static int rank_ = 0, size_ = 1;
#ifdef PRILLM_SWEEP_MPI
static int mpi_ = 0, threads_ok_ = 1;
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int sweep_have_mpi(void) {
#ifdef PRILLM_SWEEP_MPI
    return 1;
#else
    return 0;
#endif
}

int sweep_init(int *argc, char ***argv) {
#ifdef PRILLM_SWEEP_MPI
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "prillm-sweep: error: MPI_Init_thread failed\n");
        return -1;
    }
    mpi_ = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    /* without FUNNELED rank 0 only hands out work (still correct) */
    threads_ok_ = provided >= MPI_THREAD_FUNNELED;
    return 0;
#else
    (void)argc;
    (void)argv;
    /* started by mpirun with several ranks: each would do the whole sweep */
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (int k = 0; k < 3; k++) {
        const char *v = getenv(names[k]);
        if (v && atoi(v) > 1) {
            if (getenv("OMPI_COMM_WORLD_RANK") == NULL || atoi(getenv("OMPI_COMM_WORLD_RANK")) == 0)
                fprintf(stderr,
                        "prillm-sweep: error: built without MPI (PRILLM_WITH_MPI=OFF): it runs on one process; "
                        "start it without mpirun, or rebuild with -DPRILLM_WITH_MPI=ON (Debian: libopenmpi-dev)\n");
            return -1;
        }
    }
    return 0;
#endif
}

int sweep_rank(void) { return rank_; }
int sweep_size(void) { return size_; }

void sweep_finalize(void) {
#ifdef PRILLM_SWEEP_MPI
    if (mpi_) MPI_Finalize();
#endif
}

void sweep_abort(int code) {
#ifdef PRILLM_SWEEP_MPI
    if (mpi_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    sweep_finalize();
    exit(code);
}

int sweep_broadcast(unsigned char **data, size_t *length) {
#ifdef PRILLM_SWEEP_MPI
    if (!mpi_ || size_ == 1) return 0;
    unsigned long long n = rank_ == 0 ? (unsigned long long)*length : 0;
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank_ != 0) {
        *length = (size_t)n;
        *data = malloc(n ? (size_t)n : 1);
        /* every rank takes part in the broadcasts below, so a rank that
         * could not allocate cannot just leave: stop them all */
        if (!*data) {
            fprintf(stderr, "prillm-sweep: error: rank %d: out of memory receiving the market\n", rank_);
            sweep_abort(1);
        }
    }
    for (unsigned long long at = 0; at < n;) {
        int step = n - at > (1ull << 30) ? (1 << 30) : (int)(n - at);
        MPI_Bcast(*data + at, step, MPI_BYTE, 0, MPI_COMM_WORLD);
        at += (unsigned long long)step;
    }
#else
    (void)data;
    (void)length;
#endif
    return 0;
}

/* ---- buffers ------------------------------------------------------------- */

void sweep_put(SweepBuffer *b, const void *data, size_t length) {
    if (b->failed) return;
    if (b->length + length > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 256;
        while (cap < b->length + length) cap *= 2;
        unsigned char *bigger = realloc(b->data, cap);
        if (!bigger) {
            b->failed = 1;
            return;
        }
        b->data = bigger;
        b->capacity = cap;
    }
    memcpy(b->data + b->length, data, length);
    b->length += length;
}
void sweep_put_int(SweepBuffer *b, int value) { sweep_put(b, &value, sizeof value); }
void sweep_put_double(SweepBuffer *b, double value) { sweep_put(b, &value, sizeof value); }

void sweep_get(SweepReader *r, void *out, size_t length) {
    if (r->bad || length > r->length - r->at) {
        r->bad = 1;
        memset(out, 0, length);
        return;
    }
    memcpy(out, r->data + r->at, length);
    r->at += length;
}
int sweep_get_int(SweepReader *r) {
    int v;
    sweep_get(r, &v, sizeof v);
    return v;
}
double sweep_get_double(SweepReader *r) {
    double v;
    sweep_get(r, &v, sizeof v);
    return v;
}

void sweep_stats_free(SweepStats *stats) {
    free(stats->tasks_per_rank);
    free(stats->busy_per_rank);
    stats->tasks_per_rank = NULL;
    stats->busy_per_rank = NULL;
}

/* ---- the run ------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    int n_tasks, schedule;
    int next;     /* dynamic: the next task not handed out yet */
    int received; /* results stored on rank 0 */
    int failed;
    SweepTask task;
    void *context;
    SweepBuffer *results;
    int *count;
    double *busy;
} Run;

/* The next task for rank `rank` (static: `previous` is the last one it did,
 * -1 at the start), or -1 when there is none. */
static int take(Run *run, int rank, int previous) {
    if (run->schedule == SWEEP_STATIC) {
        int k = previous < 0 ? rank : previous + size_;
        return k < run->n_tasks ? k : -1;
    }
    pthread_mutex_lock(&run->lock);
    int k = run->failed || run->next >= run->n_tasks ? -1 : run->next++;
    pthread_mutex_unlock(&run->lock);
    return k;
}

static void store(Run *run, int rank, int k, SweepBuffer *b, double seconds) {
    pthread_mutex_lock(&run->lock);
    run->results[k] = *b;
    run->count[rank]++;
    run->busy[rank] += seconds;
    run->received++;
    pthread_mutex_unlock(&run->lock);
}

/* Rank 0's own share of the tasks. */
static void *local_worker(void *arg) {
    Run *run = arg;
    for (int k = take(run, 0, -1); k >= 0; k = take(run, 0, k)) {
        SweepBuffer b = {0};
        double t0 = now();
        int rc = run->task(run->context, k, &b);
        if (rc || b.failed) {
            free(b.data);
            pthread_mutex_lock(&run->lock);
            run->failed = 1;
            pthread_mutex_unlock(&run->lock);
            break;
        }
        store(run, 0, k, &b, now() - t0);
    }
    return NULL;
}

#ifdef PRILLM_SWEEP_MPI
enum { TAG_TASK = 1, TAG_RESULT = 2 };

/* Header of a result message: the task, whether it ran, its seconds. */
typedef struct {
    int task, ok;
    double seconds;
} ResultHeader;

/* Wait for a request by polling, with a sleep that grows while nothing
 * comes: a blocking MPI call would spin a core that a task could use. */
static void wait_gently(MPI_Request *req) {
    long pause_ns = 20000;
    for (;;) {
        int flag = 0;
        MPI_Test(req, &flag, MPI_STATUS_IGNORE);
        if (flag) return;
        struct timespec pause = {0, pause_ns};
        nanosleep(&pause, NULL);
        if (pause_ns < 1000000) pause_ns *= 2;
    }
}

static int receive_task(void) {
    int k = -1;
    MPI_Request req;
    MPI_Irecv(&k, 1, MPI_INT, 0, TAG_TASK, MPI_COMM_WORLD, &req);
    wait_gently(&req);
    return k;
}

/* A rank other than 0. Dynamic: rank 0 keeps two tasks queued for it (the
 * one it works on and the next), so it never waits for a reply between
 * tasks; a task number below 0 ends the queue. */
static void worker(Run *run) {
    int k = run->schedule == SWEEP_STATIC ? take(run, rank_, -1) : receive_task();
    while (k >= 0) {
        MPI_Request next_req = MPI_REQUEST_NULL;
        int next = -1;
        if (run->schedule == SWEEP_DYNAMIC) MPI_Irecv(&next, 1, MPI_INT, 0, TAG_TASK, MPI_COMM_WORLD, &next_req);
        SweepBuffer b = {0};
        ResultHeader h = {k, 1, 0};
        sweep_put(&b, &h, sizeof h);
        double t0 = now();
        int rc = run->task(run->context, k, &b);
        if (rc || b.failed || b.length > (size_t)INT_MAX) {
            if (b.length > (size_t)INT_MAX)
                fprintf(stderr, "prillm-sweep: error: task %d's result is over 2 GiB: limit the output "
                                "(--no-flows, --top K)\n", k);
            /* rank 0 stops every rank when it reads this */
            ResultHeader bad = {k, 0, 0};
            MPI_Send(&bad, (int)sizeof bad, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
            free(b.data);
            if (next_req != MPI_REQUEST_NULL) wait_gently(&next_req);
            return;
        }
        ((ResultHeader *)(void *)b.data)->seconds = now() - t0;
        MPI_Request send_req;
        MPI_Isend(b.data, (int)b.length, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD, &send_req);
        wait_gently(&send_req);
        free(b.data);
        if (run->schedule == SWEEP_STATIC) {
            k = take(run, rank_, k);
        } else {
            wait_gently(&next_req);
            k = next;
        }
    }
}

/* Rank 0's main thread: receive results, hand out tasks. */
static int master(Run *run) {
    /* dynamic: two tasks queued per rank; stopped[r] once r was sent the
     * end (a task below 0), after which it gets no more messages */
    char *stopped = calloc((size_t)size_, 1);
    if (!stopped) return -1;
    if (run->schedule == SWEEP_DYNAMIC)
        for (int r = 1; r < size_; r++)
            for (int q = 0; q < 2 && !stopped[r]; q++) {
                int k = take(run, r, -1);
                MPI_Send(&k, 1, MPI_INT, r, TAG_TASK, MPI_COMM_WORLD);
                stopped[r] = k < 0;
            }
    long pause_ns = 20000;
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        int done = run->received >= run->n_tasks, failed = run->failed;
        pthread_mutex_unlock(&run->lock);
        if (done || failed) {
            rc = done ? 0 : -1;
            break;
        }
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &status);
        if (!flag) {
            /* a result takes milliseconds at least: poll gently (20 us, then
             * longer while nothing comes, up to 1 ms), leaving the core to
             * rank 0's worker thread; the ranks have their next task queued */
            struct timespec pause = {0, pause_ns};
            nanosleep(&pause, NULL);
            if (pause_ns < 1000000) pause_ns *= 2;
            continue;
        }
        pause_ns = 20000;
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        SweepBuffer b = {malloc(count > 0 ? (size_t)count : 1), (size_t)count, (size_t)count, 0};
        if (!b.data) {
            rc = -1;
            break;
        }
        MPI_Recv(b.data, count, MPI_BYTE, status.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        ResultHeader h;
        if ((size_t)count < sizeof h) {
            free(b.data);
            rc = -1;
            break;
        }
        memcpy(&h, b.data, sizeof h);
        if (!h.ok || h.task < 0 || h.task >= run->n_tasks) {
            free(b.data);
            pthread_mutex_lock(&run->lock);
            run->failed = 1;
            pthread_mutex_unlock(&run->lock);
            rc = -1;
            break;
        }
        /* the payload without the header */
        memmove(b.data, b.data + sizeof h, (size_t)count - sizeof h);
        b.length = (size_t)count - sizeof h;
        store(run, status.MPI_SOURCE, h.task, &b, h.seconds);
        if (run->schedule == SWEEP_DYNAMIC && !stopped[status.MPI_SOURCE]) {
            int k = take(run, status.MPI_SOURCE, -1);
            MPI_Send(&k, 1, MPI_INT, status.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD);
            stopped[status.MPI_SOURCE] = k < 0;
        }
    }
    free(stopped);
    return rc;
}
#endif

int sweep_run(int n_tasks, int schedule, SweepTask task, void *context, SweepBuffer **results, SweepStats *stats) {
    *results = NULL;
    memset(stats, 0, sizeof *stats);
    Run run = {.n_tasks = n_tasks, .schedule = schedule, .task = task, .context = context};
    pthread_mutex_init(&run.lock, NULL);
    double t0 = now();
    int rc = 0;
    if (rank_ != 0) {
#ifdef PRILLM_SWEEP_MPI
        worker(&run);
#endif
        pthread_mutex_destroy(&run.lock);
        return 0;
    }
    run.results = calloc((size_t)(n_tasks > 0 ? n_tasks : 1), sizeof *run.results);
    run.count = calloc((size_t)size_, sizeof *run.count);
    run.busy = calloc((size_t)size_, sizeof *run.busy);
    if (!run.results || !run.count || !run.busy) {
        fprintf(stderr, "prillm-sweep: error: out of memory\n");
        sweep_abort(1);
    }
    if (size_ == 1) {
        local_worker(&run);
    } else {
#ifdef PRILLM_SWEEP_MPI
        pthread_t thread;
        int threaded = threads_ok_ && pthread_create(&thread, NULL, local_worker, &run) == 0;
        if (!threaded && schedule == SWEEP_STATIC) {
            /* rank 0's static share must run somewhere: here, before
             * listening (the others' results wait in MPI meanwhile) */
            local_worker(&run);
        }
        rc = master(&run);
        if (threaded) pthread_join(thread, NULL);
#endif
    }
    if (rc || run.failed || run.received != n_tasks) {
        fprintf(stderr, "prillm-sweep: error: a task failed (out of memory); the sweep stopped\n");
        for (int k = 0; k < n_tasks; k++) free(run.results[k].data);
        free(run.results);
        free(run.count);
        free(run.busy);
        pthread_mutex_destroy(&run.lock);
        sweep_abort(1);
    }
    stats->wall_seconds = now() - t0;
    stats->ranks = size_;
    stats->tasks_per_rank = run.count;
    stats->busy_per_rank = run.busy;
    *results = run.results;
    pthread_mutex_destroy(&run.lock);
    return 0;
}
