/*
 * Game-abstraction benchmark (the PriLLM paper's Table 3): price the target
 * in a market shrunk to K rivals (da: the trained aggregation network; min:
 * the K cheapest rivals; avg: K averaged rivals), and score that price in the
 * true market against the exact optimum.
 *
 * Markets:
 *   0. unseen random markets (the target): 12 markets
 *      prillm_market_random(1000, 150, seed 101..112) with K = 1..4 and 5
 *      (--huge-markets N) markets prillm_market_random(5000, 500, seed
 *      201..) with K = 2, one target each; the default model's training
 *      drew its random markets' sizes and seeds from its own streams, so
 *      these are not among them. "da + check" is da with the confidence
 *      check (settings.da_check, the default of prillm price), "da" without;
 *      --large-only runs only these;
 *   1. the calibrated OpenRouter market (20 models x 20 apps), 300 fresh
 *      scenarios (seed 3: neither model saw them); "da (own model)" is
 *      data/aggregator/calibrated_model.json, trained on this market alone
 *      (the default model until the cross-market one replaced it);
 *   2. Economy: the 8 cheapest models of the calibrated market (only 16 of
 *      the 20 are under $1/Mtok, so "under $1" would not give 8), all 20
 *      apps; variants with R = 5 and 7 rivals (the 6 and the 8 cheapest).
 *      The test part (prillm_aggregator_split, train-seed 1) of 2000
 *      scenarios of seed 1 with no rival removed (drop-probability 0) so
 *      that every scenario has exactly R rivals. "da (own model)" uses
 *      data/aggregator/economy_model.json, trained on the 8-model market
 *      with drop-probability 0: for R = 7 its rows are on exactly that
 *      training run's held-out test scenarios;
 *   3. Large: the calibrated market enlarged to 20 x 120 (each model split
 *      into 6 copies, each with a sixth of its capacity; the generator then
 *      perturbs every copy independently), 119 rivals, drop-probability 0;
 *      also with every app split into 10; and a seeded random market
 *      prillm_market_random(1000, 150, 7), 149 rivals. Fresh scenarios
 *      (seed 2) there.
 *
 * For each scenario: the exact optimum of the true market (prillm_price,
 * method exact), then da, min, avg with K = 1..4. "profit %" = the method's
 * profit in the true market / the exact optimum (scenarios whose optimum is
 * 0, i.e. the target cannot sell at any price, are left out and counted);
 * "time" = the median over scenarios of method_seconds, i.e. prillm_price's
 * solve of the market as given (every method makes it), the reduction
 * (for da: features and the network's forward pass) plus the exact pricing
 * of the small market, not the final scoring solve in the true market;
 * "x exact" = that median / the exact method's median on the same
 * scenarios (medians: one run per scenario on a shared machine has
 * outliers); "x exact (mean)" = the mean over scenarios of the method's
 * time / exact's time on the same scenario (for da + check it counts the
 * fallbacks' exact walks, which a median hides); "fallbacks" = scenarios
 * where the check fell back to exact pricing. For da + check the time
 * includes the check's solves and any fallback. One core, OpenBLAS pinned
 * to one thread by the caller.
 *
 * Usage: bench_abstraction [--quick] [--large-only] [--huge-markets N] [--market FILE] [--model FILE]
 *        [--economy-model FILE] [--calibrated-model FILE]
 * Run from the source tree or give the paths.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "internal.h"
#include "prillm/aggregator.h"

#define MAX_K 4
#define N_METHODS 5

/* da with the shipped model (without the confidence check), min, avg, da
 * with a market's own model, and da with the check (settings.da_check) */
static const int methods[N_METHODS] = {PRILLM_PRICE_DA, PRILLM_PRICE_MIN, PRILLM_PRICE_AVG, PRILLM_PRICE_DA,
                                       PRILLM_PRICE_DA};
static const char *const method_labels[N_METHODS] = {"da", "min", "avg", "da (own model)", "da + check"};
#define DA_CHECKED 4

