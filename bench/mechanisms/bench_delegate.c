/* Headline figures of "Pay for the Second-Best Service" on the paper's main
 * configuration (three providers on NLGraph max-flow, T = 1e6, eps = 0.3):
 * all 6^3 strategy profiles, each provider's utility, the user utility it
 * delivers and its delegations averaged over the other two providers' 36
 * strategy combinations, next to the figures computed from the authors'
 * committed results (shared/reference/mechanisms.md section 3.6).
 * --quick runs T = 1e5 for a smoke test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "prillm/delegation.h"

typedef struct {
    const char *id;
    double score, tokens, max_tokens, price;
} Model;

static const Model menu[3][3] = {
    {{"gpt-5-high", 0.99227, 7010.0, 37320, 1.0e-5},
     {"deepseek-r1", 0.53750, 10833.1, 17627, 2.19e-6},
     {"gpt-5-medium", 0.99122, 6635.6, 38058, 1.0e-5}},
    {{"o3-mini", 0.77879, 8354.1, 27132, 4.4e-6},
     {"o1-mini", 0.59218, 3857.7, 11739, 4.4e-6},
     {"deepseek-r1", 0.53750, 10833.1, 17627, 2.19e-6}},
    {{"claude-4-0", 0.57526, 737.5, 1553, 1.5e-5},
     {"o1-mini", 0.59218, 3857.7, 11739, 4.4e-6},
     {"deepseek-r1", 0.53750, 10833.1, 17627, 2.19e-6}},
};

/* [RUN] anchors for T = 1e6 (NaN: not reported). */
typedef struct {
    int provider, strategy;
    double provider_utility, user_utility, delegations;
} Anchor;
static const Anchor anchors[] = {
    {0, PRILLM_DELEGATION_OURS, 170775, 659908, 924352},
    {0, PRILLM_DELEGATION_HONEST, 0, 854905, 924358},
    {0, PRILLM_DELEGATION_DISHONEST_MODEL, 5412, 19477, 46385},
    {0, PRILLM_DELEGATION_DISHONEST_LENGTH, 48112, 102477, 172830},
    {0, PRILLM_DELEGATION_DISHONEST_ALL, 2557, 1260, 7962},
    {0, PRILLM_DELEGATION_SECOND_BEST, 4107, 844328, 923519},
    {1, PRILLM_DELEGATION_OURS, 19813, 95452, 167450},
    {1, PRILLM_DELEGATION_HONEST, 0, 124245, 167450},
    {1, PRILLM_DELEGATION_DISHONEST_LENGTH, 19354, 100280, 167450},
    {2, PRILLM_DELEGATION_OURS, 5436, 17990, 43670},
    {2, PRILLM_DELEGATION_HONEST, 0, 25096, 43670},
};

static PrillmDelegationGame *make_game(const PrillmDelegationSettings *s) {
    PrillmError err;
    int counts[3] = {3, 3, 3};
    PrillmDelegationGame *g = prillm_delegation_game_alloc(3, counts, &err);
    if (!g) return NULL;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "P%d", i + 1);
        g->providers[i].id = prillm__strdup(id);
        for (int j = 0; j < 3; j++) {
            PrillmDelegationModel *m = &g->providers[i].models[j];
            m->id = prillm__strdup(menu[i][j].id);
            m->score = menu[i][j].score;
            m->tokens = menu[i][j].tokens;
            m->max_tokens = menu[i][j].max_tokens;
            m->price = menu[i][j].price;
        }
    }
    if (prillm_delegation_game_prepare(g, s, &err)) {
        fprintf(stderr, "bench_delegate: %s\n", err.message);
        prillm_delegation_game_free(g);
        return NULL;
    }
    return g;
}

static PrillmDelegationResult *run_or_die(const PrillmDelegationGame *g, const PrillmDelegationSettings *s) {
    PrillmDelegationResult *r = NULL;
    PrillmError err;
    if (prillm_delegation_run(g, s, &r, &err)) {
        fprintf(stderr, "bench_delegate: %s\n", err.message);
        exit(1);
    }
    return r;
}

static void set_all(PrillmDelegationGame *g, int a, int b, int c) {
    int chosen[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        g->providers[i].strategy = chosen[i];
        for (int k = 0; k < PRILLM_PLAY_GROUPS; k++) g->providers[i].play[k] = (PrillmDelegationPlay){0, 1, 1, 0};
    }
}

