/*
 * prillm — the users' equilibrium traffic split.
 *
 * Given prices, each user i splits its demand D_i over providers to minimise
 * its own cost; the unique Nash equilibrium is the minimiser of the strictly
 * convex potential (DESIGN.md section 2)
 *   Phi(f) = sum_ij c_ij f_ij + sum_j a_j/2 (F_j^2 + sum_i f_ij^2),
 *   c_ij = w_price p_j + w_delay d_ij - b_j,   a_j = w_congestion / capacity_j,
 * subject to sum_j f_ij = D_i, f_ij >= 0.
 *
 * The "exact" method finds the active set with water-filling Gauss-Seidel
 * sweeps, then solves the reduced linear system for that set exactly and
 * corrects the set until the KKT conditions hold. Every answer is certified:
 * info.kkt_violation is recomputed from the returned flows.
 *
 * Lifecycle (OSQP style): setup, solve, [update prices, solve]..., cleanup.
 */
#ifndef PRILLM_EQUILIBRIUM_H
#define PRILLM_EQUILIBRIUM_H

#include "prillm/export.h"

#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PRILLM_EQ_EXACT = 0,        /* Gauss-Seidel + exact active-set solve      */
    PRILLM_EQ_GAUSS_SEIDEL = 1, /* water-filling sweeps only (slow, a check)  */
    PRILLM_EQ_IPOPT = 2         /* generic interior point QP (a reference)    */
} PrillmEquilibriumMethod;

typedef struct {
    int method;          /* PrillmEquilibriumMethod                        */
    double tolerance;    /* target for info.kkt_violation (relative)       */
    int max_rounds;      /* exact active-set corrections before giving up  */
    int presweeps;       /* Gauss-Seidel sweeps before the first exact solve */
    int max_sweeps;      /* Gauss-Seidel sweeps in total                   */
    double time_limit;   /* seconds; 0 = none                              */
    int verbose;         /* progress lines on stderr                       */
} PrillmEquilibriumSettings;

/* The option table behind PrillmEquilibriumSettings. */
PRILLM_API const PrillmOptionInfo *prillm_equilibrium_options(int *count);
PRILLM_API void prillm_equilibrium_default_settings(PrillmEquilibriumSettings *settings);
/* Set one option from text ("1e-10", "ipopt"), validated against the table. */
PRILLM_API PrillmErrorCode prillm_equilibrium_set_option(PrillmEquilibriumSettings *settings,
                                              const char *name, const char *value,
                                              PrillmError *err);
PRILLM_API PrillmErrorCode prillm_equilibrium_check_settings(const PrillmEquilibriumSettings *settings,
                                                  PrillmError *err);

typedef struct {
    PrillmStatus status;
    /* Largest violation over all pairs of the scaled complementarity residual
     * |min(f_ij / D_i, (g_ij - lambda_i) / G_i)| and of the relative demand
     * residual, where g_ij = c_ij + a_j (F_j + f_ij) is user i's marginal
     * cost at provider j, lambda_i the demand-weighted mean of g_ij, and
     * G_i = max_{j: f_ij > 0} (|c_ij| + a_j (F_j + f_ij)), the size of the
     * terms g_ij is made of (round-off is relative to it). Zero exactly at
     * the equilibrium; recomputed from the returned flows. */
    double kkt_violation;
    double demand_residual; /* max_i |sum_j f_ij - D_i| / D_i              */
    double potential;       /* Phi(f) at the returned flows                */
    int iterations;         /* exact active-set solves                     */
    int sweeps;             /* Gauss-Seidel sweeps                         */
    long active_pairs;      /* pairs with f_ij > 0                         */
    double seconds;         /* wall time of the solve call                 */
} PrillmEquilibriumInfo;

/* Outputs are NaN unless status is solved or inaccurate (so also after
 * update_price, until the next solve). */
typedef struct {
    int n_users;
    int n_providers;
    double *flows;         /* [n_users * n_providers], row-major          */
    double *provider_flow; /* [n_providers], F_j                          */
    double *lambda;        /* [n_users], marginal cost of user i's last token */
    PrillmEquilibriumInfo info;
} PrillmEquilibrium;

typedef struct PrillmEquilibriumSolver PrillmEquilibriumSolver;

/* Validates the market and settings (settings may be NULL for defaults) and
 * copies what the solver needs: the market may be freed afterwards. */
