/* kernels.cuh — the CUDA forward pass as stages.
 *
 * A decode step is, per layer, five stages that each need the whole output
 * of the one before (so a grid-wide wait sits between them):
 *   qkv   RMSNorm of x (every block recomputes it into shared memory) and
 *         the q, k, v rows (+ bias)
 *   attn  one block per query head: RoPE of q and of its KV head's new k,
 *         the new k/v into the cache (the group's first head writes it),
 *         attention over the cache with an online softmax per warp
 *   wo    x += wo . att
 *   ffn   RMSNorm of x, then silu(gate . xn) * (up . xn) per row
 *   down  x += down . hb
 * then the head: RMSNorm, logits and (greedy) their argmax.
 *
 * Each stage is a __device__ function over "units" (rows, or heads) that a
 * grid walks with any number of blocks, so the same code runs as one
 * kernel per stage (launched on a stream or replayed from a CUDA graph) or
 * inside one persistent kernel that separates the stages with grid
 * barriers (knob cuda_launch). Token and position live in device memory, so
 * a captured step is replayed unchanged.
 */
#ifndef AI_CUDA_KERNELS_CUH
#define AI_CUDA_KERNELS_CUH

#include "formats.cuh"

/* A weight matrix on the device: rows of cols elements in its GGUF type. */
struct DMat {
    const uint8_t *w;
    uint32_t type;
    int rows, cols;
    uint32_t row_bytes;
};

struct DLayer {
    DMat wq, wk, wv, wo, gate, up, down;
    const float *attn_norm, *ffn_norm, *bq, *bk, *bv; /* b*: NULL without biases */
    uint8_t *kc, *vc; /* KV cache: n_slots rows of kv_row_bytes */
};

/* Everything a step reads (kernels take it by value, so it sits in the
 * constant bank; what it points to is device memory). */
struct DNet {
    int n_layer, d, n_head, n_kv, hd, n_ff, n_vocab, n_rot;
    int neox;
    float eps, att_scale;
    const DLayer *layers;
    DMat embd, out;
    const float *out_norm;
    const double *inv_freq; /* [n_rot/2] (ai_rope_inv_freq) */
    /* KV cache */
    uint32_t kv_type;
    int n_slots, window, rotating;
    uint32_t kv_row_bytes, kv_head_bytes;
    /* one token's activations */
    float *x, *q, *k, *v, *att, *hb, *logits;
    int *token, *pos, *next;     /* the step's input and (greedy) output */
    unsigned long long *best;    /* argmax as (ordered logit << 32 | ~id) */
    unsigned *barrier;           /* persistent kernel: arrivals so far */
    int prefetch;                /* fetch the next stage's weights into L2 early (knob cuda_pdl) */
    /* sampling on the device (engine/sampler.c's rules, the host's draw) */
    float inv_temp, top_p, min_p;
    int top_k;
    float *weights;              /* [n_vocab] scratch */
    double *draw;                /* the step's uniform draw, copied in by the graph */
};

/* ---- helpers ----------------------------------------------------------- */

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block; every thread gets it. red: 32 floats of shared memory. */
__device__ __forceinline__ float block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* red may still be read from a previous call */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0f;
    return warp_sum(v);
}

/* xs = x * rsqrt(mean(x^2) + eps) * w, into shared memory. */
__device__ __forceinline__ void rmsnorm_to_shared(const float *x, const float *w, int d, float eps, float *xs,
                                                  float *red) {
    float ss = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += x[i] * x[i];
    ss = block_sum(ss, red);
    const float scale = rsqrtf(ss / (float)d + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x) xs[i] = x[i] * scale * w[i];
    __syncthreads();
}

__device__ __forceinline__ void load_to_shared(const float *x, int n, float *xs) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) xs[i] = x[i];
    __syncthreads();
}

