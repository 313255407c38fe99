/* da's confidence check (docs/aggregator.md, "Confidence check"): on many
 * random seeded markets, against the exact method and fresh equilibrium
 * solves,
 *  - the checked answer is never worse than da alone, and is the best
 *    point seen when the check passes, the exact optimum when it falls back;
 *  - the check never fires when da alone is within the tolerance of the
 *    exact optimum (the best check point can never beat the optimum);
 *  - it fires whenever a nearby exact point beats da by more than the
 *    tolerance (recomputed here with fresh solves);
 *  - with a sabotaged model (random weights) it fires on most markets where
 *    da alone is far off, and the answers recover;
 * and the settings, the skipped case and the JSON key. */
#define _POSIX_C_SOURCE 200809L
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

static PrillmMarket *check_market(int trial, int *target) {
    TestRng rng = {0xdac40000u + (uint64_t)trial};
    int n = test_int(&rng, 3, 40), m = test_int(&rng, 5, 24);
    PrillmMarket *mk;
    if (trial % 3 == 2) {
        PrillmError err;
        mk = prillm_aggregator_random_market(n, m, 5000 + (uint64_t)trial, &err);
        assert_non_null(mk);
    } else {
        mk = test_market(n, m, 81000 + (uint64_t)trial, NULL);
        if (trial % 3 == 1) test_market_affinity(mk, 82000 + (uint64_t)trial, 0.3);
    }
    *target = test_int(&rng, 0, m - 1);
    return mk;
}

/* prune: the fallback's exact walk, whole (0), pruned (1) or by size (-1).
 * A pruned fallback starts from the solver where the check left it, not at
 * today's price: it used to read that solution as today's and prune the
 * optimum away (trial 6 of the shipped model fell back to a profit of 0,
 * where da alone earned 6.35 and exact 16.73). */
static void price_da(const PrillmMarket *mk, int s, const PrillmAggregator *model, int check, double tolerance,
                     int prune, PrillmPriceResult *r) {
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    set.prune = prune;
    set.method = PRILLM_PRICE_DA;
    set.model = model;
    set.da_check = check;
    set.da_check_tolerance = tolerance;
    PrillmError err;
    if (prillm_price(mk, s, &set, r, &err)) fail_msg("da: %s", err.message);
    assert_true(r->status != PRILLM_STATUS_FAILED);
}

typedef struct {
    int markets, fired, far_off, far_off_fired;
    double sum_alone, sum_checked;
} Tally;

/* One market: the properties that hold for any model. */
static void check_one(const PrillmMarket *mk, int s, const PrillmAggregator *model, double tolerance, Tally *t,
                      int trial) {
    PrillmPriceResult exact, alone, checked;
    test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
    int prune = trial / 3 % 3 - 1; /* each walk, across the market families */
    price_da(mk, s, model, 0, tolerance, prune, &alone);
    price_da(mk, s, model, 1, tolerance, prune, &checked);
    double scale = test_profit_scale(mk, &exact), eps = 1e-9 * scale;
    assert_int_equal(alone.check, PRILLM_PRICE_CHECK_OFF);
    assert_true(isnan(alone.check_profit));
    assert_true(checked.check == PRILLM_PRICE_CHECK_PASSED || checked.check == PRILLM_PRICE_CHECK_FALLBACK);
    /* the check starts from da's own price */
    assert_true(checked.abstract_price == alone.price);
    assert_true(fabs(checked.abstract_profit - alone.profit) <= eps);
    /* never worse than da alone */
    if (!(checked.profit >= alone.profit - eps))
        fail_msg("trial %d: checked %.17g < da alone %.17g", trial, checked.profit, alone.profit);
    /* the best check point is a price the true market pays: recomputed
     * with a fresh solve, and never above the exact optimum */
    assert_true(fabs(test_true_profit(mk, s, checked.check_price, NULL) - checked.check_profit) <= eps);
    assert_true(checked.check_profit <= exact.profit + eps);
    assert_true(checked.check_profit >= checked.abstract_profit - eps);
    assert_true(checked.check_solves >= 2);
    if (checked.check == PRILLM_PRICE_CHECK_PASSED) {
        /* the best point seen is the answer: da's price or a better one */
        assert_true(checked.price == checked.check_price);
        assert_true(fabs(checked.profit - checked.check_profit) <= eps);
        /* passing means no check point beat da by more than the tolerance */
        assert_true(checked.abstract_profit >= (1 - tolerance) * checked.check_profit - eps);
    } else {
        t->fired++;
        /* fell back: the exact optimum (same walk, same market) */
        if (!(fabs(checked.profit - exact.profit) <= eps))
            fail_msg("trial %d: fallback earns %.17g, exact %.17g", trial, checked.profit, exact.profit);
        /* and it fired for a reason: a nearby point beats da, or da sells
         * nothing although the target sells at its cost */
        int beaten = checked.abstract_profit < (1 - tolerance) * checked.check_profit;
        double at_cost = 0;
        if (!(alone.flow > 0)) test_true_profit(mk, s, fmax(exact.cost, 0.0), &at_cost);
        int sells_nothing = !(alone.flow > 0) && at_cost > 0;
        assert_true(beaten || sells_nothing);
    }
    /* never fires when da alone is within the tolerance of the optimum */
    if (alone.profit >= (1 - tolerance) * exact.profit + eps && checked.check == PRILLM_PRICE_CHECK_FALLBACK)
        fail_msg("trial %d: da earns %.17g of the optimum %.17g (within %g) but the check fell back", trial,
                 alone.profit, exact.profit, tolerance);
    if (exact.profit > eps) {
        double ra = alone.profit / exact.profit, rc = checked.profit / exact.profit;
        t->markets++;
        t->sum_alone += ra;
        t->sum_checked += rc;
        if (ra < 0.9) {
            t->far_off++;
            t->far_off_fired += checked.check == PRILLM_PRICE_CHECK_FALLBACK;
        }
    }
    prillm_price_result_clear(&exact);
    prillm_price_result_clear(&alone);
    prillm_price_result_clear(&checked);
}

