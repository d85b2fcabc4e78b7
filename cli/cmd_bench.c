/* cmd_bench.c — `autoinfer bench`: raw speed figures for the side-by-side
 * benchmark against llama.cpp (bench/run.sh drives it, interleaved with
 * llama-bench). Benchmarks are not tests: this prints figures only.
 *
 *   autoinfer bench -m MODEL [-t N] [--decode 128] [--prefill 512] [--reps 1]
 *       decode: a short random prompt (8 tokens), then exactly --decode
 *       forward passes of one token each (EOS ignored, greedy sampling so
 *       the sampler costs an argmax); tok/s = decode / time between the
 *       first and the last token callback.
 *       prefill: --prefill random tokens in one ai_generate call that stops
 *       after the first token; tok/s = prefill / time to that first token.
 *       One warm-up of each before the timed repetitions.
 *   autoinfer bench --bandwidth [-t N] [--mib 1024] [--reps 5]
 *       streaming read bandwidth: N threads each sum their share of a
 *       buffer of --mib MiB (AVX2 loads when the CPU has them), GB/s.
 *   autoinfer bench --kernels [--mib 256] [--reps 3]
 *       each weight format's matrix-vector kernel (the one decode uses,
 *       repacked where it is), one thread, GB/s of weights from a 256 KiB
 *       matrix read over and over (the arithmetic ceiling) and from one of
 *       --mib MiB (streaming); best of --reps.
 *
 * Output: one line per sample, `key=value` pairs, grep-able:
 *   sample kind=decode tokens=128 seconds=... tps=...
 *   model bytes_per_token=... weight_bytes=...
 *   device backend=cpu|cuda name="..." device_bytes=... (GPU memory the pipeline holds)
 *   memory model_file_bytes=... kv_bytes=... peak_rss_bytes=... bound_bytes=... ratio=...
 *   sample kind=bandwidth threads=2 mib=1024 gbps=...
 *
 * The memory line (after the samples) checks the issue-6 bound "peak RSS <=
 * model file + KV cache + 10 %": peak_rss is the process's high-water mark
 * (VmHWM, after load, warm-up and every sample), kv_bytes the KV cache this
 * run allocated (n_layer x {K,V} x slots x row bytes of kv_type for
 * n_head_kv x head_dim elements; slots = ctx, or kv_window + prefill_chunk - 1
 * when it rotates),
 * kv_used_bytes the part of it the run wrote, bound = 1.10 x (file + kv),
 * ratio = peak_rss / (file + kv), ratio_used = peak_rss / (file + kv_used)
 * (the stricter reading: only the cache rows the run wrote). The
 * end_rss_{anon,file}_bytes split the resident set at the end (heap copies
 * vs mapped file pages). A figure, not a test: nothing fails when the bound
 * is exceeded. */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "autoinfer.h"
#include "cliutil.h"
#include "commands.h"
#include "gguf.h"
#include "quant.h"

#define DEFAULT_MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

static void usage(FILE *out) {
    fprintf(out,
        "usage: autoinfer bench [-m MODEL] [options]\n"
        "       autoinfer bench --bandwidth [-t N] [--mib M] [--reps R]\n"
        "       autoinfer bench --kernels [--mib M] [--reps R]\n"
        "  -m, --model FILE      GGUF model (default " DEFAULT_MODEL ")\n"
        "  -t, --threads N       worker threads (knob threads)\n"
        "      --decode N        tokens decoded per sample, after an 8-token prompt (default 128; 0 = skip)\n"
        "      --prefill N       prompt tokens per prefill sample (default 512; 0 = skip)\n"
        "      --reps R          timed samples of each (default 1), after one warm-up\n"
        "      --bandwidth       measure streaming read bandwidth instead\n"
        "      --kernels         GB/s of each weight format's product kernel, from cache and streaming\n"
        "      --mib M           buffer size in MiB (default 1024 for --bandwidth, 256 for --kernels)\n"
        "      --conf FILE       pipeline configuration (default ./pipeline.conf if present)\n"
        "      --set KEY=VALUE   override one knob (repeatable); temperature is forced to 0\n");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- streaming read bandwidth ------------------------------------------- */

typedef struct {
    const uint8_t *buf;
    size_t bytes;
    uint64_t sum;
    pthread_barrier_t *bar;
    double t0, t1;
} bw_arg;

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, a0);
    return out[0] + out[1] + out[2] + out[3];
}
#endif

