/* prillm delegate FILE.json: one run of the incentive-compatible delegation
 * mechanism (docs/delegation.md). Flags override the file's settings. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prillm/delegation.h"

static PrillmErrorCode set_delegation_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_delegation_set_option(settings, name, value, err);
}

typedef struct {
    PrillmDelegationSettings *settings;
    PrillmDelegationGame *game;
} DelegationInput;

static PrillmErrorCode read_delegation(FILE *in, const char *name, void *context, PrillmError *err) {
    DelegationInput *input = context;
    return prillm_delegation_read_json(in, prillm_cli_warn_to_stderr, (void *)name, input->settings, &input->game, err);
}

/* One JSON line per assignment; the final line says whether the mechanism
 * finished and what the user got. */
static void print_assignment(const PrillmDelegationGame *game, const PrillmDelegationAssignment *a) {
    printf("{\"query\": %lld, \"provider\": \"%s\", \"phase\": \"%s\"}\n", a->query, game->providers[a->provider].id,
           prillm_delegation_phase_name(a->phase));
}

static void print_online_summary(const PrillmDelegationGame *game, const PrillmDelegationResult *r, int done) {
    int explored = r->used >= (long long)r->n_providers * r->batch;
    printf("{\"done\": %s, \"used\": %lld, \"unused\": %lld, \"best\": ", done ? "true" : "false", r->used,
           r->horizon - r->used);
    if (explored)
        printf("\"%s\", \"second_utility\": %.17g, \"threshold\": %.17g, \"R\": %lld", game->providers[r->best].id,
               r->second_utility, r->threshold, r->exploit_budget);
    else
        fputs("null", stdout);
    printf(", \"stopped_early\": %s", explored && r->providers[r->best].stopped_early ? "true" : "false");
    printf(", \"user_utility\": %.17g, \"queries\": {", r->user_utility);
    for (int i = 0; i < r->n_providers; i++)
        printf("%s\"%s\": %lld", i ? ", " : "", game->providers[i].id, r->providers[i].total.queries);
    fputs("}}\n", stdout);
}

/* --online: assignments on stdout, observations "PROVIDER REWARD TOKENS BILL"
 * (spaces, tabs or commas) on stdin, one per line; blank lines and lines
 * starting with # are skipped. */
static int run_online(const PrillmDelegationGame *game, const PrillmDelegationSettings *settings, const char *name) {
    PrillmError err = {PRILLM_OK, ""};
    PrillmDelegationSession *session = NULL;
    if (prillm_delegation_session_create(game, settings, &session, &err)) {
        fprintf(stderr, "prillm: error: %s: %s\n", name, err.message);
        return EXIT_BAD_INPUT;
    }
    PrillmDelegationAssignment a;
    char line[4096];
    long line_no = 0;
    int code = EXIT_SOLVED;
    while (code == EXIT_SOLVED && prillm_delegation_session_next(session, &a)) {
        print_assignment(game, &a);
        if (fflush(stdout) != 0) break;
        int observed = 0;
        while (!observed && code == EXIT_SOLVED && fgets(line, sizeof line, stdin)) {
            line_no++;
            if (!strchr(line, '\n') && !feof(stdin)) {
                fprintf(stderr, "prillm: error: <stdin>:%ld: line longer than %zu characters\n", line_no,
                        sizeof line - 2);
                code = EXIT_BAD_INPUT;
                break;
            }
            char *c = line + strspn(line, " \t\r\n,");
            if (*c == '\0' || *c == '#') continue;
            char *field[5] = {NULL};
            int n = 0;
            for (char *tok = strtok(c, " \t\r\n,"); tok && n < 5; tok = strtok(NULL, " \t\r\n,")) field[n++] = tok;
            double v[3] = {0, 0, 0};
            int ok = n == 4;
            for (int k = 0; ok && k < 3; k++) {
                char *end;
                v[k] = strtod(field[k + 1], &end);
                ok = end != field[k + 1] && *end == '\0';
            }
            if (!ok) {
                fprintf(stderr, "prillm: error: <stdin>:%ld: expected \"PROVIDER REWARD TOKENS BILL\" (4 fields)\n",
                        line_no);
                code = EXIT_BAD_INPUT;
                break;
            }
            int provider = -1;
            for (int i = 0; i < game->n_providers; i++)
                if (strcmp(game->providers[i].id, field[0]) == 0) provider = i;
            if (provider < 0) {
                fprintf(stderr, "prillm: error: <stdin>:%ld: no provider \"%s\" in %s\n", line_no, field[0], name);
                code = EXIT_BAD_INPUT;
                break;
            }
            if (prillm_delegation_session_observe(session, provider, v[0], v[1], v[2], &err)) {
                fprintf(stderr, "prillm: error: <stdin>:%ld: %s\n", line_no, err.message);
                code = EXIT_BAD_INPUT;
                break;
            }
            observed = 1;
        }
        if (!observed) break; /* end of input or an error */
    }
    int done = !prillm_delegation_session_next(session, NULL);
    if (code == EXIT_SOLVED) print_online_summary(game, prillm_delegation_session_result(session), done);
    prillm_delegation_session_free(session);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "prillm: error: writing the assignments failed\n");
        return EXIT_INTERNAL;
    }
    return code;
}

