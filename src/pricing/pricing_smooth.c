/*
 * Smooth baseline (solvers.md section 4; PriLLM cites wu2021revenue, which
 * could not be identified, so this is the standard smoothing continuation
 * in its C-friendly form): the complementarity f_ij mu_ij = 0 of the users'
 * equilibrium is smoothed to (f_ij / s) mu_ij = tau, which is exactly the
 * central path of the equilibrium QP: the log-barrier problem of
 * pricing_smooth.h, strictly convex, with a unique interior solution
 * f_tau(p). The MPEC then collapses to the smooth 1-D problem
 *   max_p (p - cost) F_s,tau(p)
 * solved by a safeguarded search on its derivative from start_price, for
 * tau = tau_0 10^-k, k = 0..7, tau_0 = 0.1 |w_price| p_max (so the last tau
 * is 1e-8 of the price range in cost units), each stage warm-started at the
 * previous stage's price and flows.
 *
 * Newton on the barrier KKT system. The Hessian of the barrier objective
 * is block diagonal by provider, a_j (I + 11^T) + diag(tau / f^2) on the
 * provider's users, so each block inverts in closed form
 * (Sherman-Morrison) and the step reduces to the users' multipliers:
 *   S = A H^-1 A^T = diag(g) - V V^T,   g_i = sum_j u_ij,
 *   V_ij = u_ij sqrt(rho_j),  u_ij = 1 / (a_j + tau / f_ij^2),
 *   rho_j = a_j / (1 + a_j sum_i u_ij),
 * factored as an n x n Cholesky, or through the Woodbury identity with the
 * m x m capacitance I - V^T diag(g)^-1 V (SPD because S is) when m < n.
 * The demand rows stay satisfied (the step lies in their null space, and
 * each row is renormalised against round-off); a fraction-to-boundary rule
 * keeps f > 0 and an Armijo backtrack on the convex barrier objective
 * makes the iteration globally convergent.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pricing_baselines.h"
#include "pricing_smooth.h"

#define BARRIER_MAX_NEWTON 200

struct PrillmBarrier {
    int n_users, n, m, target;
    int *user;             /* [n] market index of each user with demand   */
    double s, w_price;
    double *c;             /* [n*m] cost offsets, target column at price 0 */
    double *a;             /* [m] congestion slopes times s                 */
    double *D;             /* [n] demands / s                               */
    double *f;             /* [n*m] current interior point, scaled          */
    double *df;            /* [n*m] d f / d price at the last solve         */
    double price;          /* of the current point (NaN: none yet)          */
    double tau;
    int woodbury, k;       /* factor the m x m capacitance; its dimension   */
    /* scratch */
    double *r, *u, *V, *x, *trial, *F, *t, *rho, *col, *g, *q, *nu, *w, *S;
};

