/* cuda_test.h — entry points that run single CUDA kernels on host data, for
 * tests/test_cuda.c to hold each one to the CPU's scalar reference (as
 * llama.cpp's test-backend-ops does). Built only with CUDA (AI_HAVE_CUDA). */
#ifndef AI_CUDA_TEST_H
#define AI_CUDA_TEST_H

#include <stdint.h>

#include "autoinfer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[r] = row r of w (rows x cols in `type`, GGUF layout) . x, by the decode
 * step's mat-vec. */
int ai_cuda_test_matvec(uint32_t type, int rows, int cols, const void *w, const float *x, float *y,
                        ai_error *err);
/* The GPU's block loaders and the mat-vec's lane loop run on the host (no
 * GPU needed): the rows dequantized, and y[r] = the 32 lanes' shares of
 * row r . x summed. */
int ai_cuda_host_dequant(uint32_t type, int rows, int cols, const void *w, float *y);
int ai_cuda_host_matvec(uint32_t type, int rows, int cols, const void *w, const float *x, float *y);
/* The rows dequantized by the GPU's block loaders, as floats. */
int ai_cuda_test_dequant(uint32_t type, int rows, int cols, const void *w, float *y, ai_error *err);
/* One head vector of n floats (n a multiple of 32) stored into a KV cache
 * row of kv_type by the attention's warp store; `row` gets the bytes
 * (ai_row_bytes(kv_type, n)), `deq` the values read back from them. */
int ai_cuda_test_kv(uint32_t kv_type, int n, const float *x, void *row, float *deq, ai_error *err);

/* The token the device sampler draws from V logits with draw u (settings
 * as in engine/sampler.c; inv_temp = 1 / temperature), or -1 when it
 * leaves the step to the host. */
int ai_cuda_test_sample(const float *logits, int V, float inv_temp, int top_k, float top_p, float min_p, double u,
                        int32_t *token, ai_error *err);

#ifdef __cplusplus
}
#endif
#endif
