/*
 * The Set Transformer of the aggregation network (solvers.md section 7):
 *   x -> Linear(d_in, d) -> SAB -> ... -> SAB -> Linear(d, 2) -> heads,
 *   SAB(X) = MAB(X, X),  H = LN(O), O = Q + Multihead(Q, K, V),
 *   MAB = LN(H + ReLU(H W_o + b_o)),
 * with Q, K, V = X W_{q,k,v} + b_{q,k,v} split into `heads` column slices and
 * the scores of each head scaled by 1/sqrt(d/heads). The residual adds the
 * projected query and there is no output projection W^O, as in the authors'
 * code; docs/aggregator.md says why each choice was made.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "random.h"
#include "set_transformer.h"

/* ---- layers ----------------------------------------------------------- */

void prillm__linear_forward(int n, int din, int dout, const double *X, const double *W, const double *b, double *Y) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dout, din, 1.0, X, din, W, dout, 0.0, Y, dout);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < dout; c++) Y[(size_t)i * dout + c] += b[c];
}

void prillm__linear_backward(int n, int din, int dout, const double *X, const double *W, const double *dY, double *dX,
                             double *dW, double *db) {
    if (dX) cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, din, dout, 1.0, dY, dout, W, dout, 0.0, dX, din);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, din, dout, n, 1.0, X, din, dY, dout, 1.0, dW, dout);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < dout; c++) db[c] += dY[(size_t)i * dout + c];
}

void prillm__attention_forward(int n, int d, int heads, const double *Q, const double *K, const double *V, double *A,
                               double *O) {
    int dh = d / heads;
    double scale = 1.0 / sqrt((double)dh);
    memcpy(O, Q, sizeof(double) * (size_t)n * d);
    for (int h = 0; h < heads; h++) {
        double *Ah = A + (size_t)h * n * n;
        int off = h * dh;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, Q + off, d, K + off, d, 0.0, Ah, n);
        for (int i = 0; i < n; i++) {
            double *row = Ah + (size_t)i * n, top = row[0], sum = 0;
            for (int l = 1; l < n; l++) top = row[l] > top ? row[l] : top;
            for (int l = 0; l < n; l++) sum += (row[l] = exp(row[l] - top));
            for (int l = 0; l < n; l++) row[l] /= sum;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0, Ah, n, V + off, d, 1.0, O + off, d);
    }
}

void prillm__attention_backward(int n, int d, int heads, const double *Q, const double *K, const double *V,
                                const double *A, const double *dO, double *dQ, double *dK, double *dV,
                                double *scratch) {
    int dh = d / heads;
    double scale = 1.0 / sqrt((double)dh);
    memcpy(dQ, dO, sizeof(double) * (size_t)n * d); /* the residual */
    for (int h = 0; h < heads; h++) {
        const double *Ah = A + (size_t)h * n * n;
        int off = h * dh;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dh, n, 1.0, Ah, n, dO + off, d, 0.0, dV + off, d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, 1.0, dO + off, d, V + off, d, 0.0, scratch, n);
        /* softmax rows: dS = A (dA - rowsum(dA A)) */
        for (int i = 0; i < n; i++) {
            const double *a = Ah + (size_t)i * n;
            double *g = scratch + (size_t)i * n, dot = 0;
            for (int l = 0; l < n; l++) dot += g[l] * a[l];
            for (int l = 0; l < n; l++) g[l] = a[l] * (g[l] - dot);
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, scale, scratch, n, K + off, d, 1.0, dQ + off, d);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dh, n, scale, scratch, n, Q + off, d, 0.0, dK + off, d);
    }
}

void prillm__layernorm_forward(int n, int d, const double *X, const double *g, const double *c, double *Y,
                               double *xhat, double *rstd) {
    for (int i = 0; i < n; i++) {
        const double *x = X + (size_t)i * d;
        double mean = 0, var = 0;
        for (int k = 0; k < d; k++) mean += x[k];
        mean /= d;
        for (int k = 0; k < d; k++) var += (x[k] - mean) * (x[k] - mean);
        var /= d;
        double r = 1.0 / sqrt(var + PRILLM__LN_EPS);
        rstd[i] = r;
        for (int k = 0; k < d; k++) {
            double z = (x[k] - mean) * r;
            xhat[(size_t)i * d + k] = z;
            Y[(size_t)i * d + k] = g[k] * z + c[k];
        }
    }
}

