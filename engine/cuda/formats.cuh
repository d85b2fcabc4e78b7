/* formats.cuh — every weight format on the GPU, read in place from its GGUF
 * block layout (blocks.h).
 *
 * A row is cut into chunks: a few bytes one lane loads at once. A format's
 * `load(row, c, w, base)` dequantizes chunk c into w[RUNS * RUN] floats that
 * belong to RUNS runs of RUN consecutive elements starting at base[r] (the
 * nibble layouts put a byte's two halves 16 or 32 elements apart). The
 * mat-vec kernels give consecutive chunks to consecutive lanes, so a warp
 * reads a row's bytes in order, and multiply each run by the activations
 * with float4 reads. The same loader fills the f16 tiles of the prefill
 * GEMM, and the tests hold it to the CPU's scalar ai_dequantize_row, on the
 * GPU and (the loaders being host code too) on any machine with nvcc.
 *
 * Loads are as wide as the block's alignment allows: blocks of 18, 22, 34
 * and 210 bytes are only 2-byte aligned in a row, so those read 16-bit
 * halves; 20-byte blocks read 32-bit words, 24-, 144- and 176-byte blocks
 * 64-bit ones.
 */
#ifndef AI_CUDA_FORMATS_CUH
#define AI_CUDA_FORMATS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <string.h>

#include "blocks.h"
#include "quant.h"

__host__ __device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }

/* A float from its bits (host and device alike). */
__host__ __device__ __forceinline__ float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

__host__ __device__ __forceinline__ uint32_t ld_u32_a2(const uint8_t *p) {
    const uint16_t *q = (const uint16_t *)p;
    return (uint32_t)q[0] | (uint32_t)q[1] << 16;
}

/* Eight 4-bit values, low nibbles into lo[0..7] and high into hi[0..7], from
 * two little-endian words. */
__host__ __device__ __forceinline__ void nibbles8(uint32_t a, uint32_t b, int *lo, int *hi) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
        lo[i] = (a >> (8 * i)) & 0xF;
        hi[i] = (a >> (8 * i + 4)) & 0xF;
        lo[4 + i] = (b >> (8 * i)) & 0xF;
        hi[4 + i] = (b >> (8 * i + 4)) & 0xF;
    }
}

template <int T> struct Fmt;

template <> struct Fmt<AI_F32> {
    static constexpr int RUNS = 1, RUN = 4, CHUNK = 4;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        float4 v = ((const float4 *)row)[c];
        w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
        base[0] = 4 * c;
    }
};

/* F16 and BF16: chunk = 8 halves, one 16-byte load. */
__host__ __device__ __forceinline__ float bf16_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

template <float (*TO_FLOAT)(uint16_t)> struct Halves {
    static constexpr int RUNS = 1, RUN = 8, CHUNK = 8;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        uint4 v = ((const uint4 *)row)[c];
        const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[2 * i] = TO_FLOAT((uint16_t)u[i]);
            w[2 * i + 1] = TO_FLOAT((uint16_t)(u[i] >> 16));
        }
        base[0] = 8 * c;
    }
};
template <> struct Fmt<AI_F16> : Halves<h2f> {};
template <> struct Fmt<AI_BF16> : Halves<bf16_float> {};

/* Q8_0: chunk = 8 codes; 4 chunks a block. */
template <> struct Fmt<AI_Q8_0> {
    static constexpr int RUNS = 1, RUN = 8, CHUNK = 8;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 2) * sizeof(blk_q8_0);
        const int s = c & 3;
        const float d = h2f(*(const uint16_t *)b);
        uint32_t q0 = ld_u32_a2(b + 2 + 8 * s), q1 = ld_u32_a2(b + 6 + 8 * s);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = d * (float)(int8_t)(q0 >> (8 * i));
            w[4 + i] = d * (float)(int8_t)(q1 >> (8 * i));
        }
        base[0] = 8 * c;
    }
};

