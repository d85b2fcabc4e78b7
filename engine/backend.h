/* backend.h — the forward pass behind one small interface.
 *
 * A backend owns everything a forward pass needs beyond the model's
 * description (model.h): its copy or view of the weights, the KV cache, the
 * activations and its kernels. pipeline.c picks one when it opens (knob
 * backend) and from then on calls only these function pointers, as
 * zeux/calm's `forward` pointer does. The loader, tokenizer, chat templates
 * and sampler are shared. A new backend is a new folder under engine/
 * (engine/cpu/, engine/cuda/) with one constructor declared here.
 */
#ifndef AI_BACKEND_H
#define AI_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoinfer.h"
#include "config.h"
#include "model.h"

typedef struct ai_backend ai_backend;

struct ai_backend {
    const char *name;      /* "cpu", "cuda" */
    char device[160];      /* what it runs on, for info and bench */
    int max_batch;         /* most tokens per forward call (prefill_chunk) */
    bool kv_rotating;      /* positions wrap around a window (kv_window) */
    float *logits;         /* host [n_vocab]: the last token's, after forward */
    float *logits_all;     /* host [max_batch][n_vocab] after forward(all_logits) */
    /* Runs n tokens (1..max_batch) at positions pos..pos+n-1 through the
     * model, filling the KV cache, and writes the last token's logits to
     * `logits` or, with all_logits, every token's to `logits_all`.
     * Returns 0, or -1 with err set (context overflow, bad token id, a
     * device error). */
    int (*forward)(ai_backend *b, const int32_t *tokens, int n, int pos, bool all_logits,
                   ai_error *err);
    /* One decode step with greedy selection done where the logits are:
     * *next = argmax of the logits after `token` at `pos` (lowest id on a
     * tie). The logits are not copied out. NULL when the backend has no
     * faster way than forward + argmax on the host. */
    int (*decode_greedy)(ai_backend *b, int32_t token, int pos, int32_t *next, ai_error *err);
    /* One decode step with the token drawn where the logits are, by the
     * sampler's rules (engine/sampler.c: temperature, top-k, top-p, min-p;
     * no repetition penalty) with the host sampler's draw u for this step.
     * Returns 1 with *next set; 0 when the step's candidates do not fit the
     * device's sampler: `logits` then holds the step's logits and the caller
     * samples them with the same u; -1 on error. NULL when not offered. */
    int (*decode_sample)(ai_backend *b, int32_t token, int pos, double u, int32_t *next, ai_error *err);
    /* Bytes of device memory the backend holds (0 for the CPU). */
    uint64_t (*device_bytes)(const ai_backend *b);
    void (*free)(ai_backend *b);
};

/* The CPU backend (engine/cpu/): SIMD kernels, thread pool, repacking. May
 * add repacked copies to the model (freed with it). */
ai_backend *ai_cpu_backend_new(ai_model *m, const ai_settings *s, ai_error *err);

/* The CUDA backend (engine/cuda/): uploads the weights to the GPU. Fails
 * with a message when autoinfer was built without CUDA or no usable GPU is
 * present. */
ai_backend *ai_cuda_backend_new(ai_model *m, const ai_settings *s, ai_error *err);

/* 0 when the CUDA backend runs m's architecture, else -1 with a message
 * naming it (backend = auto then takes the CPU). Needs no GPU. */
int ai_cuda_supports(const ai_model *m, ai_error *err);

/* 1 when a CUDA device this build can run on is present (its name in
 * `name`), 0 when not (why in `name`). */
int ai_cuda_probe(char *name, size_t cap);

#endif
