/* The test-time compute commands: `prillm auction` (the reverse second-price
 * auction with truthful bidders) and `prillm ttc-market` (the pay-per-compute
 * market's equilibrium, welfare optimum and price of anarchy). Both read
 * the TTC market file of docs/ttc.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_document.h"
#include "prillm/ttc.h"

static PrillmErrorCode read_ttc_market(FILE *in, const char *name, void *market, PrillmError *err) {
    return prillm_ttc_market_read_json(in, prillm_cli_warn_to_stderr, (void *)name, market, err);
}

static int load_ttc_market(const char *path, PrillmTtcMarket **market) {
    return prillm_cli_load_file(path, read_ttc_market, market);
}

/* The market from measured curves (--curves FILE and the value terms). */
typedef struct {
    const char *path;
    PrillmTtcCurveSettings settings;
    const char *scale, *baseline, *shape, *curvature, *margin, *outside;
} CurveArgs;

static void curve_warning(void *context, const char *message) {
    (void)context;
    if (!prillm_cli_quiet) fprintf(stderr, "prillm: warning: %s\n", message);
}

static const char *const curve_help =
    "  --curves RESULTS.csv|RESULTS.json\n"
    "      build the market from measured curves (evaluation results, one row per\n"
    "      model and compute level: model, level, accuracy, tokens,\n"
    "      price_per_million[, benchmark, method, questions]; docs/ttc.md\n"
    "      \"Measured curves\") instead of FILE.json; '-' reads standard input\n"
    "  --scale X\n      with --curves: value.scale, USD per query (required)\n"
    "  --baseline X\n      with --curves: value.baseline (default 0.1)\n"
    "  --shape linear|power|exp\n      with --curves: value.shape (default linear)\n"
    "  --curvature X\n      with --curves: value.curvature (default 3.5 power, 6 exp)\n"
    "  --margin X\n      with --curves: markup, price = (1 + margin) cost (default 0.25)\n"
    "  --outside-value X\n      with --curves: the outside option / reserve (default 0)\n"
    "  --benchmark NAME, --method NAME\n"
    "      with --curves: keep the rows of this benchmark / TTC method (needed when\n"
    "      the file holds several)\n"
    "  --allow-missing-levels\n"
    "      with --curves: accept models that lack a level others have\n";

/* 1 if argv[*k] was a curve flag (taken), 0 if not, -1 on a usage error. */
static int take_curve_flag(int argc, char **argv, int *k, CurveArgs *c) {
    if (strcmp(argv[*k], "--allow-missing-levels") == 0) {
        c->settings.allow_missing_levels = 1;
        return 1;
    }
    static const char *const flags[] = {"--curves",    "--scale",  "--baseline",  "--shape",  "--curvature",
                                        "--margin",    "--outside-value", "--benchmark", "--method"};
    const char **targets[] = {&c->path,      &c->scale,   &c->baseline,           &c->shape,           &c->curvature,
                              &c->margin,    &c->outside, &c->settings.benchmark, &c->settings.method};
    for (int f = 0; f < 9; f++) {
        int got = prillm_cli_flag_value(argc, argv, k, flags[f], targets[f]);
        if (got) return got;
    }
    return 0;
}

/* Whether a curve-only flag was given without --curves (a usage error). */
static int curve_flags_without_curves(const CurveArgs *c) {
    if (c->path) return 0;
    if (c->scale || c->baseline || c->shape || c->curvature || c->margin || c->outside || c->settings.benchmark ||
        c->settings.method || c->settings.allow_missing_levels) {
        fprintf(stderr, "prillm: error: --scale, --baseline, --shape, --curvature, --margin, --outside-value, "
                        "--benchmark, --method and --allow-missing-levels go with --curves\n");
        return 1;
    }
    return 0;
}

