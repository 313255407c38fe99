/*
 * prillm internals: not part of the public API. Names start with prillm__.
 */
#ifndef PRILLM_INTERNAL_H
#define PRILLM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "prillm/prillm.h"

#if defined(__GNUC__)
#define PRILLM__PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define PRILLM__PRINTF(fmt_index, first_arg)
#endif

/* A hot loop compiled twice, for AVX2 and for the x86-64 baseline (SSE2),
 * the one the CPU can run picked when the library loads (GCC's function
 * multiversioning). Either way the same IEEE operations run in the same
 * order (an ISO C build does not contract a * b + c into FMA, and AVX2
 * alone has none), so the results are the same bit for bit on every
 * machine: only four doubles per instruction instead of two. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PRILLM__VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PRILLM__VECTOR_CLONES
#endif

/* Ask for the cache line holding *p before it is read (a hint: it changes
 * no result). Scattered reads of an n x m array at the pattern's pairs miss
 * the cache one by one; asked for a few rows ahead, they overlap. */
#if defined(__GNUC__)
#define PRILLM__PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define PRILLM__PREFETCH_WRITE(p) __builtin_prefetch((p), 1, 3)
#else
#define PRILLM__PREFETCH(p) ((void)(p))
#define PRILLM__PREFETCH_WRITE(p) ((void)(p))
#endif

/* Fill err (if not NULL) and return code. */
PrillmErrorCode prillm__fail(PrillmError *err, PrillmErrorCode code, const char *fmt, ...)
    PRILLM__PRINTF(3, 4);
void prillm__clear_error(PrillmError *err);

/* Monotonic wall clock, seconds. */
double prillm__now(void);

/* calloc that refuses overflowing products. An array of 2 MiB or more
 * (an n x m array of a large market) is asked for in transparent huge
 * pages (madvise, where the kernel has them): it is then faulted in 2 MiB
 * at a time instead of 4 KiB, and a 5000 x 500 price call took about
 * 39,000 page faults, a fifth of its time, with every array faulted page
 * by page. PRILLM_HUGE_PAGES=0 in the environment turns the advice off.
 * Free it with free(). */
void *prillm__calloc(size_t count, size_t size);
/* The same without zeroing, for an array written whole before it is read:
 * a large calloc served from memory freed earlier (glibc's heap, after the
 * mmap threshold has risen) clears every byte first, 20 MB for an n x m
 * array at 5000 x 500. */
void *prillm__malloc_array(size_t count, size_t size);
/* realloc to count * size bytes, the same way (NULL: p is left as it was) */
void *prillm__realloc_array(void *p, size_t count, size_t size);
char *prillm__strdup(const char *text);

/* qsort's comparison of ints, ascending */
static inline int prillm__compare_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The next set flag of row[0..m) at or after j (m if none). Eight flags
 * are read at once and a clear word is skipped: active-set rows are long
 * and mostly clear (about 1% set at 10000 x 500). */
static inline int prillm__next_flag(const unsigned char *row, int j, int m) {
    while (j + 8 <= m) {
        uint64_t word;
        memcpy(&word, row + j, sizeof word);
        if (word) break;
        j += 8;
    }
    while (j < m && !row[j]) j++;
    return j;
}

/* How many of row[0..m) are set (nonzero), eight at a time without a
 * branch per flag: a word's clear bytes are found with carry-free
 * arithmetic and counted. */
static inline int prillm__count_flags(const unsigned char *row, int m) {
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    int count = 0, j = 0;
    for (; j + 8 <= m; j += 8) {
        uint64_t word;
        memcpy(&word, row + j, sizeof word);
        /* the top bit of each byte: set iff the byte is zero; moved to
         * the byte's low bit and summed into the top byte by one multiply
         * (no popcount instruction on the baseline x86-64) */
        uint64_t zero = ~(((word & low7) + low7) | word | low7);
        count += 8 - (int)(((zero >> 7) * 0x0101010101010101ULL) >> 56);
    }
    for (; j < m; j++) count += row[j] != 0;
    return count;
}

/* The set flags of row[0..m), ascending, into out; returns how many. A clear
 * word of eight flags is skipped, a word with one set is listed without
 * branches: out needs room for the count plus 8 (each entry is written
 * before the count says whether it is kept). */
static inline int prillm__list_flags(const unsigned char *row, int m, int *out) {
    int k = 0, j = 0;
    for (; j + 8 <= m; j += 8) {
        uint64_t word;
        memcpy(&word, row + j, sizeof word);
        if (!word) continue;
        for (int b = 0; b < 8; b++) {
            out[k] = j + b;
            k += row[j + b] != 0;
        }
    }
    for (; j < m; j++) {
        out[k] = j;
        k += row[j] != 0;
    }
    return k;
}

