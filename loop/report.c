/* report.c — placeholder until the 'report' command lands. */
#include <stdio.h>

int ai_cmd_report(int argc, char **argv);

int ai_cmd_report(int argc, char **argv) {
    fprintf(stderr, "autoinfer report: not built yet\n");
    return 1;
}
