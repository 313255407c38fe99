/*
 * prillm — the analyst's report: a price explained.
 *
 * prillm_explain prices one target (pricing.h) and answers the questions an
 * analyst asks next, every number from the true game:
 *   - today's price and profit, the recommended price, its profit, the uplift;
 *   - the exact profit curve (always the exact method's, whatever method
 *     recommends the price: the plot and the breakpoints need the whole curve);
 *   - app by app, the target's flow at today's price and at the recommended
 *     one, and who takes the traffic the target gives up (diversion: each
 *     rival's change of flow over the target's loss);
 *   - the rival prices the exact optimum is most sensitive to
 *     (d p* / d p_j by re-solving the exact price at p_j +- h);
 *   - the target's own breakpoints nearest the recommended price (an app
 *     starting or stopping to use it; rivals' events only fill in), with
 *     the rival each app moves to;
 *   - for da, min and avg: which rivals the abstraction kept, merged, dropped
 *     or averaged, and with compare whether the answer earns far less than
 *     the exact optimum.
 * The writers render the same numbers as one self-contained HTML page (inline
 * CSS and SVG), Markdown (the SVG in a separate file or embedded) or JSON.
 * docs/explain.md says how each number is computed.
 */
#ifndef PRILLM_EXPLAIN_H
#define PRILLM_EXPLAIN_H

#include "prillm/export.h"

#include <stdio.h>

#include "prillm/market.h"
#include "prillm/options.h"
#include "prillm/pricing.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* The pricing method and its options (pricing.h); compare asks for the
     * comparison with the exact optimum (profit_ratio, the far_below flag). */
    PrillmPriceSettings price;
    int sensitivities;      /* rivals listed by |d p* / d p_j| (0: none computed) */
    double step;            /* relative step h = step * max(|p_j|, 1e-3)        */
    int breakpoints;        /* breakpoints described around the price           */
    double far_below;       /* with compare: flag profit_ratio below this       */
} PrillmExplainSettings;

