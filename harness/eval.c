/* eval.c — `autoinfer eval`: the command line and the order of work.
 *
 *   1. configuration (pipeline.conf + --set), gate.conf, prompts, baseline
 *   2. sanity runs: natural EOS-stopped answers, the pipeline's own sampler
 *   3. warm-up, then --runs timed speed runs (fixed --tokens, EOS ignored)
 *   4. quality: reference text perplexity, KL against the baseline
 *   5. plausibility (roofline), gate, change monitor, report
 *
 * Hidden modes used by --ab: --worker (the candidate's side of the worker
 * protocol, worker.c) and --quality-only (steps 1, 2, 4, 5 without speed). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sanity.h"
#include "stats.h"

#ifndef AI_SOURCE_DIR
#define AI_SOURCE_DIR "."
#endif

int ai_cmd_eval(int argc, char **argv);

#define TEXT_CHUNK 512
#define MAX_SETS 32

typedef struct eval_opts {
    const char *model;
    const char *conf_path;
    const char *sets[MAX_SETS];
    int n_set;
    int runs, tokens, quick;
    const char *json, *save_dir, *base_dir;
    const char *data_dir; /* gate.conf, prompts.tsv, reference.txt (NULL: the tree's harness/) */
    int worker, quality_only, allow_other_model, no_quality, build_id;
    const char *via; /* --via BIN: generate and score in BIN's worker (--ab's quality run) */
    double inject;
    double bandwidth; /* given by the --ab orchestrator; 0 = probe */
    int ab;
    const char *a, *b;
    int rounds, timeout_s;
    int prompt_tokens; /* --ab: speed prompts of at least this many tokens (0: as drawn) */
    double noise;
} eval_opts;

