/* quality.c — teacher-forced scoring (ai_score, on the subject): perplexity of the
 * reference text, the baseline's reference distributions (fill) and the
 * KL divergence / top-1 agreement against them (compare). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int ah_text_sequences(ai_pipeline *p, const char *text, int chunk, int max_chunks,
                      ah_refs *r, ai_error *err) {
    ai_model_desc d;
    ai_pipeline_describe(p, &d);
    int cap = (int)strlen(text) + 16;
    int32_t *tok = malloc(sizeof *tok * (size_t)cap);
    int32_t *seq = malloc(sizeof *seq * (size_t)chunk);
    if (!tok || !seq) abort();
    int n = ai_tokenize(p, text, 0, 0, tok, cap, err);
    if (n < 0 || n > cap) {
        if (n > cap) ai_error_set(err, "tokenizer returned more tokens than bytes");
        free(tok);
        free(seq);
        return -1;
    }
    int with_bos = d.bos >= 0;
    int body = chunk - with_bos, made = 0;
    for (int start = 0; start + body <= n; start += body) {
        if (max_chunks && made == max_chunks) break;
        if (with_bos) seq[0] = d.bos;
        memcpy(seq + with_bos, tok + start, sizeof *seq * (size_t)body);
        char name[32];
        snprintf(name, sizeof name, "text#%d", made);
        ah_refs_add(r, name, AH_SEQ_TEXT, seq, chunk, chunk / 2);
        made++;
    }
    free(tok);
    free(seq);
    if (!made)
        return ai_error_set(err, "the reference text has %d tokens, fewer than one chunk of %d",
                            n, chunk);
    return made;
}

typedef struct {
    ah_ref_seq *seq;
    int fill;
    ah_score_result *res;
    int is_text;
    int seen;
} score_state;

static int on_logits(void *user, int pos, const float *logits, int n_vocab) {
    score_state *s = user;
    if (pos < s->seq->score_from) return 0;
    int k = pos - s->seq->score_from;
    if (k >= ah_seq_n_scored(s->seq)) return 1;
    int32_t target = s->seq->tokens[pos + 1];
    ah_ref_pos *ref = &s->seq->pos[k];
    ah_score_result *res = s->res;
    if (s->fill) {
        ah_ref_from_logits(logits, n_vocab, target, ref);
        if (s->is_text) res->nll_text += ref->nll;
    } else {
        ah_pos_cmp c;
        ah_ref_compare(ref, logits, n_vocab, target, &c);
        res->kl[res->n_scored] = c.kl;
        res->top1_same += c.top1_same;
        if (s->is_text) {
            res->nll_text += c.nll;
            res->nll_text_ref += ref->nll;
        }
    }
    if (s->is_text) res->n_text++;
    res->n_scored++;
    s->seen++;
    return 0;
}

int ah_score_refs(ah_subject *p, ah_refs *r, int fill, int max_text, ah_score_result *res,
                  ai_error *err) {
    memset(res, 0, sizeof *res);
    ai_model_desc d;
    ai_pipeline_describe(p->p, &d);
    if (d.n_vocab != r->n_vocab)
        return ai_error_set(err, "the model has %d vocabulary entries, the references %d",
                            d.n_vocab, r->n_vocab);
    int total = 0;
    for (int i = 0; i < r->n_seq; i++) total += ah_seq_n_scored(&r->seq[i]);
    if (!fill) {
        res->kl = malloc(sizeof *res->kl * (size_t)(total > 0 ? total : 1));
        if (!res->kl) abort();
    }
    int texts = 0;
    for (int i = 0; i < r->n_seq; i++) {
        ah_ref_seq *s = &r->seq[i];
        if (s->kind == AH_SEQ_TEXT && max_text && texts++ >= max_text) continue;
        score_state st = {s, fill, res, s->kind == AH_SEQ_TEXT, 0};
        if (ah_subject_score(p, s->tokens, s->n, s->score_from, on_logits, &st, err) < 0)
            return -1;
        if (st.seen != ah_seq_n_scored(s))
            return ai_error_set(err, "scoring %s: the pipeline gave logits for %d of %d positions",
                                s->name, st.seen, ah_seq_n_scored(s));
    }
    return 0;
}

typedef struct {
    int from;
    const int32_t *tokens;
    double nll;
    int n;
} self_state;

static int on_self_logits(void *user, int pos, const float *logits, int n_vocab) {
    self_state *s = user;
    if (pos < s->from) return 0;
    s->nll += ah_logsumexp(logits, n_vocab) - logits[s->tokens[pos + 1]];
    s->n++;
    return 0;
}

double ah_self_ppl(ah_subject *p, int32_t *const *prompts, const int *n_prompts,
                   int32_t *const *answers, const int *n_answers, int n, ai_error *err) {
    double nll = 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (n_answers[i] < 1) continue;
        int len = n_prompts[i] + n_answers[i];
        if (len > ai_context_length(p->p)) continue;
        int32_t *seq = malloc(sizeof *seq * (size_t)len);
        if (!seq) abort();
        memcpy(seq, prompts[i], sizeof *seq * (size_t)n_prompts[i]);
        memcpy(seq + n_prompts[i], answers[i], sizeof *seq * (size_t)n_answers[i]);
        self_state st = {n_prompts[i] - 1, seq, 0, 0};
        int rc = ah_subject_score(p, seq, len, st.from, on_self_logits, &st, err);
        free(seq);
        if (rc < 0) return NAN;
        nll += st.nll;
        count += st.n;
    }
    return count ? exp(nll / count) : NAN;
}
