/*
 * The log-barrier smoothing of the users' equilibrium used by the "smooth"
 * pricing baseline (solvers.md section 4). Internal; exposed so tests can
 * check that the barrier equilibrium tends to the exact one as tau -> 0.
 *
 * For a price p of the target and tau > 0, the barrier equilibrium is the
 * unique minimiser of
 *   Phi(f) / s - tau * sum_ij log(f_ij / s)   s.t. sum_j f_ij = D_i
 * over users with D_i > 0 (others carry nothing), s a power of two at or
 * above the largest demand. Its KKT system is the equilibrium's with every
 * complementarity f_ij mu_ij = 0 replaced by (f_ij / s) mu_ij = tau: the
 * CHKS smoothing with tau = eps^2. tau is in cost units (USD/Mtok).
 */
#ifndef PRILLM_PRICING_SMOOTH_H
#define PRILLM_PRICING_SMOOTH_H

#include "pricing_internal.h"

typedef struct PrillmBarrier PrillmBarrier;

/* The Newton system is reduced to the users' multipliers (an n x n matrix,
 * or m x m through the Woodbury identity when m < n), so one Newton step
 * costs about n m k + k^3 / 3 flops with k = min(n, m) over users with
 * demand. Markets above PRILLM_BARRIER_MAX_STEP_FLOPS per step are refused
 * with PRILLM_ERR_TOO_LARGE: a run takes ~10^3 steps. */
#define PRILLM_BARRIER_MAX_STEP_FLOPS 2e8

PrillmErrorCode prillm__barrier_setup(PrillmBarrier **barrier, const PrillmMarket *market, int target,
                                      PrillmError *err);
void prillm__barrier_cleanup(PrillmBarrier *barrier);

/* Newton on the barrier KKT system at (price, tau), warm-started from the
 * last solution (a price predictor is applied when only the price changed).
 * On return *flow is the target's barrier flow F_s (market units) and
 * *slope its derivative dF_s/dp (implicit differentiation, one more solve
 * with the last factorisation). Returns 0 when converged, 1 at the step
 * cap, 2 at the deadline (prillm__now() value, 0 = none): the point is
 * still interior and feasible; -1 when a factorisation failed. */
int prillm__barrier_solve(PrillmBarrier *barrier, double price, double tau, double deadline, double *flow,
                          double *slope, long *newton_steps);

/* The current barrier flows, n_users x n_providers in market units. */
void prillm__barrier_flows(const PrillmBarrier *barrier, double *flows);

/* Users with demand (0 means the target never has traffic). */
int prillm__barrier_users(const PrillmBarrier *barrier);

#endif
