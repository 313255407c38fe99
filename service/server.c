/* prillm serve's HTTP side on libmicrohttpd: a thread per connection (a
 * solve blocks only its own connection), routing, the body limit, the
 * bearer token, the request log on stderr, /health and /metrics, and a
 * graceful stop on SIGTERM or SIGINT (no new connections; the requests in
 * flight are answered first). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "service.h"

typedef struct {
    const PrillmServeConfig *config;
    PrillmServeContext ctx;
    double started;
    int in_flight;    /* requests begun and not yet completed (atomic) */
    int connections;  /* open connections (atomic) */
    unsigned long long served;
} Server;

typedef struct {
    double start;
    char *body;
    size_t length, capacity;
    int too_large; /* the body passed --max-body */
    size_t discarded;
    int answered;
} Request;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void log_line(const Server *s, struct MHD_Connection *conn, const char *method, const char *url, int status,
                     double seconds, size_t bytes) {
    if (s->config->quiet) return;
    char host[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* one write per line, so that lines of parallel requests do not mix */
    fprintf(stderr, "%s.%03ldZ %s %s %s %d %.3f ms %zu bytes\n", stamp, ts.tv_nsec / 1000000, host, method, url,
            status, 1e3 * seconds, bytes);
}

static enum MHD_Result send_answer(Server *s, struct MHD_Connection *conn, Request *r, const char *method,
                                   const char *url, PrillmServeAnswer *a, int route) {
    if (!a->body) {
        /* out of memory formatting even the error */
        static const char fallback[] = "{\"error\": \"out of memory\", \"code\": \"NO_MEMORY\", \"status\": 503}\n";
        a->status = 503;
        a->body = strdup(fallback);
        a->length = a->body ? strlen(a->body) : 0;
        if (!a->body) return MHD_NO;
    }
    size_t bytes = a->length;
    struct MHD_Response *resp = MHD_create_response_from_buffer(a->length, a->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(a->body);
        a->body = NULL;
        return MHD_NO;
    }
    a->body = NULL; /* the response owns it */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->content_type ? a->content_type : "application/json");
    if (a->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
    if (a->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"prillm\"");
    if (a->etag) {
        char etag[32];
        snprintf(etag, sizeof etag, "\"%llu\"", a->etag);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    }
    if (a->location[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, a->location);
    if (a->cache) MHD_add_response_header(resp, "X-Prillm-Solve", a->cache);
    if (a->answer) MHD_add_response_header(resp, "X-Prillm-Answer", a->answer);
    for (char *line = a->warnings; *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        MHD_add_response_header(resp, "X-Prillm-Warning", line);
        if (!end) break;
        line = end + 1;
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    double seconds = now() - r->start;
    prillm_serve_metrics_record(s->ctx.metrics, route, a->status, seconds);
    log_line(s, conn, method, url, a->status, seconds, bytes);
    r->answered = 1;
    return rc;
}

static int token_ok(const Server *s, struct MHD_Connection *conn) {
    const char *want = s->config->token;
    if (!want) return 1;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    const char *got = auth + 7;
    while (*got == ' ') got++;
    size_t n = strlen(want), m = strlen(got);
    /* constant time in the token's contents */
    unsigned char diff = (unsigned char)(n != m);
    for (size_t k = 0; k < n; k++) diff |= (unsigned char)(want[k] ^ (k < m ? got[k] : 0));
    return diff == 0;
}

typedef struct {
    int (*each)(void *cls, const char *key, const char *value);
    void *cls;
    int stop;
} QueryWalk;

static enum MHD_Result query_iterator(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    QueryWalk *w = cls;
    if (w->stop) return MHD_NO;
    w->stop = w->each(w->cls, key, value);
    return w->stop ? MHD_NO : MHD_YES;
}

static int query(void *connection, int (*each)(void *cls, const char *key, const char *value), void *cls) {
    QueryWalk w = {each, cls, 0};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, query_iterator, &w);
    return w.stop;
}

static void route(Server *s, struct MHD_Connection *conn, const char *method, const char *url, Request *r,
                  PrillmServeAnswer *a, int *route_id) {
    if (strcmp(url, "/health") == 0) {
        *route_id = PRILLM_SERVE_ROUTE_HEALTH;
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            a->allow = "GET";
            prillm_serve_error(a, 405, "METHOD_NOT_ALLOWED", "/health takes GET, not %s", method);
            return;
        }
        if (asprintf(&a->body, "{\"status\": \"ok\", \"version\": \"%s\", \"markets\": %d, \"uptime_seconds\": %.3f}\n",
                     prillm_version(), prillm_serve_store_count(s->ctx.store), now() - s->started) < 0) {
            a->body = NULL;
            return;
        }
        a->length = strlen(a->body);
        a->status = 200;
        return;
    }
    if (!token_ok(s, conn)) {
        *route_id = PRILLM_SERVE_ROUTE_OTHER;
        prillm_serve_error(a, 401, "UNAUTHORIZED", "this service needs \"Authorization: Bearer TOKEN\"");
        return;
    }
    if (strcmp(url, "/metrics") == 0) {
        *route_id = PRILLM_SERVE_ROUTE_METRICS;
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            a->allow = "GET";
            prillm_serve_error(a, 405, "METHOD_NOT_ALLOWED", "/metrics takes GET, not %s", method);
            return;
        }
        a->body = prillm_serve_metrics_text(s->ctx.metrics, prillm_serve_store_count(s->ctx.store),
                                            prillm_serve_store_max(s->ctx.store),
                                            __atomic_load_n(&s->connections, __ATOMIC_RELAXED), now() - s->started,
                                            &a->length);
        a->status = 200;
        a->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    const char *rest = NULL;
    if (strcmp(url, "/markets") == 0 || strcmp(url, "/markets/") == 0) rest = "";
    else if (strncmp(url, "/markets/", 9) == 0) rest = url + 9;
    if (!rest) {
        *route_id = PRILLM_SERVE_ROUTE_OTHER;
        prillm_serve_error(a, 404, "NOT_FOUND", "no resource %s (see /health, /metrics, /markets)", url);
        return;
    }
    char id[PRILLM_SERVE_ID_LENGTH + 1];
    PrillmServeRequest req = {method, "", NULL, r->body, r->length,
                              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH),
                              conn, query};
    if (*rest) {
        size_t n = strcspn(rest, "/");
        int valid = n == PRILLM_SERVE_ID_LENGTH;
        for (size_t k = 0; k < n && valid; k++)
            valid = (rest[k] >= '0' && rest[k] <= '9') || (rest[k] >= 'a' && rest[k] <= 'f');
        if (!valid) {
            *route_id = PRILLM_SERVE_ROUTE_OTHER;
            prillm_serve_error(a, 404, "NOT_FOUND", "no market \"%.*s\" (ids are %d lower-case hex digits)",
                               (int)(n > 64 ? 64 : n), rest, PRILLM_SERVE_ID_LENGTH);
            return;
        }
        memcpy(id, rest, n);
        id[n] = '\0';
        req.id = id;
        req.path = rest + n;
    }
    prillm_serve_handle_markets(&s->ctx, &req, a, route_id);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
    (void)version;
    Server *s = cls;
    Request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->start = now();
        *con_cls = r;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > s->config->max_body) {
            r->too_large = 1;
            PrillmServeAnswer a = {0};
            prillm_serve_error(&a, 413, "TOO_LARGE", "the request body (%s bytes) exceeds the limit of %zu bytes "
                               "(--max-body)", length, s->config->max_body);
            return send_answer(s, conn, r, method, url, &a, PRILLM_SERVE_ROUTE_OTHER);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large) {
            /* the body passed the limit (chunked, no Content-Length): the
             * rest is read and dropped, and 413 answered at its end; a
             * client that goes on past a further 16 MiB is cut off */
            r->discarded += n;
            return r->discarded > ((size_t)16 << 20) ? MHD_NO : MHD_YES;
        }
        if (r->length + n > s->config->max_body) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->length = 0;
            r->discarded = n;
            return MHD_YES;
        }
        if (r->length + n + 1 > r->capacity) {
            size_t cap = r->capacity ? r->capacity : 4096;
            while (cap < r->length + n + 1) cap *= 2;
            char *grown = realloc(r->body, cap);
            if (!grown) return MHD_NO;
            r->body = grown;
            r->capacity = cap;
        }
        memcpy(r->body + r->length, upload_data, n);
        r->length += n;
        r->body[r->length] = '\0';
        return MHD_YES;
    }
    if (r->answered) return MHD_YES;
    PrillmServeAnswer a = {0};
    if (r->too_large) {
        prillm_serve_error(&a, 413, "TOO_LARGE", "the request body exceeds the limit of %zu bytes (--max-body)",
                           s->config->max_body);
        return send_answer(s, conn, r, method, url, &a, PRILLM_SERVE_ROUTE_OTHER);
    }
    int route_id = PRILLM_SERVE_ROUTE_OTHER;
    route(s, conn, method, url, r, &a, &route_id);
    return send_answer(s, conn, r, method, url, &a, route_id);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)conn;
    (void)code;
    Server *s = cls;
    Request *r = *con_cls;
    if (!r) return;
    free(r->body);
    free(r);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&s->served, 1, __ATOMIC_RELAXED);
}