static void delegate_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    fputs("Usage: prillm delegate FILE.json [options]\n"
          "       prillm delegate --online FILE.json [options] < observations\n\n"
          "Simulate the four-phase delegation mechanism of \"Pay for the Second-Best Service\":\n"
          "T queries go to K providers (exploration, exploitation with early stop, two\n"
          "blind-trust phases); each provider follows its strategy. Prints per-provider\n"
          "outcomes per phase, payments, who was stopped early, and the user's utility\n"
          "against the second-best benchmark T u2*. FILE \"-\" reads standard input.\n\n"
          "Strategies: ours, honest, dishonest-model, dishonest-length, dishonest-all, second-best.\n\n"
          "--online runs the mechanism on real traffic: it prints the next assignment as a\n"
          "JSON line {\"query\", \"provider\", \"phase\"}, reads what was observed for it from\n"
          "standard input, one line \"PROVIDER REWARD TOKENS BILL\" (spaces or commas; blank\n"
          "lines and # comments skipped), and repeats until the mechanism finishes or the\n"
          "input ends; a last line {\"done\", \"used\", ...} sums up. The file's models set\n"
          "the constants; strategies and plays are ignored. The decisions are those of the\n"
          "simulator fed the same observations.\n\n"
          "Options (override the file's values):\n"
          "  --strategies S1,S2,...\n"
          "      one strategy per provider, in file order\n"
          "  --play ID:GROUP:QUALITY:INFLATION[:WEIGHT]  or  --play ID:exploit:extract[:WEIGHT]\n"
          "      a continuous play for provider ID in GROUP (explore, exploit, trust or\n"
          "      all): run the advertised model at quality/effort QUALITY in [0, 1] and\n"
          "      bill INFLATION >= 1 times its tokens, on a fraction WEIGHT (default 1)\n"
          "      of the group's queries, the menu strategy on the rest; \"extract\" bills\n"
          "      the user down to the announced second-best utility. Repeatable.\n",
          out);
    prillm_cli_print_options(out, opts, count);
    fputs("  --json\n      print JSON (the default and only format)\n", out);
    prillm_cli_print_verbosity_help(out, NULL);
    fputs("  -h, --help\n      this text\n\n", out);
    fputs(prillm_cli_exit_code_help, out);
}

static int parse_fraction(const char *text, double lo, double hi, double *out) {
    char *end;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || !(x >= lo && x <= hi)) return -1;
    *out = x;
    return 0;
}

