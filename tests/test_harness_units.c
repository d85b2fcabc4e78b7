/* test_harness_units.c — the harness's self-contained pieces: every sanity
 * check (pass and fail), the gate config and decision, the reference file
 * (round trip, corruption), KL on known distributions, the JSON writer,
 * the function scanner, the knob diff, the roofline check, SHA-256, the
 * harness's own GGUF byte count (against the engine's, and on bad files)
 * and the GPU probes' clean failure without a GPU. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "harness.h"
#include "refs.h"
#include "sanity.h"
#include "sha256.h"

static void check(const char *id, const char *text, int want) {
    char why[256];
    int got = ah_sanity_check(id, text, why, sizeof why);
    if (got != want) fail_msg("%s on '%s': got %d (%s), want %d", id, text, got, why, want);
    assert_true(why[0] != 0);
}

static void test_sanity_checks(void **state) {
    check("transformers", "Transformers use self-attention over tokens.", 1);
    check("transformers", "Each LAYER applies attention.", 1);
    check("transformers", "They are neural networks that learn patterns.", 0);
    check("transformers", "A stack of layers.", 0);
    check("compiler", "Compilers do inlining and dead code elimination.", 1);
    check("compiler", "Constant folding, loop unrolling and register allocation.", 1);
    check("compiler", "They make code faster with inlining.", 0);
    check("compiler", "Compilers are programs.", 0);
    check("train", "The average speed is 48 km/h.", 1);
    check("train", "The average is (60+40)/2 = 50 km/h.", 0);
    check("poem", "Silicon dreams\nelectric streams", 1);
    check("poem", "Silicon dreams and electric streams", 0); /* one line */
    check("poem", "Roses are red\nviolets are blue", 0);    /* no keyword */
    check("lcs", "def lcs(a, b):\n    return 0", 1);
    check("lcs", "def longest_common(a, b): pass", 1);
    check("lcs", "function lcs(a, b) {}", 0); /* no def */
    check("lcs", "def f(a, b): pass", 0);     /* no relevant identifier */
    char why[128];
    assert_int_equal(ah_sanity_check("nope", "x", why, sizeof why), -1);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_gate_config(void **state) {
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/gate.conf", dir);
    ah_gate g;
    ai_error err;
    ah_gate_defaults(&g);
    write_file(path, "# comment\nkl_mean_max = 0.5\nsanity_tokens = 99\ngreedy_set = temperature=0,top_k=1\n");
    assert_int_equal(ah_gate_load(&g, path, &err), 0);
    assert_float_equal(g.kl_mean_max, 0.5, 0);
    assert_int_equal(g.sanity_tokens, 99);
    assert_string_equal(g.greedy_set, "temperature=0,top_k=1");
    write_file(path, "kl_mean_maxx = 0.5\n");
    assert_int_equal(ah_gate_load(&g, path, &err), -1);
    assert_non_null(strstr(err.msg, "unknown gate key 'kl_mean_maxx'"));
    assert_non_null(strstr(err.msg, ":1:"));
    write_file(path, "\ntop1_min = 1.5\n");
    assert_int_equal(ah_gate_load(&g, path, &err), -1);
    assert_non_null(strstr(err.msg, ":2: bad value '1.5' for top1_min"));
    write_file(path, "sanity_tokens = 3.5\n");
    assert_int_equal(ah_gate_load(&g, path, &err), -1);
    write_file(path, "just words\n");
    assert_int_equal(ah_gate_load(&g, path, &err), -1);
    assert_int_equal(ah_gate_load(&g, "/nonexistent/gate.conf", &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    /* the locked gate.conf of the tree parses */
    ah_gate_defaults(&g);
    assert_int_equal(ah_gate_load(&g, AI_SOURCE_DIR "/harness/gate.conf", &err), 0);
}

static void test_gate_decision(void **state) {
    ah_gate g;
    ah_gate_defaults(&g);
    char f[8][160];
    ah_quality_figs ok = {0.8, 10, 1, 0.8, 1.001, 0.001, 0.05, 0.99, 1, 1.1};
    assert_int_equal(ah_gate_check(&g, &ok, &f[0][0], sizeof f[0], 8), 0);
    ah_quality_figs q = ok;
    q.kl_mean = 0.5;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 1);
    assert_non_null(strstr(f[0], "kl_mean"));
    q = ok;
    q.top1 = 0.5;
    q.ppl_ratio = 1.5;
    q.kl_p99 = 9;
    q.tokenizer_match = 0;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 4);
    /* the seed's lesson: self-perplexity fell but answers broke -> fail on sanity */
    q = ok;
    q.sanity = 0.4;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 1);
    assert_non_null(strstr(f[0], "sanity 0.40 < 0.60"));
    /* a weak baseline (0.4) lowers the floor to 0.2 */
    q.base_sanity = 0.4;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 0);
    q.sanity = 0.0;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 1);
    /* no baseline: only the absolute gates */
    ah_quality_figs nb = {0.6, 49, 0, NAN, NAN, NAN, NAN, NAN, 0, NAN};
    assert_int_equal(ah_gate_check(&g, &nb, &f[0][0], sizeof f[0], 8), 0);
    nb.ppl = 60;
    assert_int_equal(ah_gate_check(&g, &nb, &f[0][0], sizeof f[0], 8), 1);
    /* a sampler that picks unlikely tokens: self-perplexity up; down always passes */
    q = ok;
    q.self_ppl_ratio = 3;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 1);
    assert_non_null(strstr(f[0], "self_ppl_ratio"));
    q.self_ppl_ratio = 0.5;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 0);
    /* an unmeasured figure that the gate needs is a failure */
    q = ok;
    q.kl_mean = NAN;
    assert_int_equal(ah_gate_check(&g, &q, &f[0][0], sizeof f[0], 8), 1);
}

