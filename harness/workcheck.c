/* workcheck.c — is a speed run's output the model's? The judge re-scores
 * the tokens a worker streamed with its own build of the engine.
 *
 * A sampler that draws token t from the model's distribution p pays, on
 * average, the entropy H(p) in surprise (-log p(t)); a greedy or top-p
 * sampler pays less. So the excess mean(-log p(t) - H(p)) over the checked
 * tokens sits at or below 0 for honest work at any temperature up to 1,
 * and a candidate that skips layers, replays answers or emits anything
 * else pays for it in surprise: the gate bounds the excess
 * (work_excess_max). The reference distribution is the model's own at
 * the candidate's sampling temperature, not below 0.5 (a sharper sampler,
 * greedy included, only pays less surprise there). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "harness.h"

typedef struct {
    const int32_t *seq;
    int from; /* first position whose next token is checked */
    double inv_t;
    ah_work_check *wc;
} score_ctx;

static int on_logits(void *user, int pos, const float *logits, int n_vocab) {
    score_ctx *c = user;
    if (pos < c->from) return 0;
    int32_t next = c->seq[pos + 1];
    if (next < 0 || next >= n_vocab) {
        c->wc->out_of_vocab++;
        return 0;
    }
    float mx = logits[0];
    for (int i = 1; i < n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0, ez = 0; /* sum e^d, sum d e^d with d = (l - mx) / T */
    for (int i = 0; i < n_vocab; i++) {
        double d = ((double)logits[i] - mx) * c->inv_t, e = exp(d);
        z += e;
        ez += d * e;
    }
    double logz = log(z);
    c->wc->surprise += logz - ((double)logits[next] - mx) * c->inv_t;
    c->wc->entropy += logz - ez / z;
    c->wc->n_tokens++;
    return 0;
}

int ah_work_check_add(ai_pipeline *ref, double temperature, const int32_t *prompt, int k,
                      const int32_t *ids, int n, ah_work_check *wc, ai_error *err) {
    int32_t *seq = malloc(sizeof *seq * (size_t)(k + n));
    if (!seq) abort();
    memcpy(seq, prompt, sizeof *seq * (size_t)k);
    memcpy(seq + k, ids, sizeof *seq * (size_t)n);
    score_ctx c = {seq, k - 1, 1.0 / (temperature > 0.5 ? temperature : 0.5), wc};
    int rc = ai_score(ref, seq, k + n, on_logits, &c, err);
    free(seq);
    if (rc < 0) return -1;
    wc->n_seq++;
    return 0;
}

double ah_work_excess(const ah_work_check *wc) {
    if (wc->out_of_vocab) return INFINITY;
    return wc->n_tokens ? (wc->surprise - wc->entropy) / wc->n_tokens : NAN;
}
