/* The PriLLM baselines (pmpec, smooth, odca, spgce) called directly through
 * the internal pricing interface, on many seeded random markets: every
 * proposal is a price in [0, p_max] with a finite model profit; odca and
 * spgce are the optimum of their own model (checked against a dense grid of
 * that model written here from its definition); smooth's barrier
 * equilibrium tends to the exact one; pmpec's point satisfies its relaxed
 * constraints; no proposal beats the true global optimum; deadlines and bad
 * inputs are handled. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pricing_internal.h"
#include "pricing_pmpec.h"
#include "pricing_smooth.h"
#include "support.h"

typedef struct {
    const char *name;
    PrillmPriceMethodFn fn;
} Method;

static const Method methods[] = {
    {"pmpec", prillm__price_pmpec},
    {"smooth", prillm__price_smooth},
    {"odca", prillm__price_odca},
    {"spgce", prillm__price_spgce},
};
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))
/* pmpec (methods[0]) needs Ipopt: without it the loops start at smooth */
#define FIRST_METHOD (prillm_has_component("ipopt") ? 0 : 1)

static PrillmPriceSettings settings_storage;

static PrillmPriceProblem make_problem(const PrillmMarket *mk, int target, double p_max) {
    prillm_price_default_settings(&settings_storage);
    PrillmPriceProblem pb;
    memset(&pb, 0, sizeof pb);
    pb.market = mk;
    pb.target = target;
    pb.p_max = p_max > 0 ? p_max : prillm_price_default_pmax(mk, target);
    assert_true(pb.p_max > 0 && isfinite(pb.p_max));
    pb.cost = isnan(mk->cost[target]) ? 0.0 : mk->cost[target];
    pb.start_price = pb.p_max / 2;
    pb.settings = &settings_storage;
    pb.deadline = 0;
    return pb;
}

static double true_profit(const PrillmMarket *mk, int target, double price) {
    double profit;
    PrillmError err;
    if (prillm_price_profit_at(mk, target, price, &profit, NULL, NULL, &err) != PRILLM_OK)
        fail_msg("profit_at(%g): %s", price, err.message);
    return profit;
}

/* The best true profit over a grid of `points` prices, and how much the
 * true maximum can exceed it: the profit is continuous and piecewise
 * quadratic, so between grid points it cannot rise above the endpoints by
 * more than about the largest change between neighbours. */
static double true_grid_best(const PrillmMarket *mk, int target, double p_max, int points, double *slack) {
    double best = -INFINITY, prev = NAN, jump = 0;
    for (int g = 0; g < points; g++) {
        double v = true_profit(mk, target, p_max * g / (points - 1));
        if (v > best) best = v;
        if (g > 0) jump = fmax(jump, fabs(v - prev));
        prev = v;
    }
    *slack = jump;
    return best;
}

/* ---- the simplified models, written here from their definitions ------- */

/* Level nu with sum_j h_j (nu - c_j)^+ = D, by bisection. */
static double fill_level(double D, const double *c, const double *h, int k) {
    double lo = INFINITY, hi;
    int cheapest = 0;
    for (int j = 0; j < k; j++)
        if (c[j] < lo) {
            lo = c[j];
            cheapest = j;
        }
    hi = lo + D / h[cheapest];
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), sum = 0;
        if (!(mid > lo && mid < hi)) break;
        for (int j = 0; j < k; j++) sum += h[j] * fmax(0.0, mid - c[j]);
        if (sum < D) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static double cost_offset(const PrillmMarket *mk, int i, int j, int target, double price) {
    double p = j == target ? price : mk->price[j];
    return mk->w_price * p + mk->w_delay * mk->delay[(size_t)i * mk->n_providers + j] - mk->value[j];
}

/* ODCA: each user alone, seeing only its own congestion (h = 1/(2a)). */
static double odca_model_profit(const PrillmMarket *mk, int target, double cost, double price) {
    int m = mk->n_providers;
    double *c = calloc((size_t)m, sizeof *c), *h = calloc((size_t)m, sizeof *h), F = 0;
    for (int i = 0; i < mk->n_users; i++) {
        if (!(mk->demand[i] > 0)) continue;
        for (int j = 0; j < m; j++) {
            c[j] = cost_offset(mk, i, j, target, price);
            h[j] = mk->capacity[j] / (2 * mk->w_congestion);
        }
        double nu = fill_level(mk->demand[i], c, h, m);
        F += h[target] * fmax(0.0, nu - c[target]);
    }
    free(c);
    free(h);
    return (price - cost) * F;
}

/* SPGCE: one population, demand-weighted mean delays, h = 1/a. */
static double spgce_model_profit(const PrillmMarket *mk, int target, double cost, double price) {
    int m = mk->n_providers;
    double *c = calloc((size_t)m, sizeof *c), *h = calloc((size_t)m, sizeof *h), D = 0;
    for (int i = 0; i < mk->n_users; i++) D += mk->demand[i];
    if (!(D > 0)) {
        free(c);
        free(h);
        return 0;
    }
    for (int j = 0; j < m; j++) {
        double dbar = 0;
        for (int i = 0; i < mk->n_users; i++) dbar += mk->demand[i] * mk->delay[(size_t)i * m + j];
        dbar /= D;
        c[j] = mk->w_price * (j == target ? price : mk->price[j]) + mk->w_delay * dbar - mk->value[j];
        h[j] = mk->capacity[j] / mk->w_congestion;
    }
    double nu = fill_level(D, c, h, m);
    double F = h[target] * fmax(0.0, nu - c[target]);
    free(c);
    free(h);
    return (price - cost) * F;
}

