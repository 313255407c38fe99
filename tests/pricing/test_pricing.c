#define _POSIX_C_SOURCE 200809L
/* Exact pricing (parametric homotopy), checked against methods that share
 * none of its breakpoint logic: a dense grid of independent equilibrium
 * solves refined by golden section, and, on tiny markets, brute force over
 * support patterns. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pricing_internal.h"
#include "support.h"

static void check_result_sane(const PrillmPriceResult *r, const PrillmMarket *mk) {
    assert_true(r->status == PRILLM_STATUS_SOLVED);
    assert_true(r->price >= 0 && r->price <= r->p_max);
    assert_true(r->kkt_violation <= 1e-8);
    assert_true(fabs(r->profit - (r->price - r->cost) * r->flow) <= 1e-12 * (fabs(r->profit) + 1));
    /* a whole curve covers [0, p_max] without gaps; a pruned one (the
     * default above 50 pairs) is sorted, with gaps, and covers the optimum;
     * F_s never rises */
    int whole = r->walked_fraction == 1;
    assert_true(r->n_segments >= 1);
    if (whole) {
        assert_true(r->segments[0].from == 0.0);
        assert_true(r->segments[r->n_segments - 1].to == r->p_max);
    }
    int covers = 0;
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    for (int k = 0; k < r->n_segments; k++) {
        const PrillmPriceSegment *g = &r->segments[k];
        assert_true(g->to > g->from);
        assert_true(g->from >= 0 && g->to <= r->p_max);
        assert_true(g->flow_slope <= 1e-9 * total / r->p_max);
        covers |= g->from <= r->price && r->price <= g->to;
        if (k > 0) {
            const PrillmPriceSegment *h = &r->segments[k - 1];
            assert_true(whole ? g->from == h->to : g->from >= h->to);
            if (g->from != h->to) continue; /* a gap: nothing to join */
            double end = h->flow_from + h->flow_slope * (h->to - h->from);
            assert_true(fabs(end - g->flow_from) <= 1e-8 * total); /* continuous */
        }
    }
    assert_true(covers);
    assert_true(r->curve_residual <= 1e-8);
}

/* exact >= grid and ~= the refined grid, on many random markets */
static void test_exact_beats_grid(void **state) {
    (void)state;
    int count = 0;
    double worst_gap = 0;
    for (int trial = 0; trial < 200; trial++) {
        TestRng rng = {0x5eed0000u + (uint64_t)trial};
        int n = test_int(&rng, 1, 12), m = test_int(&rng, 2, 7);
        TestMarketShape shape = {-1, 2, trial % 5 == 1, trial % 5 == 2};
        PrillmMarket *mk = test_market(n, m, 1000 + (uint64_t)trial, &shape);
        if (trial % 4 == 3) mk->cost[0] = 0.3 * mk->price[0];
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact, grid;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        check_result_sane(&exact, mk);
        test_price_with(mk, s, PRILLM_PRICE_GRID, 0, &grid);
        assert_true(grid.p_max == exact.p_max);
        double scale = test_profit_scale(mk, &exact);
        assert_true(exact.profit >= grid.profit - 1e-9 * scale);
        double ref_price;
        double ref = test_refined_grid_optimum(mk, s, exact.p_max, 101, &ref_price);
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

/* The walk tests' random market of a trial: demands over 10^-3..10^2 every
 * third trial (else 10^-1..10^2), a duplicated provider or user (ties)
 * on two trials in five, tastes every other trial (market and taste seeds
 * plus the trial). */
static PrillmMarket *walk_market(int n, int m, int trial, uint64_t market_seed, uint64_t taste_seed) {
    TestMarketShape shape = {trial % 3 == 0 ? -3 : -1, 2, trial % 5 == 1, trial % 5 == 2};
    PrillmMarket *mk = test_market(n, m, market_seed + (uint64_t)trial, &shape);
    if (trial % 2) test_market_affinity(mk, taste_seed + (uint64_t)trial, 0.3);
    return mk;
}

/* Competition's range pricing (prillm__price_exact_range) prunes the range
 * like prillm_price when it prices the profit alone over [0, hi]: the same
 * optimum as its whole walk, on random markets with costs, ties, skewed
 * demands and tastes and caps below and above the default pmax, in fewer
 * pieces. With an owner's margins or a floor it walks whole whatever the
 * setting, bit for bit. */
static void test_range_prunes_like_price(void **state) {
    (void)state;
    PrillmPriceSettings whole, pruned;
    prillm_price_default_settings(&whole);
    whole.prune = 0;
    pruned = whole;
    pruned.prune = 1;
    double worst = 0;
    long pieces_whole = 0, pieces_pruned = 0;
    for (int trial = 0; trial < 60; trial++) {
        TestRng rng = {0x7a46e0u + (uint64_t)trial};
        int n = test_int(&rng, 2, 40), m = test_int(&rng, 2, 12);
        PrillmMarket *mk = walk_market(n, m, trial, 7300, 7400);
        int s = test_int(&rng, 0, m - 1);
        if (trial % 4 == 3) mk->cost[s] = 0.5 * mk->price[s];
        double hi = prillm_price_default_pmax(mk, s) * (0.3 + 0.9 * test_uniform(&rng));
        PrillmPriceRange a, b;
        PrillmError err;
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &whole, 0, NULL, &a, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &pruned, 0, NULL, &b, &err), PRILLM_OK);
        assert_true(a.status == PRILLM_STATUS_SOLVED && b.status == PRILLM_STATUS_SOLVED);
        assert_true(b.price >= 0 && b.price <= hi);
        double total = 0;
        for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
        double scale = fmax(fabs(a.value), 1e-12 * total * hi);
        double gap = fabs(a.value - b.value) / scale;
        worst = fmax(worst, gap);
        if (!(gap <= 1e-9))
            fail_msg("trial %d (%d x %d, target %d, hi %.17g): pruned %.17g at %.17g, whole %.17g at %.17g", trial, n, m,
                     s, hi, b.value, b.price, a.value, a.price);
        pieces_whole += a.pieces;
        pieces_pruned += b.pieces;
        /* started from a solve of the market as given instead of a cold
         * one: the same optimum, and the solve is only read */
        PrillmEquilibriumSolver *solved = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solved, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solved, &err), PRILLM_OK);
        double flow_before = prillm_equilibrium_solution(solved)->provider_flow[s];
        PrillmPriceRange e, f;
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &whole, 0, solved, &e, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &pruned, 0, solved, &f, &err), PRILLM_OK);
        assert_true(e.status == PRILLM_STATUS_SOLVED && f.status == PRILLM_STATUS_SOLVED);
        if (!(fabs(e.value - a.value) <= 1e-9 * scale && fabs(f.value - a.value) <= 1e-9 * scale))
            fail_msg("trial %d: from a solve %.17g (whole) and %.17g (pruned), cold %.17g", trial, e.value, f.value,
                     a.value);
        assert_true(prillm_equilibrium_solution(solved)->provider_flow[s] == flow_before);
        prillm_equilibrium_cleanup(solved);
        /* margins or a floor: the whole walk, whatever the setting */
        double *margins = calloc((size_t)m, sizeof *margins);
        margins[(s + 1) % m] = 0.2 * mk->price[(s + 1) % m];
        PrillmPriceRange c, d;
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, margins, &whole, 0, NULL, &c, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, margins, &pruned, 0, NULL, &d, &err), PRILLM_OK);
        assert_true(c.price == d.price && c.value == d.value && c.pieces == d.pieces);
        assert_int_equal(prillm__price_exact_range(mk, s, 0.1 * hi, hi, NULL, &whole, 0, NULL, &c, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0.1 * hi, hi, NULL, &pruned, 0, NULL, &d, &err), PRILLM_OK);
        assert_true(c.price == d.price && c.value == d.value && c.pieces == d.pieces);
        free(margins);
        prillm_market_free(mk);
    }
    print_message("range pricing pruned vs whole on 60 markets: largest gap %.2e, pieces %ld against %ld\n", worst,
                  pieces_pruned, pieces_whole);
    assert_true(pieces_pruned < pieces_whole);
}

/* A warm solver handed to the exact walk must be at the market's prices,
 * the target's excepted: a rival elsewhere would price another market, so
 * the call fails and names the provider; a target elsewhere (where a da
 * check leaves it) gives the cold start's optimum, whole or pruned. */
static void test_warm_solver_at_other_prices(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(30, 8, 4500, &err);
    assert_non_null(mk);
    int s = 2, rival = 5;
    for (int prune = 0; prune <= 1; prune++) {
        PrillmPriceSettings st;
        prillm_price_default_settings(&st);
        st.prune = prune;
        double hi = 3 * mk->price[s];
        PrillmPriceRange cold, moved;
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &st, 0, NULL, &cold, &err), PRILLM_OK);
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_update_price(solver, s, 0.37 * mk->price[s], &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &st, 0, solver, &moved, &err), PRILLM_OK);
        if (!(fabs(moved.value - cold.value) <= 1e-12 * fabs(cold.value) && fabs(moved.price - cold.price) <= 1e-9 * hi))
            fail_msg("prune %d: from a solver at another target price %.17g at %.17g, cold %.17g at %.17g", prune,
                     moved.value, moved.price, cold.value, cold.price);
        assert_int_equal(prillm_equilibrium_update_price(solver, rival, 1.5 * mk->price[rival], &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        assert_int_equal(prillm__price_exact_range(mk, s, 0, hi, NULL, &st, 0, solver, &moved, &err),
                         PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, mk->provider_id[rival]));
        prillm_equilibrium_cleanup(solver);
    }
    prillm_market_free(mk);
}

/* A pricing call's final scoring is published: prillm__price_score_published
 * polishes its point even on a solver the exact method left in lazy polish
 * (where most points certify unpolished, as the samples' do), on random
 * markets of several sizes; its flow is the lazy solve's to 1e-9 of the
 * demand. */
