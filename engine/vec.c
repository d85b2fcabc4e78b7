/* vec.c — see vec.h. Scalar references first, then AVX2 and AVX-512 paths
 * (per-function target attributes, so the base build stays portable). */
#include "vec.h"

#include <math.h>
#include <string.h>

#include "quant_impl.h"

/* ---- scalar references ------------------------------------------------ */

/* Attention composed from the one-key kernels: the reference (and the AVX2
 * path). Every query takes its own softmax over its own keys. attend1 goes
 * through the keys 16 at a time for all its g queries (heads sharing one KV
 * head), so that the AVX2 path reads each cached row from memory once; each
 * query still sums its keys in order. */
#define COMPOSED(name, kd, va, exps)                                                            \
    static void name##_attend(const void *k, const void *v, size_t rb, int p0, int nq,            \
                              const float *q, size_t qs, float *out, size_t os, int n, float scale, \
                              float *s) {                                                         \
        for (int u = 0; u < nq; u++) {                                                            \
            int nk = p0 + u + 1;                                                                  \
            float mx = -INFINITY;                                                                 \
            for (int i = 0; i < nk; i++) {                                                        \
                s[i] = kd((const uint8_t *)k + (size_t)i * rb, q + (size_t)u * qs, n) * scale;    \
                mx = s[i] > mx ? s[i] : mx;                                                       \
            }                                                                                     \
            float inv = 1.0f / exps(s, nk, mx);                                                   \
            float *o = out + (size_t)u * os;                                                      \
            memset(o, 0, (size_t)n * sizeof(float));                                              \
            for (int i = 0; i < nk; i++) va(o, s[i] * inv, (const uint8_t *)v + (size_t)i * rb, n); \
        }                                                                                         \
    }                                                                                             \
    static void name##_attend1(const void *k, const void *v, size_t rb, int n_slots, int first, int nk, int g, \
                               const float *q, float *out, int n, float scale, float *s) {          \
        /* scores s[i * nk + j] of query i, key j; 16 keys at a time for all g queries */           \
        for (int j0 = 0; j0 < nk; j0 += 16)                                                       \
            for (int i = 0; i < g; i++)                                                           \
                for (int j = j0; j < nk && j < j0 + 16; j++)                                      \
                    s[i * nk + j] = kd((const uint8_t *)k + ring_off(first, j, n_slots, rb), q + (size_t)i * n, n) * scale; \
        float inv[16];                                                                            \
        for (int i = 0; i < g; i++) {                                                             \
            float mx = -INFINITY;                                                                 \
            for (int j = 0; j < nk; j++) mx = s[i * nk + j] > mx ? s[i * nk + j] : mx;            \
            inv[i] = 1.0f / exps(s + i * nk, nk, mx);                                             \
        }                                                                                         \
        memset(out, 0, (size_t)g * n * sizeof(float));                                            \
        for (int j0 = 0; j0 < nk; j0 += 16)                                                       \
            for (int i = 0; i < g; i++)                                                           \
                for (int j = j0; j < nk && j < j0 + 16; j++)                                      \
                    va(out + (size_t)i * n, s[i * nk + j] * inv[i],                               \
                       (const uint8_t *)v + ring_off(first, j, n_slots, rb), n);                  \
    }

