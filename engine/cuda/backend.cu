/* backend.cu — the CUDA backend: the weights uploaded as they are in the
 * file, the KV cache and activations in device memory, a decode step
 * launched as one CUDA graph (or kernel by kernel, or as one persistent
 * kernel: knob cuda_launch), prompt chunks through cuBLAS (prefill.cuh).
 *
 * Nothing is allocated per token: every buffer is made when the pipeline
 * opens, except the pinned host buffer for all-token logits, made on the
 * first ai_score (as the CPU backend does).
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <mutex>
#include <type_traits>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <vector>

extern "C" {
#include "backend.h"
}

#include "prefill.cuh"

/* ---- errors ------------------------------------------------------------- */

#define CK(call)                                                                                  \
    do {                                                                                          \
        cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess)                                                                    \
            return ai_error_set(err, "CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__, #call,   \
                                cudaGetErrorString(e_));                                          \
    } while (0)

#define CKB(call)                                                                                 \
    do {                                                                                          \
        cublasStatus_t s_ = (call);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                          \
            return ai_error_set(err, "cuBLAS error at %s:%d: %s (status %d)", __FILE__, __LINE__, \
                                #call, (int)s_);                                                  \
    } while (0)

/* ---- cuBLAS, opened on first use ------------------------------------------ */

/* The backend opens cuBLAS with dlopen when the first CUDA pipeline opens
 * instead of linking it: loading libcublasLt costs a process ~200 MB of
 * resident memory (its relocations and static initialisers), which every
 * CPU-only run of a CUDA-enabled build would otherwise pay. */
struct Blas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                              const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t); /* the C (32-bit) one */
};
static Blas blas_fn;

static int blas_open(ai_error *err) {
    static std::mutex lock;
    static int state; /* 0 not tried, 1 open, -1 failed (why in `failed`) */
    static char failed[400];
    std::lock_guard<std::mutex> hold(lock);
    if (state == 0) {
        char soname[32], path[sizeof AI_CUBLAS_DIR + 40];
        snprintf(soname, sizeof soname, "libcublas.so.%d", CUBLAS_VER_MAJOR);
        snprintf(path, sizeof path, "%s/%s", AI_CUBLAS_DIR, soname);
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(failed, sizeof failed, "backend = cuda: cuBLAS cannot be loaded (%s, nor %s): %s", soname, path,
                     dlerror());
            state = -1;
        } else {
            const char *missing = NULL;
            auto sym = [&](auto &fn, const char *name) {
                fn = (std::remove_reference_t<decltype(fn)>)dlsym(h, name);
                if (!fn && !missing) missing = name;
            };
            sym(blas_fn.create, "cublasCreate_v2");
            sym(blas_fn.destroy, "cublasDestroy_v2");
            sym(blas_fn.set_stream, "cublasSetStream_v2");
            sym(blas_fn.set_math_mode, "cublasSetMathMode");
            sym(blas_fn.gemm_ex, "cublasGemmEx");
            if (missing) {
                snprintf(failed, sizeof failed, "backend = cuda: %s lacks %s", soname, missing);
                state = -1;
            } else {
                state = 1;
            }
        }
    }
    return state > 0 ? 0 : ai_error_set(err, "%s", failed);
}

/* After a launch: a bad configuration shows here, a fault at the next sync. */
#define CKL() CK(cudaGetLastError())

/* ---- the persistent kernel's grid barrier -------------------------------- */

