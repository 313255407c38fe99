/* The test-time compute commands: `prillm auction` (the reverse second-price
 * auction with truthful bidders) and `prillm ttc-market` (the pay-per-compute
 * market's equilibrium, welfare optimum and price of anarchy). Both read
 * the TTC market file of docs/ttc.md. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/ttc.h"

static PrillmErrorCode read_ttc_market(FILE *in, const char *name, void *market, PrillmError *err) {
    return prillm_ttc_market_read_json(in, prillm_cli_warn_to_stderr, (void *)name, market, err);
}

static int load_ttc_market(const char *path, PrillmTtcMarket **market) {
    return prillm_cli_load_file(path, read_ttc_market, market);
}

static const char *const file_help =
    "FILE.json (or '-' for standard input) lists models x test-time compute\n"
    "levels: {\"margin\": 0.25, \"beta\": 200, \"value\": {\"scale\": 0.008},\n"
    "\"models\": [{\"id\": ..., \"price_per_million\": ..., \"accuracy\": [...],\n"
    "\"tokens\": [...]}]}; see docs/ttc.md. Money is USD per query.\n";

static void print_levels(FILE *out, const PrillmTtcMarket *mk, const int *level) {
    int n = mk->n_models;
    fputs("\"levels\": [", out);
    for (int i = 0; i < n; i++) fprintf(out, "%s%d", i ? ", " : "", level[i]);
    fputs("], \"level_labels\": [", out);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        prillm__json_number(out, mk->level_label[mk->level_offset[i] + level[i]]);
    }
    fputs("], \"tokens\": [", out);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        prillm__json_number(out, mk->tokens[mk->level_offset[i] + level[i]]);
    }
    fputc(']', out);
}

static void print_field(FILE *out, const char *indent, const char *key, const double *x, int n) {
    fprintf(out, ",\n%s\"%s\": ", indent, key);
    if (x) prillm_cli_print_numbers(out, x, n);
}

static void print_number_field(FILE *out, const char *indent, const char *key, double x) {
    fprintf(out, ",\n%s\"%s\": ", indent, key);
    prillm__json_number(out, x);
}

/* ---- auction ------------------------------------------------------------ */

static void auction_help(FILE *out) {
    fprintf(out,
            "Usage: prillm auction FILE.json [--json] [--quiet]\n"
            "\n"
            "Run the reverse second-price auction for one request. Every model picks the\n"
            "TTC level that maximises its surplus quality - cost and bids that quality\n"
            "and its cost (truthful bidding is a dominant strategy). The highest score\n"
            "quality - price wins; the user pays the winner's quality minus the\n"
            "runner-up's score. The outside option (outside_value, default 0) is a\n"
            "phantom bidder: nobody is served below it, and a lone bidder pays against\n"
            "it. Ties go to the model listed first. beta is not used.\n"
            "\n%s\n"
            "Options:\n"
            "  --json\n      print JSON (the default and only format)\n",
            file_help);
    prillm_cli_print_verbosity_help(out, NULL);
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

static void print_auction_json(FILE *out, const PrillmTtcMarket *mk, const PrillmTtcAuctionResult *r) {
    int n = mk->n_models, w = r->outcome.winner, ru = r->outcome.runner_up;
    fprintf(out, "{\n  \"status\": \"solved\",\n  \"served\": %s,\n  \"models\": ", w >= 0 ? "true" : "false");
    prillm_cli_print_strings(out, mk->model_id, n);
    fputs(",\n  \"bids\": {", out);
    print_levels(out, mk, r->level);
    print_field(out, "    ", "quality", r->quality_bid, n);
    print_field(out, "    ", "price", r->price_bid, n);
    print_field(out, "    ", "score", r->score, n);
    fputs("},\n  \"winner\": ", out);
    if (w >= 0) prillm__json_string(out, mk->model_id[w]);
    else fputs("null", out);
    fputs(",\n  \"runner_up\": ", out);
    if (ru >= 0) prillm__json_string(out, mk->model_id[ru]);
    else fputs("null", out);
    print_number_field(out, "  ", "winner_score", r->outcome.winner_score);
    print_number_field(out, "  ", "runner_up_score", r->outcome.runner_up_score);
    print_number_field(out, "  ", "reserve", mk->outside_value);
    print_number_field(out, "  ", "payment", r->outcome.payment);
    print_number_field(out, "  ", "user_utility", r->user_utility);
    print_number_field(out, "  ", "winner_utility", w >= 0 ? r->utility[w] : 0.0);
    print_field(out, "  ", "utilities", r->utility, n);
    print_number_field(out, "  ", "welfare", r->welfare);
    fputs("\n}\n", out);
}

int cmd_auction(int argc, char **argv) {
    const char *path = NULL, *format = NULL;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            auction_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "prillm: error: auction: unknown option %s (try --help)\n", arg);
            return EXIT_USAGE;
        }
        if (path) {
            fprintf(stderr, "prillm: error: auction takes one file, got %s and %s\n", path, arg);
            return EXIT_USAGE;
        }
        path = arg;
    }
    if (!path) {
        fprintf(stderr, "prillm: error: auction needs FILE.json (try --help)\n");
        return EXIT_USAGE;
    }
    PrillmTtcMarket *mk = NULL;
    int code = load_ttc_market(path, &mk);
    if (code) return code;
    PrillmError err;
    PrillmTtcAuctionResult *r = NULL;
    if (prillm_ttc_auction(mk, &r, &err)) {
        code = prillm_cli_fail(&err);
    } else {
        print_auction_json(stdout, mk, r);
        code = EXIT_SOLVED;
    }
    prillm_ttc_auction_result_free(r);
    prillm_ttc_market_free(mk);
    return code;
}

