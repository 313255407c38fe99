/* The service's endpoints under /markets: request bodies (JSON) to library
 * calls to the same JSON the command line prints. Every bad request is a
 * 4xx whose "error" is the library's message, naming the field. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_document.h"
#include "service.h"

/* ---- answers ------------------------------------------------------------------- */

int prillm_serve_status_for(PrillmErrorCode code) {
    switch (code) {
    case PRILLM_ERR_OK: return 200;
    case PRILLM_ERR_INVALID_ARGUMENT:
    case PRILLM_ERR_PARSE:
    case PRILLM_ERR_INVALID_DATA:
    case PRILLM_ERR_UNAVAILABLE: return 400;
    case PRILLM_ERR_TOO_LARGE: return 413;
    case PRILLM_ERR_NO_MEMORY: return 503;
    default: return 500;
    }
}

int prillm_serve_error(PrillmServeAnswer *a, int status, const char *code, const char *fmt, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    free(a->body);
    a->body = NULL;
    a->length = 0;
    FILE *out = open_memstream(&a->body, &a->length);
    if (out) {
        fputs("{\"error\": ", out);
        prillm__json_string(out, message);
        fputs(", \"code\": ", out);
        prillm__json_string(out, code);
        fprintf(out, ", \"status\": %d}\n", status);
        if (fclose(out) != 0) {
            free(a->body);
            a->body = NULL;
            a->length = 0;
        }
    }
    a->status = status;
    return status;
}

int prillm_serve_library_error(PrillmServeAnswer *a, const PrillmError *err) {
    return prillm_serve_error(a, prillm_serve_status_for(err->code), prillm_error_name(err->code), "%s",
                              err->message[0] ? err->message : prillm_error_text(err->code));
}

/* An answer written by write(...) into a memory stream. */
typedef struct {
    FILE *out;
    PrillmServeAnswer *a;
} Writer;

static int begin(Writer *w, PrillmServeAnswer *a) {
    free(a->body);
    a->body = NULL;
    a->length = 0;
    w->a = a;
    w->out = open_memstream(&a->body, &a->length);
    return w->out ? 0 : -1;
}

static int finish(Writer *w, int status) {
    if (fclose(w->out) != 0) {
        free(w->a->body);
        w->a->body = NULL;
        return prillm_serve_error(w->a, 503, "NO_MEMORY", "out of memory writing the answer");
    }
    w->a->status = status;
    return status;
}

static void discard(Writer *w) {
    fclose(w->out);
    free(w->a->body);
    w->a->body = NULL;
    w->a->length = 0;
}

/* ---- request bodies ------------------------------------------------------------ */

/* A key twice in one object anywhere under node: cJSON keeps both and its
 * lookups find the first, so {"target": "a", "target": "b"} would price a.
 * The market reader refuses duplicates with prillm__json_check_keys, and
 * so do requests: "request body: duplicate key \"target\"". */
static PrillmErrorCode check_duplicate_keys(const cJSON *node, PrillmError *err) {
    static const char *const no_known_keys[] = {NULL};
    const PrillmJsonWarner quiet = {NULL, NULL}; /* any key is allowed here */
    PrillmErrorCode rc = PRILLM_OK;
    if (cJSON_IsObject(node)) rc = prillm__json_check_keys(node, "request body", no_known_keys, NULL, &quiet, err);
    for (const cJSON *c = node->child; c && !rc; c = c->next)
        if (c->child) rc = check_duplicate_keys(c, err);
    return rc;
}

