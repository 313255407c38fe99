/* prillm lmaas: the LMaaS rental market (docs/lmaas.md). Customers rent by
 * Robust Selecting and Renting; the seller prices by Iterative Model Pricing,
 * the exhaustive grid, or keeps the file's prices. --generate prints a
 * seeded input file instead. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/lmaas.h"

static void lmaas_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_lmaas_options(&count);
    fprintf(out,
            "Usage: prillm lmaas FILE.json [options]\n"
            "       prillm lmaas FILE.json --evaluate [--draws N] [--seed S] [--outside F] [--table]\n"
            "       prillm lmaas --generate [--customers N] [--models M] [--seed S]\n"
            "\n"
            "Large Model as a Service: the seller prices its models per rental-time unit,\n"
            "every customer picks a model and a rental time by Robust Selecting and Renting\n"
            "(worst case over its demand/channel uncertainty set, exact), and stays out\n"
            "unless its robust profit is positive. The model is a reconstruction of Wu et\n"
            "al. (IEEE TMC 2024); see docs/lmaas.md. FILE \"-\" reads standard input.\n"
            "\n"
            "Output (JSON): the prices, the seller's operating profit (sum of (price -\n"
            "serving cost) x rental, plus the expected on-demand margin unless --on-demand\n"
            "ignore) and net profit (minus SSL and fine-tuning costs), the\n"
            "IMP profit history, and each customer's plan and worst-case scenario.\n"
            "\n"
            "Options:\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_verbosity_help(out, "0 none (default); 1 or 2 one line per IMP pass");
    fprintf(out,
            "  --json\n"
            "      print JSON (the default)\n"
            "  --compare\n"
            "      with method imp: also run the exhaustive grid and report IMP's profit\n"
            "      ratio and time against it\n"
            "  --evaluate\n"
            "      also score the renting rules (robust, nominal, cheapest, capable, and\n"
            "      hindsight as an upper bound) at the solved prices on random scenarios:\n"
            "      the distribution of the customers' total realised profit (mean,\n"
            "      quantiles, worst observed), the exact worst case, and how often each\n"
            "      rule earns less than another (docs/lmaas.md)\n"
            "  --draws N\n"
            "      with --evaluate: scenarios per customer (default 1000)\n"
            "  --seed S\n"
            "      with --evaluate: seed of the draws (default 1); with --generate: of the file\n"
            "  --outside F\n"
            "      with --evaluate: also draw outside the uncertainty set, uniformly on F x U\n"
            "      minus U (deviations up to F times the stated ones), F in (1, 100]\n"
            "  --table\n"
            "      with --evaluate: print the evaluation as Markdown tables instead of JSON\n"
            "  --generate\n"
            "      print a seeded random input file (no solve); with --customers N\n"
            "      (default 20), --models M (default 3), --seed S (default 1)\n"
            "\n%s",
            prillm_cli_exit_code_help);
}

static PrillmErrorCode set_lmaas_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_lmaas_set_option(settings, name, value, err);
}

static PrillmErrorCode read_market(FILE *in, const char *name, void *market, PrillmError *err) {
    return prillm_lmaas_read_json(in, prillm_cli_warn_to_stderr, (void *)name, market, err);
}

static int load(const char *path, PrillmLmaasMarket **mk) {
    return prillm_cli_load_file(path, read_market, mk);
}

static const char *choice_name(const PrillmOptionInfo *opts, int count, const char *option, int index, char *buf,
                               size_t size) {
    for (int k = 0; k < count; k++) {
        if (strcmp(opts[k].name, option) != 0) continue;
        const char *c = opts[k].choices;
        for (int skip = index; skip > 0 && c; skip--) c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL;
        snprintf(buf, size, "%.*s", c ? (int)strcspn(c, "|") : 0, c ? c : "");
        return buf;
    }
    return "";
}

/* prefix is printed as is (indentation or ", "), then "key": value, tail. */
static void print_key_number(FILE *out, const char *prefix, const char *key, double value, const char *tail) {
    fprintf(out, "%s\"%s\": ", prefix, key);
    prillm__json_number(out, value);
    fputs(tail, out);
}

