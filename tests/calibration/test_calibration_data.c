/*
 * Calibration data: the generic CSV layout round trip, every error path of
 * the readers, the LP initialisation's certificate on exact data, the real
 * OpenRouter tables (skipped when ../shared/data is absent) and the
 * `prillm calibrate` command end to end.
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

#include "calibration_internal.h"
#include "support.h"

static int group_setup(void **state) {
    (void)state;
    return test_scratch_setup("calibration");
}

static int group_teardown(void **state) {
    (void)state;
    return test_scratch_teardown();
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *new_dir(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_scratch, name);
    mkdir(path, 0777);
    return path;
}

/* ---- generic layout round trip --------------------------------------- */

static int same_number(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= 1e-12 * fmax(1, fabs(b));
}

static void test_generic_layout_round_trip(void **state) {
    (void)state;
    PrillmError err;
    for (int trial = 0; trial < 12; trial++) {
        int n = 2 + trial % 7, m = 1 + trial % 5, T = 1 + trial % 3;
        PrillmObservations *obs = NULL, *back = NULL;
        assert_int_equal(prillm_observations_synthetic(n, m, T, 0.8, 0.5, NULL, 0.2, trial % 2 ? 2 : 0, 40 + trial, &obs, &err),
                         PRILLM_OK);
        char name[32];
        snprintf(name, sizeof name, "round%d", trial);
        const char *dir = new_dir(name);
        assert_int_equal(prillm_observations_write_csv(obs, dir, &err), PRILLM_OK);
        PrillmCalibrationSettings st;
        prillm_calibration_default_settings(&st);
        PrillmErrorCode rc = prillm_observations_read(dir, &st, NULL, NULL, &back, &err);
        if (rc) fail_msg("trial %d: %s", trial, err.message);
        assert_int_equal(back->n_periods, T);
        /* the reader orders by volume and drops apps/providers without any
         * positive flow: compare through ids */
        assert_true(back->n_users <= n && back->n_providers <= m);
        for (int t = 0; t < T; t++) {
            const PrillmMarket *a = obs->periods[t].market, *b = back->periods[t].market;
            for (int jb = 0; jb < back->n_providers; jb++) {
                int ja = prillm_market_provider_index(a, b->provider_id[jb]);
                assert_true(ja >= 0);
                assert_true(same_number(a->price[ja], b->price[jb]));
                assert_true(same_number(a->capacity[ja], b->capacity[jb]));
                for (int ib = 0; ib < back->n_users; ib++) {
                    int ia = prillm_market_user_index(a, b->user_id[ib]);
                    assert_true(ia >= 0);
                    size_t ka = (size_t)ia * m + ja, kb = (size_t)ib * back->n_providers + jb;
                    assert_true(same_number(a->delay[ka], b->delay[kb]));
                    assert_true(same_number(a->demand[ia], b->demand[ib]));
                    if (!same_number(obs->periods[t].observed[ka], back->periods[t].observed[kb]))
                        fail_msg("trial %d period %d cell %d,%d: observed %g read back %g", trial, t, ia, ja,
                                 obs->periods[t].observed[ka], back->periods[t].observed[kb]);
                    if (isnan(back->periods[t].observed[kb]))
                        assert_true(same_number(obs->periods[t].upper[ka], back->periods[t].upper[kb]));
                }
            }
        }
        prillm_observations_free(obs);
        prillm_observations_free(back);
    }
}

/* ---- error paths -------------------------------------------------------- */

typedef struct {
    const char *what, *providers, *flows, *extra_name, *extra, *needle;
    PrillmErrorCode code;
} BadCase;

