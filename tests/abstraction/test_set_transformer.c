/* The Set Transformer's hand-written backward passes against central finite
 * differences, layer by layer and for the whole network, and the network's
 * permutation equivariance. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "set_transformer.h"
#include "support.h"

static double *random_vector(TestRng *rng, size_t count, double scale) {
    double *x = malloc(sizeof(double) * (count ? count : 1));
    assert_non_null(x);
    for (size_t k = 0; k < count; k++) x[k] = scale * (2.0 * test_uniform(rng) - 1.0);
    return x;
}

static double dot(const double *a, const double *b, size_t count) {
    double s = 0;
    for (size_t k = 0; k < count; k++) s += a[k] * b[k];
    return s;
}

typedef double (*LossFn)(void *ctx);

/* Compare analytic[k] with the central difference of loss in x[k]. */
static int check_gradient(const char *what, double *x, size_t count, const double *analytic, LossFn loss, void *ctx) {
    const double h = 1e-6;
    for (size_t k = 0; k < count; k++) {
        double keep = x[k];
        x[k] = keep + h;
        double up = loss(ctx);
        x[k] = keep - h;
        double down = loss(ctx);
        x[k] = keep;
        double numeric = (up - down) / (2 * h);
        if (!(fabs(numeric - analytic[k]) <= 1e-6 * (1.0 + fabs(numeric))))
            fail_msg("%s[%zu]: analytic %.12g, finite difference %.12g", what, k, analytic[k], numeric);
    }
    return (int)count;
}

/* ---- Linear ----------------------------------------------------------- */

typedef struct {
    int n, din, dout;
    double *X, *W, *b, *R, *Y;
} LinearCase;

static double linear_loss(void *ctx) {
    LinearCase *c = ctx;
    prillm__linear_forward(c->n, c->din, c->dout, c->X, c->W, c->b, c->Y);
    return dot(c->R, c->Y, (size_t)c->n * c->dout);
}

static void test_linear_gradient(void **state) {
    (void)state;
    TestRng rng = {11};
    int checked = 0;
    for (int trial = 0; trial < 12; trial++) {
        LinearCase c = {test_int(&rng, 1, 9), test_int(&rng, 1, 7), test_int(&rng, 1, 6), 0, 0, 0, 0, 0};
        size_t nx = (size_t)c.n * c.din, nw = (size_t)c.din * c.dout, ny = (size_t)c.n * c.dout;
        c.X = random_vector(&rng, nx, 2), c.W = random_vector(&rng, nw, 1), c.b = random_vector(&rng, c.dout, 1);
        c.R = random_vector(&rng, ny, 1), c.Y = random_vector(&rng, ny, 0);
        double *dX = calloc(nx, sizeof(double)), *dW = calloc(nw, sizeof(double)), *db = calloc(c.dout, sizeof(double));
        prillm__linear_backward(c.n, c.din, c.dout, c.X, c.W, c.R, dX, dW, db);
        checked += check_gradient("linear dX", c.X, nx, dX, linear_loss, &c);
        checked += check_gradient("linear dW", c.W, nw, dW, linear_loss, &c);
        checked += check_gradient("linear db", c.b, c.dout, db, linear_loss, &c);
        free(c.X), free(c.W), free(c.b), free(c.R), free(c.Y), free(dX), free(dW), free(db);
    }
    assert_true(checked > 100);
}

/* ---- attention -------------------------------------------------------- */

typedef struct {
    int n, d, heads;
    double *Q, *K, *V, *R, *A, *O;
} AttentionCase;

static double attention_loss(void *ctx) {
    AttentionCase *c = ctx;
    prillm__attention_forward(c->n, c->d, c->heads, c->Q, c->K, c->V, c->A, c->O);
    return dot(c->R, c->O, (size_t)c->n * c->d);
}

