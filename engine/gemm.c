/* gemm.c — see gemm.h. The expanders and the activation preparation run
 * once per chunk (their cost is shared by every token of a prefill chunk,
 * or every row of a matrix); the tile kernel is AVX-512 VNNI. */
#include "gemm.h"

#include <string.h>

#include "quant_impl.h"

/* Expanded row: [64-byte header: int32 G, int32 has_min] [int8 w[n]]
 * [int32 init[n/16]] [float d[n/16]] [float m[n/16]] (n/G entries used),
 * padded to 64 bytes. init[k] = -128 * sum of block k's codes. */
#define HDR 64
static size_t pad64(size_t v) { return (v + 63) & ~(size_t)63; }

size_t ai_gemm_row_bytes(int64_t n) { return pad64(HDR + (size_t)n + 12 * ((size_t)n / 16)); }

/* Group of 16 prepared tokens: [uint8 codes: step s (4 elements) of token t
 * at (s * 16 + t) * 4] [float dy[n/32][16]] [float sy[n/32][16]], sy being
 * dy * (sum of the block's codes), for the formats with an additive term. */
size_t ai_gemm_act_bytes(int64_t n) { return 20 * (size_t)n; }

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
    return isa == AI_ISA_AVX512 && n > 0 && n % 32 == 0 && type_ok(type) &&
           ai_row_bytes(type, n) > 0;
}


/* fp16 conversions and the block sum of the activation preparation: F16C
 * and one 32-byte sum of absolute differences where the batched path runs
 * (x86-64 with AVX-512), the bit-level conversions elsewhere. */
#if defined(__x86_64__)
#include <immintrin.h>
#define PREP __attribute__((target("avx2,f16c")))
PREP static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
PREP static inline uint16_t f2h(float f) { return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
/* the block's 32 codes shifted to unsigned (y + 128) into u, and their signed sum */
PREP static inline int32_t codes_u8(const int8_t *qs, uint32_t u[QK / 4]) {
    __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)qs), _mm256_set1_epi8((char)0x80));
    _mm256_storeu_si256((__m256i *)(void *)u, v);
    __m256i sad = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - QK * 128;
}
#else
#define PREP
static inline float h2f(uint16_t h) { return ai_f16_to_f32(h); }
static inline uint16_t f2h(float f) { return ai_f32_to_f16(f); }
static inline int32_t codes_u8(const int8_t *qs, uint32_t u[QK / 4]) {
    int32_t sum = 0;
    for (int e = 0; e < QK; e++) sum += qs[e];
    for (int s = 0; s < QK / 4; s++) u[s] = load_u32(qs + 4 * s) ^ 0x80808080u;
    return sum;
}
#endif

/* The preparation from Q8_0 blocks made by q: the reference with the
 * scalar quantizer, and the path of the ISAs without prepare_avx512. */
PREP static void prepare_blocks(const float *x, int64_t n, int nt, void *dst, ai_quantize_fn q) {
    uint8_t *codes = dst;
    float *dy = (float *)(void *)(codes + 16 * n), *sy = dy + 16 * (n / QK);
    for (int t = 0; t < AI_GEMM_TOKENS; t++) {
        if (t >= nt) { /* a zero token: codes 128 (y = 0), no scale */
            for (int64_t s = 0; s < n / 4; s++) memset(codes + (s * 16 + t) * 4, 0x80, 4);
            for (int64_t k = 0; k < n / QK; k++) dy[k * 16 + t] = sy[k * 16 + t] = 0.0f;
            continue;
        }
        blk_q8_0 blk[8];
        for (int64_t b0 = 0; b0 < n / QK; b0 += 8) {
            int nb = n / QK - b0 < 8 ? (int)(n / QK - b0) : 8;
            q(x + (size_t)t * n + b0 * QK, blk, (int64_t)nb * QK);
            for (int b = 0; b < nb; b++) {
                int64_t k = b0 + b;
                uint32_t u[QK / 4];
                int32_t sum = codes_u8(blk[b].qs, u);
                dy[k * 16 + t] = h2f(blk[b].d);
                /* rounded to fp16 like the one-token path's Q8_1 s */
                sy[k * 16 + t] = h2f(f2h(dy[k * 16 + t] * (float)sum));
                for (int s = 0; s < QK / 4; s++) memcpy(codes + ((k * 8 + s) * 16 + t) * 4, &u[s], 4);
            }
        }
    }
}

