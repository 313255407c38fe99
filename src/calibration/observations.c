/*
 * Observation sets: allocation, validation, the generic CSV writer and the
 * synthetic generator (observations drawn from the model itself).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/calibration.h"
#include "random.h"

PrillmObservations *prillm_observations_alloc(int T, int n, int m, PrillmError *err) {
    if (T < 1 || n < 1 || m < 1) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "observations need >= 1 period, user and provider (got %d, %d, %d)",
                     T, n, m);
        return NULL;
    }
    PrillmObservations *obs = prillm__calloc(1, sizeof *obs);
    if (!obs || !(obs->periods = prillm__calloc((size_t)T, sizeof *obs->periods))) {
        free(obs);
        prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for %d periods", T);
        return NULL;
    }
    obs->n_periods = T;
    obs->n_users = n;
    obs->n_providers = m;
    size_t nm = (size_t)n * m;
    for (int t = 0; t < T; t++) {
        PrillmObservedPeriod *p = &obs->periods[t];
        p->market = prillm_market_alloc(n, m, err);
        p->observed = prillm__calloc(nm, sizeof(double));
        p->upper = prillm__calloc(nm, sizeof(double));
        p->throughput = prillm__calloc((size_t)m, sizeof(double));
        p->tokens = prillm__calloc((size_t)m, sizeof(double));
        if (!p->market || !p->observed || !p->upper || !p->throughput || !p->tokens) {
            prillm_observations_free(obs);
            prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for a %d x %d period", n, m);
            return NULL;
        }
        prillm__fill_nan(p->observed, nm);
        prillm__fill_nan(p->upper, nm);
        prillm__fill_nan(p->throughput, (size_t)m);
        prillm__fill_nan(p->tokens, (size_t)m);
        for (int j = 0; j < m; j++) p->market->value[j] = 0.0;
    }
    return obs;
}

void prillm_observations_free(PrillmObservations *obs) {
    if (!obs) return;
    for (int t = 0; t < obs->n_periods && obs->periods; t++) {
        PrillmObservedPeriod *p = &obs->periods[t];
        free(p->label);
        prillm_market_free(p->market);
        free(p->observed);
        free(p->upper);
        free(p->throughput);
        free(p->tokens);
    }
    free(obs->periods);
    free(obs);
}

PrillmErrorCode prillm_observations_validate(PrillmObservations *obs, PrillmError *err) {
    if (!obs || !obs->periods || obs->n_periods < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "observations are NULL or have no period");
    int n = obs->n_users, m = obs->n_providers;
    long observed = 0, censored = 0, bounded = 0;
    for (int t = 0; t < obs->n_periods; t++) {
        const PrillmObservedPeriod *p = &obs->periods[t];
        const PrillmMarket *mk = p->market;
        if (!mk || !p->observed || !p->upper)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "periods[%d] is incomplete", t);
        if (mk->n_users != n || mk->n_providers != m)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "periods[%d] is %d x %d, the observations %d x %d", t,
                                mk->n_users, mk->n_providers, n, m);
        PrillmErrorCode rc = prillm_market_validate(mk, err);
        if (rc) {
            char inner[sizeof err->message];
            snprintf(inner, sizeof inner, "%s", err ? err->message : "");
            return prillm__fail(err, rc, "periods[%d]: %s", t, inner);
        }
        for (int j = 0; j < m; j++)
            if (strcmp(mk->provider_id[j], obs->periods[0].market->provider_id[j]) != 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "periods[%d].providers[%d] is \"%s\", periods[0] has \"%s\"",
                                    t, j, mk->provider_id[j], obs->periods[0].market->provider_id[j]);
        for (int i = 0; i < n; i++)
            if (strcmp(mk->user_id[i], obs->periods[0].market->user_id[i]) != 0)
                return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "periods[%d].users[%d] is \"%s\", periods[0] has \"%s\"",
                                    t, i, mk->user_id[i], obs->periods[0].market->user_id[i]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                size_t k = (size_t)i * m + j;
                double f = p->observed[k], u = p->upper[k];
                if (isnan(f)) {
                    if (!(u >= 0))
                        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                            "periods[%d].upper[%d][%d] must be >= 0 or infinite on a censored cell", t, i, j);
                    censored++;
                    bounded += isfinite(u);
                } else {
                    if (!(f >= 0) || !isfinite(f) || f > PRILLM_MAX_MAGNITUDE)
                        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                            "periods[%d].observed[%d][%d] must be finite and >= 0, got %g", t, i, j, f);
                    observed++;
                }
            }
    }
    if (observed == 0) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "no observed flow in any period");
    obs->observed_cells = observed;
    obs->censored_cells = censored;
    obs->bounded_cells = bounded;
    return PRILLM_OK;
}

/* ---- generic CSV writer ----------------------------------------------- */

