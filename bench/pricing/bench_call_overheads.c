/*
 * What a pricing call pays before its method runs, on seeded random markets
 * of the real market's scale: the market's validation, the data-derived
 * price bound (prillm_price_default_pmax, computed by every call without
 * pmax), the pairs a target's price can reach (the part of the market `da`
 * abstracts), and an equilibrium solver's setup (validation, the market's
 * copy and its n x m costs), and the bound and the reachable pairs as
 * prillm_price computes them: from the solver's costs at the market's
 * prices, sharing the rivals' load bounds (checked to be the same bound
 * bit for bit and the same pairs). Each is also given as a multiple of one pass
 * over the market's n x m delay matrix (read and summed, as in
 * bench_equilibrium), measured in the same run.
 *
 * Times are the fastest of the repeats (wall clock, one core: OpenBLAS is
 * pinned to one thread; the steps themselves use none of it); the price
 * bound and the reachable pairs cycle through the first targets. The
 * bound's value and the reachable pairs' count are printed as a check that
 * the work was done.
 *
 * Usage: bench_call_overheads [--quick] [--repeats R]
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "internal.h"
#include "pricing_internal.h"

typedef struct {
    int n, m;
} Size;

static double fastest(const double *times, int count) {
    double best = INFINITY;
    for (int r = 0; r < count; r++) best = fmin(best, times[r]);
    return best;
}

/* One pass over the delay matrix, as bench_equilibrium's unit. */
static double pass_time(const PrillmMarket *mk, int repeats) {
    size_t nm = (size_t)mk->n_users * (size_t)mk->n_providers;
    double best = INFINITY;
    volatile double sink = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = prillm__now(), sum = 0;
        for (size_t k = 0; k < nm; k++) sum += mk->delay[k];
        sink = sum;
        best = fmin(best, prillm__now() - t0);
    }
    (void)sink;
    return best;
}

int main(int argc, char **argv) {
    int quick = 0, repeats = 7;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--repeats") == 0 && k + 1 < argc) repeats = atoi(argv[++k]);
        else {
            fprintf(stderr, "usage: bench_call_overheads [--quick] [--repeats R]\n");
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    openblas_set_num_threads(1);
    const Size sizes[] = {{1000, 150}, {5000, 500}, {10000, 500}};
    int n_sizes = quick ? 2 : 3;
    printf("prillm %s: what a pricing call pays before its method (one core; fastest of %d)\n\n", prillm_version(),
           repeats);
    printf("| apps x models | one pass over n x m | validation | / pass | price bound | / pass | reachable pairs | / pass "
           "| bound from a solver's costs | / pass | then the reachable pairs | / pass | solver setup | / pass "
           "| bound (target 0) | reachable pairs (target 0) | same from the costs |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < n_sizes; c++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(sizes[c].n, sizes[c].m, 7, &err);
        if (!mk) {
            fprintf(stderr, "bench: %s\n", err.message);
            return 1;
        }
        size_t nm = (size_t)mk->n_users * (size_t)mk->n_providers;
        unsigned char *can = malloc(nm), *can_costs = malloc(nm);
        double *reach = malloc((size_t)mk->n_providers * sizeof(double));
        double *t_valid = calloc((size_t)repeats, sizeof(double)), *t_bound = calloc((size_t)repeats, sizeof(double));
        double *t_reach = calloc((size_t)repeats, sizeof(double)), *t_setup = calloc((size_t)repeats, sizeof(double));
        double *t_costs = calloc((size_t)repeats, sizeof(double)), *t_pairs = calloc((size_t)repeats, sizeof(double));
        if (!can || !can_costs || !reach || !t_valid || !t_bound || !t_reach || !t_setup || !t_costs || !t_pairs)
            return 1;
        double bound0 = NAN;
        long reach0 = 0;
        int same = 1;
        for (int r = 0; r < repeats; r++) {
            int target = r % mk->n_providers;
            double t0 = prillm__now();
            if (prillm_market_validate(mk, &err)) {
                fprintf(stderr, "bench: %s\n", err.message);
                return 1;
            }
            double t1 = prillm__now();
            double bound = prillm_price_default_pmax(mk, target);
            double t2 = prillm__now();
            if (prillm__could_use(mk, target, NULL, NULL, can)) return 1;
            double t3 = prillm__now();
            PrillmEquilibriumSolver *s = NULL;
            if (prillm_equilibrium_setup(&s, mk, NULL, &err)) {
                fprintf(stderr, "bench: %s\n", err.message);
                return 1;
            }
            double t4 = prillm__now();
            /* what prillm_price does: both from the solver's costs at the
             * market's prices, sharing the rivals' load bounds */
            const double *costs = prillm__equilibrium_costs(s);
            if (prillm__rival_reach(mk, target, costs, reach)) return 1;
            double bound_costs = prillm__price_bound(mk, target, costs, reach);
            double t5 = prillm__now();
            if (prillm__could_use(mk, target, costs, reach, can_costs)) return 1;
            double t6 = prillm__now();
            prillm_equilibrium_cleanup(s);
            same &= memcmp(&bound, &bound_costs, sizeof bound) == 0 && memcmp(can, can_costs, nm) == 0;
            t_valid[r] = t1 - t0;
            t_bound[r] = t2 - t1;
            t_reach[r] = t3 - t2;
            t_setup[r] = t4 - t3;
            t_costs[r] = t5 - t4;
            t_pairs[r] = t6 - t5;
            if (target == 0) {
                bound0 = bound;
                reach0 = 0;
                for (size_t k = 0; k < nm; k++) reach0 += can[k];
            }
        }
        double pass = pass_time(mk, repeats);
        double v = fastest(t_valid, repeats), b = fastest(t_bound, repeats), q = fastest(t_reach, repeats),
               s = fastest(t_setup, repeats), k = fastest(t_costs, repeats), u = fastest(t_pairs, repeats);
        char a1[32], a2[32], a3[32], a4[32], a5[32], a6[32], a7[32];
        printf("| %d x %d | %s | %s | %.1f | %s | %.1f | %s | %.1f | %s | %.1f | %s | %.1f | %s | %.1f | %.6g | %ld of "
               "%zu | %s |\n",
               sizes[c].n, sizes[c].m, bench_format_time(pass, 1, a1, sizeof a1), bench_format_time(v, 1, a2, sizeof a2),
               v / pass, bench_format_time(b, 1, a3, sizeof a3), b / pass, bench_format_time(q, 1, a4, sizeof a4),
               q / pass, bench_format_time(k, 1, a6, sizeof a6), k / pass, bench_format_time(u, 1, a7, sizeof a7),
               u / pass, bench_format_time(s, 1, a5, sizeof a5), s / pass, bound0, reach0, nm, same ? "yes" : "NO");
        fflush(stdout);
        free(can);
        free(can_costs);
        free(reach);
        free(t_costs);
        free(t_pairs);
        free(t_valid);
        free(t_bound);
        free(t_reach);
        free(t_setup);
        prillm_market_free(mk);
    }
    return 0;
}
