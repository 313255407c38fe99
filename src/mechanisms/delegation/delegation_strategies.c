/* The provider behaviours of the paper's experiments (its STRAGETY table),
 * each a fixed action per phase. The manipulations that aim at u2 read the
 * mechanism's announced second-best average, as the authors' simulator
 * does: a provider that knows u2 can bill exactly down to it. */
#include <math.h>
#include <string.h>

#include "delegation_internal.h"

static const char *const strategy_names[] = {
#define PRILLM_X_(name, value, text, help) text,
    PRILLM_DELEGATION_STRATEGY_LIST(PRILLM_X_)
#undef PRILLM_X_
};

const char *prillm_delegation_strategy_name(int strategy) {
    if (strategy < 0 || strategy >= PRILLM_DELEGATION_N_STRATEGIES) return NULL;
    return strategy_names[strategy];
}

int prillm_delegation_strategy_index(const char *name) {
    if (!name) return -1;
    for (int s = 0; s < PRILLM_DELEGATION_N_STRATEGIES; s++)
        if (strcmp(strategy_names[s], name) == 0) return s;
    return -1;
}

static PrillmDelegationAction honest(void) {
    PrillmDelegationAction a = {0, 0.0, 0.0, 1.0, 1.0};
    return a;
}

/* The lowest-utility model, billed at the cap. */
static PrillmDelegationAction lie_all(const PrillmDelegationProvider *p, double max_tokens) {
    PrillmDelegationAction a = {p->n_models - 1, max_tokens, 0.0, 1.0, 1.0};
    return a;
}

/* Among models whose honest utility still reaches u2, inflate each just
 * enough to bring the user's expected utility down to u2 and keep the one
 * with the largest margin over its own cost. */
static PrillmDelegationAction lie_ours(const PrillmDelegationProvider *p, double u2, double reward,
                                       double max_tokens) {
    PrillmDelegationAction best = honest();
    double best_margin = -INFINITY;
    double billed_price = p->models[0].price;
    for (int j = 0; j < p->n_models; j++) {
        const PrillmDelegationModel *m = &p->models[j];
        if (prillm__delegation_honest_utility(m, reward) < u2) continue;
        double inflation = 0.0;
        /* at price 0 extra tokens earn nothing */
        if (billed_price > 0.0) inflation = fmax(0.0, floor((reward * m->score - u2) / billed_price - m->tokens));
        inflation = fmin(inflation, max_tokens);
        double margin = billed_price * fmin(m->tokens + inflation, max_tokens) - m->price * m->tokens;
        if (margin > best_margin) {
            best_margin = margin;
            best.model = j;
            best.inflation = inflation;
        }
    }
    return best;
}

/* Model substitution only: the model above u2 whose cost saving is largest. */
static PrillmDelegationAction lie_second_best(const PrillmDelegationProvider *p, double u2, double reward) {
    PrillmDelegationAction best = honest();
    double best_margin = -INFINITY;
    for (int j = 0; j < p->n_models; j++) {
        const PrillmDelegationModel *m = &p->models[j];
        if (prillm__delegation_honest_utility(m, reward) < u2) continue;
        double margin = (p->models[0].price - m->price) * m->tokens;
        if (margin > best_margin) {
            best_margin = margin;
            best.model = j;
        }
    }
    return best;
}

const char *prillm_delegation_play_group_name(int group) {
    static const char *const names[PRILLM_PLAY_GROUPS] = {"explore", "exploit", "trust"};
    if (group < 0 || group >= PRILLM_PLAY_GROUPS) return NULL;
    return names[group];
}

void prillm_delegation_extract_play(const PrillmDelegationModel *m, double u2, double reward, double max_tokens,
                                    double *quality, double *inflation) {
    double alpha = 1.0, beta = 1.0;
    if (m && m->price > 0.0 && m->score > 0.0 && m->tokens > 0.0 && isfinite(u2) &&
        prillm__delegation_honest_utility(m, reward) > u2) {
        alpha = fmax(0.0, fmin(1.0, (u2 + m->price * max_tokens) / (reward * m->score)));
        beta = (alpha * reward * m->score - u2) / (m->price * m->tokens);
        beta = fmax(1.0, fmin(beta, max_tokens / m->tokens));
    }
    if (quality) *quality = alpha;
    if (inflation) *inflation = beta;
}

static PrillmDelegationAction menu_action(const PrillmDelegationProvider *p, int phase, double u2, double reward,
                                          double max_tokens);

PrillmDelegationAction prillm__delegation_action(const PrillmDelegationProvider *p, int phase, double u2,
                                                 double reward, double max_tokens) {
    PrillmDelegationAction a = menu_action(p, phase, u2, reward, max_tokens);
    int group = phase == PRILLM_PHASE_EXPLORE ? PRILLM_PLAY_EXPLORE
                : phase == PRILLM_PHASE_EXPLOIT ? PRILLM_PLAY_EXPLOIT
                                                : PRILLM_PLAY_TRUST;
    const PrillmDelegationPlay *play = &p->play[group];
    if (!(play->weight > 0.0)) return a;
    a.weight = fmin(play->weight, 1.0);
    if (play->extract && group == PRILLM_PLAY_EXPLOIT) {
        prillm_delegation_extract_play(&p->models[0], u2, reward, max_tokens, &a.quality, &a.stretch);
    } else {
        a.quality = play->quality;
        a.stretch = play->inflation;
    }
    return a;
}

static PrillmDelegationAction menu_action(const PrillmDelegationProvider *p, int phase, double u2, double reward,
                                          double max_tokens) {
    int s = p->strategy;
    if (s == PRILLM_DELEGATION_HONEST) return honest();
    if (s == PRILLM_DELEGATION_DISHONEST_ALL) return lie_all(p, max_tokens);
    if (phase == PRILLM_PHASE_EXPLORE) return honest();
    if (phase != PRILLM_PHASE_EXPLOIT) return lie_all(p, max_tokens); /* blind trust */
    switch (s) {
    case PRILLM_DELEGATION_OURS: return lie_ours(p, u2, reward, max_tokens);
    case PRILLM_DELEGATION_DISHONEST_MODEL: {
        PrillmDelegationAction a = {p->n_models - 1, 0.0, 0.0, 1.0, 1.0};
        return a;
    }
    case PRILLM_DELEGATION_DISHONEST_LENGTH: {
        PrillmDelegationAction a = {0, max_tokens, 0.0, 1.0, 1.0};
        return a;
    }
    case PRILLM_DELEGATION_SECOND_BEST: return lie_second_best(p, u2, reward);
    default: return honest();
    }
}
