/* Game abstraction: rival features, the da / min / avg markets (checked
 * against their definitions recomputed here), invariance to the order of
 * the rivals, and the model file (exact round trip, clear errors). */
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

static PrillmAggregator *random_model(uint64_t seed, int width, int heads, int blocks, int layer_norm) {
    PrillmAggregatorShape shape = {width, heads, blocks, layer_norm, seed};
    PrillmError err;
    PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
    assert_non_null(model);
    /* a model that tells rivals apart: perturb the output biases off their defaults */
    TestRng rng = {seed + 99};
    double *p = prillm_aggregator_parameters(model);
    int np = prillm_aggregator_parameter_count(model);
    for (int k = 0; k < np; k++) p[k] += 0.2 * (2 * test_uniform(&rng) - 1);
    return model;
}

static void test_features_by_hand(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(2, 3, &err);
    assert_non_null(mk);
    double price[3] = {2, 1, 4}, cap[3] = {10, 20, 5}, value[3] = {1, 0.5, 3};
    double delay[6] = {1, 2, 3, 3, 4, 5}; /* users 0 and 1 */
    for (int j = 0; j < 3; j++) mk->price[j] = price[j], mk->capacity[j] = cap[j], mk->value[j] = value[j];
    memcpy(mk->delay, delay, sizeof delay);
    mk->demand[0] = 1, mk->demand[1] = 3;
    static const char *names[] = {"p0", "p1", "p2", "u0", "u1"};
    for (int k = 0; k < 5; k++) {
        char *id = malloc(3);
        strcpy(id, names[k]);
        if (k < 3) mk->provider_id[k] = id;
        else mk->user_id[k - 3] = id;
    }
    double x[2 * PRILLM_AGGREGATOR_FEATURES];
    assert_int_equal(prillm_aggregator_features(mk, 0, x, &err), PRILLM_OK);
    /* rival 1 (provider 1): delays 2 and 4 weighted 1/4, 3/4: mean 3.5, spread sqrt(0.75) */
    double expect1[] = {1, log(20.0 / 4), 0.5, 3.5, sqrt(0.75), -1, -0.5, log(2.0), 3.5 - 2.5};
    double expect2[] = {4, log(5.0 / 4), 3, 4.5, sqrt(0.75), 2, 2, log(0.5), 4.5 - 2.5};
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) {
        assert_true(fabs(x[k] - expect1[k]) < 1e-14);
        assert_true(fabs(x[PRILLM_AGGREGATOR_FEATURES + k] - expect2[k]) < 1e-14);
    }
    /* affinities shift the value features by their demand-weighted means:
     * provider 0 (target) by (1*0.4 + 3*0)/4 = 0.1, provider 1 by
     * (1*(-2) + 3*1)/4 = 0.25, provider 2 by 0; nothing else moves */
    double affinity[6] = {0.4, -2, 0, 0, 1, 0};
    memcpy(mk->affinity, affinity, sizeof affinity);
    assert_int_equal(prillm_aggregator_features(mk, 0, x, &err), PRILLM_OK);
    expect1[2] = 0.75, expect1[6] = 0.75 - 1.1;
    expect2[6] = 3 - 1.1;
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) {
        assert_true(fabs(x[k] - expect1[k]) < 1e-14);
        assert_true(fabs(x[PRILLM_AGGREGATOR_FEATURES + k] - expect2[k]) < 1e-14);
    }
    assert_int_equal(prillm_aggregator_features(mk, 3, x, &err), PRILLM_ERR_INVALID_ARGUMENT);
    mk->delay[4] = NAN; /* invalid markets are refused, not scored */
    assert_int_equal(prillm_aggregator_features(mk, 0, x, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "delay"));
    prillm_market_free(mk);
}

/* The market with its providers in the order perm (new k = old perm[k]). */
static PrillmMarket *permute_providers(const PrillmMarket *mk, const int *perm) {
    PrillmError err;
    PrillmMarket *out = prillm_market_copy(mk, &err);
    assert_non_null(out);
    int n = mk->n_users, m = mk->n_providers;
    for (int k = 0; k < m; k++) {
        int j = perm[k];
        out->price[k] = mk->price[j], out->capacity[k] = mk->capacity[j], out->value[k] = mk->value[j];
        out->cost[k] = mk->cost[j], out->latency[k] = mk->latency[j];
        free(out->provider_id[k]);
        out->provider_id[k] = malloc(strlen(mk->provider_id[j]) + 1);
        strcpy(out->provider_id[k], mk->provider_id[j]);
        for (int i = 0; i < n; i++) {
            out->delay[(size_t)i * m + k] = mk->delay[(size_t)i * m + j];
            out->affinity[(size_t)i * m + k] = mk->affinity[(size_t)i * m + j];
        }
    }
    return out;
}

