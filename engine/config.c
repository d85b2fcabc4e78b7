/* config.c — the pipeline's knobs: their table (domain, values worth
 * searching, tradeoff) and pipeline.conf parsing/validation.
 *
 * A new knob is one row here plus the code that reads it (ai_settings_from_conf below); the
 * loop and the change monitor learn about it from this table alone. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"
#include "config.h"

static const ai_knob_info KNOBS[] = {
    {"temperature", AI_KNOB_FLOAT, "0.7", "0..2", "0",
     "temperature 0 is argmax decoding: deterministic output, no sampling diversity",
     "sampling temperature; 0 = greedy (argmax)",
     "decode", "", ""},
    {"top_p", AI_KNOB_FLOAT, "0.9", "0..1", "1",
     "top_p 1 keeps the whole tail: more diverse but less focused samples",
     "nucleus sampling: keep the smallest set of tokens with this much probability",
     "decode", "", ""},
    {"top_k", AI_KNOB_INT, "0", "0..1000", "40",
     "top_k restricts sampling to the k likeliest tokens: less diversity",
     "keep only the k likeliest tokens (0 = off)",
     "decode", "", ""},
    {"min_p", AI_KNOB_FLOAT, "0", "0..1", "0.05",
     "min_p drops tokens below a fraction of the top probability: less diversity",
     "drop tokens whose probability is below min_p x the top one (0 = off)",
     "decode", "", ""},
    {"repeat_penalty", AI_KNOB_FLOAT, "1", "0.5..2", "",
     "repetition penalty changes which tokens are chosen: output differs from the model's own",
     "divide logits of recently seen tokens by this (1 = off)",
     "decode", "", ""},
    {"repeat_last_n", AI_KNOB_INT, "64", "0..4096", "",
     "a longer penalty window changes outputs more",
     "how many recent tokens the repetition penalty looks at",
     "decode", "", ""},
    {"seed", AI_KNOB_INT, "42", "0..2147483647", "",
     "another seed gives other samples (same distribution)",
     "seed of the sampler's random generator",
     "", "", ""},
    {"threads", AI_KNOB_INT, "2", "1..256", "1,2,3,4",
     "more threads than free cores oversubscribes the CPU; fewer leaves cores idle",
     "worker threads for matrix products and attention",
     "decode,prefill,ttft", "spin,chunks_per_thread", ""},
    {"spin", AI_KNOB_CHOICE, "yield", "spin|yield", "spin",
     "spinning burns a core while waiting: faster barriers, noisier neighbours",
     "how idle worker threads wait: busy spin, or spin then yield the CPU",
     "decode,prefill,ttft", "", ""},
    {"kernels", AI_KNOB_CHOICE, "auto", "auto|scalar|avx2|avx512", "avx2,scalar",
     "forcing a lower kernel level gives up SIMD speed",
     "kernel family: auto = best this CPU supports",
     "decode,prefill,ttft", "", ""},
    {"kv_type", AI_KNOB_CHOICE, "f32", "f32|f16|q8_0|q4_0", "f16,q8_0,q4_0",
     "a quantized KV cache loses precision: quality risk, worst on long context",
     "element type of the KV cache",
     "decode,prefill,ttft,memory", "kv_window", ""},
    {"kv_window", AI_KNOB_INT, "0", "0..1048576", "1024",
     "a rotating KV window forgets everything older than the window",
     "keep only the last N positions in the KV cache (0 = keep all)",
     "decode,prefill,ttft,memory", "", ""},
    {"ctx", AI_KNOB_INT, "2048", "16..131072", "",
     "a shorter context refuses long prompts; a longer one costs memory",
     "context length the KV cache is sized for",
     "memory", "", ""},
    {"prefill_chunk", AI_KNOB_INT, "256", "1..4096", "16,64,128,512",
     "large prefill chunks raise peak memory; small ones lose batching",
     "prompt tokens processed per forward pass during prefill",
     "prefill,ttft,memory", "", ""},
    {"matmul_rows", AI_KNOB_CHOICE, "4", "4|1", "1",
     "four-row kernels reorder float sums (results differ in the last bits); one-row kernels reload activations per row",
     "weight rows per kernel call in matrix-vector products (4 shares each activation load)",
     "decode,prefill,ttft", "prefetch", ""},
    {"prefetch", AI_KNOB_INT, "8", "0..256", "0,4,16,32",
     "too short a distance leaves DRAM latency exposed; too long evicts data before use",
     "software prefetch distance for four-row kernels, in KiB ahead of the rows being read (0 = off)",
     "decode,prefill,ttft", "", ""},
    {"gemm", AI_KNOB_CHOICE, "on", "on|off", "off",
     "batched prefill uses exact activation sums and 32-element activation blocks for K formats: logits differ from token-by-token in the last bits",
     "prefill products several tokens per pass over each weight row (expanded once per chunk)",
     "prefill,ttft", "gemm_min_tokens", ""},
    {"gemm_min_tokens", AI_KNOB_INT, "32", "4..4096", "16,64",
     "the batched product expands each weight group once per chunk: short batches do not repay it, and the four-row kernels reuse a run of rows from cache for each token instead",
     "fewest tokens in a pass for the batched products (knob gemm); shorter passes use the one-token kernels per token",
     "prefill,ttft", "", ""},
    {"repack", AI_KNOB_CHOICE, "on", "on|off", "off",
     "repacking copies the weights at load: slower start, and the copy lives in anonymous memory instead of the file mapping",
     "interleave weight rows in groups of four at load so products stream memory in order",
     "decode,prefill,ttft,memory", "", ""},
    {"backend", AI_KNOB_CHOICE, "auto", "auto|cpu|cuda", "",
     "the GPU's kernels sum in another order than the CPU's: logits differ in the last bits; cuda needs a GPU",
     "where the forward pass runs: auto = cuda when a usable GPU is present, else cpu",
     "decode,prefill,ttft,memory", "", ""},
    {"cuda_launch", AI_KNOB_CHOICE, "graph", "graph|stream|persistent", "stream,persistent",
     "stream pays a launch per kernel; persistent holds every SM for the whole step and spins at its barriers",
     "how a CUDA decode step is launched: one replayed CUDA graph, kernel by kernel, or one persistent kernel with grid barriers",
     "decode", "cuda_pdl", "cuda"},
    {"cuda_pdl", AI_KNOB_CHOICE, "off", "on|off", "on",
     "early-launched kernels hold SM slots while they wait, and the L2 prefetch spends bandwidth ahead of need",
     "programmatic dependent launch: each decode kernel starts while the previous one ends and fetches its weights into L2 first (persistent launch: before each grid barrier)",
     "decode", "", "cuda"},
    {"cuda_sampling", AI_KNOB_CHOICE, "device", "device|host", "host",
     "host sampling copies every step's logits to the CPU; device sampling sums the softmax in another order (a draw on a boundary may pick the neighbour)",
     "where a CUDA decode step draws its token when temperature > 0: on the GPU (only the id crosses) or on the host",
     "decode", "", "cuda"},
    {"cuda_block", AI_KNOB_INT, "256", "64..1024", "128,512",
     "small blocks leave SMs underfilled on the small matrices; large ones idle warps on short rows",
     "threads per block of the CUDA decode kernels (a multiple of 32)",
     "decode,prefill,ttft", "", "cuda"},
    {"cuda_gemm_min_tokens", AI_KNOB_INT, "16", "1..4096", "4,64",
     "cuBLAS's tensor-core products pay a weight dequantization per pass; short passes are faster on the mat-vec kernels",
     "fewest tokens in a CUDA forward pass for the cuBLAS products (f16 tensor cores) instead of per-token mat-vec",
     "prefill,ttft", "", "cuda"},
    {"chunks_per_thread", AI_KNOB_INT, "1", "1..64", "2,4,8",
     "more chunks balance threads better on a busy machine but cost an atomic claim each and shorter memory streams",
     "work chunks per thread in each parallel job; threads claim them as they come free",
     "decode,prefill,ttft", "", ""},
};
#define N_KNOBS ((int)(sizeof KNOBS / sizeof KNOBS[0]))

const ai_knob_info *ai_knobs(int *count) {
    *count = N_KNOBS;
    return KNOBS;
}

static const ai_knob_info *find_knob(const char *name) {
    for (int i = 0; i < N_KNOBS; i++)
        if (!strcmp(KNOBS[i].name, name)) return &KNOBS[i];
    return NULL;
}

/* Checks `value` against the knob's kind and domain; message on failure. */
static int validate(const ai_knob_info *k, const char *value, char *why, size_t cap) {
    if (k->kind == AI_KNOB_CHOICE) {
        const char *d = k->domain;
        size_t n = strlen(value);
        while (*d) {
            const char *bar = strchr(d, '|');
            size_t len = bar ? (size_t)(bar - d) : strlen(d);
            if (len == n && !strncmp(d, value, n)) return 0;
            d += len + (bar ? 1 : 0);
        }
        snprintf(why, cap, "expected one of %s", k->domain);
        return -1;
    }
    /* "lo..hi": split at the dots, since "0..2" would read as "0." then ".2" */
    const char *dots = strstr(k->domain, "..");
    double lo = strtod(k->domain, NULL), hi = dots ? strtod(dots + 2, NULL) : 0;
    if (!dots) {
        snprintf(why, cap, "knob table has a bad domain '%s'", k->domain);
        return -1;
    }
    char *end;
    errno = 0;
    double v;
    if (k->kind == AI_KNOB_INT) {
        long long iv = strtoll(value, &end, 10);
        v = (double)iv;
    } else {
        v = strtod(value, &end);
    }
    if (end == value || *end || errno || !isfinite(v)) {
        snprintf(why, cap, "expected %s in %s",
                 k->kind == AI_KNOB_INT ? "an integer" : "a number", k->domain);
        return -1;
    }
    if (v < lo || v > hi) {
        snprintf(why, cap, "out of range %s", k->domain);
        return -1;
    }
    return 0;
}

