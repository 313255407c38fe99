/*
 * pMPEC baseline (solvers.md section 3): the Scholtes-relaxed MPEC that
 * Pyomo's mpec_nlp meta-solver builds (transformation mpec.simple_nonlinear,
 * one Ipopt solve at epsilon = epsilon_final = 1e-7 with the defaults; read
 * in Pyomo's pyomo/mpec/plugins/{mpec1,solver1}.py and complementarity.py,
 * unchanged at 6.1.2). How PriLLM wrote its model is a reconstruction:
 *
 *   max  (p - cost) sum_i f_is
 *   s.t. sum_j f_ij = D_i,
 *        complements(f_ij >= 0, g_ij(f, p) - nu_i >= 0),
 *        g_ij = c_ij(p) + a_j (F_j + f_ij),  0 <= p <= p_max,
 *
 * which simple_nonlinear turns into
 *   v_ij = f_ij, v_ij >= 0, g_ij - nu_i >= 0, (g_ij - nu_i) v_ij <= eps.
 *
 * Differences from a literal Pyomo model, none of which changes the
 * feasible set or the KKT points:
 *  - v is not a separate variable: v_ij = f_ij is a linear equality that
 *    Ipopt satisfies exactly after its first full step, so the bound goes on
 *    f itself (Ipopt's bound handling is the same for either variable).
 *  - The provider loads F_j are variables tied by F_j - sum_i f_ij = 0, as
 *    in the project's Ipopt equilibrium solver: written out in f, each g_ij
 *    involves every user of provider j and the Hessian of the products has a
 *    dense n x n block per provider; with F it has 3 entries per pair.
 *  - Users without demand are left out (their flows are 0).
 *  - Scaling: flows are divided by s, a power of two at or above the
 *    largest demand, so demands are at most 1 whatever the token units
 *    (a_j becomes a_j s, costs and prices keep their units). epsilon bounds
 *    the scaled products (g_ij - nu_i) f_ij / s, in cost units: the same
 *    number means the same relative slack on any market.
 *  - Start: Pyomo would send uninitialised variables as 0 (Ipopt then pushes
 *    them inside their bounds), a point far from feasible. Here the NLP
 *    starts at p = start_price with the exact equilibrium there (f, F, and
 *    nu = the users' multipliers), a feasible point of the relaxed MPEC, so
 *    pmpec is the same kind of local method from the same start as spiter
 *    and smooth, and its result does not depend on Ipopt's restoration
 *    phase.
 * Ipopt runs with its defaults (tol 1e-8, max_iter 3000, monotone mu) as
 * Pyomo would, silenced, without reading ipopt.opt, with the deadline as
 * max_cpu_time and checked on the wall clock at every iteration.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pricing_baselines.h"
#include "pricing_pmpec.h"

/* What every call starts with, Ipopt or not: outputs marked unsolved (ipopt
 * status 1000, NaN flow scale, flows and nu), then the baselines' checks. */
static PrillmErrorCode pmpec_begin(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, double *flows,
                                   double *nu, double *flow_scale, int *ipopt_status, PrillmError *err) {
    if (ipopt_status) *ipopt_status = 1000;
    if (flow_scale) *flow_scale = NAN;
    PrillmErrorCode rc = prillm__price_baseline_begin("pmpec", problem, out, err);
    if (rc) return rc;
    const PrillmMarket *mk = problem->market;
    if (flows) prillm__fill_nan(flows, (size_t)mk->n_users * mk->n_providers);
    if (nu) prillm__fill_nan(nu, (size_t)mk->n_users);
    return PRILLM_OK;
}

#if PRILLM_HAVE_IPOPT

#include "ipopt_options.h"

typedef struct {
    PrillmIpoptProgress progress; /* first: the intermediate callback's */
    int n, m, target;
    double w_price, cost;
    const double *c; /* [n*m] cost offsets, the target's price left out */
    const double *a; /* [m] scaled slopes                                */
} PmpecData;

/* variable layout: p, f (n*m, row-major), F (m), nu (n) */
#define VAR_F(d, k) (1 + (k))
#define VAR_LOAD(d, j) (1 + (d)->n * (d)->m + (j))
#define VAR_NU(d, i) (1 + (d)->n * (d)->m + (d)->m + (i))

static double pmpec_gap(const PmpecData *d, const double *x, int i, int j) {
    int k = i * d->m + j;
    return d->c[k] + (j == d->target ? d->w_price * x[0] : 0.0) + d->a[j] * (x[VAR_LOAD(d, j)] + x[VAR_F(d, k)]) -
           x[VAR_NU(d, i)];
}

static Bool pmpec_eval_f(Index nv, Number *x, Bool new_x, Number *obj, UserDataPtr user) {
    const PmpecData *d = user;
    (void)nv;
    (void)new_x;
    *obj = -(x[0] - d->cost) * x[VAR_LOAD(d, d->target)];
    return TRUE;
}