static void usage(FILE *out) {
    fprintf(out,
            "usage: autoinfer eval [-m MODEL] [--conf FILE] [--set KEY=VALUE]... [--runs N]\n"
            "                      [--tokens N] [--json FILE] [--save-baseline DIR]\n"
            "                      [--baseline DIR] [--quick]\n"
            "       autoinfer eval --ab --a BIN[:CONF] --b BIN[:CONF] [-m MODEL] [--rounds N]\n"
            "                      [--tokens N] [--prompt-tokens N] [--baseline DIR]\n"
            "                      [--noise FRAC] [--timeout S] [--json FILE]\n"
            "\n"
            "The locked evaluation: timed speed runs (median and 95%% CI), the quality gate\n"
            "(sanity checks, perplexity, KL divergence against a baseline), the change\n"
            "monitor, and an interleaved A/B comparison. See docs/eval.md.\n"
            "\n"
            "  -m MODEL             GGUF model (default %s)\n"
            "  --conf FILE          pipeline.conf (default: the source tree's, else defaults)\n"
            "  --set KEY=VALUE      override a knob (repeatable)\n"
            "  --runs N             timed runs, each runs every prompt once (default 5)\n"
            "  --tokens N           decoded tokens per prompt per run, EOS ignored (default 64)\n"
            "  --json FILE          write the JSON report (atomically)\n"
            "  --save-baseline DIR  save this evaluation as a baseline\n"
            "  --baseline DIR       gate quality against DIR; change monitor against it\n"
            "  --allow-other-model  accept a baseline made with another model file\n"
            "  --data DIR           read gate.conf, prompts.tsv and reference.txt from DIR\n"
            "                       (default: the source tree's harness/; optimise passes\n"
            "                       its own read-only copy)\n"
            "  --quick              smoke-test sizes (2 runs, 16 tokens, 2 text chunks,\n"
            "                       answers capped at 96 tokens)\n"
            "  --ab                 compare two builds/configs, interleaved A B B A ...\n"
            "  --a, --b BIN[:CONF]  the two autoinfer binaries and their pipeline.conf\n"
            "  --rounds N           A/B rounds (default 30; --tokens defaults to 32 with --ab)\n"
            "  --prompt-tokens N    --ab: speed prompts of at least N tokens (a stated workload;\n"
            "                       default: the prompts with a short passage, ~60-110 tokens)\n"
            "  --noise FRAC         noise threshold of the verdict (default 0.01)\n"
            "  --timeout S          per-child time limit in --ab (default 300)\n"
            "  --no-quality         --ab: skip B's quality run (speed only)\n"
            "\n"
            "Exit status: 0 pass, 1 error, 2 usage, 3 quality gate failed or implausible\n"
            "speed, 4 --ab candidate crashed, hung or was implausible.\n",
            AH_DEFAULT_MODEL);
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Returns 0, or 2 (usage) after printing the reason. */
static int parse_args(int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->runs = 5;
    o->tokens = 64;
    o->rounds = 30;
    o->noise = 0.01;
    o->timeout_s = 300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE                                                             \
    do {                                                                        \
        if (!v) {                                                               \
            fprintf(stderr, "autoinfer eval: %s needs a value\n", a);           \
            return 2;                                                           \
        }                                                                       \
        i++;                                                                    \
    } while (0)
#define BAD_VALUE(what)                                                              \
    do {                                                                             \
        fprintf(stderr, "autoinfer eval: bad value '%s' for %s: expected %s\n", v, a, \
                what);                                                               \
        return 2;                                                                    \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEEDS_VALUE;
            o->model = v;
        } else if (!strcmp(a, "--conf")) {
            NEEDS_VALUE;
            o->conf_path = v;
        } else if (!strcmp(a, "--set")) {
            NEEDS_VALUE;
            if (o->n_set == MAX_SETS) {
                fprintf(stderr, "autoinfer eval: more than %d --set options\n", MAX_SETS);
                return 2;
            }
            o->sets[o->n_set++] = v;
        } else if (!strcmp(a, "--runs")) {
            NEEDS_VALUE;
            if (parse_int(v, 1, 1000, &o->runs)) BAD_VALUE("an integer in 1..1000");
        } else if (!strcmp(a, "--tokens")) {
            NEEDS_VALUE;
            if (parse_int(v, 2, 100000, &o->tokens)) BAD_VALUE("an integer in 2..100000");
        } else if (!strcmp(a, "--prompt-tokens")) {
            NEEDS_VALUE;
            if (parse_int(v, 1, 65536, &o->prompt_tokens)) BAD_VALUE("an integer in 1..65536");
        } else if (!strcmp(a, "--rounds")) {
            NEEDS_VALUE;
            if (parse_int(v, 2, 1000, &o->rounds)) BAD_VALUE("an integer in 2..1000");
        } else if (!strcmp(a, "--timeout")) {
            NEEDS_VALUE;
            if (parse_int(v, 1, 86400, &o->timeout_s)) BAD_VALUE("seconds in 1..86400");
        } else if (!strcmp(a, "--noise")) {
            NEEDS_VALUE;
            /* a loaded machine's A/A spread can pass 50 % (optimise passes it on) */
            if (parse_double(v, 0, 10, &o->noise)) BAD_VALUE("a fraction in 0..10");
        } else if (!strcmp(a, "--inject-slowdown")) {
            NEEDS_VALUE;
            if (parse_double(v, 0, 10, &o->inject)) BAD_VALUE("a fraction in 0..10");
        } else if (!strcmp(a, "--bandwidth")) {
            NEEDS_VALUE;
            if (parse_double(v, 0.001, 1e6, &o->bandwidth)) BAD_VALUE("GB/s");
        } else if (!strcmp(a, "--json")) {
            NEEDS_VALUE;
            o->json = v;
        } else if (!strcmp(a, "--save-baseline")) {
            NEEDS_VALUE;
            o->save_dir = v;
        } else if (!strcmp(a, "--baseline")) {
            NEEDS_VALUE;
            o->base_dir = v;
        } else if (!strcmp(a, "--data")) {
            NEEDS_VALUE;
            o->data_dir = v;
        } else if (!strcmp(a, "--a")) {
            NEEDS_VALUE;
            o->a = v;
        } else if (!strcmp(a, "--b")) {
            NEEDS_VALUE;
            o->b = v;
        } else if (!strcmp(a, "--build-id")) {
            o->build_id = 1;
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--ab")) {
            o->ab = 1;
        } else if (!strcmp(a, "--worker")) {
            o->worker = 1;
        } else if (!strcmp(a, "--via")) {
            NEEDS_VALUE;
            o->via = v;
        } else if (!strcmp(a, "--quality-only")) {
            o->quality_only = 1;
        } else if (!strcmp(a, "--no-quality")) {
            o->no_quality = 1;
        } else if (!strcmp(a, "--allow-other-model")) {
            o->allow_other_model = 1;
        } else {
            fprintf(stderr, "autoinfer eval: unknown option '%s' (try --help)\n", a);
            return 2;
        }
#undef NEEDS_VALUE
#undef BAD_VALUE
    }
    if (o->quick) {
        int explicit_runs = 0, explicit_tokens = 0;
        for (int i = 1; i < argc; i++) {
            explicit_runs |= !strcmp(argv[i], "--runs");
            explicit_tokens |= !strcmp(argv[i], "--tokens");
        }
        if (!explicit_runs) o->runs = 2;
        if (!explicit_tokens) o->tokens = 16;
    }
    if (o->ab) {
        int explicit_tokens = 0;
        for (int i = 1; i < argc; i++) explicit_tokens |= !strcmp(argv[i], "--tokens");
        if (!explicit_tokens) o->tokens = 32;
    }
    if (o->ab && (!o->a || !o->b)) {
        fprintf(stderr, "autoinfer eval: --ab needs --a BIN[:CONF] and --b BIN[:CONF]\n");
        return 2;
    }
    if (!o->ab && o->prompt_tokens) {
        fprintf(stderr, "autoinfer eval: --prompt-tokens only makes sense with --ab\n");
        return 2;
    }
    if (!o->ab && (o->a || o->b)) {
        fprintf(stderr, "autoinfer eval: --a/--b only make sense with --ab\n");
        return 2;
    }
    if (o->via && (!o->quality_only || o->save_dir || o->n_set)) {
        fprintf(stderr, "autoinfer eval: --via is --ab's quality run: it needs --quality-only "
                        "and takes no --save-baseline or --set\n");
        return 2;
    }
    if (o->ab && o->save_dir) {
        fprintf(stderr, "autoinfer eval: --save-baseline cannot be combined with --ab\n");
        return 2;
    }
    return 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Model path: -m, else the default model under the source tree. */
static const char *model_path(const eval_opts *o, char *buf, size_t cap) {
    if (o->model) return o->model;
    snprintf(buf, cap, "%s/%s", AI_SOURCE_DIR, AH_DEFAULT_MODEL);
    return buf;
}

/* The evaluated configuration; *used_path is the conf file read (or NULL). */
static int build_conf(const eval_opts *o, ai_conf *conf, const char **used_path, char *buf,
                      size_t cap, ai_error *err) {
    ai_conf_defaults(conf);
    *used_path = NULL;
    if (o->conf_path) {
        *used_path = o->conf_path;
    } else {
        snprintf(buf, cap, "%s/pipeline.conf", AI_SOURCE_DIR);
        if (file_exists(buf)) *used_path = buf;
    }
    if (*used_path && ai_conf_load(conf, *used_path, err)) return -1;
    for (int i = 0; i < o->n_set; i++)
        if (ai_conf_set(conf, o->sets[i], err)) return -1;
    return 0;
}

/* Everything one evaluation measures. */
typedef struct eval_state {
    eval_opts *o;
    ai_conf conf;
    const char *conf_used;
    char conf_buf[4200];
    ah_gate gate;
    ah_prompt prompts[AH_MAX_PROMPTS];
    int n_prompts;
    ah_baseline base;
    int has_base;
    ah_subject subj; /* where answers and logits come from (s->p, or a worker: --via) */
    ah_worker worker;
    ah_model_id model;
    ah_gguf_bytes gb; /* the harness's own count of the bytes a decode step reads */
    ai_model_desc desc;
    ai_pipeline *p;
    /* backend cuda: the harness's own GPU measurements (gpu_probe.cu) */
    int gpu_mem_ok;                           /* cudaMemGetInfo worked before the open */
    uint64_t gpu_before, gpu_total, gpu_peak; /* device-wide bytes in use; peak of the samples */
    double *gpu_mb;                           /* per run: peak - before so far, MiB */
    char gpu_why[256];                        /* why there are no GPU memory figures */
    double gpu_bw;                            /* GB/s, probed before the open (NAN if not) */
    char gpu_src[256];                        /* what gave gpu_bw, or why it could not */
    int32_t *ptok[AH_MAX_PROMPTS];
    int n_ptok[AH_MAX_PROMPTS];
    /* sanity */
    char *answer[AH_MAX_PROMPTS];
    int32_t *atok[AH_MAX_PROMPTS];
    int n_atok[AH_MAX_PROMPTS];
    int sanity_pass[AH_MAX_PROMPTS];
    char sanity_why[AH_MAX_PROMPTS][256];
    double sanity;
    /* speed: [run * n_prompts + prompt] */
    ah_timing *timing;
    double *rss;
    int runs_done;
    /* quality */
    int quality_done;
    double ppl, ppl_ratio, kl_mean, kl_p99, top1, self_ppl, self_ppl_ratio;
    int n_scored, tokenizer_match;
    ah_refs own;
    char failures[16][200];
    int n_failures;
    int quality_pass;
    ah_plausible plaus;
    ah_changes changes;
    int has_changes;
    double t_start;
} eval_state;

#define MIB (1024.0 * 1024.0)

/* One reading of the GPU memory in use (device-wide) into the peak. */
static void gpu_sample(eval_state *s) {
    uint64_t used, total;
    char why[256];
    if (s->gpu_mem_ok && ah_gpu_mem(&used, &total, why, sizeof why) == 0 && used > s->gpu_peak)
        s->gpu_peak = used;
}

static double gpu_peak_mb(const eval_state *s) {
    return s->gpu_mem_ok ? (double)(s->gpu_peak - s->gpu_before) / MIB : NAN;
}

static int is_cuda(const eval_state *s) { return !strcmp(s->desc.backend, "cuda"); }

/* Before the pipeline opens, when pipeline.conf lets it take the GPU
 * (backend cuda or auto): the GPU's bandwidth (two large buffers, while the
 * pipeline holds none of its memory) and the memory already in use, which
 * is what the pipeline's footprint is measured from. Not on backend cpu: a
 * CUDA context costs the process host memory that peak RSS would count. */
static void gpu_before_open(eval_state *s) {
    const char *be = ai_conf_get(&s->conf, "backend");
    s->gpu_bw = NAN;
    if (be && !strcmp(be, "cpu")) {
        snprintf(s->gpu_why, sizeof s->gpu_why, "backend = cpu");
        return;
    }
    if (!s->o->worker && !(s->o->bandwidth > 0))
        s->gpu_bw = ah_gpu_bandwidth_probe(0, NULL, 0, s->gpu_src, sizeof s->gpu_src);
    s->gpu_mem_ok =
        ah_gpu_mem(&s->gpu_before, &s->gpu_total, s->gpu_why, sizeof s->gpu_why) == 0;
    s->gpu_peak = s->gpu_before;
}

static int prompt_tokens(eval_state *s, ai_error *err) {
    for (int i = 0; i < s->n_prompts; i++) {
        s->ptok[i] = ah_chat_tokens(s->p, s->prompts[i].text, &s->n_ptok[i], err);
        if (!s->ptok[i]) return -1;
    }
    return 0;
}

/* --via BIN: this process keeps a CPU pipeline of its own build for the
 * tokenizer, and a worker of BIN (with the evaluated configuration) makes
 * the answers and the logits; every figure is computed here. */
static int setup_via(eval_state *s, const char *mp, ai_error *err) {
    ai_conf local = s->conf;
    const char *own[] = {"backend=cpu", "repack=off", "threads=1"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (ai_conf_set(&local, own[i], err)) return -1;
    s->p = ai_pipeline_open(mp, &local, err);
    if (!s->p) return -1;
    ai_pipeline_describe(s->p, &s->desc);
    char *argv[] = {(char *)s->o->via, "eval", "--worker", "-m", (char *)mp,
                    s->conf_used ? "--conf" : NULL, (char *)s->conf_used, NULL};
    double deadline = ah_now() + s->o->timeout_s;
    signal(SIGPIPE, SIG_IGN);
    if (ah_worker_start(&s->worker, "B", argv, deadline))
        return ai_error_set(err, "%s", s->worker.why);
    s->subj = (ah_subject){s->p, &s->worker, deadline};
    /* where it runs, as the worker says (shown; the figures are the judge's) */
    snprintf(s->desc.backend, sizeof s->desc.backend, "%s", s->worker.backend);
    snprintf(s->desc.device, sizeof s->desc.device, "%s", s->worker.device);
    s->desc.device_bytes = (uint64_t)s->worker.device_bytes;
    s->gpu_mem_ok = 0;
    snprintf(s->gpu_why, sizeof s->gpu_why, "not measured in --ab's quality run");
    return prompt_tokens(s, err);
}

static int setup(eval_state *s, ai_error *err) {
    eval_opts *o = s->o;
    char path[4300];
    if (build_conf(o, &s->conf, &s->conf_used, s->conf_buf, sizeof s->conf_buf, err)) return -1;
    ah_gate_defaults(&s->gate);
    ah_data_path(o->data_dir, "gate.conf", path, sizeof path);
    if (ah_gate_load(&s->gate, path, err)) return -1;
    if (o->quick) { /* smoke-test sizes: shorter answers */
        if (s->gate.sanity_tokens > 96) s->gate.sanity_tokens = 96;
        if (s->gate.greedy_tokens > 48) s->gate.greedy_tokens = 48;
    }
    ah_data_path(o->data_dir, "prompts.tsv", path, sizeof path);
    s->n_prompts = ah_prompts_load(path, s->prompts, AH_MAX_PROMPTS, err);
    if (s->n_prompts < 0) return -1;
    char mbuf[4300];
    const char *mp = model_path(o, mbuf, sizeof mbuf);
    if (ah_model_identify(mp, &s->model, err)) return -1;
    if (ah_gguf_bytes_per_token(mp, &s->gb, err)) return -1;
    if (o->base_dir) {
        if (ah_baseline_load(o->base_dir, &s->base, err)) return -1;
        s->has_base = 1;
        if (!o->allow_other_model &&
            (s->base.model.bytes != s->model.bytes ||
             strcmp(s->base.model.sha256_head, s->model.sha256_head)))
            return ai_error_set(err, "baseline %s was made with another model (%s, %llu bytes); "
                                "this evaluation uses %s (%llu bytes) — save a baseline for "
                                "this model, or pass --allow-other-model",
                                o->base_dir, s->base.model.path,
                                (unsigned long long)s->base.model.bytes, s->model.path,
                                (unsigned long long)s->model.bytes);
    }
    if (o->via) return setup_via(s, mp, err);
    gpu_before_open(s);
    s->p = ai_pipeline_open(mp, &s->conf, err);
    if (!s->p) return -1;
    s->subj = (ah_subject){s->p, NULL, 0};
    ai_pipeline_describe(s->p, &s->desc);
    if (!s->desc.backend[0]) snprintf(s->desc.backend, sizeof s->desc.backend, "cpu");
    if (!is_cuda(s)) {
        s->gpu_mem_ok = 0;
        snprintf(s->gpu_why, sizeof s->gpu_why, "the pipeline runs on %s", s->desc.backend);
    } else if (!s->gpu_mem_ok && !s->gpu_why[0]) {
        snprintf(s->gpu_why, sizeof s->gpu_why,
                 "not measured: pipeline.conf's backend is cpu, yet the pipeline says cuda");
    }
    gpu_sample(s);
    return prompt_tokens(s, err);
}

static int run_sanity(eval_state *s, ai_error *err) {
    int passed = 0, cap = s->gate.sanity_tokens;
    for (int i = 0; i < s->n_prompts; i++) {
        s->answer[i] = malloc((size_t)cap * 64 + 1);
        s->atok[i] = malloc(sizeof(int32_t) * (size_t)cap);
        if (!s->answer[i] || !s->atok[i]) abort();
        ah_capture c = {s->answer[i], (size_t)cap * 64 + 1, s->atok[i], cap};
        ah_timing t;
        if (ah_timed_generate(&s->subj, s->ptok[i], s->n_ptok[i], cap, 0, 0, &t, &c, err)) return -1;
        s->n_atok[i] = t.n_gen;
        int r = ah_sanity_check(s->prompts[i].id, s->answer[i], s->sanity_why[i],
                                sizeof s->sanity_why[i]);
        s->sanity_pass[i] = r == 1;
        passed += r == 1;
    }
    s->sanity = (double)passed / s->n_prompts;
    return 0;
}

static int run_speed(eval_state *s, ai_error *err) {
    eval_opts *o = s->o;
    int np = s->n_prompts;
    s->timing = calloc((size_t)o->runs * (size_t)np, sizeof *s->timing);
    s->rss = calloc((size_t)o->runs, sizeof *s->rss);
    s->gpu_mb = calloc((size_t)o->runs, sizeof *s->gpu_mb);
    if (!s->timing || !s->rss || !s->gpu_mb) abort();
    /* warm-up: caches, page faults, thread pool start (not timed) */
    ah_timing warm;
    int wt = o->tokens < 8 ? o->tokens : 8;
    if (ah_timed_generate(&s->subj, s->ptok[0], s->n_ptok[0], wt, 1, 0, &warm, NULL, err)) return -1;
    for (int r = 0; r < o->runs; r++) {
        if (ah_speed_run(&s->subj, s->ptok, s->n_ptok, np, o->tokens, o->inject,
                         s->timing + (size_t)r * np, err))
            return -1;
        s->rss[r] = ah_peak_rss_mb(0);
        gpu_sample(s);
        s->gpu_mb[r] = gpu_peak_mb(s);
        s->runs_done++;
    }
    return 0;
}

/* Greedy answers of the baseline, appended to s->own as answer sequences. */
static int greedy_answers(eval_state *s, const char *mp, ai_error *err) {
    ai_conf g = s->conf;
    char list[sizeof s->gate.greedy_set];
    snprintf(list, sizeof list, "%s", s->gate.greedy_set);
    for (char *item = strtok(list, ","); item; item = strtok(NULL, ","))
        if (ai_conf_set(&g, item, err)) return -1;
    ai_pipeline *pg = ai_pipeline_open(mp, &g, err);
    if (!pg) return -1;
    int cap = s->gate.greedy_tokens, rc = 0;
    ah_subject greedy = {pg, NULL, 0};
    int32_t *ans = malloc(sizeof *ans * (size_t)cap);
    if (!ans) abort();
    for (int i = 0; i < s->n_prompts && !rc; i++) {
        ah_capture c = {NULL, 0, ans, cap};
        ah_timing t;
        if (ah_timed_generate(&greedy, s->ptok[i], s->n_ptok[i], cap, 0, 0, &t, &c, err)) {
            rc = -1;
            break;
        }
        if (t.n_gen < 1) continue;
        int n = s->n_ptok[i] + t.n_gen;
        int32_t *seq = malloc(sizeof *seq * (size_t)n);
        if (!seq) abort();
        memcpy(seq, s->ptok[i], sizeof *seq * (size_t)s->n_ptok[i]);
        memcpy(seq + s->n_ptok[i], ans, sizeof *seq * (size_t)t.n_gen);
        ah_refs_add(&s->own, s->prompts[i].id, AH_SEQ_ANSWER, seq, n, s->n_ptok[i] - 1);
        free(seq);
    }
    free(ans);
    ai_pipeline_close(pg);
    return rc;
}

static int run_quality(eval_state *s, const char *mp, ai_error *err) {
    eval_opts *o = s->o;
    char path[4300];
    ah_data_path(o->data_dir, "reference.txt", path, sizeof path);
    char *text = ah_read_text(path, err);
    if (!text) return -1;
    int chunk = TEXT_CHUNK;
    int max_chunks = o->quick ? 2 : 0;
    ah_refs_init(&s->own, s->desc.n_vocab);
    int rc = ah_text_sequences(s->p, text, chunk, max_chunks, &s->own, err);
    free(text);
    if (rc < 0) return -1;
    s->ppl = s->ppl_ratio = s->kl_mean = s->kl_p99 = s->top1 = s->self_ppl_ratio = NAN;

    if (o->save_dir && greedy_answers(s, mp, err)) return -1;
    if (o->save_dir || !s->has_base) {
        ah_score_result res;
        if (ah_score_refs(&s->subj, &s->own, 1, 0, &res, err)) return -1;
        s->ppl = res.n_text ? exp(res.nll_text / res.n_text) : NAN;
        if (!s->has_base) s->n_scored = res.n_scored;
    }
    if (s->has_base) {
        /* the tokenizer must reproduce the baseline's text tokens */
        s->tokenizer_match = 1;
        int j = 0;
        for (int i = 0; i < s->base.refs.n_seq && j < s->own.n_seq; i++) {
            ah_ref_seq *b = &s->base.refs.seq[i];
            if (b->kind != AH_SEQ_TEXT) continue;
            ah_ref_seq *c = &s->own.seq[j++];
            if (c->kind != AH_SEQ_TEXT || b->n != c->n ||
                memcmp(b->tokens, c->tokens, sizeof *b->tokens * (size_t)b->n))
                s->tokenizer_match = 0;
        }
        ah_score_result res;
        if (ah_score_refs(&s->subj, &s->base.refs, 0, max_chunks, &res, err)) {
            free(res.kl);
            return -1;
        }
        s->n_scored = res.n_scored;
        if (res.n_text) {
            s->ppl = exp(res.nll_text / res.n_text);
            s->ppl_ratio = exp((res.nll_text - res.nll_text_ref) / res.n_text);
        }
        if (res.n_scored) {
            s->kl_mean = ah_mean(res.kl, res.n_scored);
            ah_sort(res.kl, res.n_scored);
            s->kl_p99 = ah_quantile_sorted(res.kl, res.n_scored, 0.99);
            s->top1 = (double)res.top1_same / res.n_scored;
        }
        free(res.kl);
    }
    s->self_ppl = ah_self_ppl(&s->subj, s->ptok, s->n_ptok, s->atok, s->n_atok, s->n_prompts, err);
    s->quality_done = 1;

    double base_self = s->has_base ? ah_jnum(s->base.doc, "quality.self_ppl") : NAN;
    s->self_ppl_ratio = s->self_ppl / base_self;
    ah_quality_figs q = {s->sanity, s->ppl, s->has_base,
                         s->has_base ? s->base.sanity : NAN,
                         s->ppl_ratio, s->kl_mean, s->kl_p99, s->top1, s->tokenizer_match,
                         s->self_ppl_ratio};
    int nf = ah_gate_check(&s->gate, &q, &s->failures[0][0], sizeof s->failures[0], 16);
    s->n_failures = nf < 16 ? nf : 16;
    s->quality_pass = nf == 0;
    return 0;
}

static cJSON *str_or_null(const char *v) { return v ? cJSON_CreateString(v) : cJSON_CreateNull(); }

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *json_build(void) {
    ah_build_id b;
    ah_build_identify(&b);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "commit", b.commit);
    cJSON_AddBoolToObject(o, "dirty", b.dirty);
    cJSON_AddStringToObject(o, "cflags", b.cflags);
    cJSON_AddStringToObject(o, "exe_sha256", b.exe_sha256);
    cJSON_AddStringToObject(o, "version", AI_VERSION);
    return o;
}

static cJSON *json_model(const eval_state *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", s->model.path);
    cJSON_AddStringToObject(o, "name", s->desc.name);
    cJSON_AddStringToObject(o, "arch", s->desc.arch);
    cJSON_AddNumberToObject(o, "n_params", (double)s->desc.n_params);
    cJSON_AddNumberToObject(o, "bytes", (double)s->model.bytes);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)s->desc.weight_bytes);
    cJSON_AddNumberToObject(o, "bytes_per_token", (double)s->gb.per_token); /* the harness's count */
    cJSON_AddNumberToObject(o, "engine_bytes_per_token", (double)s->desc.bytes_per_token);
    cJSON_AddBoolToObject(o, "tied_head", s->gb.tied);
    cJSON_AddStringToObject(o, "sha256_head", s->model.sha256_head);
    return o;
}