/* The explain-only options (the pricing options are prillm_price_options). */
PRILLM_API const PrillmOptionInfo *prillm_explain_options(int *count);
PRILLM_API void prillm_explain_default_settings(PrillmExplainSettings *settings);
/* A name of either table: the explain options first, then the pricing ones. */
PRILLM_API PrillmErrorCode prillm_explain_set_option(PrillmExplainSettings *settings, const char *name,
                                                     const char *value, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_explain_check_settings(const PrillmExplainSettings *settings, PrillmError *err);

/* What an abstraction did with a rival (da, min, avg; KEPT for the others). */
typedef enum {
    PRILLM_EXPLAIN_KEPT = 0,     /* in the abstracted market as itself       */
    PRILLM_EXPLAIN_MERGED = 1,   /* da: merged into the rival "aggregate"    */
    PRILLM_EXPLAIN_DROPPED = 2,  /* min: left out                            */
    PRILLM_EXPLAIN_AVERAGED = 3  /* avg: part of the K identical averages    */
} PrillmExplainRole;

/* "kept", "merged", "dropped", "averaged"; "unknown" otherwise. */
PRILLM_API const char *prillm_explain_role_name(int role);

typedef struct {
    int provider;          /* index into the market's providers                 */
    int role;              /* PrillmExplainRole                                  */
    double flow_current;   /* F_j at today's prices                              */
    double flow_price;     /* F_j with the target at the recommended price       */
    /* (flow_price - flow_current) / -(target's change): the share of the
     * target's lost (or won) traffic this rival takes (or gives); NaN when
     * the target's flow does not change. Demand is fixed, so the shares of
     * all rivals sum to 1. */
    double diversion;
    /* d p* / d p_j of the exact optimum: central difference of exact re-solves
     * at p_j +- h, and the one-sided ones (they differ when the optimum jumps
     * to another piece of the curve). NaN when not computed. */
    double sensitivity, sensitivity_up, sensitivity_down, step;
} PrillmExplainRival;

typedef struct {
    int user;
    double flow_current;   /* the target's flow from this app today             */
    double flow_price;     /* ... at the recommended price                       */
    /* the rival taking the largest share of this app's change (the largest
     * diversion), -1 when the app's flow to the target does not change */
    int top_rival;
    double top_diversion;
} PrillmExplainApp;

typedef struct {
    double price;          /* where it happens on the exact curve                */
    int user, provider;    /* the pair entering or leaving the active set        */
    int enters;            /* 1: starts carrying flow as the price rises past it */
    /* the provider whose flow from this app rises most across the breakpoint
     * (between the midpoints of the pieces either side), not `provider`
     * itself when it leaves; -1 if none rises */
    int moves_to;
    double moved;          /* that rise, Mtok per period                         */
} PrillmExplainBreakpoint;

typedef struct {
    PrillmStatus status;   /* the worse of the two pricing calls' statuses       */
    /* the worst status of the sensitivity re-solves (solved when none ran):
     * inaccurate there means some re-solved curve missed its certificate */
    PrillmStatus sensitivity_status;
    int target;
    PrillmPriceResult price;  /* the chosen method, as prillm_price returns it    */
    PrillmPriceResult exact;  /* the exact method (the curve); a copy of the
                                 numbers of `price` when the method is exact     */
    double total_demand;
    int n_users, n_providers;
    /* the whole equilibria: today's and with the target at price.price,
     * [n_users * n_providers] row-major */
    double *flows_current, *flows_price;
    /* per app and provider: (f_ij(price) - f_ij(today)) / -(change of f_is);
     * NaN where the app's flow to the target does not change, and in the
     * target's column */
    double *diversion;
    PrillmExplainApp *apps;        /* [n_users], market order                  */
    int n_rivals;
    PrillmExplainRival *rivals;    /* [n_rivals], market order                 */
    int n_sensitive;
    int *most_sensitive;           /* indices into rivals, by |sensitivity| desc */
    double sensitivity_step;       /* settings.step: h / max(|p_j|, 1e-3)      */
    int n_breakpoints;
    /* by price: the target's own events nearest price.price first, then
     * (when it has fewer than settings.breakpoints) the nearest others */
    PrillmExplainBreakpoint *breakpoints;
    /* abstraction (da, min, avg with more than k rivals): 1, else 0 */
    int abstracted;
    /* with compare: price.profit_ratio < settings.far_below */
    int far_below;
    double far_below_threshold;
    double seconds;
} PrillmExplainResult;

/* Explain the price of target. settings may be NULL (defaults). The
 * abstraction methods need settings->price.model for da, as prillm_price.
 * On error nothing is held and err names the field. */
PRILLM_API PrillmErrorCode prillm_explain(const PrillmMarket *market, int target,
                                          const PrillmExplainSettings *settings, PrillmExplainResult *result,
                                          PrillmError *err);
PRILLM_API void prillm_explain_result_clear(PrillmExplainResult *result);

/* One breakpoint in words ("above 2.41 USD/Mtok, Kilo Code stops using
 * openai/gpt-4o and moves to x-ai/grok-3"), into buf (truncated). */
PRILLM_API const char *prillm_explain_breakpoint_text(const PrillmMarket *market, const PrillmExplainResult *result,
                                                      int k, char *buf, size_t size);

/* The profit curve of result->exact as a self-contained SVG: profit per day
 * against the target's price, today's price and the optimum marked (and the
 * method's price when it is not exact). */
PRILLM_API PrillmErrorCode prillm_explain_write_svg(const PrillmMarket *market, const PrillmExplainResult *result,
                                                    FILE *out, PrillmError *err);
/* One HTML file: inline CSS and SVG, no script, every market string escaped. */
PRILLM_API PrillmErrorCode prillm_explain_write_html(const PrillmMarket *market, const PrillmExplainResult *result,
                                                     FILE *out, PrillmError *err);
/* Markdown; svg_path is the image the page links to (written separately by
 * the caller), or NULL to embed the SVG inline. */
PRILLM_API PrillmErrorCode prillm_explain_write_markdown(const PrillmMarket *market, const PrillmExplainResult *result,
                                                         const char *svg_path, FILE *out, PrillmError *err);
PRILLM_API PrillmErrorCode prillm_explain_write_json(const PrillmMarket *market, const PrillmExplainResult *result,
                                                     FILE *out, PrillmError *err);

#ifdef __cplusplus
}
#endif
#endif
