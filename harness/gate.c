/* gate.c — see gate.h. */
#include "gate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ah_gate_defaults(ah_gate *g) {
    memset(g, 0, sizeof *g);
    g->sanity_min = 0.6;
    g->sanity_drop_max = 0.2;
    g->ppl_max = 50;
    g->ppl_ratio_max = 1.01;
    g->kl_mean_max = 0.007;
    g->kl_p99_max = 0.05;
    g->top1_min = 0.95;
    g->self_ppl_ratio_max = 1.5;
    g->tokenizer_must_match = 1;
    g->roofline_margin = 1.25;
    g->work_excess_max = 1.0;
    g->sanity_tokens = 256;
    g->greedy_tokens = 128;
    snprintf(g->greedy_set, sizeof g->greedy_set, "temperature=0");
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_num(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < lo || d > hi) return -1;
    *out = d;
    return 0;
}

int ah_gate_load(ah_gate *g, const char *path, ai_error *err) {
    static const struct {
        const char *key;
        size_t off;
        int is_int;
        double lo, hi;
    } KEYS[] = {
        {"sanity_min", offsetof(ah_gate, sanity_min), 0, 0, 1},
        {"sanity_drop_max", offsetof(ah_gate, sanity_drop_max), 0, 0, 1},
        {"ppl_max", offsetof(ah_gate, ppl_max), 0, 1, 1e9},
        {"ppl_ratio_max", offsetof(ah_gate, ppl_ratio_max), 0, 1, 1e9},
        {"kl_mean_max", offsetof(ah_gate, kl_mean_max), 0, 0, 100},
        {"kl_p99_max", offsetof(ah_gate, kl_p99_max), 0, 0, 100},
        {"top1_min", offsetof(ah_gate, top1_min), 0, 0, 1},
        {"self_ppl_ratio_max", offsetof(ah_gate, self_ppl_ratio_max), 0, 1, 1e9},
        {"tokenizer_must_match", offsetof(ah_gate, tokenizer_must_match), 1, 0, 1},
        {"roofline_margin", offsetof(ah_gate, roofline_margin), 0, 1, 100},
        {"work_excess_max", offsetof(ah_gate, work_excess_max), 0, 0, 100},
        {"sanity_tokens", offsetof(ah_gate, sanity_tokens), 1, 8, 4096},
        {"greedy_tokens", offsetof(ah_gate, greedy_tokens), 1, 8, 4096},
    };
    FILE *f = fopen(path, "r");
    if (!f) return ai_error_set(err, "%s: cannot open the gate config: %s", path, strerror(errno));
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fclose(f);
            return ai_error_set(err, "%s:%d: expected 'key = value', got '%s'", path, lineno, s);
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        if (!strcmp(key, "greedy_set")) {
            if (strlen(val) >= sizeof g->greedy_set) {
                fclose(f);
                return ai_error_set(err, "%s:%d: greedy_set is too long", path, lineno);
            }
            snprintf(g->greedy_set, sizeof g->greedy_set, "%s", val);
            continue;
        }
        size_t k = 0, nk = sizeof KEYS / sizeof KEYS[0];
        while (k < nk && strcmp(KEYS[k].key, key)) k++;
        if (k == nk) {
            fclose(f);
            return ai_error_set(err, "%s:%d: unknown gate key '%s'", path, lineno, key);
        }
        double d;
        if (parse_num(val, KEYS[k].lo, KEYS[k].hi, &d) ||
            (KEYS[k].is_int && d != floor(d))) {
            fclose(f);
            return ai_error_set(err, "%s:%d: bad value '%s' for %s: expected %s in %g..%g",
                                path, lineno, val, key,
                                KEYS[k].is_int ? "an integer" : "a number", KEYS[k].lo,
                                KEYS[k].hi);
        }
        char *field = (char *)g + KEYS[k].off;
        if (KEYS[k].is_int) *(int *)field = (int)d;
        else *(double *)field = d;
    }
    fclose(f);
    return 0;
}

typedef struct {
    char *buf;
    size_t len;
    int cap, n;
} fail_list;

static void fail(fail_list *fl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(fail_list *fl, const char *fmt, ...) {
    if (fl->n < fl->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fl->buf + (size_t)fl->n * fl->len, fl->len, fmt, ap);
        va_end(ap);
    }
    fl->n++;
}

int ah_gate_check(const ah_gate *g, const ah_quality_figs *q, char *failures, size_t len,
                  int cap) {
    fail_list fl = {failures, len, cap, 0};
    double floor_ = g->sanity_min;
    if (q->has_baseline && isfinite(q->base_sanity) &&
        q->base_sanity - g->sanity_drop_max < floor_)
        floor_ = q->base_sanity - g->sanity_drop_max;
    if (!(q->sanity >= floor_ - 1e-9))
        fail(&fl, "sanity %.2f < %.2f", q->sanity, floor_);
    if (!(q->ppl < g->ppl_max)) fail(&fl, "perplexity %.3f >= %.1f", q->ppl, g->ppl_max);
    if (q->has_baseline) {
        if (!(q->ppl_ratio <= g->ppl_ratio_max))
            fail(&fl, "ppl_ratio %.4f > %.4f", q->ppl_ratio, g->ppl_ratio_max);
        if (!(q->kl_mean <= g->kl_mean_max))
            fail(&fl, "kl_mean %.5f > %.5f", q->kl_mean, g->kl_mean_max);
        if (!(q->kl_p99 <= g->kl_p99_max))
            fail(&fl, "kl_p99 %.4f > %.4f", q->kl_p99, g->kl_p99_max);
        if (!(q->top1 >= g->top1_min))
            fail(&fl, "top1_agree %.4f < %.4f", q->top1, g->top1_min);
        if (isfinite(q->self_ppl_ratio) && q->self_ppl_ratio > g->self_ppl_ratio_max)
            fail(&fl, "self_ppl_ratio %.3f > %.3f (the sampler picks unlikelier tokens than "
                 "the baseline's)", q->self_ppl_ratio, g->self_ppl_ratio_max);
        if (g->tokenizer_must_match && !q->tokenizer_match)
            fail(&fl, "the reference text tokenizes differently from the baseline");
    }
    return fl.n;
}