static PrillmMarket *varied_market(TestRng *rng, int trial, int max_n, int max_m) {
    static const TestMarketShape shapes[] = {
        {0.0, 3.0, 0, 0}, {-3.0, 6.0, 0, 0}, {6.0, 9.0, 0, 0}, {1.0, 2.0, 1, 0}, {1.0, 2.0, 0, 1},
    };
    int n = test_int(rng, 1, max_n), m = test_int(rng, 2, max_m);
    PrillmMarket *mk = test_market(n, m, 5000 + (uint64_t)trial, &shapes[trial % 5]);
    if (trial % 3 == 1) mk->w_price = 0.3 + 2 * test_uniform(rng);
    if (trial % 4 == 2) mk->cost[0] = 0.5 * mk->price[0] * test_uniform(rng);
    if (trial % 7 == 3) mk->demand[test_int(rng, 0, n - 1)] = 0;
    PrillmError err;
    assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
    return mk;
}

/* ---- tests ------------------------------------------------------------ */

static void test_every_method_proposes_a_valid_price(void **state) {
    (void)state;
    TestRng rng = {77};
    int checked = 0;
    for (int trial = 0; trial < 40; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 7, 5);
        int target = test_int(&rng, 0, mk->n_providers - 1);
        PrillmPriceProblem pb = make_problem(mk, target, 0);
        pb.cost = isnan(mk->cost[target]) ? 0.0 : mk->cost[target];
        double slack, best = true_grid_best(mk, target, pb.p_max, 201, &slack);
        for (int k = FIRST_METHOD; k < N_METHODS; k++) {
            PrillmPriceCandidate c;
            PrillmError err;
            PrillmErrorCode rc = methods[k].fn(&pb, &c, &err);
            if (rc != PRILLM_OK) fail_msg("trial %d %s: %s", trial, methods[k].name, err.message);
            if (c.status != PRILLM_STATUS_SOLVED && c.status != PRILLM_STATUS_INACCURATE)
                fail_msg("trial %d %s: status %s", trial, methods[k].name, prillm_status_name(c.status));
            if (!(c.price >= 0 && c.price <= pb.p_max))
                fail_msg("trial %d %s: price %g outside [0, %g]", trial, methods[k].name, c.price, pb.p_max);
            assert_true(isfinite(c.model_profit));
            assert_true(c.iterations >= 0 && c.equilibrium_solves >= 0);
            /* nothing beats the global optimum of the true game */
            double v = true_profit(mk, target, c.price);
            if (!(v <= best + slack + 1e-9 * (1 + fabs(best))))
                fail_msg("trial %d %s: true profit %.12g above the grid best %.12g + %.3g", trial, methods[k].name, v,
                         best, slack);
            checked++;
        }
        prillm_market_free(mk);
    }
    assert_int_equal(checked, 40 * (N_METHODS - FIRST_METHOD));
}

typedef double (*ModelProfit)(const PrillmMarket *mk, int target, double cost, double price);

static void check_own_model_optimum(PrillmPriceMethodFn fn, ModelProfit model, const char *name, uint64_t seed,
                                    int trials) {
    TestRng rng = {seed};
    for (int trial = 0; trial < trials; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, trial % 2 ? 30 : 6, trial % 3 ? 12 : 4);
        int target = test_int(&rng, 0, mk->n_providers - 1);
        PrillmPriceProblem pb = make_problem(mk, target, 0);
        if (trial % 5 == 4) { /* optimum possibly at the upper end */
            pb.p_max *= 0.3;
            pb.start_price = pb.p_max / 2;
        }
        PrillmPriceCandidate c;
        PrillmError err;
        if (fn(&pb, &c, &err) != PRILLM_OK) fail_msg("%s trial %d: %s", name, trial, err.message);
        assert_int_equal(c.status, PRILLM_STATUS_SOLVED);
        assert_true(c.price >= 0 && c.price <= pb.p_max);
        double own = model(mk, target, pb.cost, c.price);
        double scale = 1e-9 * (1 + fabs(own));
        if (!(fabs(own - c.model_profit) <= scale))
            fail_msg("%s trial %d: model profit %.15g but the model gives %.15g at %g", name, trial, c.model_profit,
                     own, c.price);
        const int points = 1001;
        for (int g = 0; g < points; g++) {
            double p = pb.p_max * g / (points - 1), v = model(mk, target, pb.cost, p);
            if (!(v <= own + scale))
                fail_msg("%s trial %d: the model gives %.15g at %g, above the proposal %.15g at %g", name, trial, v, p,
                         own, c.price);
        }
        /* and right around the proposal (a piece optimum, not a grid point) */
        for (int g = -20; g <= 20; g++) {
            double p = c.price + g * 1e-4 * pb.p_max;
            if (p < 0 || p > pb.p_max) continue;
            assert_true(model(mk, target, pb.cost, p) <= own + scale);
        }
        prillm_market_free(mk);
    }
}

