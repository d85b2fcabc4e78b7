/* forward.c — the CPU backend: the forward pass on the thread pool with the
 * SIMD kernels that ai_*_get picks for this CPU.
 *
 * The forward pass reads top to bottom like llama2.c's run.c: embedding,
 * then per layer RMSNorm → QKV → RoPE → cache → attention → output
 * projection → residual → RMSNorm → SwiGLU MLP → residual, then the final
 * norm and the output head. A batch of tokens goes through together, so
 * prefill and single-token decode are the same code. Other architectures
 * take the same path with the steps their description adds (model.h:
 * QK-norm, post-norms, GELU, sliding-window layers, embedding scale). */
#include "cpu.h"

#include "backend.h"
#include "gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- state ----------------------------------------------------------- */

static void state_free(ai_state *st) {
    if (!st) return;
    ai_pool_free(st->pool);
    if (st->kv.k)
        for (int l = 0; l < st->m->hp.n_layer; l++) free(st->kv.k[l]);
    if (st->kv.v)
        for (int l = 0; l < st->m->hp.n_layer; l++) free(st->kv.v[l]);
    free(st->kv.k);
    free(st->kv.v);
    free(st->x); free(st->xb); free(st->q); free(st->k); free(st->v);
    free(st->att_out); free(st->hb); free(st->hb2); free(st->att);
    free(st->xq); free(st->xp); free(st->logits); free(st->logits_all);
    free(st->rope_cos); free(st->rope_sin); free(st->rope_inv_freq);
    free(st->rope_cos_swa); free(st->rope_sin_swa); free(st->rope_inv_freq_swa);
    free(st->gemm_act); free(st->gemm_w); free(st->unpack);
    free(st);
}

/* ---- repacking (knob repack) ------------------------------------------- */

typedef struct {
    ai_weight *w;
    int64_t g0, g1; /* the slice of groups of four rows */
} repack_job;

static void repack_worker(void *ctx, int ith, int nth, int tid) {
    const repack_job *j = ctx;
    const ai_weight *w = j->w;
    (void)tid;
    int64_t n = j->g1 - j->g0, g0 = j->g0 + n * ith / nth, g1 = j->g0 + n * (ith + 1) / nth;
    size_t gb = 4 * w->row_bytes;
    for (int64_t g = g0; g < g1; g++)
        ai_repack4(w->type, (const uint8_t *)w->data + g * gb, w->row_bytes, w->cols, (uint8_t *)w->packed + g * gb);
}

/* Copies each product weight whose format has four-row repacked kernels at
 * this ISA into a group-interleaved buffer, slice by slice, letting the
 * kernel drop each slice of the mapped original from memory as soon as it
 * is copied (so no matrix is resident twice; a tied embedding is then read
 * from the copy, see embed_row). The copies belong to the model (freed
 * with it).
 *
 * Before the first copy the file mapping is marked MADV_NOHUGEPAGE: when the
 * page cache holds the file in 2 MB folios (a file just written with large
 * writes, or read with a large readahead), a fault maps the whole 2 MB, and
 * every per-token read of a small tensor that shares a folio with dropped
 * matrices (a norm) mapped those back in: SmolLM2's layer matrices are
 * 69-553 KB, so most of them came back (+64 MB peak RSS, docs/performance.md,
 * "Memory"). Without huge mappings a fault maps at most the kernel's
 * fault-around window (64 KB). */
static int repack_weights(ai_model *m, ai_pool *pool, ai_isa isa) {
    enum { SLICE_BYTES = 4 << 20 };
    ai_weight *list[8 * 1024];
    int n = 0;
    for (int l = 0; l < m->hp.n_layer && n + 7 < (int)(sizeof list / sizeof list[0]); l++) {
        ai_layer *L = &m->layers[l];
        ai_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < 7; i++) list[n++] = ws[i];
    }
    list[n++] = &m->output;
    bool small_pages = false;
    for (int i = 0; i < n; i++) {
        ai_weight *w = list[i];
        if (w->packed || w->rows % 4 || !ai_repack4_supported(w->type) || !ai_vec_dot4p_get(w->type, isa))
            continue;
        if (!small_pages) {
            const gguf_file *f = m->gguf;
            uintptr_t map = (uintptr_t)f->map & ~(uintptr_t)4095;
            madvise((void *)map, (uintptr_t)f->map + f->map_size - map, MADV_NOHUGEPAGE);
            small_pages = true;
        }
        size_t bytes = (size_t)w->rows * w->row_bytes, gb = 4 * w->row_bytes;
        w->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!w->packed) return -1;
        const int64_t groups = w->rows / 4, per_slice = SLICE_BYTES / gb > 0 ? SLICE_BYTES / gb : 1;
        uintptr_t released = ((uintptr_t)w->data + 4095) & ~(uintptr_t)4095; /* whole pages only */
        for (int64_t g = 0; g < groups; g += per_slice) {
            repack_job j = {w, g, g + per_slice < groups ? g + per_slice : groups};
            ai_pool_run_chunks(pool, repack_worker, &j, 4 * ai_pool_size(pool));
            uintptr_t e = ((uintptr_t)w->data + (size_t)j.g1 * gb) & ~(uintptr_t)4095;
            if (e > released) {
                madvise((void *)released, e - released, MADV_DONTNEED);
                released = e;
            }
        }
    }
    return 0;
}

