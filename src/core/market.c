/* The market: allocation, copying, lookups and validation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* with_pairs 0: delay and affinity left NULL (a copy that shares them) */
static PrillmMarket *market_alloc(int n_users, int n_providers, int with_pairs, PrillmError *err) {
    if (n_users < 1 || n_providers < 1) {
        prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                     "empty market: need at least one user and one provider (got %d users, %d providers)",
                     n_users, n_providers);
        return NULL;
    }
    size_t n = (size_t)n_users, m = (size_t)n_providers;
    PrillmMarket *mk = prillm__calloc(1, sizeof *mk);
    if (!mk) goto oom;
    mk->n_users = n_users;
    mk->n_providers = n_providers;
    mk->w_price = mk->w_congestion = mk->w_delay = 1.0;
    mk->provider_id = prillm__calloc(m, sizeof(char *));
    mk->user_id = prillm__calloc(n, sizeof(char *));
    mk->price = malloc(m * sizeof(double));
    mk->capacity = malloc(m * sizeof(double));
    mk->value = malloc(m * sizeof(double));
    mk->cost = malloc(m * sizeof(double));
    mk->latency = malloc(m * sizeof(double));
    mk->demand = malloc(n * sizeof(double));
    if (with_pairs) {
        mk->delay = (n > ((size_t)-1) / sizeof(double) / m) ? NULL : prillm__malloc_array(n * m, sizeof(double));
        /* affinities default to 0: a market without app tastes */
        mk->affinity = (n > ((size_t)-1) / sizeof(double) / m) ? NULL : prillm__calloc(n * m, sizeof(double));
    }
    mk->owner = prillm__calloc(m, sizeof(char *));
    mk->price_min = malloc(m * sizeof(double));
    mk->price_max = malloc(m * sizeof(double));
    if (!mk->provider_id || !mk->user_id || !mk->price || !mk->capacity || !mk->value ||
        !mk->cost || !mk->latency || !mk->demand || (with_pairs && (!mk->delay || !mk->affinity)) || !mk->owner ||
        !mk->price_min || !mk->price_max)
        goto oom;
    prillm__fill_nan(mk->price_min, m);
    prillm__fill_nan(mk->price_max, m);
    prillm__fill_nan(mk->price, m);
    prillm__fill_nan(mk->capacity, m);
    prillm__fill_nan(mk->value, m);
    prillm__fill_nan(mk->cost, m);
    prillm__fill_nan(mk->latency, m);
    prillm__fill_nan(mk->demand, n);
    if (with_pairs) prillm__fill_nan(mk->delay, n * m);
    return mk;
oom:
    prillm_market_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating a market of %d users x %d providers",
                 n_users, n_providers);
    return NULL;
}

PrillmMarket *prillm_market_alloc(int n_users, int n_providers, PrillmError *err) {
    return market_alloc(n_users, n_providers, 1, err);
}

void prillm_market_free(PrillmMarket *mk) {
    if (!mk) return;
    if (mk->provider_id)
        for (int j = 0; j < mk->n_providers; j++) free(mk->provider_id[j]);
    if (mk->user_id)
        for (int i = 0; i < mk->n_users; i++) free(mk->user_id[i]);
    if (mk->owner)
        for (int j = 0; j < mk->n_providers; j++) free(mk->owner[j]);
    free(mk->owner);
    free(mk->price_min);
    free(mk->price_max);
    free(mk->provider_id);
    free(mk->user_id);
    free(mk->price);
    free(mk->capacity);
    free(mk->value);
    free(mk->cost);
    free(mk->latency);
    free(mk->demand);
    free(mk->delay);
    free(mk->affinity);
    free(mk);
}

PrillmMarket *prillm_market_copy(const PrillmMarket *src, PrillmError *err) {
    if (!src) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
        return NULL;
    }
    return prillm_market_subset(src, NULL, src->n_users, NULL, src->n_providers, err);
}

static PrillmMarket *market_subset(const PrillmMarket *src, const int *users, int n_users, const int *providers,
                                   int n_providers, int share_pairs, PrillmError *err);

PrillmMarket *prillm_market_subset(const PrillmMarket *src, const int *users, int n_users, const int *providers,
                                   int n_providers, PrillmError *err) {
    return market_subset(src, users, n_users, providers, n_providers, 0, err);
}

PrillmMarket *prillm__market_copy_sharing_pairs(const PrillmMarket *src, PrillmError *err) {
    if (!src) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
        return NULL;
    }
    return market_subset(src, NULL, src->n_users, NULL, src->n_providers, 1, err);
}

