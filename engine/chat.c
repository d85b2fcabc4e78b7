/* chat.c — the common chat templates, recognised from the Jinja text of
 * tokenizer.chat_template and rendered natively for one system + user turn
 * followed by the assistant header.
 *
 * No Jinja interpreter: each family's output shape is fixed, and the few
 * things that vary between models of a family (ChatML's default system
 * prompt, Llama 3's date lines, how Gemma folds the system text) are read out
 * of the template text by ai_chat_parse. tests/test_chat.c checks the output
 * against jinja2 rendering the real templates (tools/fixtures_tokenizer.py).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

const char *ai_chat_family_name(ai_chat_family f) {
    switch (f) {
    case AI_CHAT_CHATML: return "chatml";
    case AI_CHAT_LLAMA3: return "llama3";
    case AI_CHAT_GEMMA: return "gemma";
    case AI_CHAT_PHI3: return "phi3";
    case AI_CHAT_DEEPSEEK_LLM: return "deepseek-llm";
    case AI_CHAT_DEEPSEEK_CODER: return "deepseek-coder";
    case AI_CHAT_DEEPSEEK_R1: return "deepseek-r1";
    case AI_CHAT_MISTRAL_V7: return "mistral-v7";
    case AI_CHAT_MISTRAL_TEKKEN: return "mistral-tekken";
    case AI_CHAT_MISTRAL_V3: return "mistral-v3";
    default: return "none";
    }
}

/* DeepSeek's markers (U+FF5C fullwidth bars, U+2581 for spaces); its
 * templates all write bos_token, this text */
#define DEEPSEEK_BOS "<｜begin▁of▁sentence｜>"
#define DEEPSEEK_USER "<｜User｜>"
#define DEEPSEEK_ASSISTANT "<｜Assistant｜>"

/* The marker strings follow llama.cpp's llm_chat_detect_template, so a
 * template is read as the same family there and here. */
ai_chat_family ai_chat_detect(const char *tmpl) {
    if (!tmpl) return AI_CHAT_NONE;
    if (strstr(tmpl, "<|start_header_id|>")) return AI_CHAT_LLAMA3;
    if (strstr(tmpl, "<start_of_turn>")) return AI_CHAT_GEMMA;
    if (strstr(tmpl, "<|im_start|>")) return AI_CHAT_CHATML;
    if (strstr(tmpl, "[SYSTEM_PROMPT]")) return AI_CHAT_MISTRAL_V7;
    if (strstr(tmpl, "\"[INST]\"")) return AI_CHAT_MISTRAL_TEKKEN; /* v3-tekken (Nemo) */
    /* v3 (Mistral 7B v0.3, Large 2407, Mixtral 8x22B); " [INST]" is v1's */
    if (strstr(tmpl, "[INST]") && strstr(tmpl, "[AVAILABLE_TOOLS]") && !strstr(tmpl, " [INST]"))
        return AI_CHAT_MISTRAL_V3;
    if (strstr(tmpl, "<|assistant|>") && strstr(tmpl, "<|end|>")) return AI_CHAT_PHI3;
    if (strstr(tmpl, "### Instruction:") && strstr(tmpl, "<|EOT|>")) return AI_CHAT_DEEPSEEK_CODER;
    if (strstr(tmpl, "'Assistant: ' + message['content'] + eos_token")) return AI_CHAT_DEEPSEEK_LLM;
    if (strstr(tmpl, DEEPSEEK_ASSISTANT) && strstr(tmpl, DEEPSEEK_USER)) return AI_CHAT_DEEPSEEK_R1;
    return AI_CHAT_NONE;
}

const char *ai_chat_raw_hint(void) {
    return "pass a raw prompt instead (leave out --chat)";
}

int ai_chat_unknown_error(ai_error *err, const char *where) {
    return ai_error_set(err,
                        "%s%schat template is missing or not recognised (known: chatml <|im_start|>, "
                        "llama3 <|start_header_id|>, gemma <start_of_turn>, phi3 <|assistant|>, "
                        "deepseek-llm/-coder/-r1, mistral-v7 [SYSTEM_PROMPT], mistral-tekken \"[INST]\", "
                        "mistral-v3 [AVAILABLE_TOOLS]); %s",
                        where ? where : "", where ? ": " : "", ai_chat_raw_hint());
}

