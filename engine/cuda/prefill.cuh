/* prefill.cuh — the batched forward pass (prompt chunks of
 * cuda_gemm_min_tokens tokens or more): the products run on the tensor
 * cores through cuBLAS, with each weight matrix dequantized to f16 just
 * before its product (so no f16 copy of the model is kept), and the
 * activations they read stored as f16. Norms, RoPE, the cache and attention
 * are small kernels here, one block per token or per (token, head).
 */
#ifndef AI_CUDA_PREFILL_CUH
#define AI_CUDA_PREFILL_CUH

#include "kernels.cuh"

/* rows r0..r0+nr of m, as f16, rows of m.cols. One thread a chunk. */
template <int T> __global__ void k_dequant_f16(DMat m, int r0, int nr, __half *out) {
    const int nc = m.cols / Fmt<T>::CHUNK;
    const long total = (long)nr * nc;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        const int r = (int)(i / nc), c = (int)(i % nc);
        chunk_store<T>(m.w + (size_t)(r0 + r) * m.row_bytes, c, out + (size_t)r * m.cols);
    }
}

/* x[t] = embedding row of tokens[t]; one block a token. */
template <int T> __global__ void k_embed_rows(DMat e, const int *tokens, float *x) {
    const uint8_t *row = e.w + (size_t)tokens[blockIdx.x] * e.row_bytes;
    for (int c = threadIdx.x; c < e.cols / Fmt<T>::CHUNK; c += blockDim.x)
        chunk_store<T>(row, c, x + (size_t)blockIdx.x * e.cols);
}

/* out[t] = f16(rmsnorm(x[t]) * w); one block a token. */
__global__ void k_rmsnorm_f16(const float *x, const float *w, int d, float eps, __half *out) {
    __shared__ float red[32];
    const float *xt = x + (size_t)blockIdx.x * d;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xt[i] * xt[i];
    ss = block_sum(ss, red);
    const float scale = rsqrtf(ss / (float)d + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        out[(size_t)blockIdx.x * d + i] = __float2half_rn(xt[i] * scale * w[i]);
}

/* Token t (block t) at position pos0 + t: biases, RoPE of q and k in place,
 * then k and v into the cache (one warp a KV head). */
__global__ void k_qkv_post(DNet n, int l, int pos0, float *q, float *k, float *v) {
    const DLayer &L = n.layers[l];
    const int t = blockIdx.x, pos = pos0 + t, hd = n.hd, dq = n.n_head * hd, dkv = n.n_kv * hd;
    float *qt = q + (size_t)t * dq, *kt = k + (size_t)t * dkv, *vt = v + (size_t)t * dkv;
    for (int i = threadIdx.x; i < dq; i += blockDim.x)
        if (L.bq) qt[i] += L.bq[i];
    for (int i = threadIdx.x; i < dkv; i += blockDim.x) {
        if (L.bk) kt[i] += L.bk[i];
        if (L.bv) vt[i] += L.bv[i];
    }
    __syncthreads();
    const int half = n.n_rot / 2;
    for (int u = threadIdx.x; u < (n.n_head + n.n_kv) * half; u += blockDim.x) {
        const int h = u / half, i = u % half;
        float *vec = h < n.n_head ? qt + h * hd : kt + (h - n.n_head) * hd;
        int a, b;
        float c, s;
        rope_pair(n, i, pos, &a, &b, &c, &s);
        const float x0 = vec[a], x1 = vec[b];
        vec[a] = x0 * c - x1 * s;
        vec[b] = x0 * s + x1 * c;
    }
    __syncthreads();
    const int lane = threadIdx.x & 31, per = hd / 32;
    const size_t slot = (size_t)(pos % n.n_slots);
    for (int g = threadIdx.x >> 5; g < n.n_kv; g += blockDim.x >> 5) {
        float kv[AI_MAX_HD_PER_LANE], vv[AI_MAX_HD_PER_LANE];
        for (int i = 0; i < per; i++) {
            kv[i] = kt[g * hd + i * 32 + lane];
            vv[i] = vt[g * hd + i * 32 + lane];
        }
        const size_t off = slot * n.kv_row_bytes + (size_t)g * n.kv_head_bytes;
        kv_put_warp(n.kv_type, L.kc + off, kv, per, true);
        kv_put_warp(n.kv_type, L.vc + off, vv, per, true);
    }
}

/* Attention of token blockIdx.x (position pos0 + t), head blockIdx.y, over
 * the cache (which already holds this pass's keys); f16 out for wo. */
__global__ void k_attn_rows(DNet n, int l, int pos0, const float *q, __half *out) {
    extern __shared__ float smem[];
    const DLayer &L = n.layers[l];
    const int t = blockIdx.x, h = blockIdx.y, hd = n.hd, dq = n.n_head * hd;
    float *qs = smem, *o = smem + hd, *part = smem + 2 * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) qs[i] = q[(size_t)t * dq + h * hd + i];
    __syncthreads();
    attend(n, L, h / (n.n_head / n.n_kv), pos0 + t, qs, nullptr, nullptr, part, o);
    for (int i = threadIdx.x; i < hd; i += blockDim.x) out[(size_t)t * dq + h * hd + i] = __float2half_rn(o[i]);
}

/* hb = f16(silu(g) * u), n elements. */
__global__ void k_swiglu_f16(const float *g, const float *u, long n, __half *out) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(g[i] / (1.0f + __expf(-g[i])) * u[i]);
}

#endif
