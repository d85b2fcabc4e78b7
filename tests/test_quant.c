/* test_quant.c — weight formats: hand-built blocks, fp16/bf16 edge cases,
 * quantize/dequantize error bounds, the dot products against float64, and
 * every SIMD kernel against the scalar oracle at each ISA level this CPU
 * runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "quant.h"
#include "quant_impl.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct { uint64_t s; } rng;
static uint64_t rng_next(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
static float rng_uniform(rng *r) { return (float)((rng_next(r) >> 40) * (1.0 / 16777216.0)); }
static float rng_gauss(rng *r) {
    float u = rng_uniform(r) + 1e-7f, v = rng_uniform(r);
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}
/* Test data with the features real weights have: gaussian bulk, some
 * outliers, some blocks offset from zero, an all-zero stretch. */
static void fill_data(rng *r, float *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        float g = rng_gauss(r);
        switch (kind) {
        case 0: x[i] = g; break;
        case 1: x[i] = 0.02f * g + ((rng_next(r) % 97) == 0 ? 0.5f * g : 0.0f); break;
        case 2: x[i] = 3.0f + g; break; /* all positive */
        default: x[i] = (i / 64) % 3 == 1 ? 0.0f : 1e-3f * g; break;
        }
    }
}

static uint16_t f16_bits(float f) { return ai_f32_to_f16(f); }
static float bits_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static void expect_row(uint32_t type, const void *blk, const float *want, int n) {
    float got[QKK];
    ai_dequantize_row(type, blk, got, n);
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            print_error("%s: element %d = %g, expected %g\n", ai_dtype_get(type)->name, i,
                        (double)got[i], (double)want[i]);
            fail();
        }
    }
}

static const uint32_t WEIGHT_TYPES[] = {AI_F32, AI_F16, AI_BF16, AI_Q4_0, AI_Q4_1, AI_Q5_0,
                                        AI_Q5_1, AI_Q8_0, AI_Q4_K, AI_Q5_K, AI_Q6_K};
#define N_WEIGHT_TYPES (sizeof WEIGHT_TYPES / sizeof WEIGHT_TYPES[0])

/* ---- hand-computed blocks ------------------------------------------------ */

static void test_block_sizes(void **state) {
    (void)state;
    static const struct { uint32_t t; size_t size; } S[] = {
        {AI_Q4_0, sizeof(blk_q4_0)}, {AI_Q4_1, sizeof(blk_q4_1)}, {AI_Q5_0, sizeof(blk_q5_0)},
        {AI_Q5_1, sizeof(blk_q5_1)}, {AI_Q8_0, sizeof(blk_q8_0)}, {AI_Q8_1, sizeof(blk_q8_1)},
        {AI_Q4_K, sizeof(blk_q4_K)}, {AI_Q5_K, sizeof(blk_q5_K)}, {AI_Q6_K, sizeof(blk_q6_K)},
        {AI_Q8_K, sizeof(blk_q8_K)}};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
        assert_int_equal(S[i].size, (size_t)ai_dtype_get(S[i].t)->type_size);
    assert_int_equal(ai_row_bytes(AI_Q4_1, 576), 18 * 20);
    assert_int_equal(ai_row_bytes(AI_Q4_K, 576), 0);
}

static void test_q4_0_block(void **state) {
    (void)state;
    uint8_t b[18] = {0x00, 0x38}; /* d = 0.5 */
    float want[32];
    for (int j = 0; j < 16; j++) {
        b[2 + j] = (uint8_t)(j | (15 - j) << 4);
        want[j] = 0.5f * (float)(j - 8);
        want[j + 16] = 0.5f * (float)(7 - j);
    }
    expect_row(AI_Q4_0, b, want, 32);
}

static void test_q4_1_block(void **state) {
    (void)state;
    uint8_t b[20] = {0x00, 0x34, 0x00, 0xBC}; /* d = 0.25, m = -1 */
    float want[32];
    for (int j = 0; j < 16; j++) {
        b[4 + j] = (uint8_t)(j | (j ^ 5) << 4);
        want[j] = 0.25f * (float)j - 1.0f;
        want[j + 16] = 0.25f * (float)(j ^ 5) - 1.0f;
    }
    expect_row(AI_Q4_1, b, want, 32);
}

