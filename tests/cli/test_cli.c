/*
 * End-to-end tests of the prillm command: exit codes, what goes to stdout
 * and stderr, and the numbers in the output, checked against the market
 * they came from rather than against the library's own certificate.
 *
 * The command's path comes from PRILLM_CLI and the source tree from
 * PRILLM_SOURCE_DIR (both set by tests/CMakeLists.txt). Each run is a shell
 * script that can use "$PRILLM_CLI" and "$DATA" (tests/data) and runs in a
 * scratch directory; its stdout and stderr are captured to files there.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include <prillm/prillm.h>

#include "support.h"


typedef struct {
    int exit_code;
    char *out;
    char *err;
} Run;

static char *read_whole_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

static char *scratch_file(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_scratch, name);
    char *text = read_whole_file(path);
    if (!text) fail_msg("cannot read %s", path);
    return text;
}

/* The text of tests/data/NAME in the source tree (the caller frees). */
static char *source_data(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/%s", getenv("PRILLM_SOURCE_DIR"), name);
    char *text = read_whole_file(path);
    assert_non_null(text);
    return text;
}

/* Run a shell script in the scratch directory; stdout and stderr of the
 * whole script are captured. */
static Run run(const char *fmt, ...) {
    char script[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(script, sizeof script, fmt, args);
    va_end(args);
    int code = test_shell("%s", script);
    Run r = {code, scratch_file("stdout.txt"), scratch_file("stderr.txt")};
    /* the shell reports a command killed by a signal as 128 + signal */
    if (r.exit_code > 128) fail_msg("prillm died with signal %d: %s\nstderr:\n%s", r.exit_code - 128, script, r.err);
    return r;
}

static void run_free(Run *r) {
    free(r->out);
    free(r->err);
}

static void expect_exit(const Run *r, int code, const char *what) {
    if (r->exit_code != code)
        fail_msg("%s: exit %d, expected %d\nstdout:\n%.2000s\nstderr:\n%.2000s", what, r->exit_code, code, r->out,
                 r->err);
}

static void expect_in(const char *text, const char *needle, const char *where) {
    if (!strstr(text, needle)) fail_msg("%s does not contain \"%s\":\n%.2000s", where, needle, text);
}

static int have_env(const char *name) {
    const char *value = getenv(name);
    return value && value[0];
}

#define REQUIRE_CLI()                                                            \
    do {                                                                         \
        if (!have_env("PRILLM_CLI") || !have_env("PRILLM_SOURCE_DIR")) {         \
            print_message("PRILLM_CLI or PRILLM_SOURCE_DIR not set: skipped\n"); \
            skip();                                                              \
        }                                                                        \
    } while (0)

static int group_setup(void **state) {
    (void)state;
    const char *cli = getenv("PRILLM_CLI"), *src = getenv("PRILLM_SOURCE_DIR");
    if (test_scratch_setup("cli")) return -1;
    if (src && src[0]) {
        char data[1024];
        snprintf(data, sizeof data, "%s/tests/data", src);
        setenv("DATA", data, 1);
    }
    if (cli && cli[0] && access(cli, X_OK) != 0) {
        fprintf(stderr, "PRILLM_CLI=%s is not an executable\n", cli);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    return test_scratch_teardown();
}

/* ---- JSON helpers -------------------------------------------------------- */

static cJSON *parse_json_output(const char *text) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) fail_msg("stdout is not JSON (near \"%.40s\"):\n%.2000s", end ? end : "", text);
    return root;
}

static const cJSON *member(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item) fail_msg("output has no \"%s\"", key);
    return item;
}

static double number_member(const cJSON *object, const char *key) {
    const cJSON *item = member(object, key);
    if (!cJSON_IsNumber(item)) fail_msg("\"%s\" is not a number", key);
    return item->valuedouble;
}

/* An array of count numbers; nulls become NaN, and *nulls counts them. */
static void number_array(const cJSON *array, int count, double *out, int *nulls, const char *what) {
    if (!cJSON_IsArray(array)) fail_msg("%s is not an array", what);
    if (cJSON_GetArraySize(array) != count)
        fail_msg("%s has %d entries, expected %d", what, cJSON_GetArraySize(array), count);
    int k = 0;
    for (const cJSON *x = array->child; x; x = x->next, k++) {
        if (cJSON_IsNumber(x)) {
            out[k] = x->valuedouble;
        } else if (cJSON_IsNull(x) && nulls) {
            out[k] = NAN;
            (*nulls)++;
        } else {
            fail_msg("%s[%d] is not a number", what, k);
        }
    }
}

/* flows: count rows of width numbers each. */
static void number_matrix(const cJSON *rows, int count, int width, double *out, int *nulls) {
    if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) != count)
        fail_msg("flows is not an array of %d rows", count);
    int i = 0;
    for (const cJSON *row = rows->child; row; row = row->next, i++) {
        char what[32];
        snprintf(what, sizeof what, "flows[%d]", i);
        number_array(row, width, out + (size_t)i * width, nulls, what);
    }
}

/* Every number token in JSON text outside strings must be one whole C-locale
 * number followed by a separator. A ',' decimal ("0,5") would read as two
 * numbers; the array-length checks of read_answer catch that. */
static void check_number_tokens(const char *text) {
    int in_string = 0;
    for (const char *c = text; *c; c++) {
        if (in_string) {
            if (*c == '\\' && c[1]) c++;
            else if (*c == '"') in_string = 0;
            continue;
        }
        if (*c == '"') {
            in_string = 1;
        } else if (*c == '-' || (*c >= '0' && *c <= '9')) {
            char *end = NULL;
            strtod(c, &end);
            if (end == c) fail_msg("bad number at \"%.20s\"", c);
            if (!strchr(",]} \n\r\t", *end))
                fail_msg("number \"%.*s\" runs into \"%.10s\"", (int)(end - c), c, end);
            c = end - 1;
        }
    }
}

/* The market a test solves, read with cJSON rather than the library. */
typedef struct {
    int n, m;
    double w_price, w_congestion, w_delay;
    double *price, *capacity, *value, *demand, *delay;
    char **user_id;
} Market;

static Market read_market(const char *text) {
    Market mk;
    memset(&mk, 0, sizeof mk);
    cJSON *root = parse_json_output(text);
    const cJSON *w = member(root, "weights"), *providers = member(root, "providers"), *users = member(root, "users");
    mk.w_price = number_member(w, "price");
    mk.w_congestion = number_member(w, "congestion");
    mk.w_delay = number_member(w, "delay");
    mk.m = cJSON_GetArraySize(providers);
    mk.n = cJSON_GetArraySize(users);
    mk.price = calloc((size_t)mk.m, sizeof(double));
    mk.capacity = calloc((size_t)mk.m, sizeof(double));
    mk.value = calloc((size_t)mk.m, sizeof(double));
    mk.demand = calloc((size_t)mk.n, sizeof(double));
    mk.delay = calloc((size_t)mk.n * mk.m, sizeof(double));
    mk.user_id = calloc((size_t)mk.n, sizeof(char *));
    assert_true(mk.price && mk.capacity && mk.value && mk.demand && mk.delay && mk.user_id);
    double *latency = calloc((size_t)mk.m, sizeof(double));
    assert_non_null(latency);
    int j = 0;
    for (const cJSON *p = providers->child; p; p = p->next, j++) {
        mk.price[j] = number_member(p, "price");
        mk.capacity[j] = number_member(p, "capacity");
        mk.value[j] = number_member(p, "value");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "latency");
        latency[j] = cJSON_IsNumber(l) ? l->valuedouble : NAN;
    }
    int i = 0;
    for (const cJSON *u = users->child; u; u = u->next, i++) {
        mk.demand[i] = number_member(u, "demand");
        const char *id = cJSON_GetStringValue(member(u, "id"));
        assert_non_null(id);
        mk.user_id[i] = malloc(strlen(id) + 1);
        assert_non_null(mk.user_id[i]);
        strcpy(mk.user_id[i], id);
    }
    /* a null delay cell means the provider's latency (the format's rule) */
    int nulls = 0;
    number_matrix(member(root, "delay"), mk.n, mk.m, mk.delay, &nulls);
    for (int k = 0; k < mk.n * mk.m; k++)
        if (isnan(mk.delay[k])) {
            assert_false(isnan(latency[k % mk.m]));
            mk.delay[k] = latency[k % mk.m];
        }
    free(latency);
    cJSON_Delete(root);
    return mk;
}

static void market_free(Market *mk) {
    for (int i = 0; i < mk->n; i++) free(mk->user_id[i]);
    free(mk->user_id);
    free(mk->price);
    free(mk->capacity);
    free(mk->value);
    free(mk->demand);
    free(mk->delay);
}

/* The equilibrium part of the command's JSON output. */
typedef struct {
    char status[32];
    double *flows, *provider_flow, *lambda;
    double kkt_violation;
    int nulls;
} Answer;

static Answer read_answer(const char *text, int n, int m) {
    Answer a;
    memset(&a, 0, sizeof a);
    cJSON *root = parse_json_output(text);
    const char *status = cJSON_GetStringValue(member(root, "status"));
    if (!status) fail_msg("status is not a string");
    snprintf(a.status, sizeof a.status, "%s", status);
    a.flows = calloc((size_t)n * m, sizeof(double));
    a.provider_flow = calloc((size_t)m, sizeof(double));
    a.lambda = calloc((size_t)n, sizeof(double));
    assert_true(a.flows && a.provider_flow && a.lambda);
    number_matrix(member(root, "flows"), n, m, a.flows, &a.nulls);
    number_array(member(root, "provider_flow"), m, a.provider_flow, &a.nulls, "provider_flow");
    number_array(member(root, "lambda"), n, a.lambda, &a.nulls, "lambda");
    const cJSON *kkt = member(root, "kkt_violation");
    if (cJSON_IsNumber(kkt)) a.kkt_violation = kkt->valuedouble;
    else if (cJSON_IsNull(kkt)) a.kkt_violation = NAN;
    else fail_msg("kkt_violation is neither a number nor null");
    /* the bookkeeping fields are always there */
    if (!cJSON_IsNumber(member(root, "iterations"))) fail_msg("iterations is not a number");
    if (!cJSON_IsNumber(member(root, "seconds"))) fail_msg("seconds is not a number");
    cJSON_Delete(root);
    return a;
}

