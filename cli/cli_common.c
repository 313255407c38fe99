#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const prillm_cli_exit_code_help =
    "Exit codes:\n"
    "  0  success (status \"solved\")\n"
    "  1  internal error (out of memory, or the output could not be written)\n"
    "  2  usage error (unknown command or flag, bad flag value)\n"
    "  3  bad input (file unreadable, malformed JSON, invalid market)\n"
    "  4  the solver stopped at status \"inaccurate\" (output still printed)\n"
    "  5  the solver failed (outputs are null)\n";

int prillm_cli_exit_for_error(PrillmErrorCode code) {
    switch (code) {
    case PRILLM_OK: return EXIT_SOLVED;
    case PRILLM_ERR_NO_MEMORY: return EXIT_INTERNAL;
    case PRILLM_ERR_INVALID_ARGUMENT: return EXIT_USAGE;
    case PRILLM_ERR_SOLVER:
    case PRILLM_ERR_TOO_LARGE:
    case PRILLM_ERR_UNAVAILABLE: return EXIT_FAILED;
    default: return EXIT_BAD_INPUT;
    }
}

int prillm_cli_exit_for_status(PrillmStatus status) {
    switch (status) {
    case PRILLM_STATUS_SOLVED: return EXIT_SOLVED;
    case PRILLM_STATUS_INACCURATE: return EXIT_INACCURATE;
    default: return EXIT_FAILED;
    }
}

int prillm_cli_fail(const PrillmError *err) {
    fprintf(stderr, "prillm: error: %s\n", err->message);
    return prillm_cli_exit_for_error(err->code);
}

int prillm_cli_quiet = 0;

void prillm_cli_warn_to_stderr(void *context, const char *message) {
    if (prillm_cli_quiet) return;
    fprintf(stderr, "prillm: warning: %s: %s\n", (const char *)context, message);
}

int prillm_cli_load_file(const char *path, PrillmCliReadFile read, void *context) {
    int from_stdin = strcmp(path, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "prillm: error: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    PrillmError err = {PRILLM_OK, ""};
    const char *name = from_stdin ? "<stdin>" : path;
    PrillmErrorCode rc = read(in, name, context, &err);
    if (!from_stdin) fclose(in);
    if (rc) {
        fprintf(stderr, "prillm: error: %s: %s\n", name, err.message);
        return prillm_cli_exit_for_error(rc);
    }
    return EXIT_SOLVED;
}

/* JSON or the binary form, told apart by the binary form's magic bytes */
static PrillmErrorCode read_market(FILE *in, const char *name, void *market, PrillmError *err) {
    return prillm_market_read(in, prillm_cli_warn_to_stderr, (void *)name, market, err);
}

int prillm_cli_load_market(const char *path, PrillmMarket **market) {
    return prillm_cli_load_file(path, read_market, market);
}

void prillm_cli_print_options(FILE *out, const PrillmOptionInfo *opts, int count) {
    for (int k = 0; k < count; k++) {
        const PrillmOptionInfo *o = &opts[k];
        if (strcmp(o->name, "verbose") == 0) continue;
        char def[64];
        if (o->type == PRILLM_OPTION_CHOICE) {
            prillm_options_choice_name(o->choices, (int)o->default_value, def, sizeof def);
            fprintf(out, "  --%s %s\n      %s (default %s)\n", o->name, o->choices, o->help, def);
        } else {
            fprintf(out, "  --%s %s\n      %s (default %.10g, range %.10g..%.10g)\n", o->name,
                    o->type == PRILLM_OPTION_INT ? "N" : "X", o->help, o->default_value, o->min_value, o->max_value);
        }
    }
}

int prillm_cli_take_option(int argc, char **argv, int *k, const PrillmOptionInfo *opts, int count,
                           PrillmCliSetOption set, void *settings) {
    const char *arg = argv[*k];
    if (strncmp(arg, "--", 2) != 0) return 0;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int o = 0; o < count; o++) {
        if (strlen(opts[o].name) != len || strncmp(opts[o].name, name, len) != 0) continue;
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (*k + 1 >= argc) {
                fprintf(stderr, "prillm: error: --%s needs a value\n", opts[o].name);
                return -1;
            }
            value = argv[++*k];
        }
        PrillmError err;
        if (set(settings, opts[o].name, value, &err)) {
            fprintf(stderr, "prillm: error: %s\n", err.message);
            return -1;
        }
        return 1;
    }
    return 0;
}

int prillm_cli_flag_value(int argc, char **argv, int *k, const char *flag, const char **value) {
    const char *arg = argv[*k];
    size_t len = strlen(flag);
    if (strncmp(arg, flag, len) != 0) return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0') return 0;
    if (*k + 1 >= argc) {
        fprintf(stderr, "prillm: error: %s needs a value\n", flag);
        return -1;
    }
    *value = argv[++*k];
    return 1;
}