/* The positions in list[0..count) of the providers not among
 * pattern[0..k), ascending, into open_at; returns how many. The pattern is
 * marked in mark (m bytes, all 0 before and after: they stay in cache) and
 * the list read without a branch per entry: neither the row's n x m flags
 * (a cache miss or two a row) nor a merge of the two lists by provider
 * (branches that went either way). */
static inline int prillm__open_entries(const int *list, int count, const int *pattern, int k, unsigned char *mark,
                                       int *open_at) {
    int open = 0;
    for (int t = 0; t < k; t++) mark[pattern[t]] = 1;
    for (int q = 0; q < count; q++) {
        open_at[open] = q;
        open += !mark[list[q]];
    }
    for (int t = 0; t < k; t++) mark[pattern[t]] = 0;
    return open;
}

/* Fill n doubles with NaN. */
void prillm__fill_nan(double *x, size_t n);
/* The optional competition fields of provider j, NULL arrays read as absent:
 * NaN bounds, no owner. */
/* A copy of src whose delay and affinity are src's own arrays, not copies
 * (the n x m part: 40 MB at 5000 x 500, copied by every pricing call's
 * solver): for a copy that never outlives src and never writes them.
 * Freed with prillm__market_free_sharing_pairs, which leaves them to src. */
PrillmMarket *prillm__market_copy_sharing_pairs(const PrillmMarket *src, PrillmError *err);
void prillm__market_free_sharing_pairs(PrillmMarket *mk);

double prillm__market_price_min(const PrillmMarket *mk, int j);
double prillm__market_price_max(const PrillmMarket *mk, int j);
const char *prillm__market_owner(const PrillmMarket *mk, int j);

/* The price-independent part of user i's cost per unit of flow on provider
 * j: c_ij = w_price * price_j + prillm__static_cost(mk, i, j) (plus
 * congestion). Every solver, pricing method and check builds c_ij from this
 * one definition, so a new term of the cost (the affinity) cannot be
 * forgotten in one of them; and the price enters c_ij only through
 * w_price * price_j, so moving a price moves that column by exactly
 * w_price per unit, whatever the rest (the exact pricing walk and
 * prillm_equilibrium_update_price rely on that, and now agree bit for bit
 * on the target's column). */
static inline double prillm__static_cost(const PrillmMarket *mk, int i, int j) {
    size_t k = (size_t)i * (size_t)mk->n_providers + (size_t)j;
    return mk->w_delay * mk->delay[k] - mk->value[j] - mk->affinity[k];
}

/* c_ij at a given price of provider j. */
static inline double prillm__user_cost(const PrillmMarket *mk, int i, int j, double price) {
    return mk->w_price * price + prillm__static_cost(mk, i, j);
}

/* Solve the market's equilibrium QP with Ipopt (the generic reference
 * solver). flows is [n_users * n_providers]; on success it holds Ipopt's
 * answer (negative round-off clipped to 0), *iterations Ipopt's count.
 * Returns PRILLM_ERR_SOLVER with Ipopt's status text if Ipopt fails, and
 * PRILLM_ERR_UNAVAILABLE when built without Ipopt. */
PrillmErrorCode prillm__equilibrium_ipopt(const PrillmMarket *market, double tolerance,
                                          double time_limit, int verbose, double *flows,
                                          int *iterations, PrillmError *err);

/* prillm_equilibrium_setup of a market the caller has just validated
 * (prillm_market_validate reads every delay and taste: at 5000 x 500 it
 * took as long as a warm solve, and pricing every provider validated the
 * same market once per target). The solver reads the market's delays and
 * tastes where they are (prillm__market_copy_sharing_pairs), so the market
 * must outlive it and every solver set up from it (setup_from, moved). */
PrillmErrorCode prillm__equilibrium_setup_validated(PrillmEquilibriumSolver **out, const PrillmMarket *market,
                                                    const PrillmEquilibriumSettings *settings, PrillmError *err);

/* A new solver on the market a solved one now describes (its prices
 * included), starting warm from that solver's answer: its flows,
 * multipliers, exact active set and status are copied, its factorisation is
 * rebuilt by the next solve. The source is only read, so threads may start
 * from one shared solver at once. From a solver set up by _validated (or
 * from one), the new solver reads that market's delays and tastes where
 * they are, so that market must outlive it. */
