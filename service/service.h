/*
 * prillm serve: the pricing service (docs/service.md). Markets held in
 * memory with their equilibrium warm, answered over HTTP/JSON
 * (libmicrohttpd), persisted atomically under --state DIR.
 *
 * The files of this folder are compiled into the prillm command only when
 * it is built with libmicrohttpd (PRILLM_WITH_MICROHTTPD); the library
 * itself does not depend on it. Names: prillm_serve_*.
 *
 *   store.c    the markets: ids, versions, per-market locks, the warm
 *              equilibrium solver, atomic persistence and recovery
 *   handlers.c the endpoints: JSON bodies to library calls to JSON answers
 *   metrics.c  request counts and latency histograms (Prometheus text)
 *   server.c   libmicrohttpd: routing, limits, token, request log, SIGTERM
 */
#ifndef PRILLM_SERVE_H
#define PRILLM_SERVE_H

#include <pthread.h>
#include <stddef.h>

#include "prillm/prillm.h"

/* ---- configuration (cli/cmd_serve.c fills it) ----------------------------- */

typedef struct {
    const char *listen;      /* "HOST:PORT" ("[::1]:PORT" for IPv6); port 0 = any free port */
    const char *state_dir;   /* NULL: markets live in memory only */
    const char *token;       /* NULL: no token (loopback only) */
    const char *port_file;   /* write the bound port there once listening (tests) */
    size_t max_body;         /* bytes of a request body */
    int max_markets;
    int max_connections;
    double time_limit;       /* seconds a solver call may take (its best-so-far answer after) */
    double connection_timeout; /* seconds an idle connection is kept */
    int quiet;               /* no request log */
} PrillmServeConfig;

/* Run the server until SIGTERM or SIGINT. Returns a process exit code. */
int prillm_serve_run(const PrillmServeConfig *config);

/* ---- the answer to one request ---------------------------------------------- */

typedef struct {
    int status;        /* HTTP status */
    char *body;        /* malloc'd JSON (or text for /metrics), owned */
    size_t length;
    const char *content_type; /* NULL = application/json */
    const char *allow; /* 405: the methods the resource takes */
    unsigned long long etag; /* nonzero: the market's version, sent as ETag */
    char location[48];       /* 201: the new market's path, sent as Location */
    const char *cache;  /* X-Prillm-Solve header: "warm", "cold", "none"; or NULL */
    const char *answer; /* X-Prillm-Answer header: "computed", "cached"; or NULL */
    char warnings[4096]; /* X-Prillm-Warning headers, one per line ('\n'-separated); "" = none */
} PrillmServeAnswer;

