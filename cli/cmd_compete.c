/* prillm compete: the leaders' price equilibrium by iterated exact best
 * responses, with its certificate (prillm/compete.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static PrillmErrorCode set_compete_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_compete_set_option(settings, name, value, err);
}

static void compete_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_compete_options(&count);
    fprintf(out,
            "Usage: prillm compete MARKET.json [--providers ID,...|--all] [options]\n"
            "\n"
            "The leaders' price equilibrium: each leader in turn sets the price that\n"
            "maximises its profit (price - cost) x flow with the others' prices fixed\n"
            "(the exact method of prillm price, over [price_min, price_max]), until no\n"
            "leader wants to move. Models with the same \"owner\" in the market file\n"
            "price together for the owner's total profit. Reports the prices, profits\n"
            "and flows reached, the rounds, and as certificate each leader's largest\n"
            "gain from changing its own price alone, recomputed at the final prices\n"
            "(relative to its profit). A run whose prices revisit an earlier round's\n"
            "reports the cycle (status cycle) with the prices visited.\n"
            "\n"
            "Options:\n"
            "  --providers ID,...\n      the leaders (default: every provider)\n"
            "  --all\n      every provider leads (the default)\n"
            "  --price-min ID=X,...\n      price floors, USD/Mtok (override the market file's price_min)\n"
            "  --price-max ID=X,...\n      price caps, USD/Mtok (override the market file's price_max)\n"
            "  --out FILE\n      write the market at the final prices (with its floors and caps)\n"
            "  --table\n      print a readable summary instead of JSON\n"
            "  --csv\n      print one CSV row per leader instead of JSON\n"
            "  --json\n      print JSON (the default)\n"
            "      (--csv, --table and --json are alternatives)\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default), 1 every round, 2 every best response");
    fprintf(out, "  -h, --help\n      this text\n\nOrders:\n");
#define PRILLM_COMPETE_ORDER_HELP(id, name, help) fprintf(out, "  %-13s %s\n", name, help);
    PRILLM_COMPETE_ORDER_LIST(PRILLM_COMPETE_ORDER_HELP)
#undef PRILLM_COMPETE_ORDER_HELP
    fprintf(out,
            "\nStatus and exit code: converged with every gain below --certificate exits 0;\n"
            "cycle, round_limit, time_limit, or converged without the certificate exit 4\n"
            "(output printed); failed exits 5.\n\n%s",
            prillm_cli_exit_code_help);
}

static void print_table(FILE *out, const PrillmMarket *mk, const PrillmCompeteResult *r,
                        const PrillmCompeteSettings *set) {
    fprintf(out, "%d leader%s (%d owner%s), %s, damping %g: status %s after %d rounds, %s\n", r->n_leaders,
            r->n_leaders == 1 ? "" : "s", r->n_groups, r->n_groups == 1 ? "" : "s",
            prillm_compete_order_name(set->order), set->damping, prillm_compete_status_name(r->status), r->rounds,
            r->certified ? "certified" : "NOT certified");
    fprintf(out, "  largest unilateral gain %.3g (relative; certificate %.3g), last step %.3g, %ld best responses,"
            " %.3g s\n\n", r->max_gain_relative, set->certificate, r->residual, r->best_responses, r->seconds);
    fprintf(out, "  %-28s %-16s %-12s %-12s %-12s %-12s\n", "leader", "owner", "price", "profit", "flow",
            "gain (rel)");
    char cell[PRILLM_CLI_CELL]; /* ids as table cells */
    for (int l = 0; l < r->n_leaders; l++) {
        int j = r->leader[l];
        const char *owner = r->group_name[r->group[l]];
        fprintf(out, "  %-28s %-16s %-12.6g %-12.6g %-12.6g %-12.3g\n", prillm_cli_cell(mk->provider_id[j], cell),
                strcmp(owner, mk->provider_id[j]) ? owner : "-",
                r->price[j], r->profit[j], r->flow[j], r->gain_relative[l]);
    }
    for (int q = 0; q < r->n_groups; q++)
        if (!isnan(r->pair_gain_relative[q]))
            fprintf(out, "  owner %s: profit %.6g, pair-grid gain %.3g (relative)\n", r->group_name[q],
                    r->group_value[q], r->pair_gain_relative[q]);
    if (r->cycle_length) {
        fprintf(out, "\n  cycle of %d rounds (the leaders' prices, round by round):\n", r->cycle_length);
        for (int c = 0; c < r->cycle_length; c++) {
            fputs("   ", out);
            for (int l = 0; l < r->n_leaders; l++) fprintf(out, " %.6g", r->cycle[(size_t)c * r->n_leaders + l]);
            fputc('\n', out);
        }
    }
}

