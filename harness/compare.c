/* compare.c — `autoinfer eval --ab`: two builds (or two configurations)
 * measured interleaved in one session, each sample a fresh child process
 * (`BIN eval --worker`) that loads the model and does one timed speed run.
 * Rounds alternate their order (A B, B A, A B, ...) so that a slow drift
 * of the machine weighs on both sides alike; the per-round pairs give the
 * ratio B/A (geometric mean), a bootstrap CI and a sign-flip permutation
 * p-value, and the criterion.rs-style verdict. A crash, a hang (per-child
 * time limit) or an impossible speed ends the compare with a status. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "stats.h"

#ifndef AI_SOURCE_DIR
#define AI_SOURCE_DIR "."
#endif

#define BOOT_RESAMPLES 20000
#define BOOT_SEED 0xA17B0u

typedef enum { CHILD_OK, CHILD_FAILED, CHILD_SIGNALED, CHILD_TIMEOUT } child_status;

typedef struct child_result {
    child_status status;
    int code; /* exit code or signal */
    char *out;
    size_t out_len;
    char err_tail[1024];
    double wall_s;
} child_result;

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        while (nc < *len + n + 1) nc *= 2;
        char *g = realloc(*buf, nc);
        if (!g) abort();
        *buf = g;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* Runs argv with stdout and stderr captured, killing its process group at
 * the deadline. */
