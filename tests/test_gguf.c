/* test_gguf.c — the GGUF reader and writer: hand-built valid files of every
 * value type, writer round trips, and one bad file per check the reader
 * makes, each asserting the error text. Run under ASan too: hostile counts
 * must fail before any allocation. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"

/* ---- a tiny GGUF byte builder ------------------------------------------ */

static void b_header(tu_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    tu_put(b, "GGUF", 4);
    tu_u32(b, version);
    tu_u64(b, n_tensors);
    tu_u64(b, n_kv);
}
static void b_key(tu_buf *b, const char *key, uint32_t type) { tu_str(b, key); tu_u32(b, type); }
static void b_tinfo(tu_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                    uint32_t type, uint64_t offset) {
    tu_str(b, name);
    tu_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) tu_u64(b, ne[i]);
    tu_u32(b, type);
    tu_u64(b, offset);
}

static gguf_file *open_buf(const tu_buf *b, ai_error *err) {
    return gguf_open_memory(b->p, b->n, "mem.gguf", err);
}

/* Opening must fail with a message that starts with the name and contains
 * `want` (and, when given, "at offset N"). */
static void expect_fail(const tu_buf *b, const char *want) {
    ai_error err = {{0}};
    gguf_file *f = open_buf(b, &err);
    if (f) {
        gguf_close(f);
        fail_msg("expected failure '%s', file opened", want);
    }
    if (strncmp(err.msg, "mem.gguf: ", 10) || !strstr(err.msg, want))
        fail_msg("error '%s' lacks '%s'", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
}

/* ---- a valid file with every value type --------------------------------- */

#define N_SCALAR_KV 12
/* Builds a file with every scalar type, numeric/bool/string arrays and two
 * tensors (f32 4x2 and q4_0 32x2), alignment `align` (0: no key, 32). */
static void build_valid(tu_buf *b, uint32_t version, uint32_t align) {
    uint64_t n_kv = N_SCALAR_KV + 4 + (align ? 1 : 0);
    b_header(b, version, 2, n_kv);
    b_key(b, "t.u8", GGUF_UINT8); tu_u8(b, 200);
    b_key(b, "t.i8", GGUF_INT8); tu_u8(b, (uint8_t)-5);
    b_key(b, "t.u16", GGUF_UINT16); tu_u16(b, 60000);
    b_key(b, "t.i16", GGUF_INT16); tu_u16(b, (uint16_t)-300);
    b_key(b, "t.u32", GGUF_UINT32); tu_u32(b, 4000000000u);
    b_key(b, "t.i32", GGUF_INT32); tu_u32(b, (uint32_t)-2000000000);
    b_key(b, "t.f32", GGUF_FLOAT32); tu_f32(b, 1.5f);
    b_key(b, "t.bool", GGUF_BOOL); tu_u8(b, 1);
    b_key(b, "t.str", GGUF_STRING); tu_str(b, "hello");
    b_key(b, "t.u64", GGUF_UINT64); tu_u64(b, 1ull << 40);
    b_key(b, "t.i64", GGUF_INT64); tu_u64(b, (uint64_t)-(1ll << 40));
    b_key(b, "t.f64", GGUF_FLOAT64); tu_f64(b, 2.25);
    if (align) { b_key(b, "general.alignment", GGUF_UINT32); tu_u32(b, align); }
    /* an odd-length string before the i32 array leaves it misaligned in
     * the map: the reader must hand out an aligned copy */
    b_key(b, "t.arr_i32", GGUF_ARRAY); tu_u32(b, GGUF_INT32); tu_u64(b, 3);
    tu_u32(b, 1); tu_u32(b, (uint32_t)-2); tu_u32(b, 3);
    b_key(b, "t.arr_str", GGUF_ARRAY); tu_u32(b, GGUF_STRING); tu_u64(b, 3);
    tu_str(b, "a"); tu_str(b, "bc"); tu_str(b, "");
    b_key(b, "t.arr_f32", GGUF_ARRAY); tu_u32(b, GGUF_FLOAT32); tu_u64(b, 2);
    tu_f32(b, 0.5f); tu_f32(b, -1.0f);
    b_key(b, "t.arr_bool", GGUF_ARRAY); tu_u32(b, GGUF_BOOL); tu_u64(b, 2);
    tu_u8(b, 0); tu_u8(b, 1);
    uint32_t a = align ? align : 32;
    uint64_t ne1[2] = {4, 2}, ne2[2] = {32, 2};
    b_tinfo(b, "t.f32_tensor", 2, ne1, AI_F32, 0);
    b_tinfo(b, "t.q4_tensor", 2, ne2, AI_Q4_0, ((32 + a - 1) / a) * a);
    tu_pad(b, a);
    for (int i = 0; i < 8; i++) tu_f32(b, (float)i);
    tu_pad(b, a);
    for (int i = 0; i < 36; i++) tu_u8(b, (uint8_t)i);
}

static void check_valid(const gguf_file *f, uint32_t version, uint32_t align) {
    ai_error err = {{0}};
    assert_int_equal(f->version, version);
    assert_int_equal(f->alignment, align ? align : 32);
    assert_int_equal(f->n_tensors, 2);
    uint32_t u32;
    int64_t i64;
    float f32;
    bool bl;
    char s[16];
    assert_int_equal(gguf_get_u32(f, "t.u8", &u32, &err), 0); assert_int_equal(u32, 200);
    assert_int_equal(gguf_get_i64(f, "t.i8", &i64, &err), 0); assert_int_equal(i64, -5);
    assert_int_equal(gguf_get_u32(f, "t.u16", &u32, &err), 0); assert_int_equal(u32, 60000);
    assert_int_equal(gguf_get_i64(f, "t.i16", &i64, &err), 0); assert_int_equal(i64, -300);
    assert_int_equal(gguf_get_u32(f, "t.u32", &u32, &err), 0); assert_int_equal(u32, 4000000000u);
    assert_int_equal(gguf_get_i64(f, "t.i32", &i64, &err), 0); assert_int_equal(i64, -2000000000);
    assert_int_equal(gguf_get_f32(f, "t.f32", &f32, &err), 0); assert_true(f32 == 1.5f);
    assert_int_equal(gguf_get_bool(f, "t.bool", &bl, &err), 0); assert_true(bl);
    assert_int_equal(gguf_get_str(f, "t.str", s, sizeof s, &err), 0); assert_string_equal(s, "hello");
    assert_int_equal(gguf_get_i64(f, "t.u64", &i64, &err), 0); assert_int_equal(i64, 1ll << 40);
    assert_int_equal(gguf_get_i64(f, "t.i64", &i64, &err), 0); assert_int_equal(i64, -(1ll << 40));
    assert_int_equal(gguf_get_f32(f, "t.f64", &f32, &err), 0); assert_true(f32 == 2.25f);
    assert_int_equal(gguf_find(f, "t.u8")->type, GGUF_UINT8);
    assert_int_equal(gguf_find(f, "t.f64")->type, GGUF_FLOAT64);

    const void *data;
    uint64_t n;
    assert_int_equal(gguf_get_arr(f, "t.arr_i32", GGUF_INT32, &data, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal((uintptr_t)data % 4, 0);
    const int32_t *ai = data;
    assert_int_equal(ai[0], 1); assert_int_equal(ai[1], -2); assert_int_equal(ai[2], 3);
    assert_int_equal(gguf_get_arr(f, "t.arr_str", GGUF_STRING, &data, &n, &err), 0);
    assert_int_equal(n, 3);
    const gguf_str *ss = data;
    assert_int_equal(ss[0].len, 1); assert_memory_equal(ss[0].ptr, "a", 1);
    assert_int_equal(ss[1].len, 2); assert_memory_equal(ss[1].ptr, "bc", 2);
    assert_int_equal(ss[2].len, 0);
    assert_int_equal(gguf_get_arr(f, "t.arr_f32", GGUF_FLOAT32, &data, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(((const float *)data)[1] == -1.0f);
    assert_int_equal(gguf_get_arr(f, "t.arr_bool", GGUF_BOOL, &data, &n, &err), 0);
    assert_true(((const bool *)data)[1]);

    const gguf_tensor *t = gguf_find_tensor(f, "t.f32_tensor");
    assert_non_null(t);
    assert_int_equal(t->type, AI_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 4); assert_int_equal(t->ne[1], 2);
    assert_int_equal(t->ne[2], 1); assert_int_equal(t->ne[3], 1);
    assert_int_equal(t->size, 32);
    float fl[8];
    memcpy(fl, t->data, 32);
    assert_true(fl[7] == 7.0f);
    assert_int_equal(((const uint8_t *)t->data - f->map) % f->alignment, 0);
    t = gguf_find_tensor(f, "t.q4_tensor");
    assert_non_null(t);
    assert_int_equal(t->size, 36);
    assert_int_equal(((const uint8_t *)t->data)[35], 35);
    assert_null(gguf_find_tensor(f, "nope"));
    assert_null(gguf_find(f, "nope"));
}

static void test_valid_v3(void **state) {
    tu_buf b = {0};
    build_valid(&b, 3, 0);
    ai_error err = {{0}};
    gguf_file *f = open_buf(&b, &err);
    if (!f) fail_msg("%s", err.msg);
    check_valid(f, 3, 0);
    gguf_close(f);
    free(b.p);
}

static void test_valid_v2(void **state) {
    tu_buf b = {0};
    build_valid(&b, 2, 0);
    ai_error err = {{0}};
    gguf_file *f = open_buf(&b, &err);
    if (!f) fail_msg("%s", err.msg);
    check_valid(f, 2, 0);
    gguf_close(f);
    free(b.p);
}

static void test_custom_alignment(void **state) {
    for (uint32_t a = 1; a <= 256; a *= 2) {
        tu_buf b = {0};
        build_valid(&b, 3, a);
        ai_error err = {{0}};
        gguf_file *f = open_buf(&b, &err);
        if (!f) fail_msg("align %u: %s", a, err.msg);
        check_valid(f, 3, a);
        assert_int_equal(f->data_offset % a, 0);
        gguf_close(f);
        free(b.p);
    }
}

/* Every proper prefix of a valid file is an error, never a crash. */
static void test_every_truncation(void **state) {
    tu_buf b = {0};
    build_valid(&b, 3, 0);
    for (size_t n = 0; n < b.n; n++) {
        ai_error err = {{0}};
        gguf_file *f = gguf_open_memory(b.p, n, "cut.gguf", &err);
        if (f) fail_msg("prefix of %zu bytes opened", n);
        assert_true(strncmp(err.msg, "cut.gguf: ", 10) == 0);
        assert_non_null(strstr(err.msg, "offset"));
    }
    free(b.p);
}

static void test_file_on_disk(void **state) {
    tu_buf b = {0};
    build_valid(&b, 3, 0);
    char path[256];
    tu_write_temp(b.p, b.n, ".gguf", path, sizeof path);
    ai_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    check_valid(f, 3, 0);
    assert_string_equal(f->path, path);
    gguf_close(f);
    unlink(path);
    free(b.p);

    assert_null(gguf_open("/nonexistent/x.gguf", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf: cannot open"));
    assert_null(gguf_open("/tmp", &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
    tu_write_temp("", 0, ".gguf", path, sizeof path);
    assert_null(gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "file is empty"));
    unlink(path);
}

/* ---- writer -------------------------------------------------------------- */

static void test_writer_roundtrip(void **state) {
    tu_buf b = {0};
    build_valid(&b, 2, 0);
    ai_error err = {{0}};
    gguf_file *src = open_buf(&b, &err);
    assert_non_null(src);
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < src->n_kv; i++) gguf_writer_copy_kv(w, &src->kvs[i]);
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const gguf_tensor *t = &src->tensors[i];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        gguf_writer_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->size);
    }
    char dir[256], path[300];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/rt.gguf", dir);
    assert_int_equal(gguf_writer_write(w, path, &err), 0);
    gguf_writer_free(w);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed away */

    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    check_valid(f, 3, 0); /* the writer writes v3 */
    assert_int_equal(f->n_kv, src->n_kv);
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *a = &src->kvs[i], *c = &f->kvs[i];
        assert_int_equal(a->key.len, c->key.len);
        assert_memory_equal(a->key.ptr, c->key.ptr, a->key.len);
        assert_int_equal(a->type, c->type);
        if (a->type == GGUF_FLOAT32 || a->type == GGUF_FLOAT64) assert_true(a->v.f64 == c->v.f64);
        else if (a->type == GGUF_BOOL) assert_int_equal(a->v.b, c->v.b);
        else if (a->type != GGUF_STRING && a->type != GGUF_ARRAY) assert_int_equal(a->v.u64, c->v.u64);
        if (a->type == GGUF_ARRAY) {
            assert_int_equal(a->arr_type, c->arr_type);
            assert_int_equal(a->arr_n, c->arr_n);
        }
    }
    gguf_close(f);
    unlink(path);
    rmdir(dir);
    gguf_close(src);
    free(b.p);
}

static void test_writer_direct(void **state) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_str(w, "general.architecture", "llama");
    gguf_writer_u32(w, "llama.block_count", 7);
    gguf_writer_i32(w, "x.neg", -3);
    gguf_writer_f32(w, "x.f", 0.25f);
    gguf_writer_bool(w, "x.b", true);
    gguf_writer_u32(w, "llama.block_count", 30); /* replaces */
    const char *strs[] = {"<s>", "</s>", "hé"};
    gguf_writer_arr_str(w, "tokenizer.ggml.tokens", strs, 3);
    float scores[3] = {0, -1, -2};
    gguf_writer_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, 3);
    float a[33 * 3];
    for (int i = 0; i < 99; i++) a[i] = (float)i;
    int64_t ne_a[2] = {33, 3}, ne_b[1] = {32};
    gguf_writer_tensor(w, "a", AI_F32, 2, ne_a, a, sizeof a);
    gguf_writer_tensor(w, "zeros", AI_Q8_0, 1, ne_b, NULL, 34);
    char dir[256], path[300];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.gguf", dir);
    ai_error err = {{0}};
    assert_int_equal(gguf_writer_write(w, path, &err), 0);
    gguf_writer_free(w);

    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, 7);
    uint32_t u;
    assert_int_equal(gguf_get_u32(f, "llama.block_count", &u, &err), 0);
    assert_int_equal(u, 30);
    int64_t i64;
    assert_int_equal(gguf_get_i64(f, "x.neg", &i64, &err), 0);
    assert_int_equal(i64, -3);
    const void *data;
    uint64_t n;
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &data, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(((const gguf_str *)data)[2].ptr, "hé", strlen("hé"));
    const gguf_tensor *t = gguf_find_tensor(f, "a");
    assert_non_null(t);
    assert_memory_equal(t->data, a, sizeof a);
    t = gguf_find_tensor(f, "zeros");
    assert_non_null(t);
    assert_int_equal(t->offset % 32, 0);
    assert_int_equal(((const uint8_t *)t->data)[33], 0);
    gguf_close(f);
    unlink(path);

    /* A bad tensor is reported at write time and leaves no file behind. */
    w = gguf_writer_new();
    int64_t ne_bad[1] = {33};
    gguf_writer_tensor(w, "bad", AI_Q4_0, 1, ne_bad, a, 18);
    assert_int_equal(gguf_writer_write(w, path, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'bad'"));
    assert_int_equal(access(path, F_OK), -1);
    gguf_writer_free(w);
    /* An unwritable destination fails cleanly. */
    w = gguf_writer_new();
    assert_int_equal(gguf_writer_write(w, "/nonexistent/dir/x.gguf", &err), -1);
    assert_non_null(strstr(err.msg, "cannot create"));
    gguf_writer_free(w);
    rmdir(dir);
}

/* ---- bad files ------------------------------------------------------------ */

static void test_bad_header(void **state) {
    tu_buf b = {0};
    tu_put(&b, "GG", 2);
    expect_fail(&b, "file too short for a GGUF header at offset 0");
    b.n = 0;
    tu_put(&b, "GGUF", 4); tu_u32(&b, 3); tu_u16(&b, 0);
    expect_fail(&b, "unexpected end of file reading tensor count at offset 8");
    b.n = 0;
    tu_put(&b, "GGML", 4); tu_u32(&b, 3); tu_u64(&b, 0); tu_u64(&b, 0);
    expect_fail(&b, "bad magic 'GGML' at offset 0 (expected 'GGUF'");
    b.n = 0;
    tu_put(&b, "\x7f" "ELF", 4); tu_u32(&b, 3);
    expect_fail(&b, "bad magic '\\x7fELF'");
    b.n = 0;
    b_header(&b, 1, 0, 0);
    expect_fail(&b, "unsupported version 1 at offset 4 (expected 2 or 3)");
    b.n = 0;
    b_header(&b, 4, 0, 0);
    expect_fail(&b, "unsupported version 4 at offset 4");
    b.n = 0;
    b_header(&b, 0x03000000u, 0, 0);
    expect_fail(&b, "big-endian");
    free(b.p);
}

static void test_absurd_counts(void **state) {
    tu_buf b = {0};
    b_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, "metadata count 18446744073709551615 too large at offset 16");
    b.n = 0;
    b_header(&b, 3, 0, 1000000);
    b_key(&b, "a", GGUF_UINT8); tu_u8(&b, 1);
    expect_fail(&b, "metadata count 1000000 too large");
    b.n = 0;
    b_header(&b, 3, UINT64_MAX / 2, 0);
    expect_fail(&b, "tensor count 9223372036854775807 too large at offset 8");
    b.n = 0;
    /* counts that fit the file, but not after the metadata */
    b_header(&b, 3, 2, 1);
    b_key(&b, "k", GGUF_STRING); tu_str(&b, "0123456789012345678901234567890123456789012345678901234567890123456789"
                          "012345678901234567890123456789");
    expect_fail(&b, "tensor count 2 too large at offset 8 (after the metadata");
    b.n = 0;
    /* a string array whose count the file can't hold */
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_ARRAY); tu_u32(&b, GGUF_STRING); tu_u64(&b, 1ull << 60);
    tu_u64(&b, 0);
    expect_fail(&b, "array count 1152921504606846976 of type string for key 'k' past end of file at offset");
    free(b.p);
}

static void test_bad_strings_and_arrays(void **state) {
    tu_buf b = {0};
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_STRING); tu_u64(&b, 99999999); tu_put(&b, "abc", 3);
    expect_fail(&b, "string length 99999999 past end of file at offset 37 (file is 48 bytes)");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    tu_u64(&b, UINT64_MAX); /* key length */
    tu_u64(&b, 0);
    expect_fail(&b, "key length 18446744073709551615 past end of file at offset 24");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_ARRAY); tu_u32(&b, GGUF_UINT32); tu_u64(&b, 1ull << 62); tu_u32(&b, 0);
    expect_fail(&b, "array count 4611686018427387904 of type u32 for key 'k' past end of file at offset 41");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", 13); tu_u32(&b, 0);
    expect_fail(&b, "unknown value type 13 for key 'k' at offset 33 (expected 0..12)");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_ARRAY); tu_u32(&b, 77); tu_u64(&b, 0);
    expect_fail(&b, "unknown array element type 77 for key 'k'");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_ARRAY); tu_u32(&b, GGUF_ARRAY); tu_u64(&b, 1);
    tu_u32(&b, GGUF_UINT8); tu_u64(&b, 1); tu_u8(&b, 1);
    expect_fail(&b, "nested array for key 'k' at offset 37 (arrays of arrays are not supported)");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_BOOL); tu_u8(&b, 2);
    expect_fail(&b, "bool value 2 for key 'k' at offset 37 (expected 0 or 1)");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_ARRAY); tu_u32(&b, GGUF_BOOL); tu_u64(&b, 2); tu_u8(&b, 0); tu_u8(&b, 9);
    expect_fail(&b, "bool value 9 in array 'k'");
    b.n = 0;
    b_header(&b, 3, 0, 2);
    b_key(&b, "dup", GGUF_UINT8); tu_u8(&b, 1);
    b_key(&b, "dup", GGUF_UINT8); tu_u8(&b, 2);
    expect_fail(&b, "duplicate key 'dup' at offset 40 (keys must be unique)");
    b.n = 0;
    /* unprintable key bytes are escaped in messages */
    b_header(&b, 3, 0, 1);
    b_key(&b, "a\nb", 13);
    expect_fail(&b, "key 'a\\x0ab'");
    free(b.p);
}

