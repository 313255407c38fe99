/* The JSON answers of prillm equilibrium, prillm price (one target) and
 * prillm compete, as library functions: the command line and the pricing
 * service (prillm serve) print the same bytes from the same calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_json.h"
#include "internal.h"
#include "prillm/compete.h"
#include "prillm/equilibrium.h"
#include "prillm/pricing.h"

static void json_numbers(FILE *out, const double *x, int count) {
    fputc('[', out);
    for (int k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_number(out, x[k]);
    }
    fputc(']', out);
}

static void json_strings(FILE *out, char *const *ids, int count) {
    fputc('[', out);
    for (int k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_string(out, ids[k]);
    }
    fputc(']', out);
}

static PrillmErrorCode written(FILE *out, PrillmError *err) {
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the JSON answer failed");
    return PRILLM_OK;
}

/* ---- equilibrium -------------------------------------------------------- */

/* The command line has always called any method but these two "exact". */
static const char *method_name(int method) {
    switch (method) {
    case PRILLM_EQ_GAUSS_SEIDEL: return "gauss-seidel";
    case PRILLM_EQ_IPOPT: return "ipopt";
    default: return "exact";
    }
}

/* ---- limited flows ------------------------------------------------------ */

int prillm_flows_top(const double *row, int m, int k, int *best) {
    if (!row || !best || m < 0 || k < 1) return -1;
    /* a partial insertion sort into best[0..c-1] */
    int c = 0;
    for (int j = 0; j < m; j++) {
        if (!(row[j] > 0)) continue;
        int at = c < k ? c++ : k;
        if (at == k && !(row[j] > row[best[k - 1]])) continue;
        if (at == k) at = k - 1;
        while (at > 0 && row[j] > row[best[at - 1]]) {
            best[at] = best[at - 1];
            at--;
        }
        best[at] = j;
    }
    return c;
}

void prillm__json_top_flows_row(FILE *out, char *const *provider_id, const int *best, const double *flow, int count) {
    fputc('[', out);
    for (int q = 0; q < count; q++) {
        fputs(q ? ", {\"provider\": " : "{\"provider\": ", out);
        prillm__json_string(out, provider_id[best[q]]);
        fputs(", \"flow\": ", out);
        prillm__json_number(out, flow[q]);
        fputc('}', out);
    }
    fputc(']', out);
}

PrillmErrorCode prillm_equilibrium_write_json(const PrillmMarket *mk, const PrillmEquilibrium *eq, int method,
                                              FILE *out, PrillmError *err) {
    return prillm_equilibrium_write_json_flows(mk, eq, method, PRILLM_FLOWS_ALL, 0, out, err);
}

/* One row per user: every flow, or its top K as {"provider", "flow"}. */
static PrillmErrorCode equilibrium_flows(FILE *out, const PrillmMarket *mk, const PrillmEquilibrium *eq, int shown,
                                         int top, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers;
    int k = top < m ? top : m > 0 ? m : 1;
    int *best = NULL;
    double *value = NULL;
    if (shown == PRILLM_FLOWS_TOP) {
        best = malloc((size_t)k * sizeof *best);
        value = malloc((size_t)k * sizeof *value);
        if (!best || !value) {
            free(best);
            free(value);
            return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory for the top %d flows", k);
        }
    }
    fputs(shown == PRILLM_FLOWS_TOP ? ",\n  \"top_flows\": [\n" : ",\n  \"flows\": [\n", out);
    for (int i = 0; i < n; i++) {
        const double *row = eq->flows + (size_t)i * (size_t)m;
        fputs("    ", out);
        if (shown == PRILLM_FLOWS_TOP) {
            int c = prillm_flows_top(row, m, k, best);
            for (int q = 0; q < c; q++) value[q] = row[best[q]];
            prillm__json_top_flows_row(out, mk->provider_id, best, value, c);
        } else {
            json_numbers(out, row, m);
        }
        fputs(i + 1 < n ? ",\n" : "\n", out);
    }
    fputs("  ]", out);
    free(best);
    free(value);
    return PRILLM_OK;
}

