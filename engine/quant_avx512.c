/* quant_avx512.c — AVX-512 (F, BW, VL) + VNNI fast paths.
 *
 * Same contract as quant_avx2.c: per-function target attributes, chosen at
 * run time, integer sums identical to the scalar reference. The 32-element
 * formats take two blocks per 512-bit register and multiply with vpdpbusd
 * (u8 x s8 -> s32, no intermediate saturation); so do the K formats, whose
 * per-sub-block sums then meet the int16 scales in vpdpwssd (see below).
 * The activation quantizers (and the activation pair records) are
 * quant_avx2.c's, which ai_quantize_act_get / ai_act_pairs_get hand out at
 * this level too. BF16 has no kernel here nor in quant_avx2.c, so
 * ai_vec_dot_get falls back to the scalar reference for it.
 */
#include "quant_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

AVX512 static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Two blocks' 16 bytes of nibbles -> 64 bytes 0..15 in element order:
 * [block0 low, block0 high, block1 low, block1 high]. */
AVX512 static inline __m512i nibbles64(const uint8_t *qs0, const uint8_t *qs1) {
    __m256i t = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)qs1),
                                 _mm_loadu_si128((const __m128i *)qs0));
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
    w = _mm512_shuffle_i64x2(w, w, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm512_and_si512(w, _mm512_set1_epi8(0x0F));
}

/* Single block: 32 bytes 0..15 in element order. */
AVX512 static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

AVX512 static inline __m512i load2x32(const int8_t *a, const int8_t *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* 16 floats: a in the low 8 lanes, b in the high 8. */
AVX512 static inline __m512 pair_ps(float a, float b) {
    return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

AVX512 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}


AVX512 static float dot_q4_0(const void *row, const void *xq, int64_t n) {
    const blk_q4_0 *x = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc = _mm512_setzero_ps();
    const __m512i eight = _mm512_set1_epi8(8);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i qx = nibbles64(x[b].qs, x[b + 1].qs);
        __m512i qy = load2x32(y[b].qs, y[b + 1].qs);
        /* (q - 8) * y = q * y - 8 * y */
        __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), qx, qy),
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qy));
        __m512 d = pair_ps(h2f(x[b].d) * h2f(y[b].d), h2f(x[b + 1].d) * h2f(y[b + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (; b < nb; b++) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles32(x[b].qs), qy),
                                     _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qy));
        s += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

/* Q4_1, four blocks per iteration: the (d, m) and (d, s) fp16 pairs of four
 * blocks are converted in one vcvtph2ps; even lanes give the four scales
 * d*dy, odd lanes the four m*s terms (accumulated as a vector). */
AVX512 static inline __m128i pairs4(const void *base, size_t stride) {
    const uint8_t *p = base;
    uint32_t a, b, c, d;
    memcpy(&a, p, 4);
    memcpy(&b, p + stride, 4);
    memcpy(&c, p + 2 * stride, 4);
    memcpy(&d, p + 3 * stride, 4);
    return _mm_setr_epi32((int)a, (int)b, (int)c, (int)d);
}

AVX512 static float dot_q4_1(const void *row, const void *xq, int64_t n) {
    const blk_q4_1 *x = row;
    const blk_q8_1 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    const __m512i lo_idx = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i hi_idx = _mm512_set_epi32(6, 6, 6, 6, 6, 6, 6, 6, 4, 4, 4, 4, 4, 4, 4, 4);
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m256 prod = _mm256_mul_ps(_mm256_cvtph_ps(pairs4(&x[b], sizeof *x)),
                                    _mm256_cvtph_ps(pairs4(&y[b], sizeof *y)));
        accm = _mm256_add_ps(accm, prod);
        __m512 pz = _mm512_castps256_ps512(prod);
        __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles64(x[b].qs, x[b + 1].qs),
                                         load2x32(y[b].qs, y[b + 1].qs));
        __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles64(x[b + 2].qs, x[b + 3].qs),
                                         load2x32(y[b + 2].qs, y[b + 3].qs));
        acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(lo_idx, pz), _mm512_cvtepi32_ps(p0), acc);
        acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(hi_idx, pz), _mm512_cvtepi32_ps(p1), acc);
    }
    /* odd lanes of accm hold the m*s sums */
    __m256 odd = _mm256_and_ps(accm, _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1)));
    float s = _mm512_reduce_add_ps(acc) + hsum256(odd);
    for (; b < nb; b++) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles32(x[b].qs), qy);
        s += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(x[b].d) * h2f(y[b].d)) + h2f(x[b].m) * h2f(y[b].s);
    }
    return s;
}

/* Q5: the fifth bit of two blocks is a 64-bit byte mask (bit i <-> byte i). */
AVX512 static float dot_q5_0(const void *row, const void *xq, int64_t n) {
    const blk_q5_0 *x = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc = _mm512_setzero_ps();
    const __m512i sixteen = _mm512_set1_epi8(16);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __mmask64 hb = (__mmask64)load_u32(x[b].qh) | (__mmask64)load_u32(x[b + 1].qh) << 32;
        __m512i qx = nibbles64(x[b].qs, x[b + 1].qs);
        qx = _mm512_mask_add_epi8(qx, hb, qx, sixteen);
        __m512i qy = load2x32(y[b].qs, y[b + 1].qs);
        __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), qx, qy),
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), sixteen, qy));
        __m512 d = pair_ps(h2f(x[b].d) * h2f(y[b].d), h2f(x[b + 1].d) * h2f(y[b + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (; b < nb; b++) {
        __m256i qx = nibbles32(x[b].qs);
        qx = _mm256_mask_add_epi8(qx, (__mmask32)load_u32(x[b].qh), qx, _mm256_set1_epi8(16));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), qx, qy),
                                     _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(16), qy));
        s += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

