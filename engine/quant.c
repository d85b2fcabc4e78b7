/* quant.c — the scalar reference for every weight format: dequantize,
 * quantize (round to nearest; a weighted scale search for the K formats),
 * float dot and integer block dot, plus run-time kernel dispatch.
 *
 * This file is the oracle the SIMD kernels (quant_avx2.c, quant_avx512.c,
 * quant_neon.c) are tested against: keep it plain. Block layouts are in
 * blocks.h.
 */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "quant_impl.h"

static inline float h2f(uint16_t h) { return ai_f16_to_f32(h); }
static inline uint16_t f2h(float f) { return ai_f32_to_f16(f); }
/* Round half to even (the default FP mode), as an int. */
static inline int nearest(float x) { return (int)lrintf(x); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ======================================================================
 * Dequantize one block
 * ====================================================================== */

static void deq_q4_0(const blk_q4_0 *b, float *y) {
    float d = h2f(b->d);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)((b->qs[j] & 0xF) - 8);
        y[j + QK / 2] = d * (float)((b->qs[j] >> 4) - 8);
    }
}

static void deq_q4_1(const blk_q4_1 *b, float *y) {
    float d = h2f(b->d), m = h2f(b->m);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)(b->qs[j] & 0xF) + m;
        y[j + QK / 2] = d * (float)(b->qs[j] >> 4) + m;
    }
}

/* The 5-bit values of a Q5_0/Q5_1 block, 0..31. */
static void q5_values(const uint8_t *qh4, const uint8_t *qs, int *q) {
    uint32_t qh = load_u32(qh4);
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
        q[j + QK / 2] = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
    }
}

static void deq_q5_0(const blk_q5_0 *b, float *y) {
    int q[QK];
    q5_values(b->qh, b->qs, q);
    float d = h2f(b->d);
    for (int j = 0; j < QK; j++) y[j] = d * (float)(q[j] - 16);
}

static void deq_q5_1(const blk_q5_1 *b, float *y) {
    int q[QK];
    q5_values(b->qh, b->qs, q);
    float d = h2f(b->d), m = h2f(b->m);
    for (int j = 0; j < QK; j++) y[j] = d * (float)q[j] + m;
}

static void deq_q8_0(const blk_q8_0 *b, float *y) {
    float d = h2f(b->d);
    for (int j = 0; j < QK; j++) y[j] = d * (float)b->qs[j];
}

static void deq_q8_1(const blk_q8_1 *b, float *y) {
    float d = h2f(b->d);
    for (int j = 0; j < QK; j++) y[j] = d * (float)b->qs[j];
}

/* The 4-bit value of element e (0..255) of a Q4_K/Q5_K qs array. */
static inline int k4_low(const uint8_t *qs, int e) {
    int c = e / 64, h = (e / 32) & 1, l = e % 32;
    return h ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 0xF;
}

static void deq_q4_K(const blk_q4_K *b, float *y) {
    float d = h2f(b->d), dmin = h2f(b->dmin);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        k4_scale_min(b->scales, j, &sc, &m);
        float dj = d * sc, mj = dmin * m;
        for (int l = 0; l < 32; l++) y[32 * j + l] = dj * (float)k4_low(b->qs, 32 * j + l) - mj;
    }
}

static inline int k5_value(const blk_q5_K *b, int e) {
    int j = e / 32, l = e % 32;
    return k4_low(b->qs, e) | (((b->qh[l] >> j) & 1) << 4);
}

static void deq_q5_K(const blk_q5_K *b, float *y) {
    float d = h2f(b->d), dmin = h2f(b->dmin);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        k4_scale_min(b->scales, j, &sc, &m);
        float dj = d * sc, mj = dmin * m;
        for (int l = 0; l < 32; l++) y[32 * j + l] = dj * (float)k5_value(b, 32 * j + l) - mj;
    }
}

/* The 6-bit value (0..63) of element e of a Q6_K block. */
static inline int k6_value(const blk_q6_K *b, int e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
    int lo = (k & 1) ? ql[32 + l] : ql[l];
    lo = (k & 2) ? lo >> 4 : lo & 0xF;
    return lo | (((qh[l] >> (2 * k)) & 3) << 4);
}

static void deq_q6_K(const blk_q6_K *b, float *y) {
    float d = h2f(b->d);
    for (int e = 0; e < QKK; e++) y[e] = d * (float)b->scales[e / 16] * (float)(k6_value(b, e) - 32);
}