static void test_odca_is_the_optimum_of_its_model(void **state) {
    (void)state;
    check_own_model_optimum(prillm__price_odca, odca_model_profit, "odca", 11, 40);
}

static void test_spgce_is_the_optimum_of_its_model(void **state) {
    (void)state;
    check_own_model_optimum(prillm__price_spgce, spgce_model_profit, "spgce", 12, 60);
}

/* As tau -> 0 the barrier flows approach the exact equilibrium (the error
 * is O(tau)); the implicit derivative matches a finite difference. */
static void test_smooth_barrier_tends_to_the_equilibrium(void **state) {
    (void)state;
    TestRng rng = {31};
    for (int trial = 0; trial < 20; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 25, 8);
        int target = test_int(&rng, 0, mk->n_providers - 1), n = mk->n_users, m = mk->n_providers;
        double p_max = prillm_price_default_pmax(mk, target), price = p_max * test_uniform(&rng);
        PrillmError err;
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, mk, NULL, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_update_price(solver, target, price, &err), PRILLM_OK);
        assert_int_equal(prillm_equilibrium_solve(solver, &err), PRILLM_OK);
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        assert_int_equal(eq->info.status, PRILLM_STATUS_SOLVED);
        double max_demand = 0;
        for (int i = 0; i < n; i++) max_demand = fmax(max_demand, mk->demand[i]);
        PrillmBarrier *b = NULL;
        assert_int_equal(prillm__barrier_setup(&b, mk, target, &err), PRILLM_OK);
        double *flows = calloc((size_t)n * m, sizeof *flows);
        double last_error = INFINITY, error = INFINITY;
        for (int k = 1; k <= 11; k++) {
            double tau = pow(10.0, -k), F, slope;
            long steps = 0;
            assert_int_equal(prillm__barrier_solve(b, price, tau, 0, &F, &slope, &steps), 0);
            prillm__barrier_flows(b, flows);
            error = 0;
            for (size_t z = 0; z < (size_t)n * m; z++) {
                assert_true(flows[z] >= 0);
                error = fmax(error, fabs(flows[z] - eq->flows[z]) / max_demand);
            }
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (int j = 0; j < m; j++) sum += flows[(size_t)i * m + j];
                assert_true(fabs(sum - mk->demand[i]) <= 1e-12 * (mk->demand[i] + max_demand * 1e-3));
            }
            /* O(tau): allow round-off once the error is tiny */
            if (!(error <= last_error + 1e-12))
                fail_msg("trial %d: error %.3g at tau 1e-%d above %.3g at the previous tau", trial, error, k,
                         last_error);
            last_error = error;
        }
        if (!(error <= 1e-7)) fail_msg("trial %d: barrier flows %.3g from the equilibrium at tau 1e-11", trial, error);
        /* implicit derivative against central differences at a moderate tau */
        double tau = 1e-3, F0, slope0, Fp, Fm, dummy, h = 1e-5 * p_max;
        long steps = 0;
        assert_int_equal(prillm__barrier_solve(b, price, tau, 0, &F0, &slope0, &steps), 0);
        assert_int_equal(prillm__barrier_solve(b, price + h, tau, 0, &Fp, &dummy, &steps), 0);
        assert_int_equal(prillm__barrier_solve(b, price - h, tau, 0, &Fm, &dummy, &steps), 0);
        double fd = (Fp - Fm) / (2 * h);
        if (!(fabs(fd - slope0) <= 1e-4 * (fabs(slope0) + 1e-6 * max_demand)))
            fail_msg("trial %d: dF/dp %.10g, finite difference %.10g", trial, slope0, fd);
        assert_true(slope0 <= 1e-9 * max_demand); /* the flow falls with the price */
        free(flows);
        prillm__barrier_cleanup(b);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
}

/* Ipopt's answer satisfies the Scholtes-relaxed system it was given, to
 * Ipopt's own tolerances (its default tol 1e-8 on the scaled NLP error):
 * in the NLP's units (costs, and flows divided by s) rows and gaps to 1e-6,
 * the products to epsilon + 1e-8. */