typedef struct {
    double ratio_sum, ratio_min;
    double *times; /* one per priced scenario */
    double ratio_time_sum; /* sum of method time / exact time of the scenario */
    int ratios, at_least_97, timed, failed, inaccurate, errors, fallbacks;
} Cell;

typedef struct {
    Cell cell[N_METHODS][MAX_K + 1];
    double *exact_times;
    int scenarios, timed, zero_optimum, exact_failed;
    int k_lo, k_hi;      /* K run (default 1..MAX_K) */
    int skip[N_METHODS]; /* methods not run */
} Table;

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts x. */
static double median(double *x, int count) {
    if (count < 1) return NAN;
    qsort(x, (size_t)count, sizeof *x, compare_doubles);
    return count % 2 ? x[count / 2] : 0.5 * (x[count / 2 - 1] + x[count / 2]);
}

static const char *format_time(double seconds, char *buf, size_t size) {
    if (!isfinite(seconds)) snprintf(buf, size, "-");
    else if (seconds < 1e-3) snprintf(buf, size, "%.0f µs", seconds * 1e6);
    else if (seconds < 1.0) snprintf(buf, size, "%.2f ms", seconds * 1e3);
    else snprintf(buf, size, "%.2f s", seconds);
    return buf;
}

static void die(const char *what, const PrillmError *err) {
    fprintf(stderr, "bench_abstraction: %s: %s\n", what, err->message);
    exit(1);
}

/* Price one scenario exactly and with every method and K; accumulate. */
static void run_scenario(const PrillmMarket *mk, int target, const PrillmAggregator *model,
                         const PrillmAggregator *own_model, Table *t) {
    PrillmPriceSettings set;
    prillm_price_default_settings(&set);
    PrillmPriceResult exact;
    PrillmError err;
    t->scenarios++;
    if (prillm_price(mk, target, &set, &exact, &err) || exact.status == PRILLM_STATUS_FAILED) {
        t->exact_failed++;
        if (exact.status == PRILLM_STATUS_FAILED) prillm_price_result_clear(&exact);
        return;
    }
    double best = exact.profit, exact_time = exact.method_seconds;
    prillm_price_result_clear(&exact);
    if (!(best > 0)) {
        t->zero_optimum++;
        return;
    }
    t->exact_times[t->timed++] = exact_time;
    for (int m = 0; m < N_METHODS; m++)
        for (int K = t->k_lo; K <= t->k_hi; K++) {
            Cell *c = &t->cell[m][K];
            if ((m == 3 && !own_model) || t->skip[m]) continue;
            set.method = methods[m];
            set.k = K;
            set.model = m == 3 ? own_model : model;
            set.da_check = m == DA_CHECKED;
            PrillmPriceResult r;
            if (prillm_price(mk, target, &set, &r, &err)) {
                c->errors++;
                fprintf(stderr, "bench_abstraction: %s K=%d: %s\n", method_labels[m], K, err.message);
                continue;
            }
            c->times[c->timed++] = r.method_seconds;
            c->ratio_time_sum += r.method_seconds / exact_time;
            c->fallbacks += r.check == PRILLM_PRICE_CHECK_FALLBACK;
            if (r.status == PRILLM_STATUS_FAILED) c->failed++;
            else {
                if (r.status == PRILLM_STATUS_INACCURATE) c->inaccurate++;
                double ratio = isfinite(r.profit) ? r.profit / best : 0.0;
                c->ratio_sum += ratio;
                c->ratios++;
                if (ratio >= 0.97) c->at_least_97++;
                if (ratio < c->ratio_min) c->ratio_min = ratio;
            }
            prillm_price_result_clear(&r);
        }
}

