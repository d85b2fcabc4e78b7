/* gguf.h — memory-mapped GGUF v2/v3 reader and a small writer.
 *
 * Every count, offset and size in the file is validated before use; a bad
 * file yields one error naming the file, what was wrong and the byte offset.
 */
#ifndef AI_GGUF_H
#define AI_GGUF_H

#include "autoinfer.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
    GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
    GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12, GGUF_TYPE_COUNT
} gguf_type;

/* A string inside the mapped file (not NUL-terminated). */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    gguf_type type;
    /* scalars */
    union {
        uint64_t u64; int64_t i64; double f64; bool b; gguf_str str;
    } v;
    /* arrays: element type, count, pointer to the first element (in the
       map, or an aligned copy when the map position is misaligned for the
       element type, so it may always be cast and read). Bool elements are
       0 or 1. For string arrays, `strs` is an index built at open time. */
    gguf_type arr_type;
    uint64_t arr_n;
    const void *arr_data;
    gguf_str *strs;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension */
    uint32_t type;             /* ai_dtype (quant.h) */
    uint64_t offset;           /* relative to the data section */
    uint64_t size;             /* bytes */
    const void *data;          /* into the map */
} gguf_tensor;

typedef struct gguf_file {
    char path[512];
    uint32_t version;
    uint64_t alignment;
    const uint8_t *map;
    uint64_t map_size;
    uint64_t n_kv;
    gguf_kv *kvs;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t data_offset;      /* start of the tensor data section */
} gguf_file;

/* Open and validate. Returns NULL and fills err on any problem. */
gguf_file *gguf_open(const char *path, ai_error *err);
/* Same checks over a buffer the caller owns (used by the fuzzer and tests);
 * `name` is used in messages. The buffer must outlive the result. */
gguf_file *gguf_open_memory(const void *buf, uint64_t size, const char *name,
                            ai_error *err);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed accessors: 0 on success; a missing key or a value of another type
 * is an error naming the key and the type found. Integer getters accept any
 * integer type whose value fits. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, ai_error *err);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, ai_error *err);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, ai_error *err);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out, ai_error *err);
/* Copies into a NUL-terminated buffer; error when it does not fit. */
int gguf_get_str(const gguf_file *f, const char *key, char *out, size_t cap, ai_error *err);
/* Array accessor: checks the element type; *n gets the count. */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem_type,
                 const void **data, uint64_t *n, ai_error *err);
/* Optional variants: return 1 when present (and well-typed), 0 when absent,
 * -1 when present with the wrong type. */
int gguf_opt_u32(const gguf_file *f, const char *key, uint32_t *out, ai_error *err);
int gguf_opt_f32(const gguf_file *f, const char *key, float *out, ai_error *err);

const char *gguf_type_name(gguf_type t);

/* ---- writer ------------------------------------------------------------ */
/* Builds a GGUF v3 file in memory-order: add metadata, then tensors, then
 * write. Data is copied at gguf_writer_write time from the given pointers,
 * which must stay valid until then (NULL data writes zeros). Adding a key
 * that is already there replaces its value in place. Alignment is 32, or
 * general.alignment when set (u32, a power of two). A bad call (unknown
 * type, size not matching the shape, duplicate tensor) is remembered and
 * reported by gguf_writer_write, which writes path.tmp and renames it, so a
 * failure never leaves a partial file at `path`. A symlink at `path` is
 * written through (the file it names is replaced, the link stays); any other
 * existing path that is not a regular file (directory, FIFO, device) is
 * refused, since the rename would replace it. */
typedef struct gguf_writer gguf_writer;
gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
void gguf_writer_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_str(gguf_writer *w, const char *key, const char *v);
/* Copy a key/value (any type, arrays included) from an open file. */
void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);
void gguf_writer_arr(gguf_writer *w, const char *key, gguf_type elem_type,
                     const void *data, uint64_t n);           /* numeric */
void gguf_writer_arr_str(gguf_writer *w, const char *key,
                         const char *const *strs, uint64_t n);
void gguf_writer_tensor(gguf_writer *w, const char *name, uint32_t type,
                        uint32_t n_dims, const int64_t *ne, const void *data,
                        uint64_t size);
int gguf_writer_write(gguf_writer *w, const char *path, ai_error *err);
/* Fails, as gguf_writer_write would, when `path` cannot be written: run it
 * before long work, so that the failure comes first. */
int gguf_writer_check_path(const char *path, ai_error *err);

#endif
