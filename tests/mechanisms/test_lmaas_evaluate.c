/*
 * LMaaS out-of-sample evaluation (docs/lmaas.md, "Evaluating renting
 * rules"), on many seeded random markets. Checked against this file's own
 * evaluation written from the definitions: the realised profit by
 * enumerating the second stage's candidate service levels, U's corners by
 * intersecting its boundary lines, the nominal and hindsight optima by
 * enumerating rentals, the statistics by sorting and counting; the
 * sampler's distribution against rejection sampling.
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

static int in_scaled_u(double budget, double scale, double zu, double zg) {
    double e = 1e-12 * scale;
    return fabs(zu) <= scale + e && fabs(zg) <= scale + e && fabs(zu) + fabs(zg) <= budget * scale + e;
}

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

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double p) {
    double h = (n - 1) * p;
    int lo = (int)floor(h), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

static int below(double a, double b) { return a < b - 1e-9 * (1 + fabs(a) + fabs(b)); }

static void assert_close(double got, double want, double scale, const char *what, int trial) {
    if (!(fabs(got - want) <= 1e-9 * (1 + fabs(scale)))) fail_msg("trial %d: %s %.15g, expected %.15g", trial, what, got, want);
}

/* ---- the sampler -------------------------------------------------------- */

/* Inside draws lie in U and outside draws in F U minus U; their histogram
 * over a 6 x 6 partition of [-F, F]^2 matches rejection sampling from the
 * bounding box (an independent sampler) within 5 standard errors. */
static void test_sampler_distribution(void **state) {
    (void)state;
    static const double budgets[] = {0.3, 1, 1.4, 2};
    static const double widenings[] = {1, 1.3, 2.5};
    TestRng rng = {71};
    enum { DRAWS = 40000, CELLS = 6 };
    for (size_t b = 0; b < 4; b++)
        for (size_t w = 0; w < 3; w++) {
            double budget = budgets[b], f = widenings[w];
            long mine[CELLS * CELLS] = {0}, ref[CELLS * CELLS] = {0};
            unsigned long long st = 1000 + b * 10 + w;
            for (int d = 0; d < DRAWS; d++) {
                PrillmLmaasScenario s = prillm_lmaas_draw_scenario(budget, f, &st);
                assert_true(in_scaled_u(budget, f, s.z_demand, s.z_gain));
                if (f > 1) assert_false(in_scaled_u(budget, 1, s.z_demand, s.z_gain) &&
                                        fabs(s.z_demand) + fabs(s.z_gain) < budget - 1e-9 &&
                                        fabs(s.z_demand) < 1 - 1e-9 && fabs(s.z_gain) < 1 - 1e-9);
                int cu = (int)floor((s.z_demand + f) / (2 * f) * CELLS), cg = (int)floor((s.z_gain + f) / (2 * f) * CELLS);
                cu = cu < 0 ? 0 : cu >= CELLS ? CELLS - 1 : cu;
                cg = cg < 0 ? 0 : cg >= CELLS ? CELLS - 1 : cg;
                mine[cu * CELLS + cg]++;
            }
            long accepted = 0;
            while (accepted < 4 * DRAWS) {
                double zu = f * (2 * test_uniform(&rng) - 1), zg = f * (2 * test_uniform(&rng) - 1);
                if (!in_scaled_u(budget, f, zu, zg)) continue;
                if (f > 1 && in_scaled_u(budget, 1, zu, zg)) continue;
                int cu = (int)floor((zu + f) / (2 * f) * CELLS), cg = (int)floor((zg + f) / (2 * f) * CELLS);
                cu = cu >= CELLS ? CELLS - 1 : cu;
                cg = cg >= CELLS ? CELLS - 1 : cg;
                ref[cu * CELLS + cg]++;
                accepted++;
            }
            for (int c = 0; c < CELLS * CELLS; c++) {
                double p = (double)ref[c] / accepted, phat = (double)mine[c] / DRAWS;
                double se = sqrt(fmax(p * (1 - p), 1.0 / DRAWS) / DRAWS) + sqrt(fmax(p * (1 - p), 1.0 / accepted) / accepted);
                if (fabs(phat - p) > 5 * se)
                    fail_msg("budget %g widening %g cell %d: share %.5f, rejection sampling %.5f", budget, f, c, phat, p);
            }
        }
    /* budget 0: U is a point */
    unsigned long long st = 5;
    PrillmLmaasScenario s = prillm_lmaas_draw_scenario(0, 1, &st);
    assert_true(s.z_demand == 0 && s.z_gain == 0);
}

