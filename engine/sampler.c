/* sampler.c — see sampler.h. The order follows common practice: penalty,
 * then (unless greedy) top-k, temperature, softmax, min-p, top-p, draw.
 * Nothing here allocates: decoding must not (tests/test_noalloc.c). */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

typedef struct ai_cand {
    float logit;
    int32_t id;
} ai_cand;

ai_sampler *ai_sampler_new(const ai_settings *st, int n_vocab) {
    ai_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->temperature = st->temperature;
    s->top_p = st->top_p;
    s->min_p = st->min_p;
    s->top_k = st->top_k;
    s->repeat_penalty = st->repeat_penalty;
    s->repeat_last_n = st->repeat_last_n;
    s->seed = st->seed;
    s->n_vocab = n_vocab;
    ai_vec_kernels k;
    ai_vec_kernels_get(&k, AI_F32, st->isa);
    s->exp_sum = k.exp_sum;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->recent = malloc((size_t)(s->repeat_last_n > 0 ? s->repeat_last_n : 1) * sizeof *s->recent);
    if (!s->cand || !s->recent) {
        ai_sampler_free(s);
        return NULL;
    }
    ai_sampler_reset(s);
    return s;
}

void ai_sampler_free(ai_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->recent);
    free(s);
}

void ai_sampler_reset(ai_sampler *s) {
    s->rng = s->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    s->n_recent = 0;
    s->recent_pos = 0;
}

void ai_sampler_accept(ai_sampler *s, int32_t tok) {
    if (s->repeat_last_n <= 0) return;
    s->recent[s->recent_pos] = tok;
    s->recent_pos = (s->recent_pos + 1) % s->repeat_last_n;
    if (s->n_recent < s->repeat_last_n) s->n_recent++;
}

/* splitmix64: small, fast, and good enough for sampling. */
static double next_uniform(ai_sampler *s) {
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Candidate order: larger logit first, ties to the lower id. */
static bool cand_before(const ai_cand *a, const ai_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void sift_down(ai_cand *c, int size, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, best = i;
        if (l < size && cand_before(&c[l], &c[best])) best = l;
        if (r < size && cand_before(&c[r], &c[best])) best = r;
        if (best == i) return;
        ai_cand t = c[i];
        c[i] = c[best];
        c[best] = t;
        i = best;
    }
}

/* A max-heap over c[0, size); pop moves the best to c[size - 1]. Sampling
 * only needs the few best candidates in order, so heapify (O(n)) plus a
 * handful of pops beats sorting the whole vocabulary, and unlike qsort it
 * never allocates. */
static ai_cand *heap_pop(ai_cand *c, int *size) {
    ai_cand t = c[0];
    c[0] = c[*size - 1];
    c[*size - 1] = t;
    (*size)--;
    sift_down(c, *size, 0);
    return &c[*size];
}

/* First index of the largest logit (NaNs never win, as with `>`). */
static int32_t argmax_scalar(const float *logits, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* The same with AVX2: blocks of 32 reduced by vmaxps; only a block whose
 * max beats the running best is scanned (in order) for its index. vmaxps
 * returns its second operand when either is NaN, so NaNs never win. */
__attribute__((target("avx2"))) static int32_t argmax_avx2(const float *logits, int n) {
    int32_t best = 0;
    float bv = logits[0];
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a = _mm256_max_ps(_mm256_loadu_ps(logits + i), _mm256_loadu_ps(logits + i + 8));
        __m256 b = _mm256_max_ps(_mm256_loadu_ps(logits + i + 16), _mm256_loadu_ps(logits + i + 24));
        a = _mm256_max_ps(a, b);
        if (_mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(bv), _CMP_GT_OQ))) {
            for (int k = 0; k < 32; k++)
                if (logits[i + k] > bv) {
                    bv = logits[i + k];
                    best = i + k;
                }
        }
    }
    for (; i < n; i++)
        if (logits[i] > bv) {
            bv = logits[i];
            best = i;
        }
    return best;
}
#endif

static int32_t argmax(const float *logits, int n) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return argmax_avx2(logits, n);
#endif
    return argmax_scalar(logits, n);
}

double ai_sampler_draw(ai_sampler *s) { return next_uniform(s); }

