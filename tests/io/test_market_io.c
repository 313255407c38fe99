/*
 * The market file reader, writer and validator, and prillm_format_double.
 *
 * Every bad-input case starts from one known-good market text and changes
 * exactly one thing, so the error the reader reports can only come from that
 * change; the test then checks the error code, that the message names the
 * offending field with its index, and that no market was handed back.
 */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <prillm/prillm.h>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* the readers' internals, for the input-size limit at a testable size */
#include "csv_table.h"
#include "internal.h"
#include "json_document.h"

/* ---- helpers ------------------------------------------------------------ */

/* Three providers and two users so that "index 1" and "index 2" are
 * distinguishable from "index 0" in every message. Provider c has no
 * latency on purpose (the delay-filling cases need one without). Written
 * with single quotes for legibility; json() turns them into double quotes. */
static const char base_template[] =
    "{\n"
    "  'weights': {'price': 1.0, 'congestion': 0.8, 'delay': 0.5},\n"
    "  'providers': [\n"
    "    {'id': 'a', 'price': 0.3, 'capacity': 120.0, 'value': 2.1, 'latency': 0.4},\n"
    "    {'id': 'b', 'price': 1.5, 'capacity': 80.0, 'value': 3.0, 'cost': 0.2, 'latency': 0.9},\n"
    "    {'id': 'c', 'price': 0.7, 'capacity': 50.0, 'value': 1.2}\n"
    "  ],\n"
    "  'users': [\n"
    "    {'id': 'Kilo Code', 'demand': 740.0},\n"
    "    {'id': 'u2', 'demand': 10.0}\n"
    "  ],\n"
    "  'delay': [\n"
    "    [0.5, 0.9, 1.3],\n"
    "    [0.7, 1.1, 1.7]\n"
    "  ]\n"
    "}\n";

static char *dup_text(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, text, n);
    return copy;
}

static char *json(const char *single_quoted) {
    char *text = dup_text(single_quoted);
    for (char *c = text; *c; c++)
        if (*c == '\'') *c = '"';
    return text;
}

/* text with the one occurrence of `from` replaced by `to` (both written
 * with single quotes). Failing on zero or several occurrences keeps a typo
 * in a test from silently testing an unchanged market. */
static char *replace_once(const char *text, const char *from, const char *to) {
    char *f = json(from), *t = json(to);
    const char *at = strstr(text, f);
    if (!at) fail_msg("test bug: \"%s\" not in the market text", f);
    if (strstr(at + 1, f)) fail_msg("test bug: \"%s\" occurs more than once", f);
    size_t head = (size_t)(at - text), lf = strlen(f), lt = strlen(t), tail = strlen(at + lf);
    char *out = malloc(head + lt + tail + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, t, lt);
    memcpy(out + head + lt, at + lf, tail + 1);
    free(f);
    free(t);
    return out;
}

/* The base market with one change. */
static char *variant(const char *from, const char *to) {
    char *base = json(base_template);
    char *out = replace_once(base, from, to);
    free(base);
    return out;
}

typedef struct {
    int count;
    char text[16][512];
} Warnings;

static void collect_warning(void *context, const char *message) {
    Warnings *w = context;
    if (w->count < 16) snprintf(w->text[w->count], sizeof w->text[0], "%s", message);
    w->count++;
}

/* Index of a warning containing both substrings, or -1. */
static int find_warning(const Warnings *w, const char *a, const char *b) {
    for (int k = 0; k < w->count && k < 16; k++)
        if (strstr(w->text[k], a) && (!b || strstr(w->text[k], b))) return k;
    return -1;
}

/* A real object whose address can never be a freshly parsed market: if the
 * reader forgets to clear *market on failure, the pointer stays here. */
static PrillmMarket sentinel_market;

static void expect_rejected_n(const char *text, size_t length, PrillmErrorCode code,
                              const char *const *needles) {
    PrillmMarket *mk = &sentinel_market;
    PrillmError err = {PRILLM_OK, ""};
    Warnings warnings = {0};
    PrillmErrorCode rc = prillm_market_parse_json(text, length, collect_warning, &warnings, &mk, &err);
    if (rc != code)
        fail_msg("expected %s, got %s: \"%s\"\ninput:\n%.*s", prillm_error_name(code), prillm_error_name(rc),
                 err.message, (int)length, text);
    assert_int_equal(err.code, code);
    assert_null(mk);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(err.message, *n)) fail_msg("message \"%s\" does not mention \"%s\"", err.message, *n);
}

#define EXPECT_REJECTED(text, code, ...) \
    expect_rejected_n((text), strlen(text), (code), (const char *const[]){__VA_ARGS__, NULL})

/* Apply one change to the base market and expect it rejected. */
#define EXPECT_VARIANT_REJECTED(from, to, code, ...)  \
    do {                                              \
        char *text_ = variant((from), (to));          \
        EXPECT_REJECTED(text_, (code), __VA_ARGS__);  \
        free(text_);                                  \
    } while (0)

static PrillmMarket *parse_ok(const char *text, Warnings *warnings) {
    PrillmMarket *mk = NULL;
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_market_parse_json(text, strlen(text), collect_warning, warnings, &mk, &err);
    if (rc != PRILLM_OK) fail_msg("parse failed (%s): %s\ninput:\n%s", prillm_error_name(rc), err.message, text);
    assert_non_null(mk);
    return mk;
}

/* "line L, column C" of the first occurrence of token, counted here
 * independently of the library (1-based, columns in bytes). */
