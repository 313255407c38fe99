/*
 * Water-filling models in which the target's flow is an explicit piecewise
 * affine function of its price: one population splitting a demand over
 * providers whose cost is affine in their own load, cost_j = c_j + x_j / h_j,
 * with no coupling to anybody else. ODCA (one such problem per user, the
 * user seeing only its own load: h_j = 1 / (2 a_j)) and SPGCE (one
 * aggregate nonatomic population: h_j = 1 / a_j) are both sums of these.
 * Internal.
 */
#ifndef PRILLM_PRICING_WATERFILL_H
#define PRILLM_PRICING_WATERFILL_H

#include "pricing_internal.h"

typedef struct {
    double cost; /* cost offset at zero load          */
    double h;    /* load per unit of cost increase, > 0 */
} PrillmRival;

/* The target's flow as a function of its own cost offset y, for a
 * population of demand D > 0 facing n_rivals rivals (sorted in place by
 * cost) with target weight h_s > 0:
 *   f(y) = alpha[k] + beta[k] * y   for breaks[k-1] < y <= breaks[k]
 * (breaks[-1] = -inf, breaks[K] = +inf). Returns K <= n_rivals + 1, the
 * number of breaks; alpha/beta have K + 1 entries (the last piece is f = 0
 * once the rivals absorb the whole demand). */
int prillm__waterfill_pieces(double D, PrillmRival *rivals, int n_rivals, double h_s, double *breaks, double *alpha,
                             double *beta);

/* The target's flow at cost offset y, computed directly (sort the target in
 * with the rivals and fill), as an independent check of the pieces. scratch
 * holds n_rivals + 1 entries. */
double prillm__waterfill_target(double D, const PrillmRival *rivals, int n_rivals, double h_s, double y,
                                PrillmRival *scratch);

/* A sum of piecewise affine flows F(p) = A + B p, assembled from the
 * populations' pieces, and the maximiser of (p - cost) F(p) on [0, p_max]. */
typedef struct {
    double price, d_const, d_slope; /* coefficients change at price by (+d_const, +d_slope) */
} PrillmFlowEvent;

typedef struct {
    double A0, B0;           /* F(p) = A0 + B0 p just right of p = 0    */
    PrillmFlowEvent *events; /* inside (0, p_max)                        */
    long n_events, capacity;
} PrillmPiecewiseFlow;

/* Add one population: its target cost offset is y = w_price * p + offset.
 * Returns 0, or -1 out of memory. */
int prillm__piecewise_add(PrillmPiecewiseFlow *flow, double w_price, double offset, double p_max, int n_breaks,
                          const double *breaks, const double *alpha, const double *beta);

/* Best price and the model's profit there. Ties go to the highest price:
 * when the model sees no profitable price at all (no traffic above the
 * cost), a price at which it predicts zero traffic is proposed rather than
 * the lowest such price, which may lie below the cost and lose money in
 * the true game. Sorts the events; *pieces receives the number of pieces. */
void prillm__piecewise_maximize(PrillmPiecewiseFlow *flow, double cost, double p_max, double *best_price,
                                double *best_profit, long *pieces);
void prillm__piecewise_free(PrillmPiecewiseFlow *flow);

#endif
