#define _POSIX_C_SOURCE 200809L
/* The training data as a file (prillm_aggregator_scenario_build,
 * prillm_aggregator_scenarios_write / _parse): scenario k built alone is
 * scenario k of the whole set bit for bit; each profit is the target's price
 * times its equilibrium flow solved here from scratch; the file reads back
 * bit for bit and writes back the same bytes; every truncation and every
 * flipped byte is refused (and a file with a valid checksum but a bad
 * target, count or length too), with out left empty. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "support.h"

static unsigned char *market_bytes(const PrillmMarket *mk, size_t *size) {
    char *bytes = NULL;
    FILE *mem = open_memstream(&bytes, size);
    assert_non_null(mem);
    PrillmError err;
    if (prillm_market_write_binary(mk, mem, &err)) fail_msg("write_binary: %s", err.message);
    assert_int_equal(fclose(mem), 0);
    return (unsigned char *)bytes;
}

static void assert_same_scenario(const PrillmAggregatorScenario *a, const PrillmAggregatorScenario *b, int s) {
    if (a->target != b->target || a->n_prices != b->n_prices)
        fail_msg("scenario %d: target %d / %d, prices %d / %d", s, a->target, b->target, a->n_prices, b->n_prices);
    assert_memory_equal(a->prices, b->prices, (size_t)a->n_prices * sizeof(double));
    assert_memory_equal(a->profit, b->profit, (size_t)a->n_prices * sizeof(double));
    size_t na, nb;
    unsigned char *x = market_bytes(a->market, &na), *y = market_bytes(b->market, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

static unsigned char *write_data(const PrillmAggregatorScenarios *sc, const char *description, size_t *size) {
    char *bytes = NULL;
    FILE *mem = open_memstream(&bytes, size);
    assert_non_null(mem);
    PrillmError err;
    if (prillm_aggregator_scenarios_write(sc, description, mem, &err)) fail_msg("write: %s", err.message);
    assert_int_equal(fclose(mem), 0);
    return (unsigned char *)bytes;
}

typedef struct {
    PrillmMarket *base;
    PrillmScenarioSettings st;
    int target;
    PrillmAggregatorScenarios all;
} Set;

static Set make_set(uint64_t seed) {
    TestRng rng = {seed + 77};
    Set s;
    s.base = test_market(test_int(&rng, 2, 12), test_int(&rng, 2, 7), 9000 + seed, NULL);
    if (seed % 2) test_market_affinity(s.base, seed, 0.5);
    prillm_scenario_default_settings(&s.st);
    s.st.scenarios = test_int(&rng, 1, 9);
    s.st.prices = test_int(&rng, 1, 6);
    s.st.seed = (int)seed;
    s.target = seed % 3 == 0 ? test_int(&rng, 0, s.base->n_providers - 1) : -1;
    PrillmError err;
    if (prillm_aggregator_scenarios(s.base, s.target, &s.st, &s.all, &err)) fail_msg("scenarios: %s", err.message);
    return s;
}

static void free_set(Set *s) {
    prillm_aggregator_scenarios_free(&s->all);
    prillm_market_free(s->base);
}

/* scenario k alone = scenario k of the set; profits re-solved from scratch */
static void test_build_one_is_the_sets(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        Set s = make_set(seed);
        /* in reverse: nothing depends on the order they are built in */
        for (int k = s.all.count - 1; k >= 0; k--) {
            PrillmAggregatorScenario one;
            PrillmError err;
            if (prillm_aggregator_scenario_build(s.base, s.target, &s.st, k, &one, &err))
                fail_msg("build %d: %s", k, err.message);
            assert_same_scenario(&one, &s.all.items[k], k);
            if (s.target >= 0) assert_string_equal(one.market->provider_id[one.target], s.base->provider_id[s.target]);
            for (int q = 0; q < one.n_prices; q++) {
                PrillmMarket *mk = prillm_market_copy(one.market, &err);
                assert_non_null(mk);
                mk->price[one.target] = one.prices[q];
                PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
                double want = one.prices[q] * prillm_equilibrium_solution(solver)->provider_flow[one.target];
                if (fabs(want - one.profit[q]) > 1e-7 * fmax(1.0, fabs(want)))
                    fail_msg("seed %d scenario %d price %d: profit %.17g, solved here %.17g", (int)seed, k, q,
                             one.profit[q], want);
                prillm_equilibrium_cleanup(solver);
                prillm_market_free(mk);
            }
            prillm_aggregator_scenario_clear(&one);
            assert_null(one.market);
        }
        PrillmAggregatorScenario one;
        PrillmError err;
        assert_int_equal(prillm_aggregator_scenario_build(s.base, s.target, &s.st, -1, &one, &err),
                         PRILLM_ERR_INVALID_ARGUMENT);
        assert_null(one.market);
        assert_int_equal(prillm_aggregator_scenario_build(s.base, s.base->n_providers, &s.st, 0, &one, &err),
                         PRILLM_ERR_INVALID_ARGUMENT);
        free_set(&s);
    }
}

