/* The welfare-maximising profile of the pay-per-compute market, by
 * enumerating every profile (the reference code does the same, 1e6 profiles
 * per batch). Profiles are visited as an odometer whose last digit turns
 * fastest; prefix sums of the logit numerator and denominator make each
 * profile O(1) amortised instead of O(n) exponentials. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/ttc.h"

/* Below this the globally shifted terms of a profile may have lost
 * precision to underflow; such a profile is recomputed with its own shift. */
#define SMALLEST_FAST_PARTITION 1e-200

typedef struct {
    int n;
    const int *count;        /* levels per model                        */
    const int *offset;       /* into the per-level arrays               */
    const double *exponent;  /* beta V_i(k)                             */
    const double *surplus;   /* W_i(k)                                  */
    double outside_exponent; /* beta v0                                 */
    double outside_value;
} Table;

/* Welfare of one profile with a shift of its own (slow, always accurate). */
static double welfare_exact(const Table *t, const int *idx) {
    double top = t->outside_exponent;
    for (int i = 0; i < t->n; i++) {
        double x = t->exponent[t->offset[i] + idx[i]];
        if (x > top) top = x;
    }
    double z = exp(t->outside_exponent - top), num = z * t->outside_value;
    for (int i = 0; i < t->n; i++) {
        int at = t->offset[i] + idx[i];
        double e = exp(t->exponent[at] - top);
        z += e;
        num += e * t->surplus[at];
    }
    return num / z;
}

PrillmErrorCode prillm_ttc_welfare_optimum(const PrillmTtcMarket *mk, double max_profiles, int *level, double *welfare,
                                           PrillmError *err) {
    if (!mk || !level || !welfare) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    if (!(mk->beta > 0)) return prillm__fail(err, PRILLM_ERR_INVALID_DATA, "beta is missing (the market needs it)");
    int n = mk->n_models;
    double profiles = 1;
    for (int i = 0; i < n; i++) profiles *= mk->n_levels[i];
    if (!(profiles <= max_profiles))
        return prillm__fail(err, PRILLM_ERR_TOO_LARGE, "%.3g profiles exceed max-profiles = %.3g", profiles,
                            max_profiles);
    size_t total = (size_t)mk->level_offset[n];
    double *exponent = malloc(total * sizeof *exponent), *surplus = malloc(total * sizeof *surplus);
    double *term = malloc(total * sizeof *term);
    int *idx = calloc((size_t)n, sizeof *idx);
    double *prefix_z = malloc(((size_t)n + 1) * sizeof *prefix_z), *prefix_num = malloc(((size_t)n + 1) * sizeof *prefix_num);
    if (!exponent || !surplus || !term || !idx || !prefix_z || !prefix_num) {
        free(exponent), free(surplus), free(term), free(idx), free(prefix_z), free(prefix_num);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory enumerating profiles");
    }
    double top = mk->beta * mk->outside_value;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < mk->n_levels[i]; k++) {
            PrillmTtcLevel t = prillm_ttc_level(mk, i, k);
            size_t at = (size_t)mk->level_offset[i] + (size_t)k;
            exponent[at] = mk->beta * t.user_value;
            surplus[at] = t.surplus;
            if (exponent[at] > top) top = exponent[at];
        }
    for (size_t at = 0; at < total; at++) term[at] = exp(exponent[at] - top);
    Table table = {n, mk->n_levels, mk->level_offset, exponent, surplus, mk->beta * mk->outside_value, mk->outside_value};
    double outside_term = exp(table.outside_exponent - top);
    prefix_z[0] = outside_term;
    prefix_num[0] = outside_term * mk->outside_value;
    int changed_from = 0;
    double best = -INFINITY;
    for (;;) {
        for (int d = changed_from; d < n; d++) {
            int at = mk->level_offset[d] + idx[d];
            prefix_z[d + 1] = prefix_z[d] + term[at];
            prefix_num[d + 1] = prefix_num[d] + term[at] * surplus[at];
        }
        double w = prefix_z[n] >= SMALLEST_FAST_PARTITION ? prefix_num[n] / prefix_z[n] : welfare_exact(&table, idx);
        if (w > best) {
            best = w;
            memcpy(level, idx, (size_t)n * sizeof *idx);
        }
        int d = n - 1;
        while (d >= 0 && ++idx[d] == mk->n_levels[d]) idx[d--] = 0;
        if (d < 0) break;
        changed_from = d;
    }
    *welfare = best;
    free(exponent), free(surplus), free(term), free(idx), free(prefix_z), free(prefix_num);
    return PRILLM_OK;
}
