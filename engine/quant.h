/* quant.h — weight formats, bit-exact with the GGUF/ggml block layouts.
 *
 * Two ways to take a dot product of a weight row with activations:
 *  - float path: ai_dot_f32_ref(type, row, x) — dequantize and multiply in
 *    float; the plain reference for every format.
 *  - integer path: activations are quantized once per matmul into the
 *    format's companion type (ai_vec_type: Q8_0, Q8_1 or Q8_K, like ggml),
 *    then ai_vec_dot(type) multiplies blocks in integers. The scalar version
 *    (ai_vec_dot_ref) is kept forever as the oracle for the SIMD versions
 *    that ai_vec_dot_get picks from the CPU's features.
 */
#ifndef AI_QUANT_H
#define AI_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ggml type ids, as stored in GGUF tensor infos. */
typedef enum ai_dtype {
    AI_F32 = 0, AI_F16 = 1, AI_Q4_0 = 2, AI_Q4_1 = 3,
    AI_Q5_0 = 6, AI_Q5_1 = 7, AI_Q8_0 = 8, AI_Q8_1 = 9,
    AI_Q2_K = 10, AI_Q3_K = 11, AI_Q4_K = 12, AI_Q5_K = 13, AI_Q6_K = 14,
    AI_Q8_K = 15, AI_BF16 = 30, AI_DTYPE_MAX = 40
} ai_dtype;

typedef struct ai_dtype_info {
    const char *name;    /* "q4_0" ... ; NULL for ids we do not know */
    int block;           /* elements per block */
    int type_size;       /* bytes per block */
    bool weight;         /* usable as a model weight here */
} ai_dtype_info;

/* NULL for an id outside the table or unknown. */
const ai_dtype_info *ai_dtype_get(uint32_t type);
/* Look a type up by name ("q4_k", "Q4_K" ...); -1 when unknown. */
int ai_dtype_from_name(const char *name);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block. */
size_t ai_row_bytes(uint32_t type, int64_t n);

/* fp16 / bf16 conversions (round to nearest even). */
float ai_f16_to_f32(uint16_t h);
uint16_t ai_f32_to_f16(float f);
float ai_bf16_to_f32(uint16_t h);
uint16_t ai_f32_to_bf16(float f);

/* Scalar references. n must be a multiple of the block size. */
void ai_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
float ai_dot_f32_ref(uint32_t type, const void *row, const float *x, int64_t n);
/* Reference quantizer (round-to-nearest, ggml's reference algorithms);
 * defined for F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K,
 * Q5_K, Q6_K, Q8_K. Returns bytes written, 0 when unsupported. */
size_t ai_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* Integer path. */
uint32_t ai_vec_type(uint32_t weight_type);   /* companion activation type */
float ai_vec_dot_ref(uint32_t type, const void *row, const void *xq, int64_t n);

typedef float (*ai_vec_dot_fn)(const void *row, const void *xq, int64_t n);
typedef void (*ai_quantize_fn)(const float *x, void *dst, int64_t n);

/* CPU feature levels the kernels can use. */
typedef enum ai_isa { AI_ISA_SCALAR = 0, AI_ISA_AVX2 = 1, AI_ISA_AVX512 = 2,
                      AI_ISA_NEON = 3 } ai_isa;
ai_isa ai_isa_detect(void);               /* best level this CPU runs */
const char *ai_isa_name(ai_isa isa);
/* Fastest kernels for `type` at or below `isa` (never NULL for a weight
 * type: falls back to the scalar reference). */
ai_vec_dot_fn ai_vec_dot_get(uint32_t type, ai_isa isa);
ai_quantize_fn ai_quantize_act_get(uint32_t vec_type, ai_isa isa);

/* Four rows at once against the same activations (row k at row + k*stride):
 * out[k] = ai_vec_dot(type)(row + k*stride, xq, n), in one pass that loads
 * each activation block once. NULL when `isa` has none for `type`: callers
 * then use the one-row kernel. */
