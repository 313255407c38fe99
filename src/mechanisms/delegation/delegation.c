/* The four-phase delegation mechanism and its simulator (docs/delegation.md;
 * the steps follow the authors' simulator at HEAD, as recorded in
 * shared/reference/mechanisms.md section 3.3). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "delegation_internal.h"
#include "delegation_random.h"
#include "internal.h"

/* ---- settings --------------------------------------------------------- */

#define OFFSET(field) offsetof(PrillmDelegationSettings, field)
static const PrillmOptionInfo delegation_options[] = {
    {"horizon", PRILLM_OPTION_INT, 1000000, 1, 1e9, NULL, "T, the number of queries the user delegates",
     OFFSET(horizon)},
    {"epsilon", PRILLM_OPTION_DOUBLE, 0.3, 1e-6, 0.5 - 1e-6, NULL,
     "epsilon in (0, 1/2): batch B = floor(T^(2 eps)), margin M = T^(-eps) ln(K T)", OFFSET(epsilon)},
    {"gamma", PRILLM_OPTION_DOUBLE, 3, 1e-6, 1e6, NULL,
     "early-stop threshold u2 - M (b + L p_max) / gamma", OFFSET(gamma)},
    {"reward", PRILLM_OPTION_DOUBLE, 1, 1e-9, 1e12, NULL, "b, the reward of a perfect answer (score 1)",
     OFFSET(reward)},
    {"eta", PRILLM_OPTION_DOUBLE, 0.9, 0, 1, NULL, "provider cost = eta x list price x true tokens", OFFSET(eta)},
    {"seed", PRILLM_OPTION_INT, 1, 0, 2147483647, NULL, "seed of the per-query draws", OFFSET(seed)},
    {"draws", PRILLM_OPTION_CHOICE, PRILLM_DRAW_BETA, 0, 2, "beta|bernoulli|mean",
     "score law around each model's mean (mean: no noise in scores or tokens)", OFFSET(draws)},
    {"concentration", PRILLM_OPTION_DOUBLE, 4, 1e-3, 1e9, NULL,
     "k of Beta(k mu, k (1 - mu)) scores (larger = less noise)", OFFSET(concentration)},
    {"token-sigma", PRILLM_OPTION_DOUBLE, 0.5, 0, 4, NULL,
     "sigma of the log-normal output tokens (mean kept, clipped to [1, max_tokens])", OFFSET(token_sigma)},
    {"provider-utility", PRILLM_OPTION_CHOICE, PRILLM_GAIN_OVER_HONEST, 0, 1, "gain|profit",
     "gain: eta (billed - list price x true tokens), 0 when honest; profit: billed - cost", OFFSET(provider_utility)},
    {"reassign", PRILLM_OPTION_CHOICE, 0, 0, 1, "off|on",
     "on: after an early stop, give the unused queries to the phase-1 runner-up (monitored like exploitation)",
     OFFSET(reassign)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_delegation_options(int *count) {
    if (count) *count = (int)(sizeof delegation_options / sizeof delegation_options[0]);
    return delegation_options;
}

#define DELEGATION_OPTION_COUNT ((int)(sizeof delegation_options / sizeof delegation_options[0]))

void prillm_delegation_default_settings(PrillmDelegationSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(delegation_options, DELEGATION_OPTION_COUNT, settings);
}

PrillmErrorCode prillm_delegation_set_option(PrillmDelegationSettings *settings, const char *name, const char *value,
                                             PrillmError *err) {
    return prillm_options_set(delegation_options, DELEGATION_OPTION_COUNT, settings, name, value, err);
}

PrillmErrorCode prillm_delegation_check_settings(const PrillmDelegationSettings *settings, PrillmError *err) {
    return prillm_options_check(delegation_options, DELEGATION_OPTION_COUNT, settings, err);
}

/* ---- the simulator ---------------------------------------------------- */

/* One query's true output tokens and score of model m. Tokens come first and
 * use a fixed number of draws, so they do not depend on the score law. */
static void draw(const PrillmDelegationSettings *s, const PrillmDelegationModel *m, PrillmRng *rng, double *tokens,
                 double *score) {
    if (s->draws == PRILLM_DRAW_MEAN) {
        *tokens = fmin(fmax(round(m->tokens), 1.0), m->max_tokens);
        *score = m->score;
        return;
    }
    double z = prillm__rng_normal(rng), sigma = s->token_sigma;
    *tokens = fmin(fmax(round(m->tokens * exp(sigma * z - 0.5 * sigma * sigma)), 1.0), m->max_tokens);
    if (s->draws == PRILLM_DRAW_BERNOULLI) *score = prillm__rng_uniform(rng) < m->score ? 1.0 : 0.0;
    else *score = prillm__rng_beta_mean(rng, m->score, s->concentration);
}

typedef struct {
    double tokens, billed, reward, pay, gain;
} QueryOutcome;

/* Provider p's query number n under an action: what it produces and bills. */
static QueryOutcome query_outcome(const PrillmDelegationSettings *s, const PrillmDelegationProvider *p, uint64_t key,
                                  uint64_t n, PrillmDelegationAction action, double L) {
    QueryOutcome q;
    const PrillmDelegationModel *advertised = &p->models[0], *used = &p->models[action.model];
    /* the mean law draws nothing: skip the stream */
    PrillmRng rng = {0};
    if (s->draws != PRILLM_DRAW_MEAN) rng = prillm__rng_stream((uint64_t)s->seed, key, n);
    int continuous = action.weight >= 1.0;
    if (action.weight > 0.0 && action.weight < 1.0) {
        PrillmRng coin = prillm__rng_stream((uint64_t)s->seed, key, PRILLM__DELEGATION_MIX_TAG ^ n);
        continuous = prillm__rng_uniform(&coin) < action.weight;
    }
    double score, list_cost;
    if (continuous) {
        /* the advertised model at effort alpha, billed beta x its tokens */
        draw(s, advertised, &rng, &q.tokens, &score);
        q.billed = fmin(round(action.stretch * q.tokens), L);
        q.reward = s->reward * action.quality * score;
        list_cost = action.quality * advertised->price * q.tokens;
    } else {
        draw(s, used, &rng, &q.tokens, &score);
        q.billed = fmin(q.tokens + action.inflation, L);
        q.reward = s->reward * score;
        list_cost = used->price * q.tokens;
    }
    q.pay = advertised->price * q.billed;
    /* eta (pay - list cost) rather than eta pay - eta list cost: exactly 0 when honest */
    q.gain = s->provider_utility == PRILLM_PROFIT ? q.pay - s->eta * list_cost : s->eta * (q.pay - list_cost);
    return q;
}

static PrillmDelegationAction action_of(const PrillmDelegationMech *mech, int i, int phase) {
    /* a reassigned query is exploitation to the runner-up */
    if (phase == PRILLM_PHASE_REASSIGN) phase = PRILLM_PHASE_EXPLOIT;
    return prillm__delegation_action(&mech->game->providers[i], phase, mech->r->second_utility, mech->s->reward,
                                     mech->max_tokens);
}

/* Serve the chunk due: its queries' sums, compensated per chunk. */
static PrillmDelegationChunkSums serve(const PrillmDelegationMech *mech, long long *served) {
    int i = mech->provider;
    const PrillmDelegationProvider *p = &mech->game->providers[i];
    const PrillmDelegationSettings *s = mech->s;
    PrillmDelegationAction action = action_of(mech, i, mech->phase);
    PrillmDelegationSum reward = {0, 0}, pay = {0, 0}, user = {0, 0}, provider = {0, 0};
    double billed_tokens = 0, true_tokens = 0; /* integers: exact below 2^53 */
    /* the mean law without a mixing coin: every query of the chunk is alike */
    int constant = s->draws == PRILLM_DRAW_MEAN && !(action.weight > 0.0 && action.weight < 1.0);
    QueryOutcome q = {0, 0, 0, 0, 0};
    for (long long k = 0; k < mech->count; k++) {
        uint64_t n = (uint64_t)served[i]++;
        if (k == 0 || !constant) q = query_outcome(s, p, mech->key[i], n, action, mech->max_tokens);
        prillm__delegation_sum_add(&reward, q.reward);
        prillm__delegation_sum_add(&pay, q.pay);
        prillm__delegation_sum_add(&user, q.reward - q.pay);
        prillm__delegation_sum_add(&provider, q.gain);
        billed_tokens += q.billed;
        true_tokens += q.tokens;
    }
    PrillmDelegationChunkSums sums = {mech->count,
                                      prillm__delegation_sum_value(&reward),
                                      prillm__delegation_sum_value(&pay),
                                      prillm__delegation_sum_value(&user),
                                      prillm__delegation_sum_value(&provider),
                                      billed_tokens,
                                      true_tokens};
    return sums;
}

PrillmErrorCode prillm_delegation_run(const PrillmDelegationGame *game, const PrillmDelegationSettings *settings,
                                      PrillmDelegationResult **result, PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
    PrillmDelegationMech mech;
    PrillmErrorCode rc = prillm__delegation_mech_init(&mech, game, settings, err);
    if (rc) return rc;
    long long *served = prillm__calloc((size_t)game->n_providers, sizeof *served);
    if (!served) {
        prillm_delegation_result_free(mech.r);
        prillm__delegation_mech_free(&mech);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the delegation run");
    }
    while (prillm__delegation_mech_next(&mech)) {
        PrillmDelegationChunkSums sums = serve(&mech, served);
        prillm__delegation_mech_done(&mech, &sums);
    }
    prillm__delegation_finish_totals(mech.r);
    mech.r->status = PRILLM_STATUS_SOLVED;
    *result = mech.r;
    free(served);
    prillm__delegation_mech_free(&mech);
    prillm__clear_error(err);
    return PRILLM_OK;
}

PrillmErrorCode prillm_delegation_simulate_query(const PrillmDelegationGame *game,
                                                 const PrillmDelegationSettings *settings, int provider, int phase,
                                                 long long n, double u2, double *reward, double *tokens, double *bill,
                                                 PrillmError *err) {
    if (!game || !game->providers || !settings || !reward || !tokens || !bill)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "simulate_query: a pointer is NULL");
    if (provider < 0 || provider >= game->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "provider %d is not in the game", provider);
    if (phase < 0 || phase >= PRILLM_PHASE_COUNT || n < 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "phase %d or query number %lld out of range", phase, n);
    double L = 0.0;
    for (int i = 0; i < game->n_providers; i++)
        for (int j = 0; j < game->providers[i].n_models; j++) L = fmax(L, game->providers[i].models[j].max_tokens);
    const PrillmDelegationProvider *p = &game->providers[provider];
    PrillmDelegationAction action =
        prillm__delegation_action(p, phase == PRILLM_PHASE_REASSIGN ? PRILLM_PHASE_EXPLOIT : phase, u2,
                                  settings->reward, L);
    QueryOutcome q = query_outcome(settings, p, prillm__hash_text(p->id), (uint64_t)n, action, L);
    *reward = q.reward;
    *tokens = q.billed;
    *bill = q.pay;
    prillm__clear_error(err);
    return PRILLM_OK;
}

void prillm_delegation_result_free(PrillmDelegationResult *result) {
    if (!result) return;
    free(result->providers);
    free(result);
}

const char *prillm_delegation_phase_name(int phase) {
    static const char *const names[PRILLM_PHASE_COUNT] = {"explore", "exploit", "bonus", "incentive", "utility",
                                                          "reassign"};
    if (phase < 0 || phase >= PRILLM_PHASE_COUNT) return NULL;
    return names[phase];
}
