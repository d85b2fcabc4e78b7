/* cmd_info.c — `autoinfer info MODEL`: what a GGUF holds, read straight from
 * its metadata (no model load), so it works on any GGUF, even one the
 * engine cannot run yet, and whether it can run and what it lacks; the
 * bytes a decode step reads, as the evaluation harness counts them; then the device the pipeline runs it on (the one
 * step that opens the model: --no-device skips it), with the GPU's measured
 * memory bandwidth and the decode roofline when that is cuda. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "commands.h"
#include "gguf.h"
#include "harness.h"
#include "model.h"
#include "quant.h"
#include "tokenizer.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: autoinfer info [options] MODEL.gguf\n"
            "\n"
            "Describe a GGUF model: architecture, parameter count, hyperparameters,\n"
            "tensor types and sizes, bytes read per decoded token, tokenizer and chat\n"
            "template family, whether this engine can run it (and, when not, every\n"
            "thing it lacks: architecture, tensor type, tensor, pre-tokenizer) and chat\n"
            "with it; then the device the pipeline runs it on (this opens the model\n"
            "with pipeline.conf; on a GPU it also measures the GPU's bandwidth).\n"
            "\n"
            "options:\n"
            "  -t, --tensors         also list every tensor (name, type, shape, bytes)\n"
            "      --no-device       metadata only: do not open the pipeline\n"
            "      --conf FILE       pipeline configuration for the device line\n"
            "                        (default ./pipeline.conf if present)\n"
            "      --set KEY=VALUE   override one knob (repeatable), e.g. backend=cpu\n"
            "  -h, --help            show this help\n");
}

/* 134.5M, 1.2B, 900K */
static void human_count(char *out, size_t cap, double n) {
    if (n >= 1e9) snprintf(out, cap, "%.2fB", n / 1e9);
    else if (n >= 1e6) snprintf(out, cap, "%.1fM", n / 1e6);
    else if (n >= 1e3) snprintf(out, cap, "%.1fK", n / 1e3);
    else snprintf(out, cap, "%.0f", n);
}

static void human_bytes(char *out, size_t cap, double b) {
    if (b >= 1024.0 * 1024 * 1024) snprintf(out, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) snprintf(out, cap, "%.1f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0) snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else snprintf(out, cap, "%.0f B", b);
}

/* A metadata value as text, short: scalars in full, strings clipped,
 * arrays as "[n x type]". */
static void kv_text(const gguf_kv *kv, char *out, size_t cap) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64:
        snprintf(out, cap, "%" PRIu64, kv->v.u64);
        break;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        snprintf(out, cap, "%" PRId64, kv->v.i64);
        break;
    case GGUF_FLOAT32: case GGUF_FLOAT64:
        snprintf(out, cap, "%g", kv->v.f64);
        break;
    case GGUF_BOOL:
        snprintf(out, cap, "%s", kv->v.b ? "true" : "false");
        break;
    case GGUF_STRING: {
        int n = kv->v.str.len > 60 ? 60 : (int)kv->v.str.len;
        snprintf(out, cap, "%.*s%s", n, kv->v.str.ptr, kv->v.str.len > 60 ? "..." : "");
        break;
    }
    case GGUF_ARRAY:
        snprintf(out, cap, "[%" PRIu64 " x %s]", kv->arr_n, gguf_type_name(kv->arr_type));
        break;
    default:
        snprintf(out, cap, "?");
    }
}

/* Copy a string value into buf (clipped), or "" when absent / not a string. */
static const char *str_or(const gguf_file *f, const char *key, char *buf, size_t cap,
                          const char *dflt) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STRING) return dflt;
    size_t n = kv->v.str.len < cap - 1 ? (size_t)kv->v.str.len : cap - 1;
    memcpy(buf, kv->v.str.ptr, n);
    buf[n] = 0;
    /* Keep the one-line-per-field layout even for odd names. */
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
    return buf;
}

/* llama.cpp's general.file_type values (the "mostly" type of a file). */
static const char *file_type_name(uint64_t ft) {
    switch (ft) {
    case 0: return "all f32";
    case 1: return "mostly f16";
    case 2: return "mostly q4_0";
    case 3: return "mostly q4_1";
    case 7: return "mostly q8_0";
    case 8: return "mostly q5_0";
    case 9: return "mostly q5_1";
    case 10: return "mostly q2_k";
    case 11: return "mostly q3_k_s";
    case 12: return "mostly q3_k_m";
    case 13: return "mostly q3_k_l";
    case 14: return "mostly q4_k_s";
    case 15: return "mostly q4_k_m";
    case 16: return "mostly q5_k_s";
    case 17: return "mostly q5_k_m";
    case 18: return "mostly q6_k";
    case 32: return "mostly bf16";
    default: return NULL;
    }
}

