/* The competition option table: defaults, bounds, help and CLI flags. */
#include <string.h>

#include "internal.h"
#include "prillm/compete.h"

#define OFFSET(field) offsetof(PrillmCompeteSettings, field)
static const PrillmOptionInfo compete_options[] = {
    {"order", PRILLM_OPTION_CHOICE, PRILLM_COMPETE_GAUSS_SEIDEL, 0, PRILLM_COMPETE_ORDER_COUNT - 1,
     "gauss-seidel|jacobi", "who sees which prices within a round (see below)", OFFSET(order)},
    {"damping", PRILLM_OPTION_DOUBLE, 1, 1e-6, 1,
     NULL, "each step moves a price this fraction of the way to its best response", OFFSET(damping)},
    {"max-rounds", PRILLM_OPTION_INT, 200, 1, 1000000, NULL, "rounds before giving up (status round_limit)",
     OFFSET(max_rounds)},
    {"time-limit", PRILLM_OPTION_DOUBLE, 0, 0, 1e9, NULL,
     "seconds of rounds before giving up (0 = no limit; the certificate comes after)", OFFSET(time_limit)},
    {"tolerance", PRILLM_OPTION_DOUBLE, 1e-10, 1e-15, 1e-2, NULL,
     "converged when every best response is within this of its price (relative to max(1, price))",
     OFFSET(tolerance)},
    {"profit-tolerance", PRILLM_OPTION_DOUBLE, 1e-8, 1e-15, 1e-1, NULL,
     "... and no leader's profit moved more than this (relative) in the last round", OFFSET(profit_tolerance)},
    {"certificate", PRILLM_OPTION_DOUBLE, 1e-6, 0, 1, NULL,
     "certified when no leader gains more than this (relative) by a unilateral deviation", OFFSET(certificate)},
    {"owner-sweeps", PRILLM_OPTION_INT, 50, 1, 100000, NULL,
     "owners: coordinate-ascent sweeps over their models per best response", OFFSET(owner_sweeps)},
    {"pair-grid", PRILLM_OPTION_INT, 11, 0, 1000, NULL,
     "owners: grid points per price in the certificate's check over pairs of models (0 or 1 = none)",
     OFFSET(pair_grid)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 2, NULL, "progress on stderr (0 quiet, 1 rounds, 2 every best response)",
     OFFSET(verbose)},
    {"threads", PRILLM_OPTION_INT, 0, 0, 1024, NULL,
     "best responses computed at once: a Jacobi round's and the certificate's (0 = OMP_NUM_THREADS or all cores; "
     "the result does not depend on it, but for where a --time-limit stops the run)",
     OFFSET(threads)},
};
#undef OFFSET
#define N_OPTIONS ((int)(sizeof compete_options / sizeof compete_options[0]))

const PrillmOptionInfo *prillm_compete_options(int *count) {
    if (count) *count = N_OPTIONS;
    return compete_options;
}

void prillm_compete_default_settings(PrillmCompeteSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(compete_options, N_OPTIONS, settings);
}

PrillmErrorCode prillm_compete_set_option(PrillmCompeteSettings *settings, const char *name, const char *value,
                                          PrillmError *err) {
    return prillm_options_set(compete_options, N_OPTIONS, settings, name, value, err);
}

PrillmErrorCode prillm_compete_check_settings(const PrillmCompeteSettings *settings, PrillmError *err) {
    if (!settings) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "settings is NULL");
    return prillm_options_check(compete_options, N_OPTIONS, settings, err);
}

const char *prillm_compete_order_name(int order) {
    static const char *const names[] = {
#define PRILLM_COMPETE_ORDER_NAME(id, name, help) name,
        PRILLM_COMPETE_ORDER_LIST(PRILLM_COMPETE_ORDER_NAME)
#undef PRILLM_COMPETE_ORDER_NAME
    };
    return order >= 0 && order < PRILLM_COMPETE_ORDER_COUNT ? names[order] : "unknown";
}

const char *prillm_compete_status_name(int status) {
    switch (status) {
    case PRILLM_COMPETE_CONVERGED: return "converged";
    case PRILLM_COMPETE_CYCLE: return "cycle";
    case PRILLM_COMPETE_ROUND_LIMIT: return "round_limit";
    case PRILLM_COMPETE_TIME_LIMIT: return "time_limit";
    case PRILLM_COMPETE_FAILED: return "failed";
    default: return "unknown";
    }
}
