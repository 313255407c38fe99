/* The market's compact binary form (docs/market-format.md, "Binary form"):
 * every array of PrillmMarket as raw little-endian IEEE doubles, the ids as
 * length-prefixed UTF-8, a versioned header and a CRC-32 trailer. Read back
 * bit for bit (NaN "not given" entries included), validated as strictly as
 * the JSON reader: the header, every size and every id are checked against
 * the bytes actually present, then the market validator runs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checksum_writer.h"
#include "little_endian.h"
#include "internal.h"
#include "json_document.h"

/* 0x89 keeps the file from being mistaken for text (or JSON); 0x1a stops a
 * DOS "type"; as PNG does. */
static const unsigned char MAGIC[8] = {0x89, 'P', 'R', 'I', 'L', 'L', 'M', 0x1a};
enum {
    VERSION = 1,
    HEADER_BYTES = 40,
    TRAILER_BYTES = 4,
    FLAG_AFFINITY = 1u << 0,
    FLAG_OWNER = 1u << 1,
    FLAG_PRICE_MIN = 1u << 2,
    FLAG_PRICE_MAX = 1u << 3,
    FLAGS_KNOWN = (1u << 4) - 1
};
#define BYTE_ORDER_MARK 0x01020304u
/* an id is at most this many bytes (the JSON reader has no such limit, but
 * a 1 MiB model name is a corrupted length, not a name) */
#define MAX_ID_BYTES (1u << 20)

static int host_little_endian(void) {
    const uint16_t probe = 1;
    unsigned char first;
    memcpy(&first, &probe, 1);
    return first == 1;
}


int prillm_market_is_binary(const void *data, size_t length) {
    return data && length >= sizeof MAGIC && memcmp(data, MAGIC, sizeof MAGIC) == 0;
}

/* ---- writing ---------------------------------------------------------- */

static void emit_doubles(PrillmCrcWriter *w, const double *x, size_t n) {
    if (host_little_endian()) {
        prillm__crc_write(w, x, n * sizeof *x);
        return;
    }
    unsigned char buf[8 * 256];
    for (size_t k = 0; k < n;) {
        size_t c = 0;
        for (; c < 256 && k < n; c++, k++) {
            uint64_t bits;
            memcpy(&bits, &x[k], 8);
            prillm__put_u64(buf + 8 * c, bits);
        }
        prillm__crc_write(w, buf, 8 * c);
    }
}

static void emit_string(PrillmCrcWriter *w, const char *s) {
    unsigned char len[4];
    size_t n = s ? strlen(s) : 0;
    prillm__put_u32(len, (uint32_t)n);
    prillm__crc_write(w, len, 4);
    if (n) prillm__crc_write(w, s, n);
}

static size_t string_bytes(const char *s) { return 4 + (s ? strlen(s) : 0); }

