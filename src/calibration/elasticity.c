/*
 * Price sensitivity (prillm/elasticity.h): fixed-effects OLS of log tokens
 * on log price, cluster-robust and cluster-bootstrap (by model) intervals,
 * per-model estimates shrunk toward the pooled one. The reader is
 * elasticity_read.c; the choices are documented in docs/calibration.md,
 * "Price sensitivity".
 *
 * Every fit works from per-cluster cross-products of the demeaned rows:
 * the fixed-effect groups nest in the clusters, so a bootstrap replicate
 * (clusters drawn with replacement, a drawn-twice cluster a second copy
 * with its own fixed effects) is the sum of its clusters' cross-products,
 * weighted by how often each was drawn. Replicate b draws from its own
 * SplitMix64 stream (seed, b): the figures never depend on anything else.
 */
#include "elasticity_internal.h"

#include "random.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prillm_elasticity_default_settings(PrillmElasticitySettings *st) {
    memset(st, 0, sizeof *st);
    st->bootstrap = 200;
    st->seed = 1;
    st->level = 0.90;
    st->price = PRILLM_ELASTICITY_PRICE_EFFECTIVE;
    st->controls = 1;
    st->input_share = 0.9;
    st->min_price_change = 0.01;
    st->model_min_providers = 3;
    st->model_min_obs = 10;
}

const char *prillm_elasticity_price_name(int price) {
    return price == PRILLM_ELASTICITY_PRICE_EFFECTIVE ? "effective"
           : price == PRILLM_ELASTICITY_PRICE_LISTED  ? "listed"
                                                      : NULL;
}

PrillmErrorCode prillm_elasticity_check_settings(const PrillmElasticitySettings *st, PrillmError *err) {
    if (!st) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings is NULL");
    if (st->bootstrap < 0 || st->bootstrap > 1000000)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "bootstrap: %d is not in [0, 1000000]", st->bootstrap);
    if (!(st->level > 0 && st->level < 1))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "level: %g is not in (0, 1)", st->level);
    if (!prillm_elasticity_price_name(st->price))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "price: %d is neither effective (0) nor listed (1)", st->price);
    if (st->controls != 0 && st->controls != 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "controls: %d is neither 0 nor 1", st->controls);
    if (!(st->input_share >= 0 && st->input_share <= 1))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "input_share: %g is not in [0, 1]", st->input_share);
    if (!(st->min_price_change >= 0 && isfinite(st->min_price_change)))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "min_price_change: %g is not >= 0", st->min_price_change);
    if (st->model_min_providers < 2)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model_min_providers: %d is below 2", st->model_min_providers);
    if (st->model_min_obs < 3)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model_min_obs: %d is below 3", st->model_min_obs);
    return PRILLM_OK;
}

/* ---- OLS by the sweep operator ----------------------------------------- */

/* A is the (k+1) x (k+1) cross-product [X'X X'y; y'X y'y]. Sweeps the
 * regressors in order, skipping one whose pivot fell below 1e-10 of its
 * diagonal (collinear with those before, or constant): its coefficient is
 * NaN. Afterwards A[swept][swept] = (X'X)^-1, A[j][k] = b_j, A[k][k] = SSR.
 * Returns the number of regressors swept. */
static int sweep_all(double *A, int k, int *swept) {
    int K = k + 1, count = 0;
    double diag[64];
    for (int j = 0; j < k; j++) diag[j] = A[j * K + j];
    for (int j = 0; j < k; j++) {
        double d = A[j * K + j];
        swept[j] = diag[j] > 0 && d > 1e-10 * diag[j];
        if (!swept[j]) continue;
        count++;
        for (int c = 0; c < K; c++) A[j * K + c] /= d;
        for (int i = 0; i < K; i++) {
            if (i == j) continue;
            double b = A[i * K + j];
            if (b == 0) continue;
            for (int c = 0; c < K; c++) A[i * K + c] -= b * A[j * K + c];
            A[i * K + j] = -b / d;
        }
        A[j * K + j] = 1 / d;
    }
    return count;
}