AVX512 static float dot_q5_1(const void *row, const void *xq, int64_t n) {
    const blk_q5_1 *x = row;
    const blk_q8_1 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc = _mm512_setzero_ps();
    const __m512i sixteen = _mm512_set1_epi8(16);
    float summ = 0.0f;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __mmask64 hb = (__mmask64)load_u32(x[b].qh) | (__mmask64)load_u32(x[b + 1].qh) << 32;
        __m512i qx = nibbles64(x[b].qs, x[b + 1].qs);
        qx = _mm512_mask_add_epi8(qx, hb, qx, sixteen);
        __m512i qy = load2x32(y[b].qs, y[b + 1].qs);
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qx, qy);
        __m512 d = pair_ps(h2f(x[b].d) * h2f(y[b].d), h2f(x[b + 1].d) * h2f(y[b + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
        summ += h2f(x[b].m) * h2f(y[b].s) + h2f(x[b + 1].m) * h2f(y[b + 1].s);
    }
    float s = _mm512_reduce_add_ps(acc) + summ;
    for (; b < nb; b++) {
        __m256i qx = nibbles32(x[b].qs);
        qx = _mm256_mask_add_epi8(qx, (__mmask32)load_u32(x[b].qh), qx, _mm256_set1_epi8(16));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), qx, qy);
        s += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(x[b].d) * h2f(y[b].d)) + h2f(x[b].m) * h2f(y[b].s);
    }
    return s;
}

/* Q8_0 x Q8_0: vpdpbusd wants one unsigned operand: |x| times y carrying
 * x's sign (y is never -128: the activation quantizer writes -127..127). */
AVX512 static float dot_q8_0(const void *row, const void *xq, int64_t n) {
    const blk_q8_0 *x = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i qx = load2x32(x[b].qs, x[b + 1].qs);
        __m512i qy = load2x32(y[b].qs, y[b + 1].qs);
        __mmask64 neg = _mm512_movepi8_mask(qx);
        qy = _mm512_mask_sub_epi8(qy, neg, _mm512_setzero_si512(), qy);
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(qx), qy);
        __m512 d = pair_ps(h2f(x[b].d) * h2f(y[b].d), h2f(x[b + 1].d) * h2f(y[b + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (; b < nb; b++) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i qy = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[b].qs), qx);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qx), qy);
        s += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

/* ---- K formats ------------------------------------------------------------
 * vpdpbusd multiplies the unsigned codes by the signed Q8_K activations. An
 * int32 lane sums 4 products, so a 512-bit product vector holds two Q4_K/Q5_K
 * sub-blocks (32 elements, 8 lanes each) or four Q6_K ones (16 elements, 4
 * lanes), and every lane fits int16 (|sum| <= 4 * 63 * 128). vpackssdw packs
 * two product vectors into words without loss, and one vpdpwssd weights them
 * with the int16 sub-block scales: 1.5 multiplies per 64 elements, integers
 * until one float conversion per super-block. Q4_K/Q5_K's mins and Q6_K's
 * -32 offset come from the Q8_K bsums. */

/* four words holding byte s of a vpshufb source, zero-extended */
#define K_WORD4(s) ((long long)((0x8000ull + (s)) * 0x0001000100010001ull))

/* The 8 six-bit scales and mins of a Q4_K/Q5_K block with word operations
 * (byte j of sc / mn: sub-block j): a, b, c = scales[0..3], [4..7], [8..11]
 * as little-endian words. */
static inline void k4_unpack(const uint8_t *s, uint64_t *sc, uint64_t *mn) {
    uint32_t a = load_u32(s), b = load_u32(s + 4), c = load_u32(s + 8);
    uint32_t sc_hi = (c & 0x0F0F0F0Fu) | ((a >> 6) & 0x03030303u) << 4;
    uint32_t mn_hi = ((c >> 4) & 0x0F0F0F0Fu) | ((b >> 6) & 0x03030303u) << 4;
    *sc = (uint64_t)sc_hi << 32 | (a & 0x3F3F3F3Fu);
    *mn = (uint64_t)mn_hi << 32 | (b & 0x3F3F3F3Fu);
}

/* Q8_K activations of one super-block, in the order of the Q4_K/Q5_K codes:
 * a 64-byte load of qs covers chunks c, c+1, whose low nibbles are
 * sub-blocks 2c, 2c+2 and high nibbles 2c+1, 2c+3. */
typedef struct {
    __m512i q[4]; /* sub-blocks 0|2, 1|3, 4|6, 5|7 */
    __m256i bsums;
    float d;
} k4_act;

/* forced: the one- and four-row Q4_K/Q5_K kernels are k4_rows with constant
 * nr and q5, which gcc otherwise calls out of line (and then keeps the four
 * accumulators in memory) */
#define K_INLINE AVX512 static inline __attribute__((always_inline))

K_INLINE void k4_act_load(const blk_q8_K *y, k4_act *a) {
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const int8_t *q = y->qs + 128 * (i / 2) + 32 * (i % 2);
        a->q[i] = load2x32(q, q + 64);
    }
    a->bsums = _mm256_loadu_si256((const __m256i *)(const void *)y->bsums);
    a->d = y->d;
}

