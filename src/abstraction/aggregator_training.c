/*
 * Training the aggregation network with the profit-curve loss (paper Eq. 7)
 *   loss = (1/L) sum_k ((Y_k - Yhat_k) / max_k |Y_k|)^2,
 * Y_k = p_k F_s(p_k) in the scenario's full market (precomputed), Yhat_k the
 * same in the da-abstracted market. The gradient of Yhat_k reaches the
 * merged rival's parameters through the equilibrium's sensitivity on the
 * fixed active set (solvers.md section 7), then the merge formulas, the
 * score heads and the network. The selection of the kept rivals is held
 * fixed (it is piecewise constant in the scores).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "active_set.h"
#include "aggregator_io.h"
#include "internal.h"

#include "random.h"
#include "set_transformer.h"

#define OFFSET(field) offsetof(PrillmTrainSettings, field)
static const PrillmOptionInfo train_options[] = {
    {"K", PRILLM_OPTION_INT, 2, 1, 1000, NULL, "rivals in the abstracted market", OFFSET(K)},
    {"epochs", PRILLM_OPTION_INT, 20, 0, 1e6, NULL, "passes over the training scenarios", OFFSET(epochs)},
    {"batch", PRILLM_OPTION_INT, 32, 1, 1e6, NULL, "scenarios per Adam step", OFFSET(batch)},
    {"learning-rate", PRILLM_OPTION_DOUBLE, 1e-3, 1e-12, 10, NULL, "Adam step size", OFFSET(learning_rate)},
    {"beta1", PRILLM_OPTION_DOUBLE, 0.9, 0, 0.999999, NULL, "Adam first-moment decay", OFFSET(beta1)},
    {"beta2", PRILLM_OPTION_DOUBLE, 0.999, 0, 0.99999999, NULL, "Adam second-moment decay", OFFSET(beta2)},
    {"clip", PRILLM_OPTION_DOUBLE, 1.0, 0, 1e300, NULL,
     "rescale a batch gradient whose norm exceeds this (0 = never)", OFFSET(clip)},
    {"validation-fraction", PRILLM_OPTION_DOUBLE, 0.15, 0, 0.9, NULL, "share of scenarios held out for validation",
     OFFSET(validation_fraction)},
    {"test-fraction", PRILLM_OPTION_DOUBLE, 0.15, 0, 0.9, NULL, "share of scenarios held out for the final test",
     OFFSET(test_fraction)},
    {"train-seed", PRILLM_OPTION_INT, 1, 0, 2147483647, NULL, "seed of the split and the batch order", OFFSET(seed)},
    {"threads", PRILLM_OPTION_INT, 0, 0, 1024, NULL, "OpenMP threads (0 = OMP_NUM_THREADS or all cores)",
     OFFSET(threads)},
};
#undef OFFSET
#define N_TRAIN_OPTIONS ((int)(sizeof train_options / sizeof train_options[0]))

const PrillmOptionInfo *prillm_train_options(int *count) {
    if (count) *count = N_TRAIN_OPTIONS;
    return train_options;
}

void prillm_train_default_settings(PrillmTrainSettings *settings) {
    memset(settings, 0, sizeof *settings);
    prillm_options_defaults(train_options, N_TRAIN_OPTIONS, settings);
}

PrillmErrorCode prillm_train_set_option(PrillmTrainSettings *settings, const char *name, const char *value,
                                        PrillmError *err) {
    return prillm_options_set(train_options, N_TRAIN_OPTIONS, settings, name, value, err);
}

/* ---- the loss of one scenario and its gradient ------------------------ */

/* Sensitivity of the target's flow to the merged rival's parameters at the
 * solved equilibrium eq of the abstracted market A: dF[0] capacity,
 * dF[1] price, dF[2] value, dF[3 + i] user i's delay, dF[3 + n + i] user
 * i's affinity. Delay and affinity move only row i's cost, by w_delay and
 * -1 per unit: one solve for a unit change of that cost serves both. */
