/*
 * prillm elasticity: the price sensitivity measured on the OpenRouter data
 * (across a model's providers, and over time), with cluster-bootstrap
 * intervals and shrunk per-model estimates.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/elasticity.h"

static void elasticity_help(FILE *out) {
    fprintf(out,
            "Usage: prillm elasticity --data DIR [--bootstrap B] [--seed S] [--json|--table] [options]\n"
            "\n"
            "Measure the elasticity of tokens to price on the OpenRouter data in DIR (the\n"
            "layout of ../shared/data/openrouter: models.csv and raw/sui414_openrouter-\n"
            "pricing-data/{effective_pricing_daily.csv,endpoints_daily.csv.gz}):\n"
            "  across providers: within each (day, model) with two or more providers, log\n"
            "      provider tokens on log blended price, (day x model) fixed effects, the\n"
            "      endpoint's log p50 latency and throughput as controls;\n"
            "  over time: log daily model tokens on log blended price, model and day fixed\n"
            "      effects, models whose listed price changed.\n"
            "Intervals: cluster bootstrap over models (percentile). Per-model estimates\n"
            "(models with enough providers and observations) are shrunk toward the pooled\n"
            "one. See docs/calibration.md, \"Price sensitivity\", for what the number means.\n"
            "\n"
            "Options:\n"
            "  --data DIR\n      the OpenRouter directory\n"
            "  --bootstrap B\n      bootstrap replicates (default 200; 0 = none)\n"
            "  --seed S\n      bootstrap seed (default 1); the figures depend on nothing else\n"
            "  --level L\n      coverage of the percentile interval (default 0.9)\n"
            "  --price effective|listed\n      price after prompt caching (default) or the listed price\n"
            "  --no-controls\n      leave latency and throughput out of the across-providers regression\n"
            "  --input-share S\n      input-price weight of the blend when a day has no token split (0.9)\n"
            "  --min-providers N, --min-obs N\n      per-model estimates: at least N providers (3), N observations (10)\n"
            "  --json\n      print JSON (the default)\n"
            "  --table\n      print a readable table instead of JSON\n");
    prillm_cli_print_verbosity_help(out, NULL);
    fprintf(out, "  -h, --help\n      this text\n\n"
                 "The one-line summary on stderr is a note: --quiet drops it.\n\n%s",
            prillm_cli_exit_code_help);
}

static void print_estimate_json(FILE *out, const char *name, const PrillmElasticityEstimate *e, int controls) {
    fprintf(out, "  \"%s\": {\"elasticity\": ", name);
    prillm__json_number(out, e->elasticity);
    fputs(", \"se_bootstrap\": ", out);
    prillm__json_number(out, e->se);
    fputs(", \"interval\": [", out);
    prillm__json_number(out, e->lo);
    fputs(", ", out);
    prillm__json_number(out, e->hi);
    fputs("], \"se_cluster\": ", out);
    prillm__json_number(out, e->se_analytic);
    fputs(", \"r2_within\": ", out);
    prillm__json_number(out, e->r2_within);
    if (controls) {
        fputs(", \"log_latency\": ", out);
        prillm__json_number(out, e->latency);
        fputs(", \"log_throughput\": ", out);
        prillm__json_number(out, e->throughput);
    }
    fprintf(out, ",\n    \"n_obs\": %ld, \"n_groups\": %ld, \"n_models\": %d, \"n_days\": %d, \"bootstrap_ok\": %d}",
            e->n_obs, e->n_groups, e->n_models, e->n_days, e->bootstrap_ok);
}

static void print_json(FILE *out, const char *dir, const PrillmElasticitySettings *st, const PrillmElasticityResult *r) {
    fputs("{\n  \"data\": ", out);
    prillm__json_string(out, dir);
    fprintf(out, ",\n  \"price\": \"%s\",\n  \"controls\": %s,\n  \"bootstrap\": %d,\n  \"seed\": %d,\n  \"level\": ",
            prillm_elasticity_price_name(st->price), st->controls ? "true" : "false", st->bootstrap, st->seed);
    prillm__json_number(out, st->level);
    fputs(",\n", out);
    print_estimate_json(out, "across_providers", &r->across_providers, st->controls);
    fputs(",\n", out);
    print_estimate_json(out, "over_time", &r->over_time, 0);
    fprintf(out,
            ",\n  \"over_time_candidates\": %d,\n  \"rows_read\": %ld,\n  \"share_fallbacks\": %ld,\n"
            "  \"controls_missing\": %ld,\n  \"between_model_sd\": ",
            r->over_time_candidates, r->rows_read, r->share_fallbacks, r->controls_missing);
    prillm__json_number(out, r->between_sd);
    fputs(",\n  \"seconds\": ", out);
    prillm__json_number(out, r->seconds);
    fputs(",\n  \"models\": [", out);
    for (int j = 0; j < r->n_models; j++) {
        const PrillmElasticityModel *m = &r->models[j];
        fputs(j ? ",\n    {\"model\": " : "\n    {\"model\": ", out);
        prillm__json_string(out, m->model);
        fprintf(out, ", \"providers\": %d, \"n_obs\": %ld, \"days\": %ld, \"raw\": ", m->providers, m->n_obs, m->n_groups);
        prillm__json_number(out, m->raw);
        fputs(", \"raw_se\": ", out);
        prillm__json_number(out, m->raw_se);
        fputs(", \"shrunk\": ", out);
        prillm__json_number(out, m->shrunk);
        fputs(", \"shrunk_se\": ", out);
        prillm__json_number(out, m->shrunk_se);
        fputs("}", out);
    }
    fputs(r->n_models ? "\n  ]\n}\n" : "]\n}\n", out);
}

static void print_estimate_row(FILE *out, const char *name, const PrillmElasticityEstimate *e, double level) {
    fprintf(out, "%-17s %8.3f  [%7.3f, %7.3f] (%2.0f%%) %7.3f %7.3f %7.3f %7ld %7ld %5d\n", name, e->elasticity, e->lo,
            e->hi, 100 * level, e->se, e->se_analytic, e->r2_within, e->n_obs, e->n_groups, e->n_models);
}

static void print_table(FILE *out, const PrillmElasticitySettings *st, const PrillmElasticityResult *r) {
    fprintf(out, "price: %s, controls: %s, bootstrap: %d (seed %d)\n\n", prillm_elasticity_price_name(st->price),
            st->controls ? "log latency, log throughput" : "none", st->bootstrap, st->seed);
    fprintf(out, "%-17s %8s  %-24s %7s %7s %7s %7s %7s %5s\n", "estimate", "elast.", "interval", "se(bs)", "se(cl)",
            "R2 w", "obs", "groups", "models");
    print_estimate_row(out, "across providers", &r->across_providers, st->level);
    print_estimate_row(out, "over time", &r->over_time, st->level);
    if (st->controls)
        fprintf(out, "\nacross providers, controls: log latency %.3f, log throughput %.3f\n", r->across_providers.latency,
                r->across_providers.throughput);
    fprintf(out, "over time: %d models with a listed price change; %.3f s\n", r->over_time_candidates, r->seconds);
    fprintf(out, "\nper model (>= %d providers, >= %d obs): %d, between-model sd %.3f\n", st->model_min_providers,
            st->model_min_obs, r->n_models, r->between_sd);
    if (r->n_models) fprintf(out, "%-48s %5s %5s %8s %7s %8s %7s\n", "model", "prov", "obs", "raw", "se", "shrunk", "se");
    for (int j = 0; j < r->n_models; j++) {
        const PrillmElasticityModel *m = &r->models[j];
        fprintf(out, "%-48s %5d %5ld %8.3f %7.3f %8.3f %7.3f\n", m->model, m->providers, m->n_obs, m->raw, m->raw_se,
                m->shrunk, m->shrunk_se);
    }
}

int cmd_elasticity(int argc, char **argv) {
    PrillmElasticitySettings st;
    prillm_elasticity_default_settings(&st);
    const char *dir = NULL, *value, *format = NULL;
    int table = 0;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        int got;
        long n;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            elasticity_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) return EXIT_USAGE;
            table = strcmp(arg, "--table") == 0;
            continue;
        }
        if ((got = prillm_cli_verbosity_flag(argc, argv, &k, &verbose))) {
            if (got < 0) return EXIT_USAGE;
            continue;
        }
        if (strcmp(arg, "--no-controls") == 0) {
            st.controls = 0;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--data", &value))) {
            if (got < 0) return EXIT_USAGE;
            dir = value;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--bootstrap", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--bootstrap", 0, 1000000, &n)) return EXIT_USAGE;
            st.bootstrap = (int)n;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--seed", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--seed", 0, 2147483647L, &n)) return EXIT_USAGE;
            st.seed = (int)n;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--min-providers", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--min-providers", 2, 1000000, &n)) return EXIT_USAGE;
            st.model_min_providers = (int)n;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--min-obs", &value))) {
            if (got < 0 || prillm_cli_parse_int(value, "--min-obs", 3, 1000000000L, &n)) return EXIT_USAGE;
            st.model_min_obs = (int)n;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--level", &value))) {
            if (got < 0 || prillm_cli_parse_double(value, "--level", 0.01, 0.999, &st.level)) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--input-share", &value))) {
            if (got < 0 || prillm_cli_parse_double(value, "--input-share", 0, 1, &st.input_share)) return EXIT_USAGE;
            continue;
        }
        if ((got = prillm_cli_flag_value(argc, argv, &k, "--price", &value))) {
            if (got < 0) return EXIT_USAGE;
            if (strcmp(value, "effective") == 0) st.price = PRILLM_ELASTICITY_PRICE_EFFECTIVE;
            else if (strcmp(value, "listed") == 0) st.price = PRILLM_ELASTICITY_PRICE_LISTED;
            else {
                fprintf(stderr, "prillm: error: --price needs effective or listed, got \"%s\"\n", value);
                return EXIT_USAGE;
            }
            continue;
        }
        fprintf(stderr, "prillm: error: unexpected argument %s (see prillm elasticity --help)\n", arg);
        return EXIT_USAGE;
    }
    if (!dir) {
        fprintf(stderr, "prillm: error: missing --data DIR (see prillm elasticity --help)\n");
        return EXIT_USAGE;
    }
    PrillmError err = {PRILLM_OK, ""};
    PrillmElasticityResult res;
    PrillmErrorCode rc = prillm_elasticity_estimate(dir, &st, &res, &err);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        return prillm_cli_exit_for_error(rc);
    }
    prillm_cli_note("%s: across providers %.3f [%.3f, %.3f], over time %.3f [%.3f, %.3f], %.3f s", dir,
            res.across_providers.elasticity, res.across_providers.lo, res.across_providers.hi, res.over_time.elasticity,
            res.over_time.lo, res.over_time.hi, res.seconds);
    if (table) print_table(stdout, &st, &res);
    else print_json(stdout, dir, &st, &res);
    int code = isfinite(res.across_providers.elasticity) ? EXIT_SOLVED : EXIT_FAILED;
    if (code) fprintf(stderr, "prillm: error: the across-providers elasticity is not identified by this data\n");
    prillm_elasticity_result_free(&res);
    if (prillm_cli_close_output(stdout, "-") != 0) {
        return EXIT_INTERNAL;
    }
    return code;
}
