/* cpu.h — the CPU backend's state (private to engine/cpu/). */
#ifndef AI_CPU_H
#define AI_CPU_H

#include "model.h"
#include "threadpool.h"
#include "vec.h"

/* KV cache: per layer, n_slots rows of n_head_kv*head_dim elements, the
 * slots laid out as ai_settings_kv_layout says (config.h). */
typedef struct ai_kv_cache {
    uint32_t type;
    int n_slots;
    int window;          /* positions each token attends to (ctx when not rotating) */
    bool rotating;
    size_t row_bytes;
    uint8_t **k, **v;    /* [n_layer] → n_slots * row_bytes */
} ai_kv_cache;

/* A weight format's product kernels at the pipeline's ISA, resolved once
 * when the state is made (one row per format, as ggml-cpu's type traits). */
typedef struct ai_cpu_kernels {
    uint32_t vec_type;     /* companion activation type (ai_vec_type) */
    ai_vec_dot_fn dot;     /* one row */
    ai_vec_dot4_fn dot4;   /* four rows, or NULL (or knob matmul_rows = 1) */
    ai_vec_dot4p_fn dot4p; /* repacked groups of four rows, or NULL */
} ai_cpu_kernels;

/* Activations and scratch for up to max_batch tokens per forward pass;
 * allocated once so decoding allocates nothing. */
typedef struct ai_state {
    const ai_model *m;
    const ai_settings *s;
    ai_pool *pool;
    ai_kv_cache kv;
    int max_batch;
    float *x, *xb, *q, *k, *v, *att_out, *hb, *hb2; /* [max_batch][...] */
    float *att;          /* [n_threads][n_ctx] attention scores */
    ai_cpu_kernels kt[AI_DTYPE_MAX]; /* each weight format's product kernels, by type */
    void *xq;            /* activations quantized for the integer path */
    ai_act_pair *xp;     /* the same prepared for the repacked kernels */
    float *logits;       /* [n_vocab]: the last token's logits */
    float *logits_all;   /* [max_batch][n_vocab], allocated on first use */
    float *rope_cos, *rope_sin; /* scratch [n_rot/2] per position */
    double *rope_inv_freq; /* [n_rot/2]: base^(-2i/n_rot) / freq_factor[i] */
    float *rope_cos_swa, *rope_sin_swa; /* the same for the sliding-window */
    double *rope_inv_freq_swa;          /*   layers' base, or NULL */
    ai_vec_kernels vk;   /* attention / softmax / SwiGLU kernels for this CPU */
    void *gemm_act;      /* prepared activations for batched products (knob gemm), or NULL */
    uint8_t *gemm_w;     /* [n_threads][4 rows] expanded weight rows */
    uint8_t *unpack;     /* [n_threads][4 rows] rows unpacked from a repacked group */
    size_t unpack_bytes; /* per thread */
} ai_state;

#endif