#if defined(__x86_64__)
#define PREP512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c")))

/* 16 floats times id, rounded half away from zero (roundf, as the
 * reference quantizer) */
PREP512 static inline __m512i round_codes(__m512 v, __m512 id) {
    __m512 x = _mm512_mul_ps(v, id);
    __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(x, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 step = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_set1_ps(1.0f),
                                       _mm512_set1_ps(-1.0f));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
}

/* The same bytes as prepare_blocks with the scalar quantizer, without Q8_0
 * blocks in between and in passes over a token's blocks, so that the scale
 * arithmetic (a division, fp16 rounding) runs 16 blocks per instruction and
 * no pass is one long dependency chain per block (the blocks took ~0.8 ns
 * per element, now ~0.45; perf: 6 % of a SmolLM2 prefill). Each block's eight
 * code dwords are scattered straight to their token lane. */
PREP512 static void prepare_avx512(const float *x, int64_t n, int nt, void *dst) {
    uint8_t *codes = dst;
    float *dy = (float *)(void *)(codes + 16 * n), *sy = dy + 16 * (n / QK);
    const int64_t nb = n / QK;
    const __m256i lane = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112); /* dword s at s * 16 */
    for (int t = 0; t < AI_GEMM_TOKENS; t++) {
        if (t >= nt) {
            for (int64_t s = 0; s < n / 4; s++) memset(codes + (s * 16 + t) * 4, 0x80, 4);
            for (int64_t k = 0; k < nb; k++) dy[k * 16 + t] = sy[k * 16 + t] = 0.0f;
            continue;
        }
        const float *xt = x + (size_t)t * n;
        for (int64_t k0 = 0; k0 < nb; k0 += 16) { /* 16 blocks: 512 elements */
            const int kn = nb - k0 < 16 ? (int)(nb - k0) : 16;
            const __mmask16 km = (__mmask16)((1u << kn) - 1);
            _Alignas(64) float amax[16] = {0}, id[16];
            _Alignas(64) int32_t sum[16] = {0};
            for (int b = 0; b < kn; b++) {
                const float *xb = xt + (k0 + b) * QK;
                amax[b] = _mm512_reduce_max_ps(
                    _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xb)), _mm512_abs_ps(_mm512_loadu_ps(xb + 16))));
            }
            __m512 d = _mm512_div_ps(_mm512_load_ps(amax), _mm512_set1_ps(127.0f));
            __mmask16 nz = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_OQ);
            _mm512_store_ps(id, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), d));
            for (int b = 0; b < kn; b++) {
                const float *xb = xt + (k0 + b) * QK;
                __m512 idv = _mm512_set1_ps(id[b]);
                __m256i q = _mm256_set_m128i(_mm512_cvtepi32_epi8(round_codes(_mm512_loadu_ps(xb + 16), idv)),
                                             _mm512_cvtepi32_epi8(round_codes(_mm512_loadu_ps(xb), idv)));
                __m256i u = _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));
                __m256i sad = _mm256_sad_epu8(u, _mm256_setzero_si256());
                __m128i h = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
                sum[b] = (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - QK * 128;
                _mm256_i32scatter_epi32((int *)(void *)(codes + ((k0 + b) * 8 * 16 + t) * 4), lane, u, 4);
            }
            /* d and d * sum rounded to fp16 (the blocks' d and the one-token
             * path's Q8_1 s), to their lanes: block k at k * 16 + t */
            __m512 dr = _mm512_cvtph_ps(_mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            __m512 sr = _mm512_mul_ps(dr, _mm512_cvtepi32_ps(_mm512_load_si512(sum)));
            sr = _mm512_cvtph_ps(_mm512_cvtps_ph(sr, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                  _mm512_set1_epi32(16));
            _mm512_mask_i32scatter_ps(dy + k0 * 16 + t, km, at, dr, 4);
            _mm512_mask_i32scatter_ps(sy + k0 * 16 + t, km, at, sr, 4);
        }
    }
}
#endif

void ai_gemm_prepare_act(const float *x, int64_t n, int nt, void *dst, ai_isa isa) {
#if defined(__x86_64__)
    if (isa == AI_ISA_AVX512) {
        prepare_avx512(x, n, nt, dst);
        return;
    }
#endif
    /* the same codes and d as the one-token path's Q8_0 */
    prepare_blocks(x, n, nt, dst, ai_quantize_act_get(AI_Q8_0, isa));
}

