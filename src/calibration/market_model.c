/*
 * The whole-market model (include/prillm/market_model.h,
 * docs/market-model.md): build every app and model of the OpenRouter data
 * into one market, fix the price sensitivity from a target elasticity,
 * invert values and app tastes exactly, and score the model forward on
 * later days and on held-out listed cells against naive baselines.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "active_set.h"
#include "market_model_internal.h"
#include "random.h"
#include "prillm/equilibrium.h"

#define OFFSET(field) offsetof(PrillmFitSettings, field)
static const PrillmOptionInfo fit_options[] = {
    {"fit-end", PRILLM_OPTION_INT, 20260727, 19000101, 29991231, NULL,
     "last day (yyyymmdd) of the fit window; later days are scored forward", OFFSET(fit_end)},
    {"fit-days", PRILLM_OPTION_INT, 7, 1, 366, NULL, "days averaged into the fitted market (a week: weekly cycle)",
     OFFSET(fit_days)},
    {"forward-end", PRILLM_OPTION_INT, 20260807, 0, 29991231, NULL,
     "last day scored forward (08-08 is a partial day in the shared data)", OFFSET(forward_end)},
    {"flow-date", PRILLM_OPTION_INT, 20260707, 19000101, 29991231, NULL, "date of the app x model snapshot",
     OFFSET(flow_date)},
    {"snapshot-start", PRILLM_OPTION_INT, 20260617, 19000101, 29991231, NULL,
     "first day of the model tokens the snapshot's flows are shares of", OFFSET(snapshot_start)},
    {"snapshot-end", PRILLM_OPTION_INT, 20260706, 19000101, 29991231, NULL,
     "last day of the model tokens the snapshot's flows are shares of", OFFSET(snapshot_end)},
    {"price", PRILLM_OPTION_CHOICE, PRILLM_FIT_PRICE_EFFECTIVE, 0, 1, "effective|listed",
     "price the apps pay: effective (transacted, after caching) or listed; input and output blended by the model's "
     "prompt share",
     OFFSET(price)},
    {"elasticity", PRILLM_OPTION_DOUBLE, 0, 0, 100, NULL,
     "target |own-price elasticity| of paid models; 0 = the candidate (0.5, 1, ..., 3 within the measured 90% "
     "intervals of prillm elasticity) that forecasts later days best",
     OFFSET(elasticity)},
    {"price-floor", PRILLM_OPTION_DOUBLE, 0.1, 1e-6, 1e6, NULL,
     "USD/Mtok: free and cheaper models get the price sensitivity of a model at this price", OFFSET(price_floor)},
    {"shrinkage", PRILLM_OPTION_DOUBLE, -1, -1, 1e6, NULL,
     "app x author taste shrinkage (pseudo-cells); -1 = the candidate best on held-out listed cells", OFFSET(shrinkage)},
    {"segments", PRILLM_OPTION_INT, 0, 0, PRILLM_FIT_MAX_SEGMENTS, NULL,
     "users for the traffic of unlisted apps, one per price tier (below the floor, then equal-count tiers of paid "
     "models); 0 = 1 or 4, whichever forecasts later days better",
     OFFSET(segments)},
    {"entry-quality", PRILLM_OPTION_INT, 0, 0, 1, NULL,
     "1: an entrant's volume also from its quality index (models_daily.csv aa_intelligence); off by default: on "
     "the shared data it over-predicts new high-index models (docs/market-model.md)",
     OFFSET(entry_quality)},
    {"classes", PRILLM_OPTION_INT, 1, 0, 1, NULL,
     "1: chat, input-only (embeddings, rerank, speech) and media models are separate markets (a model outside "
     "OpenRouter's chat catalogue sells another service); 0: every model substitutes for every other",
     OFFSET(classes)},
    {"max-models", PRILLM_OPTION_INT, 0, 0, 1000000, NULL, "keep the N largest models (0 = all)", OFFSET(max_models)},
    {"max-apps", PRILLM_OPTION_INT, 0, 0, 10000000, NULL, "keep the M largest apps (0 = all)", OFFSET(max_apps)},
    {"verbose", PRILLM_OPTION_INT, 0, 0, 2, NULL, "progress on stderr", OFFSET(verbose)},
};
#undef OFFSET
#define FIT_OPTION_COUNT ((int)(sizeof fit_options / sizeof fit_options[0]))

const PrillmOptionInfo *prillm_fit_options(int *count) {
    if (count) *count = FIT_OPTION_COUNT;
    return fit_options;
}

void prillm_fit_default_settings(PrillmFitSettings *st) {
    memset(st, 0, sizeof *st);
    prillm_options_defaults(fit_options, FIT_OPTION_COUNT, st);
}

PrillmErrorCode prillm_fit_set_option(PrillmFitSettings *st, const char *name, const char *value, PrillmError *err) {
    return prillm_options_set(fit_options, FIT_OPTION_COUNT, st, name, value, err);
}

const char *prillm_service_class_name(int service) {
    switch (service) {
    case PRILLM_SERVICE_CHAT: return "chat";
    case PRILLM_SERVICE_INPUT_ONLY: return "input-only";
    case PRILLM_SERVICE_MEDIA: return "media";
    default: return "unknown";
    }
}

static const double elasticity_candidates[] = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0};
#define N_ELASTICITY ((int)(sizeof elasticity_candidates / sizeof elasticity_candidates[0]))
/* app x author shrinkage, without and with the app-category x model effect */
static const double shrinkage_candidates[] = {0.0, 1.0, 4.0, INFINITY, 0.0, 1.0, 4.0};
static const int category_candidates[] = {0, 0, 0, 0, 1, 1, 1};
#define N_SHRINKAGE ((int)(sizeof shrinkage_candidates / sizeof shrinkage_candidates[0]))
#define HELDOUT_FOLDS 5
#define PER_MODEL_MARGIN 0.005 /* forward R^2 a per-model elasticity must add */
#define MATCH_ROUNDS 8


/* The market's layout and data, in its own units (Mtok per day, USD/Mtok). */
typedef struct {
    int n_apps, m;        /* users: apps then the rest of the market        */
    int *model_of;        /* [m] daily model index                          */
    int *app_of;          /* [n_apps] daily app index                       */
    int *author;          /* [m] author index (the id's prefix)             */
    int n_authors;
    double *F;            /* [m] observed flow                              */
    double *price;        /* [m] fit-window price                           */
    double *prompt_share; /* [m]                                            */
    double *latency;      /* [m]                                            */
    double *throughput;   /* [m]                                            */
    unsigned char *imputed;
    double *listed;       /* [n_apps*m] listed flow, NaN = not listed       */
    double *bound;        /* [m] smallest listed flow (censoring bound)     */
    double *rest;         /* [m] the rest of the market's flow              */
    double *kappa;        /* [m] beta_j = kappa_j F_j / max(p_j, floor)     */
    int segments;         /* rest-of-market users, one per price tier       */
    int *tier;            /* [m] the model's tier 0..segments-1             */
    double tier_edge[PRILLM_FIT_MAX_SEGMENTS]; /* tier t: price < edge[t]    */
    double kappa_target;  /* the elasticity kappa was last matched to       */
    int *category;        /* [n_apps] the app's category, -1 = none         */
    int n_categories;
    int use_category;     /* unlisted tastes also from apps of the category */
    long listed_cells;
    int *service;         /* [m] PrillmServiceClass                          */
    double *floor;        /* [m] the model's class's price floor            */
    int class_users;      /* rest-of-market users after the tiers           */
    int class_user[PRILLM_SERVICE_CLASSES]; /* its index after the tiers, -1 */
    int classes_applied;  /* the catalogue classed the models               */
} Layout;

static void layout_free(Layout *L) {
    free(L->model_of);
    free(L->app_of);
    free(L->author);
    free(L->F);
    free(L->price);
    free(L->prompt_share);
    free(L->latency);
    free(L->throughput);
    free(L->imputed);
    free(L->listed);
    free(L->bound);
    free(L->rest);
    free(L->kappa);
    free(L->tier);
    free(L->category);
    free(L->service);
    free(L->floor);
    memset(L, 0, sizeof *L);
}

/* The blended price of daily model k on day t (NaN if the table has none). */
static double day_price(const PrillmDaily *dl, int k, long t, double share, int which) {
    const double *in = which == PRILLM_FIT_PRICE_LISTED ? dl->listed_in : dl->effective_in;
    const double *out = which == PRILLM_FIT_PRICE_LISTED ? dl->listed_out : dl->effective_out;
    double a = prillm__daily_at(dl, in, k, t), b = prillm__daily_at(dl, out, k, t);
    if (!isfinite(a) || !isfinite(b)) return NAN;
    return share * a + (1 - share) * b;
}

/* The price on day t, else the last one before it, else the first after. */
static double carried_price(const PrillmDaily *dl, int k, long t, double share, int which) {
    for (long u = t; u >= 0; u--) {
        double p = day_price(dl, k, u, share, which);
        if (isfinite(p)) return p;
    }
    for (long u = t + 1; u < dl->n_days; u++) {
        double p = day_price(dl, k, u, share, which);
        if (isfinite(p)) return p;
    }
    return NAN;
}

static double carried(const PrillmDaily *dl, const double *series, int k, long t) {
    for (long u = t; u >= 0; u--) {
        double x = prillm__daily_at(dl, series, k, u);
        if (isfinite(x) && x > 0) return x;
    }
    for (long u = t + 1; u < dl->n_days; u++) {
        double x = prillm__daily_at(dl, series, k, u);
        if (isfinite(x) && x > 0) return x;
    }
    return NAN;
}


typedef struct {
    int index;
    double score;
} Ranked;