PrillmErrorCode prillm__barrier_setup(PrillmBarrier **out, const PrillmMarket *mk, int target, PrillmError *err) {
    *out = NULL;
    int n = 0, m = mk->n_providers;
    double max_demand = 0;
    for (int i = 0; i < mk->n_users; i++)
        if (mk->demand[i] > 0) {
            n++;
            if (mk->demand[i] > max_demand) max_demand = mk->demand[i];
        }
    int k = n < m ? n : m;
    double flops = (double)n * m * k + (double)k * k * k / 3;
    if (flops > PRILLM_BARRIER_MAX_STEP_FLOPS)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE,
                            "smooth: %d users with demand x %d providers needs %.3g flops per Newton step "
                            "(limit %.3g, about 10^3 steps per run)",
                            n, m, flops, PRILLM_BARRIER_MAX_STEP_FLOPS);
    PrillmBarrier *b = prillm__calloc(1, sizeof *b);
    if (!b) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "smooth: out of memory");
    size_t nm = (size_t)n * m, nn = (size_t)(n > 0 ? n : 1), mm = (size_t)(m > 0 ? m : 1), kk = (size_t)k * k + 1;
    b->n_users = mk->n_users;
    b->n = n;
    b->m = m;
    b->k = k;
    b->woodbury = m < n;
    b->target = target;
    b->w_price = mk->w_price;
    b->price = NAN;
    b->user = prillm__calloc(nn, sizeof *b->user);
    double **nm_arrays[] = {&b->c, &b->f, &b->df, &b->r, &b->u, &b->V, &b->x, &b->trial};
    double **m_arrays[] = {&b->a, &b->F, &b->t, &b->rho, &b->w};
    double **n_arrays[] = {&b->D, &b->col, &b->g, &b->q, &b->nu};
    int ok = b->user != NULL;
    for (size_t z = 0; z < sizeof nm_arrays / sizeof *nm_arrays; z++)
        ok &= (*nm_arrays[z] = prillm__calloc(nm + 1, sizeof(double))) != NULL;
    for (size_t z = 0; z < sizeof m_arrays / sizeof *m_arrays; z++)
        ok &= (*m_arrays[z] = prillm__calloc(mm, sizeof(double))) != NULL;
    for (size_t z = 0; z < sizeof n_arrays / sizeof *n_arrays; z++)
        ok &= (*n_arrays[z] = prillm__calloc(nn, sizeof(double))) != NULL;
    ok &= (b->S = prillm__calloc(kk, sizeof(double))) != NULL;
    if (!ok) {
        prillm__barrier_cleanup(b);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "smooth: out of memory for %d x %d", n, m);
    }
    int e;
    frexp(max_demand > 0 ? max_demand : 1, &e);
    b->s = ldexp(1.0, e);
    for (int j = 0; j < m; j++) b->a[j] = mk->w_congestion / mk->capacity[j] * b->s;
    for (int i = 0, r = 0; i < mk->n_users; i++) {
        if (!(mk->demand[i] > 0)) continue;
        b->user[r] = i;
        b->D[r] = mk->demand[i] / b->s;
        for (int j = 0; j < m; j++) {
            double p = j == target ? 0.0 : mk->price[j];
            b->c[(size_t)r * m + j] = prillm__user_cost(mk, i, j, p);
            b->f[(size_t)r * m + j] = b->D[r] / m;
        }
        r++;
    }
    *out = b;
    return PRILLM_OK;
}

void prillm__barrier_cleanup(PrillmBarrier *b) {
    if (!b) return;
    double *arrays[] = {b->c, b->f, b->df, b->r, b->u, b->V, b->x, b->trial, b->a, b->F, b->t,
                        b->rho, b->w, b->D, b->col, b->g, b->q, b->nu, b->S};
    for (size_t z = 0; z < sizeof arrays / sizeof *arrays; z++) free(arrays[z]);
    free(b->user);
    free(b);
}

int prillm__barrier_users(const PrillmBarrier *b) { return b->n; }

void prillm__barrier_flows(const PrillmBarrier *b, double *flows) {
    memset(flows, 0, (size_t)b->n_users * b->m * sizeof *flows);
    for (int r = 0; r < b->n; r++)
        for (int j = 0; j < b->m; j++) flows[(size_t)b->user[r] * b->m + j] = b->f[(size_t)r * b->m + j] * b->s;
}

static double barrier_cost(const PrillmBarrier *b, int i, int j, double price) {
    return b->c[(size_t)i * b->m + j] + (j == b->target ? b->w_price * price : 0.0);
}

/* Barrier objective at flows f (scaled). */
static double barrier_objective(PrillmBarrier *b, const double *f, double price, double tau) {
    int n = b->n, m = b->m;
    double value = 0;
    for (int j = 0; j < m; j++) b->F[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double x = f[(size_t)i * m + j];
            b->F[j] += x;
            value += x * (barrier_cost(b, i, j, price) + 0.5 * b->a[j] * x) - tau * log(x);
        }
    for (int j = 0; j < m; j++) value += 0.5 * b->a[j] * b->F[j] * b->F[j];
    return value;
}

/* H^-1 applied to the n x m array x (in place): per provider,
 * x_j <- u_j .* x_j - rho_j (u_j . x_j) u_j. */
