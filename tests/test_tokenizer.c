/* test_tokenizer.c — the tokenizer against llama.cpp's test vectors, the
 * default model against fixtures from llama.cpp (tools/fixtures_tokenizer.py),
 * streaming detokenization, special tokens and load errors. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"

#define TOKDIR AI_SOURCE_DIR "/tests/data/tokenizer/"
#define FIXDIR AI_SOURCE_DIR "/tests/data/fixtures/"

static ai_tokenizer *load_vocab(const char *path, gguf_file **fout) {
    ai_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("gguf_open %s: %s", path, err.msg);
    ai_tokenizer *t = ai_tokenizer_load(f, &err);
    if (!t) fail_msg("ai_tokenizer_load %s: %s", path, err.msg);
    if (fout) *fout = f;
    else gguf_close(f);
    return t;
}

/* A strict UTF-8 validator (no overlongs, surrogates, > U+10FFFF). */
static bool utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        int len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return false;
        if (i + (size_t)len > n) return false;
        for (int k = 1; k < len; k++) {
            unsigned b = p[i + (size_t)k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
        }
        i += (size_t)len;
    }
    return true;
}

/* Streams toks through ai_detok_*; checks every chunk is valid UTF-8 and the
 * concatenation equals ai_tokenizer_decode (when `exact`: valid UTF-8 text).
 * Returns 0 when all good. */
static int check_stream_ex(const ai_tokenizer *t, const int32_t *toks, int n, const char *label, bool exact) {
    int cap = 3 * (ai_tokenizer_max_piece(t) + 4);
    char *chunk = malloc((size_t)cap);
    size_t all_cap = 64;
    for (int i = 0; i < n; i++) all_cap += (size_t)ai_tokenizer_max_piece(t) * 3 + 8;
    char *all = malloc(all_cap);
    char *whole = malloc(all_cap);
    size_t an = 0;
    int bad = 0;
    ai_detok d;
    ai_detok_init(&d);
    for (int i = 0; i <= n; i++) {
        int k = i < n ? ai_detok_push(&d, t, toks[i], chunk, cap) : ai_detok_flush(&d, chunk, cap);
        if (k < 0) { print_message("%s: detok_push returned %d\n", label, k); bad = 1; break; }
        if (!utf8_valid(chunk, (size_t)k)) {
            print_message("%s: chunk %d is not valid UTF-8\n", label, i);
            bad = 1;
        }
        memcpy(all + an, chunk, (size_t)k);
        an += (size_t)k;
    }
    int wn = ai_tokenizer_decode(t, toks, n, whole, (int)all_cap);
    if (exact && (wn < 0 || (size_t)wn != an || memcmp(whole, all, an) != 0)) {
        print_message("%s: streamed (%zu bytes) != decoded (%d bytes)\n", label, an, wn);
        bad = 1;
    }
    free(chunk); free(all); free(whole);
    return bad;
}

static int check_stream(const ai_tokenizer *t, const int32_t *toks, int n, const char *label) {
    return check_stream_ex(t, toks, n, label, true);
}

static void print_ids(const char *what, const int32_t *ids, int n) {
    print_message("  %s:", what);
    for (int i = 0; i < n && i < 64; i++) print_message(" %d", ids[i]);
    print_message("\n");
}

/* Parses "a b c" ids into out; returns the count. */
static int parse_ids(const char *line, int32_t *out, int cap) {
    int n = 0;
    const char *p = line;
    while (*p) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p) break;
        if (n < cap) out[n] = (int32_t)v;
        n++;
        p = e;
    }
    return n;
}

/* A vocabulary under test: the tokenizer and, for a small copy of a
 * llama.cpp vocabulary (tools/fixtures_tokenizer.py: ggml-vocab-NAME.mini.gguf),
 * the original id of each of its tokens (NULL for a full vocabulary). */
typedef struct {
    ai_tokenizer *t;
    int32_t *orig;
    int n;
} vocab;

