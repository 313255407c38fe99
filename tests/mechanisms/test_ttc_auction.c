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
#include <unistd.h>

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
            prillm_ttc_market_free(back);
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


/* ---- 2. explicit bids ------------------------------------------------------- */

/* The test's own auction on effective bids (score q - p): the best real
 * bidder at or above the reserve wins (ties: lower index), the runner-up
 * score is the best other score or the reserve. */
typedef struct {
    int winner, level;
    double runner, payment, quality, cost;
} RefResult;

/* Effective bid of model i under bids b for value scale `scale`: level or -1. */
static int ref_effective(const PrillmTtcMarket *mk, const PrillmTtcBids *b, int i, double scale, double *score,
                         double *quality) {
    int best = -1;
    for (int k = 0; k < mk->n_levels[i]; k++) {
        int at = mk->level_offset[i] + k;
        if (isnan(b->price[at])) continue;
        double a = isnan(b->claimed_accuracy[at]) ? mk->accuracy[at] : b->claimed_accuracy[at];
        double q = ref_quality(mk, scale, a), sc = q - b->price[at];
        if (best < 0 || sc > *score) {
            best = k;
            *score = sc;
            *quality = q;
        }
    }
    return best;
}

/* realised: the winner's realised quality (NaN: pay on the bid quality). */
static RefResult ref_run(const PrillmTtcMarket *mk, const PrillmTtcBids *b, double scale, const double *realised) {
    double reserve = isnan(b->reserve) ? mk->outside_value : b->reserve;
    double score[PRILLM_TTC_MAX_MODELS], q[PRILLM_TTC_MAX_MODELS];
    int level[PRILLM_TTC_MAX_MODELS];
    RefResult r = {-1, -1, reserve, 0, NAN, NAN};
    for (int i = 0; i < mk->n_models; i++) {
        level[i] = ref_effective(mk, b, i, scale, &score[i], &q[i]);
        if (level[i] >= 0 && score[i] >= reserve && (r.winner < 0 || score[i] > score[r.winner])) r.winner = i;
    }
    if (r.winner < 0) return r;
    for (int i = 0; i < mk->n_models; i++)
        if (i != r.winner && level[i] >= 0 && score[i] > r.runner) r.runner = score[i];
    int w = r.winner;
    r.level = level[w];
    r.payment = (realised ? realised[w] : q[w]) - r.runner;
    r.quality = realised ? realised[w] : ref_quality(mk, scale, mk->accuracy[mk->level_offset[w] + r.level]);
    r.cost = ref_cost(mk, w, r.level);
    return r;
}

/* Random bids: each model offers a random subset of its levels at prices
 * around its costs, sometimes claiming accuracies; some models stay out. */
static PrillmTtcBids *random_bids(TestRng *rng, const PrillmTtcMarket *mk) {
    PrillmTtcBids *b = prillm_ttc_bids_alloc(mk, NULL);
    assert_non_null(b);
    double money = mk->value_scale;
    for (int i = 0; i < mk->n_models; i++) {
        if (test_int(rng, 0, 5) == 0) continue;
        for (int k = 0; k < mk->n_levels[i]; k++) {
            int at = mk->level_offset[i] + k;
            if (test_int(rng, 0, 2) == 0) continue;
            int form = test_int(rng, 0, 3);
            double c = ref_cost(mk, i, k);
            b->price[at] = form == 0 ? c : form == 1 ? c * (0.5 + test_uniform(rng)) : c + 0.3 * money * (test_uniform(rng) - 0.3);
            if (form == 3) b->price[at] = test_int(rng, 0, 8) / 64.0 * money; /* coarse: ties */
            if (test_int(rng, 0, 4) == 0) b->claimed_accuracy[at] = test_uniform(rng);
        }
    }
    b->reserve = test_int(rng, 0, 2) ? NAN : 0.2 * money * (test_uniform(rng) - 0.5);
    return b;
}

static void test_bids_match_definition(void **state) {
    (void)state;
    TestRng rng = {2202};
    PrillmError err;
    for (int trial = 0; trial < 3000; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 6, 5, 0);
        PrillmTtcBids *b = random_bids(&rng, mk);
        double scale = test_int(&rng, 0, 1) ? NAN : mk->value_scale * exp(test_uniform(&rng) * 2 - 1);
        double realised[PRILLM_TTC_MAX_MODELS];
        int use_realised = test_int(&rng, 0, 1);
        for (int i = 0; i < mk->n_models; i++) realised[i] = mk->value_scale * test_uniform(&rng);
        PrillmTtcBidOutcome o;
        assert_int_equal(prillm_ttc_bids_run(mk, b, scale, use_realised ? realised : NULL, &o, &err), PRILLM_OK);
        RefResult r = ref_run(mk, b, isnan(scale) ? mk->value_scale : scale, use_realised ? realised : NULL);
        assert_int_equal(o.outcome.winner, r.winner);
        if (r.winner < 0) {
            assert_true(o.outcome.payment == 0 && o.user_utility == o.reserve && o.welfare == o.reserve);
        } else {
            assert_int_equal(o.level[r.winner], r.level);
            /* the test's exp/pow round differently from the library's expm1 */
            double tol = 1e-14 * mk->value_scale;
            assert_true(fabs(o.outcome.runner_up_score - r.runner) <= tol);
            assert_true(fabs(o.outcome.payment - r.payment) <= tol);
            assert_true(fabs(o.quality - r.quality) <= tol);
            assert_true(fabs(o.cost - r.cost) <= 1e-15 * r.cost);
            /* budget: the user's utility, the winner's profit and the welfare add up */
            assert_true(fabs(o.user_utility + o.winner_profit - o.welfare) <= 1e-15 * mk->value_scale);
            /* paying on realised quality, the user keeps the runner-up score whatever the answer */
            if (use_realised) assert_true(fabs(o.user_utility - r.runner) <= 1e-15 * mk->value_scale);
        }
        prillm_ttc_bids_free(b);
        prillm_ttc_market_free(mk);
    }
}

/* Provider i's expected utility when it offers menu (prices, claims) and the
 * others bid b: the level it delivers is its menu's effective level, paid on
 * the bid quality (pay_realised 0; the quality is audited, so no claims) or
 * on the realised quality, whose expectation is its true quality. */
static double deviation_utility(const PrillmTtcMarket *mk, const PrillmTtcBids *others, int i, const double *prices,
                                const double *claims, double scale, int pay_realised) {
    PrillmTtcBids *b = prillm_ttc_bids_alloc(mk, NULL);
    int total = mk->level_offset[mk->n_models];
    memcpy(b->price, others->price, (size_t)total * sizeof *b->price);
    memcpy(b->claimed_accuracy, others->claimed_accuracy, (size_t)total * sizeof *b->price);
    b->reserve = others->reserve;
    for (int k = 0; k < mk->n_levels[i]; k++) {
        b->price[mk->level_offset[i] + k] = prices[k];
        b->claimed_accuracy[mk->level_offset[i] + k] = claims ? claims[k] : NAN;
    }
    double score, q;
    int k = ref_effective(mk, b, i, scale, &score, &q);
    double realised[PRILLM_TTC_MAX_MODELS];
    for (int j = 0; j < mk->n_models; j++) realised[j] = 0;
    if (k >= 0) realised[i] = ref_quality(mk, scale, mk->accuracy[mk->level_offset[i] + k]);
    RefResult r = ref_run(mk, b, scale, pay_realised ? realised : NULL);
    prillm_ttc_bids_free(b);
    return r.winner == i ? r.payment - r.cost : 0.0;
}

