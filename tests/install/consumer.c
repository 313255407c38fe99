/* A program that uses an installed prillm, built outside the project by
 * tests/install/check_install.sh (with pkg-config, and with a CMake project
 * calling find_package(prillm)): read a market, solve its equilibrium, price
 * one provider with the exact method, print the price.
 *
 *   consumer MARKET.json TARGET   prints "price <shortest exact decimal>"
 *
 * Only the public API: the installed libprillm.so exports nothing else. */
#include <stdio.h>
#include <stdlib.h>

#include <prillm/prillm.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: consumer MARKET.json TARGET\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    PrillmError err;
    PrillmMarket *mk = NULL;
    PrillmErrorCode rc = prillm_market_read_json(in, NULL, NULL, &mk, &err);
    fclose(in);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        return 1;
    }
    int target = prillm_market_provider_index(mk, argv[2]);
    if (target < 0) {
        fprintf(stderr, "no provider %s\n", argv[2]);
        prillm_market_free(mk);
        return 1;
    }

    /* the apps' equilibrium at the prices as given */
    PrillmEquilibriumSettings eq_settings;
    prillm_equilibrium_default_settings(&eq_settings);
    PrillmEquilibriumSolver *solver = NULL;
    rc = prillm_equilibrium_setup(&solver, mk, &eq_settings, &err);
    if (!rc) rc = prillm_equilibrium_solve(solver, &err);
    if (rc || prillm_equilibrium_solution(solver)->info.status != PRILLM_STATUS_SOLVED) {
        fprintf(stderr, "equilibrium: %s\n", rc ? err.message : "not solved");
        prillm_equilibrium_cleanup(solver);
        prillm_market_free(mk);
        return 1;
    }
    char text[32];
    fprintf(stderr, "prillm %s: %s carries %s at its current price\n", prillm_version(), argv[2],
            prillm_format_double(prillm_equilibrium_solution(solver)->provider_flow[target], text, sizeof text));
    prillm_equilibrium_cleanup(solver);

    /* the target's profit-maximising price, exactly */
    PrillmPriceSettings settings;
    prillm_price_default_settings(&settings);
    settings.method = PRILLM_PRICE_EXACT;
    PrillmPriceResult result;
    rc = prillm_price(mk, target, &settings, &result, &err);
    prillm_market_free(mk);
    if (rc) {
        fprintf(stderr, "price: %s\n", err.message);
        return 1;
    }
    printf("price %s\n", prillm_format_double(result.price, text, sizeof text));
    int solved = result.status == PRILLM_STATUS_SOLVED;
    prillm_price_result_clear(&result);
    return solved ? 0 : 1;
}
