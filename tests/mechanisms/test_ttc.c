/*
 * Test-time compute games: the pay-per-compute market and the reverse
 * second-price auction (docs/ttc.md, mechanisms.md section 1.8). Every
 * property is checked against quantities the test recomputes itself from
 * the definitions (its own log-sum-exp, its own enumeration, its own
 * auction), on many seeded random instances.
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

#include <cjson/cJSON.h>
#include <cmocka.h>

#include <prillm/ttc.h>

#include "support.h"

/* ---- the test's own model ------------------------------------------------ */

typedef struct {
    double p, c, q, V, W;
} Terms;

static Terms terms(const PrillmTtcMarket *mk, int i, int k) {
    int at = mk->level_offset[i] + k;
    double a = mk->accuracy[at], f = a;
    if (mk->value_shape == PRILLM_TTC_VALUE_POWER) f = pow(a, mk->value_curvature);
    if (mk->value_shape == PRILLM_TTC_VALUE_EXP)
        f = (exp(mk->value_curvature * a) - 1) / (exp(mk->value_curvature) - 1);
    Terms t;
    t.p = mk->tokens[at] * 1e-6 * mk->list_price[i];
    t.c = t.p / (1 + mk->margin);
    t.q = mk->value_scale * (mk->value_baseline + (1 - mk->value_baseline) * f);
    t.V = t.q - t.p;
    t.W = t.q - t.c;
    return t;
}

/* ln(e^{beta v0} + sum_i e^{beta V_i}) of a profile, provider `who` at level k */
static double ref_log_z(const PrillmTtcMarket *mk, const int *level, int who, int k) {
    int n = mk->n_models;
    double x[80], top = mk->beta * mk->outside_value;
    for (int i = 0; i < n; i++) {
        x[i] = mk->beta * terms(mk, i, i == who ? k : level[i]).V;
        if (x[i] > top) top = x[i];
    }
    double sum = exp(mk->beta * mk->outside_value - top);
    for (int i = 0; i < n; i++) sum += exp(x[i] - top);
    return top + log(sum);
}

static double ref_log_utility(const PrillmTtcMarket *mk, const int *level, int who, int k) {
    Terms t = terms(mk, who, k);
    return log(t.p - t.c) + mk->beta * t.V - ref_log_z(mk, level, who, k);
}

typedef struct {
    double shares[80], outside, welfare, user_value, spend, profit;
} RefOutcome;

static RefOutcome ref_outcome(const PrillmTtcMarket *mk, const int *level) {
    RefOutcome o;
    double log_z = ref_log_z(mk, level, -1, 0);
    o.outside = exp(mk->beta * mk->outside_value - log_z);
    o.welfare = o.user_value = o.outside * mk->outside_value;
    o.spend = o.profit = 0;
    for (int i = 0; i < mk->n_models; i++) {
        Terms t = terms(mk, i, level[i]);
        double s = exp(mk->beta * t.V - log_z);
        o.shares[i] = s;
        o.welfare += s * t.W;
        o.user_value += s * t.V;
        o.spend += s * t.p;
        o.profit += s * (t.p - t.c);
    }
    return o;
}

static double ref_best_welfare(const PrillmTtcMarket *mk, int *level, int depth) {
    if (depth == mk->n_models) return ref_outcome(mk, level).welfare;
    double best = -INFINITY;
    for (int k = 0; k < mk->n_levels[depth]; k++) {
        level[depth] = k;
        double w = ref_best_welfare(mk, level, depth + 1);
        if (w > best) best = w;
    }
    return best;
}

static const double betas[] = {0.5, 10, 200, 1e3, 1e4, 1e5, 1e6};

/* A random market: random level counts, non-monotone curves allowed, every
 * value shape, outside values of both signs. */
static PrillmTtcMarket *random_market(TestRng *rng, int max_models, int max_levels) {
    int n = test_int(rng, 1, max_models), counts[PRILLM_TTC_MAX_MODELS];
    for (int i = 0; i < n; i++) counts[i] = test_int(rng, 1, max_levels);
    PrillmTtcMarket *mk = prillm_ttc_market_alloc(n, counts, NULL);
    assert_non_null(mk);
    mk->value_scale = 0.005 + 0.05 * test_uniform(rng);
    mk->value_baseline = test_int(rng, 0, 2) ? 0.1 : test_uniform(rng);
    mk->value_shape = test_int(rng, 0, 2);
    mk->value_curvature = 0.5 + 6 * test_uniform(rng);
    mk->margin = 0.05 + test_uniform(rng);
    mk->beta = betas[test_int(rng, 0, 6)];
    int v0 = test_int(rng, 0, 3);
    mk->outside_value = v0 == 0 ? 0 : v0 == 1 ? 0.01 * test_uniform(rng) : v0 == 2 ? -0.01 * test_uniform(rng) : 0;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        mk->model_id[i] = strdup(id);
        mk->list_price[i] = 0.05 + 0.3 * test_uniform(rng);
        double tokens = 100 + 400 * test_uniform(rng), acc = 0.8 * test_uniform(rng);
        for (int k = 0; k < counts[i]; k++) {
            int at = mk->level_offset[i] + k;
            mk->level_label[at] = k + 1;
            mk->tokens[at] = tokens;
            mk->accuracy[at] = acc;
            tokens *= 1.2 + 2 * test_uniform(rng);
            acc = test_int(rng, 0, 4) ? acc + (1 - acc) * 0.5 * test_uniform(rng) : acc * test_uniform(rng);
        }
    }
    PrillmError err;
    if (prillm_ttc_market_validate(mk, &err)) fail_msg("random market invalid: %s", err.message);
    return mk;
}

static double close_to(double a, double b, double rel, double abs_floor) {
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + abs_floor;
}

/* ---- 1. logit ----------------------------------------------------------- */

