/* Internals of the competition module, exposed for the tests. */
#ifndef PRILLM_COMPETE_INTERNAL_H
#define PRILLM_COMPETE_INTERNAL_H

#include "internal.h"

/* history holds the leaders' prices of rounds 0..round, row by row
 * (n_leaders per row). The smallest k >= 2 such that row round is within
 * tolerance of row round - k (relative to max(1, |price|), every leader),
 * i.e. the best-response map revisited a price vector after k rounds; 0 if
 * none, and 0 when row round is within tolerance of row round - 1 (a fixed
 * point is convergence, not a cycle). */
int prillm__compete_find_cycle(const double *history, int round, int n_leaders, double tolerance);

#endif
