/* gguf_bytes.c — the harness's own count of the bytes a decode step reads,
 * from the GGUF file itself. The roofline check divides a bandwidth by this
 * figure, so it must not come from the pipeline it judges: this reader
 * shares no code with engine/ (not even the type table) and trusts nothing
 * in the file. Every read is bounds-checked against the file's size; a
 * truncated, garbage or hostile file gives a one-line error, never a crash,
 * a huge allocation or a long loop.
 *
 * What it counts: every `blk.N.*` tensor (the layers), `output_norm.weight`,
 * and the output head: `output.weight`, or `token_embd.weight` when the head
 * is tied to the embeddings (no `output.weight`). The embedding lookup (one
 * row) and the KV cache are not counted. Tensor bytes = elements / block
 * size x bytes per block of its ggml type.
 *
 * Layout (GGUF v2 and v3, little-endian): "GGUF", u32 version, u64 tensor
 * count, u64 metadata count; metadata: string key, u32 type, value (strings
 * are u64 length + bytes; arrays are u32 element type + u64 count + the
 * elements, possibly arrays again); then per tensor: string name, u32
 * n_dims, n_dims x u64 dims, u32 type, u64 offset; then the data section at
 * the next multiple of general.alignment (default 32). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* ggml type ids: elements per block and bytes per block (0: no such id).
 * Written out from ggml's table, independently of engine/dtype.c. */
static const struct {
    const char *name;
    uint32_t block, size;
} TYPES[] = {
    [0] = {"f32", 1, 4},        [1] = {"f16", 1, 2},        [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},     [6] = {"q5_0", 32, 22},     [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},     [9] = {"q8_1", 32, 36},     [10] = {"q2_K", 256, 84},
    [11] = {"q3_K", 256, 110},  [12] = {"q4_K", 256, 144},  [13] = {"q5_K", 256, 176},
    [14] = {"q6_K", 256, 210},  [15] = {"q8_K", 256, 292},  [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74}, [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},  [21] = {"iq3_s", 256, 110}, [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136}, [24] = {"i8", 1, 1},       [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},       [27] = {"i64", 1, 8},       [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},  [30] = {"bf16", 1, 2},      [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},  [39] = {"mxfp4", 32, 17},
};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

/* metadata value types */
enum { V_U8, V_I8, V_U16, V_I16, V_U32, V_I32, V_F32, V_BOOL, V_STRING, V_ARRAY, V_U64, V_I64, V_F64, V_N };
static const uint8_t VSIZE[V_N] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define MAX_DEPTH 8         /* arrays of arrays of ... */
#define MAX_NAME 1024       /* tensor names (ggml's limit is 64) */
#define MAX_DIMS 4

typedef struct rd {
    int fd;
    const char *path;
    uint64_t size, pos;
    uint8_t buf[1 << 16];
    uint64_t buf_off; /* file offset of buf[0] */
    size_t buf_len;
    ai_error *err;
} rd;

static int past_end(rd *r, uint64_t n, const char *what) {
    return ai_error_set(r->err,
                        "%s: %s (%" PRIu64 " bytes at offset %" PRIu64
                        ") past end of file (%" PRIu64 " bytes): truncated or not a GGUF",
                        r->path, what, n, r->pos, r->size);
}

static int rd_bytes(rd *r, void *dst, uint64_t n, const char *what) {
    if (n > r->size - r->pos) return past_end(r, n, what);
    uint8_t *d = dst;
    while (n) {
        if (r->pos < r->buf_off || r->pos >= r->buf_off + r->buf_len) {
            ssize_t got = pread(r->fd, r->buf, sizeof r->buf, (off_t)r->pos);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                return ai_error_set(r->err, "%s: read failed at offset %" PRIu64 ": %s", r->path,
                                    r->pos, got < 0 ? strerror(errno) : "file shrank");
            r->buf_off = r->pos;
            r->buf_len = (size_t)got;
        }
        uint64_t at = r->pos - r->buf_off, k = r->buf_len - at;
        if (k > n) k = n;
        memcpy(d, r->buf + at, (size_t)k);
        d += k;
        r->pos += k;
        n -= k;
    }
    return 0;
}

static int rd_skip(rd *r, uint64_t n, const char *what) {
    if (n > r->size - r->pos) return past_end(r, n, what);
    r->pos += n;
    return 0;
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    uint8_t b[4];
    if (rd_bytes(r, b, 4, what)) return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    uint8_t b[8];
    if (rd_bytes(r, b, 8, what)) return -1;
    *v = 0;
    for (int i = 7; i >= 0; i--) *v = *v << 8 | b[i];
    return 0;
}

/* A string: its length, then its first cap-1 bytes into out (NUL-terminated;
 * out may be NULL to skip it). *full_len gets the length. */
