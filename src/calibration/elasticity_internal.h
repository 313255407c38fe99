/* Price sensitivity (prillm/elasticity.h): the regression designs the
 * OpenRouter reader builds and the estimator fits. Internal. */
#ifndef PRILLM_ELASTICITY_INTERNAL_H
#define PRILLM_ELASTICITY_INTERNAL_H

#include "internal.h"
#include "prillm/elasticity.h"

/* y = x b + fixed effect of the group + e; groups nest in clusters (models).
 * Column 0 of x is log price. */
typedef struct {
    long n;            /* observations                                    */
    int k;             /* regressors                                      */
    int n_groups;      /* fixed-effect groups                             */
    int n_clusters;    /* models                                          */
    int n_days;
    int controls;      /* x[1..4]: log latency, its missing flag, log throughput, its flag */
    int *group;        /* [n]                                             */
    int *cluster;      /* [n]                                             */
    int *provider;     /* [n] provider index within the data (or -1)      */
    double *y;         /* [n] log tokens                                  */
    double *x;         /* [n * k] row-major                               */
} PrillmElasticityDesign;

typedef struct {
    PrillmElasticityDesign across;   /* (day, model) groups, model clusters */
    PrillmElasticityDesign over_time;/* model groups and clusters, day dummies in x[1..] */
    char **model;                    /* [n_models] ids; clusters index into it (both designs) */
    int n_models;
    int *providers;                  /* [n_models] distinct providers in the across design */
    long rows_read, share_fallbacks, controls_missing;
    int over_time_candidates;
} PrillmElasticityData;

PrillmErrorCode prillm__elasticity_read(const char *dir, const PrillmElasticitySettings *st, PrillmElasticityData *data,
                                        PrillmError *err);
void prillm__elasticity_data_free(PrillmElasticityData *data);
void prillm__elasticity_design_free(PrillmElasticityDesign *d);

/* Fit one design: point estimate, cluster-robust SE, within R^2 and the
 * cluster bootstrap. When demeaned is not NULL it receives the demeaned
 * [n * (k + 1)] rows (y last) for per-model fits, and coef the k
 * coefficients (NaN where not identified). */
PrillmErrorCode prillm__elasticity_fit(const PrillmElasticityDesign *d, const PrillmElasticitySettings *st,
                                       unsigned long long stream, PrillmElasticityEstimate *out, double **demeaned,
                                       double *coef, PrillmError *err);

#endif
