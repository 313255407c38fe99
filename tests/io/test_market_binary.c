/*
 * The market's compact binary form: round trips against the JSON form on
 * many random markets (every optional field, bit for bit), every truncation
 * and every single-byte corruption of a file refused without a crash,
 * crafted files (valid checksum, bad content) refused with the field named,
 * and prillm convert / the CLI reader taking either form.
 */
#define _POSIX_C_SOURCE 200809L
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

#include <prillm/prillm.h>

#include "support.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    unsigned char *data;
    size_t length;
} Bytes;

/* What a writer puts on a stream, captured through a temporary file. */
static Bytes write_with(const PrillmMarket *mk, int binary) {
    FILE *f = tmpfile();
    assert_non_null(f);
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = binary ? prillm_market_write_binary(mk, f, &err) : prillm_market_write_json(mk, f, &err);
    if (rc) fail_msg("writing failed: %s", err.message);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    Bytes b = {malloc((size_t)size + 1), (size_t)size};
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, (size_t)size, f), (size_t)size);
    b.data[size] = '\0';
    fclose(f);
    return b;
}

/* The market with every optional field exercised, varied by seed: some
 * costs and latencies absent (NaN), affinities on some apps, owners on some
 * models, price bounds on some; ids with spaces, quotes and UTF-8. */
static PrillmMarket *varied_market(uint64_t seed) {
    TestRng rng = {seed * 0x9E3779B97F4A7C15ull + 1};
    int n = test_int(&rng, 1, 12), m = test_int(&rng, 1, 9);
    PrillmMarket *mk = test_market(n, m, seed, NULL);
    if (test_uniform(&rng) < 0.6) test_market_affinity(mk, seed + 7, 0.3);
    static const char *const names[] = {"acme", "Zürich \"labs\"", "o/p", "日本"};
    for (int j = 0; j < m; j++) {
        if (test_uniform(&rng) < 0.3) mk->cost[j] = NAN;
        else mk->cost[j] = 0.1 * mk->price[j];
        if (test_uniform(&rng) < 0.5) mk->latency[j] = NAN;
        else mk->latency[j] = 0.2 + test_uniform(&rng);
        if (test_uniform(&rng) < 0.3) {
            free(mk->owner[j]);
            mk->owner[j] = strdup(names[test_int(&rng, 0, 3)]);
        }
        if (test_uniform(&rng) < 0.25) mk->price_min[j] = 0.01;
        if (test_uniform(&rng) < 0.25) mk->price_max[j] = 50 + 10 * mk->price[j];
    }
    if (m > 1) {
        free(mk->provider_id[m - 1]);
        mk->provider_id[m - 1] = strdup("Ünïcode \"model\"\t1");
    }
    PrillmError err = {PRILLM_OK, ""};
    if (prillm_market_validate(mk, &err)) fail_msg("test bug: varied market %llu invalid: %s",
                                                   (unsigned long long)seed, err.message);
    return mk;
}