void ai_gemm_prepare_act_ref(const float *x, int64_t n, int nt, void *dst) {
    prepare_blocks(x, n, nt, dst, ai_quantize_act_get(AI_Q8_0, AI_ISA_SCALAR));
}

/* ---- expanders --------------------------------------------------------- */

typedef struct {
    int8_t *w;
    int32_t *init;
    float *d, *m;
} xrow;

static xrow xrow_at(void *dst, int64_t n, int32_t g, int32_t has_min) {
    uint8_t *b = dst;
    memset(b, 0, HDR);
    memcpy(b, &g, 4);
    memcpy(b + 4, &has_min, 4);
    int32_t *init = (int32_t *)(void *)(b + HDR + n);
    xrow r = {(int8_t *)(b + HDR), init, (float *)(init + n / 16), (float *)(init + n / 16) + n / 16};
    return r;
}

/* block k of g codes is in r->w: its scale, additive term and start value */
static void finish_block(xrow *r, int64_t k, int g, float d, float m) {
    int32_t sum = 0;
    for (int e = 0; e < g; e++) sum += r->w[k * g + e];
    r->init[k] = -128 * sum;
    r->d[k] = d;
    r->m[k] = m;
}

/* The fields of super-block k of a Q4_K or Q5_K row (qh NULL for Q4_K). */
typedef struct {
    const uint8_t *scales, *qs, *qh;
    float d, dmin;
} kblock;

static kblock kblock_at(const void *row, int64_t k, bool five) {
    if (five) {
        const blk_q5_K *b = (const blk_q5_K *)row + k;
        return (kblock){b->scales, b->qs, b->qh, ai_f16_to_f32(b->d), ai_f16_to_f32(b->dmin)};
    }
    const blk_q4_K *b = (const blk_q4_K *)row + k;
    return (kblock){b->scales, b->qs, NULL, ai_f16_to_f32(b->d), ai_f16_to_f32(b->dmin)};
}

static inline int nib(const uint8_t *qs, int j) { return j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4; }

