/*
 * Aggregation benchmark.
 *
 * 1. Cost of the network: forward, and forward + backward, per set of n
 *    rivals (default shape: width 32, 4 heads, 2 blocks), median over repeats.
 * 2. Cost of one training evaluation (profit-curve loss and its gradient
 *    through the equilibrium sensitivity) on scenarios of the market.
 * 3. Quality of the abstraction: profit-curve loss of da (the trained model
 *    data/aggregator/default_model.json, if present), min and avg on fresh
 *    scenarios of the market the model was trained on (the calibrated
 *    OpenRouter market data/aggregator/calibrated_openrouter.json; seed 99,
 *    never used in training), mean and median over scenarios, for K = 2.
 *
 * Usage: bench_aggregator [--quick] [--model FILE] [--market FILE]
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
#include "set_transformer.h"

int main(int argc, char **argv) {
    int quick = 0;
    const char *model_path = "data/aggregator/default_model.json", *market_path = "data/aggregator/calibrated_openrouter.json";
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--model") == 0 && k + 1 < argc) model_path = argv[++k];
        else if (strcmp(argv[k], "--market") == 0 && k + 1 < argc) market_path = argv[++k];
        else {
            fprintf(stderr, "usage: bench_aggregator [--quick] [--model FILE] [--market FILE]\n");
            return 2;
        }
    }
    PrillmError err;
    PrillmAggregatorShape shape;
    prillm_aggregator_default_shape(&shape);
    PrillmAggregator *net = prillm_aggregator_new(&shape, &err);
    if (!net) return 1;
    int np = prillm_aggregator_parameter_count(net);
    double *grad = calloc((size_t)np, sizeof(double));
    static const int sizes[] = {5, 20, 100, 400};
    int repeats = quick ? 5 : 51, n_sizes = quick ? 3 : 4;
    printf("### Network (width %d, %d heads, %d blocks, LayerNorm, %d parameters)\n\n", shape.width, shape.heads,
           shape.blocks, np);
    printf("| rivals | forward (µs) | forward + backward (µs) |\n|---:|---:|---:|\n");
    for (int s = 0; s < n_sizes; s++) {
        int n = sizes[s];
        PrillmSetWorkspace ws;
        if (prillm__set_workspace_init(&ws, net, n)) return 1;
        double *x = calloc((size_t)n * PRILLM_AGGREGATOR_FEATURES, sizeof(double)), *ss = calloc(n, 8),
               *sa = calloc(n, 8), *t1 = calloc(repeats, 8), *t2 = calloc(repeats, 8);
        for (int k = 0; k < n * PRILLM_AGGREGATOR_FEATURES; k++) x[k] = sin(k * 0.7);
        for (int r = 0; r < repeats; r++) {
            double t0 = prillm__now();
            prillm__set_forward(net, &ws, n, x, ss, sa);
            double t = prillm__now();
            prillm__set_backward(net, &ws, ss, sa, grad);
            t1[r] = (t - t0) * 1e6;
            t2[r] = (prillm__now() - t0) * 1e6;
        }
        printf("| %d | %.1f | %.1f |\n", n, bench_median(t1, repeats), bench_median(t2, repeats));
        free(x), free(ss), free(sa), free(t1), free(t2);
        prillm__set_workspace_free(&ws);
    }
    PrillmMarket *base = bench_load_market(market_path);
    if (!base) {
        fprintf(stderr, "cannot read %s (run from the source tree or pass --market)\n", market_path);
        return 1;
    }
    PrillmScenarioSettings st;
    prillm_scenario_default_settings(&st);
    st.scenarios = quick ? 40 : 300;
    st.seed = 99;
    PrillmAggregatorScenarios sc;
    double t0 = prillm__now();
    if (prillm_aggregator_scenarios(base, -1, &st, &sc, &err)) {
        fprintf(stderr, "scenarios: %s\n", err.message);
        return 1;
    }
    double build = prillm__now() - t0;
    int K = 2, count = sc.count;
    double *times = calloc((size_t)count, sizeof(double)), *losses = calloc((size_t)count, sizeof(double));
    for (int s = 0; s < count; s++) {
        double loss, t = prillm__now();
        prillm_aggregator_loss_gradient(net, K, &sc.items[s], &loss, grad, NULL);
        times[s] = (prillm__now() - t) * 1e3;
    }
    printf("\n### Training cost on the %d x %d market (K = %d, L = %d prices, one core)\n\n", base->n_users,
           base->n_providers, K, st.prices);
    printf("| step | time |\n|---|---:|\n");
    printf("| build one scenario (choke price + L exact solves) | %.2f ms |\n", build / count * 1e3);
    printf("| loss + gradient of one scenario (median) | %.2f ms |\n", bench_median(times, count));
    FILE *f = fopen(model_path, "rb");
    PrillmAggregator *model = NULL;
    if (f) {
        if (prillm_aggregator_read_json(f, &model, &err)) fprintf(stderr, "%s: %s\n", model_path, err.message);
        fclose(f);
    }
    printf("\n### Abstraction quality, K = %d, %d fresh scenarios (seed 99) of %s\n\n", K, count, market_path);
    printf("| method | mean loss | median loss | 90th percentile |\n|---|---:|---:|---:|\n");
    for (int method = 0; method < 3; method++) {
        if (method == PRILLM_AGGREGATE_DA && !model) {
            printf("| da | (no model at %s) | | |\n", model_path);
            continue;
        }
        double sum = 0;
        int used = 0;
        for (int s = 0; s < count; s++) {
            if (prillm_aggregator_loss(model, method, K, &sc, s, 1, &losses[used], NULL)) continue;
            sum += losses[used++];
        }
        double mean = sum / used, med = bench_median(losses, used);
        printf("| %s | %.4g | %.4g | %.4g |\n", prillm_aggregate_method_name(method), mean, med,
               losses[(int)(0.9 * (used - 1))]);
    }
    prillm_aggregator_free(model);
    prillm_aggregator_scenarios_free(&sc);
    prillm_market_free(base);
    prillm_aggregator_free(net);
    free(grad), free(times), free(losses);
    return 0;
}