static void test_round_trip(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        Set s = make_set(seed);
        const char *description = seed % 2 ? "market=x.json seed=3 \xc3\xa9" : NULL;
        size_t size;
        unsigned char *bytes = write_data(&s.all, description, &size);
        PrillmAggregatorScenarios back;
        char *text = NULL;
        PrillmError err;
        if (prillm_aggregator_scenarios_parse(bytes, size, &back, &text, &err)) fail_msg("parse: %s", err.message);
        assert_int_equal(back.count, s.all.count);
        assert_string_equal(text, description ? description : "");
        for (int k = 0; k < back.count; k++) assert_same_scenario(&back.items[k], &s.all.items[k], k);
        size_t size2;
        unsigned char *again = write_data(&back, description, &size2);
        assert_int_equal(size2, size);
        assert_memory_equal(again, bytes, size);
        /* the stream reader reads the same */
        FILE *f = fmemopen(bytes, size, "rb");
        assert_non_null(f);
        PrillmAggregatorScenarios streamed;
        assert_int_equal(prillm_aggregator_scenarios_read(f, &streamed, NULL, &err), PRILLM_OK);
        fclose(f);
        assert_int_equal(streamed.count, s.all.count);
        prillm_aggregator_scenarios_free(&streamed);
        free(again);
        free(text);
        prillm_aggregator_scenarios_free(&back);
        free(bytes);
        free_set(&s);
    }
    /* an empty set is a valid file */
    PrillmAggregatorScenarios none = {0, NULL}, back;
    size_t size;
    unsigned char *bytes = write_data(&none, "", &size);
    PrillmError err;
    assert_int_equal(prillm_aggregator_scenarios_parse(bytes, size, &back, NULL, &err), PRILLM_OK);
    assert_int_equal(back.count, 0);
    free(bytes);
}

static void expect_refused(const unsigned char *bytes, size_t size, PrillmErrorCode code, const char *needle,
                           const char *what) {
    PrillmAggregatorScenarios out = {-5, (PrillmAggregatorScenario *)1};
    char *text = (char *)1;
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_aggregator_scenarios_parse(bytes, size, &out, &text, &err);
    if (rc == PRILLM_OK) fail_msg("%s: accepted", what);
    if (code && rc != code) fail_msg("%s: code %d (%s), expected %d", what, rc, err.message, code);
    if (needle && !strstr(err.message, needle)) fail_msg("%s: \"%s\" does not say \"%s\"", what, err.message, needle);
    assert_int_equal(out.count, 0);
    assert_null(out.items);
    assert_null(text);
}

/* the checksum recomputed, so that the reader's other checks are reached */
static void reseal(unsigned char *b, size_t size) {
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b, (uInt)(size - 4));
    for (int k = 0; k < 4; k++) b[size - 4 + k] = (unsigned char)(crc >> (8 * k));
}

static void put32(unsigned char *b, uint32_t v) {
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (8 * k));
}

static void test_bad_files_refused(void **state) {
    (void)state;
    Set s = make_set(5);
    size_t size;
    unsigned char *bytes = write_data(&s.all, "d", &size);
    unsigned char *copy = malloc(size);
    assert_non_null(copy);
    /* every truncation */
    for (size_t cut = 0; cut < size; cut++) expect_refused(bytes, cut, PRILLM_ERR_PARSE, "scenario data", "truncated");
    /* every flipped byte (the checksum or the magic, version, length checks) */
    for (size_t at = 0; at < size; at++) {
        memcpy(copy, bytes, size);
        copy[at] ^= 0x10;
        expect_refused(copy, size, 0, "scenario data", "flipped");
    }
    /* valid checksums, bad contents: header is 8 magic + version + count +
     * description length + "d"; the first record starts at 21 */
    size_t first = 8 + 4 + 4 + 4 + 1;
    memcpy(copy, bytes, size);
    put32(copy + first, 1000);
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_INVALID_DATA, "scenarios[0].target 1000 is not a provider", "target");
    memcpy(copy, bytes, size);
    put32(copy + first + 4, 0);
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_PARSE, "scenarios[0].n_prices is 0", "n_prices");
    memcpy(copy, bytes, size);
    put32(copy + 12, 0x7fffffff);
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_PARSE, "count", "count");
    memcpy(copy, bytes, size);
    put32(copy + 12, (uint32_t)s.all.count - 1);
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_PARSE, "left over", "count one short");
    memcpy(copy, bytes, size);
    put32(copy + 16, 0xffffff);
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_PARSE, "description", "description length");
    /* a profit that is not finite */
    memcpy(copy, bytes, size);
    double inf = INFINITY;
    uint64_t bits;
    memcpy(&bits, &inf, 8);
    int L = s.all.items[0].n_prices;
    for (int k = 0; k < 8; k++) copy[first + 8 + (size_t)L * 8 + (size_t)k] = (unsigned char)(bits >> (8 * k));
    reseal(copy, size);
    expect_refused(copy, size, PRILLM_ERR_INVALID_DATA, "scenarios[0].profit[0] is not finite", "profit");
    /* a market file is not scenario data */
    size_t msize;
    unsigned char *mb = market_bytes(s.base, &msize);
    expect_refused(mb, msize, PRILLM_ERR_PARSE, "magic", "a market");
    free(mb);
    /* the writer refuses what the reader would */
    PrillmAggregatorScenario bad = s.all.items[0];
    bad.target = bad.market->n_providers;
    PrillmAggregatorScenarios one = {1, &bad};
    PrillmError err;
    FILE *sink = fopen("/dev/null", "wb");
    assert_non_null(sink);
    assert_int_equal(prillm_aggregator_scenarios_write(&one, NULL, sink, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_aggregator_scenarios_write(NULL, NULL, sink, &err), PRILLM_ERR_INVALID_ARGUMENT);
    fclose(sink);
    free(copy);
    free(bytes);
    free_set(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_one_is_the_sets),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