/* One Q4_K (qh NULL) or Q5_K super-block of one row against the prepared
 * activations: acc += d*dy * sum_j sc_j * (q.y)_j, and accm (8 lanes) +=
 * dmin*dy * m_j * (bsums[2j] + bsums[2j+1]). blk: the block (d, dmin and
 * scales come first in both formats). */
K_INLINE void k4_block(const uint8_t *blk, const uint8_t *qh, const uint8_t *qs, const k4_act *a, __m512 *acc,
                       __m256 *accm) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), z = _mm512_setzero_si512();
    __m512i q[4];
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        __m512i w = _mm512_loadu_si512((const void *)(qs + 64 * i));
        q[2 * i] = _mm512_and_si512(w, m4);
        q[2 * i + 1] = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    }
    if (qh) { /* bit 4 of element l of sub-block j is bit j of qh[l] */
        __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)qh));
        static const int sub[4] = {0, 1, 4, 5}; /* q[i] holds sub-blocks sub[i], sub[i] + 2 */
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << sub[i])),
                                             _mm256_set1_epi8((char)(1 << (sub[i] + 2))), 1);
            q[i] = _mm512_mask_add_epi8(q[i], _mm512_test_epi8_mask(h, bit), q[i], _mm512_set1_epi8(16));
        }
    }
    /* 128-bit lane k of p01 holds 4 words of sub-block 2(k/2), then 4 of
     * 2(k/2)+1; p23 the same for sub-blocks 4..7 */
    __m512i p01 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, q[0], a->q[0]), _mm512_dpbusd_epi32(z, q[1], a->q[1]));
    __m512i p23 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, q[2], a->q[2]), _mm512_dpbusd_epi32(z, q[3], a->q[3]));
    uint64_t sc, mn;
    k4_unpack(blk + 4, &sc, &mn);
    __m512i s8 = _mm512_set1_epi64((long long)sc);
    const __m512i idx01 = _mm512_setr_epi64(K_WORD4(0), K_WORD4(1), K_WORD4(0), K_WORD4(1), K_WORD4(2), K_WORD4(3),
                                            K_WORD4(2), K_WORD4(3));
    const __m512i idx23 = _mm512_add_epi16(idx01, _mm512_set1_epi16(4));
    __m512i sumi = _mm512_dpwssd_epi32(_mm512_madd_epi16(p01, _mm512_shuffle_epi8(s8, idx01)), p23,
                                       _mm512_shuffle_epi8(s8, idx23));
    /* words m0 m0 m1 m1 ... m7 m7 against the 16 bsums */
    const __m256i idxm = _mm256_setr_epi8(0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128,
                                          4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128);
    __m256i mins = _mm256_madd_epi16(_mm256_shuffle_epi8(_mm256_set1_epi64x((long long)mn), idxm), a->bsums);
    /* d*dy, dmin*dy */
    __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)load_u32(blk))), _mm_set1_ps(a->d));
    *acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dm), _mm512_cvtepi32_ps(sumi), *acc);
    *accm = _mm256_fmadd_ps(_mm256_permutexvar_ps(_mm256_set1_epi32(1), _mm256_castps128_ps256(dm)),
                            _mm256_cvtepi32_ps(mins), *accm);
}

/* nr (1 or 4) rows of Q4_K (q5 false) or Q5_K; row k at row + k*stride */
K_INLINE void k4_rows(const void *row, size_t stride, const void *xq, int64_t n, int nr, bool q5, float *out) {
    const uint8_t *w = row;
    const blk_q8_K *y = xq;
    const size_t bs = q5 ? sizeof(blk_q5_K) : sizeof(blk_q4_K);
    __m512 acc[4];
    __m256 accm[4];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n / QKK; b++) {
        k4_act a;
        k4_act_load(&y[b], &a);
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + r * stride + b * bs;
            /* four interleaved rows defeat the hardware prefetcher: fetch the
             * same block two groups of rows ahead (a steady trickle that works
             * for rows of any length; measured in docs/performance.md) */
            if (nr > 1)
                for (size_t o = 0; o < bs; o += 64) __builtin_prefetch(blk + 8 * stride + o);
            if (q5)
                k4_block(blk, blk + offsetof(blk_q5_K, qh), blk + offsetof(blk_q5_K, qs), &a, &acc[r], &accm[r]);
            else
                k4_block(blk, NULL, blk + offsetof(blk_q4_K, qs), &a, &acc[r], &accm[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) out[r] = _mm512_reduce_add_ps(acc[r]) - hsum256(accm[r]);
}

AVX512 static float dot_q4_K(const void *row, const void *xq, int64_t n) {
    float s;
    k4_rows(row, 0, xq, n, 1, false, &s);
    return s;
}

AVX512 static float dot_q5_K(const void *row, const void *xq, int64_t n) {
    float s;
    k4_rows(row, 0, xq, n, 1, true, &s);
    return s;
}

AVX512 static void dot4_q4_K(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    k4_rows(row, stride, xq, n, 4, false, out);
}

AVX512 static void dot4_q5_K(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    k4_rows(row, stride, xq, n, 4, true, out);
}

/* Q6_K: one row only (a four-row form measured no faster from cache and
 * slower streaming; docs/performance.md). Per super-block:
 * d*dy * sum_g sc_g * ((q - 32).y)_g. */
AVX512 static float dot_q6_K(const void *row, const void *xq, int64_t n) {
    const blk_q6_K *x = row;
    const blk_q8_K *y = xq;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30), z = _mm512_setzero_si512();
    /* qa takes qh bits 0-1 (elements 0..31 of a half) and 2-3 (32..63) to
     * bits 4-5, qb bits 4-5 (64..95) and 6-7 (96..127): per-half shifts of
     * words (no bit crosses a byte on its way to bits 4-5) */
    const __m512i sh_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh_b = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* the scale of each word of a packed product pair: 128-bit lane k holds
     * 4 words of sub-block 8h+k (qa), then 4 of 8h+4+k (qb) */
    const __m512i idx = _mm512_set_epi16(7, 7, 7, 7, 3, 3, 3, 3, 6, 6, 6, 6, 2, 2, 2, 2,
                                         5, 5, 5, 5, 1, 1, 1, 1, 4, 4, 4, 4, 0, 0, 0, 0);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QKK; b++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)x[b].scales));
        __m256i bsums = _mm256_loadu_si256((const __m256i *)(const void *)y[b].bsums);
        /* the offset first: -32 * sc_g * bsums_g, as 32 * sc_g times -bsums_g
         * (both int16) */
        __m512i sumi = _mm512_zextsi256_si512(
            _mm256_madd_epi16(_mm256_slli_epi16(sc16, 5), _mm256_sub_epi16(_mm256_setzero_si256(), bsums)));
        __m512i sc = _mm512_zextsi256_si512(sc16);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i l = _mm512_loadu_si512((const void *)(x[b].ql + 64 * h));
            __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(x[b].qh + 32 * h)));
            __m512i qa = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(_mm512_sllv_epi16(hb, sh_a), m30));
            __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                         _mm512_and_si512(_mm512_srlv_epi16(hb, sh_b), m30));
            const int8_t *yq = y[b].qs + 128 * h;
            __m512i p = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, qa, _mm512_loadu_si512((const void *)yq)),
                                           _mm512_dpbusd_epi32(z, qb, _mm512_loadu_si512((const void *)(yq + 64))));
            __m512i sch = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16((short)(8 * h))), sc);
            sumi = _mm512_dpwssd_epi32(sumi, p, sch);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(h2f(x[b].d) * y[b].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

AVX512 static float dot_f16(const void *row, const void *xq, int64_t n) {
    const uint16_t *a = row;
    const float *x = xq;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16)));
        s0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += h2f(a[i]) * x[i];
    return s;
}

