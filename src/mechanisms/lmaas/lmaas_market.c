/* The LMaaS market: allocation and validation. Every number is checked
 * here once, so the solvers can divide by power, bandwidth and noise and
 * take logarithms without further tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/lmaas.h"

PrillmLmaasMarket *prillm_lmaas_alloc(int n_customers, int n_models, PrillmError *err) {
    if (n_customers < 1 || n_models < 1) {
        prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "an LMaaS market needs >= 1 customer and >= 1 model (got %d, %d)",
                     n_customers, n_models);
        return NULL;
    }
    PrillmLmaasMarket *mk = calloc(1, sizeof *mk);
    if (!mk) goto oom;
    mk->n_customers = n_customers;
    mk->n_models = n_models;
    size_t m = (size_t)n_models, n = (size_t)n_customers;
    mk->model_id = prillm__calloc(m, sizeof *mk->model_id);
    mk->customer_id = prillm__calloc(n, sizeof *mk->customer_id);
    double **model_fields[] = {&mk->compression, &mk->fidelity, &mk->serving_cost, &mk->finetune_cost, &mk->price};
    double **customer_fields[] = {&mk->data_rate,       &mk->bandwidth, &mk->power,  &mk->distance,
                                  &mk->energy_price,    &mk->energy_capacity, &mk->value, &mk->demand,
                                  &mk->demand_deviation, &mk->gain_deviation};
    if (!mk->model_id || !mk->customer_id) goto oom;
    for (size_t k = 0; k < sizeof model_fields / sizeof *model_fields; k++) {
        if (!(*model_fields[k] = malloc(m * sizeof(double)))) goto oom;
        prillm__fill_nan(*model_fields[k], m);
    }
    for (size_t k = 0; k < sizeof customer_fields / sizeof *customer_fields; k++) {
        if (!(*customer_fields[k] = malloc(n * sizeof(double)))) goto oom;
        prillm__fill_nan(*customer_fields[k], n);
    }
    mk->path_loss_exponent = mk->reference_gain = mk->noise_power = mk->premium = NAN;
    mk->budget = mk->max_rental = mk->ssl_cost = mk->price_min = mk->price_max = NAN;
    return mk;
oom:
    prillm_lmaas_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating an LMaaS market of %d customers x %d models",
                 n_customers, n_models);
    return NULL;
}

void prillm_lmaas_free(PrillmLmaasMarket *mk) {
    if (!mk) return;
    if (mk->model_id)
        for (int j = 0; j < mk->n_models; j++) free(mk->model_id[j]);
    if (mk->customer_id)
        for (int i = 0; i < mk->n_customers; i++) free(mk->customer_id[i]);
    free(mk->model_id);
    free(mk->customer_id);
    free(mk->compression);
    free(mk->fidelity);
    free(mk->serving_cost);
    free(mk->finetune_cost);
    free(mk->price);
    free(mk->data_rate);
    free(mk->bandwidth);
    free(mk->power);
    free(mk->distance);
    free(mk->energy_price);
    free(mk->energy_capacity);
    free(mk->value);
    free(mk->demand);
    free(mk->demand_deviation);
    free(mk->gain_deviation);
    free(mk);
}

typedef enum { POSITIVE, NONNEGATIVE, UNIT_OPEN_CLOSED, UNIT, UNIT_CLOSED_OPEN } Range;

/* lo < x <= hi style checks with one message format for all fields. */
static PrillmErrorCode check(double x, Range range, const char *where, int index, const char *field,
                             PrillmError *err) {
    char place[96];
    if (index >= 0) snprintf(place, sizeof place, "%s[%d].%s", where, index, field);
    else snprintf(place, sizeof place, "%s.%s", where, field);
    if (!isfinite(x)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be a finite number, got %g", place, x);
    if (fabs(x) > 1e15)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s = %g is beyond the supported magnitude 1e15", place, x);
    switch (range) {
    case POSITIVE:
        if (!(x > 0)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be > 0, got %g", place, x);
        break;
    case NONNEGATIVE:
        if (!(x >= 0)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be >= 0, got %g", place, x);
        break;
    case UNIT_OPEN_CLOSED:
        if (!(x > 0 && x <= 1)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be in (0, 1], got %g", place, x);
        break;
    case UNIT:
        if (!(x >= 0 && x <= 1)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be in [0, 1], got %g", place, x);
        break;
    case UNIT_CLOSED_OPEN:
        if (!(x >= 0 && x < 1)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s must be in [0, 1), got %g", place, x);
        break;
    }
    return PRILLM_OK;
}

static PrillmErrorCode check_id(char *const *ids, int index, const char *where, PrillmError *err) {
    if (!ids[index] || !ids[index][0])
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].id must be a non-empty string", where, index);
    for (int k = 0; k < index; k++)
        if (strcmp(ids[k], ids[index]) == 0)
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "%s[%d].id \"%s\" repeats %s[%d].id", where, index, ids[index],
                                where, k);
    return PRILLM_OK;
}

PrillmErrorCode prillm_lmaas_validate(const PrillmLmaasMarket *mk, PrillmError *err) {
    if (!mk) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market is NULL");
    if (mk->n_models < 1 || mk->n_customers < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "an LMaaS market needs >= 1 model and >= 1 customer");
    PrillmErrorCode rc;
    const char *e = "environment";
    if ((rc = check(mk->path_loss_exponent, POSITIVE, e, -1, "path_loss_exponent", err))) return rc;
    if ((rc = check(mk->reference_gain, POSITIVE, e, -1, "reference_gain", err))) return rc;
    if ((rc = check(mk->noise_power, POSITIVE, e, -1, "noise_power", err))) return rc;
    if ((rc = check(mk->premium, NONNEGATIVE, e, -1, "premium", err))) return rc;
    if ((rc = check(mk->budget, NONNEGATIVE, e, -1, "budget", err))) return rc;
    if (mk->budget > 2) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "environment.budget must be in [0, 2], got %g", mk->budget);
    if ((rc = check(mk->max_rental, POSITIVE, e, -1, "max_rental", err))) return rc;
    if ((rc = check(mk->ssl_cost, NONNEGATIVE, "seller", -1, "ssl_cost", err))) return rc;
    if ((rc = check(mk->price_min, NONNEGATIVE, "seller", -1, "price_min", err))) return rc;
    if ((rc = check(mk->price_max, NONNEGATIVE, "seller", -1, "price_max", err))) return rc;
    if (mk->price_max < mk->price_min)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "seller.price_max (%g) must be >= seller.price_min (%g)",
                            mk->price_max, mk->price_min);
    for (int j = 0; j < mk->n_models; j++) {
        if ((rc = check_id(mk->model_id, j, "models", err))) return rc;
        if ((rc = check(mk->compression[j], UNIT_OPEN_CLOSED, "models", j, "compression", err))) return rc;
        if ((rc = check(mk->fidelity[j], UNIT, "models", j, "fidelity", err))) return rc;
        if ((rc = check(mk->serving_cost[j], NONNEGATIVE, "models", j, "serving_cost", err))) return rc;
        if ((rc = check(mk->finetune_cost[j], NONNEGATIVE, "models", j, "finetune_cost", err))) return rc;
        if (!isnan(mk->price[j]) && (rc = check(mk->price[j], NONNEGATIVE, "models", j, "price", err))) return rc;
    }
    const char *c = "customers";
    for (int i = 0; i < mk->n_customers; i++) {
        if ((rc = check_id(mk->customer_id, i, c, err))) return rc;
        if ((rc = check(mk->data_rate[i], POSITIVE, c, i, "data_rate", err))) return rc;
        if ((rc = check(mk->bandwidth[i], POSITIVE, c, i, "bandwidth", err))) return rc;
        if ((rc = check(mk->power[i], POSITIVE, c, i, "power", err))) return rc;
        if ((rc = check(mk->distance[i], POSITIVE, c, i, "distance", err))) return rc;
        if ((rc = check(mk->energy_price[i], NONNEGATIVE, c, i, "energy_price", err))) return rc;
        if ((rc = check(mk->energy_capacity[i], NONNEGATIVE, c, i, "energy_capacity", err))) return rc;
        if ((rc = check(mk->value[i], NONNEGATIVE, c, i, "value", err))) return rc;
        if ((rc = check(mk->demand[i], NONNEGATIVE, c, i, "demand", err))) return rc;
        if ((rc = check(mk->demand_deviation[i], UNIT, c, i, "demand_deviation", err))) return rc;
        if ((rc = check(mk->gain_deviation[i], UNIT_CLOSED_OPEN, c, i, "gain_deviation", err))) return rc;
        /* the nominal gain must be a positive normal number, or every rate is 0 */
        double gain = mk->reference_gain * pow(mk->distance[i], -mk->path_loss_exponent);
        double snr = mk->power[i] * gain / mk->noise_power;
        if (!(gain > 1e-300) || !isfinite(snr))
            return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                                "customers[%d]: channel gain reference_gain * distance^-path_loss_exponent = %g is out of "
                                "range (SNR %g)",
                                i, gain, snr);
    }
    return PRILLM_OK;
}