#define COMPOSED_ALL(isa, exps)                                      \
    COMPOSED(f32_##isa, kdot_f32_##isa, vaxpy_f32_##isa, exps)       \
    COMPOSED(f16_##isa, kdot_f16_##isa, vaxpy_f16_##isa, exps)       \
    COMPOSED(q8_0_##isa, kdot_q8_0_##isa, vaxpy_q8_0_##isa, exps)    \
    COMPOSED(q4_0_##isa, kdot_q4_0_##isa, vaxpy_q4_0_##isa, exps)

size_t ai_vec_attend_scratch(int n, int n_keys) { return 32 * (size_t)n + 16 * (size_t)n_keys; }

/* Byte offset of logical key j (< n_slots) in a ring of n_slots rows that
 * starts at row first (< n_slots). */
static inline size_t ring_off(int first, int j, int n_slots, size_t rb) {
    int row = first + j;
    return (size_t)(row >= n_slots ? row - n_slots : row) * rb;
}

static float kdot_f32_ref(const void *k, const float *q, int n) {
    const float *x = k;
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * x[i];
    return s;
}

static float kdot_f16_ref(const void *k, const float *q, int n) {
    const uint16_t *x = k;
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * ai_f16_to_f32(x[i]);
    return s;
}

static float kdot_q8_0_ref(const void *k, const float *q, int n) {
    const blk_q8_0 *b = k;
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * (ai_f16_to_f32(b[i / QK].d) * b[i / QK].qs[i % QK]);
    return s;
}

static inline int q4_0_at(const blk_q4_0 *b, int j) {
    return (j < 16 ? (b->qs[j] & 0xF) : (b->qs[j - 16] >> 4)) - 8;
}

static float kdot_q4_0_ref(const void *k, const float *q, int n) {
    const blk_q4_0 *b = k;
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * (ai_f16_to_f32(b[i / QK].d) * q4_0_at(&b[i / QK], i % QK));
    return s;
}

static void vaxpy_f32_ref(float *out, float a, const void *v, int n) {
    const float *x = v;
    for (int i = 0; i < n; i++) out[i] += a * x[i];
}

static void vaxpy_f16_ref(float *out, float a, const void *v, int n) {
    const uint16_t *x = v;
    for (int i = 0; i < n; i++) out[i] += a * ai_f16_to_f32(x[i]);
}

static void vaxpy_q8_0_ref(float *out, float a, const void *v, int n) {
    const blk_q8_0 *b = v;
    for (int i = 0; i < n; i++) out[i] += a * (ai_f16_to_f32(b[i / QK].d) * b[i / QK].qs[i % QK]);
}

static void vaxpy_q4_0_ref(float *out, float a, const void *v, int n) {
    const blk_q4_0 *b = v;
    for (int i = 0; i < n; i++) out[i] += a * (ai_f16_to_f32(b[i / QK].d) * q4_0_at(&b[i / QK], i % QK));
}

static float exp_sum_ref(float *x, int n, float max) {
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return sum;
}

COMPOSED_ALL(ref, exp_sum_ref)

static void swiglu_ref(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* GELU, tanh approximation (as gemma3 and ggml's gelu use it) */
static void geglu_ref(float *g, const float *u, int n) {
    const float c = 0.7978845608f; /* sqrt(2 / pi) */
    for (int i = 0; i < n; i++) {
        float x = g[i];
        g[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * u[i];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* exp: x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor series to r^7
 * (truncation < 3e-8 relative), times 2^n. */
#define EXP_C(name)                                                                \
    const float name##_l2e = 1.44269504088896341f, name##_h = 0.693359375f,        \
                name##_l = -2.12194440e-4f

AVX2 static inline __m256 exp8(__m256 x) {
    EXP_C(c);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)),
                      _mm256_set1_ps(-87.3365478515625f));
    __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(c_l2e)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(c_h), x);
    r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(c_l), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n through the exponent field; n in -126..127 after the clamp */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nf), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX512 static inline __m512 exp16(__m512 x) {
    EXP_C(c);
    /* below -104 the result is 0 anyway; the clamp keeps r finite for -inf */
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
    __m512 nf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(c_l2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(c_h), x);
    r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(c_l), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, nf); /* p * 2^n, overflow to inf, underflow to 0 */
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- AVX2 ---- */

AVX2 static float kdot_f32_avx2(const void *k, const float *q, int n) {
    const float *x = k;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += q[i] * x[i];
    return s;
}

AVX2 static float kdot_f16_avx2(const void *k, const float *q, int n) {
    const uint16_t *x = k;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += q[i] * _cvtsh_ss(x[i]);
    return s;
}

/* 32 int8 values of a block as four 8-float vectors */
AVX2 static inline void i8x32_ps(__m128i lo, __m128i hi, __m256 *v) {
    v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

AVX2 static inline void q8_0_ps(const blk_q8_0 *b, __m256 *v) {
    i8x32_ps(_mm_loadu_si128((const __m128i *)b->qs), _mm_loadu_si128((const __m128i *)(b->qs + 16)), v);
}

AVX2 static inline void q4_0_ps(const blk_q4_0 *b, __m256 *v) {
    __m128i t = _mm_loadu_si128((const __m128i *)b->qs), m = _mm_set1_epi8(0xF), e = _mm_set1_epi8(8);
    i8x32_ps(_mm_sub_epi8(_mm_and_si128(t, m), e), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(t, 4), m), e), v);
}

#define KDOT_BLK_AVX2(name, blk_t, expand)                                          \
    AVX2 static float name(const void *k, const float *q, int n) {                  \
        const blk_t *b = k;                                                          \
        __m256 acc = _mm256_setzero_ps();                                            \
        for (int j = 0; j < n / QK; j++, q += QK) {                                  \
            __m256 v[4];                                                             \
            expand(&b[j], v);                                                        \
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(q), v[0]);                      \
            p = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8), v[1], p);                    \
            p = _mm256_fmadd_ps(_mm256_loadu_ps(q + 16), v[2], p);                   \
            p = _mm256_fmadd_ps(_mm256_loadu_ps(q + 24), v[3], p);                   \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[j].d)), p, acc);        \
        }                                                                            \
        return hsum8(acc);                                                           \
    }
