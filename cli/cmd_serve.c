/* prillm serve: the pricing service (docs/service.md). The server itself
 * lives in service/ and is built with libmicrohttpd only
 * (PRILLM_WITH_MICROHTTPD); without it the command says so. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef PRILLM_HAVE_MICROHTTPD
#include "service.h"
#endif

static void serve_help(FILE *out) {
    fprintf(out,
            "Usage: prillm serve [--listen HOST:PORT] [--state DIR] [options]\n"
            "\n"
            "An HTTP/JSON pricing service: markets held in memory with their equilibrium\n"
            "warm, changed (PATCH prices, demands, capacities) and asked questions\n"
            "(equilibrium, price, explain, compete, predict) that answer the same JSON as the\n"
            "commands of the same names. See docs/service.md for the endpoints.\n"
            "\n"
            "  POST   /markets                      add a market (body: market JSON) -> {\"id\": ...}\n"
            "  GET    /markets                      list them\n"
            "  GET    /markets/ID                   the market and its version (ETag)\n"
            "  PATCH  /markets/ID                   {\"prices\": {PROVIDER: x}, \"demands\": {USER: x},\n"
            "                                        \"capacities\": {PROVIDER: x}}; If-Match: VERSION\n"
            "  DELETE /markets/ID\n"
            "  GET    /markets/ID/equilibrium       [?method=...&tolerance=...]\n"
            "  POST   /markets/ID/price             {\"target\": ID, \"method\": ..., ...}\n"
            "  POST   /markets/ID/explain           {\"target\": ID, ...}\n"
            "  POST   /markets/ID/compete           {\"providers\": [...], ...}\n"
            "  POST   /markets/ID/predict           {\"data\": DIR, \"date\": \"YYYY-MM-DD\"} on a market added from\n"
            "                                        prillm fit --out (DIR: a path on the server)\n"
            "  GET    /health, /metrics             liveness; Prometheus metrics\n"
            "\n"
            "Options:\n"
            "  --listen HOST:PORT\n      the address (default 127.0.0.1:8080; port 0 picks a free one; an\n"
            "      address other than loopback needs a token)\n"
            "  --state DIR\n      keep the markets in DIR: every accepted change is written there\n"
            "      (temporary file, fsync, rename, fsync of DIR) before it is acknowledged,\n"
            "      and a restart serves them again (default: memory only)\n"
            "  --token-file FILE\n      a bearer token (the file's first line): every request but /health\n"
            "      must send \"Authorization: Bearer TOKEN\" (also: PRILLM_SERVE_TOKEN)\n"
            "  --max-body BYTES\n      the largest request body (default 67108864, 64 MiB)\n"
            "  --max-markets N\n      markets held at most (default 1000)\n"
            "  --max-connections N\n      open connections at most (default 64)\n"
            "  --time-limit SECONDS\n      the longest a solver runs for one request; after it, the answer is\n"
            "      the solver's best so far with its status (default 30)\n"
            "  --port-file FILE\n      write the port listened on to FILE once ready (for scripts)\n"
            "  --quiet\n      no request log on stderr\n"
            "  -h, --help\n      this text\n"
            "\n"
            "Stops on SIGTERM or SIGINT after answering the requests in flight.\n\n%s",
            prillm_cli_exit_code_help);
}

static int read_token(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "prillm: error: --token-file: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    if (!fgets(buf, (int)size, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 16) {
        fprintf(stderr, "prillm: error: --token-file %s: the token must be at least 16 characters\n", path);
        return EXIT_BAD_INPUT;
    }
    return 0;
}

int cmd_serve(int argc, char **argv) {
    const char *listen = "127.0.0.1:8080", *state = NULL, *token_file = NULL, *port_file = NULL;
    const char *max_body = NULL, *max_markets = NULL, *max_connections = NULL, *time_limit = NULL;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            serve_help(stdout);
            return EXIT_SOLVED;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        const char *flags[] = {"--listen",      "--state",     "--token-file",      "--port-file",
                               "--max-body",    "--max-markets", "--max-connections", "--time-limit"};
        const char **values[] = {&listen, &state, &token_file, &port_file, &max_body, &max_markets, &max_connections,
                                 &time_limit};
        for (int f = 0; f < 8 && !took; f++) took = prillm_cli_flag_value(argc, argv, &k, flags[f], values[f]);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        fprintf(stderr, "prillm: error: unknown option %s (see prillm serve --help)\n", arg);
        return EXIT_USAGE;
    }
    long body = 64L << 20, markets = 1000, connections = 64;
    double limit = 30;
    if (max_body && prillm_cli_parse_int(max_body, "--max-body", 1024, 1L << 30, &body)) return EXIT_USAGE;
    if (max_markets && prillm_cli_parse_int(max_markets, "--max-markets", 1, 1000000, &markets)) return EXIT_USAGE;
    if (max_connections && prillm_cli_parse_int(max_connections, "--max-connections", 1, 65536, &connections))
        return EXIT_USAGE;
    if (time_limit && prillm_cli_parse_double(time_limit, "--time-limit", 0.001, 86400, &limit)) return EXIT_USAGE;
#ifdef PRILLM_HAVE_MICROHTTPD
    char token[4096];
    const char *tok = NULL;
    if (token_file) {
        int code = read_token(token_file, token, sizeof token);
        if (code) return code;
        tok = token;
    } else if (getenv("PRILLM_SERVE_TOKEN") && getenv("PRILLM_SERVE_TOKEN")[0]) {
        snprintf(token, sizeof token, "%s", getenv("PRILLM_SERVE_TOKEN"));
        if (strlen(token) < 16) {
            fprintf(stderr, "prillm: error: PRILLM_SERVE_TOKEN must be at least 16 characters\n");
            return EXIT_USAGE;
        }
        tok = token;
    }
    PrillmServeConfig config = {.listen = listen,
                                .state_dir = state,
                                .token = tok,
                                .port_file = port_file,
                                .max_body = (size_t)body,
                                .max_markets = (int)markets,
                                .max_connections = (int)connections,
                                .time_limit = limit,
                                .connection_timeout = 60,
                                .quiet = prillm_cli_quiet};
    return prillm_serve_run(&config);
#else
    (void)read_token;
    (void)listen;
    (void)state;
    (void)token_file;
    (void)port_file;
    fprintf(stderr, "prillm: error: serve: built without libmicrohttpd (configure with -DPRILLM_WITH_MICROHTTPD=ON "
                    "and Debian's libmicrohttpd-dev installed)\n");
    return EXIT_FAILED;
#endif
}