static int cmp_ranked(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

static PrillmErrorCode build_layout(const PrillmDaily *dl, const PrillmFitSettings *st, PrillmWarnFn warn, void *ctx,
                                    Layout *L, int *dropped, PrillmError *err) {
    memset(L, 0, sizeof *L);
    int K = dl->models.count, A = dl->apps.count;
    long fit_last = prillm__day_number(st->fit_end) - dl->first_day, fit_first = fit_last - st->fit_days + 1;
    long snap_first = prillm__day_number(st->snapshot_start) - dl->first_day;
    long snap_last = prillm__day_number(st->snapshot_end) - dl->first_day;
    double *F = calloc((size_t)K, sizeof *F), *p = malloc((size_t)K * sizeof *p);
    double *share = malloc((size_t)K * sizeof *share), *snap = calloc((size_t)K, sizeof *snap);
    Ranked *rank = malloc((size_t)(K > A ? K : A) * sizeof *rank);
    int *col = malloc((size_t)K * sizeof *col), *row = malloc((size_t)A * sizeof *row);
    double *app_total = calloc((size_t)A, sizeof *app_total);
    PrillmErrorCode rc = PRILLM_OK;
    if (!F || !p || !share || !snap || !rank || !col || !row || !app_total) goto oom;
    int no_share = 0;
    *dropped = 0;
    for (int k = 0; k < K; k++) {
        double pr = 0, co = 0, tok = 0;
        int days = 0;
        for (long t = fit_first; t <= fit_last; t++) {
            double x = prillm__daily_at(dl, dl->tokens, k, t);
            tok += isfinite(x) ? x : 0;
            days++;
            double a = prillm__daily_at(dl, dl->prompt, k, t), b = prillm__daily_at(dl, dl->completion, k, t);
            if (isfinite(a) && isfinite(b)) pr += a, co += b;
        }
        F[k] = days ? tok / days / 1e6 : 0;
        if (pr + co > 0) share[k] = pr / (pr + co);
        else share[k] = 0.9, no_share += F[k] > 0;
        /* the fit window's mean price */
        double sum = 0;
        int n = 0;
        for (long t = fit_first; t <= fit_last; t++) {
            double x = day_price(dl, k, t, share[k], st->price);
            if (isfinite(x)) sum += x, n++;
        }
        p[k] = n ? sum / n : carried_price(dl, k, fit_last, share[k], st->price);
        int snap_days = 0;
        for (long t = snap_first; t <= snap_last; t++) {
            double x = prillm__daily_at(dl, dl->tokens, k, t);
            if (isfinite(x)) snap[k] += x;
            snap_days++;
        }
        /* flows cover ~30 days to the snapshot: the model's volume over them */
        snap[k] = snap_days ? snap[k] / snap_days * 30.0 : 0;
        if (F[k] > 0 && !isfinite(p[k])) (*dropped)++;
    }
    if (no_share) prillm__fit_say(warn, ctx, "%d models have no prompt/completion split in the fit window: price blended at 90%% input", no_share);
    if (*dropped)
        prillm__fit_say(warn, ctx, "%d models with traffic in the fit window have no %s price on any day: left out of the market", *dropped,
            st->price == PRILLM_FIT_PRICE_LISTED ? "listed" : "effective");
    int m = 0;
    for (int k = 0; k < K; k++)
        if (F[k] > 0 && isfinite(p[k])) rank[m].index = k, rank[m].score = F[k], m++;
    qsort(rank, (size_t)m, sizeof *rank, cmp_ranked);
    if (st->max_models > 0 && m > st->max_models) m = st->max_models;
    if (m < 2) {
        rc = prillm__fail(err, PRILLM_ERR_INVALID_DATA, "fewer than 2 models have traffic and a price in the fit window ending %d",
                          st->fit_end);
        goto done;
    }
    for (int k = 0; k < K; k++) col[k] = -1;
    L->m = m;
    L->model_of = malloc((size_t)m * sizeof(int));
    L->author = malloc((size_t)m * sizeof(int));
    L->F = malloc((size_t)m * sizeof(double));
    L->price = malloc((size_t)m * sizeof(double));
    L->prompt_share = malloc((size_t)m * sizeof(double));
    L->latency = malloc((size_t)m * sizeof(double));
    L->throughput = malloc((size_t)m * sizeof(double));
    L->imputed = calloc((size_t)m, 1);
    L->bound = malloc((size_t)m * sizeof(double));
    L->rest = malloc((size_t)m * sizeof(double));
    L->kappa = malloc((size_t)m * sizeof(double));
    if (!L->model_of || !L->author || !L->F || !L->price || !L->prompt_share || !L->latency || !L->throughput ||
        !L->imputed || !L->bound || !L->rest || !L->kappa)
        goto oom;
    for (int j = 0; j < m; j++) {
        int k = rank[j].index;
        col[k] = j;
        L->model_of[j] = k;
        L->F[j] = F[k];
        L->price[j] = p[k];
        L->prompt_share[j] = share[k];
        L->latency[j] = carried(dl, dl->latency, k, fit_last);
        L->throughput[j] = carried(dl, dl->throughput, k, fit_last);
        L->bound[j] = INFINITY;
    }
    /* authors: the id's prefix before '/' */
    L->n_authors = 0;
    for (int j = 0; j < m; j++) {
        const char *id = dl->models.key[L->model_of[j]];
        size_t len = strcspn(id, "/");
        L->author[j] = -1;
        for (int q = 0; q < j && L->author[j] < 0; q++) {
            const char *other = dl->models.key[L->model_of[q]];
            if (strncmp(other, id, len) == 0 && strcspn(other, "/") == len) L->author[j] = L->author[q];
        }
        if (L->author[j] < 0) L->author[j] = L->n_authors++;
    }
    /* impute missing latency / throughput by the median of the others */
    double *tmp = malloc((size_t)m * sizeof *tmp);
    if (!tmp) goto oom;
    for (int pass = 0; pass < 2; pass++) {
        double *x = pass ? L->throughput : L->latency;
        int n = 0;
        for (int j = 0; j < m; j++)
            if (isfinite(x[j])) tmp[n++] = x[j];
        double med = n ? prillm__fit_median(tmp, n) : (pass ? 50.0 : 1.0);
        int filled = 0;
        for (int j = 0; j < m; j++)
            if (!isfinite(x[j])) x[j] = med, L->imputed[j] = 1, filled++;
        if (filled)
            prillm__fit_say(warn, ctx, "%d models never report %s: imputed as the median of the others (%g)", filled,
                pass ? "throughput" : "latency", med);
    }
    free(tmp);
    /* apps: listed flows on the market's models, as shares of the model's
     * snapshot volume applied to its fit-window flow */
    for (int f = 0; f < dl->n_flows; f++) {
        int j = col[dl->flow_model[f]];
        if (j >= 0 && snap[dl->flow_model[f]] > 0) app_total[dl->flow_app[f]] += dl->flow_tokens[f] / snap[dl->flow_model[f]] * L->F[j];
    }
    int n_apps = 0;
    for (int a = 0; a < A; a++)
        if (app_total[a] > 0) rank[n_apps].index = a, rank[n_apps].score = app_total[a], n_apps++;
    qsort(rank, (size_t)n_apps, sizeof *rank, cmp_ranked);
    if (st->max_apps > 0 && n_apps > st->max_apps) n_apps = st->max_apps;
    for (int a = 0; a < A; a++) row[a] = -1;
    L->n_apps = n_apps;
    L->app_of = malloc(((size_t)n_apps + 1) * sizeof(int));
    L->listed = malloc(((size_t)n_apps + 1) * (size_t)m * sizeof(double));
    if (!L->app_of || !L->listed) goto oom;
    for (int i = 0; i < n_apps; i++) row[rank[i].index] = i, L->app_of[i] = rank[i].index;
    if (!(L->category = malloc(((size_t)n_apps + 1) * sizeof(int)))) goto oom;
    L->n_categories = dl->categories.count;
    for (int i = 0; i < n_apps; i++) L->category[i] = dl->app_category ? dl->app_category[L->app_of[i]] : -1;
    for (size_t c = 0; c < (size_t)n_apps * (size_t)m; c++) L->listed[c] = NAN;
    int over = 0;
    for (int f = 0; f < dl->n_flows; f++) {
        int k = dl->flow_model[f], j = col[k], i = row[dl->flow_app[f]];
        if (j < 0 || !(snap[k] > 0)) continue;
        double x = dl->flow_tokens[f] / snap[k] * L->F[j];
        if (x < L->bound[j]) L->bound[j] = x; /* over all listed apps, kept or not */
        if (i < 0) continue;
        double *cell = &L->listed[(size_t)i * (size_t)m + (size_t)j];
        *cell = isfinite(*cell) ? *cell + x : x;
    }
    for (int j = 0; j < m; j++) {
        double s = 0;
        for (int i = 0; i < n_apps; i++) {
            double x = L->listed[(size_t)i * (size_t)m + (size_t)j];
            if (isfinite(x)) s += x;
        }
        if (s > L->F[j]) {
            /* the snapshot's shares exceed the fit window's volume (a model
             * that shrank): keep the apps' split, leave the rest nothing */
            for (int i = 0; i < n_apps; i++) L->listed[(size_t)i * (size_t)m + (size_t)j] *= L->F[j] / s;
            if (isfinite(L->bound[j])) L->bound[j] *= L->F[j] / s;
            s = L->F[j], over++;
        }
        L->rest[j] = L->F[j] - s;
        if (L->rest[j] < 1e-12 * L->F[j]) L->rest[j] = 0;
        if (!isfinite(L->bound[j])) L->bound[j] = 0.05 * L->F[j]; /* no public app listed: 5% (stated) */
    }
    if (over)
        prillm__fit_say(warn, ctx, "%d models: listed apps' snapshot shares exceed the fit window's volume: scaled to it", over);
    L->listed_cells = 0;
    for (size_t c = 0; c < (size_t)n_apps * (size_t)m; c++) L->listed_cells += isfinite(L->listed[c]);
    goto done;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory building the market");
done:
    free(F);
    free(p);
    free(share);
    free(snap);
    free(rank);
    free(col);
    free(row);
    free(app_total);
    if (rc) layout_free(L);
    return rc;
}

static double median_positive_price(const Layout *L, int service) {
    double *x = malloc(((size_t)L->m + 1) * sizeof *x);
    if (!x) return NAN;
    int n = 0;
    for (int j = 0; j < L->m; j++)
        if (L->service[j] == service && L->price[j] > 0) x[n++] = L->price[j];
    double med = n ? prillm__fit_median(x, n) : NAN;
    free(x);
    return med;
}

/* Each model's service class (prillm/market_model.h) and its class's price
 * floor. A model is chat if OpenRouter's chat catalogue lists it; the
 * catalogue must cover the fit window from its first day, else a chat model
 * retired before the catalogue began would be taken for a non-chat one, so
 * everything is chat then. Outside it, a model whose tokens are all input (prompt share 1 in
 * the fit window) is input-only, any other media. */
static int set_classes(Layout *L, const PrillmDaily *dl, const PrillmQuality *catalogue, const PrillmFitSettings *st,
                       PrillmWarnFn warn, void *ctx) {
    int m = L->m;
    free(L->service);
    free(L->floor);
    L->service = calloc((size_t)m + 1, sizeof *L->service);
    L->floor = malloc(((size_t)m + 1) * sizeof *L->floor);
    if (!L->service || !L->floor) return -1;
    int fit_first = prillm__day_date(prillm__day_number(st->fit_end) - st->fit_days + 1);
    int usable = st->classes && catalogue && catalogue->present && catalogue->first_date &&
                 catalogue->first_date <= fit_first;
    if (st->classes && warn && !usable)
        prillm__fit_say(warn, ctx, "%s: every model taken for a chat model (no service classes)",
                        catalogue && catalogue->present ? "the chat catalogue (models_daily.csv) starts after the fit window's first day"
                                                        : "no chat catalogue (raw/sui414_openrouter-pricing-data/models_daily.csv)");
    L->classes_applied = usable;
    int count[PRILLM_SERVICE_CLASSES] = {0};
    for (int j = 0; j < m; j++) {
        const char *id = dl->models.key[L->model_of[j]];
        int c = PRILLM_SERVICE_CHAT;
        if (usable && !prillm__quality_in_catalogue(catalogue, id))
            c = L->prompt_share[j] >= 1.0 ? PRILLM_SERVICE_INPUT_ONLY : PRILLM_SERVICE_MEDIA;
        L->service[j] = c;
        count[c]++;
    }
    L->class_users = 0;
    for (int c = 0; c < PRILLM_SERVICE_CLASSES; c++)
        L->class_user[c] = c != PRILLM_SERVICE_CHAT && count[c] > 0 ? L->class_users++ : -1;
    /* chat's floor as set; another class's scaled by its price level, so
     * that it sits at the same fraction of the class's median price */
    double chat = median_positive_price(L, PRILLM_SERVICE_CHAT);
    double scale[PRILLM_SERVICE_CLASSES];
    for (int c = 0; c < PRILLM_SERVICE_CLASSES; c++) {
        double med = c == PRILLM_SERVICE_CHAT ? chat : median_positive_price(L, c);
        scale[c] = isfinite(med) && isfinite(chat) && chat > 0 ? med / chat : 1.0;
    }
    for (int j = 0; j < m; j++) L->floor[j] = st->price_floor * scale[L->service[j]];
    if (warn && L->class_users)
        prillm__fit_say(warn, ctx,
                        "%d models are not in OpenRouter's chat catalogue: %d input-only (embeddings, rerank, speech) and "
                        "%d media (images, transcription), each class its own market with its own price floor",
                        count[1] + count[2], count[1], count[2]);
    return 0;
}

/* The class of rest-of-market user t (after the apps). */
static int rest_service(const Layout *L, int t) {
    if (t < L->segments) return PRILLM_SERVICE_CHAT;
    for (int c = 0; c < PRILLM_SERVICE_CLASSES; c++)
        if (L->class_user[c] == t - L->segments) return c;
    return PRILLM_SERVICE_CHAT;
}

/* Price tiers: tier 0 below the floor (free and near-free), then the paid
 * models in `segments - 1` groups of equal count by price. Chat models
 * only: a non-chat model's "tier" is its class's user after the tiers. */
static int set_tiers(Layout *L, const PrillmFitSettings *st, int segments) {
    int m = L->m;
    free(L->tier);
    if (!(L->tier = malloc((size_t)m * sizeof(int)))) return -1;
    L->segments = segments;
    for (int t = 0; t < PRILLM_FIT_MAX_SEGMENTS; t++) L->tier_edge[t] = INFINITY;
    if (segments == 1) {
        for (int j = 0; j < m; j++)
            L->tier[j] = L->service[j] == PRILLM_SERVICE_CHAT ? 0 : 1 + L->class_user[L->service[j]];
        return 0;
    }
    double *paid = malloc(((size_t)m + 1) * sizeof *paid);
    if (!paid) return -1;
    int count = 0;
    for (int j = 0; j < m; j++)
        if (L->service[j] == PRILLM_SERVICE_CHAT && L->price[j] >= st->price_floor) paid[count++] = L->price[j];
    qsort(paid, (size_t)count, sizeof *paid, prillm__fit_compare_doubles);
    L->tier_edge[0] = st->price_floor;
    for (int t = 1; t < segments - 1; t++) L->tier_edge[t] = count ? paid[(size_t)count * (size_t)t / (size_t)(segments - 1)] : INFINITY;
    free(paid);
    for (int j = 0; j < m; j++) {
        int t = 0;
        while (t < segments - 1 && L->price[j] >= L->tier_edge[t]) t++;
        L->tier[j] = L->service[j] == PRILLM_SERVICE_CHAT ? t : segments + L->class_user[L->service[j]];
    }
    /* a tier with no model with rest-of-market traffic would be a user with
     * no demand: merge it into the one below */
    return 0;
}

/* Fill the market from the layout: prices, beta from kappa, values by
 * inversion, affinities by inversion on listed cells (hidden ones treated
 * as unlisted) and from the app x author structure elsewhere. */
static void fill_market(const Layout *L, const PrillmFitSettings *st, double shrinkage, const unsigned char *hidden,
                        PrillmMarket *mk) {
    int n_apps = L->n_apps, m = L->m, S = L->segments + L->class_users, n = n_apps + S;
    size_t M = (size_t)m;
    mk->w_price = 1;
    mk->w_congestion = 1;
    mk->w_delay = 0;
    (void)st;
    double top_value = 0;
    for (int j = 0; j < m; j++) {
        double beta = L->kappa[j] * L->F[j] / fmax(L->price[j], L->floor[j]);
        mk->price[j] = L->price[j];
        mk->capacity[j] = beta;
        mk->latency[j] = L->latency[j];
        /* the rest of the market's segment of the model's tier has
         * multiplier 0 and no affinity for it */
        mk->value[j] = L->price[j] + (L->F[j] + L->rest[j]) / beta;
        top_value = fmax(top_value, mk->value[j]);
    }
    /* a cell across service classes: out of reach (market_model_internal.h) */
    const double wall = PRILLM_FIT_CLASS_WALL * top_value;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) mk->delay[(size_t)i * M + (size_t)j] = L->latency[j];
    for (int t = 0; t < S; t++) {
        int i = n_apps + t, service = rest_service(L, t);
        mk->demand[i] = 0;
        for (int j = 0; j < m; j++) {
            double beta = mk->capacity[j];
            if (L->tier[j] == t) {
                mk->demand[i] += L->rest[j];
                mk->affinity[(size_t)i * M + (size_t)j] = 0;
            } else if (L->service[j] != service) {
                mk->affinity[(size_t)i * M + (size_t)j] = -(mk->value[j] + wall);
            } else {
                /* another tier's model: unused, below its margin by the
                 * model's censoring bound, like an app's unlisted cell */
                mk->affinity[(size_t)i * M + (size_t)j] = -(L->rest[j] + L->bound[j]) / beta;
            }
        }
    }
    double *theta = calloc((size_t)L->n_authors, sizeof *theta);
    int *count = calloc((size_t)L->n_authors, sizeof *count);
    /* app-category x model: how far above its margin the category's apps
     * use the model, over their listed (and not hidden) cells */
    double *cat_sum = NULL;
    int *cat_count = NULL;
    if (L->use_category && L->n_categories > 0) {
        cat_sum = calloc((size_t)L->n_categories * M, sizeof *cat_sum);
        cat_count = calloc((size_t)L->n_categories * M, sizeof *cat_count);
        if (cat_sum && cat_count)
            for (int i = 0; i < n_apps; i++) {
                int c = L->category[i];
                if (c < 0) continue;
                for (int j = 0; j < m; j++) {
                    double x = L->listed[(size_t)i * M + (size_t)j];
                    if (!isfinite(x) || (hidden && hidden[(size_t)i * M + (size_t)j])) continue;
                    cat_sum[(size_t)c * M + (size_t)j] += x / mk->capacity[j];
                    cat_count[(size_t)c * M + (size_t)j]++;
                }
            }
    }
    for (int i = 0; i < n_apps; i++) {
        const double *row = L->listed + (size_t)i * M;
        double *a = mk->affinity + (size_t)i * M;
        double D = 0;
        if (theta && count) {
            memset(theta, 0, (size_t)L->n_authors * sizeof *theta);
            memset(count, 0, (size_t)L->n_authors * sizeof *count);
        }
        for (int j = 0; j < m; j++) {
            if (!isfinite(row[j])) continue;
            D += row[j];
            if (hidden && hidden[(size_t)i * M + (size_t)j]) continue;
            double beta = mk->capacity[j];
            /* app multiplier 0: listed cells exactly reproduced */
            a[j] = (row[j] - L->rest[j]) / beta;
            if (theta && count) theta[L->author[j]] += row[j] / beta, count[L->author[j]]++;
        }
        mk->demand[i] = D;
        /* the classes the app buys: those it has a listed cell in */
        int uses[PRILLM_SERVICE_CLASSES] = {0};
        for (int j = 0; j < m; j++)
            if (isfinite(row[j])) uses[L->service[j]] = 1;
        for (int j = 0; j < m; j++) {
            if (isfinite(row[j]) && !(hidden && hidden[(size_t)i * M + (size_t)j])) continue;
            if (!uses[L->service[j]]) {
                a[j] = -(mk->value[j] + wall);
                continue;
            }
            double beta = mk->capacity[j];
            double threshold = -L->rest[j] / beta; /* at this affinity app i starts to use j */
            double base = threshold - L->bound[j] / beta;
            double lift = 0;
            int c = count ? count[L->author[j]] : 0;
            if (c > 0 && isfinite(shrinkage)) lift = theta[L->author[j]] / (c + shrinkage);
            int g = L->category ? L->category[i] : -1;
            if (cat_sum && cat_count && g >= 0 && cat_count[(size_t)g * M + (size_t)j] > 0 && isfinite(shrinkage))
                lift += cat_sum[(size_t)g * M + (size_t)j] / (cat_count[(size_t)g * M + (size_t)j] + shrinkage + 1);
            /* an app that uses the author's other models sits closer to the
             * margin, never on or past it: the unlisted cell has no flow,
             * and a pair left exactly at the margin would be degenerate
             * (the flow's derivative in price has a kink there) */
            a[j] = fmin(base + lift, threshold - 0.05 * L->bound[j] / beta);
        }
    }
    free(theta);
    free(count);
    free(cat_sum);
    free(cat_count);
}

