/* gguf.c — memory-mapped GGUF v2/v3 reader and a small v3 writer.
 *
 * The reader treats the file as hostile: every count, length, offset and
 * size is checked against the bytes that remain before it is used, all
 * arithmetic on file values is overflow-checked, and no allocation is larger
 * than what the file's size could possibly describe. A bad file yields one
 * line: "<path>: <what was wrong> at offset <N> (<what was expected>)".
 */
#include "gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
/* Smallest possible encodings, used to bound counts before allocating:
 * a kv is key length (8) + at least 1 key byte... keys may be empty, so
 * 8 + type (4) + the smallest value (1 byte). A tensor info is name length
 * (8) + n_dims (4) + one dim (8) + type (4) + offset (8). A string is its
 * length (8). */
#define MIN_KV_BYTES 13u
#define MIN_TENSOR_BYTES 32u
#define MIN_STRING_BYTES 8u

/* The public struct plus what only this file needs (hash indexes for the
 * lookups, buffers we own). gguf_file is the first member so the pointer
 * handed out converts back. */
typedef struct gguf_impl {
    gguf_file pub;
    bool unmap;            /* map came from mmap in gguf_open */
    uint32_t *kv_hash;     /* open addressing: index+1, 0 = empty */
    uint32_t *tensor_hash;
    uint64_t kv_mask, tensor_mask;
    void **owned;          /* aligned copies of misaligned numeric arrays */
    uint64_t n_owned;
} gguf_impl;

static const struct {
    const char *name;
    uint32_t size; /* bytes of one element; 0: variable */
} TYPES[GGUF_TYPE_COUNT] = {
    [GGUF_UINT8] = {"u8", 1},     [GGUF_INT8] = {"i8", 1},
    [GGUF_UINT16] = {"u16", 2},   [GGUF_INT16] = {"i16", 2},
    [GGUF_UINT32] = {"u32", 4},   [GGUF_INT32] = {"i32", 4},
    [GGUF_FLOAT32] = {"f32", 4},  [GGUF_BOOL] = {"bool", 1},
    [GGUF_STRING] = {"string", 0}, [GGUF_ARRAY] = {"array", 0},
    [GGUF_UINT64] = {"u64", 8},   [GGUF_INT64] = {"i64", 8},
    [GGUF_FLOAT64] = {"f64", 8},
};

const char *gguf_type_name(gguf_type t) {
    if ((unsigned)t >= GGUF_TYPE_COUNT) return "invalid";
    return TYPES[t].name;
}

static bool type_is_int(gguf_type t) {
    return t == GGUF_UINT8 || t == GGUF_INT8 || t == GGUF_UINT16 ||
           t == GGUF_INT16 || t == GGUF_UINT32 || t == GGUF_INT32 ||
           t == GGUF_UINT64 || t == GGUF_INT64;
}
static bool type_is_signed(gguf_type t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 ||
           t == GGUF_INT64;
}

/* FNV-1a: cheap and good enough for key and tensor names. */
static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool str_eq(gguf_str a, const char *b, uint64_t blen) {
    return a.len == blen && (blen == 0 || memcmp(a.ptr, b, blen) == 0);
}

/* ---- reader cursor ------------------------------------------------------ */

typedef struct cursor {
    const uint8_t *p;
    uint64_t size, off;
    const char *name;
    ai_error *err;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->off; }

/* Key or tensor names inside messages: printable, bounded, escaped. */
static void quote(char *out, size_t cap, const char *p, uint64_t n) {
    size_t o = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (o + 8 > cap) { /* room left for "..." and the NUL */
            memcpy(out + o, "...", 4);
            return;
        }
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    }
    out[o] = 0;
}

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return ai_error_set(c->err,
                            "%s: unexpected end of file reading %s at offset %" PRIu64
                            " (need %" PRIu64 " bytes, file is %" PRIu64 " bytes)",
                            c->name, what, c->off, n, c->size);
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    const uint8_t *p = c->p + c->off;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
    c->off += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    uint32_t lo, hi;
    if (need(c, 8, what)) return -1;
    rd_u32(c, &lo, what);
    rd_u32(c, &hi, what);
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

static int rd_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t at = c->off, len;
    if (rd_u64(c, &len, what)) return -1;
    if (len > remaining(c))
        return ai_error_set(c->err,
                            "%s: %s length %" PRIu64 " past end of file at offset %" PRIu64
                            " (file is %" PRIu64 " bytes)",
                            c->name, what, len, at, c->size);
    s->ptr = (const char *)c->p + c->off;
    s->len = len;
    c->off += len;
    return 0;
}

/* One scalar of type t into kv->v (little-endian). */
static int rd_scalar(cursor *c, gguf_type t, gguf_kv *kv, const char *key) {
    uint64_t at = c->off;
    uint32_t size = TYPES[t].size;
    if (t == GGUF_STRING) return rd_str(c, &kv->v.str, "string");
    if (need(c, size, "value")) return -1;
    uint64_t u = 0;
    for (uint32_t i = 0; i < size; i++) u |= (uint64_t)c->p[c->off + i] << (8 * i);
    c->off += size;
    switch (t) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64:
        kv->v.u64 = u;
        break;
    case GGUF_INT8: kv->v.i64 = (int8_t)(uint8_t)u; break;
    case GGUF_INT16: kv->v.i64 = (int16_t)(uint16_t)u; break;
    case GGUF_INT32: kv->v.i64 = (int32_t)(uint32_t)u; break;
    case GGUF_INT64: kv->v.i64 = (int64_t)u; break;
    case GGUF_FLOAT32: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, 4);
        kv->v.f64 = f;
        break;
    }
    case GGUF_FLOAT64: memcpy(&kv->v.f64, &u, 8); break;
    case GGUF_BOOL:
        /* Only 0/1: other bytes would be invalid _Bool objects. */
        if (u > 1)
            return ai_error_set(c->err,
                                "%s: bool value %" PRIu64 " for key '%s' at offset %" PRIu64
                                " (expected 0 or 1)",
                                c->name, u, key, at);
        kv->v.b = u != 0;
        break;
    default: break;
    }
    return 0;
}