static void deq_q8_K(const blk_q8_K *b, float *y) {
    for (int e = 0; e < QKK; e++) y[e] = b->d * (float)b->qs[e];
}

/* One block (or one element for F32/F16/BF16) of `type` into y; returns the
 * elements written, 0 for an unsupported type. */
static int deq_block(uint32_t type, const void *src, float *y) {
    switch (type) {
    case AI_F32: memcpy(y, src, 4); return 1;
    case AI_F16: { uint16_t h; memcpy(&h, src, 2); y[0] = ai_f16_to_f32(h); return 1; }
    case AI_BF16: { uint16_t h; memcpy(&h, src, 2); y[0] = ai_bf16_to_f32(h); return 1; }
    case AI_Q4_0: deq_q4_0(src, y); return QK;
    case AI_Q4_1: deq_q4_1(src, y); return QK;
    case AI_Q5_0: deq_q5_0(src, y); return QK;
    case AI_Q5_1: deq_q5_1(src, y); return QK;
    case AI_Q8_0: deq_q8_0(src, y); return QK;
    case AI_Q8_1: deq_q8_1(src, y); return QK;
    case AI_Q4_K: deq_q4_K(src, y); return QKK;
    case AI_Q5_K: deq_q5_K(src, y); return QKK;
    case AI_Q6_K: deq_q6_K(src, y); return QKK;
    case AI_Q8_K: deq_q8_K(src, y); return QKK;
    default: return 0;
    }
}

void ai_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const ai_dtype_info *info = ai_dtype_get(type);
    if (!info || n <= 0 || n % info->block) return;
    const uint8_t *p = src;
    if (type == AI_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    for (int64_t i = 0; i < n; i += info->block, p += info->type_size)
        if (!deq_block(type, p, dst + i)) return;
}

float ai_dot_f32_ref(uint32_t type, const void *row, const float *x, int64_t n) {
    const ai_dtype_info *info = ai_dtype_get(type);
    if (!info || n <= 0 || n % info->block) return 0.0f;
    const uint8_t *p = row;
    float buf[QKK], sum = 0.0f;
    for (int64_t i = 0; i < n; i += info->block, p += info->type_size) {
        int k = deq_block(type, p, buf);
        if (!k) return 0.0f;
        float s = 0.0f;
        for (int j = 0; j < k; j++) s += buf[j] * x[i + j];
        sum += s;
    }
    return sum;
}

/* ======================================================================
 * Quantize (reference, round to nearest)
 * ====================================================================== */

/* Q4_0 / Q5_0: symmetric, d = -max / 2^(bits-1) where max is the value of
 * largest magnitude (keeping its sign), so that it maps exactly to q = 0. */
static void quant_q4_0(const float *x, blk_q4_0 *y) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f2h(d);
    for (int j = 0; j < QK / 2; j++) {
        int a = clampi((int)(x[j] * id + 8.5f), 0, 15);
        int b = clampi((int)(x[j + QK / 2] * id + 8.5f), 0, 15);
        y->qs[j] = (uint8_t)(a | b << 4);
    }
}

/* Q4_1 / Q5_1: asymmetric, m = min, d = (max - min) / (2^bits - 1). */
static void quant_q4_1(const float *x, blk_q4_1 *y) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < QK; j++) { mn = fminf(mn, x[j]); mx = fmaxf(mx, x[j]); }
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f2h(d);
    y->m = f2h(mn);
    for (int j = 0; j < QK / 2; j++) {
        int a = clampi((int)((x[j] - mn) * id + 0.5f), 0, 15);
        int b = clampi((int)((x[j + QK / 2] - mn) * id + 0.5f), 0, 15);
        y->qs[j] = (uint8_t)(a | b << 4);
    }
}

static void pack_q5(const int *q, uint8_t *qh4, uint8_t *qs) {
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | (q[j + QK / 2] & 0xF) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j;
        qh |= (uint32_t)(q[j + QK / 2] >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) qh4[k] = (uint8_t)(qh >> (8 * k));
}

static void quant_q5_0(const float *x, blk_q5_0 *y) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    float d = max / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f2h(d);
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)(x[j] * id + 16.5f), 0, 31);
    pack_q5(q, y->qh, y->qs);
}

