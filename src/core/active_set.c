/* The reduced linear system of the equilibrium for a fixed active set; see
 * active_set.h for the equations. */
#include "active_set.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int prillm__system_init(PrillmActiveSystem *sys, int n, int m, const double *beta) {
    memset(sys, 0, sizeof *sys);
    sys->n = n;
    sys->m = m;
    sys->beta = beta;
    size_t N = (size_t)n, M = (size_t)m;
    sys->user_start = prillm__calloc(N + 1, sizeof(int));
    sys->prov_start = prillm__calloc(M + 1, sizeof(int));
    sys->d = prillm__calloc(N, sizeof(double));
    sys->gamma = prillm__calloc(M, sizeof(double));
    sys->index_of = prillm__calloc(N > M ? N : M, sizeof(int));
    sys->member = prillm__calloc(N > M ? N : M, sizeof(int));
    sys->work_n = prillm__calloc(N, sizeof(double));
    sys->work_n2 = prillm__calloc(N, sizeof(double));
    sys->work_n3 = prillm__calloc(N, sizeof(double));
    sys->work_n4 = prillm__calloc(N, sizeof(double));
    sys->work_n5 = prillm__calloc(N, sizeof(double));
    sys->work_n6 = prillm__calloc(N, sizeof(double));
    sys->work_m = prillm__calloc(M, sizeof(double));
    sys->work_m2 = prillm__calloc(M, sizeof(double));
    if (!sys->user_start || !sys->prov_start || !sys->d || !sys->gamma || !sys->index_of || !sys->member ||
        !sys->work_n || !sys->work_n2 || !sys->work_n3 || !sys->work_n4 || !sys->work_n5 || !sys->work_n6 ||
        !sys->work_m || !sys->work_m2) {
        prillm__system_free(sys);
        return -1;
    }
    return 0;
}

void prillm__system_free(PrillmActiveSystem *sys) {
    free(sys->user_start);
    free(sys->user_prov);
    free(sys->prov_start);
    free(sys->prov_user);
    free(sys->prov_pair);
    free(sys->pair_cost);
    free(sys->d);
    free(sys->gamma);
    free(sys->index_of);
    free(sys->member);
    free(sys->factor);
    free(sys->work_n);
    free(sys->work_n2);
    free(sys->work_n3);
    free(sys->work_n4);
    free(sys->work_n5);
    free(sys->work_n6);
    free(sys->work_m);
    free(sys->work_m2);
    free(sys->dense);
    free(sys->pattern);
    free(sys->d_prev);
    free(sys->gamma_prev);
    free(sys->changed_users);
    free(sys->changed_provs);
    free(sys->old_start);
    free(sys->old_prov);
    free(sys->old_cost);
    free(sys->stale_rows);
    memset(sys, 0, sizeof *sys);
}

static int ensure_doubles(double **buf, size_t *capacity, size_t count) {
    if (count <= *capacity) return 0;
    double *bigger = prillm__realloc_array(*buf, count, sizeof(double));
    if (!bigger) return -1;
    *buf = bigger;
    *capacity = count;
    return 0;
}

static void index_by_provider(PrillmActiveSystem *sys);

static int grow_pairs(PrillmActiveSystem *sys, long need) {
    if (need <= sys->capacity_pairs) return 0;
    long cap = sys->capacity_pairs > 0 ? 2 * sys->capacity_pairs : 1024;
    while (cap < need) cap *= 2;
    int *a = realloc(sys->user_prov, (size_t)cap * sizeof(int));
    if (a) sys->user_prov = a;
    int *b = realloc(sys->prov_user, (size_t)cap * sizeof(int));
    if (b) sys->prov_user = b;
    int *pp = realloc(sys->prov_pair, (size_t)cap * sizeof(int));
    if (pp) sys->prov_pair = pp;
    double *pc = realloc(sys->pair_cost, (size_t)cap * sizeof(double));
    if (pc) sys->pair_cost = pc;
    if (!a || !b || !pp || !pc) return -1;
    sys->capacity_pairs = cap;
    return 0;
}

/* The pattern's CSR by user in one scan of the flags, then by provider
 * from it. Active sets are sparse (43,000 of 2.5 million pairs at 5000 x
 * 500): eight flags are skipped at once when they are all clear. */
static int build_pattern(PrillmActiveSystem *sys, const unsigned char *active) {
    int n = sys->n, m = sys->m;
    long pairs = 0;
    sys->stale_count = -1; /* the packed costs no longer match the rows */
    sys->csr_valid = 0;    /* until every row is written */
    for (int i = 0; i < n; i++) {
        const unsigned char *row = active + (size_t)i * (size_t)m;
        sys->user_start[i] = (int)pairs;
        if (grow_pairs(sys, pairs + m + 8)) return -1; /* room for a full row: no test per pair */
        pairs += prillm__list_flags(row, m, sys->user_prov + pairs);
    }
    sys->user_start[n] = (int)pairs;
    sys->n_pairs = pairs;
    index_by_provider(sys);
    sys->csr_valid = 1;
    return 0;
}

/* The pattern's CSR by provider from the one by user. */
static void index_by_provider(PrillmActiveSystem *sys) {
    int n = sys->n, m = sys->m;
    memset(sys->prov_start, 0, ((size_t)m + 1) * sizeof(int));
    for (long q = 0; q < sys->n_pairs; q++) sys->prov_start[sys->user_prov[q] + 1]++;
    for (int j = 0; j < m; j++) sys->prov_start[j + 1] += sys->prov_start[j];
    int *fill = sys->member; /* borrowed as a cursor per provider */
    for (int j = 0; j < m; j++) fill[j] = sys->prov_start[j];
    for (int i = 0; i < n; i++)
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int at = fill[sys->user_prov[q]]++;
            sys->prov_user[at] = i;
            sys->prov_pair[at] = q;
        }
}

