/*
 * Training scenarios for the aggregation network: the base market with its
 * rivals perturbed (prices, capacities, values, delays; some rivals removed)
 * and the exact profit curve of the target at L sampled prices. Scenario s
 * draws from its own random stream (seed, s), so the set does not depend on
 * the thread count and a larger set extends a smaller one.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "prillm/aggregator.h"
#include "set_transformer.h"
#include "random.h"

#define OFFSET(field) offsetof(PrillmScenarioSettings, field)
static const PrillmOptionInfo scenario_options[] = {
    {"scenarios", PRILLM_OPTION_INT, 2000, 1, 1e7, NULL, "perturbed markets to build", OFFSET(scenarios)},
    {"prices", PRILLM_OPTION_INT, 8, 1, 1000, NULL, "L, sampled target prices per scenario", OFFSET(prices)},
    {"price-span", PRILLM_OPTION_DOUBLE, 1.0, 1e-6, 1e6, NULL,
     "target prices k/(L+1) * span * (price at which the target's sales reach 0), k = 1..L", OFFSET(price_span)},
    {"price-noise", PRILLM_OPTION_DOUBLE, 0.4, 0, 5, NULL, "rival price *= exp(noise N(0,1))", OFFSET(price_noise)},
    {"capacity-noise", PRILLM_OPTION_DOUBLE, 0.5, 0, 5, NULL, "rival capacity *= exp(noise N(0,1))",
     OFFSET(capacity_noise)},
    {"value-noise", PRILLM_OPTION_DOUBLE, 0.3, 0, 5, NULL, "rival value += noise (|value| + 0.1) N(0,1)",
     OFFSET(value_noise)},
    {"delay-noise", PRILLM_OPTION_DOUBLE, 0.3, 0, 5, NULL, "rival delays *= exp(noise N(0,1)), one draw per rival",
     OFFSET(delay_noise)},
    {"drop-probability", PRILLM_OPTION_DOUBLE, 0.2, 0, 0.95, NULL, "each rival removed with this probability",
     OFFSET(drop_probability)},
    {"seed", PRILLM_OPTION_INT, 1, 0, 2147483647, NULL, "random seed of the perturbations", OFFSET(seed)},
    {"random-share", PRILLM_OPTION_DOUBLE, 0.0, 0, 1, NULL,
     "share of scenarios built on a fresh random market of a drawn family instead of a base market",
     OFFSET(random_share)},
    {"random-min-users", PRILLM_OPTION_INT, 10, 1, 1e6, NULL, "random markets: fewest apps", OFFSET(random_min_users)},
    {"random-max-users", PRILLM_OPTION_INT, 1000, 1, 1e6, NULL, "random markets: most apps (log-uniform between)",
     OFFSET(random_max_users)},
    {"random-min-providers", PRILLM_OPTION_INT, 3, 2, 1e5, NULL, "random markets: fewest models",
     OFFSET(random_min_providers)},
    {"random-max-providers", PRILLM_OPTION_INT, 150, 2, 1e5, NULL,
     "random markets: most models (log-uniform between)", OFFSET(random_max_providers)},
};
#undef OFFSET
#define N_SCENARIO_OPTIONS ((int)(sizeof scenario_options / sizeof scenario_options[0]))

const PrillmOptionInfo *prillm_scenario_options(int *count) {
    if (count) *count = N_SCENARIO_OPTIONS;
    return scenario_options;
}

void prillm_scenario_default_settings(PrillmScenarioSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(scenario_options, N_SCENARIO_OPTIONS, settings);
}

PrillmErrorCode prillm_scenario_set_option(PrillmScenarioSettings *settings, const char *name, const char *value,
                                           PrillmError *err) {
    return prillm_options_set(scenario_options, N_SCENARIO_OPTIONS, settings, name, value, err);
}

void prillm_aggregator_scenarios_free(PrillmAggregatorScenarios *scenarios) {
    if (!scenarios || !scenarios->items) return;
    for (int s = 0; s < scenarios->count; s++) {
        prillm_market_free(scenarios->items[s].market);
        free(scenarios->items[s].prices);
        free(scenarios->items[s].profit);
    }
    free(scenarios->items);
    scenarios->items = NULL;
    scenarios->count = 0;
}

/* The perturbed market of scenario s; NULL only when out of memory. */
static PrillmMarket *perturb(const PrillmMarket *base, int target, const PrillmScenarioSettings *st, PrillmRng *rng,
                             int *new_target) {
    int n = base->n_users, m = base->n_providers;
    unsigned char *keep = prillm__calloc((size_t)m, 1);
    if (!keep) return NULL;
    int kept = 0;
    for (int j = 0; j < m; j++) {
        keep[j] = j == target || prillm__rng_uniform(rng) >= st->drop_probability;
        kept += keep[j];
    }
    if (kept < 2 && m > 1) { /* at least one rival */
        int j = (target + 1 + (int)(prillm__rng_uniform(rng) * (m - 1))) % m;
        keep[j] = 1, kept++;
    }
    PrillmMarket *mk = prillm_market_alloc(n, kept, NULL);
    if (!mk) goto done;
    mk->w_price = base->w_price, mk->w_congestion = base->w_congestion, mk->w_delay = base->w_delay;
    for (int i = 0; i < n; i++) {
        mk->demand[i] = base->demand[i];
        if (!(mk->user_id[i] = prillm__strdup(base->user_id[i]))) goto oom;
    }
    for (int j = 0, k = 0; j < m; j++) {
        if (!keep[j]) continue;
        double price = 1, capacity = 1, value = 0, delay = 1;
        if (j != target) {
            price = exp(st->price_noise * prillm__rng_normal(rng));
            capacity = exp(st->capacity_noise * prillm__rng_normal(rng));
            value = st->value_noise * (fabs(base->value[j]) + 0.1) * prillm__rng_normal(rng);
            delay = exp(st->delay_noise * prillm__rng_normal(rng));
        } else {
            *new_target = k;
        }
        mk->price[k] = base->price[j] * price;
        mk->capacity[k] = base->capacity[j] * capacity;
        mk->value[k] = base->value[j] + value;
        mk->cost[k] = base->cost[j];
        mk->latency[k] = base->latency[j] * delay;
        /* the apps' tastes are not perturbed: they belong to the apps */
        for (int i = 0; i < n; i++) {
            mk->delay[(size_t)i * kept + k] = base->delay[(size_t)i * m + j] * delay;
            mk->affinity[(size_t)i * kept + k] = base->affinity[(size_t)i * m + j];
        }
        if (!(mk->provider_id[k] = prillm__strdup(base->provider_id[j]))) goto oom;
        k++;
    }
    goto done;
oom:
    prillm_market_free(mk);
    mk = NULL;
done:
    free(keep);
    return mk;
}