/* Load the market from FILE.json or from --curves; exit code. */
static int load_market_source(const char *command, const char *path, CurveArgs *c, PrillmTtcMarket **market) {
    if (curve_flags_without_curves(c)) return EXIT_USAGE;
    if (c->path && path) {
        fprintf(stderr, "prillm: error: %s takes FILE.json or --curves, not both (%s and %s)\n", command, path, c->path);
        return EXIT_USAGE;
    }
    if (!c->path) {
        if (!path) {
            fprintf(stderr, "prillm: error: %s needs FILE.json or --curves RESULTS (try --help)\n", command);
            return EXIT_USAGE;
        }
        return load_ttc_market(path, market);
    }
    PrillmTtcCurveSettings *s = &c->settings;
    if (!c->scale) {
        fprintf(stderr, "prillm: error: --curves needs --scale X (what an answer is worth, USD per query; the "
                        "reference notebooks use 0.008 GSM8K, 0.05 AIME, 0.02 GPQA)\n");
        return EXIT_USAGE;
    }
    if (prillm_cli_parse_double(c->scale, "--scale", 1e-300, 1e12, &s->value_scale)) return EXIT_USAGE;
    if (c->baseline && prillm_cli_parse_double(c->baseline, "--baseline", 0, 1, &s->value_baseline)) return EXIT_USAGE;
    if (c->curvature && prillm_cli_parse_double(c->curvature, "--curvature", 1e-300, 700, &s->value_curvature))
        return EXIT_USAGE;
    if (c->margin && prillm_cli_parse_double(c->margin, "--margin", 0, 1e6, &s->margin)) return EXIT_USAGE;
    if (c->outside && prillm_cli_parse_double(c->outside, "--outside-value", -1e12, 1e12, &s->outside_value))
        return EXIT_USAGE;
    if (c->shape) {
        static const char *const names[] = {"linear", "power", "exp"};
        int found = -1;
        for (int k = 0; k < 3; k++)
            if (strcmp(c->shape, names[k]) == 0) found = k;
        if (found < 0) {
            fprintf(stderr, "prillm: error: --shape must be linear, power or exp, got %s\n", c->shape);
            return EXIT_USAGE;
        }
        s->value_shape = found;
    }
    /* the library's messages already name the file (and the row) */
    int from_stdin = strcmp(c->path, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(c->path, "rb");
    if (!in) {
        fprintf(stderr, "prillm: error: cannot open %s: %s\n", c->path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc = prillm_ttc_curves_read(in, from_stdin ? "<stdin>" : c->path, s, curve_warning, NULL, market,
                                                &err);
    if (!from_stdin) fclose(in);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        return prillm_cli_exit_for_error(rc);
    }
    return EXIT_SOLVED;
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
            "Usage: prillm auction FILE.json [--bids BIDS.json] [population] [--json|--csv]\n"
            "       prillm auction --curves RESULTS.csv --scale X [...]\n"
            "\n"
            "Run the reverse second-price auction for one request. Every model picks the\n"
            "TTC level that maximises its surplus quality - cost and bids that quality\n"
            "and its cost (truthful bidding is a dominant strategy). The highest score\n"
            "quality - price wins; the user pays the winner's quality minus the\n"
            "runner-up's score. The outside option (outside_value, default 0) is a\n"
            "phantom bidder: nobody is served below it, and a lone bidder pays against\n"
            "it. Ties go to the model listed first. beta is not used.\n"
            "\n"
            "With --bids the providers' actual bids are used instead: a price per level\n"
            "(per query, per million tokens or per unit of the level parameter), an\n"
            "optional claimed accuracy, and optional requests with the realised\n"
            "accuracy or quality of each answer, on which each request is paid\n"
            "(P = realised quality - runner-up score). With a population (--users or\n"
            "--population) every user, with its own value scale, sends many requests:\n"
            "the totals (welfare, spend, revenue, profit) and the distribution of spend.\n"
            "\n%s\n"
            "Options:\n"
            "  --bids BIDS.json\n      explicit bids (docs/ttc.md \"Explicit bids\")\n"
            "  --users N\n      a random population of N users (with --requests, --value-spread, --seed)\n"
            "  --requests R\n      mean requests per user, each uniform in 1..2R-1 (default 100)\n"
            "  --value-spread S\n"
            "      users' value scales: the market's scale times a log-normal of mean 1\n"
            "      and log-standard-deviation S (default 1)\n"
            "  --seed N\n      seed of the population and of the realised draws (default 1)\n"
            "  --population USERS.csv\n"
            "      the users instead: columns value_scale (USD per query) and requests\n"
            "  --realised\n"
            "      population: draw every answer right with the winner's accuracy and pay\n"
            "      on the realised quality (a wrong answer is a refund); default: pay on\n"
            "      the expected quality\n"
            "%s"
            "  --json\n      print JSON (the default)\n"
            "  --csv\n      population: one row per user (value_scale, requests, spend, ...)\n",
            file_help, curve_help);
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

/* ---- auction on explicit bids -------------------------------------------- */

static void print_model_or_null(FILE *out, const PrillmTtcMarket *mk, int i) {
    if (i >= 0) prillm__json_string(out, mk->model_id[i]);
    else fputs("null", out);
}

/* Per request paid on the realised quality: quality, payment, user utility, winner profit. */
typedef struct {
    double quality, payment, user_utility, winner_profit;
} RequestOutcome;

static void print_bid_outcome_json(FILE *out, const PrillmTtcMarket *mk, const PrillmTtcBidOutcome *o,
                                   const RequestOutcome *requests, int n_requests) {
    int n = mk->n_models, w = o->outcome.winner;
    fprintf(out, "{\n  \"status\": \"solved\",\n  \"mode\": \"bids\",\n  \"served\": %s,\n  \"models\": ",
            w >= 0 ? "true" : "false");
    prillm_cli_print_strings(out, mk->model_id, n);
    fputs(",\n  \"bids\": {\n    \"levels\": [", out);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        if (o->level[i] >= 0) fprintf(out, "%d", o->level[i]);
        else fputs("null", out);
    }
    double labels[PRILLM_TTC_MAX_MODELS], tokens[PRILLM_TTC_MAX_MODELS];
    for (int i = 0; i < n; i++) {
        int at = mk->level_offset[i] + (o->level[i] >= 0 ? o->level[i] : 0);
        labels[i] = o->level[i] >= 0 ? mk->level_label[at] : NAN;
        tokens[i] = o->level[i] >= 0 ? mk->tokens[at] : NAN;
    }
    fputc(']', out);
    print_field(out, "    ", "level_labels", labels, n);
    print_field(out, "    ", "tokens", tokens, n);
    print_field(out, "    ", "quality", o->quality_bid, n);
    print_field(out, "    ", "price", o->price_bid, n);
    print_field(out, "    ", "score", o->score, n);
    fputs("\n  },\n  \"winner\": ", out);
    print_model_or_null(out, mk, w);
    fputs(",\n  \"runner_up\": ", out);
    print_model_or_null(out, mk, o->outcome.runner_up);
    print_number_field(out, "  ", "winner_score", o->outcome.winner_score);
    print_number_field(out, "  ", "runner_up_score", o->outcome.runner_up_score);
    print_number_field(out, "  ", "reserve", o->reserve);
    print_number_field(out, "  ", "payment", o->outcome.payment);
    print_number_field(out, "  ", "expected_quality", o->quality);
    print_number_field(out, "  ", "winner_cost", o->cost);
    print_number_field(out, "  ", "user_utility", o->user_utility);
    print_number_field(out, "  ", "winner_profit", o->winner_profit);
    print_number_field(out, "  ", "welfare", o->welfare);
    if (n_requests > 0 && w >= 0) {
        double total[4] = {0, 0, 0, 0};
        fputs(",\n  \"requests\": [", out);
        for (int t = 0; t < n_requests; t++) {
            const RequestOutcome *r = &requests[t];
            total[0] += r->payment;
            total[1] += r->user_utility;
            total[2] += r->winner_profit;
            total[3] += r->quality - o->cost;
            fprintf(out, "%s\n    {\"realised_quality\": ", t ? "," : "");
            prillm__json_number(out, r->quality);
            fputs(", \"payment\": ", out);
            prillm__json_number(out, r->payment);
            fputs(", \"user_utility\": ", out);
            prillm__json_number(out, r->user_utility);
            fputs(", \"winner_profit\": ", out);
            prillm__json_number(out, r->winner_profit);
            fputc('}', out);
        }
        fprintf(out, "\n  ],\n  \"request_totals\": {\"requests\": %d", n_requests);
        const char *keys[] = {"spend", "user_value", "winner_profit", "welfare"};
        for (int k = 0; k < 4; k++) {
            fprintf(out, ", \"%s\": ", keys[k]);
            prillm__json_number(out, total[k]);
        }
        fputc('}', out);
    }
    fputs("\n}\n", out);
}

/* The expected outcome, then every request on its realised quality. */
static int run_bid_requests(const PrillmTtcMarket *mk, const PrillmTtcBids *bids, const double *realised,
                            int n_requests, PrillmTtcBidOutcome *o, RequestOutcome *requests) {
    PrillmError err;
    if (prillm_ttc_bids_run(mk, bids, NAN, NULL, o, &err)) return prillm_cli_fail(&err);
    for (int t = 0; t < n_requests && o->outcome.winner >= 0; t++) {
        PrillmTtcBidOutcome r;
        if (prillm_ttc_bids_run(mk, bids, NAN, realised + (size_t)t * (size_t)mk->n_models, &r, &err)) {
            fprintf(stderr, "prillm: error: bids file: requests[%d]: %s\n", t, err.message);
            return EXIT_BAD_INPUT;
        }
        requests[t] = (RequestOutcome){r.quality, r.outcome.payment, r.user_utility, r.winner_profit};
    }
    return EXIT_SOLVED;
}

/* ---- population ------------------------------------------------------------ */

static void print_quantiles(FILE *out, const char *key, const double *q) {
    fprintf(out, ",\n    \"%s\": ", key);
    prillm_cli_print_numbers(out, q, PRILLM_TTC_N_QUANTILES);
}

static void print_population_json(FILE *out, const PrillmTtcMarket *mk, const PrillmTtcPopulationResult *r,
                                  const PrillmTtcPopulationSettings *s, int explicit_bids) {
    fprintf(out,
            "{\n  \"status\": \"solved\",\n  \"mode\": \"population\",\n  \"bids\": \"%s\",\n  \"realised\": %s,\n"
            "  \"seed\": %llu,\n  \"users\": %d,\n  \"requests\": %lld,\n  \"served\": %lld",
            explicit_bids ? "explicit" : "truthful", s->realised ? "true" : "false", s->seed, r->n_users, r->requests,
            r->served);
    fputs(",\n  \"totals\": {\"welfare\": ", out);
    prillm__json_number(out, r->welfare);
    const char *keys[] = {"user_value", "spend", "revenue", "provider_cost", "provider_profit"};
    const double values[] = {r->user_value, r->spend, r->revenue, r->provider_cost, r->provider_profit};
    for (int k = 0; k < 5; k++) {
        fprintf(out, ", \"%s\": ", keys[k]);
        prillm__json_number(out, values[k]);
    }
    fputs("},\n  \"per_request\": {\"welfare\": ", out);
    prillm__json_number(out, r->welfare / (double)r->requests);
    fputs(", \"user_value\": ", out);
    prillm__json_number(out, r->user_value / (double)r->requests);
    fputs(", \"spend\": ", out);
    prillm__json_number(out, r->spend / (double)r->requests);
    fputs("},\n  \"models\": ", out);
    prillm_cli_print_strings(out, mk->model_id, mk->n_models);
    fputs(",\n  \"wins\": [", out);
    for (int i = 0; i < r->n_models; i++) fprintf(out, "%s%lld", i ? ", " : "", r->wins[i]);
    fputc(']', out);
    print_field(out, "  ", "revenue", r->model_revenue, r->n_models);
    print_field(out, "  ", "profit", r->model_profit, r->n_models);
    fputs(",\n  \"spend_quantiles\": {\n    \"levels\": ", out);
    prillm_cli_print_numbers(out, prillm_ttc_quantile_levels(), PRILLM_TTC_N_QUANTILES);
    print_quantiles(out, "per_user", r->spend_quantiles);
    print_quantiles(out, "per_request", r->per_request_quantiles);
    fputs("\n  }\n}\n", out);
}

static void print_population_csv(FILE *out, const PrillmTtcPopulationResult *r, const double *scale,
                                 const long long *requests) {
    fputs("user,value_scale,requests,spend,spend_per_request\n", out);
    for (int u = 0; u < r->n_users; u++) {
        fprintf(out, "%d,", u);
        prillm__json_number(out, scale[u]);
        fprintf(out, ",%lld,", requests[u]);
        prillm__json_number(out, r->user_spend[u]);
        fputc(',', out);
        prillm__json_number(out, r->user_spend_per_request[u]);
        fputc('\n', out);
    }
}

typedef struct {
    int n_users;
    double *scale;
    long long *requests;
} Population;

static PrillmErrorCode read_population(FILE *in, const char *name, void *context, PrillmError *err) {
    Population *p = context;
    char *text = NULL;
    size_t length = 0;
    PrillmErrorCode rc = prillm__read_stream(in, name, &text, &length, err);
    if (rc) return rc;
    rc = prillm_ttc_population_parse_csv(text ? text : "", length, name, &p->n_users, &p->scale,
                                                         &p->requests, err);
    free(text);
    return rc;
}

typedef struct {
    const PrillmTtcMarket *market;
    PrillmTtcBids **bids;
    double **realised;
    int *n_requests;
} BidsRead;

static PrillmErrorCode read_bids(FILE *in, const char *name, void *context, PrillmError *err) {
    const BidsRead *b = context;
    return prillm_ttc_bids_read_json(in, b->market, prillm_cli_warn_to_stderr, (void *)name, b->bids, b->realised,
                                     b->n_requests, err);
}

int cmd_auction(int argc, char **argv) {
    const char *path = NULL, *format = NULL, *bids_path = NULL, *users_text = NULL, *requests_text = NULL,
               *spread_text = NULL, *seed_text = NULL, *population_path = NULL;
    int realised_flag = 0;
    long verbose = 0;
    CurveArgs curves;
    memset(&curves, 0, sizeof curves);
    prillm_ttc_curve_default_settings(&curves.settings);
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            auction_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0 || strcmp(arg, "--csv") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        if (strcmp(arg, "--realised") == 0) {
            realised_flag = 1;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if ((took = take_curve_flag(argc, argv, &k, &curves)) < 0) return EXIT_USAGE;
        if (took) continue;
        static const char *const flags[] = {"--bids", "--users", "--requests", "--value-spread", "--seed",
                                            "--population"};
        const char **targets[] = {&bids_path, &users_text, &requests_text, &spread_text, &seed_text, &population_path};
        for (int f = 0; f < 6 && !took; f++)
            if ((took = prillm_cli_flag_value(argc, argv, &k, flags[f], targets[f])) < 0) return EXIT_USAGE;
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
    int population = users_text || population_path;
    if (users_text && population_path) {
        fprintf(stderr, "prillm: error: --users and --population contradict each other: give one of them\n");
        return EXIT_USAGE;
    }
    if (!users_text && (requests_text || spread_text)) {
        fprintf(stderr, "prillm: error: --requests and --value-spread go with --users\n");
        return EXIT_USAGE;
    }
    if (!population && (seed_text || realised_flag)) {
        fprintf(stderr, "prillm: error: --seed and --realised go with --users or --population\n");
        return EXIT_USAGE;
    }
    if (format && strcmp(format, "--csv") == 0 && !population) {
        fprintf(stderr, "prillm: error: --csv goes with a population (--users or --population)\n");
        return EXIT_USAGE;
    }
    long users = 0, mean_requests = 100, seed = 1;
    double spread = 1;
    if (users_text && prillm_cli_parse_int(users_text, "--users", 1, 10000000, &users)) return EXIT_USAGE;
    if (requests_text && prillm_cli_parse_int(requests_text, "--requests", 1, 10000000, &mean_requests))
        return EXIT_USAGE;
    if (spread_text && prillm_cli_parse_double(spread_text, "--value-spread", 0, 5, &spread)) return EXIT_USAGE;
    if (seed_text && prillm_cli_parse_int(seed_text, "--seed", 0, 2147483647L, &seed)) return EXIT_USAGE;
    if (users && (double)users * (double)(2 * mean_requests - 1) > 1e9) {
        fprintf(stderr, "prillm: error: --users times the most requests per user must stay under 1e9\n");
        return EXIT_USAGE;
    }
    {
        const char *inputs[] = {path, curves.path, bids_path, population_path};
        int from_stdin = 0;
        for (int k = 0; k < 4; k++) from_stdin += inputs[k] && strcmp(inputs[k], "-") == 0;
        if (from_stdin > 1) {
            fprintf(stderr, "prillm: error: only one input can be standard input ('-')\n");
            return EXIT_USAGE;
        }
    }

    PrillmTtcMarket *mk = NULL;
    int code = load_market_source("auction", path, &curves, &mk);
    if (code) return code;
    PrillmError err;
    PrillmTtcBids *bids = NULL;
    double *realised = NULL;
    int n_requests = 0;
    Population pop = {0, NULL, NULL};
    if (bids_path) {
        BidsRead b = {mk, &bids, &realised, &n_requests};
        if ((code = prillm_cli_load_file(bids_path, read_bids, &b))) goto done;
        if (population && n_requests > 0)
            prillm_cli_warn("the bids file's requests are not used with a population (its users' answers are drawn)");
    }
    if (!population) {
        if (bids) {
            PrillmTtcBidOutcome o;
            RequestOutcome *requests = n_requests ? calloc((size_t)n_requests, sizeof *requests) : NULL;
            if (n_requests && !requests) {
                fprintf(stderr, "prillm: error: out of memory for %d requests\n", n_requests);
                code = EXIT_INTERNAL;
                goto done;
            }
            if (!(code = run_bid_requests(mk, bids, realised, n_requests, &o, requests)))
                print_bid_outcome_json(stdout, mk, &o, requests, n_requests);
            free(requests);
        } else {
            PrillmTtcAuctionResult *r = NULL;
            if (prillm_ttc_auction(mk, &r, &err)) {
                code = prillm_cli_fail(&err);
            } else {
                print_auction_json(stdout, mk, r);
            }
            prillm_ttc_auction_result_free(r);
        }
        goto done;
    }
    if (population_path) {
        if ((code = prillm_cli_load_file(population_path, read_population, &pop))) goto done;
    } else {
        pop.n_users = (int)users;
        pop.scale = calloc((size_t)users, sizeof *pop.scale);
        pop.requests = calloc((size_t)users, sizeof *pop.requests);
        if (!pop.scale || !pop.requests) {
            fprintf(stderr, "prillm: error: out of memory for %ld users\n", users);
            code = EXIT_INTERNAL;
            goto done;
        }
        if (prillm_ttc_population_generate(mk->value_scale, spread, mean_requests, pop.n_users,
                                           (unsigned long long)seed, pop.scale, pop.requests, &err)) {
            code = prillm_cli_fail(&err);
            goto done;
        }
    }
    {
        PrillmTtcPopulationSettings ps;
        prillm_ttc_population_default_settings(&ps);
        ps.realised = realised_flag;
        ps.seed = (unsigned long long)seed;
        PrillmTtcPopulationResult *r = NULL;
        if (prillm_ttc_population_run(mk, bids, pop.n_users, pop.scale, pop.requests, &ps, &r, &err)) {
            code = prillm_cli_fail(&err);
        } else if (format && strcmp(format, "--csv") == 0) {
            print_population_csv(stdout, r, pop.scale, pop.requests);
        } else {
            print_population_json(stdout, mk, r, &ps, bids != NULL);
        }
        prillm_ttc_population_result_free(r);
    }
done:
    free(pop.scale);
    free(pop.requests);
    free(realised);
    prillm_ttc_bids_free(bids);
    prillm_ttc_market_free(mk);
    return code;
}

/* ---- ttc-market --------------------------------------------------------- */

static void ttc_market_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_ttc_options(&count);
    fprintf(out,
            "Usage: prillm ttc-market FILE.json [options]\n"
            "       prillm ttc-market --curves RESULTS.csv --scale X --beta B [options]\n"
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
            "  --beta X\n      logit rationality, overrides the file's beta (required with --curves)\n"
            "%s"
            "  --json\n      print JSON (the default and only format)\n",
            file_help, curve_help);
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
    CurveArgs curves;
    memset(&curves, 0, sizeof curves);
    prillm_ttc_curve_default_settings(&curves.settings);
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
        if ((got = take_curve_flag(argc, argv, &k, &curves)) < 0) return EXIT_USAGE;
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
    if (curves.path && !beta_text) {
        fprintf(stderr, "prillm: error: ttc-market --curves needs --beta X (the users' logit rationality)\n");
        return EXIT_USAGE;
    }
    PrillmTtcMarket *mk = NULL;
    int code = load_market_source("ttc-market", path, &curves, &mk);
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