static cJSON *parse_body(const PrillmServeRequest *req, PrillmServeAnswer *a, int required) {
    if (!req->body_length) {
        if (required) prillm_serve_error(a, 400, "PARSE", "the request needs a JSON object as its body");
        else return cJSON_CreateObject();
        return NULL;
    }
    /* a NUL byte ends cJSON's strings where it stands, as \u0000 does */
    const char *zero = memchr(req->body, 0, req->body_length);
    if (zero) {
        prillm_serve_error(a, 400, "PARSE", "request body: NUL byte at byte %zu", (size_t)(zero - req->body));
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(req->body, req->body_length, &end, 0);
    if (!root) {
        size_t at = end && end >= req->body ? (size_t)(end - req->body) : 0;
        prillm_serve_error(a, 400, "PARSE", "request body: malformed JSON near byte %zu", at);
        return NULL;
    }
    /* cJSON reads \u0000 as a NUL ending the string: "model-0\u0000x"
     * would name model-0 */
    const char *nul = prillm__json_escaped_nul(req->body, end ? (size_t)(end - req->body) : req->body_length);
    if (nul) {
        prillm_serve_error(a, 400, "PARSE", "request body: NUL character (\\u0000) in a string at byte %zu",
                           (size_t)(nul - req->body));
        cJSON_Delete(root);
        return NULL;
    }
    PrillmError err;
    if (check_duplicate_keys(root, &err)) {
        if (err.code == PRILLM_ERR_NO_MEMORY) prillm_serve_error(a, 503, "NO_MEMORY", "%s", err.message);
        else prillm_serve_error(a, 400, "PARSE", "%s", err.message);
        cJSON_Delete(root);
        return NULL;
    }
    const char *p = end;
    while (p && p < req->body + req->body_length && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p && p < req->body + req->body_length) {
        prillm_serve_error(a, 400, "PARSE", "request body: text after the JSON value at byte %zu",
                           (size_t)(p - req->body));
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        prillm_serve_error(a, 400, "PARSE", "request body: must be a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* An option's JSON value as the text the library's option tables read. */
static int option_text(const cJSON *item, char *buf, size_t size) {
    if (cJSON_IsString(item)) {
        snprintf(buf, size, "%s", item->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(item)) {
        snprintf(buf, size, "%.17g", item->valuedouble);
        return 0;
    }
    if (cJSON_IsBool(item)) {
        snprintf(buf, size, "%d", cJSON_IsTrue(item) ? 1 : 0);
        return 0;
    }
    return -1;
}

typedef PrillmErrorCode (*SetOption)(void *settings, const char *name, const char *value, PrillmError *err);

/* One option of a request (JSON key "time_limit" or "time-limit"). Returns 0
 * or the status of the error answered. */
static int take_option(PrillmServeAnswer *a, const char *key, const cJSON *item, SetOption set, void *settings) {
    char name[128], value[512];
    snprintf(name, sizeof name, "%s", key);
    for (char *c = name; *c; c++)
        if (*c == '_') *c = '-';
    if (strcmp(name, "verbose") == 0)
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"%s\": the service prints no progress (see /metrics)",
                                  key);
    if (strcmp(name, "threads") == 0)
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                  "\"%s\": the service gives each request one thread (it serves requests side by side)",
                                  key);
    if (option_text(item, value, sizeof value) != 0)
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"%s\" must be a number, string or boolean", key);
    PrillmError err;
    if (set(settings, name, value, &err)) return prillm_serve_library_error(a, &err);
    return 0;
}

static double capped(double requested, double cap) {
    return requested > 0 && requested < cap ? requested : cap;
}

static PrillmErrorCode set_price(void *s, const char *n, const char *v, PrillmError *e) {
    return prillm_price_set_option(s, n, v, e);
}
static PrillmErrorCode set_explain(void *s, const char *n, const char *v, PrillmError *e) {
    return prillm_explain_set_option(s, n, v, e);
}
static PrillmErrorCode set_compete(void *s, const char *n, const char *v, PrillmError *e) {
    return prillm_compete_set_option(s, n, v, e);
}

/* ---- the shipped aggregation model (method da), read once ----------------------- */

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static PrillmAggregator *shared_model;
static int model_failed;

static const PrillmAggregator *da_model(void) {
    pthread_mutex_lock(&model_lock);
    if (!shared_model && !model_failed && prillm_cli_price_model(PRILLM_PRICE_DA, NULL, &shared_model) != 0)
        model_failed = 1;
    const PrillmAggregator *m = shared_model;
    pthread_mutex_unlock(&model_lock);
    return m;
}

void prillm_serve_free_model(void) {
    pthread_mutex_lock(&model_lock);
    prillm_aggregator_free(shared_model);
    shared_model = NULL;
    pthread_mutex_unlock(&model_lock);
}

/* ---- summaries ---------------------------------------------------------------- */

static void equilibrium_summary(FILE *out, const PrillmServeMarket *e) {
    fputs("{\"status\": ", out);
    if (!e->solver) {
        fputs("\"failed\", \"error\": ", out);
        prillm__json_string(out, e->solve_message);
        fputc('}', out);
        return;
    }
    const PrillmEquilibriumInfo *info = &prillm_equilibrium_solution(e->solver)->info;
    fprintf(out, "\"%s\", \"warm\": %s, \"kkt_violation\": ", prillm_status_name(info->status),
            e->last_warm ? "true" : "false");
    prillm__json_number(out, info->kkt_violation);
    fprintf(out, ", \"iterations\": %d, \"sweeps\": %d, \"seconds\": ", info->iterations, info->sweeps);
    prillm__json_number(out, info->seconds);
    if (e->solve_rc) {
        fputs(", \"error\": ", out);
        prillm__json_string(out, e->solve_message);
    }
    fputc('}', out);
}

static void record_solve(PrillmServeContext *ctx, const PrillmServeMarket *e) {
    if (e->solver)
        prillm_serve_metrics_solve(ctx->metrics, e->last_warm, prillm_equilibrium_solution(e->solver)->info.seconds);
}

/* ---- /markets ------------------------------------------------------------------ */

typedef struct {
    char text[20][256];
    int count, more;
} Warnings;

static void collect_warning(void *context, const char *message) {
    Warnings *w = context;
    if (w->count < 20) snprintf(w->text[w->count++], sizeof w->text[0], "%s", message);
    else w->more++;
}

/* A calibrated market (prillm fit --out) is a market with a top-level
 * "calibration" object, which prillm_predict reads; its text is kept. */
static int is_calibrated(const char *body, size_t length) {
    static const char key[] = "\"calibration\"";
    if (!memmem(body, length, key, sizeof key - 1)) return 0; /* cheap: most markets */
    cJSON *root = cJSON_ParseWithLength(body, length);
    int yes = root && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "calibration"));
    cJSON_Delete(root);
    return yes;
}

