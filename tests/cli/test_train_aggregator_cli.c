/*
 * End-to-end tests of `prillm train-aggregator`: a short training run whose
 * summary and model file are checked, resuming from a checkpoint, and the
 * usage / bad-input exit codes. Skipped while the command is not registered
 * in cli/cli.h.
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

#include <prillm/aggregator.h>

static char scratch[256];

static char *slurp(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    size_t got = fread(text, 1, (size_t)size, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

/* Run a script in the scratch directory; returns the exit code, stdout and
 * stderr land in out.txt and err.txt. */
static int run(const char *fmt, ...) {
    char script[2048], command[2600];
    va_list args;
    va_start(args, fmt);
    vsnprintf(script, sizeof script, fmt, args);
    va_end(args);
    snprintf(command, sizeof command, "cd '%s' && { %s ; } >out.txt 2>err.txt", scratch, script);
    int status = system(command);
    if (status == -1 || !WIFEXITED(status)) fail_msg("could not run: %s", script);
    int code = WEXITSTATUS(status);
    if (code > 128) fail_msg("prillm died with signal %d: %s", code - 128, script);
    return code;
}

static int registered(void) {
    run("\"$PRILLM_CLI\" train-aggregator --help");
    char *err = slurp("err.txt");
    int ok = err && !strstr(err, "unknown command");
    free(err);
    return ok;
}

static const char *small = "--scenarios 30 --prices 4 --epochs 2 --batch 8 --width 8 --heads 2 --blocks 1 --quiet";

static void test_training_run(void **state) {
    (void)state;
    if (!registered()) skip();
    assert_int_equal(run("\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" "
                         "--out model.json %s",
                         small),
                     0);
    char *out = slurp("out.txt"), *err = slurp("err.txt");
    assert_string_equal(err, ""); /* --quiet */
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "status")->valuestring, "solved");
    assert_int_equal(cJSON_GetObjectItem(root, "scenarios")->valueint, 30);
    assert_int_equal(cJSON_GetObjectItem(root, "train")->valueint + cJSON_GetObjectItem(root, "validation")->valueint +
                         cJSON_GetObjectItem(root, "test")->valueint,
                     30);
    assert_int_equal(cJSON_GetObjectItem(root, "epochs")->valueint, 2);
    const char *losses[] = {"train_loss", "validation_loss", "test_loss", "test_loss_min", "test_loss_avg"};
    for (int k = 0; k < 5; k++) assert_true(cJSON_GetObjectItem(root, losses[k])->valuedouble >= 0);
    cJSON_Delete(root);
    /* the model file reads back, with the requested shape */
    char path[512];
    snprintf(path, sizeof path, "%s/model.json", scratch);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    PrillmAggregator *model;
    PrillmError e;
    assert_int_equal(prillm_aggregator_read_json(f, &model, &e), PRILLM_OK);
    fclose(f);
    PrillmAggregatorShape shape;
    prillm_aggregator_get_shape(model, &shape);
    assert_true(shape.width == 8 && shape.heads == 2 && shape.blocks == 1 && shape.layer_norm == 1);
    prillm_aggregator_free(model);
    free(out), free(err);
    /* resuming from a checkpoint gives the same model as one straight run */
    assert_int_equal(run("\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" "
                         "--out first.json --checkpoint ck.json %s --epochs 1 && "
                         "\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" "
                         "--out resumed.json --checkpoint ck.json %s",
                         small, small),
                     0);
    char *a = slurp("model.json"), *b = slurp("resumed.json");
    assert_string_equal(a, b);
    free(a), free(b);
}

/* Across markets: two market files and random markets, or random markets
 * alone; the same command twice gives the same file. */
static void test_training_across_markets(void **state) {
    (void)state;
    if (!registered()) skip();
    const char *mixed = "--random-share 0.5 --random-max-users 20 --random-max-providers 10";
    assert_int_equal(run("\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" "
                         "\"$PRILLM_SOURCE_DIR/data/aggregator/calibrated_openrouter.json\" %s --out mixed.json %s && "
                         "\"$PRILLM_CLI\" train-aggregator \"$PRILLM_SOURCE_DIR/data/default_market.json\" "
                         "\"$PRILLM_SOURCE_DIR/data/aggregator/calibrated_openrouter.json\" %s --out again.json %s",
                         mixed, small, mixed, small),
                     0);
    char *a = slurp("mixed.json"), *b = slurp("again.json");
    assert_non_null(a);
    assert_string_equal(a, b);
    free(a), free(b);
    assert_int_equal(run("\"$PRILLM_CLI\" train-aggregator --random-share 1 --random-max-users 20 "
                         "--random-max-providers 10 --out random.json %s",
                         small),
                     0);
    char *out = slurp("out.txt");
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "status")->valuestring, "solved");
    assert_int_equal(cJSON_GetObjectItem(root, "scenarios")->valueint, 30);
    cJSON_Delete(root);
    free(out);
    a = slurp("random.json");
    assert_non_null(strstr(a, "prillm-aggregator"));
    free(a);
}

static void test_usage_and_bad_input(void **state) {
    (void)state;
    if (!registered()) skip();
    struct {
        const char *args;
        int code;
        const char *message;
    } cases[] = {
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\"", 2, "--out"},
        {"--out m.json", 2, "MARKET.json"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --bogus", 2, "unknown option --bogus"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --heads 3", 2, "heads"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --epochs -1", 2, "epochs"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --target nobody", 3, "nobody"},
        {"\"$PRILLM_SOURCE_DIR/tests/data/malformed.json\" --out m.json", 3, "malformed"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out /nonexistent/dir/m.json --scenarios 4 --epochs 0", 3,
         "cannot write"},
        {"--out m.json --random-share 0.5", 2, "--random-share 1"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" \"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json "
         "--target x",
         2, "--target needs exactly one market"},
        {"\"$PRILLM_SOURCE_DIR/data/default_market.json\" --out m.json --random-share 2", 2, "random-share"},
        {"--out m.json --random-share 1 --random-min-users 50 --random-max-users 20 --scenarios 4", 2,
         "random-min-users"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int code = run("\"$PRILLM_CLI\" train-aggregator %s --quiet", cases[k].args);
        char *err = slurp("err.txt");
        if (code != cases[k].code || !strstr(err, cases[k].message))
            fail_msg("case %zu: exit %d, stderr \"%s\"; wanted exit %d mentioning \"%s\"", k, code, err, cases[k].code,
                     cases[k].message);
        free(err);
    }
}

static int setup(void **state) {
    (void)state;
    snprintf(scratch, sizeof scratch, "%s/prillm_train_cli_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", scratch);
    return system(command) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_run),
        cmocka_unit_test(test_training_across_markets),
        cmocka_unit_test(test_usage_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
