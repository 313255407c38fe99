#define _POSIX_C_SOURCE 200809L
/* Price competition (prillm_compete): every certificate checked by an
 * independent run of prillm_price (exact) at the final prices, a closed-form
 * equilibrium, truthful cycles and limits, owners pricing a line, floors and
 * caps, and the market file's competition fields. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "compete_internal.h"
#include "support.h"

static void run_compete(const PrillmMarket *mk, const int *leaders, int n_leaders, const PrillmCompeteSettings *set,
                        PrillmCompeteResult *r) {
    PrillmError err;
    PrillmErrorCode rc = prillm_compete(mk, leaders, n_leaders, set, r, &err);
    if (rc) fail_msg("prillm_compete: %s", err.message);
}

/* The profit too small to matter, as the library measures gains against. */
static double profit_unit(const PrillmMarket *mk) {
    double total = 0, top = 1;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    for (int j = 0; j < mk->n_providers; j++) top = fmax(top, fabs(mk->price[j]));
    return 1e-12 * total * top;
}

/* Leader l's relative gain from its best unilateral price, by an independent
 * exact pricing of the market at the final prices (range [0, cap]), walked
 * whole: compete's best responses are pruned above 50 pairs. Also checks
 * the reported profit against that run's own equilibrium solve. */
static double independent_gain(const PrillmMarket *mk, const PrillmCompeteResult *r, int l) {
    PrillmError err;
    PrillmMarket *at = prillm_market_copy(mk, &err);
    assert_non_null(at);
    memcpy(at->price, r->price, (size_t)mk->n_providers * sizeof(double));
    int j = r->leader[l];
    PrillmPriceSettings ps;
    prillm_price_default_settings(&ps);
    ps.prune = 0;
    if (!isnan(mk->price_max[j])) ps.p_max = mk->price_max[j];
    PrillmPriceResult pr;
    if (prillm_price(at, j, &ps, &pr, &err)) fail_msg("prillm_price: %s", err.message);
    assert_true(pr.status == PRILLM_STATUS_SOLVED);
    double unit = profit_unit(mk), now = pr.current_profit;
    assert_true(fabs(now - r->profit[j]) <= 1e-8 * fmax(fabs(now), unit));
    double gain = (pr.profit - now) / fmax(fabs(now), unit);
    prillm_price_result_clear(&pr);
    prillm_market_free(at);
    return gain;
}

/* Two identical providers, one app with demand D, no affinity. With a the
 * congestion slope w_q / kappa, the app's marginal cost on j is
 * w_p p_j + w_d d - b + 2 a f_j (its own flow is the provider's whole flow),
 * equal on both when both are used: f_1 = D/2 + w_p (p_2 - p_1) / (4a).
 * Provider 1's profit (p_1 - k) f_1 is concave there; its first-order
 * condition f_1 = (p_1 - k) w_p / (4a) at p_1 = p_2 = p gives
 *     p* = k + 2 a D / w_p = k + 2 w_q D / (kappa w_p),
 * a global best response: the pieces where one provider serves all or
 * nothing earn at most 0 against p*. */
static PrillmMarket *symmetric_market(double D, double kappa, double w_p, double w_q, double w_d, double k) {
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(1, 2, &err);
    assert_non_null(mk);
    mk->w_price = w_p;
    mk->w_congestion = w_q;
    mk->w_delay = w_d;
    const char *ids[2] = {"left", "right"};
    for (int j = 0; j < 2; j++) {
        mk->provider_id[j] = strdup(ids[j]);
        mk->price[j] = 1.0 + j; /* asymmetric start */
        mk->capacity[j] = kappa;
        mk->value[j] = 2.0;
        mk->cost[j] = k;
        mk->delay[j] = 0.7;
    }
    mk->user_id[0] = strdup("app");
    mk->demand[0] = D;
    return mk;
}

