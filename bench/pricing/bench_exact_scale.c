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
 * A first table times exact pricing of a small market, the bundled 20 x 20
 * default market (issue 14's target: under 0.2 ms a price): every target
 * priced `--repeats` times (the whole prillm_price call: today's
 * equilibrium, the walk, the scoring and certificate solves), each call
 * timed on the process CPU clock; the median and mean over all calls, and
 * the pieces and equilibrium solves per call. The program uses the public
 * API only, so the same source built against an older library gives the
 * before figure (docs/benchmarks.md).
 *
 * A second table finds where pruning starts to pay: small random markets of
 * 4 to 2,000 pairs, every target priced whole and pruned (the default
 * prunes above 50 pairs).
 *
 * Usage: bench_exact_scale [--quick] [--large] [--small-only] [--threshold-only] [--repeats R]
 *                          [--default FILE] [--market FILE] [--targets N]
 *   --quick: 500 x 50 only; --large adds 5000 x 500 (minutes per target)
 *   --small-only: the 20 x 20 table alone; --threshold-only: the second
 *   table alone; --default: the small market
 *   (default $PRILLM_SOURCE_DIR/data/default_market.json, else
 *   data/default_market.json)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
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

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every target of a small market priced `repeats` times, one call at a time. */
static int small_market(const char *path, int repeats) {
    PrillmMarket *mk = bench_load_market(path);
    if (!mk) {
        fprintf(stderr, "%s: cannot read the market (the small-market table is skipped)\n", path);
        return 1;
    }
    int m = mk->n_providers, calls = m * repeats;
    double *times = malloc((size_t)calls * sizeof(double)), total = 0;
    long pieces = 0, solves = 0;
    int solved = 0, count = 0;
    PrillmPriceSettings st;
    prillm_price_default_settings(&st);
    /* targets interleaved, as a caller pricing the whole market would */
    for (int r = 0; r < repeats && times; r++)
        for (int s = 0; s < m; s++) {
            PrillmPriceResult res;
            PrillmError err;
            double t0 = cpu_seconds();
            PrillmErrorCode rc = prillm_price(mk, s, &st, &res, &err);
            double t = cpu_seconds() - t0;
            if (rc) {
                fprintf(stderr, "%s target %d: %s\n", path, s, err.message);
                continue;
            }
            times[count++] = t;
            total += t;
            pieces += res.iterations;
            solves += res.equilibrium_solves;
            solved += res.status == PRILLM_STATUS_SOLVED;
            prillm_price_result_clear(&res);
        }
    if (count > 0) {
        qsort(times, (size_t)count, sizeof *times, compare_doubles);
        double median = count % 2 ? times[count / 2] : 0.5 * (times[count / 2 - 1] + times[count / 2]);
        char a[32], b[32];
        printf("| market | apps x models | calls | median CPU per exact price | mean | pieces per price | equilibrium "
               "solves per price | solved | median / 0.2 ms |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        printf("| %s | %d x %d | %d (%d targets x %d) | %s | %s | %.1f | %.1f | %d/%d | %.1f |\n\n", name, mk->n_users,
               m, count, m, repeats, bench_format_time(median, 1, a, sizeof a),
               bench_format_time(total / count, 1, b, sizeof b), (double)pieces / count, (double)solves / count, solved,
               count, median / 2e-4);
        fflush(stdout);
    }
    free(times);
    prillm_market_free(mk);
    return count > 0 ? 0 : 1;
}

/* Every target of mk priced `reps` times with the given prune setting: CPU
 * seconds per call; profits[s] the last answer's profit. */
static double batch(const PrillmMarket *mk, int prune, int reps, double *profits) {
    PrillmPriceSettings st;
    prillm_price_default_settings(&st);
    st.prune = prune;
    double t0 = cpu_seconds();
    for (int r = 0; r < reps; r++)
        for (int s = 0; s < mk->n_providers; s++) {
            PrillmPriceResult res;
            PrillmError err;
            if (prillm_price(mk, s, &st, &res, &err) != PRILLM_OK) {
                fprintf(stderr, "target %d, prune %d: %s\n", s, prune, err.message);
                return NAN;
            }
            profits[s] = res.profit;
            prillm_price_result_clear(&res);
        }
    return (cpu_seconds() - t0) / (reps * mk->n_providers);
}

/* Where pruning starts to pay: small random markets (four seeds each),
 * every target priced whole and pruned, the two alternated three times
 * (calls of a few microseconds are timed in batches). The default prunes
 * above 50 pairs (src/pricing/pricing_pieces.c, PRUNE_AUTO_PAIRS). */
static void threshold_table(void) {
    static const int sizes[][2] = {{2, 2},  {3, 3},  {4, 4},   {6, 6},   {5, 10},  {10, 5},   {8, 8},
                                   {4, 16}, {10, 10}, {12, 12}, {20, 20}, {50, 10}, {100, 20}, {10, 100}};
    printf("| apps x models | pairs | markets x targets | whole: CPU per price | pruned | whole / pruned | default | "
           "largest profit gap |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int n = sizes[c][0], m = sizes[c][1], pairs = n * m;
        int reps = pairs <= 200 ? 40 : pairs <= 1000 ? 6 : 2;
        double whole = 0, pruned = 0, gap = 0, pa[128], pb[128];
        for (int seed = 1; seed <= 4; seed++) {
            PrillmError err;
            PrillmMarket *mk = prillm_market_random(n, m, 1000 * (uint64_t)seed + c, &err);
            if (!mk) {
                fprintf(stderr, "random market: %s\n", err.message);
                return;
            }
            for (int k = 0; k < 3; k++) {
                whole += batch(mk, 0, reps, pa) / 12;
                pruned += batch(mk, 1, reps, pb) / 12;
            }
            for (int s = 0; s < m; s++) gap = fmax(gap, fabs(pa[s] - pb[s]) / fmax(fabs(pa[s]), 1e-300));
            prillm_market_free(mk);
        }
        char a[32], b[32];
        printf("| %d x %d | %d | 4 x %d | %s | %s | %.2f | %s | %.1e |\n", n, m, pairs, m,
               bench_format_time(whole, 1, a, sizeof a), bench_format_time(pruned, 1, b, sizeof b), whole / pruned,
               pairs > 50 ? "pruned" : "whole", gap);
        fflush(stdout);
    }
    printf("\n");
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
    const char *market_path = NULL, *default_path = NULL;
    int large = 0, quick = 0, targets = 2, small_only = 0, threshold_only = 0, repeats = 25;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--large") == 0) large = 1;
        else if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--time-limit") == 0 && k + 1 < argc) k++; /* bench.sh passes the others' flags */
        else if (strcmp(argv[k], "--model") == 0 && k + 1 < argc) k++;
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc) market_path = argv[++k];
        else if (strcmp(argv[k], "--targets") == 0 && k + 1 < argc) targets = atoi(argv[++k]);
        else if (strcmp(argv[k], "--small-only") == 0) small_only = 1;
        else if (strcmp(argv[k], "--threshold-only") == 0) threshold_only = 1;
        else if (strcmp(argv[k], "--repeats") == 0 && k + 1 < argc) repeats = atoi(argv[++k]);
        else if (strcmp(argv[k], "--default") == 0 && k + 1 < argc) default_path = argv[++k];
        else {
            fprintf(stderr, "usage: bench_exact_scale [--quick] [--large] [--small-only] [--threshold-only] [--repeats R] "
                            "[--default FILE] [--market FILE] [--targets N]\n");
            return 2;
        }
    }
    if (targets < 1) targets = 1;
    if (repeats < 1) repeats = 1;
    char default_buf[4096];
    if (!default_path) {
        const char *dir = getenv("PRILLM_SOURCE_DIR");
        snprintf(default_buf, sizeof default_buf, "%s/data/default_market.json", dir && *dir ? dir : ".");
        default_path = default_buf;
    }
    if (threshold_only) {
        threshold_table();
        return 0;
    }
    int small_rc = small_market(default_path, repeats);
    if (small_only) return small_rc;
    threshold_table();
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
