/*
 * prillm-sweep: an mpirun-able tool for sweeps (docs/sweep.md).
 *
 *   mpirun -np 4 prillm-sweep providers MARKET [--paid | --targets ID,...]
 *   mpirun -np 4 prillm-sweep scenarios MARKET [--whatif FILE] [--perturb N]
 *   mpirun -np 4 prillm-sweep training-data MARKET --out FILE [scenario options]
 *
 * Rank 0 reads the market (JSON or binary) and sends it to the others in
 * the binary form; each task (one provider priced, one scenario solved, one
 * training scenario built; sweep_training.c)
 * runs on whichever rank is free, its result goes back to rank 0, and rank
 * 0 prints everything in task order, so the output is the same on any
 * number of ranks. `providers` prints exactly what `prillm price --all`
 * prints (the same printer, cli/price_rows.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "flows_json.h"
#include "json_document.h"
#include "sweep.h"

void openblas_set_num_threads(int num_threads);

enum { MODE_PROVIDERS, MODE_SCENARIOS, MODE_TRAINING };

typedef struct {
    int mode;
    const PrillmMarket *market;
    PrillmPriceSettings price;
    /* providers */
    int *targets, n_targets;
    /* scenarios: "base", then the what-ifs, then the perturbations */
    SweepWhatIfs whatifs;
    SweepPerturbation perturb;
    int n_perturb;
    int target; /* scenarios: provider priced in each scenario, or -1;
                 * training-data: the training target, or -1 (drawn) */
    int flows, top;
    /* training-data */
    PrillmScenarioSettings training;
} Sweep;

static void help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_price_options(&count);
    fprintf(out,
            "Usage: prillm-sweep providers MARKET [--all | --paid | --targets ID,ID,...] [options]\n"
            "       prillm-sweep scenarios MARKET [--whatif FILE] [--perturb N] [--target ID] [options]\n"
            "       prillm-sweep training-data MARKET --out FILE [--target ID] [scenario options]\n"
            "       mpirun -np R prillm-sweep ...   (the same work spread over R ranks)\n"
            "\n"
            "Independent pieces of work spread over MPI ranks (Open MPI), gathered on rank 0\n"
            "and printed in a fixed order: the output does not depend on the number of ranks\n"
            "or the schedule. MARKET is JSON or the binary form (prillm convert); rank 0\n"
            "reads it and sends it to the others. Each rank runs one task at a time on one\n"
            "thread (OpenBLAS on one thread): start one rank per core.\n"
            "\n"
            "providers: every provider (or --paid: every one with a price above 0, or the\n"
            "  --targets listed) priced exactly with its rivals' prices fixed; prints what\n"
            "  `prillm price MARKET --all` prints (JSON, --csv or --table).\n"
            "scenarios: the market as given (\"base\"), each what-if of --whatif FILE and N\n"
            "  random perturbations: the apps' equilibrium in each (every model's price,\n"
            "  flow and profit, and the apps' flows), and with --target ID that provider's\n"
            "  exact optimal price in each scenario. JSON, or --csv (one row per scenario\n"
            "  and model, no app flows).\n"
            "training-data: the aggregation network's training scenarios (perturbed markets\n"
            "  and the target's exact profit curve in each), built and solved one per task,\n"
            "  written to --out FILE (- for stdout) as the data file prillm train-aggregator\n"
            "  --data FILE trains on: the same bytes as prillm train-aggregator --save-data\n"
            "  (docs/aggregator.md). --target ID: one target (default: each scenario draws\n"
            "  one); --seed S: the scenarios' seed.\n"
            "\n"
            "Options:\n"
            "  --all | --paid | --targets ID,ID,...\n      providers: which providers (default --all)\n"
            "  --whatif FILE\n      scenarios: a JSON file of what-ifs (docs/sweep.md)\n"
            "  --perturb N\n      scenarios: N random perturbations of the market (default 0)\n"
            "  --seed S, --demand-sd X, --price-sd X, --capacity-sd X\n"
            "      the perturbations: each demand, price and capacity times exp(X z), z standard\n"
            "      normal from a stream of (S, scenario); defaults 1, 0.1, 0.1, 0.1\n"
            "  --target ID\n      scenarios: also price this provider exactly in each scenario\n"
            "  --no-flows\n      scenarios: leave the apps' flows out (provider totals only)\n"
            "  --top K\n      scenarios: for each app only its K largest flows (provider, flow)\n"
            "  --no-timing\n      providers: \"seconds\": null, so that two runs compare byte for byte\n"
            "  --schedule dynamic|static\n"
            "      dynamic (default): the next task to whichever rank is free; static: task k\n"
            "      on rank k mod R\n"
            "  --out FILE\n      write to FILE instead of standard output (training-data: required)\n"
            "  --csv | --table | --json\n      output format (JSON default; --table: providers only)\n"
            "Pricing options (providers, and scenarios with --target):\n");
    prillm_cli_print_options(out, opts, count);
    fprintf(out, "Scenario options (training-data; --seed above is their seed):\n");
    int n_scenario;
    const PrillmOptionInfo *scenario_opts = prillm_scenario_options(&n_scenario);
    for (int q = 0; q < n_scenario; q++)
        if (strcmp(scenario_opts[q].name, "seed") != 0) prillm_cli_print_options(out, scenario_opts + q, 1);
    prillm_cli_print_verbosity_help(out, "0 none, 1 (default) the ranks' share of the work at the end");
    fprintf(out, "  --version\n      the version, and whether built with MPI\n"
                 "  -h, --help\n      this text\n\n%s",
            prillm_cli_exit_code_help);
}