AVX512 static float dot_f32(const void *row, const void *xq, int64_t n) {
    const float *a = row, *x = xq;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(x + i + 16), s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * x[i];
    return s;
}

ai_vec_dot_fn ai_vec_dot_avx512(uint32_t type) {
    switch (type) {
    case AI_F32: return dot_f32;
    case AI_F16: return dot_f16;
    case AI_Q4_0: return dot_q4_0;
    case AI_Q4_1: return dot_q4_1;
    case AI_Q5_0: return dot_q5_0;
    case AI_Q5_1: return dot_q5_1;
    case AI_Q8_0: return dot_q8_0;
    case AI_Q4_K: return dot_q4_K;
    case AI_Q5_K: return dot_q5_K;
    case AI_Q6_K: return dot_q6_K;
    default: return NULL;
    }
}

/* ---- four rows at once ---------------------------------------------------
 * A matrix-vector product reads each activation block once per four weight
 * rows, and reduces four accumulators together. Per iteration: two blocks of
 * each of the four rows. The fp16 scales of the 4 x 2 blocks are gathered
 * (vpgatherdd at the blocks' offsets) and converted in one vcvtph2ps; lane
 * 2r + b holds row r's block b. */

/* The dwords at (row r, block b) for r < 4, b < 2, in lane 2r + b: plain
 * loads (vpgatherdd is slow on AMD). */
AVX512 static inline __m256i dwords8(const uint8_t *w0, size_t stride, size_t blk) {
    /* built in registers: 8 stores + one wide load would stall store forwarding */
    __m128i a = _mm_setr_epi32((int)load_u32(w0), (int)load_u32(w0 + blk), (int)load_u32(w0 + stride),
                               (int)load_u32(w0 + stride + blk));
    __m128i b = _mm_setr_epi32((int)load_u32(w0 + 2 * stride), (int)load_u32(w0 + 2 * stride + blk),
                               (int)load_u32(w0 + 3 * stride), (int)load_u32(w0 + 3 * stride + blk));
    return _mm256_set_m128i(b, a);
}

/* Nibbles of two blocks in "split" order, without a cross-lane shuffle:
 * [b0 low nibbles, b1 low, b0 high, b1 high] (elements b0 0..15, b1 0..15,
 * b0 16..31, b1 16..31); the activations are permuted to match once per
 * iteration (split_y), shared by the four rows. */
AVX512 static inline __m512i nibbles64s(const uint8_t *qs0, const uint8_t *qs1) {
    __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
                                        _mm_loadu_si128((const __m128i *)qs1), 1);
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
    return _mm512_and_si512(w, _mm512_set1_epi8(0x0F));
}

AVX512 static inline __m512i split_y(const int8_t *y0, const int8_t *y1) {
    const __m512i idx = _mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7);
    return _mm512_permutexvar_epi64(idx, load2x32(y0, y1));
}

/* a Q5 high-bit mask pair in split order */
static inline uint64_t split_mask(uint32_t h0, uint32_t h1) {
    return (uint64_t)(h0 & 0xFFFF) | (uint64_t)(h1 & 0xFFFF) << 16 | (uint64_t)(h0 >> 16) << 32 |
           (uint64_t)(h1 >> 16) << 48;
}

