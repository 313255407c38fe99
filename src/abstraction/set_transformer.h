/*
 * The Set Transformer behind the aggregation network, its layers and their
 * hand-written backward passes. Internal.
 *
 * Matrices are row-major, one set element per row. Every backward function
 * overwrites the input gradients (dX, dQ, ...) and ADDS the parameter
 * gradients (dW, db, ...) so that a batch accumulates.
 */
#ifndef PRILLM_SET_TRANSFORMER_H
#define PRILLM_SET_TRANSFORMER_H

#include "prillm/aggregator.h"

#define PRILLM__MAX_BLOCKS 8
#define PRILLM__LN_EPS 1e-5
#define PRILLM__SCORE_AVG_FLOOR 1e-6

typedef struct {
    long wq, bq, wk, bk, wv, bv, g0, c0, wo, bo, g1, c1; /* offsets into params */
} PrillmSabOffsets;

struct PrillmAggregator {
    int d_in, width, heads, blocks, layer_norm;
    unsigned long long seed;
    long n_params;
    double *params;
    long embed_w, embed_b, out_w, out_b;
    PrillmSabOffsets sab[PRILLM__MAX_BLOCKS];
    double feature_mean[PRILLM_AGGREGATOR_FEATURES];
    double feature_std[PRILLM_AGGREGATOR_FEATURES];
};

/* Activations of one forward pass, kept for the backward pass. */
typedef struct {
    double *q, *k, *v, *att, *o, *h, *xhat0, *rstd0, *u, *z, *xhat1, *rstd1, *y;
} PrillmSabCache;

typedef struct {
    int capacity; /* set size the buffers hold */
    int n;        /* set size of the last forward */
    double *x;      /* [n * d_in] normalised input                    */
    double *x0;     /* [n * width] embedding                          */
    PrillmSabCache sab[PRILLM__MAX_BLOCKS];
    double *logits; /* [n * 2]                                        */
    /* backward scratch */
    double *g_a, *g_b, *g_q, *g_k, *g_v, *g_att;
} PrillmSetWorkspace;

/* A zero-weight model of this shape (the shape validated). */
PrillmAggregator *prillm__aggregator_alloc_shape(const PrillmAggregatorShape *shape, PrillmError *err);

/* Layers. */
void prillm__linear_forward(int n, int din, int dout, const double *X, const double *W, const double *b, double *Y);
void prillm__linear_backward(int n, int din, int dout, const double *X, const double *W, const double *dY, double *dX,
                             double *dW, double *db);
/* O = Q + concat_h softmax(Q_h K_h^T / sqrt(d/h)) V_h; A holds the heads'
 * attention matrices [heads][n][n]. */
void prillm__attention_forward(int n, int d, int heads, const double *Q, const double *K, const double *V, double *A,
                               double *O);
/* scratch: n*n doubles */
void prillm__attention_backward(int n, int d, int heads, const double *Q, const double *K, const double *V,
                                const double *A, const double *dO, double *dQ, double *dK, double *dV,
                                double *scratch);
void prillm__layernorm_forward(int n, int d, const double *X, const double *g, const double *c, double *Y,
                               double *xhat, double *rstd);
void prillm__layernorm_backward(int n, int d, const double *xhat, const double *rstd, const double *g,
                                const double *dY, double *dX, double *dg, double *dc);
/* Z = H + ReLU(H W + b); U = H W + b kept. */
void prillm__rff_forward(int n, int d, const double *H, const double *W, const double *b, double *U, double *Z);
/* scratch: n*d doubles */
void prillm__rff_backward(int n, int d, const double *H, const double *W, const double *U, const double *dZ,
                          double *dH, double *dW, double *db, double *scratch);
/* score_sum = sigmoid(logit 0), score_avg = softplus(logit 1) + floor. */
void prillm__heads_forward(int n, const double *logits, double *score_sum, double *score_avg);
void prillm__heads_backward(int n, const double *logits, const double *d_sum, const double *d_avg, double *dlogits);

/* Whole network. */
int prillm__set_workspace_init(PrillmSetWorkspace *ws, const PrillmAggregator *model, int capacity);
void prillm__set_workspace_free(PrillmSetWorkspace *ws);
/* x: [n * d_in] features already normalised. */
void prillm__set_forward(const PrillmAggregator *model, PrillmSetWorkspace *ws, int n, const double *x,
                         double *score_sum, double *score_avg);
/* grad += d loss / d params given d loss / d scores of the last forward. */
void prillm__set_backward(const PrillmAggregator *model, PrillmSetWorkspace *ws, const double *d_sum,
                          const double *d_avg, double *grad);

/* Normalised features of the rivals of target (all providers but target, in
 * market order): [(m-1) * d_in]. */
int prillm__aggregator_inputs(const PrillmAggregator *model, const PrillmMarket *market, int target, double *x);

/* Build the da-abstracted market from given scores (indexed by provider);
 * kept[] (may be NULL) receives 1 for kept rivals, 2 for merged ones. */
int prillm__aggregate_with_scores(const PrillmMarket *market, int target, int K, const double *score_sum,
                                  const double *score_avg, PrillmMarket **abstracted, int *target_in_abstracted,
                                  unsigned char *kept, PrillmError *err);

/* prillm_aggregate_market for a market the caller has validated (the
 * pricing dispatcher's, or a part of it): the market's validation, a pass
 * over its n x m entries, is left out; the abstracted market is still
 * validated. */
PrillmErrorCode prillm__aggregate_market_validated(const PrillmMarket *market, int target, int K,
                                                   PrillmAggregateMethod method, const PrillmAggregator *model,
                                                   PrillmMarket **abstracted, int *target_in_abstracted,
                                                   PrillmError *err);

/* d F_target / d (capacity, price, value, delay_0..delay_{n-1},
 * affinity_0..affinity_{n-1}) of provider agg at the solved equilibrium eq
 * of market A, for eq's active set (dF has 2n + 3 entries). Returns 0, or
 * -1 (singular system, no memory). */
int prillm__target_flow_sensitivity(const PrillmMarket *A, int target, int agg, const PrillmEquilibrium *eq,
                                    double *dF);

/* Y_k = p_k F_s(p_k) from exact equilibrium solves, warm-started along k. */
PrillmErrorCode prillm__profit_curve(const PrillmMarket *mk, int target, int count, const double *prices,
                                     double *profit, PrillmError *err);

#endif
