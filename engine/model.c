/* model.c — loading a GGUF of a supported architecture (llama, qwen2, qwen3,
 * gemma3, phi3): hyperparameters and weights, bound and checked, for every
 * backend (the forward passes are engine/cpu/ and engine/cuda/). */
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

/* ---- architectures ---------------------------------------------------- */

/* What each architecture does beyond llama's pass (model.h). The vendored
 * llama.cpp's src/models/<name>.cpp is the reference for each row. */
static const ai_arch ARCHS[] = {
    {.name = "llama"},
    {.name = "qwen2", .rope_neox = true, .qkv_bias = true},
    {.name = "qwen3", .rope_neox = true, .qk_norm = true},
    {.name = "gemma3", .rope_neox = true, .qk_norm = true, .post_norms = true, .gemma = true},
    {.name = "phi3", .rope_neox = true, .fused = true},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

const ai_arch *ai_arch_find(const char *name) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (!strcmp(ARCHS[i].name, name)) return &ARCHS[i];
    return NULL;
}

const char *ai_arch_names(char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < N_ARCHS && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", ARCHS[i].name);
    return out;
}

/* RoPE scaling as llama.cpp reads it: rope.scaling.type ("linear" when
 * absent) and the factor from rope.scaling.factor or the older
 * rope.scale_linear (0 or absent: none). Linear scaling divides the
 * positions by the factor; YaRN and LongRoPE also reshape the rates and
 * the attention scale, which this engine does not do: refused, unless
 * their factor leaves the rates as they are (1 or none). */
static int load_rope_scaling(const gguf_file *f, const char *a, ai_hparams *hp, ai_error *err) {
    char key[128], type[32] = "linear";
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    if (gguf_find(f, key) && gguf_get_str(f, key, type, sizeof type, err)) return -1;
    float factor = 0;
    snprintf(key, sizeof key, "%s.rope.scaling.factor", a);
    int r = gguf_opt_f32(f, key, &factor, err);
    if (r == 0) {
        snprintf(key, sizeof key, "%s.rope.scale_linear", a);
        r = gguf_opt_f32(f, key, &factor, err);
    }
    if (r < 0) return -1;
    if (r > 0 && !(isfinite(factor) && factor >= 0))
        return ai_error_set(err, "%s: hyperparameter '%s' = %g is out of range", f->path, key, factor);
    hp->rope_freq_scale = 1.0f;
    bool scales = factor != 0 && factor != 1;
    if (!strcmp(type, "none") || !scales) return 0;
    if (strcmp(type, "linear"))
        return ai_error_set(err, "%s: %s.rope.scaling.type '%s' (factor %g) is not supported (supported: none, linear)",
                            f->path, a, type, factor);
    hp->rope_freq_scale = 1.0f / factor;
    return 0;
}

static int load_hparams(const gguf_file *f, const ai_arch *arch, ai_hparams *hp, ai_error *err) {
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
    if (load_rope_scaling(f, a, hp, err)) return -1;
    hp->rope_neox = arch->rope_neox;
    hp->embd_scale = 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    if (arch->gemma) {
        hp->gelu = true;
        hp->embd_scale = sqrtf((float)hp->n_embd);
        /* gemma_pytorch's query_pre_attn_scalar: n_embd / n_head for the
         * 27B (62 layers), the head size for the others (as llama.cpp) */
        if (hp->n_layer == 62) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
        if (hp_u32(f, a, "attention.sliding_window", &hp->n_swa, false, 0, err) ||
            hp_f32(f, a, "rope.freq_base_swa", &hp->rope_base_swa, false, 10000.0f, err))
            return -1;
        char key[128];
        snprintf(key, sizeof key, "%s.final_logit_softcapping", a);
        if (gguf_opt_f32(f, key, &hp->logit_softcap, err) < 0) return -1;
    }
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return ai_error_set(err, "%s: tensor 'token_embd.weight' is missing", f->path);
    if (emb->n_dims != 2 || emb->ne[1] <= 0 || emb->ne[1] > (1 << 24))
        return ai_error_set(err, "%s: tensor 'token_embd.weight' has an unexpected shape", f->path);
    hp->n_vocab = (int)emb->ne[1];
    return 0;
}

/* Which layers slide (gemma3): with `attention.sliding_window_pattern` n
 * (6, Gemma 3's, when absent) every n-th layer is global and the others
 * local, as llama.cpp's set_swa_pattern. */
static int load_swa_layers(const gguf_file *f, ai_model *m, ai_error *err) {
    const ai_hparams *hp = &m->hp;
    if (!hp->n_swa) return 0;
    int pattern;
    if (hp_u32(f, hp->arch, "attention.sliding_window_pattern", &pattern, false, 6, err)) return -1;
    for (int l = 0; l < hp->n_layer; l++) m->layers[l].swa = l % pattern < pattern - 1;
    return 0;
}