static void test_attention_gradient(void **state) {
    (void)state;
    TestRng rng = {12};
    static const int sizes[] = {1, 2, 3, 5, 8};
    static const int widths[][2] = {{4, 1}, {4, 2}, {6, 3}, {8, 4}, {5, 5}};
    for (int trial = 0; trial < 15; trial++) {
        AttentionCase c = {sizes[trial % 5], widths[trial / 3 % 5][0], widths[trial / 3 % 5][1], 0, 0, 0, 0, 0, 0};
        size_t nd = (size_t)c.n * c.d;
        c.Q = random_vector(&rng, nd, 1.5), c.K = random_vector(&rng, nd, 1.5), c.V = random_vector(&rng, nd, 1);
        c.R = random_vector(&rng, nd, 1), c.O = random_vector(&rng, nd, 0);
        c.A = random_vector(&rng, (size_t)c.heads * c.n * c.n, 0);
        double *dQ = calloc(nd, 8), *dK = calloc(nd, 8), *dV = calloc(nd, 8), *scratch = calloc((size_t)c.n * c.n, 8);
        attention_loss(&c);
        /* every attention row is a probability vector */
        for (int h = 0; h < c.heads; h++)
            for (int i = 0; i < c.n; i++) {
                double s = 0;
                for (int l = 0; l < c.n; l++) s += c.A[((size_t)h * c.n + i) * c.n + l];
                assert_true(fabs(s - 1) < 1e-14);
            }
        prillm__attention_backward(c.n, c.d, c.heads, c.Q, c.K, c.V, c.A, c.R, dQ, dK, dV, scratch);
        check_gradient("attention dQ", c.Q, nd, dQ, attention_loss, &c);
        check_gradient("attention dK", c.K, nd, dK, attention_loss, &c);
        check_gradient("attention dV", c.V, nd, dV, attention_loss, &c);
        free(c.Q), free(c.K), free(c.V), free(c.R), free(c.O), free(c.A), free(dQ), free(dK), free(dV), free(scratch);
    }
}

/* With one element the set attends only to itself: O = Q + V. */
static void test_attention_single_element(void **state) {
    (void)state;
    double Q[4] = {1, -2, 3, 0.5}, K[4] = {9, 9, -9, 1}, V[4] = {0.25, 0.5, -1, 2}, A[2], O[4];
    prillm__attention_forward(1, 4, 2, Q, K, V, A, O);
    for (int k = 0; k < 4; k++) assert_true(O[k] == Q[k] + V[k]);
}

/* ---- LayerNorm -------------------------------------------------------- */

typedef struct {
    int n, d;
    double *X, *g, *c, *R, *Y, *xhat, *rstd;
} NormCase;

static double norm_loss(void *ctx) {
    NormCase *c = ctx;
    prillm__layernorm_forward(c->n, c->d, c->X, c->g, c->c, c->Y, c->xhat, c->rstd);
    return dot(c->R, c->Y, (size_t)c->n * c->d);
}

static void test_layernorm_gradient(void **state) {
    (void)state;
    TestRng rng = {13};
    for (int trial = 0; trial < 12; trial++) {
        NormCase c = {test_int(&rng, 1, 6), test_int(&rng, 2, 9), 0, 0, 0, 0, 0, 0, 0};
        size_t nd = (size_t)c.n * c.d;
        c.X = random_vector(&rng, nd, 3), c.g = random_vector(&rng, c.d, 2), c.c = random_vector(&rng, c.d, 1);
        c.R = random_vector(&rng, nd, 1), c.Y = random_vector(&rng, nd, 0), c.xhat = random_vector(&rng, nd, 0);
        c.rstd = random_vector(&rng, c.n, 0);
        double *dX = calloc(nd, 8), *dg = calloc(c.d, 8), *dc = calloc(c.d, 8);
        norm_loss(&c);
        /* each normalised row has mean 0 and variance v / (v + eps) */
        for (int i = 0; i < c.n; i++) {
            double mean = 0, var = 0, xmean = 0, xvar = 0;
            for (int k = 0; k < c.d; k++) mean += c.xhat[i * c.d + k] / c.d, xmean += c.X[i * c.d + k] / c.d;
            for (int k = 0; k < c.d; k++) {
                var += c.xhat[i * c.d + k] * c.xhat[i * c.d + k] / c.d;
                xvar += (c.X[i * c.d + k] - xmean) * (c.X[i * c.d + k] - xmean) / c.d;
            }
            assert_true(fabs(mean) < 1e-13);
            assert_true(fabs(var - xvar / (xvar + PRILLM__LN_EPS)) < 1e-12);
        }
        prillm__layernorm_backward(c.n, c.d, c.xhat, c.rstd, c.g, c.R, dX, dg, dc);
        check_gradient("layernorm dX", c.X, nd, dX, norm_loss, &c);
        check_gradient("layernorm dg", c.g, c.d, dg, norm_loss, &c);
        check_gradient("layernorm dc", c.c, c.d, dc, norm_loss, &c);
        free(c.X), free(c.g), free(c.c), free(c.R), free(c.Y), free(c.xhat), free(c.rstd), free(dX), free(dg), free(dc);
    }
}

