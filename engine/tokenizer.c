/* tokenizer.c — tokenizers built from a GGUF's tokenizer.ggml.* metadata.
 *
 * Two kinds, sharing the vocabulary, special-token and decoding code:
 *
 *   bpe  (tokenizer.ggml.model = "gpt2"): byte-level BPE. The text is split
 *        by the pre-tokenizer regexes that tokenizer.ggml.pre names (PCRE2,
 *        UTF + UCP), each piece's bytes are mapped to printable code points
 *        (the GPT-2 byte-to-unicode table), then pairs are merged in the order
 *        of tokenizer.ggml.merges (lowest rank first, leftmost on ties).
 *   spm  (tokenizer.ggml.model = "llama"): SentencePiece-style BPE by score.
 *        Spaces become U+2581, a leading space is added, adjacent pieces are
 *        merged highest score first, and anything that is not a token falls
 *        back to <0xNN> byte tokens.
 *
 * Invalid UTF-8 is handled as the reference (llama.cpp) does: BPE sees each
 * byte that does not start a sequence as U+FFFD; SPM falls back to byte
 * tokens, so its round trip is exact.
 *
 * Before either, special tokens are cut out of the text: user-defined ones
 * always, control ones only when parse_special is set; longer tokens first.
 *
 * Everything the tokenizer needs is copied out of the GGUF at load time, so
 * the file may be closed afterwards. Nothing here is global or mutable after
 * load: one tokenizer may encode from several threads at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

enum { TOK_BPE = 1, TOK_SPM = 2 };

/* tokenizer.ggml.token_type values (llama.cpp's). */
enum {
    TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3,
    TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6
};

#define MAX_RE 6
#define MAX_EOG 16

/* Pre-tokenizers: tokenizer.ggml.pre names → the regexes applied in order
 * (each splits every piece the previous one produced; matches and the text
 * between matches both become pieces), as llama.cpp's llama-vocab.cpp has
 * them (names and regexes are its, so they are easy to compare).
 *
 * llama.cpp runs most of these with std::regex on a "collapsed" copy of the
 * text, each code point one byte: ASCII as is, other whitespace as \v, other
 * letters, digits, punctuation, marks and symbols as one stand-in byte per
 * category, with \p{L}, \p{N}, \p{P}, \p{M}, \p{S} rewritten to match the
 * stand-in plus the ASCII members; regexes without a \p{..} run with
 * std::wregex on code points; the GPT-2, Llama 3, Qwen2 and Qwen3.5 regexes
 * have hand-written equivalents. PCRE2 with UTF + UCP on the real text
 * splits the same way: its categories are the same sets (\p{Lu} and friends
 * would not be: llama.cpp's collapse makes them all of \p{L}, which is why its
 * Tekken and GPT-4o regexes spell "upper" as (?=\p{L})[^a-z]; we use those
 * spellings too and leave out the pre-tokenizers that need \p{Lu}), \d is
 * never used, and `$` is made to mean only the end of the piece
 * (PCRE2_DOLLAR_ENDONLY), as std::regex reads it. The one known difference:
 * PCRE2's \s also matches U+180E, which llama.cpp does not count as space.
 *
 * Not here: llama.cpp's pre-tokenizers with hand-written splitters and no
 * regex (kimi-k2, afmoe, tiny_aya's digit groups), the ones over raw UTF-8
 * instead of GPT-2 bytes (gemma4, sarvam-moe, whitespace), ones that need
 * \p{Lu}-style classes (youtu, tiny_aya, granite-embed-multi-97m), embedding
 * models that add a separator token (jina-*, roberta-bpe, modern-bert) and
 * superbpe (an empty-match split). */
typedef struct {
    const char *names; /* '|'-separated aliases, the first one shown in errors */
    const char *re[MAX_RE];
    bool ignore_merges; /* a whole word that is a token is taken as is */
    bool add_bos;       /* BOS by default (when add_bos_token is absent) */
} pre_def;

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
/* Llama 3's regex with its digit rule N (\p{N}{1,3}; Qwen2: \p{N}) */
#define RE_LLAMA3_WITH(N) \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" N "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 RE_LLAMA3_WITH("\\p{N}{1,3}")
#define RE_QWEN2 RE_LLAMA3_WITH("\\p{N}")
#define RE_BLOOM " ?[^(\\s|.,!?…。，、।۔،)]+"
/* "upper" and "lower" letters as llama.cpp spells them (see above) */
#define RE_UP "((?=[\\p{L}])([^a-z]))"
#define RE_LO "((?=[\\p{L}])([^A-Z]))"
#define RE_DEEPSEEK3 \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"