/* An id as one CSV field: quoted, inner quotes doubled (RFC 4180). */
static void csv_text(FILE *out, const char *text) {
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

static void print_csv(FILE *out, const PrillmMarket *mk, const PrillmCompeteResult *r) {
    fputs("id,owner,price,profit,flow,deviation_price,gain,gain_relative\n", out);
    for (int l = 0; l < r->n_leaders; l++) {
        int j = r->leader[l];
        csv_text(out, mk->provider_id[j]);
        fputc(',', out);
        csv_text(out, r->group_name[r->group[l]]);
        const double row[] = {r->price[j], r->profit[j], r->flow[j], r->deviation_price[l], r->gain[l],
                              r->gain_relative[l]};
        for (int c = 0; c < 6; c++) {
            fputc(',', out);
            prillm__json_number(out, row[c]);
        }
        fputc('\n', out);
    }
}

void prillm_cli_compete_print(FILE *out, const PrillmMarket *mk, const PrillmCompeteResult *r,
                              const PrillmCompeteSettings *set, int format) {
    if (format == 1) print_csv(out, mk, r);
    else if (format == 2) print_table(out, mk, r, set);
    else {
        /* the library's JSON (prillm serve answers the same bytes) */
        PrillmError err;
        if (prillm_compete_result_write_json(mk, r, set, out, &err)) prillm_cli_writer_failed(out, &err);
    }
}

int prillm_cli_compete_exit(const PrillmCompeteResult *r) {
    if (r->status == PRILLM_COMPETE_FAILED) {
        prillm_cli_warn("a best response or equilibrium did not solve (status failed)");
        return EXIT_FAILED;
    }
    if (r->status == PRILLM_COMPETE_CYCLE)
        prillm_cli_warn("the best responses cycle through %d price vectors (printed under \"cycle\"): no equilibrium "
                        "reached", r->cycle_length);
    else if (r->status != PRILLM_COMPETE_CONVERGED)
        prillm_cli_warn("stopped at the %s after %d rounds: not an equilibrium (largest gain %.3g)",
                        r->status == PRILLM_COMPETE_TIME_LIMIT ? "time limit" : "round limit", r->rounds,
                        r->max_gain_relative);
    else if (!r->certified)
        prillm_cli_warn("converged, but a leader still gains %.3g (relative) by deviating: not certified",
                        r->max_gain_relative);
    return r->status == PRILLM_COMPETE_CONVERGED && r->certified ? EXIT_SOLVED : EXIT_INACCURATE;
}

/* "ID=X,ID=X" into the market's floors or caps. */
static int set_bounds(PrillmMarket *mk, const char *list, const char *flag, double *bound) {
    char *copy = prillm__strdup(list);
    unsigned char *seen = prillm__calloc((size_t)mk->n_providers, 1);
    if (!copy || !seen) {
        free(copy);
        free(seen);
        return EXIT_INTERNAL;
    }
    int code = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && !code; item = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(item, '=');
        if (!eq) {
            fprintf(stderr, "prillm: error: %s: \"%s\" is not ID=PRICE\n", flag, item);
            code = EXIT_USAGE;
            break;
        }
        *eq = '\0';
        int j = prillm_market_provider_index(mk, item);
        if (j < 0) {
            fprintf(stderr, "prillm: error: %s: no provider \"%s\" in the market\n", flag, item);
            code = EXIT_USAGE;
            break;
        }
        if (seen[j]) {
            /* the last one would win silently, as --providers refuses twice */
            fprintf(stderr, "prillm: error: %s: \"%s\" is given twice\n", flag, item);
            code = EXIT_USAGE;
            break;
        }
        seen[j] = 1;
        if (prillm_cli_parse_double(eq + 1, flag, 0, PRILLM_MAX_MAGNITUDE, &bound[j])) code = EXIT_USAGE;
    }
    free(copy);
    free(seen);
    return code;
}