static void apply_hinv(PrillmBarrier *b, double *x) {
    int n = b->n, m = b->m;
    for (int j = 0; j < m; j++) b->w[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) b->w[j] += b->u[(size_t)i * m + j] * x[(size_t)i * m + j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            size_t at = (size_t)i * m + j;
            x[at] = b->u[at] * (x[at] - b->rho[j] * b->w[j]);
        }
}

/* Factor the reduced matrix at the current u. Returns 0 on success. */
static int factor_schur(PrillmBarrier *b) {
    int n = b->n, m = b->m;
    for (int j = 0; j < m; j++) b->t[j] = 0;
    for (int i = 0; i < n; i++) {
        b->g[i] = 0;
        for (int j = 0; j < m; j++) {
            b->g[i] += b->u[(size_t)i * m + j];
            b->t[j] += b->u[(size_t)i * m + j];
        }
    }
    for (int j = 0; j < m; j++) b->rho[j] = b->a[j] / (1 + b->a[j] * b->t[j]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            size_t at = (size_t)i * m + j;
            b->V[at] = b->u[at] * sqrt(b->rho[j]);
            if (b->woodbury) b->V[at] /= sqrt(b->g[i]); /* W = G^-1/2 V */
        }
    int k = b->k;
    if (b->woodbury) {
        /* K = I - W^T W */
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, m, n, -1.0, b->V, m, 0.0, b->S, m);
        for (int j = 0; j < m; j++) b->S[(size_t)j * m + j] += 1.0;
    } else {
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, n, m, -1.0, b->V, m, 0.0, b->S, n);
        for (int i = 0; i < n; i++) b->S[(size_t)i * n + i] += b->g[i];
    }
    return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', k, b->S, k) != 0;
}

/* Solve S y = q in place. Woodbury: S^-1 q = G^-1 q + G^-1/2 W K^-1 W^T G^-1/2 q. */
static void solve_schur(PrillmBarrier *b, double *q) {
    int n = b->n, m = b->m;
    if (!b->woodbury) {
        LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', n, 1, b->S, n, q, 1);
        return;
    }
    for (int i = 0; i < n; i++) q[i] /= sqrt(b->g[i]);
    for (int j = 0; j < m; j++) b->w[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) b->w[j] += b->V[(size_t)i * m + j] * q[i];
    LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', m, 1, b->S, m, b->w, 1);
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int j = 0; j < m; j++) sum += b->V[(size_t)i * m + j] * b->w[j];
        q[i] = (q[i] + sum) / sqrt(b->g[i]);
    }
}

/* x <- H^-1 (A^T y - x): the flow part of the reduced KKT solve, given the
 * n x m right-hand side x (overwritten). */
static void reduced_solve(PrillmBarrier *b, double *x) {
    int n = b->n, m = b->m;
    for (int i = 0; i < n * m; i++) b->trial[i] = x[i];
    apply_hinv(b, b->trial);
    for (int i = 0; i < n; i++) {
        b->nu[i] = 0;
        for (int j = 0; j < m; j++) b->nu[i] += b->trial[(size_t)i * m + j];
    }
    solve_schur(b, b->nu);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) x[(size_t)i * m + j] = b->nu[i] - x[(size_t)i * m + j];
    apply_hinv(b, x);
}

