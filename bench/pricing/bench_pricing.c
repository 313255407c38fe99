/*
 * Pricing benchmark (the paper's Table 1, extended): every method against
 * the exact optimum, on market scenarios cut from the bundled default market
 * and on seeded random markets.
 *
 * Each row averages over targets: in a scenario every provider is the
 * target once; in a random market the first `targets` providers. "profit %"
 * is the method's profit in the true game (exact equilibrium at its price)
 * over the exact optimum (mean and worst over targets with a positive
 * optimum); "time" is the mean wall time of the method alone (method_seconds,
 * before scoring), "x exact" its ratio to the exact method's time. Timings
 * are single runs per target on one core (OpenBLAS pinned to one thread).
 *
 * da uses the network trained on the default market
 * (data/aggregator/default_market_model.json; the shipped default model is
 * trained on the calibrated OpenRouter market), and da, min and avg keep
 * k = 2 rivals (the paper's setting).
 *
 * Usage: bench_pricing [--quick] [--market FILE] [--model FILE] [--time-limit SECONDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "internal.h"

typedef struct {
    const char *name;
    PrillmMarket *market;
    int targets; /* price the first `targets` providers */
} Scenario;

typedef struct {
    double ratio_sum, ratio_min, time_sum, exact_time_sum;
    int runs, ratios, refused, failed, inaccurate;
    char note[600];
} Row;

static int name_in(const char *id, const char *const *list) {
    for (; *list; list++)
        if (strcmp(id, *list) == 0) return 1;
    return 0;
}

/* Scenarios cut from the default market; see the README for the reasons. */
static int make_scenarios(const PrillmMarket *base, Scenario *out) {
    static const char *const coding[] = {"Kilo Code", "Cline",  "Roo Code", "OpenHands", "Aider",
                                         "Zed",       "Continue", "BLACKBOXAI", "Goose", NULL};
    static const char *const roleplay[] = {"SillyTavern", "Janitor AI", "Chub AI", "Agnai", "RisuAI",
                                           "Novelcrafter", NULL};
    int n = base->n_users, m = base->n_providers, count = 0;
    int *users = malloc((size_t)n * sizeof(int)), *provs = malloc((size_t)m * sizeof(int));
    PrillmError err;
    for (int kind = 0; kind < 4; kind++) {
        int nu = 0, np = 0;
        for (int j = 0; j < m; j++) {
            double p = base->price[j];
            if ((kind == 0 && p > 1.0) || (kind == 1 && p < 1.0) || kind >= 2) provs[np++] = j;
        }
        for (int i = 0; i < n; i++) {
            const char *id = base->user_id[i];
            if (kind < 2 || (kind == 2 && name_in(id, coding)) || (kind == 3 && name_in(id, roleplay))) users[nu++] = i;
        }
        static const char *const names[] = {"Premium (models > $1/Mtok)", "Economy (models < $1/Mtok)",
                                            "Coding apps", "Roleplay & writing apps"};
        PrillmMarket *mk = prillm_market_subset(base, users, nu, provs, np, &err);
        if (!mk) {
            fprintf(stderr, "bench: %s\n", err.message);
            exit(1);
        }
        out[count].name = names[kind];
        out[count].market = mk;
        out[count].targets = np;
        count++;
    }
    free(users);
    free(provs);
    return count;
}

static void print_row(const char *scenario, const char *size, const char *method, const Row *r) {
    char t[32], pct[64], ratio[32];
    if (r->refused == r->runs) {
        printf("| %s | %s | %s | refused | - | - | %s |\n", scenario, size, method, r->note);
        return;
    }
    if (r->ratios) snprintf(pct, sizeof pct, "%.2f / %.2f", 100 * r->ratio_sum / r->ratios, 100 * r->ratio_min);
    else snprintf(pct, sizeof pct, "-");
    int ran = r->runs - r->refused;
    snprintf(ratio, sizeof ratio, "%.1f", r->time_sum / r->exact_time_sum);
    char note[700];
    snprintf(note, sizeof note, "%s%s", r->note, "");
    if (r->failed || r->inaccurate) {
        size_t len = strlen(note);
        snprintf(note + len, sizeof note - len, "%s%d failed, %d inaccurate of %d", len ? "; " : "", r->failed,
                 r->inaccurate, ran);
    }
    printf("| %s | %s | %s | %s | %s | %s | %s |\n", scenario, size, method, pct,
           bench_format_time(r->time_sum / ran, 0, t, sizeof t), ratio, note);
}

/* The trained aggregation network shipped with the project (method da). */
static PrillmAggregator *shipped_model;