static int same_double(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static void expect_same_doubles(const double *a, const double *b, size_t count, const char *what) {
    for (size_t k = 0; k < count; k++)
        if (!same_double(a[k], b[k])) fail_msg("%s[%zu]: %.17g != %.17g", what, k, a[k], b[k]);
}

/* Every field equal, bit for bit; the optional arrays read as the
 * accessors do (a NULL array = all absent). */
static void expect_same_market(const PrillmMarket *a, const PrillmMarket *b) {
    assert_int_equal(a->n_users, b->n_users);
    assert_int_equal(a->n_providers, b->n_providers);
    size_t n = (size_t)a->n_users, m = (size_t)a->n_providers;
    double wa[3] = {a->w_price, a->w_congestion, a->w_delay}, wb[3] = {b->w_price, b->w_congestion, b->w_delay};
    expect_same_doubles(wa, wb, 3, "weights");
    for (size_t j = 0; j < m; j++) assert_string_equal(a->provider_id[j], b->provider_id[j]);
    for (size_t i = 0; i < n; i++) assert_string_equal(a->user_id[i], b->user_id[i]);
    expect_same_doubles(a->price, b->price, m, "price");
    expect_same_doubles(a->capacity, b->capacity, m, "capacity");
    expect_same_doubles(a->value, b->value, m, "value");
    expect_same_doubles(a->cost, b->cost, m, "cost");
    expect_same_doubles(a->latency, b->latency, m, "latency");
    expect_same_doubles(a->demand, b->demand, n, "demand");
    expect_same_doubles(a->delay, b->delay, n * m, "delay");
    expect_same_doubles(a->affinity, b->affinity, n * m, "affinity");
    for (size_t j = 0; j < m; j++) {
        double la = a->price_min ? a->price_min[j] : NAN, lb = b->price_min ? b->price_min[j] : NAN;
        double ua = a->price_max ? a->price_max[j] : NAN, ub = b->price_max ? b->price_max[j] : NAN;
        if (!same_double(la, lb) || !same_double(ua, ub)) fail_msg("providers[%zu] price bounds differ", j);
        const char *oa = a->owner ? a->owner[j] : NULL, *ob = b->owner ? b->owner[j] : NULL;
        if ((oa == NULL) != (ob == NULL) || (oa && strcmp(oa, ob) != 0)) fail_msg("providers[%zu].owner differs", j);
    }
}

static PrillmMarket *parse_binary_ok(const Bytes *b) {
    PrillmMarket *mk = NULL;
    PrillmError err = {PRILLM_OK, ""};
    if (prillm_market_parse_binary(b->data, b->length, &mk, &err)) fail_msg("binary parse failed: %s", err.message);
    assert_non_null(mk);
    return mk;
}

static PrillmMarket sentinel;

/* The data refused with code (0 = any error) and a message holding every
 * needle, and no market handed back. */
static void expect_refused(const unsigned char *data, size_t length, PrillmErrorCode code, const char *const *needles) {
    PrillmMarket *mk = &sentinel;
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_market_parse_binary(data, length, &mk, &err);
    if (rc == PRILLM_OK) fail_msg("accepted a bad binary market (%zu bytes)", length);
    assert_null(mk);
    if (code && rc != code)
        fail_msg("expected %s, got %s: %s", prillm_error_name(code), prillm_error_name(rc), err.message);
    assert_true(err.message[0] != '\0');
    for (const char *const *n = needles; n && *n; n++)
        if (!strstr(err.message, *n)) fail_msg("message \"%s\" does not mention \"%s\"", err.message, *n);
}
#define EXPECT_REFUSED(data, length, code, ...) \
    expect_refused((data), (length), (code), (const char *const[]){__VA_ARGS__, NULL})

/* Little-endian helpers for crafting files (written here from the format's
 * description in docs/market-format.md, not from the library). */
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void set_le32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static void set_le64(unsigned char *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static void set_double(unsigned char *p, double x) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    set_le64(p, bits);
}
/* Recompute the trailer so that only the crafted change is wrong. */
static void reseal(Bytes *b) {
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b->data, (uInt)(b->length - 4));
    set_le32(b->data + b->length - 4, (uint32_t)crc);
}

/* ---- round trips --------------------------------------------------------- */

/* binary -> market equals the market; and the JSON path agrees: the market
 * written as JSON, read back and written as binary gives the same bytes. */
static void test_round_trip_random_markets(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 150; seed++) {
        PrillmMarket *mk = varied_market(seed);
        Bytes bin = write_with(mk, 1);
        assert_true(prillm_market_is_binary(bin.data, bin.length));
        PrillmMarket *back = parse_binary_ok(&bin);
        expect_same_market(mk, back);

        Bytes js = write_with(mk, 0);
        assert_false(prillm_market_is_binary(js.data, js.length));
        PrillmMarket *via_json = NULL;
        PrillmError err = {PRILLM_OK, ""};
        /* the either-form reader, given JSON */
        if (prillm_market_parse(js.data, js.length, NULL, NULL, &via_json, &err)) fail_msg("%s", err.message);
        Bytes bin2 = write_with(via_json, 1);
        assert_int_equal(bin.length, bin2.length);
        assert_memory_equal(bin.data, bin2.data, bin.length);
        /* and given binary */
        PrillmMarket *either = NULL;
        if (prillm_market_parse(bin.data, bin.length, NULL, NULL, &either, &err)) fail_msg("%s", err.message);
        expect_same_market(mk, either);
        /* binary -> JSON gives the JSON writer's text exactly */
        Bytes js2 = write_with(back, 0);
        assert_int_equal(js.length, js2.length);
        assert_memory_equal(js.data, js2.data, js.length);

        prillm_market_free(either);
        prillm_market_free(via_json);
        prillm_market_free(back);
        prillm_market_free(mk);
        free(bin.data);
        free(bin2.data);
        free(js.data);
        free(js2.data);
    }
}