/* Token t's embedding as floats. A tied embedding whose output copy was
 * repacked is read from that copy (the mapped original was dropped). */
static void embed_row(ai_state *st, int32_t t, float *out) {
    const ai_model *m = st->m;
    const ai_weight *e = &m->tok_embd;
    if (m->output.packed && m->output.data == e->data && st->unpack) {
        const int64_t g = t / 4;
        ai_unpack4(e->type, (const uint8_t *)m->output.packed + (size_t)g * 4 * e->row_bytes, e->cols, st->unpack,
                   e->row_bytes);
        ai_dequantize_row(e->type, st->unpack + (size_t)(t % 4) * e->row_bytes, out, e->cols);
        return;
    }
    ai_dequantize_row(e->type, (const uint8_t *)e->data + (size_t)t * e->row_bytes, out, e->cols);
}

static ai_state *state_new(const ai_model *m, const ai_settings *s, ai_error *err) {
    const ai_hparams *hp = &m->hp;
    ai_state *st = calloc(1, sizeof *st);
    if (!st) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    st->m = m;
    st->s = s;
    st->max_batch = s->prefill_chunk;
    int dkv = hp->n_head_kv * hp->head_dim, dq = hp->n_head * hp->head_dim;
    if (s->kv_type != AI_F32 && s->kv_type != AI_F16 && hp->head_dim % 32) {
        ai_error_set(err, "kv_type = %s needs a head size that is a multiple of 32 (this model: %d)",
                     ai_dtype_get(s->kv_type)->name, hp->head_dim);
        goto fail;
    }
    st->kv.type = s->kv_type;
    const ai_kv_layout kl = ai_settings_kv_layout(s);
    st->kv.rotating = kl.rotating;
    st->kv.window = kl.window;
    st->kv.n_slots = kl.n_slots;
    st->kv.row_bytes = ai_row_bytes(s->kv_type, dkv);
    st->kv.k = calloc((size_t)hp->n_layer, sizeof(uint8_t *));
    st->kv.v = calloc((size_t)hp->n_layer, sizeof(uint8_t *));
    if (!st->kv.k || !st->kv.v) goto oom;
    for (int l = 0; l < hp->n_layer; l++) {
        st->kv.k[l] = malloc(st->kv.row_bytes * (size_t)st->kv.n_slots);
        st->kv.v[l] = malloc(st->kv.row_bytes * (size_t)st->kv.n_slots);
        if (!st->kv.k[l] || !st->kv.v[l]) goto oom;
    }
    size_t B = (size_t)st->max_batch;
    int maxd = hp->n_embd > dq ? hp->n_embd : dq;
    if (hp->n_ff > maxd) maxd = hp->n_ff;
    st->x = malloc(B * hp->n_embd * sizeof(float));
    st->xb = malloc(B * maxd * sizeof(float));
    st->q = malloc(B * dq * sizeof(float));
    st->k = malloc(B * dkv * sizeof(float));
    st->v = malloc(B * dkv * sizeof(float));
    st->att_out = malloc(B * dq * sizeof(float));
    st->hb = malloc(B * hp->n_ff * sizeof(float));
    st->hb2 = malloc(B * hp->n_ff * sizeof(float));
    st->xq = malloc(B * (size_t)maxd * sizeof(float) + 4096);
    st->xp = aligned_alloc(64, B * ai_act_pairs(maxd) * sizeof(ai_act_pair));
    st->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    st->rope_cos = malloc(B * (hp->n_rot / 2) * sizeof(float));
    st->rope_sin = malloc(B * (hp->n_rot / 2) * sizeof(float));
    st->rope_inv_freq = malloc((size_t)(hp->n_rot / 2) * sizeof(double));
    if (!st->rope_inv_freq) goto oom;
    ai_rope_inv_freq(m, false, st->rope_inv_freq);
    if (hp->n_swa) {
        st->rope_cos_swa = malloc(B * (hp->n_rot / 2) * sizeof(float));
        st->rope_sin_swa = malloc(B * (hp->n_rot / 2) * sizeof(float));
        st->rope_inv_freq_swa = malloc((size_t)(hp->n_rot / 2) * sizeof(double));
        if (!st->rope_cos_swa || !st->rope_sin_swa || !st->rope_inv_freq_swa) goto oom;
        ai_rope_inv_freq(m, true, st->rope_inv_freq_swa);
    }
    for (uint32_t t = 0; t < AI_DTYPE_MAX; t++) {
        const ai_dtype_info *d = ai_dtype_get(t);
        if (!d || !d->weight) continue;
        ai_cpu_kernels *k = &st->kt[t];
        k->vec_type = ai_vec_type(t);
        k->dot = ai_vec_dot_get(t, s->isa);
        k->dot4 = s->matmul_rows == 4 ? ai_vec_dot4_get(t, s->isa) : NULL;
        k->dot4p = ai_vec_dot4p_get(t, s->isa);
    }
    if (s->gemm && st->max_batch >= s->gemm_min_tokens && ai_gemm_supported(AI_Q8_0, 64, s->isa)) {
        st->gemm_act = aligned_alloc(64, (B + AI_GEMM_TOKENS - 1) / AI_GEMM_TOKENS * ai_gemm_act_bytes(maxd));
        st->gemm_w = aligned_alloc(64, (size_t)s->threads * AI_GEMM_CHUNK_ROWS * ai_gemm_row_bytes(maxd));
        if (!st->gemm_act || !st->gemm_w) goto oom;
    }
    if (ai_vec_kernels_get(&st->vk, s->kv_type, s->isa)) {
        ai_error_set(err, "kv_type %u is not supported", s->kv_type);
        goto fail;
    }
    st->pool = ai_pool_new(s->threads, s->spin);
    if (!st->pool) goto oom;
    if (s->repack) {
        /* the model is the caller's, not const storage: packed copies are
         * added to it once */
        if (repack_weights((ai_model *)(uintptr_t)m, st->pool, s->isa)) goto oom;
        st->unpack_bytes = (size_t)(maxd / 32 + 1) * 34 * 4;
        st->unpack = malloc((size_t)s->threads * st->unpack_bytes);
        if (!st->unpack) goto oom;
    }
    st->att = aligned_alloc(64, (size_t)s->threads * ai_vec_attend_scratch(hp->head_dim, st->kv.n_slots + 16) * sizeof(float));
    if (!st->x || !st->xb || !st->q || !st->k || !st->v || !st->att_out ||
        !st->hb || !st->hb2 || !st->xq || !st->xp || !st->logits || !st->rope_cos || !st->rope_sin ||
        !st->att)
        goto oom;
    return st;
oom:
    ai_error_set(err, "out of memory allocating the KV cache and activations (ctx %d)", s->ctx);
fail:
    state_free(st);
    return NULL;
}