static const char *const quantile_keys[PRILLM_LMAAS_QUANTILES] = {"p5", "p25", "p50", "p75", "p95"};

/* One evaluation (inside U or outside it) as a JSON object. */
static void print_evaluation_json(FILE *out, const PrillmLmaasEvaluation *e, const char *region) {
    fprintf(out, "{\"region\": \"%s\", \"widening\": ", region);
    prillm__json_number(out, e->widening);
    fprintf(out, ", \"draws\": %d,\n      \"rules\": [\n", e->draws);
    for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
        const PrillmLmaasRuleStats *st = &e->rules[r];
        fprintf(out, "        {\"rule\": \"%s\", \"renters\": %d", prillm_lmaas_rule_name(r), st->renters);
        print_key_number(out, ", ", "mean", st->mean, "");
        print_key_number(out, ", ", "stddev", st->stddev, "");
        for (int q = 0; q < PRILLM_LMAAS_QUANTILES; q++) print_key_number(out, ", ", quantile_keys[q], st->quantiles[q], "");
        print_key_number(out, ", ", "worst_observed", st->worst_observed, "");
        print_key_number(out, ", ", "best_observed", st->best_observed, "");
        print_key_number(out, ", ", "worst_case", st->worst_case, "");
        print_key_number(out, ", ", "negative_share", st->negative_share, "");
        print_key_number(out, ", ", "customer_worst", st->customer_worst, "");
        fputs(",\n         \"earns_less_than\": {", out);
        int first = 1;
        for (int b = 0; b < PRILLM_LMAAS_RULES; b++) {
            if (b == r) continue;
            fprintf(out, "%s\"%s\": {", first ? "" : ", ", prillm_lmaas_rule_name(b));
            print_key_number(out, "", "draws", e->loses_draws[r][b], "");
            print_key_number(out, ", ", "pairs", e->loses_pairs[r][b], "");
            print_key_number(out, ", ", "mean_gap", st->mean - e->rules[b].mean, "");
            print_key_number(out, ", ", "mean_gap_stderr", e->mean_gap_stderr[r][b], "}");
            first = 0;
        }
        fputs(r + 1 < PRILLM_LMAAS_RULES ? "}},\n" : "}}\n", out);
    }
    fputs("      ]}", out);
}

static void print_evaluation_table(FILE *out, const PrillmLmaasEvaluation *e, const char *region) {
    const PrillmLmaasEvaluation *x = e;
    fprintf(out, "### Renting rules, %d draws per customer, %s\n\n", x->draws, region);
    fputs("| rule | renters | mean | p5 | p50 | p95 | worst observed | worst case | P(profit < 0) | P(total < robust) | P(total < nominal) | mean vs robust |\n", out);
    fputs("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", out);
    for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
        const PrillmLmaasRuleStats *st = &x->rules[r];
        double base = x->rules[PRILLM_LMAAS_RULE_ROBUST].mean;
        fprintf(out, "| %s | %d | %.6g | %.6g | %.6g | %.6g | %.6g | ", prillm_lmaas_rule_name(r), st->renters, st->mean,
                st->quantiles[0], st->quantiles[2], st->quantiles[4], st->worst_observed);
        if (isnan(st->worst_case)) fputs("n/a", out);
        else fprintf(out, "%.6g", st->worst_case);
        fprintf(out, " | %.4f | %.4f | %.4f | ", st->negative_share, x->loses_draws[r][PRILLM_LMAAS_RULE_ROBUST],
                x->loses_draws[r][PRILLM_LMAAS_RULE_NOMINAL]);
        if (r == PRILLM_LMAAS_RULE_ROBUST || !(fabs(base) > 0)) fputs("- |\n", out);
        else fprintf(out, "%+.2f%% |\n", 100 * (st->mean - base) / fabs(base));
    }
    fputs("\nTotals are the customers' realised profit summed per draw. P(profit < 0): share of a rule's\n"
          "renters' (customer, draw) pairs with a negative realised profit. Worst case: exact, over the region\n"
          "drawn from. Hindsight knows each scenario before renting (an upper bound, not a rule).\n\n",
          out);
}

