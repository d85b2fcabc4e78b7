/* vec.h — float vector kernels of the forward pass besides the matrix
 * products: attention against the KV cache in its element type (f32, f16,
 * q8_0, q4_0), the softmax exponentials and the SwiGLU and GeGLU activations.
 *
 * Every kernel has a scalar reference (kernels = scalar) and fast paths
 * chosen at run time from the CPU (AVX2, AVX-512); tests/test_kernels.c holds
 * them to the reference on random inputs. The fast exponential is a
 * polynomial within 2 ulp of expf (the reference calls expf). */
#ifndef AI_VEC_H
#define AI_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

typedef struct ai_vec_kernels {
    /* g <= 16 queries that share one KV head (query i at q + i * n, its
     * output at out + i * n) over nk cached positions held in a ring of
     * n_slots rows (logical key j at row (first + j) % n_slots of k and v,
     * row_bytes apart; first < n_slots, nk <= n_slots): out[i] =
     * softmax(scale * q[i] . K) V. Each cached row is read from memory once
     * for the g queries. scratch: 64-byte aligned, ai_vec_attend_scratch(n,
     * nk) floats (it holds the g score rows). */
    void (*attend1)(const void *k, const void *v, size_t row_bytes, int n_slots, int first, int nk, int g,
                    const float *q, float *out, int n, float scale, float *scratch);
    /* causal attention of nq <= 16 consecutive queries of one head
     * (positions p0 .. p0 + nq - 1; query t at q + t * q_stride) against
     * the cached heads of positions 0 .. p0 + nq - 1 (row i at k and v +
     * i * row_bytes): out[t] (at out + t * out_stride) = softmax(scale *
     * q[t] . K) V, each query over its own keys. scratch: 64-byte aligned,
     * ai_vec_attend_scratch(n, p0 + nq) floats. */
    void (*attend)(const void *k, const void *v, size_t row_bytes, int p0, int nq, const float *q,
                   size_t q_stride, float *out, size_t out_stride, int n, float scale, float *scratch);
    /* x[i] = exp(x[i] - max); returns the sum */
    float (*exp_sum)(float *x, int n, float max);
    /* g[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u */
    void (*swiglu)(float *g, const float *u, int n);
    /* g[i] = gelu(g[i]) * u[i], GELU's tanh approximation (gemma3; scalar
     * only so far) */
    void (*geglu)(float *g, const float *u, int n);
} ai_vec_kernels;

/* Kernels for a KV cache of kv_type (AI_F32, AI_F16, AI_Q8_0, AI_Q4_0; n a
 * multiple of 32 for the quantized ones) at or below isa. Returns -1 when
 * kv_type is not one of those. */
int ai_vec_kernels_get(ai_vec_kernels *k, uint32_t kv_type, ai_isa isa);

/* Floats of scratch that attend needs for heads of n elements and n_keys
 * keys. */
size_t ai_vec_attend_scratch(int n, int n_keys);

#endif
