/* sanity.c — the seed's sanity checks (its README's table), applied to the
 * natural, EOS-stopped answers. Matching is case-insensitive substring
 * search, as in the seed's prepare.py. */
#include "sanity.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Case-insensitive strstr. */
static const char *find_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (!n) return hay;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return hay;
    }
    return NULL;
}

/* Counts the groups of which at least one alias occurs in text; appends the
 * first matching alias of each to `found` ("a, b"). Groups are separated by
 * NULL entries; the list ends with two NULLs. */
static int count_groups(const char *text, const char *const *aliases, char *found,
                        size_t cap) {
    int count = 0, matched = 0;
    found[0] = 0;
    for (const char *const *a = aliases;; a++) {
        if (!*a) {
            matched = 0;
            if (!a[1]) break;
            continue;
        }
        if (!matched && find_ci(text, *a)) {
            matched = 1;
            count++;
            size_t len = strlen(found);
            snprintf(found + len, cap - len, "%s%s", len ? ", " : "", *a);
        }
    }
    return count;
}

static int non_empty_lines(const char *text) {
    int lines = 0, has = 0;
    for (const char *p = text;; p++) {
        if (*p == '\n' || !*p) {
            lines += has;
            has = 0;
            if (!*p) break;
        } else if (!isspace((unsigned char)*p)) {
            has = 1;
        }
    }
    return lines;
}

/* Transformers explanation: mentions >= 2 of attention, self-attention,
 * token, layer (each keyword counted when it occurs, as in the seed). */
static int check_transformers(const char *text, char *why, size_t cap) {
    static const char *const kw[] = {"attention", NULL, "self-attention", NULL,
                                     "token",     NULL, "layer",          NULL, NULL};
    char found[256];
    int n = count_groups(text, kw, found, sizeof found);
    snprintf(why, cap, "%d of attention/self-attention/token/layer (need 2)%s%s", n,
             n ? ": " : "", found);
    return n >= 2;
}

/* Compiler summary: mentions >= 2 distinct optimization passes. */
static int check_compiler(const char *text, char *why, size_t cap) {
    static const char *const passes[] = {
        "dead code", "dce", NULL,
        "inlin", NULL,
        "constant folding", "constant-folding", NULL,
        "constant propagation", "constant-propagation", NULL,
        "copy propagation", NULL,
        "unroll", NULL,
        "common subexpression", "cse", NULL,
        "register allocation", NULL,
        "vectoriz", "vectoris", "simd", NULL,
        "strength reduction", NULL,
        "tail call", "tail-call", NULL,
        "loop invariant", "loop-invariant", "licm", "code motion", NULL,
        "instruction scheduling", NULL,
        "peephole", NULL,
        "loop fusion", "loop fission", "loop interchange", NULL,
        "escape analysis", NULL,
        "branch prediction", NULL,
        NULL};
    char found[512];
    int n = count_groups(text, passes, found, sizeof found);
    snprintf(why, cap, "%d optimization passes named (need 2)%s%s", n, n ? ": " : "",
             found);
    return n >= 2;
}

/* Train problem: the answer contains "48" (48 km/h). */
static int check_train(const char *text, char *why, size_t cap) {
    int ok = find_ci(text, "48") != NULL;
    snprintf(why, cap, ok ? "contains 48" : "does not contain 48");
    return ok;
}

/* Poem: several lines and relevant keywords. */
static int check_poem(const char *text, char *why, size_t cap) {
    static const char *const kw[] = {"silicon", NULL, "chip", NULL, "electric", NULL,
                                     "circuit", NULL, "current", NULL, "transistor", NULL,
                                     "electron", NULL, "volt", NULL, "spark", NULL,
                                     "wire", NULL, NULL};
    char found[256];
    int n = count_groups(text, kw, found, sizeof found);
    int lines = non_empty_lines(text);
    snprintf(why, cap, "%d lines (need 2), %d keywords (need 1)%s%s", lines, n,
             n ? ": " : "", found);
    return lines >= 2 && n >= 1;
}

/* LCS code: a Python def and a relevant identifier. */
static int check_lcs(const char *text, char *why, size_t cap) {
    static const char *const kw[] = {"subsequence", NULL, "lcs", NULL, "longest", NULL,
                                     "common", NULL, NULL};
    char found[128];
    int has_def = find_ci(text, "def ") != NULL;
    int n = count_groups(text, kw, found, sizeof found);
    snprintf(why, cap, "%s, %d relevant identifiers%s%s", has_def ? "has def" : "no def",
             n, n ? ": " : "", found);
    return has_def && n >= 1;
}

int ah_sanity_check(const char *prompt_id, const char *text, char *why, size_t cap) {
    static const struct {
        const char *id;
        int (*fn)(const char *, char *, size_t);
    } CHECKS[] = {
        {"transformers", check_transformers}, {"compiler", check_compiler},
        {"train", check_train},               {"poem", check_poem},
        {"lcs", check_lcs},
    };
    for (size_t i = 0; i < sizeof CHECKS / sizeof CHECKS[0]; i++)
        if (!strcmp(prompt_id, CHECKS[i].id)) return CHECKS[i].fn(text, why, cap) ? 1 : 0;
    snprintf(why, cap, "no sanity check for prompt '%s'", prompt_id);
    return -1;
}