static void position_of(const char *text, size_t offset, char *out, size_t size) {
    int line = 1, column = 1;
    for (size_t k = 0; k < offset; k++) {
        if (text[k] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    snprintf(out, size, "line %d, column %d", line, column);
}

static void expect_malformed_at(const char *text, size_t length, const char *token, const char *extra) {
    const char *at = strstr(text, token);
    assert_non_null(at);
    char where[64];
    position_of(text, (size_t)(at - text), where, sizeof where);
    if (extra) expect_rejected_n(text, length, PRILLM_ERR_PARSE, (const char *const[]){where, extra, NULL});
    else expect_rejected_n(text, length, PRILLM_ERR_PARSE, (const char *const[]){where, NULL});
}

/* ---- the base market ---------------------------------------------------- */

static void test_base_market_is_valid(void **state) {
    (void)state;
    char *text = json(base_template);
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    /* the warning tests below rely on the base market warning about nothing */
    assert_int_equal(w.count, 0);
    assert_int_equal(mk->n_users, 2);
    assert_int_equal(mk->n_providers, 3);
    assert_string_equal(mk->provider_id[1], "b");
    assert_string_equal(mk->user_id[0], "Kilo Code");
    assert_true(mk->w_congestion == 0.8);
    assert_true(mk->capacity[1] == 80.0);
    assert_true(mk->cost[1] == 0.2);
    assert_true(isnan(mk->cost[0])); /* absent optional fields are NaN */
    assert_true(isnan(mk->latency[2]));
    assert_true(mk->demand[1] == 10.0);
    assert_true(mk->delay[1 * 3 + 2] == 1.7);
    assert_int_equal(prillm_market_provider_index(mk, "c"), 2);
    assert_int_equal(prillm_market_user_index(mk, "u2"), 1);
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    prillm_market_free(mk);
    free(text);
}

/* ---- non-finite numbers ------------------------------------------------- */

/* A market built through the API, so NaN (which JSON cannot spell) can be
 * put anywhere. Same shape as the base market. */
static PrillmMarket *api_market(void) {
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(2, 3, &err);
    assert_non_null(mk);
    const char *pids[] = {"a", "b", "c"}, *uids[] = {"x", "y"};
    for (int j = 0; j < 3; j++) {
        mk->provider_id[j] = dup_text(pids[j]);
        mk->price[j] = 0.5 + j;
        mk->capacity[j] = 100.0 * (j + 1);
        mk->value[j] = 2.0;
    }
    for (int i = 0; i < 2; i++) {
        mk->user_id[i] = dup_text(uids[i]);
        mk->demand[i] = 50.0;
        for (int j = 0; j < 3; j++) mk->delay[i * 3 + j] = 0.1 * (i + j + 1);
    }
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    return mk;
}

typedef struct {
    size_t offset; /* of a double* array in PrillmMarket, or of a weight */
    int is_array;
    int index;
    const char *name; /* as the message should spell it */
} FieldRef;

#define ARRAY_FIELD(member, index, name) {offsetof(PrillmMarket, member), 1, index, name}
#define SCALAR_FIELD(member, name) {offsetof(PrillmMarket, member), 0, 0, name}

static const FieldRef required_numbers[] = {
    SCALAR_FIELD(w_price, "weights.price"),
    SCALAR_FIELD(w_congestion, "weights.congestion"),
    SCALAR_FIELD(w_delay, "weights.delay"),
    ARRAY_FIELD(price, 1, "providers[1].price"),
    ARRAY_FIELD(capacity, 2, "providers[2].capacity"),
    ARRAY_FIELD(value, 1, "providers[1].value"),
    ARRAY_FIELD(demand, 1, "users[1].demand"),
    ARRAY_FIELD(delay, 1 * 3 + 2, "delay[1][2]"),
    ARRAY_FIELD(affinity, 1 * 3 + 2, "affinity[1][2]"),
};

static double *field_ptr(PrillmMarket *mk, const FieldRef *f) {
    char *base = (char *)mk + f->offset;
    if (!f->is_array) return (double *)(void *)base;
    double *array;
    memcpy(&array, base, sizeof array);
    return array + f->index;
}

static void expect_invalid(const PrillmMarket *mk, const char *name, const char *detail) {
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_market_validate(mk, &err);
    if (rc != PRILLM_ERR_INVALID_DATA)
        fail_msg("%s: expected INVALID_DATA, got %s (%s)", name, prillm_error_name(rc), err.message);
    assert_int_equal(err.code, PRILLM_ERR_INVALID_DATA);
    if (!strstr(err.message, name)) fail_msg("message \"%s\" does not name %s", err.message, name);
    if (detail && !strstr(err.message, detail))
        fail_msg("message \"%s\" does not say \"%s\"", err.message, detail);
}

static void test_nan_via_api(void **state) {
    (void)state;
    PrillmMarket *mk = api_market();
    for (size_t k = 0; k < sizeof required_numbers / sizeof required_numbers[0]; k++) {
        double *x = field_ptr(mk, &required_numbers[k]), saved = *x;
        *x = NAN;
        expect_invalid(mk, required_numbers[k].name, NULL);
        *x = saved;
        /* only that one field was wrong */
        assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    }
    /* the delay message must not confuse the two indices */
    mk->delay[0 * 3 + 1] = NAN;
    expect_invalid(mk, "delay[0][1]", "NaN");
    mk->delay[0 * 3 + 1] = 0.2;
    /* cost and latency are optional: NaN means "not given" */
    mk->cost[1] = NAN;
    mk->latency[1] = NAN;
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    prillm_market_free(mk);
}

static void test_infinity_via_api(void **state) {
    (void)state;
    PrillmMarket *mk = api_market();
    for (int sign = -1; sign <= 1; sign += 2) {
        for (size_t k = 0; k < sizeof required_numbers / sizeof required_numbers[0]; k++) {
            double *x = field_ptr(mk, &required_numbers[k]), saved = *x;
            *x = sign * INFINITY;
            expect_invalid(mk, required_numbers[k].name, "finite");
            *x = saved;
        }
        mk->cost[2] = sign * INFINITY;
        expect_invalid(mk, "providers[2].cost", "finite");
        mk->cost[2] = NAN;
        mk->latency[2] = sign * INFINITY;
        expect_invalid(mk, "providers[2].latency", "finite");
        mk->latency[2] = NAN;
    }
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    prillm_market_free(mk);
}

static void test_nan_literal_is_malformed_json(void **state) {
    (void)state;
    /* JSON has no NaN or Infinity literal; accepting them would make files
     * that no other JSON tool reads */
    const char *literals[] = {"NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf"};
    for (size_t k = 0; k < sizeof literals / sizeof literals[0]; k++) {
        char *text = variant("'capacity': 80.0", "'capacity': ");
        /* splice the literal in after "capacity": so its position is known */
        char *at = strstr(text, "\"capacity\": ") + strlen("\"capacity\": ");
        size_t head = (size_t)(at - text), lit = strlen(literals[k]);
        char *spliced = malloc(strlen(text) + lit + 1);
        assert_non_null(spliced);
        memcpy(spliced, text, head);
        memcpy(spliced + head, literals[k], lit);
        strcpy(spliced + head + lit, at);
        PrillmMarket *mk = &sentinel_market;
        PrillmError err;
        assert_int_equal(prillm_market_parse_json(spliced, strlen(spliced), NULL, NULL, &mk, &err), PRILLM_ERR_PARSE);
        assert_null(mk);
        assert_non_null(strstr(err.message, "line"));
        assert_non_null(strstr(err.message, "column"));
        free(spliced);
        free(text);
    }
}

static void test_infinity_from_huge_numbers(void **state) {
    (void)state;
    /* 1e999 is valid JSON but overflows to infinity */
    EXPECT_VARIANT_REJECTED("'capacity': 80.0", "'capacity': 1e999", PRILLM_ERR_INVALID_DATA,
                            "providers[1].capacity", "must be finite");
    EXPECT_VARIANT_REJECTED("'price': 1.5", "'price': -1e999", PRILLM_ERR_INVALID_DATA, "providers[1].price",
                            "must be finite", "-Infinity");
    EXPECT_VARIANT_REJECTED("'value': 1.2", "'value': 1e400", PRILLM_ERR_INVALID_DATA, "providers[2].value",
                            "must be finite");
    EXPECT_VARIANT_REJECTED("'cost': 0.2", "'cost': 1e999", PRILLM_ERR_INVALID_DATA, "providers[1].cost",
                            "must be finite");
    EXPECT_VARIANT_REJECTED("'latency': 0.9", "'latency': 1e999", PRILLM_ERR_INVALID_DATA,
                            "providers[1].latency", "finite");
    EXPECT_VARIANT_REJECTED("'demand': 10.0", "'demand': 1e999", PRILLM_ERR_INVALID_DATA, "users[1].demand",
                            "must be finite");
    EXPECT_VARIANT_REJECTED("1.1", "1e999", PRILLM_ERR_INVALID_DATA, "delay[1][1]", "finite");
    EXPECT_VARIANT_REJECTED("'price': 1.0,", "'price': 1e999,", PRILLM_ERR_INVALID_DATA, "weights.price",
                            "finite");
    EXPECT_VARIANT_REJECTED("'congestion': 0.8", "'congestion': 1e999", PRILLM_ERR_INVALID_DATA,
                            "weights.congestion", "finite");
    EXPECT_VARIANT_REJECTED("'delay': 0.5}", "'delay': 1e999}", PRILLM_ERR_INVALID_DATA, "weights.delay",
                            "finite");
}

/* ---- out-of-range numbers ----------------------------------------------- */

static void test_zero_capacity(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'capacity': 80.0", "'capacity': 0", PRILLM_ERR_INVALID_DATA,
                            "providers[1].capacity", "> 0");
    /* -0 is zero too, and must not sneak past a sign test */
    EXPECT_VARIANT_REJECTED("'capacity': 80.0", "'capacity': -0.0", PRILLM_ERR_INVALID_DATA,
                            "providers[1].capacity", "> 0");
}

/* Every number finite, yet the model's derived quantities overflow: the
 * fuzzer's finds. Each must be rejected naming the provider or users. */
static void test_derived_quantities_must_be_finite(void **state) {
    (void)state;
    PrillmMarket *mk = api_market();
    double saved = mk->w_delay, saved_delay = mk->delay[0];
    mk->w_delay = 1e99;
    mk->delay[0] = 1e99; /* each within limits; the derived cost is not */
    expect_invalid(mk, "providers[0]", "out of range");
    mk->w_delay = saved;
    mk->delay[0] = saved_delay;
    saved = mk->price[1];
    mk->w_price = 1e99;
    mk->price[1] = 1e99; /* w_price * price overflows the derived range */
    expect_invalid(mk, "providers[1]", "out of range");
    mk->price[1] = saved;
    mk->w_price = 1.0;
    saved = mk->capacity[2];
    mk->capacity[2] = 1e-310; /* subnormal: slope w_congestion / capacity is infinite */
    expect_invalid(mk, "providers[2].capacity", "out of range");
    mk->capacity[2] = 1e100;
    mk->w_congestion = 1e-20; /* slope 1e-120: congestion would all but vanish */
    expect_invalid(mk, "providers[2].capacity", "out of range");
    mk->capacity[2] = 1e101; /* each number is bounded too */
    mk->w_congestion = 1.0;
    expect_invalid(mk, "providers[2].capacity", "1e100");
    mk->capacity[2] = saved;
    mk->w_congestion = 1.0;
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    mk->demand[0] = 1.7e308; /* beyond the magnitude limit */
    expect_invalid(mk, "users[0].demand", "1e100");
    mk->demand[0] = 50.0;
    /* an affinity within limits can still push the cost out of range */
    mk->w_price = 1e99;
    mk->price[1] = 1e100 / 1e99 * 0.9; /* w_price * price = 9e99 */
    mk->affinity[1 * 3 + 1] = -PRILLM_MAX_MAGNITUDE;
    expect_invalid(mk, "providers[1]", "affinity");
    mk->affinity[1 * 3 + 1] = 0.0;
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    /* and each affinity is bounded, with both indices named */
    mk->affinity[0 * 3 + 2] = -1e101;
    expect_invalid(mk, "affinity[0][2] (user 0, provider 2)", "1e100");
    prillm_market_free(mk);
}

/* The costs are checked row by row in one branch-free loop, and only a
 * failing market is searched pair by pair for the message: on rows longer
 * than a vector (41 providers, an odd remainder), every out-of-range cost
 * must still be caught, and the message must name the first pair in the
 * searched order (provider, then user), wherever the rows put it. */
static void test_cost_check_on_long_rows(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(37, 41, 5, &err);
    assert_non_null(mk);
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    mk->w_price = 1.0;
    mk->price[9] = 0.9e100; /* within range; its costs are about 0.9e100 */
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    mk->affinity[5 * 41 + 9] = -0.2e100; /* c = 1.1e100 */
    expect_invalid(mk, "providers[9]: cost for users[5]", "out of range");
    mk->price[2] = 0.9e100;
    mk->affinity[30 * 41 + 2] = -0.2e100; /* a later row, an earlier provider */
    expect_invalid(mk, "providers[2]: cost for users[30]", "out of range");
    mk->affinity[30 * 41 + 2] = 0.0;
    mk->affinity[5 * 41 + 9] = 0.0;
    mk->price[40] = 0.9e100; /* the last column: the loop's remainder */
    mk->affinity[36 * 41 + 40] = -0.2e100;
    expect_invalid(mk, "providers[40]: cost for users[36]", "out of range");
    mk->affinity[36 * 41 + 40] = 0.0;
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    prillm_market_free(mk);
}

static void test_negative_capacity(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'capacity': 50.0", "'capacity': -5", PRILLM_ERR_INVALID_DATA,
                            "providers[2].capacity", "> 0", "-5");
}

static void test_nonpositive_congestion_weight(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'congestion': 0.8", "'congestion': 0", PRILLM_ERR_INVALID_DATA,
                            "weights.congestion", "> 0");
    EXPECT_VARIANT_REJECTED("'congestion': 0.8", "'congestion': -1", PRILLM_ERR_INVALID_DATA,
                            "weights.congestion", "> 0", "-1");
}

static void test_negative_delay_weight(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'delay': 0.5}", "'delay': -0.25}", PRILLM_ERR_INVALID_DATA, "weights.delay",
                            ">= 0", "-0.25");
    /* zero is allowed: delay simply does not matter */
    char *text = variant("'delay': 0.5}", "'delay': 0}");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_true(mk->w_delay == 0.0);
    prillm_market_free(mk);
    free(text);
}

static void test_negative_demand(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'demand': 10.0", "'demand': -3", PRILLM_ERR_INVALID_DATA, "users[1].demand",
                            ">= 0", "-3");
}

static void test_negative_delay(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]", "[0.7, 1.1, -0.5]", PRILLM_ERR_INVALID_DATA, "delay[1][2]",
                            ">= 0", "-0.5");
    EXPECT_VARIANT_REJECTED("[0.5, 0.9, 1.3]", "[0.5, -2, 1.3]", PRILLM_ERR_INVALID_DATA, "delay[0][1]");
    EXPECT_VARIANT_REJECTED("'latency': 0.9", "'latency': -0.9", PRILLM_ERR_INVALID_DATA,
                            "providers[1].latency", ">= 0");
}

static void test_negative_prices_are_allowed(void **state) {
    (void)state;
    /* only finiteness is required of prices and values (a subsidy is a
     * negative price); this guards against over-strict validation */
    char *text = variant("'price': 1.5", "'price': -1.5");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_true(mk->price[1] == -1.5);
    prillm_market_free(mk);
    free(text);
}

/* ---- delay matrix shape ------------------------------------------------- */

static void test_delay_wrong_row_count(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("    [0.5, 0.9, 1.3],\n", "", PRILLM_ERR_INVALID_DATA, "\"delay\"", "1 rows",
                            "2 users");
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]\n", "[0.7, 1.1, 1.7],\n    [0.1, 0.1, 0.1]\n",
                            PRILLM_ERR_INVALID_DATA, "\"delay\"", "3 rows", "2 users");
}