static void test_bids_truthful_dominant(void **state) {
    (void)state;
    TestRng rng = {2303};
    PrillmError err;
    long deviations = 0;
    for (int trial = 0; trial < 400; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 5, 0);
        PrillmTtcBids *b = random_bids(&rng, mk); /* the others: anything */
        double scale = mk->value_scale * exp(test_uniform(&rng) * 2 - 1), money = scale;
        int pay_realised = test_int(&rng, 0, 1);
        for (int i = 0; i < mk->n_models; i++) {
            int K = mk->n_levels[i];
            double truthful_prices[8], none[8];
            for (int k = 0; k < K; k++) {
                truthful_prices[k] = ref_cost(mk, i, k);
                none[k] = NAN;
            }
            double truthful = deviation_utility(mk, b, i, truthful_prices, NULL, scale, pay_realised);
            /* the library's outcome of the truthful menu agrees */
            PrillmTtcBids *t = prillm_ttc_bids_alloc(mk, NULL);
            memcpy(t->price, b->price, (size_t)mk->level_offset[mk->n_models] * sizeof *t->price);
            memcpy(t->claimed_accuracy, b->claimed_accuracy, (size_t)mk->level_offset[mk->n_models] * sizeof *t->price);
            t->reserve = b->reserve;
            for (int k = 0; k < K; k++) {
                t->price[mk->level_offset[i] + k] = truthful_prices[k];
                t->claimed_accuracy[mk->level_offset[i] + k] = NAN;
            }
            PrillmTtcBidOutcome o;
            assert_int_equal(prillm_ttc_bids_run(mk, t, scale, NULL, &o, &err), PRILLM_OK);
            double lib = o.outcome.winner == i ? o.winner_profit : 0.0;
            assert_true(fabs(lib - truthful) <= 1e-14 * money);
            /* and the closed form: max(0, W_i* - best other score or reserve) */
            double best_own = -INFINITY, best_other = isnan(b->reserve) ? mk->outside_value : b->reserve;
            for (int k = 0; k < K; k++)
                best_own = fmax(best_own, ref_quality(mk, scale, mk->accuracy[mk->level_offset[i] + k]) - truthful_prices[k]);
            for (int j = 0; j < mk->n_models; j++) {
                double sc, q;
                if (j != i && ref_effective(mk, b, j, scale, &sc, &q) >= 0) best_other = fmax(best_other, sc);
            }
            assert_true(fabs(truthful - fmax(0, best_own - best_other)) <= 1e-14 * money);
            prillm_ttc_bids_free(t);
            /* brute force: single-level offers on a grid of prices (and, paid on
             * realised quality, of claimed accuracies), then random menus */
            for (int k = 0; k < K; k++) {
                double c = truthful_prices[k];
                for (int shade = -8; shade <= 8; shade++) {
                    double grid[3] = {c * (1 + 0.06 * shade), c + 0.04 * shade * money,
                                      /* just around the price that ties the best other score */
                                      ref_quality(mk, scale, mk->accuracy[mk->level_offset[i] + k]) - best_other +
                                          1e-3 * shade * money};
                    for (int g = 0; g < 3; g++) {
                        double prices[8], claims[8];
                        memcpy(prices, none, sizeof prices);
                        prices[k] = grid[g];
                        int n_claims = pay_realised ? 5 : 1;
                        for (int lie = 0; lie < n_claims; lie++) {
                            memcpy(claims, none, sizeof claims);
                            if (lie) claims[k] = 0.25 * (lie - 1) + 0.125 * test_uniform(&rng);
                            double u = deviation_utility(mk, b, i, prices, claims, scale, pay_realised);
                            if (u > truthful + 1e-14 * money)
                                fail_msg("trial %d: provider %d gains %.3g over truthful %.3g with level %d price %.17g "
                                         "claim %g",
                                         trial, i, u - truthful, truthful, k, prices[k], claims[k]);
                            deviations++;
                        }
                    }
                }
            }
            for (int m = 0; m < 200; m++) {
                double prices[8], claims[8];
                for (int k = 0; k < K; k++) {
                    prices[k] = test_int(&rng, 0, 2) ? truthful_prices[k] * (0.3 + 1.4 * test_uniform(&rng)) : NAN;
                    claims[k] = pay_realised && test_int(&rng, 0, 1) && !isnan(prices[k]) ? test_uniform(&rng) : NAN;
                }
                double u = deviation_utility(mk, b, i, prices, claims, scale, pay_realised);
                if (u > truthful + 1e-14 * money)
                    fail_msg("trial %d: provider %d gains %.3g with a random menu", trial, i, u - truthful);
                deviations++;
            }
        }
        prillm_ttc_bids_free(b);
        prillm_ttc_market_free(mk);
    }
    print_message("explicit bids: %ld unilateral deviations checked by brute force, none profitable\n", deviations);
}

static void test_bids_rationality(void **state) {
    (void)state;
    TestRng rng = {2404};
    PrillmError err;
    for (int trial = 0; trial < 2000; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 6, 5, 0);
        PrillmTtcBids *b = prillm_ttc_bids_truthful(mk, &err);
        assert_non_null(b);
        double scale = mk->value_scale * exp(test_uniform(&rng) * 3 - 1.5);
        PrillmTtcBidOutcome o;
        assert_int_equal(prillm_ttc_bids_run(mk, b, scale, NULL, &o, &err), PRILLM_OK);
        double money = scale;
        /* individual rationality: the user never below the outside option, the winner never below 0 */
        assert_true(o.user_utility >= mk->outside_value - 1e-15 * money);
        int w = o.outcome.winner;
        if (w >= 0) {
            assert_true(o.winner_profit >= -1e-15 * money);
            assert_true(o.outcome.payment >= o.price_bid[w] - 1e-15 * money);
            assert_true(o.outcome.payment <= o.quality_bid[w] - mk->outside_value + 1e-15 * money);
            /* efficiency: the welfare is the best surplus over all (model, level) */
            double best = mk->outside_value;
            for (int i = 0; i < mk->n_models; i++)
                for (int k = 0; k < mk->n_levels[i]; k++)
                    best = fmax(best, ref_quality(mk, scale, mk->accuracy[mk->level_offset[i] + k]) - ref_cost(mk, i, k));
            assert_true(fabs(o.welfare - best) <= 1e-14 * money);
        }
        /* at the market's own scale the truthful bids reproduce prillm_ttc_auction bit for bit */
        PrillmTtcAuctionResult *a = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &a, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_bids_run(mk, b, NAN, NULL, &o, &err), PRILLM_OK);
        assert_int_equal(o.outcome.winner, a->outcome.winner);
        assert_true(o.outcome.payment == a->outcome.payment);
        if (a->outcome.winner >= 0) assert_true(o.user_utility == a->user_utility && o.welfare == a->welfare);
        prillm_ttc_auction_result_free(a);
        prillm_ttc_bids_free(b);
        prillm_ttc_market_free(mk);
    }
}

/* Write b as a bids file in a random mix of the accepted forms, with a few
 * requests; parse it back. */
