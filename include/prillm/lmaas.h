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
 * The seller's operating profit is sum_n (beta_m - serving_cost_m) tau_n
 * plus, by default, the expected on-demand margin
 * sum_n ((1 + premium) beta_m - serving_cost_m) E[on-demand time of n],
 * the expectation over scenarios uniform on U (a midpoint lattice, see
 * PrillmLmaasSettings.on_demand_points); its net profit subtracts the SSL
 * pre-training cost (when any model is offered) and the fine-tuning cost of
 * every offered model.
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
 * stays out unless the robust profit is > 0 (individual rationality). A
 * price of +INFINITY means the model is not offered (the seller's
 * catalogue): the customer cannot rent it. */
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

typedef enum {
    PRILLM_LMAAS_CATALOGUE_ALL = 0,    /* offer every model                      */
    PRILLM_LMAAS_CATALOGUE_EXACT = 1,  /* price every subset, keep the best net  */
    PRILLM_LMAAS_CATALOGUE_GREEDY = 2, /* local search: add, drop or swap one model (heuristic) */
    PRILLM_LMAAS_CATALOGUE_AUTO = 3    /* exact up to max_catalogue_exact, else greedy */
} PrillmLmaasCatalogue;

typedef enum {
    PRILLM_LMAAS_ON_DEMAND_EXPECTED = 0, /* count the expected on-demand margin   */
    PRILLM_LMAAS_ON_DEMAND_IGNORE = 1    /* rental revenue only (the first model) */
} PrillmLmaasOnDemand;

typedef struct {
    int method;            /* PrillmLmaasMethod                              */
    int grid_points;       /* prices per model: price_min..price_max evenly  */
    int max_iterations;    /* IMP passes over all models                     */
    int start;             /* PrillmLmaasStart: IMP's first price vector     */
    double max_exhaustive; /* refuse an exhaustive grid with more vectors    */
    int verbose;           /* progress through the callback                  */
    int on_demand;         /* PrillmLmaasOnDemand: the seller's profit model  */
    int on_demand_points;  /* K: the expectation over U is the mean over a
                              K x K midpoint lattice (docs/lmaas.md); K = 1 is
                              the nominal scenario alone                      */
    int catalogue;         /* PrillmLmaasCatalogue: which models to offer     */
    int max_catalogue_exact; /* exact search refused above this many models  */
} PrillmLmaasSettings;

PRILLM_API const PrillmOptionInfo *prillm_lmaas_options(int *count);
PRILLM_API void prillm_lmaas_default_settings(PrillmLmaasSettings *settings);
PRILLM_API PrillmErrorCode prillm_lmaas_set_option(PrillmLmaasSettings *settings, const char *name, const char *value,
                                        PrillmError *err);
PRILLM_API PrillmErrorCode prillm_lmaas_check_settings(const PrillmLmaasSettings *settings, PrillmError *err);

typedef struct {
    PrillmStatus status;  /* solved; inaccurate if IMP hit max_iterations   */
    int iterations;       /* IMP passes (each visits every model)            */
    long evaluations;     /* seller-profit evaluations (price vectors tried),
                             over the whole catalogue search               */
    long catalogues;      /* catalogues priced (1 with catalogue "all")     */
    double seconds;       /* wall time, including the followers' table       */
    double table_seconds; /* of which tabulating the followers' RSR answers  */
} PrillmLmaasInfo;

/* The seller's profit at given prices and followers' plans. */
typedef struct {
    double rental;    /* sum_n (beta - serving cost) tau_n                   */
    double on_demand; /* sum_n ((1+premium) beta - serving cost) E[on-demand
                         time]; 0 with on_demand = ignore                    */
    double operating; /* rental + on_demand                                  */
    double fixed;     /* C_SSL if any model is offered + offered models' F   */
    double net;       /* operating - fixed                                   */
} PrillmLmaasProfit;

