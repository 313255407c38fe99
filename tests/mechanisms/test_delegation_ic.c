/* Approximate incentive compatibility of the delegation mechanism over
 * continuous deviations (issue 15, item 1).
 *
 * Reference strategy sigma* of every provider, in the continuous space:
 * honest exploration, the continuous second-best extraction in exploitation
 * (prillm_delegation_extract_play: expected user utility held at the
 * announced u2), and in blind trust the most profitable play there is
 * (quality 0, bill L). For each provider, on each random instance and
 * horizon, the test searches deviations:
 *   - the six menu strategies;
 *   - a continuous (quality, inflation) in exploration, the rest as sigma*:
 *     a grid of 7 x 7 points, then a pattern search from the best point;
 *   - the same in exploitation (for the provider that wins exploration);
 * and measures the regret max U(deviation) - U(sigma*). The bound is
 *   regret <= C (b + L p_hi) T^(1-eps) ln(K T),  C = eta / gamma + eta / ln(K T):
 * in exploitation a fixed play can at most hold the user at the early-stop
 * threshold theta instead of u2, worth eta (u2 - theta) = (eta / gamma)
 * M (b + L p_max) per query on at most T queries; in exploration a
 * deviation gains at most eta p L per query on B = T^(2 eps) queries and
 * cannot raise its blind-trust share (both levers lower delta_i), and
 * eta p L B <= (eta / ln(KT)) (b + L p) T^(1-eps) ln(KT) when eps <= 1/3.
 * Scores and tokens are at their means (draws = mean), so the utilities are
 * exact expectations up to the phase-4 rounding coin.
 *
 * The test can fail: with the early stop removed (threshold -infinity), a
 * best provider billing L in exploitation gains ~ eta p L T, far beyond the
 * bound (checked by a temporary mutation of delegation.c; see the report). */
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
#include <prillm/delegation.h>

#include "support.h"

static char *dup_text(const char *text) {
    char *copy = malloc(strlen(text) + 1);
    assert_non_null(copy);
    strcpy(copy, text);
    return copy;
}

/* K providers with 1..3 models; the bill matters: price x mean tokens is
 * 5%..40% of the reward, caps 1.5x..4x the mean length. */
static PrillmDelegationGame *random_game(TestRng *rng, int K, const PrillmDelegationSettings *s) {
    int counts[8] = {0};
    for (int i = 0; i < K; i++) counts[i] = test_int(rng, 1, 3);
    PrillmError err;
    PrillmDelegationGame *g = prillm_delegation_game_alloc(K, counts, &err);
    assert_non_null(g);
    for (int i = 0; i < K; i++) {
        char id[32];
        snprintf(id, sizeof id, "P%d", i + 1);
        g->providers[i].id = dup_text(id);
        g->providers[i].strategy = PRILLM_DELEGATION_OURS;
        for (int j = 0; j < counts[i]; j++) {
            PrillmDelegationModel *m = &g->providers[i].models[j];
            snprintf(id, sizeof id, "m%d", j);
            m->id = dup_text(id);
            m->score = 0.4 + 0.6 * test_uniform(rng);
            m->tokens = round(100.0 * pow(10.0, test_uniform(rng)));
            m->max_tokens = ceil(m->tokens * (1.5 + 2.5 * test_uniform(rng)));
            m->price = s->reward * (0.05 + 0.35 * test_uniform(rng)) / m->tokens;
        }
    }
    if (prillm_delegation_game_prepare(g, s, &err) != PRILLM_OK) fail_msg("prepare: %s", err.message);
    return g;
}

static const PrillmDelegationPlay no_play = {0.0, 1.0, 1.0, 0};

/* sigma*: ours (honest exploration), continuous extraction, quality 0 billed at L in blind trust */
static void set_reference(PrillmDelegationProvider *p) {
    p->strategy = PRILLM_DELEGATION_OURS;
    p->play[PRILLM_PLAY_EXPLORE] = no_play;
    p->play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1.0, 1.0, 1.0, 1};
    p->play[PRILLM_PLAY_TRUST] = (PrillmDelegationPlay){1.0, 0.0, 1e6, 0};
}