static void test_logit_identities(void **state) {
    (void)state;
    TestRng rng = {101};
    double values[40], shifted[40], shares[40], again[40], bumped[40];
    for (int trial = 0; trial < 3000; trial++) {
        int n = test_int(&rng, 1, 40);
        double beta = betas[test_int(&rng, 0, 6)];
        double scale = test_int(&rng, 0, 1) ? 0.02 : 2.0;
        for (int j = 0; j < n; j++) values[j] = scale * (2 * test_uniform(&rng) - 1);
        double v0 = test_int(&rng, 0, 2) ? 0 : scale * (2 * test_uniform(&rng) - 1), outside;
        double log_z = prillm_ttc_logit(n, values, v0, beta, shares, &outside);
        assert_true(isfinite(log_z));
        double sum = outside;
        for (int j = 0; j < n; j++) {
            assert_true(shares[j] >= 0 && shares[j] <= 1);
            sum += shares[j];
        }
        assert_true(outside >= 0 && outside <= 1);
        if (!(fabs(sum - 1) <= 1e-14 * (n + 1))) fail_msg("trial %d: shares sum to 1 + %.3g", trial, sum - 1);
        /* invariance to adding c to every value and to v0 */
        double c = 0.05 * (2 * test_uniform(&rng) - 1), outside2;
        for (int j = 0; j < n; j++) shifted[j] = values[j] + c;
        prillm_ttc_logit(n, shifted, v0 + c, beta, again, &outside2);
        /* the shift moves exponents by beta c: their round-off is ~ulp(beta (|V| + |c|)) */
        double tol = 1e-13 + 4e-16 * beta * (scale + fabs(c)) * 4;
        for (int j = 0; j < n; j++)
            if (!(fabs(again[j] - shares[j]) <= tol * fmax(shares[j], 1e-300) + 1e-300 || fabs(again[j] - shares[j]) <= 1e-15))
                fail_msg("trial %d: share %d not shift-invariant: %.17g vs %.17g", trial, j, again[j], shares[j]);
        /* the naive formula where it cannot overflow */
        if (beta * scale <= 20) {
            double z = exp(beta * v0);
            for (int j = 0; j < n; j++) z += exp(beta * values[j]);
            assert_true(close_to(log_z, log(z), 1e-13, 1e-13));
            for (int j = 0; j < n; j++) assert_true(close_to(shares[j], exp(beta * values[j]) / z, 1e-12, 1e-300));
        }
        /* own share rises with own value, the others' and outside's fall */
        int i = test_int(&rng, 0, n - 1);
        memcpy(bumped, values, (size_t)n * sizeof *values);
        bumped[i] += scale * 0.1 * test_uniform(&rng);
        double outside3;
        prillm_ttc_logit(n, bumped, v0, beta, again, &outside3);
        assert_true(again[i] >= shares[i]);
        assert_true(outside3 <= outside);
        for (int j = 0; j < n; j++)
            if (j != i) assert_true(again[j] <= shares[j]);
    }
}

static void test_logit_no_overflow(void **state) {
    (void)state;
    double values[3] = {0.01, 0.0101, 0.0099}, shares[3], outside;
    double log_z = prillm_ttc_logit(3, values, 0, 1e6, shares, &outside);
    assert_true(isfinite(log_z));
    assert_true(fabs(log_z - (1e6 * 0.0101 + log(1 + 2 * exp(-100.0)))) <= 1e-9);
    assert_true(fabs(shares[1] - 1) <= 1e-40 + 1e-15);
    assert_true(shares[0] > 0 && shares[0] < 1e-40);
    assert_true(outside == 0 || outside < 1e-300);
    /* the outside option dominates */
    prillm_ttc_logit(3, values, 1.0, 1e6, shares, &outside);
    assert_true(outside == 1.0 && shares[0] == 0.0);
    /* -beta V huge: all shares still defined */
    double negative[2] = {-1e3, -1e3};
    prillm_ttc_logit(2, negative, -1e3, 1e12, shares, &outside);
    assert_true(fabs(shares[0] - 1.0 / 3) <= 1e-15 && fabs(outside - 1.0 / 3) <= 1e-15);
}

/* ---- market evaluation and the potential ---------------------------------- */

static void random_profile(TestRng *rng, const PrillmTtcMarket *mk, int *level) {
    for (int i = 0; i < mk->n_models; i++) level[i] = test_int(rng, 0, mk->n_levels[i] - 1);
}

static void test_outcome_matches_definitions(void **state) {
    (void)state;
    TestRng rng = {202};
    PrillmError err;
    int level[PRILLM_TTC_MAX_MODELS];
    for (int trial = 0; trial < 400; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 8, 6);
        PrillmTtcOutcome *o = prillm_ttc_outcome_alloc(mk->n_models, &err);
        assert_non_null(o);
        for (int rep = 0; rep < 5; rep++) {
            random_profile(&rng, mk, level);
            assert_int_equal(prillm_ttc_evaluate(mk, level, o, &err), PRILLM_OK);
            RefOutcome ref = ref_outcome(mk, level);
            double money = mk->value_scale + 1e-3;
            for (int i = 0; i < mk->n_models; i++) {
                Terms t = terms(mk, i, level[i]);
                assert_int_equal(o->level[i], level[i]);
                assert_true(close_to(o->price[i], t.p, 1e-14, 0));
                assert_true(close_to(o->cost[i], t.c, 1e-14, 0));
                assert_true(close_to(o->quality[i], t.q, 1e-13, 0));
                if (!close_to(o->shares[i], ref.shares[i], 1e-9, 1e-300))
                    fail_msg("trial %d: share %d %.17g vs %.17g (beta %g)", trial, i, o->shares[i], ref.shares[i],
                             mk->beta);
                assert_true(close_to(o->utility[i], ref.shares[i] * (t.p - t.c), 1e-9, 1e-300));
            }
            assert_true(close_to(o->outside_share, ref.outside, 1e-9, 1e-300));
            assert_true(close_to(o->welfare, ref.welfare, 1e-9, 1e-15 * money));
            assert_true(close_to(o->user_value, ref.user_value, 1e-9, 1e-15 * money));
            assert_true(close_to(o->user_spend, ref.spend, 1e-9, 1e-15 * money));
            assert_true(close_to(o->provider_profit, ref.profit, 1e-9, 1e-15 * money));
            /* the identities the welfare accounting rests on */
            assert_true(close_to(o->welfare, o->user_value + o->provider_profit, 1e-12, 1e-16 * money));
            assert_true(close_to(o->provider_profit, mk->margin / (1 + mk->margin) * o->user_spend, 1e-12, 1e-300));
        }
        /* a profile outside the levels is refused */
        level[0] = mk->n_levels[0];
        assert_int_equal(prillm_ttc_evaluate(mk, level, o, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "level[0]"));
        prillm_ttc_outcome_free(o);
        prillm_ttc_market_free(mk);
    }
}

