/*
 * Out-of-sample evaluation of renting rules (docs/lmaas.md, "Evaluating
 * renting rules"). The project's own design, not the paper's.
 *
 * Every rule plans before the uncertainty resolves. Then, draw by draw,
 * each customer's scenario is drawn independently, uniform on U (widening
 * 1) or on F U minus U (widening F > 1), and every rule is scored on the
 * same scenario (common random numbers, so rule-against-rule comparisons
 * are paired). The robust rule's worst case over U is its own objective, so
 * it wins there by construction; the draws are where it can lose.
 *
 * Sampling. Inside: for budget <= 1, U is the diamond |z_u| + |z_g| <=
 * budget, the image of the square [-1, 1]^2 under a linear map, so a
 * uniform point of the square maps to a uniform point of U; for budget > 1
 * rejection from the box accepts at least half the points. Outside: a
 * point of F U minus U is rho b with b on U's boundary drawn from the cone
 * measure (the radial projection b = y / gauge(y) of y uniform on U) and rho
 * on [1, F] with density proportional to rho, which is the polar
 * decomposition of the uniform distribution on a star-shaped set; no
 * rejection, so any F > 1 is as cheap as F = 2.
 *
 * Worst case over the region. For a fixed plan the realised profit is
 * quasi-concave on any polytope of scenarios (lmaas_renting.c; a demand or
 * gain pushed to or below 0 only sets the second stage to 0, its smallest
 * value, on a half-plane), so its minimum over F U is at a vertex of F U,
 * which is F times a vertex of U.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmaas_internal.h"
#include "random.h"

static const char *const rule_names[PRILLM_LMAAS_RULES] = {"robust", "nominal", "cheapest", "capable", "hindsight"};

const char *prillm_lmaas_rule_name(int rule) {
    return rule >= 0 && rule < PRILLM_LMAAS_RULES ? rule_names[rule] : NULL;
}

void prillm_lmaas_default_eval_settings(PrillmLmaasEvalSettings *s) {
    if (!s) return;
    s->draws = 1000;
    s->seed = 1;
    s->widening = 1.0;
}

/* ---- scenarios -------------------------------------------------------- */

static void uniform_in_u(PrillmRng *rng, double budget, double *zu, double *zg) {
    if (budget <= 1.0) {
        double a = 2.0 * prillm__rng_uniform(rng) - 1.0, b = 2.0 * prillm__rng_uniform(rng) - 1.0;
        *zu = budget * 0.5 * (a + b);
        *zg = budget * 0.5 * (a - b);
        return;
    }
    do {
        *zu = 2.0 * prillm__rng_uniform(rng) - 1.0;
        *zg = 2.0 * prillm__rng_uniform(rng) - 1.0;
    } while (fabs(*zu) + fabs(*zg) > budget);
}

/* Minkowski gauge of U: the smallest t with z in t U. */
static double gauge(double budget, double zu, double zg) {
    return fmax(fmax(fabs(zu), fabs(zg)), (fabs(zu) + fabs(zg)) / budget);
}

static PrillmLmaasScenario draw(PrillmRng *rng, double budget, double widening) {
    PrillmLmaasScenario s = {0.0, 0.0};
    if (!(budget > 0)) return s;
    uniform_in_u(rng, budget, &s.z_demand, &s.z_gain);
    if (!(widening > 1.0)) return s;
    double g;
    while (!((g = gauge(budget, s.z_demand, s.z_gain)) > 1e-12)) uniform_in_u(rng, budget, &s.z_demand, &s.z_gain);
    double rho = sqrt(1.0 + (widening * widening - 1.0) * prillm__rng_uniform(rng));
    s.z_demand *= rho / g;
    s.z_gain *= rho / g;
    return s;
}

PrillmLmaasScenario prillm_lmaas_draw_scenario(double budget, double widening, unsigned long long *state) {
    PrillmRng rng = {state ? *state : 0};
    PrillmLmaasScenario s = draw(&rng, budget, widening);
    if (state) *state = rng.state;
    return s;
}

/* ---- plans ------------------------------------------------------------ */