/* ---- rFF -------------------------------------------------------------- */

typedef struct {
    int n, d;
    double *H, *W, *b, *R, *U, *Z;
} RffCase;

static double rff_loss(void *ctx) {
    RffCase *c = ctx;
    prillm__rff_forward(c->n, c->d, c->H, c->W, c->b, c->U, c->Z);
    return dot(c->R, c->Z, (size_t)c->n * c->d);
}

static void test_rff_gradient(void **state) {
    (void)state;
    TestRng rng = {14};
    for (int trial = 0; trial < 12; trial++) {
        RffCase c = {test_int(&rng, 1, 7), test_int(&rng, 1, 8), 0, 0, 0, 0, 0, 0};
        size_t nd = (size_t)c.n * c.d;
        c.H = random_vector(&rng, nd, 2), c.W = random_vector(&rng, (size_t)c.d * c.d, 1);
        c.b = random_vector(&rng, c.d, 1), c.R = random_vector(&rng, nd, 1);
        c.U = random_vector(&rng, nd, 0), c.Z = random_vector(&rng, nd, 0);
        double *dH = calloc(nd, 8), *dW = calloc((size_t)c.d * c.d, 8), *db = calloc(c.d, 8), *scratch = calloc(nd, 8);
        rff_loss(&c);
        int positive = 0;
        for (size_t k = 0; k < nd; k++) {
            positive += c.U[k] > 0;
            assert_true(fabs(c.U[k]) > 1e-5); /* away from the ReLU kink */
        }
        prillm__rff_backward(c.n, c.d, c.H, c.W, c.U, c.R, dH, dW, db, scratch);
        check_gradient("rff dH", c.H, nd, dH, rff_loss, &c);
        check_gradient("rff dW", c.W, (size_t)c.d * c.d, dW, rff_loss, &c);
        check_gradient("rff db", c.b, c.d, db, rff_loss, &c);
        (void)positive;
        free(c.H), free(c.W), free(c.b), free(c.R), free(c.U), free(c.Z), free(dH), free(dW), free(db), free(scratch);
    }
}

/* ---- heads ------------------------------------------------------------ */

typedef struct {
    int n;
    double *logits, *rs, *ra, *ss, *sa;
} HeadsCase;

static double heads_loss(void *ctx) {
    HeadsCase *c = ctx;
    prillm__heads_forward(c->n, c->logits, c->ss, c->sa);
    return dot(c->rs, c->ss, c->n) + dot(c->ra, c->sa, c->n);
}

static void test_heads_gradient_and_range(void **state) {
    (void)state;
    TestRng rng = {15};
    HeadsCase c = {40, 0, 0, 0, 0, 0};
    c.logits = random_vector(&rng, 80, 8), c.rs = random_vector(&rng, 40, 1), c.ra = random_vector(&rng, 40, 1);
    c.ss = random_vector(&rng, 40, 0), c.sa = random_vector(&rng, 40, 0);
    double *dl = calloc(80, 8);
    heads_loss(&c);
    for (int i = 0; i < 40; i++) {
        assert_true(c.ss[i] > 0 && c.ss[i] < 1);
        assert_true(c.sa[i] >= PRILLM__SCORE_AVG_FLOOR);
    }
    prillm__heads_backward(c.n, c.logits, c.rs, c.ra, dl);
    check_gradient("heads dlogits", c.logits, 80, dl, heads_loss, &c);
    /* extreme logits stay finite and in range */
    double big[4] = {800, -800, -800, 800}, s[2], a[2];
    prillm__heads_forward(2, big, s, a);
    assert_true(s[0] <= 1 && s[1] >= 0 && a[0] >= PRILLM__SCORE_AVG_FLOOR && a[1] == 800 + PRILLM__SCORE_AVG_FLOOR);
    free(c.logits), free(c.rs), free(c.ra), free(c.ss), free(c.sa), free(dl);
}