static void print_hparams(const gguf_file *f, const char *arch) {
    static const char *const KEYS[] = {
        "context_length", "embedding_length", "block_count", "feed_forward_length",
        "attention.head_count", "attention.head_count_kv", "attention.key_length",
        "attention.value_length", "rope.dimension_count", "rope.freq_base",
        "attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon",
        "attention.sliding_window", "attention.sliding_window_pattern", "rope.freq_base_swa",
        "final_logit_softcapping", "vocab_size", "rope.scaling.type",
        "rope.scaling.factor", "rope.scaling.original_context_length",
        "rope.scaling.low_freq_factor", "rope.scaling.high_freq_factor",
    };
    printf("hyperparameters:\n");
    int shown = 0;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        char key[256], val[128];
        snprintf(key, sizeof key, "%s.%s", arch, KEYS[i]);
        const gguf_kv *kv = gguf_find(f, key);
        if (!kv) continue;
        kv_text(kv, val, sizeof val);
        printf("  %-34s %s\n", KEYS[i], val);
        shown++;
    }
    if (!shown) printf("  (none found under '%s.')\n", arch);
}

static void print_tensor_summary(const gguf_file *f) {
    uint64_t count[AI_DTYPE_MAX] = {0}, bytes[AI_DTYPE_MAX] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        /* The reader only admits known type ids, all < AI_DTYPE_MAX. */
        count[t->type]++;
        bytes[t->type] += t->size;
    }
    char b[32];
    uint64_t total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) total += f->tensors[i].size;
    human_bytes(b, sizeof b, (double)total);
    printf("tensors:           %" PRIu64 " (%s)\n", f->n_tensors, b);
    for (int t = 0; t < AI_DTYPE_MAX; t++) {
        if (!count[t]) continue;
        const ai_dtype_info *d = ai_dtype_get((uint32_t)t);
        human_bytes(b, sizeof b, (double)bytes[t]);
        printf("  %-6s %5" PRIu64 " tensors, %s%s\n", d->name, count[t], b,
               d->weight ? "" : " (not supported as a weight by this engine)");
    }
}

static void print_tensors(const gguf_file *f) {
    printf("tensor list:\n");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char shape[128];
        int o = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%" PRId64, d ? " x " : "",
                          t->ne[d]);
        int nl = t->name.len > 64 ? 64 : (int)t->name.len;
        printf("  %-40.*s %-6s %-24s %" PRIu64 "\n", nl, t->name.ptr,
               ai_dtype_get(t->type)->name, shape, t->size);
    }
}