static int create_market(PrillmServeContext *ctx, const PrillmServeRequest *req, PrillmServeAnswer *a) {
    if (!req->body_length)
        return prillm_serve_error(a, 400, "PARSE", "POST /markets needs a market (JSON, docs/market-format.md) as its body");
    Warnings warnings = {.count = 0};
    PrillmMarket *mk = NULL;
    PrillmError err;
    PrillmErrorCode rc = prillm_market_parse_json(req->body, req->body_length, collect_warning, &warnings, &mk, &err);
    if (rc) return prillm_serve_library_error(a, &err);
    int users = mk->n_users, providers = mk->n_providers;
    int calibrated = is_calibrated(req->body, req->body_length);
    char id[PRILLM_SERVE_ID_LENGTH + 1];
    int status = prillm_serve_store_add(ctx->store, mk, calibrated ? req->body : NULL,
                                        calibrated ? req->body_length : 0, id, &err);
    if (status) return prillm_serve_error(a, status, prillm_error_name(err.code), "%s", err.message);
    Writer w;
    if (begin(&w, a)) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    fprintf(w.out, "{\"id\": \"%s\", \"version\": 1, \"users\": %d, \"providers\": %d, \"calibrated\": %s, \"equilibrium\": ",
            id, users, providers, calibrated ? "true" : "false");
    PrillmServeMarket *e = prillm_serve_store_get(ctx->store, id);
    if (e) {
        equilibrium_summary(w.out, e);
        record_solve(ctx, e);
        prillm_serve_store_put(ctx->store, e);
    } else {
        fputs("null", w.out); /* deleted already by another request */
    }
    fputs(", \"warnings\": [", w.out);
    for (int k = 0; k < warnings.count; k++) {
        if (k) fputs(", ", w.out);
        prillm__json_string(w.out, warnings.text[k]);
    }
    if (warnings.more) fprintf(w.out, "%s\"... and %d more\"", warnings.count ? ", " : "", warnings.more);
    fputs("]}\n", w.out);
    a->etag = 1;
    snprintf(a->location, sizeof a->location, "/markets/%s", id);
    return finish(&w, 201);
}

static int list_markets(PrillmServeContext *ctx, PrillmServeAnswer *a) {
    char(*ids)[PRILLM_SERVE_ID_LENGTH + 1];
    unsigned long long *versions;
    int *sizes;
    int n = prillm_serve_store_list(ctx->store, &ids, &versions, &sizes);
    if (n < 0) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    Writer w;
    if (begin(&w, a)) {
        free(ids);
        free(versions);
        free(sizes);
        return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    }
    fprintf(w.out, "{\"count\": %d, \"max_markets\": %d, \"markets\": [", n, prillm_serve_store_max(ctx->store));
    for (int k = 0; k < n; k++)
        fprintf(w.out, "%s\n  {\"id\": \"%s\", \"version\": %llu, \"users\": %d, \"providers\": %d}", k ? "," : "",
                ids[k], versions[k], sizes[2 * k], sizes[2 * k + 1]);
    fputs(n ? "\n]}\n" : "]}\n", w.out);
    free(ids);
    free(versions);
    free(sizes);
    return finish(&w, 200);
}

/* ---- versions ----------------------------------------------------------------- */

/* The version a request expects (If-Match, or "version" in the body), 0 if
 * none. Returns 0 or an error status. */
static int expected_version(const PrillmServeRequest *req, const cJSON *body, PrillmServeAnswer *a,
                            unsigned long long *expected) {
    *expected = 0;
    if (req->if_match && strspn(req->if_match, " ") + 1 == strlen(req->if_match) &&
        req->if_match[strspn(req->if_match, " ")] == '*') {
        /* If-Match: * (any version) */
    } else if (req->if_match) {
        const char *t = req->if_match;
        while (*t == ' ') t++;
        if (strncmp(t, "W/", 2) == 0) t += 2;
        if (*t == '"') t++;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(t, &end, 10);
        if (end && *end == '"') end++;
        while (end && *end == ' ') end++;
        if (errno || end == t || !end || *end || v == 0 || t[0] == '-')
            return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                      "If-Match must be a market version in quotes, as the ETag gives it "
                                      "(such as \"3\"), got %s",
                                      req->if_match);
        *expected = v;
    }
    const cJSON *v = body ? cJSON_GetObjectItemCaseSensitive(body, "version") : NULL;
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15 || v->valuedouble != floor(v->valuedouble))
            return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"version\" must be a positive integer");
        unsigned long long bv = (unsigned long long)v->valuedouble;
        if (*expected && *expected != bv)
            return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "If-Match %llu and \"version\" %llu disagree",
                                      *expected, bv);
        *expected = bv;
    }
    return 0;
}

static int stale(PrillmServeAnswer *a, const PrillmServeMarket *e, unsigned long long expected) {
    a->etag = e->version;
    return prillm_serve_error(a, 409, "STALE_VERSION",
                              "version %llu is stale: market %s is at version %llu (GET it and apply the change again)",
                              expected, e->id, e->version);
}

/* ---- /markets/{id} --------------------------------------------------------------- */

