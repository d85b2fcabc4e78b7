/* loop.h — the optimisation driver's internal interfaces (LOCKED part).
 *
 * The driver (`autoinfer optimise`) runs experiments on a git branch: a
 * proposal (built-in knob search, or an external agent editing engine/),
 * a lock check, a commit, a build, an interleaved A/B evaluation by the
 * locked harness in a child process, a decision, keep or reset, and one row
 * in results.tsv. Everything it knows about the pipeline comes from the knob
 * table in include/autoinfer.h and from the harness's JSON.
 *
 * Files:  proc.c    child processes (argv, timeout, rlimits, process groups)
 *         util.c    files: atomic writes, fsync, copies, directories
 *         git.c     the git CLI
 *         lock.c    which paths an experiment may change
 *         judge.c   the judge's own hashed copies, out of the candidate's reach
 *         results.c results.tsv rows
 *         state.c   the run's journal (state.json, written atomically)
 *         evalrun.c running `autoinfer eval` and reading its JSON
 *         decide.c  the keep/revert rule
 *         strategy.c coordinate descent (--strategy knobs), pipeline.conf editing
 *         search.c  the screening search (--strategy search, the default)
 *         agent.c   the external agent: prompt file and run
 *         optimise.c the command itself, and the experiment step it shares with try
 *         try.c     `autoinfer try`: one experiment on the change in a run's tree
 *         report.c, svg.c  `autoinfer report`
 */
#ifndef AL_LOOP_H
#define AL_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "autoinfer.h"

/* ---- child processes (proc.c) ------------------------------------------ */

typedef struct al_proc_opts {
    const char *cwd;          /* NULL: inherit */
    const char *stdin_path;   /* NULL: /dev/null */
    const char *log_path;     /* stdout+stderr appended here (unless captured) */
    char *out;                /* capture stdout here (NUL-terminated) */
    size_t out_cap;
    char *errbuf;             /* capture stderr here (NUL-terminated) */
    size_t err_cap;
    double timeout_s;         /* wall clock; 0 = none */
    long mem_mb;              /* RLIMIT_AS; 0 = none */
    long cpu_s;               /* RLIMIT_CPU; 0 = none */
    int new_group;            /* own process group (killed as a whole) */
    const char *const *env;   /* extra "KEY=VALUE" entries, NULL-terminated */
    const volatile sig_atomic_t *stop; /* kill the child when *stop != 0 */
} al_proc_opts;

typedef struct al_proc_result {
    int exited, code;         /* normal exit and its status */
    int signaled, sig;        /* killed by a signal (not by us) */
    int timed_out;            /* we killed it: wall-clock limit */
    int interrupted;          /* we killed it: *stop was set */
    double wall_s;
} al_proc_result;

/* Runs argv[0] (PATH lookup) with argv. Returns 0 when the child ran (see
 * r for how it ended), -1 when it could not be started. */
int al_proc_run(const char *const *argv, const al_proc_opts *o,
                al_proc_result *r, ai_error *err);
/* Kills and reaps every process whose parent is the driver: what an agent
 * or a candidate left running in a session of its own, handed to the
 * driver (a child subreaper, PR_SET_CHILD_SUBREAPER) when its parent
 * ended. Call only when no child of the driver's is meant to run. Returns
 * how many were killed. */
int al_proc_reap_orphans(void);
/* One line describing how a child ended: "exit 3", "signal 11 (SIGSEGV)". */
void al_proc_describe(const al_proc_result *r, char *out, size_t cap);

/* ---- files (util.c) ----------------------------------------------------- */
/* A growing string for the report and the chart: append with al_buf_printf
 * (a failed allocation leaves the text as it was); the caller frees b.s. */