static void quant_q5_1(const float *x, blk_q5_1 *y) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < QK; j++) { mn = fminf(mn, x[j]); mx = fmaxf(mx, x[j]); }
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = f2h(d);
    y->m = f2h(mn);
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)((x[j] - mn) * id + 0.5f), 0, 31);
    pack_q5(q, y->qh, y->qs);
}

/* Q8_0 / Q8_1: d = amax / 127, q = round(x / d) (half away from zero, as
 * roundf; the SIMD activation quantizers reproduce this exactly). */
static float quant_8bit(const float *x, int8_t *qs) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK; j++) qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

static void quant_q8_0(const float *x, blk_q8_0 *y) { y->d = f2h(quant_8bit(x, y->qs)); }

static void quant_q8_1(const float *x, blk_q8_1 *y) {
    float d = quant_8bit(x, y->qs);
    int sum = 0;
    for (int j = 0; j < QK; j++) sum += y->qs[j];
    y->d = f2h(d);
    y->s = f2h(d * (float)sum);
}

/* Q8_K: scale from the value of largest magnitude, q = nearest(-127/max *
 * x) rounding half to even; bsums for the K dot products. */
static void quant_q8_K(const float *x, blk_q8_K *y) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QKK; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -127.0f / max;
    for (int j = 0; j < QKK; j++) y->qs[j] = (int8_t)clampi(nearest(iscale * x[j]), -128, 127);
    for (int g = 0; g < QKK / 16; g++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += y->qs[16 * g + l];
        y->bsums[g] = (int16_t)s;
    }
    y->d = 1.0f / iscale;
}

/* Asymmetric scale search for Q4_K/Q5_K sub-blocks: find scale s and
 * offset mn <= 0 minimising sum w (s*L + mn - x)^2 with L in 0..nmax.
 * Tries nstep+1 inverse scales around nmax/(max-min); for each rounding it
 * solves the weighted least-squares problem for (s, mn) in closed form.
 * Writes L, returns s, and *neg_min = -mn (>= 0). */
static float fit_asym(int n, int nmax, const float *x, const float *w, uint8_t *L,
                      float *neg_min, float rmin, float rdelta, int nstep) {
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) { mn = fminf(mn, x[i]); mx = fmaxf(mx, x[i]); }
    if (mn > 0.0f) mn = 0.0f;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *neg_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1.0f / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest(iscale * (x[i] - mn)), 0, nmax);
        float e = scale * L[i] + mn - x[i];
        best += w[i] * e * e;
    }
    uint8_t La[QKK];
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * (x[i] - mn)), 0, nmax);
            La[i] = (uint8_t)l;
            sw += w[i];
            sl += w[i] * (float)l;
            sl2 += w[i] * (float)(l * l);
            sx += w[i] * x[i];
            sxl += w[i] * (float)l * x[i];
        }
        float D = sw * sl2 - sl * sl;
        if (D <= 0.0f) continue;
        float s = (sw * sxl - sx * sl) / D, m = (sl2 * sx - sl * sxl) / D;
        if (m > 0.0f) {
            m = 0.0f;
            s = sxl / sl2;
        }
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            float e = s * La[i] + m - x[i];
            err += w[i] * e * e;
        }
        if (err < best) {
            memcpy(L, La, (size_t)n);
            best = err;
            scale = s;
            mn = m;
        }
    }
    *neg_min = -mn;
    return scale;
}

/* Symmetric scale search for Q6_K sub-blocks: x ~ s * l, l in -nmax..nmax-1,
 * weights x^2. Tries inverse scales -(nmax + 0.1 k)/max, k in -9..9, and
 * keeps the one with the best weighted least-squares fit. Writes L = l +
 * nmax and returns s. */
static float fit_sym(int n, int nmax, const float *x, uint8_t *L) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-30f) {
        memset(L, (uint8_t)nmax, (size_t)n);
        return 0.0f;
    }
    float best_scale = 0.0f, best = -1.0f;
    uint8_t La[QKK];
    for (int k = -9; k <= 9; k++) {
        float iscale = -((float)nmax + 0.1f * (float)k) / max;
        float slx = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            La[i] = (uint8_t)(l + nmax);
            float w = x[i] * x[i];
            slx += w * x[i] * (float)l;
            sl2 += w * (float)(l * l);
        }
        if (sl2 <= 0.0f) continue;
        /* error = sum w x^2 - slx^2 / sl2: maximise slx^2 / sl2 */
        float gain = slx * slx / sl2;
        if (best < 0.0f || gain > best) {
            best = gain;
            best_scale = slx / sl2;
            memcpy(L, La, (size_t)n);
        }
    }
    if (best < 0.0f) memset(L, (uint8_t)nmax, (size_t)n);
    return best_scale;
}