/* ---- the evaluation against a replay ----------------------------------- */

static void check_against_replay(const PrillmLmaasMarket *mk, const double *prices, const PrillmLmaasEvalSettings *es,
                                 const PrillmLmaasEvaluation *e, int trial) {
    int n = mk->n_customers, draws = es->draws, R = PRILLM_LMAAS_RULES;
    /* the plans: robust = RSR, the others from the nominal scenario */
    for (int i = 0; i < n; i++) {
        PrillmLmaasPlan plan;
        assert_int_equal(prillm_lmaas_rent(mk, i, prices, &plan, NULL), PRILLM_OK);
        assert_int_equal(e->models[i], plan.model);
        double nominal_best = 0, scale = 1 + mk->value[i] * mk->demand[i] * 2;
        int cheapest = -1, capable = -1;
        for (int m = 0; m < mk->n_models; m++) {
            if (isinf(prices[m])) continue;
            nominal_best = fmax(nominal_best, known_best(mk, i, m, prices[m], 0, 0));
            if (cheapest < 0 || prices[m] < prices[cheapest]) cheapest = m;
            if (capable < 0 || mk->fidelity[m] > mk->fidelity[capable]) capable = m;
        }
        int m = e->models[n + i];
        double got = m < 0 ? 0 : realised(mk, i, m, prices[m], e->rentals[n + i], 0, 0);
        assert_close(got, nominal_best, scale, "nominal plan's nominal profit", trial);
        int picks[2] = {cheapest, capable};
        for (int k = 0; k < 2; k++) {
            int r = PRILLM_LMAAS_RULE_CHEAPEST + k, pm = e->models[r * n + i];
            double want = picks[k] < 0 ? 0 : known_best(mk, i, picks[k], prices[picks[k]], 0, 0);
            if (pm >= 0) assert_int_equal(pm, picks[k]);
            got = pm < 0 ? 0 : realised(mk, i, pm, prices[pm], e->rentals[r * n + i], 0, 0);
            assert_close(got, want, scale, "fixed-model plan's nominal profit", trial);
            assert_true(pm >= 0 || want <= 1e-9 * scale);
        }
    }
    /* replay the draws */
    double *totals = calloc((size_t)R * (size_t)draws, sizeof *totals), *v = malloc((size_t)R * sizeof *v);
    double worst_single[PRILLM_LMAAS_RULES], negative[PRILLM_LMAAS_RULES] = {0};
    long lose_pairs[PRILLM_LMAAS_RULES][PRILLM_LMAAS_RULES] = {{0}};
    for (int r = 0; r < R; r++) worst_single[r] = INFINITY;
    unsigned long long st = es->seed;
    for (int d = 0; d < draws; d++)
        for (int i = 0; i < n; i++) {
            PrillmLmaasScenario s = prillm_lmaas_draw_scenario(mk->budget, es->widening, &st);
            double hind = 0;
            for (int m = 0; m < mk->n_models; m++)
                if (!isinf(prices[m])) hind = fmax(hind, known_best(mk, i, m, prices[m], s.z_demand, s.z_gain));
            if (d < 2) /* the three rentals are enough: no rental on a fine grid does better */
                for (int m = 0; m < mk->n_models; m++)
                    for (int k = 0; k <= 400 && !isinf(prices[m]); k++)
                        assert_true(realised(mk, i, m, prices[m], mk->max_rental * k / 400, s.z_demand, s.z_gain) <=
                                    hind + 1e-9 * (1 + hind));
            for (int r = 0; r < R; r++) {
                int m = e->models[r * n + i];
                if (r == PRILLM_LMAAS_RULE_HINDSIGHT) v[r] = hind;
                else v[r] = m < 0 ? 0 : realised(mk, i, m, prices[m], e->rentals[r * n + i], s.z_demand, s.z_gain);
                if (r != PRILLM_LMAAS_RULE_HINDSIGHT && m >= 0 && v[r] < 0) negative[r]++;
                totals[r * draws + d] += v[r];
                worst_single[r] = fmin(worst_single[r], v[r]);
            }
            for (int a = 0; a < R; a++)
                for (int b = 0; b < R; b++) lose_pairs[a][b] += a != b && below(v[a], v[b]);
        }
    double *sorted = malloc((size_t)draws * sizeof *sorted);
    static const double levels[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    for (int r = 0; r < R; r++) {
        const PrillmLmaasRuleStats *x = &e->rules[r];
        double *t = totals + r * draws, mean = 0, sq = 0;
        for (int d = 0; d < draws; d++) mean += t[d] / draws;
        for (int d = 0; d < draws; d++) sq += (t[d] - mean) * (t[d] - mean);
        memcpy(sorted, t, (size_t)draws * sizeof *sorted);
        qsort(sorted, (size_t)draws, sizeof *sorted, compare_doubles);
        double scale = fabs(mean) + sorted[draws - 1] - sorted[0];
        assert_close(x->mean, mean, scale, "mean", trial);
        assert_close(x->stddev, draws > 1 ? sqrt(sq / (draws - 1)) : 0, scale, "stddev", trial);
        assert_close(x->worst_observed, sorted[0], scale, "worst observed", trial);
        assert_close(x->best_observed, sorted[draws - 1], scale, "best observed", trial);
        for (int q = 0; q < 5; q++) assert_close(x->quantiles[q], quantile(sorted, draws, levels[q]), scale, "quantile", trial);
        assert_close(x->customer_worst, worst_single[r], scale, "customer worst", trial);
        int renters = 0;
        double worst_case = 0, c[16][2];
        int nc = corners(mk->budget, c);
        for (int i = 0; i < n && r != PRILLM_LMAAS_RULE_HINDSIGHT; i++) {
            int m = e->models[r * n + i];
            if (m < 0) continue;
            renters++;
            double low = INFINITY;
            for (int k = 0; k < nc; k++)
                low = fmin(low, realised(mk, i, m, prices[m], e->rentals[r * n + i], es->widening * c[k][0], es->widening * c[k][1]));
            worst_case += low;
        }
        if (r != PRILLM_LMAAS_RULE_HINDSIGHT) {
            assert_int_equal(x->renters, renters);
            assert_close(x->worst_case, worst_case, scale, "worst case", trial);
            assert_close(x->negative_share, renters ? negative[r] / ((double)renters * draws) : 0, 1, "negative share", trial);
            /* no draw is worse than the exact worst case over the region */
            assert_true(x->worst_observed >= worst_case - 1e-9 * (1 + fabs(worst_case)));
        } else {
            assert_true(isnan(x->worst_case));
        }
        for (int b = 0; b < R; b++) {
            long lost = 0;
            for (int d = 0; d < draws; d++) lost += below(t[d], totals[b * draws + d]);
            if (b == r) continue;
            assert_close(e->loses_draws[r][b], (double)lost / draws, 1, "loses (draws)", trial);
            assert_close(e->loses_pairs[r][b], (double)lose_pairs[r][b] / ((double)n * draws), 1, "loses (pairs)", trial);
        }
        /* hindsight is an upper bound draw by draw and customer by customer */
        if (r == PRILLM_LMAAS_RULE_HINDSIGHT)
            for (int b = 0; b < R; b++) assert_true(e->loses_pairs[r][b] == 0 && e->loses_draws[r][b] == 0);
    }
    free(sorted);
    free(totals);
    free(v);
}

static void test_evaluation_matches_replay(void **state) {
    (void)state;
    TestRng rng = {72};
    int outside = 0, offered_some = 0;
    for (int trial = 0; trial < 60; trial++) {
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 1, 12), test_int(&rng, 1, 4), 20000 + (uint64_t)trial);
        double prices[4];
        for (int m = 0; m < mk->n_models; m++) prices[m] = test_int(&rng, 0, 4) == 0 ? INFINITY : 10 * test_uniform(&rng);
        for (int m = 0; m < mk->n_models; m++) offered_some += !isinf(prices[m]);
        PrillmLmaasEvalSettings es;
        prillm_lmaas_default_eval_settings(&es);
        es.draws = test_int(&rng, 1, 150);
        es.seed = (unsigned long long)test_int(&rng, 0, 1000000);
        if (mk->budget > 0 && test_int(&rng, 0, 1)) {
            es.widening = 1 + 2 * test_uniform(&rng);
            outside++;
        }
        PrillmLmaasEvaluation *e = NULL;
        PrillmError err;
        assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_OK);
        assert_int_equal(e->draws, es.draws);
        check_against_replay(mk, prices, &es, e, trial);
        prillm_lmaas_evaluation_free(e);
        prillm_lmaas_free(mk);
    }
    assert_true(outside > 10 && offered_some > 40);
}