static void test_bids_file_read_back(void **state) {
    (void)state;
    TestRng rng = {2505};
    PrillmError err;
    for (int trial = 0; trial < 400; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 6, 5, 0);
        PrillmTtcBids *want = prillm_ttc_bids_alloc(mk, NULL);
        char *text = NULL;
        size_t length = 0;
        FILE *out = open_memstream(&text, &length);
        fputs("{\"description\": \"t\",", out);
        if (test_int(&rng, 0, 1)) {
            want->reserve = 0.001 * test_int(&rng, -3, 3);
            fprintf(out, " \"reserve\": %.17g,", want->reserve);
        }
        fputs(" \"bids\": [", out);
        int first = 1;
        for (int i = 0; i < mk->n_models; i++) {
            if (test_int(&rng, 0, 3) == 0) continue;
            int K = mk->n_levels[i], base = mk->level_offset[i], kind = test_int(&rng, 0, 2);
            static const char *const kinds[] = {"price", "price_per_million", "price_per_unit"};
            double x = 0.001 + test_uniform(&rng);
            fprintf(out, "%s{\"model\": \"%s\", ", first ? "" : ", ", mk->model_id[i]);
            first = 0;
            if (test_int(&rng, 0, 1)) { /* one level */
                int k = test_int(&rng, 0, K - 1), by_index = test_int(&rng, 0, 1);
                if (by_index) fprintf(out, "\"level_index\": %d, ", k);
                else fprintf(out, "\"level\": %.17g, ", mk->level_label[base + k]);
                fprintf(out, "\"%s\": %.17g", kinds[kind], x);
                want->price[base + k] = kind == 0 ? x : kind == 1 ? x * mk->tokens[base + k] / 1e6 : x * mk->level_label[base + k];
                if (test_int(&rng, 0, 1)) {
                    want->claimed_accuracy[base + k] = 0.5;
                    fputs(", \"accuracy\": 0.5", out);
                }
            } else { /* a menu with gaps */
                fprintf(out, "\"%s\": [", kinds[kind]);
                for (int k = 0; k < K; k++) {
                    double y = x * (k + 1);
                    if (test_int(&rng, 0, 3) == 0) {
                        fprintf(out, "%snull", k ? ", " : "");
                        continue;
                    }
                    fprintf(out, "%s%.17g", k ? ", " : "", y);
                    want->price[base + k] = kind == 0 ? y : kind == 1 ? y * mk->tokens[base + k] / 1e6 : y * mk->level_label[base + k];
                }
                fputc(']', out);
            }
            fputc('}', out);
        }
        if (first) fprintf(out, "{\"model\": \"%s\", \"level_index\": 0, \"price\": 0.5}", mk->model_id[0]);
        if (first) want->price[0] = 0.5;
        fprintf(out, "], \"requests\": [{\"realised_accuracy\": {\"%s\": 1}}, {\"realised_quality\": {\"%s\": 0.25}}]}",
                mk->model_id[0], mk->model_id[mk->n_models - 1]);
        fclose(out);
        PrillmTtcBids *got = NULL;
        double *realised = NULL;
        int n_requests = 0;
        if (prillm_ttc_bids_parse_json(text, length, mk, NULL, NULL, &got, &realised, &n_requests, &err))
            fail_msg("trial %d: %s\n%s", trial, err.message, text);
        int total = mk->level_offset[mk->n_models];
        for (int at = 0; at < total; at++) {
            if (!(isnan(want->price[at]) ? isnan(got->price[at]) : want->price[at] == got->price[at]))
                fail_msg("trial %d: price[%d] %.17g, want %.17g\n%s", trial, at, got->price[at], want->price[at], text);
            assert_true(isnan(want->claimed_accuracy[at]) ? isnan(got->claimed_accuracy[at])
                                                          : want->claimed_accuracy[at] == got->claimed_accuracy[at]);
        }
        assert_true(isnan(want->reserve) ? isnan(got->reserve) : want->reserve == got->reserve);
        assert_int_equal(n_requests, 2);
        assert_true(realised[0] == ref_quality(mk, mk->value_scale, 1.0));
        assert_true(realised[2 * mk->n_models - 1] == 0.25);
        free(realised);
        free(text);
        prillm_ttc_bids_free(want);
        prillm_ttc_bids_free(got);
        prillm_ttc_market_free(mk);
    }
}

static const char *const golden_market =
    "{\"margin\": 0.25, \"value\": {\"scale\": 1, \"baseline\": 0},"
    " \"models\": [{\"id\": \"A\", \"price_per_million\": 1, \"levels\": [1, 4, 8],"
    "   \"accuracy\": [0.5, 0.875, 0.9375], \"tokens\": [156250, 468750, 937500]},"
    "  {\"id\": \"B\", \"price_per_million\": 1, \"levels\": [1, 4], \"accuracy\": [0.3125, 0.5], \"tokens\": [156250, 312500]}]}";

static void test_bids_file_errors(void **state) {
    (void)state;
    PrillmError err;
    PrillmTtcMarket *mk = NULL;
    assert_int_equal(prillm_ttc_market_parse_json(golden_market, strlen(golden_market), NULL, NULL, &mk, &err), PRILLM_OK);
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"{}", "\"bids\" is missing"},
        {"{\"bids\": []}", "\"bids\" must be a non-empty array"},
        {"{\"bids\": [3]}", "bids[0] must be an object"},
        {"{\"bids\": [{\"price\": 1}]}", "bids[0].model is missing"},
        {"{\"bids\": [{\"model\": \"Z\", \"price\": 1}]}", "bids[0].model \"Z\" is not a model of the market (A, B)"},
        {"{\"bids\": [{\"model\": \"A\", \"level\": 4}]}", "bids[0] has no price"},
        {"{\"bids\": [{\"model\": \"A\", \"price\": 1}]}", "bids[0]: a single price needs level (or level_index)"},
        {"{\"bids\": [{\"model\": \"A\", \"level\": 2, \"price\": 1}]}", "bids[0].level 2 is not a level of model \"A\" (1, 4, 8)"},
        {"{\"bids\": [{\"model\": \"A\", \"level_index\": 3, \"price\": 1}]}", "bids[0].level_index must be an integer in 0..2"},
        {"{\"bids\": [{\"model\": \"A\", \"level\": 4, \"price\": 1, \"price_per_million\": 2}]}", "has both price and price_per_million"},
        {"{\"bids\": [{\"model\": \"A\", \"price\": [1, 2]}]}", "bids[0].price has 2 entries but model \"A\" has 3 levels"},
        {"{\"bids\": [{\"model\": \"A\", \"price\": [1, \"x\", 2]}]}", "bids[0].price[1] must be a number or null"},
        {"{\"bids\": [{\"model\": \"A\", \"price\": \"cheap\"}]}", "bids[0].price must be a number or an array"},
        {"{\"bids\": [{\"model\": \"A\", \"level\": 4, \"price\": 1, \"accuracy\": 1.5}]}", "bids[0].accuracy at level 1 must be in [0, 1]"},
        {"{\"bids\": [{\"model\": \"A\", \"price\": [1, null, 2], \"accuracy\": [0.5, 0.5, 0.5]}]}",
         "bids[0].accuracy at level 1 claims a level with no price"},
        {"{\"bids\": [{\"model\": \"A\", \"level\": 4, \"price\": 1}, {\"model\": \"A\", \"level\": 8, \"price\": 1}]}",
         "bids[1].model \"A\" already has a bid (bids[0])"},
        {"{\"bids\": [{\"model\": \"B\", \"level\": 4, \"price\": 1}], \"requests\": [{}]}",
         "requests[0] needs realised_accuracy or realised_quality"},
        {"{\"bids\": [{\"model\": \"B\", \"level\": 4, \"price\": 1}], \"requests\": [{\"realised_accuracy\": {\"B\": 2}}]}",
         "requests[0].realised_accuracy.B must be in [0, 1], got 2"},
        {"{\"bids\": [{\"model\": \"B\", \"level\": 4, \"price\": 1}], \"requests\": [{\"realised_quality\": {\"Q\": 2}}]}",
         "requests[0].realised_quality: \"Q\" is not a model of the market"},
        {"{\"bids\": [{\"model\": \"B\", \"level\": 4, \"price\": 1}], \"reserve\": \"low\"}", "reserve must be a number"},
        {"{\"bids\": [{\"model\": \"B\", \"level\": 4, \"price\": 1}], \"bids\": 2}", "duplicate key \"bids\""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        PrillmTtcBids *b = (PrillmTtcBids *)1;
        double *realised = (double *)1;
        int n = -1;
        assert_true(prillm_ttc_bids_parse_json(cases[c].text, strlen(cases[c].text), mk, NULL, NULL, &b, &realised, &n,
                                               &err) != PRILLM_OK);
        if (!strstr(err.message, cases[c].message))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", c, err.message, cases[c].message);
        assert_null(b);
        assert_null(realised);
    }
    /* price_per_unit needs level labels */
    const char *unlabelled = "{\"margin\": 0.25, \"value\": {\"scale\": 1}, \"models\": [{\"id\": \"A\", "
                             "\"price_per_million\": 1, \"accuracy\": [0.5, 0.6], \"tokens\": [10, 20]}]}";
    PrillmTtcMarket *bare = NULL;
    assert_int_equal(prillm_ttc_market_parse_json(unlabelled, strlen(unlabelled), NULL, NULL, &bare, &err), PRILLM_OK);
    const char *per_unit = "{\"bids\": [{\"model\": \"A\", \"price_per_unit\": [1, 2]}]}";
    PrillmTtcBids *b = NULL;
    assert_int_equal(prillm_ttc_bids_parse_json(per_unit, strlen(per_unit), bare, NULL, NULL, &b, NULL, NULL, &err),
                     PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "price_per_unit needs the level parameters"));
    const char *by_label = "{\"bids\": [{\"model\": \"A\", \"level\": 1, \"price\": 1}]}";
    assert_int_equal(prillm_ttc_bids_parse_json(by_label, strlen(by_label), bare, NULL, NULL, &b, NULL, NULL, &err),
                     PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "has no level labels"));
    prillm_ttc_market_free(bare);
    /* the winner's realised quality must be given */
    const char *ok = "{\"bids\": [{\"model\": \"A\", \"level\": 4, \"price\": 0.375}, {\"model\": \"B\", \"level\": 4, "
                     "\"price\": 0.25}], \"requests\": [{\"realised_accuracy\": {\"B\": 1}}]}";
    double *realised = NULL;
    int n = 0;
    assert_int_equal(prillm_ttc_bids_parse_json(ok, strlen(ok), mk, NULL, NULL, &b, &realised, &n, &err), PRILLM_OK);
    PrillmTtcBidOutcome o;
    assert_int_equal(prillm_ttc_bids_run(mk, b, NAN, realised, &o, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "realised quality of the winner A is missing"));
    /* the hand-checkable case: A wins at level 4 (W 0.5) over B (0.25), pays 0.875 - 0.25 */
    assert_int_equal(prillm_ttc_bids_run(mk, b, NAN, NULL, &o, &err), PRILLM_OK);
    assert_true(o.outcome.winner == 0 && o.outcome.payment == 0.625 && o.winner_profit == 0.25 && o.user_utility == 0.25);
    free(realised);
    prillm_ttc_bids_free(b);
    prillm_ttc_market_free(mk);
}

