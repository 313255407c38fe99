/*
 * The calibration loss and its gradient by implicit differentiation.
 *
 * On the equilibrium's active set S (pairs with positive flow) the flows
 * are affine in the costs: f_S = J c + K D, with J symmetric (the negated
 * inverse of the reduced Hessian on the demand constraints). A parameter
 * theta_k moves the marginal costs g_ij at fixed flows by dc_ij =
 * dg_ij/dtheta_k (solvers.md section 8):
 *   value_j        -1 on column j
 *   w_delay        d_ij
 *   w_congestion   (F_j + f_ij) / alpha_j
 * so df = J dc, and dL/dtheta_k = <2 r, J dc> = <J (2 r), dc>: ONE solve of
 * the reduced system per period with the loss residuals as costs and zero
 * demand (the adjoint) gives every component.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibration_internal.h"

PrillmErrorCode prillm__cal_problem_init(PrillmCalProblem *pb, const PrillmObservations *obs, int censoring,
                                         const unsigned char *train, PrillmError *err) {
    memset(pb, 0, sizeof *pb);
    pb->obs = obs;
    pb->T = obs->n_periods;
    pb->n = obs->n_users;
    pb->m = obs->n_providers;
    pb->dim = pb->m + 2;
    pb->censoring = censoring;
    pb->train = train;
    prillm_equilibrium_default_settings(&pb->eq);
    pb->eq.tolerance = 1e-10;
    size_t n = (size_t)pb->n, m = (size_t)pb->m, T = (size_t)pb->T;
    pb->work = prillm__calloc(T, sizeof *pb->work);
    pb->sys = prillm__calloc(T, sizeof *pb->sys);
    pb->beta = prillm__calloc(T * m, sizeof(double));
    pb->adj = prillm__calloc(n * m, sizeof(double));
    pb->pair = prillm__calloc(n * m, sizeof(double));
    pb->nu = prillm__calloc(n, sizeof(double));
    pb->rhs = prillm__calloc(n, sizeof(double));
    pb->F = prillm__calloc(m, sizeof(double));
    pb->active = prillm__calloc(n * m, 1);
    if (!pb->work || !pb->sys || !pb->beta || !pb->adj || !pb->pair || !pb->nu || !pb->rhs || !pb->F || !pb->active)
        goto oom;
    for (size_t t = 0; t < T; t++) {
        if (!(pb->work[t] = prillm_market_copy(obs->periods[t].market, err))) goto oom;
        for (size_t j = 0; j < m; j++) pb->beta[t * m + j] = obs->periods[t].market->capacity[j];
        if (prillm__system_init(&pb->sys[t], pb->n, pb->m, pb->beta + t * m)) {
            pb->sys[t].n = -1; /* not initialised: skip its free */
            goto oom;
        }
    }
    pb->norm = 0;
    for (int t = 0; t < pb->T; t++)
        for (size_t k = 0; k < n * m; k++)
            if (prillm__cal_is_train(pb, t, k)) pb->norm += obs->periods[t].observed[k] * obs->periods[t].observed[k];
    if (!(pb->norm > 0)) {
        prillm__cal_problem_free(pb);
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "every training flow is zero: nothing to fit");
    }
    return PRILLM_OK;
oom:
    prillm__cal_problem_free(pb);
    return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the calibration workspace");
}

void prillm__cal_problem_free(PrillmCalProblem *pb) {
    for (int t = 0; t < pb->T && pb->work; t++) {
        prillm_market_free(pb->work[t]);
        if (pb->sys && pb->work[t] && pb->sys[t].n >= 0) prillm__system_free(&pb->sys[t]);
    }
    free(pb->work);
    free(pb->sys);
    free(pb->beta);
    free(pb->adj);
    free(pb->pair);
    free(pb->nu);
    free(pb->rhs);
    free(pb->F);
    free(pb->active);
    memset(pb, 0, sizeof *pb);
}

/* d loss / d fhat_k / 2 for one cell (the residual), 0 when not in the loss. */
static double residual(const PrillmCalProblem *pb, int t, size_t k, double fhat) {
    const PrillmObservedPeriod *p = &pb->obs->periods[t];
    if (prillm__cal_is_train(pb, t, k)) return fhat - p->observed[k];
    if (isnan(p->observed[k]) && pb->censoring == PRILLM_CENSOR_UPPER && fhat > p->upper[k]) return fhat - p->upper[k];
    return 0.0;
}