/* ---- whole network ---------------------------------------------------- */

typedef struct {
    PrillmAggregator *model;
    PrillmSetWorkspace ws;
    int n;
    double *x, *rs, *ra, *ss, *sa;
} NetCase;

static double net_loss(void *ctx) {
    NetCase *c = ctx;
    prillm__set_forward(c->model, &c->ws, c->n, c->x, c->ss, c->sa);
    return dot(c->rs, c->ss, c->n) + dot(c->ra, c->sa, c->n);
}

static void test_network_gradient(void **state) {
    (void)state;
    static const PrillmAggregatorShape shapes[] = {
        {4, 1, 1, 1, 3}, {6, 2, 2, 1, 4}, {8, 4, 2, 0, 5}, {4, 2, 0, 1, 6}, {6, 3, 3, 1, 7}, {8, 2, 1, 0, 8},
    };
    static const int sizes[] = {1, 2, 3, 6, 11};
    TestRng rng = {16};
    int cases = 0;
    for (int s = 0; s < 6; s++)
        for (int z = 0; z < 5; z++) {
            NetCase c = {0};
            PrillmError err;
            c.model = prillm_aggregator_new(&shapes[s], &err);
            assert_non_null(c.model);
            c.n = sizes[z];
            long np = prillm_aggregator_parameter_count(c.model);
            double *p = prillm_aggregator_parameters(c.model);
            /* spread the LayerNorm gains and the biases away from 1 and 0 */
            for (long k = 0; k < np; k++) p[k] += 0.3 * (2 * test_uniform(&rng) - 1);
            assert_int_equal(prillm__set_workspace_init(&c.ws, c.model, c.n), 0);
            c.x = random_vector(&rng, (size_t)c.n * PRILLM_AGGREGATOR_FEATURES, 2);
            c.rs = random_vector(&rng, c.n, 1), c.ra = random_vector(&rng, c.n, 1);
            c.ss = random_vector(&rng, c.n, 0), c.sa = random_vector(&rng, c.n, 0);
            double *grad = calloc((size_t)np, sizeof(double));
            net_loss(&c);
            prillm__set_backward(c.model, &c.ws, c.rs, c.ra, grad);
            char what[64];
            snprintf(what, sizeof what, "network shape %d n %d params", s, c.n);
            check_gradient(what, p, (size_t)np, grad, net_loss, &c);
            /* the gradient accumulates: a second backward doubles it */
            double *twice = calloc((size_t)np, sizeof(double));
            net_loss(&c);
            prillm__set_backward(c.model, &c.ws, c.rs, c.ra, twice);
            prillm__set_backward(c.model, &c.ws, c.rs, c.ra, twice);
            for (long k = 0; k < np; k++) assert_true(fabs(twice[k] - 2 * grad[k]) <= 1e-12 * (1 + fabs(grad[k])));
            free(grad), free(twice), free(c.x), free(c.rs), free(c.ra), free(c.ss), free(c.sa);
            prillm__set_workspace_free(&c.ws);
            prillm_aggregator_free(c.model);
            cases++;
        }
    assert_int_equal(cases, 30);
}