static FILE *open_in(const char *dir, const char *name, PrillmError *err, PrillmErrorCode *rc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *out = fopen(path, "w");
    if (!out) *rc = prillm__fail(err, PRILLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return out;
}

static void write_number(FILE *out, double x) {
    if (isfinite(x)) fprintf(out, "%.17g", x);
}

PrillmErrorCode prillm_observations_write_csv(const PrillmObservations *obs, const char *dir, PrillmError *err) {
    if (!obs || !dir) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    PrillmErrorCode rc = PRILLM_OK;
    FILE *prov = open_in(dir, "providers.csv", err, &rc);
    FILE *flows = prov ? open_in(dir, "flows.csv", err, &rc) : NULL;
    FILE *delays = flows ? open_in(dir, "delays.csv", err, &rc) : NULL;
    FILE *demands = delays ? open_in(dir, "demands.csv", err, &rc) : NULL;
    if (!demands) {
        if (prov) fclose(prov);
        if (flows) fclose(flows);
        if (delays) fclose(delays);
        return rc;
    }
    int n = obs->n_users, m = obs->n_providers;
    fputs("period,provider,price,latency,throughput,tokens,capacity\n", prov);
    fputs("period,app,provider,tokens\n", flows);
    fputs("period,app,provider,delay\n", delays);
    fputs("period,app,demand\n", demands);
    for (int t = 0; t < obs->n_periods; t++) {
        const PrillmObservedPeriod *p = &obs->periods[t];
        const PrillmMarket *mk = p->market;
        char label[32];
        const char *period = p->label;
        if (!period) {
            snprintf(label, sizeof label, "%d", t + 1);
            period = label;
        }
        for (int j = 0; j < m; j++) {
            prillm__csv_field(prov, period);
            fputc(',', prov);
            prillm__csv_field(prov, mk->provider_id[j]);
            fputc(',', prov);
            write_number(prov, mk->price[j]);
            fputc(',', prov);
            write_number(prov, mk->latency[j]);
            fputc(',', prov);
            write_number(prov, p->throughput[j]);
            fputc(',', prov);
            write_number(prov, p->tokens[j] * 1e6);
            fputc(',', prov);
            write_number(prov, mk->capacity[j]);
            fputc('\n', prov);
        }
        for (int i = 0; i < n; i++) {
            prillm__csv_field(demands, period);
            fputc(',', demands);
            prillm__csv_field(demands, mk->user_id[i]);
            fputc(',', demands);
            write_number(demands, mk->demand[i] * 1e6);
            fputc('\n', demands);
            for (int j = 0; j < m; j++) {
                size_t k = (size_t)i * m + j;
                FILE *outs[2] = {delays, flows};
                double xs[2] = {mk->delay[k], p->observed[k] * 1e6};
                for (int w = 0; w < 2; w++) {
                    if (!isfinite(xs[w])) continue;
                    prillm__csv_field(outs[w], period);
                    fputc(',', outs[w]);
                    prillm__csv_field(outs[w], mk->user_id[i]);
                    fputc(',', outs[w]);
                    prillm__csv_field(outs[w], mk->provider_id[j]);
                    fputc(',', outs[w]);
                    write_number(outs[w], xs[w]);
                    fputc('\n', outs[w]);
                }
            }
        }
    }
    int bad = 0;
    FILE *all[4] = {prov, flows, delays, demands};
    for (int w = 0; w < 4; w++) bad |= ferror(all[w]) | (fclose(all[w]) != 0);
    if (bad) return prillm__fail(err, PRILLM_ERR_IO, "writing the observation files in %s failed", dir);
    return PRILLM_OK;
}

/* ---- synthetic observations ------------------------------------------- */

PrillmErrorCode prillm_observations_synthetic(int n, int m, int T, double w_congestion, double w_delay,
                                              const double *values, double noise, int listed,
                                              unsigned long long seed, PrillmObservations **out, PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *out = NULL;
    if (!(w_congestion > 0) || !(w_delay >= 0) || !(noise >= 0) || listed < 0 || !isfinite(w_congestion) ||
        !isfinite(w_delay) || !isfinite(noise))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "synthetic observations need w_congestion > 0, w_delay >= 0, noise >= 0, listed >= 0");
    PrillmMarket *base = prillm_market_random(n, m, seed, err);
    if (!base) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    PrillmObservations *obs = prillm_observations_alloc(T, n, m, err);
    if (!obs) {
        prillm_market_free(base);
        return err ? err->code : PRILLM_ERR_NO_MEMORY;
    }
    snprintf(obs->layout, sizeof obs->layout, "synthetic");
    PrillmRng rng = {seed * 0x9e3779b97f4a7c15ULL + 77};
    size_t nm = (size_t)n * m;
    int *order = prillm__calloc((size_t)n, sizeof(int));
    PrillmErrorCode rc = order ? PRILLM_OK : prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    for (int t = 0; t < T && !rc; t++) {
        PrillmObservedPeriod *p = &obs->periods[t];
        prillm_market_free(p->market);
        if (!(p->market = prillm_market_copy(base, err))) {
            rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
            break;
        }
        PrillmMarket *mk = p->market;
        char label[32];
        snprintf(label, sizeof label, "day-%d", t + 1);
        if (!(p->label = prillm__strdup(label))) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        mk->w_price = 1.0;
        mk->w_congestion = w_congestion;
        mk->w_delay = w_delay;
        for (int j = 0; j < m; j++) {
            if (values) mk->value[j] = values[j];
            if (t > 0) mk->price[j] *= 0.7 + 0.6 * prillm__rng_uniform(&rng);
        }
        for (int i = 0; i < n; i++) mk->demand[i] *= 0.8 + 0.4 * prillm__rng_uniform(&rng);
        PrillmEquilibriumSolver *solver = NULL;
        rc = prillm_equilibrium_setup(&solver, mk, NULL, err);
        if (!rc) rc = prillm_equilibrium_solve(solver, err);
        if (!rc) {
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            if (eq->info.status != PRILLM_STATUS_SOLVED)
                rc = prillm__fail(err, PRILLM_ERR_SOLVER, "synthetic period %d: equilibrium %s", t,
                                  prillm_status_name(eq->info.status));
            for (size_t k = 0; k < nm && !rc; k++)
                p->observed[k] = eq->flows[k] > 0 ? eq->flows[k] * exp(noise * prillm__rng_normal(&rng)) : 0.0;
            for (int j = 0; j < m && !rc; j++) p->tokens[j] = eq->provider_flow[j];
        }
        prillm_equilibrium_cleanup(solver);
        /* the data the model sees carries the weights of an uncalibrated market */
        mk->w_congestion = mk->w_delay = 1.0;
        for (int j = 0; j < m; j++) mk->value[j] = 0.0;
        if (rc || listed == 0 || listed >= n) continue;
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < n; i++) order[i] = i;
            for (int a = 1; a < n; a++) { /* insertion sort, largest flow first */
                int x = order[a], b = a;
                while (b > 0 && p->observed[(size_t)order[b - 1] * m + j] < p->observed[(size_t)x * m + j]) {
                    order[b] = order[b - 1];
                    b--;
                }
                order[b] = x;
            }
            double smallest = INFINITY;
            int shown = 0;
            for (int a = 0; a < n; a++) {
                double f = p->observed[(size_t)order[a] * m + j];
                if (shown < listed && f > 0) {
                    shown++;
                    smallest = f;
                }
            }
            for (int a = shown; a < n; a++) {
                size_t k = (size_t)order[a] * m + j;
                p->observed[k] = NAN;
                p->upper[k] = smallest;
            }
        }
    }
    free(order);
    prillm_market_free(base);
    if (!rc) rc = prillm_observations_validate(obs, err);
    if (rc) {
        prillm_observations_free(obs);
        return rc;
    }
    *out = obs;
    return PRILLM_OK;
}