void prillm__layernorm_backward(int n, int d, const double *xhat, const double *rstd, const double *g,
                                const double *dY, double *dX, double *dg, double *dc) {
    for (int i = 0; i < n; i++) {
        const double *z = xhat + (size_t)i * d, *dy = dY + (size_t)i * d;
        double mean_g = 0, mean_gz = 0;
        for (int k = 0; k < d; k++) {
            double gk = dy[k] * g[k];
            mean_g += gk;
            mean_gz += gk * z[k];
            dg[k] += dy[k] * z[k];
            dc[k] += dy[k];
        }
        mean_g /= d;
        mean_gz /= d;
        for (int k = 0; k < d; k++) dX[(size_t)i * d + k] = rstd[i] * (dy[k] * g[k] - mean_g - z[k] * mean_gz);
    }
}

void prillm__rff_forward(int n, int d, const double *H, const double *W, const double *b, double *U, double *Z) {
    prillm__linear_forward(n, d, d, H, W, b, U);
    for (size_t k = 0; k < (size_t)n * d; k++) Z[k] = H[k] + (U[k] > 0 ? U[k] : 0.0);
}

void prillm__rff_backward(int n, int d, const double *H, const double *W, const double *U, const double *dZ,
                          double *dH, double *dW, double *db, double *scratch) {
    for (size_t k = 0; k < (size_t)n * d; k++) scratch[k] = U[k] > 0 ? dZ[k] : 0.0;
    prillm__linear_backward(n, d, d, H, W, scratch, dH, dW, db);
    for (size_t k = 0; k < (size_t)n * d; k++) dH[k] += dZ[k];
}

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

void prillm__heads_forward(int n, const double *logits, double *score_sum, double *score_avg) {
    for (int i = 0; i < n; i++) {
        double a = logits[2 * i], b = logits[2 * i + 1];
        score_sum[i] = sigmoid(a);
        score_avg[i] = (b > 0 ? b : 0.0) + log1p(exp(-fabs(b))) + PRILLM__SCORE_AVG_FLOOR;
    }
}

void prillm__heads_backward(int n, const double *logits, const double *d_sum, const double *d_avg, double *dlogits) {
    for (int i = 0; i < n; i++) {
        double s = sigmoid(logits[2 * i]);
        dlogits[2 * i] = d_sum[i] * s * (1.0 - s);
        dlogits[2 * i + 1] = d_avg[i] * sigmoid(logits[2 * i + 1]);
    }
}

/* ---- the model -------------------------------------------------------- */

void prillm_aggregator_default_shape(PrillmAggregatorShape *shape) {
    shape->width = 32;
    shape->heads = 4;
    shape->blocks = 2;
    shape->layer_norm = 1;
    shape->seed = 1;
}

static void layout(PrillmAggregator *m) {
    long at = 0, d = m->width;
    m->embed_w = at, at += (long)m->d_in * d;
    m->embed_b = at, at += d;
    for (int b = 0; b < m->blocks; b++) {
        PrillmSabOffsets *s = &m->sab[b];
        s->wq = at, at += d * d;
        s->bq = at, at += d;
        s->wk = at, at += d * d;
        s->bk = at, at += d;
        s->wv = at, at += d * d;
        s->bv = at, at += d;
        if (m->layer_norm) s->g0 = at, at += d, s->c0 = at, at += d;
        else s->g0 = s->c0 = -1;
        s->wo = at, at += d * d;
        s->bo = at, at += d;
        if (m->layer_norm) s->g1 = at, at += d, s->c1 = at, at += d;
        else s->g1 = s->c1 = -1;
    }
    m->out_w = at, at += d * 2;
    m->out_b = at, at += 2;
    m->n_params = at;
}

static void xavier(PrillmRng *rng, double *w, int fan_in, int fan_out) {
    double bound = sqrt(6.0 / (fan_in + fan_out));
    for (long k = 0; k < (long)fan_in * fan_out; k++) w[k] = bound * (2.0 * prillm__rng_uniform(rng) - 1.0);
}

