/* The whole-market fit's report: JSON and a plain table. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market_model_internal.h"


/* Summary figures over paid models (price > 0). */
typedef struct {
    int paid;
    double median_abs_elasticity;
    int nonnegative_cost;
} PaidSummary;

static PaidSummary paid_summary(const PrillmFitResult *r) {
    PaidSummary s = {0, NAN, 0};
    const PrillmMarket *mk = r->market;
    double *e = malloc(((size_t)mk->n_providers + 1) * sizeof *e);
    for (int j = 0; j < mk->n_providers; j++) {
        if (!(mk->price[j] > 0)) continue;
        if (e && isfinite(r->own_elasticity[j])) e[s.paid] = fabs(r->own_elasticity[j]);
        s.nonnegative_cost += r->implied_cost[j] >= 0;
        s.paid++;
    }
    if (e && s.paid) s.median_abs_elasticity = prillm__fit_median(e, s.paid);
    free(e);
    return s;
}

static void estimate_json(FILE *out, const char *name, const PrillmElasticityEstimate *e) {
    fprintf(out, "\"%s\": {\"elasticity\": ", name);
    prillm__json_number(out, e->elasticity);
    fputs(", \"lo\": ", out);
    prillm__json_number(out, e->lo);
    fputs(", \"hi\": ", out);
    prillm__json_number(out, e->hi);
    fprintf(out, ", \"observations\": %ld, \"models\": %d}", e->n_obs, e->n_models);
}

static void score_json(FILE *out, const PrillmForwardScore *s) {
    fputs("{\"name\": ", out);
    prillm__json_string(out, s->name);
    fputs(", \"elasticity\": ", out);
    prillm__json_number(out, s->elasticity);
    fputs(", \"r2\": ", out);
    prillm__json_number(out, s->r2);
    fputs(", \"r2_log\": ", out);
    prillm__json_number(out, s->r2_log);
    fputs(", \"median_abs_log_error\": ", out);
    prillm__json_number(out, s->median_abs_log_error);
    fputs(", \"r2_price_changed\": ", out);
    prillm__json_number(out, s->r2_changed);
    fprintf(out, ", \"cells\": %ld, \"price_changed_cells\": %ld}", s->cells, s->changed_cells);
}