static void answer_free(Answer *a) {
    free(a->flows);
    free(a->provider_flow);
    free(a->lambda);
}

/* The equilibrium conditions from their definition: with
 * g_ij = w_p p_j + w_d d_ij - b_j + a_j (F_j + f_ij), a_j = w_c / cap_j,
 * every used pair of user i has g_ij = lambda_i and no pair is cheaper.
 * Returns the largest violation relative to the user's cost scale. */
static double equilibrium_violation(const Market *mk, const double *f, const double *lambda) {
    int n = mk->n, m = mk->m;
    double *F = calloc((size_t)m, sizeof(double));
    assert_non_null(F);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) F[j] += f[(size_t)i * m + j];
    double worst = 0;
    for (int i = 0; i < n; i++) {
        if (mk->demand[i] == 0) continue;
        double scale = fabs(lambda[i]);
        for (int j = 0; j < m; j++) {
            size_t k = (size_t)i * m + j;
            double g = mk->w_price * mk->price[j] + mk->w_delay * mk->delay[k] - mk->value[j] +
                       mk->w_congestion / mk->capacity[j] * (F[j] + f[k]);
            scale = fmax(scale, fabs(g));
        }
        for (int j = 0; j < m; j++) {
            size_t k = (size_t)i * m + j;
            double g = mk->w_price * mk->price[j] + mk->w_delay * mk->delay[k] - mk->value[j] +
                       mk->w_congestion / mk->capacity[j] * (F[j] + f[k]);
            double v = f[k] > 1e-12 * mk->demand[i] ? fabs(g - lambda[i]) : fmax(0.0, lambda[i] - g);
            worst = fmax(worst, v / scale);
        }
    }
    free(F);
    return worst;
}

/* Flows that fit the market: finite, >= 0, each row adds up to the user's
 * demand, and provider_flow is the column sums. */
static void check_flows_fit(const Market *mk, const Answer *a, double rel) {
    int n = mk->n, m = mk->m;
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int j = 0; j < m; j++) {
            double x = a->flows[(size_t)i * m + j];
            if (!isfinite(x) || x < 0) fail_msg("flows[%d][%d] = %g", i, j, x);
            sum += x;
        }
        if (fabs(sum - mk->demand[i]) > rel * mk->demand[i])
            fail_msg("flows[%d] adds up to %.17g, demand is %.17g", i, sum, mk->demand[i]);
    }
    for (int j = 0; j < m; j++) {
        double col = 0;
        for (int i = 0; i < n; i++) col += a->flows[(size_t)i * m + j];
        if (fabs(col - a->provider_flow[j]) > rel * fmax(col, 1e-300) + 1e-300)
            fail_msg("provider_flow[%d] = %.17g but the column adds up to %.17g", j, a->provider_flow[j], col);
    }
}

/* ---- CSV ---------------------------------------------------------------- */

/* Split one RFC 4180 line (no embedded newlines). Returns the field count. */
static int split_csv(const char *line, char fields[][256], int max) {
    int count = 0;
    const char *c = line;
    for (;;) {
        if (count == max) return -1;
        char *out = fields[count++];
        size_t len = 0;
        if (*c == '"') {
            for (c++;; c++) {
                if (!*c) return -1;
                if (*c == '"') {
                    if (c[1] == '"') c++;
                    else break;
                }
                if (len < 255) out[len++] = *c;
            }
            c++;
        } else {
            while (*c && *c != ',') {
                if (len < 255) out[len++] = *c;
                c++;
            }
        }
        out[len] = '\0';
        if (*c == '\0') return count;
        if (*c != ',') return -1;
        c++;
    }
}

static double whole_number(const char *field, int row, int column) {
    char *end = NULL;
    double x = strtod(field, &end);
    if (end == field || *end != '\0') fail_msg("CSV row %d field %d \"%s\" is not one number", row, column, field);
    return x;
}

/* Run `prillm generate ARGS > FILE` in the scratch directory and read the
 * market back with cJSON (not with the library under test). */
static Market generate_market(const char *args, const char *file) {
    Run g = run("\"$PRILLM_CLI\" generate %s > %s", args, file);
    expect_exit(&g, 0, "generate");
    run_free(&g);
    char *text = scratch_file(file);
    Market mk = read_market(text);
    free(text);
    return mk;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_version(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" --version");
    expect_exit(&r, 0, "--version");
    /* the command reports the library it was built with */
    assert_string_equal(r.out, "prillm " PRILLM_VERSION_STRING "\n");
    assert_string_equal(r.err, "");
    run_free(&r);
}

static void test_help(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" --help");
    expect_exit(&r, 0, "--help");
    const char *commands[] = {"equilibrium", "validate", "generate", "Exit codes"};
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) expect_in(r.out, commands[k], "--help");
    run_free(&r);
    /* the per-command help lists the flags from the option table */
    r = run("\"$PRILLM_CLI\" equilibrium --help");
    expect_exit(&r, 0, "equilibrium --help");
    int count;
    const PrillmOptionInfo *opts = prillm_equilibrium_options(&count);
    for (int k = 0; k < count; k++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[k].name);
        expect_in(r.out, flag, "equilibrium --help");
    }
    expect_in(r.out, "--csv", "equilibrium --help");
    run_free(&r);
    /* no command at all is a usage error, with the help on stderr */
    r = run("\"$PRILLM_CLI\"");
    expect_exit(&r, 2, "no arguments");
    expect_in(r.err, "Usage", "stderr");
    assert_string_equal(r.out, "");
    run_free(&r);
}

static void test_usage_errors(void **state) {
    (void)state;
    REQUIRE_CLI();
    struct {
        const char *args, *stderr_mentions;
    } cases[] = {
        {"frobnicate", "frobnicate"},
        {"equilibrium", "MARKET"},
        {"equilibrium \"$DATA/cli_market.json\" --frobnicate", "--frobnicate"},
        {"equilibrium \"$DATA/cli_market.json\" --tolerance abc", "abc"},
        {"equilibrium \"$DATA/cli_market.json\" --tolerance=abc", "abc"},
        {"equilibrium \"$DATA/cli_market.json\" --method nope", "nope"},
        {"equilibrium \"$DATA/cli_market.json\" --tolerance", "--tolerance"},
        {"equilibrium \"$DATA/cli_market.json\" --tolerance 0", "tolerance"},
        {"equilibrium \"$DATA/cli_market.json\" --tolerance nan", "tolerance"},
        {"equilibrium \"$DATA/cli_market.json\" --max-rounds 1.5", "max-rounds"},
        {"equilibrium \"$DATA/cli_market.json\" --time-limit -1", "time-limit"},
        {"equilibrium \"$DATA/cli_market.json\" \"$DATA/cli_market.json\"", "one market"},
        {"validate", "MARKET"},
        {"generate --users 0", "--users"},
        {"generate --users abc", "--users"},
        {"generate --providers", "--providers"},
        {"generate --colour red", "--colour"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s", cases[k].args);
        expect_exit(&r, 2, cases[k].args);
        expect_in(r.err, cases[k].stderr_mentions, cases[k].args);
        /* nothing half-done on stdout for a script to mistake for a result */
        if (r.out[0]) fail_msg("%s printed to stdout:\n%s", cases[k].args, r.out);
        run_free(&r);
    }
    /* the same flags with good values are accepted, so the exits above come
     * from the values and not from the flag names or the file */
    const char *good[] = {"--tolerance 1e-10", "--tolerance=1e-10", "--method=exact", "--method exact",
                          "--max-rounds 40", "--time-limit 0"};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\" %s", good[k]);
        expect_exit(&r, 0, good[k]);
        run_free(&r);
    }
}

static void test_nonexistent_file(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" equilibrium no/such/market.json");
    expect_exit(&r, 3, "missing file");
    expect_in(r.err, "no/such/market.json", "stderr");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = run("\"$PRILLM_CLI\" validate no-such-market.json");
    expect_exit(&r, 3, "validate missing file");
    run_free(&r);
}

static void test_malformed_json(void **state) {
    (void)state;
    REQUIRE_CLI();
    /* where the error is, found in the file itself: the comma before
     * "price" on the providers line is missing */
    char *text = source_data("malformed.json");
    const char *at = strstr(text, "\"price\": 0.3");
    assert_non_null(at);
    int line = 1, column = 1;
    for (const char *c = text; c < at; c++) {
        if (*c == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    free(text);
    char where[64];
    snprintf(where, sizeof where, "line %d, column %d", line, column);
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/malformed.json\"");
    expect_exit(&r, 3, "malformed JSON");
    expect_in(r.err, where, "stderr");
    expect_in(r.err, "malformed.json", "stderr"); /* which file */
    assert_string_equal(r.out, "");
    run_free(&r);
    /* and from standard input */
    r = run("printf '{\\n  \"weights\": [1,\\n' | \"$PRILLM_CLI\" equilibrium -");
    expect_exit(&r, 3, "malformed stdin");
    expect_in(r.err, "line", "stderr");
    expect_in(r.err, "column", "stderr");
    expect_in(r.err, "<stdin>", "stderr");
    run_free(&r);
}

static void test_invalid_market(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/bad_capacity.json\"");
    expect_exit(&r, 3, "negative capacity");
    expect_in(r.err, "providers[1].capacity", "stderr");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = run("\"$PRILLM_CLI\" validate \"$DATA/bad_capacity.json\"");
    expect_exit(&r, 3, "validate negative capacity");
    expect_in(r.err, "providers[1].capacity", "stderr");
    run_free(&r);
}