static PrillmErrorCode check_shape(const PrillmAggregatorShape *s, PrillmError *err) {
    if (!s) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "shape is NULL");
    if (s->width < 1 || s->width > 4096)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "shape.width must be in 1..4096, got %d", s->width);
    if (s->heads < 1 || s->width % s->heads != 0)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "shape.heads must divide width %d, got %d", s->width,
                            s->heads);
    if (s->blocks < 0 || s->blocks > PRILLM__MAX_BLOCKS)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "shape.blocks must be in 0..%d, got %d",
                            PRILLM__MAX_BLOCKS, s->blocks);
    if (s->layer_norm != 0 && s->layer_norm != 1)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "shape.layer_norm must be 0 or 1, got %d", s->layer_norm);
    return PRILLM_OK;
}

static PrillmAggregator *alloc_model(const PrillmAggregatorShape *shape, PrillmError *err) {
    if (check_shape(shape, err)) return NULL;
    PrillmAggregator *m = prillm__calloc(1, sizeof *m);
    if (!m) goto oom;
    m->d_in = PRILLM_AGGREGATOR_FEATURES;
    m->width = shape->width;
    m->heads = shape->heads;
    m->blocks = shape->blocks;
    m->layer_norm = shape->layer_norm;
    m->seed = shape->seed;
    layout(m);
    if (!(m->params = prillm__calloc((size_t)m->n_params, sizeof(double)))) goto oom;
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) m->feature_mean[k] = 0.0, m->feature_std[k] = 1.0;
    return m;
oom:
    prillm_aggregator_free(m);
    prillm__fail(err, PRILLM_ERR_NO_MEMORY, "out of memory allocating the aggregation network");
    return NULL;
}

PrillmAggregator *prillm_aggregator_new(const PrillmAggregatorShape *shape, PrillmError *err) {
    PrillmAggregator *m = alloc_model(shape, err);
    if (!m) return NULL;
    PrillmRng rng = {shape->seed * 0x9e3779b97f4a7c15ULL + 0x51ed2701ULL};
    int d = m->width;
    double *p = m->params;
    xavier(&rng, p + m->embed_w, m->d_in, d);
    for (int b = 0; b < m->blocks; b++) {
        const PrillmSabOffsets *s = &m->sab[b];
        xavier(&rng, p + s->wq, d, d);
        xavier(&rng, p + s->wk, d, d);
        xavier(&rng, p + s->wv, d, d);
        xavier(&rng, p + s->wo, d, d);
        if (m->layer_norm)
            for (int k = 0; k < d; k++) p[s->g0 + k] = p[s->g1 + k] = 1.0;
    }
    xavier(&rng, p + m->out_w, d, 2);
    /* start with score_sum = sigmoid(2) ~ 0.88: the merged rival keeps most
     * of the capacity it stands for */
    p[m->out_b] = 2.0;
    return m;
}

PrillmAggregator *prillm__aggregator_alloc_shape(const PrillmAggregatorShape *shape, PrillmError *err) {
    return alloc_model(shape, err);
}

PrillmAggregator *prillm_aggregator_copy(const PrillmAggregator *model, PrillmError *err) {
    PrillmAggregatorShape shape;
    prillm_aggregator_get_shape(model, &shape);
    PrillmAggregator *m = alloc_model(&shape, err);
    if (!m) return NULL;
    memcpy(m->params, model->params, sizeof(double) * (size_t)model->n_params);
    memcpy(m->feature_mean, model->feature_mean, sizeof m->feature_mean);
    memcpy(m->feature_std, model->feature_std, sizeof m->feature_std);
    return m;
}

void prillm_aggregator_free(PrillmAggregator *model) {
    if (!model) return;
    free(model->params);
    free(model);
}

void prillm_aggregator_get_shape(const PrillmAggregator *model, PrillmAggregatorShape *shape) {
    shape->width = model->width;
    shape->heads = model->heads;
    shape->blocks = model->blocks;
    shape->layer_norm = model->layer_norm;
    shape->seed = model->seed;
}

