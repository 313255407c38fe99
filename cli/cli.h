/*
 * Shared plumbing of the prillm command line: exit codes, loading a market,
 * flags from the library's option tables, JSON arrays. Each command lives in
 * its own cli/cmd_*.c file and is listed once in PRILLM_CLI_COMMANDS.
 */
#ifndef PRILLM_CLI_H
#define PRILLM_CLI_H

#include <stdio.h>

#include "internal.h"

enum { EXIT_SOLVED = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2, EXIT_BAD_INPUT = 3, EXIT_INACCURATE = 4, EXIT_FAILED = 5 };

extern const char *const prillm_cli_exit_code_help;

/* X(function, "name", "arguments", "one-line summary for prillm --help") */
#define PRILLM_CLI_COMMANDS(X)                                                                            \
    X(cmd_equilibrium, "equilibrium", "MARKET.json", "the apps' equilibrium traffic split at given prices") \
    X(cmd_price, "price", "MARKET.json --target ID", "the target's profit-maximising price")                \
    X(cmd_explain, "explain", "MARKET.json --target ID", "the analyst's report on a price (HTML, Markdown, JSON)") \
    X(cmd_compete, "compete", "MARKET.json", "the leaders' price equilibrium (iterated exact best responses)") \
    X(cmd_serve, "serve", "[--listen HOST:PORT]", "an HTTP/JSON pricing service: markets held warm, re-priced live") \
    X(cmd_calibrate, "calibrate", "--data DIR", "learn the apps' preferences from observed traffic")         \
    X(cmd_fit, "fit", "--data DIR", "the whole market: tastes, price sensitivity, forward validation")      \
    X(cmd_predict, "predict", "CALIBRATED.json --data DIR", "a new period's traffic on a fitted market")   \
    X(cmd_elasticity, "elasticity", "--data DIR", "price sensitivity measured on the OpenRouter data")       \
    X(cmd_validate, "validate", "MARKET.json", "check a market file")                                       \
    X(cmd_generate, "generate", "", "print a seeded random market")                                         \
    X(cmd_convert, "convert", "IN OUT [--to json|binary]", "a market between JSON and the compact binary form") \
    X(cmd_auction, "auction", "FILE.json", "reverse second-price auction for test-time compute")            \
    X(cmd_ttc_market, "ttc-market", "FILE.json", "pay-per-compute market: equilibrium, welfare, PoA")       \
    X(cmd_lmaas, "lmaas", "FILE.json", "LMaaS: robust renting and iterative model pricing")                 \
    X(cmd_delegate, "delegate", "FILE.json", "incentive-compatible delegation simulator")                  \
    X(cmd_train_aggregator, "train-aggregator", "MARKET.json --out MODEL", "train the deep aggregation network")

#define PRILLM_CLI_DECLARE(fn, name, args, summary) int fn(int argc, char **argv);
PRILLM_CLI_COMMANDS(PRILLM_CLI_DECLARE)
#undef PRILLM_CLI_DECLARE

/* prillm price --all / --paid (cli/cmd_price_all.c): every provider, or
 * every one with a price, priced in parallel; format 0 JSON, 1 CSV, 2 table.
 * Returns an exit code. */
int prillm_cli_price_all(const PrillmMarket *market, const PrillmPriceSettings *settings, int paid_only, int threads,
                         int format);
/* The rows prillm price --all prints (cli/price_rows.c), for n results of
 * prillm_price_all on targets (errors[k] says whether res[k] was filled):
 * format 0 JSON, 1 CSV, 2 table; timing 0 writes "seconds": null, so that
 * the output depends only on the market (prillm-sweep --no-timing).
 * Returns the exit code for the rows (solved / inaccurate / failed). */
int prillm_cli_price_rows_print(FILE *out, const PrillmMarket *mk, const int *targets, int n,
                                const PrillmPriceResult *res, const PrillmError *errors, int format, int timing);

/* The shipped data's directory (cli/data_dir.c): $PRILLM_DATA_DIR, else
 * ../share/prillm from the executable when installed, else the source
 * tree's data/. prillm_cli_data_file joins a path relative to it. Both
 * return static buffers. */