PrillmErrorCode prillm_market_write_binary(const PrillmMarket *mk, FILE *out, PrillmError *err) {
    if (!mk || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or stream is NULL");
    PrillmErrorCode rc = prillm_market_validate(mk, err);
    if (rc) return rc;
    size_t n = (size_t)mk->n_users, m = (size_t)mk->n_providers;
    uint32_t flags = 0;
    for (size_t k = 0; k < n * m && !(flags & FLAG_AFFINITY); k++)
        if (mk->affinity[k] != 0.0) flags |= FLAG_AFFINITY;
    for (size_t j = 0; j < m; j++) {
        if (prillm__market_owner(mk, (int)j)) flags |= FLAG_OWNER;
        if (!isnan(prillm__market_price_min(mk, (int)j))) flags |= FLAG_PRICE_MIN;
        if (!isnan(prillm__market_price_max(mk, (int)j))) flags |= FLAG_PRICE_MAX;
    }
    for (size_t j = 0; j < m; j++) {
        size_t a = strlen(mk->provider_id[j]), b = prillm__market_owner(mk, (int)j) ? strlen(mk->owner[j]) : 0;
        if (a > MAX_ID_BYTES || b > MAX_ID_BYTES)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%zu].%s is longer than %u bytes", j,
                                a > MAX_ID_BYTES ? "id" : "owner", MAX_ID_BYTES);
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(mk->user_id[i]) > MAX_ID_BYTES)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "users[%zu].id is longer than %u bytes", i, MAX_ID_BYTES);

    /* the whole size goes in the header, so count it first */
    uint64_t total = HEADER_BYTES + 3 * 8;
    for (size_t j = 0; j < m; j++) total += string_bytes(mk->provider_id[j]);
    for (size_t i = 0; i < n; i++) total += string_bytes(mk->user_id[i]);
    total += 5 * 8 * (uint64_t)m;
    if (flags & FLAG_PRICE_MIN) total += 8 * (uint64_t)m;
    if (flags & FLAG_PRICE_MAX) total += 8 * (uint64_t)m;
    if (flags & FLAG_OWNER)
        for (size_t j = 0; j < m; j++) total += string_bytes(prillm__market_owner(mk, (int)j));
    total += 8 * (uint64_t)n + 8 * (uint64_t)n * m;
    if (flags & FLAG_AFFINITY) total += 8 * (uint64_t)n * m;
    total += TRAILER_BYTES;

    unsigned char head[HEADER_BYTES] = {0};
    memcpy(head, MAGIC, 8);
    prillm__put_u32(head + 8, VERSION);
    prillm__put_u32(head + 12, BYTE_ORDER_MARK);
    prillm__put_u32(head + 16, flags);
    prillm__put_u32(head + 20, (uint32_t)n);
    prillm__put_u32(head + 24, (uint32_t)m);
    prillm__put_u32(head + 28, 0); /* reserved */
    prillm__put_u64(head + 32, total);
    PrillmCrcWriter w = {out, crc32(0L, Z_NULL, 0)};
    prillm__crc_write(&w, head, sizeof head);
    const double weights[3] = {mk->w_price, mk->w_congestion, mk->w_delay};
    emit_doubles(&w, weights, 3);
    for (size_t j = 0; j < m; j++) emit_string(&w, mk->provider_id[j]);
    for (size_t i = 0; i < n; i++) emit_string(&w, mk->user_id[i]);
    emit_doubles(&w, mk->price, m);
    emit_doubles(&w, mk->capacity, m);
    emit_doubles(&w, mk->value, m);
    emit_doubles(&w, mk->cost, m);
    emit_doubles(&w, mk->latency, m);
    if (flags & FLAG_PRICE_MIN) emit_doubles(&w, mk->price_min, m);
    if (flags & FLAG_PRICE_MAX) emit_doubles(&w, mk->price_max, m);
    if (flags & FLAG_OWNER)
        for (size_t j = 0; j < m; j++) emit_string(&w, prillm__market_owner(mk, (int)j));
    emit_doubles(&w, mk->demand, n);
    emit_doubles(&w, mk->delay, n * m);
    if (flags & FLAG_AFFINITY) emit_doubles(&w, mk->affinity, n * m);
    unsigned char tail[TRAILER_BYTES];
    prillm__put_u32(tail, (uint32_t)w.crc);
    fwrite(tail, 1, sizeof tail, out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "error writing the binary market");
    return PRILLM_OK;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct {
    const unsigned char *data;
    size_t at, end; /* end: where the trailer starts */
    PrillmError *err;
} Reader;

static PrillmErrorCode truncated(Reader *r, const char *field, size_t need) {
    return prillm__fail(r->err, PRILLM_ERR_PARSE,
                        "binary market: truncated at %s (needs %zu bytes at offset %zu, %zu left)", field, need, r->at,
                        r->end - r->at);
}

static PrillmErrorCode take_doubles(Reader *r, double *x, size_t n, const char *field) {
    if (n > (r->end - r->at) / 8) return truncated(r, field, n * 8);
    const unsigned char *p = r->data + r->at;
    if (host_little_endian()) {
        memcpy(x, p, n * 8);
    } else {
        for (size_t k = 0; k < n; k++) {
            uint64_t bits = prillm__get_u64(p + 8 * k);
            memcpy(&x[k], &bits, 8);
        }
    }
    r->at += n * 8;
    return PRILLM_OK;
}

/* A length-prefixed string as a new NUL-terminated one; empty_ok: a length
 * of 0 gives NULL (an owner not given). */
