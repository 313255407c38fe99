/*
 * Competition benchmark: prillm_compete (iterated exact best responses)
 * against the same iteration with best responses taken on a price grid,
 * on the bundled default market, an optional market file (e.g. the
 * calibrated OpenRouter slice) and seeded random markets up to 1000 apps x
 * 100 models.
 *
 * Every provider leads. Columns: status, rounds, best responses, wall time
 * of the whole run, and the certificate: the largest relative gain any
 * leader has from a unilateral deviation at the final prices, by the exact
 * walk (for the grid iteration: an independent prillm_price exact per
 * leader). Single runs on one core (OpenBLAS pinned to one thread).
 *
 * Usage: bench_compete [--quick] [--market FILE]... [--data DIR] [--grid-points G]
 *                      [--time-limit SECONDS] [--max-size N]
 *   --quick        small random markets only (up to 100 x 10)
 *   --market FILE  also a market file; a missing file is skipped with a note
 *   --data DIR     the OpenRouter tables (default $PRILLM_SOURCE_DIR/../shared/
 *                  data/openrouter): without --market, the bench fits the
 *                  slice of the 30 largest models and 100 largest apps there
 *                  (as `prillm fit --max-models 30 --max-apps 100`); skipped
 *                  when the directory is absent
 *   --time-limit   per run (default 300 s); the certificate comes after it
 *   --max-size N   random markets with at most N apps (default 1000)
 *   --threads N    the last table's thread count (default 2, at least 2)
 *   --threads-only that table alone: the same Jacobi runs on 1 and N threads,
 *                  wall times, ratio, and whether the results agree bit for bit
 * The first table runs every compete on one thread (settings.threads = 1).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_common.h"
#include "compete_internal.h"

typedef struct {
    const char *status;
    int rounds;
    long best_responses;
    double seconds, certificate;
} Run;

/* Largest relative gain over the leaders by independent exact pricing at
 * the market's prices (the library's measure: relative to the profit, or
 * to 1e-12 x demand x top price when that is larger). */
static double certificate(const PrillmMarket *mk) {
    double total = 0, top = 1, worst = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    for (int j = 0; j < mk->n_providers; j++) top = fmax(top, fabs(mk->price[j]));
    double unit = 1e-12 * total * top;
    for (int j = 0; j < mk->n_providers; j++) {
        PrillmPriceResult r;
        PrillmError err;
        if (prillm_price(mk, j, NULL, &r, &err)) {
            fprintf(stderr, "bench: %s\n", err.message);
            return NAN;
        }
        worst = fmax(worst, (r.profit - r.current_profit) / fmax(fabs(r.current_profit), unit));
        prillm_price_result_clear(&r);
    }
    return worst;
}

static Run run_exact(const PrillmMarket *mk, int order, double damping, double time_limit) {
    PrillmCompeteSettings set;
    prillm_compete_default_settings(&set);
    set.order = order;
    set.damping = damping;
    set.time_limit = time_limit;
    set.threads = 1; /* this table: one core */
    PrillmCompeteResult r;
    PrillmError err;
    Run out = {"error", 0, 0, NAN, NAN};
    if (prillm_compete(mk, NULL, mk->n_providers, &set, &r, &err)) {
        fprintf(stderr, "bench: %s\n", err.message);
        return out;
    }
    out.status = prillm_compete_status_name(r.status);
    out.rounds = r.rounds;
    out.best_responses = r.best_responses - mk->n_providers; /* without the certificate's walks */
    out.seconds = r.seconds;
    out.certificate = r.max_gain_relative;
    prillm_compete_result_clear(&r);
    return out;
}

/* Gauss-Seidel with each best response the best of grid_points evenly
 * spaced prices on [0, default pmax] (prillm_price method grid). */
