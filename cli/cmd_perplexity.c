/* cmd_perplexity.c — placeholder until the 'perplexity' command lands. */
#include <stdio.h>

int ai_cmd_perplexity(int argc, char **argv);

int ai_cmd_perplexity(int argc, char **argv) {
    fprintf(stderr, "autoinfer perplexity: not built yet\n");
    return 1;
}