static void expand_row_ref(uint32_t type, const void *row, int64_t n, void *dst) {
    switch (type) {
    case AI_Q4_0: case AI_Q4_1: {
        bool one = type == AI_Q4_1;
        xrow r = xrow_at(dst, n, QK, one);
        size_t bs = one ? sizeof(blk_q4_1) : sizeof(blk_q4_0);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            uint16_t d, m = 0;
            memcpy(&d, p, 2);
            if (one) memcpy(&m, p + 2, 2);
            for (int j = 0; j < QK; j++) r.w[k * QK + j] = (int8_t)(nib(p + (one ? 4 : 2), j) - (one ? 0 : 8));
            finish_block(&r, k, QK, ai_f16_to_f32(d), ai_f16_to_f32(m));
        }
        break;
    }
    case AI_Q5_0: case AI_Q5_1: {
        bool one = type == AI_Q5_1;
        xrow r = xrow_at(dst, n, QK, one);
        size_t bs = one ? sizeof(blk_q5_1) : sizeof(blk_q5_0);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            uint16_t d, m = 0;
            memcpy(&d, p, 2);
            if (one) memcpy(&m, p + 2, 2);
            const uint8_t *qh = p + (one ? 4 : 2), *qs = qh + 4;
            uint32_t hb = load_u32(qh);
            for (int j = 0; j < QK; j++)
                r.w[k * QK + j] = (int8_t)((nib(qs, j) | ((hb >> j) & 1) << 4) - (one ? 0 : 16));
            finish_block(&r, k, QK, ai_f16_to_f32(d), ai_f16_to_f32(m));
        }
        break;
    }
    case AI_Q8_0: {
        xrow r = xrow_at(dst, n, QK, 0);
        const blk_q8_0 *b = row;
        for (int64_t k = 0; k < n / QK; k++) {
            memcpy(r.w + k * QK, b[k].qs, QK);
            finish_block(&r, k, QK, ai_f16_to_f32(b[k].d), 0.0f);
        }
        break;
    }
    case AI_Q4_K: case AI_Q5_K: {
        bool five = type == AI_Q5_K;
        xrow r = xrow_at(dst, n, QK, 1);
        for (int64_t k = 0; k < n / QKK; k++) {
            kblock kb = kblock_at(row, k, five);
            for (int j = 0; j < 8; j++) {
                uint8_t sc, mn;
                k4_scale_min(kb.scales, j, &sc, &mn);
                const uint8_t *c = kb.qs + 32 * (j / 2);
                for (int l = 0; l < 32; l++) {
                    int v = (j & 1) ? c[l] >> 4 : c[l] & 0xF;
                    if (five) v |= ((kb.qh[l] >> j) & 1) << 4;
                    r.w[k * QKK + 32 * j + l] = (int8_t)v;
                }
                finish_block(&r, k * 8 + j, QK, kb.d * sc, -kb.dmin * mn);
            }
        }
        break;
    }
    case AI_Q6_K: {
        xrow r = xrow_at(dst, n, 16, 0);
        for (int64_t k = 0; k < n / QKK; k++) {
            const blk_q6_K *b = (const blk_q6_K *)row + k;
            float d = ai_f16_to_f32(b->d);
            for (int e = 0; e < QKK; e++) {
                int hh = e / 128, kk = (e % 128) / 32, l = e % 32;
                const uint8_t *ql = b->ql + 64 * hh, *qh = b->qh + 32 * hh;
                int lo = (kk & 1) ? ql[32 + l] : ql[l];
                lo = (kk & 2) ? lo >> 4 : lo & 0xF;
                r.w[k * QKK + e] = (int8_t)((lo | (((qh[l] >> (2 * kk)) & 3) << 4)) - 32);
            }
            for (int g = 0; g < 16; g++) finish_block(&r, k * 16 + g, 16, d * (float)b->scales[g], 0.0f);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- SIMD expanders (same bytes as expand_row_ref) --------------------- */

#if defined(__x86_64__)
#define XAVX __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* stores 32 signed codes as block k with its scale, term and start value */
XAVX static inline void put32(xrow *r, int64_t k, __m256i v, float d, float m) {
    _mm256_storeu_si256((__m256i *)(void *)(r->w + k * QK), v);
    /* sum of signed bytes: sum of (v + 128) as unsigned, less 32 * 128 */
    __m256i s = _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    int32_t sum = (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - QK * 128;
    r->init[k] = -128 * sum;
    r->d[k] = d;
    r->m[k] = m;
}

/* 16 bytes of packed nibbles -> 32 codes in element order */
XAVX static inline __m256i nib32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/* One 32-block of the plain formats: the scale fields at head, the codes at
 * qs (Q5: the 16 nibble bytes, with the high bits in qh). */
XAVX static inline void put_block(xrow *r, int64_t k, uint32_t type, const uint8_t *head, uint32_t qh,
                                  const uint8_t *qs) {
    uint16_t d, m = 0;
    memcpy(&d, head, 2);
    __m256i v;
    switch (type) {
    case AI_Q8_0:
        v = _mm256_loadu_si256((const __m256i *)(const void *)qs);
        break;
    case AI_Q5_0: case AI_Q5_1:
        v = nib32(qs);
        v = _mm256_mask_add_epi8(v, (__mmask32)qh, v, _mm256_set1_epi8(16));
        break;
    default:
        v = nib32(qs);
        break;
    }
    if (type == AI_Q4_1 || type == AI_Q5_1) memcpy(&m, head + 2, 2);
    else v = _mm256_sub_epi8(v, _mm256_set1_epi8(type == AI_Q4_0 ? 8 : type == AI_Q5_0 ? 16 : 0));
    put32(r, k, v, _cvtsh_ss(d), _cvtsh_ss(m));
}

/* put_block from a block's head and rest (Q5: the high bits first) */
XAVX static inline void put_rest(xrow *r, int64_t k, uint32_t type, const uint8_t *head, const uint8_t *rest) {
    bool q5 = type == AI_Q5_0 || type == AI_Q5_1;
    put_block(r, k, type, head, q5 ? load_u32(rest) : 0, q5 ? rest + 4 : rest);
}

XAVX static void expand_fast(uint32_t type, const void *row, int64_t n, void *dst) {
    switch (type) {
    case AI_Q4_0: case AI_Q4_1: case AI_Q5_0: case AI_Q5_1: case AI_Q8_0: {
        size_t hs = (type == AI_Q4_1 || type == AI_Q5_1) ? 4 : 2;
        size_t bs = ai_row_bytes(type, QK);
        xrow r = xrow_at(dst, n, QK, hs == 4);
        for (int64_t k = 0; k < n / QK; k++) {
            const uint8_t *p = (const uint8_t *)row + k * bs;
            put_rest(&r, k, type, p, p + hs);
        }
        return;
    }
    case AI_Q4_K: case AI_Q5_K: {
        bool five = type == AI_Q5_K;
        xrow r = xrow_at(dst, n, QK, 1);
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        for (int64_t k = 0; k < n / QKK; k++) {
            kblock kb = kblock_at(row, k, five);
            __m256i hv = five ? _mm256_loadu_si256((const __m256i *)(const void *)kb.qh) : _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                uint8_t sc, mn;
                k4_scale_min(kb.scales, j, &sc, &mn);
                __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(kb.qs + 32 * (j / 2)));
                __m256i v = _mm256_and_si256((j & 1) ? _mm256_srli_epi16(c, 4) : c, m4);
                if (five)
                    v = _mm256_mask_add_epi8(v, _mm256_test_epi8_mask(hv, _mm256_set1_epi8((char)(1 << j))), v,
                                             _mm256_set1_epi8(16));
                put32(&r, k * 8 + j, v, kb.d * sc, -kb.dmin * mn);
            }
        }
        return;
    }
    case AI_Q6_K: {
        xrow r = xrow_at(dst, n, 16, 0);
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), c32 = _mm256_set1_epi8(32);
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
                    __m256i v = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), c32);
                    _mm256_storeu_si256((__m256i *)(void *)(r.w + k * QKK + 128 * hh + 32 * kk), v);
                }
            }
            /* 16-element blocks: sums from the stored codes */
            for (int g = 0; g < 16; g++) finish_block(&r, k * 16 + g, 16, d * (float)b->scales[g], 0.0f);
        }
        return;
    }
    default:
        expand_row_ref(type, row, n, dst);
        return;
    }
}