/* ---- the command ------------------------------------------------------------ */

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
    size_t length = 0;
    FILE *out = open_memstream(&c.out, &length);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) fwrite(buf, 1, got, out);
    fclose(out);
    int status = pclose(p);
    c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return c;
}

static double json_number(const cJSON *root, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(item)) fail_msg("\"%s\" is not a number", key);
    return item->valuedouble;
}

static void test_command_bids(void **state) {
    (void)state;
    if (!getenv("PRILLM_CLI") || !getenv("PRILLM_SOURCE_DIR")) skip();
    Command c = run_command("auction data/ttc/golden.json --bids data/ttc/golden_bids.json");
    assert_int_equal(c.code, 0);
    cJSON *root = cJSON_Parse(c.out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "winner")->valuestring, "A");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "runner_up")->valuestring, "B");
    /* by hand: A offers level 4 at 0.96 $/M x 468750 tokens = 0.45, score 0.875 - 0.45 = 0.425;
     * B 0.5 - 0.3 = 0.2; C's best is level 4 at 4 x 0.02: 0.21875 - 0.08 */
    assert_true(fabs(json_number(root, "winner_score") - 0.425) < 1e-15);
    assert_true(fabs(json_number(root, "payment") - 0.675) < 1e-15);
    assert_true(fabs(json_number(root, "winner_profit") - 0.3) < 1e-15);
    const cJSON *requests = cJSON_GetObjectItemCaseSensitive(root, "requests");
    assert_int_equal(cJSON_GetArraySize(requests), 3);
    const double pay[3] = {0.8, -0.2, 0.675};
    for (int t = 0; t < 3; t++) {
        const cJSON *r = cJSON_GetArrayItem(requests, t);
        assert_true(fabs(json_number(r, "payment") - pay[t]) < 1e-15);
        assert_true(fabs(json_number(r, "user_utility") - 0.2) < 1e-15);
    }
    cJSON_Delete(root);
    free(c.out);
    /* the curves path: the example file, one method */
    c = run_command("auction --curves data/ttc/example_results.csv --scale 0.008 --method reasoning-effort");
    assert_int_equal(c.code, 0);
    root = cJSON_Parse(c.out);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "winner")->valuestring, "toy-reasoner-large");
    cJSON_Delete(root);
    free(c.out);
    static const struct {
        const char *args;
        int code;
    } exits[] = {
        {"auction data/ttc/golden.json --bids no/such.json", 3},
        {"auction data/ttc/golden.json --bids data/ttc/golden.json", 3},
        {"auction data/ttc/golden.json --csv", 2},
        {"auction data/ttc/golden.json --scale 1", 2},
        {"auction --curves data/ttc/example_results.csv --method majority", 2},
        {"auction --curves data/ttc/example_results.csv --scale 0.008", 3},
        {"auction --curves data/ttc/example_results.csv --scale 0.008 --method majority --shape cubic", 2},
        {"auction data/ttc/golden.json --curves data/ttc/example_results.csv --scale 1", 2},
        {"auction - --bids - < data/ttc/golden.json", 2},
        {"auction data/ttc/golden.json --seed 3", 2},
        {"auction data/ttc/golden.json --users 0", 2},
        {"auction data/ttc/golden.json --users 10 --population x.csv", 2},
        {"auction data/ttc/golden.json --population no/such.csv", 3},
        {"ttc-market --curves data/ttc/example_results.csv --scale 0.008 --method majority", 2},
        {"ttc-market --curves data/ttc/example_results.csv --scale 0.008 --method majority --beta 200", 0},
        {"auction --help", 0},
    };
    for (size_t k = 0; k < sizeof exits / sizeof exits[0]; k++) {
        c = run_command("%s", exits[k].args);
        if (c.code != exits[k].code) fail_msg("prillm %s: exit %d, expected %d", exits[k].args, c.code, exits[k].code);
        free(c.out);
    }
}

/* ---- 3. a population of users ---------------------------------------------- */

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default quantile, written out: sorted x at position q (n - 1),
 * linearly interpolated */
static double ref_quantile(double *x, long n, double q) {
    qsort(x, (size_t)n, sizeof *x, compare_double);
    double pos = q * (double)(n - 1);
    long lo = (long)pos;
    if (lo >= n - 1) return x[n - 1];
    return x[lo] + (pos - (double)lo) * (x[lo + 1] - x[lo]);
}