static Run run_grid(const PrillmMarket *base, int grid_points, int max_rounds, double time_limit) {
    Run out = {"error", 0, 0, NAN, NAN};
    PrillmError err;
    PrillmMarket *mk = prillm_market_copy(base, &err);
    int m = mk->n_providers;
    double *hist = calloc((size_t)(max_rounds + 1) * (size_t)m, sizeof(double));
    memcpy(hist, mk->price, (size_t)m * sizeof(double));
    PrillmPriceSettings ps;
    prillm_price_default_settings(&ps);
    ps.method = PRILLM_PRICE_GRID;
    ps.grid_points = grid_points;
    double t0 = prillm__now();
    out.status = "round_limit";
    for (int round = 1; round <= max_rounds; round++) {
        double residual = 0;
        for (int j = 0; j < m; j++) {
            PrillmPriceResult r;
            if (prillm_price(mk, j, &ps, &r, &err)) {
                fprintf(stderr, "bench: %s\n", err.message);
                out.status = "error";
                goto done;
            }
            out.best_responses++;
            residual = fmax(residual, fabs(r.price - mk->price[j]) / fmax(1, fabs(mk->price[j])));
            mk->price[j] = r.price;
            prillm_price_result_clear(&r);
        }
        memcpy(hist + (size_t)round * (size_t)m, mk->price, (size_t)m * sizeof(double));
        out.rounds = round;
        if (residual <= 1e-10) {
            out.status = "converged";
            break;
        }
        if (prillm__compete_find_cycle(hist, round, m, 1e-10)) {
            out.status = "cycle";
            break;
        }
        if (time_limit > 0 && prillm__now() - t0 > time_limit) {
            out.status = "time_limit";
            break;
        }
    }
done:
    out.seconds = prillm__now() - t0;
    out.certificate = certificate(mk);
    free(hist);
    prillm_market_free(mk);
    return out;
}

static void row(const char *market, const PrillmMarket *mk, const char *method, Run r) {
    char t[32];
    printf("| %-26s | %4d x %-3d | %-22s | %-11s | %6d | %7ld | %10s | %9.2g |\n", market, mk->n_users,
           mk->n_providers, method, r.status, r.rounds, r.best_responses, bench_format_time(r.seconds, 0, t, sizeof t),
           r.certificate);
    fflush(stdout);
}

/* The same Jacobi run (damping 0.5, at most `rounds` rounds, then the
 * certificate) on 1 and on `threads` threads: wall times, their ratio, and
 * whether the two results agree bit for bit (status, rounds, counts, every
 * price, profit and flow, the deviations and gains). */
static int same_bits(const double *a, const double *b, int count) {
    for (int k = 0; k < count; k++)
        if (!(isnan(a[k]) && isnan(b[k])) && memcmp(&a[k], &b[k], sizeof a[k]) != 0) return 0;
    return 1;
}

static void threads_row(const char *name, const PrillmMarket *mk, int rounds, int threads) {
    PrillmCompeteResult r[2];
    double wall[2];
    PrillmError err;
    for (int v = 0; v < 2; v++) {
        PrillmCompeteSettings set;
        prillm_compete_default_settings(&set);
        set.order = PRILLM_COMPETE_JACOBI;
        set.damping = 0.5;
        set.max_rounds = rounds;
        set.threads = v == 0 ? 1 : threads;
        double t0 = prillm__now();
        if (prillm_compete(mk, NULL, mk->n_providers, &set, &r[v], &err)) {
            fprintf(stderr, "bench: %s\n", err.message);
            if (v == 1) prillm_compete_result_clear(&r[0]);
            return;
        }
        wall[v] = prillm__now() - t0;
    }
    int m = mk->n_providers, L = r[0].n_leaders;
    int same = r[0].status == r[1].status && r[0].rounds == r[1].rounds &&
               r[0].best_responses == r[1].best_responses && r[0].equilibrium_solves == r[1].equilibrium_solves &&
               same_bits(r[0].price, r[1].price, m) && same_bits(r[0].profit, r[1].profit, m) &&
               same_bits(r[0].flow, r[1].flow, m) && same_bits(r[0].deviation_price, r[1].deviation_price, L) &&
               same_bits(r[0].gain, r[1].gain, L) && same_bits(&r[0].max_gain_relative, &r[1].max_gain_relative, 1);
    char a[32], b[32];
    printf("| %-26s | %4d x %-3d | %-11s | %6d | %7ld | %10s | %10s | %5.2f | %-9s |\n", name, mk->n_users, m,
           prillm_compete_status_name(r[0].status), r[0].rounds, r[0].best_responses,
           bench_format_time(wall[0], 0, a, sizeof a), bench_format_time(wall[1], 0, b, sizeof b), wall[0] / wall[1],
           same ? "identical" : "DIFFERENT");
    fflush(stdout);
    prillm_compete_result_clear(&r[0]);
    prillm_compete_result_clear(&r[1]);
}