/* The pattern after a change confined to the rows users[0..n_users) (in
 * increasing order): the rows before the first changed one stay where they
 * are, each run of unchanged rows after it is copied from the old CSR in
 * one piece with its starts shifted, the changed rows are read from the
 * flags. Same arrays as build_pattern. (Copying the whole CSR aside and
 * back row by row, 5000 calls of memcpy at 5000 x 500, was 6% of a pricing
 * target's instructions.) */
static int rebuild_rows(PrillmActiveSystem *sys, const unsigned char *active, const int *users, int n_users) {
    int n = sys->n, m = sys->m;
    if (sys->old_capacity < sys->n_pairs || !sys->old_start) {
        long cap = sys->capacity_pairs > sys->n_pairs ? sys->capacity_pairs : sys->n_pairs;
        int *a = realloc(sys->old_prov, (size_t)(cap > 0 ? cap : 1) * sizeof(int));
        if (a) sys->old_prov = a;
        double *oc = realloc(sys->old_cost, (size_t)(cap > 0 ? cap : 1) * sizeof(double));
        if (oc) sys->old_cost = oc;
        int *b = sys->old_start ? sys->old_start : malloc(((size_t)n + 1) * sizeof(int));
        if (b) sys->old_start = b;
        if (!a || !b || !oc) {
            sys->stale_count = -1;
            sys->csr_valid = 0;
            return -1;
        }
        sys->old_capacity = cap;
    }
    int first = n_users > 0 ? users[0] : n;
    long kept = sys->user_start[first]; /* the pairs before the first changed row */
    memcpy(sys->old_start + first, sys->user_start + first, ((size_t)n + 1 - (size_t)first) * sizeof(int));
    memcpy(sys->old_prov + kept, sys->user_prov + kept, (size_t)(sys->n_pairs - kept) * sizeof(int));
    /* the packed costs move with their rows, unless they are stale anyway */
    int keep_costs = sys->cost_source && sys->stale_count >= 0 && sys->stale_count + n_users <= n;
    if (keep_costs) memcpy(sys->old_cost + kept, sys->pair_cost + kept, (size_t)(sys->n_pairs - kept) * sizeof(double));
    else sys->stale_count = -1;
    long grow = 0;
    for (int q = 0; q < n_users; q++) {
        int count = prillm__count_flags(active + (size_t)users[q] * (size_t)m, m);
        grow += count - (sys->old_start[users[q] + 1] - sys->old_start[users[q]]);
    }
    if (grow_pairs(sys, sys->n_pairs + grow + 8)) { /* 8: prillm__list_flags's room */
        sys->stale_count = -1;
        sys->csr_valid = 0;
        return -1;
    }
    long pairs = kept;
    for (int next = 0, i = first; i < n;) {
        if (next < n_users && users[next] == i) {
            sys->user_start[i] = (int)pairs;
            pairs += prillm__list_flags(active + (size_t)i * (size_t)m, m, sys->user_prov + pairs);
            next++;
            if (keep_costs) sys->stale_rows[sys->stale_count++] = i;
            i++;
            continue;
        }
        /* rows i .. end - 1 are unchanged: one copy, their starts shifted */
        int end = next < n_users ? users[next] : n;
        long from = sys->old_start[i], count = sys->old_start[end] - from, shift = pairs - from;
        for (int r = i; r < end; r++) sys->user_start[r] = (int)(sys->old_start[r] + shift);
        memcpy(sys->user_prov + pairs, sys->old_prov + from, (size_t)count * sizeof(int));
        if (keep_costs) memcpy(sys->pair_cost + pairs, sys->old_cost + from, (size_t)count * sizeof(double));
        pairs += count;
        i = end;
    }
    sys->user_start[n] = (int)pairs;
    sys->n_pairs = pairs;
    index_by_provider(sys);
    return 0;
}

/* Symmetric rank-k form of the Gram matrices when the pattern is dense:
 * one dsyrk beats scattered scalar updates by an order of magnitude. */
static int use_dense_gram(double sparse_updates, double rows, double dim) {
    double dense_flops = rows * dim * dim;
    return sparse_updates * 8.0 > dense_flops && rows * dim < 2.0e8;
}

/* gamma and d of the pattern just built; counts of active providers and of
 * users in the system, and the scalar work of the sparse Gram forms. */
static void pattern_weights(PrillmActiveSystem *sys, int *m_act_out, int *n_sys_out, double *user_sq_out,
                            double *prov_sq_out) {
    int n = sys->n, m = sys->m, n_sys = 0, m_act = 0;
    double user_sq = 0, prov_sq = 0;
    for (int j = 0; j < m; j++) {
        int nj = sys->prov_start[j + 1] - sys->prov_start[j];
        sys->gamma[j] = sys->beta[j] / (1.0 + nj);
        if (nj) m_act++;
        prov_sq += 0.5 * (double)nj * (nj + 1);
    }
    for (int i = 0; i < n; i++) {
        double di = 0;
        for (int k = sys->user_start[i]; k < sys->user_start[i + 1]; k++) di += sys->beta[sys->user_prov[k]];
        sys->d[i] = di;
        int ai = sys->user_start[i + 1] - sys->user_start[i];
        if (ai) n_sys++;
        user_sq += 0.5 * (double)ai * (ai + 1);
    }
    *m_act_out = m_act;
    *n_sys_out = n_sys;
    *user_sq_out = user_sq;
    *prov_sq_out = prov_sq;
}