static void test_potential_is_exact(void **state) {
    (void)state;
    TestRng rng = {303};
    int level[PRILLM_TTC_MAX_MODELS];
    long moves = 0, sign_checked = 0;
    double worst = 0;
    for (int trial = 0; trial < 250; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 8, 6);
        random_profile(&rng, mk, level);
        double phi = prillm_ttc_potential(mk, level);
        assert_true(isfinite(phi));
        for (int rep = 0; rep < 200; rep++) {
            int i = test_int(&rng, 0, mk->n_models - 1), k = test_int(&rng, 0, mk->n_levels[i] - 1);
            double before = ref_log_utility(mk, level, i, level[i]), after = ref_log_utility(mk, level, i, k);
            double u_before = exp(before), u_after = exp(after);
            /* the library's utility is the same number */
            assert_true(close_to(prillm_ttc_utility(mk, level, i, k), u_after, 1e-9, 1e-300));
            level[i] = k;
            double phi_new = prillm_ttc_potential(mk, level);
            double d_phi = phi_new - phi, d_log_u = after - before;
            /* Phi holds beta sum V, so its round-off scales with beta |V| */
            double magnitude = 1 + fabs(phi) + fabs(phi_new);
            double err = fabs(d_phi - d_log_u) / magnitude;
            if (err > worst) worst = err;
            if (!(err <= 1e-12))
                fail_msg("trial %d: dPhi %.17g vs d ln u %.17g (beta %g)", trial, d_phi, d_log_u, mk->beta);
            if (fabs(d_phi) > 1e-9 * magnitude) {
                sign_checked++;
                assert_true((d_phi > 0) == (d_log_u > 0));
                if (u_before > 1e-290 && u_after > 1e-290) assert_true((d_phi > 0) == (u_after > u_before));
            }
            phi = phi_new;
            moves++;
        }
        prillm_ttc_market_free(mk);
    }
    print_message("potential: %ld moves, %ld with a sign, worst |dPhi - d ln u| / (1 + |Phi|) = %.3g\n", moves,
                  sign_checked, worst);
    assert_true(sign_checked > moves / 2);
}

/* ---- dynamics, optimum, price of anarchy ---------------------------------- */

typedef struct {
    const PrillmTtcMarket *mk;
    int level[PRILLM_TTC_MAX_MODELS];
    double potential;
    double best_visited;
    int moves;
    int failures;
} Path;

static void on_move(void *context, int round, int provider, int from, int to, const int *profile, double potential) {
    Path *p = context;
    (void)round;
    if (p->level[provider] != from || profile[provider] != to || from == to) p->failures++;
    p->level[provider] = to;
    for (int i = 0; i < p->mk->n_models; i++)
        if (profile[i] != p->level[i]) p->failures++;
    /* every improving move raises the exact potential */
    if (!(potential > p->potential)) p->failures++;
    p->potential = potential;
    double w = ref_outcome(p->mk, p->level).welfare;
    if (w > p->best_visited) p->best_visited = w;
    p->moves++;
}

static void test_dynamics_end_at_nash(void **state) {
    (void)state;
    TestRng rng = {404};
    PrillmError err;
    long total_moves = 0;
    for (int trial = 0; trial < 1000; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 6);
        PrillmTtcSettings s;
        prillm_ttc_default_settings(&s);
        s.seed = trial;
        Path path = {mk, {0}, 0, 0, 0, 0};
        path.potential = prillm_ttc_potential(mk, path.level);
        path.best_visited = ref_outcome(mk, path.level).welfare;
        PrillmTtcMarketResult *r = NULL;
        assert_int_equal(prillm_ttc_market_solve(mk, &s, on_move, &path, &r, &err), PRILLM_OK);
        assert_int_equal(r->status, PRILLM_STATUS_SOLVED);
        assert_int_equal(path.failures, 0);
        assert_int_equal(path.moves, r->moves);
        total_moves += r->moves;
        const PrillmTtcOutcome *ne = r->equilibrium;
        for (int i = 0; i < mk->n_models; i++) assert_int_equal(ne->level[i], path.level[i]);
        /* a pure Nash equilibrium: no provider gains more than the tolerance by any level */
        for (int i = 0; i < mk->n_models; i++) {
            double u = exp(ref_log_utility(mk, ne->level, i, ne->level[i]));
            double threshold = u != 0 ? u + s.tolerance * u : s.zero_margin;
            for (int k = 0; k < mk->n_levels[i]; k++) {
                double alt = exp(ref_log_utility(mk, ne->level, i, k));
                if (!(alt <= threshold * (1 + 1e-12)))
                    fail_msg("trial %d: provider %d gains from level %d to %d: %.17g > %.17g", trial, i, ne->level[i], k,
                             alt, u);
            }
        }
        /* the optimum: the test's own enumeration */
        int scratch[PRILLM_TTC_MAX_MODELS];
        double best = ref_best_welfare(mk, scratch, 0), money = mk->value_scale;
        assert_non_null(r->optimum);
        if (!close_to(r->optimum->welfare, best, 1e-9, 1e-15 * money))
            fail_msg("trial %d: optimum %.17g vs enumeration %.17g (beta %g)", trial, r->optimum->welfare, best, mk->beta);
        assert_true(close_to(ref_outcome(mk, r->optimum->level).welfare, best, 1e-9, 1e-15 * money));
        assert_true(r->optimum->welfare >= ne->welfare);
        assert_true(best >= path.best_visited - 1e-12 * money);
        if (ne->welfare > 1e-9) {
            assert_true(r->price_of_anarchy >= 1.0);
            assert_true(close_to(r->price_of_anarchy, r->optimum->welfare / ne->welfare, 1e-15, 0));
        } else {
            assert_true(r->price_of_anarchy == 1.0);
        }
        prillm_ttc_market_result_free(r);
        prillm_ttc_market_free(mk);
    }
    print_message("dynamics: 1000 markets, %ld moves in all\n", total_moves);
    assert_true(total_moves > 1000);
}