static const pre_def PRE_DEFS[] = {
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
    {"gpt-2|phi-2|mpt|olmo|jais|trillion|granite-docling|exaone4|gigachat|a.x-4.0|mellum",
     {RE_GPT2}, false, false},
    {"starcoder|smollm|refact|command-r|codeshell|exaone|minerva-7b|mellum2", {"\\p{N}", RE_GPT2}, false, false},
    {"llama-bpe|llama3|llama-v3|falcon3|falcon-h1|pixtral|midm-2.0|lfm2", {RE_LLAMA3}, true, true},
    {"dbrx|smaug-bpe|chatglm-bpe", {RE_LLAMA3}, false, false},
    {"glm4|glm5", {RE_LLAMA3}, true, false},
    {"qwen2|deepseek-r1-qwen|kormo|f2llmv2|megrez|stablelm2|hunyuan|solar-open|grok-2", {RE_QWEN2}, false, false},
    {"qwen35",
     {RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
                  "|\\s+(?!\\S)|\\s+"},
     false, false},
    {"minicpm5", {"\\p{N}{1,3}", RE_LLAMA3_WITH("\\p{N}+")}, true, false},
    {"deepseek-llm",
     {"[\r\n]",
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"},
     false, false},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}, false, false},
    {"deepseek-v3|hunyuan-dense|joyai-llm|hy_v4",
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", RE_DEEPSEEK3 "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"spark2_5",
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", RE_DEEPSEEK3 "| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+", "\\p{N}"},
     false, false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, false, false},
    {"poro-chat|bloom|gpt3-finnish", {RE_BLOOM}, false, false},
    {"viking", {RE_BLOOM, "\\p{N}"}, false, false},
    {"tekken",
     {"[^\\r\\n\\p{L}\\p{N}]?" RE_UP "*" RE_LO "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UP "+" RE_LO "*|\\p{N}"
      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     true, true},
    {"gpt-4o|llama4|kanana2|talkie|minimax-m2",
     {"[^\\r\\n\\p{L}\\p{N}]?" RE_UP "*" RE_LO "+" RE_CONTRACT "?|[^\\r\\n\\p{L}\\p{N}]?" RE_UP "+" RE_LO "*"
      RE_CONTRACT "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"chameleon",
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2},
     false, true},
    {"seed-coder",
     {RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"bailingmoe|bailingmoe2|llada-moe",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
      "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false, false},
    {"exaone-moe",
     {RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?"
                  "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false, false},
    {"jais-2",
     {RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
                  "|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)"
                  "|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"},
     false, false},
    {"ufakzeka",
     {"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"laguna", {"[^\\n]+|[\\n]+", RE_QWEN2}, false, false},
};
#define N_PRE_DEFS (sizeof PRE_DEFS / sizeof PRE_DEFS[0])

struct ai_tokenizer {
    int kind;
    char pre[64];
    int n_vocab;

    /* token texts as stored in the GGUF, NUL-separated */
    char *text;
    uint32_t *text_off, *text_len;
    uint8_t *type;
    float *score;      /* SPM only */
    /* decoded bytes of each token (byte mapping undone, ▁ → space) */
    char *piece;
    uint32_t *piece_off, *piece_len;
    int max_piece;

    /* open-addressing hash: token text → id (the later id wins) */
    int32_t *map;
    uint32_t map_mask;

    /* BPE merges: "left right" pairs, rank = index */
    uint32_t n_merges;
    char *merge_text;
    uint32_t *m_off, *m_llen, *m_rlen; /* left at m_off, right at m_off+m_llen */
    int32_t *mmap;
    uint32_t mmap_mask;

    /* special tokens cut out of the text before BPE/SPM, longest first */
    int32_t *special;
    int n_special;

    int32_t byte_tok[256];       /* token of each raw byte */
    uint16_t byte_to_cp[256];    /* GPT-2 byte → code point */
    int16_t cp_to_byte[512];     /* and back (-1: not a mapped code point) */

    int32_t bos, eos, eot, eom, pad, unk;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool pre_add_bos; /* the pre-tokenizer's default for add_bos */
    int32_t eog[MAX_EOG];
    int n_eog;

    pcre2_code *re[MAX_RE];
    int n_re;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ULL

static int utf8_len_lead(uint8_t c) {
    static const int8_t L[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return L[c >> 4];
}

static int utf8_put(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode one well-formed UTF-8 sequence at s (n bytes available); returns its
 * length and the code point, or 0 when it is not a complete valid sequence. */
static int utf8_get(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int len; uint32_t v; uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < (size_t)len) return 0;
    for (int i = 1; i < len; i++) {
        uint8_t b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return 0;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

/* First occurrence of needle (nl > 0 bytes) in hay, or NULL. */
static const char *find_bytes(const char *hay, size_t hl, const char *needle, size_t nl) {
    if (nl == 0 || hl < nl) return NULL;
    const char *end = hay + (hl - nl);
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, nl) == 0) return p;
    }
    return NULL;
}

/* growable int32 vector */
typedef struct { int32_t *v; size_t n, cap; bool oom; } ivec;
static void iv_push(ivec *a, int32_t x) {
    if (a->oom) return;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        int32_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) { a->oom = true; return; }
        a->v = nv; a->cap = nc;
    }
    a->v[a->n++] = x;
}

/* growable span vector: (offset, length) pairs, tok = -1 for raw text */
typedef struct { size_t off, len; int32_t tok; } span;
typedef struct { span *v; size_t n, cap; bool oom; } svec;
static void sv_push(svec *a, size_t off, size_t len, int32_t tok) {
    if (a->oom) return;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 32;
        span *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) { a->oom = true; return; }
        a->v = nv; a->cap = nc;
    }
    a->v[a->n++] = (span){off, len, tok};
}

/* ---- vocabulary lookup ---------------------------------------------------- */

static const char *tok_text(const ai_tokenizer *t, int32_t id) { return t->text + t->text_off[id]; }

static int32_t vocab_find(const ai_tokenizer *t, const char *s, size_t n) {
    uint32_t h = (uint32_t)hash_bytes(HASH_SEED, s, n) & t->map_mask;
    for (;;) {
        int32_t id = t->map[h];
        if (id < 0) return -1;
        if (t->text_len[id] == n && memcmp(tok_text(t, id), s, n) == 0) return id;
        h = (h + 1) & t->map_mask;
    }
}

static uint64_t merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    uint64_t h = hash_bytes(HASH_SEED, l, ln);
    h = hash_bytes(h ^ 0xff, "\x01", 1);
    return hash_bytes(h, r, rn);
}

/* Rank of merging (l, r), or -1. */
static int32_t merge_rank(const ai_tokenizer *t, const char *l, size_t ln, const char *r, size_t rn) {
    uint32_t h = (uint32_t)merge_hash(l, ln, r, rn) & t->mmap_mask;
    for (;;) {
        int32_t m = t->mmap[h];
        if (m < 0) return -1;
        const char *ms = t->merge_text + t->m_off[m];
        if (t->m_llen[m] == ln && t->m_rlen[m] == rn && memcmp(ms, l, ln) == 0 &&
            memcmp(ms + ln, r, rn) == 0)
            return m;
        h = (h + 1) & t->mmap_mask;
    }
}

static uint32_t pow2_at_least(uint64_t n) {
    uint64_t c = 16;
    while (c < n) c <<= 1;
    return (uint32_t)c;
}

/* ---- loading -------------------------------------------------------------- */

static void gpt2_byte_map(ai_tokenizer *t) {
    int next = 256;
    for (int i = 0; i < 512; i++) t->cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        t->byte_to_cp[b] = (uint16_t)(printable ? b : next++);
        t->cp_to_byte[t->byte_to_cp[b]] = (int16_t)b;
    }
}

/* Read an integer array element of any integer type. */
static int64_t arr_int(const gguf_kv *kv, uint64_t i) {
    const uint8_t *p = kv->arr_data;
    switch (kv->arr_type) {
    case GGUF_INT8: return (int8_t)p[i];
    case GGUF_UINT8: return p[i];
    case GGUF_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case GGUF_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case GGUF_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case GGUF_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case GGUF_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    case GGUF_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (int64_t)v; }
    default: return 0;
    }
}