/* "ID:GROUP:Q:I[:W]" or "ID:exploit:extract[:W]". Returns an exit code. */
static int apply_play(const char *spec, PrillmDelegationGame *game) {
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        fprintf(stderr, "prillm: error: --play %.40s...: too long\n", spec);
        return EXIT_USAGE;
    }
    strcpy(buf, spec);
    char *field[6] = {NULL};
    int n = 0;
    for (char *c = buf; n < 6;) {
        field[n++] = c;
        char *colon = strchr(c, ':');
        if (!colon) break;
        *colon = '\0';
        c = colon + 1;
    }
    int provider = -1, group = -2;
    if (n >= 2) {
        for (int i = 0; i < game->n_providers; i++)
            if (strcmp(game->providers[i].id, field[0]) == 0) provider = i;
        if (strcmp(field[1], "all") == 0) group = -1;
        for (int g = 0; g < PRILLM_PLAY_GROUPS; g++)
            if (strcmp(field[1], prillm_delegation_play_group_name(g)) == 0) group = g;
    }
    PrillmDelegationPlay play = {1.0, 1.0, 1.0, 0};
    int extract = n >= 3 && strcmp(field[2], "extract") == 0;
    int ok = provider >= 0 && group >= -1 && n >= 3;
    if (ok && extract) {
        play.extract = 1;
        ok = group == PRILLM_PLAY_EXPLOIT && n <= 4 && (n < 4 || parse_fraction(field[3], 0, 1, &play.weight) == 0);
    } else if (ok) {
        ok = (n == 4 || n == 5) && parse_fraction(field[2], 0, 1, &play.quality) == 0 &&
             parse_fraction(field[3], 1, 1e6, &play.inflation) == 0 &&
             (n < 5 || parse_fraction(field[4], 0, 1, &play.weight) == 0);
    }
    if (!ok) {
        if (n >= 1 && provider < 0)
            fprintf(stderr, "prillm: error: --play %s: no provider \"%s\" in the file\n", spec, field[0]);
        else
            fprintf(stderr,
                    "prillm: error: --play %s: expected ID:GROUP:QUALITY:INFLATION[:WEIGHT] (GROUP explore, exploit, "
                    "trust or all; QUALITY and WEIGHT in [0, 1], INFLATION in [1, 1e6]) or ID:exploit:extract[:WEIGHT]\n",
                    spec);
        return EXIT_USAGE;
    }
    for (int g = 0; g < PRILLM_PLAY_GROUPS; g++)
        if (group == -1 || group == g) game->providers[provider].play[g] = play;
    return EXIT_SOLVED;
}

/* "ours,honest,..." onto the providers in file order. Returns an exit code. */
static int apply_strategies(const char *list, PrillmDelegationGame *game) {
    const char *c = list;
    for (int i = 0; i < game->n_providers; i++) {
        size_t len = strcspn(c, ",");
        char name[64];
        int s = -1;
        if (len < sizeof name) {
            memcpy(name, c, len);
            name[len] = '\0';
            s = prillm_delegation_strategy_index(name);
        }
        if (s < 0) {
            fprintf(stderr, "prillm: error: --strategies: \"%.*s\" is not a strategy (see prillm delegate --help)\n",
                    (int)len, c);
            return EXIT_USAGE;
        }
        game->providers[i].strategy = s;
        c += len;
        if (i + 1 < game->n_providers) {
            if (*c != ',') {
                fprintf(stderr, "prillm: error: --strategies gives %d strategies for %d providers\n", i + 1,
                        game->n_providers);
                return EXIT_USAGE;
            }
            c++;
        }
    }
    if (*c != '\0') {
        fprintf(stderr, "prillm: error: --strategies gives more strategies than the %d providers\n", game->n_providers);
        return EXIT_USAGE;
    }
    return EXIT_SOLVED;
}

