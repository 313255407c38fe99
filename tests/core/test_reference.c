/* Agreement with independent methods: brute-force enumeration of support
 * patterns (a dense KKT solve per pattern, no shared code), Ipopt on the QP,
 * and plain Gauss-Seidel run to convergence. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

/* Flows compared relative to each user's demand: the natural scale of a
 * user's split, and what "1e-8 relative" means for a zero entry. */
static double max_diff_per_demand(const PrillmMarket *mk, const double *a, const double *b) {
    int n = mk->n_users, m = mk->n_providers;
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            worst = fmax(worst, fabs(a[(size_t)i * m + j] - b[(size_t)i * m + j]) / mk->demand[i]);
    return worst;
}

static void test_matches_brute_force(void **state) {
    (void)state;
    TestRng rng = {4242};
    int checked = 0;
    for (int trial = 0; trial < 200; trial++) {
        int n = test_int(&rng, 1, 3), m = test_int(&rng, 1, 3);
        TestMarketShape shape = {-1.0 + 2.0 * test_uniform(&rng), 2.0 + 2.0 * test_uniform(&rng), trial % 4 == 1,
                                 trial % 4 == 2};
        PrillmMarket *mk = test_market(n, m, 5000 + (uint64_t)trial, &shape);
        double *reference = calloc((size_t)n * m, sizeof(double));
        assert_non_null(reference);
        assert_int_equal(test_brute_force_equilibrium(mk, reference), 0);
        PrillmEquilibriumSolver *s = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
        double diff = max_diff_per_demand(mk, eq->flows, reference);
        if (diff > 1e-8) fail_msg("trial %d (%d x %d): differs from brute force by %.3g", trial, n, m, diff);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
        free(reference);
        checked++;
    }
    assert_int_equal(checked, 200);
}

/* per_demand: compare relative to each user's demand (strict) rather than
 * to the largest demand. */
static void compare_methods(int method, double tolerance, double agreement, int per_demand, int trials, int max_n,
                            int max_m, uint64_t seed0) {
    TestRng rng = {seed0};
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = method;
    settings.tolerance = tolerance;
    double worst = 0;
    for (int trial = 0; trial < trials; trial++) {
        int n = test_int(&rng, 1, max_n), m = test_int(&rng, 1, max_m);
        TestMarketShape shape = {-1.0, 4.0, trial % 5 == 3, 0};
        PrillmMarket *mk = test_market(n, m, seed0 + (uint64_t)trial, &shape);
        PrillmEquilibriumSolver *exact = test_solve(mk, NULL);
        PrillmEquilibriumSolver *other = test_solve(mk, &settings);
        const PrillmEquilibrium *a = prillm_equilibrium_solution(exact), *b = prillm_equilibrium_solution(other);
        assert_int_equal(a->info.status, PRILLM_STATUS_SOLVED);
        if (b->info.status != PRILLM_STATUS_SOLVED && b->info.status != PRILLM_STATUS_INACCURATE)
            fail_msg("trial %d: reference method failed (%s)", trial, prillm_status_name(b->info.status));
        double diff = per_demand ? max_diff_per_demand(mk, a->flows, b->flows)
                                 : test_max_diff_norm_relative(mk, a->flows, b->flows);
        worst = fmax(worst, diff);
        if (diff > agreement)
            fail_msg("trial %d (%d x %d): exact and method %d differ by %.3g (reference kkt %.3g)", trial, n, m, method,
                     diff, b->info.kkt_violation);
        prillm_equilibrium_cleanup(exact);
        prillm_equilibrium_cleanup(other);
        prillm_market_free(mk);
    }
    printf("# method %d: largest difference over %d markets %.3g\n", method, trials, worst);
}

static void test_matches_ipopt(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    compare_methods(PRILLM_EQ_IPOPT, 1e-10, 1e-6, 0, 40, 40, 15, 9100);
}

/* At the default tolerance the Ipopt method ends solved, nearly always:
 * prillm asks Ipopt for 1e-5 of it, since Ipopt's own measures are not
 * prillm's certificate (asked for a hundredth, 19 of these 20 markets ended
 * inaccurate, at about 3e-9; now 1, at 4e-9). */
static void test_ipopt_reaches_the_default_tolerance(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    TestRng rng = {9400};
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = PRILLM_EQ_IPOPT;
    int solved = 0;
    for (int trial = 0; trial < 20; trial++) {
        int n = test_int(&rng, 1, 40), m = test_int(&rng, 2, 12);
        PrillmMarket *mk = test_market(n, m, 9400 + (uint64_t)trial, NULL);
        PrillmEquilibriumSolver *s = test_solve(mk, &settings);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
        solved += eq->info.status == PRILLM_STATUS_SOLVED;
        if (!(eq->info.kkt_violation <= 1e-8))
            fail_msg("trial %d (%d x %d): ipopt ended %s, kkt %.3g", trial, n, m, prillm_status_name(eq->info.status),
                     eq->info.kkt_violation);
        prillm_equilibrium_cleanup(s);
        prillm_market_free(mk);
    }
    print_message("ipopt at the default tolerance: %d of 20 solved\n", solved);
    assert_true(solved >= 18);
}

static void test_matches_gauss_seidel(void **state) {
    (void)state;
    compare_methods(PRILLM_EQ_GAUSS_SEIDEL, 1e-11, 1e-8, 1, 40, 30, 12, 9300);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_brute_force),
        cmocka_unit_test(test_matches_ipopt),
        cmocka_unit_test(test_ipopt_reaches_the_default_tolerance),
        cmocka_unit_test(test_matches_gauss_seidel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