static void test_validate_good_file(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" validate \"$DATA/cli_market.json\"");
    expect_exit(&r, 0, "validate");
    char *text = source_data("cli_market.json");
    Market mk = read_market(text);
    free(text);
    cJSON *root = parse_json_output(r.out);
    assert_true(cJSON_IsTrue(member(root, "valid")));
    assert_int_equal((int)number_member(root, "users"), mk.n);
    assert_int_equal((int)number_member(root, "providers"), mk.m);
    cJSON_Delete(root);
    /* the null delay cell is filled from latency, and says so on stderr */
    expect_in(r.err, "warning", "stderr");
    expect_in(r.err, "latency", "stderr");
    market_free(&mk);
    run_free(&r);
}

/* generate | equilibrium - : the whole pipeline, checked from the market. */
static void test_generate_and_solve_from_stdin(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run g = run("\"$PRILLM_CLI\" generate --users 7 --providers 4 --seed 3");
    expect_exit(&g, 0, "generate");
    Market mk = read_market(g.out);
    assert_int_equal(mk.n, 7);
    assert_int_equal(mk.m, 4);

    Run r = run("\"$PRILLM_CLI\" generate --users 7 --providers 4 --seed 3 | \"$PRILLM_CLI\" equilibrium -");
    expect_exit(&r, 0, "equilibrium -");
    check_number_tokens(r.out);
    Answer a = read_answer(r.out, 7, 4);
    assert_string_equal(a.status, "solved");
    assert_int_equal(a.nulls, 0);
    if (!(a.kkt_violation >= 0 && a.kkt_violation < 1e-9)) fail_msg("kkt_violation %g", a.kkt_violation);
    check_flows_fit(&mk, &a, 1e-9);
    double v = equilibrium_violation(&mk, a.flows, a.lambda);
    if (v > 1e-9) fail_msg("the printed flows violate the equilibrium conditions by %g", v);
    /* the users and providers are listed in the market's order */
    cJSON *root = parse_json_output(r.out);
    const cJSON *users = member(root, "users");
    assert_int_equal(cJSON_GetArraySize(users), 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(users, i)), mk.user_id[i]);
    assert_true(number_member(root, "seconds") >= 0);
    assert_true(number_member(root, "iterations") >= 0);
    cJSON_Delete(root);

    /* generate is reproducible from the seed, and the seed matters */
    Run again = run("\"$PRILLM_CLI\" generate --users 7 --providers 4 --seed 3");
    assert_string_equal(again.out, g.out);
    Run other = run("\"$PRILLM_CLI\" generate --users 7 --providers 4 --seed 4");
    assert_string_not_equal(other.out, g.out);
    run_free(&again);
    run_free(&other);
    answer_free(&a);
    market_free(&mk);
    run_free(&r);
    run_free(&g);
}

static void test_csv_output(void **state) {
    (void)state;
    REQUIRE_CLI();
    Market mk = generate_market("--users 7 --providers 4 --seed 3", "market.json");
    Run j = run("\"$PRILLM_CLI\" equilibrium market.json");
    expect_exit(&j, 0, "equilibrium");
    Answer a = read_answer(j.out, mk.n, mk.m);
    Run r = run("\"$PRILLM_CLI\" equilibrium market.json --csv");
    expect_exit(&r, 0, "equilibrium --csv");
    char *save = NULL;
    char *line = strtok_r(r.out, "\n", &save);
    assert_non_null(line);
    char fields[8][256];
    int header = split_csv(line, fields, 8);
    assert_true(header >= 3);
    assert_string_equal(fields[0], "user");
    assert_string_equal(fields[1], "provider");
    assert_string_equal(fields[2], "flow");
    int rows = 0;
    double *csv_flow = calloc((size_t)mk.n * mk.m, sizeof(double));
    assert_non_null(csv_flow);
    while ((line = strtok_r(NULL, "\n", &save))) {
        rows++;
        int count = split_csv(line, fields, 8);
        if (count != header) fail_msg("CSV row %d has %d fields, the header %d: %s", rows, count, header, line);
        int i = -1;
        for (int k = 0; k < mk.n; k++)
            if (strcmp(mk.user_id[k], fields[0]) == 0) i = k;
        if (i < 0) fail_msg("CSV row %d: unknown user \"%s\"", rows, fields[0]);
        for (int c = 2; c < count; c++) whole_number(fields[c], rows, c);
        /* rows come user by user, provider by provider */
        int j_index = (rows - 1) % mk.m;
        assert_int_equal(i, (rows - 1) / mk.m);
        csv_flow[(size_t)i * mk.m + j_index] = whole_number(fields[2], rows, 2);
    }
    assert_int_equal(rows, mk.n * mk.m);
    for (int k = 0; k < mk.n * mk.m; k++)
        if (fabs(csv_flow[k] - a.flows[k]) > 1e-12 * fabs(a.flows[k]))
            fail_msg("CSV flow %d is %.17g, JSON says %.17g", k, csv_flow[k], a.flows[k]);
    free(csv_flow);
    answer_free(&a);
    market_free(&mk);
    run_free(&j);
    run_free(&r);
}

/* equilibrium --no-flows / --top K against the full answer: the same
 * document without "flows"; each app's K largest positive flows of the full
 * answer, largest first (ties to the lower index), in JSON and as the CSV's
 * rows; a binary market gives the same; the alternatives are usage errors. */
static void test_equilibrium_limited_flows(void **state) {
    (void)state;
    REQUIRE_CLI();
    for (int seed = 1; seed <= 4; seed++) {
        char args[128];
        snprintf(args, sizeof args, "--users %d --providers %d --seed %d", 20 + 13 * seed, 3 + 2 * seed, seed);
        Market mk = generate_market(args, "lim.json");
        Run full = run("\"$PRILLM_CLI\" equilibrium lim.json");
        expect_exit(&full, 0, "equilibrium");
        Run none = run("\"$PRILLM_CLI\" convert lim.json lim.bin --quiet && \"$PRILLM_CLI\" equilibrium lim.bin --no-flows");
        expect_exit(&none, 0, "equilibrium --no-flows");
        cJSON *f = parse_json_output(full.out), *z = parse_json_output(none.out);
        const cJSON *rows = member(f, "flows");
        assert_int_equal(cJSON_GetArraySize(rows), mk.n);
        assert_null(cJSON_GetObjectItem(z, "flows"));
        assert_null(cJSON_GetObjectItem(z, "top_flows"));
        int k = seed % 3 + 1;
        Run top = run("\"$PRILLM_CLI\" equilibrium lim.json --top %d", k);
        expect_exit(&top, 0, "equilibrium --top");
        Run csv = run("\"$PRILLM_CLI\" equilibrium lim.json --top %d --csv", k);
        expect_exit(&csv, 0, "equilibrium --top --csv");
        cJSON *t = parse_json_output(top.out);
        const cJSON *tops = member(t, "top_flows");
        assert_int_equal(cJSON_GetArraySize(tops), mk.n);
        char *save = NULL, *line = strtok_r(csv.out, "\n", &save);
        assert_string_equal(line, "user,provider,flow,user_lambda,provider_flow");
        char fields[8][256];
        for (int i = 0; i < mk.n; i++) {
            const cJSON *row = cJSON_GetArrayItem(rows, i), *got = cJSON_GetArrayItem(tops, i);
            /* the reference: a selection by repeated maximum over the full row */
            int used[64] = {0}, count = 0;
            for (int q = 0; q < k; q++) {
                int best = -1;
                for (int j = 0; j < mk.m; j++) {
                    double x = cJSON_GetArrayItem(row, j)->valuedouble;
                    if (!used[j] && x > 0 && (best < 0 || x > cJSON_GetArrayItem(row, best)->valuedouble)) best = j;
                }
                if (best < 0) break;
                used[best] = 1;
                count++;
                const cJSON *e = cJSON_GetArrayItem(got, q);
                if (!e) fail_msg("seed %d app %d: %d top flows, expected more", seed, i, q);
                assert_string_equal(member(e, "provider")->valuestring, cJSON_GetArrayItem(member(f, "providers"), best)->valuestring);
                assert_true(number_member(e, "flow") == cJSON_GetArrayItem(row, best)->valuedouble);
                line = strtok_r(NULL, "\n", &save);
                if (!line) fail_msg("seed %d: the CSV ends at app %d", seed, i);
                assert_int_equal(split_csv(line, fields, 8), 5);
                assert_string_equal(fields[0], mk.user_id[i]);
                assert_string_equal(fields[1], cJSON_GetArrayItem(member(f, "providers"), best)->valuestring);
                assert_true(whole_number(fields[2], i, 2) == cJSON_GetArrayItem(row, best)->valuedouble);
            }
            assert_int_equal(cJSON_GetArraySize(got), count);
        }
        assert_null(strtok_r(NULL, "\n", &save));
        /* the rest is the same document (the solve's seconds aside) */
        cJSON_DeleteItemFromObject(f, "flows");
        cJSON_DeleteItemFromObject(t, "top_flows");
        cJSON *docs[] = {f, z, t};
        for (int d = 0; d < 3; d++) cJSON_DeleteItemFromObject(docs[d], "seconds");
        assert_true(cJSON_Compare(f, z, 1));
        assert_true(cJSON_Compare(f, t, 1));
        cJSON_Delete(f);
        cJSON_Delete(z);
        cJSON_Delete(t);
        run_free(&full);
        run_free(&none);
        run_free(&top);
        run_free(&csv);
        market_free(&mk);
    }
    const char *bad[] = {"--no-flows --top 2", "--table --top 2", "--table --no-flows", "--csv --no-flows", "--top 0",
                         "--top x", "--top"};
    for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
        Run r = run("\"$PRILLM_CLI\" equilibrium lim.json %s", bad[q]);
        expect_exit(&r, 2, bad[q]);
        expect_in(r.err, "prillm: error:", bad[q]);
        assert_int_equal(r.out[0], '\0');
        run_free(&r);
    }
}