static int run_child(char *const argv[], int timeout_s, child_result *r) {
    memset(r, 0, sizeof *r);
    int po[2], pe[2];
    if (pipe(po)) return -1;
    if (pipe(pe)) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    double t0 = ah_now();
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* a worker must not outlive the harness (even one killed with -9) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        execv(argv[0], argv);
        fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]);
    close(pe[1]);
    size_t out_cap = 0;
    char *err = NULL;
    size_t err_len = 0, err_cap = 0;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2, timed_out = 0;
    double deadline = t0 + timeout_s;
    while (open_fds > 0) {
        double left = deadline - ah_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int rc = poll(fds, 2, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                append(&r->out, &r->out_len, &out_cap, buf, (size_t)n);
            } else {
                append(&err, &err_len, &err_cap, buf, (size_t)n);
            }
        }
    }
    int st = 0;
    if (!timed_out) {
        /* output closed: the child should be exiting now */
        while (waitpid(pid, &st, WNOHANG) == 0) {
            if (ah_now() > deadline) {
                timed_out = 1;
                break;
            }
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    /* whatever the worker started dies with it */
    kill(-pid, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    r->wall_s = ah_now() - t0;
    if (err) {
        /* keep the last non-empty line */
        while (err_len && (err[err_len - 1] == '\n' || err[err_len - 1] == '\r')) err[--err_len] = 0;
        const char *last = strrchr(err, '\n');
        snprintf(r->err_tail, sizeof r->err_tail, "%s", last ? last + 1 : err);
        free(err);
    }
    if (!r->out) append(&r->out, &r->out_len, &out_cap, "", 0);
    if (timed_out) {
        r->status = CHILD_TIMEOUT;
        r->code = timeout_s;
    } else if (WIFSIGNALED(st)) {
        r->status = CHILD_SIGNALED;
        r->code = WTERMSIG(st);
    } else if (WIFEXITED(st) && WEXITSTATUS(st)) {
        r->status = CHILD_FAILED;
        r->code = WEXITSTATUS(st);
    } else {
        r->status = CHILD_OK;
    }
    return 0;
}

typedef struct side {
    const char *bin, *conf;
    double *dec, *pre, *ttft, *rss, *dmed;
    double *req; /* requests per second: 1 / mean over prompts of request -> last token */
    double *gpu; /* GPU memory the worker's harness measured (MiB; NAN on the CPU) */
    int n;
    cJSON *samples; /* worker lines */
    /* from the latest worker line: where its pipeline ran, and what it says */
    char backend[16], device[160];
    double engine_gpu_mb, engine_bytes_per_token;
    int32_t *ids; /* the tokens its workers streamed: [round][prompt][token] */
} side;

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* The per-sample GPU memory as a distribution, or null when a sample has
 * none (the CPU backend, or the harness could not measure it). */
static cJSON *gpu_dist(const side *s) {
    if (!s->n) return cJSON_CreateNull();
    for (int i = 0; i < s->n; i++)
        if (!isfinite(s->gpu[i])) return cJSON_CreateNull();
    return ah_json_dist(s->gpu, s->n);
}

static void describe_failure(const char *who, const child_result *r, char *why, size_t cap,
                             const char **status) {
    switch (r->status) {
    case CHILD_TIMEOUT:
        *status = "timeout";
        snprintf(why, cap, "%s: no result within %d s (killed)", who, r->code);
        break;
    case CHILD_SIGNALED:
        *status = "crash";
        snprintf(why, cap, "%s: killed by signal %d (%s)%s%s", who, r->code, strsignal(r->code),
                 r->err_tail[0] ? ": " : "", r->err_tail);
        break;
    default:
        *status = "crash";
        snprintf(why, cap, "%s: exit status %d%s%s", who, r->code, r->err_tail[0] ? ": " : "",
                 r->err_tail);
        break;
    }
}

static int check_bin(const char *bin) {
    struct stat st;
    if (stat(bin, &st) || !S_ISREG(st.st_mode) || access(bin, X_OK)) {
        fprintf(stderr, "autoinfer eval: --ab: %s is not an executable file\n", bin);
        return -1;
    }
    return 0;
}

static cJSON *side_json(const side *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bin", s->bin);
    if (s->conf) cJSON_AddStringToObject(o, "conf", s->conf);
    else cJSON_AddNullToObject(o, "conf");
    cJSON_AddItemToObject(o, "decode_tps", ah_json_dist(s->dec, s->n));
    cJSON_AddItemToObject(o, "prefill_tps", ah_json_dist(s->pre, s->n));
    cJSON_AddItemToObject(o, "ttft_ms", ah_json_dist(s->ttft, s->n));
    cJSON_AddItemToObject(o, "peak_rss_mb", ah_json_dist(s->rss, s->n));
    cJSON_AddItemToObject(o, "decode_tps_med", ah_json_dist(s->dmed, s->n));
    cJSON_AddStringToObject(o, "backend", s->backend);
    cJSON_AddStringToObject(o, "device", s->device);
    cJSON_AddItemToObject(o, "peak_gpu_mb", gpu_dist(s));
    return o;
}

/* B's speed object in the shape of a plain evaluation's "speed". */
static cJSON *speed_json(const side *s, int tokens) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "decode_tps", ah_json_dist(s->dec, s->n));
    cJSON_AddItemToObject(o, "prefill_tps", ah_json_dist(s->pre, s->n));
    cJSON_AddItemToObject(o, "ttft_ms", ah_json_dist(s->ttft, s->n));
    cJSON_AddItemToObject(o, "peak_rss_mb", ah_json_dist(s->rss, s->n));
    cJSON_AddItemToObject(o, "peak_gpu_mb", gpu_dist(s));
    cJSON_AddItemToObject(o, "engine_gpu_mb", num_or_null(s->engine_gpu_mb));
    cJSON_AddNumberToObject(o, "runs", s->n);
    cJSON_AddNumberToObject(o, "tokens", tokens);
    cJSON *pp = cJSON_AddArrayToObject(o, "per_prompt");
    const cJSON *first = cJSON_GetArrayItem(s->samples, 0);
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(first, "per_prompt");
    int np = cJSON_GetArraySize(prompts);
    double *d = calloc((size_t)s->n + 1, sizeof *d), *p = calloc((size_t)s->n + 1, sizeof *p),
           *t = calloc((size_t)s->n + 1, sizeof *t);
    if (!d || !p || !t) abort();
    for (int i = 0; i < np; i++) {
        int k = 0;
        const cJSON *sample;
        cJSON_ArrayForEach(sample, s->samples) {
            const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sample, "per_prompt"), i);
            d[k] = ah_jnum(row, "decode_tps");
            p[k] = ah_jnum(row, "prefill_tps");
            t[k] = ah_jnum(row, "ttft_ms");
            k++;
        }
        const cJSON *row0 = cJSON_GetArrayItem(prompts, i);
        cJSON *row = cJSON_CreateObject();
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(row0, "prompt");
        cJSON_AddStringToObject(row, "prompt", cJSON_IsString(name) ? name->valuestring : "?");
        cJSON_AddNumberToObject(row, "n_prompt", ah_jnum(row0, "n_prompt"));
        cJSON_AddItemToObject(row, "decode_tps", ah_json_dist(d, k));
        cJSON_AddItemToObject(row, "prefill_tps", ah_json_dist(p, k));
        cJSON_AddItemToObject(row, "ttft_ms", ah_json_dist(t, k));
        cJSON_AddItemToArray(pp, row);
    }
    free(d);
    free(p);
    free(t);
    return o;
}

static void replace_item(cJSON *doc, const char *key, cJSON *item) {
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, item);
    else
        cJSON_AddItemToObject(doc, key, item);
}

/* A document with every top-level key, for when B's quality run is missing. */
static cJSON *skeleton(const char *model) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema", 1);
    cJSON *b = cJSON_AddObjectToObject(doc, "build");
    cJSON_AddNullToObject(b, "commit");
    cJSON_AddNullToObject(b, "dirty");
    cJSON_AddNullToObject(b, "cflags");
    cJSON *m = cJSON_AddObjectToObject(doc, "model");
    cJSON_AddStringToObject(m, "path", model);
    cJSON_AddNullToObject(m, "arch");
    cJSON_AddNullToObject(m, "n_params");
    cJSON_AddNullToObject(m, "bytes");
    cJSON_AddObjectToObject(doc, "config");
    cJSON *q = cJSON_AddObjectToObject(doc, "quality");
    cJSON_AddBoolToObject(q, "pass", 0);
    const char *nulls[] = {"sanity", "ppl", "ppl_ratio", "kl_mean", "kl_p99", "top1_agree", "self_ppl"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) cJSON_AddNullToObject(q, nulls[i]);
    cJSON_AddArrayToObject(q, "sanity_detail");
    cJSON_AddArrayToObject(q, "failures");
    cJSON *c = cJSON_AddObjectToObject(doc, "changes");
    const char *cn[] = {"baseline_commit", "knobs", "engine_lines_added", "engine_lines_removed",
                        "functions_added", "functions_removed"};
    for (size_t i = 0; i < sizeof cn / sizeof cn[0]; i++) cJSON_AddNullToObject(c, cn[i]);
    return doc;
}