static int flow_sensitivity(const PrillmMarket *A, int target, int agg, const PrillmEquilibrium *eq,
                            PrillmActiveSystem *sys, unsigned char *active, double *dc, double *nu, double *F,
                            double *pair_flow, double *dF) {
    int n = A->n_users, m = A->n_providers;
    for (size_t k = 0; k < (size_t)n * m; k++) active[k] = eq->flows[k] > 0;
    if (prillm__system_factor(sys, active)) return -1;
    double slope = -A->w_congestion / (A->capacity[agg] * A->capacity[agg]); /* d a_agg / d capacity */
    for (int dir = 0; dir < n + 3; dir++) {
        memset(dc, 0, sizeof(double) * (size_t)n * m);
        for (int i = 0; i < n; i++) {
            double *c = &dc[(size_t)i * m + agg];
            if (dir == 0) *c = slope * (eq->provider_flow[agg] + eq->flows[(size_t)i * m + agg]);
            else if (dir == 1) *c = A->w_price;
            else if (dir == 2) *c = -1.0;
            else if (dir == 3 + i) *c = 1.0;
        }
        double *r = F + m; /* scratch after F */
        prillm__system_rhs(sys, dc, NULL, r);
        memset(nu, 0, sizeof(double) * (size_t)n);
        prillm__system_solve(sys, r, nu);
        prillm__system_flows(sys, nu, F, pair_flow);
        if (dir < 3) {
            dF[dir] = F[target];
        } else {
            dF[dir] = A->w_delay * F[target];
            dF[dir + n] = -F[target];
        }
    }
    return 0;
}

int prillm__target_flow_sensitivity(const PrillmMarket *A, int target, int agg, const PrillmEquilibrium *eq,
                                     double *dF) {
    int n = A->n_users, m = A->n_providers, rc = -1;
    size_t nm = (size_t)n * m;
    PrillmActiveSystem sys;
    unsigned char *active = prillm__calloc(nm, 1);
    double *buf = prillm__calloc(2 * nm + 3 * (size_t)n + 3 * (size_t)m, sizeof(double));
    if (!active || !buf) goto done;
    double *dc = buf, *nu = dc + nm, *F = nu + n, *pair_flow = F + m + n, *beta = pair_flow + nm;
    for (int j = 0; j < m; j++) beta[j] = A->capacity[j] / A->w_congestion;
    if (prillm__system_init(&sys, n, m, beta)) goto done;
    rc = flow_sensitivity(A, target, agg, eq, &sys, active, dc, nu, F, pair_flow, dF);
    prillm__system_free(&sys);
done:
    free(active), free(buf);
    return rc;
}

static double max_abs(const double *x, int count) {
    double top = 0;
    for (int k = 0; k < count; k++) top = fabs(x[k]) > top ? fabs(x[k]) : top;
    return top;
}

/* Loss of one scenario for a method; with grad (da only) also its gradient
 * (overwritten). */
