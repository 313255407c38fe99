/* The equilibrium solver on many random markets, and on the cases that break
 * naive solvers: ties, one provider, unused providers, extreme demands. */
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

/* Every answer must certify itself: the info the solver reports, the
 * library's certify() on the returned flows, and the tests' own check. */
static void assert_certified(const PrillmMarket *mk, const PrillmEquilibrium *eq, double tol) {
    PrillmEquilibriumInfo again;
    PrillmError err;
    assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
    assert_true(eq->info.kkt_violation <= tol);
    assert_int_equal(prillm_equilibrium_certify(mk, eq->flows, NULL, &again, &err), PRILLM_OK);
    assert_true(fabs(again.kkt_violation - eq->info.kkt_violation) <= 1e-12);
    double independent = test_kkt_violation(mk, eq->flows);
    if (!(independent <= 100 * tol)) fail_msg("independent KKT check %.3g > %.3g", independent, 100 * tol);
    size_t nm = (size_t)mk->n_users * mk->n_providers;
    for (size_t k = 0; k < nm; k++) assert_true(eq->flows[k] >= 0.0);
    for (int j = 0; j < mk->n_providers; j++) {
        double sum = 0;
        for (int i = 0; i < mk->n_users; i++) sum += eq->flows[(size_t)i * mk->n_providers + j];
        assert_true(fabs(sum - eq->provider_flow[j]) <= 1e-12 * (fabs(sum) + 1e-300) + 1e-300);
    }
}

static void test_kkt_on_random_markets(void **state) {
    (void)state;
    static const int sizes_n[] = {1, 2, 3, 5, 8, 20, 50, 120, 400};
    static const int sizes_m[] = {1, 2, 3, 4, 7, 20, 40, 90};
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0},   {-3.0, -3.0, 0, 0}, {9.0, 9.0, 0, 0},
        {-3.0, 9.0, 0, 0},  {1.0, 2.0, 1, 0},   {1.0, 2.0, 0, 1},
    };
    int count = 0;
    TestRng rng = {2026};
    for (int trial = 0; trial < 240; trial++) {
        int n = sizes_n[test_int(&rng, 0, 8)], m = sizes_m[test_int(&rng, 0, 7)];
        const TestMarketShape *shape = &shapes[trial % 6];
        PrillmMarket *mk = test_market(n, m, 1000 + (uint64_t)trial, shape);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        if (eq->info.status != PRILLM_STATUS_SOLVED)
            fail_msg("trial %d (%d x %d, shape %d): status %s, kkt %.3g", trial, n, m, trial % 6,
                     prillm_status_name(eq->info.status), eq->info.kkt_violation);
        assert_certified(mk, eq, 1e-9);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
        count++;
    }
    assert_int_equal(count, 240);
}

/* Lazy polish (the pricing methods' solves): the exact point is published
 * before any polish, and polished only when it fails its certificate. On
 * random markets of every shape, a cold solve and warm re-solves after
 * moves of one price must certify by the independent check as the
 * polished solver's do, with the same flows to 1e-9 of the largest demand;
 * most points must certify unpolished (else the option does nothing), and
 * the default solver never publishes one unpolished. */
