/* model.h — a transformer described by a GGUF file: hyperparameters and
 * weights (pointers into the memory map), plus the forward pass. */
#ifndef AI_MODEL_H
#define AI_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "autoinfer.h"
#include "config.h"
#include "gguf.h"
#include "quant.h"
#include "threadpool.h"
#include "vec.h"

/* A weight matrix: `rows` rows of `cols` elements in `type`, row-major
 * (GGUF ne[0] = cols, ne[1] = rows). A vector has rows = 1. */
typedef struct ai_weight {
    uint32_t type;
    int64_t rows, cols;
    size_t row_bytes;
    const void *data;
    void *packed;        /* the rows repacked in groups of four (knob repack), or NULL */
} ai_weight;

typedef struct ai_layer {
    ai_weight attn_norm, wq, wk, wv, wo, bq, bk, bv; /* b*: qwen2 biases */
    ai_weight ffn_norm, w_gate, w_up, w_down;
} ai_layer;

typedef struct ai_hparams {
    char arch[32];
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int n_rot;           /* rotary dimensions (<= head_dim) */
    float rms_eps, rope_base;
    bool rope_neox;      /* rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1) */
    bool has_qkv_bias;
} ai_hparams;

typedef struct ai_model {
    gguf_file *gguf;
    ai_hparams hp;
    ai_weight tok_embd, output_norm, output; /* output aliases tok_embd if tied */
    const float *rope_freq_factors;          /* n_rot/2 divisors, or NULL */
    ai_layer *layers;
    int64_t n_params;
} ai_model;

/* Reads hyperparameters and binds every tensor, checking shapes and types.
 * Takes ownership of f on success. */
ai_model *ai_model_load(gguf_file *f, ai_error *err);
void ai_model_free(ai_model *m);

/* KV cache: per layer, n_slots rows of n_head_kv*head_dim elements. With a
 * rotating window, position p lives in slot p % n_slots and attends to the
 * last `window` positions; the ring holds window + max_batch - 1 slots so
 * that the keys a forward pass stores never evict ones that an earlier
 * token of the same pass still sees. */
typedef struct ai_kv_cache {
    uint32_t type;
    int n_slots;
    int window;          /* positions each token attends to (ctx when not rotating) */
    bool rotating;
    size_t row_bytes;
    uint8_t **k, **v;    /* [n_layer] → n_slots * row_bytes */
} ai_kv_cache;

/* Activations and scratch for up to max_batch tokens per forward pass;
 * allocated once so decoding allocates nothing. */
typedef struct ai_state {
    const ai_model *m;
    const ai_settings *s;
    ai_pool *pool;
    ai_kv_cache kv;
    int max_batch;
    float *x, *xb, *xb2, *q, *k, *v, *att_out, *hb, *hb2; /* [max_batch][...] */
    float *att;          /* [n_threads][n_ctx] attention scores */
    float *kvrow;        /* [n_threads][head_dim*2] dequantized K/V rows */
    void *xq;            /* activations quantized for the integer path */
    ai_act_pair *xp;     /* the same prepared for the repacked kernels */
    float *logits;       /* [n_vocab]: the last token's logits */
    float *logits_all;   /* [max_batch][n_vocab], allocated on first use */
    float *rope_cos, *rope_sin; /* scratch [n_rot/2] per position */
    double *rope_inv_freq; /* [n_rot/2]: base^(-2i/n_rot) / freq_factor[i] */
    ai_vec_kernels vk;   /* attention / softmax / SwiGLU kernels for this CPU */
    void *gemm_act;      /* prepared activations for batched products (knob gemm), or NULL */
    uint8_t *gemm_w;     /* [n_threads][4 rows] expanded weight rows */
    uint8_t *unpack;     /* [n_threads][4 rows] rows unpacked from a repacked group */
    size_t unpack_bytes; /* per thread */
} ai_state;

ai_state *ai_state_new(const ai_model *m, const ai_settings *s, ai_error *err);
void ai_state_free(ai_state *st);

/* Runs n tokens at positions pos..pos+n-1 (n <= max_batch) through the
 * model, filling the KV cache. Logits are written for the last token only,
 * or for every token when all_logits. Returns 0, or -1 on context overflow. */
int ai_forward(ai_state *st, const int32_t *tokens, int n, int pos,
               bool all_logits, ai_error *err);

/* Bytes a decode step reads from the weights (for the roofline). */
uint64_t ai_model_bytes_per_token(const ai_model *m);

#endif