static void test_q5_blocks(void **state) {
    (void)state;
    /* qh = 0xAAAA5555 little-endian: element j (0..15) gets bit j of 0x5555
     * (set for even j), element 16+j bit j of 0xAAAA (set for odd j). */
    uint8_t b0[22] = {0x00, 0x3C, 0x55, 0x55, 0xAA, 0xAA}; /* d = 1 */
    uint8_t b1[24] = {0x00, 0x40, 0x00, 0x38, 0x55, 0x55, 0xAA, 0xAA}; /* d = 2, m = 0.5 */
    float w0[32], w1[32];
    for (int j = 0; j < 16; j++) {
        uint8_t qs = (uint8_t)((15 - j) | j << 4);
        b0[6 + j] = qs;
        b1[8 + j] = qs;
        int lo = (15 - j) + (j % 2 == 0 ? 16 : 0), hi = j + (j % 2 == 1 ? 16 : 0);
        w0[j] = (float)(lo - 16);
        w0[j + 16] = (float)(hi - 16);
        w1[j] = 2.0f * (float)lo + 0.5f;
        w1[j + 16] = 2.0f * (float)hi + 0.5f;
    }
    expect_row(AI_Q5_0, b0, w0, 32);
    expect_row(AI_Q5_1, b1, w1, 32);
}

static void test_q8_0_block(void **state) {
    (void)state;
    uint8_t b[34] = {0x00, 0x30}; /* d = 0.125 */
    float want[32];
    for (int j = 0; j < 32; j++) {
        int8_t q = (int8_t)(j * 8 - 128); /* -128 .. 120 */
        memcpy(&b[2 + j], &q, 1);
        want[j] = 0.125f * (float)q;
    }
    expect_row(AI_Q8_0, b, want, 32);
}

/* Scales and mins chosen to use the high bits of the packing. */
static const uint8_t K_SC[8] = {1, 2, 3, 4, 17, 33, 50, 63};
static const uint8_t K_M[8] = {0, 5, 10, 63, 16, 32, 48, 1};
/* The same, packed by hand: bytes 0-3 scale j | (scale j+4 >> 4) << 6,
 * 4-7 min j | (min j+4 >> 4) << 6, 8-11 scale j+4 & 15 | (min j+4 & 15) << 4. */
static const uint8_t K_PACKED[12] = {65, 130, 195, 196, 64, 133, 202, 63, 0x01, 0x01, 0x02, 0x1F};

static void test_q4_K_block(void **state) {
    (void)state;
    blk_q4_K b;
    b.d = 0x3C00;    /* 1.0 */
    b.dmin = 0x3800; /* 0.5 */
    memcpy(b.scales, K_PACKED, 12);
    float want[256];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = (l + c) & 15, hi = (3 * l + c) & 15;
            b.qs[32 * c + l] = (uint8_t)(lo | hi << 4);
            want[64 * c + l] = (float)K_SC[2 * c] * (float)lo - 0.5f * (float)K_M[2 * c];
            want[64 * c + 32 + l] = (float)K_SC[2 * c + 1] * (float)hi - 0.5f * (float)K_M[2 * c + 1];
        }
    expect_row(AI_Q4_K, &b, want, 256);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        k4_scale_min(K_PACKED, j, &sc, &m);
        assert_int_equal(sc, K_SC[j]);
        assert_int_equal(m, K_M[j]);
    }
}

static void test_q5_K_block(void **state) {
    (void)state;
    blk_q5_K b;
    b.d = 0x3800;    /* 0.5 */
    b.dmin = 0x3C00; /* 1.0 */
    memcpy(b.scales, K_PACKED, 12);
    for (int l = 0; l < 32; l++) b.qh[l] = (uint8_t)(l * 37 + 11);
    float want[256];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = (l + c) & 15, hi = (3 * l + c) & 15;
            b.qs[32 * c + l] = (uint8_t)(lo | hi << 4);
            int j0 = 2 * c, j1 = 2 * c + 1; /* sub-blocks: bit j of qh[l] is bit 4 */
            int q0 = lo + ((b.qh[l] >> j0) & 1) * 16, q1 = hi + ((b.qh[l] >> j1) & 1) * 16;
            want[64 * c + l] = 0.5f * (float)K_SC[j0] * (float)q0 - (float)K_M[j0];
            want[64 * c + 32 + l] = 0.5f * (float)K_SC[j1] * (float)q1 - (float)K_M[j1];
        }
    expect_row(AI_Q5_K, &b, want, 256);
}