static bool is_int_type(gguf_type ty) {
    return ty == GGUF_INT8 || ty == GGUF_UINT8 || ty == GGUF_INT16 || ty == GGUF_UINT16 ||
           ty == GGUF_INT32 || ty == GGUF_UINT32 || ty == GGUF_INT64 || ty == GGUF_UINT64;
}

/* Optional token id: -1 when absent; error when mistyped or out of range. */
static int opt_token(const gguf_file *f, const char *key, int n_vocab, int32_t *out, ai_error *err) {
    uint32_t v;
    int r = gguf_opt_u32(f, key, &v, err);
    if (r < 0) return -1;
    if (r == 0) { *out = -1; return 0; }
    if (v >= (uint32_t)n_vocab) {
        /* some converters write -1 as 0xFFFFFFFF for "none" */
        if (v == UINT32_MAX) { *out = -1; return 0; }
        return ai_error_set(err, "%s: %s = %u is not a token id (vocabulary has %d tokens)",
                            f->path, key, v, n_vocab);
    }
    *out = (int32_t)v;
    return 0;
}

static int opt_bool(const gguf_file *f, const char *key, bool def, bool *out, ai_error *err) {
    if (!gguf_find(f, key)) { *out = def; return 0; }
    return gguf_get_bool(f, key, out, err);
}

typedef struct { int32_t id; uint32_t len; } spec_sort;
static int cmp_spec(const void *a, const void *b) {
    const spec_sort *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_pre(ai_tokenizer *t, const gguf_file *f, ai_error *err) {
    if (!gguf_find(f, "tokenizer.ggml.pre")) {
        strcpy(t->pre, "default");
    } else if (gguf_get_str(f, "tokenizer.ggml.pre", t->pre, sizeof t->pre, err)) {
        return -1;
    }
    if (t->kind != TOK_BPE) return 0;
    const pre_def *d = NULL;
    for (size_t i = 0; i < N_PRE_DEFS && !d; i++) {
        const char *s = PRE_DEFS[i].names;
        size_t pl = strlen(t->pre);
        while (*s) {
            const char *e = strchr(s, '|');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            if (l == pl && memcmp(s, t->pre, l) == 0) { d = &PRE_DEFS[i]; break; }
            s += l + (e ? 1 : 0);
        }
    }
    if (!d) {
        char known[512] = "";
        for (size_t i = 0; i < N_PRE_DEFS; i++) {
            size_t kl = strlen(known);
            snprintf(known + kl, sizeof known - kl, "%s%.*s", i ? ", " : "",
                     (int)strcspn(PRE_DEFS[i].names, "|"), PRE_DEFS[i].names);
        }
        return ai_error_set(err, "%s: tokenizer.ggml.pre = '%s' is not a known pre-tokenizer (known: %s; "
                                 "and their aliases, see docs/tokenizer.md)",
                            f->path, t->pre, known);
    }
    t->ignore_merges = d->ignore_merges;
    t->pre_add_bos = d->add_bos;
    for (int i = 0; i < MAX_RE && d->re[i]; i++) {
        int ec; PCRE2_SIZE eo;
        t->re[i] = pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (!t->re[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return ai_error_set(err, "pre-tokenizer '%s': regex %d does not compile at %zu: %s",
                                t->pre, i, (size_t)eo, (const char *)msg);
        }
        pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE); /* optional speed-up */
        t->n_re = i + 1;
    }
    return 0;
}

static int load_merges(ai_tokenizer *t, const gguf_file *f, ai_error *err) {
    const void *data; uint64_t n;
    if (gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &data, &n, err)) return -1;
    const gguf_str *s = data;
    if (n > INT32_MAX) return ai_error_set(err, "%s: tokenizer.ggml.merges: too many (%llu)", f->path, (unsigned long long)n);
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += s[i].len;
    if (total > UINT32_MAX) return ai_error_set(err, "%s: tokenizer.ggml.merges: too large", f->path);
    t->n_merges = (uint32_t)n;
    t->merge_text = malloc(total + 1);
    t->m_off = malloc((n + 1) * sizeof(uint32_t));
    t->m_llen = malloc((n + 1) * sizeof(uint32_t));
    t->m_rlen = malloc((n + 1) * sizeof(uint32_t));
    t->mmap_mask = pow2_at_least(n * 2 + 1) - 1;
    t->mmap = malloc(((size_t)t->mmap_mask + 1) * sizeof(int32_t));
    if (!t->merge_text || !t->m_off || !t->m_llen || !t->m_rlen || !t->mmap)
        return ai_error_set(err, "out of memory loading merges");
    memset(t->mmap, 0xff, ((size_t)t->mmap_mask + 1) * sizeof(int32_t));
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        const char *p = s[i].ptr;
        size_t len = (size_t)s[i].len;
        /* split at the first space after the first byte */
        const char *sp = len > 1 ? memchr(p + 1, ' ', len - 1) : NULL;
        if (!sp)
            return ai_error_set(err, "%s: tokenizer.ggml.merges[%llu] = '%.*s' is not 'left right'",
                                f->path, (unsigned long long)i, (int)(len > 60 ? 60 : len), p);
        size_t ll = (size_t)(sp - p), rl = len - ll - 1;
        t->m_off[i] = off; t->m_llen[i] = (uint32_t)ll; t->m_rlen[i] = (uint32_t)rl;
        memcpy(t->merge_text + off, p, ll);
        memcpy(t->merge_text + off + ll, sp + 1, rl);
        off += (uint32_t)(ll + rl);
        if (merge_rank(t, p, ll, sp + 1, rl) >= 0) continue; /* duplicate: first rank wins */
        uint32_t h = (uint32_t)merge_hash(p, ll, sp + 1, rl) & t->mmap_mask;
        while (t->mmap[h] >= 0) h = (h + 1) & t->mmap_mask;
        t->mmap[h] = (int32_t)i;
    }
    return 0;
}

/* Decoded bytes of token id into o (must hold text_len*? bytes): BPE unmaps
 * code points, SPM turns U+2581 into spaces, byte tokens become their byte. */
