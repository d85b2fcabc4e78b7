/* harness.h — the pieces of `autoinfer eval` and how they fit together.
 *
 *   eval.c      command line, the evaluation's order of work
 *   workload.c  prompts, timed generation (the harness's own clock), RSS
 *   quality.c   reference text, teacher-forced scoring, KL against a baseline
 *   baseline.c  saving and loading a baseline directory
 *   monitor.c   change monitor: knobs that differ, engine/ diff size
 *   plausible.c bandwidth probe and the roofline check
 *   gguf_bytes.c the harness's own count of the bytes a decode step reads
 *   gpu_probe.cu GPU bandwidth and memory in use (gpu_none.c without CUDA)
 *   output.c    the JSON document and the printed report built from it
 *   compare.c   --ab: interleaved child processes and the decision
 *   stats.c, sanity.c, gate.c, refs.c, sha256.c: self-contained helpers
 *
 * The engine is reached only through include/autoinfer.h. */
#ifndef AH_HARNESS_H
#define AH_HARNESS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "autoinfer.h"
#include "gate.h"
#include "gpu_probe.h"
#include "refs.h"

#define AH_MAX_PROMPTS 16

typedef struct ah_subject ah_subject; /* subject.c: what generates and scores */
#define AH_DEFAULT_MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

/* ---- workload.c ------------------------------------------------------------ */

typedef struct ah_prompt {
    char id[32];
    char text[1024];
} ah_prompt;

/* Where the harness's locked inputs (gate.conf, prompts.tsv, reference.txt)
 * are read from: data_dir when given (optimise's read-only copy), else the
 * source tree's harness/. */
void ah_data_path(const char *data_dir, const char *name, char *out, size_t cap);

/* Reads "id<TAB>text" lines. Returns the number of prompts or -1. */
int ah_prompts_load(const char *path, ah_prompt *out, int cap, ai_error *err);

/* A whole file as a NUL-terminated malloc'd string, or NULL. */
char *ah_read_text(const char *path, ai_error *err);

/* The speed prompts of one --ab evaluation: for each round, each base
 * prompt followed by a passage of 8-24 words drawn from `text` (the seed
 * makes the draws), chat-formatted and tokenized; with min_tokens > 0 the
 * passage grows until the prompt has at least that many tokens (a stated
 * workload). No speed prompt is known before the evaluation, so none is
 * worth special-casing or replaying. tok/ntok hold rounds * nb entries
 * (round-major; tok[i] malloc'd). */
int ah_round_prompts(ai_pipeline *p, const ah_prompt *base, int nb, const char *text,
                     int rounds, int min_tokens, uint64_t seed, int32_t **tok, int *ntok,
                     ai_error *err);

double ah_now(void); /* CLOCK_MONOTONIC seconds */
/* Peak resident set (VmHWM) of process pid (0: this one) in MiB; NAN if
 * unknown (a worker's, read from outside it). */
double ah_peak_rss_mb(int pid);
/* xorshift64*: the harness's draws (prompts, checked rounds), reproducible
 * from the seed; *s must not be 0. */
uint64_t ah_random(uint64_t *s);

/* Chat-formats `user` and tokenizes it (BOS, special tokens parsed).
 * Returns a malloc'd array and its length in *n, or NULL. */
int32_t *ah_chat_tokens(ai_pipeline *p, const char *user, int *n, ai_error *err);

typedef struct ah_timing {
    int n_prompt;     /* prompt tokens */
    int n_gen;        /* tokens the callback observed */
    double prefill_s; /* ai_generate start -> first callback */
    double decode_s;  /* first callback -> last callback (n_gen - 1 steps) */
    double step_med_s; /* median decode step (robust to preemption bursts) */
    double step_p10_s, step_p25_s, step_trim_s; /* 10th/25th percentile step, 20%-trimmed mean */
} ah_timing;

/* Output capture of one generation (any pointer may be NULL). */
typedef struct ah_capture {
    char *text;       /* NUL-terminated, truncated to text_cap */
    size_t text_cap;
    int32_t *tokens;
    int tokens_cap;
} ah_capture;

/* One generation timed by the harness. ignore_eos: speed run (then the
 * observed count must equal max_tokens, else an error). inject: test-only
 * busy-wait of this fraction of each step's engine time. */