__device__ __forceinline__ unsigned ld_acquire(const unsigned *p) {
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

/* Every block arrives once per barrier; the k-th barrier of a launch waits
 * until k * gridDim.x arrivals (the counter is zeroed before each launch).
 * All blocks are resident (cooperative launch), so the spin ends. */
__device__ __forceinline__ void grid_sync(unsigned *count, unsigned *target) {
    __syncthreads();
    if (threadIdx.x == 0) {
        *target += gridDim.x;
        __threadfence();
        atomicAdd(count, 1u);
        while (ld_acquire(count) < *target) {
        }
        __threadfence();
    }
    __syncthreads();
}

/* ---- kernels: one per stage, and the persistent one ------------------------ */

__global__ void k_set(DNet n, int token, int pos) {
    *n.token = token;
    *n.pos = pos;
}

/* Each stage kernel lets the next one launch, fetches its weights into L2
 * while the previous kernel may still run (with cuda_pdl; else the two
 * pdl_ calls do nothing), then waits for it and runs its stage. */
__global__ void k_embed(DNet n) {
    pdl_launch_next();
    pdl_wait_previous();
    stage_embed(n, blockIdx.x, gridDim.x);
}

#define STAGE_KERNEL(name, stage_fn, stage_no)                       \
    __global__ void name(DNet n, int l) {                            \
        extern __shared__ float smem[];                              \
        pdl_launch_next();                                           \
        prefetch_stage(n, l, stage_no, blockIdx.x, gridDim.x);       \
        pdl_wait_previous();                                         \
        stage_fn(n, l, blockIdx.x, gridDim.x, smem);                 \
    }
STAGE_KERNEL(k_qkv, stage_qkv, 0)
STAGE_KERNEL(k_attn, stage_attn, 1)
STAGE_KERNEL(k_wo, stage_wo, 2)
STAGE_KERNEL(k_ffn, stage_ffn, 3)
STAGE_KERNEL(k_down, stage_down, 4)
#undef STAGE_KERNEL

__global__ void k_head(DNet n, int argmax) {
    extern __shared__ float smem[];
    pdl_launch_next();
    prefetch_stage(n, n.n_layer, 0, blockIdx.x, gridDim.x);
    pdl_wait_previous();
    stage_head(n, argmax != 0, blockIdx.x, gridDim.x, smem);
}

__global__ void k_finish(DNet n) {
    pdl_wait_previous();
    finish_greedy(n);
}

__global__ void __launch_bounds__(AI_SAMPLE_THREADS) k_sample(DNet n) {
    pdl_wait_previous();
    sample_step(n);
}

/* The whole step in one launch, grid barriers between the stages. */
__global__ void k_persistent(DNet n, int argmax) {
    extern __shared__ float smem[];
    __shared__ unsigned target;
    if (threadIdx.x == 0) target = 0;
    const int u = blockIdx.x, nu = gridDim.x;
    stage_embed(n, u, nu);
    prefetch_stage(n, 0, 0, u, nu);
    grid_sync(n.barrier, &target);
    for (int l = 0; l < n.n_layer; l++) { /* before each wait, the next stage's weights into L2 */
        stage_qkv(n, l, u, nu, smem);
        grid_sync(n.barrier, &target);
        stage_attn(n, l, u, nu, smem);
        prefetch_stage(n, l, 2, u, nu);
        grid_sync(n.barrier, &target);
        stage_wo(n, l, u, nu, smem);
        prefetch_stage(n, l, 3, u, nu);
        grid_sync(n.barrier, &target);
        stage_ffn(n, l, u, nu, smem);
        prefetch_stage(n, l, 4, u, nu);
        grid_sync(n.barrier, &target);
        stage_down(n, l, u, nu, smem);
        prefetch_stage(n, l + 1, 0, u, nu);
        grid_sync(n.barrier, &target);
    }
    stage_head(n, argmax != 0, u, nu, smem);
    if (argmax) {
        grid_sync(n.barrier, &target);
        if (u == 0 && threadIdx.x == 0) finish_greedy(n);
    }
}

/* ---- the backend ------------------------------------------------------- */

/* Stages of a decode step, for the profile. */
enum { PROF_EMBED, PROF_QKV, PROF_ATTN, PROF_WO, PROF_FFN, PROF_DOWN, PROF_HEAD, PROF_STAGES };
static const char *const PROF_NAMES[PROF_STAGES] = {"embed", "qkv", "attn", "wo", "ffn", "down", "head"};

struct CudaBackend {
    ai_backend b;
    const ai_model *m;
    ai_settings s;
    int sms;
    cudaStream_t stream;
    cublasHandle_t blas;
    std::vector<void *> allocs; /* every cudaMalloc, freed together */
    uint64_t bytes;             /* their total */
    DNet net;
    std::vector<DLayer> layers; /* host copy of net.layers (for the batched pass's launches) */
    size_t smem;                /* dynamic shared memory of the stage kernels */
    int threads;
    /* decode step grids (stream / graph launch) */
    int g_embed, g_qkv, g_wo, g_ffn, g_down, g_head, g_persistent;
    cudaGraphExec_t graph[3];   /* [step kind]: captured on first use */
    double *h_draw;             /* pinned: the sampler's draw, read by the graph */
    /* host shadows of the device's token/pos after the last step */
    int dev_token, dev_pos;
    int *h_next;                /* pinned */
    /* prefill buffers (NULL when max_batch < cuda_gemm_min_tokens) */
    int *d_tokens, *h_tokens;   /* [max_batch] */
    float *xb, *qb, *kb, *vb, *gb, *ub, *head_out;
    __half *xh, *ah, *hh, *wh;
    size_t wh_elems;            /* f16 scratch for one dequantized matrix (or row chunk) */
    float *h_logits_all;        /* pinned, on first use */
    /* AI_CUDA_PROFILE=1: events between the decode step's kernels, summed by
     * stage and printed when the backend is freed */
    bool prof;
    std::vector<cudaEvent_t> ev;
    std::vector<int> ev_stage;  /* the stage each event closes */
    double prof_us[PROF_STAGES];
    long prof_steps;
};

static int dev_alloc(CudaBackend *c, void **p, size_t bytes, ai_error *err) {
    *p = NULL;
    if (!bytes) return 0;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess)
        return ai_error_set(err, "CUDA: out of device memory allocating %zu bytes (%s); %llu already held",
                            bytes, cudaGetErrorString(e), (unsigned long long)c->bytes);
    c->allocs.push_back(*p);
    c->bytes += bytes;
    return 0;
}

