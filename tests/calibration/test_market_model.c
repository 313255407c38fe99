/*
 * The whole-market model (include/prillm/market_model.h): the price
 * Jacobian against central finite differences of independent equilibrium
 * solves on random markets with app tastes; the fit on the real OpenRouter
 * data (skipped when ../shared/data/openrouter is absent): the inversion's
 * certificate, no stranded model, the elasticity matched, the same figures
 * on two runs; and bad input.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <prillm/prillm.h>

#include "prillm/market_model.h"
#include "support.h"

static void provider_flows_at(const PrillmMarket *base, int j, double price, double *F) {
    PrillmMarket *mk = prillm_market_copy(base, NULL);
    assert_non_null(mk);
    mk->price[j] = price;
    PrillmEquilibriumSolver *s = test_solve(mk, NULL);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(s);
    memcpy(F, eq->provider_flow, (size_t)mk->n_providers * sizeof *F);
    prillm_equilibrium_cleanup(s);
    prillm_market_free(mk);
}

static void test_jacobian_matches_finite_differences(void **state) {
    (void)state;
    int checked = 0, kinks = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        TestRng rng = {seed * 7919};
        int n = test_int(&rng, 1, 12), m = test_int(&rng, 2, 8);
        PrillmMarket *mk = test_market(n, m, seed, NULL);
        test_market_affinity(mk, seed + 100, 0.2);
        double *jac = malloc((size_t)m * (size_t)m * sizeof *jac);
        double *lo = malloc((size_t)m * sizeof *lo), *hi = malloc((size_t)m * sizeof *hi);
        double *mid = malloc((size_t)m * sizeof *mid);
        PrillmError err;
        assert_int_equal(prillm_market_price_jacobian(mk, NULL, 0, jac, &err), PRILLM_OK);
        for (int j = 0; j < m; j++) {
            double p = mk->price[j], h = 1e-6 * fmax(1.0, fabs(p));
            provider_flows_at(mk, j, p - h, lo);
            provider_flows_at(mk, j, p, mid);
            provider_flows_at(mk, j, p + h, hi);
            double scale = 0;
            for (int k = 0; k < m; k++) scale = fmax(scale, fabs(hi[k] - lo[k]) / (2 * h));
            double total = 0;
            for (int i = 0; i < n; i++) total += mk->demand[i];
            scale = fmax(scale, 1e-8 * total); /* a column of zeros: round-off of the demand */
            /* one-sided slopes that disagree: the active set changes at p
             * (a kink), where no derivative exists to compare with */
            int kink = 0;
            for (int k = 0; k < m; k++)
                if (fabs((hi[k] - mid[k]) / h - (mid[k] - lo[k]) / h) > 1e-3 * scale) kink = 1;
            if (kink) {
                kinks++;
                continue;
            }
            for (int k = 0; k < m; k++) {
                double fd = (hi[k] - lo[k]) / (2 * h);
                /* central differences carry round-off of about eps F / h */
                if (fabs(jac[(size_t)j * (size_t)m + (size_t)k] - fd) > 1e-5 * scale + 1e-10 * total / h)
                    fail_msg("seed %llu: dF_%d/dp_%d = %.10g, finite differences %.10g", (unsigned long long)seed, k, j,
                             jac[(size_t)j * (size_t)m + (size_t)k], fd);
            }
            /* demand is fixed: what the target loses, rivals gain */
            double sum = 0, biggest = 0;
            for (int k = 0; k < m; k++)
                sum += jac[(size_t)j * (size_t)m + (size_t)k], biggest = fmax(biggest, fabs(jac[(size_t)j * (size_t)m + (size_t)k]));
            if (fabs(sum) > 1e-9 * (biggest + 1e-6 * total)) fail_msg("seed %llu column %d sums to %g (scale %g)", (unsigned long long)seed, j, sum, scale);
            checked++;
        }
        free(jac);
        free(lo);
        free(hi);
        free(mid);
        prillm_market_free(mk);
    }
    print_message("price Jacobian: %d columns checked, %d at kinks skipped\n", checked, kinks);
    assert_true(checked > 100);
}

static void test_jacobian_bad_input(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(3, 3, 5, NULL);
    double jac[9];
    PrillmError err;
    int columns[] = {3};
    assert_int_equal(prillm_market_price_jacobian(mk, columns, 1, jac, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "columns[0]"));
    assert_int_equal(prillm_market_price_jacobian(NULL, NULL, 0, jac, &err), PRILLM_ERR_INVALID_ARGUMENT);
    prillm_market_free(mk);
}

/* calibrate's diagnostics: stranded models recomputed from the prediction,
 * the implied cost from central differences of independent solves */
