/*
 * prillm — LMaaS: renting large models by the hour (time-based rental), after
 * Wu et al., "LMaaS: Exploring Pricing Strategy of Large Model as a Service
 * for Communication" (IEEE TMC 2024). The paper's equations could not be
 * read; this module implements the reconstruction in docs/lmaas.md, which
 * keeps the paper's structure (a two-step Stackelberg game: the seller prices
 * its models with Iterative Model Pricing, the customers choose a model and a
 * rental time with Robust Selecting and Renting) but not its exact formulas.
 *
 * Customer n renting model m for tau time units at price beta_m:
 *   rate        r(g)   = W log2(1 + P g / noise)           (Mbit/s, W in MHz)
 *   energy      e_m(g) = P rho_m D / r(g) per time unit     (link must carry
 *               rho_m D <= r(g), otherwise the model is unusable)
 *   net value   q_m(g) = v xi_m - energy_price e_m(g)       per served unit
 *   after u (demand) and g (channel gain) are revealed it serves s <= u,
 *   e_m(g) s <= E, the first tau units from the rental, the rest on demand
 *   at (1 + premium) beta_m; robust profit
 *   max_{m, tau} min_{(u, g) in U} max_s [q_m(g) s - (1+premium) beta_m
 *                                         (s - tau)^+] - beta_m tau.
 * U: u = demand (1 + demand_deviation z_u), g = gain (1 + gain_deviation z_g)
 * with |z_u| <= 1, |z_g| <= 1, |z_u| + |z_g| <= budget (2 = the box).
 * The seller's operating profit is sum_n (beta_m - serving_cost_m) tau_n;
 * its net profit subtracts the SSL pre-training and fine-tuning costs.
 */
#ifndef PRILLM_LMAAS_H
#define PRILLM_LMAAS_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/error.h"
#include "prillm/market.h"
#include "prillm/options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_models;
    int n_customers;

    /* environment and market rules */
    double path_loss_exponent; /* kappa, > 0                               */
    double reference_gain;     /* g0: gain at 1 m, > 0 (gain = g0 d^-kappa) */
    double noise_power;        /* sigma^2 in W, > 0                         */
    double premium;            /* lambda >= 0: on-demand costs (1+lambda) beta */
    double budget;             /* Gamma in [0, 2]: uncertainty budget       */
    double max_rental;         /* tau_max > 0, time units                   */
    double ssl_cost;           /* C_SSL >= 0, shared pre-training cost      */
    double price_min;          /* seller's price range, 0 <= min <= max     */
    double price_max;

    /* models [n_models] */
    char **model_id;
    double *compression;   /* rho in (0, 1]: bits sent per raw bit          */
    double *fidelity;      /* xi in [0, 1]: task accuracy                   */
    double *serving_cost;  /* o >= 0 per rented time unit                   */
    double *finetune_cost; /* F >= 0                                        */
    double *price;         /* beta; NaN = not given (needed by "fixed")     */

    /* customers [n_customers] */
    char **customer_id;
    double *data_rate;        /* D > 0, Mbit/s of raw data                  */
    double *bandwidth;        /* W > 0, MHz                                 */
    double *power;            /* P > 0, W                                   */
    double *distance;         /* d > 0, m                                   */
    double *energy_price;     /* >= 0 per W per time unit                   */
    double *energy_capacity;  /* E >= 0, W x time units per horizon         */
    double *value;            /* v >= 0 per served time unit at fidelity 1  */
    double *demand;           /* nominal u >= 0, time units                 */
    double *demand_deviation; /* relative half-width in [0, 1]              */
    double *gain_deviation;   /* relative half-width in [0, 1)              */
} PrillmLmaasMarket;

PRILLM_API PrillmLmaasMarket *prillm_lmaas_alloc(int n_customers, int n_models, PrillmError *err);
PRILLM_API void prillm_lmaas_free(PrillmLmaasMarket *market);
/* First problem found, by field and index ("customers[3].power must be > 0"). */
PRILLM_API PrillmErrorCode prillm_lmaas_validate(const PrillmLmaasMarket *market, PrillmError *err);

