/* worker.c — `autoinfer eval --worker`: the candidate's side of `--ab`.
 *
 * The worker computes; the judge (the harness that runs --ab, another
 * process) owns the clock. The worker loads the model, says hello, then
 * answers requests on stdin, one per line, until "quit" or EOF:
 *
 *   judge:  gen N K t1 .. tK     prefill the K prompt tokens from an empty
 *                                cache, then sample exactly N tokens with
 *                                the pipeline's own sampler (EOS ignored)
 *   worker: one line per token, "<id>", written and flushed as it is made,
 *           then "end"
 *
 *   judge:  answer N K t1 .. tK  the same, stopping at end of generation
 *
 *   judge:  score F K t1 .. tK   teacher-forced logits of the K tokens
 *   worker: for each position P >= F (the logits that predict t(P+1)):
 *           "logits P V" and V float32 values (binary, native order); "end"
 *
 * Every gen request looks the same whether the judge times it, warms up
 * with it or checks its tokens: nothing tells the worker which. The judge
 * computes every figure (timing, perplexity, KL, sanity) itself from what
 * the worker sends; whatever else the worker prints is a protocol error,
 * never a result. Protocol text:
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

typedef struct {
    int from;
} logits_state;

static int on_logits(void *user, int pos, const float *logits, int n_vocab) {
    logits_state *s = user;
    if (pos < s->from) return 0;
    printf("logits %d %d\n", pos, n_vocab);
    return fwrite(logits, sizeof *logits, (size_t)n_vocab, stdout) != (size_t)n_vocab;
}

/* Parses "<verb> N K t1 .. tK" into n, prompt (malloc'd) and k (n may be
 * 0 for score's F). */
static int parse_request(char *line, int *n, int32_t **prompt, int *k) {
    char *save = NULL, *end;
    strtok_r(line, " \n", &save); /* the verb */
    const char *a = strtok_r(NULL, " \n", &save), *b = strtok_r(NULL, " \n", &save);
    if (!a || !b) return -1;
    long nv = strtol(a, &end, 10);
    if (*end || nv < 0 || nv > 1000000) return -1;
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
        int n, k, got;
        int32_t *prompt;
        char verb[8];
        snprintf(verb, sizeof verb, "%.*s", (int)strcspn(line, " \n"), line);
        int gen = !strcmp(verb, "gen"), answer = !strcmp(verb, "answer");
        if ((!gen && !answer && strcmp(verb, "score")) || parse_request(line, &n, &prompt, &k) ||
            (!strcmp(verb, "score") ? n >= k : n < 1)) {
            line[strcspn(line, "\n")] = 0;
            rc = fail("bad request '%.80s'", line);
            break;
        }
        if (gen || answer) {
            serve_state s = {0, n};
            ai_gen_params gp = {n, gen};
            got = ai_generate(p, prompt, k, &gp, on_token, &s, &err);
        } else {
            logits_state s = {n};
            got = ai_score(p, prompt, k, on_logits, &s, &err);
        }
        free(prompt);
        if (got < 0) {
            rc = fail("%s", err.msg);
            break;
        }
        printf("end\n");
        fflush(stdout);
    }
    free(line);
    ai_pipeline_close(p);
    return rc;
}