static double utility_of(const PrillmDelegationGame *g, const PrillmDelegationSettings *s, int i, int *best) {
    PrillmError err;
    PrillmDelegationResult *r = NULL;
    if (prillm_delegation_run(g, s, &r, &err) != PRILLM_OK) fail_msg("run: %s", err.message);
    double u = r->providers[i].total.provider_utility;
    if (best) *best = r->best;
    prillm_delegation_result_free(r);
    return u;
}

typedef struct {
    PrillmDelegationGame *g;
    const PrillmDelegationSettings *s;
    int provider, group;
    double beta_max; /* L / mu_l of the advertised model: beyond it the bill is capped */
    int evaluations;
} Search;

static double evaluate(Search *x, double alpha, double beta) {
    PrillmDelegationProvider *p = &x->g->providers[x->provider];
    PrillmDelegationPlay saved = p->play[x->group];
    p->play[x->group] = (PrillmDelegationPlay){1.0, alpha, beta, 0};
    double u = utility_of(x->g, x->s, x->provider, NULL);
    p->play[x->group] = saved;
    x->evaluations++;
    return u;
}

/* The best fixed (quality, inflation) of one group: a 7 x 7 grid (quality
 * 0..1, inflation 1..beta_max geometrically), then a pattern search. */
static double best_continuous(Search *x, double *alpha_out, double *beta_out) {
    enum { N = 7 };
    double best = -INFINITY, ba = 1, bb = 1;
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
            double alpha = (double)a / (N - 1), beta = pow(x->beta_max, (double)b / (N - 1));
            double u = evaluate(x, alpha, beta);
            if (u > best) {
                best = u;
                ba = alpha;
                bb = beta;
            }
        }
    double da = 1.0 / (N - 1), db = log(x->beta_max) / (N - 1); /* inflation searched in log scale */
    while (da > 1.0 / 256) {
        int moved = 0;
        const double steps[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        for (int k = 0; k < 4; k++) {
            double alpha = fmin(1.0, fmax(0.0, ba + steps[k][0] * da));
            double beta = fmin(x->beta_max, fmax(1.0, bb * exp(steps[k][1] * db)));
            if (alpha == ba && beta == bb) continue;
            double u = evaluate(x, alpha, beta);
            if (u > best) {
                best = u;
                ba = alpha;
                bb = beta;
                moved = 1;
            }
        }
        if (!moved) {
            da /= 2;
            db /= 2;
        }
    }
    *alpha_out = ba;
    *beta_out = bb;
    return best;
}

/* 100 instances per horizon; sanitizer builds (10x slower) check memory
 * safety on the first 30, the statistical claim is the release run's. */
#if defined(__SANITIZE_ADDRESS__)
#define IC_INSTANCES 30
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IC_INSTANCES 30
#endif
#endif
#ifndef IC_INSTANCES
#define IC_INSTANCES 100
#endif