static void test_population_matches_loop(void **state) {
    (void)state;
    TestRng rng = {3101};
    PrillmError err;
    const double *levels = prillm_ttc_quantile_levels();
    for (int trial = 0; trial < 300; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 5, 0);
        PrillmTtcBids *b = test_int(&rng, 0, 1) ? random_bids(&rng, mk) : NULL;
        int n = test_int(&rng, 1, 40);
        double scale[40];
        long long requests[40];
        long total = 0;
        for (int u = 0; u < n; u++) {
            scale[u] = mk->value_scale * exp(3 * test_uniform(&rng) - 1.5);
            requests[u] = test_int(&rng, 1, 60);
            total += (long)requests[u];
        }
        PrillmTtcPopulationResult *r = NULL;
        assert_int_equal(prillm_ttc_population_run(mk, b, n, scale, requests, NULL, &r, &err), PRILLM_OK);
        PrillmTtcBids *t = b ? NULL : prillm_ttc_bids_truthful(mk, &err);
        const PrillmTtcBids *used = b ? b : t;
        /* the loop: every request of every user, one by one */
        double *payments = malloc((size_t)total * sizeof *payments), spend_of[40];
        double welfare = 0, value = 0, spend = 0, cost = 0, revenue[PRILLM_TTC_MAX_MODELS] = {0};
        long long wins[PRILLM_TTC_MAX_MODELS] = {0}, served = 0;
        long at = 0;
        for (int u = 0; u < n; u++) {
            spend_of[u] = 0;
            for (long long m = 0; m < requests[u]; m++) {
                RefResult x = ref_run(mk, used, scale[u], NULL);
                payments[at++] = x.winner >= 0 ? x.payment : 0;
                if (x.winner < 0) {
                    welfare += x.runner;
                    value += x.runner;
                    continue;
                }
                served++;
                wins[x.winner]++;
                revenue[x.winner] += x.payment;
                welfare += x.quality - x.cost;
                value += x.quality - x.payment;
                spend += x.payment;
                cost += x.cost;
                spend_of[u] += x.payment;
            }
        }
        double tol = 1e-12 * mk->value_scale * (double)total;
        assert_int_equal(r->requests, total);
        assert_int_equal(r->served, served);
        assert_true(fabs(r->welfare - welfare) <= tol && fabs(r->user_value - value) <= tol);
        assert_true(fabs(r->spend - spend) <= tol && fabs(r->provider_cost - cost) <= tol);
        /* the budget: what users pay is what providers receive */
        assert_true(r->revenue == r->spend);
        assert_true(fabs(r->provider_profit - (r->revenue - r->provider_cost)) <= tol);
        assert_true(fabs(r->user_value + r->provider_profit - r->welfare) <= tol);
        double sum_revenue = 0;
        for (int i = 0; i < mk->n_models; i++) {
            assert_int_equal(r->wins[i], wins[i]);
            assert_true(fabs(r->model_revenue[i] - revenue[i]) <= tol);
            sum_revenue += r->model_revenue[i];
            /* truthful bidders never lose money (individual rationality) */
            if (!b) assert_true(r->model_profit[i] >= -tol);
        }
        assert_true(fabs(sum_revenue - r->revenue) <= tol);
        for (int u = 0; u < n; u++) {
            assert_true(fabs(r->user_spend[u] - spend_of[u]) <= 1e-12 * mk->value_scale * (double)requests[u]);
            assert_true(fabs(r->user_spend_per_request[u] - spend_of[u] / (double)requests[u]) <= 1e-12 * mk->value_scale);
        }
        for (int q = 0; q < PRILLM_TTC_N_QUANTILES; q++) {
            double per_user = ref_quantile(spend_of, n, levels[q]);
            double per_request = ref_quantile(payments, total, levels[q]);
            if (!(fabs(r->spend_quantiles[q] - per_user) <= tol))
                fail_msg("trial %d: per-user quantile %g: %.17g, want %.17g", trial, levels[q], r->spend_quantiles[q],
                         per_user);
            if (!(fabs(r->per_request_quantiles[q] - per_request) <= 1e-12 * mk->value_scale))
                fail_msg("trial %d: per-request quantile %g: %.17g, want %.17g", trial, levels[q],
                         r->per_request_quantiles[q], per_request);
            assert_true(fabs(prillm_ttc_quantile(spend_of, n, levels[q]) - per_user) <= tol);
        }
        free(payments);
        prillm_ttc_population_result_free(r);
        prillm_ttc_bids_free(t);
        prillm_ttc_bids_free(b);
        prillm_ttc_market_free(mk);
    }
}

static void test_population_realised(void **state) {
    (void)state;
    TestRng rng = {3202};
    PrillmError err;
    double z_worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        PrillmTtcMarket *mk = random_market(&rng, 5, 5, 0);
        mk->value_shape = PRILLM_TTC_VALUE_LINEAR;
        int n = test_int(&rng, 1, 30);
        double scale[30];
        long long requests[30];
        for (int u = 0; u < n; u++) {
            scale[u] = mk->value_scale * exp(2 * test_uniform(&rng) - 1);
            requests[u] = test_int(&rng, 1, 400);
        }
        PrillmTtcPopulationSettings s;
        prillm_ttc_population_default_settings(&s);
        s.realised = 1;
        s.seed = (unsigned long long)trial + 1;
        PrillmTtcPopulationResult *r = NULL, *again = NULL, *expected = NULL;
        assert_int_equal(prillm_ttc_population_run(mk, NULL, n, scale, requests, &s, &r, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_population_run(mk, NULL, n, scale, requests, &s, &again, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_population_run(mk, NULL, n, scale, requests, NULL, &expected, &err), PRILLM_OK);
        /* reproducible */
        assert_true(r->spend == again->spend && r->welfare == again->welfare);
        PrillmTtcBids *t = prillm_ttc_bids_truthful(mk, &err);
        double right_total = 0, mean_total = 0, var_total = 0, tol = 1e-12 * mk->value_scale;
        for (int u = 0; u < n; u++) {
            RefResult x = ref_run(mk, t, scale[u], NULL);
            if (x.winner < 0) {
                assert_true(r->user_spend[u] == 0);
                continue;
            }
            /* each answer right or wrong: back out the number of right answers */
            double pay_right = ref_quality(mk, scale[u], 1) - x.runner, pay_wrong = ref_quality(mk, scale[u], 0) - x.runner;
            double right = (r->user_spend[u] - (double)requests[u] * pay_wrong) / (pay_right - pay_wrong);
            if (!(fabs(right - round(right)) < 1e-6 && right > -0.5 && right < requests[u] + 0.5))
                fail_msg("trial %d user %d: %.9g right answers", trial, u, right);
            double a = mk->accuracy[mk->level_offset[x.winner] + x.level];
            right_total += round(right);
            mean_total += a * (double)requests[u];
            var_total += a * (1 - a) * (double)requests[u];
        }
        /* the user keeps the runner-up score on every request, drawn or not */
        assert_true(fabs(r->user_value - expected->user_value) <= tol * (double)r->requests);
        assert_true(fabs(r->user_value + r->provider_profit - r->welfare) <= tol * (double)r->requests);
        assert_true(r->revenue == r->spend && r->provider_cost == expected->provider_cost);
        if (var_total > 0) z_worst = fmax(z_worst, fabs(right_total - mean_total) / sqrt(var_total));
        prillm_ttc_bids_free(t);
        prillm_ttc_population_result_free(r);
        prillm_ttc_population_result_free(again);
        prillm_ttc_population_result_free(expected);
        prillm_ttc_market_free(mk);
    }
    /* the draws have the winner's accuracy: over 200 populations the worst
     * standardised deviation stays below 4.5 */
    if (!(z_worst < 4.5)) fail_msg("right answers deviate by %.2f standard deviations", z_worst);
    print_message("realised draws: worst |z| over 200 populations %.2f\n", z_worst);
    /* the draws need the linear value */
    PrillmTtcMarket *mk = random_market(&rng, 3, 3, 0);
    mk->value_shape = PRILLM_TTC_VALUE_POWER;
    double scale = mk->value_scale;
    long long requests = 3;
    PrillmTtcPopulationSettings s = {1, 7};
    PrillmTtcPopulationResult *r = NULL;
    assert_int_equal(prillm_ttc_population_run(mk, NULL, 1, &scale, &requests, &s, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "linear"));
    prillm_ttc_market_free(mk);
}

static void test_population_generate_and_file(void **state) {
    (void)state;
    PrillmError err;
    enum { N = 20000 };
    static double scale[N];
    static long long requests[N];
    assert_int_equal(prillm_ttc_population_generate(0.01, 0.5, 50, N, 9, scale, requests, &err), PRILLM_OK);
    double mean = 0, mean_log = 0, var_log = 0, mean_req = 0;
    for (int u = 0; u < N; u++) {
        assert_true(requests[u] >= 1 && requests[u] <= 99 && scale[u] > 0);
        mean += scale[u] / N;
        mean_log += log(scale[u] / 0.01) / N;
        mean_req += (double)requests[u] / N;
    }
    for (int u = 0; u < N; u++) var_log += pow(log(scale[u] / 0.01) - mean_log, 2) / (N - 1);
    /* log-normal with mean 0.01 and log-sd 0.5; requests of mean 50 */
    assert_true(fabs(mean / 0.01 - 1) < 0.02);
    assert_true(fabs(sqrt(var_log) - 0.5) < 0.01);
    assert_true(fabs(mean_log + 0.125) < 0.01);
    assert_true(fabs(mean_req - 50) < 0.6);
    assert_int_equal(prillm_ttc_population_generate(0.01, 0, 1, 5, 9, scale, requests, &err), PRILLM_OK);
    for (int u = 0; u < 5; u++) assert_true(scale[u] == 0.01 && requests[u] == 1);
    assert_int_equal(prillm_ttc_population_generate(0.01, -1, 1, 5, 9, scale, requests, &err),
                     PRILLM_ERR_INVALID_ARGUMENT);
    /* the population file */
    const char *good = "user,value_scale,requests\nalice,0.01,10\nbob,0.02,3\n";
    int n = 0;
    double *s = NULL;
    long long *m = NULL;
    assert_int_equal(prillm_ttc_population_parse_csv(good, strlen(good), "p", &n, &s, &m, &err), PRILLM_OK);
    assert_true(n == 2 && s[1] == 0.02 && m[0] == 10);
    free(s);
    free(m);
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"value_scale\n0.01\n", "has no column \"requests\""},
        {"value_scale,requests\n0.01,2.5\n", "p row 2: requests must be an integer"},
        {"value_scale,requests\n0.01,0\n", "requests must be an integer in 1.."},
        {"value_scale,requests\n-1,3\n", "p row 2: value_scale must be in (0"},
        {"value_scale,requests\nx,3\n", "row 2 column value_scale: \"x\" is not a finite number"},
        {"value_scale,requests\n", "must have 1..10000000 users"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        assert_true(prillm_ttc_population_parse_csv(bad[c].text, strlen(bad[c].text), "p", &n, &s, &m, &err) !=
                    PRILLM_OK);
        if (!strstr(err.message, bad[c].message))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", c, err.message, bad[c].message);
        assert_null(s);
        assert_null(m);
    }
    /* bad calls */
    PrillmTtcMarket *mk = prillm_ttc_market_alloc(1, (int[]){1}, NULL);
    mk->model_id[0] = strdup("a");
    mk->list_price[0] = 1;
    mk->accuracy[0] = 0.5;
    mk->tokens[0] = 10;
    mk->value_scale = 0.01;
    mk->value_baseline = 0.1;
    mk->margin = 0.25;
    mk->outside_value = 0;
    double one = 0.01;
    long long zero = 0;
    PrillmTtcPopulationResult *r = NULL;
    assert_int_equal(prillm_ttc_population_run(mk, NULL, 1, &one, &zero, NULL, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "users[0].requests"));
    one = -1;
    zero = 1;
    assert_int_equal(prillm_ttc_population_run(mk, NULL, 1, &one, &zero, NULL, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "users[0].value_scale"));
    assert_null(r);
    prillm_ttc_market_free(mk);
}

