/* cmd_quantize.c — `autoinfer quantize IN OUT TYPE`: requantize a GGUF
 * model's weight matrices to another type.
 *
 * Every tensor of two or more dimensions whose row length is a multiple of
 * the target's block is dequantized row by row (engine/quant.c) and
 * quantized to the target; 1-D tensors (norms, biases) become F32; the
 * metadata is copied, with general.file_type set to match. A K type whose
 * 256-block does not divide a row falls back per tensor, as llama.cpp does:
 * Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. "q4_k_m" is the usual mix:
 * attn_v, ffn_down and the output matrix (token_embd when the embeddings
 * are tied) in Q6_K, every other matrix in Q4_K. "keep" converts nothing:
 * every tensor (1-D ones too) keeps its type and general.file_type is
 * copied, for use with --layers. --layers N keeps the first N blocks
 * (tensors blk.0.* .. blk.N-1.*; every other tensor is kept), sets
 * <arch>.block_count to N and cuts any numeric <arch>.* array with one
 * entry per block to its first N entries: a small real model for tests.
 * The file is written to OUT.tmp and renamed, so OUT is never half written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autoinfer.h"
#include "cliutil.h"
#include "commands.h"
#include "gguf.h"
#include "quant.h"

#define CMD "autoinfer quantize"

/* llama.cpp's llama_ftype values, for general.file_type. */
enum { FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8,
       FT_Q5_1 = 9, FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q6_K = 18, FT_BF16 = 32 };

typedef struct {
    const char *name;
    uint32_t type;      /* the type of ordinary matrices */
    uint32_t file_type; /* general.file_type */
    int mix_k_m;        /* q4_k_m: some matrices in Q6_K */
    int keep;           /* keep: no tensor converted, general.file_type copied */
} target;

static const target TARGETS[] = {
    {"f32", AI_F32, FT_ALL_F32, 0, 0},   {"f16", AI_F16, FT_F16, 0, 0},
    {"bf16", AI_BF16, FT_BF16, 0, 0},    {"q8_0", AI_Q8_0, FT_Q8_0, 0, 0},
    {"q4_0", AI_Q4_0, FT_Q4_0, 0, 0},    {"q4_1", AI_Q4_1, FT_Q4_1, 0, 0},
    {"q5_0", AI_Q5_0, FT_Q5_0, 0, 0},    {"q5_1", AI_Q5_1, FT_Q5_1, 0, 0},
    {"q4_k", AI_Q4_K, FT_Q4_K_S, 0, 0},  {"q5_k", AI_Q5_K, FT_Q5_K_S, 0, 0},
    {"q6_k", AI_Q6_K, FT_Q6_K, 0, 0},    {"q4_k_m", AI_Q4_K, FT_Q4_K_M, 1, 0},
    {"keep", 0, 0, 0, 1},
};
#define N_TARGETS (sizeof TARGETS / sizeof TARGETS[0])

static void usage(FILE *out) {
    fprintf(out,
        "usage: autoinfer quantize [options] IN OUT TYPE\n"
        "Requantize the weight matrices of GGUF model IN into OUT.\n"
        "  TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m keep\n"
        "        (q4_k_m: attn_v, ffn_down and the output matrix in q6_k, the rest q4_k;\n"
        "         a k type falls back per tensor when 256 does not divide the row:\n"
        "         q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0;\n"
        "         keep: every tensor keeps its type, general.file_type too)\n"
        "  1-D tensors (norms, biases) are stored as f32 (kept as they are with keep);\n"
        "  metadata is copied.\n"
        "  --layers N    keep only the first N blocks (blk.0 .. blk.N-1) and set\n"
        "                <arch>.block_count to N; every other tensor is kept\n"
        "                (e.g. --layers 4 IN OUT keep: a small real model for tests)\n"
        "  -q, --quiet   print only the summary line\n"
        "  -h, --help    this text\n");
}

static const target *find_target(const char *name) {
    for (size_t i = 0; i < N_TARGETS; i++)
        if (!strcasecmp(TARGETS[i].name, name)) return &TARGETS[i];
    return NULL;
}

static uint32_t k_fallback(uint32_t t) {
    switch (t) {
    case AI_Q4_K: return AI_Q5_0;
    case AI_Q5_K: return AI_Q5_1;
    case AI_Q6_K: return AI_Q8_0;
    default: return t;
    }
}

static bool name_has(const gguf_tensor *t, const char *s) {
    size_t n = strlen(s);
    for (uint64_t i = 0; i + n <= t->name.len; i++)
        if (!memcmp(t->name.ptr + i, s, n)) return true;
    return false;
}