int prillm_cli_positional(const char *arg, const char *command, const char *noun, const char **path) {
    if (arg[0] == '-' && arg[1] != '\0') {
        fprintf(stderr, "prillm: error: unknown option %s (see prillm %s --help)\n", arg, command);
        return EXIT_USAGE;
    }
    if (*path) {
        fprintf(stderr, "prillm: error: one %s only (got %s and %s)\n", noun, *path, arg);
        return EXIT_USAGE;
    }
    *path = arg;
    return 0;
}

int prillm_cli_format_flag(const char *arg, const char **chosen) {
    if (*chosen && strcmp(*chosen, arg) != 0) {
        fprintf(stderr, "prillm: error: %s and %s choose different outputs: give one of them\n", *chosen, arg);
        return EXIT_USAGE;
    }
    *chosen = arg;
    return 0;
}

int prillm_cli_require_path(const char *path, const char *command, const char *placeholder) {
    if (path) return 0;
    fprintf(stderr, "prillm: error: missing %s (see prillm %s --help)\n", placeholder, command);
    return EXIT_USAGE;
}

int prillm_cli_verbosity_flag(int argc, char **argv, int *k, long *verbose) {
    static int verbose_given = 0;
    const char *arg = argv[*k];
    if (strcmp(arg, "--quiet") == 0) {
        if (verbose_given && *verbose > 0) {
            fprintf(stderr, "prillm: error: --quiet and --verbose %ld contradict each other: give one of them\n", *verbose);
            return -1;
        }
        prillm_cli_quiet = 1;
        return 1;
    }
    const char *value = NULL;
    if (strncmp(arg, "--verbose=", 10) == 0) value = arg + 10;
    else if (strcmp(arg, "--verbose") != 0) return 0;
    else if (*k + 1 < argc && argv[*k + 1][0] && strspn(argv[*k + 1], "0123456789") == strlen(argv[*k + 1]))
        value = argv[++*k];
    long level = 1;
    if (value && prillm_cli_parse_int(value, "--verbose", 0, 2, &level)) return -1;
    if (prillm_cli_quiet && level > 0) {
        fprintf(stderr, "prillm: error: --quiet and --verbose %ld contradict each other: give one of them\n", level);
        return -1;
    }
    *verbose = level;
    verbose_given = 1;
    return 1;
}

int prillm_cli_data_flag(int argc, char **argv, int *k, PrillmCliDataFlags *flags) {
    const char *arg = argv[*k];
    if (strcmp(arg, "--table") == 0 || strcmp(arg, "--json") == 0) {
        if (prillm_cli_format_flag(arg, &flags->format)) return -1;
        flags->table = strcmp(arg, "--table") == 0;
        return 1;
    }
    int got;
    if ((got = prillm_cli_verbosity_flag(argc, argv, k, &flags->verbose))) return got;
    if ((got = prillm_cli_flag_value(argc, argv, k, "--report", &flags->report))) return got;
    if ((got = prillm_cli_flag_value(argc, argv, k, "--data", &flags->data))) return got;
    return prillm_cli_flag_value(argc, argv, k, "--out", &flags->out);
}

void prillm_cli_print_verbosity_help(FILE *out, const char *progress) {
    if (progress)
        fprintf(out, "  --verbose [N]\n      progress on stderr: %s (a bare --verbose is 1)\n", progress);
    else
        fputs("  --verbose [N]\n      accepted (N in 0..2) for consistency: this command has no progress to\n"
              "      show, so it changes nothing beyond the warnings, which print anyway\n",
              out);
    fputs("  --quiet\n      no warnings or progress on stderr (errors still print)\n", out);
}