static size_t decode_piece(const ai_tokenizer *t, int32_t id, char *o) {
    const char *s = tok_text(t, id);
    size_t n = t->text_len[id], k = 0;
    uint8_t ty = t->type[id];
    if (ty == TT_UNUSED) return 0;
    if (ty == TT_USER_DEFINED || ty == TT_CONTROL || ty == TT_UNKNOWN) {
        memcpy(o, s, n);
        return n;
    }
    if (t->kind == TOK_SPM) {
        if (ty == TT_BYTE) {
            unsigned v;
            char c;
            if (n == 6 && sscanf(s, "<0x%2X%c", &v, &c) == 2 && c == '>') { o[0] = (char)v; return 1; }
            memcpy(o, s, n);
            return n;
        }
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) { o[k++] = ' '; i += 3; }
            else o[k++] = s[i++];
        }
        return k;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_get((const uint8_t *)s + i, n - i, &cp);
        if (l == 0) { o[k++] = s[i++]; continue; }
        if (cp < 512 && t->cp_to_byte[cp] >= 0) o[k++] = (char)t->cp_to_byte[cp];
        else { memcpy(o + k, s + i, (size_t)l); k += (size_t)l; }
        i += (size_t)l;
    }
    return k;
}

static void add_eog(ai_tokenizer *t, int32_t id) {
    if (id < 0) return;
    for (int i = 0; i < t->n_eog; i++) if (t->eog[i] == id) return;
    if (t->n_eog < MAX_EOG) t->eog[t->n_eog++] = id;
}

ai_tokenizer *ai_tokenizer_load(const gguf_file *f, ai_error *err) {
    char model[32];
    if (gguf_get_str(f, "tokenizer.ggml.model", model, sizeof model, err)) return NULL;
    ai_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { ai_error_set(err, "out of memory"); return NULL; }
    if (!strcmp(model, "gpt2")) t->kind = TOK_BPE;
    else if (!strcmp(model, "llama")) t->kind = TOK_SPM;
    else {
        /* the other kinds llama.cpp knows, and what they are */
        static const char *const OTHER[][2] = {
            {"bert", "WordPiece (BERT-style embedding models)"},
            {"t5", "Unigram with a precompiled normaliser (T5-style)"},
            {"rwkv", "RWKV's trie tokenizer"},
            {"plamo2", "PLaMo-2's own tokenizer"},
            {"gemma4", "Gemma 4's BPE over raw UTF-8 with U+2581 for spaces"},
            {"none", "no vocabulary"}, {"no_vocab", "no vocabulary"},
        };
        const char *what = NULL;
        for (size_t i = 0; i < sizeof OTHER / sizeof *OTHER; i++)
            if (!strcmp(model, OTHER[i][0])) what = OTHER[i][1];
        ai_error_set(err, "%s: tokenizer.ggml.model = '%s'%s%s%s is not supported (supported: gpt2 = byte-level BPE, "
                          "llama = SentencePiece)",
                     f->path, model, what ? " (" : "", what ? what : "", what ? ")" : "");
        goto fail;
    }

    const void *data; uint64_t n;
    if (gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &data, &n, err)) goto fail;
    const gguf_str *toks = data;
    if (n == 0 || n > INT32_MAX / 4) {
        ai_error_set(err, "%s: tokenizer.ggml.tokens has %llu entries", f->path, (unsigned long long)n);
        goto fail;
    }
    t->n_vocab = (int)n;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += toks[i].len + 1;
    if (total > UINT32_MAX / 4) { ai_error_set(err, "%s: tokenizer.ggml.tokens too large", f->path); goto fail; }
    t->text = malloc(total);
    t->text_off = malloc(n * sizeof(uint32_t));
    t->text_len = malloc(n * sizeof(uint32_t));
    t->type = malloc(n);
    t->piece = malloc(total);
    t->piece_off = malloc(n * sizeof(uint32_t));
    t->piece_len = malloc(n * sizeof(uint32_t));
    t->map_mask = pow2_at_least(n * 2 + 1) - 1;
    t->map = malloc(((size_t)t->map_mask + 1) * sizeof(int32_t));
    if (!t->text || !t->text_off || !t->text_len || !t->type || !t->piece || !t->piece_off ||
        !t->piece_len || !t->map) {
        ai_error_set(err, "out of memory loading the vocabulary");
        goto fail;
    }
    memset(t->map, 0xff, ((size_t)t->map_mask + 1) * sizeof(int32_t));
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        t->text_off[i] = off;
        t->text_len[i] = (uint32_t)toks[i].len;
        memcpy(t->text + off, toks[i].ptr, toks[i].len);
        t->text[off + toks[i].len] = 0;
        off += (uint32_t)toks[i].len + 1;
        if (toks[i].len == 0) continue;
        /* insert or overwrite (the later id wins, as in the reference) */
        uint32_t h = (uint32_t)hash_bytes(HASH_SEED, toks[i].ptr, toks[i].len) & t->map_mask;
        for (;;) {
            int32_t id = t->map[h];
            if (id < 0 || (t->text_len[id] == toks[i].len && memcmp(tok_text(t, id), toks[i].ptr, toks[i].len) == 0)) {
                t->map[h] = (int32_t)i;
                break;
            }
            h = (h + 1) & t->map_mask;
        }
    }

    /* token types: default normal */
    const gguf_kv *tkv = gguf_find(f, "tokenizer.ggml.token_type");
    if (tkv) {
        if (tkv->type != GGUF_ARRAY || !is_int_type(tkv->arr_type) || tkv->arr_n != n) {
            ai_error_set(err, "%s: tokenizer.ggml.token_type must be an integer array of %llu entries (found %s%s of %llu)",
                         f->path, (unsigned long long)n, tkv->type == GGUF_ARRAY ? "array of " : "",
                         gguf_type_name(tkv->type == GGUF_ARRAY ? tkv->arr_type : tkv->type),
                         (unsigned long long)(tkv->type == GGUF_ARRAY ? tkv->arr_n : 1));
            goto fail;
        }
        for (uint64_t i = 0; i < n; i++) {
            int64_t v = arr_int(tkv, i);
            t->type[i] = (uint8_t)(v >= 0 && v <= TT_BYTE ? v : TT_NORMAL);
            if (t->type[i] == TT_UNDEFINED) t->type[i] = TT_NORMAL;
        }
    } else {
        memset(t->type, TT_NORMAL, n);
    }

    if (t->kind == TOK_SPM) {
        if (gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_FLOAT32, &data, &n, err)) goto fail;
        if (n != (uint64_t)t->n_vocab) {
            ai_error_set(err, "%s: tokenizer.ggml.scores has %llu entries, tokenizer.ggml.tokens has %d",
                         f->path, (unsigned long long)n, t->n_vocab);
            goto fail;
        }
        t->score = malloc(n * sizeof(float));
        if (!t->score) { ai_error_set(err, "out of memory"); goto fail; }
        memcpy(t->score, data, n * sizeof(float));
    } else {
        gpt2_byte_map(t);
        if (load_merges(t, f, err)) goto fail;
    }
    if (load_pre(t, f, err)) goto fail;

    /* special ids and flags */
    if (opt_token(f, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, err) ||
        opt_token(f, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, err) ||
        opt_token(f, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot, err) ||
        opt_token(f, "tokenizer.ggml.eom_token_id", t->n_vocab, &t->eom, err) ||
        opt_token(f, "tokenizer.ggml.padding_token_id", t->n_vocab, &t->pad, err) ||
        opt_token(f, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, err))
        goto fail;
    if (opt_bool(f, "tokenizer.ggml.add_bos_token", t->kind == TOK_SPM || t->pre_add_bos, &t->add_bos, err) ||
        opt_bool(f, "tokenizer.ggml.add_eos_token", false, &t->add_eos, err) ||
        opt_bool(f, "tokenizer.ggml.add_space_prefix", t->kind == TOK_SPM, &t->add_space_prefix, err))
        goto fail;
    if (t->add_bos && t->bos < 0) {
        ai_error_set(err, "%s: tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing", f->path);
        goto fail;
    }

    /* end of turn: from metadata, else the first control token named like one */
    static const char *const EOT_NAMES[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<EOT>", "<|endoftext|>"};
    static const char *const EOM_NAMES[] = {"<|eom_id|>"};
    for (size_t k = 0; k < sizeof EOT_NAMES / sizeof *EOT_NAMES; k++) {
        int32_t id = vocab_find(t, EOT_NAMES[k], strlen(EOT_NAMES[k]));
        if (id < 0 || (t->type[id] != TT_CONTROL && t->type[id] != TT_USER_DEFINED)) continue;
        if (t->eot < 0 && k < 5) t->eot = id;
        add_eog(t, id);
    }
    if (t->eom < 0) {
        int32_t id = vocab_find(t, EOM_NAMES[0], strlen(EOM_NAMES[0]));
        if (id >= 0 && t->type[id] == TT_CONTROL) t->eom = id;
    }
    add_eog(t, t->eos);
    add_eog(t, t->eot);
    add_eog(t, t->eom);

    /* decoded pieces */
    uint32_t poff = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = poff;
        size_t pl = decode_piece(t, i, t->piece + poff);
        t->piece_len[i] = (uint32_t)pl;
        poff += (uint32_t)pl;
        if ((int)pl > t->max_piece) t->max_piece = (int)pl;
    }

    /* byte fallback tokens */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int32_t id = -1;
        if (t->kind == TOK_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = vocab_find(t, buf, 6);
            if (id < 0) { buf[0] = (char)b; id = vocab_find(t, buf, 1); }
        } else {
            int l = utf8_put(t->byte_to_cp[b], buf);
            id = vocab_find(t, buf, (size_t)l);
        }
        t->byte_tok[b] = id >= 0 ? id : t->unk;
    }

    /* special tokens: control, user-defined and unknown, longest first */
    spec_sort *ss = malloc((size_t)t->n_vocab * sizeof *ss);
    if (!ss) { ai_error_set(err, "out of memory"); goto fail; }
    int ns = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->type[i];
        if ((ty == TT_CONTROL || ty == TT_USER_DEFINED || ty == TT_UNKNOWN) && t->text_len[i] > 0)
            ss[ns++] = (spec_sort){i, t->text_len[i]};
    }
    qsort(ss, (size_t)ns, sizeof *ss, cmp_spec);
    t->special = malloc((size_t)(ns ? ns : 1) * sizeof(int32_t));
    if (!t->special) { free(ss); ai_error_set(err, "out of memory"); goto fail; }
    for (int i = 0; i < ns; i++) t->special[i] = ss[i].id;
    t->n_special = ns;
    free(ss);
    return t;