/* Four rows straight from a repacked group (ai_repack4: per block pair, 8
 * scale fields in order 2r + b, then each row's two block rests; the Q5
 * formats' high bits apart). */
XAVX static bool expand_group_fast(uint32_t type, const uint8_t *g, int64_t n, uint8_t *dst, size_t xb) {
    if (!ai_repack4_supported(type)) return false;
    const size_t hs = ai_repack4_head(type), bs = ai_row_bytes(type, QK), rs = bs - hs;
    xrow R[4];
    for (int r = 0; r < 4; r++) R[r] = xrow_at(dst + r * xb, n, QK, hs == 4);
    const int64_t nb = n / QK;
    for (int64_t b = 0; b < nb; b += 2) {
        int w = nb - b >= 2 ? 2 : 1;
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < w; k++) {
                const uint8_t *head = g + (size_t)(w * r + k) * hs;
                if ((type == AI_Q5_0 || type == AI_Q5_1) && w == 2) /* [8 heads][masks][4 x 32 code bytes] */
                    put_block(&R[r], b + k, type, head, ai_repack4_q5_qh(g + 8 * hs, r, k),
                              g + 8 * hs + 32 + 32 * r + 16 * k);
                else
                    put_rest(&R[r], b + k, type, head, g + 4 * (size_t)w * hs + (size_t)(w * r + k) * rs);
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
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

/* acc + (16 tokens' unsigned codes u8) . (4 signed weight codes at w,
 * broadcast): gcc 12 loads the broadcast with a separate vpbroadcastd, so
 * its operand is written as the embedded {1to16} memory broadcast here,
 * one instruction instead of two (32 of these in each 32-block of 4 rows:
 * the loop went from 105 to 80 instructions). */
AVX512 static inline __attribute__((always_inline)) __m512i dpbusd_bcst(__m512i acc, __m512i u8, const uint8_t *w) {
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u8), "m"(*(const int32_t *)(const void *)w));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, u8, _mm512_set1_epi32((int)load_u32(w)));
#endif
}