static int same_number(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-12 * (1 + fabs(a) + fabs(b));
}

/* Same providers (matched by id), same numbers. */
static void assert_same_market(const PrillmMarket *a, const PrillmMarket *b) {
    assert_int_equal(a->n_providers, b->n_providers);
    assert_int_equal(a->n_users, b->n_users);
    for (int k = 0; k < a->n_providers; k++) {
        int l = prillm_market_provider_index(b, a->provider_id[k]);
        if (l < 0) fail_msg("provider %s missing", a->provider_id[k]);
        assert_true(same_number(a->price[k], b->price[l]));
        assert_true(same_number(a->capacity[k], b->capacity[l]));
        assert_true(same_number(a->value[k], b->value[l]));
        assert_true(same_number(a->cost[k], b->cost[l]));
        assert_true(same_number(a->latency[k], b->latency[l]));
        for (int i = 0; i < a->n_users; i++) {
            assert_true(same_number(a->delay[(size_t)i * a->n_providers + k], b->delay[(size_t)i * b->n_providers + l]));
            assert_true(
                same_number(a->affinity[(size_t)i * a->n_providers + k], b->affinity[(size_t)i * b->n_providers + l]));
        }
    }
}

/* Provider j of mk equals provider k of out, exactly. */
static void assert_provider_copied(const PrillmMarket *mk, int j, const PrillmMarket *out, int k) {
    assert_string_equal(mk->provider_id[j], out->provider_id[k]);
    assert_true(mk->price[j] == out->price[k] && mk->capacity[j] == out->capacity[k] && mk->value[j] == out->value[k]);
    for (int i = 0; i < mk->n_users; i++) {
        assert_true(mk->delay[(size_t)i * mk->n_providers + j] == out->delay[(size_t)i * out->n_providers + k]);
        assert_true(mk->affinity[(size_t)i * mk->n_providers + j] == out->affinity[(size_t)i * out->n_providers + k]);
    }
}

/* |x - sum_j w_j column_j / sum_j w_j| small for each app's row of field
 * over the rivals j with use[j] (w = NULL: plain mean). */
static void assert_row_means(const PrillmMarket *mk, const double *field, const double *w, const unsigned char *use,
                             const PrillmMarket *out, const double *out_field, int k) {
    int m = mk->n_providers;
    for (int i = 0; i < mk->n_users; i++) {
        double sum = 0, total = 0, scale = 0;
        for (int j = 0; j < m; j++)
            if (use[j]) {
                double wj = w ? w[j] : 1.0;
                sum += wj * field[(size_t)i * m + j], total += wj, scale += fabs(wj * field[(size_t)i * m + j]);
            }
        double got = out_field[(size_t)i * out->n_providers + k];
        if (!(fabs(got - sum / total) <= 1e-13 * (scale / total) + 1e-300))
            fail_msg("user %d: merged %.17g, expected %.17g", i, got, sum / total);
    }
}

