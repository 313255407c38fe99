/*
 * The confidence check of an abstracted price (docs/aggregator.md,
 * "Confidence check"): the true market's profit at the price against exact
 * equilibrium solves near it. Public equilibrium API only.
 */
#ifndef PRILLM_ABSTRACTION_CHECK_H
#define PRILLM_ABSTRACTION_CHECK_H

#include "prillm/equilibrium.h"
#include "prillm/market.h"

typedef struct {
    double profit;        /* (price - cost) F_s(price) in the true market          */
    double best_price;    /* the best nearby point (price itself if none beats it) */
    double best_profit;
    double shortfall;     /* 1 - profit / best_profit; NaN when best_profit <= 0    */
    int fallback;         /* 1: the price falls short by more than the tolerance,
                             or sells nothing while the target sells at its cost */
    long solves;
} PrillmAbstractionCheck;

/* solver: NULL, or an equilibrium solver of `market` to reuse (warm; its
 * target price is left moved). cost: the target's marginal cost (0 when
 * absent); prices are kept in [0, p_max]. */
PrillmErrorCode prillm__abstraction_check(const PrillmMarket *market, int target, double cost, double p_max,
                                          double price, double step, double tolerance,
                                          PrillmEquilibriumSolver *solver, PrillmAbstractionCheck *out,
                                          PrillmError *err);

#endif