static void test_closed_form(void **state) {
    (void)state;
    const struct {
        double D, kappa, w_p, w_q, w_d, k;
    } cases[] = {{10, 5, 1, 1, 0.5, 0.5}, {37, 120, 0.8, 0.6, 0, 0}, {1e3, 2e3, 1.3, 0.9, 2, 0.05}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        PrillmMarket *mk =
            symmetric_market(cases[c].D, cases[c].kappa, cases[c].w_p, cases[c].w_q, cases[c].w_d, cases[c].k);
        double expect = cases[c].k + 2 * cases[c].w_q * cases[c].D / (cases[c].kappa * cases[c].w_p);
        for (int order = 0; order < PRILLM_COMPETE_ORDER_COUNT; order++) {
            PrillmCompeteSettings set;
            prillm_compete_default_settings(&set);
            set.order = order;
            if (order == PRILLM_COMPETE_JACOBI) set.damping = 0.5;
            PrillmCompeteResult r;
            run_compete(mk, NULL, 2, &set, &r);
            assert_int_equal(r.status, PRILLM_COMPETE_CONVERGED);
            assert_true(r.certified);
            for (int j = 0; j < 2; j++) {
                assert_true(fabs(r.price[j] - expect) <= 1e-9 * fmax(1, expect));
                assert_true(fabs(r.flow[j] - cases[c].D / 2) <= 1e-9 * cases[c].D);
                assert_true(independent_gain(mk, &r, j) <= 1e-6);
            }
            prillm_compete_result_clear(&r);
        }
        prillm_market_free(mk);
    }
}

/* Floors and caps: the answer is the constrained optimum (the profit is
 * concave in the own price in the symmetric market, so a floor above p*
 * binds, and the rival answers it on its own best-response line
 * p_2 = (2 a D / w_p + p_1 + k) / 2). */
static void test_floors_and_caps(void **state) {
    (void)state;
    PrillmMarket *mk = symmetric_market(10, 5, 1, 1, 0.5, 0.5); /* p* = 4.5 */
    PrillmCompeteSettings set;
    prillm_compete_default_settings(&set);
    PrillmCompeteResult r;
    mk->price_min[0] = 6;
    run_compete(mk, NULL, 2, &set, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_CONVERGED);
    assert_true(r.certified);
    assert_true(fabs(r.price[0] - 6) <= 1e-12);
    assert_true(fabs(r.price[1] - (4 + 6 + 0.5) / 2) <= 1e-9);
    prillm_compete_result_clear(&r);
    mk->price_min[0] = NAN;
    mk->price_max[0] = mk->price_max[1] = 3;
    run_compete(mk, NULL, 2, &set, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_CONVERGED);
    assert_true(r.certified);
    for (int j = 0; j < 2; j++) {
        assert_true(fabs(r.price[j] - 3) <= 1e-12);
        assert_true(independent_gain(mk, &r, j) <= 1e-6); /* prillm_price with pmax = the cap */
    }
    prillm_compete_result_clear(&r);
    prillm_market_free(mk);
}

/* Many random markets: a converged run is certified, and the independent
 * exact pricing agrees that no leader gains more than 1e-6; a run that
 * cycles or stops says so, and the independent check confirms that some
 * leader still gains. */