/* ---- hash indexes --------------------------------------------------------- */

static uint32_t *hash_new(uint64_t n, uint64_t *mask) {
    uint64_t cap = 16;
    while (cap < 2 * n) cap *= 2; /* n is bounded by the file size */
    *mask = cap - 1;
    return calloc(cap, sizeof(uint32_t));
}

/* Insert item idx with the given name; returns the index of an existing item
 * with the same name, or -1 after inserting. */
static int64_t hash_insert(uint32_t *tab, uint64_t mask, gguf_str name,
                           uint32_t idx, const gguf_str *(*get)(const void *, uint32_t),
                           const void *base) {
    uint64_t h = hash_bytes(name.ptr, name.len) & mask;
    while (tab[h]) {
        const gguf_str *other = get(base, tab[h] - 1);
        if (str_eq(*other, name.ptr, name.len)) return tab[h] - 1;
        h = (h + 1) & mask;
    }
    tab[h] = idx + 1;
    return -1;
}

static int64_t hash_find(const uint32_t *tab, uint64_t mask, const char *name,
                         uint64_t len, const gguf_str *(*get)(const void *, uint32_t),
                         const void *base) {
    if (!tab) return -1;
    uint64_t h = hash_bytes(name, len) & mask;
    while (tab[h]) {
        if (str_eq(*get(base, tab[h] - 1), name, len)) return tab[h] - 1;
        h = (h + 1) & mask;
    }
    return -1;
}

static const gguf_str *kv_name(const void *base, uint32_t i) {
    return &((const gguf_kv *)base)[i].key;
}
static const gguf_str *tensor_name(const void *base, uint32_t i) {
    return &((const gguf_tensor *)base)[i].name;
}

/* ---- parsing -------------------------------------------------------------- */

static int read_array(cursor *c, gguf_impl *g, gguf_kv *kv, const char *key) {
    uint64_t at = c->off;
    uint32_t et;
    if (rd_u32(c, &et, "array element type")) return -1;
    if (et == GGUF_ARRAY)
        return ai_error_set(c->err,
                            "%s: nested array for key '%s' at offset %" PRIu64
                            " (arrays of arrays are not supported)",
                            c->name, key, at);
    if (et >= GGUF_TYPE_COUNT)
        return ai_error_set(c->err,
                            "%s: unknown array element type %" PRIu32 " for key '%s' at offset %" PRIu64
                            " (expected 0..12)",
                            c->name, et, key, at);
    kv->arr_type = (gguf_type)et;
    uint64_t n_at = c->off, n;
    if (rd_u64(c, &n, "array count")) return -1;
    kv->arr_n = n;
    if (et == GGUF_STRING) {
        if (n > remaining(c) / MIN_STRING_BYTES)
            return ai_error_set(c->err,
                                "%s: array count %" PRIu64 " of type string for key '%s' past end of file at offset %" PRIu64
                                " (file is %" PRIu64 " bytes)",
                                c->name, n, key, n_at, c->size);
        kv->arr_data = c->p + c->off;
        kv->strs = malloc((n ? n : 1) * sizeof(gguf_str));
        if (!kv->strs)
            return ai_error_set(c->err, "%s: out of memory for %" PRIu64 " strings of key '%s'",
                                c->name, n, key);
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(c, &kv->strs[i], "string")) return -1;
        return 0;
    }
    uint64_t esz = TYPES[et].size, bytes;
    if (__builtin_mul_overflow(n, esz, &bytes) || bytes > remaining(c))
        return ai_error_set(c->err,
                            "%s: array count %" PRIu64 " of type %s for key '%s' past end of file at offset %" PRIu64
                            " (file is %" PRIu64 " bytes)",
                            c->name, n, TYPES[et].name, key, n_at, c->size);
    const uint8_t *data = c->p + c->off;
    if (et == GGUF_BOOL) {
        for (uint64_t i = 0; i < n; i++)
            if (data[i] > 1)
                return ai_error_set(c->err,
                                    "%s: bool value %u in array '%s' at offset %" PRIu64
                                    " (expected 0 or 1)",
                                    c->name, data[i], key, c->off + i);
    }
    /* Consumers cast arr_data to the element type: give them an aligned
     * copy when the element sits at an odd place in the map. */
    if (esz > 1 && ((uintptr_t)data % esz) != 0 && n > 0) {
        void *copy = malloc(bytes);
        if (!copy)
            return ai_error_set(c->err, "%s: out of memory for array '%s' (%" PRIu64 " bytes)",
                                c->name, key, bytes);
        memcpy(copy, data, bytes);
        g->owned[g->n_owned++] = copy;
        data = copy;
    }
    kv->arr_data = data;
    c->off += bytes;
    return 0;
}

