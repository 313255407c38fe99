/* The part of a market the target's price can reach (prillm__market_part):
 * the connected component of the target in the graph of cells some user
 * could ever use. Abstraction merges rivals; merging a rival no user of the
 * target could ever buy (another service class of the fitted market, whose
 * cells sit far below their margin) swamps the merged rival's tastes, so
 * abstraction works on the part. */
#include <stdlib.h>
#include <string.h>

#include "pricing_internal.h"

static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *t = malloc(n);
    if (t) memcpy(t, s, n);
    return t;
}

PrillmErrorCode prillm__market_part(const PrillmMarket *mk, int target, const double *costs, const double *reach,
                                    PrillmMarket **part, int *target_in_part, PrillmError *err) {
    *part = NULL;
    *target_in_part = target;
    int n = mk->n_users, m = mk->n_providers;
    unsigned char *can = malloc((size_t)n * (size_t)m + 1), *user_in = calloc((size_t)n + 1, 1);
    unsigned char *prov_in = calloc((size_t)m + 1, 1);
    int *user_map = malloc(((size_t)n + 1) * sizeof *user_map), *prov_map = malloc(((size_t)m + 1) * sizeof *prov_map);
    PrillmMarket *out = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    if (!can || !user_in || !prov_in || !user_map || !prov_map || prillm__could_use(mk, target, costs, reach, can)) goto oom;
    /* grow from the target: its possible buyers, what they could buy, who
     * could buy that, ... until nothing is added */
    prov_in[target] = 1;
    for (int grew = 1; grew;) {
        grew = 0;
        for (int i = 0; i < n; i++) {
            if (user_in[i]) continue;
            for (int j = 0; j < m && !user_in[i]; j++)
                if (prov_in[j] && can[(size_t)i * m + j]) user_in[i] = 1, grew = 1;
            if (!user_in[i]) continue;
            for (int j = 0; j < m; j++)
                if (!prov_in[j] && can[(size_t)i * m + j]) prov_in[j] = 1;
        }
    }
    int nu = 0, np = 0;
    for (int i = 0; i < n; i++) user_map[i] = user_in[i] ? nu++ : -1;
    for (int j = 0; j < m; j++) prov_map[j] = prov_in[j] ? np++ : -1;
    /* the whole market, or a target nobody could buy from (its part would
     * be empty of users: keep the market, the methods handle that case) */
    if ((nu == n && np == m) || nu == 0 || np < 2) goto done;
    if (!(out = prillm_market_alloc(nu, np, err))) {
        rc = err ? err->code : PRILLM_ERR_NO_MEMORY;
        goto done;
    }
    out->w_price = mk->w_price;
    out->w_congestion = mk->w_congestion;
    out->w_delay = mk->w_delay;
    for (int j = 0; j < m; j++) {
        int k = prov_map[j];
        if (k < 0) continue;
        if (!(out->provider_id[k] = copy_text(mk->provider_id[j]))) goto oom;
        out->price[k] = mk->price[j];
        out->capacity[k] = mk->capacity[j];
        out->value[k] = mk->value[j];
        out->cost[k] = mk->cost[j];
        out->latency[k] = mk->latency[j];
        /* owners and price bounds, where the market has them, go along
         * (prillm_market_alloc's are none: NULL owners, NaN bounds) */
        if (mk->owner && mk->owner[j] && !(out->owner[k] = copy_text(mk->owner[j]))) goto oom;
        if (mk->price_min) out->price_min[k] = mk->price_min[j];
        if (mk->price_max) out->price_max[k] = mk->price_max[j];
    }
    for (int i = 0; i < n; i++) {
        int u = user_map[i];
        if (u < 0) continue;
        if (!(out->user_id[u] = copy_text(mk->user_id[i]))) goto oom;
        out->demand[u] = mk->demand[i];
        for (int j = 0; j < m; j++) {
            int k = prov_map[j];
            if (k < 0) continue;
            out->delay[(size_t)u * np + k] = mk->delay[(size_t)i * m + j];
            out->affinity[(size_t)u * np + k] = mk->affinity[(size_t)i * m + j];
        }
    }
    *part = out;
    *target_in_part = prov_map[target];
    out = NULL;
    goto done;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory finding the part of the market the target reaches");
done:
    prillm_market_free(out);
    free(can);
    free(user_in);
    free(prov_in);
    free(user_map);
    free(prov_map);
    return rc;
}