static void test_published_scoring_is_polished(void **state) {
    (void)state;
    long lazy_points = 0, tries = 0;
    for (int trial = 0; trial < 24; trial++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(5 + 13 * (trial % 6), 3 + 4 * (trial % 5), 7100 + (uint64_t)trial,
                                                &err);
        assert_non_null(mk);
        int s = trial % mk->n_providers;
        double total = 0;
        for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        prillm__equilibrium_set_lazy_polish(solver, 1);
        double lazy_flow = NAN, flow = NAN, kkt = NAN;
        long before = prillm__equilibrium_lazy_certified(solver);
        assert_int_equal(prillm__price_score_from(solver, s, 0.8 * mk->price[s], NULL, &lazy_flow, NULL, &err),
                         PRILLM_OK);
        lazy_points += prillm__equilibrium_lazy_certified(solver) - before;
        tries++;
        /* back to the lazy solve's price from elsewhere, published */
        assert_int_equal(prillm__price_score_from(solver, s, 1.3 * mk->price[s], NULL, &flow, NULL, &err), PRILLM_OK);
        before = prillm__equilibrium_lazy_certified(solver);
        assert_int_equal(prillm__price_score_published(solver, s, 0.8 * mk->price[s], NULL, &flow, &kkt, &err),
                         PRILLM_OK);
        if (prillm__equilibrium_lazy_certified(solver) != before)
            fail_msg("trial %d: the published scoring certified an unpolished point", trial);
        assert_true(kkt <= 1e-9);
        if (!(fabs(flow - lazy_flow) <= 1e-9 * total))
            fail_msg("trial %d: published flow %.17g, lazy %.17g", trial, flow, lazy_flow);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
    if (!(2 * lazy_points > tries)) fail_msg("only %ld of %ld lazy solves certified unpolished", lazy_points, tries);
}

/* The default walks the whole curve up to 50 app x model pairs and prunes
 * above (measured faster from about 36 pairs: bench_exact_scale
 * --threshold-only); a pruned curve's flow is NaN in its gaps and outside
 * it, never a neighbouring piece extended. */
static void test_prune_threshold_and_gaps(void **state) {
    (void)state;
    static const int sizes[][2] = {{5, 10}, {10, 5}, {3, 17}, {17, 3}, {20, 20}};
    int gaps = 0;
    for (int c = 0; c < 5; c++) {
        int n = sizes[c][0], m = sizes[c][1], pruned = n * m > 50;
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(n, m, 4400 + (uint64_t)c, &err);
        assert_non_null(mk);
        for (int s = 0; s < m; s++) {
            PrillmPriceResult r;
            assert_int_equal(prillm_price(mk, s, NULL, &r, &err), PRILLM_OK);
            check_result_sane(&r, mk);
            if (pruned) {
                assert_true(r.bound_solves > 0);
            } else {
                assert_true(r.bound_solves == 0 && r.walked_fraction == 1.0);
                assert_true(r.segments[0].from == 0 && r.segments[r.n_segments - 1].to == r.p_max);
            }
            double total = 0;
            for (int i = 0; i < n; i++) total += mk->demand[i];
            assert_true(fabs(prillm_price_curve_flow(&r, r.price) - r.flow) <= 1e-8 * total);
            assert_true(isnan(prillm_price_curve_flow(&r, -1e-9)));
            assert_true(isnan(prillm_price_curve_flow(&r, 2 * r.p_max)));
            assert_true(isnan(prillm_price_curve_flow(&r, NAN)));
            for (int k = 0; k < r.n_segments; k++) {
                double a = k ? r.segments[k - 1].to : 0, b = r.segments[k].from;
                if (!(b > a)) continue;
                assert_true(pruned);
                assert_true(isnan(prillm_price_curve_flow(&r, 0.5 * (a + b))));
                gaps++;
            }
            prillm_price_result_clear(&r);
        }
        prillm_market_free(mk);
    }
    assert_true(gaps > 0); /* the pruned curves do have gaps */
}

/* Pruning the range (prune = 1) finds the full walk's optimum, on many
 * random markets with costs, ties, skewed demands and tastes: the skipped
 * intervals are bounded from their ends' flows and the rate at which the
 * flow can fall, and that bound must never hide the optimum. The pruned curve is sorted, covers the optimum and is certified
 * like the full one. With join_current the pruned curve also covers every
 * price between the optimum and today's, with the same optimum. */
static void test_pruned_equals_full_walk(void **state) {
    (void)state;
    PrillmPriceSettings full, pruned;
    prillm_price_default_settings(&full);
    full.prune = 0;
    pruned = full;
    pruned.prune = 1;
    PrillmPriceSettings joined = pruned;
    joined.join_current = 1;
    double worst = 0, walked = 0;
    int count = 0, joins = 0;
    for (int trial = 0; trial < 120; trial++) {
        TestRng rng = {0x9a11e0u + (uint64_t)trial};
        int n = test_int(&rng, 1, 40), m = test_int(&rng, 2, 12);
        PrillmMarket *mk = walk_market(n, m, trial, 7000, 7100);
        if (trial % 4 == 3) mk->cost[0] = 0.5 * mk->price[0];
        int s = trial % 4 == 3 ? 0 : test_int(&rng, 0, m - 1);
        PrillmPriceResult a, b;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &full, &a, &err), PRILLM_OK);
        assert_int_equal(prillm_price(mk, s, &pruned, &b, &err), PRILLM_OK);
        assert_true(a.status == PRILLM_STATUS_SOLVED && b.status == PRILLM_STATUS_SOLVED);
        double scale = test_profit_scale(mk, &a);
        double gap = fabs(a.profit - b.profit) / scale;
        if (gap > worst) worst = gap;
        if (!(gap <= 1e-9))
            fail_msg("trial %d (%d x %d, target %d): pruned profit %.17g at %.17g, full walk %.17g at %.17g", trial, n,
                     m, s, b.profit, b.price, a.profit, a.price);
        assert_true(a.walked_fraction == 1.0);
        /* both curves give the scored flow at their optimum */
        double total = 0;
        for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
        assert_true(fabs(prillm_price_curve_flow(&a, a.price) - a.flow) <= 1e-8 * total);
        assert_true(fabs(prillm_price_curve_flow(&b, b.price) - b.flow) <= 1e-8 * total);
        if (!(b.walked_fraction > 0 && b.walked_fraction <= 1.0)) fail_msg("trial %d: walked_fraction %.17g", trial, b.walked_fraction);
        assert_true(b.bound_solves > 0);
        assert_true(b.curve_residual <= 1e-8);
        for (int k = 1; k < b.n_segments; k++) assert_true(b.segments[k].from >= b.segments[k - 1].to);
        walked += b.walked_fraction;
        PrillmPriceResult c;
        assert_int_equal(prillm_price(mk, s, &joined, &c, &err), PRILLM_OK);
        /* the same optimum; its price to round-off, as a walk that stops
         * early may take an optimum at a breakpoint from the piece before
         * it, and the whole run from the piece after */
        if (!(c.status == PRILLM_STATUS_SOLVED && fabs(c.price - b.price) <= 1e-12 * c.p_max &&
              fabs(c.profit - b.profit) <= 1e-12 * scale))
            fail_msg("trial %d: joined %s at %.17g profit %.17g, pruned %.17g profit %.17g", trial,
                     prillm_status_name(c.status), c.price, c.profit, b.price, b.profit);
        assert_true(c.walked_fraction >= b.walked_fraction);
        /* [min, max] of the optimum and today's price: inside one run of
         * touching segments */
        double today = fmin(c.current_price, c.p_max); /* the start price: the range ends at p_max */
        double lo = fmin(c.price, today), hi = fmax(c.price, today), reach = -1;
        for (int k = 0; k < c.n_segments; k++) {
            const PrillmPriceSegment *g = &c.segments[k];
            if (g->to < lo) continue;
            if (reach < 0) {
                if (g->from > lo) break;
                reach = g->to;
            } else if (g->from <= reach) {
                reach = fmax(reach, g->to);
            } else {
                break;
            }
        }
        if (!(reach >= hi)) fail_msg("trial %d: the joined curve stops at %.17g before %.17g", trial, reach, hi);
        joins += c.walked_fraction > b.walked_fraction;
        prillm_price_result_clear(&c);
        prillm_price_result_clear(&a);
        prillm_price_result_clear(&b);
        assert_true(isnan(prillm_price_curve_flow(&a, 1.0))); /* no curve left */
        assert_true(isnan(prillm_price_curve_flow(NULL, 1.0)));
        prillm_market_free(mk);
        count++;
    }
    print_message("pruned vs full walk on %d markets: largest profit gap %.2e relative, %.1f%% of the range walked "
                  "on average; joining today's price walked more on %d\n",
                  count, worst, 100.0 * walked / count, joins);
    assert_true(joins >= 10);
}

/* The pruned method's own choices, seen through its candidate: the solves
 * placed at a predicted optimum and to prune, and walks stopped where the
 * rest of their run is beaten, all happen on markets with a few hundred
 * breakpoints, the placed solves mostly prune what they aim at, and the
 * optimum stays the full walk's. A stop rule that
 * forgot the run's later intervals, or a bound on a narrower interval than
 * the walk's, would stop before optima those intervals hold. */
/* The exact method's problem on the range prillm_price chose for a
 * (its cost and p_max), starting at today's price, without a solver. */
static PrillmPriceProblem method_problem(const PrillmMarket *mk, int s, const PrillmPriceSettings *settings,
                                         const PrillmPriceResult *a) {
    PrillmPriceProblem pb;
    memset(&pb, 0, sizeof pb);
    pb.market = mk;
    pb.target = s;
    pb.settings = settings;
    pb.cost = a->cost;
    pb.p_max = a->p_max;
    pb.start_price = fmin(mk->price[s], a->p_max);
    return pb;
}

/* The rate the pruning's bounds rely on: the target's flow falls at most
 * at w_p / (a_s + 1 / sum_{j != s} 1 / a_j) per unit of its price (a_j =
 * w_congestion / capacity_j), computed here from the market's fields. On
 * random markets with ties, skewed demands and tastes every walked
 * segment's slope is within it, and so is the fall between independent
 * equilibrium solves at random pairs of prices. */