fail:
    ai_tokenizer_free(t);
    return NULL;
}

void ai_tokenizer_free(ai_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < MAX_RE; i++) if (t->re[i]) pcre2_code_free(t->re[i]);
    free(t->text); free(t->text_off); free(t->text_len); free(t->type); free(t->score);
    free(t->piece); free(t->piece_off); free(t->piece_len); free(t->map);
    free(t->merge_text); free(t->m_off); free(t->m_llen); free(t->m_rlen); free(t->mmap);
    free(t->special);
    free(t);
}

/* ---- accessors ------------------------------------------------------------ */

int ai_tokenizer_n_vocab(const ai_tokenizer *t) { return t->n_vocab; }
int32_t ai_tokenizer_bos(const ai_tokenizer *t) { return t->bos; }
int32_t ai_tokenizer_eos(const ai_tokenizer *t) { return t->eos; }
int32_t ai_tokenizer_eot(const ai_tokenizer *t) { return t->eot; }
bool ai_tokenizer_add_bos(const ai_tokenizer *t) { return t->add_bos; }
const char *ai_tokenizer_kind(const ai_tokenizer *t) { return t->kind == TOK_BPE ? "bpe" : "spm"; }
const char *ai_tokenizer_pre(const ai_tokenizer *t) { return t->pre; }
int ai_tokenizer_max_piece(const ai_tokenizer *t) { return t->max_piece; }

bool ai_tokenizer_is_eog(const ai_tokenizer *t, int32_t tok) {
    for (int i = 0; i < t->n_eog; i++) if (t->eog[i] == tok) return true;
    return false;
}

const char *ai_tokenizer_text(const ai_tokenizer *t, int32_t tok) {
    if (tok < 0 || tok >= t->n_vocab) return NULL;
    return tok_text(t, tok);
}

int ai_tokenizer_find(const ai_tokenizer *t, const char *text) {
    return vocab_find(t, text, strlen(text));
}