static cJSON *json_conf(const ai_conf *c) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < c->n; i++) cJSON_AddStringToObject(o, c->keys[i], c->values[i]);
    return o;
}

/* Per-run overall figures and per-prompt distributions. */
static cJSON *json_speed(const eval_state *s) {
    int runs = s->runs_done, np = s->n_prompts;
    cJSON *o = cJSON_CreateObject();
    double *dec = calloc((size_t)runs + 1, sizeof *dec), *pre = calloc((size_t)runs + 1, sizeof *pre),
           *ttft = calloc((size_t)runs + 1, sizeof *ttft);
    if (!dec || !pre || !ttft) abort();
    for (int r = 0; r < runs; r++)
        ah_run_figures(s->timing + (size_t)r * np, np, &dec[r], &pre[r], &ttft[r]);
    cJSON_AddItemToObject(o, "decode_tps", ah_json_dist(dec, runs));
    cJSON_AddItemToObject(o, "prefill_tps", ah_json_dist(pre, runs));
    cJSON_AddItemToObject(o, "ttft_ms", ah_json_dist(ttft, runs));
    cJSON_AddItemToObject(o, "peak_rss_mb", ah_json_dist(s->rss, runs));
    /* GPU memory in use, measured by the harness (cudaMemGetInfo: after each
     * run, minus before the open), beside what the pipeline says it holds */
    cJSON_AddItemToObject(o, "peak_gpu_mb",
                          s->gpu_mem_ok && runs ? ah_json_dist(s->gpu_mb, runs) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "engine_gpu_mb",
                          num_or_null(is_cuda(s) ? (double)s->desc.device_bytes / MIB : NAN));
    cJSON_AddNumberToObject(o, "runs", runs);
    cJSON_AddNumberToObject(o, "tokens", s->o->tokens);
    cJSON *pp = cJSON_AddArrayToObject(o, "per_prompt");
    for (int i = 0; i < np && runs; i++) {
        for (int r = 0; r < runs; r++)
            ah_run_figures(s->timing + (size_t)r * np + i, 1, &dec[r], &pre[r], &ttft[r]);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "prompt", s->prompts[i].id);
        cJSON_AddNumberToObject(row, "n_prompt", s->n_ptok[i]);
        cJSON_AddItemToObject(row, "decode_tps", ah_json_dist(dec, runs));
        cJSON_AddItemToObject(row, "prefill_tps", ah_json_dist(pre, runs));
        cJSON_AddItemToObject(row, "ttft_ms", ah_json_dist(ttft, runs));
        cJSON_AddItemToArray(pp, row);
    }
    free(dec);
    free(pre);
    free(ttft);
    return o;
}

