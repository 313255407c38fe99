/* Piecewise affine target flow of a single water-filling population, and the
 * best price over a sum of such flows (ODCA, SPGCE). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pricing_waterfill.h"

static int rival_by_cost(const void *a, const void *b) {
    double x = ((const PrillmRival *)a)->cost, y = ((const PrillmRival *)b)->cost;
    return (x > y) - (x < y);
}

/* With the k cheapest rivals in use at level nu, the population's balance is
 *   sum_{l<k} h_l (nu - c_l) + h_s (nu - y) = D,
 * so f(y) = h_s (D + S_k - H_k y) / (H_k + h_s), S_k = sum h_l c_l,
 * H_k = sum h_l. The piece ends where nu reaches the next rival's cost, or
 * where f reaches 0 (nu = y) if the k rivals absorb D before that. */
int prillm__waterfill_pieces(double D, PrillmRival *rivals, int n_rivals, double h_s, double *breaks, double *alpha,
                             double *beta) {
    qsort(rivals, (size_t)n_rivals, sizeof *rivals, rival_by_cost);
    double S = 0, H = 0;
    int K = 0;
    for (int k = 0;; k++) {
        alpha[K] = h_s * (D + S) / (H + h_s);
        beta[K] = -h_s * H / (H + h_s);
        if (k == n_rivals) break;
        double next = rivals[k].cost;
        if (k > 0 && H * next - S >= D) break; /* choke before the next rival enters */
        breaks[K++] = ((H + h_s) * next - D - S) / h_s;
        S += rivals[k].h * rivals[k].cost;
        H += rivals[k].h;
    }
    if (H > 0) {
        /* f = 0 from y = (D + S) / H on */
        breaks[K++] = (D + S) / H;
        alpha[K] = 0;
        beta[K] = 0;
    }
    return K;
}

double prillm__waterfill_target(double D, const PrillmRival *rivals, int n_rivals, double h_s, double y,
                                PrillmRival *scratch) {
    memcpy(scratch, rivals, (size_t)n_rivals * sizeof *scratch);
    scratch[n_rivals].cost = y;
    scratch[n_rivals].h = h_s;
    qsort(scratch, (size_t)n_rivals + 1, sizeof *scratch, rival_by_cost);
    /* the level nu with sum_j h_j (nu - c_j)^+ = D: add providers while
     * the level they give stays above the next one's cost */
    double S = 0, H = 0, nu = 0;
    for (int k = 0; k <= n_rivals; k++) {
        S += scratch[k].h * scratch[k].cost;
        H += scratch[k].h;
        nu = (D + S) / H;
        if (k == n_rivals || nu <= scratch[k + 1].cost) break;
    }
    return y < nu ? h_s * (nu - y) : 0.0;
}

static int flow_push(PrillmPiecewiseFlow *flow, double price, double d_const, double d_slope) {
    if (flow->n_events == flow->capacity) {
        long cap = flow->capacity ? 2 * flow->capacity : 64;
        PrillmFlowEvent *grown = realloc(flow->events, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        flow->events = grown;
        flow->capacity = cap;
    }
    flow->events[flow->n_events++] = (PrillmFlowEvent){price, d_const, d_slope};
    return 0;
}

/* In price, piece k of the population is F = (alpha_k + beta_k offset) +
 * (beta_k w_price) p. Rising p crosses break k from piece k to k+1 when
 * w_price > 0, and from piece k+1 to k when w_price < 0 (y falls). */
int prillm__piecewise_add(PrillmPiecewiseFlow *flow, double w_price, double offset, double p_max, int n_breaks,
                          const double *breaks, const double *alpha, const double *beta) {
    /* the piece y enters just right of p = 0 (f is continuous, so only the
     * slope depends on the side) */
    int at = 0;
    while (at < n_breaks && (w_price > 0 ? offset >= breaks[at] : offset > breaks[at])) at++;
    if (w_price == 0) {
        flow->A0 += alpha[at] + beta[at] * offset;
        return 0;
    }
    flow->A0 += alpha[at] + beta[at] * offset;
    flow->B0 += beta[at] * w_price;
    for (int k = 0; k < n_breaks; k++) {
        double p = (breaks[k] - offset) / w_price;
        if (!(p > 0 && p < p_max)) continue;
        int from = w_price > 0 ? k : k + 1, to = w_price > 0 ? k + 1 : k;
        double dc = (alpha[to] - alpha[from]) + (beta[to] - beta[from]) * offset;
        double ds = (beta[to] - beta[from]) * w_price;
        if (flow_push(flow, p, dc, ds)) return -1;
    }
    return 0;
}

static int event_by_price(const void *a, const void *b) {
    double x = ((const PrillmFlowEvent *)a)->price, y = ((const PrillmFlowEvent *)b)->price;
    return (x > y) - (x < y);
}

/* On each piece [lo, hi] the profit (p - cost)(A + B p) is a concave
 * quadratic (B <= 0 for every population when w_price > 0; for w_price < 0
 * the candidates lo, hi still cover the convex case). */
void prillm__piecewise_maximize(PrillmPiecewiseFlow *flow, double cost, double p_max, double *best_price,
                                double *best_profit, long *pieces) {
    if (flow->n_events > 0) qsort(flow->events, (size_t)flow->n_events, sizeof *flow->events, event_by_price);
    double A = flow->A0, B = flow->B0, lo = 0;
    double bp = 0, bv = -INFINITY;
    long count = 0;
    for (long e = 0;; e++) {
        double hi = e < flow->n_events ? flow->events[e].price : p_max;
        if (hi > lo || e == flow->n_events) {
            double cand[3] = {lo, hi, lo};
            int nc = 2;
            if (B < 0) {
                double v = (cost * B - A) / (2 * B);
                cand[nc++] = v < lo ? lo : v > hi ? hi : v;
            }
            for (int c = 0; c < nc; c++) {
                double profit = (cand[c] - cost) * (A + B * cand[c]);
                if (profit > bv || (profit == bv && cand[c] > bp)) {
                    bv = profit;
                    bp = cand[c];
                }
            }
            count++;
            lo = hi;
        }
        if (e == flow->n_events) break;
        A += flow->events[e].d_const;
        B += flow->events[e].d_slope;
    }
    *best_price = bp;
    *best_profit = bv;
    *pieces = count;
}

void prillm__piecewise_free(PrillmPiecewiseFlow *flow) {
    free(flow->events);
    memset(flow, 0, sizeof *flow);
}
