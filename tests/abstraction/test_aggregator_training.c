/* Training data and training of the aggregation network: the scenarios,
 * the profit-curve loss, its end-to-end gradient (equilibrium sensitivity,
 * merge, network) against finite differences, determinism across thread
 * counts, and resuming from a checkpoint. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "set_transformer.h"
#include "support.h"

/* Scenarios around a random base market; with affinity > 0 that share of
 * the apps has tastes (test_market_affinity), which the scenarios keep. */
static PrillmAggregatorScenarios make_scenarios_with(int n, int m, int count, int L, int seed, int target,
                                                    double affinity) {
    PrillmError err;
    PrillmMarket *base = test_market(n, m, 4000 + (uint64_t)seed, NULL);
    if (affinity > 0) test_market_affinity(base, 4500 + (uint64_t)seed, 1 - affinity);
    PrillmScenarioSettings st;
    prillm_scenario_default_settings(&st);
    st.scenarios = count;
    st.prices = L;
    st.seed = seed;
    PrillmAggregatorScenarios sc;
    if (prillm_aggregator_scenarios(base, target, &st, &sc, &err)) fail_msg("scenarios: %s", err.message);
    prillm_market_free(base);
    return sc;
}

static PrillmAggregatorScenarios make_scenarios(int n, int m, int count, int L, int seed, int target) {
    return make_scenarios_with(n, m, count, L, seed, target, 0);
}

static PrillmAggregator *small_model(uint64_t seed, int layer_norm) {
    PrillmAggregatorShape shape = {4, 2, 1, layer_norm, seed};
    PrillmError err;
    PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
    assert_non_null(model);
    TestRng rng = {seed};
    double *p = prillm_aggregator_parameters(model);
    for (int k = 0; k < prillm_aggregator_parameter_count(model); k++) p[k] += 0.3 * (2 * test_uniform(&rng) - 1);
    return model;
}