int ah_timed_generate(ah_subject *p, const int32_t *prompt, int n_prompt, int max_tokens,
                      int ignore_eos, double inject, ah_timing *t, ah_capture *cap,
                      ai_error *err);

/* One speed run: every prompt once, `tokens` decoded tokens each, EOS
 * ignored. t[i] receives prompt i's timing. */
int ah_speed_run(ah_subject *p, int32_t *const *prompts, const int *n_prompts, int n,
                 int tokens, double inject, ah_timing *t, ai_error *err);

/* The timing of one streamed generation, from the judge's clock: the
 * request left at t_sent, token i arrived at arrive[i]. inject: test-only
 * stretch of every decode step by this fraction. */
void ah_timing_from_arrivals(double t_sent, const double *arrive, int n, int n_prompt,
                             double inject, ah_timing *t);

/* Aggregates of one run: total decode tokens / time etc. */
void ah_run_figures(const ah_timing *t, int n, double *decode_tps, double *prefill_tps,
                    double *ttft_ms);

/* ---- worker.c, stream.c: the worker protocol of --ab -------------------------- */

#define AH_WORKER_PROTOCOL 1

/* The candidate's side (`eval --worker`): load, say hello, answer requests
 * on stdin until "quit". Returns the process exit status. */
int ah_worker_serve(const char *model, const ai_conf *conf);

/* The judge's side: one worker process and what it said about itself. */
typedef struct ah_worker {
    int pid, in, out, err, reaped;
    char who[8];            /* "A" or "B", for messages */
    char buf[65536];        /* stdout not yet split into lines */
    size_t len;
    double stamp;           /* when the judge read the data in buf */
    char err_line[1024], err_tail[1024]; /* stderr: partial line, last full line */
    size_t err_len;
    char backend[16], device[160];       /* its hello (a claim, shown, never trusted) */
    double bytes_per_token, device_bytes;
    char status[16];        /* "" while fine, else "crash" or "timeout" */
    char why[1400];
} ah_worker;

/* Starts argv as a worker and reads its hello. Every call below returns 0,
 * or -1 with w->status and w->why set; the deadline is absolute (ah_now). */
int ah_worker_start(ah_worker *w, const char *who, char *const argv[], double deadline);
/* One request: k prompt tokens, exactly n tokens back into ids, each with
 * its arrival time; *t_sent = when the request was written. */
int ah_worker_gen(ah_worker *w, const int32_t *prompt, int k, int n, double deadline,
                  int32_t *ids, double *t_sent, double *arrive);
/* "quit", then waits for a clean exit; kills its process group in any case. */
int ah_worker_stop(ah_worker *w, double deadline);

/* Reads an answer: tokens up to end of generation, at most max, into ids
 * (*n of them). */
int ah_worker_answer(ah_worker *w, const int32_t *prompt, int k, int max, double deadline,
                     int32_t *ids, int *n);
/* Teacher-forced logits of tok[0..n) for positions from..n-2, each given
 * to fn as ai_score would (the rest is read and dropped once fn returns
 * nonzero). */
int ah_worker_score(ah_worker *w, const int32_t *tok, int n, int from, int n_vocab,
                    double deadline, ai_logits_fn fn, void *user);

/* ---- subject.c: what an evaluation generates and scores with ----------------- */

struct ah_subject {
    ai_pipeline *p;     /* this process's: the tokenizer, and the engine unless worker */
    ah_worker *worker;  /* eval --via: generation and scoring happen in this worker */
    double deadline;    /* the worker's (absolute, ah_now) */
};

/* ai_generate on the subject (remote text comes from this build's tokenizer). */
int ah_subject_generate(ah_subject *s, const int32_t *prompt, int k, const ai_gen_params *gp,
                        ai_token_fn fn, void *user, ai_error *err);
/* ai_score on the subject; positions before `from` may be skipped. */
int ah_subject_score(ah_subject *s, const int32_t *tok, int n, int from, ai_logits_fn fn,
                     void *user, ai_error *err);

/* ---- workcheck.c: are a worker's tokens the model's? --------------------------- */

typedef struct ah_work_check {
    int n_seq, n_tokens, out_of_vocab;
    double surprise, entropy; /* sums over the checked tokens, nats */
} ah_work_check;

/* Re-scores prompt + ids with the judge's own pipeline and adds the n
 * generated tokens' surprise and entropy (at the sampler's temperature,
 * not below 0.5) to wc. */
