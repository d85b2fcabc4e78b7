/* quant_avx2.c — avx2 fast paths (placeholder: scalar fallback). */
#include "quant_impl.h"

ai_vec_dot_fn ai_vec_dot_avx2(uint32_t type) { return NULL; }
ai_quantize_fn ai_quantize_act_avx2(uint32_t vec_type) { return NULL; }