static void softmax_log(const float *l, int n, double *lp) {
    double lse = ah_logsumexp(l, n);
    for (int i = 0; i < n; i++) lp[i] = l[i] - lse;
}

static void test_kl_known(void **state) {
    float p[10] = {2, 1, 0.5f, 0, -1, -2, 0.3f, 0.1f, -0.5f, 1.5f};
    float q[10] = {1.8f, 1.2f, 0.4f, 0.1f, -1, -2.5f, 0.3f, 0.2f, -0.4f, 1.2f};
    ah_ref_pos ref;
    ah_ref_from_logits(p, 10, 3, &ref);
    assert_int_equal(ref.id[0], 0);
    assert_int_equal(ref.id[1], 9);
    double lp[10], lq[10];
    softmax_log(p, 10, lp);
    softmax_log(q, 10, lq);
    assert_float_equal(ref.nll, -lp[3], 1e-5);
    ah_pos_cmp c;
    ah_ref_compare(&ref, p, 10, 3, &c);
    assert_float_equal(c.kl, 0, 1e-6);
    assert_int_equal(c.top1_same, 1);
    ah_ref_compare(&ref, q, 10, 3, &c);
    double kl = 0;
    for (int i = 0; i < 10; i++) kl += exp(lp[i]) * (lp[i] - lq[i]);
    assert_float_equal(c.kl, kl, 1e-5); /* vocab < top-K: exact */
    assert_float_equal(c.nll, -lq[3], 1e-5);
    /* a sampler/model that moves the top token: top-1 disagrees */
    float r[10];
    memcpy(r, p, sizeof r);
    r[0] = -3;
    ah_ref_compare(&ref, r, 10, 3, &c);
    assert_int_equal(c.top1_same, 0);
    assert_true(c.kl > 0.5);

    /* large vocabulary: the coarsened KL is a lower bound, close when the tail is thin */
    int V = 5000;
    float *a = malloc(sizeof *a * V), *b = malloc(sizeof *b * V);
    for (int i = 0; i < V; i++) {
        a[i] = (float)(i < 40 ? 10 - i * 0.2 : -5 - (i % 7));
        b[i] = a[i] + (float)((i % 3) - 1) * 0.05f;
    }
    ah_ref_from_logits(a, V, 0, &ref);
    ah_ref_compare(&ref, b, V, 0, &c);
    double *la = malloc(sizeof *la * V), *lb = malloc(sizeof *lb * V);
    softmax_log(a, V, la);
    softmax_log(b, V, lb);
    kl = 0;
    for (int i = 0; i < V; i++) kl += exp(la[i]) * (la[i] - lb[i]);
    assert_true(c.kl <= kl + 1e-7);
    assert_true(c.kl >= 0.5 * kl);
    free(a);
    free(b);
    free(la);
    free(lb);
}

