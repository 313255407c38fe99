/*
 * prillm — the market: providers (LLM services), users (apps) and the
 * weights of the users' cost.
 *
 * Units, used everywhere in prillm:
 *   price, value,        USD per million tokens
 *     affinity, cost
 *   demand, capacity,    millions of tokens per period
 *     flows
 *   delay, latency       seconds
 * User i's cost of sending f_ij to provider j is
 *   f_ij * (w_price * price_j + w_congestion * F_j / capacity_j
 *           + w_delay * delay_ij - value_j - affinity_ij),
 * where F_j is provider j's total flow. Only cost differences between
 * providers move an app's traffic: adding a constant to one app's whole
 * affinity row changes no flow, and adding t to one provider's column for
 * every app is the same as value_j += t.
 */
#ifndef PRILLM_MARKET_H
#define PRILLM_MARKET_H

#include "prillm/export.h"

#include <stddef.h>
#include <stdio.h>

#include "prillm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_users;
    int n_providers;

    double w_price;      /* weight of price (1 in a calibrated market)     */
    double w_congestion; /* weight of congestion F_j / capacity_j, > 0      */
    double w_delay;      /* weight of delay, >= 0                          */

    char **provider_id;  /* [n_providers], unique                          */
    double *price;       /* [n_providers], finite                          */
    double *capacity;    /* [n_providers], > 0                             */
    double *value;       /* [n_providers], perceived value b_j, finite     */
    double *cost;        /* [n_providers], marginal serving cost; NaN = not given */
    double *latency;     /* [n_providers], NaN = not given                 */

    char **user_id;      /* [n_users], unique                              */
    double *demand;      /* [n_users], >= 0                                */

    double *delay;       /* [n_users * n_providers], row-major: delay[i*m+j] */
    double *affinity;    /* [n_users * n_providers], row-major: app i's taste
                            for provider j beyond value_j (USD/Mtok), either
                            sign, finite; 0 by default, never NULL in an
                            allocated market; JSON key "affinity"         */

    /* Competition (docs/competition.md). Appended so that the fields above
     * keep their offsets; each array may be NULL (= nothing given), which a
     * market built by hand gets by zeroing the struct. */
    char **owner;        /* [n_providers], who sells the model; NULL entry =
                            the model is its own owner                     */
    double *price_min;   /* [n_providers], price floor >= 0; NaN = none    */
    double *price_max;   /* [n_providers], price cap > 0; NaN = none       */
} PrillmMarket;

/* Every number in a market must satisfy |x| <= PRILLM_MAX_MAGNITUDE, and
 * every congestion slope w_congestion / capacity_j must lie within
 * [1/PRILLM_MAX_MAGNITUDE, PRILLM_MAX_MAGNITUDE]: the solvers multiply and
 * add these numbers, and the limit keeps every intermediate product far
 * from overflow. Real markets are many orders of magnitude inside it. */
#define PRILLM_MAX_MAGNITUDE 1e100

/* The largest input prillm reads, in bytes: a market, model or other JSON
 * file, a CSV file (after gzip decompression). Larger input is refused with
 * "input exceeds the 1 GiB limit" rather than read without end (a pipe that
 * never stops, /dev/zero, a gzip bomb). See docs/market-format.md, Limits. */
#define PRILLM_MAX_INPUT_BYTES ((size_t)1 << 30)

/* Allocate a market of the given size with every number NaN, every id NULL
 * and weights (1, 1, 1). Returns NULL (and fills err) on failure. */
PRILLM_API PrillmMarket *prillm_market_alloc(int n_users, int n_providers, PrillmError *err);
PRILLM_API void prillm_market_free(PrillmMarket *market);
/* Deep copy. */
PRILLM_API PrillmMarket *prillm_market_copy(const PrillmMarket *market, PrillmError *err);
/* The market restricted to some users and providers (index lists, in the
 * order given; NULL keeps all of them, in order). Demands and every
 * provider attribute are kept as they are. */
PRILLM_API PrillmMarket *prillm_market_subset(const PrillmMarket *market, const int *users, int n_users, const int *providers,
                                   int n_providers, PrillmError *err);

