/*
 * The explain report's renderings (explain.h): HTML and Markdown share one
 * walk over the sections through a tiny document writer that escapes every
 * market string for its format; JSON prints the same numbers at full
 * precision; the SVG comes from the line-plot writer (src/io/svg_plot.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/explain.h"
#include "svg_plot.h"

#define CURVE_SAMPLES 400

/* ---- numbers for people ------------------------------------------------ */

/* 4 significant digits below 1000, whole numbers above; "n/a" for NaN. */
static const char *show(double v, char *buf, size_t size) {
    if (!isfinite(v)) snprintf(buf, size, isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
    else if (fabs(v) >= 1000 && fabs(v) < 1e15) snprintf(buf, size, "%.0f", v);
    else snprintf(buf, size, "%.4g", v);
    return buf;
}

/* ---- the curve --------------------------------------------------------- */

/* The plotted range: up to a little past the last price that sells, today's
 * price and the recommended one (the default pmax can be far beyond). */
static double plot_right_end(const PrillmExplainResult *r) {
    const PrillmPriceResult *ex = &r->exact;
    double end = 0;
    for (int k = 0; k < ex->n_segments; k++)
        if (ex->segments[k].flow_from > PRILLM_PRICE_NO_FLOW * r->total_demand) end = ex->segments[k].to;
    double want = fmax(end, fmax(r->price.current_price, r->price.price));
    if (!isfinite(want) || !(want > 0)) want = ex->p_max;
    return fmin(ex->p_max, 1.1 * want);
}

/* The target's flow at p off the exact curve, NaN in a gap of a pruned
 * curve (an interval certified to earn less than the optimum, never
 * walked): drawn as a gap rather than the neighbouring piece extended. */
static double curve_flow_or_gap(const PrillmPriceResult *ex, double p) {
    int k = prillm__curve_segment(ex, p);
    if (k < 0) return NAN;
    const PrillmPriceSegment *seg = &ex->segments[k];
    double slack = 1e-9 * ex->p_max;
    if (p < seg->from - slack || p > seg->to + slack) return NAN;
    return seg->flow_from + seg->flow_slope * (p - seg->from); /* as prillm_price_curve_flow */
}

PrillmErrorCode prillm_explain_write_svg(const PrillmMarket *mk, const PrillmExplainResult *r, FILE *out,
                                         PrillmError *err) {
    if (!mk || !r || !out || r->target < 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL market, result or stream");
    const PrillmPriceResult *ex = &r->exact;
    if (ex->n_segments < 1) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the result has no exact curve");
    double right = plot_right_end(r), cost = ex->cost;
    double *x = prillm__calloc(2 * (CURVE_SAMPLES + 1), sizeof(double));
    if (!x) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory plotting the curve");
    double *y = x + CURVE_SAMPLES + 1;
    /* each piece is a quadratic: 400 samples draw it smooth enough, and the
     * marks carry the exact values */
    for (int k = 0; k <= CURVE_SAMPLES; k++) {
        x[k] = right * k / CURVE_SAMPLES;
        y[k] = (x[k] - cost) * curve_flow_or_gap(ex, x[k]);
    }
    char title[400], lab[3][200], a[32], b[32];
    snprintf(title, sizeof title, "Profit of %s against its price", mk->provider_id[r->target]);
    PrillmSvgMark marks[3];
    int n = 0;
    double today = r->price.current_price;
    if (isfinite(today) && today >= 0 && today <= ex->p_max) {
        snprintf(lab[n], sizeof lab[n], "today %s: %s", show(today, a, sizeof a), show(r->price.current_profit, b, sizeof b));
        /* today's profit is the equilibrium's (exact also where the curve
         * was not walked) */
        double at_today = isfinite(r->price.current_profit) ? r->price.current_profit
                                                             : (today - cost) * curve_flow_or_gap(ex, today);
        marks[n] = (PrillmSvgMark){today, at_today, lab[n], "#d62728"};
        n++;
    }
    snprintf(lab[n], sizeof lab[n], "optimum %s: %s", show(ex->price, a, sizeof a), show(ex->profit, b, sizeof b));
    marks[n] = (PrillmSvgMark){ex->price, ex->profit, lab[n], "#2ca02c"};
    n++;
    if (r->price.method != PRILLM_PRICE_EXACT && isfinite(r->price.price)) {
        snprintf(lab[n], sizeof lab[n], "%s %s: %s", prillm_price_method_name(r->price.method),
                 show(r->price.price, a, sizeof a), show(r->price.profit, b, sizeof b));
        marks[n] = (PrillmSvgMark){r->price.price, r->price.profit, lab[n], "#9467bd"};
        n++;
    }
    PrillmSvgLinePlot plot = {title, "price of the target, USD/Mtok", "profit, USD per period (a day)", x, y,
                              CURVE_SAMPLES + 1, marks, n, 760, 440};
    PrillmErrorCode rc = prillm__svg_line_plot(out, &plot, err);
    free(x);
    return rc;
}

/* ---- HTML and Markdown through one writer ------------------------------ */

typedef struct {
    FILE *out;
    int md;
} Doc;

static void md_escape(FILE *out, const char *text) {
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '&') fputs("&amp;", out);
        else if (*c == '<') fputs("&lt;", out);
        else if (*c == '>') fputs("&gt;", out);
        else if (*c == '\n' || *c == '\r') fputc(' ', out);
        else {
            if (strchr("\\`*_[]|#", *c)) fputc('\\', out);
            fputc(*c, out);
        }
    }
}