/* Outputs are NaN (model -1) unless status is solved or inaccurate. */
typedef struct {
    int n_models;
    int n_customers;
    double *prices;          /* [n_models]; +INFINITY = not offered          */
    double operating_profit; /* rental + expected on-demand margin           */
    double net_profit;       /* minus C_SSL and the offered models' fine-tuning */
    double rental_profit;    /* the parts of operating_profit                */
    double on_demand_profit;
    double fixed_cost;
    double *on_demand;       /* [n_customers] expected on-demand time (seller's view) */
    int *offered;            /* [n_models] 1 if the model is in the catalogue */
    PrillmLmaasPlan *plans;  /* [n_customers], the followers' RSR at prices  */
    double *history;         /* IMP: operating profit at the start and after each pass */
    int history_length;
    PrillmLmaasInfo info;
} PrillmLmaasResult;

/* Choose the catalogue (settings->catalogue) and price its models
 * (settings may be NULL for defaults); the market's own prices are used
 * only by method "fixed". Catalogues are compared by net profit (operating
 * minus C_SSL, when anything is offered, minus the offered models'
 * fine-tuning); offering nothing is worth 0. Models not offered get price
 * +INFINITY and offered[m] = 0; with every catalogue empty-handed the
 * result offers nothing. The IMP history is the chosen catalogue's. *result is freed with
 * prillm_lmaas_result_free. progress (may be NULL) receives one line per
 * IMP pass when settings->verbose. */
PRILLM_API PrillmErrorCode prillm_lmaas_solve(const PrillmLmaasMarket *market, const PrillmLmaasSettings *settings,
                                   PrillmWarnFn progress, void *progress_context, PrillmLmaasResult **result,
                                   PrillmError *err);
PRILLM_API void prillm_lmaas_result_free(PrillmLmaasResult *result);

/* The followers' RSR at given prices (+INFINITY = not offered) and the
 * seller's profit they imply under settings' profit model (settings may be
 * NULL for defaults). plans has n_customers entries; on_demand (may be
 * NULL) receives each customer's expected on-demand time; profit may be
 * NULL. */
PRILLM_API PrillmErrorCode prillm_lmaas_followers(const PrillmLmaasMarket *market, const PrillmLmaasSettings *settings,
                                       const double *prices, PrillmLmaasPlan *plans, double *on_demand,
                                       PrillmLmaasProfit *profit, PrillmError *err);

/* The scenarios of the seller's expectation: a K x K midpoint lattice of
 * the square [-1, 1]^2 mapped onto U (budget <= 1: the linear map onto the
 * diamond, z = budget ((a + b) / 2, (a - b) / 2); budget > 1: the points
 * of the box inside U), equally weighted. out needs K * K entries; returns
 * the count (1 for budget 0 or K = 1: the nominal scenario). */
PRILLM_API int prillm_lmaas_lattice(double budget, int points, PrillmLmaasScenario *out);


/* ---- out-of-sample evaluation of renting rules (docs/lmaas.md) --------- */
/* The project's own design (the paper's evaluation could not be read):
 * every rule plans before the uncertainty resolves, then each customer's
 * scenario is drawn at random, independently across customers and draws,
 * and the same draws score every rule (common random numbers). */

typedef enum {
    PRILLM_LMAAS_RULE_ROBUST = 0,    /* RSR over U                                */
    PRILLM_LMAAS_RULE_NOMINAL = 1,   /* RSR's rule on the nominal scenario alone  */
    PRILLM_LMAAS_RULE_CHEAPEST = 2,  /* the cheapest offered model, nominal rental */
    PRILLM_LMAAS_RULE_CAPABLE = 3,   /* the highest-fidelity offered model, idem  */
    PRILLM_LMAAS_RULE_HINDSIGHT = 4, /* not a rule: rents knowing the scenario (an
                                        upper bound on every rule, draw by draw)  */
    PRILLM_LMAAS_RULES = 5
} PrillmLmaasRule;

/* "robust", "nominal", "cheapest", "capable", "hindsight"; NULL otherwise. */
PRILLM_API const char *prillm_lmaas_rule_name(int rule);

