/* model.h — a transformer described by a GGUF file: hyperparameters and
 * weights (pointers into the memory map), plus the forward pass. */
#ifndef AI_MODEL_H
#define AI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoinfer.h"
#include "config.h"
#include "gguf.h"
#include "quant.h"

/* A weight matrix: `rows` rows of `cols` elements in `type`, row-major
 * (GGUF ne[0] = cols, ne[1] = rows). A vector has rows = 1. */
typedef struct ai_weight {
    uint32_t type;
    int64_t rows, cols;
    size_t row_bytes;
    const void *data;
    void *packed;        /* the CPU backend's copy of the rows repacked in groups of
                            four (knob repack), or NULL; freed with the model */
} ai_weight;

/* A layer's weights. Optional ones the architecture lacks have data NULL.
 * phi3's fused attn_qkv and ffn_up tensors are bound as row views (wq, wk,
 * wv and w_gate, w_up point into them; nothing is copied). */
typedef struct ai_layer {
    ai_weight attn_norm, wq, wk, wv, wo, bq, bk, bv; /* b*: q/k/v biases (qwen2) */
    ai_weight q_norm, k_norm;                 /* per-head RMSNorm of q and k (qwen3, gemma3) */
    ai_weight attn_post_norm, ffn_post_norm;  /* norms of the block outputs (gemma3) */
    ai_weight ffn_norm, w_gate, w_up, w_down;
    bool swa;            /* a sliding-window (local) layer: attends to the last n_swa
                            positions and rotates with rope_base_swa (gemma3) */
} ai_layer;

/* How an architecture differs from llama's forward pass: one row per
 * architecture in model.c's table, read at load to know which tensors and
 * hyperparameters to expect; the pass itself reads the values they give
 * (ai_hparams) and which optional tensors are present. */
typedef struct ai_arch {
    const char *name;
    bool rope_neox;      /* rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1) */
    bool qkv_bias;       /* q/k/v biases (qwen2) */
    bool qk_norm;        /* RMSNorm of each q and k head before RoPE (qwen3, gemma3) */
    bool post_norms;     /* RMSNorm of the attention and MLP outputs before their
                            residual add (gemma3) */
    bool gemma;          /* embeddings times sqrt(n_embd), GELU (tanh) gated MLP,
                            interleaved sliding-window layers (gemma3) */
    bool fused;          /* q/k/v in one attn_qkv tensor, gate/up in one ffn_up (phi3) */
} ai_arch;

/* The architecture called `name`, or NULL. */
const ai_arch *ai_arch_find(const char *name);
/* All their names, "llama, qwen2, ...", for messages (written to out). */
const char *ai_arch_names(char *out, size_t cap);

typedef struct ai_hparams {
    char arch[32];
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int n_rot;           /* rotary dimensions (<= head_dim) */
    float rms_eps, rope_base;
    float rope_freq_scale; /* positions are scaled by this before rotating:
                              1 / rope.scaling.factor for linear scaling
                              (DeepSeek-Coder, Gemma 3 4B+), else 1; the
                              sliding-window layers never scale (llama.cpp) */
    bool rope_neox;      /* rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1) */
    bool gelu;           /* MLP activation GELU (tanh approximation) instead of SiLU */
    float embd_scale;    /* embeddings are multiplied by this (1, or sqrt(n_embd)) */
    float attn_scale;    /* attention logits are q.k times this (1/sqrt(head_dim)) */
    float logit_softcap; /* logits = c * tanh(logits / c) when > 0 */
    int n_swa;           /* window of the sliding-window layers (0: none) */
    float rope_base_swa; /* their RoPE base */
} ai_hparams;

typedef struct ai_model {
    gguf_file *gguf;
    const ai_arch *arch;
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

/* Bytes a decode step reads from the weights (for the roofline). */
uint64_t ai_model_bytes_per_token(const ai_model *m);

/* RoPE's per-dimension rates, n_rot/2 of them: theta_i(pos) = pos * out[i]
 * with out[i] = scale * base^(-2i/n_rot) / freq_factor[i]: base
 * hp.rope_base and scale hp.rope_freq_scale, or for the sliding-window
 * layers (swa) hp.rope_base_swa and 1. */
void ai_rope_inv_freq(const ai_model *m, bool swa, double *out);

#endif