const char *prillm_cli_data_dir(void);
const char *prillm_cli_data_file(const char *relative);
#define PRILLM_DEFAULT_MODEL_FILE "aggregator/default_model.json"
/* price and explain: for --method da, read --model FILE (or the shipped
 * model) into *model (NULL for the other methods, where --model is a usage
 * error). Returns an exit code (0 on success; the problem is reported). */
int prillm_cli_price_model(int method, const char *model_path, PrillmAggregator **model);
/* The index of --target ID in the market read from path, or -1 (reported). */
int prillm_cli_target(const PrillmMarket *mk, const char *id, const char *path);

int prillm_cli_exit_for_error(PrillmErrorCode code);
int prillm_cli_exit_for_status(PrillmStatus status);
/* Report err on stderr as "prillm: error: ..." and return its exit code. */
int prillm_cli_fail(const PrillmError *err);
void prillm_cli_warn_to_stderr(void *context, const char *message);
/* Reads one input file: name is what messages call it ("<stdin>" or the
 * path), also the context for prillm_cli_warn_to_stderr. */
typedef PrillmErrorCode (*PrillmCliReadFile)(FILE *in, const char *name, void *context, PrillmError *err);
/* Open path ("-" is standard input) and read it with read; a file that
 * cannot be opened or read is reported on stderr. Returns an exit code (0
 * on success). */
int prillm_cli_load_file(const char *path, PrillmCliReadFile read, void *context);
/* path "-" is standard input. Returns an exit code (0 on success). */
int prillm_cli_load_market(const char *path, PrillmMarket **market);

/* The option table's entries, except "verbose": every command takes --quiet
 * and --verbose [N] itself (prillm_cli_verbosity_flag) and documents them
 * with prillm_cli_print_verbosity_help. */
void prillm_cli_print_options(FILE *out, const PrillmOptionInfo *opts, int count);
/* Sets one option of a settings struct by name; the library's
 * prillm_X_set_option functions have this shape once cast. */
typedef PrillmErrorCode (*PrillmCliSetOption)(void *settings, const char *name, const char *value, PrillmError *err);
/* "--name=value" or "--name value". Returns 1 if argv[*k] names an option of
 * the table (its value consumed and set), 0 if not, -1 on error (reported). */
int prillm_cli_take_option(int argc, char **argv, int *k, const PrillmOptionInfo *opts, int count,
                           PrillmCliSetOption set, void *settings);
/* The value of a flag: "--flag=v" or "--flag v". Returns 1 and sets *value
 * if argv[*k] is that flag, 0 if not, -1 (reported) if the value is missing. */
int prillm_cli_flag_value(int argc, char **argv, int *k, const char *flag, const char **value);

/* The one positional argument of a command (its input file): an unknown
 * flag or a second file is a usage error, reported on stderr. Returns 0, or
 * EXIT_USAGE. noun names the file in the message ("market file"). */
int prillm_cli_positional(const char *arg, const char *command, const char *noun, const char **path);
/* An output-format flag (--csv, --table, --json): they are alternatives, so
 * a second, different one is a usage error (reported; EXIT_USAGE), never a
 * silent last-one-wins. Repeating the same flag is fine. Sets *chosen to
 * arg and returns 0 otherwise. */
int prillm_cli_format_flag(const char *arg, const char **chosen);
/* EXIT_USAGE (reported) when no input file was given, else 0. */
int prillm_cli_require_path(const char *path, const char *command, const char *placeholder);

/* --quiet: no warnings, notes or progress on stderr (errors still print).
 * Set by prillm_cli_verbosity_flag; read by prillm_cli_warn_to_stderr,
 * prillm_cli_warn and prillm_cli_note. */
extern int prillm_cli_quiet;
/* --quiet, --verbose, --verbose N, --verbose=N (N in 0..2; a bare --verbose
 * is 1; the next argument is taken as N only when it is all digits).
 * Returns 1 if argv[*k] was one of them, 0 if not, -1 (reported) on a bad
 * level or --quiet together with --verbose N > 0. */
int prillm_cli_verbosity_flag(int argc, char **argv, int *k, long *verbose);

/* The flags fit and calibrate share: --data DIR, --out FILE, --report FILE,
 * --table / --json (prillm_cli_format_flag; table is 1 after --table) and
 * --quiet / --verbose [N]. Start from all zero. */
