/* Exact pricing (parametric homotopy), checked against methods that share
 * none of its breakpoint logic: a dense grid of independent equilibrium
 * solves refined by golden section, and, on tiny markets, brute force over
 * support patterns. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static double true_profit(const PrillmMarket *mk, int s, double p) {
    double profit, flow;
    PrillmError err;
    assert_int_equal(prillm_price_profit_at(mk, s, p, &profit, &flow, NULL, &err), PRILLM_OK);
    return profit;
}

static void price_with(const PrillmMarket *mk, int s, int method, double pmax, PrillmPriceResult *r) {
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    set.method = method;
    set.p_max = pmax;
    PrillmError err;
    PrillmErrorCode rc = prillm_price(mk, s, &set, r, &err);
    if (rc) fail_msg("prillm_price(%s): %s", prillm_price_method_name(method), err.message);
}

/* Best true profit over a grid of `points` prices, each local best refined
 * by golden section on its neighbouring grid cells. */
static double refined_grid_optimum(const PrillmMarket *mk, int s, double pmax, int points, double *best_price) {
    double *profit = malloc((size_t)points * sizeof *profit);
    assert_non_null(profit);
    for (int q = 0; q < points; q++) profit[q] = true_profit(mk, s, pmax * q / (points - 1));
    double best = -INFINITY;
    for (int q = 0; q < points; q++) {
        if (profit[q] > best) {
            best = profit[q];
            *best_price = pmax * q / (points - 1);
        }
        int local = (q == 0 || profit[q] >= profit[q - 1]) && (q == points - 1 || profit[q] >= profit[q + 1]);
        if (!local) continue;
        double a = pmax * (q > 0 ? q - 1 : q) / (points - 1), b = pmax * (q < points - 1 ? q + 1 : q) / (points - 1);
        const double g = 0.5 * (sqrt(5.0) - 1.0);
        for (int it = 0; it < 60 && b - a > 1e-13 * pmax; it++) {
            double x1 = b - g * (b - a), x2 = a + g * (b - a);
            if (true_profit(mk, s, x1) >= true_profit(mk, s, x2)) b = x2;
            else a = x1;
        }
        double x = 0.5 * (a + b), v = true_profit(mk, s, x);
        if (v > best) {
            best = v;
            *best_price = x;
        }
    }
    free(profit);
    return best;
}

/* Profits are compared relative to their size, with a floor at the scale
 * of the problem (a price range times the total demand) for optima near 0. */
static double profit_scale(const PrillmMarket *mk, const PrillmPriceResult *r) {
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    return fabs(r->profit) + 1e-6 * r->p_max * total;
}

static void check_result_sane(const PrillmPriceResult *r, const PrillmMarket *mk) {
    assert_true(r->status == PRILLM_STATUS_SOLVED);
    assert_true(r->price >= 0 && r->price <= r->p_max);
    assert_true(r->kkt_violation <= 1e-8);
    assert_true(fabs(r->profit - (r->price - r->cost) * r->flow) <= 1e-12 * (fabs(r->profit) + 1));
    /* the curve covers [0, p_max] without gaps and F_s never rises */
    assert_true(r->n_segments >= 1);
    assert_true(r->segments[0].from == 0.0);
    assert_true(r->segments[r->n_segments - 1].to == r->p_max);
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    for (int k = 0; k < r->n_segments; k++) {
        const PrillmPriceSegment *g = &r->segments[k];
        assert_true(g->to > g->from);
        assert_true(g->flow_slope <= 1e-9 * total / r->p_max);
        if (k > 0) {
            const PrillmPriceSegment *h = &r->segments[k - 1];
            assert_true(g->from == h->to);
            double end = h->flow_from + h->flow_slope * (h->to - h->from);
            assert_true(fabs(end - g->flow_from) <= 1e-8 * total); /* continuous */
        }
    }
    assert_true(r->curve_residual <= 1e-8);
}

