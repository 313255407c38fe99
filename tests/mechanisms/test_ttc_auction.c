/*
 * The test-time compute auction at full strength (docs/ttc.md): measured
 * curves read from evaluation results, explicit bids with realised quality,
 * and a population of users. Properties are checked on many seeded random
 * instances against the test's own implementation of the rules (its own
 * quality formula, winner and payment, its own brute force over
 * deviations, its own per-request loop and sorted quantiles).
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

/* ---- the test's own model ---------------------------------------------------- */

static double ref_quality(const PrillmTtcMarket *mk, double scale, double a) {
    double f = a;
    if (mk->value_shape == PRILLM_TTC_VALUE_POWER) f = pow(a, mk->value_curvature);
    if (mk->value_shape == PRILLM_TTC_VALUE_EXP) f = (exp(mk->value_curvature * a) - 1) / (exp(mk->value_curvature) - 1);
    return scale * (mk->value_baseline + (1 - mk->value_baseline) * f);
}

static double ref_cost(const PrillmTtcMarket *mk, int i, int k) {
    return mk->tokens[mk->level_offset[i] + k] * 1e-6 * mk->list_price[i] / (1 + mk->margin);
}

/* A random market with strictly increasing tokens; level labels are the
 * compute parameter (1, 2, 4, ... or effort bins); `same_levels` gives every
 * model the same labels. */
