/* tokenizer.h — tokenizers built from a GGUF's tokenizer.ggml.* metadata:
 * byte-level BPE (with the pre-tokenizer regexes that tokenizer.ggml.pre
 * names, via PCRE2) and SentencePiece-style (llama-spm, gemma). */
#ifndef AI_TOKENIZER_H
#define AI_TOKENIZER_H

#include "autoinfer.h"
#include "gguf.h"

typedef struct ai_tokenizer ai_tokenizer;

/* Everything needed is copied: f may be closed afterwards. A missing or
 * mistyped key, or an unknown model / pre-tokenizer name, is an error naming
 * the key. */
ai_tokenizer *ai_tokenizer_load(const gguf_file *f, ai_error *err);
void ai_tokenizer_free(ai_tokenizer *t);

int ai_tokenizer_n_vocab(const ai_tokenizer *t);
int32_t ai_tokenizer_bos(const ai_tokenizer *t);  /* -1 when none */
int32_t ai_tokenizer_eos(const ai_tokenizer *t);
int32_t ai_tokenizer_eot(const ai_tokenizer *t);  /* end of turn, -1 if none */
bool ai_tokenizer_add_bos(const ai_tokenizer *t); /* model wants BOS */
/* True for EOS, EOT and other end-of-generation tokens. */
bool ai_tokenizer_is_eog(const ai_tokenizer *t, int32_t tok);
const char *ai_tokenizer_kind(const ai_tokenizer *t); /* "bpe" / "spm" */
const char *ai_tokenizer_pre(const ai_tokenizer *t);  /* pre-tokenizer name */
/* Longest decoded piece of any token, in bytes. */
int ai_tokenizer_max_piece(const ai_tokenizer *t);
/* The token's text as stored in the GGUF (NUL-terminated), NULL if out of
 * range. */
const char *ai_tokenizer_text(const ai_tokenizer *t, int32_t tok);
/* Id of the token whose text is exactly `text`, or -1. */
int ai_tokenizer_find(const ai_tokenizer *t, const char *text);
/* True for control and unknown tokens (not printed when decoding). */
bool ai_tokenizer_is_control(const ai_tokenizer *t, int32_t tok);

/* Encode. Returns the token count (may exceed cap; only cap written), -1 on
 * error. add_bos: BOS (and EOS, with tokenizer.ggml.add_eos_token) when the
 * model asks for it. parse_special: control-token text such as
 * "<|im_start|>" becomes its token (user-defined tokens always do, as in
 * llama.cpp). Thread-safe: t is not modified. */
int ai_tokenizer_encode(const ai_tokenizer *t, const char *text, size_t len,
                        bool add_bos, bool parse_special, int32_t *out,
                        int cap, ai_error *err);

/* Raw bytes of one token (byte tokens decoded, SPM ▁ as space, BPE byte
 * mapping undone). Control tokens give their text only if `special`.
 * Returns byte count (may exceed cap). */
int ai_tokenizer_piece(const ai_tokenizer *t, int32_t tok, bool special,
                       char *out, int cap);

/* Streaming detokenizer: feed tokens one at a time, get back only complete
 * UTF-8 characters; a split character is held until its last byte. */
typedef struct ai_detok {
    char pending[8];
    int n_pending;
    bool first;       /* SPM: drop the leading space of the first piece */
} ai_detok;
void ai_detok_init(ai_detok *d);
/* Appends printable bytes for `tok` to out (cap bytes); returns the count,
 * or -1 (state unchanged) when cap is too small: 3 * (max_piece + 4) bytes
 * always suffice. Complete valid characters pass through; an invalid
 * sequence becomes U+FFFD as soon as it is provably invalid. Control tokens
 * print nothing. With `first` set (ai_detok_init does), an SPM tokenizer
 * drops the leading space of the first token's piece, like
 * ai_tokenizer_decode; clear it to keep that space. */
int ai_detok_push(ai_detok *d, const ai_tokenizer *t, int32_t tok,
                  char *out, int cap);