static void test_bad_alignment(void **state) {
    tu_buf b = {0};
    uint32_t bad[] = {0, 3, 48};
    for (int i = 0; i < 3; i++) {
        b.n = 0;
        b_header(&b, 3, 0, 1);
        b_key(&b, "general.alignment", GGUF_UINT32); tu_u32(&b, bad[i]);
        char want[96];
        snprintf(want, sizeof want, "general.alignment %u at offset", bad[i]);
        expect_fail(&b, want);
        expect_fail(&b, "(expected a nonzero power of two)");
    }
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_STRING); tu_str(&b, "32");
    expect_fail(&b, "general.alignment has type string");
    b.n = 0;
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_INT32); tu_u32(&b, (uint32_t)-32);
    expect_fail(&b, "general.alignment -32");
    free(b.p);
}

/* One tensor info (plus data of `data_bytes`) after a header with no kvs. */
static void one_tensor(tu_buf *b, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                       uint64_t offset, size_t data_bytes) {
    b->n = 0;
    b_header(b, 3, 1, 0);
    b_tinfo(b, "w", n_dims, ne, type, offset);
    tu_pad(b, 32);
    for (size_t i = 0; i < data_bytes; i++) tu_u8(b, 0);
}

static void test_bad_tensors(void **state) {
    tu_buf b = {0};
    uint64_t ne[5] = {32, 2, 1, 1, 1};
    one_tensor(&b, 2, ne, AI_F32, 0, 256);
    {
        ai_error err = {{0}};
        gguf_file *f = open_buf(&b, &err);
        if (!f) fail_msg("%s", err.msg);
        gguf_close(f);
    }
    one_tensor(&b, 2, ne, 99, 0, 256);
    expect_fail(&b, "unknown tensor type id 99 for tensor 'w' at offset 53");
    one_tensor(&b, 0, ne, AI_F32, 0, 256);
    expect_fail(&b, "tensor 'w' has 0 dimensions at offset 33 (expected 1 to 4)");
    one_tensor(&b, 5, ne, AI_F32, 0, 256);
    expect_fail(&b, "tensor 'w' has 5 dimensions");
    uint64_t big[4] = {1ull << 32, 1ull << 32, 1, 1};
    one_tensor(&b, 2, big, AI_F32, 0, 0);
    expect_fail(&b, "tensor 'w' element count overflows at dimension 1 at offset 45");
    uint64_t zero[2] = {32, 0};
    one_tensor(&b, 2, zero, AI_F32, 0, 0);
    expect_fail(&b, "tensor 'w' dimension 1 is 0 at offset 45");
    uint64_t neg[1] = {1ull << 63};
    one_tensor(&b, 1, neg, AI_F32, 0, 0);
    expect_fail(&b, "dimension 0 is 9223372036854775808");
    /* fits 63 bits as elements but not as bytes */
    uint64_t huge[2] = {1ull << 31, 1ull << 31};
    one_tensor(&b, 2, huge, AI_F32, 0, 0);
    expect_fail(&b, "tensor 'w' byte size overflows at offset 33");
    uint64_t large[2] = {1ull << 31, 1ull << 30}; /* 2^63 bytes: fits, but not in the file */
    one_tensor(&b, 2, large, AI_F32, 0, 0);
    expect_fail(&b, "tensor 'w' data (9223372036854775808 bytes at data offset 0) past end of file");
    uint64_t odd[2] = {33, 2};
    one_tensor(&b, 2, odd, AI_Q4_0, 0, 256);
    expect_fail(&b, "tensor 'w' row length 33 is not a multiple of the q4_0 block at offset 37 (expected a multiple of 32)");
    one_tensor(&b, 2, ne, AI_F32, 0, 255);
    expect_fail(&b, "tensor 'w' data (256 bytes at data offset 0) past end of file at offset 96 (file is 351 bytes)");
    one_tensor(&b, 2, ne, AI_F32, UINT64_MAX - 31, 256);
    expect_fail(&b, "past end of file");
    one_tensor(&b, 2, ne, AI_F32, 8, 300);
    expect_fail(&b, "tensor 'w' offset 8 is misaligned at offset 57 (expected a multiple of 32)");

    /* duplicate names, overlapping data */
    b.n = 0;
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "w", 1, ne, AI_F32, 0);
    b_tinfo(&b, "w", 1, ne, AI_F32, 128);
    tu_pad(&b, 32);
    for (int i = 0; i < 256; i++) tu_u8(&b, 0);
    expect_fail(&b, "duplicate tensor name 'w' at offset 57 (tensor names must be unique)");
    b.n = 0;
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "w", 1, ne, AI_F32, 0);
    b_tinfo(&b, "v", 1, ne, AI_F32, 96);
    tu_pad(&b, 32);
    for (int i = 0; i < 256; i++) tu_u8(&b, 0);
    expect_fail(&b, "tensor 'v' overlaps tensor 'w'");
    /* the data section itself past the end */
    b.n = 0;
    b_header(&b, 3, 1, 0);
    b_tinfo(&b, "w", 1, ne, AI_F32, 0);
    expect_fail(&b, "past end of file");
    /* a known but non-weight type is fine for the reader */
    uint64_t ne_k[1] = {256};
    one_tensor(&b, 1, ne_k, AI_Q2_K, 0, 84);
    {
        ai_error err = {{0}};
        gguf_file *f = open_buf(&b, &err);
        if (!f) fail_msg("%s", err.msg);
        gguf_close(f);
    }
    free(b.p);
}

