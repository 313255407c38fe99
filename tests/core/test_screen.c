/* The exact method's candidates' screen (equilibrium.c, Screen): each
 * active-set correction round tests a short list per user instead of every
 * cost, with a bound that proves nothing outside the list can enter.
 *
 * It must change nothing but the work: on many random markets, cold and
 * warm after large price moves, the solve with the screen takes the same
 * rounds and returns the same flows, bit for bit, as the solve that reads
 * every cost each round (the screen off); those flows agree with an
 * independent method (Gauss-Seidel run to convergence, Ipopt where built);
 * and the screen does save the reading: most rounds read few rows in full
 * (the counters, no timing). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "support.h"

static double max_diff_per_demand(const PrillmMarket *mk, const double *a, const double *b) {
    int n = mk->n_users, m = mk->n_providers;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        if (!(mk->demand[i] > 0)) continue;
        for (int j = 0; j < m; j++)
            worst = fmax(worst, fabs(a[(size_t)i * m + j] - b[(size_t)i * m + j]) / mk->demand[i]);
    }
    return worst;
}

static PrillmEquilibriumSolver *setup_with_screen(const PrillmMarket *mk, int on) {
    PrillmEquilibriumSolver *s = NULL;
    PrillmError err;
    assert_int_equal(prillm_equilibrium_setup(&s, mk, NULL, &err), PRILLM_OK);
    prillm__equilibrium_set_screen(s, on);
    return s;
}

/* Screen on against screen off: same status, rounds, sweeps and flows bit
 * for bit; returns the solve's rounds. */
static int solve_both(PrillmEquilibriumSolver *on, PrillmEquilibriumSolver *off, const PrillmMarket *mk,
                      const char *what, int trial) {
    PrillmError err;
    assert_int_equal(prillm_equilibrium_solve(on, &err), PRILLM_OK);
    assert_int_equal(prillm_equilibrium_solve(off, &err), PRILLM_OK);
    const PrillmEquilibrium *a = prillm_equilibrium_solution(on), *b = prillm_equilibrium_solution(off);
    size_t nm = (size_t)mk->n_users * mk->n_providers;
    if (a->info.status != PRILLM_STATUS_SOLVED || b->info.status != PRILLM_STATUS_SOLVED)
        fail_msg("trial %d (%s): status %s / %s", trial, what, prillm_status_name(a->info.status),
                 prillm_status_name(b->info.status));
    if (a->info.iterations != b->info.iterations || a->info.sweeps != b->info.sweeps)
        fail_msg("trial %d (%s): %d rounds %d sweeps with the screen, %d and %d without", trial, what,
                 a->info.iterations, a->info.sweeps, b->info.iterations, b->info.sweeps);
    if (memcmp(a->flows, b->flows, nm * sizeof(double)) != 0)
        fail_msg("trial %d (%s): flows differ with the screen (by %.3g of a demand)", trial, what,
                 max_diff_per_demand(mk, a->flows, b->flows));
    /* and so does the certificate, whose zero flows the screen's bound
     * settles row by row where it can */
    if (memcmp(&a->info.kkt_violation, &b->info.kkt_violation, sizeof(double)) != 0 ||
        memcmp(a->lambda, b->lambda, (size_t)mk->n_users * sizeof(double)) != 0 ||
        memcmp(&a->info.potential, &b->info.potential, sizeof(double)) != 0)
        fail_msg("trial %d (%s): certificate %.17g with the screen, %.17g without", trial, what,
                 a->info.kkt_violation, b->info.kkt_violation);
    assert_true(a->info.kkt_violation <= 1e-9);
    return a->info.iterations;
}

/* Random markets of 64..200 providers (the screen's range), cold and then
 * warm after moves of one price by 0.01x, 0.1x, 3x, 10x and 1.01x. */
