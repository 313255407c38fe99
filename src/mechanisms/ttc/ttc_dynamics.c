/* The pay-per-compute market game solved as the reference code does: every
 * provider starts at its lowest TTC level; each round visits the providers
 * in a random order, and each moves to the nearest level (distance 1, 2,
 * ...; the lower one first) that raises its utility. Because
 * prillm_ttc_potential is an exact potential of the log-utilities, every
 * move raises it, so the dynamics cannot cycle and end at a pure Nash
 * equilibrium. The welfare optimum is found by enumeration. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/ttc.h"
#include "random.h"

/* ---- options ---------------------------------------------------------- */

#define OFFSET(field) offsetof(PrillmTtcSettings, field)
static const PrillmOptionInfo ttc_options[] = {
    {"max-rounds", PRILLM_OPTION_INT, 1000, 1, 1e8, NULL, "rounds of the improvement dynamics before giving up",
     OFFSET(max_rounds)},
    {"tolerance", PRILLM_OPTION_DOUBLE, 1e-8, 0, 1e-1, NULL,
     "a move must raise the provider's utility u to more than u + tolerance |u|", OFFSET(tolerance)},
    {"zero-margin", PRILLM_OPTION_DOUBLE, 1e-9, 0, 1, NULL,
     "... or to more than this when u = 0 (USD per query)", OFFSET(zero_margin)},
    {"seed", PRILLM_OPTION_INT, 0, 0, 2147483647, NULL, "seed of the random order in which providers move",
     OFFSET(seed)},
    {"max-profiles", PRILLM_OPTION_DOUBLE, 1e8, 0, 1e15, NULL,
     "largest number of profiles enumerated for the welfare optimum (beyond it PoA is null)", OFFSET(max_profiles)},
};
#undef OFFSET

const PrillmOptionInfo *prillm_ttc_options(int *count) {
    if (count) *count = (int)(sizeof ttc_options / sizeof ttc_options[0]);
    return ttc_options;
}

#define TTC_OPTION_COUNT ((int)(sizeof ttc_options / sizeof ttc_options[0]))

void prillm_ttc_default_settings(PrillmTtcSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(ttc_options, TTC_OPTION_COUNT, settings);
}

PrillmErrorCode prillm_ttc_set_option(PrillmTtcSettings *settings, const char *name, const char *value,
                                      PrillmError *err) {
    return prillm_options_set(ttc_options, TTC_OPTION_COUNT, settings, name, value, err);
}

PrillmErrorCode prillm_ttc_check_settings(const PrillmTtcSettings *settings, PrillmError *err) {
    return prillm_options_check(ttc_options, TTC_OPTION_COUNT, settings, err);
}

/* ---- dynamics --------------------------------------------------------- */

void prillm_ttc_market_result_free(PrillmTtcMarketResult *r) {
    if (!r) return;
    prillm_ttc_outcome_free(r->equilibrium);
    prillm_ttc_outcome_free(r->optimum);
    free(r);
}

/* Provider i's nearest improving level, or its current one. */
static int nearest_improvement(const PrillmTtcMarket *mk, const PrillmTtcSettings *s, const int *level, int i) {
    double u = prillm_ttc_utility(mk, level, i, level[i]);
    double threshold = u != 0 ? u + s->tolerance * fabs(u) : s->zero_margin;
    int here = level[i], levels = mk->n_levels[i];
    for (int d = 1; d < levels; d++) {
        if (here - d < 0 && here + d >= levels) break;
        if (here - d >= 0 && prillm_ttc_utility(mk, level, i, here - d) > threshold) return here - d;
        if (here + d < levels && prillm_ttc_utility(mk, level, i, here + d) > threshold) return here + d;
    }
    return here;
}

PrillmErrorCode prillm_ttc_market_solve(const PrillmTtcMarket *mk, const PrillmTtcSettings *settings,
                                        PrillmTtcMoveFn on_move, void *move_context, PrillmTtcMarketResult **result,
                                        PrillmError *err) {
    if (!result) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    *result = NULL;
    PrillmErrorCode rc;
    if ((rc = prillm_ttc_market_validate(mk, err))) return rc;
    if (isnan(mk->beta)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "beta is missing (the market needs it)");
    PrillmTtcSettings s;
    if (settings) s = *settings;
    else prillm_ttc_default_settings(&s);
    if ((rc = prillm_ttc_check_settings(&s, err))) return rc;
    double t0 = prillm__now();
    int n = mk->n_models;
    PrillmTtcMarketResult *r = calloc(1, sizeof *r);
    int *level = calloc((size_t)n, sizeof *level), *order = calloc((size_t)n, sizeof *order);
    if (!r || !level || !order || !(r->equilibrium = prillm_ttc_outcome_alloc(n, err))) {
        prillm_ttc_market_result_free(r);
        free(level), free(order);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory solving the TTC market");
    }
    PrillmRng rng = {(uint64_t)s.seed * 0x2545f4914f6cdd1dULL + 1};
    r->status = PRILLM_STATUS_INACCURATE;
    for (int round = 1; round <= s.max_rounds; round++) {
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(prillm__rng_next(&rng) % (uint64_t)(i + 1));
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        int moved = 0;
        for (int v = 0; v < n; v++) {
            int i = order[v], from = level[i], to = nearest_improvement(mk, &s, level, i);
            if (to == from) continue;
            level[i] = to;
            moved = 1;
            r->moves++;
            if (on_move) on_move(move_context, round, i, from, to, level, prillm_ttc_potential(mk, level));
        }
        r->rounds = round;
        if (!moved) {
            r->status = PRILLM_STATUS_SOLVED;
            break;
        }
    }
    rc = prillm_ttc_evaluate(mk, level, r->equilibrium, err);
    r->price_of_anarchy = NAN;
    if (rc == PRILLM_OK) {
        double opt_welfare;
        PrillmErrorCode opt_rc = prillm_ttc_welfare_optimum(mk, s.max_profiles, level, &opt_welfare, NULL);
        if (opt_rc == PRILLM_OK) {
            r->profiles = 1;
            for (int i = 0; i < n; i++) r->profiles *= mk->n_levels[i];
            if (!(r->optimum = prillm_ttc_outcome_alloc(n, err))) rc = PRILLM_ERR_NO_MEMORY;
            else rc = prillm_ttc_evaluate(mk, level, r->optimum, err);
            /* the enumeration ranks profiles with a faster sum; should the
             * equilibrium tie the optimum to round-off, it is the optimum */
            if (rc == PRILLM_OK && r->equilibrium->welfare > r->optimum->welfare)
                rc = prillm_ttc_evaluate(mk, r->equilibrium->level, r->optimum, err);
            if (rc == PRILLM_OK)
                r->price_of_anarchy =
                    r->equilibrium->welfare <= 1e-9 ? 1.0 : r->optimum->welfare / r->equilibrium->welfare;
        } else if (opt_rc != PRILLM_ERR_TOO_LARGE) {
            rc = prillm__fail(err, opt_rc, "out of memory enumerating profiles");
        }
    }
    free(level), free(order);
    if (rc) {
        prillm_ttc_market_result_free(r);
        return rc;
    }
    r->seconds = prillm__now() - t0;
    *result = r;
    return PRILLM_OK;
}
