/* workload.c — the benchmark prompts and the harness-owned clock.
 *
 * Prefill time is ai_generate's start to the first token callback (the
 * first token comes right after prefill); each decode step is the time
 * between two callbacks. The pipeline reports no speed of its own. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "stats.h"

#ifndef AI_SOURCE_DIR
#define AI_SOURCE_DIR "."
#endif

void ah_data_path(const char *data_dir, const char *name, char *out, size_t cap) {
    if (data_dir)
        snprintf(out, cap, "%s/%s", data_dir, name);
    else
        snprintf(out, cap, "%s/harness/%s", AI_SOURCE_DIR, name);
}

int ah_prompts_load(const char *path, ah_prompt *out, int cap, ai_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ai_error_set(err, "%s: cannot open the prompts: %s", path, strerror(errno));
    char line[2048];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line || !tab[1] || (size_t)(tab - line) >= sizeof out->id ||
            strlen(tab + 1) >= sizeof out->text) {
            fclose(f);
            return ai_error_set(err, "%s:%d: expected 'id<TAB>prompt text'", path, lineno);
        }
        if (n == cap) {
            fclose(f);
            return ai_error_set(err, "%s:%d: more than %d prompts", path, lineno, cap);
        }
        *tab = 0;
        snprintf(out[n].id, sizeof out[n].id, "%s", line);
        snprintf(out[n].text, sizeof out[n].text, "%s", tab + 1);
        n++;
    }
    fclose(f);
    if (!n) return ai_error_set(err, "%s: no prompts", path);
    return n;
}

char *ah_read_text(const char *path, ai_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(sz > 0 ? sz : 0) + 1);
    if (!buf) abort();
    size_t got = fread(buf, 1, (size_t)(sz > 0 ? sz : 0), f);
    fclose(f);
    buf[got] = 0;
    return buf;
}

uint64_t ah_random(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

int ah_round_prompts(ai_pipeline *p, const ah_prompt *base, int nb, const char *text,
                     int rounds, int min_tokens, uint64_t seed, int32_t **tok, int *ntok,
                     ai_error *err) {
    /* the passage pool: the reference text's words */
    int nw = 0, cw = 0;
    const char **words = NULL;
    int *wlen = NULL;
    for (const char *c = text; *c;) {
        while (*c && isspace((unsigned char)*c)) c++;
        if (!*c) break;
        const char *w = c;
        while (*c && !isspace((unsigned char)*c)) c++;
        if (nw == cw) {
            cw = cw ? cw * 2 : 1024;
            words = realloc(words, sizeof *words * (size_t)cw);
            wlen = realloc(wlen, sizeof *wlen * (size_t)cw);
            if (!words || !wlen) abort();
        }
        words[nw] = w;
        wlen[nw++] = (int)(c - w);
    }
    int rc = 0;
    uint64_t s = seed ? seed : 1;
    if (nw < 64) rc = ai_error_set(err, "the reference text has %d words; the speed prompts "
                                        "draw passages from it and need at least 64", nw);
    size_t cap = strlen(text) + sizeof base->text + 16;
    char *user = malloc(cap);
    if (!user) abort();
    for (int r = 0; r < rounds && !rc; r++)
        for (int i = 0; i < nb && !rc; i++) {
            int len = 8 + (int)(ah_random(&s) % 17); /* 8..24 words */
            int at = (int)(ah_random(&s) % (uint64_t)(nw - len));
            int32_t **t = &tok[r * nb + i];
            int *nt = &ntok[r * nb + i];
            for (;;) {
                size_t n = (size_t)snprintf(user, cap, "%s\n\n", base[i].text);
                for (int k = 0; k < len; k++)
                    n += (size_t)snprintf(user + n, cap - n, "%s%.*s", k ? " " : "",
                                          wlen[(at + k) % nw], words[(at + k) % nw]);
                *t = ah_chat_tokens(p, user, nt, err);
                if (!*t) {
                    rc = -1;
                    break;
                }
                if (*nt >= min_tokens) break;
                if (len == nw) {
                    rc = ai_error_set(err, "speed prompts of %d tokens: the whole reference "
                                           "text makes only %d", min_tokens, *nt);
                    break;
                }
                /* about 1.3 tokens a word: grow by most of what is missing */
                len += (min_tokens - *nt) * 2 / 3 + 1;
                if (len > nw) len = nw;
                free(*t);
                *t = NULL;
            }
        }
    free(user);
    free(words);
    free(wlen);
    return rc;
}

double ah_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ah_peak_rss_mb(int pid) {
    char path[64], line[256];
    if (pid) snprintf(path, sizeof path, "/proc/%d/status", pid);
    else snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    double mb = NAN;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            mb = kb / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}

int32_t *ah_chat_tokens(ai_pipeline *p, const char *user, int *n, ai_error *err) {
    size_t tcap = strlen(user) + 8192; /* what the template adds fits in 8 KiB */
    char *text = malloc(tcap);
    if (!text) abort();
    int len = ai_chat_format(p, NULL, user, text, tcap, err);
    if (len < 0) {
        free(text);
        return NULL;
    }
    int cap = len + 16;
    int32_t *tok = malloc(sizeof *tok * (size_t)cap);
    if (!tok) abort();
    int k = ai_tokenize(p, text, 1, 1, tok, cap, err);
    free(text);
    if (k < 0 || k > cap) {
        if (k > cap) ai_error_set(err, "tokenizer returned %d tokens for %d bytes", k, len);
        free(tok);
        return NULL;
    }
    *n = k;
    return tok;
}

