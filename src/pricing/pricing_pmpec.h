/*
 * The pMPEC baseline's NLP point, exposed so tests can check the relaxed
 * complementarity constraints at Ipopt's answer. Internal.
 */
#ifndef PRILLM_PRICING_PMPEC_H
#define PRILLM_PRICING_PMPEC_H

#include "pricing_internal.h"

/* What prillm__price_pmpec does, also returning the NLP's own point when
 * the pointers are not NULL: flows [n_users * n_providers] (market units,
 * zero for users without demand), nu [n_users] (NaN for users without
 * demand), the flow scale s of the NLP (its complementarity products are
 * (g_ij - nu_i) * f_ij / s <= epsilon) and Ipopt's return status (or 1000
 * when Ipopt never ran). On a failed candidate the arrays hold NaN. */
PrillmErrorCode prillm__pmpec_solve(const PrillmPriceProblem *problem, PrillmPriceCandidate *out, double *flows,
                                    double *nu, double *flow_scale, int *ipopt_status, PrillmError *err);

#endif