int32_t ai_sampler_sample(ai_sampler *s, float *logits) {
    /* greedy needs no draw; otherwise exactly one a token */
    if (s->temperature <= 0.0f) return ai_sampler_sample_u(s, logits, 0.0);
    return ai_sampler_sample_u(s, logits, next_uniform(s));
}

int32_t ai_sampler_sample_u(ai_sampler *s, float *logits, double u) {
    int n = s->n_vocab;
    if (s->repeat_penalty != 1.0f) {
        /* Penalise each distinct recent token once. */
        for (int i = 0; i < s->n_recent; i++) {
            int32_t t = s->recent[i];
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) seen = s->recent[j] == t;
            if (seen || t < 0 || t >= n) continue;
            logits[t] = logits[t] > 0 ? logits[t] / s->repeat_penalty
                                      : logits[t] * s->repeat_penalty;
        }
    }
    if (s->temperature <= 0.0f) return argmax(logits, n);

    /* weights exp((logit - max) / T), in place, with the vector exp */
    const float inv_t = 1.0f / s->temperature;
    const float maxl = logits[argmax(logits, n)];
    for (int i = 0; i < n; i++) logits[i] *= inv_t;
    const double z_all = s->exp_sum(logits, n, maxl * inv_t);
    const float *w = logits;
    if (s->top_k <= 0 && s->min_p <= 0.0f && s->top_p >= 1.0f) {
        /* plain temperature sampling: no order needed */
        double r = u * z_all;
        for (int i = 0; i < n; i++) {
            r -= w[i];
            if (r <= 0) return i;
        }
        return argmax(w, n);
    }

    /* Candidates for the best-first walk. Without top-k, weights the walk
     * cannot reach stay out: it stops below min-p's floor (weight min_p, the
     * best one weighing 1), and weights under (1 - top_p) * z / (2n) hold
     * less than 1 - top_p of the mass together, so top-p stops before them. */
    float cut = 0.0f;
    if (s->top_k <= 0) {
        if (s->top_p < 1.0f) cut = (float)((1.0 - s->top_p) * z_all / (2.0 * n));
        if (s->min_p > cut) cut = s->min_p;
    }
    ai_cand *c = s->cand;
    int size = 0;
    for (int i = 0; i < n; i++)
        if (w[i] >= cut) c[size++] = (ai_cand){w[i], i};
    const int n_cand = size;
    for (int i = n_cand / 2 - 1; i >= 0; i--) sift_down(c, n_cand, i);
    int popped = 0;
    /* The i-th best candidate, popped on demand, is c[n_cand - 1 - i]. */
    const int limit = s->top_k > 0 && s->top_k < n_cand ? s->top_k : n_cand;
#define NTH(i) (c[n_cand - 1 - (i)])
#define POP_UNTIL(i)              \
    while (popped <= (i)) {      \
        heap_pop(c, &size);      \
        popped++;                \
    }
    /* softmax normaliser over the top-k set, or over everything */
    double z = z_all;
    if (limit < n) {
        POP_UNTIL(limit - 1);
        z = 0;
        for (int i = 0; i < limit; i++) z += NTH(i).logit;
    }
    /* min-p and top-p walk the candidates best first */
    int keep = 0;
    double cum = 0, total = 0;
    while (keep < limit) {
        POP_UNTIL(keep);
        double p = NTH(keep).logit / z;
        if (keep > 0 && s->min_p > 0.0f && p < s->min_p * (NTH(0).logit / z)) break;
        total += NTH(keep).logit;
        keep++;
        cum += p;
        if (s->top_p < 1.0f && cum >= s->top_p) break;
    }
    double r = u * total;
    for (int i = 0; i < keep; i++) {
        r -= NTH(i).logit;
        if (r <= 0) return NTH(i).id;
    }
    return NTH(keep - 1).id;
#undef NTH
#undef POP_UNTIL
}

/* The repetition penalty changes no logit. */
static bool penalty_off(const ai_sampler *s) { return s->repeat_penalty == 1.0f || s->repeat_last_n == 0; }

bool ai_sampler_is_greedy(const ai_sampler *s) { return s->temperature <= 0.0f && penalty_off(s); }

bool ai_sampler_device_ok(const ai_sampler *s) { return s->temperature > 0.0f && penalty_off(s); }