void ai_conf_defaults(ai_conf *conf) {
    memset(conf, 0, sizeof *conf);
    for (int i = 0; i < N_KNOBS; i++) {
        snprintf(conf->keys[i], sizeof conf->keys[i], "%s", KNOBS[i].name);
        snprintf(conf->values[i], sizeof conf->values[i], "%s", KNOBS[i].default_value);
    }
    conf->n = N_KNOBS;
}

const char *ai_conf_get(const ai_conf *conf, const char *key) {
    for (int i = 0; i < conf->n; i++)
        if (!strcmp(conf->keys[i], key)) return conf->values[i];
    return NULL;
}

/* Sets one validated value; `where` prefixes messages ("file:line" or "--set"). */
static int conf_put(ai_conf *conf, const char *key, const char *value,
                    const char *where, ai_error *err) {
    const ai_knob_info *k = find_knob(key);
    if (!k) {
        char names[1024] = "";
        for (int i = 0; i < N_KNOBS; i++) {
            strncat(names, KNOBS[i].name, sizeof names - strlen(names) - 1);
            if (i + 1 < N_KNOBS) strncat(names, ", ", sizeof names - strlen(names) - 1);
        }
        return ai_error_set(err, "%s: unknown knob '%s' (known: %s)", where, key, names);
    }
    char why[160];
    if (validate(k, value, why, sizeof why))
        return ai_error_set(err, "%s: bad value '%s' for %s: %s", where, value, key, why);
    if (strlen(value) >= sizeof conf->values[0])
        return ai_error_set(err, "%s: value for %s is too long", where, key);
    for (int i = 0; i < conf->n; i++) {
        if (!strcmp(conf->keys[i], key)) {
            snprintf(conf->values[i], sizeof conf->values[i], "%s", value);
            return 0;
        }
    }
    return ai_error_set(err, "%s: knob '%s' missing from the configuration", where, key);
}