static void test_continuous_ic(void **state) {
    (void)state;
    const int horizons[3] = {10000, 30000, 100000};
    enum { INSTANCES = IC_INSTANCES };
    TestRng rng = {1515};
    double worst[3] = {0, 0, 0}, mean_ratio[3] = {0, 0, 0};
    int searched = 0, evaluations = 0, phase2_checked = 0;
    double worst_explore = -INFINITY;
    for (int instance = 0; instance < INSTANCES; instance++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.epsilon = 0.25;
        s.draws = PRILLM_DRAW_MEAN;
        s.seed = 100 + instance;
        int K = test_int(&rng, 2, 3);
        PrillmDelegationGame *g = random_game(&rng, K, &s);
        for (int h = 0; h < 3; h++) {
            s.horizon = horizons[h];
            double T = s.horizon, L = 0, p_hi = 0;
            for (int i = 0; i < K; i++) {
                p_hi = fmax(p_hi, g->providers[i].models[0].price);
                for (int j = 0; j < g->providers[i].n_models; j++) L = fmax(L, g->providers[i].models[j].max_tokens);
            }
            double scale = (s.reward + L * p_hi) * pow(T, 1 - s.epsilon) * log(K * T);
            double C = s.eta / s.gamma + s.eta / log(K * T);
            for (int i = 0; i < K; i++) set_reference(&g->providers[i]);
            for (int i = 0; i < K; i++) {
                PrillmDelegationProvider *p = &g->providers[i];
                int best;
                double reference = utility_of(g, &s, i, &best);
                double top = -INFINITY;
                const char *how = "";
                char where[96] = "";
                /* the menu, as whole strategies */
                for (int k = 0; k < PRILLM_DELEGATION_N_STRATEGIES; k++) {
                    for (int grp = 0; grp < PRILLM_PLAY_GROUPS; grp++) p->play[grp] = no_play;
                    p->strategy = k;
                    double u = utility_of(g, &s, i, NULL);
                    evaluations++;
                    if (u > top) {
                        top = u;
                        how = prillm_delegation_strategy_name(k);
                    }
                }
                set_reference(p);
                Search x = {g, &s, i, PRILLM_PLAY_EXPLORE, fmax(1.0, L / p->models[0].tokens), 0};
                double alpha, beta, u = best_continuous(&x, &alpha, &beta);
                /* Exploration alone: a deviation bills at most L per query for B
                 * queries and lowers its own blind-trust share delta_i (less
                 * reward, more tokens), so it gains at most eta p_0 L B. This
                 * finer check catches a scoring rule that rewards inflation,
                 * an O(B) effect the T^(1-eps) bound cannot see. */
                double B = floor(pow(T, 2 * s.epsilon) + 1e-9), explore_scale = s.eta * p->models[0].price * L * B;
                worst_explore = fmax(worst_explore, (u - reference) / explore_scale);
                if (u - reference > explore_scale * (1 + 1e-9))
                    fail_msg("instance %d T %d provider %d: exploration (quality %.4f, inflation %.4f) gains %.3f over "
                             "sigma* %.3f, more than eta p L B = %.3f",
                             instance, s.horizon, i, alpha, beta, u, reference, explore_scale);
                if (u > top) {
                    top = u;
                    how = "continuous exploration";
                    snprintf(where, sizeof where, " (quality %.4f, inflation %.4f)", alpha, beta);
                }
                if (i == best) {
                    x.group = PRILLM_PLAY_EXPLOIT;
                    u = best_continuous(&x, &alpha, &beta);
                    if (u > top) {
                        top = u;
                        how = "continuous exploitation";
                        snprintf(where, sizeof where, " (quality %.4f, inflation %.4f)", alpha, beta);
                    }
                    phase2_checked++;
                }
                evaluations += x.evaluations;
                double regret = top - reference, ratio = regret / scale;
                worst[h] = fmax(worst[h], ratio);
                mean_ratio[h] += fmax(ratio, 0) / INSTANCES;
                if (regret > C * scale)
                    fail_msg("instance %d T %d provider %d: %s%s gains %.3f over sigma* %.3f, regret %.3f > C %.3f x "
                             "scale %.3f",
                             instance, s.horizon, i, how, where, top, reference, regret, C, scale);
                searched++;
                set_reference(p);
            }
        }
        prillm_delegation_game_free(g);
    }
    for (int h = 0; h < 3; h++)
        print_message("continuous IC, T = %d: largest regret / ((b + L p) T^(1-eps) ln(KT)) %.4f, mean %.4f "
                      "(C about %.3f)\n",
                      horizons[h], worst[h], mean_ratio[h], 0.9 / 3 + 0.9 / log(2.5 * horizons[h]));
    print_message("continuous IC: largest exploration-only regret / (eta p L B) %.4f (bound 1)\n", worst_explore);
    print_message("continuous IC: %d provider searches, %d with exploitation deviations, %d runs\n", searched,
                  phase2_checked, evaluations);
    assert_int_equal(searched > 2 * 3 * INSTANCES, 1);
    assert_true(phase2_checked >= 3 * INSTANCES);
}

