#define _POSIX_C_SOURCE 200809L
/* The JSON answers written by the library (prillm_equilibrium_write_json,
 * prillm_price_result_write_json, prillm_compete_result_write_json), which
 * the command line and prillm serve print: on random markets every number
 * read back (cJSON) equals the result's exactly, ids and indices match the
 * market, NaN prints as null, and bad arguments or a failing stream are
 * errors with nothing half-written to a good stream. */
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} Mem;

static void mem_open(Mem *m) {
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

static cJSON *mem_parse(Mem *m) {
    assert_int_equal(fclose(m->f), 0);
    cJSON *root = cJSON_ParseWithLength(m->buf, m->len);
    if (!root) fail_msg("not JSON: %.300s", m->buf);
    free(m->buf);
    return root;
}

/* a JSON number equals x exactly (null for NaN) */
static void assert_number(const cJSON *item, double x) {
    assert_non_null(item);
    if (isnan(x)) {
        assert_true(cJSON_IsNull(item));
        return;
    }
    assert_true(cJSON_IsNumber(item));
    if (item->valuedouble != x) fail_msg("JSON %.17g, result %.17g", item->valuedouble, x);
}

static void test_equilibrium_json(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        TestRng rng = {seed};
        int n = test_int(&rng, 1, 25), m = test_int(&rng, 1, 12);
        PrillmMarket *mk = test_market(n, m, seed, NULL);
        PrillmEquilibriumSettings settings;
        prillm_equilibrium_default_settings(&settings);
        settings.method = seed % 5 == 0 ? PRILLM_EQ_GAUSS_SEIDEL : PRILLM_EQ_EXACT;
        PrillmEquilibriumSolver *solver = test_solve(mk, &settings);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        Mem mem;
        mem_open(&mem);
        PrillmError err;
        assert_int_equal(prillm_equilibrium_write_json(mk, eq, settings.method, mem.f, &err), PRILLM_OK);
        cJSON *root = mem_parse(&mem);
        assert_string_equal(cJSON_GetObjectItem(root, "status")->valuestring, prillm_status_name(eq->info.status));
        assert_string_equal(cJSON_GetObjectItem(root, "method")->valuestring,
                            settings.method == PRILLM_EQ_GAUSS_SEIDEL ? "gauss-seidel" : "exact");
        const cJSON *users = cJSON_GetObjectItem(root, "users"), *providers = cJSON_GetObjectItem(root, "providers");
        const cJSON *flows = cJSON_GetObjectItem(root, "flows");
        assert_int_equal(cJSON_GetArraySize(users), n);
        assert_int_equal(cJSON_GetArraySize(providers), m);
        assert_int_equal(cJSON_GetArraySize(flows), n);
        for (int i = 0; i < n; i++) {
            assert_string_equal(cJSON_GetArrayItem(users, i)->valuestring, mk->user_id[i]);
            const cJSON *row = cJSON_GetArrayItem(flows, i);
            assert_int_equal(cJSON_GetArraySize(row), m);
            for (int j = 0; j < m; j++) assert_number(cJSON_GetArrayItem(row, j), eq->flows[(size_t)i * m + j]);
            assert_number(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "lambda"), i), eq->lambda[i]);
        }
        for (int j = 0; j < m; j++) {
            assert_string_equal(cJSON_GetArrayItem(providers, j)->valuestring, mk->provider_id[j]);
            assert_number(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "provider_flow"), j), eq->provider_flow[j]);
        }
        assert_number(cJSON_GetObjectItem(root, "kkt_violation"), eq->info.kkt_violation);
        assert_number(cJSON_GetObjectItem(root, "potential"), eq->info.potential);
        assert_int_equal(cJSON_GetObjectItem(root, "active_pairs")->valuedouble, (double)eq->info.active_pairs);
        cJSON_Delete(root);
        /* a market of another size: refused, nothing written */
        PrillmMarket *other = test_market(n + 1, m, seed, NULL);
        mem_open(&mem);
        assert_int_equal(prillm_equilibrium_write_json(other, eq, 0, mem.f, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "not one of this market"));
        fclose(mem.f);
        assert_int_equal(mem.len, 0);
        free(mem.buf);
        prillm_market_free(other);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
}