static int get_market(PrillmServeMarket *e, PrillmServeAnswer *a) {
    Writer w;
    if (begin(&w, a)) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    /* calibrated: predict answers (added from prillm fit --out, not PATCHed since) */
    fprintf(w.out, "{\"id\": \"%s\", \"version\": %llu, \"calibrated\": %s, \"market\": ", e->id, e->version,
            e->calibrated && e->version == 1 ? "true" : "false");
    PrillmError err;
    if (prillm_market_write_json(e->market, w.out, &err)) {
        discard(&w);
        return prillm_serve_library_error(a, &err);
    }
    fputs("}\n", w.out);
    a->etag = e->version;
    return finish(&w, 200);
}

/* PATCH: {"prices": {ID: x}, "demands": {ID: x}, "capacities": {ID: x}} */
static int patch_market(PrillmServeContext *ctx, PrillmServeMarket *e,
                        const cJSON *body, PrillmServeAnswer *a) {
    const struct {
        const char *key;
        int users; /* the ids are users' (else providers') */
    } groups[] = {{"prices", 0}, {"demands", 1}, {"capacities", 0}};
    for (const cJSON *item = body->child; item; item = item->next) {
        int known = strcmp(item->string, "version") == 0;
        for (int g = 0; g < 3; g++) known |= strcmp(item->string, groups[g].key) == 0;
        if (!known)
            return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                      "unknown field \"%s\" (PATCH takes prices, demands, capacities and version)",
                                      item->string);
    }
    PrillmError err;
    PrillmMarket *next = prillm_market_copy(e->market, &err);
    if (!next) return prillm_serve_library_error(a, &err);
    int m = next->n_providers, changes = 0, prices_only = 1, n_changed = 0;
    int *changed = malloc(((size_t)m + 1) * sizeof(int));
    if (!changed) {
        prillm_market_free(next);
        return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    }
    int status = 0;
    for (int g = 0; g < 3 && !status; g++) {
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(body, groups[g].key);
        if (!obj) continue;
        if (!cJSON_IsObject(obj)) {
            status = prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                        "\"%s\" must be an object of %s ids to numbers", groups[g].key,
                                        groups[g].users ? "user" : "provider");
            break;
        }
        for (const cJSON *item = obj->child; item && !status; item = item->next) {
            int k = groups[g].users ? prillm_market_user_index(next, item->string)
                                    : prillm_market_provider_index(next, item->string);
            if (k < 0) {
                status = prillm_serve_error(a, 400, "INVALID_ARGUMENT", "%s: no %s \"%s\" in market %s", groups[g].key,
                                            groups[g].users ? "user" : "provider", item->string, e->id);
                break;
            }
            if (!cJSON_IsNumber(item)) {
                status = prillm_serve_error(a, 400, "INVALID_ARGUMENT", "%s.\"%s\" must be a number", groups[g].key,
                                            item->string);
                break;
            }
            double x = item->valuedouble;
            changes++;
            if (g == 0) {
                next->price[k] = x;
                int seen = 0;
                for (int c = 0; c < n_changed; c++) seen |= changed[c] == k;
                if (!seen) changed[n_changed++] = k;
            } else {
                prices_only = 0;
                if (g == 1) next->demand[k] = x;
                else next->capacity[k] = x;
            }
        }
    }
    if (!status && !changes)
        status = prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                    "nothing to change: give \"prices\", \"demands\" or \"capacities\" by id");
    if (!status && prillm_market_validate(next, &err)) status = prillm_serve_library_error(a, &err);
    if (status) {
        free(changed);
        prillm_market_free(next);
        return status;
    }
    status = prillm_serve_store_update(ctx->store, e, next, prices_only, changed, n_changed, &err);
    free(changed);
    if (status) return prillm_serve_error(a, status, prillm_error_name(err.code), "%s", err.message);
    record_solve(ctx, e);
    Writer w;
    if (begin(&w, a)) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    fprintf(w.out, "{\"id\": \"%s\", \"version\": %llu, \"equilibrium\": ", e->id, e->version);
    equilibrium_summary(w.out, e);
    fputs("}\n", w.out);
    a->etag = e->version;
    return finish(&w, 200);
}

/* ---- questions ------------------------------------------------------------------ */

enum { QUERY_OPTIONS_MAX = 32 };

typedef struct {
    PrillmEquilibriumSettings *settings;
    PrillmServeAnswer *a;
    int status, count;
    char seen[QUERY_OPTIONS_MAX][128]; /* the options given so far */
} QueryOptions;

static int each_query(void *cls, const char *key, const char *value) {
    QueryOptions *q = cls;
    if (q->status) return 1;
    q->count++;
    char name[128];
    snprintf(name, sizeof name, "%s", key);
    for (char *c = name; *c; c++)
        if (*c == '_') *c = '-';
    /* ?method=exact&method=ipopt: the last one would win silently */
    for (int k = 0; k < q->count - 1 && k < QUERY_OPTIONS_MAX; k++)
        if (strcmp(q->seen[k], name) == 0) {
            q->status =
                prillm_serve_error(q->a, 400, "INVALID_ARGUMENT", "query option \"%.100s\" is given twice", name);
            return 1;
        }
    if (q->count > QUERY_OPTIONS_MAX) {
        q->status = prillm_serve_error(q->a, 400, "INVALID_ARGUMENT", "more than %d query options", QUERY_OPTIONS_MAX);
        return 1;
    }
    snprintf(q->seen[q->count - 1], sizeof q->seen[0], "%s", name);
    if (strcmp(name, "verbose") == 0) {
        q->status = prillm_serve_error(q->a, 400, "INVALID_ARGUMENT", "\"verbose\": the service prints no progress");
        return 1;
    }
    PrillmError err;
    if (prillm_equilibrium_set_option(q->settings, name, value ? value : "", &err))
        q->status = prillm_serve_library_error(q->a, &err);
    return q->status != 0;
}