static void pack_k_scales(const uint8_t *ls, const uint8_t *lm, uint8_t *s) {
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): per sub-block scale search,
 * 6-bit scales/mins relative to fp16 d/dmin, then a final rounding of every
 * element against the scales as stored. */
static void quant_k_asym(const float *x, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                         uint8_t *scales, uint8_t *L) {
    float sc[8], mins[8], w[32], max_scale = 0.0f, max_min = 0.0f;
    float rmin = nmax == 15 ? -1.0f : -0.5f;
    int nstep = nmax == 15 ? 20 : 15;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float s2 = 0.0f;
        for (int l = 0; l < 32; l++) s2 += xj[l] * xj[l];
        float av = sqrtf(s2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(xj[l]);
        sc[j] = fit_asym(32, nmax, xj, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep);
        max_scale = fmaxf(max_scale, sc[j]);
        max_min = fmaxf(max_min, mins[j]);
    }
    float inv_s = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    float inv_m = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(nearest(inv_s * sc[j]), 0, 63);
        lm[j] = (uint8_t)clampi(nearest(inv_m * mins[j]), 0, 63);
    }
    pack_k_scales(ls, lm, scales);
    *d_out = f2h(max_scale / 63.0f);
    *dmin_out = f2h(max_min / 63.0f);
    float d = h2f(*d_out), dmin = h2f(*dmin_out);
    for (int j = 0; j < 8; j++) {
        float dj = d * ls[j], mj = dmin * lm[j];
        for (int l = 0; l < 32; l++) {
            int q = dj != 0.0f ? nearest((x[32 * j + l] + mj) / dj) : 0;
            L[32 * j + l] = (uint8_t)clampi(q, 0, nmax);
        }
    }
}

static void quant_q4_K(const float *x, blk_q4_K *y) {
    uint8_t L[QKK];
    quant_k_asym(x, 15, &y->d, &y->dmin, y->scales, L);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

static void quant_q5_K(const float *x, blk_q5_K *y) {
    uint8_t L[QKK];
    quant_k_asym(x, 31, &y->d, &y->dmin, y->scales, L);
    memset(y->qh, 0, sizeof y->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int a = L[64 * c + l], b = L[64 * c + 32 + l];
            y->qs[32 * c + l] = (uint8_t)((a & 0xF) | (b & 0xF) << 4);
            y->qh[l] |= (uint8_t)((a >> 4) << (2 * c) | (b >> 4) << (2 * c + 1));
        }
}

static void quant_q6_K(const float *x, blk_q6_K *y) {
    uint8_t L[QKK];
    float sc[16], amax = 0.0f, max = 0.0f;
    for (int g = 0; g < 16; g++) {
        sc[g] = fit_sym(16, 32, x + 16 * g, L + 16 * g);
        if (fabsf(sc[g]) > amax) { amax = fabsf(sc[g]); max = sc[g]; }
    }
    if (amax < 1e-30f) {
        memset(y, 0, sizeof *y);
        return;
    }
    /* the largest scale maps to -128 so that d > 0 for a positive max */
    float iscale = -128.0f / max;
    y->d = f2h(1.0f / iscale);
    float d = h2f(y->d);
    for (int g = 0; g < 16; g++) {
        y->scales[g] = (int8_t)clampi(nearest(iscale * sc[g]), -128, 127);
        float dg = d * (float)y->scales[g];
        for (int l = 0; l < 16; l++) {
            int q = dg != 0.0f ? nearest(x[16 * g + l] / dg) : 0;
            L[16 * g + l] = (uint8_t)(clampi(q, -32, 31) + 32);
        }
    }
    for (int h = 0; h < 2; h++) {
        const uint8_t *Lh = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
            qh[l] = (uint8_t)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                              (Lh[l + 96] >> 4) << 6);
        }
    }
}