static void bench_market(const char *name, const PrillmMarket *mk, int grid_points, double time_limit, int jacobi) {
    char label[64];
    row(name, mk, "exact, gauss-seidel", run_exact(mk, PRILLM_COMPETE_GAUSS_SEIDEL, 1, time_limit));
    if (jacobi) row(name, mk, "exact, jacobi 0.5", run_exact(mk, PRILLM_COMPETE_JACOBI, 0.5, time_limit));
    snprintf(label, sizeof label, "grid %d, gauss-seidel", grid_points);
    row(name, mk, label, run_grid(mk, grid_points, 200, time_limit));
}

/* The calibrated OpenRouter slice of the 30 largest models and 100 largest
 * apps (as `prillm fit --max-models 30 --max-apps 100`), or NULL with a note
 * when data is absent or the fit fails. */
static PrillmFitResult *fit_slice(const char *data) {
    struct stat st_dir;
    if (!data || stat(data, &st_dir) != 0) {
        fprintf(stderr, "bench: %s absent: the OpenRouter slice is skipped\n", data ? data : "(no data)");
        return NULL;
    }
    PrillmFitSettings fs;
    prillm_fit_default_settings(&fs);
    fs.max_models = 30;
    fs.max_apps = 100;
    PrillmFitResult *fit = NULL;
    PrillmError err;
    if (prillm_fit_openrouter(data, &fs, NULL, NULL, &fit, &err)) {
        fprintf(stderr, "bench: fit of %s: %s: skipped\n", data, err.message);
        return NULL;
    }
    return fit;
}

/* The Jacobi table: the bundled market and the OpenRouter slice to the end
 * of their runs, market files for 2 rounds, random markets for 10 and 1
 * (the larger) rounds; each then certified. */
static void threads_table(const char *data, const char *const *markets, int n_markets, int quick, int max_size, int threads) {
    printf("\n### Jacobi rounds side by side (%d threads against 1)\n\n", threads);
    printf("| market                     | apps x mod | status      | rounds |   BRs   | 1 thread   | %d threads  | ratio |"
           " result    |\n",
           threads);
    printf("|----------------------------|------------|-------------|--------|---------|------------|------------|-------|"
           "-----------|\n");
    PrillmMarket *mk = bench_load_market("data/default_market.json");
    if (mk) {
        threads_row("default market", mk, 200, threads);
        prillm_market_free(mk);
    }
    PrillmFitResult *fit = data ? fit_slice(data) : NULL;
    if (fit) {
        threads_row("OpenRouter, 30 models", fit->market, 200, threads);
        prillm_fit_result_free(fit);
    }
    for (int q = 0; q < n_markets; q++) {
        if (!(mk = bench_load_market(markets[q]))) continue;
        const char *base = strrchr(markets[q], '/');
        threads_row(base ? base + 1 : markets[q], mk, 2, threads);
        prillm_market_free(mk);
    }
    static const int sizes[][3] = {{300, 30, 10}, {1000, 100, 1}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        if (sizes[k][0] > max_size || quick) continue;
        PrillmError err;
        if (!(mk = prillm_market_random(sizes[k][0], sizes[k][1], 1, &err))) continue;
        threads_row("random, seed 1", mk, sizes[k][2], threads);
        prillm_market_free(mk);
    }
}