PrillmErrorCode prillm__profit_curve(const PrillmMarket *mk, int target, int count, const double *prices,
                                     double *profit, PrillmError *err) {
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = prillm_equilibrium_setup(&solver, mk, NULL, err);
    for (int k = 0; k < count && !rc; k++) {
        if ((rc = prillm_equilibrium_update_price(solver, target, prices[k], err))) break;
        if ((rc = prillm_equilibrium_solve(solver, err))) break;
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE)
            rc = prillm__fail(err, PRILLM_ERR_SOLVER, "equilibrium at target price %g: %s", prices[k],
                              prillm_status_name(eq->info.status));
        else profit[k] = prices[k] * eq->provider_flow[target];
    }
    prillm_equilibrium_cleanup(solver);
    return rc;
}

/* The lowest target price at which the target sells nothing. Once it sells
 * nothing, the others' equilibrium is that of the market without it, and it
 * stays unused while c_is >= lambda_i for every user with demand: so
 * p = max_i (lambda_i - w_d d_is + b_s + aff_is) / w_p over that market's
 * multipliers. */
static PrillmErrorCode choke_price(const PrillmMarket *mk, int target, double *price, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers;
    PrillmMarket *rest = prillm_market_alloc(n, m - 1, err);
    if (!rest) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    rest->w_price = mk->w_price, rest->w_congestion = mk->w_congestion, rest->w_delay = mk->w_delay;
    int oom = 0;
    for (int i = 0; i < n; i++) {
        rest->demand[i] = mk->demand[i];
        oom |= !(rest->user_id[i] = prillm__strdup(mk->user_id[i]));
    }
    for (int j = 0, k = 0; j < m; j++) {
        if (j == target) continue;
        rest->price[k] = mk->price[j], rest->capacity[k] = mk->capacity[j], rest->value[k] = mk->value[j];
        oom |= !(rest->provider_id[k] = prillm__strdup(mk->provider_id[j]));
        for (int i = 0; i < n; i++) {
            rest->delay[(size_t)i * (m - 1) + k] = mk->delay[(size_t)i * m + j];
            rest->affinity[(size_t)i * (m - 1) + k] = mk->affinity[(size_t)i * m + j];
        }
        k++;
    }
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = oom ? prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory finding the choke price")
                             : prillm_equilibrium_setup(&solver, rest, NULL, err);
    if (!rc) rc = prillm_equilibrium_solve(solver, err);
    if (!rc) {
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE) {
            rc = prillm__fail(err, PRILLM_ERR_SOLVER, "equilibrium without the target: %s",
                              prillm_status_name(eq->info.status));
        } else {
            double top = -INFINITY;
            for (int i = 0; i < n; i++)
                if (mk->demand[i] > 0) {
                    double p = (eq->lambda[i] - prillm__static_cost(mk, i, target)) / mk->w_price;
                    top = p > top ? p : top;
                }
            *price = top;
        }
    }
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(rest);
    return rc;
}