static void print_result(FILE *out, const PrillmLmaasMarket *mk, const PrillmLmaasSettings *s, const PrillmLmaasResult *r,
                         const PrillmLmaasResult *grid, PrillmLmaasEvaluation *const *evaluations,
                         unsigned long long seed) {
    int count;
    const PrillmOptionInfo *opts = prillm_lmaas_options(&count);
    char name[32];
    fprintf(out, "{\n  \"method\": \"%s\",\n  \"status\": \"%s\",\n",
            choice_name(opts, count, "method", s->method, name, sizeof name), prillm_status_name(r->info.status));
    fprintf(out, "  \"settings\": {\"grid_points\": %d, \"max_iterations\": %d, \"start\": \"%s\", \"budget\": ",
            s->grid_points, s->max_iterations, choice_name(opts, count, "start", s->start, name, sizeof name));
    prillm__json_number(out, mk->budget);
    fputs(", \"premium\": ", out);
    prillm__json_number(out, mk->premium);
    fprintf(out, ", \"on_demand\": \"%s\", \"on_demand_points\": %d",
            choice_name(opts, count, "on-demand", s->on_demand, name, sizeof name), s->on_demand_points);
    fprintf(out, ", \"catalogue\": \"%s\"", choice_name(opts, count, "catalogue", s->catalogue, name, sizeof name));
    fputs("},\n  \"models\": [\n", out);
    for (int m = 0; m < mk->n_models; m++) {
        int renters = 0;
        double rented = 0.0, on_demand = 0.0;
        for (int i = 0; i < mk->n_customers; i++)
            if (r->plans[i].model == m) {
                renters++;
                rented += r->plans[i].rental;
                on_demand += r->on_demand[i];
            }
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->model_id[m]);
        fprintf(out, ", \"offered\": %s, \"price\": ", r->offered[m] ? "true" : "false");
        prillm__json_number(out, r->prices[m]);
        fprintf(out, ", \"customers\": %d, \"rented_time\": ", renters);
        prillm__json_number(out, rented);
        fputs(", \"expected_on_demand_time\": ", out);
        prillm__json_number(out, on_demand);
        fputs(m + 1 < mk->n_models ? "},\n" : "}\n", out);
    }
    fputs("  ],\n", out);
    print_key_number(out, "  ", "operating_profit", r->operating_profit, ",\n");
    print_key_number(out, "  ", "net_profit", r->net_profit, ",\n");
    print_key_number(out, "  ", "rental_profit", r->rental_profit, ",\n");
    print_key_number(out, "  ", "on_demand_profit", r->on_demand_profit, ",\n");
    print_key_number(out, "  ", "fixed_cost", r->fixed_cost, ",\n");
    fprintf(out, "  \"iterations\": %d,\n  \"evaluations\": %ld,\n  \"catalogues_priced\": %ld,\n", r->info.iterations,
            r->info.evaluations, r->info.catalogues);
    print_key_number(out, "  ", "seconds", r->info.seconds, ",\n");
    fputs("  \"history\": ", out);
    prillm_cli_print_numbers(out, r->history, r->history_length);
    fputs(",\n", out);
    if (grid) {
        fputs("  \"exhaustive\": {\"prices\": ", out);
        prillm_cli_print_numbers(out, grid->prices, grid->n_models);
        print_key_number(out, ", ", "operating_profit", grid->operating_profit, "");
        print_key_number(out, ", ", "net_profit", grid->net_profit, "");
        fprintf(out, ", \"evaluations\": %ld", grid->info.evaluations);
        print_key_number(out, ", ", "seconds", grid->info.seconds, "");
        double ratio = grid->operating_profit > 0 ? r->operating_profit / grid->operating_profit : NAN;
        print_key_number(out, ", ", "imp_profit_ratio", ratio, "");
        print_key_number(out, ", ", "imp_net_profit_ratio",
                         grid->net_profit > 0 ? r->net_profit / grid->net_profit : NAN, "");
        print_key_number(out, ", ", "time_ratio", grid->info.seconds / fmax(r->info.seconds, 1e-9), "},\n");
    }
    if (evaluations[0]) {
        fprintf(out, "  \"evaluation\": {\"seed\": %llu, \"regions\": [\n    ", seed);
        print_evaluation_json(out, evaluations[0], "inside");
        if (evaluations[1]) {
            fputs(",\n    ", out);
            print_evaluation_json(out, evaluations[1], "outside");
        }
        fputs("\n  ]},\n", out);
    }
    fputs("  \"customers\": [\n", out);
    for (int i = 0; i < mk->n_customers; i++) {
        const PrillmLmaasPlan *p = &r->plans[i];
        fputs("    {\"id\": ", out);
        prillm__json_string(out, mk->customer_id[i]);
        fputs(", \"model\": ", out);
        if (p->model >= 0) prillm__json_string(out, mk->model_id[p->model]);
        else fputs("null", out);
        print_key_number(out, ", ", "rental", p->rental, "");
        print_key_number(out, ", ", "robust_profit", p->robust_profit, "");
        print_key_number(out, ", ", "expected_on_demand", r->on_demand[i], "");
        print_key_number(out, ", ", "worst_demand", p->model >= 0 ? mk->demand[i] * (1 + mk->demand_deviation[i] * p->worst.z_demand) : NAN, "");
        print_key_number(out, ", ", "worst_z_demand", p->model >= 0 ? p->worst.z_demand : NAN, "");
        print_key_number(out, ", ", "worst_z_gain", p->model >= 0 ? p->worst.z_gain : NAN, "");
        fputs(i + 1 < mk->n_customers ? "},\n" : "}\n", out);
    }
    fputs("  ]\n}\n", out);
}