/* fp16 in the low half of each dword -> 8 floats */
AVX512 static inline __m256 low_h8(__m256i g) { return _mm256_cvtph_ps(_mm256_cvtepi32_epi16(g)); }

/* row r's scale for two blocks as 16 lanes: lanes 0..7 <- s[2r], 8..15 <- s[2r+1] */
AVX512 static inline __m512 row_scale(__m256 s8, int r) {
    __m512i idx = _mm512_set_epi32(2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1,
                                   2 * r + 1, 2 * r + 1, 2 * r, 2 * r, 2 * r, 2 * r, 2 * r, 2 * r,
                                   2 * r, 2 * r);
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(s8));
}

/* the same in split order: lanes 0..3, 8..11 <- s[2r]; 4..7, 12..15 <- s[2r+1] */
AVX512 static inline __m512 row_scale_split(__m256 s8, int r) {
    int a = 2 * r, c = 2 * r + 1;
    __m512i idx = _mm512_setr_epi32(a, a, a, a, c, c, c, c, a, a, a, a, c, c, c, c);
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(s8));
}

/* dy of blocks b, b+1 of Q8_0/Q8_1 activations, repeated for 4 rows:
 * [dy0, dy1, dy0, dy1, ...] */
AVX512 static inline __m256 dy_pairs(uint16_t d0, uint16_t d1) {
    __m128i h = _mm_set1_epi32((int)((uint32_t)d0 | (uint32_t)d1 << 16));
    return _mm256_cvtph_ps(h);
}

AVX512 static inline void reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, float *out) {
    out[0] = _mm512_reduce_add_ps(a0);
    out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2);
    out[3] = _mm512_reduce_add_ps(a3);
}

AVX512 static void dot4_q4_0(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    const uint8_t *w = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const __m512i eight = _mm512_set1_epi8(8);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *w0 = w + b * sizeof(blk_q4_0);
        __m512i qy = split_y(y[b].qs, y[b + 1].qs);
        __m512i sy = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qy); /* 8 * sum(y) */
        __m256 sc = _mm256_mul_ps(low_h8(dwords8(w0, stride, sizeof(blk_q4_0))), dy_pairs(y[b].d, y[b + 1].d));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const blk_q4_0 *x = (const blk_q4_0 *)(const void *)(w0 + r * stride);
            __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles64s(x[0].qs, x[1].qs), qy), sy);
            acc[r] = _mm512_fmadd_ps(row_scale_split(sc, r), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    reduce4(acc[0], acc[1], acc[2], acc[3], out);
    for (; b < nb; b++)
        for (int r = 0; r < 4; r++)
            out[r] += dot_q4_0(w + r * stride + b * sizeof(blk_q4_0), &y[b], QK);
}

AVX512 static void dot4_q4_1(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    const uint8_t *w = row;
    const blk_q8_1 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512 accm = _mm512_setzero_ps();
    /* (d, m) dwords of the 8 blocks -> 16 floats: lane 4r + 2b = d, +1 = m */
    const __m512i lo[4] = {_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2),
                           _mm512_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6, 4, 4, 4, 4, 6, 6, 6, 6),
                           _mm512_setr_epi32(8, 8, 8, 8, 10, 10, 10, 10, 8, 8, 8, 8, 10, 10, 10, 10),
                           _mm512_setr_epi32(12, 12, 12, 12, 14, 14, 14, 14, 12, 12, 12, 12, 14, 14, 14, 14)};
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *w0 = w + b * sizeof(blk_q4_1);
        __m512i qy = split_y(y[b].qs, y[b + 1].qs);
        __m256i g = dwords8(w0, stride, sizeof(blk_q4_1));
        uint32_t p0, p1;
        memcpy(&p0, &y[b], 4);
        memcpy(&p1, &y[b + 1], 4);
        __m512 ys = _mm512_cvtph_ps(_mm256_set_epi32((int)p1, (int)p0, (int)p1, (int)p0, (int)p1, (int)p0,
                                                     (int)p1, (int)p0));
        __m512 prod = _mm512_mul_ps(_mm512_cvtph_ps(g), ys); /* d*dy, m*s interleaved */
        accm = _mm512_add_ps(accm, prod);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const blk_q4_1 *x = (const blk_q4_1 *)(const void *)(w0 + r * stride);
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles64s(x[0].qs, x[1].qs), qy);
            acc[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(lo[r], prod), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    /* odd lanes of accm: the m*s terms, row r in lanes 4r+1, 4r+3 */
    float ms[16];
    _mm512_storeu_ps(ms, accm);
    reduce4(acc[0], acc[1], acc[2], acc[3], out);
    for (int r = 0; r < 4; r++) out[r] += ms[4 * r + 1] + ms[4 * r + 3];
    for (; b < nb; b++)
        for (int r = 0; r < 4; r++)
            out[r] += dot_q4_1(w + r * stride + b * sizeof(blk_q4_1), &y[b], QK);
}

AVX512 static void dot4_q5_0(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    const uint8_t *w = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const __m512i sixteen = _mm512_set1_epi8(16);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *w0 = w + b * sizeof(blk_q5_0);
        __m512i qy = split_y(y[b].qs, y[b + 1].qs);
        __m512i sy = _mm512_dpbusd_epi32(_mm512_setzero_si512(), sixteen, qy);
        __m256 sc = _mm256_mul_ps(low_h8(dwords8(w0, stride, sizeof(blk_q5_0))), dy_pairs(y[b].d, y[b + 1].d));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const blk_q5_0 *x = (const blk_q5_0 *)(const void *)(w0 + r * stride);
            __mmask64 hb = split_mask(load_u32(x[0].qh), load_u32(x[1].qh));
            __m512i qx = nibbles64s(x[0].qs, x[1].qs);
            qx = _mm512_mask_add_epi8(qx, hb, qx, sixteen);
            __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), qx, qy), sy);
            acc[r] = _mm512_fmadd_ps(row_scale_split(sc, r), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    reduce4(acc[0], acc[1], acc[2], acc[3], out);
    for (; b < nb; b++)
        for (int r = 0; r < 4; r++)
            out[r] += dot_q5_0(w + r * stride + b * sizeof(blk_q5_0), &y[b], QK);
}