static void test_random_markets(void **state) {
    (void)state;
    int converged = 0, cycles = 0, trials = 24;
    for (int trial = 0; trial < trials; trial++) {
        TestRng rng = {0xc0de0000u + (uint64_t)trial};
        int n = test_int(&rng, 2, 7), m = test_int(&rng, 2, 4);
        PrillmMarket *mk = test_market(n, m, 500 + (uint64_t)trial, NULL);
        if (trial % 3 == 1) test_market_affinity(mk, 900 + (uint64_t)trial, 0.3);
        if (trial % 4 == 2) mk->cost[0] = 0.4 * mk->price[0];
        PrillmCompeteSettings set;
        prillm_compete_default_settings(&set);
        if (trial % 5 == 4) {
            set.order = PRILLM_COMPETE_JACOBI;
            set.damping = 0.5;
        }
        PrillmCompeteResult r;
        run_compete(mk, NULL, m, &set, &r);
        double worst = -INFINITY;
        for (int l = 0; l < r.n_leaders; l++) worst = fmax(worst, independent_gain(mk, &r, l));
        if (r.status == PRILLM_COMPETE_CONVERGED) {
            converged++;
            assert_true(r.certified);
            assert_true(r.max_gain_relative <= 1e-6);
            assert_true(worst <= 1e-6);
        } else {
            assert_true(r.status == PRILLM_COMPETE_CYCLE || r.status == PRILLM_COMPETE_ROUND_LIMIT);
            assert_false(r.certified);
            assert_true(worst > 1e-6); /* truly not an equilibrium */
            if (r.status == PRILLM_COMPETE_CYCLE) {
                cycles++;
                assert_true(r.cycle_length >= 2);
                /* the cycle ends at the final prices */
                const double *last = r.cycle + (size_t)(r.cycle_length - 1) * (size_t)r.n_leaders;
                for (int l = 0; l < r.n_leaders; l++) assert_true(last[l] == r.price[r.leader[l]]);
            } else {
                assert_int_equal(r.rounds, set.max_rounds);
            }
        }
        prillm_compete_result_clear(&r);
        prillm_market_free(mk);
    }
    print_message("%d of %d random markets converged, %d cycled\n", converged, trials, cycles);
    assert_true(converged >= trials / 2);
}

/* A genuine cycle: `prillm generate --users 6 --providers 4 --seed 5`.
 * One provider's profit curve has two nearly equal peaks, and which is
 * higher flips with a rival's price, so the best responses alternate
 * between two price vectors. */
static void test_genuine_cycle(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(6, 4, 5, &err);
    assert_non_null(mk);
    PrillmCompeteResult r;
    run_compete(mk, NULL, 4, NULL, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_CYCLE);
    assert_int_equal(r.cycle_length, 2);
    assert_false(r.certified);
    /* the two price vectors of the cycle differ */
    double apart = 0;
    for (int l = 0; l < 4; l++) apart = fmax(apart, fabs(r.cycle[l] - r.cycle[4 + l]));
    assert_true(apart > 1e-3);
    double worst = 0;
    for (int l = 0; l < 4; l++) worst = fmax(worst, independent_gain(mk, &r, l));
    assert_true(worst > 1e-4);
    assert_true(fabs(worst - r.max_gain_relative) <= 1e-6);
    prillm_compete_result_clear(&r);
    prillm_market_free(mk);
}

/* The detector on constructed best-response sequences. */
static void test_cycle_detection(void **state) {
    (void)state;
    /* a 3-cycle of two leaders: (1,2) -> (2,3) -> (3,1) -> (1,2) */
    const double three[] = {1, 2, 2, 3, 3, 1, 1, 2, 2, 3};
    assert_int_equal(prillm__compete_find_cycle(three, 3, 2, 1e-10), 3);
    assert_int_equal(prillm__compete_find_cycle(three, 4, 2, 1e-10), 3);
    assert_int_equal(prillm__compete_find_cycle(three, 2, 2, 1e-10), 0);
    /* converging (halving steps): never a cycle */
    double conv[40];
    for (int r = 0; r < 20; r++) conv[2 * r] = conv[2 * r + 1] = 5 + pow(0.5, r);
    for (int r = 0; r < 20; r++) assert_int_equal(prillm__compete_find_cycle(conv, r, 2, 1e-10), 0);
    /* a fixed point is convergence, not a 2-cycle */
    const double fixed[] = {4, 4, 4};
    assert_int_equal(prillm__compete_find_cycle(fixed, 2, 1, 1e-10), 0);
    /* a 2-cycle within the tolerance, after a transient */
    const double two[] = {9, 1, 2, 1, 2 + 1e-12};
    assert_int_equal(prillm__compete_find_cycle(two, 4, 1, 1e-10), 2);
    assert_int_equal(prillm__compete_find_cycle(two, 4, 1, 1e-13), 0);
}