static void connection_event(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
    (void)conn;
    (void)socket_context;
    Server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) __atomic_add_fetch(&s->connections, 1, __ATOMIC_RELAXED);
    else __atomic_sub_fetch(&s->connections, 1, __ATOMIC_RELAXED);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const Server *s = cls;
    if (s->config->quiet) return;
    fputs("prillm: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into an address. */
static int parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len, int *loopback) {
    char host[256];
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host) return -1;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
    }
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res) return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (addr->ss_family == AF_INET) {
        unsigned long a = ntohl(((struct sockaddr_in *)addr)->sin_addr.s_addr);
        *loopback = (a >> 24) == 127;
    } else if (addr->ss_family == AF_INET6) {
        *loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)addr)->sin6_addr);
    } else {
        return -1;
    }
    return 0;
}

int prillm_serve_run(const PrillmServeConfig *config) {
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    int loopback = 0;
    if (parse_listen(config->listen, &addr, &addr_len, &loopback) != 0) {
        fprintf(stderr, "prillm: error: --listen: \"%s\" is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)\n",
                config->listen);
        return EXIT_USAGE;
    }
    if (!loopback && !config->token) {
        fprintf(stderr, "prillm: error: --listen %s is not a loopback address: anyone who can reach it could change "
                        "the markets; give --token-file FILE (or PRILLM_SERVE_TOKEN) so that every request must carry "
                        "\"Authorization: Bearer TOKEN\"\n",
                config->listen);
        return EXIT_USAGE;
    }
    Server s = {.config = config};
    s.started = now();
    s.ctx.time_limit = config->time_limit;
    s.ctx.metrics = prillm_serve_metrics_new();
    PrillmServeStoreConfig store_config = {config->state_dir, config->max_markets, config->time_limit};
    PrillmError err;
    if (!s.ctx.metrics) {
        fprintf(stderr, "prillm: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    double t0 = now();
    if (prillm_serve_store_open(&store_config, &s.ctx.store, &err)) {
        prillm_serve_metrics_free(s.ctx.metrics);
        return prillm_cli_fail(&err);
    }
    if (config->state_dir && !config->quiet)
        fprintf(stderr, "prillm: loaded %d market%s from %s in %.3f s\n", prillm_serve_store_count(s.ctx.store),
                prillm_serve_store_count(s.ctx.store) == 1 ? "" : "s", config->state_dir, now() - t0);

    /* SIGTERM / SIGINT: the handler (on whichever thread takes the signal;
     * libraries such as OpenBLAS start threads of their own) writes the
     * signal's number into a pipe that this thread waits on */
    if (pipe(stop_pipe) != 0) {
        fprintf(stderr, "prillm: error: pipe: %s\n", strerror(errno));
        prillm_serve_store_close(s.ctx.store);
        prillm_serve_metrics_free(s.ctx.metrics);
        return EXIT_INTERNAL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)config->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(config->connection_timeout > 0 ? config->connection_timeout : 0), MHD_OPTION_NOTIFY_COMPLETED,
        completed, &s, MHD_OPTION_NOTIFY_CONNECTION, connection_event, &s, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "prillm: error: cannot listen on %s: %s\n", config->listen,
                errno ? strerror(errno) : "libmicrohttpd refused to start");
        prillm_serve_store_close(s.ctx.store);
        prillm_serve_metrics_free(s.ctx.metrics);
        return EXIT_FAILED;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (!config->quiet) {
        char shown[300];
        snprintf(shown, sizeof shown, "%.*s:%u", (int)(strrchr(config->listen, ':') - config->listen), config->listen,
                 port);
        fprintf(stderr, "prillm: serving on http://%s (%s; %d markets at most, bodies up to %zu bytes, %g s per "
                        "solve)\n",
                shown, config->state_dir ? "state in --state" : "in memory only", config->max_markets,
                config->max_body, config->time_limit);
    }
    if (config->port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", config->port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, config->port_file) != 0)
            fprintf(stderr, "prillm: warning: --port-file %s: %s\n", config->port_file, strerror(errno));
    }
    unsigned char sig = 0;
    while (read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (!config->quiet)
        fprintf(stderr, "prillm: %s: stopping (no new connections; answering the %d requests in flight)\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", __atomic_load_n(&s.in_flight, __ATOMIC_SEQ_CST));
    MHD_socket listen_fd = MHD_quiesce_daemon(d);
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    /* the requests in flight finish (their solves are bounded by
     * --time-limit); then the daemon closes the idle connections */
    double deadline = now() + config->time_limit + 5;
    while (__atomic_load_n(&s.in_flight, __ATOMIC_SEQ_CST) > 0 && now() < deadline) {
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(d);
    if (!config->quiet)
        fprintf(stderr, "prillm: stopped after %llu requests\n", __atomic_load_n(&s.served, __ATOMIC_RELAXED));
    prillm_serve_store_close(s.ctx.store);
    prillm_serve_metrics_free(s.ctx.metrics);
    prillm_serve_free_model();
    /* the handler and its pipe stay until the process exits: a second
     * SIGTERM during the stop is then harmless */
    return EXIT_SOLVED;
}