static void esc(const Doc *d, const char *text) {
    if (d->md) md_escape(d->out, text);
    else prillm__xml_escape(d->out, text);
}

static void heading(const Doc *d, int level, const char *text) {
    if (d->md) {
        fprintf(d->out, "%s%.*s ", level > 1 ? "\n" : "", level, "######");
        esc(d, text);
        fputs("\n\n", d->out);
    } else {
        fprintf(d->out, "<h%d>", level);
        esc(d, text);
        fprintf(d->out, "</h%d>\n", level);
    }
}

static void para(const Doc *d, const char *text) {
    fputs(d->md ? "" : "<p>", d->out);
    esc(d, text);
    fputs(d->md ? "\n\n" : "</p>\n", d->out);
}

static void list_begin(const Doc *d) { fputs(d->md ? "" : "<ul>\n", d->out); }
static void list_item(const Doc *d, const char *text) {
    fputs(d->md ? "- " : "<li>", d->out);
    esc(d, text);
    fputs(d->md ? "\n" : "</li>\n", d->out);
}
static void list_end(const Doc *d) { fputs(d->md ? "\n" : "</ul>\n", d->out); }

/* a number, a percentage or "n/a": right-aligned in HTML tables */
static int numeric(const char *cell) {
    if (strcmp(cell, "n/a") == 0) return 1;
    char *end;
    (void)strtod(cell, &end);
    return end != cell && (*end == '\0' || strcmp(end, "%") == 0);
}

static void row(const Doc *d, const char *const *cells, int n, int header) {
    if (d->md) {
        fputc('|', d->out);
        for (int k = 0; k < n; k++) {
            fputc(' ', d->out);
            esc(d, cells[k]);
            fputs(" |", d->out);
        }
        fputc('\n', d->out);
        if (header) {
            fputc('|', d->out);
            for (int k = 0; k < n; k++) fputs(k ? " ---: |" : " --- |", d->out);
            fputc('\n', d->out);
        }
        return;
    }
    fputs("<tr>", d->out);
    for (int k = 0; k < n; k++) {
        fputs(header ? "<th>" : numeric(cells[k]) ? "<td class=\"n\">" : "<td>", d->out);
        esc(d, cells[k]);
        fputs(header ? "</th>" : "</td>", d->out);
    }
    fputs("</tr>\n", d->out);
}
static void table_begin(const Doc *d) { fputs(d->md ? "" : "<table>\n", d->out); }
static void table_end(const Doc *d) { fputs(d->md ? "\n" : "</table>\n", d->out); }

static const char *percent(double share, char *buf, size_t size) {
    if (!isfinite(share)) return snprintf(buf, size, "n/a"), buf;
    double v = 100 * share;
    /* 1 decimal in the usual range, no exponent when large, 2 digits when tiny */
    snprintf(buf, size, fabs(v) >= 1000 ? "%.0f%%" : fabs(v) >= 0.1 || v == 0 ? "%.1f%%" : "%.2g%%", v);
    return buf;
}