static void test_flow_falls_at_most_at_rate(void **state) {
    (void)state;
    PrillmPriceSettings full;
    prillm_price_default_settings(&full);
    full.prune = 0;
    double steepest = 0; /* the largest slope seen, as a share of the rate */
    int count = 0, pairs = 0;
    for (int trial = 0; trial < 60; trial++) {
        TestRng rng = {0x4a7e00u + (uint64_t)trial};
        int n = test_int(&rng, 1, 60), m = test_int(&rng, 2, 16);
        PrillmMarket *mk = walk_market(n, m, trial, 0x4a7f00u, 0x4a8000u);
        int s = test_int(&rng, 0, m - 1);
        double rivals = 0, total = 0;
        for (int j = 0; j < m; j++)
            if (j != s) rivals += mk->capacity[j] / mk->w_congestion;
        for (int i = 0; i < n; i++) total += mk->demand[i];
        double rate = mk->w_price / (mk->w_congestion / mk->capacity[s] + 1.0 / rivals);
        /* the pruning's own rate is this one (and no less) */
        double used = prillm__price_flow_fall_rate(mk, s);
        if (!(used >= rate && used <= rate * (1 + 1e-9)))
            fail_msg("trial %d: the pruning's rate %.17g, the market's %.17g", trial, used, rate);
        PrillmPriceResult a;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &full, &a, &err), PRILLM_OK);
        assert_int_equal(a.status, PRILLM_STATUS_SOLVED);
        for (int k = 0; k < a.n_segments; k++) {
            double fall = -a.segments[k].flow_slope;
            if (!(fall <= rate * (1 + 1e-9) + 1e-9 * total / a.p_max))
                fail_msg("trial %d (%d x %d, target %d): segment %d falls at %.17g, above the rate %.17g", trial, n, m,
                         s, k, fall, rate);
            steepest = fmax(steepest, fall / rate);
        }
        for (int q = 0; q < 4; q++) {
            double p = a.p_max * test_uniform(&rng), p2 = p + (a.p_max - p) * test_uniform(&rng), F, F2;
            test_true_profit(mk, s, p, &F);
            test_true_profit(mk, s, p2, &F2);
            if (!(F - F2 <= rate * (p2 - p) + 2e-9 * total))
                fail_msg("trial %d: flow %.17g at %.17g and %.17g at %.17g: falls faster than the rate %.17g", trial,
                         F, p, F2, p2, rate);
            pairs++;
        }
        prillm_price_result_clear(&a);
        prillm_market_free(mk);
        count++;
    }
    print_message("flow's fall within the rate on %d markets and %d pairs of solves; steepest segment %.4f of the "
                  "rate\n",
                  count, pairs, steepest);
}

/* The pruning's interval bound, on random intervals: never below the
 * largest (p - k) F(p) of any flow F that falls from F(lo) to F(hi) no
 * faster than the rate (the envelope min(F(lo), F(hi) + rate (hi - p)) is
 * one, and the largest: its value is computed here in long double at its
 * candidate prices), and within a relative 1e-9 of it, below the bound of
 * monotonicity alone. Scales from tiny to huge rates times prices (where
 * a rounded price once left the bound 4e-5 below the envelope), costs
 * below, inside and above the interval, negative ones, no rate. A NaN flow
 * bounds nothing. */
static long double envelope_at(long double p, double hi, double F_lo, double F_hi, double k, double rate) {
    long double line = (long double)F_hi + (long double)rate * ((long double)hi - p);
    return (p - (long double)k) * (line < F_lo ? line : (long double)F_lo);
}

static void test_interval_bound(void **state) {
    (void)state;
    TestRng rng = {0xb0b0u};
    long below = 0, cases = 0;
    double loosest = 0;
    for (int trial = 0; trial < 200000; trial++) {
        double scale = pow(10.0, -3 + 9 * test_uniform(&rng)); /* price scale */
        double lo = scale * test_uniform(&rng), hi = lo + scale * pow(10.0, -6 + 6 * test_uniform(&rng));
        if (!(hi > lo)) continue;
        double total = pow(10.0, -2 + 8 * test_uniform(&rng));
        /* rate x price over the demand from 1e-3 to 1e12 */
        double rate = total / scale * pow(10.0, -3 + 15 * test_uniform(&rng));
        if (trial % 50 == 0) rate = 0;
        if (trial % 50 == 1) rate = INFINITY;
        double F_hi = total * test_uniform(&rng) * (trial % 7 == 0 ? 0 : 1);
        double room = isfinite(rate) ? rate * (hi - lo) : total;
        double F_lo = F_hi + fmin(room, total) * test_uniform(&rng);
        double k;
        switch (trial % 5) {
        case 0: k = lo + (hi - lo) * test_uniform(&rng); break; /* inside */
        case 1: k = hi - (hi - lo) * 1e-15 * test_uniform(&rng); break; /* at hi */
        case 2: k = -scale * test_uniform(&rng); break; /* negative */
        case 3: k = hi * (1 + test_uniform(&rng)); break; /* above: a loss */
        default: k = lo * test_uniform(&rng); break;
        }
        double slack = trial % 3 == 0 ? 0 : 1e-8 * total;
        double bound = prillm__price_interval_bound(lo, hi, F_lo, F_hi, k, slack, rate);
        /* the envelope's largest value: at lo, hi, the kink and the top */
        long double best = -INFINITY, top = F_lo + slack, end = F_hi + slack;
        double r = isfinite(rate) ? rate : 1e300;
        long double ps[4] = {lo, hi, (long double)hi - (top - end) / (r > 0 ? r : 1e-300),
                             ((long double)k + hi + end / (r > 0 ? r : 1e-300)) / 2};
        for (int c = 0; c < 4; c++) {
            long double p = ps[c];
            if (!(p >= lo && p <= hi)) continue;
            long double v = envelope_at(p, hi, (double)top, (double)end, k, r);
            if (v > best) best = v;
        }
        cases++;
        long double tol = 1e-12L * (fabsl(best) + (long double)scale * total * 1e-12L);
        if ((long double)bound < best - tol) {
            if (below++ < 5)
                print_message("below: lo %.17g hi %.17g F %.17g %.17g k %.17g rate %.17g: %.17g < %.17Lg\n", lo, hi,
                              F_lo, F_hi, k, rate, bound, best);
        }
        if (hi >= k && best > 0) {
            double monotone = (hi - k) * (F_lo + slack);
            assert_true(bound <= monotone);
            /* above the envelope by at most a relative 1e-9 and the bound's
             * own outward rounding (a few units in the last place of the
             * prices, times the flow and the line's slope) */
            double ulps = 64 * DBL_EPSILON * fmax(fabs(hi), fabs(k));
            double rounding = ulps * ((double)top + (isfinite(rate) ? rate * (hi - fmin(k, hi)) : 0));
            loosest = fmax(loosest, (double)(((long double)bound - best - rounding) / best));
        }
    }
    print_message("interval bound on %ld random intervals: %ld below the envelope; loosest %.2e above it (beyond its rounding)\n", cases,
                  below, loosest);
    assert_int_equal(below, 0);
    assert_true(loosest <= 1e-9);
    assert_true(prillm__price_interval_bound(0, 1, NAN, 1, 0, 0, 1) == INFINITY);
    assert_true(prillm__price_interval_bound(0, 1, 2, NAN, 0, 0, 1) == INFINITY);
}

static void test_pruned_solves_and_stops(void **state) {
    (void)state;
    PrillmPriceSettings full, pruned;
    prillm_price_default_settings(&full);
    full.prune = 0;
    pruned = full;
    pruned.prune = 1;
    long located = 0, placed = 0, missed = 0, stopped = 0, pieces_pruned = 0, pieces_full = 0;
    double worst = 0;
    int count = 0;
    for (int trial = 0; trial < 40; trial++) {
        TestRng rng = {0x57a9edu + (uint64_t)trial};
        int n = test_int(&rng, 60, 240), m = test_int(&rng, 4, 24);
        PrillmMarket *mk = walk_market(n, m, trial, 0x57aa00u, 0x57ab00u);
        int s = test_int(&rng, 0, m - 1);
        if (trial % 4 == 3) mk->cost[s] = 0.5 * mk->price[s];
        PrillmPriceResult a;
        PrillmError err;
        PrillmPriceSettings whole = full;
        if (trial % 8 == 5) {
            /* a cost above every price of the range: every price loses, the
             * least loss is the answer, and no interval is bounded by its
             * left end's flow */
            assert_int_equal(prillm_price(mk, s, &full, &a, &err), PRILLM_OK);
            whole.p_max = a.p_max;
            mk->cost[s] = 1.25 * a.p_max;
            prillm_price_result_clear(&a);
        }
        assert_int_equal(prillm_price(mk, s, &whole, &a, &err), PRILLM_OK);
        assert_int_equal(a.status, PRILLM_STATUS_SOLVED);
        if (trial % 8 == 5 && !(a.cost > a.p_max && a.model_profit <= 1e-9 * test_profit_scale(mk, &a)))
            fail_msg("trial %d: cost %g, p_max %g, profit %g", trial, a.cost, a.p_max, a.model_profit);
        /* the method alone, on the range prillm_price chose */
        PrillmPriceProblem pb = method_problem(mk, s, &pruned, &a);
        PrillmPriceCandidate c;
        memset(&c, 0, sizeof c);
        assert_int_equal(prillm__price_exact(&pb, &c, &err), PRILLM_OK);
        assert_int_equal(c.status, PRILLM_STATUS_SOLVED);
        double scale = test_profit_scale(mk, &a);
        double gap = fabs(c.model_profit - a.model_profit) / scale;
        if (!(gap <= 1e-9))
            fail_msg("trial %d (%d x %d, target %d): pruned %.17g at %.17g, full walk %.17g at %.17g", trial, n, m, s,
                     c.model_profit, c.price, a.model_profit, a.price);
        worst = fmax(worst, gap);
        assert_true(c.located_solves + c.placed_solves <= c.bound_solves);
        assert_true(c.placed_missed >= 0 && c.placed_missed <= c.placed_solves);
        located += c.located_solves, placed += c.placed_solves, stopped += c.walks_stopped;
        missed += c.placed_missed;
        pieces_pruned += c.iterations, pieces_full += a.iterations;
        free(c.segments);
        free(c.breakpoints);
        prillm_price_result_clear(&a);
        prillm_market_free(mk);
        count++;
    }
    print_message("pruned method on %d markets: %ld solves at a predicted optimum, %ld placed to prune (%ld missing "
                  "their aim), %ld walks stopped early; %ld pieces against %ld whole; largest profit gap %.2e "
                  "relative\n",
                  count, located, placed, missed, stopped, pieces_pruned, pieces_full, worst);
    assert_true(located >= 10 && placed >= 10 && stopped >= 10);
    /* a solve placed to prune mostly prunes: aimed at the level itself the
     * chord's solves land on it where F is straight and creep (with the
     * rate's scan too, 8 of 72 missed; aimed below it, 3 of 67) */
    assert_true(10 * missed <= placed);
}

