#define _POSIX_C_SOURCE 200809L
/* The per-(app, provider) affinity a_ij in the user cost
 *   c_ij = w_price p_j + w_delay d_ij - b_j - a_ij,
 * checked where it matters: the equilibrium certifies itself and agrees with
 * references written from the definition (brute force over support
 * patterns, Ipopt, Gauss-Seidel); exact pricing agrees with independent
 * equilibrium solves over the price range; the invariances the formula
 * implies hold; and every pricing method runs on such markets and never
 * beats exact in the true game. Every market here has non-zero affinities
 * (test_market_affinity), with some apps left indifferent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

/* A random market whose apps have tastes: about a quarter of the rows stay
 * all zero, the rest N(0, price spread). */
static PrillmMarket *affinity_market(int n, int m, uint64_t seed, const TestMarketShape *shape) {
    PrillmMarket *mk = test_market(n, m, seed, shape);
    test_market_affinity(mk, seed ^ 0xaff1u, 0.25);
    return mk;
}

static double max_diff_per_demand(const PrillmMarket *mk, const double *a, const double *b) {
    int n = mk->n_users, m = mk->n_providers;
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            if (mk->demand[i] > 0)
                worst = fmax(worst, fabs(a[(size_t)i * m + j] - b[(size_t)i * m + j]) / mk->demand[i]);
    return worst;
}

/* The exact equilibrium's flows (a copy the caller frees). */
static double *solve_flows(const PrillmMarket *mk, const PrillmEquilibriumSettings *settings) {
    PrillmEquilibriumSolver *s = test_solve(mk, settings);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
    if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
        fail_msg("equilibrium status %s", prillm_status_name(eq->info.status));
    size_t nm = (size_t)mk->n_users * mk->n_providers;
    double *flows = malloc(nm * sizeof(double));
    assert_non_null(flows);
    memcpy(flows, eq->flows, nm * sizeof(double));
    prillm_equilibrium_cleanup(s);
    return flows;
}

/* ---- (a) the equilibrium ------------------------------------------------ */

/* The certificate is small, the library's certify() agrees with the
 * solver, and the tests' own check (which reads a_ij itself) agrees too.
 * The affinities must also matter: most markets route differently without
 * them. */
static void test_kkt_certificate(void **state) {
    (void)state;
    static const int sizes_n[] = {1, 2, 3, 5, 8, 20, 50, 120};
    static const int sizes_m[] = {1, 2, 3, 4, 7, 20, 40};
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0}, {-3.0, -3.0, 0, 0}, {6.0, 6.0, 0, 0}, {-3.0, 6.0, 0, 0}, {1.0, 2.0, 1, 0}, {1.0, 2.0, 0, 1},
    };
    TestRng rng = {0xaff10001u};
    int count = 0, moved = 0;
    double worst = 0;
    for (int trial = 0; trial < 150; trial++) {
        int n = sizes_n[test_int(&rng, 0, 7)], m = sizes_m[test_int(&rng, 0, 6)];
        PrillmMarket *mk = affinity_market(n, m, 11000 + (uint64_t)trial, &shapes[trial % 6]);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        if (eq->info.status != PRILLM_STATUS_SOLVED || !(eq->info.kkt_violation <= 1e-9))
            fail_msg("trial %d (%d x %d): status %s, kkt %.3g", trial, n, m, prillm_status_name(eq->info.status),
                     eq->info.kkt_violation);
        PrillmEquilibriumInfo again;
        PrillmError err;
        assert_int_equal(prillm_equilibrium_certify(mk, eq->flows, NULL, &again, &err), PRILLM_OK);
        assert_true(fabs(again.kkt_violation - eq->info.kkt_violation) <= 1e-12);
        double independent = test_kkt_violation(mk, eq->flows);
        worst = fmax(worst, independent);
        if (!(independent <= 1e-7)) fail_msg("trial %d (%d x %d): independent KKT %.3g", trial, n, m, independent);
        /* the same market without tastes */
        PrillmMarket *plain = prillm_market_copy(mk, &err);
        assert_non_null(plain);
        memset(plain->affinity, 0, (size_t)n * m * sizeof(double));
        double *without = solve_flows(plain, NULL);
        moved += m > 1 && max_diff_per_demand(mk, eq->flows, without) > 1e-6;
        /* and the affinity-blind flows fail the check with tastes, unless
         * the affinities did not matter */
        if (max_diff_per_demand(mk, eq->flows, without) > 1e-3) assert_true(test_kkt_violation(mk, without) > 1e-7);
        free(without);
        prillm_market_free(plain);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
        count++;
    }
    print_message("affinity KKT: %d markets, worst independent violation %.2e, %d routed differently than without "
                  "affinities\n",
                  count, worst, moved);
    assert_int_equal(count, 150);
    assert_true(moved >= 75);
}

