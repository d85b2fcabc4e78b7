/* cmd_tokenize.c — placeholder until the 'tokenize' command lands. */
#include <stdio.h>

int ai_cmd_tokenize(int argc, char **argv);

int ai_cmd_tokenize(int argc, char **argv) {
    fprintf(stderr, "autoinfer tokenize: not built yet\n");
    return 1;
}