static vocab vocab_open(const char *path) {
    gguf_file *f;
    vocab v = {load_vocab(path, &f), NULL, 0};
    const gguf_kv *kv = gguf_find(f, "autoinfer.test.original_ids");
    if (kv) {
        const void *data;
        uint64_t n;
        ai_error err = {{0}};
        if (gguf_get_arr(f, "autoinfer.test.original_ids", GGUF_INT32, &data, &n, &err)) fail_msg("%s", err.msg);
        assert_int_equal(n, ai_tokenizer_n_vocab(v.t));
        v.n = (int)n;
        v.orig = malloc(n * sizeof *v.orig);
        memcpy(v.orig, data, n * sizeof *v.orig);
    }
    gguf_close(f);
    return v;
}

static void vocab_close(vocab *v) {
    ai_tokenizer_free(v->t);
    free(v->orig);
}

/* The vocabulary's id of an original id (-1 when a small copy lacks it). */
static int32_t vocab_id(const vocab *v, int32_t orig) {
    if (!v->orig) return orig;
    for (int i = 0; i < v->n; i++)
        if (v->orig[i] == orig) return i;
    return -1;
}

/* Encodes text and compares with the expected (original) ids; checks decode
 * and streaming. Returns the number of failures (0/1). */
static int check_case(const vocab *v, const char *text, size_t len, const int32_t *want, int nwant,
                      const char *label) {
    ai_error err = {{0}};
    int cap = (int)len * 4 + 16;
    int32_t *got = malloc((size_t)cap * sizeof *got);
    int32_t *mine = malloc((size_t)(nwant + 1) * sizeof *mine);
    int n = ai_tokenizer_encode(v->t, text, len, false, false, got, cap, &err);
    int bad = 0;
    if (n < 0) {
        print_message("%s: encode failed: %s\n", label, err.msg);
        free(got); free(mine);
        return 1;
    }
    for (int i = 0; i < n && v->orig; i++) got[i] = v->orig[got[i]];
    if (n != nwant || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
        print_message("%s: ids differ for \"%.*s\"\n", label, (int)(len > 80 ? 80 : len), text);
        print_ids("want", want, nwant);
        print_ids("got ", got, n);
        bad = 1;
    }
    for (int i = 0; i < nwant; i++) {
        mine[i] = vocab_id(v, want[i]);
        if (mine[i] < 0) {
            print_message("%s: token %d is missing from the small vocabulary\n", label, want[i]);
            free(got); free(mine);
            return 1;
        }
    }
    char *dec = malloc(len * 2 + 64);
    int dn = ai_tokenizer_decode(v->t, mine, nwant, dec, (int)len * 2 + 64);
    if ((size_t)dn != len || memcmp(dec, text, len) != 0) {
        print_message("%s: decode differs: \"%.*s\" vs \"%.*s\"\n", label, (int)(len > 80 ? 80 : len), text,
                      dn > 80 ? 80 : dn, dec);
        bad = 1;
    }
    bad |= check_stream(v->t, mine, nwant, label);
    free(dec);
    free(mine);
    free(got);
    return bad;
}

/* Every case of a llama.cpp vocab test file (NAME.gguf.inp/.out) against the
 * vocabulary at path (the full one or its small copy). */
static void run_vocab_file(const char *name, const char *path) {
    char inp[512], outp[512];
    snprintf(inp, sizeof inp, TOKDIR "ggml-vocab-%s.gguf.inp", name);
    snprintf(outp, sizeof outp, TOKDIR "ggml-vocab-%s.gguf.out", name);
    size_t il, ol;
    char *in = tu_read_file(inp, &il), *out = tu_read_file(outp, &ol);
    assert_non_null(in);
    assert_non_null(out);
    vocab v = vocab_open(path);

    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = in, *line = out;
    int ncase = 0, nbad = 0;
    int32_t want[1024];
    for (;;) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        int nw = parse_ids(line, want, 1024);
        char label[64];
        snprintf(label, sizeof label, "%s case %d", name, ncase);
        nbad += check_case(&v, p, (size_t)(e - p), want, nw, label);
        ncase++;
        p = e + strlen(sep);
        line = nl + 1;
    }
    print_message("vocab %s (%s): %d cases, %d mismatches\n", name, v.orig ? "small copy" : "full", ncase, nbad);
    assert_true(ncase >= 40);
    assert_int_equal(nbad, 0);
    vocab_close(&v);
    free(in);
    free(out);
}