int ah_work_check_add(ai_pipeline *ref, double temperature, const int32_t *prompt, int k,
                      const int32_t *ids, int n, ah_work_check *wc, ai_error *err);
/* mean(surprise - entropy) per token; INFINITY with an id outside the
 * vocabulary; NAN with nothing checked. */
double ah_work_excess(const ah_work_check *wc);

/* ---- quality.c ---------------------------------------------------------------- */

typedef struct ah_score_result {
    int n_scored;        /* all positions compared or filled */
    int n_text;          /* positions from the reference text */
    double nll_text;     /* current: sum over text positions */
    double nll_text_ref; /* baseline's sum over the same positions */
    double *kl;          /* per position (compare only), n_scored */
    int top1_same;
} ah_score_result;

/* Appends the reference text's chunks to r as AH_SEQ_TEXT sequences: BOS +
 * chunk-1 tokens each, the second half scored. max_chunks 0 = all. */
int ah_text_sequences(ai_pipeline *p, const char *text, int chunk, int max_chunks,
                      ah_refs *r, ai_error *err);

/* Teacher-forces every sequence of r (text sequences limited to max_text,
 * 0 = all). fill: store the current distributions into r (baseline);
 * else compare with them. res->kl is malloc'd (free it). */
int ah_score_refs(ah_subject *p, ah_refs *r, int fill, int max_text, ah_score_result *res,
                  ai_error *err);

/* Self-perplexity of generated answers: exp(mean nll of the answer tokens
 * given prompt + earlier answer tokens). NAN when nothing was generated. */
double ah_self_ppl(ah_subject *p, int32_t *const *prompts, const int *n_prompts,
                   int32_t *const *answers, const int *n_answers, int n, ai_error *err);

/* ---- monitor.c ---------------------------------------------------------------- */

typedef struct ah_knob_change {
    char key[48];
    char baseline[64];
    char current[64];
    const char *tradeoff; /* from ai_knobs(), static */
} ah_knob_change;

typedef struct ah_changes {
    char baseline_commit[48];
    int n_knobs;
    ah_knob_change knobs[64];
    long lines_added, lines_removed; /* -1 when git could not tell */
    char **fn_added, **fn_removed;
    int n_fn_added, n_fn_removed;
} ah_changes;

/* Knob values that differ between base and cur (numbers compared as
 * numbers), each with the tradeoff text of the pipeline's knob table. */
void ah_knob_diff(const ai_conf *base, const ai_conf *cur, ah_changes *out);
/* engine/ diff against commit (lines via git diff --numstat, functions via a
 * scan of C definitions). */
void ah_engine_diff(const char *src_dir, const char *commit, ah_changes *out);
void ah_changes_free(ah_changes *c);

/* Names of C function definitions in `src` (a file's text). Returns the
 * count; names are appended to *names (malloc'd strings). */
int ah_scan_functions(const char *src, char ***names, int *n);

/* ---- plausible.c --------------------------------------------------------------- */

/* Best-of-reps streaming read bandwidth over a `bytes` working set with
 * `threads` threads, in GB/s (1e9 bytes). */
double ah_bandwidth_probe(size_t bytes, int threads);

typedef struct ah_plausible {
    int ok;
    double roofline_tps, bandwidth_gbps;
    uint64_t bytes_per_token;        /* the harness's count (gguf_bytes.c): the check uses it */
    uint64_t engine_bytes_per_token; /* what the pipeline says (reported only; 0 = unknown) */
    char backend[16];                /* where the pipeline ran: "cpu" or "cuda" */
    char bandwidth_source[256];      /* what measured bandwidth_gbps, or why it could not */
    char why[256];
} ah_plausible;

void ah_plausible_check(double decode_tps, uint64_t bytes_per_token, double bandwidth_gbps,
                        double margin, ah_plausible *out);

/* The bandwidth the roofline of a pipeline on `backend` takes: for "cuda"
 * the GPU's device-to-device copy (ah_gpu_bandwidth_probe), else the CPU's
 * streaming read over a working set of bytes_per_token (clamped to
 * 32 MiB..1 GiB) with every online CPU. source gets what was measured, or
 * why nothing could be (then NAN). */
double ah_roofline_bandwidth(const char *backend, uint64_t bytes_per_token, char *source,
                             size_t cap);

