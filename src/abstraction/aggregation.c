/*
 * Game abstraction: the target plus K rivals in place of every rival
 * (DESIGN.md section 5). Rival features, the network's scores, and the three
 * reductions: da (learned scores), min and avg (the paper's baselines).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "set_transformer.h"

/* ---- features --------------------------------------------------------- */

static PrillmErrorCode check_target(const PrillmMarket *market, int target, PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    if (target < 0 || target >= market->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "target %d is not a provider index (0..%d)", target,
                            market->n_providers - 1);
    return PRILLM_OK;
}

/* Per provider j: the demand-weighted mean and spread of its delays over
 * users, and its value as the apps see it on average: b_j plus the
 * demand-weighted mean affinity (same weights). The network has no affinity
 * feature of its own (that would change the model file's shape); since an
 * affinity enters the cost exactly like the value, its mean is folded into
 * the value features, which are unchanged when every affinity is 0. One
 * row-major pass per sum (the matrices are stored by user); each column's
 * sum runs over users in order, as a column-by-column loop would. */
static int provider_moments(const PrillmMarket *mk, double *mean, double *spread, double *value) {
    int n = mk->n_users, m = mk->n_providers;
    double *w = prillm__calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!w) return -1;
    double total = 0;
    for (int i = 0; i < n; i++) total += mk->demand[i];
    for (int i = 0; i < n; i++) w[i] = total > 0 ? mk->demand[i] / total : 1.0 / n;
    for (int j = 0; j < m; j++) mean[j] = spread[j] = value[j] = 0;
    for (int i = 0; i < n; i++) {
        const double *d = mk->delay + (size_t)i * m, *a = mk->affinity + (size_t)i * m;
        for (int j = 0; j < m; j++) {
            mean[j] += w[i] * d[j];
            value[j] += w[i] * a[j];
        }
    }
    for (int i = 0; i < n; i++) {
        const double *d = mk->delay + (size_t)i * m;
        for (int j = 0; j < m; j++) {
            double e = d[j] - mean[j];
            spread[j] += w[i] * e * e;
        }
    }
    for (int j = 0; j < m; j++) {
        spread[j] = n ? sqrt(spread[j]) : 0.0;
        if (!n) mean[j] = 0.0;
        value[j] += mk->value[j];
    }
    free(w);
    return 0;
}

/* The features of a validated market. -1 when out of memory. */
static int features_of(const PrillmMarket *mk, int target, double *features) {
    int m = mk->n_providers;
    double *moments = prillm__calloc(3 * (size_t)m, sizeof(double));
    if (!moments) return -1;
    double *mean = moments, *spread = mean + m, *value = spread + m;
    if (provider_moments(mk, mean, spread, value)) {
        free(moments);
        return -1;
    }
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    /* capacities are compared with the demand they serve: scale-free */
    double scale = total > 0 ? total : 1.0;
    int r = 0;
    for (int j = 0; j < m; j++) {
        if (j == target) continue;
        double *x = features + (size_t)r++ * PRILLM_AGGREGATOR_FEATURES;
        x[0] = mk->price[j];
        x[1] = log(mk->capacity[j] / scale);
        x[2] = value[j];
        x[3] = mean[j];
        x[4] = spread[j];
        x[5] = mk->price[j] - mk->price[target];
        x[6] = x[2] - value[target];
        x[7] = log(mk->capacity[j] / mk->capacity[target]);
        x[8] = mean[j] - mean[target];
    }
    free(moments);
    return 0;
}

PrillmErrorCode prillm_aggregator_features(const PrillmMarket *market, int target, double *features,
                                           PrillmError *err) {
    if (check_target(market, target, err)) return err ? err->code : PRILLM_ERR_INVALID_ARGUMENT;
    if (!features) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "features is NULL");
    PrillmErrorCode rc = prillm_market_validate(market, err);
    if (rc) return rc;
    if (features_of(market, target, features))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory computing features");
    return PRILLM_OK;
}

/* The network's inputs for a validated market (features, z-scored). */
int prillm__aggregator_inputs(const PrillmAggregator *model, const PrillmMarket *market, int target, double *x) {
    if (check_target(market, target, NULL) || features_of(market, target, x)) return -1;
    size_t rivals = (size_t)market->n_providers - 1;
    for (size_t r = 0; r < rivals; r++)
        for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) {
            double *v = &x[r * PRILLM_AGGREGATOR_FEATURES + k];
            *v = (*v - model->feature_mean[k]) / model->feature_std[k];
        }
    return 0;
}

