/* test_chat.c — chat template recognition and rendering against jinja2
 * references (tests/data/fixtures/chat_render.json, made by
 * tools/fixtures_tokenizer.py from the real templates). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_render_fixtures),
        cmocka_unit_test(test_unknown_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