/* dF_k/dp_j on the equilibrium's active set. */
/* Called after each column's solve with the pair-level derivatives
 * df/dp_j, indexed like sys->user_prov. */
typedef void (*ColumnVisitor)(void *ctx, int j, const PrillmActiveSystem *sys, const double *pair_derivative);

static PrillmErrorCode jacobian_visit(const PrillmMarket *mk, const double *flows, const int *columns, int n_columns,
                                      double *jac, ColumnVisitor visit, void *ctx, PrillmError *err) {
    int n = mk->n_users, m = mk->n_providers;
    size_t M = (size_t)m;
    PrillmActiveSystem sys;
    double *beta = malloc(M * sizeof *beta), *dc = calloc((size_t)n * M, sizeof *dc);
    double *r = malloc(((size_t)n + 1) * sizeof *r), *nu = calloc((size_t)n + 1, sizeof *nu);
    double *F = malloc(M * sizeof *F);
    unsigned char *active = malloc((size_t)n * M);
    double *pair = NULL;
    PrillmErrorCode rc = PRILLM_OK;
    int have_sys = 0;
    if (!beta || !dc || !r || !nu || !F || !active) goto oom;
    for (int j = 0; j < m; j++) beta[j] = mk->capacity[j] / mk->w_congestion;
    long pairs = 0;
    /* round-off leaves ~1e-16 D_i on pairs at the margin: not active */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            size_t c = (size_t)i * M + (size_t)j;
            pairs += (active[c] = flows[c] > 1e-12 * mk->demand[i]);
        }
    if (!(pair = malloc(((size_t)pairs + 1) * sizeof *pair))) goto oom;
    if (prillm__system_init(&sys, n, m, beta)) goto oom;
    have_sys = 1;
    int frc = prillm__system_factor(&sys, active);
    if (frc < 0) goto oom;
    if (frc > 0) {
        rc = prillm__fail(err, PRILLM_ERR_SOLVER, "the equilibrium's reduced system is not positive definite");
        goto done;
    }
    int count = columns ? n_columns : m;
    for (int q = 0; q < count; q++) {
        int j = columns ? columns[q] : q;
        for (int i = 0; i < n; i++) dc[(size_t)i * M + (size_t)j] = mk->w_price;
        prillm__system_rhs(&sys, dc, NULL, r);
        memset(nu, 0, ((size_t)n + 1) * sizeof *nu);
        prillm__system_solve(&sys, r, nu);
        prillm__system_flows(&sys, nu, F, pair);
        if (jac) memcpy(jac + (size_t)q * M, F, M * sizeof *F);
        if (visit) visit(ctx, j, &sys, pair);
        for (int i = 0; i < n; i++) dc[(size_t)i * M + (size_t)j] = 0;
    }
    goto done;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory computing price derivatives");
