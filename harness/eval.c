/* eval.c — placeholder until the 'eval' command lands. */
#include <stdio.h>

int ai_cmd_eval(int argc, char **argv);

int ai_cmd_eval(int argc, char **argv) {
    fprintf(stderr, "autoinfer eval: not built yet\n");
    return 1;
}
