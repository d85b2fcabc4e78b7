/* cliutil.c — see cliutil.h. */
#include "cliutil.h"

#include <stdbool.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ai_cli_set(ai_cli_conf *c, const char *cmd, const char *kv) {
    if (c->n_sets >= AI_CLI_MAX_SETS) {
        fprintf(stderr, "autoinfer %s: too many settings (at most %d)\n", cmd, AI_CLI_MAX_SETS);
        return -1;
    }
    c->sets[c->n_sets++] = kv;
    return 0;
}

int ai_cli_build_conf(const ai_cli_conf *c, const char *cmd, ai_conf *out) {
    ai_error err;
    ai_conf_defaults(out);
    const char *path = c->conf_path;
    if (!path && access("pipeline.conf", R_OK) == 0) path = "pipeline.conf";
    if (path && ai_conf_load(out, path, &err)) {
        fprintf(stderr, "autoinfer %s: %s\n", cmd, err.msg);
        return -1;
    }
    for (int i = 0; i < c->n_sets; i++) {
        if (ai_conf_set(out, c->sets[i], &err)) {
            fprintf(stderr, "autoinfer %s: %s\n", cmd, err.msg);
            return -1;
        }
    }
    return 0;
}

int ai_cli_parse_long(const char *cmd, const char *option, const char *text, long lo, long hi,
                      long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    /* strtol skips leading spaces and takes a sign: only digits (and '-') are a number here */
    bool digits = (text[0] >= '0' && text[0] <= '9') || (text[0] == '-' && text[1] >= '0' && text[1] <= '9');
    if (!digits || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "autoinfer %s: %s expects a whole number in %ld..%ld, got '%s'\n", cmd, option,
                lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

ai_pipeline *ai_cli_open(const char *cmd, const char *model, const ai_conf *conf) {
    ai_error err;
    ai_pipeline *p = ai_pipeline_open(model, conf, &err);
    if (!p) fprintf(stderr, "autoinfer %s: %s\n", cmd, err.msg);
    return p;
}

char *ai_cli_read_text(const char *cmd, const char *path) {
    bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "autoinfer %s: cannot read '%s': %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool failed = !buf || ferror(f);
    if (!is_stdin) fclose(f);
    if (failed) {
        fprintf(stderr, "autoinfer %s: cannot read '%s': %s\n", cmd, path,
                buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}