/* ---- small systems ------------------------------------------------------
 *
 * Up to SMALL_DIM the Cholesky factor and its solves are plain loops: a
 * LAPACK call (argument checks, OpenBLAS's packing buffers) costs more than
 * the few thousand flops of a 20 x 20 factor, and the exact pricing walk of
 * a 20 x 20 market factors and solves a few hundred times. The same
 * algorithms as the BLAS path (left-looking Cholesky as dpotf2; forward
 * then backward substitution), the same column-major lower factor: exact
 * prices and profits move by under 1e-12 relative against it. */
#define SMALL_DIM 48

/* A = L L^T in place (lower triangle, column-major). Returns 0, or j + 1
 * when the j-th pivot is not positive (as dpotrf's info). */
static int cholesky_small(double *A, int dim) {
    double t[SMALL_DIM];
    for (int j = 0; j < dim; j++) {
        double *cj = A + (size_t)j * (size_t)dim;
        /* the products summed first, then taken from the column (as
         * dpotf2's dot and gemv): on a nearly singular capacitance matrix
         * the pivots are differences of close numbers */
        for (int i = j; i < dim; i++) t[i] = 0;
        for (int k = 0; k < j; k++) {
            const double *ck = A + (size_t)k * (size_t)dim;
            double ljk = ck[j];
            for (int i = j; i < dim; i++) t[i] += ljk * ck[i];
        }
        for (int i = j; i < dim; i++) cj[i] -= t[i];
        double pivot = cj[j];
        if (!(pivot > 0)) return j + 1;
        pivot = sqrt(pivot);
        cj[j] = pivot;
        double inv = 1.0 / pivot;
        for (int i = j + 1; i < dim; i++) cj[i] *= inv;
    }
    return 0;
}

/* L L^T x = b in place. */
static void cholesky_solve_small(const double *L, int dim, double *b) {
    for (int j = 0; j < dim; j++) {
        const double *cj = L + (size_t)j * (size_t)dim;
        double x = b[j] * (1.0 / cj[j]);
        b[j] = x;
        for (int i = j + 1; i < dim; i++) b[i] -= cj[i] * x;
    }
    for (int j = dim - 1; j >= 0; j--) {
        const double *cj = L + (size_t)j * (size_t)dim;
        double s = b[j];
        for (int i = j + 1; i < dim; i++) s -= cj[i] * b[i];
        b[j] = s * (1.0 / cj[j]);
    }
}

static int cholesky_factor(double *A, int dim) {
    if (dim <= SMALL_DIM) return cholesky_small(A, dim);
    return LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', dim, A, dim);
}

/* Above SMALL_DIM, two triangular solves with the vector (dtrsv) rather
 * than LAPACK's dpotrs: dpotrs goes through dtrsm, which OpenBLAS blocks
 * into matrix products and packs the triangle for at every call, for one
 * right-hand side. The walk solves four times a piece: on the calibrated
 * OpenRouter market (a factor of about 400) `tencent/hy3`'s pricing took
 * 20% less CPU without them. */
static void cholesky_solve(const double *L, int dim, double *b) {
    if (dim <= 0) return;
    if (dim <= SMALL_DIM) cholesky_solve_small(L, dim, b);
    else {
        cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, dim, L, dim, b, 1);
        cblas_dtrsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, dim, L, dim, b, 1);
    }
}

static int factor_from_scratch(PrillmActiveSystem *sys, const unsigned char *active) {
    int n = sys->n, m = sys->m;
    /* told the rows that changed (prillm__system_factor_rows, more than an
     * update takes): the other rows' CSR is the old one's, and their flags
     * are not read (a cold 10000 x 500 solve's later rounds change a few
     * thousand of 10000 rows) */
    int rows = sys->hint_rows && sys->csr_valid && active != sys->pattern;
    if (rows ? rebuild_rows(sys, active, sys->hint_rows, sys->hint_row_count) : build_pattern(sys, active)) {
        sys->factored = 0; /* the pattern arrays are half rewritten */
        return -1;
    }
    int n_sys, m_act;
    double user_sq, prov_sq;
    pattern_weights(sys, &m_act, &n_sys, &user_sq, &prov_sq);
    sys->woodbury = m_act <= n_sys;
    int dim = sys->woodbury ? m_act : n_sys;
    sys->dim = dim;
    if (dim == 0) return 0;
    if (ensure_doubles(&sys->factor, &sys->factor_capacity, (size_t)dim * (size_t)dim)) return -1;
    double *K = sys->factor;
    memset(K, 0, (size_t)dim * (size_t)dim * sizeof(double));
    if (sys->woodbury) {
        int k = 0;
        for (int j = 0; j < m; j++) {
            sys->index_of[j] = -1;
            if (sys->prov_start[j + 1] > sys->prov_start[j]) {
                sys->index_of[j] = k;
                sys->member[k] = j;
                K[(size_t)k * dim + k] = 1.0 / sys->gamma[j];
                k++;
            }
        }
        if (use_dense_gram(user_sq, n_sys, dim)) {
            size_t need = (size_t)n_sys * (size_t)dim;
            if (ensure_doubles(&sys->dense, &sys->dense_capacity, need)) return -1;
            double *W = sys->dense;
            memset(W, 0, need * sizeof(double));
            int r = 0;
            for (int i = 0; i < n; i++) {
                if (sys->user_start[i + 1] == sys->user_start[i]) continue;
                double w = 1.0 / sqrt(sys->d[i]);
                for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
                    W[(size_t)sys->index_of[sys->user_prov[q]] * n_sys + r] = w;
                r++;
            }
            cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, dim, n_sys, -1.0, W, n_sys, 1.0, K, dim);
        } else {
            for (int i = 0; i < n; i++) {
                double w = 1.0 / sys->d[i];
                for (int p = sys->user_start[i]; p < sys->user_start[i + 1]; p++) {
                    int kp = sys->index_of[sys->user_prov[p]];
                    for (int q = p; q < sys->user_start[i + 1]; q++) {
                        int kq = sys->index_of[sys->user_prov[q]];
                        /* user_prov is sorted by provider, so kq >= kp: lower triangle (kq, kp) */
                        K[(size_t)kp * dim + kq] -= w;
                    }
                }
            }
        }
    } else {
        int r = 0;
        for (int i = 0; i < n; i++) {
            sys->index_of[i] = -1;
            if (sys->user_start[i + 1] > sys->user_start[i]) {
                sys->index_of[i] = r;
                sys->member[r] = i;
                K[(size_t)r * dim + r] = sys->d[i];
                r++;
            }
        }
        if (use_dense_gram(prov_sq, m_act, dim)) { /* dsyrk here costs dim^2 * m_act */
            size_t need = (size_t)dim * (size_t)m_act;
            if (ensure_doubles(&sys->dense, &sys->dense_capacity, need)) return -1;
            double *V = sys->dense;
            memset(V, 0, need * sizeof(double));
            int c = 0;
            for (int j = 0; j < m; j++) {
                if (sys->prov_start[j + 1] == sys->prov_start[j]) continue;
                double v = sqrt(sys->gamma[j]);
                for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++)
                    V[(size_t)c * dim + sys->index_of[sys->prov_user[q]]] = v;
                c++;
            }
            cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, dim, m_act, -1.0, V, dim, 1.0, K, dim);
        } else {
            for (int j = 0; j < m; j++) {
                double g = sys->gamma[j];
                for (int p = sys->prov_start[j]; p < sys->prov_start[j + 1]; p++) {
                    int rp = sys->index_of[sys->prov_user[p]];
                    for (int q = p; q < sys->prov_start[j + 1]; q++) {
                        int rq = sys->index_of[sys->prov_user[q]]; /* users sorted: rq >= rp */
                        K[(size_t)rp * dim + rq] -= g;
                    }
                }
            }
        }
    }
    return cholesky_factor(K, dim) == 0 ? 0 : 1;
}