static void summary(const Doc *d, const PrillmExplainResult *r) {
    const PrillmPriceResult *p = &r->price;
    char c[3][64], line[1024];
    snprintf(line, sizeof line, "Method %s, status %s; every profit is the true game's (the exact equilibrium at that "
                                "price); prices in USD/Mtok, flows in Mtok and profits in USD per period (a day in the "
                                "shipped data).",
             prillm_price_method_name(p->method), prillm_status_name(r->status));
    para(d, line);
    table_begin(d);
    const char *head[] = {"", "price", "profit", "flow"};
    row(d, head, 4, 1);
    const char *today[] = {"today", show(p->current_price, c[0], 64), show(p->current_profit, c[1], 64),
                           show(p->current_flow, c[2], 64)};
    row(d, today, 4, 0);
    const char *best[] = {p->method == PRILLM_PRICE_EXACT ? "optimum" : "recommended", show(p->price, c[0], 64),
                          show(p->profit, c[1], 64), show(p->flow, c[2], 64)};
    row(d, best, 4, 0);
    if (p->method != PRILLM_PRICE_EXACT) {
        const char *ex[] = {"exact optimum", show(r->exact.price, c[0], 64), show(r->exact.profit, c[1], 64),
                            show(r->exact.flow, c[2], 64)};
        row(d, ex, 4, 0);
    }
    table_end(d);
    snprintf(line, sizeof line, "Uplift: %s USD per period (%s of today's profit); marginal cost %s USD/Mtok.",
             show(p->uplift, c[0], 64), isfinite(p->uplift_relative) ? percent(p->uplift_relative, c[1], 64) : "n/a",
             show(p->cost, c[2], 64));
    para(d, line);
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
        if (p->warnings & bit) {
            char text[512];
            snprintf(line, sizeof line, "Warning: %s.", prillm_price_warning_text(p, bit, text, sizeof text));
            para(d, line);
        }
    if (!isnan(p->profit_ratio)) {
        snprintf(line, sizeof line, "Compared with the exact optimum (profit %s): %s of it%s", show(p->exact_profit, c[0], 64),
                 percent(p->profit_ratio, c[1], 64),
                 r->far_below ? "; far below the exact optimum: prefer the exact price" : ".");
        if (r->far_below) snprintf(line + strlen(line), sizeof line - strlen(line), " (threshold %s).",
                                   percent(r->far_below_threshold, c[2], 64));
        para(d, line);
    }
}

static void apps_section(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r) {
    heading(d, 2, "App by app");
    para(d, "The target's flow from each app today and at the recommended price, and the rival taking the largest "
            "share of the change (its diversion: the rival's change over the target's loss; when the target gains, "
            "the rival it wins most from).");
    table_begin(d);
    const char *head[] = {"app", "demand", "flow today", "flow at price", "change", "rival most affected", "its share"};
    row(d, head, 7, 1);
    char c[6][64];
    for (int i = 0; i < r->n_users; i++) {
        const PrillmExplainApp *a = &r->apps[i];
        if (!(a->flow_current > 0) && !(a->flow_price > 0)) continue; /* never uses the target */
        const char *cells[] = {mk->user_id[i],
                               show(mk->demand[i], c[0], 64),
                               show(a->flow_current, c[1], 64),
                               show(a->flow_price, c[2], 64),
                               show(a->flow_price - a->flow_current, c[3], 64),
                               a->top_rival >= 0 ? mk->provider_id[a->top_rival] : "-",
                               percent(a->top_diversion, c[4], 64)};
        row(d, cells, 7, 0);
    }
    table_end(d);
    int unused = 0;
    for (int i = 0; i < r->n_users; i++) unused += !(r->apps[i].flow_current > 0) && !(r->apps[i].flow_price > 0);
    if (unused) {
        char line[200];
        snprintf(line, sizeof line, "%d app%s use%s the target at neither price (not listed).", unused,
                 unused == 1 ? "" : "s", unused == 1 ? "s" : "");
        para(d, line);
    }
}

static void rivals_section(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r) {
    heading(d, 2, "Who takes the traffic");
    para(d, "Each rival's total flow today and with the target at the recommended price; diversion is its change over "
            "the target's change with the sign flipped, so the shares sum to 100% (demand is fixed).");
    table_begin(d);
    const char *head[] = {"rival", "price", "flow today", "flow at price", "change", "diversion"};
    row(d, head, 6, 1);
    char c[5][64];
    for (int k = 0; k < r->n_rivals; k++) {
        const PrillmExplainRival *v = &r->rivals[k];
        if (!(v->flow_current > 0) && !(v->flow_price > 0)) continue;
        const char *cells[] = {mk->provider_id[v->provider],    show(mk->price[v->provider], c[0], 64),
                               show(v->flow_current, c[1], 64), show(v->flow_price, c[2], 64),
                               show(v->flow_price - v->flow_current, c[3], 64), percent(v->diversion, c[4], 64)};
        row(d, cells, 6, 0);
    }
    table_end(d);
}