void prillm_fit_write_json(FILE *out, const PrillmFitResult *r) {
    const PrillmMarket *mk = r->market;
    int m = mk->n_providers;
    PaidSummary ps = paid_summary(r);
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"apps\": %d,\n  \"rest_of_market_segments\": %d,\n  \"models\": %d,\n  \"listed_cells\": %ld,\n",
            prillm_status_name(r->status), r->n_apps, r->segments, m, r->listed_cells);
    fprintf(out, "  \"class_users\": %d,\n  \"models_by_service\": {", r->class_users);
    for (int c = 0; c < PRILLM_SERVICE_CLASSES; c++) {
        int count = 0;
        for (int j = 0; j < m; j++) count += r->service_class ? r->service_class[j] == c : c == PRILLM_SERVICE_CHAT;
        fprintf(out, "%s\"%s\": %d", c ? ", " : "", prillm_service_class_name(c), count);
    }
    fputs("},\n", out);
    fprintf(out, "  \"models_dropped_without_price\": %d,\n  \"elasticity_target\": ", r->dropped_models);
    prillm__json_number(out, r->elasticity);
    fprintf(out, ",\n  \"per_model_elasticity\": %s", r->per_model_elasticity ? "true" : "false");
    fputs(",\n  \"elasticity_candidate_range\": [", out);
    prillm__json_number(out, r->candidate_lo);
    fputs(", ", out);
    prillm__json_number(out, r->candidate_hi);
    fputs("],\n  \"shrinkage\": ", out);
    prillm__json_number(out, r->shrinkage);
    fprintf(out, ",\n  \"category_x_model\": %s", r->category_effect ? "true" : "false");
    fputs(",\n  \"forward_days\": ", out);
    fprintf(out, "%d,\n  \"forward\": [", r->forward_days);
    for (int k = 0; k < r->n_forward; k++) {
        fputs(k ? ",\n    " : "\n    ", out);
        score_json(out, &r->forward[k]);
    }
    fputs("],\n  \"heldout_cells\": [", out);
    for (int k = 0; k < r->n_heldout; k++) {
        const PrillmHeldoutScore *h = &r->heldout[k];
        fputs(k ? ",\n    {\"shrinkage\": " : "\n    {\"shrinkage\": ", out);
        if (isnan(h->shrinkage)) fputs("\"market-share baseline\"", out);
        else if (isinf(h->shrinkage)) fputs("\"none (no app x author effect)\"", out);
        else prillm__json_number(out, h->shrinkage);
        fprintf(out, ", \"category_x_model\": %s", h->category ? "true" : "false");
        fputs(", \"r2\": ", out);
        prillm__json_number(out, h->r2);
        fputs(", \"r2_log\": ", out);
        prillm__json_number(out, h->r2_log);
        fprintf(out, ", \"cells\": %ld}", h->cells);
    }
    fputs("],\n  \"certificate\": {\"max_total_error\": ", out);
    prillm__json_number(out, r->max_total_error);
    fputs(", \"max_listed_cell_error\": ", out);
    prillm__json_number(out, r->max_cell_error);
    fputs(", \"kkt_violation\": ", out);
    prillm__json_number(out, r->kkt_violation);
    fprintf(out, ", \"stranded_models\": %d},\n", r->stranded);
    fprintf(out, "  \"paid_models\": %d,\n  \"median_abs_own_elasticity\": ", ps.paid);
    prillm__json_number(out, ps.median_abs_elasticity);
    fprintf(out, ",\n  \"implied_cost_nonnegative\": %d,\n  \"entry\": {\"terms\": [\"1\", \"log price\", "
                 "\"log latency\", \"log throughput\", \"has quality index\", \"quality index / 10\"], \"coefficients\": [",
            ps.nonnegative_cost);
    for (int q = 0; q < PRILLM_FIT_ENTRY_TERMS; q++) {
        if (q) fputs(", ", out);
        prillm__json_number(out, r->entry_coef[q]);
    }
    fputs("], \"r2_log_volume\": ", out);
    prillm__json_number(out, r->entry_r2);
    fprintf(out, ", \"indexed_models\": %d},\n", r->indexed_models);
    if (r->have_measured) {
        fputs("  \"measured_elasticity\": {", out);
        estimate_json(out, "across_providers", &r->measured.across_providers);
        fputs(", ", out);
        estimate_json(out, "over_time", &r->measured.over_time);
        fprintf(out, ", \"level\": 0.9},\n");
    }
    fputs("  \"seconds\": ", out);
    prillm__json_number(out, r->seconds);
    fputs(",\n  \"providers\": [", out);
    for (int j = 0; j < m; j++) {
        fputs(j ? ",\n    {\"id\": " : "\n    {\"id\": ", out);
        prillm__json_string(out, mk->provider_id[j]);
        fprintf(out, ", \"service\": \"%s\"",
                prillm_service_class_name(r->service_class ? r->service_class[j] : PRILLM_SERVICE_CHAT));
        fputs(", \"price\": ", out);
        prillm__json_number(out, mk->price[j]);
        fputs(", \"price_floor\": ", out);
        prillm__json_number(out, r->floor ? r->floor[j] : r->settings.price_floor);
        fputs(", \"flow\": ", out);
        prillm__json_number(out, r->observed_flow[j]);
        fputs(", \"value\": ", out);
        prillm__json_number(out, mk->value[j]);
        fputs(", \"own_elasticity\": ", out);
        prillm__json_number(out, r->own_elasticity[j]);
        fputs(", \"implied_cost\": ", out);
        prillm__json_number(out, r->implied_cost[j]);
        fputs(", \"diversion\": [", out);
        for (int q = 0, first = 1; q < 3; q++) {
            int k = r->diversion_to[(size_t)j * 3 + (size_t)q];
            if (k < 0) continue;
            fputs(first ? "{\"to\": " : ", {\"to\": ", out);
            prillm__json_string(out, mk->provider_id[k]);
            fputs(", \"share\": ", out);
            prillm__json_number(out, r->diversion[(size_t)j * 3 + (size_t)q]);
            fputs(", \"lo\": ", out);
            prillm__json_number(out, r->diversion_lo ? r->diversion_lo[(size_t)j * 3 + (size_t)q] : NAN);
            fputs(", \"hi\": ", out);
            prillm__json_number(out, r->diversion_hi ? r->diversion_hi[(size_t)j * 3 + (size_t)q] : NAN);
            fputs("}", out);
            first = 0;
        }
        fputs("], \"measured_elasticity\": ", out);
        int q = r->have_measured && r->measured_model ? r->measured_model[j] : -1;
        if (q < 0) fputs("null", out);
        else {
            fputs("{\"shrunk\": ", out);
            prillm__json_number(out, r->measured.models[q].shrunk);
            fputs(", \"se\": ", out);
            prillm__json_number(out, r->measured.models[q].shrunk_se);
            fprintf(out, ", \"providers\": %d}", r->measured.models[q].providers);
        }
        fprintf(out, ", \"performance_imputed\": %s}", r->imputed[j] ? "true" : "false");
    }
    fputs("\n  ]\n}\n", out);
}

