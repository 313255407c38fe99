/*
 * The LMaaS model written from docs/lmaas.md's definitions, for the tests
 * (never from the library's internals): the outcome of a scenario, the
 * second stage by enumerating its candidate service levels, the best rental
 * knowing the scenario, U's corners by intersecting its boundary lines, and
 * the seller's expectation lattice and on-demand time.
 */
#ifndef PRILLM_TEST_LMAAS_REFERENCE_H
#define PRILLM_TEST_LMAAS_REFERENCE_H

#include <math.h>

#include <prillm/lmaas.h>

typedef struct {
    double q, servable;
    int usable;
} Outcome;

static inline Outcome outcome(const PrillmLmaasMarket *mk, int i, int m, double zu, double zg) {
    Outcome o = {0, 0, 0};
    double u = fmax(0, mk->demand[i] * (1 + mk->demand_deviation[i] * zu));
    double factor = 1 + mk->gain_deviation[i] * zg;
    if (factor <= 0) return o; /* no gain: the link carries nothing */
    double g = mk->reference_gain / pow(mk->distance[i], mk->path_loss_exponent) * factor;
    double rate = mk->bandwidth[i] * log2(1 + mk->power[i] * g / mk->noise_power);
    double stream = mk->compression[m] * mk->data_rate[i];
    if (!(rate > 0) || stream > rate) return o;
    double energy = mk->power[i] * stream / rate;
    o.usable = 1;
    o.q = mk->value[i] * mk->fidelity[m] - mk->energy_price[i] * energy;
    o.servable = fmin(u, mk->energy_capacity[i] / energy);
    return o;
}

static inline double second_stage(Outcome o, double tau, double beta, double premium) {
    if (!o.usable) return 0;
    double levels[3] = {0, fmin(tau, o.servable), o.servable}, best = 0;
    for (int k = 0; k < 3; k++) best = fmax(best, o.q * levels[k] - (1 + premium) * beta * fmax(0, levels[k] - tau));
    return best;
}

static inline double realised(const PrillmLmaasMarket *mk, int i, int m, double beta, double tau, double zu, double zg) {
    return second_stage(outcome(mk, i, m, zu, zg), tau, beta, mk->premium) - beta * tau;
}

/* best profit of model m knowing the scenario (rentals 0, s, tau_max and a grid) */
static inline double known_best(const PrillmLmaasMarket *mk, int i, int m, double beta, double zu, double zg) {
    Outcome o = outcome(mk, i, m, zu, zg);
    double best = 0;
    double levels[3] = {0, fmin(o.servable, mk->max_rental), mk->max_rental};
    for (int k = 0; k < 3; k++) best = fmax(best, second_stage(o, levels[k], beta, mk->premium) - beta * levels[k]);
    return best;
}

static inline int corners(double budget, double out[][2]) {
    static const double lines[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
    double rhs[8] = {1, 1, 1, 1, budget, budget, budget, budget};
    int count = 0;
    for (int a = 0; a < 8; a++)
        for (int b = a + 1; b < 8; b++) {
            double det = lines[a][0] * lines[b][1] - lines[a][1] * lines[b][0];
            if (det == 0) continue;
            double x = (rhs[a] * lines[b][1] - lines[a][1] * rhs[b]) / det;
            double y = (lines[a][0] * rhs[b] - rhs[a] * lines[b][0]) / det;
            int inside = 1;
            for (int c = 0; c < 8 && inside; c++) inside = lines[c][0] * x + lines[c][1] * y <= rhs[c] + 1e-12;
            int seen = 0;
            for (int k = 0; k < count && !seen; k++) seen = fabs(out[k][0] - x) + fabs(out[k][1] - y) < 1e-12;
            if (inside && !seen && count < 16) {
                out[count][0] = x;
                out[count][1] = y;
                count++;
            }
        }
    return count;
}

/* The seller's expectation lattice: the K x K midpoint lattice of
 * [-1, 1]^2, mapped linearly onto the diamond when budget <= 1, else its
 * points inside U; the nominal scenario alone when budget is 0. */
static inline int lattice(double budget, int k, double out[][2]) {
    if (budget == 0) {
        out[0][0] = out[0][1] = 0;
        return 1;
    }
    int count = 0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double x = (2.0 * a + 1) / k - 1, y = (2.0 * b + 1) / k - 1;
            if (budget <= 1) {
                out[count][0] = budget * (x + y) / 2;
                out[count][1] = budget * (x - y) / 2;
                count++;
            } else if (fabs(x) + fabs(y) <= budget) {
                out[count][0] = x;
                out[count][1] = y;
                count++;
            }
        }
    return count;
}

/* On-demand time after renting tau: the rest of the servable time when
 * the net value beats the on-demand price (1 + premium) beta. */
static inline double on_demand_time(const PrillmLmaasMarket *mk, int i, int m, double beta, double tau, double zu, double zg) {
    Outcome o = outcome(mk, i, m, zu, zg);
    return o.usable && o.q > (1 + mk->premium) * beta ? fmax(0, o.servable - tau) : 0;
}

static inline double expected_on_demand_k(const PrillmLmaasMarket *mk, int i, int m, double beta, double tau, int k) {
    static double pts[64 * 64][2];
    int count = lattice(mk->budget, k, pts);
    double sum = 0;
    for (int c = 0; c < count; c++) sum += on_demand_time(mk, i, m, beta, tau, pts[c][0], pts[c][1]);
    return sum / count;
}

#endif