KDOT_BLK_AVX2(kdot_q8_0_avx2, blk_q8_0, q8_0_ps)
KDOT_BLK_AVX2(kdot_q4_0_avx2, blk_q4_0, q4_0_ps)

AVX2 static void vaxpy_f32_avx2(float *out, float a, const void *v, int n) {
    const float *x = v;
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * x[i];
}

AVX2 static void vaxpy_f16_avx2(float *out, float a, const void *v, int n) {
    const uint16_t *x = v;
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))),
                                                  _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * _cvtsh_ss(x[i]);
}

#define VAXPY_BLK_AVX2(name, blk_t, expand)                                          \
    AVX2 static void name(float *out, float a, const void *v, int n) {              \
        const blk_t *b = v;                                                          \
        for (int j = 0; j < n / QK; j++, out += QK) {                                \
            __m256 x[4];                                                             \
            expand(&b[j], x);                                                        \
            __m256 ad = _mm256_set1_ps(a * _cvtsh_ss(b[j].d));                       \
            for (int c = 0; c < 4; c++)                                              \
                _mm256_storeu_ps(out + 8 * c,                                        \
                                 _mm256_fmadd_ps(ad, x[c], _mm256_loadu_ps(out + 8 * c))); \
        }                                                                            \
    }
VAXPY_BLK_AVX2(vaxpy_q8_0_avx2, blk_q8_0, q8_0_ps)
VAXPY_BLK_AVX2(vaxpy_q4_0_avx2, blk_q4_0, q4_0_ps)

AVX2 static float exp_sum_avx2(float *x, int n, float max) {
    __m256 mv = _mm256_set1_ps(max), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum8(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return sum;
}

COMPOSED_ALL(avx2, exp_sum_avx2)

AVX2 static void swiglu_avx2(float *g, const float *u, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- AVX-512 ---- */

/* the lanes of a 16-float step with `left` elements left (all when >= 16) */
AVX512 static inline __mmask16 tail16(int left) {
    return left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
}

AVX512 static float exp_sum_avx512(float *x, int n, float max) {
    __m512 mv = _mm512_set1_ps(max), acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail16(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv));
        _mm512_mask_storeu_ps(x + i, m, e);
        acc = _mm512_mask_add_ps(acc, m, acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

AVX512 static void swiglu_avx512(float *g, const float *u, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail16(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)),
                                                      _mm512_maskz_loadu_ps(m, u + i)));
    }
}
/* 16 elements (i a multiple of 16) of a cached head as floats, masked at the
 * tail (the quantized types have whole blocks) */