static void test_round_limit_and_profile_limit(void **state) {
    (void)state;
    TestRng rng = {505};
    PrillmError err;
    int limited = 0;
    for (int trial = 0; trial < 200; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 6);
        PrillmTtcSettings s;
        prillm_ttc_default_settings(&s);
        s.max_rounds = 1;
        s.max_profiles = 1;
        PrillmTtcMarketResult *r = NULL;
        assert_int_equal(prillm_ttc_market_solve(mk, &s, NULL, NULL, &r, &err), PRILLM_OK);
        double profiles = 1;
        for (int i = 0; i < mk->n_models; i++) profiles *= mk->n_levels[i];
        if (profiles > 1) {
            assert_null(r->optimum);
            assert_true(isnan(r->price_of_anarchy));
            int level[PRILLM_TTC_MAX_MODELS];
            double w;
            assert_int_equal(prillm_ttc_welfare_optimum(mk, 1, level, &w, &err), PRILLM_ERR_TOO_LARGE);
        }
        /* one round is enough only if that round made no move */
        if (r->moves > 0) {
            assert_int_equal(r->status, PRILLM_STATUS_INACCURATE);
            limited++;
        } else {
            assert_int_equal(r->status, PRILLM_STATUS_SOLVED);
        }
        prillm_ttc_market_result_free(r);
        prillm_ttc_market_free(mk);
    }
    assert_true(limited > 20);
}

/* With no markup nobody earns anything: no move improves, the potential is
 * -inf, and the market still reports its shares and welfare. */
static void test_zero_margin_market(void **state) {
    (void)state;
    TestRng rng = {515};
    PrillmError err;
    for (int trial = 0; trial < 50; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 6);
        mk->margin = 0;
        PrillmTtcMarketResult *r = NULL;
        assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &r, &err), PRILLM_OK);
        assert_int_equal(r->status, PRILLM_STATUS_SOLVED);
        assert_int_equal(r->moves, 0);
        assert_true(isinf(r->equilibrium->potential) && r->equilibrium->potential < 0);
        for (int i = 0; i < mk->n_models; i++) {
            assert_int_equal(r->equilibrium->level[i], 0);
            assert_true(r->equilibrium->utility[i] == 0);
        }
        assert_true(close_to(r->equilibrium->welfare, r->equilibrium->user_value, 1e-15, 0));
        prillm_ttc_market_result_free(r);
        prillm_ttc_market_free(mk);
    }
}