static void table_init(Table *t, int scenarios) {
    memset(t, 0, sizeof *t);
    t->k_lo = 1, t->k_hi = MAX_K;
    t->exact_times = calloc((size_t)scenarios + 1, sizeof(double));
    for (int m = 0; m < N_METHODS; m++)
        for (int K = 0; K <= MAX_K; K++) {
            t->cell[m][K].ratio_min = INFINITY;
            t->cell[m][K].times = calloc((size_t)scenarios + 1, sizeof(double));
        }
}

static void table_free(Table *t) {
    free(t->exact_times);
    for (int m = 0; m < N_METHODS; m++)
        for (int K = 0; K <= MAX_K; K++) free(t->cell[m][K].times);
}

static void print_table(const char *title, const char *detail, const PrillmMarket *base, int rivals, Table *t) {
    char a[32], b[32];
    int used = t->timed;
    double exact_median = median(t->exact_times, used), exact_max = used ? t->exact_times[used - 1] : NAN;
    printf("\n### %s\n\n%s\n\n", title, detail);
    printf("Base market %d apps x %d models, %s rivals per scenario; %d scenarios priced", base->n_users,
           base->n_providers, rivals > 0 ? (snprintf(a, sizeof a, "%d", rivals), a) : "varying", used);
    if (t->zero_optimum) printf(" (%d more left out: optimum 0, the target sells nothing at any price)", t->zero_optimum);
    if (t->exact_failed) printf(" (%d more: the exact method failed)", t->exact_failed);
    printf(". Exact pricing of the full market: %s median, %s worst.\n\n", format_time(exact_median, a, sizeof a),
           format_time(exact_max, b, sizeof b));
    if (!used) return;
    printf("| method | K | profit %% of exact: mean | worst | scenarios >= 97 %% | time (median) | x exact (median) | "
           "x exact (mean) | fallbacks |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < N_METHODS; m++)
        for (int K = 1; K <= MAX_K; K++) {
            Cell *c = &t->cell[m][K];
            if (!c->timed && !c->errors) continue; /* not run */
            char note[96] = "";
            if (c->failed || c->inaccurate || c->errors)
                snprintf(note, sizeof note, " (%d failed, %d inaccurate, %d errors)", c->failed, c->inaccurate,
                         c->errors);
            if (!c->ratios) {
                printf("| %s | %d | - | - | - | - | -%s |\n", method_labels[m], K, note);
                continue;
            }
            double time = median(c->times, c->timed);
            char fell[16] = "-";
            if (m == DA_CHECKED) snprintf(fell, sizeof fell, "%d", c->fallbacks);
            printf("| %s | %d | %.2f | %.2f | %.0f %% | %s | %.3g | %.3g | %s%s |\n", method_labels[m], K,
                   100 * c->ratio_sum / c->ratios, 100 * c->ratio_min, 100.0 * c->at_least_97 / c->ratios,
                   format_time(time, a, sizeof a), time / exact_median, c->ratio_time_sum / c->timed, fell, note);
        }
    fflush(stdout);
}

/* Build the scenarios of `base` with the shipped model's training settings
 * (overridden by drop / seed / count) and price those listed in `which`
 * (all if NULL), at most `limit`. */
static void run_market(const char *title, const char *detail, const PrillmMarket *base, int rivals,
                       const PrillmScenarioSettings *st, const int *which, int limit, const PrillmAggregator *model,
                       const PrillmAggregator *own_model) {
    PrillmAggregatorScenarios sc;
    PrillmError err;
    if (prillm_aggregator_scenarios(base, -1, st, &sc, &err)) die("scenarios", &err);
    Table t;
    int count = which ? limit : (limit < sc.count ? limit : sc.count);
    table_init(&t, count);
    for (int k = 0; k < count; k++) {
        const PrillmAggregatorScenario *s = &sc.items[which ? which[k] : k];
        run_scenario(s->market, s->target, model, own_model, &t);
    }
    print_table(title, detail, base, rivals, &t);
    table_free(&t);
    prillm_aggregator_scenarios_free(&sc);
}

/* The test part of the split prillm train-aggregator makes of `count`
 * scenarios with its default training options. */
static int *test_split(int count, int *n_test) {
    PrillmTrainSettings ts;
    prillm_train_default_settings(&ts);
    int *order = malloc((size_t)count * sizeof(int)), n_train, n_val;
    PrillmError err;
    if (!order || prillm_aggregator_split(count, &ts, order, &n_train, &n_val, n_test, &err)) die("split", &err);
    memmove(order, order + n_train + n_val, (size_t)*n_test * sizeof(int));
    return order;
}

/* The `cheapest` cheapest providers (ties by id), in market order. */
static PrillmMarket *cheapest_subset(const PrillmMarket *base, int cheapest) {
    int m = base->n_providers, *keep = malloc((size_t)m * sizeof(int)), n = 0;
    for (int j = 0; j < m; j++) {
        int rank = 0;
        for (int i = 0; i < m; i++)
            if (base->price[i] < base->price[j] ||
                (base->price[i] == base->price[j] && strcmp(base->provider_id[i], base->provider_id[j]) < 0))
                rank++;
        if (rank < cheapest) keep[n++] = j;
    }
    PrillmError err;
    PrillmMarket *mk = prillm_market_subset(base, NULL, base->n_users, keep, n, &err);
    if (!mk) die("economy market", &err);
    free(keep);
    return mk;
}

/* Every provider split into `copies` identical ones, each with capacity /
 * copies (so total capacity is kept); copy c of "x" is "x#c". */
static PrillmMarket *enlarged(const PrillmMarket *base, int copies, int user_copies) {
    int n0 = base->n_users, n = n0 * user_copies, m = base->n_providers, M = m * copies;
    PrillmError err;
    PrillmMarket *mk = prillm_market_alloc(n, M, &err);
    if (!mk) die("enlarged market", &err);
    mk->w_price = base->w_price, mk->w_congestion = base->w_congestion, mk->w_delay = base->w_delay;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(base->user_id[i % n0]) + 16;
        mk->user_id[i] = malloc(len);
        if (user_copies > 1) snprintf(mk->user_id[i], len, "%s#%d", base->user_id[i % n0], i / n0 + 1);
        else snprintf(mk->user_id[i], len, "%s", base->user_id[i]);
        mk->demand[i] = base->demand[i % n0] / user_copies;
    }
    for (int c = 0; c < copies; c++)
        for (int j = 0; j < m; j++) {
            int J = c * m + j;
            size_t len = strlen(base->provider_id[j]) + 16;
            mk->provider_id[J] = malloc(len);
            snprintf(mk->provider_id[J], len, "%s#%d", base->provider_id[j], c + 1);
            mk->price[J] = base->price[j];
            mk->capacity[J] = base->capacity[j] / copies;
            mk->value[J] = base->value[j];
            mk->cost[J] = base->cost[j];
            mk->latency[J] = base->latency[j];
            /* a user copy's delays are its original's, stretched by a fixed
             * factor in [0.7, 1.3] so that copies are not identical */
            for (int i = 0; i < n; i++) {
                mk->delay[(size_t)i * M + J] =
                    base->delay[(size_t)(i % n0) * m + j] * (i < n0 ? 1.0 : 0.7 + 0.6 * ((i * 7919 + j * 104729) % 1000) / 999.0);
                /* copies keep their original's tastes */
                mk->affinity[(size_t)i * M + J] = base->affinity[(size_t)(i % n0) * m + j];
            }
        }
    if (prillm_market_validate(mk, &err)) die("enlarged market", &err);
    return mk;
}