size_t ai_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    const ai_dtype_info *info = ai_dtype_get(type);
    if (!info || n <= 0 || n % info->block) return 0;
    uint8_t *p = dst;
    size_t bytes = ai_row_bytes(type, n);
    if (type == AI_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return bytes;
    }
    for (int64_t i = 0; i < n; i += info->block, p += info->type_size) {
        const float *x = src + i;
        switch (type) {
        case AI_F16: { uint16_t h = ai_f32_to_f16(x[0]); memcpy(p, &h, 2); break; }
        case AI_BF16: { uint16_t h = ai_f32_to_bf16(x[0]); memcpy(p, &h, 2); break; }
        case AI_Q4_0: quant_q4_0(x, (blk_q4_0 *)p); break;
        case AI_Q4_1: quant_q4_1(x, (blk_q4_1 *)p); break;
        case AI_Q5_0: quant_q5_0(x, (blk_q5_0 *)p); break;
        case AI_Q5_1: quant_q5_1(x, (blk_q5_1 *)p); break;
        case AI_Q8_0: quant_q8_0(x, (blk_q8_0 *)p); break;
        case AI_Q8_1: quant_q8_1(x, (blk_q8_1 *)p); break;
        case AI_Q4_K: quant_q4_K(x, (blk_q4_K *)p); break;
        case AI_Q5_K: quant_q5_K(x, (blk_q5_K *)p); break;
        case AI_Q6_K: quant_q6_K(x, (blk_q6_K *)p); break;
        case AI_Q8_K: quant_q8_K(x, (blk_q8_K *)p); break;
        default: return 0;
        }
    }
    return bytes;
}

/* ======================================================================
 * Integer path: weight row x quantized activations (scalar oracle)
 * ====================================================================== */

uint32_t ai_vec_type(uint32_t weight_type) {
    switch (weight_type) {
    case AI_Q4_0: case AI_Q5_0: case AI_Q8_0: return AI_Q8_0;
    case AI_Q4_1: case AI_Q5_1: return AI_Q8_1;
    case AI_Q4_K: case AI_Q5_K: case AI_Q6_K: return AI_Q8_K;
    default: return AI_F32; /* F32, F16, BF16: float activations */
    }
}

static float dot_f32_f32(const void *row, const void *xq, int64_t n) {
    const float *a = row, *b = xq;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float dot_f16_f32(const void *row, const void *xq, int64_t n) {
    const uint16_t *a = row;
    const float *b = xq;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += ai_f16_to_f32(a[i]) * b[i];
    return s;
}

static float dot_bf16_f32(const void *row, const void *xq, int64_t n) {
    const uint16_t *a = row;
    const float *b = xq;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += ai_bf16_to_f32(a[i]) * b[i];
    return s;
}

static float dot_q4_0(const void *row, const void *xq, int64_t n) {
    const blk_q4_0 *x = row;
    const blk_q8_0 *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++)
            sumi += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
        s += (float)sumi * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

static float dot_q4_1(const void *row, const void *xq, int64_t n) {
    const blk_q4_1 *x = row;
    const blk_q8_1 *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++)
            sumi += (x[b].qs[j] & 0xF) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + 16];
        s += (float)sumi * (h2f(x[b].d) * h2f(y[b].d)) + h2f(x[b].m) * h2f(y[b].s);
    }
    return s;
}

static float dot_q5_0(const void *row, const void *xq, int64_t n) {
    const blk_q5_0 *x = row;
    const blk_q8_0 *y = xq;
    float s = 0.0f;
    int q[QK];
    for (int64_t b = 0; b < n / QK; b++) {
        q5_values(x[b].qh, x[b].qs, q);
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += (q[j] - 16) * y[b].qs[j];
        s += (float)sumi * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

static float dot_q5_1(const void *row, const void *xq, int64_t n) {
    const blk_q5_1 *x = row;
    const blk_q8_1 *y = xq;
    float s = 0.0f;
    int q[QK];
    for (int64_t b = 0; b < n / QK; b++) {
        q5_values(x[b].qh, x[b].qs, q);
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += q[j] * y[b].qs[j];
        s += (float)sumi * (h2f(x[b].d) * h2f(y[b].d)) + h2f(x[b].m) * h2f(y[b].s);
    }
    return s;
}

static float dot_q8_0(const void *row, const void *xq, int64_t n) {
    const blk_q8_0 *x = row;
    const blk_q8_0 *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += x[b].qs[j] * y[b].qs[j];
        s += (float)sumi * (h2f(x[b].d) * h2f(y[b].d));
    }
    return s;
}

/* K formats: sum over sub-blocks of d*sc*sum(q*y) - dmin*m*sum(y), the
 * second term from Q8_K's bsums. */
static float dot_q4_K(const void *row, const void *xq, int64_t n) {
    const blk_q4_K *x = row;
    const blk_q8_K *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QKK; b++) {
        int32_t sum_q = 0, sum_m = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k4_scale_min(x[b].scales, j, &sc, &m);
            int32_t sub = 0;
            for (int l = 0; l < 32; l++) sub += k4_low(x[b].qs, 32 * j + l) * y[b].qs[32 * j + l];
            sum_q += sc * sub;
            sum_m += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        s += h2f(x[b].d) * y[b].d * (float)sum_q - h2f(x[b].dmin) * y[b].d * (float)sum_m;
    }
    return s;
}

