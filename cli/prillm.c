/*
 * prillm — the command line. A thin layer over libprillm: it reads files,
 * turns flags into settings through the library's option tables, and prints
 * results. Results go to stdout; warnings, errors and progress to stderr.
 *
 * Exit codes (documented in the README and in --help):
 *   0 success (solver status "solved")      3 bad input (unreadable, malformed, invalid)
 *   1 internal error (out of memory)        4 solved, but only to status "inaccurate"
 *   2 usage error (unknown flag, ...)       5 solver failed
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- equilibrium -------------------------------------------------------- */

static void equilibrium_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    fprintf(out,
            "Usage: prillm equilibrium MARKET.json [options]\n"
            "\n"
            "Compute the users' unique Nash equilibrium traffic split at the market's\n"
            "prices and print it as JSON (or CSV with --csv). MARKET.json may be '-' for\n"
            "standard input. Flows are in millions of tokens per period, lambda (each\n"
            "user's marginal cost) in USD per million tokens.\n"
            "\n"
            "Options:\n"
            "  --csv\n      print a tidy table user,provider,flow,user_lambda,provider_flow instead of JSON\n"
            "  --table\n      print a readable summary (per model, then per app) instead of JSON\n"
            "  --json\n      print JSON (the default)\n"
            "      (--csv, --table and --json are alternatives)\n"
            "  --no-flows\n      JSON: leave the users x providers flows out (provider totals, lambda and\n"
            "      the certificate only)\n"
            "  --top K\n      for each app only its K largest positive flows, largest first: JSON\n"
            "      \"top_flows\" (one list of {\"provider\", \"flow\"} per app) instead of \"flows\";\n"
            "      CSV: only those rows (--no-flows and --top are alternatives; a 10000 x 500\n"
            "      market's flows are 5 million numbers)\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default), 1 a summary line, 2 every round");
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

/* The JSON answer is the library's (prillm serve answers the same bytes). */
static int print_equilibrium_json(FILE *out, const PrillmMarket *mk, const PrillmEquilibrium *eq, int method,
                                  int shown, int top) {
    PrillmError err;
    if (prillm_equilibrium_write_json_flows(mk, eq, method, shown, top, out, &err))
        return prillm_cli_writer_failed(out, &err);
    return 0;
}

/* Every (user, provider) row, or with top > 0 each user's top largest
 * positive flows (the library's selection), largest first. */
