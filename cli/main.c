/* main.c — the autoinfer command line: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "autoinfer.h"
#include "commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"info", ai_cmd_info, "describe a GGUF model (architecture, sizes, tensor types, tokenizer)"},
    {"tokenize", ai_cmd_tokenize, "show the token ids of a text"},
    {"generate", ai_cmd_generate, "generate text from a prompt"},
    {"perplexity", ai_cmd_perplexity, "teacher-forced perplexity of a text file"},
    {"quantize", ai_cmd_quantize, "requantize a GGUF model to another weight type"},
    {"synth", ai_cmd_synth, "write a GGUF with random weights and a real model's shape"},
    {"bench", ai_cmd_bench, "raw speed figures (decode/prefill tok/s, read bandwidth) for bench/run.sh"},
    {"eval", ai_cmd_eval, "the locked evaluation: speed, quality gate, change monitor"},
    {"optimise", ai_cmd_optimise, "hill-climb tokens/s under the quality gate (git experiment log)"},
    {"try", ai_cmd_try, "one experiment of a run on the change in its tree (the agent-driven way)"},
    {"report", ai_cmd_report, "markdown log and chart of an optimisation run"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out) {
    fprintf(out, "usage: autoinfer <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\n'autoinfer <command> --help' describes one command.\n"
                 "'autoinfer --version' prints the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("autoinfer %s\n", AI_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name))
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "autoinfer: unknown command '%s' (try 'autoinfer --help')\n", argv[1]);
    return 2;
}
