/*
 * Price sensitivity: the OpenRouter reader. Builds the two regression
 * designs of prillm/elasticity.h from models.csv,
 * raw/sui414_openrouter-pricing-data/effective_pricing_daily.csv and
 * .../endpoints_daily.csv.gz (docs/calibration.md, "Price sensitivity").
 */
#include "elasticity_internal.h"

#include "csv_table.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_DIR "raw/sui414_openrouter-pricing-data"

/* ---- a string -> int map (open addressing, FNV-1a) ---------------------- */

typedef struct {
    char **key;
    int *value;
    size_t cap, count;
} StrMap;

static uint64_t hash_text(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void map_free(StrMap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->value);
    memset(m, 0, sizeof *m);
}

static int map_init(StrMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = 64;
    while (m->cap < 2 * expected + 16) m->cap *= 2;
    m->key = prillm__calloc(m->cap, sizeof *m->key);
    m->value = prillm__calloc(m->cap, sizeof *m->value);
    if (!m->key || !m->value) {
        map_free(m);
        return -1;
    }
    return 0;
}

static size_t map_slot(const StrMap *m, const char *key) {
    size_t i = (size_t)hash_text(key) & (m->cap - 1);
    while (m->key[i] && strcmp(m->key[i], key) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

/* Value of key, or -1. */
static int map_get(const StrMap *m, const char *key) {
    size_t i = map_slot(m, key);
    return m->key[i] ? m->value[i] : -1;
}

/* Value of key, inserting value when absent; -2 when out of memory. */
static int map_put(StrMap *m, const char *key, int value) {
    if (2 * (m->count + 1) > m->cap) {
        StrMap bigger = {prillm__calloc(2 * m->cap, sizeof(char *)), prillm__calloc(2 * m->cap, sizeof(int)),
                         2 * m->cap, m->count};
        if (!bigger.key || !bigger.value) {
            free(bigger.key);
            free(bigger.value);
            return -2;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = map_slot(&bigger, m->key[i]);
                bigger.key[j] = m->key[i];
                bigger.value[j] = m->value[i];
            }
        free(m->key);
        free(m->value);
        *m = bigger;
    }
    size_t i = map_slot(m, key);
    if (m->key[i]) return m->value[i];
    if (!(m->key[i] = prillm__strdup(key))) return -2;
    m->value[i] = value;
    m->count++;
    return value;
}

/* ---- rows -------------------------------------------------------------- */

typedef struct {
    int date, model;
    double tokens, share;              /* share: input share of tokens (NaN if unknown) */
    double in_listed, out_listed, in_eff, out_eff;
} ModelDay;

typedef struct {
    double w_lat, lat_w, u_lat, lat_u;  /* request-weighted and plain sums */
    double w_thr, thr_w, u_thr, thr_u;
    double w_price, pin_w, pout_w, u_price, pin_u, pout_u;
} EndpointSum;

typedef struct {
    int date, model, provider;
    double tokens, in, out, share, lat, thr;
} ProviderDay;

static PrillmErrorCode no_memory(PrillmError *err) {
    return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the OpenRouter data");
}

static PrillmErrorCode require(const PrillmCsvTable *t, const char *const *names, int *cols, int count,
                               PrillmError *err) {
    for (int c = 0; c < count; c++) {
        PrillmErrorCode rc = prillm__csv_require(t, names[c], &cols[c], err);
        if (rc) return rc;
    }
    if (t->rows <= 0) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has a header but no data rows", t->path);
    return PRILLM_OK;
}

static PrillmErrorCode date_of(const PrillmCsvTable *t, long row, int col, int *date, PrillmError *err) {
    *date = prillm__csv_date(prillm__csv_get(t, row, col));
    if (*date < 0)
        return prillm__fail(err, PRILLM_ERR_PARSE, "%s row %ld column %s: \"%s\" is not a date (YYYY-MM-DD)", t->path,
                            row + 2, t->name[col], prillm__csv_get(t, row, col));
    return PRILLM_OK;
}

static PrillmErrorCode numbers(const PrillmCsvTable *t, long row, const int *cols, int count, double *out,
                               PrillmError *err) {
    for (int c = 0; c < count; c++) {
        PrillmErrorCode rc = prillm__csv_number(t, row, cols[c], &out[c], err);
        if (rc) return rc;
    }
    return PRILLM_OK;
}

/* "model_slug" or "model_slug:variant" (the models.csv id) */
static void model_key(char *buf, size_t size, const char *slug, const char *variant) {
    if (!variant[0] || strcmp(variant, "standard") == 0) snprintf(buf, size, "%s", slug);
    else snprintf(buf, size, "%s:%s", slug, variant);
}

static int is_true(const char *text) { return strcmp(text, "True") == 0 || strcmp(text, "true") == 0 || strcmp(text, "1") == 0; }

static int positive(double x) { return isfinite(x) && x > 0; }

static double blend(double share, double in, double out) {
    if (!isfinite(in) || !isfinite(out)) return NAN;
    return share * in + (1 - share) * out;
}

/* Model ids get indices in order of first appearance; the estimator sorts
 * nothing, so the indices only need to be deterministic. */
static int model_index(StrMap *models, char ***names, int *count, int *cap, const char *key) {
    int id = map_put(models, key, *count);
    if (id == -2) return -2;
    if (id == *count) {
        if (*count == *cap) {
            int bigger = *cap ? 2 * *cap : 256;
            char **grown = realloc(*names, (size_t)bigger * sizeof **names);
            if (!grown) return -2;
            *names = grown;
            *cap = bigger;
        }
        if (!((*names)[*count] = prillm__strdup(key))) return -2;
        (*count)++;
    }
    return id;
}

void prillm__elasticity_design_free(PrillmElasticityDesign *d) {
    if (!d) return;
    free(d->group);
    free(d->cluster);
    free(d->provider);
    free(d->y);
    free(d->x);
    memset(d, 0, sizeof *d);
}

void prillm__elasticity_data_free(PrillmElasticityData *data) {
    if (!data) return;
    prillm__elasticity_design_free(&data->across);
    prillm__elasticity_design_free(&data->over_time);
    for (int i = 0; i < data->n_models; i++) free(data->model[i]);
    free(data->model);
    free(data->providers);
    memset(data, 0, sizeof *data);
}

static int design_alloc(PrillmElasticityDesign *d, long n, int k) {
    d->n = n;
    d->k = k;
    size_t rows = n > 0 ? (size_t)n : 1;
    d->group = prillm__calloc(rows, sizeof(int));
    d->cluster = prillm__calloc(rows, sizeof(int));
    d->provider = prillm__calloc(rows, sizeof(int));
    d->y = prillm__calloc(rows, sizeof(double));
    d->x = prillm__calloc(rows * (size_t)k, sizeof(double));
    return d->group && d->cluster && d->provider && d->y && d->x ? 0 : -1;
}

/* Distinct sorted days; returns the count, or -1 out of memory. */
static int day_list(const int *dates, long n, int **days) {
    int *sorted = prillm__calloc(n > 0 ? (size_t)n : 1, sizeof(int));
    if (!sorted) return -1;
    memcpy(sorted, dates, (size_t)n * sizeof(int));
    qsort(sorted, (size_t)n, sizeof(int), prillm__compare_int);
    int count = 0;
    for (long i = 0; i < n; i++)
        if (count == 0 || sorted[count - 1] != sorted[i]) sorted[count++] = sorted[i];
    *days = sorted;
    return count;
}

static int day_index(const int *days, int count, int date) {
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (days[mid] == date) return mid;
        if (days[mid] < date) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* ---- the three files --------------------------------------------------- */

typedef struct {
    StrMap models, model_day, endpoint, provider;
    char **names;
    int n_models, cap_models;
    ModelDay *md;
    long n_md;
    EndpointSum *ep;
    long n_ep;
    ProviderDay *pd;
    long n_pd;
} Reader;

static void reader_free(Reader *r) {
    map_free(&r->models);
    map_free(&r->model_day);
    map_free(&r->endpoint);
    map_free(&r->provider);
    for (int i = 0; i < r->n_models; i++) free(r->names[i]);
    free(r->names);
    free(r->md);
    free(r->ep);
    free(r->pd);
}

static PrillmErrorCode read_models(const char *dir, Reader *r, PrillmError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models.csv", dir);
    PrillmCsvTable t;
    PrillmErrorCode rc = prillm__csv_read(path, &t, err);
    if (rc) return rc;
    static const char *const names[] = {"date", "model_id", "tokens", "prompt_tokens", "completion_tokens",
                                        "price_in_per_mtok", "price_out_per_mtok", "price_in_effective_per_mtok",
                                        "price_out_effective_per_mtok"};
    int cols[9];
    if ((rc = require(&t, names, cols, 9, err))) goto done;
    if (!(r->md = prillm__calloc((size_t)t.rows, sizeof *r->md)) || map_init(&r->model_day, (size_t)t.rows)) {
        rc = no_memory(err);
        goto done;
    }
    for (long row = 0; row < t.rows; row++) {
        ModelDay *m = &r->md[r->n_md];
        double v[7];
        if ((rc = date_of(&t, row, cols[0], &m->date, err)) || (rc = numbers(&t, row, cols + 2, 7, v, err))) goto done;
        const char *id = prillm__csv_get(&t, row, cols[1]);
        if (!id[0]) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld column model_id: empty", t.path, row + 2);
            goto done;
        }
        if ((m->model = model_index(&r->models, &r->names, &r->n_models, &r->cap_models, id)) < 0) {
            rc = no_memory(err);
            goto done;
        }
        m->tokens = v[0];
        m->share = isfinite(v[1]) && isfinite(v[2]) && v[1] >= 0 && v[2] >= 0 && v[1] + v[2] > 0 ? v[1] / (v[1] + v[2])
                                                                                                  : NAN;
        m->in_listed = v[3];
        m->out_listed = v[4];
        m->in_eff = v[5];
        m->out_eff = v[6];
        char key[1200];
        snprintf(key, sizeof key, "%d|%s", m->date, id);
        int at = map_put(&r->model_day, key, (int)r->n_md);
        if (at == -2) {
            rc = no_memory(err);
            goto done;
        }
        if (at != (int)r->n_md) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s row %ld: a second row for model %s on %s", t.path,
                              row + 2, id, prillm__csv_get(&t, row, cols[0]));
            goto done;
        }
        r->n_md++;
    }
done:
    prillm__csv_free(&t);
    return rc;
}

