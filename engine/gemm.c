/* gemm.c — see gemm.h. The expanders and the activation preparation are
 * plain C (their cost is shared by every token of a prefill chunk); the
 * tile kernel is AVX-512 VNNI. */
#include "gemm.h"

#include <string.h>

#include "quant_impl.h"

/* Expanded row: [64-byte header: int32 off] [u8 u[n]] [float dl[n/4]]
 * [float m16[n/16]], padded to 64 bytes. */
#define HDR 64
static size_t pad64(size_t v) { return (v + 63) & ~(size_t)63; }

size_t ai_gemm_row_bytes(int64_t n) { return pad64(HDR + (size_t)n + (size_t)n + (size_t)n / 4); }

/* Prepared token: [int8 qs[n]] [float dyl[n/4]] [int32 -sl[n/4]] [float ys16[n/16]]
 * (sl: sums of 4 consecutive codes). */
size_t ai_gemm_act_bytes(int64_t n) { return pad64((size_t)n * 3 + (size_t)n / 4); }

static bool type_ok(uint32_t type) {
    switch (type) {
    case AI_Q4_0: case AI_Q4_1: case AI_Q5_0: case AI_Q5_1: case AI_Q8_0:
    case AI_Q4_K: case AI_Q5_K: case AI_Q6_K:
        return true;
    default:
        return false;
    }
}

bool ai_gemm_supported(uint32_t type, int64_t n, ai_isa isa) {
    return isa == AI_ISA_AVX512 && n > 0 && n % 64 == 0 && type_ok(type) &&
           ai_row_bytes(type, n) > 0;
}

void ai_gemm_prepare_act(const float *x, int64_t n, int n_tok, void *dst, ai_isa isa) {
    /* Q8_1: the same codes and d as the one-token path's Q8_0 and Q8_1, and
     * the s = d * sum that its min terms use */
    ai_quantize_fn q = ai_quantize_act_get(AI_Q8_1, isa);
    size_t ab = ai_gemm_act_bytes(n);
    for (int t = 0; t < n_tok; t++) {
        uint8_t *base = (uint8_t *)dst + (size_t)t * ab;
        int8_t *qs = (int8_t *)base;
        float *dyl = (float *)(void *)(base + n);
        int32_t *sl = (int32_t *)(void *)(base + 2 * n);
        float *ys16 = (float *)(void *)(base + 3 * n);
        blk_q8_1 blk[8];
        for (int64_t b0 = 0; b0 < n / QK; b0 += 8) {
            int nb = n / QK - b0 < 8 ? (int)(n / QK - b0) : 8;
            q(x + (size_t)t * n + b0 * QK, blk, (int64_t)nb * QK);
            for (int b = 0; b < nb; b++) {
                float dy = ai_f16_to_f32(blk[b].d);
                int64_t e0 = (b0 + b) * QK;
                memcpy(qs + e0, blk[b].qs, QK);
                for (int l = 0; l < 8; l++) {
                    const int8_t *v = blk[b].qs + 4 * l;
                    dyl[e0 / 4 + l] = dy;
                    sl[e0 / 4 + l] = -(v[0] + v[1] + v[2] + v[3]); /* negated: the tile shifts it by log2(off) */
                }
                /* the additive terms are per 32 (m16 equal on both halves) */
                ys16[e0 / 16] = ai_f16_to_f32(blk[b].s);
                ys16[e0 / 16 + 1] = 0.0f;
            }
        }
    }
}

/* ---- expanders --------------------------------------------------------- */

typedef struct {
    uint8_t *u;
    float *dl, *m16;
} xrow;

static xrow xrow_at(void *dst, int64_t n, int32_t off) {
    uint8_t *b = dst;
    memset(b, 0, HDR);
    memcpy(b, &off, sizeof off);
    xrow r = {b + HDR, (float *)(void *)(b + HDR + n), (float *)(void *)(b + HDR + 2 * n)};
    return r;
}

/* scale d for the 8 lanes and additive m for the 2 groups of a 32-block */
static void set32(xrow *r, int64_t e0, float d, float m) {
    for (int l = 0; l < 8; l++) r->dl[e0 / 4 + l] = d;
    r->m16[e0 / 16] = r->m16[e0 / 16 + 1] = m;
}

static inline int nib(const uint8_t *qs, int j) { return j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4; }