/* ---- reading values out of the template text ------------------------------ */

/* Skips a newline written either as a real one or as the escape "\n". */
static const char *skip_newline(const char *p) {
    if (p[0] == '\n') return p + 1;
    if (p[0] == '\\' && p[1] == 'n') return p + 2;
    return NULL;
}

/* Copies the string-literal text at p into out (escapes undone) up to the
 * marker `until`; fails (returns false) when the literal ends first, i.e. an
 * unescaped quote comes before the marker, or the text does not fit. */
static bool literal_until(const char *p, const char *until, char *out, size_t cap) {
    size_t n = 0, ul = strlen(until);
    while (*p) {
        if (!strncmp(p, until, ul)) {
            out[n] = 0;
            return true;
        }
        char c = *p++;
        if (c == '\'' || c == '"') return false;
        if (c == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': case '\'': case '"': c = e; break;
            default: return false;
            }
        }
        if (n + 1 >= cap) return false;
        out[n++] = c;
    }
    return false;
}

int ai_chat_parse(const char *tmpl, ai_chat_template *out, ai_error *err) {
    memset(out, 0, sizeof *out);
    out->family = ai_chat_detect(tmpl);
    if (tmpl) {
        out->writes_bos = strstr(tmpl, "bos_token") != NULL;
        out->thinking = strstr(tmpl, "enable_thinking") != NULL;
        out->enable_thinking = true;
    }
    switch (out->family) {
    case AI_CHAT_NONE:
        return ai_chat_unknown_error(err, NULL);
    case AI_CHAT_CHATML:
        /* the system turn the template writes when none is given:
           '<|im_start|>system\n' + literal text + '<|im_end|>' */
        for (const char *p = strstr(tmpl, "<|im_start|>system"); p; p = strstr(p + 1, "<|im_start|>system")) {
            const char *q = skip_newline(p + strlen("<|im_start|>system"));
            if (q && literal_until(q, "<|im_end|>", out->default_system, sizeof out->default_system) &&
                out->default_system[0]) {
                out->has_default_system = true;
                break;
            }
        }
        break;
    case AI_CHAT_PHI3:
        out->system_role = strstr(tmpl, "<|system|>") != NULL; /* Phi-3.5; Phi-3 drops system turns */
        break;
    case AI_CHAT_DEEPSEEK_CODER: {
        /* {%- if not ns.found -%}{{'You are an AI programming assistant, ...\n'}} */
        const char *p = strstr(tmpl, "if not ns.found");
        p = p ? strstr(p, "{{'") : NULL;
        out->has_default_system =
            p && literal_until(p + 3, "'}}", out->default_system, sizeof out->default_system);
        break;
    }
    case AI_CHAT_DEEPSEEK_R1:
        out->think_open = strstr(tmpl, DEEPSEEK_ASSISTANT "<think>") != NULL;
        break;
    case AI_CHAT_MISTRAL_V7: {
        out->mistral_space = strstr(tmpl, "'[INST] '") != NULL;
        /* a plain-literal default (Devstral); one built with today's date
           (Mistral Small 3.2) is not reproduced */
        const char *p = strstr(tmpl, "set default_system_message = '");
        if (p) {
            p += strlen("set default_system_message = '");
            out->has_default_system = literal_until(p, "' %}", out->default_system, sizeof out->default_system);
        }
        break;
    }
    default:
        break;
    case AI_CHAT_LLAMA3: {
        const char *p = strstr(tmpl, "Cutting Knowledge Date: ");
        out->date_header = p != NULL;
        snprintf(out->knowledge_date, sizeof out->knowledge_date, "December 2023");
        snprintf(out->today_date, sizeof out->today_date, "26 Jul 2024");
        if (p) {
            p += strlen("Cutting Knowledge Date: ");
            char v[64];
            if (literal_until(p, "\\n", v, sizeof v) || literal_until(p, "\n", v, sizeof v))
                snprintf(out->knowledge_date, sizeof out->knowledge_date, "%s", v);
        }
        /* the date used when the caller passes none: set date_string = "..." */
        const char *d = strstr(tmpl, "set date_string = ");
        if (d) {
            d += strlen("set date_string = ");
            char q = *d;
            char v[64];
            char until[2] = {q, 0};
            if ((q == '"' || q == '\'') && literal_until(d + 1, until, v, sizeof v))
                snprintf(out->today_date, sizeof out->today_date, "%s", v);
        }
        break;
    }
    case AI_CHAT_GEMMA:
        /* Gemma 3 puts "system\n\n" in front of the trimmed first user turn;
           Gemma 2 has no system role, so the system text is folded into the
           user turn before it is trimmed as a whole. */
        out->gemma_trim_all = strstr(tmpl, "first_user_prefix") == NULL;
        break;
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct { char *p; size_t n, cap; bool full; } sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->full || b->n + n + 1 > b->cap) { b->full = true; return; }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Length in bytes of a whitespace character at s (Python's str.isspace, as
 * Jinja's trim uses), or 0. */
static int space_at(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    if ((s[0] >= 0x09 && s[0] <= 0x0D) || s[0] == ' ' || (s[0] >= 0x1C && s[0] <= 0x1F)) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;         /* U+1680 */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) return 3; /* U+2000-200A, 2028, 2029, 202F */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;         /* U+205F */
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;         /* U+3000 */
    return 0;
}

/* Length of the whitespace character that ends s[0..n), or 0. */
static int space_before(const unsigned char *s, size_t n) {
    for (int l = 1; l <= 3 && (size_t)l <= n; l++)
        if (space_at(s + n - l, (size_t)l) == l) return l;
    return 0;
}

/* Jinja's |trim: strips leading and trailing whitespace. */
static void put_trimmed(sbuf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    int l;
    while ((l = space_at(p, n)) > 0) { p += l; n -= (size_t)l; }
    while ((l = space_before(p, n)) > 0) n -= (size_t)l;
    put(b, (const char *)p, n);
}

int ai_chat_template_render(const ai_chat_template *ct, const char *system, const char *user, char *out,
                            size_t cap, ai_error *err) {
    if (!user) user = "";
    sbuf b = {out, 0, cap, cap == 0};
    if (cap) out[0] = 0;
    switch (ct->family) {
    case AI_CHAT_CHATML:
        if (!system && ct->has_default_system) system = ct->default_system;
        if (system) {
            puts_(&b, "<|im_start|>system\n");
            puts_(&b, system);
            puts_(&b, "<|im_end|>\n");
        }
        puts_(&b, "<|im_start|>user\n");
        puts_(&b, user);
        puts_(&b, "<|im_end|>\n<|im_start|>assistant\n");
        if (ct->thinking && !ct->enable_thinking) puts_(&b, "<think>\n\n</think>\n\n"); /* Qwen3 */
        break;
    case AI_CHAT_PHI3:
        if (ct->writes_bos) puts_(&b, "<s>");
        if (system && system[0] && ct->system_role) {
            puts_(&b, "<|system|>\n");
            puts_(&b, system);
            puts_(&b, "<|end|>\n");
        }
        puts_(&b, "<|user|>\n");
        if (system && !ct->system_role) {
            puts_(&b, system);
            puts_(&b, "\n\n");
        }
        puts_(&b, user);
        puts_(&b, "<|end|>\n<|assistant|>\n");
        break;
    case AI_CHAT_DEEPSEEK_LLM:
        puts_(&b, DEEPSEEK_BOS);
        if (system) {
            puts_(&b, system);
            puts_(&b, "\n\n");
        }
        puts_(&b, "User: ");
        puts_(&b, user);
        puts_(&b, "\n\nAssistant:");
        break;
    case AI_CHAT_DEEPSEEK_CODER:
        puts_(&b, DEEPSEEK_BOS);
        if (!system && ct->has_default_system) system = ct->default_system;
        if (system) puts_(&b, system);
        puts_(&b, "### Instruction:\n");
        puts_(&b, user);
        puts_(&b, "\n### Response:\n");
        break;
    case AI_CHAT_DEEPSEEK_R1:
        puts_(&b, DEEPSEEK_BOS);
        if (system) puts_(&b, system);
        puts_(&b, DEEPSEEK_USER);
        puts_(&b, user);
        puts_(&b, DEEPSEEK_ASSISTANT);
        if (ct->think_open) puts_(&b, "<think>\n");
        if (ct->thinking && !ct->enable_thinking) puts_(&b, "</think>");
        break;
    case AI_CHAT_MISTRAL_V7: {
        const char *sp = ct->mistral_space ? " " : "";
        if (ct->writes_bos) puts_(&b, "<s>");
        if (!system && ct->has_default_system) system = ct->default_system;
        if (system) {
            puts_(&b, "[SYSTEM_PROMPT]");
            puts_(&b, sp);
            puts_(&b, system);
            puts_(&b, "[/SYSTEM_PROMPT]");
        }
        puts_(&b, "[INST]");
        puts_(&b, sp);
        puts_(&b, user);
        puts_(&b, "[/INST]");
        break;
    }
    case AI_CHAT_MISTRAL_TEKKEN: case AI_CHAT_MISTRAL_V3:
        /* the system text goes in front of the last user turn; v3 puts a
           space after [INST], Tekken none */
        if (ct->writes_bos) puts_(&b, "<s>");
        puts_(&b, ct->family == AI_CHAT_MISTRAL_V3 ? "[INST] " : "[INST]");
        if (system) {
            puts_(&b, system);
            puts_(&b, "\n\n");
        }
        puts_(&b, user);
        puts_(&b, "[/INST]");
        break;
    case AI_CHAT_LLAMA3:
        puts_(&b, "<|begin_of_text|>");
        if (ct->date_header) {
            puts_(&b, "<|start_header_id|>system<|end_header_id|>\n\n");
            puts_(&b, "Cutting Knowledge Date: ");
            puts_(&b, ct->knowledge_date);
            puts_(&b, "\nToday Date: ");
            puts_(&b, ct->today_date);
            puts_(&b, "\n\n");
            if (system) put_trimmed(&b, system);
            puts_(&b, "<|eot_id|>");
        } else if (system) { /* Llama 3.0: a system turn only when given */
            puts_(&b, "<|start_header_id|>system<|end_header_id|>\n\n");
            put_trimmed(&b, system);
            puts_(&b, "<|eot_id|>");
        }
        puts_(&b, "<|start_header_id|>user<|end_header_id|>\n\n");
        put_trimmed(&b, user);
        puts_(&b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case AI_CHAT_GEMMA:
        puts_(&b, "<bos><start_of_turn>user\n");
        if (system && ct->gemma_trim_all) {
            /* trim(system + "\n\n" + user) */
            size_t sl = strlen(system), ul = strlen(user);
            char tmp[512];
            char *joined = sl + ul + 3 <= sizeof tmp ? tmp : NULL;
            char *heap = NULL;
            if (!joined) {
                heap = malloc(sl + ul + 3);
                if (!heap) return ai_error_set(err, "chat template: out of memory");
                joined = heap;
            }
            memcpy(joined, system, sl);
            memcpy(joined + sl, "\n\n", 2);
            memcpy(joined + sl + 2, user, ul + 1);
            put_trimmed(&b, joined);
            free(heap);
        } else {
            if (system) {
                puts_(&b, system);
                puts_(&b, "\n\n");
            }
            put_trimmed(&b, user);
        }
        puts_(&b, "<end_of_turn>\n<start_of_turn>model\n");
        break;
    default:
        return ai_chat_unknown_error(err, NULL);
    }
    if (b.full)
        return ai_error_set(err, "chat template (%s): the formatted prompt does not fit in %zu bytes",
                            ai_chat_family_name(ct->family), cap);
    return (int)b.n;
}

int ai_chat_render(ai_chat_family f, const char *system, const char *user, char *out, size_t cap,
                   ai_error *err) {
    ai_chat_template ct;
    memset(&ct, 0, sizeof ct);
    ct.family = f;
    ct.date_header = true;
    ct.enable_thinking = true;
    snprintf(ct.knowledge_date, sizeof ct.knowledge_date, "December 2023");
    snprintf(ct.today_date, sizeof ct.today_date, "26 Jul 2024");
    return ai_chat_template_render(&ct, system, user, out, cap, err);
}