PrillmErrorCode prillm__equilibrium_setup_from(PrillmEquilibriumSolver **out, const PrillmEquilibriumSolver *from,
                                               PrillmError *err);
/* prillm__equilibrium_setup_from for a solver about to be cleaned up: its
 * market copy, costs, flows, multipliers and active set are taken over
 * instead of copied (it keeps only what cleanup frees), so the new solver
 * is what setup_from would give, without two n x m copies. */
PrillmErrorCode prillm__equilibrium_setup_moved(PrillmEquilibriumSolver **out, PrillmEquilibriumSolver *from,
                                                PrillmError *err);

/* The next solve (exact method) starts its active-set rounds from `active`
 * (n x m flags, copied) instead of the last solve's set: a caller that
 * already knows the equilibrium's support at the new prices (the pricing
 * walk's set on the piece holding the price) saves the correction rounds.
 * Only a start: the solve corrects a wrong set and certifies its answer as
 * always. Call after update_price, before solve. */
void prillm__equilibrium_seed_active(PrillmEquilibriumSolver *solver, const unsigned char *active);

/* The exact method's candidates' screen (equilibrium.c, Screen): on (1, the
 * default) or off (0: every correction round reads every cost, as before
 * the screen; the rounds, active sets and flows are the same either way).
 * The counters add up over the solver's life: screen rebuilds (a round that
 * reads every row), rows tested on their short list, and rows read in full
 * in a round that used the screen. For tests and benchmarks. */
void prillm__equilibrium_set_screen(PrillmEquilibriumSolver *solver, int on);
/* The cap on the pairs a row takes in a correction round (equilibrium.c,
 * ENTER_CAP): on (1, the default) or off (0: every candidate enters, as
 * before the cap); and the rows it has capped over the solver's life, of
 * them (listed) those a screened round tested on their list. For tests
 * and benchmarks. */
void prillm__equilibrium_set_enter_cap(PrillmEquilibriumSolver *solver, int on);
long prillm__equilibrium_capped_rows(const PrillmEquilibriumSolver *solver, long *listed);
/* Rows the sweeps read from the last sweep's listed flows, and rows whose
 * water-filling was told the groups that can lie below the multiplier
 * (tests: the paths were taken). */
void prillm__equilibrium_sweep_counters(const PrillmEquilibriumSolver *solver, long *rows_listed, long *rows_grouped);
/* The screened rows' pairs in the columns tested pair by pair: settled by
 * the column's own bound (their cost not read), read, and of those read
 * the pairs that entered (tests). */
void prillm__equilibrium_column_counters(const PrillmEquilibriumSolver *solver, long *spared, long *read,
                                         long *entered);
/* Tests: check every spared pair's column bound against its cost read
 * after all; how many were checked and how many broke it. */
void prillm__equilibrium_check_column_bounds(PrillmEquilibriumSolver *solver, int on);
void prillm__equilibrium_column_bound_checks(const PrillmEquilibriumSolver *solver, long *checked, long *broken);
void prillm__equilibrium_screen_counters(const PrillmEquilibriumSolver *solver, long *rebuilds, long *listed_rows,
                                         long *full_rows);
/* The active set (n*m flags) of the last solve when it ended solved by the
 * exact method, else NULL: what prillm__equilibrium_seed_active takes. */
const unsigned char *prillm__equilibrium_last_set(const PrillmEquilibriumSolver *solver);
/* The same set by rows (user i's providers prov[start[i] .. start[i+1]),
 * ascending), read from the solver's factored pattern without a pass over
 * the n x m flags: 1, or 0 when the solver cannot give it (then use the
 * flags). The arrays are the solver's, valid until its next call. */
int prillm__equilibrium_last_set_rows(const PrillmEquilibriumSolver *solver, const int **start, const int **prov);
/* The last solve's flows by rows, exactly their nonzeros (user i's at
 * providers index[start[i] .. start[i+1]), ascending, values in value),
 * read from its certificate without a pass over the n x m flows: 1, or 0
 * when the solver cannot give them (then read solution.flows). The arrays
 * are the solver's, valid until its next call. */
int prillm__equilibrium_flow_pack(const PrillmEquilibriumSolver *solver, const int **start, const int **index,
                                  const double **value);
/* prillm__equilibrium_seed_active for a set that differs from the last one
 * at a few pairs: active[pairs[k]] := in[k] in order (k < count). Nothing
 * when there is no last set (prillm__equilibrium_last_set is NULL). */
