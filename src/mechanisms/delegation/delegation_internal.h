/* Shared by the delegation mechanism and its provider strategies. */
#ifndef PRILLM_DELEGATION_INTERNAL_H
#define PRILLM_DELEGATION_INTERNAL_H

#include <math.h>
#include <stdint.h>

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

/* ---- the mechanism's decisions, shared by the offline simulator and the
 * online session. It hands out chunks (provider, phase, count); the driver
 * serves the chunk's queries and reports their sums back, in the same
 * order and with the same rounding either way. */
typedef struct {
    long long queries;
    double reward, payment, user_utility, provider_utility, billed_tokens, true_tokens;
} PrillmDelegationChunkSums;

typedef struct {
    const PrillmDelegationGame *game;
    const PrillmDelegationSettings *s;
    PrillmDelegationResult *r;
    uint64_t *key;     /* [K] hash of the provider id */
    double max_tokens; /* L */
    double top_price;  /* highest advertised price */
    int stage, cursor; /* where the mechanism is    */
    long long done;    /* exploitation (or reassignment) queries so far */
    int batches;
    double user_sum;
    /* the chunk due */
    int provider, phase;
    long long count;
} PrillmDelegationMech;

PrillmErrorCode prillm__delegation_mech_init(PrillmDelegationMech *mech, const PrillmDelegationGame *game,
                                             const PrillmDelegationSettings *settings, PrillmError *err);
void prillm__delegation_mech_free(PrillmDelegationMech *mech); /* not the result */
/* The next chunk (mech->provider, phase, count >= 1); 0 when done. */
int prillm__delegation_mech_next(PrillmDelegationMech *mech);
/* Its sums once served (queries may be below count only if T ran out). */
void prillm__delegation_mech_done(PrillmDelegationMech *mech, const PrillmDelegationChunkSums *sums);
void prillm__delegation_finish_totals(PrillmDelegationResult *r);

/* Neumaier's compensated sum: a million per-query terms add up to the
 * correctly rounded total, so hand-checkable examples print 80, not
 * 79.99999999999984. */
typedef struct {
    double sum, carry;
} PrillmDelegationSum;

static inline void prillm__delegation_sum_add(PrillmDelegationSum *s, double x) {
    double t = s->sum + x;
    s->carry += fabs(s->sum) >= fabs(x) ? (s->sum - t) + x : (x - t) + s->sum;
    s->sum = t;
}

static inline double prillm__delegation_sum_value(const PrillmDelegationSum *s) { return s->sum + s->carry; }

#endif