static void progress_to_stderr(void *context, const char *line) {
    (void)context;
    prillm_cli_note("%s", line);
}

static int generate(long customers, long models, long seed) {
    PrillmError err;
    PrillmLmaasMarket *mk = prillm_lmaas_random((int)customers, (int)models, (unsigned long long)seed, &err);
    if (!mk) return prillm_cli_fail(&err);
    PrillmErrorCode rc = prillm_lmaas_write_json(mk, stdout, &err);
    prillm_lmaas_free(mk);
    return rc ? prillm_cli_writer_failed(stdout, &err) : EXIT_SOLVED;
}

int cmd_lmaas(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_lmaas_options(&count);
    PrillmLmaasSettings settings;
    prillm_lmaas_default_settings(&settings);
    const char *path = NULL, *format = NULL;
    int compare = 0, gen = 0, evaluate = 0, table = 0;
    long customers = 20, models = 3, seed = 1, verbose = 0, draws = 1000;
    double outside = 1.0;
    int sized = 0, seeded = 0, eval_flags = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            lmaas_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--compare") == 0) {
            compare = 1;
            continue;
        }
        if (strcmp(arg, "--generate") == 0) {
            gen = 1;
            continue;
        }
        if (strcmp(arg, "--evaluate") == 0) {
            evaluate = 1;
            continue;
        }
        if (strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            table = strcmp(arg, "--table") == 0;
            continue;
        }
        int got;
        if ((got = prillm_cli_verbosity_flag(argc, argv, &k, &verbose)) != 0) {
            if (got < 0) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--customers", &value)) != 0) {
            if (got < 0 || prillm_cli_parse_int(value, "--customers", 1, 1000000, &customers)) return EXIT_USAGE;
            sized = 1;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--models", &value)) != 0) {
            if (got < 0 || prillm_cli_parse_int(value, "--models", 1, 1000, &models)) return EXIT_USAGE;
            sized = 1;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--seed", &value)) != 0) {
            if (got < 0 || prillm_cli_parse_int(value, "--seed", 0, 2147483647L, &seed)) return EXIT_USAGE;
            seeded = 1;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--draws", &value)) != 0) {
            if (got < 0 || prillm_cli_parse_int(value, "--draws", 1, 1000000, &draws)) return EXIT_USAGE;
            eval_flags = 1;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--outside", &value)) != 0) {
            if (got < 0 || prillm_cli_parse_double(value, "--outside", 1.0, 100.0, &outside)) return EXIT_USAGE;
            if (!(outside > 1.0)) {
                fprintf(stderr, "prillm: error: --outside must be > 1 (the widening of the uncertainty set), got %s\n", value);
                return EXIT_USAGE;
            }
            eval_flags = 1;
            continue;
        }
        int took = prillm_cli_take_option(argc, argv, &k, opts, count, set_lmaas_option, &settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "lmaas", "input file", &path)) return EXIT_USAGE;
    }
    if (gen) {
        if (evaluate || eval_flags || table) {
            fprintf(stderr, "prillm: error: --evaluate, --draws, --outside and --table do not go with --generate\n");
            return EXIT_USAGE;
        }
        if (path) {
            fprintf(stderr, "prillm: error: --generate takes no input file (got %s)\n", path);
            return EXIT_USAGE;
        }
        return generate(customers, models, seed);
    }
    if (sized) {
        fprintf(stderr, "prillm: error: --customers and --models go with --generate\n");
        return EXIT_USAGE;
    }
    if (!evaluate && (eval_flags || seeded || table)) {
        fprintf(stderr, "prillm: error: --draws, --seed, --outside and --table go with --evaluate (or --seed with --generate)\n");
        return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "lmaas", "FILE.json")) return EXIT_USAGE;
    settings.verbose = verbose > 0; /* the library has one level of progress */
    if (compare && settings.method != PRILLM_LMAAS_IMP) {
        fprintf(stderr, "prillm: error: --compare goes with --method imp\n");
        return EXIT_USAGE;
    }
    PrillmLmaasMarket *mk = NULL;
    int code = load(path, &mk);
    if (code) return code;
    PrillmError err = {PRILLM_OK, ""};
    PrillmLmaasResult *result = NULL, *grid = NULL;
    PrillmLmaasEvaluation *evaluations[2] = {NULL, NULL};
    PrillmErrorCode rc = prillm_lmaas_solve(mk, &settings, progress_to_stderr, NULL, &result, &err);
    if (!rc && compare) {
        PrillmLmaasSettings exhaustive = settings;
        exhaustive.method = PRILLM_LMAAS_EXHAUSTIVE;
        rc = prillm_lmaas_solve(mk, &exhaustive, NULL, NULL, &grid, &err);
    }
    if (!rc && evaluate) {
        PrillmLmaasEvalSettings es;
        prillm_lmaas_default_eval_settings(&es);
        es.draws = (int)draws;
        es.seed = (unsigned long long)seed;
        rc = prillm_lmaas_evaluate(mk, result->prices, &es, &evaluations[0], &err);
        if (!rc && outside > 1.0) {
            es.widening = outside;
            rc = prillm_lmaas_evaluate(mk, result->prices, &es, &evaluations[1], &err);
        }
    }
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        code = prillm_cli_exit_for_error(rc);
    } else {
        if (table) {
            print_evaluation_table(stdout, evaluations[0], "inside the uncertainty set");
            if (evaluations[1]) {
                char region[96];
                snprintf(region, sizeof region, "outside it (widening %g)", outside);
                print_evaluation_table(stdout, evaluations[1], region);
            }
        } else {
            print_result(stdout, mk, &settings, result, grid, evaluations, (unsigned long long)seed);
        }
        code = prillm_cli_exit_for_status(result->info.status);
        if (code == EXIT_INACCURATE)
            prillm_cli_warn("IMP still moving after %d passes (max-iterations)", result->info.iterations);
        if (prillm_cli_close_output(stdout, "-") != 0) {
            code = EXIT_INTERNAL;
        }
    }
    prillm_lmaas_result_free(result);
    prillm_lmaas_result_free(grid);
    prillm_lmaas_evaluation_free(evaluations[0]);
    prillm_lmaas_evaluation_free(evaluations[1]);
    prillm_lmaas_free(mk);
    return code;
}
