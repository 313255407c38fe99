/* prillm fit: the whole-market model on the OpenRouter tables, validated
 * forward, written as a calibrated market. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/market_model.h"

static void fit_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_fit_options(&count);
    fprintf(out,
            "Usage: prillm fit --data DIR [--out CALIBRATED.json|-] [--report FILE|-] [--json|--table] [options]\n"
            "\n"
            "Calibrates the whole market in the OpenRouter tables (models.csv, flows.csv:\n"
            "every app and every model with traffic and a price, plus users for the\n"
            "traffic of apps not publicly listed, one per price tier): price sensitivity from\n"
            "a target own-price elasticity, chosen by forecasting later days among values\n"
            "within the elasticities measured from real price variation; values and tastes by\n"
            "exact inversion, so the calibrated equilibrium reproduces the observed totals\n"
            "and listed flows (the report's certificate); app tastes on cells never observed\n"
            "from an app x author effect chosen on held-out cells. Reports the forward\n"
            "validation against persistence and market share, each model's own-price\n"
            "elasticity, diversion to its closest rivals and implied marginal cost.\n"
            "\n"
            "Options:\n"
            "  --data DIR\n      the OpenRouter tables (e.g. ../shared/data/openrouter)\n"
            "  --out FILE\n      write the calibrated market (equilibrium, price and predict read it);\n"
            "      - is stdout (then send the report elsewhere with --report FILE)\n"
            "  --report FILE\n      where the report goes (default stdout; - is stdout)\n"
            "  --table\n      print a plain report instead of JSON\n"
            "  --json\n      print JSON (the default; --json and --table are alternatives)\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default); 1 or 2 the choices the fit made\n"
                                         "      (taste shrinkage, target elasticity, segments)");
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

static PrillmErrorCode set_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_fit_set_option(settings, name, value, err);
}

int cmd_fit(int argc, char **argv) {
    PrillmFitSettings st;
    prillm_fit_default_settings(&st);
    int count;
    const PrillmOptionInfo *opts = prillm_fit_options(&count);
    PrillmCliDataFlags flags = {0};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        int got;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fit_help(stdout);
            return EXIT_SOLVED;
        }
        if ((got = prillm_cli_data_flag(argc, argv, &k, &flags))) {
            if (got < 0) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_take_option(argc, argv, &k, opts, count, set_option, &st);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        fprintf(stderr, "prillm: error: unexpected argument %s (see prillm fit --help)\n", arg);
        return EXIT_USAGE;
    }
    const char *dir = flags.data, *out_path = flags.out, *report_path = flags.report;
    int table = flags.table;
    if (!dir) {
        fprintf(stderr, "prillm: error: missing --data DIR (see prillm fit --help)\n");
        return EXIT_USAGE;
    }
    if (out_path && strcmp(out_path, "-") == 0 && (!report_path || strcmp(report_path, "-") == 0))
        return prillm_cli_both_stdout("--out -", "the report", "pass --out FILE or --report FILE");
    st.verbose = (int)flags.verbose;
    const char *where = report_path ? report_path : "-";
    PrillmError err = {0};
    PrillmFitResult *res = NULL;
    PrillmErrorCode rc = prillm_fit_openrouter(dir, &st, prillm_cli_warn_to_stderr, (void *)dir, &res, &err);
    if (rc) return prillm_cli_fail(&err);
    int code = prillm_cli_exit_for_status(res->status);
    FILE *report = prillm_cli_open_output(where, "--report");
    if (!report) {
        code = EXIT_BAD_INPUT;
    } else {
        if (table) prillm_fit_write_table(report, res);
        else prillm_fit_write_json(report, res);
        if (prillm_cli_close_output(report, where) != 0) code = EXIT_INTERNAL;
    }
    if (out_path) {
        FILE *f = prillm_cli_open_output(out_path, "--out");
        if (!f) {
            code = EXIT_BAD_INPUT;
        } else {
            rc = prillm_fit_write_market(f, res, &err);
            /* a write error is the close's to report, with its reason */
            if (prillm_cli_close_output(f, out_path) != 0) code = EXIT_INTERNAL;
            else if (rc) code = prillm_cli_fail(&err);
            else prillm_cli_note("calibrated whole market written to %s", out_path);
        }
    }
    prillm_fit_result_free(res);
    return code;
}
