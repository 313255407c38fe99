/* The delegation game: providers, their model menus and strategies;
 * allocation, validation, and the ranking that makes model 0 the
 * advertised one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delegation_internal.h"
#include "internal.h"

PrillmDelegationGame *prillm_delegation_game_alloc(int n_providers, const int *n_models, PrillmError *err) {
    if (n_providers < 1 || n_providers > 100000) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "number of providers must be in [1, 100000], got %d", n_providers);
        return NULL;
    }
    if (!n_models) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "n_models is NULL");
        return NULL;
    }
    for (int i = 0; i < n_providers; i++)
        if (n_models[i] < 1 || n_models[i] > 100000) {
            prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models must hold 1 to 100000 models, got %d", i,
                         n_models[i]);
            return NULL;
        }
    PrillmDelegationGame *game = prillm__calloc(1, sizeof *game);
    if (!game || !(game->providers = prillm__calloc((size_t)n_providers, sizeof *game->providers))) {
        free(game);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating %d providers", n_providers);
        return NULL;
    }
    game->n_providers = n_providers;
    for (int i = 0; i < n_providers; i++) {
        PrillmDelegationProvider *p = &game->providers[i];
        p->strategy = PRILLM_DELEGATION_HONEST;
        p->n_models = n_models[i];
        p->models = prillm__calloc((size_t)n_models[i], sizeof *p->models);
        p->input_index = prillm__calloc((size_t)n_models[i], sizeof *p->input_index);
        if (!p->models || !p->input_index) {
            prillm_delegation_game_free(game);
            prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating providers[%d].models", i);
            return NULL;
        }
        for (int j = 0; j < n_models[i]; j++) {
            PrillmDelegationModel *m = &p->models[j];
            m->score = m->tokens = m->max_tokens = m->price = NAN;
            p->input_index[j] = j;
        }
    }
    return game;
}

void prillm_delegation_game_free(PrillmDelegationGame *game) {
    if (!game) return;
    for (int i = 0; i < game->n_providers && game->providers; i++) {
        PrillmDelegationProvider *p = &game->providers[i];
        for (int j = 0; j < p->n_models && p->models; j++) free(p->models[j].id);
        free(p->models);
        free(p->input_index);
        free(p->id);
    }
    free(game->providers);
    free(game);
}

static PrillmErrorCode check_model(const PrillmDelegationModel *m, int i, int j, PrillmError *err) {
    if (!m->id || !m->id[0])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models[%d].id must be a non-empty string", i, j);
    /* ln(score) enters delta1: a model that never scores breaks the scoring rule */
    if (!(m->score > 0.0 && m->score <= 1.0))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models[%d].score must be in (0, 1], got %g", i,
                            j, m->score);
    if (!(m->tokens >= 1.0 && m->tokens <= 1e12))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models[%d].tokens must be in [1, 1e12], got %g",
                            i, j, m->tokens);
    if (!(m->max_tokens >= m->tokens && m->max_tokens <= 1e12 && m->max_tokens == floor(m->max_tokens)))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "providers[%d].models[%d].max_tokens must be an integer in [tokens, 1e12], got %g", i, j,
                            m->max_tokens);
    if (!(m->price >= 0.0 && m->price <= 1e6))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models[%d].price must be in [0, 1e6], got %g", i,
                            j, m->price);
    return PRILLM_OK;
}

typedef struct {
    double utility;
    int index;
    PrillmDelegationModel model;
} RankedModel;

static int by_utility_desc(const void *a, const void *b) {
    const RankedModel *x = a, *y = b;
    if (x->utility != y->utility) return x->utility > y->utility ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index); /* stable */
}

PrillmErrorCode prillm_delegation_game_prepare(PrillmDelegationGame *game, const PrillmDelegationSettings *settings,
                                               PrillmError *err) {
    if (!game || !game->providers) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "game is NULL");
    PrillmErrorCode rc = prillm_delegation_check_settings(settings, err);
    if (rc) return rc;
    if (game->n_providers < 2)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "providers: the mechanism needs at least 2 providers (a second-best), got %d",
                            game->n_providers);
    for (int i = 0; i < game->n_providers; i++) {
        PrillmDelegationProvider *p = &game->providers[i];
        if (!p->id || !p->id[0])
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].id must be a non-empty string", i);
        for (int k = 0; k < i; k++)
            if (strcmp(game->providers[k].id, p->id) == 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].id \"%s\" repeats providers[%d].id", i,
                                    p->id, k);
        if (!prillm_delegation_strategy_name(p->strategy))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].strategy %d is not a strategy", i,
                                p->strategy);
        for (int g = 0; g < PRILLM_PLAY_GROUPS; g++) {
            const PrillmDelegationPlay *play = &p->play[g];
            const char *group = prillm_delegation_play_group_name(g);
            if (!(play->weight >= 0.0 && play->weight <= 1.0))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].play.%s.weight must be in [0, 1], got %g",
                                    i, group, play->weight);
            if (!(play->weight > 0.0)) continue;
            if (play->extract && g != PRILLM_PLAY_EXPLOIT)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "providers[%d].play.%s.extract is for the exploit group only", i, group);
            if (play->extract) continue;
            if (!(play->quality >= 0.0 && play->quality <= 1.0))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].play.%s.quality must be in [0, 1], got %g",
                                    i, group, play->quality);
            if (!(play->inflation >= 1.0 && play->inflation <= 1e6))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                    "providers[%d].play.%s.inflation must be in [1, 1e6], got %g", i, group,
                                    play->inflation);
        }
        if (p->n_models < 1 || !p->models || !p->input_index)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers[%d].models is empty", i);
        for (int j = 0; j < p->n_models; j++)
            if ((rc = check_model(&p->models[j], i, p->input_index[j], err))) return rc;
        RankedModel *ranked = malloc((size_t)p->n_models * sizeof *ranked);
        if (!ranked) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory sorting providers[%d].models", i);
        for (int j = 0; j < p->n_models; j++) {
            ranked[j].utility = prillm__delegation_honest_utility(&p->models[j], settings->reward);
            ranked[j].index = p->input_index[j];
            ranked[j].model = p->models[j];
        }
        qsort(ranked, (size_t)p->n_models, sizeof *ranked, by_utility_desc);
        for (int j = 0; j < p->n_models; j++) {
            p->models[j] = ranked[j].model;
            p->input_index[j] = ranked[j].index;
        }
        free(ranked);
    }
    return PRILLM_OK;
}

