/* cmd_generate.c — `autoinfer generate`: stream a completion to stdout and a
 * one-line summary (tokens and speeds) to stderr. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoinfer.h"
#include "cliutil.h"
#include "commands.h"
#include "config.h"

#define DEFAULT_MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

static void usage(FILE *out) {
    fprintf(out,
        "usage: autoinfer generate [-m MODEL] (-p PROMPT | -f FILE) [options]\n"
        "  -m, --model FILE        GGUF model (default " DEFAULT_MODEL ")\n"
        "  -p, --prompt TEXT       the prompt\n"
        "  -f, --file FILE         read the prompt from FILE\n"
        "      --chat              format the prompt with the model's chat template\n"
        "      --system TEXT       system message (with --chat)\n"
        "      --think on|off      let a thinking model (Qwen3) reason first, or not (with --chat;\n"
        "                          default: the template's own, on)\n"
        "  -n, --n-predict N       tokens to generate at most (default 256)\n"
        "      --ignore-eos        keep generating past end-of-sequence\n"
        "      --temp X            sampling temperature (0 = greedy)\n"
        "      --top-k N  --top-p X  --min-p X  --repeat-penalty X  --seed N\n"
        "  -t, --threads N         worker threads\n"
        "      --conf FILE         pipeline configuration (default ./pipeline.conf if present)\n"
        "      --set KEY=VALUE     override one knob (repeatable)\n");
}

typedef struct {
    int n_tokens;
    double t_first, t_last;
} gen_stats;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int on_token(void *user, int32_t tok, const char *text, size_t len) {
    gen_stats *s = user;
    double t = now_s();
    if (s->n_tokens == 0) s->t_first = t;
    s->t_last = t;
    s->n_tokens++;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int ai_cmd_generate(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"prompt", required_argument, 0, 'p'},
        {"file", required_argument, 0, 'f'}, {"chat", no_argument, 0, 'c'},
        {"system", required_argument, 0, 'S'}, {"n-predict", required_argument, 0, 'n'},
        {"ignore-eos", no_argument, 0, 'E'}, {"temp", required_argument, 0, 1},
        {"top-k", required_argument, 0, 2}, {"top-p", required_argument, 0, 3},
        {"min-p", required_argument, 0, 4}, {"repeat-penalty", required_argument, 0, 5},
        {"seed", required_argument, 0, 6}, {"threads", required_argument, 0, 't'},
        {"conf", required_argument, 0, 'C'}, {"set", required_argument, 0, 's'},
        {"think", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *flag_key[] = {NULL, "temperature", "top_k", "top_p", "min_p",
                                     "repeat_penalty", "seed"};
    const char *model = DEFAULT_MODEL, *prompt = NULL, *file = NULL, *system = NULL;
    bool chat = false, ignore_eos = false;
    int think = -1; /* -1: the template's default */
    long n_predict = 256;
    ai_cli_conf cc = {0};
    char kv_store[AI_CLI_MAX_SETS][96];
    int n_kv = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:f:n:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': file = optarg; break;
        case 'c': chat = true; break;
        case 'S': system = optarg; break;
        case 'T':
            if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
                fprintf(stderr, "autoinfer generate: --think expects on or off, got '%s'\n", optarg);
                return 2;
            }
            think = !strcmp(optarg, "on");
            break;
        case 'E': ignore_eos = true; break;
        case 'C': cc.conf_path = optarg; break;
        case 's': if (ai_cli_set(&cc, "generate", optarg)) return 2; break;
        case 'n': if (ai_cli_parse_long("generate", "-n", optarg, 0, 1000000, &n_predict)) return 2; break;
        case 't': case 1: case 2: case 3: case 4: case 5: case 6: {
            if (n_kv >= AI_CLI_MAX_SETS) return 2;
            snprintf(kv_store[n_kv], sizeof kv_store[n_kv], "%s=%s",
                     c == 't' ? "threads" : flag_key[c], optarg);
            if (ai_cli_set(&cc, "generate", kv_store[n_kv++])) return 2;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "autoinfer generate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!!prompt == !!file) {
        fprintf(stderr, "autoinfer generate: give exactly one of -p PROMPT or -f FILE\n");
        return 2;
    }
    if ((system || think >= 0) && !chat) {
        fprintf(stderr, "autoinfer generate: %s needs --chat\n", system ? "--system" : "--think");
        return 2;
    }
    ai_conf conf;
    if (ai_cli_build_conf(&cc, "generate", &conf)) return 2;

    char *file_text = NULL;
    if (file) {
        file_text = ai_cli_read_text("generate", file);
        if (!file_text) return 1;
        prompt = file_text;
    }
    int rc = 1;
    int32_t *tokens = NULL;
    char *formatted = NULL;
    ai_pipeline *p = ai_cli_open("generate", model, &conf);
    if (!p) goto done;
    ai_error err;
    const char *text = prompt;
    if (chat) {
        size_t cap = strlen(prompt) + (system ? strlen(system) : 0) + 4096;
        if (think >= 0 && ai_chat_set_thinking(p, think, &err)) {
            fprintf(stderr, "autoinfer generate: %s\n", err.msg);
            goto done;
        }
        formatted = malloc(cap);
        if (!formatted || ai_chat_format(p, system, prompt, formatted, cap, &err) < 0) {
            fprintf(stderr, "autoinfer generate: %s\n", formatted ? err.msg : "out of memory");
            goto done;
        }
        text = formatted;
    }
    int cap = (int)strlen(text) + 16;
    tokens = malloc((size_t)cap * sizeof *tokens);
    int n = tokens ? ai_tokenize(p, text, 1, chat, tokens, cap, &err) : -1;
    if (n < 0) {
        fprintf(stderr, "autoinfer generate: %s\n", tokens ? err.msg : "out of memory");
        goto done;
    }
    /* Without a rotating KV window, generation ends when the context is full:
     * after ctx - n + 1 tokens (the last one is sampled from position ctx - 1). */
    ai_settings s;
    bool bounded = ai_settings_from_conf(&conf, &s, &err) == 0 && !ai_settings_kv_layout(&s).rotating;
    long ctx = ai_context_length(p), room = ctx - n + 1;
    if (bounded && ignore_eos && n_predict > room) {
        fprintf(stderr, "autoinfer generate: -n %ld with --ignore-eos does not fit: the prompt's %d tokens "
                "leave room for %ld in ctx %ld (raise the knob ctx, e.g. --set ctx=%ld)\n",
                n_predict, n, room, ctx, n + n_predict - 1);
        rc = 2;
        goto done;
    }
    gen_stats st = {0};
    ai_gen_params gp = {.max_tokens = (int)n_predict, .ignore_eos = ignore_eos};
    double t0 = now_s();
    int got = ai_generate(p, tokens, n, &gp, on_token, &st, &err);
    if (got < 0) {
        fprintf(stderr, "%sautoinfer generate: %s\n", st.n_tokens ? "\n" : "", err.msg);
        goto done;
    }
    printf("\n");
    fflush(stdout);
    if (bounded && got < n_predict && got >= room)
        fprintf(stderr, "autoinfer generate: stopped at the context size: %d prompt + %d generated tokens "
                "fill ctx %ld (-n %ld; raise the knob ctx for longer outputs)\n", n, got, ctx, n_predict);
    double prefill_s = st.n_tokens ? st.t_first - t0 : 0;
    double decode_s = st.n_tokens > 1 ? st.t_last - st.t_first : 0;
    fprintf(stderr, "prompt tokens: %d, generated tokens: %d, prefill: %.1f tok/s, decode: %.1f tok/s\n",
            n, got, prefill_s > 0 ? n / prefill_s : 0.0,
            decode_s > 0 ? (st.n_tokens - 1) / decode_s : 0.0);
    rc = 0;
done:
    ai_pipeline_close(p);
    free(tokens);
    free(formatted);
    free(file_text);
    return rc;
}