static PrillmErrorCode take_string(Reader *r, const char *what, int index, const char *field, int empty_ok,
                                   char **out) {
    char name[64];
    snprintf(name, sizeof name, "%s[%d].%s", what, index, field);
    if (r->end - r->at < 4) return truncated(r, name, 4);
    uint32_t len = prillm__get_u32(r->data + r->at);
    r->at += 4;
    if (len == 0) {
        if (empty_ok) return PRILLM_OK;
        return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA, "binary market: %s is empty", name);
    }
    if (len > MAX_ID_BYTES)
        return prillm__fail(r->err, PRILLM_ERR_PARSE, "binary market: %s has length %u (more than %u bytes): corrupted",
                            name, len, MAX_ID_BYTES);
    if (len > r->end - r->at) return truncated(r, name, len);
    const char *s = (const char *)r->data + r->at;
    if (memchr(s, '\0', len))
        return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA, "binary market: %s holds a NUL byte", name);
    if (prillm__utf8_invalid_at(s, len) != len)
        return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA, "binary market: %s is not valid UTF-8", name);
    char *copy = malloc((size_t)len + 1);
    if (!copy) return prillm__fail(r->err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", name);
    memcpy(copy, s, len);
    copy[len] = '\0';
    *out = copy;
    r->at += len;
    return PRILLM_OK;
}