/* exact >= grid and ~= the refined grid, on many random markets */
static void test_exact_beats_grid(void **state) {
    (void)state;
    int count = 0;
    double worst_gap = 0;
    for (int trial = 0; trial < 120; trial++) {
        TestRng rng = {0x5eed0000u + (uint64_t)trial};
        int n = test_int(&rng, 1, 12), m = test_int(&rng, 2, 7);
        TestMarketShape shape = {-1, 2, trial % 5 == 1, trial % 5 == 2};
        PrillmMarket *mk = test_market(n, m, 1000 + (uint64_t)trial, &shape);
        if (trial % 4 == 3) mk->cost[0] = 0.3 * mk->price[0];
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, grid;
        price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        check_result_sane(&exact, mk);
        price_with(mk, s, PRILLM_PRICE_GRID, 0, &grid);
        assert_true(grid.p_max == exact.p_max);
        double scale = profit_scale(mk, &exact);
        assert_true(exact.profit >= grid.profit - 1e-9 * scale);
        double ref_price;
        double ref = refined_grid_optimum(mk, s, exact.p_max, 101, &ref_price);
        assert_true(exact.profit >= ref - 1e-9 * scale);
        double gap = (exact.profit - ref) / scale;
        if (gap > worst_gap) worst_gap = gap;
        /* the model's own profit and the true game agree */
        assert_true(fabs(exact.model_profit - exact.profit) <= 1e-8 * scale + 1e-12);
        prillm_price_result_clear(&exact);
        prillm_price_result_clear(&grid);
        prillm_market_free(mk);
        count++;
    }
    print_message("exact vs grid on %d markets; largest exact - refined grid: %.2e relative\n", count, worst_gap);
}

/* exact == bf on tiny markets (bf enumerates patterns, no homotopy) */
static void test_exact_equals_bf(void **state) {
    (void)state;
    double worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        TestRng rng = {0xbf000000u + (uint64_t)trial};
        int m = test_int(&rng, 2, 3), n = test_int(&rng, 1, m == 2 ? 5 : 4);
        TestMarketShape shape = {-0.5, 1, trial % 4 == 1, trial % 4 == 2};
        PrillmMarket *mk = test_market(n, m, 7000 + (uint64_t)trial, &shape);
        if (trial % 3 == 0) mk->cost[1 % m] = 0.5 * mk->price[1 % m];
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, bf;
        price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        check_result_sane(&exact, mk);
        price_with(mk, s, PRILLM_PRICE_BF, 0, &bf);
        assert_true(bf.status == PRILLM_STATUS_SOLVED);
        double scale = profit_scale(mk, &exact);
        double diff = fabs(exact.profit - bf.profit) / scale;
        if (diff > worst) worst = diff;
        if (diff > 1e-7) print_message("trial %d n=%d m=%d s=%d exact %.12g at %.9g, bf %.12g at %.9g\n", trial, n, m, s, exact.profit, exact.price, bf.profit, bf.price);
        assert_true(diff <= 1e-7);
        prillm_price_result_clear(&exact);
        prillm_price_result_clear(&bf);
        prillm_market_free(mk);
    }
    print_message("exact vs bf on 200 tiny markets: largest relative difference %.2e\n", worst);
}

/* The segments reproduce the target's equilibrium flow at random prices. */
static void test_curve_matches_equilibrium(void **state) {
    (void)state;
    for (int trial = 0; trial < 40; trial++) {
        TestRng rng = {0xc0de0000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 30), m = test_int(&rng, 2, 12);
        TestMarketShape shape = {-2, 3, trial % 3 == 1, trial % 3 == 2};
        PrillmMarket *mk = test_market(n, m, 300 + (uint64_t)trial, &shape);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult r;
        price_with(mk, s, PRILLM_PRICE_EXACT, 0, &r);
        check_result_sane(&r, mk);
        double total = 0;
        for (int i = 0; i < n; i++) total += mk->demand[i];
        for (int k = 0; k < 10; k++) {
            double p = r.p_max * test_uniform(&rng);
            int g = 0;
            while (g + 1 < r.n_segments && r.segments[g + 1].from <= p) g++;
            double curve = r.segments[g].flow_from + r.segments[g].flow_slope * (p - r.segments[g].from);
            double profit, flow;
            PrillmError err;
            assert_int_equal(prillm_price_profit_at(mk, s, p, &profit, &flow, NULL, &err), PRILLM_OK);
            assert_true(fabs(curve - flow) <= 1e-9 * total);
        }
        /* every breakpoint lies on a segment boundary */
        for (int b = 0; b < r.n_breakpoints; b++) {
            int on_boundary = 0;
            for (int g = 0; g < r.n_segments; g++) on_boundary |= r.segments[g].from == r.breakpoints[b].price;
            assert_true(on_boundary);
        }
        prillm_price_result_clear(&r);
        prillm_market_free(mk);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_beats_grid),
        cmocka_unit_test(test_exact_equals_bf),
        cmocka_unit_test(test_curve_matches_equilibrium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