/* 4 rows x 16 tokens per group, ng (1 to 3) groups, with blocks of G codes;
 * G, has_min and ng are constants at each call site so that the loops
 * unroll. Several groups give 4 ng independent vpdpbusd chains per step: with
 * 4, each chain waits for its previous vpdpbusd (latency 5 cycles on this
 * Xeon) and the tile ran at half of the two per cycle the core can issue
 * (a micro-benchmark: 0.39 ns per vpdpbusd with 4 chains, 0.20 with 8);
 * each weight dword is also loaded once for all the groups. Measured per
 * vpdpbusd (one core, 64 rows of 576-4864 columns, from cache): 0.59-0.68
 * ns with one group, 0.40-0.45 with two, 0.34-0.40 with three (`autoinfer
 * bench --kernels` prints the rates). Every field of a row is addressed
 * from the row's start with offsets shared by the four rows, so that the
 * loop needs one pointer per row (separate pointers per field did not fit
 * the 16 general registers). */
AVX512 static inline __attribute__((always_inline)) void
tile_g(const uint8_t *w, size_t wb, const uint8_t *act, int64_t n, const int G, const bool has_min, const int ng,
       int nt, int nr, const ai_gemm_out *o) {
    const uint8_t *row[4];
    for (int r = 0; r < 4; r++) row[r] = w + r * wb;
    /* offsets of block 0's codes, start value, scale and term */
    const size_t o_c = HDR, o_i = HDR + (size_t)n, o_d = o_i + (size_t)n / 4, o_m = o_d + (size_t)n / 4;
    /* offsets of the groups' scales and sums from their codes */
    const size_t o_dy = 16 * (size_t)n, o_sy = o_dy + 64 * (size_t)(n / QK), ab = ai_gemm_act_bytes(n);
    __m512 acc[AI_GEMM_GROUPS][4];
    for (int g = 0; g < ng; g++)
        for (int r = 0; r < 4; r++) acc[g][r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n / G; k++) {
        __m512i s[AI_GEMM_GROUPS][4];
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
            s[0][r] = _mm512_set1_epi32(load_u32(row[r] + o_i + 4 * k));
            for (int g = 1; g < ng; g++) s[g][r] = s[0][r];
        }
        _Pragma("GCC unroll 8") for (int st = 0; st < G / 4; st++) {
            const uint8_t *y = act + (k * (G / 4) + st) * 64;
            __m512i y0 = _mm512_load_si512((const void *)y);
            if (ng == 1) {
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)
                    s[0][r] = dpbusd_bcst(s[0][r], y0, row[r] + o_c + k * G + 4 * st);
                continue;
            }
            __m512i y1 = _mm512_load_si512((const void *)(y + ab)), y2 = y1;
            if (ng == 3) y2 = _mm512_load_si512((const void *)(y + 2 * ab));
            _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
                __m512i wv = _mm512_set1_epi32((int)load_u32(row[r] + o_c + k * G + 4 * st));
                s[0][r] = _mm512_dpbusd_epi32(s[0][r], y0, wv);
                s[1][r] = _mm512_dpbusd_epi32(s[1][r], y1, wv);
                if (ng == 3) s[2][r] = _mm512_dpbusd_epi32(s[2][r], y2, wv);
            }
        }
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
            float dr, mr = 0.0f;
            memcpy(&dr, row[r] + o_d + 4 * k, 4);
            if (has_min) memcpy(&mr, row[r] + o_m + 4 * k, 4);
            const __m512 drv = _mm512_set1_ps(dr), mrv = _mm512_set1_ps(mr);
            _Pragma("GCC unroll 3") for (int g = 0; g < ng; g++) {
                const float *dy = (const float *)(const void *)(act + g * ab + o_dy);
                __m512 dyv = _mm512_load_ps(dy + (k * G / QK) * 16);
                acc[g][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[g][r]), _mm512_mul_ps(dyv, drv), acc[g][r]);
                if (has_min) {
                    const float *sy = (const float *)(const void *)(act + g * ab + o_sy);
                    acc[g][r] = _mm512_fmadd_ps(mrv, _mm512_load_ps(sy + k * 16), acc[g][r]);
                }
            }
        }
    }
    /* transpose 4 rows x 16 tokens: each token's four results land in one
     * 128-bit lane, stored to its output row with the bias and the residual */
    const __mmask8 rows = (__mmask8)((1u << nr) - 1);
    const __m128 bias = o->bias ? _mm_maskz_loadu_ps(rows, o->bias) : _mm_setzero_ps();
    for (int g = 0; g < ng; g++) {
        const __m512 *a = acc[g];
        __m512 a01l = _mm512_unpacklo_ps(a[0], a[1]), a01h = _mm512_unpackhi_ps(a[0], a[1]);
        __m512 a23l = _mm512_unpacklo_ps(a[2], a[3]), a23h = _mm512_unpackhi_ps(a[2], a[3]);
        /* x_i holds tokens 4l + i (l = 128-bit lane), rows 0..3 */
        __m512 x0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a01l), _mm512_castps_pd(a23l)));
        __m512 x1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a01l), _mm512_castps_pd(a23l)));
        __m512 x2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a01h), _mm512_castps_pd(a23h)));
        __m512 x3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a01h), _mm512_castps_pd(a23h)));
        __m512 p01 = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(1, 0, 1, 0)), p23 = _mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(1, 0, 1, 0));
        __m512 q01 = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 2, 3, 2)), q23 = _mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(3, 2, 3, 2));
        /* tokens 0-3, 4-7, 8-11, 12-15 of the group */
        __m512 v[4] = {_mm512_shuffle_f32x4(p01, p23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(p01, p23, _MM_SHUFFLE(3, 1, 3, 1)),
                       _mm512_shuffle_f32x4(q01, q23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(q01, q23, _MM_SHUFFLE(3, 1, 3, 1))};
        for (int t = 0; t < 16 && g * 16 + t < nt; t++) {
            float *y = o->y + (size_t)(g * 16 + t) * o->ld;
            __m128 r;
            switch (t % 4) { /* the lane index must be a constant */
            case 0: r = _mm512_extractf32x4_ps(v[t / 4], 0); break;
            case 1: r = _mm512_extractf32x4_ps(v[t / 4], 1); break;
            case 2: r = _mm512_extractf32x4_ps(v[t / 4], 2); break;
            default: r = _mm512_extractf32x4_ps(v[t / 4], 3); break;
            }
            r = _mm_add_ps(r, bias);
            if (o->add) r = _mm_add_ps(_mm_maskz_loadu_ps(rows, y), r);
            _mm_mask_storeu_ps(y, rows, r);
        }
    }
}