/* Pruning trusts a sample's flow only from a certified solve: with a
 * solver whose tolerance almost no solve reaches, the intervals next to
 * uncertified samples are not bounded, far more of the range is walked
 * than from certified solves, and the optimum is the full walk's. */
static void test_pruning_ignores_uncertified_solves(void **state) {
    (void)state;
    PrillmPriceSettings full, pruned;
    prillm_price_default_settings(&full);
    full.prune = 0;
    pruned = full;
    pruned.prune = 1;
    int count = 0, uncertified = 0;
    double walked_tight = 0, walked_default = 0;
    for (int trial = 0; trial < 12; trial++) {
        TestRng rng = {0x0ce47u + (uint64_t)trial};
        int n = test_int(&rng, 60, 160), m = test_int(&rng, 4, 16);
        PrillmMarket *mk = walk_market(n, m, trial, 0x0ce500u, 0x0ce600u);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult a;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &full, &a, &err), PRILLM_OK);
        PrillmEquilibriumSettings tight;
        prillm_equilibrium_default_settings(&tight);
        tight.tolerance = 1e-15;
        tight.max_rounds = 2;
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, mk, &tight, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        uncertified += prillm_equilibrium_solution(solver)->info.status != PRILLM_STATUS_SOLVED;
        PrillmPriceProblem pb = method_problem(mk, s, &pruned, &a);
        pb.solver = solver;
        PrillmPriceCandidate c;
        memset(&c, 0, sizeof c);
        assert_int_equal(prillm__price_exact(&pb, &c, &err), PRILLM_OK);
        PrillmPriceResult b;
        assert_int_equal(prillm_price(mk, s, &pruned, &b, &err), PRILLM_OK);
        walked_tight += c.walked_fraction, walked_default += b.walked_fraction;
        prillm_price_result_clear(&b);
        double gap = fabs(c.model_profit - a.model_profit) / test_profit_scale(mk, &a);
        if (!(gap <= 1e-9))
            fail_msg("trial %d: profit %.17g against the full walk's %.17g", trial, c.model_profit, a.model_profit);
        free(c.segments), free(c.breakpoints);
        prillm_equilibrium_cleanup(solver);
        prillm_price_result_clear(&a);
        prillm_market_free(mk);
        count++;
    }
    print_message("pruning from uncertified solves on %d markets (%d started uncertified): %.1f%% of the range "
                  "walked on average (%.1f%% from certified ones), the same optimum\n",
                  count, uncertified, 100 * walked_tight / fmax(count, 1), 100 * walked_default / fmax(count, 1));
    assert_true(uncertified >= 6);
    assert_true(walked_tight >= 0.5 * count && walked_tight > 3 * walked_default);
}

/* A segment's active set rebuilt by replaying the curve's breakpoints from
 * another segment's (prillm__price_replay: how the certificate's solves
 * start when a large market's walk kept no sets) is the equilibrium's set
 * there: on random markets, from the exact solver's set in the middle of
 * one segment to the middle of another, up and down the curve. */
static void test_replayed_sets_match_solves(void **state) {
    (void)state;
    PrillmPriceSettings st;
    prillm_price_default_settings(&st);
    st.prune = 0;
    long compared = 0, replayed = 0;
    for (int trial = 0; trial < 40; trial++) {
        TestRng rng = {0x5e7a11u + (uint64_t)trial};
        int n = test_int(&rng, 2, 60), m = test_int(&rng, 2, 14);
        PrillmMarket *mk = walk_market(n, m, trial, 0x5e7a00u, 0x5e7b00u);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult r;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &st, &r, &err), PRILLM_OK);
        assert_int_equal(r.status, PRILLM_STATUS_SOLVED);
        size_t nm = (size_t)n * (size_t)m;
        unsigned char *from_set = malloc(nm), *in = malloc((size_t)r.n_breakpoints + 1);
        long *pairs = malloc(((size_t)r.n_breakpoints + 1) * sizeof *pairs);
        assert_true(from_set && in && pairs);
        PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
        double from = NAN;
        for (int step = 0; step < 8; step++) {
            const PrillmPriceSegment *seg = &r.segments[test_int(&rng, 0, r.n_segments - 1)];
            if (!(seg->to - seg->from > 1e-6 * r.p_max)) continue; /* a middle clear of both ends */
            double p = 0.5 * (seg->from + seg->to);
            assert_int_equal(prillm_equilibrium_update_price(solver, s, p, &err), PRILLM_OK);
            assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
            const unsigned char *set = prillm__equilibrium_last_set(solver);
            assert_non_null(set);
            if (!isnan(from)) {
                long count = prillm__price_replay(&r, m, from, p, pairs, in);
                for (long k = 0; k < count; k++) from_set[pairs[k]] = in[k];
                if (memcmp(from_set, set, nm) != 0)
                    fail_msg("trial %d (%d x %d, target %d): the set replayed from %.17g to %.17g (%ld changes) is not "
                             "the solve's",
                             trial, n, m, s, from, p, count);
                compared++;
                replayed += count;
            }
            memcpy(from_set, set, nm);
            from = p;
        }
        prillm_equilibrium_cleanup(solver);
        prillm_price_result_clear(&r);
        free(from_set);
        free(in);
        free(pairs);
        prillm_market_free(mk);
    }
    print_message("replayed sets: %ld compared with the solve's, %ld breakpoints replayed\n", compared, replayed);
    assert_true(compared >= 100 && replayed >= compared);
}

/* Bounded rows (row_bounds = 1, or 2 to 6 models listed per app so that
 * the bound decides most rows: each app's unused models are bounded, not
 * read, at every piece) walk the same curve as reading every pair
 * (row_bounds = 0): the same prices, profits, pieces, segments and
 * breakpoints to the last bit, on many random markets from 3 to 90 models,
 * with tastes, costs, skewed demands, duplicated models and apps (ties at
 * breakpoints), both whole-range and pruned walks, and spiter. The bound
 * only decides which rows are read, so any difference is a bound that was
 * not one. */
static void test_row_bounds_change_nothing(void **state) {
    (void)state;
    int count = 0;
    long pieces = 0;
    for (int trial = 0; trial < 90; trial++) {
        TestRng rng = {0xb0d5e0u + (uint64_t)trial};
        int n = test_int(&rng, 1, trial % 3 == 0 ? 400 : 40), m = test_int(&rng, 3, trial % 2 ? 120 : 30);
        PrillmMarket *mk = walk_market(n, m, trial, 0xb0d5000u, 0xb0d5100u);
        if (trial % 4 == 3) mk->cost[0] = 0.5 * mk->price[0];
        int s = trial % 4 == 3 ? 0 : test_int(&rng, 0, m - 1);
        PrillmPriceSettings read_all;
        prillm_price_default_settings(&read_all);
        read_all.method = trial % 7 == 6 ? PRILLM_PRICE_SPITER : PRILLM_PRICE_EXACT;
        read_all.prune = trial % 3 == 2;
        read_all.row_bounds = 0;
        PrillmPriceSettings bounded = read_all;
        bounded.row_bounds = trial % 3 == 1 ? 1 : test_int(&rng, 2, 6); /* short lists lean on the bound */
        PrillmPriceResult a, b;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &read_all, &a, &err), PRILLM_OK);
        assert_int_equal(prillm_price(mk, s, &bounded, &b, &err), PRILLM_OK);
        if (!(a.price == b.price && a.profit == b.profit && a.status == b.status && a.iterations == b.iterations))
            fail_msg("trial %d (%d x %d, target %d, %s): bounded rows %.17g at %.17g (%ld pieces), every row %.17g at "
                     "%.17g (%ld pieces)",
                     trial, n, m, s, prillm_price_method_name(read_all.method), b.profit, b.price, b.iterations,
                     a.profit, a.price, a.iterations);
        assert_int_equal(a.n_segments, b.n_segments);
        assert_int_equal(a.n_breakpoints, b.n_breakpoints);
        if (a.n_segments > 0)
            assert_memory_equal(a.segments, b.segments, (size_t)a.n_segments * sizeof *a.segments);
        for (int k = 0; k < a.n_breakpoints; k++) { /* field by field: the struct has padding */
            const PrillmPriceBreakpoint *x = &a.breakpoints[k], *y = &b.breakpoints[k];
            if (!(x->price == y->price && x->user == y->user && x->provider == y->provider && x->enters == y->enters))
                fail_msg("trial %d: breakpoint %d differs: (%.17g, %d, %d, %d) against (%.17g, %d, %d, %d)", trial, k,
                         y->price, y->user, y->provider, y->enters, x->price, x->user, x->provider, x->enters);
        }
        pieces += a.iterations;
        prillm_price_result_clear(&a);
        prillm_price_result_clear(&b);
        prillm_market_free(mk);
        count++;
    }
    print_message("bounded rows vs every row on %d markets (%ld pieces): identical\n", count, pieces);
}

/* The same on every target of two random markets whose walks are long
 * enough for the loads to fall far between two reads of a row's list (the
 * drift then matters: leaving it out of the listed slacks' bound gives one
 * of these targets another status), pruned as by default. */
static void test_row_bounds_over_long_walks(void **state) {
    (void)state;
    static const int sizes[][3] = {{300, 70, 3}, {200, 150, 6}};
    long pieces = 0;
    int targets = 0;
    for (int k = 0; k < 2; k++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(sizes[k][0], sizes[k][1], (unsigned long long)sizes[k][2], &err);
        assert_non_null(mk);
        PrillmPriceSettings read_all, bounded;
        prillm_price_default_settings(&read_all);
        read_all.row_bounds = 0;
        prillm_price_default_settings(&bounded);
        bounded.row_bounds = 1;
        for (int s = 0; s < mk->n_providers; s++) {
            PrillmPriceResult a, b;
            assert_int_equal(prillm_price(mk, s, &read_all, &a, &err), PRILLM_OK);
            assert_int_equal(prillm_price(mk, s, &bounded, &b, &err), PRILLM_OK);
            if (!(a.price == b.price && a.profit == b.profit && a.status == b.status && a.iterations == b.iterations))
                fail_msg("%d x %d seed %d, target %d: bounded rows %.17g at %.17g (%s, %ld pieces), every row %.17g "
                         "at %.17g (%s, %ld pieces)",
                         sizes[k][0], sizes[k][1], sizes[k][2], s, b.profit, b.price, prillm_status_name(b.status),
                         b.iterations, a.profit, a.price, prillm_status_name(a.status), a.iterations);
            pieces += a.iterations;
            targets++;
            prillm_price_result_clear(&a);
            prillm_price_result_clear(&b);
        }
        prillm_market_free(mk);
    }
    print_message("bounded rows vs every row on %d targets of two random markets (%ld pieces): identical\n", targets,
                  pieces);
}

