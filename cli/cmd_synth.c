/* cmd_synth.c — `autoinfer synth`: a GGUF with random weights and the real
 * shape of a known model, in a chosen weight type, so that speed can be
 * measured at the seed's model sizes where no real weights ship, and tiny
 * models of each architecture that llama.cpp also reads (the tests compare
 * the two engines' logits on them: a check of the arithmetic, not of
 * quality). The tokenizer is copied from a real GGUF. Never use one to
 * judge quality. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "commands.h"
#include "gguf.h"
#include "quant.h"

typedef struct {
    const char *name, *arch;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    int head_dim;        /* attention.key_length; 0: n_embd / n_head */
    float rope_base, eps;
    bool qkv_bias, llama3_rope;
    bool qk_norm;        /* attn_q_norm / attn_k_norm (qwen3) */
    bool fused;          /* attn_qkv and a double-height ffn_up (phi3) */
    bool untied;         /* its own output.weight */
    bool post_norms;     /* post_attention_norm / post_ffw_norm (gemma3) */
    int sliding_window;  /* attention.sliding_window (gemma3: every 6th layer global) */
    float rope_linear;   /* rope.scaling.type linear with this factor (0: no scaling keys) */
    float spread;        /* of the matrices' weights; 0: 0.035 (~N(0, 0.02)) */
} shape;

/* The tiny shapes take the default tokenizer's 49 152 tokens and larger
 * weights (peaked distributions, so that a wrong step moves the logits far
 * beyond rounding). */
static const shape SHAPES[] = {
    {"smollm2-135m", "llama", 576, 30, 9, 3, 1536, 49152, 8192, .rope_base = 100000.0f, .eps = 1e-5f},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, .rope_base = 1000000.0f, .eps = 1e-6f,
     .qkv_bias = true},
    {"llama3.2-3b", "llama", 3072, 28, 24, 8, 8192, 128256, 131072, .rope_base = 500000.0f, .eps = 1e-5f,
     .llama3_rope = true},
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 151936, 40960, .head_dim = 128, .rope_base = 1000000.0f,
     .eps = 1e-6f, .qk_norm = true},
    {"phi3-mini", "phi3", 3072, 32, 32, 32, 8192, 32064, 4096, .rope_base = 10000.0f, .eps = 1e-5f,
     .fused = true, .untied = true},
    {"qwen3-tiny", "qwen3", 256, 4, 8, 4, 768, 49152, 4096, .head_dim = 64, .rope_base = 1000000.0f,
     .eps = 1e-6f, .qk_norm = true, .spread = 0.15f},
    {"phi3-tiny", "phi3", 256, 4, 8, 8, 768, 49152, 4096, .rope_base = 10000.0f, .eps = 1e-5f,
     .fused = true, .untied = true, .spread = 0.15f},
    /* a window of 32 so that a short text already slides */
    {"gemma3-tiny", "gemma3", 256, 6, 4, 1, 768, 49152, 4096, .head_dim = 64, .rope_base = 1000000.0f,
     .eps = 1e-6f, .qk_norm = true, .post_norms = true, .sliding_window = 32, .spread = 0.15f},
    /* linear RoPE scaling as the converters write it: DeepSeek-Coder's
     * factor 4 (llama); Gemma 3 4B+'s factor 8, which only the global
     * layers take */
    {"deepseek-coder-tiny", "llama", 256, 4, 8, 4, 768, 49152, 16384, .rope_base = 100000.0f, .eps = 1e-6f,
     .rope_linear = 4.0f, .spread = 0.15f},
    {"gemma3-scaled-tiny", "gemma3", 256, 6, 4, 1, 768, 49152, 4096, .head_dim = 64, .rope_base = 1000000.0f,
     .eps = 1e-6f, .qk_norm = true, .post_norms = true, .sliding_window = 32, .rope_linear = 8.0f, .spread = 0.15f},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Like llama.cpp's mixes: a 256-block type falls back to a 32-block type
 * of similar size where the row length is not a multiple of 256. */
static uint32_t type_for_row(uint32_t want, int64_t cols) {
    if (ai_row_bytes(want, cols)) return want;
    switch (want) {
    case AI_Q4_K: return AI_Q5_0;
    case AI_Q5_K: return AI_Q5_1;
    default: return AI_Q8_0;
    }
}

typedef struct {
    uint64_t s;
} rng;

