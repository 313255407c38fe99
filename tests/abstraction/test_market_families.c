/* Training across market families: prillm_aggregator_random_market (every
 * family reachable, valid, reproducible, sizes as asked) and
 * prillm_aggregator_scenarios_mixed (the share of random markets, their size
 * range, the base markets drawn, profit curves recomputed with fresh
 * solves, the one-base case identical to prillm_aggregator_scenarios,
 * reproducible, bad arguments refused by name). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"
#include <prillm/aggregator.h>

static int same_market(const PrillmMarket *a, const PrillmMarket *b) {
    if (a->n_users != b->n_users || a->n_providers != b->n_providers) return 0;
    size_t nm = (size_t)a->n_users * a->n_providers;
    if (memcmp(a->delay, b->delay, nm * sizeof(double)) || memcmp(a->affinity, b->affinity, nm * sizeof(double)))
        return 0;
    if (memcmp(a->price, b->price, (size_t)a->n_providers * sizeof(double)) ||
        memcmp(a->capacity, b->capacity, (size_t)a->n_providers * sizeof(double)) ||
        memcmp(a->demand, b->demand, (size_t)a->n_users * sizeof(double)))
        return 0;
    for (int j = 0; j < a->n_providers; j++)
        if (strcmp(a->provider_id[j], b->provider_id[j])) return 0;
    return a->w_price == b->w_price && a->w_congestion == b->w_congestion && a->w_delay == b->w_delay;
}

static void test_random_market_families(void **state) {
    (void)state;
    int seen[PRILLM_MARKET_FAMILIES] = {0}, with_affinity = 0;
    for (int k = 0; k < 60; k++) {
        TestRng rng = {0xfa0000u + (uint64_t)k};
        int n = test_int(&rng, 1, 60), m = test_int(&rng, 1, 30);
        unsigned long long seed = 7000 + (unsigned long long)k;
        PrillmError err;
        PrillmMarket *a = prillm_aggregator_random_market(n, m, seed, &err), *b;
        assert_non_null(a);
        assert_int_equal(prillm_market_validate(a, &err), PRILLM_OK);
        assert_int_equal(a->n_users, n);
        assert_int_equal(a->n_providers, m);
        int family = prillm_aggregator_market_family(seed);
        assert_true(family >= 0 && family < PRILLM_MARKET_FAMILIES);
        seen[family]++;
        int aff = 0;
        for (size_t q = 0; q < (size_t)n * m; q++) aff |= a->affinity[q] != 0;
        with_affinity += aff;
        if (aff) assert_int_equal(family, 1); /* only the varied family has tastes */
        b = prillm_aggregator_random_market(n, m, seed, &err);
        assert_non_null(b);
        assert_true(same_market(a, b));
        prillm_market_free(b);
        prillm_market_free(a);
    }
    for (int f = 0; f < PRILLM_MARKET_FAMILIES; f++) assert_true(seen[f] >= 5);
    assert_true(with_affinity >= 3);
    PrillmError err;
    assert_null(prillm_aggregator_random_market(0, 5, 1, &err));
    assert_int_equal(err.code, PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "n_users"));
}

static void test_mixed_scenarios(void **state) {
    (void)state;
    PrillmMarket *b0 = test_market(6, 5, 4242, NULL), *b1 = test_market(4, 7, 4343, NULL);
    const PrillmMarket *bases[2] = {b0, b1};
    PrillmScenarioSettings st;
    prillm_scenario_default_settings(&st);
    st.scenarios = 60;
    st.prices = 3;
    st.random_share = 0.5;
    st.random_min_users = 3, st.random_max_users = 30;
    st.random_min_providers = 3, st.random_max_providers = 12;
    PrillmAggregatorScenarios sc, again;
    PrillmError err;
    assert_int_equal(prillm_aggregator_scenarios_mixed(bases, 2, &st, &sc, &err), PRILLM_OK);
    assert_int_equal(prillm_aggregator_scenarios_mixed(bases, 2, &st, &again, &err), PRILLM_OK);
    int from_base[2] = {0, 0}, random = 0;
    for (int s = 0; s < sc.count; s++) {
        const PrillmAggregatorScenario *x = &sc.items[s];
        assert_true(same_market(x->market, again.items[s].market));
        assert_int_equal(prillm_market_validate(x->market, &err), PRILLM_OK);
        if (x->market->n_users == 6 && strcmp(x->market->user_id[0], b0->user_id[0]) == 0) from_base[0]++;
        else if (x->market->n_users == 4 && strcmp(x->market->user_id[0], b1->user_id[0]) == 0) from_base[1]++;
        else {
            random++;
            assert_string_equal(x->market->user_id[0], "app-0");
            assert_true(x->market->n_users >= 3 && x->market->n_users <= 30);
            assert_true(x->market->n_providers >= 2 && x->market->n_providers <= 12);
        }
        /* the curve, recomputed with fresh solves */
        for (int k = 0; k < x->n_prices; k++) {
            double profit, flow;
            assert_int_equal(prillm_price_profit_at(x->market, x->target, x->prices[k], &profit, &flow, NULL, &err),
                             PRILLM_OK);
            double y = x->prices[k] * flow;
            if (!(fabs(y - x->profit[k]) <= 1e-8 * (fabs(x->profit[k]) + 1e-6)))
                fail_msg("scenario %d price %d: curve %.17g, fresh solve %.17g", s, k, x->profit[k], y);
        }
    }
    assert_true(random >= 18 && random <= 42);
    assert_true(from_base[0] >= 5 && from_base[1] >= 5);
    prillm_aggregator_scenarios_free(&again);
    prillm_aggregator_scenarios_free(&sc);

    /* one base, no random markets: prillm_aggregator_scenarios exactly */
    st.random_share = 0;
    assert_int_equal(prillm_aggregator_scenarios_mixed(bases, 1, &st, &sc, &err), PRILLM_OK);
    assert_int_equal(prillm_aggregator_scenarios(b0, -1, &st, &again, &err), PRILLM_OK);
    for (int s = 0; s < sc.count; s++) {
        assert_true(same_market(sc.items[s].market, again.items[s].market));
        assert_int_equal(sc.items[s].target, again.items[s].target);
        assert_memory_equal(sc.items[s].profit, again.items[s].profit, (size_t)st.prices * sizeof(double));
    }
    prillm_aggregator_scenarios_free(&again);
    prillm_aggregator_scenarios_free(&sc);

    /* only random markets, no base */
    st.random_share = 1;
    st.scenarios = 8;
    assert_int_equal(prillm_aggregator_scenarios_mixed(NULL, 0, &st, &sc, &err), PRILLM_OK);
    assert_int_equal(sc.count, 8);
    prillm_aggregator_scenarios_free(&sc);

    /* refused by name */
    st.random_share = 0.5;
    assert_int_equal(prillm_aggregator_scenarios_mixed(NULL, 0, &st, &sc, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "random-share"));
    st.random_share = 1;
    st.random_min_users = 40;
    assert_int_equal(prillm_aggregator_scenarios_mixed(bases, 2, &st, &sc, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "random-min-users"));
    assert_int_equal(prillm_scenario_set_option(&st, "random-share", "1.5", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "random-share"));
    prillm_market_free(b0);
    prillm_market_free(b1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_market_families),
        cmocka_unit_test(test_mixed_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
