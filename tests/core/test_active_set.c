/* The equilibrium's reduced system under incremental factorisation
 * (src/core/active_set.c): a sequence of patterns that differ by a few
 * pairs, factored by rank-one updates and downdates (told which pairs may
 * have changed, which rows, or reading every flag: the same bits), must solve M nu = r
 * as a factorisation from scratch does, in both forms (Woodbury over providers
 * when fewer providers than users are active, M directly otherwise), on
 * random patterns and weights spread over many orders of magnitude. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lapacke.h>

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

/* Every user keeps at least one pair, so M stays positive definite. The
 * pairs drawn (flipped or not) are appended to hint. */
static void flip_random_pairs(PrillmRng *rng, int n, int m, unsigned char *active, int flips, long *hint,
                              long *n_hint) {
    for (int f = 0; f < flips; f++) {
        int i = (int)(prillm__rng_uniform(rng) * n), j = (int)(prillm__rng_uniform(rng) * m);
        hint[(*n_hint)++] = (long)i * m + j;
        unsigned char *row = active + (size_t)i * (size_t)m;
        int count = 0;
        for (int q = 0; q < m; q++) count += row[q] != 0;
        if (row[j] && count == 1) continue;
        row[j] = !row[j];
    }
}

/* prillm__system_rhs_moved on a system whose pattern was updated must give
 * prillm__system_rhs's numbers, and the flows after it too, bit for bit. */
static void check_rhs_moved(PrillmActiveSystem *moved, PrillmActiveSystem *whole, const double *c, int column,
                            const double *demand, const double *nu, long *reused, const char *what) {
    int n = whole->n, m = whole->m;
    double *r_moved = malloc((size_t)n * sizeof(double)), *r_whole = malloc((size_t)n * sizeof(double));
    double *F_moved = malloc((size_t)m * sizeof(double)), *F_whole = malloc((size_t)m * sizeof(double));
    double *f_moved = malloc((size_t)whole->n_pairs * sizeof(double) + 1);
    double *f_whole = malloc((size_t)whole->n_pairs * sizeof(double) + 1);
    assert_true(r_moved && r_whole && F_moved && F_whole && f_moved && f_whole);
    for (int i = 0; i < n; i++) r_moved[i] = r_whole[i] = 0.25;
    *reused += moved->cost_source == c && moved->stale_count >= 0;
    prillm__system_rhs_moved(moved, c, column, demand, r_moved);
    prillm__system_rhs(whole, c, demand, r_whole);
    if (memcmp(r_moved, r_whole, (size_t)n * sizeof(double)) != 0) fail_msg("%s: rhs_moved differs from rhs", what);
    prillm__system_flows(moved, nu, F_moved, f_moved);
    prillm__system_flows(whole, nu, F_whole, f_whole);
    if (memcmp(F_moved, F_whole, (size_t)m * sizeof(double)) != 0 ||
        memcmp(f_moved, f_whole, (size_t)whole->n_pairs * sizeof(double)) != 0)
        fail_msg("%s: the flows after rhs_moved differ", what);
    free(r_moved);
    free(r_whole);
    free(F_moved);
    free(F_whole);
    free(f_moved);
    free(f_whole);
}

