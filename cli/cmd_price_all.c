/* prillm price MARKET --all: every provider (or every paid one) priced with
 * its rivals fixed, in parallel (prillm_price_all), one row each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_document.h"

static double ratio_of(const PrillmPriceResult *r) {
    return r->current_price > 0 && !isnan(r->price) ? r->price / r->current_price : NAN;
}

static void print_rows_json(FILE *out, const PrillmMarket *mk, const int *targets, int n, const PrillmPriceResult *res,
                            const PrillmError *errors) {
    fputs("{\n  \"targets\": [", out);
    for (int k = 0; k < n; k++) {
        const PrillmPriceResult *r = &res[k];
        fputs(k ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[targets[k]]);
        if (errors[k].code != PRILLM_OK) {
            fputs(", \"error\": ", out);
            prillm__json_string(out, errors[k].message);
            fputs("}", out);
            continue;
        }
        fprintf(out, ", \"status\": \"%s\"", prillm_status_name(r->status));
        const struct {
            const char *name;
            double value;
        } fields[] = {
            {"current_price", r->current_price}, {"price", r->price},
            {"ratio", ratio_of(r)},              {"current_profit", r->current_profit},
            {"profit", r->profit},               {"uplift_relative", r->uplift_relative},
            {"flow", r->flow},                   {"curve_residual", r->curve_residual},
            {"walked_fraction", r->walked_fraction}, {"seconds", r->seconds},
        };
        for (size_t q = 0; q < sizeof fields / sizeof fields[0]; q++) {
            fprintf(out, ", \"%s\": ", fields[q].name);
            prillm__json_number(out, fields[q].value);
        }
        fputs(", \"warnings\": [", out);
        int w = 0;
        for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
            if (r->warnings & bit) fprintf(out, "%s\"%s\"", w++ ? ", " : "", prillm_price_warning_name(bit));
        fputs("]}", out);
    }
    fputs("\n  ]", out);
}

/* The median of the optimal / current price ratios of the solved rows. */
static double median_ratio(const int *targets, int n, const PrillmPriceResult *res, const PrillmError *errors,
                           int *count) {
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    int c = 0;
    for (int k = 0; x && k < n; k++)
        if (errors[k].code == PRILLM_OK && isfinite(ratio_of(&res[k]))) x[c++] = ratio_of(&res[k]);
    (void)targets;
    for (int a = 1; a < c; a++) /* insertion sort: a few hundred rows */
        for (int b = a; b > 0 && x[b - 1] > x[b]; b--) {
            double t = x[b];
            x[b] = x[b - 1];
            x[b - 1] = t;
        }
    double med = c == 0 ? NAN : c % 2 ? x[c / 2] : 0.5 * (x[c / 2 - 1] + x[c / 2]);
    free(x);
    *count = c;
    return med;
}

int prillm_cli_price_all(const PrillmMarket *mk, const PrillmPriceSettings *settings, int paid_only, int threads,
                         int format) {
    int *targets = calloc((size_t)(mk->n_providers > 0 ? mk->n_providers : 1), sizeof *targets);
    PrillmPriceResult *res = calloc((size_t)(mk->n_providers > 0 ? mk->n_providers : 1), sizeof *res);
    PrillmError *errors = calloc((size_t)(mk->n_providers > 0 ? mk->n_providers : 1), sizeof *errors);
    if (!targets || !res || !errors) {
        free(targets);
        free(res);
        free(errors);
        fprintf(stderr, "prillm: error: out of memory\n");
        return EXIT_FAILED;
    }
    int n = 0;
    for (int j = 0; j < mk->n_providers; j++)
        if (!paid_only || mk->price[j] > 0) targets[n++] = j;
    PrillmError err;
    PrillmErrorCode rc = prillm_price_all(mk, settings, targets, n, threads, res, errors, &err);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        free(targets);
        free(res);
        free(errors);
        return prillm_cli_exit_for_error(rc);
    }
    int solved = 0, failed = 0, count = 0;
    for (int k = 0; k < n; k++) {
        if (errors[k].code != PRILLM_OK) failed++;
        else solved += res[k].status == PRILLM_STATUS_SOLVED;
    }
    double med = median_ratio(targets, n, res, errors, &count);
    if (format == 2) {
        printf("%-44s %-10s %11s %11s %7s %12s %12s %8s\n", "target", "status", "current", "optimal", "ratio",
               "profit now", "profit opt", "uplift");
        for (int k = 0; k < n; k++) {
            const PrillmPriceResult *r = &res[k];
            if (errors[k].code != PRILLM_OK) {
                printf("%-44.44s error: %s\n", mk->provider_id[targets[k]], errors[k].message);
                continue;
            }
            printf("%-44.44s %-10s %11.5g %11.5g %7.3g %12.6g %12.6g %+7.1f%%\n", mk->provider_id[targets[k]],
                   prillm_status_name(r->status), r->current_price, r->price, ratio_of(r), r->current_profit,
                   r->profit, 100 * r->uplift_relative);
        }
        printf("%d targets: %d solved, %d not solved, %d errors; median optimal / current price %.3g over %d with a "
               "current price\n",
               n, solved, n - solved - failed, failed, med, count);
    } else if (format == 1) {
        printf("id,status,current_price,price,ratio,current_profit,profit,uplift_relative\n");
        for (int k = 0; k < n; k++) {
            const PrillmPriceResult *r = &res[k];
            prillm__csv_field(stdout, mk->provider_id[targets[k]]);
            printf(",%s", errors[k].code != PRILLM_OK ? "error" : prillm_status_name(r->status));
            const double row[] = {r->current_price, r->price, ratio_of(r), r->current_profit, r->profit,
                                  r->uplift_relative};
            for (int q = 0; q < 6; q++) {
                fputc(',', stdout);
                if (errors[k].code == PRILLM_OK) prillm__json_number(stdout, row[q]);
            }
            fputc('\n', stdout);
        }
    } else {
        print_rows_json(stdout, mk, targets, n, res, errors);
        printf(",\n  \"solved\": %d, \"not_solved\": %d, \"errors\": %d, \"median_ratio\": ", solved,
               n - solved - failed, failed);
        prillm__json_number(stdout, med);
        printf("\n}\n");
    }
    for (int k = 0; k < n; k++)
        if (errors[k].code == PRILLM_OK) prillm_price_result_clear(&res[k]);
    free(targets);
    free(res);
    free(errors);
    return failed ? EXIT_FAILED : solved < n ? EXIT_INACCURATE : EXIT_SOLVED;
}
