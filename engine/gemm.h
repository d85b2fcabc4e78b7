/* gemm.h — batched matrix products for prefill: several tokens per pass
 * over each weight row (knob gemm).
 *
 * Each group of four weight rows is expanded once into a common form —
 * unsigned 8-bit codes u, a float scale per 4 elements (dl) and an additive
 * term per 16 elements (m16), with value = dl * (u - off) + m16 — and then
 * multiplied with four tokens at a time by one integer kernel (vpdpbusd)
 * for every weight format. The activations are quantized once per matmul
 * exactly as the one-token path does (Q8_1: int8 per element, fp16 scale
 * and fp16 s = d * sum per 32), plus their 4-element sums (the offset is
 * taken off in integers).
 *
 * With off applied in integers and the min terms taken as m * s, the
 * 32-formats give the one-token path's sums (only the float summation order
 * differs); the K formats take 32-element activation blocks instead of
 * Q8_K's 256 (as precise, not bit-identical). tests/test_kernels.c holds the results to the float
 * reference within the activation-rounding bound. */
#ifndef AI_GEMM_H
#define AI_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* Whether weights of `type` with rows of n elements can take this path at
 * `isa` (AVX-512 only for now; n a multiple of 64). */
bool ai_gemm_supported(uint32_t type, int64_t n, ai_isa isa);

/* Bytes of one token's prepared activations / of one expanded weight row. */
size_t ai_gemm_act_bytes(int64_t n);
size_t ai_gemm_row_bytes(int64_t n);

/* Prepares n_tok tokens (rows of x, n floats each) into dst
 * (n_tok * ai_gemm_act_bytes(n) bytes, 64-byte aligned). */
void ai_gemm_prepare_act(const float *x, int64_t n, int n_tok, void *dst, ai_isa isa);

/* Expands one weight row into dst (ai_gemm_row_bytes(n), 64-byte aligned);
 * the _ref version is the plain-C reference (tests). */
void ai_gemm_expand_row(uint32_t type, const void *row, int64_t n, void *dst);
void ai_gemm_expand_row_ref(uint32_t type, const void *row, int64_t n, void *dst);
/* The four rows of a repacked group (ai_repack4) straight into 4 expanded
 * rows at dst (stride ai_gemm_row_bytes(n)); false when `type` has no such
 * path (then unpack and expand row by row). */
bool ai_gemm_expand_group(uint32_t type, const void *group, int64_t n, void *dst);

/* out[r * 4 + t] = row r . token t for 4 expanded rows (at w, stride
 * ai_gemm_row_bytes(n)) and nt <= 4 prepared tokens (at act, stride
 * ai_gemm_act_bytes(n)). */
void ai_gemm_tile(const void *w, const void *act, int nt, int64_t n, float *out);

#endif