static void test_q6_K_block(void **state) {
    (void)state;
    blk_q6_K b;
    memset(&b, 0, sizeof b);
    b.d = 0x3800; /* 0.5 */
    for (int g = 0; g < 16; g++) b.scales[g] = (int8_t)(g - 8);
    /* Element e = 128h + 32k + l (l < 32): low nibble from ql[64h + l]
     * (k = 0: low, k = 2: high nibble) or ql[64h + 32 + l] (k = 1: low,
     * k = 3: high); bits 4-5 from qh[32h + l] >> 2k. Everything else is 0,
     * so q = 0 -> (0 - 32).
     * First half: ql[0] = 0x21, qh[0] = 0xE4 = 11 10 01 00b:
     *   e 0:  low 1, high 0 -> q 1;   e 32: low 0, high 1 -> q 16;
     *   e 64: low 2, high 2 -> q 34;  e 96: low 0, high 3 -> q 48.
     * Second half: ql[64+33] = 0xF7, qh[32+1] = 0x1B = 00 01 10 11b:
     *   e 129: low 0, high 3 -> 48;   e 161: low 7, high 2 -> 39;
     *   e 193: low 0, high 1 -> 16;   e 225: low 15, high 0 -> 15.
     * Scale of e: scales[e / 16] = e / 16 - 8. */
    b.ql[0] = 0x21;
    b.qh[0] = 0xE4;
    b.ql[64 + 33] = 0xF7;
    b.qh[32 + 1] = 0x1B;
    float want[256];
    for (int e = 0; e < 256; e++) want[e] = 0.5f * (float)(e / 16 - 8) * (float)(0 - 32);
    want[0] = 0.5f * -8.0f * (1 - 32);
    want[32] = 0.5f * -6.0f * (16 - 32);
    want[64] = 0.5f * -4.0f * (34 - 32);
    want[96] = 0.5f * -2.0f * (48 - 32);
    want[129] = 0.5f * 0.0f * (48 - 32);
    want[161] = 0.5f * 2.0f * (39 - 32);
    want[193] = 0.5f * 4.0f * (16 - 32);
    want[225] = 0.5f * 6.0f * (15 - 32);
    expect_row(AI_Q6_K, &b, want, 256);
}

static void test_float_rows(void **state) {
    (void)state;
    uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};
    float want[4] = {1.0f, -2.0f, 5.9604644775390625e-08f, 65504.0f};
    expect_row(AI_F16, h, want, 4);
    uint16_t bf[3] = {0x3F80, 0xC040, 0x0001};
    float wbf[3] = {1.0f, -3.0f, bits_f32(0x00010000)};
    expect_row(AI_BF16, bf, wbf, 3);
    size_t n = ai_quantize_row(AI_F16, want, h, 4);
    assert_int_equal(n, 8);
    assert_int_equal(h[3], 0x7BFF);
}

/* ---- fp16 / bf16 --------------------------------------------------------- */