static void test_limits(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(8, 4, 1, &err);
    assert_non_null(mk);
    PrillmCompeteSettings set;
    prillm_compete_default_settings(&set);
    set.max_rounds = 1;
    PrillmCompeteResult r;
    run_compete(mk, NULL, 4, &set, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_ROUND_LIMIT);
    assert_int_equal(r.rounds, 1);
    assert_false(r.certified);
    assert_true(r.max_gain_relative > 1e-6);
    prillm_compete_result_clear(&r);
    /* a time limit that has passed before the first answer: nobody moved */
    prillm_compete_default_settings(&set);
    set.time_limit = 1e-9;
    run_compete(mk, NULL, 4, &set, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_TIME_LIMIT);
    assert_int_equal(r.rounds, 0);
    for (int j = 0; j < 4; j++) assert_true(r.price[j] == mk->price[j]);
    prillm_compete_result_clear(&r);
    prillm_market_free(mk);
}

/* The owner's value (both models' profits) by a fresh equilibrium solve. */
static double owner_value(const PrillmMarket *mk, const double *price, const int *models, int count) {
    PrillmError err;
    PrillmEquilibriumSolver *solver = NULL;
    if (prillm_equilibrium_setup(&solver, mk, NULL, &err)) fail_msg("%s", err.message);
    for (int j = 0; j < mk->n_providers; j++) prillm_equilibrium_update_price(solver, j, price[j], &err);
    if (prillm_equilibrium_solve(solver, &err)) fail_msg("%s", err.message);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    double v = 0;
    for (int c = 0; c < count; c++) {
        int j = models[c];
        v += (price[j] - (isnan(mk->cost[j]) ? 0 : mk->cost[j])) * eq->provider_flow[j];
    }
    prillm_equilibrium_cleanup(solver);
    return v;
}

/* One owner with two models against fixed rivals: pricing them jointly earns
 * at least what the two earn when each best-responds on its own (their
 * Nash equilibrium), the certificate holds, and no point of an independent
 * grid over the two prices beats the joint answer. */
static void test_owner_line(void **state) {
    (void)state;
    int found = 0;
    for (int trial = 0; trial < 6; trial++) {
        PrillmMarket *mk = test_market(5, 4, 700 + (uint64_t)trial, NULL);
        if (trial % 2) mk->cost[1] = 0.3 * mk->price[1];
        int line[2] = {0, 1};
        PrillmCompeteResult apart, joint;
        run_compete(mk, line, 2, NULL, &apart);
        if (apart.status != PRILLM_COMPETE_CONVERGED) { /* the separate answers must settle to compare */
            prillm_compete_result_clear(&apart);
            prillm_market_free(mk);
            continue;
        }
        found++;
        mk->owner[0] = strdup("acme");
        mk->owner[1] = strdup("acme");
        assert_int_equal(prillm_market_owner_models(mk, "acme", NULL, 0), 2);
        run_compete(mk, line, 2, NULL, &joint);
        assert_int_equal(joint.status, PRILLM_COMPETE_CONVERGED);
        assert_int_equal(joint.n_groups, 1);
        assert_string_equal(joint.group_name[0], "acme");
        assert_true(joint.certified);
        assert_true(joint.pair_gain_relative[0] <= 1e-6);
        double unit = profit_unit(mk);
        double v_joint = joint.profit[0] + joint.profit[1], v_apart = apart.profit[0] + apart.profit[1];
        assert_true(fabs(v_joint - joint.group_value[0]) <= 1e-9 * fmax(v_joint, unit));
        assert_true(v_joint >= v_apart - 1e-9 * fmax(v_apart, unit));
        /* independent: a 21 x 21 grid over [0, 2 p] and small moves around the answer */
        double *p = malloc((size_t)mk->n_providers * sizeof(double));
        memcpy(p, joint.price, (size_t)mk->n_providers * sizeof(double));
        double best = -INFINITY, p0 = joint.price[0], p1 = joint.price[1];
        for (int u = 0; u <= 20; u++)
            for (int v = 0; v <= 20; v++) {
                p[0] = 2 * p0 * u / 20.0;
                p[1] = 2 * p1 * v / 20.0;
                best = fmax(best, owner_value(mk, p, line, 2));
            }
        for (int d = 0; d < 4; d++) {
            p[0] = p0 * (1 + ((d & 1) ? 1e-3 : -1e-3));
            p[1] = p1 * (1 + ((d & 2) ? 1e-3 : -1e-3));
            best = fmax(best, owner_value(mk, p, line, 2));
        }
        assert_true(best <= v_joint + 1e-7 * fmax(v_joint, unit));
        free(p);
        prillm_compete_result_clear(&apart);
        prillm_compete_result_clear(&joint);
        prillm_market_free(mk);
    }
    assert_true(found >= 3);
}