static int read_kv(cursor *c, gguf_impl *g, uint64_t i) {
    gguf_file *f = &g->pub;
    gguf_kv *kv = &f->kvs[i];
    uint64_t at = c->off;
    if (rd_str(c, &kv->key, "key")) return -1;
    char key[160];
    quote(key, sizeof key, kv->key.ptr, kv->key.len);
    int64_t dup = hash_insert(g->kv_hash, g->kv_mask, kv->key, (uint32_t)i, kv_name, f->kvs);
    if (dup >= 0)
        return ai_error_set(c->err,
                            "%s: duplicate key '%s' at offset %" PRIu64 " (keys must be unique)",
                            c->name, key, at);
    uint64_t t_at = c->off;
    uint32_t t;
    if (rd_u32(c, &t, "value type")) return -1;
    if (t >= GGUF_TYPE_COUNT)
        return ai_error_set(c->err,
                            "%s: unknown value type %" PRIu32 " for key '%s' at offset %" PRIu64
                            " (expected 0..12)",
                            c->name, t, key, t_at);
    kv->type = (gguf_type)t;
    if (t == GGUF_ARRAY) return read_array(c, g, kv, key);
    return rd_scalar(c, kv->type, kv, key);
}

static int read_tensor(cursor *c, gguf_file *f, uint64_t i) {
    gguf_tensor *t = &f->tensors[i];
    if (rd_str(c, &t->name, "tensor name")) return -1;
    char name[160];
    quote(name, sizeof name, t->name.ptr, t->name.len);
    uint64_t d_at = c->off;
    if (rd_u32(c, &t->n_dims, "tensor dimension count")) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return ai_error_set(c->err,
                            "%s: tensor '%s' has %" PRIu32 " dimensions at offset %" PRIu64
                            " (expected 1 to %d)",
                            c->name, name, t->n_dims, d_at, GGUF_MAX_DIMS);
    int64_t nel = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne_at = c->off, ne;
        if (rd_u64(c, &ne, "tensor dimension")) return -1;
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return ai_error_set(c->err,
                                "%s: tensor '%s' dimension %" PRIu32 " is %" PRIu64 " at offset %" PRIu64
                                " (expected 1 to 2^63-1)",
                                c->name, name, d, ne, ne_at);
        t->ne[d] = (int64_t)ne;
        if (__builtin_mul_overflow(nel, (int64_t)ne, &nel))
            return ai_error_set(c->err,
                                "%s: tensor '%s' element count overflows at dimension %" PRIu32
                                " at offset %" PRIu64 " (the product of the dimensions must fit in 63 bits)",
                                c->name, name, d, ne_at);
    }
    uint64_t ty_at = c->off;
    if (rd_u32(c, &t->type, "tensor type")) return -1;
    const ai_dtype_info *dt = ai_dtype_get(t->type);
    if (!dt)
        return ai_error_set(c->err,
                            "%s: unknown tensor type id %" PRIu32 " for tensor '%s' at offset %" PRIu64
                            " (not a ggml type this reader knows)",
                            c->name, t->type, name, ty_at);
    if (t->ne[0] % dt->block)
        return ai_error_set(c->err,
                            "%s: tensor '%s' row length %" PRId64 " is not a multiple of the %s block at offset %" PRIu64
                            " (expected a multiple of %d)",
                            c->name, name, t->ne[0], dt->name, d_at + 4, dt->block);
    /* bytes = (nel / block) * type_size: no overflow in the division. */
    uint64_t size;
    if (__builtin_mul_overflow((uint64_t)(nel / dt->block), (uint64_t)dt->type_size, &size))
        return ai_error_set(c->err,
                            "%s: tensor '%s' byte size overflows at offset %" PRIu64
                            " (size must fit in 64 bits)",
                            c->name, name, d_at);
    t->size = size;
    uint64_t o_at = c->off;
    if (rd_u64(c, &t->offset, "tensor offset")) return -1;
    if (t->offset % f->alignment)
        return ai_error_set(c->err,
                            "%s: tensor '%s' offset %" PRIu64 " is misaligned at offset %" PRIu64
                            " (expected a multiple of %" PRIu64 ")",
                            c->name, name, t->offset, o_at, f->alignment);
    return 0;
}

/* Alignment comes from general.alignment, read before the tensor infos. */
static int read_alignment(gguf_impl *g, ai_error *err) {
    gguf_file *f = &g->pub;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find(f, "general.alignment");
    if (!kv) return 0;
    uint64_t at = (uint64_t)((const uint8_t *)kv->key.ptr - f->map) + kv->key.len;
    if (!type_is_int(kv->type))
        return ai_error_set(err,
                            "%s: general.alignment has type %s at offset %" PRIu64
                            " (expected an unsigned 32-bit integer)",
                            f->path, gguf_type_name(kv->type), at);
    uint64_t a = kv->v.u64;
    if (type_is_signed(kv->type) && kv->v.i64 < 0) a = 0;
    if (a == 0 || a > UINT32_MAX || (a & (a - 1)))
        return ai_error_set(err,
                            "%s: general.alignment %" PRId64 " at offset %" PRIu64
                            " (expected a nonzero power of two)",
                            f->path, type_is_signed(kv->type) ? kv->v.i64 : (int64_t)kv->v.u64, at);
    f->alignment = a;
    return 0;
}

