/* workload.c — the benchmark prompts and the harness-owned clock.
 *
 * Prefill time is ai_generate's start to the first token callback (the
 * first token comes right after prefill); each decode step is the time
 * between two callbacks. The pipeline reports no speed of its own. */
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

double ah_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ah_peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
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
    char text[8192];
    int len = ai_chat_format(p, NULL, user, text, sizeof text, err);
    if (len < 0) return NULL;
    if ((size_t)len >= sizeof text) {
        ai_error_set(err, "chat-formatted prompt is longer than %zu bytes", sizeof text);
        return NULL;
    }
    int cap = len + 16;
    int32_t *tok = malloc(sizeof *tok * (size_t)cap);
    if (!tok) abort();
    int k = ai_tokenize(p, text, 1, 1, tok, cap, err);
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

int ah_timed_generate(ai_pipeline *p, const int32_t *prompt, int n_prompt, int max_tokens,
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
    int n = ai_generate(p, prompt, n_prompt, &params, on_token, &g, err);
    double step_med = NAN, p10 = NAN, p25 = NAN, trim = NAN;
    if (g.n_steps) {
        ah_sort(g.steps, g.n_steps);
        step_med = ah_quantile_sorted(g.steps, g.n_steps, 0.5);
        p10 = ah_quantile_sorted(g.steps, g.n_steps, 0.1);
        p25 = ah_quantile_sorted(g.steps, g.n_steps, 0.25);
        int cut = g.n_steps / 5, k = 0;
        double sum = 0;
        for (int i = cut; i < g.n_steps - cut; i++, k++) sum += g.steps[i];
        trim = k ? sum / k : NAN;
    }
    free(g.steps);
    if (n < 0) return -1;
    memset(t, 0, sizeof *t);
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
    t->step_med_s = step_med;
    t->step_p10_s = p10;
    t->step_p25_s = p25;
    t->step_trim_s = trim;
    return 0;
}

int ah_speed_run(ai_pipeline *p, int32_t *const *prompts, const int *n_prompts, int n,
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