void prillm_fit_write_table(FILE *out, const PrillmFitResult *r) {
    const PrillmMarket *mk = r->market;
    PaidSummary ps = paid_summary(r);
    fprintf(out, "whole market: %d apps + the rest of the market (%d price tier%s), %d models, %ld listed cells (%s, %.1f s)\n",
            r->n_apps, r->segments, r->segments == 1 ? "" : "s", mk->n_providers, r->listed_cells,
            prillm_status_name(r->status), r->seconds);
    if (r->class_users) {
        int count[PRILLM_SERVICE_CLASSES] = {0};
        for (int j = 0; j < mk->n_providers; j++) count[r->service_class[j]]++;
        fprintf(out, "service classes, each its own market: %d chat, %d input-only (embeddings, rerank, speech), "
                     "%d media (images, transcription); one rest-of-market user per non-chat class\n",
                count[0], count[1], count[2]);
    }
    fprintf(out, "\nforward validation: model totals on %d later days (fit window before them); candidate elasticities "
                 "within the measured range [%.3g, %.3g]\n",
            r->forward_days, r->candidate_lo, r->candidate_hi);
    fprintf(out, "%-24s %8s %8s %12s %12s %8s\n", "forecast", "R2", "R2 log", "med|log err|", "R2 p-chg", "cells");
    for (int k = 0; k < r->n_forward; k++) {
        const PrillmForwardScore *s = &r->forward[k];
        fprintf(out, "%-24s %8.4f %8.4f %12.4f %12.4f %8ld%s\n", s->name, s->r2, s->r2_log, s->median_abs_log_error,
                s->r2_changed, s->cells,
                (r->per_model_elasticity ? strstr(s->name, "per model") != NULL
                                         : s->elasticity == r->elasticity && s->segments == r->segments)
                    ? "  <- chosen"
                    : "");
    }
    fprintf(out, "\nheld-out listed cells (app tastes for cells never observed)\n%-28s %8s %8s %8s\n", "structure", "R2",
            "R2 log", "cells");
    for (int k = 0; k < r->n_heldout; k++) {
        const PrillmHeldoutScore *h = &r->heldout[k];
        char name[64];
        if (isnan(h->shrinkage)) snprintf(name, sizeof name, "market-share baseline");
        else if (isinf(h->shrinkage)) snprintf(name, sizeof name, "no app x author effect");
        else snprintf(name, sizeof name, "app x author%s, shrink %g", h->category ? " + category" : "", h->shrinkage);
        fprintf(out, "%-28s %8.4f %8.4f %8ld%s\n", name, h->r2, h->r2_log, h->cells,
                h->shrinkage == r->shrinkage && h->category == r->category_effect ? "  <- chosen" : "");
    }
    fprintf(out, "\ncertificate: model totals within %.2e, listed cells within %.2e of demand, KKT %.2e, %d stranded\n",
            r->max_total_error, r->max_cell_error, r->kkt_violation, r->stranded);
    fprintf(out, "paid models: %d, median |own-price elasticity| %.3f (target %g), implied marginal cost >= 0 for %d\n",
            ps.paid, ps.median_abs_elasticity, r->elasticity, ps.nonnegative_cost);
    if (r->settings.entry_quality)
        fprintf(out, "entrants: log volume from price, latency, throughput and the quality index (%d of %d models "
                     "have one): in-sample R2 %.3f\n",
                r->indexed_models, mk->n_providers, r->entry_r2);
    else
        fprintf(out, "entrants: log volume from price, latency and throughput: in-sample R2 %.3f\n", r->entry_r2);
    if (r->have_measured) {
        const PrillmElasticityEstimate *a = &r->measured.across_providers, *t = &r->measured.over_time;
        fprintf(out, "measured elasticity (90%% interval): across providers of one model %.3f [%.3f, %.3f] (%ld obs);\n"
                     "  over time, one model's price changes %.3f [%.3f, %.3f] (%d models)\n",
                a->elasticity, a->lo, a->hi, a->n_obs, t->elasticity, t->lo, t->hi, t->n_models);
    }
    fprintf(out, "\n%-44s %9s %10s %7s %9s  %s\n", "largest models", "price", "flow/day", "elast.", "impl.cost",
            "closest rival (diversion [90% interval over the listed apps])");
    for (int j = 0; j < mk->n_providers && j < 15; j++) {
        int k = r->diversion_to[(size_t)j * 3];
        double lo = r->diversion_lo && k >= 0 ? r->diversion_lo[(size_t)j * 3] : NAN;
        double hi = r->diversion_hi && k >= 0 ? r->diversion_hi[(size_t)j * 3] : NAN;
        fprintf(out, "%-44.44s %9.4f %10.4g %7.3f %9.4f  %s (%.2f [%.2f, %.2f])\n", mk->provider_id[j], mk->price[j],
                r->observed_flow[j], r->own_elasticity[j], r->implied_cost[j], k >= 0 ? mk->provider_id[k] : "-",
                k >= 0 ? r->diversion[(size_t)j * 3] : 0.0, lo, hi);
    }
}