static inline uint32_t u32_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void expand_row_ref(uint32_t type, const void *row, int64_t n, void *dst) {
    switch (type) {
    case AI_Q4_0: {
        xrow r = xrow_at(dst, n, 8);
        const blk_q4_0 *b = row;
        for (int64_t k = 0; k < n / QK; k++) {
            for (int j = 0; j < QK; j++) r.u[k * QK + j] = (uint8_t)nib(b[k].qs, j);
            set32(&r, k * QK, ai_f16_to_f32(b[k].d), 0.0f);
        }
        break;
    }
    case AI_Q4_1: {
        xrow r = xrow_at(dst, n, 0);
        const blk_q4_1 *b = row;
        for (int64_t k = 0; k < n / QK; k++) {
            for (int j = 0; j < QK; j++) r.u[k * QK + j] = (uint8_t)nib(b[k].qs, j);
            set32(&r, k * QK, ai_f16_to_f32(b[k].d), ai_f16_to_f32(b[k].m));
        }
        break;
    }
    case AI_Q5_0: case AI_Q5_1: {
        bool one = type == AI_Q5_1;
        xrow r = xrow_at(dst, n, one ? 0 : 16);
        size_t bs = one ? sizeof(blk_q5_1) : sizeof(blk_q5_0);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            uint16_t d, m = 0;
            memcpy(&d, p, 2);
            if (one) memcpy(&m, p + 2, 2);
            const uint8_t *qh = p + (one ? 4 : 2), *qs = qh + 4;
            uint32_t hb = u32_at(qh);
            for (int j = 0; j < QK; j++) r.u[k * QK + j] = (uint8_t)(nib(qs, j) | ((hb >> j) & 1) << 4);
            set32(&r, k * QK, ai_f16_to_f32(d), one ? ai_f16_to_f32(m) : 0.0f);
        }
        break;
    }
    case AI_Q8_0: {
        xrow r = xrow_at(dst, n, 128);
        const blk_q8_0 *b = row;
        for (int64_t k = 0; k < n / QK; k++) {
            for (int j = 0; j < QK; j++) r.u[k * QK + j] = (uint8_t)(b[k].qs[j] + 128);
            set32(&r, k * QK, ai_f16_to_f32(b[k].d), 0.0f);
        }
        break;
    }
    case AI_Q4_K: case AI_Q5_K: {
        bool five = type == AI_Q5_K;
        xrow r = xrow_at(dst, n, 0);
        for (int64_t k = 0; k < n / QKK; k++) {
            const uint8_t *scales, *qs, *qh = NULL;
            uint16_t d16, dm16;
            if (five) {
                const blk_q5_K *b = (const blk_q5_K *)row + k;
                scales = b->scales; qs = b->qs; qh = b->qh; d16 = b->d; dm16 = b->dmin;
            } else {
                const blk_q4_K *b = (const blk_q4_K *)row + k;
                scales = b->scales; qs = b->qs; d16 = b->d; dm16 = b->dmin;
            }
            float d = ai_f16_to_f32(d16), dmin = ai_f16_to_f32(dm16);
            for (int j = 0; j < 8; j++) {
                uint8_t sc, mn;
                k4_scale_min(scales, j, &sc, &mn);
                int64_t e0 = k * QKK + 32 * j;
                const uint8_t *c = qs + 32 * (j / 2);
                for (int l = 0; l < 32; l++) {
                    int v = (j & 1) ? c[l] >> 4 : c[l] & 0xF;
                    if (five) v |= ((qh[l] >> j) & 1) << 4;
                    r.u[e0 + l] = (uint8_t)v;
                }
                set32(&r, e0, d * sc, -dmin * mn);
            }
        }
        break;
    }
    case AI_Q6_K: {
        xrow r = xrow_at(dst, n, 32);
        for (int64_t k = 0; k < n / QKK; k++) {
            const blk_q6_K *b = (const blk_q6_K *)row + k;
            float d = ai_f16_to_f32(b->d);
            for (int e = 0; e < QKK; e++) {
                int hh = e / 128, kk = (e % 128) / 32, l = e % 32;
                const uint8_t *ql = b->ql + 64 * hh, *qh = b->qh + 32 * hh;
                int lo = (kk & 1) ? ql[32 + l] : ql[l];
                lo = (kk & 2) ? lo >> 4 : lo & 0xF;
                r.u[k * QKK + e] = (uint8_t)(lo | (((qh[l] >> (2 * kk)) & 3) << 4));
            }
            for (int g = 0; g < 16; g++) {
                float dg = d * (float)b->scales[g];
                for (int l = 0; l < 4; l++) r.dl[(k * QKK + 16 * g) / 4 + l] = dg;
                r.m16[(k * QKK) / 16 + g] = 0.0f;
            }
        }
        break;
    }
    default:
        break;
    }
}

