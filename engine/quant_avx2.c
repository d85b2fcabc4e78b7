/* quant_avx2.c — AVX2 + FMA + F16C fast paths.
 *
 * Compiled for the base x86-64 target; each function carries its own
 * target attribute, and ai_vec_dot_get picks these only when
 * ai_isa_detect() says the CPU runs them. Every kernel computes exactly the
 * integer sums of the scalar reference in quant.c (the float accumulation
 * order differs); the activation quantizers write the same bytes.
 *
 * Integer products use maddubs (u8 x s8 -> s16 pairs, saturating): every
 * weight operand here is at most 63 in magnitude after the sign trick or is
 * unsigned <= 63, so pair sums stay below 2*63*128 < 32767; for Q8_0 the
 * unsigned operand can reach 128 with the signed one at most 127 (the
 * activation quantizer never writes -128): 2*128*127 = 32512.
 */
#include "quant_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* 16 bytes of packed nibbles -> 32 bytes 0..15: low nibbles (elements
 * 0..15) then high nibbles (16..31). */
AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, 0xFF where the bit is set (byte i <- bit i). */
AVX2 static inline __m256i bits32(const uint8_t *qh4) {
    uint32_t qh = load_u32(qh4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* u8 x s8, 32 pairs -> 8 int32 partial sums. */
AVX2 static inline __m256i dot_us(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* s8 x s8 (x may be -128, y not): |x| * (y with x's sign). */
AVX2 static inline __m256i dot_ss(__m256i x, __m256i y) {
    return dot_us(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

AVX2 static float dot_q4_0(const void *row, const void *xq, int64_t n) {
    const blk_q4_0 *x = row;
    const blk_q8_0 *y = xq;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i qx = _mm256_sub_epi8(nibbles32(x[b].qs), _mm256_set1_epi8(8));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256 p = _mm256_cvtepi32_ps(dot_ss(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), p, acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_q4_1(const void *row, const void *xq, int64_t n) {
    const blk_q4_1 *x = row;
    const blk_q8_1 *y = xq;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256 p = _mm256_cvtepi32_ps(dot_us(nibbles32(x[b].qs), qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), p, acc);
        summ += h2f(x[b].m) * h2f(y[b].s);
    }
    return hsum_ps(acc) + summ;
}

AVX2 static float dot_q5_0(const void *row, const void *xq, int64_t n) {
    const blk_q5_0 *x = row;
    const blk_q8_0 *y = xq;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i hi = _mm256_and_si256(bits32(x[b].qh), _mm256_set1_epi8(0x10));
        __m256i qx = _mm256_sub_epi8(_mm256_or_si256(nibbles32(x[b].qs), hi), _mm256_set1_epi8(16));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256 p = _mm256_cvtepi32_ps(dot_ss(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), p, acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_q5_1(const void *row, const void *xq, int64_t n) {
    const blk_q5_1 *x = row;
    const blk_q8_1 *y = xq;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i hi = _mm256_and_si256(bits32(x[b].qh), _mm256_set1_epi8(0x10));
        __m256i qx = _mm256_or_si256(nibbles32(x[b].qs), hi);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256 p = _mm256_cvtepi32_ps(dot_us(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), p, acc);
        summ += h2f(x[b].m) * h2f(y[b].s);
    }
    return hsum_ps(acc) + summ;
}

AVX2 static float dot_q8_0(const void *row, const void *xq, int64_t n) {
    const blk_q8_0 *x = row;
    const blk_q8_0 *y = xq;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256 p = _mm256_cvtepi32_ps(dot_ss(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), p, acc);
    }
    return hsum_ps(acc);
}

/* Q4_K / Q5_K: per 64-element chunk c, the low nibbles are sub-block 2c and
 * the high nibbles 2c+1; products are weighted by the 6-bit scales in
 * int16 (madd), mins come from Q8_K's bsums. */
AVX2 static float dot_q4_K(const void *row, const void *xq, int64_t n) {
    const blk_q4_K *x = row;
    const blk_q8_K *y = xq;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / QKK; b++) {
        uint8_t sc[8], mn[8];
        int32_t smin = 0;
        for (int j = 0; j < 8; j++) {
            k4_scale_min(x[b].scales, j, &sc[j], &mn[j]);
            smin += mn[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c + 32));
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16(sc[2 * c]));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        float dy = y[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(sumi), acc);
        summ += h2f(x[b].dmin) * dy * (float)smin;
    }
    return hsum_ps(acc) - summ;
}

AVX2 static float dot_q5_K(const void *row, const void *xq, int64_t n) {
    const blk_q5_K *x = row;
    const blk_q8_K *y = xq;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < n / QKK; b++) {
        uint8_t sc[8], mn[8];
        int32_t smin = 0;
        for (int j = 0; j < 8; j++) {
            k4_scale_min(x[b].scales, j, &sc[j], &mn[j]);
            smin += mn[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[b].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
            /* bit j of qh[l] is bit 4 of sub-block j's element l */
            __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
            __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h0, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_slli_epi16(h1, 4));
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c + 32));
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16(sc[2 * c]));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        float dy = y[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(sumi), acc);
        summ += h2f(x[b].dmin) * dy * (float)smin;
    }
    return hsum_ps(acc) - summ;
}

/* Q6_K: unsigned q (0..63) times y, weighted by the int8 scale of each
 * 16-group; the -32 offset is 32 * sum(scale * bsum). */
AVX2 static float dot_q6_K(const void *row, const void *xq, int64_t n) {
    const blk_q6_K *x = row;
    const blk_q8_K *y = xq;
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < n / QKK; b++) {
        int32_t off = 0;
        for (int g = 0; g < 16; g++) off += x[b].scales[g] * y[b].bsums[g];
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h, *qhp = x[b].qh + 32 * h;
            const int8_t *sc = x[b].scales + 8 * h, *yq = y[b].qs + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                __m256i yy = _mm256_loadu_si256((const __m256i *)(yq + 32 * k));
                __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yy), s));
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * off, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * y[b].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_f16(const void *row, const void *xq, int64_t n) {
    const uint16_t *a = row;
    const float *x = xq;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        s0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), s1);
    }
    float s = hsum_ps(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += h2f(a[i]) * x[i];
    return s;
}