static void print_vocab(const gguf_file *f) {
    char buf[128];
    printf("tokenizer:         %s", str_or(f, "tokenizer.ggml.model", buf, sizeof buf, "(none)"));
    const char *pre = str_or(f, "tokenizer.ggml.pre", buf, sizeof buf, NULL);
    if (pre) printf(", pre-tokenizer %s", pre);
    printf("\n");
    const gguf_kv *tok = gguf_find(f, "tokenizer.ggml.tokens");
    if (tok && tok->type == GGUF_ARRAY)
        printf("vocabulary:        %" PRIu64 " tokens\n", tok->arr_n);
    static const char *const IDS[][2] = {
        {"tokenizer.ggml.bos_token_id", "bos"}, {"tokenizer.ggml.eos_token_id", "eos"},
        {"tokenizer.ggml.eot_token_id", "eot"}, {"tokenizer.ggml.padding_token_id", "pad"},
        {"tokenizer.ggml.unknown_token_id", "unk"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof IDS / sizeof IDS[0]; i++) {
        uint32_t id;
        ai_error err;
        if (gguf_opt_u32(f, IDS[i][0], &id, &err) != 1) continue;
        char piece[48] = "";
        if (tok && tok->type == GGUF_ARRAY && tok->arr_type == GGUF_STRING && id < tok->arr_n) {
            int n = tok->strs[id].len > 40 ? 40 : (int)tok->strs[id].len;
            snprintf(piece, sizeof piece, " '%.*s'", n, tok->strs[id].ptr);
        }
        printf("%s%s %" PRIu32 "%s", any ? ", " : "special tokens:    ", IDS[i][1], id, piece);
        any = 1;
    }
    if (any) printf("\n");
}

static void print_chat(const gguf_file *f) {
    const gguf_kv *kv = gguf_find(f, "tokenizer.chat_template");
    if (!kv || kv->type != GGUF_STRING) {
        printf("chat template:     (none)\n");
        return;
    }
    char *tmpl = malloc(kv->v.str.len + 1);
    if (!tmpl) {
        printf("chat template:     (out of memory)\n");
        return;
    }
    memcpy(tmpl, kv->v.str.ptr, kv->v.str.len);
    tmpl[kv->v.str.len] = 0;
    ai_chat_family fam = ai_chat_detect(tmpl);
    if (fam != AI_CHAT_NONE) {
        printf("chat template:     %s\n", ai_chat_family_name(fam));
    } else {
        /* Unknown family: show its start so it can be told by eye. */
        char head[64];
        size_t n = 0;
        for (const char *p = tmpl; *p && n < 60; p++)
            head[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
        head[n] = 0;
        printf("chat template:     unrecognised (%" PRIu64 " bytes: %s%s)\n", kv->v.str.len,
               head, kv->v.str.len > 60 ? "..." : "");
    }
    free(tmpl);
}

/* Whether the engine can run this file and, when not, every reason found:
 * the architecture, tensor types it has no kernels for, the tensors and
 * shapes the architecture needs (the loader's own checks: they bind tensors
 * without reading them), the tokenizer (model and pre-tokenizer); then
 * whether its chat template is one the engine renders. Metadata only. */
/* An engine message without its leading "PATH: " (info names the file once). */
static const char *without_path(const char *msg, const char *path) {
    size_t n = strlen(path);
    return !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2) ? msg + n + 2 : msg;
}

static void print_can_run(const char *path, const gguf_file *f, const char *arch) {
    char why[8][320];
    int n = 0;
    ai_error err = {{0}};
    if (!ai_arch_find(arch)) {
        char names[128];
        snprintf(why[n++], sizeof why[0], "architecture '%s' (supported: %s)", arch,
                 ai_arch_names(names, sizeof names));
    }
    uint64_t count[AI_DTYPE_MAX] = {0}, first[AI_DTYPE_MAX] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!count[f->tensors[i].type]++) first[f->tensors[i].type] = i;
    char weights[160];
    int o = 0;
    for (uint32_t t = 0; t < AI_DTYPE_MAX; t++)
        if (ai_dtype_get(t) && ai_dtype_get(t)->weight)
            o += snprintf(weights + o, sizeof weights - (size_t)o, "%s%s", o ? " " : "", ai_dtype_get(t)->name);
    for (uint32_t t = 0; t < AI_DTYPE_MAX && n < 6; t++) {
        if (!count[t] || ai_dtype_get(t)->weight) continue;
        const gguf_tensor *ex = &f->tensors[first[t]];
        int nl = ex->name.len > 64 ? 64 : (int)ex->name.len;
        snprintf(why[n++], sizeof why[0], "tensor type %s (%" PRIu64 " tensors, e.g. '%.*s'; supported: %s)",
                 ai_dtype_get(t)->name, count[t], nl, ex->name.ptr, weights);
    }
    if (n == 0) { /* the architecture's tensors and shapes, as loading checks them */
        gguf_file *g = gguf_open(path, &err);
        ai_model *m = g ? ai_model_load(g, &err) : NULL;
        if (m) ai_model_free(m); /* closes g */
        else {
            gguf_close(g);
            snprintf(why[n++], sizeof why[0], "%s", without_path(err.msg, path));
        }
    }
    ai_tokenizer *tok = ai_tokenizer_load(f, &err);
    if (tok) ai_tokenizer_free(tok);
    else snprintf(why[n++], sizeof why[0], "%s", without_path(err.msg, path));
    printf("can run:           %s\n", n ? "no" : "yes");
    for (int i = 0; i < n; i++) printf("  missing:         %s\n", why[i]);

    const gguf_kv *kv = gguf_find(f, "tokenizer.chat_template");
    char *tmpl = NULL;
    if (kv && kv->type == GGUF_STRING && (tmpl = malloc(kv->v.str.len + 1))) {
        memcpy(tmpl, kv->v.str.ptr, kv->v.str.len);
        tmpl[kv->v.str.len] = 0;
    }
    ai_chat_template ct;
    if (ai_chat_parse(tmpl, &ct, &err)) printf("chat:              no: %s\n", err.msg);
    else printf("chat:              yes (%s)\n", ai_chat_family_name(ct.family));
    free(tmpl);
}

/* Bytes a decode step reads, counted by the harness's own GGUF reader (the
 * figure the evaluation's roofline divides by). */
