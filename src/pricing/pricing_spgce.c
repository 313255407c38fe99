/*
 * SPGCE baseline (solvers.md section 6; the model of Harks & Schedel,
 * "Stackelberg pricing games with congestion effects", Math. Programming,
 * DOI 10.1007/s10107-021-01672-9; how PriLLM used it is reconstructed):
 * all users become one nonatomic population of demand D = sum_i D_i with
 * the demand-weighted mean of the static cost (delay, value and affinity),
 * so provider j costs
 *   kappa_j + x_j / sigma_j,  kappa_j = w_p p_j + sbar_j,
 *   sbar_j = sum_i D_i (w_d d_ij - b_j - aff_ij) / D = w_d dbar_j - b_j - affbar_j,
 *   sigma_j = capacity_j / w_congestion,
 * and the population splits by Wardrop water-filling (no atomic self-term,
 * no per-user heterogeneity). The target's flow is then piecewise affine in
 * its price with one piece per number of used rivals (rivals enter in
 * increasing kappa as the price rises); the leader's exact best response
 * maximises the concave profit on each piece. Capacities are fixed.
 */
#include <math.h>
#include <stdlib.h>

#include "pricing_baselines.h"
#include "pricing_waterfill.h"

PrillmErrorCode prillm__price_spgce(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err) {
    PrillmErrorCode rc = prillm__price_baseline_begin("spgce", problem, out, err);
    if (rc) return rc;
    const PrillmMarket *mk = problem->market;
    const int m = mk->n_providers, s = problem->target;
    PrillmRival *rivals = prillm__calloc((size_t)m, sizeof *rivals);
    PrillmRival *scratch = prillm__calloc((size_t)m + 1, sizeof *scratch);
    double *sbar = prillm__calloc((size_t)m, sizeof *sbar); /* mean static cost */
    double *breaks = prillm__calloc((size_t)m + 1, sizeof *breaks);
    double *alpha = prillm__calloc((size_t)m + 2, sizeof *alpha);
    double *beta = prillm__calloc((size_t)m + 2, sizeof *beta);
    PrillmPiecewiseFlow flow = {0};
    if (!rivals || !scratch || !sbar || !breaks || !alpha || !beta) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "spgce: out of memory for %d providers", m);
        goto done;
    }
    double D = 0;
    for (int i = 0; i < mk->n_users; i++) {
        double Di = mk->demand[i];
        if (!(Di > 0)) continue;
        D += Di;
        /* the one population sees each app's delay and affinity in
         * proportion to its demand, like the delay alone before affinities */
        for (int j = 0; j < m; j++) sbar[j] += Di * prillm__static_cost(mk, i, j);
    }
    if (!(D > 0)) {
        /* no traffic at any price: profit 0 everywhere (or -cost * 0) */
        out->price = problem->p_max; /* as odca's tie rule */
        out->model_profit = 0;
        out->status = PRILLM_STATUS_SOLVED;
        goto done;
    }
    for (int j = 0; j < m; j++) sbar[j] /= D;
    for (int j = 0, r = 0; j < m; j++) {
        if (j == s) continue;
        rivals[r].cost = mk->w_price * mk->price[j] + sbar[j];
        rivals[r].h = mk->capacity[j] / mk->w_congestion;
        r++;
    }
    const double h_s = mk->capacity[s] / mk->w_congestion;
    const double offset = sbar[s];
    int K = prillm__waterfill_pieces(D, rivals, m - 1, h_s, breaks, alpha, beta);
    if (prillm__piecewise_add(&flow, mk->w_price, offset, problem->p_max, K, breaks, alpha, beta)) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "spgce: out of memory for the breakpoints");
        goto done;
    }
    double price, model;
    prillm__piecewise_maximize(&flow, problem->cost, problem->p_max, &price, &model, &out->iterations);
    out->price = price;
    out->model_profit =
        (price - problem->cost) * prillm__waterfill_target(D, rivals, m - 1, h_s, mk->w_price * price + offset, scratch);
    out->status = PRILLM_STATUS_SOLVED;
done:
    prillm__piecewise_free(&flow);
    free(rivals);
    free(scratch);
    free(sbar);
    free(breaks);
    free(alpha);
    free(beta);
    return rc;
}
