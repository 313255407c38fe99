/* Shared by the delegation mechanism and its provider strategies. */
#ifndef PRILLM_DELEGATION_INTERNAL_H
#define PRILLM_DELEGATION_INTERNAL_H

#include "prillm/delegation.h"

/* What a provider does on every query of one phase: run models[model],
 * bill min(true tokens + inflation, L) tokens at the advertised price. */
typedef struct {
    int model;
    double inflation; /* extra billed tokens; >= L means "bill L" */
    /* the continuous play of the phase's group, resolved (extract turned
     * into its quality and inflation); weight 0 = menu action only */
    double weight, quality, stretch;
} PrillmDelegationAction;

/* The action of provider p's strategy in a phase. u2 is the second-best
 * phase-1 utility the mechanism announced (used from phase 2 on), reward b,
 * max_tokens L. */
PrillmDelegationAction prillm__delegation_action(const PrillmDelegationProvider *p, int phase, double u2,
                                                 double reward, double max_tokens);

static inline double prillm__delegation_honest_utility(const PrillmDelegationModel *m, double reward) {
    return reward * m->score - m->price * m->tokens;
}

#endif
