/*
 * prillm calibrate: learn the apps' preferences (congestion and delay
 * weights, the models' perceived values) from observed traffic, evaluate
 * the fit in-sample and held-out, and write the calibrated market.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "prillm/calibration.h"

static void calibrate_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_calibration_options(&count);
    fprintf(out,
            "Usage: prillm calibrate --data DIR [--out CALIBRATED.json] [options]\n"
            "       prillm calibrate --write-synthetic DIR [--models N --apps M --periods T --noise S --listed K --seed X]\n"
            "\n"
            "Read observed traffic from DIR (the OpenRouter layout of ../shared/data/openrouter,\n"
            "or the generic layout providers.csv + flows.csv [+ delays.csv, demands.csv]; see\n"
            "docs/calibration.md), build the top models x apps market, learn w_congestion,\n"
            "w_delay and each model's value (w_price = 1), and print a JSON report: r2, mae\n"
            "(in-sample, observed cells), r2_heldout, mae_heldout (k-fold over observed cells),\n"
            "weights, values, iterations, seconds, status. Unlisted app x model cells are\n"
            "censored, not zero. Progress and the data's assumptions go to stderr.\n"
            "\n"
            "Options:\n"
            "  --data DIR\n      observations to calibrate on\n"
            "  --out FILE\n      write the calibrated market (the format equilibrium and price read);\n"
            "      - is stdout (then send the report elsewhere with --report FILE)\n"
            "  --period K\n      which period's market --out writes (default the last)\n"
            "  --plot FILE.svg\n      scatter plot of predicted vs observed flows (log-log); - is stdout\n"
            "  --report FILE\n      where the report goes (default stdout; - is stdout)\n"
            "  --baselines\n      also run every baseline (npm, noq, fd, xgboost, a2c) on the same data\n"
            "  --table\n      print a plain table instead of JSON\n"
            "  --json\n      print JSON (the default; --json and --table are alternatives)\n"
            "  --write-synthetic DIR\n      write observations generated from the model (generic layout) and its\n"
            "      true market (DIR/truth.json), then stop; with --periods (5), --noise (0.1),\n"
            "      --listed (top apps each model lists, 5; 0 = all) and --models/--apps/--seed\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 the data and each method's result (default), 1 also the start and\n"
                                         "      end of the search and the held-out folds, 2 also every 50 iterations");
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

static PrillmErrorCode set_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_calibration_set_option(settings, name, value, err);
}

/* The library's lines may start with the method's name, which for the
 * default method is "prillm": say "method prillm: ..." rather than
 * "prillm: prillm: ...". */
static void progress_to_stderr(void *context, const char *message) {
    (void)context;
    for (int q = 0; q < 6; q++) {
        const char *name = prillm_calibration_method_name(q);
        size_t len = strlen(name);
        if (strncmp(message, name, len) == 0 && message[len] == ':') {
            prillm_cli_note("method %s", message);
            return;
        }
    }
    prillm_cli_note("%s", message);
}

static void print_result_fields(FILE *out, const PrillmCalibrationResult *r, const char *indent) {
    fprintf(out, "%s\"method\": \"%s\",\n%s\"status\": \"%s\",\n", indent, prillm_calibration_method_name(r->method),
            indent, prillm_status_name(r->status));
    const char *names[] = {"r2", "mae", "r2_heldout", "mae_heldout", "loss_initial", "loss_final", "seconds",
                           "seconds_total"};
    double values[] = {r->r2, r->mae, r->r2_heldout, r->mae_heldout, r->loss_initial, r->loss_final, r->seconds,
                       r->seconds_total};
    for (int q = 0; q < 8; q++) {
        fprintf(out, "%s\"%s\": ", indent, names[q]);
        prillm__json_number(out, values[q]);
        fputs(",\n", out);
    }
    fprintf(out, "%s\"iterations\": %d,\n%s\"evaluations\": %ld,\n%s\"weights\": {\"price\": 1, \"congestion\": ", indent,
            r->iterations, indent, r->evaluations, indent);
    prillm__json_number(out, r->w_congestion);
    fputs(", \"delay\": ", out);
    prillm__json_number(out, r->w_delay);
    fputs("}", out);
}

