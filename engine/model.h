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

/* Bytes a decode step reads from the weights (for the roofline). */
uint64_t ai_model_bytes_per_token(const ai_model *m);

/* RoPE's per-dimension rates, n_rot/2 of them: theta_i(pos) = pos * out[i]
 * with out[i] = base^(-2i/n_rot) / freq_factor[i]. */
void ai_rope_inv_freq(const ai_model *m, double *out);

#endif
