/* autoinfer.h — the contract between the locked harness/loop and the pipeline.
 *
 * LOCKED: during an optimisation run this header may not change. Everything
 * behind it (engine/) may. The harness and the loop include nothing else from
 * the engine, so a candidate can rewrite the pipeline freely as long as it
 * keeps these functions and their meaning.
 *
 * Conventions: functions return 0 (or a count) on success and a negative value
 * on failure, or NULL; on failure they fill the caller's ai_error with one line
 * naming the file / key / offset and what was expected.
 */
#ifndef AUTOINFER_H
#define AUTOINFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AI_VERSION "0.1.0"

typedef struct ai_error {
    char msg[768];
} ai_error;

/* printf-style: sets err->msg (err may be NULL). Always returns -1. */
int ai_error_set(ai_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- pipeline knobs (pipeline.conf) ------------------------------------ */

/* Every knob that changes speed or output is declared by the pipeline with
 * its domain and its tradeoff, so the loop can search it and the change
 * monitor can explain it without knowing the engine. */
typedef enum { AI_KNOB_INT, AI_KNOB_FLOAT, AI_KNOB_CHOICE } ai_knob_kind;

typedef struct ai_knob_info {
    const char *name;          /* key in pipeline.conf */
    ai_knob_kind kind;
    const char *default_value; /* as written in a conf file */
    const char *domain;        /* INT/FLOAT: "lo..hi"; CHOICE: "a|b|c" */
    const char *search;        /* values worth trying, "v1,v2,..." (may be "") */
    const char *tradeoff;      /* warning shown when it differs from baseline */
    const char *help;          /* one line: what it does */
    const char *moves;         /* the figures it can move, of "decode,prefill,ttft,memory"
                                  ("" = none: a search for speed skips it) */
    const char *joint;         /* knobs that interact with it, searched together
                                  ("spin,chunks_per_thread"; may be "") */
    const char *backend;       /* the only backend it acts on ("cuda"); "" = every one */
} ai_knob_info;

/* The knob table (static storage). */
const ai_knob_info *ai_knobs(int *count);

/* A parsed and validated pipeline.conf: every knob, with its value as text. */
typedef struct ai_conf {
    int n;
    char keys[64][48];
    char values[64][64];
} ai_conf;

/* Defaults for every knob. */
void ai_conf_defaults(ai_conf *conf);
/* Read `path` over the defaults; unknown keys and bad values are errors
 * naming path:line. */
int ai_conf_load(ai_conf *conf, const char *path, ai_error *err);
/* Apply one "key=value" over conf (validated like a file line). */
int ai_conf_set(ai_conf *conf, const char *key_eq_value, ai_error *err);
/* Value of `key`, or NULL. */
const char *ai_conf_get(const ai_conf *conf, const char *key);

/* ---- the pipeline ------------------------------------------------------ */

typedef struct ai_pipeline ai_pipeline;

/* Load a GGUF model with a configuration (NULL = defaults). */
ai_pipeline *ai_pipeline_open(const char *model_path, const ai_conf *conf,
                              ai_error *err);
void ai_pipeline_close(ai_pipeline *p);

typedef struct ai_model_desc {
    char arch[32];          /* "llama", "qwen2", ... */
    char name[128];         /* general.name or the file name */
    int n_vocab, n_ctx_train, n_layer, n_embd, n_head, n_head_kv, n_ff;
    int64_t n_params;
    uint64_t weight_bytes;  /* bytes of tensor data in the file */
    uint64_t bytes_per_token; /* weight bytes a single decode step reads, as
                                 the pipeline counts them (the KV cache is
                                 not included) */
    int32_t bos, eos, eot;  /* -1 when absent */
    char chat_family[32];   /* "chatml", "llama3", "gemma", or "" */
    int add_bos;            /* the model wants BOS at the start of a text */
    char backend[16];       /* where the forward pass runs: "cpu" or "cuda" */
    char device[160];       /* what that is: CPU kernels and threads, or the GPU's name */
    uint64_t device_bytes;  /* GPU memory the pipeline holds (0 on the CPU) */
} ai_model_desc;

void ai_pipeline_describe(const ai_pipeline *p, ai_model_desc *out);

/* Tokenize `text`. add_bos: prepend BOS when the model wants one.
 * parse_special: recognise special-token text like "<|im_end|>".
 * Returns the number of tokens (may exceed cap: then only cap are written). */
int ai_tokenize(ai_pipeline *p, const char *text, int add_bos,
                int parse_special, int32_t *out, int cap, ai_error *err);

/* Bytes of one token (raw, may be part of a UTF-8 character). */
int ai_token_bytes(ai_pipeline *p, int32_t token, char *out, int cap);

/* Format a system+user conversation with the model's chat template, ending
 * with the assistant header. system may be NULL. Returns length or -1. */
int ai_chat_format(ai_pipeline *p, const char *system, const char *user,
                   char *out, size_t cap, ai_error *err);

/* Qwen3-style templates (and some DeepSeek R1 ones) read enable_thinking:
 * on (the templates' default) lets the model reason in <think> first, off
 * writes the empty think block. Sets it for the following ai_chat_format
 * calls; -1 with a message when the model's template has no such switch. */
int ai_chat_set_thinking(ai_pipeline *p, int enable, ai_error *err);

/* Called once per generated token. `text` holds the complete UTF-8 bytes that
 * became printable with this token (possibly empty). Return nonzero to stop. */
typedef int (*ai_token_fn)(void *user, int32_t token, const char *text,
                           size_t len);

typedef struct ai_gen_params {
    int max_tokens;   /* stop after this many generated tokens */
    int ignore_eos;   /* 1: never stop at EOS/EOT (speed runs) */
} ai_gen_params;

/* Prefill `prompt` from an empty cache, then decode with the pipeline's own
 * sampler (its knobs). The first callback comes right after prefill and the
 * first sample, so the caller can time prefill with it.
 * Returns the number of tokens generated, or -1. */
int ai_generate(ai_pipeline *p, const int32_t *prompt, int n_prompt,
                const ai_gen_params *params, ai_token_fn fn, void *user,
                ai_error *err);

/* Teacher-forced scoring: runs `tokens` through the model from an empty
 * cache and calls fn with the logits (n_vocab floats) that predict
 * tokens[i+1], for i in [0, n-1). Return nonzero from fn to stop. */
typedef int (*ai_logits_fn)(void *user, int pos, const float *logits,
                            int n_vocab);
int ai_score(ai_pipeline *p, const int32_t *tokens, int n, ai_logits_fn fn,
             void *user, ai_error *err);

/* Context length the pipeline was opened with (knob ctx). */
int ai_context_length(const ai_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