/* The block index of a tensor named blk.<i>.*, or -1 for any other name. */
static long block_of(const gguf_tensor *t) {
    if (t->name.len < 5 || memcmp(t->name.ptr, "blk.", 4)) return -1;
    long v = 0;
    uint64_t i = 4;
    for (; i < t->name.len && t->name.ptr[i] >= '0' && t->name.ptr[i] <= '9' && v < 100000000; i++)
        v = v * 10 + (t->name.ptr[i] - '0');
    return i > 4 && i < t->name.len && t->name.ptr[i] == '.' ? v : -1;
}

/* Whether a metadata value is a numeric array (what --layers may cut). */
static bool numeric_array(const gguf_kv *kv) {
    return kv->type == GGUF_ARRAY && kv->arr_type != GGUF_STRING && kv->arr_type != GGUF_ARRAY;
}

static bool name_is(const gguf_tensor *t, const char *s) {
    return t->name.len == strlen(s) && !memcmp(t->name.ptr, s, t->name.len);
}

/* The type this tensor should get before any fallback. */
static uint32_t wanted_type(const target *tg, const gguf_tensor *t, bool has_output) {
    if (!tg->mix_k_m) return tg->type;
    if (name_has(t, "attn_v.weight") || name_has(t, "ffn_down.weight") ||
        name_is(t, "output.weight") || (!has_output && name_is(t, "token_embd.weight")))
        return AI_Q6_K;
    return tg->type;
}

static const char *tname(uint32_t type) {
    const ai_dtype_info *d = ai_dtype_get(type);
    return d ? d->name : "?";
}

/* Converts tensor t to type `to` into a new buffer of *size bytes. */
static void *convert(const gguf_tensor *t, uint32_t to, uint64_t *size) {
    int64_t n0 = t->ne[0], rows = 1;
    for (uint32_t d = 1; d < t->n_dims; d++) rows *= t->ne[d];
    size_t in_row = ai_row_bytes(t->type, n0), out_row = ai_row_bytes(to, n0);
    *size = (uint64_t)out_row * (uint64_t)rows;
    uint8_t *out = malloc(*size ? *size : 1);
    float *buf = malloc((size_t)n0 * sizeof(float));
    if (!out || !buf) {
        free(out);
        free(buf);
        return NULL;
    }
    const uint8_t *in = t->data;
    for (int64_t r = 0; r < rows; r++) {
        ai_dequantize_row(t->type, in + (size_t)r * in_row, buf, n0);
        ai_quantize_row(to, buf, out + (size_t)r * out_row, n0);
    }
    free(buf);
    return out;
}