/* Log-uniform integer in [lo, hi]. */
static int log_uniform_int(PrillmRng *rng, int lo, int hi) {
    if (hi <= lo) return lo;
    double x = exp(log((double)lo) + prillm__rng_uniform(rng) * (log(hi + 1.0) - log((double)lo)));
    int v = (int)x;
    return v < lo ? lo : v > hi ? hi : v;
}

/* Scenario s into sc (left partly built on failure: the caller frees): its
 * market (one of the bases, or a fresh random one), target, prices and
 * profit curve. */
static PrillmErrorCode build_one(const PrillmMarket *const *bases, int n_bases, int target,
                                 const PrillmScenarioSettings *settings, int s, PrillmAggregatorScenario *sc,
                                 PrillmError *local) {
    int L = settings->prices;
    PrillmRng rng = {((uint64_t)settings->seed << 32) ^ ((uint64_t)s * 0xd1342543de82ef95ULL) ^ 0x5851f42d4c957f2dULL};
    prillm__rng_next(&rng);
    PrillmErrorCode code = PRILLM_OK;
    /* which market: a stream of its own, so that one base without random
     * markets draws exactly what it always did */
    const PrillmMarket *base = n_bases > 0 ? bases[0] : NULL;
    PrillmMarket *fresh = NULL;
    if (settings->random_share > 0 || n_bases > 1) {
        PrillmRng pick = {((uint64_t)settings->seed << 32) ^ ((uint64_t)s * 0x9e3779b97f4a7c15ULL) ^
                          0xa4093822299f31d0ULL};
        prillm__rng_next(&pick);
        if (prillm__rng_uniform(&pick) < settings->random_share) {
            int n = log_uniform_int(&pick, settings->random_min_users, settings->random_max_users);
            int m = log_uniform_int(&pick, settings->random_min_providers, settings->random_max_providers);
            fresh = prillm_aggregator_random_market(n, m, prillm__rng_next(&pick), local);
            if (!fresh) code = local->code;
            base = fresh;
        } else {
            base = bases[(int)(prillm__rng_uniform(&pick) * n_bases)];
        }
    }
    if (!code) {
        int t = target >= 0 && n_bases == 1 && !fresh ? target : (int)(prillm__rng_uniform(&rng) * base->n_providers);
        sc->market = perturb(base, t, settings, &rng, &sc->target);
        sc->n_prices = L;
        sc->prices = prillm__calloc((size_t)L, sizeof(double));
        sc->profit = prillm__calloc((size_t)L, sizeof(double));
        if (!sc->market || !sc->prices || !sc->profit) {
            code = prillm__fail(local, PRILLM_ERR_NO_MEMORY, "out of memory building scenario %d", s);
        } else {
            double choke = 0;
            code = choke_price(sc->market, sc->target, &choke, local);
            /* a target nobody buys from even for free gets the base price's
             * range: its curve is zero and the loss skips it */
            if (!(choke > 0)) choke = base->price[t] > 0 ? base->price[t] : 1.0;
            for (int k = 0; k < L && !code; k++) sc->prices[k] = (k + 1.0) / (L + 1) * settings->price_span * choke;
            if (!code) code = prillm__profit_curve(sc->market, sc->target, L, sc->prices, sc->profit, local);
        }
    }
    prillm_market_free(fresh);
    return code;
}