done:
    if (have_sys) prillm__system_free(&sys);
    free(beta);
    free(dc);
    free(r);
    free(nu);
    free(F);
    free(active);
    free(pair);
    return rc;
}

static PrillmErrorCode jacobian_at(const PrillmMarket *mk, const double *flows, const int *columns, int n_columns,
                                   double *jac, PrillmError *err) {
    return jacobian_visit(mk, flows, columns, n_columns, jac, NULL, NULL, err);
}

/* 90% intervals of each model's diversion to its closest rivals, by a
 * bootstrap over the listed apps. At the equilibrium every derivative is a
 * sum over users, dF_k/dp_j = sum_i df_ik/dp_j, so the diversion
 * D_jk = (sum_i df_ik/dp_j) / (-sum_i df_ij/dp_j) can be recomputed on a
 * resample of apps without new solves: one pass of derivatives per model
 * gives each app's share, and each draw reweights the apps. The
 * rest-of-market users (i >= n_apps) stay in every draw: they are the
 * unlisted traffic, not a sample. */
#define DIVERSION_DRAWS 200
typedef struct {
    int n_apps;
    const int *to;
    double *lo, *hi;
    double *part; /* per user: own, then the 3 rivals */
    int *draw;    /* [DIVERSION_DRAWS][n_apps] app indices */
    double *stat; /* [3][DIVERSION_DRAWS] */
} DiversionBootstrap;

static void diversion_column(void *ctx, int j, const PrillmActiveSystem *sys, const double *pair) {
    DiversionBootstrap *b = ctx;
    int n = sys->n, n_apps = b->n_apps;
    const int *tj = b->to + (size_t)j * 3;
    if (tj[0] < 0) return;
    double *part = b->part;
    memset(part, 0, (size_t)n * 4 * sizeof *part);
    for (int i = 0; i < n; i++)
        for (int q = sys->user_start[i]; q < sys->user_start[i + 1]; q++) {
            int k = sys->user_prov[q];
            if (k == j) part[(size_t)i * 4] = -pair[q];
            for (int t = 0; t < 3; t++)
                if (tj[t] == k) part[(size_t)i * 4 + 1 + (size_t)t] = pair[q];
        }
    double rest[4] = {0, 0, 0, 0};
    for (int i = n_apps; i < n; i++)
        for (int t = 0; t < 4; t++) rest[t] += part[(size_t)i * 4 + (size_t)t];
    /* a draw without the model's traffic has no diversion: then no
     * interval (NaN) rather than one over the draws that have it */
    int undefined = 0;
    for (int d = 0; d < DIVERSION_DRAWS; d++) {
        double sum[4] = {rest[0], rest[1], rest[2], rest[3]};
        const int *apps = b->draw + (size_t)d * (size_t)n_apps;
        for (int a = 0; a < n_apps; a++)
            for (int t = 0; t < 4; t++) sum[t] += part[(size_t)apps[a] * 4 + (size_t)t];
        undefined |= !(sum[0] > 0);
        for (int t = 0; t < 3; t++) b->stat[(size_t)t * DIVERSION_DRAWS + (size_t)d] = sum[0] > 0 ? sum[1 + t] / sum[0] : 0;
    }
    for (int t = 0; t < 3 && !undefined; t++) {
        if (tj[t] < 0) continue;
        double *x = b->stat + (size_t)t * DIVERSION_DRAWS;
        qsort(x, DIVERSION_DRAWS, sizeof *x, prillm__fit_compare_doubles);
        b->lo[(size_t)j * 3 + (size_t)t] = x[(int)(0.05 * DIVERSION_DRAWS)];
        b->hi[(size_t)j * 3 + (size_t)t] = x[(int)(0.95 * DIVERSION_DRAWS) - 1];
    }
}

static PrillmErrorCode diversion_intervals(const PrillmMarket *mk, const double *flows, int n_apps, const int *to,
                                           double *lo, double *hi, PrillmError *err) {
    size_t M = (size_t)mk->n_providers;
    for (size_t q = 0; q < M * 3; q++) lo[q] = hi[q] = NAN;
    DiversionBootstrap b = {n_apps, to, lo, hi, malloc((size_t)mk->n_users * 4 * sizeof(double)),
                            malloc(((size_t)n_apps + 1) * DIVERSION_DRAWS * sizeof(int)),
                            malloc(DIVERSION_DRAWS * 3 * sizeof(double))};
    PrillmErrorCode rc = PRILLM_OK;
    if (!b.part || !b.draw || !b.stat) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory bootstrapping the diversions");
    } else {
        /* the same draws for every model: a draw is a resample of the apps */
        PrillmRng rng = {1};
        for (size_t q = 0; q < (size_t)n_apps * DIVERSION_DRAWS; q++) b.draw[q] = (int)(prillm__rng_uniform(&rng) * n_apps);
        rc = jacobian_visit(mk, flows, NULL, 0, NULL, diversion_column, &b, err);
        /* a reduced system that is not positive definite leaves no
         * intervals (NaN); the point estimates stand */
        if (rc == PRILLM_ERR_SOLVER) rc = PRILLM_OK;
    }
    free(b.part);
    free(b.draw);
    free(b.stat);
    return rc;
}