void prillm__market_free_sharing_pairs(PrillmMarket *mk) {
    if (!mk) return;
    mk->delay = mk->affinity = NULL;
    prillm_market_free(mk);
}

/* share_pairs (every user and provider kept): delay and affinity point to
 * src's instead of copies */
static PrillmMarket *market_subset(const PrillmMarket *src, const int *users, int n_users, const int *providers,
                                   int n_providers, int share_pairs, PrillmError *err) {
    if (!src) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
        return NULL;
    }
    for (int k = 0; users && k < n_users; k++)
        if (users[k] < 0 || users[k] >= src->n_users) {
            prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "users[%d] = %d is not a user index (0..%d)", k, users[k],
                         src->n_users - 1);
            return NULL;
        }
    for (int k = 0; providers && k < n_providers; k++)
        if (providers[k] < 0 || providers[k] >= src->n_providers) {
            prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "providers[%d] = %d is not a provider index (0..%d)", k,
                         providers[k], src->n_providers - 1);
            return NULL;
        }
    if ((!users && n_users != src->n_users) || (!providers && n_providers != src->n_providers)) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "a NULL index list must keep every user / provider");
        return NULL;
    }
    share_pairs = share_pairs && !users && !providers;
    PrillmMarket *mk = market_alloc(n_users, n_providers, !share_pairs, err);
    if (!mk) return NULL;
    size_t M = (size_t)src->n_providers;
    /* shared: src's arrays, which the copy's users only read (src is const
     * to them; prillm__market_free_sharing_pairs leaves them to src) */
    if (share_pairs) mk->delay = src->delay, mk->affinity = src->affinity;
    mk->w_price = src->w_price;
    mk->w_congestion = src->w_congestion;
    mk->w_delay = src->w_delay;
    for (int b = 0; b < n_providers; b++) {
        int j = providers ? providers[b] : b;
        mk->price[b] = src->price[j];
        mk->capacity[b] = src->capacity[j];
        mk->value[b] = src->value[j];
        mk->cost[b] = src->cost[j];
        mk->latency[b] = src->latency[j];
        if (src->provider_id[j] && !(mk->provider_id[b] = prillm__strdup(src->provider_id[j]))) goto oom;
        mk->price_min[b] = prillm__market_price_min(src, j);
        mk->price_max[b] = prillm__market_price_max(src, j);
        const char *owner = prillm__market_owner(src, j);
        if (owner && !(mk->owner[b] = prillm__strdup(owner))) goto oom;
    }
    for (int a = 0; a < n_users; a++) {
        int i = users ? users[a] : a;
        mk->demand[a] = src->demand[i];
        if (src->user_id[i] && !(mk->user_id[a] = prillm__strdup(src->user_id[i]))) goto oom;
        if (share_pairs) continue;
        if (!providers) {
            memcpy(mk->delay + (size_t)a * (size_t)n_providers, src->delay + (size_t)i * M, M * sizeof(double));
            memcpy(mk->affinity + (size_t)a * (size_t)n_providers, src->affinity + (size_t)i * M, M * sizeof(double));
            continue;
        }
        for (int b = 0; b < n_providers; b++) {
            mk->delay[(size_t)a * (size_t)n_providers + (size_t)b] = src->delay[(size_t)i * M + (size_t)providers[b]];
            mk->affinity[(size_t)a * (size_t)n_providers + (size_t)b] =
                src->affinity[(size_t)i * M + (size_t)providers[b]];
        }
    }
    return mk;
oom:
    if (share_pairs) prillm__market_free_sharing_pairs(mk);
    else prillm_market_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory copying the market");
    return NULL;
}

double prillm__market_price_min(const PrillmMarket *mk, int j) { return mk->price_min ? mk->price_min[j] : NAN; }
double prillm__market_price_max(const PrillmMarket *mk, int j) { return mk->price_max ? mk->price_max[j] : NAN; }
const char *prillm__market_owner(const PrillmMarket *mk, int j) { return mk->owner ? mk->owner[j] : NULL; }

/* The optional competition fields of provider j: a floor >= 0, a cap > 0,
 * floor <= cap, an owner that is a non-empty string. */
static PrillmErrorCode check_bounds(const PrillmMarket *mk, int j, PrillmError *err) {
    char num[32], num2[32];
    double lo = prillm__market_price_min(mk, j), hi = prillm__market_price_max(mk, j);
    if (isinf(lo) || lo < 0 || lo > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].price_min must be >= 0 and finite, got %s", j,
                            prillm_format_double(lo, num, sizeof num));
    if (isinf(hi) || hi <= 0 || hi > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].price_max must be > 0 and finite, got %s", j,
                            prillm_format_double(hi, num, sizeof num));
    if (lo > hi)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "providers[%d]: price_min %s is above price_max %s", j,
                            prillm_format_double(lo, num, sizeof num), prillm_format_double(hi, num2, sizeof num2));
    const char *owner = prillm__market_owner(mk, j);
    if (owner && !owner[0])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].owner must not be empty", j);
    return PRILLM_OK;
}