static PrillmErrorCode evaluate(const PrillmAggregator *model, PrillmAggregateMethod method, int K,
                                const PrillmAggregatorScenario *sc, double *loss, double *grad, PrillmError *err) {
    const PrillmMarket *mk = sc->market;
    int n = mk->n_users, m = mk->n_providers, rivals = m - 1, L = sc->n_prices;
    if (grad) memset(grad, 0, sizeof(double) * (size_t)model->n_params);
    *loss = NAN;
    double top = max_abs(sc->profit, L);
    if (top == 0) { /* the target sells nothing at any sampled price: no signal */
        *loss = 0;
        return PRILLM_OK;
    }
    int differentiate = grad && method == PRILLM_AGGREGATE_DA && K < rivals;
    PrillmMarket *A = NULL;
    PrillmEquilibriumSolver *solver = NULL;
    PrillmActiveSystem sys;
    int sys_ready = 0, t = -1, mA = 0;
    PrillmSetWorkspace ws;
    memset(&ws, 0, sizeof ws);
    PrillmErrorCode rc = PRILLM_OK;
    double *buf = NULL;
    size_t nm = (size_t)n * (K + 1 > m ? m : K + 1);
    /* x | ss_r sa_r | ss sa | dss dsa (rival order) | theta grad | dF | dc | nu | F,r | pair_flow | beta */
    size_t size = (size_t)rivals * PRILLM_AGGREGATOR_FEATURES + 2 * (size_t)rivals + 2 * (size_t)m + 2 * (size_t)rivals +
                  2 * (2 * (size_t)n + 3) + nm + (size_t)n + 2 * ((size_t)m + (size_t)n) + nm + (size_t)m + 8;
    unsigned char *active = NULL, *state = NULL;
    if (!(buf = prillm__calloc(size, sizeof(double))) || !(active = prillm__calloc(nm + 1, 1)) ||
        !(state = prillm__calloc((size_t)m, 1))) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory evaluating a scenario");
        goto done;
    }
    double *x = buf, *ssr = x + (size_t)rivals * PRILLM_AGGREGATOR_FEATURES, *sar = ssr + rivals;
    double *ss = sar + rivals, *sa = ss + m, *dss = sa + m, *dsa = dss + rivals, *gtheta = dsa + rivals;
    double *dF = gtheta + 2 * n + 3, *dc = dF + 2 * n + 3, *nu = dc + nm, *F = nu + n, *pair_flow = F + m + n, *beta = pair_flow + nm;
    if (method == PRILLM_AGGREGATE_DA && K < rivals) {
        if (prillm__set_workspace_init(&ws, model, rivals)) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory evaluating a scenario");
            goto done;
        }
        prillm__aggregator_inputs(model, mk, sc->target, x);
        prillm__set_forward(model, &ws, rivals, x, ssr, sar);
        for (int j = 0, r = 0; j < m; j++) {
            if (j == sc->target) ss[j] = sa[j] = NAN;
            else ss[j] = ssr[r], sa[j] = sar[r++];
        }
        if (prillm__aggregate_with_scores(mk, sc->target, K, ss, sa, &A, &t, state, err)) {
            rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
            goto done;
        }
    } else if ((rc = prillm_aggregate_market(mk, sc->target, K, method, model, &A, &t, err))) {
        goto done;
    }
    mA = A->n_providers;
    if ((rc = prillm_equilibrium_setup(&solver, A, NULL, err))) goto done;
    if (differentiate) {
        for (int j = 0; j < mA; j++) beta[j] = A->capacity[j] / A->w_congestion;
        if (prillm__system_init(&sys, n, mA, beta)) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the sensitivity system");
            goto done;
        }
        sys_ready = 1;
    }
    double sum = 0;
    for (int k = 0; k < L; k++) {
        if ((rc = prillm_equilibrium_update_price(solver, t, sc->prices[k], err))) goto done;
        if ((rc = prillm_equilibrium_solve(solver, err))) goto done;
        const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
        if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE) {
            rc = prillm__fail(err, PRILLM_ERR_SOLVER, "abstracted equilibrium at price %g: %s", sc->prices[k],
                              prillm_status_name(eq->info.status));
            goto done;
        }
        double yhat = sc->prices[k] * eq->provider_flow[t], e = (sc->profit[k] - yhat) / top;
        sum += e * e;
        if (differentiate) {
            if (flow_sensitivity(A, t, mA - 1, eq, &sys, active, dc, nu, F, pair_flow, dF)) {
                rc = prillm__fail(err, PRILLM_ERR_SOLVER, "sensitivity system at price %g is singular", sc->prices[k]);
                goto done;
            }
            double dyhat = -2.0 * e / (top * L); /* d loss / d Yhat_k */
            for (int d = 0; d < 2 * n + 3; d++) gtheta[d] += dyhat * sc->prices[k] * dF[d];
        }
    }
    *loss = sum / L;
    if (differentiate) {
        /* through the merge: capacity = sum ss_j cap_j, the rest score_avg-weighted means */
        int agg = mA - 1;
        double total = 0;
        for (int j = 0; j < m; j++)
            if (state[j] == 2) total += sa[j];
        for (int j = 0, r = 0; j < m; j++) {
            if (j == sc->target) continue;
            dss[r] = dsa[r] = 0;
            if (state[j] == 2) {
                dss[r] = gtheta[0] * mk->capacity[j];
                double g = gtheta[1] * (mk->price[j] - A->price[agg]) + gtheta[2] * (mk->value[j] - A->value[agg]);
                for (int i = 0; i < n; i++)
                    g += gtheta[3 + i] * (mk->delay[(size_t)i * m + j] - A->delay[(size_t)i * mA + agg]) +
                         gtheta[3 + n + i] * (mk->affinity[(size_t)i * m + j] - A->affinity[(size_t)i * mA + agg]);
                dsa[r] = g / total;
            }
            r++;
        }
        prillm__set_backward(model, &ws, dss, dsa, grad);
    }
