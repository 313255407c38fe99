/*
 * Scatter plot of predicted against observed flows, log-log, as a
 * self-contained SVG: in-sample points, held-out points, the y = x line,
 * decade grid lines. Zero predictions (an app the game sends nothing) are
 * drawn on the bottom axis, marked as such in the legend.
 */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "prillm/calibration.h"

#define SIZE 640
#define MARGIN 70

static double to_px(double value, double lo, double hi, int flip) {
    double u = (log10(value) - lo) / (hi - lo);
    return flip ? SIZE - MARGIN - u * (SIZE - 2 * MARGIN) : MARGIN + u * (SIZE - 2 * MARGIN);
}

PrillmErrorCode prillm_calibration_write_svg(const PrillmObservations *obs, const PrillmCalibrationResult *res,
                                             FILE *out, PrillmError *err) {
    if (!obs || !res || !out) return prillm__fail(err, PRILLM_ERR_INVALID_ARGUMENT, "NULL argument");
    size_t nm = (size_t)obs->n_users * obs->n_providers, total = nm * obs->n_periods;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < total; k++) {
        double f = obs->periods[k / nm].observed[k % nm];
        double v[3] = {f, res->predicted[k], res->predicted_heldout[k]};
        if (isnan(f)) continue;
        for (int q = 0; q < 3; q++)
            if (v[q] > 0 && isfinite(v[q])) lo = fmin(lo, v[q]), hi = fmax(hi, v[q]);
    }
    if (!(lo < INFINITY)) lo = 1, hi = 10;
    double dlo = floor(log10(lo)), dhi = ceil(log10(hi));
    if (dhi <= dlo) dhi = dlo + 1;
    double floor_value = pow(10.0, dlo);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SIZE, SIZE, SIZE, SIZE);
    fprintf(out, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s: predicted vs observed flows "
                 "(Mtok, log-log)</text>\n",
            SIZE / 2, prillm_calibration_method_name(res->method));
    fprintf(out, "<text x=\"%d\" y=\"44\" text-anchor=\"middle\">in-sample R&#178; %.4f, MAE %.4g; held-out R&#178; %.4f, "
                 "MAE %.4g; %ld cells</text>\n",
            SIZE / 2, res->r2, res->mae, res->r2_heldout, res->mae_heldout, res->cells);
    for (double d = dlo; d <= dhi + 1e-9; d++) {
        double p = to_px(pow(10.0, d), dlo, dhi, 0), q = to_px(pow(10.0, d), dlo, dhi, 1);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", p, MARGIN, p, SIZE - MARGIN);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", MARGIN, q, SIZE - MARGIN, q);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%g</text>\n", p, SIZE - MARGIN + 18, d);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%g</text>\n", MARGIN - 6, q + 4, d);
    }
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", MARGIN, MARGIN,
            SIZE - 2 * MARGIN, SIZE - 2 * MARGIN);
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"4 4\"/>\n", MARGIN,
            SIZE - MARGIN, SIZE - MARGIN, MARGIN);
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">observed flow</text>\n", SIZE / 2, SIZE - 24);
    fprintf(out, "<text x=\"20\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 20 %d)\">predicted flow</text>\n",
            SIZE / 2, SIZE / 2);
    static const char *colours[2] = {"#1f77b4", "#ff7f0e"};
    for (int series = 0; series < 2; series++) {
        const double *pred = series == 0 ? res->predicted : res->predicted_heldout;
        for (size_t k = 0; k < total; k++) {
            double f = obs->periods[k / nm].observed[k % nm], p = pred[k];
            if (!(f > 0) || !isfinite(p)) continue;
            double x = to_px(f, dlo, dhi, 0), y = to_px(p > floor_value ? p : floor_value, dlo, dhi, 1);
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" fill-opacity=\"0.65\"/>\n", x, y,
                    colours[series]);
        }
    }
    fprintf(out, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">in-sample</text>\n", MARGIN + 12,
            MARGIN + 14, colours[0], MARGIN + 22, MARGIN + 18);
    fprintf(out, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">held-out (k-fold)</text>\n",
            MARGIN + 12, MARGIN + 32, colours[1], MARGIN + 22, MARGIN + 36);
    fprintf(out, "<text x=\"%d\" y=\"%d\" fill=\"#555\">a prediction of 0 is drawn on the bottom axis</text>\n",
            MARGIN + 12, MARGIN + 54);
    fputs("</svg>\n", out);
    if (ferror(out)) return prillm__fail(err, PRILLM_ERR_IO, "writing the SVG failed");
    return PRILLM_OK;
}
