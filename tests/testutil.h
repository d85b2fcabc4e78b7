/* testutil.h — small helpers shared by the cmocka tests. */
#ifndef AI_TESTUTIL_H
#define AI_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quant.h"

/* The default model (fetched by `make model`). */
#define TU_MODEL AI_SOURCE_DIR "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
/* The autoinfer binary of this build. */
#define TU_BIN AI_BINARY

/* Run a shell command; stdout+stderr go to out (NUL-terminated, truncated
 * to cap). Returns the exit status, or 128+signal when killed. */
int tu_run(const char *cmd, char *out, size_t cap);
/* printf-style variant of tu_run. */
int tu_runf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write bytes to a new temporary file; returns its path (static storage of
 * the caller's choosing: copied into path, cap bytes). */
void tu_write_temp(const void *data, size_t n, const char *suffix, char *path,
                   size_t cap);
/* Whole file into a malloc'd NUL-terminated buffer (NULL if unreadable). */
char *tu_read_file(const char *path, size_t *len);
/* A fresh temporary directory (mkdtemp); path is written into out. */
void tu_temp_dir(char *out, size_t cap);

/* A tiny random llama/qwen2 GGUF for engine tests (tokenizer copied from the
 * default model). Fields left zero take the defaults noted. */
typedef struct tu_tiny_opts {
    const char *arch;        /* "llama" */
    unsigned weight_type;    /* AI_Q8_0 */
    int n_embd, n_layer, n_head, n_head_kv, n_ff; /* 64, 2, 4, 2, 128 */
    const char *drop_key;    /* leave this metadata key out */
    const char *bad_shape_tensor; /* give this tensor one row too many */
    const char *bad_type_tensor;  /* store this tensor as q2_k */
    const char *chat_template;    /* replaces tokenizer.chat_template */
    int add_bos_token;            /* 1: tokenizer.ggml.add_bos_token = true
                                     (the default model's is false) */
    int bos_token_id;             /* > 0: replaces tokenizer.ggml.bos_token_id */
    const char *rope_scaling_type; /* written with rope_scaling_factor */
    float rope_scaling_factor;
} tu_tiny_opts;
void tu_make_tiny_model(const char *path, const tu_tiny_opts *o);

/* The bytes of each block of a quantized `type` that hold its codes (for
 * Q4_K/Q5_K also the packed sub-block scales), after the fp16 fields:
 * tests overwrite them with random bits so that every code occurs. *len = 0
 * for the other types. Inline: the kernel tests also build without
 * testutil.c (tests/arm). */
static inline void tu_quant_code_span(uint32_t type, size_t *off, size_t *len) {
    *off = 0;
    *len = 0;
    switch (type) {
    case AI_Q4_0: *off = 2; *len = 16; break;
    case AI_Q4_1: *off = 4; *len = 16; break;
    case AI_Q5_0: *off = 2; *len = 20; break;
    case AI_Q5_1: *off = 4; *len = 20; break;
    case AI_Q8_0: *off = 2; *len = 32; break;
    case AI_Q4_K: *off = 4; *len = 140; break;
    case AI_Q5_K: *off = 4; *len = 172; break;
    case AI_Q6_K: *off = 0; *len = 208; break;
    default: break;
    }
}

/* A byte buffer that tests fill with little-endian fields (GGUF files built
 * in memory). Inline: the kernel tests also build without testutil.c. */
typedef struct tu_buf {
    uint8_t *p;
    size_t n, cap;
} tu_buf;
static inline void tu_put(tu_buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static inline void tu_u8(tu_buf *b, uint8_t v) { tu_put(b, &v, 1); }
static inline void tu_u16(tu_buf *b, uint16_t v) { tu_u8(b, (uint8_t)v); tu_u8(b, (uint8_t)(v >> 8)); }
static inline void tu_u32(tu_buf *b, uint32_t v) { tu_u16(b, (uint16_t)v); tu_u16(b, (uint16_t)(v >> 16)); }
static inline void tu_u64(tu_buf *b, uint64_t v) { tu_u32(b, (uint32_t)v); tu_u32(b, (uint32_t)(v >> 32)); }
static inline void tu_f32(tu_buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); tu_u32(b, u); }
static inline void tu_f64(tu_buf *b, double f) { uint64_t u; memcpy(&u, &f, 8); tu_u64(b, u); }
static inline void tu_str(tu_buf *b, const char *s) { tu_u64(b, strlen(s)); tu_put(b, s, strlen(s)); }
static inline void tu_pad(tu_buf *b, size_t align) { while (b->n % align) tu_u8(b, 0); }

#endif
