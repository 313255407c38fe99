#define _POSIX_C_SOURCE 200809L
/* Test helpers. The KKT check and the brute-force solver are written from
 * the model's definitions, not from the library's code, so that agreement
 * means something. */
#include "support.h"

#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

uint64_t test_rng_next(TestRng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double test_uniform(TestRng *rng) { return (double)(test_rng_next(rng) >> 11) * 0x1.0p-53; }

int test_int(TestRng *rng, int lo, int hi) { return lo + (int)(test_rng_next(rng) % (uint64_t)(hi - lo + 1)); }

static double test_normal(TestRng *rng) {
    double u = 1.0 - test_uniform(rng), v = test_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

PrillmMarket *test_market(int n, int m, uint64_t seed, const TestMarketShape *shape) {
    TestMarketShape plain = {0.0, 3.0, 0, 0};
    if (!shape) shape = &plain;
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(n, m, &err);
    assert_non_null(mk);
    TestRng rng = {seed * 7919 + 17};
    mk->w_price = 1.0;
    mk->w_congestion = 0.2 + 1.5 * test_uniform(&rng);
    mk->w_delay = test_uniform(&rng);
    double total = 0;
    for (int i = 0; i < n; i++) {
        double e = shape->demand_lo_exp + (shape->demand_hi_exp - shape->demand_lo_exp) * test_uniform(&rng);
        mk->demand[i] = pow(10.0, e);
        total += mk->demand[i];
    }
    for (int j = 0; j < m; j++) {
        mk->price[j] = exp(1.0 * test_normal(&rng));
        mk->capacity[j] = total / m * exp(0.8 * test_normal(&rng));
        mk->value[j] = 3.0 * test_uniform(&rng);
        mk->latency[j] = 0.2 + 2.0 * test_uniform(&rng);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) mk->delay[(size_t)i * m + j] = mk->latency[j] * (0.5 + test_uniform(&rng));
    if (shape->duplicate_providers && m >= 2) {
        mk->price[1] = mk->price[0];
        mk->capacity[1] = mk->capacity[0];
        mk->value[1] = mk->value[0];
        for (int i = 0; i < n; i++) mk->delay[(size_t)i * m + 1] = mk->delay[(size_t)i * m];
    }
    if (shape->duplicate_users && n >= 2) {
        mk->demand[1] = mk->demand[0];
        memcpy(mk->delay + m, mk->delay, (size_t)m * sizeof(double));
    }
    for (int j = 0; j < m; j++) {
        char id[32];
        snprintf(id, sizeof id, "p%d", j);
        mk->provider_id[j] = strdup(id);
    }
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "u%d", i);
        mk->user_id[i] = strdup(id);
    }
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    return mk;
}

void test_market_affinity(PrillmMarket *mk, uint64_t seed, double zero_rows) {
    int n = mk->n_users, m = mk->n_providers;
    double mean = 0, sq = 0;
    for (int j = 0; j < m; j++) mean += mk->w_price * mk->price[j] / m;
    for (int j = 0; j < m; j++) sq += (mk->w_price * mk->price[j] - mean) * (mk->w_price * mk->price[j] - mean) / m;
    double sigma = sq > 0 ? sqrt(sq) : 1.0;
    TestRng rng = {seed * 104729 + 31};
    for (int i = 0; i < n; i++) {
        int zero = test_uniform(&rng) < zero_rows;
        for (int j = 0; j < m; j++) mk->affinity[(size_t)i * m + j] = zero ? 0.0 : sigma * test_normal(&rng);
    }
    PrillmError err;
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
}

PrillmEquilibriumSolver *test_solve(const PrillmMarket *mk, const PrillmEquilibriumSettings *settings) {
    PrillmError err;
    PrillmEquilibriumSolver *solver = NULL;
    if (prillm_equilibrium_setup(&solver, mk, settings, &err) != PRILLM_OK) fail_msg("setup: %s", err.message);
    if (prillm_equilibrium_solve(solver, &err) != PRILLM_OK) fail_msg("solve: %s", err.message);
    return solver;
}

/* c_ij from the model's definition (the library has its own helper) */
static double cost_of(const PrillmMarket *mk, int i, int j) {
    size_t k = (size_t)i * mk->n_providers + j;
    return mk->w_price * mk->price[j] + mk->w_delay * mk->delay[k] - mk->value[j] - mk->affinity[k];
}