/* The file's size is what the format says: header 40, weights 24, ids
 * 4 + length each, 5 provider arrays, the optional ones, demand, delay,
 * affinity when any is non-zero, trailer 4. */
static void test_size_follows_the_format(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        PrillmMarket *mk = varied_market(seed);
        size_t n = (size_t)mk->n_users, m = (size_t)mk->n_providers, expect = 40 + 24 + 4;
        int aff = 0, own = 0, lo = 0, hi = 0;
        for (size_t k = 0; k < n * m; k++) aff |= mk->affinity[k] != 0;
        for (size_t j = 0; j < m; j++) {
            expect += 4 + strlen(mk->provider_id[j]);
            own |= mk->owner[j] != NULL;
            lo |= !isnan(mk->price_min[j]);
            hi |= !isnan(mk->price_max[j]);
        }
        for (size_t i = 0; i < n; i++) expect += 4 + strlen(mk->user_id[i]);
        expect += 8 * m * (size_t)(5 + lo + hi) + 8 * n + 8 * n * m * (size_t)(1 + aff);
        if (own)
            for (size_t j = 0; j < m; j++) expect += 4 + (mk->owner[j] ? strlen(mk->owner[j]) : 0);
        Bytes bin = write_with(mk, 1);
        assert_int_equal(bin.length, expect);
        assert_int_equal(le32(bin.data + 8), 1);          /* version */
        assert_int_equal(le32(bin.data + 12), 0x01020304); /* byte order */
        assert_int_equal(le32(bin.data + 16), (uint32_t)(aff | own << 1 | lo << 2 | hi << 3));
        assert_int_equal(le32(bin.data + 20), n);
        assert_int_equal(le32(bin.data + 24), m);
        free(bin.data);
        prillm_market_free(mk);
    }
}

/* ---- bad files ------------------------------------------------------------ */

static void test_every_truncation_refused(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        PrillmMarket *mk = varied_market(seed);
        Bytes bin = write_with(mk, 1);
        for (size_t len = 0; len < bin.length; len++) {
            /* a fresh copy of exactly len bytes, so reading past it is an
             * ASan / valgrind error */
            unsigned char *cut = malloc(len ? len : 1);
            assert_non_null(cut);
            memcpy(cut, bin.data, len);
            expect_refused(cut, len, PRILLM_ERR_PARSE, NULL);
            free(cut);
        }
        free(bin.data);
        prillm_market_free(mk);
    }
}

/* CRC-32 catches every error within 32 consecutive bits: each byte changed
 * in two ways is refused, the checksum (or the header check before it)
 * saying so. */
static void test_every_corrupted_byte_refused(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        PrillmMarket *mk = varied_market(seed);
        Bytes bin = write_with(mk, 1);
        for (size_t k = 0; k < bin.length; k++)
            for (int flip = 0; flip < 2; flip++) {
                unsigned char was = bin.data[k];
                bin.data[k] ^= flip ? 0xff : 0x01;
                expect_refused(bin.data, bin.length, PRILLM_ERR_PARSE, NULL);
                bin.data[k] = was;
            }
        /* a byte appended */
        unsigned char *longer = malloc(bin.length + 1);
        memcpy(longer, bin.data, bin.length);
        longer[bin.length] = 0;
        EXPECT_REFUSED(longer, bin.length + 1, PRILLM_ERR_PARSE, "header.size", "trailing");
        free(longer);
        EXPECT_REFUSED(bin.data, bin.length - 1, PRILLM_ERR_PARSE, "header.size", "truncated");
        free(bin.data);
        prillm_market_free(mk);
    }
}

/* A one-provider, one-user market whose layout is known: header (40),
 * weights (24), providers[0].id "p" (4+1), users[0].id "u" (4+1), price,
 * capacity, value, cost, latency (8 each), demand, delay, trailer. */