static void test_f16_edges(void **state) {
    (void)state;
    /* half -> float */
    assert_true(ai_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    assert_true(ai_f16_to_f32(0x03FF) == 1023.0f * ldexpf(1.0f, -24));
    assert_true(ai_f16_to_f32(0x0400) == ldexpf(1.0f, -14));
    assert_true(ai_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(isinf(ai_f16_to_f32(0x7C00)) && ai_f16_to_f32(0x7C00) > 0);
    assert_true(isinf(ai_f16_to_f32(0xFC00)) && ai_f16_to_f32(0xFC00) < 0);
    assert_true(isnan(ai_f16_to_f32(0x7E00)));
    assert_true(isnan(ai_f16_to_f32(0xFC01)));
    assert_int_equal(f32_bits(ai_f16_to_f32(0x8000)), 0x80000000u);
    /* float -> half, round to nearest even */
    assert_int_equal(f16_bits(65504.0f), 0x7BFF);
    assert_int_equal(f16_bits(65519.0f), 0x7BFF);
    assert_int_equal(f16_bits(65520.0f), 0x7C00); /* tie to even = 65536: inf */
    assert_int_equal(f16_bits(1e6f), 0x7C00);
    assert_int_equal(f16_bits(-1e6f), 0xFC00);
    assert_int_equal(f16_bits(1.0f + ldexpf(1, -11)), 0x3C00);     /* tie -> even (down) */
    assert_int_equal(f16_bits(1.0f + 3 * ldexpf(1, -11)), 0x3C02); /* tie -> even (up) */
    assert_int_equal(f16_bits(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3C01);
    assert_int_equal(f16_bits(ldexpf(1, -24)), 0x0001);
    assert_int_equal(f16_bits(ldexpf(1, -25)), 0x0000);        /* tie -> even 0 */
    assert_int_equal(f16_bits(1.5f * ldexpf(1, -25)), 0x0001);
    assert_int_equal(f16_bits(3 * ldexpf(1, -25)), 0x0002);    /* tie 1|2 -> 2 */
    assert_int_equal(f16_bits(5 * ldexpf(1, -25)), 0x0002);    /* tie 2|3 -> 2 */
    assert_int_equal(f16_bits(ldexpf(1, -14) - ldexpf(1, -25)), 0x0400); /* carries into normal */
    assert_int_equal(f16_bits(1e-10f), 0x0000);
    assert_int_equal(f16_bits(-1e-10f), 0x8000);
    assert_int_equal(f16_bits(-0.0f), 0x8000);
    assert_int_equal(f16_bits(INFINITY), 0x7C00);
    uint16_t hn = f16_bits(NAN);
    assert_true((hn & 0x7C00) == 0x7C00 && (hn & 0x3FF) != 0);
    /* every half (but NaN) survives the round trip */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;
        if (f16_bits(ai_f16_to_f32((uint16_t)h)) != h) {
            print_error("f16 round trip of 0x%04x\n", h);
            fail();
        }
    }
}

static void test_bf16_edges(void **state) {
    (void)state;
    assert_int_equal(ai_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(ai_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3F80);     /* tie -> even */
    assert_int_equal(ai_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3F82); /* tie -> even */
    assert_int_equal(ai_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)), 0x3F81);
    assert_int_equal(ai_f32_to_bf16(bits_f32(0x7F7FFFFF)), 0x7F80); /* rounds to inf */
    assert_int_equal(ai_f32_to_bf16(INFINITY), 0x7F80);
    assert_int_equal(ai_f32_to_bf16(-INFINITY), 0xFF80);
    assert_int_equal(ai_f32_to_bf16(bits_f32(0x00018000)), 0x0002); /* subnormal tie -> even */
    assert_int_equal(ai_f32_to_bf16(-0.0f), 0x8000);
    uint16_t n = ai_f32_to_bf16(bits_f32(0x7F800001)); /* signalling nan stays nan */
    assert_true((n & 0x7F80) == 0x7F80 && (n & 0x7F) != 0);
    assert_true(isnan(ai_bf16_to_f32(0x7FC0)));
    assert_true(ai_bf16_to_f32(0x4049) == bits_f32(0x40490000));
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
        assert_int_equal(ai_f32_to_bf16(ai_bf16_to_f32((uint16_t)h)), h);
    }
}

/* ---- quantize -> dequantize error bounds -------------------------------- */

/* Per-element bounds for the round-to-nearest formats, block by block:
 *  Q8_0: |err| <= d/2 (+ |q| |d - fp16(d)| for d's own rounding);
 *  Q4_0/Q5_0: |err| <= d/2 except the clamped top level, which the
 *    symmetric scheme leaves for -max: there |err| <= d;
 *  Q4_1/Q5_1: |err| <= d/2 + q |d - fp16(d)| + |m - fp16(m)|.
 * With float rounding of x/d allowed for by a relative 1e-5 of the block
 * range. The K formats search their scales, so the bound is on each
 * sub-block: |err| <= step (one quantization step d*sc of the stored
 * scales, plus the min's step for elements pushed out of range by the 6-bit
 * min), and on the whole: RMS error / RMS(x) below the format's figure. */