/* ---- SIMD expanders (same bytes as expand_row_ref) --------------------- */

#if defined(__x86_64__)
#include <immintrin.h>
#define XAVX __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

XAVX static inline void set32_v(xrow *r, int64_t e0, float d, float m) {
    _mm256_storeu_ps(r->dl + e0 / 4, _mm256_set1_ps(d));
    r->m16[e0 / 16] = r->m16[e0 / 16 + 1] = m;
}

/* 16 bytes of packed nibbles -> 32 codes in element order */
XAVX static inline __m256i nib32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

XAVX static void expand_fast(uint32_t type, const void *row, int64_t n, void *dst) {
    switch (type) {
    case AI_Q4_0: case AI_Q4_1: {
        bool one = type == AI_Q4_1;
        xrow r = xrow_at(dst, n, one ? 0 : 8);
        size_t bs = one ? sizeof(blk_q4_1) : sizeof(blk_q4_0);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            uint16_t d, m = 0;
            memcpy(&d, p, 2);
            if (one) memcpy(&m, p + 2, 2);
            _mm256_store_si256((__m256i *)(void *)(r.u + k * QK), nib32(p + (one ? 4 : 2)));
            set32_v(&r, k * QK, _cvtsh_ss(d), one ? _cvtsh_ss(m) : 0.0f);
        }
        return;
    }
    case AI_Q5_0: case AI_Q5_1: {
        bool one = type == AI_Q5_1;
        xrow r = xrow_at(dst, n, one ? 0 : 16);
        size_t bs = one ? sizeof(blk_q5_1) : sizeof(blk_q5_0);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            uint16_t d, m = 0;
            memcpy(&d, p, 2);
            if (one) memcpy(&m, p + 2, 2);
            const uint8_t *qh = p + (one ? 4 : 2);
            __m256i v = nib32(qh + 4);
            v = _mm256_mask_add_epi8(v, (__mmask32)u32_at(qh), v, _mm256_set1_epi8(16));
            _mm256_store_si256((__m256i *)(void *)(r.u + k * QK), v);
            set32_v(&r, k * QK, _cvtsh_ss(d), one ? _cvtsh_ss(m) : 0.0f);
        }
        return;
    }
    case AI_Q8_0: {
        xrow r = xrow_at(dst, n, 128);
        const blk_q8_0 *b = row;
        for (int64_t k = 0; k < n / QK; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs);
            _mm256_store_si256((__m256i *)(void *)(r.u + k * QK), _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)));
            set32_v(&r, k * QK, _cvtsh_ss(b[k].d), 0.0f);
        }
        return;
    }
    case AI_Q4_K: case AI_Q5_K: {
        bool five = type == AI_Q5_K;
        xrow r = xrow_at(dst, n, 0);
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        for (int64_t k = 0; k < n / QKK; k++) {
            const uint8_t *scales, *qs, *qh = NULL;
            uint16_t d16, dm16;
            if (five) {
                const blk_q5_K *b = (const blk_q5_K *)row + k;
                scales = b->scales; qs = b->qs; qh = b->qh; d16 = b->d; dm16 = b->dmin;
            } else {
                const blk_q4_K *b = (const blk_q4_K *)row + k;
                scales = b->scales; qs = b->qs; d16 = b->d; dm16 = b->dmin;
            }
            float d = _cvtsh_ss(d16), dmin = _cvtsh_ss(dm16);
            __m256i hv = five ? _mm256_loadu_si256((const __m256i *)(const void *)qh) : _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                uint8_t sc, mn;
                k4_scale_min(scales, j, &sc, &mn);
                int64_t e0 = k * QKK + 32 * j;
                __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * (j / 2)));
                __m256i v = _mm256_and_si256((j & 1) ? _mm256_srli_epi16(c, 4) : c, m4);
                if (five)
                    v = _mm256_mask_add_epi8(v, _mm256_test_epi8_mask(hv, _mm256_set1_epi8((char)(1 << j))), v,
                                             _mm256_set1_epi8(16));
                _mm256_store_si256((__m256i *)(void *)(r.u + e0), v);
                set32_v(&r, e0, d * sc, -dmin * mn);
            }
        }
        return;
    }
    case AI_Q6_K: {
        xrow r = xrow_at(dst, n, 32);
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
        for (int64_t k = 0; k < n / QKK; k++) {
            const blk_q6_K *b = (const blk_q6_K *)row + k;
            float d = _cvtsh_ss(b->d);
            for (int hh = 0; hh < 2; hh++) {
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(const void *)(b->ql + 64 * hh));
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(const void *)(b->ql + 64 * hh + 32));
                __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(b->qh + 32 * hh));
                for (int kk = 0; kk < 4; kk++) {
                    __m256i lo = (kk & 1) ? l1 : l0;
                    lo = _mm256_and_si256((kk & 2) ? _mm256_srli_epi16(lo, 4) : lo, m4);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(h, 2 * kk), m3);
                    __m256i v = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
                    _mm256_store_si256((__m256i *)(void *)(r.u + k * QKK + 128 * hh + 32 * kk), v);
                }
            }
            for (int g = 0; g < 16; g++) {
                _mm_storeu_ps(r.dl + (k * QKK + 16 * g) / 4, _mm_set1_ps(d * (float)b->scales[g]));
                r.m16[(k * QKK) / 16 + g] = 0.0f;
            }
        }
        return;
    }
    default:
        expand_row_ref(type, row, n, dst);
        return;
    }
}
/* Four rows straight from a repacked group (ai_repack4: per block pair, 8
 * scale fields in order 2r + b, then each row's two block rests). */