int prillm__barrier_solve(PrillmBarrier *b, double price, double tau, double deadline, double *flow, double *slope,
                          long *newton_steps) {
    int n = b->n, m = b->m, s = b->target, code = 1;
    size_t nm = (size_t)n * m;
    if (n == 0) {
        *flow = 0;
        *slope = 0;
        return 0;
    }
    /* predictor along the last derivative when only the price moved */
    if (isfinite(b->price) && tau == b->tau && price != b->price) {
        double dp = price - b->price, theta = 1;
        for (size_t z = 0; z < nm; z++)
            if (b->df[z] * dp < 0) theta = fmin(theta, 0.9 * b->f[z] / (-b->df[z] * dp));
        for (size_t z = 0; z < nm; z++) b->f[z] += theta * dp * b->df[z];
    }
    b->price = price;
    b->tau = tau;
    int factored = 0;
    for (int it = 0; it < BARRIER_MAX_NEWTON; it++) {
        if (deadline > 0 && prillm__now() >= deadline) {
            code = 2;
            break;
        }
        for (int j = 0; j < m; j++) b->F[j] = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) b->F[j] += b->f[(size_t)i * m + j];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                size_t at = (size_t)i * m + j;
                double x = b->f[at];
                b->r[at] = barrier_cost(b, i, j, price) + b->a[j] * (b->F[j] + x) - tau / x;
                b->u[at] = 1 / (b->a[j] + tau / (x * x));
            }
        if (factor_schur(b)) return -1;
        factored = 1;
        if (newton_steps) ++*newton_steps;
        memcpy(b->x, b->r, nm * sizeof *b->x);
        reduced_solve(b, b->x); /* the Newton step */
        double decrement = 0, alpha = 1, rel_step = 0;
        for (size_t z = 0; z < nm; z++) {
            decrement -= b->r[z] * b->x[z];
            if (b->x[z] < 0) alpha = fmin(alpha, 0.99 * b->f[z] / -b->x[z]);
            rel_step = fmax(rel_step, fabs(b->x[z]) / b->f[z]);
        }
        double phi = barrier_objective(b, b->f, price, tau);
        int accepted = 0;
        for (int back = 0; back < 60; back++, alpha *= 0.5) {
            for (size_t z = 0; z < nm; z++) b->trial[z] = b->f[z] + alpha * b->x[z];
            int interior = 1;
            for (size_t z = 0; z < nm; z++) interior &= b->trial[z] > 0;
            if (!interior) continue;
            double trial = barrier_objective(b, b->trial, price, tau);
            /* near the solution the objective's change is round-off */
            if (trial <= phi - 1e-4 * alpha * decrement || decrement <= 1e-15 * (1 + fabs(phi))) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) {
            /* no descent left: converged as far as round-off allows, or stuck */
            code = decrement <= 1e-10 * (1 + fabs(phi)) ? 0 : 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < m; j++) sum += (b->f[(size_t)i * m + j] = b->trial[(size_t)i * m + j]);
            for (int j = 0; j < m; j++) b->f[(size_t)i * m + j] *= b->D[i] / sum;
        }
        if (rel_step <= 1e-9 && alpha == 1) {
            code = 0;
            break;
        }
    }
    if (!factored) {
        /* stopped before the first factorisation: no derivative */
        double F = 0;
        for (int i = 0; i < n; i++) F += b->f[(size_t)i * m + s];
        *flow = F * b->s;
        *slope = NAN;
        return code;
    }
    /* dF_s/dp: differentiate the KKT system; only column s of the cost moves */
    memset(b->x, 0, nm * sizeof *b->x);
    for (int i = 0; i < n; i++) b->x[(size_t)i * m + s] = b->w_price;
    reduced_solve(b, b->x);
    double F = 0, dF = 0;
    for (int i = 0; i < n; i++) {
        F += b->f[(size_t)i * m + s];
        dF += b->x[(size_t)i * m + s];
    }
    memcpy(b->df, b->x, nm * sizeof *b->df);
    *flow = F * b->s;
    *slope = dF * b->s;
    return code;
}

/* ---- the 1-D leader problem ------------------------------------------ */

typedef struct {
    double p, P, dP; /* price, smoothed profit and its derivative */
} SmoothPoint;

typedef struct {
    PrillmBarrier *barrier;
    const PrillmPriceProblem *problem;
    double tau;
    long newton_steps, evaluations;
    int unconverged; /* some barrier solve hit its step cap             */
    int stop;        /* deadline or factorisation failure: stop at once */
    int converged_once;
} SmoothRun;

static SmoothPoint smooth_eval(SmoothRun *run, double p) {
    double F, dF;
    int code = prillm__barrier_solve(run->barrier, p, run->tau, run->problem->deadline, &F, &dF, &run->newton_steps);
    run->evaluations++;
    if (code == 1) run->unconverged = 1;
    if (code == 2 || code == -1) run->stop = code;
    if (code == 0) run->converged_once = 1;
    double k = run->problem->cost;
    return (SmoothPoint){p, (p - k) * F, F + (p - k) * dF};
}

