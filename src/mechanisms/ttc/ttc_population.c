/* Many users, each with its own value scale and many requests, each request
 * one second-price auction: totals (welfare, spend, revenue, profit) and
 * the distribution of spend over users and over requests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/ttc.h"
#include "csv_table.h"
#include "random.h"

static const double quantile_levels[PRILLM_TTC_N_QUANTILES] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1};

const double *prillm_ttc_quantile_levels(void) { return quantile_levels; }

void prillm_ttc_population_default_settings(PrillmTtcPopulationSettings *s) {
    if (!s) return;
    s->realised = 0;
    s->seed = 1;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the order statistics of sorted x: position
 * q (n - 1). */
static double sorted_quantile(const double *x, long long n, double q) {
    if (n < 1) return NAN;
    double pos = q * (double)(n - 1);
    long long lo = (long long)floor(pos);
    if (lo >= n - 1) return x[n - 1];
    double frac = pos - (double)lo;
    return frac == 0 ? x[lo] : x[lo] + frac * (x[lo + 1] - x[lo]);
}

double prillm_ttc_quantile(const double *x, long long n, double q) {
    if (!x || n < 1 || !(q >= 0 && q <= 1)) return NAN;
    double *copy = prillm__calloc((size_t)n, sizeof *copy);
    if (!copy) return NAN;
    memcpy(copy, x, (size_t)n * sizeof *copy);
    qsort(copy, (size_t)n, sizeof *copy, compare_double);
    double v = sorted_quantile(copy, n, q);
    free(copy);
    return v;
}

void prillm_ttc_population_result_free(PrillmTtcPopulationResult *r) {
    if (!r) return;
    free(r->user_spend);
    free(r->user_spend_per_request);
    free(r->wins);
    free(r->model_revenue);
    free(r->model_profit);
    free(r);
}

/* Per-request payments of one user, for the request quantiles: they take
 * at most two values per user (right or wrong answer; one without draws),
 * so the distribution is kept as weighted points, not one entry per
 * request. */
typedef struct {
    double value;
    long long count;
} Point;

static int compare_point(const void *a, const void *b) {
    const Point *x = a, *y = b;
    return (x->value > y->value) - (x->value < y->value);
}

/* Quantiles of a weighted multiset of points, with the same definition as
 * sorted_quantile on the expanded list. */
static void weighted_quantiles(Point *p, long long n_points, long long total, double *out) {
    qsort(p, (size_t)n_points, sizeof *p, compare_point);
    for (int q = 0; q < PRILLM_TTC_N_QUANTILES; q++) {
        if (total < 1) {
            out[q] = NAN;
            continue;
        }
        double pos = quantile_levels[q] * (double)(total - 1);
        long long lo = (long long)floor(pos);
        if (lo > total - 1) lo = total - 1;
        double frac = pos - (double)lo;
        /* the values at ranks lo and lo + 1 */
        double v_lo = NAN, v_hi = NAN;
        long long seen = 0;
        for (long long k = 0; k < n_points; k++) {
            long long next = seen + p[k].count;
            if (isnan(v_lo) && lo < next) v_lo = p[k].value;
            if (lo + 1 < next) {
                v_hi = p[k].value;
                break;
            }
            seen = next;
        }
        if (isnan(v_hi)) v_hi = v_lo;
        out[q] = frac == 0 ? v_lo : v_lo + frac * (v_hi - v_lo);
    }
}

/* The number of successes in `trials` Bernoulli(p) draws, exactly (one
 * uniform per trial: reproducible and simple; trials are bounded). */
static long long binomial(PrillmRng *rng, long long trials, double p) {
    long long k = 0;
    for (long long t = 0; t < trials; t++) k += prillm__rng_uniform(rng) < p;
    return k;
}

#define MAX_REQUESTS_PER_USER 100000000LL
#define MAX_REQUESTS_TOTAL 1000000000LL