/* GET /markets/{id}/equilibrium[?option=value...]: the warm solution, or
 * with options a solve of its own with them. */
static int get_equilibrium(PrillmServeContext *ctx, const PrillmServeRequest *req, PrillmServeMarket *e,
                           PrillmServeAnswer *a) {
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    QueryOptions q = {&settings, a, 0, 0, {{0}}};
    if (req->query) req->query(req->connection, each_query, &q);
    if (q.status) return q.status;
    PrillmError err;
    if (!q.count) {
        const char *json;
        size_t length;
        int status = prillm_serve_store_equilibrium_json(e, &json, &length, &err);
        if (status) return prillm_serve_error(a, status, prillm_error_name(err.code), "%s", err.message);
        free(a->body);
        a->body = malloc(length + 1);
        if (!a->body) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
        memcpy(a->body, json, length);
        a->length = length;
        a->status = 200;
        a->etag = e->version;
        a->cache = e->last_warm ? "warm" : "cold";
        return 200;
    }
    settings.time_limit = capped(settings.time_limit, ctx->time_limit);
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = prillm_equilibrium_setup(&solver, e->market, &settings, &err);
    if (!rc) rc = prillm_equilibrium_solve(solver, &err);
    if (rc && !(solver && prillm_serve_status_for(rc) >= 500 && rc != PRILLM_ERR_NO_MEMORY)) {
        prillm_equilibrium_cleanup(solver);
        return prillm_serve_library_error(a, &err);
    }
    Writer w;
    int status = 200;
    if (begin(&w, a)) status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    else if (prillm_equilibrium_write_json(e->market, prillm_equilibrium_solution(solver), settings.method, w.out,
                                           &err)) {
        discard(&w);
        status = prillm_serve_library_error(a, &err);
    } else {
        status = finish(&w, 200);
    }
    prillm_equilibrium_cleanup(solver);
    a->etag = e->version;
    a->cache = "none";
    return status;
}

/* The "target" of a price or explain request. */
static int target_of(const cJSON *body, const PrillmServeMarket *e, PrillmServeAnswer *a, int *target) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "target");
    if (!t) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "missing \"target\": the provider id to price");
    if (!cJSON_IsString(t)) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"target\" must be a provider id");
    *target = prillm_market_provider_index(e->market, t->valuestring);
    if (*target < 0)
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "target: no provider \"%s\" in market %s (%d providers)",
                                  t->valuestring, e->id, e->market->n_providers);
    return 0;
}

static int price(PrillmServeContext *ctx, PrillmServeMarket *e, const cJSON *body, PrillmServeAnswer *a,
                 int *finished) {
    int target, status = target_of(body, e, a, &target);
    if (status) return status;
    PrillmPriceSettings settings;
    prillm_price_default_settings(&settings);
    for (const cJSON *item = body->child; item && !status; item = item->next) {
        if (strcmp(item->string, "target") == 0) continue;
        if (strcmp(item->string, "compare") == 0) {
            if (!cJSON_IsBool(item)) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"compare\" must be true or false");
            settings.compare = cJSON_IsTrue(item);
            continue;
        }
        status = take_option(a, item->string, item, set_price, &settings);
    }
    if (status) return status;
    settings.time_limit = capped(settings.time_limit, ctx->time_limit);
    if (settings.method == PRILLM_PRICE_DA && !(settings.model = da_model()))
        return prillm_serve_error(a, 400, "UNAVAILABLE", "method: da needs the shipped aggregation model %s, which "
                                  "the service could not read (see its log)", PRILLM_DEFAULT_MODEL_FILE);
    PrillmPriceResult result;
    PrillmError err;
    if (prillm_price(e->market, target, &settings, &result, &err)) return prillm_serve_library_error(a, &err);
    Writer w;
    if (begin(&w, a)) status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    else if (prillm_price_result_write_json(e->market, &result, settings.compare, w.out, &err)) {
        discard(&w);
        status = prillm_serve_library_error(a, &err);
    } else {
        status = finish(&w, 200);
    }
    *finished = result.status == PRILLM_STATUS_SOLVED;
    prillm_price_result_clear(&result);
    a->etag = e->version;
    return status;
}