/* llama.cpp's test vectors for one vocabulary: on the full vocabulary when it
 * is here, and always on its small copy (so a faulty copy shows up against the
 * full one, where both exist). */
static void run_vocab(const char *name) {
    char path[512];
    snprintf(path, sizeof path, TOKDIR "ggml-vocab-%s.gguf", name);
    if (access(path, R_OK) == 0) run_vocab_file(name, path);
    snprintf(path, sizeof path, TOKDIR "ggml-vocab-%s.mini.gguf", name);
    run_vocab_file(name, path);
}

/* Every vocabulary of llama.cpp's models/ folder that has test vectors and
 * a tokenizer kind we support. */
#define VOCAB_TEST(fn, name) static void fn(void **state) { (void)state; run_vocab(name); }
VOCAB_TEST(test_vocab_starcoder, "starcoder")
VOCAB_TEST(test_vocab_gpt2, "gpt-2")
VOCAB_TEST(test_vocab_llama_spm, "llama-spm")
VOCAB_TEST(test_vocab_llama_bpe, "llama-bpe")
VOCAB_TEST(test_vocab_command_r, "command-r")
VOCAB_TEST(test_vocab_deepseek_coder, "deepseek-coder")
VOCAB_TEST(test_vocab_deepseek_llm, "deepseek-llm")
VOCAB_TEST(test_vocab_falcon, "falcon")
VOCAB_TEST(test_vocab_mpt, "mpt")
VOCAB_TEST(test_vocab_phi3, "phi-3")
VOCAB_TEST(test_vocab_qwen2, "qwen2")
VOCAB_TEST(test_vocab_qwen35, "qwen35")
VOCAB_TEST(test_vocab_refact, "refact")

/* Special tokens: parsed only when asked; user-defined text always. */
static void test_special(void **state) {
    (void)state;
    ai_error err = {{0}};
    int32_t ids[64];
    ai_tokenizer *t = load_vocab(TOKDIR "ggml-vocab-starcoder.gguf", NULL);
    const char *s = "<fim_prefix>def f():<fim_suffix>x";
    int n = ai_tokenizer_encode(t, s, strlen(s), false, true, ids, 64, &err);
    assert_true(n >= 4);
    assert_int_equal(ids[0], ai_tokenizer_find(t, "<fim_prefix>"));
    int has_suffix = 0;
    for (int i = 0; i < n; i++) has_suffix |= ids[i] == ai_tokenizer_find(t, "<fim_suffix>");
    assert_true(has_suffix);
    n = ai_tokenizer_encode(t, s, strlen(s), false, false, ids, 64, &err);
    for (int i = 0; i < n; i++) assert_false(ai_tokenizer_is_control(t, ids[i]));
    /* decode drops control tokens; piece shows them only with special */
    char buf[64];
    assert_int_equal(ai_tokenizer_piece(t, ai_tokenizer_find(t, "<fim_prefix>"), false, buf, 64), 0);
    assert_int_equal(ai_tokenizer_piece(t, ai_tokenizer_find(t, "<fim_prefix>"), true, buf, 64), 12);
    assert_memory_equal(buf, "<fim_prefix>", 12);
    /* the cap is honoured, the full length returned */
    assert_int_equal(ai_tokenizer_piece(t, ai_tokenizer_find(t, "<fim_prefix>"), true, buf, 3), 12);
    /* a cap smaller than the count writes only cap ids */
    int32_t two[2] = {-7, -7};
    n = ai_tokenizer_encode(t, "hello world, how are you", 24, false, false, two, 1, &err);
    assert_true(n > 1);
    assert_int_not_equal(two[0], -7);
    assert_int_equal(two[1], -7);
    ai_tokenizer_free(t);

    /* SPM: BOS from metadata, the leading space goes after a special token */
    t = load_vocab(TOKDIR "ggml-vocab-llama-spm.gguf", NULL);
    assert_true(ai_tokenizer_add_bos(t));
    assert_int_equal(ai_tokenizer_bos(t), 1);
    assert_int_equal(ai_tokenizer_eos(t), 2);
    assert_true(ai_tokenizer_is_eog(t, 2));
    assert_string_equal(ai_tokenizer_kind(t), "spm");
    int32_t a[64], b[64];
    int na = ai_tokenizer_encode(t, "Hello world", 11, true, false, a, 64, &err);
    assert_true(na >= 2);
    assert_int_equal(a[0], 1);
    int nb = ai_tokenizer_encode(t, "<s>Hello world", 14, false, true, b, 64, &err);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    nb = ai_tokenizer_encode(t, "<s>Hello world", 14, false, false, b, 64, &err);
    assert_true(nb > na); /* "<s>" as text */
    /* decode of [BOS, ▁Hello ...] keeps the space, of [▁Hello ...] drops it */
    char dec[64];
    int dn = ai_tokenizer_decode(t, a, na, dec, 64);
    assert_int_equal(dn, 12);
    assert_string_equal(dec, " Hello world");
    dn = ai_tokenizer_decode(t, a + 1, na - 1, dec, 64);
    assert_string_equal(dec, "Hello world");
    ai_tokenizer_free(t);
}