/* Check every number and id; the first problem found is reported by field
 * and index (e.g. "providers[2].capacity must be > 0, got -1"). Also
 * refused: a user with demand whose affinity row, or every value, holds a
 * common part over 1e6 times the rest of its costs (a constant that
 * changes no flow but costs the differences their digits); the message
 * names the part to subtract (docs/market-format.md). */
PRILLM_API PrillmErrorCode prillm_market_validate(const PrillmMarket *market, PrillmError *err);

/* Index of the provider / user with this id, or -1. */
PRILLM_API int prillm_market_provider_index(const PrillmMarket *market, const char *id);
PRILLM_API int prillm_market_user_index(const PrillmMarket *market, const char *id);

/* Called once per warning (unknown key, delay filled from latency, ...). */
typedef void (*PrillmWarnFn)(void *context, const char *message);

/* Parse a market from JSON text (the format in docs/market-format.md) and
 * validate it. On failure *market is NULL and err says what and where. */
PRILLM_API PrillmErrorCode prillm_market_parse_json(const char *text, size_t length,
                                         PrillmWarnFn warn, void *warn_context,
                                         PrillmMarket **market, PrillmError *err);
/* Same, reading the whole stream first. */
PRILLM_API PrillmErrorCode prillm_market_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                        PrillmMarket **market, PrillmError *err);
/* Write the market as JSON that prillm_market_parse_json reads back exactly.
 * "affinity" is written only when some entry is non-zero. */
PRILLM_API PrillmErrorCode prillm_market_write_json(const PrillmMarket *market, FILE *stream,
                                         PrillmError *err);

/* The compact binary form (docs/market-format.md, "Binary form"): a
 * 40-byte header (magic bytes "\x89PRILLM\x1a", format version, byte-order
 * mark, flags saying which optional arrays follow, the sizes and the whole
 * file's size), the weights, the ids as length-prefixed UTF-8, every array
 * of the market as little-endian IEEE doubles (NaN = not given, kept bit for
 * bit), and a CRC-32 (zlib) of everything before it. Reading it is a copy:
 * a 10000 x 500 market loads in a fraction of a second.
 *
 * prillm_market_write_binary validates the market first (a market the
 * readers would refuse is not written). prillm_market_parse_binary checks
 * the magic, version, byte order, flags, the size against the data's, the
 * checksum, every length before using it, and then runs
 * prillm_market_validate: a truncated or corrupted file is an error
 * (PRILLM_ERR_PARSE, "binary market: ...", naming the field), a well-formed
 * file holding an invalid market an error naming the field as the JSON
 * reader does (PRILLM_ERR_INVALID_DATA). On failure *market is NULL.
 * The input is limited to PRILLM_MAX_INPUT_BYTES, as JSON is. */
PRILLM_API PrillmErrorCode prillm_market_write_binary(const PrillmMarket *market, FILE *stream, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_market_parse_binary(const void *data, size_t length, PrillmMarket **market,
                                                      PrillmError *err);
/* Same, reading the whole stream first. */
PRILLM_API PrillmErrorCode prillm_market_read_binary(FILE *stream, PrillmMarket **market, PrillmError *err);
/* 1 when data starts with the binary form's magic bytes, else 0. */
PRILLM_API int prillm_market_is_binary(const void *data, size_t length);
/* Either form, told apart by the magic bytes: the binary reader for a
 * binary market, else the JSON reader (warn is used by JSON only). */
PRILLM_API PrillmErrorCode prillm_market_parse(const void *data, size_t length, PrillmWarnFn warn,
                                               void *warn_context, PrillmMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_market_read(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                              PrillmMarket **market, PrillmError *err);

/* A random market for tests and benchmarks, reproducible from the seed on
 * every platform: log-normal prices around $1/Mtok, capacities sized so that
 * congestion matters, heavy-tailed demands, per-user delays around each
 * provider's latency, weights (1, 0.8, 0.5) and no affinities (all 0). */
PRILLM_API PrillmMarket *prillm_market_random(int n_users, int n_providers, unsigned long long seed, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
