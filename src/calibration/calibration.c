/*
 * The calibration driver: initialise, optimise, evaluate in-sample and on
 * k-fold held-out cells, for PriLLM and every baseline alike.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration_internal.h"
#include "random.h"

static void progress_say(PrillmProgressFn fn, void *ctx, const char *fmt, ...) PRILLM__PRINTF(3, 4);
static void progress_say(PrillmProgressFn fn, void *ctx, const char *fmt, ...) {
    if (!fn) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fn(ctx, text);
}

/* ---- Adam ------------------------------------------------------------- */

/* A provider with observed positive training flow but no predicted flow in
 * any period sits where the loss is flat in its value (an inactive pair
 * passes no gradient), so no gradient step can bring it back. Raise its
 * value past the point where its cheapest observed pair becomes active
 * (that pair's reduced cost g_ij - lambda_i at the equilibrium), by a few
 * trial margins, and keep the best move only if the loss falls. */
static void revive_unused(PrillmCalProblem *pb, double *theta, const PrillmAdamSettings *st, double *loss) {
    int T = pb->T, n = pb->n, m = pb->m, dim = pb->dim;
    size_t nm = (size_t)n * m;
    double *pred = malloc(nm * T * sizeof(double)), *trial = malloc((size_t)dim * sizeof(double));
    if (!pred || !trial || !isfinite(prillm__cal_loss(pb, theta, NULL, pred))) goto done;
    double wq = exp(theta[PRILLM__THETA_LOGQ]), wd = theta[PRILLM__THETA_DELAY];
    for (int j = 0; j < m; j++) {
        if (st->free_mask && !st->free_mask[PRILLM__THETA_VALUE + j]) continue;
        double predicted = 0, gap = INFINITY;
        for (int t = 0; t < T; t++)
            for (int i = 0; i < n; i++) predicted += pred[(size_t)t * nm + (size_t)i * m + j];
        if (predicted > 0) continue;
        for (int t = 0; t < T; t++) {
            const PrillmMarket *mk = pb->obs->periods[t].market;
            const double *f = pred + (size_t)t * nm;
            for (int k = 0; k < m; k++) {
                pb->F[k] = 0;
                for (int i = 0; i < n; i++) pb->F[k] += f[(size_t)i * m + k];
            }
            for (int i = 0; i < n; i++) {
                size_t cell = (size_t)i * m + j;
                if (!prillm__cal_is_train(pb, t, cell) || !(pb->obs->periods[t].observed[cell] > 0)) continue;
                double lambda = INFINITY;
                for (int k = 0; k < m; k++) {
                    size_t q = (size_t)i * m + k;
                    double g = mk->price[k] + wd * mk->delay[q] - theta[PRILLM__THETA_VALUE + k] +
                               wq / mk->capacity[k] * (pb->F[k] + f[q]);
                    if (g < lambda) lambda = g;
                }
                double own = mk->price[j] + wd * mk->delay[cell] - theta[PRILLM__THETA_VALUE + j];
                if (own - lambda < gap) gap = own - lambda;
            }
        }
        if (!isfinite(gap)) continue;
        static const double margins[] = {0.01, 0.1, 0.3};
        double best = *loss, best_value = theta[PRILLM__THETA_VALUE + j];
        for (int q = 0; q < 3; q++) {
            memcpy(trial, theta, (size_t)dim * sizeof(double));
            trial[PRILLM__THETA_VALUE + j] += fmax(gap, 0.0) + margins[q] * st->scale[PRILLM__THETA_VALUE + j];
            double l = prillm__cal_loss(pb, trial, NULL, NULL);
            if (l < best) {
                best = l;
                best_value = trial[PRILLM__THETA_VALUE + j];
            }
        }
        if (best < *loss) {
            theta[PRILLM__THETA_VALUE + j] = best_value;
            *loss = best;
        }
    }
done:
    free(pred), free(trial);
}

