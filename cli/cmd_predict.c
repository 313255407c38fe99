/* prillm predict: a new period's flows on a calibrated whole market. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/market_model.h"

static void predict_help(FILE *out) {
    fprintf(out,
            "Usage: prillm predict CALIBRATED.json --data DIR [--date YYYY-MM-DD] [--json|--csv]\n"
            "\n"
            "Predicts the apps' traffic in a new period on a market written by prillm fit --out:\n"
            "the period's prices (listed or effective, as the fit used), latency and throughput,\n"
            "and app demands, from DIR in either layout:\n"
            "  OpenRouter  models.csv rows of the date; apps.csv total_tokens (else\n"
            "              flow_sum_lower_bound) of the date as demand; flows.csv not needed\n"
            "  generic     providers.csv (period,provider,price[,latency][,throughput][,tokens]);\n"
            "              demands.csv (period,app,demand), raw tokens per day\n"
            "Models the fit never saw enter with a volume predicted from price, latency and\n"
            "throughput; apps it never saw get the rest of the market's tastes; models and apps\n"
            "missing from the period keep their last price / scaled demand. Each is reported on\n"
            "stderr and flagged in the output: nothing is dropped silently. The market's size\n"
            "(the period's model tokens, when given) scales demands and curvature together.\n"
            "\n"
            "Options:\n"
            "  --data DIR\n      the period's data\n"
            "  --date D\n      the period (default: the data's last priced date)\n"
            "  --csv\n      print app,model_id,tokens (tokens per day; non-zero flows)\n"
            "  --json\n      print JSON (the default): model totals and flows\n"
            "  -h, --help\n      this text\n\n%s",
            prillm_cli_exit_code_help);
}

static int parse_date(const char *text, int *out) {
    int y, m, d;
    char tail;
    if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 || sscanf(text, "%4d%2d%2d%c", &y, &m, &d, &tail) == 3) {
        *out = y * 10000 + m * 100 + d;
        return 0;
    }
    fprintf(stderr, "prillm: error: --date %s is not YYYY-MM-DD\n", text);
    return 1;
}

static char *read_all(const char *path, size_t *length) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        if (len > PRILLM_MAX_INPUT_BYTES) {
            /* the same limit as every reader of the library */
            fprintf(stderr, "prillm: error: %s: input exceeds the %zu-byte limit\n", path, (size_t)PRILLM_MAX_INPUT_BYTES);
            free(buf);
            buf = NULL;
            break;
        }
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (f != stdin) fclose(f);
    *length = len;
    return buf;
}

int cmd_predict(int argc, char **argv) {
    const char *path = NULL, *dir = NULL;
    int date = 0, csv = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value;
        int got;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            predict_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--csv") == 0) {
            csv = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            csv = 0;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--data", &value))) {
            if (got < 0) return EXIT_USAGE;
            dir = value;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--date", &value))) {
            if (got < 0 || parse_date(value, &date)) return EXIT_USAGE;
            continue;
        }
        int rc = prillm_cli_positional(arg, "predict", "calibrated market", &path);
        if (rc) return rc;
    }
    if (prillm_cli_require_path(path, "predict", "CALIBRATED.json")) return EXIT_USAGE;
    if (!dir) {
        fprintf(stderr, "prillm: error: missing --data DIR (see prillm predict --help)\n");
        return EXIT_USAGE;
    }
    size_t length = 0;
    char *text = read_all(path, &length);
    if (!text) {
        fprintf(stderr, "prillm: error: cannot read %s\n", path);
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {0};
    PrillmPrediction *pr = NULL;
    PrillmErrorCode rc = prillm_predict(text, length, dir, date, prillm_cli_warn_to_stderr, (void *)dir, &pr, &err);
    free(text);
    if (rc) return prillm_cli_fail(&err);
    const PrillmMarket *mk = pr->market;
    int n = mk->n_users, m = mk->n_providers;
    if (csv) {
        printf("app,model_id,tokens\n");
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                double f = pr->flows[(size_t)i * (size_t)m + (size_t)j];
                if (!(f > 0)) continue;
                prillm__csv_field(stdout, mk->user_id[i]);
                putchar(',');
                prillm__csv_field(stdout, mk->provider_id[j]);
                printf(",%.0f\n", f * 1e6);
            }
    } else {
        printf("{\n  \"status\": \"%s\",\n  \"date\": \"%04d-%02d-%02d\",\n  \"market_scale\": ", prillm_status_name(pr->status),
               pr->date / 10000, pr->date / 100 % 100, pr->date % 100);
        prillm__json_number(stdout, pr->scale);
        fputs(",\n  \"kkt_violation\": ", stdout);
        prillm__json_number(stdout, pr->kkt_violation);
        fputs(",\n  \"models\": [", stdout);
        for (int j = 0; j < m; j++) {
            fputs(j ? ",\n    {\"id\": " : "\n    {\"id\": ", stdout);
            prillm__json_string(stdout, mk->provider_id[j]);
            fputs(", \"price\": ", stdout);
            prillm__json_number(stdout, mk->price[j]);
            fputs(", \"tokens\": ", stdout);
            prillm__json_number(stdout, pr->provider_flow[j] * 1e6);
            printf(", \"entrant\": %s, \"price_carried\": %s}", pr->entrant[j] ? "true" : "false",
                   pr->carried[j] ? "true" : "false");
        }
        fputs("\n  ],\n  \"apps\": [", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? ",\n    {\"id\": " : "\n    {\"id\": ", stdout);
            prillm__json_string(stdout, mk->user_id[i]);
            fputs(", \"demand\": ", stdout);
            prillm__json_number(stdout, mk->demand[i] * 1e6);
            printf(", \"new\": %s, \"demand_carried\": %s, \"flows\": [", pr->new_app[i] ? "true" : "false",
                   pr->app_carried[i] ? "true" : "false");
            for (int j = 0, first = 1; j < m; j++) {
                double f = pr->flows[(size_t)i * (size_t)m + (size_t)j];
                if (!(f > 0)) continue;
                fputs(first ? "{\"model_id\": " : ", {\"model_id\": ", stdout);
                prillm__json_string(stdout, mk->provider_id[j]);
                fputs(", \"tokens\": ", stdout);
                prillm__json_number(stdout, f * 1e6);
                fputs("}", stdout);
                first = 0;
            }
            fputs("]}", stdout);
        }
        fputs("\n  ]\n}\n", stdout);
    }
    int code = prillm_cli_exit_for_status(pr->status);
    prillm_prediction_free(pr);
    return code;
}