/* The shipped model on 60 markets (three families, with and without
 * affinities), tolerances 5 % and 0. */
static void test_check_shipped_model(void **state) {
    (void)state;
    if (!test_shipped_model) fail_msg("the shipped model did not load");
    for (int tol = 0; tol < 2; tol++) {
        Tally t = {0};
        for (int trial = 0; trial < 60; trial++) {
            int s;
            PrillmMarket *mk = check_market(trial, &s);
            check_one(mk, s, test_shipped_model, tol ? 0.05 : 0.0, &t, trial);
            prillm_market_free(mk);
        }
        print_message("tolerance %s: fallback on %d of %d markets; mean share of the optimum %.4f alone, %.4f checked; "
                      "%d far off (< 90 %%), %d of them caught\n",
                      tol ? "0.05" : "0", t.fired, t.markets, t.sum_alone / t.markets, t.sum_checked / t.markets,
                      t.far_off, t.far_off_fired);
        assert_true(t.sum_checked >= t.sum_alone - 1e-9 * t.markets);
        assert_true(t.markets >= 50);
    }
}

/* Where the shipped model is good, the check must stay out of the way:
 * random markets of the standard family with 150..400 apps and 20..40
 * models, K = 2. On every one where da alone keeps >= 97 % of the optimum
 * (at least 8 of the 16: the model is trained for such markets) the check
 * must pass, returning a price that earns at least da's. */
static void test_check_quiet_where_model_is_good(void **state) {
    (void)state;
    if (!test_shipped_model) fail_msg("the shipped model did not load");
    Tally t = {0};
    for (int trial = 0; trial < 16; trial++) {
        TestRng rng = {0x600d0000u + (uint64_t)trial};
        int n = test_int(&rng, 150, 400), m = test_int(&rng, 20, 40);
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(n, m, 3100 + (uint64_t)trial, &err);
        assert_non_null(mk);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, alone;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        price_da(mk, s, test_shipped_model, 0, 0.05, -1, &alone);
        if (exact.profit > 0 && alone.profit >= 0.97 * exact.profit) check_one(mk, s, test_shipped_model, 0.05, &t, trial);
        prillm_price_result_clear(&exact);
        prillm_price_result_clear(&alone);
        prillm_market_free(mk);
    }
    print_message("where the model is good (>= 97 %%): fallback on %d of %d markets; mean share %.4f alone, %.4f "
                  "checked\n",
                  t.fired, t.markets, t.sum_alone / t.markets, t.sum_checked / t.markets);
    assert_int_equal(t.fired, 0);
    assert_true(t.markets >= 8);
}

/* A sabotaged model: random weights, no training. da alone is far off on
 * many markets; the check must catch most of them. */