AVX512 static void dot4_q8_0(const void *row, size_t stride, const void *xq, int64_t n, float *out) {
    const uint8_t *w = row;
    const blk_q8_0 *y = xq;
    const int64_t nb = n / QK;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *w0 = w + b * sizeof(blk_q8_0);
        __m512i qy = load2x32(y[b].qs, y[b + 1].qs);
        __m256 sc = _mm256_mul_ps(low_h8(dwords8(w0, stride, sizeof(blk_q8_0))), dy_pairs(y[b].d, y[b + 1].d));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const blk_q8_0 *x = (const blk_q8_0 *)(const void *)(w0 + r * stride);
            __m512i qx = load2x32(x[0].qs, x[1].qs);
            __m512i sy = _mm512_mask_sub_epi8(qy, _mm512_movepi8_mask(qx), _mm512_setzero_si512(), qy);
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(qx), sy);
            acc[r] = _mm512_fmadd_ps(row_scale(sc, r), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    reduce4(acc[0], acc[1], acc[2], acc[3], out);
    for (; b < nb; b++)
        for (int r = 0; r < 4; r++)
            out[r] += dot_q8_0(w + r * stride + b * sizeof(blk_q8_0), &y[b], QK);
}

ai_vec_dot4_fn ai_vec_dot4_avx512(uint32_t type) {
    switch (type) {
    case AI_Q4_0: return dot4_q4_0;
    case AI_Q4_1: return dot4_q4_1;
    case AI_Q5_0: return dot4_q5_0;
    case AI_Q8_0: return dot4_q8_0;
    case AI_Q4_K: return dot4_q4_K;
    case AI_Q5_K: return dot4_q5_K;
    default: return NULL;
    }
}

/* ---- four rows repacked (ai_repack4) -------------------------------------
 * One contiguous group per four rows: the memory stream is sequential, and
 * the 8 scale fields of a step come in one load. */

/* the `step` bytes one iteration reads, `pf` bytes ahead: a few lines per
 * step spread the prefetches over the stream (a burst of a whole long group
 * at once stalls; measured in docs/performance.md). A macro: gcc -O2 takes
 * a function holding only prefetches for a side-effect-free one and drops
 * its calls. */
#define PREFETCH_AHEAD(p, pf, step)                                                \
    do {                                                                           \
        if (pf)                                                                    \
            for (size_t o_ = 0; o_ < (step); o_ += 64) __builtin_prefetch((p) + (pf) + o_); \
    } while (0)

/* A step of the repacked kernels covers two blocks of four rows; the codes
 * of two rows are one 64-byte load, multiplied as low and high nibbles
 * against the prepared activations (ai_act_pair: lo, hi) broadcast to both
 * halves. Integer lanes of a row pair: 0..3 row r block b, 4..7 row r block
 * b+1, 8..11 row r+1 block b, 12..15 row r+1 block b+1. */
AVX512 static inline __m512i bcast256(const void *p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* [d_b, d_b+1] four times: the activation scales for the 8 scale fields of
 * a step (order 2r + k) */
AVX512 static inline __m256 dpair(const float *d) {
    double t;
    memcpy(&t, d, sizeof t);
    return _mm256_castpd_ps(_mm256_set1_pd(t));
}

/* acc += scale lanes (picked from src by idx) x the pair's integer sums */
AVX512 static inline __m512 pair_fma(__m512 acc, __m512i isum, __m512 src, __m512i idx) {
    return _mm512_fmadd_ps(_mm512_permutexvar_ps(idx, src), _mm512_cvtepi32_ps(isum), acc);
}

/* scale lanes for row pair p from 8 fields in order 2r + k (stride 1) or
 * from 16 (d, m) fields (stride 2) */
AVX512 static inline __m512i pair_idx(int p, int stride) {
    int a = 4 * p * stride;
    return _mm512_setr_epi32(a, a, a, a, a + stride, a + stride, a + stride, a + stride, a + 2 * stride,
                             a + 2 * stride, a + 2 * stride, a + 2 * stride, a + 3 * stride, a + 3 * stride,
                             a + 3 * stride, a + 3 * stride);
}

/* row sums: out[2p] from lanes 0..7 of acc[p], out[2p+1] from lanes 8..15 */
AVX512 static inline void reduce_pairs(__m512 a0, __m512 a1, float *out) {
    out[0] = hsum256(_mm512_castps512_ps256(a0));
    out[1] = hsum256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a0), 1)));
    out[2] = hsum256(_mm512_castps512_ps256(a1));
    out[3] = hsum256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a1), 1)));
}

/* the odd last block of one row: its 16 code bytes against the last
 * record's block b, in 128-bit halves (hb: high-bit masks for Q5_0, 0 for
 * none); start: the integer start value */
