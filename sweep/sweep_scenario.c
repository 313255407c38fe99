/* Scenarios of prillm-sweep: what-ifs read from a file (lists of changes to
 * the base market) and seeded random perturbations. Each scenario is built
 * on the rank that solves it, from the base market and its own index only. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_document.h"
#include "random.h"
#include "sweep.h"

/* One change: to a provider or a user (index, or -1 for every one); the
 * fields not given are NaN. */
typedef struct SweepChange {
    int on_user;
    int index;
    double price, price_scale, capacity, capacity_scale, value, cost;
    double demand, demand_scale;
} SweepChange;

static const char *const provider_keys[] = {"provider", "price", "price_scale", "capacity", "capacity_scale",
                                            "value", "cost", NULL};
static const char *const user_keys[] = {"user", "demand", "demand_scale", NULL};

static PrillmErrorCode fail_unknown_keys(const cJSON *change, const char *const *known, const char *where,
                                         PrillmError *err) {
    for (const cJSON *item = change->child; item; item = item->next) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = strcmp(*k, item->string) == 0;
        if (!ok)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: unknown key \"%.100s\" (a %s change takes: %s)",
                                where, item->string, known == provider_keys ? "provider" : "user",
                                known == provider_keys ? "price, price_scale, capacity, capacity_scale, value, cost"
                                                       : "demand, demand_scale");
    }
    return PRILLM_OK;
}

static PrillmErrorCode get_number(const cJSON *change, const char *key, const char *where, double *out,
                                  PrillmError *err) {
    *out = NAN;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(change, key);
    if (!item) return PRILLM_OK;
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be a finite number", where, key);
    if (strstr(key, "_scale") && !(item->valuedouble >= 0))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be >= 0", where, key);
    *out = item->valuedouble;
    return PRILLM_OK;
}

static PrillmErrorCode parse_change(const cJSON *c, const PrillmMarket *mk, const char *where, SweepChange *out,
                                    PrillmError *err) {
    if (!cJSON_IsObject(c)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
    /* a key given twice: cJSON would keep the first, silently (the unknown
     * ones are refused below, with what a change takes) */
    PrillmJsonWarner quiet = {NULL, NULL};
    PrillmErrorCode rc = prillm__json_check_keys(c, where, provider_keys, NULL, &quiet, err);
    if (rc) return rc;
    const cJSON *provider = cJSON_GetObjectItemCaseSensitive(c, "provider");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(c, "user");
    if ((provider != NULL) == (user != NULL))
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must name one \"provider\" or one \"user\" (\"*\": all)",
                            where);
    const cJSON *who = provider ? provider : user;
    if (!cJSON_IsString(who) || !who->valuestring || !who->valuestring[0])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s must be an id or \"*\"", where,
                            provider ? "provider" : "user");
    out->on_user = user != NULL;
    if (strcmp(who->valuestring, "*") == 0) {
        out->index = -1;
    } else {
        out->index = provider ? prillm_market_provider_index(mk, who->valuestring)
                              : prillm_market_user_index(mk, who->valuestring);
        if (out->index < 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.%s \"%.200s\" is not in the market", where,
                                provider ? "provider" : "user", who->valuestring);
    }
    if ((rc = fail_unknown_keys(c, provider ? provider_keys : user_keys, where, err))) return rc;
    if ((rc = get_number(c, "price", where, &out->price, err))) return rc;
    if ((rc = get_number(c, "price_scale", where, &out->price_scale, err))) return rc;
    if ((rc = get_number(c, "capacity", where, &out->capacity, err))) return rc;
    if ((rc = get_number(c, "capacity_scale", where, &out->capacity_scale, err))) return rc;
    if ((rc = get_number(c, "value", where, &out->value, err))) return rc;
    if ((rc = get_number(c, "cost", where, &out->cost, err))) return rc;
    if ((rc = get_number(c, "demand", where, &out->demand, err))) return rc;
    if ((rc = get_number(c, "demand_scale", where, &out->demand_scale, err))) return rc;
    int given = 0;
    const double all[] = {out->price, out->price_scale, out->capacity, out->capacity_scale,
                          out->value, out->cost,        out->demand,   out->demand_scale};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) given += !isnan(all[k]);
    if (!given) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s changes nothing", where);
    return PRILLM_OK;
}