/* ---- incremental factorisation ---------------------------------------- */

/* More changed pairs than this at once, or more rank-one changes than
 * REFRESH_UPDATES since the last full factorisation, and the factor is
 * rebuilt: each update costs O(dim^2) against O(dim^3) for a rebuild, and
 * downdates slowly lose digits. The solves check their residual after
 * updates and refactor when it passes UPDATED_RESIDUAL_LIMIT, so the
 * refresh is a backstop: at 64 the calibrated OpenRouter market's walks
 * (about 400 providers in the factor) rebuilt it every 20 pieces, 183 of
 * 3,052 factorisations for `tencent/hy3`; at 512, 25 of 3,054, with the
 * same residual limit met. */
#define MAX_CHANGED_PAIRS PRILLM__SYSTEM_MAX_CHANGED_PAIRS
/* Residual above which an updated factor is replaced by a fresh one: a few
 * thousand round-offs, far below the homotopy's tolerances. */
#define UPDATED_RESIDUAL_LIMIT 1e-12
#define REFRESH_UPDATES 512

int prillm__system_set_incremental(PrillmActiveSystem *sys, int on) {
    sys->incremental = 0;
    sys->factored = 0;
    sys->pattern_synced = 0; /* flags left from before may lie anywhere */
    if (!on) return 0;
    size_t N = (size_t)sys->n, M = (size_t)sys->m;
    if (!sys->pattern) {
        sys->pattern = prillm__calloc(N * M, 1);
        sys->d_prev = prillm__calloc(N, sizeof(double));
        sys->gamma_prev = prillm__calloc(M, sizeof(double));
        sys->changed_users = prillm__calloc(N, sizeof(int));
        sys->changed_provs = prillm__calloc(M, sizeof(int));
        if (!sys->pattern || !sys->d_prev || !sys->gamma_prev || !sys->changed_users || !sys->changed_provs) return -1;
        sys->pattern_synced = 1; /* no flag set: none outside the CSR's pairs */
    }
    sys->incremental = 1;
    sys->residual_limit = UPDATED_RESIDUAL_LIMIT;
    return 0;
}

void prillm__system_invalidate(PrillmActiveSystem *sys) { sys->factored = 0; }

/* L L^T + sigma x x^T for the lower Cholesky factor L (column-major, dim x
 * dim), sigma = +1 (update) or -1 (downdate), by the rotations of the
 * classical algorithm. x is destroyed. Returns 1 when a downdate would leave
 * a pivot too small to trust (the caller refactors from scratch). */
PRILLM__VECTOR_CLONES static int cholesky_rank_one(double *L, int dim, double *x, int sigma) {
    int first = 0;
    while (first < dim && x[first] == 0) first++;
    for (int k = first; k < dim; k++) {
        double *col = L + (size_t)k * (size_t)dim;
        double lkk = col[k], xk = x[k];
        if (xk == 0) continue;
        double r2 = sigma > 0 ? lkk * lkk + xk * xk : lkk * lkk - xk * xk;
        if (!(r2 > 1e-10 * lkk * lkk)) return 1;
        double r = sqrt(r2), c = r / lkk, sn = xk / lkk;
        /* one division per column: the loop multiplies by 1 / c (with a
         * division per entry, tencent/hy3's walk on the calibrated market
         * took about 5% longer) */
        double inv_c = lkk / r, signed_sn = sigma * sn;
        col[k] = r;
        for (int i = k + 1; i < dim; i++) {
            double lik = (col[i] + signed_sn * x[i]) * inv_c;
            x[i] = c * x[i] - sn * lik;
            col[i] = lik;
        }
    }
    return 0;
}