/* What B's binary says of its build (commit, flags): a description for
 * the report, printed by the candidate, so never part of a verdict. */
static cJSON *build_of(const char *bin) {
    char *argv[] = {(char *)bin, "eval", "--build-id", NULL};
    child_result cr;
    cJSON *b = NULL;
    if (run_child(argv, 60, &cr) == 0) {
        if (cr.status == CHILD_OK) b = cJSON_Parse(cr.out);
        free(cr.out);
    }
    if (!cJSON_IsObject(b)) {
        cJSON_Delete(b);
        b = cJSON_CreateObject();
        cJSON_AddNullToObject(b, "commit");
        cJSON_AddNullToObject(b, "dirty");
        cJSON_AddNullToObject(b, "cflags");
    }
    return b;
}

/* The speed prompts of this evaluation: prompts.tsv's, each followed by a
 * passage drawn per round (ah_round_prompts), tokenized by the judge. */
typedef struct speed_prompts {
    ah_prompt base[AH_MAX_PROMPTS];
    int nb;
    int32_t **tok; /* [round * nb + i] */
    int *ntok;
    uint64_t seed;
} speed_prompts;

static uint64_t fresh_seed(void) {
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&seed, sizeof seed, 1, f) != 1) seed = (uint64_t)(ah_now() * 1e9) ^ (uint64_t)getpid();
    if (f) fclose(f);
    return seed;
}

/* The judge's own pipeline of the model (this build's CPU engine, the one
 * held to llama.cpp): the tokenizer of the prompts and the reference of
 * the work check. It never takes the GPU the workers are measured on. */
static ai_pipeline *judge_pipeline(const ah_ab_opts *o, const char *set, ai_error *err) {
    ai_conf conf;
    ai_conf_defaults(&conf);
    if (ai_conf_set(&conf, "backend=cpu", err) || (set && ai_conf_set(&conf, set, err)))
        return NULL;
    return ai_pipeline_open(o->model, &conf, err);
}

static int make_prompts(const ah_ab_opts *o, speed_prompts *sp, ai_error *err) {
    memset(sp, 0, sizeof *sp);
    char path[4400];
    ah_data_path(o->data_dir, "prompts.tsv", path, sizeof path);
    sp->nb = ah_prompts_load(path, sp->base, AH_MAX_PROMPTS, err);
    if (sp->nb < 0) return -1;
    ah_data_path(o->data_dir, "reference.txt", path, sizeof path);
    char *text = ah_read_text(path, err);
    if (!text) return -1;
    size_t n = (size_t)o->rounds * (size_t)sp->nb;
    sp->tok = calloc(n, sizeof *sp->tok);
    sp->ntok = calloc(n, sizeof *sp->ntok);
    if (!sp->tok || !sp->ntok) abort();
    sp->seed = fresh_seed();
    /* one thread, no repacking: this pipeline only tokenizes */
    ai_pipeline *p = judge_pipeline(o, "repack=off", err);
    int rc = p ? ah_round_prompts(p, sp->base, sp->nb, text, o->rounds, o->prompt_tokens,
                                  sp->seed, sp->tok, sp->ntok, err)
               : -1;
    ai_pipeline_close(p);
    free(text);
    return rc;
}

static void free_prompts(speed_prompts *sp, int rounds) {
    for (int i = 0; sp->tok && i < rounds * sp->nb; i++) free(sp->tok[i]);
    free(sp->tok);
    free(sp->ntok);
}

/* One sample: a fresh worker of one side warms up, then answers round r's
 * prompts, each timed by this process as its tokens arrive. Returns the
 * sample as a JSON line (the shape speed_json reads) with the tokens kept
 * in s->ids for the work check, or NULL with w->status and w->why set. */