/* A loaded chunk (w, its runs at base) times x, x read as float4. */
template <typename F> __host__ __device__ __forceinline__ float chunk_dot(const float *w, const int *base, const float *xs) {
    float acc = 0.0f;
#pragma unroll
    for (int r = 0; r < F::RUNS; r++)
#pragma unroll
        for (int j = 0; j < F::RUN; j += 4) {
            const float4 xv = *(const float4 *)(xs + base[r] + j);
            acc += w[r * F::RUN + j] * xv.x + w[r * F::RUN + j + 1] * xv.y + w[r * F::RUN + j + 2] * xv.z +
                   w[r * F::RUN + j + 3] * xv.w;
        }
    return acc;
}

/* Chunk c of a row into its elements of out (floats or halves). */
template <int T, typename Out> __host__ __device__ __forceinline__ void chunk_store(const uint8_t *row, int c, Out *out) {
    using F = Fmt<T>;
    float w[F::RUNS * F::RUN];
    int b[F::RUNS];
    F::load(row, c, w, b);
#pragma unroll
    for (int r = 0; r < F::RUNS; r++)
#pragma unroll
        for (int j = 0; j < F::RUN; j++) out[b[r] + j] = (Out)w[r * F::RUN + j];
}

/* One lane's share of row . x (x in shared memory), chunks lane, lane + 32,
 * ... Two chunks are loaded before either is used, so that each lane has
 * two memory reads in flight. */
template <int T> __host__ __device__ __forceinline__ float row_dot_t(const uint8_t *row, int cols, const float *xs, int lane) {
    using F = Fmt<T>;
    const int nc = cols / F::CHUNK;
    float acc = 0.0f;
    for (int c = lane; c < nc; c += 64) {
        float w0[F::RUNS * F::RUN], w1[F::RUNS * F::RUN];
        int b0[F::RUNS], b1[F::RUNS];
        const bool two = c + 32 < nc;
        F::load(row, c, w0, b0);
        if (two) F::load(row, c + 32, w1, b1);
        acc += chunk_dot<F>(w0, b0, xs);
        if (two) acc += chunk_dot<F>(w1, b1, xs);
    }
    return acc;
}

/* Row r of m . xs, summed over the warp (every lane gets it). The type
 * dispatch is uniform across the warp. */
__device__ __forceinline__ float row_dot(const DMat &m, int r, const float *xs) {
    const uint8_t *row = m.w + (size_t)r * m.row_bytes;
    const int lane = threadIdx.x & 31;
    float acc = 0.0f; /* the upload refuses other types */
    ai_cuda_dispatch(m.type, [&]<int T>() { acc = row_dot_t<T>(row, m.cols, xs, lane); });
    return warp_sum(acc);
}

/* Warps of the whole grid, for row loops. */
__device__ __forceinline__ int gwarp(int unit, int wpb) { return unit * wpb + (int)(threadIdx.x >> 5); }

/* ---- overlapping a stage with the one before ------------------------------ */

/* Programmatic dependent launch (knob cuda_pdl): a stage kernel lets the
 * next one start launching at once, fetches its own weights into L2 (they
 * do not depend on the stage before), and only then waits for the previous
 * kernel to finish. Both instructions do nothing in a kernel launched
 * without the attribute. */
__device__ __forceinline__ void pdl_launch_next() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void pdl_wait_previous() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

/* L2 prefetch of the rows of m this warp will take (rows r0, r0 + stride,
 * ...), a 128-byte line a lane. */
__device__ __forceinline__ void prefetch_rows(const DMat &m, int unit, int n_units) {
    const int wpb = blockDim.x >> 5, lane = threadIdx.x & 31;
    for (int r = gwarp(unit, wpb); r < m.rows; r += n_units * wpb) {
        const uint8_t *row = m.w + (size_t)r * m.row_bytes;
        for (uint32_t o = 128u * lane; o < m.row_bytes; o += 32u * 128u)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(row + o));
    }
}