static void test_settings_table(void **state) {
    (void)state;
    PrillmTtcSettings s;
    PrillmError err;
    prillm_ttc_default_settings(&s);
    assert_int_equal(s.max_rounds, 1000);
    assert_true(s.tolerance == 1e-8 && s.zero_margin == 1e-9 && s.seed == 0);
    assert_int_equal(prillm_ttc_check_settings(&s, &err), PRILLM_OK);
    assert_int_equal(prillm_ttc_set_option(&s, "max-rounds", "7", &err), PRILLM_OK);
    assert_int_equal(s.max_rounds, 7);
    assert_int_equal(prillm_ttc_set_option(&s, "max-rounds", "0", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_ttc_set_option(&s, "max-rounds", "2.5", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_ttc_set_option(&s, "tolerance", "nan", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_ttc_set_option(&s, "colour", "1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "colour"));
    s.tolerance = -1;
    assert_int_equal(prillm_ttc_check_settings(&s, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "tolerance"));
}

/* ---- the auction ---------------------------------------------------------- */

/* The test's own mechanism: best and second-best by score with ties to the
 * lower index, the reserve as a phantom that loses ties. */
static void ref_auction(int n, const double *q, const double *b, double reserve, int *winner, double *runner_score) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (q[i] - b[i] >= reserve && (best < 0 || q[i] - b[i] > q[best] - b[best])) best = i;
    *winner = best;
    double second = reserve;
    for (int i = 0; i < n; i++)
        if (i != best && q[i] - b[i] > second) second = q[i] - b[i];
    *runner_score = second;
}

static void test_auction_golden(void **state) {
    (void)state;
    /* mechanisms.md 1.8: W = (0.5, 0.3, 0.2), q_w = 0.9 gives P = 0.6,
     * user utility 0.3, winner utility 0.2 */
    double q[3] = {0.9, 0.8, 0.6}, b[3] = {0.4, 0.5, 0.4};
    PrillmTtcAuctionOutcome o;
    PrillmError err;
    assert_int_equal(prillm_ttc_auction_run(3, q, b, NULL, 0, &o, &err), PRILLM_OK);
    assert_int_equal(o.winner, 0);
    assert_int_equal(o.runner_up, 1);
    assert_true(fabs(o.payment - 0.6) <= 1e-15);
    assert_true(fabs(o.runner_up_score - 0.3) <= 1e-15);
    assert_true(fabs((q[0] - o.payment) - 0.3) <= 1e-15);
    assert_true(fabs((o.payment - b[0]) - 0.2) <= 1e-15);
    assert_true(fabs(o.winner_score - 0.5) <= 1e-15);

    /* the shipped hand-checkable file: numbers exact in binary */
    const char *src = getenv("PRILLM_SOURCE_DIR");
    if (!src) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ttc/golden.json", src);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    PrillmTtcMarket *mk = NULL;
    assert_int_equal(prillm_ttc_market_read_json(in, NULL, NULL, &mk, &err), PRILLM_OK);
    fclose(in);
    PrillmTtcAuctionResult *r = NULL;
    assert_int_equal(prillm_ttc_auction(mk, &r, &err), PRILLM_OK);
    assert_int_equal(r->level[0], 1);
    assert_int_equal(r->level[1], 1);
    assert_int_equal(r->level[2], 0);
    assert_true(r->score[0] == 0.5 && r->score[1] == 0.25 && r->score[2] == 0.125);
    assert_int_equal(r->outcome.winner, 0);
    assert_int_equal(r->outcome.runner_up, 1);
    assert_true(r->outcome.payment == 0.625);
    assert_true(r->user_utility == 0.25 && r->utility[0] == 0.25 && r->utility[1] == 0 && r->utility[2] == 0);
    assert_true(r->welfare == 0.5);
    prillm_ttc_auction_result_free(r);
    /* and its market at beta = 2: A over-provisions (level 2) */
    PrillmTtcMarketResult *m = NULL;
    assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &m, &err), PRILLM_OK);
    assert_int_equal(m->equilibrium->level[0], 2);
    assert_int_equal(m->optimum->level[0], 1);
    assert_true(m->price_of_anarchy > 1.5);
    prillm_ttc_market_result_free(m);
    prillm_ttc_market_free(mk);
}

static void test_auction_matches_definition(void **state) {
    (void)state;
    TestRng rng = {606};
    PrillmError err;
    double q[12], b[12], realised[12];
    for (int trial = 0; trial < 20000; trial++) {
        int n = test_int(&rng, 1, 12);
        /* coarse grids make ties between bidders and with the reserve common */
        int grid = test_int(&rng, 0, 1);
        for (int i = 0; i < n; i++) {
            q[i] = grid ? test_int(&rng, 0, 8) / 8.0 : test_uniform(&rng);
            b[i] = grid ? test_int(&rng, 0, 8) / 8.0 : test_uniform(&rng);
            realised[i] = q[i] + (test_uniform(&rng) - 0.5) * 0.1;
        }
        double reserve = grid ? test_int(&rng, -2, 2) / 8.0 : 0.4 * (test_uniform(&rng) - 0.5);
        int use_realised = test_int(&rng, 0, 1);
        PrillmTtcAuctionOutcome o;
        assert_int_equal(prillm_ttc_auction_run(n, q, b, use_realised ? realised : NULL, reserve, &o, &err), PRILLM_OK);
        int winner;
        double second;
        ref_auction(n, q, b, reserve, &winner, &second);
        assert_int_equal(o.winner, winner);
        if (winner < 0) {
            assert_true(o.payment == 0);
            continue;
        }
        assert_true(o.runner_up_score == second);
        if (o.runner_up >= 0) assert_true(q[o.runner_up] - b[o.runner_up] == second && o.runner_up != winner);
        else assert_true(second == reserve);
        assert_true(o.payment == (use_realised ? realised[winner] : q[winner]) - second);
        /* A3, A4 on the bids */
        assert_true(o.winner_score >= o.runner_up_score);
        assert_true(o.payment >= b[winner] - 1e-15 || use_realised);
        if (!use_realised) assert_true(o.payment <= q[winner] - reserve);
    }
}

static void test_auction_edge_cases(void **state) {
    (void)state;
    PrillmTtcAuctionOutcome o;
    PrillmError err;
    /* one bidder pays against the reserve */
    double q1 = 0.75, b1 = 0.25;
    assert_int_equal(prillm_ttc_auction_run(1, &q1, &b1, NULL, 0.125, &o, &err), PRILLM_OK);
    assert_true(o.winner == 0 && o.runner_up == -1 && o.payment == 0.625);
    /* below the reserve nobody is served */
    assert_int_equal(prillm_ttc_auction_run(1, &q1, &b1, NULL, 0.75, &o, &err), PRILLM_OK);
    assert_true(o.winner == -1 && o.payment == 0 && o.runner_up == 0);
    /* a score equal to the reserve is served (the phantom loses ties), at zero profit */
    assert_int_equal(prillm_ttc_auction_run(1, &q1, &b1, NULL, 0.5, &o, &err), PRILLM_OK);
    assert_true(o.winner == 0 && o.payment == 0.25);
    /* a tie at the top goes to the lower index, who then earns nothing */
    double q[3] = {0.5, 0.75, 0.75}, b[3] = {0.25, 0.25, 0.25};
    assert_int_equal(prillm_ttc_auction_run(3, q, b, NULL, 0, &o, &err), PRILLM_OK);
    assert_true(o.winner == 1 && o.runner_up == 2 && o.payment == 0.25);
    /* bad calls */
    assert_int_equal(prillm_ttc_auction_run(0, q, b, NULL, 0, &o, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_true(o.winner == -1 && isnan(o.payment));
    q[1] = NAN;
    assert_int_equal(prillm_ttc_auction_run(3, q, b, NULL, 0, &o, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "bid 1"));
    q[1] = 0.75;
    assert_int_equal(prillm_ttc_auction_run(3, q, b, NULL, INFINITY, &o, &err), PRILLM_ERR_INVALID_ARGUMENT);
}

/* Utility of provider i when it bids (quality_bid, price_bid) and delivers
 * level k while every other provider bids truthfully. */
static double deviation_utility(const PrillmTtcMarket *mk, const PrillmTtcAuctionResult *truthful, int i, int k,
                                double quality_bid, double price_bid, int pay_on_realised) {
    int n = mk->n_models;
    double q[PRILLM_TTC_MAX_MODELS], b[PRILLM_TTC_MAX_MODELS], realised[PRILLM_TTC_MAX_MODELS];
    for (int j = 0; j < n; j++) {
        q[j] = truthful->quality_bid[j];
        b[j] = truthful->price_bid[j];
        realised[j] = q[j];
    }
    Terms t = terms(mk, i, k);
    q[i] = quality_bid;
    b[i] = price_bid;
    realised[i] = t.q;
    PrillmTtcAuctionOutcome o;
    PrillmError err;
    assert_int_equal(prillm_ttc_auction_run(n, q, b, pay_on_realised ? realised : NULL, mk->outside_value, &o, &err),
                     PRILLM_OK);
    return o.winner == i ? o.payment - t.c : 0.0;
}

static void test_auction_truthful_is_dominant(void **state) {
    (void)state;
    TestRng rng = {707};
    PrillmError err;
    long deviations = 0;
    for (int trial = 0; trial < 600; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 6);
        PrillmTtcAuctionResult *r = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &r, &err), PRILLM_OK);
        double money = mk->value_scale;
        for (int i = 0; i < mk->n_models; i++) {
            /* A5: the bid level maximises the provider's own surplus */
            for (int k = 0; k < mk->n_levels[i]; k++) assert_true(terms(mk, i, k).W <= r->score[i] + 1e-15 * money);
            double truthful = deviation_utility(mk, r, i, r->level[i], r->quality_bid[i], r->price_bid[i], 0);
            assert_true(close_to(truthful, r->utility[i], 1e-12, 1e-17));
            for (int k = 0; k < mk->n_levels[i]; k++) {
                Terms t = terms(mk, i, k);
                for (int shade = -6; shade <= 6; shade++) {
                    /* price bids from 0.7 to 1.3 times the true cost, and
                     * additive shifts that can flip the ranking */
                    double prices[2] = {t.c * (1 + 0.05 * shade), t.c + 0.05 * shade * money};
                    for (int form = 0; form < 2; form++) {
                        /* quality audited: bid quality is the true q(k) */
                        double u = deviation_utility(mk, r, i, k, t.q, prices[form], 0);
                        if (u > truthful + 1e-15 * money)
                            fail_msg("trial %d: provider %d gains %.3g by level %d, price %.17g", trial, i, u - truthful,
                                     k, prices[form]);
                        /* payment on realised quality: misreports of quality too */
                        for (int lie = -3; lie <= 3; lie++) {
                            double u2 = deviation_utility(mk, r, i, k, t.q + 0.1 * lie * money, prices[form], 1);
                            if (u2 > truthful + 1e-15 * money)
                                fail_msg("trial %d: provider %d gains %.3g with quality lie %d", trial, i, u2 - truthful,
                                         lie);
                            deviations++;
                        }
                        deviations++;
                    }
                }
            }
        }
        prillm_ttc_auction_result_free(r);
        prillm_ttc_market_free(mk);
    }
    print_message("truthfulness: %ld unilateral deviations, none profitable\n", deviations);
}

static void test_auction_efficiency_and_rationality(void **state) {
    (void)state;
    TestRng rng = {808};
    PrillmError err;
    for (int trial = 0; trial < 600; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 6);
        PrillmTtcAuctionResult *r = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &r, &err), PRILLM_OK);
        double money = mk->value_scale, best = mk->outside_value;
        for (int i = 0; i < mk->n_models; i++)
            for (int k = 0; k < mk->n_levels[i]; k++) best = fmax(best, terms(mk, i, k).W);
        /* A2: the auction reaches the best surplus over all (i, k) and the outside option ... */
        assert_true(close_to(r->welfare, best, 1e-14, 0));
        /* ... which no market profile beats */
        PrillmTtcMarketResult *m = NULL;
        assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &m, &err), PRILLM_OK);
        assert_true(r->welfare >= m->optimum->welfare - 1e-12 * money);
        prillm_ttc_market_result_free(m);
        /* A3: individual rationality; A4: winner paid at least its bid, user never worse than outside */
        int w = r->outcome.winner;
        double sum = 0;
        for (int i = 0; i < mk->n_models; i++) {
            if (i != w) assert_true(r->utility[i] == 0);
            sum += r->utility[i];
        }
        assert_true(r->user_utility >= mk->outside_value - 1e-15 * money);
        if (w >= 0) {
            assert_true(r->utility[w] >= 0);
            assert_true(r->outcome.payment >= r->price_bid[w]);
            assert_true(r->outcome.payment <= r->quality_bid[w] - mk->outside_value + 1e-15 * money);
            assert_true(close_to(r->user_utility, r->outcome.runner_up_score, 1e-12, 1e-16 * money));
            /* the payment splits the surplus: user + winner = welfare */
            assert_true(close_to(sum + r->user_utility, r->welfare, 1e-12, 1e-16 * money));
        } else {
            assert_true(r->welfare == mk->outside_value && r->outcome.payment == 0);
        }
        prillm_ttc_auction_result_free(r);
        prillm_ttc_market_free(mk);
    }
}

