/* cmd_perplexity.c — `autoinfer perplexity`: teacher-forced perplexity of a
 * text, with llama-perplexity's protocol so the figures compare: the text is
 * tokenized once (with BOS), cut into chunks of --ctx tokens, each chunk
 * starts with BOS (when the model wants one), and only the second half of
 * each chunk is scored. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"
#include "cliutil.h"
#include "commands.h"

typedef struct {
    const int32_t *tokens; /* the chunk */
    int first;             /* first scored position */
    double nll;
    int count;
} ppl_acc;

static int on_logits(void *user, int pos, const float *logits, int n_vocab) {
    ppl_acc *a = user;
    if (pos < a->first) return 0;
    float maxl = logits[0];
    for (int i = 1; i < n_vocab; i++) if (logits[i] > maxl) maxl = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - maxl);
    a->nll += log(sum) + maxl - logits[a->tokens[pos + 1]];
    a->count++;
    return 0;
}

static void usage(FILE *out) {
    fprintf(out,
        "usage: autoinfer perplexity -m MODEL -f TEXT [--ctx N] [--chunks N] [--conf FILE] [--set K=V]\n"
        "  teacher-forced perplexity, scored like llama-perplexity (second half of each chunk)\n"
        "  --ctx N      tokens per chunk (default 512)\n"
        "  --chunks N   score at most N chunks (default all)\n");
}

int ai_cmd_perplexity(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"file", required_argument, 0, 'f'},
        {"ctx", required_argument, 0, 'c'}, {"chunks", required_argument, 0, 'k'},
        {"conf", required_argument, 0, 'C'}, {"set", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *file = NULL;
    long n_ctx = 512, max_chunks = -1;
    ai_cli_conf cc = {0};
    char threads_kv[64], ctx_kv[64];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:f:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case 'C': cc.conf_path = optarg; break;
        case 's': if (ai_cli_set(&cc, "perplexity", optarg)) return 2; break;
        case 't':
            snprintf(threads_kv, sizeof threads_kv, "threads=%s", optarg);
            if (ai_cli_set(&cc, "perplexity", threads_kv)) return 2;
            break;
        case 'c': if (ai_cli_parse_long("perplexity", "--ctx", optarg, 8, 131072, &n_ctx)) return 2; break;
        case 'k': if (ai_cli_parse_long("perplexity", "--chunks", optarg, 1, 1000000, &max_chunks)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model || !file || optind < argc) {
        usage(stderr);
        return 2;
    }
    snprintf(ctx_kv, sizeof ctx_kv, "ctx=%ld", n_ctx);
    if (ai_cli_set(&cc, "perplexity", ctx_kv)) return 2;
    ai_conf conf;
    if (ai_cli_build_conf(&cc, "perplexity", &conf)) return 2;

    char *text = ai_cli_read_text("perplexity", file);
    if (!text) return 1;

    int rc = 1;
    int32_t *tokens = NULL;
    ai_pipeline *p = ai_cli_open("perplexity", model, &conf);
    if (!p) goto done;
    ai_error err;
    int cap = (int)strlen(text) + 16;
    tokens = malloc((size_t)cap * sizeof *tokens);
    int n = tokens ? ai_tokenize(p, text, 1, 0, tokens, cap, &err) : -1;
    if (n < 0) {
        fprintf(stderr, "autoinfer perplexity: %s\n", tokens ? err.msg : "out of memory");
        goto done;
    }
    ai_model_desc desc;
    ai_pipeline_describe(p, &desc);
    long n_chunks = n / n_ctx;
    if (max_chunks > 0 && max_chunks < n_chunks) n_chunks = max_chunks;
    if (n_chunks < 1) {
        fprintf(stderr, "autoinfer perplexity: '%s' has %d tokens, fewer than one chunk of %ld\n",
                file, n, n_ctx);
        goto done;
    }
    double nll = 0;
    int count = 0;
    fprintf(stderr, "perplexity: %d tokens, %ld chunks of %ld\n", n, n_chunks, n_ctx);
    for (long ch = 0; ch < n_chunks; ch++) {
        int32_t *chunk = tokens + ch * n_ctx;
        int32_t saved = chunk[0];
        if (desc.add_bos && desc.bos >= 0) chunk[0] = desc.bos;
        ppl_acc acc = {.tokens = chunk, .first = (int)(n_ctx / 2)};
        int r = ai_score(p, chunk, (int)n_ctx, on_logits, &acc, &err);
        chunk[0] = saved;
        if (r < 0) {
            fprintf(stderr, "autoinfer perplexity: %s\n", err.msg);
            goto done;
        }
        if (!isfinite(acc.nll)) { /* a NaN or infinite logit: no perplexity to report */
            fprintf(stderr, "%sautoinfer perplexity: chunk %ld: the log-likelihood is not finite "
                    "(the model gave NaN or infinite logits)\n", ch ? "\n" : "", ch + 1);
            goto done;
        }
        nll += acc.nll;
        count += acc.count;
        printf("[%ld]%.4f ", ch + 1, exp(nll / count));
        fflush(stdout);
    }
    printf("\nPPL = %.4f over %d scored tokens\n", exp(nll / count), count);
    rc = 0;
done:
    ai_pipeline_close(p);
    free(tokens);
    free(text);
    return rc;
}