/* The same for the qkv stage, whose rows are q's, then k's, then v's. */
__device__ __forceinline__ void prefetch_qkv(const DMat &a, const DMat &b, const DMat &c, int unit, int n_units) {
    const int wpb = blockDim.x >> 5, lane = threadIdx.x & 31;
    for (int r = gwarp(unit, wpb); r < a.rows + b.rows + c.rows; r += n_units * wpb) {
        const DMat &m = r < a.rows ? a : r < a.rows + b.rows ? b : c;
        const int rr = r < a.rows ? r : r < a.rows + b.rows ? r - a.rows : r - a.rows - b.rows;
        const uint8_t *row = m.w + (size_t)rr * m.row_bytes;
        for (uint32_t o = 128u * lane; o < m.row_bytes; o += 32u * 128u)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(row + o));
    }
}

/* ---- KV cache elements ---------------------------------------------------- */

/* Element e of a cache row (or of one head's part of it). */
__device__ __forceinline__ float kv_get(uint32_t type, const uint8_t *row, int e) {
    switch (type) {
    case AI_F32: return ((const float *)row)[e];
    case AI_F16: return h2f(((const uint16_t *)row)[e]);
    case AI_Q8_0: {
        const uint8_t *b = row + (e >> 5) * sizeof(blk_q8_0);
        return h2f(*(const uint16_t *)b) * (float)((const int8_t *)(b + 2))[e & 31];
    }
    default: { /* Q4_0 */
        const uint8_t *b = row + (e >> 5) * sizeof(blk_q4_0);
        const int j = e & 31;
        const uint8_t q = b[2 + (j & 15)];
        return h2f(*(const uint16_t *)b) * (float)(((j < 16) ? (q & 0xF) : (q >> 4)) - 8);
    }
    }
}

/* The warp stores one head's vector (hd elements, element i * 32 + lane in
 * lane's v[i]) into a cache row in the cache's type, as the CPU's
 * reference quantizers do, and replaces v by what the cache now holds (so
 * the current position attends to the same values later steps read). */
__device__ __forceinline__ void kv_put_warp(uint32_t type, uint8_t *row, float *v, int per, bool write) {
    const int lane = threadIdx.x & 31;
    for (int i = 0; i < per; i++) {
        const float x = v[i];
        const int e = i * 32 + lane;
        if (type == AI_F32) {
            if (write) ((float *)row)[e] = x;
        } else if (type == AI_F16) {
            const __half h = __float2half_rn(x);
            if (write) ((__half *)row)[e] = h;
            v[i] = __half2float(h);
        } else if (type == AI_Q8_0) {
            const float amax = warp_max(fabsf(x));
            const float dd = amax / 127.0f, id = dd != 0.0f ? 1.0f / dd : 0.0f;
            const int q = (int)roundf(x * id);
            const __half dh = __float2half_rn(dd);
            uint8_t *b = row + i * sizeof(blk_q8_0);
            if (write) {
                ((int8_t *)(b + 2))[lane] = (int8_t)q;
                if (lane == 0) *(__half *)b = dh;
            }
            v[i] = __half2float(dh) * (float)q;
        } else { /* Q4_0: d from the value of largest magnitude, d = max / -8 */
            /* the value of largest magnitude, the first one on a tie, as
             * the CPU's scan finds it */
            float amax = fabsf(x), mx = x;
            int ix = lane;
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                const float oa = __shfl_xor_sync(0xffffffffu, amax, o), om = __shfl_xor_sync(0xffffffffu, mx, o);
                const int oi = __shfl_xor_sync(0xffffffffu, ix, o);
                if (oa > amax || (oa == amax && oi < ix)) {
                    amax = oa;
                    mx = om;
                    ix = oi;
                }
            }
            const float dd = mx / -8.0f, id = dd != 0.0f ? 1.0f / dd : 0.0f;
            int q = (int)(x * id + 8.5f);
            q = q < 0 ? 0 : q > 15 ? 15 : q;
            const int hi = __shfl_down_sync(0xffffffffu, q, 16);
            const __half dh = __float2half_rn(dd);
            uint8_t *b = row + i * sizeof(blk_q4_0);
            if (write) {
                if (lane < 16) b[2 + lane] = (uint8_t)(q | hi << 4);
                if (lane == 0) *(__half *)b = dh;
            }
            v[i] = __half2float(dh) * (float)(q - 8);
        }
    }
}

