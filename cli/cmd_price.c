/* prillm price: the target's profit-maximising price, by any method, scored
 * in the true game. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static PrillmErrorCode set_price_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_price_set_option(settings, name, value, err);
}

static void price_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_price_options(&count);
    fprintf(out,
            "Usage: prillm price MARKET.json --target ID [options]\n"
            "       prillm price MARKET.json --all|--paid [--threads N] [--table|--csv] [options]\n"
            "       prillm price MARKET.json --owner NAME [--threads N] [--table|--json|--csv]\n"
            "\n"
            "The price that maximises the target provider's profit (price - cost) x flow\n"
            "when the apps answer any price with their equilibrium traffic split. Whatever\n"
            "the method, the reported profit is the true game's: the exact equilibrium at\n"
            "the returned price. The exact method also prints the profit curve it walked:\n"
            "segments (price intervals on which the target's flow is affine) and\n"
            "breakpoints (an app starting or stopping to use a provider); above 50 app x\n"
            "model pairs only the intervals that can hold the optimum (--prune 0: all).\n"
            "\n"
            "It also reports the market as given: current_price, current_profit and\n"
            "current_flow (the true game at the target's current price), the uplift\n"
            "(profit - current_profit, and relative to it), and warnings (also on\n"
            "stderr) when the price is more than 3 times or under a third of the\n"
            "current price, when the target sells nothing at it, when the current\n"
            "price is 0, or when a method's price sells nothing although some price\n"
            "sells at a profit.\n"
            "\n"
            "Options:\n"
            "  --target ID\n      the provider to price (this, --owner, --all or --paid is required)\n"
            "  --owner NAME\n      price every model whose \"owner\" is NAME together, for their total\n"
            "      profit (rivals' prices fixed; exact coordinate ascent with the certificate\n"
            "      of prillm compete, whose report it prints; see docs/competition.md)\n"
            "  --all\n      price every provider, each with its rivals' prices fixed, in parallel:\n"
            "      one row each (status, current and optimal price, their ratio, profits,\n"
            "      uplift) and the median ratio; --csv and --table print the rows\n"
            "  --paid\n      as --all, over the providers with a price above 0\n"
            "  --threads N\n      --all / --paid / --owner: threads (0 = OMP_NUM_THREADS or all cores; default 0)\n"
            "  --csv\n      print the exact curve as CSV (one row per segment) instead of JSON\n"
            "  --table\n      print a readable summary (and the curve, for exact) instead of JSON\n"
            "  --json\n      print JSON (the default)\n"
            "      (--csv, --table and --json are alternatives)\n"
            "  --compare\n      also price the true market exactly: exact_profit and profit_ratio\n"
            "  --model FILE\n      da: the trained aggregation network (default: the shipped\n"
            "      %s;\n"
            "      the data directory is $PRILLM_DATA_DIR, else ../share/prillm next to the\n"
            "      installed executable, else the source tree's data/)\n",
            prillm_cli_data_file(PRILLM_DEFAULT_MODEL_FILE));
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default), 1 a summary, 2 every piece of the curve");
    fprintf(out, "  -h, --help\n      this text\n\nMethods:\n");
#define PRILLM_PRICE_METHOD_HELP(id, name, help) fprintf(out, "  %-8s %s\n", name, help);
    PRILLM_PRICE_METHOD_LIST(PRILLM_PRICE_METHOD_HELP)
#undef PRILLM_PRICE_METHOD_HELP
    fprintf(out,
            "\nThe default pmax is a price at which the target surely has no traffic: for\n"
            "every app, the target's price term alone exceeds the app's marginal cost at\n"
            "its best rival with all demand congesting it. A target without rivals needs\n"
            "--pmax.\n\n%s",
            prillm_cli_exit_code_help);
}

/* The JSON answer is the library's (prillm serve answers the same bytes). */
static int print_json(FILE *out, const PrillmMarket *mk, const PrillmPriceResult *r, int compare) {
    PrillmError err;
    return prillm_price_result_write_json(mk, r, compare, out, &err) ? prillm_cli_writer_failed(out, &err) : 0;
}