static void test_screen_changes_nothing_but_the_work(void **state) {
    (void)state;
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0}, {-3.0, 6.0, 0, 0}, {1.0, 2.0, 1, 0}, {1.0, 2.0, 0, 1}, {-1.0, 4.0, 0, 0},
    };
    static const double moves[] = {0.01, 0.1, 3.0, 10.0, 1.01};
    TestRng rng = {1414};
    long capped = 0, capped_listed = 0;
    long rounds_total = 0, full_reads = 0, listed = 0, cert_bounded = 0, cert_rows = 0, cols_spared = 0, cols_read = 0,
         cols_entered = 0, bounds_checked = 0;
    for (int trial = 0; trial < 30; trial++) {
        int n = test_int(&rng, 120, 700), m = test_int(&rng, 64, 200);
        PrillmMarket *mk = test_market(n, m, 7100 + (uint64_t)trial, &shapes[trial % 5]);
        if (trial % 3 == 2) test_market_affinity(mk, 7300 + (uint64_t)trial, 0.3);
        PrillmEquilibriumSolver *on = setup_with_screen(mk, 1), *off = setup_with_screen(mk, 0);
        prillm__equilibrium_check_column_bounds(on, 1);
        int rounds = solve_both(on, off, mk, "cold", trial);
        cert_rows += 6L * n; /* six solves, each certified at least once */
        long rebuilds = 0, rows = 0, full = 0;
        prillm__equilibrium_screen_counters(on, &rebuilds, &rows, &full);
        rounds_total += rounds;
        full_reads += rebuilds * n + full;
        listed += rows;
        for (int k = 0; k < 5; k++) {
            PrillmError err;
            int j = test_int(&rng, 0, m - 1);
            double price = mk->price[j] * moves[k];
            assert_int_equal(prillm_equilibrium_update_price(on, j, price, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_update_price(off, j, price, &err), PRILLM_OK);
            mk->price[j] = price;
            long before_rebuilds = rebuilds, before_full = full, before_rows = rows;
            rounds = solve_both(on, off, mk, "warm", trial);
            prillm__equilibrium_screen_counters(on, &rebuilds, &rows, &full);
            rounds_total += rounds;
            full_reads += (rebuilds - before_rebuilds) * n + (full - before_full);
            listed += rows - before_rows;
            /* and the warm answer is the cold solve's at the new price */
            PrillmEquilibriumSolver *cold = test_solve(mk, NULL);
            double diff = max_diff_per_demand(mk, prillm_equilibrium_solution(on)->flows,
                                              prillm_equilibrium_solution(cold)->flows);
            if (diff > 1e-9) fail_msg("trial %d, move %g: warm differs from cold by %.3g", trial, moves[k], diff);
            prillm_equilibrium_cleanup(cold);
        }
        /* the screen off reads every row every round */
        prillm__equilibrium_screen_counters(off, &rebuilds, &rows, &full);
        assert_int_equal(rebuilds + rows + full, 0);
        assert_int_equal(prillm__equilibrium_cert_rows_bounded(off), 0);
        cert_bounded += prillm__equilibrium_cert_rows_bounded(on);
        long listed_capped = 0;
        capped += prillm__equilibrium_capped_rows(on, &listed_capped);
        capped_listed += listed_capped;
        long spared, read, entered, checked, broken;
        prillm__equilibrium_column_counters(on, &spared, &read, &entered);
        prillm__equilibrium_column_bound_checks(on, &checked, &broken);
        if (broken) fail_msg("trial %d: %ld of %ld column bounds broken", trial, broken, checked);
        bounds_checked += checked;
        cols_spared += spared;
        cols_read += read;
        cols_entered += entered;
        prillm_equilibrium_cleanup(on);
        prillm_equilibrium_cleanup(off);
        prillm_market_free(mk);
    }
    /* Rows read in full, against every row every round without the screen
     * (the counters of the solves above): at most a third. */
    long rows_all = listed + full_reads;
    printf("# %ld rounds; rows read in full %ld, on their list %ld (%.1f%% read in full)\n", rounds_total, full_reads,
           listed, 100.0 * full_reads / (double)rows_all);
    /* and most certificates' rows are settled by the bound */
    printf("# certificate rows settled by the screen's bound: %ld (of at least %ld certified)\n", cert_bounded,
           cert_rows);
    assert_true(2 * cert_bounded >= cert_rows);
    /* the pairs of columns whose load fell far, on screened rows: settled
     * by the column's bound, or their cost read */
    printf("# column pairs settled by their bound %ld (%ld unlisted ones checked against their cost), read %ld (%ld "
           "entered)\n",
           cols_spared, bounds_checked, cols_read, cols_entered);
    assert_true(cols_spared > 0 && cols_read > 0 && cols_entered > 0 && bounds_checked > 0);
    assert_true(rows_all > 0);
    assert_true(3 * full_reads <= rows_all);
    /* the rounds' cap held rows back on every path, on their list too */
    printf("# rows the rounds' cap held back: %ld, %ld of them tested on their list\n", capped, capped_listed);
    assert_true(capped_listed > 0 && capped > capped_listed);
}

/* The rounds' cap (ENTER_CAP: a row takes only its most negative
 * candidates in a round) changes the path, not the answer: on random
 * markets on both sides of the screen's range, the cold solve with the cap
 * and without give the same flows (the equilibrium is unique) and
 * certificates, and the cap does hold rows back; in all, the solves with
 * it take fewer rounds (the counts, no timing). That the screen still
 * changes nothing with the cap (the same pairs kept whichever path reads
 * the row) is test_screen_changes_nothing_but_the_work's. */
