/* test_chat.c — chat template recognition and rendering against jinja2
 * references (tests/data/fixtures/chat_render.json, made by
 * tools/fixtures_tokenizer.py from the real templates). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoinfer.h"
#include "gguf.h"
#include "tokenizer.h"

#define TDIR AI_SOURCE_DIR "/tests/data/chat-templates/"
#define FIXTURE AI_SOURCE_DIR "/tests/data/fixtures/chat_render.json"

static char *read_template(const char *file) {
    char path[512];
    snprintf(path, sizeof path, TDIR "%s", file);
    size_t n;
    char *s = tu_read_file(path, &n);
    if (!s) fail_msg("cannot read %s", path);
    return s;
}

/* The template of a model in models/ (malloc'd), or NULL if it is absent. */
static char *model_template(const char *name) {
    const char *file = !strcmp(name, "smollm2") ? "SmolLM2-135M-Instruct.Q4_1.gguf"
                       : !strcmp(name, "qwen2") ? "Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf"
                       : !strcmp(name, "gemma3") ? "gemma-3-270m-q4_k_m.gguf" : NULL;
    if (!file) fail_msg("unknown model %s in the fixture", name);
    char path[512];
    snprintf(path, sizeof path, AI_SOURCE_DIR "/models/%s", file);
    if (access(path, R_OK) != 0) return NULL;
    ai_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    const gguf_kv *kv = gguf_find(f, "tokenizer.chat_template");
    assert_non_null(kv);
    assert_int_equal(kv->type, GGUF_STRING);
    char *s = malloc(kv->v.str.len + 1);
    memcpy(s, kv->v.str.ptr, kv->v.str.len);
    s[kv->v.str.len] = 0;
    gguf_close(f);
    return s;
}