static PrillmErrorCode read_endpoints(const char *dir, Reader *r, PrillmError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" RAW_DIR "/endpoints_daily.csv.gz", dir);
    PrillmCsvTable t;
    PrillmErrorCode rc = prillm__csv_read(path, &t, err);
    if (rc) return rc;
    static const char *const names[] = {"scrape_date", "model_slug", "variant", "provider_slug", "price_prompt",
                                        "price_completion", "p50_latency", "p50_throughput", "request_count"};
    int cols[9];
    if ((rc = require(&t, names, cols, 9, err))) goto done;
    int disabled = prillm__csv_column(&t, "is_disabled");
    if (!(r->ep = prillm__calloc((size_t)t.rows, sizeof *r->ep)) || map_init(&r->endpoint, (size_t)t.rows)) {
        rc = no_memory(err);
        goto done;
    }
    for (long row = 0; row < t.rows; row++) {
        int date;
        double v[5];
        if ((rc = date_of(&t, row, cols[0], &date, err)) || (rc = numbers(&t, row, cols + 4, 5, v, err))) goto done;
        if (disabled >= 0 && is_true(prillm__csv_get(&t, row, disabled))) continue;
        char model[1100], key[1400], slug[256];
        model_key(model, sizeof model, prillm__csv_get(&t, row, cols[1]), prillm__csv_get(&t, row, cols[2]));
        /* "google-vertex/europe" is an endpoint of provider google-vertex */
        snprintf(slug, sizeof slug, "%s", prillm__csv_get(&t, row, cols[3]));
        char *cut = strchr(slug, '/');
        if (cut) *cut = '\0';
        snprintf(key, sizeof key, "%d|%s|%s", date, model, slug);
        int at = map_put(&r->endpoint, key, (int)r->n_ep);
        if (at == -2) {
            rc = no_memory(err);
            goto done;
        }
        if (at == (int)r->n_ep) r->n_ep++;
        EndpointSum *e = &r->ep[at];
        double w = positive(v[4]) ? v[4] : 0;
        if (positive(v[2])) {
            e->w_lat += w, e->lat_w += w * log(v[2]);
            e->u_lat += 1, e->lat_u += log(v[2]);
        }
        if (positive(v[3])) {
            e->w_thr += w, e->thr_w += w * log(v[3]);
            e->u_thr += 1, e->thr_u += log(v[3]);
        }
        if (isfinite(v[0]) && isfinite(v[1]) && v[0] >= 0 && v[1] >= 0) {
            e->w_price += w, e->pin_w += w * v[0] * 1e6, e->pout_w += w * v[1] * 1e6;
            e->u_price += 1, e->pin_u += v[0] * 1e6, e->pout_u += v[1] * 1e6;
        }
    }
done:
    prillm__csv_free(&t);
    return rc;
}