/* Properties that hold whatever the draws. */
static void test_evaluation_properties(void **state) {
    (void)state;
    TestRng rng = {73};
    int robust_lost_mean = 0, robust_won_outside = 0;
    for (int trial = 0; trial < 40; trial++) {
        PrillmLmaasMarket *mk = market(&rng, test_int(&rng, 5, 30), test_int(&rng, 1, 4), 30000 + (uint64_t)trial);
        if (mk->budget == 0) mk->budget = 2;
        double prices[4];
        for (int m = 0; m < mk->n_models; m++) prices[m] = (1 + 2 * test_uniform(&rng)) * mk->serving_cost[m];
        PrillmLmaasEvalSettings es;
        prillm_lmaas_default_eval_settings(&es);
        es.draws = 100;
        es.seed = (unsigned long long)trial;
        PrillmLmaasEvaluation *in = NULL, *out = NULL, *again = NULL;
        assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &in, NULL), PRILLM_OK);
        assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &again, NULL), PRILLM_OK);
        assert_memory_equal(in->totals, again->totals, sizeof(double) * PRILLM_LMAAS_RULES * (size_t)es.draws);
        es.widening = 1.5;
        assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &out, NULL), PRILLM_OK);
        double tol = 1e-9 * (1 + fabs(in->rules[0].mean));
        /* the robust plan maximises the worst case over U, customer by
         * customer, so its worst case is at least every other rule's and
         * equals the sum of RSR's robust profits */
        double robust_sum = 0;
        for (int i = 0; i < mk->n_customers; i++) {
            PrillmLmaasPlan plan;
            assert_int_equal(prillm_lmaas_rent(mk, i, prices, &plan, NULL), PRILLM_OK);
            robust_sum += plan.robust_profit;
        }
        assert_true(fabs(in->rules[0].worst_case - robust_sum) <= tol);
        for (int r = 1; r < PRILLM_LMAAS_RULE_HINDSIGHT; r++) {
            assert_true(in->rules[0].worst_case >= in->rules[r].worst_case - tol);
            /* a wider region has a lower worst case (same plans) */
            assert_true(out->rules[r].worst_case <= in->rules[r].worst_case + tol);
        }
        /* inside U the robust rule never earns less than its guarantee */
        assert_true(in->rules[0].negative_share == 0 || robust_sum < 0);
        assert_true(in->rules[0].worst_observed >= robust_sum - tol);
        robust_lost_mean += in->rules[0].mean < in->rules[1].mean;
        robust_won_outside += out->rules[0].mean > out->rules[1].mean;
        prillm_lmaas_evaluation_free(in);
        prillm_lmaas_evaluation_free(out);
        prillm_lmaas_evaluation_free(again);
        /* no uncertainty: the robust and nominal renters are the same */
        mk->budget = 0;
        es.widening = 1;
        assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &in, NULL), PRILLM_OK);
        for (int i = 0; i < mk->n_customers; i++) {
            assert_int_equal(in->models[i], in->models[mk->n_customers + i]);
            assert_true(fabs(in->rentals[i] - in->rentals[mk->n_customers + i]) <= 1e-9 * mk->max_rental);
        }
        assert_true(in->loses_draws[0][1] == 0 && in->loses_draws[1][0] == 0);
        assert_true(in->rules[0].stddev <= 1e-12 * (1 + fabs(in->rules[0].mean)) && in->rules[0].worst_observed == in->rules[0].best_observed);
        prillm_lmaas_evaluation_free(in);
        prillm_lmaas_free(mk);
    }
    /* reported, not asserted: how often each rule wins on the mean */
    print_message("robust below nominal on the mean inside U in %d of 40 markets; above it outside (x1.5) in %d\n",
                  robust_lost_mean, robust_won_outside);
}

