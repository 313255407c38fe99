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

typedef struct {
    const PrillmDelegationGame *game;
    const PrillmDelegationSettings *s;
    PrillmDelegationResult *r;
    uint64_t *key;           /* [K] hash of the provider id     */
    long long *served;       /* [K] queries served so far       */
    double max_tokens;       /* L                               */
} Run;

static long long remaining(const Run *run) { return run->r->horizon - run->r->used; }

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

/* Neumaier's compensated sum: a million per-query terms add up to the
 * correctly rounded total, so hand-checkable examples print 80, not
 * 79.99999999999984. */
typedef struct {
    double sum, carry;
} Sum;

static inline void sum_add(Sum *s, double x) {
    double t = s->sum + x;
    s->carry += fabs(s->sum) >= fabs(x) ? (s->sum - t) + x : (x - t) + s->sum;
    s->sum = t;
}

static inline double sum_value(const Sum *s) { return s->sum + s->carry; }

/* Delegate up to count queries to provider i in a phase; returns how many
 * (fewer only when T runs out) and adds their user utility to *user_sum. */
static long long serve(Run *run, int i, int phase, long long count, PrillmDelegationAction action, double *user_sum) {
    const PrillmDelegationProvider *p = &run->game->providers[i];
    const PrillmDelegationSettings *s = run->s;
    const PrillmDelegationModel *used = &p->models[action.model];
    double billed_price = p->models[0].price, L = run->max_tokens;
    if (count > remaining(run)) count = remaining(run);
    if (count <= 0) return 0;
    PrillmDelegationTally *t = &run->r->providers[i].phase[phase];
    Sum reward_sum = {0, 0}, pay_sum = {0, 0}, user = {0, 0}, provider = {0, 0};
    double billed_tokens = 0, true_tokens = 0; /* integers: exact below 2^53 */
    const PrillmDelegationModel *advertised = &p->models[0];
    int mixed = action.weight > 0.0 && action.weight < 1.0;
    /* the mean law without a mixing coin: every query of the call is alike */
    int constant = s->draws == PRILLM_DRAW_MEAN && !mixed;
    double tokens = 0, score = 0, billed = 0, reward = 0, list_cost = 0, pay = 0, gain = 0;
    for (long long q = 0; q < count; q++) {
        uint64_t n = (uint64_t)run->served[i]++;
        if (q == 0 || !constant) {
            /* the mean law draws nothing: skip the stream */
            PrillmRng rng = {0};
            if (s->draws != PRILLM_DRAW_MEAN) rng = prillm__rng_stream((uint64_t)s->seed, run->key[i], n);
            int continuous = action.weight >= 1.0;
            if (mixed) {
                PrillmRng coin = prillm__rng_stream((uint64_t)s->seed, run->key[i], PRILLM__DELEGATION_MIX_TAG ^ n);
                continuous = prillm__rng_uniform(&coin) < action.weight;
            }
            if (continuous) {
                /* the advertised model at effort alpha, billed beta x its tokens */
                draw(s, advertised, &rng, &tokens, &score);
                billed = fmin(round(action.stretch * tokens), L);
                reward = s->reward * action.quality * score;
                list_cost = action.quality * advertised->price * tokens;
            } else {
                draw(s, used, &rng, &tokens, &score);
                billed = fmin(tokens + action.inflation, L);
                reward = s->reward * score;
                list_cost = used->price * tokens;
            }
            pay = billed_price * billed;
            /* eta (pay - list cost) rather than eta pay - eta list cost: exactly 0 when honest */
            gain = s->provider_utility == PRILLM_PROFIT ? pay - s->eta * list_cost : s->eta * (pay - list_cost);
        }
        sum_add(&reward_sum, reward);
        sum_add(&pay_sum, pay);
        sum_add(&user, reward - pay);
        sum_add(&provider, gain);
        billed_tokens += billed;
        true_tokens += tokens;
    }
    t->queries += count;
    t->reward += sum_value(&reward_sum);
    t->payment += sum_value(&pay_sum);
    t->user_utility += sum_value(&user);
    t->provider_utility += sum_value(&provider);
    t->billed_tokens += billed_tokens;
    t->true_tokens += true_tokens;
    run->r->used += count;
    if (user_sum) *user_sum += sum_value(&user);
    return count;
}

static PrillmDelegationAction action_of(const Run *run, int i, int phase) {
    return prillm__delegation_action(&run->game->providers[i], phase, run->r->second_utility, run->s->reward,
                                     run->max_tokens);
}

/* delta_i of phase 4 from the provider's phase-1 averages; -infinity when
 * it never earned a reward (ln 0), so it gets no blind trust. */
static double utility_share(const Run *run, const PrillmDelegationOutcome *o) {
    return run->r->delta1 + log(o->mean_reward) - log(o->mean_tokens) - o->mean_tokens / run->max_tokens;
}

/* Clip a real query count to [0, remaining]. */
static long long clip_count(double x, long long cap) {
    if (!(x > 0.0)) return 0;
    if (x >= (double)cap) return cap;
    return (long long)floor(x);
}