/* Scores of a validated market. */
static PrillmErrorCode scores_of(const PrillmAggregator *model, const PrillmMarket *market, int target,
                                 double *score_sum, double *score_avg, PrillmError *err) {
    int m = market->n_providers, rivals = m - 1;
    for (int j = 0; j < m; j++) score_sum[j] = score_avg[j] = NAN;
    if (rivals == 0) return PRILLM_OK;
    PrillmSetWorkspace ws;
    double *x = prillm__calloc((size_t)rivals * (PRILLM_AGGREGATOR_FEATURES + 2), sizeof(double));
    if (!x || prillm__set_workspace_init(&ws, model, rivals)) {
        free(x);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory scoring %d rivals", rivals);
    }
    double *ss = x + (size_t)rivals * PRILLM_AGGREGATOR_FEATURES, *sa = ss + rivals;
    int bad = prillm__aggregator_inputs(model, market, target, x);
    if (!bad) prillm__set_forward(model, &ws, rivals, x, ss, sa);
    for (int j = 0, r = 0; j < m && !bad; j++) {
        if (j == target) continue;
        score_sum[j] = ss[r];
        score_avg[j] = sa[r++];
    }
    prillm__set_workspace_free(&ws);
    free(x);
    return bad ? prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory scoring %d rivals", rivals) : PRILLM_OK;
}

PrillmErrorCode prillm_aggregator_scores(const PrillmAggregator *model, const PrillmMarket *market, int target,
                                         double *score_sum, double *score_avg, PrillmError *err) {
    if (!model) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (check_target(market, target, err)) return err ? err->code : PRILLM_ERR_INVALID_ARGUMENT;
    if (!score_sum || !score_avg) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "score arrays are NULL");
    for (int j = 0; j < market->n_providers; j++) score_sum[j] = score_avg[j] = NAN;
    PrillmErrorCode rc = prillm_market_validate(market, err);
    if (rc) return rc;
    return scores_of(model, market, target, score_sum, score_avg, err);
}

/* ---- building the abstracted market ----------------------------------- */

int prillm_aggregate_method_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "da") == 0) return PRILLM_AGGREGATE_DA;
    if (strcmp(name, "min") == 0) return PRILLM_AGGREGATE_MIN;
    if (strcmp(name, "avg") == 0) return PRILLM_AGGREGATE_AVG;
    return -1;
}

const char *prillm_aggregate_method_name(PrillmAggregateMethod method) {
    switch (method) {
    case PRILLM_AGGREGATE_DA: return "da";
    case PRILLM_AGGREGATE_MIN: return "min";
    case PRILLM_AGGREGATE_AVG: return "avg";
    }
    return "unknown";
}

/* Ranking of rivals by a key, ties broken by provider id (unique), so the
 * result never depends on the order of the rivals in the market. */
typedef struct {
    double key;
    const char *id;
    int index;
} RankItem;