static void test_evaluation_errors(void **state) {
    (void)state;
    PrillmLmaasMarket *mk = prillm_lmaas_random(3, 2, 1, NULL);
    double prices[2] = {1, 2};
    PrillmLmaasEvalSettings es;
    prillm_lmaas_default_eval_settings(&es);
    PrillmLmaasEvaluation *e = NULL;
    PrillmError err;
    es.draws = 0;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "draws"));
    assert_null(e);
    es.draws = 10;
    es.widening = 0.5;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "widening"));
    es.widening = 2;
    mk->budget = 0;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "budget"));
    mk->budget = 2;
    prices[1] = NAN;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "prices[1]"));
    prices[1] = -1;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_ERR_INVALID_ARGUMENT);
    /* nothing offered: every rule stays out and earns 0 */
    prices[0] = prices[1] = INFINITY;
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, &e, &err), PRILLM_OK);
    for (int r = 0; r < PRILLM_LMAAS_RULES; r++) assert_true(e->rules[r].mean == 0 && e->rules[r].renters == 0);
    prillm_lmaas_evaluation_free(e);
    assert_int_equal(prillm_lmaas_evaluate(mk, prices, &es, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(prillm_lmaas_rule_name(PRILLM_LMAAS_RULES));
    assert_string_equal(prillm_lmaas_rule_name(PRILLM_LMAAS_RULE_NOMINAL), "nominal");
    prillm_lmaas_free(mk);
}

static char *run(const char *command, int *status) {
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    char *text = NULL;
    size_t cap = 0;
    FILE *out = open_memstream(&text, &cap);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, pipe)) > 0) fwrite(buf, 1, got, out);
    fclose(out);
    *status = pclose(pipe);
    return text;
}

