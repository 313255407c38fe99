/* The service's markets: ids, versions, a lock per market, the warm
 * equilibrium solver, and atomic persistence.
 *
 * Persistence (--state DIR): market ID at version V is the file
 * DIR/ID.vV.json, the market JSON prillm_market_write_json writes. A change
 * writes DIR/.ID.vV.json.tmp, fsyncs it, renames it into place and fsyncs
 * the directory, and only then is applied in memory and acknowledged; the
 * previous version's file is removed afterwards. A crash at any point leaves
 * either the old or the new file complete (or both): on start the newest
 * version of each id is loaded and the rest (older versions, temporary
 * files) removed.
 *
 * A market added from a calibrated file (prillm fit --out) also keeps that
 * text, for predict, as DIR/ID.calibrated.json: written the same way before
 * ID.v1.json (so a market acknowledged as calibrated always has it), removed
 * after the market's file on DELETE; on start one whose market file is
 * missing (a crash in between) is removed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_document.h"
#include "service.h"

struct PrillmServeStore {
    pthread_mutex_t lock; /* the table */
    PrillmServeMarket **entries;
    int count, max;
    int reserved; /* places taken by markets being added */
    char *dir;
    double time_limit;
};

static PrillmErrorCode fail(PrillmError *err, PrillmErrorCode code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* ---- files ------------------------------------------------------------------- */

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void version_path(char *buf, size_t size, const char *dir, const char *id, unsigned long long version) {
    snprintf(buf, size, "%s/%s.v%llu.json", dir, id, version);
}

static void calibrated_path(char *buf, size_t size, const char *dir, const char *id) {
    snprintf(buf, size, "%s/%s.calibrated.json", dir, id);
}

/* What an atomic write puts in the file: a market, or bytes. */
typedef struct {
    const PrillmMarket *market;
    const char *text;
    size_t length;
} Content;

static PrillmErrorCode write_content(const Content *c, FILE *f, PrillmError *err) {
    if (c->market) return prillm_market_write_json(c->market, f, err);
    if (c->length && fwrite(c->text, 1, c->length, f) != c->length) {
        fail(err, PRILLM_ERR_IO, "%s", strerror(errno));
        return PRILLM_ERR_IO;
    }
    return PRILLM_OK;
}

/* Write DIR/NAME: DIR/.NAME.tmp, fsync, rename, fsync of the directory.
 * Returns 0 or an HTTP status (err filled). */
static int save_file(const PrillmServeStore *s, const char *name, const Content *content, PrillmError *err) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", s->dir, name);
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(err, PRILLM_ERR_IO, "cannot save the market: %s: %s", tmp, strerror(errno));
        return errno == ENOSPC ? 507 : 500;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        fail(err, PRILLM_ERR_IO, "cannot save the market: %s", strerror(errno));
        return 500;
    }
    PrillmError werr;
    PrillmErrorCode rc = write_content(content, f, &werr);
    int bad = rc || fflush(f) != 0 || ferror(f);
    int saved_errno = errno;
    if (!bad && fsync(fd) != 0) {
        bad = 1;
        saved_errno = errno;
    }
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved_errno = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        saved_errno = errno;
    }
    if (bad) {
        unlink(tmp);
        fail(err, PRILLM_ERR_IO, "cannot save the market in %s: %s", s->dir,
             rc ? werr.message : strerror(saved_errno));
        return saved_errno == ENOSPC ? 507 : 500;
    }
    if (fsync_dir(s->dir) != 0) {
        fail(err, PRILLM_ERR_IO, "cannot sync the state directory %s: %s", s->dir, strerror(errno));
        return 500;
    }
    return 0;
}

/* Write market as DIR/ID.vVERSION.json. Returns 0 or an HTTP status. */
static int save(const PrillmServeStore *s, const char *id, unsigned long long version, const PrillmMarket *mk,
                PrillmError *err) {
    if (!s->dir) return 0;
    char name[128];
    snprintf(name, sizeof name, "%s.v%llu.json", id, version);
    Content c = {mk, NULL, 0};
    return save_file(s, name, &c, err);
}

/* ---- answers held per version ------------------------------------------------ */

static void cache_clear(PrillmServeMarket *e) {
    for (int k = 0; k < PRILLM_SERVE_ANSWER_CACHE; k++) {
        free(e->answers[k].key);
        free(e->answers[k].json);
        e->answers[k].key = e->answers[k].json = NULL;
    }
    e->answers_next = 0;
}