static void test_delay_wrong_column_count(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]", "[0.7, 1.1]", PRILLM_ERR_INVALID_DATA, "delay[1]",
                            "2 entries", "3 providers");
    EXPECT_VARIANT_REJECTED("[0.5, 0.9, 1.3]", "[0.5, 0.9, 1.3, 2.0]", PRILLM_ERR_INVALID_DATA, "delay[0]",
                            "4 entries", "3 providers");
}

static void test_delay_wrong_types(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]", "[0.7, '1.1', 1.7]", PRILLM_ERR_INVALID_DATA, "delay[1][1]",
                            "number");
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]", "{'b': 1}", PRILLM_ERR_INVALID_DATA, "delay[1]", "array");
    EXPECT_VARIANT_REJECTED("'delay': [\n", "'delay': 3, 'unused': [\n", PRILLM_ERR_INVALID_DATA,
                            "\"delay\"", "array");
}

/* ---- ids ---------------------------------------------------------------- */

static void test_duplicate_provider_ids(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("{'id': 'c'", "{'id': 'a'", PRILLM_ERR_INVALID_DATA, "providers[2].id",
                            "providers[0].id", "\"a\"");
}

static void test_duplicate_user_ids(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("{'id': 'u2'", "{'id': 'Kilo Code'", PRILLM_ERR_INVALID_DATA, "users[1].id",
                            "users[0].id", "Kilo Code");
}

static void test_ids_are_case_sensitive(void **state) {
    (void)state;
    /* "kilo code" and "Kilo Code" are different apps in the data */
    char *text = variant("{'id': 'u2'", "{'id': 'kilo code'");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_int_equal(prillm_market_user_index(mk, "kilo code"), 1);
    prillm_market_free(mk);
    free(text);
}

static void test_empty_id(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("{'id': 'b'", "{'id': ''", PRILLM_ERR_INVALID_DATA, "providers[1].id", "empty");
}

/* ---- missing fields and wrong types -------------------------------------- */

typedef struct {
    const char *from, *to, *field;
} Removal;

static void test_missing_required_fields(void **state) {
    (void)state;
    const Removal removals[] = {
        {"  'weights': {'price': 1.0, 'congestion': 0.8, 'delay': 0.5},\n", "", "\"weights\""},
        {"'price': 1.0, ", "", "weights.price"},
        {"'congestion': 0.8, ", "", "weights.congestion"},
        {", 'delay': 0.5}", "}", "weights.delay"},
        {"'providers': [", "'sellers': [", "\"providers\""},
        {"'users': [", "'apps': [", "\"users\""},
        {"{'id': 'b', ", "{", "providers[1].id"},
        {"'price': 1.5, ", "", "providers[1].price"},
        {"'capacity': 50.0, ", "", "providers[2].capacity"},
        {"'value': 3.0, ", "", "providers[1].value"},
        {"{'id': 'u2', ", "{", "users[1].id"},
        {"{'id': 'u2', 'demand': 10.0}", "{'id': 'u2'}", "users[1].demand"},
        /* null counts as missing for a required number */
        {"'price': 1.5", "'price': null", "providers[1].price"},
        {"'demand': 740.0", "'demand': null", "users[0].demand"},
    };
    for (size_t k = 0; k < sizeof removals / sizeof removals[0]; k++)
        EXPECT_VARIANT_REJECTED(removals[k].from, removals[k].to, PRILLM_ERR_INVALID_DATA, removals[k].field,
                                "missing");
}

static void test_wrong_types(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("'price': 1.5", "'price': '1.5'", PRILLM_ERR_INVALID_DATA, "providers[1].price",
                            "must be a number");
    EXPECT_VARIANT_REJECTED("'capacity': 50.0", "'capacity': true", PRILLM_ERR_INVALID_DATA,
                            "providers[2].capacity", "must be a number");
    EXPECT_VARIANT_REJECTED("'demand': 10.0", "'demand': [10]", PRILLM_ERR_INVALID_DATA, "users[1].demand",
                            "must be a number");
    EXPECT_VARIANT_REJECTED("{'id': 'u2'", "{'id': 2", PRILLM_ERR_INVALID_DATA, "users[1].id",
                            "must be a string");
    EXPECT_VARIANT_REJECTED("{'id': 'b'", "{'id': null", PRILLM_ERR_INVALID_DATA, "providers[1].id",
                            "must be a string");
    EXPECT_VARIANT_REJECTED("'congestion': 0.8", "'congestion': '0.8'", PRILLM_ERR_INVALID_DATA,
                            "weights.congestion", "must be a number");
    EXPECT_VARIANT_REJECTED("'weights': {'price': 1.0, 'congestion': 0.8, 'delay': 0.5}", "'weights': [1, 0.8, 0.5]",
                            PRILLM_ERR_INVALID_DATA, "\"weights\"", "object");
    EXPECT_VARIANT_REJECTED("{'id': 'u2', 'demand': 10.0}", "'u2'", PRILLM_ERR_INVALID_DATA, "users[1]",
                            "object");
    EXPECT_VARIANT_REJECTED("'users': [", "'users': {'x': 1}, 'unused': [", PRILLM_ERR_INVALID_DATA,
                            "\"users\"", "array");
}

static void test_empty_market(void **state) {
    (void)state;
    const char *no_providers = "{'weights': {'price': 1, 'congestion': 1, 'delay': 1}, 'providers': [],"
                               " 'users': [{'id': 'u', 'demand': 1}], 'delay': [[]]}";
    const char *no_users = "{'weights': {'price': 1, 'congestion': 1, 'delay': 1},"
                           " 'providers': [{'id': 'a', 'price': 1, 'capacity': 1, 'value': 1}],"
                           " 'users': [], 'delay': []}";
    char *a = json(no_providers), *b = json(no_users);
    EXPECT_REJECTED(a, PRILLM_ERR_INVALID_DATA, "empty market", "\"providers\"");
    EXPECT_REJECTED(b, PRILLM_ERR_INVALID_DATA, "empty market", "\"users\"");
    free(a);
    free(b);
    /* and through the API */
    PrillmError err;
    assert_null(prillm_market_alloc(0, 3, &err));
    assert_int_equal(err.code, PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "empty market"));
}

/* ---- JSON syntax -------------------------------------------------------- */

static void test_duplicate_json_key(void **state) {
    (void)state;
    /* cJSON would keep the first "price" and silently drop the second */
    EXPECT_VARIANT_REJECTED("'price': 1.5,", "'price': 1.5, 'price': 2.5,", PRILLM_ERR_PARSE, "providers[1]",
                            "duplicate key", "\"price\"");
    EXPECT_VARIANT_REJECTED("{'id': 'u2', 'demand': 10.0}", "{'id': 'u2', 'demand': 10.0, 'demand': 11.0}",
                            PRILLM_ERR_PARSE, "users[1]", "duplicate key", "\"demand\"");
    EXPECT_VARIANT_REJECTED("'delay': 0.5}", "'delay': 0.5, 'delay': 0.6}", PRILLM_ERR_PARSE, "weights",
                            "duplicate key");
    EXPECT_VARIANT_REJECTED("  'delay': [\n", "  'users': [],\n  'delay': [\n", PRILLM_ERR_PARSE, "market",
                            "duplicate key", "\"users\"");
}

static void test_malformed_json_position(void **state) {
    (void)state;
    /* a missing comma on line 3: the reader must point at the token that
     * follows, which a person can find in an editor */
    char *text = json("{\n"
                      "  'weights': {'price': 1.0, 'congestion': 0.8, 'delay': 0.5},\n"
                      "  'providers': [{'id': 'a' 'price': 0.3, 'capacity': 1, 'value': 1, 'latency': 1}],\n"
                      "  'users': [{'id': 'u', 'demand': 1}]\n"
                      "}\n");
    expect_malformed_at(text, strlen(text), "\"price\": 0.3", "malformed JSON");
    free(text);
    /* the same mistake deeper in the base market */
    text = variant("[0.7, 1.1, 1.7]", "[0.7 1.1, 1.7]");
    expect_malformed_at(text, strlen(text), "1.1, 1.7", NULL);
    free(text);
    /* an unterminated string runs to the end */
    text = variant("{'id': 'u2'", "{'id': 'u2");
    expect_rejected_n(text, strlen(text), PRILLM_ERR_PARSE, (const char *const[]){"line", "column", NULL});
    free(text);
}

static void test_trailing_garbage(void **state) {
    (void)state;
    char *base = json(base_template);
    size_t n = strlen(base);
    const char *tails[] = {"  x", "{}", "\n\n   ,", "]"};
    for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        char *text = malloc(n + strlen(tails[k]) + 1);
        assert_non_null(text);
        memcpy(text, base, n);
        strcpy(text + n, tails[k]);
        /* the first non-blank byte after the object */
        size_t at = n;
        while (text[at] == ' ' || text[at] == '\n') at++;
        char where[64];
        position_of(text, at, where, sizeof where);
        expect_rejected_n(text, strlen(text), PRILLM_ERR_PARSE, (const char *const[]){where, "after", NULL});
        free(text);
    }
    /* trailing blank space is fine */
    char *text = malloc(n + 8);
    assert_non_null(text);
    memcpy(text, base, n);
    strcpy(text + n, " \t\r\n\n ");
    Warnings w = {0};
    prillm_market_free(parse_ok(text, &w));
    free(text);
    free(base);
}

static void test_embedded_nul(void **state) {
    (void)state;
    /* a NUL byte would make a C-string parser stop early and accept a
     * truncated file if the cut happened to land at a valid place */
    char *base = json(base_template);
    size_t n = strlen(base);
    char *at = strstr(base, "\"congestion\"");
    assert_non_null(at);
    size_t offset = (size_t)(at - base);
    base[offset] = '\0';
    char where[64];
    position_of(base, offset, where, sizeof where);
    expect_rejected_n(base, n, PRILLM_ERR_PARSE, (const char *const[]){where, "NUL", NULL});
    /* NUL right after a complete object: the text before it is a valid market */
    free(base);
    base = json(base_template);
    char *padded = malloc(n + 2);
    assert_non_null(padded);
    memcpy(padded, base, n);
    padded[n] = '\0';
    padded[n + 1] = '\n';
    expect_rejected_n(padded, n + 2, PRILLM_ERR_PARSE, (const char *const[]){"NUL", NULL});
    free(padded);
    free(base);
    /* an escaped NUL in a string: cJSON decodes it into a NUL byte, so the
     * id "b\u0000evil" read as "b" (and "a\u0000x" as a duplicate of a) */
    static const char *const escaped[] = {"'id': 'b\\u0000evil'", "'id': 'a\\u0000x'", "'id': 'Kilo\\u0000 Code'"};
    for (int k = 0; k < 3; k++) {
        char *text = variant(k < 2 ? "'id': 'b'" : "'id': 'Kilo Code'", escaped[k]);
        const char *at = strstr(text, "\\u0000");
        assert_non_null(at);
        position_of(text, (size_t)(at - text), where, sizeof where);
        expect_rejected_n(text, strlen(text), PRILLM_ERR_PARSE,
                          (const char *const[]){where, "NUL character (\\u0000) in a string", NULL});
        free(text);
    }
    /* text after the market that holds \u0000 is text after it */
    char *market = json(base_template);
    size_t len = strlen(market);
    char *after = malloc(len + 16);
    assert_non_null(after);
    snprintf(after, len + 16, "%s \"\\u0000\"", market);
    expect_rejected_n(after, strlen(after), PRILLM_ERR_PARSE, (const char *const[]){"text after", NULL});
    free(after);
    free(market);
    /* an escaped backslash before the text u0000 is no NUL */
    char *text = variant("'id': 'b'", "'id': 'b\\\\u0000'");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_string_equal(mk->provider_id[1], "b\\u0000");
    prillm_market_free(mk);
    free(text);
}