static int index_of(char *const *ids, int count, const char *id) {
    if (!ids || !id) return -1;
    for (int k = 0; k < count; k++)
        if (ids[k] && strcmp(ids[k], id) == 0) return k;
    return -1;
}

int prillm_market_provider_index(const PrillmMarket *mk, const char *id) {
    return mk ? index_of(mk->provider_id, mk->n_providers, id) : -1;
}

int prillm_market_user_index(const PrillmMarket *mk, const char *id) {
    return mk ? index_of(mk->user_id, mk->n_users, id) : -1;
}

typedef struct {
    const char *id;
    int index;
} IdEntry;

static int compare_id_entries(const void *a, const void *b) {
    const IdEntry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Ids must be present and unique; sorting keeps this O(n log n) for the
 * thousands of apps a real market has. */
static PrillmErrorCode check_ids(char *const *ids, int count, const char *what, PrillmError *err) {
    for (int k = 0; k < count; k++) {
        if (!ids[k]) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].id is missing", what, k);
        if (!ids[k][0]) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].id is empty", what, k);
    }
    IdEntry *entries = prillm__calloc((size_t)count, sizeof *entries);
    if (!entries) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory checking %s ids", what);
    for (int k = 0; k < count; k++) entries[k] = (IdEntry){ids[k], k};
    qsort(entries, (size_t)count, sizeof *entries, compare_id_entries);
    PrillmErrorCode rc = PRILLM_OK;
    for (int k = 1; k < count; k++) {
        if (strcmp(entries[k].id, entries[k - 1].id) == 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].id \"%s\" duplicates %s[%d].id", what,
                              entries[k].index, entries[k].id, what, entries[k - 1].index);
            break;
        }
    }
    free(entries);
    return rc;
}

static PrillmErrorCode check_number(double x, const char *field, int index, const char *name,
                                    PrillmError *err) {
    char num[32];
    if (isnan(x)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].%s is missing or NaN", field, index, name);
    if (!isfinite(x)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].%s must be finite, got %s", field, index, name, x > 0 ? "Infinity" : "-Infinity");
    if (fabs(x) > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].%s = %s is out of range (|x| <= 1e100)", field, index,
                            name, prillm_format_double(x, num, sizeof num));
    return PRILLM_OK;
}

/* Row i's delays and tastes in range (row_ok), its costs at the market's
 * prices in range (row_costs_ok), the lowest and highest of its
 * affinities, and the largest |w_price * price_j + w_delay * delay_ij|:
 * one branch-free pass, compiled for AVX2 beside the baseline (the same
 * results either way; 93 million instructions of a 5000 x 500 market's
 * validation in SSE2). */
typedef struct {
    int ok, costs_ok;
    double affinity_low, affinity_high, priced_most;
} RowCheck;

PRILLM__VECTOR_CLONES static RowCheck check_row(const PrillmMarket *mk, int i) {
    int m = mk->n_providers, row_ok = 1, row_costs_ok = 1;
    const double *drow = mk->delay + (size_t)i * (size_t)m, *arow = mk->affinity + (size_t)i * (size_t)m;
    double low = INFINITY, high = -INFINITY, priced = 0;
#pragma omp simd reduction(& : row_ok, row_costs_ok) reduction(min : low) reduction(max : high, priced)
    for (int j = 0; j < m; j++) {
        row_ok &= (drow[j] >= 0) & (drow[j] <= PRILLM_MAX_MAGNITUDE) & (fabs(arow[j]) <= PRILLM_MAX_MAGNITUDE);
        double c = prillm__user_cost(mk, i, j, mk->price[j]);
        row_costs_ok &= (fabs(c) <= PRILLM_MAX_MAGNITUDE) & (fabs(mk->w_price * mk->price[j]) <= PRILLM_MAX_MAGNITUDE) &
                        (mk->w_delay * drow[j] <= PRILLM_MAX_MAGNITUDE);
        double a = arow[j], d = fabs(mk->w_price * mk->price[j] + mk->w_delay * drow[j]);
        low = a < low ? a : low;
        high = a > high ? a : high;
        priced = d > priced ? d : priced;
    }
    return (RowCheck){row_ok, row_costs_ok, low, high, priced};
}

