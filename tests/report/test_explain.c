#define _POSIX_C_SOURCE 200809L
/* The explain report: its numbers equal prillm_price and independent
 * equilibrium solves on the same market, the diversions account for every
 * token the target loses (demand is fixed), the abstraction roles match the
 * rule of the method, and the HTML escapes hostile market strings. Small
 * markets: this test also runs under the sanitizers and valgrind. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static double total_demand(const PrillmMarket *mk) {
    double t = 0;
    for (int i = 0; i < mk->n_users; i++) t += mk->demand[i];
    return t;
}

/* the equilibrium flows of mk with provider s at price p, from a fresh solver */
static double *fresh_flows(const PrillmMarket *mk, int s, double p) {
    PrillmError err;
    PrillmMarket *copy = prillm_market_copy(mk, &err);
    assert_non_null(copy);
    copy->price[s] = p;
    PrillmEquilibriumSolver *solver = test_solve(copy, NULL);
    size_t nm = (size_t)mk->n_users * mk->n_providers;
    double *flows = malloc(nm * sizeof *flows);
    assert_non_null(flows);
    memcpy(flows, prillm_equilibrium_solution(solver)->flows, nm * sizeof *flows);
    prillm_equilibrium_cleanup(solver);
    prillm_market_free(copy);
    return flows;
}

static void check_report(const PrillmMarket *mk, int s, const PrillmExplainResult *r) {
    PrillmError err;
    int n = mk->n_users, m = mk->n_providers;
    double total = total_demand(mk);
    /* the price and profits are prillm_price's */
    PrillmPriceResult pr;
    assert_int_equal(prillm_price(mk, s, NULL, &pr, &err), PRILLM_OK);
    assert_true(fabs(r->price.price - pr.price) <= 1e-12 * (1 + pr.price));
    assert_true(fabs(r->price.profit - pr.profit) <= 1e-9 * (1 + fabs(pr.profit)));
    assert_true(fabs(r->price.current_profit - pr.current_profit) <= 1e-9 * (1 + fabs(pr.current_profit)));
    assert_true(fabs(r->price.uplift - pr.uplift) <= 1e-9 * (1 + fabs(pr.uplift)));
    assert_true(fabs(r->exact.price - pr.price) <= 1e-12 * (1 + pr.price));
    assert_int_equal(r->exact.n_segments, pr.n_segments);
    /* the flows are independent equilibrium solves' at both prices */
    double *now = fresh_flows(mk, s, mk->price[s]), *then = fresh_flows(mk, s, pr.price);
    double target_now = 0, target_then = 0;
    for (int i = 0; i < n; i++) {
        assert_true(fabs(r->apps[i].flow_current - now[(size_t)i * m + s]) <= 1e-8 * total);
        assert_true(fabs(r->apps[i].flow_price - then[(size_t)i * m + s]) <= 1e-8 * total);
        target_now += r->apps[i].flow_current;
        target_then += r->apps[i].flow_price;
    }
    assert_true(fabs(target_now - pr.current_flow) <= 1e-8 * total);
    assert_true(fabs(target_then - pr.flow) <= 1e-8 * total);
    assert_true(test_max_diff_norm_relative(mk, r->flows_current, now) <= 1e-8);
    assert_true(test_max_diff_norm_relative(mk, r->flows_price, then) <= 1e-8);
    free(now);
    free(then);
    /* fixed demand: what the target loses the rivals gain, app by app and in
     * total, so the diversion shares sum to 1 */
    double gained = 0, shares = 0;
    for (int k = 0; k < r->n_rivals; k++) {
        gained += r->rivals[k].flow_price - r->rivals[k].flow_current;
        if (isfinite(r->rivals[k].diversion)) shares += r->rivals[k].diversion;
    }
    assert_true(fabs(gained + (target_then - target_now)) <= 1e-8 * total);
    if (fabs(target_then - target_now) > 1e-6 * total) assert_true(fabs(shares - 1) <= 1e-6);
    for (int i = 0; i < n; i++) {
        double lost = r->apps[i].flow_current - r->apps[i].flow_price, sum = 0;
        if (r->apps[i].top_rival < 0) continue;
        for (int j = 0; j < m; j++)
            if (j != s) sum += r->diversion[(size_t)i * m + j];
        if (fabs(lost) > 1e-6 * mk->demand[i]) assert_true(fabs(sum - 1) <= 1e-6);
    }
    /* the sensitivities are ranked and the breakpoints are the curve's */
    for (int q = 1; q < r->n_sensitive; q++)
        assert_true(fabs(r->rivals[r->most_sensitive[q - 1]].sensitivity) >=
                    fabs(r->rivals[r->most_sensitive[q]].sensitivity));
    int target_events = 0;
    for (int b = 0; b < pr.n_breakpoints; b++) target_events += pr.breakpoints[b].provider == s;
    for (int k = 0; k < r->n_breakpoints; k++) {
        /* the target's own events first: rivals' only when it has too few */
        if (target_events >= r->n_breakpoints) assert_int_equal(r->breakpoints[k].provider, s);
        int found = 0;
        for (int b = 0; b < pr.n_breakpoints; b++)
            found |= pr.breakpoints[b].price == r->breakpoints[k].price && pr.breakpoints[b].user == r->breakpoints[k].user;
        assert_true(found);
        if (k) assert_true(r->breakpoints[k].price >= r->breakpoints[k - 1].price);
    }
    prillm_price_result_clear(&pr);
}

