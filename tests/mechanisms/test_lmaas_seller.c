/*
 * The LMaaS seller (docs/lmaas.md, "Seller"): its profit with the expected
 * on-demand margin, the pricing iteration that maximises it, and the
 * catalogue choice, on many seeded random markets. Checked against
 * lmaas_reference.h (the model from the definitions) and brute force over
 * every grid price vector and every catalogue.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lmaas_reference.h"
#include "support.h"
#include <prillm/lmaas.h>

static PrillmLmaasMarket *market(TestRng *rng, int n, int models, uint64_t seed) {
    PrillmError err;
    PrillmLmaasMarket *mk = prillm_lmaas_random(n, models, seed, &err);
    if (!mk) fail_msg("%s", err.message);
    static const double budgets[] = {0, 0.3, 1, 1.4, 2, 2};
    mk->budget = budgets[test_int(rng, 0, 5)];
    mk->premium = test_int(rng, 0, 3) == 0 ? 0 : 2 * test_uniform(rng);
    mk->max_rental = test_int(rng, 0, 3) == 0 ? 5 + 30 * test_uniform(rng) : 100;
    return mk;
}

/* The seller's operating profit from the definitions: RSR's plans (checked
 * in test_lmaas.c), the rental margin, and the expected on-demand margin on
 * the lattice unless the settings ignore it. Prices of +inf: not offered. */
static double seller_profit(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s, const double *prices, double *rental,
                            double *on_demand) {
    double r = 0, d = 0;
    for (int i = 0; i < mk->n_customers; i++) {
        PrillmLmaasPlan plan;
        assert_int_equal(prillm_lmaas_rent(mk, i, prices, &plan, NULL), PRILLM_OK);
        int m = plan.model;
        if (m < 0) continue;
        r += (prices[m] - mk->serving_cost[m]) * plan.rental;
        if (s->on_demand == PRILLM_LMAAS_ON_DEMAND_EXPECTED)
            d += ((1 + mk->premium) * prices[m] - mk->serving_cost[m]) *
                 expected_on_demand_k(mk, i, m, prices[m], plan.rental, s->on_demand_points);
    }
    if (rental) *rental = r;
    if (on_demand) *on_demand = d;
    return r + d;
}

static double grid_price(const PrillmLmaasMarket *mk, int g, int points) {
    return points == 1 ? mk->price_min : mk->price_min + (mk->price_max - mk->price_min) * ((double)g / (points - 1));
}

/* The best operating profit over every grid price vector, by enumeration. */
static double brute_force(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s) {
    int models = mk->n_models, k[8] = {0};
    double prices[8], best = -INFINITY;
    for (;;) {
        for (int m = 0; m < models; m++) prices[m] = grid_price(mk, k[m], s->grid_points);
        best = fmax(best, seller_profit(mk, s, prices, NULL, NULL));
        int m = models - 1;
        while (m >= 0 && ++k[m] == s->grid_points) k[m--] = 0;
        if (m < 0) break;
    }
    return best;
}

/* ---- the lattice --------------------------------------------------------- */

static void test_lattice(void **state) {
    (void)state;
    static const double budgets[] = {0, 0.25, 0.7, 1, 1.3, 1.9, 2};
    PrillmLmaasScenario got[64 * 64];
    double want[64 * 64][2];
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++)
        for (int k = 1; k <= 64; k += k < 10 ? 1 : 9) {
            int n = prillm_lmaas_lattice(budgets[b], k, got), expect = lattice(budgets[b], k, want);
            assert_int_equal(n, expect);
            double mean_u = 0, mean_g = 0;
            for (int c = 0; c < n; c++) {
                assert_true(fabs(got[c].z_demand - want[c][0]) < 1e-15 && fabs(got[c].z_gain - want[c][1]) < 1e-15);
                assert_true(fabs(got[c].z_demand) + fabs(got[c].z_gain) <= budgets[b] + 1e-12);
                assert_true(fabs(got[c].z_demand) <= 1 && fabs(got[c].z_gain) <= 1);
                mean_u += got[c].z_demand / n;
                mean_g += got[c].z_gain / n;
            }
            /* symmetric about the nominal scenario, which K = 1 is alone */
            assert_true(fabs(mean_u) < 1e-12 && fabs(mean_g) < 1e-12);
            if (k == 1) assert_true(n == 1 && got[0].z_demand == 0 && got[0].z_gain == 0);
        }
    assert_int_equal(prillm_lmaas_lattice(2, 0, got), 0);
}

