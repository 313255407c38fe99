/*
 * Price sensitivity (prillm/elasticity.h): recovery of a known elasticity
 * from synthetic OpenRouter-layout files, the real data (skipped when
 * ../shared/data/openrouter is absent), every error path of the reader and
 * the `prillm elasticity` command.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <zlib.h>

#include "prillm/elasticity.h"
#include "random.h"
#include "support.h"

static int group_setup(void **state) {
    (void)state;
    return test_scratch_setup("elasticity");
}

static int group_teardown(void **state) {
    (void)state;
    return test_scratch_teardown();
}

/* DIR and DIR/raw/sui414_openrouter-pricing-data */
static const char *new_layout(const char *name) {
    static char dir[512];
    char raw[700];
    snprintf(dir, sizeof dir, "%s/%s", test_scratch, name);
    mkdir(dir, 0777);
    snprintf(raw, sizeof raw, "%s/raw", dir);
    mkdir(raw, 0777);
    snprintf(raw, sizeof raw, "%s/raw/sui414_openrouter-pricing-data", dir);
    mkdir(raw, 0777);
    return dir;
}

static void path_of(char *out, size_t size, const char *dir, const char *file) {
    if (strcmp(file, "models.csv") == 0) snprintf(out, size, "%s/models.csv", dir);
    else snprintf(out, size, "%s/raw/sui414_openrouter-pricing-data/%s", dir, file);
}

/* ---- synthetic data with a known elasticity --------------------------- */