/* A constant in a whole affinity row, or in every value, changes no flow
 * (only cost differences move traffic), and a user can always subtract it.
 * Left in, a large one costs the differences their digits: the costs are
 * doubles of about 16 digits of their largest term, and the certificate is
 * relative to the costs, so it does not see the loss. With every affinity
 * 1e10 above differences of about 1, flows moved by 0.5% while the
 * certificate read 1e-12; at 1e6 they still agreed to 5e-9 (a 60 x 8 random
 * market). So such a common part over PRILLM__COMMON_PART_LIMIT times the
 * rest of the user's costs (the largest |w_price * price + w_delay *
 * delay|, the half-ranges of the values and of its affinities, and the
 * congestion of the whole demand spread over the whole capacity) is an
 * error naming the part to subtract. Only these removable parts are
 * judged: costs that are large by their prices and delays, or equal at
 * every provider (identical hosts, ample capacity), are the market itself,
 * and its answers are as accurate as before. */
#define PRILLM__COMMON_PART_LIMIT 1e6

static PrillmErrorCode common_part_error(const PrillmMarket *mk, int i, double affinity_part, double value_part,
                                         double rest, PrillmError *err) {
    int blame_affinity = fabs(affinity_part) >= fabs(value_part);
    const char *id = mk->user_id && mk->user_id[i] ? mk->user_id[i] : "";
    return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                        "users[%d] (\"%s\"): %s has a common part of %.4g, over 1e6 times the rest of this user's "
                        "costs (at most %.4g with congestion): double precision would keep too few digits of the "
                        "differences that move traffic; subtract it (a constant in %s changes no flow)",
                        i, id, blame_affinity ? "its affinity row" : "every provider's value",
                        blame_affinity ? affinity_part : value_part, rest,
                        blame_affinity ? "an app's affinity row" : "every value");
}