static void check_roundtrip(uint32_t type, const float *x, int64_t n, double rms_limit) {
    const ai_dtype_info *info = ai_dtype_get(type);
    size_t bytes = ai_row_bytes(type, n);
    uint8_t *q = malloc(bytes);
    float *y = malloc((size_t)n * sizeof(float));
    assert_int_equal(ai_quantize_row(type, x, q, n), bytes);
    ai_dequantize_row(type, q, y, n);
    double se = 0, sx = 0;
    for (int64_t b = 0; b < n / info->block; b++) {
        const float *xb = x + b * info->block, *yb = y + b * info->block;
        const uint8_t *blk = q + b * info->type_size;
        float mn = xb[0], mx = xb[0], amax = 0;
        for (int i = 0; i < info->block; i++) {
            mn = fminf(mn, xb[i]); mx = fmaxf(mx, xb[i]); amax = fmaxf(amax, fabsf(xb[i]));
        }
        for (int i = 0; i < info->block; i++) {
            double err = fabs((double)yb[i] - xb[i]), bound;
            switch (type) {
            case AI_F32: bound = 0; break;
            case AI_F16: bound = fabs(xb[i]) * ldexp(1, -11) + ldexp(1, -25); break;
            case AI_BF16: bound = fabs(xb[i]) * ldexp(1, -8); break;
            case AI_Q8_0: {
                double d = amax / 127.0, d16 = ai_f16_to_f32(((const blk_q8_0 *)blk)->d);
                bound = d / 2 + 127 * fabs(d - d16) + 1e-6 * amax;
                break;
            }
            case AI_Q4_0: case AI_Q5_0: {
                double d = amax / (type == AI_Q4_0 ? 8.0 : 16.0), d16 = fabs(ai_f16_to_f32(((const blk_q4_0 *)blk)->d));
                bound = d + 16 * fabs(d - d16) + 1e-6 * amax;
                /* only values near -max may use the clamp: elsewhere d/2 */
                if (fabs(xb[i]) < amax * (type == AI_Q4_0 ? 6.0 / 8 : 14.0 / 16)) bound = d / 2 + 16 * fabs(d - d16) + 1e-6 * amax;
                break;
            }
            case AI_Q4_1: case AI_Q5_1: {
                int levels = type == AI_Q4_1 ? 15 : 31;
                const blk_q4_1 *h = (const blk_q4_1 *)blk;
                double d = (mx - mn) / levels, d16 = ai_f16_to_f32(h->d), m16 = ai_f16_to_f32(h->m);
                bound = d / 2 + levels * fabs(d - d16) + fabs(mn - m16) + 1e-6 * (mx - mn);
                break;
            }
            default: { /* K formats: one step of the sub-block's range */
                int sub = type == AI_Q6_K ? 16 : 32, nmax = type == AI_Q4_K ? 15 : type == AI_Q5_K ? 31 : 63;
                int s0 = i / sub * sub;
                float smn = xb[s0], smx = xb[s0];
                for (int k = s0; k < s0 + sub; k++) { smn = fminf(smn, xb[k]); smx = fmaxf(smx, xb[k]); }
                if (type != AI_Q6_K && smn > 0) smn = 0;
                if (type == AI_Q6_K) { smx = fmaxf(fabsf(smn), fabsf(smx)); smn = -smx; }
                /* 6-bit scales relative to the block's largest can lose up to
                 * 1/63 of that largest; allow one step of the block too. */
                double step = (smx - smn) / nmax;
                double bstep = (type == AI_Q6_K ? 2.0 * amax / 63 : (mx - fminf(mn, 0)) / nmax) / 63.0 * nmax;
                bound = step + bstep + 1e-6 * amax;
                break;
            }
            }
            if (err > bound) {
                print_error("%s: block %lld element %d: x %g -> %g, |err| %g > bound %g\n",
                            info->name, (long long)b, i, (double)xb[i], (double)yb[i], err, bound);
                fail();
            }
            se += err * err;
            sx += (double)xb[i] * xb[i];
        }
    }
    if (sx > 0 && sqrt(se / sx) > rms_limit) {
        print_error("%s: relative RMS error %g > %g\n", info->name, sqrt(se / sx), rms_limit);
        fail();
    }
    free(q);
    free(y);
}

static void test_roundtrip(void **state) {
    (void)state;
    rng r = {0x9E3779B97F4A7C15ull};
    const int64_t n = 4096;
    float *x = malloc(n * sizeof(float));
    /* relative RMS limits for gaussian data (measured on 65536 values:
     * q8_0 0.0053, q4_0 0.086, q4_1 0.078, q5_0 0.043, q5_1 0.038,
     * q4_K 0.071, q5_K 0.036, q6_K 0.018, f16 2.1e-4, bf16 1.7e-3) */
    static const struct { uint32_t t; double rms; } T[] = {
        {AI_F32, 0}, {AI_F16, 3e-4}, {AI_BF16, 2.5e-3}, {AI_Q8_0, 0.007}, {AI_Q4_0, 0.10},
        {AI_Q4_1, 0.09}, {AI_Q5_0, 0.05}, {AI_Q5_1, 0.045}, {AI_Q4_K, 0.082}, {AI_Q5_K, 0.042},
        {AI_Q6_K, 0.021}};
    for (int kind = 0; kind < 4; kind++) {
        fill_data(&r, x, n, kind);
        for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
            check_roundtrip(T[i].t, x, n, kind == 0 ? T[i].rms : 1.0);
    }
    /* constant and zero blocks */
    for (int64_t i = 0; i < n; i++) x[i] = i < n / 2 ? 0.0f : 0.75f;
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) check_roundtrip(T[i].t, x, n, 1.0);
    free(x);
}