PrillmErrorCode prillm_equilibrium_write_json_flows(const PrillmMarket *mk, const PrillmEquilibrium *eq, int method,
                                                    int shown, int top, FILE *out, PrillmError *err) {
    if (!mk || !eq || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL market, equilibrium or stream");
    if (eq->n_users != mk->n_users || eq->n_providers != mk->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "the equilibrium (%d users x %d providers) is not one of this market (%d x %d)",
                            eq->n_users, eq->n_providers, mk->n_users, mk->n_providers);
    if (shown != PRILLM_FLOWS_ALL && shown != PRILLM_FLOWS_NONE && shown != PRILLM_FLOWS_TOP)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "shown is %d: PRILLM_FLOWS_ALL, PRILLM_FLOWS_NONE or PRILLM_FLOWS_TOP", shown);
    if (shown == PRILLM_FLOWS_TOP && top < 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "top is %d: the top K flows need K >= 1", top);
    const PrillmEquilibriumInfo *info = &eq->info;
    int n = mk->n_users, m = mk->n_providers;
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"method\": \"%s\",\n  \"users\": ", prillm_status_name(info->status),
            method_name(method));
    json_strings(out, mk->user_id, n);
    fputs(",\n  \"providers\": ", out);
    json_strings(out, mk->provider_id, m);
    if (shown != PRILLM_FLOWS_NONE) {
        PrillmErrorCode rc = equilibrium_flows(out, mk, eq, shown, top, err);
        if (rc) return rc;
    }
    fputs(",\n  \"provider_flow\": ", out);
    json_numbers(out, eq->provider_flow, m);
    fputs(",\n  \"lambda\": ", out);
    json_numbers(out, eq->lambda, n);
    fputs(",\n  \"kkt_violation\": ", out);
    prillm__json_number(out, info->kkt_violation);
    fputs(",\n  \"demand_residual\": ", out);
    prillm__json_number(out, info->demand_residual);
    fputs(",\n  \"potential\": ", out);
    prillm__json_number(out, info->potential);
    fprintf(out, ",\n  \"iterations\": %d,\n  \"sweeps\": %d,\n  \"active_pairs\": %ld,\n  \"seconds\": ",
            info->iterations, info->sweeps, info->active_pairs);
    prillm__json_number(out, info->seconds);
    fputs("\n}\n", out);
    return written(out, err);
}

/* ---- price (one target) ------------------------------------------------- */

static void price_segments(FILE *out, const PrillmPriceResult *r) {
    fputs(",\n  \"segments\": [", out);
    for (int k = 0; k < r->n_segments; k++) {
        const PrillmPriceSegment *g = &r->segments[k];
        fputs(k ? ",\n    {\"from\": " : "\n    {\"from\": ", out);
        prillm__json_number(out, g->from);
        fputs(", \"to\": ", out);
        prillm__json_number(out, g->to);
        fputs(", \"flow\": ", out);
        prillm__json_number(out, g->flow_from);
        fputs(", \"flow_slope\": ", out);
        prillm__json_number(out, g->flow_slope);
        fputs(", \"best_price\": ", out);
        prillm__json_number(out, g->best_price);
        fputs(", \"best_profit\": ", out);
        prillm__json_number(out, g->best_profit);
        fputc('}', out);
    }
    fputs(r->n_segments ? "\n  ],\n  \"breakpoints\": [" : "],\n  \"breakpoints\": [", out);
}

static void price_breakpoints(FILE *out, const PrillmMarket *mk, const PrillmPriceResult *r) {
    for (int k = 0; k < r->n_breakpoints; k++) {
        const PrillmPriceBreakpoint *b = &r->breakpoints[k];
        fputs(k ? ",\n    {\"price\": " : "\n    {\"price\": ", out);
        prillm__json_number(out, b->price);
        fputs(", \"user\": ", out);
        prillm__json_string(out, mk->user_id[b->user]);
        fputs(", \"provider\": ", out);
        prillm__json_string(out, mk->provider_id[b->provider]);
        fprintf(out, ", \"event\": \"%s\"}", b->enters ? "enters" : "leaves");
    }
    fputs(r->n_breakpoints ? "\n  ]" : "]", out);
}