/* Copies a host weight into device memory at *cursor. */
static DMat upload_mat(const ai_weight *w, uint8_t *base, size_t *cursor) {
    DMat d;
    size_t bytes = w->row_bytes * (size_t)w->rows;
    d.w = base + *cursor;
    d.type = w->type;
    d.rows = (int)w->rows;
    d.cols = (int)w->cols;
    d.row_bytes = (uint32_t)w->row_bytes;
    *cursor += (bytes + 255) & ~(size_t)255;
    return d;
}

static size_t aligned_size(const ai_weight *w) {
    return w->data ? ((w->row_bytes * (size_t)w->rows + 255) & ~(size_t)255) : 0;
}

static bool gpu_type_ok(uint32_t t) {
    bool ok = false;
    ai_cuda_dispatch(t, [&]<int T>() { ok = Fmt<T>::CHUNK > 0; });
    return ok;
}

/* Every weight, in file order of use, into one device buffer. */
static int upload_weights(CudaBackend *c, std::vector<DLayer> &layers, ai_error *err) {
    const ai_model *m = c->m;
    const ai_hparams *hp = &m->hp;
    size_t total = aligned_size(&m->tok_embd) + aligned_size(&m->output_norm);
    bool tied = m->output.data == m->tok_embd.data;
    if (!tied) total += aligned_size(&m->output);
    for (int l = 0; l < hp->n_layer; l++) {
        const ai_layer *L = &m->layers[l];
        const ai_weight *ws[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk,
                                 &L->bv, &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
        for (const ai_weight *w : ws) {
            if (w->data && !gpu_type_ok(w->type))
                return ai_error_set(err, "backend = cuda: a weight has type %s, which the CUDA kernels do not read",
                                    ai_dtype_get(w->type)->name);
            if (w->data && w->cols % 32) /* the loaders take whole 8-element chunks, float4-aligned rows */
                return ai_error_set(err, "backend = cuda: a weight has rows of %lld elements, not a multiple of 32",
                                    (long long)w->cols);
            total += aligned_size(w);
        }
    }
    total += (size_t)(hp->n_rot / 2) * sizeof(double);
    uint8_t *base;
    if (dev_alloc(c, (void **)&base, total, err)) return -1;
    size_t cur = 0;
    std::vector<std::pair<DMat, const void *>> copies; /* made once all offsets are known */
    auto add = [&](const ai_weight *w) -> DMat {
        DMat d = upload_mat(w, base, &cur);
        copies.push_back({d, w->data});
        return d;
    };
    c->net.embd = add(&m->tok_embd);
    c->net.out = tied ? c->net.embd : add(&m->output);
    c->net.out_norm = (const float *)add(&m->output_norm).w;
    layers.resize(hp->n_layer);
    for (int l = 0; l < hp->n_layer; l++) {
        const ai_layer *L = &m->layers[l];
        DLayer &D = layers[l];
        D.attn_norm = (const float *)add(&L->attn_norm).w;
        D.wq = add(&L->wq);
        D.wk = add(&L->wk);
        D.wv = add(&L->wv);
        D.wo = add(&L->wo);
        D.bq = L->bq.data ? (const float *)add(&L->bq).w : NULL;
        D.bk = L->bk.data ? (const float *)add(&L->bk).w : NULL;
        D.bv = L->bv.data ? (const float *)add(&L->bv).w : NULL;
        D.ffn_norm = (const float *)add(&L->ffn_norm).w;
        D.gate = add(&L->w_gate);
        D.up = add(&L->w_up);
        D.down = add(&L->w_down);
    }
    for (auto &cp : copies)
        CK(cudaMemcpy((void *)cp.first.w, cp.second, (size_t)cp.first.rows * cp.first.row_bytes,
                      cudaMemcpyHostToDevice));
    std::vector<double> inv(hp->n_rot / 2);
    ai_rope_inv_freq(m, false, inv.data());
    c->net.inv_freq = (const double *)(base + cur);
    CK(cudaMemcpy((void *)c->net.inv_freq, inv.data(), inv.size() * sizeof(double), cudaMemcpyHostToDevice));
    return 0;
}

static int alloc_kv(CudaBackend *c, std::vector<DLayer> &layers, ai_error *err) {
    const ai_hparams *hp = &c->m->hp;
    const ai_settings *s = &c->s;
    DNet &n = c->net;
    n.kv_type = s->kv_type;
    const ai_kv_layout kl = ai_settings_kv_layout(s);
    n.rotating = kl.rotating;
    n.window = kl.window;
    n.n_slots = kl.n_slots;
    n.kv_head_bytes = (uint32_t)ai_row_bytes(s->kv_type, hp->head_dim);
    n.kv_row_bytes = n.kv_head_bytes * hp->n_head_kv;
    size_t per = (size_t)n.kv_row_bytes * n.n_slots;
    uint8_t *kv;
    if (dev_alloc(c, (void **)&kv, 2 * per * hp->n_layer, err)) return -1;
    for (int l = 0; l < hp->n_layer; l++) {
        layers[l].kc = kv + (2 * l) * per;
        layers[l].vc = kv + (2 * l + 1) * per;
    }
    return 0;
}

static int alloc_activations(CudaBackend *c, ai_error *err) {
    const ai_hparams *hp = &c->m->hp;
    DNet &n = c->net;
    const int dq = hp->n_head * hp->head_dim, dkv = hp->n_head_kv * hp->head_dim;
    if (dev_alloc(c, (void **)&n.x, hp->n_embd * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.q, dq * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.k, dkv * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.v, dkv * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.att, dq * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.hb, hp->n_ff * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.logits, (size_t)hp->n_vocab * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.token, 4 * sizeof(int), err) ||
        dev_alloc(c, (void **)&n.best, sizeof(unsigned long long), err) ||
        dev_alloc(c, (void **)&n.barrier, sizeof(unsigned), err))
        return -1;
    n.pos = n.token + 1;
    n.next = n.token + 2;
    CK(cudaMemset(n.token, 0, 4 * sizeof(int)));
    CK(cudaMallocHost((void **)&c->h_next, sizeof(int)));
    CK(cudaMallocHost((void **)&c->h_draw, sizeof(double)));
    if (dev_alloc(c, (void **)&n.weights, (size_t)hp->n_vocab * sizeof(float), err) ||
        dev_alloc(c, (void **)&n.draw, sizeof(double), err))
        return -1;
    CK(cudaMallocHost((void **)&c->b.logits, (size_t)hp->n_vocab * sizeof(float)));
    c->dev_token = c->dev_pos = 0;

    /* prefill: batches of at least cuda_gemm_min_tokens go through cuBLAS */
    const int B = c->b.max_batch;
    if (B < c->s.cuda_gemm_min_tokens) return 0;
    const size_t d = hp->n_embd, ff = hp->n_ff;
    size_t big = 0; /* the largest product matrix: the f16 scratch */
    for (int l = 0; l < hp->n_layer; l++) {
        const ai_layer *L = &c->m->layers[l];
        const ai_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (const ai_weight *w : ws)
            if ((size_t)(w->rows * w->cols) > big) big = (size_t)(w->rows * w->cols);
    }
    c->wh_elems = big;
    const size_t head_rows = big / d; /* output head rows per chunk of the scratch */
    if (dev_alloc(c, (void **)&c->d_tokens, B * sizeof(int), err) ||
        dev_alloc(c, (void **)&c->xb, B * d * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->qb, B * (size_t)dq * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->kb, B * (size_t)dkv * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->vb, B * (size_t)dkv * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->gb, B * ff * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->ub, B * ff * sizeof(float), err) ||
        dev_alloc(c, (void **)&c->xh, B * d * sizeof(__half), err) ||
        dev_alloc(c, (void **)&c->ah, B * (size_t)dq * sizeof(__half), err) ||
        dev_alloc(c, (void **)&c->hh, B * ff * sizeof(__half), err) ||
        dev_alloc(c, (void **)&c->wh, big * sizeof(__half), err) ||
        dev_alloc(c, (void **)&c->head_out, B * head_rows * sizeof(float), err))
        return -1;
    CK(cudaMallocHost((void **)&c->h_tokens, B * sizeof(int)));
    return 0;
}

/* Grids of the per-stage kernels: enough blocks for a row per warp, at most
 * a few waves of the SMs. */
static int grid_rows(const CudaBackend *c, int rows) {
    const int wpb = c->threads / 32, g = (rows + wpb - 1) / wpb, cap = 8 * c->sms;
    return g < cap ? g : cap;
}

/* A stage kernel on the stream, with programmatic dependent launch when
 * the knob asks for it (the kernel may then start before the previous one
 * ends; it waits in pdl_wait_previous). */
template <typename... KArgs, typename... Args>
static cudaError_t launch(CudaBackend *c, void (*kernel)(KArgs...), int grid, int block, size_t smem, Args... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(block);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = c->stream;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = c->s.cuda_pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, kernel, args...);
}