AVX512 static inline int tail_isum(const uint8_t *qs, uint32_t hb, const ai_act_pair *ap, __m128i start) {
    const __m128i m4 = _mm_set1_epi8(0x0F), h = _mm_set1_epi8(16);
    __m128i t = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m128i lo = _mm_mask_add_epi8(_mm_and_si128(t, m4), (__mmask16)(hb & 0xFFFF), _mm_and_si128(t, m4), h);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(t, 4), m4);
    hi = _mm_mask_add_epi8(hi, (__mmask16)(hb >> 16), hi, h);
    __m128i p = _mm_dpbusd_epi32(_mm_dpbusd_epi32(start, lo, _mm_loadu_si128((const __m128i *)ap->lo)), hi,
                                 _mm_loadu_si128((const __m128i *)ap->hi));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1))));
}

/* the neg_sum start values of block b times c (a power of two: 8, 16) */
AVX512 static inline __m128i tail_start(const ai_act_pair *ap, int shift) {
    return _mm_sll_epi32(_mm_loadu_si128((const __m128i *)(const void *)ap->neg_sum), _mm_cvtsi32_si128(shift));
}

/* 64 high bits as a byte mask, at any alignment */
AVX512 static inline __mmask64 mask64_at(const uint8_t *p) {
    uint64_t m;
    memcpy(&m, p, sizeof m);
    return _cvtu64_mask64(m);
}

/* The integer sums of a row pair (64 code bytes at codes: two rows' two
 * blocks) against the activations' halves, from start; masks: the pair's
 * two fifth-bit masks (Q5 formats), or NULL. */
AVX512 static inline __m512i pair_isum(const uint8_t *codes, const uint8_t *masks, __m512i start, __m512i ylo,
                                       __m512i yhi) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    __m512i w = _mm512_loadu_si512((const void *)codes);
    __m512i lo = _mm512_and_si512(w, m4), hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    if (masks) {
        lo = _mm512_mask_add_epi8(lo, mask64_at(masks), lo, sixteen);
        hi = _mm512_mask_add_epi8(hi, mask64_at(masks + 8), hi, sixteen);
    }
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, ylo), hi, yhi);
}

/* Q4_0 and Q5_0: one fp16 d per block and codes offset by 8 (16); Q5_0's
 * fifth bits come from the masks of its layout (ai_repack4). */
AVX512 static inline __attribute__((always_inline)) void dot4p_offset(const void *groups, const ai_act_pair *ap0,
                                                                     int64_t n, int64_t ng, size_t pf, float *out,
                                                                     const bool five) {
    const uint8_t *g = groups; /* the groups are consecutive: g runs on from one to the next */
    const size_t bs = five ? sizeof(blk_q5_0) : sizeof(blk_q4_0);
    const int64_t nb = n / QK;
    const __m512i idx[2] = {pair_idx(0, 1), pair_idx(1, 1)};
    for (int64_t gi = 0; gi < ng; gi++, out += 4) {
        const ai_act_pair *ap = ap0;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, g += 8 * bs, ap++) {
            PREFETCH_AHEAD(g, pf, 8 * bs);
            const __m512i ylo = bcast256(ap->lo), yhi = bcast256(ap->hi);
            /* (q - c) . y as q . y started from -c * sum(y) */
            const __m512i start = _mm512_slli_epi32(bcast256(ap->neg_sum), five ? 4 : 3);
            const __m512 sc = _mm512_castps256_ps512(
                _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g)), dpair(ap->d)));
            const uint8_t *masks = g + 16, *codes = g + (five ? 48 : 16);
#pragma GCC unroll 2
            for (int p = 0; p < 2; p++) {
                acc[p] = pair_fma(acc[p], pair_isum(codes + 64 * p, five ? masks + 16 * p : NULL, start, ylo, yhi),
                                  sc, idx[p]);
            }
        }
        reduce_pairs(acc[0], acc[1], out);
        if (b < nb) { /* [4 d][4 rests: (Q5_0: 4 high-bit bytes,) 16 code bytes] */
            for (int r = 0; r < 4; r++) {
                uint16_t d;
                memcpy(&d, g + 2 * r, 2);
                const uint8_t *x = g + 8 + (bs - 2) * r;
                int isum = five ? tail_isum(x + 4, load_u32(x), ap, tail_start(ap, 4))
                                : tail_isum(x, 0, ap, tail_start(ap, 3));
                out[r] += (float)isum * (h2f(d) * ap->d[0]);
            }
            g += 4 * bs;
        }
    }
}

AVX512 static void dot4p_q4_0(const void *groups, const ai_act_pair *ap, int64_t n, int64_t ng, size_t pf, float *out) {
    dot4p_offset(groups, ap, n, ng, pf, out, false);
}

/* Q4_1 and Q5_1: fp16 (d, m) per block, unsigned codes plus m times the
 * activations' sum (Q8_1's s); Q5_1's fifth bits from its masks. */
AVX512 static inline __attribute__((always_inline)) void dot4p_min(const void *groups, const ai_act_pair *ap0,
                                                                  int64_t n, int64_t ng, size_t pf, float *out,
                                                                  const bool five) {
    const uint8_t *g = groups; /* the groups are consecutive: g runs on from one to the next */
    const size_t bs = five ? sizeof(blk_q5_1) : sizeof(blk_q4_1);
    const int64_t nb = n / QK;
    const __m512i idx[2] = {pair_idx(0, 2), pair_idx(1, 2)};
    for (int64_t gi = 0; gi < ng; gi++, out += 4) {
        const ai_act_pair *ap = ap0;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, accm = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, g += 8 * bs, ap++) {
            PREFETCH_AHEAD(g, pf, 8 * bs);
            const __m512i ylo = bcast256(ap->lo), yhi = bcast256(ap->hi);
            /* 16 fields (d, m) x (d_y, s_y): d * d_y in the even lanes, the
             * min terms m * s_y in the odd ones (summed once at the end) */
            const __m512 prod = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)g)),
                                              _mm512_broadcast_f32x4(_mm_loadu_ps(ap->ds)));
            accm = _mm512_add_ps(accm, prod);
            const uint8_t *masks = g + 32, *codes = g + (five ? 64 : 32);
