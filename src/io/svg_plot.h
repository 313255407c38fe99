/*
 * A line plot as a self-contained SVG (one curve, vertical markers with
 * labels, linear axes with round ticks), for the explain report's profit
 * curve; and XML text escaping, which SVG and HTML writers share.
 */
#ifndef PRILLM_SVG_PLOT_H
#define PRILLM_SVG_PLOT_H

#include <stdio.h>

#include "internal.h"

typedef struct {
    double x, y;           /* the point marked on the curve                   */
    const char *label;     /* text next to the marker (escaped when written)  */
    const char *colour;    /* an SVG colour literal chosen by the caller      */
} PrillmSvgMark;

typedef struct {
    const char *title, *x_label, *y_label; /* plain text, escaped when written */
    const double *x, *y;   /* the curve, x increasing                          */
    int n;
    const PrillmSvgMark *marks;
    int n_marks;
    int width, height;     /* pixels                                           */
} PrillmSvgLinePlot;

PrillmErrorCode prillm__svg_line_plot(FILE *out, const PrillmSvgLinePlot *plot, PrillmError *err);

/* text with & < > " ' as entities: safe in XML / HTML text and attributes */
void prillm__xml_escape(FILE *out, const char *text);

#endif