/* JSON (docs/lmaas.md); validated. warn may be NULL. */
PRILLM_API PrillmErrorCode prillm_lmaas_parse_json(const char *text, size_t length, PrillmWarnFn warn, void *warn_context,
                                        PrillmLmaasMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_lmaas_read_json(FILE *stream, PrillmWarnFn warn, void *warn_context,
                                       PrillmLmaasMarket **market, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_lmaas_write_json(const PrillmLmaasMarket *market, FILE *stream, PrillmError *err);

/* Seeded synthetic market (docs/lmaas.md, "Generator"): bigger models
 * compress more, are more accurate and cost more to serve; customers spread
 * over 50-500 m, 1-20 MHz, 0.1-1 W, 1-10 Mbit/s, uncertainty 10-40%. */
PRILLM_API PrillmLmaasMarket *prillm_lmaas_random(int n_customers, int n_models, unsigned long long seed, PrillmError *err);

/* ---- customers: Robust Selecting and Renting ---------------------------- */
/* These take a valid market (prillm_lmaas_validate, or one read from JSON):
 * they check indices and prices but not the market, for speed. */

/* A scenario: normalised deviations, u = demand (1 + dev_u z_u), etc. */
typedef struct {
    double z_demand;
    double z_gain;
} PrillmLmaasScenario;

/* The vertices of U for a budget (at most 8, duplicates removed). */
PRILLM_API int prillm_lmaas_vertices(double budget, PrillmLmaasScenario vertices[8]);

typedef struct {
    int model;            /* -1: stays out (no model gives positive robust profit) */
    double rental;        /* tau, 0 when out                                */
    double robust_profit; /* worst case over U of the realised profit; 0 when out */
    PrillmLmaasScenario worst; /* a scenario attaining it                   */
} PrillmLmaasPlan;

/* Customer n's best robust rental of model m at price beta (exact):
 * the smallest maximiser tau of the worst case over U's vertices. If the
 * link cannot carry the model in some scenario, tau = 0 and profit 0. */
PRILLM_API PrillmErrorCode prillm_lmaas_rent_model(const PrillmLmaasMarket *market, int customer, int model, double price,
                                        double *rental, double *robust_profit, PrillmError *err);
/* RSR: best model (ties to the lowest index) and rental at prices[n_models];
 * stays out unless the robust profit is > 0 (individual rationality). */
PRILLM_API PrillmErrorCode prillm_lmaas_rent(const PrillmLmaasMarket *market, int customer, const double *prices,
                                  PrillmLmaasPlan *plan, PrillmError *err);
/* Realised profit of renting model m for tau at price beta when the
 * scenario turns out to be s (the customer then serves optimally). */
PRILLM_API double prillm_lmaas_realised_profit(const PrillmLmaasMarket *market, int customer, int model, double price,
                                    double rental, PrillmLmaasScenario scenario);

/* ---- seller: Iterative Model Pricing ----------------------------------- */

typedef enum {
    PRILLM_LMAAS_IMP = 0,        /* coordinate ascent on the price grid     */
    PRILLM_LMAAS_EXHAUSTIVE = 1, /* every price vector of the grid          */
    PRILLM_LMAAS_FIXED = 2       /* the file's prices, followers only       */
} PrillmLmaasMethod;

typedef enum { PRILLM_LMAAS_START_MIDDLE = 0, PRILLM_LMAAS_START_LOWEST = 1, PRILLM_LMAAS_START_HIGHEST = 2 } PrillmLmaasStart;

typedef struct {
    int method;            /* PrillmLmaasMethod                              */
    int grid_points;       /* prices per model: price_min..price_max evenly  */
    int max_iterations;    /* IMP passes over all models                     */
    int start;             /* PrillmLmaasStart: IMP's first price vector     */
    double max_exhaustive; /* refuse an exhaustive grid with more vectors    */
    int verbose;           /* progress through the callback                  */
} PrillmLmaasSettings;

PRILLM_API const PrillmOptionInfo *prillm_lmaas_options(int *count);
PRILLM_API void prillm_lmaas_default_settings(PrillmLmaasSettings *settings);
PRILLM_API PrillmErrorCode prillm_lmaas_set_option(PrillmLmaasSettings *settings, const char *name, const char *value,
                                        PrillmError *err);
PRILLM_API PrillmErrorCode prillm_lmaas_check_settings(const PrillmLmaasSettings *settings, PrillmError *err);

typedef struct {
    PrillmStatus status;  /* solved; inaccurate if IMP hit max_iterations   */
    int iterations;       /* IMP passes (each visits every model)            */
    long evaluations;     /* seller-profit evaluations (price vectors tried) */
    double seconds;       /* wall time, including the followers' table       */
    double table_seconds; /* of which tabulating the followers' RSR answers  */
} PrillmLmaasInfo;

/* Outputs are NaN (model -1) unless status is solved or inaccurate. */
typedef struct {
    int n_models;
    int n_customers;
    double *prices;          /* [n_models]                                   */
    double operating_profit; /* sum_n (beta - serving cost) tau              */
    double net_profit;       /* minus C_SSL and every fine-tuning cost       */
    PrillmLmaasPlan *plans;  /* [n_customers], the followers' RSR at prices  */
    double *history;         /* IMP: operating profit at the start and after each pass */
    int history_length;
    PrillmLmaasInfo info;
} PrillmLmaasResult;

/* Price the models (settings may be NULL for defaults); the market's own
 * prices are used only by method "fixed". *result is freed with
 * prillm_lmaas_result_free. progress (may be NULL) receives one line per
 * IMP pass when settings->verbose. */
PRILLM_API PrillmErrorCode prillm_lmaas_solve(const PrillmLmaasMarket *market, const PrillmLmaasSettings *settings,
                                   PrillmWarnFn progress, void *progress_context, PrillmLmaasResult **result,
                                   PrillmError *err);
PRILLM_API void prillm_lmaas_result_free(PrillmLmaasResult *result);

/* The followers' RSR at given prices and the seller's profits they imply
 * (plans has n_customers entries; profits may be NULL). */
PRILLM_API PrillmErrorCode prillm_lmaas_followers(const PrillmLmaasMarket *market, const double *prices, PrillmLmaasPlan *plans,
                                       double *operating_profit, double *net_profit, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