/* Unseen random markets: `count` markets prillm_market_random(n, m, seed0
 * + k), k = 0..count-1, each priced for one target (drawn from the seed),
 * with every K in [k_lo, k_hi]. The training of the default model draws its
 * random markets' sizes and seeds from its own streams, so these markets are
 * not among them. */
static void run_random(const char *title, int n, int m, int count, unsigned long long seed0, int k_lo, int k_hi,
                       const PrillmAggregator *model) {
    Table t;
    table_init(&t, count);
    t.k_lo = k_lo, t.k_hi = k_hi;
    t.skip[3] = 1;
    PrillmMarket *first = NULL;
    for (int k = 0; k < count; k++) {
        PrillmError err;
        PrillmMarket *mk = prillm_market_random(n, m, seed0 + (unsigned long long)k, &err);
        if (!mk) die("random market", &err);
        int target = (int)(((seed0 + (unsigned long long)k) * 2654435761ULL >> 7) % (unsigned long long)m);
        run_scenario(mk, target, model, NULL, &t);
        fprintf(stderr, "bench_abstraction: %s: market %d of %d done\n", title, k + 1, count);
        if (!first) first = mk;
        else prillm_market_free(mk);
    }
    char detail[256];
    snprintf(detail, sizeof detail,
             "%d markets prillm_market_random(%d, %d, seed) with seeds %llu..%llu, one target each (never seen in "
             "training); K = %d..%d.",
             count, n, m, seed0, seed0 + (unsigned long long)count - 1, k_lo, k_hi);
    print_table(title, detail, first, m - 1, &t);
    prillm_market_free(first);
    table_free(&t);
}

