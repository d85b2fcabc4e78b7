/* search.c — the built-in search (`--strategy search`): few full
 * evaluations, joint moves, refinement, no retried rejections.
 *
 * Around the current best configuration the search builds a neighbourhood
 * of moves over the knobs that can move the objective (ai_knob_info.moves):
 *   - single moves: one knob to one of its listed values;
 *   - joint moves: two knobs that interact (ai_knob_info.joint) changed
 *     together, e.g. threads x spin, which often only help jointly;
 *   - refinements: a numeric knob to the midpoint between its current value
 *     and its neighbours among the listed ones (after a kept 8 -> 32, the
 *     next neighbourhood tries 20), so a number is not limited to its list.
 * Moves rejected at this same configuration (by a full A/B or by the
 * screening) are remembered by a hash of (configuration, move) and not
 * tried again until the configuration changes.
 *
 * Then successive halving: every move gets a short speed-only screening
 * measurement; the better half (and only those that looked faster than the
 * best) is screened again with twice the rounds, until at most `promote`
 * remain or a rung would be as long as a full A/B. The survivors, best
 * first, get the full interleaved A/B with the quality gate, one experiment
 * each; the first keep (which the driver confirms with a second A/B) moves
 * the best, and a new neighbourhood is built around it. A neighbourhood
 * whose survivors are all rejected ends the search.
 *
 * This file only decides what to measure next; the driver (optimise.c) and
 * the simulated landscape in tests/test_loop_unit.c measure. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

static const char *const FIGURES[] = {"decode", "prefill", "ttft", "memory"};

int al_figures_parse(const char *list, unsigned *mask) {
    *mask = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        size_t len = strcspn(p, ", ");
        if (!len) break;
        int found = 0;
        for (unsigned i = 0; i < sizeof FIGURES / sizeof FIGURES[0]; i++)
            if (strlen(FIGURES[i]) == len && !strncmp(FIGURES[i], p, len)) {
                *mask |= 1u << i;
                found = 1;
            }
        if (!found) return -1;
        p += len;
    }
    return 0;
}

/* The i-th comma-separated entry of list, trimmed; -1 past the end. */
static int list_item(const char *list, int i, char *out, size_t cap) {
    const char *p = list ? list : "";
    for (int k = 0; *p; k++) {
        size_t len = strcspn(p, ",");
        if (k == i) {
            const char *s = p;
            while (len && isspace((unsigned char)*s)) s++, len--;
            while (len && isspace((unsigned char)s[len - 1])) len--;
            snprintf(out, cap, "%.*s", (int)len, s);
            return 0;
        }
        p += len + (p[len] == ',');
    }
    return -1;
}

static int find_knob(const al_search *s, const char *name) {
    for (int i = 0; i < s->nk; i++)
        if (!strcmp(s->knobs[i].name, name)) return i;
    return -1;
}

static int listed(const char *list, const char *name) {
    char v[64];
    for (int i = 0; list_item(list, i, v, sizeof v) == 0; i++)
        if (!strcmp(v, name)) return 1;
    return 0;
}

/* May the search move knob k: in --knobs (when given), acting on this
 * backend, and able to move the objective? */
static int relevant(const al_search *s, int k) {
    const ai_knob_info *kn = &s->knobs[k];
    unsigned m;
    if (s->o.only[0] && !listed(s->o.only, kn->name)) return 0;
    if (s->o.backend[0] && kn->backend && kn->backend[0] && strcmp(kn->backend, s->o.backend))
        return 0;
    return al_figures_parse(kn->moves, &m) == 0 && (m & s->o.objective);
}

static uint64_t fnv(uint64_t h, const char *str) {
    for (; *str; str++) h = (h ^ (unsigned char)*str) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* a separator */
}

/* The (configuration, move) fingerprint of the rejected-move memory. */
static uint64_t move_hash(const al_search *s, const al_move *m) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < s->nk; i++) h = fnv(fnv(h, s->knobs[i].name), s->cur[i]);
    return fnv(h, m->desc);
}

static int was_rejected(const al_search *s, const al_move *m) {
    uint64_t h = move_hash(s, m);
    for (int i = 0; i < s->ntried; i++)
        if (s->tried[i] == h) return 1;
    return 0;
}

static void reject(al_search *s, const al_move *m) {
    if (s->ntried < AL_SEARCH_MAX_TRIED && !was_rejected(s, m)) s->tried[s->ntried++] = move_hash(s, m);
}

/* Numbers compare as numbers ("0" == "0.0"), other values as text. */
static int same_value(const char *a, const char *b) {
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && !*ea && eb != b && !*eb) return x == y;
    return !strcmp(a, b);
}