static void test_pmpec_point_satisfies_its_relaxation(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    TestRng rng = {41};
    int solved = 0;
    for (int trial = 0; trial < 20; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 8, 5);
        int target = test_int(&rng, 0, mk->n_providers - 1), n = mk->n_users, m = mk->n_providers;
        PrillmPriceProblem pb = make_problem(mk, target, 0);
        double *flows = calloc((size_t)n * m, sizeof *flows), *nu = calloc((size_t)n, sizeof *nu), s;
        int status;
        PrillmPriceCandidate c;
        PrillmError err;
        assert_int_equal(prillm__pmpec_solve(&pb, &c, flows, nu, &s, &status, &err), PRILLM_OK);
        assert_true(c.status == PRILLM_STATUS_SOLVED || c.status == PRILLM_STATUS_INACCURATE);
        if (c.status == PRILLM_STATUS_SOLVED) {
            solved++;
            assert_int_equal(status, 0);
            double eps = pb.settings->epsilon, F_s = 0;
            double *F = calloc((size_t)m, sizeof *F);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) F[j] += flows[(size_t)i * m + j];
            for (int i = 0; i < n; i++) {
                double sum = 0, D = mk->demand[i];
                for (int j = 0; j < m; j++) sum += flows[(size_t)i * m + j];
                assert_true(fabs(sum - D) <= 1e-6 * s);
                if (!(D > 0)) continue;
                for (int j = 0; j < m; j++) {
                    double f = flows[(size_t)i * m + j];
                    double g = cost_offset(mk, i, j, target, c.price) +
                               mk->w_congestion / mk->capacity[j] * (F[j] + f);
                    assert_true(f >= -1e-6 * s);
                    if (!(g - nu[i] >= -1e-6)) fail_msg("trial %d: gap (%d,%d) = %.3g", trial, i, j, g - nu[i]);
                    if (!((g - nu[i]) * f / s <= eps + 1e-8))
                        fail_msg("trial %d: product (%d,%d) = %.3g > eps", trial, i, j, (g - nu[i]) * f / s);
                }
            }
            F_s = F[target];
            assert_true(fabs(c.model_profit - (c.price - pb.cost) * F_s) <= 1e-6 * (1 + fabs(c.model_profit)));
            free(F);
        }
        /* it cannot beat the global optimum of the true game */
        double slack, best = true_grid_best(mk, target, pb.p_max, 1001, &slack);
        double v = true_profit(mk, target, c.price);
        if (!(v <= best + slack + 1e-9 * (1 + fabs(best))))
            fail_msg("trial %d: pmpec's true profit %.12g above the grid best %.12g + %.3g", trial, v, best, slack);
        free(flows);
        free(nu);
        prillm_market_free(mk);
    }
    assert_true(solved >= 15);
}

/* Token units are arbitrary: multiplying every demand and capacity by 2^20
 * scales the flows and the profit by 2^20 and leaves the best prices alone.
 * The methods scale flows by a power of two, so their proposals agree to
 * round-off (pmpec and smooth to their solvers' tolerances). */
static void test_proposals_do_not_depend_on_token_units(void **state) {
    (void)state;
    TestRng rng = {51};
    const double factor = 1048576.0;
    for (int trial = 0; trial < 12; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 8, 5);
        PrillmError err;
        PrillmMarket *big = prillm_market_copy(mk, &err);
        assert_non_null(big);
        for (int i = 0; i < mk->n_users; i++) big->demand[i] *= factor;
        for (int j = 0; j < mk->n_providers; j++) big->capacity[j] *= factor;
        assert_int_equal(prillm_market_validate(big, &err), PRILLM_OK);
        PrillmPriceProblem small_pb = make_problem(mk, 0, 0), big_pb = small_pb;
        big_pb.market = big;
        for (int k = FIRST_METHOD; k < N_METHODS; k++) {
            PrillmPriceCandidate a, b;
            assert_int_equal(methods[k].fn(&small_pb, &a, &err), PRILLM_OK);
            assert_int_equal(methods[k].fn(&big_pb, &b, &err), PRILLM_OK);
            double tol = k < 2 ? 1e-5 : 1e-12;
            if (!(fabs(a.price - b.price) <= tol * small_pb.p_max))
                fail_msg("trial %d %s: price %.15g vs %.15g after scaling tokens", trial, methods[k].name, a.price,
                         b.price);
            if (!(fabs(a.model_profit * factor - b.model_profit) <= 1e-4 * (fabs(b.model_profit) + factor * 1e-9)))
                fail_msg("trial %d %s: model profit %.15g x 2^20 vs %.15g", trial, methods[k].name, a.model_profit,
                         b.model_profit);
        }
        prillm_market_free(big);
        prillm_market_free(mk);
    }
}

static void test_deadline_is_respected(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(60, 30, 9, NULL);
    PrillmPriceProblem pb = make_problem(mk, 0, 0);
    /* already passed: the iterative methods stop before producing a price */
    pb.deadline = prillm__now();
    for (int k = FIRST_METHOD; k < 2; k++) {
        PrillmPriceCandidate c;
        PrillmError err;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_OK);
        assert_int_equal(c.status, PRILLM_STATUS_FAILED);
        assert_true(isnan(c.price) && isnan(c.model_profit));
    }
    /* a short budget on a run that needs much longer: stopped, not solved,
     * and whatever price it gives is inside the range */
    if (!prillm_has_component("ipopt")) {
        prillm_market_free(mk);
        return;
    }
    pb.deadline = prillm__now() + 0.05;
    PrillmPriceCandidate c;
    PrillmError err;
    assert_int_equal(prillm__price_pmpec(&pb, &c, &err), PRILLM_OK);
    assert_int_not_equal(c.status, PRILLM_STATUS_SOLVED);
    if (c.status == PRILLM_STATUS_INACCURATE) assert_true(c.price >= 0 && c.price <= pb.p_max);
    else assert_true(isnan(c.price));
    prillm_market_free(mk);
}

