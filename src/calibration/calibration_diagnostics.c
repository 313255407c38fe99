/* What a calibrated market says, checked against the data: stranded
 * models, own-price elasticities and implied marginal costs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/calibration.h"
#include "prillm/equilibrium.h"
#include "prillm/market_model.h"

void prillm_calibration_diagnostics_free(PrillmCalibrationDiagnostics *d) {
    if (!d) return;
    free(d->stranded);
    free(d->own_elasticity);
    free(d->implied_cost);
    memset(d, 0, sizeof *d);
}

PrillmErrorCode prillm_calibration_diagnose(const PrillmObservations *obs, const PrillmCalibrationResult *r,
                                            PrillmCalibrationDiagnostics *d, PrillmError *err) {
    if (!obs || !r || !d) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "obs, result or diagnostics is NULL");
    memset(d, 0, sizeof *d);
    int n = obs->n_users, m = obs->n_providers, T = obs->n_periods;
    size_t M = (size_t)m, cells = (size_t)n * M;
    d->n_providers = m;
    d->stranded = calloc(M, 1);
    d->own_elasticity = malloc(M * sizeof(double));
    d->implied_cost = malloc(M * sizeof(double));
    if (!d->stranded || !d->own_elasticity || !d->implied_cost) {
        prillm_calibration_diagnostics_free(d);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    for (int j = 0; j < m; j++) d->own_elasticity[j] = d->implied_cost[j] = NAN;
    if (r->status != PRILLM_STATUS_SOLVED || !r->predicted || !r->value) return PRILLM_OK; /* nothing to check */
    for (int j = 0; j < m; j++) {
        int seen = 0, served = 0;
        for (int t = 0; t < T; t++) {
            double F = 0;
            int observed = 0;
            for (int i = 0; i < n; i++) {
                double o = obs->periods[t].observed[(size_t)i * M + (size_t)j];
                if (isfinite(o) && o > 0) observed = 1;
                double p = r->predicted[(size_t)t * cells + (size_t)i * M + (size_t)j];
                if (isfinite(p)) F += p;
            }
            if (observed) seen = 1, served |= F > 0;
        }
        d->stranded[j] = seen && !served;
        d->n_stranded += d->stranded[j];
    }
    PrillmMarket *mk = NULL;
    PrillmErrorCode rc = prillm_calibration_market(obs, T - 1, r, &mk, err);
    if (rc) {
        prillm_calibration_diagnostics_free(d);
        return rc;
    }
    double *jac = malloc(M * M * sizeof *jac), *F = malloc(M * sizeof *F);
    PrillmEquilibriumSolver *solver = NULL;
    if (!jac || !F) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((rc = prillm_equilibrium_setup(&solver, mk, NULL, err)) || (rc = prillm_equilibrium_solve(solver, err))) goto done;
    memcpy(F, prillm_equilibrium_solution(solver)->provider_flow, M * sizeof *F);
    if ((rc = prillm_market_price_jacobian(mk, NULL, 0, jac, err))) goto done;
    for (int j = 0; j < m; j++) {
        double own = jac[(size_t)j * M + (size_t)j];
        if (!(F[j] > 0) || !(own < 0)) continue;
        d->own_elasticity[j] = own * mk->price[j] / F[j];
        d->implied_cost[j] = mk->price[j] + F[j] / own;
        if (mk->price[j] > 0) d->paid++, d->paid_nonnegative_cost += d->implied_cost[j] >= 0;
    }
done:
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(mk);
    free(jac);
    free(F);
    if (rc) prillm_calibration_diagnostics_free(d);
    return rc;
}