done:
    if (rc && grad) prillm__fill_nan(grad, (size_t)model->n_params);
    if (sys_ready) prillm__system_free(&sys);
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(A);
    prillm__set_workspace_free(&ws);
    free(buf), free(active), free(state);
    return rc;
}

PrillmErrorCode prillm_aggregator_loss_gradient(const PrillmAggregator *model, int K,
                                                const PrillmAggregatorScenario *scenario, double *loss,
                                                double *grad, PrillmError *err) {
    if (!model || !scenario || !loss || !grad)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model, scenario, loss or grad is NULL");
    if (K < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "K must be >= 1, got %d", K);
    return evaluate(model, PRILLM_AGGREGATE_DA, K, scenario, loss, grad, err);
}

/* Mean loss over the scenarios order[0..count); failures are skipped and
 * counted. Summed in index order, so the thread count does not matter. */
static double mean_loss(const PrillmAggregator *model, PrillmAggregateMethod method, int K,
                        const PrillmAggregatorScenarios *sc, const int *order, int count, int threads, double *losses,
                        int *skipped) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(threads > 0 ? threads : omp_get_max_threads())
#endif
    for (int k = 0; k < count; k++) {
        PrillmError local;
        if (evaluate(model, method, K, &sc->items[order[k]], &losses[k], NULL, &local)) losses[k] = NAN;
    }
    (void)threads;
    double sum = 0;
    int used = 0;
    for (int k = 0; k < count; k++) {
        if (isnan(losses[k])) (*skipped)++;
        else sum += losses[k], used++;
    }
    return used ? sum / used : NAN;
}

PrillmErrorCode prillm_aggregator_loss(const PrillmAggregator *model, PrillmAggregateMethod method, int K,
                                       const PrillmAggregatorScenarios *scenarios, int first, int count,
                                       double *loss, PrillmError *err) {
    if (!scenarios || !loss || (method == PRILLM_AGGREGATE_DA && !model))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model, scenarios or loss is NULL");
    if (first < 0 || count < 0 || first + count > scenarios->count)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "scenarios [%d, %d) outside 0..%d", first, first + count,
                            scenarios->count);
    int *order = prillm__calloc((size_t)count + 1, sizeof(int));
    double *losses = prillm__calloc((size_t)count + 1, sizeof(double));
    if (!order || !losses) {
        free(order), free(losses);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    for (int k = 0; k < count; k++) order[k] = first + k;
    int skipped = 0;
    *loss = mean_loss(model, method, K, scenarios, order, count, 0, losses, &skipped);
    free(order), free(losses);
    if (skipped) return prillm__fail(err, PRILLM_ERR_SOLVER, "%d of %d scenarios could not be evaluated", skipped, count);
    return PRILLM_OK;
}

/* ---- checkpoint ------------------------------------------------------- */

#define CHECKPOINT_FORMAT "prillm-aggregator-checkpoint"

typedef struct {
    int epoch;
    long step;
    double best_validation;
    int best_epoch;
    double *m, *v;        /* Adam moments */
    PrillmAggregator *best;
} TrainState;