static float dot_q5_K(const void *row, const void *xq, int64_t n) {
    const blk_q5_K *x = row;
    const blk_q8_K *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QKK; b++) {
        int32_t sum_q = 0, sum_m = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k4_scale_min(x[b].scales, j, &sc, &m);
            int32_t sub = 0;
            for (int l = 0; l < 32; l++) sub += k5_value(&x[b], 32 * j + l) * y[b].qs[32 * j + l];
            sum_q += sc * sub;
            sum_m += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        s += h2f(x[b].d) * y[b].d * (float)sum_q - h2f(x[b].dmin) * y[b].d * (float)sum_m;
    }
    return s;
}

static float dot_q6_K(const void *row, const void *xq, int64_t n) {
    const blk_q6_K *x = row;
    const blk_q8_K *y = xq;
    float s = 0.0f;
    for (int64_t b = 0; b < n / QKK; b++) {
        int32_t sum_q = 0;
        for (int g = 0; g < 16; g++) {
            int32_t sub = 0;
            for (int l = 0; l < 16; l++) sub += (k6_value(&x[b], 16 * g + l) - 32) * y[b].qs[16 * g + l];
            sum_q += x[b].scales[g] * sub;
        }
        s += h2f(x[b].d) * y[b].d * (float)sum_q;
    }
    return s;
}

static ai_vec_dot_fn vec_dot_scalar(uint32_t type) {
    switch (type) {
    case AI_F32: return dot_f32_f32;
    case AI_F16: return dot_f16_f32;
    case AI_BF16: return dot_bf16_f32;
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

float ai_vec_dot_ref(uint32_t type, const void *row, const void *xq, int64_t n) {
    const ai_dtype_info *info = ai_dtype_get(type);
    ai_vec_dot_fn f = vec_dot_scalar(type);
    if (!f || !info || n <= 0 || n % info->block) return 0.0f;
    return f(row, xq, n);
}

/* Activation quantizers, scalar (F32: a copy, so callers can treat every
 * vec type alike). */
static void act_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * sizeof(float)); }
static void act_q8_0(const float *x, void *dst, int64_t n) { ai_quantize_row(AI_Q8_0, x, dst, n); }
static void act_q8_1(const float *x, void *dst, int64_t n) { ai_quantize_row(AI_Q8_1, x, dst, n); }
static void act_q8_K(const float *x, void *dst, int64_t n) { ai_quantize_row(AI_Q8_K, x, dst, n); }

static ai_quantize_fn quantize_act_scalar(uint32_t vec_type) {
    switch (vec_type) {
    case AI_F32: return act_f32;
    case AI_Q8_0: return act_q8_0;
    case AI_Q8_1: return act_q8_1;
    case AI_Q8_K: return act_q8_K;
    default: return NULL;
    }
}

/* ======================================================================
 * Run-time dispatch
 * ====================================================================== */

ai_isa ai_isa_detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return AI_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return AI_ISA_AVX2;
    return AI_ISA_SCALAR;
#elif defined(__aarch64__)
    return AI_ISA_NEON; /* Advanced SIMD is baseline on AArch64 */
#else
    return AI_ISA_SCALAR;
#endif
}

const char *ai_isa_name(ai_isa isa) {
    switch (isa) {
    case AI_ISA_SCALAR: return "scalar";
    case AI_ISA_AVX2: return "avx2";
    case AI_ISA_AVX512: return "avx512-vnni";
    case AI_ISA_NEON: return "neon";
    }
    return "unknown";
}

