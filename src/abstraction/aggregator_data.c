/* The aggregation network's training data as a file: solved scenarios
 * (prillm_aggregator_scenarios, or prillm-sweep training-data over MPI
 * ranks) written once and trained on many times (prillm train-aggregator
 * --data). docs/aggregator.md, "Training data", gives the layout. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checksum_writer.h"
#include "little_endian.h"
#include "internal.h"
#include "json_document.h"

#include "prillm/aggregator.h"

static const unsigned char MAGIC[8] = {0x89, 'P', 'R', 'I', 'S', 'C', 'N', 0x1a};
enum { VERSION = 1, HEADER_BYTES = 20, RECORD_BYTES = 16, TRAILER_BYTES = 4 };
/* a description longer than this is a corrupted length */
#define MAX_DESCRIPTION (1u << 20)
#define MAX_PRICES 1000000u


/* ---- writing ---------------------------------------------------------- */

static void emit_u32(PrillmCrcWriter *w, uint32_t v) {
    unsigned char b[4];
    prillm__put_u32(b, v);
    prillm__crc_write(w, b, 4);
}

static void emit_doubles(PrillmCrcWriter *w, const double *x, int count) {
    unsigned char b[8];
    for (int k = 0; k < count; k++) {
        uint64_t bits;
        memcpy(&bits, &x[k], 8);
        prillm__put_u64(b, bits);
        prillm__crc_write(w, b, 8);
    }
}

PrillmErrorCode prillm_aggregator_scenarios_write(const PrillmAggregatorScenarios *scenarios, const char *description,
                                                  FILE *stream, PrillmError *err) {
    if (!scenarios || !stream || (scenarios->count > 0 && !scenarios->items) || scenarios->count < 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL scenarios or stream");
    size_t dlen = description ? strlen(description) : 0;
    if (dlen > MAX_DESCRIPTION)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the description is %zu bytes (at most %u)", dlen,
                            MAX_DESCRIPTION);
    for (int s = 0; s < scenarios->count; s++) {
        const PrillmAggregatorScenario *sc = &scenarios->items[s];
        if (!sc->market || sc->n_prices < 1 || (unsigned)sc->n_prices > MAX_PRICES || !sc->prices || !sc->profit)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                                "scenarios[%d] is not a solved scenario (market, 1..%u prices and profits)", s,
                                MAX_PRICES);
        if (sc->target < 0 || sc->target >= sc->market->n_providers)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenarios[%d].target %d is not a provider", s,
                                sc->target);
    }
    PrillmCrcWriter w = {stream, crc32(0L, Z_NULL, 0)};
    prillm__crc_write(&w, MAGIC, sizeof MAGIC);
    emit_u32(&w, VERSION);
    emit_u32(&w, (uint32_t)scenarios->count);
    emit_u32(&w, (uint32_t)dlen);
    prillm__crc_write(&w, description ? description : "", dlen);
    for (int s = 0; s < scenarios->count; s++) {
        const PrillmAggregatorScenario *sc = &scenarios->items[s];
        char *bytes = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&bytes, &size);
        if (!mem) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory writing scenarios[%d]", s);
        PrillmError inner = {PRILLM_OK, ""};
        PrillmErrorCode rc = prillm_market_write_binary(sc->market, mem, &inner);
        if (fclose(mem) && !rc) rc = prillm__fail(&inner, PRILLM_ERR_NO_MEMORY, "out of memory");
        if (rc) {
            free(bytes);
            return prillm__fail(err, rc, "scenarios[%d].market: %s", s, inner.message);
        }
        emit_u32(&w, (uint32_t)sc->target);
        emit_u32(&w, (uint32_t)sc->n_prices);
        emit_doubles(&w, sc->prices, sc->n_prices);
        emit_doubles(&w, sc->profit, sc->n_prices);
        unsigned char b[8];
        prillm__put_u64(b, (uint64_t)size);
        prillm__crc_write(&w, b, 8);
        prillm__crc_write(&w, bytes, size);
        free(bytes);
    }
    unsigned char b[4];
    prillm__put_u32(b, (uint32_t)w.crc);
    fwrite(b, 1, 4, stream);
    if (ferror(stream)) return prillm__fail(err, PRILLM_ERR_IO, "writing the scenario data failed");
    return PRILLM_OK;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct {
    const unsigned char *data;
    size_t length, at; /* length excludes the trailer */
    PrillmError *err;
} Reader;