static void test_csv_quotes_awkward_ids(void **state) {
    (void)state;
    REQUIRE_CLI();
    /* ids with commas and quotes must come back intact through a CSV reader */
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\" --csv");
    expect_exit(&r, 0, "--csv");
    expect_in(r.err, "latency", "stderr"); /* the filled delay cell warns */
    int found_user = 0, found_provider = 0, rows = 0;
    char *save = NULL;
    strtok_r(r.out, "\n", &save);
    for (char *line; (line = strtok_r(NULL, "\n", &save));) {
        char fields[8][256];
        int count = split_csv(line, fields, 8);
        if (count != 5) fail_msg("CSV row has %d fields: %s", count, line);
        rows++;
        found_user += strcmp(fields[0], "Acme, Inc.") == 0;
        found_user += strcmp(fields[0], "say \"hi\"") == 0;
        found_provider += strcmp(fields[1], "mid, \"quoted\"") == 0;
        for (int c = 2; c < count; c++) whole_number(fields[c], rows, c);
        /* the user without demand sends nothing */
        if (strcmp(fields[0], "idle app") == 0) assert_true(whole_number(fields[2], rows, 2) == 0.0);
    }
    assert_int_equal(rows, 4 * 3);
    assert_int_equal(found_user, 2 * 3);
    assert_int_equal(found_provider, 4);
    run_free(&r);
}

/* ids with a newline or an escape sequence (valid: they round-trip through
 * JSON, CSV and the binary form) are escaped in --table output, where they
 * would break or forge lines */
static void test_table_escapes_control_characters(void **state) {
    (void)state;
    REQUIRE_CLI();
    static const char *const commands[] = {"price - --all --table", "price - --target model-2 --table",
                                           "equilibrium - --table", "compete - --table"};
    for (int k = 0; k < 4; k++) {
        Run r = run("\"$PRILLM_CLI\" generate --users 4 --providers 3 --seed 1 | "
                    "sed 's/\"app-1\"/\"ap\\\\tp\"/; s/\"model-1\"/\"mod\\\\nel\\\\u001b[2J\"/' | "
                    "\"$PRILLM_CLI\" %s --quiet",
                    commands[k]);
        /* compete may stop short of its tolerance here (exit 4): its table still prints */
        if (r.exit_code != 0 && !(k == 3 && r.exit_code == 4))
            fail_msg("%s: exit %d: %s", commands[k], r.exit_code, r.err);
        if (strchr(r.out, '\x1b')) fail_msg("%s: a raw escape character in the table:\n%s", commands[k], r.out);
        if (k != 1) expect_in(r.out, "mod\\nel\\x1b[2J", commands[k]);
        if (k == 2) expect_in(r.out, "ap\\tp", commands[k]);
        run_free(&r);
    }
}

static void test_methods_agree(void **state) {
    (void)state;
    REQUIRE_CLI();
    Market mk = generate_market("--users 7 --providers 4 --seed 3", "market.json");
    Run e = run("\"$PRILLM_CLI\" equilibrium market.json --method exact");
    expect_exit(&e, 0, "exact");
    Answer exact = read_answer(e.out, mk.n, mk.m);
    const char *methods[] = {"gauss-seidel", "ipopt"};
    for (size_t k = 0; k < 2; k++) {
        Run r = run("\"$PRILLM_CLI\" equilibrium market.json --method %s", methods[k]);
        if (strcmp(methods[k], "ipopt") == 0 && !prillm_has_component("ipopt")) {
            /* a build without Ipopt says so, and fails */
            expect_exit(&r, 5, "ipopt without Ipopt");
            expect_in(r.err, "built without Ipopt", "stderr");
            run_free(&r);
            continue;
        }
        if (r.exit_code != 0 && r.exit_code != 4) expect_exit(&r, 0, methods[k]);
        check_number_tokens(r.out);
        Answer a = read_answer(r.out, mk.n, mk.m);
        /* the exit code and the printed status tell the same story */
        assert_string_equal(a.status, r.exit_code == 0 ? "solved" : "inaccurate");
        assert_int_equal(a.nulls, 0);
        check_flows_fit(&mk, &a, 1e-6);
        for (int i = 0; i < mk.n; i++)
            for (int j = 0; j < mk.m; j++) {
                double x = a.flows[i * mk.m + j], y = exact.flows[i * mk.m + j];
                /* relative to the flow, or to the user's demand for pairs
                 * at or near zero, where relative error means nothing */
                if (fabs(x - y) > 1e-6 * fmax(fabs(y), 1e-3 * mk.demand[i]))
                    fail_msg("%s: flows[%d][%d] = %.17g, exact %.17g", methods[k], i, j, x, y);
            }
        answer_free(&a);
        run_free(&r);
    }
    answer_free(&exact);
    market_free(&mk);
    run_free(&e);
}

static void test_time_limit_ipopt_fails(void **state) {
    (void)state;
    REQUIRE_CLI();
    TEST_NEEDS("ipopt");
    Run r = run("\"$PRILLM_CLI\" generate --users 50 --providers 20 --seed 8 | "
                "\"$PRILLM_CLI\" equilibrium - --method ipopt --time-limit 1e-9");
    /* a nanosecond is not enough for one interior-point iteration */
    if (r.exit_code != 5 && r.exit_code != 4) expect_exit(&r, 5, "ipopt with --time-limit 1e-9");
    Answer a = read_answer(r.out, 50, 20);
    if (r.exit_code == 5) {
        /* documented: on status failed every output is null */
        assert_string_equal(a.status, "failed");
        assert_int_equal(a.nulls, 50 * 20 + 20 + 50);
        assert_true(isnan(a.kkt_violation));
        expect_in(r.err, "time limit", "stderr");
    } else {
        assert_string_equal(a.status, "inaccurate");
        assert_int_equal(a.nulls, 0);
    }
    answer_free(&a);
    run_free(&r);
}

static void test_time_limit_exact_is_inaccurate(void **state) {
    (void)state;
    REQUIRE_CLI();
    Market mk = generate_market("--users 50 --providers 20 --seed 8", "big.json");
    Run r = run("\"$PRILLM_CLI\" equilibrium big.json --time-limit 1e-9");
    if (r.exit_code != 0 && r.exit_code != 4) expect_exit(&r, 4, "exact with --time-limit 1e-9");
    Answer a = read_answer(r.out, mk.n, mk.m);
    /* the exact method stops with the best flows so far, still printed */
    assert_string_equal(a.status, r.exit_code == 0 ? "solved" : "inaccurate");
    assert_int_equal(a.nulls, 0);
    for (int k = 0; k < mk.n * mk.m; k++) assert_true(isfinite(a.flows[k]) && a.flows[k] >= 0);
    if (r.exit_code == 4) expect_in(r.err, "kkt_violation", "stderr");
    answer_free(&a);
    market_free(&mk);
    run_free(&r);
}

static void test_warnings_stay_off_stdout(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\"");
    expect_exit(&r, 0, "equilibrium with a filled delay cell");
    expect_in(r.err, "warning", "stderr");
    check_number_tokens(r.out);
    char *text = source_data("cli_market.json");
    Market mk = read_market(text);
    free(text);
    Answer a = read_answer(r.out, mk.n, mk.m);
    assert_string_equal(a.status, "solved");
    check_flows_fit(&mk, &a, 1e-9);
    double v = equilibrium_violation(&mk, a.flows, a.lambda);
    if (v > 1e-9) fail_msg("the printed flows violate the equilibrium conditions by %g", v);
    answer_free(&a);
    market_free(&mk);
    run_free(&r);
}

static void test_default_market(void **state) {
    (void)state;
    REQUIRE_CLI();
    char path[1024];
    snprintf(path, sizeof path, "%s/data/default_market.json", getenv("PRILLM_SOURCE_DIR"));
    if (access(path, R_OK) != 0) {
        print_message("%s not found: skipped\n", path);
        skip();
    }
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$PRILLM_SOURCE_DIR/data/default_market.json\"");
    expect_exit(&r, 0, "default market");
    check_number_tokens(r.out);
    cJSON *root = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(root, "status")), "solved");
    cJSON_Delete(root);
    run_free(&r);
}

/* ---- price -------------------------------------------------------------- */

/* prillm price end to end: the JSON contract, the curve's shape, and the
 * profit re-derived through `prillm equilibrium` on a market file whose
 * target price the test itself sets to the returned price. */