static void print_table(FILE *out, const PrillmMarket *mk, const PrillmPriceResult *r) {
    char cell[PRILLM_CLI_CELL], cell2[PRILLM_CLI_CELL]; /* ids as table cells */
    fprintf(out, "target %s, method %s: status %s\n", prillm_cli_cell(mk->provider_id[r->target], cell),
            prillm_price_method_name(r->method),
            prillm_status_name(r->status));
    fprintf(out, "  best price %.6g USD/Mtok (range 0..%.6g, cost %.6g)\n", r->price, r->p_max, r->cost);
    fprintf(out, "  profit %.6g USD per period on %.6g Mtok (true game; certificate %.2g)\n", r->profit, r->flow,
            r->kkt_violation);
    if (!isnan(r->profit_ratio))
        fprintf(out, "  %.2f%% of the exact optimum %.6g\n", 100 * r->profit_ratio, r->exact_profit);
    if (r->check == PRILLM_PRICE_CHECK_PASSED)
        fprintf(out,
                "  check passed: da's price %.6g earns %.2f%% of the best of %ld exact points near it (%.6g at "
                "%.6g, kept)\n",
                r->abstract_price, isnan(r->check_shortfall) ? 100.0 : 100 * (1 - r->check_shortfall),
                r->check_solves, r->check_profit, r->check_price);
    else if (r->check == PRILLM_PRICE_CHECK_FALLBACK)
        fprintf(out,
                "  check FAILED, fell back to exact pricing: da's price %.6g earned %.6g, %.2f%% of the exact point "
                "%.6g at %.6g\n",
                r->abstract_price, r->abstract_profit,
                isnan(r->check_shortfall) ? 0.0 : 100 * (1 - r->check_shortfall), r->check_profit, r->check_price);
    else if (r->check == PRILLM_PRICE_CHECK_SKIPPED)
        fprintf(out, "  check skipped: at most k rivals, so da priced the market itself exactly\n");
    fprintf(out, "  current price %.6g USD/Mtok: profit %.6g on %.6g Mtok\n", r->current_price, r->current_profit,
            r->current_flow);
    if (!isnan(r->uplift_relative))
        fprintf(out, "  uplift %.6g USD per period (%+.2f%% of the current profit)\n", r->uplift,
                100 * r->uplift_relative);
    else
        fprintf(out, "  uplift %.6g USD per period (relative uplift undefined: current profit %.6g)\n", r->uplift,
                r->current_profit);
    char text[512];
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
        if (r->warnings & bit) fprintf(out, "  warning: %s\n", prillm_price_warning_text(r, bit, text, sizeof text));
    if (r->method == PRILLM_PRICE_EXACT && r->walked_fraction < 1)
        fprintf(out, "  curve walked on %.3g%% of the range; the rest bounded below the optimum by %ld equilibrium "
                     "solves (--prune 0 walks it all)\n",
                100 * r->walked_fraction, r->bound_solves);
    if (r->n_segments) {
        fprintf(out, "\n  %-12s %-12s %-12s %-12s %-12s %-12s\n", "from", "to", "flow", "flow slope", "best price",
                "best profit");
        for (int k = 0; k < r->n_segments; k++) {
            const PrillmPriceSegment *g = &r->segments[k];
            fprintf(out, "  %-12.6g %-12.6g %-12.6g %-12.6g %-12.6g %-12.6g%s\n", g->from, g->to, g->flow_from,
                    g->flow_slope, g->best_price, g->best_profit, g->best_price == r->price ? "  <- optimum" : "");
        }
        fprintf(out, "\n  breakpoints (price: app, model, event)\n");
        for (int k = 0; k < r->n_breakpoints; k++) {
            const PrillmPriceBreakpoint *b = &r->breakpoints[k];
            fprintf(out, "  %-12.6g %s -> %s %s\n", b->price, prillm_cli_cell(mk->user_id[b->user], cell),
                    prillm_cli_cell(mk->provider_id[b->provider], cell2),
                    b->enters ? "enters" : "leaves");
        }
    }
    fprintf(out, "  %.3g s (method %.3g s), %ld equilibrium solves\n", r->seconds, r->method_seconds,
            r->equilibrium_solves);
}