static PrillmTtcMarket *random_market(TestRng *rng, int max_models, int max_levels, int same_levels) {
    int n = test_int(rng, 1, max_models), counts[PRILLM_TTC_MAX_MODELS];
    int common = test_int(rng, 1, max_levels);
    for (int i = 0; i < n; i++) counts[i] = same_levels ? common : test_int(rng, 1, max_levels);
    PrillmTtcMarket *mk = prillm_ttc_market_alloc(n, counts, NULL);
    assert_non_null(mk);
    mk->value_scale = 0.005 + 0.05 * test_uniform(rng);
    mk->value_baseline = test_int(rng, 0, 2) ? 0.1 : test_uniform(rng);
    mk->value_shape = test_int(rng, 0, 3) ? PRILLM_TTC_VALUE_LINEAR : test_int(rng, 1, 2);
    mk->value_curvature = mk->value_shape == PRILLM_TTC_VALUE_EXP ? 6 : 3.5;
    mk->margin = 0.05 + test_uniform(rng);
    mk->beta = NAN;
    mk->outside_value = test_int(rng, 0, 2) ? 0 : 0.004 * (test_uniform(rng) - 0.5);
    int effort = test_int(rng, 0, 1);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        mk->model_id[i] = strdup(id);
        mk->list_price[i] = 0.05 + 0.3 * test_uniform(rng);
        double tokens = 100 + 400 * test_uniform(rng), acc = 0.8 * test_uniform(rng);
        for (int k = 0; k < counts[i]; k++) {
            int at = mk->level_offset[i] + k;
            mk->level_label[at] = effort ? k + 1 : (double)(1 << k);
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

static char *slurp(const char *path) {
    FILE *in = fopen(path, "rb");
    if (!in) return NULL;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, out);
    fclose(in);
    fclose(out);
    return text;
}

/* ---- 1. measured curves ----------------------------------------------------- */

/* Write mk's curves as evaluation results (CSV or JSON), rows in a random
 * order, with decoy rows of another benchmark and another method. */
static char *write_results(TestRng *rng, const PrillmTtcMarket *mk, int json, int decoys) {
    int total = mk->level_offset[mk->n_models];
    int *order = malloc((size_t)total * sizeof *order);
    for (int k = 0; k < total; k++) order[k] = k;
    for (int k = total - 1; k > 0; k--) {
        int j = test_int(rng, 0, k), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (json) fputs("{\"description\": \"test\", \"results\": [\n", out);
    else fputs("method,benchmark,model,level,tokens,accuracy,price_per_million,questions\n", out);
    int first = 1;
    for (int pass = 0; pass < (decoys ? 3 : 1); pass++)
        for (int r = 0; r < total; r++) {
            int at = order[r], i = 0;
            while (mk->level_offset[i + 1] <= at) i++;
            const char *bench = pass == 1 ? "other" : "gsm", *method = pass == 2 ? "best-of-n" : "majority";
            /* decoys have non-monotone tokens: read, they would be an error */
            double tokens = pass ? 1000 - at : mk->tokens[at];
            if (json)
                fprintf(out, "%s{\"model\": \"%s\", \"benchmark\": \"%s\", \"method\": \"%s\", \"level\": %.17g, "
                             "\"accuracy\": %.17g, \"tokens\": %.17g, \"price_per_million\": %.17g, \"questions\": 50}",
                        first ? "" : ",\n", mk->model_id[i], bench, method, mk->level_label[at], mk->accuracy[at],
                        tokens, mk->list_price[i]);
            else
                fprintf(out, "%s,%s,%s,%.17g,%.17g,%.17g,%.17g,50\n", method, bench, mk->model_id[i],
                        mk->level_label[at], tokens, mk->accuracy[at], mk->list_price[i]);
            first = 0;
        }
    if (json) fputs("]}\n", out);
    fclose(out);
    free(order);
    return text;
}

static PrillmTtcCurveSettings settings_of(const PrillmTtcMarket *mk) {
    PrillmTtcCurveSettings s;
    prillm_ttc_curve_default_settings(&s);
    s.value_scale = mk->value_scale;
    s.value_baseline = mk->value_baseline;
    s.value_shape = mk->value_shape;
    s.value_curvature = mk->value_curvature;
    s.margin = mk->margin;
    s.beta = mk->beta;
    s.outside_value = mk->outside_value;
    return s;
}

/* The same curves, model by model (b may list the models in another order). */
static void assert_same_market(const PrillmTtcMarket *a, const PrillmTtcMarket *b) {
    assert_int_equal(a->n_models, b->n_models);
    for (int i = 0; i < a->n_models; i++) {
        int j = 0;
        while (j < b->n_models && strcmp(a->model_id[i], b->model_id[j]) != 0) j++;
        assert_true(j < b->n_models);
        assert_true(a->list_price[i] == b->list_price[j]);
        assert_int_equal(a->n_levels[i], b->n_levels[j]);
        for (int k = 0; k < a->n_levels[i]; k++) {
            int x = a->level_offset[i] + k, y = b->level_offset[j] + k;
            assert_true(a->accuracy[x] == b->accuracy[y] && a->tokens[x] == b->tokens[y] &&
                        a->level_label[x] == b->level_label[y]);
        }
    }
    assert_true(a->value_scale == b->value_scale && a->value_baseline == b->value_baseline &&
                a->margin == b->margin && a->outside_value == b->outside_value && a->value_shape == b->value_shape);
}

static void test_curves_read_back(void **state) {
    (void)state;
    TestRng rng = {1501};
    PrillmError err;
    for (int trial = 0; trial < 300; trial++) {
        int same = test_int(&rng, 0, 3) != 0;
        PrillmTtcMarket *mk = random_market(&rng, 8, 7, same);
        int json = trial % 2, decoys = trial % 3 == 0;
        char *text = write_results(&rng, mk, json, decoys);
        PrillmTtcCurveSettings s = settings_of(mk);
        s.allow_missing_levels = !same;
        if (decoys) {
            s.benchmark = "gsm";
            s.method = "majority";
        }
        PrillmTtcMarket *back = NULL;
        if (prillm_ttc_curves_parse(text, strlen(text), "t", &s, NULL, NULL, &back, &err))
            fail_msg("trial %d: %s\n%s", trial, err.message, text);
        assert_same_market(mk, back);
        /* and the auction on it is the auction on the original, bit for bit */
        PrillmTtcAuctionResult *r1 = NULL, *r2 = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &r1, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_auction(back, &r2, &err), PRILLM_OK);
        int w1 = r1->outcome.winner, w2 = r2->outcome.winner;
        assert_true((w1 < 0) == (w2 < 0));
        if (w1 >= 0) assert_string_equal(mk->model_id[w1], back->model_id[w2]);
        assert_true(r1->outcome.payment == r2->outcome.payment && r1->welfare == r2->welfare);
        prillm_ttc_auction_result_free(r1);
        prillm_ttc_auction_result_free(r2);
        /* a ragged file (models with different levels) is refused by default */
        int ragged = 0;
        for (int i = 1; i < mk->n_models; i++) ragged |= mk->n_levels[i] != mk->n_levels[0];
        if (ragged) {
            s.allow_missing_levels = 0;
            assert_int_equal(prillm_ttc_curves_parse(text, strlen(text), "t", &s, NULL, NULL, &back, &err),
                             PRILLM_ERR_INVALID_DATA);
            assert_non_null(strstr(err.message, "missing level"));
            assert_null(back);
        }
        prillm_ttc_market_free(back);
        prillm_ttc_market_free(mk);
        free(text);
    }
}

static const char *const base_csv = "model,level,accuracy,tokens,price_per_million\n"
                                    "a,1,0.5,100,0.1\n"
                                    "a,4,0.6,400,0.1\n"
                                    "b,1,0.7,300,0.2\n"
                                    "b,4,0.75,1200,0.2\n";

static void test_curves_errors(void **state) {
    (void)state;
    static const struct {
        const char *from, *to, *message;
        PrillmErrorCode code;
    } cases[] = {
        {"a,4,0.6,400,0.1", "a,4,0.6,90,0.1", "t row 3: tokens 90 at level 4 of model \"a\" is not above 100",
         PRILLM_ERR_INVALID_DATA},
        {"b,4,0.75,1200", "b,4,0.75,300", "tokens must increase with the compute level", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6", "a,4,1.6", "t row 3: accuracy must be in [0, 1], got 1.6", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6", "a,4,-0.1", "accuracy must be in [0, 1]", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6", "a,4,", "t row 3: accuracy is missing", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6", "a,4,x", "row 3 column accuracy: \"x\" is not a finite number", PRILLM_ERR_PARSE},
        {"a,4,0.6,400,0.1\n", "", "model \"a\" has no row for level 4, which model \"b\" has", PRILLM_ERR_INVALID_DATA},
        {"a,4,", "a,1,", "level 1 of model \"a\" repeats", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", "a,4,0.6,400,0.3", "price_per_million 0.3 differs from 0.1", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", "a,4,0.6,400,0", "price_per_million must be in (0", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", "a,4,0.6,-5,0.1", "tokens must be in (0", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", ",4,0.6,400,0.1", "t row 3: model is missing", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", "a,,0.6,400,0.1", "t row 3: level is missing", PRILLM_ERR_INVALID_DATA},
        {",tokens,", ",tokenz,", "has no column \"tokens\"", PRILLM_ERR_INVALID_DATA},
        {"a,4,0.6,400,0.1", "a,4,0.6,400", "fields, the header has 5", PRILLM_ERR_PARSE},
    };
    PrillmError err;
    PrillmTtcCurveSettings s;
    prillm_ttc_curve_default_settings(&s);
    s.value_scale = 0.008;
    PrillmTtcMarket *mk = NULL;
    assert_int_equal(prillm_ttc_curves_parse(base_csv, strlen(base_csv), "t", &s, NULL, NULL, &mk, &err), PRILLM_OK);
    assert_int_equal(mk->n_models, 2);
    prillm_ttc_market_free(mk);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *at = strstr(base_csv, cases[c].from);
        if (!at) fail_msg("case %zu: \"%s\" not in the base file", c, cases[c].from);
        char text[1024];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base_csv), base_csv, cases[c].to, at + strlen(cases[c].from));
        mk = (PrillmTtcMarket *)1;
        PrillmErrorCode rc = prillm_ttc_curves_parse(text, strlen(text), "t", &s, NULL, NULL, &mk, &err);
        if (rc != cases[c].code) fail_msg("case %zu: code %d, message \"%s\"", c, rc, err.message);
        if (!strstr(err.message, cases[c].message))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", c, err.message, cases[c].message);
        assert_null(mk);
    }
    /* several methods and no choice; a filter that leaves nothing; the scale */
    const char *two = "model,method,level,accuracy,tokens,price_per_million\n"
                      "a,majority,1,0.5,100,0.1\na,best-of-n,1,0.5,100,0.1\n";
    assert_int_equal(prillm_ttc_curves_parse(two, strlen(two), "t", &s, NULL, NULL, &mk, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "several methods (\"majority\" and \"best-of-n\")"));
    s.method = "majority";
    assert_int_equal(prillm_ttc_curves_parse(two, strlen(two), "t", &s, NULL, NULL, &mk, &err), PRILLM_OK);
    prillm_ttc_market_free(mk);
    s.method = "reasoning";
    assert_int_equal(prillm_ttc_curves_parse(two, strlen(two), "t", &s, NULL, NULL, &mk, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "no row has benchmark \"(any)\" and method \"reasoning\""));
    s.method = NULL;
    s.value_scale = NAN;
    assert_int_equal(prillm_ttc_curves_parse(base_csv, strlen(base_csv), "t", &s, NULL, NULL, &mk, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "value.scale is missing"));
    s.value_scale = 0.008;
    s.margin = -1;
    assert_int_equal(prillm_ttc_curves_parse(base_csv, strlen(base_csv), "t", &s, NULL, NULL, &mk, &err),
                     PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "margin"));
    s.margin = 0.25;
    /* JSON */
    static const struct {
        const char *text, *message;
    } json[] = {
        {"[]", "results is empty"},
        {"{\"results\": 3}", "results must be an array"},
        {"{\"rows\": []}", "\"results\" is missing"},
        {"[3]", "t: results[0] must be an object"},
        {"[{\"model\": \"a\", \"level\": 1, \"accuracy\": \"high\", \"tokens\": 5, \"price_per_million\": 1}]",
         "results[0].accuracy must be a number"},
        {"[{\"model\": 7, \"level\": 1, \"accuracy\": 0.5, \"tokens\": 5, \"price_per_million\": 1}]",
         "results[0].model must be a string"},
        {"[{\"model\": \"a\", \"level\": 1, \"accuracy\": 0.5, \"price_per_million\": 1}]", "results[0]: tokens is missing"},
        {"[{\"model\": \"a\", \"level\": 1, \"accuracy\": 0.5, \"tokens\": 5, \"price_per_million\": 1, \"questions\": 2.5}]",
         "questions must be an integer"},
        {"[{\"model\": \"a\", \"level\": 1, \"accuracy\": 0.5, \"tokens\": 5, \"price_per_million\": 1},"
         " {\"model\": \"a\", \"level\": 2, \"accuracy\": 0.5, \"tokens\": 5, \"price_per_million\": 1}]",
         "results[1]: tokens 5 at level 2 of model \"a\" is not above 5 at level 1 (t: results[0])"},
        {"[{\"model\": \"a\",, }]", "malformed JSON"},
        {"   \n", "t is empty"},
    };
    for (size_t c = 0; c < sizeof json / sizeof json[0]; c++) {
        assert_true(prillm_ttc_curves_parse(json[c].text, strlen(json[c].text), "t", &s, NULL, NULL, &mk, &err) !=
                    PRILLM_OK);
        if (!strstr(err.message, json[c].message))
            fail_msg("json case %zu: message \"%s\" lacks \"%s\"", c, err.message, json[c].message);
        assert_null(mk);
    }
}