static void make_refs(ah_refs *r) {
    ah_refs_init(r, 100);
    int32_t t1[] = {1, 5, 7, 9, 11, 13};
    ah_ref_seq *s = ah_refs_add(r, "text#0", AH_SEQ_TEXT, t1, 6, 3);
    float logits[100];
    for (int k = 0; k < ah_seq_n_scored(s); k++) {
        for (int i = 0; i < 100; i++) logits[i] = (float)((i * 37 + k * 11) % 50) / 10;
        ah_ref_from_logits(logits, 100, s->tokens[s->score_from + k + 1], &s->pos[k]);
    }
    int32_t t2[] = {2, 4, 6, 8};
    s = ah_refs_add(r, "train", AH_SEQ_ANSWER, t2, 4, 1);
    for (int k = 0; k < ah_seq_n_scored(s); k++) {
        for (int i = 0; i < 100; i++) logits[i] = (float)((i * 13 + k) % 30) / 7;
        ah_ref_from_logits(logits, 100, s->tokens[s->score_from + k + 1], &s->pos[k]);
    }
}

static void test_refs_file(void **state) {
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/refs.bin", dir);
    ah_refs r, back;
    ai_error err;
    make_refs(&r);
    assert_int_equal(ah_refs_save(&r, path, &err), 0);
    assert_int_equal(ah_refs_load(&back, path, &err), 0);
    assert_int_equal(back.n_seq, 2);
    assert_int_equal(back.n_vocab, 100);
    assert_string_equal(back.seq[1].name, "train");
    assert_int_equal(back.seq[1].kind, AH_SEQ_ANSWER);
    assert_int_equal(back.seq[0].score_from, 3);
    assert_memory_equal(back.seq[0].tokens, r.seq[0].tokens, 6 * sizeof(int32_t));
    assert_memory_equal(back.seq[0].pos, r.seq[0].pos, 2 * sizeof(ah_ref_pos));
    assert_memory_equal(back.seq[1].pos, r.seq[1].pos, 2 * sizeof(ah_ref_pos));
    ah_refs_free(&back);

    /* corruption: one flipped byte -> checksum mismatch */
    size_t len;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    data[len / 2] ^= 0x40;
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    assert_int_equal(ah_refs_load(&back, path, &err), -1);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    /* truncated */
    data[len / 2] ^= 0x40;
    f = fopen(path, "wb");
    fwrite(data, 1, len - 40, f);
    fclose(f);
    assert_int_equal(ah_refs_load(&back, path, &err), -1);
    assert_non_null(strstr(err.msg, "corrupt reference file"));
    /* not a reference file */
    write_file(path, "hello, this is not a reference file at all, just some text....");
    assert_int_equal(ah_refs_load(&back, path, &err), -1);
    assert_non_null(strstr(err.msg, "bad magic"));
    assert_int_equal(ah_refs_load(&back, "/nonexistent/refs.bin", &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    free(data);
    ah_refs_free(&r);
}

static void test_json_writer(void **state) {
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.json", dir);
    double x[] = {5, 1, 3};
    cJSON *doc = cJSON_CreateObject();
    cJSON *speed = cJSON_AddObjectToObject(doc, "speed");
    cJSON_AddItemToObject(speed, "decode_tps", ah_json_dist(x, 3));
    ai_error err;
    assert_int_equal(ah_json_write(doc, path, &err), 0);
    cJSON_Delete(doc);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_null(tu_read_file(tmp, NULL)); /* renamed into place */
    cJSON *back = ah_json_read(path, &err);
    assert_non_null(back);
    assert_float_equal(ah_jnum(back, "speed.decode_tps.median"), 3, 0);
    assert_float_equal(ah_jnum(back, "speed.decode_tps.ci_lo"), 1, 0);
    assert_float_equal(ah_jnum(back, "speed.decode_tps.ci_hi"), 5, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(back, "speed"), "decode_tps"), "samples")), 3);
    assert_true(isnan(ah_jnum(back, "speed.nothing")));
    cJSON_Delete(back);
    /* an empty distribution serializes as nulls, not NaN */
    doc = ah_json_dist(NULL, 0);
    char *text = cJSON_PrintUnformatted(doc);
    assert_null(strstr(text, "nan"));
    assert_non_null(strstr(text, "\"median\":null"));
    free(text);
    cJSON_Delete(doc);
    write_file(path, "{\"a\": [1, 2,");
    assert_null(ah_json_read(path, &err));
    assert_non_null(strstr(err.msg, "invalid JSON"));
    assert_int_equal(ah_json_write(back = cJSON_CreateObject(), "/nonexistent/dir/x.json", &err), -1);
    cJSON_Delete(back);
}

