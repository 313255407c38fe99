/* prillm price MARKET --all: every provider (or every paid one) priced with
 * its rivals fixed, in parallel (prillm_price_all), one row each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_document.h"

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
    if (n == 0) {
        /* an empty table would read as if pricing had found nothing to say */
        fprintf(stderr, "prillm: error: --paid: no provider has a price above 0 (--all prices every one)\n");
        free(targets);
        free(res);
        free(errors);
        return EXIT_BAD_INPUT;
    }
    PrillmError err;
    PrillmErrorCode rc = prillm_price_all(mk, settings, targets, n, threads, res, errors, &err);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        free(targets);
        free(res);
        free(errors);
        return prillm_cli_exit_for_error(rc);
    }
    int code = prillm_cli_price_rows_print(stdout, mk, targets, n, res, errors, format, 1);
    for (int k = 0; k < n; k++)
        if (errors[k].code == PRILLM_OK) prillm_price_result_clear(&res[k]);
    free(targets);
    free(res);
    free(errors);
    return code;
}
