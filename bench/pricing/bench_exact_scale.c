/*
 * Exact pricing at scale: the whole-range walk (--prune 0) against the
 * pruned walk (--prune 1) on seeded random markets and, when given, a
 * market file (e.g. the calibrated whole OpenRouter market from
 * `prillm fit --out`). For each size the first `targets` providers are
 * priced both ways; the table gives pieces walked, CPU time per target
 * (process CPU clock, one thread, OpenBLAS pinned to one thread), the share
 * of the range the pruned walk covered, both statuses, and the largest
 * relative profit gap between the two answers (they must agree: the pruned
 * intervals are certified below the optimum). The factorisations column is
 * the whole-range walk's: from scratch / by rank-one update.
 *
 * Usage: bench_exact_scale [--quick] [--large] [--market FILE] [--targets N]
 *   --quick: 500 x 50 only; --large adds 5000 x 500 (minutes per target)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "prillm/prillm.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    long pieces;
    double seconds, walked, profit, price;
    PrillmStatus status;
    int ok;
} Run;

static Run run(const PrillmMarket *mk, int target, int prune) {
    Run r;
    memset(&r, 0, sizeof r);
    PrillmPriceSettings st;
    prillm_price_default_settings(&st);
    st.prune = prune;
    PrillmPriceResult res;
    PrillmError err;
    double t0 = cpu_seconds();
    if (prillm_price(mk, target, &st, &res, &err) != PRILLM_OK) {
        fprintf(stderr, "target %d, prune %d: %s\n", target, prune, err.message);
        r.seconds = cpu_seconds() - t0;
        return r;
    }
    r.seconds = cpu_seconds() - t0;
    r.ok = 1;
    r.pieces = res.iterations;
    r.walked = res.walked_fraction;
    r.profit = res.profit;
    r.price = res.price;
    r.status = res.status;
    prillm_price_result_clear(&res);
    return r;
}

static void row(const char *name, const PrillmMarket *mk, int targets) {
    double full_s = 0, pruned_s = 0, walked = 0, gap = 0;
    long full_p = 0, pruned_p = 0;
    int solved_full = 0, solved_pruned = 0, count = 0;
    if (targets > mk->n_providers) targets = mk->n_providers;
    for (int s = 0; s < targets; s++) {
        Run a = run(mk, s, 0), b = run(mk, s, 1);
        if (!a.ok || !b.ok) continue;
        count++;
        full_s += a.seconds, pruned_s += b.seconds;
        full_p += a.pieces, pruned_p += b.pieces;
        walked += b.walked;
        solved_full += a.status == PRILLM_STATUS_SOLVED;
        solved_pruned += b.status == PRILLM_STATUS_SOLVED;
        double scale = fmax(fabs(a.profit), 1e-300);
        gap = fmax(gap, fabs(a.profit - b.profit) / scale);
    }
    if (!count) {
        printf("| %s | %d x %d | no target priced |\n", name, mk->n_users, mk->n_providers);
        return;
    }
    char t1[32], t2[32];
    printf("| %s | %d x %d | %d | %.0f | %s | %d/%d | %.0f | %s | %.1f%% | %d/%d | %.2fx | %.1e |\n", name, mk->n_users,
           mk->n_providers, count, (double)full_p / count, bench_format_time(full_s / count, 1, t1, sizeof t1),
           solved_full, count, (double)pruned_p / count, bench_format_time(pruned_s / count, 1, t2, sizeof t2),
           100 * walked / count, solved_pruned, count, full_s / fmax(pruned_s, 1e-12), gap);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *market_path = NULL;
    int large = 0, quick = 0, targets = 2;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--large") == 0) large = 1;
        else if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--time-limit") == 0 && k + 1 < argc) k++; /* bench.sh passes the others' flags */
        else if (strcmp(argv[k], "--model") == 0 && k + 1 < argc) k++;
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc) market_path = argv[++k];
        else if (strcmp(argv[k], "--targets") == 0 && k + 1 < argc) targets = atoi(argv[++k]);
        else {
            fprintf(stderr, "usage: bench_exact_scale [--quick] [--large] [--market FILE] [--targets N]\n");
            return 2;
        }
    }
    if (targets < 1) targets = 1;
    printf("| market | apps x models | targets | pieces (whole range) | CPU per target | solved | pieces (pruned) "
           "| CPU per target | range walked | solved | speed-up | profit gap |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    static const struct {
        int n, m;
    } sizes[] = {{500, 50}, {1000, 100}, {2000, 200}, {5000, 500}};
    int n_sizes = quick ? 1 : large ? 4 : 3;
    for (int k = 0; k < n_sizes; k++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(sizes[k].n, sizes[k].m, 7, &err);
        if (!mk) {
            fprintf(stderr, "random market: %s\n", err.message);
            return 1;
        }
        row("random (seed 7)", mk, targets);
        prillm_market_free(mk);
    }
    if (market_path) {
        PrillmMarket *mk = bench_load_market(market_path);
        if (!mk) {
            fprintf(stderr, "%s: cannot read the market (skipped)\n", market_path);
            return 0;
        }
        row(market_path, mk, targets);
        prillm_market_free(mk);
    }
    return 0;
}