/* prillm_price_all: every target as prillm_price prices it alone, the same
 * with one thread and with several, a failing target reported in its own
 * error slot without stopping the others, and bad arguments refused. */
static void test_price_all(void **state) {
    (void)state;
    for (int trial = 0; trial < 6; trial++) {
        PrillmMarket *mk = test_market(8 + trial, 5 + trial % 3, 9100 + (uint64_t)trial, NULL);
        if (trial % 2) test_market_affinity(mk, 9200 + (uint64_t)trial, 0.2);
        int m = mk->n_providers;
        PrillmPriceResult one[8], many[8];
        PrillmError e1[8], e2[8], err;
        assert_true(m <= 8);
        assert_int_equal(prillm_price_all(mk, NULL, NULL, m, 1, one, e1, &err), PRILLM_OK);
        assert_int_equal(prillm_price_all(mk, NULL, NULL, m, 3, many, e2, &err), PRILLM_OK);
        for (int j = 0; j < m; j++) {
            PrillmPriceResult alone;
            assert_int_equal(e1[j].code, PRILLM_OK);
            assert_int_equal(e2[j].code, PRILLM_OK);
            assert_int_equal(prillm_price(mk, j, NULL, &alone, &err), PRILLM_OK);
            /* bit for bit: the same computation, whatever the thread */
            assert_true(one[j].price == alone.price && one[j].profit == alone.profit);
            assert_true(many[j].price == alone.price && many[j].profit == alone.profit);
            assert_int_equal(one[j].n_segments, alone.n_segments);
            prillm_price_result_clear(&alone);
            prillm_price_result_clear(&one[j]);
            prillm_price_result_clear(&many[j]);
        }
        /* a subset, in the order given; a method that refuses one target
         * (bf on too many patterns) fails per target, not the call */
        int subset[2] = {m - 1, 0};
        PrillmPriceSettings bf;
        prillm_price_default_settings(&bf);
        bf.method = PRILLM_PRICE_BF;
        bf.bf_max_patterns = 1;
        assert_int_equal(prillm_price_all(mk, &bf, subset, 2, 2, one, e1, &err), PRILLM_OK);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(e1[k].code, PRILLM_ERR_TOO_LARGE);
            assert_true(isnan(one[k].price));
            assert_non_null(strstr(e1[k].message, "bf"));
        }
        int bad[1] = {m};
        assert_int_equal(prillm_price_all(mk, NULL, bad, 1, 1, one, e1, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "targets[0]"));
        assert_int_equal(prillm_price_all(mk, NULL, NULL, m, -1, one, e1, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_int_equal(prillm_price_all(NULL, NULL, NULL, m, 1, one, e1, &err), PRILLM_ERR_INVALID_ARGUMENT);
        prillm_market_free(mk);
    }
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
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        check_result_sane(&exact, mk);
        test_price_with(mk, s, PRILLM_PRICE_BF, 0, &bf);
        assert_true(bf.status == PRILLM_STATUS_SOLVED);
        double scale = test_profit_scale(mk, &exact);
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
        test_price_whole(mk, s, 0, &r);
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

/* A hand-built market: target "T" and rivals; users with demands and
 * per-provider delays (w_p = w_q = w_d = 1, values 0). */
static PrillmMarket *small_market(int n, int m, const double *demand, const double *delay, const double *price,
                                  const double *capacity) {
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(n, m, &err);
    assert_non_null(mk);
    for (int j = 0; j < m; j++) {
        char id[16];
        snprintf(id, sizeof id, j == 0 ? "T" : "R%d", j);
        mk->provider_id[j] = strdup(id);
        mk->price[j] = price[j];
        mk->capacity[j] = capacity[j];
        mk->value[j] = 0;
    }
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i);
        mk->user_id[i] = strdup(id);
        mk->demand[i] = demand[i];
        for (int j = 0; j < m; j++) mk->delay[(size_t)i * m + j] = delay[(size_t)i * m + j];
    }
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    return mk;
}

/* Local maxima of the profit along the recorded curve, sampled densely. */
static int count_local_maxima(const PrillmPriceResult *r) {
    const int samples = 20000;
    int count = 0;
    double prev2 = -INFINITY, prev = -INFINITY;
    for (int q = 0; q <= samples; q++) {
        double p = r->p_max * q / samples;
        int g = 0;
        while (g + 1 < r->n_segments && r->segments[g + 1].from <= p) g++;
        double profit = (p - r->cost) * (r->segments[g].flow_from + r->segments[g].flow_slope * (p - r->segments[g].from));
        if (q >= 2 && prev > prev2 && prev > profit) count++;
        prev2 = prev;
        prev = profit;
    }
    return count;
}

/* Two app segments: a loyal app (a rival is 30 s worse for it) and a price-
 * sensitive mass. Low prices serve both (profit ~21 near p = 1), high prices
 * only the loyal app (profit ~31 near p = 31): two local maxima, the global
 * one far from where a local search from a low start stops. */
static void test_several_local_maxima(void **state) {
    (void)state;
    const double demand[] = {1, 20}, delay[] = {0, 30, 0, 0}, price[] = {1, 1}, capacity[] = {1000, 1000};
    PrillmMarket *mk = small_market(2, 2, demand, delay, price, capacity);
    PrillmPriceResult exact, local, coarse;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &exact);
    check_result_sane(&exact, mk);
    assert_true(count_local_maxima(&exact) >= 2);
    assert_true(exact.price > 25 && exact.profit > 29);
    double ref_price, ref = test_refined_grid_optimum(mk, 0, exact.p_max, 201, &ref_price);
    assert_true(fabs(exact.profit - ref) <= 1e-9 * exact.profit);

    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    set.method = PRILLM_PRICE_SPITER;
    set.start_price = 0.5;
    PrillmError err;
    assert_int_equal(prillm_price(mk, 0, &set, &local, &err), PRILLM_OK);
    assert_true(local.price < 2 && local.profit < 0.8 * exact.profit); /* stuck at the low peak */
    set.method = PRILLM_PRICE_GRID;
    set.grid_points = 3;
    assert_int_equal(prillm_price(mk, 0, &set, &coarse, &err), PRILLM_OK);
    assert_true(coarse.profit <= exact.profit);
    prillm_price_result_clear(&exact);
    prillm_price_result_clear(&local);
    prillm_price_result_clear(&coarse);
    prillm_market_free(mk);
}

/* Non-concave curves are common in random markets too: exact must find the
 * best of the local maxima every time. */
static void test_random_multimodal(void **state) {
    (void)state;
    int multimodal = 0;
    for (int trial = 0; trial < 150; trial++) {
        TestRng rng = {0x10ca1000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 6), m = test_int(&rng, 2, 6);
        TestMarketShape shape = {-1, 1, trial % 3 == 1, trial % 3 == 2};
        PrillmMarket *mk = test_market(n, m, 50000 + (uint64_t)trial, &shape);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult r;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &r);
        if (count_local_maxima(&r) >= 2) {
            multimodal++;
            double ref_price, ref = test_refined_grid_optimum(mk, s, r.p_max, 201, &ref_price);
            assert_true(r.profit >= ref - 1e-9 * test_profit_scale(mk, &r));
            /* every segment's own optimum is no better than the answer */
            for (int g = 0; g < r.n_segments; g++) assert_true(r.segments[g].best_profit <= r.model_profit);
        }
        prillm_price_result_clear(&r);
        prillm_market_free(mk);
    }
    print_message("%d of 150 random markets have a profit curve with several local maxima\n", multimodal);
    assert_true(multimodal >= 5); /* the property is exercised, not vacuous */
}

/* The optimum at the top of the range: a monopoly (profit p * D grows
 * forever, so pmax is required) and a range cut below the peak. */
static void test_optimum_at_pmax(void **state) {
    (void)state;
    const double demand[] = {3, 2}, delay[] = {0.5, 1.5}, price[] = {1}, capacity[] = {10};
    PrillmMarket *mono = small_market(2, 1, demand, delay, price, capacity);
    PrillmPriceResult r;
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    PrillmError err;
    assert_int_equal(prillm_price(mono, 0, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "no rival"));
    assert_true(isnan(r.price) && isnan(r.profit));
    set.p_max = 7.5;
    assert_int_equal(prillm_price(mono, 0, &set, &r, &err), PRILLM_OK);
    assert_true(r.status == PRILLM_STATUS_SOLVED);
    assert_true(r.price == 7.5);
    assert_true(fabs(r.profit - 7.5 * 5) <= 1e-12 * 37.5);
    assert_int_equal(r.n_segments, 1);
    assert_true(fabs(r.segments[0].flow_slope) <= 1e-12 * 5 / 7.5); /* captive: flat up to round-off */
    prillm_price_result_clear(&r);
    prillm_market_free(mono);

    const double d2[] = {10}, delay2[] = {0, 0}, price2[] = {0, 5}, cap2[] = {10, 10};
    PrillmMarket *mk = small_market(1, 2, d2, delay2, price2, cap2);
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0.25, &r);
    assert_true(r.price == 0.25); /* the unconstrained peak is higher */
    PrillmPriceResult wide;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &wide);
    assert_true(wide.price > 0.25 && wide.profit > r.profit);
    prillm_price_result_clear(&r);
    prillm_price_result_clear(&wide);
    prillm_market_free(mk);
}