double test_kkt_violation(const PrillmMarket *mk, const double *flows) {
    int n = mk->n_users, m = mk->n_providers;
    double *F = calloc((size_t)m, sizeof(double));
    assert_non_null(F);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) F[j] += flows[(size_t)i * m + j];
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const double *f = flows + (size_t)i * m;
        double D = mk->demand[i], sum = 0, lambda = INFINITY, scale = 0;
        for (int j = 0; j < m; j++) {
            double a = mk->w_congestion / mk->capacity[j];
            double g = cost_of(mk, i, j) + a * (F[j] + f[j]);
            scale = fmax(scale, fabs(cost_of(mk, i, j)) + a * (F[j] + f[j]));
            sum += f[j];
            if (f[j] > 1e-7 * D) lambda = fmin(lambda, g); /* used pairs set the level */
            worst = fmax(worst, -f[j] / D);
        }
        worst = fmax(worst, fabs(sum - D) / D);
        for (int j = 0; j < m; j++) {
            double a = mk->w_congestion / mk->capacity[j];
            double g = cost_of(mk, i, j) + a * (F[j] + f[j]);
            if (f[j] > 1e-7 * D) worst = fmax(worst, fabs(g - lambda) / scale);
            else worst = fmax(worst, fmax(0.0, lambda - g) / scale); /* nobody leaves money on the table */
        }
    }
    free(F);
    return worst;
}

double test_max_rel_diff(const double *a, const double *b, size_t count, double floor) {
    double worst = 0;
    for (size_t k = 0; k < count; k++) worst = fmax(worst, fabs(a[k] - b[k]) / fmax(fabs(b[k]), floor));
    return worst;
}

/* The pattern's full KKT system in (f, nu): for used pairs
 *   c_ij + a_j (sum_k f_kj + f_ij) - nu_i = 0,
 * f_ij = 0 for unused pairs, and sum_j f_ij = D_i. */
static int solve_pattern(const PrillmMarket *mk, const unsigned *pattern, double *x) {
    int n = mk->n_users, m = mk->n_providers, N = n * m + n;
    double *A = calloc((size_t)N * N, sizeof(double));
    lapack_int *piv = calloc((size_t)N, sizeof(lapack_int));
    assert_true(A && piv);
#define AT(r, c) A[(size_t)(c) * N + (r)]
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            int row = i * m + j;
            if (pattern[i] & (1u << j)) {
                double a = mk->w_congestion / mk->capacity[j];
                for (int k = 0; k < n; k++) AT(row, k * m + j) += a;
                AT(row, row) += a;
                AT(row, n * m + i) = -1.0;
                x[row] = -cost_of(mk, i, j);
            } else {
                AT(row, row) = 1.0;
                x[row] = 0.0;
            }
        }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < m; j++) AT(n * m + i, i * m + j) = 1.0;
        x[n * m + i] = mk->demand[i];
    }
#undef AT
    lapack_int info = LAPACKE_dgesv(LAPACK_COL_MAJOR, N, 1, A, N, piv, x, N);
    free(A);
    free(piv);
    return info == 0 ? 0 : -1;
}

int test_brute_force_equilibrium(const PrillmMarket *mk, double *flows) {
    int n = mk->n_users, m = mk->n_providers;
    unsigned subsets = (1u << m) - 1;
    unsigned *pattern = calloc((size_t)n, sizeof(unsigned));
    double *x = calloc((size_t)(n * m + n), sizeof(double));
    double *F = calloc((size_t)m, sizeof(double));
    assert_true(pattern && x && F);
    for (int i = 0; i < n; i++) pattern[i] = 1;
    int found = -1;
    for (;;) {
        if (solve_pattern(mk, pattern, x) == 0) {
            int ok = 1;
            for (int j = 0; j < m; j++) {
                F[j] = 0;
                for (int i = 0; i < n; i++) F[j] += x[i * m + j];
            }
            for (int i = 0; i < n && ok; i++)
                for (int j = 0; j < m && ok; j++) {
                    double a = mk->w_congestion / mk->capacity[j];
                    double g = cost_of(mk, i, j) + a * (F[j] + x[i * m + j]);
                    double slack = g - x[n * m + i];
                    double scale = fabs(cost_of(mk, i, j)) + a * F[j] + 1e-300;
                    if (pattern[i] & (1u << j)) ok = x[i * m + j] >= -1e-12 * mk->demand[i];
                    else ok = slack >= -1e-12 * scale;
                }
            if (ok) {
                for (int k = 0; k < n * m; k++) flows[k] = fmax(x[k], 0.0);
                found = 0;
                break;
            }
        }
        int i = 0; /* next pattern, mixed radix */
        while (i < n && pattern[i] == subsets) pattern[i++] = 1;
        if (i == n) break;
        pattern[i]++;
    }
    free(pattern);
    free(x);
    free(F);
    return found;
}

int test_price_method_available(int method) {
    return method != PRILLM_PRICE_PMPEC || prillm_has_component("ipopt");
}

int test_equilibrium_method_available(int method) {
    return method != PRILLM_EQ_IPOPT || prillm_has_component("ipopt");
}

PrillmAggregator *test_shipped_model;

int test_load_shipped_model(void **state) {
    (void)state;
    const char *src = getenv("PRILLM_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/aggregator/default_model.json", src && src[0] ? src : ".");
    FILE *in = fopen(path, "rb");
    if (!in) return 0; /* da cases then fail with a clear message or skip */
    PrillmError err;
    if (prillm_aggregator_read_json(in, &test_shipped_model, &err)) test_shipped_model = NULL;
    fclose(in);
    return 0;
}