static int price_options_given, scenario_options_given;

static PrillmErrorCode set_price_option(void *settings, const char *name, const char *value, PrillmError *err) {
    price_options_given = 1;
    return prillm_price_set_option(settings, name, value, err);
}

static PrillmErrorCode set_scenario_option(void *settings, const char *name, const char *value, PrillmError *err) {
    scenario_options_given = 1;
    return prillm_scenario_set_option(settings, name, value, err);
}

/* ---- the tasks ------------------------------------------------------------ */

static void put_price(SweepBuffer *b, PrillmErrorCode rc, PrillmPriceResult *r, const PrillmError *err) {
    /* the curve stays behind: the rows need only the numbers */
    PrillmPriceResult flat = *r;
    flat.n_segments = flat.n_breakpoints = 0;
    flat.segments = NULL;
    flat.breakpoints = NULL;
    PrillmError e = *err;
    if (rc == PRILLM_OK) e.code = PRILLM_OK;
    sweep_put(b, &flat, sizeof flat);
    sweep_put(b, &e, sizeof e);
}

static void get_price(SweepReader *r, PrillmPriceResult *res, PrillmError *err) {
    sweep_get(r, res, sizeof *res);
    sweep_get(r, err, sizeof *err);
    res->segments = NULL;
    res->breakpoints = NULL;
    res->n_segments = res->n_breakpoints = 0;
}

/* One target priced through the public API, as prillm price --all does. */
static void price_one(const PrillmMarket *mk, int target, const PrillmPriceSettings *settings, SweepBuffer *b) {
    PrillmPriceResult res;
    PrillmError perr = {PRILLM_OK, ""}, err = {PRILLM_OK, ""};
    memset(&res, 0, sizeof res);
    PrillmErrorCode rc = prillm_price_all(mk, settings, &target, 1, 1, &res, &perr, &err);
    if (rc) perr = err;
    put_price(b, rc ? rc : perr.code, &res, &perr);
    if (rc == PRILLM_OK && perr.code == PRILLM_OK) prillm_price_result_clear(&res);
}

static int n_scenarios(const Sweep *s) { return 1 + s->whatifs.n + s->n_perturb; }

static void scenario_id(const Sweep *s, int k, char *buf, size_t size) {
    if (k == 0) snprintf(buf, size, "base");
    else if (k <= s->whatifs.n) snprintf(buf, size, "%s", s->whatifs.items[k - 1].id);
    else snprintf(buf, size, "perturbed-%d", k - s->whatifs.n);
}

static PrillmErrorCode build_scenario(const Sweep *s, int k, PrillmMarket **mk, PrillmError *err) {
    if (k == 0) return (*mk = prillm_market_copy(s->market, err)) ? PRILLM_OK : err->code;
    if (k <= s->whatifs.n) return sweep_apply_whatif(s->market, &s->whatifs.items[k - 1], mk, err);
    return sweep_perturb(s->market, &s->perturb, k - s->whatifs.n, mk, err);
}

/* A scenario's payload: built (error or not), the equilibrium's status,
 * KKT violation, prices, provider flows, profits, the app flows (all, none
 * or the top K of each app) and the target's pricing. */
static void solve_scenario(const Sweep *s, int k, SweepBuffer *b) {
    PrillmError err = {PRILLM_OK, ""};
    PrillmMarket *mk = NULL;
    PrillmErrorCode rc = build_scenario(s, k, &mk, &err);
    PrillmEquilibriumSolver *solver = NULL;
    if (!rc) rc = prillm_equilibrium_setup(&solver, mk, NULL, &err);
    if (!rc) rc = prillm_equilibrium_solve(solver, &err);
    if (rc) err.code = rc;
    sweep_put(b, &err, sizeof err);
    if (rc) {
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
        return;
    }
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    int n = mk->n_users, m = mk->n_providers;
    sweep_put_int(b, eq->info.status);
    sweep_put_double(b, eq->info.kkt_violation);
    sweep_put(b, mk->price, (size_t)m * sizeof(double));
    sweep_put(b, eq->provider_flow, (size_t)m * sizeof(double));
    for (int j = 0; j < m; j++) {
        double cost = isnan(mk->cost[j]) ? 0 : mk->cost[j];
        sweep_put_double(b, (mk->price[j] - cost) * eq->provider_flow[j]);
    }
    if (s->flows == PRILLM_FLOWS_ALL) {
        sweep_put(b, eq->flows, (size_t)n * (size_t)m * sizeof(double));
    } else if (s->flows == PRILLM_FLOWS_TOP) {
        int k = s->top < m ? s->top : m > 0 ? m : 1;
        int *best = malloc((size_t)k * sizeof *best);
        if (!best) b->failed = 1;
        for (int i = 0; best && i < n; i++) {
            /* the library's selection, as prillm equilibrium --top K */
            const double *row = eq->flows + (size_t)i * (size_t)m;
            int c = prillm_flows_top(row, m, k, best);
            sweep_put_int(b, c);
            for (int q = 0; q < c; q++) {
                sweep_put_int(b, best[q]);
                sweep_put_double(b, row[best[q]]);
            }
        }
        free(best);
    }
    prillm_equilibrium_cleanup(solver);
    if (s->target >= 0) price_one(mk, s->target, &s->price, b);
    prillm_market_free(mk);
}