static Bool pmpec_eval_grad_f(Index nv, Number *x, Bool new_x, Number *grad, UserDataPtr user) {
    const PmpecData *d = user;
    (void)new_x;
    memset(grad, 0, (size_t)nv * sizeof *grad);
    grad[0] = -x[VAR_LOAD(d, d->target)];
    grad[VAR_LOAD(d, d->target)] = -(x[0] - d->cost);
    return TRUE;
}

/* rows: demand (n), load definition (m), gap g - nu >= 0 (n*m), product
 * (g - nu) f <= eps (n*m) */
static Bool pmpec_eval_g(Index nv, Number *x, Bool new_x, Index nr, Number *g, UserDataPtr user) {
    const PmpecData *d = user;
    int n = d->n, m = d->m, nm = n * m;
    (void)nv;
    (void)new_x;
    (void)nr;
    for (int j = 0; j < m; j++) g[n + j] = x[VAR_LOAD(d, j)];
    for (int i = 0; i < n; i++) {
        g[i] = 0;
        for (int j = 0; j < m; j++) {
            int k = i * m + j;
            double f = x[VAR_F(d, k)], gap = pmpec_gap(d, x, i, j);
            g[i] += f;
            g[n + j] -= f;
            g[n + m + k] = gap;
            g[n + m + nm + k] = gap * f;
        }
    }
    return TRUE;
}

/* Entry order (the structure and value passes walk the same loops): demand
 * rows, load rows (F_j then its users), then per pair the gap row
 * [f, F, nu, (p)] and the product row [f, F, nu, (p)]. */
static Bool pmpec_eval_jac_g(Index nv, Number *x, Bool new_x, Index nr, Index nele, Index *iRow, Index *jCol,
                             Number *values, UserDataPtr user) {
    const PmpecData *d = user;
    int n = d->n, m = d->m, nm = n * m, e = 0;
    (void)nv;
    (void)new_x;
    (void)nr;
    (void)nele;
#define ENTRY(row, col, value)                                                                                         \
    do {                                                                                                               \
        if (values) values[e] = (value);                                                                               \
        else {                                                                                                         \
            iRow[e] = (row);                                                                                           \
            jCol[e] = (col);                                                                                           \
        }                                                                                                              \
        e++;                                                                                                           \
    } while (0)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) ENTRY(i, VAR_F(d, i * m + j), 1.0);
    for (int j = 0; j < m; j++) {
        ENTRY(n + j, VAR_LOAD(d, j), 1.0);
        for (int i = 0; i < n; i++) ENTRY(n + j, VAR_F(d, i * m + j), -1.0);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            int k = i * m + j, gap_row = n + m + k, prod_row = n + m + nm + k;
            double f = values ? x[VAR_F(d, k)] : 0, gap = values ? pmpec_gap(d, x, i, j) : 0;
            ENTRY(gap_row, VAR_F(d, k), d->a[j]);
            ENTRY(gap_row, VAR_LOAD(d, j), d->a[j]);
            ENTRY(gap_row, VAR_NU(d, i), -1.0);
            if (j == d->target) ENTRY(gap_row, 0, d->w_price);
            ENTRY(prod_row, VAR_F(d, k), gap + d->a[j] * f);
            ENTRY(prod_row, VAR_LOAD(d, j), d->a[j] * f);
            ENTRY(prod_row, VAR_NU(d, i), -f);
            if (j == d->target) ENTRY(prod_row, 0, d->w_price * f);
        }
    return TRUE;
}

/* Lower triangle of obj_factor * (-(p - cost) F_s) + sum lambda_k (gap f)_k:
 * (F_s, p) from the objective; per pair (f, f) 2 a_j, (F_j, f) a_j,
 * (nu_i, f) -1, and (f_is, p) w_price on the target's column. The gap rows
 * are linear and add nothing. */
static Bool pmpec_eval_h(Index nv, Number *x, Bool new_x, Number obj_factor, Index nr, Number *lambda,
                         Bool new_lambda, Index nele, Index *iRow, Index *jCol, Number *values, UserDataPtr user) {
    const PmpecData *d = user;
    int n = d->n, m = d->m, nm = n * m, e = 0;
    (void)nv;
    (void)x;
    (void)new_x;
    (void)nr;
    (void)new_lambda;
    (void)nele;
    ENTRY(VAR_LOAD(d, d->target), 0, -obj_factor);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            int k = i * m + j;
            double l = values ? lambda[n + m + nm + k] : 0;
            ENTRY(VAR_F(d, k), VAR_F(d, k), 2 * d->a[j] * l);
            ENTRY(VAR_LOAD(d, j), VAR_F(d, k), d->a[j] * l);
            ENTRY(VAR_NU(d, i), VAR_F(d, k), -l);
            if (j == d->target) ENTRY(VAR_F(d, k), 0, d->w_price * l);
        }