static void test_evaluate_command(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI"), *src = getenv("PRILLM_SOURCE_DIR");
    if (!cli || !src) skip();
    static const struct {
        const char *args;
        int code;
    } cases[] = {
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --method fixed --evaluate --draws 50", 0},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --evaluate --draws 50 --seed 3 --outside 1.5 --table", 0},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --draws 50", 2},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --evaluate --draws 0", 2},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --evaluate --outside 1", 2},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --evaluate --outside x", 2},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --table", 2},
        {"\"$PRILLM_SOURCE_DIR/data/lmaas/example.json\" --evaluate --table --json", 2},
        {"--generate --evaluate", 2},
    };
    char command[2048];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(command, sizeof command, "\"%s\" lmaas %s >/dev/null 2>&1", cli, cases[k].args);
        int status = system(command);
        assert_true(status != -1 && WIFEXITED(status));
        if (WEXITSTATUS(status) != cases[k].code)
            fail_msg("prillm lmaas %s: exit %d, expected %d", cases[k].args, WEXITSTATUS(status), cases[k].code);
    }
    /* the JSON carries the library's numbers at the file's prices */
    snprintf(command, sizeof command, "\"%s\" lmaas \"%s/data/lmaas/example.json\" --method fixed --evaluate --draws 64 --seed 9 --outside 2", cli, src);
    int status;
    char *text = run(command, &status);
    assert_int_equal(status, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/data/lmaas/example.json", src);
    FILE *f = fopen(path, "rb");
    PrillmLmaasMarket *mk = NULL;
    assert_int_equal(prillm_lmaas_read_json(f, NULL, NULL, &mk, NULL), PRILLM_OK);
    fclose(f);
    PrillmLmaasEvalSettings es;
    prillm_lmaas_default_eval_settings(&es);
    es.draws = 64;
    es.seed = 9;
    for (int region = 0; region < 2; region++) {
        es.widening = region ? 2 : 1;
        PrillmLmaasEvaluation *e = NULL;
        assert_int_equal(prillm_lmaas_evaluate(mk, mk->price, &es, &e, NULL), PRILLM_OK);
        char buf[64], expect[160];
        snprintf(expect, sizeof expect, "{\"rule\": \"nominal\", \"renters\": %d, \"mean\": %s", e->rules[1].renters,
                 prillm_format_double(e->rules[1].mean, buf, sizeof buf));
        if (!strstr(text, expect)) fail_msg("output lacks %s", expect);
        prillm_lmaas_evaluation_free(e);
    }
    assert_non_null(strstr(text, "\"region\": \"outside\""));
    free(text);
    prillm_lmaas_free(mk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler_distribution),
        cmocka_unit_test(test_evaluation_matches_replay),
        cmocka_unit_test(test_evaluation_properties),
        cmocka_unit_test(test_evaluation_errors),
        cmocka_unit_test(test_evaluate_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