/* Reassignment (option reassign): when the best provider is stopped early,
 * the unused queries go to the runner-up, monitored like exploitation. Its
 * effect on IC, measured: the runner-up gets a second exploitation window
 * in which a fixed play can hold the user at the reassignment threshold
 * instead of u2, so its regret over sigma* rises from exactly 0 (without
 * reassignment the group is never played) to at most the same allowance
 * (eta / gamma) M (b + L p) per reassigned query; nobody else's incentives
 * change, and the user's budget is used instead of wasted. */
static void test_reassign_effect(void **state) {
    (void)state;
    TestRng rng = {4711};
    enum { INSTANCES = 40 };
    double unused_off = 0, unused_on = 0, worst_ratio = 0, gain_user = 0;
    int positive = 0, checked = 0;
    for (int instance = 0; instance < INSTANCES; instance++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.epsilon = 0.25;
        s.horizon = 30000;
        s.draws = PRILLM_DRAW_MEAN;
        s.seed = 700 + instance;
        PrillmDelegationGame *g = random_game(&rng, 3, &s);
        for (int i = 0; i < 3; i++) set_reference(&g->providers[i]);
        /* the best honest provider cheats blatantly in exploitation: stopped after two batches */
        int top = 0;
        for (int i = 1; i < 3; i++)
            if (g->providers[i].models[0].score * s.reward - g->providers[i].models[0].price * g->providers[i].models[0].tokens >
                g->providers[top].models[0].score * s.reward - g->providers[top].models[0].price * g->providers[top].models[0].tokens)
                top = i;
        g->providers[top].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1.0, 0.0, 1e6, 0};
        PrillmError err;
        PrillmDelegationResult *off = NULL, *on = NULL;
        s.reassign = 0;
        assert_int_equal(prillm_delegation_run(g, &s, &off, &err), PRILLM_OK);
        s.reassign = 1;
        assert_int_equal(prillm_delegation_run(g, &s, &on, &err), PRILLM_OK);
        if (off->best != top || off->stop_after < 0) { /* another provider won exploration: not this case */
            prillm_delegation_result_free(off);
            prillm_delegation_result_free(on);
            prillm_delegation_game_free(g);
            continue;
        }
        checked++;
        /* identical up to the end of phase 4, then the rest goes to the runner-up */
        assert_int_equal(off->runner_up, -1);
        assert_true(on->runner_up >= 0 && on->runner_up != top);
        long long moved = on->providers[on->runner_up].phase[PRILLM_PHASE_REASSIGN].queries;
        assert_int_equal(on->used, off->used + moved);
        assert_true(on->reassign_stop_after >= 0 || on->used == s.horizon);
        unused_off += (double)(s.horizon - off->used) / s.horizon / INSTANCES;
        unused_on += (double)(s.horizon - on->used) / s.horizon / INSTANCES;
        assert_true(on->user_utility >= off->user_utility);
        gain_user += (on->user_utility - off->user_utility) / (s.horizon * on->second_best_utility);
        /* the runner-up's regret over sigma*, by continuous deviations in its
         * exploitation group (what it plays on reassigned queries) */
        int up = on->runner_up;
        double L = on->max_tokens, p_hi = 0;
        for (int i = 0; i < 3; i++) p_hi = fmax(p_hi, g->providers[i].models[0].price);
        double T = s.horizon, scale = (s.reward + L * p_hi) * pow(T, 1 - s.epsilon) * log(3 * T);
        double C = s.eta / s.gamma + s.eta / log(3 * T);
        for (int reassign = 0; reassign < 2; reassign++) {
            s.reassign = reassign;
            double reference = utility_of(g, &s, up, NULL), alpha, beta;
            Search x = {g, &s, up, PRILLM_PLAY_EXPLOIT, fmax(1.0, L / g->providers[up].models[0].tokens), 0};
            double regret = best_continuous(&x, &alpha, &beta) - reference;
            if (!reassign) assert_true(regret == 0.0); /* the group is never played */
            else {
                worst_ratio = fmax(worst_ratio, regret / scale);
                positive += regret > 0;
                if (regret > C * scale)
                    fail_msg("instance %d: runner-up regret %.3f with reassignment > C %.3f x scale %.3f", instance,
                             regret, C, scale);
            }
        }
        prillm_delegation_result_free(off);
        prillm_delegation_result_free(on);
        prillm_delegation_game_free(g);
    }
    print_message("reassign: %d instances with an early stop; unused budget %.1f%% -> %.1f%%; user utility +%.1f%% of "
                  "T u2*; runner-up regret / scale up to %.4f (0 without), positive in %d\n",
                  checked, 100 * unused_off * INSTANCES / checked, 100 * unused_on * INSTANCES / checked,
                  100 * gain_user / checked, worst_ratio, positive);
    assert_true(checked >= INSTANCES / 2);
    assert_true(positive >= checked / 2); /* the effect on IC is real, and bounded */
}