static void test_calibration_diagnostics(void **state) {
    (void)state;
    int checked = 0;
    for (unsigned long long seed = 1; seed <= 4; seed++) {
        PrillmObservations *obs = NULL;
        PrillmError err;
        assert_int_equal(prillm_observations_synthetic(8, 5, 2, 0.8, 0.5, NULL, 0.2, 3, seed, &obs, &err), PRILLM_OK);
        PrillmCalibrationSettings st;
        prillm_calibration_default_settings(&st);
        st.iterations = 40;
        st.folds = 0;
        st.init = 2; /* zero values: the LP start needs GLPK, which a minimal build lacks */
        PrillmCalibrationResult *r = NULL;
        assert_int_equal(prillm_calibrate(obs, &st, NULL, NULL, &r, &err), PRILLM_OK);
        PrillmCalibrationDiagnostics d;
        assert_int_equal(prillm_calibration_diagnose(obs, r, &d, &err), PRILLM_OK);
        int n = obs->n_users, m = obs->n_providers;
        size_t M = (size_t)m, cells = (size_t)n * M;
        int stranded = 0;
        for (int j = 0; j < m; j++) {
            int seen = 0, served = 0;
            for (int t = 0; t < obs->n_periods; t++) {
                double F = 0;
                int o = 0;
                for (int i = 0; i < n; i++) {
                    double x = obs->periods[t].observed[(size_t)i * M + (size_t)j];
                    o |= isfinite(x) && x > 0;
                    F += r->predicted[(size_t)t * cells + (size_t)i * M + (size_t)j];
                }
                if (o) seen = 1, served |= F > 0;
            }
            assert_int_equal(d.stranded[j], seen && !served);
            stranded += d.stranded[j];
        }
        assert_int_equal(d.n_stranded, stranded);
        PrillmMarket *mk = NULL;
        assert_int_equal(prillm_calibration_market(obs, obs->n_periods - 1, r, &mk, &err), PRILLM_OK);
        double *lo = malloc(M * sizeof *lo), *hi = malloc(M * sizeof *hi), *mid = malloc(M * sizeof *mid);
        for (int j = 0; j < m; j++) {
            if (!isfinite(d.implied_cost[j])) continue;
            double p = mk->price[j], h = 1e-6 * fmax(1, p);
            provider_flows_at(mk, j, p - h, lo);
            provider_flows_at(mk, j, p, mid);
            provider_flows_at(mk, j, p + h, hi);
            double own = (hi[j] - lo[j]) / (2 * h);
            if (fabs((hi[j] - mid[j]) - (mid[j] - lo[j])) > 1e-6 * fabs(hi[j] - lo[j])) continue; /* a kink */
            assert_true(fabs(d.implied_cost[j] - (p + mid[j] / own)) <= 1e-4 * fmax(1, fabs(d.implied_cost[j])));
            checked++;
        }
        free(lo);
        free(hi);
        free(mid);
        prillm_market_free(mk);
        prillm_calibration_diagnostics_free(&d);
        prillm_calibration_result_free(r);
        prillm_observations_free(obs);
    }
    print_message("implied costs checked against finite differences: %d\n", checked);
    assert_true(checked >= 8);
}