static void print_csv(FILE *out, const PrillmPriceResult *r) {
    fputs("from,to,flow,flow_slope,best_price,best_profit\n", out);
    for (int k = 0; k < r->n_segments; k++) {
        const PrillmPriceSegment *g = &r->segments[k];
        const double row[] = {g->from, g->to, g->flow_from, g->flow_slope, g->best_price, g->best_profit};
        for (int c = 0; c < 6; c++) {
            if (c) fputc(',', out);
            prillm__json_number(out, row[c]);
        }
        fputc('\n', out);
    }
}

int prillm_cli_target(const PrillmMarket *mk, const char *id, const char *path) {
    int target = prillm_market_provider_index(mk, id);
    if (target < 0)
        fprintf(stderr, "prillm: error: --target: no provider \"%s\" in %s (%d providers, e.g. \"%s\")\n", id, path,
                mk->n_providers, mk->n_providers ? mk->provider_id[0] : "");
    return target;
}

int prillm_cli_price_model(int method, const char *model_path, PrillmAggregator **model) {
    *model = NULL;
    if (method != PRILLM_PRICE_DA) {
        if (!model_path) return 0;
        fprintf(stderr, "prillm: error: --model is for --method da\n");
        return EXIT_USAGE;
    }
    const char *file = model_path ? model_path : prillm_cli_data_file(PRILLM_DEFAULT_MODEL_FILE);
    FILE *in = fopen(file, "rb");
    if (!in) {
        if (model_path)
            fprintf(stderr, "prillm: error: --model: cannot open %s: %s\n", file, strerror(errno));
        else
            fprintf(stderr,
                    "prillm: error: cannot open the shipped aggregation model %s: %s (set PRILLM_DATA_DIR to "
                    "the directory holding %s, or give --model)\n",
                    file, strerror(errno), PRILLM_DEFAULT_MODEL_FILE);
        return model_path ? EXIT_BAD_INPUT : EXIT_FAILED;
    }
    PrillmError err;
    PrillmErrorCode rc = prillm_aggregator_read_json(in, model, &err);
    fclose(in);
    if (rc) {
        fprintf(stderr, "prillm: error: %s: %s\n", file, err.message);
        return prillm_cli_exit_for_error(rc);
    }
    return 0;
}

/* --owner: the owner's joint best response is prillm_compete with its
 * models as the only leaders (one group: one joint answer, then a round
 * confirming it). */
static int price_owner(const char *path, const char *owner, int format, int threads) {
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    int n = prillm_market_owner_models(mk, owner, NULL, 0);
    int *models = n ? malloc((size_t)n * sizeof(int)) : NULL;
    if (!n || !models) {
        if (!n) fprintf(stderr, "prillm: error: --owner: no provider in %s has owner \"%s\"\n", path, owner);
        free(models);
        prillm_market_free(mk);
        return n ? EXIT_INTERNAL : EXIT_USAGE;
    }
    prillm_market_owner_models(mk, owner, models, n);
    PrillmCompeteSettings settings;
    prillm_compete_default_settings(&settings);
    settings.threads = threads; /* the certificate's walks, one per model */
    PrillmCompeteResult result;
    PrillmError err;
    PrillmErrorCode rc = prillm_compete(mk, models, n, &settings, &result, &err);
    free(models);
    if (rc) {
        prillm_market_free(mk);
        return prillm_cli_fail(&err);
    }
    prillm_cli_compete_print(stdout, mk, &result, &settings, format);
    code = prillm_cli_compete_exit(&result);
    prillm_compete_result_clear(&result);
    prillm_market_free(mk);
    return code;
}