int prillm_aggregator_parameter_count(const PrillmAggregator *model) { return (int)model->n_params; }
double *prillm_aggregator_parameters(PrillmAggregator *model) { return model->params; }

PrillmErrorCode prillm_aggregator_set_normalisation(PrillmAggregator *model, const double *mean, const double *std,
                                                    PrillmError *err) {
    for (int k = 0; k < PRILLM_AGGREGATOR_FEATURES; k++) {
        if (!isfinite(mean[k]) || fabs(mean[k]) > PRILLM_MAX_MAGNITUDE)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "feature_mean[%d] must be finite, got %g", k, mean[k]);
        if (!(std[k] > 0) || !isfinite(std[k]) || std[k] > PRILLM_MAX_MAGNITUDE)
            return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "feature_std[%d] must be > 0 and finite, got %g", k,
                                std[k]);
    }
    memcpy(model->feature_mean, mean, sizeof model->feature_mean);
    memcpy(model->feature_std, std, sizeof model->feature_std);
    return PRILLM_OK;
}

void prillm_aggregator_get_normalisation(const PrillmAggregator *model, double *mean, double *std) {
    if (mean) memcpy(mean, model->feature_mean, sizeof model->feature_mean);
    if (std) memcpy(std, model->feature_std, sizeof model->feature_std);
}

/* ---- forward / backward ----------------------------------------------- */

int prillm__set_workspace_init(PrillmSetWorkspace *ws, const PrillmAggregator *model, int capacity) {
    memset(ws, 0, sizeof *ws);
    if (capacity < 1) capacity = 1;
    size_t nd = (size_t)capacity * model->width, nn = (size_t)capacity * capacity * model->heads;
    ws->capacity = capacity;
#define ALLOC(p, count) \
    if (!((p) = prillm__calloc((count), sizeof(double)))) goto oom
    ALLOC(ws->x, (size_t)capacity * model->d_in);
    ALLOC(ws->x0, nd);
    for (int b = 0; b < model->blocks; b++) {
        PrillmSabCache *c = &ws->sab[b];
        ALLOC(c->q, nd);
        ALLOC(c->k, nd);
        ALLOC(c->v, nd);
        ALLOC(c->att, nn);
        ALLOC(c->o, nd);
        ALLOC(c->h, nd);
        ALLOC(c->xhat0, nd);
        ALLOC(c->rstd0, (size_t)capacity);
        ALLOC(c->u, nd);
        ALLOC(c->z, nd);
        ALLOC(c->xhat1, nd);
        ALLOC(c->rstd1, (size_t)capacity);
        ALLOC(c->y, nd);
    }
    ALLOC(ws->logits, (size_t)capacity * 2);
    ALLOC(ws->g_a, nd + 2 * (size_t)capacity);
    ALLOC(ws->g_b, nd);
    ALLOC(ws->g_q, nd);
    ALLOC(ws->g_k, nd);
    ALLOC(ws->g_v, nd);
    ALLOC(ws->g_att, (size_t)capacity * capacity + nd); /* n*n for attention, n*d for rFF */
#undef ALLOC
    return 0;
oom:
    prillm__set_workspace_free(ws);
    return -1;
}

void prillm__set_workspace_free(PrillmSetWorkspace *ws) {
    free(ws->x);
    free(ws->x0);
    for (int b = 0; b < PRILLM__MAX_BLOCKS; b++) {
        PrillmSabCache *c = &ws->sab[b];
        free(c->q), free(c->k), free(c->v), free(c->att), free(c->o), free(c->h), free(c->xhat0);
        free(c->rstd0), free(c->u), free(c->z), free(c->xhat1), free(c->rstd1), free(c->y);
    }
    free(ws->logits);
    free(ws->g_a), free(ws->g_b), free(ws->g_q), free(ws->g_k), free(ws->g_v), free(ws->g_att);
    memset(ws, 0, sizeof *ws);
}