/* Best over the offered models of the exact robust rental on a scenario
 * list, RSR's choice rule (strictly positive profit, lowest index on ties);
 * only = -1 for every model, else that model alone. */
static void plan_on(const PrillmLmaasMarket *mk, int i, const double *prices, const PrillmLmaasScenario *list, int count,
                    int only, int *model, double *rental) {
    double best = 0.0;
    *model = -1;
    *rental = 0.0;
    for (int m = 0; m < mk->n_models; m++) {
        if (isinf(prices[m]) || (only >= 0 && m != only)) continue;
        PrillmLmaasOutcome outcomes[8];
        for (int k = 0; k < count; k++) outcomes[k] = prillm__lmaas_outcome(mk, i, m, list[k]);
        double tau, profit;
        prillm__lmaas_robust_rental(outcomes, count, prices[m], mk->premium, mk->max_rental, &tau, &profit, NULL);
        if (profit > best) {
            best = profit;
            *model = m;
            *rental = tau;
        }
    }
}

static double realised_in(PrillmLmaasOutcome o, double rental, double price, double premium) {
    return prillm__lmaas_second_stage(o, rental, price, premium) - price * rental;
}

/* Knowing the scenario: renting beyond the servable time only costs, so
 * the best rental of a model is 0, min(servable, max_rental) or max_rental
 * (the profit is concave piecewise linear in tau with its kink there). */
