/*
 * ODCA baseline (solvers.md section 5; Chen et al., FGCS 2020, identified by
 * the acronym, algorithm reconstructed): every user computes its optimal
 * demand split as if alone, i.e. seeing only the congestion its own flow
 * causes, cost f_ij (c_ij + a_j f_ij). That is water-filling with weights
 * h_j = 1 / (2 a_j), independent per user, so the target's flow in ODCA's
 * model is a sum of explicit piecewise affine functions of its price. The
 * exact version is used: every user's support breakpoints are enumerated and
 * the concave profit is maximised on each piece (no step-size iteration).
 */
#include <math.h>
#include <stdlib.h>

#include "pricing_baselines.h"
#include "pricing_waterfill.h"

/* Fill rivals with user i's view of every provider but the target. */
static void user_rivals(const PrillmMarket *mk, int target, int i, PrillmRival *rivals) {
    int m = mk->n_providers, r = 0;
    for (int j = 0; j < m; j++) {
        if (j == target) continue;
        rivals[r].cost = prillm__user_cost(mk, i, j, mk->price[j]);
        rivals[r].h = mk->capacity[j] / (2 * mk->w_congestion);
        r++;
    }
}

/* The target's flow in ODCA's model at a price, summed directly. */
static double odca_flow(const PrillmMarket *mk, int target, double price, PrillmRival *rivals, PrillmRival *scratch) {
    int m = mk->n_providers;
    double h_s = mk->capacity[target] / (2 * mk->w_congestion), total = 0;
    for (int i = 0; i < mk->n_users; i++) {
        if (!(mk->demand[i] > 0)) continue;
        user_rivals(mk, target, i, rivals);
        double y = prillm__user_cost(mk, i, target, price);
        total += prillm__waterfill_target(mk->demand[i], rivals, m - 1, h_s, y, scratch);
    }
    return total;
}

PrillmErrorCode prillm__price_odca(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, PrillmError *err) {
    PrillmErrorCode rc = prillm__price_baseline_begin("odca", problem, out, err);
    if (rc) return rc;
    const PrillmMarket *mk = problem->market;
    const int m = mk->n_providers, s = problem->target;
    PrillmRival *rivals = prillm__calloc((size_t)m, sizeof *rivals);
    PrillmRival *scratch = prillm__calloc((size_t)m + 1, sizeof *scratch);
    double *breaks = prillm__calloc((size_t)m + 1, sizeof *breaks);
    double *alpha = prillm__calloc((size_t)m + 2, sizeof *alpha);
    double *beta = prillm__calloc((size_t)m + 2, sizeof *beta);
    PrillmPiecewiseFlow flow = {0};
    if (!rivals || !scratch || !breaks || !alpha || !beta) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "odca: out of memory for %d providers", m);
        goto done;
    }
    const double h_s = mk->capacity[s] / (2 * mk->w_congestion);
    for (int i = 0; i < mk->n_users; i++) {
        if ((i & 255) == 255 && prillm__price_past_deadline(problem)) goto done; /* failed: no price yet */
        if (!(mk->demand[i] > 0)) continue;
        user_rivals(mk, s, i, rivals);
        int K = prillm__waterfill_pieces(mk->demand[i], rivals, m - 1, h_s, breaks, alpha, beta);
        double offset = prillm__static_cost(mk, i, s);
        if (prillm__piecewise_add(&flow, mk->w_price, offset, problem->p_max, K, breaks, alpha, beta)) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "odca: out of memory for the breakpoints");
            goto done;
        }
    }
    double price, model;
    prillm__piecewise_maximize(&flow, problem->cost, problem->p_max, &price, &model, &out->iterations);
    out->price = price;
    /* the profit in ODCA's model, recomputed directly rather than from the
     * summed piece coefficients */
    out->model_profit = (price - problem->cost) * odca_flow(mk, s, price, rivals, scratch);
    out->status = PRILLM_STATUS_SOLVED;
done:
    prillm__piecewise_free(&flow);
    free(rivals);
    free(scratch);
    free(breaks);
    free(alpha);
    free(beta);
    return rc;
}