static void test_bad_generic_data_is_reported(void **state) {
    (void)state;
    const char *prov = "period,provider,price,latency,throughput,tokens\n1,a,1.0,0.5,50,1e9\n1,b,2.0,0.7,40,2e9\n";
    const char *flows = "period,app,provider,tokens\n1,x,a,100\n1,x,b,200\n1,y,a,50\n";
    static const BadCase cases[] = {
        {"no price column", "period,provider,latency\n1,a,0.5\n1,b,0.7\n", NULL, NULL, NULL, "price", PRILLM_ERR_PARSE},
        {"price not a number", "period,provider,price,latency,throughput,tokens\n1,a,cheap,0.5,50,1e9\n1,b,2,0.7,40,2e9\n", NULL, NULL, NULL,
         "cheap", PRILLM_ERR_PARSE},
        {"price infinite", "period,provider,price,latency,throughput,tokens\n1,a,inf,0.5,50,1e9\n1,b,2,0.7,40,2e9\n", NULL, NULL, NULL,
         "finite", PRILLM_ERR_PARSE},
        {"negative latency", "period,provider,price,latency,throughput,tokens\n1,a,1,-0.5,50,1e9\n1,b,2,0.7,40,2e9\n", NULL, NULL, NULL,
         "latency", PRILLM_ERR_INVALID_DATA},
        {"negative flow", NULL, "period,app,provider,tokens\n1,x,a,-5\n", NULL, NULL, "tokens", PRILLM_ERR_INVALID_DATA},
        {"unknown provider", NULL, "period,app,provider,tokens\n1,x,zzz,5\n", NULL, NULL, "zzz", PRILLM_ERR_INVALID_DATA},
        {"unknown period", NULL, "period,app,provider,tokens\n7,x,a,5\n", NULL, NULL, "period", PRILLM_ERR_INVALID_DATA},
        {"duplicate flow", NULL, "period,app,provider,tokens\n1,x,a,5\n1,x,a,6\n", NULL, NULL, "twice",
         PRILLM_ERR_INVALID_DATA},
        {"ragged row", NULL, "period,app,provider,tokens\n1,x,a\n", NULL, NULL, "fields", PRILLM_ERR_PARSE},
        {"unterminated quote", NULL, "period,app,provider,tokens\n1,\"x,a,5\n", NULL, NULL, "quote", PRILLM_ERR_PARSE},
        {"empty flows", NULL, "", NULL, NULL, "empty", PRILLM_ERR_PARSE},
        {"no positive flow", NULL, "period,app,provider,tokens\n1,x,a,0\n", NULL, NULL, "positive", PRILLM_ERR_INVALID_DATA},
        {"provider missing a period",
         "period,provider,price,latency,throughput,tokens\n1,a,1,0.5,50,1e9\n2,a,1,0.5,50,1e9\n2,b,1,0.5,50,1e9\n",
         "period,app,provider,tokens\n1,x,a,5\n2,x,b,5\n", NULL, NULL, "no row for period", PRILLM_ERR_INVALID_DATA},
        {"zero throughput", "period,provider,price,latency,throughput,tokens\n1,a,1,0.5,0,1e9\n1,b,1,0.5,40,1e9\n", NULL,
         NULL, NULL, "throughput", PRILLM_ERR_INVALID_DATA},
        {"negative delay", NULL, NULL, "delays.csv", "period,app,provider,delay\n1,x,a,-1\n", "delay",
         PRILLM_ERR_INVALID_DATA},
        {"demand missing", NULL, NULL, "demands.csv", "period,app,demand\n1,x,300\n", "no demand", PRILLM_ERR_INVALID_DATA},
        {"demand negative", NULL, NULL, "demands.csv", "period,app,demand\n1,x,-3\n1,y,5\n", "demand",
         PRILLM_ERR_INVALID_DATA},
    };
    int count = (int)(sizeof cases / sizeof cases[0]);
    for (int c = 0; c < count; c++) {
        char name[32];
        snprintf(name, sizeof name, "bad%d", c);
        const char *dir = new_dir(name);
        write_text(dir, "providers.csv", cases[c].providers ? cases[c].providers : prov);
        write_text(dir, "flows.csv", cases[c].flows ? cases[c].flows : flows);
        if (cases[c].extra_name) write_text(dir, cases[c].extra_name, cases[c].extra);
        PrillmObservations *obs = (PrillmObservations *)&obs; /* must be reset to NULL */
        PrillmError err;
        PrillmErrorCode rc = prillm_observations_read(dir, NULL, NULL, NULL, &obs, &err);
        if (rc != cases[c].code || obs != NULL || !strstr(err.message, cases[c].needle))
            fail_msg("%s: code %s (expected %s), message \"%s\" (expected to contain \"%s\")", cases[c].what,
                     prillm_error_name(rc), prillm_error_name(cases[c].code), err.message, cases[c].needle);
    }
    /* the good version of the same files reads */
    const char *dir = new_dir("good");
    write_text(dir, "providers.csv", prov);
    write_text(dir, "flows.csv", flows);
    PrillmObservations *obs = NULL;
    PrillmError err;
    assert_int_equal(prillm_observations_read(dir, NULL, NULL, NULL, &obs, &err), PRILLM_OK);
    assert_int_equal(obs->observed_cells, 3);
    assert_int_equal(obs->censored_cells, 1); /* y x b: bounded by b's smallest listed flow */
    int y = prillm_market_user_index(obs->periods[0].market, "y"), b = prillm_market_provider_index(obs->periods[0].market, "b");
    assert_true(same_number(obs->periods[0].upper[(size_t)y * 2 + b], 200e-6));
    assert_true(same_number(obs->periods[0].market->capacity[b], 2e9 / 1e6 / 40));
    prillm_observations_free(obs);
    /* a directory with neither layout, and bad settings */
    assert_int_equal(prillm_observations_read(new_dir("empty"), NULL, NULL, NULL, &obs, &err), PRILLM_ERR_IO);
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    st.models = 0;
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "models"));
    assert_int_equal(prillm_calibration_set_option(&st, "capacity", "volume", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_calibration_set_option(&st, "folds", "2.5", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_calibration_set_option(&st, "nonsense", "1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_int_equal(prillm_calibration_set_option(&st, "capacity", "tokens", &err), PRILLM_OK);
    assert_int_equal(st.capacity, PRILLM_CAPACITY_TOKENS);
}


/* Issue 12 on the calibration readers: a byte order mark (spreadsheets
 * write one) used to give a misleading "no column"; a NUL inside a number
 * cut it short silently; an app id that is not UTF-8 went into the JSON. */
static void write_bytes(const char *dir, const char *name, const char *bytes, size_t length) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, length, f), length);
    fclose(f);
}