static int explain(PrillmServeContext *ctx, PrillmServeMarket *e, const cJSON *body, PrillmServeAnswer *a,
                   int *finished) {
    int target, status = target_of(body, e, a, &target);
    if (status) return status;
    PrillmExplainSettings settings;
    prillm_explain_default_settings(&settings);
    for (const cJSON *item = body->child; item && !status; item = item->next) {
        if (strcmp(item->string, "target") == 0) continue;
        if (strcmp(item->string, "compare") == 0) {
            if (!cJSON_IsBool(item)) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"compare\" must be true or false");
            settings.price.compare = cJSON_IsTrue(item);
            continue;
        }
        status = take_option(a, item->string, item, set_explain, &settings);
    }
    if (status) return status;
    settings.price.time_limit = capped(settings.price.time_limit, ctx->time_limit);
    if (settings.price.method == PRILLM_PRICE_DA && !(settings.price.model = da_model()))
        return prillm_serve_error(a, 400, "UNAVAILABLE", "method: da needs the shipped aggregation model %s, which "
                                  "the service could not read (see its log)", PRILLM_DEFAULT_MODEL_FILE);
    PrillmExplainResult result;
    PrillmError err;
    if (prillm_explain(e->market, target, &settings, &result, &err)) return prillm_serve_library_error(a, &err);
    Writer w;
    if (begin(&w, a)) status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    else if (prillm_explain_write_json(e->market, &result, w.out, &err)) {
        discard(&w);
        status = prillm_serve_library_error(a, &err);
    } else {
        status = finish(&w, 200);
    }
    *finished = result.status == PRILLM_STATUS_SOLVED;
    prillm_explain_result_clear(&result);
    a->etag = e->version;
    return status;
}

/* "price_min" / "price_max": {ID: x} into the copy's floors or caps. */
static int bounds(const cJSON *obj, const char *key, PrillmMarket *mk, double *bound, PrillmServeAnswer *a) {
    if (!cJSON_IsObject(obj))
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"%s\" must be an object of provider ids to prices", key);
    for (const cJSON *item = obj->child; item; item = item->next) {
        int j = prillm_market_provider_index(mk, item->string);
        if (j < 0) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "%s: no provider \"%s\"", key, item->string);
        if (!cJSON_IsNumber(item)) return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "%s.\"%s\" must be a number", key, item->string);
        bound[j] = item->valuedouble;
    }
    return 0;
}

static int compete(PrillmServeContext *ctx, PrillmServeMarket *e, const cJSON *body, PrillmServeAnswer *a,
                   int *finished) {
    PrillmCompeteSettings settings;
    prillm_compete_default_settings(&settings);
    settings.threads = 1; /* requests run side by side: one thread each (take_option refuses "threads") */
    PrillmError err;
    PrillmMarket *mk = NULL;
    int *leaders = NULL, n_leaders = e->market->n_providers, status = 0;
    for (const cJSON *item = body->child; item && !status; item = item->next) {
        if (strcmp(item->string, "providers") == 0) {
            if (!cJSON_IsArray(item) || !cJSON_GetArraySize(item)) {
                status = prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"providers\" must be a non-empty array of provider ids");
                break;
            }
            n_leaders = cJSON_GetArraySize(item);
            free(leaders);
            leaders = malloc((size_t)n_leaders * sizeof(int));
            if (!leaders) {
                status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
                break;
            }
            int l = 0;
            for (const cJSON *p = item->child; p && !status; p = p->next, l++) {
                leaders[l] = cJSON_IsString(p) ? prillm_market_provider_index(e->market, p->valuestring) : -1;
                if (leaders[l] < 0)
                    status = prillm_serve_error(a, 400, "INVALID_ARGUMENT", "providers[%d]: not a provider id of market %s",
                                                l, e->id);
                for (int q = 0; q < l && !status; q++)
                    if (leaders[q] == leaders[l])
                        status = prillm_serve_error(a, 400, "INVALID_ARGUMENT", "providers[%d]: \"%s\" is listed twice",
                                                    l, p->valuestring);
            }
            continue;
        }
        if (strcmp(item->string, "price_min") == 0 || strcmp(item->string, "price_max") == 0) {
            if (!mk && !(mk = prillm_market_copy(e->market, &err))) {
                status = prillm_serve_library_error(a, &err);
                break;
            }
            status = bounds(item, item->string, mk, strcmp(item->string, "price_min") == 0 ? mk->price_min : mk->price_max,
                            a);
            continue;
        }
        status = take_option(a, item->string, item, set_compete, &settings);
    }
    if (!status && mk && prillm_market_validate(mk, &err)) status = prillm_serve_library_error(a, &err);
    if (status) {
        free(leaders);
        prillm_market_free(mk);
        return status;
    }
    settings.time_limit = capped(settings.time_limit, ctx->time_limit);
    PrillmCompeteResult result;
    const PrillmMarket *on = mk ? mk : e->market;
    PrillmErrorCode rc = prillm_compete(on, leaders, n_leaders, &settings, &result, &err);
    free(leaders);
    if (rc) {
        prillm_market_free(mk);
        return prillm_serve_library_error(a, &err);
    }
    Writer w;
    if (begin(&w, a)) status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    else if (prillm_compete_result_write_json(on, &result, &settings, w.out, &err)) {
        discard(&w);
        status = prillm_serve_library_error(a, &err);
    } else {
        status = finish(&w, 200);
    }
    *finished = result.status == PRILLM_COMPETE_CONVERGED || result.status == PRILLM_COMPETE_CYCLE ||
                result.status == PRILLM_COMPETE_ROUND_LIMIT;
    prillm_compete_result_clear(&result);
    prillm_market_free(mk);
    a->etag = e->version;
    return status;
}

/* price, explain and compete: the library is deterministic on a market and
 * settings, so an answer whose solver finished (not stopped by a time
 * limit) is kept for the market's version and given again to the same
 * question (header X-Prillm-Answer: cached; its "seconds" are those of the
 * first computation). */
