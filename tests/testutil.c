/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_run(const char *cmd, char *out, size_t cap) {
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = 0;
    if (out && cap) {
        size_t r;
        char buf[4096];
        while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
            size_t take = (n + r < cap - 1) ? r : cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
        out[n] = 0;
    } else {
        char buf[4096];
        while (fread(buf, 1, sizeof buf, p) > 0) {}
    }
    int st = pclose(p);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int tu_runf(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return tu_run(cmd, out, cap);
}

void tu_write_temp(const void *data, size_t n, const char *suffix, char *path,
                   size_t cap) {
    snprintf(path, cap, "/tmp/autoinfer-test-XXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(path, suffix ? (int)strlen(suffix) : 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[sz] = 0;
        if (len) *len = (size_t)sz;
    }
    return buf;
}

void tu_temp_dir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/autoinfer-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}

#include "gguf.h"
#include "quant.h"

static float tu_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

void tu_make_tiny_model(const char *path, const tu_tiny_opts *o) {
    const char *arch = o->arch ? o->arch : "llama";
    uint32_t wt = o->weight_type ? o->weight_type : AI_Q8_0;
    int d = o->n_embd ? o->n_embd : 64, L = o->n_layer ? o->n_layer : 2;
    int nh = o->n_head ? o->n_head : 4, nkv = o->n_head_kv ? o->n_head_kv : 2;
    int ff = o->n_ff ? o->n_ff : 128, hd = d / nh;
    ai_error err;
    gguf_file *vf = gguf_open(TU_MODEL, &err);
    assert_non_null(vf);
    int64_t vocab = gguf_find_tensor(vf, "token_embd.weight")->ne[1];
    gguf_writer *w = gguf_writer_new();
    char key[128];
#define PUT_U32(suffix, v)                                   \
    snprintf(key, sizeof key, "%s.%s", arch, suffix);        \
    if (!o->drop_key || strcmp(o->drop_key, key)) gguf_writer_u32(w, key, (uint32_t)(v));
    gguf_writer_str(w, "general.architecture", arch);
    PUT_U32("context_length", 512);
    PUT_U32("embedding_length", d);
    PUT_U32("block_count", L);
    PUT_U32("feed_forward_length", ff);
    PUT_U32("attention.head_count", nh);
    PUT_U32("attention.head_count_kv", nkv);
#undef PUT_U32
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (!o->drop_key || strcmp(o->drop_key, key)) gguf_writer_f32(w, key, 1e-5f);
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    gguf_writer_f32(w, key, 10000.0f);
    if (o->rope_scaling_type) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        gguf_writer_str(w, key, o->rope_scaling_type);
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
        gguf_writer_f32(w, key, o->rope_scaling_factor);
    }
    for (uint64_t i = 0; i < vf->n_kv; i++) {
        const gguf_kv *kv = &vf->kvs[i];
#define IS(k) (kv->key.len == strlen(k) && !memcmp(kv->key.ptr, k, strlen(k)))
        bool replaced = (o->chat_template && IS("tokenizer.chat_template")) ||
                        (o->add_bos_token && IS("tokenizer.ggml.add_bos_token")) ||
                        (o->bos_token_id > 0 && IS("tokenizer.ggml.bos_token_id"));
#undef IS
        if (kv->key.len > 10 && !memcmp(kv->key.ptr, "tokenizer.", 10) && !replaced) gguf_writer_copy_kv(w, kv);
    }
    if (o->chat_template) gguf_writer_str(w, "tokenizer.chat_template", o->chat_template);
    if (o->add_bos_token) gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", true);
    if (o->bos_token_id > 0) gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)o->bos_token_id);

    void *blobs[256];
    int nb = 0;
    uint64_t seed = 12345;
    struct { char name[64]; int64_t cols, rows; float center, spread; } ts[256];
    int nt = 0;
#define ADD(nm, c, r, ce, sp) do { snprintf(ts[nt].name, 64, "%s", nm); ts[nt].cols = c; \
        ts[nt].rows = r; ts[nt].center = ce; ts[nt].spread = sp; nt++; } while (0)
    ADD("token_embd.weight", d, vocab, 0, 0.5f);
    ADD("output_norm.weight", d, 1, 1, 0.1f);
    bool qwen = !strcmp(arch, "qwen2");
    for (int l = 0; l < L; l++) {
        char n[64];
#define LADD(s, c, r, ce, sp) snprintf(n, sizeof n, "blk.%d.%s", l, s); ADD(n, c, r, ce, sp)
        LADD("attn_norm.weight", d, 1, 1, 0.1f);
        LADD("attn_q.weight", d, nh * hd, 0, 0.2f);
        LADD("attn_k.weight", d, nkv * hd, 0, 0.2f);
        LADD("attn_v.weight", d, nkv * hd, 0, 0.2f);
        LADD("attn_output.weight", nh * hd, d, 0, 0.2f);
        if (qwen) {
            LADD("attn_q.bias", nh * hd, 1, 0, 0.1f);
            LADD("attn_k.bias", nkv * hd, 1, 0, 0.1f);
            LADD("attn_v.bias", nkv * hd, 1, 0, 0.1f);
        }
        LADD("ffn_norm.weight", d, 1, 1, 0.1f);
        LADD("ffn_gate.weight", d, ff, 0, 0.2f);
        LADD("ffn_up.weight", d, ff, 0, 0.2f);
        LADD("ffn_down.weight", ff, d, 0, 0.2f);
#undef LADD
    }
#undef ADD
    for (int i = 0; i < nt; i++) {
        int64_t cols = ts[i].cols, rows = ts[i].rows;
        uint32_t type = rows > 1 ? wt : AI_F32;
        if (o->bad_shape_tensor && !strcmp(o->bad_shape_tensor, ts[i].name)) rows += 1;
        if (o->bad_type_tensor && !strcmp(o->bad_type_tensor, ts[i].name)) type = AI_Q2_K;
        size_t rb = type == AI_Q2_K ? (size_t)(cols / 256 + 1) * 84 : ai_row_bytes(type, cols);
        uint8_t *data = calloc((size_t)rows, rb);
        float *row = malloc((size_t)cols * sizeof *row);
        assert_non_null(data);
        for (int64_t r = 0; r < rows && type != AI_Q2_K; r++) {
            for (int64_t c = 0; c < cols; c++) row[c] = ts[i].center + ts[i].spread * tu_rand(&seed);
            ai_quantize_row(type, row, data + (size_t)r * rb, cols);
        }
        free(row);
        int64_t ne[2] = {type == AI_Q2_K ? (int64_t)(rb / 84) * 256 : cols, rows};
        gguf_writer_tensor(w, ts[i].name, type, rows > 1 ? 2 : 1, ne, data, rb * (size_t)rows);
        blobs[nb++] = data;
    }
    if (gguf_writer_write(w, path, &err)) fail_msg("%s", err.msg);
    for (int i = 0; i < nb; i++) free(blobs[i]);
    gguf_writer_free(w);
    gguf_close(vf);
}