static cJSON *json_quality(const eval_state *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "pass", s->quality_pass);
    cJSON_AddItemToObject(o, "sanity", num_or_null(s->quality_done ? s->sanity : NAN));
    cJSON *sd = cJSON_AddArrayToObject(o, "sanity_detail");
    for (int i = 0; i < s->n_prompts && s->answer[i]; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "prompt", s->prompts[i].id);
        cJSON_AddBoolToObject(row, "pass", s->sanity_pass[i]);
        cJSON_AddStringToObject(row, "why", s->sanity_why[i]);
        cJSON_AddNumberToObject(row, "n_tokens", s->n_atok[i]);
        cJSON_AddStringToObject(row, "text", s->answer[i]);
        cJSON_AddItemToArray(sd, row);
    }
    cJSON_AddItemToObject(o, "ppl", num_or_null(s->ppl));
    cJSON_AddItemToObject(o, "ppl_ratio", num_or_null(s->ppl_ratio));
    cJSON_AddItemToObject(o, "kl_mean", num_or_null(s->kl_mean));
    cJSON_AddItemToObject(o, "kl_p99", num_or_null(s->kl_p99));
    cJSON_AddItemToObject(o, "top1_agree", num_or_null(s->top1));
    cJSON_AddItemToObject(o, "self_ppl", num_or_null(s->self_ppl));
    cJSON_AddItemToObject(o, "self_ppl_ratio", num_or_null(s->self_ppl_ratio));
    cJSON_AddNumberToObject(o, "n_scored", s->n_scored);
    if (s->has_base) cJSON_AddBoolToObject(o, "tokenizer_match", s->tokenizer_match);
    else cJSON_AddNullToObject(o, "tokenizer_match");
    cJSON_AddItemToObject(o, "baseline_sanity", num_or_null(s->has_base ? s->base.sanity : NAN));
    cJSON_AddItemToObject(o, "baseline_ppl", num_or_null(s->has_base ? s->base.ppl : NAN));
    cJSON *fl = cJSON_AddArrayToObject(o, "failures");
    for (int i = 0; i < s->n_failures; i++) cJSON_AddItemToArray(fl, cJSON_CreateString(s->failures[i]));
    return o;
}