/* Sets or clears the pattern's flags at the CSR's pairs. */
static void mark_pairs(PrillmActiveSystem *sys, unsigned char value) {
    size_t M = (size_t)sys->m;
    for (int i = 0; i < sys->n; i++)
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
            sys->pattern[(size_t)i * M + (size_t)sys->user_prov[q]] = value;
}

/* Before a factorisation from scratch of active rebuilds the CSR: the
 * remembered flags are cleared where the old CSR has its pairs (all of
 * them, unless they are known to be exactly those), so that
 * remember_pattern need only set the new pairs. A copy of the n x m flags
 * (5 MB at 10000 x 500) cost each of a cold solve's first rounds about a
 * pass over the costs. */
static void forget_pattern(PrillmActiveSystem *sys, const unsigned char *active) {
    if (!sys->incremental || active == sys->pattern) return;
    size_t M = (size_t)sys->m;
    if (sys->pattern_synced && sys->hint_rows && sys->csr_valid) {
        /* only the told rows change (factor_from_scratch rebuilds them) */
        for (int r = 0; r < sys->hint_row_count; r++) memset(sys->pattern + (size_t)sys->hint_rows[r] * M, 0, M);
        sys->pattern_rows_only = 1;
    } else if (sys->pattern_synced) {
        mark_pairs(sys, 0);
    } else {
        memset(sys->pattern, 0, (size_t)sys->n * M);
    }
    sys->pattern_synced = 0;
}

/* After a successful factorisation from scratch of active (its CSR built,
 * the flags cleared by forget_pattern unless active is the pattern). */
static void remember_pattern(PrillmActiveSystem *sys, const unsigned char *active) {
    if (active != sys->pattern && sys->pattern_rows_only) {
        size_t M = (size_t)sys->m;
        for (int r = 0; r < sys->hint_row_count; r++) {
            int i = sys->hint_rows[r];
            for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
                sys->pattern[(size_t)i * M + (size_t)sys->user_prov[q]] = 1;
        }
    } else if (active != sys->pattern) {
        mark_pairs(sys, 1);
    }
    sys->pattern_rows_only = 0;
    sys->pattern_synced = 1;
    memcpy(sys->d_prev, sys->d, (size_t)sys->n * sizeof(double));
    memcpy(sys->gamma_prev, sys->gamma, (size_t)sys->m * sizeof(double));
}

/* Applies to the factor the change from the remembered pattern to active.
 * Returns 0 done, 2 not possible (too many changes, the system's shape
 * changed, or a downdate failed): the caller refactors from scratch;
 * -1 out of memory. */