/* Split characters are held back; invalid bytes become U+FFFD. */
static void test_detok_utf8(void **state) {
    (void)state;
    ai_tokenizer *t = load_vocab(TOKDIR "ggml-vocab-llama-spm.gguf", NULL);
    char out[64];
    ai_detok d;
    int32_t e2 = ai_tokenizer_find(t, "<0xE2>"), x82 = ai_tokenizer_find(t, "<0x82>"),
            xac = ai_tokenizer_find(t, "<0xAC>"), x28 = ai_tokenizer_find(t, "<0x28>"),
            xff = ai_tokenizer_find(t, "<0xFF>");
    assert_true(e2 >= 0 && x82 >= 0 && xac >= 0 && x28 >= 0 && xff >= 0);
    /* € = E2 82 AC, one byte per token */
    ai_detok_init(&d);
    assert_int_equal(ai_detok_push(&d, t, e2, out, 64), 0);
    assert_int_equal(ai_detok_push(&d, t, x82, out, 64), 0);
    assert_int_equal(ai_detok_push(&d, t, xac, out, 64), 3);
    assert_memory_equal(out, "\xE2\x82\xAC", 3);
    assert_int_equal(ai_detok_flush(&d, out, 64), 0);
    /* E2 then '(' : provably invalid at once */
    ai_detok_init(&d);
    assert_int_equal(ai_detok_push(&d, t, e2, out, 64), 0);
    int n = ai_detok_push(&d, t, x28, out, 64);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\xEF\xBF\xBD(", 4);
    /* FF is never valid */
    assert_int_equal(ai_detok_push(&d, t, xff, out, 64), 3);
    assert_memory_equal(out, "\xEF\xBF\xBD", 3);
    /* an incomplete character at the end: one U+FFFD at flush */
    assert_int_equal(ai_detok_push(&d, t, e2, out, 64), 0);
    assert_int_equal(ai_detok_push(&d, t, x82, out, 64), 0);
    assert_int_equal(ai_detok_flush(&d, out, 64), 3);
    assert_memory_equal(out, "\xEF\xBF\xBD", 3);
    /* too small a buffer: -1 and nothing lost */
    ai_detok_init(&d);
    d.first = false;
    int32_t hello = ai_tokenizer_find(t, "\xE2\x96\x81Hello");
    assert_true(hello >= 0);
    assert_int_equal(ai_detok_push(&d, t, hello, out, 3), -1);
    assert_int_equal(ai_detok_push(&d, t, hello, out, 64), 6);
    assert_memory_equal(out, " Hello", 6);
    ai_tokenizer_free(t);
}

/* Random text: valid UTF-8 round-trips through a byte-level BPE vocabulary
 * that has every byte; any bytes (invalid UTF-8 included) encode and stream
 * as valid UTF-8 only. A small deterministic fuzz. */
static void test_random_bytes(void **state) {
    (void)state;
    static const char *const V[] = {"starcoder", "gpt-2", "llama-spm"};
    uint32_t rng = 12345;
    for (size_t v = 0; v < 3; v++) {
        char path[400];
        snprintf(path, sizeof path, TOKDIR "ggml-vocab-%s.gguf", V[v]);
        ai_tokenizer *t = load_vocab(path, NULL);
        /* gpt-2 has a token for every byte; starcoder lacks a few (0xF1, 0xF5..)
           and, like the reference, drops them */
        bool bpe = !strcmp(V[v], "gpt-2");
        for (int it = 0; it < 300; it++) {
            char text[200];
            size_t len = 1 + (size_t)(it % 199);
            if (it % 2) {
                for (size_t i = 0; i < len; i++) {
                    rng = rng * 1664525u + 1013904223u;
                    uint32_t r = rng >> 24;
                    /* mostly bytes that make (broken) UTF-8, some ASCII/space */
                    text[i] = (char)(r < 64 ? ' ' + (r % 95) : r < 80 ? ' ' : r);
                }
            } else { /* random code points: valid UTF-8 */
                size_t k = 0;
                while (k + 4 < len) {
                    rng = rng * 1664525u + 1013904223u;
                    uint32_t r = rng >> 8, cp;
                    switch (r % 4) {
                    case 0: cp = 0x20 + r / 4 % 95; break;
                    case 1: cp = 0x80 + r / 4 % 0x780; break;
                    case 2: cp = 0x800 + r / 4 % 0xF800; break;
                    default: cp = 0x10000 + r / 4 % 0x100000; break;
                    }
                    if (cp >= 0xD800 && cp < 0xE000) cp = ' ';
                    if (cp < 0x80) text[k++] = (char)cp;
                    else if (cp < 0x800) { text[k++] = (char)(0xC0 | cp >> 6); text[k++] = (char)(0x80 | (cp & 0x3F)); }
                    else if (cp < 0x10000) {
                        text[k++] = (char)(0xE0 | cp >> 12); text[k++] = (char)(0x80 | (cp >> 6 & 0x3F));
                        text[k++] = (char)(0x80 | (cp & 0x3F));
                    } else {
                        text[k++] = (char)(0xF0 | cp >> 18); text[k++] = (char)(0x80 | (cp >> 12 & 0x3F));
                        text[k++] = (char)(0x80 | (cp >> 6 & 0x3F)); text[k++] = (char)(0x80 | (cp & 0x3F));
                    }
                }
                len = k ? k : 1;
                if (!k) text[0] = 'x';
                assert_true(utf8_valid(text, len));
            }
            int32_t ids[1024];
            ai_error err = {{0}};
            for (int sp = 0; sp < 2; sp++) {
                int n = ai_tokenizer_encode(t, text, len, sp, sp, ids, 1024, &err);
                assert_true(n > 0 && n <= 1024);
                char label[64];
                snprintf(label, sizeof label, "%s random %d", V[v], it);
                /* invalid input streams as U+FFFD, so only validity is checked */
                assert_int_equal(check_stream_ex(t, ids, n, label, false), 0);
                if (bpe && !sp && utf8_valid(text, len)) {
                    char dec[512];
                    int dn = ai_tokenizer_decode(t, ids, n, dec, sizeof dec);
                    if (dn != (int)len) { print_message("%s: len %zu dec %d:", label, len, dn); for (size_t q = 0; q < len; q++) print_message(" %02x", (unsigned char)text[q]); print_message("\n"); print_ids("ids", ids, n); }
                    assert_int_equal(dn, (int)len);
                    assert_memory_equal(dec, text, len);
                }
            }
        }
        ai_tokenizer_free(t);
    }
}

/* ---- load errors ---------------------------------------------------------- */

/* Copies every key of src except `drop`, and sets the string key `set` to
 * `value` when non-NULL; returns the path of the new file. */
static void rewrite_vocab(const char *src, const char *drop, const char *set, const char *value, char *path,
                          size_t cap) {
    ai_error err = {{0}};
    gguf_file *f = gguf_open(src, &err);
    assert_non_null(f);
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kvs[i];
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        if (drop && !strcmp(key, drop)) continue;
        gguf_writer_copy_kv(w, kv);
    }
    if (set) gguf_writer_str(w, set, value); /* replaces the copied value */
    char dir[256];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, cap, "%s/vocab.gguf", dir);
    if (gguf_writer_write(w, path, &err)) fail_msg("write %s: %s", path, err.msg);
    gguf_writer_free(w);
    gguf_close(f);
}