/* ---- building blocks --------------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps) */
static float rms_scale(const float *x, int n, float eps) {
    /* eight partial sums: a single chain of n dependent adds was ~1 % of
     * a small model's decode */
    double ss[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) ss[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++) ss[0] += (double)x[i] * x[i];
    double sum = ((ss[0] + ss[1]) + (ss[2] + ss[3])) + ((ss[4] + ss[5]) + (ss[6] + ss[7]));
    return (float)(1.0 / sqrt(sum / n + eps));
}

static void rmsnorm(float *restrict out, const float *restrict x, const float *restrict w, int n, float eps) {
    const float scale = rms_scale(x, n, eps);
    int i;
    /* 16 at a time, so that the compiler vectorizes it: the weights come
     * cold from memory each token, and fewer instructions per line keep
     * more of their loads in flight */
    for (i = 0; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) out[i + k] = x[i + k] * scale * w[i + k];
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* QK-norm: each of the n_heads heads of v normalized in place. */
static void rmsnorm_heads(float *v, int n_heads, int head_dim, const float *w, float eps) {
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        const float scale = rms_scale(x, head_dim, eps);
        for (int i = 0; i < head_dim; i++) x[i] *= scale * w[i];
    }
}

/* x += rmsnorm(y) * w: a block's output normalized before its residual
 * add (gemma3's post-norms). */
static void add_rmsnorm(float *restrict x, const float *restrict y, const float *restrict w, int n, float eps) {
    const float scale = rms_scale(y, n, eps);
    for (int i = 0; i < n; i++) x[i] += y[i] * scale * w[i];
}

/* Rotates pairs of each head in place. Normal ordering pairs (2i, 2i+1);
 * NeoX pairs (i, i + n_rot/2). cos/sin hold the n_rot/2 angles. */
static void rope(float *v, int n_heads, int head_dim, int n_rot, bool neox,
                 const float *cos_t, const float *sin_t) {
    int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + h * head_dim;
        for (int i = 0; i < half; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = x[a], x1 = x[b];
            x[a] = x0 * cos_t[i] - x1 * sin_t[i];
            x[b] = x0 * sin_t[i] + x1 * cos_t[i];
        }
    }
}

/* Angles of position pos: theta_i = pos * base^(-2i/n_rot) / factor_i, the
 * per-dimension part precomputed in inv_freq. */
static void rope_angles(const ai_state *st, const double *inv_freq, int pos, float *cos_t, float *sin_t) {
    for (int i = 0; i < st->m->hp.n_rot / 2; i++) {
        double theta = pos * inv_freq[i];
        cos_t[i] = (float)cos(theta);
        sin_t[i] = (float)sin(theta);
    }
}

/* y[t][r] = W[r] · x[t] (+ bias[r]) for up to three weights that share the
 * input, so one pool job (one barrier) covers q, k and v, or gate and up.
 * The epilogue folds the next step into the same job: MM_ADD accumulates
 * into y (the residual stream), MM_GLU turns the gate/up pair into
 * act(gate) * up on each thread's own rows (act: SiLU, or GELU for the
 * models that use it). */
typedef enum { MM_STORE, MM_ADD, MM_GLU } mm_epilogue;

typedef struct {
    int n_w, n_tok;
    mm_epilogue epi;
    const ai_weight *w[3];
    const float *bias[3];
    float *y[3];
    const void *xq;
    size_t xq_stride;
    const ai_act_pair *xp;  /* xq prepared for dot4p, ai_act_pairs(cols) per token */
    ai_vec_dot_fn dot[3];
    ai_vec_dot4_fn dot4[3]; /* four rows per call, or NULL */
    ai_vec_dot4p_fn dot4p[3]; /* repacked groups of four rows, or NULL */
    bool gemm;              /* batched path: xq holds prepared tokens (gemm.h) */
    uint8_t *unpack;        /* per-thread rows unpacked from a repacked group */
    size_t unpack_bytes;
    uint8_t *gemm_w;        /* per-thread expansion buffers */
    int prefetch;           /* knob prefetch: KiB ahead */
    void (*glu)(float *g, const float *u, int n); /* MM_GLU's activation */
} matmul_job;

