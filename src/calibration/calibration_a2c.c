/*
 * A2C baseline (solvers.md section 8, a RECONSTRUCTION: the paper's A2C
 * source is not identified). An agent moves theta by actions and is
 * rewarded by the decrease of the calibration loss:
 *   state   [theta / scale, per-provider relative flow errors (clipped to
 *           +-5), L / L_0]
 *   action  a ~ N(mu(s), diag(sigma^2)); theta += 0.05 scale tanh(a)
 *   reward  (L(theta_t) - L(theta_t+1)) / L_0
 * Episodes of 50 steps restart at the initial theta; every 5 steps one
 * synchronous update: returns bootstrapped by the critic (gamma 0.99),
 * loss -log pi * A + 0.5 (R - V)^2 - 0.01 entropy, global gradient norm
 * clipped to 0.5, RMSprop (lr 7e-4, alpha 0.99, eps 1e-5): the OpenAI
 * baselines defaults. Actor and critic are separate 2 x 64 tanh MLPs.
 * The best theta seen anywhere is returned. Expected to do poorly (the
 * paper reports that A2C fails to calibrate); that is the baseline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibration_internal.h"
#include "random.h"

#define HIDDEN 64
#define N_STEPS 5
#define HORIZON 50
#define GAMMA 0.99
#define LR 7e-4
#define ENT_COEF 0.01
#define VF_COEF 0.5
#define MAX_GRAD_NORM 0.5
#define STEP_SIZE 0.05

typedef struct {
    int in, out;
    size_t size;      /* parameters: W1 b1 W2 b2 W3 b3 */
    double *w, *g, *ms;
} Mlp;

typedef struct {
    double h1[HIDDEN], h2[HIDDEN];
} MlpTrace;

static int mlp_init(Mlp *net, int in, int out, PrillmRng *rng) {
    net->in = in;
    net->out = out;
    net->size = (size_t)HIDDEN * in + HIDDEN + (size_t)HIDDEN * HIDDEN + HIDDEN + (size_t)out * HIDDEN + out;
    net->w = calloc(net->size, sizeof(double));
    net->g = calloc(net->size, sizeof(double));
    net->ms = calloc(net->size, sizeof(double));
    if (!net->w || !net->g || !net->ms) return -1;
    double *w = net->w;
    /* scaled normal initialisation; the output layer small so early
     * actions and values stay near zero */
    for (int layer = 0; layer < 3; layer++) {
        int fan_in = layer == 0 ? in : HIDDEN, fan_out = layer == 2 ? out : HIDDEN;
        double s = (layer == 2 ? 0.01 : 1.0) / sqrt((double)fan_in);
        for (int k = 0; k < fan_in * fan_out; k++) *w++ = s * prillm__rng_normal(rng);
        w += fan_out; /* biases 0 */
    }
    return 0;
}

static void mlp_free(Mlp *net) {
    free(net->w), free(net->g), free(net->ms);
}

static void mlp_forward(const Mlp *net, const double *x, double *y, MlpTrace *tr) {
    const double *w = net->w;
    const double *W1 = w, *b1 = W1 + (size_t)HIDDEN * net->in, *W2 = b1 + HIDDEN, *b2 = W2 + HIDDEN * HIDDEN;
    const double *W3 = b2 + HIDDEN, *b3 = W3 + (size_t)net->out * HIDDEN;
    for (int h = 0; h < HIDDEN; h++) {
        double s = b1[h];
        for (int k = 0; k < net->in; k++) s += W1[(size_t)h * net->in + k] * x[k];
        tr->h1[h] = tanh(s);
    }
    for (int h = 0; h < HIDDEN; h++) {
        double s = b2[h];
        for (int k = 0; k < HIDDEN; k++) s += W2[h * HIDDEN + k] * tr->h1[k];
        tr->h2[h] = tanh(s);
    }
    for (int o = 0; o < net->out; o++) {
        double s = b3[o];
        for (int k = 0; k < HIDDEN; k++) s += W3[(size_t)o * HIDDEN + k] * tr->h2[k];
        y[o] = s;
    }
}