static int run_task(void *context, int k, SweepBuffer *out) {
    const Sweep *s = context;
    if (s->mode == MODE_TRAINING) return sweep_training_task(s->market, s->target, &s->training, k, out);
    if (s->mode == MODE_PROVIDERS) price_one(s->market, s->targets[k], &s->price, out);
    else solve_scenario(s, k, out);
    return out->failed ? -1 : 0;
}

/* ---- printing (rank 0) ----------------------------------------------------- */

static int print_providers(FILE *out, const Sweep *s, SweepBuffer *results, int format, int timing) {
    int n = s->n_targets;
    PrillmPriceResult *res = calloc((size_t)(n > 0 ? n : 1), sizeof *res);
    PrillmError *errors = calloc((size_t)(n > 0 ? n : 1), sizeof *errors);
    if (!res || !errors) {
        free(res);
        free(errors);
        fprintf(stderr, "prillm-sweep: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    for (int k = 0; k < n; k++) {
        SweepReader r = {results[k].data, results[k].length, 0, 0};
        get_price(&r, &res[k], &errors[k]);
        if (r.bad) {
            errors[k].code = PRILLM_ERR_IO;
            snprintf(errors[k].message, sizeof errors[k].message, "a result was lost in transit");
        }
    }
    int code = prillm_cli_price_rows_print(out, s->market, s->targets, n, res, errors, format, timing);
    free(res);
    free(errors);
    return code;
}

/* A scenario's target counted: an error (the first one kept) or a status
 * short of solved. */
static void count_target(const PrillmPriceResult *r, const PrillmError *e, int *failed, int *not_solved,
                         PrillmError *first) {
    if (e->code != PRILLM_OK) {
        if (!*failed) *first = *e;
        ++*failed;
    } else if (r->status != PRILLM_STATUS_SOLVED) {
        ++*not_solved;
    }
}

static void print_target_json(FILE *out, const PrillmPriceResult *r, const PrillmError *e) {
    fputs("{\"status\": ", out);
    if (e->code != PRILLM_OK) {
        fputs("\"error\", \"error\": ", out);
        prillm__json_string(out, e->message);
        fputc('}', out);
        return;
    }
    fprintf(out, "\"%s\"", prillm_status_name(r->status));
    const struct {
        const char *name;
        double value;
    } f[] = {{"current_price", r->current_price}, {"price", r->price},   {"current_profit", r->current_profit},
             {"profit", r->profit},               {"flow", r->flow},     {"uplift_relative", r->uplift_relative}};
    for (size_t q = 0; q < sizeof f / sizeof f[0]; q++) {
        fprintf(out, ", \"%s\": ", f[q].name);
        prillm__json_number(out, f[q].value);
    }
    fputc('}', out);
}

static int print_scenarios(FILE *out, const Sweep *s, SweepBuffer *results, int format) {
    const PrillmMarket *base = s->market;
    int n = base->n_users, m = base->n_providers, count = n_scenarios(s);
    int solved = 0, failed = 0;
    /* --target: scenarios whose target could not be priced, or was priced
     * short of solved (the first error kept for the message) */
    int target_failed = 0, target_not_solved = 0;
    PrillmError first_target_err = {PRILLM_OK, ""};
    double *price = malloc((size_t)m * sizeof *price), *flow = malloc((size_t)m * sizeof *flow),
           *profit = malloc((size_t)m * sizeof *profit);
    double *flows = s->flows == PRILLM_FLOWS_ALL ? malloc((size_t)n * (size_t)m * sizeof *flows) : NULL;
    /* one app's top K, as sent */
    int top_k = s->top < m ? s->top : m > 0 ? m : 1;
    int *top_best = s->flows == PRILLM_FLOWS_TOP ? malloc((size_t)top_k * sizeof *top_best) : NULL;
    double *top_flow = s->flows == PRILLM_FLOWS_TOP ? malloc((size_t)top_k * sizeof *top_flow) : NULL;
    if (!price || !flow || !profit || (s->flows == PRILLM_FLOWS_ALL && !flows) ||
        (s->flows == PRILLM_FLOWS_TOP && (!top_best || !top_flow))) {
        free(price);
        free(flow);
        free(profit);
        free(flows);
        free(top_best);
        free(top_flow);
        fprintf(stderr, "prillm-sweep: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    if (format == 1) {
        fputs("scenario,status,provider,price,flow,profit", out);
        if (s->target >= 0) fputs(",target_status,target_price,target_profit", out);
        fputc('\n', out);
    } else {
        fputs("{\n  \"providers\": ", out);
        prillm_cli_print_strings(out, base->provider_id, m);
        if (s->flows != PRILLM_FLOWS_NONE) {
            fputs(",\n  \"users\": ", out);
            prillm_cli_print_strings(out, base->user_id, n);
        }
        if (s->target >= 0) {
            fputs(",\n  \"target\": ", out);
            prillm__json_string(out, base->provider_id[s->target]);
        }
        fputs(",\n  \"scenarios\": [", out);
    }
    for (int k = 0; k < count; k++) {
        char id[300];
        scenario_id(s, k, id, sizeof id);
        SweepReader r = {results[k].data, results[k].length, 0, 0};
        PrillmError err;
        sweep_get(&r, &err, sizeof err);
        int status = PRILLM_STATUS_FAILED;
        double kkt = NAN;
        PrillmPriceResult target;
        PrillmError target_err = {PRILLM_OK, ""};
        memset(&target, 0, sizeof target);
        if (!r.bad && err.code == PRILLM_OK) {
            status = sweep_get_int(&r);
            kkt = sweep_get_double(&r);
            sweep_get(&r, price, (size_t)m * sizeof *price);
            sweep_get(&r, flow, (size_t)m * sizeof *flow);
            sweep_get(&r, profit, (size_t)m * sizeof *profit);
        }
        if (r.bad) {
            err.code = PRILLM_ERR_IO;
            snprintf(err.message, sizeof err.message, "a result was lost in transit");
        }
        int ok = err.code == PRILLM_OK;
        if (!ok) failed++;
        else solved += status == PRILLM_STATUS_SOLVED;
        if (format == 1) {
            /* no app flows in CSV (s->flows is PRILLM_FLOWS_NONE) */
            if (ok && s->target >= 0) {
                get_price(&r, &target, &target_err);
                count_target(&target, &target_err, &target_failed, &target_not_solved, &first_target_err);
            }
            for (int j = 0; j < m; j++) {
                prillm__csv_field(out, id);
                fprintf(out, ",%s,", ok ? prillm_status_name((PrillmStatus)status) : "error");
                prillm__csv_field(out, base->provider_id[j]);
                const double row[] = {ok ? price[j] : NAN, ok ? flow[j] : NAN, ok ? profit[j] : NAN};
                for (int q = 0; q < 3; q++) {
                    fputc(',', out);
                    prillm__json_number(out, row[q]);
                }
                if (s->target >= 0) {
                    int t_ok = ok && target_err.code == PRILLM_OK;
                    fprintf(out, ",%s,", t_ok ? prillm_status_name(target.status) : "error");
                    if (t_ok) prillm__json_number(out, target.price);
                    fputc(',', out);
                    if (t_ok) prillm__json_number(out, target.profit);
                }
                fputc('\n', out);
            }
            continue;
        }
        fputs(k ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, id);
        if (!ok) {
            fputs(", \"status\": \"error\", \"error\": ", out);
            prillm__json_string(out, err.message);
            fputc('}', out);
            continue;
        }
        fprintf(out, ", \"status\": \"%s\", \"kkt_violation\": ", prillm_status_name((PrillmStatus)status));
        prillm__json_number(out, kkt);
        fputs(",\n     \"price\": ", out);
        prillm_cli_print_numbers(out, price, m);
        fputs(",\n     \"provider_flow\": ", out);
        prillm_cli_print_numbers(out, flow, m);
        fputs(",\n     \"profit\": ", out);
        prillm_cli_print_numbers(out, profit, m);
        if (s->flows == PRILLM_FLOWS_ALL) {
            sweep_get(&r, flows, (size_t)n * (size_t)m * sizeof *flows);
            fputs(",\n     \"flows\": [", out);
            for (int i = 0; i < n; i++) {
                fputs(i ? ",\n       " : "\n       ", out);
                prillm_cli_print_numbers(out, flows + (size_t)i * (size_t)m, m);
            }
            fputs("]", out);
        } else if (s->flows == PRILLM_FLOWS_TOP) {
            fputs(",\n     \"top_flows\": [", out);
            for (int i = 0; i < n && !r.bad; i++) {
                int c = sweep_get_int(&r);
                if (c < 0 || c > top_k) {
                    r.bad = 1;
                    break;
                }
                for (int q = 0; q < c && !r.bad; q++) {
                    top_best[q] = sweep_get_int(&r);
                    top_flow[q] = sweep_get_double(&r);
                    if (top_best[q] < 0 || top_best[q] >= m) r.bad = 1;
                }
                if (r.bad) break;
                fputs(i ? ",\n       " : "\n       ", out);
                prillm__json_top_flows_row(out, base->provider_id, top_best, top_flow, c);
            }
            fputs("]", out);
        }
        if (s->target >= 0) {
            get_price(&r, &target, &target_err);
            count_target(&target, &target_err, &target_failed, &target_not_solved, &first_target_err);
            fputs(",\n     \"target\": ", out);
            print_target_json(out, &target, &target_err);
        }
        fputc('}', out);
        if (r.bad) {
            fprintf(stderr, "prillm-sweep: error: scenario %s: a result was lost in transit\n", id);
            failed++;
        }
    }
    if (format != 1) {
        fprintf(out, "\n  ],\n  \"solved\": %d, \"not_solved\": %d, \"errors\": %d", solved, count - solved - failed,
                failed);
        if (s->target >= 0)
            fprintf(out, ",\n  \"target_not_solved\": %d, \"target_errors\": %d", target_not_solved, target_failed);
        fputs("\n}\n", out);
    }
    if (target_failed)
        fprintf(stderr, "prillm-sweep: error: the target could not be priced in %d of %d scenarios (the first: %s)\n",
                target_failed, count, first_target_err.message);
    free(price);
    free(flow);
    free(profit);
    free(flows);
    free(top_best);
    free(top_flow);
    return failed || target_failed ? EXIT_FAILED
           : solved < count || target_not_solved ? EXIT_INACCURATE
                                                 : EXIT_SOLVED;
}

/* ---- the market, from rank 0 to every rank ------------------------------- */

/* Rank 0 reads path (either form) and sends it in the binary form; the
 * first byte is rank 0's exit code, so that a market rank 0 could not read
 * stops every rank. Returns an exit code. */
static int share_market(const char *path, PrillmMarket **market) {
    unsigned char *data = NULL;
    size_t length = 0;
    int code = 0;
    if (sweep_rank() == 0) {
        code = prillm_cli_load_market(path, market);
        char *bytes = NULL;
        size_t size = 0;
        FILE *mem = code ? NULL : open_memstream(&bytes, &size);
        if (!code && !mem) code = EXIT_INTERNAL;
        if (mem) {
            PrillmError err = {PRILLM_OK, ""};
            if (prillm_market_write_binary(*market, mem, &err)) code = EXIT_INTERNAL;
            if (fclose(mem)) code = EXIT_INTERNAL;
        }
        length = 1 + (code ? 0 : size);
        data = malloc(length);
        if (!data) {
            fprintf(stderr, "prillm-sweep: error: out of memory\n");
            sweep_abort(EXIT_INTERNAL);
        }
        data[0] = (unsigned char)code;
        if (!code) memcpy(data + 1, bytes, size);
        free(bytes);
    }
    sweep_broadcast(&data, &length);
    if (sweep_rank() != 0) {
        code = length >= 1 ? data[0] : EXIT_INTERNAL;
        if (!code) {
            PrillmError err = {PRILLM_OK, ""};
            if (prillm_market_parse_binary(data + 1, length - 1, market, &err)) {
                fprintf(stderr, "prillm-sweep: error: rank %d: the market from rank 0: %s\n", sweep_rank(),
                        err.message);
                sweep_abort(EXIT_INTERNAL);
            }
        }
    }
    free(data);
    return code;
}

/* The what-if file's text, read on rank 0 and sent to every rank (NULL
 * path: none). Returns an exit code. */
static int share_text(const char *path, char **text, size_t *length) {
    *text = NULL;
    *length = 0;
    if (!path) return 0;
    unsigned char *data = NULL;
    size_t n = 0;
    int code = 0;
    if (sweep_rank() == 0) {
        FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0;
        if (!in) {
            fprintf(stderr, "prillm-sweep: error: cannot open %s\n", path);
            code = EXIT_BAD_INPUT;
        } else {
            PrillmError err = {PRILLM_OK, ""};
            if (prillm__read_stream(in, "the what-if file", &buf, &len, &err)) {
                fprintf(stderr, "prillm-sweep: error: %s: %s\n", path, err.message);
                code = prillm_cli_exit_for_error(err.code);
            }
            if (in != stdin) fclose(in);
        }
        n = 1 + (code ? 0 : len);
        data = malloc(n + 1);
        if (!data) sweep_abort(EXIT_INTERNAL);
        data[0] = (unsigned char)code;
        if (!code) memcpy(data + 1, buf, len);
        free(buf);
    }
    sweep_broadcast(&data, &n);
    code = n >= 1 ? data[0] : EXIT_INTERNAL;
    if (!code) {
        *text = malloc(n);
        if (!*text) sweep_abort(EXIT_INTERNAL);
        memcpy(*text, data + 1, n - 1);
        (*text)[n - 1] = '\0';
        *length = n - 1;
    }
    free(data);
    return code;
}

/* ---- main ---------------------------------------------------------------- */

/* Every rank parses the same arguments; only rank 0 speaks. */
static int parse_targets(const char *list, const PrillmMarket *mk, int **targets, int *n) {
    *targets = malloc((size_t)mk->n_providers * sizeof **targets);
    char *copy = malloc(strlen(list) + 1);
    if (!*targets || !copy) {
        free(copy);
        return EXIT_INTERNAL;
    }
    strcpy(copy, list);
    *n = 0;
    char *save = NULL;
    for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        int j = prillm_market_provider_index(mk, id);
        if (j < 0) {
            if (sweep_rank() == 0) fprintf(stderr, "prillm-sweep: error: --targets: \"%s\" is not a provider\n", id);
            free(copy);
            return EXIT_BAD_INPUT;
        }
        for (int k = 0; k < *n; k++)
            if ((*targets)[k] == j) {
                /* priced twice, printed twice: a slip in the list */
                if (sweep_rank() == 0) fprintf(stderr, "prillm-sweep: error: --targets lists \"%s\" twice\n", id);
                free(copy);
                return EXIT_USAGE;
            }
        if (*n >= mk->n_providers) break;
        (*targets)[(*n)++] = j;
    }
    free(copy);
    if (*n == 0) {
        if (sweep_rank() == 0) fprintf(stderr, "prillm-sweep: error: --targets lists no provider\n");
        return EXIT_USAGE;
    }
    return 0;
}

static int finish(int code) {
    code = prillm_cli_finish(code); /* output that could not be written exits 1 */
    sweep_finalize();
    return code;
}

int main(int argc, char **argv) {
    if (sweep_init(&argc, &argv)) return EXIT_USAGE;
    openblas_set_num_threads(1);
    prillm_cli_stop_blas_workers();
    int root = sweep_rank() == 0;
    /* only rank 0 prints warnings, notes and the usage and input errors
     * every rank finds alike (the shared helpers print them): the other
     * ranks' stderr is muted until the work starts */
    int saved_stderr = -1;
    if (!root) {
        prillm_cli_quiet = 1;
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            fflush(stderr);
            saved_stderr = dup(2);
            dup2(devnull, 2);
            close(devnull);
        }
    }
    Sweep s;
    memset(&s, 0, sizeof s);
    s.target = -1;
    s.perturb = (SweepPerturbation){0.1, 0.1, 0.1, 1};
    prillm_price_default_settings(&s.price);
    int count;
    const PrillmOptionInfo *opts = prillm_price_options(&count);
    const char *mode = NULL, *path = NULL, *format_flag = NULL, *targets_list = NULL, *whatif = NULL,
               *target_id = NULL, *out_path = NULL, *schedule_text = NULL, *value = NULL;
    int format = 0, paid = 0, all = 0, timing = 1, no_flows = 0, seed_given = 0, spreads_given = 0;
    long top = 0, perturb = 0, seed = 1, verbose = 1;
    prillm_scenario_default_settings(&s.training);
    price_options_given = scenario_options_given = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            if (root) help(stdout);
            return finish(EXIT_SOLVED);
        }
        if (strcmp(arg, "--version") == 0) {
            if (root) printf("prillm-sweep %s (%s)\n", prillm_version(),
                             sweep_have_mpi() ? "with MPI" : "built without MPI: one process");
            return finish(EXIT_SOLVED);
        }
        if (strcmp(arg, "--csv") == 0 || strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format_flag)) return finish(EXIT_USAGE);
            format = strcmp(arg, "--csv") == 0 ? 1 : strcmp(arg, "--table") == 0 ? 2 : 0;
            continue;
        }
        if (strcmp(arg, "--all") == 0 || strcmp(arg, "--paid") == 0) {
            all |= strcmp(arg, "--all") == 0;
            paid |= strcmp(arg, "--paid") == 0;
            continue;
        }
        if (strcmp(arg, "--no-timing") == 0) {
            timing = 0;
            continue;
        }
        if (strcmp(arg, "--no-flows") == 0) {
            no_flows = 1;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (took < 0) return finish(EXIT_USAGE);
        if (took) continue;
        const char **text_flags[] = {&targets_list, &whatif, &target_id, &out_path, &schedule_text};
        const char *text_names[] = {"--targets", "--whatif", "--target", "--out", "--schedule"};
        for (int q = 0; q < 5 && !took; q++) {
            took = prillm_cli_flag_value(argc, argv, &k, text_names[q], text_flags[q]);
            if (took < 0) return finish(EXIT_USAGE);
        }
        if (took) continue;
        long *numbers[] = {&top, &perturb, &seed};
        const char *number_names[] = {"--top", "--perturb", "--seed"};
        const long number_hi[] = {1000000, 10000000, 2147483647};
        for (int q = 0; q < 3 && !took; q++) {
            took = prillm_cli_flag_value(argc, argv, &k, number_names[q], &value);
            if (took < 0) return finish(EXIT_USAGE);
            if (took && prillm_cli_parse_int(value, number_names[q], q == 0 ? 1 : 0, number_hi[q], numbers[q]))
                return finish(EXIT_USAGE);
            if (took && q == 2) seed_given = 1;
        }
        if (took) continue;
        double *spreads[] = {&s.perturb.demand_sd, &s.perturb.price_sd, &s.perturb.capacity_sd};
        const char *spread_names[] = {"--demand-sd", "--price-sd", "--capacity-sd"};
        for (int q = 0; q < 3 && !took; q++) {
            took = prillm_cli_flag_value(argc, argv, &k, spread_names[q], &value);
            if (took < 0) return finish(EXIT_USAGE);
            if (took && prillm_cli_parse_double(value, spread_names[q], 0, 5, spreads[q])) return finish(EXIT_USAGE);
            spreads_given |= took > 0;
        }
        if (took) continue;
        int n_scenario_opts;
        const PrillmOptionInfo *scenario_opts = prillm_scenario_options(&n_scenario_opts);
        took = prillm_cli_take_option(argc, argv, &k, scenario_opts, n_scenario_opts, set_scenario_option, &s.training);
        if (took < 0) return finish(EXIT_USAGE);
        if (took) continue;
        took = prillm_cli_take_option(argc, argv, &k, opts, count, set_price_option, &s.price);
        if (took < 0) return finish(EXIT_USAGE);
        if (took) continue;
        if (arg[0] == '-' && arg[1] != '\0') {
            if (root) fprintf(stderr, "prillm-sweep: error: unknown option %s (see prillm-sweep --help)\n", arg);
            return finish(EXIT_USAGE);
        }
        if (!mode) mode = arg;
        else if (!path) path = arg;
        else {
            if (root) fprintf(stderr, "prillm-sweep: error: one market file only; \"%s\" is a second\n", arg);
            return finish(EXIT_USAGE);
        }
    }
    /* usage checks: the same on every rank, so every rank stops alike */
    const char *usage = NULL;
    if (!mode || !path) usage = "a mode (providers, scenarios or training-data) and a MARKET are needed";
    else if (strcmp(mode, "providers") == 0) s.mode = MODE_PROVIDERS;
    else if (strcmp(mode, "scenarios") == 0) s.mode = MODE_SCENARIOS;
    else if (strcmp(mode, "training-data") == 0) s.mode = MODE_TRAINING;
    else usage = "the mode is providers, scenarios or training-data";
    if (!usage && s.mode != MODE_TRAINING && scenario_options_given)
        usage = "the scenario options (--scenarios, --prices, ...) are for training-data";
    if (!usage && s.mode == MODE_TRAINING &&
        (whatif || perturb || targets_list || all || paid || no_flows || top || format_flag || !timing ||
         spreads_given || price_options_given))
        usage = "training-data takes MARKET, --out FILE, --target ID, --seed S and the scenario options only";
    if (!usage && s.mode == MODE_TRAINING && !out_path)
        usage = "training-data writes a binary file: give --out FILE (- for standard output)";
    int schedule = SWEEP_DYNAMIC;
    if (!usage && schedule_text) {
        if (strcmp(schedule_text, "static") == 0) schedule = SWEEP_STATIC;
        else if (strcmp(schedule_text, "dynamic") != 0) usage = "--schedule is dynamic or static";
    }
    if (!usage && s.mode == MODE_PROVIDERS &&
        (whatif || perturb || target_id || no_flows || top))
        usage = "providers takes no --whatif, --perturb, --target, --no-flows or --top (those are for scenarios)";
    if (!usage && s.mode == MODE_PROVIDERS && (all + paid + (targets_list != NULL)) > 1)
        usage = "--all, --paid and --targets are alternatives";
    if (!usage && s.mode == MODE_SCENARIOS && (all || paid || targets_list || format == 2 || !timing))
        usage = "scenarios takes no --all, --paid, --targets, --table or --no-timing";
    if (!usage && no_flows && top) usage = "--no-flows and --top are alternatives";
    if (!usage && format == 1 && top) usage = "--csv prints no app flows: --top is for JSON";
    if (!usage && s.price.method == PRILLM_PRICE_DA) usage = "--method da needs a model: use prillm price";
    /* Debian's Ipopt runs the sequential MUMPS, whose stub MPI functions
     * clash with the real ones in an MPI process */
    if (!usage && s.price.method == PRILLM_PRICE_PMPEC && sweep_have_mpi())
        usage = "--method pmpec (Ipopt with the sequential MUMPS) cannot run in an MPI process: use prillm price --all";
    if (usage) {
        if (root) fprintf(stderr, "prillm-sweep: error: %s (see prillm-sweep --help)\n", usage);
        return finish(EXIT_USAGE);
    }
    /* CSV prints no app flows: the ranks need not send them */
    s.flows = no_flows || format == 1 ? PRILLM_FLOWS_NONE : top ? PRILLM_FLOWS_TOP : PRILLM_FLOWS_ALL;
    s.top = (int)top;
    s.n_perturb = (int)perturb;
    s.perturb.seed = (unsigned long long)seed;
    if (seed_given) s.training.seed = (int)seed;
    s.price.verbose = 0;
    if (!root) verbose = 0;
    if (verbose == 0) prillm_cli_quiet = 1;

    PrillmMarket *market = NULL;
    int code = share_market(path, &market);
    if (code) return finish(code);
    s.market = market;
    char *whatif_text = NULL;
    size_t whatif_length = 0;
    if ((code = share_text(whatif, &whatif_text, &whatif_length))) {
        prillm_market_free(market);
        return finish(code);
    }
    if (whatif_text) {
        PrillmError err = {PRILLM_OK, ""};
        if (sweep_whatifs_parse(whatif_text, whatif_length, market, &s.whatifs, &err)) {
            if (root) fprintf(stderr, "prillm-sweep: error: %s: %s\n", whatif, err.message);
            free(whatif_text);
            prillm_market_free(market);
            return finish(prillm_cli_exit_for_error(err.code));
        }
        free(whatif_text);
    }
    /* --perturb N names its scenarios perturbed-1 .. perturbed-N: a what-if
     * of one of those names would give two scenarios one id */
    for (int k = 0; k < s.whatifs.n && !code; k++) {
        char *rest = NULL;
        const char *id = s.whatifs.items[k].id;
        long number = strncmp(id, "perturbed-", 10) == 0 && id[10] >= '1' && id[10] <= '9' ? strtol(id + 10, &rest, 10) : 0;
        if (number >= 1 && number <= s.n_perturb && rest && !*rest) {
            if (root)
                fprintf(stderr, "prillm-sweep: error: %s: scenarios[%d].id \"%s\" is also the id of a --perturb scenario\n",
                        whatif, k, id);
            code = EXIT_BAD_INPUT;
        }
    }
    if (target_id && (s.target = prillm_market_provider_index(market, target_id)) < 0) {
        if (root) fprintf(stderr, "prillm-sweep: error: --target: \"%s\" is not a provider of %s\n", target_id, path);
        code = EXIT_BAD_INPUT;
    }
    if (!code && s.mode == MODE_PROVIDERS) {
        if (targets_list) {
            code = parse_targets(targets_list, market, &s.targets, &s.n_targets);
        } else {
            s.targets = malloc((size_t)market->n_providers * sizeof *s.targets);
            if (!s.targets) code = EXIT_INTERNAL;
            for (int j = 0; !code && j < market->n_providers; j++)
                if (!paid || market->price[j] > 0) s.targets[s.n_targets++] = j;
        }
    }
    if (code) {
        free(s.targets);
        sweep_whatifs_free(&s.whatifs);
        prillm_market_free(market);
        return finish(code);
    }
    int n_tasks = s.mode == MODE_PROVIDERS ? s.n_targets : s.mode == MODE_TRAINING ? s.training.scenarios
                                                                                    : n_scenarios(&s);
    if (saved_stderr >= 0) {
        fflush(stderr);
        dup2(saved_stderr, 2);
        close(saved_stderr);
    }

    SweepBuffer *results = NULL;
    SweepStats stats;
    sweep_run(n_tasks, schedule, run_task, &s, &results, &stats);
    if (root) {
        FILE *out = out_path ? prillm_cli_open_output(out_path, "--out") : stdout;
        if (!out) {
            code = EXIT_BAD_INPUT;
        } else {
            if (s.mode == MODE_TRAINING) {
                char description[1024];
                prillm_cli_scenario_description(description, sizeof description, path, target_id, &s.training);
                code = sweep_training_write(out, results, n_tasks, description);
            } else {
                code = s.mode == MODE_PROVIDERS ? print_providers(out, &s, results, format, timing)
                                                : print_scenarios(out, &s, results, format);
            }
            if (prillm_cli_close_output(out, out_path ? out_path : "-")) code = EXIT_INTERNAL;
        }
        prillm_cli_note("sweep: %d %s on %d rank%s (%s) in %.3f s wall", n_tasks,
                        s.mode == MODE_PROVIDERS ? "targets" : "scenarios", stats.ranks, stats.ranks > 1 ? "s" : "",
                        schedule == SWEEP_STATIC ? "static" : "dynamic", stats.wall_seconds);
        for (int r = 0; r < stats.ranks; r++)
            prillm_cli_note("  rank %d: %d tasks, %.3f s in tasks", r, stats.tasks_per_rank[r], stats.busy_per_rank[r]);
        for (int k = 0; k < n_tasks; k++) free(results[k].data);
        free(results);
        sweep_stats_free(&stats);
    }
    free(s.targets);
    sweep_whatifs_free(&s.whatifs);
    prillm_market_free(market);
    return finish(code);
}
