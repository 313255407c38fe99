/* The pricing option table: defaults, bounds, help and CLI flags. */
#include <string.h>

#include "pricing_internal.h"

#define OFFSET(field) offsetof(PrillmPriceSettings, field)
static const PrillmOptionInfo price_options[] = {
    {"method", PRILLM_OPTION_CHOICE, PRILLM_PRICE_EXACT, 0, PRILLM_PRICE_METHOD_COUNT - 1,
     "exact|grid|bf|spiter|pmpec|smooth|odca|spgce|da|min|avg", "pricing method (see the list below)",
     OFFSET(method)},
    {"pmax", PRILLM_OPTION_DOUBLE, 0, 0, PRILLM_MAX_MAGNITUDE, NULL,
     "upper end of the price range, USD/Mtok (0 = a price at which the target surely has no traffic)",
     OFFSET(p_max)},
    {"grid-points", PRILLM_OPTION_INT, 1001, 2, 100000000, NULL, "grid: prices evaluated, both ends included",
     OFFSET(grid_points)},
    {"start-price", PRILLM_OPTION_DOUBLE, -1, -1, PRILLM_MAX_MAGNITUDE, NULL,
     "spiter, pmpec, smooth: starting price (negative = the target's current price)", OFFSET(start_price)},
    {"tolerance", PRILLM_OPTION_DOUBLE, 1e-9, 1e-15, 1e-3, NULL,
     "relative tolerance deciding that two breakpoints coincide", OFFSET(tolerance)},
    {"bf-max-patterns", PRILLM_OPTION_DOUBLE, 2e6, 1, 1e12, NULL,
     "bf: refuse markets with more support patterns than this ((2^m-1)^n)", OFFSET(bf_max_patterns)},
    {"epsilon", PRILLM_OPTION_DOUBLE, 1e-7, 1e-12, 1, NULL,
     "pmpec: bound on each relaxed complementarity product (Pyomo's default)", OFFSET(epsilon)},
    {"time-limit", PRILLM_OPTION_DOUBLE, 0, 0, 1e9, NULL, "seconds before giving up (0 = no limit)",
     OFFSET(time_limit)},
    {"max-pieces", PRILLM_OPTION_INT, 1000000, 1, 2000000000, NULL,
     "exact: pieces of the profit curve walked before giving up", OFFSET(max_pieces)},
    {"k", PRILLM_OPTION_INT, 2, 1, 1000000, NULL, "da, min, avg: rivals kept in the abstracted market", OFFSET(k)},
    {"prune", PRILLM_OPTION_INT, -1, -1, 1, NULL,
     "exact: walk only the price intervals that can hold the optimum (1), the whole range (0), or 1 above 50 "
     "app x model pairs (-1)",
     OFFSET(prune)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 2, NULL, "progress on stderr (0 quiet, 1 summary, 2 every piece)",
     OFFSET(verbose)},
    {"da-check", PRILLM_OPTION_INT, 1, 0, 1, NULL,
     "da: check the price against exact solves near it; fall back to exact pricing when it falls short (1 on, 0 off)",
     OFFSET(da_check)},
    {"da-check-tolerance", PRILLM_OPTION_DOUBLE, 0.05, 0, 1, NULL,
     "da: fall back when da's profit is below (1 - this) x the best nearby exact point (else keep the best point)",
     OFFSET(da_check_tolerance)},
    {"da-check-step", PRILLM_OPTION_DOUBLE, 0.1, 1e-6, 1, NULL,
     "da: the check's points are da's price x (1 -/+ step) and the parabola's vertex through them",
     OFFSET(da_check_step)},
    {"row-bounds", PRILLM_OPTION_INT, -1, -1, 64, NULL,
     "exact, spiter: bound each app's unused models instead of reading all of them at every piece (1; N >= 2: list N "
     "models an app instead of its active ones and 4 more, at least 10), read all (0), or 1 from 64 models (-1); the same answer either way",
     OFFSET(row_bounds)},
    {"join-current", PRILLM_OPTION_INT, 0, 0, 1, NULL,
     "exact, pruned: also walk the prices between the optimum and today's that pruning leaves out, so the curve joins "
     "them (1), or not (0); the same answer either way",
     OFFSET(join_current)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_price_options(int *count) {
    if (count) *count = (int)(sizeof price_options / sizeof price_options[0]);
    return price_options;
}

void prillm_price_default_settings(PrillmPriceSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(price_options, (int)(sizeof price_options / sizeof price_options[0]), settings);
}

PrillmErrorCode prillm_price_set_option(PrillmPriceSettings *settings, const char *name, const char *value,
                                        PrillmError *err) {
    return prillm_options_set(price_options, (int)(sizeof price_options / sizeof price_options[0]), settings, name,
                              value, err);
}

PrillmErrorCode prillm_price_check_settings(const PrillmPriceSettings *settings, PrillmError *err) {
    return prillm_options_check(price_options, (int)(sizeof price_options / sizeof price_options[0]), settings, err);
}

const char *prillm_price_check_name(int check) {
    static const char *const names[] = {"off", "passed", "fallback", "skipped"};
    return check >= 0 && check < 4 ? names[check] : "unknown";
}

const char *prillm_price_method_name(int method) {
    static const char *const names[] = {
#define PRILLM_PRICE_METHOD_NAME(id, name, help) name,
        PRILLM_PRICE_METHOD_LIST(PRILLM_PRICE_METHOD_NAME)
#undef PRILLM_PRICE_METHOD_NAME
    };
    return method >= 0 && method < PRILLM_PRICE_METHOD_COUNT ? names[method] : "unknown";
}