static int rank_descending(const void *a, const void *b) {
    const RankItem *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* A fresh market with the same users and weights and m providers. */
static PrillmMarket *same_users(const PrillmMarket *mk, int m, PrillmError *err) {
    PrillmMarket *out = prillm_market_alloc(mk->n_users, m, err);
    if (!out) return NULL;
    out->w_price = mk->w_price;
    out->w_congestion = mk->w_congestion;
    out->w_delay = mk->w_delay;
    for (int i = 0; i < mk->n_users; i++) {
        out->demand[i] = mk->demand[i];
        if (!(out->user_id[i] = prillm__strdup(mk->user_id[i]))) goto oom;
    }
    return out;
oom:
    prillm_market_free(out);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory building the abstracted market");
    return NULL;
}

static int copy_provider(const PrillmMarket *mk, int j, PrillmMarket *out, int k) {
    int n = mk->n_users;
    out->price[k] = mk->price[j];
    out->capacity[k] = mk->capacity[j];
    out->value[k] = mk->value[j];
    out->cost[k] = mk->cost[j];
    out->latency[k] = mk->latency[j];
    for (int i = 0; i < n; i++) {
        out->delay[(size_t)i * out->n_providers + k] = mk->delay[(size_t)i * mk->n_providers + j];
        out->affinity[(size_t)i * out->n_providers + k] = mk->affinity[(size_t)i * mk->n_providers + j];
    }
    return (out->provider_id[k] = prillm__strdup(mk->provider_id[j])) ? 0 : -1;
}

/* An id not used by any provider of mk: base, else base-2, base-3, ... */
static char *fresh_id(const PrillmMarket *mk, const char *base) {
    char id[64];
    snprintf(id, sizeof id, "%s", base);
    for (int k = 2; prillm_market_provider_index(mk, id) >= 0; k++) snprintf(id, sizeof id, "%s-%d", base, k);
    return prillm__strdup(id);
}

/* Mean over the merged providers (state 2) weighted by w; NaN as soon as
 * one merged value is NaN (cost and latency may be absent). */
static double weighted_mean(const double *values, const double *w, const unsigned char *state, int m) {
    double sum = 0, total = 0;
    for (int j = 0; j < m; j++)
        if (state[j] == 2) sum += w[j] * values[j], total += w[j];
    return sum / total;
}

int prillm__aggregate_with_scores(const PrillmMarket *mk, int target, int K, const double *score_sum,
                                  const double *score_avg, PrillmMarket **abstracted, int *target_in_abstracted,
                                  unsigned char *kept, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers, rivals = m - 1;
    RankItem *rank = prillm__calloc((size_t)m, sizeof *rank);
    unsigned char *state = prillm__calloc((size_t)m, 1); /* 1 kept, 2 merged */
    double *column = prillm__calloc((size_t)m, sizeof(double));
    PrillmMarket *out = NULL;
    if (!rank || !state || !column) goto oom;
    int count = 0;
    for (int j = 0; j < m; j++)
        if (j != target) rank[count++] = (RankItem){score_avg[j], mk->provider_id[j], j};
    qsort(rank, (size_t)count, sizeof *rank, rank_descending);
    for (int r = 0; r < rivals; r++) state[rank[r].index] = r < K - 1 ? 1 : 2;
    if (!(out = same_users(mk, K + 1, err))) goto fail;
    int k = 0;
    for (int j = 0; j < m; j++) {
        if (j != target && state[j] != 1) continue;
        if (j == target) *target_in_abstracted = k;
        if (copy_provider(mk, j, out, k++)) goto oom;
    }
    double capacity = 0;
    for (int j = 0; j < m; j++)
        if (state[j] == 2) capacity += score_sum[j] * mk->capacity[j];
    out->capacity[k] = capacity;
    out->price[k] = weighted_mean(mk->price, score_avg, state, m);
    out->value[k] = weighted_mean(mk->value, score_avg, state, m);
    out->cost[k] = weighted_mean(mk->cost, score_avg, state, m);
    out->latency[k] = weighted_mean(mk->latency, score_avg, state, m);
    /* each app keeps its own view of the merged rival: its delay and its
     * affinity are both score-weighted means over the merged rivals */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < m; j++) column[j] = mk->delay[(size_t)i * m + j];
        out->delay[(size_t)i * (K + 1) + k] = weighted_mean(column, score_avg, state, m);
        for (int j = 0; j < m; j++) column[j] = mk->affinity[(size_t)i * m + j];
        out->affinity[(size_t)i * (K + 1) + k] = weighted_mean(column, score_avg, state, m);
    }
    if (!(out->provider_id[k] = fresh_id(mk, "aggregate"))) goto oom;
    if (kept) memcpy(kept, state, (size_t)m);
    free(rank), free(state), free(column);
    *abstracted = out;
    return 0;
oom:
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory building the abstracted market");
fail:
    prillm_market_free(out);
    free(rank), free(state), free(column);
    return -1;
}

static PrillmErrorCode aggregate_min(const PrillmMarket *mk, int target, int K, PrillmMarket **abstracted,
                                     int *target_in_abstracted, PrillmError *err) {
    int m = mk->n_providers;
    RankItem *rank = prillm__calloc((size_t)m, sizeof *rank);
    unsigned char *keep = prillm__calloc((size_t)m, 1);
    PrillmMarket *out = NULL;
    if (!rank || !keep) goto oom;
    int count = 0;
    for (int j = 0; j < m; j++)
        if (j != target) rank[count++] = (RankItem){-mk->price[j], mk->provider_id[j], j}; /* cheapest first */
    qsort(rank, (size_t)count, sizeof *rank, rank_descending);
    for (int r = 0; r < K; r++) keep[rank[r].index] = 1;
    keep[target] = 1;
    if (!(out = same_users(mk, K + 1, err))) goto fail;
    for (int j = 0, k = 0; j < m; j++) {
        if (!keep[j]) continue;
        if (j == target) *target_in_abstracted = k;
        if (copy_provider(mk, j, out, k++)) goto oom;
    }
    free(rank), free(keep);
    *abstracted = out;
    return PRILLM_OK;
oom:
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory building the abstracted market");
fail:
    prillm_market_free(out);
    free(rank), free(keep);
    return err ? err->code : PRILLM_ERR_NO_MEMORY;
}

