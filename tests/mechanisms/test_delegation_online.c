#define _POSIX_C_SOURCE 200809L
/* The online session against the offline simulator on the same seeds: fed
 * the simulator's observations (prillm_delegation_simulate_query), query by
 * query in the order the session asks, it must decide exactly as
 * prillm_delegation_run (same assignments per provider and phase, same
 * stops, same user-side sums, bit for bit), with and without reassignment;
 * misuse is refused; and `prillm delegate --online` on a stream agrees. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <prillm/delegation.h>

#include "support.h"

static char *dup_text(const char *text) {
    char *copy = malloc(strlen(text) + 1);
    assert_non_null(copy);
    strcpy(copy, text);
    return copy;
}

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
        g->providers[i].strategy = test_int(rng, 0, PRILLM_DELEGATION_N_STRATEGIES - 1);
        for (int j = 0; j < counts[i]; j++) {
            PrillmDelegationModel *m = &g->providers[i].models[j];
            snprintf(id, sizeof id, "m%d", j);
            m->id = dup_text(id);
            m->score = 0.3 + 0.7 * test_uniform(rng);
            m->tokens = round(100.0 * pow(10.0, test_uniform(rng)));
            m->max_tokens = ceil(m->tokens * (1.5 + 2.5 * test_uniform(rng)));
            m->price = s->reward * (0.02 + 0.3 * test_uniform(rng)) / m->tokens;
        }
        /* a mixed continuous play now and then */
        if (test_int(rng, 0, 2) == 0) {
            int grp = test_int(rng, 0, PRILLM_PLAY_GROUPS - 1);
            g->providers[i].play[grp] =
                (PrillmDelegationPlay){0.2 + 0.8 * test_uniform(rng), test_uniform(rng), 1 + 2 * test_uniform(rng), 0};
        }
    }
    if (prillm_delegation_game_prepare(g, s, &err) != PRILLM_OK) fail_msg("prepare: %s", err.message);
    return g;
}

/* Drive a session with the simulator's draws; returns it finished. */
static PrillmDelegationSession *drive(const PrillmDelegationGame *g, const PrillmDelegationSettings *s) {
    PrillmError err;
    PrillmDelegationSession *session = NULL;
    assert_int_equal(prillm_delegation_session_create(g, s, &session, &err), PRILLM_OK);
    long long served[8] = {0}, expected_query = 0;
    double u2 = NAN;
    PrillmDelegationAssignment a;
    while (prillm_delegation_session_next(session, &a)) {
        assert_int_equal(a.query, expected_query++);
        if (a.phase != PRILLM_PHASE_EXPLORE && isnan(u2)) u2 = prillm_delegation_session_result(session)->second_utility;
        double reward, tokens, bill;
        assert_int_equal(prillm_delegation_simulate_query(g, s, a.provider, a.phase, served[a.provider]++, u2, &reward,
                                                          &tokens, &bill, &err),
                         PRILLM_OK);
        if (prillm_delegation_session_observe(session, a.provider, reward, tokens, bill, &err) != PRILLM_OK)
            fail_msg("observe: %s", err.message);
    }
    assert_int_equal(a.provider, -1);
    return session;
}

static void assert_same(const PrillmDelegationResult *off, const PrillmDelegationResult *on) {
    assert_int_equal(on->status, PRILLM_STATUS_SOLVED);
    assert_int_equal(off->best, on->best);
    assert_int_equal(off->used, on->used);
    assert_int_equal(off->exploit_budget, on->exploit_budget);
    assert_int_equal(off->stop_after, on->stop_after);
    assert_int_equal(off->runner_up, on->runner_up);
    assert_int_equal(off->reassign_stop_after, on->reassign_stop_after);
    assert_true(off->threshold == on->threshold);
    assert_true(off->second_utility == on->second_utility);
    assert_true(off->user_utility == on->user_utility);
    for (int i = 0; i < off->n_providers; i++) {
        const PrillmDelegationOutcome *a = &off->providers[i], *b = &on->providers[i];
        assert_int_equal(a->stopped_early, b->stopped_early);
        assert_true(a->delta == b->delta || (isinf(a->delta) && isinf(b->delta)));
        for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) {
            assert_int_equal(a->phase[ph].queries, b->phase[ph].queries);
            assert_true(a->phase[ph].reward == b->phase[ph].reward);
            assert_true(a->phase[ph].payment == b->phase[ph].payment);
            assert_true(a->phase[ph].user_utility == b->phase[ph].user_utility);
            assert_true(a->phase[ph].billed_tokens == b->phase[ph].billed_tokens);
            /* hidden from the user */
            assert_true(isnan(b->phase[ph].provider_utility) && isnan(b->phase[ph].true_tokens));
        }
    }
}