static void test_target_without_traffic(void **state) {
    (void)state;
    for (int trial = 0; trial < 6; trial++) {
        PrillmMarket *mk = test_market(6, 4, 300 + (uint64_t)trial, NULL);
        mk->value[0] = -1e3; /* nobody ever prefers the target */
        PrillmError err;
        assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
        PrillmPriceProblem pb = make_problem(mk, 0, trial % 2 ? 5.0 : 0);
        for (int k = FIRST_METHOD; k < N_METHODS; k++) {
            PrillmPriceCandidate c;
            assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_OK);
            assert_true(c.status == PRILLM_STATUS_SOLVED || c.status == PRILLM_STATUS_INACCURATE);
            assert_true(c.price >= 0 && c.price <= pb.p_max);
            assert_true(isfinite(c.model_profit));
            assert_true(fabs(true_profit(mk, 0, c.price)) <= 1e-9);
        }
        prillm_market_free(mk);
    }
}

/* A monopoly keeps every token at any price: the best price is p_max. */
static void test_monopoly_with_explicit_pmax(void **state) {
    (void)state;
    for (int trial = 0; trial < 4; trial++) {
        PrillmMarket *mk = test_market(1 + 3 * trial, 1, 400 + (uint64_t)trial, NULL);
        assert_true(isnan(prillm_price_default_pmax(mk, 0)));
        PrillmPriceProblem pb = make_problem(mk, 0, 7.5);
        for (int k = FIRST_METHOD; k < N_METHODS; k++) {
            PrillmPriceCandidate c;
            PrillmError err;
            assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_OK);
            assert_true(c.status == PRILLM_STATUS_SOLVED || c.status == PRILLM_STATUS_INACCURATE);
            if (!(c.price >= pb.p_max * (1 - 1e-6) && c.price <= pb.p_max))
                fail_msg("trial %d %s: monopoly price %.10g, p_max %g", trial, methods[k].name, c.price, pb.p_max);
        }
        prillm_market_free(mk);
    }
}

static void test_zero_demand_users(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(8, 4, 501, NULL);
    for (int i = 0; i < 8; i += 2) mk->demand[i] = 0;
    PrillmPriceProblem pb = make_problem(mk, 1, 0);
    PrillmError err;
    for (int k = FIRST_METHOD; k < N_METHODS; k++) {
        PrillmPriceCandidate c;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_OK);
        assert_true(c.status == PRILLM_STATUS_SOLVED || c.status == PRILLM_STATUS_INACCURATE);
        assert_true(c.price >= 0 && c.price <= pb.p_max && isfinite(c.model_profit));
    }
    /* nobody has demand: profit 0 everywhere */
    for (int i = 0; i < 8; i++) mk->demand[i] = 0;
    for (int k = FIRST_METHOD; k < N_METHODS; k++) {
        PrillmPriceCandidate c;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_OK);
        assert_int_equal(c.status, PRILLM_STATUS_SOLVED);
        assert_true(c.price >= 0 && c.price <= pb.p_max);
        assert_true(c.model_profit == 0);
    }
    prillm_market_free(mk);
}

static void test_bad_problems_are_refused(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(4, 3, 601, NULL);
    for (int k = 0; k < N_METHODS; k++) {
        PrillmPriceCandidate c;
        PrillmError err;
        assert_int_equal(methods[k].fn(NULL, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_true(isnan(c.price) && isnan(c.model_profit) && c.status == PRILLM_STATUS_FAILED);
        PrillmPriceProblem pb = make_problem(mk, 0, 0);
        assert_int_equal(methods[k].fn(&pb, NULL, &err), PRILLM_ERR_INVALID_ARGUMENT);
        pb.p_max = NAN;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "p_max"));
        assert_true(isnan(c.price));
        pb = make_problem(mk, 0, 0);
        pb.p_max = -1;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        pb = make_problem(mk, 0, 0);
        pb.target = 3;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "target"));
        pb = make_problem(mk, 0, 0);
        pb.start_price = 2 * pb.p_max;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "start_price"));
        pb = make_problem(mk, 0, 0);
        pb.cost = INFINITY;
        assert_int_equal(methods[k].fn(&pb, &c, &err), PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "cost"));
    }
    prillm_market_free(mk);
}

/* smooth refuses markets whose dense Newton steps would take hours. */
static void test_smooth_refuses_too_large(void **state) {
    (void)state;
    PrillmMarket *mk = test_market(600, 600, 701, NULL);
    PrillmPriceProblem pb = make_problem(mk, 0, 0);
    PrillmPriceCandidate c;
    PrillmError err;
    assert_int_equal(prillm__price_smooth(&pb, &c, &err), PRILLM_ERR_TOO_LARGE);
    assert_true(isnan(c.price));
    assert_non_null(strstr(err.message, "600"));
    prillm_market_free(mk);
}

/* Split a market in two that never mix: apps 0..n/2-1 buy models
 * 0..m/2-1 only, the others the rest (cells across sit below their margin
 * by more than any cost a user can face, as the fit's service classes);
 * the second group's demand is 1000 times the first's. */
static void split_market(PrillmMarket *mk) {
    int n = mk->n_users, m = mk->n_providers;
    double top = 0, total = 0, thin = INFINITY;
    for (int i = 0; i < n; i++) {
        if (i >= n / 2) mk->demand[i] *= 1000;
        total += mk->demand[i];
    }
    for (int j = 0; j < m; j++) top = fmax(top, mk->value[j] + mk->w_price * mk->price[j]), thin = fmin(thin, mk->capacity[j]);
    double wall = 10 * (top + mk->w_congestion * 2 * total / thin);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            if ((i < n / 2) != (j < m / 2)) mk->affinity[(size_t)i * m + j] = -(mk->value[j] + wall);
}