/* The rule of thumb of docs/delegation.md, evaluated: sigma_u measured
 * (extraction play, eps 0.25 for the draws; it does not depend on eps), then
 *   gamma* = sqrt(2) ln(K T) (b + L p) / (4 sigma_u)   (the 4-se margin),
 *   eps*   = 1/3 - ln((delta1 + 3) K u2 / (2 sqrt(2) sigma_u)) / (3 ln T),
 * and the run at (eps*, gamma*). */
static void rule_of_thumb(PrillmDelegationGame *g, const PrillmDelegationSettings *base) {
    PrillmDelegationSettings s = *base;
    s.epsilon = 0.25;
    set_all(g, PRILLM_DELEGATION_OURS, PRILLM_DELEGATION_HONEST, PRILLM_DELEGATION_HONEST);
    g->providers[0].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1, 1, 1, 1};
    PrillmDelegationResult *r = run_or_die(g, &s);
    double u2 = r->second_utility, delta1 = r->delta1, L = r->max_tokens, p = r->price_best, T = s.horizon;
    prillm_delegation_result_free(r);
    double m1 = 0, m2 = 0;
    const int n_sim = 20000;
    for (int q = 0; q < n_sim; q++) {
        double reward, tokens, bill;
        PrillmError err;
        prillm_delegation_simulate_query(g, &s, 0, PRILLM_PHASE_EXPLOIT, 1000000 + q, u2, &reward, &tokens, &bill, &err);
        m1 += (reward - bill) / n_sim;
        m2 += (reward - bill) * (reward - bill) / n_sim;
    }
    double sigma = sqrt(fmax(m2 - m1 * m1, 0)), K = 3;
    double gamma = sqrt(2.0) * log(K * T) * (s.reward + L * p) / (4 * sigma);
    double eps = 1.0 / 3.0 - log((delta1 + 3) * K * u2 / (2 * sqrt(2.0) * sigma)) / (3 * log(T));
    s.epsilon = fmin(fmax(eps, 0.05), 0.45);
    s.gamma = fmax(gamma, 1.0);
    r = run_or_die(g, &s);
    double Tu2 = r->second_best_total, theta = r->threshold, gap = r->second_utility - r->threshold;
    int stops = r->stop_after >= 0;
    prillm_delegation_result_free(r);
    for (int seed = 2; seed <= 10; seed++) {
        PrillmDelegationSettings t = s;
        t.seed = seed;
        r = run_or_die(g, &t);
        stops += r->stop_after >= 0;
        prillm_delegation_result_free(r);
    }
    set_all(g, PRILLM_DELEGATION_OURS, PRILLM_DELEGATION_HONEST, PRILLM_DELEGATION_HONEST);
    r = run_or_die(g, &s);
    double ours = (Tu2 - r->user_utility) / Tu2;
    prillm_delegation_result_free(r);
    double worst = NAN, worst_gain = -INFINITY;
    static const double margins[] = {0.05, 0.2, 0.5};
    for (int m = 0; m < 3; m++) {
        double alpha, beta;
        prillm_delegation_extract_play(&g->providers[0].models[0], theta + margins[m] * gap, s.reward, L, &alpha, &beta);
        g->providers[0].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1, alpha, beta, 0};
        r = run_or_die(g, &s);
        if (!r->providers[0].stopped_early && r->providers[0].total.provider_utility > worst_gain) {
            worst_gain = r->providers[0].total.provider_utility;
            worst = (Tu2 - r->user_utility) / Tu2;
        }
        prillm_delegation_result_free(r);
    }
    printf("\nRule of thumb: sigma_u = %.4f (measured), delta1 = %.3f, u2 = %.4f -> eps* = %.3f, gamma* = %.1f: "
           "shortfall ours %.1f%%, worst fixed play %.1f%%, extraction stopped %d of 10.\n",
           sigma, delta1, u2, s.epsilon, s.gamma, 100 * ours, 100 * worst, stops);
}

/* Choosing eps and gamma: a sweep on the same configuration. Per cell:
 *  - the bound's slack (b + L p)((delta1 + 3) K B + T^(1-eps) ln KT) over T u2*;
 *  - the user's measured shortfall T u2* - user, over T u2*, when P1 plays
 *    "ours" (others honest) and when it plays the worst fixed continuous play
 *    for the user that is not stopped: extraction down to theta plus a
 *    margin of 5%, 20% or 50% of u2 - theta, the margin that gains P1 most;
 *  - how often P1's continuous second-best extraction (expected user utility
 *    exactly u2, the predicted equilibrium play) is stopped by noise, over 10
 *    seeds: the price of too large a gamma;
 *  - R / T, the share of T that exploitation can use;
 *  - the 4-standard-error rule gamma_max = M (b + L p) sqrt(2 B) / (4 sigma_u),
 *    sigma_u the standard deviation of the user's utility per exploitation
 *    query under that extraction, measured on 20000 simulated queries. */