cJSON *ah_json_plausible(const ah_plausible *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", p->ok);
    cJSON_AddItemToObject(o, "roofline_tps", num_or_null(p->roofline_tps));
    cJSON_AddItemToObject(o, "bandwidth_gbps", num_or_null(p->bandwidth_gbps));
    cJSON_AddNumberToObject(o, "bytes_per_token", (double)p->bytes_per_token);
    cJSON_AddItemToObject(o, "engine_bytes_per_token",
                          num_or_null(p->engine_bytes_per_token ? (double)p->engine_bytes_per_token : NAN));
    cJSON_AddStringToObject(o, "backend", p->backend[0] ? p->backend : "cpu");
    cJSON_AddStringToObject(o, "bandwidth_source", p->bandwidth_source);
    cJSON_AddStringToObject(o, "why", p->why);
    return o;
}

/* Where the pipeline ran, and the harness's GPU memory readings. */
static cJSON *json_device(const eval_state *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "backend", s->desc.backend);
    cJSON_AddStringToObject(o, "name", s->desc.device);
    cJSON_AddItemToObject(o, "engine_gpu_mb",
                          num_or_null(is_cuda(s) ? (double)s->desc.device_bytes / MIB : NAN));
    cJSON_AddItemToObject(o, "gpu_peak_mb", num_or_null(gpu_peak_mb(s)));
    cJSON_AddItemToObject(o, "gpu_used_before_mb",
                          num_or_null(s->gpu_mem_ok ? (double)s->gpu_before / MIB : NAN));
    cJSON_AddItemToObject(o, "gpu_total_mb",
                          num_or_null(s->gpu_mem_ok ? (double)s->gpu_total / MIB : NAN));
    cJSON_AddStringToObject(o, "gpu_note", s->gpu_mem_ok ? "" : s->gpu_why);
    return o;
}