int ai_cmd_quantize(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"quiet", no_argument, NULL, 'q'},
        {"layers", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
    bool quiet = false;
    long layers = 0; /* 0: all */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'q': quiet = true; break;
        case 'L': if (ai_cli_parse_long("quantize", "--layers", optarg, 1, 1000000, &layers)) return 2; break;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 3) {
        fprintf(stderr, "%s: expected IN OUT TYPE (got %d argument%s)\n", CMD, argc - optind,
                argc - optind == 1 ? "" : "s");
        usage(stderr);
        return 2;
    }
    const char *in_path = argv[optind], *out_path = argv[optind + 1], *type_name = argv[optind + 2];
    const target *tg = find_target(type_name);
    if (!tg) {
        char known[256] = "";
        for (size_t i = 0; i < N_TARGETS; i++) {
            strcat(known, TARGETS[i].name);
            if (i + 1 < N_TARGETS) strcat(known, ", ");
        }
        fprintf(stderr, "%s: unknown type '%s' (known: %s)\n", CMD, type_name, known);
        return 1;
    }
    ai_error err = {{0}};
    gguf_file *f = gguf_open(in_path, &err);
    if (!f) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    /* --layers: the source's <arch>.block_count, which N must not exceed. */
    char arch[64] = "", bc_key[96] = "";
    uint32_t n_blocks = 0;
    if (layers > 0) {
        if (gguf_get_str(f, "general.architecture", arch, sizeof arch, &err)) {
            fprintf(stderr, "%s: --layers needs general.architecture: %s\n", CMD, err.msg);
            gguf_close(f);
            return 1;
        }
        snprintf(bc_key, sizeof bc_key, "%s.block_count", arch);
        if (gguf_get_u32(f, bc_key, &n_blocks, &err)) {
            fprintf(stderr, "%s: --layers needs %s: %s\n", CMD, bc_key, err.msg);
            gguf_close(f);
            return 1;
        }
        if ((uint64_t)layers > n_blocks) {
            fprintf(stderr, "%s: --layers %ld: %s has only %u blocks (%s)\n", CMD, layers, in_path,
                    n_blocks, bc_key);
            gguf_close(f);
            return 1;
        }
    }
    /* Fail early (before minutes of work) when OUT cannot be written. */
    if (gguf_writer_check_path(out_path, &err)) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        gguf_close(f);
        return 1;
    }

    gguf_writer *w = gguf_writer_new();
    void **bufs = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *bufs);
    if (!w || !bufs) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        gguf_writer_free(w);
        free(bufs);
        gguf_close(f);
        return 1;
    }
    size_t arch_len = strlen(arch);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kvs[i];
        /* --layers: a numeric <arch>.* array with one entry per block keeps the first N */
        if (layers > 0 && numeric_array(kv) && kv->arr_n == n_blocks && kv->key.len > arch_len + 1 &&
            !memcmp(kv->key.ptr, arch, arch_len) && kv->key.ptr[arch_len] == '.') {
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 255 ? kv->key.len : 255), kv->key.ptr);
            gguf_writer_arr(w, key, kv->arr_type, kv->arr_data, (uint64_t)layers);
            if (!quiet)
                printf("cut: %s (%u -> %ld entries, one per block)\n", key, n_blocks, layers);
            continue;
        }
        gguf_writer_copy_kv(w, kv);
    }
    if (layers > 0) gguf_writer_u32(w, bc_key, (uint32_t)layers);
    if (!tg->keep) {
        gguf_writer_u32(w, "general.file_type", tg->file_type);
        bool quantized = tg->type != AI_F32 && tg->type != AI_F16 && tg->type != AI_BF16;
        if (quantized) gguf_writer_u32(w, "general.quantization_version", 2);
    }

    bool has_output = gguf_find_tensor(f, "output.weight") != NULL;
    uint64_t bytes_in = 0, bytes_out = 0;
    int n_conv = 0, n_kept = 0, n_fallback = 0, n_dropped = 0, rc = 0;
    for (uint64_t i = 0; i < f->n_tensors && rc == 0; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (layers > 0 && block_of(t) >= layers) {
            n_dropped++;
            continue;
        }
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 511 ? t->name.len : 511), t->name.ptr);
        const ai_dtype_info *src = ai_dtype_get(t->type);
        bool matrix = t->n_dims >= 2;
        if (tg->keep) { /* as it is, whatever its type */
            n_kept++;
            bytes_in += t->size;
            bytes_out += t->size;
            gguf_writer_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->size);
            continue;
        }
        uint32_t to = matrix ? wanted_type(tg, t, has_output) : AI_F32;
        const char *why = NULL;
        if (matrix && t->ne[0] % ai_dtype_get(to)->block) {
            uint32_t fb = k_fallback(to);
            if (fb != to && t->ne[0] % ai_dtype_get(fb)->block == 0) {
                if (!quiet)
                    printf("fallback: %s (row %lld not a multiple of 256): %s -> %s\n", name,
                           (long long)t->ne[0], tname(to), tname(fb));
                to = fb;
                n_fallback++;
            } else {
                why = "row length not a multiple of the block";
            }
        }
        if (!why && (!src || !src->weight)) why = "source type not supported";
        const void *data = t->data;
        uint64_t size = t->size;
        if (!why && to != t->type) {
            bufs[i] = convert(t, to, &size);
            if (!bufs[i]) {
                fprintf(stderr, "%s: out of memory converting '%s'\n", CMD, name);
                rc = 1;
                break;
            }
            data = bufs[i];
            n_conv++;
        } else {
            if (why && !quiet)
                printf("kept: %s as %s (%s)\n", name, src ? src->name : "?", why);
            to = t->type;
            n_kept++;
        }
        bytes_in += t->size;
        bytes_out += size;
        gguf_writer_tensor(w, name, to, t->n_dims, t->ne, data, size);
    }
    if (rc == 0 && gguf_writer_write(w, out_path, &err) != 0) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        rc = 1;
    }
    if (rc == 0) {
        char cut[128] = "";
        if (layers > 0)
            snprintf(cut, sizeof cut, ", first %ld of %u blocks, %d tensors dropped", layers, n_blocks,
                     n_dropped);
        printf("quantized %s -> %s (%s%s): %d tensors converted, %d unchanged, %d fallbacks; "
               "%.1f MiB -> %.1f MiB\n",
               in_path, out_path, tg->name, cut, n_conv, n_kept, n_fallback, bytes_in / 1048576.0,
               bytes_out / 1048576.0);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) free(bufs[i]);
    free(bufs);
    gguf_writer_free(w);
    gguf_close(f);
    return rc;
}
