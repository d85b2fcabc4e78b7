/* strategy.c — the built-in search: coordinate descent over the pipeline's
 * knob table (include/autoinfer.h, ai_knobs()), no knob named here.
 *
 * The engine lists its knobs in the order worth searching (sampling first —
 * the seed's win — then threads, kernels, KV cache, prefill) and, for each,
 * the values worth trying. One experiment tries one value of one knob
 * against the current best; a kept value becomes the new best at once. A
 * pass visits every knob; another pass follows while the last one kept
 * something (at most AL_MAX_PASSES); the search ends when a pass keeps
 * nothing. Values equal to the current best's are skipped for free. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

/* The i-th comma-separated entry of list (trimmed) into out; -1 past the end. */
static int nth_value(const char *list, int i, char *out, size_t cap) {
    const char *p = list;
    for (int k = 0; p && *p; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (k == i) {
            while (len && isspace((unsigned char)*p)) p++, len--;
            while (len && isspace((unsigned char)p[len - 1])) len--;
            if (len >= cap) len = cap - 1;
            memcpy(out, p, len);
            out[len] = 0;
            return 0;
        }
        p = comma ? comma + 1 : NULL;
    }
    return -1;
}

/* Numeric values compare as numbers ("0" == "0.0"), others as text. */
static int same_value(const char *a, const char *b) {
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && !*ea && eb != b && !*eb) return x == y;
    return !strcmp(a, b);
}

int al_conf_text_get(const char *text, const char *key, char *out, size_t cap) {
    if (!text) return -1;
    size_t klen = strlen(key);
    int found = -1;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *p = line;
        while (p < line + len && isspace((unsigned char)*p)) p++;
        if (p + klen <= line + len && !strncmp(p, key, klen)) {
            const char *q = p + klen;
            while (q < line + len && (*q == ' ' || *q == '\t')) q++;
            if (q < line + len && *q == '=') {
                q++;
                const char *end = line + len;
                const char *hash = memchr(q, '#', (size_t)(end - q));
                if (hash) end = hash;
                while (q < end && isspace((unsigned char)*q)) q++;
                while (end > q && isspace((unsigned char)end[-1])) end--;
                size_t vlen = (size_t)(end - q);
                if (vlen >= cap) vlen = cap - 1;
                memcpy(out, q, vlen);
                out[vlen] = 0;
                found = 0; /* the last assignment wins, as in a conf load */
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return found;
}

char *al_conf_text_set(const char *text, const char *key, const char *value) {
    if (!text) text = "";
    size_t klen = strlen(key), n = strlen(text);
    size_t cap = n + klen + strlen(value) + 16;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t used = 0;
    int replaced = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        const char *p = line;
        while (p < line + len && (*p == ' ' || *p == '\t')) p++;
        const char *q = p + klen;
        int match = (size_t)(line + len - p) > klen && !strncmp(p, key, klen);
        if (match) {
            while (q < line + len && (*q == ' ' || *q == '\t')) q++;
            match = q < line + len && *q == '=';
        }
        if (match) {
            if (!replaced) used += (size_t)snprintf(out + used, cap - used, "%s = %s\n", key, value);
            replaced = 1;
        } else {
            memcpy(out + used, line, len);
            used += len;
        }
        line += len;
    }
    if (!replaced) {
        if (used && out[used - 1] != '\n') out[used++] = '\n';
        used += (size_t)snprintf(out + used, cap - used, "%s = %s\n", key, value);
    }
    out[used] = 0;
    return out;
}

int al_strat_next(al_strat *st, const ai_knob_info *knobs, int nk,
                  const char *conf_text, char *key, size_t kcap, char *value,
                  size_t vcap, char *desc, size_t dcap) {
    while (!st->done) {
        if (st->knob >= nk) {
            if (st->kept_in_pass && st->pass + 1 < AL_MAX_PASSES) {
                st->pass++;
                st->knob = st->value = st->kept_in_pass = 0;
                continue;
            }
            st->done = 1;
            break;
        }
        const ai_knob_info *k = &knobs[st->knob];
        char v[64];
        if (!k->search || nth_value(k->search, st->value, v, sizeof v) != 0) {
            st->knob++;
            st->value = 0;
            continue;
        }
        char cur[64];
        if (al_conf_text_get(conf_text, k->name, cur, sizeof cur) != 0)
            snprintf(cur, sizeof cur, "%s", k->default_value);
        if (!v[0] || same_value(v, cur)) {
            st->value++;
            continue;
        }
        snprintf(key, kcap, "%s", k->name);
        snprintf(value, vcap, "%s", v);
        snprintf(desc, dcap, "%s %s -> %s", k->name, cur, v);
        return 1;
    }
    return 0;
}

void al_strat_advance(al_strat *st, int nk, int kept) {
    if (st->done) return;
    if (kept) st->kept_in_pass = 1;
    st->value++;
    (void)nk;
}