static void test_matches_brute_force(void **state) {
    (void)state;
    TestRng rng = {0xaff10002u};
    for (int trial = 0; trial < 150; trial++) {
        int n = test_int(&rng, 1, 3), m = test_int(&rng, 1, 3);
        TestMarketShape shape = {-1.0 + 2.0 * test_uniform(&rng), 2.0 + 2.0 * test_uniform(&rng), trial % 4 == 1,
                                 trial % 4 == 2};
        PrillmMarket *mk = affinity_market(n, m, 12000 + (uint64_t)trial, &shape);
        double *reference = calloc((size_t)n * m, sizeof(double));
        assert_non_null(reference);
        assert_int_equal(test_brute_force_equilibrium(mk, reference), 0);
        double *flows = solve_flows(mk, NULL);
        double diff = max_diff_per_demand(mk, flows, reference);
        if (diff > 1e-8) fail_msg("trial %d (%d x %d): differs from brute force by %.3g", trial, n, m, diff);
        free(flows);
        free(reference);
        prillm_market_free(mk);
    }
}

/* The Ipopt reference and Gauss-Seidel build their costs from the same
 * helper but solve the QP by unrelated means. */
static void compare_method(int method, double tolerance, double agreement, int per_demand, int trials, uint64_t seed0) {
    TestRng rng = {seed0};
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = method;
    settings.tolerance = tolerance;
    double worst = 0;
    for (int trial = 0; trial < trials; trial++) {
        int n = test_int(&rng, 1, 30), m = test_int(&rng, 1, 12);
        TestMarketShape shape = {-1.0, 3.0, trial % 5 == 3, 0};
        PrillmMarket *mk = affinity_market(n, m, seed0 + (uint64_t)trial, &shape);
        double *a = solve_flows(mk, NULL), *b = solve_flows(mk, &settings);
        double diff = per_demand ? max_diff_per_demand(mk, a, b) : test_max_diff_norm_relative(mk, a, b);
        worst = fmax(worst, diff);
        if (diff > agreement)
            fail_msg("trial %d (%d x %d): exact and method %d differ by %.3g", trial, n, m, method, diff);
        free(a);
        free(b);
        prillm_market_free(mk);
    }
    print_message("affinity, method %d: largest difference over %d markets %.3g\n", method, trials, worst);
}

static void test_matches_ipopt(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    compare_method(PRILLM_EQ_IPOPT, 1e-10, 1e-6, 0, 30, 13000);
}

static void test_matches_gauss_seidel(void **state) {
    (void)state;
    compare_method(PRILLM_EQ_GAUSS_SEIDEL, 1e-11, 1e-8, 1, 30, 13500);
}

/* ---- (b) exact pricing against re-solves -------------------------------- */

/* How far two true-game profits may differ and still be equal: relative to
 * the profit's size, plus the round-off of an equilibrium flow (~1e-12 of
 * the demand) times the margin. The second term matters for a target that
 * cannot earn (cost above every price it could sell at): exact proposes
 * the price where its traffic just reaches zero, and a re-solve there finds
 * a round-off flow that costs ~1e-15. */
static double profit_tolerance(const PrillmMarket *mk, const PrillmPriceResult *r) {
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    return 1e-9 * test_profit_scale(mk, r) + 1e-12 * (r->p_max + fabs(r->cost)) * total;
}

/* The exact curve reproduces fresh equilibrium solves at many prices, its
 * optimum is at least the refined grid's, and grid never beats it. */