typedef struct span {
    uint64_t start, end;
    uint64_t idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Every tensor's data inside the file and no two overlapping. */
static int check_data(gguf_impl *g, ai_error *err) {
    gguf_file *f = &g->pub;
    if (f->n_tensors == 0) return 0;
    span *s = malloc(f->n_tensors * sizeof *s);
    if (!s) return ai_error_set(err, "%s: out of memory for %" PRIu64 " tensors", f->path, f->n_tensors);
    int rc = 0;
    for (uint64_t i = 0; i < f->n_tensors && !rc; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t start = 0, end = 0;
        bool ovf = __builtin_add_overflow(f->data_offset, t->offset, &start);
        if (ovf || __builtin_add_overflow(start, t->size, &end) || end > f->map_size) {
            char name[160];
            quote(name, sizeof name, t->name.ptr, t->name.len);
            rc = ai_error_set(err,
                              "%s: tensor '%s' data (%" PRIu64 " bytes at data offset %" PRIu64
                              ") past end of file at offset %" PRIu64 " (file is %" PRIu64 " bytes)",
                              f->path, name, t->size, t->offset, ovf ? UINT64_MAX : start,
                              f->map_size);
            break;
        }
        t->data = f->map + start;
        s[i] = (span){start, end, i};
    }
    if (!rc) {
        qsort(s, f->n_tensors, sizeof *s, span_cmp);
        for (uint64_t i = 1; i < f->n_tensors; i++) {
            if (s[i].start < s[i - 1].end) {
                char a[160], b[160];
                const gguf_tensor *ta = &f->tensors[s[i - 1].idx], *tb = &f->tensors[s[i].idx];
                quote(a, sizeof a, ta->name.ptr, ta->name.len);
                quote(b, sizeof b, tb->name.ptr, tb->name.len);
                rc = ai_error_set(err,
                                  "%s: tensor '%s' overlaps tensor '%s' at offset %" PRIu64
                                  " (tensor data must not overlap)",
                                  f->path, b, a, s[i].start);
                break;
            }
        }
    }
    free(s);
    return rc;
}

static int parse(gguf_impl *g, ai_error *err) {
    gguf_file *f = &g->pub;
    cursor c = {f->map, f->map_size, 0, f->path, err};
    if (f->map_size < 4)
        return ai_error_set(err,
                            "%s: file too short for a GGUF header at offset 0 (file is %" PRIu64
                            " bytes, a GGUF header needs 24)",
                            f->path, f->map_size);
    if (memcmp(f->map, GGUF_MAGIC, 4)) {
        char m[32];
        quote(m, sizeof m, (const char *)f->map, 4);
        return ai_error_set(err, "%s: bad magic '%s' at offset 0 (expected 'GGUF': not a GGUF file)",
                            f->path, m);
    }
    c.off = 4;
    if (rd_u32(&c, &f->version, "version")) return -1;
    if (f->version != 2 && f->version != 3) {
        /* A big-endian file shows its version byte-swapped. */
        bool swapped = f->version == 0x02000000u || f->version == 0x03000000u;
        return ai_error_set(err, "%s: unsupported version %" PRIu32 " at offset 4 (expected 2 or 3%s)",
                            f->path, f->version,
                            swapped ? "; this looks like a big-endian file" : "");
    }
    uint64_t nt_at = c.off;
    if (rd_u64(&c, &f->n_tensors, "tensor count")) return -1;
    uint64_t nkv_at = c.off;
    if (rd_u64(&c, &f->n_kv, "metadata count")) return -1;
    /* Bound the counts by what the rest of the file could hold before any
     * allocation, so a hostile count can't make us allocate gigabytes. */
    if (f->n_kv > remaining(&c) / MIN_KV_BYTES || f->n_kv > UINT32_MAX - 1)
        return ai_error_set(err,
                            "%s: metadata count %" PRIu64 " too large at offset %" PRIu64
                            " (the file has room for at most %" PRIu64 ")",
                            f->path, f->n_kv, nkv_at, remaining(&c) / MIN_KV_BYTES);
    if (f->n_tensors > remaining(&c) / MIN_TENSOR_BYTES || f->n_tensors > UINT32_MAX - 1)
        return ai_error_set(err,
                            "%s: tensor count %" PRIu64 " too large at offset %" PRIu64
                            " (the file has room for at most %" PRIu64 ")",
                            f->path, f->n_tensors, nt_at, remaining(&c) / MIN_TENSOR_BYTES);
    f->kvs = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kvs);
    g->owned = calloc(f->n_kv ? f->n_kv : 1, sizeof *g->owned);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    g->kv_hash = hash_new(f->n_kv, &g->kv_mask);
    g->tensor_hash = hash_new(f->n_tensors, &g->tensor_mask);
    if (!f->kvs || !g->owned || !f->tensors || !g->kv_hash || !g->tensor_hash)
        return ai_error_set(err, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (read_kv(&c, g, i)) return -1;
    if (read_alignment(g, err)) return -1;
    /* The tensor count was bounded by the whole rest of the file; bound it
     * again now that the metadata is consumed. */
    if (f->n_tensors > remaining(&c) / MIN_TENSOR_BYTES)
        return ai_error_set(err,
                            "%s: tensor count %" PRIu64 " too large at offset %" PRIu64
                            " (after the metadata the file has room for at most %" PRIu64 ")",
                            f->path, f->n_tensors, nt_at, remaining(&c) / MIN_TENSOR_BYTES);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t at = c.off;
        if (read_tensor(&c, f, i)) return -1;
        gguf_tensor *t = &f->tensors[i];
        if (hash_insert(g->tensor_hash, g->tensor_mask, t->name, (uint32_t)i, tensor_name,
                        f->tensors) >= 0) {
            char name[160];
            quote(name, sizeof name, t->name.ptr, t->name.len);
            return ai_error_set(err,
                                "%s: duplicate tensor name '%s' at offset %" PRIu64
                                " (tensor names must be unique)",
                                f->path, name, at);
        }
    }
    /* Data section: the next multiple of the alignment. It may lie past
     * the end only when there are no tensors. */
    uint64_t pad = (f->alignment - c.off % f->alignment) % f->alignment;
    f->data_offset = c.off + pad;
    if (f->n_tensors > 0 && f->data_offset > f->map_size)
        return ai_error_set(err,
                            "%s: tensor data section starts past end of file at offset %" PRIu64
                            " (file is %" PRIu64 " bytes)",
                            f->path, f->data_offset, f->map_size);
    return check_data(g, err);
}