/* Permuting the rivals permutes the scores, nothing else. */
static void test_permutation_equivariance(void **state) {
    (void)state;
    TestRng rng = {17};
    for (int trial = 0; trial < 40; trial++) {
        PrillmAggregatorShape shape = {8, 1 << test_int(&rng, 0, 3), test_int(&rng, 0, 3), trial % 2, (uint64_t)trial};
        PrillmError err;
        PrillmAggregator *model = prillm_aggregator_new(&shape, &err);
        assert_non_null(model);
        int n = test_int(&rng, 1, 25), F = PRILLM_AGGREGATOR_FEATURES;
        double *x = random_vector(&rng, (size_t)n * F, 2), *y = random_vector(&rng, (size_t)n * F, 0);
        double *ss = calloc(n, 8), *sa = calloc(n, 8), *ps = calloc(n, 8), *pa = calloc(n, 8);
        int *perm = malloc(sizeof(int) * n);
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = test_int(&rng, 0, i), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * F, x + (size_t)perm[i] * F, sizeof(double) * F);
        PrillmSetWorkspace ws;
        assert_int_equal(prillm__set_workspace_init(&ws, model, 30), 0);
        prillm__set_forward(model, &ws, n, x, ss, sa);
        prillm__set_forward(model, &ws, n, y, ps, pa);
        for (int i = 0; i < n; i++) {
            assert_true(fabs(ps[i] - ss[perm[i]]) <= 1e-13);
            assert_true(fabs(pa[i] - sa[perm[i]]) <= 1e-12 * (1 + sa[perm[i]]));
        }
        prillm__set_workspace_free(&ws);
        prillm_aggregator_free(model);
        free(x), free(y), free(ss), free(sa), free(ps), free(pa), free(perm);
    }
}

/* ---- the documented architecture, written out naively ---------------- */

/* y[n x dout] = x[n x din] W + b with W row-major [din][dout] at p + off. */
static void naive_linear(int n, int din, int dout, const double *x, const double *p, long *off, double *y) {
    const double *W = p + *off, *b = W + (long)din * dout;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < dout; c++) {
            double s = b[c];
            for (int k = 0; k < din; k++) s += x[i * din + k] * W[k * dout + c];
            y[i * dout + c] = s;
        }
    *off += (long)din * dout + dout;
}

static void naive_layernorm(int n, int d, double *x, const double *p, long *off) {
    const double *g = p + *off, *c = g + d;
    for (int i = 0; i < n; i++) {
        double mean = 0, var = 0;
        for (int k = 0; k < d; k++) mean += x[i * d + k] / d;
        for (int k = 0; k < d; k++) var += (x[i * d + k] - mean) * (x[i * d + k] - mean) / d;
        for (int k = 0; k < d; k++) x[i * d + k] = g[k] * (x[i * d + k] - mean) / sqrt(var + 1e-5) + c[k];
    }
    *off += 2 * d;
}

/* Scores by the formulas of docs/aggregator.md, from the parameter layout. */
static void naive_network(const PrillmAggregatorShape *sh, const double *p, int n, const double *x, double *ss,
                          double *sa) {
    int d = sh->width, h = sh->heads, dh = d / h;
    long off = 0;
    double *cur = calloc((size_t)n * d, 8), *q = calloc((size_t)n * d, 8), *k = calloc((size_t)n * d, 8);
    double *v = calloc((size_t)n * d, 8), *o = calloc((size_t)n * d, 8), *u = calloc((size_t)n * d, 8);
    double *w = calloc((size_t)n, 8), z[2 * 64];
    naive_linear(n, PRILLM_AGGREGATOR_FEATURES, d, x, p, &off, cur);
    for (int b = 0; b < sh->blocks; b++) {
        naive_linear(n, d, d, cur, p, &off, q);
        naive_linear(n, d, d, cur, p, &off, k);
        naive_linear(n, d, d, cur, p, &off, v);
        for (int head = 0; head < h; head++)
            for (int i = 0; i < n; i++) {
                double top = -INFINITY, sum = 0;
                for (int l = 0; l < n; l++) {
                    double dotp = 0;
                    for (int c = head * dh; c < (head + 1) * dh; c++) dotp += q[i * d + c] * k[l * d + c];
                    w[l] = dotp / sqrt((double)dh);
                    top = fmax(top, w[l]);
                }
                for (int l = 0; l < n; l++) sum += (w[l] = exp(w[l] - top));
                for (int c = head * dh; c < (head + 1) * dh; c++) {
                    double acc = 0;
                    for (int l = 0; l < n; l++) acc += w[l] / sum * v[l * d + c];
                    o[i * d + c] = q[i * d + c] + acc; /* residual on the projected query */
                }
            }
        if (sh->layer_norm) naive_layernorm(n, d, o, p, &off);
        naive_linear(n, d, d, o, p, &off, u);
        for (int e = 0; e < n * d; e++) cur[e] = o[e] + fmax(u[e], 0.0);
        if (sh->layer_norm) naive_layernorm(n, d, cur, p, &off);
    }
    for (int i = 0; i < n; i++) {
        naive_linear(1, d, 2, cur + i * d, p, &(long){off}, z);
        ss[i] = 1 / (1 + exp(-z[0]));
        sa[i] = log(1 + exp(z[1])) + 1e-6;
    }
    free(cur), free(q), free(k), free(v), free(o), free(u), free(w);
}