PrillmErrorCode prillm_market_validate(const PrillmMarket *mk, PrillmError *err) {
    char num[32];
    if (!mk) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    if (mk->n_users < 1 || mk->n_providers < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "empty market: need at least one user and one provider (got %d users, %d providers)",
                            mk->n_users, mk->n_providers);
    if (!isfinite(mk->w_price) || fabs(mk->w_price) > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "weights.price must be a finite number (|x| <= 1e100)");
    if (!isfinite(mk->w_congestion) || mk->w_congestion <= 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "weights.congestion must be > 0 and finite, got %s",
                            prillm_format_double(mk->w_congestion, num, sizeof num));
    if (!isfinite(mk->w_delay) || mk->w_delay < 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "weights.delay must be >= 0 and finite, got %s",
                            prillm_format_double(mk->w_delay, num, sizeof num));
    if (mk->w_congestion > PRILLM_MAX_MAGNITUDE || mk->w_delay > PRILLM_MAX_MAGNITUDE)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "weights.%s is out of range (at most 1e100)",
                            mk->w_congestion > PRILLM_MAX_MAGNITUDE ? "congestion" : "delay");
    PrillmErrorCode rc;
    int m = mk->n_providers, n = mk->n_users;
    int costs_ok = 1; /* every c_ij in range: tested with the delays below */
    for (int j = 0; j < m; j++) {
        if ((rc = check_number(mk->price[j], "providers", j, "price", err))) return rc;
        if ((rc = check_number(mk->capacity[j], "providers", j, "capacity", err))) return rc;
        if (mk->capacity[j] <= 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].capacity must be > 0, got %s", j,
                                prillm_format_double(mk->capacity[j], num, sizeof num));
        if ((rc = check_number(mk->value[j], "providers", j, "value", err))) return rc;
        /* cost and latency are optional (NaN = absent) but never infinite */
        if (isinf(mk->cost[j]))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].cost must be finite", j);
        if (!isnan(mk->cost[j]) && (rc = check_number(mk->cost[j], "providers", j, "cost", err))) return rc;
        if (isinf(mk->latency[j]) || mk->latency[j] < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].latency must be >= 0 and finite", j);
        if (!isnan(mk->latency[j]) && (rc = check_number(mk->latency[j], "providers", j, "latency", err))) return rc;
        if ((rc = check_bounds(mk, j, err))) return rc;
    }
    /* every demand first: the common-part check below reads the total */
    double total = 0, capacity = 0, value_low = INFINITY, value_high = -INFINITY;
    for (int i = 0; i < n; i++) {
        if ((rc = check_number(mk->demand[i], "users", i, "demand", err))) return rc;
        if (mk->demand[i] < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "users[%d].demand must be >= 0, got %s", i,
                                prillm_format_double(mk->demand[i], num, sizeof num));
        total += mk->demand[i];
    }
    for (int j = 0; j < m; j++) {
        capacity += mk->capacity[j];
        value_low = fmin(value_low, mk->value[j]), value_high = fmax(value_high, mk->value[j]);
    }
    /* the congestion of the whole demand spread over the whole capacity (an
     * overflowing total is an error further down; an infinite one passes
     * the common-part check) */
    double congestion = mk->w_congestion * total / capacity;
    double value_part = 0.5 * value_low + 0.5 * value_high, value_half = 0.5 * value_high - 0.5 * value_low;
    for (int i = 0; i < n; i++) {
        /* A row that passes every check below and the cost checks after
         * them, tested in one branch-free loop (NaN fails every
         * comparison): the solvers validate their market on every setup,
         * and on a 10000 x 500 market the checks pair by pair took as long
         * as a third of a cold solve; the costs' checks went down columns
         * (a stride of m doubles) and took 40 ms of a 5000 x 500 market's
         * validation. Only a row that fails goes through the checks one by
         * one, for the message; a row whose only fault is a cost leaves it
         * to the cost loop below, which names the first such pair in its
         * order. */
        RowCheck row = check_row(mk, i);
        costs_ok &= row.costs_ok;
        /* a user with no demand sends nothing, whatever its costs; with
         * one provider there is nowhere else for traffic to go */
        if (row.ok && row.costs_ok && mk->demand[i] > 0 && m > 1) {
            double affinity_part = 0.5 * row.affinity_low + 0.5 * row.affinity_high;
            double rest = row.priced_most + value_half + (0.5 * row.affinity_high - 0.5 * row.affinity_low) + congestion;
            if (fmax(fabs(affinity_part), fabs(value_part)) > PRILLM__COMMON_PART_LIMIT * rest)
                return common_part_error(mk, i, affinity_part, value_part, rest, err);
        }
        if (row.ok) continue;
        for (int j = 0; j < m; j++) {
            double d = mk->delay[(size_t)i * (size_t)m + (size_t)j];
            if (isnan(d))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "delay[%d][%d] (user %d, provider %d) is missing or NaN", i, j, i, j);
            if (!isfinite(d) || d < 0 || d > PRILLM_MAX_MAGNITUDE)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "delay[%d][%d] must be >= 0 and finite (at most 1e100), got %s",
                                    i, j, prillm_format_double(d, num, sizeof num));
            /* affinities may have either sign (a taste for or against) */
            double a = mk->affinity[(size_t)i * (size_t)m + (size_t)j];
            if (!isfinite(a))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "affinity[%d][%d] (user %d, provider %d) must be finite, got %s", i, j, i, j,
                                    isnan(a) ? "NaN" : a > 0 ? "Infinity" : "-Infinity");
            if (fabs(a) > PRILLM_MAX_MAGNITUDE)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "affinity[%d][%d] (user %d, provider %d) = %s is out of range (|x| <= 1e100)", i, j,
                                    i, j, prillm_format_double(a, num, sizeof num));
        }
    }
    /* Each number can be finite while the model's derived ones are not:
     * w_price * price_j, the cost c_ij, the congestion slope
     * w_congestion / capacity_j and the congestion cost of the whole demand
     * on one provider must all be ordinary doubles, or the solver would
     * compute with infinities and NaN. */
    if (!isfinite(total)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "users: total demand overflows");
    for (int j = 0; j < m; j++) {
        double slope = mk->w_congestion / mk->capacity[j];
        if (!isnormal(slope) || !isfinite(slope * total) || slope > PRILLM_MAX_MAGNITUDE ||
            slope < 1.0 / PRILLM_MAX_MAGNITUDE)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "providers[%d].capacity: weights.congestion / capacity = %s is out of range", j,
                                prillm_format_double(slope, num, sizeof num));
        for (int i = 0; i < n && !costs_ok; i++) {
            double c = prillm__user_cost(mk, i, j, mk->price[j]);
            if (!(fabs(c) <= PRILLM_MAX_MAGNITUDE) ||
                !(fabs(mk->w_price * mk->price[j]) <= PRILLM_MAX_MAGNITUDE) ||
                !(mk->w_delay * mk->delay[(size_t)i * (size_t)m + (size_t)j] <= PRILLM_MAX_MAGNITUDE))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "providers[%d]: cost for users[%d] (w_price*price + w_delay*delay - value - "
                                    "affinity) is out of range (|x| <= 1e100)",
                                    j, i);
        }
    }
    if ((rc = check_ids(mk->provider_id, m, "providers", err))) return rc;
    if ((rc = check_ids(mk->user_id, n, "users", err))) return rc;
    prillm__clear_error(err);
    return PRILLM_OK;
}