static gguf_file *open_common(gguf_impl *g, const char *name, ai_error *err) {
    snprintf(g->pub.path, sizeof g->pub.path, "%s", name);
    if (parse(g, err)) {
        gguf_close(&g->pub);
        return NULL;
    }
    return &g->pub;
}

gguf_file *gguf_open_memory(const void *buf, uint64_t size, const char *name,
                            ai_error *err) {
    gguf_impl *g = calloc(1, sizeof *g);
    if (!g) {
        ai_error_set(err, "%s: out of memory", name);
        return NULL;
    }
    g->pub.map = buf;
    g->pub.map_size = buf ? size : 0;
    return open_common(g, name, err);
}

gguf_file *gguf_open(const char *path, ai_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ai_error_set(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        ai_error_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        ai_error_set(err, "%s: file is empty at offset 0 (expected a GGUF header)", path);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED) {
        ai_error_set(err, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size,
                     strerror(e));
        return NULL;
    }
    gguf_impl *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        ai_error_set(err, "%s: out of memory", path);
        return NULL;
    }
    g->pub.map = map;
    g->pub.map_size = (uint64_t)st.st_size;
    g->unmap = true;
    return open_common(g, path, err);
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    gguf_impl *g = (gguf_impl *)f;
    if (f->kvs)
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kvs[i].strs);
    for (uint64_t i = 0; i < g->n_owned; i++) free(g->owned[i]);
    free(g->owned);
    free(f->kvs);
    free(f->tensors);
    free(g->kv_hash);
    free(g->tensor_hash);
    if (g->unmap && f->map) munmap((void *)f->map, (size_t)f->map_size);
    free(g);
}

/* ---- lookups and typed accessors ----------------------------------------- */

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    const gguf_impl *g = (const gguf_impl *)f;
    int64_t i = hash_find(g->kv_hash, g->kv_mask, key, strlen(key), kv_name, f->kvs);
    return i < 0 ? NULL : &f->kvs[i];
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    const gguf_impl *g = (const gguf_impl *)f;
    int64_t i = hash_find(g->tensor_hash, g->tensor_mask, name, strlen(name), tensor_name,
                          f->tensors);
    return i < 0 ? NULL : &f->tensors[i];
}

static int missing(const gguf_file *f, const char *key, ai_error *err) {
    return ai_error_set(err, "%s: missing key '%s'", f->path, key);
}

static int mistyped(const gguf_file *f, const gguf_kv *kv, const char *key,
                    const char *expected, ai_error *err) {
    if (kv->type == GGUF_ARRAY)
        return ai_error_set(err, "%s: key '%s' has type array of %s, expected %s", f->path,
                            key, gguf_type_name(kv->arr_type), expected);
    return ai_error_set(err, "%s: key '%s' has type %s, expected %s", f->path, key,
                        gguf_type_name(kv->type), expected);
}

/* Integer value as (negative?, magnitude) so any range check is exact. */
static int int_value(const gguf_file *f, const char *key, const gguf_kv **kvp,
                     bool *neg, uint64_t *mag, ai_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    *kvp = kv;
    if (!kv) return missing(f, key, err);
    if (!type_is_int(kv->type)) return mistyped(f, kv, key, "an integer", err);
    if (type_is_signed(kv->type) && kv->v.i64 < 0) {
        *neg = true;
        *mag = (uint64_t)(-(kv->v.i64 + 1)) + 1;
    } else {
        *neg = false;
        *mag = kv->v.u64;
    }
    return 0;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, ai_error *err) {
    const gguf_kv *kv;
    bool neg;
    uint64_t mag;
    if (int_value(f, key, &kv, &neg, &mag, err)) return -1;
    if (neg || mag > UINT32_MAX)
        return ai_error_set(err, "%s: key '%s' value %s%" PRIu64 " does not fit in an unsigned 32-bit integer",
                            f->path, key, neg ? "-" : "", mag);
    *out = (uint32_t)mag;
    return 0;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, ai_error *err) {
    const gguf_kv *kv;
    bool neg;
    uint64_t mag;
    if (int_value(f, key, &kv, &neg, &mag, err)) return -1;
    if (!neg && mag > (uint64_t)INT64_MAX)
        return ai_error_set(err, "%s: key '%s' value %" PRIu64 " does not fit in a signed 64-bit integer",
                            f->path, key, mag);
    *out = neg ? kv->v.i64 : (int64_t)mag;
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, ai_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return missing(f, key, err);
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = (float)kv->v.f64;
    } else if (type_is_int(kv->type)) {
        /* Some writers store e.g. rope.freq_base as an integer. */
        *out = type_is_signed(kv->type) ? (float)kv->v.i64 : (float)kv->v.u64;
    } else {
        return mistyped(f, kv, key, "a float", err);
    }
    return 0;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out, ai_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return missing(f, key, err);
    if (kv->type != GGUF_BOOL) return mistyped(f, kv, key, "a bool", err);
    *out = kv->v.b;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, char *out, size_t cap, ai_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return missing(f, key, err);
    if (kv->type != GGUF_STRING) return mistyped(f, kv, key, "a string", err);
    if (kv->v.str.len >= cap)
        return ai_error_set(err, "%s: key '%s' string of %" PRIu64 " bytes does not fit in %zu",
                            f->path, key, kv->v.str.len, cap ? cap - 1 : 0);
    if (kv->v.str.len) memcpy(out, kv->v.str.ptr, kv->v.str.len);
    out[kv->v.str.len] = 0;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem_type,
                 const void **data, uint64_t *n, ai_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return missing(f, key, err);
    if (kv->type != GGUF_ARRAY || kv->arr_type != elem_type) {
        char exp[48];
        snprintf(exp, sizeof exp, "an array of %s", gguf_type_name(elem_type));
        return mistyped(f, kv, key, exp, err);
    }
    /* String arrays: the index of gguf_str, not the raw bytes. */
    *data = elem_type == GGUF_STRING ? (const void *)kv->strs : kv->arr_data;
    *n = kv->arr_n;
    return 0;
}