static PrillmErrorCode solve_market(const PrillmMarket *mk, PrillmEquilibriumSolver **solver, PrillmError *err) {
    PrillmEquilibriumSettings es;
    prillm_equilibrium_default_settings(&es);
    PrillmErrorCode rc = prillm_equilibrium_setup(solver, mk, &es, err);
    if (rc) return rc;
    if ((rc = prillm_equilibrium_solve(*solver, err))) {
        prillm_equilibrium_cleanup(*solver);
        *solver = NULL;
        return rc;
    }
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(*solver);
    if (eq->info.status != PRILLM_STATUS_SOLVED && eq->info.status != PRILLM_STATUS_INACCURATE) {
        prillm_equilibrium_cleanup(*solver);
        *solver = NULL;
        return prillm__fail(err, PRILLM_ERR_SOLVER, "the calibrated market's equilibrium failed");
    }
    return PRILLM_OK;
}

PrillmErrorCode prillm_market_price_jacobian(const PrillmMarket *mk, const int *columns, int n_columns,
                                             double *jacobian, PrillmError *err) {
    if (!mk || !jacobian) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "market or jacobian is NULL");
    for (int q = 0; columns && q < n_columns; q++)
        if (columns[q] < 0 || columns[q] >= mk->n_providers)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "columns[%d] = %d is not a provider index", q,
                                columns[q]);
    PrillmEquilibriumSolver *solver = NULL;
    PrillmErrorCode rc = solve_market(mk, &solver, err);
    if (rc) return rc;
    rc = jacobian_at(mk, prillm_equilibrium_solution(solver)->flows, columns, n_columns, jacobian, err);
    prillm_equilibrium_cleanup(solver);
    return rc;
}

/* Scale kappa until every paid model's own-price elasticity at the
 * calibrated equilibrium is the target; returns the own derivatives. */
/* per_model: each model's own target (NULL: target for all). */
static PrillmErrorCode match_elasticity(Layout *L, const PrillmFitSettings *st, double target, const double *per_model,
                                        double shrinkage, PrillmMarket *mk, double *jac, PrillmError *err) {
    int m = L->m;
    size_t M = (size_t)m;
    /* warm start: beta moves the elasticity about proportionally, so the
     * last match scaled to the new target is close */
    for (int j = 0; j < m; j++)
        L->kappa[j] = L->kappa_target > 0 ? L->kappa[j] * target / L->kappa_target
                                          : 2.0 * target; /* one user, many rivals: |e| ~ kappa/2 */
    L->kappa_target = target;
    PrillmErrorCode rc = PRILLM_OK;
    double *previous = malloc(M * sizeof *previous);
    if (!previous) return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory matching the elasticity");
    for (int round = 0; round < MATCH_ROUNDS; round++) {
        fill_market(L, st, shrinkage, NULL, mk);
        PrillmEquilibriumSolver *solver = NULL;
        if ((rc = solve_market(mk, &solver, err))) break;
        rc = jacobian_at(mk, prillm_equilibrium_solution(solver)->flows, NULL, 0, jac, err);
        prillm_equilibrium_cleanup(solver);
        if (rc) break;
        double worst = 0;
        for (int j = 0; j < m; j++) {
            double own = jac[(size_t)j * M + (size_t)j];
            previous[j] = L->kappa[j];
            if (!(own < 0)) continue;
            double p = fmax(L->price[j], L->floor[j]);
            double e = -own * p / L->F[j];
            double ratio = (per_model ? per_model[j] : target) / e;
            /* beta moves e about proportionally; damp the far cases */
            ratio = fmin(fmax(ratio, 0.2), 5.0);
            L->kappa[j] *= ratio;
        }
        /* A model's own elasticity comes from its rivals: with the users of
         * its class alone (a class with no listed app has one), it is below
         * p_j B_j / F_j, B_j the other models' summed slope, and raising
         * beta_j toward that bound only hands the class's whole diversion
         * to j. So beta_j stays at most B_j: an elasticity the class's
         * substitution cannot give is reported as what it is. */
        double slope[PRILLM_SERVICE_CLASSES] = {0};
        for (int j = 0; j < m; j++) slope[L->service[j]] += L->kappa[j] * L->F[j] / fmax(L->price[j], L->floor[j]);
        for (int j = 0; j < m; j++) {
            double beta = L->kappa[j] * L->F[j] / fmax(L->price[j], L->floor[j]), others = slope[L->service[j]] - beta;
            if (beta > others && others > 0) L->kappa[j] *= others / beta;
        }
        /* converged when no kappa moves (a capped one stays at its cap) */
        for (int j = 0; j < m; j++) worst = fmax(worst, fabs(L->kappa[j] / previous[j] - 1));
        if (worst < 1e-3) break;
    }
    free(previous);
    if (rc) return rc;
    fill_market(L, st, shrinkage, NULL, mk);
    PrillmEquilibriumSolver *solver = NULL;
    if ((rc = solve_market(mk, &solver, err))) return rc;
    rc = jacobian_at(mk, prillm_equilibrium_solution(solver)->flows, NULL, 0, jac, err);
    prillm_equilibrium_cleanup(solver);
    return rc;
}

static double r2_of(const double *y, const double *h, long count) {
    double mean = 0, sse = 0, sst = 0;
    for (long k = 0; k < count; k++) mean += y[k];
    mean /= count > 0 ? count : 1;
    for (long k = 0; k < count; k++) sse += (y[k] - h[k]) * (y[k] - h[k]), sst += (y[k] - mean) * (y[k] - mean);
    return sst > 0 ? 1 - sse / sst : NAN;
}

static void score_cells(const double *y, const double *h, const unsigned char *changed, long count,
                        PrillmForwardScore *s) {
    double *ly = malloc(((size_t)count + 1) * sizeof *ly), *lh = malloc(((size_t)count + 1) * sizeof *lh);
    double *yc = malloc(((size_t)count + 1) * sizeof *yc), *hc = malloc(((size_t)count + 1) * sizeof *hc);
    s->cells = count;
    s->r2 = r2_of(y, h, count);
    s->r2_log = s->median_abs_log_error = s->r2_changed = NAN;
    s->changed_cells = 0;
    if (!ly || !lh || !yc || !hc) goto done;
    long pos = 0, ch = 0;
    for (long k = 0; k < count; k++) {
        if (y[k] > 0 && h[k] > 0) ly[pos] = log(y[k]), lh[pos] = log(h[k]), pos++;
        if (changed && changed[k]) yc[ch] = y[k], hc[ch] = h[k], ch++;
    }
    s->r2_log = r2_of(ly, lh, pos);
    s->changed_cells = ch;
    s->r2_changed = ch > 1 ? r2_of(yc, hc, ch) : NAN;
    for (long k = 0; k < pos; k++) ly[k] = fabs(ly[k] - lh[k]);
    s->median_abs_log_error = prillm__fit_median(ly, (int)pos);
done:
    free(ly);
    free(lh);
    free(yc);
    free(hc);
}

/* Forward validation: for every day after the fit window, each model's
 * actual total against persistence, market share and the model at each
 * candidate elasticity (markets[c], calibrated at candidate c). */
static PrillmErrorCode forward_scores(const PrillmDaily *dl, const Layout *L, const PrillmFitSettings *st,
                                      PrillmMarket *const *markets, const double *candidates, const int *segments,
                                      int n_candidates, PrillmFitResult *res, PrillmError *err) {
    int m = L->m;
    long fit_last = prillm__day_number(st->fit_end) - dl->first_day;
    long last = st->forward_end ? prillm__day_number(st->forward_end) - dl->first_day : dl->n_days - 1;
    if (last >= dl->n_days) last = dl->n_days - 1;
    int days = (int)(last - fit_last);
    res->forward_days = days > 0 ? days : 0;
    res->n_forward = 0;
    if (days <= 0) return PRILLM_OK;
    size_t cap = (size_t)days * (size_t)m;
    int rows = n_candidates + 2;
    double *y = malloc(cap * sizeof *y), *h = malloc(cap * (size_t)rows * sizeof *h);
    unsigned char *changed = malloc(cap);
    double *day_prices = malloc((size_t)m * sizeof *day_prices);
    PrillmMarket *day = NULL;
    res->forward = calloc((size_t)rows, sizeof *res->forward);
    PrillmErrorCode rc = PRILLM_OK;
    if (!y || !h || !changed || !day_prices || !res->forward) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in forward validation");
        goto done;
    }
    double fit_total = 0, last_total = 0;
    for (int j = 0; j < m; j++) {
        fit_total += L->F[j];
        double x = prillm__daily_at(dl, dl->tokens, L->model_of[j], fit_last);
        last_total += isfinite(x) ? x / 1e6 : 0;
    }
    long cells = 0;
    for (long t = fit_last + 1; t <= last; t++) {
        double total = 0;
        for (int j = 0; j < m; j++) {
            double x = prillm__daily_at(dl, dl->tokens, L->model_of[j], t);
            total += isfinite(x) ? x / 1e6 : 0;
        }
        if (!(total > 0)) continue;
        double scale = total / fit_total;
        long first = cells;
        for (int j = 0; j < m; j++) {
            double x = prillm__daily_at(dl, dl->tokens, L->model_of[j], t);
            double price = day_prices[j] = carried_price(dl, L->model_of[j], t, L->prompt_share[j], st->price);
            y[cells] = isfinite(x) ? x / 1e6 : 0;
            changed[cells] = fabs(price - L->price[j]) > 1e-6 * fmax(1e-3, L->price[j]);
            double prev = prillm__daily_at(dl, dl->tokens, L->model_of[j], fit_last);
            h[(size_t)n_candidates * cap + (size_t)cells] = (isfinite(prev) ? prev / 1e6 : 0) * total / last_total;
            h[(size_t)(n_candidates + 1) * cap + (size_t)cells] = L->F[j] * scale;
            cells++;
        }
        for (int c = 0; c < n_candidates; c++) {
            /* the market grows or shrinks as a whole: demands and the
             * curvature scale together, so unchanged prices keep shares */
            if (!(day = prillm_market_copy(markets[c], err))) {
                rc = err->code ? err->code : PRILLM_ERR_NO_MEMORY;
                goto done;
            }
            for (int i = 0; i < day->n_users; i++) day->demand[i] *= scale;
            for (int j = 0; j < m; j++) {
                day->capacity[j] *= scale;
                /* values were inverted at the fit price; a new price moves
                 * only the price term */
                if (isfinite(day_prices[j])) day->price[j] = day_prices[j];
            }
            PrillmEquilibriumSolver *solver = NULL;
            if ((rc = solve_market(day, &solver, err))) goto done;
            const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
            for (int j = 0; j < m; j++) h[(size_t)c * cap + (size_t)(first + j)] = eq->provider_flow[j];
            prillm_equilibrium_cleanup(solver);
            prillm_market_free(day);
            day = NULL;
        }
    }
    for (int c = 0; c < rows; c++) {
        PrillmForwardScore *s = &res->forward[c];
        if (c < n_candidates) {
            if (segments[c] > 1) snprintf(s->name, sizeof s->name, "model e=%g, %d tiers", candidates[c], segments[c]);
            else snprintf(s->name, sizeof s->name, "model e=%g", candidates[c]);
            s->elasticity = candidates[c];
            s->segments = segments[c];
        } else {
            snprintf(s->name, sizeof s->name, "%s", c == n_candidates ? "persistence" : "market share");
            s->elasticity = NAN;
            s->segments = 0;
        }
        score_cells(y, h + (size_t)c * cap, changed, cells, s);
    }
    res->n_forward = rows;
