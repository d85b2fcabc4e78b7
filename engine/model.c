/* model.c — loading a llama/qwen2 GGUF: hyperparameters and weights, bound
 * and checked, for every backend (the forward passes are engine/cpu/ and
 * engine/cuda/). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading --------------------------------------------------------- */

static int hp_u32(const gguf_file *f, const char *arch, const char *suffix,
                  int *out, bool required, int fallback, ai_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    int r = gguf_opt_u32(f, key, &v, err);
    if (r < 0) return -1;
    if (r == 0) {
        if (required)
            return ai_error_set(err, "%s: missing hyperparameter '%s'", f->path, key);
        *out = fallback;
        return 0;
    }
    if (v == 0 || v > (1u << 24))
        return ai_error_set(err, "%s: hyperparameter '%s' = %u is out of range", f->path, key, v);
    *out = (int)v;
    return 0;
}

static int hp_f32(const gguf_file *f, const char *arch, const char *suffix,
                  float *out, bool required, float fallback, ai_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int r = gguf_opt_f32(f, key, out, err);
    if (r < 0) return -1;
    if (r == 0) {
        if (required)
            return ai_error_set(err, "%s: missing hyperparameter '%s'", f->path, key);
        *out = fallback;
    }
    if (!isfinite(*out) || *out <= 0)
        return ai_error_set(err, "%s: hyperparameter '%s' = %g is out of range", f->path, key, *out);
    return 0;
}

/* Binds tensor `name` expecting [rows x cols]; vectors (rows == 1) must be
 * f32. A missing optional tensor leaves w->data NULL. */
static int bind(const gguf_file *f, const char *name, int64_t cols, int64_t rows,
                bool required, ai_weight *w, ai_error *err) {
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        if (required) return ai_error_set(err, "%s: tensor '%s' is missing", f->path, name);
        return 0;
    }
    const ai_dtype_info *d = ai_dtype_get(t->type);
    if (!d || !d->weight)
        return ai_error_set(err, "%s: tensor '%s' has type %s, which autoinfer does not support "
                            "(supported: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k)",
                            f->path, name, d ? d->name : "unknown");
    int64_t t_rows = 1;
    for (uint32_t i = 1; i < t->n_dims; i++) t_rows *= t->ne[i];
    if (t->ne[0] != cols || t_rows != rows)
        return ai_error_set(err, "%s: tensor '%s' has shape [%lld x %lld], expected [%lld x %lld]",
                            f->path, name, (long long)t->ne[0], (long long)t_rows,
                            (long long)cols, (long long)rows);
    if (rows == 1 && t->type != AI_F32)
        return ai_error_set(err, "%s: tensor '%s' has type %s, expected f32 for a vector",
                            f->path, name, d->name);
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = ai_row_bytes(t->type, cols);
    w->data = t->data;
    return 0;
}

static int load_hparams(const gguf_file *f, ai_hparams *hp, ai_error *err) {
    if (gguf_get_str(f, "general.architecture", hp->arch, sizeof hp->arch, err)) return -1;
    if (strcmp(hp->arch, "llama") && strcmp(hp->arch, "qwen2"))
        return ai_error_set(err, "%s: architecture '%s' is not supported (supported: llama, qwen2)",
                            f->path, hp->arch);
    const char *a = hp->arch;
    if (hp_u32(f, a, "embedding_length", &hp->n_embd, true, 0, err) ||
        hp_u32(f, a, "block_count", &hp->n_layer, true, 0, err) ||
        hp_u32(f, a, "feed_forward_length", &hp->n_ff, true, 0, err) ||
        hp_u32(f, a, "attention.head_count", &hp->n_head, true, 0, err) ||
        hp_u32(f, a, "attention.head_count_kv", &hp->n_head_kv, false, hp->n_head, err) ||
        hp_u32(f, a, "context_length", &hp->n_ctx_train, false, 2048, err) ||
        hp_f32(f, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, true, 0, err) ||
        hp_f32(f, a, "rope.freq_base", &hp->rope_base, false, 10000.0f, err))
        return -1;
    if (hp->n_embd % hp->n_head)
        return ai_error_set(err, "%s: %s.embedding_length %d is not a multiple of attention.head_count %d",
                            f->path, a, hp->n_embd, hp->n_head);
    if (hp_u32(f, a, "attention.key_length", &hp->head_dim, false, hp->n_embd / hp->n_head, err) ||
        hp_u32(f, a, "rope.dimension_count", &hp->n_rot, false, hp->head_dim, err))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return ai_error_set(err, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d",
                            f->path, a, hp->n_head, hp->n_head_kv);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return ai_error_set(err, "%s: %s.rope.dimension_count %d must be even and <= head size %d",
                            f->path, a, hp->n_rot, hp->head_dim);
    hp->rope_neox = !strcmp(a, "qwen2");
    hp->has_qkv_bias = !strcmp(a, "qwen2");
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return ai_error_set(err, "%s: tensor 'token_embd.weight' is missing", f->path);
    if (emb->n_dims != 2 || emb->ne[1] <= 0 || emb->ne[1] > (1 << 24))
        return ai_error_set(err, "%s: tensor 'token_embd.weight' has an unexpected shape", f->path);
    hp->n_vocab = (int)emb->ne[1];
    return 0;
}