static void add_move(al_search *s, int n, const int *knob, char value[][64]) {
    if (s->ncand >= AL_SEARCH_MAX_CANDS) return;
    al_move m = {0};
    m.n = n;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (!value[i][0] || same_value(value[i], s->cur[knob[i]])) return;
        m.knob[i] = knob[i];
        snprintf(m.value[i], sizeof m.value[i], "%s", value[i]);
        used += (size_t)snprintf(m.desc + used, sizeof m.desc - used, "%s%s %s -> %s",
                                 i ? ", " : "", s->knobs[knob[i]].name, s->cur[knob[i]], value[i]);
        if (used >= sizeof m.desc) used = sizeof m.desc - 1;
    }
    for (int c = 0; c < s->ncand; c++)
        if (!strcmp(s->cand[c].desc, m.desc)) return;
    if (was_rejected(s, &m)) return;
    s->cand[s->ncand] = m;
    s->score_log[s->ncand] = 0;
    s->score_rounds[s->ncand] = 0;
    s->alive[s->ncand] = 1;
    s->ncand++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Midpoints between the current value of numeric knob k and its neighbours
 * among {default, listed values, current}, inside the knob's domain. */
static void add_refinements(al_search *s, int k) {
    const ai_knob_info *kn = &s->knobs[k];
    if (kn->kind == AI_KNOB_CHOICE) return;
    double pts[34];
    int np = 0;
    char v[64];
    pts[np++] = atof(kn->default_value);
    pts[np++] = atof(s->cur[k]);
    for (int i = 0; np < 34 && list_item(kn->search, i, v, sizeof v) == 0; i++)
        if (v[0]) pts[np++] = atof(v);
    qsort(pts, (size_t)np, sizeof pts[0], cmp_double);
    double cur = atof(s->cur[k]);
    const char *dots = strstr(kn->domain, "..");
    double lo = atof(kn->domain), hi = dots ? atof(dots + 2) : lo;
    double below = -INFINITY, above = INFINITY;
    for (int i = 0; i < np; i++) {
        if (pts[i] < cur) below = pts[i];
        if (pts[i] > cur && above == INFINITY) above = pts[i];
    }
    double ends[2] = {below, above};
    for (int e = 0; e < 2; e++) {
        if (!isfinite(ends[e])) continue;
        double mid = (ends[e] + cur) / 2;
        if (kn->kind == AI_KNOB_INT) mid = round(mid);
        if (mid == cur || mid == ends[e] || mid < lo || mid > hi) continue;
        char val[1][64];
        if (kn->kind == AI_KNOB_INT)
            snprintf(val[0], sizeof val[0], "%.0f", mid);
        else
            snprintf(val[0], sizeof val[0], "%g", mid);
        add_move(s, 1, &k, val);
    }
}

static void build_neighbourhood(al_search *s) {
    s->ncand = 0;
    char v[64], w[64], name[64];
    for (int k = 0; k < s->nk; k++) {
        if (!relevant(s, k)) continue;
        for (int i = 0; list_item(s->knobs[k].search, i, v, sizeof v) == 0; i++) {
            char val[1][64];
            snprintf(val[0], sizeof val[0], "%s", v);
            add_move(s, 1, &k, val);
        }
        add_refinements(s, k);
    }
    for (int k = 0; k < s->nk; k++) {
        if (!relevant(s, k)) continue;
        for (int t = 0; list_item(s->knobs[k].joint, t, name, sizeof name) == 0; t++) {
            int j = find_knob(s, name);
            if (j < 0 || !relevant(s, j)) continue;
            for (int a = 0; list_item(s->knobs[k].search, a, v, sizeof v) == 0; a++)
                for (int b = 0; list_item(s->knobs[j].search, b, w, sizeof w) == 0; b++) {
                    int both[2] = {k, j};
                    char vals[2][64];
                    snprintf(vals[0], sizeof vals[0], "%s", v);
                    snprintf(vals[1], sizeof vals[1], "%s", w);
                    add_move(s, 2, both, vals);
                }
        }
    }
    s->rung = 0;
    s->rung_rounds = s->o.screen_rounds;
    s->next = 0;
    s->nfull = s->next_full = 0;
    s->phase = s->ncand ? AL_PHASE_SCREEN : AL_PHASE_DONE;
}

int al_search_init(al_search *s, const ai_knob_info *knobs, int nk, const al_search_opts *o,
                   const char *conf_text) {
    memset(s, 0, sizeof *s);
    if (nk > AL_SEARCH_MAX_KNOBS) return -1;
    s->knobs = knobs;
    s->nk = nk;
    s->o = *o;
    if (s->o.screen_rounds < 2) s->o.screen_rounds = 2;
    if (s->o.promote < 1) s->o.promote = 1;
    for (int k = 0; k < nk; k++)
        if (al_conf_text_get(conf_text, knobs[k].name, s->cur[k], sizeof s->cur[k]) != 0)
            snprintf(s->cur[k], sizeof s->cur[k], "%s", knobs[k].default_value);
    s->phase = AL_PHASE_NEW;
    return 0;
}

static double score(const al_search *s, int c) {
    return s->score_rounds[c] ? exp(s->score_log[c] / s->score_rounds[c]) : 0;
}