/* ---- 7. the trend on the shipped curves ------------------------------------ */

static void test_shipped_curves_trend(void **state) {
    (void)state;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    if (!src) skip();
    static const char *const files[] = {"gsm8k_majority.json", "aime_majority.json", "gpqa_majority.json"};
    PrillmError err;
    for (int f = 0; f < 3; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/data/ttc/%s", src, files[f]);
        FILE *in = fopen(path, "rb");
        assert_non_null(in);
        PrillmTtcMarket *mk = NULL;
        assert_int_equal(prillm_ttc_market_read_json(in, NULL, NULL, &mk, &err), PRILLM_OK);
        fclose(in);
        PrillmTtcAuctionResult *a = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &a, &err), PRILLM_OK);
        double poa[3];
        const double beta[3] = {200, 1e3, 1e5};
        for (int b = 0; b < 3; b++) {
            mk->beta = beta[b];
            PrillmTtcMarketResult *m = NULL;
            assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &m, &err), PRILLM_OK);
            assert_int_equal(m->status, PRILLM_STATUS_SOLVED);
            poa[b] = m->price_of_anarchy;
            assert_true(a->welfare >= m->optimum->welfare * (1 - 1e-12));
            /* the notebooks show this at beta 200 and 1e3; at 1e5 they have
             * the market slightly ahead too (0.00711 vs 0.00710 on GSM8K) */
            if (b < 2 && !(a->user_utility >= m->equilibrium->user_value))
                fail_msg("%s beta %g: auction user value %.6g < market %.6g", files[f], beta[b], a->user_utility,
                         m->equilibrium->user_value);
            prillm_ttc_market_result_free(m);
        }
        if (!(poa[0] > poa[2] && poa[2] >= 1 && poa[0] > 1.1))
            fail_msg("%s: PoA %.4f (beta 200), %.4f (1e3), %.4f (1e5)", files[f], poa[0], poa[1], poa[2]);
        prillm_ttc_auction_result_free(a);
        prillm_ttc_market_free(mk);
    }
}

/* ---- the file format ------------------------------------------------------ */

static int warnings;
static void count_warning(void *context, const char *message) {
    (void)context;
    (void)message;
    warnings++;
}

static void test_json_round_trip(void **state) {
    (void)state;
    TestRng rng = {909};
    PrillmError err;
    for (int trial = 0; trial < 200; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 10, 8);
        if (trial % 3 == 0) mk->beta = NAN;
        if (trial % 2) mk->description = strdup("a \"quoted\" note\nwith a newline");
        char *text = NULL;
        size_t length = 0;
        FILE *out = open_memstream(&text, &length);
        assert_int_equal(prillm_ttc_market_write_json(mk, out, &err), PRILLM_OK);
        fclose(out);
        PrillmTtcMarket *back = NULL;
        warnings = 0;
        if (prillm_ttc_market_parse_json(text, length, count_warning, NULL, &back, &err))
            fail_msg("trial %d: %s\n%s", trial, err.message, text);
        assert_int_equal(warnings, 0);
        assert_int_equal(back->n_models, mk->n_models);
        assert_true(back->value_scale == mk->value_scale && back->value_baseline == mk->value_baseline);
        assert_int_equal(back->value_shape, mk->value_shape);
        if (mk->value_shape != PRILLM_TTC_VALUE_LINEAR) assert_true(back->value_curvature == mk->value_curvature);
        assert_true(back->margin == mk->margin && back->outside_value == mk->outside_value);
        assert_true(isnan(mk->beta) ? isnan(back->beta) : back->beta == mk->beta);
        assert_true((mk->description == NULL) == (back->description == NULL));
        if (mk->description) assert_string_equal(back->description, mk->description);
        for (int i = 0; i < mk->n_models; i++) {
            assert_string_equal(back->model_id[i], mk->model_id[i]);
            assert_true(back->list_price[i] == mk->list_price[i]);
            assert_int_equal(back->n_levels[i], mk->n_levels[i]);
        }
        for (int at = 0; at < mk->level_offset[mk->n_models]; at++) {
            assert_true(back->accuracy[at] == mk->accuracy[at] && back->tokens[at] == mk->tokens[at]);
            assert_true(back->level_label[at] == mk->level_label[at]);
        }
        prillm_ttc_market_free(back);
        prillm_ttc_market_free(mk);
        free(text);
    }
}

