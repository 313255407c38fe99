/* Request counts and latencies of the service, in the Prometheus text
 * exposition format (version 0.0.4): served at GET /metrics. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

/* the status codes counted one by one; anything else is "other" */
static const int codes[] = {200, 201, 204, 400, 401, 404, 405, 409, 411, 413, 415, 428, 429, 500, 503, 507};
#define N_CODES (int)(sizeof codes / sizeof codes[0])
/* latency buckets, seconds (upper bounds; +Inf is the count) */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define N_BUCKETS (int)(sizeof buckets / sizeof buckets[0])

static const char *const route_names[] = {
#define PRILLM_SERVE_ROUTE_NAME(id, name) name,
    PRILLM_SERVE_ROUTES(PRILLM_SERVE_ROUTE_NAME)
#undef PRILLM_SERVE_ROUTE_NAME
};

struct PrillmServeMetrics {
    pthread_mutex_t lock;
    unsigned long long requests[PRILLM_SERVE_ROUTE_COUNT][N_CODES + 1];
    unsigned long long bucket[PRILLM_SERVE_ROUTE_COUNT][N_BUCKETS];
    unsigned long long count[PRILLM_SERVE_ROUTE_COUNT];
    double sum[PRILLM_SERVE_ROUTE_COUNT];
    unsigned long long solves[2];
    double solve_seconds[2];
};

PrillmServeMetrics *prillm_serve_metrics_new(void) {
    PrillmServeMetrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->lock, NULL);
    return m;
}

void prillm_serve_metrics_free(PrillmServeMetrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void prillm_serve_metrics_record(PrillmServeMetrics *m, int route, int status, double seconds) {
    if (route < 0 || route >= PRILLM_SERVE_ROUTE_COUNT) route = PRILLM_SERVE_ROUTE_OTHER;
    int c = 0;
    while (c < N_CODES && codes[c] != status) c++;
    pthread_mutex_lock(&m->lock);
    m->requests[route][c]++;
    for (int b = 0; b < N_BUCKETS; b++)
        if (seconds <= buckets[b]) m->bucket[route][b]++;
    m->count[route]++;
    m->sum[route] += seconds;
    pthread_mutex_unlock(&m->lock);
}

void prillm_serve_metrics_solve(PrillmServeMetrics *m, int warm, double seconds) {
    pthread_mutex_lock(&m->lock);
    m->solves[warm != 0]++;
    m->solve_seconds[warm != 0] += seconds;
    pthread_mutex_unlock(&m->lock);
}

char *prillm_serve_metrics_text(PrillmServeMetrics *m, int markets, int max_markets, int connections, double uptime,
                                size_t *length) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) return NULL;
    pthread_mutex_lock(&m->lock);
    fputs("# HELP prillm_requests_total HTTP requests answered, by route and status code.\n"
          "# TYPE prillm_requests_total counter\n",
          out);
    for (int r = 0; r < PRILLM_SERVE_ROUTE_COUNT; r++)
        for (int c = 0; c <= N_CODES; c++) {
            if (!m->requests[r][c]) continue;
            if (c < N_CODES)
                fprintf(out, "prillm_requests_total{route=\"%s\",code=\"%d\"} %llu\n", route_names[r], codes[c],
                        m->requests[r][c]);
            else
                fprintf(out, "prillm_requests_total{route=\"%s\",code=\"other\"} %llu\n", route_names[r],
                        m->requests[r][c]);
        }
    fputs("# HELP prillm_request_duration_seconds Time from a request's first byte read to its answer queued.\n"
          "# TYPE prillm_request_duration_seconds histogram\n",
          out);
    for (int r = 0; r < PRILLM_SERVE_ROUTE_COUNT; r++) {
        if (!m->count[r]) continue;
        for (int b = 0; b < N_BUCKETS; b++)
            fprintf(out, "prillm_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_names[r],
                    buckets[b], m->bucket[r][b]);
        fprintf(out, "prillm_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_names[r],
                m->count[r]);
        fprintf(out, "prillm_request_duration_seconds_sum{route=\"%s\"} %.9g\n", route_names[r], m->sum[r]);
        fprintf(out, "prillm_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r], m->count[r]);
    }
    fputs("# HELP prillm_equilibrium_solves_total Equilibrium solves of held markets: warm (price updates, from the "
          "last solution) or cold (new markets, demand or capacity changes).\n"
          "# TYPE prillm_equilibrium_solves_total counter\n",
          out);
    fprintf(out, "prillm_equilibrium_solves_total{start=\"cold\"} %llu\n", m->solves[0]);
    fprintf(out, "prillm_equilibrium_solves_total{start=\"warm\"} %llu\n", m->solves[1]);
    fputs("# HELP prillm_equilibrium_solve_seconds_total Time in those solves.\n"
          "# TYPE prillm_equilibrium_solve_seconds_total counter\n",
          out);
    fprintf(out, "prillm_equilibrium_solve_seconds_total{start=\"cold\"} %.9g\n", m->solve_seconds[0]);
    fprintf(out, "prillm_equilibrium_solve_seconds_total{start=\"warm\"} %.9g\n", m->solve_seconds[1]);
    pthread_mutex_unlock(&m->lock);
    fprintf(out,
            "# HELP prillm_markets Markets held.\n# TYPE prillm_markets gauge\nprillm_markets %d\n"
            "# HELP prillm_markets_max The limit on markets held (--max-markets).\n# TYPE prillm_markets_max gauge\n"
            "prillm_markets_max %d\n"
            "# HELP prillm_connections Open connections.\n# TYPE prillm_connections gauge\nprillm_connections %d\n"
            "# HELP prillm_uptime_seconds Seconds since the service started.\n# TYPE prillm_uptime_seconds gauge\n"
            "prillm_uptime_seconds %.3f\n",
            markets, max_markets, connections, uptime);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    *length = len;
    return buf;
}