static void test_exact_pricing_matches_resolves(void **state) {
    (void)state;
    double worst_curve = 0, worst_gap = 0;
    for (int trial = 0; trial < 100; trial++) {
        TestRng rng = {0xaff20000u + (uint64_t)trial};
        int n = test_int(&rng, 1, 10), m = test_int(&rng, 2, 6);
        TestMarketShape shape = {-1, 2, trial % 5 == 1, trial % 5 == 2};
        PrillmMarket *mk = affinity_market(n, m, 14000 + (uint64_t)trial, &shape);
        if (trial % 4 == 3) mk->cost[0] = 0.3 * mk->price[0];
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, grid;
        test_price_whole(mk, s, 0, &exact); /* the curve is read at any price */
        assert_true(exact.status == PRILLM_STATUS_SOLVED);
        assert_true(exact.curve_residual <= 1e-8);
        double total = 0;
        for (int i = 0; i < n; i++) total += mk->demand[i];
        /* the curve at 15 random prices against independent solves */
        for (int k = 0; k < 15; k++) {
            double p = exact.p_max * test_uniform(&rng), flow;
            int g = 0;
            while (g + 1 < exact.n_segments && exact.segments[g + 1].from <= p) g++;
            double curve = exact.segments[g].flow_from + exact.segments[g].flow_slope * (p - exact.segments[g].from);
            test_true_profit(mk, s, p, &flow);
            worst_curve = fmax(worst_curve, fabs(curve - flow) / total);
            if (!(fabs(curve - flow) <= 1e-9 * total))
                fail_msg("trial %d: curve %.17g, equilibrium %.17g at price %.17g", trial, curve, flow, p);
        }
        double scale = test_profit_scale(mk, &exact), tol = profit_tolerance(mk, &exact);
        test_price_with(mk, s, PRILLM_PRICE_GRID, 0, &grid);
        if (!(exact.profit >= grid.profit - tol))
            fail_msg("trial %d (%d x %d, target %d): exact %.17g at %.17g < grid %.17g at %.17g", trial, n, m, s,
                     exact.profit, exact.price, grid.profit, grid.price);
        double ref = test_refined_grid_optimum(mk, s, exact.p_max, 61, NULL);
        if (!(exact.profit >= ref - tol))
            fail_msg("trial %d: exact %.17g < refined grid %.17g", trial, exact.profit, ref);
        worst_gap = fmax(worst_gap, (exact.profit - ref) / scale);
        assert_true(fabs(exact.model_profit - exact.profit) <= 1e-8 * scale + 1e-12);
        prillm_price_result_clear(&exact);
        prillm_price_result_clear(&grid);
        prillm_market_free(mk);
    }
    print_message("affinity pricing: 100 markets, curve vs solves %.2e of demand, exact - refined grid %.2e\n",
                  worst_curve, worst_gap);
}

/* On tiny markets bf enumerates every support pattern at every price
 * piece: the same optimum as the homotopy. */
static void test_exact_equals_bf(void **state) {
    (void)state;
    for (int trial = 0; trial < 80; trial++) {
        TestRng rng = {0xaff30000u + (uint64_t)trial};
        int m = test_int(&rng, 2, 3), n = test_int(&rng, 1, m == 2 ? 5 : 4);
        TestMarketShape shape = {-0.5, 1, trial % 4 == 1, trial % 4 == 2};
        PrillmMarket *mk = affinity_market(n, m, 15000 + (uint64_t)trial, &shape);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, bf;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        test_price_with(mk, s, PRILLM_PRICE_BF, 0, &bf);
        assert_true(bf.status == PRILLM_STATUS_SOLVED);
        double diff = fabs(exact.profit - bf.profit) / test_profit_scale(mk, &exact);
        if (diff > 1e-7 && fabs(exact.profit - bf.profit) > profit_tolerance(mk, &exact)) fail_msg("trial %d: exact %.17g, bf %.17g", trial, exact.profit, bf.profit);
        prillm_price_result_clear(&exact);
        prillm_price_result_clear(&bf);
        prillm_market_free(mk);
    }
}

/* A warm solver whose target price is moved agrees with a fresh solve of
 * the market at that price: update_price moves the target's column only,
 * by w_price per unit, whatever the affinities. */