void prillm_cli_warn(const char *fmt, ...) {
    if (prillm_cli_quiet) return;
    va_list args;
    va_start(args, fmt);
    fputs("prillm: warning: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

void prillm_cli_note(const char *fmt, ...) {
    if (prillm_cli_quiet) return;
    va_list args;
    va_start(args, fmt);
    fputs("prillm: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

FILE *prillm_cli_open_output(const char *path, const char *flag) {
    if (strcmp(path, "-") == 0) return stdout;
    FILE *f = fopen(path, "wb");
    if (!f) fprintf(stderr, "prillm: error: %s: cannot write %s: %s\n", flag, path, strerror(errno));
    return f;
}

const char *prillm_cli_cell(const char *id, char buf[PRILLM_CLI_CELL]) {
    const unsigned char *c = (const unsigned char *)id;
    while (*c && *c >= 0x20 && *c != 0x7f) c++;
    if (!*c) return id;
    size_t used = 0;
    for (c = (const unsigned char *)id; *c && used + 5 < PRILLM_CLI_CELL; c++) {
        if (*c >= 0x20 && *c != 0x7f) buf[used++] = (char)*c;
        else if (*c == '\n' || *c == '\t' || *c == '\r') {
            buf[used++] = '\\';
            buf[used++] = *c == '\n' ? 'n' : *c == '\t' ? 't' : 'r';
        } else {
            used += (size_t)snprintf(buf + used, PRILLM_CLI_CELL - used, "\\x%02x", *c);
        }
    }
    buf[used] = '\0';
    return buf;
}

/* Whether a failed write was reported: standard output's once, however
 * many places find it, and any output's so that the process exits
 * EXIT_INTERNAL whatever the command returned. The command line's own
 * state (the library keeps none). */
static int stdout_failure_reported, output_failure_seen;

static void report_output_failure(const char *name, int errnum) {
    if (errnum) fprintf(stderr, "prillm: error: writing %s failed: %s\n", name, strerror(errnum));
    else fprintf(stderr, "prillm: error: writing %s failed\n", name);
}

int prillm_cli_close_output(FILE *f, const char *path) {
    int to_stdout = f == stdout, bad, errnum = 0;
    errno = 0;
    if (to_stdout) {
        bad = fflush(f) != 0;
        errnum = bad ? errno : 0;
        bad |= ferror(f) != 0;
    } else {
        int failed_before = ferror(f) != 0;
        int close_failed = fclose(f) != 0;
        errnum = close_failed ? errno : 0;
        bad = failed_before | close_failed;
    }
    if (!bad) return 0;
    output_failure_seen = 1;
    if (to_stdout) {
        if (!stdout_failure_reported) report_output_failure("standard output", errnum);
        stdout_failure_reported = 1;
    } else {
        report_output_failure(path, errnum); /* "-" is standard output, handled above */
    }
    return -1;
}

int prillm_cli_writer_failed(FILE *out, const PrillmError *err) {
    if (!ferror(out)) return prillm_cli_fail(err);
    output_failure_seen = 1;
    return EXIT_INTERNAL;
}

int prillm_cli_finish(int code) {
    if (prillm_cli_close_output(stdout, "-") != 0 || output_failure_seen) return EXIT_INTERNAL;
    return code;
}

int prillm_cli_both_stdout(const char *first, const char *second, const char *hint) {
    fprintf(stderr, "prillm: error: %s and %s both go to stdout: %s\n", first, second, hint);
    return EXIT_USAGE;
}

int prillm_cli_parse_int(const char *text, const char *flag, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || end == text || v < lo || v > hi) {
        fprintf(stderr, "prillm: error: %s needs an integer in %ld..%ld, got \"%s\"\n", flag, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int prillm_cli_parse_double(const char *text, const char *flag, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || !end || *end || end == text || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "prillm: error: %s needs a number in %g..%g, got \"%s\"\n", flag, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

void prillm_cli_print_numbers(FILE *out, const double *x, int count) {
    fputc('[', out);
    for (int k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_number(out, x[k]);
    }
    fputc(']', out);
}

void prillm_cli_print_strings(FILE *out, char *const *ids, int count) {
    fputc('[', out);
    for (int k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        prillm__json_string(out, ids[k]);
    }
    fputc(']', out);
}

int prillm_cli_pin_blas_threads(void) {
    long threads = 1;
    const char *env = getenv("PRILLM_BLAS_THREADS");
    if (env && *env &&
        prillm_cli_parse_int(env, "PRILLM_BLAS_THREADS (environment)", 1, 1024, &threads) != 0)
        return EXIT_USAGE;
    prillm_set_blas_threads((int)threads);
    if (threads == 1) prillm_cli_stop_blas_workers();
    return 0;
}

void prillm_cli_stop_blas_workers(void) {
    void *self = dlopen(NULL, RTLD_LAZY);
    if (!self) return;
    /* OpenBLAS's own (its fork handler's) stop of its workers; absent from
     * its serial and other BLAS builds, where there is nothing to stop (its
     * OpenMP build has it too, and there only frees buffers). A BLAS call
     * that needs threads starts them again, and so does any later
     * openblas_set_num_threads, even with 1 (OpenBLAS 0.3.21): the pin
     * comes before this, and nothing after it sets the count again. */
    void *found = dlsym(self, "blas_thread_shutdown_");
    if (found) {
        int (*stop)(void);
        memcpy(&stop, &found, sizeof stop); /* POSIX: a function's address, as an object pointer */
        stop();
    }
    dlclose(self);
}

void prillm_cli_scenario_description(char *buf, size_t size, const char *market, const char *target_id,
                                     const PrillmScenarioSettings *st) {
    snprintf(buf, size,
             "market=%s target=%s scenarios=%d prices=%d price-span=%.15g price-noise=%.15g capacity-noise=%.15g "
             "value-noise=%.15g delay-noise=%.15g drop-probability=%.15g seed=%d",
             market, target_id ? target_id : "(drawn)", st->scenarios, st->prices, st->price_span, st->price_noise,
             st->capacity_noise, st->value_noise, st->delay_noise, st->drop_probability, st->seed);
}
