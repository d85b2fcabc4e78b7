/* quant_impl.h — private to the quant kernels (quant.c, quant_avx2.c,
 * quant_avx512.c, quant_neon.c): the block structs (blocks.h), helpers to
 * read them, and the per-ISA kernel lookups that ai_vec_dot_get uses. */
#ifndef AI_QUANT_IMPL_H
#define AI_QUANT_IMPL_H

#include <stdint.h>

#include "blocks.h"
#include "quant.h"

/* Four bytes as a little-endian uint32, at any alignment (compilers make
 * one load of it on little-endian hosts). */
static inline uint32_t load_u32(const void *p) {
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Per-ISA lookups: the kernel for a weight type / activation type, or NULL
 * when that ISA file has none (the caller then falls back a level).
 * Defined as NULL-returning stubs where the ISA cannot be compiled. */
ai_vec_dot_fn ai_vec_dot_avx2(uint32_t type);
ai_vec_dot_fn ai_vec_dot_avx512(uint32_t type);
ai_vec_dot_fn ai_vec_dot_neon(uint32_t type);
ai_vec_dot4_fn ai_vec_dot4_avx512(uint32_t type);
ai_vec_dot4p_fn ai_vec_dot4p_avx512(uint32_t type);
ai_quantize_fn ai_quantize_act_avx2(uint32_t vec_type);
ai_act_pairs_fn ai_act_pairs_avx2(uint32_t vec_type);

#endif