static void test_abstracted_markets(void **state) {
    (void)state;
    TestRng rng = {31};
    PrillmError err;
    int checked = 0;
    for (int trial = 0; trial < 60; trial++) {
        int n = test_int(&rng, 1, 15), m = test_int(&rng, 2, 14), target = test_int(&rng, 0, m - 1);
        int rivals = m - 1, K = test_int(&rng, 1, rivals);
        PrillmMarket *mk = test_market(n, m, 500 + (uint64_t)trial, NULL);
        if (trial % 2) test_market_affinity(mk, 550 + (uint64_t)trial, 0.3); /* apps with tastes */
        PrillmAggregator *model = random_model((uint64_t)trial, 8, 2, 1 + trial % 2, trial % 3 != 0);
        unsigned char *merged = calloc((size_t)m, 1);
        double *ss = malloc(sizeof(double) * m), *sa = malloc(sizeof(double) * m);
        assert_int_equal(prillm_aggregator_scores(model, mk, target, ss, sa, &err), PRILLM_OK);
        assert_true(isnan(ss[target]) && isnan(sa[target]));
        for (int method = 0; method < 3; method++) {
            PrillmMarket *out;
            int t;
            assert_int_equal(prillm_aggregate_market(mk, target, K, method, model, &out, &t, &err), PRILLM_OK);
            assert_int_equal(prillm_market_validate(out, &err), PRILLM_OK);
            assert_int_equal(out->n_providers, K + 1);
            assert_int_equal(out->n_users, n);
            for (int i = 0; i < n; i++) assert_true(out->demand[i] == mk->demand[i]);
            assert_true(out->w_congestion == mk->w_congestion && out->w_delay == mk->w_delay);
            assert_provider_copied(mk, target, out, t);
            if (K == rivals) {
                assert_int_equal(t, target);
                for (int j = 0; j < m; j++) assert_provider_copied(mk, j, out, j);
            } else if (method == PRILLM_AGGREGATE_DA) {
                /* kept: the K-1 best score_avg, in market order; then the merge of the rest */
                int agg = K;
                assert_string_equal(out->provider_id[agg], "aggregate");
                double cap = 0, wsum = 0, price = 0, lo = INFINITY, hi = -INFINITY;
                for (int j = 0; j < m; j++) {
                    if (j == target) continue;
                    int kept = prillm_market_provider_index(out, mk->provider_id[j]) >= 0;
                    int better = 0; /* rivals ranked above j */
                    for (int l = 0; l < m; l++)
                        if (l != target && l != j && sa[l] > sa[j]) better++;
                    assert_int_equal(kept, better < K - 1);
                    merged[j] = !kept;
                    if (kept) continue;
                    cap += ss[j] * mk->capacity[j];
                    price += sa[j] * mk->price[j], wsum += sa[j];
                    lo = fmin(lo, mk->price[j]), hi = fmax(hi, mk->price[j]);
                }
                assert_true(fabs(out->capacity[agg] - cap) <= 1e-13 * cap);
                assert_true(fabs(out->price[agg] - price / wsum) <= 1e-13 * (price / wsum));
                assert_true(out->price[agg] >= lo * (1 - 1e-15) && out->price[agg] <= hi * (1 + 1e-15));
                /* each app's delay and affinity: score_avg-weighted means */
                assert_row_means(mk, mk->delay, sa, merged, out, out->delay, agg);
                assert_row_means(mk, mk->affinity, sa, merged, out, out->affinity, agg);
                for (int j = 0; j < m; j++) {
                    int k = prillm_market_provider_index(out, mk->provider_id[j]);
                    if (k >= 0) assert_provider_copied(mk, j, out, k);
                }
                int prev = -1;
                for (int k = 0; k < K; k++) { /* market order kept */
                    int j = prillm_market_provider_index(mk, out->provider_id[k]);
                    assert_true(j > prev);
                    prev = j;
                }
            } else if (method == PRILLM_AGGREGATE_MIN) {
                double most = -INFINITY, least_dropped = INFINITY;
                for (int j = 0; j < m; j++) {
                    if (j == target) continue;
                    int k = prillm_market_provider_index(out, mk->provider_id[j]);
                    if (k >= 0) most = fmax(most, mk->price[j]), assert_provider_copied(mk, j, out, k);
                    else least_dropped = fmin(least_dropped, mk->price[j]);
                }
                assert_true(most <= least_dropped);
            } else {
                double cap = 0, price = 0;
                for (int j = 0; j < m; j++)
                    if (j != target) cap += mk->capacity[j], price += mk->price[j];
                assert_int_equal(t, 0);
                double total = 0;
                for (int k = 1; k <= K; k++) {
                    total += out->capacity[k];
                    assert_true(out->price[k] == out->price[1] && out->capacity[k] == out->capacity[1]);
                    assert_true(fabs(out->price[k] - price / rivals) <= 1e-13 * price);
                }
                assert_true(fabs(total - cap) <= 1e-12 * cap);
                for (int j = 0; j < m; j++) merged[j] = j != target;
                for (int k = 1; k <= K; k++) { /* plain means per app */
                    assert_row_means(mk, mk->delay, NULL, merged, out, out->delay, k);
                    assert_row_means(mk, mk->affinity, NULL, merged, out, out->affinity, k);
                }
            }
            prillm_market_free(out);
            checked++;
        }
        free(ss), free(sa), free(merged);
        prillm_aggregator_free(model);
        prillm_market_free(mk);
    }
    assert_int_equal(checked, 180);
}