int gguf_opt_u32(const gguf_file *f, const char *key, uint32_t *out, ai_error *err) {
    if (!gguf_find(f, key)) return 0;
    return gguf_get_u32(f, key, out, err) ? -1 : 1;
}

int gguf_opt_f32(const gguf_file *f, const char *key, float *out, ai_error *err) {
    if (!gguf_find(f, key)) return 0;
    return gguf_get_f32(f, key, out, err) ? -1 : 1;
}

/* ---- writer ----------------------------------------------------------------- */

typedef struct wkv {
    char *key;
    gguf_type type;
    uint8_t scalar[8];     /* little-endian scalar bytes */
    char *str;             /* GGUF_STRING value */
    uint64_t str_len;
    gguf_type arr_type;
    uint64_t arr_n;
    void *arr;             /* numeric array bytes */
    char **arr_strs;       /* string array values */
    uint64_t *arr_lens;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t size;
} wtensor;

struct gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_t, cap_t;
    char err[512]; /* first problem, reported by gguf_writer_write */
};

/* Writer calls return nothing: the first problem is kept for write time. */
static void w_fail(gguf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fail(gguf_writer *w, const char *fmt, ...) {
    if (w->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
}

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

static void wkv_clear(wkv *k) {
    free(k->str);
    free(k->arr);
    if (k->arr_strs)
        for (uint64_t i = 0; i < k->arr_n; i++) free(k->arr_strs[i]);
    free(k->arr_strs);
    free(k->arr_lens);
    char *key = k->key;
    memset(k, 0, sizeof *k);
    k->key = key;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        wkv_clear(&w->kvs[i]);
        free(w->kvs[i].key);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

static char *dup_bytes(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        if (n) memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* The slot for `key`: an existing one is reused (a later value replaces an
 * earlier one, so copying a file's metadata and then changing a key works). */
static wkv *w_slot(gguf_writer *w, const char *key, size_t key_len) {
    if (!w || w->err[0]) return NULL;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strlen(w->kvs[i].key) == key_len && !memcmp(w->kvs[i].key, key, key_len)) {
            wkv_clear(&w->kvs[i]);
            return &w->kvs[i];
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *k = realloc(w->kvs, cap * sizeof *k);
        if (!k) {
            w_fail(w, "out of memory adding key '%s'", key);
            return NULL;
        }
        w->kvs = k;
        w->cap_kv = cap;
    }
    wkv *k = &w->kvs[w->n_kv];
    memset(k, 0, sizeof *k);
    k->key = dup_bytes(key, key_len);
    if (!k->key) {
        w_fail(w, "out of memory adding key '%s'", key);
        return NULL;
    }
    w->n_kv++;
    return k;
}

static void w_scalar(gguf_writer *w, const char *key, gguf_type t, uint64_t bits) {
    wkv *k = w_slot(w, key, strlen(key));
    if (!k) return;
    k->type = t;
    for (int i = 0; i < 8; i++) k->scalar[i] = (uint8_t)(bits >> (8 * i));
}

void gguf_writer_u32(gguf_writer *w, const char *key, uint32_t v) {
    w_scalar(w, key, GGUF_UINT32, v);
}
void gguf_writer_i32(gguf_writer *w, const char *key, int32_t v) {
    w_scalar(w, key, GGUF_INT32, (uint32_t)v);
}
void gguf_writer_f32(gguf_writer *w, const char *key, float v) {
    uint32_t b;
    memcpy(&b, &v, 4);
    w_scalar(w, key, GGUF_FLOAT32, b);
}
void gguf_writer_bool(gguf_writer *w, const char *key, bool v) {
    w_scalar(w, key, GGUF_BOOL, v ? 1 : 0);
}

static void w_str(gguf_writer *w, const char *key, size_t key_len, const char *v, uint64_t len) {
    wkv *k = w_slot(w, key, key_len);
    if (!k) return;
    k->type = GGUF_STRING;
    k->str = dup_bytes(v, (size_t)len);
    k->str_len = len;
    if (!k->str) w_fail(w, "out of memory for the value of key '%s'", k->key);
}

void gguf_writer_str(gguf_writer *w, const char *key, const char *v) {
    w_str(w, key, strlen(key), v, strlen(v));
}

static void w_arr(gguf_writer *w, const char *key, size_t key_len, gguf_type t,
                  const void *data, uint64_t n) {
    if (!w || w->err[0]) return;
    if ((unsigned)t >= GGUF_TYPE_COUNT || t == GGUF_STRING || t == GGUF_ARRAY) {
        w_fail(w, "array '%s': element type %s is not numeric (use gguf_writer_arr_str)", key,
               gguf_type_name(t));
        return;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)TYPES[t].size, &bytes) || bytes > SIZE_MAX) {
        w_fail(w, "array '%s' is too large", key);
        return;
    }
    wkv *k = w_slot(w, key, key_len);
    if (!k) return;
    k->type = GGUF_ARRAY;
    k->arr_type = t;
    k->arr_n = n;
    k->arr = malloc(bytes ? (size_t)bytes : 1);
    if (!k->arr) {
        w_fail(w, "out of memory for array '%s'", k->key);
        return;
    }
    if (bytes) memcpy(k->arr, data, (size_t)bytes);
}

void gguf_writer_arr(gguf_writer *w, const char *key, gguf_type elem_type,
                     const void *data, uint64_t n) {
    w_arr(w, key, strlen(key), elem_type, data, n);
}

/* Strings given as (ptr, len) pairs or as C strings (lens == NULL). */
static void w_arr_str(gguf_writer *w, const char *key, size_t key_len,
                      const char *const *strs, const uint64_t *lens, uint64_t n) {
    wkv *k = w_slot(w, key, key_len);
    if (!k) return;
    k->type = GGUF_ARRAY;
    k->arr_type = GGUF_STRING;
    k->arr_strs = calloc(n ? (size_t)n : 1, sizeof(char *));
    k->arr_lens = calloc(n ? (size_t)n : 1, sizeof(uint64_t));
    if (!k->arr_strs || !k->arr_lens || n > SIZE_MAX / sizeof(char *)) {
        w_fail(w, "out of memory for array '%s'", k->key);
        return;
    }
    k->arr_n = n;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : strlen(strs[i]);
        k->arr_strs[i] = dup_bytes(strs[i], (size_t)len);
        k->arr_lens[i] = len;
        if (!k->arr_strs[i]) {
            w_fail(w, "out of memory for array '%s'", k->key);
            return;
        }
    }
}

void gguf_writer_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    w_arr_str(w, key, strlen(key), strs, NULL, n);
}