/* Rows r0 .. r0 + n - 1 of w, as a weight of their own (no copy). */
static ai_weight rows_view(const ai_weight *w, int64_t r0, int64_t n) {
    ai_weight v = *w;
    v.rows = n;
    v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    return v;
}

ai_model *ai_model_load(gguf_file *f, ai_error *err) {
    ai_model *m = calloc(1, sizeof *m);
    if (!m) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    ai_hparams *hp = &m->hp;
    if (gguf_get_str(f, "general.architecture", hp->arch, sizeof hp->arch, err)) goto fail;
    m->arch = ai_arch_find(hp->arch);
    if (!m->arch) {
        char names[128];
        ai_error_set(err, "%s: architecture '%s' is not supported (supported: %s)", f->path, hp->arch,
                     ai_arch_names(names, sizeof names));
        goto fail;
    }
    const ai_arch *arch = m->arch;
    if (load_hparams(f, arch, hp, err)) goto fail;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        ai_error_set(err, "out of memory");
        goto fail;
    }
    if (load_swa_layers(f, m, err)) goto fail;
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
    if (gguf_find_tensor(f, "rope_factors_long.weight")) {
        ai_error_set(err, "%s: tensor 'rope_factors_long.weight': LongRoPE (the 128k-context Phi-3 "
                     "files) is not supported", f->path);
        goto fail;
    }

    for (int l = 0; l < hp->n_layer; l++) {
        ai_layer *L = &m->layers[l];
        char n[96];
#define BIND(field, suffix, cols, rows, req)                        \
    snprintf(n, sizeof n, "blk.%d.%s", l, suffix);                  \
    if (bind(f, n, cols, rows, req, &L->field, err)) goto fail;
        BIND(attn_norm, "attn_norm.weight", d, 1, true);
        if (arch->fused) {
            ai_weight qkv, gate_up;
            snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", l);
            if (bind(f, n, d, dq + 2 * dkv, true, &qkv, err)) goto fail;
            L->wq = rows_view(&qkv, 0, dq);
            L->wk = rows_view(&qkv, dq, dkv);
            L->wv = rows_view(&qkv, dq + dkv, dkv);
            snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l);
            if (bind(f, n, d, 2 * ff, true, &gate_up, err)) goto fail;
            L->w_gate = rows_view(&gate_up, 0, ff); /* gate first, as ggml_swiglu splits it */
            L->w_up = rows_view(&gate_up, ff, ff);
        } else {
            BIND(wq, "attn_q.weight", d, dq, true);
            BIND(wk, "attn_k.weight", d, dkv, true);
            BIND(wv, "attn_v.weight", d, dkv, true);
            BIND(w_gate, "ffn_gate.weight", d, ff, true);
            BIND(w_up, "ffn_up.weight", d, ff, true);
        }
        BIND(wo, "attn_output.weight", dq, d, true);
        BIND(bq, "attn_q.bias", dq, 1, arch->qkv_bias);
        BIND(bk, "attn_k.bias", dkv, 1, arch->qkv_bias);
        BIND(bv, "attn_v.bias", dkv, 1, arch->qkv_bias);
        if (arch->qk_norm) {
            BIND(q_norm, "attn_q_norm.weight", hp->head_dim, 1, true);
            BIND(k_norm, "attn_k_norm.weight", hp->head_dim, 1, true);
        }
        if (arch->post_norms) {
            BIND(attn_post_norm, "post_attention_norm.weight", d, 1, true);
            BIND(ffn_post_norm, "post_ffw_norm.weight", d, 1, true);
        }
        BIND(ffn_norm, "ffn_norm.weight", d, 1, true);
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
        const ai_weight *ws[] = {&L->attn_norm, &L->wq,     &L->wk,     &L->wv,
                                 &L->wo,        &L->bq,     &L->bk,     &L->bv,
                                 &L->q_norm,    &L->k_norm, &L->attn_post_norm, &L->ffn_post_norm,
                                 &L->ffn_norm,  &L->w_gate, &L->w_up,   &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data) b += ws[i]->row_bytes * (uint64_t)ws[i]->rows;
    }
    b += m->output.row_bytes * (uint64_t)m->output.rows + m->output_norm.row_bytes;
    return b;
}

void ai_rope_inv_freq(const ai_model *m, bool swa, double *out) {
    const ai_hparams *hp = &m->hp;
    double base = swa ? hp->rope_base_swa : hp->rope_base, scale = swa ? 1.0 : hp->rope_freq_scale;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        out[i] = scale * pow(base, -2.0 * i / hp->n_rot);
        if (m->rope_freq_factors) out[i] /= m->rope_freq_factors[i];
    }
}