/* What a decode step ends with: the logits copied out, the argmax picked
 * on the device, or a token drawn on the device (engine/sampler.c's rules
 * with the host's draw). */
enum StepKind { STEP_LOGITS, STEP_GREEDY, STEP_SAMPLE };

/* The decode step's kernels on the stream (captured into a graph, or run
 * directly); only the token id (or, for STEP_LOGITS, the logits) comes out. */
static int enqueue_step(CudaBackend *c, StepKind kind, ai_error *err) {
    const DNet &n = c->net;
    const bool argmax = kind == STEP_GREEDY;
    if (kind == STEP_SAMPLE) CK(cudaMemcpyAsync(n.draw, c->h_draw, sizeof(double), cudaMemcpyHostToDevice, c->stream));
    cudaStream_t st = c->stream;
    const int T = c->threads;
    const size_t sm = c->smem;
    if (c->s.cuda_launch == AI_CUDA_PERSISTENT) {
        CK(cudaMemsetAsync(n.barrier, 0, sizeof(unsigned), st));
        DNet nn = n;
        int am = argmax;
        void *args[] = {&nn, &am};
        CK(cudaLaunchCooperativeKernel((const void *)k_persistent, c->g_persistent, T, args, sm, st));
        if (kind == STEP_SAMPLE) CK(launch(c, k_sample, 1, AI_SAMPLE_THREADS, 0, n));
    } else {
        size_t e = 0; /* with the profile on, an event after each kernel */
        auto mark = [&](int stage) {
            if (!c->prof) return;
            cudaEventRecord(c->ev[e], st);
            c->ev_stage[e++] = stage;
        };
        mark(-1);
        CK(launch(c, k_embed, c->g_embed, T, 0, n));
        mark(PROF_EMBED);
        for (int l = 0; l < n.n_layer; l++) {
            CK(launch(c, k_qkv, c->g_qkv, T, sm, n, l));
            mark(PROF_QKV);
            CK(launch(c, k_attn, n.n_head, T, sm, n, l));
            mark(PROF_ATTN);
            CK(launch(c, k_wo, c->g_wo, T, sm, n, l));
            mark(PROF_WO);
            CK(launch(c, k_ffn, c->g_ffn, T, sm, n, l));
            mark(PROF_FFN);
            CK(launch(c, k_down, c->g_down, T, sm, n, l));
            mark(PROF_DOWN);
        }
        CK(launch(c, k_head, c->g_head, T, sm, n, (int)argmax));
        if (argmax) CK(launch(c, k_finish, 1, 1, 0, n));
        if (kind == STEP_SAMPLE) CK(launch(c, k_sample, 1, AI_SAMPLE_THREADS, 0, n));
        mark(PROF_HEAD);
    }
    if (kind != STEP_LOGITS)
        CK(cudaMemcpyAsync(c->h_next, n.next, sizeof(int), cudaMemcpyDeviceToHost, st));
    else
        CK(cudaMemcpyAsync(c->b.logits, n.logits, (size_t)n.n_vocab * sizeof(float), cudaMemcpyDeviceToHost, st));
    return 0;
}