/* The request-weighted mean (a plain mean when no endpoint reports requests). */
static double mean_of(double w, double wx, double u, double ux) { return w > 0 ? wx / w : u > 0 ? ux / u : NAN; }

static PrillmErrorCode read_effective(const char *dir, const PrillmElasticitySettings *st, Reader *r,
                                      PrillmElasticityData *data, PrillmError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" RAW_DIR "/effective_pricing_daily.csv", dir);
    PrillmCsvTable t;
    PrillmErrorCode rc = prillm__csv_read(path, &t, err);
    if (rc) return rc;
    static const char *const names[] = {"scrape_date", "model_slug", "variant", "provider_name", "provider_slug",
                                        "effective_input_price", "effective_output_price", "total_tokens"};
    int cols[8];
    if ((rc = require(&t, names, cols, 8, err))) goto done;
    if (!(r->pd = prillm__calloc((size_t)t.rows, sizeof *r->pd)) || map_init(&r->provider, 1024)) {
        rc = no_memory(err);
        goto done;
    }
    for (long row = 0; row < t.rows; row++) {
        int date;
        double v[3];
        if ((rc = date_of(&t, row, cols[0], &date, err))) goto done;
        const char *slug = prillm__csv_get(&t, row, cols[4]);
        if (!slug[0]) continue; /* the model's aggregate row */
        data->rows_read++;
        if ((rc = numbers(&t, row, cols + 5, 3, v, err))) goto done;
        const char *provider = prillm__csv_get(&t, row, cols[3]);
        if (!provider[0]) provider = slug;
        char model[1100], key[1400];
        model_key(model, sizeof model, prillm__csv_get(&t, row, cols[1]), prillm__csv_get(&t, row, cols[2]));
        if (!positive(v[2])) continue;
        snprintf(key, sizeof key, "%d|%s", date, model);
        int at = map_get(&r->model_day, key);
        double share = at >= 0 ? r->md[at].share : NAN;
        ProviderDay p = {date, 0, 0, v[2], v[0], v[1], share, NAN, NAN};
        char slug_base[256];
        snprintf(slug_base, sizeof slug_base, "%s", slug);
        char *cut = strchr(slug_base, '/');
        if (cut) *cut = '\0';
        snprintf(key, sizeof key, "%d|%s|%s", date, model, slug_base);
        int e = r->endpoint.cap ? map_get(&r->endpoint, key) : -1;
        if (e >= 0) {
            const EndpointSum *s = &r->ep[e];
            p.lat = mean_of(s->w_lat, s->lat_w, s->u_lat, s->lat_u);
            p.thr = mean_of(s->w_thr, s->thr_w, s->u_thr, s->thr_u);
            if (st->price == PRILLM_ELASTICITY_PRICE_LISTED) {
                p.in = mean_of(s->w_price, s->pin_w, s->u_price, s->pin_u);
                p.out = mean_of(s->w_price, s->pout_w, s->u_price, s->pout_u);
            }
        } else if (st->price == PRILLM_ELASTICITY_PRICE_LISTED) {
            continue; /* no listed price for this provider that day */
        }
        double s_in = isfinite(share) ? share : st->input_share;
        if (!positive(blend(s_in, p.in, p.out))) continue;
        if ((p.model = model_index(&r->models, &r->names, &r->n_models, &r->cap_models, model)) < 0 ||
            (p.provider = map_put(&r->provider, provider, (int)r->provider.count)) < 0) {
            rc = no_memory(err);
            goto done;
        }
        r->pd[r->n_pd++] = p;
    }
done:
    prillm__csv_free(&t);
    return rc;
}

