/*
 * The users' equilibrium QP solved by Ipopt (3.11 C interface), kept as a
 * generic reference for the specialised solvers.
 *
 * Formulation. The potential's F_j^2 term couples every pair of users at a
 * provider, so its Hessian in f alone has a dense n x n block per provider.
 * A competent Ipopt user would instead introduce F_j as variables tied to the
 * flows by linear equalities, which leaves a constant diagonal Hessian:
 *   x = [f (row-major, active users only), F (m)]
 *   min  sum c_ij f_ij + sum_j a_j/2 (F_j^2 + sum_i f_ij^2)
 *   s.t. sum_j f_ij = D_i          (one row per active user)
 *        F_j - sum_i f_ij = 0      (one row per provider)
 *        f_ij >= 0
 * Users with zero demand are left out: their flows are zero, and keeping
 * them would give Ipopt constraint rows with no interior to work in.
 *
 * Scaling. Demands may span twelve orders of magnitude, so Ipopt solves for
 * f / s with s a power of two at or above the largest demand (exact to undo).
 * Dividing the potential by s keeps c as is and turns a_j into a_j s.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if PRILLM_HAVE_IPOPT

#include "ipopt_options.h"

typedef struct {
    PrillmIpoptProgress progress; /* first: the intermediate callback's     */
    int n_active;        /* users with positive demand                      */
    int m;               /* providers                                       */
    int n_flows;         /* n_active * m                                    */
    const double *c;     /* [n_flows] linear cost, active users' rows        */
    const double *a;     /* [m] scaled congestion slope a_j * s             */
} IpoptData;

static const char *ipopt__status_name(int status) {
    switch (status) {
    case Solve_Succeeded: return "Solve_Succeeded";
    case Solved_To_Acceptable_Level: return "Solved_To_Acceptable_Level";
    case Infeasible_Problem_Detected: return "Infeasible_Problem_Detected";
    case Search_Direction_Becomes_Too_Small: return "Search_Direction_Becomes_Too_Small";
    case Diverging_Iterates: return "Diverging_Iterates";
    case User_Requested_Stop: return "User_Requested_Stop";
    case Feasible_Point_Found: return "Feasible_Point_Found";
    case Maximum_Iterations_Exceeded: return "Maximum_Iterations_Exceeded";
    case Restoration_Failed: return "Restoration_Failed";
    case Error_In_Step_Computation: return "Error_In_Step_Computation";
    case Maximum_CpuTime_Exceeded: return "Maximum_CpuTime_Exceeded";
    case Not_Enough_Degrees_Of_Freedom: return "Not_Enough_Degrees_Of_Freedom";
    case Invalid_Problem_Definition: return "Invalid_Problem_Definition";
    case Invalid_Option: return "Invalid_Option";
    case Invalid_Number_Detected: return "Invalid_Number_Detected";
    case Unrecoverable_Exception: return "Unrecoverable_Exception";
    case NonIpopt_Exception_Thrown: return "NonIpopt_Exception_Thrown";
    case Insufficient_Memory: return "Insufficient_Memory";
    case Internal_Error: return "Internal_Error";
    default: return "unknown status";
    }
}

static Bool ipopt__eval_f(Index n, Number *x, Bool new_x, Number *obj_value, UserDataPtr user_data) {
    const IpoptData *d = user_data;
    const int m = d->m;
    double sum = 0.0;
    (void)n;
    (void)new_x;
    for (int k = 0; k < d->n_flows; k++) {
        double f = x[k];
        sum += f * (d->c[k] + 0.5 * d->a[k % m] * f);
    }
    for (int j = 0; j < m; j++) {
        double F = x[d->n_flows + j];
        sum += 0.5 * d->a[j] * F * F;
    }
    *obj_value = sum;
    return TRUE;
}