static void run_scenario(const Scenario *sc, double time_limit, int skip_slow) {
    const PrillmMarket *mk = sc->market;
    char size[32];
    snprintf(size, sizeof size, "%d x %d", mk->n_users, mk->n_providers);
    Row rows[PRILLM_PRICE_METHOD_COUNT];
    memset(rows, 0, sizeof rows);
    for (int k = 0; k < PRILLM_PRICE_METHOD_COUNT; k++) rows[k].ratio_min = INFINITY;
    for (int s = 0; s < sc->targets; s++) {
        PrillmPriceSettings set;
        prillm_price_default_settings(&set);
        PrillmPriceResult exact;
        PrillmError err;
        if (prillm_price(mk, s, &set, &exact, &err)) {
            fprintf(stderr, "bench: exact on %s target %d: %s\n", sc->name, s, err.message);
            exit(1);
        }
        for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++) {
            Row *row = &rows[method];
            row->runs++;
            row->exact_time_sum += exact.method_seconds;
            if (skip_slow && (method == PRILLM_PRICE_PMPEC || method == PRILLM_PRICE_SMOOTH) &&
                (double)mk->n_users * mk->n_providers > 20000) {
                row->refused++;
                snprintf(row->note, sizeof row->note, "not run above 20000 pairs");
                continue;
            }
            PrillmPriceResult r;
            set.method = method;
            set.time_limit = time_limit;
            set.model = shipped_model;
            PrillmErrorCode rc =
                method == PRILLM_PRICE_EXACT ? PRILLM_OK : prillm_price(mk, s, &set, &r, &err);
            if (method == PRILLM_PRICE_EXACT) r = exact;
            if (rc) {
                row->refused++;
                snprintf(row->note, sizeof row->note, "%s",
                         rc == PRILLM_ERR_TOO_LARGE ? "too many support patterns" : err.message);
                continue;
            }
            row->time_sum += r.method_seconds;
            if (r.status == PRILLM_STATUS_FAILED) row->failed++;
            if (r.status == PRILLM_STATUS_INACCURATE) row->inaccurate++;
            if (exact.profit > 0 && isfinite(r.profit)) {
                double ratio = r.profit / exact.profit;
                row->ratio_sum += ratio;
                row->ratios++;
                if (ratio < row->ratio_min) row->ratio_min = ratio;
            }
            if (method != PRILLM_PRICE_EXACT) prillm_price_result_clear(&r);
        }
        prillm_price_result_clear(&exact);
    }
    for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++)
        print_row(sc->name, size, prillm_price_method_name(method), &rows[method]);
}

int main(int argc, char **argv) {
    int quick = 0;
    double time_limit = 60;
    const char *market_path = "data/default_market.json", *model_path = "data/aggregator/default_market_model.json";
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc) market_path = argv[++k];
        else if (strcmp(argv[k], "--model") == 0 && k + 1 < argc) model_path = argv[++k];
        else if (strcmp(argv[k], "--time-limit") == 0 && k + 1 < argc) time_limit = atof(argv[++k]);
        else {
            fprintf(stderr, "usage: bench_pricing [--quick] [--market FILE] [--model FILE] [--time-limit SECONDS]\n");
            return 2;
        }
    }
    PrillmError err;
    FILE *in = fopen(market_path, "rb");
    PrillmMarket *base = NULL;
    if (!in || prillm_market_read_json(in, NULL, NULL, &base, &err)) {
        fprintf(stderr, "bench: cannot read %s%s%s\n", market_path, in ? ": " : "", in ? err.message : "");
        if (in) fclose(in);
        return 1;
    }
    fclose(in);
    in = fopen(model_path, "rb");
    if (!in || prillm_aggregator_read_json(in, &shipped_model, &err)) {
        fprintf(stderr, "bench: cannot read the aggregation model %s%s%s\n", model_path, in ? ": " : "",
                in ? err.message : "");
        if (in) fclose(in);
        return 1;
    }
    fclose(in);
    printf("| market | apps x models | method | profit %% of exact (mean / worst) | time | x exact | note |\n");
    printf("|---|---|---|---|---|---|---|\n");
    Scenario sc[8];
    int count = make_scenarios(base, sc);
    for (int k = 0; k < count; k++) {
        run_scenario(&sc[k], time_limit, 0);
        prillm_market_free(sc[k].market);
        if (quick) break;
    }
    const struct {
        int n, m, targets;
    } sizes[] = {{4, 3, 3}, {20, 20, 5}, {100, 50, 3}, {1000, 200, 2}};
    int n_sizes = quick ? 1 : (int)(sizeof sizes / sizeof sizes[0]);
    for (int k = 0; k < n_sizes; k++) {
        Scenario r;
        r.name = "random";
        r.market = prillm_market_random(sizes[k].n, sizes[k].m, 42 + (unsigned long long)k, &err);
        if (!r.market) {
            fprintf(stderr, "bench: %s\n", err.message);
            return 1;
        }
        r.targets = quick ? 2 : sizes[k].targets;
        run_scenario(&r, time_limit, 1);
        prillm_market_free(r.market);
    }
    prillm_market_free(base);
    prillm_aggregator_free(shipped_model);
    return 0;
}
