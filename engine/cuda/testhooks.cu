/* testhooks.cu — cuda_test.h: single kernels on host data, for the tests. */
#include <cuda_runtime.h>

#include <vector>

extern "C" {
#include "cuda_test.h"
#include "quant.h"
}

#include "kernels.cuh"

#define CK(call)                                                                                  \
    do {                                                                                          \
        cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess) {                                                                  \
            ai_error_set(err, "CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__, #call,          \
                         cudaGetErrorString(e_));                                                 \
            goto done;                                                                            \
        }                                                                                         \
    } while (0)

__global__ void k_test_matvec(DMat m, const float *x, float *y) {
    extern __shared__ float xs[];
    load_to_shared(x, m.cols, xs);
    const int wpb = blockDim.x >> 5;
    for (int r = gwarp(blockIdx.x, wpb); r < m.rows; r += gridDim.x * wpb) {
        const float v = row_dot(m, r, xs);
        if ((threadIdx.x & 31) == 0) y[r] = v;
    }
}

template <int T> __global__ void k_test_dequant(DMat m, float *y) {
    const int nc = m.cols / Fmt<T>::CHUNK;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (long)m.rows * nc; i += (long)gridDim.x * blockDim.x)
        chunk_store<T>(m.w + (size_t)(i / nc) * m.row_bytes, (int)(i % nc), y + (size_t)(i / nc) * m.cols);
}

__global__ void k_test_kv(uint32_t type, int n, const float *x, uint8_t *row, float *deq) {
    float v[AI_MAX_HD_PER_LANE];
    const int lane = threadIdx.x, per = n / 32;
    for (int i = 0; i < per; i++) v[i] = x[i * 32 + lane];
    kv_put_warp(type, row, v, per, true);
    __syncwarp();
    for (int i = 0; i < per; i++) deq[i * 32 + lane] = kv_get(type, row, i * 32 + lane);
}

__global__ void __launch_bounds__(AI_SAMPLE_THREADS)
    k_test_sample(const float *logits, int V, float inv_temp, int top_k, float top_p, float min_p, double u, float *w,
                  int *out) {
    const int t = sample_block(logits, V, inv_temp, top_k, top_p, min_p, u, w);
    if (threadIdx.x == 0) *out = t;
}

static DMat mat_of(uint32_t type, int rows, int cols, const void *w) {
    DMat m;
    m.w = (const uint8_t *)w;
    m.type = type;
    m.rows = rows;
    m.cols = cols;
    m.row_bytes = (uint32_t)ai_row_bytes(type, cols);
    return m;
}

extern "C" int ai_cuda_test_matvec(uint32_t type, int rows, int cols, const void *w, const float *x, float *y,
                                   ai_error *err) {
    const size_t wb = ai_row_bytes(type, cols) * rows;
    uint8_t *dw = NULL;
    float *dx = NULL, *dy = NULL;
    int rc = -1;
    CK(cudaMalloc(&dw, wb));
    CK(cudaMalloc(&dx, cols * sizeof(float)));
    CK(cudaMalloc(&dy, rows * sizeof(float)));
    CK(cudaMemcpy(dw, w, wb, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx, x, cols * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xFF, rows * sizeof(float))); /* NaN: an unwritten row shows */
    CK(cudaFuncSetAttribute(k_test_matvec, cudaFuncAttributeMaxDynamicSharedMemorySize, cols * 4));
    k_test_matvec<<<(rows + 7) / 8, 256, cols * sizeof(float)>>>(mat_of(type, rows, cols, dw), dx, dy);
    CK(cudaGetLastError());
    CK(cudaMemcpy(y, dy, rows * sizeof(float), cudaMemcpyDeviceToHost));
    rc = 0;
done:
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(dy);
    return rc;
}

extern "C" int ai_cuda_test_dequant(uint32_t type, int rows, int cols, const void *w, float *y, ai_error *err) {
    const size_t wb = ai_row_bytes(type, cols) * rows;
    uint8_t *dw = NULL;
    float *dy = NULL;
    int rc = -1;
    DMat m;
    bool known;
    CK(cudaMalloc(&dw, wb));
    CK(cudaMalloc(&dy, (size_t)rows * cols * sizeof(float)));
    CK(cudaMemcpy(dw, w, wb, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xFF, (size_t)rows * cols * sizeof(float)));
    m = mat_of(type, rows, cols, dw);
    known = ai_cuda_dispatch(type, [&]<int T>() { k_test_dequant<T><<<64, 256>>>(m, dy); });
    if (!known) {
        ai_error_set(err, "type %u has no CUDA loader", type);
        goto done;
    }
    CK(cudaGetLastError());
    CK(cudaMemcpy(y, dy, (size_t)rows * cols * sizeof(float), cudaMemcpyDeviceToHost));
    rc = 0;
done:
    cudaFree(dw);
    cudaFree(dy);
    return rc;
}

extern "C" int ai_cuda_test_kv(uint32_t kv_type, int n, const float *x, void *row, float *deq, ai_error *err) {
    const size_t rb = ai_row_bytes(kv_type, n);
    uint8_t *drow = NULL;
    float *dx = NULL, *dd = NULL;
    int rc = -1;
    if (n % 32 || n > 32 * AI_MAX_HD_PER_LANE) return ai_error_set(err, "kv test: n = %d", n);
    CK(cudaMalloc(&drow, rb));
    CK(cudaMalloc(&dx, n * sizeof(float)));
    CK(cudaMalloc(&dd, n * sizeof(float)));
    CK(cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemset(drow, 0xA5, rb));
    k_test_kv<<<1, 32>>>(kv_type, n, dx, drow, dd);
    CK(cudaGetLastError());
    CK(cudaMemcpy(row, drow, rb, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(deq, dd, n * sizeof(float), cudaMemcpyDeviceToHost));
    rc = 0;
done:
    cudaFree(drow);
    cudaFree(dx);
    cudaFree(dd);
    return rc;
}

extern "C" int ai_cuda_test_sample(const float *logits, int V, float inv_temp, int top_k, float top_p, float min_p,
                                   double u, int32_t *token, ai_error *err) {
    float *dl = NULL, *dw = NULL;
    int *dout = NULL, out = -3;
    int rc = -1;
    CK(cudaMalloc(&dl, V * sizeof(float)));
    CK(cudaMalloc(&dw, V * sizeof(float)));
    CK(cudaMalloc(&dout, sizeof(int)));
    CK(cudaMemcpy(dl, logits, V * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dout, &out, sizeof(int), cudaMemcpyHostToDevice));
    k_test_sample<<<1, AI_SAMPLE_THREADS>>>(dl, V, inv_temp, top_k, top_p, min_p, u, dw, dout);
    CK(cudaGetLastError());
    CK(cudaMemcpy(&out, dout, sizeof(int), cudaMemcpyDeviceToHost));
    *token = out;
    rc = 0;
done:
    cudaFree(dl);
    cudaFree(dw);
    cudaFree(dout);
    return rc;
}

extern "C" int ai_cuda_host_dequant(uint32_t type, int rows, int cols, const void *w, float *y) {
    const size_t rb = ai_row_bytes(type, cols);
    return ai_cuda_dispatch(type, [&]<int T>() {
               for (int r = 0; r < rows; r++)
                   for (int c = 0; c < cols / Fmt<T>::CHUNK; c++)
                       chunk_store<T>((const uint8_t *)w + r * rb, c, y + (size_t)r * cols);
           })
               ? 0
               : -1;
}

extern "C" int ai_cuda_host_matvec(uint32_t type, int rows, int cols, const void *w, const float *x, float *y) {
    const size_t rb = ai_row_bytes(type, cols);
    /* the kernel reads x as float4 from shared memory: the same alignment here */
    std::vector<float4> xs((cols + 3) / 4);
    memcpy(xs.data(), x, cols * sizeof(float));
    return ai_cuda_dispatch(type, [&]<int T>() {
               for (int r = 0; r < rows; r++) {
                   float s = 0.0f;
                   for (int lane = 0; lane < 32; lane++)
                       s += row_dot_t<T>((const uint8_t *)w + r * rb, cols, (const float *)xs.data(), lane);
                   y[r] = s;
               }
           })
               ? 0
               : -1;
}
