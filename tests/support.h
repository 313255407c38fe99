/* Test helpers: varied random markets and an independent reference. */
#ifndef PRILLM_TEST_SUPPORT_H
#define PRILLM_TEST_SUPPORT_H

#include <prillm/prillm.h>
#include <stdint.h>

/* Deterministic per-test random numbers. */
typedef struct {
    uint64_t state;
} TestRng;
uint64_t test_rng_next(TestRng *rng);
double test_uniform(TestRng *rng);              /* [0, 1) */
int test_int(TestRng *rng, int lo, int hi);      /* lo..hi inclusive */

/* A random market of n x m whose demands span 10^lo_exp..10^hi_exp and whose
 * capacities follow (so congestion stays comparable), with optional
 * duplicated providers and users to create ties. Aborts the test on failure. */
typedef struct {
    double demand_lo_exp, demand_hi_exp; /* demands log-uniform in this range */
    int duplicate_providers;             /* copy provider 0 onto provider 1 */
    int duplicate_users;                 /* copy user 0 onto user 1 */
} TestMarketShape;
PrillmMarket *test_market(int n, int m, uint64_t seed, const TestMarketShape *shape);

/* Give the apps tastes: each user's row of mk->affinity is all zero with
 * probability zero_rows, else a_ij = sigma N(0,1) with sigma the standard
 * deviation of w_price * price_j over the providers (the price spread, so
 * affinities reorder the providers as much as prices do; 1 when every price
 * is equal). Deterministic in seed; the market still validates. */
void test_market_affinity(PrillmMarket *mk, uint64_t seed, double zero_rows);

/* Solve with the given method (exact when settings is NULL); aborts the test
 * if the call fails. Caller frees with prillm_equilibrium_cleanup. */
PrillmEquilibriumSolver *test_solve(const PrillmMarket *mk, const PrillmEquilibriumSettings *settings);

/* Independent check of the equilibrium conditions, written from the
 * definitions without the library: returns the largest violation of
 * nonnegativity, demand, and (g_ij - lambda_i) >= 0 with equality on used
 * pairs, each relative (flows to D_i, costs to the cost scale). */
double test_kkt_violation(const PrillmMarket *mk, const double *flows);

/* Largest |a - b| over a market's n x m flows, relative to the largest
 * demand: the scale for methods (ipopt) whose error sits on pairs that
 * should be empty, which a per-demand measure magnifies for the smallest
 * users. */
double test_max_diff_norm_relative(const PrillmMarket *mk, const double *a, const double *b);

/* Largest |a - b| / max(|b|, floor) over count entries. */
double test_max_rel_diff(const double *a, const double *b, size_t count, double floor);

/* Brute force: enumerate every support pattern (each user a nonempty subset
 * of providers), solve the full dense KKT system of the pattern with LAPACK
 * dgesv, and keep the one that satisfies all the conditions. Only for tiny
 * markets ((2^m - 1)^n patterns). Returns 0 and fills flows on success. */
int test_brute_force_equilibrium(const PrillmMarket *mk, double *flows);

/* Skip the running test (cmocka's skip(), with a message) when the library
 * was built without an optional component: "glpk", "xgboost", "ipopt",
 * "openmp" (prillm_has_component). Needs <cmocka.h> at the use. */
#define TEST_NEEDS(component)                                                          \
    do {                                                                               \
        if (!prillm_has_component(component)) {                                        \
            print_message("built without %s: skipped\n", component);                   \
            skip();                                                                    \
        }                                                                              \
    } while (0)

/* 1 if the pricing method (PrillmPriceMethod) / equilibrium method runs in
 * this build: pmpec and the ipopt equilibrium need Ipopt. For loops over
 * the methods, which leave the missing ones out. */
int test_price_method_available(int method);
int test_equilibrium_method_available(int method);

/* The aggregation network shipped with the project (method da), read from
 * $PRILLM_SOURCE_DIR/data/aggregator/default_model.json (. when unset) by
 * the group setup test_load_shipped_model and freed by the group teardown
 * test_free_shipped_model; NULL when it did not load (the setup still
 * succeeds, so da cases can fail with a clear message or skip). */
extern PrillmAggregator *test_shipped_model;
int test_load_shipped_model(void **state);
int test_free_shipped_model(void **state);

/* prillm_price with the default settings but method, p_max = pmax and the
 * shipped model; fails the test if the call fails, or for da when the
 * shipped model did not load. */
void test_price_with(const PrillmMarket *mk, int s, int method, double pmax, PrillmPriceResult *r);
/* Exact pricing with the whole curve walked (prune 0), for tests that read
 * the curve at any price: the default prunes above 50 pairs, and a pruned
 * curve has gaps. */
void test_price_whole(const PrillmMarket *mk, int s, double pmax, PrillmPriceResult *r);

/* (p - k) F_s(p) of provider s from a fresh equilibrium solve of the market
 * at price p (and F_s(p) into *flow unless flow is NULL); fails the test if
 * the solve fails. */
double test_true_profit(const PrillmMarket *mk, int s, double p, double *flow);
/* Profits are compared relative to their size, with a floor at the scale
 * of the problem (a price range times the total demand) for optima near 0. */
double test_profit_scale(const PrillmMarket *mk, const PrillmPriceResult *r);
/* Best true profit over a grid of `points` prices on [0, pmax], each local
 * best refined by golden section on its neighbouring grid cells; the price
 * that gives it into *best_price unless best_price is NULL. */
double test_refined_grid_optimum(const PrillmMarket *mk, int s, double pmax, int points, double *best_price);

/* A scratch directory for one test program, $TMPDIR/prillm_test_TAG_XXXXXX
 * ($TMPDIR defaults to /tmp), exported as PRILLM_TEST_SCRATCH. For group
 * setups and teardowns: 0 on success, -1 on failure. The teardown removes
 * the directory and everything in it. */
extern char test_scratch[256];
int test_scratch_setup(const char *tag);
int test_scratch_teardown(void);

/* Run a shell script (a printf format) in the scratch directory with its
 * stdout and stderr captured to stdout.txt and stderr.txt there; returns the
 * script's exit status and fails the test if it could not run. */
int test_shell(const char *fmt, ...);

/* The whole of the scratch directory's file NAME, NUL-terminated (the
 * caller frees); fails the test if it cannot be read. */
char *test_scratch_read(const char *name);

#endif
