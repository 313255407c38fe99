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
    prillm_delegation_game_free(g);
    return 0;
}