/* After ah_plausible_check: records the backend, the bandwidth's source and
 * the pipeline's own bytes per token (reported, not used). With
 * speed_checked, a cuda pipeline whose GPU bandwidth could not be measured
 * is flagged (ok = 0): its speed cannot be checked. */
void ah_plausible_note(ah_plausible *p, const char *backend, const char *source,
                       uint64_t engine_bytes_per_token, int speed_checked);
cJSON *ah_json_plausible(const ah_plausible *p);

/* ---- gguf_bytes.c ---------------------------------------------------------------- */

/* The harness's own reading of a GGUF's tensor table, independent of the
 * engine: the bytes a decode step reads (every blk.N.* tensor, then
 * output_norm.weight and output.weight, or token_embd.weight when the head
 * is tied). */
typedef struct ah_gguf_bytes {
    uint64_t per_token;       /* bytes a decode step reads (KV cache not included) */
    uint64_t tensor_bytes;    /* all tensors */
    uint64_t n_tensors, n_layer_tensors;
    uint32_t version;
    int tied;                 /* no output.weight: the head is token_embd.weight */
    int has_output_norm;
} ah_gguf_bytes;

/* 0, or -1 with a one-line error (bad magic, truncated, unknown type, ...). */
int ah_gguf_bytes_per_token(const char *path, ah_gguf_bytes *out, ai_error *err);

/* ---- build and model identity (baseline.c) ------------------------------------- */

typedef struct ah_build_id {
    char commit[48];
    int dirty;
    char cflags[512];
    char exe_sha256[65];
} ah_build_id;

void ah_build_identify(ah_build_id *b);

typedef struct ah_model_id {
    char path[4096];
    uint64_t bytes;
    char sha256_head[65]; /* of the first MiB */
} ah_model_id;

int ah_model_identify(const char *path, ah_model_id *m, ai_error *err);

/* A loaded baseline directory. */
typedef struct ah_baseline {
    char dir[4096];
    cJSON *doc;         /* baseline.json */
    ai_conf conf;       /* effective knob values it was evaluated with */
    char commit[48];
    ah_model_id model;
    double sanity, ppl;
    ah_refs refs;
} ah_baseline;

int ah_baseline_load(const char *dir, ah_baseline *b, ai_error *err);
void ah_baseline_free(ah_baseline *b);
/* Writes DIR/{baseline.json, pipeline.conf, refs.bin}. conf_path may be
 * NULL (no conf file: the defaults). */
int ah_baseline_save(const char *dir, const cJSON *report, const ah_model_id *m,
                     const char *conf_path, const ah_refs *refs, ai_error *err);

/* ---- output.c ------------------------------------------------------------------- */

/* {median, ci_lo, ci_hi, ci_level, mean, sd, outliers, samples} */
cJSON *ah_json_dist(const double *x, int n);
/* Writes doc to path atomically (path.tmp + rename). A symlink at path is
 * written through; any other path that exists and is not a regular file
 * (directory, FIFO, device) is refused, since the rename would replace it. */
int ah_json_write(const cJSON *doc, const char *path, ai_error *err);
/* Fails as ah_json_write would when path cannot be written: checked before
 * the evaluation, so that a bad --json costs no run. */
int ah_json_check_path(const char *path, ai_error *err);
/* Reads a JSON file. NULL + message on failure. */
cJSON *ah_json_read(const char *path, ai_error *err);
/* The readable table, the summary lines and the change monitor block. */
void ah_print_report(const cJSON *doc, FILE *out);

/* Helpers to read numbers from a document (NAN when absent/null). */
double ah_jnum(const cJSON *obj, const char *path); /* "a.b.c" */

/* ---- compare.c ------------------------------------------------------------------ */

typedef struct ah_ab_opts {
    const char *bin[2];
    const char *conf[2]; /* NULL: the binary's own default */
    const char *model;
    const char *baseline; /* NULL: quality without a baseline */
    const char *data_dir; /* --data: the harness's inputs (NULL: the tree's) */
    const char *json;
    int rounds, tokens, timeout_s;
    int prompt_tokens;    /* speed prompts of at least this many tokens (0: as drawn) */
    double noise;
    double inject_b;      /* test-only: --inject-slowdown passed to B's workers */
    int no_quality;       /* skip B's quality run */
    int allow_other_model;
} ah_ab_opts;

int ah_run_ab(const ah_ab_opts *o);

#endif