/* Thread ith's rows of a matrix with `rows` rows: contiguous, in multiples
 * of 16 rows so that threads never share a cache line of output. */
static void split_rows(int64_t rows, int ith, int nth, int64_t *r0, int64_t *r1) {
    int64_t units = (rows + 15) / 16, per = units / nth, extra = units % nth;
    int64_t u0 = ith * per + (ith < extra ? ith : extra), u1 = u0 + per + (ith < extra);
    *r0 = u0 * 16 < rows ? u0 * 16 : rows;
    *r1 = u1 * 16 < rows ? u1 * 16 : rows;
}

/* Expands the AI_GEMM_ROWS rows from r (nr < AI_GEMM_ROWS: the last row
 * repeated) of weight w into dst, on thread ith. */
static void gemm_expand(const matmul_job *j, const ai_weight *w, int64_t r, int nr, uint8_t *dst, int ith) {
    const int64_t n = w->cols;
    const uint8_t *grp = w->packed ? (const uint8_t *)w->packed + (size_t)r * w->row_bytes : NULL;
    if (grp && ai_gemm_expand_group(w->type, grp, n, dst)) return;
    const uint8_t *src = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (grp) { /* whole groups only (rows % 4 == 0) */
        src = j->unpack + (size_t)ith * j->unpack_bytes;
        ai_unpack4(w->type, grp, n, (uint8_t *)src, w->row_bytes);
    }
    for (int k = 0; k < AI_GEMM_ROWS; k++)
        ai_gemm_expand_row(w->type, src + (size_t)(k < nr ? k : nr - 1) * w->row_bytes, n,
                           dst + k * ai_gemm_row_bytes(n));
}

/* y[t][r] for 4 rows x up to 48 tokens at a time. AI_GEMM_CHUNK_ROWS rows are
 * expanded at once (gemm.h), then every three 16-token groups go over them:
 * their prepared activations (60 bytes per column) stay in L1 up to 768
 * columns while the expanded rows stream from L2: fewer bytes per product
 * than the other way round. */
static void gemm_rows(const matmul_job *j, int wi, int64_t r0, int64_t r1, int ith) {
    const ai_weight *w = j->w[wi];
    const int64_t n = w->cols;
    const size_t xb = ai_gemm_row_bytes(n), ab = ai_gemm_act_bytes(n);
    uint8_t *buf = j->gemm_w + (size_t)ith * AI_GEMM_CHUNK_ROWS * xb;
    const float *bias = j->bias[wi];
    float *y = j->y[wi];
    for (int64_t c0 = r0; c0 < r1; c0 += AI_GEMM_CHUNK_ROWS) {
        int64_t c1 = r1 - c0 < AI_GEMM_CHUNK_ROWS ? r1 : c0 + AI_GEMM_CHUNK_ROWS;
        for (int64_t r = c0; r < c1; r += AI_GEMM_ROWS)
            gemm_expand(j, w, r, c1 - r < AI_GEMM_ROWS ? (int)(c1 - r) : AI_GEMM_ROWS, buf + (r - c0) * xb, ith);
        const int groups = (j->n_tok + AI_GEMM_TOKENS - 1) / AI_GEMM_TOKENS;
        for (int q = 0, ng; q < groups; q += ng) {
            /* up to three groups per tile; four left go as two pairs, as a
             * group alone runs at ~2/3 of the speed (gemm.c) */
            ng = groups - q == 4 ? 2 : groups - q < AI_GEMM_GROUPS ? groups - q : AI_GEMM_GROUPS;
            const int t = q * AI_GEMM_TOKENS;
            const int nt = j->n_tok - t < ng * AI_GEMM_TOKENS ? j->n_tok - t : ng * AI_GEMM_TOKENS;
            const uint8_t *act = (const uint8_t *)j->xq + (size_t)q * ab;
            for (int64_t r = c0; r < c1; r += AI_GEMM_ROWS) {
                int nr = c1 - r < AI_GEMM_ROWS ? (int)(c1 - r) : AI_GEMM_ROWS;
                ai_gemm_out o = {y + (size_t)t * w->rows + r, (size_t)w->rows, bias ? bias + r : NULL,
                                 j->epi == MM_ADD};
                ai_gemm_tile(buf + (r - c0) * xb, act, n, nt, nr, &o);
            }
        }
    }
}

/* Rows per call of a repacked kernel: few enough for one token's outputs
 * (and, with several tokens, the run's weights) to stay in L1. */
#define DOT4P_RUN 64

/* Chunk ith of nth of a product job (every weight's rows split alike), on
 * thread tid. */
