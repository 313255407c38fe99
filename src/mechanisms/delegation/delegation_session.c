/* The delegation mechanism online: the user asks for the next assignment,
 * sends the query and feeds back what it observed. The same state machine
 * as the offline simulator decides, and a chunk's observations are summed
 * in the same order with the same compensation, so the decisions (and the
 * user-side tallies) are those of prillm_delegation_run on the same data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delegation_internal.h"
#include "internal.h"

struct PrillmDelegationSession {
    PrillmDelegationMech mech;
    int active;      /* a chunk is due                  */
    long long taken; /* queries of the chunk observed    */
    PrillmDelegationSum reward, pay, user;
    double billed;
    PrillmDelegationResult view; /* result with the unobservable fields NaN */
    PrillmDelegationOutcome *view_providers;
};

static void advance(PrillmDelegationSession *s) {
    s->active = prillm__delegation_mech_next(&s->mech);
    s->taken = 0;
    memset(&s->reward, 0, sizeof s->reward);
    memset(&s->pay, 0, sizeof s->pay);
    memset(&s->user, 0, sizeof s->user);
    s->billed = 0.0;
}

PrillmErrorCode prillm_delegation_session_create(const PrillmDelegationGame *game,
                                                 const PrillmDelegationSettings *settings,
                                                 PrillmDelegationSession **session, PrillmError *err) {
    if (!session) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "session pointer is NULL");
    *session = NULL;
    PrillmDelegationSession *s = prillm__calloc(1, sizeof *s);
    if (!s) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the delegation session");
    PrillmErrorCode rc = prillm__delegation_mech_init(&s->mech, game, settings, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->view_providers = prillm__calloc((size_t)game->n_providers, sizeof *s->view_providers);
    if (!s->view_providers) {
        prillm_delegation_session_free(s);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the delegation session");
    }
    advance(s);
    *session = s;
    prillm__clear_error(err);
    return PRILLM_OK;
}

int prillm_delegation_session_next(const PrillmDelegationSession *s, PrillmDelegationAssignment *next) {
    PrillmDelegationAssignment a = {-1, -1, -1};
    if (s && s->active) {
        a.provider = s->mech.provider;
        a.phase = s->mech.phase;
        a.query = s->mech.r->used + s->taken;
    }
    if (next) *next = a;
    return a.provider >= 0;
}

PrillmErrorCode prillm_delegation_session_observe(PrillmDelegationSession *s, int provider, double reward,
                                                  double tokens, double bill, PrillmError *err) {
    if (!s) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "session is NULL");
    if (!s->active)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the mechanism has finished: no query is due");
    if (provider != s->mech.provider)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "query %lld is due from provider \"%s\", not \"%s\"",
                            s->mech.r->used + s->taken, s->mech.game->providers[s->mech.provider].id,
                            provider >= 0 && provider < s->mech.game->n_providers ? s->mech.game->providers[provider].id
                                                                                   : "(out of range)");
    if (!isfinite(reward)) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "reward must be finite, got %g", reward);
    if (!(tokens >= 0.0 && tokens <= 1e12))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "tokens must be in [0, 1e12], got %g", tokens);
    if (!isfinite(bill)) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "bill must be finite, got %g", bill);
    prillm__delegation_sum_add(&s->reward, reward);
    prillm__delegation_sum_add(&s->pay, bill);
    prillm__delegation_sum_add(&s->user, reward - bill);
    s->billed += tokens;
    if (++s->taken == s->mech.count) {
        PrillmDelegationChunkSums sums = {s->taken,
                                          prillm__delegation_sum_value(&s->reward),
                                          prillm__delegation_sum_value(&s->pay),
                                          prillm__delegation_sum_value(&s->user),
                                          0.0,
                                          s->billed,
                                          0.0};
        prillm__delegation_mech_done(&s->mech, &sums);
        advance(s);
    }
    prillm__clear_error(err);
    return PRILLM_OK;
}

const PrillmDelegationResult *prillm_delegation_session_result(PrillmDelegationSession *s) {
    if (!s) return NULL;
    const PrillmDelegationResult *r = s->mech.r;
    s->view = *r;
    memcpy(s->view_providers, r->providers, (size_t)r->n_providers * sizeof *r->providers);
    s->view.providers = s->view_providers;
    /* the queries of the chunk under way count too */
    if (s->active && s->taken > 0) {
        PrillmDelegationTally *t = &s->view_providers[s->mech.provider].phase[s->mech.phase];
        t->queries += s->taken;
        t->reward += prillm__delegation_sum_value(&s->reward);
        t->payment += prillm__delegation_sum_value(&s->pay);
        t->user_utility += prillm__delegation_sum_value(&s->user);
        t->billed_tokens += s->billed;
        s->view.used += s->taken;
    }
    prillm__delegation_finish_totals(&s->view);
    s->view.status = s->active ? PRILLM_STATUS_UNSOLVED : PRILLM_STATUS_SOLVED; /* unsolved: still running */
    for (int i = 0; i < r->n_providers; i++) {
        PrillmDelegationOutcome *o = &s->view_providers[i];
        for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) o->phase[ph].provider_utility = o->phase[ph].true_tokens = NAN;
        o->total.provider_utility = o->total.true_tokens = NAN;
    }
    return &s->view;
}

void prillm_delegation_session_free(PrillmDelegationSession *s) {
    if (!s) return;
    prillm_delegation_result_free(s->mech.r);
    prillm__delegation_mech_free(&s->mech);
    free(s->view_providers);
    free(s);
}