static double normal(PrillmRng *rng) {
    double u = prillm__rng_uniform(rng), v = prillm__rng_uniform(rng);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

typedef struct {
    double across, over_time, latency, throughput;
    int models, days;
} Truth;

/* M models x D days; model m has 2 + m % 7 providers with persistent price
 * levels (sd 0.4 in logs), latencies and throughputs, and a persistent
 * provider effect (sd 0.3) on top of daily noise (sd 0.3):
 *   log tokens = a(day, model) + across log price + latency log lat
 *                + throughput log thr + u(model, provider) + e.
 * Model-level daily tokens in models.csv follow the over-time elasticity,
 * half of the models changing listed price halfway. The endpoint of
 * provider 0 is slugged "p0/eu"; ~5% of endpoint rows are absent. */
static void write_synthetic(const char *dir, const Truth *t, unsigned long long seed) {
    char path[1024];
    PrillmRng rng = {seed * 0x2545F4914F6CDD1DULL + 7};
    path_of(path, sizeof path, dir, "models.csv");
    FILE *models = fopen(path, "w");
    path_of(path, sizeof path, dir, "effective_pricing_daily.csv");
    FILE *eff = fopen(path, "w");
    path_of(path, sizeof path, dir, "endpoints_daily.csv.gz");
    gzFile ep = gzopen(path, "wb");
    assert_non_null(models);
    assert_non_null(eff);
    assert_non_null(ep);
    fputs("date,model_id,price_in_per_mtok,price_out_per_mtok,latency_s,throughput_tps,tokens,permaslug,"
          "price_in_effective_per_mtok,price_out_effective_per_mtok,cache_hit_rate,prompt_tokens,completion_tokens,"
          "requests\n",
          models);
    fputs("scrape_date,scraped_at,model_slug,permaslug,variant,weighted_input_price,weighted_output_price,"
          "weighted_cache_hit_rate,provider_name,provider_slug,effective_input_price,effective_output_price,"
          "cache_hit_rate,total_tokens\n",
          eff);
    gzprintf(ep, "scrape_date,model_slug,variant,provider_name,provider_slug,price_prompt,price_completion,"
                 "is_disabled,p50_throughput,p50_latency,request_count\n");
    double day_effect[64];
    for (int d = 0; d < t->days; d++) day_effect[d] = 0.2 * normal(&rng);
    for (int m = 0; m < t->models; m++) {
        int P = 2 + m % 7;
        double base = exp(normal(&rng)), level = 18 + normal(&rng);
        double plevel[16], lat[16], thr[16], u[16];
        for (int j = 0; j < P; j++) {
            plevel[j] = 0.4 * normal(&rng);
            lat[j] = log(400) + 0.5 * normal(&rng);
            thr[j] = log(60) + 0.5 * normal(&rng);
            u[j] = 0.3 * normal(&rng);
        }
        int changes = m % 2 == 0;
        double jump = changes ? (m % 4 == 0 ? 1 : -1) * (0.1 + 0.3 * prillm__rng_uniform(&rng)) : 0;
        for (int d = 0; d < t->days; d++) {
            char date[32];
            snprintf(date, sizeof date, "2026-07-%02d", 10 + d);
            double a = level + 0.3 * normal(&rng);
            double in = base * exp(d >= t->days / 2 ? jump : 0), out = 4 * in;
            /* model level: 80% input tokens */
            double Q = exp(level + day_effect[d] + t->over_time * log(0.8 * in + 0.2 * out) + 0.1 * normal(&rng));
            fprintf(models, "%s,org/model-%d,%.10g,%.10g,0.5,60,%.0f,org/model-%d,%.10g,%.10g,0,%.0f,%.0f,100\n", date,
                    m, in, out, Q, m, in, out, 0.8 * Q, 0.2 * Q);
            fprintf(eff, "%s,x,org/model-%d,org/model-%d,standard,%.10g,%.10g,0,,,,,,\n", date, m, m, in, out);
            for (int j = 0; j < P; j++) {
                double pin = base * exp(plevel[j] + 0.05 * normal(&rng)), pout = 4 * pin;
                double l = lat[j] + 0.1 * normal(&rng), th = thr[j] + 0.1 * normal(&rng);
                double y = a + t->across * log(0.8 * pin + 0.2 * pout) + t->latency * l + t->throughput * th + u[j] +
                           0.3 * normal(&rng);
                fprintf(eff, "%s,x,org/model-%d,org/model-%d,standard,%.10g,%.10g,0,Provider %d,p%d,%.10g,%.10g,0,%.0f\n",
                        date, m, m, in, out, j, j, pin, pout, exp(y));
                if (prillm__rng_uniform(&rng) < 0.05) continue; /* no endpoint row that day */
                gzprintf(ep, "%s,org/model-%d,standard,Provider %d,p%d%s,%.10g,%.10g,False,%.10g,%.10g,%d\n", date, m,
                         j, j, j == 0 ? "/eu" : "", pin * 1e-6, pout * 1e-6, exp(th), exp(l), 50 + j);
            }
            /* a provider with no tokens, and a free one: both skipped */
            fprintf(eff, "%s,x,org/model-%d,org/model-%d,standard,%.10g,%.10g,0,Idle,idle,%.10g,%.10g,0,0\n", date, m, m,
                    in, out, in, out);
            fprintf(eff, "%s,x,org/model-%d,org/model-%d,standard,%.10g,%.10g,0,Gratis,gratis,0,0,0,12345\n", date, m,
                    m, in, out);
        }
    }
    fclose(models);
    fclose(eff);
    gzclose(ep);
}

static void test_recovers_a_known_elasticity(void **state) {
    (void)state;
    Truth truth = {-1.3, -0.8, -0.4, 0.5, 48, 12};
    for (int seed = 1; seed <= 4; seed++) {
        char name[32];
        snprintf(name, sizeof name, "syn%d", seed);
        const char *dir = new_layout(name);
        write_synthetic(dir, &truth, (unsigned long long)seed);
        for (int price = 0; price < 2; price++) {
            PrillmElasticitySettings st;
            prillm_elasticity_default_settings(&st);
            st.price = price;
            st.bootstrap = 100;
            st.seed = seed;
            PrillmElasticityResult r;
            PrillmError err;
            if (prillm_elasticity_estimate(dir, &st, &r, &err)) fail_msg("seed %d: %s", seed, err.message);
            const PrillmElasticityEstimate *a = &r.across_providers, *o = &r.over_time;
            print_message("seed %d %s: across %.3f [%.3f, %.3f] (lat %.3f thr %.3f), over time %.3f [%.3f, %.3f], "
                          "%d per-model, tau %.3f\n",
                          seed, prillm_elasticity_price_name(price), a->elasticity, a->lo, a->hi, a->latency,
                          a->throughput, o->elasticity, o->lo, o->hi, r.n_models, r.between_sd);
            assert_true(a->lo <= truth.across && truth.across <= a->hi);
            assert_true(fabs(a->elasticity - truth.across) < 0.25);
            assert_true(a->lo <= a->elasticity && a->elasticity <= a->hi);
            assert_true(fabs(a->latency - truth.latency) < 0.25 && fabs(a->throughput - truth.throughput) < 0.25);
            assert_true(fabs(a->se - a->se_analytic) < 0.5 * a->se_analytic + 0.02);
            assert_int_equal(a->n_models, truth.models);
            /* the listed price comes from the endpoint rows, ~5% of which are absent */
            if (price == PRILLM_ELASTICITY_PRICE_EFFECTIVE) assert_int_equal(a->n_groups, truth.models * truth.days);
            assert_int_equal(a->bootstrap_ok, 100);
            assert_true(r.share_fallbacks == 0);
            if (price == PRILLM_ELASTICITY_PRICE_EFFECTIVE) assert_true(r.controls_missing > 0);
            /* over time: the 24 models whose price moved, 12 days */
            assert_int_equal(r.over_time_candidates, truth.models / 2);
            assert_int_equal(o->n_models, truth.models / 2);
            assert_int_equal(o->n_obs, (long)truth.models / 2 * truth.days);
            assert_true(o->lo <= truth.over_time && truth.over_time <= o->hi);
            /* per model: every model with >= 3 providers; the true slopes are
             * all equal, so shrinkage pulls them together */
            int expect = 0;
            for (int m = 0; m < truth.models; m++) expect += 2 + m % 7 >= 3;
            assert_int_equal(r.n_models, expect);
            double spread_raw = 0, spread_shrunk = 0;
            for (int j = 0; j < r.n_models; j++) {
                const PrillmElasticityModel *e = &r.models[j];
                assert_true(e->providers >= 3 && e->n_obs >= 10 && e->raw_se > 0 && e->shrunk_se > 0);
                assert_true(e->shrunk_se <= e->raw_se + 1e-12 + a->se);
                spread_raw += fabs(e->raw - a->elasticity);
                spread_shrunk += fabs(e->shrunk - a->elasticity);
                if (j) assert_true(strcmp(r.models[j - 1].model, e->model) < 0);
            }
            assert_true(spread_shrunk <= spread_raw);
            prillm_elasticity_result_free(&r);
        }
    }
}

static void test_same_figures_every_run(void **state) {
    (void)state;
    const char *dir = new_layout("syn_repeat");
    Truth truth = {-1.3, -0.8, -0.4, 0.5, 20, 6};
    write_synthetic(dir, &truth, 99);
    PrillmElasticitySettings st;
    prillm_elasticity_default_settings(&st);
    st.bootstrap = 60;
    PrillmElasticityResult a, b;
    PrillmError err;
    assert_int_equal(prillm_elasticity_estimate(dir, &st, &a, &err), PRILLM_OK);
    assert_int_equal(prillm_elasticity_estimate(dir, &st, &b, &err), PRILLM_OK);
    assert_memory_equal(&a.across_providers, &b.across_providers, sizeof a.across_providers);
    assert_memory_equal(&a.over_time, &b.over_time, sizeof a.over_time);
    prillm_elasticity_result_free(&b);
    /* another seed moves the interval, not the point estimate */
    st.seed = 2;
    assert_int_equal(prillm_elasticity_estimate(dir, &st, &b, &err), PRILLM_OK);
    assert_true(a.across_providers.elasticity == b.across_providers.elasticity);
    assert_true(a.across_providers.lo != b.across_providers.lo);
    prillm_elasticity_result_free(&b);
    /* no bootstrap: no interval, the rest unchanged */
    st.bootstrap = 0;
    assert_int_equal(prillm_elasticity_estimate(dir, &st, &b, &err), PRILLM_OK);
    assert_true(a.across_providers.elasticity == b.across_providers.elasticity);
    assert_true(isnan(b.across_providers.lo) && isnan(b.across_providers.se));
    assert_true(a.across_providers.se_analytic == b.across_providers.se_analytic);
    prillm_elasticity_result_free(&b);
    prillm_elasticity_result_free(&a);
}

/* ---- the real OpenRouter data ---------------------------------------- */

/* $PRILLM_SHARED_DATA (the openrouter folder, or the folder holding it),
 * else $PRILLM_SOURCE_DIR/../shared/data/openrouter; NULL when absent. */
static const char *real_data(void) {
    static char dir[1024];
    struct stat st;
    const char *shared = getenv("PRILLM_SHARED_DATA");
    if (shared && shared[0]) {
        snprintf(dir, sizeof dir, "%s/models.csv", shared);
        if (stat(dir, &st) == 0) {
            snprintf(dir, sizeof dir, "%s", shared);
            return dir;
        }
        snprintf(dir, sizeof dir, "%s/openrouter", shared);
        if (stat(dir, &st) == 0) return dir;
    }
    const char *src = getenv("PRILLM_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter", src ? src : ".");
    if (!src || stat(dir, &st) != 0) {
        print_message("%s absent: skipped\n", dir);
        return NULL;
    }
    return dir;
}

static void test_openrouter_data(void **state) {
    (void)state;
    const char *dir = real_data();
    if (!dir) skip();
    for (int price = 0; price < 2; price++) {
        PrillmElasticitySettings st;
        prillm_elasticity_default_settings(&st);
        st.price = price;
        PrillmElasticityResult a, b;
        PrillmError err;
        if (prillm_elasticity_estimate(dir, &st, &a, &err)) fail_msg("%s", err.message);
        assert_int_equal(prillm_elasticity_estimate(dir, &st, &b, &err), PRILLM_OK);
        const PrillmElasticityEstimate *e = &a.across_providers, *o = &a.over_time;
        print_message("%s: across %.3f [%.3f, %.3f] n %ld groups %ld models %d; over time %.3f [%.3f, %.3f] n %ld "
                      "models %d; %d per-model; %.3f s\n",
                      prillm_elasticity_price_name(price), e->elasticity, e->lo, e->hi, e->n_obs, e->n_groups,
                      e->n_models, o->elasticity, o->lo, o->hi, o->n_obs, o->n_models, a.n_models, a.seconds);
        assert_true(isfinite(e->elasticity) && e->elasticity < 0);
        assert_true(e->lo <= e->elasticity && e->elasticity <= e->hi && e->hi < 0);
        assert_true(isfinite(o->elasticity) && o->lo <= o->elasticity && o->elasticity <= o->hi);
        assert_true(e->n_obs > 10000 && e->n_groups > 3000 && e->n_models > 100);
        assert_true(a.n_models > 50);
        assert_memory_equal(&a.across_providers, &b.across_providers, sizeof a.across_providers);
        assert_memory_equal(&a.over_time, &b.over_time, sizeof a.over_time);
        assert_int_equal(a.n_models, b.n_models);
        for (int j = 0; j < a.n_models; j++) {
            assert_string_equal(a.models[j].model, b.models[j].model);
            assert_true(a.models[j].shrunk == b.models[j].shrunk && isfinite(a.models[j].shrunk));
        }
        prillm_elasticity_result_free(&a);
        prillm_elasticity_result_free(&b);
    }
}

/* ---- bad input ---------------------------------------------------------- */

/* Copy src's three files to a fresh layout, with one file's text edited:
 * the first occurrence of from replaced by to. */
static const char *broken_copy(const char *src, const char *name, const char *file, const char *from, const char *to) {
    const char *dir = new_layout(name);
    static char keep[512];
    snprintf(keep, sizeof keep, "%s", dir);
    const char *files[] = {"models.csv", "effective_pricing_daily.csv", "endpoints_daily.csv.gz"};
    for (int f = 0; f < 3; f++) {
        char in_path[1024], out_path[1024];
        path_of(in_path, sizeof in_path, src, files[f]);
        path_of(out_path, sizeof out_path, keep, files[f]);
        gzFile in = gzopen(in_path, "rb");
        assert_non_null(in);
        size_t cap = 1 << 22, used = 0;
        char *text = malloc(cap);
        int got;
        while ((got = gzread(in, text + used, (unsigned)(cap - used - 1))) > 0) used += (size_t)got;
        gzclose(in);
        text[used] = '\0';
        char *hit = strcmp(files[f], file) == 0 && from ? strstr(text, from) : NULL;
        if (strcmp(files[f], file) == 0 && from) assert_non_null(hit);
        int gz = strstr(files[f], ".gz") != NULL;
        gzFile gout = gz ? gzopen(out_path, "wb") : NULL;
        FILE *out = gz ? NULL : fopen(out_path, "w");
        char *parts[3] = {text, (char *)to, hit ? hit + strlen(from) : NULL};
        size_t lens[3] = {hit ? (size_t)(hit - text) : used, hit ? strlen(to) : 0,
                          hit ? used - (size_t)(hit - text) - strlen(from) : 0};
        for (int q = 0; q < 3; q++) {
            if (!lens[q]) continue;
            if (gz) gzwrite(gout, parts[q], (unsigned)lens[q]);
            else fwrite(parts[q], 1, lens[q], out);
        }
        if (gz) gzclose(gout);
        else fclose(out);
        free(text);
    }
    return keep;
}

static void expect_error(const char *dir, PrillmErrorCode code, const char *const *needles) {
    PrillmElasticityResult r;
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_elasticity_estimate(dir, NULL, &r, &err);
    if (rc != code) fail_msg("%s: expected %s, got %s: %s", dir, prillm_error_name(code), prillm_error_name(rc), err.message);
    for (int q = 0; needles[q]; q++)
        if (!strstr(err.message, needles[q])) fail_msg("\"%s\" not in: %s", needles[q], err.message);
    assert_null(r.models);
}

static void test_bad_input(void **state) {
    (void)state;
    const char *good = new_layout("bad_src");
    Truth truth = {-1.3, -0.8, -0.4, 0.5, 6, 3};
    write_synthetic(good, &truth, 5);
    static char src[512];
    snprintf(src, sizeof src, "%s", good);
    /* missing columns, one per file */
    expect_error(broken_copy(src, "no_tokens", "effective_pricing_daily.csv", ",total_tokens\n", ",tokens_total\n"),
                 PRILLM_ERR_PARSE, (const char *const[]){"effective_pricing_daily.csv", "total_tokens", NULL});
    expect_error(broken_copy(src, "no_latency", "endpoints_daily.csv.gz", "p50_latency", "latency"), PRILLM_ERR_PARSE,
                 (const char *const[]){"endpoints_daily.csv.gz", "p50_latency", NULL});
    expect_error(broken_copy(src, "no_prompt", "models.csv", "prompt_tokens,", "prompt,"), PRILLM_ERR_PARSE,
                 (const char *const[]){"models.csv", "prompt_tokens", NULL});
    /* non-numeric fields, named by file, row (line) and column */
    expect_error(broken_copy(src, "nan_tokens", "effective_pricing_daily.csv", "Provider 1,p1,", "Provider 1,p1,abc"),
                 PRILLM_ERR_PARSE,
                 (const char *const[]){"effective_pricing_daily.csv", "row 4 ", "effective_input_price", "abc", NULL});
    expect_error(broken_copy(src, "nan_requests", "endpoints_daily.csv.gz", ",False,", ",False,fast"), PRILLM_ERR_PARSE,
                 (const char *const[]){"endpoints_daily.csv.gz", "row 2 ", "p50_throughput", NULL});
    expect_error(broken_copy(src, "nan_prompt", "models.csv", ",0,", ",0,many"), PRILLM_ERR_PARSE,
                 (const char *const[]){"models.csv", "row 2 ", "prompt_tokens", "many", NULL});
    expect_error(broken_copy(src, "bad_date", "effective_pricing_daily.csv", "\n2026-07-10,", "\n2026-13-10,"),
                 PRILLM_ERR_PARSE, (const char *const[]){"effective_pricing_daily.csv", "row 2 ", "scrape_date", NULL});
    /* issue 12: ids that are not UTF-8 are refused by file, row and column;
     * a byte order mark is skipped, not read as part of the column "date" */
    expect_error(broken_copy(src, "bad_utf8", "effective_pricing_daily.csv", ",Provider 1,p1,", ",Provider\xff 1,p1,"),
                 PRILLM_ERR_PARSE,
                 (const char *const[]){"effective_pricing_daily.csv", "row 4 ", "provider_name", "not valid UTF-8", NULL});
    {
        PrillmElasticitySettings bom_st;
        prillm_elasticity_default_settings(&bom_st);
        bom_st.bootstrap = 0;
        PrillmElasticityResult bom_r;
        PrillmError bom_err = {PRILLM_OK, ""};
        const char *bom = broken_copy(src, "bom", "models.csv", "date,model_id,", "\xef\xbb\xbf" "date,model_id,");
        if (prillm_elasticity_estimate(bom, &bom_st, &bom_r, &bom_err) != PRILLM_OK)
            fail_msg("a byte order mark on models.csv: %s", bom_err.message);
        prillm_elasticity_result_free(&bom_r);
    }
    /* empty files and header-only files */
    const char *dir = broken_copy(src, "empty_models", "models.csv", NULL, NULL);
    char path[1024];
    path_of(path, sizeof path, dir, "models.csv");
    fclose(fopen(path, "w"));
    expect_error(dir, PRILLM_ERR_PARSE, (const char *const[]){"models.csv", "empty", NULL});
    dir = broken_copy(src, "header_only", "effective_pricing_daily.csv", NULL, NULL);
    path_of(path, sizeof path, dir, "effective_pricing_daily.csv");
    FILE *f = fopen(path, "w");
    fputs("scrape_date,model_slug,variant,provider_name,provider_slug,effective_input_price,effective_output_price,"
          "total_tokens\n",
          f);
    fclose(f);
    expect_error(dir, PRILLM_ERR_INVALID_DATA, (const char *const[]){"effective_pricing_daily.csv", "no data rows", NULL});
    dir = broken_copy(src, "empty_gz", "endpoints_daily.csv.gz", NULL, NULL);
    path_of(path, sizeof path, dir, "endpoints_daily.csv.gz");
    gzclose(gzopen(path, "wb"));
    expect_error(dir, PRILLM_ERR_PARSE, (const char *const[]){"endpoints_daily.csv.gz", "empty", NULL});
    /* a ragged row */
    expect_error(broken_copy(src, "ragged", "effective_pricing_daily.csv", ",Provider 0,", ",Provider, 0,"),
                 PRILLM_ERR_PARSE, (const char *const[]){"effective_pricing_daily.csv", "line 3", NULL});
    /* absent files and folder */
    expect_error("/no/such/openrouter", PRILLM_ERR_IO, (const char *const[]){"/no/such/openrouter/models.csv", NULL});
    dir = broken_copy(src, "no_endpoints", "models.csv", NULL, NULL);
    path_of(path, sizeof path, dir, "endpoints_daily.csv.gz");
    unlink(path);
    expect_error(dir, PRILLM_ERR_IO, (const char *const[]){"endpoints_daily.csv.gz", NULL});
    /* without controls, the effective price needs no endpoint file */
    PrillmElasticitySettings st;
    prillm_elasticity_default_settings(&st);
    st.controls = 0;
    st.bootstrap = 10;
    PrillmElasticityResult r;
    PrillmError err;
    assert_int_equal(prillm_elasticity_estimate(dir, &st, &r, &err), PRILLM_OK);
    assert_true(isnan(r.across_providers.latency) && r.controls_missing == 0);
    prillm_elasticity_result_free(&r);
    /* bad settings */
    st.level = 1.5;
    assert_int_equal(prillm_elasticity_estimate(src, &st, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "level"));
    prillm_elasticity_default_settings(&st);
    st.price = 7;
    assert_int_equal(prillm_elasticity_estimate(src, &st, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_elasticity_estimate(NULL, NULL, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_elasticity_estimate(src, NULL, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
}

/* ---- the command --------------------------------------------------------- */

static void test_elasticity_command(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI");
    if (!cli || !cli[0]) {
        print_message("PRILLM_CLI not set: skipped\n");
        skip();
    }
    const char *dir = new_layout("cli_syn");
    Truth truth = {-1.3, -0.8, -0.4, 0.5, 30, 8};
    write_synthetic(dir, &truth, 3);
    int code = test_shell("\"$PRILLM_CLI\" elasticity --data cli_syn --bootstrap 40 --seed 3");
    if (code != 0) fail_msg("elasticity exit %d: %s", code, test_scratch_read("stderr.txt"));
    char *out = test_scratch_read("stdout.txt");
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    cJSON *across = cJSON_GetObjectItem(root, "across_providers");
    double e = cJSON_GetObjectItem(across, "elasticity")->valuedouble;
    cJSON *interval = cJSON_GetObjectItem(across, "interval");
    assert_int_equal(cJSON_GetArraySize(interval), 2);
    assert_true(cJSON_GetArrayItem(interval, 0)->valuedouble <= e && e <= cJSON_GetArrayItem(interval, 1)->valuedouble);
    assert_true(fabs(e - truth.across) < 0.3);
    assert_int_equal(cJSON_GetObjectItem(root, "bootstrap")->valueint, 40);
    assert_int_equal(cJSON_GetObjectItem(root, "seed")->valueint, 3);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "over_time"), "elasticity")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(root, "models")) > 0);
    cJSON_Delete(root);
    free(out);
    /* the library's figures, printed */
    PrillmElasticitySettings st;
    prillm_elasticity_default_settings(&st);
    st.bootstrap = 40;
    st.seed = 3;
    PrillmElasticityResult r;
    PrillmError err;
    char full[1024];
    snprintf(full, sizeof full, "%s", dir);
    assert_int_equal(prillm_elasticity_estimate(full, &st, &r, &err), PRILLM_OK);
    assert_true(fabs(r.across_providers.elasticity - e) <= 1e-12 * fabs(e));
    prillm_elasticity_result_free(&r);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --data cli_syn --table --price listed --bootstrap 10"), 0);
    out = test_scratch_read("stdout.txt");
    assert_non_null(strstr(out, "across providers"));
    assert_non_null(strstr(out, "price: listed"));
    free(out);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --help"), 0);
    out = test_scratch_read("stdout.txt");
    assert_non_null(strstr(out, "--bootstrap"));
    free(out);
    /* usage and input errors */
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --data cli_syn --bogus"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --data cli_syn --bootstrap -1"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --data cli_syn --price cheapest"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" elasticity --data no-such-dir"), 3);
    char *msg = test_scratch_read("stderr.txt");
    assert_non_null(strstr(msg, "no-such-dir/models.csv"));
    free(msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_a_known_elasticity),
        cmocka_unit_test(test_same_figures_every_run),
        cmocka_unit_test(test_openrouter_data),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_elasticity_command),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
