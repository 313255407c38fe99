/* The rows of prillm price --all (cli/cmd_price_all.c), shared with the MPI
 * sweep (sweep/, prillm-sweep providers), which prints the same table from
 * results gathered over ranks: one printer, so the two agree byte for
 * byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static double ratio_of(const PrillmPriceResult *r) {
    return r->current_price > 0 && !isnan(r->price) ? r->price / r->current_price : NAN;
}

static void print_rows_json(FILE *out, const PrillmMarket *mk, const int *targets, int n, const PrillmPriceResult *res,
                            const PrillmError *errors, int timing) {
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
            {"walked_fraction", r->walked_fraction}, {"seconds", timing ? r->seconds : NAN},
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

int prillm_cli_price_rows_print(FILE *out, const PrillmMarket *mk, const int *targets, int n,
                                const PrillmPriceResult *res, const PrillmError *errors, int format, int timing) {
    int solved = 0, failed = 0, count = 0;
    for (int k = 0; k < n; k++) {
        if (errors[k].code != PRILLM_OK) failed++;
        else solved += res[k].status == PRILLM_STATUS_SOLVED;
    }
    double med = median_ratio(targets, n, res, errors, &count);
    char cell[PRILLM_CLI_CELL]; /* ids as table cells */
    if (format == 2) {
        fprintf(out, "%-44s %-10s %11s %11s %7s %12s %12s %8s\n", "target", "status", "current", "optimal", "ratio",
               "profit now", "profit opt", "uplift");
        for (int k = 0; k < n; k++) {
            const PrillmPriceResult *r = &res[k];
            if (errors[k].code != PRILLM_OK) {
                fprintf(out, "%-44.44s error: %s\n", prillm_cli_cell(mk->provider_id[targets[k]], cell),
                        errors[k].message);
                continue;
            }
            fprintf(out, "%-44.44s %-10s %11.5g %11.5g %7.3g %12.6g %12.6g %+7.1f%%\n",
                    prillm_cli_cell(mk->provider_id[targets[k]], cell),
                   prillm_status_name(r->status), r->current_price, r->price, ratio_of(r), r->current_profit,
                   r->profit, 100 * r->uplift_relative);
        }
        fprintf(out, "%d targets: %d solved, %d not solved, %d errors; median optimal / current price %.3g over %d with a "
               "current price\n",
               n, solved, n - solved - failed, failed, med, count);
    } else if (format == 1) {
        fprintf(out, "id,status,current_price,price,ratio,current_profit,profit,uplift_relative\n");
        for (int k = 0; k < n; k++) {
            const PrillmPriceResult *r = &res[k];
            prillm__csv_field(out, mk->provider_id[targets[k]]);
            fprintf(out, ",%s", errors[k].code != PRILLM_OK ? "error" : prillm_status_name(r->status));
            const double row[] = {r->current_price, r->price, ratio_of(r), r->current_profit, r->profit,
                                  r->uplift_relative};
            for (int q = 0; q < 6; q++) {
                fputc(',', out);
                if (errors[k].code == PRILLM_OK) prillm__json_number(out, row[q]);
            }
            fputc('\n', out);
        }
    } else {
        print_rows_json(out, mk, targets, n, res, errors, timing);
        fprintf(out, ",\n  \"solved\": %d, \"not_solved\": %d, \"errors\": %d, \"median_ratio\": ", solved,
               n - solved - failed, failed);
        prillm__json_number(out, med);
        fprintf(out, "\n}\n");
    }
    return failed ? EXIT_FAILED : solved < n ? EXIT_INACCURATE : EXIT_SOLVED;
}