static void sweep(PrillmDelegationGame *g, const PrillmDelegationSettings *base) {
    static const double epsilons[] = {0.15, 0.2, 0.25, 0.3, 1.0 / 3.0};
    static const double gammas[] = {1, 3, 10, 30, 100, 300};
    const int n_eps = (int)(sizeof epsilons / sizeof epsilons[0]), n_gamma = (int)(sizeof gammas / sizeof gammas[0]);
    double t0 = prillm__now();
    printf("\n### Choosing eps and gamma (T = %d; shortfalls and slack as %% of T u2*)\n\n", base->horizon);
    printf("| eps | gamma | B | R / T | u2 - theta | gamma_max (4 se) | bound slack | shortfall, ours | "
           "shortfall, worst fixed play | extraction stopped (of 10) |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int e = 0; e < n_eps; e++)
        for (int k = 0; k < n_gamma; k++) {
            PrillmDelegationSettings s = *base;
            s.epsilon = epsilons[e];
            s.gamma = gammas[k];
            set_all(g, PRILLM_DELEGATION_OURS, PRILLM_DELEGATION_HONEST, PRILLM_DELEGATION_HONEST);
            PrillmDelegationResult *r = run_or_die(g, &s);
            double Tu2 = r->second_best_total;
            double ours = (Tu2 - r->user_utility) / Tu2, slack = r->slack / Tu2, theta = r->threshold;
            double gap = r->second_utility - r->threshold, R = (double)r->exploit_budget / s.horizon;
            double u2 = r->second_utility, allowance = gap * s.gamma; /* M (b + L p) */
            long long B = r->batch;
            double L = r->max_tokens;
            prillm_delegation_result_free(r);
            /* sigma_u of the extraction play, from simulated queries */
            g->providers[0].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1, 1, 1, 1};
            double m1 = 0, m2 = 0;
            const int n_sim = 20000;
            for (int q = 0; q < n_sim; q++) {
                double reward, tokens, bill;
                PrillmError err;
                prillm_delegation_simulate_query(g, &s, 0, PRILLM_PHASE_EXPLOIT, 1000000 + q, u2, &reward, &tokens,
                                                 &bill, &err);
                m1 += (reward - bill) / n_sim;
                m2 += (reward - bill) * (reward - bill) / n_sim;
            }
            double sigma = sqrt(fmax(m2 - m1 * m1, 0)), gamma_max = allowance * sqrt(2.0 * B) / (4 * sigma);
            int stops = 0;
            for (int seed = 1; seed <= 10; seed++) {
                PrillmDelegationSettings t = s;
                t.seed = seed;
                r = run_or_die(g, &t);
                stops += r->stop_after >= 0;
                prillm_delegation_result_free(r);
            }
            /* the worst fixed play that survives the check */
            double worst = NAN, worst_gain = -INFINITY;
            static const double margins[] = {0.05, 0.2, 0.5};
            for (int m = 0; m < 3; m++) {
                double alpha, beta;
                prillm_delegation_extract_play(&g->providers[0].models[0], theta + margins[m] * gap, s.reward, L,
                                               &alpha, &beta);
                g->providers[0].play[PRILLM_PLAY_EXPLOIT] = (PrillmDelegationPlay){1, alpha, beta, 0};
                r = run_or_die(g, &s);
                if (!r->providers[0].stopped_early && r->providers[0].total.provider_utility > worst_gain) {
                    worst_gain = r->providers[0].total.provider_utility;
                    worst = (Tu2 - r->user_utility) / Tu2;
                }
                prillm_delegation_result_free(r);
            }
            printf("| %.3g | %g | %lld | %.3f | %.4f | %.1f | %.1f%% | %.1f%% |", s.epsilon, s.gamma, B, R, gap,
                   gamma_max, 100 * slack, 100 * ours);
            if (isnan(worst)) printf(" (all stopped) |");
            else printf(" %.1f%% |", 100 * worst);
            printf(" %d |\n", stops);
        }
    printf("\nSweep: %d cells, %.1f s.\n", n_eps * n_gamma, prillm__now() - t0);
    rule_of_thumb(g, base);
    set_all(g, PRILLM_DELEGATION_OURS, PRILLM_DELEGATION_HONEST, PRILLM_DELEGATION_HONEST);
}