static void test_csv_input_edge_cases(void **state) {
    (void)state;
    static const char prov[] = "period,provider,price,latency,throughput,tokens\n1,a,1.0,0.5,50,1e9\n1,b,2.0,0.7,40,2e9\n";
    static const char flows[] = "period,app,provider,tokens\n1,x,a,100\n1,x,b,200\n1,y,a,50\n";
    PrillmObservations *obs = NULL;
    PrillmError err;
    /* a byte order mark on either file */
    const char *dir = new_dir("bom");
    char with_bom[256];
    snprintf(with_bom, sizeof with_bom, "\xef\xbb\xbf%s", prov);
    write_text(dir, "providers.csv", with_bom);
    snprintf(with_bom, sizeof with_bom, "\xef\xbb\xbf%s", flows);
    write_text(dir, "flows.csv", with_bom);
    if (prillm_observations_read(dir, NULL, NULL, NULL, &obs, &err) != PRILLM_OK) fail_msg("BOM: %s", err.message);
    assert_int_equal(obs->observed_cells, 3);
    prillm_observations_free(obs);
    /* a NUL inside a number: refused by file, row and column */
    dir = new_dir("nul");
    write_text(dir, "providers.csv", prov);
    static const char nul_flows[] = "period,app,provider,tokens\n1,x,a,100\n1,x,b,2\0" "00\n1,y,a,50\n";
    write_bytes(dir, "flows.csv", nul_flows, sizeof nul_flows - 1);
    obs = (PrillmObservations *)&obs;
    assert_int_equal(prillm_observations_read(dir, NULL, NULL, NULL, &obs, &err), PRILLM_ERR_PARSE);
    assert_null(obs);
    if (!strstr(err.message, "flows.csv row 3 column tokens: NUL byte")) fail_msg("NUL: %s", err.message);
    /* an app id that is not UTF-8 */
    dir = new_dir("utf8");
    write_text(dir, "providers.csv", prov);
    write_text(dir, "flows.csv", "period,app,provider,tokens\n1,x,a,100\n1,x,b,200\n1,y\xe9,a,50\n");
    obs = (PrillmObservations *)&obs;
    assert_int_equal(prillm_observations_read(dir, NULL, NULL, NULL, &obs, &err), PRILLM_ERR_PARSE);
    assert_null(obs);
    if (!strstr(err.message, "flows.csv row 4 column app: not valid UTF-8")) fail_msg("UTF-8: %s", err.message);
}