static uint64_t read_plain(const uint8_t *p, size_t n) {
    const uint64_t *q = (const uint64_t *)(const void *)p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= n / 8; i += 4) {
        s0 += q[i];
        s1 += q[i + 1];
        s2 += q[i + 2];
        s3 += q[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

static uint64_t read_block(const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return read_avx2(p, n);
#endif
    return read_plain(p, n);
}

static void *bw_worker(void *argp) {
    bw_arg *a = argp;
    pthread_barrier_wait(a->bar);
    a->t0 = now_s();
    a->sum += read_block(a->buf, a->bytes);
    a->t1 = now_s();
    pthread_barrier_wait(a->bar);
    return NULL;
}

static int bandwidth(int threads, long mib, int reps) {
    size_t bytes = (size_t)mib << 20;
    uint8_t *buf = aligned_alloc(4096, bytes);
    if (!buf) {
        fprintf(stderr, "autoinfer bench: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < bytes; i += 64) buf[i] = (uint8_t)i; /* fault every page in */
    size_t share = (bytes / (size_t)threads) & ~(size_t)127;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    bw_arg *args = calloc((size_t)threads, sizeof *args);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    uint64_t check = 0;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        for (int i = 0; i < threads; i++) {
            args[i] = (bw_arg){buf + (size_t)i * share, share, 0, &bar, 0, 0};
            if (i) pthread_create(&tids[i], NULL, bw_worker, &args[i]);
        }
        bw_worker(&args[0]);
        for (int i = 1; i < threads; i++) pthread_join(tids[i], NULL);
        double t0 = args[0].t0, t1 = args[0].t1;
        for (int i = 0; i < threads; i++) {
            if (args[i].t0 < t0) t0 = args[i].t0;
            if (args[i].t1 > t1) t1 = args[i].t1;
            check += args[i].sum;
        }
        if (r >= 0)
            printf("sample kind=bandwidth threads=%d mib=%ld seconds=%.6f gbps=%.3f\n", threads, mib,
                   t1 - t0, (double)share * threads / (t1 - t0) / 1e9);
    }
    fprintf(stderr, "(checksum %llu)\n", (unsigned long long)check);
    pthread_barrier_destroy(&bar);
    free(args);
    free(tids);
    free(buf);
    return 0;
}

/* ---- model timing -------------------------------------------------------- */

typedef struct {
    int n;
    double t_first, t_last;
} bench_cb;

static int on_token(void *user, int32_t tok, const char *text, size_t len) {
    bench_cb *c = user;
    double t = now_s();
    if (c->n == 0) c->t_first = t;
    c->t_last = t;
    c->n++;
    return 0;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One decode sample: returns tok/s, or -1. */
static double run_decode(ai_pipeline *p, const int32_t *prompt, int n_decode) {
    ai_error err;
    bench_cb c = {0};
    /* n_decode + 1 callbacks = n_decode forward passes after the prefill */
    ai_gen_params gp = {.max_tokens = n_decode + 1, .ignore_eos = 1};
    int got = ai_generate(p, prompt, 8, &gp, on_token, &c, &err);
    if (got != n_decode + 1) {
        fprintf(stderr, "autoinfer bench: decode produced %d tokens: %s\n", got, got < 0 ? err.msg : "");
        return -1;
    }
    return n_decode / (c.t_last - c.t_first);
}

static double run_prefill(ai_pipeline *p, const int32_t *prompt, int n_prompt) {
    ai_error err;
    bench_cb c = {0};
    ai_gen_params gp = {.max_tokens = 1, .ignore_eos = 1};
    double t0 = now_s();
    int got = ai_generate(p, prompt, n_prompt, &gp, on_token, &c, &err);
    if (got != 1) {
        fprintf(stderr, "autoinfer bench: prefill failed: %s\n", got < 0 ? err.msg : "no token");
        return -1;
    }
    return n_prompt / (c.t_first - t0);
}

/* ---- peak memory --------------------------------------------------------- */

/* A "Name:   123 kB" field of /proc/self/status in bytes, or -1. */
static long long proc_status_bytes(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t n = strlen(field);
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = atoll(line + n + 1) * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* The process's peak resident set: VmHWM, else getrusage's ru_maxrss. */
static long long peak_rss_bytes(void) {
    long long v = proc_status_bytes("VmHWM");
    if (v >= 0) return v;
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? -1 : (long long)ru.ru_maxrss * 1024;
}

/* The GGUF's <arch>.attention.key_length (the head size where it is not
 * n_embd / n_head, e.g. gemma), or 0 when absent. Read before the pipeline
 * opens: mapping the file's metadata a second time later would raise the
 * high-water mark the memory line reports. */
static int gguf_key_length(const char *model) {
    ai_error err;
    gguf_file *f = gguf_open(model, &err);
    if (!f) return 0;
    char arch[32], key[96];
    uint32_t v = 0;
    if (!gguf_get_str(f, "general.architecture", arch, sizeof arch, &err)) {
        snprintf(key, sizeof key, "%s.attention.key_length", arch);
        if (gguf_opt_u32(f, key, &v, &err) != 1) v = 0;
    }
    gguf_close(f);
    return (int)v;
}

/* Bytes of the KV cache the pipeline allocated for `slots` positions (and
 * for `used` of them): n_layer x 2 x slots x row bytes of kv_type for
 * n_head_kv x head_dim elements, head_dim = key_length when the GGUF has it,
 * else n_embd / n_head, as the engine reads it. -1 when it cannot be had. */
static int kv_cache_bytes(const ai_model_desc *d, int key_length, const char *kv_type, long slots,
                          long used, unsigned long long *bytes, unsigned long long *used_bytes) {
    int head_dim = key_length > 0 ? key_length : d->n_head > 0 ? d->n_embd / d->n_head : 0;
    int type = ai_dtype_from_name(kv_type);
    if (type < 0 || head_dim <= 0) return -1;
    size_t row = ai_row_bytes((uint32_t)type, (int64_t)d->n_head_kv * head_dim);
    if (!row) return -1;
    if (used > slots) used = slots;
    *bytes = (unsigned long long)d->n_layer * 2 * (unsigned long long)slots * row;
    *used_bytes = (unsigned long long)d->n_layer * 2 * (unsigned long long)used * row;
    return 0;
}

static void print_memory(const char *model, const ai_model_desc *d, int key_length, const ai_conf *conf,
                         int ctx, long max_pos) {
    /* the end RSS first: the high-water mark read after it is never below
     * it (reading /proc can itself add a page in between) */
    long long anon = proc_status_bytes("RssAnon"), file = proc_status_bytes("RssFile");
    long long peak = peak_rss_bytes();
    struct stat sb;
    unsigned long long file_bytes = stat(model, &sb) ? 0 : (unsigned long long)sb.st_size;
    long window = atol(ai_conf_get(conf, "kv_window"));
    /* a rotating window keeps prefill_chunk - 1 extra slots (engine/model.h) */
    long slots = window > 0 && window < ctx ? window + atol(ai_conf_get(conf, "prefill_chunk")) - 1 : ctx;
    unsigned long long kv = 0, kv_used = 0;
    if (kv_cache_bytes(d, key_length, ai_conf_get(conf, "kv_type"), slots, max_pos, &kv, &kv_used)) {
        fprintf(stderr, "autoinfer bench: cannot size the KV cache (kv_type %s)\n",
                ai_conf_get(conf, "kv_type"));
        return;
    }
    double base = (double)file_bytes + (double)kv, used = (double)file_bytes + (double)kv_used;
    printf("memory model_file_bytes=%llu kv_bytes=%llu kv_slots=%ld kv_type=%s kv_used_bytes=%llu "
           "peak_rss_bytes=%lld bound_bytes=%.0f ratio=%.4f ratio_used=%.4f "
           "end_rss_anon_bytes=%lld end_rss_file_bytes=%lld\n",
           file_bytes, kv, slots, ai_conf_get(conf, "kv_type"), kv_used, peak, 1.10 * base,
           base > 0 ? (double)peak / base : 0.0, used > 0 ? (double)peak / used : 0.0, anon, file);
}

int ai_cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"threads", required_argument, 0, 't'},
        {"decode", required_argument, 0, 'd'}, {"prefill", required_argument, 0, 'p'},
        {"reps", required_argument, 0, 'r'}, {"bandwidth", no_argument, 0, 'B'},
        {"kernels", no_argument, 0, 'K'},
        {"mib", required_argument, 0, 'M'}, {"conf", required_argument, 0, 'C'},
        {"set", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = DEFAULT_MODEL;
    long n_decode = 128, n_prefill = 512, reps = 1, mib = 0, threads = 0;
    bool bw = false, kernels = false;
    ai_cli_conf cc = {0};
    char threads_kv[32];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': if (ai_cli_parse_long("bench", "--threads", optarg, 0, 1000000, &threads)) return 2; break;
        case 'd': if (ai_cli_parse_long("bench", "--decode", optarg, 0, 1000000, &n_decode)) return 2; break;
        case 'p': if (ai_cli_parse_long("bench", "--prefill", optarg, 0, 1000000, &n_prefill)) return 2; break;
        case 'r': if (ai_cli_parse_long("bench", "--reps", optarg, 0, 1000000, &reps)) return 2; break;
        case 'M': if (ai_cli_parse_long("bench", "--mib", optarg, 0, 1000000, &mib)) return 2; break;
        case 'B': bw = true; break;
        case 'K': kernels = true; break;
        case 'C': cc.conf_path = optarg; break;
        case 's': if (ai_cli_set(&cc, "bench", optarg)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "autoinfer bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (kernels) return ai_bench_kernels(mib > 0 ? mib : 256, reps > 1 ? (int)reps : 3, 8192);
    if (bw) return bandwidth(threads > 0 ? (int)threads : 1, mib > 0 ? mib : 1024, reps > 0 ? (int)reps : 5);

    if (threads > 0) {
        snprintf(threads_kv, sizeof threads_kv, "threads=%ld", threads);
        if (ai_cli_set(&cc, "bench", threads_kv)) return 2;
    }
    if (ai_cli_set(&cc, "bench", "temperature=0") || ai_cli_set(&cc, "bench", "repeat_penalty=1"))
        return 2;
    ai_conf conf;
    if (ai_cli_build_conf(&cc, "bench", &conf)) return 2;
    if (n_prefill + 8 > atol(ai_conf_get(&conf, "ctx")) || n_decode + 9 > atol(ai_conf_get(&conf, "ctx"))) {
        fprintf(stderr, "autoinfer bench: the knob ctx (%s) is too small for these token counts\n",
                ai_conf_get(&conf, "ctx"));
        return 2;
    }
    int key_length = gguf_key_length(model);
    ai_pipeline *p = ai_cli_open("bench", model, &conf);
    if (!p) return 1;
    ai_model_desc d;
    ai_pipeline_describe(p, &d);
    printf("model name=\"%s\" arch=%s bytes_per_token=%llu weight_bytes=%llu threads=%s kv_type=%s\n",
           d.name, d.arch, (unsigned long long)d.bytes_per_token, (unsigned long long)d.weight_bytes,
           ai_conf_get(&conf, "threads"), ai_conf_get(&conf, "kv_type"));
    printf("device backend=%s name=\"%s\" device_bytes=%llu\n", d.backend[0] ? d.backend : "cpu",
           d.device, (unsigned long long)d.device_bytes);
    int n_tok = (int)(n_prefill > 8 ? n_prefill : 8);
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    if (!toks) return 1;
    uint64_t seed = 1234;
    for (int i = 0; i < n_tok; i++) toks[i] = (int32_t)(rng_next(&seed) % (uint64_t)d.n_vocab);
    if (d.bos >= 0) toks[0] = d.bos;
    int rc = 0;
    for (long r = -1; r < reps && !rc; r++) { /* r = -1: warm-up, not printed */
        if (n_decode > 0) {
            double tps = run_decode(p, toks, r < 0 ? 16 : (int)n_decode);
            if (tps < 0) rc = 1;
            else if (r >= 0) printf("sample kind=decode tokens=%ld tps=%.3f\n", n_decode, tps);
        }
        if (n_prefill > 0 && !rc) {
            double tps = run_prefill(p, toks, (int)n_prefill);
            if (tps < 0) rc = 1;
            else if (r >= 0) printf("sample kind=prefill tokens=%ld tps=%.3f\n", n_prefill, tps);
        }
        fflush(stdout);
    }
    if (!rc) {
        /* positions written: the decode prompt and its passes, or the prefill prompt */
        long max_pos = n_decode > 0 ? 8 + (n_decode > 16 ? n_decode : 16) : 0;
        if (n_prefill > max_pos) max_pos = n_prefill;
        print_memory(model, &d, key_length, &conf, ai_context_length(p), max_pos);
        fflush(stdout);
    }
    free(toks);
    ai_pipeline_close(p);
    return rc;
}
