#define _POSIX_C_SOURCE 200809L
/* Invariances of the equilibrium: relabelling, shifting every provider's
 * value by one constant, and scaling demands with capacities. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static void random_permutation(TestRng *rng, int *perm, int count) {
    for (int k = 0; k < count; k++) perm[k] = k;
    for (int k = count - 1; k > 0; k--) {
        int r = test_int(rng, 0, k), t = perm[k];
        perm[k] = perm[r];
        perm[r] = t;
    }
}

/* new user a is old user pu[a]; new provider b is old provider pp[b] */
static PrillmMarket *permuted(const PrillmMarket *mk, const int *pu, const int *pp) {
    int n = mk->n_users, m = mk->n_providers;
    PrillmMarket *out = prillm_market_copy(mk, NULL);
    assert_non_null(out);
    for (int b = 0; b < m; b++) {
        out->price[b] = mk->price[pp[b]];
        out->capacity[b] = mk->capacity[pp[b]];
        out->value[b] = mk->value[pp[b]];
        out->latency[b] = mk->latency[pp[b]];
        free(out->provider_id[b]);
        out->provider_id[b] = strdup(mk->provider_id[pp[b]]);
    }
    for (int a = 0; a < n; a++) {
        out->demand[a] = mk->demand[pu[a]];
        free(out->user_id[a]);
        out->user_id[a] = strdup(mk->user_id[pu[a]]);
        for (int b = 0; b < m; b++) out->delay[(size_t)a * m + b] = mk->delay[(size_t)pu[a] * m + pp[b]];
    }
    return out;
}

static void test_permutation_permutes_flows(void **state) {
    (void)state;
    TestRng rng = {31};
    for (int trial = 0; trial < 60; trial++) {
        int n = test_int(&rng, 1, 40), m = test_int(&rng, 1, 15);
        PrillmMarket *mk = test_market(n, m, 200 + (uint64_t)trial, NULL);
        int *pu = calloc((size_t)n, sizeof(int)), *pp = calloc((size_t)m, sizeof(int));
        assert_true(pu && pp);
        random_permutation(&rng, pu, n);
        random_permutation(&rng, pp, m);
        PrillmMarket *other = permuted(mk, pu, pp);
        PrillmEquilibriumSolver *s1 = test_solve(mk, NULL), *s2 = test_solve(other, NULL);
        const PrillmEquilibrium *e1 = prillm_equilibrium_solution(s1), *e2 = prillm_equilibrium_solution(s2);
        assert_int_equal(e1->info.status, PRILLM_STATUS_SOLVED);
        assert_int_equal(e2->info.status, PRILLM_STATUS_SOLVED);
        for (int a = 0; a < n; a++)
            for (int b = 0; b < m; b++) {
                double x = e2->flows[(size_t)a * m + b], y = e1->flows[(size_t)pu[a] * m + pp[b]];
                if (fabs(x - y) > 1e-9 * other->demand[a])
                    fail_msg("trial %d: permuted flow %.17g vs %.17g", trial, x, y);
            }
        for (int a = 0; a < n; a++) assert_true(fabs(e2->lambda[a] - e1->lambda[pu[a]]) <= 1e-9 * (1 + fabs(e1->lambda[pu[a]])));
        prillm_equilibrium_cleanup(s1);
        prillm_equilibrium_cleanup(s2);
        prillm_market_free(other);
        prillm_market_free(mk);
        free(pu);
        free(pp);
    }
}

static void test_value_shift_changes_nothing(void **state) {
    (void)state;
    static const double shifts[] = {-5.0, 0.37, 3.0, 100.0};
    TestRng rng = {41};
    for (int trial = 0; trial < 40; trial++) {
        int n = test_int(&rng, 1, 40), m = test_int(&rng, 1, 15);
        PrillmMarket *mk = test_market(n, m, 400 + (uint64_t)trial, NULL);
        PrillmEquilibriumSolver *s1 = test_solve(mk, NULL);
        const PrillmEquilibrium *e1 = prillm_equilibrium_solution(s1);
        double shift = shifts[trial % 4];
        for (int j = 0; j < m; j++) mk->value[j] += shift;
        PrillmEquilibriumSolver *s2 = test_solve(mk, NULL);
        const PrillmEquilibrium *e2 = prillm_equilibrium_solution(s2);
        assert_int_equal(e2->info.status, PRILLM_STATUS_SOLVED);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double x = e2->flows[(size_t)i * m + j], y = e1->flows[(size_t)i * m + j];
                if (fabs(x - y) > 1e-9 * mk->demand[i]) fail_msg("trial %d: shift %g moved a flow by %.3g", trial, shift, fabs(x - y));
            }
            /* the multiplier moves by exactly the shift */
            assert_true(fabs((e1->lambda[i] - shift) - e2->lambda[i]) <= 1e-9 * (fabs(e1->lambda[i]) + fabs(shift) + 1));
        }
        prillm_equilibrium_cleanup(s1);
        prillm_equilibrium_cleanup(s2);
        prillm_market_free(mk);
    }
}

static void test_scaling_demand_and_capacity_scales_flows(void **state) {
    (void)state;
    static const double factors[] = {0x1p-10, 3.7, 1e6, 0.001};
    TestRng rng = {51};
    for (int trial = 0; trial < 40; trial++) {
        int n = test_int(&rng, 1, 40), m = test_int(&rng, 1, 15);
        PrillmMarket *mk = test_market(n, m, 600 + (uint64_t)trial, NULL);
        PrillmEquilibriumSolver *s1 = test_solve(mk, NULL);
        const PrillmEquilibrium *e1 = prillm_equilibrium_solution(s1);
        double k = factors[trial % 4];
        for (int i = 0; i < n; i++) mk->demand[i] *= k;
        for (int j = 0; j < m; j++) mk->capacity[j] *= k;
        PrillmEquilibriumSolver *s2 = test_solve(mk, NULL);
        const PrillmEquilibrium *e2 = prillm_equilibrium_solution(s2);
        assert_int_equal(e2->info.status, PRILLM_STATUS_SOLVED);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                double x = e2->flows[(size_t)i * m + j], y = k * e1->flows[(size_t)i * m + j];
                if (fabs(x - y) > 1e-9 * mk->demand[i]) fail_msg("trial %d: factor %g: %.17g vs %.17g", trial, k, x, y);
            }
        /* congestion F/capacity is unchanged, so costs and multipliers are too */
        for (int i = 0; i < n; i++) assert_true(fabs(e1->lambda[i] - e2->lambda[i]) <= 1e-9 * (1 + fabs(e1->lambda[i])));
        prillm_equilibrium_cleanup(s1);
        prillm_equilibrium_cleanup(s2);
        prillm_market_free(mk);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permutation_permutes_flows),
        cmocka_unit_test(test_value_shift_changes_nothing),
        cmocka_unit_test(test_scaling_demand_and_capacity_scales_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