static int rd_str(rd *r, char *out, size_t cap, uint64_t *full_len, const char *what) {
    uint64_t len;
    if (rd_u64(r, &len, what)) return -1;
    if (len > r->size - r->pos) return past_end(r, len, what);
    if (full_len) *full_len = len;
    if (!out) return rd_skip(r, len, what);
    uint64_t keep = len < cap - 1 ? len : cap - 1;
    if (rd_bytes(r, out, keep, what)) return -1;
    out[keep] = 0;
    return rd_skip(r, len - keep, what);
}

/* Skips one metadata value of type t. */
static int skip_value(rd *r, uint32_t t, int depth, const char *key) {
    if (t >= V_N)
        return ai_error_set(r->err, "%s: metadata '%s' has unknown value type %" PRIu32
                            " at offset %" PRIu64, r->path, key, t, r->pos - 4);
    if (t == V_STRING) return rd_str(r, NULL, 0, NULL, "metadata string");
    if (t != V_ARRAY) return rd_skip(r, VSIZE[t], "metadata value");
    if (depth >= MAX_DEPTH)
        return ai_error_set(r->err, "%s: metadata '%s': arrays nested deeper than %d at offset %" PRIu64,
                            r->path, key, MAX_DEPTH, r->pos);
    uint32_t et;
    uint64_t n;
    if (rd_u32(r, &et, "array element type") || rd_u64(r, &n, "array length")) return -1;
    if (et >= V_N)
        return ai_error_set(r->err, "%s: metadata '%s' is an array of unknown type %" PRIu32
                            " at offset %" PRIu64, r->path, key, et, r->pos - 12);
    uint64_t left = r->size - r->pos;
    if (et != V_STRING && et != V_ARRAY) {
        if (n > left / VSIZE[et])
            return ai_error_set(r->err, "%s: metadata '%s': array of %" PRIu64 " %u-byte elements at offset %"
                                PRIu64 " past end of file (%" PRIu64 " bytes left): truncated or corrupt",
                                r->path, key, n, (unsigned)VSIZE[et], r->pos, left);
        return rd_skip(r, n * VSIZE[et], "array data");
    }
    /* every string takes >= 8 bytes, every array >= 12: bounds the loop */
    if (n > left / (et == V_STRING ? 8 : 12))
        return ai_error_set(r->err, "%s: metadata '%s': array of %" PRIu64 " elements at offset %" PRIu64
                            " cannot fit in the %" PRIu64 " bytes left: truncated or corrupt",
                            r->path, key, n, r->pos - 12, left);
    for (uint64_t i = 0; i < n; i++)
        if (skip_value(r, et, depth + 1, key)) return -1;
    return 0;
}

/* "blk.<digits>." */
static int is_layer_tensor(const char *name) {
    if (strncmp(name, "blk.", 4)) return 0;
    const char *p = name + 4;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '.';
}