/* one function per block size, additive term and number of groups */
#define TILE(name, G, has_min, ng)                                                                    \
    AVX512 static void name(const uint8_t *w, size_t wb, const uint8_t *act, int64_t n, int nt, int nr, \
                            const ai_gemm_out *o) {                                                   \
        tile_g(w, wb, act, n, G, has_min, ng, nt, nr, o);                                           \
    }
TILE(tile_32, QK, false, 1)
TILE(tile_32m, QK, true, 1)
TILE(tile_16, 16, false, 1)
TILE(tile2_32, QK, false, 2)
TILE(tile2_32m, QK, true, 2)
TILE(tile2_16, 16, false, 2)
TILE(tile3_32, QK, false, 3)
TILE(tile3_32m, QK, true, 3)
TILE(tile3_16, 16, false, 3)

void ai_gemm_tile(const void *w, const void *act, int64_t n, int nt, int nr, const ai_gemm_out *o) {
    int32_t g, has_min;
    memcpy(&g, w, 4);
    memcpy(&has_min, (const uint8_t *)w + 4, 4);
    size_t wb = ai_gemm_row_bytes(n);
    if (nt > 2 * AI_GEMM_TOKENS) {
        if (g == 16) tile3_16(w, wb, act, n, nt, nr, o);
        else if (has_min) tile3_32m(w, wb, act, n, nt, nr, o);
        else tile3_32(w, wb, act, n, nt, nr, o);
    } else if (nt > AI_GEMM_TOKENS) {
        if (g == 16) tile2_16(w, wb, act, n, nt, nr, o);
        else if (has_min) tile2_32m(w, wb, act, n, nt, nr, o);
        else tile2_32(w, wb, act, n, nt, nr, o);
    } else {
        if (g == 16) tile_16(w, wb, act, n, nt, nr, o);
        else if (has_min) tile_32m(w, wb, act, n, nt, nr, o);
        else tile_32(w, wb, act, n, nt, nr, o);
    }
}
#else
void ai_gemm_tile(const void *w, const void *act, int64_t n, int nt, int nr, const ai_gemm_out *o) {
    (void)w; (void)act; (void)n; (void)nt; (void)nr; (void)o;
}
#endif
