/* prillm explain: the analyst's report on the target's price, as HTML,
 * Markdown or JSON (the numbers from prillm_explain, explain.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Two paths naming one file: the same text, or the same file already there
 * (a link, ./x against x). */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    if (strcmp(a, b) == 0) return 1;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static PrillmErrorCode set_explain_option(void *settings, const char *name, const char *value, PrillmError *err) {
    return prillm_explain_set_option(settings, name, value, err);
}

static void explain_help(FILE *out) {
    int count, price_count;
    const PrillmOptionInfo *opts = prillm_explain_options(&count), *price_opts = prillm_price_options(&price_count);
    fprintf(out,
            "Usage: prillm explain MARKET.json --target ID [--format html|md|json|svg] [--out FILE] [options]\n"
            "\n"
            "A report on the target's price for an analyst: today's price and profit, the\n"
            "recommended price (by --method, exact by default), its profit and the uplift;\n"
            "the exact profit curve as an SVG with both prices marked; app by app, the\n"
            "target's flow at both prices and which rivals take the traffic it gives up\n"
            "(diversion); the rival prices the exact optimum is most sensitive to; the\n"
            "breakpoints near the price in words; for da, min and avg, which rivals the\n"
            "abstraction kept, merged, dropped or averaged. docs/explain.md explains each\n"
            "section.\n"
            "\n"
            "Options:\n"
            "  --target ID\n      the provider to price (required)\n"
            "  --format html|md|json|svg\n      the rendering (default html: one self-contained file; svg: the\n"
            "      profit curve alone)\n"
            "  --out FILE\n      write the report there (default: standard output)\n"
            "  --svg FILE\n      md: write the curve there and link it (default: FILE.svg next to\n"
            "      --out; embedded in the page when writing to standard output)\n"
            "  --compare\n      also price the true market exactly and flag a method whose profit\n"
            "      is below --far-below times the exact optimum's\n"
            "  --model FILE\n      da: the trained aggregation network (default: the shipped one)\n");
    prillm_cli_print_options(out, opts, count);
    prillm_cli_print_options(out, price_opts, price_count);
    prillm_cli_print_verbosity_help(out, NULL);
    fprintf(out, "  -h, --help\n      this text\n\n%s", prillm_cli_exit_code_help);
}

/* FILE.md -> FILE.svg (FILE.md.svg when there is no ".md" to replace). */
static char *svg_next_to(const char *out_path) {
    size_t n = strlen(out_path);
    char *svg = malloc(n + 5);
    if (!svg) return NULL;
    memcpy(svg, out_path, n + 1);
    if (n > 3 && strcmp(svg + n - 3, ".md") == 0) n -= 3;
    memcpy(svg + n, ".svg", 5);
    return svg;
}

/* The link from the page to the image: relative to the page's directory
 * when both are in the same one. */
static const char *link_to(const char *svg_path, const char *out_path) {
    const char *slash = strrchr(out_path, '/');
    if (!slash) return svg_path;
    size_t dir = (size_t)(slash - out_path) + 1;
    return strncmp(svg_path, out_path, dir) == 0 ? svg_path + dir : svg_path;
}

static int write_report(const PrillmMarket *mk, const PrillmExplainResult *r, const char *format, const char *out_path,
                        const char *svg_flag) {
    PrillmError err;
    PrillmErrorCode rc = PRILLM_OK;
    char *svg_owned = NULL;
    const char *svg_path = svg_flag;
    int to_stdout = strcmp(out_path, "-") == 0;
    if (r->exact.n_segments < 1) svg_path = NULL; /* no curve to draw: the page says why */
    else if (strcmp(format, "md") == 0 && !svg_path && !to_stdout) {
        if (!(svg_path = svg_owned = svg_next_to(out_path))) {
            fprintf(stderr, "prillm: error: out of memory\n");
            return EXIT_INTERNAL;
        }
    }
    if (svg_path) {
        FILE *svg = prillm_cli_open_output(svg_path, "--svg");
        if (!svg) {
            free(svg_owned);
            return EXIT_BAD_INPUT;
        }
        rc = prillm_explain_write_svg(mk, r, svg, &err);
        /* the writer's own I/O error is the one the close reported */
        if (prillm_cli_close_output(svg, svg_path) != 0 && (!rc || rc == PRILLM_ERR_IO)) rc = PRILLM_ERR_IO, err.message[0] = '\0';
    }
    FILE *out = rc ? NULL : prillm_cli_open_output(out_path, "--out");
    if (!rc && !out) {
        free(svg_owned);
        return EXIT_BAD_INPUT;
    }
    if (out) {
        if (strcmp(format, "json") == 0) rc = prillm_explain_write_json(mk, r, out, &err);
        else if (strcmp(format, "svg") == 0) rc = prillm_explain_write_svg(mk, r, out, &err);
        else if (strcmp(format, "md") == 0)
            rc = prillm_explain_write_markdown(mk, r, svg_path ? link_to(svg_path, to_stdout ? "" : out_path) : NULL, out,
                                               &err);
        else rc = prillm_explain_write_html(mk, r, out, &err);
        /* the writer's own I/O error is the one the close reported */
        if (prillm_cli_close_output(out, out_path) != 0 && (!rc || rc == PRILLM_ERR_IO)) rc = PRILLM_ERR_IO, err.message[0] = '\0';
    }
    if (rc && err.message[0]) fprintf(stderr, "prillm: error: %s\n", err.message);
    if (!rc && !to_stdout) prillm_cli_note("wrote %s%s%s", out_path, svg_path ? " and " : "", svg_path ? svg_path : "");
    free(svg_owned);
    return rc ? prillm_cli_exit_for_error(rc) : 0;
}