/* The old default bound: every rival's load as large as the whole market's
 * demand (written here from its definition, as the reference). */
static double whole_market_pmax(const PrillmMarket *mk, int target) {
    int n = mk->n_users, m = mk->n_providers;
    double total = 0, bound = 0;
    for (int i = 0; i < n; i++) total += mk->demand[i];
    for (int i = 0; i < n; i++) {
        if (!(mk->demand[i] > 0)) continue;
        double best = INFINITY;
        for (int j = 0; j < m; j++) {
            if (j == target) continue;
            double c = mk->w_price * mk->price[j] + mk->w_delay * mk->delay[(size_t)i * m + j] - mk->value[j] -
                       mk->affinity[(size_t)i * m + j];
            best = fmin(best, c + mk->w_congestion / mk->capacity[j] * (total + mk->demand[i]));
        }
        double own = mk->w_delay * mk->delay[(size_t)i * m + target] - mk->value[target] - mk->affinity[(size_t)i * m + target];
        bound = fmax(bound, (best - own) / mk->w_price);
    }
    return bound * (1 + 1e-6) + 1e-6;
}

/* The default price bound chokes the target (no flow at it) on random
 * markets, and on markets split into two groups of apps and models that
 * never mix (cells across the groups far below their margin, as the fit's
 * service classes), where counting only the load a rival can carry makes
 * it far tighter than the whole market's demand would. */
static void test_default_pmax_chokes_the_target(void **state) {
    (void)state;
    TestRng rng = {913};
    int tighter = 0, splits = 0;
    for (int trial = 0; trial < 80; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 30, 10);
        int n = mk->n_users, m = mk->n_providers, split = trial % 2 == 1 && n >= 2 && m >= 4;
        if (split) {
            /* apps 0..n/2-1 buy models 0..m/2-1 only, the others the rest;
             * the second group's demand is 1000 times the first's */
            split_market(mk);
        }
        PrillmError err;
        assert_int_equal(prillm_market_validate(mk, &err), PRILLM_OK);
        int target = split ? test_int(&rng, 0, m / 2 - 1) : test_int(&rng, 0, m - 1);
        double p_max = prillm_price_default_pmax(mk, target), old = whole_market_pmax(mk, target);
        assert_true(p_max >= 1e-6 && p_max <= old * (1 + 1e-12) + 1e-12);
        double profit, flow, kkt;
        assert_int_equal(prillm_price_profit_at(mk, target, p_max, &profit, &flow, &kkt, &err), PRILLM_OK);
        double total = 0;
        for (int i = 0; i < n; i++) total += mk->demand[i];
        if (!(flow <= 1e-9 * total)) fail_msg("trial %d: flow %g at the default p_max %g", trial, flow, p_max);
        /* a split market's rivals carry at most their group's demand: the
         * bound is below the whole-market one (group 2 has 1000 times the
         * demand, all of which the old bound loaded on the target's rivals) */
        if (split && !(p_max < old)) fail_msg("trial %d: split market, p_max %g not below %g", trial, p_max, old);
        tighter += split && p_max < 0.5 * old;
        splits += split;
        prillm_market_free(mk);
    }
    print_message("split markets where the bound is under half the whole-market one: %d of %d\n", tighter, splits);
    assert_true(splits >= 20);
}

/* The part of a market a target's price reaches (prillm__market_part): on a
 * split market it is the target's group (its apps with demand and its
 * models), and exact pricing there gives the whole market's price and
 * profit; on an ordinary random market it is the whole market. */
static void test_market_part(void **state) {
    (void)state;
    TestRng rng = {4242};
    int parts = 0, wholes = 0;
    for (int trial = 0; trial < 40; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 24, 10);
        int n = mk->n_users, m = mk->n_providers, split = trial % 2 == 1 && n >= 2 && m >= 4;
        if (split) split_market(mk);
        int target = split ? test_int(&rng, 0, m / 2 - 1) : test_int(&rng, 0, m - 1);
        PrillmMarket *part = NULL;
        int in_part = -1;
        PrillmError err;
        assert_int_equal(prillm__market_part(mk, target, NULL, NULL, &part, &in_part, &err), PRILLM_OK);
        int group_users = 0;
        for (int i = 0; i < n / 2; i++) group_users += mk->demand[i] > 0;
        if (!part) {
            /* the whole market: a split one only when the target's group
             * has no app with demand */
            assert_true(in_part == target && (!split || group_users == 0));
            wholes++;
            prillm_market_free(mk);
            continue;
        }
        if (split) {
            /* only the target's group: its models a group app could ever
             * buy, its apps with demand that could buy one of them */
            parts++;
            assert_true(part->n_providers <= m / 2 && part->n_users <= group_users && part->n_users > 0);
            for (int k = 0; k < part->n_providers; k++)
                assert_true(prillm_market_provider_index(mk, part->provider_id[k]) < m / 2);
            for (int u = 0; u < part->n_users; u++)
                assert_true(prillm_market_user_index(mk, part->user_id[u]) < n / 2);
        }
        /* any part (an unsplit market's drops apps with no demand, or that
         * could never buy anything of the target's) prices like the whole */
        assert_string_equal(part->provider_id[in_part], mk->provider_id[target]);
        assert_int_equal(prillm_market_validate(part, &err), PRILLM_OK);
        PrillmPriceSettings st;
        prillm_price_default_settings(&st);
        PrillmPriceResult whole, small;
        assert_int_equal(prillm_price(mk, target, &st, &whole, &err), PRILLM_OK);
        assert_int_equal(prillm_price(part, in_part, &st, &small, &err), PRILLM_OK);
        if (fabs(whole.price - small.price) > 1e-9 * fmax(1, whole.price) ||
            fabs(whole.profit - small.profit) > 1e-9 * fmax(1, fabs(whole.profit)))
            fail_msg("trial %d: whole market %.17g (profit %.17g), part %.17g (%.17g)", trial, whole.price, whole.profit,
                     small.price, small.profit);
        prillm_price_result_clear(&whole);
        prillm_price_result_clear(&small);
        prillm_market_free(part);
        prillm_market_free(mk);
    }
    print_message("split markets' parts checked against the whole market: %d; whole markets: %d\n", parts, wholes);
    assert_true(parts >= 12 && wholes >= 10);
}