static Bool ipopt__eval_grad_f(Index n, Number *x, Bool new_x, Number *grad_f,
                               UserDataPtr user_data) {
    const IpoptData *d = user_data;
    const int m = d->m;
    (void)n;
    (void)new_x;
    for (int k = 0; k < d->n_flows; k++) grad_f[k] = d->c[k] + d->a[k % m] * x[k];
    for (int j = 0; j < m; j++) grad_f[d->n_flows + j] = d->a[j] * x[d->n_flows + j];
    return TRUE;
}

static Bool ipopt__eval_g(Index n, Number *x, Bool new_x, Index n_rows, Number *g,
                          UserDataPtr user_data) {
    const IpoptData *d = user_data;
    const int m = d->m;
    (void)n;
    (void)new_x;
    (void)n_rows;
    for (int j = 0; j < m; j++) g[d->n_active + j] = x[d->n_flows + j];
    for (int i = 0; i < d->n_active; i++) {
        const double *row = x + (size_t)i * (size_t)m;
        double sum = 0.0;
        for (int j = 0; j < m; j++) {
            sum += row[j];
            g[d->n_active + j] -= row[j];
        }
        g[i] = sum;
    }
    return TRUE;
}

/* Entry order: user i's demand row (m entries), then for each provider j its
 * F_j entry followed by the n_active flows -- the values loop below must
 * walk the same order. */
static Bool ipopt__eval_jac_g(Index n, Number *x, Bool new_x, Index n_rows, Index nele_jac,
                              Index *iRow, Index *jCol, Number *values, UserDataPtr user_data) {
    const IpoptData *d = user_data;
    const int m = d->m;
    Index e = 0;
    (void)n;
    (void)x;
    (void)new_x;
    (void)n_rows;
    (void)nele_jac;
    if (values == NULL) {
        for (int i = 0; i < d->n_active; i++)
            for (int j = 0; j < m; j++) {
                iRow[e] = i;
                jCol[e] = i * m + j;
                e++;
            }
        for (int j = 0; j < m; j++) {
            iRow[e] = d->n_active + j;
            jCol[e] = d->n_flows + j;
            e++;
            for (int i = 0; i < d->n_active; i++) {
                iRow[e] = d->n_active + j;
                jCol[e] = i * m + j;
                e++;
            }
        }
    } else {
        for (int k = 0; k < d->n_flows; k++) values[e++] = 1.0;
        for (int j = 0; j < m; j++) {
            values[e++] = 1.0;
            for (int i = 0; i < d->n_active; i++) values[e++] = -1.0;
        }
    }
    return TRUE;
}

/* The constraints are linear, so the multipliers never enter the Hessian of
 * the Lagrangian: it is obj_factor times the potential's diagonal. */
static Bool ipopt__eval_h(Index n, Number *x, Bool new_x, Number obj_factor, Index n_rows,
                          Number *lambda, Bool new_lambda, Index nele_hess, Index *iRow,
                          Index *jCol, Number *values, UserDataPtr user_data) {
    const IpoptData *d = user_data;
    const int m = d->m;
    (void)x;
    (void)new_x;
    (void)n_rows;
    (void)lambda;
    (void)new_lambda;
    (void)nele_hess;
    if (values == NULL) {
        for (Index k = 0; k < n; k++) iRow[k] = jCol[k] = k;
    } else {
        for (int k = 0; k < d->n_flows; k++) values[k] = obj_factor * d->a[k % m];
        for (int j = 0; j < m; j++) values[d->n_flows + j] = obj_factor * d->a[j];
    }
    return TRUE;
}