static void test_function_scan(void **state) {
    const char *src =
        "/* comment */\n#include <x.h>\n"
        "static int helper(int a) {\n    return a;\n}\n\n"
        "int ai_thing(const char *s,\n             int n) {\n    if (n) {\n        return 1;\n    }\ndone:\n    return 0;\n}\n"
        "void ai_decl_only(void);\n"
        "static const int TABLE[] = {1, 2};\n"
        "typedef struct foo {\n    int x;\n} foo;\n"
        "struct bar {\n    int y;\n};\n"
        "static inline float\nsplit_line(float x)\n{\n    return x;\n}\n";
    char **names = NULL;
    int n = 0;
    int found = ah_scan_functions(src, &names, &n);
    assert_int_equal(found, 3);
    assert_string_equal(names[0], "helper");
    assert_string_equal(names[1], "ai_thing");
    assert_string_equal(names[2], "split_line");
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void test_knob_diff(void **state) {
    ai_conf base, cur;
    ai_error err;
    ai_conf_defaults(&base);
    ai_conf_defaults(&cur);
    assert_int_equal(ai_conf_set(&cur, "temperature=0", &err), 0);
    assert_int_equal(ai_conf_set(&cur, "threads=2", &err), 0); /* same as default? still compare */
    ah_changes ch;
    memset(&ch, 0, sizeof ch);
    ah_knob_diff(&base, &cur, &ch);
    int found = 0;
    for (int i = 0; i < ch.n_knobs; i++) {
        if (!strcmp(ch.knobs[i].key, "temperature")) {
            found = 1;
            assert_string_equal(ch.knobs[i].current, "0");
            /* the tradeoff text comes from the pipeline's knob table */
            int nk;
            const ai_knob_info *k = ai_knobs(&nk);
            for (int j = 0; j < nk; j++)
                if (!strcmp(k[j].name, "temperature")) assert_string_equal(ch.knobs[i].tradeoff, k[j].tradeoff);
        }
    }
    assert_true(found);
    /* numbers compare as numbers: 0.70 == 0.7 */
    memset(&ch, 0, sizeof ch);
    ai_conf_defaults(&cur);
    const char *t = ai_conf_get(&base, "temperature");
    char set[64];
    snprintf(set, sizeof set, "temperature=%s0", t);
    assert_int_equal(ai_conf_set(&cur, set, &err), 0);
    ah_knob_diff(&base, &cur, &ch);
    assert_int_equal(ch.n_knobs, 0);
}

static void test_plausible(void **state) {
    ah_plausible p;
    /* 30 GB/s, 100 MB per token: roofline 300 tok/s */
    ah_plausible_check(250, 100000000, 30, 1.25, &p);
    assert_int_equal(p.ok, 1);
    assert_float_equal(p.roofline_tps, 300, 1e-9);
    ah_plausible_check(400, 100000000, 30, 1.25, &p);
    assert_int_equal(p.ok, 0);
    assert_non_null(strstr(p.why, "impossible"));
    /* the engine's own bytes per token (0, or a false small figure) are
     * reported, never used: the harness's count still flags the speed */
    ah_plausible_note(&p, "cpu", "x", 0, 1);
    assert_int_equal(p.ok, 0);
    ah_plausible_check(400, 100000000, 30, 1.25, &p);
    ah_plausible_note(&p, "cpu", "x", 1, 1);
    assert_int_equal(p.ok, 0);
    assert_int_equal(p.engine_bytes_per_token, 1);
    ah_plausible_check(NAN, 100000000, 30, 1.25, &p);
    assert_int_equal(p.ok, 0);
    double bw = ah_bandwidth_probe(8u << 20, 1);
    assert_true(bw > 0.1 && bw < 10000);
}

/* ---- gguf_bytes.c ------------------------------------------------------- */

typedef struct gtensor {
    const char *name;
    uint32_t type, n_dims;
    uint64_t ne[4];
    uint64_t bytes;
} gtensor;

/* Options that break the file in one place each. */
typedef struct gopts {
    uint32_t version;      /* 3 */
    uint32_t alignment;    /* general.alignment (0: key absent, default 32) */
    int nest;              /* depth of a nested array in the metadata (0: none) */
    uint64_t array_n;      /* element count written for the u8 array (0: its real 5) */
    int with_head;         /* add output.weight (untied) */
    uint32_t bad_type;     /* store blk.0.attn_q.weight with this type id (0: q4_0) */
    uint32_t bad_dims;     /* n_dims of blk.0.attn_q.weight (0: 2) */
    uint64_t bad_ne0;      /* its row length (0: 64) */
} gopts;

/* blk.0.attn_q.weight q4_0 64x2 (72 B), blk.0.ffn_norm.weight f32 64
 * (256 B), output_norm.weight f32 64 (256 B), token_embd.weight q8_0 64x10
 * (680 B), rope_freqs.weight f32 32 (128 B: not read per token),
 * blkx.0.w f32 16 (64 B: not a layer); with_head: output.weight f16 64x10
 * (1280 B). Returns the bytes per token the harness must count. */
static uint64_t make_gguf(tu_buf *b, const gopts *o) {
    b->n = 0;
    uint32_t al = o->alignment ? o->alignment : 32;
    gtensor t[8] = {
        {"blk.0.attn_q.weight", o->bad_type ? o->bad_type : 2, o->bad_dims ? o->bad_dims : 2,
         {o->bad_ne0 ? o->bad_ne0 : 64, 2, 1, 1}, 72},
        {"blk.0.ffn_norm.weight", 0, 1, {64, 1, 1, 1}, 256},
        {"output_norm.weight", 0, 1, {64, 1, 1, 1}, 256},
        {"token_embd.weight", 8, 2, {64, 10, 1, 1}, 680},
        {"rope_freqs.weight", 0, 1, {32, 1, 1, 1}, 128},
        {"blkx.0.w", 0, 1, {16, 1, 1, 1}, 64},
        {"output.weight", 1, 2, {64, 10, 1, 1}, 1280},
    };
    int nt = o->with_head ? 7 : 6;
    int nkv = 4 + (o->alignment != 0) + (o->nest > 0);
    tu_put(b, "GGUF", 4);
    tu_u32(b, o->version ? o->version : 3);
    tu_u64(b, (uint64_t)nt);
    tu_u64(b, (uint64_t)nkv);
    tu_str(b, "general.architecture"); tu_u32(b, 8); tu_str(b, "llama");
    tu_str(b, "llama.block_count"); tu_u32(b, 4); tu_u32(b, 1);
    tu_str(b, "tokenizer.ggml.tokens"); tu_u32(b, 9); tu_u32(b, 8); tu_u64(b, 3);
    tu_str(b, "a"); tu_str(b, "bc"); tu_str(b, "");
    tu_str(b, "some.bytes"); tu_u32(b, 9); tu_u32(b, 0); tu_u64(b, o->array_n ? o->array_n : 5);
    tu_put(b, "\1\2\3\4\5", 5);
    if (o->alignment) {
        tu_str(b, "general.alignment"); tu_u32(b, 4); tu_u32(b, o->alignment);
    }
    if (o->nest > 0) { /* [[[... [f64 x1] ...]]] */
        tu_str(b, "nested");
        tu_u32(b, 9);
        for (int d = 1; d < o->nest; d++) { tu_u32(b, 9); tu_u64(b, 1); }
        tu_u32(b, 12); tu_u64(b, 1);
        double x = 1.5;
        tu_put(b, &x, 8);
    }
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        tu_str(b, t[i].name);
        tu_u32(b, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) tu_u64(b, d < 4 ? t[i].ne[d] : 1);
        tu_u32(b, t[i].type);
        tu_u64(b, off);
        off += (t[i].bytes + al - 1) / al * al;
    }
    while (b->n % al) tu_put(b, "", 1);
    for (uint64_t i = 0; i < off; i++) {
        uint8_t x = (uint8_t)(i * 7);
        tu_put(b, &x, 1);
    }
    return 72 + 256 + 256 + (o->with_head ? 1280 : 680);
}

