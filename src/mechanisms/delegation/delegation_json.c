/* The delegation file (JSON in) and the run's report (JSON out); the keys
 * are documented in docs/delegation.md. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delegation_internal.h"
#include "internal.h"
#include "json_document.h"

/* ---- reading ---------------------------------------------------------- */

static int is_option(const char *key) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    for (int k = 0; k < count; k++)
        if (strcmp(opts[k].name, key) == 0) return 1;
    return 0;
}

/* Objects here are small: a file with more keys than any object needs is
 * refused before the shared checks. */
static PrillmErrorCode check_keys(const cJSON *object, const char *where, const char *const *known, int options_too,
                                  const PrillmJsonWarner *w, PrillmError *err) {
    enum { MAX_KEYS = 64 };
    int count = 0;
    for (const cJSON *a = object->child; a; a = a->next)
        if (++count > MAX_KEYS) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s has more than %d keys", where, MAX_KEYS);
    return prillm__json_check_keys(object, where, known, options_too ? is_option : NULL, w, err);
}

static PrillmErrorCode get_number(const cJSON *object, const char *key, const char *where, double *out,
                                  PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s is missing", where, key);
    if (!cJSON_IsNumber(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a number", where, key);
    if (!isfinite(item->valuedouble))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be finite", where, key);
    *out = item->valuedouble;
    return PRILLM_OK;
}

static PrillmErrorCode get_string(const cJSON *object, const char *key, const char *where, char **out,
                                  PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s is missing", where, key);
    if (!cJSON_IsString(item) || !item->valuestring || !item->valuestring[0])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a non-empty string", where, key);
    if (!(*out = prillm__strdup(item->valuestring)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading %s.%s", where, key);
    return PRILLM_OK;
}

static const cJSON *get_array(const cJSON *object, const char *key, const char *where, PrillmErrorCode *rc,
                              PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item) *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s%s is missing", where, *where ? "." : "", key);
    else if (!cJSON_IsArray(item))
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s%s must be an array", where, *where ? "." : "", key);
    else if (!item->child)
        *rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s%s%s is empty", where, *where ? "." : "", key);
    else return item;
    return NULL;
}

/* Settings in the file go through the same validation as command-line flags. */
static PrillmErrorCode read_settings(const cJSON *root, PrillmDelegationSettings *settings, PrillmError *err) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    for (int k = 0; k < count; k++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, opts[k].name);
        if (!item) continue;
        char text[64];
        const char *value;
        if (opts[k].type == PRILLM_OPTION_CHOICE) {
            if (!cJSON_IsString(item) || !item->valuestring)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be one of the strings %s", opts[k].name,
                                    opts[k].choices);
            value = item->valuestring;
        } else {
            if (!cJSON_IsNumber(item))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be a number", opts[k].name);
            if (!isfinite(item->valuedouble))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"%s\" must be finite", opts[k].name);
            value = prillm_format_double(item->valuedouble, text, sizeof text);
        }
        PrillmErrorCode rc = prillm_delegation_set_option(settings, opts[k].name, value, err);
        if (rc) {
            char message[sizeof err->message];
            snprintf(message, sizeof message, "%s", err ? err->message : "bad setting");
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s", message);
        }
    }
    return PRILLM_OK;
}