PRILLM_API PrillmErrorCode prillm_equilibrium_setup(PrillmEquilibriumSolver **solver,
                                         const PrillmMarket *market,
                                         const PrillmEquilibriumSettings *settings,
                                         PrillmError *err);
/* Solve; the answer stays valid until the next solve or cleanup. A solve that
 * runs but does not reach the tolerance returns PRILLM_OK with status
 * inaccurate; the call itself fails only for errors (memory, Ipopt absent). */
PRILLM_API PrillmErrorCode prillm_equilibrium_solve(PrillmEquilibriumSolver *solver, PrillmError *err);
PRILLM_API const PrillmEquilibrium *prillm_equilibrium_solution(const PrillmEquilibriumSolver *solver);
/* Change one provider's price; the next solve warm-starts from the last one. */
PRILLM_API PrillmErrorCode prillm_equilibrium_update_price(PrillmEquilibriumSolver *solver,
                                                int provider, double price,
                                                PrillmError *err);
PRILLM_API void prillm_equilibrium_cleanup(PrillmEquilibriumSolver *solver);

/* Recompute the certificate of any flows (n_users * n_providers) for the
 * market: kkt_violation, demand_residual, potential, active_pairs; lambda
 * (may be NULL) receives each user's multiplier estimate. */
PRILLM_API PrillmErrorCode prillm_equilibrium_certify(const PrillmMarket *market, const double *flows,
                                           double *lambda, PrillmEquilibriumInfo *info,
                                           PrillmError *err);

/* The equilibrium as the JSON object that prillm equilibrium prints (and
 * prillm serve answers): status, method (method is a
 * PrillmEquilibriumMethod), users, providers, flows (one row per user),
 * provider_flow, lambda and the certificate (kkt_violation,
 * demand_residual, potential, iterations, sweeps, active_pairs, seconds);
 * NaN numbers print as null. eq must be a solution of market (same size).
 * Writes to out (which stays open; a memory stream from open_memstream
 * collects it as a string). Returns PRILLM_ERR_INVALID_ARGUMENT for NULL or
 * mismatched arguments (nothing written), PRILLM_ERR_IO when the stream
 * reports a write error. */
PRILLM_API PrillmErrorCode prillm_equilibrium_write_json(const PrillmMarket *market, const PrillmEquilibrium *eq,
                                                         int method, FILE *out, PrillmError *err);

/* How much of the users x providers flow matrix an answer carries (a
 * 10000 x 500 market's flows are 5 million numbers):
 *   PRILLM_FLOWS_ALL   every flow, one row per user (the default);
 *   PRILLM_FLOWS_NONE  none: the provider totals, lambda and the
 *                      certificate only;
 *   PRILLM_FLOWS_TOP   for each user its K largest positive flows, largest
 *                      first (ties to the lower provider index).
 * prillm equilibrium --no-flows / --top K and prillm-sweep scenarios use
 * these. */
typedef enum { PRILLM_FLOWS_ALL = 0, PRILLM_FLOWS_NONE = 1, PRILLM_FLOWS_TOP = 2 } PrillmFlowsShown;

/* The indices of the (at most) k largest positive entries of row[0..m-1]
 * into best[0..k-1], largest first, ties to the lower index; NaN and
 * entries <= 0 are never chosen. O(m k). Returns how many were chosen
 * (0..k), or -1 for NULL pointers, m < 0 or k < 1 (nothing written). */
PRILLM_API int prillm_flows_top(const double *row, int m, int k, int *best);

/* prillm_equilibrium_write_json with the flows limited: shown is a
 * PrillmFlowsShown; top is K for PRILLM_FLOWS_TOP (>= 1, larger than the
 * number of providers is allowed), ignored otherwise. ALL writes exactly
 * what prillm_equilibrium_write_json writes; NONE leaves the "flows" key
 * out; TOP writes "top_flows" instead of "flows": one list per user of
 * {"provider": ID, "flow": x}. Everything is written to out as it is
 * produced (nothing of the document is held in memory). Errors as
 * prillm_equilibrium_write_json, and PRILLM_ERR_INVALID_ARGUMENT for a
 * shown or top out of range. */
PRILLM_API PrillmErrorCode prillm_equilibrium_write_json_flows(const PrillmMarket *market,
                                                               const PrillmEquilibrium *eq, int method, int shown,
                                                               int top, FILE *out, PrillmError *err);
#ifdef __cplusplus
}
#endif
#endif
