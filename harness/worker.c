/* worker.c — `autoinfer eval --worker`: the candidate's side of `--ab`.
 *
 * The worker computes; the judge (the harness that runs --ab, another
 * process) owns the clock. The worker loads the model, says hello, then
 * answers requests on stdin, one per line, until "quit" or EOF:
 *
 *   judge:  gen N K t1 .. tK     prefill the K prompt tokens from an empty
 *                                cache, then sample exactly N tokens with
 *                                the pipeline's own sampler (EOS ignored)
 *   worker: one line per token, "<id>", written and flushed as it is made
 *
 * Every request looks the same whether the judge times it, warms up with
 * it or checks its tokens: nothing tells the worker which. Whatever else it
 * prints is a protocol error, never a result. Protocol text:
 *
 *   hello:  "autoinfer-worker <version> <backend> <bytes/token> <device bytes> <device>"
 *   error:  "error <message>" then exit 1
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    int sent, limit;
} serve_state;

static int on_token(void *user, int32_t token, const char *text, size_t len) {
    (void)text;
    (void)len;
    serve_state *s = user;
    printf("%d\n", (int)token);
    fflush(stdout);
    return ++s->sent >= s->limit;
}

static int fail(const char *fmt, const char *what) {
    printf("error ");
    printf(fmt, what);
    printf("\n");
    fflush(stdout);
    return 1;
}

/* Parses "gen N K t1 .. tK" into n, prompt (malloc'd) and k. */
static int parse_gen(char *line, int *n, int32_t **prompt, int *k) {
    char *save = NULL, *end;
    strtok_r(line, " \n", &save); /* "gen" */
    const char *a = strtok_r(NULL, " \n", &save), *b = strtok_r(NULL, " \n", &save);
    if (!a || !b) return -1;
    long nv = strtol(a, &end, 10);
    if (*end || nv < 1 || nv > 1000000) return -1;
    long kv = strtol(b, &end, 10);
    if (*end || kv < 1 || kv > 1000000) return -1;
    int32_t *p = malloc(sizeof *p * (size_t)kv);
    if (!p) abort();
    for (long i = 0; i < kv; i++) {
        const char *t = strtok_r(NULL, " \n", &save);
        long tv = t ? strtol(t, &end, 10) : -1;
        if (!t || *end || tv < 0 || tv > INT32_MAX) {
            free(p);
            return -1;
        }
        p[i] = (int32_t)tv;
    }
    *n = (int)nv;
    *k = (int)kv;
    *prompt = p;
    return 0;
}

int ah_worker_serve(const char *model, const ai_conf *conf) {
    ai_error err = {{0}};
    ai_pipeline *p = ai_pipeline_open(model, conf, &err);
    if (!p) return fail("%s", err.msg);
    ai_model_desc d;
    ai_pipeline_describe(p, &d);
    printf("autoinfer-worker %d %s %llu %llu %s\n", AH_WORKER_PROTOCOL,
           d.backend[0] ? d.backend : "cpu", (unsigned long long)d.bytes_per_token,
           (unsigned long long)d.device_bytes, d.device[0] ? d.device : "-");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &cap, stdin) > 0) {
        if (!strncmp(line, "quit", 4)) break;
        int n, k;
        int32_t *prompt;
        if (strncmp(line, "gen ", 4) || parse_gen(line, &n, &prompt, &k)) {
            line[strcspn(line, "\n")] = 0;
            rc = fail("bad request '%.80s'", line);
            break;
        }
        serve_state s = {0, n};
        ai_gen_params gp = {n, 1};
        int got = ai_generate(p, prompt, k, &gp, on_token, &s, &err);
        free(prompt);
        if (got < 0) {
            rc = fail("%s", err.msg);
            break;
        }
    }
    free(line);
    ai_pipeline_close(p);
    return rc;
}