static void test_price_exact(void **state) {
    (void)state;
    REQUIRE_CLI();
    Market mk = generate_market("--users 9 --providers 4 --seed 21", "price_market.json");
    market_free(&mk);
    Run r = run("\"$PRILLM_CLI\" price price_market.json --target model-2");
    expect_exit(&r, 0, "price");
    check_number_tokens(r.out);
    cJSON *out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "status")), "solved");
    assert_string_equal(cJSON_GetStringValue(member(out, "method")), "exact");
    assert_string_equal(cJSON_GetStringValue(member(out, "target")), "model-2");
    double price = number_member(out, "price"), profit = number_member(out, "profit");
    double flow = number_member(out, "flow"), pmax = number_member(out, "pmax");
    assert_true(price >= 0 && price <= pmax);
    assert_true(fabs(profit - price * flow) <= 1e-12 * fabs(profit) + 1e-300);
    assert_true(number_member(out, "kkt_violation") <= 1e-9);
    assert_true(number_member(out, "seconds") >= 0);
    const cJSON *segments = member(out, "segments"), *breakpoints = member(out, "breakpoints");
    int count = cJSON_GetArraySize(segments);
    assert_true(count >= 1 && cJSON_GetArraySize(breakpoints) >= count - 1);
    double at = 0, best = -1;
    for (int k = 0; k < count; k++) {
        const cJSON *g = cJSON_GetArrayItem(segments, k);
        assert_true(number_member(g, "from") == at);
        at = number_member(g, "to");
        assert_true(number_member(g, "flow_slope") <= 1e-9);
        if (number_member(g, "best_profit") > best) best = number_member(g, "best_profit");
    }
    assert_true(at == pmax);
    assert_true(fabs(best - profit) <= 1e-9 * fabs(profit));
    const cJSON *b0 = cJSON_GetArrayItem(breakpoints, 0);
    const char *event = cJSON_GetStringValue(member(b0, "event"));
    assert_true(strcmp(event, "enters") == 0 || strcmp(event, "leaves") == 0);
    assert_non_null(cJSON_GetStringValue(member(b0, "user")));

    /* the same profit through the equilibrium command at that price */
    char *text = scratch_file("price_market.json");
    cJSON *market = cJSON_Parse(text);
    free(text);
    cJSON *target = cJSON_GetArrayItem(cJSON_GetObjectItem(market, "providers"), 2);
    cJSON_ReplaceItemInObject(target, "price", cJSON_CreateNumber(price));
    char *edited = cJSON_Print(market);
    char path[512];
    snprintf(path, sizeof path, "%s/priced.json", test_scratch);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(edited, f);
    fclose(f);
    free(edited);
    cJSON_Delete(market);
    Run e = run("\"$PRILLM_CLI\" equilibrium priced.json");
    expect_exit(&e, 0, "equilibrium at the price");
    cJSON *eq = parse_json_output(e.out);
    double F = cJSON_GetNumberValue(cJSON_GetArrayItem(member(eq, "provider_flow"), 2));
    assert_true(fabs(F - flow) <= 1e-9 * fabs(flow) + 1e-12);
    cJSON_Delete(eq);
    run_free(&e);

    /* a grid never beats it; the CSV curve has one row per segment */
    Run g = run("\"$PRILLM_CLI\" price price_market.json --target model-2 --method grid --grid-points 50");
    expect_exit(&g, 0, "price --method grid");
    cJSON *grid = parse_json_output(g.out);
    assert_true(number_member(grid, "profit") <= profit * (1 + 1e-12));
    assert_null(cJSON_GetObjectItem(grid, "segments"));
    cJSON_Delete(grid);
    run_free(&g);
    Run c = run("\"$PRILLM_CLI\" price price_market.json --target model-2 --csv");
    expect_exit(&c, 0, "price --csv");
    int lines = 0;
    for (const char *q = c.out; *q; q++) lines += *q == '\n';
    assert_int_equal(lines, count + 1);
    assert_true(strncmp(c.out, "from,to,flow,flow_slope,best_price,best_profit\n", 47) == 0);
    run_free(&c);
    cJSON_Delete(out);
    run_free(&r);
}

static void test_price_errors(void **state) {
    (void)state;
    REQUIRE_CLI();
    struct {
        const char *args;
        int exit_code;
        const char *stderr_mentions;
    } cases[] = {
        {"price \"$DATA/cli_market.json\"", 2, "--target"},
        {"price --target big-model", 2, "MARKET"},
        {"price \"$DATA/cli_market.json\" --target nope", 2, "nope"},
        {"price \"$DATA/cli_market.json\" --target big-model --pmax -1", 2, "pmax"},
        {"price \"$DATA/cli_market.json\" --target big-model --pmax abc", 2, "abc"},
        {"price \"$DATA/cli_market.json\" --target big-model --method newton", 2, "newton"},
        {"price \"$DATA/cli_market.json\" --target big-model --method grid --csv", 2, "exact"},
        {"price \"$DATA/cli_market.json\" --target", 2, "--target"},
        {"compete \"$DATA/cli_market.json\" --price-max big-model=3,big-model=4", 2, "\"big-model\" is given twice"},
        {"generate --users 3 --providers 2 --seed 1 > g.json && \"$PRILLM_CLI\" convert g.json g.bin --quiet && "
         "\"$PRILLM_CLI\" predict g.bin --data .",
         3, "g.bin is a market in the binary form, which holds no calibration"},
        {"predict \"$DATA/cli_market.json\" --data .", 3, "cli_market.json: calibrated market: no \"calibration\""},
        {"generate --users 3 --providers 2 --seed 1 | sed 's/\"price\": [0-9.e+-]*,/\"price\": 0,/g' > free.json && "
         "\"$PRILLM_CLI\" price free.json --paid",
         3, "no provider has a price above 0"},
        {"generate --users 40 --providers 10 --seed 1 > big.json && \"$PRILLM_CLI\" price big.json --target model-0 "
         "--method bf",
         5, "support patterns"},
        {"generate --users 3 --providers 1 --seed 1 > mono.json && \"$PRILLM_CLI\" price mono.json --target model-0", 2,
         "no rival"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s", cases[k].args);
        expect_exit(&r, cases[k].exit_code, cases[k].args);
        expect_in(r.err, cases[k].stderr_mentions, cases[k].args);
        run_free(&r);
    }
    /* a monopoly with a range is fine: the optimum is the range's top */
    Run r = run("\"$PRILLM_CLI\" generate --users 3 --providers 1 --seed 1 > mono.json && "
                "\"$PRILLM_CLI\" price mono.json --target model-0 --pmax 4");
    expect_exit(&r, 0, "monopoly with --pmax");
    cJSON *out = parse_json_output(r.out);
    assert_true(number_member(out, "price") == 4);
    cJSON_Delete(out);
    run_free(&r);
    Run h = run("\"$PRILLM_CLI\" price --help");
    expect_exit(&h, 0, "price --help");
    int count;
    const PrillmOptionInfo *opts = prillm_price_options(&count);
    for (int k = 0; k < count; k++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[k].name);
        expect_in(h.out, flag, "price --help");
    }
    for (int method = 0; method < PRILLM_PRICE_METHOD_COUNT; method++)
        expect_in(h.out, prillm_price_method_name(method), "price --help");
    run_free(&h);
}

static void write_scratch(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_scratch, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* One app, the target and a rival at price 2 (the README's hand case: the
 * optimum is 2 with profit 1, and at price p the target carries 1 - p/4). */
static void write_hand_market(const char *name, const char *target_price) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0},\n"
             " \"providers\": [{\"id\": \"target\", \"price\": %s, \"capacity\": 1, \"value\": 0},\n"
             "               {\"id\": \"rival\", \"price\": 2, \"capacity\": 1, \"value\": 0}],\n"
             " \"users\": [{\"id\": \"app\", \"demand\": 1}],\n"
             " \"delay\": [[0, 0]]}\n",
             target_price);
    write_scratch(name, text);
}

/* The market as given: the current price's profit, the uplift, and the
 * warnings, in the JSON (as data), on stderr (in words) and in --table. */