static int print_equilibrium_csv(FILE *out, const PrillmMarket *mk, const PrillmEquilibrium *eq, int top) {
    int n = mk->n_users, m = mk->n_providers;
    int k = top < m ? top : m > 0 ? m : 1;
    int *best = malloc((size_t)(top > 0 ? k : m > 0 ? m : 1) * sizeof *best);
    if (!best) {
        fprintf(stderr, "prillm: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    fputs("user,provider,flow,user_lambda,provider_flow\n", out);
    for (int i = 0; i < n; i++) {
        int c = m;
        if (top > 0) c = prillm_flows_top(eq->flows + (size_t)i * m, m, k, best);
        else
            for (int j = 0; j < m; j++) best[j] = j;
        for (int q = 0; q < c; q++) {
            int j = best[q];
            prillm__csv_field(out, mk->user_id[i]);
            fputc(',', out);
            prillm__csv_field(out, mk->provider_id[j]);
            fputc(',', out);
            prillm__json_number(out, eq->flows[(size_t)i * m + j]);
            fputc(',', out);
            prillm__json_number(out, eq->lambda[i]);
            fputc(',', out);
            prillm__json_number(out, eq->provider_flow[j]);
            fputc('\n', out);
        }
    }
    free(best);
    return 0;
}

/* A readable summary for people; JSON and CSV are for programs. */
static void print_equilibrium_table(FILE *out, const PrillmMarket *mk, const PrillmEquilibrium *eq) {
    const PrillmEquilibriumInfo *info = &eq->info;
    int n = mk->n_users, m = mk->n_providers;
    double total = 0;
    for (int i = 0; i < n; i++) total += mk->demand[i];
    fprintf(out, "Equilibrium of %d apps x %d models: %s (KKT violation %.2g, %d exact solves, %d sweeps, %.3f ms)\n\n",
            n, m, prillm_status_name(info->status), info->kkt_violation, info->iterations, info->sweeps,
            1e3 * info->seconds);
    char cell[PRILLM_CLI_CELL], cell2[PRILLM_CLI_CELL]; /* ids as table cells */
    fprintf(out, "%-36s %9s %10s %10s %7s %10s\n", "model", "price", "capacity", "flow", "share", "congestion");
    for (int j = 0; j < m; j++)
        fprintf(out, "%-36.36s %9.4g %10.4g %10.4g %6.1f%% %10.3f\n", prillm_cli_cell(mk->provider_id[j], cell),
                mk->price[j],
                mk->capacity[j], eq->provider_flow[j], total > 0 ? 100.0 * eq->provider_flow[j] / total : 0.0,
                eq->provider_flow[j] / mk->capacity[j]);
    fprintf(out, "\n%-24s %10s %10s  %s\n", "app", "demand", "lambda", "largest shares");
    for (int i = 0; i < n; i++) {
        fprintf(out, "%-24.24s %10.4g %10.4g ", prillm_cli_cell(mk->user_id[i], cell), mk->demand[i], eq->lambda[i]);
        const double *row = eq->flows + (size_t)i * m;
        int shown[3] = {-1, -1, -1};
        for (int r = 0; r < 3; r++) {
            int best = -1;
            for (int j = 0; j < m; j++)
                if (j != shown[0] && j != shown[1] && row[j] > 0 && (best < 0 || row[j] > row[best])) best = j;
            if (best < 0) break;
            shown[r] = best;
            const char *name = strrchr(mk->provider_id[best], '/');
            fprintf(out, " %s %.0f%%", prillm_cli_cell(name ? name + 1 : mk->provider_id[best], cell2),
                    mk->demand[i] > 0 ? 100.0 * row[best] / mk->demand[i] : 0.0);
        }
        fputc('\n', out);
    }
}

static PrillmErrorCode set_equilibrium_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_equilibrium_set_option(settings, name, value, err);
}

int cmd_equilibrium(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    PrillmEquilibriumSettings settings;
    prillm_equilibrium_default_settings(&settings);
    const char *path = NULL, *format = NULL;
    int csv = 0, table = 0, no_flows = 0;
    long verbose = 0, top = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            equilibrium_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--no-flows") == 0) {
            no_flows = 1;
            continue;
        }
        int got = prillm_cli_flag_value(argc, argv, &k, "--top", &value);
        if (got < 0 || (got && prillm_cli_parse_int(value, "--top", 1, 1000000, &top))) return EXIT_USAGE;
        if (got) continue;
        if (strcmp(arg, "--csv") == 0 || strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            csv = strcmp(arg, "--csv") == 0;
            table = strcmp(arg, "--table") == 0;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        took = prillm_cli_take_option(argc, argv, &k, opts, count, set_equilibrium_option, &settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "equilibrium", "market file", &path)) return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "equilibrium", "MARKET.json")) return EXIT_USAGE;
    const char *usage = no_flows && top ? "--no-flows and --top are alternatives"
                        : table && (no_flows || top)
                            ? "--table shows each app's three largest shares; --no-flows and --top are for JSON and CSV"
                        : csv && no_flows ? "--csv prints one row per flow: --no-flows is for JSON (--top K limits the rows)"
                                          : NULL;
    if (usage) {
        fprintf(stderr, "prillm: error: %s (see prillm equilibrium --help)\n", usage);
        return EXIT_USAGE;
    }
    int shown = no_flows ? PRILLM_FLOWS_NONE : top ? PRILLM_FLOWS_TOP : PRILLM_FLOWS_ALL;
    settings.verbose = (int)verbose;
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    PrillmError err = {PRILLM_OK, ""};
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = prillm_equilibrium_setup(&solver, mk, &settings, &err);
    if (!rc) rc = prillm_equilibrium_solve(solver, &err);
    if (rc && solver && prillm_cli_exit_for_error(rc) == EXIT_FAILED) {
        /* the solver could not run (Ipopt too large or absent): the answer
         * is a failed one, printed with null outputs like any other */
        fprintf(stderr, "prillm: error: %s\n", err.message);
        const PrillmEquilibrium *failed = prillm_equilibrium_solution(solver);
        if (csv) print_equilibrium_csv(stdout, mk, failed, (int)top);
        else if (!table) print_equilibrium_json(stdout, mk, failed, settings.method, shown, (int)top);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
        return EXIT_FAILED;
    }
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
        return prillm_cli_exit_for_error(rc);
    }
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (eq->info.status == PRILLM_STATUS_FAILED && err.message[0])
        fprintf(stderr, "prillm: error: %s\n", err.message);
    int printed = 0;
    if (csv) printed = print_equilibrium_csv(stdout, mk, eq, (int)top);
    else if (table) print_equilibrium_table(stdout, mk, eq);
    else printed = print_equilibrium_json(stdout, mk, eq, settings.method, shown, (int)top);
    code = printed ? printed : prillm_cli_exit_for_status(eq->info.status);
    if (code == EXIT_INACCURATE)
        prillm_cli_warn("equilibrium only reached kkt_violation %g (tolerance %g)", eq->info.kkt_violation,
                        settings.tolerance);
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(mk);
    if (prillm_cli_close_output(stdout, "-") != 0) {
        return EXIT_INTERNAL;
    }
    return code;
}

/* ---- validate ----------------------------------------------------------- */