static PrillmErrorCode read_models(const cJSON *list, PrillmDelegationProvider *p, int i, const PrillmJsonWarner *w,
                                   PrillmError *err) {
    static const char *const known[] = {"id", "score", "tokens", "max_tokens", "price", NULL};
    int j = 0;
    for (const cJSON *item = list->child; item; item = item->next, j++) {
        char where[64];
        snprintf(where, sizeof where, "providers[%d].models[%d]", i, j);
        if (!cJSON_IsObject(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
        PrillmDelegationModel *m = &p->models[j];
        PrillmErrorCode rc;
        if ((rc = check_keys(item, where, known, 0, w, err))) return rc;
        if ((rc = get_string(item, "id", where, &m->id, err))) return rc;
        if ((rc = get_number(item, "score", where, &m->score, err))) return rc;
        if ((rc = get_number(item, "tokens", where, &m->tokens, err))) return rc;
        if ((rc = get_number(item, "max_tokens", where, &m->max_tokens, err))) return rc;
        if ((rc = get_number(item, "price", where, &m->price, err))) return rc;
    }
    return PRILLM_OK;
}

/* "play": {"explore"|"exploit"|"trust": {"quality", "inflation", "weight",
 * "extract"}}; a group given without weight is played on every query. */
static PrillmErrorCode read_play(const cJSON *play, PrillmDelegationProvider *p, int i, const PrillmJsonWarner *w,
                                 PrillmError *err) {
    static const char *const groups[] = {"explore", "exploit", "trust", NULL};
    static const char *const known[] = {"quality", "inflation", "weight", "extract", NULL};
    char where[64];
    snprintf(where, sizeof where, "providers[%d].play", i);
    if (!cJSON_IsObject(play)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    PrillmErrorCode rc = check_keys(play, where, groups, 0, w, err);
    if (rc) return rc;
    for (int g = 0; g < PRILLM_PLAY_GROUPS; g++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(play, groups[g]);
        if (!item) continue;
        snprintf(where, sizeof where, "providers[%d].play.%s", i, groups[g]);
        if (!cJSON_IsObject(item)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
        if ((rc = check_keys(item, where, known, 0, w, err))) return rc;
        PrillmDelegationPlay *d = &p->play[g];
        d->weight = d->quality = d->inflation = 1.0;
        d->extract = 0;
        if (cJSON_GetObjectItemCaseSensitive(item, "weight") && (rc = get_number(item, "weight", where, &d->weight, err)))
            return rc;
        if (cJSON_GetObjectItemCaseSensitive(item, "quality") &&
            (rc = get_number(item, "quality", where, &d->quality, err)))
            return rc;
        if (cJSON_GetObjectItemCaseSensitive(item, "inflation") &&
            (rc = get_number(item, "inflation", where, &d->inflation, err)))
            return rc;
        const cJSON *extract = cJSON_GetObjectItemCaseSensitive(item, "extract");
        if (extract) {
            if (!cJSON_IsBool(extract))
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.extract must be true or false", where);
            d->extract = cJSON_IsTrue(extract);
        }
    }
    return PRILLM_OK;
}

static PrillmErrorCode read_game(const cJSON *root, const PrillmJsonWarner *w, PrillmDelegationGame **out, PrillmError *err) {
    static const char *const known[] = {"id", "strategy", "models", "play", NULL};
    PrillmErrorCode rc = PRILLM_OK;
    const cJSON *list = get_array(root, "providers", "", &rc, err);
    if (!list) return rc;
    int K = cJSON_GetArraySize(list);
    if (K > 100000) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "providers has %d entries (at most 100000)", K);
    int *n_models = calloc((size_t)K, sizeof *n_models);
    if (!n_models) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading providers");
    int i = 0;
    for (const cJSON *p = list->child; p; p = p->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "providers[%d]", i);
        if (!cJSON_IsObject(p)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
            break;
        }
        if ((rc = check_keys(p, where, known, 0, w, err))) break;
        const cJSON *models = get_array(p, "models", where, &rc, err);
        if (!models) break;
        n_models[i] = cJSON_GetArraySize(models);
    }
    PrillmDelegationGame *game = rc ? NULL : prillm_delegation_game_alloc(K, n_models, err);
    free(n_models);
    if (rc) return rc;
    if (!game) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    i = 0;
    for (const cJSON *item = list->child; item && !rc; item = item->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "providers[%d]", i);
        PrillmDelegationProvider *p = &game->providers[i];
        if ((rc = get_string(item, "id", where, &p->id, err))) break;
        const cJSON *strategy = cJSON_GetObjectItemCaseSensitive(item, "strategy");
        if (strategy) {
            int s = cJSON_IsString(strategy) ? prillm_delegation_strategy_index(strategy->valuestring) : -1;
            if (s < 0) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                  "%s.strategy must be one of \"ours\", \"honest\", \"dishonest-model\", "
                                  "\"dishonest-length\", \"dishonest-all\", \"second-best\"",
                                  where);
                break;
            }
            p->strategy = s;
        }
        rc = read_models(cJSON_GetObjectItemCaseSensitive(item, "models"), p, i, w, err);
        const cJSON *play = cJSON_GetObjectItemCaseSensitive(item, "play");
        if (!rc && play) rc = read_play(play, p, i, w, err);
    }
    if (rc) {
        prillm_delegation_game_free(game);
        return rc;
    }
    *out = game;
    return PRILLM_OK;
}