/* Uphill from p: expand steps until the derivative changes sign (or a
 * bound is reached), then close the bracket by Illinois-safeguarded secant
 * steps on the derivative. Returns the best point seen in the bracket. */
static SmoothPoint smooth_local_max(SmoothRun *run, double p, double step) {
    const double p_max = run->problem->p_max;
    SmoothPoint cur = smooth_eval(run, p);
    if (run->stop || !(cur.dP != 0)) return cur;
    double dir = cur.dP > 0 ? 1 : -1;
    SmoothPoint lo, hi;
    for (;;) {
        double q = cur.p + dir * step;
        q = q < 0 ? 0 : q > p_max ? p_max : q;
        if (q == cur.p) return cur; /* the bound is the local maximum */
        SmoothPoint next = smooth_eval(run, q);
        if (run->stop) return next.P > cur.P ? next : cur;
        if (next.dP * dir > 0) {
            cur = next;
            step *= 2;
            continue;
        }
        lo = dir > 0 ? cur : next;
        hi = dir > 0 ? next : cur;
        break;
    }
    double lo_d = lo.dP, hi_d = hi.dP; /* Illinois-scaled copies */
    int side = 0;
    for (int it = 0; it < 100 && hi.p - lo.p > 1e-10 * p_max; it++) {
        double w = hi.p - lo.p;
        double x = lo.p + w * lo_d / (lo_d - hi_d);
        if (!(x > lo.p + 1e-4 * w)) x = lo.p + 1e-4 * w;
        if (!(x < hi.p - 1e-4 * w)) x = hi.p - 1e-4 * w;
        SmoothPoint e = smooth_eval(run, x);
        if (run->stop) break;
        if (e.dP > 0) {
            lo = e;
            lo_d = e.dP;
            if (side == 1) hi_d *= 0.5;
            side = 1;
        } else if (e.dP < 0) {
            hi = e;
            hi_d = e.dP;
            if (side == -1) lo_d *= 0.5;
            side = -1;
        } else {
            return e;
        }
    }
    return lo.P >= hi.P ? lo : hi;
}

PrillmErrorCode prillm__price_smooth(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err) {
    PrillmErrorCode rc = prillm__price_baseline_begin("smooth", problem, out, err);
    if (rc) return rc;
    PrillmBarrier *barrier = NULL;
    rc = prillm__barrier_setup(&barrier, problem->market, problem->target, err);
    if (rc) return rc;
    if (prillm__barrier_users(barrier) == 0) {
        /* nobody has demand: the profit is 0 at every price */
        out->price = problem->p_max; /* as odca's tie rule */
        out->model_profit = 0;
        out->status = PRILLM_STATUS_SOLVED;
        prillm__barrier_cleanup(barrier);
        return PRILLM_OK;
    }
    const double p_max = problem->p_max;
    double scale = fabs(problem->market->w_price) * p_max;
    if (!(scale > 0)) scale = 1;
    SmoothRun run = {.barrier = barrier, .problem = problem};
    double p = problem->start_price, model = NAN;
    int stages = 0;
    for (int k = 0; k < 8; k++) {
        run.tau = 0.1 * scale * pow(10.0, -k);
        double step = fmax(0.05 * p_max * pow(0.5, k), 1e-3 * p_max);
        SmoothPoint best = smooth_local_max(&run, p, step);
        if (run.stop && !run.converged_once) break;
        p = best.p;
        model = best.P;
        if (run.stop) break;
        stages++;
    }
    out->iterations = run.newton_steps;
    if (run.converged_once && isfinite(model)) {
        out->price = p;
        out->model_profit = model;
        out->status = run.stop || run.unconverged || stages < 8 ? PRILLM_STATUS_INACCURATE : PRILLM_STATUS_SOLVED;
    }
    prillm__barrier_cleanup(barrier);
    return PRILLM_OK;
}