static void test_online_matches_offline(void **state) {
    (void)state;
    TestRng rng = {808};
    int stopped = 0, reassigned = 0;
    for (int trial = 0; trial < 60; trial++) {
        PrillmDelegationSettings s;
        prillm_delegation_default_settings(&s);
        s.horizon = 10000 + 10000 * test_int(&rng, 0, 4);
        s.epsilon = trial % 3 == 0 ? 0.2 : 0.3;
        s.seed = 3000 + trial;
        s.draws = trial % 3;
        s.reassign = trial % 2;
        int K = test_int(&rng, 2, 4);
        PrillmDelegationGame *g = random_game(&rng, K, &s);
        PrillmError err;
        PrillmDelegationResult *off = NULL;
        assert_int_equal(prillm_delegation_run(g, &s, &off, &err), PRILLM_OK);
        PrillmDelegationSession *session = drive(g, &s);
        assert_same(off, prillm_delegation_session_result(session));
        stopped += off->stop_after >= 0;
        reassigned += off->runner_up >= 0;
        prillm_delegation_session_free(session);
        prillm_delegation_result_free(off);
        prillm_delegation_game_free(g);
    }
    print_message("online = offline on 60 instances (%d with an early stop, %d reassigned)\n", stopped, reassigned);
    assert_true(stopped > 0 && reassigned > 0);
}