static void test_price_current_and_warnings(void **state) {
    (void)state;
    REQUIRE_CLI();
    write_hand_market("under.json", "0.5");
    Run r = run("\"$PRILLM_CLI\" price under.json --target target");
    expect_exit(&r, 0, "price of an underpriced target");
    check_number_tokens(r.out);
    cJSON *out = parse_json_output(r.out);
    assert_true(fabs(number_member(out, "price") - 2) <= 1e-12);
    assert_true(number_member(out, "current_price") == 0.5);
    assert_true(fabs(number_member(out, "current_flow") - 0.875) <= 1e-12);
    assert_true(fabs(number_member(out, "current_profit") - 0.4375) <= 1e-12);
    assert_true(fabs(number_member(out, "uplift") - 0.5625) <= 1e-12);
    assert_true(fabs(number_member(out, "uplift_relative") - 0.5625 / 0.4375) <= 1e-12);
    const cJSON *warnings = member(out, "warnings");
    assert_true(cJSON_IsArray(warnings));
    assert_int_equal(cJSON_GetArraySize(warnings), 1);
    expect_in(cJSON_GetStringValue(cJSON_GetArrayItem(warnings, 0)), "4.0 times the current price 0.5", "warnings");
    expect_in(r.err,
              "warning: the optimal price 2 is 4.0 times the current price 0.5: check the market's price sensitivity",
              "stderr");
    cJSON_Delete(out);
    run_free(&r);

    /* --table says the same; the CSV curve stays a bare table */
    r = run("\"$PRILLM_CLI\" price under.json --target target --table");
    expect_exit(&r, 0, "price --table");
    expect_in(r.out, "current price 0.5 USD/Mtok: profit 0.4375 on 0.875 Mtok", "--table");
    expect_in(r.out, "uplift 0.5625", "--table");
    expect_in(r.out, "warning: the optimal price 2 is 4.0 times", "--table");
    run_free(&r);
    r = run("\"$PRILLM_CLI\" price under.json --target target --csv");
    expect_exit(&r, 0, "price --csv");
    const char *head = "from,to,flow,flow_slope,best_price,best_profit\n0,4,1,-0.25,2,1\n";
    assert_true(strncmp(r.out, head, strlen(head)) == 0);
    assert_null(strstr(r.out, "warning"));
    assert_null(strstr(r.out, "current"));
    expect_in(r.err, "4.0 times the current price", "stderr of --csv");
    run_free(&r);

    /* a free model: no ratio, no relative uplift */
    write_hand_market("free.json", "0");
    r = run("\"$PRILLM_CLI\" price free.json --target target");
    expect_exit(&r, 0, "price of a free target");
    out = parse_json_output(r.out);
    assert_true(number_member(out, "current_price") == 0 && number_member(out, "current_profit") == 0);
    assert_true(cJSON_IsNull(member(out, "uplift_relative")));
    warnings = member(out, "warnings");
    assert_int_equal(cJSON_GetArraySize(warnings), 1);
    expect_in(cJSON_GetStringValue(cJSON_GetArrayItem(warnings, 0)), "free model", "warnings");
    expect_in(r.err, "warning: the current price is 0 (a free model)", "stderr");
    cJSON_Delete(out);
    run_free(&r);

    /* nothing to say: an empty array and a quiet stderr */
    write_hand_market("fine.json", "1");
    r = run("\"$PRILLM_CLI\" price fine.json --target target --method grid --grid-points 5");
    expect_exit(&r, 0, "price of a reasonably priced target");
    out = parse_json_output(r.out);
    assert_int_equal(cJSON_GetArraySize(member(out, "warnings")), 0);
    assert_string_equal(r.err, "");
    cJSON_Delete(out);
    run_free(&r);

    /* min keeps the cheapest rival, which nobody uses: its price sells
     * nothing although the target sells at a profit below it */
    write_scratch("junk.json",
                  "{\"weights\": {\"price\": 1, \"congestion\": 1, \"delay\": 0},\n"
                  " \"providers\": [{\"id\": \"target\", \"price\": 1, \"capacity\": 1, \"value\": 0},\n"
                  "               {\"id\": \"junk\", \"price\": 0.1, \"capacity\": 1, \"value\": -50},\n"
                  "               {\"id\": \"rival\", \"price\": 2, \"capacity\": 1, \"value\": 0}],\n"
                  " \"users\": [{\"id\": \"app\", \"demand\": 1}],\n"
                  " \"delay\": [[0, 0, 0]]}\n");
    r = run("\"$PRILLM_CLI\" price junk.json --target target --method min --k 1");
    expect_exit(&r, 0, "price --method min");
    out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "status")), "solved");
    assert_true(number_member(out, "flow") == 0);
    assert_int_equal(cJSON_GetArraySize(member(out, "warnings")), 2);
    expect_in(r.err, "warning: method min's price", "stderr");
    expect_in(r.err, "sells nothing, yet the target can sell at a profit", "stderr");
    cJSON_Delete(out);
    run_free(&r);
}

/* ---- issue 12: input edge cases, end to end ------------------------------ */

static void test_input_edge_cases(void **state) {
    (void)state;
    REQUIRE_CLI();
    /* output formats are alternatives: two different ones are a usage error
     * (they used to be last-one-wins), the same one twice is fine */
    static const char *const conflicting[] = {
        "equilibrium \"$DATA/cli_market.json\" --csv --table",
        "equilibrium \"$DATA/cli_market.json\" --table --csv",
        "price \"$DATA/cli_market.json\" --target big-model --csv --table",
        "price \"$DATA/cli_market.json\" --target big-model --table --csv",
        "elasticity --data /nonexistent --json --table",
    };
    for (size_t k = 0; k < sizeof conflicting / sizeof conflicting[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s", conflicting[k]);
        expect_exit(&r, 2, conflicting[k]);
        expect_in(r.err, "give one of them", conflicting[k]);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\" --csv --csv");
    expect_exit(&r, 0, "--csv twice");
    expect_in(r.out, "user,provider,flow", "stdout");
    run_free(&r);

    /* a lone app of 1e-20: all on the cheapest model, solved */
    write_scratch("tiny.json",
                  "{\"weights\": {\"price\": 1, \"congestion\": 0.8, \"delay\": 0},\n"
                  " \"providers\": [{\"id\": \"dear\", \"price\": 3, \"capacity\": 80, \"value\": 1},\n"
                  "               {\"id\": \"cheap\", \"price\": 0.2, \"capacity\": 60, \"value\": 1}],\n"
                  " \"users\": [{\"id\": \"tiny\", \"demand\": 1e-20}], \"delay\": [[0, 0]]}\n");
    r = run("\"$PRILLM_CLI\" equilibrium tiny.json");
    expect_exit(&r, 0, "demand 1e-20");
    cJSON *out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "status")), "solved");
    double flows[2];
    number_array(member(out, "flows")->child, 2, flows, NULL, "flows[0]");
    assert_true(flows[0] == 0 && flows[1] == 1e-20);
    cJSON_Delete(out);
    run_free(&r);

    /* an id that is not UTF-8: refused at read time, naming the field */
    r = run("sed 's/\"Acme, Inc.\"/\"Acme\\xff\"/' \"$DATA/cli_market.json\" > latin1.json && "
            "\"$PRILLM_CLI\" equilibrium latin1.json");
    expect_exit(&r, 3, "id not UTF-8");
    expect_in(r.err, "users[1].id is not valid UTF-8", "stderr");
    assert_string_equal(r.out, "");
    run_free(&r);

    /* a byte order mark is skipped */
    r = run("printf '\\357\\273\\277' > bom.json && cat \"$DATA/cli_market.json\" >> bom.json && "
            "\"$PRILLM_CLI\" validate bom.json");
    expect_exit(&r, 0, "byte order mark");
    run_free(&r);

    /* nesting past the parser's limit says so */
    r = run("{ printf '{\"x\": '; i=0; while [ $i -lt 1001 ]; do printf '['; i=$((i+1)); done; } > deep.json && "
            "\"$PRILLM_CLI\" equilibrium deep.json");
    expect_exit(&r, 3, "deep nesting");
    expect_in(r.err, "nesting deeper than 1000 levels", "stderr");
    run_free(&r);

    /* input past the 1 GiB limit (a sparse file: refused from its size,
     * nothing is read) */
    r = run("truncate -s 1073741825 huge.json && \"$PRILLM_CLI\" equilibrium huge.json; rc=$?; rm -f huge.json; "
            "exit $rc");
    expect_exit(&r, 3, "input over the limit");
    expect_in(r.err, "input exceeds the 1 GiB limit", "stderr");
    run_free(&r);

    /* a model file with a shape the network cannot have is bad input (3),
     * not a usage error (2) */
    r = run("sed 's/\"heads\": 4/\"heads\": 3/' \"$PRILLM_SOURCE_DIR/data/aggregator/default_model.json\" > "
            "bad_model.json && grep -q '\"heads\": 3' bad_model.json && "
            "\"$PRILLM_CLI\" price \"$DATA/cli_market.json\" --target big-model --method da --model bad_model.json");
    expect_exit(&r, 3, "model shape");
    expect_in(r.err, "model.shape.heads", "stderr");
    run_free(&r);
}

/* ---- flags shared by the commands ---------------------------------------- */

static const char *tiny_training = "--scenarios 30 --prices 4 --epochs 1 --batch 8 --width 8 --heads 2 --blocks 1";

/* --k is the rivals kept, in price and in train-aggregator (where --K stays) */
static void test_k_flag(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run r = run("\"$PRILLM_CLI\" price \"$DATA/cli_market.json\" --target big-model --method min --k 1");
    expect_exit(&r, 0, "price --k 1");
    cJSON *out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "method")), "min");
    cJSON_Delete(out);
    run_free(&r);
    r = run("\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --k 1 %s",
            tiny_training);
    expect_exit(&r, 0, "train-aggregator --k 1");
    out = parse_json_output(r.out);
    assert_true(number_member(out, "K") == 1);
    cJSON_Delete(out);
    run_free(&r);
    const char *bad[] = {"price \"$DATA/cli_market.json\" --target big-model --k 0",
                         "train-aggregator \"$DATA/cli_market.json\" --out m.json --k 0",
                         "train-aggregator \"$DATA/cli_market.json\" --out m.json --K 0"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        r = run("\"$PRILLM_CLI\" %s", bad[k]);
        expect_exit(&r, 2, bad[k]);
        expect_in(r.err, "0", bad[k]);
        run_free(&r);
    }
}

