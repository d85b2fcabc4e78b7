/* svg.c — the chart of a run: decode tok/s per experiment (median with its
 * 95 % CI), kept and reverted marked apart, failed experiments on the
 * floor, the running best as a step line, the baseline dashed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

static void esc(al_buf *b, const char *s, size_t max) {
    size_t i = 0;
    for (; *s && i < max; s++, i++) {
        if (!strncmp(s, " -> ", 4)) {
            al_buf_printf(b, " → ");
            s += 3;
            continue;
        }
        switch (*s) {
        case '<': al_buf_printf(b, "&lt;"); break;
        case '>': al_buf_printf(b, "&gt;"); break;
        case '&': al_buf_printf(b, "&amp;"); break;
        case '"': al_buf_printf(b, "&quot;"); break;
        default: al_buf_printf(b, "%c", *s);
        }
    }
    if (*s) al_buf_printf(b, "…");
}

/* A "nice" tick step (1, 2, 2.5 or 5 × 10^k) for about `want` ticks. */
static double nice_step(double range, int want) {
    double raw = range / want;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nf * mag;
}

/* A speed worth plotting: measured, and not flagged as impossible. */
static int measured(const al_row *r) {
    return r->decode != AL_NA && r->decode > 0 && strncmp(r->reason, "implausible", 11) != 0;
}

enum { W = 960, H = 520, ML = 78, MR = 28, MT = 112, MB = 64 };