PrillmErrorCode prillm_delegation_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                             PrillmDelegationSettings *settings, PrillmDelegationGame **game,
                                             PrillmError *err) {
    static const char *const known[] = {"providers", "description", NULL};
    if (!game) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "game output pointer is NULL");
    *game = NULL;
    if (!text || !settings) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "JSON text or settings is NULL");
    PrillmJsonWarner w = {warn, warn_context};
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse(text, length, NULL, "object", &root, err);
    if (rc) return rc;
    PrillmDelegationSettings changed = *settings;
    if (!cJSON_IsObject(root)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the delegation file must be a JSON object");
        goto done;
    }
    if ((rc = check_keys(root, "delegation file", known, 1, &w, err))) goto done;
    if ((rc = read_settings(root, &changed, err))) goto done;
    if ((rc = read_game(root, &w, game, err))) goto done;
    if ((rc = prillm_delegation_game_prepare(*game, &changed, err))) goto done;
    *settings = changed;
done:
    cJSON_Delete(root);
    if (rc) {
        prillm_delegation_game_free(*game);
        *game = NULL;
    } else {
        prillm__clear_error(err);
    }
    return rc;
}

PrillmErrorCode prillm_delegation_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                            PrillmDelegationSettings *settings, PrillmDelegationGame **game,
                                            PrillmError *err) {
    if (game) *game = NULL;
    if (!stream) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "stream is NULL");
    char *buf;
    size_t len;
    PrillmErrorCode rc = prillm__json_read_stream(stream, "the delegation file", "reading the delegation file failed",
                                                  &buf, &len, err);
    if (rc) return rc;
    rc = prillm_delegation_parse_json(buf, len, warn, warn_context, settings, game, err);
    free(buf);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

static void key_number(FILE *out, const char *key, double value, int comma) {
    fprintf(out, "\"%s\": ", key);
    prillm__json_number(out, value);
    if (comma) fputs(", ", out);
}

static void write_tally(FILE *out, const PrillmDelegationTally *t) {
    fputs("{", out);
    key_number(out, "queries", (double)t->queries, 1);
    key_number(out, "reward", t->reward, 1);
    key_number(out, "payment", t->payment, 1);
    key_number(out, "user_utility", t->user_utility, 1);
    key_number(out, "provider_utility", t->provider_utility, 1);
    key_number(out, "billed_tokens", t->billed_tokens, 1);
    key_number(out, "true_tokens", t->true_tokens, 0);
    fputs("}", out);
}

static void write_settings(FILE *out, const PrillmDelegationSettings *s) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    fputs("  \"settings\": {", out);
    for (int k = 0; k < count; k++) {
        const char *base = (const char *)s + opts[k].offset;
        /* reassign is echoed only when on: the authors' mechanism prints as before */
        if (strcmp(opts[k].name, "reassign") == 0 && !s->reassign) continue;
        fprintf(out, "%s\"%s\": ", k ? ", " : "", opts[k].name);
        if (opts[k].type == PRILLM_OPTION_DOUBLE) {
            prillm__json_number(out, *(const double *)(const void *)base);
        } else if (opts[k].type == PRILLM_OPTION_INT) {
            fprintf(out, "%d", *(const int *)(const void *)base);
        } else {
            int index = *(const int *)(const void *)base;
            const char *c = opts[k].choices;
            for (int n = 0; n < index && strchr(c, '|'); n++) c = strchr(c, '|') + 1;
            size_t len = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
            fprintf(out, "\"%.*s\"", (int)len, c);
        }
    }
    fputs("},\n", out);
}

