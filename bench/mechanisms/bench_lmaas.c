/*
 * LMaaS benchmark (docs/lmaas.md), on seeded synthetic markets.
 *
 * Customers: prillm_lmaas_evaluate scores robust renting (RSR) against the
 * nominal renter (RSR's rule on the nominal scenario) and two more
 * deterministic renters (cheapest model, highest-fidelity model), with the
 * hindsight bound, on random scenarios drawn inside U and outside it
 * (widening 1.5), at cost-plus prices scaled by a markup. The worst case
 * over U is one column among several: RSR maximises it by construction.
 *
 * Seller: IMP against the exhaustive grid for M = 2..4 models: operating
 * profit ratio (mean and worst over seeds) and wall time of each (both
 * include tabulating the followers' RSR answers, which they share; the
 * search columns exclude it). Times are the best of three runs.
 *
 * Catalogue: every model offered against the greedy and the exact
 * catalogue search (net profit, catalogues priced, time), M = 4..12.
 *
 * Usage: bench_lmaas [--quick]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/lmaas.h"

/* One row of the customer side: every rule's statistics averaged over the
 * seeds (each seed one market of n customers). */
typedef struct {
    double mean[PRILLM_LMAAS_RULES], p5[PRILLM_LMAAS_RULES], worst_observed[PRILLM_LMAAS_RULES];
    double worst_case[PRILLM_LMAAS_RULES], loses_draws, loses_pairs, gap_stderr2, negative[PRILLM_LMAAS_RULES];
} Row;

static void evaluate_row(double budget, double deviation, double markup, double widening, int n, int models, int seeds,
                         int draws, Row *row) {
    memset(row, 0, sizeof *row);
    for (int seed = 0; seed < seeds; seed++) {
        PrillmError err;
        PrillmLmaasMarket *mk = prillm_lmaas_random(n, models, 100 + (unsigned)seed, &err);
        if (!mk) exit(1);
        mk->budget = budget;
        for (int i = 0; i < n; i++) mk->demand_deviation[i] = mk->gain_deviation[i] = deviation;
        double prices[16];
        for (int m = 0; m < models; m++) prices[m] = markup * mk->serving_cost[m];
        PrillmLmaasEvalSettings es;
        prillm_lmaas_default_eval_settings(&es);
        es.draws = draws;
        es.seed = 7 + (unsigned)seed;
        es.widening = widening;
        PrillmLmaasEvaluation *e = NULL;
        if (prillm_lmaas_evaluate(mk, prices, &es, &e, &err)) {
            fprintf(stderr, "bench: %s\n", err.message);
            exit(1);
        }
        for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
            row->mean[r] += e->rules[r].mean / seeds;
            row->p5[r] += e->rules[r].quantiles[0] / seeds;
            row->worst_observed[r] += e->rules[r].worst_observed / seeds;
            row->worst_case[r] += e->rules[r].worst_case / seeds;
            row->negative[r] += e->rules[r].negative_share / seeds;
        }
        row->loses_draws += e->loses_draws[PRILLM_LMAAS_RULE_ROBUST][PRILLM_LMAAS_RULE_NOMINAL] / seeds;
        row->loses_pairs += e->loses_pairs[PRILLM_LMAAS_RULE_ROBUST][PRILLM_LMAAS_RULE_NOMINAL] / seeds;
        /* the seeds are independent: the variance of their average */
        double se = e->mean_gap_stderr[PRILLM_LMAAS_RULE_ROBUST][PRILLM_LMAAS_RULE_NOMINAL] / seeds;
        row->gap_stderr2 += se * se;
        prillm_lmaas_evaluation_free(e);
        prillm_lmaas_free(mk);
    }
}

static double gain(double a, double b) { return b > 0 ? 100 * (a - b) / b : NAN; }