static int question(PrillmServeContext *ctx, int kind, PrillmServeMarket *e, const cJSON *body, PrillmServeAnswer *a) {
    char *canonical = cJSON_PrintUnformatted(body);
    char *key = NULL;
    if (canonical && asprintf(&key, "%d %s", kind, canonical) < 0) key = NULL;
    free(canonical);
    size_t length;
    const char *held = key ? prillm_serve_cache_find(e, key, &length) : NULL;
    if (held) {
        free(key);
        free(a->body);
        a->body = malloc(length + 1);
        if (!a->body) return prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
        memcpy(a->body, held, length);
        a->length = length;
        a->status = 200;
        a->etag = e->version;
        a->answer = "cached";
        return 200;
    }
    int finished = 0;
    int status = kind == PRILLM_SERVE_ROUTE_PRICE     ? price(ctx, e, body, a, &finished)
                 : kind == PRILLM_SERVE_ROUTE_EXPLAIN ? explain(ctx, e, body, a, &finished)
                                                      : compete(ctx, e, body, a, &finished);
    if (status == 200 && finished && key) prillm_serve_cache_keep(e, key, a->body, a->length);
    if (status == 200) a->answer = "computed";
    free(key);
    return status;
}

/* ---- predict ------------------------------------------------------------------ */

/* "YYYY-MM-DD" (or YYYYMMDD), as prillm predict --date reads it. */
static int date_value(const char *text, int *out) {
    int y, m, d;
    char tail;
    if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 || sscanf(text, "%4d%2d%2d%c", &y, &m, &d, &tail) == 3) {
        *out = y * 10000 + m * 100 + d;
        return 0;
    }
    return -1;
}

/* Warnings into the answer's X-Prillm-Warning headers (one line each). */
static void warnings_to_headers(const Warnings *w, PrillmServeAnswer *a) {
    size_t used = 0;
    a->warnings[0] = '\0';
    for (int k = 0; k <= w->count; k++) {
        char line[300];
        if (k < w->count) snprintf(line, sizeof line, "%s", w->text[k]);
        else if (w->more) snprintf(line, sizeof line, "... and %d more", w->more);
        else break;
        for (char *c = line; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
        size_t n = strlen(line);
        if (used + n + 2 > sizeof a->warnings) break;
        if (used) a->warnings[used++] = '\n';
        memcpy(a->warnings + used, line, n + 1);
        used += n;
    }
}

/* POST /markets/{id}/predict {"data": DIR, "date": "YYYY-MM-DD"}: prillm
 * predict on the calibrated text the market was added from, answered with
 * prillm_prediction_write_json (the bytes of prillm predict --json). The
 * data directory is read from the server's file system; answers are not
 * cached (the directory may change). */
static int predict(PrillmServeMarket *e, const cJSON *body, PrillmServeAnswer *a) {
    const char *dir = NULL;
    int date = 0;
    for (const cJSON *item = body->child; item; item = item->next) {
        if (strcmp(item->string, "data") == 0) {
            if (!cJSON_IsString(item) || !item->valuestring[0])
                return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                          "\"data\" must be a data directory (a path on the server)");
            dir = item->valuestring;
        } else if (strcmp(item->string, "date") == 0) {
            if (!cJSON_IsString(item) || date_value(item->valuestring, &date) != 0)
                return prillm_serve_error(a, 400, "INVALID_ARGUMENT", "\"date\" must be a date \"YYYY-MM-DD\"");
        } else {
            return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                      "unknown field \"%s\" (predict takes data and date)", item->string);
        }
    }
    if (!dir)
        return prillm_serve_error(a, 400, "INVALID_ARGUMENT",
                                  "missing \"data\": the period's data directory (a path on the server)");
    a->etag = e->version;
    if (!e->calibrated)
        return prillm_serve_error(a, 409, "NOT_CALIBRATED",
                                  "market %s was not added from a calibrated market (prillm fit --out): predict "
                                  "needs one", e->id);
    if (e->version != 1)
        return prillm_serve_error(a, 409, "CALIBRATION_STALE",
                                  "market %s was changed by PATCH (version %llu): its calibration describes version 1 "
                                  "only; POST the calibrated market again to predict", e->id, e->version);
    Warnings warnings = {.count = 0};
    PrillmPrediction *pr = NULL;
    PrillmError err;
    /* the calibrated text never changes while the entry lives (and the
     * request holds a reference to it), and predict reads nothing else of
     * the market: the market is unlocked meanwhile, so that its other
     * requests need not wait for the data directory to be read */
    pthread_mutex_unlock(&e->lock);
    PrillmErrorCode rc = prillm_predict(e->calibrated, e->calibrated_length, dir, date, collect_warning, &warnings,
                                        &pr, &err);
    pthread_mutex_lock(&e->lock);
    if (rc) {
        /* the data directory is the request's: a missing or unreadable one is
         * a bad request, not a server failure */
        if (rc == PRILLM_ERR_IO) return prillm_serve_error(a, 400, prillm_error_name(rc), "data: %s", err.message);
        return prillm_serve_library_error(a, &err);
    }
    warnings_to_headers(&warnings, a);
    int status;
    Writer w;
    if (begin(&w, a)) status = prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
    else if (prillm_prediction_write_json(pr, w.out, &err)) {
        discard(&w);
        status = prillm_serve_library_error(a, &err);
    } else {
        status = finish(&w, 200);
        a->answer = "computed";
    }
    prillm_prediction_free(pr);
    return status;
}

