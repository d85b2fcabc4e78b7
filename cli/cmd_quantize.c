/* cmd_quantize.c — placeholder until the 'quantize' command lands. */
#include <stdio.h>

int ai_cmd_quantize(int argc, char **argv);

int ai_cmd_quantize(int argc, char **argv) {
    fprintf(stderr, "autoinfer quantize: not built yet\n");
    return 1;
}