/* ---- OpenRouter layout on a hand-made miniature ------------------------- */

static const char *mini_models =
    "date,model_id,price_in_per_mtok,price_out_per_mtok,latency_s,throughput_tps,tokens,prompt_tokens,completion_tokens\n"
    "2026-06-30,m/a,,,,,3000000,2000000,1000000\n"
    "2026-07-01,m/a,,,,,3000000,2000000,1000000\n"
    "2026-07-09,m/a,1.0,4.0,0.5,50,9999999999,1,1\n" /* outside the window: not summed */
    "2026-07-10,m/a,1.0,4.0,0.5,50,,,\n"
    "2026-06-30,m/b,,,,,1000000,1000000,0\n"
    "2026-07-10,m/b,2.0,8.0,1.5,20,,,\n"
    "2026-06-30,m/c,,,,,5000000,1000000,0\n" /* no price on the price date: skipped */
    "2026-07-10,m/c,,,,,,,\n";
static const char *mini_flows =
    "date,app,model_id,tokens\n"
    "2026-07-07,\"App, One\",m/a,4000000\n"
    "2026-07-07,Two,m/a,1000000\n"
    "2026-07-07,Three,m/a,500000\n" /* not among the top 2 apps, still bounds m/a */
    "2026-07-07,Two,m/b,2000000\n"
    "2026-07-07,\"App, One\",m/c,9000000\n"
    "2026-07-08,Two,m/b,77\n"; /* another date: ignored */

static void set(PrillmCalibrationSettings *st, const char *name, const char *value) {
    PrillmError err;
    if (prillm_calibration_set_option(st, name, value, &err)) fail_msg("%s", err.message);
}

