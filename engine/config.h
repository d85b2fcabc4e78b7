/* config.h — the knobs of pipeline.conf as typed settings for the engine. */
#ifndef AI_CONFIG_H
#define AI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "autoinfer.h"
#include "quant.h"

typedef enum { AI_BACKEND_AUTO, AI_BACKEND_CPU, AI_BACKEND_CUDA } ai_backend_kind;
typedef enum { AI_CUDA_GRAPH, AI_CUDA_STREAM, AI_CUDA_PERSISTENT } ai_cuda_launch;

typedef struct ai_settings {
    /* sampler */
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    uint64_t seed;
    /* execution */
    int threads;
    bool spin;
    ai_isa isa;          /* kernel level actually used (auto resolved) */
    uint32_t kv_type;    /* AI_F32, AI_F16, AI_Q8_0, AI_Q4_0 */
    int kv_window;       /* 0 = keep all positions */
    int ctx;
    int prefill_chunk;
    int matmul_rows;     /* 4: four-row kernels where the ISA has them; 1: one row per call */
    int prefetch;        /* software prefetch distance of the four-row kernels, in KiB (0 = off) */
    bool gemm;           /* batched products for prefill (gemm.h) */
    int gemm_min_tokens; /* ... for passes of at least this many tokens */
    bool repack;         /* weights repacked in groups of four rows at load */
    int chunks_per_thread; /* work chunks per thread and job (claimed dynamically) */
    /* backend */
    ai_backend_kind backend;
    ai_cuda_launch cuda_launch;
    int cuda_block;      /* threads per block of the decode kernels */
    bool cuda_pdl;       /* programmatic dependent launch + weight prefetch */
    bool cuda_sampling;  /* draw tokens on the GPU (temperature > 0) */
    int cuda_gemm_min_tokens; /* passes of at least this many tokens use cuBLAS */
} ai_settings;

/* The KV cache's positions as the knobs ctx, kv_window and prefill_chunk
 * set them, for every backend: with a rotating window, position p lives in
 * slot p % n_slots and attends to the last `window` positions; the ring
 * holds window + prefill_chunk - 1 slots so that the keys a forward pass
 * stores never evict ones that an earlier token of the same pass still
 * sees. */
typedef struct ai_kv_layout {
    bool rotating;
    int window;  /* positions each token attends to (ctx when not rotating) */
    int n_slots;
} ai_kv_layout;
ai_kv_layout ai_settings_kv_layout(const ai_settings *s);

/* Typed view of a validated configuration (NULL = defaults). */
int ai_settings_from_conf(const ai_conf *conf, ai_settings *s, ai_error *err);

#endif