static void matmul_worker(void *ctx, int ith, int nth, int tid) {
    const matmul_job *j = ctx;
    for (int wi = 0; j->gemm && wi < j->n_w; wi++) {
        int64_t r0, r1;
        split_rows(j->w[wi]->rows, ith, nth, &r0, &r1);
        gemm_rows(j, wi, r0, r1, tid);
    }
    for (int wi = 0; !j->gemm && wi < j->n_w; wi++) {
        const ai_weight *w = j->w[wi];
        int64_t r0, r1;
        split_rows(w->rows, ith, nth, &r0, &r1);
        const uint8_t *base = w->data;
        const float *bias = j->bias[wi];
        float *y = j->y[wi];
        const ai_vec_dot_fn dot = j->dot[wi];
        const ai_vec_dot4_fn dot4 = j->dot4[wi];
        const ai_vec_dot4p_fn dot4p = j->dot4p[wi];
        /* the distance is in bytes: the best one depends on the memory
         * system, not on the row length (measured: 8-16 KiB here) */
        const size_t pf = (size_t)j->prefetch * 1024, gb = 4 * w->row_bytes;
        int64_t r = r0;
        /* repacked: one sequential stream, DOT4P_RUN rows per kernel call
         * (with several tokens, each run is reused from cache) */
        for (; dot4p && r < r1; r += DOT4P_RUN) {
            const int64_t nr = r1 - r < DOT4P_RUN ? r1 - r : DOT4P_RUN;
            const uint8_t *grp = (const uint8_t *)w->packed + (size_t)r * w->row_bytes;
            for (int t = 0; t < j->n_tok; t++) {
                float v[DOT4P_RUN];
                /* the kernel prefetches as it goes, the first token only */
                dot4p(grp, j->xp + (size_t)t * ai_act_pairs(w->cols), w->cols, nr / 4, t ? 0 : pf, v);
                float *yt = y + (size_t)t * w->rows + r;
                const float *bt = bias ? bias + r : NULL;
                if (j->epi == MM_ADD)
                    for (int64_t k = 0; k < nr; k++) yt[k] += v[k] + (bt ? bt[k] : 0.0f);
                else
                    for (int64_t k = 0; k < nr; k++) yt[k] = v[k] + (bt ? bt[k] : 0.0f);
            }
        }
        for (; dot4 && r + 4 <= r1; r += 4) {
            const uint8_t *row = base + (size_t)r * w->row_bytes;
            /* four interleaved short rows defeat the hardware prefetcher:
             * fetch ahead ourselves (a whole group at a time, so only
             * groups no longer than the distance: a longer burst stalls) */
            if (pf && gb <= pf && (size_t)(r1 - r) * w->row_bytes >= pf + gb)
                for (size_t o = 0; o < gb; o += 64) __builtin_prefetch(row + pf + o);
            for (int t = 0; t < j->n_tok; t++) {
                const void *x = (const uint8_t *)j->xq + (size_t)t * j->xq_stride;
                float v[4];
                dot4(row, w->row_bytes, x, w->cols, v);
                float *yt = y + (size_t)t * w->rows + r;
                for (int k = 0; k < 4; k++) {
                    float vk = v[k] + (bias ? bias[r + k] : 0.0f);
                    if (j->epi == MM_ADD) yt[k] += vk;
                    else yt[k] = vk;
                }
            }
        }
        for (; r < r1; r++) {
            const uint8_t *row = base + (size_t)r * w->row_bytes;
            float b = bias ? bias[r] : 0.0f;
            for (int t = 0; t < j->n_tok; t++) {
                const void *x = (const uint8_t *)j->xq + (size_t)t * j->xq_stride;
                float v = dot(row, x, w->cols) + b;
                if (j->epi == MM_ADD) y[(size_t)t * w->rows + r] += v;
                else y[(size_t)t * w->rows + r] = v;
            }
        }
    }
    if (j->epi == MM_GLU) {
        int64_t rows = j->w[0]->rows, r0, r1;
        split_rows(rows, ith, nth, &r0, &r1);
        for (int t = 0; t < j->n_tok && r1 > r0; t++)
            j->glu(j->y[0] + (size_t)t * rows + r0, j->y[1] + (size_t)t * rows + r0, (int)(r1 - r0));
    }
}

/* Groups of AI_GEMM_TOKENS tokens split across threads for
 * ai_gemm_prepare_act. */
typedef struct {
    const float *x;
    int64_t cols;
    int n_tok;
    void *dst;
    ai_isa isa;
} gemm_prep_job;

static void gemm_prep_worker(void *ctx, int ith, int nth, int tid) {
    const gemm_prep_job *g = ctx;
    (void)tid;
    int groups = (g->n_tok + AI_GEMM_TOKENS - 1) / AI_GEMM_TOKENS;
    for (int q = groups * ith / nth; q < groups * (ith + 1) / nth; q++) {
        int t0 = q * AI_GEMM_TOKENS, nt = g->n_tok - t0 < AI_GEMM_TOKENS ? g->n_tok - t0 : AI_GEMM_TOKENS;
        ai_gemm_prepare_act(g->x + (size_t)t0 * g->cols, g->cols, nt,
                            (uint8_t *)g->dst + (size_t)q * ai_gemm_act_bytes(g->cols), g->isa);
    }
}

