/*
 * The equilibrium's reduced linear system for a fixed active set
 * (DESIGN.md section 2, solvers.md section 0.2). Internal.
 *
 * With beta_j = 1/a_j (a_j the congestion slope), U_j the users of provider
 * j, A_i the providers of user i, n_j = |U_j| and gamma_j = beta_j/(1+n_j):
 *   M = diag(d) - sum_j gamma_j u_j u_j^T,   d_i = sum_{j in A_i} beta_j
 *   r_i = D_i + sum_{j in A_i} beta_j c_ij - sum_{j in A_i} gamma_j C_j,
 *         C_j = sum_{k in U_j} c_kj
 *   M nu = r,  F_j = gamma_j sum_{i in U_j} (nu_i - c_ij),
 *   f_ij = beta_j (nu_i - c_ij) - F_j.
 * M is symmetric positive definite when every user in the system has an
 * active provider. When fewer providers than users are active it is solved
 * through the Woodbury identity with the (active providers)^2 capacitance
 * matrix K = Gamma^-1 - U^T diag(d)^-1 U (also SPD), otherwise directly.
 * Pricing and calibration reuse one factorisation for several right-hand
 * sides (the affine pieces in price, the adjoint of the loss).
 */
#ifndef PRILLM_ACTIVE_SET_H
#define PRILLM_ACTIVE_SET_H

#include <stddef.h>

typedef struct {
    int n, m;
    /* pattern, CSR by user and by provider (indices into 0..m-1 / 0..n-1) */
    int *user_start, *user_prov; /* [n+1], [capacity_pairs] */
    int *prov_start, *prov_user; /* [m+1], [capacity_pairs] */
    int *prov_pair;              /* [capacity_pairs] by provider: the pair's index in the CSR by user */
    /* c_ij at the pattern's pairs, indexed like user_prov, as the last
     * prillm__system_rhs read them: the rhs's provider sums and the flows
     * read this instead of the n x m costs at scattered pairs (a cache miss
     * a pair on a large market: 40 MB of costs at 10000 x 500) */
    double *pair_cost;           /* [capacity_pairs] */
    /* Where pair_cost came from, for prillm__system_rhs_moved: the costs
     * array the last rhs read (NULL: none), and the rows whose pairs the
     * pattern's updates have changed since (their pair_cost is stale; the
     * other rows' entries were moved with their rows). stale_count -1:
     * every row (the pattern was rebuilt whole, or too many rows). */
    const double *cost_source;
    int *stale_rows;             /* [n] */
    int stale_count;
    long n_pairs;
    long capacity_pairs;
    const double *beta;          /* [m], borrowed                           */
    double *d;                   /* [n]                                     */
    double *gamma;               /* [m]                                     */
    /* factorisation */
    int woodbury;                /* 1: K over active providers, 0: M direct */
    int dim;
    int *index_of;               /* provider->K row (woodbury) or user->M row; -1 if out */
    int *member;                 /* the inverse map, [dim]                  */
    double *factor;              /* dim x dim Cholesky factor (column-major, lower) */
    size_t factor_capacity;
    double *work_n, *work_n2, *work_n3, *work_n4, *work_n5, *work_n6, *work_m, *work_m2, *dense; /* scratch */
    size_t dense_capacity;
    /* Incremental mode (prillm__system_set_incremental): a call to
     * prillm__system_factor whose pattern differs from the factored one in a
     * few pairs updates the Cholesky factor by rank-one updates and
     * downdates instead of rebuilding it; solves then check their residual
     * and refactor from scratch when the updates have lost accuracy. */
    int incremental;
    int factored;                /* factor describes the pattern in `pattern` */
    int updates;                 /* rank-one changes since the last full factorisation */
    unsigned char *pattern;      /* [n*m] the pattern the factor describes  */
    int pattern_synced;          /* every flag set in pattern is at one of the CSR's pairs */
    int pattern_rows_only;       /* forget_pattern cleared only the told rows' flags */
    int csr_valid;               /* the CSR holds a whole pattern (the last one built) */
    double residual_limit;       /* a solve's relative residual above which an updated factor is
                                    replaced (1e-12; tests lower it to take that path) */
    double *d_prev, *gamma_prev; /* [n], [m] d and gamma of that pattern     */
    int *changed_users, *changed_provs; /* scratch lists for an update       */
    /* prillm__system_factor_changed: the only pairs that may differ from
     * the factored pattern (NULL: any), and scratch to rebuild the CSR
     * from the old one plus the changed rows */
    const long *hint_pairs;
    long hint_count;
    /* prillm__system_factor_rows: the only rows that may differ (NULL: any) */
    const int *hint_rows;
    int hint_row_count;
    int *old_start, *old_prov;
    double *old_cost;            /* [old_capacity] pair_cost before a row rebuild */
    long old_capacity;
    long full_factorisations, updated_factorisations, refactorisations; /* counters */
} PrillmActiveSystem;