int main(int argc, char **argv) {
    int quick = 0, grid_points = 201, max_size = 1000, threads_only = 0, threads = 2;
    double time_limit = 300;
    const char *markets[8], *data = NULL;
    int n_markets = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc && n_markets < 8) markets[n_markets++] = argv[++k];
        else if (strcmp(argv[k], "--data") == 0 && k + 1 < argc) data = argv[++k];
        else if (strcmp(argv[k], "--grid-points") == 0 && k + 1 < argc) grid_points = atoi(argv[++k]);
        else if (strcmp(argv[k], "--time-limit") == 0 && k + 1 < argc) time_limit = atof(argv[++k]);
        else if (strcmp(argv[k], "--max-size") == 0 && k + 1 < argc) max_size = atoi(argv[++k]);
        else if (strcmp(argv[k], "--threads-only") == 0) threads_only = 1;
        else if (strcmp(argv[k], "--threads") == 0 && k + 1 < argc) threads = atoi(argv[++k]);
        else {
            fprintf(stderr,
                    "usage: bench_compete [--quick] [--market FILE]... [--data DIR] [--grid-points G] [--time-limit S] "
                    "[--max-size N] [--threads N] [--threads-only]\n");
            return 2;
        }
    }
    if (grid_points < 2) grid_points = 2;
    if (threads < 2) threads = 2;
    char path[1024];
    if (!data) {
        const char *src = getenv("PRILLM_SOURCE_DIR");
        snprintf(path, sizeof path, "%s/../shared/data/openrouter", src ? src : ".");
        data = path;
    }
    if (threads_only) {
        threads_table(n_markets == 0 ? data : NULL, markets, n_markets, quick, max_size, threads);
        return 0;
    }
    printf("| market                     | apps x mod | best responses         | status      | rounds |"
           "   BRs   |   time     | max gain  |\n");
    printf("|----------------------------|------------|------------------------|-------------|--------|"
           "---------|------------|-----------|\n");
    const char *def = "data/default_market.json";
    PrillmMarket *mk = bench_load_market(def);
    if (mk) {
        bench_market("default market", mk, grid_points, time_limit, 1);
        prillm_market_free(mk);
    } else {
        fprintf(stderr, "bench: %s not found (run from the source tree): skipped\n", def);
    }
    PrillmFitResult *fit = n_markets == 0 ? fit_slice(data) : NULL;
    if (fit) {
        bench_market("OpenRouter, 30 models", fit->market, grid_points, time_limit, 1);
        prillm_fit_result_free(fit);
    }
    for (int q = 0; q < n_markets; q++) {
        mk = bench_load_market(markets[q]);
        if (!mk) {
            fprintf(stderr, "bench: %s not readable: skipped\n", markets[q]);
            continue;
        }
        const char *base = strrchr(markets[q], '/');
        bench_market(base ? base + 1 : markets[q], mk, grid_points, time_limit, 1);
        prillm_market_free(mk);
    }
    static const int sizes[][2] = {{20, 5}, {100, 10}, {300, 30}, {1000, 100}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        if (sizes[s][0] > max_size || (quick && sizes[s][0] > 100)) continue;
        for (unsigned long long seed = 1; seed <= (sizes[s][0] <= 100 ? 3u : 1u); seed++) {
            PrillmError err;
            mk = prillm_market_random(sizes[s][0], sizes[s][1], seed, &err);
            char name[64];
            snprintf(name, sizeof name, "random, seed %llu", seed);
            bench_market(name, mk, grid_points, time_limit, sizes[s][0] <= 300);
            prillm_market_free(mk);
        }
    }
    threads_table(n_markets == 0 ? data : NULL, markets, n_markets, quick, max_size, threads);
    return 0;
}