/* Trims spaces in place; returns the start. */
static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int ai_conf_set(ai_conf *conf, const char *key_eq_value, ai_error *err) {
    char buf[256];
    if (strlen(key_eq_value) >= sizeof buf)
        return ai_error_set(err, "setting '%.40s...' is too long", key_eq_value);
    snprintf(buf, sizeof buf, "%s", key_eq_value);
    char *eq = strchr(buf, '=');
    if (!eq)
        return ai_error_set(err, "setting '%s': expected KEY=VALUE", key_eq_value);
    *eq = 0;
    char where[300];
    snprintf(where, sizeof where, "setting '%s'", key_eq_value);
    return conf_put(conf, trim(buf), trim(eq + 1), where, err);
}

int ai_conf_load(ai_conf *conf, const char *path, ai_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ai_error_set(err, "%s: cannot open configuration: %s", path, strerror(errno));
    int first_line[N_KNOBS] = {0}; /* where each knob was set in this file (0: not yet) */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    errno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (memchr(line, 0, (size_t)len)) {
            rc = ai_error_set(err, "%s: NUL byte in line (expected text 'key = value')", where);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = ai_error_set(err, "%s: expected 'key = value', got '%.200s'", where, s);
            break;
        }
        *eq = 0;
        char *key = trim(s);
        const ai_knob_info *k = find_knob(key);
        if (k && first_line[k - KNOBS]) {
            rc = ai_error_set(err, "%s: %s is set twice (first on line %d)", where, key,
                              first_line[k - KNOBS]);
            break;
        }
        if ((rc = conf_put(conf, key, trim(eq + 1), where, err))) break;
        first_line[k - KNOBS] = lineno;
    }
    /* getline's -1 is end of file or an error: a directory reads as EISDIR */
    if (!rc && ferror(f))
        rc = ai_error_set(err, "%s: cannot read configuration: %s", path,
                          strerror(errno ? errno : EIO));
    free(line);
    fclose(f);
    return rc;
}