/* Writes b and counts it: 0 or -1 (with err). */
static int count_buf(const tu_buf *b, size_t n, ah_gguf_bytes *gb, ai_error *err) {
    char path[512];
    tu_write_temp(b->p, n, ".gguf", path, sizeof path);
    int rc = ah_gguf_bytes_per_token(path, gb, err);
    remove(path);
    return rc;
}

static void expect_gguf_error(const gopts *o, const char *want) {
    tu_buf b = {0};
    ah_gguf_bytes gb;
    ai_error err = {{0}};
    make_gguf(&b, o);
    int rc = count_buf(&b, b.n, &gb, &err);
    if (rc != -1 || !strstr(err.msg, want))
        fail_msg("rc %d, message '%s', want an error with '%s'", rc, err.msg, want);
    free(b.p);
}

static void test_gguf_bytes_synthetic(void **state) {
    tu_buf b = {0};
    ah_gguf_bytes gb;
    ai_error err = {{0}};
    /* tied head (token_embd.weight), then untied (output.weight) */
    for (int head = 0; head < 2; head++) {
        gopts o = {.with_head = head, .nest = 3, .alignment = head ? 64 : 0};
        uint64_t want = make_gguf(&b, &o);
        if (count_buf(&b, b.n, &gb, &err)) fail_msg("%s", err.msg);
        assert_int_equal(gb.per_token, want);
        assert_int_equal(gb.tied, !head);
        assert_int_equal(gb.n_tensors, head ? 7 : 6);
        assert_int_equal(gb.n_layer_tensors, 2);
        assert_int_equal(gb.tensor_bytes, 72 + 256 + 256 + 680 + 128 + 64 + (head ? 1280 : 0));
    }
    /* GGUF v2 has the same layout */
    gopts v2 = {.version = 2};
    make_gguf(&b, &v2);
    assert_int_equal(count_buf(&b, b.n, &gb, &err), 0);
    /* every truncation of a good file is an error, never a crash */
    gopts o = {.nest = 2, .with_head = 1};
    make_gguf(&b, &o);
    for (size_t n = 0; n < b.n; n++) {
        int rc = count_buf(&b, n, &gb, &err);
        if (rc != -1) fail_msg("a file cut to %zu of %zu bytes was accepted", n, b.n);
        assert_true(err.msg[0] != 0);
    }
    assert_non_null(strstr(err.msg, "past end of file"));
    /* random byte flips: either counted or a clean error (ASan watches) */
    make_gguf(&b, &o);
    uint8_t *orig = malloc(b.n);
    assert_non_null(orig);
    memcpy(orig, b.p, b.n);
    uint64_t seed = 0x5eed;
    for (int it = 0; it < 300; it++) {
        memcpy(b.p, orig, b.n);
        for (int k = 0; k < 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(seed >> 33) % 400; /* the header and tables */
            b.p[at % b.n] ^= (uint8_t)(1u << ((seed >> 20) & 7));
        }
        int rc = count_buf(&b, b.n, &gb, &err);
        assert_true(rc == 0 || (rc == -1 && err.msg[0]));
    }
    free(orig);
    free(b.p);

    expect_gguf_error(&(gopts){.version = 1}, "GGUF version 1");
    expect_gguf_error(&(gopts){.version = 4}, "GGUF version 4");
    expect_gguf_error(&(gopts){.bad_type = 4}, "unknown ggml type 4");
    expect_gguf_error(&(gopts){.bad_type = 1000}, "unknown ggml type 1000");
    expect_gguf_error(&(gopts){.bad_dims = 5}, "5 dimensions");
    expect_gguf_error(&(gopts){.bad_ne0 = 48}, "not a whole number of q4_0 blocks");
    expect_gguf_error(&(gopts){.bad_ne0 = 1ull << 63}, "overflows");
    expect_gguf_error(&(gopts){.alignment = 3}, "not a power of two");
    expect_gguf_error(&(gopts){.nest = 9}, "nested deeper");
    expect_gguf_error(&(gopts){.array_n = 1ull << 40}, "past end of file");
    expect_gguf_error(&(gopts){.array_n = UINT64_MAX}, "past end of file");
}

