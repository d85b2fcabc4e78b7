/* cmd_generate.c — placeholder until the 'generate' command lands. */
#include <stdio.h>

int ai_cmd_generate(int argc, char **argv);

int ai_cmd_generate(int argc, char **argv) {
    fprintf(stderr, "autoinfer generate: not built yet\n");
    return 1;
}