static cJSON *measure(const ah_ab_opts *o, side *s, int which, const speed_prompts *sp, int r,
                      ah_worker *w) {
    char *argv[12];
    int a = 0;
    argv[a++] = (char *)s->bin;
    argv[a++] = "eval";
    argv[a++] = "--worker";
    argv[a++] = "-m";
    argv[a++] = (char *)o->model;
    if (s->conf) {
        argv[a++] = "--conf";
        argv[a++] = (char *)s->conf;
    }
    argv[a] = NULL;
    double deadline = ah_now() + o->timeout_s;
    uint64_t gpu_before = 0, gpu_total, gpu_peak = 0;
    char gwhy[256];
    int np = sp->nb, n = o->tokens, warm = n < 8 ? n : 8;
    double inject = which == 1 ? o->inject_b : 0;
    int32_t *ids = s->ids + (size_t)r * np * n;
    double *arrive = malloc(sizeof *arrive * (size_t)n), t_sent, request_s = 0;
    ah_timing *t = calloc((size_t)np, sizeof *t);
    if (!arrive || !t) abort();
    const char *who = which ? "B" : "A";
    cJSON *line = NULL;
    if (ah_worker_start(w, who, argv, deadline)) goto out;
    int gpu = !strcmp(w->backend, "cuda") && ah_gpu_mem(&gpu_before, &gpu_total, gwhy, sizeof gwhy) == 0;
    gpu_peak = gpu_before;
    /* warm-up (caches, page faults, thread pool start): untimed, and
     * indistinguishable from the timed requests */
    const int32_t *p0 = sp->tok[(size_t)r * np];
    if (ah_worker_gen(w, p0, sp->ntok[(size_t)r * np], warm, deadline, ids, &t_sent, arrive))
        goto out;
    for (int i = 0; i < np; i++) {
        size_t at = (size_t)r * np + (size_t)i;
        if (ah_worker_gen(w, sp->tok[at], sp->ntok[at], n, deadline, ids + (size_t)i * n, &t_sent,
                          arrive))
            goto out;
        ah_timing_from_arrivals(t_sent, arrive, n, sp->ntok[at], inject, &t[i]);
        request_s += (t[i].prefill_s + t[i].decode_s) / np;
        uint64_t used;
        if (gpu && ah_gpu_mem(&used, &gpu_total, gwhy, sizeof gwhy) == 0 && used > gpu_peak)
            gpu_peak = used;
    }
    double rss = ah_peak_rss_mb(w->pid);
    if (ah_worker_stop(w, deadline)) goto out;
    double dec, pre, ttft;
    ah_run_figures(t, np, &dec, &pre, &ttft);
    line = cJSON_CreateObject();
    cJSON_AddItemToObject(line, "decode_tps", num_or_null(dec));
    cJSON_AddItemToObject(line, "prefill_tps", num_or_null(pre));
    cJSON_AddItemToObject(line, "ttft_ms", num_or_null(ttft));
    cJSON_AddItemToObject(line, "peak_rss_mb", num_or_null(rss));
    /* median-step figure: 1 / mean over prompts of the median step time */
    double med = 0, p10 = 0, p25 = 0, trim = 0;
    for (int i = 0; i < np; i++) {
        med += t[i].step_med_s / np;
        p10 += t[i].step_p10_s / np;
        p25 += t[i].step_p25_s / np;
        trim += t[i].step_trim_s / np;
    }
    cJSON_AddItemToObject(line, "decode_tps_med", num_or_null(med > 0 ? 1 / med : NAN));
    cJSON_AddItemToObject(line, "decode_tps_p10", num_or_null(p10 > 0 ? 1 / p10 : NAN));
    cJSON_AddItemToObject(line, "decode_tps_p25", num_or_null(p25 > 0 ? 1 / p25 : NAN));
    cJSON_AddItemToObject(line, "decode_tps_trim", num_or_null(trim > 0 ? 1 / trim : NAN));
    cJSON_AddNumberToObject(line, "tokens", n);
    cJSON_AddItemToObject(line, "requests_per_s", num_or_null(request_s > 0 ? 1 / request_s : NAN));
    cJSON_AddItemToObject(line, "gpu_mb",
                          num_or_null(gpu ? (double)(gpu_peak - gpu_before) / (1024.0 * 1024.0) : NAN));
    cJSON_AddItemToObject(line, "engine_gpu_mb",
                          num_or_null(!strcmp(w->backend, "cuda") ? w->device_bytes / (1024.0 * 1024.0) : NAN));
    cJSON *pp = cJSON_AddArrayToObject(line, "per_prompt");
    for (int i = 0; i < np; i++) {
        ah_run_figures(t + i, 1, &dec, &pre, &ttft);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "prompt", sp->base[i].id);
        cJSON_AddNumberToObject(row, "n_prompt", sp->ntok[(size_t)r * np + (size_t)i]);
        cJSON_AddItemToObject(row, "decode_tps", num_or_null(dec));
        cJSON_AddItemToObject(row, "prefill_tps", num_or_null(pre));
        cJSON_AddItemToObject(row, "ttft_ms", num_or_null(ttft));
        cJSON_AddItemToArray(pp, row);
    }
out:
    if (!line) ah_worker_stop(w, deadline);
    free(arrive);
    free(t);
    return line;
}

/* The sampling temperature B's configuration sets (its last "temperature"
 * line), else this build's default: read leniently, since a candidate's
 * conf may name knobs this build does not know. */
static double b_temperature(const ah_ab_opts *o) {
    ai_conf d;
    ai_conf_defaults(&d);
    const char *dv = ai_conf_get(&d, "temperature");
    double t = dv ? atof(dv) : 1.0;
    FILE *f = o->conf[1] ? fopen(o->conf[1], "r") : NULL;
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        double v;
        if (sscanf(line, " temperature = %lf", &v) == 1 && isfinite(v) && v >= 0) t = v;
    }
    if (f) fclose(f);
    return t;
}