int ai_settings_from_conf(const ai_conf *conf, ai_settings *s, ai_error *err) {
    ai_conf defaults;
    if (!conf) {
        ai_conf_defaults(&defaults);
        conf = &defaults;
    }
    /* Every knob must be present: a conf built by hand could miss one. */
    for (int i = 0; i < N_KNOBS; i++)
        if (!ai_conf_get(conf, KNOBS[i].name))
            return ai_error_set(err, "configuration lacks knob '%s'", KNOBS[i].name);
#define GETF(k) ((float)atof(ai_conf_get(conf, k)))
#define GETI(k) (atoi(ai_conf_get(conf, k)))
    s->temperature = GETF("temperature");
    s->top_p = GETF("top_p");
    s->top_k = GETI("top_k");
    s->min_p = GETF("min_p");
    s->repeat_penalty = GETF("repeat_penalty");
    s->repeat_last_n = GETI("repeat_last_n");
    s->seed = (uint64_t)strtoull(ai_conf_get(conf, "seed"), NULL, 10);
    s->threads = GETI("threads");
    s->spin = !strcmp(ai_conf_get(conf, "spin"), "spin");
    s->ctx = GETI("ctx");
    s->kv_window = GETI("kv_window");
    s->prefill_chunk = GETI("prefill_chunk");
    s->matmul_rows = GETI("matmul_rows");
    s->prefetch = GETI("prefetch");
    s->gemm = !strcmp(ai_conf_get(conf, "gemm"), "on");
    s->repack = !strcmp(ai_conf_get(conf, "repack"), "on");
    s->chunks_per_thread = GETI("chunks_per_thread");
    s->gemm_min_tokens = GETI("gemm_min_tokens");
    s->cuda_block = GETI("cuda_block");
    s->cuda_pdl = !strcmp(ai_conf_get(conf, "cuda_pdl"), "on");
    s->cuda_sampling = !strcmp(ai_conf_get(conf, "cuda_sampling"), "device");
    s->cuda_gemm_min_tokens = GETI("cuda_gemm_min_tokens");
#undef GETF
#undef GETI
    const char *be = ai_conf_get(conf, "backend");
    s->backend = !strcmp(be, "cpu") ? AI_BACKEND_CPU : !strcmp(be, "cuda") ? AI_BACKEND_CUDA : AI_BACKEND_AUTO;
    const char *launch = ai_conf_get(conf, "cuda_launch");
    s->cuda_launch = !strcmp(launch, "stream") ? AI_CUDA_STREAM
                   : !strcmp(launch, "persistent") ? AI_CUDA_PERSISTENT : AI_CUDA_GRAPH;
    if (s->cuda_block % 32)
        return ai_error_set(err, "cuda_block = %d: expected a multiple of 32 (a whole number of warps)",
                            s->cuda_block);
    const char *kv = ai_conf_get(conf, "kv_type");
    s->kv_type = (uint32_t)ai_dtype_from_name(kv);

    const char *kern = ai_conf_get(conf, "kernels");
    ai_isa best = ai_isa_detect();
    if (!strcmp(kern, "auto")) {
        s->isa = best;
    } else {
        ai_isa want = !strcmp(kern, "scalar") ? AI_ISA_SCALAR
                    : !strcmp(kern, "avx2")   ? AI_ISA_AVX2
                                              : AI_ISA_AVX512;
        if (want > best || (best == AI_ISA_NEON && want != AI_ISA_SCALAR))
            return ai_error_set(err, "kernels = %s: this CPU supports at most %s",
                                kern, ai_isa_name(best));
        s->isa = want;
    }
    return 0;
}

ai_kv_layout ai_settings_kv_layout(const ai_settings *s) {
    ai_kv_layout k;
    k.rotating = s->kv_window > 0 && s->kv_window < s->ctx;
    k.window = k.rotating ? s->kv_window : s->ctx;
    k.n_slots = k.rotating ? s->kv_window + s->prefill_chunk - 1 : s->ctx;
    return k;
}
