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

static void delegate_help(FILE *out) {
    int count;
    const PrillmOptionInfo *opts = prillm_delegation_options(&count);
    fputs("Usage: prillm delegate FILE.json [options]\n\n"
          "Simulate the four-phase delegation mechanism of \"Pay for the Second-Best Service\":\n"
          "T queries go to K providers (exploration, exploitation with early stop, two\n"
          "blind-trust phases); each provider follows its strategy. Prints per-provider\n"
          "outcomes per phase, payments, who was stopped early, and the user's utility\n"
          "against the second-best benchmark T u2*. FILE \"-\" reads standard input.\n\n"
          "Strategies: ours, honest, dishonest-model, dishonest-length, dishonest-all, second-best.\n\n"
          "Options (override the file's values):\n"
          "  --strategies S1,S2,...\n"
          "      one strategy per provider, in file order\n",
          out);
    prillm_cli_print_options(out, opts, count);
    fputs("  --json\n      print JSON (the default and only format)\n", out);
    prillm_cli_print_verbosity_help(out, NULL);
    fputs("  -h, --help\n      this text\n\n", out);
    fputs(prillm_cli_exit_code_help, out);
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
    int *flag_at = calloc((size_t)argc + 1, sizeof *flag_at), n_flags = 0;
    if (!flag_at) {
        fprintf(stderr, "prillm: error: out of memory\n");
        return EXIT_INTERNAL;
    }
    int code = EXIT_SOLVED;
    for (int k = 1; k < argc && code == EXIT_SOLVED; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            delegate_help(stdout);
            free(flag_at);
            return EXIT_SOLVED;
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
    if (code != EXIT_SOLVED) {
        free(flag_at);
        return code;
    }

    DelegationInput input = {&settings, NULL};
    if ((code = prillm_cli_load_file(path, read_delegation, &input)) != EXIT_SOLVED) {
        free(flag_at);
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
        return code;
    }
    /* the reward orders each provider's models, so a --reward flag re-sorts */
    PrillmDelegationResult *result = NULL;
    rc = prillm_delegation_game_prepare(game, &settings, &err);
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
    if (rc || fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "prillm: error: writing the result failed\n");
        return EXIT_INTERNAL;
    }
    return code;
}