static PrillmErrorCode aggregate_avg(const PrillmMarket *mk, int target, int K, PrillmMarket **abstracted,
                                     int *target_in_abstracted, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers, rivals = m - 1;
    PrillmMarket *out = same_users(mk, K + 1, err);
    if (!out) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    if (copy_provider(mk, target, out, 0)) goto oom;
    double price = 0, capacity = 0, value = 0, cost = 0, latency = 0;
    for (int j = 0; j < m; j++) {
        if (j == target) continue;
        price += mk->price[j], capacity += mk->capacity[j], value += mk->value[j];
        cost += mk->cost[j], latency += mk->latency[j];
    }
    for (int k = 1; k <= K; k++) {
        out->price[k] = price / rivals;
        out->capacity[k] = capacity / K; /* total rival capacity kept, split evenly */
        out->value[k] = value / rivals;
        out->cost[k] = cost / rivals;
        out->latency[k] = latency / rivals;
        char base[32];
        snprintf(base, sizeof base, "average-%d", k);
        if (!(out->provider_id[k] = fresh_id(mk, base))) goto oom;
    }
    for (int i = 0; i < n; i++) {
        double sum = 0, taste = 0;
        for (int j = 0; j < m; j++)
            if (j != target) sum += mk->delay[(size_t)i * m + j], taste += mk->affinity[(size_t)i * m + j];
        for (int k = 1; k <= K; k++) {
            out->delay[(size_t)i * (K + 1) + k] = sum / rivals;
            out->affinity[(size_t)i * (K + 1) + k] = taste / rivals;
        }
    }
    *target_in_abstracted = 0;
    *abstracted = out;
    return PRILLM_OK;
oom:
    prillm_market_free(out);
    return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory building the abstracted market");
}

static PrillmErrorCode aggregate_market(const PrillmMarket *market, int target, int K, PrillmAggregateMethod method,
                                        const PrillmAggregator *model, PrillmMarket **abstracted,
                                        int *target_in_abstracted, int validated, PrillmError *err);

PrillmErrorCode prillm_aggregate_market(const PrillmMarket *market, int target, int K,
                                        PrillmAggregateMethod method, const PrillmAggregator *model,
                                        PrillmMarket **abstracted, int *target_in_abstracted, PrillmError *err) {
    return aggregate_market(market, target, K, method, model, abstracted, target_in_abstracted, 0, err);
}

PrillmErrorCode prillm__aggregate_market_validated(const PrillmMarket *market, int target, int K,
                                                   PrillmAggregateMethod method, const PrillmAggregator *model,
                                                   PrillmMarket **abstracted, int *target_in_abstracted,
                                                   PrillmError *err) {
    return aggregate_market(market, target, K, method, model, abstracted, target_in_abstracted, 1, err);
}

static PrillmErrorCode aggregate_market(const PrillmMarket *market, int target, int K, PrillmAggregateMethod method,
                                        const PrillmAggregator *model, PrillmMarket **abstracted,
                                        int *target_in_abstracted, int validated, PrillmError *err) {
    if (!abstracted || !target_in_abstracted)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "abstracted / target_in_abstracted is NULL");
    *abstracted = NULL;
    *target_in_abstracted = -1;
    PrillmErrorCode rc = check_target(market, target, err);
    if (rc) return rc;
    if (K < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "K must be >= 1, got %d", K);
    if (method != PRILLM_AGGREGATE_DA && method != PRILLM_AGGREGATE_MIN && method != PRILLM_AGGREGATE_AVG)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "unknown aggregation method %d", (int)method);
    if (method == PRILLM_AGGREGATE_DA && !model)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "method da needs a model");
    if (!validated && (rc = prillm_market_validate(market, err))) return rc;
    if (K >= market->n_providers - 1) {
        if (!(*abstracted = prillm_market_copy(market, err))) return err ? err->code : PRILLM_ERR_NO_MEMORY;
        *target_in_abstracted = target;
        return PRILLM_OK;
    }
    if (method == PRILLM_AGGREGATE_MIN) rc = aggregate_min(market, target, K, abstracted, target_in_abstracted, err);
    else if (method == PRILLM_AGGREGATE_AVG) rc = aggregate_avg(market, target, K, abstracted, target_in_abstracted, err);
    else {
        int m = market->n_providers;
        double *scores = prillm__calloc(2 * (size_t)m, sizeof(double));
        if (!scores) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory scoring rivals");
        rc = scores_of(model, market, target, scores, scores + m, err); /* validated above */
        if (!rc && prillm__aggregate_with_scores(market, target, K, scores, scores + m, abstracted,
                                                 target_in_abstracted, NULL, err))
            rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        free(scores);
    }
    if (rc) return rc;
    if ((rc = prillm_market_validate(*abstracted, err))) {
        prillm_market_free(*abstracted);
        *abstracted = NULL;
        *target_in_abstracted = -1;
    }
    return rc;
}