/* Q8_1's s and Q8_K's bsums must agree with their quants. */
static void test_activation_sums(void **state) {
    (void)state;
    rng r = {42};
    float x[512];
    fill_data(&r, x, 512, 0);
    blk_q8_1 a[16];
    ai_quantize_row(AI_Q8_1, x, a, 512);
    for (int b = 0; b < 16; b++) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += a[b].qs[j];
        float want = ai_f16_to_f32(ai_f32_to_f16(ai_f16_to_f32(a[b].d) * (float)s));
        assert_true(fabsf(ai_f16_to_f32(a[b].s) - want) <= fabsf(want) * 2e-3f + 1e-6f);
    }
    blk_q8_K k[2];
    ai_quantize_row(AI_Q8_K, x, k, 512);
    for (int b = 0; b < 2; b++)
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += k[b].qs[16 * g + j];
            assert_int_equal(k[b].bsums[g], s);
        }
}

/* ---- dot products against float64 --------------------------------------- */

typedef struct {
    uint32_t type;
    int64_t n;
    uint8_t *w;    /* weight row */
    float *x;      /* activations */
    uint8_t *xq;   /* quantized activations (ai_vec_type) */
    float *wd;     /* dequantized weights */
    float *xd;     /* dequantized activations */
} dot_case;

/* Weights: quantize random data, then (for the integer formats) overwrite
 * the quant bits with random bytes so that every code is exercised — scales
 * and the fp16 fields stay as the quantizer wrote them. */
static void make_case(dot_case *c, uint32_t type, int64_t n, rng *r) {
    c->type = type;
    c->n = n;
    c->w = malloc(ai_row_bytes(type, n));
    c->x = malloc((size_t)n * sizeof(float));
    c->wd = malloc((size_t)n * sizeof(float));
    c->xd = malloc((size_t)n * sizeof(float));
    uint32_t vt = ai_vec_type(type);
    c->xq = malloc(ai_row_bytes(vt, n) + 64);
    float *tmp = malloc((size_t)n * sizeof(float));
    fill_data(r, tmp, n, (int)(rng_next(r) % 3));
    ai_quantize_row(type, tmp, c->w, n);
    const ai_dtype_info *info = ai_dtype_get(type);
    size_t off, len;
    tu_quant_code_span(type, &off, &len);
    for (int64_t b = 0; len && b < n / info->block; b++)
        for (size_t k = 0; k < len; k++) c->w[b * info->type_size + off + k] = (uint8_t)rng_next(r);
    fill_data(r, c->x, n, (int)(rng_next(r) % 2));
    ai_quantize_row(vt, c->x, c->xq, n);
    ai_dequantize_row(type, c->w, c->wd, n);
    ai_dequantize_row(vt, c->xq, c->xd, n);
    free(tmp);
}

static void free_case(dot_case *c) {
    free(c->w); free(c->x); free(c->xq); free(c->wd); free(c->xd);
}

/* Float accumulation of n products: relative error to the float64 sum
 * bounded by ~n * 2^-24 * sum |terms|; we allow 2e-6 per sqrt... keep it
 * simple and safe: 1e-5 * sum |terms| for rows up to a few thousand. */
#define DOT_RTOL 1e-5

static void test_dot_f32_ref(void **state) {
    (void)state;
    rng r = {7};
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        int64_t n = ai_dtype_get(WEIGHT_TYPES[t])->block == 256 ? 1536 : 576;
        dot_case c;
        make_case(&c, WEIGHT_TYPES[t], n, &r);
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            ref += (double)c.wd[i] * c.x[i];
            mag += fabs((double)c.wd[i] * c.x[i]);
        }
        double got = ai_dot_f32_ref(c.type, c.w, c.x, n);
        if (fabs(got - ref) > DOT_RTOL * mag) {
            print_error("%s dot_f32_ref %g vs %g\n", ai_dtype_get(c.type)->name, got, ref);
            fail();
        }
        free_case(&c);
    }
}