void sweep_whatifs_free(SweepWhatIfs *w) {
    for (int k = 0; k < w->n; k++) {
        free(w->items[k].id);
        free(w->items[k].changes);
    }
    free(w->items);
    w->items = NULL;
    w->n = 0;
}

PrillmErrorCode sweep_whatifs_parse(const char *text, size_t length, const PrillmMarket *mk, SweepWhatIfs *out,
                                    PrillmError *err) {
    out->n = 0;
    out->items = NULL;
    cJSON *root;
    PrillmErrorCode rc = prillm__json_parse(text, length, "what-if file", "object", &root, err);
    if (rc) return rc;
    static const char *const known[] = {"scenarios", NULL};
    PrillmJsonWarner quiet = {NULL, NULL};
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "scenarios");
    if (!cJSON_IsObject(root)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "the what-if file must be a JSON object {\"scenarios\": [...]}");
    } else if ((rc = prillm__json_check_keys(root, "what-if file", known, NULL, &quiet, err))) {
    } else if (root->child && (!root->child->string || strcmp(root->child->string, "scenarios") != 0 ||
                               root->child->next)) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "the what-if file holds one key, \"scenarios\" (found \"%.100s\")",
                          root->child->string && strcmp(root->child->string, "scenarios") != 0
                              ? root->child->string
                              : root->child->next && root->child->next->string ? root->child->next->string : "");
    } else if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "\"scenarios\" must be a non-empty array");
    }
    if (rc) goto done;
    int n = cJSON_GetArraySize(list);
    out->items = calloc((size_t)n, sizeof *out->items);
    if (!out->items) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the what-if file");
        goto done;
    }
    int s = 0;
    for (const cJSON *sc = list->child; sc; sc = sc->next, s++) {
        out->n = s + 1;
        SweepWhatIf *w = &out->items[s];
        char where[96];
        snprintf(where, sizeof where, "scenarios[%d]", s);
        static const char *const scenario_keys[] = {"id", "changes", NULL};
        if (!cJSON_IsObject(sc)) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be an object", where);
            goto done;
        }
        if ((rc = prillm__json_check_keys(sc, where, scenario_keys, NULL, &quiet, err))) goto done;
        for (const cJSON *item = sc->child; item; item = item->next)
            if (strcmp(item->string, "id") != 0 && strcmp(item->string, "changes") != 0) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s: unknown key \"%.100s\"", where, item->string);
                goto done;
            }
        if ((rc = prillm__json_get_id(sc, where, &w->id, err))) goto done;
        if (!w->id[0] || strcmp(w->id, "base") == 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id must be non-empty and not \"base\"", where);
            goto done;
        }
        for (int t = 0; t < s; t++)
            if (strcmp(out->items[t].id, w->id) == 0) {
                rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.id \"%.200s\" duplicates scenarios[%d].id", where,
                                  w->id, t);
                goto done;
            }
        const cJSON *changes = cJSON_GetObjectItemCaseSensitive(sc, "changes");
        if (!cJSON_IsArray(changes) || cJSON_GetArraySize(changes) == 0) {
            rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s.changes must be a non-empty array", where);
            goto done;
        }
        w->changes = calloc((size_t)cJSON_GetArraySize(changes), sizeof *w->changes);
        if (!w->changes) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading the what-if file");
            goto done;
        }
        int c = 0;
        for (const cJSON *ch = changes->child; ch; ch = ch->next, c++) {
            char cwhere[128];
            snprintf(cwhere, sizeof cwhere, "%s.changes[%d]", where, c);
            if ((rc = parse_change(ch, mk, cwhere, &w->changes[c], err))) goto done;
            w->n_changes = c + 1;
        }
        /* the what-if must give a valid market */
        PrillmMarket *check = NULL;
        if ((rc = sweep_apply_whatif(mk, w, &check, err))) goto done;
        prillm_market_free(check);
    }