/* Quantizes x (n_tok rows of w[0]->cols) once and runs the products. */
static void matmul(ai_state *st, int n_tok, const float *x, int n_w, const ai_weight **w,
                   const ai_weight **bias, float **y, mm_epilogue epi) {
    matmul_job j = {.n_w = n_w, .n_tok = n_tok, .epi = epi, .prefetch = st->s->prefetch,
                    .unpack = st->unpack, .unpack_bytes = st->unpack_bytes,
                    .glu = st->m->hp.gelu ? st->vk.geglu : st->vk.swiglu};
    int64_t cols = w[0]->cols;
    uint32_t vt = st->kt[w[0]->type].vec_type;
    for (int i = 0; i < n_w; i++) {
        const ai_cpu_kernels *k = &st->kt[w[i]->type];
        j.w[i] = w[i];
        j.bias[i] = bias && bias[i] && bias[i]->data ? bias[i]->data : NULL;
        j.y[i] = y[i];
        j.dot[i] = k->dot;
        j.dot4[i] = k->dot4;
        j.dot4p[i] = w[i]->packed ? k->dot4p : NULL;
        /* weights sharing an input must share the activation format */
        if (k->vec_type != vt) vt = AI_F32;
    }
    /* chunks of 16-row units that the threads claim as they come free */
    int64_t units = (w[0]->rows + 15) / 16;
    for (int i = 1; i < n_w; i++) units = (w[i]->rows + 15) / 16 < units ? (w[i]->rows + 15) / 16 : units;
    int n_chunks = ai_pool_size(st->pool) * st->s->chunks_per_thread;
    if (n_chunks > units) n_chunks = (int)units;
    if (n_chunks < 1) n_chunks = 1;
    bool gemm = st->gemm_act && n_tok >= st->s->gemm_min_tokens;
    for (int i = 0; i < n_w; i++) gemm = gemm && ai_gemm_supported(w[i]->type, cols, st->s->isa);
    if (gemm) {
        gemm_prep_job gp = {x, cols, n_tok, st->gemm_act, st->s->isa};
        int groups = (n_tok + AI_GEMM_TOKENS - 1) / AI_GEMM_TOKENS;
        ai_pool_run_chunks(st->pool, gemm_prep_worker, &gp, groups < n_chunks ? groups : n_chunks);
        j.gemm = true;
        j.gemm_w = st->gemm_w;
        j.xq = st->gemm_act;
        ai_pool_run_chunks(st->pool, matmul_worker, &j, n_chunks);
        return;
    }
    if (vt == AI_F32) {
        j.xq = x;
        j.xq_stride = (size_t)cols * sizeof(float);
        for (int i = 0; i < n_w; i++)
            if (st->kt[w[i]->type].vec_type != AI_F32) j.dot[i] = NULL;
    } else {
        /* the repacked kernels take prepared records, the others blocks */
        bool packed = false, plain = false;
        for (int i = 0; i < n_w; i++) {
            packed = packed || j.dot4p[i];
            plain = plain || !j.dot4p[i];
        }
        ai_quantize_fn q = ai_quantize_act_get(vt, st->s->isa);
        ai_act_pairs_fn qp = packed ? ai_act_pairs_get(vt, st->s->isa) : NULL;
        j.xq_stride = ai_row_bytes(vt, cols);
        for (int t = 0; t < n_tok; t++) {
            if (plain) q(x + (size_t)t * cols, (uint8_t *)st->xq + (size_t)t * j.xq_stride, cols);
            if (packed) qp(x + (size_t)t * cols, cols, st->xp + (size_t)t * ai_act_pairs(cols));
        }
        j.xq = st->xq;
        j.xp = st->xp;
    }
    /* Mixed activation formats in one job: fall back to separate products
     * (the GLU epilogue then runs once both halves are there). */
    for (int i = 0; i < n_w; i++) {
        if (!j.dot[i]) {
            for (int k = 0; k < n_w; k++)
                matmul(st, n_tok, x, 1, &w[k], bias ? &bias[k] : NULL, &y[k],
                       epi == MM_GLU ? MM_STORE : epi);
            if (epi == MM_GLU) j.glu(y[0], y[1], (int)(n_tok * w[0]->rows));
            return;
        }
    }
    ai_pool_run_chunks(st->pool, matmul_worker, &j, n_chunks);
}

/* Stores one position's K and V rows into the cache in its element type. */
static void kv_store(ai_state *st, int layer, int pos, const float *k, const float *v) {
    ai_kv_cache *kv = &st->kv;
    size_t slot = (size_t)(pos % kv->n_slots);
    int n = st->m->hp.n_head_kv * st->m->hp.head_dim;
    ai_quantize_row(kv->type, k, kv->k[layer] + slot * kv->row_bytes, n);
    ai_quantize_row(kv->type, v, kv->v[layer] + slot * kv->row_bytes, n);
}

typedef struct {
    ai_state *st;
    int layer, n_tok, pos;
    int parts;  /* work units per KV head (attn_parts) */
    int window; /* positions each token attends to (the cache's, or the
                   layer's sliding window when smaller) */
} attn_job;

/* The attention work units are (KV head, part of its group of query heads):
 * one-query attention reads the KV head's cached rows once per unit for all
 * of the unit's query heads, so a group is split only as far as it takes to
 * give every thread a near-equal number of query heads. With the KV heads a
 * multiple of the threads, one part each (1 thread: one unit per KV head);
 * else threads / gcd parts (SmolLM2's 3 KV heads of 3 at 2 threads: parts of
 * 1 and 2 heads, claimed in turn, 5 + 4 heads). At most 16 heads a part. */
