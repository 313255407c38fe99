/* The optional components (CMake options PRILLM_WITH_GLPK, _XGBOOST, _IPOPT,
 * _OPENMP): prillm_has_component agrees with prillm/config.h, and each call
 * that needs a component either works (built with it) or fails with
 * PRILLM_ERR_UNAVAILABLE and a message "built without X: ..." (built
 * without it). Runs in every configuration; scripts/test.sh builds both the
 * default and the minimal one (all four OFF). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static void test_query_matches_config_header(void **state) {
    (void)state;
    assert_int_equal(prillm_has_component("glpk"), PRILLM_HAVE_GLPK);
    assert_int_equal(prillm_has_component("xgboost"), PRILLM_HAVE_XGBOOST);
    assert_int_equal(prillm_has_component("ipopt"), PRILLM_HAVE_IPOPT);
    assert_int_equal(prillm_has_component("openmp"), PRILLM_HAVE_OPENMP);
    assert_int_equal(prillm_has_component("cplex"), 0);
    assert_int_equal(prillm_has_component("GLPK"), 0); /* names are lower case */
    assert_int_equal(prillm_has_component(""), 0);
    assert_int_equal(prillm_has_component(NULL), 0);
    assert_string_equal(prillm_version(), PRILLM_VERSION_STRING);
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", PRILLM_VERSION_MAJOR, PRILLM_VERSION_MINOR, PRILLM_VERSION_PATCH);
    assert_string_equal(version, PRILLM_VERSION_STRING);
    print_message("components: glpk %d, xgboost %d, ipopt %d, openmp %d\n", PRILLM_HAVE_GLPK, PRILLM_HAVE_XGBOOST,
                  PRILLM_HAVE_IPOPT, PRILLM_HAVE_OPENMP);
}

/* rc is the call's code; with the component it must not be UNAVAILABLE,
 * without it it must be, with the message naming the component. */
static void expect_component(const char *component, const char *name, PrillmErrorCode rc, const PrillmError *err) {
    if (prillm_has_component(component)) {
        if (rc != PRILLM_OK) fail_msg("built with %s, yet: %s", name, err->message);
        return;
    }
    assert_int_equal(rc, PRILLM_ERR_UNAVAILABLE);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "built without %s: ", name);
    if (!strstr(err->message, prefix)) fail_msg("\"%s\" does not say \"%s\"", err->message, prefix);
}

static void test_ipopt(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(6, 3, 11, &err);
    assert_non_null(mk);
    /* the equilibrium reference solver */
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    settings.method = PRILLM_EQ_IPOPT;
    PrillmEquilibriumSolver *solver = NULL;
    assert_int_equal(prillm_equilibrium_setup(&solver, mk, &settings, &err), PRILLM_OK);
    PrillmErrorCode rc = prillm_equilibrium_solve(solver, &err);
    expect_component("ipopt", "Ipopt", rc, &err);
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (rc) {
        /* failed: NaN outputs, as for any failure */
        assert_int_equal(eq->info.status, PRILLM_STATUS_FAILED);
        assert_true(isnan(eq->flows[0]));
    }
    prillm_equilibrium_cleanup(solver);
    /* the pmpec pricing baseline; every other method works without Ipopt */
    for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++) {
        if (method == PRILLM_PRICE_DA || method == PRILLM_PRICE_MIN || method == PRILLM_PRICE_AVG)
            continue; /* the abstraction methods need a model: tested elsewhere */
        PrillmPriceSettings ps;
        prillm_price_default_settings(&ps);
        ps.method = method;
        PrillmPriceResult r;
        rc = prillm_price(mk, 0, &ps, &r, &err);
        if (method == PRILLM_PRICE_PMPEC) expect_component("ipopt", "Ipopt", rc, &err);
        else if (rc) fail_msg("%s: %s", prillm_price_method_name(method), err.message);
        if (!rc) prillm_price_result_clear(&r);
    }
    prillm_market_free(mk);
}

static PrillmObservations *small_observations(void) {
    PrillmError err;
    PrillmObservations *obs = NULL;
    assert_int_equal(prillm_observations_synthetic(8, 4, 2, 0.8, 0.5, NULL, 0.05, 0, 3, &obs, &err), PRILLM_OK);
    return obs;
}

static void test_glpk(void **state) {
    (void)state;
    PrillmObservations *obs = small_observations();
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    st.folds = 0;
    st.iterations = 20;
    PrillmCalibrationResult *res = NULL;
    PrillmError err;
    for (int init = 0; init < 2; init++) { /* lp-scan (the default) and lp */
        st.init = init;
        PrillmErrorCode rc = prillm_calibrate(obs, &st, NULL, NULL, &res, &err);
        expect_component("glpk", "GLPK", rc, &err);
        prillm_calibration_result_free(res);
        res = NULL;
    }
    /* a zero start needs no LP */
    st.init = 2;
    assert_int_equal(prillm_calibrate(obs, &st, NULL, NULL, &res, &err), PRILLM_OK);
    assert_true(isfinite(res->r2));
    prillm_calibration_result_free(res);
    prillm_observations_free(obs);
}

static void test_xgboost(void **state) {
    (void)state;
    PrillmObservations *obs = small_observations();
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    st.folds = 0;
    st.method = PRILLM_CAL_XGBOOST;
    st.xgb_rounds = 5;
    PrillmCalibrationResult *res = NULL;
    PrillmError err;
    PrillmErrorCode rc = prillm_calibrate(obs, &st, NULL, NULL, &res, &err);
    expect_component("xgboost", "XGBoost", rc, &err);
    prillm_calibration_result_free(res);
    prillm_observations_free(obs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_matches_config_header),
        cmocka_unit_test(test_ipopt),
        cmocka_unit_test(test_glpk),
        cmocka_unit_test(test_xgboost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