/* ---- designs ------------------------------------------------------------ */

/* Across providers: groups = (day, model) with >= 2 usable providers. */
static PrillmErrorCode build_across(const PrillmElasticitySettings *st, Reader *r, PrillmElasticityData *data,
                                    PrillmError *err) {
    StrMap groups, pairs;
    if (map_init(&groups, (size_t)r->n_pd)) return no_memory(err);
    if (map_init(&pairs, 4096)) {
        map_free(&groups);
        return no_memory(err);
    }
    data->providers = prillm__calloc((size_t)r->n_models + 1, sizeof(int));
    int *gid = prillm__calloc((size_t)r->n_pd + 1, sizeof(int));
    int *size = prillm__calloc((size_t)r->n_pd + 1, sizeof(int));
    PrillmErrorCode rc = PRILLM_OK;
    if (!gid || !size || !data->providers) {
        rc = no_memory(err);
        goto done;
    }
    for (long i = 0; i < r->n_pd; i++) {
        char key[64];
        snprintf(key, sizeof key, "%d|%d", r->pd[i].date, r->pd[i].model);
        if ((gid[i] = map_put(&groups, key, (int)groups.count)) < 0) {
            rc = no_memory(err);
            goto done;
        }
        size[gid[i]]++;
    }
    long n = 0;
    for (long i = 0; i < r->n_pd; i++) n += size[gid[i]] >= 2;
    int k = st->controls ? 5 : 1;
    PrillmElasticityDesign *d = &data->across;
    if (design_alloc(d, n, k)) {
        rc = no_memory(err);
        goto done;
    }
    d->controls = st->controls;
    int *renumber = prillm__calloc(groups.count + 1, sizeof(int));
    int *dates = prillm__calloc((size_t)n + 1, sizeof(int));
    if (!renumber || !dates) {
        free(renumber);
        free(dates);
        rc = no_memory(err);
        goto done;
    }
    for (size_t g = 0; g < groups.count; g++) renumber[g] = -1;
    long row = 0;
    for (long i = 0; i < r->n_pd; i++) {
        if (size[gid[i]] < 2) continue;
        const ProviderDay *p = &r->pd[i];
        if (renumber[gid[i]] < 0) renumber[gid[i]] = d->n_groups++;
        d->group[row] = renumber[gid[i]];
        d->cluster[row] = p->model;
        dates[row] = p->date;
        double share = isfinite(p->share) ? p->share : st->input_share;
        data->share_fallbacks += !isfinite(p->share);
        d->y[row] = log(p->tokens);
        double *x = d->x + (size_t)row * (size_t)k;
        x[0] = log(blend(share, p->in, p->out));
        if (k == 5) {
            /* log p50 latency and throughput; a missing one is 0 with its indicator set */
            int miss_lat = !isfinite(p->lat), miss_thr = !isfinite(p->thr);
            x[1] = miss_lat ? 0 : p->lat;
            x[2] = miss_lat;
            x[3] = miss_thr ? 0 : p->thr;
            x[4] = miss_thr;
            data->controls_missing += miss_lat || miss_thr;
        }
        /* distinct providers of each model, for the per-model estimates */
        char key[64];
        snprintf(key, sizeof key, "%d|%d", p->model, p->provider);
        size_t before = pairs.count;
        if (map_put(&pairs, key, (int)before) == -2) {
            free(renumber);
            free(dates);
            rc = no_memory(err);
            goto done;
        }
        data->providers[p->model] += pairs.count > before;
        d->provider[row] = p->provider;
        row++;
    }
    int *days = NULL;
    d->n_days = day_list(dates, n, &days);
    free(days);
    free(renumber);
    free(dates);
    if (d->n_days < 0) rc = no_memory(err);
done:
    map_free(&groups);
    map_free(&pairs);
    free(gid);
    free(size);
    return rc;
}

