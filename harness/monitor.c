/* monitor.c — the seed's change monitor: every knob that differs from the
 * baseline with the tradeoff the pipeline declares for it, and the size of
 * the code change under engine/ (lines from git, functions from a scan). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int same_value(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    return ea != a && eb != b && !*ea && !*eb && x == y;
}

static const char *tradeoff_of(const char *key) {
    int n;
    const ai_knob_info *k = ai_knobs(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(k[i].name, key)) return k[i].tradeoff;
    return "this knob is unknown to the current pipeline";
}

static void add_change(ah_changes *out, const char *key, const char *base, const char *cur) {
    if (out->n_knobs >= (int)(sizeof out->knobs / sizeof out->knobs[0])) return;
    ah_knob_change *c = &out->knobs[out->n_knobs++];
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->baseline, sizeof c->baseline, "%s", base);
    snprintf(c->current, sizeof c->current, "%s", cur);
    c->tradeoff = tradeoff_of(key);
}

void ah_knob_diff(const ai_conf *base, const ai_conf *cur, ah_changes *out) {
    for (int i = 0; i < cur->n; i++) {
        const char *b = ai_conf_get(base, cur->keys[i]);
        if (!b) add_change(out, cur->keys[i], "(absent)", cur->values[i]);
        else if (!same_value(b, cur->values[i])) add_change(out, cur->keys[i], b, cur->values[i]);
    }
    for (int i = 0; i < base->n; i++)
        if (!ai_conf_get(cur, base->keys[i]))
            add_change(out, base->keys[i], base->values[i], "(absent)");
}

/* ---- function scan ------------------------------------------------------------ */

static void push_name(char ***names, int *n, const char *s, size_t len) {
    char **grown = realloc(*names, sizeof *grown * (size_t)(*n + 1));
    if (!grown) abort();
    *names = grown;
    char *c = malloc(len + 1);
    if (!c) abort();
    memcpy(c, s, len);
    c[len] = 0;
    (*names)[(*n)++] = c;
}

/* A definition starts at column 0 with an identifier, reaches '{' before
 * any ';', has a '(' and no '=' before it; its name is the identifier
 * right before the first '('. Comments and preprocessor lines are skipped
 * line-wise, which is enough for code written in this project's style. */
int ah_scan_functions(const char *src, char ***names, int *n) {
    int found = 0;
    const char *p = src;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && (isalpha((unsigned char)*p) || *p == '_') && strncmp(p, "typedef", 7) &&
            strncmp(p, "struct", 6) && strncmp(p, "enum", 4) && strncmp(p, "union", 5)) {
            /* collect the declaration up to '{' or ';' */
            const char *q = p;
            int depth = 0;
            const char *paren = NULL;
            int is_def = 0, bad = 0;
            for (; *q; q++) {
                if (*q == '(') {
                    if (!paren) paren = q;
                    depth++;
                } else if (*q == ')') {
                    depth--;
                } else if (*q == '=' && !paren) {
                    bad = 1;
                } else if (*q == ';' && depth == 0) {
                    break;
                } else if (*q == '{' && depth == 0) {
                    is_def = 1;
                    break;
                } else if (*q == '\n' && q[1] == '\n') {
                    break; /* a blank line ends any declaration */
                }
            }
            if (is_def && paren && !bad) {
                const char *e = paren;
                while (e > p && isspace((unsigned char)e[-1])) e--;
                const char *s = e;
                while (s > p && (isalnum((unsigned char)s[-1]) || s[-1] == '_')) s--;
                if (e > s) {
                    push_name(names, n, s, (size_t)(e - s));
                    found++;
                }
            }
            /* continue after the declaration, not inside it */
            if (*q && q > p + len) eol = strchr(q, '\n');
        }
        if (!eol) break;
        p = eol + 1;
    }
    return found;
}