#pragma GCC unroll 2
            for (int p = 0; p < 2; p++) {
                acc[p] = pair_fma(acc[p],
                                  pair_isum(codes + 64 * p, five ? masks + 16 * p : NULL, _mm512_setzero_si512(), ylo, yhi),
                                  prod, idx[p]);
            }
        }
        float ms[16];
        _mm512_storeu_ps(ms, accm);
        reduce_pairs(acc[0], acc[1], out);
        for (int r = 0; r < 4; r++) out[r] += ms[4 * r + 1] + ms[4 * r + 3];
        if (b < nb) { /* [4 (d, m)][4 rests: (Q5_1: 4 high-bit bytes,) 16 code bytes] */
            for (int r = 0; r < 4; r++) {
                uint16_t dm[2];
                memcpy(dm, g + 4 * r, 4);
                const uint8_t *x = g + 16 + (bs - 4) * r;
                int isum = five ? tail_isum(x + 4, load_u32(x), ap, _mm_setzero_si128())
                                : tail_isum(x, 0, ap, _mm_setzero_si128());
                out[r] += (float)isum * (h2f(dm[0]) * ap->d[0]) + h2f(dm[1]) * ap->ds[1];
            }
            g += 4 * bs;
        }
    }
}

AVX512 static void dot4p_q4_1(const void *groups, const ai_act_pair *ap, int64_t n, int64_t ng, size_t pf, float *out) {
    dot4p_min(groups, ap, n, ng, pf, out, false);
}

AVX512 static void dot4p_q5_1(const void *groups, const ai_act_pair *ap, int64_t n, int64_t ng, size_t pf, float *out) {
    dot4p_min(groups, ap, n, ng, pf, out, true);
}


AVX512 static void dot4p_q5_0(const void *groups, const ai_act_pair *ap, int64_t n, int64_t ng, size_t pf, float *out) {
    dot4p_offset(groups, ap, n, ng, pf, out, true);
}


AVX512 static void dot4p_q8_0(const void *groups, const ai_act_pair *ap0, int64_t n, int64_t ng, size_t pf, float *out) {
    const uint8_t *g = groups; /* the groups are consecutive: g runs on from one to the next */
    const int64_t nb = n / QK;
    const __m512i bias128 = _mm512_set1_epi8((char)0x80);
    for (int64_t gi = 0; gi < ng; gi++, out += 4) {
        const ai_act_pair *ap = ap0;
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, g += 8 * sizeof(blk_q8_0), ap++) {
            PREFETCH_AHEAD(g, pf, 8 * sizeof(blk_q8_0));
            /* the record's lo | hi back in element order: b 0..31, b+1 0..31 */
            __m512i qy = _mm512_loadu_si512((const void *)ap->lo);
            qy = _mm512_shuffle_i64x2(qy, qy, _MM_SHUFFLE(3, 1, 2, 0));
            /* x . y as (x + 128) . y (unsigned times signed) started from -128 * sum(y) */
            __m512i neg128y = _mm512_sub_epi32(_mm512_setzero_si512(),
                                               _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias128, qy));
            __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g)), dpair(ap->d));
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                __m512i qx = _mm512_xor_si512(_mm512_loadu_si512((const void *)(g + 16 + 64 * r)), bias128);
                __m512i p = _mm512_dpbusd_epi32(neg128y, qx, qy);
                acc[r] = _mm512_fmadd_ps(row_scale(sc, r), _mm512_cvtepi32_ps(p), acc[r]);
            }
        }
        reduce4(acc[0], acc[1], acc[2], acc[3], out);
        if (b < nb) { /* [4 d][4 x 32 codes] */
            __m256i qy0 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)ap->lo)),
                                                  _mm_loadu_si128((const __m128i *)ap->hi), 1);
            for (int r = 0; r < 4; r++) {
                uint16_t d;
                memcpy(&d, g + 2 * r, 2);
                __m256i qx = _mm256_loadu_si256((const __m256i *)(const void *)(g + 8 + 32 * r));
                __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qx), _mm256_sign_epi8(qy0, qx));
                out[r] += hsum256(_mm256_cvtepi32_ps(p)) * (h2f(d) * ap->d[0]);
            }
            g += 4 * sizeof(blk_q8_0);
        }
    }
}

ai_vec_dot4p_fn ai_vec_dot4p_avx512(uint32_t type) {
    switch (type) {
    case AI_Q4_0: return dot4p_q4_0;
    case AI_Q4_1: return dot4p_q4_1;
    case AI_Q5_0: return dot4p_q5_0;
    case AI_Q5_1: return dot4p_q5_1;
    case AI_Q8_0: return dot4p_q8_0;
    default: return NULL;
    }
}

#else /* not x86-64 */

ai_vec_dot_fn ai_vec_dot_avx512(uint32_t type) { return NULL; }
ai_vec_dot4_fn ai_vec_dot4_avx512(uint32_t type) { return NULL; }
ai_vec_dot4p_fn ai_vec_dot4p_avx512(uint32_t type) { return NULL; }

#endif