PrillmErrorCode prillm_ttc_population_run(const PrillmTtcMarket *mk, const PrillmTtcBids *bids, int n_users,
                                          const double *value_scale, const long long *requests,
                                          const PrillmTtcPopulationSettings *settings,
                                          PrillmTtcPopulationResult **result, PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
    PrillmErrorCode rc;
    if ((rc = prillm_ttc_market_validate(mk, err))) return rc;
    if (n_users < 1 || !value_scale || !requests)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the population needs n_users >= 1 and its arrays");
    PrillmTtcPopulationSettings defaults;
    if (!settings) {
        prillm_ttc_population_default_settings(&defaults);
        settings = &defaults;
    }
    if (settings->realised != 0 && settings->realised != 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "realised must be 0 or 1, got %d", settings->realised);
    if (settings->realised && mk->value_shape != PRILLM_TTC_VALUE_LINEAR)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "realised draws need value.shape \"linear\": a right or wrong answer is worth f(1) or f(0), "
                            "whose mean is f(accuracy) only when f is linear");
    long long total = 0;
    for (int u = 0; u < n_users; u++) {
        if (!(value_scale[u] > 0 && value_scale[u] <= 1e12))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "users[%d].value_scale must be in (0, 1e12], got %g", u,
                                value_scale[u]);
        if (requests[u] < 1 || requests[u] > MAX_REQUESTS_PER_USER)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "users[%d].requests must be in 1..%lld, got %lld", u,
                                MAX_REQUESTS_PER_USER, requests[u]);
        total += requests[u];
        if (total > MAX_REQUESTS_TOTAL)
            return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "more than %lld requests in all", MAX_REQUESTS_TOTAL);
    }
    PrillmTtcBids *truthful = NULL;
    if (!bids) {
        if (!(truthful = prillm_ttc_bids_truthful(mk, err))) return err ? err->code : PRILLM_ERR_NO_MEMORY;
        bids = truthful;
    } else if ((rc = prillm_ttc_bids_validate(mk, bids, err))) {
        return rc;
    }
    int n = mk->n_models;
    PrillmTtcPopulationResult *r = calloc(1, sizeof *r);
    Point *points = prillm__calloc((size_t)n_users * 2, sizeof *points);
    if (r) {
        r->n_users = n_users;
        r->n_models = n;
        r->user_spend = prillm__calloc((size_t)n_users, sizeof *r->user_spend);
        r->user_spend_per_request = prillm__calloc((size_t)n_users, sizeof *r->user_spend_per_request);
        r->wins = prillm__calloc((size_t)n, sizeof *r->wins);
        r->model_revenue = prillm__calloc((size_t)n, sizeof *r->model_revenue);
        r->model_profit = prillm__calloc((size_t)n, sizeof *r->model_profit);
    }
    if (!r || !points || !r->user_spend || !r->user_spend_per_request || !r->wins || !r->model_revenue ||
        !r->model_profit) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for a population of %d users", n_users);
        goto fail;
    }
    long long n_points = 0;
    for (int u = 0; u < n_users; u++) {
        long long m = requests[u];
        r->requests += m;
        PrillmTtcBidOutcome o;
        if ((rc = prillm_ttc_bids_run(mk, bids, value_scale[u], NULL, &o, err))) goto fail;
        int w = o.outcome.winner;
        if (w < 0) {
            r->welfare += (double)m * o.reserve;
            r->user_value += (double)m * o.reserve;
            points[n_points++] = (Point){0.0, m};
            continue;
        }
        r->served += m;
        r->wins[w] += m;
        double spend, value, welfare;
        if (!settings->realised) {
            spend = (double)m * o.outcome.payment;
            value = (double)m * o.user_utility;
            welfare = (double)m * o.welfare;
            points[n_points++] = (Point){o.outcome.payment, m};
        } else {
            /* each user its own stream, so a user's draws do not depend on
             * the others */
            PrillmRng rng = {settings->seed ^ (0x5851f42d4c957f2dULL * (unsigned long long)(u + 1))};
            double a = mk->accuracy[mk->level_offset[w] + o.level[w]];
            long long right = binomial(&rng, m, a), wrong = m - right;
            double q_right = prillm_ttc_quality(mk, value_scale[u], 1.0);
            double q_wrong = prillm_ttc_quality(mk, value_scale[u], 0.0);
            double runner = o.outcome.runner_up_score; /* W_r: P = realised - W_r */
            double pay_right = q_right - runner, pay_wrong = q_wrong - runner;
            spend = (double)right * pay_right + (double)wrong * pay_wrong;
            value = (double)m * runner; /* the user keeps W_r whatever the answer */
            welfare = (double)right * q_right + (double)wrong * q_wrong - (double)m * o.cost;
            if (right) points[n_points++] = (Point){pay_right, right};
            if (wrong) points[n_points++] = (Point){pay_wrong, wrong};
        }
        double cost = (double)m * o.cost;
        r->spend += spend;
        r->user_value += value;
        r->welfare += welfare;
        r->provider_cost += cost;
        r->model_revenue[w] += spend;
        r->model_profit[w] += spend - cost;
        r->user_spend[u] = spend;
    }
    r->revenue = r->spend;
    r->provider_profit = r->revenue - r->provider_cost;
    for (int u = 0; u < n_users; u++) r->user_spend_per_request[u] = r->user_spend[u] / (double)requests[u];
    for (int q = 0; q < PRILLM_TTC_N_QUANTILES; q++) r->spend_quantiles[q] = NAN;
    {
        double *sorted = prillm__calloc((size_t)n_users, sizeof *sorted);
        if (!sorted) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for a population of %d users", n_users);
            goto fail;
        }
        memcpy(sorted, r->user_spend, (size_t)n_users * sizeof *sorted);
        qsort(sorted, (size_t)n_users, sizeof *sorted, compare_double);
        for (int q = 0; q < PRILLM_TTC_N_QUANTILES; q++)
            r->spend_quantiles[q] = sorted_quantile(sorted, n_users, quantile_levels[q]);
        free(sorted);
    }
    weighted_quantiles(points, n_points, r->requests, r->per_request_quantiles);
    free(points);
    prillm_ttc_bids_free(truthful);
    *result = r;
    return PRILLM_OK;