static void test_command_population(void **state) {
    (void)state;
    if (!getenv("PRILLM_CLI") || !getenv("PRILLM_SOURCE_DIR")) skip();
    Command c = run_command("auction data/ttc/gsm8k_majority.json --users 300 --requests 20 --value-spread 1 --seed 5");
    assert_int_equal(c.code, 0);
    cJSON *root = cJSON_Parse(c.out);
    assert_non_null(root);
    const cJSON *totals = cJSON_GetObjectItemCaseSensitive(root, "totals");
    assert_true(json_number(totals, "spend") == json_number(totals, "revenue"));
    assert_true(fabs(json_number(totals, "user_value") + json_number(totals, "provider_profit") -
                     json_number(totals, "welfare")) < 1e-12);
    assert_true(json_number(root, "users") == 300);
    /* the same population through the library */
    double scale[300];
    long long requests[300];
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ttc/gsm8k_majority.json", getenv("PRILLM_SOURCE_DIR"));
    FILE *in = fopen(path, "rb");
    PrillmTtcMarket *mk = NULL;
    PrillmError err;
    assert_int_equal(prillm_ttc_market_read_json(in, NULL, NULL, &mk, &err), PRILLM_OK);
    fclose(in);
    assert_int_equal(prillm_ttc_population_generate(mk->value_scale, 1, 20, 300, 5, scale, requests, &err), PRILLM_OK);
    PrillmTtcPopulationResult *r = NULL;
    assert_int_equal(prillm_ttc_population_run(mk, NULL, 300, scale, requests, NULL, &r, &err), PRILLM_OK);
    assert_true(json_number(totals, "spend") == r->spend && json_number(totals, "welfare") == r->welfare);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "spend_quantiles"), "per_user");
    for (int k = 0; k < PRILLM_TTC_N_QUANTILES; k++) assert_true(cJSON_GetArrayItem(q, k)->valuedouble == r->spend_quantiles[k]);
    prillm_ttc_population_result_free(r);
    prillm_ttc_market_free(mk);
    cJSON_Delete(root);
    free(c.out);
    /* a population file, per-user CSV, realised draws and explicit bids */
    c = run_command("auction data/ttc/golden.json --population data/ttc/example_population.csv --csv");
    assert_int_equal(c.code, 0);
    int lines = 0;
    for (const char *p = c.out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 1 + 6);
    free(c.out);
    c = run_command("auction data/ttc/golden.json --bids data/ttc/golden_bids.json --population "
                    "data/ttc/example_population.csv --realised --seed 2");
    assert_int_equal(c.code, 0);
    root = cJSON_Parse(c.out);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "bids")->valuestring, "explicit");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "realised")));
    cJSON_Delete(root);
    free(c.out);
}

/* ---- 5. reference-shaped curves through the reader ------------------------- */

static PrillmTtcMarket *read_market_file(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ttc/%s", getenv("PRILLM_SOURCE_DIR"), name);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    PrillmTtcMarket *mk = NULL;
    PrillmError err;
    if (prillm_ttc_market_read_json(in, NULL, NULL, &mk, &err)) fail_msg("%s: %s", name, err.message);
    fclose(in);
    return mk;
}

/* The market's curves as evaluation results in the reference's shape: one
 * row per model and compute level (theta samples or effort bin), with the
 * benchmark and method columns; read back through the curve reader with
 * the market's value terms. */
static PrillmTtcMarket *through_reader(const PrillmTtcMarket *mk, const char *benchmark, const char *method,
                                       int ragged) {
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    fputs("benchmark,method,model,level,accuracy,tokens,price_per_million,questions\n", out);
    for (int i = 0; i < mk->n_models; i++)
        for (int k = 0; k < mk->n_levels[i]; k++) {
            int at = mk->level_offset[i] + k;
            fprintf(out, "%s,%s,%s,%.17g,%.17g,%.17g,%.17g,1319\n", benchmark, method, mk->model_id[i],
                    mk->level_label[at], mk->accuracy[at], mk->tokens[at], mk->list_price[i]);
        }
    fclose(out);
    PrillmTtcCurveSettings s = settings_of(mk);
    s.allow_missing_levels = ragged;
    PrillmTtcMarket *back = NULL;
    PrillmError err;
    if (prillm_ttc_curves_parse(text, length, "reference-shaped", &s, NULL, NULL, &back, &err))
        fail_msg("%s/%s: %s", benchmark, method, err.message);
    free(text);
    return back;
}