static PrillmErrorCode write_checkpoint(const char *path, const PrillmAggregator *model, const TrainState *st,
                                        const PrillmTrainSettings *settings, int n_scenarios, PrillmError *err) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory writing the checkpoint");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        free(tmp);
        return prillm__fail(err, PRILLM_ERR_IO, "cannot write checkpoint %s", path);
    }
    fprintf(out, "{\n  \"format\": \"%s\",\n  \"version\": 1,\n  \"K\": %d,\n  \"scenarios\": %d,\n  \"train_seed\": %d,\n",
            CHECKPOINT_FORMAT, settings->K, n_scenarios, settings->seed);
    fprintf(out, "  \"epoch\": %d,\n  \"step\": %ld,\n  \"best_epoch\": %d,\n  \"best_validation\": ", st->epoch, st->step,
            st->best_epoch);
    prillm__json_number(out, st->best_validation);
    fputs(",\n  \"adam_m\": ", out);
    prillm__write_numbers(out, st->m, model->n_params);
    fputs(",\n  \"adam_v\": ", out);
    prillm__write_numbers(out, st->v, model->n_params);
    fputs(",\n  \"model\": ", out);
    prillm__aggregator_write_object(model, out, "  ");
    fputs(",\n  \"best_model\": ", out);
    prillm__aggregator_write_object(st->best, out, "  ");
    fputs("\n}\n", out);
    int bad = ferror(out) != 0;
    bad |= fclose(out) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return prillm__fail(err, PRILLM_ERR_IO, "cannot write checkpoint %s", path);
    }
    free(tmp);
    return PRILLM_OK;
}

static PrillmErrorCode get_checkpoint_int(const cJSON *root, const char *key, long *out, PrillmError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) || fabs(item->valuedouble) > 1e15)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "checkpoint.%s must be an integer", key);
    *out = (long)item->valuedouble;
    return PRILLM_OK;
}

/* Copy a model's numbers into another of the same shape. */
static PrillmErrorCode adopt(PrillmAggregator *dst, const PrillmAggregator *src, const char *what, PrillmError *err) {
    if (src->width != dst->width || src->heads != dst->heads || src->blocks != dst->blocks ||
        src->layer_norm != dst->layer_norm)
        return prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                            "checkpoint.%s has shape width %d heads %d blocks %d layer_norm %d, the model being trained "
                            "width %d heads %d blocks %d layer_norm %d",
                            what, src->width, src->heads, src->blocks, src->layer_norm, dst->width, dst->heads,
                            dst->blocks, dst->layer_norm);
    memcpy(dst->params, src->params, sizeof(double) * (size_t)dst->n_params);
    memcpy(dst->feature_mean, src->feature_mean, sizeof dst->feature_mean);
    memcpy(dst->feature_std, src->feature_std, sizeof dst->feature_std);
    return PRILLM_OK;
}

/* Returns PRILLM_OK with *found = 0 when the file does not exist. */
static PrillmErrorCode read_checkpoint(const char *path, PrillmAggregator *model, TrainState *st,
                                       const PrillmTrainSettings *settings, int n_scenarios, int *found,
                                       PrillmError *err) {
    *found = 0;
    FILE *in = fopen(path, "rb");
    if (!in) return PRILLM_OK;
    *found = 1;
    char *text;
    size_t length;
    PrillmErrorCode rc = prillm__read_stream(in, "the checkpoint", &text, &length, err);
    fclose(in);
    if (rc) return rc;
    cJSON *root = NULL;
    PrillmAggregator *current = NULL, *best = NULL;
    if ((rc = prillm__json_parse_text(text, length, "checkpoint", &root, err))) goto done;
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, CHECKPOINT_FORMAT) != 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "checkpoint.format must be \"%s\"", CHECKPOINT_FORMAT);
        goto done;
    }
    long version = 0, K = 0, count = 0, seed = 0, epoch = 0, step = 0, best_epoch = 0;
    if ((rc = get_checkpoint_int(root, "version", &version, err)) || (rc = get_checkpoint_int(root, "K", &K, err)) ||
        (rc = get_checkpoint_int(root, "scenarios", &count, err)) ||
        (rc = get_checkpoint_int(root, "train_seed", &seed, err)) ||
        (rc = get_checkpoint_int(root, "epoch", &epoch, err)) || (rc = get_checkpoint_int(root, "step", &step, err)) ||
        (rc = get_checkpoint_int(root, "best_epoch", &best_epoch, err)))
        goto done;
    if (version != 1) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "checkpoint.version %ld is not supported", version);
        goto done;
    }
    if (K != settings->K || count != n_scenarios || seed != settings->seed) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA,
                          "checkpoint was made with K %ld, %ld scenarios, train-seed %ld; this run has K %d, %d "
                          "scenarios, train-seed %d",
                          K, count, seed, settings->K, n_scenarios, settings->seed);
        goto done;
    }
    if (epoch < 0 || step < 0) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "checkpoint.epoch and .step must be >= 0");
        goto done;
    }
    const cJSON *bv = cJSON_GetObjectItemCaseSensitive(root, "best_validation");
    if (cJSON_IsNull(bv)) st->best_validation = INFINITY;
    else if (cJSON_IsNumber(bv) && bv->valuedouble >= 0) st->best_validation = bv->valuedouble;
    else {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "checkpoint.best_validation must be a number >= 0 or null");
        goto done;
    }
    if ((rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(root, "adam_m"), "checkpoint.adam_m", st->m,
                                   model->n_params, err)) ||
        (rc = prillm__json_numbers(cJSON_GetObjectItemCaseSensitive(root, "adam_v"), "checkpoint.adam_v", st->v,
                                   model->n_params, err)))
        goto done;
    if ((rc = prillm__aggregator_from_json(cJSON_GetObjectItemCaseSensitive(root, "model"), "checkpoint.model", &current,
                                           err)) ||
        (rc = prillm__aggregator_from_json(cJSON_GetObjectItemCaseSensitive(root, "best_model"),
                                           "checkpoint.best_model", &best, err)) ||
        (rc = adopt(model, current, "model", err)) || (rc = adopt(st->best, best, "best_model", err)))
        goto done;
    st->epoch = (int)epoch;
    st->step = step;
    st->best_epoch = (int)best_epoch;