/* The impossibility (no mechanism guarantees T u1* - o(T)): two worlds the
 * user cannot tell apart. In world H provider 0 owns a model of honest
 * utility u' and plays honestly; in world D it owns a better model (utility
 * u1 > u') and plays the continuous action (alpha, beta) = (s' / s,
 * tau' / tau), which reproduces world H's rewards and bills query for query.
 * A third provider's model fixes the menu constants (L, delta1) in both.
 * Every observation, hence every decision of any mechanism that sees only
 * rewards and bills, is the same; so in world D the user gets what it gets
 * in world H, at most T u' (+ the others), and the first-best gap
 * T u1*(D) - user is at least T (u1 - u'): linear in T. Checked for the
 * mechanism at several (eps, gamma, reassign) and three T. */
static void test_impossibility(void **state) {
    (void)state;
    TestRng rng = {2718};
    const int horizons[3] = {10000, 100000, 1000000};
    double smallest_ratio = INFINITY;
    for (int instance = 0; instance < 20; instance++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.draws = PRILLM_DRAW_MEAN;
        s.seed = instance;
        s.epsilon = (double[]){0.15, 0.25, 0.3, 0.4}[instance % 4];
        s.gamma = 1 + 4 * test_uniform(&rng);
        s.reassign = instance % 2;
        double score = 0.7 + 0.3 * test_uniform(&rng), tokens = round(200 + 800 * test_uniform(&rng));
        double price = (0.05 + 0.2 * test_uniform(&rng)) / tokens;
        double alpha = 0.7 + 0.25 * test_uniform(&rng), beta = 1 + 0.5 * test_uniform(&rng);
        const int counts[3] = {1, 1, 1};
        PrillmDelegationGame *world[2];
        for (int w = 0; w < 2; w++) {
            PrillmError err;
            PrillmDelegationGame *g = prillm_delegation_game_alloc(3, counts, &err);
            assert_non_null(g);
            const char *ids[3] = {"deceiver", "rival", "anchor"};
            for (int i = 0; i < 3; i++) {
                g->providers[i].id = dup_text(ids[i]);
                g->providers[i].models[0].id = dup_text("m");
                g->providers[i].strategy = PRILLM_DELEGATION_HONEST;
            }
            PrillmDelegationModel *d = &g->providers[0].models[0];
            /* H: the model world D's play imitates; D: the better model, played at (alpha, beta) */
            d->score = w == 0 ? alpha * score : score;
            d->tokens = w == 0 ? round(beta * tokens) : tokens;
            d->max_tokens = 4000;
            d->price = price;
            if (w == 1) g->providers[0].play[PRILLM_PLAY_EXPLORE] = g->providers[0].play[PRILLM_PLAY_EXPLOIT] =
                    g->providers[0].play[PRILLM_PLAY_TRUST] = (PrillmDelegationPlay){1.0, alpha, round(beta * tokens) / tokens, 0};
            /* a rival below world H's provider 0, an anchor setting min reward, max length and L */
            free(g->providers[1].models[0].id);
            free(g->providers[2].models[0].id);
            g->providers[1].models[0] = (PrillmDelegationModel){dup_text("r"), 0.5 * alpha * score, 300, 4000, price};
            g->providers[2].models[0] = (PrillmDelegationModel){dup_text("a"), 0.2, 3000, 8000, 1e-5};
            if (prillm_delegation_game_prepare(g, &s, &err) != PRILLM_OK) fail_msg("prepare: %s", err.message);
            world[w] = g;
        }
        for (int h = 0; h < 3; h++) {
            s.horizon = horizons[h];
            PrillmError err;
            PrillmDelegationResult *r[2];
            for (int w = 0; w < 2; w++) assert_int_equal(prillm_delegation_run(world[w], &s, &r[w], &err), PRILLM_OK);
            /* the user saw the same thing, so decided the same */
            assert_int_equal(r[0]->used, r[1]->used);
            assert_int_equal(r[0]->best, r[1]->best);
            assert_int_equal(r[0]->stop_after, r[1]->stop_after);
            for (int i = 0; i < 3; i++)
                for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) {
                    const PrillmDelegationTally *a = &r[0]->providers[i].phase[ph], *b = &r[1]->providers[i].phase[ph];
                    assert_int_equal(a->queries, b->queries);
                    assert_true(fabs(a->user_utility - b->user_utility) <= 1e-9 * (1 + fabs(a->user_utility)));
                    assert_true(a->billed_tokens == b->billed_tokens);
                }
            /* world H: nobody lies, so the user cannot beat first-best there */
            double u_prime = r[0]->first_best_utility, u1 = r[1]->first_best_utility, T = s.horizon;
            assert_true(u1 > u_prime);
            assert_true(r[0]->user_utility <= T * u_prime * (1 + 1e-12));
            /* world D: the first-best gap is at least T (u1 - u') */
            double gap = T * u1 - r[1]->user_utility;
            assert_true(gap >= T * (u1 - u_prime) * (1 - 1e-9));
            smallest_ratio = fmin(smallest_ratio, gap / (T * (u1 - u_prime)));
            /* and the deceiver profits from it */
            assert_true(r[1]->providers[0].total.provider_utility > 0);
            for (int w = 0; w < 2; w++) prillm_delegation_result_free(r[w]);
        }
        for (int w = 0; w < 2; w++) prillm_delegation_game_free(world[w]);
    }
    print_message("impossibility: 20 instances x T = 1e4, 1e5, 1e6: first-best gap / (T (u1 - u')) >= %.4f (>= 1: linear in T)\n",
                  smallest_ratio);
}