static void test_reference_shaped_curves(void **state) {
    (void)state;
    if (!getenv("PRILLM_SOURCE_DIR")) skip();
    PrillmError err;
    /* the hand-checkable golden file: the same numbers through the reader */
    PrillmTtcMarket *golden = read_market_file("golden.json");
    PrillmTtcMarket *g = through_reader(golden, "golden", "majority", 1);
    PrillmTtcAuctionResult *a = NULL;
    assert_int_equal(prillm_ttc_auction(g, &a, &err), PRILLM_OK);
    assert_true(a->outcome.winner == 0 && a->outcome.runner_up == 1);
    assert_true(a->outcome.payment == 0.625 && a->user_utility == 0.25 && a->utility[0] == 0.25 && a->welfare == 0.5);
    prillm_ttc_auction_result_free(a);
    prillm_ttc_market_free(g);
    prillm_ttc_market_free(golden);
    /* the shipped benchmark curves (9 instruct models x theta in {1..64},
     * 3 reasoning models x 5 effort bins): the numbers of docs/benchmarks.md's
     * TTC table, to its printed precision, and the JSON path bit for bit */
    static const struct {
        const char *file, *benchmark, *method;
        double poa_200, user_value, payment, welfare;
    } rows[] = {
        {"gsm8k_majority.json", "GSM8K", "majority", 1.231, 0.00677, 0.00041, 0.00703},
        {"aime_majority.json", "AIME", "majority", 1.244, 0.01040, 0.00062, 0.01057},
        {"gpqa_majority.json", "GPQA", "majority", 1.240, 0.00904, 0.00054, 0.00937},
        {"gsm8k_reasoning.json", "GSM8K", "reasoning-effort", 1.000, 0.00703, 0.00042, 0.00725},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        PrillmTtcMarket *mk = read_market_file(rows[r].file);
        PrillmTtcMarket *back = through_reader(mk, rows[r].benchmark, rows[r].method, 0);
        assert_same_market(mk, back);
        PrillmTtcAuctionResult *x = NULL, *y = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &x, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_auction(back, &y, &err), PRILLM_OK);
        assert_true(x->outcome.winner == y->outcome.winner && x->outcome.payment == y->outcome.payment &&
                    x->user_utility == y->user_utility && x->welfare == y->welfare);
        if (fabs(y->user_utility - rows[r].user_value) > 5e-6 || fabs(y->outcome.payment - rows[r].payment) > 5e-6 ||
            fabs(y->welfare - rows[r].welfare) > 5e-6)
            fail_msg("%s: auction user value %.5f, payment %.5f, welfare %.5f", rows[r].file, y->user_utility,
                     y->outcome.payment, y->welfare);
        back->beta = mk->beta = 200;
        PrillmTtcMarketResult *m1 = NULL, *m2 = NULL;
        assert_int_equal(prillm_ttc_market_solve(mk, NULL, NULL, NULL, &m1, &err), PRILLM_OK);
        assert_int_equal(prillm_ttc_market_solve(back, NULL, NULL, NULL, &m2, &err), PRILLM_OK);
        assert_true(m1->price_of_anarchy == m2->price_of_anarchy);
        for (int i = 0; i < mk->n_models; i++) assert_int_equal(m1->equilibrium->level[i], m2->equilibrium->level[i]);
        if (fabs(m2->price_of_anarchy - rows[r].poa_200) > 5e-4)
            fail_msg("%s: PoA at beta 200 %.4f, the table says %.3f", rows[r].file, m2->price_of_anarchy,
                     rows[r].poa_200);
        prillm_ttc_market_result_free(m1);
        prillm_ttc_market_result_free(m2);
        prillm_ttc_auction_result_free(x);
        prillm_ttc_auction_result_free(y);
        prillm_ttc_market_free(back);
        prillm_ttc_market_free(mk);
    }
}

/* The authors' notebook figures. The saved outputs of
 * notebooks/{GSM8K,AIME,GPQA}-demo.ipynb (github.com/Networks-Learning/
 * strategic-ttc at 42237fc, MIT) print, per benchmark and TTC method, the
 * auction's winner and runner-up with their surplus W, the user's value,
 * the price and the winner's utility, to 5 decimals. Their measured curves
 * are not available, so each row's two bids are reconstructed from the
 * printed numbers (the winner's quality P + W_r and cost q_w - W_w; the
 * runner-up at the winner's token count with surplus W_r), turned into
 * reference-shaped curves (a second, dominated level each: 4x the tokens,
 * the same accuracy) with the reference's list prices and value scales, and
 * read through the curve reader. The auction must then name the same winner
 * and runner-up and reproduce every printed number within the printing's
 * rounding; the utility is an independent check of the rule
 * (utility = W_w - W_r, user value = W_r, price = q_w - W_r). */
static void test_notebook_auction_figures(void **state) {
    (void)state;
    static const struct {
        const char *benchmark, *method, *winner, *runner;
        double alpha, price_w, price_r; /* USD per 1M tokens, the reference's table */
        double w_w, w_r, user_value, price, utility, sw;
    } rows[] = {
        {"GSM8K", "majority", "Qwen2.5-7B", "Qwen2.5-3B", 0.008, 0.1465, 0.065, 0.00726, 0.00710, 0.00710, 0.00030, 0.00016, 0.00726},
        {"GSM8K", "best-of-n", "Qwen2.5-7B", "Qwen2.5-3B", 0.008, 0.1465, 0.065, 0.00736, 0.00718, 0.00718, 0.00032, 0.00018, 0.00736},
        {"GSM8K", "reasoning", "reason-R1-D-Qwen-7B", "reason-R1-D-Qwen-1.5B", 0.008, 0.175, 0.10, 0.00745, 0.00733, 0.00733, 0.00030, 0.00012, 0.00745},
        {"AIME", "majority", "Llama-3.2-3B", "Llama-3.1-8B", 0.05, 0.08, 0.1245, 0.00926, 0.00763, 0.00763, 0.00211, 0.00163, 0.00926},
        {"AIME", "best-of-n", "Llama-3.2-3B", "Llama-3.1-8B", 0.05, 0.08, 0.1245, 0.00858, 0.00772, 0.00772, 0.00134, 0.00086, 0.00858},
        {"AIME", "reasoning", "reason-R1-D-Qwen-7B", "reason-R1-D-Qwen-1.5B", 0.05, 0.175, 0.10, 0.04976, 0.04584, 0.04584, 0.00416, 0.00392, 0.04976},
        {"GPQA", "majority", "Llama-3-8B", "Qwen2-7B", 0.02, 0.1455, 0.20, 0.00723, 0.00718, 0.00718, 0.00020, 0.00005, 0.00723},
        {"GPQA", "best-of-n", "Llama-3-8B", "Llama-3.2-3B", 0.02, 0.1455, 0.08, 0.00708, 0.00684, 0.00684, 0.00039, 0.00024, 0.00708},
        {"GPQA", "reasoning", "reason-R1-D-Qwen-7B", "reason-R1-D-Llama-8B", 0.02, 0.175, 0.125, 0.01597, 0.01525, 0.01525, 0.00091, 0.00072, 0.01597},
    };
    const double baseline = 0.1, margin = 0.25, printed = 5e-6;
    PrillmError err;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double q_w = rows[r].price + rows[r].w_r, c_w = q_w - rows[r].w_w;
        double tokens = c_w * (1 + margin) / rows[r].price_w * 1e6;
        double c_r = tokens * rows[r].price_r / 1e6 / (1 + margin), q_r = rows[r].w_r + c_r;
        double a_w = fmin(1, (q_w / rows[r].alpha - baseline) / (1 - baseline));
        double a_r = fmin(1, (q_r / rows[r].alpha - baseline) / (1 - baseline));
        char text[1024];
        snprintf(text, sizeof text,
                 "benchmark,method,model,level,accuracy,tokens,price_per_million\n"
                 "%s,%s,%s,1,%.17g,%.17g,%.17g\n%s,%s,%s,4,%.17g,%.17g,%.17g\n"
                 "%s,%s,%s,1,%.17g,%.17g,%.17g\n%s,%s,%s,4,%.17g,%.17g,%.17g\n",
                 rows[r].benchmark, rows[r].method, rows[r].runner, a_r, tokens, rows[r].price_r, rows[r].benchmark,
                 rows[r].method, rows[r].runner, a_r, 4 * tokens, rows[r].price_r, rows[r].benchmark, rows[r].method,
                 rows[r].winner, a_w, tokens, rows[r].price_w, rows[r].benchmark, rows[r].method, rows[r].winner, a_w,
                 4 * tokens, rows[r].price_w);
        PrillmTtcCurveSettings s;
        prillm_ttc_curve_default_settings(&s);
        s.value_scale = rows[r].alpha;
        s.benchmark = rows[r].benchmark;
        PrillmTtcMarket *mk = NULL;
        if (prillm_ttc_curves_parse(text, strlen(text), "notebook", &s, NULL, NULL, &mk, &err))
            fail_msg("row %zu: %s", r, err.message);
        PrillmTtcAuctionResult *a = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &a, &err), PRILLM_OK);
        assert_true(a->outcome.winner >= 0 && a->outcome.runner_up >= 0);
        assert_string_equal(mk->model_id[a->outcome.winner], rows[r].winner);
        assert_string_equal(mk->model_id[a->outcome.runner_up], rows[r].runner);
        assert_int_equal(a->level[a->outcome.winner], 0); /* the dominated level is not bid */
        const double ours[6] = {a->outcome.winner_score, a->outcome.runner_up_score, a->user_utility,
                                a->outcome.payment, a->utility[a->outcome.winner], a->welfare};
        const double theirs[6] = {rows[r].w_w, rows[r].w_r, rows[r].user_value, rows[r].price, rows[r].utility, rows[r].sw};
        static const char *const names[6] = {"W winner", "W runner-up", "user value", "price", "utility", "SW"};
        for (int k = 0; k < 6; k++)
            /* a printed number is within 5e-6 of the notebook's; ours is built from two or three of them */
            if (!(fabs(ours[k] - theirs[k]) <= 3 * printed))
                fail_msg("%s / %s: %s %.6f, the notebook prints %.5f", rows[r].benchmark, rows[r].method, names[k],
                         ours[k], theirs[k]);
        prillm_ttc_auction_result_free(a);
        prillm_ttc_market_free(mk);
    }
}