void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    if (!w || w->err[0]) return;
    const char *key = kv->key.ptr;
    size_t klen = (size_t)kv->key.len;
    if (kv->type == GGUF_STRING) {
        w_str(w, key, klen, kv->v.str.ptr, kv->v.str.len);
    } else if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING) {
        const char **p = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *p);
        uint64_t *l = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *l);
        if (p && l) {
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                p[i] = kv->strs[i].ptr;
                l[i] = kv->strs[i].len;
            }
            w_arr_str(w, key, klen, p, l, kv->arr_n);
        } else {
            w_fail(w, "out of memory copying a key");
        }
        free(p);
        free(l);
    } else if (kv->type == GGUF_ARRAY) {
        w_arr(w, key, klen, kv->arr_type, kv->arr_data, kv->arr_n);
    } else {
        wkv *k = w_slot(w, key, klen);
        if (!k) return;
        uint64_t bits = 0;
        if (kv->type == GGUF_FLOAT32) {
            float fv = (float)kv->v.f64;
            uint32_t b;
            memcpy(&b, &fv, 4);
            bits = b;
        } else if (kv->type == GGUF_FLOAT64) {
            memcpy(&bits, &kv->v.f64, 8);
        } else if (kv->type == GGUF_BOOL) {
            bits = kv->v.b;
        } else {
            bits = kv->v.u64; /* two's complement: the low bytes are the value */
        }
        k->type = kv->type;
        for (int i = 0; i < 8; i++) k->scalar[i] = (uint8_t)(bits >> (8 * i));
    }
}

void gguf_writer_tensor(gguf_writer *w, const char *name, uint32_t type,
                        uint32_t n_dims, const int64_t *ne, const void *data,
                        uint64_t size) {
    if (!w || w->err[0]) return;
    const ai_dtype_info *dt = ai_dtype_get(type);
    if (!dt) {
        w_fail(w, "tensor '%s': unknown tensor type id %u", name, type);
        return;
    }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        w_fail(w, "tensor '%s': dimension count must be 1 to 4", name);
        return;
    }
    int64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] <= 0 || __builtin_mul_overflow(nel, ne[d], &nel)) {
            w_fail(w, "tensor '%s': bad shape", name);
            return;
        }
    if (ne[0] % dt->block || (uint64_t)(nel / dt->block) * (uint64_t)dt->type_size != size) {
        w_fail(w, "tensor '%s': size does not match its shape and type %s", name, dt->name);
        return;
    }
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->tensors[i].name, name)) {
            w_fail(w, "duplicate tensor name '%s'", name);
            return;
        }
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t) {
            w_fail(w, "out of memory adding tensor '%s'", name);
            return;
        }
        w->tensors = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->tensors[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = dup_bytes(name, strlen(name));
    if (!t->name) {
        w_fail(w, "out of memory adding tensor '%s'", name);
        return;
    }
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->size = size;
    w->n_t++;
}

/* Buffered little-endian output with a sticky error. */
typedef struct wout {
    FILE *fp;
    uint64_t pos;
    bool bad;
} wout;

static void put(wout *o, const void *p, uint64_t n) {
    if (o->bad || n == 0) return;
    if (fwrite(p, 1, (size_t)n, o->fp) != n) o->bad = true;
    o->pos += n;
}
static void put_u32(wout *o, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}
static void put_u64(wout *o, uint64_t v) {
    put_u32(o, (uint32_t)v);
    put_u32(o, (uint32_t)(v >> 32));
}
static void put_str(wout *o, const char *s, uint64_t n) {
    put_u64(o, n);
    put(o, s, n);
}
static void put_zeros(wout *o, uint64_t n) {
    static const uint8_t z[256];
    while (n) {
        uint64_t k = n < sizeof z ? n : sizeof z;
        put(o, z, k);
        n -= k;
    }
}