/* ---- typed accessors ------------------------------------------------------- */

static void test_accessor_errors(void **state) {
    tu_buf b = {0};
    build_valid(&b, 3, 0);
    ai_error err = {{0}};
    gguf_file *f = open_buf(&b, &err);
    assert_non_null(f);
    uint32_t u;
    int64_t i64;
    float x;
    bool bl;
    char s[4];
    const void *d;
    uint64_t n;
    assert_int_equal(gguf_get_u32(f, "llama.block_count", &u, &err), -1);
    assert_string_equal(err.msg, "mem.gguf: missing key 'llama.block_count'");
    assert_int_equal(gguf_get_u32(f, "t.str", &u, &err), -1);
    assert_string_equal(err.msg, "mem.gguf: key 't.str' has type string, expected an integer");
    assert_int_equal(gguf_get_u32(f, "t.i8", &u, &err), -1);
    assert_non_null(strstr(err.msg, "value -5 does not fit in an unsigned 32-bit integer"));
    assert_int_equal(gguf_get_u32(f, "t.u64", &u, &err), -1);
    assert_non_null(strstr(err.msg, "does not fit"));
    assert_int_equal(gguf_get_i64(f, "t.f32", &i64, &err), -1);
    assert_non_null(strstr(err.msg, "has type f32, expected an integer"));
    assert_int_equal(gguf_get_f32(f, "t.str", &x, &err), -1);
    assert_non_null(strstr(err.msg, "has type string, expected a float"));
    assert_int_equal(gguf_get_f32(f, "t.u16", &x, &err), 0); /* integers convert */
    assert_true(x == 60000.0f);
    assert_int_equal(gguf_get_bool(f, "t.u8", &bl, &err), -1);
    assert_non_null(strstr(err.msg, "has type u8, expected a bool"));
    assert_int_equal(gguf_get_str(f, "t.arr_str", s, sizeof s, &err), -1);
    assert_non_null(strstr(err.msg, "has type array of string, expected a string"));
    assert_int_equal(gguf_get_str(f, "t.str", s, sizeof s, &err), -1);
    assert_non_null(strstr(err.msg, "does not fit"));
    assert_int_equal(gguf_get_arr(f, "t.arr_i32", GGUF_UINT32, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "key 't.arr_i32' has type array of i32, expected an array of u32"));
    assert_int_equal(gguf_get_arr(f, "t.u8", GGUF_UINT8, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "has type u8, expected an array of u8"));
    assert_int_equal(gguf_opt_u32(f, "absent", &u, &err), 0);
    assert_int_equal(gguf_opt_u32(f, "t.u32", &u, &err), 1);
    assert_int_equal(gguf_opt_u32(f, "t.str", &u, &err), -1);
    assert_int_equal(gguf_opt_f32(f, "absent", &x, &err), 0);
    assert_int_equal(gguf_opt_f32(f, "t.f32", &x, &err), 1);
    assert_int_equal(gguf_opt_f32(f, "t.bool", &x, &err), -1);
    assert_string_equal(gguf_type_name(GGUF_FLOAT64), "f64");
    assert_string_equal(gguf_type_name((gguf_type)99), "invalid");
    gguf_close(f);
    free(b.p);
}