/* The lattice mean converges to the mean under the uniform distribution on
 * U: at K = 48 it matches a Monte Carlo mean over 20000 uniform draws
 * (the evaluation's sampler, checked against rejection sampling) within
 * 5 standard errors plus 2% of the servable range. */
static void test_lattice_matches_uniform_mean(void **state) {
    (void)state;
    TestRng rng = {81};
    int compared = 0;
    for (int trial = 0; trial < 40; trial++) {
        PrillmLmaasMarket *mk = market(&rng, 4, 3, 40000 + (uint64_t)trial);
        if (mk->budget == 0) mk->budget = 2;
        for (int i = 0; i < mk->n_customers; i++) {
            int m = test_int(&rng, 0, mk->n_models - 1);
            double beta = 6 * test_uniform(&rng), tau = 30 * test_uniform(&rng);
            double lat = expected_on_demand_k(mk, i, m, beta, tau, 48), sum = 0, sq = 0;
            unsigned long long st = 77 + (unsigned long long)trial * 10 + (unsigned long long)i;
            enum { DRAWS = 20000 };
            for (int d = 0; d < DRAWS; d++) {
                PrillmLmaasScenario s = prillm_lmaas_draw_scenario(mk->budget, 1, &st);
                double z = on_demand_time(mk, i, m, beta, tau, s.z_demand, s.z_gain);
                sum += z;
                sq += z * z;
            }
            double mean = sum / DRAWS, se = sqrt(fmax(0, sq / DRAWS - mean * mean) / DRAWS);
            double range = mk->demand[i] * (1 + mk->demand_deviation[i]);
            if (fabs(lat - mean) > 5 * se + 0.02 * range)
                fail_msg("trial %d customer %d: lattice %.6g, Monte Carlo %.6g (se %.3g)", trial, i, lat, mean, se);
            compared += mean > 0;
        }
        prillm_lmaas_free(mk);
    }
    assert_true(compared > 30); /* the on-demand time was not always 0 */
}

/* ---- the seller's optimum against brute force ------------------------ */

static void test_seller_optimum_brute_force(void **state) {
    (void)state;
    TestRng rng = {82};
    int imp_optimal = 0, with_on_demand = 0;
    for (int trial = 0; trial < 120; trial++) {
        int models = test_int(&rng, 1, 3);
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 2, 8), models, 41000 + (uint64_t)trial);
        PrillmLmaasSettings s;
        prillm_lmaas_default_settings(&s);
        s.grid_points = test_int(&rng, 2, models == 3 ? 5 : 8);
        s.on_demand = test_int(&rng, 0, 3) == 0 ? PRILLM_LMAAS_ON_DEMAND_IGNORE : PRILLM_LMAAS_ON_DEMAND_EXPECTED;
        s.on_demand_points = test_int(&rng, 1, 10);
        s.start = test_int(&rng, 0, 2);
        double best = brute_force(mk, &s), tol = 1e-9 * (1 + fabs(best));
        PrillmLmaasResult *imp = NULL, *grid = NULL;
        PrillmError err;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &imp, &err), PRILLM_OK);
        s.method = PRILLM_LMAAS_EXHAUSTIVE;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &grid, &err), PRILLM_OK);
        /* the exhaustive grid is the brute-force optimum, at prices attaining it */
        if (fabs(grid->operating_profit - best) > tol)
            fail_msg("trial %d: exhaustive %.12g, brute force %.12g", trial, grid->operating_profit, best);
        double rental, on_demand, again = seller_profit(mk, &s, grid->prices, &rental, &on_demand);
        assert_true(fabs(again - best) <= tol);
        assert_true(fabs(grid->rental_profit - rental) <= tol && fabs(grid->on_demand_profit - on_demand) <= tol);
        if (s.on_demand == PRILLM_LMAAS_ON_DEMAND_IGNORE) assert_true(grid->on_demand_profit == 0);
        with_on_demand += fabs(on_demand) > tol;
        /* IMP: never above it, the reported profit is its plans', and no
         * single price on the grid improves it */
        s.method = PRILLM_LMAAS_IMP;
        double imp_profit = seller_profit(mk, &s, imp->prices, NULL, NULL);
        assert_true(fabs(imp_profit - imp->operating_profit) <= tol);
        assert_true(imp->operating_profit <= best + tol);
        for (int k = 1; k < imp->history_length; k++) assert_true(imp->history[k] >= imp->history[k - 1]);
        double trial_prices[3];
        for (int m = 0; m < models; m++) {
            memcpy(trial_prices, imp->prices, (size_t)models * sizeof(double));
            for (int g = 0; g < s.grid_points; g++) {
                trial_prices[m] = grid_price(mk, g, s.grid_points);
                if (seller_profit(mk, &s, trial_prices, NULL, NULL) > imp_profit + tol)
                    fail_msg("trial %d: moving model %d to grid price %d improves on IMP", trial, m, g);
            }
        }
        if (models == 1) assert_true(fabs(imp->operating_profit - best) <= tol);
        imp_optimal += fabs(imp->operating_profit - best) <= tol;
        prillm_lmaas_result_free(imp);
        prillm_lmaas_result_free(grid);
        prillm_lmaas_free(mk);
    }
    assert_true(with_on_demand > 30);
    print_message("IMP reached the brute-force optimum in %d of 120 small markets\n", imp_optimal);
}