/* {"error": message, "code": code}; returns status */
int prillm_serve_error(PrillmServeAnswer *a, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The HTTP status of a library error (bad input 400, too large 413, ...). */
int prillm_serve_status_for(PrillmErrorCode code);
int prillm_serve_library_error(PrillmServeAnswer *a, const PrillmError *err);

/* ---- the store -------------------------------------------------------------- */

#define PRILLM_SERVE_ID_LENGTH 16 /* lower-case hex characters */
#define PRILLM_SERVE_ANSWER_CACHE 16 /* answers kept per market and version */

typedef struct PrillmServeStore PrillmServeStore;

/* One market. Everything below lock is read and written with lock held
 * (prillm_serve_store_get takes it). */
typedef struct {
    char id[PRILLM_SERVE_ID_LENGTH + 1];
    pthread_mutex_t lock;
    int refs;      /* under the store's lock */
    int n_users, n_providers; /* the market's size (a PATCH keeps it): read without the lock */
    int deleted;
    unsigned long long version;
    PrillmMarket *market;
    PrillmEquilibriumSolver *solver; /* warm: solved at the current version */
    PrillmEquilibriumSettings eq_settings;
    PrillmErrorCode solve_rc;        /* the last solve's error (OK usually) */
    char solve_message[512];
    int last_warm;                   /* the last solve started from the previous one */
    char *eq_json;                   /* the equilibrium's JSON at version, or NULL */
    size_t eq_json_length;
    /* answers to questions at this version (price, explain, compete), keyed
     * by the route and the request's canonical body; emptied by a change */
    struct {
        char *key, *json;
        size_t length;
    } answers[PRILLM_SERVE_ANSWER_CACHE];
    int answers_next;
    /* a market added from a calibrated file (prillm fit --out: a top-level
     * "calibration" object): its text as sent, for predict; it describes
     * version 1 only (a PATCH makes it stale). NULL otherwise. */
    char *calibrated;
    size_t calibrated_length;
} PrillmServeMarket;

/* The answer held for key at the entry's version (NULL if none). */
const char *prillm_serve_cache_find(const PrillmServeMarket *entry, const char *key, size_t *length);
/* Keep a copy of an answer (the oldest one held makes room). */
void prillm_serve_cache_keep(PrillmServeMarket *entry, const char *key, const char *json, size_t length);

typedef struct {
    const char *state_dir;
    int max_markets;
    double time_limit;
} PrillmServeStoreConfig;

/* Opens the store; with a state directory, loads every market saved there
 * (the newest version of each) and solves it. */
PrillmErrorCode prillm_serve_store_open(const PrillmServeStoreConfig *config, PrillmServeStore **store,
                                        PrillmError *err);
void prillm_serve_store_close(PrillmServeStore *store);
int prillm_serve_store_count(PrillmServeStore *store);
int prillm_serve_store_max(PrillmServeStore *store);
/* A snapshot of the ids and versions (malloc'd arrays, *count entries). */
int prillm_serve_store_list(PrillmServeStore *store, char (**ids)[PRILLM_SERVE_ID_LENGTH + 1],
                            unsigned long long **versions, int **sizes);

/* Adds a market (taken over on success): persisted, solved. calibrated
 * (NULL if none) is the calibrated file's text the market was read from,
 * copied and persisted next to it (DIR/ID.calibrated.json) for predict.
 * Returns 0 and the entry's id, or an HTTP status (429 when full, 500/507
 * when it could not be saved) with err filled. */
int prillm_serve_store_add(PrillmServeStore *store, PrillmMarket *market, const char *calibrated,
                           size_t calibrated_length, char id[PRILLM_SERVE_ID_LENGTH + 1], PrillmError *err);
/* The market with this id, locked (NULL if there is none). */
PrillmServeMarket *prillm_serve_store_get(PrillmServeStore *store, const char *id);
/* Unlock and let go of what prillm_serve_store_get returned. */
void prillm_serve_store_put(PrillmServeStore *store, PrillmServeMarket *entry);
/* Replace the locked entry's market by next (taken over in every case):
 * persisted at version + 1 before it is applied; changed_prices lists the
 * providers whose price alone changed (prices_only: nothing else did), so
 * the warm solver takes them as price updates; otherwise it is set up
 * again. Returns 0 or an HTTP status (err filled; the entry is unchanged). */
int prillm_serve_store_update(PrillmServeStore *store, PrillmServeMarket *entry, PrillmMarket *next,
                              int prices_only, const int *changed, int n_changed, PrillmError *err);
/* Remove the locked entry (its file first). Returns 0 or an HTTP status. */
int prillm_serve_store_delete(PrillmServeStore *store, PrillmServeMarket *entry, PrillmError *err);
/* The entry's equilibrium JSON (prillm_equilibrium_write_json), cached per
 * version. Returns 0 or an HTTP status. */
int prillm_serve_store_equilibrium_json(PrillmServeMarket *entry, const char **json, size_t *length,
                                        PrillmError *err);
/* The solver's time limit cap. */
double prillm_serve_store_time_limit(PrillmServeStore *store);

/* ---- metrics ---------------------------------------------------------------- */

#define PRILLM_SERVE_ROUTES(X)                                                                    \
    X(HEALTH, "health") X(METRICS, "metrics") X(LIST, "markets_list") X(CREATE, "markets_create") \
    X(GET, "market_get") X(PATCH, "market_patch") X(DELETE, "market_delete")                      \
    X(EQUILIBRIUM, "equilibrium") X(PRICE, "price") X(EXPLAIN, "explain") X(COMPETE, "compete")  \
    X(PREDICT, "predict")                                                                         \
    X(OTHER, "other")
typedef enum {
#define PRILLM_SERVE_ROUTE_ENUM(id, name) PRILLM_SERVE_ROUTE_##id,
    PRILLM_SERVE_ROUTES(PRILLM_SERVE_ROUTE_ENUM)
#undef PRILLM_SERVE_ROUTE_ENUM
        PRILLM_SERVE_ROUTE_COUNT
} PrillmServeRoute;

typedef struct PrillmServeMetrics PrillmServeMetrics;
PrillmServeMetrics *prillm_serve_metrics_new(void);
void prillm_serve_metrics_free(PrillmServeMetrics *m);
void prillm_serve_metrics_record(PrillmServeMetrics *m, int route, int status, double seconds);
void prillm_serve_metrics_solve(PrillmServeMetrics *m, int warm, double seconds);
/* The Prometheus text exposition (version 0.0.4) into a malloc'd buffer. */
char *prillm_serve_metrics_text(PrillmServeMetrics *m, int markets, int max_markets, int connections,
                                double uptime, size_t *length);

/* ---- endpoints ---------------------------------------------------------------- */

typedef struct {
    PrillmServeStore *store;
    PrillmServeMetrics *metrics;
    double time_limit;
} PrillmServeContext;

/* A request, as the server read it. query(name) returns a query argument. */
typedef struct {
    const char *method;
    const char *path;       /* after /markets/{id}: "", "/equilibrium", ... */
    const char *id;         /* NULL for /markets itself */
    const char *body;
    size_t body_length;
    const char *if_match;   /* If-Match header, or NULL */
    void *connection;       /* for query arguments */
    int (*query)(void *connection, int (*each)(void *cls, const char *key, const char *value), void *cls);
} PrillmServeRequest;

void prillm_serve_handle_markets(PrillmServeContext *ctx, const PrillmServeRequest *req, PrillmServeAnswer *a,
                                 int *route);
/* The aggregation model method da reads on first use, freed at the end. */
void prillm_serve_free_model(void);

#endif