/* Removes a file written by rewrite_vocab and its temporary folder. */
static void remove_temp(char *path) {
    unlink(path);
    char *slash = strrchr(path, '/');
    *slash = 0;
    rmdir(path);
}

static void expect_load_error(char *path, const char *s1, const char *s2) {
    ai_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("gguf_open %s: %s", path, err.msg);
    ai_tokenizer *t = ai_tokenizer_load(f, &err);
    assert_null(t);
    print_message("expected error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, s1));
    if (s2) assert_non_null(strstr(err.msg, s2));
    gguf_close(f);
    remove_temp(path);
}

static void test_errors(void **state) {
    (void)state;
    char path[512];
    rewrite_vocab(TOKDIR "ggml-vocab-starcoder.gguf", NULL, "tokenizer.ggml.pre", "no-such-pre", path, sizeof path);
    expect_load_error(path, "no-such-pre", "known: ");
    rewrite_vocab(TOKDIR "ggml-vocab-starcoder.gguf", "tokenizer.ggml.merges", NULL, NULL, path, sizeof path);
    expect_load_error(path, "tokenizer.ggml.merges", NULL);
    rewrite_vocab(TOKDIR "ggml-vocab-starcoder.gguf", "tokenizer.ggml.tokens", NULL, NULL, path, sizeof path);
    expect_load_error(path, "tokenizer.ggml.tokens", NULL);
    rewrite_vocab(TOKDIR "ggml-vocab-llama-spm.gguf", "tokenizer.ggml.scores", NULL, NULL, path, sizeof path);
    expect_load_error(path, "tokenizer.ggml.scores", NULL);
    rewrite_vocab(TOKDIR "ggml-vocab-llama-spm.gguf", "tokenizer.ggml.model", NULL, NULL, path, sizeof path);
    expect_load_error(path, "tokenizer.ggml.model", NULL);
    /* tokenizer kinds llama.cpp has and we do not: named, with why */
    static const char *const UNSUPPORTED[][2] = {
        {"bert", "WordPiece"}, {"t5", "Unigram"}, {"rwkv", "RWKV"}, {"plamo2", "PLaMo"}, {"gemma4", "raw UTF-8"},
        {"no-such-kind", "supported: gpt2"}};
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof *UNSUPPORTED; i++) {
        rewrite_vocab(TOKDIR "ggml-vocab-llama-spm.gguf", NULL, "tokenizer.ggml.model", UNSUPPORTED[i][0], path,
                      sizeof path);
        expect_load_error(path, UNSUPPORTED[i][0], UNSUPPORTED[i][1]);
    }
}