#undef ENTRY
    return TRUE;
}

/* The exact equilibrium at the start price as the NLP's starting point.
 * Returns 0, or 1 if the equilibrium did not solve (then a uniform split
 * with nu at each user's cheapest marginal cost is used). */
static int pmpec_start(const PrillmPriceProblem *problem, const int *user, int n, double s, const PmpecData *d,
                       double *x, long *solves, PrillmError *err, PrillmErrorCode *rc) {
    const PrillmMarket *mk = problem->market;
    int m = mk->n_providers;
    PrillmEquilibriumSolver *solver = NULL;
    int ok = 0;
    *rc = prillm_equilibrium_setup(&solver, mk, NULL, err);
    if (!*rc) *rc = prillm_equilibrium_update_price(solver, problem->target, problem->start_price, err);
    if (!*rc) *rc = prillm_equilibrium_solve(solver, err);
    if (!*rc) {
        ++*solves;
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status == PRILLM_STATUS_SOLVED || eq->info.status == PRILLM_STATUS_INACCURATE) {
            ok = 1;
            for (int r = 0; r < n; r++) {
                for (int j = 0; j < m; j++) x[VAR_F(d, r * m + j)] = eq->flows[(size_t)user[r] * m + j] / s;
                x[VAR_NU(d, r)] = eq->lambda[user[r]];
            }
        }
    }
    prillm_equilibrium_cleanup(solver);
    if (*rc) return 1;
    if (!ok)
        for (int r = 0; r < n; r++)
            for (int j = 0; j < m; j++) x[VAR_F(d, r * m + j)] = mk->demand[user[r]] / s / m;
    x[0] = problem->start_price;
    for (int j = 0; j < m; j++) {
        x[VAR_LOAD(d, j)] = 0;
        for (int r = 0; r < n; r++) x[VAR_LOAD(d, j)] += x[VAR_F(d, r * m + j)];
    }
    if (!ok)
        for (int r = 0; r < n; r++) {
            double lo = INFINITY;
            x[VAR_NU(d, r)] = 0;
            for (int j = 0; j < m; j++) lo = fmin(lo, pmpec_gap(d, x, r, j));
            x[VAR_NU(d, r)] = lo;
        }
    return !ok;
}

