/* The four-phase mechanism's decisions as a state machine handing out
 * chunks of queries (docs/delegation.md; the steps follow the authors'
 * simulator at HEAD, shared/reference/mechanisms.md section 3.3). The
 * offline simulator (delegation.c) and the online session
 * (delegation_session.c) both drive it, so they decide identically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delegation_internal.h"
#include "delegation_random.h"
#include "internal.h"

enum { STAGE_EXPLORE, STAGE_EXPLOIT, STAGE_BONUS, STAGE_INCENTIVE, STAGE_UTILITY, STAGE_REASSIGN, STAGE_DONE };

static long long remaining(const PrillmDelegationMech *m) { return m->r->horizon - m->r->used; }

/* Clip a real query count to [0, remaining]. */
static long long clip_count(double x, long long cap) {
    if (!(x > 0.0)) return 0;
    if (x >= (double)cap) return cap;
    return (long long)floor(x);
}

PrillmErrorCode prillm__delegation_mech_init(PrillmDelegationMech *mech, const PrillmDelegationGame *game,
                                             const PrillmDelegationSettings *settings, PrillmError *err) {
    memset(mech, 0, sizeof *mech);
    if (!game || !game->providers) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "game is NULL");
    PrillmErrorCode rc = prillm_delegation_check_settings(settings, err);
    if (rc) return rc;
    int K = game->n_providers;
    if (K < 2)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "providers: the mechanism needs at least 2 providers (a second-best), got %d", K);
    double T = settings->horizon;
    /* the tiny factor keeps exact powers (T = 10^4, eps = 1/4) from landing just below */
    long long B = (long long)floor(pow(T, 2.0 * settings->epsilon) * (1.0 + 1e-12));
    if (B < 1) B = 1;
    if ((double)B * K > T)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "horizon %d is too small: exploration alone needs K B = %d x %lld queries "
                            "(raise horizon or lower epsilon)",
                            settings->horizon, K, B);

    double L = 0.0, max_mean_tokens = 0.0, min_reward = INFINITY, top_price = 0.0;
    for (int i = 0; i < K; i++) {
        const PrillmDelegationProvider *p = &game->providers[i];
        if (!p->models || p->n_models < 1 || !p->id)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "providers[%d] is not prepared", i);
        for (int j = 0; j < p->n_models; j++) {
            const PrillmDelegationModel *m = &p->models[j];
            if (!(m->score > 0.0 && m->score <= 1.0 && m->tokens >= 1.0 && m->max_tokens >= m->tokens &&
                  m->price >= 0.0 && isfinite(m->price) && isfinite(m->max_tokens)))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "providers[%d].models[%d] is invalid (run prillm_delegation_game_prepare first)", i, j);
            L = fmax(L, m->max_tokens);
            max_mean_tokens = fmax(max_mean_tokens, m->tokens);
            min_reward = fmin(min_reward, settings->reward * m->score);
        }
        top_price = fmax(top_price, p->models[0].price);
    }

    PrillmDelegationResult *r = prillm__calloc(1, sizeof *r);
    if (r) r->providers = prillm__calloc((size_t)K, sizeof *r->providers);
    mech->key = prillm__calloc((size_t)K, sizeof *mech->key);
    if (!r || !r->providers || !mech->key) {
        prillm_delegation_result_free(r);
        free(mech->key);
        mech->key = NULL;
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the delegation run");
    }
    mech->game = game;
    mech->s = settings;
    mech->r = r;
    mech->max_tokens = L;
    mech->top_price = top_price;
    for (int i = 0; i < K; i++) mech->key[i] = prillm__hash_text(game->providers[i].id);
    r->n_providers = K;
    r->horizon = settings->horizon;
    r->batch = B;
    r->m = pow(T, -settings->epsilon) * log((double)K * T);
    r->max_tokens = L;
    r->delta1 = -log(min_reward) + log(max_mean_tokens) + max_mean_tokens / L + 1.0;
    r->delta2 = log(settings->reward);
    r->stop_after = -1;
    r->runner_up = -1;
    r->reassign_threshold = NAN;
    r->reassign_stop_after = -1;
    r->first_best_utility = r->second_best_utility = -INFINITY;
    for (int i = 0; i < K; i++) {
        double u = prillm__delegation_honest_utility(&game->providers[i].models[0], settings->reward);
        r->providers[i].honest_utility = u;
        if (u > r->first_best_utility) {
            r->second_best_utility = r->first_best_utility;
            r->first_best_utility = u;
        } else if (u > r->second_best_utility) {
            r->second_best_utility = u;
        }
    }
    r->second_best_total = T * r->second_best_utility;
    r->slack = (settings->reward + L * top_price) *
               ((r->delta1 + 3.0) * K * (double)B + pow(T, 1.0 - settings->epsilon) * log((double)K * T));
    mech->stage = STAGE_EXPLORE;
    mech->cursor = 0;
    return PRILLM_OK;
}

