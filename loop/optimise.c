/* optimise.c — placeholder until the 'optimise' command lands. */
#include <stdio.h>

int ai_cmd_optimise(int argc, char **argv);

int ai_cmd_optimise(int argc, char **argv) {
    fprintf(stderr, "autoinfer optimise: not built yet\n");
    return 1;
}