/* Returns the name of the first option Ipopt refused, or NULL. */
static const char *ipopt__set_options(IpoptProblem problem, double tol, double time_limit,
                                      int verbose) {
    const char *refused = prillm__ipopt_quiet(problem, verbose ? 5 : 0, time_limit);
    if (refused) return refused;
    if (!prillm__ipopt_set_num(problem, "tol", tol)) return "tol";
    /* The defaults (1e-4 each, absolute) are looser than the tolerance the
     * caller asked for; in the scaled problem demands are at most 1, so tol
     * reads as relative to the largest demand. */
    if (!prillm__ipopt_set_num(problem, "constr_viol_tol", tol)) return "constr_viol_tol";
    if (!prillm__ipopt_set_num(problem, "compl_inf_tol", tol)) return "compl_inf_tol";
    /* Ipopt relaxes f >= 0 to f >= -1e-8 by default and projects the answer
     * back onto f >= 0 at the end, which moves every inactive flow and
     * breaks the demand rows by up to m * 1e-8. */
    if (!prillm__ipopt_set_num(problem, "bound_relax_factor", 0.0)) return "bound_relax_factor";
    if (!prillm__ipopt_set_int(problem, "max_iter", 3000)) return "max_iter";
    if (!prillm__ipopt_set_str(problem, "mu_strategy", "adaptive")) return "mu_strategy";
    if (!prillm__ipopt_set_str(problem, "hessian_constant", "yes")) return "hessian_constant";
    if (!prillm__ipopt_set_str(problem, "jac_c_constant", "yes")) return "jac_c_constant";
    if (!prillm__ipopt_set_str(problem, "jac_d_constant", "yes")) return "jac_d_constant";
    return NULL;
}