double prillm__cal_adam(PrillmCalProblem *pb, double *theta, const PrillmAdamSettings *st, int *iterations) {
    int dim = pb->dim;
    double *x = calloc((size_t)dim, sizeof(double)), *g = calloc((size_t)dim, sizeof(double));
    double *mom = calloc((size_t)dim, sizeof(double)), *var = calloc((size_t)dim, sizeof(double));
    double *best = calloc((size_t)dim, sizeof(double));
    double best_loss = NAN;
    *iterations = 0;
    if (!x || !g || !mom || !var || !best) goto done;
    memcpy(x, theta, (size_t)dim * sizeof(double));
    memcpy(best, theta, (size_t)dim * sizeof(double));
    const double b1 = 0.9, b2 = 0.999, eps = 1e-12;
    double damp = 1.0; /* halves after each failed or exploding step */
    int since_best = 0, step = 0;
    for (int it = 0; it < st->iterations; it++) {
        double loss = st->use_fd ? prillm__cal_loss_fd(pb, x, g, st->free_mask) : prillm__cal_loss(pb, x, g, NULL);
        *iterations = it + 1;
        int gradient_ok = 1;
        for (int k = 0; k < dim; k++) gradient_ok &= isfinite(g[k]);
        if (!isfinite(loss) || !gradient_ok || (isfinite(best_loss) && loss > 4 * best_loss + 1e-300)) {
            /* back to the best point with a shorter step */
            memcpy(x, best, (size_t)dim * sizeof(double));
            memset(mom, 0, (size_t)dim * sizeof(double));
            memset(var, 0, (size_t)dim * sizeof(double));
            step = 0;
            damp *= 0.5;
            if (damp < 1e-6) break;
            continue;
        }
        if (!isfinite(best_loss) || loss < best_loss) {
            if (isfinite(best_loss) && loss > best_loss * (1 - 1e-9)) since_best++;
            else since_best = 0;
            best_loss = loss;
            memcpy(best, x, (size_t)dim * sizeof(double));
        } else {
            since_best++;
        }
        if (st->verbose >= 2 && st->progress && (it % 50 == 0))
            progress_say(st->progress, st->progress_context, "iteration %d: loss %.6g (best %.6g)", it, loss, best_loss);
        if (since_best >= 25) {
            /* no progress for a while: the steps overshoot. Restart at the
             * best point with shorter steps; stop when they are tiny */
            memcpy(x, best, (size_t)dim * sizeof(double));
            revive_unused(pb, best, st, &best_loss);
            memcpy(x, best, (size_t)dim * sizeof(double));
            memset(mom, 0, (size_t)dim * sizeof(double));
            memset(var, 0, (size_t)dim * sizeof(double));
            step = 0;
            since_best = 0;
            damp *= 0.3;
            if (damp < 1e-3) break;
            continue;
        }
        /* cosine decay to 5% of the step over the run */
        double lr = st->learning_rate * damp * (0.05 + 0.95 * 0.5 * (1 + cos(3.141592653589793 * it / st->iterations)));
        step++;
        double c1 = 1 - pow(b1, step), c2 = 1 - pow(b2, step);
        for (int k = 0; k < dim; k++) {
            if (st->free_mask && !st->free_mask[k]) continue;
            double gz = g[k] * st->scale[k]; /* gradient in scaled coordinates */
            mom[k] = b1 * mom[k] + (1 - b1) * gz;
            var[k] = b2 * var[k] + (1 - b2) * gz * gz;
            x[k] -= lr * st->scale[k] * (mom[k] / c1) / (sqrt(var[k] / c2) + eps);
        }
        if (x[PRILLM__THETA_DELAY] < 0) x[PRILLM__THETA_DELAY] = 0;
        if (x[PRILLM__THETA_LOGQ] > 200) x[PRILLM__THETA_LOGQ] = 200;
        if (x[PRILLM__THETA_LOGQ] < -200) x[PRILLM__THETA_LOGQ] = -200;
    }
    memcpy(theta, best, (size_t)dim * sizeof(double));
done:
    free(x), free(g), free(mom), free(var), free(best);
    return best_loss;
}

/* ---- one fit ------------------------------------------------------------ */

typedef struct {
    int iterations;
    long evaluations;
    double loss_initial, loss_final, seconds;
    PrillmLpInfo lp;
    int have_lp;
} FitInfo;