/* (quality, inflation) = (1, 1) is honest play, query by query; a mixed play
 * of weight w uses the continuous action on about a fraction w of queries;
 * extract holds the user at u2 in expectation. */
static void test_continuous_play_semantics(void **state) {
    (void)state;
    TestRng rng = {77};
    for (int trial = 0; trial < 30; trial++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.horizon = 40000;
        s.seed = trial;
        s.draws = trial % 2 ? PRILLM_DRAW_BETA : PRILLM_DRAW_BERNOULLI;
        int K = test_int(&rng, 2, 3);
        PrillmDelegationGame *g = random_game(&rng, K, &s);
        for (int i = 0; i < K; i++) g->providers[i].strategy = PRILLM_DELEGATION_HONEST;
        PrillmError err;
        PrillmDelegationResult *honest = NULL, *cont = NULL;
        assert_int_equal(prillm_delegation_run(g, &s, &honest, &err), PRILLM_OK);
        for (int i = 0; i < K; i++)
            for (int grp = 0; grp < PRILLM_PLAY_GROUPS; grp++)
                g->providers[i].play[grp] = (PrillmDelegationPlay){1.0, 1.0, 1.0, 0};
        assert_int_equal(prillm_delegation_run(g, &s, &cont, &err), PRILLM_OK);
        for (int i = 0; i < K; i++)
            for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) {
                assert_int_equal(honest->providers[i].phase[ph].queries, cont->providers[i].phase[ph].queries);
                assert_true(honest->providers[i].phase[ph].user_utility == cont->providers[i].phase[ph].user_utility);
                assert_true(cont->providers[i].phase[ph].provider_utility == 0.0);
            }
        prillm_delegation_result_free(cont);
        /* mixed: weight w of exploration queries at quality 0.5, inflation 2 */
        int i = test_int(&rng, 0, K - 1);
        double w = 0.2 + 0.6 * test_uniform(&rng);
        for (int k = 0; k < K; k++)
            for (int grp = 0; grp < PRILLM_PLAY_GROUPS; grp++) g->providers[k].play[grp] = no_play;
        g->providers[i].play[PRILLM_PLAY_EXPLORE] = (PrillmDelegationPlay){w, 0.5, 2.0, 0};
        assert_int_equal(prillm_delegation_run(g, &s, &cont, &err), PRILLM_OK);
        const PrillmDelegationTally *a = &honest->providers[i].phase[PRILLM_PHASE_EXPLORE],
                                    *b = &cont->providers[i].phase[PRILLM_PHASE_EXPLORE];
        /* the same tokens are produced (common draws), more are billed */
        assert_true(a->true_tokens == b->true_tokens);
        assert_true(b->billed_tokens > a->billed_tokens);
        /* a continuous query keeps half its reward: the score-weighted share of
         * continuous queries is within 5 binomial sd (x 1.6 for the score
         * spread: Bernoulli scores have cv^2 <= 1.5 here) */
        double share = 2.0 * (a->reward - b->reward) / a->reward, n = (double)a->queries;
        assert_true(fabs(share - w) <= 5.0 * 1.6 * sqrt(w * (1 - w) / n));
        prillm_delegation_result_free(cont);
        prillm_delegation_result_free(honest);
        prillm_delegation_game_free(g);
    }

    /* extract: the user's expected utility per exploitation query is u2 (no noise) */
    for (int trial = 0; trial < 30; trial++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.horizon = 40000;
        s.draws = PRILLM_DRAW_MEAN;
        int K = test_int(&rng, 2, 3);
        PrillmDelegationGame *g = random_game(&rng, K, &s);
        for (int i = 0; i < K; i++) {
            g->providers[i].strategy = PRILLM_DELEGATION_OURS;
            g->providers[i].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1.0, 1.0, 1.0, 1};
        }
        PrillmError err;
        PrillmDelegationResult *r = NULL;
        assert_int_equal(prillm_delegation_run(g, &s, &r, &err), PRILLM_OK);
        const PrillmDelegationProvider *p = &g->providers[r->best];
        const PrillmDelegationTally *x = &r->providers[r->best].phase[PRILLM_PHASE_EXPLOIT];
        double alpha, beta;
        prillm_delegation_extract_play(&p->models[0], r->second_utility, s.reward, r->max_tokens, &alpha, &beta);
        const PrillmDelegationModel *m = &p->models[0];
        double per_query = x->user_utility / (double)x->queries;
        double expected = alpha * s.reward * m->score - m->price * fmin(round(beta * m->tokens), r->max_tokens);
        assert_true(fabs(per_query - expected) <= 1e-9);
        /* billing rounds to whole tokens: the user is within one token's price of u2 */
        if (m->score * s.reward - m->price * m->tokens > r->second_utility)
            assert_true(fabs(per_query - r->second_utility) <= m->price * 0.5 + 1e-9);
        assert_true(alpha >= 0 && alpha <= 1 && beta >= 1 && beta * m->tokens <= r->max_tokens + 1e-9);
        assert_false(r->providers[r->best].stopped_early);
        prillm_delegation_result_free(r);
        prillm_delegation_game_free(g);
    }
}