/* The work check of B: its tokens of some rounds, chosen after all rounds
 * ran (a worker cannot know whether its round will be checked), re-scored
 * by the judge's own pipeline. */
static int check_work(const ah_ab_opts *o, const side *b, const speed_prompts *sp, int n_rounds,
                      ah_work_check *wc, int *checked_rounds, ai_error *err) {
    memset(wc, 0, sizeof *wc);
    *checked_rounds = 0;
    if (n_rounds < 1) return 0;
    int want = n_rounds <= 3 ? n_rounds : (n_rounds + 2) / 3;
    int *order = malloc(sizeof *order * (size_t)n_rounds);
    if (!order) abort();
    for (int i = 0; i < n_rounds; i++) order[i] = i;
    uint64_t x = fresh_seed() | 1;
    for (int i = n_rounds - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(ah_random(&x) % (uint64_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    ai_pipeline *ref = judge_pipeline(o, NULL, err);
    int rc = ref ? 0 : -1;
    double temperature = b_temperature(o);
    for (int c = 0; c < want && !rc; c++) {
        int r = order[c];
        for (int i = 0; i < sp->nb && !rc; i++) {
            size_t at = (size_t)r * sp->nb + (size_t)i;
            rc = ah_work_check_add(ref, temperature, sp->tok[at], sp->ntok[at],
                                   b->ids + at * (size_t)o->tokens, o->tokens, wc, err);
        }
        if (!rc) ++*checked_rounds;
    }
    ai_pipeline_close(ref);
    free(order);
    return rc;
}

int ah_run_ab(const ah_ab_opts *o) {
    double t_start = ah_now();
    if (check_bin(o->bin[0]) || check_bin(o->bin[1])) return 1;
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (o->conf[i] && (stat(o->conf[i], &st) || !S_ISREG(st.st_mode))) {
            fprintf(stderr, "autoinfer eval: --ab: configuration %s does not exist\n", o->conf[i]);
            return 1;
        }
    }
    ai_error err = {{0}};
    ah_model_id mid;
    if (ah_model_identify(o->model, &mid, &err)) {
        fprintf(stderr, "autoinfer eval: %s\n", err.msg);
        return 1;
    }
    ah_gate gate;
    ah_gate_defaults(&gate);
    char path[4400];
    ah_data_path(o->data_dir, "gate.conf", path, sizeof path);
    if (ah_gate_load(&gate, path, &err)) {
        fprintf(stderr, "autoinfer eval: %s\n", err.msg);
        return 1;
    }
    if (o->baseline) {
        /* fail fast on a bad baseline, before minutes of speed runs */
        ah_baseline b;
        if (ah_baseline_load(o->baseline, &b, &err)) {
            fprintf(stderr, "autoinfer eval: %s\n", err.msg);
            return 1;
        }
        ah_baseline_free(&b);
    }
    /* the roofline's two figures are the harness's own: bytes per token
     * from the GGUF file, bandwidth measured here (the CPU's now; the GPU's
     * after the rounds if B's pipeline says it ran on cuda) */
    ah_gguf_bytes gb;
    if (ah_gguf_bytes_per_token(o->model, &gb, &err)) {
        fprintf(stderr, "autoinfer eval: %s\n", err.msg);
        return 1;
    }
    char cpu_src[256];
    double bw = ah_roofline_bandwidth("cpu", gb.per_token, cpu_src, sizeof cpu_src);

    side sides[2];
    memset(sides, 0, sizeof sides);
    for (int i = 0; i < 2; i++) {
        sides[i].bin = o->bin[i];
        sides[i].conf = o->conf[i];
        sides[i].dec = calloc((size_t)o->rounds, sizeof(double));
        sides[i].pre = calloc((size_t)o->rounds, sizeof(double));
        sides[i].ttft = calloc((size_t)o->rounds, sizeof(double));
        sides[i].rss = calloc((size_t)o->rounds, sizeof(double));
        sides[i].dmed = calloc((size_t)o->rounds, sizeof(double));
        sides[i].req = calloc((size_t)o->rounds, sizeof(double));
        sides[i].gpu = calloc((size_t)o->rounds, sizeof(double));
        sides[i].samples = cJSON_CreateArray();
        sides[i].engine_gpu_mb = sides[i].engine_bytes_per_token = NAN;
        if (!sides[i].dec || !sides[i].pre || !sides[i].ttft || !sides[i].rss || !sides[i].dmed ||
            !sides[i].gpu || !sides[i].req)
            abort();
    }
    const char *status = "ok";
    char why[1400] = "";
    char bwarg[32];
    /* the speed prompts, drawn now for every round (workload.c) */
    speed_prompts sp;
    if (make_prompts(o, &sp, &err)) {
        fprintf(stderr, "autoinfer eval: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        sides[i].ids = calloc((size_t)o->rounds * (size_t)sp.nb * (size_t)o->tokens,
                              sizeof *sides[i].ids);
        if (!sides[i].ids) abort();
    }
    /* a worker that dies mid-request must not take the judge with it */
    signal(SIGPIPE, SIG_IGN);
    int rounds_done = 0;
    for (int r = 0; r < o->rounds && !strcmp(status, "ok"); r++) {
        for (int k = 0; k < 2 && !strcmp(status, "ok"); k++) {
            int which = (r % 2 == 0) ? k : 1 - k; /* A B, B A, A B, ... */
            side *s = &sides[which];
            ah_worker w;
            cJSON *line = measure(o, s, which, &sp, r, &w);
            if (!line) {
                status = !strcmp(w.status, "timeout") ? "timeout" : "crash";
                snprintf(why, sizeof why, "%s", w.why);
                break;
            }
            s->dec[s->n] = ah_jnum(line, "decode_tps");
            s->pre[s->n] = ah_jnum(line, "prefill_tps");
            s->ttft[s->n] = ah_jnum(line, "ttft_ms");
            s->rss[s->n] = ah_jnum(line, "peak_rss_mb");
            s->dmed[s->n] = ah_jnum(line, "decode_tps_med");
            s->req[s->n] = ah_jnum(line, "requests_per_s");
            s->gpu[s->n] = ah_jnum(line, "gpu_mb");
            s->n++;
            snprintf(s->backend, sizeof s->backend, "%s", w.backend);
            snprintf(s->device, sizeof s->device, "%s", w.device);
            s->engine_gpu_mb = ah_jnum(line, "engine_gpu_mb");
            s->engine_bytes_per_token = w.bytes_per_token;
            cJSON_AddItemToArray(s->samples, line);
        }
        if (!strcmp(status, "ok")) {
            rounds_done++;
            fprintf(stderr, "eval --ab: round %d/%d  A %.2f tok/s  B %.2f tok/s (median step)\n",
                    r + 1, o->rounds, sides[0].dmed[rounds_done - 1], sides[1].dmed[rounds_done - 1]);
        }
    }

    int n = rounds_done;
    ah_ratio dr = {0}, pr = {0}, mr = {0}, tr, rr;
    dr.ratio = dr.ci_lo = dr.ci_hi = dr.p = NAN;
    dr.verdict = "no change";
    pr = tr = rr = dr;
    /* time to first token as a rate, so that every ratio reads "B is x times faster" */
    double *ttft_rate[2];
    for (int i = 0; i < 2; i++) {
        ttft_rate[i] = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
        if (!ttft_rate[i]) abort();
        for (int k = 0; k < n; k++) ttft_rate[i][k] = 1000.0 / sides[i].ttft[k];
    }
    if (n >= 2) {
        /* the decision: median decode step (robust to interference spikes) */
        ah_compare_paired(sides[0].dmed, sides[1].dmed, n, o->noise, BOOT_RESAMPLES, BOOT_SEED,
                          &dr);
        ah_compare_paired(sides[0].pre, sides[1].pre, n, o->noise, BOOT_RESAMPLES, BOOT_SEED + 1,
                          &pr);
        ah_compare_paired(ttft_rate[0], ttft_rate[1], n, o->noise, BOOT_RESAMPLES, BOOT_SEED + 3,
                          &tr);
        ah_compare_paired(sides[0].req, sides[1].req, n, o->noise, BOOT_RESAMPLES, BOOT_SEED + 4,
                          &rr);
        /* for reference: plain throughput (all tokens / all decode time) */
        if (ah_compare_paired(sides[0].dec, sides[1].dec, n, o->noise, BOOT_RESAMPLES,
                              BOOT_SEED + 2, &mr))
            mr.ratio = mr.ci_lo = mr.ci_hi = mr.p = NAN;
    } else if (!strcmp(status, "ok")) {
        status = "crash";
        snprintf(why, sizeof why, "fewer than 2 rounds completed");
    }
    /* is B's output the model's? (workcheck.c) */
    ah_work_check wc;
    int wc_rounds = 0;
    double excess = NAN;
    double wc_t0 = ah_now();
    if (!strcmp(status, "ok")) {
        if (check_work(o, &sides[1], &sp, n, &wc, &wc_rounds, &err)) {
            fprintf(stderr, "autoinfer eval: the work check: %s\n", err.msg);
            return 1;
        }
        excess = ah_work_excess(&wc);
        if (!(excess <= gate.work_excess_max)) {
            status = "implausible";
            snprintf(why, sizeof why,
                     "B: its speed-run tokens are not the model's: %.2f nats/token more surprise "
                     "than the model's entropy in %d tokens re-scored by the judge (limit %.2f)%s",
                     excess, wc.n_tokens, gate.work_excess_max,
                     wc.out_of_vocab ? "; it sent token ids outside the vocabulary" : "");
        }
    } else {
        memset(&wc, 0, sizeof wc);
    }
    double wc_seconds = ah_now() - wc_t0;

    /* B's roofline: the GPU's bandwidth when its pipeline ran on cuda,
     * measured now that no worker holds the GPU; then this process lets go
     * of the GPU again before B's quality run */
    const char *b_backend = sides[1].backend[0] ? sides[1].backend : "cpu";
    double bw_b = bw;
    char src[256];
    snprintf(src, sizeof src, "%s", cpu_src);
    if (!strcmp(b_backend, "cuda")) {
        bw_b = ah_roofline_bandwidth("cuda", gb.per_token, src, sizeof src);
        ah_gpu_release();
    }
    double bw_q = isfinite(bw_b) ? bw_b : bw; /* spares B's quality run a probe */
    snprintf(bwarg, sizeof bwarg, "%g", bw_q);
    ah_plausible pl;
    ah_plausible_check(n ? ah_median(sides[1].dec, n) : NAN, gb.per_token, bw_b,
                       gate.roofline_margin, &pl);
    double ebpt = sides[1].engine_bytes_per_token;
    ah_plausible_note(&pl, b_backend, src, isfinite(ebpt) && ebpt > 0 ? (uint64_t)ebpt : 0, n > 0);
    if (!strcmp(status, "ok") && !pl.ok) {
        status = "implausible";
        snprintf(why, sizeof why, "B: %s", pl.why);
    }

    /* B's quality (skipped after a failure): a quality run of this judge's
     * own build with B's worker making the answers and the logits */
    cJSON *doc = NULL;
    char qwhy[1400] = "";
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    if (!o->no_quality && !strcmp(status, "ok")) {
        char tmpl[] = "/tmp/autoinfer-ab-XXXXXX", wlimit[32];
        snprintf(wlimit, sizeof wlimit, "%d", o->timeout_s * 2);
        int fd = mkstemp(tmpl);
        if (fd >= 0) {
            close(fd);
            char *argv[24];
            int a = 0;
            argv[a++] = self;
            argv[a++] = "eval";
            argv[a++] = "--quality-only";
            argv[a++] = "--via";
            argv[a++] = (char *)sides[1].bin;
            argv[a++] = "--timeout";
            argv[a++] = wlimit;
            argv[a++] = "-m";
            argv[a++] = (char *)o->model;
            argv[a++] = "--json";
            argv[a++] = tmpl;
            if (isfinite(bw_q) && bw_q > 0) {
                argv[a++] = "--bandwidth";
                argv[a++] = bwarg;
            }
            if (sides[1].conf) {
                argv[a++] = "--conf";
                argv[a++] = (char *)sides[1].conf;
            }
            if (o->baseline) {
                argv[a++] = "--baseline";
                argv[a++] = (char *)o->baseline;
            }
            if (o->data_dir) {
                argv[a++] = "--data";
                argv[a++] = (char *)o->data_dir;
            }
            if (o->allow_other_model) argv[a++] = "--allow-other-model";
            argv[a] = NULL;
            child_result cr;
            if (run_child(argv, o->timeout_s * 2 + 30, &cr) == 0) {
                if (cr.status == CHILD_OK || (cr.status == CHILD_FAILED && cr.code == 3)) {
                    ai_error jerr;
                    doc = ah_json_read(tmpl, &jerr);
                    if (!doc) snprintf(qwhy, sizeof qwhy, "B quality run: %s", jerr.msg);
                } else {
                    const char *st;
                    describe_failure("B quality run", &cr, qwhy, sizeof qwhy, &st);
                    status = st;
                    snprintf(why, sizeof why, "%s", qwhy);
                }
                free(cr.out);
            }
            remove(tmpl);
        }
    }
    if (!doc) {
        doc = skeleton(o->model);
        if (o->no_quality) {
            cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "quality");
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(q, "failures"),
                                 cJSON_CreateString("quality not measured (--no-quality)"));
        } else if (qwhy[0]) {
            cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "quality");
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(q, "failures"),
                                 cJSON_CreateString(qwhy));
        }
    }
    replace_item(doc, "build", build_of(sides[1].bin));
    replace_item(doc, "speed", speed_json(&sides[1], o->tokens));
    replace_item(doc, "plausible", ah_json_plausible(&pl));
    {
        /* where B ran, as its workers saw it (B's quality run may differ) */
        cJSON *d = cJSON_CreateObject(), *gpu_dist_b = gpu_dist(&sides[1]);
        cJSON_AddStringToObject(d, "backend", b_backend);
        cJSON_AddStringToObject(d, "name", sides[1].device);
        cJSON_AddItemToObject(d, "engine_gpu_mb", num_or_null(sides[1].engine_gpu_mb));
        cJSON_AddItemToObject(d, "gpu_peak_mb",
                              num_or_null(ah_jnum(gpu_dist_b, "median")));
        replace_item(doc, "device", d);
        cJSON_Delete(gpu_dist_b);
    }

    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "status", status);
    cJSON_AddStringToObject(c, "why", why);
    cJSON_AddItemToObject(c, "decode_ratio", num_or_null(dr.ratio));
    cJSON_AddItemToObject(c, "ci_lo", num_or_null(dr.ci_lo));
    cJSON_AddItemToObject(c, "ci_hi", num_or_null(dr.ci_hi));
    cJSON_AddItemToObject(c, "p", num_or_null(dr.p));
    cJSON_AddItemToObject(c, "p_mann_whitney", num_or_null(n >= 2 ? dr.p_mw : NAN));
    cJSON_AddItemToObject(c, "median_ratio", num_or_null(n >= 2 ? dr.median_ratio : NAN));
    cJSON_AddNumberToObject(c, "noise", o->noise);
    cJSON_AddStringToObject(c, "verdict", strcmp(status, "ok") ? "no change" : dr.verdict);
    cJSON_AddStringToObject(c, "test", "paired sign-flip permutation on log ratios");
    cJSON_AddStringToObject(c, "statistic",
                            "decode tok/s = 1 / median decode step (mean over prompts), per worker");
    cJSON_AddItemToObject(c, "throughput_ratio", num_or_null(n >= 2 ? mr.ratio : NAN));
    cJSON_AddItemToObject(c, "throughput_ci_lo", num_or_null(n >= 2 ? mr.ci_lo : NAN));
    cJSON_AddItemToObject(c, "throughput_ci_hi", num_or_null(n >= 2 ? mr.ci_hi : NAN));
    cJSON_AddItemToObject(c, "throughput_p", num_or_null(n >= 2 ? mr.p : NAN));
    cJSON_AddStringToObject(c, "throughput_verdict", n >= 2 && mr.verdict ? mr.verdict : "no change");
    cJSON_AddItemToObject(c, "prefill_ratio", num_or_null(pr.ratio));
    cJSON_AddItemToObject(c, "prefill_ci_lo", num_or_null(pr.ci_lo));
    cJSON_AddItemToObject(c, "prefill_ci_hi", num_or_null(pr.ci_hi));
    cJSON_AddItemToObject(c, "prefill_p", num_or_null(pr.p));
    cJSON_AddStringToObject(c, "prefill_verdict", strcmp(status, "ok") ? "no change" : pr.verdict);
    {
        /* every figure an objective can read, each "B is x times faster" */
        cJSON *f = cJSON_AddObjectToObject(c, "figures");
        const char *names[] = {"decode", "prefill", "ttft", "request"};
        const ah_ratio *rs[] = {&dr, &pr, &tr, &rr};
        for (int i = 0; i < 4; i++) {
            cJSON *x = cJSON_AddObjectToObject(f, names[i]);
            cJSON_AddItemToObject(x, "ratio", num_or_null(rs[i]->ratio));
            cJSON_AddItemToObject(x, "ci_lo", num_or_null(rs[i]->ci_lo));
            cJSON_AddItemToObject(x, "ci_hi", num_or_null(rs[i]->ci_hi));
            cJSON_AddItemToObject(x, "p", num_or_null(rs[i]->p));
            cJSON_AddStringToObject(x, "verdict",
                                    strcmp(status, "ok") ? "no change" : rs[i]->verdict);
        }
    }
    cJSON_AddNumberToObject(c, "rounds", n);
    cJSON_AddNumberToObject(c, "resamples", BOOT_RESAMPLES);
    cJSON_AddNumberToObject(c, "inject_slowdown_b", o->inject_b);
    cJSON_AddNumberToObject(c, "prompt_seed", (double)(sp.seed >> 11)); /* exact in a double */
    cJSON *w = cJSON_AddObjectToObject(c, "work_check");
    cJSON_AddNumberToObject(w, "rounds", wc_rounds);
    cJSON_AddNumberToObject(w, "tokens", wc.n_tokens);
    cJSON_AddItemToObject(w, "surprise", num_or_null(wc.n_tokens ? wc.surprise / wc.n_tokens : NAN));
    cJSON_AddItemToObject(w, "entropy", num_or_null(wc.n_tokens ? wc.entropy / wc.n_tokens : NAN));
    cJSON_AddItemToObject(w, "excess", num_or_null(excess));
    cJSON_AddNumberToObject(w, "limit", gate.work_excess_max);
    cJSON_AddNumberToObject(w, "seconds", wc_seconds);
    cJSON_AddItemToObject(c, "a", side_json(&sides[0]));
    cJSON_AddItemToObject(c, "b", side_json(&sides[1]));
    replace_item(doc, "compare", c);
    replace_item(doc, "duration_s", cJSON_CreateNumber(ah_now() - t_start));

    ah_print_report(doc, stdout);
    int rc = 0;
    if (o->json && ah_json_write(doc, o->json, &err)) {
        fprintf(stderr, "autoinfer eval: %s\n", err.msg);
        rc = 1;
    }
    if (!rc) {
        if (strcmp(status, "ok")) {
            fprintf(stderr, "autoinfer eval: --ab: %s: %s\n", status, why);
            rc = 4;
        } else if (!o->no_quality &&
                   !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(doc, "quality"), "pass"))) {
            rc = 3;
        }
    }
    cJSON_Delete(doc);
    free_prompts(&sp, o->rounds);
    free(ttft_rate[0]);
    free(ttft_rate[1]);
    for (int i = 0; i < 2; i++) {
        free(sides[i].dec);
        free(sides[i].pre);
        free(sides[i].ttft);
        free(sides[i].rss);
        free(sides[i].dmed);
        free(sides[i].gpu);
        free(sides[i].req);
        free(sides[i].ids);
        cJSON_Delete(sides[i].samples);
    }
    return rc;
}