static char *read_all(FILE *f) {
    size_t cap = 1 << 14, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            cap *= 2;
            char *g = realloc(buf, cap);
            if (!g) abort();
            buf = g;
        }
    }
    buf[len] = 0;
    return buf;
}

static int is_c_file(const char *name) {
    size_t n = strlen(name);
    return n > 2 && name[n - 2] == '.' && (name[n - 1] == 'c' || name[n - 1] == 'h');
}

/* Functions defined in engine/ at `commit` (commit == NULL: the working tree). */
static int engine_functions(const char *src_dir, const char *commit, char ***names, int *n) {
    char cmd[8600];
    if (commit) {
        snprintf(cmd, sizeof cmd, "git -C '%s' ls-tree -r --name-only '%s' -- engine/ 2>/dev/null",
                 src_dir, commit);
        FILE *ls = popen(cmd, "r");
        if (!ls) return -1;
        char *list = read_all(ls);
        int st = pclose(ls);
        if (st) {
            free(list);
            return -1;
        }
        for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
            if (!is_c_file(line)) continue;
            snprintf(cmd, sizeof cmd, "git -C '%s' show '%s:%s' 2>/dev/null", src_dir, commit, line);
            FILE *f = popen(cmd, "r");
            if (!f) continue;
            char *text = read_all(f);
            pclose(f);
            ah_scan_functions(text, names, n);
            free(text);
        }
        free(list);
        return 0;
    }
    snprintf(cmd, sizeof cmd, "%s/engine", src_dir);
    DIR *d = opendir(cmd);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_c_file(e->d_name)) continue;
        char path[8600];
        snprintf(path, sizeof path, "%s/engine/%s", src_dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char *text = read_all(f);
        fclose(f);
        ah_scan_functions(text, names, n);
        free(text);
    }
    closedir(d);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in x missing from y (both sorted) are appended to out. */
static void set_minus(char **x, int nx, char **y, int ny, char ***out, int *n) {
    int j = 0;
    for (int i = 0; i < nx; i++) {
        if (i > 0 && !strcmp(x[i], x[i - 1])) continue;
        while (j < ny && strcmp(y[j], x[i]) < 0) j++;
        if (j < ny && !strcmp(y[j], x[i])) continue;
        push_name(out, n, x[i], strlen(x[i]));
    }
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

void ah_engine_diff(const char *src_dir, const char *commit, ah_changes *out) {
    snprintf(out->baseline_commit, sizeof out->baseline_commit, "%s", commit);
    out->lines_added = out->lines_removed = -1;
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "git -C '%s' diff --numstat '%s' -- engine/ 2>/dev/null", src_dir,
             commit);
    FILE *f = popen(cmd, "r");
    if (f) {
        char *text = read_all(f);
        if (pclose(f) == 0) {
            out->lines_added = out->lines_removed = 0;
            for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                long a, r;
                if (sscanf(line, "%ld %ld", &a, &r) == 2) {
                    out->lines_added += a;
                    out->lines_removed += r;
                }
            }
        }
        free(text);
    }
    char **base = NULL, **cur = NULL;
    int nb = 0, nc = 0;
    if (engine_functions(src_dir, commit, &base, &nb) == 0 &&
        engine_functions(src_dir, NULL, &cur, &nc) == 0) {
        if (nb) qsort(base, (size_t)nb, sizeof *base, cmp_str);
        if (nc) qsort(cur, (size_t)nc, sizeof *cur, cmp_str);
        set_minus(cur, nc, base, nb, &out->fn_added, &out->n_fn_added);
        set_minus(base, nb, cur, nc, &out->fn_removed, &out->n_fn_removed);
    }
    free_names(base, nb);
    free_names(cur, nc);
}

void ah_changes_free(ah_changes *c) {
    free_names(c->fn_added, c->n_fn_added);
    free_names(c->fn_removed, c->n_fn_removed);
    c->fn_added = c->fn_removed = NULL;
    c->n_fn_added = c->n_fn_removed = 0;
}