static int attn_parts(int n_head_kv, int group, int threads) {
    int a = n_head_kv, b = threads;
    while (b) {
        int r = a % b;
        a = b;
        b = r;
    }
    int parts = threads / a;
    if (parts > group) parts = group;
    if (parts < (group + 15) / 16) parts = (group + 15) / 16;
    return parts;
}

/* Causal attention of n_tok new positions over the cache, work units
 * (attn_parts) claimed by the threads. The K/V kernels read the cache in its
 * element type. In a batch, up to 16 consecutive tokens of a head go together
 * (block attention: each cached row is read once for them, positions past a
 * token's own masked out); single tokens go through attend1 with all the
 * unit's query heads at once. */
static void attention_worker(void *ctx, int chunk, int n_chunks, int tid) {
    const attn_job *j = ctx;
    ai_state *st = j->st;
    const ai_hparams *hp = &st->m->hp;
    const ai_kv_cache *kv = &st->kv;
    const ai_vec_kernels *vk = &st->vk;
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    size_t head_bytes = ai_row_bytes(kv->type, hd), qs = (size_t)hp->n_head * hd;
    float *att = st->att + (size_t)tid * ai_vec_attend_scratch(hd, kv->n_slots + 16);
    const float scale = hp->attn_scale;
    const uint8_t *kc = kv->k[j->layer], *vc = kv->v[j->layer];
    for (int u = chunk; u < hp->n_head_kv * j->parts; u += n_chunks) {
        int kvh = u / j->parts, part = u % j->parts;
        int h0 = kvh * group + part * group / j->parts, h1 = kvh * group + (part + 1) * group / j->parts;
        size_t off = (size_t)kvh * head_bytes;
        int t = 0;
        /* blocks of up to 16 queries while every one sees all positions
         * from 0 (first == 0 for all); fewer than 8 queries are cheaper one
         * by one */
        for (; j->n_tok - t >= 8; t += 16) {
            int nq = j->n_tok - t < 16 ? j->n_tok - t : 16;
            if (j->pos + t + nq - 1 >= j->window) break;
            for (int h = h0; h < h1; h++)
                vk->attend(kc + off, vc + off, kv->row_bytes, j->pos + t, nq, st->q + ((size_t)t * hp->n_head + h) * hd,
                           qs, st->att_out + ((size_t)t * hp->n_head + h) * hd, qs, hd, scale, att);
        }
        for (; t < j->n_tok; t++) {
            int p = j->pos + t;
            int first = p >= j->window ? p - j->window + 1 : 0;
            size_t qo = ((size_t)t * hp->n_head + h0) * hd;
            vk->attend1(kc + off, vc + off, kv->row_bytes, kv->n_slots, first % kv->n_slots, p - first + 1,
                        h1 - h0, st->q + qo, st->att_out + qo, hd, scale, att);
        }
    }
}

/* ---- the forward pass ---------------------------------------------------- */

/* x += W . in for n tokens; with a post-norm (gemma3), x += rmsnorm(W . in)
 * instead, the product going through xb. */
static void project_residual(ai_state *st, int n, const float *in, const ai_weight *w, const ai_weight *post_norm) {
    const ai_hparams *hp = &st->m->hp;
    if (!post_norm->data) {
        matmul(st, n, in, 1, &w, NULL, &st->x, MM_ADD);
        return;
    }
    matmul(st, n, in, 1, &w, NULL, &st->xb, MM_STORE);
    for (int t = 0; t < n; t++)
        add_rmsnorm(st->x + (size_t)t * hp->n_embd, st->xb + (size_t)t * hp->n_embd, post_norm->data, hp->n_embd,
                    hp->rms_eps);
}