ai_vec_dot_fn ai_vec_dot_get(uint32_t type, ai_isa isa) {
    ai_vec_dot_fn f = NULL;
    if (isa == AI_ISA_NEON) f = ai_vec_dot_neon(type);
    if (!f && isa == AI_ISA_AVX512) f = ai_vec_dot_avx512(type);
    if (!f && (isa == AI_ISA_AVX512 || isa == AI_ISA_AVX2)) f = ai_vec_dot_avx2(type);
    return f ? f : vec_dot_scalar(type);
}

/* The activation quantizers exist for AVX2 (used at AVX-512 too) and
 * scalar only. */
ai_quantize_fn ai_quantize_act_get(uint32_t vec_type, ai_isa isa) {
    ai_quantize_fn f = isa == AI_ISA_AVX512 || isa == AI_ISA_AVX2 ? ai_quantize_act_avx2(vec_type) : NULL;
    return f ? f : quantize_act_scalar(vec_type);
}

ai_vec_dot4_fn ai_vec_dot4_get(uint32_t type, ai_isa isa) {
    if (isa == AI_ISA_AVX512) return ai_vec_dot4_avx512(type);
    return NULL;
}

/* ---- four-row repacking (see quant.h) ---------------------------------- */

/* Bytes of the scale head of a block: what the four-row kernels load
 * together. */
size_t ai_repack4_head(uint32_t type) {
    switch (type) {
    case AI_Q4_0: case AI_Q5_0: case AI_Q8_0: return 2;
    case AI_Q4_1: case AI_Q5_1: return 4;
    default: return 0;
    }
}

bool ai_repack4_supported(uint32_t type) { return ai_repack4_head(type) > 0; }

/* dir 0: rows -> group; 1: group -> rows. Inlined per format so that the
 * small copies have constant sizes. */
static inline void repack4_copy_t(const size_t bs, const size_t hs, uint8_t *rows, size_t row_bytes,
                                  int64_t n, uint8_t *g, int dir) {
    const size_t rs = bs - hs;
    const int64_t nb = n / QK;
    for (int64_t b = 0; b < nb; b += 2) {
        int w = nb - b >= 2 ? 2 : 1;
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < w; k++) {
                uint8_t *blk = rows + r * row_bytes + (size_t)(b + k) * bs;
                uint8_t *head = g + (size_t)(w * r + k) * hs;
                uint8_t *rest = g + 4 * (size_t)w * hs + (size_t)(w * r + k) * rs;
                if (dir == 0) {
                    memcpy(head, blk, hs);
                    memcpy(rest, blk + hs, rs);
                } else {
                    memcpy(blk, head, hs);
                    memcpy(blk + hs, rest, rs);
                }
            }
        g += 4 * (size_t)w * bs;
    }
}

/* Q5_0 / Q5_1: the 8 scale fields (hs bytes each: d, or d and m), then
 * the high bits as masks in kernel order (see quant.h), then each row's
 * codes of its two blocks. The odd last block keeps the plain order. */
static void repack4_q5(size_t bs, size_t hs, uint8_t *rows, size_t row_bytes, int64_t n, uint8_t *g, int dir) {
    const int64_t nb = n / QK;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2, g += 8 * bs) {
        uint8_t *masks = g + 8 * hs, *codes = masks + 32;
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 2; k++) {
                uint8_t *x = rows + r * row_bytes + (size_t)(b + k) * bs; /* head, qh[4], qs[16] */
                uint8_t *m = masks + 16 * (r / 2) + 2 * (2 * (r % 2) + k);
                if (dir == 0) {
                    memcpy(g + hs * (2 * r + k), x, hs);
                    memcpy(m, x + hs, 2);
                    memcpy(m + 8, x + hs + 2, 2);
                    memcpy(codes + 32 * r + 16 * k, x + hs + 4, 16);
                } else {
                    memcpy(x, g + hs * (2 * r + k), hs);
                    memcpy(x + hs, m, 2);
                    memcpy(x + hs + 2, m + 8, 2);
                    memcpy(x + hs + 4, codes + 32 * r + 16 * k, 16);
                }
            }
    }
    if (b < nb) repack4_copy_t(bs, hs, rows + b * bs, row_bytes, QK, g, dir);
}