/* ---- the real default model ----------------------------------------------- */

static void test_real_model(void **state) {
    if (access(TU_MODEL, R_OK) != 0) {
        fprintf(stderr, "skipping: %s not present (make model)\n", TU_MODEL);
        skip();
    }
    ai_error err = {{0}};
    gguf_file *f = gguf_open(TU_MODEL, &err);
    if (!f) fail_msg("%s", err.msg);
    char arch[32];
    assert_int_equal(gguf_get_str(f, "general.architecture", arch, sizeof arch, &err), 0);
    assert_string_equal(arch, "llama");
    uint32_t n_layer;
    assert_int_equal(gguf_get_u32(f, "llama.block_count", &n_layer, &err), 0);
    assert_int_equal(n_layer, 30);
    const gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 576);
    assert_int_equal(t->ne[1], 49152);
    const void *d;
    uint64_t n;
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &d, &n, &err), 0);
    assert_int_equal(n, 49152);
    assert_int_equal(f->n_tensors, 272);
    gguf_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_v3),
        cmocka_unit_test(test_valid_v2),
        cmocka_unit_test(test_custom_alignment),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_file_on_disk),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_direct),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_absurd_counts),
        cmocka_unit_test(test_bad_strings_and_arrays),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_accessor_errors),
        cmocka_unit_test(test_real_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