double prillm__cal_loss(PrillmCalProblem *pb, const double *theta, double *grad, double *predicted) {
    int n = pb->n, m = pb->m;
    size_t nm = (size_t)n * m;
    double wq = exp(theta[PRILLM__THETA_LOGQ]), wd = theta[PRILLM__THETA_DELAY];
    double loss = 0;
    if (grad) memset(grad, 0, (size_t)pb->dim * sizeof(double));
    if (!(wq > 0) || !isfinite(wq) || !(wd >= 0) || !isfinite(wd)) return NAN;
    for (int t = 0; t < pb->T; t++) {
        PrillmMarket *mk = pb->work[t];
        mk->w_price = 1.0;
        mk->w_congestion = wq;
        mk->w_delay = wd;
        memcpy(mk->value, theta + PRILLM__THETA_VALUE, (size_t)m * sizeof(double));
        PrillmEquilibriumSolver *solver = NULL;
        if (prillm_equilibrium_setup(&solver, mk, &pb->eq, NULL) || prillm_equilibrium_solve(solver, NULL)) {
            prillm_equilibrium_cleanup(solver);
            return NAN;
        }
        pb->evaluations++;
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE) {
            prillm_equilibrium_cleanup(solver);
            return NAN;
        }
        const double *f = eq->flows;
        if (predicted) memcpy(predicted + (size_t)t * nm, f, nm * sizeof(double));
        for (size_t k = 0; k < nm; k++) {
            double r = residual(pb, t, k, f[k]);
            loss += r * r;
            pb->adj[k] = 2.0 * r / pb->norm;
        }
        if (grad) {
            for (size_t k = 0; k < nm; k++) pb->active[k] = f[k] > 0;
            for (int j = 0; j < m; j++) pb->beta[(size_t)t * m + j] = mk->capacity[j] / wq;
            PrillmActiveSystem *sys = &pb->sys[t];
            if (prillm__system_factor(sys, pb->active) != 0) {
                for (int k = 0; k < pb->dim; k++) grad[k] = NAN;
                prillm_equilibrium_cleanup(solver);
                continue;
            }
            prillm__system_rhs(sys, pb->adj, NULL, pb->rhs);
            prillm__system_solve(sys, pb->rhs, pb->nu);
            prillm__system_flows(sys, pb->nu, pb->F, pb->pair);
            const double *load = eq->provider_flow;
            for (int i = 0; i < n; i++)
                for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
                    int j = sys->user_prov[q];
                    size_t k = (size_t)i * m + j;
                    double w = pb->pair[q];
                    grad[PRILLM__THETA_VALUE + j] -= w;
                    grad[PRILLM__THETA_DELAY] += w * mk->delay[k];
                    grad[PRILLM__THETA_LOGQ] += w * wq * (load[j] + f[k]) / mk->capacity[j];
                }
        }
        prillm_equilibrium_cleanup(solver);
    }
    return loss / pb->norm;
}

double prillm__cal_loss_fd(PrillmCalProblem *pb, const double *theta, double *grad, const unsigned char *free_mask) {
    double loss = prillm__cal_loss(pb, theta, NULL, NULL);
    if (!grad) return loss;
    double *x = malloc((size_t)pb->dim * sizeof(double));
    if (!x) {
        for (int k = 0; k < pb->dim; k++) grad[k] = NAN;
        return loss;
    }
    memcpy(x, theta, (size_t)pb->dim * sizeof(double));
    for (int k = 0; k < pb->dim; k++) {
        grad[k] = 0;
        if (free_mask && !free_mask[k]) continue;
        double h = 1e-4 * fmax(1.0, fabs(theta[k]));
        /* w_delay stays >= 0: one-sided at the boundary */
        double lo = theta[k] - h, hi = theta[k] + h;
        if (k == PRILLM__THETA_DELAY && lo < 0) lo = theta[k];
        x[k] = hi;
        double up = prillm__cal_loss(pb, x, NULL, NULL);
        x[k] = lo;
        double down = prillm__cal_loss(pb, x, NULL, NULL);
        x[k] = theta[k];
        grad[k] = (up - down) / (hi - lo);
    }
    free(x);
    return loss;
}