static double hindsight(const PrillmLmaasMarket *mk, const double *prices, const PrillmLmaasOutcome *outcomes) {
    double best = 0.0;
    for (int m = 0; m < mk->n_models; m++) {
        if (isinf(prices[m])) continue;
        double levels[3] = {0.0, fmin(outcomes[m].servable, mk->max_rental), mk->max_rental};
        for (int k = 0; k < 3; k++) best = fmax(best, realised_in(outcomes[m], levels[k], prices[m], mk->premium));
    }
    return best;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int below(double a, double b) { return a < b - 1e-9 * (1.0 + fabs(a) + fabs(b)); }

void prillm_lmaas_evaluation_free(PrillmLmaasEvaluation *e) {
    if (!e) return;
    free(e->totals);
    free(e->models);
    free(e->rentals);
    free(e);
}

PrillmErrorCode prillm_lmaas_evaluate(const PrillmLmaasMarket *mk, const double *prices,
                                      const PrillmLmaasEvalSettings *settings, PrillmLmaasEvaluation **out,
                                      PrillmError *err) {
    if (!out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "evaluation pointer is NULL");
    *out = NULL;
    if (!mk || !prices) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or prices is NULL");
    double t0 = prillm__now();
    PrillmLmaasEvalSettings defaults;
    prillm_lmaas_default_eval_settings(&defaults);
    const PrillmLmaasEvalSettings *s = settings ? settings : &defaults;
    if (s->draws < 1 || s->draws > 10000000)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "draws must be in 1..10000000, got %d", s->draws);
    if (!(s->widening >= 1.0 && s->widening <= 100.0))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "widening must be in [1, 100], got %g", s->widening);
    if (s->widening > 1.0 && !(mk->budget > 0))
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                            "widening %g needs an uncertainty budget > 0 (with budget 0 the set is one point)",
                            s->widening);
    int n = mk->n_customers, models = mk->n_models, draws = s->draws;
    for (int m = 0; m < models; m++)
        if (!(prices[m] >= 0))
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT,
                                "prices[%d] must be >= 0 (or +inf: not offered), got %g", m, prices[m]);
    if ((double)draws * PRILLM_LMAAS_RULES > 1e9 || (double)n * PRILLM_LMAAS_RULES > 1e9)
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%d draws x %d customers is too large", draws, n);

    PrillmLmaasEvaluation *e = calloc(1, sizeof *e);
    double *profit = malloc((size_t)PRILLM_LMAAS_RULES * (size_t)n * sizeof *profit);
    PrillmLmaasOutcome *outcomes = malloc((size_t)models * sizeof *outcomes);
    long *loses_pairs = calloc((size_t)PRILLM_LMAAS_RULES * PRILLM_LMAAS_RULES, sizeof *loses_pairs);
    long *negative = calloc(PRILLM_LMAAS_RULES, sizeof *negative);
    double *sorted = malloc((size_t)draws * sizeof *sorted);
    char *positive = calloc((size_t)n, 1);
    if (e) {
        e->totals = malloc((size_t)PRILLM_LMAAS_RULES * (size_t)draws * sizeof *e->totals);
        e->models = malloc((size_t)PRILLM_LMAAS_RULES * (size_t)n * sizeof *e->models);
        e->rentals = malloc((size_t)PRILLM_LMAAS_RULES * (size_t)n * sizeof *e->rentals);
    }
    PrillmErrorCode rc = PRILLM_OK;
    if (!e || !profit || !outcomes || !loses_pairs || !negative || !sorted || !positive || !e->totals || !e->models ||
        !e->rentals) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory evaluating %d draws x %d customers", draws, n);
        goto done;
    }
    e->n_customers = n;
    e->n_models = models;
    e->draws = draws;
    e->widening = s->widening;

    /* the plans */
    PrillmLmaasScenario nominal = {0.0, 0.0};
    for (int i = 0; i < n; i++) {
        PrillmLmaasPlan plan;
        if ((rc = prillm_lmaas_rent(mk, i, prices, &plan, err))) goto done;
        e->models[i] = plan.model;
        e->rentals[i] = plan.model >= 0 ? plan.rental : 0.0;
        int at = PRILLM_LMAAS_RULE_NOMINAL * n + i;
        plan_on(mk, i, prices, &nominal, 1, -1, &e->models[at], &e->rentals[at]);
        int cheapest = -1, capable = -1;
        for (int m = 0; m < models; m++) {
            if (isinf(prices[m])) continue;
            if (cheapest < 0 || prices[m] < prices[cheapest]) cheapest = m;
            if (capable < 0 || mk->fidelity[m] > mk->fidelity[capable]) capable = m;
        }
        at = PRILLM_LMAAS_RULE_CHEAPEST * n + i;
        e->models[at] = -1;
        e->rentals[at] = 0.0;
        if (cheapest >= 0) plan_on(mk, i, prices, &nominal, 1, cheapest, &e->models[at], &e->rentals[at]);
        at = PRILLM_LMAAS_RULE_CAPABLE * n + i;
        e->models[at] = -1;
        e->rentals[at] = 0.0;
        if (capable >= 0) plan_on(mk, i, prices, &nominal, 1, capable, &e->models[at], &e->rentals[at]);
        at = PRILLM_LMAAS_RULE_HINDSIGHT * n + i;
        e->models[at] = -1;
        e->rentals[at] = NAN;
    }

    /* exact worst case over the region: F times U's vertices */
    PrillmLmaasScenario vertices[8];
    int n_vertices = prillm_lmaas_vertices(mk->budget, vertices);
    for (int k = 0; k < n_vertices; k++) {
        vertices[k].z_demand *= s->widening;
        vertices[k].z_gain *= s->widening;
    }
    for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
        PrillmLmaasRuleStats *st = &e->rules[r];
        st->worst_case = r == PRILLM_LMAAS_RULE_HINDSIGHT ? NAN : 0.0;
        st->customer_worst = INFINITY;
        for (int i = 0; i < n && r != PRILLM_LMAAS_RULE_HINDSIGHT; i++) {
            int m = e->models[r * n + i];
            if (m < 0) continue;
            st->renters++;
            double low = INFINITY;
            for (int k = 0; k < n_vertices; k++)
                low = fmin(low, realised_in(prillm__lmaas_outcome(mk, i, m, vertices[k]), e->rentals[r * n + i], prices[m],
                                            mk->premium));
            st->worst_case += low;
        }
    }

    /* the draws */
    /* the sequence prillm_lmaas_draw_scenario gives from state = seed,
     * draw by draw, customer by customer (documented, so it can be replayed) */
    PrillmRng rng = {s->seed};
    for (int d = 0; d < draws; d++) {
        double total[PRILLM_LMAAS_RULES] = {0};
        for (int i = 0; i < n; i++) {
            PrillmLmaasScenario sc = draw(&rng, mk->budget, s->widening);
            for (int m = 0; m < models; m++)
                outcomes[m] = isinf(prices[m]) ? (PrillmLmaasOutcome){0.0, 0.0, 0} : prillm__lmaas_outcome(mk, i, m, sc);
            for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
                double v;
                if (r == PRILLM_LMAAS_RULE_HINDSIGHT) {
                    v = hindsight(mk, prices, outcomes);
                    if (v > 0) positive[i] = 1;
                } else {
                    int m = e->models[r * n + i];
                    v = m < 0 ? 0.0 : realised_in(outcomes[m], e->rentals[r * n + i], prices[m], mk->premium);
                    if (m >= 0 && v < 0) negative[r]++;
                }
                profit[r * n + i] = v;
                total[r] += v;
                e->rules[r].customer_worst = fmin(e->rules[r].customer_worst, v);
            }
            for (int a = 0; a < PRILLM_LMAAS_RULES; a++)
                for (int b = 0; b < PRILLM_LMAAS_RULES; b++)
                    if (a != b && below(profit[a * n + i], profit[b * n + i])) loses_pairs[a * PRILLM_LMAAS_RULES + b]++;
        }
        for (int r = 0; r < PRILLM_LMAAS_RULES; r++) e->totals[(size_t)r * (size_t)draws + (size_t)d] = total[r];
    }
    for (int i = 0; i < n; i++) e->rules[PRILLM_LMAAS_RULE_HINDSIGHT].renters += positive[i];

    /* the statistics */
    static const double levels[PRILLM_LMAAS_QUANTILES] = {0.05, 0.25, 0.5, 0.75, 0.95};
    for (int r = 0; r < PRILLM_LMAAS_RULES; r++) {
        PrillmLmaasRuleStats *st = &e->rules[r];
        const double *t = e->totals + (size_t)r * (size_t)draws;
        double sum = 0.0, sq = 0.0;
        for (int d = 0; d < draws; d++) sum += t[d];
        st->mean = sum / draws;
        for (int d = 0; d < draws; d++) sq += (t[d] - st->mean) * (t[d] - st->mean);
        st->stddev = draws > 1 ? sqrt(sq / (draws - 1)) : 0.0;
        memcpy(sorted, t, (size_t)draws * sizeof *sorted);
        qsort(sorted, (size_t)draws, sizeof *sorted, compare_doubles);
        st->worst_observed = sorted[0];
        st->best_observed = sorted[draws - 1];
        for (int q = 0; q < PRILLM_LMAAS_QUANTILES; q++) {
            double h = (draws - 1) * levels[q];
            int lo = (int)floor(h);
            int hi = lo + 1 < draws ? lo + 1 : lo;
            st->quantiles[q] = sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
        }
        st->negative_share = st->renters > 0 && r != PRILLM_LMAAS_RULE_HINDSIGHT
                                 ? (double)negative[r] / ((double)st->renters * draws)
                                 : 0.0;
        for (int b = 0; b < PRILLM_LMAAS_RULES; b++) {
            const double *u = e->totals + (size_t)b * (size_t)draws;
            long lost = 0;
            double gap_sum = 0.0, gap_sq = 0.0;
            for (int d = 0; d < draws; d++) {
                lost += below(t[d], u[d]);
                gap_sum += t[d] - u[d];
            }
            double gap_mean = gap_sum / draws;
            for (int d = 0; d < draws; d++) gap_sq += (t[d] - u[d] - gap_mean) * (t[d] - u[d] - gap_mean);
            e->loses_draws[r][b] = r == b ? 0.0 : (double)lost / draws;
            e->loses_pairs[r][b] = r == b ? 0.0 : (double)loses_pairs[r * PRILLM_LMAAS_RULES + b] / ((double)n * draws);
            e->mean_gap_stderr[r][b] = draws > 1 ? sqrt(gap_sq / (draws - 1) / draws) : 0.0;
        }
    }
    e->seconds = prillm__now() - t0;
done:
    free(profit);
    free(outcomes);
    free(loses_pairs);
    free(negative);
    free(sorted);
    free(positive);
    if (rc) {
        prillm_lmaas_evaluation_free(e);
        return rc;
    }
    *out = e;
    return PRILLM_OK;
}