fail:
    free(points);
    prillm_ttc_bids_free(truthful);
    prillm_ttc_population_result_free(r);
    return rc;
}

PrillmErrorCode prillm_ttc_population_generate(double base_scale, double spread, long long mean_requests,
                                               int n_users, unsigned long long seed, double *value_scale,
                                               long long *requests, PrillmError *err) {
    if (n_users < 1 || !value_scale || !requests)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the population needs n_users >= 1 and its arrays");
    if (!(base_scale > 0 && base_scale <= 1e12))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "base value scale must be in (0, 1e12], got %g",
                            base_scale);
    if (!(spread >= 0 && spread <= 5))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "value spread must be in [0, 5], got %g", spread);
    if (mean_requests < 1 || mean_requests > MAX_REQUESTS_PER_USER / 2)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "mean requests must be in 1..%lld, got %lld",
                            MAX_REQUESTS_PER_USER / 2, mean_requests);
    PrillmRng rng = {seed};
    for (int u = 0; u < n_users; u++) {
        double z = prillm__rng_normal(&rng);
        value_scale[u] = base_scale * exp(spread * z - 0.5 * spread * spread);
        long long span = 2 * mean_requests - 1;
        requests[u] = 1 + (long long)(prillm__rng_uniform(&rng) * (double)span);
        if (requests[u] > span) requests[u] = span;
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_ttc_population_parse_csv(const char *text, size_t length, const char *name, int *n_users,
                                                double **value_scale, long long **requests, PrillmError *err) {
    if (!n_users || !value_scale || !requests)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "population output pointers are NULL");
    *n_users = 0;
    *value_scale = NULL;
    *requests = NULL;
    PrillmCsvTable t;
    PrillmErrorCode rc = prillm__csv_parse(name ? name : "population", text, length, &t, err);
    if (rc) return rc;
    int c_scale, c_requests;
    double *scale = NULL;
    long long *count = NULL;
    if ((rc = prillm__csv_require(&t, "value_scale", &c_scale, err)) ||
        (rc = prillm__csv_require(&t, "requests", &c_requests, err)))
        goto done;
    if (t.rows < 1 || t.rows > 10000000) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must have 1..10000000 users, got %ld", t.path, t.rows);
        goto done;
    }
    scale = prillm__calloc((size_t)t.rows, sizeof *scale);
    count = prillm__calloc((size_t)t.rows, sizeof *count);
    if (!scale || !count) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s", t.path);
        goto done;
    }
    for (long r = 0; r < t.rows; r++) {
        double x, m;
        if ((rc = prillm__csv_number(&t, r, c_scale, &x, err)) || (rc = prillm__csv_number(&t, r, c_requests, &m, err)))
            goto done;
        if (!(x > 0 && x <= 1e12)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: value_scale must be in (0, 1e12], got %g",
                              t.path, r + 2, x);
            goto done;
        }
        if (!(m >= 1 && m <= (double)MAX_REQUESTS_PER_USER && m == floor(m))) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: requests must be an integer in 1..%lld, got %g",
                              t.path, r + 2, MAX_REQUESTS_PER_USER, m);
            goto done;
        }
        scale[r] = x;
        count[r] = (long long)m;
    }
    *n_users = (int)t.rows;
done:
    prillm__csv_free(&t);
    if (rc) {
        free(scale);
        free(count);
        return rc;
    }
    *value_scale = scale;
    *requests = count;
    return PRILLM_OK;
}
