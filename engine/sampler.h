/* sampler.h — next-token selection: greedy, temperature, top-k, top-p,
 * min-p, repetition penalty; seeded so a seed reproduces a run.
 * All buffers are allocated once, so sampling allocates nothing. */
#ifndef AI_SAMPLER_H
#define AI_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct ai_sampler {
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    uint64_t seed, rng;
    int n_vocab;
    float (*exp_sum)(float *x, int n, float max); /* the vector exp (vec.h) */
    struct ai_cand *cand;   /* n_vocab candidates */
    int32_t *recent;        /* ring of the last repeat_last_n tokens */
    int n_recent, recent_pos;
} ai_sampler;

ai_sampler *ai_sampler_new(const ai_settings *s, int n_vocab);
void ai_sampler_free(ai_sampler *s);
/* Back to the seed and an empty history (start of a generation). */
void ai_sampler_reset(ai_sampler *s);
/* Picks a token from logits (n_vocab floats; modified in place). */
int32_t ai_sampler_sample(ai_sampler *s, float *logits);
/* The same with the step's uniform draw u in [0, 1) given: sample() is
 * sample_u(s, logits, ai_sampler_draw(s)) (no draw when greedy), so a
 * backend that samples on its device with the draw gives the same token. */
int32_t ai_sampler_sample_u(ai_sampler *s, float *logits, double u);
/* The next uniform draw in [0, 1) of the seeded generator. */
double ai_sampler_draw(ai_sampler *s);
/* True when a device may sample: temperature > 0 and no repetition penalty
 * (the penalty needs the token history, which stays on the host). */
bool ai_sampler_device_ok(const ai_sampler *s);
/* True when sample() is the plain argmax of the logits (temperature 0, no
 * repetition penalty), so a backend may pick the token itself. */
bool ai_sampler_is_greedy(const ai_sampler *s);
/* Records a token of the context (prompt or generated) for the penalty. */
void ai_sampler_accept(ai_sampler *s, int32_t tok);

#endif