/* The integer dot equals sum(dequant(w) * dequant(xq)) in float64, up to
 * float rounding and — for Q8_1 — the fp16 rounding of its s = d * sum(q)
 * (the min term uses s, not the exact sum): |m| |s - d sum(q)| per block. */
static double vec_dot_f64(const dot_case *c, double *mag) {
    double ref = 0;
    *mag = 0;
    for (int64_t i = 0; i < c->n; i++) {
        ref += (double)c->wd[i] * c->xd[i];
        *mag += fabs((double)c->wd[i] * c->xd[i]);
    }
    if (ai_vec_type(c->type) == AI_Q8_1) {
        const blk_q8_1 *a = (const blk_q8_1 *)c->xq;
        for (int64_t b = 0; b < c->n / 32; b++) {
            uint16_t mh;
            memcpy(&mh, c->w + b * ai_dtype_get(c->type)->type_size + 2, 2);
            double sum = 0;
            for (int j = 0; j < 32; j++) sum += a[b].qs[j];
            *mag += fabs(ai_f16_to_f32(mh)) * fabs(ai_f16_to_f32(a[b].s) - ai_f16_to_f32(a[b].d) * sum) / DOT_RTOL;
        }
    }
    return ref;
}

static void test_vec_dot_ref(void **state) {
    (void)state;
    rng r = {11};
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        for (int rep = 0; rep < 4; rep++) {
            int64_t n = ai_dtype_get(WEIGHT_TYPES[t])->block == 256 ? 256 * (1 + rep * 3) : 32 * (1 + rep * 7);
            dot_case c;
            make_case(&c, WEIGHT_TYPES[t], n, &r);
            double mag, ref = vec_dot_f64(&c, &mag);
            double got = ai_vec_dot_ref(c.type, c.w, c.xq, n);
            if (fabs(got - ref) > DOT_RTOL * mag + 1e-30) {
                print_error("%s vec_dot_ref n=%lld: %g vs %g\n", ai_dtype_get(c.type)->name,
                            (long long)n, got, ref);
                fail();
            }
            /* and against the float activations: the activation rounding
             * costs at most sum |w_i| * (step_i / 2). */
            double exact = 0, act_bound = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)c.wd[i] * c.x[i];
                act_bound += fabs((double)c.wd[i]) * fabs((double)c.xd[i] - c.x[i]);
            }
            assert_true(fabs(got - exact) <= act_bound + DOT_RTOL * mag + 1e-30);
            free_case(&c);
        }
    }
}

/* ---- SIMD kernels against the scalar oracle ------------------------------ */

static void test_simd_vec_dot(void **state) {
    (void)state;
    ai_isa best = ai_isa_detect();
    print_message("isa: %s\n", ai_isa_name(best));
    rng r = {12345};
    for (int isa = AI_ISA_SCALAR; isa <= AI_ISA_NEON; isa++) {
        if (isa > (int)best && !(best == AI_ISA_NEON && isa == AI_ISA_NEON)) continue;
        if (best == AI_ISA_NEON && isa != AI_ISA_NEON && isa != AI_ISA_SCALAR) continue;
        if (best != AI_ISA_NEON && isa == AI_ISA_NEON) continue;
        for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
            uint32_t type = WEIGHT_TYPES[t];
            ai_vec_dot_fn f = ai_vec_dot_get(type, (ai_isa)isa);
            assert_non_null(f);
            bool k = ai_dtype_get(type)->block == 256;
            static const int64_t LEN32[] = {32, 64, 96, 160, 576, 1536, 2048 + 32 * 5};
            static const int64_t LEN256[] = {256, 512, 768, 1536, 2816};
            int nl = k ? 5 : 7;
            for (int li = 0; li < nl; li++) {
                int64_t n = k ? LEN256[li] : LEN32[li];
                if (type == AI_F32 || type == AI_F16 || type == AI_BF16) n += li; /* odd tails */
                for (int rep = 0; rep < 3; rep++) {
                    dot_case c;
                    make_case(&c, type, n, &r);
                    double mag;
                    (void)vec_dot_f64(&c, &mag);
                    float want = ai_vec_dot_ref(type, c.w, c.xq, n);
                    float got = f(c.w, c.xq, n);
                    /* same integer sums, different float summation order */
                    if (fabs((double)got - want) > 2e-6 * mag + 1e-30) {
                        print_error("%s %s n=%lld: %.9g vs scalar %.9g\n", ai_isa_name((ai_isa)isa),
                                    ai_dtype_get(type)->name, (long long)n, got, want);
                        fail();
                    }
                    free_case(&c);
                }
            }
        }
    }
}