static Bytes tiny_binary(void) {
    PrillmMarket *mk = test_market(1, 1, 3, NULL);
    free(mk->provider_id[0]);
    mk->provider_id[0] = strdup("p");
    free(mk->user_id[0]);
    mk->user_id[0] = strdup("u");
    Bytes b = write_with(mk, 1);
    prillm_market_free(mk);
    assert_int_equal(b.length, 40 + 24 + 5 + 5 + 5 * 8 + 8 + 8 + 4);
    return b;
}
enum { AT_PID = 64, AT_UID = 69, AT_PRICE = 74, AT_CAPACITY = 82, AT_DEMAND = 114, AT_DELAY = 122 };

static void test_crafted_files_name_the_field(void **state) {
    (void)state;
    Bytes b = tiny_binary();
    PrillmMarket *ok = parse_binary_ok(&b);
    prillm_market_free(ok);
    unsigned char *orig = malloc(b.length);
    memcpy(orig, b.data, b.length);
#define RESET() memcpy(b.data, orig, b.length)

    EXPECT_REFUSED(b.data, 3, PRILLM_ERR_PARSE, "magic");
    b.data[1] = 'Q';
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "magic");
    RESET();
    set_le32(b.data + 8, 2);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "header.version is 2");
    RESET();
    set_le32(b.data + 12, 0x04030201);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "byte_order", "big-endian");
    RESET();
    set_le32(b.data + 16, 1u << 9);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "header.flags");
    RESET();
    /* sizes the file cannot hold: refused before any allocation */
    set_le32(b.data + 20, 0xffffffffu);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "header.n_users");
    RESET();
    set_le32(b.data + 20, 3);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "header.n_users 3");
    RESET();
    set_le32(b.data + 24, 0);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "empty market");
    RESET();
    /* the affinity flag set without its section: the sections run out */
    set_le32(b.data + 16, 1);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "truncated at affinity");
    RESET();
    /* an id's length past the end */
    set_le32(b.data + AT_PID, 1000);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "providers[0].id");
    RESET();
    set_le32(b.data + AT_UID, 0);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, 0, "users[0].id");
    RESET();
    b.data[AT_PID + 4] = 0xff;
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "providers[0].id is not valid UTF-8");
    RESET();
    b.data[AT_UID + 4] = 0;
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "users[0].id", "NUL");
    RESET();
    /* numbers the validator refuses, named as the JSON reader names them */
    set_double(b.data + AT_CAPACITY, -1);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "providers[0].capacity must be > 0");
    RESET();
    set_double(b.data + AT_PRICE, NAN);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "providers[0].price");
    RESET();
    set_double(b.data + AT_DEMAND, -5);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "users[0].demand");
    RESET();
    set_double(b.data + AT_DELAY, INFINITY);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_INVALID_DATA, "delay[0][0]");
    RESET();
    set_le64(b.data + 32, 7);
    reseal(&b);
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "header.size");
    RESET();
    b.data[b.length - 1] ^= 0x10;
    EXPECT_REFUSED(b.data, b.length, PRILLM_ERR_PARSE, "checksum");
    RESET();
    ok = parse_binary_ok(&b); /* the resets restored it */
    prillm_market_free(ok);
#undef RESET
    free(orig);
    free(b.data);
}

/* Duplicate ids, owners and price bounds go through the validator too. */
static void test_validator_runs_on_binary(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(2, 3, 9, NULL);
    Bytes good = write_with(mk, 1);
    /* provider 1's id made equal to provider 0's (same length, so the
     * layout holds) */
    size_t at = 40 + 24;
    uint32_t len0 = le32(good.data + at);
    uint32_t len1 = le32(good.data + at + 4 + len0);
    assert_int_equal(len0, len1);
    memcpy(good.data + at + 4 + len0 + 4, good.data + at + 4, len0);
    reseal(&good);
    EXPECT_REFUSED(good.data, good.length, PRILLM_ERR_INVALID_DATA, "duplicates");
    free(good.data);
    /* the writer refuses what the reader would */
    mk->capacity[2] = 0;
    FILE *f = tmpfile();
    PrillmError err = {PRILLM_OK, ""};
    assert_int_equal(prillm_market_write_binary(mk, f, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "providers[2].capacity"));
    fclose(f);
    prillm_market_free(mk);
}