static PrillmErrorCode need(Reader *r, size_t n, const char *field, int s) {
    if (r->length - r->at >= n) return PRILLM_OK;
    if (s < 0)
        return prillm__fail(r->err, PRILLM_ERR_PARSE,
                            "scenario data: truncated at %s (needs %zu bytes at offset %zu, %zu left)", field, n, r->at,
                            r->length - r->at);
    return prillm__fail(r->err, PRILLM_ERR_PARSE,
                        "scenario data: truncated at scenarios[%d].%s (needs %zu bytes at offset %zu, %zu left)", s,
                        field, n, r->at, r->length - r->at);
}

static double *read_doubles(Reader *r, uint32_t count) {
    double *x = malloc((size_t)count * sizeof *x);
    if (!x) return NULL;
    for (uint32_t k = 0; k < count; k++) {
        uint64_t bits = prillm__get_u64(r->data + r->at);
        memcpy(&x[k], &bits, 8);
        r->at += 8;
    }
    return x;
}

static PrillmErrorCode read_scenario(Reader *r, int s, PrillmAggregatorScenario *sc) {
    PrillmErrorCode rc;
    if ((rc = need(r, 8, "target", s))) return rc;
    uint32_t target = prillm__get_u32(r->data + r->at), L = prillm__get_u32(r->data + r->at + 4);
    r->at += 8;
    if (L < 1 || L > MAX_PRICES)
        return prillm__fail(r->err, PRILLM_ERR_PARSE, "scenario data: scenarios[%d].n_prices is %u (1..%u): corrupted",
                            s, L, MAX_PRICES);
    if ((rc = need(r, (size_t)L * 16, "prices", s))) return rc;
    sc->n_prices = (int)L;
    sc->prices = read_doubles(r, L);
    sc->profit = sc->prices ? read_doubles(r, L) : NULL;
    if (!sc->prices || !sc->profit)
        return prillm__fail(r->err, PRILLM_ERR_NO_MEMORY, "out of memory reading scenarios[%d]", s);
    for (uint32_t k = 0; k < L; k++) {
        if (!isfinite(sc->prices[k]))
            return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA, "scenario data: scenarios[%d].prices[%u] is not finite",
                                s, k);
        if (!isfinite(sc->profit[k]))
            return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA, "scenario data: scenarios[%d].profit[%u] is not finite",
                                s, k);
    }
    if ((rc = need(r, 8, "market_bytes", s))) return rc;
    uint64_t size = prillm__get_u64(r->data + r->at);
    r->at += 8;
    if (size > r->length - r->at)
        return prillm__fail(r->err, PRILLM_ERR_PARSE,
                            "scenario data: scenarios[%d].market_bytes is %llu but %zu bytes are left: corrupted", s,
                            (unsigned long long)size, r->length - r->at);
    PrillmError inner = {PRILLM_OK, ""};
    rc = prillm_market_parse_binary(r->data + r->at, (size_t)size, &sc->market, &inner);
    if (rc) return prillm__fail(r->err, rc, "scenario data: scenarios[%d].market: %s", s, inner.message);
    r->at += (size_t)size;
    if (target >= (uint32_t)sc->market->n_providers)
        return prillm__fail(r->err, PRILLM_ERR_INVALID_DATA,
                            "scenario data: scenarios[%d].target %u is not a provider of its market (0..%d)", s, target,
                            sc->market->n_providers - 1);
    sc->target = (int)target;
    return PRILLM_OK;
}

