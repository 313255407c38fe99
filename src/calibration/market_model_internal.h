/* The whole-market model's data and helpers. Internal. */
#ifndef PRILLM_MARKET_MODEL_INTERNAL_H
#define PRILLM_MARKET_MODEL_INTERNAL_H

#include "observations_internal.h"
#include "prillm/market_model.h"

/* Daily series of every model in models.csv over [first_day, first_day +
 * n_days), [model * n_days + t], NaN where the table has no value; and the
 * app x model snapshot of one date. Ids point into the tables' text. */
typedef struct {
    PrillmCsvTable model_table, flow_table;
    PrillmNameIndex models, apps;
    long first_day;
    int n_days;
    double *tokens, *prompt, *completion;   /* raw tokens per UTC day        */
    double *listed_in, *listed_out;          /* USD / Mtok                    */
    double *effective_in, *effective_out;
    double *latency, *throughput;            /* s, tok/s                      */
    int n_flows;
    int *flow_app, *flow_model;
    double *flow_tokens;                     /* raw tokens over the window    */
    long flows_skipped;                      /* rows of the date not usable   */
    PrillmCsvTable category_table;           /* raw apps snapshot, optional   */
    PrillmNameIndex categories;
    int *app_category;                       /* [apps] first listed, -1 none  */
    long negative_prices;                    /* sentinel prices read as none  */
} PrillmDaily;

/* One warning through the caller's callback (nothing when it is NULL). */
void prillm__fit_say(PrillmWarnFn warn, void *context, const char *fmt, ...) PRILLM__PRINTF(3, 4);

/* qsort comparator of doubles, ascending. */
int prillm__fit_compare_doubles(const void *a, const void *b);
/* The median of x[0..count) (sorted in place); NaN when count is 0. */
double prillm__fit_median(double *x, int count);

/* Days since 1970-01-01 of yyyymmdd, and back. */
long prillm__day_number(int yyyymmdd);
int prillm__day_date(long day);

PrillmErrorCode prillm__daily_read(const char *dir, int first_date, int last_date, int flow_date, PrillmDaily *daily,
                                   PrillmError *err);
void prillm__daily_free(PrillmDaily *daily);
double prillm__daily_at(const PrillmDaily *daily, const double *series, int model, long t);

/* The Artificial Analysis intelligence index of each model (OpenRouter
 * raw/sui414_openrouter-pricing-data/models_daily.csv, column
 * aa_intelligence), its latest value on or before last_date. */
typedef struct {
    PrillmCsvTable table;
    PrillmNameIndex ids;
    double *value;
    int present;            /* 0: the file is absent (every lookup NaN)      */
    /* the same table is OpenRouter's chat catalogue (every row's modality
     * ends in "->text..."): every id and permaslug of a row dated on or
     * before last_date, and the first scrape date (yyyymmdd, 0 = none) */
    PrillmNameIndex catalogue;
    int first_date;
} PrillmQuality;

PrillmErrorCode prillm__quality_read(const char *dir, int last_date, PrillmQuality *quality, PrillmError *err);
double prillm__quality_of(const PrillmQuality *quality, const char *model_id);
/* 1 if model_id (an id, model slug or permaslug, or a ":variant" of one) is
 * in the chat catalogue. */
int prillm__quality_in_catalogue(const PrillmQuality *quality, const char *model_id);
void prillm__quality_free(PrillmQuality *quality);

/* A cell across service classes (prillm/market_model.h) has affinity
 * -(value_j + PRILLM_FIT_CLASS_WALL x the market's largest value): its cost
 * is above any user's equilibrium cost at any prices up to that many times
 * today's (a what-if that makes every image model 10 times dearer still
 * leaves image traffic with image models). A finite wall keeps the market an
 * ordinary one every solver reads. */
#define PRILLM_FIT_CLASS_WALL 1000.0

/* The entry regression's regressors for a model: 1, log max(p, floor),
 * log latency, log throughput, has an index, index / 10 (0 without). */
#define PRILLM_FIT_ENTRY_TERMS 6
void prillm__entry_terms(double price, double floor, double latency, double throughput, double index,
                         double x[PRILLM_FIT_ENTRY_TERMS]);

#endif