static void test_enough_rivals_returns_original(void **state) {
    (void)state;
    PrillmError err;
    for (int trial = 0; trial < 20; trial++) {
        int m = 2 + trial % 6;
        PrillmMarket *mk = test_market(3 + trial % 4, m, 700 + (uint64_t)trial, NULL);
        PrillmAggregator *model = random_model(5, 4, 2, 1, 1);
        for (int method = 0; method < 3; method++)
            for (int K = m - 1; K <= m + 2; K++) {
                PrillmMarket *out;
                int t;
                assert_int_equal(prillm_aggregate_market(mk, trial % m, K, method, model, &out, &t, &err), PRILLM_OK);
                assert_int_equal(t, trial % m);
                assert_int_equal(out->n_providers, m);
                for (int j = 0; j < m; j++) assert_provider_copied(mk, j, out, j);
                prillm_market_free(out);
            }
        prillm_aggregator_free(model);
        prillm_market_free(mk);
    }
}

static void test_rival_order_invariance(void **state) {
    (void)state;
    TestRng rng = {32};
    PrillmError err;
    for (int trial = 0; trial < 40; trial++) {
        int n = test_int(&rng, 1, 10), m = test_int(&rng, 3, 16), target = test_int(&rng, 0, m - 1);
        int K = test_int(&rng, 1, m - 2);
        PrillmMarket *mk = test_market(n, m, 900 + (uint64_t)trial, NULL);
        if (trial % 2 == 0) test_market_affinity(mk, 950 + (uint64_t)trial, 0.3);
        PrillmAggregator *model = random_model(100 + (uint64_t)trial, 8, 4, 2, trial % 2);
        int *perm = malloc(sizeof(int) * m);
        for (int j = 0; j < m; j++) perm[j] = j;
        for (int j = m - 1; j > 0; j--) {
            int l = test_int(&rng, 0, j), x = perm[j];
            perm[j] = perm[l], perm[l] = x;
        }
        PrillmMarket *shuffled = permute_providers(mk, perm);
        int new_target = 0;
        while (perm[new_target] != target) new_target++;
        for (int method = 0; method < 3; method++) {
            PrillmMarket *a, *b;
            int ta, tb;
            assert_int_equal(prillm_aggregate_market(mk, target, K, method, model, &a, &ta, &err), PRILLM_OK);
            assert_int_equal(prillm_aggregate_market(shuffled, new_target, K, method, model, &b, &tb, &err), PRILLM_OK);
            assert_same_market(a, b);
            assert_string_equal(a->provider_id[ta], b->provider_id[tb]);
            prillm_market_free(a), prillm_market_free(b);
        }
        free(perm);
        prillm_market_free(shuffled);
        prillm_aggregator_free(model);
        prillm_market_free(mk);
    }
}