typedef struct {
    int draws;                /* scenarios per customer, 1..10^7 (default 1000) */
    unsigned long long seed;  /* of the draws (default 1)                        */
    double widening;          /* 1 (default): uniform on U. F in (1, 100]:
                                 uniform on F U minus U, i.e. outside U, with
                                 deviations up to F times the stated ones; a
                                 demand or gain pushed below 0 counts as 0
                                 (nothing to serve / the link carries nothing) */
} PrillmLmaasEvalSettings;

PRILLM_API void prillm_lmaas_default_eval_settings(PrillmLmaasEvalSettings *settings);

enum { PRILLM_LMAAS_QUANTILES = 5 }; /* 5%, 25%, 50%, 75%, 95% */

/* One rule's realised profit; "total" = summed over the customers for one
 * draw (each customer its own scenario), the unit of the distribution. */
typedef struct {
    int renters;            /* customers who rent or buy on demand            */
    double mean;            /* mean total over the draws                      */
    double stddev;          /* sample standard deviation of the total         */
    double quantiles[PRILLM_LMAAS_QUANTILES]; /* of the total (linear interpolation) */
    double worst_observed;  /* smallest total drawn                           */
    double best_observed;   /* largest total drawn                            */
    double worst_case;      /* exact: sum over customers of the plan's worst case
                               over the region drawn from (U, or F U)        */
    double negative_share;  /* share of (customer, draw) pairs with a realised
                               profit below 0, among the rule's renters      */
    double customer_worst;  /* the smallest single realised profit drawn     */
} PrillmLmaasRuleStats;

typedef struct {
    int n_customers;
    int n_models;
    int draws;
    double widening;
    PrillmLmaasRuleStats rules[PRILLM_LMAAS_RULES];
    /* loses_draws[a][b]: share of draws whose total under rule a is below
     * that under b; loses_pairs[a][b]: the same per (customer, draw) pair.
     * "Below" means by more than 1e-9 of the magnitude (round-off ties are
     * not losses). */
    double loses_draws[PRILLM_LMAAS_RULES][PRILLM_LMAAS_RULES];
    double loses_pairs[PRILLM_LMAAS_RULES][PRILLM_LMAAS_RULES];
    double mean_gap_stderr[PRILLM_LMAAS_RULES][PRILLM_LMAAS_RULES]; /* standard error of
                               mean(total_a - total_b) over the paired draws */
    double *totals;    /* [PRILLM_LMAAS_RULES * draws], rule-major, draw order */
    int *models;       /* [PRILLM_LMAAS_RULES * n_customers], -1 = out (hindsight: -1) */
    double *rentals;   /* same layout; hindsight's entries are NaN          */
    double seconds;
} PrillmLmaasEvaluation;

/* Plan every rule at prices[n_models] (+INFINITY = model not offered) and
 * score it on settings->draws random scenarios per customer (settings may
 * be NULL for defaults). The scenarios are the sequence of
 * prillm_lmaas_draw_scenario(budget, widening, &state) from state = seed,
 * for draw 0 customers 0..n-1, then draw 1, and so on. Widening > 1 needs budget > 0 (U is one point
 * otherwise). The market must be valid. *evaluation is freed with
 * prillm_lmaas_evaluation_free. */
PRILLM_API PrillmErrorCode prillm_lmaas_evaluate(const PrillmLmaasMarket *market, const double *prices,
                                      const PrillmLmaasEvalSettings *settings, PrillmLmaasEvaluation **evaluation,
                                      PrillmError *err);
PRILLM_API void prillm_lmaas_evaluation_free(PrillmLmaasEvaluation *evaluation);

/* A scenario uniform on widening x U (widening = 1: U itself); with
 * widening > 1 only outside U. *state is the caller's random state (any
 * value; it advances). Exposed for tests and simulations. */
PRILLM_API PrillmLmaasScenario prillm_lmaas_draw_scenario(double budget, double widening, unsigned long long *state);

#ifdef __cplusplus
}
#endif
#endif