static void test_empty_input(void **state) {
    (void)state;
    expect_rejected_n("", 0, PRILLM_ERR_PARSE, (const char *const[]){"line 1, column 1", "empty", NULL});
    /* length wins over content: a zero-length view of a valid market is empty */
    char *base = json(base_template);
    expect_rejected_n(base, 0, PRILLM_ERR_PARSE, (const char *const[]){"empty", NULL});
    free(base);
    expect_rejected_n(" \n\t ", 4, PRILLM_ERR_PARSE, (const char *const[]){"malformed JSON", NULL});
    /* NULL arguments are caller bugs, not bad input */
    PrillmMarket *mk = &sentinel_market;
    PrillmError err;
    assert_int_equal(prillm_market_parse_json(NULL, 0, NULL, NULL, &mk, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(mk);
    assert_int_equal(prillm_market_parse_json("{}", 2, NULL, NULL, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
}

static void test_root_not_object(void **state) {
    (void)state;
    const char *roots[] = {"[1, 2]", "42", "\"market\"", "null", "true"};
    for (size_t k = 0; k < sizeof roots / sizeof roots[0]; k++)
        EXPECT_REJECTED(roots[k], PRILLM_ERR_INVALID_DATA, "object");
}

/* ---- delay filled from latency ------------------------------------------ */

static void test_null_delay_filled_from_latency(void **state) {
    (void)state;
    char *text = variant("[0.7, 1.1, 1.7]", "[0.7, null, 1.7]");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_true(mk->delay[1 * 3 + 1] == mk->latency[1]);
    assert_true(mk->delay[1 * 3 + 1] == 0.9);
    assert_true(mk->delay[1 * 3 + 0] == 0.7); /* neighbours untouched */
    assert_true(mk->delay[0 * 3 + 1] == 0.9);
    assert_int_equal(w.count, 1);
    if (find_warning(&w, "1 delay", "latency") < 0) fail_msg("warning \"%s\" does not say what was filled", w.text[0]);
    prillm_market_free(mk);
    free(text);
    /* without a callback the same market still loads */
    text = variant("[0.7, 1.1, 1.7]", "[0.7, null, 1.7]");
    PrillmMarket *quiet = NULL;
    assert_int_equal(prillm_market_parse_json(text, strlen(text), NULL, NULL, &quiet, NULL), PRILLM_OK);
    prillm_market_free(quiet);
    free(text);
}

static void test_null_delay_without_latency(void **state) {
    (void)state;
    EXPECT_VARIANT_REJECTED("[0.7, 1.1, 1.7]", "[0.7, 1.1, null]", PRILLM_ERR_INVALID_DATA, "delay[1][2]",
                            "providers[2].latency");
}

static void test_missing_delay_with_all_latencies(void **state) {
    (void)state;
    char *with_latency = variant("'value': 1.2}", "'value': 1.2, 'latency': 2.5}");
    /* drop the whole "delay" member (and the comma before it) */
    char *cut = strstr(with_latency, ",\n  \"delay\"");
    assert_non_null(cut);
    strcpy(cut, "\n}\n");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(with_latency, &w);
    for (int i = 0; i < mk->n_users; i++)
        for (int j = 0; j < mk->n_providers; j++) assert_true(mk->delay[i * mk->n_providers + j] == mk->latency[j]);
    assert_true(mk->delay[1 * 3 + 2] == 2.5);
    assert_true(find_warning(&w, "6 delay", "latency") >= 0);
    prillm_market_free(mk);
    free(with_latency);
}

static void test_missing_delay_without_latency(void **state) {
    (void)state;
    char *text = json(base_template);
    char *cut = strstr(text, ",\n  \"delay\"");
    assert_non_null(cut);
    strcpy(cut, "\n}\n");
    EXPECT_REJECTED(text, PRILLM_ERR_INVALID_DATA, "\"delay\" is missing", "providers[2].latency");
    free(text);
}

/* ---- unknown keys and unusual but valid data ----------------------------- */

static void test_unknown_keys_warn(void **state) {
    (void)state;
    /* one unknown key at each level of the format */
    char *a = variant("'value': 3.0,", "'value': 3.0, 'colour': 'red',");
    char *b = replace_once(a, "'weights': {", "'comment': 'hand-made', 'weights': {");
    char *c = replace_once(b, "'demand': 740.0}", "'demand': 740.0, 'plan': 1}");
    char *text = replace_once(c, "'delay': 0.5}", "'delay': 0.5, 'risk': 0.1}");
    free(a);
    free(b);
    free(c);
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_int_equal(w.count, 4);
    if (find_warning(&w, "providers[1]", "\"colour\"") < 0) fail_msg("no warning names providers[1] and \"colour\"");
    if (find_warning(&w, "market", "\"comment\"") < 0) fail_msg("no warning names the top-level \"comment\"");
    if (find_warning(&w, "users[0]", "\"plan\"") < 0) fail_msg("no warning names users[0] and \"plan\"");
    if (find_warning(&w, "weights", "\"risk\"") < 0) fail_msg("no warning names weights and \"risk\"");
    /* the known fields around the unknown ones still load */
    assert_true(mk->value[1] == 3.0);
    assert_true(mk->demand[0] == 740.0);
    assert_true(mk->w_delay == 0.5);
    prillm_market_free(mk);
    free(text);
}

static void test_zero_demand_user(void **state) {
    (void)state;
    char *text = variant("'demand': 10.0", "'demand': 0");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_true(mk->demand[1] == 0.0);
    /* a user without demand is part of a solvable market: it sends nothing */
    PrillmEquilibriumSolver *solver = NULL;
    PrillmError err;
    assert_int_equal(prillm_equilibrium_setup(&solver, mk, NULL, &err), PRILLM_OK);
    assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
    double sum0 = 0;
    for (int j = 0; j < 3; j++) {
        assert_true(eq->flows[1 * 3 + j] == 0.0);
        sum0 += eq->flows[0 * 3 + j];
    }
    assert_true(fabs(sum0 - 740.0) <= 1e-9 * 740.0);
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(mk);
    free(text);
}

/* ---- writing and reading back -------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
    /* splitmix64: fixed seeds give the same numbers everywhere */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Any finite double, sign and exponent included. */
static double random_finite(uint64_t *s) {
    for (;;) {
        uint64_t bits = rng_next(s);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (isfinite(x)) return x;
    }
}

static char *slurp(FILE *f, size_t *length) {
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    *length = (size_t)n;
    return text;
}

static void assert_same_bits(double a, double b, const char *what, int index) {
    if (isnan(a) && isnan(b)) return; /* absent optional fields */
    if (memcmp(&a, &b, sizeof a) != 0) fail_msg("%s[%d]: wrote %.17g, read back %.17g", what, index, a, b);
}

static void assert_markets_identical(const PrillmMarket *a, const PrillmMarket *b) {
    assert_int_equal(a->n_users, b->n_users);
    assert_int_equal(a->n_providers, b->n_providers);
    assert_same_bits(a->w_price, b->w_price, "w_price", 0);
    assert_same_bits(a->w_congestion, b->w_congestion, "w_congestion", 0);
    assert_same_bits(a->w_delay, b->w_delay, "w_delay", 0);
    for (int j = 0; j < a->n_providers; j++) {
        assert_string_equal(a->provider_id[j], b->provider_id[j]);
        assert_same_bits(a->price[j], b->price[j], "price", j);
        assert_same_bits(a->capacity[j], b->capacity[j], "capacity", j);
        assert_same_bits(a->value[j], b->value[j], "value", j);
        assert_same_bits(a->cost[j], b->cost[j], "cost", j);
        assert_same_bits(a->latency[j], b->latency[j], "latency", j);
        assert_int_equal(isnan(a->cost[j]), isnan(b->cost[j]));
        assert_int_equal(isnan(a->latency[j]), isnan(b->latency[j]));
    }
    for (int i = 0; i < a->n_users; i++) {
        assert_string_equal(a->user_id[i], b->user_id[i]);
        assert_same_bits(a->demand[i], b->demand[i], "demand", i);
    }
    for (int k = 0; k < a->n_users * a->n_providers; k++) {
        assert_false(isnan(b->delay[k]));
        assert_same_bits(a->delay[k], b->delay[k], "delay", k);
        /* -0.0 is "no taste" and may come back as 0.0 when it is the only
         * kind of affinity the market has (nothing is written then) */
        if (a->affinity[k] == 0.0) assert_true(b->affinity[k] == 0.0);
        else assert_same_bits(a->affinity[k], b->affinity[k], "affinity", k);
    }
}

static PrillmMarket *round_trip(const PrillmMarket *mk) {
    FILE *f = tmpfile();
    assert_non_null(f);
    PrillmError err;
    assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
    size_t length;
    char *text = slurp(f, &length);
    fclose(f);
    Warnings w = {0};
    PrillmMarket *back = NULL;
    PrillmErrorCode rc = prillm_market_parse_json(text, length, collect_warning, &w, &back, &err);
    if (rc) fail_msg("written market does not read back (%s): %s", prillm_error_name(rc), err.message);
    /* the writer's output is complete: nothing to fill, nothing unknown */
    if (w.count) fail_msg("reading back warned: %s", w.text[0]);
    free(text);
    return back;
}

static void test_round_trip_random_markets(void **state) {
    (void)state;
    const int shapes[][2] = {{1, 1}, {3, 5}, {17, 4}, {40, 40}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(shapes[s][0], shapes[s][1], 100 + s, &err);
        assert_non_null(mk);
        PrillmMarket *back = round_trip(mk);
        assert_markets_identical(mk, back);
        prillm_market_free(back);
        prillm_market_free(mk);
    }
}

/* Scale by powers of two (exact: the mantissa bits survive) into the
 * magnitudes a market may hold, |x| <= 1e100. */
static double within_limits(double x) {
    while (fabs(x) > PRILLM_MAX_MAGNITUDE) x *= 0x1p-300;
    return x;
}

static void test_round_trip_extreme_numbers(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(6, 9, 7, &err);
    assert_non_null(mk);
    uint64_t seed = 12345;
    /* Any finite bit pattern, scaled down just enough that the derived cost
     * w_price * price + w_delay * delay - value cannot overflow (validation
     * rejects that); subnormals and odd mantissas survive the scaling. */
    for (int j = 0; j < mk->n_providers; j++) {
        mk->price[j] = within_limits(random_finite(&seed));
        mk->value[j] = within_limits(random_finite(&seed));
        mk->cost[j] = j % 3 == 0 ? NAN : within_limits(random_finite(&seed));
    }
    mk->latency[4] = NAN; /* delay is complete, so latency may be absent */
    mk->price[0] = 0.1;
    mk->price[1] = 1.0 / 3.0;
    mk->value[0] = -0.0;
    mk->value[1] = -PRILLM_MAX_MAGNITUDE;
    /* congestion slopes w_congestion / capacity must stay normal doubles */
    mk->capacity[0] = 1e-100;
    mk->capacity[1] = 1e-149; /* slope 1e-50 / 1e-149 = 1e99, in range */
    mk->capacity[2] = 0x1.fffffffffffffp-300;
    mk->demand[0] = 0.0;
    mk->demand[1] = DBL_MIN;
    mk->demand[2] = 1e100;
    mk->demand[3] = 123456789.12345679;
    mk->delay[5] = 0.0;
    mk->delay[6] = 5e-324;
    mk->delay[7] = 1e100;
    mk->w_price = 0.1 + 0.2;
    mk->w_congestion = 1e-50;
    mk->w_delay = 0.0;
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    PrillmMarket *back = round_trip(mk);
    assert_markets_identical(mk, back);
    prillm_market_free(back);
    prillm_market_free(mk);
}

static void test_round_trip_awkward_ids(void **state) {
    (void)state;
    const char *pids[] = {"quote\"d", "back\\slash\\", "new\nline", "tab\tand\rcr", "ctl\x01\x1f\x7f",
                          "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "rocket \xf0\x9f\x9a\x80", "comma,semi;\"q\"",
                          "</script>\\u0041"};
    const int m = (int)(sizeof pids / sizeof pids[0]);
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(3, m, 11, &err);
    assert_non_null(mk);
    for (int j = 0; j < m; j++) {
        free(mk->provider_id[j]);
        mk->provider_id[j] = dup_text(pids[j]);
    }
    free(mk->user_id[0]);
    mk->user_id[0] = dup_text("Kilo Code");
    free(mk->user_id[1]);
    char long_id[2001];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    mk->user_id[1] = dup_text(long_id);
    free(mk->user_id[2]);
    mk->user_id[2] = dup_text("{\"json\": [\"in\", \"an\", \"id\"]}");
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    PrillmMarket *back = round_trip(mk);
    assert_markets_identical(mk, back);
    prillm_market_free(back);
    prillm_market_free(mk);
}

/* ---- affinity ------------------------------------------------------------ */

/* The base market with an affinity matrix after the delays. */
static char *with_affinity(const char *rows) {
    char to[512];
    snprintf(to, sizeof to, "    [0.7, 1.1, 1.7]\n  ],\n  'affinity': %s\n", rows);
    return variant("    [0.7, 1.1, 1.7]\n  ]\n", to);
}

#define EXPECT_AFFINITY_REJECTED(rows, ...)                            \
    do {                                                               \
        char *text_ = with_affinity(rows);                             \
        EXPECT_REJECTED(text_, PRILLM_ERR_INVALID_DATA, __VA_ARGS__);  \
        free(text_);                                                   \
    } while (0)

static void test_affinity_is_read(void **state) {
    (void)state;
    char *text = with_affinity("[[0.25, 0, -1.5], [1e-3, 2, 0]]");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_int_equal(w.count, 0);
    assert_true(mk->affinity[0 * 3 + 0] == 0.25);
    assert_true(mk->affinity[0 * 3 + 2] == -1.5);
    assert_true(mk->affinity[1 * 3 + 0] == 1e-3);
    assert_true(mk->affinity[1 * 3 + 1] == 2.0);
    assert_true(mk->affinity[1 * 3 + 2] == 0.0);
    prillm_market_free(mk);
    free(text);
    /* absent: every app indifferent */
    text = json(base_template);
    mk = parse_ok(text, &w);
    for (int k = 0; k < 6; k++) assert_true(mk->affinity[k] == 0.0);
    prillm_market_free(mk);
    free(text);
}

static void test_affinity_malformed(void **state) {
    (void)state;
    /* shape */
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0]]", "\"affinity\"", "1 rows", "2 users");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], [0, 0, 0], [0, 0, 0]]", "\"affinity\"", "3 rows", "2 users");
    EXPECT_AFFINITY_REJECTED("[]", "\"affinity\"", "0 rows", "2 users");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], [0, 0]]", "affinity[1]", "2 entries", "3 providers");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0, 0], [0, 0, 0]]", "affinity[0]", "4 entries", "3 providers");
    EXPECT_AFFINITY_REJECTED("[[], [0, 0, 0]]", "affinity[0]", "0 entries", "3 providers");
    /* types */
    EXPECT_AFFINITY_REJECTED("3", "\"affinity\"", "array");
    EXPECT_AFFINITY_REJECTED("{'a': [0, 0, 0]}", "\"affinity\"", "array");
    EXPECT_AFFINITY_REJECTED("null", "\"affinity\"", "array");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], {'b': 1}]", "affinity[1]", "array");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], 7]", "affinity[1]", "array");
    EXPECT_AFFINITY_REJECTED("[[0, '0.5', 0], [0, 0, 0]]", "affinity[0][1]", "number");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], [0, 0, 'NaN']]", "affinity[1][2]", "number");
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], [0, null, 0]]", "affinity[1][1]", "number");
    EXPECT_AFFINITY_REJECTED("[[0, 0, true], [0, 0, 0]]", "affinity[0][2]", "number");
    EXPECT_AFFINITY_REJECTED("[[0, [1], 0], [0, 0, 0]]", "affinity[0][1]", "number");
    /* values */
    EXPECT_AFFINITY_REJECTED("[[0, 0, 0], [0, 0, 1e999]]", "affinity[1][2] (user 1, provider 2)", "finite",
                             "Infinity");
    EXPECT_AFFINITY_REJECTED("[[-1e999, 0, 0], [0, 0, 0]]", "affinity[0][0] (user 0, provider 0)", "finite",
                             "-Infinity");
    EXPECT_AFFINITY_REJECTED("[[0, 2e100, 0], [0, 0, 0]]", "affinity[0][1] (user 0, provider 1)", "1e100");
    /* NaN, which JSON cannot spell, through the API: both indices named */
    PrillmMarket *mk = api_market();
    mk->affinity[1 * 3 + 0] = NAN;
    expect_invalid(mk, "affinity[1][0] (user 1, provider 0)", "NaN");
    mk->affinity[1 * 3 + 0] = -INFINITY;
    expect_invalid(mk, "affinity[1][0]", "-Infinity");
    mk->affinity[1 * 3 + 0] = -3.0; /* negative tastes are fine */
    assert_int_equal(prillm_market_validate(mk, NULL), PRILLM_OK);
    prillm_market_free(mk);
}