done:
    prillm_market_free(day);
    free(y);
    free(h);
    free(changed);
    free(day_prices);
    return rc;
}

/* Held-out listed cells: each fold's cells are treated as unlisted (their
 * affinity from the structure), demands kept, the equilibrium re-solved. */
static PrillmErrorCode heldout_scores(Layout *L, const PrillmFitSettings *st, PrillmMarket *mk,
                                      PrillmFitResult *res, PrillmError *err) {
    int n_apps = L->n_apps, m = L->m;
    size_t M = (size_t)m, cells = (size_t)n_apps * M;
    unsigned char *hidden = calloc(cells, 1);
    int *fold = malloc(cells * sizeof *fold);
    double *y = malloc(cells * sizeof *y), *h = malloc(cells * (size_t)(N_SHRINKAGE + 1) * sizeof *h);
    res->heldout = calloc(N_SHRINKAGE + 1, sizeof *res->heldout);
    PrillmErrorCode rc = PRILLM_OK;
    if (!hidden || !fold || !y || !h || !res->heldout) {
        rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory in held-out validation");
        goto done;
    }
    /* deterministic folds: an app's listed cells dealt round-robin in order
     * of size, apps with one listed cell left out (hiding it leaves the app
     * nothing to reveal its taste) */
    long count = 0;
    for (int i = 0; i < n_apps; i++) {
        int listed = 0;
        for (int j = 0; j < m; j++) listed += isfinite(L->listed[(size_t)i * M + (size_t)j]);
        for (int j = 0, k = 0; j < m; j++) {
            size_t c = (size_t)i * M + (size_t)j;
            fold[c] = -1;
            if (!isfinite(L->listed[c]) || listed < 2) continue;
            fold[c] = (k++ + i) % HELDOUT_FOLDS;
        }
    }
    long index = 0;
    for (size_t c = 0; c < cells; c++)
        if (fold[c] >= 0) y[index++] = L->listed[c];
    count = index;
    for (int s = 0; s <= N_SHRINKAGE; s++) {
        for (int f = 0; f < HELDOUT_FOLDS; f++) {
            for (size_t c = 0; c < cells; c++) hidden[c] = fold[c] == f;
            if (s < N_SHRINKAGE) {
                L->use_category = category_candidates[s];
                fill_market(L, st, shrinkage_candidates[s], hidden, mk);
            }
            PrillmEquilibriumSolver *solver = NULL;
            if (s < N_SHRINKAGE && (rc = solve_market(mk, &solver, err))) goto done;
            const PrillmEquilibrium *eq = solver ? prillm_equilibrium_solution(solver) : NULL;
            index = 0;
            double total = 0;
            for (int j = 0; j < m; j++) total += L->F[j];
            for (size_t c = 0; c < cells; c++) {
                if (fold[c] < 0) continue;
                if (fold[c] == f) {
                    int i = (int)(c / M), j = (int)(c % M);
                    /* baseline: the app's demand split by market share */
                    h[(size_t)s * cells + (size_t)index] = eq ? eq->flows[c] : mk->demand[i] * L->F[j] / total;
                }
                index++;
            }
            prillm_equilibrium_cleanup(solver);
        }
        PrillmForwardScore tmp;
        score_cells(y, h + (size_t)s * cells, NULL, count, &tmp);
        res->heldout[s].shrinkage = s < N_SHRINKAGE ? shrinkage_candidates[s] : NAN;
        res->heldout[s].category = s < N_SHRINKAGE ? category_candidates[s] : 0;
        res->heldout[s].r2 = tmp.r2;
        res->heldout[s].r2_log = tmp.r2_log;
        res->heldout[s].cells = count;
    }
    res->n_heldout = N_SHRINKAGE + 1;
done:
    free(hidden);
    free(fold);
    free(y);
    free(h);
    return rc;
}

/* log F on the entry terms (prillm__entry_terms): ridge-stabilised normal
 * equations (regressors centred, Gaussian elimination with pivoting). */
static void entry_regression(const Layout *L, const PrillmFitSettings *st, const double *index,
                             double coef[PRILLM_FIT_ENTRY_TERMS], double *r2) {
    enum { K = PRILLM_FIT_ENTRY_TERMS };
    int m = L->m, used = 0;
    /* an entrant is taken for a chat model: the regression is fitted on the
     * chat models (embeddings and image models have price levels of their
     * own) */
#define ENTRY_SKIP(j) (L->service && L->service[j] != PRILLM_SERVICE_CHAT)
    for (int j = 0; j < m; j++) used += !ENTRY_SKIP(j);
    if (used == 0) used = 1;
    double mean[K] = {0}, A[K][K + 1];
    memset(A, 0, sizeof A);
    for (int j = 0; j < m; j++) {
        if (ENTRY_SKIP(j)) continue;
        double x[K];
        prillm__entry_terms(L->price[j], st->price_floor, L->latency[j], L->throughput[j], index[j], x);
        for (int q = 1; q < K; q++) mean[q] += x[q] / used;
    }
    double ymean = 0, sst = 0, sse = 0;
    for (int j = 0; j < m; j++)
        if (!ENTRY_SKIP(j)) ymean += log(L->F[j]) / used;
    for (int j = 0; j < m; j++) {
        if (ENTRY_SKIP(j)) continue;
        double x[K];
        prillm__entry_terms(L->price[j], st->price_floor, L->latency[j], L->throughput[j], index[j], x);
        for (int q = 1; q < K; q++) x[q] -= mean[q];
        double y = log(L->F[j]);
        sst += (y - ymean) * (y - ymean);
        for (int a = 0; a < K; a++) {
            for (int b = 0; b < K; b++) A[a][b] += x[a] * x[b];
            A[a][K] += x[a] * y;
        }
    }
    for (int a = 0; a < K; a++) A[a][a] += 1e-9 * (A[a][a] + 1); /* a constant column stays solvable */
    for (int c = 0; c < K; c++) {
        int piv = c;
        for (int r = c + 1; r < K; r++)
            if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
        for (int k = 0; k <= K; k++) {
            double t = A[c][k];
            A[c][k] = A[piv][k];
            A[piv][k] = t;
        }
        for (int r = 0; r < K; r++) {
            if (r == c || A[c][c] == 0) continue;
            double f = A[r][c] / A[c][c];
            for (int k = c; k <= K; k++) A[r][k] -= f * A[c][k];
        }
    }
    double b[K];
    for (int a = 0; a < K; a++) b[a] = A[a][a] != 0 ? A[a][K] / A[a][a] : 0;
    coef[0] = b[0];
    for (int q = 1; q < K; q++) coef[q] = b[q], coef[0] -= b[q] * mean[q];
    for (int j = 0; j < m; j++) {
        if (ENTRY_SKIP(j)) continue;
        double x[K], yhat = 0;
        prillm__entry_terms(L->price[j], st->price_floor, L->latency[j], L->throughput[j], index[j], x);
        for (int q = 0; q < K; q++) yhat += coef[q] * x[q];
        sse += (log(L->F[j]) - yhat) * (log(L->F[j]) - yhat);
    }
#undef ENTRY_SKIP
    *r2 = sst > 0 ? 1 - sse / sst : NAN;
}

void prillm_fit_result_free(PrillmFitResult *r) {
    if (!r) return;
    prillm_market_free(r->market);
    free(r->observed_flow);
    free(r->own_elasticity);
    free(r->implied_cost);
    free(r->diversion_to);
    free(r->diversion);
    free(r->diversion_lo);
    free(r->diversion_hi);
    free(r->throughput);
    free(r->latency);
    free(r->prompt_share);
    free(r->kappa);
    free(r->imputed);
    free(r->forward);
    free(r->heldout);
    free(r->measured_model);
    free(r->tier);
    free(r->service_class);
    free(r->floor);
    if (r->have_measured) prillm_elasticity_result_free(&r->measured);
    free(r);
}