void prillm__set_forward(const PrillmAggregator *model, PrillmSetWorkspace *ws, int n, const double *x,
                         double *score_sum, double *score_avg) {
    const double *p = model->params;
    int d = model->width;
    size_t nd = (size_t)n * d;
    ws->n = n;
    memcpy(ws->x, x, sizeof(double) * (size_t)n * model->d_in);
    prillm__linear_forward(n, model->d_in, d, ws->x, p + model->embed_w, p + model->embed_b, ws->x0);
    const double *in = ws->x0;
    for (int b = 0; b < model->blocks; b++) {
        const PrillmSabOffsets *s = &model->sab[b];
        PrillmSabCache *c = &ws->sab[b];
        prillm__linear_forward(n, d, d, in, p + s->wq, p + s->bq, c->q);
        prillm__linear_forward(n, d, d, in, p + s->wk, p + s->bk, c->k);
        prillm__linear_forward(n, d, d, in, p + s->wv, p + s->bv, c->v);
        prillm__attention_forward(n, d, model->heads, c->q, c->k, c->v, c->att, c->o);
        if (model->layer_norm) prillm__layernorm_forward(n, d, c->o, p + s->g0, p + s->c0, c->h, c->xhat0, c->rstd0);
        else memcpy(c->h, c->o, sizeof(double) * nd);
        prillm__rff_forward(n, d, c->h, p + s->wo, p + s->bo, c->u, c->z);
        if (model->layer_norm) prillm__layernorm_forward(n, d, c->z, p + s->g1, p + s->c1, c->y, c->xhat1, c->rstd1);
        else memcpy(c->y, c->z, sizeof(double) * nd);
        in = c->y;
    }
    prillm__linear_forward(n, d, 2, in, p + model->out_w, p + model->out_b, ws->logits);
    prillm__heads_forward(n, ws->logits, score_sum, score_avg);
}

void prillm__set_backward(const PrillmAggregator *model, PrillmSetWorkspace *ws, const double *d_sum,
                          const double *d_avg, double *grad) {
    const double *p = model->params;
    int n = ws->n, d = model->width;
    size_t nd = (size_t)n * d;
    double *dlogits = ws->g_a + nd; /* the tail of g_a */
    double *ga = ws->g_a, *gb = ws->g_b, *gc = ws->g_att + (size_t)n * n;
    prillm__heads_backward(n, ws->logits, d_sum, d_avg, dlogits);
    const double *last = model->blocks ? ws->sab[model->blocks - 1].y : ws->x0;
    prillm__linear_backward(n, d, 2, last, p + model->out_w, dlogits, ga, grad + model->out_w, grad + model->out_b);
    for (int b = model->blocks - 1; b >= 0; b--) {
        const PrillmSabOffsets *s = &model->sab[b];
        PrillmSabCache *c = &ws->sab[b];
        const double *in = b ? ws->sab[b - 1].y : ws->x0;
        if (model->layer_norm)
            prillm__layernorm_backward(n, d, c->xhat1, c->rstd1, p + s->g1, ga, gb, grad + s->g1, grad + s->c1);
        else memcpy(gb, ga, sizeof(double) * nd);
        prillm__rff_backward(n, d, c->h, p + s->wo, c->u, gb, ga, grad + s->wo, grad + s->bo, gc);
        if (model->layer_norm)
            prillm__layernorm_backward(n, d, c->xhat0, c->rstd0, p + s->g0, ga, gb, grad + s->g0, grad + s->c0);
        else memcpy(gb, ga, sizeof(double) * nd);
        prillm__attention_backward(n, d, model->heads, c->q, c->k, c->v, c->att, gb, ws->g_q, ws->g_k, ws->g_v,
                                   ws->g_att);
        prillm__linear_backward(n, d, d, in, p + s->wq, ws->g_q, ga, grad + s->wq, grad + s->bq);
        prillm__linear_backward(n, d, d, in, p + s->wk, ws->g_k, gc, grad + s->wk, grad + s->bk);
        for (size_t k = 0; k < nd; k++) ga[k] += gc[k];
        prillm__linear_backward(n, d, d, in, p + s->wv, ws->g_v, gc, grad + s->wv, grad + s->bv);
        for (size_t k = 0; k < nd; k++) ga[k] += gc[k];
    }
    prillm__linear_backward(n, model->d_in, d, ws->x, p + model->embed_w, ga, NULL, grad + model->embed_w,
                            grad + model->embed_b);
}
