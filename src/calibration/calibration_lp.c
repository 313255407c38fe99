/*
 * LP initialisation of the perceived values (PriLLM Alg. 1) with GLPK.
 *
 * At fixed weights, M'_ij = p_j + w_d d_ij + w_q (Q_j + f_ij / alpha_j) is
 * user i's marginal cost at provider j before the value, computed from the
 * OBSERVED flows (Q_j = F_j / alpha_j over the observed cells). At an exact
 * equilibrium M'_ij - b_j = lambda_i where f_ij > 0 and >= lambda_i where an
 * observed f_ij = 0. Real data is never an exact equilibrium, so every row
 * gets slack and the LP is always feasible:
 *   min  sum_j b_j + rho * (sum s+ + s- + sum e)
 *   s.t. b_j + lambda_ti + s+ - s- = M'_ij   (observed f > 0)
 *        b_j + lambda_ti - e      <= M'_ij   (observed f = 0)
 *        b >= 0, s, e >= 0, lambda free.
 * Censored and held-out cells give no row (nothing is known about them
 * but an upper bound on the flow, which says nothing about marginal cost).
 * The slack used is reported: it measures how far the data is from an
 * equilibrium of the model at these weights.
 *
 * GLPK must never abort the process: inputs are checked first, its terminal
 * output is off, and its error hook longjmps back here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibration_internal.h"

#if PRILLM_HAVE_GLPK

#include <glpk.h>
#include <setjmp.h>

typedef struct {
    jmp_buf jump;
} GlpkEscape;

static void glpk_error(void *info) {
    longjmp(((GlpkEscape *)info)->jump, 1);
}

PrillmErrorCode prillm__cal_lp_init(const PrillmCalProblem *pb, double wq, double wd, double rho, double *values,
                                    PrillmLpInfo *info, PrillmError *err) {
    int T = pb->T, n = pb->n, m = pb->m;
    size_t nm = (size_t)n * m;
    double t0 = prillm__now();
    memset(info, 0, sizeof *info);
    info->slack = info->slack_relative = NAN;
    info->status = PRILLM_STATUS_FAILED;
    for (int j = 0; j < m; j++) values[j] = NAN;
    if (!(wq > 0) || !(wd >= 0) || !(rho > 0) || !isfinite(wq) || !isfinite(wd) || !isfinite(rho))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "LP init needs w_congestion > 0, w_delay >= 0, slack weight > 0");
    /* rows and right-hand sides, validated before GLPK sees anything */
    long rows = 0;
    for (int t = 0; t < T; t++)
        for (size_t k = 0; k < nm; k++) rows += prillm__cal_is_train(pb, t, k);
    double *rhs = prillm__calloc((size_t)rows + 1, sizeof(double));
    int *row_user = prillm__calloc((size_t)rows + 1, sizeof(int));
    int *row_prov = prillm__calloc((size_t)rows + 1, sizeof(int));
    char *row_eq = prillm__calloc((size_t)rows + 1, 1);
    double *load = prillm__calloc((size_t)m, sizeof(double));
    if (!rhs || !row_user || !row_prov || !row_eq || !load) {
        free(rhs), free(row_user), free(row_prov), free(row_eq), free(load);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the LP");
    }
    long r = 0;
    double scale = 0;
    for (int t = 0; t < T; t++) {
        const PrillmObservedPeriod *p = &pb->obs->periods[t];
        const PrillmMarket *mk = p->market;
        memset(load, 0, (size_t)m * sizeof(double));
        for (size_t k = 0; k < nm; k++)
            if (prillm__cal_is_train(pb, t, k)) load[k % (size_t)m] += p->observed[k];
        for (size_t k = 0; k < nm; k++) {
            if (!prillm__cal_is_train(pb, t, k)) continue;
            int i = (int)(k / (size_t)m), j = (int)(k % (size_t)m);
            if (!(mk->demand[i] > 0)) continue;
            double cap = mk->capacity[j];
            double value = mk->price[j] + wd * mk->delay[k] + wq * (load[j] + p->observed[k]) / cap;
            if (!isfinite(value) || fabs(value) > 1e30) {
                free(rhs), free(row_user), free(row_prov), free(row_eq), free(load);
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "LP init: marginal cost of periods[%d] user %d provider %d is not finite (%g)", t, i,
                                    j, value);
            }
            r++;
            rhs[r] = value;
            row_user[r] = t * n + i;
            row_prov[r] = j;
            row_eq[r] = p->observed[k] > 0;
            scale += fabs(value);
        }
    }
    rows = r;
    free(load);
    if (rows == 0) {
        free(rhs), free(row_user), free(row_prov), free(row_eq);
        for (int j = 0; j < m; j++) values[j] = 0.0;
        info->slack = info->slack_relative = 0;
        info->status = PRILLM_STATUS_SOLVED;
        return PRILLM_OK;
    }
    /* columns: b (m) | lambda (T*n) | s+ s- or e per row (2 or 1) */
    long n_slack = 0;
    for (long q = 1; q <= rows; q++) n_slack += row_eq[q] ? 2 : 1;
    long cols = m + (long)T * n + n_slack, nonzeros = 0;
    for (long q = 1; q <= rows; q++) nonzeros += row_eq[q] ? 4 : 3;
    if (cols > 100000000L || nonzeros > 100000000L) {
        free(rhs), free(row_user), free(row_prov), free(row_eq);
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "LP init: %ld columns is too large", cols);
    }
    int *ia = prillm__calloc((size_t)nonzeros + 1, sizeof(int));
    int *ja = prillm__calloc((size_t)nonzeros + 1, sizeof(int));
    double *ar = prillm__calloc((size_t)nonzeros + 1, sizeof(double));
    double *col_value = prillm__calloc((size_t)cols + 1, sizeof(double));
    if (!ia || !ja || !ar || !col_value) {
        free(rhs), free(row_user), free(row_prov), free(row_eq), free(ia), free(ja), free(ar), free(col_value);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the LP");
    }
    long e = 0, next_slack = m + (long)T * n + 1;
    for (long q = 1; q <= rows; q++) {
        ia[++e] = (int)q, ja[e] = row_prov[q] + 1, ar[e] = 1.0;
        ia[++e] = (int)q, ja[e] = m + row_user[q] + 1, ar[e] = 1.0;
        if (row_eq[q]) {
            ia[++e] = (int)q, ja[e] = (int)next_slack++, ar[e] = 1.0;
            ia[++e] = (int)q, ja[e] = (int)next_slack++, ar[e] = -1.0;
        } else {
            ia[++e] = (int)q, ja[e] = (int)next_slack++, ar[e] = -1.0;
        }
    }
    /* GLPK section: nothing allocated by us in here may be lost on a jump */
    volatile int glpk_status = -1, glpk_failed = 0;
    GlpkEscape escape;
    glp_prob *volatile lp = NULL;
    glp_term_out(GLP_OFF);
    glp_error_hook(glpk_error, &escape);
    if (setjmp(escape.jump) == 0) {
        lp = glp_create_prob();
        glp_set_obj_dir(lp, GLP_MIN);
        glp_add_rows(lp, (int)rows);
        glp_add_cols(lp, (int)cols);
        for (long q = 1; q <= rows; q++)
            glp_set_row_bnds(lp, (int)q, row_eq[q] ? GLP_FX : GLP_UP, rhs[q], rhs[q]);
        for (int j = 1; j <= m; j++) {
            glp_set_col_bnds(lp, j, GLP_LO, 0.0, 0.0);
            glp_set_obj_coef(lp, j, 1.0);
        }
        for (long c = m + 1; c <= m + (long)T * n; c++) glp_set_col_bnds(lp, (int)c, GLP_FR, 0.0, 0.0);
        for (long c = m + (long)T * n + 1; c <= cols; c++) {
            glp_set_col_bnds(lp, (int)c, GLP_LO, 0.0, 0.0);
            glp_set_obj_coef(lp, (int)c, rho);
        }
        glp_load_matrix(lp, (int)e, ia, ja, ar);
        glp_smcp parm;
        glp_init_smcp(&parm);
        parm.msg_lev = GLP_MSG_OFF;
        parm.presolve = GLP_ON;
        int rc = glp_simplex(lp, &parm);
        glpk_status = rc == 0 ? glp_get_status(lp) : -1;
        if (glpk_status == GLP_OPT)
            for (long c = 1; c <= cols; c++) col_value[c] = glp_get_col_prim(lp, (int)c);
        glp_delete_prob(lp);
        lp = NULL;
    } else {
        glpk_failed = 1;
    }
    glp_error_hook(NULL, NULL);
    if (glpk_failed) glp_free_env(); /* GLPK's state is undefined after an error */
    PrillmErrorCode code = PRILLM_OK;
    if (glpk_failed) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER, "LP init: GLPK stopped with an internal error");
    } else if (glpk_status != GLP_OPT) {
        code = prillm__fail(err, PRILLM_ERR_SOLVER, "LP init: GLPK simplex ended with status %d, not optimal",
                            (int)glpk_status);
    } else {
        double slack = 0;
        for (long c = m + (long)T * n + 1; c <= cols; c++) slack += fabs(col_value[c]);
        for (int j = 0; j < m; j++) values[j] = col_value[j + 1];
        info->slack = slack;
        info->slack_relative = scale > 0 ? slack / scale : 0;
        info->status = PRILLM_STATUS_SOLVED;
    }
    free(rhs), free(row_user), free(row_prov), free(row_eq), free(ia), free(ja), free(ar), free(col_value);
    info->seconds = prillm__now() - t0;
    return code;
}

#else /* !PRILLM_HAVE_GLPK */

PrillmErrorCode prillm__cal_lp_init(const PrillmCalProblem *pb, double wq, double wd, double rho, double *values,
                                    PrillmLpInfo *info, PrillmError *err) {
    (void)wq, (void)wd, (void)rho;
    memset(info, 0, sizeof *info);
    info->slack = info->slack_relative = NAN;
    info->status = PRILLM_STATUS_FAILED;
    for (int j = 0; j < pb->m; j++) values[j] = NAN;
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE,
                        "built without GLPK: the LP initialisation (init lp-scan or lp) needs it; use init zero");
}

#endif