void prillm__delegation_mech_free(PrillmDelegationMech *mech) {
    if (!mech) return;
    free(mech->key);
    mech->key = NULL;
}

/* After exploration: the best provider, u2, delta3, R and the threshold. */
static void end_exploration(PrillmDelegationMech *mech) {
    PrillmDelegationResult *r = mech->r;
    const PrillmDelegationSettings *s = mech->s;
    int K = r->n_providers;
    int best = 0;
    for (int i = 1; i < K; i++)
        if (r->providers[i].mean_utility > r->providers[best].mean_utility) best = i;
    double u2 = -INFINITY;
    for (int i = 0; i < K; i++)
        if (i != best) u2 = fmax(u2, r->providers[i].mean_utility);
    r->best = best;
    r->second_utility = u2;
    double delta3 = 0.0;
    for (int i = 0; i < K; i++) {
        if (i == best) continue;
        const PrillmDelegationOutcome *o = &r->providers[i];
        delta3 += log(o->mean_reward) - log(o->mean_tokens) - o->mean_tokens / mech->max_tokens;
    }
    r->delta3 = delta3;
    double R = (double)r->horizon - ((r->delta1 + 3.0) * K + r->delta2 + delta3) * (double)r->batch;
    r->exploit_budget = clip_count(R, remaining(mech));
    r->price_best = mech->game->providers[best].models[0].price;
    r->threshold = u2 - r->m * (s->reward + mech->max_tokens * r->price_best) / s->gamma;
    mech->done = 0;
    mech->batches = 0;
    mech->user_sum = 0.0;
}

/* delta_i of phase 4 from the provider's phase-1 averages; -infinity when
 * it never earned a reward (ln 0), so it gets no blind trust. */
static double utility_share(const PrillmDelegationMech *mech, const PrillmDelegationOutcome *o) {
    return mech->r->delta1 + log(o->mean_reward) - log(o->mean_tokens) - o->mean_tokens / mech->max_tokens;
}

static int due(PrillmDelegationMech *mech, int provider, int phase, long long count) {
    if (count > remaining(mech)) count = remaining(mech);
    if (count <= 0) return 0;
    mech->provider = provider;
    mech->phase = phase;
    mech->count = count;
    return 1;
}