static void test_numbers_match_price_and_equilibrium(void **state) {
    (void)state;
    for (unsigned long long seed = 1; seed <= 6; seed++) {
        PrillmError err;
        int n = 4 + (int)seed % 5, m = 3 + (int)seed % 3;
        PrillmMarket *mk = prillm_market_random(n, m, seed, &err);
        assert_non_null(mk);
        int s = (int)(seed % (unsigned long long)m);
        PrillmExplainResult r;
        assert_int_equal(prillm_explain(mk, s, NULL, &r, &err), PRILLM_OK);
        assert_int_equal(r.n_sensitive, m - 1 < 5 ? m - 1 : 5);
        check_report(mk, s, &r);
        prillm_explain_result_clear(&r);
        prillm_market_free(mk);
    }
}

/* min keeps the k cheapest rivals and drops the rest; compare flags a ratio
 * below the threshold and nothing else */
static void test_abstraction_roles(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(6, 6, 11, &err);
    assert_non_null(mk);
    PrillmExplainSettings set;
    prillm_explain_default_settings(&set);
    assert_int_equal(prillm_explain_set_option(&set, "method", "min", &err), PRILLM_OK);
    assert_int_equal(prillm_explain_set_option(&set, "k", "2", &err), PRILLM_OK);
    set.sensitivities = 0;
    set.price.compare = 1;
    PrillmExplainResult r;
    assert_int_equal(prillm_explain(mk, 0, &set, &r, &err), PRILLM_OK);
    assert_int_equal(r.abstracted, 1);
    int kept = 0;
    for (int k = 0; k < r.n_rivals; k++) {
        const PrillmExplainRival *v = &r.rivals[k];
        assert_true(v->role == PRILLM_EXPLAIN_KEPT || v->role == PRILLM_EXPLAIN_DROPPED);
        kept += v->role == PRILLM_EXPLAIN_KEPT;
        /* a dropped rival is no cheaper than any kept one */
        for (int q = 0; q < r.n_rivals && v->role == PRILLM_EXPLAIN_DROPPED; q++)
            if (r.rivals[q].role == PRILLM_EXPLAIN_KEPT)
                assert_true(mk->price[v->provider] >= mk->price[r.rivals[q].provider]);
    }
    assert_int_equal(kept, 2);
    assert_int_equal(r.n_sensitive, 0);
    assert_true(isfinite(r.price.profit_ratio));
    assert_int_equal(r.far_below, r.price.profit_ratio < 0.9);
    assert_true(fabs(r.price.exact_profit - r.exact.profit) <= 1e-9 * (1 + fabs(r.exact.profit)));
    prillm_explain_result_clear(&r);
    prillm_market_free(mk);
}

static char *render(const PrillmMarket *mk, const PrillmExplainResult *r, int format) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    PrillmError err;
    PrillmErrorCode rc = format == 0   ? prillm_explain_write_html(mk, r, out, &err)
                         : format == 1 ? prillm_explain_write_markdown(mk, r, NULL, out, &err)
                                       : prillm_explain_write_json(mk, r, out, &err);
    assert_int_equal(rc, PRILLM_OK);
    fclose(out);
    return text;
}

/* not inlined: GCC 12 then mistakes the memstream buffer for a dangling pointer */
__attribute__((noinline)) static int count(const char *text, const char *what) {
    int n = 0;
    size_t at = 0, len = strlen(what);
    for (const char *hit; (hit = strstr(text + at, what)) != NULL; at = (size_t)(hit - text) + len) n++;
    return n;
}