bool ai_tokenizer_is_control(const ai_tokenizer *t, int32_t tok) {
    return tok >= 0 && tok < t->n_vocab && (t->type[tok] == TT_CONTROL || t->type[tok] == TT_UNKNOWN);
}

/* ---- encoding: special tokens --------------------------------------------- */

/* Cut special tokens out of text[0..len): fragments in order, raw text has
 * tok = -1. Each special token, longest first, splits every raw fragment at
 * every occurrence, left to right. */
static void partition_special(const ai_tokenizer *t, const char *text, size_t len, bool parse_special, svec *out) {
    svec a = {0}, b = {0};
    if (len) sv_push(&a, 0, len, -1);
    for (int si = 0; si < t->n_special && !a.oom; si++) {
        int32_t id = t->special[si];
        uint8_t ty = t->type[id];
        if (!parse_special && (ty == TT_CONTROL || ty == TT_UNKNOWN)) continue;
        const char *st = tok_text(t, id);
        size_t sl = t->text_len[id];
        bool any = false;
        for (size_t i = 0; i < a.n && !any; i++)
            if (a.v[i].tok < 0 && a.v[i].len >= sl && find_bytes(text + a.v[i].off, a.v[i].len, st, sl)) any = true;
        if (!any) continue;
        b.n = 0;
        for (size_t i = 0; i < a.n; i++) {
            span s = a.v[i];
            if (s.tok >= 0) { sv_push(&b, s.off, s.len, s.tok); continue; }
            size_t p = s.off, end = s.off + s.len;
            while (p < end) {
                const char *hit = find_bytes(text + p, end - p, st, sl);
                if (!hit) { sv_push(&b, p, end - p, -1); break; }
                size_t h = (size_t)(hit - text);
                if (h > p) sv_push(&b, p, h - p, -1);
                sv_push(&b, h, sl, id);
                p = h + sl;
            }
        }
        svec tmp = a; a = b; b = tmp;
        a.oom |= b.oom;
    }
    free(b.v);
    *out = a;
}

/* ---- encoding: BPE -------------------------------------------------------- */

typedef struct { int32_t off, n, prev, next; } sym;
typedef struct { int32_t rank, left, right, ln, rn; } bigram;
/* A binary heap of fixed-size items, best first by `before`: the merge queue
 * of both BPE (lowest rank) and SPM (highest score). */
#define PQ_MAX_ITEM 32
typedef struct {
    unsigned char *v;
    size_t n, cap, item;
    bool (*before)(const void *a, const void *b);
    bool oom;
} pqueue;

#define PQ_AT(h, i) ((h)->v + (i) * (h)->item)

static void pq_push(pqueue *h, const void *x) {
    if (h->oom) return;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        unsigned char *nv = realloc(h->v, nc * h->item);
        if (!nv) { h->oom = true; return; }
        h->v = nv; h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h->before(x, PQ_AT(h, p))) break;
        memcpy(PQ_AT(h, i), PQ_AT(h, p), h->item);
        i = p;
    }
    memcpy(PQ_AT(h, i), x, h->item);
}

/* Removes the best item into out (h->n > 0). */
static void pq_pop(pqueue *h, void *out) {
    unsigned char x[PQ_MAX_ITEM];
    memcpy(out, PQ_AT(h, 0), h->item);
    memcpy(x, PQ_AT(h, --h->n), h->item);
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->before(PQ_AT(h, c + 1), PQ_AT(h, c))) c++;
        if (!h->before(PQ_AT(h, c), x)) break;
        memcpy(PQ_AT(h, i), PQ_AT(h, c), h->item);
        i = c;
    }
    if (h->n) memcpy(PQ_AT(h, i), x, h->item);
}

static bool bg_less(const void *pa, const void *pb) { /* lower rank first */
    const bigram *a = pa, *b = pb;
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}
_Static_assert(sizeof(bigram) <= PQ_MAX_ITEM, "bigram fits the merge queue");

/* Splits w into one symbol per UTF-8 character (a truncated tail is one
 * symbol), linked as a list; returns the count. */
static int32_t split_symbols(const char *w, size_t n, sym *sy) {
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        int l = utf8_len_lead((uint8_t)w[i]);
        if ((size_t)l > n - i) l = (int)(n - i);
        sy[ns] = (sym){(int32_t)i, l, ns - 1, -1};
        if (ns > 0) sy[ns - 1].next = ns;
        ns++;
        i += (size_t)l;
    }
    return ns;
}

typedef struct { sym *v; size_t cap; } symbuf;

static bool sym_reserve(symbuf *s, size_t n) {
    if (n <= s->cap) return true;
    sym *nv = realloc(s->v, n * sizeof *nv);
    if (!nv) return false;
    s->v = nv; s->cap = n;
    return true;
}

static void bpe_try_pair(const ai_tokenizer *t, const char *w, const sym *sy, int32_t l, int32_t r, pqueue *h) {
    if (l < 0 || r < 0) return;
    int32_t rank = merge_rank(t, w + sy[l].off, (size_t)sy[l].n, w + sy[r].off, (size_t)sy[r].n);
    if (rank < 0) return;
    pq_push(h, &(bigram){rank, l, r, sy[l].n, sy[r].n});
}

/* One pre-tokenized word, already byte-mapped (valid UTF-8). */
static int bpe_word(const ai_tokenizer *t, const char *w, size_t n, symbuf *sb, pqueue *h, ivec *out) {
    if (t->ignore_merges) {
        int32_t id = vocab_find(t, w, n);
        if (id >= 0) { iv_push(out, id); return 0; }
    }
    if (!sym_reserve(sb, n)) return -1;
    sym *sy = sb->v;
    int32_t ns = split_symbols(w, n, sy);
    h->n = 0;
    for (int32_t i = 1; i < ns; i++) bpe_try_pair(t, w, sy, i - 1, i, h);
    while (h->n > 0 && !h->oom) {
        bigram b;
        pq_pop(h, &b);
        sym *L = &sy[b.left], *R = &sy[b.right];
        if (L->n == 0 || R->n == 0 || L->n != b.ln || R->n != b.rn) continue; /* stale */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) sy[R->next].prev = b.left;
        bpe_try_pair(t, w, sy, L->prev, b.left, h);
        bpe_try_pair(t, w, sy, b.left, L->next, h);
    }
    if (h->oom) return -1;
    for (int32_t i = 0; i >= 0 && ns > 0; i = sy[i].next) {
        int32_t id = vocab_find(t, w + sy[i].off, (size_t)sy[i].n);
        if (id >= 0) { iv_push(out, id); continue; }
        /* not a token: each byte of the mapped text on its own, if it is one */
        for (int32_t k = 0; k < sy[i].n; k++) {
            int32_t bid = vocab_find(t, w + sy[i].off + k, 1);
            if (bid >= 0) iv_push(out, bid);
        }
    }
    return 0;
}

