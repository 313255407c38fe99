/*
 * prillm — observed markets: what a calibration learns from.
 *
 * An observation set is one or more periods over ONE provider list and ONE
 * user list (same order in every period). Each period holds the market the
 * users faced (prices, capacities, delays, demands; values 0 and weights
 * (1, 1, 1) until a calibration fills them) and the flows that were seen:
 *   observed[i*m+j]  the flow (millions of tokens), or NaN when the cell was
 *                    not listed. An unlisted cell is CENSORED, not zero.
 *   upper[i*m+j]     for a censored cell, what is known about it: an upper
 *                    bound (the provider's smallest listed flow), or
 *                    INFINITY when nothing is known; NaN on observed cells.
 * Readers for the OpenRouter tables and a generic CSV layout live in
 * docs/calibration.md; the settings that shape a read (how many models and
 * apps, dates, capacity definition, ...) are calibration options.
 */
#ifndef PRILLM_OBSERVATIONS_H
#define PRILLM_OBSERVATIONS_H

#include "prillm/export.h"

#include "prillm/error.h"
#include "prillm/market.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *label;        /* period name ("2026-07-07", "day-3", ...)              */
    PrillmMarket *market;
    double *observed;   /* [n*m] observed flow, NaN = censored                   */
    double *upper;      /* [n*m] bound on a censored cell (INFINITY = none), NaN where observed */
    double *throughput; /* [m] output tokens per second, NaN if unknown          */
    double *tokens;     /* [m] the provider's total volume in the period, Mtok   */
} PrillmObservedPeriod;

typedef struct {
    int n_periods;
    int n_users, n_providers; /* shared by every period                        */
    PrillmObservedPeriod *periods;
    char layout[16];          /* "openrouter", "generic" or "synthetic"        */
    long observed_cells;      /* over all periods                              */
    long censored_cells;      /* of which with a finite upper bound: bounded_cells */
    long bounded_cells;
} PrillmObservations;

/* Allocate T periods of an n x m observation set: markets from
 * prillm_market_alloc, observed/upper/throughput/tokens NaN. */
PRILLM_API PrillmObservations *prillm_observations_alloc(int n_periods, int n_users, int n_providers, PrillmError *err);
PRILLM_API void prillm_observations_free(PrillmObservations *obs);

/* Check sizes, shared ids, every market, observed >= 0 or NaN, upper >= 0
 * or INFINITY on censored cells, and at least one observed cell. Recounts
 * observed/censored/bounded cells. */
PRILLM_API PrillmErrorCode prillm_observations_validate(PrillmObservations *obs, PrillmError *err);

/* Write obs in the generic CSV layout (providers.csv, flows.csv, delays.csv,
 * demands.csv) into an existing directory. */
PRILLM_API PrillmErrorCode prillm_observations_write_csv(const PrillmObservations *obs, const char *dir, PrillmError *err);

/* Observations generated from the model itself, for recovery tests and the
 * bundled demo data: T periods of a prillm_market_random(n, m, seed) market
 * whose prices move by +-30% from period to period, solved at the given
 * weights and values (values NULL: the random market's own), observed
 * flows = equilibrium * exp(noise * N(0,1)); each provider then lists only
 * its top `listed` apps per period (0 = all): the rest are censored with
 * the smallest listed flow as upper bound. */
PRILLM_API PrillmErrorCode prillm_observations_synthetic(int n_users, int n_providers, int n_periods, double w_congestion,
                                              double w_delay, const double *values, double noise, int listed,
                                              unsigned long long seed, PrillmObservations **out, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