int cmd_delegate(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    PrillmDelegationSettings scratch, settings;
    prillm_delegation_default_settings(&scratch);
    prillm_delegation_default_settings(&settings);
    const char *path = NULL, *strategies = NULL, *format = NULL;
    long verbose = 0;
    int online = 0;
    int *flag_at = calloc((size_t)argc + 1, sizeof *flag_at), n_flags = 0, n_plays = 0;
    const char **plays = calloc((size_t)argc + 1, sizeof *plays);
    if (!flag_at || !plays) {
        free(plays);
        fprintf(stderr, "prillm: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    int code = EXIT_SOLVED;
    for (int k = 1; k < argc && code == EXIT_SOLVED; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            delegate_help(stdout);
            free(flag_at);
            free(plays);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--online") == 0) {
            online = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            if (prillm_cli_format_flag(arg, &format)) code = EXIT_USAGE;
            continue;
        }
        int start = k, got = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        if (got) {
            if (got < 0) code = EXIT_USAGE;
            continue;
        }
        got = prillm_cli_flag_value(argc, argv, &k, "--strategies", &strategies);
        if (got) {
            if (got < 0) code = EXIT_USAGE;
            continue;
        }
        got = prillm_cli_flag_value(argc, argv, &k, "--play", &plays[n_plays]);
        if (got) {
            if (got < 0) code = EXIT_USAGE;
            else n_plays++;
            continue;
        }
        /* validated now, applied after the file so that flags win */
        int took = prillm_cli_take_option(argc, argv, &k, opts, count, set_delegation_option, &scratch);
        if (took < 0) code = EXIT_USAGE;
        else if (took) flag_at[n_flags++] = start;
        else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "prillm: error: unknown option %s (see prillm delegate --help)\n", arg);
            code = EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "prillm: error: one delegation file only (got %s and %s)\n", path, arg);
            code = EXIT_USAGE;
        } else {
            path = arg;
        }
    }
    if (code == EXIT_SOLVED && !path) {
        fprintf(stderr, "prillm: error: missing FILE.json (see prillm delegate --help)\n");
        code = EXIT_USAGE;
    }
    if (code == EXIT_SOLVED && online && strcmp(path, "-") == 0) {
        fprintf(stderr, "prillm: error: --online reads observations on standard input: give the game as a file\n");
        code = EXIT_USAGE;
    }
    if (code != EXIT_SOLVED) {
        free(flag_at);
        free(plays);
        return code;
    }

    DelegationInput input = {&settings, NULL};
    if ((code = prillm_cli_load_file(path, read_delegation, &input)) != EXIT_SOLVED) {
        free(flag_at);
        free(plays);
        return code;
    }
    PrillmDelegationGame *game = input.game;
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    PrillmError err = {PRILLM_OK, ""};
    PrillmErrorCode rc;
    for (int f = 0; f < n_flags; f++) {
        int k = flag_at[f];
        prillm_cli_take_option(argc, argv, &k, opts, count, set_delegation_option, &settings);
    }
    free(flag_at);
    if (strategies && (code = apply_strategies(strategies, game)) != EXIT_SOLVED) {
        prillm_delegation_game_free(game);
        free(plays);
        return code;
    }
    for (int p = 0; p < n_plays; p++)
        if ((code = apply_play(plays[p], game)) != EXIT_SOLVED) {
            prillm_delegation_game_free(game);
            free(plays);
            return code;
        }
    free(plays);
    /* the reward orders each provider's models, so a --reward flag re-sorts */
    PrillmDelegationResult *result = NULL;
    rc = prillm_delegation_game_prepare(game, &settings, &err);
    if (!rc && online) {
        code = run_online(game, &settings, name);
        prillm_delegation_game_free(game);
        return code;
    }
    if (!rc) rc = prillm_delegation_run(game, &settings, &result, &err);
    if (rc) {
        fprintf(stderr, "prillm: error: %s: %s\n", name, err.message);
        prillm_delegation_game_free(game);
        return rc == PRILLM_ERR_INVALID_ARGUMENT ? EXIT_BAD_INPUT : prillm_cli_exit_for_error(rc);
    }
    rc = prillm_delegation_write_json(stdout, game, &settings, result, &err);
    code = rc ? EXIT_INTERNAL : prillm_cli_exit_for_status(result->status);
    prillm_delegation_result_free(result);
    prillm_delegation_game_free(game);
    if (prillm_cli_close_output(stdout, "-") != 0) return EXIT_INTERNAL;
    if (rc) fprintf(stderr, "prillm: error: %s\n", err.message);
    return code;
}