void prillm__equilibrium_seed_pairs(PrillmEquilibriumSolver *solver, const long *pairs, const unsigned char *in,
                                    long count);
/* prillm__equilibrium_seed_active for a set given by rows: user i's
 * providers are prov[start[i] .. start[i+1]), ascending. After a solved
 * exact solve only the rows that differ from its set are rewritten, and the
 * first round rebuilds only their part of the pattern. */
void prillm__equilibrium_seed_rows(PrillmEquilibriumSolver *solver, const int *start, const int *prov);
/* The price of provider j in the solver's copy of the market (the last
 * prillm_equilibrium_update_price, else the market's). */
double prillm__equilibrium_price(const PrillmEquilibriumSolver *solver, int j);
/* Every user's cost offsets c_ij (n*m) at the solver's prices: the
 * market's until prillm_equilibrium_update_price moves a column. */
const double *prillm__equilibrium_costs(const PrillmEquilibriumSolver *solver);
/* The segment of an exact curve (sorted by price) whose interval starts at
 * or below p, the first one when none does; -1 without a curve
 * (prillm_price_curve_flow reads the flow off it). */
int prillm__curve_segment(const PrillmPriceResult *result, double p);

/* Rows of the certificate whose zero flows the screen's bound settled
 * without reading their costs (certify_packed), since setup. */
long prillm__equilibrium_cert_rows_bounded(const PrillmEquilibriumSolver *solver);

/* The exact method's local start after update_price (equilibrium.c,
 * local_sweep): on (1, the default) or off (0: a warm solve starts from the
 * last exact set as it is). For tests. */
void prillm__equilibrium_set_local_start(PrillmEquilibriumSolver *solver, int on);

/* Keep the outputs (1) or clear them (0, the default) at update_price.
 * Public callers see NaN until the next solve, never a stale answer; that
 * costs a pass over the n x m flows to fill and another to pack the warm
 * start. An internal caller that reads the outputs only after a solve
 * (the pricing walk's solver) keeps them: a warm re-solve then touches
 * the active pairs and the rows that change, not every flow. The solves'
 * answers are the same bit for bit either way. */
void prillm__equilibrium_set_keep_outputs(PrillmEquilibriumSolver *solver, int on);

/* An exact solve's point is polished user by user on its support (for the
 * digits of tiny users' splits) before its certificate; with lazy polish
 * on, the certificate comes first and the polish only when it fails. The
 * answer is certified to the same tolerance either way, its KKT residual
 * typically 1e-12 instead of 1e-14 at 5000 x 500. For the solves a caller
 * only needs certified (the exact pricing method's samples and the curve's
 * checks: the polish was a fifth of a check's time); a published answer
 * keeps the polish (off, the default; prillm__price_score_published). */
void prillm__equilibrium_set_lazy_polish(PrillmEquilibriumSolver *solver, int on);
/* How many exact points certified unpolished (lazy polish on): tests. */
long prillm__equilibrium_lazy_certified(const PrillmEquilibriumSolver *solver);

/* Where the flows can be nonzero is tracked (1, the default: see
 * f_support in equilibrium.c) or not (0: every clear, pack and sum of
 * the flows passes over all n x m of them, as before the tracking). The
 * answers are the same bit for bit; tests compare the two. */
void prillm__equilibrium_set_support_tracking(PrillmEquilibriumSolver *solver, int on);

/* An exact round's factor update is told the rows the last round changed
 * (1, the default: see round_rows in equilibrium.c) or compares every flag
 * (0). The same factor and answers bit for bit; tests compare the two, and
 * read how many updates were told the rows since setup. */
void prillm__equilibrium_set_row_hints(PrillmEquilibriumSolver *solver, int on);
long prillm__equilibrium_rows_told(const PrillmEquilibriumSolver *solver);

#endif

/* JSON output helpers shared by the library's writers and the CLI. */
#include <stdio.h>
void prillm__json_string(FILE *out, const char *text);
/* A finite number round-trips; a non-finite one prints as null. */
void prillm__json_number(FILE *out, double value);
/* CSV field: quoted when it holds a comma, quote or newline. */
void prillm__csv_field(FILE *out, const char *text);

/* UTF-8 (src/io/utf8.c), strict: no overlong forms, surrogates or code
 * points above U+10FFFF. The length (1..4) of the valid sequence at s, or 0;
 * and the offset of the first byte of text[0..length) that is not part of a
 * valid sequence, length if there is none. */
size_t prillm__utf8_sequence(const unsigned char *s, size_t n);
size_t prillm__utf8_invalid_at(const char *text, size_t length);