/* Typical size of each coordinate, so that one Adam step moves all alike. */
static void theta_scale(const PrillmObservations *obs, double *scale) {
    int m = obs->n_providers, n = obs->n_users;
    double price = 0, delay = 0;
    long count = 0;
    for (int t = 0; t < obs->n_periods; t++) {
        const PrillmMarket *mk = obs->periods[t].market;
        for (int j = 0; j < m; j++) price += fabs(mk->price[j]);
        for (size_t k = 0; k < (size_t)n * m; k++) delay += mk->delay[k];
        count++;
    }
    price /= (double)count * m;
    delay /= (double)count * n * m;
    if (!(price > 0)) price = 1;
    scale[PRILLM__THETA_LOGQ] = 1.0;
    scale[PRILLM__THETA_DELAY] = delay > 0 ? price / delay : price;
    for (int j = 0; j < m; j++) scale[PRILLM__THETA_VALUE + j] = price;
}

#define NOQ_CONGESTION 1e-6

static PrillmErrorCode fit_game(const PrillmObservations *obs, const PrillmCalibrationSettings *st,
                                const unsigned char *train, double *theta, double *predicted, FitInfo *info,
                                PrillmProgressFn progress, void *ctx, PrillmError *err) {
    PrillmCalProblem pb;
    double t0 = prillm__now();
    PrillmErrorCode rc = prillm__cal_problem_init(&pb, obs, st->censoring, train, err);
    if (rc) return rc;
    int dim = pb.dim, m = pb.m, method = st->method;
    double *scale = calloc((size_t)dim, sizeof(double)), *values = calloc((size_t)m, sizeof(double));
    unsigned char *free_mask = calloc((size_t)dim, 1);
    if (!scale || !values || !free_mask) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    theta_scale(obs, scale);
    memset(free_mask, 1, (size_t)dim);
    if (method == PRILLM_CAL_NPM) memset(free_mask + PRILLM__THETA_VALUE, 0, (size_t)m);
    if (method == PRILLM_CAL_NOQ) free_mask[PRILLM__THETA_LOGQ] = 0;
    /* start: weights 1 (paper) and LP values, or the best LP over a scan of
     * the congestion weight; NPM keeps values 0, noQ pins congestion ~0 */
    memset(theta, 0, (size_t)dim * sizeof(double));
    theta[PRILLM__THETA_DELAY] = 1.0;
    double best = INFINITY;
    int use_lp = method != PRILLM_CAL_NPM && st->init != 2;
    int scan = st->init == 0 && method != PRILLM_CAL_NOQ;
    for (int e = scan ? -3 : 0; e <= (scan ? 3 : 0); e++) {
        double wq = method == PRILLM_CAL_NOQ ? NOQ_CONGESTION : pow(10.0, e);
        double *trial = calloc((size_t)dim, sizeof(double));
        if (!trial) {
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        trial[PRILLM__THETA_LOGQ] = log(wq);
        trial[PRILLM__THETA_DELAY] = 1.0;
        PrillmLpInfo lp;
        if (use_lp) {
            rc = prillm__cal_lp_init(&pb, wq, 1.0, st->slack_weight, values, &lp, err);
            if (rc) {
                free(trial);
                goto done;
            }
            memcpy(trial + PRILLM__THETA_VALUE, values, (size_t)m * sizeof(double));
        }
        double loss = prillm__cal_loss(&pb, trial, NULL, NULL);
        if (loss < best || !isfinite(best)) {
            if (isfinite(loss) || !isfinite(best)) {
                best = loss;
                memcpy(theta, trial, (size_t)dim * sizeof(double));
                if (use_lp) {
                    info->lp = lp;
                    info->have_lp = 1;
                }
            }
        }
        free(trial);
    }
    info->loss_initial = best;
    if (st->verbose >= 1)
        progress_say(progress, ctx, "%s: start loss %.6g at w_congestion %.4g%s", prillm_calibration_method_name(method),
                     best, exp(theta[PRILLM__THETA_LOGQ]), info->have_lp ? " (LP values)" : "");
    if (info->have_lp && st->verbose >= 1)
        progress_say(progress, ctx, "LP init: slack %.6g (%.3g of the marginal costs), %.3g s", info->lp.slack,
                     info->lp.slack_relative, info->lp.seconds);
    double loss;
    if (method == PRILLM_CAL_A2C) {
        loss = prillm__cal_a2c(&pb, theta, scale, free_mask, st->iterations, (unsigned long long)st->seed,
                               &info->iterations);
    } else {
        PrillmAdamSettings adam = {st->iterations, method == PRILLM_CAL_FD, st->learning_rate, scale, free_mask,
                                   progress, ctx, st->verbose};
        loss = prillm__cal_adam(&pb, theta, &adam, &info->iterations);
    }
    info->loss_final = prillm__cal_loss(&pb, theta, NULL, predicted);
    if (!isfinite(info->loss_final)) info->loss_final = loss;
    info->evaluations = pb.evaluations;
    if (st->verbose >= 1)
        progress_say(progress, ctx, "%s: loss %.6g after %d iterations, %ld equilibrium solves",
                     prillm_calibration_method_name(method), info->loss_final, info->iterations, pb.evaluations);
done:
    info->seconds = prillm__now() - t0;
    free(scale), free(values), free(free_mask);
    prillm__cal_problem_free(&pb);
    return rc;
}

/* XGBoost needs no theta: its fit predicts directly. */
static PrillmErrorCode fit_any(const PrillmObservations *obs, const PrillmCalibrationSettings *st,
                               const unsigned char *train, double *theta, double *predicted, FitInfo *info,
                               PrillmProgressFn progress, void *ctx, PrillmError *err) {
    memset(info, 0, sizeof *info);
    info->loss_initial = info->loss_final = NAN;
    if (st->method != PRILLM_CAL_XGBOOST)
        return fit_game(obs, st, train, theta, predicted, info, progress, ctx, err);
    double t0 = prillm__now();
    size_t total = (size_t)obs->n_periods * obs->n_users * obs->n_providers;
    unsigned char *mask = (unsigned char *)train;
    unsigned char *own = NULL;
    if (!mask) {
        own = calloc(total, 1);
        if (!own) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        size_t nm = (size_t)obs->n_users * obs->n_providers;
        for (size_t k = 0; k < total; k++) own[k] = !isnan(obs->periods[k / nm].observed[k % nm]);
        mask = own;
    }
    PrillmErrorCode rc =
        prillm__cal_xgboost(obs, mask, st->xgb_rounds, st->xgb_depth, (unsigned long long)st->seed, predicted, err);
    free(own);
    for (int k = 0; k < obs->n_providers + 2; k++) theta[k] = NAN;
    info->iterations = st->xgb_rounds;
    info->seconds = prillm__now() - t0;
    return rc;
}

/* ---- evaluation ----------------------------------------------------------- */

void prillm_calibration_fit_quality(const double *observed, const double *predicted, size_t count, double *r2,
                                    double *mae, long *cells) {
    double sum = 0, abs_err = 0, sq_err = 0;
    long used = 0;
    for (size_t k = 0; k < count; k++)
        if (isfinite(observed[k]) && isfinite(predicted[k])) {
            sum += observed[k];
            used++;
        }
    double mean = used ? sum / used : NAN, total = 0;
    for (size_t k = 0; k < count; k++)
        if (isfinite(observed[k]) && isfinite(predicted[k])) {
            double e = predicted[k] - observed[k];
            abs_err += fabs(e);
            sq_err += e * e;
            total += (observed[k] - mean) * (observed[k] - mean);
        }
    if (r2) *r2 = used && total > 0 ? 1 - sq_err / total : NAN;
    if (mae) *mae = used ? abs_err / used : NAN;
    if (cells) *cells = used;
}

static PrillmCalibrationResult *result_alloc(const PrillmObservations *obs) {
    PrillmCalibrationResult *res = prillm__calloc(1, sizeof *res);
    if (!res) return NULL;
    size_t total = (size_t)obs->n_periods * obs->n_users * obs->n_providers;
    res->value = prillm__calloc((size_t)obs->n_providers, sizeof(double));
    res->predicted = prillm__calloc(total, sizeof(double));
    res->predicted_heldout = prillm__calloc(total, sizeof(double));
    if (!res->value || !res->predicted || !res->predicted_heldout) {
        prillm_calibration_result_free(res);
        return NULL;
    }
    res->n_periods = obs->n_periods;
    res->n_users = obs->n_users;
    res->n_providers = obs->n_providers;
    prillm__fill_nan(res->value, (size_t)obs->n_providers);
    prillm__fill_nan(res->predicted, total);
    prillm__fill_nan(res->predicted_heldout, total);
    res->w_congestion = res->w_delay = res->loss_initial = res->loss_final = NAN;
    res->lp_slack = res->lp_slack_relative = res->lp_seconds = NAN;
    res->r2 = res->mae = res->r2_heldout = res->mae_heldout = NAN;
    res->status = PRILLM_STATUS_FAILED;
    return res;
}

void prillm_calibration_result_free(PrillmCalibrationResult *res) {
    if (!res) return;
    free(res->value);
    free(res->predicted);
    free(res->predicted_heldout);
    free(res);
}

/* observed flows of every period side by side, [T*n*m], NaN where censored */
static double *observed_all(const PrillmObservations *obs) {
    size_t nm = (size_t)obs->n_users * obs->n_providers, total = nm * obs->n_periods;
    double *all = prillm__calloc(total, sizeof(double));
    if (all)
        for (size_t k = 0; k < total; k++) all[k] = obs->periods[k / nm].observed[k % nm];
    return all;
}

PrillmErrorCode prillm_calibrate(const PrillmObservations *obs_in, const PrillmCalibrationSettings *st,
                                 PrillmProgressFn progress, void *ctx, PrillmCalibrationResult **out,
                                 PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *out = NULL;
    PrillmCalibrationSettings defaults;
    if (!st) {
        prillm_calibration_default_settings(&defaults);
        st = &defaults;
    }
    PrillmErrorCode rc = prillm_calibration_check_settings(st, err);
    if (rc) return rc;
    if (!obs_in) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "observations are NULL");
    /* validate() recounts cells: work on the caller's object only through const */
    rc = prillm_observations_validate((PrillmObservations *)obs_in, err);
    if (rc) return rc;
    const PrillmObservations *obs = obs_in;
    double t0 = prillm__now();
    PrillmCalibrationResult *res = result_alloc(obs);
    int dim = obs->n_providers + 2;
    double *theta = calloc((size_t)dim, sizeof(double)), *fold_pred = NULL, *observed = observed_all(obs);
    size_t nm = (size_t)obs->n_users * obs->n_providers, total = nm * obs->n_periods;
    int *fold = NULL;
    unsigned char *train = NULL;
    if (!res || !theta || !observed) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    res->method = st->method;
    FitInfo info;
    rc = fit_any(obs, st, NULL, theta, res->predicted, &info, progress, ctx, err);
    if (rc == PRILLM_ERR_SOLVER) { /* the fit ran and failed: a status, not an error */
        if (progress) progress_say(progress, ctx, "calibration failed: %s", err ? err->message : "");
        rc = PRILLM_OK;
        prillm__fill_nan(res->predicted, total);
        goto done;
    }
    if (rc) goto done;
    res->iterations = info.iterations;
    res->evaluations = info.evaluations;
    res->seconds = info.seconds;
    res->loss_initial = info.loss_initial;
    res->loss_final = info.loss_final;
    if (info.have_lp) {
        res->lp_slack = info.lp.slack;
        res->lp_slack_relative = info.lp.slack_relative;
        res->lp_seconds = info.lp.seconds;
    }
    if (st->method != PRILLM_CAL_XGBOOST) {
        res->w_congestion = exp(theta[PRILLM__THETA_LOGQ]);
        res->w_delay = theta[PRILLM__THETA_DELAY];
        memcpy(res->value, theta + PRILLM__THETA_VALUE, (size_t)obs->n_providers * sizeof(double));
    }
    prillm_calibration_fit_quality(observed, res->predicted, total, &res->r2, &res->mae, &res->cells);
    if (!isfinite(res->r2) && !isfinite(res->mae)) goto done; /* failed: status stays failed */
    /* k-fold over observed cells, seeded */
    int k = st->folds;
    if (k >= 2 && obs->observed_cells >= k) {
        long cells = obs->observed_cells;
        fold = calloc((size_t)cells, sizeof(int));
        long *where = calloc((size_t)cells, sizeof(long));
        train = calloc(total, 1);
        fold_pred = calloc(total, sizeof(double));
        if (!fold || !where || !train || !fold_pred) {
            free(where);
            rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
            goto done;
        }
        long c = 0;
        for (size_t q = 0; q < total; q++)
            if (!isnan(observed[q])) where[c++] = (long)q;
        PrillmRng rng = {(uint64_t)st->seed * 0x9e3779b97f4a7c15ULL + 12345};
        for (long a = cells - 1; a > 0; a--) { /* Fisher-Yates */
            long b = (long)(prillm__rng_uniform(&rng) * (double)(a + 1));
            long tmp = where[a];
            where[a] = where[b];
            where[b] = tmp;
        }
        for (int f = 0; f < k; f++) {
            for (size_t q = 0; q < total; q++) train[q] = !isnan(observed[q]);
            for (long a = f; a < cells; a += k) train[where[a]] = 0;
            FitInfo fi;
            rc = fit_any(obs, st, train, theta, fold_pred, &fi, NULL, NULL, err);
            if (rc == PRILLM_ERR_SOLVER) {
                rc = PRILLM_OK;
                prillm__fill_nan(fold_pred, total);
            }
            if (rc) {
                free(where);
                goto done;
            }
            for (long a = f; a < cells; a += k) res->predicted_heldout[where[a]] = fold_pred[where[a]];
            if (st->verbose >= 1) progress_say(progress, ctx, "held-out fold %d/%d done", f + 1, k);
        }
        free(where);
        prillm_calibration_fit_quality(observed, res->predicted_heldout, total, &res->r2_heldout, &res->mae_heldout,
                                       NULL);
    }
    res->status = PRILLM_STATUS_SOLVED;
done:
    if (res) res->seconds_total = prillm__now() - t0;
    free(theta), free(fold_pred), free(observed), free(fold), free(train);
    if (rc) {
        prillm_calibration_result_free(res);
        return rc;
    }
    if (res->status != PRILLM_STATUS_SOLVED) {
        res->w_congestion = res->w_delay = NAN;
        prillm__fill_nan(res->value, (size_t)obs->n_providers);
        res->r2 = res->mae = res->r2_heldout = res->mae_heldout = NAN;
    }
    *out = res;
    return PRILLM_OK;
}