static PrillmMarket *market_for(const Layout *L, const PrillmDaily *dl, PrillmError *err) {
    int n = L->n_apps + L->segments + L->class_users, m = L->m;
    PrillmMarket *mk = prillm_market_alloc(n, m, err);
    if (!mk) return NULL;
    for (int j = 0; j < m; j++)
        if (!(mk->provider_id[j] = prillm__strdup(dl->models.key[L->model_of[j]]))) goto oom;
    for (int i = 0; i < L->n_apps; i++)
        if (!(mk->user_id[i] = prillm__strdup(dl->apps.key[L->app_of[i]]))) goto oom;
    for (int t = 0; t < L->segments; t++) {
        char name[128];
        if (L->segments == 1) snprintf(name, sizeof name, "(rest of market)");
        else if (t == L->segments - 1) snprintf(name, sizeof name, "(rest of market, price >= %.4g)", L->tier_edge[t - 1]);
        else if (t == 0) snprintf(name, sizeof name, "(rest of market, price < %.4g)", L->tier_edge[0]);
        else snprintf(name, sizeof name, "(rest of market, price %.4g..%.4g)", L->tier_edge[t - 1], L->tier_edge[t]);
        if (!(mk->user_id[L->n_apps + t] = prillm__strdup(name))) goto oom;
    }
    for (int t = L->segments; t < L->segments + L->class_users; t++) {
        char name[128];
        snprintf(name, sizeof name, "(rest of market, %s services)", prillm_service_class_name(rest_service(L, t)));
        if (!(mk->user_id[L->n_apps + t] = prillm__strdup(name))) goto oom;
    }
    return mk;
oom:
    prillm_market_free(mk);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

PrillmErrorCode prillm_fit_openrouter(const char *dir, const PrillmFitSettings *settings, PrillmWarnFn warn,
                                      void *ctx, PrillmFitResult **out, PrillmError *err) {
    if (!dir || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "dir or out is NULL");
    *out = NULL;
    PrillmFitSettings st;
    if (settings) st = *settings;
    else prillm_fit_default_settings(&st);
    PrillmErrorCode rc = prillm_options_check(fit_options, FIT_OPTION_COUNT, &st, err);
    if (rc) return rc;
    if (st.snapshot_end < st.snapshot_start)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "snapshot-end %d is before snapshot-start %d",
                            st.snapshot_end, st.snapshot_start);
    double t0 = prillm__now();
    long fit_first_day = prillm__day_number(st.fit_end) - st.fit_days + 1;
    int first = prillm__day_date(fit_first_day) < st.snapshot_start ? prillm__day_date(fit_first_day) : st.snapshot_start;
    int last = st.forward_end > st.fit_end ? st.forward_end : st.fit_end;
    PrillmDaily dl;
    if ((rc = prillm__daily_read(dir, first, last, st.flow_date, &dl, err))) return rc;
    Layout L;
    int dropped = 0;
    PrillmMarket *cand[2 * N_ELASTICITY + 1]; /* two segmentations, and the per-model candidate */
    double cand_e[2 * N_ELASTICITY + 1];
    int cand_s[2 * N_ELASTICITY + 1], n_cand = 0;
    memset(cand, 0, sizeof cand);
    double *jac = NULL;
    PrillmMarket *work = NULL;
    PrillmFitResult *res = calloc(1, sizeof *res);
    if (!res) {
        prillm__daily_free(&dl);
        return prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory");
    }
    if (dl.negative_prices)
        prillm__fit_say(warn, ctx, "%ld negative prices in models.csv (sentinels, e.g. openrouter/auto) read as no price",
            dl.negative_prices);
    if ((rc = build_layout(&dl, &st, warn, ctx, &L, &dropped, err))) {
        prillm__daily_free(&dl);
        free(res);
        return rc;
    }
    /* models_daily.csv: OpenRouter's chat catalogue (service classes) and the
     * entrants' quality index */
    PrillmQuality quality;
    PrillmError qerr = {0};
    int quality_read = prillm__quality_read(dir, st.fit_end, &quality, &qerr) == PRILLM_OK;
    if (!quality_read) {
        prillm__fit_say(warn, ctx, "models_daily.csv not usable (no service classes, no quality index): %s", qerr.message);
        memset(&quality, 0, sizeof quality);
    }
    int m = L.m;
    size_t M = (size_t)m;
    res->dropped_models = dropped;
    res->listed_cells = L.listed_cells;
    res->n_apps = L.n_apps;
    if (!(jac = malloc(M * M * sizeof *jac))) goto oom;
    if (set_classes(&L, &dl, &quality, &st, warn, ctx)) goto oom;
    if (set_tiers(&L, &st, st.segments > 0 ? st.segments : 1)) goto oom;
    if (!(work = market_for(&L, &dl, err))) goto fail;
    /* the app x author shrinkage: on held-out listed cells, at the middle
     * candidate elasticity (it moves beta, not the tastes' structure) */
    double shrinkage = st.shrinkage;
    if ((rc = match_elasticity(&L, &st, st.elasticity > 0 ? st.elasticity : 1.0, NULL, 1.0, work, jac, err))) goto fail;
    if ((rc = heldout_scores(&L, &st, work, res, err))) goto fail;
    if (shrinkage < 0) {
        int best = 0;
        for (int s = 1; s < N_SHRINKAGE; s++)
            if (res->heldout[s].r2 > res->heldout[best].r2) best = s;
        shrinkage = shrinkage_candidates[best];
        L.use_category = category_candidates[best];
    } else {
        L.use_category = 0;
    }
    res->shrinkage = shrinkage;
    res->category_effect = L.use_category;
    if (st.verbose) prillm__fit_say(warn, ctx, "app x author shrinkage %g (held-out listed cells)", shrinkage);
    /* the elasticity measured from real price variation: it bounds the
     * candidates (forward validation chooses within what the data
     * identifies, never beyond it), and is reported beside the fit */
    PrillmElasticitySettings es;
    prillm_elasticity_default_settings(&es);
    es.price = st.price == PRILLM_FIT_PRICE_LISTED ? PRILLM_ELASTICITY_PRICE_LISTED : PRILLM_ELASTICITY_PRICE_EFFECTIVE;
    PrillmError eerr = {0};
    if (prillm_elasticity_estimate(dir, &es, &res->measured, &eerr) == PRILLM_OK) {
        res->have_measured = 1;
        if (!(res->measured_model = malloc(M * sizeof(int)))) goto oom;
        for (int j = 0; j < m; j++) {
            res->measured_model[j] = -1;
            for (int q = 0; q < res->measured.n_models; q++)
                if (strcmp(res->measured.models[q].model, work->provider_id[j]) == 0) res->measured_model[j] = q;
        }
    } else {
        prillm__fit_say(warn, ctx, "no measured elasticity (candidates not bounded by one): %s", eerr.message);
    }
    double lo = 0, hi = INFINITY;
    if (res->have_measured) {
        const PrillmElasticityEstimate *a = &res->measured.across_providers, *t = &res->measured.over_time;
        double l1 = isfinite(a->hi) ? -a->hi : INFINITY, l2 = isfinite(t->hi) ? -t->hi : INFINITY;
        double h1 = isfinite(a->lo) ? -a->lo : 0, h2 = isfinite(t->lo) ? -t->lo : 0;
        lo = fmin(l1, l2), hi = fmax(h1, h2);
        if (!(lo < hi)) lo = 0, hi = INFINITY;
    }
    res->candidate_lo = lo, res->candidate_hi = hi;
    double grid[N_ELASTICITY];
    int n_grid = 0;
    for (int c = 0; c < N_ELASTICITY; c++)
        if (elasticity_candidates[c] >= lo && elasticity_candidates[c] <= hi) grid[n_grid++] = elasticity_candidates[c];
    if (n_grid == 0) grid[n_grid++] = 1.0;
    /* every candidate (elasticity, segments), scored forward */
    int seg_options[2] = {st.segments > 0 ? st.segments : 1, 4}, n_seg = st.segments > 0 ? 1 : 2;
    for (int q = 0; q < n_seg; q++) {
        if (set_tiers(&L, &st, seg_options[q])) goto oom;
        int n_e = st.elasticity > 0 ? 1 : n_grid;
        for (int c = 0; c < n_e; c++) {
            double e = st.elasticity > 0 ? st.elasticity : grid[c];
            if (!(cand[n_cand] = market_for(&L, &dl, err))) goto fail;
            cand_e[n_cand] = e, cand_s[n_cand] = seg_options[q];
            n_cand++;
            if ((rc = match_elasticity(&L, &st, e, NULL, shrinkage, cand[n_cand - 1], jac, err))) goto fail;
        }
    }
    /* one more candidate: each model's own measured elasticity (shrunk,
     * across its providers) where it has one, bounded to the measured
     * range, the best common value elsewhere; added after the common ones
     * are scored, at their best segmentation */
    if ((rc = forward_scores(&dl, &L, &st, cand, cand_e, cand_s, n_cand, res, err))) goto fail;
    int best = 0;
    for (int c = 1; c < n_cand && res->n_forward; c++)
        if (res->forward[c].r2 > res->forward[best].r2) best = c;
    double target = cand_e[best];
    int segments = cand_s[best];
    double *per_model = NULL;
    int use_per_model = 0;
    if (!(st.elasticity > 0) && res->have_measured && res->n_forward && res->measured_model) {
        if (!(per_model = malloc(M * sizeof *per_model))) goto oom;
        int own = 0;
        for (int j = 0; j < m; j++) {
            int q = res->measured_model[j];
            double e = q >= 0 ? -res->measured.models[q].shrunk : NAN;
            per_model[j] = isfinite(e) ? fmin(fmax(e, lo), hi) : target;
            own += isfinite(e);
        }
        if (own > 0) {
            if (set_tiers(&L, &st, segments)) goto oom;
            if (!(cand[n_cand] = market_for(&L, &dl, err))) goto fail;
            cand_e[n_cand] = NAN, cand_s[n_cand] = segments;
            if ((rc = match_elasticity(&L, &st, target, per_model, shrinkage, cand[n_cand], jac, err))) goto fail;
            PrillmFitResult extra;
            memset(&extra, 0, sizeof extra);
            if ((rc = forward_scores(&dl, &L, &st, &cand[n_cand], &cand_e[n_cand], &cand_s[n_cand], 1, &extra, err)))
                goto fail;
            n_cand++;
            if (extra.n_forward) {
                PrillmForwardScore *grown = realloc(res->forward, ((size_t)res->n_forward + 1) * sizeof *grown);
                if (!grown) {
                    free(extra.forward);
                    goto oom;
                }
                res->forward = grown;
                /* before the two baselines */
                int at = res->n_forward - 2;
                memmove(&res->forward[at + 1], &res->forward[at], 2 * sizeof *grown);
                res->forward[at] = extra.forward[0];
                snprintf(res->forward[at].name, sizeof res->forward[at].name, "model e=per model%s",
                         segments > 1 ? ", 4 tiers" : "");
                res->n_forward++;
                /* the richer model must earn its place by a margin beyond
                 * the noise between neighbouring candidates */
                use_per_model = res->forward[at].r2 > res->forward[best].r2 + PER_MODEL_MARGIN;
                prillm__fit_say(warn, ctx, "%d models carry their own measured elasticity in the per-model candidate", own);
            }
            free(extra.forward);
        }
    }
    if (!use_per_model) {
        free(per_model);
        per_model = NULL;
    }
    res->per_model_elasticity = use_per_model;
    if (!res->n_forward && !(st.elasticity > 0)) {
        target = 1.0;
        prillm__fit_say(warn, ctx, "no day after the fit window to validate on: elasticity 1 assumed");
    }
    res->elasticity = target;
    res->segments = segments;
    if (st.verbose) prillm__fit_say(warn, ctx, "target elasticity %g, %d rest-of-market segments", target, segments);
    /* the final market at the chosen target */
    if (set_tiers(&L, &st, segments)) goto oom;
    prillm_market_free(work);
    if (!(work = market_for(&L, &dl, err))) goto fail;
    rc = match_elasticity(&L, &st, target, per_model, shrinkage, work, jac, err);
    free(per_model);
    if (rc) goto fail;
    memcpy(res->tier_edge, L.tier_edge, sizeof res->tier_edge);
    if (!(res->tier = malloc(M * sizeof(int)))) goto oom;
    memcpy(res->tier, L.tier, M * sizeof(int));
    if (!(res->service_class = malloc(M * sizeof(int))) || !(res->floor = malloc(M * sizeof(double)))) goto oom;
    memcpy(res->service_class, L.service, M * sizeof(int));
    memcpy(res->floor, L.floor, M * sizeof(double));
    res->class_users = L.class_users;
    res->classes_applied = L.classes_applied;
    res->market = work;
    work = NULL;
    res->observed_flow = malloc(M * sizeof(double));
    res->own_elasticity = malloc(M * sizeof(double));
    res->implied_cost = malloc(M * sizeof(double));
    res->diversion_to = malloc(M * 3 * sizeof(int));
    res->diversion = malloc(M * 3 * sizeof(double));
    res->throughput = malloc(M * sizeof(double));
    res->latency = malloc(M * sizeof(double));
    res->prompt_share = malloc(M * sizeof(double));
    res->kappa = malloc(M * sizeof(double));
    res->imputed = malloc(M);
    if (!res->observed_flow || !res->own_elasticity || !res->implied_cost || !res->diversion_to || !res->diversion ||
        !res->throughput || !res->latency || !res->prompt_share || !res->kappa || !res->imputed)
        goto oom;
    memcpy(res->latency, L.latency, M * sizeof(double));
    memcpy(res->prompt_share, L.prompt_share, M * sizeof(double));
    memcpy(res->kappa, L.kappa, M * sizeof(double));
    res->settings = st;
    res->settings.elasticity = target;
    res->settings.shrinkage = shrinkage;
    {
        double *index = malloc(M * sizeof *index);
        if (!index) goto oom;
        if (st.entry_quality && quality_read && !quality.present)
            prillm__fit_say(warn, ctx, "no raw/sui414_openrouter-pricing-data/models_daily.csv: entrants valued without a quality index");
        /* The entry regression values a model the market does not hold
         * from its observables. Fitted on the calibrated models alone, a
         * market cut to the largest (max-models) learns only the largest
         * models' volumes and hands one to every entrant: a 30-model fit
         * predicted that the 375 models it lacked on 2026-07-28 took all
         * the traffic. So with a cut it is fitted on every model of the
         * window (the curvature kappa stays the calibrated models'). */
        Layout all;
        memset(&all, 0, sizeof all);
        int have_all = 0;
        if (st.max_models > 0) {
            PrillmFitSettings st_all = st;
            st_all.max_models = 0;
            PrillmError all_err;
            int all_dropped = 0;
            have_all = build_layout(&dl, &st_all, NULL, NULL, &all, &all_dropped, &all_err) == PRILLM_OK && all.m > m &&
                       set_classes(&all, &dl, &quality, &st, NULL, NULL) == 0;
        }
        const Layout *R = have_all ? &all : &L;
        double *rindex = have_all ? malloc((size_t)R->m * sizeof *rindex) : index;
        if (!rindex) {
            layout_free(&all);
            free(index);
            goto oom;
        }
        res->indexed_models = 0;
        for (int j = 0; j < R->m; j++) {
            const char *id = have_all ? dl.models.key[R->model_of[j]] : res->market->provider_id[j];
            rindex[j] = st.entry_quality && quality_read ? prillm__quality_of(&quality, id) : NAN;
            res->indexed_models += isfinite(rindex[j]);
        }
        entry_regression(R, &st, rindex, res->entry_coef, &res->entry_r2);
        /* an entrant's curvature: the calibrated models' median kappa (the
         * layout of every model, when the market is cut, has none) */
        double *k = malloc(M * sizeof *k);
        res->entry_kappa = 2.0;
        if (k) {
            memcpy(k, L.kappa, M * sizeof *k);
            res->entry_kappa = prillm__fit_median(k, m);
            free(k);
        }
        if (have_all) free(rindex);
        layout_free(&all);
        free(index);
    }
    memcpy(res->observed_flow, L.F, M * sizeof(double));
    memcpy(res->throughput, L.throughput, M * sizeof(double));
    memcpy(res->imputed, L.imputed, M);
    for (int j = 0; j < m; j++) {
        const double *col = jac + (size_t)j * M;
        double own = col[j];
        res->own_elasticity[j] = own < 0 ? own * L.price[j] / L.F[j] : NAN;
        res->implied_cost[j] = own < 0 ? L.price[j] + L.F[j] / own : NAN;
        for (int q = 0; q < 3; q++) res->diversion_to[(size_t)j * 3 + (size_t)q] = -1, res->diversion[(size_t)j * 3 + (size_t)q] = 0;
        for (int k = 0; k < m && own < 0; k++) {
            if (k == j || !(col[k] > 0)) continue;
            double d = col[k] / -own;
            for (int q = 0; q < 3; q++) {
                int *to = res->diversion_to + (size_t)j * 3;
                double *dv = res->diversion + (size_t)j * 3;
                if (to[q] < 0 || d > dv[q]) {
                    for (int r = 2; r > q; r--) to[r] = to[r - 1], dv[r] = dv[r - 1];
                    to[q] = k, dv[q] = d;
                    break;
                }
            }
        }
    }
    /* certificate: the calibrated equilibrium against the data */
    PrillmEquilibriumSolver *solver = NULL;
    if ((rc = solve_market(res->market, &solver, err))) goto fail;
    const PrillmEquilibrium *eq = prillm_equilibrium_solution(solver);
    if (!(res->diversion_lo = malloc(M * 3 * sizeof(double))) || !(res->diversion_hi = malloc(M * 3 * sizeof(double)))) {
        prillm_equilibrium_cleanup(solver);
        goto oom;
    }
    if ((rc = diversion_intervals(res->market, eq->flows, res->n_apps, res->diversion_to, res->diversion_lo,
                                  res->diversion_hi, err))) {
        prillm_equilibrium_cleanup(solver);
        goto fail;
    }
    res->kkt_violation = eq->info.kkt_violation;
    res->status = eq->info.status;
    res->max_total_error = res->max_cell_error = 0;
    res->stranded = 0;
    for (int j = 0; j < m; j++) {
        res->max_total_error = fmax(res->max_total_error, fabs(eq->provider_flow[j] - L.F[j]) / L.F[j]);
        res->stranded += !(eq->provider_flow[j] > 0);
    }
    for (int i = 0; i < L.n_apps; i++)
        for (int j = 0; j < m; j++) {
            double x = L.listed[(size_t)i * M + (size_t)j];
            if (isfinite(x))
                res->max_cell_error =
                    fmax(res->max_cell_error, fabs(eq->flows[(size_t)i * M + (size_t)j] - x) / res->market->demand[i]);
        }
    prillm_equilibrium_cleanup(solver);
    res->seconds = prillm__now() - t0;
    goto cleanup;
oom:
    rc = prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory fitting the market");
fail:
    prillm_fit_result_free(res);
    res = NULL;
cleanup:
    for (int c = 0; c < n_cand; c++) prillm_market_free(cand[c]);
    prillm_market_free(work);
    free(jac);
    layout_free(&L);
    prillm__quality_free(&quality);
    prillm__daily_free(&dl);
    *out = res;
    return res ? PRILLM_OK : rc;
}