AVX512 static inline __m512 ld_f32(const void *p, int i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, (const float *)p + i);
}
AVX512 static inline __m512 ld_f16(const void *p, int i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
}
AVX512 static inline __m512 ld_q8_0(const void *p, int i, __mmask16 m) {
    (void)m;
    const blk_q8_0 *b = (const blk_q8_0 *)p + i / QK;
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(b->qs + i % QK));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c)), _mm512_set1_ps(_cvtsh_ss(b->d)));
}
AVX512 static inline __m512 ld_q4_0(const void *p, int i, __mmask16 m) {
    (void)m;
    const blk_q4_0 *b = (const blk_q4_0 *)p + i / QK;
    __m128i t = _mm_loadu_si128((const __m128i *)(const void *)b->qs);
    if (i % QK) t = _mm_srli_epi16(t, 4);
    __m512i c = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(t, _mm_set1_epi8(0xF))), _mm512_set1_epi32(8));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(c), _mm512_set1_ps(_cvtsh_ss(b->d)));
}

/* qt[d * 16 + u] = q[u * qs + d] * scale for u < nq, 0 for the lanes past
 * nq: 16 x 16 blocks transposed in registers (the scalar double loop was 6 %
 * of attention's samples in a SmolLM2 prefill). */
AVX512 static void transpose_queries(const float *q, size_t qs, int nq, int n, float scale, float *qt) {
    const __m512 sv = _mm512_set1_ps(scale);
    for (int d0 = 0; d0 < n; d0 += 16) {
        const __mmask16 m = tail16(n - d0);
        __m512 r[16], t[16];
        for (int u = 0; u < 16; u++)
            r[u] = u < nq ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + (size_t)u * qs + d0), sv) : _mm512_setzero_ps();
        for (int i = 0; i < 8; i++) { /* pairs of rows interleaved by element */
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 4; i++) { /* then by pairs of elements: 4 rows per 128-bit lane */
            for (int h = 0; h < 2; h++) {
                __m512d a = _mm512_castps_pd(t[4 * i + h]), b = _mm512_castps_pd(t[4 * i + 2 + h]);
                r[4 * i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
                r[4 * i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
            }
        }
        /* r[4i + j], lane l: rows 4i..4i+3 of element 4l + j; gather the
         * four row quarters of each element */
        for (int j = 0; j < 4; j++) {
            __m512 a01 = _mm512_shuffle_f32x4(r[j], r[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
            __m512 b01 = _mm512_shuffle_f32x4(r[j], r[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
            __m512 a23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
            __m512 b23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
            t[j] = _mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(2, 0, 2, 0));      /* element j */
            t[8 + j] = _mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(3, 1, 3, 1));  /* element 8 + j */
            t[4 + j] = _mm512_shuffle_f32x4(b01, b23, _MM_SHUFFLE(2, 0, 2, 0));  /* element 4 + j */
            t[12 + j] = _mm512_shuffle_f32x4(b01, b23, _MM_SHUFFLE(3, 1, 3, 1)); /* element 12 + j */
        }
        for (int e = 0; e < 16 && d0 + e < n; e++) _mm512_store_ps(qt + (size_t)(d0 + e) * 16, t[e]);
    }
}

/* Block attention with the 16 queries in the 16 lanes: scores for 8 keys at
 * a time (each key element broadcast against the transposed queries; f32
 * keys read in place, the other types converted to floats first), one
 * vertical softmax, then the weighted sum of V for 8 queries x 32 elements
 * at a time: 16 accumulators, and 10 loads per 16 FMAs where 16 queries x
 * 16 elements took 17 (each score is a broadcast load). Every output sums
 * its keys in order. Scratch: transposed queries (16n), 8 keys as floats
 * (8n, 16n reserved to keep the scores aligned), scores (16 per key). */
#define ATTEND16(name, load, direct)                                                                \
    AVX512 static void name##_attend(const void *k, const void *v, size_t rb, int p0, int nq,        \
                                     const float *q, size_t qs, float *out, size_t os, int n,       \
                                     float scale, float *s) {                                       \
        float *qt = s, *kb = s + 16 * (size_t)n, *sc = kb + 16 * (size_t)n;                          \
        transpose_queries(q, qs, nq, n, scale, qt);                                                 \
        const int nk = p0 + nq;                                                                     \
        __m512 mx = _mm512_set1_ps(-INFINITY);                                                      \
        for (int i0 = 0; i0 < nk; i0 += 8) {                                                        \
            const int nb = nk - i0 < 8 ? nk - i0 : 8;                                               \
            /* key j's element d at kr[j * ks + d] */                                               \
            const float *kr = kb;                                                                   \
            size_t ks = (size_t)n;                                                                  \
            if (direct) {                                                                           \
                kr = (const float *)(const void *)((const uint8_t *)k + (size_t)i0 * rb);           \
                ks = rb / sizeof(float);                                                            \
            } else {                                                                                \
                for (int j = 0; j < nb; j++)                                                        \
                    for (int d = 0; d < n; d += 16) {                                               \
                        __mmask16 m = tail16(n - d);                                                \
                        _mm512_mask_storeu_ps(kb + (size_t)j * n + d, m,                            \
                                              load((const uint8_t *)k + (size_t)(i0 + j) * rb, d, m)); \
                    }                                                                               \
            }                                                                                       \
            __m512 acc[8];                                                                          \
            for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();                               \
            if (nb == 8) {                                                                          \
                for (int d = 0; d < n; d++) {                                                       \
                    __m512 qd = _mm512_load_ps(qt + 16 * d);                                        \
                    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                             \
                        acc[j] = _mm512_fmadd_ps(qd, _mm512_set1_ps(kr[(size_t)j * ks + d]), acc[j]); \
                }                                                                                   \
            } else {                                                                                \
                for (int j = 0; j < nb; j++)                                                        \
                    for (int d = 0; d < n; d++)                                                     \
                        acc[j] = _mm512_fmadd_ps(_mm512_load_ps(qt + 16 * d), _mm512_set1_ps(kr[(size_t)j * ks + d]), acc[j]); \
            }                                                                                       \
            for (int j = 0; j < nb; j++) {                                                          \
                int i = i0 + j;                                                                     \
                /* causal mask: query u sees keys up to p0 + u */                                   \
                __m512 sv = i > p0 ? _mm512_mask_mov_ps(acc[j], (__mmask16)((1u << (i - p0)) - 1), \
                                                        _mm512_set1_ps(-INFINITY))                  \
                                   : acc[j];                                                        \
                _mm512_store_ps(sc + 16 * (size_t)i, sv);                                           \
                mx = _mm512_max_ps(mx, sv);                                                         \
            }                                                                                       \
        }                                                                                           \
        __m512 sum = _mm512_setzero_ps();                                                           \
        for (int i = 0; i < nk; i++) {                                                              \
            __m512 e = exp16(_mm512_sub_ps(_mm512_load_ps(sc + 16 * (size_t)i), mx));               \
            _mm512_store_ps(sc + 16 * (size_t)i, e);                                                \
            sum = _mm512_add_ps(sum, e);                                                            \
        }                                                                                           \
        _Alignas(64) float inv[16];                                                                 \
        _mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), sum));                             \
        for (int u0 = 0; u0 < nq; u0 += 8)                                                          \
            for (int d = 0; d < n;) {                                                               \
                /* 32 elements (two accumulators per query) while whole, then 16 (masked) */       \
                const bool two = n - d >= 32;                                                       \
                const __mmask16 m = tail16(n - d);                                                  \
                __m512 o0[8], o1[8];                                                                \
                for (int u = 0; u < 8; u++) o0[u] = o1[u] = _mm512_setzero_ps();                    \
                if (two)                                                                            \
                    for (int i = 0; i < nk; i++) {                                                  \
                        const uint8_t *vr = (const uint8_t *)v + (size_t)i * rb;                    \
                        __m512 v0 = load(vr, d, 0xFFFF), v1 = load(vr, d + 16, 0xFFFF);             \
                        const float *w = sc + 16 * (size_t)i + u0;                                  \
                        _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) {                       \
                            o0[u] = _mm512_fmadd_ps(_mm512_set1_ps(w[u]), v0, o0[u]);               \
                            o1[u] = _mm512_fmadd_ps(_mm512_set1_ps(w[u]), v1, o1[u]);               \
                        }                                                                           \
                    }                                                                               \
                else                                                                                \
                    for (int i = 0; i < nk; i++) {                                                  \
                        __m512 v0 = load((const uint8_t *)v + (size_t)i * rb, d, m);                \
                        const float *w = sc + 16 * (size_t)i + u0;                                  \
                        _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++)                         \
                            o0[u] = _mm512_fmadd_ps(_mm512_set1_ps(w[u]), v0, o0[u]);               \
                    }                                                                               \
                /* through a buffer with constant indices: o indexed up to nq would keep the    \
                 * accumulators in memory, stored on every key */                                   \
                _Alignas(64) float ob[16 * 16];                                                     \
                _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) {                               \
                    _mm512_store_ps(ob + 16 * u, _mm512_mul_ps(o0[u], _mm512_set1_ps(inv[u0 + u]))); \
                    _mm512_store_ps(ob + 16 * (8 + u), _mm512_mul_ps(o1[u], _mm512_set1_ps(inv[u0 + u]))); \
                }                                                                                   \
                for (int u = 0; u < 8 && u0 + u < nq; u++) {                                        \
                    float *o = out + (size_t)(u0 + u) * os + d;                                     \
                    _mm512_mask_storeu_ps(o, m, _mm512_load_ps(ob + 16 * u));                       \
                    if (two) _mm512_storeu_ps(o + 16, _mm512_load_ps(ob + 16 * (8 + u)));           \
                }                                                                                   \
                d += two ? 32 : 16;                                                                 \
            }                                                                                       \
    }