PrillmErrorCode prillm_calibration_market(const PrillmObservations *obs, int period,
                                          const PrillmCalibrationResult *res, PrillmMarket **market,
                                          PrillmError *err) {
    if (!market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *market = NULL;
    if (!obs || !res) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "observations or result is NULL");
    if (period < 0 || period >= obs->n_periods)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "period %d is outside 0..%d", period, obs->n_periods - 1);
    if (res->n_providers != obs->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "result has %d providers, observations %d",
                            res->n_providers, obs->n_providers);
    if (res->status != PRILLM_STATUS_SOLVED || !isfinite(res->w_congestion))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "the %s result has no game parameters (failed, or a method without a game)",
                            prillm_calibration_method_name(res->method));
    PrillmMarket *mk = prillm_market_copy(obs->periods[period].market, err);
    if (!mk) return err ? err->code : PRILLM_ERR_NO_MEMORY;
    mk->w_price = 1.0;
    mk->w_congestion = res->w_congestion;
    mk->w_delay = res->w_delay;
    memcpy(mk->value, res->value, (size_t)mk->n_providers * sizeof(double));
    PrillmErrorCode rc = prillm_market_validate(mk, err);
    if (rc) {
        prillm_market_free(mk);
        return rc;
    }
    *market = mk;
    return PRILLM_OK;
}