done:
    cJSON_Delete(root);
    prillm_aggregator_free(current);
    prillm_aggregator_free(best);
    free(text);
    return rc;
}

/* ---- training loop ---------------------------------------------------- */

static void shuffle(int *x, int count, PrillmRng *rng) {
    for (int k = count - 1; k > 0; k--) {
        int j = (int)(prillm__rng_uniform(rng) * (k + 1)), t = x[k];
        x[k] = x[j], x[j] = t;
    }
}

static void split_sizes(int count, const PrillmTrainSettings *settings, int *n_train, int *n_validation,
                        int *n_test) {
    *n_test = (int)floor(settings->test_fraction * count + 0.5);
    *n_validation = (int)floor(settings->validation_fraction * count + 0.5);
    *n_train = count - *n_test - *n_validation;
}

static void split_order(int count, int seed, int *order) {
    for (int k = 0; k < count; k++) order[k] = k;
    PrillmRng split = {(uint64_t)seed * 0x9e3779b97f4a7c15ULL + 7};
    shuffle(order, count, &split);
}

PrillmErrorCode prillm_aggregator_split(int count, const PrillmTrainSettings *settings, int *order, int *n_train,
                                        int *n_validation, int *n_test, PrillmError *err) {
    if (count < 1 || !settings || !order || !n_train || !n_validation || !n_test)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "count must be >= 1 and settings, order and the sizes non-NULL (count %d)", count);
    PrillmErrorCode rc = prillm_options_check(train_options, N_TRAIN_OPTIONS, settings, err);
    if (rc) return rc;
    if (settings->validation_fraction + settings->test_fraction >= 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "validation-fraction + test-fraction must be < 1, got %g",
                            settings->validation_fraction + settings->test_fraction);
    split_sizes(count, settings, n_train, n_validation, n_test);
    if (*n_train < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "no training scenarios left after the split");
    split_order(count, settings->seed, order);
    return PRILLM_OK;
}