typedef void (*ai_vec_dot4_fn)(const void *row, size_t stride, const void *xq, int64_t n,
                               float *out);
ai_vec_dot4_fn ai_vec_dot4_get(uint32_t type, ai_isa isa);

/* Weights repacked in groups of four rows (knob repack): a matrix-vector
 * product then streams memory strictly in order, and each step's scales
 * sit together. A group is exactly 4 * row_bytes; for each pair of blocks
 * (b, b+1) it holds first the scale fields (the first ai_repack4_head bytes
 * of each block: fp16 d, or d and m) of the 8 (row r, block) pairs in order
 * 2r + (block - b), then for each row r the rest of its two blocks
 * (b then b+1); an odd last block gives a half-size section (4 scale fields,
 * then 4 rests). Q5_0 and Q5_1 differ in where their high bits go: after
 * the 8 scale fields come the high bits as four 64-bit masks in the order
 * the kernels apply them to two rows' codes at once (ai_repack4_q5_qh),
 * then each row's two 16-byte code arrays; the odd last block keeps the
 * plain order. */
bool ai_repack4_supported(uint32_t type);
size_t ai_repack4_head(uint32_t type); /* 0 when not supported */
void ai_repack4(uint32_t type, const void *rows, size_t row_bytes, int64_t n, void *group);
void ai_unpack4(uint32_t type, const void *group, int64_t n, void *rows, size_t row_bytes);
/* The 32 high bits of (row r, block b + k) from a Q5_0/Q5_1 section of two
 * blocks: 16-bit halves at masks + 16 * (r / 2) (low halves) and + 8 (high
 * halves), word 2 * (r % 2) + k of each. */
static inline uint32_t ai_repack4_q5_qh(const uint8_t *masks, int r, int k) {
    const uint8_t *m = masks + 16 * (r / 2) + 2 * (2 * (r % 2) + k);
    return (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[8] << 16 | (uint32_t)m[9] << 24;
}

/* Activations prepared once per product for the repacked kernels, one
 * record per pair of blocks (b, b+1) of the Q8_0/Q8_1 activation row (an
 * odd last block pairs with a zero block). The codes come split in the
 * order two rows' nibbles land in a 512-bit register: lo = elements 0..15
 * of b then of b+1, hi = elements 16..31 of each; neg_sum[4 * k + i] =
 * -(sum of the codes i*4..i*4+3 and 16+i*4..16+i*4+3 of block b + k), so
 * that an offset format's (q - c) . y starts its integer sum from
 * c * neg_sum. */
typedef struct ai_act_pair {
    int8_t lo[32], hi[32];
    int32_t neg_sum[8];
    float d[2];    /* the blocks' scales */
    float ds[4];   /* d_b, s_b, d_b+1, s_b+1 (Q8_1's s = d * sum of codes; 0 for Q8_0) */
    float pad[2];
} ai_act_pair;
size_t ai_act_pairs(int64_t n); /* records for a row of n elements */
void ai_act_pair_prep(uint32_t vec_type, const void *xq, int64_t n, ai_act_pair *out);
/* The records straight from floats: bit for bit ai_act_pair_prep of
 * ai_quantize_act_get(vec_type)'s output (vec_type AI_Q8_0 or AI_Q8_1;
 * NULL for others). */
typedef void (*ai_act_pairs_fn)(const float *x, int64_t n, ai_act_pair *out);
ai_act_pairs_fn ai_act_pairs_get(uint32_t vec_type, ai_isa isa);

/* out[4g + k] = ai_vec_dot(type)(row k of group g, xq, n) for n_groups
 * consecutive groups, from the prepared activations ap (ai_act_pair_prep
 * of xq). prefetch: how far ahead of what it reads the kernel prefetches
 * the stream, in bytes, a few lines per step (0 = none). */
typedef void (*ai_vec_dot4p_fn)(const void *groups, const ai_act_pair *ap, int64_t n, int64_t n_groups,
                                size_t prefetch, float *out);
ai_vec_dot4p_fn ai_vec_dot4p_get(uint32_t type, ai_isa isa);

#endif