/* One decode step of `token` at `pos`, through the graph when on. */
static int run_step(CudaBackend *c, int token, int pos, StepKind kind, ai_error *err) {
    const ai_settings *s = &c->s;
    if (!c->net.rotating && pos >= c->net.n_slots)
        return ai_error_set(err, "context overflow: position %d does not fit the context of %d "
                            "(raise ctx in pipeline.conf or shorten the prompt)", pos, c->net.n_slots);
    if (token != c->dev_token || pos != c->dev_pos) {
        k_set<<<1, 1, 0, c->stream>>>(c->net, token, pos);
        CKL();
    }
    if (s->cuda_launch == AI_CUDA_GRAPH) {
        cudaGraphExec_t &g = c->graph[kind];
        if (!g) {
            cudaGraph_t graph;
            CK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
            int rc = enqueue_step(c, kind, err);
            cudaError_t e = cudaStreamEndCapture(c->stream, &graph);
            if (rc) return -1;
            if (e != cudaSuccess)
                return ai_error_set(err, "CUDA: capturing the decode step failed: %s", cudaGetErrorString(e));
            e = cudaGraphInstantiate(&g, graph, 0);
            cudaGraphDestroy(graph);
            if (e != cudaSuccess)
                return ai_error_set(err, "CUDA: instantiating the decode graph failed: %s", cudaGetErrorString(e));
        }
        CK(cudaGraphLaunch(g, c->stream));
    } else if (enqueue_step(c, kind, err)) {
        return -1;
    }
    CK(cudaStreamSynchronize(c->stream));
    if (c->prof && s->cuda_launch != AI_CUDA_PERSISTENT) {
        for (size_t i = 1; i < c->ev.size(); i++) {
            float ms = 0.0f;
            CK(cudaEventElapsedTime(&ms, c->ev[i - 1], c->ev[i]));
            c->prof_us[c->ev_stage[i]] += 1000.0 * ms;
        }
        c->prof_steps++;
    }
    const bool moved = kind != STEP_LOGITS && *c->h_next >= 0; /* the device took the next token */
    c->dev_token = moved ? *c->h_next : token;
    c->dev_pos = moved ? pos + 1 : pos;
    return 0;
}

/* m . x for n tokens through cuBLAS: y[t] (+)= W x[t]. x: f16 rows of
 * m.cols; y: f32 rows of ldy. */