static void test_openrouter_layout_miniature(void **state) {
    (void)state;
    const char *dir = new_dir("mini");
    write_text(dir, "models.csv", mini_models);
    write_text(dir, "flows.csv", mini_flows);
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    set(&st, "apps", "2");
    set(&st, "price-date", "20260710");
    set(&st, "window-start", "20260601");
    set(&st, "window-end", "20260706");
    set(&st, "window-scale", "2");
    PrillmObservations *obs = NULL;
    PrillmError err;
    if (prillm_observations_read(dir, &st, NULL, NULL, &obs, &err)) fail_msg("%s", err.message);
    assert_string_equal(obs->layout, "openrouter");
    assert_int_equal(obs->n_providers, 2); /* m/c has no price on 07-10 */
    assert_int_equal(obs->n_users, 2);
    const PrillmMarket *mk = obs->periods[0].market;
    int a = prillm_market_provider_index(mk, "m/a"), b = prillm_market_provider_index(mk, "m/b");
    int one = prillm_market_user_index(mk, "App, One"), two = prillm_market_user_index(mk, "Two");
    assert_true(a >= 0 && b >= 0 && one >= 0 && two >= 0);
    /* volume: (3 + 3) Mtok x 2; blended price: 4/6 input at 1, 2/6 output at 4 */
    assert_true(same_number(obs->periods[0].tokens[a], 12.0));
    assert_true(same_number(mk->price[a], 4.0 / 6 * 1.0 + 2.0 / 6 * 4.0));
    assert_true(same_number(mk->price[b], 2.0));
    assert_true(same_number(mk->capacity[a], 12.0 / 50));
    assert_true(same_number(mk->capacity[b], 2.0 / 20));
    assert_true(same_number(mk->delay[(size_t)one * 2 + b], 1.5));
    assert_true(same_number(mk->demand[one], 4.0));
    assert_true(same_number(mk->demand[two], 3.0));
    const double *f = obs->periods[0].observed, *u = obs->periods[0].upper;
    assert_true(same_number(f[(size_t)one * 2 + a], 4.0));
    assert_true(isnan(f[(size_t)one * 2 + b]) && same_number(u[(size_t)one * 2 + b], 2.0));
    assert_true(same_number(f[(size_t)two * 2 + a], 1.0));
    prillm_observations_free(obs);
    /* the price definitions and capacity alternatives */
    set(&st, "price", "output");
    set(&st, "capacity", "throughput");
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_OK);
    a = prillm_market_provider_index(obs->periods[0].market, "m/a");
    assert_true(same_number(obs->periods[0].market->price[a], 4.0));
    assert_true(same_number(obs->periods[0].market->capacity[a], 50.0));
    prillm_observations_free(obs);
    /* errors: no flows on the date, no eligible model, bad date, missing column */
    set(&st, "flow-date", "20260101");
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "flow-date"));
    set(&st, "flow-date", "20260707");
    set(&st, "price-date", "20260601");
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "no model"));
    set(&st, "price-date", "20260710");
    write_text(dir, "models.csv", "date,model_id,price_in_per_mtok,price_out_per_mtok,latency_s,throughput_tps,tokens,"
                                  "prompt_tokens,completion_tokens\n07/10/2026,m/a,1,1,1,1,1,1,1\n");
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "07/10/2026"));
    write_text(dir, "models.csv", "date,model_id,tokens\n2026-07-10,m/a,1\n");
    assert_int_equal(prillm_observations_read(dir, &st, NULL, NULL, &obs, &err), PRILLM_ERR_PARSE);
    assert_non_null(strstr(err.message, "price_in_per_mtok"));
    assert_null(obs);
}

/* ---- LP initialisation ------------------------------------------------- */

/* On exact equilibrium data at the LP's own weights (1, 1) no slack is
 * needed, and the values come back up to a common shift; noisy data needs
 * slack, and the LP still solves. */