static int forward(ai_state *st, const int32_t *tokens, int n, int pos, bool all_logits,
                   ai_error *err) {
    const ai_model *m = st->m;
    const ai_hparams *hp = &m->hp;
    const int d = hp->n_embd, hd = hp->head_dim;
    const int dq = hp->n_head * hd, dkv = hp->n_head_kv * hd, half = hp->n_rot / 2;
    const int parts = attn_parts(hp->n_head_kv, hp->n_head / hp->n_head_kv, ai_pool_size(st->pool));
    if (n < 1 || n > st->max_batch)
        return ai_error_set(err, "forward: batch of %d tokens (1..%d allowed)", n, st->max_batch);
    if (!st->kv.rotating && pos + n > st->kv.n_slots)
        return ai_error_set(err, "context overflow: %d tokens do not fit the context of %d "
                            "(raise ctx in pipeline.conf or shorten the prompt)",
                            pos + n, st->kv.n_slots);

    /* token embeddings */
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= hp->n_vocab)
            return ai_error_set(err, "token id %d is outside the vocabulary (0..%d)", tokens[t],
                                hp->n_vocab - 1);
        float *x = st->x + (size_t)t * d;
        embed_row(st, tokens[t], x);
        if (hp->embd_scale != 1.0f)
            for (int i = 0; i < d; i++) x[i] *= hp->embd_scale;
        rope_angles(st, st->rope_inv_freq, pos + t, st->rope_cos + (size_t)t * half, st->rope_sin + (size_t)t * half);
        if (hp->n_swa)
            rope_angles(st, st->rope_inv_freq_swa, pos + t, st->rope_cos_swa + (size_t)t * half,
                        st->rope_sin_swa + (size_t)t * half);
    }

    for (int l = 0; l < hp->n_layer; l++) {
        const ai_layer *L = &m->layers[l];

        /* attention: norm, q/k/v, (qk-norm), rope, cache, attend, project,
         * (post-norm), residual */
        for (int t = 0; t < n; t++)
            rmsnorm(st->xb + (size_t)t * d, st->x + (size_t)t * d, L->attn_norm.data, d, hp->rms_eps);
        const ai_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        const ai_weight *qkv_b[3] = {&L->bq, &L->bk, &L->bv};
        float *qkv_out[3] = {st->q, st->k, st->v};
        matmul(st, n, st->xb, 3, qkv, qkv_b, qkv_out, MM_STORE);
        const float *cos_l = L->swa ? st->rope_cos_swa : st->rope_cos;
        const float *sin_l = L->swa ? st->rope_sin_swa : st->rope_sin;
        for (int t = 0; t < n; t++) {
            float *q = st->q + (size_t)t * dq, *k = st->k + (size_t)t * dkv;
            if (L->q_norm.data) {
                rmsnorm_heads(q, hp->n_head, hd, L->q_norm.data, hp->rms_eps);
                rmsnorm_heads(k, hp->n_head_kv, hd, L->k_norm.data, hp->rms_eps);
            }
            const float *c = cos_l + (size_t)t * half, *s = sin_l + (size_t)t * half;
            rope(q, hp->n_head, hd, hp->n_rot, hp->rope_neox, c, s);
            rope(k, hp->n_head_kv, hd, hp->n_rot, hp->rope_neox, c, s);
            kv_store(st, l, pos + t, k, st->v + (size_t)t * dkv);
        }
        attn_job aj = {st, l, n, pos, parts, st->kv.window};
        if (L->swa && hp->n_swa < aj.window) aj.window = hp->n_swa;
        ai_pool_run_chunks(st->pool, attention_worker, &aj, hp->n_head_kv * parts);
        project_residual(st, n, st->att_out, &L->wo, &L->attn_post_norm); /* x += wo . att */

        /* MLP: norm, act(gate) * up, down, (post-norm), residual */
        for (int t = 0; t < n; t++)
            rmsnorm(st->xb + (size_t)t * d, st->x + (size_t)t * d, L->ffn_norm.data, d, hp->rms_eps);
        const ai_weight *gu[2] = {&L->w_gate, &L->w_up};
        float *gu_out[2] = {st->hb, st->hb2};
        matmul(st, n, st->xb, 2, gu, NULL, gu_out, MM_GLU); /* hb = act(gate) * up */
        project_residual(st, n, st->hb, &L->w_down, &L->ffn_post_norm); /* x += down . hb */
    }

    /* final norm and the output head */
    int first = all_logits ? 0 : n - 1, n_out = n - first;
    for (int t = first; t < n; t++)
        rmsnorm(st->xb + (size_t)(t - first) * d, st->x + (size_t)t * d, m->output_norm.data, d,
                hp->rms_eps);
    float *out = st->logits;
    if (all_logits) {
        if (!st->logits_all) {
            /* allocated on first use: generation never needs it */
            st->logits_all = malloc((size_t)st->max_batch * hp->n_vocab * sizeof(float));
            if (!st->logits_all) return ai_error_set(err, "out of memory for logits");
        }
        out = st->logits_all;
    }
    const ai_weight *wout = &m->output;
    matmul(st, n_out, st->xb, 1, &wout, NULL, &out, MM_STORE);
    if (hp->logit_softcap > 0) {
        const float c = hp->logit_softcap;
        for (size_t i = 0; i < (size_t)n_out * hp->n_vocab; i++) out[i] = c * tanhf(out[i] / c);
    }
    return 0;
}

/* ---- the backend ------------------------------------------------------- */

typedef struct {
    ai_backend b;
    ai_state *st;
} cpu_backend;

static int cpu_forward(ai_backend *b, const int32_t *tokens, int n, int pos, bool all_logits,
                       ai_error *err) {
    cpu_backend *c = (cpu_backend *)b;
    if (forward(c->st, tokens, n, pos, all_logits, err)) return -1;
    b->logits_all = c->st->logits_all; /* allocated on first use */
    return 0;
}

static uint64_t cpu_device_bytes(const ai_backend *b) {
    (void)b;
    return 0;
}

static void cpu_free(ai_backend *b) {
    if (!b) return;
    state_free(((cpu_backend *)b)->st);
    free(b);
}

ai_backend *ai_cpu_backend_new(ai_model *m, const ai_settings *s, ai_error *err) {
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    c->st = state_new(m, s, err);
    if (!c->st) {
        free(c);
        return NULL;
    }
    ai_backend *b = &c->b;
    b->name = "cpu";
    snprintf(b->device, sizeof b->device, "CPU, %s kernels, %d threads", ai_isa_name(s->isa), s->threads);
    b->max_batch = c->st->max_batch;
    b->kv_rotating = c->st->kv.rotating;
    b->logits = c->st->logits;
    b->forward = cpu_forward;
    b->decode_greedy = NULL;
    b->decode_sample = NULL;
    b->device_bytes = cpu_device_bytes;
    b->free = cpu_free;
    return b;
}