static void test_lazy_polish_certifies(void **state) {
    (void)state;
    static const int sizes_n[] = {1, 3, 8, 20, 50, 120, 400};
    static const int sizes_m[] = {1, 2, 4, 7, 20, 40, 90};
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0}, {-3.0, -3.0, 0, 0}, {9.0, 9.0, 0, 0}, {-3.0, 9.0, 0, 0}, {1.0, 2.0, 1, 0}, {1.0, 2.0, 0, 1},
    };
    static const double moves[] = {1.0, 0.7, 1.3, 2.0, 0.2};
    TestRng rng = {77};
    long solves = 0, lazy = 0;
    for (int trial = 0; trial < 120; trial++) {
        int n = sizes_n[test_int(&rng, 0, 6)], m = sizes_m[test_int(&rng, 0, 6)];
        PrillmMarket *mk = test_market(n, m, 5000 + (uint64_t)trial, &shapes[trial % 6]);
        if (trial % 2) test_market_affinity(mk, 9000 + (uint64_t)trial, 0.3);
        PrillmEquilibriumSolver *polished = NULL, *quick = NULL;
        PrillmError err;
        assert_int_equal(prillm_equilibrium_setup(&polished, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_setup(&quick, mk, NULL, &err), PRILLM_OK);
        prillm__equilibrium_set_lazy_polish(quick, 1);
        int target = test_int(&rng, 0, m - 1);
        double base = mk->price[target];
        for (size_t k = 0; k < sizeof moves / sizeof moves[0]; k++) {
            double price = base * moves[k] + (base == 0 ? 0.1 * (double)k : 0.0);
            PrillmMarket *at = prillm_market_copy(mk, &err);
            assert_non_null(at);
            at->price[target] = price;
            if (k > 0) {
                assert_int_equal(prillm_equilibrium_update_price(polished, target, price, &err), PRILLM_OK);
                assert_int_equal(prillm_equilibrium_update_price(quick, target, price, &err), PRILLM_OK);
            }
            assert_int_equal(prillm_equilibrium_solve(polished, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(quick, &err), PRILLM_OK);
            const PrillmEquilibrium *a = prillm_equilibrium_solution(polished), *b = prillm_equilibrium_solution(quick);
            if (a->info.status != PRILLM_STATUS_SOLVED || b->info.status != PRILLM_STATUS_SOLVED)
                fail_msg("trial %d (%d x %d) move %zu: %s polished, %s lazy (kkt %.3g)", trial, n, m, k,
                         prillm_status_name(a->info.status), prillm_status_name(b->info.status),
                         b->info.kkt_violation);
            assert_certified(at, b, 1e-9);
            double diff = test_max_diff_norm_relative(at, b->flows, a->flows);
            if (!(diff <= 1e-9)) fail_msg("trial %d (%d x %d) move %zu: flows differ by %.3g", trial, n, m, k, diff);
            solves++;
            prillm_market_free(at);
        }
        lazy += prillm__equilibrium_lazy_certified(quick);
        assert_int_equal(prillm__equilibrium_lazy_certified(polished), 0);
        prillm_equilibrium_cleanup(polished);
        prillm_equilibrium_cleanup(quick);
        prillm_market_free(mk);
    }
    if (!(lazy * 2 > solves)) fail_msg("only %ld of %ld exact points certified unpolished", lazy, solves);
    print_message("lazy polish: %ld of %ld exact points certified unpolished\n", lazy, solves);
}

static void test_single_provider_takes_all(void **state) {
    (void)state;
    for (int seed = 0; seed < 10; seed++) {
        PrillmMarket *mk = test_market(1 + seed * 3, 1, 50 + (uint64_t)seed, NULL);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_certified(mk, eq, 1e-9);
        for (int i = 0; i < mk->n_users; i++) assert_true(fabs(eq->flows[i] - mk->demand[i]) <= 1e-14 * mk->demand[i]);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

static void test_identical_providers_split_evenly(void **state) {
    (void)state;
    TestMarketShape ties = {0.0, 2.0, 1, 1};
    for (int seed = 0; seed < 30; seed++) {
        PrillmMarket *mk = test_market(4 + seed % 7, 3 + seed % 5, 300 + (uint64_t)seed, &ties);
        /* make the twins attractive so the tie is actually exercised */
        mk->value[0] = mk->value[1] = 10.0;
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_certified(mk, eq, 1e-9);
        int m = mk->n_providers;
        assert_true(eq->provider_flow[0] > 0);
        for (int i = 0; i < mk->n_users; i++) {
            double a = eq->flows[(size_t)i * m], b = eq->flows[(size_t)i * m + 1];
            assert_true(fabs(a - b) <= 1e-9 * mk->demand[i]);
        }
        /* identical users too: the same split */
        for (int j = 0; j < m; j++) assert_true(fabs(eq->flows[j] - eq->flows[m + j]) <= 1e-9 * mk->demand[0]);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

static void test_unused_provider_gets_nothing(void **state) {
    (void)state;
    for (int seed = 0; seed < 20; seed++) {
        PrillmMarket *mk = test_market(10, 6, 700 + (uint64_t)seed, NULL);
        mk->price[2] = 1e6; /* nobody pays this */
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_certified(mk, eq, 1e-9);
        assert_true(eq->provider_flow[2] == 0.0);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

static void test_zero_demand_users(void **state) {
    (void)state;
    for (int seed = 0; seed < 20; seed++) {
        PrillmMarket *mk = test_market(8, 5, 900 + (uint64_t)seed, NULL);
        mk->demand[0] = 0.0;
        mk->demand[5] = 0.0;
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
        for (int j = 0; j < 5; j++) {
            assert_true(eq->flows[j] == 0.0);
            assert_true(eq->flows[5 * 5 + j] == 0.0);
        }
        assert_true(isfinite(eq->lambda[0]));
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

static void test_all_demands_zero(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(3, 2, 5, NULL);
    for (int i = 0; i < 3; i++) mk->demand[i] = 0.0;
    PrillmEquilibriumSolver *s = test_solve(mk, NULL);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
    assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
    for (int k = 0; k < 6; k++) assert_true(eq->flows[k] == 0.0);
    prillm_equilibrium_cleanup(s);
    prillm_market_free(mk);
}

static void test_extreme_demands_in_one_market(void **state) {
    (void)state;
    for (int seed = 0; seed < 20; seed++) {
        PrillmMarket *mk = test_market(30, 12, 1300 + (uint64_t)seed, NULL);
        mk->demand[0] = 1e-3;
        mk->demand[1] = 1e9;
        mk->demand[2] = 1e-3;
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        assert_certified(mk, prillm_equilibrium_solution(s), 1e-9);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

/* Re-solving after a price change (warm start) must give the same answer as
 * a solver that never saw the old price. */
/* A warm or copied solver's answer: certified, and each flow within 1e-9
 * of its app's demand of a cold solve of the market as it now is. */
static void assert_matches_cold(const PrillmMarket *mk, const PrillmEquilibrium *a) {
    PrillmEquilibriumSolver *cold = test_solve(mk, NULL);
    const PrillmEquilibrium *b = prillm_equilibrium_solution(cold);
    int m = mk->n_providers;
    assert_certified(mk, a, 1e-9);
    for (int i = 0; i < mk->n_users; i++)
        for (int k = 0; k < m; k++)
            assert_true(fabs(a->flows[i * m + k] - b->flows[i * m + k]) <= 1e-9 * mk->demand[i]);
    prillm_equilibrium_cleanup(cold);
}

static void test_warm_start_matches_cold(void **state) {
    (void)state;
    TestRng rng = {77};
    for (int seed = 0; seed < 20; seed++) {
        PrillmMarket *mk = test_market(25, 8, 1500 + (uint64_t)seed, NULL);
        PrillmEquilibriumSolver *warm = test_solve(mk, NULL);
        PrillmError err;
        for (int step = 0; step < 5; step++) {
            int j = test_int(&rng, 0, 7);
            double price = 3.0 * test_uniform(&rng);
            assert_int_equal(prillm_equilibrium_update_price(warm, j, price, &err), PRILLM_OK);
            /* until the next solve there is no answer for the new price */
            const PrillmEquilibrium *stale = prillm_equilibrium_solution(warm);
            assert_int_equal(stale->info.status, PRILLM_STATUS_UNSOLVED);
            assert_true(isnan(stale->flows[0]) && isnan(stale->provider_flow[0]) && isnan(stale->lambda[0]));
            assert_true(isnan(stale->info.kkt_violation));
            assert_int_equal(prillm_equilibrium_solve(warm, &err), PRILLM_OK);
            mk->price[j] = price;
            assert_matches_cold(mk, prillm_equilibrium_solution(warm));
        }
        assert_int_not_equal(prillm_equilibrium_update_price(warm, 8, 1.0, &err), PRILLM_OK);
        assert_non_null(strstr(err.message, "provider"));
        assert_int_not_equal(prillm_equilibrium_update_price(warm, 0, NAN, &err), PRILLM_OK);
        prillm_equilibrium_cleanup(warm);
        prillm_market_free(mk);
    }
}

/* Solvers started from another (setup_from, setup_moved, as a pricing call
 * and prillm_price_all start theirs) give the cold answer after a price
 * move, and outlive their source: whatever the source's kind (the public
 * setup's own copy of the market, or _validated, which reads the caller's
 * market), whether its answer is packed (moved after update_price) or not,
 * and with the source cleaned up before the copy solves. Under
 * AddressSanitizer a copy that still read the source's freed arrays fails
 * here. */
static void test_solver_copies_outlive_their_source(void **state) {
    (void)state;
    TestRng rng = {4242};
    for (int trial = 0; trial < 16; trial++) {
        PrillmMarket *mk = test_market(30, 9, 8800 + (uint64_t)trial, NULL);
        PrillmEquilibriumSolver *source = NULL, *copy = NULL;
        PrillmError err;
        if (trial % 2) assert_int_equal(prillm_equilibrium_setup(&source, mk, NULL, &err), PRILLM_OK);
        else assert_int_equal(prillm__equilibrium_setup_validated(&source, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(source, &err), PRILLM_OK);
        int j = test_int(&rng, 0, 8);
        double price = 2.5 * test_uniform(&rng);
        int packed = trial % 4 >= 2; /* moved after update_price: the answer waits packed */
        if (packed) assert_int_equal(prillm_equilibrium_update_price(source, j, price, &err), PRILLM_OK);
        if (trial % 8 < 4) {
            assert_int_equal(prillm__equilibrium_setup_moved(&copy, source, &err), PRILLM_OK);
        } else {
            assert_int_equal(prillm__equilibrium_setup_from(&copy, source, &err), PRILLM_OK);
        }
        /* the source goes first; the market outlives both */
        prillm_equilibrium_cleanup(source);
        if (!packed) assert_int_equal(prillm_equilibrium_update_price(copy, j, price, &err), PRILLM_OK);
        /* and another move, which reads the market's delays and tastes */
        int j2 = (j + 1 + test_int(&rng, 0, 7)) % 9;
        double price2 = 2.5 * test_uniform(&rng);
        assert_int_equal(prillm_equilibrium_update_price(copy, j2, price2, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(copy, &err), PRILLM_OK);
        mk->price[j] = price;
        mk->price[j2] = price2;
        assert_matches_cold(mk, prillm_equilibrium_solution(copy));
        prillm_equilibrium_cleanup(copy);
        prillm_market_free(mk);
    }
}

/* A seeded start (prillm__equilibrium_seed_active, what exact pricing does
 * for its scoring and certificate solves) is only a start: from the right
 * set the solve takes one round; from a random wrong set, or an empty one,
 * it still ends at the cold solve's certified answer. And the solver's own
 * certificate (sparse rows summed over their nonzero flows) is bit for bit
 * prillm_equilibrium_certify's on the same flows. */
static void test_seeded_start(void **state) {
    (void)state;
    TestRng rng = {606};
    int one_round = 0;
    for (int trial = 0; trial < 30; trial++) {
        int n = test_int(&rng, 2, 40), m = test_int(&rng, 1, 25);
        TestMarketShape shape = {-2.0, 2.0 + (trial % 3), trial % 2, (trial / 2) % 2};
        PrillmMarket *mk = test_market(n, m, 7000 + (uint64_t)trial, &shape);
        if (trial % 3) test_market_affinity(mk, 50 + (uint64_t)trial, 0.3);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        PrillmError err;
        size_t nm = (size_t)n * (size_t)m;
        unsigned char *seed = malloc(nm);
        assert_non_null(seed);
        for (int kind = 0; kind < 3; kind++) {
            int j = test_int(&rng, 0, m - 1);
            double price = 3.0 * test_uniform(&rng);
            mk->price[j] = price;
            PrillmEquilibriumSolver *cold = test_solve(mk, NULL);
            const PrillmEquilibrium *b = prillm_equilibrium_solution(cold);
            for (size_t k = 0; k < nm; k++) {
                if (kind == 0) seed[k] = b->flows[k] > 0;                 /* the answer's own set */
                else if (kind == 1) seed[k] = test_uniform(&rng) < 0.4; /* a wrong one */
                else seed[k] = 0;                                        /* none */
            }
            assert_int_equal(prillm_equilibrium_update_price(s, j, price, &err), PRILLM_OK);
            prillm__equilibrium_seed_active(s, seed);
            assert_int_equal(prillm_equilibrium_solve(s, &err), PRILLM_OK);
            const PrillmEquilibrium *a = prillm_equilibrium_solution(s);
            assert_certified(mk, a, 1e-9);
            if (kind == 0) one_round += a->info.iterations == 1 && a->info.sweeps == 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < m; k++)
                    if (!(fabs(a->flows[(size_t)i * m + k] - b->flows[(size_t)i * m + k]) <= 1e-9 * mk->demand[i]))
                        fail_msg("trial %d, seed kind %d: flow (%d, %d) %.17g against cold %.17g", trial, kind, i, k,
                                 a->flows[(size_t)i * m + k], b->flows[(size_t)i * m + k]);
            /* the solver's certificate against the library's, from the same flows */
            PrillmEquilibriumInfo again;
            double *lambda = malloc((size_t)n * sizeof *lambda);
            assert_non_null(lambda);
            assert_int_equal(prillm_equilibrium_certify(mk, a->flows, lambda, &again, &err), PRILLM_OK);
            assert_true(again.kkt_violation == a->info.kkt_violation);
            assert_true(again.potential == a->info.potential);
            assert_true(again.active_pairs == a->info.active_pairs);
            for (int i = 0; i < n; i++) assert_true(lambda[i] == a->lambda[i]);
            free(lambda);
            prillm_equilibrium_cleanup(cold);
        }
        free(seed);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
    print_message("seeded with the answer's own set: %d of 30 solves took one round and no sweep\n", one_round);
    assert_true(one_round >= 27);
}

/* A small price change after an exact solve starts the correction from the
 * last exact set: no Gauss-Seidel sweep (each is several passes over the
 * n x m arrays), a round or two, and the same certified answer as cold. */
static void test_warm_start_skips_sweeps(void **state) {
    (void)state;
    TestRng rng = {91};
    int solves = 0, sweep_free = 0, rounds = 0;
    for (int seed = 0; seed < 20; seed++) {
        PrillmMarket *mk = test_market(120, 20, 1700 + (uint64_t)seed, NULL);
        PrillmEquilibriumSolver *warm = test_solve(mk, NULL);
        PrillmError err;
        for (int step = 0; step < 5; step++) {
            int j = test_int(&rng, 0, 19);
            double price = mk->price[j] * (1.0 + 0.01 * (test_uniform(&rng) - 0.5));
            assert_int_equal(prillm_equilibrium_update_price(warm, j, price, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(warm, &err), PRILLM_OK);
            mk->price[j] = price;
            const PrillmEquilibrium *a = prillm_equilibrium_solution(warm);
            assert_certified(mk, a, 1e-9);
            solves++;
            sweep_free += a->info.sweeps == 0;
            rounds += a->info.iterations;
            PrillmEquilibriumSolver *cold = test_solve(mk, NULL);
            const PrillmEquilibrium *b = prillm_equilibrium_solution(cold);
            for (int i = 0; i < 120; i++)
                for (int k = 0; k < 20; k++)
                    assert_true(fabs(a->flows[i * 20 + k] - b->flows[i * 20 + k]) <= 1e-9 * mk->demand[i]);
            prillm_equilibrium_cleanup(cold);
        }
        prillm_equilibrium_cleanup(warm);
        prillm_market_free(mk);
    }
    assert_true(sweep_free >= solves * 9 / 10);
    assert_true(rounds <= 3 * solves);
}

/* A warm start after a big move of the price with few rounds allowed
 * (max-rounds 6, the price cut to 5%): the last exact set is far off. The
 * warm solve must not hand back the previous price's flows and must solve
 * at least as often as a cold solve with the same rounds (it starts again
 * cold once when its rounds run out). */
static void test_warm_start_with_few_rounds(void **state) {
    (void)state;
    int warm_solved = 0, cold_solved = 0;
    for (int seed = 1; seed <= 12; seed++) {
        PrillmMarket *mk = test_market(200, 30, 2100 + (uint64_t)seed, NULL);
        for (int t = 0; t < 3; t++) {
            int j = (seed * 7 + t * 11) % 30;
            PrillmEquilibriumSettings st;
            prillm_equilibrium_default_settings(&st);
            st.max_rounds = 6;
            PrillmError err;
            PrillmEquilibriumSolver *warm = test_solve(mk, &st);
            double before = prillm_equilibrium_solution(warm)->provider_flow[j], old = mk->price[j];
            mk->price[j] = 0.05 * old;
            assert_int_equal(prillm_equilibrium_update_price(warm, j, mk->price[j], &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(warm, &err), PRILLM_OK);
            const PrillmEquilibrium *a = prillm_equilibrium_solution(warm);
            PrillmEquilibriumSolver *cold = test_solve(mk, &st);
            const PrillmEquilibrium *b = prillm_equilibrium_solution(cold);
            warm_solved += a->info.status == PRILLM_STATUS_SOLVED;
            cold_solved += b->info.status == PRILLM_STATUS_SOLVED;
            if (a->info.status == PRILLM_STATUS_SOLVED) assert_certified(mk, a, 1e-9);
            /* where the price cut moves the target's flow, the warm answer
             * is not the old one */
            if (fabs(b->provider_flow[j] - before) > 1e-6 * (before + 1.0)) assert_true(a->provider_flow[j] != before);
            prillm_equilibrium_cleanup(warm);
            prillm_equilibrium_cleanup(cold);
            mk->price[j] = old;
        }
        prillm_market_free(mk);
    }
    assert_true(warm_solved >= cold_solved);
}

/* The whole OpenRouter market's hard case: big apps load a huge cheap model
 * (millions of tokens, a nearly flat marginal cost) while tiny apps
 * (demand 1e-3) split between it and a tiny congested model whose value
 * nearly cancels its congestion. A tiny app's flow on the huge model is a
 * difference of numbers the size of its load, so its split must be mended
 * in its own scale without moving the tiny model's steep marginal cost:
 * every random instance must be certified to 1e-9, not "inaccurate". */
static void test_tiny_apps_between_huge_and_congested_models(void **state) {
    (void)state;
    for (int seed = 0; seed < 30; seed++) {
        PrillmMarket *mk = test_market(40, 8, 1900 + (uint64_t)seed, NULL);
        TestRng rng = {2900 + (uint64_t)seed};
        mk->w_price = 1.0;
        mk->w_congestion = 1.0;
        for (int i = 0; i < 40; i++) mk->demand[i] = i < 10 ? 1e5 * (1 + test_uniform(&rng)) : pow(10.0, -3.5 + 1.5 * test_uniform(&rng));
        /* provider 0: the huge model */
        mk->capacity[0] = 1e7 * (1 + test_uniform(&rng));
        mk->price[0] = 0.03;
        mk->value[0] = 0;
        /* provider 1: tiny, congested, valued about as much as its congestion costs */
        mk->capacity[1] = 1e-4 * (1 + test_uniform(&rng));
        mk->price[1] = 2.0;
        mk->value[1] = 100 + 50 * test_uniform(&rng);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
        assert_certified(mk, eq, 1e-9);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
}

static void test_large_market(void **state) {
    (void)state;
    PrillmMarket *mk = prillm_market_random(3000, 300, 11, NULL);
    assert_non_null(mk);
    PrillmEquilibriumSolver *s = test_solve(mk, NULL);
    assert_certified(mk, prillm_equilibrium_solution(s), 1e-9);
    prillm_equilibrium_cleanup(s);
    prillm_market_free(mk);
}

/* A solver starved of iterations must say so, and what it returns must
 * still be certified honestly (the reported violation is the real one). */
static void test_starved_solver_is_inaccurate(void **state) {
    (void)state;
    PrillmMarket *mk = prillm_market_random(200, 50, 3, NULL);
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = PRILLM_EQ_GAUSS_SEIDEL;
    settings.max_sweeps = 1;
    PrillmEquilibriumSolver *s = test_solve(mk, &settings);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
    assert_int_equal(eq->info.status, PRILLM_STATUS_INACCURATE);
    PrillmEquilibriumInfo again;
    assert_int_equal(prillm_equilibrium_certify(mk, eq->flows, NULL, &again, NULL), PRILLM_OK);
    assert_true(again.kkt_violation > settings.tolerance);
    assert_true(fabs(again.kkt_violation - eq->info.kkt_violation) <= 1e-12 * again.kkt_violation);
    prillm_equilibrium_cleanup(s);
    prillm_market_free(mk);
}

/* On failure the outputs are NaN, never the numbers of an earlier solve. */
static void test_failed_solve_outputs_nan(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    PrillmMarket *mk = prillm_market_random(300, 60, 4, NULL);
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = PRILLM_EQ_IPOPT;
    /* Ipopt with time to finish: an answer (interior point may stop short of
     * the default 1e-9 certificate, which is then reported as inaccurate) */
    PrillmEquilibriumSolver *s = test_solve(mk, &settings);
    PrillmStatus first = prillm_equilibrium_solution(s)->info.status;
    assert_true(first == PRILLM_STATUS_SOLVED || first == PRILLM_STATUS_INACCURATE);
    assert_true(isfinite(prillm_equilibrium_solution(s)->flows[0]));
    /* then Ipopt unable to finish: the failure must show as NaN outputs */
    prillm_equilibrium_cleanup(s);
    settings.time_limit = 1e-9;
    s = test_solve(mk, &settings);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
    assert_int_equal(eq->info.status, PRILLM_STATUS_FAILED);
    for (int k = 0; k < 300 * 60; k++) assert_true(isnan(eq->flows[k]));
    for (int j = 0; j < 60; j++) assert_true(isnan(eq->provider_flow[j]));
    assert_true(isnan(eq->lambda[0]) && isnan(eq->info.kkt_violation));
    prillm_equilibrium_cleanup(s);
    prillm_market_free(mk);
}

static void test_settings_are_validated(void **state) {
    (void)state;
    PrillmEquilibriumSettings settings;
    PrillmError err;
    prillm_equilibrium_default_settings(&settings);
    assert_int_equal(prillm_equilibrium_check_settings(&settings, &err), PRILLM_OK);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "tolerance", "1e-11", &err), PRILLM_OK);
    assert_true(settings.tolerance == 1e-11);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "method", "ipopt", &err), PRILLM_OK);
    assert_int_equal(settings.method, PRILLM_EQ_IPOPT);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "method", "simplex", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "method"));
    assert_int_equal(prillm_equilibrium_set_option(&settings, "tolerance", "abc", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "tolerance", "0", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "max-rounds", "2.5", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_equilibrium_set_option(&settings, "nonsense", "1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "nonsense"));
    settings.tolerance = -1;
    assert_int_equal(prillm_equilibrium_check_settings(&settings, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "tolerance"));
    PrillmMarket *mk = test_market(2, 2, 1, NULL);
    PrillmEquilibriumSolver *s = NULL;
    assert_int_equal(prillm_equilibrium_setup(&s, mk, &settings, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(s);
    mk->capacity[1] = -2;
    assert_int_equal(prillm_equilibrium_setup(&s, mk, NULL, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[1].capacity"));
    assert_null(s);
    assert_int_equal(prillm_equilibrium_solve(NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
    /* certifying against an invalid market leaves no old numbers behind */
    double flows[4] = {1, 1, 1, 1}, lambda[2] = {5, 5};
    PrillmEquilibriumInfo info = {.kkt_violation = 0.5};
    assert_int_equal(prillm_equilibrium_certify(mk, flows, lambda, &info, &err), PRILLM_ERR_INVALID_DATA);
    assert_true(isnan(info.kkt_violation) && isnan(lambda[0]) && isnan(lambda[1]));
    prillm_market_free(mk);
}

/* Issue 12: a lone app with demand 1e-20 ended "inaccurate" with no flow
 * at all (its multiplier moved by less than one unit in the last place of
 * the costs). The answer is every token on the cheapest model, certified;
 * down to 1e-300 and a subnormal demand, with exact and Gauss-Seidel, alone
 * and next to an app of 1e6. */
static void test_tiny_demands(void **state) {
    (void)state;
    static const double tiny[] = {1e-20, 1e-300, 4.9e-324};
    static const int methods[] = {PRILLM_EQ_EXACT, PRILLM_EQ_GAUSS_SEIDEL};
    for (int seed = 0; seed < 8; seed++)
        for (size_t t = 0; t < sizeof tiny / sizeof tiny[0]; t++)
            for (size_t k = 0; k < 2; k++) {
                PrillmEquilibriumSettings settings;
                prillm_equilibrium_default_settings(&settings);
                settings.method = methods[k];
                /* alone: everything on the lowest cost c_ij (no congestion
                 * to speak of at this volume) */
                PrillmMarket *mk = test_market(1, 2 + seed, 1700 + (uint64_t)seed, NULL);
                mk->demand[0] = tiny[t];
                int m = mk->n_providers, best = 0;
                double cost[16];
                for (int j = 0; j < m; j++) {
                    cost[j] = mk->w_price * mk->price[j] + mk->w_delay * mk->delay[j] - mk->value[j] - mk->affinity[j];
                    if (cost[j] < cost[best]) best = j;
                }
                PrillmEquilibriumSolver *s = test_solve(mk, &settings);
                const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
                if (eq->info.status != PRILLM_STATUS_SOLVED)
                    fail_msg("demand %g, seed %d, method %d: %s, kkt %g", tiny[t], seed, methods[k],
                             prillm_status_name(eq->info.status), eq->info.kkt_violation);
                assert_true(eq->info.kkt_violation <= 1e-9);
                for (int j = 0; j < m; j++) {
                    if (j == best) assert_true(eq->flows[j] == tiny[t]);
                    else assert_true(eq->flows[j] == 0.0);
                }
                assert_true(fabs(eq->lambda[0] - cost[best]) <= 1e-12 * fmax(1.0, fabs(cost[best])));
                PrillmEquilibriumInfo again;
                assert_int_equal(prillm_equilibrium_certify(mk, eq->flows, NULL, &again, NULL), PRILLM_OK);
                assert_true(again.kkt_violation <= 1e-9);
                prillm_equilibrium_cleanup(s);
                prillm_market_free(mk);

                /* next to an app a 1e6 (and one of 1): the big ones are
                 * unchanged, and the tiny one still gets exactly its demand,
                 * where its marginal cost (the others' congestion included)
                 * is lowest */
                mk = test_market(3, 2 + seed, 1800 + (uint64_t)seed, NULL);
                mk->demand[0] = tiny[t];
                mk->demand[1] = 1e6;
                mk->demand[2] = 1.0;
                s = test_solve(mk, &settings);
                eq = prillm_equilibrium_solution(s);
                if (eq->info.status != PRILLM_STATUS_SOLVED)
                    fail_msg("mixed, demand %g, seed %d, method %d: %s, kkt %g", tiny[t], seed, methods[k],
                             prillm_status_name(eq->info.status), eq->info.kkt_violation);
                assert_certified(mk, eq, 1e-9);
                double sum = 0;
                for (int j = 0; j < m; j++) sum += eq->flows[j];
                assert_true(fabs(sum - tiny[t]) <= 1e-12 * tiny[t]);
                prillm_equilibrium_cleanup(s);
                prillm_market_free(mk);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kkt_on_random_markets),
        cmocka_unit_test(test_lazy_polish_certifies),
        cmocka_unit_test(test_single_provider_takes_all),
        cmocka_unit_test(test_identical_providers_split_evenly),
        cmocka_unit_test(test_unused_provider_gets_nothing),
        cmocka_unit_test(test_zero_demand_users),
        cmocka_unit_test(test_all_demands_zero),
        cmocka_unit_test(test_extreme_demands_in_one_market),
        cmocka_unit_test(test_tiny_demands),
        cmocka_unit_test(test_warm_start_matches_cold),
        cmocka_unit_test(test_warm_start_skips_sweeps),
        cmocka_unit_test(test_tiny_apps_between_huge_and_congested_models),
        cmocka_unit_test(test_warm_start_with_few_rounds),
        cmocka_unit_test(test_seeded_start),
        cmocka_unit_test(test_solver_copies_outlive_their_source),
        cmocka_unit_test(test_large_market),
        cmocka_unit_test(test_starved_solver_is_inaccurate),
        cmocka_unit_test(test_failed_solve_outputs_nan),
        cmocka_unit_test(test_settings_are_validated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