static void run_sequence(unsigned long seed, int n, int m, double spread, long *updated, long *total,
                         long *refactored, long *reused, long *forced) {
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
    /* sys reads every flag; hinted is told which pairs may have changed
     * (the drawn ones, unchanged and repeated ones included, plus a few
     * random others): both must give the same factor and solves, bit for
     * bit */
    PrillmActiveSystem sys, hinted, rowed, paired, twin;
    assert_int_equal(prillm__system_init(&paired, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&paired, 1), 0);
    assert_int_equal(prillm__system_init(&twin, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&twin, 1), 0);
    assert_int_equal(prillm__system_init(&rowed, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&rowed, 1), 0);
    assert_int_equal(prillm__system_init(&sys, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&sys, 1), 0);
    assert_int_equal(prillm__system_init(&hinted, n, m, beta), 0);
    assert_int_equal(prillm__system_set_incremental(&hinted, 1), 0);
    /* in a third of the sequences paired and twin refactor at almost
     * every residual check: the path that replaces an updated factor
     * between (or within) the solves */
    if (seed % 3 == 0) paired.residual_limit = twin.residual_limit = 1e-16;
    double *nu_hinted = malloc((size_t)n * sizeof *nu_hinted);
    assert_non_null(nu_hinted);
    double *r2 = malloc((size_t)n * sizeof *r2), *nu2 = malloc((size_t)n * sizeof *nu2);
    double *nu_paired = malloc((size_t)n * sizeof *nu_paired), *nu2_paired = malloc((size_t)n * sizeof *nu2_paired);
    double *nu_twin = malloc((size_t)n * sizeof *nu_twin);
    assert_true(r2 && nu2 && nu_paired && nu2_paired && nu_twin);
    /* costs that move in one column a step (as a pricing walk's target's),
     * and demands (some zero) for the rhs checks */
    double *c = malloc((size_t)n * (size_t)m * sizeof *c), *demand = malloc((size_t)n * sizeof *demand);
    assert_true(c && demand);
    for (size_t k = 0; k < (size_t)n * (size_t)m; k++) c[k] = prillm__rng_uniform(&rng) * 10.0 - 2.0;
    for (int i = 0; i < n; i++) demand[i] = i % 5 == 0 ? 0.0 : prillm__rng_uniform(&rng) * 100.0;
    for (int step = 0; step < 40; step++) {
        long hint[64], n_hint = 0;
        /* now and then more pairs than an update takes: a factorisation
         * from scratch between updates (the remembered flags must then
         * follow the new pattern, not keep the old one's) */
        int flips = step % 9 == 4 ? 2 * PRILLM__SYSTEM_MAX_CHANGED_PAIRS : 1 + (int)(prillm__rng_uniform(&rng) * 3);
        if (step) flip_random_pairs(&rng, n, m, active, flips, hint, &n_hint);
        for (int extra = (int)(prillm__rng_uniform(&rng) * 3); extra > 0; extra--)
            hint[n_hint++] = (long)(prillm__rng_uniform(&rng) * n) * m + (long)(prillm__rng_uniform(&rng) * m);
        if (n_hint > 0) hint[n_hint++] = hint[0]; /* a repeat */
        assert_int_equal(prillm__system_factor(&sys, active), 0);
        assert_int_equal(step ? prillm__system_factor_changed(&hinted, active, hint, n_hint)
                              : prillm__system_factor(&hinted, active),
                         0);
        assert_int_equal(step ? prillm__system_factor_changed(&paired, active, hint, n_hint)
                              : prillm__system_factor(&paired, active),
                         0);
        assert_int_equal(step ? prillm__system_factor_changed(&twin, active, hint, n_hint)
                              : prillm__system_factor(&twin, active),
                         0);
        /* rowed is told the hinted pairs' rows, ascending, once each */
        int rows[64], n_rows = 0;
        for (long a = 0; a < n_hint; a++) {
            int i = (int)(hint[a] / m), at = n_rows;
            int seen = 0;
            for (int q = 0; q < n_rows; q++) seen |= rows[q] == i;
            if (seen) continue;
            while (at > 0 && rows[at - 1] > i) {
                rows[at] = rows[at - 1];
                at--;
            }
            rows[at] = i;
            n_rows++;
        }
        assert_int_equal(step ? prillm__system_factor_rows(&rowed, active, rows, n_rows)
                              : prillm__system_factor(&rowed, active),
                         0);
        double r_max = 0;
        for (int i = 0; i < n; i++) {
            r[i] = prillm__rng_uniform(&rng) - 0.5;
            if (fabs(r[i]) > r_max) r_max = fabs(r[i]);
        }
        int column = step % 3 == 2 ? -1 : (int)(prillm__rng_uniform(&rng) * m);
        if (column >= 0)
            for (int i = 0; i < n; i++) c[(size_t)i * m + column] = prillm__rng_uniform(&rng) * 10.0 - 2.0;
        char what[96];
        snprintf(what, sizeof what, "seed %lu (%d x %d), step %d, hinted pairs", seed, n, m, step);
        check_rhs_moved(&hinted, &sys, c, column, demand, r, reused, what);
        snprintf(what, sizeof what, "seed %lu (%d x %d), step %d, hinted rows", seed, n, m, step);
        check_rhs_moved(&rowed, &sys, c, column, demand, r, reused, what);
        prillm__system_solve(&sys, r, nu);
        prillm__system_solve(&hinted, r, nu_hinted);
        if (memcmp(nu, nu_hinted, (size_t)n * sizeof *nu) != 0)
            fail_msg("seed %lu (%d x %d), step %d: the hinted factor solves differently", seed, n, m, step);
        prillm__system_solve(&rowed, r, nu_hinted);
        if (memcmp(nu, nu_hinted, (size_t)n * sizeof *nu) != 0)
            fail_msg("seed %lu (%d x %d), step %d: the factor told the rows solves differently", seed, n, m, step);
        /* two right-hand sides at once (paired) against twin's two solves
         * in turn (both updated as hinted), residual checks and
         * refactorisations included */
        for (int i = 0; i < n; i++) r2[i] = 1e3 * (prillm__rng_uniform(&rng) - 0.5);
        prillm__system_solve(&twin, r, nu_twin);
        prillm__system_solve(&twin, r2, nu2);
        prillm__system_solve2(&paired, r, nu_paired, r2, nu2_paired);
        if (memcmp(nu_twin, nu_paired, (size_t)n * sizeof *nu) != 0 ||
            memcmp(nu2, nu2_paired, (size_t)n * sizeof *nu) != 0)
            fail_msg("seed %lu (%d x %d), step %d: two right-hand sides at once solve differently", seed, n, m, step);
        assert_int_equal(paired.refactorisations, twin.refactorisations);
        assert_true(rowed.n_pairs == sys.n_pairs && rowed.updated_factorisations == sys.updated_factorisations);
        assert_memory_equal(rowed.user_prov, sys.user_prov, (size_t)sys.n_pairs * sizeof(int));
        assert_memory_equal(rowed.prov_user, sys.prov_user, (size_t)sys.n_pairs * sizeof(int));
        assert_true(hinted.n_pairs == sys.n_pairs && hinted.updated_factorisations == sys.updated_factorisations);
        assert_memory_equal(hinted.user_start, sys.user_start, ((size_t)n + 1) * sizeof(int));
        assert_memory_equal(hinted.prov_start, sys.prov_start, ((size_t)m + 1) * sizeof(int));
        assert_memory_equal(hinted.user_prov, sys.user_prov, (size_t)sys.n_pairs * sizeof(int));
        assert_memory_equal(hinted.prov_user, sys.prov_user, (size_t)sys.n_pairs * sizeof(int));
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
    prillm__system_free(&hinted);
    prillm__system_free(&rowed);
    free(nu_hinted);
    free(r2);
    free(nu2);
    free(nu_paired);
    free(nu2_paired);
    free(nu_twin);
    *forced += seed % 3 == 0 ? paired.refactorisations : 0;
    prillm__system_free(&paired);
    prillm__system_free(&twin);
    free(c);
    free(demand);
    free(beta);
    free(active);
    free(r);
    free(nu);
    free(ref);
}

static void test_updates_match_fresh_factorisations(void **state) {
    (void)state;
    long updated = 0, total = 0, refactored = 0, reused = 0, forced = 0;
    int cases = 0;
    for (unsigned long seed = 1; seed <= 60; seed++) {
        /* both forms: more users than providers (Woodbury) and fewer */
        int n = seed % 2 ? 30 + (int)(seed % 7) * 5 : 6 + (int)(seed % 5);
        int m = seed % 2 ? 5 + (int)(seed % 4) * 3 : 20 + (int)(seed % 6) * 4;
        double spread = (double)(seed % 4) * 2.0; /* capacities 1 to 1e6 apart */
        run_sequence(seed, n, m, spread, &updated, &total, &refactored, &reused, &forced);
        cases++;
    }
    print_message("incremental factorisation: %d sequences, %ld of %ld factorisations by update, %ld refactored "
                  "after a residual check; %ld rhs of 2 x 40 x %d from the moved packed costs\n",
                  cases, updated, total, refactored, reused, cases);
    assert_true(reused > 40L * cases); /* the moved costs' path is what most steps take */
    print_message("with the residual limit lowered: %ld refactorisations\n", forced);
    assert_true(forced > 0);
    /* the update path must actually have been taken, most of the time, and
     * its factors must be accurate on their own: the residual check that
     * refactors is a safety net, not what makes the answers right */
    assert_true(updated > total / 2);
    assert_true(refactored * 50 <= updated);
}

/* The system's solve against an independent one: M written out from its
 * definition (active_set.h) and solved by LAPACK's LU (dgesv), on random
 * patterns whose factored dimension runs from 1 to about 100, so both the
 * plain-loop Cholesky of small systems (dimension up to 48) and LAPACK's
 * are checked, in both forms. */
static void test_solve_matches_dense_lu(void **state) {
    (void)state;
    PrillmRng rng;
    rng.state = 4242;
    int small = 0, large = 0, woodbury = 0, direct = 0;
    for (int trial = 0; trial < 120; trial++) {
        int n, m;
        if (trial % 2) { /* more users: the providers' capacitance matrix */
            m = 1 + (int)(prillm__rng_uniform(&rng) * 100);
            n = m + 1 + (int)(prillm__rng_uniform(&rng) * 60);
        } else { /* fewer users: M itself */
            n = 1 + (int)(prillm__rng_uniform(&rng) * 100);
            m = n + 1 + (int)(prillm__rng_uniform(&rng) * 60);
        }
        double spread = (double)(trial % 3) * 2.0;
        double *beta = malloc((size_t)m * sizeof *beta), *r = malloc((size_t)n * sizeof *r);
        double *nu = malloc((size_t)n * sizeof *nu), *M = calloc((size_t)n * (size_t)n, sizeof *M);
        double *gamma = malloc((size_t)m * sizeof *gamma);
        unsigned char *active = calloc((size_t)n * (size_t)m, 1);
        lapack_int *pivot = malloc((size_t)n * sizeof *pivot);
        assert_true(beta && r && nu && M && gamma && active && pivot);
        for (int j = 0; j < m; j++) beta[j] = pow(10.0, spread * (prillm__rng_uniform(&rng) - 0.5));
        double density = 0.02 + 0.3 * prillm__rng_uniform(&rng);
        for (int i = 0; i < n; i++) {
            unsigned char *row = active + (size_t)i * (size_t)m;
            row[(int)(prillm__rng_uniform(&rng) * m)] = 1;
            for (int j = 0; j < m; j++)
                if (prillm__rng_uniform(&rng) < density) row[j] = 1;
            r[i] = prillm__rng_uniform(&rng) - 0.5;
        }
        /* M = diag(d) - sum_j gamma_j u_j u_j^T, gamma_j = beta_j / (1 + n_j) */
        for (int j = 0; j < m; j++) {
            int users = 0;
            for (int i = 0; i < n; i++) users += active[(size_t)i * m + j];
            gamma[j] = beta[j] / (1.0 + users);
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                if (!active[(size_t)i * m + j]) continue;
                M[(size_t)i * n + i] += beta[j];
                for (int k = 0; k < n; k++)
                    if (active[(size_t)k * m + j]) M[(size_t)i * n + k] -= gamma[j];
            }
        PrillmActiveSystem sys;
        assert_int_equal(prillm__system_init(&sys, n, m, beta), 0);
        assert_int_equal(prillm__system_factor(&sys, active), 0);
        prillm__system_solve(&sys, r, nu);
        if (sys.dim <= 48) small++;
        else large++;
        if (sys.woodbury) woodbury++;
        else direct++;
        double *ref = malloc((size_t)n * sizeof *ref);
        assert_non_null(ref);
        memcpy(ref, r, (size_t)n * sizeof *ref);
        assert_int_equal(LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, 1, M, n, pivot, ref, 1), 0);
        double nu_max = 0, diff = 0;
        for (int i = 0; i < n; i++) {
            if (fabs(ref[i]) > nu_max) nu_max = fabs(ref[i]);
            if (fabs(nu[i] - ref[i]) > diff) diff = fabs(nu[i] - ref[i]);
        }
        if (!(diff <= 1e-9 * nu_max))
            fail_msg("trial %d (%d x %d, dim %d, %s): |nu - LU| = %.3g against |nu| %.3g", trial, n, m, sys.dim,
                     sys.woodbury ? "woodbury" : "direct", diff, nu_max);
        prillm__system_free(&sys);
        free(ref);
        free(beta);
        free(r);
        free(nu);
        free(M);
        free(gamma);
        free(active);
        free(pivot);
    }
    print_message("dense check: %d small and %d large factored systems, %d woodbury, %d direct\n", small, large,
                  woodbury, direct);
    assert_true(small >= 20 && large >= 20 && woodbury >= 20 && direct >= 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_updates_match_fresh_factorisations),
        cmocka_unit_test(test_solve_matches_dense_lu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