/* The 32-element nibble formats: chunk h (0, 1) of a block is qs[8h..8h+8)
 * (the words q0, q1): low nibbles are elements 8h.., high nibbles 16 + 8h..;
 * bit 4 of element j is bit j of qh (0 for the 4-bit formats);
 * x = d * (q - off) + m, as the CPU computes it. */
__host__ __device__ __forceinline__ void nibble_chunk(uint32_t q0, uint32_t q1, uint32_t qh, float d, int off, float m,
                                                      int c, float *w, int *base) {
    const int h = c & 1;
    int lo[8], hi[8];
    nibbles8(q0, q1, lo, hi);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        w[i] = d * (float)((lo[i] | (int)((qh >> (8 * h + i)) & 1) << 4) - off) + m;
        w[8 + i] = d * (float)((hi[i] | (int)((qh >> (16 + 8 * h + i)) & 1) << 4) - off) + m;
    }
    base[0] = 32 * (c >> 1) + 8 * h;
    base[1] = base[0] + 16;
}

template <> struct Fmt<AI_Q4_0> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 1) * sizeof(blk_q4_0), *q = b + 2 + 8 * (c & 1);
        nibble_chunk(ld_u32_a2(q), ld_u32_a2(q + 4), 0, h2f(*(const uint16_t *)b), 8, 0.0f, c, w, base);
    }
};

template <> struct Fmt<AI_Q4_1> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 1) * sizeof(blk_q4_1);
        const uint32_t dm = *(const uint32_t *)b;
        const uint32_t *q = (const uint32_t *)(b + 4 + 8 * (c & 1)); /* 4-byte aligned: 20-byte blocks */
        nibble_chunk(q[0], q[1], 0, h2f((uint16_t)dm), 0, h2f((uint16_t)(dm >> 16)), c, w, base);
    }
};

template <> struct Fmt<AI_Q5_0> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 1) * sizeof(blk_q5_0), *q = b + 6 + 8 * (c & 1);
        nibble_chunk(ld_u32_a2(q), ld_u32_a2(q + 4), ld_u32_a2(b + 2), h2f(*(const uint16_t *)b), 16, 0.0f, c, w,
                     base);
    }
};

template <> struct Fmt<AI_Q5_1> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 1) * sizeof(blk_q5_1);
        const uint32_t dm = *(const uint32_t *)b;
        const uint2 q = *(const uint2 *)(b + 8 + 8 * (c & 1));
        nibble_chunk(q.x, q.y, *(const uint32_t *)(b + 4), h2f((uint16_t)dm), 0, h2f((uint16_t)(dm >> 16)), c, w,
                     base);
    }
};

/* Q4_K / Q5_K: chunk k (16 a super-block) is qs[32 cq + i .. + 8) with
 * cq = k / 4, i = 8 (k % 4): low nibbles are elements i.. of sub-block 2cq,
 * high nibbles those of sub-block 2cq + 1, x = d_j * q - m_j. For Q5_K, bit
 * 4 of element l of sub-block j is bit j of qh[l]: the words h hold
 * qh[i..i+8) (zero for Q4_K). */
__host__ __device__ __forceinline__ void k4_scales(const uint8_t *b, int j, float *dj, float *mj) {
    const uint32_t dm = *(const uint32_t *)b;
    uint8_t sc, m;
    k4_scale_min(b + 4, j, &sc, &m);
    *dj = h2f((uint16_t)dm) * (float)sc;
    *mj = h2f((uint16_t)(dm >> 16)) * (float)m;
}

__host__ __device__ __forceinline__ void k_chunk(const uint8_t *b, uint2 q, uint2 h, int c, float *w, int *base) {
    const int k = c & 15, cq = k >> 2, i = 8 * (k & 3);
    float d0, m0, d1, m1;
    k4_scales(b, 2 * cq, &d0, &m0);
    k4_scales(b, 2 * cq + 1, &d1, &m1);
    int lo[8], hi[8];
    nibbles8(q.x, q.y, lo, hi);
#pragma unroll
    for (int e = 0; e < 8; e++) {
        const uint32_t hb = (e < 4 ? h.x >> (8 * e) : h.y >> (8 * (e - 4))) & 0xFF;
        w[e] = d0 * (float)(lo[e] | (int)((hb >> (2 * cq)) & 1) << 4) - m0;
        w[8 + e] = d1 * (float)(hi[e] | (int)((hb >> (2 * cq + 1)) & 1) << 4) - m1;
    }
    base[0] = 256 * (c >> 4) + 64 * cq + i;
    base[1] = base[0] + 32;
}