PrillmErrorCode prillm_delegation_write_json(FILE *out, const PrillmDelegationGame *game,
                                             const PrillmDelegationSettings *settings,
                                             const PrillmDelegationResult *r, PrillmError *err) {
    if (!out || !game || !settings || !r || r->n_providers != game->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "write_json needs a stream, the game, settings and its result");
    int K = r->n_providers;
    fputs("{\n", out);
    fprintf(out, "  \"status\": \"%s\",\n", prillm_status_name(r->status));
    write_settings(out, settings);
    fputs("  \"mechanism\": {", out);
    key_number(out, "K", K, 1);
    key_number(out, "T", (double)r->horizon, 1);
    key_number(out, "B", (double)r->batch, 1);
    key_number(out, "M", r->m, 1);
    key_number(out, "L", r->max_tokens, 1);
    key_number(out, "delta1", r->delta1, 1);
    key_number(out, "delta2", r->delta2, 1);
    key_number(out, "delta3", r->delta3, 1);
    key_number(out, "R", (double)r->exploit_budget, 1);
    key_number(out, "p_max", r->price_best, 1);
    key_number(out, "threshold", r->threshold, 0);
    fputs("},\n  \"best\": ", out);
    prillm__json_string(out, game->providers[r->best].id);
    fputs(",\n  ", out);
    key_number(out, "second_utility", r->second_utility, 0);
    fputs(",\n  \"stopped_early\": [", out);
    for (int i = 0, first = 1; i < K; i++)
        if (r->providers[i].stopped_early) {
            if (!first) fputs(", ", out);
            prillm__json_string(out, game->providers[i].id);
            first = 0;
        }
    fputs("],\n  ", out);
    key_number(out, "stop_after", r->stop_after < 0 ? NAN : (double)r->stop_after, 1);
    key_number(out, "used", (double)r->used, 1);
    key_number(out, "unused", (double)(r->horizon - r->used), 0);
    if (settings->reassign) {
        fputs(",\n  \"reassigned_to\": ", out);
        if (r->runner_up >= 0) prillm__json_string(out, game->providers[r->runner_up].id);
        else fputs("null", out);
        fputs(", ", out);
        long long moved = 0;
        for (int i = 0; i < K; i++) moved += r->providers[i].phase[PRILLM_PHASE_REASSIGN].queries;
        key_number(out, "reassigned", (double)moved, 1);
        key_number(out, "reassign_threshold", r->reassign_threshold, 1);
        key_number(out, "reassign_stop_after", r->reassign_stop_after < 0 ? NAN : (double)r->reassign_stop_after, 0);
    }
    fputs(",\n  ", out);
    key_number(out, "user_utility", r->user_utility, 0);
    fputs(",\n  \"benchmark\": {", out);
    key_number(out, "first_best_utility", r->first_best_utility, 1);
    key_number(out, "second_best_utility", r->second_best_utility, 1);
    key_number(out, "second_best_total", r->second_best_total, 1);
    key_number(out, "gap", r->second_best_total - r->user_utility, 1);
    key_number(out, "ratio", r->user_utility / r->second_best_total, 1);
    key_number(out, "slack", r->slack, 0);
    fputs("},\n  \"providers\": [\n", out);
    for (int i = 0; i < K; i++) {
        const PrillmDelegationProvider *p = &game->providers[i];
        const PrillmDelegationOutcome *o = &r->providers[i];
        fputs("    {\"id\": ", out);
        prillm__json_string(out, p->id);
        fputs(", \"strategy\": ", out);
        prillm__json_string(out, prillm_delegation_strategy_name(p->strategy));
        fputs(", \"advertised_model\": ", out);
        prillm__json_string(out, p->models[0].id);
        fputs(", ", out);
        key_number(out, "honest_utility", o->honest_utility, 1);
        key_number(out, "explore_utility", o->mean_utility, 1);
        key_number(out, "explore_reward", o->mean_reward, 1);
        key_number(out, "explore_tokens", o->mean_tokens, 1);
        key_number(out, "delta", o->delta, 1);
        fprintf(out, "\"stopped_early\": %s,\n     ", o->stopped_early ? "true" : "false");
        /* continuous plays, only when the provider has one (older outputs unchanged) */
        int plays = 0;
        for (int g = 0; g < PRILLM_PLAY_GROUPS; g++)
            if (p->play[g].weight > 0.0) {
                const PrillmDelegationPlay *d = &p->play[g];
                fprintf(out, "%s\"%s\": {", plays++ ? ", " : "\"play\": {", prillm_delegation_play_group_name(g));
                key_number(out, "weight", d->weight, 1);
                if (d->extract) fputs("\"extract\": true}", out);
                else {
                    key_number(out, "quality", d->quality, 1);
                    key_number(out, "inflation", d->inflation, 0);
                    fputs("}", out);
                }
            }
        if (plays) fputs("},\n     ", out);
        fputs("\"phases\": {", out);
        for (int ph = 0; ph < PRILLM_PHASE_COUNT; ph++) {
            if (ph == PRILLM_PHASE_REASSIGN && !settings->reassign) continue;
            fprintf(out, "%s\n       \"%s\": ", ph ? "," : "", prillm_delegation_phase_name(ph));
            write_tally(out, &o->phase[ph]);
        }
        fputs("},\n     \"total\": ", out);
        write_tally(out, &o->total);
        fprintf(out, "}%s\n", i + 1 < K ? "," : "");
    }
    fputs("  ]\n}\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the delegation result failed");
    return PRILLM_OK;
}