static void print_bytes_per_token(const char *path) {
    ah_gguf_bytes gb;
    ai_error err = {{0}};
    char b[32];
    if (ah_gguf_bytes_per_token(path, &gb, &err)) {
        printf("bytes per token:   (harness cannot count: %s)\n", err.msg);
        return;
    }
    human_bytes(b, sizeof b, (double)gb.per_token);
    printf("bytes per token:   %s (%" PRIu64 ": %" PRIu64 " layer tensors, output norm, %s; "
           "harness count)\n", b, gb.per_token, gb.n_layer_tensors,
           gb.tied ? "head tied to token_embd" : "output.weight");
}

/* The device the pipeline runs the model on, as it describes itself; on
 * cuda, the GPU memory it says it holds, the GPU's bandwidth as the harness
 * measures it (after the pipeline is closed, so both buffers fit) and the
 * decode roofline that gives. Not fatal: a model the engine cannot run is
 * still described above. */
static void print_device(const char *path, const ai_conf *conf) {
    ai_error err = {{0}};
    ai_pipeline *p = ai_pipeline_open(path, conf, &err);
    if (!p) {
        printf("device:            (the pipeline cannot run this model: %s)\n", err.msg);
        return;
    }
    ai_model_desc d;
    ai_pipeline_describe(p, &d);
    ai_pipeline_close(p);
    const char *backend = d.backend[0] ? d.backend : "cpu";
    char b[32];
    printf("device:            %s (%s)", backend, d.device);
    if (!strcmp(backend, "cuda")) {
        human_bytes(b, sizeof b, (double)d.device_bytes);
        printf(", %s of GPU memory held", b);
    }
    printf("\n");
    if (strcmp(backend, "cuda")) return;
    char name[160], why[256];
    double bw = ah_gpu_bandwidth_probe(0, name, sizeof name, why, sizeof why);
    if (!isfinite(bw)) {
        printf("gpu bandwidth:     (not measured: %s)\n", why);
        return;
    }
    printf("gpu bandwidth:     %.1f GB/s (%s)\n", bw, why);
    ah_gguf_bytes gb;
    if (ah_gguf_bytes_per_token(path, &gb, &err) == 0 && gb.per_token)
        printf("decode roofline:   %.1f tok/s (bandwidth / bytes per token)\n",
               bw * 1e9 / (double)gb.per_token);
}

int ai_cmd_info(int argc, char **argv) {
    static const struct option OPTS[] = {
        {"tensors", no_argument, NULL, 't'},
        {"no-device", no_argument, NULL, 'D'},
        {"conf", required_argument, NULL, 'C'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int list = 0, device = 1, c;
    ai_cli_conf cc = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "th", OPTS, NULL)) != -1) {
        switch (c) {
        case 't': list = 1; break;
        case 'D': device = 0; break;
        case 'C': cc.conf_path = optarg; break;
        case 's': if (ai_cli_set(&cc, "info", optarg)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "autoinfer info: expected one MODEL argument\n");
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    ai_conf conf;
    if (device && ai_cli_build_conf(&cc, "info", &conf)) return 2;
    ai_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        fprintf(stderr, "autoinfer info: %s\n", err.msg);
        return 1;
    }
    char arch[64], name[160], b[32];
    if (!str_or(f, "general.architecture", arch, sizeof arch, NULL))
        snprintf(arch, sizeof arch, "(none)");
    double params = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        params += (double)t->ne[0] * (double)t->ne[1] * (double)t->ne[2] * (double)t->ne[3];
    }
    printf("file:              %s\n", path);
    human_bytes(b, sizeof b, (double)f->map_size);
    printf("size:              %s\n", b);
    printf("gguf version:      %" PRIu32 " (alignment %" PRIu64 ", %" PRIu64 " metadata keys)\n",
           f->version, f->alignment, f->n_kv);
    printf("architecture:      %s\n", arch);
    printf("name:              %s\n", str_or(f, "general.name", name, sizeof name, "(none)"));
    const gguf_kv *ft = gguf_find(f, "general.file_type");
    if (ft) {
        char v[64];
        kv_text(ft, v, sizeof v);
        const char *ftn = ft->type == GGUF_UINT32 || ft->type == GGUF_INT32
                              ? file_type_name(ft->v.u64) : NULL;
        printf("file type:         %s%s%s%s\n", v, ftn ? " (" : "", ftn ? ftn : "", ftn ? ")" : "");
    }
    human_count(b, sizeof b, params);
    printf("parameters:        %s (%.0f)\n", b, params);
    print_hparams(f, arch);
    print_tensor_summary(f);
    print_bytes_per_token(path);
    print_vocab(f);
    print_chat(f);
    print_can_run(path, f, arch);
    if (list) print_tensors(f);
    gguf_close(f);
    if (device) {
        fflush(stdout);
        print_device(path, &conf);
    }
    return 0;
}