/* ---- the default model against llama.cpp ---------------------------------- */

/* Every case of fixtures/NAME_tokens.json (from llama.cpp) against the model. */
static void run_model_fixtures(const char *name, const char *model, const char *pre, const char *kind) {
    if (access(model, R_OK) != 0) {
        print_message("note: %s is missing (scripts/get-model.sh %s fetches it); skipped\n", model, name);
        skip();
    }
    char fix[512];
    snprintf(fix, sizeof fix, FIXDIR "%s_tokens.json", name);
    size_t jl;
    char *js = tu_read_file(fix, &jl);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    gguf_file *f;
    ai_tokenizer *t = load_vocab(model, &f);
    gguf_close(f); /* the tokenizer does not need the file once loaded */
    assert_string_equal(ai_tokenizer_kind(t), kind);
    assert_string_equal(ai_tokenizer_pre(t), pre);

    int ncase = 0, nbad = 0;
    cJSON *cases = cJSON_GetObjectItem(root, "cases");
    assert_true(cJSON_IsArray(cases));
    cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(c, "hex"));
        char raw[512];
        if (hex) { /* bytes that are not valid UTF-8 */
            size_t hl = strlen(hex);
            assert_true(hl / 2 < sizeof raw);
            for (size_t i = 0; i < hl / 2; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                raw[i] = (char)v;
            }
            raw[hl / 2] = 0;
            text = raw;
        }
        assert_non_null(text);
        for (int sp = 0; sp < 2; sp++) {
            cJSON *ids = cJSON_GetObjectItem(c, sp ? "ids_special" : "ids");
            if (!ids && sp) ids = cJSON_GetObjectItem(c, "ids"); /* same both ways */
            int nw = cJSON_GetArraySize(ids);
            int32_t *want = malloc((size_t)(nw + 1) * sizeof *want);
            for (int i = 0; i < nw; i++) want[i] = (int32_t)cJSON_GetArrayItem(ids, i)->valueint;
            size_t len = strlen(text);
            int cap = (int)len * 4 + 16;
            int32_t *got = malloc((size_t)cap * sizeof *got);
            ai_error err = {{0}};
            int n = ai_tokenizer_encode(t, text, len, false, sp, got, cap, &err);
            char label[64];
            snprintf(label, sizeof label, "%s case %d%s", name, ncase, sp ? " (special)" : "");
            if (n != nw || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
                print_message("%s: ids differ for \"%.*s\"\n", label, (int)(len > 80 ? 80 : len), text);
                print_ids("want", want, nw);
                print_ids("got ", got, n);
                nbad++;
            } else if (!sp && hex) {
                nbad += check_stream_ex(t, got, n, label, false);
            } else if (!sp) {
                char *dec = malloc(len + 64);
                int dn = ai_tokenizer_decode(t, got, n, dec, (int)len + 64);
                if ((size_t)dn != len || memcmp(dec, text, len) != 0) {
                    print_message("%s: decode differs\n", label);
                    nbad++;
                }
                free(dec);
                nbad += check_stream(t, got, n, label);
            }
            free(got);
            free(want);
        }
        ncase++;
    }
    print_message("%s: %d cases against llama.cpp, %d mismatches\n", name, ncase, nbad);
    assert_true(ncase >= 300);
    assert_int_equal(nbad, 0);
    cJSON_Delete(root);
    ai_tokenizer_free(t);
    free(js);
}