/* The calibrator's metadata rides along without a warning and is not read. */
static void test_calibration_key_is_silent(void **state) {
    (void)state;
    char *text = variant("'weights': {", "'calibration': {'method': 'lp', 'r2': 0.9, 'rows': [1, 2]}, 'weights': {");
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_int_equal(w.count, 0);
    prillm_market_free(mk);
    free(text);
    /* next to an unknown key, only the unknown key warns */
    text = variant("'weights': {", "'calibration': 'any', 'comment': 'x', 'weights': {");
    memset(&w, 0, sizeof w);
    mk = parse_ok(text, &w);
    assert_int_equal(w.count, 1);
    assert_true(find_warning(&w, "\"comment\"", NULL) >= 0);
    prillm_market_free(mk);
    free(text);
}

static char *write_text(const PrillmMarket *mk) {
    FILE *f = tmpfile();
    assert_non_null(f);
    PrillmError err;
    assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
    size_t length;
    char *text = slurp(f, &length);
    fclose(f);
    return text;
}

static void test_affinity_round_trip(void **state) {
    (void)state;
    uint64_t seed = 987;
    const int shapes[][2] = {{1, 1}, {3, 5}, {17, 4}, {40, 40}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(shapes[s][0], shapes[s][1], 300 + s, &err);
        assert_non_null(mk);
        /* without affinities nothing is written, and a second pass gives
         * the same bytes: existing files are untouched */
        char *plain = write_text(mk);
        assert_null(strstr(plain, "affinity"));
        PrillmMarket *back = round_trip(mk);
        char *again = write_text(back);
        assert_string_equal(plain, again);
        prillm_market_free(back);
        free(plain);
        free(again);
        /* with them: ordinary tastes, then any finite bit pattern within
         * limits, zeros and negative zeros mixed in */
        int n = mk->n_users, m = mk->n_providers;
        for (int k = 0; k < n * m; k++) {
            uint64_t pick = rng_next(&seed) % 4;
            mk->affinity[k] = pick == 0   ? 0.0
                              : pick == 1 ? (double)(int64_t)(rng_next(&seed) % 2001 - 1000) / 997.0
                              : pick == 2 ? -0.0
                                          : within_limits(random_finite(&seed)) * 1e-200;
        }
        mk->affinity[0] = 0.5; /* at least one non-zero */
        assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
        char *text = write_text(mk);
        assert_non_null(strstr(text, "\"affinity\""));
        back = round_trip(mk);
        assert_markets_identical(mk, back);
        again = write_text(back);
        assert_string_equal(text, again);
        prillm_market_free(back);
        free(text);
        free(again);
        prillm_market_free(mk);
    }
    /* only negative zeros: nothing to write, reads back as zeros */
    PrillmMarket *mk = api_market();
    for (int k = 0; k < 6; k++) mk->affinity[k] = -0.0;
    char *text = write_text(mk);
    assert_null(strstr(text, "affinity"));
    PrillmMarket *back = round_trip(mk);
    assert_markets_identical(mk, back);
    prillm_market_free(back);
    prillm_market_free(mk);
    free(text);
}