/* Two doubles the same bit for bit, or both NaN. */
static void assert_same(double a, double b) {
    if (isnan(a) && isnan(b)) return;
    assert_memory_equal(&a, &b, sizeof a);
}

static void assert_same_array(const double *a, const double *b, size_t count) {
    for (size_t k = 0; k < count; k++) assert_same(a[k], b[k]);
}

/* settings.threads changes the speed, never the answer: a Jacobi round's
 * answers and the certificate's deviations, computed side by side, give
 * the numbers of a one-thread run bit for bit, on random markets with
 * tastes, costs, owners of two models and leaders that are not every
 * provider; seven of them large enough for pruned best responses (above
 * 50 pairs), two of those above 2,000 (with OpenMP; without it every count
 * runs one thread). */
static void test_threads_give_the_same_result(void **state) {
    (void)state;
    int runs = 0;
    for (int trial = 0; trial < 18; trial++) {
        TestRng rng = {0x7ead0000u + (uint64_t)trial};
        /* the last two above 2,000 pairs: many pruned best responses side by side */
        int big = trial >= 16, n = big ? 60 : test_int(&rng, 3, 12), m = big ? 40 : test_int(&rng, 3, 8);
        PrillmMarket *mk = test_market(n, m, 1300 + (uint64_t)trial, NULL);
        if (trial % 2) test_market_affinity(mk, 1400 + (uint64_t)trial, 0.3);
        if (trial % 3 == 0) mk->cost[1] = 0.3 * mk->price[1];
        if (trial % 4 == 1) { /* an owner of two leading models: coordinate ascent and the pair check */
            mk->owner[0] = strdup("acme");
            mk->owner[2] = strdup("acme");
        }
        int leaders[40], L = 0;
        for (int j = 0; j < m; j++)
            if (trial % 4 != 3 || j != 1) leaders[L++] = j; /* every fourth: provider 1 follows */
        for (int order = 0; order < PRILLM_COMPETE_ORDER_COUNT; order++) {
            PrillmCompeteSettings set;
            prillm_compete_default_settings(&set);
            set.order = order;
            set.damping = order == PRILLM_COMPETE_JACOBI ? 0.5 : 1.0;
            set.max_rounds = big ? 3 : 40;
            set.pair_grid = 5;
            PrillmCompeteResult one, many;
            set.threads = 1;
            run_compete(mk, leaders, L, &set, &one);
            set.threads = 3;
            run_compete(mk, leaders, L, &set, &many);
            assert_int_equal(one.status, many.status);
            assert_int_equal(one.rounds, many.rounds);
            assert_int_equal(one.certified, many.certified);
            assert_int_equal(one.exact, many.exact);
            assert_int_equal(one.best_responses, many.best_responses);
            assert_int_equal(one.equilibrium_solves, many.equilibrium_solves);
            assert_same(one.residual, many.residual);
            assert_same(one.profit_change, many.profit_change);
            assert_same(one.max_gain_relative, many.max_gain_relative);
            assert_same_array(one.price, many.price, (size_t)m);
            assert_same_array(one.profit, many.profit, (size_t)m);
            assert_same_array(one.flow, many.flow, (size_t)m);
            assert_same_array(one.price_min, many.price_min, (size_t)L);
            assert_same_array(one.price_max, many.price_max, (size_t)L);
            assert_same_array(one.deviation_price, many.deviation_price, (size_t)L);
            assert_same_array(one.gain, many.gain, (size_t)L);
            assert_same_array(one.gain_relative, many.gain_relative, (size_t)L);
            assert_int_equal(one.n_groups, many.n_groups);
            assert_same_array(one.group_value, many.group_value, (size_t)one.n_groups);
            assert_same_array(one.pair_gain_relative, many.pair_gain_relative, (size_t)one.n_groups);
            assert_int_equal(one.cycle_length, many.cycle_length);
            if (one.cycle_length > 0)
                assert_same_array(one.cycle, many.cycle, (size_t)one.cycle_length * (size_t)L);
            /* and the deviations are the certificate's: a leader's recorded
             * gain is the independent exact walk's */
            if (!big && trial % 4 != 1 && trial % 4 != 3)
                for (int l = 0; l < L; l++)
                    assert_true(fabs(independent_gain(mk, &many, l) - many.gain_relative[l]) <= 1e-8);
            runs++;
            prillm_compete_result_clear(&one);
            prillm_compete_result_clear(&many);
        }
        prillm_market_free(mk);
    }
    assert_int_equal(runs, 36);
}

