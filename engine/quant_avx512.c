/* quant_avx512.c — avx512 fast paths (placeholder: scalar fallback). */
#include "quant_impl.h"

ai_vec_dot_fn ai_vec_dot_avx512(uint32_t type) { return NULL; }
ai_quantize_fn ai_quantize_act_avx512(uint32_t vec_type) { return NULL; }