const char *prillm_serve_cache_find(const PrillmServeMarket *e, const char *key, size_t *length) {
    for (int k = 0; k < PRILLM_SERVE_ANSWER_CACHE; k++)
        if (e->answers[k].key && strcmp(e->answers[k].key, key) == 0) {
            *length = e->answers[k].length;
            return e->answers[k].json;
        }
    return NULL;
}

void prillm_serve_cache_keep(PrillmServeMarket *e, const char *key, const char *json, size_t length) {
    char *k = strdup(key), *j = malloc(length + 1);
    if (!k || !j) {
        free(k);
        free(j);
        return; /* not kept: the next request computes it again */
    }
    memcpy(j, json, length);
    j[length] = '\0';
    int slot = e->answers_next;
    free(e->answers[slot].key);
    free(e->answers[slot].json);
    e->answers[slot].key = k;
    e->answers[slot].json = j;
    e->answers[slot].length = length;
    e->answers_next = (slot + 1) % PRILLM_SERVE_ANSWER_CACHE;
}

/* ---- the warm solver ------------------------------------------------------- */

static void solve(PrillmServeMarket *e, int warm) {
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = PRILLM_OK;
    if (!warm || !e->solver) {
        prillm_equilibrium_cleanup(e->solver);
        e->solver = NULL;
        rc = prillm_equilibrium_setup(&e->solver, e->market, &e->eq_settings, &err);
    }
    if (!rc) rc = prillm_equilibrium_solve(e->solver, &err);
    e->solve_rc = rc;
    snprintf(e->solve_message, sizeof e->solve_message, "%s", rc ? err.message : "");
    e->last_warm = warm;
    free(e->eq_json);
    e->eq_json = NULL;
    cache_clear(e);
}

static PrillmServeMarket *entry_new(const PrillmServeStore *s, const char *id, unsigned long long version,
                                    PrillmMarket *mk) {
    PrillmServeMarket *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    pthread_mutex_init(&e->lock, NULL);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->version = version;
    e->market = mk;
    e->n_users = mk->n_users;
    e->n_providers = mk->n_providers;
    prillm_equilibrium_default_settings(&e->eq_settings);
    e->eq_settings.time_limit = s->time_limit;
    solve(e, 0);
    return e;
}

