/*
 * LMaaS benchmark (docs/lmaas.md), on seeded synthetic markets.
 *
 * Customers: Robust Selecting and Renting against three deterministic
 * renters that plan on the nominal demand and channel: "nominal" (best model
 * and rental for the nominal scenario), "cheapest" (the cheapest model) and
 * "capable" (the highest-fidelity model), the latter two renting what the
 * nominal scenario makes optimal for their model. Every plan is then scored
 * by its realised profit, summed over customers, under
 *   adversarial draws: each plan's own worst scenario in U (exact: a vertex),
 *   random draws: scenarios uniform in U, averaged over the draws.
 * Improvement = (RSR - baseline) / baseline, for positive baselines only. Prices are the seller's
 * cost-plus prices scaled by a markup.
 *
 * Seller: IMP against the exhaustive grid for M = 2..4 models: operating
 * profit ratio (mean and worst over seeds) and wall time of each (both
 * include tabulating the followers' RSR answers, which they share; the
 * search columns exclude it). Times are the best of three runs.
 *
 * Usage: bench_lmaas [--quick]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/lmaas.h"
#include "random.h"

typedef struct {
    int model;
    double rental;
} Plan;

/* The deterministic renter for one model: RSR's rule on the nominal scenario. */
static void nominal_rental(PrillmLmaasMarket *nominal, int i, int m, double price, double *tau, double *profit) {
    if (prillm_lmaas_rent_model(nominal, i, m, price, tau, profit, NULL)) exit(1);
}

static double realised(const PrillmLmaasMarket *mk, int i, Plan p, const double *prices, PrillmLmaasScenario s) {
    if (p.model < 0) return 0.0;
    return prillm_lmaas_realised_profit(mk, i, p.model, prices[p.model], p.rental, s);
}

static double adversarial(const PrillmLmaasMarket *mk, int i, Plan p, const double *prices) {
    PrillmLmaasScenario v[8];
    int count = prillm_lmaas_vertices(mk->budget, v);
    double low = INFINITY;
    for (int k = 0; k < count; k++) low = fmin(low, realised(mk, i, p, prices, v[k]));
    return low;
}

static PrillmLmaasScenario random_scenario(PrillmRng *rng, double budget) {
    PrillmLmaasScenario s;
    do {
        s.z_demand = 2 * prillm__rng_uniform(rng) - 1;
        s.z_gain = 2 * prillm__rng_uniform(rng) - 1;
    } while (fabs(s.z_demand) + fabs(s.z_gain) > budget);
    return s;
}

enum { RSR, NOMINAL, CHEAPEST, CAPABLE, STRATEGIES };
static const char *const strategy_names[STRATEGIES] = {"RSR", "nominal", "cheapest", "capable"};

static void plans_for(PrillmLmaasMarket *mk, int i, const double *prices, Plan plans[STRATEGIES]) {
    PrillmLmaasPlan rsr;
    if (prillm_lmaas_rent(mk, i, prices, &rsr, NULL)) exit(1);
    plans[RSR] = (Plan){rsr.model, rsr.rental};
    double budget = mk->budget;
    mk->budget = 0; /* the nominal scenario only */
    PrillmLmaasPlan nominal;
    if (prillm_lmaas_rent(mk, i, prices, &nominal, NULL)) exit(1);
    plans[NOMINAL] = (Plan){nominal.model, nominal.rental};
    int cheapest = 0, capable = 0;
    for (int m = 1; m < mk->n_models; m++) {
        if (prices[m] < prices[cheapest]) cheapest = m;
        if (mk->fidelity[m] > mk->fidelity[capable]) capable = m;
    }
    int picks[2] = {cheapest, capable};
    for (int k = 0; k < 2; k++) {
        double tau, profit;
        nominal_rental(mk, i, picks[k], prices[picks[k]], &tau, &profit);
        plans[CHEAPEST + k] = profit > 0 ? (Plan){picks[k], tau} : (Plan){-1, 0.0};
    }
    mk->budget = budget;
}