typedef struct al_buf {
    char *s;
    size_t n, cap;
} al_buf;
void al_buf_printf(al_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int al_mkdirs(const char *path, ai_error *err);
/* Write data to path via path.tmp + fsync + rename + fsync(dir). */
int al_write_atomic(const char *path, const char *data, size_t n, ai_error *err);
/* Copy src to dst atomically (mode preserved). */
int al_copy_file(const char *src, const char *dst, ai_error *err);
/* Whole file, malloc'd and NUL-terminated; NULL when unreadable. */
char *al_read_file(const char *path, size_t *len);
int al_exists(const char *path);
double al_now(void);                   /* monotonic seconds */
void al_format_duration(double s, char *out, size_t cap); /* "1:02:03" */
/* Replace tabs/newlines by spaces and cut to cap-1 bytes (TSV-safe). */
void al_sanitize(char *s);
/* First line of a file that contains `needle` (or the last non-empty line
 * when needle is NULL) into out, TSV-safe; "" when none. */
void al_file_grep_line(const char *path, const char *needle, char *out, size_t cap);

/* ---- git (git.c) --------------------------------------------------------- */

typedef struct al_git {
    char repo[1024];          /* working tree the run happens in */
    int need_identity;        /* pass -c user.name/email (none configured) */
} al_git;

/* git -C repo ARGS... (NULL-terminated). out may be NULL. Returns git's
 * exit status, or -1 (err set) when git could not be run. */
int al_git_run(const al_git *g, char *out, size_t cap, ai_error *err, ...)
    __attribute__((sentinel));
int al_git_init(al_git *g, const char *dir, ai_error *err);
int al_git_head(const al_git *g, char *sha, size_t cap, ai_error *err);
int al_git_branch(const al_git *g, char *name, size_t cap); /* "" when detached */
/* Paths that differ from the index/HEAD or are untracked (not ignored),
 * one per line with status, into out. Returns the number of paths. */
int al_git_dirty(const al_git *g, char *out, size_t cap, ai_error *err);
/* reset --hard to commit and remove what the experiment created: untracked
 * files, and (when ignored_at_start is not NULL) every path git ignores
 * that is not on that list (al_ignored_list at the run's start). */
int al_git_reset_hard(const al_git *g, const char *commit, const char *ignored_at_start,
                      ai_error *err);
/* A kill -9 inside a git step leaves index.lock behind: removed when no git
 * process works in this repository. 1 when one was removed, 0 none, -1 when
 * a git process still runs there (err says which). */
int al_git_clear_stale_lock(const al_git *g, ai_error *err);
int al_git_commit_all(const al_git *g, const char *message, char *sha,
                      size_t cap, ai_error *err);
/* Lines added and removed under engine/ between two commits. */
int al_git_engine_numstat(const al_git *g, const char *from, const char *to,
                          int *added, int *removed, ai_error *err);

/* ---- the lock (lock.c) --------------------------------------------------- */

/* May an experiment change this path? (engine/... or pipeline.conf) */
int al_lock_allowed(const char *path);
/* Checks the working tree against the run's baseline commit: every
 * changed, added, deleted or untracked path must be allowed and none may
 * be a symbolic link (files git ignores: al_lock_new_ignored).
 * Returns 0 when clean; 1 when violated (bad = comma-separated paths);
 * -1 on error. */
int al_lock_check(const al_git *g, const char *base, char *bad, size_t cap,
                  ai_error *err);

/* Paths git ignores, one per line ("dir/" for a whole directory): the
 * run's start list, against which new ones are found. malloc'd. */
char *al_ignored_list(const al_git *g, ai_error *err);
/* Ignored paths not on the start list (comma-separated into bad): returns
 * their number, -1 on error. */
int al_lock_new_ignored(const al_git *g, const char *start, char *bad, size_t cap,
                        ai_error *err);
/* Removes them. */
int al_clean_new_ignored(const al_git *g, const char *start, ai_error *err);

/* ---- the judge's own copy (judge.c) ------------------------------------- */

#define AL_JUDGE_MAX 24
#define AL_JUDGE_PATH 1400

typedef struct al_judge_file {
    char name[64];            /* path under the judge directory */
    char label[160];          /* how a row names it ("bin/harness", "harness/gate.conf") */
    char pub[1100];           /* its visible twin ("" = none) */
    char sha[65];
    int copied;               /* 0: no private copy (the model: only hashed) */
    int have_stat;            /* st: the twin when last hashed (uncopied files) */
    struct stat st;
} al_judge_file;

typedef struct al_judge {
    char dir[1100];
    int n;
    al_judge_file f[AL_JUDGE_MAX];
} al_judge;

int al_judge_open(al_judge *j, const char *dir, ai_error *err);
/* Records name: copies src (NULL: nothing copied, pub only hashed) into the
 * judge directory read-only and hashes it; pub is the visible twin. Adding
 * a name again replaces it (a new best). */
int al_judge_add(al_judge *j, const char *name, const char *src, const char *pub,
                 const char *label, ai_error *err);
/* The same for a text the driver made (no twin). */
int al_judge_add_text(al_judge *j, const char *name, const char *text, ai_error *err);
int al_judge_has(const al_judge *j, const char *name);
void al_judge_path(const al_judge *j, const char *name, char *out, size_t cap);
char *al_judge_read(const al_judge *j, const char *name); /* malloc'd; NULL if absent */
int al_judge_save(const al_judge *j, ai_error *err);  /* the manifest */
int al_judge_load(al_judge *j, const char *dir, ai_error *err);
/* Re-hashes every copy and twin; a changed one is restored from the other
 * and its label appended to changed. Returns how many changed, or -1 when
 * no intact copy is left (err says which). */
int al_judge_verify(al_judge *j, char *changed, size_t cap, ai_error *err);
void al_judge_drop(al_judge *j, const char *name);

/* The run's visible copies the judge is made from. */
typedef struct al_judge_sources {
    const char *harness_bin, *best_bin, *best_conf, *baseline_dir, *repo, *model, *build_dir;
    const al_git *git;
} al_judge_sources;
/* Everything that judges: the harness binary, the model (hashed only), the
 * tree's harness/{gate.conf,prompts.tsv,reference.txt} (as data/), the
 * baseline directory when it exists, the build flags of build_dir, the
 * paths git ignores now (ignored.list), side A; then the manifest. */
int al_judge_fill(al_judge *j, const al_judge_sources *s, ai_error *err);
/* The baseline's references once saved (as baseline/). */
int al_judge_add_baseline(al_judge *j, const char *baseline_dir, ai_error *err);
/* Side A after a keep: bin/best and best.conf (dropped when absent). */
int al_judge_set_best(al_judge *j, const char *best_bin, const char *best_conf, ai_error *err);

/* The text that decides how build_dir compiles (cache flags and compilers,
 * generated flags.make and link.txt); malloc'd, NULL when unconfigured. */
char *al_build_flags(const char *build_dir);

/* ---- results.tsv (results.c) -------------------------------------------- */

#define AL_NA (-1e300)  /* a figure that is not available */

typedef struct al_row {
    int exp;
    char commit[16];
    double decode, decode_lo, decode_hi, prefill, mem_gb, ppl, sanity;
    int quality_pass;      /* 1, 0, or -1 (n/a) */
    double kl, top1, ratio, ratio_lo, ratio_hi, p;
    char status[16];       /* baseline keep revert crash reject interrupted */
    char description[256];
    char reason[256];
    char tradeoff[512];
    char time[32];
    double best_same;      /* the current best's decode tok/s in the same A/B session */
} al_row;

void al_row_init(al_row *r, int exp);
/* Appends one row (header first when the file is new) and fsyncs. */
int al_results_append(const char *path, const al_row *r, ai_error *err);
/* Reads every row; *rows is malloc'd (caller frees). A torn last line (no
 * newline: a crash mid-write) is dropped from the file when repair != 0. */
int al_results_read(const char *path, al_row **rows, int *n, int repair,
                    ai_error *err);
/* The TSV header line (without newline). */
const char *al_results_header(void);

/* ---- evaluation (evalrun.c) ---------------------------------------------- */

typedef struct al_stat { double median, lo, hi; } al_stat;

typedef struct al_eval {
    int have_json;
    char status[16];          /* compare.status, or "ok" without --ab */
    char why[256];
    char verdict[16];
    double ratio, ratio_lo, ratio_hi, p, noise;
    /* the other figures an objective can read (compare.figures): prefill,
     * ttft, request; each "B is x times faster" */
    struct al_figure {
        double ratio, lo, hi, p;
        char verdict[16];
    } fig[3];
    char backend[16];         /* device.backend: where the pipeline ran */
    al_stat decode, prefill, rss_mb, a_decode;
    int quality_pass;
    double sanity, ppl, ppl_ratio, kl_mean, kl_p99, top1;
    char failures[256];
    int plausible_ok;
    double roofline;
    char plausible_why[200];
    char tradeoff[512];       /* knob changes with their tradeoffs */
    char build_commit[48];
    int build_dirty;
    double duration_s;
} al_eval;

/* Parses the harness's JSON file. Returns 0, or -1 with err set. */
int al_eval_parse(const char *json_path, al_eval *e, ai_error *err);

/* ---- the decision (decide.c) --------------------------------------------- */

typedef struct al_outcome {
    char status[16];          /* keep revert crash */
    char reason[256];
} al_outcome;

/* How the evaluation ended and what it said → keep or not. noise is the
 * run's calibrated threshold (fraction); net_removed the engine lines the
 * candidate removes (removed - added) relative to the current best. */
void al_decide(const al_proc_result *pr, int have_json, const al_eval *e,
               double noise, int net_removed, al_outcome *out);
/* The smallest p-value the harness's sign-flip test can give with `rounds`
 * A/B rounds (2 / 2^rounds). */
double al_min_p(int rounds);
/* 1 when `rounds` rounds can reach the keep rule's significance level;
 * else 0 with why = the refusal ("4 rounds can never keep anything: ...
 * use 6 rounds or more"). */
int al_rounds_can_keep(int rounds, char *why, size_t cap);
/* The noise threshold from an A/A comparison (never below 1 %). */
double al_noise_from_aa(const al_eval *aa);

/* ---- the built-in strategy (strategy.c) ---------------------------------- */

typedef struct al_strat {
    int pass, knob, value, kept_in_pass, done;
} al_strat;

#define AL_MAX_PASSES 3

/* Moves st to the next applicable (knob, search value) given the current
 * best configuration text; fills key, value and a description
 * ("temperature 0.7 -> 0"). Returns 1, or 0 when the search is exhausted. */
int al_strat_next(al_strat *st, const ai_knob_info *knobs, int nk,
                  const char *conf_text, char *key, size_t kcap, char *value,
                  size_t vcap, char *desc, size_t dcap);
/* After the experiment at st: next value; a new pass when one was kept. */
void al_strat_advance(al_strat *st, int nk, int kept);
/* Value of key in pipeline.conf text (NULL text = absent) into out; 0 when
 * found, -1 otherwise. */
int al_conf_text_get(const char *text, const char *key, char *out, size_t cap);
/* New malloc'd text with key set to value (the line replaced in place, or
 * appended). */
char *al_conf_text_set(const char *text, const char *key, const char *value);

/* ---- the screening search (search.c) ------------------------------------ */

/* The figures a knob can move (ai_knob_info.moves) and an objective reads. */
enum { AL_FIG_DECODE = 1, AL_FIG_PREFILL = 2, AL_FIG_TTFT = 4, AL_FIG_MEMORY = 8 };
/* "decode,prefill" -> mask; -1 on a name that is none of the four. */
int al_figures_parse(const char *list, unsigned *mask);

#define AL_SEARCH_MAX_KNOBS 64
#define AL_SEARCH_MAX_CANDS 128
#define AL_SEARCH_MAX_TRIED 1024

/* One move: one knob, or two interacting knobs, set on top of the best. */
typedef struct al_move {
    int n;                  /* 1 or 2 */
    int knob[2];            /* indexes into the knob table */
    char value[2][64];
    char desc[200];         /* "threads 2 -> 4, spin yield -> spin" */
} al_move;

typedef struct al_search_opts {
    unsigned objective;     /* AL_FIG_* the decision reads: knobs that can't move it are skipped */
    int screen_rounds;      /* A/B rounds of the first screening rung (>= 2) */
    int full_rounds;        /* rounds of a full A/B: screening rungs stay below it */
    int promote;            /* at most this many moves per neighbourhood reach a full A/B */
    char backend[16];       /* the backend the pipeline runs on ("" = unknown: every knob) */
    char only[512];         /* --knobs: the knobs to search, "a,b,c" ("" = all) */
} al_search_opts;

enum { AL_SEARCH_DONE, AL_SEARCH_SCREEN, AL_SEARCH_FULL };
enum { AL_PHASE_NEW, AL_PHASE_SCREEN, AL_PHASE_FULL, AL_PHASE_DONE };

typedef struct al_search {
    const ai_knob_info *knobs;
    int nk;
    al_search_opts o;
    char cur[AL_SEARCH_MAX_KNOBS][64];    /* the current best's value of each knob */
    int phase;
    al_move cand[AL_SEARCH_MAX_CANDS];    /* the neighbourhood of the best */
    double score_log[AL_SEARCH_MAX_CANDS]; /* screening: sum of rounds x log(ratio) */
    int score_rounds[AL_SEARCH_MAX_CANDS];
    int alive[AL_SEARCH_MAX_CANDS];
    int ncand, rung, rung_rounds, next;
    int full[AL_SEARCH_MAX_CANDS], nfull, next_full; /* promoted, best first */
    uint64_t tried[AL_SEARCH_MAX_TRIED];  /* rejected (configuration, move) hashes */
    int ntried;
} al_search;

/* Starts at the configuration in conf_text (absent knobs: defaults).
 * Returns -1 when the knob table is too large. */
int al_search_init(al_search *s, const ai_knob_info *knobs, int nk, const al_search_opts *o,
                   const char *conf_text);
/* What to measure next: AL_SEARCH_SCREEN (a speed-only A/B of m against the
 * best with *rounds rounds; answer with al_search_screened), AL_SEARCH_FULL
 * (an experiment; answer with al_search_decided) or AL_SEARCH_DONE. */
int al_search_next(al_search *s, al_move *m, int *rounds);
/* The screening's objective ratio (candidate / best); 0 when it crashed or
 * broke a constraint. */
void al_search_screened(al_search *s, double ratio);
/* The full experiment's decision (kept = confirmed keep). */
void al_search_decided(al_search *s, int kept);
/* conf_text with the move's knobs set (malloc'd). */
char *al_move_apply(const al_search *s, const al_move *m, const char *conf_text);

/* --objective: decode, prefill, ttft or request -> the AL_FIG_* mask of the
 * figures a knob must move to matter (request: all three speeds); -1 on
 * another name. */
int al_objective_parse(const char *name, unsigned *mask);
/* Puts the objective's A/B figures (ratio, CI, p, verdict) where the
 * decision reads them (a decode objective leaves e as it is). */
void al_eval_objective(al_eval *e, unsigned objective);
/* 1 (and why) when the candidate breaks a constraint (peak memory above
 * max_memory_mb; 0 = none), else 0. */
int al_eval_constraint(const al_eval *e, double max_memory_mb, char *why, size_t cap);

/* ---- the run's journal (state.c) ----------------------------------------- */

/* Everything needed to continue a run after a crash, written atomically
 * before and after each step that matters. results.tsv holds the finished
 * experiments; `pending` the one in flight. */
typedef struct al_state {
    char tag[64], branch[160], repo[1024], model[1024];
    char strategy[16];         /* search | knobs | agent | noop */
    char agent[1024];          /* --agent CMD */
    int budget;                /* experiments (0 = until the search ends) */
    double hours;              /* wall-clock budget (0 = none) */
    double elapsed_s;          /* time spent in earlier sessions */
    char base_commit[48], best_commit[48], best_bin_commit[48];
    double base_decode, best_decode, noise, eval_timeout, agent_timeout;
    int rounds, tokens;        /* passed to the harness when > 0 */
    int quick;                 /* pass --quick to the harness */
    int recal, recal_at;       /* --recalibrate N; done_exps at the last one */
    long mem_mb;
    char objective[16];        /* decode | prefill | ttft | request: the figure the decision reads */
    int prompt_tokens;         /* --prompt-tokens: the A/Bs' speed prompts' length (0: the harness's) */
    double max_memory_mb;      /* constraint on the candidate's peak RSS (0 = none) */
    int screen_rounds;         /* --strategy search: rounds of the first screening rung */
    int final_rounds;          /* rounds of the final best-vs-baseline A/B */
    char only[512];            /* --knobs: the knobs the search may move ("" = all) */
    int retune;                /* --agent with --strategy search: re-tune the knobs after
                                  each agent keep */
    int tuning;                /* such a re-tune is under way */
    char phase[16];            /* baseline | running | finished */
    int next_exp, done_exps;   /* done: finished rows other than "interrupted" */
    al_strat strat;
    int pending;               /* an experiment is in flight */
    int pend_exp;
    char pend_step[16];        /* propose | lock | commit | build | eval */
    char pend_desc[256];
    char pend_commit[48];
} al_state;

int al_state_save(const char *path, const al_state *s, ai_error *err);
int al_state_load(const char *path, al_state *s, ai_error *err);

/* ---- the external agent (agent.c) ---------------------------------------- */

typedef struct al_agent_ctx {
    const char *run_dir, *repo, *tag, *model, *best_commit;
    double best_decode, base_decode, noise;
    int exp, budget;
    const char *results_path;
    const char *evals_dir, *diffs_dir; /* <k>.json and <k>.patch of past experiments */
    const char *message_path, *notes_path;
    const char *try_cmd;               /* "<driver binary> try": one experiment, now */
} al_agent_ctx;

int al_agent_write_prompt(const al_agent_ctx *c, const char *path, ai_error *err);
/* Lists agent tools' state files (aider's) in the repository's info/exclude. */
int al_agent_exclude_tool_state(const al_git *g, ai_error *err);
/* Is path (relative to the root) such a file? The lock neither refuses nor
 * cleans them: they are the agent's, not the candidate's. */
int al_agent_tool_state(const char *path);

/* ---- the commands -------------------------------------------------------- */

int ai_cmd_optimise(int argc, char **argv);
int ai_cmd_report(int argc, char **argv);
int ai_cmd_try(int argc, char **argv); /* try.c */

/* optimise.c: `autoinfer try`, one experiment of the run of the current
 * branch on the change in its tree, through the driver's own experiment
 * step (the run's lock, judge, build folder, A/B, decision and row). */
enum { AL_TRY_ERROR = -1, AL_TRY_DONE = 0, AL_TRY_REFUSED = 1, AL_TRY_INTERRUPTED = 2 };
typedef struct al_try_out {
    char tag[64], run_dir[1100];
    al_row row;              /* AL_TRY_DONE: the experiment's row */
    char verdict[1200];      /* and its verdict line, the driver's words */
} al_try_out;
/* AL_TRY_REFUSED: nothing changed, err says why (not in a run, the run is
 * busy, nothing to try, budget spent, ...). */
int al_try_run(const char *message, int jobs, al_try_out *out, ai_error *err);

/* report.c: the markdown log of a run dir (results.tsv) into a malloc'd
 * string; chart_name is linked when non-NULL. */
char *al_report_markdown(const al_row *rows, int n, const char *title,
                         const char *chart_name);
/* report.c: writes report.md and chart.svg into run_dir (and prints the
 * markdown when print != 0). */
int al_report_write(const char *run_dir, int print, ai_error *err);
/* svg.c: the chart of a run into a malloc'd SVG document. */
char *al_chart_svg(const al_row *rows, int n, const char *title);

#endif