static void test_hostile_ids_escaped(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(5, 4, 3, &err);
    assert_non_null(mk);
    const char *hostile = "<script>&\"'";
    free(mk->provider_id[1]);
    free(mk->user_id[0]);
    mk->provider_id[1] = strdup(hostile);
    mk->user_id[0] = strdup("app <b>|*_");
    free(mk->provider_id[0]);
    mk->provider_id[0] = strdup("</svg><script>x</script>");
    PrillmExplainResult r;
    PrillmExplainSettings set;
    prillm_explain_default_settings(&set);
    set.sensitivities = 2;
    set.breakpoints = 100;
    assert_int_equal(prillm_explain(mk, 0, &set, &r, &err), PRILLM_OK);
    char *html = render(mk, &r, 0);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<b>"));
    assert_non_null(strstr(html, "&lt;script&gt;&amp;&quot;&#39;"));
    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    assert_non_null(strstr(html, "</html>\n"));
    /* every element the writer opens is closed */
    const char *pairs[][2] = {{"<table>", "</table>"}, {"<tr>", "</tr>"}, {"<svg", "</svg>"}, {"<ul>", "</ul>"},
                              {"<p>", "</p>"},         {"<h2>", "</h2>"}, {"<text", "</text>"}, {"<li>", "</li>"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        assert_int_equal(count(html, pairs[k][0]), count(html, pairs[k][1]));
    assert_int_equal(count(html, "<svg"), 1);
    free(html);
    char *md = render(mk, &r, 1);
    assert_null(strstr(md, "<script"));
    assert_null(strstr(md, "<b>"));
    assert_non_null(strstr(md, "app &lt;b&gt;\\|\\*\\_"));
    free(md);
    char *json = render(mk, &r, 2);
    assert_non_null(strstr(json, "\"<script>&\\\"'\""));
    free(json);
    prillm_explain_result_clear(&r);
    prillm_market_free(mk);
}

/* Points drawn in the curve's polylines, and how many polylines. */
static int plotted_points(const char *svg, int *lines) {
    int points = 0;
    *lines = 0;
    for (const char *at = strstr(svg, "<polyline"); at; at = strstr(at + 1, "<polyline")) {
        const char *p = strstr(at, "points=\""), *end = p ? strchr(p + 8, '"') : NULL;
        assert_non_null(end);
        for (const char *c = p + 8; c < end; c++) points += *c == ',';
        (*lines)++;
    }
    return points;
}

/* The report's curve is walked whole up to 100,000 pairs although
 * prillm_price prunes above 50 pairs by default; a pruned curve (--prune 1) is
 * drawn only where it was walked: its gaps are blank, not the neighbouring
 * piece extended across them, and the page says what the blanks are. */
static void test_curve_whole_or_gaps_blank(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(60, 40, 5, &err); /* 2,400 pairs: prillm_price prunes */
    assert_non_null(mk);
    int gapped = 0;
    for (int s = 0; s < 6; s++) {
        PrillmExplainSettings set;
        prillm_explain_default_settings(&set);
        set.sensitivities = 0;
        for (int prune = -1; prune <= 1; prune += 2) {
            set.price.prune = prune;
            PrillmExplainResult r;
            assert_int_equal(prillm_explain(mk, s, &set, &r, &err), PRILLM_OK);
            char *svg = NULL;
            size_t size = 0;
            FILE *out = open_memstream(&svg, &size);
            assert_non_null(out);
            assert_int_equal(prillm_explain_write_svg(mk, &r, out, &err), PRILLM_OK);
            fclose(out);
            int lines, points = plotted_points(svg, &lines);
            /* the page says how much of the range the curve covers */
            char *html = render(mk, &r, 0);
            int says = strstr(html, "The curve is drawn where the exact walk covered it") != NULL;
            assert_int_equal(says, prune > 0);
            free(html);
            if (prune < 0) {
                /* whole: every one of the 401 samples, one line */
                assert_true(r.exact.walked_fraction == 1.0);
                assert_int_equal(points, 401);
                assert_int_equal(lines, 1);
            } else {
                assert_true(r.exact.walked_fraction < 1.0);
                assert_true(points > 0 && points <= 401 && lines >= 1);
                gapped += points < 401;
            }
            free(svg);
            prillm_explain_result_clear(&r);
        }
    }
    print_message("pruned curves drawn with blank gaps: %d of 6\n", gapped);
    assert_true(gapped >= 3);
    prillm_market_free(mk);
}

static void test_errors_name_the_field(void **state) {
    (void)state;
    PrillmError err;
    PrillmMarket *mk = prillm_market_random(3, 3, 5, &err);
    assert_non_null(mk);
    PrillmExplainResult r;
    assert_int_equal(prillm_explain(mk, 7, NULL, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "target"));
    assert_null(r.apps);
    assert_true(isnan(r.price.price));
    assert_int_equal(prillm_explain(NULL, 0, NULL, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    PrillmExplainSettings set;
    prillm_explain_default_settings(&set);
    assert_int_equal(prillm_explain_set_option(&set, "step", "0", &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "step"));
    set.far_below = NAN;
    assert_int_equal(prillm_explain(mk, 0, &set, &r, &err), PRILLM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "far-below"));
    assert_int_equal(prillm_explain_set_option(&set, "no-such-option", "1", &err), PRILLM_ERR_INVALID_ARGUMENT);
    prillm_market_free(mk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_match_price_and_equilibrium),
        cmocka_unit_test(test_abstraction_roles),
        cmocka_unit_test(test_hostile_ids_escaped),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_curve_whole_or_gaps_blank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