/* ---- ttc-market --------------------------------------------------------- */

static void ttc_market_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_ttc_options(&count);
    fprintf(out,
            "Usage: prillm ttc-market FILE.json [options]\n"
            "\n"
            "Solve the pay-per-compute market: users split over the models by a logit of\n"
            "their net value quality - price (rationality beta, outside option\n"
            "outside_value); each model chooses its TTC level. Starting from the lowest\n"
            "levels, the models take nearest improving moves in a random order until\n"
            "none improves (a pure Nash equilibrium); the welfare optimum is found by\n"
            "enumerating every profile, and price_of_anarchy = optimum / equilibrium\n"
            "welfare.\n"
            "\n%s\n"
            "Options:\n"
            "  --beta X\n      logit rationality, overrides the file's beta\n"
            "  --json\n      print JSON (the default and only format)\n",
            file_help);
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default); 1 or 2 every move of the dynamics and the\n"
                                         "      potential");
    fputs("  --trace\n      the same as --verbose 1 (kept as an alias)\n", out);
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

static void print_outcome(FILE *out, const PrillmTtcMarket *mk, const PrillmTtcOutcome *o) {
    int n = mk->n_models;
    const char *in = "    ";
    fputs("{\n    ", out);
    print_levels(out, mk, o->level);
    print_field(out, in, "price", o->price, n);
    print_field(out, in, "quality", o->quality, n);
    print_field(out, in, "cost", o->cost, n);
    print_field(out, in, "shares", o->shares, n);
    print_number_field(out, in, "outside_share", o->outside_share);
    print_field(out, in, "utilities", o->utility, n);
    print_number_field(out, in, "welfare", o->welfare);
    print_number_field(out, in, "user_value", o->user_value);
    print_number_field(out, in, "user_spend", o->user_spend);
    print_number_field(out, in, "provider_profit", o->provider_profit);
    print_number_field(out, in, "potential", o->potential);
    fputs("\n  }", out);
}