static void print_json(FILE *out, const char *dir, const PrillmObservations *obs, const PrillmCalibrationSettings *st,
                       PrillmCalibrationResult *const *results, int count) {
    const PrillmCalibrationResult *r = results[0];
    const PrillmMarket *mk = obs->periods[0].market;
    fputs("{\n", out);
    print_result_fields(out, r, "  ");
    fputs(",\n  \"data\": ", out);
    prillm__json_string(out, dir);
    fprintf(out,
            ",\n  \"layout\": \"%s\",\n  \"periods\": %d,\n  \"models\": %d,\n  \"apps\": %d,\n"
            "  \"observed_cells\": %ld,\n  \"censored_cells\": %ld,\n  \"bounded_cells\": %ld,\n"
            "  \"censoring\": \"%s\",\n  \"folds\": %d,\n  \"seed\": %d,\n  \"lp\": {\"slack\": ",
            obs->layout, obs->n_periods, obs->n_providers, obs->n_users, obs->observed_cells, obs->censored_cells,
            obs->bounded_cells, st->censoring == PRILLM_CENSOR_UPPER ? "upper" : "missing", st->folds, st->seed);
    prillm__json_number(out, r->lp_slack);
    fputs(", \"slack_relative\": ", out);
    prillm__json_number(out, r->lp_slack_relative);
    fputs(", \"seconds\": ", out);
    prillm__json_number(out, r->lp_seconds);
    fputs("},\n  \"providers\": ", out);
    prillm_cli_print_strings(out, mk->provider_id, mk->n_providers);
    fputs(",\n  \"values\": ", out);
    prillm_cli_print_numbers(out, r->value, mk->n_providers);
    PrillmCalibrationDiagnostics d;
    PrillmError err = {0};
    if (prillm_calibration_diagnose(obs, r, &d, &err) == PRILLM_OK) {
        fputs(",\n  \"stranded_models\": [", out);
        for (int j = 0, first = 1; j < mk->n_providers; j++) {
            if (!d.stranded[j]) continue;
            if (!first) fputs(", ", out);
            prillm__json_string(out, mk->provider_id[j]);
            first = 0;
        }
        fputs("],\n  \"own_elasticity\": ", out);
        prillm_cli_print_numbers(out, d.own_elasticity, mk->n_providers);
        fputs(",\n  \"implied_cost\": ", out);
        prillm_cli_print_numbers(out, d.implied_cost, mk->n_providers);
        fprintf(out, ",\n  \"paid_models\": %d,\n  \"implied_cost_nonnegative\": %d", d.paid, d.paid_nonnegative_cost);
        prillm_calibration_diagnostics_free(&d);
    }
    if (count > 1) {
        fputs(",\n  \"baselines\": [\n", out);
        for (int q = 1; q < count; q++) {
            fputs("    {\n", out);
            print_result_fields(out, results[q], "      ");
            fputs(q + 1 < count ? "\n    },\n" : "\n    }\n", out);
        }
        fputs("  ]", out);
    }
    fputs("\n}\n", out);
}

static void print_number_cell(FILE *out, double x, const char *fmt) {
    if (isfinite(x)) fprintf(out, fmt, x);
    else fprintf(out, "%10s", "-");
}

static void print_table(FILE *out, const PrillmObservations *obs, PrillmCalibrationResult *const *results, int count) {
    fprintf(out, "%d period(s), %d models x %d apps, %ld observed cells, %ld censored (%ld with an upper bound)\n\n",
            obs->n_periods, obs->n_providers, obs->n_users, obs->observed_cells, obs->censored_cells, obs->bounded_cells);
    fprintf(out, "%-8s %-7s %10s %12s %10s %12s %10s %10s %8s %10s\n", "method", "status", "R2", "MAE", "R2 held",
            "MAE held", "w_cong", "w_delay", "iters", "seconds");
    for (int q = 0; q < count; q++) {
        const PrillmCalibrationResult *r = results[q];
        fprintf(out, "%-8s %-7s ", prillm_calibration_method_name(r->method), prillm_status_name(r->status));
        print_number_cell(out, r->r2, "%10.4f");
        fputc(' ', out);
        print_number_cell(out, r->mae, "%12.4g");
        fputc(' ', out);
        print_number_cell(out, r->r2_heldout, "%10.4f");
        fputc(' ', out);
        print_number_cell(out, r->mae_heldout, "%12.4g");
        fputc(' ', out);
        print_number_cell(out, r->w_congestion, "%10.4g");
        fputc(' ', out);
        print_number_cell(out, r->w_delay, "%10.4g");
        fprintf(out, " %8d %10.3f\n", r->iterations, r->seconds_total);
    }
    const PrillmCalibrationResult *r = results[0];
    if (isfinite(r->lp_slack))
        fprintf(out, "\nLP init slack: %.6g USD/Mtok in total, %.3g of the marginal costs\n", r->lp_slack,
                r->lp_slack_relative);
    if (isfinite(r->w_congestion)) {
        PrillmCalibrationDiagnostics d;
        PrillmError err = {0};
        int have = prillm_calibration_diagnose(obs, r, &d, &err) == PRILLM_OK;
        fprintf(out, "\n%-40s %10s %10s %10s %10s %s\n", "model", "price", "value", "own elast.", "impl. cost",
                have ? "" : err.message);
        char cell[PRILLM_CLI_CELL]; /* ids as table cells */
        const PrillmMarket *mk = obs->periods[obs->n_periods - 1].market;
        for (int j = 0; j < mk->n_providers; j++)
            fprintf(out, "%-40s %10.4g %10.4g %10.3g %10.4g%s\n", prillm_cli_cell(mk->provider_id[j], cell),
                    mk->price[j], r->value[j],
                    have ? d.own_elasticity[j] : NAN, have ? d.implied_cost[j] : NAN,
                    have && d.stranded[j] ? "  STRANDED: observed traffic, none predicted" : "");
        if (have) {
            fprintf(out, "\nstranded models (observed traffic, zero predicted): %d; implied marginal cost >= 0 for %d of %d paid models\n",
                    d.n_stranded, d.paid_nonnegative_cost, d.paid);
            prillm_calibration_diagnostics_free(&d);
        }
    }
}