static void expect_error(const char *text, const char *needle) {
    PrillmDelegationSettings s;
    prillm_delegation_default_settings(&s);
    PrillmDelegationGame *g = NULL;
    PrillmError err;
    PrillmErrorCode rc = prillm_delegation_parse_json(text, strlen(text), NULL, NULL, &s, &g, &err);
    if (rc == PRILLM_OK) fail_msg("%s: accepted", text);
    if (!strstr(err.message, needle)) fail_msg("%s: message \"%s\" lacks \"%s\"", text, err.message, needle);
    assert_null(g);
}

#define MODEL "{\"id\":\"m\",\"score\":0.9,\"tokens\":100,\"max_tokens\":200,\"price\":0.001}"
#define WITH_PLAY(play) "{\"providers\": [{\"id\":\"a\",\"models\":[" MODEL "],\"play\":" play "},{\"id\":\"b\",\"models\":[" MODEL "]}]}"

static void test_play_file(void **state) {
    (void)state;
    expect_error(WITH_PLAY("3"), "providers[0].play must be an object");
    expect_error(WITH_PLAY("{\"explore\": {\"quality\": 1.5}}"), "providers[0].play.explore.quality must be in [0, 1]");
    expect_error(WITH_PLAY("{\"trust\": {\"inflation\": 0.5}}"), "providers[0].play.trust.inflation must be in [1, 1e6]");
    expect_error(WITH_PLAY("{\"exploit\": {\"weight\": -1}}"), "providers[0].play.exploit.weight must be in [0, 1]");
    expect_error(WITH_PLAY("{\"explore\": {\"extract\": true}}"), "extract is for the exploit group only");
    expect_error(WITH_PLAY("{\"exploit\": {\"extract\": 1}}"), "extract must be true or false");
    expect_error(WITH_PLAY("{\"explore\": {\"quality\": \"low\"}}"), "quality must be a number");
    const char *good = WITH_PLAY("{\"explore\": {\"quality\": 0.5, \"inflation\": 1.5, \"weight\": 0.25}, "
                                 "\"exploit\": {\"extract\": true}}");
    PrillmDelegationSettings s;
    prillm_delegation_default_settings(&s);
    PrillmDelegationGame *g = NULL;
    PrillmError err;
    assert_int_equal(prillm_delegation_parse_json(good, strlen(good), NULL, NULL, &s, &g, &err), PRILLM_OK);
    const PrillmDelegationPlay *e = &g->providers[0].play[PRILLM_PLAY_EXPLORE], *x = &g->providers[0].play[PRILLM_PLAY_EXPLOIT];
    assert_true(e->weight == 0.25 && e->quality == 0.5 && e->inflation == 1.5 && !e->extract);
    assert_true(x->weight == 1.0 && x->extract);
    assert_true(g->providers[0].play[PRILLM_PLAY_TRUST].weight == 0.0);
    assert_true(g->providers[1].play[PRILLM_PLAY_EXPLORE].weight == 0.0);
    prillm_delegation_game_free(g);
    assert_null(prillm_delegation_play_group_name(3));
    assert_string_equal(prillm_delegation_play_group_name(PRILLM_PLAY_TRUST), "trust");
}