static void test_update_price_matches_fresh_market(void **state) {
    (void)state;
    TestRng rng = {0xaff40000u};
    for (int trial = 0; trial < 40; trial++) {
        int n = test_int(&rng, 1, 20), m = test_int(&rng, 2, 8), s = test_int(&rng, 0, m - 1);
        PrillmMarket *mk = affinity_market(n, m, 16000 + (uint64_t)trial, NULL);
        PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
        PrillmError err;
        PrillmMarket *moved = prillm_market_copy(mk, &err);
        assert_non_null(moved);
        for (int k = 0; k < 5; k++) {
            double p = 3.0 * test_uniform(&rng);
            assert_int_equal(prillm_equilibrium_update_price(solver, s, p, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
            moved->price[s] = p;
            double *fresh = solve_flows(moved, NULL);
            double diff = max_diff_per_demand(mk, prillm_equilibrium_solution(solver)->flows, fresh);
            if (diff > 1e-9) fail_msg("trial %d price %g: warm and fresh differ by %.3g", trial, p, diff);
            free(fresh);
        }
        prillm_market_free(moved);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
}

/* ---- (c) invariances ----------------------------------------------------- */

/* Adding a constant to one app's whole row changes no flow (only cost
 * differences move an app's traffic); adding t to one provider's column
 * for every app is the same market as value_j += t, flows and price. */
static void test_invariances(void **state) {
    (void)state;
    TestRng rng = {0xaff50000u};
    PrillmError err;
    for (int trial = 0; trial < 60; trial++) {
        int n = test_int(&rng, 1, 25), m = test_int(&rng, 1, 8);
        PrillmMarket *mk = affinity_market(n, m, 17000 + (uint64_t)trial, NULL);
        double *base = solve_flows(mk, NULL);

        PrillmMarket *row = prillm_market_copy(mk, &err);
        assert_non_null(row);
        int i = test_int(&rng, 0, n - 1);
        double shift = 5.0 * (2 * test_uniform(&rng) - 1);
        for (int j = 0; j < m; j++) row->affinity[(size_t)i * m + j] += shift;
        double *flows = solve_flows(row, NULL);
        double diff = max_diff_per_demand(mk, flows, base);
        if (diff > 1e-9) fail_msg("trial %d: row shift %g of user %d moved flows by %.3g", trial, shift, i, diff);
        free(flows);

        PrillmMarket *column = prillm_market_copy(mk, &err), *valued = prillm_market_copy(mk, &err);
        assert_true(column && valued);
        int j = test_int(&rng, 0, m - 1);
        double t = 2.0 * (2 * test_uniform(&rng) - 1);
        for (int u = 0; u < n; u++) column->affinity[(size_t)u * m + j] += t;
        valued->value[j] += t;
        double *a = solve_flows(column, NULL), *b = solve_flows(valued, NULL);
        diff = max_diff_per_demand(mk, a, b);
        if (diff > 1e-9) fail_msg("trial %d: column shift %g vs value shift differ by %.3g", trial, t, diff);
        if (m >= 2) {
            PrillmPriceResult ra, rb;
            test_price_with(column, j, PRILLM_PRICE_EXACT, 0, &ra);
            test_price_with(valued, j, PRILLM_PRICE_EXACT, ra.p_max, &rb);
            assert_true(fabs(ra.profit - rb.profit) <= profit_tolerance(column, &ra));
            assert_true(fabs(ra.price - rb.price) <= 1e-7 * ra.p_max);
            /* the row shift leaves the target's optimum alone too */
            PrillmPriceResult rr, rm;
            test_price_with(mk, j, PRILLM_PRICE_EXACT, 0, &rm);
            test_price_with(row, j, PRILLM_PRICE_EXACT, rm.p_max, &rr);
            assert_true(fabs(rr.profit - rm.profit) <= profit_tolerance(mk, &rm));
            prillm_price_result_clear(&ra);
            prillm_price_result_clear(&rb);
            prillm_price_result_clear(&rr);
            prillm_price_result_clear(&rm);
        }
        free(a);
        free(b);
        free(base);
        prillm_market_free(row);
        prillm_market_free(column);
        prillm_market_free(valued);
        prillm_market_free(mk);
    }
}

/* ---- (e) every pricing method -------------------------------------------- */


/* A common part in an affinity row, or in every value, far larger than the
 * rest of the costs is refused, naming the user and the part to subtract;
 * a small one is accepted and answers as the market without it does.
 * Markets whose costs are large or equal by themselves (identical hosts
 * with ample capacity, one provider) are accepted, and a bad demand is
 * named before any of this. */
static void expect_refused(PrillmMarket *mk, int user, const char *part, const char *what) {
    PrillmError err;
    if (prillm_market_validate(mk, &err) != PRILLM_ERR_INVALID_DATA) fail_msg("%s: accepted", what);
    char who[32];
    snprintf(who, sizeof who, "users[%d] (", user);
    if (!strstr(err.message, who) || !strstr(err.message, part) || !strstr(err.message, "subtract it"))
        fail_msg("%s: the message names the wrong user or part: %s", what, err.message);
}

static void test_large_common_parts_refused(void **state) {
    (void)state;
    TestRng rng = {0xc0aa0000u};
    PrillmError err;
    for (int trial = 0; trial < 60; trial++) {
        int n = test_int(&rng, 1, 20), m = test_int(&rng, 2, 8);
        PrillmMarket *mk = affinity_market(n, m, 23000 + (uint64_t)trial, NULL);
        assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
        int i = test_int(&rng, 0, n - 1), on_value = trial % 3 == 0, first = -1;
        for (int u = n - 1; u >= 0; u--)
            if (mk->demand[u] > 0) first = u;
        if (!on_value) mk->demand[i] = fmax(mk->demand[i], 1.0); /* the shifted user sends traffic */
        if (first < 0) first = i;
        double *base = solve_flows(mk, NULL);
        /* small (10^2 to 10^4): accepted, the same flows to its round-off;
         * large (10^9 to 10^11): refused, naming the shifted user (for
         * every value, the first user with demand) */
        for (int large = 0; large <= 1; large++) {
            PrillmMarket *shifted = prillm_market_copy(mk, &err);
            assert_non_null(shifted);
            double e = large ? 9 + 2 * test_uniform(&rng) : 2 + 2 * test_uniform(&rng);
            double shift = pow(10, e) * (2 * test_int(&rng, 0, 1) - 1);
            for (int j = 0; j < m; j++) {
                if (on_value) shifted->value[j] += shift;
                else shifted->affinity[(size_t)i * m + j] += shift;
            }
            if (large) {
                char what[64];
                snprintf(what, sizeof what, "trial %d: shift %.3g", trial, shift);
                expect_refused(shifted, on_value ? first : i,
                               on_value ? "every provider's value has a common part" : "its affinity row has a common part",
                               what);
                /* the same with no demand: it sends nothing, whatever its costs */
                if (!on_value) {
                    shifted->demand[i] = 0;
                    assert_int_equal(prillm_market_validate(shifted, &err), PRILLM_OK);
                }
            } else {
                double *flows = solve_flows(shifted, NULL);
                double diff = max_diff_per_demand(mk, flows, base);
                if (diff > 1e-9) fail_msg("trial %d: shift %.3g moved flows by %.3g per unit of demand", trial, shift, diff);
                free(flows);
            }
            prillm_market_free(shifted);
        }
        free(base);
        prillm_market_free(mk);
    }

    /* two identical hosts with ample capacity: every cost equal, the split
     * set by congestion alone (refused by the first form of this check,
     * whose answer was exact); and one provider */
    PrillmMarket *hosts = prillm_market_alloc(1, 2, &err);
    assert_non_null(hosts);
    for (int j = 0; j < 2; j++) {
        hosts->price[j] = 2, hosts->value[j] = 1, hosts->capacity[j] = 1e7 * (j + 1), hosts->cost[j] = NAN;
        hosts->latency[j] = NAN, hosts->delay[j] = 0.7, hosts->affinity[j] = 0;
        hosts->provider_id[j] = strdup(j ? "hostB" : "hostA");
    }
    hosts->demand[0] = 10;
    hosts->user_id[0] = strdup("app");
    assert_int_equal(prillm_market_validate(hosts, &err), PRILLM_OK);
    double *flows = solve_flows(hosts, NULL);
    assert_true(fabs(flows[0] - 10.0 / 3) < 1e-9 && fabs(flows[1] - 20.0 / 3) < 1e-9);
    free(flows);
    /* costs large by their prices are the market itself */
    hosts->price[0] = 1e7, hosts->price[1] = 1e7 + 1;
    assert_int_equal(prillm_market_validate(hosts, &err), PRILLM_OK);
    /* opposite parts in value and affinity cancel in the costs but not in
     * their digits: the larger (here the affinity, on a tie) is named */
    hosts->price[0] = hosts->price[1] = 2;
    for (int j = 0; j < 2; j++) hosts->value[j] = 1 - 1e10, hosts->affinity[j] = 1e10;
    expect_refused(hosts, 0, "its affinity row has a common part of 1e+10", "opposite parts");
    for (int j = 0; j < 2; j++) hosts->affinity[j] = 0;
    expect_refused(hosts, 0, "every provider's value has a common part of -1e+10", "every value");
    /* a negative demand is named as such, before the common part */
    hosts->demand[0] = -10;
    assert_int_equal(prillm_market_validate(hosts, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "users[0].demand must be >= 0"));
    prillm_market_free(hosts);
    PrillmMarket *mono = prillm_market_alloc(1, 1, &err);
    assert_non_null(mono);
    mono->price[0] = 2, mono->value[0] = 1, mono->capacity[0] = 1e7, mono->cost[0] = mono->latency[0] = NAN;
    mono->delay[0] = 0.7, mono->affinity[0] = 0, mono->demand[0] = 10;
    mono->provider_id[0] = strdup("only");
    mono->user_id[0] = strdup("app");
    assert_int_equal(prillm_market_validate(mono, &err), PRILLM_OK);
    mono->value[0] = 1e7; /* nowhere else for its traffic to go */
    assert_int_equal(prillm_market_validate(mono, &err), PRILLM_OK);
    prillm_market_free(mono);
}

/* Each method runs on markets with affinities; its profit, scored in the
 * true game, never exceeds exact's; the abstractions that keep every rival
 * are exact again (so the abstracted market carried the affinities). And
 * each method's own model sees the affinities: adding t to a provider's
 * column gives the price that value += t gives, and (da aside, whose
 * network reads raw values) a constant added to one app's row changes
 * nothing. A method that ignored affinities would fail the first. */
static void test_every_method_runs(void **state) {
    (void)state;
    int runs = 0;
    for (int trial = 0; trial < 24; trial++) {
        TestRng rng = {0xaff60000u + (uint64_t)trial};
        int m = test_int(&rng, 2, 4), n = test_int(&rng, 1, m == 4 ? 4 : 6); /* bf must finish */
        TestMarketShape shape = {-1, 1, trial % 4 == 1, trial % 4 == 2};
        PrillmMarket *mk = affinity_market(n, m, 18000 + (uint64_t)trial, &shape);
        if (trial % 3 == 2) mk->cost[0] = 0.4 * mk->price[0];
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        double scale = test_profit_scale(mk, &exact), tol = profit_tolerance(mk, &exact);
        PrillmError err;
        PrillmMarket *column = prillm_market_copy(mk, &err), *valued = prillm_market_copy(mk, &err);
        PrillmMarket *row = prillm_market_copy(mk, &err);
        assert_true(column && valued && row);
        int j = test_int(&rng, 0, m - 1), i = test_int(&rng, 0, n - 1);
        double t = 0.5 + test_uniform(&rng);
        for (int u = 0; u < n; u++) column->affinity[(size_t)u * m + j] += t;
        valued->value[j] += t;
        for (int k = 0; k < m; k++) row->affinity[(size_t)i * m + k] -= 2 * t;
        PrillmPriceResult shifted;
        test_price_with(column, s, PRILLM_PRICE_EXACT, 0, &shifted);
        for (int method = 1; method < PRILLM_PRICE_METHOD_COUNT; method++) {
            if (!test_price_method_available(method)) continue; /* pmpec without Ipopt */
            const char *name = prillm_price_method_name(method);
            PrillmPriceResult r, rc, rv, rr;
            test_price_with(mk, s, method, 0, &r);
            if (r.status == PRILLM_STATUS_FAILED) fail_msg("trial %d: %s failed", trial, name);
            assert_true(r.p_max == exact.p_max);
            if (!(r.profit <= exact.profit + tol))
                fail_msg("trial %d: %s earns %.17g > exact %.17g", trial, name, r.profit, exact.profit);
            assert_true(fabs(r.profit - test_true_profit(mk, s, r.price, NULL)) <= 1e-12 * scale);
            test_price_with(column, s, method, shifted.p_max, &rc);
            test_price_with(valued, s, method, shifted.p_max, &rv);
            double tol_shift = 1e-6 * test_profit_scale(column, &shifted) + profit_tolerance(column, &shifted);
            if (!(fabs(rc.profit - rv.profit) <= tol_shift))
                fail_msg("trial %d: %s earns %.17g with affinity column += %g, %.17g with value += %g", trial, name,
                         rc.profit, t, rv.profit, t);
            if (method != PRILLM_PRICE_DA) {
                test_price_with(row, s, method, exact.p_max, &rr);
                if (!(fabs(rr.profit - r.profit) <= 1e-6 * scale + tol))
                    fail_msg("trial %d: %s earns %.17g with app %d's row shifted, %.17g without", trial, name,
                             rr.profit, i, r.profit);
                prillm_price_result_clear(&rr);
            }
            prillm_price_result_clear(&r);
            prillm_price_result_clear(&rc);
            prillm_price_result_clear(&rv);
            runs++;
        }
        prillm_price_result_clear(&shifted);
        prillm_market_free(column);
        prillm_market_free(valued);
        prillm_market_free(row);
        for (int method = PRILLM_PRICE_DA; method <= PRILLM_PRICE_MIN; method++) {
            PrillmPriceSettings set;
            prillm_price_default_settings(&set);
            set.method = method;
            set.model = test_shipped_model;
            set.k = m - 1;
            PrillmPriceResult r;
            assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
            assert_true(fabs(r.profit - exact.profit) <= tol);
            prillm_price_result_clear(&r);
        }
        prillm_price_result_clear(&exact);
        prillm_market_free(mk);
    }
    int available = 0;
    for (int method = 1; method < PRILLM_PRICE_METHOD_COUNT; method++) available += test_price_method_available(method);
    assert_int_equal(runs, 24 * available);
}

/* Abstraction with fewer rivals on larger markets: the merged rival carries
 * the apps' affinities, the abstracted price is scored in the true game. */
static void test_abstractions_on_larger_markets(void **state) {
    (void)state;
    for (int trial = 0; trial < 10; trial++) {
        TestRng rng = {0xaff70000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 20), m = test_int(&rng, 4, 10);
        PrillmMarket *mk = affinity_market(n, m, 19000 + (uint64_t)trial, NULL);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        double tol = profit_tolerance(mk, &exact);
        for (int method = PRILLM_PRICE_DA; method <= PRILLM_PRICE_AVG; method++) {
            PrillmPriceResult r;
            test_price_with(mk, s, method, 0, &r);
            assert_true(r.status != PRILLM_STATUS_FAILED);
            assert_true(r.profit <= exact.profit + tol);
            prillm_price_result_clear(&r);
        }
        prillm_price_result_clear(&exact);
        prillm_market_free(mk);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kkt_certificate),
        cmocka_unit_test(test_matches_brute_force),
        cmocka_unit_test(test_matches_ipopt),
        cmocka_unit_test(test_matches_gauss_seidel),
        cmocka_unit_test(test_exact_pricing_matches_resolves),
        cmocka_unit_test(test_exact_equals_bf),
        cmocka_unit_test(test_update_price_matches_fresh_market),
        cmocka_unit_test(test_invariances),
        cmocka_unit_test(test_large_common_parts_refused),
        cmocka_unit_test(test_every_method_runs),
        cmocka_unit_test(test_abstractions_on_larger_markets),
    };
    return cmocka_run_group_tests(tests, test_load_shipped_model, test_free_shipped_model);
}
