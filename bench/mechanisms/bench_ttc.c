/*
 * Test-time compute benchmark: the pay-per-compute market against the
 * reverse second-price auction on the shipped curves (the JSON files in data/ttc), at
 * beta = 200, 1e3 and 1e5, in the layout of the reference notebooks' table
 * (docs/ttc.md). Per query, in USD: the users' net value and spend, social
 * welfare at the market's Nash equilibrium and at its optimum, the price of
 * anarchy, and the auction's user value (= runner-up score), payment and
 * welfare (= winner score). "spend cut" is 1 - payment / market spend,
 * "value gain" auction user value / market user value - 1.
 *
 * The curves are synthetic (the measured ones are not reachable from here):
 * `bench_ttc --write-data DIR` regenerates them from the seeded generator
 * below, whose every number is explained where it is set.
 *
 * Usage: bench_ttc [--quick] [--data DIR] [--write-data DIR]
 * Run from the source tree (DIR defaults to data/ttc).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "prillm/ttc.h"
#include "random.h"

/* ---- synthetic curves ---------------------------------------------------- */

typedef struct {
    const char *id;
    double price_per_million; /* the reference code's MODEL_PRICES_PER_1M (MIT) */
    double strength;          /* my assumption: a rank by size and generation */
} Model;

/* The nine instruct models of the reference experiments with the
 * reference code's list prices; strength is my ordering in [0, 1] (bigger
 * and newer is stronger), not a measured number. */
static const Model instruct[] = {
    {"Llama-3-8B-Instruct", 0.1455, 0.60},   {"Llama-3.1-8B-Instruct", 0.1245, 0.70},
    {"Llama-3.2-1B-Instruct", 0.10, 0.20},   {"Llama-3.2-3B-Instruct", 0.08, 0.55},
    {"Qwen2-0.5B-Instruct", 0.10, 0.10},     {"Qwen2-1.5B-Instruct", 0.10, 0.35},
    {"Qwen2-7B-Instruct", 0.20, 0.70},       {"Qwen2.5-3B-Instruct", 0.065, 0.65},
    {"Qwen2.5-7B-Instruct", 0.1465, 0.90},
};
static const Model reasoning[] = {
    {"DeepSeek-R1-Distill-Llama-8B", 0.125, 0.70},
    {"DeepSeek-R1-Distill-Qwen-1.5B", 0.10, 0.40},
    {"DeepSeek-R1-Distill-Qwen-7B", 0.175, 0.85},
};

/* Majority voting over theta samples: a(theta) = a_max - (a_max - a_1)
 * theta^-kappa, tokens(theta) = theta tau_1 (mechanisms.md section 1.7).
 * a_1 = floor + spread * strength + jitter; a_max closes a random fraction
 * `gain` of the gap to `ceiling`; kappa in [0.4, 1.2]; tau_1 in the range
 * given (the reference caps a sample at 512 tokens). */
typedef struct {
    const char *file, *description;
    double value_scale; /* alpha per benchmark, from the reference notebooks */
    double floor, spread, ceiling, tau_lo, tau_hi;
    unsigned long long seed;
} MajoritySpec;

static const MajoritySpec majority_specs[] = {
    {"gsm8k_majority.json", "GSM8K / majority voting", 0.008, 0.25, 0.65, 0.97, 180, 320, 11},
    {"aime_majority.json", "AIME / majority voting", 0.05, 0.005, 0.08, 0.20, 380, 512, 12},
    {"gpqa_majority.json", "GPQA / majority voting", 0.02, 0.22, 0.15, 0.50, 300, 480, 13},
};

static const double thetas[] = {1, 4, 8, 16, 32, 64};

static PrillmTtcMarket *new_market(int n, int levels, double scale, const char *description) {
    int counts[PRILLM_TTC_MAX_MODELS];
    for (int i = 0; i < n; i++) counts[i] = levels;
    PrillmError err;
    PrillmTtcMarket *mk = prillm_ttc_market_alloc(n, counts, &err);
    if (!mk || !(mk->description = prillm__strdup(description))) {
        fprintf(stderr, "bench_ttc: out of memory\n");
        exit(1);
    }
    /* the reference experiments' parameters */
    mk->value_scale = scale;
    mk->value_baseline = 0.1;
    mk->margin = 0.25;
    mk->beta = 200;
    mk->outside_value = 0;
    return mk;
}

static void set_model(PrillmTtcMarket *mk, int i, const Model *m) {
    if (!(mk->model_id[i] = prillm__strdup(m->id))) exit(1);
    mk->list_price[i] = m->price_per_million;
}