/* prillm_price reads the price bound and da's reachable pairs from its
 * solver's costs at the market's prices, sharing the rivals' load bounds
 * (prillm__price_bound, prillm__could_use with costs and reach): the same
 * bound bit for bit and the same pairs as from the market alone, on varied
 * and split markets (tastes, zero demands, costs). */
static void test_bounds_from_solver_costs(void **state) {
    (void)state;
    TestRng rng = {977};
    int checked = 0;
    for (int trial = 0; trial < 60; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 30, 12);
        int n = mk->n_users, m = mk->n_providers;
        if (trial % 3 == 1 && n >= 2 && m >= 4) split_market(mk);
        PrillmError err;
        PrillmEquilibriumSolver *solver = NULL;
        assert_int_equal(prillm_equilibrium_setup(&solver, mk, NULL, &err), PRILLM_OK);
        const double *costs = prillm__equilibrium_costs(solver);
        size_t nm = (size_t)n * (size_t)m;
        unsigned char *alone = malloc(nm), *shared = malloc(nm);
        double *reach = malloc((size_t)m * sizeof *reach);
        assert_non_null(alone);
        assert_non_null(shared);
        assert_non_null(reach);
        for (int target = 0; target < m; target++) {
            double bound = prillm_price_default_pmax(mk, target);
            assert_int_equal(prillm__rival_reach(mk, target, costs, reach), 0);
            double from_costs = prillm__price_bound(mk, target, costs, reach);
            if (memcmp(&bound, &from_costs, sizeof bound) != 0)
                fail_msg("trial %d target %d: bound %.17g from the market, %.17g from the solver's costs", trial,
                         target, bound, from_costs);
            assert_int_equal(prillm__could_use(mk, target, NULL, NULL, alone), 0);
            assert_int_equal(prillm__could_use(mk, target, costs, reach, shared), 0);
            if (memcmp(alone, shared, nm) != 0) fail_msg("trial %d target %d: the reachable pairs differ", trial, target);
            checked++;
        }
        free(alone);
        free(shared);
        free(reach);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
    }
    print_message("bounds and reachable pairs from a solver's costs: %d targets, identical\n", checked);
    assert_true(checked >= 200);
}

/* Ipopt equilibrium solves (a pthread's work), `repeats` times from a
 * fresh solver: the provider flows of the last, or NaN when a solve failed,
 * and whether every repeat gave the same bits. */
typedef struct {
    const PrillmMarket *market;
    double *provider_flow; /* [m] */
    int status, repeats, same;
} IpoptSolveJob;

static void *ipopt_solve_job(void *arg) {
    IpoptSolveJob *job = arg;
    PrillmEquilibriumSettings st;
    prillm_equilibrium_default_settings(&st);
    st.method = PRILLM_EQ_IPOPT;
    int m = job->market->n_providers;
    job->same = m <= 16; /* flow below holds 16 */
    if (!job->same) return NULL;
    for (int r = 0; r < (job->repeats > 0 ? job->repeats : 1); r++) {
        PrillmEquilibriumSolver *solver = NULL;
        PrillmError err;
        int status = -1;
        double flow[16];
        for (int j = 0; j < m && j < 16; j++) flow[j] = NAN;
        if (prillm_equilibrium_setup(&solver, job->market, &st, &err) == PRILLM_OK &&
            prillm_equilibrium_solve(solver, &err) == PRILLM_OK) {
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            status = (int)eq->info.status;
            memcpy(flow, eq->provider_flow, (size_t)m * sizeof(double));
        }
        prillm_equilibrium_cleanup(solver);
        if (r > 0 && (status != job->status || memcmp(flow, job->provider_flow, (size_t)m * sizeof(double)) != 0))
            job->same = 0;
        job->status = status;
        memcpy(job->provider_flow, flow, (size_t)m * sizeof(double));
    }
    return NULL;
}