/* ---- routing -------------------------------------------------------------------- */

static int method_not_allowed(PrillmServeAnswer *a, const char *method, const char *what, const char *allow) {
    a->allow = allow;
    return prillm_serve_error(a, 405, "METHOD_NOT_ALLOWED", "%s takes %s, not %s", what, allow, method);
}

void prillm_serve_handle_markets(PrillmServeContext *ctx, const PrillmServeRequest *req, PrillmServeAnswer *a,
                                 int *route) {
    const char *m = req->method;
    if (!req->id) {
        *route = strcmp(m, "POST") == 0 ? PRILLM_SERVE_ROUTE_CREATE : PRILLM_SERVE_ROUTE_LIST;
        if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) list_markets(ctx, a);
        else if (strcmp(m, "POST") == 0) create_market(ctx, req, a);
        else method_not_allowed(a, m, "/markets", "GET, POST");
        return;
    }
    /* the resource and the methods it takes */
    const char *allow;
    int kind;
    if (!req->path[0]) {
        kind = strcmp(m, "PATCH") == 0    ? PRILLM_SERVE_ROUTE_PATCH
               : strcmp(m, "DELETE") == 0 ? PRILLM_SERVE_ROUTE_DELETE
                                          : PRILLM_SERVE_ROUTE_GET;
        allow = "GET, PATCH, DELETE";
    } else if (strcmp(req->path, "/equilibrium") == 0) {
        kind = PRILLM_SERVE_ROUTE_EQUILIBRIUM;
        allow = "GET";
    } else if (strcmp(req->path, "/price") == 0) {
        kind = PRILLM_SERVE_ROUTE_PRICE;
        allow = "POST";
    } else if (strcmp(req->path, "/explain") == 0) {
        kind = PRILLM_SERVE_ROUTE_EXPLAIN;
        allow = "POST";
    } else if (strcmp(req->path, "/compete") == 0) {
        kind = PRILLM_SERVE_ROUTE_COMPETE;
        allow = "POST";
    } else if (strcmp(req->path, "/predict") == 0) {
        kind = PRILLM_SERVE_ROUTE_PREDICT;
        allow = "POST";
    } else {
        *route = PRILLM_SERVE_ROUTE_OTHER;
        prillm_serve_error(a, 404, "NOT_FOUND",
                           "no resource %s under a market (equilibrium, price, explain, compete and predict are)", req->path);
        return;
    }
    *route = kind;
    int ok = 0;
    for (const char *t = allow; *t;) {
        size_t n = strcspn(t, ",");
        ok |= strlen(m) == n && strncmp(t, m, n) == 0;
        t += n;
        while (*t == ',' || *t == ' ') t++;
    }
    if (!ok) {
        char what[64];
        snprintf(what, sizeof what, "/markets/{id}%s", req->path);
        method_not_allowed(a, m, what, allow);
        return;
    }
    int body_method = strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0;
    cJSON *body = NULL;
    if (body_method && !(body = parse_body(req, a, 1))) return;
    if (!body_method && strcmp(m, "DELETE") == 0 && req->body_length && !(body = parse_body(req, a, 0))) return;
    unsigned long long expected = 0;
    if ((kind == PRILLM_SERVE_ROUTE_PATCH || kind == PRILLM_SERVE_ROUTE_DELETE) &&
        expected_version(req, body, a, &expected)) {
        cJSON_Delete(body);
        return;
    }
    PrillmServeMarket *e = prillm_serve_store_get(ctx->store, req->id);
    if (!e) {
        prillm_serve_error(a, 404, "NOT_FOUND", "no market \"%s\" (POST /markets creates one; GET /markets lists them)",
                           req->id);
        cJSON_Delete(body);
        return;
    }
    if (expected && expected != e->version) {
        stale(a, e, expected);
    } else {
        PrillmError err;
        switch (kind) {
        case PRILLM_SERVE_ROUTE_GET: get_market(e, a); break;
        case PRILLM_SERVE_ROUTE_PATCH: patch_market(ctx, e, body, a); break;
        case PRILLM_SERVE_ROUTE_DELETE: {
            int status = prillm_serve_store_delete(ctx->store, e, &err);
            if (status) prillm_serve_error(a, status, prillm_error_name(err.code), "%s", err.message);
            else {
                Writer w;
                if (begin(&w, a)) prillm_serve_error(a, 503, "NO_MEMORY", "out of memory");
                else {
                    fprintf(w.out, "{\"id\": \"%s\", \"deleted\": true, \"version\": %llu}\n", e->id, e->version);
                    finish(&w, 200);
                }
            }
            break;
        }
        case PRILLM_SERVE_ROUTE_EQUILIBRIUM: get_equilibrium(ctx, req, e, a); break;
        case PRILLM_SERVE_ROUTE_PREDICT: predict(e, body, a); break;
        default: question(ctx, kind, e, body, a); break;
        }
    }
    prillm_serve_store_put(ctx->store, e);
    cJSON_Delete(body);
}