static PrillmTtcMarket *majority_market(const MajoritySpec *s) {
    char description[1024];
    snprintf(description, sizeof description,
             "%s, SYNTHETIC curves written by bench_ttc --write-data (seed %llu): list prices are the reference "
             "code's MODEL_PRICES_PER_1M; value scale, baseline 0.1 and margin 0.25 are the reference notebooks'; "
             "accuracy a(theta) = a_max - (a_max - a_1) theta^-kappa and tokens = theta tau_1 with a_1 = %g + %g "
             "strength + U(-0.03, 0.03), a_max = a_1 + U(0.3, 0.7) (%g - a_1), kappa = U(0.4, 1.2), tau_1 = "
             "U(%g, %g); strength is an assumed rank by model size, not a measurement",
             s->description, s->seed, s->floor, s->spread, s->ceiling, s->tau_lo, s->tau_hi);
    int n = (int)(sizeof instruct / sizeof instruct[0]), levels = (int)(sizeof thetas / sizeof thetas[0]);
    PrillmTtcMarket *mk = new_market(n, levels, s->value_scale, description);
    PrillmRng rng = {s->seed};
    for (int i = 0; i < n; i++) {
        set_model(mk, i, &instruct[i]);
        double a1 = s->floor + s->spread * instruct[i].strength + 0.06 * (prillm__rng_uniform(&rng) - 0.5);
        if (a1 < 0.001) a1 = 0.001;
        double top = a1 + (0.3 + 0.4 * prillm__rng_uniform(&rng)) * (s->ceiling - a1);
        double kappa = 0.4 + 0.8 * prillm__rng_uniform(&rng);
        double tau1 = s->tau_lo + (s->tau_hi - s->tau_lo) * prillm__rng_uniform(&rng);
        for (int k = 0; k < levels; k++) {
            int at = mk->level_offset[i] + k;
            mk->level_label[at] = thetas[k];
            /* 4 significant digits: what a measured table would carry */
            mk->accuracy[at] = round(1e4 * (top - (top - a1) * pow(thetas[k], -kappa))) / 1e4;
            mk->tokens[at] = round(thetas[k] * tau1);
        }
    }
    return mk;
}

/* Reasoning effort: 5 bins of thinking length. Tokens grow linearly from
 * tau_lo to tau_hi (the reference drops samples of >= 2048 tokens); accuracy
 * rises concavely, a(b) = a_lo + (a_hi - a_lo)(1 - (1 - b/5)^2). */
static PrillmTtcMarket *reasoning_market(void) {
    const char *description =
        "GSM8K / reasoning effort, SYNTHETIC curves written by bench_ttc --write-data (seed 21): list prices are the "
        "reference code's; value scale 0.008, baseline 0.1, margin 0.25 the notebooks'; 5 effort bins b = 1..5 with "
        "tokens = tau_lo + (tau_hi - tau_lo)(b - 1)/4, tau_lo = U(250, 350), tau_hi = U(1500, 1900), and accuracy "
        "a_lo + (a_hi - a_lo)(1 - (1 - b/5)^2), a_hi = 0.75 + 0.2 strength + U(-0.02, 0.02), a_lo = a_hi - U(0.1, 0.25)";
    int n = (int)(sizeof reasoning / sizeof reasoning[0]), levels = 5;
    PrillmTtcMarket *mk = new_market(n, levels, 0.008, description);
    PrillmRng rng = {21};
    for (int i = 0; i < n; i++) {
        set_model(mk, i, &reasoning[i]);
        double tau_lo = 250 + 100 * prillm__rng_uniform(&rng), tau_hi = 1500 + 400 * prillm__rng_uniform(&rng);
        double a_hi = 0.75 + 0.2 * reasoning[i].strength + 0.04 * (prillm__rng_uniform(&rng) - 0.5);
        double a_lo = a_hi - (0.1 + 0.15 * prillm__rng_uniform(&rng));
        for (int b = 1; b <= levels; b++) {
            int at = mk->level_offset[i] + b - 1;
            double x = 1.0 - b / 5.0;
            mk->level_label[at] = b;
            mk->accuracy[at] = round(1e4 * (a_lo + (a_hi - a_lo) * (1 - x * x))) / 1e4;
            mk->tokens[at] = round(tau_lo + (tau_hi - tau_lo) * (b - 1) / 4.0);
        }
    }
    return mk;
}

static void write_market(const char *dir, const char *file, PrillmTtcMarket *mk) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    PrillmError err;
    if (prillm_ttc_market_validate(mk, &err)) {
        fprintf(stderr, "bench_ttc: %s: %s\n", file, err.message);
        exit(1);
    }
    FILE *out = fopen(path, "w");
    if (!out || prillm_ttc_market_write_json(mk, out, &err) || fclose(out)) {
        fprintf(stderr, "bench_ttc: cannot write %s\n", path);
        exit(1);
    }
    fprintf(stderr, "wrote %s\n", path);
    prillm_ttc_market_free(mk);
}