static const char *const good_file =
    "{\"margin\": 0.25, \"beta\": 200, \"value\": {\"scale\": 0.008},\n"
    " \"models\": [{\"id\": \"a\", \"price_per_million\": 0.1, \"accuracy\": [0.5, 0.6], \"tokens\": [100, 400]},\n"
    "             {\"id\": \"b\", \"price_per_million\": 0.2, \"accuracy\": [0.7], \"tokens\": [300]}]}";

static void test_json_errors(void **state) {
    (void)state;
    static const struct {
        const char *from, *to, *message;
        PrillmErrorCode code;
    } cases[] = {
        {"\"margin\": 0.25", "\"margin\": -0.25", "margin must be", PRILLM_ERR_INVALID_DATA},
        {"\"margin\": 0.25, ", "", "margin is missing", PRILLM_ERR_INVALID_DATA},
        {"\"margin\": 0.25", "\"margin\": \"x\"", "margin must be a number", PRILLM_ERR_INVALID_DATA},
        {"\"margin\": 0.25", "\"margin\": NaN", "malformed JSON at line 1", PRILLM_ERR_PARSE},
        {"\"beta\": 200", "\"beta\": 0", "beta must be", PRILLM_ERR_INVALID_DATA},
        {"\"beta\": 200", "\"beta\": 1e400", "beta must be", PRILLM_ERR_INVALID_DATA},
        {"{\"scale\": 0.008}", "{}", "value.scale is missing", PRILLM_ERR_INVALID_DATA},
        {"{\"scale\": 0.008}", "{\"scale\": 0.008, \"shape\": \"cubic\"}", "value.shape", PRILLM_ERR_INVALID_DATA},
        {"{\"scale\": 0.008}", "{\"scale\": 0.008, \"baseline\": 2}", "value.baseline", PRILLM_ERR_INVALID_DATA},
        {"{\"scale\": 0.008}", "[0.008]", "\"value\" must be an object", PRILLM_ERR_INVALID_DATA},
        {"[0.5, 0.6]", "[0.5, 1.6]", "models[0].accuracy[1] must be in [0, 1]", PRILLM_ERR_INVALID_DATA},
        {"[0.5, 0.6]", "[0.5, \"x\"]", "models[0].accuracy[1] must be a number", PRILLM_ERR_INVALID_DATA},
        {"[0.5, 0.6]", "[]", "models[0].accuracy must have 1..", PRILLM_ERR_INVALID_DATA},
        {"[100, 400]", "[100, -400]", "models[0].tokens[1] must be in (0", PRILLM_ERR_INVALID_DATA},
        {"[100, 400]", "[100]", "models[0].tokens has 1 entries but models[0].accuracy has 2", PRILLM_ERR_INVALID_DATA},
        {"[100, 400]", "[100, 400], \"levels\": [1]", "models[0].levels has 1 entries", PRILLM_ERR_INVALID_DATA},
        {", \"tokens\": [300]", "", "models[1].tokens is missing", PRILLM_ERR_INVALID_DATA},
        {"\"price_per_million\": 0.2", "\"price_per_million\": 0", "models[1].price_per_million must be",
         PRILLM_ERR_INVALID_DATA},
        {"\"id\": \"b\"", "\"id\": \"a\"", "models[1].id \"a\" repeats models[0].id", PRILLM_ERR_INVALID_DATA},
        {"\"id\": \"b\"", "\"id\": 3", "models[1].id must be a string", PRILLM_ERR_INVALID_DATA},
        {"\"id\": \"b\", ", "", "models[1].id is missing", PRILLM_ERR_INVALID_DATA},
        {"\"beta\": 200", "\"beta\": 200, \"beta\": 100", "duplicate key \"beta\"", PRILLM_ERR_PARSE},
        {" \"models\": [", " \"models\": 3, \"x\": [", "\"models\" must be an array", PRILLM_ERR_INVALID_DATA},
        {"\"tokens\": [300]}]}", "\"tokens\": [300]}]", "malformed JSON", PRILLM_ERR_PARSE},
        {"\"tokens\": [300]}]}", "\"tokens\": [300]}]} x", "text after the object", PRILLM_ERR_PARSE},
    };
    PrillmError err;
    PrillmTtcMarket *mk = NULL;
    assert_int_equal(prillm_ttc_market_parse_json(good_file, strlen(good_file), NULL, NULL, &mk, &err), PRILLM_OK);
    prillm_ttc_market_free(mk);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *at = strstr(good_file, cases[c].from);
        if (!at) fail_msg("case %zu: \"%s\" not in the base file", c, cases[c].from);
        char text[2048];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good_file), good_file, cases[c].to,
                 at + strlen(cases[c].from));
        mk = (PrillmTtcMarket *)1;
        PrillmErrorCode rc = prillm_ttc_market_parse_json(text, strlen(text), NULL, NULL, &mk, &err);
        if (rc != cases[c].code) fail_msg("case %zu: code %d, message \"%s\"", c, rc, err.message);
        if (!strstr(err.message, cases[c].message))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", c, err.message, cases[c].message);
        assert_null(mk);
    }
    /* other shapes */
    const char *bad[] = {"", "[]", "{}", "{\"margin\": 0.25, \"value\": {\"scale\": 1}, \"models\": []}",
                         "{\"margin\": 0.25, \"value\": {\"scale\": 1}, \"models\": [3]}"};
    const char *messages[] = {"empty input", "must be a JSON object", "\"models\" is missing", "1..64 entries",
                              "models[0] must be an object"};
    for (int k = 0; k < 5; k++) {
        assert_true(prillm_ttc_market_parse_json(bad[k], strlen(bad[k]), NULL, NULL, &mk, &err) != PRILLM_OK);
        if (!strstr(err.message, messages[k])) fail_msg("bad[%d]: \"%s\"", k, err.message);
    }
    /* NUL inside the text */
    char with_nul[] = "{\"margin\": 0.25\0}";
    assert_int_equal(prillm_ttc_market_parse_json(with_nul, sizeof with_nul - 1, NULL, NULL, &mk, &err), PRILLM_ERR_PARSE);
    /* unknown keys warn and are ignored */
    char text[2048];
    snprintf(text, sizeof text, "{\"colour\": 1, %s", good_file + 1);
    warnings = 0;
    assert_int_equal(prillm_ttc_market_parse_json(text, strlen(text), count_warning, NULL, &mk, &err), PRILLM_OK);
    assert_int_equal(warnings, 1);
    /* the market needs beta, the auction does not */
    mk->beta = NAN;
    PrillmTtcMarketResult *r = NULL;
    assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "beta"));
    assert_null(r);
    PrillmTtcAuctionResult *a = NULL;
    assert_int_equal(prillm_ttc_auction(mk, &a, &err), PRILLM_OK);
    prillm_ttc_auction_result_free(a);
    prillm_ttc_market_free(mk);
}