static void test_price_json(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        TestRng rng = {seed * 7};
        int n = test_int(&rng, 1, 10), m = test_int(&rng, 2, 6);
        PrillmMarket *mk = test_market(n, m, seed, NULL);
        int target = test_int(&rng, 0, m - 1);
        PrillmPriceSettings settings;
        prillm_price_default_settings(&settings);
        settings.method = seed % 2 ? PRILLM_PRICE_EXACT : PRILLM_PRICE_GRID;
        settings.grid_points = 7;
        settings.compare = seed % 3 == 0;
        PrillmPriceResult r;
        PrillmError err;
        assert_int_equal(prillm_price(mk, target, &settings, &r, &err), PRILLM_OK);
        Mem mem;
        mem_open(&mem);
        assert_int_equal(prillm_price_result_write_json(mk, &r, settings.compare, mem.f, &err), PRILLM_OK);
        cJSON *root = mem_parse(&mem);
        assert_string_equal(cJSON_GetObjectItem(root, "target")->valuestring, mk->provider_id[target]);
        assert_string_equal(cJSON_GetObjectItem(root, "method")->valuestring, prillm_price_method_name(r.method));
        assert_number(cJSON_GetObjectItem(root, "price"), r.price);
        assert_number(cJSON_GetObjectItem(root, "profit"), r.profit);
        assert_number(cJSON_GetObjectItem(root, "current_profit"), r.current_profit);
        assert_number(cJSON_GetObjectItem(root, "uplift_relative"), r.uplift_relative);
        assert_int_equal(cJSON_GetObjectItem(root, "profit_ratio") != NULL, settings.compare);
        if (settings.compare) assert_number(cJSON_GetObjectItem(root, "profit_ratio"), r.profit_ratio);
        const cJSON *segments = cJSON_GetObjectItem(root, "segments");
        if (r.method == PRILLM_PRICE_EXACT) {
            assert_int_equal(cJSON_GetArraySize(segments), r.n_segments);
            for (int k = 0; k < r.n_segments; k++) {
                assert_number(cJSON_GetObjectItem(cJSON_GetArrayItem(segments, k), "from"), r.segments[k].from);
                assert_number(cJSON_GetObjectItem(cJSON_GetArrayItem(segments, k), "flow_slope"),
                              r.segments[k].flow_slope);
            }
            const cJSON *bps = cJSON_GetObjectItem(root, "breakpoints");
            assert_int_equal(cJSON_GetArraySize(bps), r.n_breakpoints);
            for (int k = 0; k < r.n_breakpoints; k++) {
                const cJSON *b = cJSON_GetArrayItem(bps, k);
                assert_string_equal(cJSON_GetObjectItem(b, "user")->valuestring, mk->user_id[r.breakpoints[k].user]);
                assert_string_equal(cJSON_GetObjectItem(b, "provider")->valuestring,
                                    mk->provider_id[r.breakpoints[k].provider]);
            }
        } else {
            assert_null(segments);
        }
        cJSON_Delete(root);
        /* a result for another market's target: refused */
        PrillmPriceResult bad = r;
        bad.target = m;
        mem_open(&mem);
        assert_int_equal(prillm_price_result_write_json(mk, &bad, 0, mem.f, &err), PRILLM_ERR_INVALID_ARGUMENT);
        fclose(mem.f);
        assert_int_equal(mem.len, 0);
        free(mem.buf);
        prillm_price_result_clear(&r);
        prillm_market_free(mk);
    }
}