template <> struct Fmt<AI_Q4_K> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 4) * sizeof(blk_q4_K);
        const int k = c & 15;
        k_chunk(b, *(const uint2 *)(b + 16 + 32 * (k >> 2) + 8 * (k & 3)), make_uint2(0, 0), c, w, base);
    }
};

template <> struct Fmt<AI_Q5_K> {
    static constexpr int RUNS = 2, RUN = 8, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 4) * sizeof(blk_q5_K);
        const int k = c & 15;
        k_chunk(b, *(const uint2 *)(b + 48 + 32 * (k >> 2) + 8 * (k & 3)), *(const uint2 *)(b + 16 + 8 * (k & 3)), c,
                w, base);
    }
};

/* Q6_K: chunk k (16 a super-block) covers half h = k / 8 and l = l0..l0+3
 * (l0 = 4 (k % 8)): elements l, l + 32, l + 64, l + 96 of the half, their
 * low nibbles from ql[l] / ql[32 + l] (low, then high halves) and their top
 * bits from qh[l]. */
template <> struct Fmt<AI_Q6_K> {
    static constexpr int RUNS = 4, RUN = 4, CHUNK = 16;
    __host__ __device__ static void load(const uint8_t *row, int c, float *w, int *base) {
        const uint8_t *b = row + (c >> 4) * sizeof(blk_q6_K);
        const int k = c & 15, h = k >> 3, l0 = 4 * (k & 7);
        const uint32_t qa = ld_u32_a2(b + 64 * h + l0), qb = ld_u32_a2(b + 64 * h + 32 + l0);
        const uint32_t qh = ld_u32_a2(b + 128 + 32 * h + l0);
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * h + l0 / 16;
        const float d = h2f(*(const uint16_t *)(b + 208));
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const float dq = d * (float)sc[2 * q];
            const uint32_t src = (q & 1) ? qb : qa;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int lo = (src >> (8 * e + 4 * (q >> 1))) & 0xF;
                int hi = (qh >> (8 * e + 2 * q)) & 3;
                w[4 * q + e] = dq * (float)((lo | hi << 4) - 32);
            }
            base[q] = 256 * (c >> 4) + 128 * h + 32 * q + l0;
        }
    }
};

/* Calls f.template operator()<T>() with the format of a runtime type id;
 * returns false for a type without GPU kernels. One switch for the host
 * (kernel launches) and the device (a warp's row, the embedding): the
 * pragma lets a host-only f instantiate it. */
#pragma nv_exec_check_disable
template <typename F> __host__ __device__ __forceinline__ bool ai_cuda_dispatch(uint32_t type, F &&f) {
    switch (type) {
    case AI_F32: f.template operator()<AI_F32>(); return true;
    case AI_F16: f.template operator()<AI_F16>(); return true;
    case AI_BF16: f.template operator()<AI_BF16>(); return true;
    case AI_Q8_0: f.template operator()<AI_Q8_0>(); return true;
    case AI_Q4_0: f.template operator()<AI_Q4_0>(); return true;
    case AI_Q4_1: f.template operator()<AI_Q4_1>(); return true;
    case AI_Q5_0: f.template operator()<AI_Q5_0>(); return true;
    case AI_Q5_1: f.template operator()<AI_Q5_1>(); return true;
    case AI_Q4_K: f.template operator()<AI_Q4_K>(); return true;
    case AI_Q5_K: f.template operator()<AI_Q5_K>(); return true;
    case AI_Q6_K: f.template operator()<AI_Q6_K>(); return true;
    default: return false;
    }
}

#endif