int cmd_explain(int argc, char **argv) {
    int count;
    const PrillmOptionInfo *opts = prillm_explain_options(&count);
    int price_count;
    const PrillmOptionInfo *price_opts = prillm_price_options(&price_count);
    PrillmExplainSettings settings;
    prillm_explain_default_settings(&settings);
    const char *path = NULL, *target_id = NULL, *model_path = NULL, *format = "html", *out_path = "-", *svg = NULL;
    long verbose = 0;
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            explain_help(stdout);
            return EXIT_SOLVED;
        }
        if (strcmp(arg, "--compare") == 0) {
            settings.price.compare = 1;
            continue;
        }
        int took = prillm_cli_verbosity_flag(argc, argv, &k, &verbose);
        const char **flag_value[] = {&target_id, &model_path, &format, &out_path, &svg};
        const char *flag_name[] = {"--target", "--model", "--format", "--out", "--svg"};
        for (int f = 0; f < 5 && !took; f++) took = prillm_cli_flag_value(argc, argv, &k, flag_name[f], flag_value[f]);
        if (!took) took = prillm_cli_take_option(argc, argv, &k, opts, count, set_explain_option, &settings);
        if (!took) took = prillm_cli_take_option(argc, argv, &k, price_opts, price_count, set_explain_option, &settings);
        if (took < 0) return EXIT_USAGE;
        if (took) continue;
        if (prillm_cli_positional(arg, "explain", "market file", &path)) return EXIT_USAGE;
    }
    if (prillm_cli_require_path(path, "explain", "MARKET.json")) return EXIT_USAGE;
    settings.price.verbose = (int)verbose;
    if (!target_id) {
        fprintf(stderr, "prillm: error: missing --target ID (the provider to price)\n");
        return EXIT_USAGE;
    }
    if (strcmp(format, "html") != 0 && strcmp(format, "md") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "svg") != 0) {
        fprintf(stderr, "prillm: error: --format must be html, md, json or svg, got \"%s\"\n", format);
        return EXIT_USAGE;
    }
    if (svg && strcmp(format, "md") != 0) {
        fprintf(stderr, "prillm: error: --svg is for --format md (html embeds the curve, json has none, svg is "
                        "the curve itself: use --out)\n");
        return EXIT_USAGE;
    }
    if (svg && strcmp(svg, "-") == 0 && strcmp(out_path, "-") == 0)
        return prillm_cli_both_stdout("--svg", "--out", "give --out FILE");
    if (svg && strcmp(svg, "-") != 0 && strcmp(out_path, "-") != 0 && same_file(svg, out_path)) {
        /* the page would overwrite its own image and link to itself */
        fprintf(stderr, "prillm: error: --svg %s and --out %s are the same file: give the curve a file of its own\n",
                svg, out_path);
        return EXIT_USAGE;
    }
    PrillmMarket *mk = NULL;
    int code = prillm_cli_load_market(path, &mk);
    if (code) return code;
    int target = prillm_cli_target(mk, target_id, path);
    if (target < 0) {
        prillm_market_free(mk);
        return EXIT_USAGE;
    }
    PrillmAggregator *model = NULL;
    code = prillm_cli_price_model(settings.price.method, model_path, &model);
    if (code) {
        prillm_market_free(mk);
        return code;
    }
    settings.price.model = model;
    PrillmExplainResult result;
    PrillmError err;
    PrillmErrorCode rc = prillm_explain(mk, target, &settings, &result, &err);
    prillm_aggregator_free(model);
    if (rc) {
        fprintf(stderr, "prillm: error: %s\n", err.message);
        prillm_market_free(mk);
        return prillm_cli_exit_for_error(rc);
    }
    code = write_report(mk, &result, format, out_path, svg);
    char text[512];
    for (unsigned bit = 1; bit & PRILLM_PRICE_WARN_ALL; bit <<= 1)
        if (result.price.warnings & bit)
            prillm_cli_warn("%s", prillm_price_warning_text(&result.price, bit, text, sizeof text));
    if (result.far_below)
        prillm_cli_warn("method %s earns %.1f%% of the exact optimum's profit (below %.0f%%)",
                        prillm_price_method_name(result.price.method), 100 * result.price.profit_ratio,
                        100 * result.far_below_threshold);
    if (!code) code = prillm_cli_exit_for_status(result.status);
    prillm_explain_result_clear(&result);
    prillm_market_free(mk);
    return code;
}