static void test_gguf_bytes_bad_files(void **state) {
    ah_gguf_bytes gb;
    ai_error err = {{0}};
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    assert_int_equal(ah_gguf_bytes_per_token("/nonexistent/m.gguf", &gb, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_int_equal(ah_gguf_bytes_per_token(dir, &gb, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    write_file(path, "");
    assert_int_equal(ah_gguf_bytes_per_token(path, &gb, &err), -1);
    assert_non_null(strstr(err.msg, "past end of file"));
    snprintf(path, sizeof path, "%s/text.gguf", dir);
    write_file(path, "hello, this is not a model\n");
    assert_int_equal(ah_gguf_bytes_per_token(path, &gb, &err), -1);
    assert_non_null(strstr(err.msg, "bad magic 'hell'"));
    /* absurd counts in a header that ends right there */
    tu_buf b = {0};
    tu_put(&b, "GGUF", 4);
    tu_u32(&b, 3);
    tu_u64(&b, 0);
    tu_u64(&b, UINT64_MAX);
    assert_int_equal(count_buf(&b, b.n, &gb, &err), -1);
    assert_non_null(strstr(err.msg, "cannot fit"));
    free(b.p);
    /* truncated copies of the real model: inside the metadata, inside the
     * tensor table, inside the data */
    FILE *f = fopen(TU_MODEL, "rb");
    if (!f) return;
    static const size_t CUTS[] = {3, 20, 24, 100, 4096, 100000, 1000000, 1700000, 3000000, 50000000};
    size_t cap = 50000000;
    char *data = malloc(cap);
    assert_non_null(data);
    size_t got = fread(data, 1, cap, f);
    fclose(f);
    for (size_t i = 0; i < sizeof CUTS / sizeof CUTS[0]; i++) {
        if (CUTS[i] > got) continue;
        snprintf(path, sizeof path, "%s/cut.gguf", dir);
        FILE *o = fopen(path, "wb");
        assert_non_null(o);
        assert_int_equal(fwrite(data, 1, CUTS[i], o), CUTS[i]);
        fclose(o);
        int rc = ah_gguf_bytes_per_token(path, &gb, &err);
        if (rc != -1) fail_msg("the model cut to %zu bytes was accepted", CUTS[i]);
        assert_true(strstr(err.msg, "past end of file") || strstr(err.msg, "cannot fit"));
        remove(path);
    }
    free(data);
}

/* The harness's count equals the engine's on real and tiny models. */
static void expect_same_as_engine(const char *path) {
    ah_gguf_bytes gb;
    ai_error err = {{0}};
    if (ah_gguf_bytes_per_token(path, &gb, &err)) fail_msg("%s", err.msg);
    ai_conf conf;
    ai_conf_defaults(&conf);
    assert_int_equal(ai_conf_set(&conf, "backend=cpu", &err), 0);
    ai_pipeline *p = ai_pipeline_open(path, &conf, &err);
    if (!p) fail_msg("%s: %s", path, err.msg);
    ai_model_desc d;
    ai_pipeline_describe(p, &d);
    if (gb.per_token != d.bytes_per_token)
        fail_msg("%s: harness counts %llu bytes per token, the engine %llu", path,
                 (unsigned long long)gb.per_token, (unsigned long long)d.bytes_per_token);
    assert_int_equal(gb.tensor_bytes, d.weight_bytes);
    ai_pipeline_close(p);
}

static void test_gguf_bytes_vs_engine(void **state) {
    FILE *f = fopen(TU_MODEL, "rb");
    if (!f) {
        print_message("skip: %s not present\n", TU_MODEL);
        return;
    }
    fclose(f);
    expect_same_as_engine(TU_MODEL);
    ah_gguf_bytes gb;
    ai_error err;
    assert_int_equal(ah_gguf_bytes_per_token(TU_MODEL, &gb, &err), 0);
    assert_int_equal(gb.tied, 1); /* SmolLM2's head is its embedding */
    assert_int_equal(gb.version, 3);
    assert_int_equal(gb.n_tensors, 272);
    /* other real models when present (make test fetches qwen2) */
    static const char *const MORE[] = {"models/Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf",
                                       "models/qwen2.5-0.5b-instruct-q4_0.gguf"};
    for (size_t i = 0; i < sizeof MORE / sizeof MORE[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", AI_SOURCE_DIR, MORE[i]);
        if ((f = fopen(path, "rb"))) {
            fclose(f);
            expect_same_as_engine(path);
        }
    }
    /* tiny llama and qwen2 (biases) models in several weight formats, an
     * untied head among them */
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    static const unsigned TYPES[] = {AI_Q8_0, AI_Q4_0, AI_Q4_1, AI_Q5_0, AI_Q5_1, AI_Q4_K,
                                     AI_Q6_K, AI_F16, AI_F32, AI_BF16};
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        tu_tiny_opts o = {.arch = i % 2 ? "qwen2" : "llama", .weight_type = TYPES[i],
                          .n_embd = 256, .n_ff = 512};
        snprintf(path, sizeof path, "%s/tiny%zu.gguf", dir, i);
        tu_make_tiny_model(path, &o);
        expect_same_as_engine(path);
        remove(path);
    }
}

/* Without a GPU (this build may have CUDA or not) the probes fail cleanly. */
static void test_gpu_probes_fail_cleanly(void **state) {
    char why[256] = "", name[160] = "x";
    int n = ah_gpu_count(why, sizeof why);
    if (n > 0) { /* a machine with a GPU: the probes must measure */
        uint64_t used, total;
        assert_int_equal(ah_gpu_mem(&used, &total, why, sizeof why), 0);
        assert_true(total > 0 && used <= total);
        double bw = ah_gpu_bandwidth_probe(64u << 20, name, sizeof name, why, sizeof why);
        if (!(bw > 1 && bw < 100000)) fail_msg("GPU bandwidth %g GB/s: %s", bw, why);
        print_message("GPU %s: %.0f GB/s (%s)\n", name, bw, why);
        return;
    }
    assert_true(why[0] != 0);
    double bw = ah_gpu_bandwidth_probe(0, name, sizeof name, why, sizeof why);
    assert_true(isnan(bw));
    assert_true(why[0] != 0);
    assert_string_equal(name, "");
    uint64_t used = 1, total = 1;
    assert_int_equal(ah_gpu_mem(&used, &total, why, sizeof why), -1);
    assert_int_equal(used, 0);
    assert_true(why[0] != 0);
    ah_gpu_release();
    /* the roofline of a cuda pipeline without a measured GPU is flagged */
    ah_plausible p;
    ah_plausible_check(100, 1000000, NAN, 1.25, &p);
    assert_int_equal(p.ok, 1);
    ah_plausible_note(&p, "cuda", why, 999, 1);
    assert_int_equal(p.ok, 0);
    assert_non_null(strstr(p.why, "could not measure the GPU"));
    assert_int_equal(p.engine_bytes_per_token, 999);
    /* ... but not on the CPU, nor without speed runs */
    ah_plausible_check(100, 1000000, NAN, 1.25, &p);
    ah_plausible_note(&p, "cpu", "x", 0, 1);
    assert_int_equal(p.ok, 1);
    ah_plausible_check(1, 1000000, NAN, 1.25, &p);
    ah_plausible_note(&p, "cuda", "x", 0, 0);
    assert_int_equal(p.ok, 1);
}

static void test_sha256(void **state) {
    char hex[65];
    ah_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ah_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ah_sha256_hex(m, strlen(m), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanity_checks),  cmocka_unit_test(test_gate_config),
        cmocka_unit_test(test_gate_decision),  cmocka_unit_test(test_kl_known),
        cmocka_unit_test(test_refs_file),      cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_function_scan),  cmocka_unit_test(test_knob_diff),
        cmocka_unit_test(test_plausible),      cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_gguf_bytes_synthetic), cmocka_unit_test(test_gguf_bytes_bad_files),
        cmocka_unit_test(test_gguf_bytes_vs_engine), cmocka_unit_test(test_gpu_probes_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
