/* prillm predict: a new period's flows on a calibrated whole market. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_document.h"
#include "prillm/market_model.h"

static void predict_help(FILE *out) {
    fprintf(out,
            "Usage: prillm predict CALIBRATED.json --data DIR [--date YYYY-MM-DD] [--json|--csv|--table] [--out FILE|-]\n"
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
            "  --table\n      print a readable summary: per model tokens, price and flags; the top apps\n"
            "      (--json, --csv and --table are alternatives)\n"
            "  --out FILE\n      where the prediction goes (default stdout; - is stdout)\n");
    prillm_cli_print_verbosity_help(out, NULL);
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
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

/* The whole input (path "-" is stdin), through the library's reader and so
 * within its PRILLM_MAX_INPUT_BYTES limit; NULL when it cannot be read. */
static char *read_all(const char *path, size_t *length) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    PrillmError err;
    PrillmErrorCode rc = prillm__read_stream(f, path, &text, length, &err);
    if (f != stdin) fclose(f);
    if (rc == PRILLM_ERR_PARSE) /* past the limit */
        fprintf(stderr, "prillm: error: %s: input exceeds the %zu-byte limit\n", path, (size_t)PRILLM_MAX_INPUT_BYTES);
    return text;
}

/* A readable summary for people: every model, then the largest apps. */
static void print_table(FILE *out, const PrillmPrediction *pr) {
    const PrillmMarket *mk = pr->market;
    int n = mk->n_users, m = mk->n_providers;
    double total = 0;
    for (int j = 0; j < m; j++) total += pr->provider_flow[j];
    fprintf(out, "Prediction for %04d-%02d-%02d: %s (%d models x %d apps, market scale %.4g, KKT violation %.2g)\n\n",
            pr->date / 10000, pr->date / 100 % 100, pr->date % 100, prillm_status_name(pr->status), m, n, pr->scale,
            pr->kkt_violation);
    char cell[PRILLM_CLI_CELL], cell2[PRILLM_CLI_CELL]; /* ids as table cells */
    fprintf(out, "%-44s %14s %7s %10s  %s\n", "model", "tokens/day", "share", "price", "flags");
    for (int j = 0; j < m; j++)
        fprintf(out, "%-44.44s %14.4g %6.2f%% %10.4g  %s%s\n", prillm_cli_cell(mk->provider_id[j], cell),
                pr->provider_flow[j] * 1e6,
                total > 0 ? 100.0 * pr->provider_flow[j] / total : 0.0, mk->price[j], pr->entrant[j] ? "entrant " : "",
                pr->carried[j] ? "price carried" : "");
    int shown = n < 10 ? n : 10;
    fprintf(out, "\nTop %d of %d apps by demand\n%-32s %14s  %-36s %s\n", shown, n, "app", "tokens/day", "largest model",
            "flags");
    char *used = calloc((size_t)n + 1, 1);
    for (int r = 0; r < shown && used; r++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || mk->demand[i] > mk->demand[best])) best = i;
        used[best] = 1;
        const double *row = pr->flows + (size_t)best * (size_t)m;
        int top = -1;
        for (int j = 0; j < m; j++)
            if (row[j] > 0 && (top < 0 || row[j] > row[top])) top = j;
        char largest[64] = "-";
        if (top >= 0)
            snprintf(largest, sizeof largest, "%.26s %.0f%%", prillm_cli_cell(mk->provider_id[top], cell),
                     mk->demand[best] > 0 ? 100.0 * row[top] / mk->demand[best] : 0.0);
        fprintf(out, "%-32.32s %14.4g  %-36s %s%s\n", prillm_cli_cell(mk->user_id[best], cell2),
                mk->demand[best] * 1e6, largest,
                pr->new_app[best] ? "new " : "", pr->app_carried[best] ? "demand carried" : "");
    }
    free(used);
}

int cmd_predict(int argc, char **argv) {
    const char *path = NULL, *dir = NULL, *format = NULL, *out_path = NULL;
    int date = 0, csv = 0;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value;
        int got;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            predict_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--csv") == 0 || strcmp(arg, "--json") == 0 || strcmp(arg, "--table") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            csv = strcmp(arg, "--csv") == 0 ? 1 : strcmp(arg, "--table") == 0 ? 2 : 0;
            continue;
        }
        if ((got = prillm_cli_verbosity_flag(argc, argv, &k, &verbose))) {
            if (got < 0) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--out", &value))) {
            if (got < 0) return EXIT_USAGE;
            out_path = value;
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
    if (prillm_market_is_binary(text, length)) {
        free(text);
        fprintf(stderr,
                "prillm: error: %s is a market in the binary form, which holds no calibration: predict reads the JSON "
                "that prillm fit --out writes\n",
                path);
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {0};
    PrillmPrediction *pr = NULL;
    PrillmErrorCode rc = prillm_predict(text, length, dir, date, prillm_cli_warn_to_stderr, (void *)dir, &pr, &err);
    free(text);
    if (rc) {
        /* a message about the calibrated market, which it names only so: say which file */
        if (strncmp(err.message, "calibrated market", 17) == 0)
            fprintf(stderr, "prillm: error: %s: %s\n", path, err.message);
        else
            fprintf(stderr, "prillm: error: %s\n", err.message);
        return prillm_cli_exit_for_error(rc);
    }
    int code = prillm_cli_exit_for_status(pr->status);
    const char *where = out_path ? out_path : "-";
    FILE *out = prillm_cli_open_output(where, "--out");
    if (!out) {
        code = EXIT_BAD_INPUT;
    } else {
        PrillmErrorCode wrc = PRILLM_OK;
        if (csv == 1) wrc = prillm_prediction_write_csv(pr, out, &err);
        else if (csv == 2) print_table(out, pr);
        else wrc = prillm_prediction_write_json(pr, out, &err);
        if (prillm_cli_close_output(out, where) != 0) code = EXIT_INTERNAL; /* said by the close */
        else if (wrc) code = prillm_cli_fail(&err);
    }
    prillm_prediction_free(pr);
    return code;
}