static PrillmErrorCode check_inputs(const PrillmMarket *const *bases, int n_bases, int target,
                                    const PrillmScenarioSettings *settings, PrillmError *err) {
    if (!settings || n_bases < 0 || (n_bases > 0 && !bases))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "base markets or settings is NULL");
    PrillmErrorCode rc = prillm_options_check(scenario_options, N_SCENARIO_OPTIONS, settings, err);
    if (rc) return rc;
    if (n_bases == 0 && settings->random_share < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "no base market: random-share must be 1 (every scenario on a random market), got %g",
                            settings->random_share);
    if (settings->random_share > 0 && (settings->random_min_users > settings->random_max_users ||
                                       settings->random_min_providers > settings->random_max_providers))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "random-min-users/providers (%d, %d) must not exceed random-max-users/providers (%d, %d)",
                            settings->random_min_users, settings->random_min_providers, settings->random_max_users,
                            settings->random_max_providers);
    for (int b = 0; b < n_bases; b++) {
        if (!bases[b]) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "base market %d is NULL", b);
        if ((rc = prillm_market_validate(bases[b], err))) return rc;
        if (bases[b]->n_providers < 2)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "base market %d needs a target and at least one rival", b);
    }
    if (n_bases == 1 && target >= bases[0]->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "target %d is not a provider index (0..%d)", target,
                            bases[0]->n_providers - 1);
    return PRILLM_OK;
}

void prillm_aggregator_scenario_clear(PrillmAggregatorScenario *scenario) {
    if (!scenario) return;
    prillm_market_free(scenario->market);
    free(scenario->prices);
    free(scenario->profit);
    memset(scenario, 0, sizeof *scenario);
}

PrillmErrorCode prillm_aggregator_scenario_build(const PrillmMarket *base, int target,
                                                 const PrillmScenarioSettings *settings, int index,
                                                 PrillmAggregatorScenario *out, PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenario output is NULL");
    memset(out, 0, sizeof *out);
    if (!base) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "base market or settings is NULL");
    PrillmErrorCode rc = check_inputs(&base, 1, target, settings, err);
    if (rc) return rc;
    if (index < 0) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenario index %d is negative", index);
    PrillmError local = {PRILLM_OK, ""};
    if ((rc = build_one(&base, 1, target, settings, index, out, &local))) {
        prillm_aggregator_scenario_clear(out);
        return prillm__fail(err, local.code, "scenario %d: %s", index, local.message);
    }
    return PRILLM_OK;
}

static PrillmErrorCode build(const PrillmMarket *const *bases, int n_bases, int target,
                             const PrillmScenarioSettings *settings, PrillmAggregatorScenarios *out, PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenarios output is NULL");
    out->count = 0;
    out->items = NULL;
    PrillmErrorCode rc = check_inputs(bases, n_bases, target, settings, err);
    if (rc) return rc;
    int count = settings->scenarios;
    if (!(out->items = prillm__calloc((size_t)count, sizeof *out->items)))
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for %d scenarios", count);
    out->count = count;
    int failed = -1;
    PrillmError first = {PRILLM_OK, ""};
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int s = 0; s < count; s++) {
        PrillmError local;
        PrillmErrorCode code = build_one(bases, n_bases, target, settings, s, &out->items[s], &local);
        if (code) {
#ifdef _OPENMP
#pragma omp critical
#endif
            if (failed < 0 || s < failed) failed = s, first = local;
        }
    }
    if (failed >= 0) {
        prillm_aggregator_scenarios_free(out);
        return prillm__fail(err, first.code, "scenario %d: %s", failed, first.message);
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_aggregator_scenarios(const PrillmMarket *base, int target,
                                            const PrillmScenarioSettings *settings,
                                            PrillmAggregatorScenarios *out, PrillmError *err) {
    if (!base) {
        if (out) out->count = 0, out->items = NULL;
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "base market or settings is NULL");
    }
    return build(&base, 1, target, settings, out, err);
}

PrillmErrorCode prillm_aggregator_scenarios_mixed(const PrillmMarket *const *bases, int n_bases,
                                                  const PrillmScenarioSettings *settings,
                                                  PrillmAggregatorScenarios *out, PrillmError *err) {
    return build(bases, n_bases, -1, settings, out, err);
}