static void sensitivity_section(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r) {
    heading(d, 2, "Rival prices the optimum depends on");
    if (r->n_sensitive == 0) {
        para(d, "Not computed.");
        return;
    }
    char line[400], c[4][64];
    snprintf(line, sizeof line, "d p*/d p_j: how far the exact optimum %s moves per unit change of a rival's price, by "
                                "exact re-solves at p_j +- h (h = %s x max(|p_j|, 0.001)). One-sided values that "
                                "differ mean the optimum jumps to another piece of the curve.",
             show(r->exact.price, c[0], 64), show(r->sensitivity_step, c[1], 64));
    para(d, line);
    table_begin(d);
    const char *head[] = {"rival", "its price", "d p*/d p_j", "from above", "from below"};
    row(d, head, 5, 1);
    for (int q = 0; q < r->n_sensitive; q++) {
        const PrillmExplainRival *v = &r->rivals[r->most_sensitive[q]];
        const char *cells[] = {mk->provider_id[v->provider], show(mk->price[v->provider], c[0], 64),
                               show(v->sensitivity, c[1], 64), show(v->sensitivity_up, c[2], 64),
                               show(v->sensitivity_down, c[3], 64)};
        row(d, cells, 5, 0);
    }
    table_end(d);
    if (r->sensitivity_status != PRILLM_STATUS_SOLVED) {
        snprintf(line, sizeof line, "Some re-solves ended with status %s: read these values with care.",
                 prillm_status_name(r->sensitivity_status));
        para(d, line);
    }
}

static void breakpoint_section(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r) {
    heading(d, 2, "Breakpoints near the price");
    char line[1024], c[64];
    snprintf(line, sizeof line, "The exact curve has %d pieces and %d breakpoints; here the %d nearest the price %s among "
                                "those of the target itself (other apps' moves fill the list when there are too few), "
                                "as the target's price rises:",
             r->exact.n_segments, r->exact.n_breakpoints, r->n_breakpoints, show(r->price.price, c, sizeof c));
    para(d, line);
    list_begin(d);
    for (int k = 0; k < r->n_breakpoints; k++) list_item(d, prillm_explain_breakpoint_text(mk, r, k, line, sizeof line));
    list_end(d);
}

static void abstraction_section(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r) {
    if (!r->abstracted) return;
    heading(d, 2, "What the abstraction saw");
    char line[300];
    snprintf(line, sizeof line,
             "Method %s priced the target in an abstracted market (the target and k rivals, some of them synthetic); "
             "what it did with each of the %d real rivals:",
             prillm_price_method_name(r->price.method), r->n_rivals);
    para(d, line);
    for (int role = 0; role < 4; role++) {
        int count = 0;
        for (int k = 0; k < r->n_rivals; k++) count += r->rivals[k].role == role;
        if (!count) continue;
        snprintf(line, sizeof line, "%s (%d):", prillm_explain_role_name(role), count);
        para(d, line);
        list_begin(d);
        for (int k = 0; k < r->n_rivals; k++)
            if (r->rivals[k].role == role) list_item(d, mk->provider_id[r->rivals[k].provider]);
        list_end(d);
    }
}