/* 16 vectors to the vector of their 16 sums */
AVX512 static inline __attribute__((always_inline)) __m512 reduce16(const __m512 *a) {
    __m512 t[8], u[4];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* lane l of u[i]: sums of vectors 4i..4i+3 over lane l */
        __m512d x = _mm512_castps_pd(t[2 * i]), y = _mm512_castps_pd(t[2 * i + 1]);
        u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    __m512 w01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 w23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* g queries of one KV head (decode): keys 16 at a time, the chunk's K rows
 * read from memory once and then from L1 for every query (the query chunk
 * loaded once for 16 keys, one transposing reduction); then V the same way,
 * each query's output accumulated over the chunk's rows in registers 64
 * elements at a time. The cache comes from L3/DRAM each token (the weights
 * evict it), so the rows ATTEND_AHEAD keys ahead are prefetched, the last K
 * chunks prefetching the first V rows (SmolLM2 decode at 512 tokens: +4 %
 * with one query per call, +12 % with the grouping; 16-64 keys ahead the
 * same). */
#define ATTEND_AHEAD 32
/* A macro: gcc -O2 drops calls to a function that only prefetches. The
 * last byte too: a row's hb bytes may start mid-line (q8_0, q4_0). */
#define PREFETCH_ROWS(base, j0)                                                                      \
    for (int pj = (j0); pj < (j0) + 16 && pj < nk; pj++) {                                          \
        const uint8_t *pr = (const uint8_t *)(base) + ring_off(first, pj, n_slots, rb);              \
        for (size_t po = 0; po < hb; po += 64) __builtin_prefetch(pr + po);                           \
        __builtin_prefetch(pr + hb - 1);                                                             \
    }
#define ATTEND1(name, load, type)                                                                   \
    AVX512 static void name##_attend1(const void *k, const void *v, size_t rb, int n_slots, int first, \
                                      int nk, int g, const float *q, float *out, int n, float scale, \
                                      float *s) {                                                    \
        const size_t hb = ai_row_bytes(type, n);                                                     \
        for (int j0 = 0; j0 < nk; j0 += 16) {                                                        \
            const int nb = nk - j0 < 16 ? nk - j0 : 16;                                              \
            if (j0 + ATTEND_AHEAD < nk) PREFETCH_ROWS(k, j0 + ATTEND_AHEAD)                          \
            else PREFETCH_ROWS(v, j0 + ATTEND_AHEAD - (nk + 15) / 16 * 16)                           \
            const uint8_t *kr[16];                                                                   \
            for (int j = 0; j < 16; j++) kr[j] = (const uint8_t *)k + ring_off(first, j0 + (j < nb ? j : 0), n_slots, rb); \
            for (int i = 0; i < g; i++) {                                                            \
                const float *qi = q + (size_t)i * n;                                                 \
                __m512 acc[16];                                                                      \
                for (int j = 0; j < 16; j++) acc[j] = _mm512_setzero_ps();                           \
                for (int d = 0; d < n; d += 16) {                                                    \
                    __mmask16 m = tail16(n - d);                                                     \
                    __m512 qd = _mm512_maskz_loadu_ps(m, qi + d);                                    \
                    _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++)                            \
                        acc[j] = _mm512_fmadd_ps(qd, load(kr[j], d, m), acc[j]);                     \
                }                                                                                    \
                _mm512_mask_storeu_ps(s + (size_t)i * nk + j0, (__mmask16)((1u << nb) - 1),          \
                                      _mm512_mul_ps(reduce16(acc), _mm512_set1_ps(scale)));          \
            }                                                                                        \
        }                                                                                            \
        float inv[16];                                                                               \
        for (int i = 0; i < g; i++) {                                                                \
            float *si = s + (size_t)i * nk;                                                          \
            __m512 mv = _mm512_set1_ps(-INFINITY);                                                   \
            for (int j = 0; j < nk; j += 16)                                                         \
                mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY),               \
                                                            tail16(nk - j), si + j));                \
            inv[i] = 1.0f / exp_sum_avx512(si, nk, _mm512_reduce_max_ps(mv));                        \
        }                                                                                            \
        memset(out, 0, (size_t)g * n * sizeof(float));                                               \
        for (int j0 = 0; j0 < nk; j0 += 16) {                                                        \
            const int nb = nk - j0 < 16 ? nk - j0 : 16;                                              \
            PREFETCH_ROWS(v, j0 + ATTEND_AHEAD)                                                    \
            const uint8_t *vr[16];                                                                   \
            for (int j = 0; j < nb; j++) vr[j] = (const uint8_t *)v + ring_off(first, j0 + j, n_slots, rb); \
            for (int i = 0; i < g; i++) {                                                            \
                const float *w = s + (size_t)i * nk + j0;                                            \
                float *o = out + (size_t)i * n;                                                      \
                /* 64 elements at a time in four register accumulators, then 16 (masked) */        \
                for (int d0 = 0; d0 < n;) {                                                          \
                    if (n - d0 >= 64) {                                                              \
                        __m512 o0 = _mm512_loadu_ps(o + d0), o1 = _mm512_loadu_ps(o + d0 + 16);      \
                        __m512 o2 = _mm512_loadu_ps(o + d0 + 32), o3 = _mm512_loadu_ps(o + d0 + 48); \
                        for (int j = 0; j < nb; j++) {                                               \
                            __m512 wj = _mm512_set1_ps(w[j]);                                        \
                            o0 = _mm512_fmadd_ps(wj, load(vr[j], d0, 0xFFFF), o0);                   \
                            o1 = _mm512_fmadd_ps(wj, load(vr[j], d0 + 16, 0xFFFF), o1);              \
                            o2 = _mm512_fmadd_ps(wj, load(vr[j], d0 + 32, 0xFFFF), o2);              \
                            o3 = _mm512_fmadd_ps(wj, load(vr[j], d0 + 48, 0xFFFF), o3);              \
                        }                                                                            \
                        _mm512_storeu_ps(o + d0, o0);                                                \
                        _mm512_storeu_ps(o + d0 + 16, o1);                                           \
                        _mm512_storeu_ps(o + d0 + 32, o2);                                           \
                        _mm512_storeu_ps(o + d0 + 48, o3);                                           \
                        d0 += 64;                                                                    \
                    } else {                                                                         \
                        __mmask16 m = tail16(n - d0);                                                \
                        __m512 o0 = _mm512_maskz_loadu_ps(m, o + d0);                                \
                        for (int j = 0; j < nb; j++)                                                 \
                            o0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), load(vr[j], d0, m), o0);      \
                        _mm512_mask_storeu_ps(o + d0, m, o0);                                        \
                        d0 += 16;                                                                    \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        for (int i = 0; i < g; i++)                                                                  \
            for (int d = 0; d < n; d += 16) {                                                        \
                __mmask16 m = tail16(n - d);                                                         \
                float *o = out + (size_t)i * n + d;                                                  \
                _mm512_mask_storeu_ps(o, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o), _mm512_set1_ps(inv[i]))); \
            }                                                                                        \
    }
