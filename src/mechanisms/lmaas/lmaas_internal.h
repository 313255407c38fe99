/* LMaaS internals shared by renting (RSR) and pricing (IMP). */
#ifndef PRILLM_LMAAS_INTERNAL_H
#define PRILLM_LMAAS_INTERNAL_H

#include "internal.h"
#include "prillm/lmaas.h"

/* What a scenario leaves the customer with, whatever the price: net value
 * per served unit q and the most it can serve s = min(u, E / energy);
 * usable = 0 when the link cannot carry the compressed stream. */
typedef struct {
    double net_value;
    double servable;
    int usable;
} PrillmLmaasOutcome;

PrillmLmaasOutcome prillm__lmaas_outcome(const PrillmLmaasMarket *mk, int customer, int model, PrillmLmaasScenario s);

/* Second-stage value of a rental tau in an outcome, at unit price beta. */
double prillm__lmaas_second_stage(PrillmLmaasOutcome o, double rental, double price, double premium);

/* Exact robust rental over a finite scenario list: the smallest tau in
 * [0, max_rental] maximising min_k V2_k(tau) - beta tau. *worst is the
 * index of a scenario attaining the minimum at that tau. */
void prillm__lmaas_robust_rental(const PrillmLmaasOutcome *outcomes, int count, double price, double premium,
                                 double max_rental, double *rental, double *profit, int *worst);

/* On-demand time bought in an outcome after renting tau at unit price
 * beta: the rest of the servable time when buying it pays. */
double prillm__lmaas_on_demand_time(PrillmLmaasOutcome o, double rental, double price, double premium);

/* The seller's lattice outcomes for customer i and model m (out has room
 * for points^2 entries); returns the count. */
int prillm__lmaas_lattice_outcomes(const PrillmLmaasMarket *mk, int i, int m, int points, PrillmLmaasOutcome *out);

/* Mean on-demand time over the lattice outcomes. */
double prillm__lmaas_expected_on_demand(const PrillmLmaasOutcome *lattice, int count, double rental, double price,
                                        double premium);

/* C_SSL if any price is finite, plus the fine-tuning cost of each model
 * with a finite price. */
double prillm__lmaas_fixed_cost(const PrillmLmaasMarket *mk, const double *prices);

#endif