PrillmErrorCode prillm_fit_write_market(FILE *out, const PrillmFitResult *r, PrillmError *err) {
    if (!out || !r || !r->market) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "out or result is NULL");
    /* the market as its own writer puts it, then the calibration object
     * inserted before the closing brace */
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    if (!mem) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory writing the market");
    PrillmErrorCode rc = prillm_market_write_json(r->market, mem, err);
    fclose(mem);
    if (rc) {
        free(text);
        return rc;
    }
    size_t end = size;
    while (end > 0 && text[end - 1] != '}') end--;
    if (end == 0) {
        free(text);
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the market writer wrote no JSON object");
    }
    fwrite(text, 1, end - 1, out);
    free(text);
    const PrillmFitSettings *st = &r->settings;
    const PrillmMarket *mk = r->market;
    fprintf(out, ",\n  \"calibration\": {\n    \"model\": \"prillm fit\",\n    \"price\": \"%s\",\n    \"price_floor\": ",
            st->price == PRILLM_FIT_PRICE_LISTED ? "listed" : "effective");
    prillm__json_number(out, st->price_floor);
    fprintf(out, ",\n    \"fit_end\": %d,\n    \"fit_days\": %d,\n    \"elasticity\": ", st->fit_end, st->fit_days);
    prillm__json_number(out, st->elasticity);
    fputs(",\n    \"shrinkage\": ", out);
    prillm__json_number(out, st->shrinkage);
    fputs(",\n    \"rest_users\": [", out);
    for (int t = 0; t < r->segments; t++) {
        if (t) fputs(", ", out);
        prillm__json_string(out, mk->user_id[r->n_apps + t]);
    }
    fputs("],\n    \"tier_edges\": [", out);
    for (int t = 0; t + 1 < r->segments; t++) {
        if (t) fputs(", ", out);
        prillm__json_number(out, r->tier_edge[t]);
    }
    fputs("]", out);
    /* one rest-of-market user per non-chat service class (after the tiers) */
    fputs(",\n    \"class_users\": [", out);
    for (int t = 0; t < r->class_users; t++) {
        if (t) fputs(", ", out);
        prillm__json_string(out, mk->user_id[r->n_apps + r->segments + t]);
    }
    /* the class each of them buys, in class order (the users follow it) */
    fputs("],\n    \"class_user_services\": [", out);
    for (int c = PRILLM_SERVICE_CHAT + 1, t = 0; c < PRILLM_SERVICE_CLASSES && r->service_class; c++) {
        int present = 0;
        for (int j = 0; j < mk->n_providers && !present; j++) present = r->service_class[j] == c;
        if (!present) continue;
        fprintf(out, "%s\"%s\"", t++ ? ", " : "", prillm_service_class_name(c));
    }
    fprintf(out, "],\n    \"classes\": %s", r->classes_applied ? "true" : "false");
    fputs(",\n    \"entry\": {\"coefficients\": [", out);
    for (int q = 0; q < PRILLM_FIT_ENTRY_TERMS; q++) {
        if (q) fputs(", ", out);
        prillm__json_number(out, r->entry_coef[q]);
    }
    fputs("], \"kappa\": ", out);
    prillm__json_number(out, r->entry_kappa);
    fputs("},\n    \"providers\": [", out);
    for (int j = 0; j < mk->n_providers; j++) {
        fputs(j ? ",\n      {\"flow\": " : "\n      {\"flow\": ", out);
        prillm__json_number(out, r->observed_flow[j]);
        fputs(", \"prompt_share\": ", out);
        prillm__json_number(out, r->prompt_share[j]);
        fputs(", \"kappa\": ", out);
        prillm__json_number(out, r->kappa[j]);
        fputs(", \"throughput\": ", out);
        prillm__json_number(out, r->throughput[j]);
        fprintf(out, ", \"service\": \"%s\", \"price_floor\": ",
                prillm_service_class_name(r->service_class ? r->service_class[j] : PRILLM_SERVICE_CHAT));
        prillm__json_number(out, r->floor ? r->floor[j] : st->price_floor);
        fputs("}", out);
    }
    fputs("\n    ]\n  }\n}\n", out);
    return ferror(out) ? prillm__fail(err, PRILLM_ERR_IO, "write error") : PRILLM_OK;
}