typedef struct {
    double t0, first, last, resumed;
    double *steps; /* step durations, callback to callback */
    int n_steps;
    int count, limit;
    double inject;
    ah_capture *cap;
    size_t text_len;
} gen_state;

static int on_token(void *user, int32_t token, const char *text, size_t len) {
    gen_state *g = user;
    double now = ah_now();
    if (g->count == 0) g->first = now;
    else if (g->steps && g->n_steps < g->limit) g->steps[g->n_steps++] = now - g->last;
    g->last = now;
    if (g->cap) {
        if (g->cap->tokens && g->count < g->cap->tokens_cap) g->cap->tokens[g->count] = token;
        if (g->cap->text && g->text_len + len < g->cap->text_cap) {
            memcpy(g->cap->text + g->text_len, text, len);
            g->text_len += len;
            g->cap->text[g->text_len] = 0;
        }
    }
    g->count++;
    if (g->inject > 0 && g->count > 1) {
        /* test-only: burn `inject` x the engine's time for this step */
        double until = now + g->inject * (now - g->resumed);
        while (ah_now() < until) {
        }
    }
    g->resumed = ah_now();
    return g->count > g->limit; /* never asked for more than the budget */
}

/* Median, 10th/25th percentile and 20%-trimmed mean of the decode steps
 * (sorts them); NAN without steps. */
static void step_figures(double *steps, int n, ah_timing *t) {
    t->step_med_s = t->step_p10_s = t->step_p25_s = t->step_trim_s = NAN;
    if (!n) return;
    ah_sort(steps, n);
    t->step_med_s = ah_quantile_sorted(steps, n, 0.5);
    t->step_p10_s = ah_quantile_sorted(steps, n, 0.1);
    t->step_p25_s = ah_quantile_sorted(steps, n, 0.25);
    int cut = n / 5, k = 0;
    double sum = 0;
    for (int i = cut; i < n - cut; i++, k++) sum += steps[i];
    t->step_trim_s = k ? sum / k : NAN;
}

int ah_timed_generate(ah_subject *p, const int32_t *prompt, int n_prompt, int max_tokens,
                      int ignore_eos, double inject, ah_timing *t, ah_capture *cap,
                      ai_error *err) {
    gen_state g = {0};
    g.limit = max_tokens;
    g.inject = inject;
    g.cap = cap;
    if (cap && cap->text && cap->text_cap) cap->text[0] = 0;
    ai_gen_params params = {max_tokens, ignore_eos};
    g.steps = malloc(sizeof *g.steps * (size_t)(max_tokens > 0 ? max_tokens : 1));
    if (!g.steps) abort();
    g.t0 = ah_now();
    int n = ah_subject_generate(p, prompt, n_prompt, &params, on_token, &g, err);
    memset(t, 0, sizeof *t);
    step_figures(g.steps, g.n_steps, t);
    free(g.steps);
    if (n < 0) return -1;
    t->n_prompt = n_prompt;
    t->n_gen = g.count;
    if (n != g.count)
        return ai_error_set(err, "the pipeline returned %d tokens but the harness observed %d",
                            n, g.count);
    if (g.count > max_tokens)
        return ai_error_set(err, "the pipeline generated %d tokens, more than the %d asked for",
                            g.count, max_tokens);
    if (ignore_eos && g.count != max_tokens)
        return ai_error_set(err, "speed run: the harness observed %d tokens, expected exactly %d "
                            "(EOS ignored)", g.count, max_tokens);
    if (g.count > 0) {
        t->prefill_s = g.first - g.t0;
        t->decode_s = g.last - g.first;
    }
    return 0;
}

void ah_timing_from_arrivals(double t_sent, const double *arrive, int n, int n_prompt,
                             double inject, ah_timing *t) {
    memset(t, 0, sizeof *t);
    t->n_prompt = n_prompt;
    t->n_gen = n;
    double *steps = malloc(sizeof *steps * (size_t)(n > 1 ? n - 1 : 1));
    if (!steps) abort();
    for (int i = 1; i < n; i++) steps[i - 1] = (arrive[i] - arrive[i - 1]) * (1 + inject);
    if (n > 0) {
        t->prefill_s = arrive[0] - t_sent;
        t->decode_s = (arrive[n - 1] - arrive[0]) * (1 + inject);
    }
    step_figures(steps, n > 1 ? n - 1 : 0, t);
    free(steps);
}

int ah_speed_run(ah_subject *p, int32_t *const *prompts, const int *n_prompts, int n,
                 int tokens, double inject, ah_timing *t, ai_error *err) {
    for (int i = 0; i < n; i++)
        if (ah_timed_generate(p, prompts[i], n_prompts[i], tokens, 1, inject, &t[i], NULL, err))
            return -1;
    return 0;
}

void ah_run_figures(const ah_timing *t, int n, double *decode_tps, double *prefill_tps,
                    double *ttft_ms) {
    double dec_tok = 0, dec_s = 0, pre_tok = 0, pre_s = 0;
    for (int i = 0; i < n; i++) {
        dec_tok += t[i].n_gen - 1;
        dec_s += t[i].decode_s;
        pre_tok += t[i].n_prompt;
        pre_s += t[i].prefill_s;
    }
    *decode_tps = dec_s > 0 ? dec_tok / dec_s : NAN;
    *prefill_tps = pre_s > 0 ? pre_tok / pre_s : NAN;
    *ttft_ms = n > 0 ? pre_s / n * 1000 : NAN;
}