typedef struct {
    int k, G;
    double *cross; /* [G][(k+1)^2]: demeaned cross-products per cluster */
    long *n;       /* [G] observations                                  */
} Clusters;

/* Coefficients of the weighted sum of the clusters' cross-products
 * (weight[g] copies of cluster g). Returns 0 when log price (column 0) is
 * identified; coef (k) NaN where not. A receives the swept matrix. */
static int solve(const Clusters *c, const int *weight, double *A, double *coef, int *swept) {
    int K = c->k + 1;
    memset(A, 0, (size_t)K * K * sizeof *A);
    for (int g = 0; g < c->G; g++) {
        if (!weight[g]) continue;
        const double *m = c->cross + (size_t)g * K * K;
        for (int q = 0; q < K * K; q++) A[q] += weight[g] * m[q];
    }
    sweep_all(A, c->k, swept);
    for (int j = 0; j < c->k; j++) coef[j] = swept[j] ? A[j * K + c->k] : NAN;
    return swept[0] ? 0 : -1;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (R's type 7). */
static double quantile(const double *sorted, int n, double p) {
    if (n <= 0) return NAN;
    double h = (n - 1) * p;
    int lo = (int)floor(h);
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

PrillmErrorCode prillm__elasticity_fit(const PrillmElasticityDesign *d, const PrillmElasticitySettings *st,
                                       unsigned long long stream, PrillmElasticityEstimate *out, double **demeaned,
                                       double *coef_out, PrillmError *err) {
    PrillmElasticityEstimate e = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, d->n, d->n_groups, 0, d->n_days, 0};
    *out = e;
    int k = d->k, K = k + 1;
    if (k > 63) return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%d regressors: at most 63", k);
    if (demeaned) *demeaned = NULL;
    if (coef_out) prillm__fill_nan(coef_out, (size_t)k);
    if (d->n == 0) return PRILLM_OK;
    double *gsum = prillm__calloc((size_t)d->n_groups, (size_t)K * sizeof(double));
    long *gcount = prillm__calloc((size_t)d->n_groups, sizeof(long));
    double *rows = prillm__calloc((size_t)d->n, (size_t)K * sizeof(double));
    Clusters c = {k, d->n_clusters, prillm__calloc((size_t)d->n_clusters, (size_t)K * K * sizeof(double)),
                  prillm__calloc((size_t)d->n_clusters, sizeof(long))};
    int *weight = prillm__calloc((size_t)d->n_clusters, sizeof(int));
    int *map = prillm__calloc((size_t)d->n_clusters, sizeof(int));
    int B = st->bootstrap;
    double *draws = prillm__calloc((size_t)B + 1, sizeof(double));
    double A[64 * 64], coef[64], meat[64 * 64];
    int swept[64];
    PrillmErrorCode rc = PRILLM_OK;
    if (!gsum || !gcount || !rows || !c.cross || !c.n || !weight || !map || !draws) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory fitting %ld observations", d->n);
        goto done;
    }
    /* demean within the fixed-effect groups */
    for (long i = 0; i < d->n; i++) {
        double *s = gsum + (size_t)d->group[i] * K;
        for (int j = 0; j < k; j++) s[j] += d->x[(size_t)i * k + j];
        s[k] += d->y[i];
        gcount[d->group[i]]++;
    }
    for (long i = 0; i < d->n; i++) {
        const double *s = gsum + (size_t)d->group[i] * K;
        double *r = rows + (size_t)i * K, cnt = (double)gcount[d->group[i]];
        for (int j = 0; j < k; j++) r[j] = d->x[(size_t)i * k + j] - s[j] / cnt;
        r[k] = d->y[i] - s[k] / cnt;
        double *m = c.cross + (size_t)d->cluster[i] * K * K;
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) m[a * K + b] += r[a] * r[b];
        c.n[d->cluster[i]]++;
    }
    int G = 0;
    for (int g = 0; g < c.G; g++) {
        weight[g] = c.n[g] > 0;
        G += weight[g];
    }
    out->n_models = G;
    double sst = 0;
    for (int g = 0; g < c.G; g++) sst += c.cross[(size_t)g * K * K + (size_t)k * K + k];
    if (solve(&c, weight, A, coef, swept)) goto done; /* not identified: NaN estimate */
    out->elasticity = coef[0];
    if (coef_out) memcpy(coef_out, coef, (size_t)k * sizeof *coef);
    double ssr = A[k * K + k];
    out->r2_within = sst > 0 ? 1 - ssr / sst : NAN;
    if (d->controls) { /* the across-providers design: latency and throughput coefficients */
        out->latency = coef[1];
        out->throughput = coef[3];
    }
    /* cluster-robust (CR1) variance: (X'X)^-1 [sum_g s_g s_g'] (X'X)^-1, s_g = X_g'y_g - X_g'X_g b */
    int active = 0;
    for (int j = 0; j < k; j++) active += swept[j];
    memset(meat, 0, sizeof meat);
    for (int g = 0; g < c.G; g++) {
        if (!c.n[g]) continue;
        const double *m = c.cross + (size_t)g * K * K;
        double s[64];
        for (int a = 0; a < k; a++) {
            s[a] = 0;
            if (!swept[a]) continue;
            s[a] = m[a * K + k];
            for (int b = 0; b < k; b++)
                if (swept[b]) s[a] -= m[a * K + b] * coef[b];
        }
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) meat[a * 64 + b] += s[a] * s[b];
    }
    double v00 = 0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            if (swept[a] && swept[b]) v00 += A[0 * K + a] * meat[a * 64 + b] * A[b * K + 0];
    if (G > 1 && d->n > active) {
        double factor = (double)G / (G - 1) * (double)(d->n - 1) / (double)(d->n - active);
        out->se_analytic = sqrt(fmax(0, v00 * factor));
    }
    /* cluster bootstrap: replicate b resamples the G clusters with replacement */
    int ok = 0;
    for (int g = 0, q = 0; g < c.G; g++)
        if (c.n[g]) map[q++] = g;
    for (int b = 0; b < B; b++) {
        PrillmRng rng = {(unsigned long long)st->seed * 0x9e3779b97f4a7c15ULL ^ (stream << 32) ^ (unsigned long long)b};
        prillm__rng_next(&rng);
        memset(weight, 0, (size_t)c.G * sizeof *weight);
        for (int q = 0; q < G; q++) weight[map[(size_t)(prillm__rng_uniform(&rng) * G)]]++;
        double bcoef[64];
        if (solve(&c, weight, A, bcoef, swept) == 0 && isfinite(bcoef[0])) draws[ok++] = bcoef[0];
    }
    out->bootstrap_ok = ok;
    if (ok >= 2) {
        double mean = 0, var = 0;
        for (int q = 0; q < ok; q++) mean += draws[q];
        mean /= ok;
        for (int q = 0; q < ok; q++) var += (draws[q] - mean) * (draws[q] - mean);
        out->se = sqrt(var / (ok - 1));
        qsort(draws, (size_t)ok, sizeof *draws, compare_double);
        out->lo = quantile(draws, ok, (1 - st->level) / 2);
        out->hi = quantile(draws, ok, 1 - (1 - st->level) / 2);
    }
    if (demeaned) {
        *demeaned = rows;
        rows = NULL;
    }