/* A target that no app uses at any price earns 0 and the curve says so. */
static void test_unused_target(void **state) {
    (void)state;
    const double demand[] = {4, 1, 2}, delay[] = {50, 0, 0, 60, 1, 0, 70, 0, 1}, price[] = {0, 1, 2},
                 capacity[] = {5, 5, 5};
    PrillmMarket *mk = small_market(3, 3, demand, delay, price, capacity);
    mk->value[0] = -100; /* nobody wants it even for free */
    PrillmPriceResult r;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(r.status == PRILLM_STATUS_SOLVED);
    assert_true(r.profit == 0 && r.flow == 0 && r.price == 0);
    assert_int_equal(r.n_breakpoints, 0);
    for (int g = 0; g < r.n_segments; g++) assert_true(r.segments[g].flow_from == 0);
    for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++) {
        if (method == PRILLM_PRICE_PMPEC || method == PRILLM_PRICE_SMOOTH || method == PRILLM_PRICE_ODCA ||
            method == PRILLM_PRICE_SPGCE)
            continue; /* the baselines have their own tests */
        PrillmPriceResult b;
        test_price_with(mk, 0, method, 0, &b);
        assert_true(b.profit == 0);
        prillm_price_result_clear(&b);
    }
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
}

/* Identical users and identical rivals: every event happens to several
 * pairs at once (degenerate breakpoints). */
static void test_degenerate_breakpoints(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        int n = variant < 2 ? 4 : 12, m = variant < 2 ? 3 : 7;
        double demand[12], delay[12 * 7], price[7], capacity[7];
        for (int j = 0; j < m; j++) {
            price[j] = j == 0 ? 1 : 0.8 + 0.0 * j;
            capacity[j] = variant % 2 ? 3 : 40;
        }
        for (int i = 0; i < n; i++) {
            demand[i] = 2;
            for (int j = 0; j < m; j++) delay[i * m + j] = j == 0 ? 0 : 0.25;
        }
        PrillmMarket *mk = small_market(n, m, demand, delay, price, capacity);
        /* the whole walk, through every degenerate breakpoint; the default
         * (pruned above 50 pairs) to the same optimum */
        PrillmPriceResult r, by_default;
        test_price_whole(mk, 0, 0, &r);
        check_result_sane(&r, mk);
        test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &by_default);
        check_result_sane(&by_default, mk);
        assert_true(fabs(by_default.profit - r.profit) <= 1e-9 * test_profit_scale(mk, &r));
        prillm_price_result_clear(&by_default);
        if (variant < 2) {
            PrillmPriceResult bf;
            test_price_with(mk, 0, PRILLM_PRICE_BF, 0, &bf);
            assert_true(fabs(bf.profit - r.profit) <= 1e-7 * test_profit_scale(mk, &r));
            prillm_price_result_clear(&bf);
        }
        double ref_price, ref = test_refined_grid_optimum(mk, 0, r.p_max, 201, &ref_price);
        assert_true(r.profit >= ref - 1e-9 * test_profit_scale(mk, &r));
        /* all n identical users leave the target at the same price */
        int leaving = 0;
        for (int b = 0; b < r.n_breakpoints; b++)
            leaving += r.breakpoints[b].provider == 0 && !r.breakpoints[b].enters;
        assert_int_equal(leaving, n);
        for (int b = 1; b < r.n_breakpoints; b++) assert_true(r.breakpoints[b].price >= r.breakpoints[b - 1].price);
        prillm_price_result_clear(&r);
        prillm_market_free(mk);
    }
}

/* Relabelling users and rivals, shifting every value by a constant, and
 * scaling demand and capacity together leave the price unchanged (profit
 * scales with demand in the last case). */
static void test_invariances(void **state) {
    (void)state;
    for (int trial = 0; trial < 30; trial++) {
        TestRng rng = {0x1a7a0000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 10), m = test_int(&rng, 2, 6);
        PrillmMarket *mk = test_market(n, m, 900 + (uint64_t)trial, NULL);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult base;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &base);
        double scale = test_profit_scale(mk, &base);

        int *users = malloc((size_t)n * sizeof(int)), *provs = malloc((size_t)m * sizeof(int));
        for (int i = 0; i < n; i++) users[i] = n - 1 - i;
        for (int j = 0; j < m; j++) provs[j] = (j + 1) % m;
        PrillmError err;
        PrillmMarket *perm = prillm_market_subset(mk, users, n, provs, m, &err);
        assert_non_null(perm);
        PrillmPriceResult r;
        test_price_with(perm, (s + m - 1) % m, PRILLM_PRICE_EXACT, base.p_max, &r);
        assert_true(fabs(r.profit - base.profit) <= 1e-9 * scale);
        assert_true(fabs(r.price - base.price) <= 1e-7 * base.p_max);
        prillm_price_result_clear(&r);

        PrillmMarket *shifted = prillm_market_copy(mk, &err);
        for (int j = 0; j < m; j++) shifted->value[j] += 3.0;
        test_price_with(shifted, s, PRILLM_PRICE_EXACT, base.p_max, &r);
        assert_true(fabs(r.profit - base.profit) <= 1e-9 * scale);
        prillm_price_result_clear(&r);

        PrillmMarket *scaled = prillm_market_copy(mk, &err);
        for (int i = 0; i < n; i++) scaled->demand[i] *= 1000;
        for (int j = 0; j < m; j++) scaled->capacity[j] *= 1000;
        test_price_with(scaled, s, PRILLM_PRICE_EXACT, base.p_max, &r);
        assert_true(fabs(r.profit - 1000 * base.profit) <= 1e-9 * 1000 * scale);
        assert_true(fabs(r.price - base.price) <= 1e-7 * base.p_max);
        prillm_price_result_clear(&r);

        free(users);
        free(provs);
        prillm_market_free(perm);
        prillm_market_free(shifted);
        prillm_market_free(scaled);
        prillm_price_result_clear(&base);
        prillm_market_free(mk);
    }
}

/* A marginal cost moves the optimum up and never below the cost when the
 * target can earn something; spiter and grid never beat exact. */
static void test_cost_and_local_methods(void **state) {
    (void)state;
    for (int trial = 0; trial < 40; trial++) {
        TestRng rng = {0xc057000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 15), m = test_int(&rng, 2, 8);
        PrillmMarket *mk = test_market(n, m, 4000 + (uint64_t)trial, NULL);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult free_r, costly, spiter;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &free_r);
        mk->cost[s] = 0.5 * free_r.price;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, free_r.p_max, &costly);
        if (costly.profit > 0) assert_true(costly.price >= mk->cost[s]);
        assert_true(costly.price >= free_r.price - 1e-9 * free_r.p_max); /* profit's maximiser rises with cost */
        test_price_with(mk, s, PRILLM_PRICE_SPITER, free_r.p_max, &spiter);
        double scale = test_profit_scale(mk, &costly);
        assert_true(spiter.profit <= costly.profit + 1e-9 * scale);
        /* spiter stops at a local maximum of the true profit */
        double h = 1e-6 * costly.p_max;
        if (spiter.price > h) assert_true(test_true_profit(mk, s, spiter.price - h, NULL) <= spiter.profit + 1e-9 * scale);
        if (spiter.price < costly.p_max - h)
            assert_true(test_true_profit(mk, s, spiter.price + h, NULL) <= spiter.profit + 1e-9 * scale);
        prillm_price_result_clear(&free_r);
        prillm_price_result_clear(&costly);
        prillm_price_result_clear(&spiter);
        prillm_market_free(mk);
    }
}

static void test_bad_arguments(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(5, 3, 77, NULL);
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    PrillmPriceResult r;
    PrillmError err;
    assert_int_equal(prillm_price(mk, -1, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "target"));
    assert_true(isnan(r.price) && isnan(r.profit) && r.segments == NULL);
    assert_int_equal(prillm_price(mk, 3, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_price(mk, 0, &set, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_price(NULL, 0, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    set.p_max = NAN;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "pmax"));
    prillm_price_default_settings(&set);
    assert_int_equal(prillm_price_set_option(&set, "pmax", "-1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_price_set_option(&set, "method", "newton", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "exact|grid"));
    set.p_max = 2;
    set.start_price = 3;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "start-price"));
    prillm_price_default_settings(&set);
    mk->capacity[1] = -1;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "capacity"));
    mk->capacity[1] = 1;
    mk->w_price = 0;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "w_price"));
    /* a price that barely counts: the target keeps traffic at any price a
     * market may hold, so there is no default range (it was 1e300, where the
     * target still sold, reported solved); with a pmax it prices */
    mk->w_price = 1e-308;
    assert_int_equal(prillm_price(mk, 1, &set, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "no default price range, give pmax"));
    assert_non_null(strstr(err.message, mk->provider_id[1]));
    assert_true(isnan(r.price) && r.segments == NULL);
    set.p_max = 5;
    assert_int_equal(prillm_price(mk, 1, &set, &r, &err), PRILLM_OK);
    assert_true(r.price >= 0 && r.price <= 5);
    prillm_price_result_clear(&r);
    prillm_price_default_settings(&set);
    prillm_market_free(mk);
    /* bf refuses what it cannot finish, and says what to use instead */
    mk = test_market(30, 10, 78, NULL);
    set.method = PRILLM_PRICE_BF;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "exact"));
    prillm_market_free(mk);
}

/* Markets the fuzzer found: a breakpoint closer than the price's rounding
 * (a 3e-7 demand), and demands 1e21 apart: the first must solve; the
 * second must not crash or lie: failed or inaccurate, or, since the
 * equilibrium resolves the small app in its own scale (issue 12), solved
 * at the true optimum. */