/* With no premium, renting never beats buying on demand, so every customer
 * buys on demand only (rental 0): the first model earned the seller
 * nothing; the seller's profit now counts what they buy. */
static void test_on_demand_only_customers_earn(void **state) {
    (void)state;
    TestRng rng = {83};
    int earning = 0;
    for (int trial = 0; trial < 30; trial++) {
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 5, 20), test_int(&rng, 1, 3), 42000 + (uint64_t)trial);
        mk->premium = 0;
        PrillmLmaasSettings s;
        prillm_lmaas_default_settings(&s);
        s.grid_points = 11;
        PrillmLmaasResult *r = NULL, *old = NULL;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r, NULL), PRILLM_OK);
        for (int i = 0; i < mk->n_customers; i++)
            if (r->plans[i].model >= 0) assert_true(r->plans[i].rental == 0);
        assert_true(r->rental_profit == 0);
        assert_true(r->operating_profit >= 0);
        double again = seller_profit(mk, &s, r->prices, NULL, NULL);
        assert_true(fabs(again - r->operating_profit) <= 1e-9 * (1 + fabs(again)));
        earning += r->operating_profit > 0;
        s.on_demand = PRILLM_LMAAS_ON_DEMAND_IGNORE;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &old, NULL), PRILLM_OK);
        assert_true(old->operating_profit == 0);
        prillm_lmaas_result_free(r);
        prillm_lmaas_result_free(old);
        prillm_lmaas_free(mk);
    }
    assert_true(earning > 20);
}

/* ---- the catalogue ------------------------------------------------------ */

static double fixed_cost(const PrillmLmaasMarket *mk, const double *prices) {
    double fixed = 0;
    int any = 0;
    for (int m = 0; m < mk->n_models; m++)
        if (!isinf(prices[m])) {
            fixed += mk->finetune_cost[m];
            any = 1;
        }
    return any ? fixed + mk->ssl_cost : 0;
}

/* The best net profit over every catalogue and, for method exhaustive,
 * every grid price vector of its models (fixed: the file's prices). */
static double brute_force_catalogue(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s) {
    int models = mk->n_models;
    double best = 0; /* offering nothing */
    for (int mask = 1; mask < (1 << models); mask++) {
        int k[8] = {0};
        double prices[8];
        for (;;) {
            for (int m = 0; m < models; m++)
                prices[m] = !((mask >> m) & 1) ? INFINITY
                            : s->method == PRILLM_LMAAS_FIXED ? mk->price[m]
                                                              : grid_price(mk, k[m], s->grid_points);
            best = fmax(best, seller_profit(mk, s, prices, NULL, NULL) - fixed_cost(mk, prices));
            if (s->method == PRILLM_LMAAS_FIXED) break;
            int m = models - 1;
            while (m >= 0 && (!((mask >> m) & 1) || ++k[m] == s->grid_points)) {
                k[m] = 0;
                m--;
            }
            if (m < 0) break;
        }
    }
    return best;
}

/* The reported net profit is the followers' at the returned prices, and
 * the catalogue is the set of finite prices. */