/* ---- stages ------------------------------------------------------------ */

#define AI_MAX_HD_PER_LANE 8 /* head size up to 256 */
#define AI_ATT_UNROLL 4      /* positions a warp has in flight in attention */

/* Shared memory a block needs: the largest vector a stage stages, plus the
 * attention's per-warp partials and a reduction scratch. */
__host__ __device__ inline size_t stage_smem_bytes(int d, int dq, int n_ff, int hd, int threads) {
    int m = d > dq ? d : dq;
    if (n_ff > m) m = n_ff;
    const int att = 3 * hd + (threads / 32) * (hd + 2);
    if (att > m) m = att;
    return (size_t)(m + 32) * sizeof(float);
}

__device__ __forceinline__ float *smem_red(float *smem, const DNet &n) {
    /* the reduction scratch after the largest vector */
    int m = n.d > n.n_head * n.hd ? n.d : n.n_head * n.hd;
    if (n.n_ff > m) m = n.n_ff;
    const int att = 3 * n.hd + (int)(blockDim.x / 32) * (n.hd + 2);
    if (att > m) m = att;
    return smem + m;
}

/* x = embedding row of *token; resets the argmax. */
static __device__ void stage_embed(const DNet &n, int unit, int n_units) {
    if (unit == 0 && threadIdx.x == 0) *n.best = 0ull;
    const int tok = *n.token;
    const uint8_t *row = n.embd.w + (size_t)tok * n.embd.row_bytes;
    float *x = n.x;
    auto one = [&]<int T>() {
        for (int c = unit * blockDim.x + threadIdx.x; c < n.embd.cols / Fmt<T>::CHUNK; c += n_units * blockDim.x)
            chunk_store<T>(row, c, x);
    };
    ai_cuda_dispatch(n.embd.type, one);
}

static __device__ void stage_qkv(const DNet &n, int l, int unit, int n_units, float *smem) {
    const DLayer &L = n.layers[l];
    rmsnorm_to_shared(n.x, L.attn_norm, n.d, n.eps, smem, smem_red(smem, n));
    const int wpb = blockDim.x >> 5, dq = L.wq.rows, dkv = L.wk.rows;
    for (int r = gwarp(unit, wpb); r < dq + 2 * dkv; r += n_units * wpb) {
        const DMat &m = r < dq ? L.wq : r < dq + dkv ? L.wk : L.wv;
        const int rr = r < dq ? r : r < dq + dkv ? r - dq : r - dq - dkv;
        const float *bias = r < dq ? L.bq : r < dq + dkv ? L.bk : L.bv;
        float *out = r < dq ? n.q : r < dq + dkv ? n.k : n.v;
        const float y = row_dot(m, rr, smem);
        if ((threadIdx.x & 31) == 0) out[rr] = y + (bias ? bias[rr] : 0.0f);
    }
}

/* Attention of one query head (qs in shared memory, unscaled) at position
 * pos over KV head g's cached positions first..pos, into out[hd]. With ks
 * and vs, position pos is read from them instead of the cache. Each warp
 * takes every nw-th position and keeps a running max, sum and weighted V
 * (online softmax); the warps' partials are merged through part. */