/* "ID,ID" into provider indices. */
static int parse_providers(const PrillmMarket *mk, const char *list, int **out, int *count) {
    char *copy = prillm__strdup(list);
    int *idx = prillm__calloc((size_t)mk->n_providers + 1, sizeof(int));
    if (!copy || !idx) {
        free(copy);
        free(idx);
        return EXIT_INTERNAL;
    }
    int n = 0, code = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int j = prillm_market_provider_index(mk, item);
        if (j < 0) {
            fprintf(stderr, "prillm: error: --providers: no provider \"%s\" in the market\n", item);
            code = EXIT_USAGE;
            break;
        }
        for (int e = 0; e < n; e++)
            if (idx[e] == j) {
                fprintf(stderr, "prillm: error: --providers: \"%s\" is listed twice\n", item);
                code = EXIT_USAGE;
            }
        if (code) break;
        idx[n++] = j;
    }
    if (!code && n == 0) {
        fprintf(stderr, "prillm: error: --providers: the list is empty\n");
        code = EXIT_USAGE;
    }
    free(copy);
    if (code) free(idx);
    else {
        *out = idx;
        *count = n;
    }
    return code;
}

static int write_market(const PrillmMarket *mk, const PrillmCompeteResult *r, const char *path) {
    PrillmError err;
    PrillmMarket *at = prillm_market_copy(mk, &err);
    if (!at) return prillm_cli_fail(&err);
    memcpy(at->price, r->price, (size_t)at->n_providers * sizeof(double));
    FILE *f = prillm_cli_open_output(path, "--out");
    int code = f ? 0 : EXIT_BAD_INPUT;
    if (f) {
        PrillmErrorCode rc = prillm_market_write_json(at, f, &err);
        /* a failed stream is the close's to say (it sees the error flag) */
        if (prillm_cli_close_output(f, path) != 0) code = EXIT_INTERNAL;
        else if (rc) code = prillm_cli_fail(&err);
        if (!code) prillm_cli_note("wrote the market at the final prices to %s", path);
    }
    prillm_market_free(at);
    return code;
}

int cmd_compete(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_compete_options(&count);
    PrillmCompeteSettings settings;
    prillm_compete_default_settings(&settings);
    const char *path = NULL, *providers = NULL, *out_path = NULL, *format = NULL, *mins = NULL, *maxs = NULL;
    int fmt = 0, all = 0;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            compete_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--csv") == 0 || strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            fmt = strcmp(arg, "--csv") == 0 ? 1 : strcmp(arg, "--table") == 0 ? 2 : 0;
            continue;
        }
        if (strcmp(arg, "--all") == 0) {
            all = 1;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (!took) took = prillm_cli_flag_value(argc, argv, &k, "--providers", &providers);
        if (!took) took = prillm_cli_flag_value(argc, argv, &k, "--out", &out_path);
        if (!took) took = prillm_cli_flag_value(argc, argv, &k, "--price-min", &mins);
        if (!took) took = prillm_cli_flag_value(argc, argv, &k, "--price-max", &maxs);
        if (!took) took = prillm_cli_take_option(argc, argv, &k, opts, count, set_compete_option, &settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "compete", "market file", &path)) return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "compete", "MARKET.json")) return EXIT_USAGE;
    if (all && providers) {
        fprintf(stderr, "prillm: error: --all and --providers are alternatives\n");
        return EXIT_USAGE;
    }
    if (out_path && strcmp(out_path, "-") == 0)
        return prillm_cli_both_stdout("--out -", "the report", "give --out a file name");
    settings.verbose = (int)verbose;
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    int *leaders = NULL, n_leaders = mk->n_providers;
    if (mins) code = set_bounds(mk, mins, "--price-min", mk->price_min);
    if (!code && maxs) code = set_bounds(mk, maxs, "--price-max", mk->price_max);
    if (!code && providers) code = parse_providers(mk, providers, &leaders, &n_leaders);
    PrillmError err;
    /* the file was valid when loaded: a problem now comes from the flags */
    if (!code && (mins || maxs) && prillm_market_validate(mk, &err)) {
        fprintf(stderr, "prillm: error: --price-min / --price-max: %s\n", err.message);
        code = EXIT_USAGE;
    }
    if (code) {
        free(leaders);
        prillm_market_free(mk);
        return code;
    }
    PrillmCompeteResult result;
    PrillmErrorCode rc = prillm_compete(mk, leaders, n_leaders, &settings, &result, &err);
    free(leaders);
    if (rc) {
        prillm_market_free(mk);
        return prillm_cli_fail(&err);
    }
    prillm_cli_compete_print(stdout, mk, &result, &settings, fmt);
    code = prillm_cli_compete_exit(&result);
    if (out_path && result.status != PRILLM_COMPETE_FAILED) {
        int wrote = write_market(mk, &result, out_path);
        if (wrote) code = wrote;
    }
    prillm_compete_result_clear(&result);
    prillm_market_free(mk);
    return code;
}