static int write_synthetic(const char *dir, const PrillmCalibrationSettings *st, long periods, double noise,
                           long listed) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "prillm: error: cannot create %s: %s\n", dir, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {PRILLM_OK, ""};
    PrillmObservations *obs = NULL;
    /* the true weights are those of prillm_market_random: (1, 0.8, 0.5) */
    PrillmErrorCode rc = prillm_observations_synthetic(st->apps, st->models, (int)periods, 0.8, 0.5, NULL, noise,
                                                       (int)listed, (unsigned long long)st->seed, &obs, &err);
    if (!rc) rc = prillm_observations_write_csv(obs, dir, &err);
    if (rc) {
        prillm_observations_free(obs);
        return prillm_cli_fail(&err);
    }
    PrillmMarket *truth = prillm_market_random(st->apps, st->models, (unsigned long long)st->seed, &err);
    char path[4096];
    snprintf(path, sizeof path, "%s/truth.json", dir);
    FILE *out = truth ? fopen(path, "w") : NULL;
    if (truth && out) {
        /* the true parameters on the last period's prices and demands */
        const PrillmMarket *last = obs->periods[obs->n_periods - 1].market;
        memcpy(truth->price, last->price, (size_t)truth->n_providers * sizeof(double));
        memcpy(truth->demand, last->demand, (size_t)truth->n_users * sizeof(double));
        rc = prillm_market_write_json(truth, out, &err);
        if (fclose(out) != 0 && !rc) rc = PRILLM_ERR_IO;
    } else {
        rc = truth ? PRILLM_ERR_IO : err.code;
        if (truth) snprintf(err.message, sizeof err.message, "cannot write %.400s: %.80s", path, strerror(errno));
    }
    prillm_cli_note("wrote %d periods of %d apps x %d models (noise %g, %ld listed per model) to %s", obs->n_periods, obs->n_users, obs->n_providers, noise, listed, dir);
    prillm_market_free(truth);
    prillm_observations_free(obs);
    if (rc) {
        err.code = rc;
        return prillm_cli_fail(&err);
    }
    return EXIT_SOLVED;
}