char *al_chart_svg(const al_row *rows, int n, const char *title) {
    al_buf b = {0};
    const char *font = "DejaVu Sans, Helvetica, Arial, sans-serif";
    double lo = INFINITY, hi = -INFINITY;
    int last = 1, kept = 0, exps = 0;
    for (int i = 0; i < n; i++) {
        const al_row *r = &rows[i];
        if (r->exp > last) last = r->exp;
        if (strcmp(r->status, "baseline") && strcmp(r->status, "interrupted")) exps++;
        if (!strcmp(r->status, "keep")) kept++;
        if (!measured(r)) continue;
        double a = r->decode, z = r->decode;
        if (r->best_same != AL_NA && r->best_same > 0) {
            a = fmin(a, r->best_same);
            z = fmax(z, r->best_same);
        }
        if (r->decode_lo != AL_NA && r->decode_lo > 0) a = fmin(a, r->decode_lo);
        if (r->decode_hi != AL_NA) z = fmax(z, r->decode_hi);
        lo = fmin(lo, a);
        hi = fmax(hi, z);
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < hi * 0.02) {
        lo -= hi * 0.01 + 0.5;
        hi += hi * 0.01 + 0.5;
    }
    double pad = (hi - lo) * 0.12;
    double ystep = nice_step(hi - lo + 2 * pad, 6);
    double ymin = floor((lo - pad) / ystep) * ystep, ymax = ceil((hi + pad) / ystep) * ystep;
    if (ymin < 0) ymin = 0;
    double px0 = ML, px1 = W - MR, py0 = H - MB, py1 = MT;
    double xmin = -0.5, xmax = last + 0.5;
#define X(v) (px0 + ((v) - xmin) / (xmax - xmin) * (px1 - px0))
#define Y(v) (py0 - ((v) - ymin) / (ymax - ymin) * (py0 - py1))

    al_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"%s\">\n",
        W, H, W, H, font);
    al_buf_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
    /* title and subtitle */
    al_buf_printf(&b, "<text x=\"%d\" y=\"30\" font-size=\"19\" font-weight=\"bold\" fill=\"#111827\">", ML);
    esc(&b, title, 90);
    al_buf_printf(&b, "</text>\n<text x=\"%d\" y=\"52\" font-size=\"13\" fill=\"#4b5563\">decode tokens/s per "
            "experiment (median, 95%% CI of the interleaved A/B) · %d experiments, %d kept</text>\n",
        ML, exps, kept);

    /* legend */
    double lx = ML, ly = 76;
    al_buf_printf(&b, "<g font-size=\"12\" fill=\"#374151\">\n");
    al_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"#16a34a\" stroke=\"#fff\" stroke-width=\"1.5\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">kept</text>\n", lx + 6, ly - 4, lx + 16, ly);
    lx += 62;
    al_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#fff\" stroke=\"#9ca3af\" stroke-width=\"2\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">reverted</text>\n", lx + 6, ly - 4, lx + 16, ly);
    lx += 86;
    al_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#fff\" stroke=\"#f59e0b\" stroke-width=\"2\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">quality gate failed</text>\n", lx + 6, ly - 4, lx + 16, ly);
    lx += 140;
    al_buf_printf(&b, "<path d=\"M%.1f %.1f l8 8 M%.1f %.1f l-8 8\" stroke=\"#dc2626\" stroke-width=\"2.2\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">crashed / rejected / implausible</text>\n",
        lx + 2, ly - 8, lx + 10, ly - 8, lx + 16, ly);
    lx += 220;
    al_buf_printf(&b, "<path d=\"M%.1f %.1f h22\" stroke=\"#2563eb\" stroke-width=\"2.5\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">best so far</text>\n", lx, ly - 4, lx + 28, ly);
    lx += 108;
    al_buf_printf(&b, "<path d=\"M%.1f %.1f h22\" stroke=\"#6b7280\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"5 4\"/><text x=\"%.1f\" y=\"%.1f\">baseline</text>\n",
        lx, ly - 4, lx + 28, ly);
    al_buf_printf(&b, "</g>\n");

    /* grid and y axis */
    al_buf_printf(&b, "<g font-size=\"12\" fill=\"#4b5563\">\n");
    for (double v = ymin; v <= ymax + ystep * 0.01; v += ystep) {
        al_buf_printf(&b, "<path d=\"M%.1f %.1f H%.1f\" stroke=\"#e5e7eb\" stroke-width=\"1\"/>", px0, Y(v), px1);
        al_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", px0 - 8, Y(v) + 4, v);
    }
    int xstep = last <= 20 ? 1 : last <= 50 ? 5 : last <= 200 ? 10 : 50;
    for (int x = 0; x <= last; x += xstep)
        al_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", X(x), py0 + 18, x);
    al_buf_printf(&b, "</g>\n");
    al_buf_printf(&b, "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#374151\" stroke-width=\"1.2\"/>\n",
        px0, py1, py0, px1);
    al_buf_printf(&b, "<text x=\"%.1f\" y=\"%d\" font-size=\"13\" fill=\"#374151\" text-anchor=\"middle\">"
            "experiment</text>\n", (px0 + px1) / 2, H - 18);
    al_buf_printf(&b, "<text transform=\"translate(22 %.1f) rotate(-90)\" font-size=\"13\" fill=\"#374151\" "
            "text-anchor=\"middle\">decode tok/s</text>\n", (py0 + py1) / 2);

    /* baseline */
    double base = AL_NA;
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].status, "baseline") && measured(&rows[i])) base = rows[i].decode;
    if (base != AL_NA)
        al_buf_printf(&b, "<path d=\"M%.1f %.1f H%.1f\" stroke=\"#6b7280\" stroke-width=\"1.5\" "
                "stroke-dasharray=\"5 4\"/>\n", px0, Y(base), px1);

    /* running best: a step line */
    if (base != AL_NA) {
        double best = base;
        al_buf_printf(&b, "<path d=\"M%.1f %.1f", X(0), Y(best));
        for (int i = 0; i < n; i++) {
            if (strcmp(rows[i].status, "keep") || !measured(&rows[i])) continue;
            al_buf_printf(&b, " H%.1f V%.1f", X(rows[i].exp), Y(rows[i].decode));
            best = rows[i].decode;
        }
        al_buf_printf(&b, " H%.1f\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2.5\" "
                "stroke-linejoin=\"round\"/>\n", X(last + 0.35));
    }

    /* the current best re-measured in each experiment's own A/B session: on a
     * machine whose load drifts, compare each point with its tick, not with
     * the line */
    int have_ticks = 0;
    for (int i = 0; i < n; i++) {
        const al_row *r = &rows[i];
        if (!measured(r) || r->best_same == AL_NA || r->best_same <= 0) continue;
        have_ticks = 1;
        al_buf_printf(&b, "<path d=\"M%.1f %.1f h16\" stroke=\"#1e3a8a\" stroke-width=\"2\" "
                "opacity=\"0.75\"><title>#%d: the best, same session: %.2f tok/s</title></path>\n",
            X(r->exp) - 8, Y(r->best_same), r->exp, r->best_same);
    }
    if (have_ticks)
        al_buf_printf(&b, "<g font-size=\"12\" fill=\"#374151\"><path d=\"M%.1f %.1f h16\" stroke=\"#1e3a8a\" "
                "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">best, re-measured in the same A/B</text></g>\n",
            (double)ML + 2, 94.0, (double)ML + 24, 98.0);

    /* points: reverted first, kept on top */
    int labels = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            const al_row *r = &rows[i];
            int is_keep = !strcmp(r->status, "keep") || !strcmp(r->status, "baseline");
            if (is_keep != pass) continue;
            double x = X(r->exp);
            if (!measured(r)) {
                if (!pass && strcmp(r->status, "interrupted")) {
                    double y = py0 - 12;
                    /* red: failed; grey: reverted without a measurement (no change) */
                    int failed = !strcmp(r->status, "crash") || !strcmp(r->status, "reject") ||
                                 !strncmp(r->reason, "implausible", 11);
                    al_buf_printf(&b, "<path d=\"M%.1f %.1f l8 8 M%.1f %.1f l-8 8\" stroke=\"%s\" "
                            "stroke-width=\"2.2\"><title>", x - 4, y - 4, x + 4, y - 4,
                        failed ? "#dc2626" : "#9ca3af");
                    al_buf_printf(&b, "#%d %s: ", r->exp, r->status);
                    esc(&b, r->reason, 160);
                    al_buf_printf(&b, "</title></path>\n");
                }
                continue;
            }
            const char *col = is_keep ? (!strcmp(r->status, "baseline") ? "#374151" : "#16a34a")
                               : r->quality_pass == 0 ? "#f59e0b" : "#9ca3af";
            if (r->decode_lo != AL_NA && r->decode_hi != AL_NA && r->decode_hi > r->decode_lo)
                al_buf_printf(&b, "<path d=\"M%.1f %.1f V%.1f M%.1f %.1f h8 M%.1f %.1f h8\" stroke=\"%s\" "
                        "stroke-width=\"1.4\" opacity=\"0.7\"/>\n",
                    x, Y(r->decode_lo), Y(r->decode_hi), x - 4, Y(r->decode_lo), x - 4,
                    Y(r->decode_hi), col);
            if (is_keep)
                al_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6.5\" fill=\"%s\" stroke=\"#fff\" "
                        "stroke-width=\"1.5\"><title>", x, Y(r->decode), col);
            else
                al_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#fff\" stroke=\"%s\" "
                        "stroke-width=\"2\"><title>", x, Y(r->decode), col);
            al_buf_printf(&b, "#%d %.2f tok/s %s: ", r->exp, r->decode, r->status);
            esc(&b, r->description, 160);
            al_buf_printf(&b, "</title></circle>\n");
            if (pass && strcmp(r->status, "baseline") != 0) {
                /* label the kept change */
                /* staggered so that neighbours' labels don't overlap */
                double ty = Y(r->decode_hi != AL_NA ? r->decode_hi : r->decode) - 10 - (labels++ % 2) * 15;
                const char *anchor = x > px1 - 160 ? "end" : x < px0 + 110 ? "start" : "middle";
                if (*anchor == 's') x -= 6;
                al_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11.5\" fill=\"#166534\" "
                        "text-anchor=\"%s\">", x, ty, anchor);
                esc(&b, r->description, 34);
                if (r->ratio != AL_NA) al_buf_printf(&b, " (%+.1f%%)", (r->ratio - 1) * 100);
                al_buf_printf(&b, "</text>\n");
            }
        }
    }
    al_buf_printf(&b, "</svg>\n");
#undef X
#undef Y
    return b.s;
}