ATTEND1(f32_avx512, ld_f32, AI_F32)
ATTEND1(f16_avx512, ld_f16, AI_F16)
ATTEND1(q8_0_avx512, ld_q8_0, AI_Q8_0)
ATTEND1(q4_0_avx512, ld_q4_0, AI_Q4_0)
ATTEND16(f32_avx512, ld_f32, true)
ATTEND16(f16_avx512, ld_f16, false)
ATTEND16(q8_0_avx512, ld_q8_0, false)
ATTEND16(q4_0_avx512, ld_q4_0, false)
#endif /* x86-64 */

int ai_vec_kernels_get(ai_vec_kernels *k, uint32_t kv_type, ai_isa isa) {
    memset(k, 0, sizeof *k);
    switch (kv_type) {
#define SET(blk) k->attend = blk##_attend; k->attend1 = blk##_attend1
    case AI_F32: SET(f32_ref); break;
    case AI_F16: SET(f16_ref); break;
    case AI_Q8_0: SET(q8_0_ref); break;
    case AI_Q4_0: SET(q4_0_ref); break;
    default: return -1;
    }
    k->exp_sum = exp_sum_ref;
    k->swiglu = swiglu_ref;
    k->geglu = geglu_ref;
#if defined(__x86_64__)
    if (isa == AI_ISA_AVX2) {
        k->exp_sum = exp_sum_avx2;
        k->swiglu = swiglu_avx2;
        switch (kv_type) {
        case AI_F32: SET(f32_avx2); break;
        case AI_F16: SET(f16_avx2); break;
        case AI_Q8_0: SET(q8_0_avx2); break;
        case AI_Q4_0: SET(q4_0_avx2); break;
        }
    }
    if (isa == AI_ISA_AVX512) {
        k->exp_sum = exp_sum_avx512;
        k->swiglu = swiglu_avx512;
        switch (kv_type) {
        case AI_F32: SET(f32_avx512); break;
        case AI_F16: SET(f16_avx512); break;
        case AI_Q8_0: SET(q8_0_avx512); break;
        case AI_Q4_0: SET(q4_0_avx512); break;
        }
    }
#else
    (void)isa;
#endif
#undef SET
    return 0;
}
