/* commands.h — the subcommands of the autoinfer binary. Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status: 0 ok, 1 failure, 2 bad usage. */
#ifndef AI_COMMANDS_H
#define AI_COMMANDS_H

#include <stddef.h>

int ai_cmd_info(int argc, char **argv);       /* cli/cmd_info.c */
int ai_cmd_tokenize(int argc, char **argv);   /* cli/cmd_tokenize.c */
int ai_cmd_generate(int argc, char **argv);   /* cli/cmd_generate.c */
int ai_cmd_perplexity(int argc, char **argv); /* cli/cmd_perplexity.c */
int ai_cmd_quantize(int argc, char **argv);   /* cli/cmd_quantize.c */
int ai_cmd_synth(int argc, char **argv);      /* cli/cmd_synth.c */
int ai_cmd_bench(int argc, char **argv);      /* cli/cmd_bench.c */
/* bench --kernels (cli/bench_kernels.c): GB/s of each format's product
 * kernel from cache and streaming from a matrix of mib MiB */
int ai_bench_kernels(long mib, int reps, size_t prefetch);
int ai_cmd_eval(int argc, char **argv);       /* harness/ */
int ai_cmd_optimise(int argc, char **argv);   /* loop/ */
int ai_cmd_report(int argc, char **argv);     /* loop/ */
int ai_cmd_try(int argc, char **argv);        /* loop/ */

#endif
