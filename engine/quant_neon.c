/* quant_neon.c — AArch64 Advanced SIMD fast paths: Q4_0, Q4_1, Q5_0,
 * Q8_0 (integer dots on Q8_0/Q8_1 activations) and F16/F32 (float dots).
 *
 * Baseline ARMv8.0 NEON only (vmull_s8 + pairwise widening adds), so they
 * run on every AArch64 CPU; the integer sums are exactly the scalar
 * reference's, only the float accumulation order differs. Formats not here
 * (K formats, BF16, the activation quantizers) fall back to the scalar
 * reference. Built and tested with `make test-arm` (cross compiler +
 * qemu-user) on x86 hosts. */
#include "quant_impl.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

static inline float h2f(uint16_t h) { return ai_f16_to_f32(h); }

/* sum of a[i] * b[i] for 16 int8 pairs, as 4 int32 lanes added to acc */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

/* 16 bytes of nibbles -> elements 0..15 (low) and 16..31 (high), 0..15 */
static inline void nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t v = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
}

static float dot_q4_0(const void *row, const void *xq, int64_t n) {
    const blk_q4_0 *x = row;
    const blk_q8_0 *y = xq;
    float32x4_t acc = vdupq_n_f32(0);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int64_t b = 0; b < n / QK; b++) {
        int8x16_t lo, hi;
        nibbles(x[b].qs, &lo, &hi);
        int32x4_t s = dot16(vdupq_n_s32(0), vsubq_s8(lo, eight), vld1q_s8(y[b].qs));
        s = dot16(s, vsubq_s8(hi, eight), vld1q_s8(y[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), h2f(x[b].d) * h2f(y[b].d));
    }
    return vaddvq_f32(acc);
}

static float dot_q4_1(const void *row, const void *xq, int64_t n) {
    const blk_q4_1 *x = row;
    const blk_q8_1 *y = xq;
    float32x4_t acc = vdupq_n_f32(0);
    float summ = 0;
    for (int64_t b = 0; b < n / QK; b++) {
        int8x16_t lo, hi;
        nibbles(x[b].qs, &lo, &hi);
        int32x4_t s = dot16(vdupq_n_s32(0), lo, vld1q_s8(y[b].qs));
        s = dot16(s, hi, vld1q_s8(y[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), h2f(x[b].d) * h2f(y[b].d));
        summ += h2f(x[b].m) * h2f(y[b].s);
    }
    return vaddvq_f32(acc) + summ;
}

/* bit i of qh (i in 0..15 or 16..31) as 16 bytes of 0x10 or 0 */
static inline int8x16_t high_bits(uint32_t qh, int half) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint16_t h = (uint16_t)(qh >> (16 * half));
    uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
    uint8x16_t set = vtstq_u8(v, vld1q_u8(bit));
    return vreinterpretq_s8_u8(vandq_u8(set, vdupq_n_u8(0x10)));
}

static float dot_q5_0(const void *row, const void *xq, int64_t n) {
    const blk_q5_0 *x = row;
    const blk_q8_0 *y = xq;
    float32x4_t acc = vdupq_n_f32(0);
    const int8x16_t sixteen = vdupq_n_s8(16);
    for (int64_t b = 0; b < n / QK; b++) {
        uint32_t qh = load_u32(x[b].qh);
        int8x16_t lo, hi;
        nibbles(x[b].qs, &lo, &hi);
        lo = vsubq_s8(vorrq_s8(lo, high_bits(qh, 0)), sixteen);
        hi = vsubq_s8(vorrq_s8(hi, high_bits(qh, 1)), sixteen);
        int32x4_t s = dot16(vdupq_n_s32(0), lo, vld1q_s8(y[b].qs));
        s = dot16(s, hi, vld1q_s8(y[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), h2f(x[b].d) * h2f(y[b].d));
    }
    return vaddvq_f32(acc);
}

static float dot_q8_0(const void *row, const void *xq, int64_t n) {
    const blk_q8_0 *x = row;
    const blk_q8_0 *y = xq;
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t b = 0; b < n / QK; b++) {
        int32x4_t s = dot16(vdupq_n_s32(0), vld1q_s8(x[b].qs), vld1q_s8(y[b].qs));
        s = dot16(s, vld1q_s8(x[b].qs + 16), vld1q_s8(y[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), h2f(x[b].d) * h2f(y[b].d));
    }
    return vaddvq_f32(acc);
}

static float dot_f16(const void *row, const void *xq, int64_t n) {
    const uint16_t *a = row;
    const float *x = xq;
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(a + i));
        s0 = vfmaq_f32(s0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(x + i));
        s1 = vfmaq_f32(s1, vcvt_high_f32_f16(h), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) s += h2f(a[i]) * x[i];
    return s;
}

static float dot_f32(const void *row, const void *xq, int64_t n) {
    const float *a = row, *x = xq;
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(x + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) s += a[i] * x[i];
    return s;
}

ai_vec_dot_fn ai_vec_dot_neon(uint32_t type) {
    switch (type) {
    case AI_F32: return dot_f32;
    case AI_F16: return dot_f16;
    case AI_Q4_0: return dot_q4_0;
    case AI_Q4_1: return dot_q4_1;
    case AI_Q5_0: return dot_q5_0;
    case AI_Q8_0: return dot_q8_0;
    default: return NULL;
    }
}

#else /* not AArch64 */

ai_vec_dot_fn ai_vec_dot_neon(uint32_t type) { return NULL; }

#endif