static int re_split(const pcre2_code *re, pcre2_match_data *md, const char *text, span in, svec *out, ai_error *err) {
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + in.off);
    size_t pos = 0;
    while (pos < in.len) {
        int rc = pcre2_match(re, subj, in.len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return ai_error_set(err, "pre-tokenizer regex failed at byte %zu: %s", in.off + pos, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (s > pos) sv_push(out, in.off + pos, s - pos, -1);
        if (e == s) { /* empty match: step over one character */
            size_t l = (size_t)utf8_len_lead(subj[s]);
            if (l > in.len - s) l = in.len - s;
            sv_push(out, in.off + s, l, -1);
            pos = s + l;
            continue;
        }
        sv_push(out, in.off + s, e - s, -1);
        pos = e;
    }
    if (pos < in.len) sv_push(out, in.off + pos, in.len - pos, -1);
    return 0;
}

/* The text as the reference BPE tokenizer sees it: decoded to code points
 * leniently (the shape of the lead byte decides the length; overlong forms
 * are accepted) and re-encoded, with U+FFFD for each byte that does not start
 * a sequence. Valid UTF-8 comes out unchanged. o needs 3 * n bytes. */
static size_t bpe_clean_utf8(const uint8_t *s, size_t n, char *o) {
    size_t i = 0, k = 0;
#define CONT(j) (i + (j) < n && (s[i + (j)] & 0xC0) == 0x80)
    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp = 0xFFFD;
        int l = 1;
        if (b < 0x80) cp = b;
        else if ((b & 0xE0) == 0xC0 && CONT(1)) { cp = ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F); l = 2; }
        else if ((b & 0xF0) == 0xE0 && CONT(1) && CONT(2)) {
            cp = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            l = 3;
        } else if ((b & 0xF8) == 0xF0 && CONT(1) && CONT(2) && CONT(3)) {
            cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
            l = 4;
        }
#undef CONT
        k += (size_t)utf8_put(cp, o + k);
        i += (size_t)l;
    }
    return k;
}

static int bpe_encode(const ai_tokenizer *t, const char *text0, span frag0, ivec *out, ai_error *err) {
    svec a = {0}, b = {0};
    symbuf sb = {0};
    pqueue h = {.item = sizeof(bigram), .before = bg_less};
    char *wbuf = NULL;
    size_t wcap = 0;
    int rc = -1;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    char *text = malloc(frag0.len * 3 + 1);
    if (!md || !text) { ai_error_set(err, "out of memory"); goto done; }
    size_t tlen = bpe_clean_utf8((const uint8_t *)text0 + frag0.off, frag0.len, text);
    sv_push(&a, 0, tlen, -1);
    for (int r = 0; r < t->n_re; r++) {
        b.n = 0;
        for (size_t i = 0; i < a.n; i++)
            if (re_split(t->re[r], md, text, a.v[i], &b, err)) goto done;
        svec tmp = a; a = b; b = tmp;
        if (a.oom || b.oom) { ai_error_set(err, "out of memory"); goto done; }
    }
    for (size_t i = 0; i < a.n; i++) {
        span s = a.v[i];
        if (s.len * 2 > wcap) {
            size_t nc = s.len * 2 + 64;
            char *nb = realloc(wbuf, nc);
            if (!nb) { ai_error_set(err, "out of memory"); goto done; }
            wbuf = nb; wcap = nc;
        }
        size_t wn = 0;
        for (size_t k = 0; k < s.len; k++)
            wn += (size_t)utf8_put(t->byte_to_cp[(uint8_t)text[s.off + k]], wbuf + wn);
        if (bpe_word(t, wbuf, wn, &sb, &h, out)) { ai_error_set(err, "out of memory"); goto done; }
    }
    rc = 0;
done:
    if (md) pcre2_match_data_free(md);
    free(a.v); free(b.v); free(sb.v); free(h.v); free(wbuf); free(text);
    return rc;
}

/* ---- encoding: SPM -------------------------------------------------------- */

typedef struct { float score; int32_t left, right, size; } sbigram;
_Static_assert(sizeof(sbigram) <= PQ_MAX_ITEM, "sbigram fits the merge queue");

static bool sbg_less(const void *pa, const void *pb) { /* higher score first */
    const sbigram *a = pa, *b = pb;
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void spm_try_pair(const ai_tokenizer *t, const char *w, const sym *sy, int32_t l, int32_t r, pqueue *h) {
    if (l < 0 || r < 0) return;
    int32_t id = vocab_find(t, w + sy[l].off, (size_t)(sy[l].n + sy[r].n));
    if (id < 0) return;
    pq_push(h, &(sbigram){t->score[id], l, r, sy[l].n + sy[r].n});
}

static int spm_encode(const ai_tokenizer *t, const char *text, span frag, bool space_prefix, ivec *out, ai_error *err) {
    /* escape: optional leading space, ' ' → U+2581 */
    size_t cap = (frag.len + 1) * 3;
    char *w = malloc(cap);
    sym *sy = malloc((frag.len + 1) * sizeof *sy);
    pqueue h = {.item = sizeof(sbigram), .before = sbg_less};
    int rc = -1;
    if (!w || !sy) { ai_error_set(err, "out of memory"); goto done; }
    size_t n = 0;
    if (space_prefix) { memcpy(w, "\xE2\x96\x81", 3); n = 3; }
    for (size_t i = 0; i < frag.len; i++) {
        char c = text[frag.off + i];
        if (c == ' ') { memcpy(w + n, "\xE2\x96\x81", 3); n += 3; }
        else w[n++] = c;
    }
    int32_t ns = split_symbols(w, n, sy);
    for (int32_t i = 1; i < ns; i++) spm_try_pair(t, w, sy, i - 1, i, &h);
    while (h.n > 0 && !h.oom) {
        sbigram b;
        pq_pop(&h, &b);
        sym *L = &sy[b.left], *R = &sy[b.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size) continue; /* stale */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) sy[R->next].prev = b.left;
        spm_try_pair(t, w, sy, L->prev, b.left, &h);
        spm_try_pair(t, w, sy, b.left, L->next, &h);
    }
    if (h.oom) { ai_error_set(err, "out of memory"); goto done; }
    for (int32_t i = 0; i >= 0 && ns > 0; i = sy[i].next) {
        int32_t id = vocab_find(t, w + sy[i].off, (size_t)sy[i].n);
        if (id >= 0) { iv_push(out, id); continue; }
        for (int32_t k = 0; k < sy[i].n; k++) {
            int32_t bid = t->byte_tok[(uint8_t)w[sy[i].off + k]];
            if (bid >= 0) iv_push(out, bid);
        }
    }
    rc = 0;
done:
    free(w); free(sy); free(h.v);
    return rc;
}

