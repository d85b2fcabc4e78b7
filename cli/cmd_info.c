/* cmd_info.c — placeholder until the 'info' command lands. */
#include <stdio.h>

int ai_cmd_info(int argc, char **argv);

int ai_cmd_info(int argc, char **argv) {
    fprintf(stderr, "autoinfer info: not built yet\n");
    return 1;
}