/* Little-endian bytes of array elements (the host may be big-endian). */
static void put_elems(wout *o, const void *data, uint64_t n, uint32_t esz) {
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 1 || esz == 1) {
        put(o, data, n * esz);
        return;
    }
    const uint8_t *p = data;
    for (uint64_t i = 0; i < n; i++)
        for (uint32_t b = 0; b < esz; b++) put(o, p + i * esz + (esz - 1 - b), 1);
}

static uint64_t w_alignment(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *k = &w->kvs[i];
        if (!strcmp(k->key, "general.alignment") && k->type == GGUF_UINT32) {
            uint32_t a = (uint32_t)k->scalar[0] | (uint32_t)k->scalar[1] << 8 |
                         (uint32_t)k->scalar[2] << 16 | (uint32_t)k->scalar[3] << 24;
            if (a && !(a & (a - 1))) return a;
            return 0;
        }
        if (!strcmp(k->key, "general.alignment")) return 0;
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

/* The output file behind `path` (the path, or the regular file a symlink
 * there names) and its temporary path.tmp beside it, created empty (a stale
 * one is removed first; never followed, so a link there cannot redirect the
 * write). *fd is the temporary's descriptor, with the mode of the file it
 * replaces. Returns 0, or -1 with the reason in err. */
static int output_open(const char *path, char *target, char *tmp, size_t cap, int *fd,
                       ai_error *err) {
    struct stat st;
    bool exists = lstat(path, &st) == 0;
    if (exists && S_ISLNK(st.st_mode)) {
        char resolved[PATH_MAX];
        if (!realpath(path, resolved) || stat(resolved, &st) != 0)
            return ai_error_set(err, "%s: a symlink to nothing (expected a regular file or a new path)",
                                path);
        if (strlen(resolved) >= cap) return ai_error_set(err, "%s: path too long", path);
        snprintf(target, cap, "%s", resolved);
    } else if ((size_t)snprintf(target, cap, "%s", path) >= cap) {
        return ai_error_set(err, "%s: path too long", path);
    }
    if (exists && !S_ISREG(st.st_mode))
        return ai_error_set(err, "%s: not a regular file (%s); refusing to replace it", path,
                            S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                            : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file");
    if ((size_t)snprintf(tmp, cap, "%s.tmp", target) >= cap)
        return ai_error_set(err, "%s: path too long", path);
    unlink(tmp); /* left by a killed run; if it cannot go, the exclusive create says why */
    *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               exists ? st.st_mode & 07777 : 0666);
    if (*fd < 0) return ai_error_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    return 0;
}

int gguf_writer_check_path(const char *path, ai_error *err) {
    char target[4200], tmp[4200];
    int fd;
    if (output_open(path, target, tmp, sizeof tmp, &fd, err)) return -1;
    close(fd);
    unlink(tmp);
    return 0;
}

int gguf_writer_write(gguf_writer *w, const char *path, ai_error *err) {
    if (!w) return ai_error_set(err, "%s: no writer", path);
    if (w->err[0]) return ai_error_set(err, "%s: %s", path, w->err);
    uint64_t align = w_alignment(w);
    if (!align)
        return ai_error_set(err, "%s: general.alignment must be a u32 nonzero power of two", path);
    char target[4200], tmp[4200];
    int fd;
    if (output_open(path, target, tmp, sizeof tmp, &fd, err)) return -1;
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ai_error_set(err, "%s: cannot create: %s", tmp, strerror(e));
    }
    wout o = {fp, 0, false};
    put(&o, GGUF_MAGIC, 4);
    put_u32(&o, 3);
    put_u64(&o, w->n_t);
    put_u64(&o, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *k = &w->kvs[i];
        put_str(&o, k->key, strlen(k->key));
        put_u32(&o, k->type);
        if (k->type == GGUF_STRING) {
            put_str(&o, k->str, k->str_len);
        } else if (k->type == GGUF_ARRAY) {
            put_u32(&o, k->arr_type);
            put_u64(&o, k->arr_n);
            if (k->arr_type == GGUF_STRING)
                for (uint64_t j = 0; j < k->arr_n; j++) put_str(&o, k->arr_strs[j], k->arr_lens[j]);
            else
                put_elems(&o, k->arr, k->arr_n, TYPES[k->arr_type].size);
        } else {
            put(&o, k->scalar, TYPES[k->type].size);
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->tensors[i];
        put_str(&o, t->name, strlen(t->name));
        put_u32(&o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&o, (uint64_t)t->ne[d]);
        put_u32(&o, t->type);
        put_u64(&o, off);
        off += (t->size + align - 1) / align * align;
    }
    put_zeros(&o, (align - o.pos % align) % align);
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->data)
            put(&o, t->data, t->size);
        else
            put_zeros(&o, t->size); /* NULL data: a zero tensor */
        if (i + 1 < w->n_t) put_zeros(&o, (align - t->size % align) % align);
    }
    int e = 0;
    if (o.bad) e = errno ? errno : EIO;
    if (fflush(fp) != 0 && !e) e = errno;
    if (fsync(fileno(fp)) != 0 && !e) e = errno;
    if (fclose(fp) != 0 && !e) e = errno;
    if (e) {
        unlink(tmp);
        return ai_error_set(err, "%s: write failed: %s", tmp, strerror(e));
    }
    if (rename(tmp, target) != 0) {
        e = errno;
        unlink(tmp);
        return ai_error_set(err, "%s: cannot rename to %s: %s", tmp, target, strerror(e));
    }
    return 0;
}