static void test_scenarios_match_definition(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *base = test_market(7, 9, 4001, NULL);
    PrillmScenarioSettings st;
    prillm_scenario_default_settings(&st);
    st.scenarios = 30;
    st.prices = 5;
    PrillmAggregatorScenarios a, b, c;
    assert_int_equal(prillm_aggregator_scenarios(base, -1, &st, &a, &err), PRILLM_OK);
    assert_int_equal(prillm_aggregator_scenarios(base, -1, &st, &b, &err), PRILLM_OK);
    st.seed = 2;
    assert_int_equal(prillm_aggregator_scenarios(base, 3, &st, &c, &err), PRILLM_OK);
    int differ = 0, dropped = 0;
    for (int s = 0; s < 30; s++) {
        const PrillmAggregatorScenario *x = &a.items[s], *y = &b.items[s], *z = &c.items[s];
        assert_int_equal(prillm_market_validate(x->market, &err), PRILLM_OK);
        assert_int_equal(x->market->n_providers, y->market->n_providers);
        assert_memory_equal(x->profit, y->profit, sizeof(double) * 5);
        assert_memory_equal(x->market->price, y->market->price, sizeof(double) * x->market->n_providers);
        assert_true(x->market->n_providers >= 2);
        dropped += x->market->n_providers < 9;
        /* the target is the base market's provider, unperturbed */
        int j = prillm_market_provider_index(base, x->market->provider_id[x->target]);
        assert_true(j >= 0);
        assert_true(x->market->price[x->target] == base->price[j] && x->market->capacity[x->target] == base->capacity[j]);
        assert_string_equal(z->market->provider_id[z->target], base->provider_id[3]);
        differ += z->market->n_providers != x->market->n_providers || z->market->price[0] != x->market->price[0];
        /* prices k/(L+1) of the choke price: the target sells nothing there and
         * something just below it */
        double choke = x->prices[0] * 6;
        for (int k = 0; k < 5; k++) assert_true(fabs(x->prices[k] - (k + 1) / 6.0 * choke) <= 1e-14 * choke);
        for (int side = 0; side < 2; side++) {
            PrillmMarket *mk = prillm_market_copy(x->market, &err);
            mk->price[x->target] = choke * (side ? 1 + 1e-9 : 0.999);
            PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
            double F = prillm_equilibrium_solution(solver)->provider_flow[x->target];
            if (side) assert_true(F <= 1e-9 * mk->demand[0] + 1e-12);
            else assert_true(F > 0);
            prillm_equilibrium_cleanup(solver);
            prillm_market_free(mk);
        }
        /* the profit curve, recomputed with a fresh solver per price */
        for (int k = 0; k < 5; k++) {
            PrillmMarket *mk = prillm_market_copy(x->market, &err);
            mk->price[x->target] = x->prices[k];
            PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            double F = 0;
            for (int i = 0; i < mk->n_users; i++) F += eq->flows[(size_t)i * mk->n_providers + x->target];
            assert_true(fabs(x->profit[k] - x->prices[k] * F) <= 1e-8 * (1 + fabs(x->profit[k])));
            prillm_equilibrium_cleanup(solver);
            prillm_market_free(mk);
        }
    }
    assert_true(differ > 20);
    assert_true(dropped > 5);
    prillm_aggregator_scenarios_free(&a), prillm_aggregator_scenarios_free(&b), prillm_aggregator_scenarios_free(&c);
    /* bad settings and targets */
    st.prices = 0;
    assert_int_equal(prillm_aggregator_scenarios(base, 0, &st, &a, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "prices"));
    st.prices = 3;
    assert_int_equal(prillm_aggregator_scenarios(base, 9, &st, &a, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_scenario_set_option(&st, "drop-probability", "1.5", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_scenario_set_option(&st, "capacity-noise", "0.1", &err), PRILLM_OK);
    assert_true(st.capacity_noise == 0.1);
    prillm_market_free(base);
}

/* With K at least the number of rivals nothing is abstracted: zero loss. */
static void test_loss_zero_without_abstraction(void **state) {
    (void)state;
    PrillmAggregatorScenarios sc = make_scenarios(5, 4, 10, 4, 7, -1);
    PrillmAggregator *model = small_model(1, 1);
    PrillmError err;
    double loss;
    for (int method = 0; method < 3; method++) {
        assert_int_equal(prillm_aggregator_loss(model, method, 3, &sc, 0, 10, &loss, &err), PRILLM_OK);
        assert_true(loss < 1e-20);
    }
    /* nothing to differentiate: zero gradient */
    int np = prillm_aggregator_parameter_count(model);
    double *grad = malloc(sizeof(double) * (size_t)np);
    for (int s = 0; s < 10; s++) {
        assert_int_equal(prillm_aggregator_loss_gradient(model, 3, &sc.items[s], &loss, grad, &err), PRILLM_OK);
        for (int q = 0; q < np; q++) assert_true(grad[q] == 0.0);
    }
    assert_int_equal(prillm_aggregator_loss_gradient(model, 0, &sc.items[0], &loss, grad, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    free(grad);
    /* and a positive loss when abstracting to one rival */
    assert_int_equal(prillm_aggregator_loss(model, PRILLM_AGGREGATE_MIN, 1, &sc, 0, 10, &loss, &err), PRILLM_OK);
    if (!(loss > 0 && isfinite(loss))) fail_msg("min loss %g", loss);
    assert_int_equal(prillm_aggregator_loss(model, PRILLM_AGGREGATE_DA, 1, &sc, 5, 10, &loss, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    prillm_aggregator_free(model);
    prillm_aggregator_scenarios_free(&sc);
}

/* The target's flow sensitivity to one rival's capacity, price, value and
 * delays against central differences of exact equilibrium solves; like the
 * gradient test, stencils that straddle an active-set change are skipped. */
static double target_flow(const PrillmMarket *mk, int target) {
    PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
    double F = prillm_equilibrium_solution(solver)->provider_flow[target];
    prillm_equilibrium_cleanup(solver);
    return F;
}

static void test_flow_sensitivity(void **state) {
    (void)state;
    TestRng rng = {55};
    int checked = 0, skipped = 0, nonzero = 0;
    for (int trial = 0; trial < 30; trial++) {
        int n = test_int(&rng, 1, 8), m = test_int(&rng, 2, 6), target = test_int(&rng, 0, m - 1);
        int agg = (target + test_int(&rng, 1, m - 1)) % m;
        PrillmMarket *mk = test_market(n, m, 6000 + (uint64_t)trial, NULL);
        /* some apps with tastes, so the affinity directions are exercised */
        test_market_affinity(mk, 6100 + (uint64_t)trial, 0.5);
        PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
        double *dF = calloc(2 * (size_t)n + 3, sizeof(double));
        assert_int_equal(prillm__target_flow_sensitivity(mk, target, agg, prillm_equilibrium_solution(solver), dF), 0);
        prillm_equilibrium_cleanup(solver);
        for (int dir = 0; dir < 2 * n + 3; dir++) {
            double *x = dir == 0       ? &mk->capacity[agg]
                      : dir == 1       ? &mk->price[agg]
                      : dir == 2       ? &mk->value[agg]
                      : dir < 3 + n    ? &mk->delay[(size_t)(dir - 3) * m + agg]
                                       : &mk->affinity[(size_t)(dir - 3 - n) * m + agg];
            double keep = *x, fd[2], scale = fabs(keep) + 1e-3;
            for (int h = 0; h < 2; h++) {
                double step = (h ? 1e-6 : 2e-6) * scale;
                *x = keep + step;
                double up = target_flow(mk, target);
                *x = keep - step;
                double down = target_flow(mk, target);
                *x = keep;
                fd[h] = (up - down) / (2 * step);
            }
            double tol = 1e-5 * (fabs(fd[1]) + fabs(dF[dir])) + 1e-7 * mk->demand[0] / scale;
            if (fabs(fd[0] - fd[1]) > tol) {
                skipped++;
                continue;
            }
            if (!(fabs(fd[1] - dF[dir]) <= 10 * tol))
                fail_msg("trial %d direction %d: analytic %.10g, finite difference %.10g", trial, dir, dF[dir], fd[1]);
            nonzero += dF[dir] != 0;
            checked++;
        }
        free(dF);
        prillm_market_free(mk);
    }
    print_message("flow sensitivity: %d directions checked (%d nonzero), %d skipped at kinks\n", checked, nonzero,
                  skipped);
    assert_true(checked >= 100 && nonzero >= 50 && skipped * 10 <= checked);
}

/* d loss / d parameters through equilibrium sensitivity, merge and network,
 * against central differences; coordinates where two step sizes disagree
 * (an active-set kink inside the stencil) are skipped and counted. */
static void test_end_to_end_gradient(void **state) {
    (void)state;
    PrillmError err;
    int checked = 0, skipped = 0, nonzero = 0;
    TestRng rng = {77};
    for (int trial = 0; trial < 8; trial++) {
        /* odd trials give the apps tastes: the gradient then also flows
         * through the merged rival's per-app affinities */
        PrillmAggregatorScenarios sc =
            make_scenarios_with(3 + trial % 4, 5 + trial % 3, 2, 4, 100 + trial, 0, trial % 2 ? 0.7 : 0);
        PrillmAggregator *model = small_model(10 + (uint64_t)trial, trial % 2);
        int np = prillm_aggregator_parameter_count(model);
        double *p = prillm_aggregator_parameters(model), *grad = calloc((size_t)np, sizeof(double));
        double *scratch = calloc((size_t)np, sizeof(double));
        for (int s = 0; s < sc.count; s++) {
            int K = 1 + (trial + s) % 2;
            double loss;
            if (sc.items[s].market->n_providers - 1 <= K) continue;
            assert_int_equal(prillm_aggregator_loss_gradient(model, K, &sc.items[s], &loss, grad, &err), PRILLM_OK);
            double top = 0;
            for (int q = 0; q < np; q++) top = fmax(top, fabs(grad[q]));
            nonzero += top > 0;
            for (int pick = 0; pick < 25; pick++) {
                int q = test_int(&rng, 0, np - 1);
                double keep = p[q], fd[2];
                for (int h = 0; h < 2; h++) {
                    double step = (h ? 1e-5 : 2e-5), up, down;
                    p[q] = keep + step;
                    assert_int_equal(prillm_aggregator_loss_gradient(model, K, &sc.items[s], &up, scratch, &err), 0);
                    p[q] = keep - step;
                    assert_int_equal(prillm_aggregator_loss_gradient(model, K, &sc.items[s], &down, scratch, &err), 0);
                    p[q] = keep;
                    fd[h] = (up - down) / (2 * step);
                }
                double tol = 1e-6 * (fabs(fd[1]) + top) + 1e-12;
                if (fabs(fd[0] - fd[1]) > tol) {
                    skipped++;
                    continue;
                }
                if (!(fabs(fd[1] - grad[q]) <= 10 * tol))
                    fail_msg("trial %d scenario %d K %d param %d: analytic %.10g, finite difference %.10g", trial, s, K,
                             q, grad[q], fd[1]);
                checked++;
            }
        }
        free(grad), free(scratch);
        prillm_aggregator_free(model);
        prillm_aggregator_scenarios_free(&sc);
    }
    print_message("end-to-end gradient: %d coordinates checked, %d skipped at kinks, %d nonzero gradients\n", checked,
                  skipped, nonzero);
    assert_true(checked >= 200);
    assert_true(skipped * 10 <= checked);
    assert_true(nonzero >= 8);
}

static double *train_once(const PrillmAggregatorScenarios *sc, int epochs, int threads, const char *checkpoint,
                          PrillmTrainInfo *info) {
    PrillmTrainSettings ts;
    prillm_train_default_settings(&ts);
    ts.K = 2, ts.epochs = epochs, ts.batch = 5, ts.learning_rate = 3e-3, ts.threads = threads;
    PrillmAggregator *model = small_model(3, 1);
    PrillmError err;
    if (prillm_aggregator_train(model, sc, &ts, checkpoint, NULL, NULL, info, &err))
        fail_msg("train: %s", err.message);
    int np = prillm_aggregator_parameter_count(model);
    double *out = malloc(sizeof(double) * (size_t)np);
    memcpy(out, prillm_aggregator_parameters(model), sizeof(double) * (size_t)np);
    prillm_aggregator_free(model);
    return out;
}

static void test_training_deterministic_and_resumable(void **state) {
    (void)state;
    PrillmAggregatorScenarios sc = make_scenarios(6, 8, 30, 4, 21, -1);
    PrillmAggregator *probe = small_model(3, 1);
    size_t bytes = sizeof(double) * (size_t)prillm_aggregator_parameter_count(probe);
    prillm_aggregator_free(probe);
    PrillmTrainInfo one, two, resumed;
    double *a = train_once(&sc, 3, 1, NULL, &one);
    double *b = train_once(&sc, 3, 2, NULL, &two);
    assert_memory_equal(a, b, bytes);
    assert_true(one.test_loss == two.test_loss && one.validation_loss == two.validation_loss);
    assert_int_equal(one.n_train + one.n_validation + one.n_test, 30);
    assert_int_equal(one.epochs_done, 3);
    const char *path = "test_aggregator_training.checkpoint.json";
    remove(path);
    double *c = train_once(&sc, 1, 2, path, &resumed);
    double *d = train_once(&sc, 3, 1, path, &resumed); /* picks up after epoch 1 */
    assert_int_equal(resumed.epochs_done, 3);
    assert_memory_equal(a, d, bytes);
    /* a checkpoint from another setting is refused by name */
    PrillmTrainSettings ts;
    prillm_train_default_settings(&ts);
    ts.K = 1;
    PrillmAggregator *model = small_model(3, 1);
    PrillmError err;
    PrillmTrainInfo info;
    assert_int_equal(prillm_aggregator_train(model, &sc, &ts, path, NULL, NULL, &info, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "K 2"));
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"something else\"}", f);
    fclose(f);
    ts.K = 2;
    assert_int_equal(prillm_aggregator_train(model, &sc, &ts, path, NULL, NULL, &info, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "checkpoint.format"));
    ts.validation_fraction = 0.5, ts.test_fraction = 0.5;
    assert_int_equal(prillm_aggregator_train(model, &sc, &ts, NULL, NULL, NULL, &info, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    remove(path);
    prillm_aggregator_free(model);
    free(a), free(b), free(c), free(d);
    prillm_aggregator_scenarios_free(&sc);
}

static int count_epochs(void *context, const PrillmTrainProgress *progress, const PrillmAggregator *model) {
    (void)model;
    int *calls = context;
    (*calls)++;
    assert_int_equal(progress->epoch, *calls);
    assert_true(isfinite(progress->train_loss) && isfinite(progress->validation_loss));
    return 0;
}

/* A few epochs lower the training loss of a freshly initialised network. */
static void test_training_lowers_loss(void **state) {
    (void)state;
    PrillmAggregatorScenarios sc = make_scenarios(8, 10, 40, 6, 31, -1);
    PrillmTrainSettings ts;
    prillm_train_default_settings(&ts);
    ts.K = 2, ts.epochs = 6, ts.batch = 4, ts.learning_rate = 1e-2, ts.validation_fraction = 0, ts.test_fraction = 0;
    PrillmAggregatorShape shape = {8, 2, 1, 1, 5};
    PrillmError err;
    PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
    PrillmTrainInfo info;
    int calls = 0;
    /* the normalisation the training will fit, so the before-loss is comparable */
    ts.epochs = 0;
    assert_int_equal(prillm_aggregator_train(model, &sc, &ts, NULL, NULL, NULL, &info, &err), PRILLM_OK);
    double before, after;
    assert_int_equal(prillm_aggregator_loss(model, PRILLM_AGGREGATE_DA, 2, &sc, 0, 40, &before, &err), PRILLM_OK);
    ts.epochs = 6;
    assert_int_equal(prillm_aggregator_train(model, &sc, &ts, NULL, count_epochs, &calls, &info, &err), PRILLM_OK);
    assert_int_equal(calls, 6);
    assert_int_equal(prillm_aggregator_loss(model, PRILLM_AGGREGATE_DA, 2, &sc, 0, 40, &after, &err), PRILLM_OK);
    print_message("training loss %.4g -> %.4g\n", before, after);
    assert_true(after < before);
    prillm_aggregator_free(model);
    prillm_aggregator_scenarios_free(&sc);
}

/* prillm_aggregator_split is the split training makes: its test indices
 * give the test losses training reports, for several seeds and sizes; it is
 * a permutation with the rounded sizes; bad arguments are refused. */
static void test_split_matches_training(void **state) {
    (void)state;
    PrillmError err;
    static const int counts[] = {1, 2, 7, 40, 101, 1000};
    static const double fractions[][2] = {{0.15, 0.15}, {0, 0.3}, {0.25, 0}, {0.4, 0.45}};
    for (int c = 0; c < 6; c++)
        for (int f = 0; f < 4; f++)
            for (int seed = 0; seed < 5; seed++) {
                PrillmTrainSettings ts;
                prillm_train_default_settings(&ts);
                ts.validation_fraction = fractions[f][0], ts.test_fraction = fractions[f][1], ts.seed = seed * 977;
                int N = counts[c], *order = calloc((size_t)N, sizeof(int)), *again = calloc((size_t)N, sizeof(int));
                int *seen = calloc((size_t)N, sizeof(int)), n_train, n_val, n_test;
                PrillmErrorCode rc = prillm_aggregator_split(N, &ts, order, &n_train, &n_val, &n_test, &err);
                int expect_test = (int)floor(ts.test_fraction * N + 0.5),
                    expect_val = (int)floor(ts.validation_fraction * N + 0.5);
                if (N - expect_test - expect_val < 1) {
                    assert_int_equal(rc, PRILLM_ERR_INVALID_ARGUMENT);
                } else {
                    assert_int_equal(rc, PRILLM_OK);
                    assert_int_equal(n_test, expect_test);
                    assert_int_equal(n_val, expect_val);
                    assert_int_equal(n_train + n_val + n_test, N);
                    for (int k = 0; k < N; k++) {
                        assert_true(order[k] >= 0 && order[k] < N);
                        assert_int_equal(seen[order[k]]++, 0);
                    }
                    assert_int_equal(prillm_aggregator_split(N, &ts, again, &n_train, &n_val, &n_test, &err),
                                     PRILLM_OK);
                    assert_memory_equal(order, again, (size_t)N * sizeof(int));
                }
                free(order), free(again), free(seen);
            }
    /* the test part is the one training scores */
    for (int seed = 1; seed <= 3; seed++) {
        PrillmAggregatorScenarios sc = make_scenarios(5, 7, 30, 4, 60 + seed, -1);
        PrillmTrainSettings ts;
        prillm_train_default_settings(&ts);
        ts.K = 2, ts.epochs = 1, ts.batch = 8, ts.seed = seed, ts.test_fraction = 0.3, ts.threads = 1;
        PrillmAggregatorShape shape = {8, 2, 1, 1, 3};
        PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
        PrillmTrainInfo info;
        assert_int_equal(prillm_aggregator_train(model, &sc, &ts, NULL, NULL, NULL, &info, &err), PRILLM_OK);
        int order[30], n_train, n_val, n_test;
        assert_int_equal(prillm_aggregator_split(30, &ts, order, &n_train, &n_val, &n_test, &err), PRILLM_OK);
        assert_int_equal(n_test, info.n_test);
        assert_int_equal(n_val, info.n_validation);
        for (int method = 0; method < 3; method++) {
            double sum = 0, loss;
            for (int k = 0; k < n_test; k++) {
                assert_int_equal(prillm_aggregator_loss(model, (PrillmAggregateMethod)method, 2, &sc,
                                                        order[n_train + n_val + k], 1, &loss, &err),
                                 PRILLM_OK);
                sum += loss;
            }
            double reported = method == 0 ? info.test_loss : method == 1 ? info.test_loss_min : info.test_loss_avg;
            assert_true(fabs(sum / n_test - reported) <= 1e-12 * (1 + fabs(reported)));
        }
        prillm_aggregator_free(model);
        prillm_aggregator_scenarios_free(&sc);
    }
    PrillmTrainSettings ts;
    prillm_train_default_settings(&ts);
    int order[4], a, b, c;
    assert_int_equal(prillm_aggregator_split(0, &ts, order, &a, &b, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_aggregator_split(4, NULL, order, &a, &b, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
    ts.test_fraction = 0.6, ts.validation_fraction = 0.5;
    assert_int_equal(prillm_aggregator_split(4, &ts, order, &a, &b, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios_match_definition),
        cmocka_unit_test(test_loss_zero_without_abstraction),
        cmocka_unit_test(test_flow_sensitivity),
        cmocka_unit_test(test_end_to_end_gradient),
        cmocka_unit_test(test_training_deterministic_and_resumable),
        cmocka_unit_test(test_training_lowers_loss),
        cmocka_unit_test(test_split_matches_training),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