static int gemm(CudaBackend *c, const DMat &m, const __half *x, int n, float *y, int ldy, bool accumulate,
                ai_error *err) {
    const int threads = 256;
    const long chunks = (long)m.rows * m.cols / 16;
    const int blocks = (int)((chunks + threads - 1) / threads < 4096 ? (chunks + threads - 1) / threads : 4096);
    ai_cuda_dispatch(m.type, [&]<int T>() { k_dequant_f16<T><<<blocks, threads, 0, c->stream>>>(m, 0, m.rows, c->wh); });
    CKL();
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    CKB(blas_fn.gemm_ex(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, m.rows, n, m.cols, &one, c->wh, CUDA_R_16F, m.cols, x,
                     CUDA_R_16F, m.cols, &beta, y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* n >= cuda_gemm_min_tokens tokens at pos..: the batched pass. */
static int forward_batch(CudaBackend *c, const int32_t *tokens, int n, int pos, bool all_logits, ai_error *err) {
    const ai_hparams *hp = &c->m->hp;
    const DNet &net = c->net;
    cudaStream_t st = c->stream;
    const int d = hp->n_embd, dq = hp->n_head * hp->head_dim, dkv = hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    memcpy(c->h_tokens, tokens, n * sizeof(int));
    CK(cudaMemcpyAsync(c->d_tokens, c->h_tokens, n * sizeof(int), cudaMemcpyHostToDevice, st));
    ai_cuda_dispatch(net.embd.type, [&]<int T>() { k_embed_rows<T><<<n, 128, 0, st>>>(net.embd, c->d_tokens, c->xb); });
    CKL();
    const std::vector<DLayer> &layers = c->layers;
    const size_t attn_smem = (size_t)(2 * hp->head_dim + (c->threads / 32) * (hp->head_dim + 2)) * sizeof(float);
    for (int l = 0; l < hp->n_layer; l++) {
        const DLayer &L = layers[l];
        k_rmsnorm_f16<<<n, 256, 0, st>>>(c->xb, L.attn_norm, d, net.eps, c->xh);
        CKL();
        if (gemm(c, L.wq, c->xh, n, c->qb, dq, false, err) || gemm(c, L.wk, c->xh, n, c->kb, dkv, false, err) ||
            gemm(c, L.wv, c->xh, n, c->vb, dkv, false, err))
            return -1;
        k_qkv_post<<<n, c->threads, 0, st>>>(net, l, pos, c->qb, c->kb, c->vb);
        k_attn_rows<<<dim3(n, hp->n_head), c->threads, attn_smem, st>>>(net, l, pos, c->qb, c->ah);
        CKL();
        if (gemm(c, L.wo, c->ah, n, c->xb, d, true, err)) return -1;
        k_rmsnorm_f16<<<n, 256, 0, st>>>(c->xb, L.ffn_norm, d, net.eps, c->xh);
        CKL();
        if (gemm(c, L.gate, c->xh, n, c->gb, ff, false, err) || gemm(c, L.up, c->xh, n, c->ub, ff, false, err))
            return -1;
        k_swiglu_f16<<<1024, 256, 0, st>>>(c->gb, c->ub, (long)n * ff, c->hh);
        CKL();
        if (gemm(c, L.down, c->hh, n, c->xb, d, true, err)) return -1;
    }
    if (!all_logits) { /* the last token through the decode step's head */
        CK(cudaMemcpyAsync(net.x, c->xb + (size_t)(n - 1) * d, d * sizeof(float), cudaMemcpyDeviceToDevice, st));
        k_head<<<c->g_head, c->threads, c->smem, st>>>(net, 0);
        CKL();
        CK(cudaMemcpyAsync(c->b.logits, net.logits, (size_t)net.n_vocab * sizeof(float), cudaMemcpyDeviceToHost, st));
        CK(cudaStreamSynchronize(st));
        return 0;
    }
    /* every token's logits: the head in chunks of rows that fit the scratch */
    k_rmsnorm_f16<<<n, 256, 0, st>>>(c->xb, net.out_norm, d, net.eps, c->xh);
    CKL();
    const int chunk = (int)(c->wh_elems / d);
    for (int r0 = 0; r0 < net.n_vocab; r0 += chunk) {
        const int nr = net.n_vocab - r0 < chunk ? net.n_vocab - r0 : chunk;
        DMat part = net.out;
        part.w = net.out.w + (size_t)r0 * net.out.row_bytes;
        part.rows = nr;
        if (gemm(c, part, c->xh, n, c->head_out, nr, false, err)) return -1;
        CK(cudaMemcpy2DAsync(c->h_logits_all + r0, (size_t)net.n_vocab * sizeof(float), c->head_out,
                             (size_t)nr * sizeof(float), (size_t)nr * sizeof(float), n, cudaMemcpyDeviceToHost, st));
    }
    CK(cudaStreamSynchronize(st));
    return 0;
}

static int cuda_forward(ai_backend *b, const int32_t *tokens, int n, int pos, bool all_logits, ai_error *err) {
    CudaBackend *c = (CudaBackend *)b;
    const int V = c->m->hp.n_vocab;
    if (n < 1 || n > b->max_batch)
        return ai_error_set(err, "forward: batch of %d tokens (1..%d allowed)", n, b->max_batch);
    if (!c->net.rotating && pos + n > c->net.n_slots)
        return ai_error_set(err, "context overflow: %d tokens do not fit the context of %d "
                            "(raise ctx in pipeline.conf or shorten the prompt)", pos + n, c->net.n_slots);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return ai_error_set(err, "token id %d is outside the vocabulary (0..%d)", tokens[t], V - 1);
    if (all_logits && !c->h_logits_all) {
        CK(cudaMallocHost((void **)&c->h_logits_all, (size_t)b->max_batch * V * sizeof(float)));
        b->logits_all = c->h_logits_all;
    }
    if (n >= c->s.cuda_gemm_min_tokens && c->wh) {
        if (forward_batch(c, tokens, n, pos, all_logits, err)) return -1;
        c->dev_token = -1; /* the batched pass leaves the step's inputs stale */
        return 0;
    }
    /* short passes: token by token through the decode step */
    for (int t = 0; t < n; t++) {
        if (run_step(c, tokens[t], pos + t, STEP_LOGITS, err)) return -1;
        if (all_logits) memcpy(c->h_logits_all + (size_t)t * V, b->logits, V * sizeof(float));
    }
    return 0;
}

static int cuda_decode_greedy(ai_backend *b, int32_t token, int pos, int32_t *next, ai_error *err) {
    CudaBackend *c = (CudaBackend *)b;
    if (token < 0 || token >= c->m->hp.n_vocab)
        return ai_error_set(err, "token id %d is outside the vocabulary (0..%d)", token, c->m->hp.n_vocab - 1);
    if (run_step(c, token, pos, STEP_GREEDY, err)) return -1;
    *next = *c->h_next;
    return 0;
}

static int cuda_decode_sample(ai_backend *b, int32_t token, int pos, double u, int32_t *next, ai_error *err) {
    CudaBackend *c = (CudaBackend *)b;
    if (token < 0 || token >= c->m->hp.n_vocab)
        return ai_error_set(err, "token id %d is outside the vocabulary (0..%d)", token, c->m->hp.n_vocab - 1);
    *c->h_draw = u;
    if (run_step(c, token, pos, STEP_SAMPLE, err)) return -1;
    if (*c->h_next >= 0) {
        *next = *c->h_next;
        return 1;
    }
    /* too many candidates for the device: the logits for the host */
    CK(cudaMemcpy(b->logits, c->net.logits, (size_t)c->net.n_vocab * sizeof(float), cudaMemcpyDeviceToHost));
    return 0;
}

static uint64_t cuda_device_bytes(const ai_backend *b) { return ((const CudaBackend *)b)->bytes; }

/* The profile: microseconds a decode step spends in each stage (each
 * kernel's time from the end of the one before, so launch gaps count
 * with the kernel that follows them). */
static void print_profile(const CudaBackend *c) {
    if (!c->prof_steps) return;
    double total = 0;
    for (int i = 0; i < PROF_STAGES; i++) total += c->prof_us[i];
    fprintf(stderr, "cuda profile (%s launch, %ld steps): %.1f us a token:", c->s.cuda_launch == AI_CUDA_GRAPH ? "graph" : "stream",
            c->prof_steps, total / c->prof_steps);
    for (int i = 0; i < PROF_STAGES; i++)
        fprintf(stderr, " %s %.1f", PROF_NAMES[i], c->prof_us[i] / c->prof_steps);
    fprintf(stderr, " (per layer: %.2f us over %d layers)\n",
            (total - c->prof_us[PROF_EMBED] - c->prof_us[PROF_HEAD]) / c->prof_steps / c->net.n_layer, c->net.n_layer);
}

static void cuda_free(ai_backend *b) {
    if (!b) return;
    CudaBackend *c = (CudaBackend *)b;
    if (c->stream) cudaStreamSynchronize(c->stream);
    print_profile(c);
    for (cudaEvent_t e : c->ev) cudaEventDestroy(e);
    for (cudaGraphExec_t g : c->graph)
        if (g) cudaGraphExecDestroy(g);
    if (c->blas) blas_fn.destroy(c->blas);
    for (void *p : c->allocs) cudaFree(p);
    cudaFreeHost(c->h_next);
    cudaFreeHost(c->h_draw);
    cudaFreeHost(c->b.logits);
    cudaFreeHost(c->h_tokens);
    cudaFreeHost(c->h_logits_all);
    if (c->stream) cudaStreamDestroy(c->stream);
    delete c;
}

extern "C" int ai_cuda_probe(char *name, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        /* without the NVIDIA driver the runtime says "driver version is
         * insufficient": name what is missing instead */
        const bool no_driver = e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice;
        snprintf(name, cap, "no usable CUDA device (%s%s)", no_driver ? "no NVIDIA GPU or driver on this machine: " : "",
                 e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        return 0;
    }
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
        snprintf(name, cap, "no usable CUDA device (its properties cannot be read)");
        return 0;
    }
    if (p.major < 9) {
        snprintf(name, cap, "%s has compute capability %d.%d; this build has code for 9.0 (Hopper) and newer",
                 p.name, p.major, p.minor);
        return 0;
    }
    snprintf(name, cap, "%s", p.name);
    return 1;
}

static int setup(CudaBackend *c, ai_error *err) {
    const ai_hparams *hp = &c->m->hp;
    const ai_settings *s = &c->s;
    char why[256];
    if (ai_cuda_probe(why, sizeof why) <= 0) return ai_error_set(err, "backend = cuda: %s", why);
    if (hp->head_dim % 32 || hp->head_dim > 32 * AI_MAX_HD_PER_LANE)
        return ai_error_set(err, "backend = cuda: head size %d is not supported (a multiple of 32 up to %d)",
                            hp->head_dim, 32 * AI_MAX_HD_PER_LANE);
    if (s->kv_type != AI_F32 && s->kv_type != AI_F16 && s->kv_type != AI_Q8_0 && s->kv_type != AI_Q4_0)
        return ai_error_set(err, "backend = cuda: kv_type %s is not supported", ai_dtype_get(s->kv_type)->name);
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    c->sms = p.multiProcessorCount;
    snprintf(c->b.device, sizeof c->b.device, "%s, %d SMs, %.0f GiB, CUDA %d.%d", p.name, p.multiProcessorCount,
             p.totalGlobalMem / 1073741824.0, p.major, p.minor);
    CK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    if (blas_open(err)) return -1;
    CKB(blas_fn.create(&c->blas));
    CKB(blas_fn.set_stream(c->blas, c->stream));
    CKB(blas_fn.set_math_mode(c->blas, CUBLAS_DEFAULT_MATH));

    DNet &n = c->net;
    memset(&n, 0, sizeof n);
    n.n_layer = hp->n_layer;
    n.d = hp->n_embd;
    n.n_head = hp->n_head;
    n.n_kv = hp->n_head_kv;
    n.hd = hp->head_dim;
    n.n_ff = hp->n_ff;
    n.n_vocab = hp->n_vocab;
    n.n_rot = hp->n_rot;
    n.neox = hp->rope_neox;
    n.eps = hp->rms_eps;
    n.att_scale = 1.0f / sqrtf((float)hp->head_dim);
    n.prefetch = s->cuda_pdl;
    n.inv_temp = s->temperature > 0 ? 1.0f / s->temperature : 0.0f;
    n.top_k = s->top_k;
    n.top_p = s->top_p;
    n.min_p = s->min_p;
    std::vector<DLayer> &layers = c->layers;
    if (upload_weights(c, layers, err) || alloc_kv(c, layers, err) || alloc_activations(c, err)) return -1;
    DLayer *dl;
    if (dev_alloc(c, (void **)&dl, layers.size() * sizeof(DLayer), err)) return -1;
    CK(cudaMemcpy(dl, layers.data(), layers.size() * sizeof(DLayer), cudaMemcpyHostToDevice));
    n.layers = dl;

    c->threads = s->cuda_block;
    c->smem = stage_smem_bytes(n.d, n.n_head * n.hd, n.n_ff, n.hd, c->threads);
    if (c->smem > (size_t)p.sharedMemPerBlockOptin)
        return ai_error_set(err, "backend = cuda: the kernels need %zu bytes of shared memory a block, the GPU "
                            "gives %zu", c->smem, (size_t)p.sharedMemPerBlockOptin);
    const void *smem_kernels[] = {(const void *)k_qkv, (const void *)k_attn, (const void *)k_wo,
                                  (const void *)k_ffn, (const void *)k_down, (const void *)k_head,
                                  (const void *)k_persistent};
    for (const void *k : smem_kernels) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)c->smem));
    const int dq = n.n_head * n.hd, dkv = n.n_kv * n.hd;
    c->g_embed = (n.d / 4 + c->threads - 1) / c->threads;
    c->g_qkv = grid_rows(c, dq + 2 * dkv);
    c->g_wo = grid_rows(c, n.d);
    c->g_ffn = grid_rows(c, n.n_ff);
    c->g_down = grid_rows(c, n.d);
    c->g_head = grid_rows(c, n.n_vocab);
    int per_sm = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_persistent, c->threads, c->smem));
    if (s->cuda_launch == AI_CUDA_PERSISTENT && per_sm < 1)
        return ai_error_set(err, "cuda_launch = persistent: a block of %d threads does not fit an SM", c->threads);
    c->g_persistent = per_sm * c->sms;
    const char *prof = getenv("AI_CUDA_PROFILE");
    c->prof = prof && *prof && strcmp(prof, "0");
    if (c->prof) {
        c->ev.resize(2 + 5 * (size_t)n.n_layer + 1);
        c->ev_stage.resize(c->ev.size());
        for (cudaEvent_t &e : c->ev) CK(cudaEventCreate(&e));
    }
    return 0;
}

extern "C" ai_backend *ai_cuda_backend_new(ai_model *m, const ai_settings *s, ai_error *err) {
    CudaBackend *c = new (std::nothrow) CudaBackend();
    if (!c) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    c->m = m;
    c->s = *s;
    ai_backend *b = &c->b;
    b->name = "cuda";
    b->max_batch = s->prefill_chunk;
    b->kv_rotating = ai_settings_kv_layout(s).rotating;
    b->forward = cuda_forward;
    b->decode_greedy = cuda_decode_greedy;
    b->decode_sample = s->cuda_sampling ? cuda_decode_sample : NULL;
    b->device_bytes = cuda_device_bytes;
    b->free = cuda_free;
    if (setup(c, err)) {
        cuda_free(b);
        return NULL;
    }
    return b;
}