static void test_read_json_from_file(void **state) {
    (void)state;
    PrillmError err;
    /* big enough that the reader has to grow its buffer several times */
    PrillmMarket *mk = prillm_market_random(150, 100, 5, &err);
    assert_non_null(mk);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
    assert_true(ftell(f) > 4 * 65536); /* the reader starts at 64 KiB */
    rewind(f);
    PrillmMarket *back = &sentinel_market;
    Warnings w = {0};
    assert_int_equal(prillm_market_read_json(f, collect_warning, &w, &back, &err), PRILLM_OK);
    assert_non_null(back);
    assert_markets_identical(mk, back);
    prillm_market_free(back);
    fclose(f);
    prillm_market_free(mk);

    /* errors come through the stream reader with the same details */
    f = tmpfile();
    assert_non_null(f);
    char *bad = variant("'capacity': 80.0", "'capacity': -80.0");
    fputs(bad, f);
    free(bad);
    rewind(f);
    back = &sentinel_market;
    assert_int_equal(prillm_market_read_json(f, NULL, NULL, &back, &err), PRILLM_ERR_INVALID_DATA);
    assert_null(back);
    assert_non_null(strstr(err.message, "providers[1].capacity"));
    fclose(f);

    /* an empty file */
    f = tmpfile();
    assert_non_null(f);
    back = &sentinel_market;
    assert_int_equal(prillm_market_read_json(f, NULL, NULL, &back, &err), PRILLM_ERR_PARSE);
    assert_null(back);
    assert_non_null(strstr(err.message, "empty"));
    fclose(f);

    back = &sentinel_market;
    assert_int_equal(prillm_market_read_json(NULL, NULL, NULL, &back, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_null(back);
}

/* ---- issue 12: input edge cases ------------------------------------------ */

/* Ids are copied into every output, which must stay UTF-8: bytes that are
 * not are refused where they are read, naming the field. */
static void test_ids_must_be_utf8(void **state) {
    (void)state;
    static const struct {
        const char *bytes, *what;
    } bad[] = {
        {"\xff", "a byte that never occurs"},
        {"\xc3", "a sequence cut short"},
        {"\xc0\xaf", "an overlong '/'"},
        {"\xed\xa0\x80", "a UTF-16 surrogate"},
        {"\xf4\x90\x80\x80", "above U+10FFFF"},
        {"\x80", "a lone continuation byte"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char id[64];
        snprintf(id, sizeof id, "{'id': 'c%s'", bad[k].bytes);
        char *text = variant("{'id': 'c'", id);
        PrillmMarket *mk = &sentinel_market;
        PrillmError err;
        PrillmErrorCode rc = prillm_market_parse_json(text, strlen(text), NULL, NULL, &mk, &err);
        if (rc != PRILLM_ERR_INVALID_DATA || !strstr(err.message, "providers[2].id is not valid UTF-8"))
            fail_msg("%s: %s \"%s\"", bad[k].what, prillm_error_name(rc), err.message);
        assert_null(mk);
        free(text);
        snprintf(id, sizeof id, "{'id': 'u2%s'", bad[k].bytes);
        text = variant("{'id': 'u2'", id);
        EXPECT_REJECTED(text, PRILLM_ERR_INVALID_DATA, "users[1].id is not valid UTF-8");
        free(text);
    }
    /* a key too (keys are echoed in warnings) */
    EXPECT_VARIANT_REJECTED("'demand': 10.0}", "'demand': 10.0, 'x\xfe': 1}", PRILLM_ERR_INVALID_DATA,
                            "users[1] has a key that is not valid UTF-8");
    /* real text in any script reads and writes back as it was */
    const char *fine = "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x9a\x80 \xe4\xb8\xad\xe6\x96\x87";
    char id[128];
    snprintf(id, sizeof id, "{'id': '%s'", fine);
    char *text = variant("{'id': 'u2'", id);
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_string_equal(mk->user_id[1], fine);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(prillm_market_write_json(mk, f, NULL), PRILLM_OK);
    rewind(f);
    PrillmMarket *back = NULL;
    assert_int_equal(prillm_market_read_json(f, NULL, NULL, &back, NULL), PRILLM_OK);
    assert_string_equal(back->user_id[1], fine);
    fclose(f);
    prillm_market_free(back);
    prillm_market_free(mk);
    free(text);
}

/* What the writer emits is UTF-8 whatever a market built through the API
 * holds: a byte that is not part of a valid sequence becomes U+FFFD. */
static void test_writer_never_emits_bad_utf8(void **state) {
    (void)state;
    char *text = json(base_template);
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    free(text);
    free(mk->provider_id[0]);
    mk->provider_id[0] = dup_text("bad\xff\xc3(\xed\xa0\x80)\xe2\x82 \xc3\xa9t\xc3\xa9");
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    assert_int_equal(prillm_market_write_json(mk, f, NULL), PRILLM_OK);
    fclose(f);
    assert_int_equal(prillm__utf8_invalid_at(buf, size), size);
    assert_non_null(strstr(buf, "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd)\\ufffd\\ufffd \xc3\xa9t\xc3\xa9\""));
    /* and it reads back (the replacement is text) */
    PrillmMarket *back = NULL;
    assert_int_equal(prillm_market_parse_json(buf, size, NULL, NULL, &back, NULL), PRILLM_OK);
    assert_string_equal(back->provider_id[0], "bad\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd)"
                                              "\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9t\xc3\xa9");
    prillm_market_free(back);
    free(buf);
    prillm_market_free(mk);
}

/* Editors on Windows start files with a byte order mark. */
static void test_byte_order_mark_is_skipped(void **state) {
    (void)state;
    char *base = json(base_template);
    size_t n = strlen(base);
    char *text = malloc(n + 4);
    assert_non_null(text);
    memcpy(text, "\xef\xbb\xbf", 3);
    memcpy(text + 3, base, n + 1);
    Warnings w = {0};
    PrillmMarket *mk = parse_ok(text, &w);
    assert_int_equal(w.count, 0);
    assert_int_equal(mk->n_providers, 3);
    prillm_market_free(mk);
    /* positions in errors count from after the mark */
    text[3] = '?';
    expect_rejected_n(text, n + 3, PRILLM_ERR_PARSE, (const char *const[]){"line 1, column 1", NULL});
    /* only one mark, only at the start */
    memcpy(text, "\xef\xbb\xbf", 3);
    memcpy(text + 3, base, n + 1);
    char *twice = malloc(n + 7);
    assert_non_null(twice);
    memcpy(twice, "\xef\xbb\xbf", 3);
    memcpy(twice + 3, text, n + 4);
    expect_rejected_n(twice, n + 6, PRILLM_ERR_PARSE, (const char *const[]){"malformed JSON", NULL});
    free(twice);
    free(text);
    free(base);
}

/* {"x": [[...]]}: levels of nesting in all, the object included. */
static char *nested(int levels, size_t *length) {
    char *text = malloc(2 * (size_t)levels + 16);
    assert_non_null(text);
    size_t k = (size_t)sprintf(text, "{\"x\": ");
    for (int d = 1; d < levels; d++) text[k++] = '[';
    for (int d = 1; d < levels; d++) text[k++] = ']';
    text[k++] = '}';
    text[k] = '\0';
    *length = k;
    return text;
}

/* Past the parser's depth limit the message says so, for any reader. */
static void test_nesting_limit_is_named(void **state) {
    (void)state;
    size_t k;
    char *text = nested(CJSON_NESTING_LIMIT + 1, &k);
    char where[64], limit[64];
    /* the array that opens level LIMIT + 1 */
    snprintf(where, sizeof where, "line 1, column %d", 6 + CJSON_NESTING_LIMIT);
    snprintf(limit, sizeof limit, "nesting deeper than %d levels", CJSON_NESTING_LIMIT);
    expect_rejected_n(text, k, PRILLM_ERR_PARSE, (const char *const[]){where, limit, NULL});
    free(text);
    /* at the limit itself: parsed, then refused for what it is */
    text = nested(CJSON_NESTING_LIMIT, &k);
    PrillmMarket *mk = &sentinel_market;
    PrillmError err;
    assert_int_equal(prillm_market_parse_json(text, k, NULL, NULL, &mk, &err), PRILLM_ERR_INVALID_DATA);
    assert_null(strstr(err.message, "nesting"));
    free(text);
    /* brackets inside strings do not count */
    char *quoted = malloc(2 * CJSON_NESTING_LIMIT + 64);
    assert_non_null(quoted);
    k = (size_t)sprintf(quoted, "{\"x\": \"");
    for (int d = 0; d < 2 * CJSON_NESTING_LIMIT; d++) quoted[k++] = '[';
    k += (size_t)sprintf(quoted + k, "\", ");
    assert_int_equal(prillm_market_parse_json(quoted, k, NULL, NULL, &mk, &err), PRILLM_ERR_PARSE);
    assert_null(strstr(err.message, "nesting"));
    free(quoted);
    /* the other readers share the parser, and the message */
    text = nested(CJSON_NESTING_LIMIT + 1, &k);
    PrillmAggregator *model = (PrillmAggregator *)&sentinel_market;
    assert_int_equal(prillm_aggregator_parse_json(text, k, &model, &err), PRILLM_ERR_PARSE);
    assert_null(model);
    assert_non_null(strstr(err.message, limit));
    free(text);
}

/* Input is capped (PRILLM_MAX_INPUT_BYTES): a stream that never ends gets an
 * error, not all the memory. The limit is lowered here to be testable. */
static void test_input_size_limit(void **state) {
    (void)state;
    assert_true(PRILLM_MAX_INPUT_BYTES == (size_t)1 << 30);
    char *text;
    size_t length;
    PrillmError err;
    /* a regular file: refused from its size, exactly the limit is fine */
    FILE *f = tmpfile();
    assert_non_null(f);
    for (int k = 0; k < 101; k++) fputc('x', f);
    rewind(f);
    assert_int_equal(prillm__read_stream_limited(f, "the test file", NULL, 100, &text, &length, &err), PRILLM_ERR_PARSE);
    assert_null(text);
    assert_non_null(strstr(err.message, "input exceeds the 100-byte limit"));
    assert_non_null(strstr(err.message, "the test file"));
    rewind(f);
    assert_int_equal(prillm__read_stream_limited(f, "the test file", NULL, 101, &text, &length, &err), PRILLM_OK);
    assert_int_equal(length, 101);
    free(text);
    fclose(f);
    /* a pipe (no size up front): read until one byte past the limit */
    for (size_t limit = 1; limit <= 200000; limit *= 7) {
        for (size_t total = limit - 1; total <= limit + 1; total++) {
            if (total == (size_t)-1) continue;
            char command[128];
            snprintf(command, sizeof command, "head -c %zu /dev/zero | tr '\\\\0' x", total);
            FILE *p = popen(command, "r");
            assert_non_null(p);
            PrillmErrorCode rc = prillm__read_stream_limited(p, "a pipe", NULL, limit, &text, &length, &err);
            pclose(p);
            if (total > limit) {
                if (rc != PRILLM_ERR_PARSE) fail_msg("%zu bytes, limit %zu: %s", total, limit, prillm_error_name(rc));
                assert_null(text);
            } else {
                if (rc != PRILLM_OK) fail_msg("%zu bytes, limit %zu: %s", total, limit, err.message);
                assert_int_equal(length, total);
                assert_int_equal(text[length], '\0');
                free(text);
            }
        }
    }
    /* the real limit on a sparse file just over it: refused at once */
    char path[] = "/tmp/prillm_test_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)PRILLM_MAX_INPUT_BYTES + 1), 0);
    close(fd);
    f = fopen(path, "rb");
    assert_non_null(f);
    PrillmMarket *mk = &sentinel_market;
    assert_int_equal(prillm_market_read_json(f, NULL, NULL, &mk, &err), PRILLM_ERR_PARSE);
    assert_null(mk);
    assert_non_null(strstr(err.message, "input exceeds the 1 GiB limit"));
    fclose(f);
    PrillmCsvTable table;
    assert_int_equal(prillm__csv_read(path, &table, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "input exceeds the 1 GiB limit"));
    unlink(path);
}

/* A regular file is read into one buffer of its size (known up front):
 * every byte, from wherever the stream stands, NUL-terminated; and the
 * large-array allocations (huge pages asked for from 2 MiB) are ordinary
 * memory: zeroed by calloc, kept by realloc, refused on overflow. */
static void test_regular_file_read_whole(void **state) {
    (void)state;
    const size_t sizes[] = {0, 1, 2, 4095, 65536, 65537, ((size_t)3 << 20) + 5};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        unsigned char *bytes = malloc(size + 1);
        assert_non_null(bytes);
        for (size_t k = 0; k < size; k++) bytes[k] = (unsigned char)(1 + (k * 2654435761u >> 13) % 255);
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, size, f), size);
        /* from the start, from the middle, after a byte pushed back */
        for (int from = 0; from < 3; from++) {
            size_t at = from == 0 ? 0 : size / 2;
            assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
            if (from == 2 && size > 0) {
                assert_int_equal(fgetc(f), bytes[at]);
                assert_int_equal(ungetc(bytes[at], f), bytes[at]);
            }
            char *text = NULL;
            size_t length = 0;
            PrillmError err;
            assert_int_equal(prillm__read_stream_limited(f, "the test file", NULL, size + 1, &text, &length, &err),
                             PRILLM_OK);
            if (length != size - at) fail_msg("%zu bytes from %zu: read %zu", size, at, length);
            assert_memory_equal(text, bytes + at, length);
            assert_int_equal(text[length], '\0');
            free(text);
        }
        fclose(f);
        free(bytes);
    }
    /* a stream past the end of its file: nothing left, under any limit */
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs("0123456789\n", f);
    assert_int_equal(fseek(f, 100, SEEK_SET), 0);
    char *text = NULL;
    size_t length = 1;
    PrillmError err;
    assert_int_equal(prillm__read_stream_limited(f, "the test file", NULL, 5, &text, &length, &err), PRILLM_OK);
    assert_int_equal(length, 0);
    free(text);
    fclose(f);
    /* the allocations */
    size_t big = ((size_t)5 << 20) + 3;
    unsigned char *zeros = prillm__calloc(big, 1);
    assert_non_null(zeros);
    for (size_t k = 0; k < big; k += 4093) assert_int_equal(zeros[k], 0);
    assert_int_equal(zeros[big - 1], 0);
    memset(zeros, 7, big);
    unsigned char *grown = prillm__realloc_array(zeros, 3, big);
    assert_non_null(grown);
    for (size_t k = 0; k < big; k += 4093) assert_int_equal(grown[k], 7);
    assert_int_equal(grown[big - 1], 7);
    free(grown);
    double *array = prillm__malloc_array(big, sizeof(double));
    assert_non_null(array);
    array[0] = array[big - 1] = 1.5;
    assert_true(array[0] + array[big - 1] == 3.0);
    free(array);
    assert_null(prillm__calloc(SIZE_MAX / 2, 3));
    assert_null(prillm__malloc_array(SIZE_MAX / 2, 3));
    void *kept = malloc(8);
    assert_non_null(kept);
    assert_null(prillm__realloc_array(kept, SIZE_MAX / 2, 3)); /* kept is left as it was */
    free(kept);
}