/* ---- the commands --------------------------------------------------------- */

typedef struct {
    int code;
    char *out;
} Command;

static Command run_command(const char *fmt, ...) {
    char args[1024], line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "cd \"$PRILLM_SOURCE_DIR\" && \"$PRILLM_CLI\" %s 2>/dev/null", args);
    FILE *p = popen(line, "r");
    assert_non_null(p);
    Command c = {0, NULL};
    size_t cap = 1 << 16, len = 0, got;
    c.out = malloc(cap);
    assert_non_null(c.out);
    while ((got = fread(c.out + len, 1, cap - 1 - len, p)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            c.out = realloc(c.out, cap);
            assert_non_null(c.out);
        }
    }
    c.out[len] = '\0';
    int status = pclose(p);
    c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return c;
}

static double json_number(const cJSON *root, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(item)) fail_msg("\"%s\" is not a number", key);
    return item->valuedouble;
}

static void test_commands(void **state) {
    (void)state;
    if (!getenv("PRILLM_CLI") || !getenv("PRILLM_SOURCE_DIR")) skip();
    Command c = run_command("auction data/ttc/golden.json");
    assert_int_equal(c.code, 0);
    cJSON *root = cJSON_Parse(c.out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "winner")->valuestring, "A");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "runner_up")->valuestring, "B");
    assert_true(json_number(root, "payment") == 0.625 && json_number(root, "user_utility") == 0.25);
    assert_true(json_number(root, "winner_utility") == 0.25 && json_number(root, "welfare") == 0.5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "served")));
    cJSON_Delete(root);
    free(c.out);

    c = run_command("ttc-market data/ttc/golden.json");
    assert_int_equal(c.code, 0);
    root = cJSON_Parse(c.out);
    assert_non_null(root);
    const cJSON *ne = cJSON_GetObjectItemCaseSensitive(root, "equilibrium");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "optimum");
    double poa = json_number(root, "price_of_anarchy");
    assert_true(close_to(poa, json_number(opt, "welfare") / json_number(ne, "welfare"), 1e-15, 0));
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ne, "levels"), 0)->valueint, 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "status")->valuestring, "solved");
    cJSON_Delete(root);
    free(c.out);

    /* --beta overrides the file: very rational users leave no room to over-provision */
    c = run_command("ttc-market data/ttc/golden.json --beta 1e4 --seed 3");
    assert_int_equal(c.code, 0);
    root = cJSON_Parse(c.out);
    assert_true(json_number(root, "beta") == 1e4);
    assert_true(json_number(root, "price_of_anarchy") < 1.01);
    cJSON_Delete(root);
    free(c.out);

    c = run_command("ttc-market data/ttc/golden.json --max-profiles 2");
    assert_int_equal(c.code, 0);
    root = cJSON_Parse(c.out);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "price_of_anarchy")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "optimum")));
    cJSON_Delete(root);
    free(c.out);

    static const struct {
        const char *args;
        int code;
    } exits[] = {
        {"auction --help", 0},
        {"ttc-market --help", 0},
        {"auction", 2},
        {"auction --colour data/ttc/golden.json", 2},
        {"ttc-market data/ttc/golden.json --beta -1", 2},
        {"ttc-market data/ttc/golden.json --max-rounds 0", 2},
        {"auction data/ttc/golden.json data/ttc/golden.json", 2},
        {"auction no/such/file.json", 3},
        {"ttc-market tests/data/malformed.json", 3},
        {"auction data/default_market.json", 3},
        {"ttc-market data/ttc/golden.json --max-rounds 1", 4},
    };
    for (size_t k = 0; k < sizeof exits / sizeof exits[0]; k++) {
        c = run_command("%s", exits[k].args);
        if (c.code != exits[k].code) fail_msg("prillm %s: exit %d, expected %d", exits[k].args, c.code, exits[k].code);
        free(c.out);
    }
    /* standard input */
    c = run_command("auction - < data/ttc/golden.json");
    assert_int_equal(c.code, 0);
    assert_non_null(strstr(c.out, "\"payment\": 0.625"));
    free(c.out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logit_identities),
        cmocka_unit_test(test_logit_no_overflow),
        cmocka_unit_test(test_outcome_matches_definitions),
        cmocka_unit_test(test_potential_is_exact),
        cmocka_unit_test(test_dynamics_end_at_nash),
        cmocka_unit_test(test_round_limit_and_profile_limit),
        cmocka_unit_test(test_zero_margin_market),
        cmocka_unit_test(test_settings_table),
        cmocka_unit_test(test_auction_golden),
        cmocka_unit_test(test_auction_matches_definition),
        cmocka_unit_test(test_auction_edge_cases),
        cmocka_unit_test(test_auction_truthful_is_dominant),
        cmocka_unit_test(test_auction_efficiency_and_rationality),
        cmocka_unit_test(test_shipped_curves_trend),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