ai_model *ai_model_load(gguf_file *f, ai_error *err) {
    ai_model *m = calloc(1, sizeof *m);
    if (!m) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    ai_hparams *hp = &m->hp;
    if (load_hparams(f, hp, err)) goto fail;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        ai_error_set(err, "out of memory");
        goto fail;
    }
    const int64_t d = hp->n_embd, dq = (int64_t)hp->n_head * hp->head_dim,
                  dkv = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    if (bind(f, "token_embd.weight", d, hp->n_vocab, true, &m->tok_embd, err) ||
        bind(f, "output_norm.weight", d, 1, true, &m->output_norm, err) ||
        bind(f, "output.weight", d, hp->n_vocab, false, &m->output, err))
        goto fail;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */

    const gguf_tensor *rf = gguf_find_tensor(f, "rope_freqs.weight");
    if (rf) {
        if (rf->type != AI_F32 || rf->ne[0] != hp->n_rot / 2) {
            ai_error_set(err, "%s: tensor 'rope_freqs.weight' must be f32 [%d]", f->path, hp->n_rot / 2);
            goto fail;
        }
        m->rope_freq_factors = rf->data;
    }

    for (int l = 0; l < hp->n_layer; l++) {
        ai_layer *L = &m->layers[l];
        char n[96];
#define BIND(field, suffix, cols, rows, req)                        \
    snprintf(n, sizeof n, "blk.%d.%s", l, suffix);                  \
    if (bind(f, n, cols, rows, req, &L->field, err)) goto fail;
        BIND(attn_norm, "attn_norm.weight", d, 1, true);
        BIND(wq, "attn_q.weight", d, dq, true);
        BIND(wk, "attn_k.weight", d, dkv, true);
        BIND(wv, "attn_v.weight", d, dkv, true);
        BIND(wo, "attn_output.weight", dq, d, true);
        BIND(bq, "attn_q.bias", dq, 1, hp->has_qkv_bias);
        BIND(bk, "attn_k.bias", dkv, 1, hp->has_qkv_bias);
        BIND(bv, "attn_v.bias", dkv, 1, hp->has_qkv_bias);
        BIND(ffn_norm, "ffn_norm.weight", d, 1, true);
        BIND(w_gate, "ffn_gate.weight", d, ff, true);
        BIND(w_up, "ffn_up.weight", d, ff, true);
        BIND(w_down, "ffn_down.weight", ff, d, true);
#undef BIND
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        int64_t ne = 1;
        for (uint32_t j = 0; j < t->n_dims; j++) ne *= t->ne[j];
        m->n_params += ne;
    }
    m->gguf = f;
    return m;
fail:
    free(m->layers);
    free(m);
    return NULL;
}

void ai_model_free(ai_model *m) {
    if (!m) return;
    gguf_close(m->gguf);
    free(m->output.packed);
    for (int l = 0; m->layers && l < m->hp.n_layer; l++) {
        ai_layer *L = &m->layers[l];
        ai_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) free(ws[i]->packed);
    }
    free(m->layers);
    free(m);
}

uint64_t ai_model_bytes_per_token(const ai_model *m) {
    uint64_t b = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        const ai_layer *L = &m->layers[l];
        const ai_weight *ws[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk,
                                 &L->bv, &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data) b += ws[i]->row_bytes * (uint64_t)ws[i]->rows;
    }
    b += m->output.row_bytes * (uint64_t)m->output.rows + m->output_norm.row_bytes;
    return b;
}

void ai_rope_inv_freq(const ai_model *m, double *out) {
    const ai_hparams *hp = &m->hp;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        out[i] = pow(hp->rope_base, -2.0 * i / hp->n_rot);
        if (m->rope_freq_factors) out[i] /= m->rope_freq_factors[i];
    }
}