static __device__ void attend(const DNet &n, const DLayer &L, int g, int pos, const float *qs, const float *ks,
                       const float *vs, float *part, float *out) {
    const int hd = n.hd, per = hd / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int first = n.rotating && pos >= n.window ? pos - n.window + 1 : 0;
    float qv[AI_MAX_HD_PER_LANE], acc[AI_MAX_HD_PER_LANE];
#pragma unroll
    for (int i = 0; i < AI_MAX_HD_PER_LANE; i++) {
        qv[i] = i < per ? qs[i * 32 + lane] * n.att_scale : 0.0f;
        acc[i] = 0.0f;
    }
    float mx = -INFINITY, sum = 0.0f;
    /* AI_ATT_UNROLL of the warp's positions at a time: their K and V rows
     * are all requested before the first is used (the positions are
     * independent; only the softmax update is a chain), in the same order
     * as one by one */
    for (int p0 = first + warp; p0 <= pos; p0 += AI_ATT_UNROLL * nw) {
        float kx[AI_ATT_UNROLL][AI_MAX_HD_PER_LANE], vx[AI_ATT_UNROLL][AI_MAX_HD_PER_LANE];
#pragma unroll
        for (int u = 0; u < AI_ATT_UNROLL; u++) {
            const int p = p0 + u * nw;
            if (p > pos) break;
            const size_t off = (size_t)(p % n.n_slots) * n.kv_row_bytes + (size_t)g * n.kv_head_bytes;
            const bool cur = ks && p == pos;
#pragma unroll
            for (int i = 0; i < AI_MAX_HD_PER_LANE; i++)
                if (i < per) {
                    kx[u][i] = cur ? ks[i * 32 + lane] : kv_get(n.kv_type, L.kc + off, i * 32 + lane);
                    vx[u][i] = cur ? vs[i * 32 + lane] : kv_get(n.kv_type, L.vc + off, i * 32 + lane);
                }
        }
#pragma unroll
        for (int u = 0; u < AI_ATT_UNROLL; u++) {
            if (p0 + u * nw > pos) break;
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < AI_MAX_HD_PER_LANE; i++)
                if (i < per) s += qv[i] * kx[u][i];
            s = warp_sum(s);
            const float m2 = fmaxf(mx, s), corr = __expf(mx - m2), e = __expf(s - m2);
            sum = sum * corr + e;
#pragma unroll
            for (int i = 0; i < AI_MAX_HD_PER_LANE; i++)
                if (i < per) acc[i] = acc[i] * corr + e * vx[u][i];
            mx = m2;
        }
    }
    /* merge the warps: part[w] = (max, sum, acc[hd]) */
    float *pw = part + warp * (hd + 2);
    if (lane == 0) {
        pw[0] = mx;
        pw[1] = sum;
    }
    for (int i = 0; i < per; i++) pw[2 + i * 32 + lane] = acc[i];
    __syncthreads();
    float gmax = -INFINITY;
    for (int w = 0; w < nw; w++) gmax = fmaxf(gmax, part[w * (hd + 2)]);
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float num = 0.0f, den = 0.0f;
        for (int w = 0; w < nw; w++) {
            const float *pp = part + w * (hd + 2);
            if (pp[1] == 0.0f) continue; /* a warp that saw no position */
            const float f = __expf(pp[0] - gmax);
            num += f * pp[2 + i];
            den += f * pp[1];
        }
        out[i] = num / den;
    }
    __syncthreads();
}

/* RoPE angle pair i (of n_rot/2) at pos: the two elements it rotates. */
__device__ __forceinline__ void rope_pair(const DNet &n, int i, int pos, int *a, int *b, float *c, float *s) {
    const int half = n.n_rot / 2;
    *a = n.neox ? i : 2 * i;
    *b = n.neox ? i + half : 2 * i + 1;
    double sd, cd; /* in double, as the CPU: float angles drift at long positions */
    sincos((double)pos * n.inv_freq[i], &sd, &cd);
    *s = (float)sd;
    *c = (float)cd;
}

/* One query head per unit: RoPE of q and of its KV head's new k, the new
 * k and v into the cache, attention. */