int prillm__system_init(PrillmActiveSystem *sys, int n, int m, const double *beta);
void prillm__system_free(PrillmActiveSystem *sys);

/* Build the pattern from active[i*m+j] (nonzero = active) and factor M.
 * A user with no active pair is left out of the system (its nu is unused).
 * Returns 0 on success, 1 if the factorisation failed (not positive
 * definite in floating point), -1 out of memory. */
int prillm__system_factor(PrillmActiveSystem *sys, const unsigned char *active);

/* Turn incremental factorisation on (it costs an n*m pattern copy). The
 * caller promises that beta does not change between factorisations, or
 * calls prillm__system_invalidate when it does. Returns -1 out of memory. */
int prillm__system_set_incremental(PrillmActiveSystem *sys, int on);
/* prillm__system_factor when active differs from the last factored pattern
 * only at pairs (indices i*m+j; a superset, duplicates allowed): the update
 * then reads those pairs and the changed rows instead of every flag. Gives
 * the same factor as prillm__system_factor. */
int prillm__system_factor_changed(PrillmActiveSystem *sys, const unsigned char *active, const long *pairs,
                                  long count);
/* The same when active differs from the last factored pattern only in the
 * rows rows[0..count) (ascending, no duplicates): the update compares
 * those rows alone and rebuilds the CSR from them; so does a factorisation
 * from scratch when they hold more changes than an update takes. */
int prillm__system_factor_rows(PrillmActiveSystem *sys, const unsigned char *active, const int *rows, int count);
/* More changed pairs than this at once and an update rebuilds the factor
 * from scratch instead (a caller need not track more). */
#define PRILLM__SYSTEM_MAX_CHANGED_PAIRS 16
void prillm__system_invalidate(PrillmActiveSystem *sys);

/* rhs r from costs c (n*m dense) and demand D (may be NULL for zero);
 * keeps c at the pattern's pairs (pair_cost) for prillm__system_flows. */
void prillm__system_rhs(PrillmActiveSystem *sys, const double *c, const double *demand, double *r);
/* prillm__system_rhs when c is the array the last rhs of this system read
 * and has changed since in column `column` alone (-1: nowhere): the
 * pattern's costs are then taken from the last rhs's packed copy, moved
 * with the pattern's rows, and read from c only in that column and in the
 * rows the pattern's updates changed. The same numbers as
 * prillm__system_rhs. A pricing walk's pieces differ in a pair or two and
 * in the target's column: gathering all 43,000 costs of a 5000 x 500
 * pattern from the 20 MB array, a cache miss each, was a tenth of a
 * target's time. */
void prillm__system_rhs_moved(PrillmActiveSystem *sys, const double *c, int column, const double *demand,
                              double *r);
/* prillm__system_rhs and prillm__system_flows for costs that are zero but
 * in column `column`, where every user's cost is `value` (the slope of the
 * costs in one provider's price): the same numbers, without reading an
 * n x m array at the pattern's scattered pairs. */
void prillm__system_rhs_column(const PrillmActiveSystem *sys, int column, double value, double *r);
void prillm__system_flows_column(const PrillmActiveSystem *sys, int column, double value, const double *nu, double *F,
                                 double *pair_flow);
/* Solve M nu = r (one step of iterative refinement included). nu for users
 * outside the system is left untouched. */
void prillm__system_solve(PrillmActiveSystem *sys, const double *r, double *nu);
/* prillm__system_solve for two right-hand sides with the same factor: the
 * same numbers as solving M nu = r, then M nu1 = r1 (the refactorisation
 * check on each), with one pass over the pattern for both. */
void prillm__system_solve2(PrillmActiveSystem *sys, const double *r, double *nu, const double *r1, double *nu1);
/* y = M x over users in the system. */
void prillm__system_apply(const PrillmActiveSystem *sys, const double *x, double *y);
/* Provider loads F (m) and the active flows from nu and the costs the last
 * prillm__system_rhs read (on this pattern); pair_flow is indexed like
 * user_prov (user i's pairs are user_start[i]..user_start[i+1]), so no n*m
 * array is touched. */
void prillm__system_flows(const PrillmActiveSystem *sys, const double *nu, double *F, double *pair_flow);

#endif