done:
    free(gsum);
    free(gcount);
    free(rows);
    free(c.cross);
    free(c.n);
    free(weight);
    free(map);
    free(draws);
    return rc;
}

/* ---- per-model estimates ------------------------------------------------ */

static int compare_model(const void *a, const void *b) {
    return strcmp(((const PrillmElasticityModel *)a)->model, ((const PrillmElasticityModel *)b)->model);
}

/* Each model's own slope on log price, the pooled control coefficients held
 * fixed (Frisch-Waugh on the demeaned rows), with its standard error
 * clustered by provider;
 * then shrinkage toward the pooled estimate with the DerSimonian-Laird
 * between-model variance. */
static PrillmErrorCode per_model(const PrillmElasticityData *data, const PrillmElasticitySettings *st,
                                 const double *rows, const double *coef, PrillmElasticityResult *res, PrillmError *err) {
    const PrillmElasticityDesign *d = &data->across;
    int k = d->k, K = k + 1, M = data->n_models;
    double *sxx = prillm__calloc((size_t)M, sizeof(double)), *sxy = prillm__calloc((size_t)M, sizeof(double));
    long *n = prillm__calloc((size_t)M, sizeof(long));
    int *seen = prillm__calloc((size_t)d->n_groups + 1, sizeof(int)), *groups = prillm__calloc((size_t)M, sizeof(int));
    int *slot = NULL;
    double *score = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    double *syy = prillm__calloc((size_t)M, sizeof(double));
    if (!sxx || !sxy || !syy || !n || !seen || !groups) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the per-model estimates");
        goto done;
    }
    for (long i = 0; i < d->n; i++) {
        const double *r = rows + (size_t)i * K;
        double y = r[k];
        for (int j = 1; j < k; j++)
            if (isfinite(coef[j])) y -= coef[j] * r[j];
        int m = d->cluster[i];
        sxx[m] += r[0] * r[0];
        sxy[m] += r[0] * y;
        syy[m] += y * y;
        n[m]++;
        if (!seen[d->group[i]]) groups[m]++, seen[d->group[i]] = 1;
    }
    int count = 0, NP = 1;
    for (int m = 0; m < M; m++) count += data->providers[m] >= st->model_min_providers && n[m] >= st->model_min_obs;
    for (long i = 0; i < d->n; i++) NP = d->provider[i] >= NP ? d->provider[i] + 1 : NP;
    res->models = prillm__calloc((size_t)count + 1, sizeof *res->models);
    slot = prillm__calloc((size_t)M, sizeof(int));
    score = prillm__calloc((size_t)M * (size_t)NP, sizeof(double));
    if (!res->models || !slot || !score) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the per-model estimates");
        goto done;
    }
    for (int m = 0; m < M; m++) slot[m] = -1;
    for (int m = 0; m < M; m++) {
        if (data->providers[m] < st->model_min_providers || n[m] < st->model_min_obs) continue;
        long dof = n[m] - groups[m] - 1;
        /* the model's prices must differ across its providers: a root-mean-square
         * deviation of log price from the day's mean of at least 0.01 (1%) */
        if (!(sxx[m] >= 1e-4 * n[m]) || dof < 1) continue;
        PrillmElasticityModel *e = &res->models[res->n_models];
        e->model = prillm__strdup(data->model[m]);
        if (!e->model) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in the per-model estimates");
            goto done;
        }
        e->providers = data->providers[m];
        e->n_obs = n[m];
        e->n_groups = groups[m];
        e->raw = sxy[m] / sxx[m];
        e->raw_se = sqrt(fmax(0, syy[m] - e->raw * sxy[m]) / (double)dof / sxx[m]);
        slot[m] = res->n_models;
        res->n_models++;
    }
    /* standard errors: the larger of the conventional one and the one
     * clustered by provider. A provider's price and its unobserved appeal
     * persist over the days, so its days are not independent observations;
     * with 3 to 10 providers the clustered variance is itself noisy and
     * often too small, hence the maximum. Clustered (CR1): P/(P-1) sum_p
     * s_p^2 / sxx^2 with s_p = sum over the provider's rows of x (y - b x). */
    for (long i = 0; i < d->n; i++) {
        int m = d->cluster[i];
        if (slot[m] < 0) continue;
        const double *r = rows + (size_t)i * K;
        double y = r[k];
        for (int j = 1; j < k; j++)
            if (isfinite(coef[j])) y -= coef[j] * r[j];
        score[(size_t)m * NP + (size_t)d->provider[i]] += r[0] * (y - res->models[slot[m]].raw * r[0]);
    }
    for (int m = 0; m < M; m++) {
        if (slot[m] < 0) continue;
        PrillmElasticityModel *e = &res->models[slot[m]];
        double meat = 0;
        for (int p = 0; p < NP; p++) meat += score[(size_t)m * NP + p] * score[(size_t)m * NP + p];
        double clustered = sqrt((double)e->providers / (e->providers - 1) * meat) / sxx[m];
        e->raw_se = fmax(clustered, e->raw_se); /* the conventional one, kept there below */
    }
    qsort(res->models, (size_t)res->n_models, sizeof *res->models, compare_model); /* slot is stale from here */
    /* DerSimonian-Laird tau^2 from the raw estimates and their variances */
    double sw = 0, sw2 = 0, swb = 0, q = 0, tau2 = 0;
    int usable = 0;
    for (int j = 0; j < res->n_models; j++) {
        const PrillmElasticityModel *e = &res->models[j];
        if (!(e->raw_se > 0)) continue;
        double w = 1 / (e->raw_se * e->raw_se);
        sw += w, sw2 += w * w, swb += w * e->raw, usable++;
    }
    if (usable >= 2) {
        double mean = swb / sw;
        for (int j = 0; j < res->n_models; j++) {
            const PrillmElasticityModel *e = &res->models[j];
            if (e->raw_se > 0) q += (e->raw - mean) * (e->raw - mean) / (e->raw_se * e->raw_se);
        }
        tau2 = fmax(0, (q - (usable - 1)) / (sw - sw2 / sw));
    }
    res->between_sd = usable >= 2 ? sqrt(tau2) : NAN;
    double mu = res->across_providers.elasticity;
    double se_mu = isfinite(res->across_providers.se) ? res->across_providers.se : res->across_providers.se_analytic;
    for (int j = 0; j < res->n_models; j++) {
        PrillmElasticityModel *e = &res->models[j];
        double s2 = e->raw_se * e->raw_se;
        /* weight on the pooled estimate; a model with no residual noise keeps its own */
        double B = s2 + tau2 > 0 ? s2 / (s2 + tau2) : 0;
        if (!isfinite(mu)) B = 0;
        e->shrunk = B > 0 ? mu + (1 - B) * (e->raw - mu) : e->raw;
        double v = (1 - B) * s2 + B * B * (isfinite(se_mu) ? se_mu * se_mu : 0);
        e->shrunk_se = sqrt(v);
    }
