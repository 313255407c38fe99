/*
 * libFuzzer target: any bytes into the market reader (JSON, or the binary
 * form when the bytes start with its magic), and whatever it
 * accepts (if small) into the equilibrium solver and exact pricing.
 *
 * The reader promises a market that the solver can take: validation is
 * meant to rule out everything that would make the solve fail or produce
 * non-finite or negative flows. So a parsed market that solves to "failed",
 * or to flows that are NaN or negative, is a bug in one of the two, and the
 * target traps on it just as it would on a sanitizer report.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <prillm/prillm.h>

/* OpenBLAS's own threads only add noise (and cost) at these sizes. */
void openblas_set_num_threads(int num_threads);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore_warning(void *context, const char *message) {
    (void)context;
    (void)message;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    openblas_set_num_threads(1);
    return 0;
}

/* Larger markets parse fine but each solve would cost more than the
 * fuzzer's per-input budget; the parser is still exercised on them. */
enum { MAX_PAIRS = 400, MAX_PRICING_PAIRS = 60 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    PrillmMarket *market = NULL;
    PrillmError err;
    PrillmErrorCode rc = prillm_market_parse(data, size, ignore_warning, NULL, &market, &err);
    if (rc != PRILLM_OK) {
        /* the contract: on failure no market is handed back */
        if (market) __builtin_trap();
        return 0;
    }
    if (!market) __builtin_trap();
    if ((long)market->n_users * market->n_providers > MAX_PAIRS) {
        prillm_market_free(market);
        return 0;
    }
    int equilibrium_solved = 0;
    PrillmEquilibriumSolver *solver = NULL;
    rc = prillm_equilibrium_setup(&solver, market, NULL, &err);
    /* the parser already validated the market, so setup may only fail for
     * lack of memory */
    if (rc != PRILLM_OK && rc != PRILLM_ERR_NO_MEMORY) __builtin_trap();
    if (rc == PRILLM_OK) {
        rc = prillm_equilibrium_solve(solver, &err);
        if (rc != PRILLM_OK && rc != PRILLM_ERR_NO_MEMORY) __builtin_trap();
        if (rc == PRILLM_OK) {
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
                __builtin_trap();
            equilibrium_solved = eq->info.status == PRILLM_STATUS_SOLVED;
            /* "solved" is a certificate: it has to hold up */
            PrillmEquilibriumSettings defaults;
            prillm_equilibrium_default_settings(&defaults);
            if (eq->info.status == PRILLM_STATUS_SOLVED && !(eq->info.kkt_violation <= defaults.tolerance))
                __builtin_trap();
            size_t pairs = (size_t)market->n_users * (size_t)market->n_providers;
            for (size_t k = 0; k < pairs; k++)
                if (!isfinite(eq->flows[k]) || eq->flows[k] < 0) __builtin_trap();
        }
        prillm_equilibrium_cleanup(solver);
    }
    /* exact pricing of the first provider: it must finish with a price in
     * range and, when it says solved, a curve that matches the solver. It
     * may give up (status failed) only where the equilibrium itself could
     * not be certified or the demands are beyond double precision. */
    if (market->n_providers >= 2 && (long)market->n_users * market->n_providers <= MAX_PRICING_PAIRS) {
        PrillmPriceSettings settings;
        prillm_price_default_settings(&settings);
        settings.max_pieces = 20000;
        PrillmPriceResult result;
        rc = prillm_price(market, 0, &settings, &result, &err);
        if (rc != PRILLM_OK && rc != PRILLM_ERR_NO_MEMORY && !(rc == PRILLM_ERR_INVALID_DATA && !(market->w_price > 0)))
            __builtin_trap();
        if (rc == PRILLM_OK) {
            double lo = INFINITY, hi = 0;
            for (int i = 0; i < market->n_users; i++)
                if (market->demand[i] > 0) {
                    lo = fmin(lo, market->demand[i]);
                    hi = fmax(hi, market->demand[i]);
                }
            double cap_lo = INFINITY, cap_hi = 0;
            for (int j = 0; j < market->n_providers; j++) {
                cap_lo = fmin(cap_lo, market->capacity[j]);
                cap_hi = fmax(cap_hi, market->capacity[j]);
            }
            /* demands more than about 1e12 apart, or capacities more than
             * about 1e9 apart, are beyond the walk's arithmetic
             * (docs/pricing.md, limits) */
            double total = 0;
            for (int i = 0; i < market->n_users; i++) total += market->demand[i];
            /* ... and so is a model whose congestion is below round-off
             * (capacity beyond 1e9 times the whole market's demand), and a
             * market whose capacity spread times demand spread passes 1e12
             * (a tiny app on a huge model) ... and so is a price range
             * (w_price p_max, set by the rivals' prices) more than 1e12
             * times the smallest congestion cost of the whole demand
             * (w_congestion total / cap_hi): near the choke price the
             * congestion that splits the demand is then below the costs'
             * round-off, the game is numerically linear there, as with the
             * huge capacity above (a rival priced at 7.8e36 against
             * congestion costs of order 1; measured on random small
             * markets, the walk first fails at about 4e13) */
            double price_range = fabs(market->w_price) * result.p_max;
            double congestion_lo = market->w_congestion * total / cap_hi;
            int resolvable = !(hi > 1e12 * lo) && !(cap_hi > 1e9 * cap_lo) && !(cap_hi > 1e9 * total) &&
                             !((cap_hi / cap_lo) * (hi / lo) > 1e12) &&
                             !(total > 0 && price_range > 1e12 * congestion_lo);
            if (result.status == PRILLM_STATUS_FAILED && equilibrium_solved && resolvable) __builtin_trap();
            if (result.status != PRILLM_STATUS_FAILED &&
                (!(result.price >= 0 && result.price <= result.p_max) || !isfinite(result.profit)))
                __builtin_trap();
            if (result.status == PRILLM_STATUS_SOLVED && !(result.curve_residual <= 1e-7)) __builtin_trap();
            prillm_price_result_clear(&result);
        }
    }
    prillm_market_free(market);
    return 0;
}
