/* test_harness_units.c — the harness's self-contained pieces: every sanity
 * check (pass and fail), the gate config and decision, the reference file
 * (round trip, corruption), KL on known distributions, the JSON writer,
 * the function scanner, the knob diff, the roofline check, SHA-256. */
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
    ah_plausible_check(NAN, 100000000, 30, 1.25, &p);
    assert_int_equal(p.ok, 0);
    double bw = ah_bandwidth_probe(8u << 20, 1);
    assert_true(bw > 0.1 && bw < 10000);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