static PrillmErrorCode write_doc(const Doc *d, const PrillmMarket *mk, const PrillmExplainResult *r,
                                 const char *svg_path, PrillmError *err) {
    char title[400];
    snprintf(title, sizeof title, "Price report: %s", mk->provider_id[r->target]);
    if (!d->md) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", d->out);
        esc(d, title);
        fputs("</title>\n<style>\n"
              "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}\n"
              "table{border-collapse:collapse;margin:0.5em 0}\n"
              "th,td{border:1px solid #ccc;padding:0.25em 0.6em}\nth{background:#f0f0f0}\n"
              "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
              "svg{max-width:100%;height:auto}\n"
              "</style>\n</head>\n<body>\n",
              d->out);
    }
    heading(d, 1, title);
    summary(d, r);
    heading(d, 2, "Profit curve");
    PrillmErrorCode rc = PRILLM_OK;
    if (r->exact.n_segments < 1) {
        char line[200];
        snprintf(line, sizeof line, "No curve: the exact method ended with status %s.",
                 prillm_status_name(r->exact.status));
        para(d, line);
    } else if (d->md && svg_path) {
        fputs("![profit against price](", d->out);
        /* a link target: angle brackets would end it, spaces need them */
        for (const char *c = svg_path; *c; c++)
            if (*c == ' ') fputs("%20", d->out);
            else if (*c == '(' || *c == ')') fprintf(d->out, "%%%02X", (unsigned char)*c);
            else fputc(*c, d->out);
        fputs(")\n\n", d->out);
    } else {
        rc = prillm_explain_write_svg(mk, r, d->out, err);
        if (d->md) fputc('\n', d->out);
    }
    if (rc) return rc;
    if (r->exact.n_segments >= 1 && r->exact.walked_fraction < 1) {
        char line[400], a[32], b[32];
        snprintf(line, sizeof line,
                 "The curve is drawn where the exact walk covered it, %.3g%% of the price range [0, %s]; the blank "
                 "stretches were certified by %ld equilibrium solves to earn less than the optimum %s, and not walked.",
                 100 * r->exact.walked_fraction, show(r->exact.p_max, a, sizeof a), r->exact.bound_solves,
                 show(r->exact.profit, b, sizeof b));
        para(d, line);
    }
    apps_section(d, mk, r);
    rivals_section(d, mk, r);
    sensitivity_section(d, mk, r);
    breakpoint_section(d, mk, r);
    abstraction_section(d, mk, r);
    if (!d->md) fputs("</body>\n</html>\n", d->out);
    if (ferror(d->out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the report failed");
    return PRILLM_OK;
}

static PrillmErrorCode check_args(const PrillmMarket *mk, const PrillmExplainResult *r, FILE *out, PrillmError *err) {
    if (!mk || !r || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL market, result or stream");
    if (r->target < 0 || r->target >= mk->n_providers || r->n_users != mk->n_users || r->n_providers != mk->n_providers)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "the result is not a report on this market");
    return PRILLM_OK;
}

PrillmErrorCode prillm_explain_write_html(const PrillmMarket *mk, const PrillmExplainResult *r, FILE *out,
                                          PrillmError *err) {
    PrillmErrorCode rc = check_args(mk, r, out, err);
    Doc d = {out, 0};
    return rc ? rc : write_doc(&d, mk, r, NULL, err);
}

PrillmErrorCode prillm_explain_write_markdown(const PrillmMarket *mk, const PrillmExplainResult *r,
                                              const char *svg_path, FILE *out, PrillmError *err) {
    PrillmErrorCode rc = check_args(mk, r, out, err);
    Doc d = {out, 1};
    return rc ? rc : write_doc(&d, mk, r, svg_path, err);
}

/* ---- JSON -------------------------------------------------------------- */

static void json_field(FILE *out, const char *name, double v, int first) {
    fprintf(out, "%s\"%s\": ", first ? "" : ", ", name);
    prillm__json_number(out, v);
}

static void json_price(FILE *out, const PrillmPriceResult *p, int compare) {
    fprintf(out, "{\"method\": \"%s\", \"status\": \"%s\"", prillm_price_method_name(p->method),
            prillm_status_name(p->status));
    const struct {
        const char *name;
        double v;
    } f[] = {{"price", p->price},
             {"profit", p->profit},
             {"flow", p->flow},
             {"current_price", p->current_price},
             {"current_profit", p->current_profit},
             {"current_flow", p->current_flow},
             {"uplift", p->uplift},
             {"uplift_relative", p->uplift_relative},
             {"cost", p->cost},
             {"pmax", p->p_max}};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) json_field(out, f[k].name, f[k].v, 0);
    if (compare) {
        json_field(out, "exact_profit", p->exact_profit, 0);
        json_field(out, "profit_ratio", p->profit_ratio, 0);
    }
    fputs(", \"warnings\": [", out);
    int n = 0;
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
        if (p->warnings & bit) fprintf(out, "%s\"%s\"", n++ ? ", " : "", prillm_price_warning_name(bit));
    fputs("]}", out);
}