int prillm__delegation_mech_next(PrillmDelegationMech *mech) {
    PrillmDelegationResult *r = mech->r;
    const PrillmDelegationSettings *s = mech->s;
    int K = r->n_providers;
    long long B = r->batch;
    for (;;) {
        switch (mech->stage) {
        case STAGE_EXPLORE:
            if (mech->cursor < K && due(mech, mech->cursor, PRILLM_PHASE_EXPLORE, B)) return 1;
            /* K B <= T: every provider was explored */
            end_exploration(mech);
            mech->stage = STAGE_EXPLOIT;
            break;
        case STAGE_EXPLOIT: {
            int best = r->best;
            if (!r->providers[best].stopped_early && mech->done < r->exploit_budget) {
                long long n = r->exploit_budget - mech->done < B ? r->exploit_budget - mech->done : B;
                if (due(mech, best, PRILLM_PHASE_EXPLOIT, n)) return 1;
            }
            mech->stage = STAGE_BONUS;
            break;
        }
        case STAGE_BONUS:
            mech->stage = STAGE_INCENTIVE;
            mech->cursor = 0;
            if (!r->providers[r->best].stopped_early && due(mech, r->best, PRILLM_PHASE_BONUS, B)) return 1;
            break;
        case STAGE_INCENTIVE:
            while (mech->cursor < K) {
                int i = mech->cursor++;
                if (i != r->best && due(mech, i, PRILLM_PHASE_INCENTIVE, B)) return 1;
            }
            mech->stage = STAGE_UTILITY;
            mech->cursor = 0;
            break;
        case STAGE_UTILITY:
            while (mech->cursor < K) {
                int i = mech->cursor++;
                PrillmDelegationOutcome *o = &r->providers[i];
                o->delta = utility_share(mech, o);
                if (!(o->delta > 0.0)) continue;
                double x = o->delta * (double)B;
                long long n = clip_count(x, remaining(mech));
                if (n < remaining(mech)) {
                    PrillmRng rng = prillm__rng_stream((uint64_t)s->seed, mech->key[i], PRILLM__DELEGATION_ROUNDING_TAG);
                    if (prillm__rng_uniform(&rng) < x - floor(x)) n++;
                }
                if (due(mech, i, PRILLM_PHASE_UTILITY, n)) return 1;
            }
            mech->stage = STAGE_REASSIGN;
            mech->cursor = 0;
            if (s->reassign && r->providers[r->best].stopped_early && remaining(mech) > 0) {
                /* the phase-1 runner-up (the provider whose average is u2) */
                int up = -1;
                for (int i = 0; i < K; i++)
                    if (i != r->best && (up < 0 || r->providers[i].mean_utility > r->providers[up].mean_utility)) up = i;
                r->runner_up = up;
                double p = mech->game->providers[up].models[0].price;
                r->reassign_threshold = r->second_utility - r->m * (s->reward + mech->max_tokens * p) / s->gamma;
                mech->done = 0;
                mech->batches = 0;
                mech->user_sum = 0.0;
            }
            break;
        case STAGE_REASSIGN:
            if (r->runner_up >= 0 && r->reassign_stop_after < 0 && due(mech, r->runner_up, PRILLM_PHASE_REASSIGN, B))
                return 1;
            mech->stage = STAGE_DONE;
            break;
        default:
            mech->provider = -1;
            mech->phase = -1;
            mech->count = 0;
            return 0;
        }
    }
}

void prillm__delegation_mech_done(PrillmDelegationMech *mech, const PrillmDelegationChunkSums *sums) {
    PrillmDelegationResult *r = mech->r;
    PrillmDelegationOutcome *o = &r->providers[mech->provider];
    PrillmDelegationTally *t = &o->phase[mech->phase];
    t->queries += sums->queries;
    t->reward += sums->reward;
    t->payment += sums->payment;
    t->user_utility += sums->user_utility;
    t->provider_utility += sums->provider_utility;
    t->billed_tokens += sums->billed_tokens;
    t->true_tokens += sums->true_tokens;
    r->used += sums->queries;
    switch (mech->stage) {
    case STAGE_EXPLORE:
        o->mean_utility = t->user_utility / (double)t->queries;
        o->mean_reward = t->reward / (double)t->queries;
        o->mean_tokens = t->billed_tokens / (double)t->queries;
        mech->cursor++;
        break;
    case STAGE_EXPLOIT:
    case STAGE_REASSIGN:
        mech->user_sum += sums->user_utility;
        mech->done += sums->queries;
        /* the first batch is unconditional */
        if (++mech->batches >= 2 && sums->queries > 0) {
            double threshold = mech->stage == STAGE_EXPLOIT ? r->threshold : r->reassign_threshold;
            if (mech->user_sum / (double)mech->done < threshold) {
                if (mech->stage == STAGE_EXPLOIT) {
                    o->stopped_early = 1;
                    r->stop_after = mech->done;
                } else {
                    r->reassign_stop_after = mech->done;
                }
            }
        }
        break;
    default:
        break;
    }
}

void prillm__delegation_finish_totals(PrillmDelegationResult *r) {
    r->user_utility = 0.0;
    for (int i = 0; i < r->n_providers; i++) {
        PrillmDelegationOutcome *o = &r->providers[i];
        PrillmDelegationTally *t = &o->total;
        memset(t, 0, sizeof *t);
        for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) {
            const PrillmDelegationTally *p = &o->phase[ph];
            t->queries += p->queries;
            t->reward += p->reward;
            t->payment += p->payment;
            t->user_utility += p->user_utility;
            t->provider_utility += p->provider_utility;
            t->billed_tokens += p->billed_tokens;
            t->true_tokens += p->true_tokens;
        }
        r->user_utility += t->user_utility;
    }
}