/* accumulate d(loss)/d(params) given d(loss)/d(output) */
static void mlp_backward(Mlp *net, const double *x, const MlpTrace *tr, const double *dy) {
    const double *W2 = net->w + (size_t)HIDDEN * net->in + HIDDEN, *W3 = W2 + HIDDEN * HIDDEN + HIDDEN;
    double *gW1 = net->g, *gb1 = gW1 + (size_t)HIDDEN * net->in, *gW2 = gb1 + HIDDEN, *gb2 = gW2 + HIDDEN * HIDDEN;
    double *gW3 = gb2 + HIDDEN, *gb3 = gW3 + (size_t)net->out * HIDDEN;
    double d2[HIDDEN] = {0}, d1[HIDDEN] = {0};
    for (int o = 0; o < net->out; o++) {
        gb3[o] += dy[o];
        for (int k = 0; k < HIDDEN; k++) {
            gW3[(size_t)o * HIDDEN + k] += dy[o] * tr->h2[k];
            d2[k] += dy[o] * W3[(size_t)o * HIDDEN + k];
        }
    }
    for (int h = 0; h < HIDDEN; h++) {
        double dz = d2[h] * (1 - tr->h2[h] * tr->h2[h]);
        gb2[h] += dz;
        for (int k = 0; k < HIDDEN; k++) {
            gW2[h * HIDDEN + k] += dz * tr->h1[k];
            d1[k] += dz * W2[h * HIDDEN + k];
        }
    }
    for (int h = 0; h < HIDDEN; h++) {
        double dz = d1[h] * (1 - tr->h1[h] * tr->h1[h]);
        gb1[h] += dz;
        for (int k = 0; k < net->in; k++) gW1[(size_t)h * net->in + k] += dz * x[k];
    }
}

static void rmsprop(double *w, double *g, double *ms, size_t count, double clip) {
    for (size_t k = 0; k < count; k++) {
        double gk = g[k] * clip;
        ms[k] = 0.99 * ms[k] + 0.01 * gk * gk;
        w[k] -= LR * gk / (sqrt(ms[k]) + 1e-5);
        g[k] = 0;
    }
}

typedef struct {
    PrillmCalProblem *pb;
    const double *scale;
    double *pred, *observed_load, loss0;
    int state_dim;
} Env;

/* state of theta; returns the loss (NaN if the equilibrium failed) */
static double observe(Env *env, const double *theta, double *state) {
    PrillmCalProblem *pb = env->pb;
    int dim = pb->dim, m = pb->m, n = pb->n;
    size_t nm = (size_t)n * m;
    double loss = prillm__cal_loss(pb, theta, NULL, env->pred);
    for (int k = 0; k < dim; k++) state[k] = theta[k] / env->scale[k];
    for (int j = 0; j < m; j++) {
        double predicted = 0;
        for (int t = 0; t < pb->T; t++)
            for (int i = 0; i < n; i++)
                if (prillm__cal_is_train(pb, t, (size_t)i * m + j)) predicted += env->pred[(size_t)t * nm + (size_t)i * m + j];
        double obs = env->observed_load[j];
        double e = obs > 0 ? (predicted - obs) / obs : 0;
        state[dim + j] = isfinite(e) ? fmax(-5, fmin(5, e)) : 5;
    }
    state[dim + m] = isfinite(loss) ? fmin(loss / env->loss0, 10) : 10;
    return loss;
}