static void test_detect(void **state) {
    (void)state;
    static const struct { const char *file; ai_chat_family fam; } T[] = {
        {"Qwen-Qwen2.5-7B-Instruct.jinja", AI_CHAT_CHATML},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", AI_CHAT_LLAMA3},
        {"google-gemma-2-2b-it.jinja", AI_CHAT_GEMMA},
        {"Qwen-Qwen3-0.6B.jinja", AI_CHAT_CHATML},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", AI_CHAT_LLAMA3},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", AI_CHAT_LLAMA3},
        {"microsoft-Phi-3-mini-4k-instruct.jinja", AI_CHAT_PHI3},
        {"microsoft-Phi-3.5-mini-instruct.jinja", AI_CHAT_PHI3},
        {"deepseek-ai-DeepSeek-V2.jinja", AI_CHAT_DEEPSEEK_LLM},
        {"deepseek-ai-deepseek-coder-33b-instruct.jinja", AI_CHAT_DEEPSEEK_CODER},
        {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", AI_CHAT_DEEPSEEK_R1},
        {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", AI_CHAT_DEEPSEEK_R1},
        {"mistralai-Mistral-Large-Instruct-2411.jinja", AI_CHAT_MISTRAL_V7},
        {"unsloth-mistral-Devstral-Small-2507.jinja", AI_CHAT_MISTRAL_V7},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", AI_CHAT_MISTRAL_TEKKEN},
        {"mistralai-Mistral-Large-Instruct-2407.jinja", AI_CHAT_MISTRAL_V3},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        char *s = read_template(T[i].file);
        assert_int_equal(ai_chat_detect(s), T[i].fam);
        free(s);
    }
    assert_int_equal(ai_chat_detect(NULL), AI_CHAT_NONE);
    assert_string_equal(ai_chat_family_name(AI_CHAT_CHATML), "chatml");
    assert_string_equal(ai_chat_family_name(AI_CHAT_LLAMA3), "llama3");
    assert_string_equal(ai_chat_family_name(AI_CHAT_GEMMA), "gemma");

    /* details read out of the template text */
    ai_chat_template ct;
    ai_error err = {{0}};
    char *s = read_template("Qwen-Qwen2.5-7B-Instruct.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.has_default_system);
    assert_string_equal(ct.default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    free(s);
    s = read_template("meta-llama-Llama-3.2-3B-Instruct.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.date_header);
    assert_string_equal(ct.knowledge_date, "December 2023");
    assert_string_equal(ct.today_date, "26 Jul 2024");
    free(s);
    s = read_template("google-gemma-2-2b-it.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.gemma_trim_all);
    free(s);
    s = read_template("Qwen-Qwen3-0.6B.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.thinking && ct.enable_thinking && !ct.has_default_system);
    free(s);
    s = read_template("deepseek-ai-deepseek-coder-33b-instruct.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.has_default_system);
    assert_true(!strncmp(ct.default_system, "You are an AI programming assistant, utilizing the Deepseek Coder", 65));
    free(s);
    s = read_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.think_open && !ct.thinking);
    free(s);
    s = read_template("unsloth-mistral-Devstral-Small-2507.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.has_default_system && !ct.mistral_space && ct.writes_bos);
    assert_true(!strncmp(ct.default_system, "You are Devstral", 16));
    free(s);
    s = read_template("microsoft-Phi-3.5-mini-instruct.jinja");
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.system_role && !ct.writes_bos);
    free(s);

    /* the default model's own template */
    s = model_template("smollm2");
    if (!s) {
        print_message("note: %s missing (make model); its template is not checked\n", TU_MODEL);
        return;
    }
    assert_int_equal(ai_chat_detect(s), AI_CHAT_CHATML);
    assert_int_equal(ai_chat_parse(s, &ct, &err), 0);
    assert_true(ct.has_default_system);
    assert_string_equal(ct.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    free(s);
}

static void test_render_fixtures(void **state) {
    (void)state;
    size_t n;
    char *js = tu_read_file(FIXTURE, &n);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    cJSON *c;
    int ncase = 0, nbad = 0, nskip = 0;
    bool families[AI_CHAT_N_FAMILIES] = {false};
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        const char *fam = cJSON_GetStringValue(cJSON_GetObjectItem(c, "family"));
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expected"));
        const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(c, "user"));
        cJSON *sys = cJSON_GetObjectItem(c, "system");
        const char *system = cJSON_IsString(sys) ? sys->valuestring : NULL;
        assert_non_null(file);
        char *tmpl = !strncmp(file, "gguf:", 5) ? model_template(file + 5) : read_template(file);
        if (!tmpl) { nskip++; continue; }
        ai_chat_template ct;
        ai_error err = {{0}};
        assert_int_equal(ai_chat_parse(tmpl, &ct, &err), 0);
        assert_string_equal(ai_chat_family_name(ct.family), fam);
        families[ct.family] = true;
        cJSON *think = cJSON_GetObjectItem(c, "enable_thinking");
        if (think) ct.enable_thinking = cJSON_IsTrue(think);
        static char out[16384]; /* Devstral's default system prompt alone is 5.7 kB */
        int len = ai_chat_template_render(&ct, system, user, out, sizeof out, &err);
        if (len < 0 || (size_t)len != strlen(want) || strcmp(out, want) != 0) {
            print_message("%s (system %s): rendering differs\n--- want:\n%s\n--- got:\n%s\n---\n", file,
                          system ? "given" : "none", want, len < 0 ? err.msg : out);
            nbad++;
        }
        ncase++;
        free(tmpl);
    }
    print_message("chat: %d cases against jinja2, %d mismatches, %d skipped (model not present)\n", ncase,
                  nbad, nskip);
    assert_int_equal(nbad, 0);
    for (int f = AI_CHAT_NONE + 1; f < AI_CHAT_N_FAMILIES; f++) {
        if (!families[f]) print_message("no fixture case for the %s family\n", ai_chat_family_name(f));
        assert_true(families[f]);
    }
    assert_true(ncase >= 100);
    cJSON_Delete(root);
    free(js);
}

static void test_unknown_and_limits(void **state) {
    (void)state;
    ai_chat_template ct;
    ai_error err = {{0}};
    /* a template of no known family (Vicuna's) */
    const char *s = "{%- for message in messages %}{%- if message['role'] == 'user' -%}{{-'USER: ' + "
                    "message['content'] + '\\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\\n' "
                    "-}}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}";
    assert_int_equal(ai_chat_parse(s, &ct, &err), -1);
    print_message("expected error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "not recognised"));
    assert_non_null(strstr(err.msg, ai_chat_raw_hint()));
    assert_non_null(strstr(ai_chat_raw_hint(), "--chat"));
    assert_int_equal(ai_chat_parse(NULL, &ct, &err), -1);
    assert_int_equal(ai_chat_unknown_error(&err, "model.gguf"), -1);
    assert_true(!strncmp(err.msg, "model.gguf: chat template", 25));
    char out[8];
    assert_int_equal(ai_chat_render(AI_CHAT_NONE, NULL, "hi", out, sizeof out, &err), -1);

    /* too small a buffer is an error, never a truncated prompt */
    char small[20];
    assert_int_equal(ai_chat_render(AI_CHAT_CHATML, NULL, "hello there", small, sizeof small, &err), -1);
    assert_non_null(strstr(err.msg, "does not fit"));
    char big[256];
    int n = ai_chat_render(AI_CHAT_CHATML, NULL, "hi", big, sizeof big, &err);
    assert_string_equal(big, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    assert_int_equal(n, (int)strlen(big));

    /* Llama 3.0 shape (no date lines): a system turn only when given */
    const char *l30 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                      "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] "
                      "| trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content "
                      "%}{% endif %}{{ content }}{% endfor %}";
    assert_int_equal(ai_chat_parse(l30, &ct, &err), 0);
    assert_false(ct.date_header);
    n = ai_chat_template_render(&ct, NULL, " hi ", big, sizeof big, &err);
    assert_string_equal(big, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n");
    /* Unicode whitespace is trimmed as Jinja's trim does (U+3000, NBSP) */
    n = ai_chat_template_render(&ct, NULL, "\xE3\x80\x80hi\xC2\xA0", big, sizeof big, &err);
    assert_non_null(strstr(big, "\n\nhi<|eot_id|>"));
}

/* A tiny model (the default model's vocabulary) written with `o` into dir,
 * opened with the default knobs. */
static ai_pipeline *open_tiny(const char *dir, const char *name, const tu_tiny_opts *o, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s.gguf", dir, name);
    tu_make_tiny_model(path, o);
    ai_conf c;
    ai_conf_defaults(&c);
    ai_error err = {{0}};
    ai_pipeline *p = ai_pipeline_open(path, &c, &err);
    if (!p) fail_msg("%s: %s", path, err.msg);
    return p;
}

/* The prompt token count `autoinfer generate` reports for a chat prompt. */
static int cli_prompt_tokens(const char *model, const char *think) {
    char out[4096];
    int rc = tu_runf(out, sizeof out, "%s generate -m %s --chat --think %s -p hi -n 1 --temp 0 2>&1 >/dev/null",
                     TU_BIN, model, think);
    const char *at = strstr(out, "prompt tokens: ");
    if (rc != 0 || !at) fail_msg("generate --think %s: exit %d: %s", think, rc, out);
    return atoi(at + strlen("prompt tokens: "));
}

/* Qwen3's thinking switch through the public API, on a model whose GGUF
 * carries the real Qwen3 template: the default and ai_chat_set_thinking
 * on/off render what jinja2 renders for enable_thinking true/false (the
 * fixture's cases); `generate --chat --think` reaches the prompt; a
 * template without the switch refuses it, naming why. */
static void test_thinking_switch(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    char *tmpl = read_template("Qwen-Qwen3-0.6B.jinja");
    ai_pipeline *p = open_tiny(dir, "qwen3-template", &(tu_tiny_opts){.chat_template = tmpl}, path, sizeof path);
    char *js = tu_read_file(FIXTURE, NULL);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    static char out[16384];
    ai_error err = {{0}};
    int ncase = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "file")), "Qwen-Qwen3-0.6B.jinja")) continue;
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expected"));
        const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(c, "user"));
        cJSON *sys = cJSON_GetObjectItem(c, "system");
        bool think = cJSON_IsTrue(cJSON_GetObjectItem(c, "enable_thinking"));
        if (think && ncase == 0) { /* before any choice: the template's default, on */
            assert_true(ai_chat_format(p, cJSON_IsString(sys) ? sys->valuestring : NULL, user, out, sizeof out, &err) > 0);
            assert_string_equal(out, want);
        }
        assert_int_equal(ai_chat_set_thinking(p, think, &err), 0);
        assert_true(ai_chat_format(p, cJSON_IsString(sys) ? sys->valuestring : NULL, user, out, sizeof out, &err) > 0);
        assert_string_equal(out, want);
        ncase++;
    }
    assert_true(ncase >= 4);
    /* the CLI flag: each choice's prompt, tokenized, is what generate ran */
    int32_t toks[512];
    int n_tok[2];
    for (int on = 0; on < 2; on++) {
        assert_int_equal(ai_chat_set_thinking(p, on, &err), 0);
        assert_true(ai_chat_format(p, NULL, "hi", out, sizeof out, &err) > 0);
        n_tok[on] = ai_tokenize(p, out, 1, 1, toks, 512, &err);
        assert_int_equal(cli_prompt_tokens(path, on ? "on" : "off"), n_tok[on]);
    }
    assert_true(n_tok[0] > n_tok[1]); /* off adds the empty think block */
    ai_pipeline_close(p);
    unlink(path);

    /* ChatML without the switch (the default model's template) */
    p = open_tiny(dir, "chatml", &(tu_tiny_opts){0}, path, sizeof path);
    assert_int_equal(ai_chat_set_thinking(p, 0, &err), -1);
    print_message("expected error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "the chat template (chatml) has no thinking switch"));
    char cli[4096];
    assert_int_equal(tu_runf(cli, sizeof cli, "%s generate -m %s --chat --think off -p hi -n 1 2>&1", TU_BIN, path), 1);
    assert_non_null(strstr(cli, "has no thinking switch"));
    assert_ptr_equal(strchr(cli, '\n'), cli + strlen(cli) - 1); /* one line */
    ai_pipeline_close(p);
    unlink(path);
    rmdir(dir);
    cJSON_Delete(root);
    free(js);
    free(tmpl);
}

/* BOS on the chat path, as llama.cpp's common chat and completion tool do it
 * (common/chat.cpp drops a leading BOS text from the rendered prompt when the
 * model adds BOS; completion tokenizes it with add_special and
 * parse_special): exactly one BOS when tokenizer.ggml.add_bos_token is true,
 * whether or not the template writes the BOS text itself, and none added
 * when false. The default model's BOS is <|im_start|> (id 1), the text its
 * ChatML template begins with; id 2 stands for a BOS the template does not
 * write. */
static void test_chat_bos(void **state) {
    (void)state;
    static const struct { const char *name; int add_bos, bos; const char *bos_text; } M[] = {
        {"no-add-bos", 0, 0, "<|im_start|>"},     /* add_bos_token = false (as SmolLM2) */
        {"bos-written", 1, 0, "<|im_start|>"},    /* true; the template writes the BOS text */
        {"bos-not-written", 1, 2, "<|im_end|>"},  /* true; it does not */
    };
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++) {
        ai_pipeline *p = open_tiny(dir, M[i].name, &(tu_tiny_opts){.add_bos_token = M[i].add_bos,
                                                                   .bos_token_id = M[i].bos}, path, sizeof path);
        ai_model_desc d;
        ai_pipeline_describe(p, &d);
        assert_int_equal(d.add_bos, M[i].add_bos);
        ai_error err = {{0}};
        char text[1024];
        assert_true(ai_chat_format(p, "Be brief.", "hi", text, sizeof text, &err) > 0);
        /* llama.cpp's rule, step by step */
        const char *rest = text;
        size_t bl = strlen(M[i].bos_text);
        if (d.add_bos && !strncmp(text, M[i].bos_text, bl)) rest += bl;
        int32_t want[512], got[512];
        int nw = 0;
        if (d.add_bos) want[nw++] = d.bos;
        nw += ai_tokenize(p, rest, 0, 1, want + nw, 512 - nw, &err);
        int ng = ai_tokenize(p, text, 1, 1, got, 512, &err);
        print_message("%s: %d tokens, first %d %d (bos %d)\n", M[i].name, ng, got[0], got[1], d.bos);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, (size_t)ng * sizeof *got);
        assert_true(got[0] != got[1]); /* never two BOS */
        if (d.add_bos) assert_int_equal(got[0], d.bos);
        ai_pipeline_close(p);
        unlink(path);
    }
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_render_fixtures),
        cmocka_unit_test(test_unknown_and_limits),
        cmocka_unit_test(test_thinking_switch),
        cmocka_unit_test(test_chat_bos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
