/* refs.h — reference next-token distributions (the baseline's refs.bin) and
 * the KL divergence of a current distribution against them.
 *
 * Each scored position keeps the baseline's top-K token ids with their
 * log-probabilities and the log of the remaining mass. KL is computed
 * between the two distributions coarsened to those K+1 outcomes, a lower
 * bound of the full KL (data processing inequality) that is exact when the
 * tail is negligible. */
#ifndef AH_REFS_H
#define AH_REFS_H

#include <stdint.h>

#include "autoinfer.h"

#define AH_TOPK 32

typedef struct ah_ref_pos {
    int32_t id[AH_TOPK]; /* by descending probability */
    float lp[AH_TOPK];   /* log-probabilities */
    float rest;          /* log of 1 - sum(exp(lp)); -1e30 when nothing is left */
    float nll;           /* baseline's -log p(next token) */
} ah_ref_pos;

enum { AH_SEQ_TEXT = 0, AH_SEQ_ANSWER = 1 };

typedef struct ah_ref_seq {
    char name[32];     /* "text#0", or the prompt id of a greedy answer */
    int kind;          /* AH_SEQ_TEXT or AH_SEQ_ANSWER */
    int n;             /* tokens */
    int score_from;    /* positions score_from .. n-2 are scored */
    int32_t *tokens;
    ah_ref_pos *pos;   /* n - 1 - score_from entries */
} ah_ref_seq;

typedef struct ah_refs {
    int n_vocab;
    int n_seq;
    ah_ref_seq *seq;
} ah_refs;

void ah_refs_init(ah_refs *r, int n_vocab);
void ah_refs_free(ah_refs *r);
/* Appends a sequence (copies tokens; pos entries zeroed, to be filled).
 * Returns the new sequence. */
ah_ref_seq *ah_refs_add(ah_refs *r, const char *name, int kind, const int32_t *tokens,
                        int n, int score_from);
static inline int ah_seq_n_scored(const ah_ref_seq *s) { return s->n - 1 - s->score_from; }

int ah_refs_save(const ah_refs *r, const char *path, ai_error *err);
/* Loads and verifies (magic, version, sizes, token ranges, checksum). */
int ah_refs_load(ah_refs *r, const char *path, ai_error *err);

/* Log-softmax helpers over one logits row. */
double ah_logsumexp(const float *logits, int n);
int ah_argmax(const float *logits, int n);

/* Fills `out` (top-K, rest, nll of `target`) from a logits row. */
void ah_ref_from_logits(const float *logits, int n_vocab, int32_t target, ah_ref_pos *out);

/* Per-position comparison of current logits to a reference position. */
typedef struct ah_pos_cmp {
    double kl;      /* KL(ref || current), coarsened, >= 0 */
    double nll;     /* current -log p(target) */
    int top1_same;  /* argmax(current) == reference's top token */
} ah_pos_cmp;

void ah_ref_compare(const ah_ref_pos *ref, const float *logits, int n_vocab, int32_t target,
                    ah_pos_cmp *out);

#endif