/* ---- scripts/ttc_curves_from_logs.py: logs to curves ------------------------ */

/* A log of 2 models x 30 questions x 64 samples whose vote at theta = 64 is
 * never a tie (the correct answer "1" and the wrong "2" and "3" have
 * distinct counts), sample j of a question has j + 10 thinking tokens (so
 * effort bin b holds exactly the samples j with 5 j / 64 = b - 1) and a
 * random reward; the script's curves are checked against the test's own
 * counts where they are exact (theta = 64, best of 64, the effort bins) and
 * within sampling error at theta = 1; then read by the curve reader and
 * auctioned. */
static void test_curves_from_logs(void **state) {
    (void)state;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    if (!src || system("/usr/bin/python3 -c 'import json, csv, random' >/dev/null 2>&1") != 0) skip();
    enum { MODELS = 2, QUESTIONS = 30, SAMPLES = 64 };
    TestRng rng = {5151};
    char log_path[] = "/tmp/prillm_ttc_log_XXXXXX";
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    FILE *log = fdopen(fd, "w");
    double maj64[MODELS] = {0}, tok64[MODELS] = {0}, best64[MODELS] = {0}, single[MODELS] = {0};
    double bin_hits[MODELS][5] = {{0}}, bin_tokens[MODELS][5] = {{0}}, bin_count[MODELS][5] = {{0}};
    for (int m = 0; m < MODELS; m++)
        for (int q = 0; q < QUESTIONS; q++) {
            int right, w2;
            do {
                right = test_int(&rng, 0, SAMPLES);
                w2 = test_int(&rng, 0, SAMPLES - right);
            } while (right == w2 || right == SAMPLES - right - w2 || w2 == SAMPLES - right - w2);
            int answer[SAMPLES];
            for (int j = 0; j < SAMPLES; j++) answer[j] = j < right ? 1 : j < right + w2 ? 2 : 3;
            for (int j = SAMPLES - 1; j > 0; j--) { /* shuffle which sample says what */
                int k = test_int(&rng, 0, j), t = answer[j];
                answer[j] = answer[k];
                answer[k] = t;
            }
            int w3 = SAMPLES - right - w2;
            maj64[m] += (right > w2 && right > w3) / (double)QUESTIONS;
            single[m] += right / (double)SAMPLES / QUESTIONS;
            double best_reward = -1;
            int best_right = 0;
            for (int j = 0; j < SAMPLES; j++) {
                int tokens = 100 + test_int(&rng, 0, 200) + 5 * j;
                double reward = test_uniform(&rng);
                if (reward > best_reward) {
                    best_reward = reward;
                    best_right = answer[j] == 1;
                }
                tok64[m] += tokens / (double)QUESTIONS;
                int b = 5 * j / SAMPLES;
                bin_hits[m][b] += answer[j] == 1;
                bin_tokens[m][b] += tokens;
                bin_count[m][b] += 1;
                fprintf(log,
                        "{\"model\": \"model-%d\", \"question\": \"q%d\", \"answer\": \"%d\", \"correct\": %s, "
                        "\"tokens\": %d, \"reward\": %.17g, \"thinking_tokens\": %d, \"benchmark\": \"toy\"}\n",
                        m, q, answer[j], answer[j] == 1 ? "true" : "false", tokens, reward, 10 + j);
            }
            best64[m] += best_right / (double)QUESTIONS;
        }
    fclose(log);
    char command[2048];
    snprintf(command, sizeof command,
             "/usr/bin/python3 \"%s/scripts/ttc_curves_from_logs.py\" %s --method majority --method best-of-n "
             "--method reasoning-effort --draws 40 --seed 3 --price model-0=0.1 --price model-1=0.2",
             src, log_path);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    char *csv = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&csv, &length);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) fwrite(buf, 1, got, out);
    fclose(out);
    assert_int_equal(pclose(p), 0);
    unlink(log_path);
    PrillmError err;
    PrillmTtcCurveSettings s;
    prillm_ttc_curve_default_settings(&s);
    s.value_scale = 0.008;
    static const char *const methods[] = {"majority", "best-of-n", "reasoning-effort"};
    for (int method = 0; method < 3; method++) {
        s.method = methods[method];
        PrillmTtcMarket *mk = NULL;
        if (prillm_ttc_curves_parse(csv, length, "script", &s, NULL, NULL, &mk, &err))
            fail_msg("%s: %s\n%s", methods[method], err.message, csv);
        assert_int_equal(mk->n_models, MODELS);
        for (int m = 0; m < MODELS; m++) {
            int at = mk->level_offset[m];
            if (method < 2) {
                assert_int_equal(mk->n_levels[m], 6);
                assert_true(mk->level_label[at] == 1 && mk->level_label[at + 5] == 64);
                /* theta = 64 uses every sample: exact */
                double want = method == 0 ? maj64[m] : best64[m];
                if (fabs(mk->accuracy[at + 5] - want) > 1e-12)
                    fail_msg("%s model %d at 64: %.6f, want %.6f", methods[method], m, mk->accuracy[at + 5], want);
                assert_true(fabs(mk->tokens[at + 5] - tok64[m]) <= 1e-9 * tok64[m]);
                /* theta = 1: one random sample, 30 x 40 draws: within 5 standard errors */
                double se = sqrt(single[m] * (1 - single[m]) / (QUESTIONS * 40.0)) + 1e-3;
                if (fabs(mk->accuracy[at] - single[m]) > 5 * se)
                    fail_msg("%s model %d at 1: %.4f, sample mean %.4f", methods[method], m, mk->accuracy[at], single[m]);
            } else {
                assert_int_equal(mk->n_levels[m], 5);
                for (int b = 0; b < 5; b++) {
                    assert_true(mk->level_label[at + b] == b + 1);
                    assert_true(fabs(mk->accuracy[at + b] - bin_hits[m][b] / bin_count[m][b]) <= 1e-12);
                    assert_true(fabs(mk->tokens[at + b] - bin_tokens[m][b] / bin_count[m][b]) <= 1e-9 * mk->tokens[at + b]);
                }
            }
        }
        /* and the auction runs on it */
        PrillmTtcAuctionResult *a = NULL;
        assert_int_equal(prillm_ttc_auction(mk, &a, &err), PRILLM_OK);
        assert_true(a->welfare >= mk->outside_value);
        prillm_ttc_auction_result_free(a);
        prillm_ttc_market_free(mk);
    }
    free(csv);
}

int main(int argc, char **argv) {
    /* an argument runs only the tests whose names match it (cmocka's * and ?) */
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curves_read_back),
        cmocka_unit_test(test_curves_errors),
        cmocka_unit_test(test_curves_example_file),
        cmocka_unit_test(test_bids_match_definition),
        cmocka_unit_test(test_bids_truthful_dominant),
        cmocka_unit_test(test_bids_rationality),
        cmocka_unit_test(test_bids_file_read_back),
        cmocka_unit_test(test_bids_file_errors),
        cmocka_unit_test(test_command_bids),
        cmocka_unit_test(test_population_matches_loop),
        cmocka_unit_test(test_population_realised),
        cmocka_unit_test(test_population_generate_and_file),
        cmocka_unit_test(test_command_population),
        cmocka_unit_test(test_reference_shaped_curves),
        cmocka_unit_test(test_notebook_auction_figures),
        cmocka_unit_test(test_curves_from_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