static void test_check_sabotaged_model(void **state) {
    (void)state;
    Tally t = {0};
    for (int trial = 0; trial < 60; trial++) {
        PrillmAggregatorShape shape;
        prillm_aggregator_default_shape(&shape);
        shape.seed = 900 + (unsigned long long)trial;
        PrillmError err;
        PrillmAggregator *bad = prillm_aggregator_new(&shape, &err);
        assert_non_null(bad);
        TestRng rng = {0x5ab0u + (uint64_t)trial};
        double *p = prillm_aggregator_parameters(bad);
        for (int k = 0; k < prillm_aggregator_parameter_count(bad); k++) p[k] += 2 * (2 * test_uniform(&rng) - 1);
        int s;
        PrillmMarket *mk = check_market(trial, &s);
        check_one(mk, s, bad, 0.05, &t, trial);
        prillm_market_free(mk);
        prillm_aggregator_free(bad);
    }
    print_message("sabotaged: fallback on %d of %d markets; mean share of the optimum %.4f alone, %.4f checked; %d far "
                  "off (< 90 %%), %d of them caught\n",
                  t.fired, t.markets, t.sum_alone / t.markets, t.sum_checked / t.markets, t.far_off, t.far_off_fired);
    assert_true(t.far_off >= 10);                         /* the sabotage worked */
    assert_true(t.far_off_fired >= 0.9 * t.far_off);       /* and the check caught it */
    assert_true(t.sum_checked > t.sum_alone + 0.05 * t.markets);
}

/* Switched off, not da, nothing to abstract; the JSON and the names. */
static void test_check_settings_and_output(void **state) {
    (void)state;
    if (!test_shipped_model) fail_msg("the shipped model did not load");
    int s;
    PrillmMarket *mk = check_market(4, &s);
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    assert_int_equal(set.da_check, 1);
    assert_true(set.da_check_tolerance == 0.05 && set.da_check_step == 0.1);
    PrillmError err;
    assert_int_equal(prillm_price_set_option(&set, "da-check-tolerance", "-0.1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "da-check-tolerance"));
    assert_int_equal(prillm_price_set_option(&set, "da-check", "2", &err), PRILLM_ERR_INVALID_ARGUMENT);
    PrillmPriceResult r;
    /* exact: no check */
    assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
    assert_int_equal(r.check, PRILLM_PRICE_CHECK_OFF);
    assert_true(isnan(r.abstract_price) && isnan(r.check_shortfall) && r.check_solves == 0);
    prillm_price_result_clear(&r);
    /* k keeps every rival: da prices the market itself */
    set.method = PRILLM_PRICE_DA;
    set.model = test_shipped_model;
    set.k = mk->n_providers - 1;
    assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
    assert_int_equal(r.check, PRILLM_PRICE_CHECK_SKIPPED);
    prillm_price_result_clear(&r);
    /* tolerance 0 with a sabotaged model: the JSON says what happened */
    PrillmAggregatorShape shape;
    prillm_aggregator_default_shape(&shape);
    PrillmAggregator *bad = prillm_aggregator_new(&shape, &err);
    set.k = 2;
    set.model = bad;
    set.da_check_tolerance = 0;
    assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
    assert_true(r.check == PRILLM_PRICE_CHECK_PASSED || r.check == PRILLM_PRICE_CHECK_FALLBACK);
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    assert_non_null(out);
    assert_int_equal(prillm_price_result_write_json(mk, &r, 0, out, &err), PRILLM_OK);
    fclose(out);
    char expect[96];
    snprintf(expect, sizeof expect, "\"check\": {\"status\": \"%s\", \"fallback\": %s, \"da_price\": ",
             prillm_price_check_name(r.check), r.check == PRILLM_PRICE_CHECK_FALLBACK ? "true" : "false");
    if (!strstr(buf, expect)) fail_msg("no %s in %s", expect, buf);
    free(buf);
    prillm_price_result_clear(&r);
    prillm_aggregator_free(bad);
    assert_string_equal(prillm_price_check_name(PRILLM_PRICE_CHECK_FALLBACK), "fallback");
    assert_string_equal(prillm_price_check_name(7), "unknown");
    prillm_market_free(mk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_shipped_model),
        cmocka_unit_test(test_check_quiet_where_model_is_good),
        cmocka_unit_test(test_check_sabotaged_model),
        cmocka_unit_test(test_check_settings_and_output),
    };
    return cmocka_run_group_tests(tests, test_load_shipped_model, test_free_shipped_model);
}