static void test_aggregate_errors(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = test_market(3, 4, 5, NULL), *out = (PrillmMarket *)1;
    PrillmAggregator *model = random_model(1, 4, 1, 1, 1);
    int t = 7;
    assert_int_equal(prillm_aggregate_market(mk, 4, 2, PRILLM_AGGREGATE_MIN, NULL, &out, &t, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(out);
    assert_int_equal(t, -1);
    assert_non_null(strstr(err.message, "target"));
    assert_int_equal(prillm_aggregate_market(mk, 0, 0, PRILLM_AGGREGATE_MIN, NULL, &out, &t, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "K"));
    assert_int_equal(prillm_aggregate_market(mk, 0, 1, PRILLM_AGGREGATE_DA, NULL, &out, &t, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "model"));
    assert_int_equal(prillm_aggregate_market(mk, 0, 1, (PrillmAggregateMethod)9, model, &out, &t, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    mk->capacity[2] = -1;
    assert_int_equal(prillm_aggregate_market(mk, 0, 1, PRILLM_AGGREGATE_AVG, NULL, &out, &t, &err),
                     PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "capacity"));
    assert_int_equal(prillm_aggregate_method_from_name("min"), PRILLM_AGGREGATE_MIN);
    assert_int_equal(prillm_aggregate_method_from_name("da"), PRILLM_AGGREGATE_DA);
    assert_int_equal(prillm_aggregate_method_from_name("avg"), PRILLM_AGGREGATE_AVG);
    assert_int_equal(prillm_aggregate_method_from_name("max"), -1);
    assert_string_equal(prillm_aggregate_method_name(PRILLM_AGGREGATE_AVG), "avg");
    prillm_aggregator_free(model);
    prillm_market_free(mk);
}

/* An existing provider called "aggregate" does not clash with the merged one. */
static void test_aggregate_id_is_fresh(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = test_market(3, 5, 77, NULL), *out;
    free(mk->provider_id[1]);
    mk->provider_id[1] = malloc(16);
    strcpy(mk->provider_id[1], "aggregate");
    PrillmAggregator *model = random_model(3, 4, 1, 1, 1);
    int t;
    assert_int_equal(prillm_aggregate_market(mk, 0, 1, PRILLM_AGGREGATE_DA, model, &out, &t, &err), PRILLM_OK);
    assert_string_equal(out->provider_id[1], "aggregate-2");
    prillm_market_free(out);
    prillm_aggregator_free(model);
    prillm_market_free(mk);
}

/* ---- model file ------------------------------------------------------- */

static char *model_text(const PrillmAggregator *model, size_t *length) {
    FILE *f = tmpfile();
    assert_non_null(f);
    PrillmError err;
    assert_int_equal(prillm_aggregator_write_json(model, f, &err), PRILLM_OK);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    *length = (size_t)size;
    return text;
}

static void test_model_round_trip(void **state) {
    (void)state;
    PrillmError err;
    for (int trial = 0; trial < 12; trial++) {
        PrillmAggregator *model = random_model(200 + (uint64_t)trial, 4 * (1 + trial % 3), 1 + trial % 2, trial % 4,
                                               trial % 2);
        double mean[PRILLM_AGGREGATOR_FEATURES], std[PRILLM_AGGREGATOR_FEATURES];
        for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) mean[k] = sin(k + trial) / 3, std[k] = 1.0 / (k + 3);
        assert_int_equal(prillm_aggregator_set_normalisation(model, mean, std, &err), PRILLM_OK);
        size_t length;
        char *text = model_text(model, &length);
        PrillmAggregator *back;
        assert_int_equal(prillm_aggregator_parse_json(text, length, &back, &err), PRILLM_OK);
        int np = prillm_aggregator_parameter_count(model);
        assert_int_equal(prillm_aggregator_parameter_count(back), np);
        assert_memory_equal(prillm_aggregator_parameters(model), prillm_aggregator_parameters(back),
                            sizeof(double) * np);
        double mean2[PRILLM_AGGREGATOR_FEATURES], std2[PRILLM_AGGREGATOR_FEATURES];
        prillm_aggregator_get_normalisation(back, mean2, std2);
        assert_memory_equal(mean, mean2, sizeof mean);
        assert_memory_equal(std, std2, sizeof std);
        PrillmAggregatorShape a, b;
        prillm_aggregator_get_shape(model, &a);
        prillm_aggregator_get_shape(back, &b);
        assert_true(a.width == b.width && a.heads == b.heads && a.blocks == b.blocks && a.layer_norm == b.layer_norm &&
                    a.seed == b.seed);
        size_t length2;
        char *again = model_text(back, &length2);
        assert_int_equal(length, length2);
        assert_memory_equal(text, again, length);
        free(text), free(again);
        prillm_aggregator_free(back);
        prillm_aggregator_free(model);
    }
}

/* Replace the first occurrence of from by to; NULL if from is absent. */
static char *replace(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (!at) return NULL;
    size_t head = (size_t)(at - text), lf = strlen(from), lt = strlen(to), total = strlen(text) - lf + lt;
    char *out = malloc(total + 1);
    memcpy(out, text, head);
    memcpy(out + head, to, lt);
    strcpy(out + head + lt, at + lf);
    return out;
}

static void test_model_bad_files(void **state) {
    (void)state;
    PrillmAggregator *model = random_model(9, 4, 2, 1, 1);
    size_t length;
    char *good = model_text(model, &length);
    struct {
        const char *from, *to, *message;
        PrillmErrorCode code;
    } cases[] = {
        {"\"format\": \"prillm-aggregator\"", "\"format\": \"prillm-market\"", "format", PRILLM_ERR_INVALID_DATA},
        {"\"version\": 1", "\"version\": 2", "version 2", PRILLM_ERR_INVALID_DATA},
        {"\"version\": 1", "\"version\": \"1\"", "version", PRILLM_ERR_INVALID_DATA},
        /* a shape the network cannot have is bad data in the file, not a bad
         * argument (the command line must exit 3, not 2) */
        {"\"heads\": 2", "\"heads\": 3", "model.shape.heads must divide", PRILLM_ERR_INVALID_DATA},
        {"\"width\": 4", "\"width\": -4", "width", PRILLM_ERR_INVALID_DATA},
        {"\"features\": 9", "\"features\": 8", "features", PRILLM_ERR_INVALID_DATA},
        {"\"layer_norm\": true", "\"layer_norm\": 1", "layer_norm", PRILLM_ERR_INVALID_DATA},
        {"\"layer_norm\": true", "\"layer_norm\": false", "tensors", PRILLM_ERR_INVALID_DATA},
        {"\"seed\": \"9\"", "\"seed\": \"-9\"", "seed", PRILLM_ERR_INVALID_DATA},
        {"\"feature_std\": [1", "\"feature_std\": [0", "feature_std[0]", PRILLM_ERR_INVALID_DATA},
        {"\"feature_mean\": [0", "\"feature_mean\": [1e999", "feature_mean[0]", PRILLM_ERR_INVALID_DATA},
        {"\"feature_mean\": [0, ", "\"feature_mean\": [", "feature_mean must have 9", PRILLM_ERR_INVALID_DATA},
        {"\"name\": \"embed.bias\"", "\"name\": \"embed.biases\"", "tensors[1].name", PRILLM_ERR_INVALID_DATA},
        {"\"shape\": [1, 4]", "\"shape\": [4, 1]", "embed.bias).shape", PRILLM_ERR_INVALID_DATA},
        {"\"values\": [", "\"values\": [\"x\", ", "values[0] must be a number", PRILLM_ERR_INVALID_DATA},
        {"\"values\": [", "\"values\": [1, ", "embed.weight).values must have 36", PRILLM_ERR_INVALID_DATA},
        {"\"tensors\": [", "\"tensors\": 5, \"x\": [", "tensors must be an array", PRILLM_ERR_INVALID_DATA},
        {"\"format\"", "\"format\" 1, \"f\"", "malformed JSON at line 2", PRILLM_ERR_PARSE},
        {"\n}\n", "\n} {}\n", "text after", PRILLM_ERR_PARSE},
    };
    PrillmError err;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *bad = replace(good, cases[k].from, cases[k].to);
        if (!bad) fail_msg("case %zu: \"%s\" not in the model text", k, cases[k].from);
        PrillmAggregator *back = (PrillmAggregator *)1;
        PrillmErrorCode rc = prillm_aggregator_parse_json(bad, strlen(bad), &back, &err);
        if (rc != cases[k].code || !strstr(err.message, cases[k].message))
            fail_msg("case %zu: got %s \"%s\", wanted %s containing \"%s\"", k, prillm_error_name(rc), err.message,
                     prillm_error_name(cases[k].code), cases[k].message);
        assert_null(back);
        free(bad);
    }
    PrillmAggregator *back;
    assert_int_equal(prillm_aggregator_parse_json("", 0, &back, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "empty"));
    assert_int_equal(prillm_aggregator_parse_json("[1]", 3, &back, &err), PRILLM_ERR_INVALID_DATA);
    /* the good text still reads */
    assert_int_equal(prillm_aggregator_parse_json(good, length, &back, &err), PRILLM_OK);
    prillm_aggregator_free(back);
    free(good);
    prillm_aggregator_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_by_hand),     cmocka_unit_test(test_abstracted_markets),
        cmocka_unit_test(test_enough_rivals_returns_original), cmocka_unit_test(test_rival_order_invariance),
        cmocka_unit_test(test_aggregate_errors),     cmocka_unit_test(test_aggregate_id_is_fresh),
        cmocka_unit_test(test_model_round_trip),     cmocka_unit_test(test_model_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