/* --quiet drops the warnings (not the result, not the errors) */
static void test_quiet_silences_warnings(void **state) {
    (void)state;
    REQUIRE_CLI();
    write_hand_market("under.json", "0.5");
    Run loud = run("\"$PRILLM_CLI\" price under.json --target target");
    expect_exit(&loud, 0, "price");
    expect_in(loud.err, "warning:", "stderr without --quiet");
    Run quiet = run("\"$PRILLM_CLI\" price under.json --target target --quiet");
    expect_exit(&quiet, 0, "price --quiet");
    assert_string_equal(quiet.err, "");
    cJSON *out = parse_json_output(quiet.out);
    assert_int_equal(cJSON_GetArraySize(member(out, "warnings")), 1); /* still in the result */
    cJSON_Delete(out);
    run_free(&loud);
    run_free(&quiet);
    /* calibrate: the data's assumptions and progress go, and no line says "prillm: prillm:" */
    loud = run("\"$PRILLM_CLI\" calibrate --data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero --verbose 1");
    expect_exit(&loud, 0, "calibrate --verbose 1");
    expect_in(loud.err, "warning:", "calibrate stderr");
    expect_in(loud.err, "prillm: method prillm: solved", "calibrate stderr");
    if (strstr(loud.err, "prillm: prillm:")) fail_msg("doubled prefix:\n%s", loud.err);
    quiet = run("\"$PRILLM_CLI\" calibrate --data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero --quiet");
    expect_exit(&quiet, 0, "calibrate --quiet");
    assert_string_equal(quiet.err, "");
    run_free(&loud);
    run_free(&quiet);
    /* errors still print; --quiet with --verbose 2 is a contradiction */
    quiet = run("\"$PRILLM_CLI\" validate no-such.json --quiet");
    expect_exit(&quiet, 3, "validate --quiet of a missing file");
    expect_in(quiet.err, "no-such.json", "stderr");
    run_free(&quiet);
    quiet = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\" --quiet --verbose 2");
    expect_exit(&quiet, 2, "--quiet --verbose 2");
    expect_in(quiet.err, "--quiet", "stderr");
    run_free(&quiet);
    /* every command takes them */
    const char *all[] = {"equilibrium \"$DATA/cli_market.json\"", "validate \"$DATA/cli_market.json\"",
                         "generate --users 2 --providers 2",
                         "auction \"$PRILLM_SOURCE_DIR/data/ttc/golden.json\"",
                         "ttc-market \"$PRILLM_SOURCE_DIR/data/ttc/golden.json\"",
                         "lmaas \"$PRILLM_SOURCE_DIR/data/lmaas/example.json\"",
                         "delegate \"$PRILLM_SOURCE_DIR/data/delegation/example.json\""};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        Run q = run("\"$PRILLM_CLI\" %s --quiet", all[k]);
        expect_exit(&q, 0, all[k]);
        assert_string_equal(q.err, "");
        run_free(&q);
        q = run("\"$PRILLM_CLI\" %s --verbose 0", all[k]);
        expect_exit(&q, 0, all[k]);
        run_free(&q);
    }
}

static int have_openrouter(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/../shared/data/openrouter/models.csv", getenv("PRILLM_SOURCE_DIR"));
    return access(path, R_OK) == 0;
}

/* "-" is stdout wherever a file is written; with the report there too, a usage error */
static void test_dash_is_stdout(void **state) {
    (void)state;
    REQUIRE_CLI();
    /* init zero: the LP start needs GLPK, which the minimal build lacks */
    const char *data = "--data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero --quiet";
    Run r = run("\"$PRILLM_CLI\" calibrate %s --out - --report report.json", data);
    expect_exit(&r, 0, "calibrate --out -");
    Market mk = read_market(r.out);
    assert_int_equal(mk.m, 8);
    market_free(&mk);
    char *report = scratch_file("report.json");
    cJSON *out = parse_json_output(report);
    assert_string_equal(cJSON_GetStringValue(member(out, "status")), "solved");
    cJSON_Delete(out);
    free(report);
    run_free(&r);
    r = run("\"$PRILLM_CLI\" calibrate %s --plot - --report report.json", data);
    expect_exit(&r, 0, "calibrate --plot -");
    expect_in(r.out, "<svg", "stdout");
    run_free(&r);
    const char *clash[] = {"calibrate --data d --out -", "calibrate --data d --plot -",
                           "calibrate --data d --out - --plot - --report r.json", "fit --data d --out -",
                           "train-aggregator \"$DATA/cli_market.json\" --out -"};
    for (size_t k = 0; k < sizeof clash / sizeof clash[0]; k++) {
        r = run("\"$PRILLM_CLI\" %s", clash[k]);
        expect_exit(&r, 2, clash[k]);
        expect_in(r.err, "both go to stdout", clash[k]);
        expect_in(r.err, " - and ", clash[k]);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    char dash[512];
    snprintf(dash, sizeof dash, "%s/-", test_scratch);
    assert_int_equal(access(dash, F_OK), -1); /* no file named "-" */
    r = run("\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" --out - --report s.json "
            "--quiet %s",
            tiny_training);
    expect_exit(&r, 0, "train-aggregator --out -");
    out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "format")), "prillm-aggregator");
    cJSON_Delete(out);
    run_free(&r);
    report = scratch_file("s.json");
    out = parse_json_output(report);
    assert_string_equal(cJSON_GetStringValue(member(out, "model")), "-");
    cJSON_Delete(out);
    free(report);
    if (!have_openrouter()) {
        print_message("../shared/data/openrouter absent: predict --out not checked\n");
        return;
    }
    r = run("OR=\"$PRILLM_SOURCE_DIR/../shared/data/openrouter\"; \"$PRILLM_CLI\" fit --data \"$OR\" --max-models 8 "
            "--max-apps 10 --elasticity 1 --shrinkage 1 --segments 1 --out fit.json --report fit_report.json --quiet "
            "&& \"$PRILLM_CLI\" predict fit.json --data \"$OR\" --quiet --out - "
            "&& \"$PRILLM_CLI\" predict fit.json --data \"$OR\" --quiet --csv --out p.csv");
    expect_exit(&r, 0, "fit, predict --out -, predict --out p.csv");
    out = parse_json_output(r.out);
    assert_string_equal(cJSON_GetStringValue(member(out, "status")), "solved");
    assert_true(cJSON_GetArraySize(member(out, "models")) > 0);
    cJSON_Delete(out);
    char *csv = scratch_file("p.csv");
    assert_true(strncmp(csv, "app,model_id,tokens\n", 20) == 0);
    free(csv);
    run_free(&r);
    r = run("OR=\"$PRILLM_SOURCE_DIR/../shared/data/openrouter\"; \"$PRILLM_CLI\" predict fit.json --data \"$OR\" --table");
    expect_exit(&r, 0, "predict --table");
    expect_in(r.out, "tokens/day", "predict --table");
    run_free(&r);
}