AVX2 static float dot_f32(const void *row, const void *xq, int64_t n) {
    const float *a = row, *x = xq;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);
    }
    float s = hsum_ps(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * x[i];
    return s;
}

/* ---- activation quantizers ---------------------------------------------- */

/* roundf (half away from zero), exactly: truncate, then step away from zero
 * when the dropped fraction is >= 0.5 (x - trunc(x) is exact in float). */
AVX2 static inline __m256 round_away(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    __m256 ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(ge, step));
}

/* 4 x 8 int32 -> 32 int8 in order. */
AVX2 static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AVX2 static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* One block of 32: returns d, writes qs and the int32 sum of qs. */
AVX2 static inline float quant_block32(const float *x, int8_t *qs, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
    }
    float amax = hmax_ps(mx);
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[k], vid)));
    _mm256_storeu_si256((__m256i *)qs, pack32(q[0], q[1], q[2], q[3]));
    if (sum) *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    return d;
}

AVX2 static void act_q8_0(const float *x, void *dst, int64_t n) {
    blk_q8_0 *y = dst;
    for (int64_t b = 0; b < n / QK; b++) y[b].d = ai_f32_to_f16(quant_block32(x + QK * b, y[b].qs, NULL));
}

AVX2 static void act_q8_1(const float *x, void *dst, int64_t n) {
    blk_q8_1 *y = dst;
    for (int64_t b = 0; b < n / QK; b++) {
        int sum;
        float d = quant_block32(x + QK * b, y[b].qs, &sum);
        y[b].d = ai_f32_to_f16(d);
        y[b].s = ai_f32_to_f16(d * (float)sum);
    }
}

