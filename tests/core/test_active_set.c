/* The equilibrium's reduced system under incremental factorisation
 * (src/core/active_set.c): a sequence of patterns that differ by a few
 * pairs, factored by rank-one updates and downdates, must solve M nu = r as
 * a factorisation from scratch does, in both forms (Woodbury over providers
 * when fewer providers than users are active, M directly otherwise), on
 * random patterns and weights spread over many orders of magnitude. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "active_set.h"
#include "random.h"
#include "support.h"

/* Solve M nu = r with a fresh system for the same pattern. */
static void solve_fresh(int n, int m, const double *beta, const unsigned char *active, const double *r, double *nu) {
    PrillmActiveSystem fresh;
    assert_int_equal(prillm__system_init(&fresh, n, m, beta), 0);
    assert_int_equal(prillm__system_factor(&fresh, active), 0);
    prillm__system_solve(&fresh, r, nu);
    prillm__system_free(&fresh);
}

/* Every user keeps at least one pair, so M stays positive definite. */
static void flip_random_pairs(PrillmRng *rng, int n, int m, unsigned char *active, int flips) {
    for (int f = 0; f < flips; f++) {
        int i = (int)(prillm__rng_uniform(rng) * n), j = (int)(prillm__rng_uniform(rng) * m);
        unsigned char *row = active + (size_t)i * (size_t)m;
        int count = 0;
        for (int q = 0; q < m; q++) count += row[q] != 0;
        if (row[j] && count == 1) continue;
        row[j] = !row[j];
    }
}

static void run_sequence(unsigned long seed, int n, int m, double spread, long *updated, long *total,
                         long *refactored) {
    PrillmRng rng;
    rng.state = seed;
    double *beta = malloc((size_t)m * sizeof *beta);
    unsigned char *active = calloc((size_t)n * (size_t)m, 1);
    double *r = malloc((size_t)n * sizeof *r), *nu = malloc((size_t)n * sizeof *nu), *ref = malloc((size_t)n * sizeof *ref);
    assert_true(beta && active && r && nu && ref);
    for (int j = 0; j < m; j++) beta[j] = pow(10.0, spread * (prillm__rng_uniform(&rng) - 0.5));
    for (int i = 0; i < n; i++) {
        unsigned char *row = active + (size_t)i * (size_t)m;
        row[(int)(prillm__rng_uniform(&rng) * m)] = 1;
        for (int j = 0; j < m; j++)
            if (prillm__rng_uniform(&rng) < 0.3) row[j] = 1;
    }
    PrillmActiveSystem sys;
    assert_int_equal(prillm__system_init(&sys, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&sys, 1), 0);
    for (int step = 0; step < 40; step++) {
        if (step) flip_random_pairs(&rng, n, m, active, 1 + (int)(prillm__rng_uniform(&rng) * 3));
        assert_int_equal(prillm__system_factor(&sys, active), 0);
        double r_max = 0;
        for (int i = 0; i < n; i++) {
            r[i] = prillm__rng_uniform(&rng) - 0.5;
            if (fabs(r[i]) > r_max) r_max = fabs(r[i]);
        }
        prillm__system_solve(&sys, r, nu);
        solve_fresh(n, m, beta, active, r, ref);
        /* both are refined solves of the same SPD system: compare the
         * residuals' scale, not the (possibly ill-conditioned) nu */
        double nu_max = 0, diff = 0;
        for (int i = 0; i < n; i++) {
            if (fabs(ref[i]) > nu_max) nu_max = fabs(ref[i]);
            if (fabs(nu[i] - ref[i]) > diff) diff = fabs(nu[i] - ref[i]);
        }
        if (!(diff <= 1e-8 * nu_max))
            fail_msg("seed %lu (%d x %d, spread 1e%g), step %d: |nu - fresh| = %.3g against |nu| %.3g", seed, n, m,
                     spread, step, diff, nu_max);
    }
    *updated += sys.updated_factorisations;
    *refactored += sys.refactorisations;
    *total += sys.updated_factorisations + sys.full_factorisations;
    prillm__system_free(&sys);
    free(beta);
    free(active);
    free(r);
    free(nu);
    free(ref);
}

static void test_updates_match_fresh_factorisations(void **state) {
    (void)state;
    long updated = 0, total = 0, refactored = 0;
    int cases = 0;
    for (unsigned long seed = 1; seed <= 60; seed++) {
        /* both forms: more users than providers (Woodbury) and fewer */
        int n = seed % 2 ? 30 + (int)(seed % 7) * 5 : 6 + (int)(seed % 5);
        int m = seed % 2 ? 5 + (int)(seed % 4) * 3 : 20 + (int)(seed % 6) * 4;
        double spread = (double)(seed % 4) * 2.0; /* capacities 1 to 1e6 apart */
        run_sequence(seed, n, m, spread, &updated, &total, &refactored);
        cases++;
    }
    print_message("incremental factorisation: %d sequences, %ld of %ld factorisations by update, %ld refactored "
                  "after a residual check\n",
                  cases, updated, total, refactored);
    /* the update path must actually have been taken, most of the time, and
     * its factors must be accurate on their own: the residual check that
     * refactors is a safety net, not what makes the answers right */
    assert_true(updated > total / 2);
    assert_true(refactored * 50 <= updated);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_updates_match_fresh_factorisations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