static void customer_side(int quick) {
    static const double budgets[] = {0.5, 1.0, 2.0};
    static const double deviations[] = {0.1, 0.25, 0.4};
    static const double markups[] = {1.5, 3.0};
    const double widening = 1.5;
    int n = quick ? 50 : 200, draws = quick ? 20 : 200, seeds = quick ? 2 : 5, models = 4;
    Row rows[3][3][2][2];
    for (size_t b = 0; b < 3; b++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < 2; k++)
                for (int w = 0; w < 2; w++)
                    evaluate_row(budgets[b], deviations[d], markups[k], w ? widening : 1.0, n, models, seeds, draws,
                                 &rows[b][d][k][w]);
    printf("### Customers: robust (RSR) vs nominal renting on random draws (%d customers, %d models, %d seeds, "
           "%d draws per customer)\n\n", n, models, seeds, draws);
    printf("Inside: scenarios uniform on U. Outside: uniform on %.1f U minus U (deviations up to %.1fx the stated "
           "ones). Totals are the customers' realised profit per draw, averaged over the seeds.\n\n", widening, widening);
    printf("| budget | deviation | markup | draws from | robust mean | nominal mean | robust vs nominal (mean ± 2 s.e.) | "
           "P(robust total < nominal) | P(customer earns less, robust) | robust p5 | nominal p5 | robust worst observed | "
           "nominal worst observed | robust worst case | nominal worst case | worst-case gain |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    double in_lo = INFINITY, in_hi = -INFINITY, out_lo = INFINITY, out_hi = -INFINITY, wc_best = -INFINITY;
    int in_wins = 0, out_wins = 0, rows_count = 0;
    char wc_where[96] = "";
    for (size_t b = 0; b < 3; b++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < 2; k++)
                for (int w = 0; w < 2; w++) {
                    const Row *r = &rows[b][d][k][w];
                    double g = gain(r->mean[0], r->mean[1]), se = 100 * sqrt(r->gap_stderr2) / r->mean[1];
                    double wg = gain(r->worst_case[0], r->worst_case[1]);
                    printf("| %.1f | %.0f%% | %.1fx | %s | %.0f | %.0f | %+.2f%% ± %.2f | %.3f | %.3f | %.0f | %.0f | %.0f | %.0f | "
                           "%.0f | %.0f | ", budgets[b], 100 * deviations[d], markups[k], w ? "outside" : "inside", r->mean[0],
                           r->mean[1], g, 2 * se, r->loses_draws, r->loses_pairs, r->p5[0], r->p5[1], r->worst_observed[0],
                           r->worst_observed[1], r->worst_case[0], r->worst_case[1]);
                    if (isnan(wg)) printf("n/a |\n");
                    else printf("%+.2f%% |\n", wg);
                    if (w) {
                        out_lo = fmin(out_lo, g);
                        out_hi = fmax(out_hi, g);
                        out_wins += g > 0;
                    } else {
                        in_lo = fmin(in_lo, g);
                        in_hi = fmax(in_hi, g);
                        in_wins += g > 0;
                        rows_count++;
                        if (wg > wc_best) {
                            wc_best = wg;
                            snprintf(wc_where, sizeof wc_where, "budget %.1f, deviation %.0f%%, markup %.1fx", budgets[b],
                                     100 * deviations[d], markups[k]);
                        }
                    }
                }
    printf("\nRobust vs nominal on the mean, inside U: %+.2f%% to %+.2f%%, robust ahead in %d of %d rows.\n", in_lo, in_hi,
           in_wins, rows_count);
    printf("Outside U (x%.1f): %+.2f%% to %+.2f%%, robust ahead in %d of %d rows.\n", widening, out_lo, out_hi, out_wins,
           rows_count);
    printf("At its own worst case over U (which it maximises by construction) robust gains up to %+.2f%% (%s).\n\n",
           wc_best, wc_where);

    printf("### Customers: every rule, box uncertainty (budget 2), draws inside U\n\n");
    printf("| deviation | markup | robust | nominal | cheapest | capable | hindsight (bound) | robust worst case | nominal | cheapest | capable | P(profit < 0): robust | nominal | cheapest | capable |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t d = 0; d < 3; d++)
        for (size_t k = 0; k < 2; k++) {
            const Row *r = &rows[2][d][k][0];
            printf("| %.0f%% | %.1fx |", 100 * deviations[d], markups[k]);
            for (int q = 0; q < PRILLM_LMAAS_RULES; q++) printf(" %.0f |", r->mean[q]);
            for (int q = 0; q < PRILLM_LMAAS_RULE_HINDSIGHT; q++) printf(" %.0f |", r->worst_case[q]);
            for (int q = 0; q < PRILLM_LMAAS_RULE_HINDSIGHT; q++) printf(" %.4f |", r->negative[q]);
            printf("\n");
        }
    printf("\nMeans of the customers' total realised profit per draw, exact worst cases over U, and the share of\n"
           "renters' (customer, draw) pairs that lose money.\n\n");
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

/* Catalogue: every model offered, the greedy local search and the exact
 * search over subsets, all priced by IMP on the same table; net profit
 * (operating minus the offered models' training costs). */
static void catalogue_side(int quick) {
    static const int model_counts[] = {4, 6, 8, 10, 12};
    static const int customer_counts[] = {20, 100};
    int seeds = quick ? 2 : 5, sizes = quick ? 2 : 5;
    printf("### Seller: which models to offer (IMP pricing, %d seeds per row)\n\n", seeds);
    printf("| models M | customers | net, all offered | net, greedy | net, exact | greedy = exact | greedy / exact, worst | "
           "all / exact, worst | models offered (exact) | catalogues priced, greedy | exact | time, all | greedy | exact |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int a = 0; a < sizes; a++)
        for (int c = 0; c < 2; c++) {
            int models = model_counts[a], n = customer_counts[c], same = 0;
            double net[3] = {0}, secs[3] = {0}, priced[3] = {0}, worst_greedy = INFINITY, worst_all = INFINITY, offered = 0;
            static const int modes[3] = {PRILLM_LMAAS_CATALOGUE_ALL, PRILLM_LMAAS_CATALOGUE_GREEDY,
                                         PRILLM_LMAAS_CATALOGUE_EXACT};
            for (int seed = 0; seed < seeds; seed++) {
                PrillmLmaasMarket *mk = prillm_lmaas_random(n, models, 900 + (unsigned)seed, NULL);
                if (!mk) exit(1);
                double value[3];
                for (int k = 0; k < 3; k++) {
                    PrillmLmaasSettings s;
                    prillm_lmaas_default_settings(&s);
                    s.catalogue = modes[k];
                    s.max_catalogue_exact = 24;
                    PrillmLmaasResult *r = NULL;
                    PrillmError err;
                    if (prillm_lmaas_solve(mk, &s, NULL, NULL, &r, &err)) {
                        fprintf(stderr, "bench: %s\n", err.message);
                        exit(1);
                    }
                    value[k] = r->net_profit;
                    net[k] += r->net_profit / seeds;
                    secs[k] += r->info.seconds / seeds;
                    priced[k] += (double)r->info.catalogues / seeds;
                    if (k == 2)
                        for (int m = 0; m < models; m++) offered += (double)r->offered[m] / seeds;
                    prillm_lmaas_result_free(r);
                }
                same += value[1] >= value[2] - 1e-9 * (1 + fabs(value[2]));
                if (value[2] > 0) {
                    worst_greedy = fmin(worst_greedy, value[1] / value[2]);
                    worst_all = fmin(worst_all, value[0] / value[2]);
                }
                prillm_lmaas_free(mk);
            }
            printf("| %d | %d | %.0f | %.0f | %.0f | %d of %d | %.4f | %.4f | %.1f | %.0f | %.0f | %.1f ms | %.1f ms | %.1f ms |\n",
                   models, n, net[0], net[1], net[2], same, seeds, worst_greedy, worst_all, offered, priced[1], priced[2],
                   1e3 * secs[0], 1e3 * secs[1], 1e3 * secs[2]);
        }
    printf("\nNet profits are means over the seeds. Exact prices every nonempty subset (2^M - 1); greedy adds, drops or\n"
           "swaps one model at a time from the full catalogue while the net profit rises.\n\n");
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
    catalogue_side(quick);
    return 0;
}