done:
    free(sxx);
    free(sxy);
    free(syy);
    free(n);
    free(seen);
    free(slot);
    free(score);
    free(groups);
    return rc;
}

void prillm_elasticity_result_free(PrillmElasticityResult *res) {
    if (!res) return;
    for (int j = 0; j < res->n_models; j++) free(res->models[j].model);
    free(res->models);
    res->models = NULL;
    res->n_models = 0;
}

PrillmErrorCode prillm_elasticity_estimate(const char *dir, const PrillmElasticitySettings *settings,
                                           PrillmElasticityResult *res, PrillmError *err) {
    if (!res) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result is NULL");
    memset(res, 0, sizeof *res);
    if (!dir || !dir[0]) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "no OpenRouter directory given");
    PrillmElasticitySettings st;
    if (settings) st = *settings;
    else prillm_elasticity_default_settings(&st);
    PrillmErrorCode rc = prillm_elasticity_check_settings(&st, err);
    if (rc) return rc;
    double start = prillm__now();
    PrillmElasticityData data;
    if ((rc = prillm__elasticity_read(dir, &st, &data, err))) return rc;
    res->rows_read = data.rows_read;
    res->share_fallbacks = data.share_fallbacks;
    res->controls_missing = data.controls_missing;
    res->over_time_candidates = data.over_time_candidates;
    if (data.across.n_groups == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "%s/raw/sui414_openrouter-pricing-data/effective_pricing_daily.csv: no (day, model) with two "
                          "providers with positive tokens and price",
                          dir);
        goto done;
    }
    double *rows = NULL, coef[8];
    if ((rc = prillm__elasticity_fit(&data.across, &st, 1, &res->across_providers, &rows, coef, err))) goto done;
    if (rows && isfinite(coef[0])) rc = per_model(&data, &st, rows, coef, res, err);
    free(rows);
    if (rc) goto done;
    if ((rc = prillm__elasticity_fit(&data.over_time, &st, 2, &res->over_time, NULL, NULL, err))) goto done;
    res->seconds = prillm__now() - start;
done:
    prillm__elasticity_data_free(&data);
    if (rc) prillm_elasticity_result_free(res);
    return rc;
}