static int warnings;
static void count_warning(void *context, const char *message) {
    (void)context;
    (void)message;
    warnings++;
}

static void test_curves_example_file(void **state) {
    (void)state;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    if (!src) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ttc/example_results.csv", src);
    char *text = slurp(path);
    assert_non_null(text);
    PrillmTtcCurveSettings s;
    prillm_ttc_curve_default_settings(&s);
    s.value_scale = 0.008;
    static const char *const methods[] = {"majority", "best-of-n", "reasoning-effort"};
    static const int models[] = {3, 3, 2}, levels[] = {5, 5, 5};
    PrillmError err;
    for (int m = 0; m < 3; m++) {
        s.method = methods[m];
        PrillmTtcMarket *mk = NULL;
        warnings = 0;
        if (prillm_ttc_curves_parse(text, strlen(text), path, &s, count_warning, NULL, &mk, &err))
            fail_msg("%s: %s", methods[m], err.message);
        assert_int_equal(warnings, 0);
        assert_int_equal(mk->n_models, models[m]);
        for (int i = 0; i < mk->n_models; i++) assert_int_equal(mk->n_levels[i], levels[m]);
        /* the auction's truthful winner is the model with the best surplus */
        PrillmTtcAuctionResult *r = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &r, &err), PRILLM_OK);
        double best = -1;
        int arg = -1;
        for (int i = 0; i < mk->n_models; i++)
            for (int k = 0; k < mk->n_levels[i]; k++) {
                double w = ref_quality(mk, mk->value_scale, mk->accuracy[mk->level_offset[i] + k]) - ref_cost(mk, i, k);
                if (w > best) {
                    best = w;
                    arg = i;
                }
            }
        assert_int_equal(r->outcome.winner, arg);
        prillm_ttc_auction_result_free(r);
        prillm_ttc_market_free(mk);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curves_read_back),
        cmocka_unit_test(test_curves_errors),
        cmocka_unit_test(test_curves_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