/* Ipopt from several threads at once. Debian's Ipopt runs the sequential
 * MUMPS, which is not thread-safe, so every Ipopt solve in the process
 * takes one lock (src/core/ipopt_options.c); without it, pmpec over every
 * target of a 5 x 4 market on 2 threads crashed, aborted or printed
 * "MPI_ABORT called" in 10 runs of 12. Here pmpec over every target on 4
 * threads, three times, and Ipopt equilibrium solves from 4 pthreads at
 * once, give the one-thread answers bit for bit. Then many tiny solves at
 * once (4 threads of 300 each on a 3 x 2 market): with only IpoptSolve
 * locked (not the problem's creation, options and freeing), 6 runs of 6
 * printed "MPI_ABORT called" and exited 0, which tests/CMakeLists.txt
 * fails on. */
static void test_ipopt_from_many_threads(void **state) {
    (void)state;
    TEST_NEEDS("ipopt");
    TestRng rng = {4242};
    for (int trial = 0; trial < 4; trial++) {
        PrillmMarket *mk = varied_market(&rng, trial, 8, 6);
        int m = mk->n_providers;
        PrillmPriceSettings st;
        prillm_price_default_settings(&st);
        st.method = PRILLM_PRICE_PMPEC;
        PrillmPriceResult one[6], many[6];
        PrillmError e1[6], e2[6], err;
        assert_int_equal(prillm_price_all(mk, &st, NULL, m, 1, one, e1, &err), PRILLM_OK);
        for (int round = 0; round < 3; round++) {
            assert_int_equal(prillm_price_all(mk, &st, NULL, m, 4, many, e2, &err), PRILLM_OK);
            for (int j = 0; j < m; j++) {
                assert_int_equal(e1[j].code, e2[j].code);
                assert_int_equal(one[j].status, many[j].status);
                assert_memory_equal(&one[j].price, &many[j].price, sizeof(double));
                assert_memory_equal(&one[j].profit, &many[j].profit, sizeof(double));
                prillm_price_result_clear(&many[j]);
            }
        }
        for (int j = 0; j < m; j++) prillm_price_result_clear(&one[j]);
        /* the equilibrium's Ipopt method, from plain threads */
        enum { JOBS = 4 };
        IpoptSolveJob serial = {mk, calloc((size_t)m, sizeof(double)), 0, 1, 1}, jobs[JOBS];
        ipopt_solve_job(&serial);
        pthread_t thread[JOBS];
        for (int k = 0; k < JOBS; k++) {
            jobs[k] = (IpoptSolveJob){mk, calloc((size_t)m, sizeof(double)), 0, 1, 1};
            assert_int_equal(pthread_create(&thread[k], NULL, ipopt_solve_job, &jobs[k]), 0);
        }
        for (int k = 0; k < JOBS; k++) {
            assert_int_equal(pthread_join(thread[k], NULL), 0);
            assert_int_equal(jobs[k].status, serial.status);
            assert_memory_equal(jobs[k].provider_flow, serial.provider_flow, (size_t)m * sizeof(double));
            free(jobs[k].provider_flow);
        }
        assert_true(serial.status == PRILLM_STATUS_SOLVED || serial.status == PRILLM_STATUS_INACCURATE);
        free(serial.provider_flow);
        prillm_market_free(mk);
    }
    PrillmError err;
    PrillmMarket *tiny = prillm_market_random(3, 2, 5, &err);
    assert_non_null(tiny);
    enum { JOBS = 4 };
    IpoptSolveJob serial = {tiny, calloc(2, sizeof(double)), 0, 1, 1}, jobs[JOBS];
    ipopt_solve_job(&serial);
    pthread_t thread[JOBS];
    for (int k = 0; k < JOBS; k++) {
        jobs[k] = (IpoptSolveJob){tiny, calloc(2, sizeof(double)), 0, 300, 1};
        assert_int_equal(pthread_create(&thread[k], NULL, ipopt_solve_job, &jobs[k]), 0);
    }
    for (int k = 0; k < JOBS; k++) {
        assert_int_equal(pthread_join(thread[k], NULL), 0);
        assert_true(jobs[k].same);
        assert_int_equal(jobs[k].status, serial.status);
        assert_memory_equal(jobs[k].provider_flow, serial.provider_flow, 2 * sizeof(double));
        free(jobs[k].provider_flow);
    }
    free(serial.provider_flow);
    prillm_market_free(tiny);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_method_proposes_a_valid_price),
        cmocka_unit_test(test_odca_is_the_optimum_of_its_model),
        cmocka_unit_test(test_spgce_is_the_optimum_of_its_model),
        cmocka_unit_test(test_smooth_barrier_tends_to_the_equilibrium),
        cmocka_unit_test(test_default_pmax_chokes_the_target),
        cmocka_unit_test(test_market_part),
        cmocka_unit_test(test_pmpec_point_satisfies_its_relaxation),
        cmocka_unit_test(test_proposals_do_not_depend_on_token_units),
        cmocka_unit_test(test_deadline_is_respected),
        cmocka_unit_test(test_target_without_traffic),
        cmocka_unit_test(test_monopoly_with_explicit_pmax),
        cmocka_unit_test(test_zero_demand_users),
        cmocka_unit_test(test_bad_problems_are_refused),
        cmocka_unit_test(test_smooth_refuses_too_large),
        cmocka_unit_test(test_bounds_from_solver_costs),
        cmocka_unit_test(test_ipopt_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