int cmd_validate(int argc, char **argv) {
    const char *path = NULL, *format = NULL;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            printf("Usage: prillm validate MARKET.json [--json] [--quiet]\n\n"
                   "Check a market file; print its size on success (JSON).\n\n"
                   "Options:\n"
                   "  --json\n      print JSON (the default and only format)\n");
            prillm_cli_print_verbosity_help(stdout, NULL);
            printf("  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "validate", "market file", &path)) return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "validate", "MARKET.json")) return EXIT_USAGE;
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    printf("{\"valid\": true, \"users\": %d, \"providers\": %d}\n", mk->n_users, mk->n_providers);
    prillm_market_free(mk);
    return EXIT_SOLVED;
}

/* ---- generate ----------------------------------------------------------- */

int cmd_generate(int argc, char **argv) {
    long users = 20, providers = 20, seed = 1, verbose = 0;
    const char *format = NULL;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            printf("Usage: prillm generate [--users N] [--providers M] [--seed S]\n\n"
                   "Print a random market (seeded, reproducible) as JSON: log-normal prices around\n"
                   "$1/Mtok, capacities that make congestion matter, heavy-tailed demands.\n"
                   "Defaults: 20 users, 20 providers, seed 1.\n\n"
                   "Options:\n"
                   "  --users N, --providers M, --seed S\n      the market's size and seed\n"
                   "  --json\n      print JSON (the default and only format)\n");
            prillm_cli_print_verbosity_help(stdout, NULL);
            printf("  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        long *target = strcmp(arg, "--users") == 0 ? &users
                       : strcmp(arg, "--providers") == 0 ? &providers
                       : strcmp(arg, "--seed") == 0 ? &seed
                                                          : NULL;
        if (!target) {
            fprintf(stderr, "prillm: error: unknown option %s (see prillm generate --help)\n", arg);
            return EXIT_USAGE;
        }
        if (k + 1 >= argc) {
            fprintf(stderr, "prillm: error: %s needs a value\n", arg);
            return EXIT_USAGE;
        }
        if (prillm_cli_parse_int(argv[++k], arg, target == &seed ? 0 : 1, target == &seed ? 2147483647L : 1000000L, target))
            return EXIT_USAGE;
    }
    PrillmError err;
    PrillmMarket *mk = prillm_market_random((int)users, (int)providers, (unsigned long long)seed, &err);
    if (!mk) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        return prillm_cli_exit_for_error(err.code);
    }
    PrillmErrorCode rc = prillm_market_write_json(mk, stdout, &err);
    prillm_market_free(mk);
    return rc ? prillm_cli_writer_failed(stdout, &err) : EXIT_SOLVED;
}

/* ---- main --------------------------------------------------------------- */

static void main_help(FILE *out) {
    fprintf(out,
            "prillm %s — price LLM services with a calibrated Stackelberg routing game\n"
            "\n"
            "Usage: prillm COMMAND [ARGS...]\n"
            "\n"
            "Commands:\n",
            prillm_version());
#define PRILLM_CLI_HELP_LINE(fn, name, args, summary) fprintf(out, "  %-12s %-25s %s\n", name, args, summary);
    PRILLM_CLI_COMMANDS(PRILLM_CLI_HELP_LINE)
#undef PRILLM_CLI_HELP_LINE
    fprintf(out,
            "\n"
            "  prillm COMMAND --help                  help for one command\n"
            "  prillm --version                       print the version\n"
            "\n"
            "Units: price, value and cost in USD per million tokens; demand, capacity and\n"
            "flows in millions of tokens per period; delay and latency in seconds.\n"
            "\n"
            "Environment:\n"
            "  PRILLM_DATA_DIR  the shipped data (aggregator/*.json, default_market.json);\n"
            "                   default: ../share/prillm next to the installed executable,\n"
            "                   else the source tree's data/ (prillm price --help shows\n"
            "                   the model file in use)\n"
            "  PRILLM_BLAS_THREADS  threads of the linked OpenBLAS (default 1: the\n"
            "                   last digits of a solve depend on it, so every run\n"
            "                   prints the same figures; OPENBLAS_NUM_THREADS is\n"
            "                   overridden)\n"
            "\n%s",
            prillm_cli_exit_code_help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        main_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        main_help(stdout);
        return prillm_cli_finish(EXIT_SOLVED);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("prillm %s\n", prillm_version());
        return prillm_cli_finish(EXIT_SOLVED);
    }
    int pinned = prillm_cli_pin_blas_threads();
    if (pinned != 0) return pinned;
#define PRILLM_CLI_DISPATCH(fn, name, args, summary) \
    if (strcmp(cmd, name) == 0) return prillm_cli_finish(fn(argc - 1, argv + 1));
    PRILLM_CLI_COMMANDS(PRILLM_CLI_DISPATCH)
#undef PRILLM_CLI_DISPATCH
    fprintf(stderr, "prillm: error: unknown command \"%s\" (see prillm --help)\n", cmd);
    return EXIT_USAGE;
}