/* Mean and standard deviation of every feature over the training rivals. */
static PrillmErrorCode fit_normalisation(PrillmAggregator *model, const PrillmAggregatorScenarios *sc,
                                         const int *train, int n_train, PrillmError *err) {
    double sum[PRILLM_AGGREGATOR_FEATURES] = {0}, sq[PRILLM_AGGREGATOR_FEATURES] = {0}, mean[PRILLM_AGGREGATOR_FEATURES],
           std[PRILLM_AGGREGATOR_FEATURES];
    long rows = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < n_train; k++) {
            const PrillmAggregatorScenario *s = &sc->items[train[k]];
            int rivals = s->market->n_providers - 1;
            double *x = prillm__calloc((size_t)rivals * PRILLM_AGGREGATOR_FEATURES + 1, sizeof(double));
            if (!x) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory computing feature statistics");
            prillm_aggregator_features(s->market, s->target, x, NULL);
            for (int r = 0; r < rivals; r++)
                for (int f = 0; f < PRILLM_AGGREGATOR_FEATURES; f++) {
                    double v = x[(size_t)r * PRILLM_AGGREGATOR_FEATURES + f];
                    if (pass == 0) sum[f] += v;
                    else sq[f] += (v - mean[f]) * (v - mean[f]);
                }
            if (pass == 0) rows += rivals;
            free(x);
        }
        if (pass == 0)
            for (int f = 0; f < PRILLM_AGGREGATOR_FEATURES; f++) mean[f] = rows ? sum[f] / rows : 0.0;
    }
    for (int f = 0; f < PRILLM_AGGREGATOR_FEATURES; f++) {
        std[f] = rows ? sqrt(sq[f] / rows) : 1.0;
        if (!(std[f] > 1e-12 * (1 + fabs(mean[f])))) std[f] = 1.0; /* constant feature: leave it centred */
    }
    return prillm_aggregator_set_normalisation(model, mean, std, err);
}