double prillm__cal_a2c(PrillmCalProblem *pb, double *theta, const double *scale, const unsigned char *free_mask,
                       int updates, unsigned long long seed, int *iterations) {
    int dim = pb->dim, m = pb->m;
    int S = dim + m + 1;
    PrillmRng rng = {seed * 0x9e3779b97f4a7c15ULL + 2};
    Mlp actor, critic;
    memset(&actor, 0, sizeof actor);
    memset(&critic, 0, sizeof critic);
    Env env = {pb, scale, NULL, NULL, 1.0, S};
    size_t total = (size_t)pb->T * pb->n * m;
    double *log_sigma = calloc((size_t)dim, sizeof(double)), *g_sigma = calloc((size_t)dim, sizeof(double));
    double *ms_sigma = calloc((size_t)dim, sizeof(double));
    double *start = malloc((size_t)dim * sizeof(double)), *best = malloc((size_t)dim * sizeof(double));
    double *x = malloc((size_t)dim * sizeof(double));
    double *states = calloc((size_t)(N_STEPS + 1) * S, sizeof(double)), *actions = calloc((size_t)N_STEPS * dim, sizeof(double));
    double *mu = calloc((size_t)dim, sizeof(double)), *dmu = calloc((size_t)dim, sizeof(double));
    double rewards[N_STEPS], values[N_STEPS + 1], returns[N_STEPS];
    int done_flags[N_STEPS];
    env.pred = calloc(total, sizeof(double));
    env.observed_load = calloc((size_t)m, sizeof(double));
    double best_loss = NAN;
    *iterations = 0;
    if (!log_sigma || !g_sigma || !ms_sigma || !start || !best || !x || !states || !actions || !mu || !dmu ||
        !env.pred || !env.observed_load || mlp_init(&actor, S, dim, &rng) || mlp_init(&critic, S, 1, &rng))
        goto done;
    for (int t = 0; t < pb->T; t++)
        for (size_t k = 0; k < (size_t)pb->n * m; k++)
            if (prillm__cal_is_train(pb, t, k)) env.observed_load[k % (size_t)m] += pb->obs->periods[t].observed[k];
    memcpy(start, theta, (size_t)dim * sizeof(double));
    memcpy(best, theta, (size_t)dim * sizeof(double));
    memcpy(x, theta, (size_t)dim * sizeof(double));
    double loss = prillm__cal_loss(pb, x, NULL, NULL);
    if (!isfinite(loss)) goto done;
    env.loss0 = loss > 0 ? loss : 1.0;
    best_loss = loss;
    loss = observe(&env, x, states);
    int step_in_episode = 0;
    for (int u = 0; u < updates; u++) {
        *iterations = u + 1;
        int steps = 0;
        for (; steps < N_STEPS; steps++) {
            double *s = states + (size_t)steps * S, *a = actions + (size_t)steps * dim;
            MlpTrace tr;
            mlp_forward(&actor, s, mu, &tr);
            for (int k = 0; k < dim; k++) {
                a[k] = mu[k] + exp(log_sigma[k]) * prillm__rng_normal(&rng);
                if (free_mask && !free_mask[k]) continue;
                x[k] += STEP_SIZE * scale[k] * tanh(a[k]);
            }
            if (x[PRILLM__THETA_DELAY] < 0) x[PRILLM__THETA_DELAY] = 0;
            x[PRILLM__THETA_LOGQ] = fmax(-50, fmin(50, x[PRILLM__THETA_LOGQ]));
            double next = observe(&env, x, states + (size_t)(steps + 1) * S);
            double reward = isfinite(next) ? (loss - next) / env.loss0 : -1.0;
            if (isfinite(next) && next < best_loss) {
                best_loss = next;
                memcpy(best, x, (size_t)dim * sizeof(double));
            }
            rewards[steps] = fmax(-10, fmin(10, reward));
            step_in_episode++;
            done_flags[steps] = step_in_episode >= HORIZON || !isfinite(next);
            loss = next;
            if (done_flags[steps]) {
                /* episode over: restart at the initial theta */
                memcpy(x, start, (size_t)dim * sizeof(double));
                step_in_episode = 0;
                loss = observe(&env, x, states + (size_t)(steps + 1) * S);
                steps++;
                break;
            }
        }
        /* critic values and bootstrapped returns */
        for (int q = 0; q <= steps; q++) {
            MlpTrace tr;
            mlp_forward(&critic, states + (size_t)q * S, &values[q], &tr);
        }
        double R = done_flags[steps - 1] ? 0.0 : values[steps];
        for (int q = steps - 1; q >= 0; q--) {
            R = rewards[q] + GAMMA * R * (done_flags[q] ? 0.0 : 1.0);
            returns[q] = R;
        }
        for (int q = 0; q < steps; q++) {
            const double *s = states + (size_t)q * S, *a = actions + (size_t)q * dim;
            double advantage = returns[q] - values[q];
            MlpTrace tr;
            mlp_forward(&actor, s, mu, &tr);
            for (int k = 0; k < dim; k++) {
                double sigma2 = exp(2 * log_sigma[k]), diff = a[k] - mu[k];
                dmu[k] = -(diff / sigma2) * advantage / steps;
                g_sigma[k] += -((diff * diff) / sigma2 - 1) * advantage / steps - ENT_COEF / steps;
                if (free_mask && !free_mask[k]) dmu[k] = 0;
            }
            mlp_backward(&actor, s, &tr, dmu);
            double v, dv;
            MlpTrace tc;
            mlp_forward(&critic, s, &v, &tc);
            dv = VF_COEF * 2 * (v - returns[q]) / steps;
            mlp_backward(&critic, s, &tc, &dv);
        }
        double norm2 = 0;
        for (size_t k = 0; k < actor.size; k++) norm2 += actor.g[k] * actor.g[k];
        for (size_t k = 0; k < critic.size; k++) norm2 += critic.g[k] * critic.g[k];
        for (int k = 0; k < dim; k++) norm2 += g_sigma[k] * g_sigma[k];
        double clip = norm2 > MAX_GRAD_NORM * MAX_GRAD_NORM ? MAX_GRAD_NORM / sqrt(norm2) : 1.0;
        if (!isfinite(norm2)) clip = 0;
        rmsprop(actor.w, actor.g, actor.ms, actor.size, clip);
        rmsprop(critic.w, critic.g, critic.ms, critic.size, clip);
        rmsprop(log_sigma, g_sigma, ms_sigma, (size_t)dim, clip);
        for (int k = 0; k < dim; k++) log_sigma[k] = fmax(-5, fmin(2, log_sigma[k]));
        /* the next rollout continues from the last state */
        memcpy(states, states + (size_t)steps * S, (size_t)S * sizeof(double));
    }
    memcpy(theta, best, (size_t)dim * sizeof(double));
done:
    mlp_free(&actor);
    mlp_free(&critic);
    free(log_sigma), free(g_sigma), free(ms_sigma), free(start), free(best), free(x), free(states), free(actions);
    free(mu), free(dmu), free(env.pred), free(env.observed_load);
    return best_loss;
}