static const char *real_data(void) {
    static char dir[1024];
    struct stat st;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter/models.csv", src ? src : ".");
    if (!src || stat(dir, &st) != 0) {
        print_message("%s absent: skipped\n", dir);
        return NULL;
    }
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter", src);
    return dir;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static double json_number(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static int json_flag(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

/* prillm_prediction_write_json / _csv read back (cJSON, sscanf) against the
 * prediction's arrays: every model, app and flag, every non-zero flow in
 * both; a stream that cannot be written and NULL arguments are errors */
static void check_prediction_writers(const PrillmPrediction *pr) {
    const PrillmMarket *mk = pr->market;
    int n = mk->n_users, m = mk->n_providers;
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    PrillmError err;
    assert_int_equal(prillm_prediction_write_json(pr, mem, &err), PRILLM_OK);
    fclose(mem);
    cJSON *root = cJSON_ParseWithLength(text, size);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "status")->valuestring, prillm_status_name(pr->status));
    char date[16];
    snprintf(date, sizeof date, "%04d-%02d-%02d", pr->date / 10000, pr->date / 100 % 100, pr->date % 100);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "date")->valuestring, date);
    assert_true(json_number(root, "market_scale") == pr->scale);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(root, "apps");
    assert_int_equal(cJSON_GetArraySize(models), m);
    assert_int_equal(cJSON_GetArraySize(apps), n);
    for (int j = 0; j < m; j++) {
        const cJSON *o = cJSON_GetArrayItem(models, j);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring, mk->provider_id[j]);
        assert_true(json_number(o, "price") == mk->price[j]);
        assert_true(fabs(json_number(o, "tokens") - pr->provider_flow[j] * 1e6) <= 1e-12 * fmax(1, pr->provider_flow[j] * 1e6));
        assert_int_equal(json_flag(o, "entrant"), pr->entrant[j] != 0);
        assert_int_equal(json_flag(o, "price_carried"), pr->carried[j] != 0);
    }
    long positive = 0;
    double csv_total = 0, flow_total = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(apps, i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring, mk->user_id[i]);
        assert_true(fabs(json_number(o, "demand") - mk->demand[i] * 1e6) <= 1e-12 * fmax(1, mk->demand[i] * 1e6));
        assert_int_equal(json_flag(o, "new"), pr->new_app[i] != 0);
        assert_int_equal(json_flag(o, "demand_carried"), pr->app_carried[i] != 0);
        const cJSON *flows = cJSON_GetObjectItemCaseSensitive(o, "flows");
        const cJSON *f = flows->child;
        for (int j = 0; j < m; j++) {
            double x = pr->flows[(size_t)i * (size_t)m + (size_t)j];
            if (!(x > 0)) continue;
            assert_non_null(f);
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(f, "model_id")->valuestring, mk->provider_id[j]);
            assert_true(fabs(json_number(f, "tokens") - x * 1e6) <= 1e-12 * x * 1e6);
            f = f->next;
            positive++;
            flow_total += x * 1e6;
        }
        assert_null(f);
    }
    cJSON_Delete(root);
    free(text);
    text = NULL;
    mem = open_memstream(&text, &size);
    assert_int_equal(prillm_prediction_write_csv(pr, mem, &err), PRILLM_OK);
    fclose(mem);
    long rows = 0;
    assert_true(strncmp(text, "app,model_id,tokens\n", 20) == 0);
    for (char *line = strchr(text, '\n') + 1; *line;) {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        *end = '\0';
        char *comma = strrchr(line, ',');
        assert_non_null(comma);
        csv_total += strtod(comma + 1, NULL);
        rows++;
        line = end + 1;
    }
    assert_int_equal(rows, positive);
    assert_true(fabs(csv_total - flow_total) <= 0.5 * (double)rows + 1e-12 * flow_total);
    free(text);
    /* a stream open for reading only: every write fails */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(prillm_prediction_write_json(pr, ro, &err), PRILLM_ERR_IO);
    assert_int_equal(prillm_prediction_write_csv(pr, ro, &err), PRILLM_ERR_IO);
    fclose(ro);
    assert_int_equal(prillm_prediction_write_json(NULL, stdout, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_prediction_write_csv(pr, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
}

/* predict on a period that repeats the fit (its prices, the models' fit
 * flows as tokens, the apps' demands) reproduces the calibrated flows;
 * an entrant and a new app are flagged and demand is conserved */
static void check_predict_reproduces_fit(const PrillmFitResult *r) {
    const PrillmMarket *mk = r->market;
    int n = mk->n_users, m = mk->n_providers;
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    PrillmError err;
    assert_int_equal(prillm_fit_write_market(mem, r, &err), PRILLM_OK);
    fclose(mem);
    char dir[] = "/tmp/prillm_predict_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char providers[512], demands[512];
    snprintf(providers, sizeof providers, "%s/providers.csv", dir);
    snprintf(demands, sizeof demands, "%s/demands.csv", dir);
    for (int pass = 0; pass < 2; pass++) {
        FILE *f = fopen(providers, "w");
        assert_non_null(f);
        fprintf(f, "period,provider,price,latency,tokens\n");
        for (int j = 0; j < m; j++)
            fprintf(f, "2026-09-01,\"%s\",%.17g,%.17g,%.17g\n", mk->provider_id[j], mk->price[j], mk->latency[j],
                    r->observed_flow[j] * 1e6);
        if (pass) fprintf(f, "2026-09-01,newcomer/model-x,0.5,1.0,\n");
        fclose(f);
        f = fopen(demands, "w");
        assert_non_null(f);
        fprintf(f, "period,app,demand\n");
        for (int i = 0; i < r->n_apps; i++) fprintf(f, "2026-09-01,\"%s\",%.17g\n", mk->user_id[i], mk->demand[i] * 1e6);
        if (pass) fprintf(f, "2026-09-01,brand new app,1e9\n");
        fclose(f);
        PrillmPrediction *pr = NULL;
        if (prillm_predict(text, size, dir, 20260901, NULL, NULL, &pr, &err)) fail_msg("%s", err.message);
        assert_int_equal(pr->status, PRILLM_STATUS_SOLVED);
        assert_true(fabs(pr->scale - 1) < 1e-12);
        check_prediction_writers(pr);
        if (!pass) {
            for (int j = 0; j < m; j++)
                if (fabs(pr->provider_flow[j] - r->observed_flow[j]) > 1e-8 * r->observed_flow[j])
                    fail_msg("%s: predicted %.12g, fitted %.12g", mk->provider_id[j], pr->provider_flow[j],
                             r->observed_flow[j]);
            for (int j = 0; j < m; j++) assert_false(pr->entrant[j] || pr->carried[j]);
        } else {
            assert_int_equal(pr->market->n_providers, m + 1);
            assert_true(pr->entrant[m]);
            assert_int_equal(pr->market->n_users, n + 1);
            assert_true(pr->new_app[n]);
            assert_string_equal(pr->market->user_id[n], "brand new app");
            double demand = 0, flow = 0;
            for (int i = 0; i < n + 1; i++) demand += pr->market->demand[i];
            for (int j = 0; j < m + 1; j++) flow += pr->provider_flow[j];
            assert_true(fabs(flow - demand) <= 1e-9 * demand);
        }
        prillm_prediction_free(pr);
    }
    /* a market without the calibration object is refused, naming it */
    PrillmPrediction *pr = NULL;
    const char *plain = "{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0}, \"providers\": [{\"id\": \"a\", "
                        "\"price\": 1, \"capacity\": 1, \"value\": 2, \"latency\": 1}], \"users\": [{\"id\": \"u\", \"demand\": 1}]}";
    assert_int_equal(prillm_predict(plain, strlen(plain), dir, 20260901, NULL, NULL, &pr, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "calibration"));
    assert_int_not_equal(prillm_predict(text, size, dir, 20260231, NULL, NULL, &pr, &err), PRILLM_OK);
    unlink(providers);
    unlink(demands);
    rmdir(dir);
    free(text);
}

static void test_fit_openrouter(void **state) {
    (void)state;
    const char *dir = real_data();
    if (!dir) skip();
    PrillmFitSettings st;
    prillm_fit_default_settings(&st);
    /* a slice keeps the sanitizer run short; the whole market is the demo's */
    st.max_models = 40;
    st.max_apps = 120;
    PrillmFitResult *a = NULL, *b = NULL;
    PrillmError err;
    if (prillm_fit_openrouter(dir, &st, NULL, NULL, &a, &err)) fail_msg("%s", err.message);
    assert_int_equal(prillm_fit_openrouter(dir, &st, NULL, NULL, &b, &err), PRILLM_OK);
    const PrillmMarket *mk = a->market;
    assert_int_equal(mk->n_providers, 40);
    assert_int_equal(mk->n_users, a->n_apps + a->segments + a->class_users);
    assert_true(a->segments >= 1 && a->segments <= PRILLM_FIT_MAX_SEGMENTS);
    /* the inversion reproduces the data: a certificate, not a fit */
    assert_true(a->max_total_error < 1e-8);
    assert_true(a->max_cell_error < 1e-8);
    assert_true(a->kkt_violation < 1e-8);
    assert_int_equal(a->stranded, 0);
    /* forward table: every candidate and both baselines, scored on cells */
    assert_true(a->n_forward >= 3);
    assert_true(a->forward_days > 0);
    for (int k = 0; k < a->n_forward; k++) assert_true(a->forward[k].cells > 0 && isfinite(a->forward[k].r2));
    /* paid models above the floor carry the target elasticity */
    int paid = 0;
    for (int j = 0; j < mk->n_providers; j++) {
        if (!(mk->price[j] >= st.price_floor)) continue;
        paid++;
        /* (with per-model targets, each lies within the candidate range) */
        if (!a->per_model_elasticity) assert_true(fabs(-a->own_elasticity[j] - a->elasticity) <= 2e-3 * a->elasticity);
        else assert_true(-a->own_elasticity[j] >= a->candidate_lo * 0.998 && -a->own_elasticity[j] <= a->candidate_hi * 1.002);
        /* implied cost: the first-order condition of (p - k) F at today's price */
        double own = a->own_elasticity[j] * a->observed_flow[j] / mk->price[j];
        assert_true(fabs(a->implied_cost[j] - (mk->price[j] + a->observed_flow[j] / own)) <= 1e-9 * mk->price[j]);
    }
    assert_true(paid > 10);
    /* diversion intervals (a bootstrap over the listed apps): they hold the
     * point estimate, most models have one, and they are the same on
     * every run (seeded draws) */
    int with_interval = 0;
    for (int q = 0; q < 3 * mk->n_providers; q++) {
        if (a->diversion_to[q] < 0 || isnan(a->diversion_lo[q])) continue;
        with_interval++;
        assert_true(a->diversion_lo[q] <= a->diversion[q] + 1e-12 && a->diversion[q] <= a->diversion_hi[q] + 1e-12);
        assert_true(a->diversion_lo[q] == b->diversion_lo[q] && a->diversion_hi[q] == b->diversion_hi[q]);
    }
    assert_true(with_interval > mk->n_providers);
    /* the same figures on every run */
    assert_int_equal(a->n_forward, b->n_forward);
    for (int k = 0; k < a->n_forward; k++) assert_true(a->forward[k].r2 == b->forward[k].r2);
    for (int j = 0; j < mk->n_providers; j++) {
        assert_true(mk->value[j] == b->market->value[j]);
        assert_true(mk->capacity[j] == b->market->capacity[j]);
    }
    assert_true(a->elasticity == b->elasticity && a->shrinkage == b->shrinkage);
    check_predict_reproduces_fit(a);
    /* a later day of the real data on this cut market: the models it lacks
     * enter with volumes from a regression over every model of the window,
     * not over the 40 largest (which handed each entrant a top model's
     * volume and all the traffic: 100% on 2026-07-28 before) */
    {
        char *text = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&text, &size);
        assert_int_equal(prillm_fit_write_market(mem, a, &err), PRILLM_OK);
        fclose(mem);
        PrillmPrediction *pr = NULL;
        if (prillm_predict(text, size, dir, 20260728, NULL, NULL, &pr, &err)) fail_msg("%s", err.message);
        double total = 0, entrants = 0;
        int n_entrants = 0;
        for (int j = 0; j < pr->market->n_providers; j++) {
            total += pr->provider_flow[j];
            if (pr->entrant[j]) entrants += pr->provider_flow[j], n_entrants++;
        }
        assert_true(n_entrants > 100);
        assert_true(total > 0 && entrants / total < 0.2);
        prillm_prediction_free(pr);
        free(text);
    }
    prillm_fit_result_free(a);
    prillm_fit_result_free(b);
}


/* Flows a user of one service class sends to a model of another, largest
 * relative to the user's demand. */
static double cross_class_flow(const PrillmMarket *mk, const double *flows, const int *user_class,
                               const int *model_class) {
    double worst = 0;
    for (int i = 0; i < mk->n_users; i++)
        for (int j = 0; j < mk->n_providers; j++)
            if (user_class[i] != model_class[j])
                worst = fmax(worst, flows[(size_t)i * (size_t)mk->n_providers + (size_t)j] / mk->demand[i]);
    return worst;
}

/* A synthetic OpenRouter directory: six chat models (one a ":free" variant
 * of a catalogue id), three embedding models (input tokens only) and two
 * image models outside the chat catalogue, five apps on chat models. */
static void write_classes_data(const char *dir) {
    static const struct {
        const char *id;
        double in, out, tokens, prompt_share;
    } model[] = {
        {"a/c1", 3, 15, 4e9, 0.8},     {"a/c2", 0.5, 2, 9e9, 0.9},   {"a/c3", 0.2, 0.8, 6e9, 0.85},
        {"a/c4", 1, 4, 3e9, 0.8},      {"b/c5", 0.1, 0.4, 5e9, 0.9}, {"b/c6:free", 0, 0, 2e9, 0.9},
        {"e/emb1", 0.02, 0, 8e8, 1},   {"e/emb2", 0.1, 0, 3e8, 1},   {"f/emb3", 0.01, 0, 5e8, 1},
        {"g/img1", 5, 30, 2e7, 0.3},   {"g/img2", 2, 10, 4e7, 0.4},
    };
    enum { MODELS = sizeof model / sizeof model[0] };
    char path[1024];
    snprintf(path, sizeof path, "%s/models.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("date,model_id,price_in_per_mtok,price_out_per_mtok,price_in_effective_per_mtok,price_out_effective_per_mtok,"
          "latency_s,throughput_tps,tokens,prompt_tokens,completion_tokens\n", f);
    /* 2026-06-17 .. 2026-07-30: the snapshot's window, the fit week, three
     * later days with some price changes */
    for (int day = 0; day < 44; day++) {
        int month = day < 14 ? 6 : 7, dom = day < 14 ? 17 + day : day - 13;
        for (int k = 0; k < MODELS; k++) {
            double wiggle = 1 + 0.05 * sin(1.7 * day + k), cut = day >= 41 && k % 3 == 0 ? 0.8 : 1;
            double tok = model[k].tokens * wiggle / (day >= 41 && k % 3 == 0 ? 0.9 : 1);
            fprintf(f, "2026-%02d-%02d,%s,%g,%g,%g,%g,%g,%g,%.0f,%.0f,%.0f\n", month, dom, model[k].id, model[k].in * cut,
                    model[k].out * cut, model[k].in * cut, model[k].out * cut, 1 + 0.1 * k, 40.0 + 5 * k, tok,
                    tok * model[k].prompt_share, tok * (1 - model[k].prompt_share));
        }
        if (day == 43) /* entrants on the last day: a chat model and an embedding model */
            fprintf(f, "2026-07-30,a/c7,0.3,1.2,0.3,1.2,1,60,1e9,9e8,1e8\n2026-07-30,h/emb4,0.015,0,0.015,0,1,60,2e8,2e8,0\n");
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("date,app,model_id,tokens\n", f);
    for (int a = 0; a < 5; a++)
        for (int k = 0; k < 6; k++)
            if ((a + k) % 3 != 0) fprintf(f, "2026-07-07,app%d,%s,%.0f\n", a, model[k].id, 1e9 * (1 + a) * (1 + k % 2));
    fclose(f);
    char raw[512];
    snprintf(raw, sizeof raw, "%s/raw", dir);
    mkdir(raw, 0700);
    snprintf(raw, sizeof raw, "%s/raw/sui414_openrouter-pricing-data", dir);
    mkdir(raw, 0700);
    snprintf(path, sizeof path, "%s/models_daily.csv", raw);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("scrape_date,id,model_slug,permaslug,modality,aa_intelligence\n", f);
    for (int dom = 17; dom <= 30; dom++) {
        for (int k = 0; k < 6; k++) {
            const char *id = k == 5 ? "b/c6" : model[k].id; /* the free variant is listed by its base id */
            fprintf(f, "2026-07-%02d,%s,%s,%s-2026,text->text,%d\n", dom, id, id, id, 30 + k);
        }
        fprintf(f, "2026-07-%02d,a/c7,a/c7,a/c7-2026,text->text,\n", dom);
    }
    fclose(f);
}

/* predict on damaged models.csv rows of the day it predicts: each is named
 * by its row (and column), where the market built from them named only a
 * provider index; sentinel negative prices are said, as fit says them. The
 * file is restored after. */
static void collect_warning(void *context, const char *message) {
    char *seen = context;
    if (strstr(message, "negative prices")) snprintf(seen, 256, "%s", message);
}

static void check_predict_damaged_rows(const char *dir, const char *text, size_t size) {
    char path[1024], saved[1100];
    snprintf(path, sizeof path, "%s/models.csv", dir);
    snprintf(saved, sizeof saved, "%s.saved", path);
    assert_int_equal(rename(path, saved), 0);
    static const char *const extra[] = {
        "2026-07-30,a/c1,3,15,3,15,1,50,4e9,3e9,1e9\n",      /* a/c1 a second time that day */
        "2026-07-30,z/huge,3,15,3,1e308,1,50,4e9,3e9,1e9\n", /* a price out of range */
        "2026-07-30,z/auto,-1,-1,-1,-1,1,50,4e9,3e9,1e9\n",  /* a sentinel: no price */
    };
    for (int k = 0; k < 3; k++) {
        char command[4096];
        snprintf(command, sizeof command, "cp '%s' '%s' && printf '%%s' '%s' >> '%s'", saved, path, extra[k], path);
        assert_int_equal(system(command), 0);
        PrillmPrediction *pr = NULL;
        PrillmError err;
        char seen[256] = "";
        PrillmErrorCode rc = prillm_predict(text, size, dir, 20260730, collect_warning, seen, &pr, &err);
        if (k == 0) {
            assert_int_equal(rc, PRILLM_ERR_INVALID_DATA);
            if (!strstr(err.message, "models.csv rows") || !strstr(err.message, "\"a/c1\" is listed twice on 20260730"))
                fail_msg("%s", err.message);
        } else if (k == 1) {
            assert_int_equal(rc, PRILLM_ERR_INVALID_DATA);
            if (!strstr(err.message, "column price_out_effective_per_mtok: 1e+308 is out of range")) fail_msg("%s", err.message);
        } else {
            if (rc) fail_msg("%s", err.message);
            if (!strstr(seen, "1 negative prices")) fail_msg("no warning of the sentinel: \"%s\"", seen);
            prillm_prediction_free(pr);
        }
    }
    assert_int_equal(rename(saved, path), 0);
}

static void remove_classes_data(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/raw/sui414_openrouter-pricing-data/models_daily.csv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/raw/sui414_openrouter-pricing-data", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/raw", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/models.csv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    unlink(path);
    rmdir(dir);
}

/* Service classes: models outside the chat catalogue sell other services.
 * The fit must class them from the data, give each class its own market
 * (no user buys across classes, at the calibrated prices and after
 * what-if price cuts to zero), and predict must keep a non-chat entrant
 * with the non-chat users. With classes off, everything is one market. */
static void test_fit_service_classes(void **state) {
    (void)state;
    char dir[] = "/tmp/prillm_classes_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_classes_data(dir);
    PrillmFitSettings st;
    prillm_fit_default_settings(&st);
    st.elasticity = 1.5;
    st.segments = 1;
    st.forward_end = 20260729;
    PrillmFitResult *r = NULL;
    PrillmError err;
    if (prillm_fit_openrouter(dir, &st, NULL, NULL, &r, &err)) fail_msg("%s", err.message);
    const PrillmMarket *mk = r->market;
    int m = mk->n_providers, n = mk->n_users;
    assert_int_equal(m, 11);
    int want[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
    int model_class[11], user_class[64];
    for (int j = 0; j < m; j++) {
        int k = -1;
        static const char *ids[] = {"a/c1", "a/c2", "a/c3", "a/c4", "b/c5", "b/c6:free",
                                    "e/emb1", "e/emb2", "f/emb3", "g/img1", "g/img2"};
        for (int q = 0; q < 11; q++)
            if (strcmp(mk->provider_id[j], ids[q]) == 0) k = q;
        assert_true(k >= 0);
        model_class[j] = r->service_class[j];
        if (model_class[j] != want[k]) fail_msg("%s classed %s", ids[k], prillm_service_class_name(model_class[j]));
    }
    assert_int_equal(r->class_users, 2);
    assert_int_equal(n, r->n_apps + r->segments + r->class_users);
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) user_class[i] = PRILLM_SERVICE_CHAT;
    user_class[r->n_apps + r->segments] = PRILLM_SERVICE_INPUT_ONLY;
    user_class[r->n_apps + r->segments + 1] = PRILLM_SERVICE_MEDIA;
    /* each class's floor sits at the same fraction of its median price */
    for (int j = 0; j < m; j++)
        if (model_class[j] == PRILLM_SERVICE_CHAT) assert_true(r->floor[j] == st.price_floor);
        else assert_true(r->floor[j] < (model_class[j] == PRILLM_SERVICE_MEDIA ? 1e9 : st.price_floor) &&
                         r->floor[j] > (model_class[j] == PRILLM_SERVICE_MEDIA ? st.price_floor : 0));
    assert_true(r->max_total_error < 1e-8 && r->max_cell_error < 1e-8 && r->kkt_violation < 1e-8);
    assert_int_equal(r->stranded, 0);
    /* the calibrated equilibrium, and what-ifs that make a rival class's
     * model free: nobody crosses */
    PrillmMarket *what = prillm_market_copy(mk, &err);
    assert_non_null(what);
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1)
            for (int j = 0; j < m; j++)
                if (model_class[j] != PRILLM_SERVICE_CHAT) what->price[j] = 0;
        if (pass == 2)
            for (int j = 0; j < m; j++) what->price[j] = model_class[j] == PRILLM_SERVICE_CHAT ? 0 : 10 * mk->price[j];
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, what, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
        double cross = cross_class_flow(what, eq->flows, user_class, model_class);
        if (cross > 1e-12) fail_msg("what-if %d: %.3g of a user's demand crosses classes", pass, cross);
        prillm_equilibrium_cleanup(solver);
    }
    prillm_market_free(what);
    /* predict the last day: the embedding entrant stays with the non-chat
     * users, the chat entrant with the chat users */
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    assert_int_equal(prillm_fit_write_market(mem, r, &err), PRILLM_OK);
    fclose(mem);
    PrillmPrediction *pr = NULL;
    if (prillm_predict(text, size, dir, 20260730, NULL, NULL, &pr, &err)) fail_msg("%s", err.message);
    const PrillmMarket *pm = pr->market;
    assert_int_equal(pm->n_providers, 13);
    int pclass[16], puser[64];
    assert_true(pm->n_users <= 64);
    for (int j = 0; j < pm->n_providers; j++)
        pclass[j] = j < m ? model_class[j] : strcmp(pm->provider_id[j], "h/emb4") == 0 ? PRILLM_SERVICE_INPUT_ONLY
                                                                                     : PRILLM_SERVICE_CHAT;
    for (int i = 0; i < pm->n_users; i++) {
        int q = prillm_market_user_index(mk, pm->user_id[i]);
        puser[i] = q >= 0 ? user_class[q] : PRILLM_SERVICE_CHAT;
    }
    /* the embedding entrant (no output tokens) is input-only: only that
     * class's user buys it, at the class's typical volume, not a chat one */
    int emb4 = prillm_market_provider_index(pm, "h/emb4");
    assert_true(emb4 >= m && pr->provider_flow[emb4] > 0);
    for (int i = 0; i < pm->n_users; i++)
        for (int j = 0; j < pm->n_providers; j++)
            if (pclass[j] != puser[i] && pm->demand[i] > 0)
                assert_true(pr->flows[(size_t)i * (size_t)pm->n_providers + (size_t)j] <= 1e-12 * pm->demand[i]);
    prillm_prediction_free(pr);
    free(text);
    prillm_fit_result_free(r);
    /* a cut fit that kept only chat models still classes its entrants: the
     * embedding entrant has no buyer of its class and sells nothing, the
     * chat entrant sells */
    st.max_models = 6;
    if (prillm_fit_openrouter(dir, &st, NULL, NULL, &r, &err)) fail_msg("%s", err.message);
    assert_int_equal(r->class_users, 0);
    assert_int_equal(r->classes_applied, 1);
    mem = open_memstream(&text, &size);
    assert_int_equal(prillm_fit_write_market(mem, r, &err), PRILLM_OK);
    fclose(mem);
    if (prillm_predict(text, size, dir, 20260730, NULL, NULL, &pr, &err)) fail_msg("%s", err.message);
    int cut_emb4 = prillm_market_provider_index(pr->market, "h/emb4"), cut_c7 = prillm_market_provider_index(pr->market, "a/c7");
    int cut_img = prillm_market_provider_index(pr->market, "g/img1");
    assert_true(cut_emb4 >= 0 && cut_c7 >= 0 && cut_img >= 0);
    assert_true(pr->provider_flow[cut_emb4] == 0 && pr->provider_flow[cut_img] == 0);
    assert_true(pr->provider_flow[cut_c7] > 0);
    prillm_prediction_free(pr);
    check_predict_damaged_rows(dir, text, size);
    free(text);
    prillm_fit_result_free(r);
    st.max_models = 0;
    /* classes off: one market, every model chat, users apps + tiers */
    st.classes = 0;
    if (prillm_fit_openrouter(dir, &st, NULL, NULL, &r, &err)) fail_msg("%s", err.message);
    assert_int_equal(r->class_users, 0);
    assert_int_equal(r->market->n_users, r->n_apps + r->segments);
    for (int j = 0; j < r->market->n_providers; j++) assert_int_equal(r->service_class[j], PRILLM_SERVICE_CHAT);
    prillm_fit_result_free(r);
    remove_classes_data(dir);
}