int cmd_price(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_price_options(&count);
    PrillmPriceSettings settings;
    prillm_price_default_settings(&settings);
    const char *path = NULL, *target_id = NULL, *model_path = NULL, *format = NULL, *owner = NULL;
    int csv = 0, all = 0, paid_only = 0;
    long verbose = 0;
    const char *threads_text = NULL;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            price_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--csv") == 0 || strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            csv = strcmp(arg, "--csv") == 0 ? 1 : strcmp(arg, "--table") == 0 ? 2 : 0;
            continue;
        }
        if (strcmp(arg, "--compare") == 0) {
            settings.compare = 1;
            continue;
        }
        if (strcmp(arg, "--all") == 0 || strcmp(arg, "--paid") == 0) {
            all = 1;
            paid_only |= strcmp(arg, "--paid") == 0;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_flag_value(argc, argv, &k, "--target", &target_id);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_flag_value(argc, argv, &k, "--owner", &owner);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_flag_value(argc, argv, &k, "--model", &model_path);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_flag_value(argc, argv, &k, "--threads", &threads_text);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_take_option(argc, argv, &k, opts, count, set_price_option, &settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "price", "market file", &path)) return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "price", "MARKET.json")) return EXIT_USAGE;
    settings.verbose = (int)verbose;
    int threads = 0;
    if (threads_text) {
        char *end = NULL;
        long t = strtol(threads_text, &end, 10);
        if (!*threads_text || *end || t < 0 || t > 1024) {
            fprintf(stderr, "prillm: error: --threads needs an integer in 0..1024, got \"%s\"\n", threads_text);
            return EXIT_USAGE;
        }
        threads = (int)t;
    }
    if (all) {
        if (target_id || owner || settings.method == PRILLM_PRICE_DA || model_path || settings.compare) {
            fprintf(stderr, "prillm: error: --all / --paid price every provider: not with --target, --owner, --method "
                            "da, --model or --compare\n");
            return EXIT_USAGE;
        }
        PrillmMarket *market = NULL;
        int code = prillm_cli_load_market(path, &market);
        if (code) return code;
        code = prillm_cli_price_all(market, &settings, paid_only, threads, csv);
        prillm_market_free(market);
        return code;
    }
    if (threads_text && !owner) {
        fprintf(stderr, "prillm: error: --threads is for --all, --paid and --owner\n");
        return EXIT_USAGE;
    }
    if (owner) {
        PrillmPriceSettings plain;
        prillm_price_default_settings(&plain);
        plain.verbose = settings.verbose;
        if (target_id || model_path || settings.compare || memcmp(&plain, &settings, sizeof plain)) {
            fprintf(stderr, "prillm: error: --owner prices a line exactly: it takes no --target, --method, --compare "
                            "or method options\n");
            return EXIT_USAGE;
        }
        return price_owner(path, owner, csv, threads);
    }
    if (!target_id) {
        fprintf(stderr, "prillm: error: missing --target ID or --owner NAME (the provider or line to price)\n");
        return EXIT_USAGE;
    }
    if (csv == 1 && settings.method != PRILLM_PRICE_EXACT) {
        fprintf(stderr, "prillm: error: --csv prints the curve, which only --method exact computes\n");
        return EXIT_USAGE;
    }
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    int target = prillm_cli_target(mk, target_id, path);
    if (target < 0) {
        prillm_market_free(mk);
        return EXIT_USAGE;
    }
    PrillmError err;
    PrillmAggregator *model = NULL;
    code = prillm_cli_price_model(settings.method, model_path, &model);
    if (code) {
        prillm_market_free(mk);
        return code;
    }
    settings.model = model;
    PrillmPriceResult result;
    PrillmErrorCode rc = prillm_price(mk, target, &settings, &result, &err);
    prillm_aggregator_free(model);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        prillm_market_free(mk);
        return prillm_cli_exit_for_error(rc);
    }
    if (csv == 1) print_csv(stdout, &result);
    else if (csv == 2) print_table(stdout, mk, &result);
    else if ((code = print_json(stdout, mk, &result, settings.compare)) != 0) {
        prillm_price_result_clear(&result);
        prillm_market_free(mk);
        return code;
    }
    code = prillm_cli_exit_for_status(result.status);
    char text[512];
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
        if (result.warnings & bit)
            prillm_cli_warn("%s", prillm_price_warning_text(&result, bit, text, sizeof text));
    if (result.status != PRILLM_STATUS_SOLVED)
        prillm_cli_warn("method %s stopped with status %s", prillm_price_method_name(result.method),
                        prillm_status_name(result.status));
    prillm_price_result_clear(&result);
    prillm_market_free(mk);
    return code;
}