/* ---- encoding: entry point ------------------------------------------------ */

int ai_tokenizer_encode(const ai_tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                        int32_t *out, int cap, ai_error *err) {
    if (!text && len) return ai_error_set(err, "tokenize: NULL text");
    ivec v = {0};
    svec frags = {0};
    int rc = -1;
    if (add_bos && t->add_bos && t->bos >= 0) iv_push(&v, t->bos);
    partition_special(t, text, len, parse_special, &frags);
    if (frags.oom) { ai_error_set(err, "out of memory"); goto done; }
    bool prev_special = true; /* SPM: a space goes in front of the first text */
    for (size_t i = 0; i < frags.n; i++) {
        span f = frags.v[i];
        if (f.tok >= 0) { iv_push(&v, f.tok); prev_special = true; continue; }
        int r = t->kind == TOK_BPE ? bpe_encode(t, text, f, &v, err)
                                   : spm_encode(t, text, f, t->add_space_prefix && prev_special, &v, err);
        if (r) goto done;
        prev_special = false;
    }
    if (add_bos && t->add_eos && t->eos >= 0) iv_push(&v, t->eos);
    if (v.oom) { ai_error_set(err, "out of memory"); goto done; }
    if (v.n > INT32_MAX) { ai_error_set(err, "tokenize: text too long"); goto done; }
    for (size_t i = 0; i < v.n && (int)i < cap; i++) out[i] = v.v[i];
    rc = (int)v.n;
done:
    free(v.v); free(frags.v);
    return rc;
}

/* ---- decoding ------------------------------------------------------------- */

int ai_tokenizer_piece(const ai_tokenizer *t, int32_t tok, bool special, char *out, int cap) {
    if (tok < 0 || tok >= t->n_vocab) return 0;
    uint8_t ty = t->type[tok];
    if (!special && (ty == TT_CONTROL || ty == TT_UNKNOWN)) return 0;
    int n = (int)t->piece_len[tok];
    if (cap > 0) memcpy(out, t->piece + t->piece_off[tok], (size_t)(n < cap ? n : cap));
    return n;
}

/* The piece as it appears in a decoded stream: no control tokens; SPM drops
 * the space it put in front of the first text. */
static const char *stream_piece(const ai_tokenizer *t, int32_t tok, bool first, size_t *n) {
    *n = 0;
    if (tok < 0 || tok >= t->n_vocab) return "";
    uint8_t ty = t->type[tok];
    if (ty == TT_CONTROL || ty == TT_UNKNOWN) return "";
    const char *p = t->piece + t->piece_off[tok];
    *n = t->piece_len[tok];
    if (first && t->add_space_prefix && *n > 0 && p[0] == ' ') { p++; (*n)--; }
    return p;
}

int ai_tokenizer_decode(const ai_tokenizer *t, const int32_t *toks, int n, char *out, int cap) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        size_t pl;
        const char *p = stream_piece(t, toks[i], i == 0, &pl);
        for (size_t k = 0; k < pl; k++, total++)
            if (total < cap) out[total] = p[k];
    }
    if (total < cap) out[total] = 0;
    return total;
}

void ai_detok_init(ai_detok *d) {
    memset(d, 0, sizeof *d);
    d->first = true;
}

/* Length of the maximal prefix of s[0..n) that could start a valid UTF-8
 * sequence (at least 1 when the lead byte is invalid), and whether it is a
 * complete valid character (*complete) — or an incomplete but so far valid
 * one that needs more bytes (*need_more). */
static size_t utf8_scan(const uint8_t *s, size_t n, bool *complete, bool *need_more) {
    uint32_t cp;
    *complete = *need_more = false;
    int l = utf8_get(s, n, &cp);
    if (l > 0) { *complete = true; return (size_t)l; }
    uint8_t c = s[0];
    int len; uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 1; /* invalid lead byte */
    size_t k = 1;
    while (k < (size_t)len && k < n) {
        uint8_t b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return k; /* invalid here */
        k++;
    }
    if (k == n && k < (size_t)len) *need_more = true;
    return k;
}

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

int ai_detok_push(ai_detok *d, const ai_tokenizer *t, int32_t tok, char *out, int cap) {
    size_t pl;
    const char *p = stream_piece(t, tok, d->first, &pl);
    /* work on pending + piece without changing d until it all fits */
    char small[256];
    size_t n = (size_t)d->n_pending + pl;
    char *buf = n <= sizeof small ? small : malloc(n);
    if (!buf) return -1;
    memcpy(buf, d->pending, (size_t)d->n_pending);
    memcpy(buf + d->n_pending, p, pl);
    size_t i = 0, o = 0;
    int keep = 0;
    while (i < n) {
        bool complete, need_more;
        size_t l = utf8_scan((const uint8_t *)buf + i, n - i, &complete, &need_more);
        if (need_more) { keep = (int)l; break; }
        const char *src = complete ? buf + i : REPL;
        size_t sl = complete ? l : 3;
        if (o + sl > (size_t)cap) { if (buf != small) free(buf); return -1; }
        memcpy(out + o, src, sl);
        o += sl;
        i += l;
    }
    memcpy(d->pending, buf + i, (size_t)keep);
    d->n_pending = keep;
    d->first = false;
    if (buf != small) free(buf);
    return (int)o;
}

int ai_detok_flush(ai_detok *d, char *out, int cap) {
    int o = 0;
    if (d->n_pending > 0 && cap >= 3) { memcpy(out, REPL, 3); o = 3; }
    d->n_pending = 0;
    return o;
}
