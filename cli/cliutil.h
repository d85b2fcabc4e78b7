/* cliutil.h — what several subcommands share: building the configuration
 * from pipeline.conf plus --set overrides, and opening the pipeline. */
#ifndef AI_CLIUTIL_H
#define AI_CLIUTIL_H

#include "autoinfer.h"

#define AI_CLI_MAX_SETS 64

typedef struct ai_cli_conf {
    const char *conf_path;              /* --conf, or NULL */
    const char *sets[AI_CLI_MAX_SETS];  /* --set KEY=VALUE and flag shortcuts */
    int n_sets;
} ai_cli_conf;

/* Adds a "key=value" override (from a flag); returns -1 when full. */
int ai_cli_set(ai_cli_conf *c, const char *cmd, const char *kv);
/* Defaults, then the conf file (--conf, else ./pipeline.conf if present),
 * then the overrides. Prints the error and returns -1 on failure. */
int ai_cli_build_conf(const ai_cli_conf *c, const char *cmd, ai_conf *out);
/* The whole of a text file ("-" = standard input), NUL-terminated, malloc'd;
 * prints "autoinfer CMD: cannot read 'PATH': why" and returns NULL on failure. */
char *ai_cli_read_text(const char *cmd, const char *path);
/* Parses an option's value as a whole number in lo..hi (no sign games,
 * spaces or overflow); prints "autoinfer CMD: OPTION expects a whole number
 * in LO..HI, got 'TEXT'" and returns -1 otherwise. */
int ai_cli_parse_long(const char *cmd, const char *option, const char *text, long lo, long hi,
                      long *out);
/* Opens the model with conf; prints the error and returns NULL on failure. */
ai_pipeline *ai_cli_open(const char *cmd, const char *model, const ai_conf *conf);

#endif