PrillmErrorCode prillm_price_result_write_json(const PrillmMarket *mk, const PrillmPriceResult *r, int compare,
                                               FILE *out, PrillmError *err) {
    if (!mk || !r || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL market, result or stream");
    if (r->target < 0 || r->target >= mk->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the result's target %d is not a provider of this market",
                            r->target);
    for (int k = 0; k < r->n_breakpoints; k++)
        if (r->breakpoints[k].user < 0 || r->breakpoints[k].user >= mk->n_users || r->breakpoints[k].provider < 0 ||
            r->breakpoints[k].provider >= mk->n_providers)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "breakpoints[%d] is not a pair of this market", k);
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"method\": \"%s\",\n  \"target\": ", prillm_status_name(r->status),
            prillm_price_method_name(r->method));
    prillm__json_string(out, mk->provider_id[r->target]);
    const struct {
        const char *name;
        double value;
    } fields[] = {
        {"price", r->price},
        {"profit", r->profit},
        {"flow", r->flow},
        {"current_price", r->current_price},
        {"current_profit", r->current_profit},
        {"current_flow", r->current_flow},
        {"uplift", r->uplift},
        {"uplift_relative", r->uplift_relative},
        {"cost", r->cost},
        {"pmax", r->p_max},
        {"model_profit", r->model_profit},
        {"kkt_violation", r->kkt_violation},
        {"curve_residual", r->curve_residual},
        {"iterations", (double)r->iterations},
        {"equilibrium_solves", (double)r->equilibrium_solves},
        {"walked_fraction", r->walked_fraction},
        {"bound_solves", (double)r->bound_solves},
        {"exact_profit", r->exact_profit},
        {"profit_ratio", r->profit_ratio},
        {"method_seconds", r->method_seconds},
        {"seconds", r->seconds},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        if ((strcmp(fields[k].name, "curve_residual") == 0 || strcmp(fields[k].name, "walked_fraction") == 0 ||
             strcmp(fields[k].name, "bound_solves") == 0) &&
            r->method != PRILLM_PRICE_EXACT)
            continue;
        if ((strcmp(fields[k].name, "exact_profit") == 0 || strcmp(fields[k].name, "profit_ratio") == 0) && !compare)
            continue;
        fprintf(out, ",\n  \"%s\": ", fields[k].name);
        prillm__json_number(out, fields[k].value);
    }
    fputs(",\n  \"warnings\": [", out);
    int n = 0;
    char text[512];
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1) {
        if (!(r->warnings & bit)) continue;
        fputs(n++ ? ", " : "", out);
        prillm__json_string(out, prillm_price_warning_text(r, bit, text, sizeof text));
    }
    fputc(']', out);
    if (r->method == PRILLM_PRICE_DA) {
        /* da's confidence check (docs/aggregator.md) */
        fprintf(out, ",\n  \"check\": {\"status\": \"%s\", \"fallback\": %s", prillm_price_check_name(r->check),
                r->check == PRILLM_PRICE_CHECK_FALLBACK ? "true" : "false");
        const struct {
            const char *name;
            double value;
        } check[] = {{"da_price", r->abstract_price},  {"da_profit", r->abstract_profit},
                     {"best_price", r->check_price},   {"best_profit", r->check_profit},
                     {"shortfall", r->check_shortfall}, {"solves", (double)r->check_solves}};
        for (size_t k = 0; k < sizeof check / sizeof check[0]; k++) {
            fprintf(out, ", \"%s\": ", check[k].name);
            prillm__json_number(out, check[k].value);
        }
        fputc('}', out);
    }
    if (r->method == PRILLM_PRICE_EXACT) {
        price_segments(out, r);
        price_breakpoints(out, mk, r);
    }
    fputs("\n}\n", out);
    return written(out, err);
}