PrillmErrorCode prillm_aggregator_scenarios_parse(const void *data, size_t length, PrillmAggregatorScenarios *out,
                                                  char **description, PrillmError *err) {
    if (description) *description = NULL;
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenarios output is NULL");
    out->count = 0;
    out->items = NULL;
    if (!data && length) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL data");
    if (length > PRILLM_MAX_INPUT_BYTES) return prillm__input_too_large(err, "the scenario data", PRILLM_MAX_INPUT_BYTES);
    const unsigned char *bytes = data;
    if (length < sizeof MAGIC || memcmp(bytes, MAGIC, sizeof MAGIC) != 0)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "scenario data: the file does not start with the magic bytes of prillm's scenario data "
                            "(written by prillm train-aggregator --save-data or prillm-sweep training-data)");
    if (length < HEADER_BYTES + TRAILER_BYTES)
        return prillm__fail(err, PRILLM_ERR_PARSE, "scenario data: truncated header (%zu bytes, needs %d)", length,
                            HEADER_BYTES + TRAILER_BYTES);
    uint32_t version = prillm__get_u32(bytes + 8);
    if (version != VERSION)
        return prillm__fail(err, PRILLM_ERR_PARSE, "scenario data: version is %u; this prillm reads version %d",
                            version, VERSION);
    /* the checksum first: a corrupted length is then an error about it */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0, left = length - TRAILER_BYTES; left > 0;) {
        uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, bytes + at, step);
        at += step;
        left -= step;
    }
    uint32_t stored = prillm__get_u32(bytes + length - TRAILER_BYTES);
    if ((uint32_t)crc != stored)
        return prillm__fail(err, PRILLM_ERR_PARSE,
                            "scenario data: checksum mismatch (stored crc32 0x%08x, computed 0x%08x): the file is "
                            "corrupted or truncated",
                            stored, (unsigned)(uint32_t)crc);
    Reader r = {bytes, length - TRAILER_BYTES, 12, err};
    uint32_t count = prillm__get_u32(bytes + 12), dlen = prillm__get_u32(bytes + 16);
    r.at = HEADER_BYTES;
    if (dlen > MAX_DESCRIPTION || dlen > r.length - r.at)
        return prillm__fail(err, PRILLM_ERR_PARSE, "scenario data: the description's length %u is corrupted", dlen);
    const char *text = (const char *)bytes + r.at;
    r.at += dlen;
    if (count > (r.length - r.at) / RECORD_BYTES || count > (uint32_t)INT32_MAX)
        return prillm__fail(err, PRILLM_ERR_PARSE, "scenario data: count %u does not fit in %zu bytes", count,
                            r.length - r.at);
    if (count && !(out->items = prillm__calloc(count, sizeof *out->items)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for %u scenarios", count);
    out->count = (int)count;
    PrillmErrorCode rc = PRILLM_OK;
    for (uint32_t s = 0; s < count && !rc; s++) rc = read_scenario(&r, (int)s, &out->items[s]);
    if (!rc && r.at != r.length)
        rc = prillm__fail(err, PRILLM_ERR_PARSE, "scenario data: %zu bytes left over after scenarios[%u]",
                          r.length - r.at, count ? count - 1 : 0);
    if (!rc && description) {
        if (!(*description = malloc((size_t)dlen + 1))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the description");
        } else {
            memcpy(*description, text, dlen);
            (*description)[dlen] = '\0';
        }
    }
    if (rc) prillm_aggregator_scenarios_free(out);
    return rc;
}

PrillmErrorCode prillm_aggregator_scenarios_read(FILE *stream, PrillmAggregatorScenarios *out, char **description,
                                                 PrillmError *err) {
    if (description) *description = NULL;
    if (out) out->count = 0, out->items = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL stream");
    char *data = NULL;
    size_t length = 0;
    PrillmErrorCode rc = prillm__read_stream(stream, "the scenario data", &data, &length, err);
    if (!rc) rc = prillm_aggregator_scenarios_parse(data, length, out, description, err);
    free(data);
    return rc;
}