/* Reading from a stream: the stream readers and the either-form reader. */
static void test_stream_readers(void **state) {
    (void)state;
    PrillmMarket *mk = varied_market(42);
    for (int binary = 0; binary < 2; binary++) {
        FILE *f = tmpfile();
        PrillmError err = {PRILLM_OK, ""};
        assert_int_equal(binary ? prillm_market_write_binary(mk, f, &err) : prillm_market_write_json(mk, f, &err), 0);
        rewind(f);
        PrillmMarket *back = NULL;
        if (prillm_market_read(f, NULL, NULL, &back, &err)) fail_msg("%s", err.message);
        expect_same_market(mk, back);
        prillm_market_free(back);
        rewind(f);
        PrillmMarket *strict = &sentinel;
        PrillmErrorCode rc = prillm_market_read_binary(f, &strict, &err);
        if (binary) {
            assert_int_equal(rc, PRILLM_OK);
            expect_same_market(mk, strict);
            prillm_market_free(strict);
        } else {
            /* JSON given to the binary reader: refused, saying why */
            assert_int_equal(rc, PRILLM_ERR_PARSE);
            assert_null(strict);
            assert_non_null(strstr(err.message, "not a binary market"));
        }
        fclose(f);
    }
    prillm_market_free(mk);
}

/* ---- the command line -------------------------------------------------- */

static int cli_available(void) {
    const char *cli = getenv("PRILLM_CLI");
    return cli && cli[0];
}

static void test_cli_convert(void **state) {
    (void)state;
    if (!cli_available()) {
        print_message("PRILLM_CLI not set: skipped\n");
        skip();
    }
    assert_int_equal(test_scratch_setup("binary"), 0);
    /* JSON -> binary -> JSON is the same text; every command reads either
     * form and answers the same */
    assert_int_equal(test_shell("\"$PRILLM_CLI\" generate --users 30 --providers 7 --seed 5 > m.json && "
                                "\"$PRILLM_CLI\" convert m.json m.bin --quiet && "
                                "\"$PRILLM_CLI\" convert m.bin back.json && cmp m.json back.json && "
                                "\"$PRILLM_CLI\" convert m.json - --to binary | cmp - m.bin && "
                                "cat m.bin | \"$PRILLM_CLI\" convert - - --to json | cmp - m.json && "
                                "\"$PRILLM_CLI\" equilibrium m.json > a.out && "
                                "\"$PRILLM_CLI\" equilibrium m.bin > b.out && "
                                "grep -v '\"seconds\"' a.out > a.cmp && grep -v '\"seconds\"' b.out > b.cmp && "
                                "cmp a.cmp b.cmp && \"$PRILLM_CLI\" validate m.bin"),
                     0);
    char *out = test_scratch_read("stdout.txt");
    assert_non_null(strstr(out, "\"users\": 30, \"providers\": 7"));
    free(out);
    /* a corrupted file: exit 3 (bad input), the message names the problem */
    int code = test_shell("cp m.bin bad.bin && printf 'X' | dd of=bad.bin bs=1 seek=300 conv=notrunc 2>/dev/null && "
                          "\"$PRILLM_CLI\" validate bad.bin");
    assert_int_equal(code, 3);
    char *err = test_scratch_read("stderr.txt");
    assert_non_null(strstr(err, "checksum mismatch"));
    free(err);
    code = test_shell("head -c 500 m.bin > short.bin && \"$PRILLM_CLI\" equilibrium short.bin");
    assert_int_equal(code, 3);
    err = test_scratch_read("stderr.txt");
    assert_non_null(strstr(err, "truncated"));
    free(err);
    /* usage errors */
    assert_int_equal(test_shell("\"$PRILLM_CLI\" convert m.json"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" convert m.json x y"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" convert m.json x --to yaml"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" convert no-such.json x"), 3);
    assert_int_equal(test_scratch_teardown(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_random_markets),
        cmocka_unit_test(test_size_follows_the_format),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_every_corrupted_byte_refused),
        cmocka_unit_test(test_crafted_files_name_the_field),
        cmocka_unit_test(test_validator_runs_on_binary),
        cmocka_unit_test(test_stream_readers),
        cmocka_unit_test(test_cli_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