PrillmErrorCode prillm__pmpec_solve(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, double *flows,
                                    double *nu, double *flow_scale, int *ipopt_status, PrillmError *err) {
    PrillmErrorCode rc = pmpec_begin(problem, out, flows, nu, flow_scale, ipopt_status, err);
    if (rc) return rc;
    const PrillmMarket *mk = problem->market;
    const int m = mk->n_providers, s_idx = problem->target;
    int n = 0;
    double max_demand = 0;
    for (int i = 0; i < mk->n_users; i++)
        if (mk->demand[i] > 0) {
            n++;
            max_demand = fmax(max_demand, mk->demand[i]);
        }
    if (n == 0) {
        /* nobody has demand: profit 0 at every price, nothing to solve */
        out->price = problem->p_max; /* as odca's tie rule */
        out->model_profit = 0;
        out->status = PRILLM_STATUS_SOLVED;
        if (flows) memset(flows, 0, (size_t)mk->n_users * m * sizeof *flows);
        return PRILLM_OK;
    }
    /* Ipopt 3.11 counts in int; the KKT matrix has about 11 n m entries */
    if ((double)n * m * 12 + 4.0 * (n + m) > 2e9)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "pmpec: %d users x %d providers exceeds Ipopt's int index range",
                            n, m);
    if (prillm__price_past_deadline(problem)) return PRILLM_OK; /* failed: no time to start */
    int e2;
    frexp(max_demand, &e2);
    const double s = ldexp(1.0, e2);
    if (flow_scale) *flow_scale = s;
    const int nm = n * m, nv = 1 + nm + m + n, nr = n + m + 2 * nm;
    const int nele_jac = nm + (m + nm) + 2 * (3 * nm + n), nele_hess = 1 + 3 * nm + n;
    int *user = prillm__calloc((size_t)n, sizeof *user);
    double *c = prillm__calloc((size_t)nm, sizeof *c), *a = prillm__calloc((size_t)m, sizeof *a);
    double *x = prillm__calloc((size_t)nv, sizeof *x), *xl = prillm__calloc((size_t)nv, sizeof *xl);
    double *xu = prillm__calloc((size_t)nv, sizeof *xu), *gl = prillm__calloc((size_t)nr, sizeof *gl);
    double *gu = prillm__calloc((size_t)nr, sizeof *gu);
    IpoptProblem nlp = NULL;
    if (!user || !c || !a || !x || !xl || !xu || !gl || !gu) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "pmpec: out of memory for %d x %d", n, m);
        goto done;
    }
    for (int i = 0, r = 0; i < mk->n_users; i++)
        if (mk->demand[i] > 0) user[r++] = i;
    for (int j = 0; j < m; j++) a[j] = mk->w_congestion / mk->capacity[j] * s;
    for (int r = 0; r < n; r++)
        for (int j = 0; j < m; j++)
            c[r * m + j] = prillm__user_cost(mk, user[r], j, j == s_idx ? 0.0 : mk->price[j]);
    PmpecData data = {.n = n, .m = m, .target = s_idx, .w_price = mk->w_price, .cost = problem->cost,
                      .c = c, .a = a, .progress = {.deadline = problem->deadline}};
    pmpec_start(problem, user, n, s, &data, x, &out->equilibrium_solves, err, &rc);
    if (rc) goto done;

    /* 2e19 and beyond is "no bound" to Ipopt */
    for (int v = 0; v < nv; v++) {
        xl[v] = -2e19;
        xu[v] = 2e19;
    }
    xl[0] = 0;
    xu[0] = problem->p_max;
    for (int k = 0; k < nm; k++) xl[VAR_F(&data, k)] = 0;
    for (int r = 0; r < n; r++) gl[r] = gu[r] = mk->demand[user[r]] / s;
    for (int j = 0; j < m; j++) gl[n + j] = gu[n + j] = 0;
    for (int k = 0; k < nm; k++) {
        gl[n + m + k] = 0;
        gu[n + m + k] = 2e19;
        gl[n + m + nm + k] = -2e19;
        gu[n + m + nm + k] = problem->settings->epsilon;
    }
    nlp = prillm__ipopt_create(nv, xl, xu, nr, gl, gu, nele_jac, nele_hess, pmpec_eval_f, pmpec_eval_g,
                               pmpec_eval_grad_f, pmpec_eval_jac_g, pmpec_eval_h);
    if (!nlp) {
        rc = prillm__fail(err, PRILLM_ERR_SOLVER, "pmpec: Ipopt refused the problem (CreateIpoptProblem)");
        goto done;
    }
    const char *refused =
        prillm__ipopt_quiet(nlp, 0, problem->deadline > 0 ? fmax(problem->deadline - prillm__now(), 1e-3) : 0.0);
    if (refused) {
        rc = prillm__fail(err, PRILLM_ERR_SOLVER, "pmpec: Ipopt refused option %s", refused);
        goto done;
    }
    SetIntermediateCallback(nlp, prillm__ipopt_progress);
    enum ApplicationReturnStatus status = prillm__ipopt_solve(nlp, x, &data);
    if (ipopt_status) *ipopt_status = (int)status;
    out->iterations = data.progress.iterations;
    int finite = 1;
    for (int v = 0; v < nv; v++) finite &= isfinite(x[v]);
    /* statuses from -1 to 6 come back with Ipopt's last iterate; below are
     * setup errors and exceptions, with no meaningful point */
    if (!finite || (int)status < Maximum_CpuTime_Exceeded) goto done;
    /* Ipopt may leave a bound by its bound_relax_factor (1e-8 relative) */
    double p = fmin(fmax(x[0], 0.0), problem->p_max);
    out->price = p;
    out->model_profit = (x[0] - problem->cost) * x[VAR_LOAD(&data, s_idx)] * s;
    out->status = status == Solve_Succeeded ? PRILLM_STATUS_SOLVED : PRILLM_STATUS_INACCURATE;
    if (flows) {
        memset(flows, 0, (size_t)mk->n_users * m * sizeof *flows);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < m; j++) flows[(size_t)user[r] * m + j] = x[VAR_F(&data, r * m + j)] * s;
    }
    if (nu)
        for (int r = 0; r < n; r++) nu[user[r]] = x[VAR_NU(&data, r)];
done:
    prillm__ipopt_free(nlp);
    free(user);
    free(c);
    free(a);
    free(x);
    free(xl);
    free(xu);
    free(gl);
    free(gu);
    return rc;
}

#else /* !PRILLM_HAVE_IPOPT */

PrillmErrorCode prillm__pmpec_solve(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, double *flows,
                                    double *nu, double *flow_scale, int *ipopt_status, PrillmError *err) {
    PrillmErrorCode rc = pmpec_begin(problem, out, flows, nu, flow_scale, ipopt_status, err);
    if (rc) return rc;
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE,
                        "built without Ipopt: the pmpec pricing method needs it (the other methods do not)");
}

#endif

PrillmErrorCode prillm__price_pmpec(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err) {
    return prillm__pmpec_solve(problem, out, NULL, NULL, NULL, NULL, err);
}