static void test_extreme_scales(void **state) {
    (void)state;
    const char *tiny =
        "{\"weights\": {\"price\": 1, \"congestion\": 0.5, \"delay\": 0},"
        " \"providers\": [{\"id\": \"p\", \"price\": 3, \"capacity\": 10, \"value\": 5, \"latency\": 0.3},"
        "               {\"id\": \"q\", \"price\": 1.5, \"capacity\": 1e3, \"value\": 0.2, \"latency\": 4}],"
        " \"users\": [{\"id\": \"x\", \"demand\": 0}, {\"id\": \"y\", \"demand\": 0}, {\"id\": \"z\", \"demand\": 3e-7}]}";
    const char *apart =
        "{\"weights\": {\"price\": 5.0, \"congestion\": 0.8, \"delay\": 0.5},"
        " \"providers\": [{\"id\": \"a\", \"price\": 0.3, \"capacity\": 120.0, \"value\": 2.1, \"cost\": 0.1},"
        "               {\"id\": \"b\", \"price\": 2.2, \"capacity\": 40.0, \"value\": 2.4}],"
        " \"users\": [{\"id\": \"u1\", \"demand\": 740.0}, {\"id\": \"u2\", \"demand\": 1.5555555555555555e24}],"
        " \"delay\": [[0.8, 1.5], [1.1, 2.0]]}";
    PrillmMarket *mk = NULL;
    PrillmError err;
    assert_int_equal(prillm_market_parse_json(tiny, strlen(tiny), NULL, NULL, &mk, &err), PRILLM_OK);
    PrillmPriceResult r;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    check_result_sane(&r, mk);
    double ref_price, ref = test_refined_grid_optimum(mk, 0, r.p_max, 101, &ref_price);
    assert_true(r.profit >= ref - 1e-9 * test_profit_scale(mk, &r));
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
    assert_int_equal(prillm_market_parse_json(apart, strlen(apart), NULL, NULL, &mk, &err), PRILLM_OK);
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_OK);
    if (r.status == PRILLM_STATUS_FAILED) assert_true(isnan(r.price) && isnan(r.profit) && r.n_segments == 0);
    if (r.status == PRILLM_STATUS_SOLVED) {
        /* the equilibrium now resolves an app 1e-22 of the market in its
         * own scale: a "solved" must then be the true optimum */
        double at = 0, best = test_refined_grid_optimum(mk, 0, r.p_max, 101, &at);
        assert_true(r.profit >= best - 1e-9 * test_profit_scale(mk, &r));
    }
    prillm_price_result_clear(&r);
    /* a price weight of 50 and demands 1e16 apart: the big app leaves near 5e15, where
     * the small one's pairs flip within round-off; the walk jumps past and
     * says inaccurate, with a price still in range */
    mk->w_price = 50;
    mk->demand[1] = 11582845774102417776.5;
    assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_OK);
    assert_true(r.status == PRILLM_STATUS_INACCURATE || r.status == PRILLM_STATUS_SOLVED);
    assert_true(r.price >= 0 && r.price <= r.p_max && isfinite(r.profit));
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
}

/* No method, whatever its model, earns more in the true game than exact. */
static void test_no_method_beats_exact(void **state) {
    (void)state;
    for (int trial = 0; trial < 30; trial++) {
        TestRng rng = {0xbea70000u + (uint64_t)trial};
        int m = test_int(&rng, 2, 4), n = test_int(&rng, 1, m == 4 ? 4 : 6); /* bf must finish */
        TestMarketShape shape = {-1, 1, trial % 4 == 1, trial % 4 == 2};
        PrillmMarket *mk = test_market(n, m, 60000 + (uint64_t)trial, &shape);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        double scale = test_profit_scale(mk, &exact);
        for (int method = 1; method < PRILLM_PRICE_METHOD_COUNT; method++) {
            if (!test_price_method_available(method)) continue; /* pmpec without Ipopt */
            PrillmPriceResult r;
            test_price_with(mk, s, method, 0, &r);
            assert_true(r.status != PRILLM_STATUS_FAILED);
            assert_true(r.p_max == exact.p_max);
            if (!(r.profit <= exact.profit + 1e-9 * scale))
                fail_msg("trial %d: %s earns %.17g > exact %.17g", trial, prillm_price_method_name(method), r.profit,
                         exact.profit);
            /* the profit is the true game's at the returned price */
            assert_true(fabs(r.profit - test_true_profit(mk, s, r.price, NULL)) <= 1e-12 * scale);
            prillm_price_result_clear(&r);
        }
        prillm_price_result_clear(&exact);
        prillm_market_free(mk);
    }
}

/* Abstraction: never better than exact in the true game, identical to it
 * when k keeps every rival, and --compare's ratio is profit / exact. */
static void test_abstraction_methods(void **state) {
    (void)state;
    if (!test_shipped_model) skip();
    for (int trial = 0; trial < 20; trial++) {
        TestRng rng = {0xab570000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 25), m = test_int(&rng, 3, 12);
        PrillmMarket *mk = test_market(n, m, 70000 + (uint64_t)trial, NULL);
        int s = test_int(&rng, 0, m - 1);
        PrillmPriceResult exact;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        double scale = test_profit_scale(mk, &exact);
        for (int method = PRILLM_PRICE_DA; method <= PRILLM_PRICE_AVG; method++) {
            PrillmPriceSettings set;
            prillm_price_default_settings(&set);
            set.method = method;
            set.model = test_shipped_model;
            set.compare = 1;
            PrillmPriceResult r;
            PrillmError err;
            assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
            assert_true(r.profit <= exact.profit + 1e-9 * scale);
            assert_true(fabs(r.exact_profit - exact.profit) <= 1e-9 * scale);
            if (exact.profit > 0) assert_true(fabs(r.profit_ratio - r.profit / exact.profit) <= 1e-12);
            prillm_price_result_clear(&r);
            set.k = m - 1; /* every rival kept: the true market */
            set.compare = 0;
            assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_OK);
            if (method != PRILLM_PRICE_AVG) assert_true(fabs(r.profit - exact.profit) <= 1e-9 * scale);
            assert_true(isnan(r.profit_ratio));
            prillm_price_result_clear(&r);
        }
        PrillmPriceSettings set;
        prillm_price_default_settings(&set);
        set.method = PRILLM_PRICE_DA;
        PrillmPriceResult r;
        PrillmError err;
        assert_int_equal(prillm_price(mk, s, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "model"));
        prillm_price_result_clear(&exact);
        prillm_market_free(mk);
    }
}

/* ---- the market as given: current price, uplift, warnings ------------- */

static double demand_total(const PrillmMarket *mk) {
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    return total;
}

/* The warnings a result must carry, from their definitions in pricing.h.
 * exact_sells: the exact optimum of the same market sells something. */
static unsigned expected_warnings(const PrillmMarket *mk, const PrillmPriceResult *r, int exact_sells) {
    unsigned want = 0;
    double cur = mk->price[r->target];
    int sells = r->flow > PRILLM_PRICE_NO_FLOW * demand_total(mk);
    if (cur <= 0) want |= PRILLM_PRICE_WARN_FREE;
    if (!sells) want |= PRILLM_PRICE_WARN_SELLS_NOTHING;
    if (sells && cur > 0 && r->price > 3 * cur) want |= PRILLM_PRICE_WARN_FAR_ABOVE;
    if (sells && cur > 0 && r->price < cur / 3) want |= PRILLM_PRICE_WARN_FAR_BELOW;
    if (r->method != PRILLM_PRICE_EXACT && !sells && exact_sells) want |= PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING;
    return want;
}

/* The current price's profit, re-solved independently: the equilibrium of
 * the unchanged market (and, on tiny markets, brute force over support
 * patterns, which shares no code with the library). */
static void check_current(const PrillmMarket *mk, const PrillmPriceResult *r, double scale) {
    int s = r->target, m = mk->n_providers;
    double cost = isnan(mk->cost[s]) ? 0 : mk->cost[s], total = demand_total(mk);
    assert_true(r->current_price == mk->price[s]);
    PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    assert_true(eq->info.status == PRILLM_STATUS_SOLVED);
    double F = eq->provider_flow[s];
    prillm_equilibrium_cleanup(solver);
    if (!(fabs(r->current_flow - F) <= 1e-12 * total))
        fail_msg("current_flow %.17g, independent solve %.17g", r->current_flow, F);
    assert_true(fabs(r->current_profit - (mk->price[s] - cost) * F) <= 1e-12 * scale);
    if (mk->n_users <= 3 && m <= 3) {
        double *flows = calloc((size_t)mk->n_users * m, sizeof(double));
        assert_non_null(flows);
        assert_int_equal(test_brute_force_equilibrium(mk, flows), 0);
        double Fb = 0;
        for (int i = 0; i < mk->n_users; i++) Fb += flows[(size_t)i * m + s];
        assert_true(fabs(r->current_flow - Fb) <= 1e-9 * total);
        free(flows);
    }
    /* the uplift is the difference, and relative only over a positive profit */
    assert_true(r->uplift == r->profit - r->current_profit);
    if (r->current_profit > 0) assert_true(r->uplift_relative == r->uplift / r->current_profit);
    else assert_true(isnan(r->uplift_relative));
}

/* On random markets (some with the target free, overpriced or underpriced,
 * some with a cost): the current profit is the true game's, exact never
 * earns less than the current price, and the warnings are set exactly when
 * their conditions hold. */
static void test_current_price_report(void **state) {
    (void)state;
    int seen[5] = {0};
    for (int trial = 0; trial < 120; trial++) {
        TestRng rng = {0xc477e000u + (uint64_t)trial};
        int n = test_int(&rng, 1, 10), m = test_int(&rng, 2, 6);
        TestMarketShape shape = {-1, 2, trial % 5 == 1, trial % 5 == 2};
        PrillmMarket *mk = test_market(n, m, 80000 + (uint64_t)trial, &shape);
        int s = test_int(&rng, 0, m - 1);
        switch (trial % 6) {
        case 0: mk->price[s] = 0; break;      /* a free model */
        case 1: mk->price[s] *= 20; break;    /* priced out: the optimum is far below */
        case 2: mk->price[s] *= 0.02; break;  /* underpriced: the optimum is far above */
        case 3: mk->cost[s] = 0.5 * mk->price[s]; break;
        default: break;
        }
        PrillmPriceResult exact;
        test_price_with(mk, s, PRILLM_PRICE_EXACT, 0, &exact);
        double scale = test_profit_scale(mk, &exact) + fabs(exact.current_profit);
        check_current(mk, &exact, scale);
        /* the exact optimum is global on [0, pmax], and the default pmax is
         * past the target's choke price, so no current price earns more */
        if (!(exact.uplift >= -1e-9 * scale))
            fail_msg("trial %d: exact uplift %.17g < 0 (profit %.17g, current %.17g)", trial, exact.uplift,
                     exact.profit, exact.current_profit);
        int exact_sells = exact.flow > PRILLM_PRICE_NO_FLOW * demand_total(mk);
        assert_int_equal(exact.warnings, expected_warnings(mk, &exact, exact_sells));
        for (int b = 0; b < 5; b++) seen[b] += (exact.warnings >> b) & 1;
        /* every method gets the same report of the market as given */
        const int others[] = {PRILLM_PRICE_GRID, PRILLM_PRICE_SPITER, PRILLM_PRICE_MIN, PRILLM_PRICE_AVG};
        for (size_t q = 0; q < sizeof others / sizeof others[0]; q++) {
            PrillmPriceResult r;
            test_price_with(mk, s, others[q], 0, &r);
            assert_true(r.current_price == exact.current_price);
            assert_true(r.current_flow == exact.current_flow && r.current_profit == exact.current_profit);
            assert_true(r.uplift == r.profit - r.current_profit);
            assert_true(r.uplift <= exact.uplift + 1e-9 * scale);
            assert_int_equal(r.warnings, expected_warnings(mk, &r, exact_sells));
            for (int b = 0; b < 5; b++) seen[b] += (r.warnings >> b) & 1;
            prillm_price_result_clear(&r);
        }
        prillm_price_result_clear(&exact);
        prillm_market_free(mk);
    }
    print_message("warnings seen on random markets: far_above %d, far_below %d, sells_nothing %d, free %d, "
                  "method_sells_nothing %d\n",
                  seen[0], seen[1], seen[2], seen[3], seen[4]);
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[3] > 0); /* not vacuous */
}