static int run_command(const char *command, char *out, size_t size) {
    FILE *p = popen(command, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_play_cli(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI"), *src = getenv("PRILLM_SOURCE_DIR");
    if (!cli || !src) skip();
    static char out[1 << 16];
    char command[2048];
    snprintf(command, sizeof command,
             "\"%s\" delegate \"%s/data/delegation/example.json\" --play A:exploit:extract --play B:all:0.5:1.5:0.3 "
             "2>&1",
             cli, src);
    assert_int_equal(run_command(command, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"play\": {\"exploit\": {\"weight\": 1, \"extract\": true}}"));
    assert_non_null(strstr(out, "\"trust\": {\"weight\": 0.3, \"quality\": 0.5, \"inflation\": 1.5}"));
    /* extract holds the user at u2 = 0.402 on exploitation: 8575 x 0.402 */
    assert_non_null(strstr(out, "\"exploit\": {\"queries\": 8575"));
    const char *bad[] = {"Z:explore:1:1", "A:sideways:1:1", "A:explore:2:1", "A:explore:1:0.5", "A:trust:extract",
                         "A:explore:1", "A:explore:1:1:1.5", "A:exploit:extract:2"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(command, sizeof command, "\"%s\" delegate \"%s/data/delegation/example.json\" --play %s 2>&1", cli,
                 src, bad[k]);
        if (run_command(command, out, sizeof out) != 2) fail_msg("--play %s accepted: %s", bad[k], out);
        assert_non_null(strstr(out, "--play"));
    }
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_play_file),
        cmocka_unit_test(test_play_cli),
        cmocka_unit_test(test_continuous_play_semantics),
        cmocka_unit_test(test_continuous_ic),
        cmocka_unit_test(test_reassign_effect),
        cmocka_unit_test(test_impossibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
