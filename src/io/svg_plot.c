/*
 * Line plot writer (svg_plot.h). Ticks are round numbers (1, 2 or 5 times a
 * power of ten) so that a reader can read values off the axes; marked points
 * get a dashed vertical line down to the x axis, a dot and a label.
 */
#include <math.h>
#include <stdio.h>

#include "svg_plot.h"

#define LEFT 90
#define RIGHT 30
#define TOP 50
#define BOTTOM 60

void prillm__xml_escape(FILE *out, const char *text) {
    for (const char *c = text ? text : ""; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*c, out);
        }
    }
}

/* A round step giving about `count` intervals over [lo, hi]. */
static double tick_step(double lo, double hi, int count) {
    double raw = (hi - lo) / count;
    if (!(raw > 0) || !isfinite(raw)) return 1;
    double decade = pow(10.0, floor(log10(raw))), f = raw / decade;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * decade;
}

typedef struct {
    double x0, x1, y0, y1;
    int width, height;
} Frame;

static double px(const Frame *f, double x) { return LEFT + (x - f->x0) / (f->x1 - f->x0) * (f->width - LEFT - RIGHT); }
static double py(const Frame *f, double y) {
    return f->height - BOTTOM - (y - f->y0) / (f->y1 - f->y0) * (f->height - TOP - BOTTOM);
}

static void axis_ticks(FILE *out, const Frame *f) {
    double sx = tick_step(f->x0, f->x1, 6), sy = tick_step(f->y0, f->y1, 6);
    for (double t = ceil(f->x0 / sx) * sx; t <= f->x1 + 1e-9 * sx; t += sx) {
        double x = px(f, t);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e3e3e3\"/>\n", x, TOP, x,
                f->height - BOTTOM);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n", x, f->height - BOTTOM + 18,
                fabs(t) < 1e-12 * sx ? 0.0 : t);
    }
    for (double t = ceil(f->y0 / sy) * sy; t <= f->y1 + 1e-9 * sy; t += sy) {
        double y = py(f, t);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n", LEFT, y,
                f->width - RIGHT, y);
        /* whole numbers in full up to a billion (35000, not 3.5e+04) */
        double v = fabs(t) < 1e-12 * sy ? 0.0 : t;
        fprintf(out, fabs(v) >= 1e4 && fabs(v) < 1e9 ? "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n"
                                                     : "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                LEFT - 6, y + 4, v);
    }
}

PrillmErrorCode prillm__svg_line_plot(FILE *out, const PrillmSvgLinePlot *plot, PrillmError *err) {
    if (!out || !plot || plot->n < 2 || !plot->x || !plot->y || plot->width <= LEFT + RIGHT ||
        plot->height <= TOP + BOTTOM)
        return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "line plot: NULL argument, fewer than 2 points or too small");
    Frame f = {plot->x[0], plot->x[plot->n - 1], 0, 0, plot->width, plot->height};
    for (int k = 0; k < plot->n; k++)
        if (isfinite(plot->y[k])) f.y0 = fmin(f.y0, plot->y[k]), f.y1 = fmax(f.y1, plot->y[k]);
    if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
    if (!(f.y1 > f.y0)) f.y1 = f.y0 + 1;
    f.y1 += 0.08 * (f.y1 - f.y0); /* room for the labels above the top */
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            f.width, f.height, f.width, f.height);
    fprintf(out, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", f.width / 2);
    prillm__xml_escape(out, plot->title);
    fputs("</text>\n", out);
    axis_ticks(out, &f);
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", LEFT, TOP,
            f.width - LEFT - RIGHT, f.height - TOP - BOTTOM);
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (f.width + LEFT - RIGHT) / 2, f.height - 16);
    prillm__xml_escape(out, plot->x_label);
    fprintf(out, "</text>\n<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">",
            (f.height + TOP - BOTTOM) / 2, (f.height + TOP - BOTTOM) / 2);
    prillm__xml_escape(out, plot->y_label);
    fputs("</text>\n", out);
    /* one polyline per run of finite points: a point that is not finite
     * (an unknown stretch of the curve) leaves a gap, not a bridge */
    int open = 0;
    for (int k = 0; k < plot->n; k++) {
        if (!isfinite(plot->y[k])) {
            if (open) fputs("\"/>\n", out);
            open = 0;
            continue;
        }
        if (!open) fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"", out);
        fprintf(out, "%s%.2f,%.2f", open ? " " : "", px(&f, plot->x[k]), py(&f, plot->y[k]));
        open = 1;
    }
    if (open) fputs("\"/>\n", out);
    for (int k = 0; k < plot->n_marks; k++) {
        const PrillmSvgMark *m = &plot->marks[k];
        if (!isfinite(m->x) || !isfinite(m->y) || m->x < f.x0 || m->x > f.x1) continue;
        double x = px(&f, m->x), y = py(&f, m->y);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-dasharray=\"5 4\"/>\n", x,
                y, x, f.height - BOTTOM, m->colour);
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", x, y, m->colour);
        /* labels right of the marker, or left of it in the right half, and
         * staggered so that two close markers do not overwrite each other */
        int left = x > (f.width + LEFT - RIGHT) / 2.0;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">", x + (left ? -8 : 8),
                fmax(TOP + 14.0, y - 8 - 16 * k), left ? "end" : "start", m->colour);
        prillm__xml_escape(out, m->label);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the SVG failed");
    return PRILLM_OK;
}
