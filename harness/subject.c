/* subject.c — what an evaluation generates and scores with: the pipeline
 * in this process, or (eval --via) a worker process of another build, the
 * judge computing every figure from the tokens and logits it sends. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

int ah_subject_generate(ah_subject *s, const int32_t *prompt, int k, const ai_gen_params *gp,
                        ai_token_fn fn, void *user, ai_error *err) {
    if (!s->worker) return ai_generate(s->p, prompt, k, gp, fn, user, err);
    int max = gp->max_tokens, n = 0;
    if (max < 1) return 0;
    int32_t *ids = malloc(sizeof *ids * (size_t)max);
    double *arrive = malloc(sizeof *arrive * (size_t)max), sent;
    if (!ids || !arrive) abort();
    int rc = gp->ignore_eos
                 ? ah_worker_gen(s->worker, prompt, k, max, s->deadline, ids, &sent, arrive)
                 : ah_worker_answer(s->worker, prompt, k, max, s->deadline, ids, &n);
    if (gp->ignore_eos) n = max;
    int calls = 0;
    for (int i = 0; i < n && !rc; i++) {
        /* the text is this build's: the worker sends token ids only */
        char text[256];
        int len = ai_token_bytes(s->p, ids[i], text, sizeof text);
        calls++;
        if (fn && fn(user, ids[i], text, (size_t)(len < 0 ? 0 : len < 256 ? len : 256))) break;
    }
    free(ids);
    free(arrive);
    if (rc) return ai_error_set(err, "%s", s->worker->why);
    return calls;
}

int ah_subject_score(ah_subject *s, const int32_t *tok, int n, int from, ai_logits_fn fn,
                     void *user, ai_error *err) {
    if (!s->worker) return ai_score(s->p, tok, n, fn, user, err);
    ai_model_desc d;
    ai_pipeline_describe(s->p, &d);
    if (ah_worker_score(s->worker, tok, n, from, d.n_vocab, s->deadline, fn, user))
        return ai_error_set(err, "%s", s->worker->why);
    return 0;
}