static void test_lp_certificate_on_exact_data(void **state) {
    (void)state;
    TEST_NEEDS("glpk");
    PrillmError err;
    for (int trial = 0; trial < 20; trial++) {
        int n = 3 + trial % 8, m = 2 + trial % 5;
        PrillmObservations *obs = NULL;
        assert_int_equal(prillm_observations_synthetic(n, m, 2, 1.0, 1.0, NULL, 0.0, 0, 700 + trial, &obs, &err),
                         PRILLM_OK);
        PrillmMarket *truth = prillm_market_random(n, m, 700 + trial, &err);
        PrillmCalProblem pb;
        assert_int_equal(prillm__cal_problem_init(&pb, obs, PRILLM_CENSOR_UPPER, NULL, &err), PRILLM_OK);
        double values[16];
        PrillmLpInfo info;
        assert_int_equal(prillm__cal_lp_init(&pb, 1.0, 1.0, 100.0, values, &info, &err), PRILLM_OK);
        assert_int_equal(info.status, PRILLM_STATUS_SOLVED);
        if (!(info.slack_relative < 1e-7)) fail_msg("trial %d: exact data needed slack %g", trial, info.slack_relative);
        double shift = NAN;
        for (int j = 0; j < m; j++) {
            assert_true(values[j] >= -1e-12);
            int used = 0;
            for (int t = 0; t < 2; t++)
                for (int i = 0; i < n; i++) used |= obs->periods[t].observed[(size_t)i * m + j] > 0;
            if (!used) continue;
            if (isnan(shift)) shift = values[j] - truth->value[j];
            assert_true(fabs(values[j] - truth->value[j] - shift) <= 1e-6 * (1 + fabs(truth->value[j])));
        }
        /* the same market observed with noise: slack, but a solution */
        double loss = prillm__cal_loss(&pb, (double[18]){0, 1.0, values[0], values[1], values[2], values[3], values[4],
                                                         values[5]}, NULL, NULL);
        assert_true(isfinite(loss));
        prillm__cal_problem_free(&pb);
        prillm_market_free(truth);
        prillm_observations_free(obs);
        assert_int_equal(prillm_observations_synthetic(n, m, 2, 1.0, 1.0, NULL, 0.3, 0, 700 + trial, &obs, &err),
                         PRILLM_OK);
        assert_int_equal(prillm__cal_problem_init(&pb, obs, PRILLM_CENSOR_UPPER, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm__cal_lp_init(&pb, 1.0, 1.0, 100.0, values, &info, &err), PRILLM_OK);
        assert_true(info.slack > 0 && isfinite(info.slack));
        prillm__cal_problem_free(&pb);
        prillm_observations_free(obs);
    }
}

/* Numbers GLPK cannot handle are refused before it sees them. */
static void test_lp_refuses_unusable_numbers(void **state) {
    (void)state;
    TEST_NEEDS("glpk");
    PrillmError err;
    PrillmObservations *obs = NULL;
    assert_int_equal(prillm_observations_synthetic(5, 3, 1, 1.0, 1.0, NULL, 0.0, 0, 9, &obs, &err), PRILLM_OK);
    obs->periods[0].market->price[1] = 1e35;
    PrillmCalProblem pb;
    assert_int_equal(prillm__cal_problem_init(&pb, obs, PRILLM_CENSOR_UPPER, NULL, &err), PRILLM_OK);
    double values[3];
    PrillmLpInfo info;
    assert_int_equal(prillm__cal_lp_init(&pb, 1.0, 1.0, 100.0, values, &info, &err), PRILLM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "provider 1"));
    assert_int_equal(info.status, PRILLM_STATUS_FAILED);
    assert_true(isnan(values[0]) && isnan(info.slack));
    assert_int_equal(prillm__cal_lp_init(&pb, -1.0, 1.0, 100.0, values, &info, &err), PRILLM_ERR_INVALID_ARGUMENT);
    prillm__cal_problem_free(&pb);
    prillm_observations_free(obs);
}

/* ---- the real OpenRouter data ---------------------------------------- */