/* The VmFlags of the mapping holding address p in /proc/self/smaps ("" if
 * not found). */
static void mapping_flags(const void *p, char *flags, size_t size) {
    flags[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return;
    char line[512];
    int inside = 0;
    uintptr_t at = (uintptr_t)p;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = at >= lo && at < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, size, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

/* Arrays of 2 MiB and more are asked for in huge pages (the "hg" flag of
 * their mapping), and none with PRILLM_HUGE_PAGES=0. Checked on arrays of
 * 40 MiB, above glibc's largest mmap threshold (32 MiB), so each is a
 * fresh mapping of its own: a smaller one can come from heap memory that
 * an earlier array's advice still covers. Where the kernel has no
 * transparent huge pages the flag cannot be set: said, not failed. */
static void test_large_arrays_advised(void **state) {
    (void)state;
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char mode[128] = "";
    if (thp) {
        if (!fgets(mode, sizeof mode, thp)) mode[0] = '\0';
        fclose(thp);
    }
    if (!strstr(mode, "[madvise]") && !strstr(mode, "[always]")) {
        print_message("transparent huge pages off or absent here (%s): not checked\n", mode);
        return;
    }
    char flags[512];
    size_t big = (size_t)40 << 20;
    unsigned char *a = prillm__malloc_array(big, 1);
    assert_non_null(a);
    mapping_flags(a + big / 2, flags, sizeof flags);
    if (!strstr(flags, " hg")) fail_msg("a 40 MiB array's mapping has flags%s without hg", flags);
    free(a);
    assert_int_equal(setenv("PRILLM_HUGE_PAGES", "0", 1), 0);
    a = prillm__calloc(big, 1);
    assert_non_null(a);
    mapping_flags(a + big / 2, flags, sizeof flags);
    if (strstr(flags, " hg")) fail_msg("PRILLM_HUGE_PAGES=0, yet a 40 MiB array was advised: %s", flags);
    free(a);
    assert_int_equal(unsetenv("PRILLM_HUGE_PAGES"), 0);
}

/* The CSV reader: the same limit, after decompression (a gzip bomb), and a
 * byte order mark, NUL bytes and bytes that are not UTF-8 in fields. */
static void write_file(const char *path, const char *text, size_t length) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, length, f), length);
    fclose(f);
}

/* Write length bytes of text to path: prillm__csv_read must refuse them
 * (PRILLM_ERR_PARSE) with a message that contains expected. */
static void expect_csv_refused(const char *path, const char *text, size_t length, const char *expected) {
    PrillmCsvTable t;
    PrillmError err;
    write_file(path, text, length);
    assert_int_equal(prillm__csv_read(path, &t, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, expected));
}

static void test_csv_reader_edge_cases(void **state) {
    (void)state;
    char dir[] = "/tmp/prillm_test_csv_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], gz[256];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    snprintf(gz, sizeof gz, "%s/t.csv.gz", dir);
    PrillmCsvTable t;
    PrillmError err;
    const char good[] = "app,tokens\nx,12\n";
    size_t n = sizeof good - 1;
    /* the limit, plain and inflated */
    write_file(path, good, n);
    assert_int_equal(prillm__csv_read_limited(path, n, &t, &err), PRILLM_OK);
    prillm__csv_free(&t);
    assert_int_equal(prillm__csv_read_limited(path, n - 1, &t, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "input exceeds"));
    gzFile z = gzopen(gz, "wb9");
    assert_non_null(z);
    gzputs(z, "app,tokens\n");
    for (int k = 0; k < 200000; k++) gzputs(z, "x,1\n"); /* 800 kB from a few kB */
    gzclose(z);
    assert_int_equal(prillm__csv_read_limited(gz, 100000, &t, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "input exceeds the 100000-byte limit"));
    assert_int_equal(prillm__csv_read_limited(gz, 1 << 20, &t, &err), PRILLM_OK);
    assert_int_equal(t.rows, 200000);
    prillm__csv_free(&t);
    /* a row's own field count: one too many or too few is named as such, and
     * a row with twice the header's fields is not read as two rows */
    static const char five[] = "a,b,c,d\n1,2,3,4\n1,2,3,4,5\n", eight[] = "a,b,c,d\n1,2,3,4\n1,2,3,4,5,6,7,8\n",
                      three[] = "a,b,c,d\n1,2,3\n1,2,3,4,5\n";
    expect_csv_refused(path, five, sizeof five - 1, "t.csv line 3: 5 fields, the header has 4");
    expect_csv_refused(path, eight, sizeof eight - 1, "t.csv line 3: 8 fields, the header has 4");
    expect_csv_refused(path, three, sizeof three - 1, "t.csv line 2: 3 fields, the header has 4");
    /* a last row ending in a comma, with no newline: its empty last field
     * counts (the row was dropped, or its extra fields passed) */
    static const char last_short[] = "a,b,c\n1,2,3\n4,5", last_long[] = "a,b,c\n1,2,3\n4,5,6,7,",
                      last_empty[] = "a,b,c\n1,2,3\n4,5,";
    expect_csv_refused(path, last_short, sizeof last_short - 1, "t.csv line 3: 2 fields, the header has 3");
    expect_csv_refused(path, last_long, sizeof last_long - 1, "t.csv line 3: 5 fields, the header has 3");
    /* a row whose quoted field spans lines is named by all of its lines,
     * and an unterminated quote by the line it opens on (both named the
     * file's last line) */
    static const char spanning[] = "a,b,c\n1,2,3\n4,\"five\nand a half\nlines\",6,7\n8,9,10\n",
                      unterminated[] = "a,b,c\n1,2,3\n4,\"five,6\n7,8,9\n10,11,12\n";
    expect_csv_refused(path, spanning, sizeof spanning - 1,
                       "t.csv lines 3-5 (one row, a quoted field spanning lines): 4 fields, the header has 3");
    expect_csv_refused(path, unterminated, sizeof unterminated - 1, "t.csv line 3: unterminated quoted field");
    write_file(path, last_empty, sizeof last_empty - 1);
    assert_int_equal(prillm__csv_read(path, &t, &err), PRILLM_OK);
    assert_int_equal(t.rows, 2);
    assert_string_equal(t.field[1 * 3 + 2], "");
    prillm__csv_free(&t);
    /* a byte order mark is not part of the first column's name */
    write_file(path, "\xef\xbb\xbf" "app,tokens\nx,12\n", n + 3);
    assert_int_equal(prillm__csv_read(path, &t, &err), PRILLM_OK);
    int column;
    assert_int_equal(prillm__csv_require(&t, "app", &column, &err), PRILLM_OK);
    assert_int_equal(column, 0);
    prillm__csv_free(&t);
    /* a NUL inside a number would cut it short: "12\0" "34" read as 12 */
    static const char nul_number[] = "app,tokens\nx,12\0" "34\n";
    expect_csv_refused(path, nul_number, sizeof nul_number - 1, "t.csv row 2 column tokens: NUL byte");
    static const char nul_quoted[] = "app,tokens\ny,1\n\"x\0\",12\n";
    expect_csv_refused(path, nul_quoted, sizeof nul_quoted - 1, "t.csv row 3 column app: NUL byte");
    static const char nul_header[] = "app,tok\0ens\nx,1\n";
    expect_csv_refused(path, nul_header, sizeof nul_header - 1, "t.csv row 1 column 2: NUL byte");
    /* bytes that are not UTF-8, named by file, row and column */
    static const char bad_id[] = "app,tokens\nx,1\n\"y\xff\",2\n";
    expect_csv_refused(path, bad_id, sizeof bad_id - 1, "t.csv row 3 column app: not valid UTF-8");
    static const char bad_name[] = "app,tok\xc0\xafns\nx,1\n";
    expect_csv_refused(path, bad_name, sizeof bad_name - 1, "t.csv row 1 column 2: not valid UTF-8");
    static const char fine[] = "app,tokens\n\"Z\xc3\xbcrich, \xe4\xb8\xad\",1\n";
    write_file(path, fine, sizeof fine - 1);
    assert_int_equal(prillm__csv_read(path, &t, &err), PRILLM_OK);
    assert_string_equal(prillm__csv_get(&t, 0, 0), "Z\xc3\xbcrich, \xe4\xb8\xad");
    prillm__csv_free(&t);
    unlink(path);
    unlink(gz);
    rmdir(dir);
}