static cJSON *json_changes(const eval_state *s) {
    cJSON *o = cJSON_CreateObject();
    if (!s->has_changes) {
        cJSON_AddNullToObject(o, "baseline_commit");
        cJSON_AddNullToObject(o, "knobs");
        cJSON_AddNullToObject(o, "engine_lines_added");
        cJSON_AddNullToObject(o, "engine_lines_removed");
        cJSON_AddNullToObject(o, "functions_added");
        cJSON_AddNullToObject(o, "functions_removed");
        return o;
    }
    const ah_changes *c = &s->changes;
    cJSON_AddStringToObject(o, "baseline_commit", c->baseline_commit);
    cJSON *k = cJSON_AddArrayToObject(o, "knobs");
    for (int i = 0; i < c->n_knobs; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "key", c->knobs[i].key);
        cJSON_AddStringToObject(row, "baseline", c->knobs[i].baseline);
        cJSON_AddStringToObject(row, "current", c->knobs[i].current);
        cJSON_AddStringToObject(row, "tradeoff", c->knobs[i].tradeoff);
        cJSON_AddItemToArray(k, row);
    }
    cJSON_AddItemToObject(o, "engine_lines_added",
                          c->lines_added >= 0 ? cJSON_CreateNumber((double)c->lines_added) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "engine_lines_removed",
                          c->lines_removed >= 0 ? cJSON_CreateNumber((double)c->lines_removed) : cJSON_CreateNull());
    cJSON *fa = cJSON_AddArrayToObject(o, "functions_added");
    for (int i = 0; i < c->n_fn_added; i++) cJSON_AddItemToArray(fa, cJSON_CreateString(c->fn_added[i]));
    cJSON *fr = cJSON_AddArrayToObject(o, "functions_removed");
    for (int i = 0; i < c->n_fn_removed; i++) cJSON_AddItemToArray(fr, cJSON_CreateString(c->fn_removed[i]));
    return o;
}