static void run_mechanism(Run *run) {
    const PrillmDelegationGame *game = run->game;
    const PrillmDelegationSettings *s = run->s;
    PrillmDelegationResult *r = run->r;
    int K = game->n_providers;
    long long B = r->batch;

    /* phase 1: exploration */
    for (int i = 0; i < K; i++) {
        PrillmDelegationOutcome *o = &r->providers[i];
        serve(run, i, PRILLM_PHASE_EXPLORE, B, action_of(run, i, PRILLM_PHASE_EXPLORE), NULL);
        const PrillmDelegationTally *t = &o->phase[PRILLM_PHASE_EXPLORE];
        o->mean_utility = t->user_utility / (double)t->queries;
        o->mean_reward = t->reward / (double)t->queries;
        o->mean_tokens = t->billed_tokens / (double)t->queries;
    }
    int best = 0;
    for (int i = 1; i < K; i++)
        if (r->providers[i].mean_utility > r->providers[best].mean_utility) best = i;
    double u2 = -INFINITY;
    for (int i = 0; i < K; i++)
        if (i != best) u2 = fmax(u2, r->providers[i].mean_utility);
    r->best = best;
    r->second_utility = u2;

    /* phase 2: exploitation with early stop */
    double delta3 = 0.0;
    for (int i = 0; i < K; i++) {
        if (i == best) continue;
        const PrillmDelegationOutcome *o = &r->providers[i];
        delta3 += log(o->mean_reward) - log(o->mean_tokens) - o->mean_tokens / run->max_tokens;
    }
    r->delta3 = delta3;
    double R = (double)r->horizon - ((r->delta1 + 3.0) * K + r->delta2 + delta3) * (double)B;
    r->exploit_budget = clip_count(R, remaining(run));
    r->price_best = game->providers[best].models[0].price;
    r->threshold = u2 - r->m * (s->reward + run->max_tokens * r->price_best) / s->gamma;
    PrillmDelegationAction exploit = action_of(run, best, PRILLM_PHASE_EXPLOIT);
    long long done = 0;
    double user_sum = 0.0;
    int batches = 0;
    while (done < r->exploit_budget) {
        long long n = r->exploit_budget - done < B ? r->exploit_budget - done : B;
        long long got = serve(run, best, PRILLM_PHASE_EXPLOIT, n, exploit, &user_sum);
        if (got == 0) break;
        done += got;
        /* the first batch is unconditional */
        if (++batches >= 2 && user_sum / (double)done < r->threshold) {
            r->providers[best].stopped_early = 1;
            r->stop_after = done;
            break;
        }
    }
    if (!r->providers[best].stopped_early)
        serve(run, best, PRILLM_PHASE_BONUS, B, action_of(run, best, PRILLM_PHASE_BONUS), NULL);

    /* phase 3: blind trust I, every other provider */
    for (int i = 0; i < K; i++)
        if (i != best) serve(run, i, PRILLM_PHASE_INCENTIVE, B, action_of(run, i, PRILLM_PHASE_INCENTIVE), NULL);

    /* phase 4: blind trust II, delta_i B queries with randomised rounding */
    for (int i = 0; i < K; i++) {
        PrillmDelegationOutcome *o = &r->providers[i];
        o->delta = utility_share(run, o);
        if (!(o->delta > 0.0)) continue;
        double x = o->delta * (double)B;
        long long n = clip_count(x, remaining(run));
        if (n < remaining(run)) {
            PrillmRng rng = prillm__rng_stream((uint64_t)s->seed, run->key[i], PRILLM__DELEGATION_ROUNDING_TAG);
            if (prillm__rng_uniform(&rng) < x - floor(x)) n++;
        }
        serve(run, i, PRILLM_PHASE_UTILITY, n, action_of(run, i, PRILLM_PHASE_UTILITY), NULL);
    }
}

static void finish_totals(PrillmDelegationResult *r) {
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

PrillmErrorCode prillm_delegation_run(const PrillmDelegationGame *game, const PrillmDelegationSettings *settings,
                                      PrillmDelegationResult **result, PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
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
    Run run = {game, settings, r, NULL, NULL, L};
    if (r) r->providers = prillm__calloc((size_t)K, sizeof *r->providers);
    run.key = prillm__calloc((size_t)K, sizeof *run.key);
    run.served = prillm__calloc((size_t)K, sizeof *run.served);
    if (!r || !r->providers || !run.key || !run.served) {
        prillm_delegation_result_free(r);
        free(run.key);
        free(run.served);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the delegation run");
    }
    for (int i = 0; i < K; i++) run.key[i] = prillm__hash_text(game->providers[i].id);
    r->n_providers = K;
    r->horizon = settings->horizon;
    r->batch = B;
    r->m = pow(T, -settings->epsilon) * log((double)K * T);
    r->max_tokens = L;
    r->delta1 = -log(min_reward) + log(max_mean_tokens) + max_mean_tokens / L + 1.0;
    r->delta2 = log(settings->reward);
    r->stop_after = -1;
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

    run_mechanism(&run);
    finish_totals(r);
    r->status = PRILLM_STATUS_SOLVED;
    free(run.key);
    free(run.served);
    *result = r;
    prillm__clear_error(err);
    return PRILLM_OK;
}

void prillm_delegation_result_free(PrillmDelegationResult *result) {
    if (!result) return;
    free(result->providers);
    free(result);
}

const char *prillm_delegation_phase_name(int phase) {
    static const char *const names[PRILLM_PHASE_COUNT] = {"explore", "exploit", "bonus", "incentive", "utility"};
    if (phase < 0 || phase >= PRILLM_PHASE_COUNT) return NULL;
    return names[phase];
}