static void test_openrouter_data(void **state) {
    (void)state;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    char dir[1024];
    struct stat st_dir;
    snprintf(dir, sizeof dir, "%s/../shared/data/openrouter", src ? src : ".");
    if (!src || stat(dir, &st_dir) != 0) {
        print_message("%s absent: skipped\n", dir);
        skip();
    }
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    PrillmError err;
    for (int capacity = 0; capacity < 3; capacity++) {
        st.capacity = capacity;
        PrillmObservations *obs = NULL;
        if (prillm_observations_read(dir, &st, NULL, NULL, &obs, &err)) fail_msg("%s", err.message);
        assert_int_equal(obs->n_periods, 1);
        assert_int_equal(obs->n_providers, 20);
        assert_int_equal(obs->n_users, 20);
        const PrillmObservedPeriod *p = &obs->periods[0];
        int n = obs->n_users, m = obs->n_providers;
        /* demand = the app's listed flows; censored cells bounded by the
         * provider's smallest listed flow, which no observed cell undercuts */
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < m; j++) sum += isnan(p->observed[(size_t)i * m + j]) ? 0 : p->observed[(size_t)i * m + j];
            assert_true(fabs(sum - p->market->demand[i]) <= 1e-9 * sum);
        }
        for (int j = 0; j < m; j++)
            for (int i = 0; i < n; i++) {
                size_t k = (size_t)i * m + j;
                if (isnan(p->observed[k])) {
                    assert_true(isfinite(p->upper[k]));
                    for (int l = 0; l < n; l++)
                        if (!isnan(p->observed[(size_t)l * m + j])) assert_true(p->observed[(size_t)l * m + j] >= p->upper[k]);
                }
            }
        if (capacity == 0) assert_int_equal(obs->observed_cells, 87);
        /* the fit from the LP start (without GLPK only the reading is checked) */
        if (capacity == 0 && prillm_has_component("glpk")) {
            st.folds = 3;
            PrillmCalibrationResult *res = NULL;
            assert_int_equal(prillm_calibrate(obs, &st, NULL, NULL, &res, &err), PRILLM_OK);
            assert_int_equal(res->status, PRILLM_STATUS_SOLVED);
            assert_true(res->r2 > 0.5 && res->r2 <= 1);
            assert_true(isfinite(res->r2_heldout) && isfinite(res->mae_heldout));
            assert_true(res->lp_slack > 0 && res->w_congestion > 0 && res->w_delay >= 0);
            assert_true(res->loss_final <= res->loss_initial);
            prillm_calibration_result_free(res);
        }
        prillm_observations_free(obs);
    }
}

/* ---- every method through the same driver -------------------------------- */

static void test_every_method_reports_the_same_fields(void **state) {
    (void)state;
    PrillmError err;
    PrillmObservations *obs = NULL;
    assert_int_equal(prillm_observations_synthetic(8, 4, 2, 0.8, 0.5, NULL, 0.1, 4, 5, &obs, &err), PRILLM_OK);
    for (int method = 0; method < 6; method++) {
        PrillmCalibrationSettings st;
        prillm_calibration_default_settings(&st);
        st.method = method;
        st.iterations = method == PRILLM_CAL_FD || method == PRILLM_CAL_A2C ? 40 : 150;
        st.folds = 3;
        st.xgb_rounds = 30;
        if (!prillm_has_component("glpk")) st.init = 2; /* zero: the LP start needs GLPK */
        PrillmCalibrationResult *res = NULL;
        if (method == PRILLM_CAL_XGBOOST && !prillm_has_component("xgboost")) {
            /* a build without XGBoost says so */
            assert_int_equal(prillm_calibrate(obs, &st, NULL, NULL, &res, &err), PRILLM_ERR_UNAVAILABLE);
            assert_non_null(strstr(err.message, "built without XGBoost"));
            assert_null(res);
            continue;
        }
        assert_int_equal(prillm_calibrate(obs, &st, NULL, NULL, &res, &err), PRILLM_OK);
        assert_int_equal(res->status, PRILLM_STATUS_SOLVED);
        assert_true(res->r2 <= 1 && isfinite(res->r2) && res->mae >= 0);
        assert_true(isfinite(res->r2_heldout) && res->mae_heldout >= 0);
        if (method == PRILLM_CAL_XGBOOST) {
            assert_true(isnan(res->w_congestion));
            PrillmMarket *mk = NULL;
            assert_int_equal(prillm_calibration_market(obs, 0, res, &mk, &err), PRILLM_ERR_INVALID_ARGUMENT);
        } else {
            assert_true(res->w_congestion > 0 && res->w_delay >= 0);
            if (method == PRILLM_CAL_NPM)
                for (int j = 0; j < 4; j++) assert_true(res->value[j] == 0.0);
            PrillmMarket *mk = NULL;
            assert_int_equal(prillm_calibration_market(obs, 1, res, &mk, &err), PRILLM_OK);
            /* the written market reproduces the in-sample prediction */
            PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            assert_true(test_max_rel_diff(eq->flows, res->predicted + 32, 32, 1e-6) < 1e-6);
            prillm_equilibrium_cleanup(solver);
            prillm_market_free(mk);
        }
        prillm_calibration_result_free(res);
    }
    prillm_observations_free(obs);
}