static void write_data(const char *dir) {
    for (size_t s = 0; s < sizeof majority_specs / sizeof majority_specs[0]; s++)
        write_market(dir, majority_specs[s].file, majority_market(&majority_specs[s]));
    write_market(dir, "gsm8k_reasoning.json", reasoning_market());
}

/* ---- the comparison ------------------------------------------------------ */

static const char *const bench_files[] = {"gsm8k_majority.json", "aime_majority.json", "gpqa_majority.json",
                                          "gsm8k_reasoning.json"};
static const char *const bench_names[] = {"GSM8K / majority", "AIME / majority", "GPQA / majority",
                                          "GSM8K / reasoning"};

static PrillmTtcMarket *load(const char *dir, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *in = fopen(path, "rb");
    PrillmError err;
    PrillmTtcMarket *mk = NULL;
    if (!in) {
        fprintf(stderr, "bench_ttc: cannot open %s (run from the source tree or pass --data DIR)\n", path);
        exit(1);
    }
    if (prillm_ttc_market_read_json(in, NULL, NULL, &mk, &err)) {
        fprintf(stderr, "bench_ttc: %s: %s\n", path, err.message);
        exit(1);
    }
    fclose(in);
    return mk;
}

static const char *short_name(const char *id) {
    /* "DeepSeek-R1-Distill-Qwen-7B" -> "R1-D-Qwen-7B", "-Instruct" dropped */
    static char buf[4][64];
    static int slot;
    char *out = buf[slot++ % 4];
    const char *from = strncmp(id, "DeepSeek-R1-Distill-", 20) == 0 ? id + 20 : id;
    snprintf(out, 64, "%s%s", from == id ? "" : "R1-D-", from);
    char *suffix = strstr(out, "-Instruct");
    if (suffix) *suffix = '\0';
    return out;
}

/* Price of anarchy against beta (the reference sweeps logspace(0, 6, 100);
 * a point per decade shows the same shape). */