static void print_market_json(FILE *out, const PrillmTtcMarket *mk, const PrillmTtcMarketResult *r) {
    fprintf(out, "{\n  \"status\": \"%s\"", prillm_status_name(r->status));
    print_number_field(out, "  ", "beta", mk->beta);
    fputs(",\n  \"models\": ", out);
    prillm_cli_print_strings(out, mk->model_id, mk->n_models);
    fputs(",\n  \"equilibrium\": ", out);
    print_outcome(out, mk, r->equilibrium);
    fputs(",\n  \"optimum\": ", out);
    if (r->optimum) print_outcome(out, mk, r->optimum);
    else fputs("null", out);
    print_number_field(out, "  ", "price_of_anarchy", r->price_of_anarchy);
    fprintf(out, ",\n  \"rounds\": %d,\n  \"moves\": %d", r->rounds, r->moves);
    print_number_field(out, "  ", "profiles", r->profiles);
    print_number_field(out, "  ", "seconds", r->seconds);
    fputs("\n}\n", out);
}

typedef struct {
    const PrillmTtcMarket *market;
} Trace;

static void trace_move(void *context, int round, int provider, int from, int to, const int *profile,
                       double potential) {
    const Trace *t = context;
    (void)profile;
    fprintf(stderr, "prillm: round %d: %s level %d -> %d, potential %.17g\n", round, t->market->model_id[provider], from,
            to, potential);
}

static PrillmErrorCode set_ttc_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_ttc_set_option(settings, name, value, err);
}

int cmd_ttc_market(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_ttc_options(&count);
    PrillmTtcSettings settings;
    prillm_ttc_default_settings(&settings);
    const char *path = NULL, *beta_text = NULL, *format = NULL;
    int trace = 0;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            ttc_market_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        if (strcmp(arg, "--trace") == 0) {
            if (prillm_cli_quiet) {
                fprintf(stderr, "prillm: error: --quiet and --trace contradict each other: give one of them\n");
                return EXIT_USAGE;
            }
            trace = 1;
            continue;
        }
        int got = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (got < 0) return EXIT_USAGE;
        if (got) {
            if (trace && prillm_cli_quiet) {
                fprintf(stderr, "prillm: error: --quiet and --trace contradict each other: give one of them\n");
                return EXIT_USAGE;
            }
            if (verbose > 0) trace = 1;
            continue;
        }
        got = prillm_cli_flag_value(argc, argv, &k, "--beta", &beta_text);
        if (got < 0) return EXIT_USAGE;
        if (got) continue;
        got = prillm_cli_take_option(argc, argv, &k, opts, count, set_ttc_option, &settings);
        if (got < 0) return EXIT_USAGE;
        if (got) continue;
        if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "prillm: error: ttc-market: unknown option %s (try --help)\n", arg);
            return EXIT_USAGE;
        }
        if (path) {
            fprintf(stderr, "prillm: error: ttc-market takes one file, got %s and %s\n", path, arg);
            return EXIT_USAGE;
        }
        path = arg;
    }
    double beta = NAN;
    if (beta_text && prillm_cli_parse_double(beta_text, "--beta", 1e-300, PRILLM_TTC_MAX_BETA, &beta)) return EXIT_USAGE;
    if (!path) {
        fprintf(stderr, "prillm: error: ttc-market needs FILE.json (try --help)\n");
        return EXIT_USAGE;
    }
    PrillmTtcMarket *mk = NULL;
    int code = load_ttc_market(path, &mk);
    if (code) return code;
    if (beta_text) mk->beta = beta;
    PrillmError err;
    PrillmTtcMarketResult *r = NULL;
    Trace t = {mk};
    if (prillm_ttc_market_solve(mk, &settings, trace ? trace_move : NULL, &t, &r, &err)) {
        code = prillm_cli_fail(&err);
    } else {
        if (!r->optimum)
            prillm_cli_warn("more than max-profiles = %g profiles: no optimum, price_of_anarchy is null",
                            settings.max_profiles);
        if (r->status != PRILLM_STATUS_SOLVED)
            prillm_cli_warn("no equilibrium after %d rounds; the last profile is printed", r->rounds);
        print_market_json(stdout, mk, r);
        code = prillm_cli_exit_for_status(r->status);
    }
    prillm_ttc_market_result_free(r);
    prillm_ttc_market_free(mk);
    return code;
}