XAVX static bool expand_group_fast(uint32_t type, const uint8_t *g, int64_t n, uint8_t *dst, size_t xb) {
    size_t hs, bs;
    int32_t off;
    switch (type) {
    case AI_Q4_0: hs = 2; bs = sizeof(blk_q4_0); off = 8; break;
    case AI_Q4_1: hs = 4; bs = sizeof(blk_q4_1); off = 0; break;
    case AI_Q5_0: hs = 2; bs = sizeof(blk_q5_0); off = 16; break;
    case AI_Q8_0: hs = 2; bs = sizeof(blk_q8_0); off = 128; break;
    default: return false;
    }
    const size_t rs = bs - hs;
    xrow R[4];
    for (int r = 0; r < 4; r++) R[r] = xrow_at(dst + r * xb, n, off);
    const int64_t nb = n / QK;
    for (int64_t b = 0; b < nb; b += 2) {
        int w = nb - b >= 2 ? 2 : 1;
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < w; k++) {
                const uint8_t *head = g + (size_t)(w * r + k) * hs;
                const uint8_t *rest = g + 4 * (size_t)w * hs + (size_t)(w * r + k) * rs;
                uint16_t d, m = 0;
                memcpy(&d, head, 2);
                if (hs == 4) memcpy(&m, head + 2, 2);
                int64_t e0 = (b + k) * QK;
                __m256i v;
                if (type == AI_Q8_0) {
                    v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)rest),
                                         _mm256_set1_epi8((char)0x80));
                } else if (type == AI_Q5_0) {
                    v = nib32(rest + 4);
                    v = _mm256_mask_add_epi8(v, (__mmask32)u32_at(rest), v, _mm256_set1_epi8(16));
                } else {
                    v = nib32(rest);
                }
                _mm256_store_si256((__m256i *)(void *)(R[r].u + e0), v);
                set32_v(&R[r], e0, _cvtsh_ss(d), hs == 4 ? _cvtsh_ss(m) : 0.0f);
            }
        g += 4 * (size_t)w * bs;
    }
    return true;
}
#endif

bool ai_gemm_expand_group(uint32_t type, const void *group, int64_t n, void *dst) {
#if defined(__x86_64__)
    return expand_group_fast(type, group, n, dst, ai_gemm_row_bytes(n));
#else
    (void)type; (void)group; (void)n; (void)dst;
    return false;
#endif
}

void ai_gemm_expand_row(uint32_t type, const void *row, int64_t n, void *dst) {
#if defined(__x86_64__)
    expand_fast(type, row, n, dst);
#else
    expand_row_ref(type, row, n, dst);
#endif
}

/* The scalar expander, for the tests. */
void ai_gemm_expand_row_ref(uint32_t type, const void *row, int64_t n, void *dst) {
    expand_row_ref(type, row, n, dst);
}

/* ---- the tile kernel ------------------------------------------------------ */

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