/* One app (demand 1), the target and a rival at price 2, congestion slope 1
 * (the README's case to check by hand): at price p the target carries
 * 1 - p/4, and the optimum is p = 2 with profit 1. */
static PrillmMarket *one_app_two_models(double current_price) {
    const double demand[] = {1}, delay[] = {0, 0}, price[] = {current_price, 2}, capacity[] = {1, 1};
    PrillmMarket *mk = small_market(1, 2, demand, delay, price, capacity);
    mk->w_delay = 0;
    return mk;
}

static void expect_text(const PrillmPriceResult *r, unsigned bit, const char *needle) {
    char text[512];
    const char *t = prillm_price_warning_text(r, bit, text, sizeof text);
    if (!strstr(t, needle)) fail_msg("warning %s: \"%s\" lacks \"%s\"", prillm_price_warning_name(bit), t, needle);
}

static void test_warning_cases(void **state) {
    (void)state;
    PrillmPriceResult r;
    char text[512];
    /* underpriced: the optimum 2 is 4 times the current 0.5 */
    PrillmMarket *mk = one_app_two_models(0.5);
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(fabs(r.price - 2) <= 1e-12 && fabs(r.profit - 1) <= 1e-12);
    assert_true(r.current_price == 0.5);
    assert_true(fabs(r.current_flow - 0.875) <= 1e-12 && fabs(r.current_profit - 0.4375) <= 1e-12);
    assert_true(fabs(r.uplift - 0.5625) <= 1e-12 && fabs(r.uplift_relative - 0.5625 / 0.4375) <= 1e-12);
    assert_int_equal(r.warnings, PRILLM_PRICE_WARN_FAR_ABOVE);
    expect_text(&r, PRILLM_PRICE_WARN_FAR_ABOVE, "the optimal price 2 is 4.0 times the current price 0.5");
    assert_string_equal(prillm_price_warning_text(&r, PRILLM_PRICE_WARN_FREE, text, sizeof text), "");
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
    /* priced out: the target sells nothing now, the optimum is under a third */
    mk = one_app_two_models(7);
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(r.current_flow == 0 && r.current_profit == 0 && fabs(r.uplift - 1) <= 1e-12);
    assert_true(isnan(r.uplift_relative));
    assert_int_equal(r.warnings, PRILLM_PRICE_WARN_FAR_BELOW);
    expect_text(&r, PRILLM_PRICE_WARN_FAR_BELOW, "0.286 times the current price 7");
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
    /* free: the ratio is undefined, and so is the relative uplift */
    mk = one_app_two_models(0);
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(r.current_flow == 1 && r.current_profit == 0 && isnan(r.uplift_relative));
    assert_int_equal(r.warnings, PRILLM_PRICE_WARN_FREE);
    expect_text(&r, PRILLM_PRICE_WARN_FREE, "free model");
    prillm_price_result_clear(&r);
    /* a cost: current profit (1 - 0.5) x 0.75, optimum (p - 0.5)(1 - p/4) at
     * p = 2.25; within a factor 3, so no warning */
    mk->price[0] = 1;
    mk->cost[0] = 0.5;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(fabs(r.current_profit - 0.375) <= 1e-12 && fabs(r.profit - 0.765625) <= 1e-12);
    assert_true(fabs(r.uplift_relative - (0.765625 - 0.375) / 0.375) <= 1e-12);
    assert_int_equal(r.warnings, 0);
    prillm_price_result_clear(&r);
    prillm_market_free(mk);

    /* a target nobody wants at any price: it sells nothing, and the ratio
     * warnings stay off (its "optimum" 0 is just the lowest tie) */
    const double demand[] = {4, 1, 2}, delay[] = {50, 0, 0, 60, 1, 0, 70, 0, 1}, price[] = {1, 1, 2},
                 capacity[] = {5, 5, 5};
    mk = small_market(3, 3, demand, delay, price, capacity);
    mk->value[0] = -100;
    for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++) {
        if (method == PRILLM_PRICE_DA && !test_shipped_model) continue;
        if (!test_price_method_available(method)) continue; /* pmpec without Ipopt */
        test_price_with(mk, 0, method, 0, &r);
        assert_true(r.flow == 0 && r.current_flow == 0 && r.current_profit == 0);
        assert_int_equal(r.warnings, PRILLM_PRICE_WARN_SELLS_NOTHING); /* not the method's fault */
        if (method == PRILLM_PRICE_EXACT) expect_text(&r, PRILLM_PRICE_WARN_SELLS_NOTHING, "no price in [0, ");
        prillm_price_result_clear(&r);
    }
    mk->price[0] = 0;
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_int_equal(r.warnings, PRILLM_PRICE_WARN_SELLS_NOTHING | PRILLM_PRICE_WARN_FREE);
    prillm_price_result_clear(&r);
    prillm_market_free(mk);

    /* min and avg keep the cheapest rival, which nobody uses (value -50):
     * the abstracted market looks like a monopoly, so they price the target
     * at pmax, where it sells nothing, although it sells at a profit below */
    const double d3[] = {1}, delay3[] = {0, 0, 0}, price3[] = {1, 0.1, 2}, cap3[] = {1, 1, 1};
    mk = small_market(1, 3, d3, delay3, price3, cap3);
    mk->w_delay = 0;
    mk->value[1] = -50;
    for (int method = PRILLM_PRICE_MIN; method <= PRILLM_PRICE_AVG; method++) {
        PrillmPriceSettings set;
        prillm_price_default_settings(&set);
        set.method = method;
        set.k = 1;
        set.compare = 1;
        PrillmError err;
        assert_int_equal(prillm_price(mk, 0, &set, &r, &err), PRILLM_OK);
        assert_true(r.status == PRILLM_STATUS_SOLVED && r.flow == 0 && r.profit == 0);
        assert_true(fabs(r.exact_profit - 1) <= 1e-12);
        assert_true(fabs(r.current_profit - 0.75) <= 1e-12 && fabs(r.uplift_relative + 1) <= 1e-12);
        assert_int_equal(r.warnings, PRILLM_PRICE_WARN_SELLS_NOTHING | PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING);
        expect_text(&r, PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING, "sells nothing, yet the target can sell at a profit");
        prillm_price_result_clear(&r);
    }
    /* exact on the same market: no warning */
    test_price_with(mk, 0, PRILLM_PRICE_EXACT, 0, &r);
    assert_true(fabs(r.price - 2) <= 1e-12);
    assert_int_equal(r.warnings, 0);
    prillm_price_result_clear(&r);
    prillm_market_free(mk);
    assert_string_equal(prillm_price_warning_name(PRILLM_PRICE_WARN_METHOD_SELLS_NOTHING), "method_sells_nothing");
    assert_string_equal(prillm_price_warning_name(3), "unknown");
}

/* Every method, the Ipopt ones included, carries the same current report. */
static void test_current_price_every_method(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(5, 3, 81, NULL);
    PrillmPriceResult exact;
    test_price_with(mk, 1, PRILLM_PRICE_EXACT, 0, &exact);
    check_current(mk, &exact, test_profit_scale(mk, &exact) + fabs(exact.current_profit));
    for (int method = 1; method < PRILLM_PRICE_METHOD_COUNT; method++) {
        if (method == PRILLM_PRICE_DA && !test_shipped_model) continue;
        if (!test_price_method_available(method)) continue; /* pmpec without Ipopt */
        PrillmPriceResult r;
        test_price_with(mk, 1, method, 0, &r);
        assert_true(r.current_price == exact.current_price && r.current_profit == exact.current_profit);
        assert_true(r.current_flow == exact.current_flow);
        if (r.status != PRILLM_STATUS_FAILED) assert_true(r.uplift == r.profit - r.current_profit);
        else assert_true(isnan(r.uplift));
        prillm_price_result_clear(&r);
    }
    prillm_price_result_clear(&exact);
    prillm_market_free(mk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_beats_grid),
        cmocka_unit_test(test_exact_equals_bf),
        cmocka_unit_test(test_curve_matches_equilibrium),
        cmocka_unit_test(test_several_local_maxima),
        cmocka_unit_test(test_random_multimodal),
        cmocka_unit_test(test_optimum_at_pmax),
        cmocka_unit_test(test_unused_target),
        cmocka_unit_test(test_degenerate_breakpoints),
        cmocka_unit_test(test_invariances),
        cmocka_unit_test(test_cost_and_local_methods),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_extreme_scales),
        cmocka_unit_test(test_no_method_beats_exact),
        cmocka_unit_test(test_abstraction_methods),
        cmocka_unit_test(test_current_price_report),
        cmocka_unit_test(test_warning_cases),
        cmocka_unit_test(test_current_price_every_method),
        cmocka_unit_test(test_warm_solver_at_other_prices),
        cmocka_unit_test(test_published_scoring_is_polished),
        cmocka_unit_test(test_prune_threshold_and_gaps),
        cmocka_unit_test(test_pruned_equals_full_walk),
        cmocka_unit_test(test_range_prunes_like_price),
        cmocka_unit_test(test_flow_falls_at_most_at_rate),
        cmocka_unit_test(test_interval_bound),
        cmocka_unit_test(test_pruned_solves_and_stops),
        cmocka_unit_test(test_pruning_ignores_uncertified_solves),
        cmocka_unit_test(test_replayed_sets_match_solves),
        cmocka_unit_test(test_row_bounds_change_nothing),
        cmocka_unit_test(test_row_bounds_over_long_walks),
        cmocka_unit_test(test_price_all),
    };
    return cmocka_run_group_tests(tests, test_load_shipped_model, test_free_shipped_model);
}
