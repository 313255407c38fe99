/*
 * prillm train-aggregator: build perturbed scenarios of a base market, train
 * the deep aggregation network on them with the profit-curve loss, save the
 * model. Progress goes to stderr, the summary (JSON) to stdout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/aggregator.h"

static void train_help(FILE *out) {
    int count;
    fputs("Usage: prillm train-aggregator MARKET.json [MARKET.json ...] --out MODEL.json|- [options]\n"
          "       prillm train-aggregator --data SCENARIOS --out MODEL.json|- [options]\n\n"
          "Train the deep aggregation network (game abstraction) on perturbed copies of\n"
          "the markets: every scenario picks one of them (or, with --random-share, a fresh\n"
          "random market of a drawn family and size), perturbs the rivals, samples L target\n"
          "prices below the target's choke price, and records the exact profit curve. The\n"
          "network is fit with Adam on the profit-curve loss of the K-rival abstraction; the\n"
          "model with the best validation loss is written to --out. With --random-share 1\n"
          "no market file is needed. See docs/aggregator.md. The summary (JSON) goes to\n"
          "stdout, or to --report FILE.\n\n"
          "Options:\n"
          "  --out FILE          where to write the model (required); - is stdout (then\n"
          "                      send the summary elsewhere with --report FILE)\n"
          "  --report FILE       where the summary goes (default stdout; - is stdout)\n"
          "  --json              print the summary as JSON (the default and only format)\n"
          "  --k N               rivals in the abstracted market (the training option K\n"
          "                      below; --K N is an alias)\n"
          "  --target ID         train for this target only (one market, no random markets;\n"
          "                      default: each scenario draws one)\n"
          "  --data FILE         train on solved scenarios read from FILE instead of building\n"
          "                      them from the markets (written by --save-data, or by\n"
          "                      prillm-sweep training-data over MPI ranks; docs/aggregator.md);\n"
          "                      then no market, --target or scenario option is given\n"
          "  --save-data FILE    also write the scenarios built to FILE (before training;\n"
          "                      - is stdout)\n"
          "  --checkpoint FILE   resume from FILE if it exists; rewritten after every epoch\n"
          "  --width N           model width (default 32)\n"
          "  --heads N           attention heads, dividing width (default 4)\n"
          "  --blocks N          Set Attention Blocks (default 2)\n"
          "  --layer-norm 0|1    LayerNorm in the blocks (default 1)\n"
          "  --init-seed N       seed of the initial weights (default 1)\n",
          out);
    prillm_cli_print_verbosity_help(out, "0 none, 1 or 2 the scenarios being built and one line per\n"
                                         "      epoch (default 1)");
    fputs("\nScenarios:\n", out);
    const PrillmOptionInfo *opts = prillm_scenario_options(&count);
    prillm_cli_print_options(out, opts, count);
    fputs("\nTraining:\n", out);
    opts = prillm_train_options(&count);
    prillm_cli_print_options(out, opts, count);
    fprintf(out, "\n%s", prillm_cli_exit_code_help);
}

static int scenario_options_given;

static PrillmErrorCode set_scenario_option(void *settings, const char *name, const char *value, PrillmError *err) {
    scenario_options_given = 1;
    return prillm_scenario_set_option(settings, name, value, err);
}

static PrillmErrorCode set_train_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_train_set_option(settings, name, value, err);
}

static int progress_line(void *context, const PrillmTrainProgress *p, const PrillmAggregator *model) {
    (void)model;
    if (*(const long *)context > 0 && !prillm_cli_quiet)
        fprintf(stderr, "prillm: epoch %d/%d: train loss %.6g, validation loss %.6g (%ld steps, %.1f s)\n", p->epoch,
                p->epochs, p->train_loss, p->validation_loss, p->step, p->seconds);
    return 0;
}

static void print_summary(FILE *out, const PrillmTrainInfo *info, const char *model_path, int K, int scenarios) {
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"model\": ", prillm_status_name(info->status));
    prillm__json_string(out, model_path);
    fprintf(out, ",\n  \"K\": %d,\n  \"scenarios\": %d,\n  \"train\": %d,\n  \"validation\": %d,\n  \"test\": %d,\n", K,
            scenarios, info->n_train, info->n_validation, info->n_test);
    fprintf(out, "  \"epochs\": %d,\n  \"best_epoch\": %d,\n  \"steps\": %ld,\n  \"clipped\": %ld,\n  \"skipped\": %d,\n",
            info->epochs_done, info->best_epoch, info->steps, info->clipped, info->skipped);
    const char *names[] = {"train_loss", "validation_loss", "test_loss", "test_loss_min", "test_loss_avg", "seconds"};
    double values[] = {info->train_loss,    info->validation_loss, info->test_loss,
                       info->test_loss_min, info->test_loss_avg,   info->seconds};
    for (int k = 0; k < 6; k++) {
        fprintf(out, "  \"%s\": ", names[k]);
        prillm__json_number(out, values[k]);
        fputs(k < 5 ? ",\n" : "\n}\n", out);
    }
}

int cmd_train_aggregator(int argc, char **argv) {
    int n_scenario_opts, n_train_opts;
    const PrillmOptionInfo *scenario_opts = prillm_scenario_options(&n_scenario_opts);
    const PrillmOptionInfo *train_opts = prillm_train_options(&n_train_opts);
    PrillmScenarioSettings scenario_settings;
    PrillmTrainSettings train_settings;
    PrillmAggregatorShape shape;
    prillm_scenario_default_settings(&scenario_settings);
    prillm_train_default_settings(&train_settings);
    prillm_aggregator_default_shape(&shape);
#define MAX_MARKETS 64
    const char *paths[MAX_MARKETS], *out_path = NULL, *target_id = NULL, *checkpoint = NULL, *report_path = NULL, *value;
    const char *format = NULL, *data_path = NULL, *save_path = NULL;
    long verbose = 1;
    int n_paths = 0;
    scenario_options_given = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            train_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        /* --k, like price's; the option table's name is K */
        if ((took = prillm_cli_flag_value(argc, argv, &k, "--k", &value))) {
            PrillmError err;
            if (took < 0) return EXIT_USAGE;
            if (set_train_option(&train_settings, "K", value, &err)) {
                fprintf(stderr, "prillm: error: --k: %s\n", err.message);
                return EXIT_USAGE;
            }
            continue;
        }
        if ((took = prillm_cli_flag_value(argc, argv, &k, "--out", &out_path)) ||
            (took = prillm_cli_flag_value(argc, argv, &k, "--report", &report_path)) ||
            (took = prillm_cli_flag_value(argc, argv, &k, "--target", &target_id)) ||
            (took = prillm_cli_flag_value(argc, argv, &k, "--checkpoint", &checkpoint)) ||
            (took = prillm_cli_flag_value(argc, argv, &k, "--data", &data_path)) ||
            (took = prillm_cli_flag_value(argc, argv, &k, "--save-data", &save_path))) {
            if (took < 0) return EXIT_USAGE;
            continue;
        }
        static const struct {
            const char *flag;
            long lo, hi;
        } ints[] = {{"--width", 1, 4096}, {"--heads", 1, 4096}, {"--blocks", 0, 8}, {"--layer-norm", 0, 1},
                    {"--init-seed", 0, 2147483647}};
        int matched = 0;
        for (int q = 0; q < 5 && !matched; q++) {
            if ((took = prillm_cli_flag_value(argc, argv, &k, ints[q].flag, &value)) == 0) continue;
            long v;
            if (took < 0 || prillm_cli_parse_int(value, ints[q].flag, ints[q].lo, ints[q].hi, &v)) return EXIT_USAGE;
            if (q == 0) shape.width = (int)v;
            else if (q == 1) shape.heads = (int)v;
            else if (q == 2) shape.blocks = (int)v;
            else if (q == 3) shape.layer_norm = (int)v;
            else shape.seed = (unsigned long long)v;
            matched = 1;
        }
        if (matched) continue;
        took = prillm_cli_take_option(argc, argv, &k, scenario_opts, n_scenario_opts, set_scenario_option,
                                      &scenario_settings);
        if (!took)
            took = prillm_cli_take_option(argc, argv, &k, train_opts, n_train_opts, set_train_option, &train_settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        const char *path = NULL;
        if (prillm_cli_positional(arg, "train-aggregator", "market file", &path)) return EXIT_USAGE;
        if (n_paths == MAX_MARKETS) {
            fprintf(stderr, "prillm: error: at most %d market files\n", MAX_MARKETS);
            return EXIT_USAGE;
        }
        paths[n_paths++] = path;
    }
    const char *usage = NULL;
    if (data_path && (n_paths || target_id || scenario_options_given || save_path))
        usage = "--data FILE brings the scenarios: MARKET.json, --target, --save-data and the scenario options are "
                "for building them";
    else if (!out_path)
        usage = "missing --out MODEL.json";
    else if (!data_path && !n_paths && scenario_settings.random_share < 1)
        usage = "missing MARKET.json (or --random-share 1, or --data FILE)";
    else if (target_id && (n_paths != 1 || scenario_settings.random_share > 0))
        usage = "--target needs exactly one market file and --random-share 0";
    if (usage) {
        fprintf(stderr, "prillm: error: %s (see prillm train-aggregator --help)\n", usage);
        return EXIT_USAGE;
    }
    int model_stdout = strcmp(out_path, "-") == 0, report_stdout = !report_path || strcmp(report_path, "-") == 0;
    if (model_stdout && report_stdout)
        return prillm_cli_both_stdout("--out -", "the summary", "pass --out FILE or --report FILE");
    if (save_path && strcmp(save_path, "-") == 0 && (model_stdout || report_stdout))
        return prillm_cli_both_stdout("--save-data -", model_stdout ? "the model" : "the summary",
                                      "pass --save-data FILE");
    if (prillm_cli_quiet) verbose = 0;
    PrillmMarket *markets[MAX_MARKETS];
    int code = 0;
    for (int b = 0; b < n_paths; b++)
        if ((code = prillm_cli_load_market(paths[b], &markets[b]))) {
            while (b-- > 0) prillm_market_free(markets[b]);
            return code;
        }
    int target = -1;
    if (target_id && (target = prillm_market_provider_index(markets[0], target_id)) < 0) {
        fprintf(stderr, "prillm: error: --target %s is not a provider of %s\n", target_id, paths[0]);
        prillm_market_free(markets[0]);
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {PRILLM_OK, ""};
    PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
    PrillmAggregatorScenarios scenarios = {0, NULL};
    PrillmTrainInfo info;
    memset(&info, 0, sizeof info);
    PrillmErrorCode rc = model ? PRILLM_OK : err.code;
    int said = 0; /* an exit code when the failure was already reported (an output that cannot be opened or written) */
    if (!rc && data_path) {
        FILE *in = strcmp(data_path, "-") == 0 ? stdin : fopen(data_path, "rb");
        char *description = NULL;
        if (!in) rc = prillm__fail(&err, PRILLM_ERR_IO, "cannot open --data %s", data_path);
        else {
            PrillmError inner = {PRILLM_OK, ""};
            rc = prillm_aggregator_scenarios_read(in, &scenarios, &description, &inner);
            if (rc) prillm__fail(&err, rc, "--data %s: %s", data_path, inner.message);
            if (in != stdin) fclose(in);
        }
        if (!rc && verbose > 0)
            prillm_cli_note("read %d solved scenarios from %s (%s)", scenarios.count, data_path,
                            description && description[0] ? description : "no description");
        if (!rc && scenarios.count < 1) rc = prillm__fail(&err, PRILLM_ERR_INVALID_DATA, "--data %s holds no scenario", data_path);
        free(description);
    } else if (!rc) {
        if (verbose > 0)
            prillm_cli_note("building %d scenarios of %s%s (%d prices each)", scenario_settings.scenarios,
                            n_paths ? paths[0] : "random markets", n_paths > 1 ? " and the other markets" : "",
                            scenario_settings.prices);
        if (target >= 0) rc = prillm_aggregator_scenarios(markets[0], target, &scenario_settings, &scenarios, &err);
        else
            rc = prillm_aggregator_scenarios_mixed((const PrillmMarket *const *)markets, n_paths, &scenario_settings,
                                                   &scenarios, &err);
    }
    if (!rc && save_path) {
        char description[1024];
        prillm_cli_scenario_description(description, sizeof description, n_paths ? paths[0] : "random markets", target_id,
                                        &scenario_settings);
        FILE *out = prillm_cli_open_output(save_path, "--save-data");
        if (!out) {
            rc = PRILLM_ERR_IO, said = EXIT_BAD_INPUT;
        } else {
            rc = prillm_aggregator_scenarios_write(&scenarios, description, out, &err);
            if (prillm_cli_close_output(out, save_path)) rc = PRILLM_ERR_IO, said = EXIT_INTERNAL;
        }
    }
    if (!rc) rc = prillm_aggregator_train(model, &scenarios, &train_settings, checkpoint, progress_line, &verbose, &info, &err);
    if (!rc) {
        FILE *out = prillm_cli_open_output(out_path, "--out");
        if (!out) {
            rc = PRILLM_ERR_IO, said = EXIT_BAD_INPUT;
        } else {
            rc = prillm_aggregator_write_json(model, out, &err);
            if (prillm_cli_close_output(out, out_path)) rc = PRILLM_ERR_IO, said = EXIT_INTERNAL;
        }
    }
    if (rc) {
        if (!said) fprintf(stderr, "prillm: error: %s\n", err.message);
        code = said ? said : prillm_cli_exit_for_error(rc);
    } else {
        const char *where = report_path ? report_path : "-";
        FILE *report = prillm_cli_open_output(where, "--report");
        code = prillm_cli_exit_for_status(info.status);
        if (!report) {
            code = EXIT_BAD_INPUT;
        } else {
            print_summary(report, &info, out_path, train_settings.K, scenarios.count);
            if (prillm_cli_close_output(report, where) != 0) code = EXIT_INTERNAL;
        }
        if (info.skipped) prillm_cli_warn("%d scenario evaluations failed and were skipped", info.skipped);
    }
    prillm_aggregator_scenarios_free(&scenarios);
    prillm_aggregator_free(model);
    for (int b = 0; b < n_paths; b++) prillm_market_free(markets[b]);
    if (!rc && prillm_cli_close_output(stdout, "-") != 0) return EXIT_INTERNAL;
    return code;
}