static void print_number(double x) {
    if (isnan(x)) printf(" — |");
    else printf(" %.0f |", x);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    PrillmDelegationSettings s;
    prillm_delegation_default_settings(&s);
    s.horizon = quick ? 100000 : 1000000;
    s.epsilon = 0.3;
    PrillmDelegationGame *g = make_game(&s);
    if (!g) return 1;
    enum { S = PRILLM_DELEGATION_N_STRATEGIES };
    /* sums[provider][strategy][0 provider utility, 1 user utility, 2 delegations] */
    static double sums[3][S][3];
    double profile_user[S][S][S];
    double seconds = 0, queries = 0, u2_star = NAN, first_R = NAN;
    for (int a = 0; a < S; a++)
        for (int b = 0; b < S; b++)
            for (int c = 0; c < S; c++) {
                g->providers[0].strategy = a;
                g->providers[1].strategy = b;
                g->providers[2].strategy = c;
                PrillmDelegationResult *r = NULL;
                PrillmError err;
                double t0 = prillm__now();
                if (prillm_delegation_run(g, &s, &r, &err)) {
                    fprintf(stderr, "bench_delegate: %s\n", err.message);
                    prillm_delegation_game_free(g);
                    return 1;
                }
                seconds += prillm__now() - t0;
                queries += (double)r->used;
                profile_user[a][b][c] = r->user_utility;
                u2_star = r->second_best_utility;
                if (a == 0 && b == 1 && c == 1) first_R = (double)r->exploit_budget;
                int chosen[3] = {a, b, c};
                for (int i = 0; i < 3; i++) {
                    sums[i][chosen[i]][0] += r->providers[i].total.provider_utility;
                    sums[i][chosen[i]][1] += r->providers[i].total.user_utility;
                    sums[i][chosen[i]][2] += (double)r->providers[i].total.queries;
                }
                prillm_delegation_result_free(r);
            }
    double scale = quick ? 10.0 : 1.0; /* anchors are for T = 1e6 */
    printf("### Delegation: NLGraph max-flow configuration, T = %d, eps = %g, seed %d%s\n\n", s.horizon, s.epsilon,
           s.seed, quick ? " (quick: anchors scaled by T / 1e6)" : "");
    printf("Each row averages the other two providers' 36 strategy combinations (6^3 = 216 runs).\n\n");
    printf("| provider | strategy | provider utility | (paper) | user utility from it | (paper) | delegations | (paper) |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < S; k++) {
            const Anchor *anchor = NULL;
            for (size_t n = 0; n < sizeof anchors / sizeof anchors[0]; n++)
                if (anchors[n].provider == i && anchors[n].strategy == k) anchor = &anchors[n];
            if (i > 0 && !anchor) continue;
            printf("| P%d | %s |", i + 1, prillm_delegation_strategy_name(k));
            for (int f = 0; f < 3; f++) {
                print_number(sums[i][k][f] / (S * S));
                double paper = !anchor ? NAN
                               : f == 0 ? anchor->provider_utility
                               : f == 1 ? anchor->user_utility
                                        : anchor->delegations;
                print_number(paper / scale);
            }
            printf("\n");
        }
    double T = s.horizon;
    printf("\n| profile (P1, P2, P3) | user utility | per query | (paper per query) |\n| --- | ---: | ---: | ---: |\n");
    printf("| ours, honest, honest | %.0f | %.3f | 0.699 |\n", profile_user[0][1][1], profile_user[0][1][1] / T);
    printf("| all honest | %.0f | %.3f | 0.872 |\n", profile_user[1][1][1], profile_user[1][1][1] / T);
    printf("| all dishonest-all | %.0f | %.3f | 0.351 |\n", profile_user[4][4][4], profile_user[4][4][4] / T);
    printf("| second-best benchmark T u2* | %.0f | %.3f | 0.746 |\n", T * u2_star, u2_star);
    printf("\nR (exploitation budget, ours/honest/honest) = %.0f (paper: about 903.6k at T = 1e6).\n", first_R);
    printf("\n| runs | queries simulated | seconds | queries / s |\n| ---: | ---: | ---: | ---: |\n");
    printf("| %d | %.0f | %.2f | %.3g |\n", S * S * S, queries, seconds, queries / seconds);
    sweep(g, &s);
    prillm_delegation_game_free(g);
    return 0;
}
