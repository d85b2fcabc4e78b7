/* quant_neon.c — AArch64 Advanced SIMD fast paths (none yet: every lookup
 * falls back to the scalar reference). */
#include "quant_impl.h"

ai_vec_dot_fn ai_vec_dot_neon(uint32_t type) { return NULL; }
ai_quantize_fn ai_quantize_act_neon(uint32_t vec_type) { return NULL; }
ai_vec_dot4_fn ai_vec_dot4_neon(uint32_t type) { return NULL; }
