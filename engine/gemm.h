/* gemm.h — batched matrix products for prefill: several tokens per pass
 * over each weight row (knob gemm).
 *
 * Tokens travel in the 16 lanes of a 512-bit register: the activations of
 * 16 tokens are quantized once per matmul (int8 codes and a float scale per
 * 32 elements, as the one-token path's Q8_0) and stored transposed, 4 codes
 * of each token per 32-bit lane, shifted to unsigned (y + 128). Weight rows
 * are expanded once per chunk into signed int8 codes w, one scale d and one
 * additive term m per block of G elements (G = 32, or 16 for Q6_K), with
 * value = d * w + m. One vpdpbusd then multiplies 4 codes of one row
 * (broadcast) with 4 codes of 16 tokens; the +128 comes off exactly through
 * the integer start value -128 * sum(w) of each block. Per block and token
 * that is G/4 integer multiply-adds, one conversion and two float
 * operations, for every weight format.
 *
 * The 32-formats give the one-token path's integer sums (only the float
 * summation order differs); the K formats take 32-element activation blocks
 * instead of Q8_K's 256 (as precise, not bit-identical). tests/test_kernels.c
 * holds the results to the float reference within the activation-rounding
 * bound. */
#ifndef AI_GEMM_H
#define AI_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"

#define AI_GEMM_ROWS 4    /* weight rows per tile */
#define AI_GEMM_TOKENS 16 /* tokens per group: one per 32-bit lane */
#define AI_GEMM_GROUPS 3  /* groups of tokens per tile, at most */
/* Rows expanded at once before the token groups go over them: 64 rows of
 * the widest matrices (4864 columns) take 0.5 MB, within L2. */
#define AI_GEMM_CHUNK_ROWS 64

/* Whether weights of `type` with rows of n elements can take this path at
 * `isa` (AVX-512 VNNI only for now; n a multiple of 32). */
bool ai_gemm_supported(uint32_t type, int64_t n, ai_isa isa);

/* Bytes of one group of AI_GEMM_TOKENS prepared tokens / of one expanded
 * weight row (both multiples of 64). */
size_t ai_gemm_act_bytes(int64_t n);
size_t ai_gemm_row_bytes(int64_t n);

/* Prepares nt <= AI_GEMM_TOKENS tokens (rows of x, n floats each) into one
 * group at dst (64-byte aligned); lanes past nt read as zero tokens. */
void ai_gemm_prepare_act(const float *x, int64_t n, int nt, void *dst, ai_isa isa);
/* The same bytes from the scalar quantizer (the tests' reference). */
void ai_gemm_prepare_act_ref(const float *x, int64_t n, int nt, void *dst);

/* Expands one weight row into dst (ai_gemm_row_bytes(n), 64-byte aligned);
 * the _ref version is the plain-C reference (tests). */
void ai_gemm_expand_row(uint32_t type, const void *row, int64_t n, void *dst);
void ai_gemm_expand_row_ref(uint32_t type, const void *row, int64_t n, void *dst);
/* The four rows of a repacked group (ai_repack4) straight into 4 expanded
 * rows at dst (stride ai_gemm_row_bytes(n)); false when `type` has no such
 * path (then unpack and expand row by row). */
bool ai_gemm_expand_group(uint32_t type, const void *group, int64_t n, void *dst);

/* Where a tile's results go: y[t * ld + r] for token t and row r of the
 * tile, plus bias[r] where bias is not NULL, added to what y holds where
 * add is set (the residual stream). */
typedef struct {
    float *y;
    size_t ld;
    const float *bias;
    bool add;
} ai_gemm_out;

/* Row r . token t into o for the first nr <= AI_GEMM_ROWS of the
 * AI_GEMM_ROWS expanded rows at w (stride ai_gemm_row_bytes(n)) and the
 * first nt <= AI_GEMM_GROUPS * AI_GEMM_TOKENS tokens of the groups of
 * prepared tokens from act on (stride ai_gemm_act_bytes(n)). Several
 * groups per call keep more independent dot-product chains in flight. */
void ai_gemm_tile(const void *w, const void *act, int64_t n, int nt, int nr, const ai_gemm_out *o);

#endif