/* ---- prillm_format_double ----------------------------------------------- */

static int only_number_chars(const char *s) {
    return s[0] && strspn(s, "0123456789+-.eE") == strlen(s);
}

static void check_format(double x) {
    char buf[32];
    memset(buf, '#', sizeof buf);
    char *out = prillm_format_double(x, buf, sizeof buf);
    assert_ptr_equal(out, buf);
    if (!memchr(buf, '\0', sizeof buf)) fail_msg("%.17g: output not terminated in 32 bytes", x);
    if (!only_number_chars(buf)) fail_msg("%.17g printed as \"%s\"", x, buf);
    char *end = NULL;
    double back = strtod(buf, &end);
    if (*end != '\0') fail_msg("\"%s\" is not one whole number", buf);
    if (memcmp(&back, &x, sizeof x) != 0) fail_msg("%.17g printed as \"%s\" reads back as %.17g", x, buf, back);
}

static void test_format_double_round_trip(void **state) {
    (void)state;
    uint64_t seed = 2024;
    for (int k = 0; k < 200000; k++) check_format(random_finite(&seed));
    /* numbers like those in real markets: few significant digits */
    for (int k = 0; k < 20000; k++) check_format((double)(rng_next(&seed) % 1000000) / 1000.0);
    const double specials[] = {0.0, -0.0, 0.1, 0.2, 0.3, 1.0 / 3.0, 2.0 / 3.0, 1e300, 1e-300, 1e22, 1e23,
                               9007199254740993.0, 5e-324, DBL_MIN, DBL_MAX, -DBL_MAX, 0.1 + 0.2,
                               123456789012345678.0};
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) check_format(specials[k]);
}

static void test_format_double_is_short(void **state) {
    (void)state;
    /* a number with a short exact decimal form must not print as the
     * 17-digit expansion ("0.10000000000000001") */
    char buf[32];
    for (int k = 1; k <= 9999; k++) {
        double x = k / 100.0; /* at most 4 significant digits */
        char shortest[32];
        snprintf(shortest, sizeof shortest, "%.4g", x);
        prillm_format_double(x, buf, sizeof buf);
        if (strlen(buf) > strlen(shortest)) fail_msg("%s printed as \"%s\"", shortest, buf);
    }
    prillm_format_double(1e300, buf, sizeof buf);
    assert_true(strlen(buf) <= strlen("1e+300"));
}

static void test_format_double_non_finite(void **state) {
    (void)state;
    char buf[32];
    assert_string_equal(prillm_format_double(NAN, buf, sizeof buf), "NaN");
    assert_string_equal(prillm_format_double(INFINITY, buf, sizeof buf), "Infinity");
    assert_string_equal(prillm_format_double(-INFINITY, buf, sizeof buf), "-Infinity");
    /* a zero-size buffer is left alone */
    buf[0] = 'z';
    assert_ptr_equal(prillm_format_double(1.5, buf, 0), buf);
    assert_int_equal(buf[0], 'z');
    /* a short buffer is truncated but terminated */
    memset(buf, '#', sizeof buf);
    prillm_format_double(1.0 / 3.0, buf, 5);
    assert_int_equal(strlen(buf), 4);
}

/* Locales whose decimal separator is not '.'. ps_AF's is two bytes long. */
static const char *const comma_locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8",
                                            "ps_AF.UTF-8", "ps_AF.utf8", "de_DE", "fr_FR"};

static void test_format_double_ignores_locale(void **state) {
    (void)state;
    uint64_t seed = 77;
    enum { N = 2000 };
    static char printed[N][32];
    static double values[N];
    for (int k = 0; k < N; k++) values[k] = k % 2 ? random_finite(&seed) : (double)(rng_next(&seed) % 100000) / 64.0;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(4, 3, 9, &err);
    assert_non_null(mk);
    int tried = 0;
    for (size_t l = 0; l < sizeof comma_locales / sizeof comma_locales[0]; l++) {
        if (!setlocale(LC_NUMERIC, comma_locales[l])) continue;
        const char *point = localeconv()->decimal_point;
        if (!point || strcmp(point, ".") == 0) {
            setlocale(LC_NUMERIC, "C");
            continue;
        }
        tried++;
        print_message("locale %s (decimal point \"%s\")\n", comma_locales[l], point);
        for (int k = 0; k < N; k++) {
            prillm_format_double(values[k], printed[k], sizeof printed[k]);
            if (!only_number_chars(printed[k])) {
                setlocale(LC_NUMERIC, "C");
                fail_msg("in %s %.17g printed as \"%s\"", comma_locales[l], values[k], printed[k]);
            }
        }
        /* a market written and read in this locale comes back exactly */
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
        size_t length;
        char *text = slurp(f, &length);
        fclose(f);
        PrillmMarket *back = NULL;
        PrillmErrorCode rc = prillm_market_parse_json(text, length, NULL, NULL, &back, &err);
        setlocale(LC_NUMERIC, "C");
        if (rc) fail_msg("in %s a written market does not read back: %s", comma_locales[l], err.message);
        assert_markets_identical(mk, back);
        prillm_market_free(back);
        /* and is the same text the C locale writes */
        f = tmpfile();
        assert_non_null(f);
        assert_int_equal(prillm_market_write_json(mk, f, &err), PRILLM_OK);
        size_t c_length;
        char *c_text = slurp(f, &c_length);
        fclose(f);
        assert_string_equal(text, c_text);
        free(text);
        free(c_text);
        /* read the numbers back in the C locale, where only '.' works */
        for (int k = 0; k < N; k++) {
            double back_value = strtod(printed[k], NULL);
            if (memcmp(&back_value, &values[k], sizeof back_value) != 0)
                fail_msg("in %s %.17g printed as \"%s\"", comma_locales[l], values[k], printed[k]);
        }
    }
    setlocale(LC_NUMERIC, "C");
    prillm_market_free(mk);
    if (!tried) {
        print_message("no locale with a ',' decimal point is installed (tried de_DE, fr_FR, ps_AF): "
                      "locale check skipped\n");
        skip();
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_market_is_valid),
        cmocka_unit_test(test_nan_via_api),
        cmocka_unit_test(test_infinity_via_api),
        cmocka_unit_test(test_nan_literal_is_malformed_json),
        cmocka_unit_test(test_infinity_from_huge_numbers),
        cmocka_unit_test(test_zero_capacity),
        cmocka_unit_test(test_negative_capacity),
        cmocka_unit_test(test_derived_quantities_must_be_finite),
        cmocka_unit_test(test_cost_check_on_long_rows),
        cmocka_unit_test(test_nonpositive_congestion_weight),
        cmocka_unit_test(test_negative_delay_weight),
        cmocka_unit_test(test_negative_demand),
        cmocka_unit_test(test_negative_delay),
        cmocka_unit_test(test_negative_prices_are_allowed),
        cmocka_unit_test(test_delay_wrong_row_count),
        cmocka_unit_test(test_delay_wrong_column_count),
        cmocka_unit_test(test_delay_wrong_types),
        cmocka_unit_test(test_duplicate_provider_ids),
        cmocka_unit_test(test_duplicate_user_ids),
        cmocka_unit_test(test_ids_are_case_sensitive),
        cmocka_unit_test(test_empty_id),
        cmocka_unit_test(test_missing_required_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_empty_market),
        cmocka_unit_test(test_duplicate_json_key),
        cmocka_unit_test(test_malformed_json_position),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_root_not_object),
        cmocka_unit_test(test_null_delay_filled_from_latency),
        cmocka_unit_test(test_null_delay_without_latency),
        cmocka_unit_test(test_missing_delay_with_all_latencies),
        cmocka_unit_test(test_missing_delay_without_latency),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_zero_demand_user),
        cmocka_unit_test(test_round_trip_random_markets),
        cmocka_unit_test(test_round_trip_extreme_numbers),
        cmocka_unit_test(test_round_trip_awkward_ids),
        cmocka_unit_test(test_affinity_is_read),
        cmocka_unit_test(test_affinity_malformed),
        cmocka_unit_test(test_calibration_key_is_silent),
        cmocka_unit_test(test_affinity_round_trip),
        cmocka_unit_test(test_read_json_from_file),
        cmocka_unit_test(test_ids_must_be_utf8),
        cmocka_unit_test(test_writer_never_emits_bad_utf8),
        cmocka_unit_test(test_byte_order_mark_is_skipped),
        cmocka_unit_test(test_nesting_limit_is_named),
        cmocka_unit_test(test_input_size_limit),
        cmocka_unit_test(test_regular_file_read_whole),
        cmocka_unit_test(test_large_arrays_advised),
        cmocka_unit_test(test_csv_reader_edge_cases),
        cmocka_unit_test(test_format_double_round_trip),
        cmocka_unit_test(test_format_double_is_short),
        cmocka_unit_test(test_format_double_non_finite),
        cmocka_unit_test(test_format_double_ignores_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