PrillmErrorCode prillm_market_parse_binary(const void *data, size_t length, PrillmMarket **market, PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market output pointer is NULL");
    *market = NULL;
    if (!data) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "binary market data is NULL");
    const unsigned char *b = data;
    if (!prillm_market_is_binary(data, length))
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: the file does not start with prillm's magic bytes "
                                                   "(\\x89PRILLM\\x1a): not a binary market");
    if (length < HEADER_BYTES + TRAILER_BYTES)
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: truncated header (%zu bytes, needs %d)", length,
                            HEADER_BYTES + TRAILER_BYTES);
    uint32_t version = prillm__get_u32(b + 8), order = prillm__get_u32(b + 12), flags = prillm__get_u32(b + 16);
    uint32_t n_users = prillm__get_u32(b + 20), n_providers = prillm__get_u32(b + 24), reserved = prillm__get_u32(b + 28);
    uint64_t total = prillm__get_u64(b + 32);
    if (order != BYTE_ORDER_MARK)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "binary market: header.byte_order is 0x%08x, not 0x%08x (%s)", order, BYTE_ORDER_MARK,
                            order == 0x04030201u ? "written big-endian; prillm's binary form is little-endian"
                                                 : "corrupted header");
    if (version != VERSION)
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: header.version is %u; this prillm reads version %d",
                            version, VERSION);
    if (flags & ~(uint32_t)FLAGS_KNOWN)
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: header.flags 0x%x has unknown bits", flags);
    if (reserved != 0)
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: header.reserved must be 0, got %u", reserved);
    if (total != (uint64_t)length)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "binary market: header.size says %llu bytes but there are %zu (%s)",
                            (unsigned long long)total, length, total > length ? "truncated" : "trailing bytes");
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0, left = length - TRAILER_BYTES; left > 0;) {
        uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, b + at, step);
        at += step;
        left -= step;
    }
    uint32_t stored = prillm__get_u32(b + length - TRAILER_BYTES);
    if ((uint32_t)crc != stored)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "binary market: checksum mismatch (stored crc32 0x%08x, computed 0x%08x): the file is "
                            "corrupted",
                            stored, (unsigned)crc);
    if (n_users < 1 || n_providers < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "empty market: need at least one user and one provider (header.n_users %u, "
                            "header.n_providers %u)",
                            n_users, n_providers);
    if (n_users > (uint32_t)INT32_MAX || n_providers > (uint32_t)INT32_MAX)
        return prillm__fail(err, PRILLM_ERR_PARSE, "binary market: header.n_users or header.n_providers out of range");
    /* every user costs at least 4 + 8 + 8 m bytes: refuse sizes the file
     * cannot hold before allocating for them */
    if ((uint64_t)n_users * n_providers > (uint64_t)length / 8)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "binary market: header.n_users %u x header.n_providers %u does not fit in %zu bytes",
                            n_users, n_providers, length);
    uint64_t floor_bytes = HEADER_BYTES + 24 + (uint64_t)n_providers * (4 + 40) +
                           (uint64_t)n_users * (4 + 8) + (uint64_t)n_users * n_providers * 8 + TRAILER_BYTES;
    if (floor_bytes > (uint64_t)length)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "binary market: header.n_users %u x header.n_providers %u needs at least %llu bytes, "
                            "the file has %zu",
                            n_users, n_providers, (unsigned long long)floor_bytes, length);
    PrillmMarket *mk = prillm_market_alloc((int)n_users, (int)n_providers, err);
    if (!mk) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    size_t n = n_users, m = n_providers;
    Reader r = {b, HEADER_BYTES, length - TRAILER_BYTES, err};
    PrillmErrorCode rc;
    double weights[3] = {NAN, NAN, NAN};
    if ((rc = take_doubles(&r, weights, 3, "weights"))) goto fail;
    mk->w_price = weights[0];
    mk->w_congestion = weights[1];
    mk->w_delay = weights[2];
    for (size_t j = 0; j < m; j++)
        if ((rc = take_string(&r, "providers", (int)j, "id", 0, &mk->provider_id[j]))) goto fail;
    for (size_t i = 0; i < n; i++)
        if ((rc = take_string(&r, "users", (int)i, "id", 0, &mk->user_id[i]))) goto fail;
    if ((rc = take_doubles(&r, mk->price, m, "providers[].price"))) goto fail;
    if ((rc = take_doubles(&r, mk->capacity, m, "providers[].capacity"))) goto fail;
    if ((rc = take_doubles(&r, mk->value, m, "providers[].value"))) goto fail;
    if ((rc = take_doubles(&r, mk->cost, m, "providers[].cost"))) goto fail;
    if ((rc = take_doubles(&r, mk->latency, m, "providers[].latency"))) goto fail;
    if ((flags & FLAG_PRICE_MIN) && (rc = take_doubles(&r, mk->price_min, m, "providers[].price_min"))) goto fail;
    if ((flags & FLAG_PRICE_MAX) && (rc = take_doubles(&r, mk->price_max, m, "providers[].price_max"))) goto fail;
    if (flags & FLAG_OWNER)
        for (size_t j = 0; j < m; j++)
            if ((rc = take_string(&r, "providers", (int)j, "owner", 1, &mk->owner[j]))) goto fail;
    if ((rc = take_doubles(&r, mk->demand, n, "users[].demand"))) goto fail;
    if ((rc = take_doubles(&r, mk->delay, n * m, "delay"))) goto fail;
    if ((flags & FLAG_AFFINITY) && (rc = take_doubles(&r, mk->affinity, n * m, "affinity"))) goto fail;
    if (r.at != r.end) {
        rc = prillm__fail(err, PRILLM_ERR_PARSE,
                          "binary market: %zu bytes left over after the affinity section: header.flags and the "
                          "sections disagree",
                          r.end - r.at);
        goto fail;
    }
    /* the JSON form cannot hold a NaN where a number is required: the
     * validator says which field */
    if ((rc = prillm_market_validate(mk, err))) goto fail;
    *market = mk;
    prillm__clear_error(err);
    return PRILLM_OK;
fail:
    prillm_market_free(mk);
    return rc;
}

PrillmErrorCode prillm_market_read_binary(FILE *stream, PrillmMarket **market, PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__read_stream(stream, "the binary market", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_market_parse_binary(buf, len, market, err);
    free(buf);
    return rc;
}

PrillmErrorCode prillm_market_parse(const void *data, size_t length, PrillmWarnFn warn, void *warn_context,
                                    PrillmMarket **market, PrillmError *err) {
    if (prillm_market_is_binary(data, length)) return prillm_market_parse_binary(data, length, market, err);
    return prillm_market_parse_json(data, length, warn, warn_context, market, err);
}

PrillmErrorCode prillm_market_read(FILE *stream, PrillmWarnFn warn, void *warn_context, PrillmMarket **market,
                                   PrillmError *err) {
    if (market) *market = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__json_read_stream(stream, "the market", "error reading the market file", &buf, &len, err);
    if (rc) return rc;
    rc = prillm_market_parse(buf, len, warn, warn_context, market, err);
    free(buf);
    return rc;
}