int ah_gguf_bytes_per_token(const char *path, ah_gguf_bytes *out, ai_error *err) {
    memset(out, 0, sizeof *out);
    rd *r = calloc(1, sizeof *r);
    if (!r) return ai_error_set(err, "%s: out of memory", path);
    r->path = path;
    r->err = err;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (r->fd < 0) {
        ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(r->fd, &st)) {
        ai_error_set(err, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ai_error_set(err, "%s: not a regular file", path);
        goto out;
    }
    r->size = (uint64_t)st.st_size;
    char magic[5] = {0};
    uint32_t version;
    uint64_t n_tensors, n_kv;
    if (rd_bytes(r, magic, 4, "GGUF magic")) goto out;
    if (memcmp(magic, "GGUF", 4)) {
        for (int i = 0; i < 4; i++)
            if (magic[i] < 0x20 || magic[i] > 0x7e) magic[i] = '?';
        ai_error_set(err, "%s: bad magic '%s' at offset 0 (expected 'GGUF')", path, magic);
        goto out;
    }
    if (rd_u32(r, &version, "GGUF version")) goto out;
    if (version != 2 && version != 3) {
        ai_error_set(err, "%s: GGUF version %" PRIu32 " at offset 4 (expected 2 or 3)", path, version);
        goto out;
    }
    if (rd_u64(r, &n_tensors, "tensor count") || rd_u64(r, &n_kv, "metadata count")) goto out;
    /* a metadata entry takes >= 13 bytes, a tensor info >= 32 */
    if (n_kv > (r->size - r->pos) / 13 || n_tensors > (r->size - r->pos) / 32) {
        ai_error_set(err, "%s: %" PRIu64 " metadata entries and %" PRIu64
                     " tensors cannot fit in %" PRIu64 " bytes: truncated or corrupt",
                     path, n_kv, n_tensors, r->size);
        goto out;
    }
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        char key[256];
        uint32_t t;
        if (rd_str(r, key, sizeof key, NULL, "metadata key") || rd_u32(r, &t, "metadata type")) goto out;
        if (!strcmp(key, "general.alignment") && t == V_U32) {
            uint32_t a;
            if (rd_u32(r, &a, "general.alignment")) goto out;
            if (a == 0 || (a & (a - 1))) {
                ai_error_set(err, "%s: general.alignment %" PRIu32 " is not a power of two", path, a);
                goto out;
            }
            alignment = a;
        } else if (skip_value(r, t, 0, key)) {
            goto out;
        }
    }
    uint64_t total = 0, layers = 0, norm = 0, head = 0, embd = 0;
    int has_norm = 0, has_head = 0, has_embd = 0;
    uint64_t n_layer_tensors = 0, max_end = 0;
    char name[MAX_NAME + 1];
    for (uint64_t i = 0; i < n_tensors; i++) {
        uint64_t name_len, ne = 1, dims[MAX_DIMS];
        uint32_t n_dims, type;
        uint64_t at = r->pos;
        if (rd_str(r, name, sizeof name, &name_len, "tensor name")) goto out;
        if (name_len > MAX_NAME) {
            ai_error_set(err, "%s: tensor %" PRIu64 " at offset %" PRIu64 ": name of %" PRIu64
                         " bytes (at most %d)", path, i, at, name_len, MAX_NAME);
            goto out;
        }
        if (rd_u32(r, &n_dims, "tensor dimension count")) goto out;
        if (n_dims < 1 || n_dims > MAX_DIMS) {
            ai_error_set(err, "%s: tensor '%s': %" PRIu32 " dimensions (expected 1..%d)", path, name,
                         n_dims, MAX_DIMS);
            goto out;
        }
        for (uint32_t d = 0; d < n_dims; d++) {
            if (rd_u64(r, &dims[d], "tensor dimension")) goto out;
            if (dims[d] == 0 || dims[d] > INT64_MAX || __builtin_mul_overflow(ne, dims[d], &ne) ||
                ne > INT64_MAX) {
                ai_error_set(err, "%s: tensor '%s': dimension %" PRIu32 " = %" PRIu64
                             " is zero or overflows the element count", path, name, d, dims[d]);
                goto out;
            }
        }
        uint64_t offset;
        if (rd_u32(r, &type, "tensor type") || rd_u64(r, &offset, "tensor data offset")) goto out;
        if (type >= N_TYPES || !TYPES[type].name) {
            ai_error_set(err, "%s: tensor '%s' has unknown ggml type %" PRIu32, path, name, type);
            goto out;
        }
        if (dims[0] % TYPES[type].block) {
            ai_error_set(err, "%s: tensor '%s': row of %" PRIu64 " elements is not a whole number of "
                         "%s blocks (%" PRIu32 ")", path, name, dims[0], TYPES[type].name,
                         TYPES[type].block);
            goto out;
        }
        /* ne <= 2^63 and size <= 292 / block: bytes fit in 64 bits */
        uint64_t bytes = ne / TYPES[type].block * TYPES[type].size;
        if (offset > UINT64_MAX - bytes) {
            ai_error_set(err, "%s: tensor '%s': data offset %" PRIu64 " overflows", path, name, offset);
            goto out;
        }
        if (offset + bytes > max_end) max_end = offset + bytes;
        total += bytes;
        if (is_layer_tensor(name)) {
            layers += bytes;
            n_layer_tensors++;
        } else if (!strcmp(name, "output_norm.weight")) {
            norm = bytes;
            has_norm = 1;
        } else if (!strcmp(name, "output.weight")) {
            head = bytes;
            has_head = 1;
        } else if (!strcmp(name, "token_embd.weight")) {
            embd = bytes;
            has_embd = 1;
        }
    }
    uint64_t data_start = r->pos + (alignment - r->pos % alignment) % alignment;
    if (data_start > r->size || max_end > r->size - data_start) {
        ai_error_set(err, "%s: tensor data ends at offset %" PRIu64 " past end of file (%" PRIu64
                     " bytes): truncated", path, data_start + max_end, r->size);
        goto out;
    }
    if (!n_layer_tensors) {
        ai_error_set(err, "%s: no blk.N.* tensors: not a decoder model the harness can count", path);
        goto out;
    }
    if (!has_head && !has_embd) {
        ai_error_set(err, "%s: no output head (neither output.weight nor token_embd.weight)", path);
        goto out;
    }
    out->version = version;
    out->n_tensors = n_tensors;
    out->n_layer_tensors = n_layer_tensors;
    out->tensor_bytes = total;
    out->tied = !has_head;
    out->has_output_norm = has_norm;
    out->per_token = layers + norm + (has_head ? head : embd);
    rc = 0;
out:
    if (r->fd >= 0) close(r->fd);
    free(r);
    return rc;
}