static cJSON *json_report(const eval_state *s) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema", 1);
    cJSON_AddItemToObject(doc, "build", json_build());
    cJSON_AddItemToObject(doc, "model", json_model(s));
    cJSON_AddItemToObject(doc, "device", json_device(s));
    cJSON_AddItemToObject(doc, "config", json_conf(&s->conf));
    cJSON_AddItemToObject(doc, "conf_path", str_or_null(s->conf_used));
    cJSON_AddItemToObject(doc, "speed", json_speed(s));
    cJSON_AddItemToObject(doc, "quality", json_quality(s));
    cJSON_AddItemToObject(doc, "plausible", ah_json_plausible(&s->plaus));
    cJSON_AddItemToObject(doc, "changes", json_changes(s));
    cJSON_AddItemToObject(doc, "baseline", str_or_null(s->has_base ? s->o->base_dir : NULL));
    cJSON_AddNumberToObject(doc, "duration_s", ah_now() - s->t_start);
    return doc;
}

static void state_free(eval_state *s) {
    for (int i = 0; i < AH_MAX_PROMPTS; i++) {
        free(s->ptok[i]);
        free(s->answer[i]);
        free(s->atok[i]);
    }
    free(s->timing);
    free(s->rss);
    free(s->gpu_mb);
    ah_refs_free(&s->own);
    if (s->has_base) ah_baseline_free(&s->base);
    if (s->has_changes) ah_changes_free(&s->changes);
    if (s->o->via) ah_worker_stop(&s->worker, 0); /* no-op once stopped; else killed */
    ai_pipeline_close(s->p);
}

