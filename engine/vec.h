/* vec.h — float vector kernels of the forward pass besides the matrix
 * products: attention against the KV cache in its element type (f32, f16,
 * q8_0, q4_0), the softmax exponentials and the SwiGLU activation.
 *
 * Every kernel has a scalar reference (kernels = scalar) and fast paths
 * chosen at run time from the CPU (AVX2, AVX-512); tests/test_kernels.c holds
 * them to the reference on random inputs. The fast exponential is a
 * polynomial within 2 ulp of expf (the reference calls expf). */
#ifndef AI_VEC_H
#define AI_VEC_H

#include <stdint.h>

#include "quant.h"

typedef struct ai_vec_kernels {
    /* q . k for one head of a cached K row (n elements in the KV type) */
    float (*kdot)(const void *k, const float *q, int n);
    /* out += a * v for one head of a cached V row */
    void (*vaxpy)(float *out, float a, const void *v, int n);
    /* four queries (at q + t * q_stride) against one cached K head: out[t] */
    void (*kdot4)(const void *k, const float *q, size_t q_stride, int n, float *out);
    /* out[t] (at out + t * out_stride) += a[t] * v, t < 4, for one V head */
    void (*vaxpy4)(float *out, size_t out_stride, const float *a, const void *v, int n);
    /* x[i] = exp(x[i] - max); returns the sum */
    float (*exp_sum)(float *x, int n, float max);
    /* g[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u */
    void (*swiglu)(float *g, const float *u, int n);
} ai_vec_kernels;

/* Kernels for a KV cache of kv_type (AI_F32, AI_F16, AI_Q8_0, AI_Q4_0; n a
 * multiple of 32 for the quantized ones) at or below isa. Returns -1 when
 * kv_type is not one of those. */
int ai_vec_kernels_get(ai_vec_kernels *k, uint32_t kv_type, ai_isa isa);

#endif
