/* fuzz_gguf.c — libFuzzer entry for the GGUF reader: open the input, and
 * when it opens, touch every byte the reader says is valid (keys, values,
 * array elements, strings, tensor data) and run the typed accessors, so that
 * any reference the reader hands out past the buffer shows up under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads through p; the sum keeps the reads from being optimised away. */
static unsigned touch(const void *p, uint64_t n) {
    const volatile uint8_t *b = p;
    unsigned s = 0;
    if (n) s += b[0] + b[n - 1];
    for (uint64_t i = 0; i < n && i < 4096; i++) s += b[i];
    return s;
}

static unsigned walk(const gguf_file *f) {
    unsigned s = 0;
    ai_error err;
    char key[256], sbuf[64];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kvs[i];
        s += touch(kv->key.ptr, kv->key.len);
        if (kv->type == GGUF_STRING) s += touch(kv->v.str.ptr, kv->v.str.len);
        if (kv->type == GGUF_ARRAY) {
            if (kv->arr_type == GGUF_STRING) {
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    s += touch(kv->strs[j].ptr, kv->strs[j].len);
            } else {
                static const uint8_t SZ[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
                s += touch(kv->arr_data, kv->arr_n * SZ[kv->arr_type]);
            }
        }
        /* Accessors by name need a NUL-free key that fits. */
        if (kv->key.len >= sizeof key || memchr(kv->key.ptr, 0, kv->key.len)) continue;
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = 0;
        if (gguf_find(f, key) != kv) abort(); /* keys are unique: must find this one */
        uint32_t u;
        int64_t i64;
        float x;
        bool b;
        const void *d;
        uint64_t n;
        if (!gguf_get_u32(f, key, &u, &err)) s += u;
        if (!gguf_get_i64(f, key, &i64, &err)) s += (unsigned)i64;
        if (!gguf_get_f32(f, key, &x, &err)) s += x > 0;
        if (!gguf_get_bool(f, key, &b, &err)) s += b;
        if (!gguf_get_str(f, key, sbuf, sizeof sbuf, &err)) s += (unsigned)strlen(sbuf);
        if (!gguf_get_arr(f, key, kv->arr_type, &d, &n, &err)) s += (unsigned)n;
        s += (unsigned)gguf_opt_u32(f, key, &u, &err);
        s += (unsigned)gguf_opt_f32(f, key, &x, &err);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        s += touch(t->name.ptr, t->name.len);
        s += touch(t->data, t->size);
        if (!ai_dtype_get(t->type) || t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) abort();
        if (t->name.len < sizeof key && !memchr(t->name.ptr, 0, t->name.len)) {
            memcpy(key, t->name.ptr, t->name.len);
            key[t->name.len] = 0;
            if (gguf_find_tensor(f, key) != t) abort();
        }
    }
    s += (unsigned)gguf_get_u32(f, "general.alignment", &(uint32_t){0}, &err);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ai_error err;
    gguf_file *f = gguf_open_memory(data, size, "fuzz.gguf", &err);
    if (!f) {
        /* Every rejection is one line naming the input. */
        if (strncmp(err.msg, "fuzz.gguf: ", 11) || strchr(err.msg, '\n')) abort();
        return 0;
    }
    volatile unsigned sink = walk(f);
    (void)sink;
    /* Copy everything through the writer (no file written). */
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < f->n_kv; i++) gguf_writer_copy_kv(w, &f->kvs[i]);
    gguf_writer_free(w);
    gguf_close(f);
    return 0;
}
