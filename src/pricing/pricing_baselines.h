/* What the four baseline methods (pmpec, smooth, odca, spgce) share: the
 * sanity check of the problem they are handed and an empty candidate.
 * Internal. */
#ifndef PRILLM_PRICING_BASELINES_H
#define PRILLM_PRICING_BASELINES_H

#include "pricing_internal.h"

/* Fill out with "failed, no price" (NaN numbers, zero counts) and check the
 * problem's fields (the dispatcher builds them, but the methods are also
 * called directly by tests); the message names the bad field. */
PrillmErrorCode prillm__price_baseline_begin(const char *method, const PrillmPriceProblem *problem,
                                             PrillmPriceCandidate *out, PrillmError *err);

/* 1 once problem->deadline has passed. */
int prillm__price_past_deadline(const PrillmPriceProblem *problem);

#endif