int cmd_calibrate(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_calibration_options(&count);
    PrillmCalibrationSettings st;
    prillm_calibration_default_settings(&st);
    PrillmCliDataFlags flags = {0};
    const char *plot_path = NULL, *synthetic = NULL, *value;
    long period = -1, periods = 5, listed = 5;
    double noise = 0.1;
    int baselines = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        int got;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            calibrate_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--baselines") == 0) {
            baselines = 1;
            continue;
        }
        if ((got = prillm_cli_data_flag(argc, argv, &k, &flags))) {
            if (got < 0) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--plot", &value))) {
            if (got < 0) return EXIT_USAGE;
            plot_path = value;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--write-synthetic", &value))) {
            if (got < 0) return EXIT_USAGE;
            synthetic = value;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--period", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--period", 0, 1000000000L, &period)) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--periods", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--periods", 1, 100000, &periods)) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--listed", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--listed", 0, 1000000, &listed)) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--noise", &value))) {
            if (got < 0 || prillm_cli_parse_double(value, "--noise", 0, 10, &noise)) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_take_option(argc, argv, &k, opts, count, set_option, &st);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        fprintf(stderr, "prillm: error: unexpected argument %s (see prillm calibrate --help)\n", arg);
        return EXIT_USAGE;
    }
    const char *dir = flags.data, *out_path = flags.out, *report_path = flags.report;
    int table = flags.table;
    st.verbose = (int)flags.verbose;
    if (synthetic) return write_synthetic(synthetic, &st, periods, noise, listed);
    {
        int report_stdout = !report_path || strcmp(report_path, "-") == 0;
        int out_stdout = out_path && strcmp(out_path, "-") == 0, plot_stdout = plot_path && strcmp(plot_path, "-") == 0;
        if (out_stdout && plot_stdout)
            return prillm_cli_both_stdout("--out -", "--plot -", "pass --out FILE or --plot FILE");
        if (out_stdout && report_stdout)
            return prillm_cli_both_stdout("--out -", "the report", "pass --out FILE or --report FILE");
        if (plot_stdout && report_stdout)
            return prillm_cli_both_stdout("--plot -", "the report", "pass --plot FILE or --report FILE");
    }
    if (!dir) {
        fprintf(stderr, "prillm: error: missing --data DIR (see prillm calibrate --help)\n");
        return EXIT_USAGE;
    }
    PrillmError err = {PRILLM_OK, ""};
    PrillmObservations *obs = NULL;
    PrillmErrorCode rc = prillm_observations_read(dir, &st, prillm_cli_warn_to_stderr, (void *)dir, &obs, &err);
    if (rc) {
        fprintf(stderr, "prillm: error: %s: %s\n", dir, err.message);
        return prillm_cli_exit_for_error(rc);
    }
    if (period >= obs->n_periods) {
        fprintf(stderr, "prillm: error: --period %ld: the data has %d period(s)\n", period, obs->n_periods);
        prillm_observations_free(obs);
        return EXIT_USAGE;
    }
    if (period < 0) period = obs->n_periods - 1;
    prillm_cli_note("%s: %d period(s), %d models x %d apps, %ld observed cells, %ld censored", dir, obs->n_periods, obs->n_providers, obs->n_users, obs->observed_cells, obs->censored_cells);
    PrillmCalibrationResult *results[6] = {NULL};
    int methods[6] = {st.method}, n_results = 1;
    if (baselines)
        for (int q = 0; q < 6; q++)
            if (q != st.method) methods[n_results++] = q;
    int code = EXIT_SOLVED;
    for (int q = 0; q < n_results && !code; q++) {
        PrillmCalibrationSettings one = st;
        one.method = methods[q];
        rc = prillm_calibrate(obs, &one, progress_to_stderr, NULL, &results[q], &err);
        if (rc) {
            fprintf(stderr, "prillm: error: %s: %s\n", prillm_calibration_method_name(one.method), err.message);
            code = prillm_cli_exit_for_error(rc);
            break;
        }
        prillm_cli_note("method %s: %s, R2 %.4f, held-out R2 %.4f, %.3f s", prillm_calibration_method_name(one.method),
                prillm_status_name(results[q]->status), results[q]->r2, results[q]->r2_heldout,
                results[q]->seconds_total);
    }
    if (!code && out_path && results[0]->status == PRILLM_STATUS_SOLVED && isfinite(results[0]->w_congestion)) {
        PrillmMarket *mk = NULL;
        rc = prillm_calibration_market(obs, (int)period, results[0], &mk, &err);
        FILE *out = rc ? NULL : prillm_cli_open_output(out_path, "--out");
        if (!rc && !out) {
            code = EXIT_BAD_INPUT;
        } else if (rc) {
            code = prillm_cli_fail(&err);
        } else {
            rc = prillm_market_write_json(mk, out, &err);
            /* a failed stream is the close's to say (it sees the error flag) */
            if (prillm_cli_close_output(out, out_path) != 0) code = EXIT_INTERNAL;
            else if (rc) code = prillm_cli_fail(&err);
            else prillm_cli_note("calibrated market (period %ld) written to %s", period, out_path);
        }
        prillm_market_free(mk);
    } else if (!code && out_path) {
        prillm_cli_warn("%s has no calibrated game to write; %s not written",
                        prillm_calibration_method_name(results[0]->method), out_path);
    }
    if (!code && plot_path) {
        FILE *svg = prillm_cli_open_output(plot_path, "--plot");
        if (!svg) {
            code = EXIT_BAD_INPUT;
        } else {
            rc = prillm_calibration_write_svg(obs, results[0], svg, &err);
            /* a failed stream is the close's to say (it sees the error flag) */
            if (prillm_cli_close_output(svg, plot_path) != 0) code = EXIT_INTERNAL;
            else if (rc) code = prillm_cli_fail(&err);
        }
    }
    if (results[0] && (!code || code == EXIT_BAD_INPUT)) {
        const char *where = report_path ? report_path : "-";
        FILE *report = prillm_cli_open_output(where, "--report");
        if (!report) {
            code = EXIT_BAD_INPUT;
        } else {
            if (table) print_table(report, obs, results, n_results);
            else print_json(report, dir, obs, &st, results, n_results);
            if (prillm_cli_close_output(report, where) != 0) code = EXIT_INTERNAL;
            else if (!code) code = prillm_cli_exit_for_status(results[0]->status);
        }
    }
    for (int q = 0; q < n_results; q++) prillm_calibration_result_free(results[q]);
    prillm_observations_free(obs);
    if (prillm_cli_close_output(stdout, "-") != 0) {
        return EXIT_INTERNAL;
    }
    return code;
}