static void check_result(const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s, const PrillmLmaasResult *r) {
    double net = seller_profit(mk, s, r->prices, NULL, NULL) - fixed_cost(mk, r->prices);
    assert_true(fabs(net - r->net_profit) <= 1e-9 * (1 + fabs(net)));
    assert_true(fabs(fixed_cost(mk, r->prices) - r->fixed_cost) <= 1e-9 * (1 + fabs(net)));
    for (int m = 0; m < mk->n_models; m++) assert_int_equal(r->offered[m], !isinf(r->prices[m]));
    for (int i = 0; i < mk->n_customers; i++)
        if (r->plans[i].model >= 0) assert_true(r->offered[r->plans[i].model]);
}

static void test_catalogue_exact_brute_force(void **state) {
    (void)state;
    TestRng rng = {84};
    int dropped = 0;
    for (int trial = 0; trial < 80; trial++) {
        int models = test_int(&rng, 1, 3);
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 2, 6), models, 43000 + (uint64_t)trial);
        /* training costs that matter at this scale */
        mk->ssl_cost = 20 * test_uniform(&rng);
        for (int m = 0; m < models; m++) mk->finetune_cost[m] = 100 * test_uniform(&rng);
        PrillmLmaasSettings s;
        prillm_lmaas_default_settings(&s);
        s.method = trial % 4 == 3 ? PRILLM_LMAAS_FIXED : PRILLM_LMAAS_EXHAUSTIVE;
        s.grid_points = test_int(&rng, 2, 4);
        s.on_demand_points = test_int(&rng, 1, 3);
        s.catalogue = PRILLM_LMAAS_CATALOGUE_EXACT;
        double best = brute_force_catalogue(mk, &s);
        PrillmLmaasResult *r = NULL;
        PrillmError err;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r, &err), PRILLM_OK);
        if (fabs(r->net_profit - best) > 1e-9 * (1 + fabs(best)))
            fail_msg("trial %d: exact catalogue %.12g, brute force %.12g", trial, r->net_profit, best);
        assert_true(r->info.catalogues == (1L << models) - 1);
        check_result(mk, &s, r);
        for (int m = 0; m < models; m++) dropped += !r->offered[m];
        prillm_lmaas_result_free(r);
        prillm_lmaas_free(mk);
    }
    assert_true(dropped > 20); /* the choice was exercised */
}

/* The greedy search against the exact one, with the same pricing (IMP):
 * exact >= greedy >= every model offered, each checked by recomputation. */
static void test_catalogue_greedy_certified(void **state) {
    (void)state;
    TestRng rng = {85};
    int equal = 0, trials = 60, differs_from_all = 0;
    double worst = 1;
    for (int trial = 0; trial < trials; trial++) {
        int models = test_int(&rng, 2, 6);
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 5, 30), models, 44000 + (uint64_t)trial);
        mk->ssl_cost = 50 * test_uniform(&rng);
        for (int m = 0; m < models; m++) mk->finetune_cost[m] = 300 * test_uniform(&rng);
        PrillmLmaasSettings s;
        prillm_lmaas_default_settings(&s);
        s.grid_points = test_int(&rng, 6, 11);
        s.on_demand_points = 4;
        PrillmLmaasResult *r[3] = {NULL, NULL, NULL};
        static const int modes[3] = {PRILLM_LMAAS_CATALOGUE_ALL, PRILLM_LMAAS_CATALOGUE_GREEDY, PRILLM_LMAAS_CATALOGUE_EXACT};
        for (int k = 0; k < 3; k++) {
            s.catalogue = modes[k];
            assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r[k], NULL), PRILLM_OK);
            check_result(mk, &s, r[k]);
        }
        double tol = 1e-9 * (1 + fabs(r[2]->net_profit));
        assert_true(r[2]->net_profit >= r[1]->net_profit - tol);
        assert_true(r[1]->net_profit >= fmax(0, r[0]->net_profit) - tol);
        assert_true(r[2]->net_profit >= 0);
        equal += r[1]->net_profit >= r[2]->net_profit - tol;
        differs_from_all += r[2]->net_profit > r[0]->net_profit + tol;
        if (r[2]->net_profit > 0) worst = fmin(worst, r[1]->net_profit / r[2]->net_profit);
        /* auto is exact at this size, greedy above max-catalogue-exact */
        PrillmLmaasResult *a = NULL;
        s.catalogue = PRILLM_LMAAS_CATALOGUE_AUTO;
        s.max_catalogue_exact = trial % 2 ? models : models - 1;
        assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &a, NULL), PRILLM_OK);
        assert_true(a->net_profit == r[trial % 2 ? 2 : 1]->net_profit);
        prillm_lmaas_result_free(a);
        for (int k = 0; k < 3; k++) prillm_lmaas_result_free(r[k]);
        prillm_lmaas_free(mk);
    }
    assert_true(differs_from_all > 10); /* choosing the catalogue mattered */
    /* the certificate docs/lmaas.md quotes: greedy finds the exact
     * catalogue's profit in at least 90% of these markets */
    assert_true(equal >= trials * 9 / 10);
    print_message("greedy catalogue = exact in %d of %d markets, worst greedy / exact net profit %.4f\n", equal, trials,
                  worst);
}