/* Q8_0/Q8_1 activations straight into ai_act_pair records: the codes and
 * scales of act_q8_0/act_q8_1 without the blocks in between. */
AVX2 static inline void act_pairs(const float *x, int64_t n, ai_act_pair *out, bool with_sum) {
    const int64_t nb = n / QK;
    const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
    for (int64_t b = 0; b < nb; b += 2) {
        ai_act_pair *a = &out[b / 2];
        memset(a, 0, sizeof *a); /* an odd last block pairs with zeros */
        for (int k = 0; k < 2 && b + k < nb; k++) {
            int8_t qs[QK];
            int sum;
            float d = quant_block32(x + QK * (b + k), qs, &sum);
            __m128i lo = _mm_loadu_si128((const __m128i *)qs), hi = _mm_loadu_si128((const __m128i *)(qs + 16));
            _mm_storeu_si128((__m128i *)(a->lo + 16 * k), lo);
            _mm_storeu_si128((__m128i *)(a->hi + 16 * k), hi);
            /* sums of 4 codes (u8 ones times s8 codes, then pairs) */
            __m128i s4 = _mm_add_epi32(_mm_madd_epi16(_mm_maddubs_epi16(ones8, lo), ones16),
                                       _mm_madd_epi16(_mm_maddubs_epi16(ones8, hi), ones16));
            _mm_storeu_si128((__m128i *)(a->neg_sum + 4 * k), _mm_sub_epi32(_mm_setzero_si128(), s4));
            float dh = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
            a->d[k] = dh;
            a->ds[2 * k] = dh;
            a->ds[2 * k + 1] = with_sum ? _cvtsh_ss(_cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT)) : 0.0f;
        }
    }
}

AVX2 static void act_pairs_q8_0(const float *x, int64_t n, ai_act_pair *out) { act_pairs(x, n, out, false); }
AVX2 static void act_pairs_q8_1(const float *x, int64_t n, ai_act_pair *out) { act_pairs(x, n, out, true); }

AVX2 static void act_q8_K(const float *x, void *dst, int64_t n) {
    blk_q8_K *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / QKK; b++) {
        const float *xb = x + QKK * b;
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < QKK; k += 8) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + k)));
        float amax = hmax_ps(mx);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float max = 0.0f; /* the first element of largest magnitude, with its sign */
        for (int k = 0; k < QKK; k++)
            if (xb[k] == amax || xb[k] == -amax) { max = xb[k]; break; }
        float iscale = -127.0f / max;
        __m256 vs = _mm256_set1_ps(iscale);
        for (int k = 0; k < QKK; k += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; j++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + k + 8 * j), vs);
                q[j] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            }
            _mm256_storeu_si256((__m256i *)(y[b].qs + k), pack32(q[0], q[1], q[2], q[3]));
            y[b].bsums[k / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            y[b].bsums[k / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
        }
        y[b].d = 1.0f / iscale;
    }
}

ai_vec_dot_fn ai_vec_dot_avx2(uint32_t type) {
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

ai_quantize_fn ai_quantize_act_avx2(uint32_t vec_type) {
    switch (vec_type) {
    case AI_Q8_0: return act_q8_0;
    case AI_Q8_1: return act_q8_1;
    case AI_Q8_K: return act_q8_K;
    default: return NULL;
    }
}

ai_act_pairs_fn ai_act_pairs_avx2(uint32_t vec_type) {
    return vec_type == AI_Q8_0 ? act_pairs_q8_0 : vec_type == AI_Q8_1 ? act_pairs_q8_1 : NULL;
}

#else /* not x86-64 */

ai_vec_dot_fn ai_vec_dot_avx2(uint32_t type) { return NULL; }
ai_quantize_fn ai_quantize_act_avx2(uint32_t vec_type) { return NULL; }
ai_act_pairs_fn ai_act_pairs_avx2(uint32_t vec_type) { return NULL; }

#endif