static void repack4_copy(uint32_t type, uint8_t *rows, size_t row_bytes, int64_t n, uint8_t *g, int dir) {
    switch (type) {
    case AI_Q4_0: repack4_copy_t(sizeof(blk_q4_0), 2, rows, row_bytes, n, g, dir); break;
    case AI_Q4_1: repack4_copy_t(sizeof(blk_q4_1), 4, rows, row_bytes, n, g, dir); break;
    case AI_Q5_0: repack4_q5(sizeof(blk_q5_0), 2, rows, row_bytes, n, g, dir); break;
    case AI_Q5_1: repack4_q5(sizeof(blk_q5_1), 4, rows, row_bytes, n, g, dir); break;
    case AI_Q8_0: repack4_copy_t(sizeof(blk_q8_0), 2, rows, row_bytes, n, g, dir); break;
    default: break;
    }
}

void ai_repack4(uint32_t type, const void *rows, size_t row_bytes, int64_t n, void *group) {
    repack4_copy(type, (uint8_t *)(uintptr_t)rows, row_bytes, n, group, 0);
}

void ai_unpack4(uint32_t type, const void *group, int64_t n, void *rows, size_t row_bytes) {
    repack4_copy(type, rows, row_bytes, n, (uint8_t *)(uintptr_t)group, 1);
}

size_t ai_act_pairs(int64_t n) { return (size_t)((n / QK + 1) / 2); }

/* the reference: quantize two blocks at a time, then prepare them */
static void act_pairs_ref(uint32_t vec_type, const float *x, int64_t n, ai_act_pair *out) {
    for (int64_t b = 0; b < n / QK; b += 2) {
        int64_t m = n / QK - b >= 2 ? 2 * QK : QK;
        blk_q8_1 tmp[2]; /* room for Q8_0 too */
        ai_quantize_row(vec_type, x + b * QK, tmp, m);
        ai_act_pair_prep(vec_type, tmp, m, &out[b / 2]);
    }
}
static void act_pairs_ref_q8_0(const float *x, int64_t n, ai_act_pair *out) { act_pairs_ref(AI_Q8_0, x, n, out); }
static void act_pairs_ref_q8_1(const float *x, int64_t n, ai_act_pair *out) { act_pairs_ref(AI_Q8_1, x, n, out); }

ai_act_pairs_fn ai_act_pairs_get(uint32_t vec_type, ai_isa isa) {
    if (vec_type != AI_Q8_0 && vec_type != AI_Q8_1) return NULL;
    ai_act_pairs_fn f = isa == AI_ISA_AVX512 || isa == AI_ISA_AVX2 ? ai_act_pairs_avx2(vec_type) : NULL;
    return f ? f : vec_type == AI_Q8_0 ? act_pairs_ref_q8_0 : act_pairs_ref_q8_1;
}

void ai_act_pair_prep(uint32_t vec_type, const void *xq, int64_t n, ai_act_pair *out) {
    const size_t bs = vec_type == AI_Q8_1 ? sizeof(blk_q8_1) : sizeof(blk_q8_0);
    const int64_t nb = n / QK;
    for (int64_t b = 0; b < nb; b += 2) {
        ai_act_pair *a = &out[b / 2];
        memset(a, 0, sizeof *a);
        for (int k = 0; k < 2 && b + k < nb; k++) {
            const uint8_t *blk = (const uint8_t *)xq + (size_t)(b + k) * bs;
            const int8_t *qs = (const int8_t *)(blk + bs - QK);
            uint16_t d, sd = 0;
            memcpy(&d, blk, 2);
            if (vec_type == AI_Q8_1) memcpy(&sd, blk + 2, 2);
            memcpy(a->lo + 16 * k, qs, 16);
            memcpy(a->hi + 16 * k, qs + 16, 16);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) a->neg_sum[4 * k + i] -= qs[4 * i + j] + qs[16 + 4 * i + j];
            a->d[k] = h2f(d);
            a->ds[2 * k] = h2f(d);
            a->ds[2 * k + 1] = vec_type == AI_Q8_1 ? h2f(sd) : 0.0f;
        }
    }
}

ai_vec_dot4p_fn ai_vec_dot4p_get(uint32_t type, ai_isa isa) {
    if (isa == AI_ISA_AVX512) return ai_vec_dot4p_avx512(type);
    return NULL;
}