static __device__ void stage_attn(const DNet &n, int l, int unit, int n_units, float *smem) {
    const DLayer &L = n.layers[l];
    const int hd = n.hd, group = n.n_head / n.n_kv, per = hd / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int pos = *n.pos;
    float *qs = smem, *ks = smem + hd, *vs = smem + 2 * hd, *part = smem + 3 * hd;
    for (int h = unit; h < n.n_head; h += n_units) {
        const int g = h / group;
        for (int i = threadIdx.x; i < hd; i += blockDim.x) {
            qs[i] = n.q[h * hd + i];
            ks[i] = n.k[g * hd + i];
            vs[i] = n.v[g * hd + i];
        }
        __syncthreads();
        /* rope of q and k; the group's first head stores k and v */
        for (int i = threadIdx.x; i < n.n_rot / 2; i += blockDim.x) {
            int a, b;
            float c, s;
            rope_pair(n, i, pos, &a, &b, &c, &s);
            float x0 = qs[a], x1 = qs[b];
            qs[a] = x0 * c - x1 * s;
            qs[b] = x0 * s + x1 * c;
            x0 = ks[a];
            x1 = ks[b];
            ks[a] = x0 * c - x1 * s;
            ks[b] = x0 * s + x1 * c;
        }
        __syncthreads();
        const int slot = pos % n.n_slots;
        if (warp == 0) {
            float kv[AI_MAX_HD_PER_LANE], vv[AI_MAX_HD_PER_LANE];
            for (int i = 0; i < per; i++) {
                kv[i] = ks[i * 32 + lane];
                vv[i] = vs[i * 32 + lane];
            }
            const bool write = h % group == 0;
            const size_t off = (size_t)slot * n.kv_row_bytes + (size_t)g * n.kv_head_bytes;
            kv_put_warp(n.kv_type, L.kc + off, kv, per, write);
            kv_put_warp(n.kv_type, L.vc + off, vv, per, write);
            __syncwarp();
            for (int i = 0; i < per; i++) {
                ks[i * 32 + lane] = kv[i];
                vs[i * 32 + lane] = vv[i];
            }
        }
        __syncthreads();
        attend(n, L, g, pos, qs, ks, vs, part, n.att + h * hd);
    }
}

/* y[r] += m[r] . xs over the grid's warps (the residual stream). */
__device__ __forceinline__ void matvec_add(const DMat &m, const float *xs, float *y, int unit, int n_units) {
    const int wpb = blockDim.x >> 5;
    for (int r = gwarp(unit, wpb); r < m.rows; r += n_units * wpb) {
        const float v = row_dot(m, r, xs);
        if ((threadIdx.x & 31) == 0) y[r] += v;
    }
}

static __device__ void stage_wo(const DNet &n, int l, int unit, int n_units, float *smem) {
    const DLayer &L = n.layers[l];
    load_to_shared(n.att, L.wo.cols, smem);
    matvec_add(L.wo, smem, n.x, unit, n_units);
}

static __device__ void stage_ffn(const DNet &n, int l, int unit, int n_units, float *smem) {
    const DLayer &L = n.layers[l];
    rmsnorm_to_shared(n.x, L.ffn_norm, n.d, n.eps, smem, smem_red(smem, n));
    const int wpb = blockDim.x >> 5;
    for (int r = gwarp(unit, wpb); r < n.n_ff; r += n_units * wpb) {
        const float g = row_dot(L.gate, r, smem), u = row_dot(L.up, r, smem);
        if ((threadIdx.x & 31) == 0) n.hb[r] = g / (1.0f + __expf(-g)) * u;
    }
}

static __device__ void stage_down(const DNet &n, int l, int unit, int n_units, float *smem) {
    const DLayer &L = n.layers[l];
    load_to_shared(n.hb, n.n_ff, smem);
    matvec_add(L.down, smem, n.x, unit, n_units);
}