PrillmErrorCode prillm_explain_write_json(const PrillmMarket *mk, const PrillmExplainResult *r, FILE *out,
                                          PrillmError *err) {
    PrillmErrorCode rc = check_args(mk, r, out, err);
    if (rc) return rc;
    int m = mk->n_providers, s = r->target;
    fprintf(out, "{\n  \"status\": \"%s\",\n  \"target\": ", prillm_status_name(r->status));
    prillm__json_string(out, mk->provider_id[s]);
    fputs(",\n  \"price\": ", out);
    json_price(out, &r->price, !isnan(r->price.profit_ratio));
    fputs(",\n  \"exact\": ", out);
    json_price(out, &r->exact, 0);
    fprintf(out, ",\n  \"segments\": %d, \"breakpoint_count\": %d", r->exact.n_segments, r->exact.n_breakpoints);
    fprintf(out, ",\n  \"sensitivity_status\": \"%s\"", prillm_status_name(r->sensitivity_status));
    fprintf(out, ",\n  \"far_below\": %s", r->far_below ? "true" : "false");
    fputs(",\n  \"apps\": [", out);
    for (int i = 0; i < r->n_users; i++) {
        const PrillmExplainApp *a = &r->apps[i];
        fputs(i ? ",\n    {\"app\": " : "\n    {\"app\": ", out);
        prillm__json_string(out, mk->user_id[i]);
        json_field(out, "flow_current", a->flow_current, 0);
        json_field(out, "flow_price", a->flow_price, 0);
        fputs(", \"top_rival\": ", out);
        if (a->top_rival >= 0) prillm__json_string(out, mk->provider_id[a->top_rival]);
        else fputs("null", out);
        json_field(out, "top_diversion", a->top_diversion, 0);
        fputs(", \"diversion\": {", out);
        int n = 0;
        for (int j = 0; j < m; j++) {
            double dv = r->diversion[(size_t)i * m + j];
            if (!isfinite(dv) || dv == 0) continue;
            fputs(n++ ? ", " : "", out);
            prillm__json_string(out, mk->provider_id[j]);
            fputs(": ", out);
            prillm__json_number(out, dv);
        }
        fputs("}}", out);
    }
    fputs("\n  ],\n  \"rivals\": [", out);
    for (int k = 0; k < r->n_rivals; k++) {
        const PrillmExplainRival *v = &r->rivals[k];
        fputs(k ? ",\n    {\"rival\": " : "\n    {\"rival\": ", out);
        prillm__json_string(out, mk->provider_id[v->provider]);
        fprintf(out, ", \"role\": \"%s\"", prillm_explain_role_name(v->role));
        json_field(out, "price", mk->price[v->provider], 0);
        json_field(out, "flow_current", v->flow_current, 0);
        json_field(out, "flow_price", v->flow_price, 0);
        json_field(out, "diversion", v->diversion, 0);
        json_field(out, "sensitivity", v->sensitivity, 0);
        json_field(out, "sensitivity_up", v->sensitivity_up, 0);
        json_field(out, "sensitivity_down", v->sensitivity_down, 0);
        json_field(out, "step", v->step, 0);
        fputc('}', out);
    }
    fputs("\n  ],\n  \"most_sensitive\": [", out);
    for (int q = 0; q < r->n_sensitive; q++) {
        fputs(q ? ", " : "", out);
        prillm__json_string(out, mk->provider_id[r->rivals[r->most_sensitive[q]].provider]);
    }
    fputs("],\n  \"breakpoints\": [", out);
    char text[1024];
    for (int k = 0; k < r->n_breakpoints; k++) {
        const PrillmExplainBreakpoint *b = &r->breakpoints[k];
        fputs(k ? ",\n    {\"price\": " : "\n    {\"price\": ", out);
        prillm__json_number(out, b->price);
        fputs(", \"app\": ", out);
        prillm__json_string(out, mk->user_id[b->user]);
        fputs(", \"provider\": ", out);
        prillm__json_string(out, mk->provider_id[b->provider]);
        fprintf(out, ", \"event\": \"%s\", \"moves_to\": ", b->enters ? "enters" : "leaves");
        if (b->moves_to >= 0) prillm__json_string(out, mk->provider_id[b->moves_to]);
        else fputs("null", out);
        json_field(out, "moved", b->moved, 0);
        fputs(", \"text\": ", out);
        prillm__json_string(out, prillm_explain_breakpoint_text(mk, r, k, text, sizeof text));
        fputc('}', out);
    }
    fputs(r->n_breakpoints ? "\n  ],\n" : "],\n", out);
    fputs("  \"seconds\": ", out);
    prillm__json_number(out, r->seconds);
    fputs("\n}\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the report failed");
    return PRILLM_OK;
}