PrillmErrorCode prillm_aggregator_train(PrillmAggregator *model, const PrillmAggregatorScenarios *scenarios,
                                        const PrillmTrainSettings *settings, const char *checkpoint,
                                        PrillmTrainCallback callback, void *context, PrillmTrainInfo *info,
                                        PrillmError *err) {
    double start = prillm__now();
    if (!model || !scenarios || !settings || !info)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "model, scenarios, settings or info is NULL");
    memset(info, 0, sizeof *info);
    info->status = PRILLM_STATUS_FAILED;
    info->train_loss = info->validation_loss = info->test_loss = info->test_loss_min = info->test_loss_avg = NAN;
    PrillmErrorCode rc = prillm_options_check(train_options, N_TRAIN_OPTIONS, settings, err);
    if (rc) return rc;
    if (settings->validation_fraction + settings->test_fraction >= 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "validation-fraction + test-fraction must be < 1, got %g", settings->validation_fraction +
                                                                                       settings->test_fraction);
    int N = scenarios->count, np = (int)model->n_params, B = settings->batch;
    int n_test = 0, n_val = 0, n_train = 0;
    split_sizes(N, settings, &n_train, &n_val, &n_test);
    if (n_train < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "no training scenarios left after the split");
    int *order = prillm__calloc((size_t)N, sizeof(int)), *batch_order = prillm__calloc((size_t)n_train, sizeof(int));
    double *grads = prillm__calloc((size_t)B * np, sizeof(double)), *losses = prillm__calloc((size_t)(N > B ? N : B), sizeof(double));
    double *g = prillm__calloc((size_t)np, sizeof(double));
    TrainState st = {0, 0, INFINITY, 0, prillm__calloc((size_t)np, sizeof(double)),
                     prillm__calloc((size_t)np, sizeof(double)), NULL};
    if (!order || !batch_order || !grads || !losses || !g || !st.m || !st.v ||
        !(st.best = prillm_aggregator_copy(model, err))) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for training");
        goto done;
    }
    split_order(N, settings->seed, order);
    const int *train = order, *val = order + n_train, *test = order + n_train + n_val;
    info->n_train = n_train, info->n_validation = n_val, info->n_test = n_test;
    int found = 0;
    if (checkpoint && (rc = read_checkpoint(checkpoint, model, &st, settings, N, &found, err))) goto done;
    if (!found) {
        if ((rc = fit_normalisation(model, scenarios, train, n_train, err))) goto done;
        if ((rc = adopt(st.best, model, "model", err))) goto done;
    }
    int threads = settings->threads;
    for (int epoch = st.epoch + 1; epoch <= settings->epochs; epoch++) {
        PrillmRng rng = {((uint64_t)settings->seed << 20) + (uint64_t)epoch * 0xbf58476d1ce4e5b9ULL};
        memcpy(batch_order, train, sizeof(int) * (size_t)n_train);
        shuffle(batch_order, n_train, &rng);
        double epoch_loss = 0;
        int used = 0;
        for (int first = 0; first < n_train; first += B) {
            int count = n_train - first < B ? n_train - first : B;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(threads > 0 ? threads : omp_get_max_threads())
#endif
            for (int k = 0; k < count; k++) {
                PrillmError local;
                if (evaluate(model, PRILLM_AGGREGATE_DA, settings->K, &scenarios->items[batch_order[first + k]],
                             &losses[k], grads + (size_t)k * np, &local))
                    losses[k] = NAN;
            }
            /* reduce in batch order: the same sum whatever the thread count */
            memset(g, 0, sizeof(double) * (size_t)np);
            int ok = 0;
            for (int k = 0; k < count; k++) {
                if (isnan(losses[k])) {
                    info->skipped++;
                    continue;
                }
                epoch_loss += losses[k], used++, ok++;
                const double *gk = grads + (size_t)k * np;
                for (int q = 0; q < np; q++) g[q] += gk[q];
            }
            if (!ok) continue;
            st.step++;
            /* a scenario near its choke price can give a gradient orders of
             * magnitude above the rest: clip the batch gradient's norm */
            double norm = 0, scale = 1.0 / ok;
            for (int q = 0; q < np; q++) norm += g[q] * g[q];
            norm = sqrt(norm) / ok;
            if (settings->clip > 0 && norm > settings->clip) scale *= settings->clip / norm, info->clipped++;
            double b1 = settings->beta1, b2 = settings->beta2, lr = settings->learning_rate;
            double c1 = 1 - pow(b1, (double)st.step), c2 = 1 - pow(b2, (double)st.step);
            for (int q = 0; q < np; q++) {
                double gq = g[q] * scale;
                st.m[q] = b1 * st.m[q] + (1 - b1) * gq;
                st.v[q] = b2 * st.v[q] + (1 - b2) * gq * gq;
                model->params[q] -= lr * (st.m[q] / c1) / (sqrt(st.v[q] / c2) + 1e-8);
            }
        }
        info->train_loss = used ? epoch_loss / used : NAN;
        int skipped = 0;
        double vloss = n_val ? mean_loss(model, PRILLM_AGGREGATE_DA, settings->K, scenarios, val, n_val, threads, losses,
                                         &skipped)
                             : info->train_loss;
        info->skipped += skipped;
        info->validation_loss = vloss;
        if (vloss < st.best_validation) {
            st.best_validation = vloss;
            st.best_epoch = epoch;
            memcpy(st.best->params, model->params, sizeof(double) * (size_t)np);
        }
        st.epoch = epoch;
        info->epochs_done = epoch;
        info->steps = st.step;
        if (checkpoint && (rc = write_checkpoint(checkpoint, model, &st, settings, N, err))) goto done;
        PrillmTrainProgress progress = {epoch, settings->epochs, st.step, info->train_loss, vloss,
                                        prillm__now() - start};
        if (callback && callback(context, &progress, model)) break;
    }
    /* the answer is the model with the best validation loss */
    if (st.best_epoch > 0) memcpy(model->params, st.best->params, sizeof(double) * (size_t)np);
    info->best_epoch = st.best_epoch;
    int skipped = 0;
    if (n_val)
        info->validation_loss =
            mean_loss(model, PRILLM_AGGREGATE_DA, settings->K, scenarios, val, n_val, threads, losses, &skipped);
    info->test_loss =
        n_test ? mean_loss(model, PRILLM_AGGREGATE_DA, settings->K, scenarios, test, n_test, threads, losses, &skipped)
               : NAN;
    info->test_loss_min =
        n_test ? mean_loss(model, PRILLM_AGGREGATE_MIN, settings->K, scenarios, test, n_test, threads, losses, &skipped)
               : NAN;
    info->test_loss_avg =
        n_test ? mean_loss(model, PRILLM_AGGREGATE_AVG, settings->K, scenarios, test, n_test, threads, losses, &skipped)
               : NAN;
    info->skipped += skipped;
    info->status = PRILLM_STATUS_SOLVED;
done:
    info->seconds = prillm__now() - start;
    free(order), free(batch_order), free(grads), free(losses), free(g), free(st.m), free(st.v);
    prillm_aggregator_free(st.best);
    return rc;
}