/* Pre-tokenizers with no vocabulary here (llama-bpe: Llama 3's is not
 * shipped) on the gpt-2 vocabulary re-labelled with their name; llama.cpp
 * tokenized the same re-labelled file. */
static void run_relabelled(const char *pre, const char *fixture) {
    char path[512];
    rewrite_vocab(TOKDIR "ggml-vocab-gpt-2.gguf", NULL, "tokenizer.ggml.pre", pre, path, sizeof path);
    run_model_fixtures(fixture, path, pre, "bpe");
    remove_temp(path);
}

static void test_pre_llama_bpe(void **state) { (void)state; run_relabelled("llama-bpe", "gpt2_as_llama_bpe"); }
static void test_pre_qwen2(void **state) { (void)state; run_relabelled("qwen2", "gpt2_as_qwen2"); }
static void test_pre_default(void **state) { (void)state; run_relabelled("default", "gpt2_as_default"); }

/* Hex text of a fixture into a NUL-terminated buffer; returns its length. */
static size_t unhex(const char *hex, char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = 0;
    return n;
}

/* Every pre-tokenizer name of the table (fixtures/pre_tokenizers.json) on the
 * gpt-2 vocabulary re-labelled with it, against llama.cpp on the same file. */
static void test_pre_tokenizers(void **state) {
    (void)state;
    size_t jl;
    char *js = tu_read_file(FIXDIR "pre_tokenizers.json", &jl);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    cJSON *texts = cJSON_GetObjectItem(root, "texts_hex"), *pres = cJSON_GetObjectItem(root, "pre");
    assert_true(cJSON_GetArraySize(texts) > 100);
    int npre = 0, nbad = 0;
    cJSON *pre;
    cJSON_ArrayForEach(pre, pres) {
        cJSON *ids = cJSON_GetObjectItem(pre, "ids");
        const char *same = cJSON_GetStringValue(cJSON_GetObjectItem(pre, "same_as"));
        if (same) ids = cJSON_GetObjectItem(cJSON_GetObjectItem(pres, same), "ids");
        assert_int_equal(cJSON_GetArraySize(ids), cJSON_GetArraySize(texts));
        char path[512];
        rewrite_vocab(TOKDIR "ggml-vocab-gpt-2.gguf", NULL, "tokenizer.ggml.pre", pre->string, path, sizeof path);
        ai_tokenizer *t = load_vocab(path, NULL);
        remove_temp(path);
        assert_string_equal(ai_tokenizer_pre(t), pre->string);
        for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
            const char *hex = cJSON_GetStringValue(cJSON_GetArrayItem(texts, i));
            char *text = malloc(strlen(hex) / 2 + 1);
            size_t len = unhex(hex, text);
            cJSON *want = cJSON_GetArrayItem(ids, i);
            int nw = cJSON_GetArraySize(want), cap = (int)len * 4 + 16;
            int32_t *got = malloc((size_t)cap * sizeof *got), *w = malloc((size_t)(nw + 1) * sizeof *w);
            for (int k = 0; k < nw; k++) w[k] = (int32_t)cJSON_GetArrayItem(want, k)->valueint;
            ai_error err = {{0}};
            int n = ai_tokenizer_encode(t, text, len, false, false, got, cap, &err);
            if (n != nw || memcmp(got, w, (size_t)n * sizeof *got) != 0) {
                print_message("pre-tokenizer %s, text %d: ids differ for \"%.*s\"\n", pre->string, i,
                              (int)(len > 80 ? 80 : len), text);
                print_ids("want", w, nw);
                print_ids("got ", got, n);
                nbad++;
            }
            free(got); free(w); free(text);
        }
        ai_tokenizer_free(t);
        npre++;
    }
    print_message("%d pre-tokenizer names x %d texts against llama.cpp, %d mismatches\n", npre,
                  cJSON_GetArraySize(texts), nbad);
    assert_true(npre >= 70);
    assert_int_equal(nbad, 0);
    cJSON_Delete(root);
    free(js);
}