static PrillmAggregator *load_model(const char *path, int required) {
    FILE *f = fopen(path, "rb");
    PrillmAggregator *model = NULL;
    PrillmError err;
    if (!f || prillm_aggregator_read_json(f, &model, &err)) {
        if (required || f)
            fprintf(stderr, "bench_abstraction: cannot read the model %s%s%s\n", path, f ? ": " : "",
                    f ? err.message : "");
        if (f) fclose(f);
        if (required) exit(1);
        return NULL;
    }
    fclose(f);
    return model;
}

int main(int argc, char **argv) {
    int quick = 0, large_only = 0, huge_count = 5;
    const char *market_path = "data/aggregator/calibrated_openrouter.json",
               *model_path = "data/aggregator/default_model.json",
               *economy_model_path = "data/aggregator/economy_model.json",
               *calibrated_model_path = "data/aggregator/calibrated_model.json";
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--large-only") == 0) large_only = 1;
        else if (strcmp(argv[k], "--huge-markets") == 0 && k + 1 < argc) huge_count = atoi(argv[++k]);
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc) market_path = argv[++k];
        else if (strcmp(argv[k], "--model") == 0 && k + 1 < argc) model_path = argv[++k];
        else if (strcmp(argv[k], "--economy-model") == 0 && k + 1 < argc) economy_model_path = argv[++k];
        else if (strcmp(argv[k], "--calibrated-model") == 0 && k + 1 < argc) calibrated_model_path = argv[++k];
        else {
            fprintf(stderr,
                    "usage: bench_abstraction [--quick] [--large-only] [--huge-markets N] [--market FILE] [--model FILE] "
                    "[--economy-model FILE] [--calibrated-model FILE]\n");
            return 2;
        }
    }
    PrillmError err;
    PrillmMarket *base = bench_load_market(market_path);
    if (!base) {
        fprintf(stderr, "bench_abstraction: cannot read %s (run from the source tree or pass --market)\n", market_path);
        return 1;
    }
    PrillmAggregator *model = load_model(model_path, 1), *economy_model = load_model(economy_model_path, 0),
                     *calibrated_model = load_model(calibrated_model_path, 0);
    printf("## Game abstraction (%s, model %s%s)\n", market_path, model_path, quick ? ", --quick" : "");

    if (large_only || !quick) {
        run_random("Unseen random markets, 1000 x 150", 1000, 150, quick ? 2 : 12, 101, 1, MAX_K, model);
        run_random("Unseen random markets, 5000 x 500", 5000, 500, quick ? 1 : huge_count, 201, 2, 2, model);
    }
    if (large_only) {
        prillm_market_free(base);
        prillm_aggregator_free(model);
        prillm_aggregator_free(economy_model);
        prillm_aggregator_free(calibrated_model);
        return 0;
    }
    PrillmScenarioSettings st;
    prillm_scenario_default_settings(&st); /* = the calibrated model's training scenarios */
    int n_test = 0, *test = test_split(st.scenarios, &n_test);
    char detail[512];

    /* fresh scenarios (seed 3): neither the default model (trained with
     * seed 1 across markets) nor the calibrated model (seed 1, this market)
     * saw them */
    PrillmScenarioSettings fresh = st;
    fresh.seed = 3;
    fresh.scenarios = quick ? 10 : 300;
    snprintf(detail, sizeof detail,
             "%d fresh scenarios (seed 3, drop-probability %g, every other option at its default); \"da (own "
             "model)\" is %s, trained on this market alone.",
             fresh.scenarios, fresh.drop_probability, calibrated_model_path);
    run_market("Calibrated market, fresh scenarios", detail, base, 0, &fresh, NULL, fresh.scenarios, model,
               calibrated_model);

    static const int economy_rivals[] = {5, 7};
    for (int e = 0; e < 2; e++) {
        int R = economy_rivals[e];
        PrillmMarket *eco = cheapest_subset(base, R + 1);
        PrillmScenarioSettings es = st;
        es.drop_probability = 0;
        char title[96];
        snprintf(title, sizeof title, "Economy, %d rivals (the %d cheapest models)", R, R + 1);
        snprintf(detail, sizeof detail,
                 "Test part of %d scenarios (seed %d, same split), drop-probability 0 so every scenario has %d rivals.",
                 es.scenarios, es.seed, R);
        run_market(title, detail, eco, R, &es, test, quick ? 10 : n_test, model, economy_model);
        prillm_market_free(eco);
    }

    PrillmMarket *large = enlarged(base, 6, 1);
    PrillmScenarioSettings ls = st;
    ls.drop_probability = 0;
    ls.seed = 2;
    ls.prices = 1; /* the curves are not used here */
    ls.scenarios = quick ? 4 : 40;
    snprintf(detail, sizeof detail,
             "Each calibrated model split into 6 copies with a sixth of its capacity, every copy perturbed "
             "independently; %d fresh scenarios (seed 2), drop-probability 0.",
             ls.scenarios);
    run_market("Large: calibrated market x 6 (119 rivals)", detail, large, large->n_providers - 1, &ls, NULL,
               ls.scenarios, model, NULL);
    prillm_market_free(large);

    if (!quick) {
        large = enlarged(base, 6, 10);
        ls.scenarios = 40;
        snprintf(detail, sizeof detail,
                 "Also every app split into 10 copies with a tenth of its demand, each copy's delays scaled by a fixed "
                 "factor in [0.7, 1.3]; %d fresh scenarios (seed 2), drop-probability 0.",
                 ls.scenarios);
        run_market("Large: calibrated market x 6 models x 10 apps (119 rivals)", detail, large, large->n_providers - 1,
                   &ls, NULL, ls.scenarios, model, NULL);
        prillm_market_free(large);
        PrillmMarket *rnd = prillm_market_random(1000, 150, 7, &err);
        if (!rnd) die("random market", &err);
        ls.scenarios = 20;
        snprintf(detail, sizeof detail,
                 "prillm_market_random(1000, 150, 7): out of the network's training distribution; %d fresh "
                 "scenarios (seed 2), drop-probability 0.",
                 ls.scenarios);
        run_market("Large: random market (149 rivals)", detail, rnd, rnd->n_providers - 1, &ls, NULL, ls.scenarios,
                   model, NULL);
        prillm_market_free(rnd);
    }
    free(test);
    prillm_market_free(base);
    prillm_aggregator_free(model);
    prillm_aggregator_free(economy_model);
    prillm_aggregator_free(calibrated_model);
    return 0;
}