static int run_eval(eval_opts *o) {
    eval_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->o = o;
    s->t_start = ah_now();
    ai_error err = {{0}};
    int rc = 1;
    char mbuf[4300];
    const char *mp = model_path(o, mbuf, sizeof mbuf);
    if (setup(s, &err)) goto fail;
    if (run_sanity(s, &err)) goto fail;
    if (!o->quality_only && run_speed(s, &err)) goto fail;
    if (run_quality(s, mp, &err)) goto fail;
    if (o->via && ah_worker_stop(&s->worker, s->subj.deadline)) {
        ai_error_set(&err, "%s", s->worker.why);
        goto fail;
    }

    gpu_sample(s);
    /* the roofline: the harness's bytes per token, the bandwidth of the
     * device the pipeline ran on, measured by the harness */
    char src[256];
    double bw;
    if (o->bandwidth > 0) {
        bw = o->bandwidth;
        snprintf(src, sizeof src, "given (--bandwidth)");
    } else if (is_cuda(s) && (isfinite(s->gpu_bw) || s->gpu_src[0])) {
        bw = s->gpu_bw; /* probed before the open */
        snprintf(src, sizeof src, "%s", s->gpu_src);
    } else {
        bw = ah_roofline_bandwidth(s->desc.backend, s->gb.per_token, src, sizeof src);
    }
    if (s->runs_done) {
        double *dec = calloc((size_t)s->runs_done, sizeof *dec);
        if (!dec) abort();
        double pre, ttft;
        for (int r = 0; r < s->runs_done; r++)
            ah_run_figures(s->timing + (size_t)r * s->n_prompts, s->n_prompts, &dec[r], &pre, &ttft);
        ah_plausible_check(ah_median(dec, s->runs_done), s->gb.per_token, bw,
                           s->gate.roofline_margin, &s->plaus);
        free(dec);
    } else {
        ah_plausible_check(1, s->gb.per_token, bw, s->gate.roofline_margin, &s->plaus);
        snprintf(s->plaus.why, sizeof s->plaus.why, "no speed runs (quality only)");
    }
    ah_plausible_note(&s->plaus, s->desc.backend, src, s->desc.bytes_per_token, s->runs_done > 0);
    if (s->has_base) {
        ah_knob_diff(&s->base.conf, &s->conf, &s->changes);
        ah_engine_diff(AI_SOURCE_DIR, s->base.commit, &s->changes);
        s->has_changes = 1;
    }
    cJSON *doc = json_report(s);
    ah_print_report(doc, stdout);
    if (o->save_dir) {
        ah_model_id mid = s->model;
        if (ah_baseline_save(o->save_dir, doc, &mid, s->conf_used, &s->own, &err)) {
            cJSON_Delete(doc);
            goto fail;
        }
        printf("baseline saved: %s\n", o->save_dir);
    }
    if (o->json && ah_json_write(doc, o->json, &err)) {
        cJSON_Delete(doc);
        goto fail;
    }
    cJSON_Delete(doc);
    rc = s->quality_pass && s->plaus.ok ? 0 : 3;
    goto out;
fail:
    fprintf(stderr, "autoinfer eval: %s\n", err.msg[0] ? err.msg : "failed");
    rc = 1;
out:
    state_free(s);
    free(s);
    return rc;
}

int ai_cmd_eval(int argc, char **argv) {
    eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc == -1) return 0;
    if (rc) return rc;
    ai_error err;
    if (o.json && ah_json_check_path(o.json, &err)) {
        fprintf(stderr, "autoinfer eval: --json: %s\n", err.msg);
        return 1;
    }
    if (o.build_id) { /* hidden: the build identity as one JSON line */
        cJSON *b = json_build();
        char *line = cJSON_PrintUnformatted(b);
        printf("%s\n", line);
        free(line);
        cJSON_Delete(b);
        return 0;
    }
    if (o.worker) { /* the candidate's side of --ab (worker.c) */
        ai_conf conf;
        const char *used;
        char cbuf[4200], mbuf[4300];
        if (build_conf(&o, &conf, &used, cbuf, sizeof cbuf, &err)) {
            printf("error %s\n", err.msg);
            return 1;
        }
        return ah_worker_serve(model_path(&o, mbuf, sizeof mbuf), &conf);
    }
    if (o.ab) {
        ah_ab_opts ab = {0};
        char abuf[2][4300];
        const char *spec[2] = {o.a, o.b};
        for (int i = 0; i < 2; i++) {
            snprintf(abuf[i], sizeof abuf[i], "%s", spec[i]);
            char *colon = strrchr(abuf[i], ':');
            ab.bin[i] = abuf[i];
            if (colon) {
                *colon = 0;
                ab.conf[i] = colon + 1;
            }
        }
        char mbuf[4300];
        ab.model = model_path(&o, mbuf, sizeof mbuf);
        ab.baseline = o.base_dir;
        ab.data_dir = o.data_dir;
        ab.json = o.json;
        ab.rounds = o.rounds;
        ab.prompt_tokens = o.prompt_tokens;
        ab.tokens = o.tokens;
        ab.timeout_s = o.timeout_s;
        ab.noise = o.noise;
        ab.inject_b = o.inject;
        ab.no_quality = o.no_quality;
        ab.allow_other_model = o.allow_other_model;
        return ah_run_ab(&ab);
    }
    return run_eval(&o);
}