static void sweep(const char *dir) {
    const double grid[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    const int count = (int)(sizeof grid / sizeof grid[0]);
    printf("\nPrice of anarchy against beta:\n\n| benchmark / TTC |");
    for (int b = 0; b < count; b++) printf(" %g |", grid[b]);
    printf("\n| --- |");
    for (int b = 0; b < count; b++) printf(" ---: |");
    printf("\n");
    for (int f = 0; f < 4; f++) {
        PrillmTtcMarket *mk = load(dir, bench_files[f]);
        printf("| %s |", bench_names[f]);
        for (int b = 0; b < count; b++) {
            mk->beta = grid[b];
            PrillmTtcMarketResult *res = NULL;
            PrillmError err;
            if (prillm_ttc_market_solve(mk, NULL, NULL, NULL, &res, &err)) {
                fprintf(stderr, "bench_ttc: market: %s\n", err.message);
                exit(1);
            }
            printf(" %.3f%s |", res->price_of_anarchy, res->status == PRILLM_STATUS_SOLVED ? "" : " (no NE)");
            prillm_ttc_market_result_free(res);
        }
        printf("\n");
        prillm_ttc_market_free(mk);
    }
}

/* A population of users per benchmark: each user's value scale log-normal
 * (mean: the file's scale, log-sd 1), requests uniform in 1..199 (mean
 * 100), every request an auction with truthful bids; paid on expected
 * quality, then on realised answers drawn with the winner's accuracy. CPU
 * time of prillm_ttc_population_run only (the population is drawn before). */
static void population(const char *dir, int quick) {
    int n_users = quick ? 1000 : 10000;
    printf("\nA population of users (value scales log-normal, log-sd 1; 1..199 requests each), truthful bids:\n\n");
    printf("| benchmark / TTC | users | requests | payment on | CPU time | requests/s | welfare/request | "
           "spend/request | user spend p50 | user spend p99 | models winning |\n");
    printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    double *scale = malloc((size_t)n_users * sizeof *scale);
    long long *requests = malloc((size_t)n_users * sizeof *requests);
    if (!scale || !requests) exit(1);
    for (int f = 0; f < 4; f++) {
        PrillmTtcMarket *mk = load(dir, bench_files[f]);
        PrillmError err;
        if (prillm_ttc_population_generate(mk->value_scale, 1, 100, n_users, 17, scale, requests, &err)) {
            fprintf(stderr, "bench_ttc: %s\n", err.message);
            exit(1);
        }
        for (int realised = 0; realised < 2; realised++) {
            PrillmTtcPopulationSettings s;
            prillm_ttc_population_default_settings(&s);
            s.realised = realised;
            s.seed = 5;
            PrillmTtcPopulationResult *r = NULL;
            clock_t t0 = clock();
            if (prillm_ttc_population_run(mk, NULL, n_users, scale, requests, &s, &r, &err)) {
                fprintf(stderr, "bench_ttc: population: %s\n", err.message);
                exit(1);
            }
            double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
            int winning = 0;
            for (int i = 0; i < mk->n_models; i++) winning += r->wins[i] > 0;
            printf("| %s | %d | %lld | %s | %.3f s | %.2g | %.5f | %.5f | %.4f | %.4f | %d |\n", bench_names[f], n_users,
                   r->requests, realised ? "realised" : "expected", cpu, cpu > 0 ? (double)r->requests / cpu : NAN,
                   r->welfare / (double)r->requests, r->spend / (double)r->requests, r->spend_quantiles[4],
                   r->spend_quantiles[7], winning);
            prillm_ttc_population_result_free(r);
        }
        prillm_ttc_market_free(mk);
    }
    free(scale);
    free(requests);
}

int main(int argc, char **argv) {
    const char *dir = "data/ttc";
    int quick = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--data") == 0 && k + 1 < argc) dir = argv[++k];
        else if (strcmp(argv[k], "--write-data") == 0 && k + 1 < argc) {
            write_data(argv[++k]);
            return 0;
        } else {
            fprintf(stderr, "usage: bench_ttc [--quick] [--data DIR] [--write-data DIR]\n");
            return 2;
        }
    }
    const double betas[] = {200, 1e3, 1e5};
    int n_betas = quick ? 1 : 3;
    printf("| benchmark / TTC | beta | market user value | market spend | SW_NE | SW_opt | PoA | auction user value "
           "| auction payment | auction SW | spend cut | value gain | NE levels | profiles | time |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");
    char winners[4][200];
    for (int f = 0; f < 4; f++) {
        PrillmTtcMarket *mk = load(dir, bench_files[f]);
        PrillmError err;
        PrillmTtcAuctionResult *a = NULL;
        if (prillm_ttc_auction(mk, &a, &err)) {
            fprintf(stderr, "bench_ttc: auction: %s\n", err.message);
            return 1;
        }
        int w = a->outcome.winner, r = a->outcome.runner_up;
        snprintf(winners[f], sizeof winners[f], "%s: %s (level %g) over %s", bench_names[f],
                 w >= 0 ? short_name(mk->model_id[w]) : "nobody",
                 w >= 0 ? mk->level_label[mk->level_offset[w] + a->level[w]] : NAN,
                 r >= 0 ? short_name(mk->model_id[r]) : "the reserve");
        for (int b = 0; b < n_betas; b++) {
            mk->beta = betas[b];
            PrillmTtcMarketResult *res = NULL;
            if (prillm_ttc_market_solve(mk, NULL, NULL, NULL, &res, &err)) {
                fprintf(stderr, "bench_ttc: market: %s\n", err.message);
                return 1;
            }
            const PrillmTtcOutcome *ne = res->equilibrium;
            char levels[128] = "";
            for (int i = 0; i < mk->n_models; i++) {
                char one[16];
                snprintf(one, sizeof one, "%s%g", i ? "," : "", mk->level_label[mk->level_offset[i] + ne->level[i]]);
                strncat(levels, one, sizeof levels - strlen(levels) - 1);
            }
            printf("| %s | %g | %.5f | %.5f | %.5f | %.5f | %.3f | %.5f | %.5f | %.5f | %.0f%% | %+.0f%% | %s | %.0f "
                   "| %.2f s |%s\n",
                   bench_names[f], betas[b], ne->user_value, ne->user_spend, ne->welfare,
                   res->optimum ? res->optimum->welfare : NAN, res->price_of_anarchy, a->user_utility,
                   a->outcome.payment, a->welfare, 100 * (1 - a->outcome.payment / ne->user_spend),
                   100 * (a->user_utility / ne->user_value - 1), levels, res->profiles, res->seconds,
                   res->status == PRILLM_STATUS_SOLVED ? "" : " (no NE)");
            prillm_ttc_market_result_free(res);
        }
        prillm_ttc_auction_result_free(a);
        prillm_ttc_market_free(mk);
    }
    printf("\nAuction winners (TTC level) over runners-up:\n\n");
    for (int f = 0; f < 4; f++) printf("- %s\n", winners[f]);
    if (!quick) sweep(dir);
    population(dir, quick);
    return 0;
}