static void test_fit_bad_input(void **state) {
    (void)state;
    PrillmFitResult *r = NULL;
    PrillmError err;
    assert_int_not_equal(prillm_fit_openrouter("/no/such/dir", NULL, NULL, NULL, &r, &err), PRILLM_OK);
    assert_non_null(strstr(err.message, "models.csv"));
    assert_null(r);
    char dir[] = "/tmp/prillm_fit_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char models[512], flows[512];
    snprintf(models, sizeof models, "%s/models.csv", dir);
    snprintf(flows, sizeof flows, "%s/flows.csv", dir);
    const char *header = "date,model_id,price_in_per_mtok,price_out_per_mtok,price_in_effective_per_mtok,"
                         "price_out_effective_per_mtok,latency_s,throughput_tps,tokens,prompt_tokens,completion_tokens\n";
    char text[2048];
    /* a date that is not a date */
    snprintf(text, sizeof text, "%s2026-07-2x,a/m,1,2,1,2,1,50,1000,900,100\n", header);
    write_file(models, text);
    write_file(flows, "date,app,model_id,tokens\n2026-07-07,app,a/m,100\n");
    assert_int_equal(prillm_fit_openrouter(dir, NULL, NULL, NULL, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "row 2"));
    /* a missing column */
    write_file(models, "date,model_id,tokens\n2026-07-20,a/m,1000\n");
    assert_int_not_equal(prillm_fit_openrouter(dir, NULL, NULL, NULL, &r, &err), PRILLM_OK);
    assert_non_null(strstr(err.message, "price_in_per_mtok"));
    /* a number that is not one */
    snprintf(text, sizeof text, "%s2026-07-20,a/m,1,2,1,2,1,50,lots,900,100\n", header);
    write_file(models, text);
    assert_int_not_equal(prillm_fit_openrouter(dir, NULL, NULL, NULL, &r, &err), PRILLM_OK);
    assert_non_null(strstr(err.message, "tokens"));
    /* one model only: no market to calibrate */
    snprintf(text, sizeof text, "%s2026-07-20,a/m,1,2,1,2,1,50,1000,900,100\n", header);
    write_file(models, text);
    assert_int_equal(prillm_fit_openrouter(dir, NULL, NULL, NULL, &r, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "fewer than 2 models"));
    /* bad settings name the option */
    PrillmFitSettings st;
    prillm_fit_default_settings(&st);
    assert_int_not_equal(prillm_fit_set_option(&st, "price-floor", "-1", &err), PRILLM_OK);
    assert_non_null(strstr(err.message, "price-floor"));
    unlink(models);
    unlink(flows);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobian_matches_finite_differences),
        cmocka_unit_test(test_jacobian_bad_input),
        cmocka_unit_test(test_calibration_diagnostics),
        cmocka_unit_test(test_fit_openrouter),
        cmocka_unit_test(test_fit_bad_input),
        cmocka_unit_test(test_fit_service_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