static void test_compete_json(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        TestRng rng = {seed * 13};
        int n = test_int(&rng, 1, 6), m = test_int(&rng, 2, 4);
        PrillmMarket *mk = test_market(n, m, seed, NULL);
        PrillmCompeteSettings settings;
        prillm_compete_default_settings(&settings);
        settings.max_rounds = 20;
        PrillmCompeteResult r;
        PrillmError err;
        assert_int_equal(prillm_compete(mk, NULL, m, &settings, &r, &err), PRILLM_OK);
        Mem mem;
        mem_open(&mem);
        assert_int_equal(prillm_compete_result_write_json(mk, &r, &settings, mem.f, &err), PRILLM_OK);
        cJSON *root = mem_parse(&mem);
        assert_string_equal(cJSON_GetObjectItem(root, "status")->valuestring, prillm_compete_status_name(r.status));
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(root, "certified")), r.certified);
        const cJSON *leaders = cJSON_GetObjectItem(root, "leaders"), *providers = cJSON_GetObjectItem(root, "providers");
        assert_int_equal(cJSON_GetArraySize(leaders), r.n_leaders);
        assert_int_equal(cJSON_GetArraySize(providers), m);
        for (int l = 0; l < r.n_leaders; l++) {
            const cJSON *x = cJSON_GetArrayItem(leaders, l);
            assert_string_equal(cJSON_GetObjectItem(x, "id")->valuestring, mk->provider_id[r.leader[l]]);
            assert_number(cJSON_GetObjectItem(x, "price"), r.price[r.leader[l]]);
            assert_number(cJSON_GetObjectItem(x, "gain_relative"), r.gain_relative[l]);
        }
        for (int j = 0; j < m; j++) assert_number(cJSON_GetObjectItem(cJSON_GetArrayItem(providers, j), "profit"), r.profit[j]);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "cycle")), r.cycle_length);
        cJSON_Delete(root);
        /* NULL settings, a failing stream */
        assert_int_equal(prillm_compete_result_write_json(mk, &r, NULL, stdout, &err), PRILLM_ERR_INVALID_ARGUMENT);
        FILE *ro = fopen("/dev/null", "r");
        assert_non_null(ro);
        assert_int_equal(prillm_compete_result_write_json(mk, &r, &settings, ro, &err), PRILLM_ERR_IO);
        assert_int_equal(prillm_price_result_write_json(NULL, NULL, 0, ro, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_int_equal(prillm_equilibrium_write_json(mk, NULL, 0, ro, &err), PRILLM_ERR_INVALID_ARGUMENT);
        fclose(ro);
        prillm_compete_result_clear(&r);
        prillm_market_free(mk);
    }
}

/* The reference top K of a row, written independently: every positive
 * entry sorted by (value descending, index ascending), the first k. */
typedef struct {
    double value;
    int index;
} Entry;

static int entry_order(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->value != y->value) return x->value > y->value ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int reference_top(const double *row, int m, int k, int *best) {
    Entry *e = malloc((size_t)(m > 0 ? m : 1) * sizeof *e);
    assert_non_null(e);
    int c = 0;
    for (int j = 0; j < m; j++)
        if (row[j] > 0 && !isnan(row[j])) e[c++] = (Entry){row[j], j};
    qsort(e, (size_t)c, sizeof *e, entry_order);
    if (c > k) c = k;
    for (int q = 0; q < c; q++) best[q] = e[q].index;
    free(e);
    return c;
}

/* prillm_flows_top on random rows with ties, zeros, negatives and NaN
 * against the sort above; bad arguments are -1. */
static void test_flows_top(void **state) {
    (void)state;
    int best[64], want[64];
    for (uint64_t seed = 1; seed <= 2000; seed++) {
        TestRng rng = {seed};
        int m = test_int(&rng, 0, 40), k = test_int(&rng, 1, 45);
        double row[40];
        for (int j = 0; j < m; j++) {
            int kind = test_int(&rng, 0, 9);
            row[j] = kind == 0 ? 0.0 : kind == 1 ? -test_uniform(&rng) : kind == 2 ? NAN
                   : kind <= 4 ? (double)test_int(&rng, 1, 3) /* ties */ : test_uniform(&rng) * 100;
        }
        for (int q = 0; q < 64; q++) best[q] = -7;
        int c = prillm_flows_top(row, m, k, best);
        int r = reference_top(row, m, k, want);
        if (c != r) fail_msg("seed %d: %d chosen, the sort %d", (int)seed, c, r);
        for (int q = 0; q < c; q++)
            if (best[q] != want[q]) fail_msg("seed %d: place %d is %d, the sort says %d", (int)seed, q, best[q], want[q]);
        for (int q = c; q < 64; q++) assert_int_equal(best[q], -7); /* nothing past the chosen written */
    }
    double row[3] = {1, 2, 3};
    assert_int_equal(prillm_flows_top(NULL, 3, 1, best), -1);
    assert_int_equal(prillm_flows_top(row, 3, 1, NULL), -1);
    assert_int_equal(prillm_flows_top(row, 3, 0, best), -1);
    assert_int_equal(prillm_flows_top(row, -1, 1, best), -1);
}

static char *write_flows(const PrillmMarket *mk, const PrillmEquilibrium *eq, int method, int shown, int top,
                         size_t *length) {
    Mem mem;
    mem_open(&mem);
    PrillmError err;
    if (prillm_equilibrium_write_json_flows(mk, eq, method, shown, top, mem.f, &err))
        fail_msg("write_json_flows(%d, %d): %s", shown, top, err.message);
    assert_int_equal(fclose(mem.f), 0);
    *length = mem.len;
    return mem.buf;
}