done:
    cJSON_Delete(root);
    if (rc) sweep_whatifs_free(out);
    return rc;
}

static void set(double *x, double to, double scale) {
    if (!isnan(to)) *x = to;
    if (!isnan(scale)) *x *= scale;
}

PrillmErrorCode sweep_apply_whatif(const PrillmMarket *base, const SweepWhatIf *w, PrillmMarket **out,
                                   PrillmError *err) {
    PrillmMarket *mk = prillm_market_copy(base, err);
    if (!mk) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    for (int c = 0; c < w->n_changes; c++) {
        const SweepChange *ch = &w->changes[c];
        int lo = ch->index < 0 ? 0 : ch->index;
        int hi = ch->index < 0 ? (ch->on_user ? mk->n_users : mk->n_providers) : ch->index + 1;
        for (int k = lo; k < hi; k++) {
            if (ch->on_user) {
                set(&mk->demand[k], ch->demand, ch->demand_scale);
            } else {
                set(&mk->price[k], ch->price, ch->price_scale);
                set(&mk->capacity[k], ch->capacity, ch->capacity_scale);
                set(&mk->value[k], ch->value, NAN);
                set(&mk->cost[k], ch->cost, NAN);
            }
        }
    }
    /* each change names a field, yet together they may set every one to
     * what it was (price_scale 1, today's price): a scenario equal to the
     * base is a mistake in the file, not a what-if */
    int m = mk->n_providers, same = 1;
    /* by value (0 and -0 are one price); a cost absent (NaN) in both is the same */
    for (int i = 0; i < mk->n_users && same; i++) same = mk->demand[i] == base->demand[i];
    for (int j = 0; j < m && same; j++)
        same = mk->price[j] == base->price[j] && mk->capacity[j] == base->capacity[j] &&
               mk->value[j] == base->value[j] &&
               (mk->cost[j] == base->cost[j] || (isnan(mk->cost[j]) && isnan(base->cost[j])));
    if (same) {
        prillm_market_free(mk);
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "what-if \"%.100s\" changes nothing: its changes leave the market as it was", w->id);
    }
    PrillmErrorCode rc = prillm_market_validate(mk, err);
    if (rc) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "");
        prillm_market_free(mk);
        return prillm__fail(err, rc, "what-if \"%.100s\" makes the market invalid: %s", w->id, why);
    }
    *out = mk;
    return PRILLM_OK;
}

PrillmErrorCode sweep_perturb(const PrillmMarket *base, const SweepPerturbation *p, int index, PrillmMarket **out,
                              PrillmError *err) {
    PrillmMarket *mk = prillm_market_copy(base, err);
    if (!mk) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    /* one stream per scenario: the seed and the index mixed, never the rank */
    PrillmRng rng = {p->seed * 0x9e3779b97f4a7c15ULL ^ ((unsigned long long)index + 1) * 0xd1b54a32d192ed03ULL};
    for (int i = 0; i < mk->n_users; i++) mk->demand[i] *= exp(p->demand_sd * prillm__rng_normal(&rng));
    for (int j = 0; j < mk->n_providers; j++) {
        mk->price[j] *= exp(p->price_sd * prillm__rng_normal(&rng));
        mk->capacity[j] *= exp(p->capacity_sd * prillm__rng_normal(&rng));
    }
    PrillmErrorCode rc = prillm_market_validate(mk, err);
    if (rc) {
        prillm_market_free(mk);
        return rc;
    }
    *out = mk;
    return PRILLM_OK;
}