/* Over time: models whose listed input or output price moved by more than
 * min_price_change; model groups, day dummies. */
static PrillmErrorCode build_over_time(const PrillmElasticitySettings *st, Reader *r, PrillmElasticityData *data,
                                       PrillmError *err) {
    int m = r->n_models;
    double *lo = prillm__calloc((size_t)m + 1, 4 * sizeof(double));
    int *keep = prillm__calloc((size_t)m + 1, sizeof(int));
    int *dates = prillm__calloc((size_t)r->n_md + 1, sizeof(int));
    int *days = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    if (!lo || !keep || !dates) {
        rc = no_memory(err);
        goto done;
    }
    double *range = lo; /* [m][4]: min in, max in, min out, max out */
    for (int j = 0; j < m; j++) range[4 * j] = range[4 * j + 2] = INFINITY, range[4 * j + 1] = range[4 * j + 3] = -INFINITY;
    for (long i = 0; i < r->n_md; i++) {
        const ModelDay *d = &r->md[i];
        double *q = range + 4 * d->model;
        if (positive(d->in_listed)) q[0] = fmin(q[0], d->in_listed), q[1] = fmax(q[1], d->in_listed);
        if (positive(d->out_listed)) q[2] = fmin(q[2], d->out_listed), q[3] = fmax(q[3], d->out_listed);
    }
    for (int j = 0; j < m; j++) {
        const double *q = range + 4 * j;
        keep[j] = (isfinite(q[0]) && q[1] / q[0] - 1 > st->min_price_change) ||
                  (isfinite(q[2]) && q[3] / q[2] - 1 > st->min_price_change);
        data->over_time_candidates += keep[j];
    }
    long n = 0;
    for (long i = 0; i < r->n_md; i++) {
        const ModelDay *d = &r->md[i];
        double share = isfinite(d->share) ? d->share : st->input_share;
        double price = st->price == PRILLM_ELASTICITY_PRICE_LISTED ? blend(share, d->in_listed, d->out_listed)
                                                                   : blend(share, d->in_eff, d->out_eff);
        if (keep[d->model] && positive(d->tokens) && positive(price)) dates[n++] = d->date;
    }
    int n_days = day_list(dates, n, &days);
    if (n_days < 0) {
        rc = no_memory(err);
        goto done;
    }
    int k = n_days > 1 ? n_days : 1;
    PrillmElasticityDesign *des = &data->over_time;
    if (design_alloc(des, n, k)) {
        rc = no_memory(err);
        goto done;
    }
    des->n_days = n_days;
    int *renumber = keep; /* model -> group, reused */
    int groups = 0;
    for (int j = 0; j < m; j++) renumber[j] = keep[j] ? -2 : -1;
    long row = 0;
    for (long i = 0; i < r->n_md; i++) {
        const ModelDay *d = &r->md[i];
        if (renumber[d->model] == -1) continue;
        double share = isfinite(d->share) ? d->share : st->input_share;
        double price = st->price == PRILLM_ELASTICITY_PRICE_LISTED ? blend(share, d->in_listed, d->out_listed)
                                                                   : blend(share, d->in_eff, d->out_eff);
        if (!positive(d->tokens) || !positive(price)) continue;
        if (renumber[d->model] == -2) renumber[d->model] = groups++;
        des->group[row] = renumber[d->model];
        des->cluster[row] = d->model;
        des->provider[row] = -1;
        des->y[row] = log(d->tokens);
        double *x = des->x + (size_t)row * (size_t)k;
        x[0] = log(price);
        int day = day_index(days, n_days, d->date);
        if (day > 0) x[day] = 1; /* the first day is the base */
        row++;
    }
    des->n_groups = groups;
done:
    free(lo);
    free(keep);
    free(dates);
    free(days);
    return rc;
}

PrillmErrorCode prillm__elasticity_read(const char *dir, const PrillmElasticitySettings *st, PrillmElasticityData *data,
                                        PrillmError *err) {
    memset(data, 0, sizeof *data);
    Reader r;
    memset(&r, 0, sizeof r);
    PrillmErrorCode rc = PRILLM_OK;
    if (map_init(&r.models, 1024)) return no_memory(err);
    if ((rc = read_models(dir, &r, err))) goto done;
    if ((st->controls || st->price == PRILLM_ELASTICITY_PRICE_LISTED) && (rc = read_endpoints(dir, &r, err))) goto done;
    if ((rc = read_effective(dir, st, &r, data, err))) goto done;
    if ((rc = build_across(st, &r, data, err))) goto done;
    if ((rc = build_over_time(st, &r, data, err))) goto done;
    data->across.n_clusters = data->over_time.n_clusters = r.n_models;
    data->model = r.names;
    data->n_models = r.n_models;
    r.names = NULL;
    r.n_models = 0;
done:
    reader_free(&r);
    if (rc) prillm__elasticity_data_free(data);
    return rc;
}