typedef struct {
    const char *data, *out, *report, *format;
    int table;
    long verbose;
} PrillmCliDataFlags;
/* Returns 1 if argv[*k] was one of them (taken, with its value), 0 if not,
 * -1 (reported) on a usage error. */
int prillm_cli_data_flag(int argc, char **argv, int *k, PrillmCliDataFlags *flags);
/* The help lines of --verbose and --quiet; progress says what the levels
 * show, or NULL for a command without progress. */
void prillm_cli_print_verbosity_help(FILE *out, const char *progress);
/* "prillm: warning: ..." and "prillm: ..." (progress, what was written) on
 * stderr, unless --quiet. */
void prillm_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void prillm_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open an output file; "-" is standard output. NULL (reported, naming flag)
 * if it cannot be opened. */
FILE *prillm_cli_open_output(const char *path, const char *flag);
/* An id as a --table cell: its control characters (a newline or an escape
 * sequence would break or forge the table's lines) shown as \n, \t, \r or
 * \xNN, in buf; the id itself when it has none. JSON and CSV quote ids
 * instead. */
enum { PRILLM_CLI_CELL = 256 };
const char *prillm_cli_cell(const char *id, char buf[PRILLM_CLI_CELL]);
/* Close what prillm_cli_open_output opened (flush standard output). Returns
 * 0, or -1 (reported, with the system's reason when the flush or close
 * failed) if writing failed; standard output's failure is reported once. */
int prillm_cli_close_output(FILE *f, const char *path);
/* A library writer's error on stream out: when out itself failed (a full
 * disk), EXIT_INTERNAL with nothing said, as prillm_cli_close_output (a
 * file) or prillm_cli_finish (standard output) says it once, with the
 * system's reason; any other error is reported as prillm_cli_fail does. */
int prillm_cli_writer_failed(FILE *out, const PrillmError *err);
/* A command's exit code, made EXIT_INTERNAL (and reported, once) if
 * standard output cannot be flushed or any output failed: every command
 * returns through it, so a full disk or a closed pipe never exits 0. */
int prillm_cli_finish(int code);
/* Two outputs that would both go to standard output: a usage error naming
 * both and how to separate them. Returns EXIT_USAGE. */
int prillm_cli_both_stdout(const char *first, const char *second, const char *hint);

/* What a training-data file says it was built from (train-aggregator
 * --save-data and prillm-sweep training-data write the same text): the base
 * market's path, the target (or "(drawn)") and the scenario settings. */
void prillm_cli_scenario_description(char *buf, size_t size, const char *market, const char *target_id,
                                     const PrillmScenarioSettings *settings);

int prillm_cli_parse_int(const char *text, const char *flag, long lo, long hi, long *out);
int prillm_cli_parse_double(const char *text, const char *flag, double lo, double hi, double *out);
/* OpenBLAS's thread count for the process: PRILLM_BLAS_THREADS, default 1,
 * so that every command prints the same digits whatever OPENBLAS_NUM_THREADS
 * says (prillm_set_blas_threads). 0, or EXIT_USAGE after a message if the
 * variable is not a count. */
int prillm_cli_pin_blas_threads(void);
/* Stops OpenBLAS's worker threads, idle once it runs on one thread: each
 * spins about 0.1 CPU s after the library loads before it sleeps, in every
 * command (a fifth of a 5000 x 500 price call's CPU time), unless
 * OPENBLAS_NUM_THREADS=1 was set before the start. Only a program's own
 * start may call it: it assumes no BLAS call is running. */
void prillm_cli_stop_blas_workers(void);

/* The report of prillm_compete (cmd_compete.c, also for price --owner):
 * format 0 JSON, 1 CSV, 2 table; the exit code for its status (warning on
 * stderr when not a certified equilibrium). */
void prillm_cli_compete_print(FILE *out, const PrillmMarket *mk, const PrillmCompeteResult *r,
                              const PrillmCompeteSettings *set, int format);
int prillm_cli_compete_exit(const PrillmCompeteResult *r);

void prillm_cli_print_numbers(FILE *out, const double *x, int count);
void prillm_cli_print_strings(FILE *out, char *const *ids, int count);

#endif