/* ---- compete ------------------------------------------------------------ */

static void json_field(FILE *out, const char *name, double value) {
    fprintf(out, ",\n  \"%s\": ", name);
    prillm__json_number(out, value);
}

PrillmErrorCode prillm_compete_result_write_json(const PrillmMarket *mk, const PrillmCompeteResult *r,
                                                 const PrillmCompeteSettings *set, FILE *out, PrillmError *err) {
    if (!mk || !r || !set || !out)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL market, result, settings or stream");
    if (r->n_providers != mk->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the result (%d providers) is not one of this market (%d)",
                            r->n_providers, mk->n_providers);
    for (int l = 0; l < r->n_leaders; l++)
        if (r->leader[l] < 0 || r->leader[l] >= mk->n_providers || r->group[l] < 0 || r->group[l] >= r->n_groups)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "leader %d is not a provider of this market", l);
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"certified\": %s,\n  \"exact\": %s,\n  \"order\": \"%s\"",
            prillm_compete_status_name(r->status), r->certified ? "true" : "false", r->exact ? "true" : "false",
            prillm_compete_order_name(set->order));
    json_field(out, "damping", set->damping);
    json_field(out, "rounds", r->rounds);
    json_field(out, "best_responses", (double)r->best_responses);
    json_field(out, "equilibrium_solves", (double)r->equilibrium_solves);
    json_field(out, "residual", r->residual);
    json_field(out, "profit_change", r->profit_change);
    json_field(out, "max_gain_relative", r->max_gain_relative);
    json_field(out, "seconds", r->seconds);
    fputs(",\n  \"leaders\": [", out);
    for (int l = 0; l < r->n_leaders; l++) {
        int j = r->leader[l];
        fputs(l ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[j]);
        fputs(", \"owner\": ", out);
        prillm__json_string(out, r->group_name[r->group[l]]);
        const struct {
            const char *name;
            double value;
        } f[] = {{"price", r->price[j]},         {"profit", r->profit[j]},
                 {"flow", r->flow[j]},           {"cost", isnan(mk->cost[j]) ? 0.0 : mk->cost[j]},
                 {"price_min", r->price_min[l]}, {"price_max", r->price_max[l]},
                 {"deviation_price", r->deviation_price[l]}, {"gain", r->gain[l]},
                 {"gain_relative", r->gain_relative[l]}};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            fprintf(out, ", \"%s\": ", f[k].name);
            prillm__json_number(out, f[k].value);
        }
        fputc('}', out);
    }
    fputs("\n  ],\n  \"owners\": [", out);
    for (int q = 0; q < r->n_groups; q++) {
        fputs(q ? ",\n    {\"owner\": " : "\n    {\"owner\": ", out);
        prillm__json_string(out, r->group_name[q]);
        fputs(", \"profit\": ", out);
        prillm__json_number(out, r->group_value[q]);
        fputs(", \"pair_gain_relative\": ", out);
        prillm__json_number(out, r->pair_gain_relative[q]);
        fputc('}', out);
    }
    fputs("\n  ],\n  \"providers\": [", out);
    for (int j = 0; j < r->n_providers; j++) {
        fputs(j ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[j]);
        fputs(", \"price\": ", out);
        prillm__json_number(out, r->price[j]);
        fputs(", \"profit\": ", out);
        prillm__json_number(out, r->profit[j]);
        fputs(", \"flow\": ", out);
        prillm__json_number(out, r->flow[j]);
        fputc('}', out);
    }
    fputs("\n  ],\n  \"cycle\": [", out);
    for (int c = 0; c < r->cycle_length; c++) {
        fputs(c ? ",\n    " : "\n    ", out);
        json_numbers(out, r->cycle + (size_t)c * (size_t)r->n_leaders, r->n_leaders);
    }
    fputs(r->cycle_length ? "\n  ]\n}\n" : "]\n}\n", out);
    return written(out, err);
}