/* Orders floats as unsigned integers (larger float, larger integer). */
__device__ __forceinline__ uint32_t float_order(float f) {
    const uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* logits = out . rmsnorm(x); with argmax, the best (logit, lowest id) into
 * *best. */
static __device__ void stage_head(const DNet &n, bool argmax, int unit, int n_units, float *smem) {
    rmsnorm_to_shared(n.x, n.out_norm, n.d, n.eps, smem, smem_red(smem, n));
    const int wpb = blockDim.x >> 5;
    unsigned long long best = 0ull;
    for (int r = gwarp(unit, wpb); r < n.n_vocab; r += n_units * wpb) {
        const float v = row_dot(n.out, r, smem);
        if ((threadIdx.x & 31) == 0) {
            n.logits[r] = v;
            const unsigned long long key = (unsigned long long)float_order(v) << 32 | (0xFFFFFFFFu - (uint32_t)r);
            best = key > best ? key : best;
        }
    }
    if (argmax && (threadIdx.x & 31) == 0 && best) atomicMax(n.best, best);
}

/* Before a grid-wide wait: the weights of the stage after it (0 qkv of
 * layer l, 1 attn, 2 wo, 3 ffn, 4 down; layer n_layer: the head). */
__device__ __forceinline__ void prefetch_stage(const DNet &n, int l, int stage, int unit, int n_units) {
    if (!n.prefetch) return;
    if (l == n.n_layer) {
        prefetch_rows(n.out, unit, n_units);
        return;
    }
    const DLayer &L = n.layers[l];
    switch (stage) {
    case 0: prefetch_qkv(L.wq, L.wk, L.wv, unit, n_units); break;
    case 2: prefetch_rows(L.wo, unit, n_units); break;
    case 3:
        prefetch_rows(L.gate, unit, n_units);
        prefetch_rows(L.up, unit, n_units);
        break;
    case 4: prefetch_rows(L.down, unit, n_units); break;
    default: break;
    }
}

/* ---- sampling ---------------------------------------------------------------- */

#define AI_SAMPLE_THREADS 1024
#define AI_SAMPLE_CAND 2048 /* candidates the filters may leave; more: the host samples */

__device__ __forceinline__ float block_max(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : -INFINITY;
    return warp_max(v);
}

/* A candidate before another: larger weight, then lower id. */
__device__ __forceinline__ bool cand_before(float wa, int ia, float wb, int ib) {
    return wa > wb || (wa == wb && ia < ib);
}

/* The token that engine/sampler.c's ai_sampler_sample_u picks from these
 * logits with draw u (temperature > 0, no penalty), by one block of
 * AI_SAMPLE_THREADS threads; -1 when the filters leave more than
 * AI_SAMPLE_CAND candidates (the caller then samples on the host). w: V
 * floats of scratch. Weights are exp((l - max) / T); with no filter the draw
 * walks the cumulative weights in id order; with filters the candidates
 * above the sampler's cut are sorted best first and walked as the host does. */
static __device__ int sample_block(const float *logits, int V, float inv_temp, int top_k, float top_p, float min_p,
                            double u, float *w) {
    __shared__ float red[32];
    __shared__ float cw[AI_SAMPLE_CAND];
    __shared__ int ci[AI_SAMPLE_CAND];
    __shared__ int n_cand, picked;
    __shared__ double seg_sum[AI_SAMPLE_THREADS];
    const int tid = threadIdx.x, nt = blockDim.x;
    float mx = -INFINITY;
    for (int i = tid; i < V; i += nt) mx = fmaxf(mx, logits[i]);
    mx = block_max(mx, red);
    /* weights, and their sum per contiguous segment (for the walk) */
    const int seg = (V + nt - 1) / nt, s0 = tid * seg, s1 = s0 + seg < V ? s0 + seg : V;
    double zs = 0;
    for (int i = s0; i < s1; i++) {
        const float x = expf(logits[i] * inv_temp - mx * inv_temp);
        w[i] = x;
        zs += x;
    }
    seg_sum[tid] = zs;
    if (tid == 0) picked = -1;
    __syncthreads();
    /* z over the segments in order: thread 0, as a sequential sum */
    __shared__ double z_all;
    if (tid == 0) {
        double z = 0;
        for (int t = 0; t < nt; t++) z += seg_sum[t];
        z_all = z;
    }
    __syncthreads();
    if (top_k <= 0 && min_p <= 0.0f && top_p >= 1.0f) {
        /* plain temperature sampling: the segment where u * z falls, then
         * the element in it */
        __shared__ int walk_seg;
        __shared__ double walk_left;
        if (tid == 0) {
            double r = u * z_all;
            int t = 0;
            while (t < nt - 1 && r > seg_sum[t]) r -= seg_sum[t++];
            walk_seg = t;
            walk_left = r; /* what is left to walk in segment t */
        }
        __syncthreads();
        if (tid == walk_seg) {
            double r = walk_left;
            int pick = V - 1;
            for (int i = s0; i < s1; i++) {
                r -= w[i];
                if (r <= 0) {
                    pick = i;
                    break;
                }
            }
            picked = pick;
        }
        __syncthreads();
        return picked;
    }
    /* the cut: with top-k, the largest weight that keeps at least k
     * candidates (bisection); else the host's bound below which neither
     * top-p nor min-p can reach */
    float cut = 0.0f;
    if (top_k > 0) {
        float lo = 0.0f, hi = 1.0f;
        for (int it = 0; it < 30; it++) {
            const float mid = 0.5f * (lo + hi);
            float cnt = 0;
            for (int i = tid; i < V; i += nt) cnt += w[i] >= mid ? 1.0f : 0.0f;
            cnt = block_sum(cnt, red);
            if (cnt >= (float)top_k) lo = mid;
            else hi = mid;
        }
        cut = lo;
    } else {
        if (top_p < 1.0f) cut = (float)((1.0 - top_p) * z_all / (2.0 * V));
        if (min_p > cut) cut = min_p;
    }
    if (tid == 0) n_cand = 0;
    __syncthreads();
    for (int i = tid; i < V; i += nt)
        if (w[i] >= cut) {
            const int slot = atomicAdd(&n_cand, 1);
            if (slot < AI_SAMPLE_CAND) {
                cw[slot] = w[i];
                ci[slot] = i;
            }
        }
    __syncthreads();
    const int nc = n_cand;
    if (nc > AI_SAMPLE_CAND) return -1;
    for (int i = nc + tid; i < AI_SAMPLE_CAND; i += nt) {
        cw[i] = -1.0f;
        ci[i] = 0x7fffffff;
    }
    __syncthreads();
    /* bitonic sort, best first */
    for (int k = 2; k <= AI_SAMPLE_CAND; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = tid; i < AI_SAMPLE_CAND; i += nt) {
                const int p = i ^ j;
                if (p > i) {
                    const bool up = (i & k) == 0;
                    const bool swap = up ? cand_before(cw[p], ci[p], cw[i], ci[i]) : cand_before(cw[i], ci[i], cw[p], ci[p]);
                    if (swap) {
                        const float tw = cw[i];
                        const int ti = ci[i];
                        cw[i] = cw[p];
                        ci[i] = ci[p];
                        cw[p] = tw;
                        ci[p] = ti;
                    }
                }
            }
            __syncthreads();
        }
    if (tid == 0) { /* the host's walk */
        const int limit = top_k > 0 && top_k < nc ? top_k : nc;
        double z = z_all;
        if (limit < V) {
            z = 0;
            for (int i = 0; i < limit; i++) z += cw[i];
        }
        int keep = 0;
        double cum = 0, total = 0;
        while (keep < limit) {
            const double p = cw[keep] / z;
            if (keep > 0 && min_p > 0.0f && p < min_p * (cw[0] / z)) break;
            total += cw[keep];
            keep++;
            cum += p;
            if (top_p < 1.0f && cum >= top_p) break;
        }
        double r = u * total;
        int pick = ci[keep - 1];
        for (int i = 0; i < keep; i++) {
            r -= cw[i];
            if (r <= 0) {
                pick = ci[i];
                break;
            }
        }
        picked = pick;
    }
    __syncthreads();
    return picked;
}

/* After the head: the drawn token becomes the next step's, or -1 when the
 * host must sample (token and position then stay). */
__device__ __forceinline__ void sample_step(const DNet &n) {
    const int t = sample_block(n.logits, n.n_vocab, n.inv_temp, n.top_k, n.top_p, n.min_p, *n.draw, n.weights);
    if (threadIdx.x == 0) {
        *n.next = t;
        if (t >= 0) {
            *n.token = t;
            *n.pos += 1;
        }
    }
}

/* After the head: the argmax becomes the next step's token. */
__device__ __forceinline__ void finish_greedy(const DNet &n) {
    const int next = (int)(0xFFFFFFFFu - (uint32_t)(*n.best & 0xFFFFFFFFu));
    *n.next = next;
    *n.token = next;
    *n.pos += 1;
}

#endif