int test_free_shipped_model(void **state) {
    (void)state;
    prillm_aggregator_free(test_shipped_model);
    test_shipped_model = NULL;
    return 0;
}

static void price_pruned_or_not(const PrillmMarket *mk, int s, int method, double pmax, int prune,
                                PrillmPriceResult *r) {
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    set.method = method;
    set.prune = prune;
    set.p_max = pmax;
    set.model = test_shipped_model;
    if (method == PRILLM_PRICE_DA && !test_shipped_model) fail_msg("the shipped aggregation model did not load");
    PrillmError err;
    if (prillm_price(mk, s, &set, r, &err)) fail_msg("prillm_price(%s): %s", prillm_price_method_name(method), err.message);
}

void test_price_with(const PrillmMarket *mk, int s, int method, double pmax, PrillmPriceResult *r) {
    price_pruned_or_not(mk, s, method, pmax, -1, r);
}

void test_price_whole(const PrillmMarket *mk, int s, double pmax, PrillmPriceResult *r) {
    price_pruned_or_not(mk, s, PRILLM_PRICE_EXACT, pmax, 0, r);
}

char test_scratch[256];

int test_scratch_setup(const char *tag) {
    const char *tmp = getenv("TMPDIR");
    snprintf(test_scratch, sizeof test_scratch, "%s/prillm_test_%s_XXXXXX", tmp && tmp[0] ? tmp : "/tmp", tag);
    if (!mkdtemp(test_scratch)) return -1;
    setenv("PRILLM_TEST_SCRATCH", test_scratch, 1);
    return 0;
}

int test_scratch_teardown(void) {
    /* only files the test made, in a directory it made */
    return system("rm -rf \"$PRILLM_TEST_SCRATCH\"") == 0 ? 0 : -1;
}

int test_shell(const char *fmt, ...) {
    char script[4096], command[4600];
    va_list args;
    va_start(args, fmt);
    vsnprintf(script, sizeof script, fmt, args);
    va_end(args);
    snprintf(command, sizeof command, "cd \"$PRILLM_TEST_SCRATCH\" && { %s ; } >stdout.txt 2>stderr.txt", script);
    int status = system(command);
    if (status == -1 || !WIFEXITED(status)) fail_msg("could not run: %s", script);
    return WEXITSTATUS(status);
}

char *test_scratch_read(const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", test_scratch, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)len + 1, 1);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return text;
}

double test_max_diff_norm_relative(const PrillmMarket *mk, const double *a, const double *b) {
    double worst = 0, dmax = 0;
    for (int i = 0; i < mk->n_users; i++) dmax = fmax(dmax, mk->demand[i]);
    for (size_t k = 0; k < (size_t)mk->n_users * mk->n_providers; k++) worst = fmax(worst, fabs(a[k] - b[k]));
    return worst / dmax;
}

double test_true_profit(const PrillmMarket *mk, int s, double p, double *flow) {
    double profit, F;
    PrillmError err;
    assert_int_equal(prillm_price_profit_at(mk, s, p, &profit, &F, NULL, &err), PRILLM_OK);
    if (flow) *flow = F;
    return profit;
}

double test_profit_scale(const PrillmMarket *mk, const PrillmPriceResult *r) {
    double total = 0;
    for (int i = 0; i < mk->n_users; i++) total += mk->demand[i];
    return fabs(r->profit) + 1e-6 * r->p_max * total;
}

double test_refined_grid_optimum(const PrillmMarket *mk, int s, double pmax, int points, double *best_price) {
    double *profit = malloc((size_t)points * sizeof *profit);
    assert_non_null(profit);
    for (int q = 0; q < points; q++) profit[q] = test_true_profit(mk, s, pmax * q / (points - 1), NULL);
    double best = -INFINITY, at = 0;
    for (int q = 0; q < points; q++) {
        if (profit[q] > best) {
            best = profit[q];
            at = pmax * q / (points - 1);
        }
        int local = (q == 0 || profit[q] >= profit[q - 1]) && (q == points - 1 || profit[q] >= profit[q + 1]);
        if (!local) continue;
        double a = pmax * (q > 0 ? q - 1 : q) / (points - 1), b = pmax * (q < points - 1 ? q + 1 : q) / (points - 1);
        const double g = 0.5 * (sqrt(5.0) - 1.0);
        for (int it = 0; it < 60 && b - a > 1e-13 * pmax; it++) {
            double x1 = b - g * (b - a), x2 = a + g * (b - a);
            if (test_true_profit(mk, s, x1, NULL) >= test_true_profit(mk, s, x2, NULL)) b = x2;
            else a = x1;
        }
        double x = 0.5 * (a + b), v = test_true_profit(mk, s, x, NULL);
        if (v > best) {
            best = v;
            at = x;
        }
    }
    free(profit);
    if (best_price) *best_price = at;
    return best;
}