PrillmErrorCode prillm__equilibrium_ipopt(const PrillmMarket *market, double tolerance,
                                          double time_limit, int verbose, double *flows,
                                          int *iterations, PrillmError *err) {
    const double started = prillm__now();
    if (iterations) *iterations = 0;
    if (!market || !flows)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "ipopt: market and flows must not be NULL");
    if (!(tolerance > 0.0))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "ipopt: tolerance must be > 0, got %g", tolerance);
    /* Ipopt cannot reach anything tighter than round-off in its own
     * residuals; asking for less only burns iterations before it gives up. */
    double tol = tolerance < 1e-14 ? 1e-14 : tolerance;

    const int n_users = market->n_users;
    const int m = market->n_providers;
    if (n_users < 0 || m < 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "ipopt: negative market size");

    double max_demand = 0.0;
    int n_active = 0;
    for (int i = 0; i < n_users; i++) {
        double D = market->demand[i];
        if (!(D >= 0.0) || !isfinite(D))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "users[%d].demand must be finite and >= 0, got %g", i, D);
        if (D > 0.0) {
            n_active++;
            if (D > max_demand) max_demand = D;
        }
    }
    if (n_active == 0) {
        for (size_t k = 0; k < (size_t)n_users * (size_t)m; k++) flows[k] = 0.0;
        return PRILLM_OK;
    }
    if (m == 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "ipopt: users have demand but there are no providers");

    /* Ipopt 3.11 and its MUMPS interface count in int, and the largest count
     * is the KKT matrix: Hessian (nm + m), Jacobian (2nm + m) and one
     * regularisation entry per row (n + m). */
    const long long nm = (long long)n_active * m;
    if (3 * nm + 3LL * m + n_active > INT_MAX)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE,
                            "ipopt: %d users x %d providers exceeds Ipopt's int index range",
                            n_active, m);
    const int n_flows = (int)nm;
    const int n_vars = n_flows + m;
    const int n_rows = n_active + m;
    const int nele_jac = 2 * n_flows + m;
    const int nele_hess = n_vars;

    int exponent;
    frexp(max_demand, &exponent);
    const double s = ldexp(1.0, exponent);

    PrillmErrorCode code = PRILLM_OK;
    IpoptProblem problem = NULL;
    const char *refused = NULL;
    enum ApplicationReturnStatus status;
    int *user = prillm__calloc((size_t)n_active, sizeof *user);
    double *c = prillm__calloc((size_t)n_flows, sizeof *c);
    double *a = prillm__calloc((size_t)m, sizeof *a);
    double *x = prillm__calloc((size_t)n_vars, sizeof *x);
    double *x_lower = prillm__calloc((size_t)n_vars, sizeof *x_lower);
    double *x_upper = prillm__calloc((size_t)n_vars, sizeof *x_upper);
    double *g_bound = prillm__calloc((size_t)n_rows, sizeof *g_bound);
    IpoptData data = {
        .n_active = n_active, .m = m, .n_flows = n_flows, .c = c, .a = a,
        .progress = {.deadline = time_limit > 0.0 && isfinite(time_limit) ? started + time_limit : 0.0},
    };
    if (!user || !c || !a || !x || !x_lower || !x_upper || !g_bound) {
        code = prillm__fail(err, PRILLM_ERR_NO_MEMORY,
                            "ipopt: out of memory for %d users x %d providers", n_active, m);
        goto done;
    }

    for (int j = 0; j < m; j++) a[j] = market->w_congestion / market->capacity[j] * s;
    for (int i = 0, k = 0; i < n_users; i++)
        if (market->demand[i] > 0.0) user[k++] = i;
    for (int k = 0; k < n_active; k++) {
        const int i = user[k];
        const double share = market->demand[i] / s / m;
        for (int j = 0; j < m; j++) {
            const size_t at = (size_t)k * (size_t)m + (size_t)j;
            c[at] = prillm__user_cost(market, i, j, market->price[j]);
            x[at] = share;
            x[n_flows + j] += share;
        }
        g_bound[k] = market->demand[i] / s;
    }
    /* 2e19 is Ipopt's default nlp_upper_bound_inf: anything at or above it
     * means "no bound". */
    for (int v = 0; v < n_vars; v++) x_upper[v] = 2e19;
    for (int j = 0; j < m; j++) x_lower[n_flows + j] = -2e19;

    /* Equality rows share one bound array for g_L and g_U: Ipopt copies both. */
    problem = prillm__ipopt_create(n_vars, x_lower, x_upper, n_rows, g_bound, g_bound, nele_jac, nele_hess,
                                   ipopt__eval_f, ipopt__eval_g, ipopt__eval_grad_f, ipopt__eval_jac_g,
                                   ipopt__eval_h);
    if (!problem) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER, "ipopt: CreateIpoptProblem refused the problem");
        goto done;
    }
    refused = ipopt__set_options(problem, tol, time_limit, verbose);
    if (refused) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER, "ipopt: option %s was refused", refused);
        goto done;
    }
    SetIntermediateCallback(problem, prillm__ipopt_progress);

    status = prillm__ipopt_solve(problem, x, &data);
    if (iterations) *iterations = data.progress.iterations;

    if (status == User_Requested_Stop && data.progress.timed_out) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER,
                            "ipopt: time limit of %g s exceeded after %d iterations "
                            "(User_Requested_Stop, status %d)",
                            time_limit, data.progress.iterations, (int)status);
        goto done;
    }
    if (status != Solve_Succeeded && status != Solved_To_Acceptable_Level) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER, "ipopt: %s (status %d)",
                            ipopt__status_name((int)status), (int)status);
        goto done;
    }

    for (size_t k = 0; k < (size_t)n_users * (size_t)m; k++) flows[k] = 0.0;
    for (int k = 0; k < n_active; k++) {
        const size_t i = (size_t)user[k];
        for (int j = 0; j < m; j++) {
            double f = x[(size_t)k * (size_t)m + (size_t)j] * s;
            flows[i * (size_t)m + (size_t)j] = f > 0.0 ? f : 0.0;
        }
    }

done:
    prillm__ipopt_free(problem);
    free(user);
    free(c);
    free(a);
    free(x);
    free(x_lower);
    free(x_upper);
    free(g_bound);
    return code;
}

#else /* !PRILLM_HAVE_IPOPT */

PrillmErrorCode prillm__equilibrium_ipopt(const PrillmMarket *market, double tolerance,
                                          double time_limit, int verbose, double *flows,
                                          int *iterations, PrillmError *err) {
    (void)market;
    (void)tolerance;
    (void)time_limit;
    (void)verbose;
    (void)flows;
    if (iterations) *iterations = 0;
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE,
                        "built without Ipopt: the ipopt equilibrium method needs it (use exact or gauss-seidel)");
}

#endif