static int update_factor(PrillmActiveSystem *sys, const unsigned char *active) {
    int n = sys->n, m = sys->m;
    size_t M = (size_t)m;
    int n_users = 0, n_provs = 0, pairs = 0;
    int *users = sys->changed_users, *provs = sys->changed_provs;
    unsigned char *prov_seen = (unsigned char *)sys->work_m; /* m bytes of scratch */
    memset(prov_seen, 0, M);
    if (sys->hint_pairs) {
        /* the changed pairs among the hinted ones, in pair order (the order
         * a scan of every flag meets them, so the updates are the same) */
        long changed[MAX_CHANGED_PAIRS + 1];
        for (long a = 0; a < sys->hint_count; a++) {
            long pair = sys->hint_pairs[a];
            if (!active[pair] == !sys->pattern[pair]) continue;
            int seen = 0;
            for (int q = 0; q < pairs; q++) seen |= changed[q] == pair;
            if (seen) continue;
            if (pairs == MAX_CHANGED_PAIRS) return 2;
            int q = pairs++;
            while (q > 0 && changed[q - 1] > pair) {
                changed[q] = changed[q - 1];
                q--;
            }
            changed[q] = pair;
        }
        for (int q = 0; q < pairs; q++) {
            int i = (int)(changed[q] / (long)m), j = (int)(changed[q] % (long)m);
            if (n_users == 0 || users[n_users - 1] != i) users[n_users++] = i;
            if (!prov_seen[j]) {
                prov_seen[j] = 1;
                provs[n_provs++] = j;
            }
        }
    }
    /* every row, or (hint_rows) the rows that may have changed: the same
     * rows met in the same order, the others being equal */
    int n_rows = sys->hint_pairs ? 0 : sys->hint_rows ? sys->hint_row_count : n;
    for (int r = 0; r < n_rows; r++) {
        int i = sys->hint_rows ? sys->hint_rows[r] : r;
        const unsigned char *now = active + (size_t)i * M, *was = sys->pattern + (size_t)i * M;
        if (memcmp(now, was, M) == 0) continue;
        users[n_users++] = i;
        for (int j = 0; j < m; j++) {
            if (!now[j] == !was[j]) continue;
            if (++pairs > MAX_CHANGED_PAIRS) return 2;
            if (!prov_seen[j]) {
                prov_seen[j] = 1;
                provs[n_provs++] = j;
            }
        }
    }
    if (pairs == 0) return 0;
    if (sys->updates + 2 * pairs + n_users > REFRESH_UPDATES) return 2;
    int was_woodbury = sys->woodbury, was_dim = sys->dim;
    sys->pattern_synced = 0; /* the CSR becomes active's; the flags follow on success */
    if (sys->hint_pairs || sys->hint_rows ? rebuild_rows(sys, active, users, n_users) : build_pattern(sys, active)) {
        sys->factored = 0; /* the pattern arrays are half rewritten */
        return -1;
    }
    int n_sys, m_act;
    double user_sq, prov_sq;
    pattern_weights(sys, &m_act, &n_sys, &user_sq, &prov_sq);
    int woodbury = m_act <= n_sys, dim = woodbury ? m_act : n_sys;
    if (woodbury != was_woodbury || dim != was_dim || dim == 0) return 2;
    /* the rows and columns of the factor must mean the same as before */
    if (woodbury) {
        for (int q = 0; q < n_provs; q++) {
            int j = provs[q];
            if ((sys->prov_start[j + 1] > sys->prov_start[j]) != (sys->index_of[j] >= 0)) return 2;
        }
        for (int j = 0; j < m; j++)
            if (sys->index_of[j] >= 0) sys->member[sys->index_of[j]] = j; /* build_pattern borrowed member */
    } else {
        for (int q = 0; q < n_users; q++) {
            int i = users[q];
            if ((sys->user_start[i + 1] > sys->user_start[i]) != (sys->index_of[i] >= 0)) return 2;
        }
        for (int i = 0; i < n; i++)
            if (sys->index_of[i] >= 0) sys->member[sys->index_of[i]] = i;
    }
    double *L = sys->factor, *x = sys->work_n;
    /* updates first, downdates last: every intermediate matrix then lies
     * between the old and the new one, both positive definite */
    for (int sigma = 1; sigma >= -1; sigma -= 2) {
        if (woodbury) {
            /* K = Gamma^-1 - sum_i u_i u_i^T / d_i over active providers */
            for (int q = 0; q < n_provs; q++) {
                int j = provs[q];
                double delta = 1.0 / sys->gamma[j] - 1.0 / sys->gamma_prev[j];
                if (delta * sigma <= 0) continue;
                memset(x, 0, (size_t)dim * sizeof(double));
                x[sys->index_of[j]] = sqrt(fabs(delta));
                if (cholesky_rank_one(L, dim, x, sigma)) return 2;
            }
            for (int q = 0; q < n_users; q++) {
                int i = users[q];
                /* +old term (taken back), -new term (put in) */
                const unsigned char *row = sigma > 0 ? sys->pattern + (size_t)i * M : active + (size_t)i * M;
                double di = sigma > 0 ? sys->d_prev[i] : sys->d[i];
                if (!(di > 0)) continue;
                memset(x, 0, (size_t)dim * sizeof(double));
                double w = 1.0 / sqrt(di);
                for (int j = 0; j < m; j++)
                    if (row[j]) x[sys->index_of[j]] = w;
                if (cholesky_rank_one(L, dim, x, sigma)) return 2;
            }
        } else {
            /* M = diag(d) - sum_j gamma_j v_j v_j^T over users in the system */
            for (int q = 0; q < n_users; q++) {
                int i = users[q];
                double delta = sys->d[i] - sys->d_prev[i];
                if (delta * sigma <= 0) continue;
                memset(x, 0, (size_t)dim * sizeof(double));
                x[sys->index_of[i]] = sqrt(fabs(delta));
                if (cholesky_rank_one(L, dim, x, sigma)) return 2;
            }
            for (int q = 0; q < n_provs; q++) {
                int j = provs[q];
                double g = sigma > 0 ? sys->gamma_prev[j] : sys->gamma[j];
                memset(x, 0, (size_t)dim * sizeof(double));
                double v = sqrt(g);
                int any = 0;
                if (sigma > 0) {
                    for (int i = 0; i < n; i++)
                        if (sys->pattern[(size_t)i * M + (size_t)j]) x[sys->index_of[i]] = v, any = 1;
                } else {
                    for (int k = sys->prov_start[j]; k < sys->prov_start[j + 1]; k++)
                        x[sys->index_of[sys->prov_user[k]]] = v, any = 1;
                }
                if (any && cholesky_rank_one(L, dim, x, sigma)) return 2;
            }
        }
    }
    sys->updates += 2 * pairs + n_users;
    for (int q = 0; q < n_users; q++) {
        int i = users[q];
        memcpy(sys->pattern + (size_t)i * M, active + (size_t)i * M, M);
        sys->d_prev[i] = sys->d[i];
    }
    sys->pattern_synced = 1;
    for (int q = 0; q < n_provs; q++) sys->gamma_prev[provs[q]] = sys->gamma[provs[q]];
    sys->updated_factorisations++;
    return 0;
}

int prillm__system_factor_changed(PrillmActiveSystem *sys, const unsigned char *active, const long *pairs,
                                  long count) {
    sys->hint_pairs = pairs;
    sys->hint_count = count;
    int rc = prillm__system_factor(sys, active);
    sys->hint_pairs = NULL;
    return rc;
}

int prillm__system_factor_rows(PrillmActiveSystem *sys, const unsigned char *active, const int *rows, int count) {
    sys->hint_rows = rows;
    sys->hint_row_count = count;
    int rc = prillm__system_factor(sys, active);
    sys->hint_rows = NULL;
    return rc;
}

int prillm__system_factor(PrillmActiveSystem *sys, const unsigned char *active) {
    if (sys->incremental && sys->factored) {
        int rc = update_factor(sys, active);
        if (rc != 2) return rc;
    }
    forget_pattern(sys, active);
    int rc = factor_from_scratch(sys, active);
    if (sys->incremental) {
        sys->full_factorisations++;
        sys->updates = 0;
        sys->factored = rc == 0;
        if (rc == 0) remember_pattern(sys, active);
    }
    sys->pattern_rows_only = 0;
    return rc;
}

/* r from the packed costs (pair_cost, this pattern's) */
static void rhs_from_packed(const PrillmActiveSystem *sys, const double *demand, double *r);

#define GATHER_AHEAD 4

static void gather_row(PrillmActiveSystem *sys, const double *c, int i) {
    const double *row = c + (size_t)i * (size_t)sys->m;
    for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) sys->pair_cost[q] = row[sys->user_prov[q]];
}