static void test_market_fields(void **state) {
    (void)state;
    const char *text = "{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0},"
                       " \"providers\": [{\"id\": \"a\", \"price\": 1, \"capacity\": 5, \"value\": 2,"
                       " \"price_min\": 0.5, \"price_max\": 3, \"owner\": \"acme\"},"
                       " {\"id\": \"b\", \"price\": 1, \"capacity\": 5, \"value\": 2, \"owner\": \"acme\"},"
                       " {\"id\": \"c\", \"price\": 1, \"capacity\": 5, \"value\": 2}],"
                       " \"users\": [{\"id\": \"u\", \"demand\": 3}], \"delay\": [[0, 0, 0]]}";
    PrillmMarket *mk = NULL;
    PrillmError err;
    assert_int_equal(prillm_market_parse_json(text, strlen(text), NULL, NULL, &mk, &err), PRILLM_OK);
    assert_true(mk->price_min[0] == 0.5 && mk->price_max[0] == 3);
    assert_true(isnan(mk->price_min[1]) && isnan(mk->price_max[2]));
    assert_string_equal(mk->owner[0], "acme");
    assert_null(mk->owner[2]);
    int models[4];
    assert_int_equal(prillm_market_owner_models(mk, "acme", models, 4), 2);
    assert_int_equal(models[1], 1);
    /* written and read back exactly */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
    fclose(f);
    PrillmMarket *back = NULL;
    assert_int_equal(prillm_market_parse_json(buf, len, NULL, NULL, &back, &err), PRILLM_OK);
    assert_true(back->price_min[0] == 0.5 && back->price_max[0] == 3 && isnan(back->price_min[2]));
    assert_string_equal(back->owner[1], "acme");
    free(buf);
    /* copies and subsets keep them */
    int pick[1] = {0};
    PrillmMarket *sub = prillm_market_subset(mk, NULL, 1, pick, 1, &err);
    assert_non_null(sub);
    assert_true(sub->price_max[0] == 3);
    assert_string_equal(sub->owner[0], "acme");
    prillm_market_free(sub);
    /* validation names the field */
    back->price_min[0] = 4;
    assert_int_equal(prillm_market_validate(back, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[0]: price_min 4 is above price_max 3"));
    back->price_min[0] = -1;
    assert_int_equal(prillm_market_validate(back, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[0].price_min must be >= 0"));
    back->price_min[0] = NAN;
    back->price_max[1] = 0;
    assert_int_equal(prillm_market_validate(back, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[1].price_max must be > 0"));
    prillm_market_free(back);
    const char *bad = "{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0},"
                      " \"providers\": [{\"id\": \"a\", \"price\": 1, \"capacity\": 5, \"value\": 2, \"owner\": 7}],"
                      " \"users\": [{\"id\": \"u\", \"demand\": 3}], \"delay\": [[0]]}";
    assert_int_equal(prillm_market_parse_json(bad, strlen(bad), NULL, NULL, &back, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[0].owner must be a non-empty string"));
    /* a market built by hand without the competition arrays still works */
    PrillmMarket bare = *mk;
    bare.owner = NULL;
    bare.price_min = bare.price_max = NULL;
    assert_int_equal(prillm_market_validate(&bare, &err), PRILLM_OK);
    PrillmCompeteResult r;
    run_compete(&bare, NULL, 3, NULL, &r);
    assert_int_equal(r.n_groups, 3);
    prillm_compete_result_clear(&r);
    prillm_market_free(mk);
}

static void test_errors(void **state) {
    (void)state;
    PrillmMarket *mk = symmetric_market(10, 5, 1, 1, 0.5, 0.5);
    PrillmCompeteSettings set;
    prillm_compete_default_settings(&set);
    PrillmCompeteResult r;
    PrillmError err;
    set.damping = 0;
    assert_int_equal(prillm_compete(mk, NULL, 2, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "damping"));
    assert_int_equal(prillm_compete_set_option(&set, "order", "sideways", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "order"));
    prillm_compete_default_settings(&set);
    int twice[2] = {1, 1};
    assert_int_equal(prillm_compete(mk, twice, 2, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "\"right\" is listed twice"));
    int outside[1] = {2};
    assert_int_equal(prillm_compete(mk, outside, 1, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "leaders[0] = 2"));
    assert_int_equal(prillm_compete(mk, NULL, 1, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    /* a monopoly needs a cap */
    PrillmMarket *one = prillm_market_subset(mk, NULL, 1, twice, 1, &err);
    assert_int_equal(prillm_compete(one, NULL, 1, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "price_max"));
    one->price_max[0] = 7;
    run_compete(one, NULL, 1, &set, &r);
    assert_int_equal(r.status, PRILLM_COMPETE_CONVERGED);
    assert_true(r.price[0] == 7);
    prillm_compete_result_clear(&r);
    prillm_market_free(one);
    /* a price that barely counts (weights.price 1e-308): no default range
     * (every price was 1e300, "converged") */
    mk->w_price = 1e-308;
    assert_int_equal(prillm_compete(mk, NULL, 2, &set, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "no default price range, give its price_max"));
    prillm_market_free(mk);
}

/* A command's JSON output without its "seconds" lines (the caller frees). */
static char *text_without_seconds(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap), line[4096];
    assert_non_null(text);
    text[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"seconds\"")) continue;
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + len, line, n + 1);
        len += n;
    }
    fclose(f);
    return text;
}

/* The command: compete --out writes the market at the final prices, which an
 * independent prillm_price confirms as an equilibrium; price --owner gives
 * the same answer on 1 and 2 threads. */
static void test_cli_out(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI"), *src = getenv("PRILLM_SOURCE_DIR");
    if (!cli || !src) {
        print_message("PRILLM_CLI or PRILLM_SOURCE_DIR not set: skipped\n");
        skip();
    }
    char out[] = "/tmp/prillm_compete_XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "\"%s\" compete \"%s/tests/data/cli_market.json\" --out %s --quiet > /dev/null", cli,
             src, out);
    int status = system(cmd);
    assert_int_equal(status, 0);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    PrillmMarket *mk = NULL;
    PrillmError err;
    assert_int_equal(prillm_market_read_json(f, NULL, NULL, &mk, &err), PRILLM_OK);
    fclose(f);
    remove(out);
    for (int j = 0; j < mk->n_providers; j++) {
        PrillmPriceResult pr;
        assert_int_equal(prillm_price(mk, j, NULL, &pr, &err), PRILLM_OK);
        double unit = profit_unit(mk);
        assert_true(pr.profit - pr.current_profit <= 1e-6 * fmax(fabs(pr.current_profit), unit));
        prillm_price_result_clear(&pr);
    }
    prillm_market_free(mk);
    /* a cycle exits 4 (output printed), with the cycle in the JSON */
    snprintf(cmd, sizeof cmd,
             "\"%s\" generate --users 6 --providers 4 --seed 5 | \"%s\" compete - --quiet | grep -q '\"status\": \"cycle\"'",
             cli, cli);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "\"%s\" generate --users 6 --providers 4 --seed 5 | \"%s\" compete - --quiet > /dev/null",
             cli, cli);
    status = system(cmd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 4);
    /* price --owner: its certificate's walks side by side, the same output
     * on 1 and 2 threads but for the time; --threads with --target is a
     * usage error */
    char market[] = "/tmp/prillm_owner_XXXXXX";
    fd = mkstemp(market);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0.1},"
          " \"providers\": [{\"id\": \"a\", \"price\": 1, \"capacity\": 5, \"value\": 2, \"owner\": \"acme\"},"
          " {\"id\": \"b\", \"price\": 1.5, \"capacity\": 4, \"value\": 2.5, \"owner\": \"acme\"},"
          " {\"id\": \"c\", \"price\": 1.2, \"capacity\": 6, \"value\": 2}],"
          " \"users\": [{\"id\": \"u\", \"demand\": 10}, {\"id\": \"v\", \"demand\": 4}],"
          " \"delay\": [[1, 2, 1.5], [2, 1, 1]]}",
          f);
    fclose(f);
    char *json[2];
    for (int t = 0; t < 2; t++) {
        snprintf(cmd, sizeof cmd, "\"%s\" price %s --owner acme --threads %d --json > %s.%d", cli, market, t + 1, market,
                 t);
        assert_int_equal(system(cmd), 0);
        char path[64];
        snprintf(path, sizeof path, "%s.%d", market, t);
        json[t] = text_without_seconds(path);
        remove(path);
    }
    assert_string_equal(json[0], json[1]);
    assert_non_null(strstr(json[0], "\"acme\""));
    free(json[0]);
    free(json[1]);
    snprintf(cmd, sizeof cmd, "\"%s\" price %s --target a --threads 2 > /dev/null 2>&1", cli, market);
    status = system(cmd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    remove(market);
}

/* The calibrated OpenRouter slice (the 30 largest models, 100 largest apps,
 * as `prillm fit --max-models 30 --max-apps 100`), every model leading;
 * skipped without ../shared/data/openrouter. */
static void test_openrouter_slice(void **state) {
    (void)state;
    char dir[1024];
    const char *src = getenv("PRILLM_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter/models.csv", src ? src : ".");
    FILE *probe = fopen(dir, "rb");
    if (!probe) {
        print_message("%s absent: skipped\n", dir);
        skip();
    }
    fclose(probe);
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter", src ? src : ".");
    PrillmFitSettings fs;
    prillm_fit_default_settings(&fs);
    fs.max_models = 30;
    fs.max_apps = 100;
    PrillmFitResult *fit = NULL;
    PrillmError err;
    if (prillm_fit_openrouter(dir, &fs, NULL, NULL, &fit, &err)) fail_msg("%s", err.message);
    const PrillmMarket *mk = fit->market;
    PrillmCompeteResult r;
    run_compete(mk, NULL, mk->n_providers, NULL, &r);
    double worst = -INFINITY;
    for (int l = 0; l < r.n_leaders; l++) worst = fmax(worst, independent_gain(mk, &r, l));
    print_message("OpenRouter slice %d x %d: %s after %d rounds, independent largest gain %.3g\n", mk->n_users,
                  mk->n_providers, prillm_compete_status_name(r.status), r.rounds, worst);
    if (r.status == PRILLM_COMPETE_CONVERGED) {
        assert_true(r.certified);
        assert_true(worst <= 1e-6);
    } else {
        assert_false(r.certified);
        assert_true(worst > 1e-6);
    }
    prillm_compete_result_clear(&r);
    prillm_fit_result_free(fit);
}

/* "--skip PATTERN" leaves tests out (valgrind skips the real-data one). */
int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--skip") == 0) cmocka_set_skip_filter(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_form),     cmocka_unit_test(test_floors_and_caps),
        cmocka_unit_test(test_random_markets),  cmocka_unit_test(test_genuine_cycle),
        cmocka_unit_test(test_cycle_detection), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_owner_line),      cmocka_unit_test(test_market_fields),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_cli_out),
        cmocka_unit_test(test_openrouter_slice), cmocka_unit_test(test_threads_give_the_same_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