static void test_catalogue_guards(void **state) {
    (void)state;
    PrillmLmaasMarket *mk = prillm_lmaas_random(4, 5, 2, NULL);
    PrillmLmaasSettings s;
    PrillmError err;
    prillm_lmaas_default_settings(&s);
    assert_int_equal(prillm_lmaas_set_option(&s, "catalogue", "greedy", &err), PRILLM_OK);
    assert_int_equal(s.catalogue, PRILLM_LMAAS_CATALOGUE_GREEDY);
    assert_int_equal(prillm_lmaas_set_option(&s, "catalogue", "some", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_lmaas_set_option(&s, "on-demand-points", "0", &err), PRILLM_ERR_INVALID_ARGUMENT);
    s.catalogue = PRILLM_LMAAS_CATALOGUE_EXACT;
    s.max_catalogue_exact = 4;
    PrillmLmaasResult *r = NULL;
    assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r, &err), PRILLM_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "max-catalogue-exact"));
    assert_null(r);
    /* nothing worth offering: huge training costs, the seller offers nothing */
    mk->ssl_cost = 1e9;
    s.catalogue = PRILLM_LMAAS_CATALOGUE_GREEDY;
    assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r, &err), PRILLM_OK);
    for (int m = 0; m < 5; m++) assert_true(!r->offered[m] && isinf(r->prices[m]));
    assert_true(r->net_profit == 0 && r->fixed_cost == 0);
    for (int i = 0; i < 4; i++) assert_int_equal(r->plans[i].model, -1);
    prillm_lmaas_result_free(r);
    prillm_lmaas_free(mk);
}

static void test_catalogue_command(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI");
    if (!cli) skip();
    char command[1024];
    snprintf(command, sizeof command,
             "\"%s\" lmaas --generate --customers 20 --models 5 --seed 3 | \"%s\" lmaas - --catalogue exact --compare", cli, cli);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, pipe);
    buf[len] = 0;
    assert_int_equal(pclose(pipe), 0);
    PrillmLmaasMarket *mk = prillm_lmaas_random(20, 5, 3, NULL);
    PrillmLmaasSettings s;
    prillm_lmaas_default_settings(&s);
    s.catalogue = PRILLM_LMAAS_CATALOGUE_EXACT;
    PrillmLmaasResult *r = NULL;
    assert_int_equal(prillm_lmaas_solve(mk, &s, NULL, NULL, &r, NULL), PRILLM_OK);
    char number[64], expect[128];
    snprintf(expect, sizeof expect, "\"net_profit\": %s", prillm_format_double(r->net_profit, number, sizeof number));
    if (!strstr(buf, expect)) fail_msg("output lacks %s", expect);
    for (int m = 0; m < 5; m++) {
        snprintf(expect, sizeof expect, "\"id\": \"model-%d\", \"offered\": %s", m, r->offered[m] ? "true" : "false");
        if (!strstr(buf, expect)) fail_msg("output lacks %s", expect);
    }
    assert_non_null(strstr(buf, "\"catalogues_priced\": 31"));
    prillm_lmaas_result_free(r);
    prillm_lmaas_free(mk);
    snprintf(command, sizeof command, "\"%s\" lmaas --generate --customers 3 --models 14 | \"%s\" lmaas - --catalogue exact >/dev/null 2>&1", cli, cli);
    int status = system(command);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lattice),
        cmocka_unit_test(test_lattice_matches_uniform_mean),
        cmocka_unit_test(test_seller_optimum_brute_force),
        cmocka_unit_test(test_on_demand_only_customers_earn),
        cmocka_unit_test(test_catalogue_exact_brute_force),
        cmocka_unit_test(test_catalogue_greedy_certified),
        cmocka_unit_test(test_catalogue_guards),
        cmocka_unit_test(test_catalogue_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