/* --no-flows / --top K: ALL is byte for byte prillm_equilibrium_write_json;
 * NONE is the same document without "flows"; TOP's "top_flows" are each
 * user's K largest flows (the sort above on the solution's flows, values
 * exact); bad shown / top are errors with nothing written. */
static void test_equilibrium_json_flows(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        TestRng rng = {seed + 100};
        int n = test_int(&rng, 1, 25), m = test_int(&rng, 1, 12);
        TestMarketShape shape = {-1, 2, seed % 3 == 0, seed % 4 == 0};
        PrillmMarket *mk = test_market(n, m, seed + 100, &shape);
        if (seed % 2) test_market_affinity(mk, seed, 0.3);
        PrillmEquilibriumSolver *solver = test_solve(mk, NULL);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        Mem mem;
        mem_open(&mem);
        PrillmError err;
        assert_int_equal(prillm_equilibrium_write_json(mk, eq, PRILLM_EQ_EXACT, mem.f, &err), PRILLM_OK);
        assert_int_equal(fclose(mem.f), 0);
        size_t all_len;
        char *all = write_flows(mk, eq, PRILLM_EQ_EXACT, PRILLM_FLOWS_ALL, 0, &all_len);
        assert_int_equal(all_len, mem.len);
        assert_memory_equal(all, mem.buf, all_len);
        cJSON *full = cJSON_ParseWithLength(all, all_len);
        assert_non_null(full);
        free(mem.buf);
        free(all);

        size_t len;
        char *text = write_flows(mk, eq, PRILLM_EQ_EXACT, PRILLM_FLOWS_NONE, 0, &len);
        cJSON *none = cJSON_ParseWithLength(text, len);
        assert_non_null(none);
        free(text);
        assert_null(cJSON_GetObjectItem(none, "flows"));
        assert_null(cJSON_GetObjectItem(none, "top_flows"));
        cJSON_DeleteItemFromObject(full, "flows");
        assert_true(cJSON_Compare(full, none, 1));

        int tops[] = {1, 2, 3, m + 2};
        for (int t = 0; t < 4; t++) {
            int k = tops[t];
            text = write_flows(mk, eq, PRILLM_EQ_EXACT, PRILLM_FLOWS_TOP, k, &len);
            cJSON *root = cJSON_ParseWithLength(text, len);
            assert_non_null(root);
            free(text);
            assert_null(cJSON_GetObjectItem(root, "flows"));
            const cJSON *top = cJSON_GetObjectItem(root, "top_flows");
            assert_int_equal(cJSON_GetArraySize(top), n);
            int want[16];
            for (int i = 0; i < n; i++) {
                const double *row = eq->flows + (size_t)i * (size_t)m;
                int c = reference_top(row, m, k, want);
                const cJSON *got = cJSON_GetArrayItem(top, i);
                if (cJSON_GetArraySize(got) != c)
                    fail_msg("seed %d, K %d, user %d: %d flows, the sort %d", (int)seed, k, i, cJSON_GetArraySize(got), c);
                for (int q = 0; q < c; q++) {
                    const cJSON *e = cJSON_GetArrayItem(got, q);
                    assert_string_equal(cJSON_GetObjectItem(e, "provider")->valuestring, mk->provider_id[want[q]]);
                    assert_number(cJSON_GetObjectItem(e, "flow"), row[want[q]]);
                }
            }
            /* the rest of the document is NONE's */
            cJSON_DeleteItemFromObject(root, "top_flows");
            assert_true(cJSON_Compare(root, none, 1));
            cJSON_Delete(root);
        }
        cJSON_Delete(none);
        cJSON_Delete(full);

        mem_open(&mem);
        assert_int_equal(prillm_equilibrium_write_json_flows(mk, eq, PRILLM_EQ_EXACT, 3, 1, mem.f, &err),
                         PRILLM_ERR_INVALID_ARGUMENT);
        assert_int_equal(prillm_equilibrium_write_json_flows(mk, eq, PRILLM_EQ_EXACT, PRILLM_FLOWS_TOP, 0, mem.f, &err),
                         PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "top"));
        assert_int_equal(fclose(mem.f), 0);
        assert_int_equal(mem.len, 0);
        free(mem.buf);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equilibrium_json),
        cmocka_unit_test(test_flows_top),
        cmocka_unit_test(test_equilibrium_json_flows),
        cmocka_unit_test(test_price_json),
        cmocka_unit_test(test_compete_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