void prillm__system_rhs(PrillmActiveSystem *sys, const double *c, const double *demand, double *r) {
    /* the pattern's costs, read row by row (each row's pairs ascending)
     * once; the sums then take them from the packed copy in the order
     * they always had (by provider, users ascending; by user), so the
     * numbers are the same bit for bit */
    for (int i = 0; i < sys->n; i++) {
        /* a cache miss a pair: asked for a few rows ahead */
        int ahead = i + GATHER_AHEAD;
        if (ahead < sys->n)
            for (int q = sys->user_start[ahead]; q < sys->user_start[ahead + 1]; q++)
                PRILLM__PREFETCH(c + (size_t)ahead * (size_t)sys->m + (size_t)sys->user_prov[q]);
        gather_row(sys, c, i);
    }
    sys->cost_source = c;
    sys->stale_count = sys->stale_rows || (sys->stale_rows = malloc((size_t)sys->n * sizeof(int))) ? 0 : -1;
    rhs_from_packed(sys, demand, r);
}

void prillm__system_rhs_moved(PrillmActiveSystem *sys, const double *c, int column, const double *demand,
                              double *r) {
    if (c != sys->cost_source || sys->stale_count < 0) {
        prillm__system_rhs(sys, c, demand, r);
        return;
    }
    for (int k = 0; k < sys->stale_count; k++) gather_row(sys, c, sys->stale_rows[k]);
    sys->stale_count = 0;
    if (column >= 0)
        for (int q = sys->prov_start[column]; q < sys->prov_start[column + 1]; q++)
            sys->pair_cost[sys->prov_pair[q]] = c[(size_t)sys->prov_user[q] * (size_t)sys->m + (size_t)column];
    rhs_from_packed(sys, demand, r);
}

static void rhs_from_packed(const PrillmActiveSystem *sys, const double *demand, double *r) {
    int n = sys->n, m = sys->m;
    const double *pair_cost = sys->pair_cost;
    double *colsum = sys->work_m;
    for (int j = 0; j < m; j++) {
        double s = 0;
        for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++) s += pair_cost[sys->prov_pair[q]];
        colsum[j] = sys->gamma[j] * s;
    }
    for (int i = 0; i < n; i++) {
        if (sys->user_start[i + 1] == sys->user_start[i]) continue;
        double s = demand ? demand[i] : 0.0;
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            s += sys->beta[j] * pair_cost[q] - colsum[j];
        }
        r[i] = s;
    }
}

/* The sums below keep prillm__system_rhs's and _flows' order and add the
 * same terms but the zeros (x + 0 is x), so the numbers are the same. */
void prillm__system_rhs_column(const PrillmActiveSystem *sys, int column, double value, double *r) {
    int n = sys->n;
    double s = 0;
    for (int q = sys->prov_start[column]; q < sys->prov_start[column + 1]; q++) s += value;
    double colsum = sys->gamma[column] * s, term = sys->beta[column] * value - colsum;
    for (int i = 0; i < n; i++) {
        int first = sys->user_start[i], last = sys->user_start[i + 1];
        if (last == first) continue;
        double sum = 0.0;
        for (int q = first; q < last; q++)
            if (sys->user_prov[q] == column) sum += term;
        r[i] = sum;
    }
}

void prillm__system_flows_column(const PrillmActiveSystem *sys, int column, double value, const double *nu, double *F,
                                 double *pair_flow) {
    int n = sys->n, m = sys->m;
    for (int j = 0; j < m; j++) {
        double s = 0;
        double c = j == column ? value : 0.0;
        for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++) s += nu[sys->prov_user[q]] - c;
        F[j] = sys->gamma[j] * s;
    }
    for (int i = 0; i < n; i++)
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            pair_flow[q] = sys->beta[j] * (nu[i] - (j == column ? value : 0.0)) - F[j];
        }
}

/* The solves below take one or two right-hand sides at once (a pricing
 * piece solves for the flows and for their slopes in the price with the
 * same factor): one pass over the pattern serves both, and each vector
 * gets exactly the operations, in the order, that it would get alone. */
#define MAX_RHS 2

/* y[v] = M x[v] over users in the system, for v < k. */
static void apply_k(const PrillmActiveSystem *sys, int k, const double *const *x, double *const *y) {
    int n = sys->n, m = sys->m;
    double *X[MAX_RHS] = {sys->work_m, sys->work_m2};
    for (int j = 0; j < m; j++) {
        double s[MAX_RHS] = {0, 0};
        for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++)
            for (int v = 0; v < k; v++) s[v] += x[v][sys->prov_user[q]];
        for (int v = 0; v < k; v++) X[v][j] = sys->gamma[j] * s[v];
    }
    for (int i = 0; i < n; i++) {
        if (sys->user_start[i + 1] == sys->user_start[i]) continue;
        double s[MAX_RHS];
        for (int v = 0; v < k; v++) s[v] = sys->d[i] * x[v][i];
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++)
            for (int v = 0; v < k; v++) s[v] -= X[v][sys->user_prov[q]];
        for (int v = 0; v < k; v++) y[v][i] = s[v];
    }
}

void prillm__system_apply(const PrillmActiveSystem *sys, const double *x, double *y) {
    apply_k(sys, 1, &x, &y);
}