/* Flush what is left at the end of a stream: an incomplete character
 * becomes one U+FFFD (3 bytes; cap must be >= 3). Returns the count. */
int ai_detok_flush(ai_detok *d, char *out, int cap);

/* Decode a whole sequence (control tokens print nothing; SPM drops the
 * leading space of the first piece) into out: raw bytes, NUL-terminated when
 * there is room. Returns the length (may exceed cap; only cap written). */
int ai_tokenizer_decode(const ai_tokenizer *t, const int32_t *toks, int n,
                        char *out, int cap);

/* ---- chat templates ---- */
typedef enum { AI_CHAT_NONE = 0, AI_CHAT_CHATML, AI_CHAT_LLAMA3, AI_CHAT_GEMMA, AI_CHAT_PHI3,
               AI_CHAT_DEEPSEEK_LLM, AI_CHAT_DEEPSEEK_CODER, AI_CHAT_DEEPSEEK_R1, AI_CHAT_MISTRAL_V7,
               AI_CHAT_MISTRAL_TEKKEN, AI_CHAT_MISTRAL_V3, AI_CHAT_N_FAMILIES } ai_chat_family;

/* Recognise the family of a Jinja template text; AI_CHAT_NONE if unknown. */
ai_chat_family ai_chat_detect(const char *tmpl);
const char *ai_chat_family_name(ai_chat_family f);
/* A recognised template plus what rendering needs from its text. */
typedef struct ai_chat_template {
    ai_chat_family family;
    bool has_default_system;   /* the system turn written when the caller */
    char default_system[8192]; /*   gives none (SmolLM2, Qwen2.5, DeepSeek
                                    Coder, Devstral) */
    bool date_header;          /* Llama 3.1+: "Cutting Knowledge Date" lines */
    char knowledge_date[64];   /*   "December 2023" */
    char today_date[64];       /*   the template's fallback date_string */
    bool gemma_trim_all;       /* Gemma 2: trim(system + "\n\n" + user);
                                  Gemma 3: system + "\n\n" + trim(user) */
    bool writes_bos;           /* Phi-3, Mistral: the template writes BOS text */
    bool system_role;          /* Phi-3: has a system turn (3.5); else the
                                  system text goes in front of the user's */
    bool mistral_space;        /* Mistral v7: "[INST] " with a space */
    bool think_open;           /* DeepSeek R1: the assistant turn opens <think> */
    bool thinking;             /* the template reads enable_thinking (Qwen3,
                                  some DeepSeek R1 ones) */
    bool enable_thinking;      /* the caller's choice; ai_chat_parse sets it
                                  true (think first, the models' default); false
                                  writes the empty or closed think block */
} ai_chat_template;

/* Recognise `tmpl` (may be NULL) and read its details. An unknown or missing
 * template is an error whose message names the way out (a raw prompt). */
int ai_chat_parse(const char *tmpl, ai_chat_template *out, ai_error *err);

/* Render system (may be NULL: the template's default, if any) + user, ending
 * with the assistant header, the way the template does (including BOS text
 * where the template emits it: Llama 3 "<|begin_of_text|>", Gemma "<bos>";
 * tokenize such text with parse_special and without adding another BOS).
 * Returns the length, or -1 (message in err) when it does not fit. */
int ai_chat_template_render(const ai_chat_template *ct, const char *system,
                            const char *user, char *out, size_t cap,
                            ai_error *err);

/* Same from the family alone: no default system prompt, Llama 3.1+ date lines
 * with the stock dates, Gemma 3 folding. Prefer ai_chat_parse + _render. */
int ai_chat_render(ai_chat_family f, const char *system, const char *user,
                   char *out, size_t cap, ai_error *err);

/* The one wording for "no usable template": the hint alone, and a full
 * error ("WHERE: chat template is missing or not recognised (known: ...);
 * pass a raw prompt instead (leave out --chat)"); where may be NULL. */
const char *ai_chat_raw_hint(void);
int ai_chat_unknown_error(ai_error *err, const char *where);

#endif