static void customer_side(int quick) {
    static const double budgets[] = {0.5, 1.0, 2.0};
    static const double deviations[] = {0.1, 0.25, 0.4};
    static const double markups[] = {1.5, 3.0};
    int n = quick ? 50 : 200, draws = quick ? 20 : 100, seeds = quick ? 2 : 5, models = 4;
    printf("### Customers: RSR vs deterministic renters (%d customers, %d models, %d seeds, %d random draws each)\n\n",
           n, models, seeds, draws);
    printf("| budget | deviation | markup | draws | RSR | nominal | cheapest | capable | vs nominal | vs cheapest | vs capable |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    double best_gain[STRATEGIES] = {0};
    char best_where[STRATEGIES][96] = {{0}};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++)
        for (size_t d = 0; d < sizeof deviations / sizeof *deviations; d++)
            for (size_t k = 0; k < sizeof markups / sizeof *markups; k++) {
                double adv[STRATEGIES] = {0}, rnd[STRATEGIES] = {0};
                for (int seed = 0; seed < seeds; seed++) {
                    PrillmLmaasMarket *mk = prillm_lmaas_random(n, models, 100 + (unsigned)seed, NULL);
                    if (!mk) exit(1);
                    mk->budget = budgets[b];
                    for (int i = 0; i < n; i++) mk->demand_deviation[i] = mk->gain_deviation[i] = deviations[d];
                    double prices[8];
                    for (int m = 0; m < models; m++) prices[m] = markups[k] * mk->serving_cost[m];
                    PrillmRng rng = {7 + (uint64_t)seed};
                    for (int i = 0; i < n; i++) {
                        Plan plans[STRATEGIES];
                        plans_for(mk, i, prices, plans);
                        for (int s = 0; s < STRATEGIES; s++) adv[s] += adversarial(mk, i, plans[s], prices);
                        for (int r = 0; r < draws; r++) {
                            PrillmLmaasScenario sc = random_scenario(&rng, mk->budget);
                            for (int s = 0; s < STRATEGIES; s++) rnd[s] += realised(mk, i, plans[s], prices, sc) / draws;
                        }
                    }
                    prillm_lmaas_free(mk);
                }
                for (int kind = 0; kind < 2; kind++) {
                    double *v = kind ? rnd : adv;
                    printf("| %.1f | %.0f%% | %.1fx | %s |", budgets[b], 100 * deviations[d], markups[k],
                           kind ? "random" : "adversarial");
                    for (int s = 0; s < STRATEGIES; s++) printf(" %.0f |", v[s] / seeds);
                    for (int s = 1; s < STRATEGIES; s++) {
                        /* a percentage of a baseline at or below zero means nothing */
                        if (!(v[s] > 0)) {
                            printf(" n/a |");
                            continue;
                        }
                        double gain = (v[RSR] - v[s]) / v[s];
                        printf(" %+.2f%% |", 100 * gain);
                        /* the headline skips baselines that earn next to nothing */
                        if (gain > best_gain[s] && v[s] >= 0.1 * v[RSR]) {
                            best_gain[s] = gain;
                            snprintf(best_where[s], sizeof best_where[s], "budget %.1f, deviation %.0f%%, markup %.1fx, %s",
                                     budgets[b], 100 * deviations[d], markups[k], kind ? "random" : "adversarial");
                        }
                    }
                    printf("\n");
                }
            }
    printf("\nProfits are the customers' total realised profit per market (mean over seeds).\n");
    for (int s = 1; s < STRATEGIES; s++)
        printf("Largest improvement of RSR over %s (baselines earning >= 10%% of RSR): %+.2f%% (%s).\n", strategy_names[s], 100 * best_gain[s],
               best_where[s][0] ? best_where[s] : "never better");
    printf("\n");
}

static void seller_side(int quick) {
    static const int customer_counts[] = {20, 100, 200};
    int seeds = quick ? 2 : 5, max_models = quick ? 3 : 4, sizes = quick ? 2 : 3;
    PrillmLmaasSettings imp, grid;
    prillm_lmaas_default_settings(&imp);
    grid = imp;
    grid.method = PRILLM_LMAAS_EXHAUSTIVE;
    printf("### Seller: IMP vs exhaustive grid (%d grid prices per model, %d seeds per row)\n\n", imp.grid_points, seeds);
    printf("| models M | customers | grid vectors | IMP vectors tried | IMP passes | IMP/grid profit, mean | worst | table | IMP search | grid search | search speed-up | total speed-up |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int models = 2; models <= max_models; models++)
        for (int c = 0; c < sizes; c++) {
            int n = customer_counts[c];
            double ratio_sum = 0, ratio_min = INFINITY, t_imp = 0, t_grid = 0, t_table = 0, s_imp = 0, s_grid = 0, passes = 0, tried = 0;
            for (int seed = 0; seed < seeds; seed++) {
                PrillmLmaasMarket *mk = prillm_lmaas_random(n, models, 500 + (unsigned)seed, NULL);
                PrillmLmaasResult *a = NULL, *b = NULL;
                PrillmError err;
                if (!mk) exit(1);
                /* the best of three runs: the times are short and the machine shared */
                for (int repeat = 0; repeat < 3; repeat++) {
                    PrillmLmaasResult *a2 = NULL, *b2 = NULL;
                    if (prillm_lmaas_solve(mk, &imp, NULL, NULL, &a2, &err) ||
                        prillm_lmaas_solve(mk, &grid, NULL, NULL, &b2, &err)) {
                        fprintf(stderr, "bench: %s\n", err.message);
                        exit(1);
                    }
                    if (!a || a2->info.seconds < a->info.seconds) {
                        prillm_lmaas_result_free(a);
                        a = a2;
                    } else {
                        prillm_lmaas_result_free(a2);
                    }
                    if (!b || b2->info.seconds < b->info.seconds) {
                        prillm_lmaas_result_free(b);
                        b = b2;
                    } else {
                        prillm_lmaas_result_free(b2);
                    }
                }
                double ratio = b->operating_profit > 0 ? a->operating_profit / b->operating_profit : 1.0;
                ratio_sum += ratio;
                ratio_min = fmin(ratio_min, ratio);
                t_imp += a->info.seconds;
                t_grid += b->info.seconds;
                t_table += 0.5 * (a->info.table_seconds + b->info.table_seconds);
                s_imp += a->info.seconds - a->info.table_seconds;
                s_grid += b->info.seconds - b->info.table_seconds;
                passes += a->info.iterations;
                tried += (double)a->info.evaluations;
                prillm_lmaas_result_free(a);
                prillm_lmaas_result_free(b);
                prillm_lmaas_free(mk);
            }
            printf("| %d | %d | %.0f | %.0f | %.1f | %.4f | %.4f | %.2f ms | %.2f ms | %.2f ms | %.0fx | %.1fx |\n", models, n,
                   pow(imp.grid_points, models), tried / seeds, passes / seeds, ratio_sum / seeds, ratio_min, 1e3 * t_table / seeds,
                   1e3 * s_imp / seeds, 1e3 * s_grid / seeds, s_grid / s_imp, t_grid / t_imp);
        }
    printf("\n");
}

int main(int argc, char **argv) {
    int quick = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else {
            fprintf(stderr, "usage: bench_lmaas [--quick]\n");
            return 2;
        }
    }
    customer_side(quick);
    seller_side(quick);
    return 0;
}