/* ---- the command --------------------------------------------------------- */

static void test_calibrate_command(void **state) {
    (void)state;
    TEST_NEEDS("glpk"); /* the command's default start is the LP */
    const char *cli = getenv("PRILLM_CLI");
    if (!cli || !cli[0]) {
        print_message("PRILLM_CLI not set: skipped\n");
        skip();
    }
    int code = test_shell("\"$PRILLM_CLI\" calibrate --write-synthetic syn --models 5 --apps 9 --periods 3 --noise 0.05 --listed 4 --seed 2");
    assert_int_equal(code, 0);
    code = test_shell("\"$PRILLM_CLI\" calibrate --data syn --out cal.json --plot fit.svg --folds 3 --iterations 200");
    if (code != 0) fail_msg("calibrate exit %d: %s", code, test_scratch_read("stderr.txt"));
    char *out = test_scratch_read("stdout.txt");
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    static const char *fields[] = {"r2", "mae", "r2_heldout", "mae_heldout", "iterations", "seconds"};
    for (int q = 0; q < 6; q++) assert_true(cJSON_IsNumber(cJSON_GetObjectItem(root, fields[q])));
    assert_string_equal(cJSON_GetObjectItem(root, "status")->valuestring, "solved");
    cJSON *weights = cJSON_GetObjectItem(root, "weights");
    double wq = cJSON_GetObjectItem(weights, "congestion")->valuedouble;
    assert_true(wq > 0); /* accuracy is test_calibration_recovery's job; 4 of 9 apps listed is little data */
    assert_true(cJSON_GetObjectItem(root, "r2")->valuedouble > 0.9);
    /* the calibrated market reads back with the reported weights */
    char *market = test_scratch_read("cal.json");
    PrillmMarket *mk = NULL;
    PrillmError err;
    assert_int_equal(prillm_market_parse_json(market, strlen(market), NULL, NULL, &mk, &err), PRILLM_OK);
    assert_true(fabs(mk->w_congestion - wq) <= 1e-12 * wq);
    assert_true(mk->w_price == 1.0);
    prillm_market_free(mk);
    free(market);
    char *svg = test_scratch_read("fit.svg");
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    cJSON_Delete(root);
    free(out);
    /* and it feeds the equilibrium command */
    assert_int_equal(test_shell("\"$PRILLM_CLI\" equilibrium cal.json"), 0);
    /* usage and input errors */
    assert_int_equal(test_shell("\"$PRILLM_CLI\" calibrate"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" calibrate --data syn --bogus"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" calibrate --data syn --capacity volume"), 2);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" calibrate --data no-such-dir"), 3);
    assert_int_equal(test_shell("mkdir -p broken && printf 'period,provider\\n' > broken/providers.csv && "
                           "printf 'period,app,provider,tokens\\n1,x,a,5\\n' > broken/flows.csv && "
                           "\"$PRILLM_CLI\" calibrate --data broken"),
                     3);
    char *errtext = test_scratch_read("stderr.txt");
    assert_non_null(strstr(errtext, "price"));
    free(errtext);
    assert_int_equal(test_shell("\"$PRILLM_CLI\" calibrate --help"), 0);
    char *help = test_scratch_read("stdout.txt");
    assert_non_null(strstr(help, "--capacity"));
    assert_non_null(strstr(help, "--censoring"));
    free(help);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_layout_round_trip),
        cmocka_unit_test(test_bad_generic_data_is_reported),
        cmocka_unit_test(test_csv_input_edge_cases),
        cmocka_unit_test(test_openrouter_layout_miniature),
        cmocka_unit_test(test_lp_certificate_on_exact_data),
        cmocka_unit_test(test_lp_refuses_unusable_numbers),
        cmocka_unit_test(test_openrouter_data),
        cmocka_unit_test(test_every_method_reports_the_same_fields),
        cmocka_unit_test(test_calibrate_command),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