typedef struct {
    const uint8_t *u;
    const float *dl, *m16;
} crow;

AVX512 static inline crow crow_at(const uint8_t *w, int64_t n) {
    crow c = {w + HDR, (const float *)(const void *)(w + HDR + n), (const float *)(const void *)(w + HDR + 2 * n)};
    return c;
}

typedef struct {
    const int8_t *qs;
    const float *dyl;
    const int32_t *sl;
    const float *ys16;
} ctok;

AVX512 static inline ctok ctok_at(const uint8_t *a, int64_t n) {
    ctok c = {(const int8_t *)a, (const float *)(const void *)(a + n), (const int32_t *)(const void *)(a + 2 * n),
              (const float *)(const void *)(a + 3 * n)};
    return c;
}

/* NT tokens x 4 rows; NT is a compile-time constant at each call site. */
#define TILE(NT)                                                                                  \
    AVX512 static void tile_##NT(const uint8_t *w, size_t wb, const uint8_t *act, size_t ab,       \
                                 int64_t n, float *out) {                                         \
        int32_t off;                                                                              \
        memcpy(&off, w, sizeof off);                                                              \
        /* off is 0, 8, 16, 32 or 128: -off * sl as a shift of the stored -sl */                 \
        const __m128i sh = _mm_cvtsi32_si128(off ? __builtin_ctz((unsigned)off) : 0);            \
        const __m512i keep = _mm512_set1_epi32(off ? -1 : 0);                                     \
        crow R[4];                                                                                \
        ctok T[NT];                                                                               \
        for (int r = 0; r < 4; r++) R[r] = crow_at(w + r * wb, n);                                \
        for (int t = 0; t < NT; t++) T[t] = ctok_at(act + t * ab, n);                             \
        __m512 acc[4][NT];                                                                        \
        for (int r = 0; r < 4; r++)                                                               \
            for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();                         \
        for (int64_t c = 0; c < n / 64; c++) {                                                    \
            __m512i wu[4];                                                                        \
            __m512 wd[4];                                                                         \
            _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                                 \
                wu[r] = _mm512_load_si512((const void *)(R[r].u + 64 * c));                       \
                wd[r] = _mm512_load_ps(R[r].dl + 16 * c);                                         \
            }                                                                                     \
            _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) {                                \
                __m512i y = _mm512_load_si512((const void *)(T[t].qs + 64 * c));                  \
                __m512 dy = _mm512_load_ps(T[t].dyl + 16 * c);                                    \
                __m512i init = _mm512_and_si512(_mm512_sll_epi32(_mm512_load_si512((const void *)(T[t].sl + 16 * c)), sh), keep); \
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                             \
                    __m512i p = _mm512_dpbusd_epi32(init, wu[r], y);                              \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wd[r], dy), acc[r][t]); \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        /* the additive (min) terms: m16 . ys16 */                                                \
        for (int64_t g = 0; g < n / 16; g += 16) {                                                \
            __mmask16 m = n / 16 - g >= 16 ? 0xFFFF : (__mmask16)((1u << (n / 16 - g)) - 1);      \
            _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                                 \
                __m512 mv = _mm512_maskz_loadu_ps(m, R[r].m16 + g);                               \
                _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++)                              \
                    acc[r][t] = _mm512_fmadd_ps(mv, _mm512_maskz_loadu_ps(m, T[t].ys16 + g), acc[r][t]); \
            }                                                                                     \
        }                                                                                         \
        for (int r = 0; r < 4; r++)                                                               \
            for (int t = 0; t < NT; t++) out[r * 4 + t] = _mm512_reduce_add_ps(acc[r][t]);        \
    }
TILE(4)
TILE(1)

void ai_gemm_tile(const void *w, const void *act, int nt, int64_t n, float *out) {
    size_t wb = ai_gemm_row_bytes(n), ab = ai_gemm_act_bytes(n);
    if (nt == 4) {
        tile_4(w, wb, act, ab, n, out);
        return;
    }
    for (int t = 0; t < nt; t++) {
        float o[16];
        tile_1(w, wb, (const uint8_t *)act + t * ab, ab, n, o);
        for (int r = 0; r < 4; r++) out[r * 4 + t] = o[r * 4];
    }
}
#else
void ai_gemm_tile(const void *w, const void *act, int nt, int64_t n, float *out) {
    (void)w; (void)act; (void)nt; (void)n; (void)out;
}
#endif
