/* cmd_synth.c — placeholder until the 'synth' command lands. */
#include <stdio.h>

int ai_cmd_synth(int argc, char **argv);

int ai_cmd_synth(int argc, char **argv) {
    fprintf(stderr, "autoinfer synth: not built yet\n");
    return 1;
}