static void test_enter_cap_changes_the_path_not_the_answer(void **state) {
    (void)state;
    static const TestMarketShape shapes[] = {{-1.0, 3.0, 0, 0}, {0.0, 3.0, 0, 0}, {-3.0, 6.0, 0, 0}, {1.0, 2.0, 1, 1}};
    TestRng rng = {0xcab5u};
    long capped = 0, rounds_on = 0, rounds_off = 0;
    double worst = 0;
    for (int trial = 0; trial < 24; trial++) {
        int n = test_int(&rng, 200, 1500), m = trial % 3 == 0 ? test_int(&rng, 12, 60) : test_int(&rng, 64, 200);
        PrillmMarket *mk = test_market(n, m, 0xcab600u + (uint64_t)trial, &shapes[trial % 4]);
        PrillmEquilibriumSolver *on = NULL, *off = NULL;
        PrillmError err;
        assert_int_equal(prillm_equilibrium_setup(&on, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_setup(&off, mk, NULL, &err), PRILLM_OK);
        prillm__equilibrium_set_enter_cap(off, 0);
        assert_int_equal(prillm_equilibrium_solve(on, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(off, &err), PRILLM_OK);
        const PrillmEquilibrium *a = prillm_equilibrium_solution(on), *b = prillm_equilibrium_solution(off);
        if (a->info.status != PRILLM_STATUS_SOLVED || b->info.status != PRILLM_STATUS_SOLVED)
            fail_msg("trial %d (%d x %d): status %s with the cap, %s without", trial, n, m,
                     prillm_status_name(a->info.status), prillm_status_name(b->info.status));
        double diff = max_diff_per_demand(mk, a->flows, b->flows);
        if (!(diff <= 1e-9)) fail_msg("trial %d (%d x %d): flows differ by %.3g of a demand", trial, n, m, diff);
        assert_true(a->info.kkt_violation <= 1e-9 && b->info.kkt_violation <= 1e-9);
        assert_int_equal(prillm__equilibrium_capped_rows(off, NULL), 0);
        worst = fmax(worst, diff);
        capped += prillm__equilibrium_capped_rows(on, NULL);
        rounds_on += a->info.iterations, rounds_off += b->info.iterations;
        prillm_equilibrium_cleanup(on);
        prillm_equilibrium_cleanup(off);
        prillm_market_free(mk);
    }
    printf("# rounds capped in %ld rows; %ld rounds with the cap, %ld without; flows within %.3g of a demand\n",
           capped, rounds_on, rounds_off, worst);
    assert_true(capped >= 100);
    assert_true(rounds_on < rounds_off);
}

/* The flows of the screened solve against an independent method: plain
 * Gauss-Seidel sweeps run to a tight certificate (no active set, no
 * screen). */
static void test_screened_flows_match_gauss_seidel(void **state) {
    (void)state;
    PrillmEquilibriumSettings gs;
    prillm_equilibrium_default_settings(&gs);
    gs.method = PRILLM_EQ_GAUSS_SEIDEL;
    gs.tolerance = 1e-12;
    TestRng rng = {2718};
    double worst = 0;
    for (int trial = 0; trial < 12; trial++) {
        int n = test_int(&rng, 60, 250), m = test_int(&rng, 64, 120);
        TestMarketShape shape = {-1.0, 3.0, 0, 0};
        PrillmMarket *mk = test_market(n, m, 8100 + (uint64_t)trial, &shape);
        PrillmEquilibriumSolver *exact = test_solve(mk, NULL), *ref = test_solve(mk, &gs);
        const PrillmEquilibrium *a = prillm_equilibrium_solution(exact), *b = prillm_equilibrium_solution(ref);
        assert_int_equal(a->info.status, PRILLM_STATUS_SOLVED);
        long rebuilds = 0;
        prillm__equilibrium_screen_counters(exact, &rebuilds, NULL, NULL);
        assert_true(rebuilds >= 1); /* the screen was used */
        if (b->info.status != PRILLM_STATUS_SOLVED) fail_msg("trial %d: Gauss-Seidel did not converge", trial);
        double diff = max_diff_per_demand(mk, a->flows, b->flows);
        worst = fmax(worst, diff);
        if (diff > 1e-7) fail_msg("trial %d (%d x %d): exact and Gauss-Seidel differ by %.3g", trial, n, m, diff);
        prillm_equilibrium_cleanup(exact);
        prillm_equilibrium_cleanup(ref);
        prillm_market_free(mk);
    }
    printf("# screened exact against Gauss-Seidel: largest difference %.3g of a demand\n", worst);
}

static void test_screened_flows_match_ipopt(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    PrillmEquilibriumSettings ip;
    prillm_equilibrium_default_settings(&ip);
    ip.method = PRILLM_EQ_IPOPT;
    ip.tolerance = 1e-10;
    TestRng rng = {3141};
    for (int trial = 0; trial < 3; trial++) {
        int n = test_int(&rng, 40, 80), m = test_int(&rng, 64, 80);
        TestMarketShape shape = {0.0, 2.0, 0, 0};
        PrillmMarket *mk = test_market(n, m, 9100 + (uint64_t)trial, &shape);
        PrillmEquilibriumSolver *exact = test_solve(mk, NULL), *ref = test_solve(mk, &ip);
        const PrillmEquilibrium *a = prillm_equilibrium_solution(exact), *b = prillm_equilibrium_solution(ref);
        assert_int_equal(a->info.status, PRILLM_STATUS_SOLVED);
        if (b->info.status == PRILLM_STATUS_FAILED) fail_msg("trial %d: Ipopt failed", trial);
        double diff = test_max_diff_norm_relative(mk, a->flows, b->flows);
        if (diff > 1e-6) fail_msg("trial %d (%d x %d): exact and Ipopt differ by %.3g", trial, n, m, diff);
        prillm_equilibrium_cleanup(exact);
        prillm_equilibrium_cleanup(ref);
        prillm_market_free(mk);
    }
}

/* The local start after a price rise (equilibrium.c, local_sweep): on 24
 * random markets, a warm re-solve after the price of the most used
 * provider is multiplied by 3 or 10 ends at the same equilibrium as without
 * it (and as a cold solve), in fewer rounds in total (123 against 139:
 * after 10x it saves up to 6 rounds, after 3x it is about even) and never
 * more than one round more on a market. */
static void test_local_start_after_price_rise(void **state) {
    (void)state;
    TestRng rng = {5150};
    long rounds_local = 0, rounds_plain = 0;
    for (int trial = 0; trial < 24; trial++) {
        int n = test_int(&rng, 150, 600), m = test_int(&rng, 64, 160);
        TestMarketShape shape = {0.0, 3.0, 0, 0};
        PrillmMarket *mk = test_market(n, m, 6100 + (uint64_t)trial, &shape);
        PrillmEquilibriumSolver *local = setup_with_screen(mk, 1), *plain = setup_with_screen(mk, 1);
        prillm__equilibrium_set_local_start(plain, 0);
        PrillmError err;
        assert_int_equal(prillm_equilibrium_solve(local, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(plain, &err), PRILLM_OK);
        /* the provider with the most flow */
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(local);
        int p = 0;
        for (int j = 1; j < m; j++)
            if (eq->provider_flow[j] > eq->provider_flow[p]) p = j;
        double price = mk->price[p] * (trial % 2 ? 10.0 : 3.0);
        assert_int_equal(prillm_equilibrium_update_price(local, p, price, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_update_price(plain, p, price, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(local, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(plain, &err), PRILLM_OK);
        const PrillmEquilibrium *a = prillm_equilibrium_solution(local), *b = prillm_equilibrium_solution(plain);
        assert_int_equal(a->info.status, PRILLM_STATUS_SOLVED);
        assert_int_equal(b->info.status, PRILLM_STATUS_SOLVED);
        mk->price[p] = price;
        PrillmEquilibriumSolver *cold = test_solve(mk, NULL);
        double diff = max_diff_per_demand(mk, a->flows, b->flows);
        double diff_cold = max_diff_per_demand(mk, a->flows, prillm_equilibrium_solution(cold)->flows);
        if (diff > 1e-9 || diff_cold > 1e-9)
            fail_msg("trial %d: local start differs from the plain one by %.3g, from cold by %.3g", trial, diff,
                     diff_cold);
        if (a->info.iterations > b->info.iterations + 1)
            fail_msg("trial %d: %d rounds with the local start, %d without", trial, a->info.iterations,
                     b->info.iterations);
        rounds_local += a->info.iterations;
        rounds_plain += b->info.iterations;
        prillm_equilibrium_cleanup(cold);
        prillm_equilibrium_cleanup(local);
        prillm_equilibrium_cleanup(plain);
        prillm_market_free(mk);
    }
    printf("# rounds after a price rise: %ld with the local start, %ld without\n", rounds_local, rounds_plain);
    assert_true(rounds_local < rounds_plain);
}

/* Where the flows can be nonzero (equilibrium.c, f_support) and the kept
 * outputs (prillm__equilibrium_set_keep_outputs) only spare passes over
 * the n x m flows: four solvers of each market, tracking on or off and
 * outputs kept or cleared, go through the same cold solve and warm
 * re-solves after small and large moves of one or two prices (large ones
 * start with the local sweep), and return the same status, rounds, sweeps,
 * flows, loads, multipliers and certificate, bit for bit. Cleared outputs
 * read NaN between update_price and solve; kept ones still hold the last
 * answer. */
/* Tiny apps beside huge ones, a huge model and a tiny congested one (as
 * test_equilibrium's test_tiny_apps_between_huge_and_congested_models):
 * the first certificate of an exact point can fail there, and the solve
 * polishes and certifies again. */
static void tiny_apps_huge_and_congested_models(PrillmMarket *mk, TestRng *rng) {
    int n = mk->n_users, m = mk->n_providers;
    mk->w_price = mk->w_congestion = 1.0;
    for (int i = 0; i < n; i++)
        mk->demand[i] = i < n / 4 ? 1e5 * (1 + test_uniform(rng)) : pow(10.0, -3.5 + 1.5 * test_uniform(rng));
    mk->capacity[0] = 1e7 * (1 + test_uniform(rng));
    mk->price[0] = 0.03;
    mk->value[0] = 0;
    if (m < 2) return;
    mk->capacity[1] = 1e-4 * (1 + test_uniform(rng));
    mk->price[1] = 2.0;
    mk->value[1] = 100 + 50 * test_uniform(rng);
}

static void test_support_tracking_changes_nothing(void **state) {
    (void)state;
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0}, {-3.0, 6.0, 0, 0}, {1.0, 2.0, 1, 0}, {1.0, 2.0, 0, 1}, {-1.0, 4.0, 0, 0},
    };
    static const double moves[] = {1.001, 0.5, 3.0, 0.02, 10.0, 1.3, 0.9, 0.0};
    TestRng rng = {2718};
    long solves = 0, told = 0, listed = 0, grouped = 0, sweeps_listed = 0;
    for (int trial = 0; trial < 40; trial++) {
        int n = test_int(&rng, 5, 400), m = test_int(&rng, 2, trial % 2 ? 160 : 24);
        if (trial % 4 == 3) n = 40, m = 8;
        PrillmMarket *mk = test_market(n, m, 8100 + (uint64_t)trial, trial % 4 == 3 ? NULL : &shapes[trial % 5]);
        if (trial % 4 == 3) tiny_apps_huge_and_congested_models(mk, &rng);
        else if (trial % 3 == 1) test_market_affinity(mk, 8300 + (uint64_t)trial, 0.3);
        /* solver v: support tracking (bit 0), outputs kept (bit 1), factor
         * updates told the changed rows (bit 2 clear) */
        enum { WAYS = 8 };
        PrillmEquilibriumSolver *sv[WAYS];
        PrillmError err;
        for (int v = 0; v < WAYS; v++) {
            assert_int_equal(prillm_equilibrium_setup(&sv[v], mk, NULL, &err), PRILLM_OK);
            prillm__equilibrium_set_support_tracking(sv[v], v & 1);
            prillm__equilibrium_set_keep_outputs(sv[v], (v >> 1) & 1);
            prillm__equilibrium_set_row_hints(sv[v], !((v >> 2) & 1));
        }
        size_t nm = (size_t)n * m;
        for (int step = 0; step <= 8; step++) {
            if (step > 0) {
                int moved = 1 + (step % 3 == 0);
                for (int k = 0; k < moved; k++) {
                    int j = test_int(&rng, 0, m - 1);
                    double price = mk->price[j] * moves[(step + k + trial) % 8];
                    for (int v = 0; v < WAYS; v++)
                        assert_int_equal(prillm_equilibrium_update_price(sv[v], j, price, &err), PRILLM_OK);
                    mk->price[j] = price;
                }
                for (int v = 0; v < WAYS; v++) {
                    const PrillmEquilibrium *e = prillm_equilibrium_solution(sv[v]);
                    assert_int_equal(e->info.status, PRILLM_STATUS_UNSOLVED);
                    if (!((v >> 1) & 1)) assert_true(isnan(e->flows[nm - 1]) && isnan(e->provider_flow[0]));
                    else assert_false(isnan(e->flows[nm - 1]) || isnan(e->provider_flow[0]));
                }
            }
            for (int v = 0; v < WAYS; v++) assert_int_equal(prillm_equilibrium_solve(sv[v], &err), PRILLM_OK);
            solves++;
            const PrillmEquilibrium *a = prillm_equilibrium_solution(sv[0]);
            if (a->info.status != PRILLM_STATUS_SOLVED && a->info.status != PRILLM_STATUS_INACCURATE)
                fail_msg("trial %d step %d: %s", trial, step, prillm_status_name(a->info.status));
            for (int v = 1; v < WAYS; v++) {
                const PrillmEquilibrium *b = prillm_equilibrium_solution(sv[v]);
                if (a->info.status != b->info.status || a->info.iterations != b->info.iterations ||
                    a->info.sweeps != b->info.sweeps)
                    fail_msg("trial %d step %d solver %d: %s %d rounds %d sweeps against %s %d %d", trial, step, v,
                             prillm_status_name(b->info.status), b->info.iterations, b->info.sweeps,
                             prillm_status_name(a->info.status), a->info.iterations, a->info.sweeps);
                if (memcmp(a->flows, b->flows, nm * sizeof(double)) != 0 ||
                    memcmp(a->provider_flow, b->provider_flow, (size_t)m * sizeof(double)) != 0 ||
                    memcmp(a->lambda, b->lambda, (size_t)n * sizeof(double)) != 0 ||
                    memcmp(&a->info.kkt_violation, &b->info.kkt_violation, sizeof(double)) != 0 ||
                    memcmp(&a->info.potential, &b->info.potential, sizeof(double)) != 0 ||
                    a->info.active_pairs != b->info.active_pairs)
                    fail_msg("trial %d step %d: solver %d differs (flows by %.3g of a demand)", trial, step, v,
                             max_diff_per_demand(mk, a->flows, b->flows));
            }
        }
        /* the pre-sweeps' own state, left as the answer by one round that
         * does not settle: three sweeps, the later two from listed flows
         * and told the groups, against three that read every flow */
        PrillmEquilibriumSettings starved;
        prillm_equilibrium_default_settings(&starved);
        starved.presweeps = 3;
        starved.max_sweeps = 3;
        starved.max_rounds = 1;
        PrillmEquilibriumSolver *gs[2];
        for (int v = 0; v < 2; v++) {
            assert_int_equal(prillm_equilibrium_setup(&gs[v], mk, &starved, &err), PRILLM_OK);
            prillm__equilibrium_set_support_tracking(gs[v], v);
            (void)prillm_equilibrium_solve(gs[v], &err);
        }
        const PrillmEquilibrium *g0 = prillm_equilibrium_solution(gs[0]), *g1 = prillm_equilibrium_solution(gs[1]);
        if (memcmp(g0->flows, g1->flows, nm * sizeof(double)) != 0 ||
            memcmp(g0->provider_flow, g1->provider_flow, (size_t)m * sizeof(double)) != 0 ||
            g0->info.sweeps != g1->info.sweeps)
            fail_msg("trial %d: the sweeps differ with their flows listed (by %.3g of a demand)", trial,
                     max_diff_per_demand(mk, g0->flows, g1->flows));
        long rows_listed, rows_grouped;
        prillm__equilibrium_sweep_counters(gs[1], &rows_listed, &rows_grouped);
        sweeps_listed += rows_listed;
        for (int v = 0; v < 2; v++) prillm_equilibrium_cleanup(gs[v]);
        told += prillm__equilibrium_rows_told(sv[0]);
        assert_int_equal(prillm__equilibrium_rows_told(sv[WAYS - 1]), 0);
        /* the sweeps' listed flows and groups: taken with support tracking
         * (bit 0), never without it */
        prillm__equilibrium_sweep_counters(sv[1], &rows_listed, &rows_grouped);
        listed += rows_listed;
        grouped += rows_grouped;
        prillm__equilibrium_sweep_counters(sv[0], &rows_listed, &rows_grouped);
        assert_int_equal(rows_listed + rows_grouped, 0);
        for (int v = 0; v < WAYS; v++) prillm_equilibrium_cleanup(sv[v]);
        prillm_market_free(mk);
    }
    printf("# %ld solves, each the same bit for bit in the eight ways; %ld factor updates told the rows; %ld rows "
           "swept from listed flows, %ld told the groups\n",
           solves, told, listed, grouped);
    assert_true(told >= solves); /* the told path is what most rounds take */
    assert_true(listed > 0 && grouped > 0 && sweeps_listed > 0);
}

/* The certificate that the screen's bound shortens (certify_packed) is the
 * one prillm_equilibrium_certify recomputes from the market and the flows
 * alone, bit for bit: on random markets, after price cuts and rises, with
 * the solver starved of rounds and sweeps so that many of its answers are
 * not yet equilibria (zero flows whose marginal cost undercuts the
 * multiplier, some in moved columns, are what the certificate must see). */
/* Seeding by rows (prillm__equilibrium_seed_rows, which rewrites only the
 * rows that differ from the solver's last set and tells the first round
 * those rows) and seeding changed pairs with the rows told must start the
 * same solve as the flags written whole (prillm__equilibrium_seed_active,
 * whose first round reads every row; seed_pairs on a solver whose first
 * round reads them all): the same rounds and flows, bit for bit.
 * The sets are those of other prices, as the pricing walk's bounding and
 * certificate solves use them; a fresh solver (no last set) takes the
 * whole-flags path. */
static void test_seeds_by_rows_change_nothing(void **state) {
    (void)state;
    TestRng rng = {4242};
    long told = 0, rows_total = 0, solves = 0, by_rows = 0;
    for (int trial = 0; trial < 24; trial++) {
        int n = test_int(&rng, 5, 300), m = test_int(&rng, 2, trial % 2 ? 120 : 20);
        PrillmMarket *mk = test_market(n, m, 9100 + (uint64_t)trial, NULL);
        if (trial % 3 == 1) test_market_affinity(mk, 9300 + (uint64_t)trial, 0.3);
        size_t nm = (size_t)n * m;
        PrillmError err;
        /* ref gives the seeds: its sets at other prices */
        PrillmEquilibriumSolver *ref = NULL, *flags = NULL, *rows = NULL;
        assert_int_equal(prillm_equilibrium_setup(&ref, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_setup(&flags, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_setup(&rows, mk, NULL, &err), PRILLM_OK);
        int j = test_int(&rng, 0, m - 1);
        double p0 = mk->price[j];
        unsigned char *set = malloc(nm);
        int *start = malloc(((size_t)n + 1) * sizeof(int)), *prov = malloc(nm * sizeof(int) + sizeof(int));
        long *pairs = malloc(nm * sizeof(long) + sizeof(long));
        unsigned char *in = malloc(nm + 1);
        assert_true(set && start && prov && pairs && in);
        static const double moves[] = {1.0, 0.3, 2.5, 0.05, 8.0, 1.02};
        for (int step = 0; step < 6; step++) {
            double p = p0 * moves[step], q = p * (step % 2 ? 1.05 : 0.95);
            /* the seed: ref's set at the nearby price q */
            assert_int_equal(prillm_equilibrium_update_price(ref, j, q, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(ref, &err), PRILLM_OK);
            const unsigned char *last = prillm__equilibrium_last_set(ref);
            if (!last) continue;
            memcpy(set, last, nm);
            int count = 0;
            for (int i = 0; i < n; i++) {
                start[i] = count;
                for (int k = 0; k < m; k++)
                    if (set[(size_t)i * m + k]) prov[count++] = k;
            }
            start[n] = count;
            /* the same set by rows, from the solver's pattern */
            const int *rows_start, *rows_prov;
            if (prillm__equilibrium_last_set_rows(ref, &rows_start, &rows_prov)) {
                by_rows++;
                assert_memory_equal(rows_start, start, ((size_t)n + 1) * sizeof(int));
                assert_memory_equal(rows_prov, prov, (size_t)count * sizeof(int));
            }
            assert_int_equal(prillm_equilibrium_update_price(flags, j, p, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_update_price(rows, j, p, &err), PRILLM_OK);
            prillm__equilibrium_set_row_hints(flags, step % 3 != 2);
            if (step % 3 == 2) {
                /* a few pairs of the seed, on top of the last set */
                const unsigned char *mine = prillm__equilibrium_last_set(rows);
                long n_pairs = 0;
                for (size_t k = 0; mine && k < nm && n_pairs < 40; k++)
                    if (mine[k] != set[k]) {
                        pairs[n_pairs] = (long)k;
                        in[n_pairs++] = set[k];
                    }
                prillm__equilibrium_seed_pairs(flags, pairs, in, n_pairs);
                prillm__equilibrium_seed_pairs(rows, pairs, in, n_pairs);
            } else {
                prillm__equilibrium_seed_active(flags, set);
                prillm__equilibrium_seed_rows(rows, start, prov);
            }
            assert_int_equal(prillm_equilibrium_solve(flags, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(rows, &err), PRILLM_OK);
            solves++;
            const PrillmEquilibrium *a = prillm_equilibrium_solution(flags), *b = prillm_equilibrium_solution(rows);
            if (a->info.status != b->info.status || a->info.iterations != b->info.iterations ||
                a->info.sweeps != b->info.sweeps || memcmp(a->flows, b->flows, nm * sizeof(double)) != 0 ||
                memcmp(a->lambda, b->lambda, (size_t)n * sizeof(double)) != 0 ||
                memcmp(&a->info.kkt_violation, &b->info.kkt_violation, sizeof(double)) != 0)
                fail_msg("trial %d step %d (%d x %d): seeded by rows, %d rounds, differs from by flags, %d rounds "
                         "(flows by %.3g of a demand)",
                         trial, step, n, m, b->info.iterations, a->info.iterations,
                         max_diff_per_demand(mk, a->flows, b->flows));
        }
        told += prillm__equilibrium_rows_told(rows);
        rows_total += prillm__equilibrium_rows_told(flags);
        free(set);
        free(start);
        free(prov);
        free(pairs);
        free(in);
        prillm_equilibrium_cleanup(ref);
        prillm_equilibrium_cleanup(flags);
        prillm_equilibrium_cleanup(rows);
        prillm_market_free(mk);
    }
    printf("# %ld seeded solves the same bit for bit; %ld rounds told the rows seeded by rows, %ld by flags\n",
           solves, told, rows_total);
    assert_true(solves >= 100);
    assert_true(told >= rows_total + solves); /* the seeded first rounds do take the rows path */
    assert_true(by_rows >= solves); /* the last set is given by rows after every solved exact solve */
}

static void test_certificate_matches_recomputation(void **state) {
    (void)state;
    static const double moves[] = {0.2, 5.0, 0.01, 1.5, 0.5, 20.0};
    TestRng rng = {3141};
    long settled = 0, inaccurate = 0, solves = 0;
    for (int trial = 0; trial < 24; trial++) {
        int n = test_int(&rng, 60, 400), m = test_int(&rng, 64, 180);
        TestMarketShape shape = {-1.0, 3.0, trial % 4 == 1, trial % 4 == 2};
        PrillmMarket *mk = test_market(n, m, 9100 + (uint64_t)trial, &shape);
        if (trial % 2) test_market_affinity(mk, 9300 + (uint64_t)trial, 0.2);
        /* congestion that matters: loads that move a lot move marginal costs */
        if (trial % 3 == 2) mk->w_congestion *= 30;
        PrillmEquilibriumSettings settings;
        prillm_equilibrium_default_settings(&settings);
        settings.max_rounds = 1 + trial % 3;
        settings.max_sweeps = 2 + trial % 4;
        PrillmEquilibriumSolver *s = NULL;
        PrillmError err;
        assert_int_equal(prillm_equilibrium_setup(&s, mk, &settings, &err), PRILLM_OK);
        double *lambda = malloc((size_t)n * sizeof(double));
        assert_non_null(lambda);
        for (int step = 0; step < 7; step++) {
            if (step > 0) {
                int j = test_int(&rng, 0, m - 1);
                double price = mk->price[j] * moves[(step + trial) % 6];
                assert_int_equal(prillm_equilibrium_update_price(s, j, price, &err), PRILLM_OK);
                mk->price[j] = price;
            }
            assert_int_equal(prillm_equilibrium_solve(s, &err), PRILLM_OK);
            solves++;
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
            if (eq->info.status == PRILLM_STATUS_FAILED) continue;
            inaccurate += eq->info.status == PRILLM_STATUS_INACCURATE;
            PrillmEquilibriumInfo info;
            assert_int_equal(prillm_equilibrium_certify(mk, eq->flows, lambda, &info, &err), PRILLM_OK);
            if (memcmp(&info.kkt_violation, &eq->info.kkt_violation, sizeof(double)) != 0 ||
                memcmp(lambda, eq->lambda, (size_t)n * sizeof(double)) != 0)
                fail_msg("trial %d step %d (%s): certificate %.17g, recomputed %.17g", trial, step,
                         prillm_status_name(eq->info.status), eq->info.kkt_violation, info.kkt_violation);
        }
        settled += prillm__equilibrium_cert_rows_bounded(s);
        free(lambda);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
    printf("# %ld solves (%ld inaccurate), %ld certificate rows settled by the bound\n", solves, inaccurate, settled);
    assert_true(settled > 0);
    assert_true(inaccurate > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screen_changes_nothing_but_the_work),
        cmocka_unit_test(test_enter_cap_changes_the_path_not_the_answer),
        cmocka_unit_test(test_screened_flows_match_gauss_seidel),
        cmocka_unit_test(test_screened_flows_match_ipopt),
        cmocka_unit_test(test_local_start_after_price_rise),
        cmocka_unit_test(test_support_tracking_changes_nothing),
        cmocka_unit_test(test_seeds_by_rows_change_nothing),
        cmocka_unit_test(test_certificate_matches_recomputation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