static void test_online_misuse(void **state) {
    (void)state;
    TestRng rng = {9};
    PrillmDelegationSettings s;
    prillm_delegation_default_settings(&s);
    s.horizon = 1000;
    s.epsilon = 0.2;
    PrillmDelegationGame *g = random_game(&rng, 2, &s);
    PrillmError err;
    PrillmDelegationSession *session = NULL;
    assert_int_equal(prillm_delegation_session_create(g, &s, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_delegation_session_create(NULL, &s, &session, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(session);
    assert_int_equal(prillm_delegation_session_create(g, &s, &session, &err), PRILLM_OK);
    PrillmDelegationAssignment a;
    assert_int_equal(prillm_delegation_session_next(session, &a), 1);
    assert_int_equal(a.provider, 0);
    assert_int_equal(prillm_delegation_session_observe(session, 1, 0.5, 10, 0.1, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "due from provider \"P1\""));
    assert_int_equal(prillm_delegation_session_observe(session, 0, NAN, 10, 0.1, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_delegation_session_observe(session, 0, 0.5, -1, 0.1, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_delegation_session_observe(session, 0, 0.5, 10, INFINITY, &err), PRILLM_ERR_INVALID_ARGUMENT);
    /* nothing was recorded */
    assert_int_equal(prillm_delegation_session_result(session)->used, 0);
    assert_int_equal(prillm_delegation_session_result(session)->status, PRILLM_STATUS_UNSOLVED);
    /* run it out with constant observations; then observing is refused */
    while (prillm_delegation_session_next(session, &a))
        assert_int_equal(prillm_delegation_session_observe(session, a.provider, 0.8, 100, 0.05, &err), PRILLM_OK);
    assert_int_equal(prillm_delegation_session_observe(session, 0, 0.5, 10, 0.1, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "finished"));
    double r, t, b;
    assert_int_equal(prillm_delegation_simulate_query(g, &s, 5, 0, 0, 0, &r, &t, &b, &err), PRILLM_ERR_INVALID_ARGUMENT);
    prillm_delegation_session_free(session);
    prillm_delegation_session_free(NULL);
    prillm_delegation_game_free(g);
}

/* The command on a stream written from the simulator's draws: the summary
 * line matches the offline run of the same file and seed. */
static void test_online_cli(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI"), *src = getenv("PRILLM_SOURCE_DIR");
    if (!cli || !src) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/data/delegation/example.json", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    PrillmDelegationSettings s;
    prillm_delegation_default_settings(&s);
    PrillmDelegationGame *g = NULL;
    PrillmError err;
    assert_int_equal(prillm_delegation_read_json(f, NULL, NULL, &s, &g, &err), PRILLM_OK);
    fclose(f);
    s.draws = PRILLM_DRAW_BETA; /* noise, so that the stream matters */
    PrillmDelegationSession *session = drive(g, &s);
    const PrillmDelegationResult *r = prillm_delegation_session_result(session);
    /* replay the same observations into a file */
    char observations[] = "/tmp/prillm_online_XXXXXX";
    int fd = mkstemp(observations);
    assert_true(fd >= 0);
    FILE *obs = fdopen(fd, "w");
    assert_non_null(obs);
    {
        PrillmDelegationSession *again = NULL;
        assert_int_equal(prillm_delegation_session_create(g, &s, &again, &err), PRILLM_OK);
        long long served[2] = {0, 0};
        double u2 = NAN;
        PrillmDelegationAssignment a;
        while (prillm_delegation_session_next(again, &a)) {
            if (a.phase != PRILLM_PHASE_EXPLORE && isnan(u2)) u2 = prillm_delegation_session_result(again)->second_utility;
            double reward, tokens, bill;
            assert_int_equal(prillm_delegation_simulate_query(g, &s, a.provider, a.phase, served[a.provider]++, u2,
                                                              &reward, &tokens, &bill, &err),
                             PRILLM_OK);
            fprintf(obs, "%s %.17g %.17g %.17g\n", g->providers[a.provider].id, reward, tokens, bill);
            assert_int_equal(prillm_delegation_session_observe(again, a.provider, reward, tokens, bill, &err), PRILLM_OK);
        }
        prillm_delegation_session_free(again);
    }
    fclose(obs);
    char command[2048];
    snprintf(command, sizeof command, "\"%s\" delegate --online \"%s\" --draws beta < %s | tail -1", cli, path,
             observations);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    static char out[1 << 16];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    char expect[256];
    snprintf(expect, sizeof expect, "{\"done\": true, \"used\": %lld, \"unused\": %lld, \"best\": \"%s\"", r->used,
             r->horizon - r->used, g->providers[r->best].id);
    if (!strstr(out, expect)) fail_msg("got %s, expected %s", out, expect);
    snprintf(expect, sizeof expect, "\"user_utility\": %.17g, \"queries\": {\"A\": %lld, \"B\": %lld}}", r->user_utility,
             r->providers[0].total.queries, r->providers[1].total.queries);
    if (!strstr(out, expect)) fail_msg("got %s, expected %s", out, expect);
    /* a truncated stream: done false; a wrong provider: exit 3 naming the line */
    snprintf(command, sizeof command, "head -5 %s | \"%s\" delegate --online \"%s\" | tail -1", observations, cli, path);
    p = popen(command, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "{\"done\": false, \"used\": 5,"));
    snprintf(command, sizeof command, "echo 'B 1 2 3' | \"%s\" delegate --online \"%s\" 2>&1 >/dev/null", cli, path);
    p = popen(command, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_non_null(strstr(out, "<stdin>:1: query 0 is due from provider \"A\", not \"B\""));
    snprintf(command, sizeof command, "echo 'A 1 2' | \"%s\" delegate --online \"%s\" 2>&1 >/dev/null", cli, path);
    p = popen(command, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    status = pclose(p);
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_non_null(strstr(out, "4 fields"));
    snprintf(command, sizeof command, "echo 'A 1 2 3' | \"%s\" delegate --online - 2>&1 >/dev/null", cli);
    p = popen(command, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    status = pclose(p);
    assert_int_equal(WEXITSTATUS(status), 2);
    unlink(observations);
    prillm_delegation_session_free(session);
    prillm_delegation_game_free(g);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_online_matches_offline),
        cmocka_unit_test(test_online_misuse),
        cmocka_unit_test(test_online_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