static void solve_once_k(PrillmActiveSystem *sys, int k, const double *const *r, double *const *nu) {
    int n = sys->n, m = sys->m, dim = sys->dim;
    double *z[MAX_RHS] = {sys->work_m, sys->work_m2};
    double *y[MAX_RHS] = {sys->work_n2, sys->work_n4};
    if (sys->woodbury) {
        for (int i = 0; i < n; i++)
            if (sys->user_start[i + 1] > sys->user_start[i])
                for (int v = 0; v < k; v++) y[v][i] = r[v][i] / sys->d[i];
        for (int j = 0; j < m; j++) {
            int row = sys->index_of[j];
            if (row < 0) continue;
            double s[MAX_RHS] = {0, 0};
            for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++)
                for (int v = 0; v < k; v++) s[v] += y[v][sys->prov_user[q]];
            for (int v = 0; v < k; v++) z[v][row] = s[v];
        }
        for (int v = 0; v < k; v++) cholesky_solve(sys->factor, dim, z[v]);
        for (int i = 0; i < n; i++) {
            if (sys->user_start[i + 1] == sys->user_start[i]) continue;
            double s[MAX_RHS] = {0, 0};
            for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
                int row = sys->index_of[sys->user_prov[q]];
                for (int v = 0; v < k; v++) s[v] += z[v][row];
            }
            for (int v = 0; v < k; v++) nu[v][i] = y[v][i] + s[v] / sys->d[i];
        }
    } else {
        for (int v = 0; v < k; v++) {
            double *b = y[v];
            for (int row = 0; row < dim; row++) b[row] = r[v][sys->member[row]];
            cholesky_solve(sys->factor, dim, b);
            for (int row = 0; row < dim; row++) nu[v][sys->member[row]] = b[row];
        }
    }
}

/* Largest residual of M nu = r relative to the size of its terms, for each
 * of the k systems (worst[v]). */
static void relative_residuals(PrillmActiveSystem *sys, int k, const double *const *r, const double *const *nu,
                               double *worst) {
    int n = sys->n;
    double *res[MAX_RHS] = {sys->work_n, sys->work_n5};
    apply_k(sys, k, nu, res);
    for (int v = 0; v < k; v++) {
        double nu_max = 0;
        worst[v] = 0;
        for (int i = 0; i < n; i++)
            if (sys->user_start[i + 1] > sys->user_start[i] && fabs(nu[v][i]) > nu_max) nu_max = fabs(nu[v][i]);
        for (int i = 0; i < n; i++) {
            if (sys->user_start[i + 1] == sys->user_start[i]) continue;
            /* |M| has row sums at most 2 d_i */
            double scale = fabs(r[v][i]) + 2.0 * sys->d[i] * nu_max;
            double rel = fabs(r[v][i] - res[v][i]) / (scale > 0 ? scale : 1.0);
            if (rel > worst[v]) worst[v] = rel;
        }
    }
}


static void solve_refined_k(PrillmActiveSystem *sys, int k, const double *const *r, double *const *nu);

/* Solves the k systems; an updated factor whose solution of system v fails
 * the residual check is replaced by a fresh one, and systems v.. are solved
 * again with it (as k calls of one system each would). */
static void solve_k(PrillmActiveSystem *sys, int k, const double *const *r, double *const *nu) {
    solve_refined_k(sys, k, r, nu);
    if (!(sys->incremental && sys->updates > 0)) return;
    double worst[MAX_RHS];
    relative_residuals(sys, k, r, (const double *const *)nu, worst);
    for (int v = 0; v < k; v++) {
        if (!(worst[v] > sys->residual_limit)) continue;
        /* the updates have lost digits: refactor the same pattern */
        sys->refactorisations++;
        sys->updates = 0;
        sys->pattern_synced = 0; /* until the CSR is rebuilt from it */
        if (factor_from_scratch(sys, sys->pattern) == 0) {
            sys->full_factorisations++;
            remember_pattern(sys, sys->pattern);
            solve_refined_k(sys, k - v, r + v, nu + v);
        } else {
            sys->factored = 0;
        }
        return;
    }
}

void prillm__system_solve(PrillmActiveSystem *sys, const double *r, double *nu) { solve_k(sys, 1, &r, &nu); }

void prillm__system_solve2(PrillmActiveSystem *sys, const double *r, double *nu, const double *r1, double *nu1) {
    const double *rs[MAX_RHS] = {r, r1};
    double *nus[MAX_RHS] = {nu, nu1};
    solve_k(sys, 2, rs, nus);
}

static void solve_refined_k(PrillmActiveSystem *sys, int k, const double *const *r, double *const *nu) {
    int n = sys->n;
    solve_once_k(sys, k, r, nu);
    /* One step of refinement: the Woodbury form subtracts nearly equal terms
     * when a provider has many captive users, and this recovers the digits. */
    double *res[MAX_RHS] = {sys->work_n, sys->work_n5};
    double *delta[MAX_RHS] = {sys->work_n3, sys->work_n6};
    apply_k(sys, k, (const double *const *)nu, res);
    for (int v = 0; v < k; v++)
        for (int i = 0; i < n; i++)
            if (sys->user_start[i + 1] > sys->user_start[i]) res[v][i] = r[v][i] - res[v][i];
    solve_once_k(sys, k, (const double *const *)res, delta);
    for (int v = 0; v < k; v++)
        for (int i = 0; i < n; i++)
            if (sys->user_start[i + 1] > sys->user_start[i]) nu[v][i] += delta[v][i];
}

void prillm__system_flows(const PrillmActiveSystem *sys, const double *nu, double *F, double *pair_flow) {
    int n = sys->n, m = sys->m;
    const double *pair_cost = sys->pair_cost;
    for (int j = 0; j < m; j++) {
        double s = 0;
        for (int q = sys->prov_start[j]; q < sys->prov_start[j + 1]; q++)
            s += nu[sys->prov_user[q]] - pair_cost[sys->prov_pair[q]];
        F[j] = sys->gamma[j] * s;
    }
    for (int i = 0; i < n; i++)
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int j = sys->user_prov[q];
            pair_flow[q] = sys->beta[j] * (nu[i] - pair_cost[q]) - F[j];
        }
}