/* The SIMD activation quantizers must write the same bytes as the scalar
 * reference: same scale (exact max, exact division), same rounding (roundf
 * half away from zero for Q8_0/Q8_1; half to even for Q8_K). */
static void test_simd_quantize_act(void **state) {
    (void)state;
    ai_isa best = ai_isa_detect();
    rng r = {777};
    static const uint32_t VT[] = {AI_F32, AI_Q8_0, AI_Q8_1, AI_Q8_K};
    for (int isa = AI_ISA_SCALAR; isa <= AI_ISA_NEON; isa++) {
        if (best == AI_ISA_NEON ? (isa != AI_ISA_NEON && isa != AI_ISA_SCALAR)
                                : (isa > (int)best)) continue;
        for (size_t v = 0; v < 4; v++) {
            ai_quantize_fn f = ai_quantize_act_get(VT[v], (ai_isa)isa);
            assert_non_null(f);
            for (int64_t n = 256; n <= 4096; n *= 2) {
                float *x = malloc((size_t)n * sizeof(float));
                for (int kind = 0; kind < 5; kind++) {
                    if (kind < 4) {
                        fill_data(&r, x, n, kind);
                    } else { /* exact ties: multiples of d/2 with amax = 127 d */
                        for (int64_t i = 0; i < n; i++)
                            x[i] = (i % 32 == 0) ? 127.0f : (float)((int)(rng_next(&r) % 255) - 127) * 0.5f;
                    }
                    size_t bytes = VT[v] == AI_F32 ? (size_t)n * 4 : ai_row_bytes(VT[v], n);
                    uint8_t *a = malloc(bytes), *b = malloc(bytes);
                    memset(a, 0xA5, bytes);
                    memset(b, 0x5A, bytes);
                    if (VT[v] == AI_F32) memcpy(a, x, bytes);
                    else ai_quantize_row(VT[v], x, a, n);
                    f(x, b, n);
                    if (memcmp(a, b, bytes)) {
                        size_t k = 0;
                        while (a[k] == b[k]) k++;
                        print_error("%s act quantizer %s n=%lld kind %d: byte %zu differs (%d vs %d)\n",
                                    ai_isa_name((ai_isa)isa), ai_dtype_get(VT[v])->name,
                                    (long long)n, kind, k, a[k], b[k]);
                        fail();
                    }
                    free(a);
                    free(b);
                }
                free(x);
            }
        }
    }
}

static void test_dispatch(void **state) {
    (void)state;
    ai_isa isa = ai_isa_detect();
    assert_non_null(ai_isa_name(isa));
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        assert_non_null(ai_vec_dot_get(WEIGHT_TYPES[t], isa));
        assert_non_null(ai_vec_dot_get(WEIGHT_TYPES[t], AI_ISA_SCALAR));
        assert_non_null(ai_quantize_act_get(ai_vec_type(WEIGHT_TYPES[t]), isa));
    }
    assert_int_equal(ai_vec_type(AI_Q4_1), AI_Q8_1);
    assert_int_equal(ai_vec_type(AI_Q5_0), AI_Q8_0);
    assert_int_equal(ai_vec_type(AI_Q6_K), AI_Q8_K);
    assert_int_equal(ai_vec_type(AI_F16), AI_F32);
    assert_int_equal(ai_quantize_row(AI_Q2_K, NULL, NULL, 256), 0);
    assert_int_equal(ai_quantize_row(AI_Q4_K, NULL, NULL, 100), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_sizes),
        cmocka_unit_test(test_q4_0_block),
        cmocka_unit_test(test_q4_1_block),
        cmocka_unit_test(test_q5_blocks),
        cmocka_unit_test(test_q8_0_block),
        cmocka_unit_test(test_q4_K_block),
        cmocka_unit_test(test_q5_K_block),
        cmocka_unit_test(test_q6_K_block),
        cmocka_unit_test(test_float_rows),
        cmocka_unit_test(test_f16_edges),
        cmocka_unit_test(test_bf16_edges),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_activation_sums),
        cmocka_unit_test(test_dot_f32_ref),
        cmocka_unit_test(test_vec_dot_ref),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_simd_vec_dot),
        cmocka_unit_test(test_simd_quantize_act),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