/* After a rung: the better half of those that looked faster survives. */
static void halve(al_search *s) {
    int idx[AL_SEARCH_MAX_CANDS], n = 0;
    for (int c = 0; c < s->ncand; c++) {
        if (!s->alive[c]) continue;
        if (score(s, c) > 1.0) {
            idx[n++] = c;
        } else {
            s->alive[c] = 0;
            reject(s, &s->cand[c]);
        }
    }
    /* best first (insertion sort: a neighbourhood is small) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && score(s, idx[j]) > score(s, idx[j - 1]); j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    int last_rung = n <= s->o.promote || 2 * s->rung_rounds >= s->o.full_rounds;
    int keep = last_rung ? (n < s->o.promote ? n : s->o.promote) : (n + 1) / 2;
    for (int i = keep; i < n; i++) {
        s->alive[idx[i]] = 0;
        reject(s, &s->cand[idx[i]]);
    }
    if (last_rung) {
        s->nfull = keep;
        for (int i = 0; i < keep; i++) s->full[i] = idx[i];
        s->next_full = 0;
        s->phase = keep ? AL_PHASE_FULL : AL_PHASE_DONE;
    } else {
        s->rung++;
        s->rung_rounds *= 2;
        s->next = 0;
    }
}

int al_search_next(al_search *s, al_move *m, int *rounds) {
    for (;;) {
        switch (s->phase) {
        case AL_PHASE_NEW:
            build_neighbourhood(s);
            continue;
        case AL_PHASE_SCREEN:
            while (s->next < s->ncand && !s->alive[s->next]) s->next++;
            if (s->next >= s->ncand) {
                halve(s);
                continue;
            }
            *m = s->cand[s->next];
            *rounds = s->rung_rounds;
            return AL_SEARCH_SCREEN;
        case AL_PHASE_FULL:
            if (s->next_full >= s->nfull) {
                s->phase = AL_PHASE_DONE;
                continue;
            }
            *m = s->cand[s->full[s->next_full]];
            *rounds = s->o.full_rounds;
            return AL_SEARCH_FULL;
        default:
            return AL_SEARCH_DONE;
        }
    }
}

void al_search_screened(al_search *s, double ratio) {
    if (s->phase != AL_PHASE_SCREEN || s->next >= s->ncand) return;
    int c = s->next++;
    if (!(ratio > 0) || !isfinite(ratio)) { /* crashed, or broke a constraint */
        s->alive[c] = 0;
        reject(s, &s->cand[c]);
        return;
    }
    /* every rung's rounds count: the score pools them (a geometric mean) */
    s->score_log[c] += log(ratio) * s->rung_rounds;
    s->score_rounds[c] += s->rung_rounds;
}

void al_search_decided(al_search *s, int kept) {
    if (s->phase != AL_PHASE_FULL || s->next_full >= s->nfull) return;
    const al_move *m = &s->cand[s->full[s->next_full++]];
    if (!kept) {
        reject(s, m);
        return;
    }
    for (int i = 0; i < m->n; i++)
        snprintf(s->cur[m->knob[i]], sizeof s->cur[0], "%s", m->value[i]);
    s->phase = AL_PHASE_NEW;
}

char *al_move_apply(const al_search *s, const al_move *m, const char *conf_text) {
    char *text = strdup(conf_text ? conf_text : "");
    for (int i = 0; text && i < m->n; i++) {
        char *next = al_conf_text_set(text, s->knobs[m->knob[i]].name, m->value[i]);
        free(text);
        text = next;
    }
    return text;
}

/* The objectives: the mask of the figures a knob must move to matter,
 * and where the A/B's ratio is (-1: the decode ratio, else al_eval.fig[]). */
static const struct {
    const char *name;
    unsigned mask;
    int fig;
} OBJECTIVES[] = {
    {"decode", AL_FIG_DECODE, -1},
    {"prefill", AL_FIG_PREFILL, 0},
    {"ttft", AL_FIG_TTFT, 1},
    {"request", AL_FIG_DECODE | AL_FIG_PREFILL | AL_FIG_TTFT, 2},
};

int al_objective_parse(const char *name, unsigned *mask) {
    for (size_t i = 0; i < sizeof OBJECTIVES / sizeof OBJECTIVES[0]; i++)
        if (!strcmp(name, OBJECTIVES[i].name)) {
            *mask = OBJECTIVES[i].mask;
            return 0;
        }
    return -1;
}

void al_eval_objective(al_eval *e, unsigned objective) {
    for (size_t i = 0; i < sizeof OBJECTIVES / sizeof OBJECTIVES[0]; i++) {
        if (OBJECTIVES[i].mask != objective || OBJECTIVES[i].fig < 0) continue;
        const struct al_figure *f = &e->fig[OBJECTIVES[i].fig];
        e->ratio = f->ratio;
        e->ratio_lo = f->lo;
        e->ratio_hi = f->hi;
        e->p = f->p;
        snprintf(e->verdict, sizeof e->verdict, "%s", f->verdict);
    }
}

int al_eval_constraint(const al_eval *e, double max_memory_mb, char *why, size_t cap) {
    if (max_memory_mb <= 0 || e->rss_mb.median == AL_NA || e->rss_mb.median <= max_memory_mb)
        return 0;
    snprintf(why, cap, "constraint: peak memory %.0f MB is above --max-memory %.0f MB",
             e->rss_mb.median, max_memory_mb);
    return 1;
}
