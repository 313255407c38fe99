/*
 * Calibration benchmark: PriLLM and every baseline on the same data, R^2
 * and MAE in-sample and on k-fold held-out cells, and time. Data: the real
 * OpenRouter 20 x 20 cross-section when ../shared/data/openrouter is
 * present, and a synthetic 20 x 20 x 5-period set drawn from the model
 * (noise 0.1, each model listing its top 5 apps). Then, on the real data,
 * the capacity definitions and the two censoring treatments compared.
 *   bench_calibrate [--quick] [--data DIR]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <prillm/calibration.h>

static void cell(double x, const char *fmt) {
    if (isfinite(x)) printf(fmt, x);
    else printf(" - |");
}

static void row(const char *data, const char *label, const PrillmCalibrationResult *r) {
    printf("| %s | %s |", data, label);
    cell(r->r2, " %.4f |");
    cell(r->mae, " %.4g |");
    cell(r->r2_heldout, " %.4f |");
    cell(r->mae_heldout, " %.4g |");
    double cut = isfinite(r->loss_initial) && r->loss_initial > 0 ? 100 * (1 - r->loss_final / r->loss_initial) : NAN;
    cell(cut, " %.1f%% |");
    printf(" %d | %ld |", r->iterations, r->evaluations);
    cell(r->seconds, " %.3f |");
    cell(r->seconds_total, " %.3f |\n");
}

static void header(void) {
    printf("| data | method | R² | MAE (Mtok) | R² held-out | MAE held-out | loss cut | iterations | equilibrium solves "
           "| fit s | fit + k folds s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
}

static int run_all(const char *name, const PrillmObservations *obs, int quick) {
    for (int method = 0; method < 6; method++) {
        PrillmCalibrationSettings st;
        prillm_calibration_default_settings(&st);
        st.method = method;
        if (quick) st.iterations = 20, st.xgb_rounds = 20, st.folds = 2;
        PrillmCalibrationResult *res = NULL;
        PrillmError err;
        if (prillm_calibrate(obs, &st, NULL, NULL, &res, &err)) {
            fprintf(stderr, "bench_calibrate: %s: %s\n", prillm_calibration_method_name(method), err.message);
            return 1;
        }
        row(name, prillm_calibration_method_name(method), res);
        prillm_calibration_result_free(res);
    }
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0;
    const char *dir = NULL;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = 1;
        else if (strcmp(argv[k], "--data") == 0 && k + 1 < argc) dir = argv[++k];
        else {
            fprintf(stderr, "usage: bench_calibrate [--quick] [--data DIR]\n");
            return 2;
        }
    }
    char path[1024];
    if (!dir) {
        const char *src = getenv("PRILLM_SOURCE_DIR");
        snprintf(path, sizeof path, "%s/../shared/data/openrouter", src ? src : ".");
        dir = path;
    }
    struct stat st_dir;
    int have_real = stat(dir, &st_dir) == 0;
    PrillmError err;
    printf("## Calibration: PriLLM and baselines, same data, same evaluation\n\n");
    printf("k-fold held-out over observed cells (k = %d, seed 1); in-sample = fit on every observed cell.\n\n",
           quick ? 2 : 5);
    header();
    PrillmObservations *real = NULL;
    if (have_real) {
        if (prillm_observations_read(dir, NULL, NULL, NULL, &real, &err)) {
            fprintf(stderr, "bench_calibrate: %s: %s\n", dir, err.message);
            return 1;
        }
        if (run_all("OpenRouter 2026-07-07, 20x20", real, quick)) return 1;
    } else {
        fprintf(stderr, "bench_calibrate: %s absent: real-data rows skipped\n", dir);
    }
    PrillmObservations *syn = NULL;
    int size = quick ? 8 : 20;
    if (prillm_observations_synthetic(size, size, quick ? 2 : 5, 0.8, 0.5, NULL, 0.1, 5, 2026, &syn, &err)) {
        fprintf(stderr, "bench_calibrate: synthetic: %s\n", err.message);
        return 1;
    }
    char name[64];
    snprintf(name, sizeof name, "synthetic %dx%dx%d, noise 0.1", size, size, quick ? 2 : 5);
    if (run_all(name, syn, quick)) return 1;
    prillm_observations_free(syn);
    if (real) {
        printf("\n## Market-building choices on the OpenRouter data (PriLLM)\n\n");
        header();
        static const char *capacity[] = {"tokens-per-throughput", "tokens", "throughput"};
        for (int c = 0; c < 3; c++)
            for (int censor = 0; censor < 2; censor++) {
                PrillmCalibrationSettings st;
                prillm_calibration_default_settings(&st);
                st.capacity = c;
                st.censoring = censor;
                if (quick) st.iterations = 20, st.folds = 2;
                PrillmObservations *obs = NULL;
                PrillmCalibrationResult *res = NULL;
                if (prillm_observations_read(dir, &st, NULL, NULL, &obs, &err) ||
                    prillm_calibrate(obs, &st, NULL, NULL, &res, &err)) {
                    fprintf(stderr, "bench_calibrate: %s\n", err.message);
                    return 1;
                }
                snprintf(name, sizeof name, "capacity %s, censoring %s", capacity[c], censor ? "missing" : "upper");
                row("OpenRouter", name, res);
                prillm_calibration_result_free(res);
                prillm_observations_free(obs);
            }
        prillm_observations_free(real);
    }
    return 0;
}