static float uniform(rng *r) { /* in [-1, 1) */
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (float)((r->s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* One random tensor, quantized row by row. Returns the data (caller frees). */
static void *make_tensor(gguf_writer *w, const char *name, uint32_t type, int64_t cols,
                         int64_t rows, float center, float spread, rng *r) {
    if (rows > 1) type = type_for_row(type, cols);
    else type = AI_F32;
    size_t rb = ai_row_bytes(type, cols);
    uint8_t *data = malloc(rb * (size_t)rows);
    float *row = malloc((size_t)cols * sizeof *row);
    if (!data || !row) {
        free(data);
        free(row);
        return NULL;
    }
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) row[j] = center + spread * uniform(r);
        ai_quantize_row(type, row, data + (size_t)i * rb, cols);
    }
    free(row);
    int64_t ne[2] = {cols, rows};
    gguf_writer_tensor(w, name, type, rows > 1 ? 2 : 1, ne, data, rb * (size_t)rows);
    return data;
}

static void usage(FILE *out) {
    fprintf(out, "usage: autoinfer synth --shape NAME --type TYPE -o OUT.gguf [--vocab-from GGUF] [--seed N]\n"
                 "  shapes:");
    for (size_t i = 0; i < N_SHAPES; i++) fprintf(out, " %s", SHAPES[i].name);
    fprintf(out, "\n  types: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k\n"
                 "  --vocab-from: the GGUF whose tokenizer is copied (default "
                 "models/SmolLM2-135M-Instruct.Q4_1.gguf)\n");
}

int ai_cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {
        {"shape", required_argument, 0, 's'}, {"type", required_argument, 0, 'T'},
        {"output", required_argument, 0, 'o'}, {"vocab-from", required_argument, 0, 'v'},
        {"seed", required_argument, 0, 'S'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *shape_name = NULL, *type_name = NULL, *out = NULL;
    const char *vocab = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    long seed = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': shape_name = optarg; break;
        case 'T': type_name = optarg; break;
        case 'o': out = optarg; break;
        case 'v': vocab = optarg; break;
        case 'S': if (ai_cli_parse_long("synth", "--seed", optarg, 0, LONG_MAX, &seed)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!shape_name || !type_name || !out || optind < argc) {
        usage(stderr);
        return 2;
    }
    const shape *sh = NULL;
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(SHAPES[i].name, shape_name)) sh = &SHAPES[i];
    if (!sh) {
        fprintf(stderr, "autoinfer synth: unknown shape '%s'\n", shape_name);
        usage(stderr);
        return 2;
    }
    int type = ai_dtype_from_name(type_name);
    if (type < 0 || !ai_dtype_get((uint32_t)type)->weight) {
        fprintf(stderr, "autoinfer synth: '%s' is not a weight type this engine computes with\n", type_name);
        usage(stderr);
        return 2;
    }
    ai_error err;
    /* the largest shape takes minutes to build: a path that cannot be written fails first */
    if (gguf_writer_check_path(out, &err)) {
        fprintf(stderr, "autoinfer synth: %s\n", err.msg);
        return 1;
    }
    gguf_file *vf = gguf_open(vocab, &err);
    if (!vf) {
        fprintf(stderr, "autoinfer synth: tokenizer source: %s\n", err.msg);
        return 1;
    }
    gguf_writer *w = gguf_writer_new();
    const char *a = sh->arch;
    char key[128];
    gguf_writer_str(w, "general.architecture", a);
    /* The shape goes in the description, not the name: llama.cpp changes
     * the vocabulary's token attributes by words in general.name ("phi3"
     * wants a SentencePiece vocabulary's "</s>"). */
    char desc[160];
    snprintf(desc, sizeof desc, "autoinfer synth --shape %s --type %s --seed %ld", sh->name, type_name, seed);
    gguf_writer_str(w, "general.name", "synthetic (random weights)");
    gguf_writer_str(w, "general.description", desc);
#define KEY(s) (snprintf(key, sizeof key, "%s." s, a), key)
    gguf_writer_u32(w, KEY("context_length"), (uint32_t)sh->n_ctx);
    gguf_writer_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_writer_u32(w, KEY("block_count"), (uint32_t)sh->n_layer);
    gguf_writer_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_writer_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_writer_u32(w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_writer_f32(w, KEY("rope.freq_base"), sh->rope_base);
    gguf_writer_f32(w, KEY("attention.layer_norm_rms_epsilon"), sh->eps);
    if (sh->sliding_window) gguf_writer_u32(w, KEY("attention.sliding_window"), (uint32_t)sh->sliding_window);
    if (sh->rope_linear) {
        gguf_writer_str(w, KEY("rope.scaling.type"), "linear");
        gguf_writer_f32(w, KEY("rope.scaling.factor"), sh->rope_linear);
    }
    if (sh->head_dim) {
        gguf_writer_u32(w, KEY("attention.key_length"), (uint32_t)sh->head_dim);
        gguf_writer_u32(w, KEY("attention.value_length"), (uint32_t)sh->head_dim);
    }
#undef KEY
    for (uint64_t i = 0; i < vf->n_kv; i++)
        if (vf->kvs[i].key.len > 10 && !memcmp(vf->kvs[i].key.ptr, "tokenizer.", 10))
            gguf_writer_copy_kv(w, &vf->kvs[i]);

    void **blobs = calloc((size_t)sh->n_layer * 16 + 8, sizeof *blobs);
    int nb = 0, rc = 1;
    rng r = {(uint64_t)seed * 2654435761u + 88172645463325252ull};
    const int64_t d = sh->n_embd, hd = sh->head_dim ? sh->head_dim : sh->n_embd / sh->n_head;
    const int64_t dq = sh->n_head * hd, dkv = sh->n_head_kv * hd;
    const float ws = sh->spread > 0 ? sh->spread : 0.035f;
    float *freqs = NULL;
    if (!blobs) goto done;
    if (!(blobs[nb++] = make_tensor(w, "token_embd.weight", (uint32_t)type, d, sh->n_vocab, 0, ws, &r)) ||
        !(blobs[nb++] = make_tensor(w, "output_norm.weight", AI_F32, d, 1, 1.0f, 0.1f, &r)))
        goto oom;
    if (sh->untied && !(blobs[nb++] = make_tensor(w, "output.weight", (uint32_t)type, d, sh->n_vocab, 0, ws, &r)))
        goto oom;
    if (sh->llama3_rope) {
        /* Llama 3.x rope frequency factors (factor 32, original context 8192) */
        freqs = malloc((size_t)(hd / 2) * sizeof *freqs);
        if (!freqs) goto oom;
        for (int64_t i = 0; i < hd / 2; i++) {
            double freq = pow(sh->rope_base, -2.0 * i / hd), wavelen = 2 * M_PI / freq;
            double lo = 8192.0 / 1.0, hi = 8192.0 / 4.0;
            if (wavelen < hi) freqs[i] = 1.0f;
            else if (wavelen > lo) freqs[i] = 32.0f;
            else {
                double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
                freqs[i] = (float)(1.0 / ((1 - smooth) / 32.0 + smooth));
            }
        }
        int64_t ne[1] = {hd / 2};
        gguf_writer_tensor(w, "rope_freqs.weight", AI_F32, 1, ne, freqs, (size_t)(hd / 2) * sizeof(float));
    }
    for (int l = 0; l < sh->n_layer; l++) {
        char n[96];
#define T(suffix, cols, rows, center, spread)                                             \
    snprintf(n, sizeof n, "blk.%d.%s", l, suffix);                                        \
    if (!(blobs[nb++] = make_tensor(w, n, (uint32_t)type, cols, rows, center, spread, &r))) \
        goto oom;
        T("attn_norm.weight", d, 1, 1.0f, 0.1f);
        if (sh->fused) {
            T("attn_qkv.weight", d, dq + 2 * dkv, 0, ws);
        } else {
            T("attn_q.weight", d, dq, 0, ws);
            T("attn_k.weight", d, dkv, 0, ws);
            T("attn_v.weight", d, dkv, 0, ws);
        }
        T("attn_output.weight", dq, d, 0, ws);
        if (sh->qk_norm) {
            T("attn_q_norm.weight", hd, 1, 1.0f, 0.1f);
            T("attn_k_norm.weight", hd, 1, 1.0f, 0.1f);
        }
        if (sh->post_norms) {
            T("post_attention_norm.weight", d, 1, 1.0f, 0.1f);
            T("post_ffw_norm.weight", d, 1, 1.0f, 0.1f);
        }
        if (sh->qkv_bias) {
            T("attn_q.bias", dq, 1, 0, 0.1f);
            T("attn_k.bias", dkv, 1, 0, 0.1f);
            T("attn_v.bias", dkv, 1, 0, 0.1f);
        }
        T("ffn_norm.weight", d, 1, 1.0f, 0.1f);
        if (sh->fused) {
            T("ffn_up.weight", d, 2 * sh->n_ff, 0, ws); /* gate rows, then up rows */
        } else {
            T("ffn_gate.weight", d, sh->n_ff, 0, ws);
            T("ffn_up.weight", d, sh->n_ff, 0, ws);
        }
        T("ffn_down.weight", sh->n_ff, d, 0, ws);
#undef T
    }
    if (gguf_writer_write(w, out, &err)) {
        fprintf(stderr, "autoinfer synth: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s: %s shape, %s weights (random; for speed only)\n", out, sh->name, type_name);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "autoinfer synth: out of memory building %s\n", sh->name);
done:
    for (int i = 0; i < nb; i++) free(blobs[i]);
    free(blobs);
    free(freqs);
    gguf_writer_free(w);
    gguf_close(vf);
    return rc;
}