/* --json is accepted (and the default) where JSON is the default output */
static void test_json_flag(void **state) {
    (void)state;
    REQUIRE_CLI();
    const char *cases[][2] = {{"equilibrium \"$DATA/cli_market.json\"", "flows"},
                              {"price \"$DATA/cli_market.json\" --target big-model", "price"},
                              {"calibrate --data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero --quiet", "r2"},
                              {"validate \"$DATA/cli_market.json\"", "valid"},
                              {"lmaas \"$PRILLM_SOURCE_DIR/data/lmaas/example.json\"", "net_profit"},
                              {"auction \"$PRILLM_SOURCE_DIR/data/ttc/golden.json\"", "winner"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s --json", cases[k][0]);
        expect_exit(&r, 0, cases[k][0]);
        cJSON *out = parse_json_output(r.out);
        member(out, cases[k][1]);
        cJSON_Delete(out);
        run_free(&r);
    }
}

/* explain: its numbers are price's, its files are written where asked, and
 * its usage errors say what is wrong */
static void test_explain_command(void **state) {
    (void)state;
    REQUIRE_CLI();
    Run p = run("\"$PRILLM_CLI\" price \"$DATA/cli_market.json\" --target big-model");
    expect_exit(&p, 0, "price");
    Run e = run("\"$PRILLM_CLI\" explain \"$DATA/cli_market.json\" --target big-model --format json");
    expect_exit(&e, 0, "explain --format json");
    cJSON *price = parse_json_output(p.out), *report = parse_json_output(e.out);
    const cJSON *inner = member(report, "price");
    const char *keys[] = {"price", "profit", "current_profit", "uplift"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        assert_true(number_member(inner, keys[k]) == number_member(price, keys[k]));
    cJSON_Delete(price);
    cJSON_Delete(report);
    run_free(&p);
    run_free(&e);
    Run h = run("\"$PRILLM_CLI\" explain \"$DATA/cli_market.json\" --target big-model --out r.html "
                "&& \"$PRILLM_CLI\" explain \"$DATA/cli_market.json\" --target big-model --format md --out r.md");
    expect_exit(&h, 0, "explain --out");
    run_free(&h);
    char *html = scratch_file("r.html");
    expect_in(html, "mid, &quot;quoted&quot;", "r.html");
    expect_in(html, "</svg>", "r.html");
    free(html);
    char *md = scratch_file("r.md");
    expect_in(md, "](r.svg)", "r.md");
    free(md);
    char *svg = scratch_file("r.svg");
    expect_in(svg, "USD/Mtok", "r.svg");
    free(svg);
    struct {
        const char *args, *mentions;
    } cases[] = {
        {"explain", "MARKET"},
        {"explain \"$DATA/cli_market.json\"", "--target"},
        {"explain \"$DATA/cli_market.json\" --target nope", "nope"},
        {"explain \"$DATA/cli_market.json\" --target big-model --format pdf", "pdf"},
        {"explain \"$DATA/cli_market.json\" --target big-model --svg c.svg", "--svg"},
        {"explain \"$DATA/cli_market.json\" --target big-model --step 0", "step"},
        {"explain \"$DATA/cli_market.json\" --target big-model --method nope", "nope"},
        /* the page would overwrite its own image: by name, and through a link */
        {"explain \"$DATA/cli_market.json\" --target big-model --format md --out same.md --svg same.md",
         "are the same file"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s", cases[k].args);
        expect_exit(&r, 2, cases[k].args);
        expect_in(r.err, cases[k].mentions, cases[k].args);
        run_free(&r);
    }
    Run r = run("touch same.md && ln -sf same.md link.md && \"$PRILLM_CLI\" explain \"$DATA/cli_market.json\" "
                "--target big-model --format md --out same.md --svg link.md");
    expect_exit(&r, 2, "--svg a link to --out");
    expect_in(r.err, "are the same file", "--svg a link to --out");
    run_free(&r);
}

/* two different output formats are a usage error, whichever the command */
static void test_conflicting_formats(void **state) {
    (void)state;
    REQUIRE_CLI();
    const char *cases[] = {"equilibrium \"$DATA/cli_market.json\" --json --csv",
                           "equilibrium \"$DATA/cli_market.json\" --table --json",
                           "price \"$DATA/cli_market.json\" --target big-model --json --table",
                           "price \"$DATA/cli_market.json\" --target big-model --csv --json",
                           "calibrate --data d --table --json",
                           "fit --data d --json --table",
                           "elasticity --data d --table --json",
                           "predict m.json --data d --csv --table",
                           "predict m.json --data d --json --csv"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Run r = run("\"$PRILLM_CLI\" %s", cases[k]);
        expect_exit(&r, 2, cases[k]);
        expect_in(r.err, "choose different outputs", cases[k]);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    Run r = run("\"$PRILLM_CLI\" equilibrium \"$DATA/cli_market.json\" --json --json");
    expect_exit(&r, 0, "the same format twice");
    run_free(&r);
}

/* OpenBLAS starts its worker threads as it loads, and each spins about 0.1
 * CPU s before it sleeps: the command stops them once it runs BLAS on one
 * thread (the default), whatever OPENBLAS_NUM_THREADS says. Watched on a
 * command blocked reading its standard input (a FIFO held open), which it
 * reads only after its start: by then it must run one thread. (With one
 * core OpenBLAS starts no worker: nothing to stop.) */
static void test_blas_workers_stopped(void **state) {
    (void)state;
    REQUIRE_CLI();
    if (access("/proc/self/task", R_OK) != 0) {
        print_message("/proc absent: not checked\n");
        return;
    }
    Run r = run("mkfifo in.fifo && "
                "{ env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_NUM_THREADS -u PRILLM_BLAS_THREADS "
                "\"$PRILLM_CLI\" validate - < in.fifo > /dev/null 2>&1 & } && pid=$! && exec 3> in.fifo && "
                /* blocked in read(0, ...) (its system call, or where it
                 * sleeps: both need ptrace's read access, which a sibling
                 * may lack): past main's start; then its threads */
                "state() { s=$(cat /proc/$pid/syscall 2>/dev/null); w=$(cat /proc/$pid/wchan 2>/dev/null); "
                "case \"$s\" in '0 0x0 '*) echo read; return ;; esac; "
                "case \"$w\" in *pipe_read*|*pipe_wait*) echo read; return ;; esac; "
                "echo running; }; "
                "st=running; for k in $(seq 400); do st=$(state); [ \"$st\" = running ] || break; sleep 0.05; done; "
                /* never seen reading, with neither file telling (wchan reads 0
                 * without the access): unknown, not a failure */
                "if [ \"$st\" = running ] && ! grep -q . /proc/$pid/syscall 2>/dev/null && "
                "! grep -q '[a-z]' /proc/$pid/wchan 2>/dev/null; then st=unknown; fi; "
                "threads=$(ls /proc/$pid/task | wc -l); exec 3>&-; wait $pid; "
                "echo \"waiting: $st; threads: $threads\"");
    expect_exit(&r, 0, "the watch of prillm validate -");
    if (strstr(r.out, "waiting: unknown;")) {
        print_message("/proc/PID/syscall and wchan unreadable here: not checked\n");
    } else {
        if (!strstr(r.out, "waiting: read;")) fail_msg("prillm validate - never waited on its input: %s", r.out);
        if (!strstr(r.out, "threads: 1\n"))
            fail_msg("prillm validate -, waiting on its input, still ran OpenBLAS's workers: %s", r.out);
    }
    run_free(&r);
}

/* A full disk (or any output that cannot be written) is never a success:
 * every command that succeeds with its output to a file exits 1 with one
 * message naming the output (with the system's reason where the failing
 * call is prillm's own) when that output is /dev/full, whether it is
 * standard output or --out, small or past the stdio buffer. Commands this
 * build cannot run (a missing solver) are left out by their exit with the
 * output to a file. */
static void test_full_disk_exits_1(void **state) {
    (void)state;
    REQUIRE_CLI();
    if (access("/dev/full", W_OK) != 0) {
        print_message("/dev/full absent: not checked\n");
        return;
    }
    const char *commands[][2] = {
        {"equilibrium \"$DATA/cli_market.json\"", "standard output"},
        {"equilibrium \"$DATA/cli_market.json\" --csv", "standard output"},
        {"equilibrium \"$DATA/cli_market.json\" --table", "standard output"},
        {"price \"$DATA/cli_market.json\" --target big-model", "standard output"},
        {"price \"$DATA/cli_market.json\" --target big-model --table", "standard output"},
        {"price \"$DATA/cli_market.json\" --target big-model --csv", "standard output"},
        {"price \"$DATA/cli_market.json\" --all", "standard output"},
        {"price \"$DATA/cli_market.json\" --all --table", "standard output"},
        {"explain \"$DATA/cli_market.json\" --target big-model", "standard output"},
        {"explain \"$DATA/cli_market.json\" --target big-model --out /dev/full", "/dev/full"},
        {"compete \"$DATA/cli_market.json\"", "standard output"},
        {"compete \"$DATA/cli_market.json\" --table", "standard output"},
        {"compete \"$DATA/cli_market.json\" --out /dev/full", "/dev/full"},
        {"validate \"$DATA/cli_market.json\"", "standard output"},
        {"generate --users 3 --providers 2", "standard output"},
        {"convert \"$DATA/cli_market.json\" -", "standard output"},
        {"convert \"$DATA/cli_market.json\" /dev/full --to binary", "/dev/full"},
        {"ttc-market \"$PRILLM_SOURCE_DIR/data/ttc/golden.json\"", "standard output"},
        {"lmaas \"$PRILLM_SOURCE_DIR/data/lmaas/example.json\"", "standard output"},
        {"delegate \"$PRILLM_SOURCE_DIR/data/delegation/example.json\"", "standard output"},
        {"calibrate --data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero", "standard output"},
        {"generate --users 2000 --providers 200", "standard output"}, /* past the stdio buffer */
        {"compete big.json --out /dev/full", "/dev/full"},
        {"calibrate --data \"$PRILLM_SOURCE_DIR/data/calibration_synthetic\" --init zero --plot /dev/full", "/dev/full"},
        {"train-aggregator \"$DATA/cli_market.json\" --scenarios 20 --epochs 2 --out m.json --report r.json "
         "--save-data /dev/full",
         "/dev/full"},
        {"train-aggregator \"$DATA/cli_market.json\" --scenarios 20 --epochs 2 --out /dev/full", "/dev/full"},
        {"--help", "standard output"},
        {"--version", "standard output"},
        {"price --help", "standard output"},
    };
    Run big = run("\"$PRILLM_CLI\" generate --users 200 --providers 20 > big.json");
    expect_exit(&big, 0, "generate big.json");
    run_free(&big);
    int checked = 0;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        const char *cmd = commands[k][0], *where = commands[k][1];
        int to_stdout = strcmp(where, "standard output") == 0;
        char alone[1024];
        /* the same command with its output to a file */
        snprintf(alone, sizeof alone, "%s", cmd);
        if (!to_stdout) {
            char *at = strstr(alone, "/dev/full");
            memcpy(at, "out.file ", 9); /* the same length */
        }
        Run r = run("\"$PRILLM_CLI\" %s --quiet > ok.txt 2>&1 || [ $? -eq 4 ]", alone);
        int runs = r.exit_code == 0;
        run_free(&r);
        if (!runs) {
            print_message("%s fails in this build: not checked\n", cmd);
            continue;
        }
        r = run(to_stdout ? "\"$PRILLM_CLI\" %s --quiet > /dev/full" : "\"$PRILLM_CLI\" %s --quiet > /dev/null", cmd);
        expect_exit(&r, 1, cmd);
        char said[64];
        snprintf(said, sizeof said, "writing %s failed", where);
        expect_in(r.err, said, cmd);
        /* one error line, not one per layer that saw the failure */
        const char *second = strstr(strstr(r.err, "prillm: error:") + 1, "prillm: error:");
        if (second) fail_msg("%s: more than one error:\n%s", cmd, r.err);
        run_free(&r);
        checked++;
    }
    assert_true(checked >= 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_nonexistent_file),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_invalid_market),
        cmocka_unit_test(test_validate_good_file),
        cmocka_unit_test(test_generate_and_solve_from_stdin),
        cmocka_unit_test(test_csv_output),
        cmocka_unit_test(test_csv_quotes_awkward_ids),
        cmocka_unit_test(test_table_escapes_control_characters),
        cmocka_unit_test(test_methods_agree),
        cmocka_unit_test(test_time_limit_ipopt_fails),
        cmocka_unit_test(test_time_limit_exact_is_inaccurate),
        cmocka_unit_test(test_warnings_stay_off_stdout),
        cmocka_unit_test(test_default_market),
        cmocka_unit_test(test_price_exact),
        cmocka_unit_test(test_price_errors),
        cmocka_unit_test(test_price_current_and_warnings),
        cmocka_unit_test(test_input_edge_cases),
        cmocka_unit_test(test_k_flag),
        cmocka_unit_test(test_quiet_silences_warnings),
        cmocka_unit_test(test_dash_is_stdout),
        cmocka_unit_test(test_json_flag),
        cmocka_unit_test(test_explain_command),
        cmocka_unit_test(test_conflicting_formats),
        cmocka_unit_test(test_equilibrium_limited_flows),
        cmocka_unit_test(test_full_disk_exits_1),
        cmocka_unit_test(test_blas_workers_stopped),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