static void test_smollm2_fixtures(void **state) {
    (void)state;
    run_model_fixtures("smollm2", TU_MODEL, "smollm", "bpe");
    /* metadata the generate loop relies on */
    ai_tokenizer *t = load_vocab(TU_MODEL, NULL);
    assert_false(ai_tokenizer_add_bos(t));
    assert_int_equal(ai_tokenizer_eos(t), ai_tokenizer_find(t, "<|im_end|>"));
    assert_int_equal(ai_tokenizer_eot(t), ai_tokenizer_find(t, "<|im_end|>"));
    assert_true(ai_tokenizer_is_eog(t, ai_tokenizer_find(t, "<|im_end|>")));
    assert_true(ai_tokenizer_is_eog(t, ai_tokenizer_find(t, "<|endoftext|>")));
    assert_false(ai_tokenizer_is_eog(t, ai_tokenizer_find(t, "<|im_start|>")));
    ai_tokenizer_free(t);
}

static void test_qwen2_fixtures(void **state) {
    (void)state;
    run_model_fixtures("qwen2", AI_SOURCE_DIR "/models/Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf", "qwen2", "bpe");
}

static void test_gemma3_fixtures(void **state) {
    (void)state;
    run_model_fixtures("gemma3", AI_SOURCE_DIR "/models/gemma-3-270m-q4_k_m.gguf", "default", "spm");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_starcoder),
        cmocka_unit_test(test_vocab_gpt2),
        cmocka_unit_test(test_vocab_llama_spm),
        cmocka_unit_test(test_vocab_llama_bpe),
        cmocka_unit_test(test_vocab_command_r),
        cmocka_unit_test(test_vocab_deepseek_coder),
        cmocka_unit_test(test_vocab_deepseek_llm),
        cmocka_unit_test(test_vocab_falcon),
        cmocka_unit_test(test_vocab_mpt),
        cmocka_unit_test(test_vocab_phi3),
        cmocka_unit_test(test_vocab_qwen2),
        cmocka_unit_test(test_vocab_qwen35),
        cmocka_unit_test(test_vocab_refact),
        cmocka_unit_test(test_special),
        cmocka_unit_test(test_detok_utf8),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pre_llama_bpe),
        cmocka_unit_test(test_pre_qwen2),
        cmocka_unit_test(test_pre_default),
        cmocka_unit_test(test_pre_tokenizers),
        cmocka_unit_test(test_smollm2_fixtures),
        cmocka_unit_test(test_qwen2_fixtures),
        cmocka_unit_test(test_gemma3_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