static void test_network_matches_documented_formulas(void **state) {
    (void)state;
    TestRng rng = {18};
    static const PrillmAggregatorShape shapes[] = {{8, 2, 2, 1, 1}, {6, 3, 1, 0, 2}, {4, 4, 3, 1, 3}, {8, 1, 0, 1, 4}};
    for (int s = 0; s < 4; s++)
        for (int n = 1; n <= 9; n += 4) {
            PrillmError err;
            PrillmAggregator *model = prillm_aggregator_new(&shapes[s], &err);
            double *p = prillm_aggregator_parameters(model);
            for (int k = 0; k < prillm_aggregator_parameter_count(model); k++) p[k] += 0.2 * (2 * test_uniform(&rng) - 1);
            double *x = random_vector(&rng, (size_t)n * PRILLM_AGGREGATOR_FEATURES, 2);
            double ss[9], sa[9], rs[9], ra[9];
            PrillmSetWorkspace ws;
            assert_int_equal(prillm__set_workspace_init(&ws, model, n), 0);
            prillm__set_forward(model, &ws, n, x, ss, sa);
            naive_network(&shapes[s], p, n, x, rs, ra);
            for (int i = 0; i < n; i++) {
                assert_true(fabs(ss[i] - rs[i]) <= 1e-12);
                assert_true(fabs(sa[i] - ra[i]) <= 1e-12 * (1 + ra[i]));
            }
            prillm__set_workspace_free(&ws);
            prillm_aggregator_free(model);
            free(x);
        }
}

/* Same seed, same weights; another seed, other weights; bad shapes refused. */
static void test_seeded_init_and_shapes(void **state) {
    (void)state;
    PrillmAggregatorShape shape;
    prillm_aggregator_default_shape(&shape);
    PrillmError err;
    PrillmAggregator *a = prillm_aggregator_new(&shape, &err), *b = prillm_aggregator_new(&shape, &err);
    shape.seed = 2;
    PrillmAggregator *c = prillm_aggregator_new(&shape, &err);
    assert_non_null(a), assert_non_null(b), assert_non_null(c);
    int np = prillm_aggregator_parameter_count(a);
    assert_memory_equal(prillm_aggregator_parameters(a), prillm_aggregator_parameters(b), sizeof(double) * np);
    assert_memory_not_equal(prillm_aggregator_parameters(a), prillm_aggregator_parameters(c), sizeof(double) * np);
    /* d_in*d + d + blocks*(4 d^2 + 4 d + 4 d) + 2 d + 2 with LayerNorm */
    int d = 32;
    assert_int_equal(np, 9 * d + d + 2 * (4 * d * d + 4 * d + 4 * d) + 2 * d + 2);
    prillm_aggregator_free(a), prillm_aggregator_free(b), prillm_aggregator_free(c);
    static const PrillmAggregatorShape bad[] = {{0, 1, 1, 1, 0}, {6, 4, 1, 1, 0}, {4, 2, 9, 1, 0}, {4, 2, 1, 2, 0}};
    for (int k = 0; k < 4; k++) {
        assert_null(prillm_aggregator_new(&bad[k], &err));
        assert_int_equal(err.code, PRILLM_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "shape."));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_gradient),          cmocka_unit_test(test_attention_gradient),
        cmocka_unit_test(test_attention_single_element), cmocka_unit_test(test_layernorm_gradient),
        cmocka_unit_test(test_rff_gradient),             cmocka_unit_test(test_heads_gradient_and_range),
        cmocka_unit_test(test_network_gradient),         cmocka_unit_test(test_permutation_equivariance),
        cmocka_unit_test(test_seeded_init_and_shapes),   cmocka_unit_test(test_network_matches_documented_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
