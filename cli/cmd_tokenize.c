/* cmd_tokenize.c — `autoinfer tokenize MODEL TEXT`: the token ids of a text
 * and what each token stands for. Reads only the tokenizer metadata. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"
#include "cliutil.h"
#include "commands.h"
#include "gguf.h"
#include "tokenizer.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: autoinfer tokenize MODEL TEXT [options]\n"
        "  Prints one line per token: id and piece (bytes that are not printable\n"
        "  are escaped; control tokens show their text). TEXT '-' reads stdin.\n"
        "      --no-bos      do not add BOS even if the model asks for it\n"
        "      --no-special  treat special-token text such as <|im_end|> as plain text\n"
        "      --ids-only    print only the ids, space separated, on one line\n"
        "  -h, --help        this help\n");
}

/* Prints a piece quoted: printable ASCII and complete UTF-8 characters as
 * they are, the rest escaped. */
static void print_piece(const char *s, int n) {
    putchar('\'');
    for (int i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        bool whole = l > 0 && i + l <= n;
        for (int k = 1; whole && k < l; k++) whole = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\'') fputs("\\'", stdout);
        else if (l == 1 && c >= 0x20 && c < 0x7F) putchar(c);
        else if (l > 1 && whole) { fwrite(s + i, 1, (size_t)l, stdout); i += l; continue; }
        else printf("\\x%02x", c);
        i++;
    }
    putchar('\'');
}

int ai_cmd_tokenize(int argc, char **argv) {
    static const struct option OPTS[] = {
        {"no-bos", no_argument, 0, 'b'}, {"no-special", no_argument, 0, 's'},
        {"ids-only", no_argument, 0, 'i'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool no_bos = false, no_special = false, ids_only = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        switch (c) {
        case 'b': no_bos = true; break;
        case 's': no_special = true; break;
        case 'i': ids_only = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "autoinfer tokenize: expected MODEL and TEXT (see 'autoinfer tokenize --help')\n");
        return 2;
    }
    const char *model = argv[optind];
    char *text = NULL;
    const char *src = argv[optind + 1];
    if (!strcmp(src, "-")) {
        text = ai_cli_read_text("tokenize", "-");
        if (!text) return 1;
        src = text;
    }

    int rc = 1;
    ai_error err = {{0}};
    ai_tokenizer *t = NULL;
    int32_t *ids = NULL;
    gguf_file *f = gguf_open(model, &err);
    if (!f) {
        fprintf(stderr, "autoinfer tokenize: %s\n", err.msg);
        goto done;
    }
    t = ai_tokenizer_load(f, &err);
    if (!t) {
        fprintf(stderr, "autoinfer tokenize: %s\n", err.msg);
        goto done;
    }
    size_t len = strlen(src);
    int cap = len < 1000000 ? (int)len + 8 : 1000008;
    ids = malloc((size_t)cap * sizeof *ids);
    int n = ids ? ai_tokenizer_encode(t, src, len, !no_bos, !no_special, ids, cap, &err) : -1;
    if (n > cap) { /* cannot happen for byte-level vocabularies; be safe anyway */
        free(ids);
        cap = n;
        ids = malloc((size_t)cap * sizeof *ids);
        n = ids ? ai_tokenizer_encode(t, src, len, !no_bos, !no_special, ids, cap, &err) : -1;
    }
    if (n < 0) {
        fprintf(stderr, "autoinfer tokenize: %s\n", ids ? err.msg : "out of memory");
        goto done;
    }
    if (ids_only) {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    } else {
        char piece[1024];
        for (int i = 0; i < n; i++) {
            int pl = ai_tokenizer_piece(t, ids[i], true, piece, sizeof piece);
            printf("%7d  ", ids[i]);
            print_piece(piece, pl < (int)sizeof piece ? pl : (int)sizeof piece);
            putchar('\n');
        }
        printf("%d token%s (%s, pre-tokenizer %s)\n", n, n == 1 ? "" : "s", ai_tokenizer_kind(t),
               ai_tokenizer_pre(t));
    }
    rc = 0;
done:
    free(ids);
    ai_tokenizer_free(t);
    if (f) gguf_close(f);
    free(text);
    return rc;
}
