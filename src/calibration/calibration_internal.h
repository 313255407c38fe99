/*
 * Calibration internals: the loss over observed periods and its gradient,
 * shared by the optimisers and the baselines. Internal.
 *
 * theta = (log w_congestion, w_delay, value_1..value_m), dimension m + 2.
 * The loss is normalised by the sum of squared training flows:
 *   L = sum_t [ sum_{train cells} (fhat - f)^2
 *             + sum_{censored cells with bound u} max(0, fhat - u)^2 ] / S
 * (the censored term only under censoring "upper").
 */
#ifndef PRILLM_CALIBRATION_INTERNAL_H
#define PRILLM_CALIBRATION_INTERNAL_H

#include "active_set.h"
#include "internal.h"
#include "prillm/calibration.h"

#define PRILLM__THETA_LOGQ 0
#define PRILLM__THETA_DELAY 1
#define PRILLM__THETA_VALUE 2

typedef struct {
    const PrillmObservations *obs;
    int T, n, m, dim;
    int censoring;
    const unsigned char *train; /* [T*n*m], 1 = observed cell in the loss; NULL = every observed cell */
    double norm;                /* S                                      */
    PrillmMarket **work;        /* [T] copies whose weights/values move   */
    PrillmActiveSystem *sys;    /* [T]                                    */
    double *beta;               /* [T*m] alpha_j / w_congestion           */
    double *adj, *pair, *nu, *rhs, *F; /* scratch                         */
    unsigned char *active;
    PrillmEquilibriumSettings eq;
    long evaluations;           /* equilibrium solves                     */
} PrillmCalProblem;

PrillmErrorCode prillm__cal_problem_init(PrillmCalProblem *pb, const PrillmObservations *obs, int censoring,
                                         const unsigned char *train, PrillmError *err);
void prillm__cal_problem_free(PrillmCalProblem *pb);
/* Is observed cell k of period t in the loss? */
static inline int prillm__cal_is_train(const PrillmCalProblem *pb, int t, size_t k) {
    double f = pb->obs->periods[t].observed[k];
    return !(f != f) && (!pb->train || pb->train[(size_t)t * pb->n * pb->m + k]);
}
/* Loss at theta; gradient (dim, may be NULL) by the adjoint of the
 * equilibrium's reduced KKT system; predicted ([T*n*m], may be NULL) gets
 * the equilibrium flows. Returns NaN when an equilibrium cannot be solved;
 * a gradient that cannot be formed is NaN. */
double prillm__cal_loss(PrillmCalProblem *pb, const double *theta, double *grad, double *predicted);
/* Same loss; gradient by central finite differences (2 dim evaluations). */
double prillm__cal_loss_fd(PrillmCalProblem *pb, const double *theta, double *grad, const unsigned char *free_mask);

/* LP initialisation (paper Alg. 1, with slack): values >= 0 minimising
 * sum values + slack_weight * sum |slack| at the given weights. values [m]. */
typedef struct {
    double slack, slack_relative, seconds;
    int status; /* PrillmStatus */
} PrillmLpInfo;
PrillmErrorCode prillm__cal_lp_init(const PrillmCalProblem *pb, double w_congestion, double w_delay,
                                    double slack_weight, double *values, PrillmLpInfo *info, PrillmError *err);

/* Adam on theta over the coordinates in free_mask, gradient exact or FD. */
typedef struct {
    int iterations, use_fd;
    double learning_rate;
    const double *scale;            /* [dim] typical size of each coordinate */
    const unsigned char *free_mask; /* [dim]                               */
    PrillmProgressFn progress;
    void *progress_context;
    int verbose;
} PrillmAdamSettings;
/* theta in/out (the best point seen); returns the best loss (NaN if none). */
double prillm__cal_adam(PrillmCalProblem *pb, double *theta, const PrillmAdamSettings *st, int *iterations);

/* A2C over theta (solvers.md section 8); theta in (start) / out (best). */
double prillm__cal_a2c(PrillmCalProblem *pb, double *theta, const double *scale, const unsigned char *free_mask,
                       int updates, unsigned long long seed, int *iterations);

/* XGBoost: fit cells where train_mask (T*n*m) is set, predict every cell of
 * predicted (T*n*m). */
PrillmErrorCode prillm__cal_xgboost(const PrillmObservations *obs, const unsigned char *train_mask, int rounds,
                                    int depth, unsigned long long seed, double *predicted, PrillmError *err);

#endif