static void entry_free(PrillmServeMarket *e) {
    if (!e) return;
    prillm_equilibrium_cleanup(e->solver);
    prillm_market_free(e->market);
    free(e->eq_json);
    cache_clear(e);
    free(e->calibrated);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ---- loading ------------------------------------------------------------------ */

static int is_id(const char *text, size_t n) {
    if (n != PRILLM_SERVE_ID_LENGTH) return 0;
    for (size_t k = 0; k < n; k++)
        if (!((text[k] >= '0' && text[k] <= '9') || (text[k] >= 'a' && text[k] <= 'f'))) return 0;
    return 1;
}

/* "ID.vN.json" -> id and version N; "ID.calibrated.json" -> id and 0; 0 if
 * the name is neither. */
static int parse_name(const char *name, char id[PRILLM_SERVE_ID_LENGTH + 1], unsigned long long *version) {
    const char *dot = strchr(name, '.');
    if (!dot || !is_id(name, (size_t)(dot - name))) return 0;
    unsigned long long v = 0; /* 0: ID.calibrated.json, the calibrated text of market id */
    if (strcmp(dot, ".calibrated.json") != 0) {
        if (dot[1] != 'v') return 0;
        char *end = NULL;
        errno = 0;
        v = strtoull(dot + 2, &end, 10);
        if (errno || end == dot + 2 || strcmp(end, ".json") != 0 || v == 0) return 0;
    }
    memcpy(id, name, PRILLM_SERVE_ID_LENGTH);
    id[PRILLM_SERVE_ID_LENGTH] = '\0';
    *version = v;
    return 1;
}

static PrillmServeMarket *find(const PrillmServeStore *s, const char *id) {
    for (int k = 0; k < s->count; k++)
        if (strcmp(s->entries[k]->id, id) == 0) return s->entries[k];
    return NULL;
}

static PrillmErrorCode load(PrillmServeStore *s, PrillmError *err) {
    DIR *d = opendir(s->dir);
    if (!d) return fail(err, PRILLM_ERR_IO, "--state %s: %s", s->dir, strerror(errno));
    /* pass 1: the newest version of each id */
    typedef struct {
        char id[PRILLM_SERVE_ID_LENGTH + 1];
        unsigned long long version;
    } Found;
    Found *found = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.' && len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
            /* a save interrupted by a crash: never acknowledged */
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", s->dir, name);
            unlink(path);
            continue;
        }
        char id[PRILLM_SERVE_ID_LENGTH + 1];
        unsigned long long v;
        if (!parse_name(name, id, &v)) continue;
        if (v == 0) continue; /* ID.calibrated.json: read with its market */
        int k = 0;
        while (k < n && strcmp(found[k].id, id) != 0) k++;
        if (k == n) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                Found *grown = realloc(found, (size_t)cap * sizeof *found);
                if (!grown) {
                    free(found);
                    closedir(d);
                    return fail(err, PRILLM_ERR_NO_MEMORY, "out of memory reading --state %s", s->dir);
                }
                found = grown;
            }
            memcpy(found[n].id, id, sizeof id);
            found[n++].version = v;
        } else if (v > found[k].version) {
            found[k].version = v;
        }
    }
    closedir(d);
    if (n > s->max) {
        free(found);
        return fail(err, PRILLM_ERR_INVALID_ARGUMENT, "--state %s holds %d markets, above --max-markets %d", s->dir, n,
                    s->max);
    }
    /* pass 2: read them; remove the older versions */
    PrillmErrorCode rc = PRILLM_OK;
    for (int k = 0; k < n && !rc; k++) {
        char path[4096];
        version_path(path, sizeof path, s->dir, found[k].id, found[k].version);
        FILE *f = fopen(path, "rb");
        if (!f) {
            rc = fail(err, PRILLM_ERR_IO, "--state: cannot open %s: %s", path, strerror(errno));
            break;
        }
        PrillmMarket *mk = NULL;
        PrillmError rerr;
        PrillmErrorCode r = prillm_market_read_json(f, NULL, NULL, &mk, &rerr);
        fclose(f);
        if (r) {
            rc = fail(err, r, "--state: %s: %s", path, rerr.message);
            break;
        }
        PrillmServeMarket *e = entry_new(s, found[k].id, found[k].version, mk);
        if (!e) {
            prillm_market_free(mk);
            rc = fail(err, PRILLM_ERR_NO_MEMORY, "out of memory loading %s", path);
            break;
        }
        s->entries[s->count++] = e;
        calibrated_path(path, sizeof path, s->dir, found[k].id);
        FILE *cf = fopen(path, "rb");
        if (cf) {
            PrillmError cerr;
            char *text = NULL;
            size_t length = 0;
            PrillmErrorCode r2 = prillm__read_stream(cf, path, &text, &length, &cerr);
            fclose(cf);
            if (r2) {
                rc = fail(err, r2, "--state: %s: %s", path, cerr.message);
                break;
            }
            e->calibrated = text;
            e->calibrated_length = length;
        } else if (errno != ENOENT) {
            rc = fail(err, PRILLM_ERR_IO, "--state: cannot open %s: %s", path, strerror(errno));
            break;
        }
        for (unsigned long long v = found[k].version; v-- > 1;) {
            version_path(path, sizeof path, s->dir, found[k].id, v);
            if (unlink(path) != 0 && errno == ENOENT && v + 64 < found[k].version) break;
        }
    }
    /* calibrated texts whose market file is gone (a crash between the two
     * writes of an add, or of a DELETE): never acknowledged, or deleted */
    if (!rc && (d = opendir(s->dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char id[PRILLM_SERVE_ID_LENGTH + 1];
            unsigned long long v;
            if (!parse_name(de->d_name, id, &v) || v != 0 || find(s, id)) continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    free(found);
    return rc;
}

/* ---- the table ---------------------------------------------------------------- */

PrillmErrorCode prillm_serve_store_open(const PrillmServeStoreConfig *config, PrillmServeStore **store,
                                        PrillmError *err) {
    *store = NULL;
    PrillmServeStore *s = calloc(1, sizeof *s);
    if (!s) return fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->max = config->max_markets;
    s->time_limit = config->time_limit;
    s->entries = calloc((size_t)s->max + 1, sizeof *s->entries);
    if (config->state_dir) s->dir = strdup(config->state_dir);
    if (!s->entries || (config->state_dir && !s->dir)) {
        prillm_serve_store_close(s);
        return fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    if (s->dir) {
        struct stat st;
        if (stat(s->dir, &st) != 0 && errno == ENOENT && mkdir(s->dir, 0700) != 0) {
            fail(err, PRILLM_ERR_IO, "--state %s: cannot create it: %s", s->dir, strerror(errno));
            prillm_serve_store_close(s);
            return PRILLM_ERR_IO;
        }
        PrillmErrorCode rc = load(s, err);
        if (rc) {
            prillm_serve_store_close(s);
            return rc;
        }
    }
    *store = s;
    return PRILLM_OK;
}

void prillm_serve_store_close(PrillmServeStore *s) {
    if (!s) return;
    for (int k = 0; k < s->count; k++) entry_free(s->entries[k]);
    free(s->entries);
    free(s->dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int prillm_serve_store_count(PrillmServeStore *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int prillm_serve_store_max(PrillmServeStore *s) { return s->max; }
double prillm_serve_store_time_limit(PrillmServeStore *s) { return s->time_limit; }

int prillm_serve_store_list(PrillmServeStore *s, char (**ids)[PRILLM_SERVE_ID_LENGTH + 1],
                            unsigned long long **versions, int **sizes) {
    pthread_mutex_lock(&s->lock);
    int n = s->count;
    *ids = malloc(((size_t)n + 1) * sizeof **ids);
    *versions = malloc(((size_t)n + 1) * sizeof **versions);
    *sizes = malloc(((size_t)n + 1) * 2 * sizeof **sizes);
    if (!*ids || !*versions || !*sizes) {
        pthread_mutex_unlock(&s->lock);
        free(*ids);
        free(*versions);
        free(*sizes);
        *ids = NULL;
        *versions = NULL;
        *sizes = NULL;
        return -1;
    }
    /* the versions are read without the markets' locks: a snapshot */
    for (int k = 0; k < n; k++) {
        memcpy((*ids)[k], s->entries[k]->id, sizeof (*ids)[k]);
        (*versions)[k] = __atomic_load_n(&s->entries[k]->version, __ATOMIC_RELAXED);
        (*sizes)[2 * k] = s->entries[k]->n_users;
        (*sizes)[2 * k + 1] = s->entries[k]->n_providers;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int new_id(const PrillmServeStore *s, char id[PRILLM_SERVE_ID_LENGTH + 1]) {
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char bytes[PRILLM_SERVE_ID_LENGTH / 2];
        if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) return -1;
        for (size_t k = 0; k < sizeof bytes; k++) snprintf(id + 2 * k, 3, "%02x", bytes[k]);
        if (!find(s, id)) return 0;
    }
    return -1;
}

int prillm_serve_store_add(PrillmServeStore *s, PrillmMarket *mk, const char *calibrated, size_t calibrated_length,
                           char id[PRILLM_SERVE_ID_LENGTH + 1], PrillmError *err) {
    char *text = NULL;
    if (calibrated) {
        text = malloc(calibrated_length + 1);
        if (!text) {
            prillm_market_free(mk);
            fail(err, PRILLM_ERR_NO_MEMORY, "out of memory keeping the calibrated market");
            return 503;
        }
        memcpy(text, calibrated, calibrated_length);
        text[calibrated_length] = '\0';
    }
    /* a place is reserved under the table's lock; saving and solving (slow)
     * happen outside it */
    pthread_mutex_lock(&s->lock);
    if (s->count + s->reserved >= s->max) {
        pthread_mutex_unlock(&s->lock);
        prillm_market_free(mk);
        free(text);
        fail(err, PRILLM_ERR_TOO_LARGE, "the service holds its limit of %d markets (--max-markets): DELETE one first",
             s->max);
        return 429;
    }
    if (new_id(s, id) != 0) {
        pthread_mutex_unlock(&s->lock);
        prillm_market_free(mk);
        free(text);
        fail(err, PRILLM_ERR_IO, "cannot draw a random market id: %s", strerror(errno));
        return 500;
    }
    s->reserved++;
    pthread_mutex_unlock(&s->lock);

    int status = 0;
    if (text && s->dir) {
        char name[128];
        snprintf(name, sizeof name, "%s.calibrated.json", id);
        Content c = {NULL, text, calibrated_length};
        status = save_file(s, name, &c, err);
    }
    if (!status) status = save(s, id, 1, mk, err);
    PrillmServeMarket *e = status ? NULL : entry_new(s, id, 1, mk);
    if (!status && !e) {
        if (s->dir) {
            char path[4096];
            version_path(path, sizeof path, s->dir, id, 1);
            unlink(path);
        }
        fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        status = 503;
    }
    if (!e) {
        if (text && s->dir) {
            char path[4096];
            calibrated_path(path, sizeof path, s->dir, id);
            unlink(path);
        }
        prillm_market_free(mk);
        free(text);
    } else {
        e->calibrated = text;
        e->calibrated_length = calibrated_length;
    }
    pthread_mutex_lock(&s->lock);
    s->reserved--;
    if (e) s->entries[s->count++] = e;
    pthread_mutex_unlock(&s->lock);
    return status;
}

PrillmServeMarket *prillm_serve_store_get(PrillmServeStore *s, const char *id) {
    pthread_mutex_lock(&s->lock);
    PrillmServeMarket *e = NULL;
    for (int k = 0; k < s->count && !e; k++)
        if (strcmp(s->entries[k]->id, id) == 0) e = s->entries[k];
    if (e) e->refs++;
    pthread_mutex_unlock(&s->lock);
    if (!e) return NULL;
    pthread_mutex_lock(&e->lock);
    if (e->deleted) {
        prillm_serve_store_put(s, e);
        return NULL;
    }
    return e;
}

void prillm_serve_store_put(PrillmServeStore *s, PrillmServeMarket *e) {
    int gone = e->deleted;
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&s->lock);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (gone && last) entry_free(e);
}

int prillm_serve_store_update(PrillmServeStore *s, PrillmServeMarket *e, PrillmMarket *next, int prices_only,
                              const int *changed, int n_changed, PrillmError *err) {
    int status = save(s, e->id, e->version + 1, next, err);
    if (status) {
        prillm_market_free(next);
        return status;
    }
    if (s->dir) {
        char path[4096];
        version_path(path, sizeof path, s->dir, e->id, e->version);
        unlink(path);
    }
    PrillmMarket *old = e->market;
    e->market = next;
    __atomic_store_n(&e->version, e->version + 1, __ATOMIC_RELAXED);
    int warm = prices_only && e->solver;
    if (warm) {
        PrillmError uerr;
        for (int k = 0; k < n_changed && warm; k++)
            if (prillm_equilibrium_update_price(e->solver, changed[k], next->price[changed[k]], &uerr)) warm = 0;
    }
    solve(e, warm);
    prillm_market_free(old);
    return 0;
}

int prillm_serve_store_delete(PrillmServeStore *s, PrillmServeMarket *e, PrillmError *err) {
    if (s->dir) {
        char path[4096];
        version_path(path, sizeof path, s->dir, e->id, e->version);
        if (unlink(path) != 0 && errno != ENOENT) {
            fail(err, PRILLM_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
            return 500;
        }
        if (e->calibrated) {
            calibrated_path(path, sizeof path, s->dir, e->id);
            unlink(path); /* left behind by a failure: removed on the next start */
        }
        if (fsync_dir(s->dir) != 0) {
            fail(err, PRILLM_ERR_IO, "cannot sync the state directory %s: %s", s->dir, strerror(errno));
            return 500;
        }
    }
    e->deleted = 1;
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < s->count; k++)
        if (s->entries[k] == e) {
            s->entries[k] = s->entries[--s->count];
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int prillm_serve_store_equilibrium_json(PrillmServeMarket *e, const char **json, size_t *length, PrillmError *err) {
    if (!e->solver) {
        fail(err, e->solve_rc ? e->solve_rc : PRILLM_ERR_SOLVER, "the equilibrium could not be set up: %s",
             e->solve_message);
        return 500;
    }
    if (!e->eq_json) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            return 503;
        }
        PrillmErrorCode rc =
            prillm_equilibrium_write_json(e->market, prillm_equilibrium_solution(e->solver), e->eq_settings.method, f, err);
        fclose(f);
        if (rc) {
            free(buf);
            return prillm_serve_status_for(rc);
        }
        e->eq_json = buf;
        e->eq_json_length = len;
    }
    *json = e->eq_json;
    *length = e->eq_json_length;
    return 0;
}
