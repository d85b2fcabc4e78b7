/* optimise.c — `autoinfer optimise`: the experiment loop.
 *
 *   baseline:   clean tree → branch autoinfer/<tag> → build → eval with
 *               --save-baseline → A/A eval (noise threshold) → row 0
 *   experiment: proposal → lock check → commit → build → A/B eval against
 *               the current best → decision → row (fsync'd) → keep, or
 *               reset --hard to the best → state
 *
 * Crash safety: state.json (atomic) says which experiment is in flight and
 * at which step; results.tsv holds finished experiments. On --resume an
 * experiment with a row is completed from its row (keep → best moves);
 * one without a row is reverted and logged as "interrupted". Ctrl-C does the
 * same at once. The only process-wide mutable state is the stop flag. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "loop.h"

static volatile sig_atomic_t g_stop; /* SIGINT / SIGTERM seen */

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

#define PATHSZ 1100

typedef struct run {
    al_state st;
    al_git git;                /* the tree experiments happen in */
    char top[1024];            /* the checkout holding .autoinfer/ */
    char run_dir[PATHSZ], state_path[PATHSZ], results_path[PATHSZ];
    char build_dir[PATHSZ], harness_bin[PATHSZ], best_bin[PATHSZ], best_conf[PATHSZ];
    char cand_conf[PATHSZ], baseline_dir[PATHSZ], evals_dir[PATHSZ], logs_dir[PATHSZ];
    char diffs_dir[PATHSZ];
    char judge_root[PATHSZ];   /* <git common dir>/autoinfer/<tag>: the driver's own */
    al_judge judge;            /* judge/: the copies evaluations read (judge.c) */
    int have_judge;
    char *ignored;             /* paths git ignored at the start (the judge's list) */
    const ai_knob_info *knobs;
    int nk;
    double session_start, prior_elapsed, exp_time_sum;
    int exp_time_n;
    int jobs;
    const char *test_eval;     /* TEST-ONLY: AI_LOOP_TEST_EVAL replaces the harness */
    unsigned objective;        /* AL_FIG_DECODE or AL_FIG_PREFILL (st.objective) */
    al_search *search;         /* --strategy search: started at the first experiment */
    int search_saved;          /* rejected moves already written to rejected.txt */
    const char *test_build;    /* TEST-ONLY: AI_LOOP_TEST_BUILD_DIR, one build folder for many runs */
    const char *who;           /* "autoinfer optimise" or "autoinfer try": prefixes messages */
    int is_try;                /* an `autoinfer try` (its experiment is not the strategy's) */
    char exp_lock[PATHSZ];     /* one experiment at a time (see take_exp_lock) */
    int exp_lock_fd;
    char self_exe[PATHSZ];     /* this binary: the agent's `try` command */
} run;

/* ---- small helpers ------------------------------------------------------- */

/* TEST-ONLY failpoints: AI_LOOP_TEST_CRASH_AT=<point>:<exp> makes the driver
 * kill itself with SIGKILL there, so the tests can check --resume at every
 * step of an experiment. Never set outside tests/cli/optimise_resume.sh. */
static void failpoint(const char *point, int exp) {
    const char *at = getenv("AI_LOOP_TEST_CRASH_AT");
    if (!at) return;
    char want[64];
    snprintf(want, sizeof want, "%s:%d", point, exp);
    if (!strcmp(at, want)) {
        fprintf(stderr, "autoinfer optimise: TEST-ONLY failpoint %s: SIGKILL\n", want);
        raise(SIGKILL);
    }
}

/* TEST-ONLY: the same, but 0.2 s later (in the middle of the step that
 * follows: a build or an evaluation), by an uncaught SIGALRM. */
static void failpoint_soon(const char *point, int exp) {
    const char *at = getenv("AI_LOOP_TEST_CRASH_AT");
    if (!at) return;
    char want[64];
    snprintf(want, sizeof want, "%s:%d", point, exp);
    if (!strcmp(at, want)) {
        fprintf(stderr, "autoinfer optimise: TEST-ONLY failpoint %s: dying in 0.2 s\n", want);
        signal(SIGALRM, SIG_DFL);
        struct itimerval t = {{0, 0}, {0, 200000}};
        setitimer(ITIMER_REAL, &t, NULL);
    }
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static double elapsed(const run *r) { return r->prior_elapsed + (al_now() - r->session_start); }

static int save_state(run *r, ai_error *err) {
    r->st.elapsed_s = elapsed(r);
    return al_state_save(r->state_path, &r->st, err);
}

static void path_in(char *out, const char *dir, const char *name) {
    snprintf(out, PATHSZ, "%s/%s", dir, name);
}

static void setup_paths(run *r, int worktree) {
    path_in(r->state_path, r->run_dir, "state.json");
    path_in(r->results_path, r->run_dir, "results.tsv");
    path_in(r->harness_bin, r->run_dir, "bin/harness");
    path_in(r->best_bin, r->run_dir, "bin/best");
    path_in(r->best_conf, r->run_dir, "best.conf");
    path_in(r->cand_conf, r->run_dir, "candidate.conf");
    path_in(r->baseline_dir, r->run_dir, "baseline");
    path_in(r->evals_dir, r->run_dir, "evals");
    path_in(r->logs_dir, r->run_dir, "logs");
    path_in(r->diffs_dir, r->run_dir, "diffs");
    path_in(r->exp_lock, r->run_dir, "exp.lock");
    /* The run's own build folder, outside the working tree and shared with
     * no other run (but under TEST-ONLY AI_LOOP_TEST_BUILD_DIR): its flags
     * are the judge's (checked before each build). */
    if (r->test_build && !worktree)
        snprintf(r->build_dir, PATHSZ, "%s", r->test_build);
    else
        path_in(r->build_dir, r->judge_root, "build");
}

static int make_dirs(run *r, ai_error *err) {
    char bin[PATHSZ];
    path_in(bin, r->run_dir, "bin");
    if (al_mkdirs(bin, err) || al_mkdirs(r->evals_dir, err) || al_mkdirs(r->logs_dir, err) ||
        al_mkdirs(r->diffs_dir, err))
        return -1;
    return 0;
}

/* flock(2) on a file, dropped by the kernel when the process dies (kill -9
 * included). Three locks: <run>/lock, one driver per run; .autoinfer/
 * .tree.lock, one in-place run per checkout (both held by the driver for its
 * life); <run>/exp.lock, one experiment at a time: held by an `autoinfer try`
 * for its life and by the driver except during its agent's turn, so that the
 * agent (and only it) may call `try`. Returns the descriptor (kept open),
 * -2 when another process holds the lock (err says which), -1 on error. */
static int lock_file(const char *path, const char *what, ai_error *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        ai_error_set(err, "%s (%s)", what, path);
        return -2;
    }
    return fd;
}

static int take_exp_lock(run *r, ai_error *err) {
    r->exp_lock_fd = lock_file(r->exp_lock, r->is_try
        ? "the run is busy: an experiment is in progress (the driver's own, or another "
          "autoinfer try's); try again when it has ended"
        : "an autoinfer try is in progress in this run; start the driver when it has ended", err);
    return r->exp_lock_fd;
}

static void short_sha(char *out, size_t cap, const char *sha) {
    snprintf(out, cap, "%.12s", sha);
}

/* ---- the judge (judge.c) ----------------------------------------------- */

static int build(run *r, const char *log_path, char *why, size_t wcap, ai_error *err);

static void jpath(const run *r, const char *name, char *out) {
    al_judge_path(&r->judge, name, out, PATHSZ);
}

static int make_judge(run *r, ai_error *err) {
    char dir[PATHSZ];
    path_in(dir, r->judge_root, "judge");
    al_judge_sources src = {r->harness_bin, r->best_bin, r->best_conf, r->baseline_dir,
                            r->git.repo, r->st.model, r->build_dir, &r->git};
    if (al_judge_open(&r->judge, dir, err) || al_judge_fill(&r->judge, &src, err)) return -1;
    r->have_judge = 1;
    free(r->ignored);
    r->ignored = al_judge_read(&r->judge, "ignored.list");
    return r->ignored ? 0 : ai_error_set(err, "%s: the judge's ignored.list is unreadable", dir);
}

/* On --resume: the manifest, or (gone with the .git folder's contents) a
 * new judge from the run's visible copies. */
static int load_judge(run *r, ai_error *err) {
    char dir[PATHSZ];
    path_in(dir, r->judge_root, "judge");
    ai_error why = {{0}};
    if (al_judge_load(&r->judge, dir, &why) == 0) {
        r->have_judge = 1;
        free(r->ignored);
        r->ignored = al_judge_read(&r->judge, "ignored.list");
        if (r->ignored) return 0;
        ai_error_set(&why, "%s: the judge's ignored.list is unreadable", dir);
    }
    say("autoinfer optimise: warning: %s; the judge is made again from the run's copies", why.msg);
    if (!al_exists(r->build_dir)) {
        char log[PATHSZ], bwhy[300];
        path_in(log, r->logs_dir, "judge.build.log");
        int rc = build(r, log, bwhy, sizeof bwhy, err);
        if (rc) return rc < 0 ? -1 : ai_error_set(err, "%s", bwhy);
    }
    return make_judge(r, err);
}

/* Everything that judges, re-hashed: what changed is restored and named
 * (into why, for a reject row). Also the build flags (a changed build
 * folder is deleted: the next build configures afresh). Returns 1 when
 * something changed, 0 when not, -1 on error. */
static int judge_check(run *r, const char *when, char *why, size_t cap, ai_error *err) {
    char changed[1024];
    int n = al_judge_verify(&r->judge, changed, sizeof changed, err);
    if (n < 0) return -1;
    if (n) {
        snprintf(why, cap, "judge: %s changed %s (restored from the driver's copy)", changed, when);
        return 1;
    }
    char *want = al_judge_read(&r->judge, "build.flags");
    char *now = al_build_flags(r->build_dir);
    int flags_changed = want && now && strcmp(want, now) != 0;
    free(want);
    free(now);
    if (flags_changed) {
        const char *argv[] = {"cmake", "-E", "rm", "-rf", r->build_dir, NULL};
        al_proc_opts o = {0};
        al_proc_result pr;
        if (al_proc_run(argv, &o, &pr, err)) return -1;
        snprintf(why, cap, "judge: build flags changed in %s %s (deleted: the next build "
                 "configures afresh)", r->build_dir, when);
        return 1;
    }
    return 0;
}

/* ---- build --------------------------------------------------------------- */

static int build(run *r, const char *log_path, char *why, size_t wcap, ai_error *err) {
    al_proc_opts o = {0};
    o.log_path = log_path;
    o.timeout_s = 1800;
    o.new_group = 1;
    o.stop = &g_stop;
    al_proc_result pr;
    char cache[PATHSZ + 16];
    snprintf(cache, sizeof cache, "%s/CMakeCache.txt", r->build_dir);
    if (!al_exists(cache)) {
        const char *argv[] = {"cmake", "-S", r->git.repo, "-B", r->build_dir,
                              "-DCMAKE_BUILD_TYPE=Release", NULL};
        if (al_proc_run(argv, &o, &pr, err)) return -1;
        if (pr.interrupted) return 2;
        if (!pr.exited || pr.code) {
            char line[200];
            al_file_grep_line(log_path, "Error", line, sizeof line);
            snprintf(why, wcap, "cmake configure failed: %s", line[0] ? line : "see log");
            return 1;
        }
    }
    char jobs[16];
    snprintf(jobs, sizeof jobs, "%d", r->jobs);
    const char *argv[] = {"cmake", "--build", r->build_dir, "-j", jobs, "--target", "autoinfer",
                          NULL};
    if (al_proc_run(argv, &o, &pr, err)) return -1;
    if (pr.interrupted) return 2;
    if (!pr.exited || pr.code) {
        char line[200], how[96];
        al_file_grep_line(log_path, "error", line, sizeof line);
        al_proc_describe(&pr, how, sizeof how);
        snprintf(why, wcap, "build failed (%s): %s", how, line[0] ? line : "see log");
        return 1;
    }
    return 0;
}

static int copy_conf(run *r, const char *dst, ai_error *err) {
    char conf[PATHSZ];
    path_in(conf, r->git.repo, "pipeline.conf");
    if (al_exists(conf)) return al_copy_file(conf, dst, err);
    unlink(dst);
    return 0;
}

/* bin/best must be the build of the best commit (rebuilt after a resume).
 * A change waiting in the tree (a try's) is stashed meanwhile. */
static int ensure_best_binary(run *r, ai_error *err) {
    if (!strcmp(r->st.best_bin_commit, r->st.best_commit) && al_exists(r->best_bin)) return 0;
    char dirty[256];
    int nd = al_git_dirty(&r->git, dirty, sizeof dirty, err);
    if (nd < 0 ||
        (nd && al_git_run(&r->git, NULL, 0, err, "stash", "push", "-q", "--include-untracked", NULL)))
        return -1;
    say("%s: rebuilding the current best (%.12s)%s", r->who, r->st.best_commit,
        nd ? "; the change in the tree is stashed meanwhile" : "");
    char log[PATHSZ], why[300];
    path_in(log, r->logs_dir, "best.build.log");
    int rc = build(r, log, why, sizeof why, err);
    if (rc == 2) rc = ai_error_set(err, "interrupted");
    else if (rc > 0) rc = ai_error_set(err, "the best commit no longer builds: %s", why);
    if (!rc) {
        char built[PATHSZ];
        path_in(built, r->build_dir, "autoinfer");
        if (al_copy_file(built, r->best_bin, err) || copy_conf(r, r->best_conf, err) ||
            al_judge_set_best(&r->judge, r->best_bin, r->best_conf, err))
            rc = -1;
    }
    ai_error perr;
    if (nd && al_git_run(&r->git, NULL, 0, &perr, "stash", "pop", "-q", NULL))
        return ai_error_set(err, "git stash pop after rebuilding the best: %s (the change is in "
                            "`git stash list`)", perr.msg);
    if (rc) return -1;
    snprintf(r->st.best_bin_commit, sizeof r->st.best_bin_commit, "%s", r->st.best_commit);
    return save_state(r, err);
}

/* ---- evaluation ---------------------------------------------------------- */

static void bin_conf(char *out, size_t cap, const char *bin, const char *conf) {
    if (conf && al_exists(conf))
        snprintf(out, cap, "%s:%s", bin, conf);
    else
        snprintf(out, cap, "%s", bin);
}

/* Runs the harness; the JSON report (removed first: never a stale one) is
 * parsed into e when present. */
static int run_eval(run *r, const char **args, const char *json, const char *log,
                    double timeout, al_proc_result *pr, al_eval *e, int *have_json,
                    ai_error *err) {
    const char *argv[40];
    int n = 0;
    char harness[PATHSZ], data[PATHSZ];
    jpath(r, "harness", harness);
    jpath(r, "data", data);
    argv[n++] = r->test_eval ? r->test_eval : harness;
    argv[n++] = "eval";
    for (const char **a = args; *a; a++) argv[n++] = *a;
    argv[n++] = "--data";
    argv[n++] = data;
    char ptok[16]; /* a stated workload: every A/B's speed prompts */
    snprintf(ptok, sizeof ptok, "%d", r->st.prompt_tokens);
    if (r->st.prompt_tokens > 0 && args[0] && !strcmp(args[0], "--ab")) {
        argv[n++] = "--prompt-tokens";
        argv[n++] = ptok;
    }
    if (r->st.quick) argv[n++] = "--quick";
    argv[n++] = "-m";
    argv[n++] = r->st.model;
    argv[n++] = "--json";
    argv[n++] = json;
    argv[n] = NULL;
    unlink(json);
    al_proc_opts o = {0};
    o.cwd = r->git.repo;
    o.log_path = log;
    o.timeout_s = timeout;
    o.mem_mb = r->st.mem_mb;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.cpu_s = (long)(timeout * (double)(ncpu > 0 ? ncpu : 1)) + 60;
    o.new_group = 1;
    o.stop = &g_stop;
    if (al_proc_run(argv, &o, pr, err)) return -1;
    ai_error perr;
    *have_json = !pr->timed_out && !pr->interrupted && al_exists(json) &&
                 al_eval_parse(json, e, &perr) == 0;
    if (!*have_json) memset(e, 0, sizeof *e);
    return 0;
}

static void fill_row_from_eval(al_row *row, const al_eval *e) {
    row->decode = e->decode.median;
    row->decode_lo = e->decode.lo;
    row->decode_hi = e->decode.hi;
    row->prefill = e->prefill.median;
    row->mem_gb = e->rss_mb.median == AL_NA ? AL_NA : e->rss_mb.median / 1024.0;
    row->ppl = e->ppl;
    row->sanity = e->sanity;
    row->quality_pass = e->quality_pass;
    row->kl = e->kl_mean;
    row->top1 = e->top1;
    row->ratio = e->ratio;
    row->ratio_lo = e->ratio_lo;
    row->ratio_hi = e->ratio_hi;
    row->p = e->p;
    row->best_same = e->a_decode.median;
}

/* ---- the baseline ------------------------------------------------------ */

static void baseline_description(run *r, char *out, size_t cap) {
    char conf_path[PATHSZ];
    path_in(conf_path, r->git.repo, "pipeline.conf");
    char *text = al_read_file(conf_path, NULL);
    size_t used = (size_t)snprintf(out, cap, "Baseline (");
    int first = 1;
    for (int i = 0; i < r->nk && used < cap; i++) {
        if (!r->knobs[i].search || !r->knobs[i].search[0]) continue;
        char v[64];
        if (al_conf_text_get(text, r->knobs[i].name, v, sizeof v))
            snprintf(v, sizeof v, "%s", r->knobs[i].default_value);
        used += (size_t)snprintf(out + used, cap - used, "%s%s=%s", first ? "" : ", ",
                                 r->knobs[i].name, v);
        first = 0;
    }
    if (used < cap) snprintf(out + used, cap - used, ")");
    free(text);
}

/* The current best against itself, interleaved like an experiment. */
static int run_aa(run *r, const char *json, const char *log, al_proc_result *pr, al_eval *aa,
                  int *have, ai_error *err) {
    char a[PATHSZ * 2], rounds[16], tokens[16], best[PATHSZ], best_conf[PATHSZ], base[PATHSZ];
    jpath(r, "best", best);
    jpath(r, "best.conf", best_conf);
    jpath(r, "baseline", base);
    bin_conf(a, sizeof a, best, best_conf);
    snprintf(rounds, sizeof rounds, "%d", r->st.rounds);
    snprintf(tokens, sizeof tokens, "%d", r->st.tokens);
    const char *args[16];
    int n = 0;
    args[n++] = "--ab";
    args[n++] = "--a";
    args[n++] = a;
    args[n++] = "--b";
    args[n++] = a;
    args[n++] = "--baseline";
    args[n++] = base;
    if (r->st.rounds > 0) {
        args[n++] = "--rounds";
        args[n++] = rounds;
    }
    if (r->st.tokens > 0) {
        args[n++] = "--tokens";
        args[n++] = tokens;
    }
    double limit = r->st.eval_timeout > 0 ? r->st.eval_timeout : 3600;
    char child_limit[32];
    snprintf(child_limit, sizeof child_limit, "%.0f", fmax(60.0, limit * 0.8));
    args[n++] = "--timeout";
    args[n++] = child_limit;
    args[n] = NULL;
    return run_eval(r, args, json, log, limit, pr, aa, have, err);
}

/* --recalibrate N: every N experiments, a fresh A/A of the current best
 * resets the noise threshold to the machine's noise now (never below 1 %). */
static int recalibrate(run *r, ai_error *err) {
    char json[PATHSZ], log[PATHSZ];
    snprintf(json, sizeof json, "%s/aa-%d.json", r->evals_dir, r->st.done_exps);
    snprintf(log, sizeof log, "%s/aa-%d.eval.log", r->logs_dir, r->st.done_exps);
    say("[recalibrate] A/A of the current best after %d experiments (follow: tail -f %s)",
        r->st.done_exps, log);
    al_proc_result pr;
    al_eval aa;
    int have;
    if (run_aa(r, json, log, &pr, &aa, &have, err)) return -1;
    if (pr.interrupted || g_stop) return 2;
    if (pr.exited && (pr.code == 0 || pr.code == 3) && have && aa.ratio != AL_NA) {
        double before = r->st.noise;
        al_eval_objective(&aa, r->objective);
        r->st.noise = al_noise_from_aa(&aa);
        say("[recalibrate] A/A ratio %.4f [%.4f, %.4f]: noise threshold %.1f%% (was %.1f%%)",
            aa.ratio, aa.ratio_lo, aa.ratio_hi, r->st.noise * 100, before * 100);
    } else {
        say("[recalibrate] the A/A run failed (log: %s); the threshold stays %.1f%%", log,
            r->st.noise * 100);
    }
    r->st.recal_at = r->st.done_exps;
    return save_state(r, err);
}

static int do_baseline(run *r, ai_error *err) {
    char why[300], log[PATHSZ], json0[PATHSZ], jsonaa[PATHSZ];
    path_in(json0, r->evals_dir, "0.json");
    path_in(jsonaa, r->evals_dir, "aa.json");

    al_row *rows = NULL;
    int nrows = 0;
    if (al_results_read(r->results_path, &rows, &nrows, 1, err)) return -1;
    int have_row0 = nrows > 0;
    free(rows);

    if (!have_row0) {
        if (al_git_reset_hard(&r->git, r->st.base_commit, NULL, err)) return -1;
        say("[baseline] building %.12s", r->st.base_commit);
        path_in(log, r->logs_dir, "0.build.log");
        int rc = build(r, log, why, sizeof why, err);
        if (rc == 2) return ai_error_set(err, "interrupted during the baseline build");
        if (rc) return rc < 0 ? -1 : ai_error_set(err, "baseline %s (log: %s)", why, log);
        char built[PATHSZ];
        path_in(built, r->build_dir, "autoinfer");
        if (al_copy_file(built, r->harness_bin, err) || al_copy_file(built, r->best_bin, err) ||
            copy_conf(r, r->best_conf, err))
            return -1;
        snprintf(r->st.best_bin_commit, sizeof r->st.best_bin_commit, "%s", r->st.base_commit);
        if (make_judge(r, err)) return -1;

        say("[baseline] evaluating (saves the quality references)");
        path_in(log, r->logs_dir, "0.eval.log");
        al_proc_result pr;
        al_eval e0;
        int have;
        const char *args0[10];
        char tok0[16];
        snprintf(tok0, sizeof tok0, "%d", r->st.tokens);
        int n = 0;
        if (r->st.tokens > 0) {
            args0[n++] = "--tokens";
            args0[n++] = tok0;
        }
        char best_conf[PATHSZ];
        jpath(r, "best.conf", best_conf);
        if (al_judge_has(&r->judge, "best.conf")) {
            args0[n++] = "--conf";
            args0[n++] = best_conf;
        }
        args0[n++] = "--save-baseline";
        args0[n++] = r->baseline_dir;
        args0[n] = NULL;
        if (run_eval(r, args0, json0, log, 3600, &pr, &e0, &have, err)) return -1;
        if (pr.interrupted) return ai_error_set(err, "interrupted during the baseline evaluation");
        /* Exit 3 = evaluated, gate failed: a small model can fail the seed's
         * absolute sanity floor; candidates are then judged against the
         * baseline (the harness's relative floor). Implausible is fatal. */
        if (!pr.exited || (pr.code != 0 && pr.code != 3) || !have || !e0.plausible_ok) {
            char how[96], last[200];
            al_proc_describe(&pr, how, sizeof how);
            al_file_grep_line(log, NULL, last, sizeof last);
            if (have && !e0.plausible_ok) snprintf(last, sizeof last, "implausible: %s", e0.plausible_why);
            return ai_error_set(err, "baseline evaluation failed (%s): %s (log: %s)", how, last, log);
        }
        if (al_judge_add_baseline(&r->judge, r->baseline_dir, err)) return -1;
        if (!e0.quality_pass)
            say("autoinfer optimise: warning: the baseline itself fails the absolute quality gate "
                "(%s); candidates are judged against the baseline", e0.failures);

        say("[baseline] A/A comparison of the baseline with itself (noise threshold)");
        path_in(log, r->logs_dir, "aa.eval.log");
        al_eval aa;
        double t0 = al_now();
        failpoint_soon("aa", 0);
        if (run_aa(r, jsonaa, log, &pr, &aa, &have, err)) return -1;
        if (pr.interrupted) return ai_error_set(err, "interrupted during the A/A evaluation");
        if (!pr.exited || (pr.code != 0 && pr.code != 3) || !have || aa.ratio == AL_NA) {
            char how[96], last[200];
            al_proc_describe(&pr, how, sizeof how);
            al_file_grep_line(log, NULL, last, sizeof last);
            return ai_error_set(err, "baseline A/A evaluation failed (%s): %s (log: %s)", how,
                                last, log);
        }
        if (r->st.eval_timeout <= 0) {
            double took = aa.duration_s != AL_NA && aa.duration_s > 0 ? aa.duration_s : al_now() - t0;
            /* generous: a legitimately slow candidate (scalar kernels, one
             * thread) must not be mistaken for a hang */
            r->st.eval_timeout = fmax(900.0, 8.0 * took + 300.0);
        }
    }

    /* Row 0 from the two reports (also when resuming after the row). */
    if (!r->have_judge && load_judge(r, err)) return -1;
    al_eval e0, aa;
    if (al_eval_parse(json0, &e0, err) || al_eval_parse(jsonaa, &aa, err)) return -1;
    al_eval_objective(&aa, r->objective);
    r->st.noise = al_noise_from_aa(&aa);
    if (r->st.eval_timeout <= 0) r->st.eval_timeout = 1800;
    r->st.base_decode = r->st.best_decode = e0.decode.median;
    if (!have_row0) {
        al_row row;
        al_row_init(&row, 0);
        fill_row_from_eval(&row, &e0);
        row.ratio = aa.ratio;
        row.ratio_lo = aa.ratio_lo;
        row.ratio_hi = aa.ratio_hi;
        row.p = aa.p;
        short_sha(row.commit, sizeof row.commit, r->st.base_commit);
        snprintf(row.status, sizeof row.status, "baseline");
        baseline_description(r, row.description, sizeof row.description);
        snprintf(row.reason, sizeof row.reason,
                 "A/A ratio %.4f [%.4f, %.4f]: noise threshold %.1f%%", aa.ratio, aa.ratio_lo,
                 aa.ratio_hi, r->st.noise * 100.0);
        snprintf(row.tradeoff, sizeof row.tradeoff, "Starting point: no tradeoffs");
        if (al_results_append(r->results_path, &row, err)) return -1;
    }
    snprintf(r->st.phase, sizeof r->st.phase, "running");
    r->st.next_exp = 1;
    if (save_state(r, err)) return -1;
    say("[baseline] decode %.2f tok/s [%.2f, %.2f], prefill %.2f tok/s, sanity %.2f; "
        "noise threshold %.1f%%",
        e0.decode.median, e0.decode.lo, e0.decode.hi, e0.prefill.median, e0.sanity,
        r->st.noise * 100.0);
    if (r->st.noise > 0.05)
        say("autoinfer optimise: warning: this machine is noisy (A/A spread %.1f%%): only "
            "large wins can be kept",
            r->st.noise * 100.0);
    return 0;
}

/* ---- the screening search (--strategy search) ------------------------------ */

/* The argument vector of an A/B of a against b (BIN[:CONF]) with `rounds`
 * rounds (0: the harness's default); speed only when quality == 0. */
typedef struct ab_argv {
    const char *v[24];
    char rounds[16], tokens[16], noise[32], limit[32];
} ab_argv;

static void ab_args(run *r, ab_argv *x, const char *a, const char *b, int rounds, int quality) {
    int n = 0;
    snprintf(x->rounds, sizeof x->rounds, "%d", rounds);
    snprintf(x->tokens, sizeof x->tokens, "%d", r->st.tokens);
    snprintf(x->noise, sizeof x->noise, "%.4f", r->st.noise);
    snprintf(x->limit, sizeof x->limit, "%.0f", fmax(60.0, r->st.eval_timeout * 0.8));
    const char *fixed[] = {"--ab", "--a", a, "--b", b, "--baseline", r->baseline_dir,
                           "--noise", x->noise, "--timeout", x->limit};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) x->v[n++] = fixed[i];
    if (rounds > 0) {
        x->v[n++] = "--rounds";
        x->v[n++] = x->rounds;
    }
    if (r->st.tokens > 0) {
        x->v[n++] = "--tokens";
        x->v[n++] = x->tokens;
    }
    if (!quality) x->v[n++] = "--no-quality";
    x->v[n] = NULL;
}

/* Forgets the search and its rejected moves (a new one starts at the next
 * experiment). */
static int stop_search(run *r, ai_error *err) {
    char path[PATHSZ];
    path_in(path, r->run_dir, "rejected.txt");
    if (unlink(path) && errno != ENOENT) return ai_error_set(err, "%s: %s", path, strerror(errno));
    free(r->search);
    r->search = NULL;
    return 0;
}

/* Appends the moves the search rejected since the last call to
 * rejected.txt, read back on --resume: a rejected move stays rejected. */
static int save_rejected(run *r, ai_error *err) {
    if (r->search_saved >= r->search->ntried) return 0;
    char path[PATHSZ];
    path_in(path, r->run_dir, "rejected.txt");
    FILE *f = fopen(path, "a");
    if (!f) return ai_error_set(err, "%s: cannot append: %s", path, strerror(errno));
    for (; r->search_saved < r->search->ntried; r->search_saved++)
        fprintf(f, "%016llx\n", (unsigned long long)r->search->tried[r->search_saved]);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) || bad) return ai_error_set(err, "%s: write failed", path);
    return 0;
}

static int search_start(run *r, const char *best_text, ai_error *err) {
    r->search = calloc(1, sizeof *r->search);
    if (!r->search) return ai_error_set(err, "out of memory");
    al_search_opts o = {r->objective, r->st.screen_rounds, r->st.rounds > 0 ? r->st.rounds : 30, 2,
                        "", ""};
    /* the baseline's report says where the pipeline runs: knobs of another
     * backend (cuda_* on a CPU) cannot move anything */
    char json0[PATHSZ];
    path_in(json0, r->evals_dir, "0.json");
    al_eval e0;
    ai_error ignore;
    if (al_eval_parse(json0, &e0, &ignore) == 0)
        snprintf(o.backend, sizeof o.backend, "%s", e0.backend);
    snprintf(o.only, sizeof o.only, "%s", r->st.only);
    if (al_search_init(r->search, r->knobs, r->nk, &o, best_text))
        return ai_error_set(err, "the knob table has more than %d knobs", AL_SEARCH_MAX_KNOBS);
    char path[PATHSZ];
    path_in(path, r->run_dir, "rejected.txt");
    char *text = al_read_file(path, NULL);
    for (char *line = text; line && *line && r->search->ntried < AL_SEARCH_MAX_TRIED;) {
        char *nl = strchr(line, '\n');
        if (!nl) break; /* a torn last line */
        r->search->tried[r->search->ntried++] = strtoull(line, NULL, 16);
        line = nl + 1;
    }
    free(text);
    r->search_saved = r->search->ntried;
    return 0;
}

/* One screening measurement: a speed-only A/B of the best build with the
 * move's conf against the best. *ratio = the objective's ratio, 0 when it
 * failed or broke a constraint. Returns 0, 2 interrupted, -1 error. */
static int screen(run *r, int k, int i, const al_move *m, int rounds, const char *best_text,
                  double *ratio, ai_error *err) {
    char conf[PATHSZ], json[PATHSZ], log[PATHSZ], a[PATHSZ * 2], b[PATHSZ * 2];
    path_in(conf, r->run_dir, "screen.conf");
    char *text = al_move_apply(r->search, m, best_text);
    int rc = text ? al_write_atomic(conf, text, strlen(text), err) : ai_error_set(err, "out of memory");
    free(text);
    if (rc) return -1;
    snprintf(json, sizeof json, "%s/%d.screen-%d.json", r->evals_dir, k, i);
    snprintf(log, sizeof log, "%s/%d.screen.log", r->logs_dir, k);
    bin_conf(a, sizeof a, r->best_bin, r->best_conf);
    bin_conf(b, sizeof b, r->best_bin, conf);
    ab_argv x;
    ab_args(r, &x, a, b, rounds, 0);
    al_proc_result pr;
    al_eval e;
    int have;
    if (run_eval(r, x.v, json, log, r->st.eval_timeout, &pr, &e, &have, err)) return -1;
    if (pr.interrupted || g_stop) return 2;
    char note[256] = "";
    *ratio = 0;
    if (!have || strcmp(e.status, "ok") != 0) {
        char how[96], last[160] = "";
        al_proc_describe(&pr, how, sizeof how);
        if (!have) al_file_grep_line(log, NULL, last, sizeof last);
        snprintf(note, sizeof note, "failed (%s)%s%s", have && e.why[0] ? e.why : how,
                 last[0] ? ": " : "", last);
    } else if (!al_eval_constraint(&e, r->st.max_memory_mb, note, sizeof note)) {
        al_eval_objective(&e, r->objective);
        if (e.ratio != AL_NA) *ratio = e.ratio;
        snprintf(note, sizeof note, "%s %+.1f%% (%d rounds)", r->st.objective,
                 (e.ratio - 1) * 100, rounds);
    }
    say("[exp %d] screen %d: %s: %s", k, i, m->desc, note);
    return 0;
}

/* Screens moves until the search promotes one to a full experiment.
 * Returns 0 with *m set, 1 when the search is done, 2 interrupted, -1 error. */
static int search_propose(run *r, int k, const char *best_text, al_move *m, ai_error *err) {
    if (!r->search && search_start(r, best_text, err)) return -1;
    int rounds, step, i = 0;
    while ((step = al_search_next(r->search, m, &rounds)) == AL_SEARCH_SCREEN) {
        double ratio;
        int rc = screen(r, k, ++i, m, rounds, best_text, &ratio, err);
        if (rc) return rc;
        al_search_screened(r->search, ratio);
    }
    if (save_rejected(r, err)) return -1; /* what this neighbourhood's screening dropped */
    if (i) say("[exp %d] %d screening measurements; promoted: %s", k, i,
               step == AL_SEARCH_FULL ? m->desc : "nothing");
    return step == AL_SEARCH_DONE ? 1 : 0;
}

/* Every keep is measured a second time, independently (same arguments, a
 * new session), and stays a keep only if the rule says keep again. */
static int confirm_keep(run *r, int k, const char **args, int net_removed,
                        al_outcome *out, ai_error *err) {
    char json[PATHSZ], log[PATHSZ];
    snprintf(json, sizeof json, "%s/%d.confirm.json", r->evals_dir, k);
    snprintf(log, sizeof log, "%s/%d.confirm.log", r->logs_dir, k);
    say("[exp %d] %s; confirming with a second A/B", k, out->reason);
    al_proc_result pr;
    al_eval e;
    int have;
    if (run_eval(r, args, json, log, r->st.eval_timeout, &pr, &e, &have, err))
        return -1;
    if (pr.interrupted || g_stop) return 2;
    if (have) al_eval_objective(&e, r->objective);
    al_outcome again;
    al_decide(&pr, have, &e, r->st.noise, net_removed, &again);
    char first[256];
    snprintf(first, sizeof first, "%s", out->reason);
    if (!strcmp(again.status, "keep")) {
        snprintf(out->reason, sizeof out->reason, "%.110s; confirmed: %.110s", first, again.reason);
    } else {
        snprintf(out->status, sizeof out->status, "revert");
        snprintf(out->reason, sizeof out->reason, "not confirmed: %.100s; second A/B: %.110s",
                 first, again.reason);
    }
    return 0;
}

/* ---- one experiment ------------------------------------------------------ */

/* Knob changes between two conf texts, with their tradeoffs. */
static void knob_changes(run *r, const char *from, const char *to, char *desc, size_t dcap,
                         char *trade, size_t tcap) {
    size_t du = 0, tu = 0;
    desc[0] = trade[0] = 0;
    for (int i = 0; i < r->nk; i++) {
        char a[64], b[64];
        if (al_conf_text_get(from, r->knobs[i].name, a, sizeof a))
            snprintf(a, sizeof a, "%s", r->knobs[i].default_value);
        if (al_conf_text_get(to, r->knobs[i].name, b, sizeof b))
            snprintf(b, sizeof b, "%s", r->knobs[i].default_value);
        if (!strcmp(a, b)) continue;
        int w = snprintf(desc + du, dcap > du ? dcap - du : 0, "%s%s %s -> %s", du ? ", " : "",
                         r->knobs[i].name, a, b);
        if (w > 0 && du + (size_t)w < dcap) du += (size_t)w;
        w = snprintf(trade + tu, tcap > tu ? tcap - tu : 0, "%s%s", tu ? "; " : "",
                     r->knobs[i].tradeoff);
        if (w > 0 && tu + (size_t)w < tcap) tu += (size_t)w;
    }
}

/* "agent change: engine/x.c, pipeline.conf (temperature 0.7 -> 0)". */
static void describe_paths(run *r, const char *knobs, char *out, size_t cap) {
    char buf[8192];
    ai_error ignore;
    size_t used = (size_t)snprintf(out, cap, "agent change:");
    int n = 0;
    if (al_git_run(&r->git, buf, sizeof buf, &ignore, "status", "--porcelain=v1", "-z",
                   "--untracked-files=all", NULL) == 0) {
        for (char *p = buf; *p && used < cap; p += strlen(p) + 1) {
            if (strlen(p) > 3)
                used += (size_t)snprintf(out + used, cap - used, "%s %s", n++ ? "," : "", p + 3);
            if (p[0] == 'R' || p[0] == 'C') p += strlen(p) + 1;
            if (!*p) break;
        }
    }
    if (!n && used < cap) used += (size_t)snprintf(out + used, cap - used, " nothing");
    if (knobs[0] && used < cap) snprintf(out + used, cap - used, " (%s)", knobs);
}

/* Completes an experiment whose row is written: keep (best moves) or
 * revert, then the state. have_build: the build dir holds its binary. */
static int finish_experiment(run *r, const al_row *row, int have_build, ai_error *err) {
    int kept = !strcmp(row->status, "keep");
    if (kept) {
        char sha[64];
        /* row->commit is short: resolve it. */
        if (al_git_run(&r->git, sha, sizeof sha, err, "rev-parse", "--verify",
                       row->commit, NULL))
            return -1;
        sha[strcspn(sha, "\n")] = 0;
        if (al_git_reset_hard(&r->git, sha, r->ignored, err)) return -1;
        snprintf(r->st.best_commit, sizeof r->st.best_commit, "%s", sha);
        r->st.best_decode = row->decode;
        if (have_build) {
            char built[PATHSZ];
            path_in(built, r->build_dir, "autoinfer");
            if (al_copy_file(built, r->best_bin, err) || copy_conf(r, r->best_conf, err) ||
                al_judge_set_best(&r->judge, r->best_bin, r->best_conf, err))
                return -1;
            snprintf(r->st.best_bin_commit, sizeof r->st.best_bin_commit, "%s", sha);
        }
    } else {
        if (al_git_reset_hard(&r->git, r->st.best_commit, r->ignored, err)) return -1;
    }
    if (strcmp(row->status, "interrupted") != 0) {
        r->st.done_exps++;
        /* a try's change is not the strategy's move; its keep re-tunes all the same */
        if (!strcmp(r->st.strategy, "knobs") && !r->is_try) al_strat_advance(&r->st.strat, r->nk, kept);
        if (r->search) {
            al_search_decided(r->search, kept);
            if (save_rejected(r, err)) return -1;
        }
        if (kept && r->st.retune && !r->st.tuning) {
            /* new code can move the best knob values: a fresh search, and
             * the moves rejected under the old code may be tried again */
            r->st.tuning = 1;
            if (stop_search(r, err)) return -1;
        }
    }
    r->st.next_exp = row->exp + 1;
    r->st.pending = 0;
    return save_state(r, err);
}

/* Saves the candidate's diff against the best (kept for failed ones too). */
static void save_diff(run *r, int exp) {
    char path[PATHSZ];
    snprintf(path, sizeof path, "%s/%d.patch", r->diffs_dir, exp);
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    ai_error ignore;
    if (!buf) return;
    if (al_git_run(&r->git, buf, cap, &ignore, "diff", "--no-renames", r->st.best_commit, NULL) == 0 &&
        buf[0])
        al_write_atomic(path, buf, strlen(buf), &ignore);
    free(buf);
}

static int write_row_and_finish(run *r, al_row *row, int have_build, ai_error *err) {
    if (al_results_append(r->results_path, row, err)) return -1;
    failpoint("row", row->exp);
    return finish_experiment(r, row, have_build, err);
}

static void progress_line(run *r, int k, const char *desc) {
    char left[32] = "";
    double el = elapsed(r);
    if (r->st.hours > 0) {
        al_format_duration(r->st.hours * 3600.0 - el, left, sizeof left);
        strcat(left, " left");
    } else if (r->st.budget > 0 && r->exp_time_n > 0) {
        double per = r->exp_time_sum / r->exp_time_n;
        al_format_duration(per * (r->st.budget - r->st.done_exps), left, sizeof left);
        memmove(left + 1, left, strlen(left) + 1);
        left[0] = '~';
        strcat(left, " left");
    } else {
        al_format_duration(el, left, sizeof left);
        strcat(left, " elapsed");
    }
    char of[48];
    if (r->st.budget > 0)
        snprintf(of, sizeof of, "%d of %d", r->st.done_exps + 1, r->st.budget);
    else
        snprintf(of, sizeof of, "%d", r->st.done_exps + 1);
    double gain = r->st.base_decode > 0 ? (r->st.best_decode / r->st.base_decode - 1.0) * 100.0 : 0;
    say("[exp %d] %s | best %.2f tok/s (%+.1f%% vs baseline) | trying: %s | %s", k, of,
        r->st.best_decode, gain, desc, left);
}

static int mark_pending(run *r, int k, const char *desc, const char *step, ai_error *err) {
    r->st.pending = 1;
    r->st.pend_exp = k;
    snprintf(r->st.pend_step, sizeof r->st.pend_step, "%s", step);
    snprintf(r->st.pend_desc, sizeof r->st.pend_desc, "%s", desc);
    r->st.pend_commit[0] = 0;
    return save_state(r, err);
}

/* Commits made in the tree since the best (an agent's own, a user's before
 * `try`) become the change: one commit per experiment, made by the step. */
static int fold_commits(run *r, ai_error *err) {
    char head[64];
    if (al_git_head(&r->git, head, sizeof head, err)) return -1;
    if (strcmp(head, r->st.best_commit) != 0 &&
        al_git_run(&r->git, NULL, 0, err, "reset", "-q", "--soft", r->st.best_commit, NULL))
        return -1;
    return 0;
}

static int settle_pending(run *r, ai_error *err);

/* The best commit's pipeline.conf (malloc'd; "" when it has none). */
static char *best_conf_text(run *r) {
    char spec[80];
    snprintf(spec, sizeof spec, "%s:pipeline.conf", r->st.best_commit);
    size_t cap = 1 << 16;
    char *text = malloc(cap);
    ai_error none;
    if (text && al_git_run(&r->git, text, cap, &none, "show", spec, NULL)) text[0] = 0;
    return text;
}

/* The agent's turn: it runs with the experiment lock released, so it may
 * call `autoinfer try` (each try an experiment of its own, numbered from
 * k); then the lock is taken back, what the tries wrote is read back
 * (state, judge) and a try cut off is settled. *tries: how many rows they
 * wrote. What the agent leaves uncommitted is the driver's experiment.
 * Returns 0, 2 interrupted, -1 error. */
static int agent_turn(run *r, int k, char *desc, size_t dcap, char *fail, size_t fcap,
                      int *tries, ai_error *err) {
    char prompt[PATHSZ], msg[PATHSZ], notes[PATHSZ], log[PATHSZ], try_cmd[PATHSZ + 8];
    path_in(prompt, r->run_dir, "prompt.md");
    path_in(msg, r->run_dir, "message.txt");
    path_in(notes, r->run_dir, "notes.md");
    snprintf(log, sizeof log, "%s/%d.agent.log", r->logs_dir, k);
    snprintf(try_cmd, sizeof try_cmd, "%s try", r->self_exe);
    char short_best[16];
    short_sha(short_best, sizeof short_best, r->st.best_commit);
    al_agent_ctx c = {r->run_dir, r->git.repo, r->st.tag, r->st.model, short_best,
                      r->st.best_decode, r->st.base_decode, r->st.noise, k,
                      r->st.budget, r->results_path, r->evals_dir, r->diffs_dir, msg, notes,
                      try_cmd};
    if (al_agent_write_prompt(&c, prompt, err) || al_agent_exclude_tool_state(&r->git, err)) return -1;
    unlink(msg);
    char e_prompt[PATHSZ + 32], e_msg[PATHSZ + 32], e_notes[PATHSZ + 32], e_exp[48], e_repo[1100],
        e_run[PATHSZ + 32], e_try[PATHSZ + 32];
    snprintf(e_prompt, sizeof e_prompt, "AUTOINFER_PROMPT=%s", prompt);
    snprintf(e_msg, sizeof e_msg, "AUTOINFER_MESSAGE=%s", msg);
    snprintf(e_notes, sizeof e_notes, "AUTOINFER_NOTES=%s", notes);
    snprintf(e_exp, sizeof e_exp, "AUTOINFER_EXP=%d", k);
    snprintf(e_repo, sizeof e_repo, "AUTOINFER_REPO=%s", r->git.repo);
    snprintf(e_run, sizeof e_run, "AUTOINFER_RUN_DIR=%s", r->run_dir);
    snprintf(e_try, sizeof e_try, "AUTOINFER_TRY=%s", try_cmd);
    const char *env[] = {e_prompt, e_msg, e_notes, e_exp, e_repo, e_run, e_try, NULL};
    const char *argv[] = {"/bin/sh", "-c", r->st.agent, "autoinfer-agent", prompt, NULL};
    al_proc_opts o = {0};
    o.cwd = r->git.repo;
    o.stdin_path = prompt;
    o.log_path = log;
    o.timeout_s = r->st.agent_timeout;
    o.new_group = 1;
    o.stop = &g_stop;
    o.env = env;
    al_proc_result pr;
    if (save_state(r, err) || flock(r->exp_lock_fd, LOCK_UN)) return -1;
    int ran = al_proc_run(argv, &o, &pr, err);
    /* a try the agent left running dies here, before the lock is taken back */
    int reaped = al_proc_reap_orphans();
    if (reaped) say("[exp %d] killed what the agent left running", k);
    if (flock(r->exp_lock_fd, LOCK_EX) != 0)
        return ai_error_set(err, "%s: cannot lock: %s", r->exp_lock, strerror(errno));
    /* one of them may have been a git step of its try, killed midway */
    if (reaped) {
        int stale = al_git_clear_stale_lock(&r->git, err);
        if (stale < 0) return -1;
        if (stale) say("[exp %d] removed the index.lock a killed git step left", k);
    }
    if (ran) return -1;
    al_state before = r->st;
    if (al_state_load(r->state_path, &r->st, err)) return -1;
    *tries = r->st.next_exp - k;
    if (*tries || r->st.pending) {
        /* the tries moved the best: the judge's manifest holds its new hashes */
        if (load_judge(r, err)) return -1;
        if (r->st.tuning && !before.tuning) { /* a try's keep: the knobs are re-tuned */
            free(r->search);
            r->search = NULL;
        }
        if (r->st.pending) {
            say("[exp %d] a try of the agent was cut off during %s: reverting it", r->st.pend_exp,
                r->st.pend_step);
            if (settle_pending(r, err)) return -1;
        }
        *tries = r->st.next_exp - k;
    }
    if (pr.interrupted) return 2;
    if (!pr.exited || pr.code) {
        char how[96];
        al_proc_describe(&pr, how, sizeof how);
        snprintf(fail, fcap, "agent failed (%s; log: logs/%d.agent.log)", how, k);
    }
    char line[256] = "";
    al_file_grep_line(msg, NULL, line, sizeof line);
    if (line[0]) snprintf(desc, dcap, "%s", line);
    /* The agent may have committed or moved HEAD: fold it back. */
    char branch[200];
    al_git_branch(&r->git, branch, sizeof branch);
    if (strcmp(branch, r->st.branch) != 0) {
        if (!fail[0]) snprintf(fail, fcap, "agent left the run branch (now on '%s')", branch);
        if (al_git_run(&r->git, NULL, 0, err, "checkout", "-q", "-f", r->st.branch, NULL)) return -1;
        return 0;
    }
    return fold_commits(r, err);
}

/* The verdict, in the same words for the driver and `try`:
 * "[exp 3] KEEP (23.60 tok/s): improved +8.1% [...]". */
static void verdict_line(const al_row *row, char *out, size_t cap) {
    char dec[32] = "";
    if (row->decode != AL_NA) snprintf(dec, sizeof dec, " (%.2f tok/s)", row->decode);
    snprintf(out, cap, "[exp %d] %s%s: %s", row->exp, !strcmp(row->status, "keep") ? "KEEP" : row->status,
             dec, row->reason);
}

/* The row, keep or revert, state; then report.md and chart.svg are
 * refreshed (a failure there is a warning: the experiment is complete). */
static int finish_step(run *r, al_row *row, int have_build, ai_error *err) {
    if (write_row_and_finish(r, row, have_build, err)) return -1;
    ai_error rerr;
    if (al_report_write(r->run_dir, 0, &rerr)) say("%s: warning: report: %s", r->who, rerr.msg);
    return 0;
}

/* The experiment step, the same for the driver and `autoinfer try`, on the
 * change in the tree against the best (experiment k, already pending):
 * judge and lock check, commit, build, interleaved A/B against the best
 * with the judge's copies, decision, confirmation of a keep, judge check,
 * row, keep or revert, state, report. best_text: the best's pipeline.conf;
 * desc: what was tried ("" = the changed paths); fail: a failure of the
 * proposal (a crash row); empty_ok: an empty change is evaluated (noop).
 * Fills row. Returns 0 when the row is written, 2 interrupted, -1 error. */
static int candidate_step(run *r, int k, const char *best_text, const char *desc,
                          const char *fail, int empty_ok, al_row *row, ai_error *err) {
    char conf_path[PATHSZ];
    path_in(conf_path, r->git.repo, "pipeline.conf");
    al_row_init(row, k);
    char *cand_text = al_read_file(conf_path, NULL);
    char kdesc[256], ktrade[512];
    knob_changes(r, best_text, cand_text, kdesc, sizeof kdesc, ktrade, sizeof ktrade);
    free(cand_text);
    snprintf(row->description, sizeof row->description, "%s", desc);
    if (!desc[0]) describe_paths(r, kdesc, row->description, sizeof row->description);
    snprintf(row->tradeoff, sizeof row->tradeoff, "%s", ktrade);

    /* 1. the judge and the lock: anything that judges is as it was, only
     * engine/ and pipeline.conf changed, no file git ignores appeared */
    snprintf(r->st.pend_step, sizeof r->st.pend_step, "lock");
    if (al_proc_reap_orphans())
        say("[exp %d] killed what the agent left running", k);
    char bad[2048], jwhy[1400];
    int jc = judge_check(r, "before the evaluation", jwhy, sizeof jwhy, err);
    if (jc < 0) return -1;
    int lk = jc ? 0 : al_lock_check(&r->git, r->st.base_commit, bad, sizeof bad, err);
    if (lk < 0) return -1;
    int ig = jc || lk ? 0 : al_lock_new_ignored(&r->git, r->ignored, bad, sizeof bad, err);
    if (ig < 0) return -1;
    if (jc || lk || ig || fail[0]) {
        save_diff(r, k);
        snprintf(row->status, sizeof row->status, jc || lk || ig ? "reject" : "crash");
        if (jc)
            snprintf(row->reason, sizeof row->reason, "%s", jwhy);
        else if (lk)
            snprintf(row->reason, sizeof row->reason, "lock: changed outside engine/ and "
                     "pipeline.conf: %s", bad);
        else if (ig)
            snprintf(row->reason, sizeof row->reason, "lock: new files git ignores (built "
                     "but never committed): %s", bad);
        else
            snprintf(row->reason, sizeof row->reason, "%s", fail);
        return finish_step(r, row, 0, err);
    }
    char dirty[4096];
    int nd = al_git_dirty(&r->git, dirty, sizeof dirty, err);
    if (nd < 0) return -1;
    if (nd == 0 && !empty_ok) {
        snprintf(row->status, sizeof row->status, "revert");
        snprintf(row->reason, sizeof row->reason, "no change proposed");
        return finish_step(r, row, 0, err);
    }

    /* 2. commit: the binary is then built from a named commit */
    char msg[1024], sha[64];
    snprintf(msg, sizeof msg, "autoinfer %s exp %d: %s\n\nChanged:\n%s", r->st.tag, k,
             row->description, nd ? dirty : "  (nothing)\n");
    if (al_git_commit_all(&r->git, msg, sha, sizeof sha, err)) return -1;
    short_sha(row->commit, sizeof row->commit, sha);
    failpoint("commit", k);
    snprintf(r->st.pend_commit, sizeof r->st.pend_commit, "%s", sha);
    snprintf(r->st.pend_step, sizeof r->st.pend_step, "build");
    if (save_state(r, err)) return -1;
    save_diff(r, k);
    int added = 0, removed = 0;
    if (al_git_engine_numstat(&r->git, r->st.best_commit, sha, &added, &removed, err)) return -1;
    if (added || removed) {
        size_t tl = strlen(row->tradeoff);
        snprintf(row->tradeoff + tl, sizeof row->tradeoff - tl, "%sengine +%d -%d lines",
                 tl ? "; " : "", added, removed);
    }

    /* 3. build */
    char log[PATHSZ], why[300];
    snprintf(log, sizeof log, "%s/%d.build.log", r->logs_dir, k);
    failpoint_soon("building", k);
    int brc = build(r, log, why, sizeof why, err);
    if (brc < 0) return -1;
    if (brc == 2) return 2;
    if (brc == 1) {
        snprintf(row->status, sizeof row->status, "crash");
        snprintf(row->reason, sizeof row->reason, "%s", why);
        return finish_step(r, row, 0, err);
    }

    failpoint("build", k);

    /* 4. evaluate: interleaved A/B against the current best */
    snprintf(r->st.pend_step, sizeof r->st.pend_step, "eval");
    if (save_state(r, err)) return -1;
    if (copy_conf(r, r->cand_conf, err)) return -1;
    char a[PATHSZ * 2], b[PATHSZ * 2], built[PATHSZ], noise[32], rounds[16], json[PATHSZ];
    char best[PATHSZ], best_conf[PATHSZ], base[PATHSZ];
    jpath(r, "best", best);
    jpath(r, "best.conf", best_conf);
    jpath(r, "baseline", base);
    path_in(built, r->build_dir, "autoinfer");
    bin_conf(a, sizeof a, best, best_conf);
    bin_conf(b, sizeof b, built, r->cand_conf);
    snprintf(noise, sizeof noise, "%.4f", r->st.noise);
    snprintf(rounds, sizeof rounds, "%d", r->st.rounds);
    snprintf(json, sizeof json, "%s/%d.json", r->evals_dir, k);
    snprintf(log, sizeof log, "%s/%d.eval.log", r->logs_dir, k);
    const char *args[20];
    int n = 0;
    args[n++] = "--ab";
    args[n++] = "--a";
    args[n++] = a;
    args[n++] = "--b";
    args[n++] = b;
    args[n++] = "--baseline";
    args[n++] = base;
    args[n++] = "--noise";
    args[n++] = noise;
    if (r->st.rounds > 0) {
        args[n++] = "--rounds";
        args[n++] = rounds;
    }
    char tokens[16];
    snprintf(tokens, sizeof tokens, "%d", r->st.tokens);
    if (r->st.tokens > 0) {
        args[n++] = "--tokens";
        args[n++] = tokens;
    }
    /* The harness's own per-child limit, inside ours: it then reports a
     * hang itself (compare.status "timeout") instead of being killed. */
    char child_limit[32];
    snprintf(child_limit, sizeof child_limit, "%.0f", fmax(60.0, r->st.eval_timeout * 0.8));
    args[n++] = "--timeout";
    args[n++] = child_limit;
    args[n] = NULL;
    al_proc_result pr;
    al_eval e;
    int have;
    say("[exp %d] built; evaluating (follow: tail -f %s)", k, log);
    failpoint_soon("evaluating", k);
    if (run_eval(r, args, json, log, r->st.eval_timeout, &pr, &e, &have, err)) return -1;
    if (pr.interrupted || g_stop) return 2;
    if (al_proc_reap_orphans()) say("[exp %d] killed what the evaluation left running", k);

    /* 5. decide, log, keep or revert; a judge changed while it judged
     * voids the evaluation */
    al_outcome out;
    if (have) al_eval_objective(&e, r->objective);
    al_decide(&pr, have, &e, r->st.noise, removed - added, &out);
    if (!strcmp(out.status, "keep") &&
        al_eval_constraint(&e, r->st.max_memory_mb, out.reason, sizeof out.reason))
        snprintf(out.status, sizeof out.status, "revert");
    if (!strcmp(out.status, "keep")) {
        int rc = confirm_keep(r, k, args, removed - added, &out, err);
        if (rc) return rc;
    }
    jc = judge_check(r, "during the evaluation", jwhy, sizeof jwhy, err);
    if (jc < 0) return -1;
    if (jc) {
        snprintf(out.status, sizeof out.status, "reject");
        snprintf(out.reason, sizeof out.reason, "%s", jwhy);
    }
    if (have) fill_row_from_eval(row, &e);
    snprintf(row->status, sizeof row->status, "%s", out.status);
    snprintf(row->reason, sizeof row->reason, "%s", out.reason);
    if (!have && !pr.timed_out && !pr.signaled) {
        char last[160];
        al_file_grep_line(log, NULL, last, sizeof last);
        if (last[0]) {
            size_t rl = strlen(row->reason);
            snprintf(row->reason + rl, sizeof row->reason - rl, ": %s", last);
        }
    }
    return finish_step(r, row, 1, err);
}

/* One experiment of the driver: the strategy's (or the agent's) proposal,
 * then the step. Returns 0 to go on, 1 when the strategy has nothing left,
 * 2 interrupted. */
static int experiment(run *r, ai_error *err) {
    int k = r->st.next_exp;
    /* who proposes: the strategy, or the search while it re-tunes the knobs
     * after an agent's keep */
    const char *by = r->st.tuning ? "search" : r->st.strategy;
    double t0 = al_now();
    char desc[256] = "", fail[300] = "", key[64], value[64];
    al_move move;
    char conf_path[PATHSZ];
    path_in(conf_path, r->git.repo, "pipeline.conf");
    char *best_text = al_read_file(conf_path, NULL);
    int rc = 0;

    /* the proposal */
    if (!strcmp(by, "agent")) {
        progress_line(r, k, "agent experiment");
        int tries = 0;
        rc = agent_turn(r, k, desc, sizeof desc, fail, sizeof fail, &tries, err);
        if (rc < 0) goto done;
        k = r->st.next_exp;
        char dirty[256];
        int nd = al_git_dirty(&r->git, dirty, sizeof dirty, err);
        if (nd < 0) {
            rc = -1;
            goto done;
        }
        if (rc == 0 && tries && !nd && !fail[0]) {
            say("[exp %d] the agent's turn was its %d tr%s; nothing left to evaluate", k, tries,
                tries == 1 ? "y" : "ies");
            goto done;
        }
        if (tries) { /* the best may have moved: knob changes are against it */
            free(best_text);
            best_text = best_conf_text(r);
        }
        if (mark_pending(r, k, desc[0] ? desc : "agent experiment", "propose", err)) {
            rc = -1;
            goto done;
        }
        if (rc == 2) goto done;
    } else {
        if (!strcmp(by, "knobs")) {
            if (!al_strat_next(&r->st.strat, r->knobs, r->nk, best_text, key, sizeof key, value,
                               sizeof value, desc, sizeof desc)) {
                rc = 1;
                goto done;
            }
        } else if (!strcmp(by, "search")) {
            rc = search_propose(r, k, best_text, &move, err);
            if (rc) goto done;
            snprintf(desc, sizeof desc, "%s", move.desc);
        } else {
            snprintf(desc, sizeof desc, "no-op (nothing changed: measures false keeps)");
        }
        if (mark_pending(r, k, desc, "propose", err)) {
            rc = -1;
            goto done;
        }
        progress_line(r, k, desc);
        if (strcmp(by, "noop") != 0) {
            char *text = !strcmp(by, "knobs") ? al_conf_text_set(best_text, key, value)
                                              : al_move_apply(r->search, &move, best_text);
            rc = text ? al_write_atomic(conf_path, text, strlen(text), err) : -1;
            free(text);
            if (rc) goto done;
        }
    }
    if (g_stop) {
        rc = 2;
        goto done;
    }
    failpoint("propose", k);
    al_row row;
    rc = candidate_step(r, k, best_text ? best_text : "", desc, fail, !strcmp(by, "noop"), &row, err);
    if (rc == 0) {
        r->exp_time_sum += al_now() - t0;
        r->exp_time_n++;
        char line[1200];
        verdict_line(&row, line, sizeof line);
        say("%s", line);
    }
done:
    free(best_text);
    return rc;
}

/* ---- the result ------------------------------------------------------------ */

/* The run's result: the best configuration as pipeline.conf in the run
 * directory, and a long interleaved A/B of the best (build and conf)
 * against the baseline's, whose ratio is the headline of the report
 * (final.md) and the run's last line (headline). Returns 0, 2 when
 * interrupted, -1 on error. */
static int final_comparison(run *r, char *headline, size_t hcap, ai_error *err) {
    char conf[PATHSZ], base_conf[PATHSZ], path[PATHSZ];
    path_in(conf, r->run_dir, "pipeline.conf");
    path_in(base_conf, r->baseline_dir, "pipeline.conf");
    if (al_exists(r->best_conf) && al_copy_file(r->best_conf, conf, err)) return -1;
    char *base_text = al_read_file(base_conf, NULL), *best_text = al_read_file(r->best_conf, NULL);
    char changes[512], trade[1024];
    knob_changes(r, base_text, best_text, changes, sizeof changes, trade, sizeof trade);
    free(base_text);
    free(best_text);
    al_buf md = {0};
    if (!strcmp(r->st.best_commit, r->st.base_commit)) {
        snprintf(headline, hcap, "nothing was kept: the baseline's configuration stays the best");
        al_buf_printf(&md, "## Result\n\n**%s.**\n\n", headline);
    } else {
        char a[PATHSZ * 2], b[PATHSZ * 2], json[PATHSZ], log[PATHSZ];
        bin_conf(a, sizeof a, r->harness_bin, base_conf);
        bin_conf(b, sizeof b, r->best_bin, r->best_conf);
        path_in(json, r->evals_dir, "final.json");
        path_in(log, r->logs_dir, "final.eval.log");
        ab_argv x;
        ab_args(r, &x, a, b, r->st.final_rounds, 1);
        say("[final] best vs baseline, %d interleaved rounds (follow: tail -f %s)",
            r->st.final_rounds, log);
        double per = r->st.rounds > 0 ? r->st.rounds : 30;
        al_proc_result pr;
        al_eval e;
        int have;
        if (run_eval(r, x.v, json, log, r->st.eval_timeout * fmax(1.0, r->st.final_rounds / per),
                     &pr, &e, &have, err))
            return -1;
        if (pr.interrupted || g_stop) return 2;
        if (have && !strcmp(e.status, "ok") && e.ratio != AL_NA) {
            al_eval_objective(&e, r->objective);
            snprintf(headline, hcap,
                     "best vs baseline: %s x%.3f [%.3f, %.3f] (%+.1f%%; final interleaved A/B, "
                     "%d rounds, p=%.3g; quality %s)",
                     r->st.objective, e.ratio, e.ratio_lo, e.ratio_hi, (e.ratio - 1) * 100,
                     r->st.final_rounds, e.p, e.quality_pass ? "pass" : "FAIL");
        } else {
            char how[96];
            al_proc_describe(&pr, how, sizeof how);
            snprintf(headline, hcap, "best vs baseline: the final A/B failed (%s; log: %s)",
                     have && e.why[0] ? e.why : how, log);
        }
        al_buf_printf(&md, "## Result\n\n**%s**\n\n- Changed: %s\n- What it trades away: %s\n",
                      headline, changes, trade);
    }
    al_buf_printf(&md, "- Use it: `autoinfer generate --conf %s`, `autoinfer eval --conf %s`, "
                  "`autoinfer bench --conf %s` (or copy it over pipeline.conf)\n\n", conf, conf, conf);
    path_in(path, r->run_dir, "final.md");
    int rc = md.s ? al_write_atomic(path, md.s, md.n, err) : ai_error_set(err, "out of memory");
    free(md.s);
    if (rc) return -1;
    say("autoinfer optimise: best configuration: %s%s%s", conf, changes[0] ? " (" : "",
        changes[0] ? changes : "");
    return 0;
}

/* Logs the in-flight experiment as interrupted and reverts it. */
static int log_interrupted(run *r, const char *how, ai_error *err) {
    al_row row;
    al_row_init(&row, r->st.pend_exp);
    snprintf(row.status, sizeof row.status, "interrupted");
    snprintf(row.description, sizeof row.description, "%s", r->st.pend_desc);
    snprintf(row.reason, sizeof row.reason, "%s during %s; reverted", how, r->st.pend_step);
    if (r->st.pend_commit[0]) short_sha(row.commit, sizeof row.commit, r->st.pend_commit);
    if (al_git_reset_hard(&r->git, r->st.best_commit, r->ignored, err)) return -1;
    return write_row_and_finish(r, &row, 0, err);
}

/* ---- resume -------------------------------------------------------------- */

static int settle_pending(run *r, ai_error *err) {
    al_row *rows = NULL;
    int n = 0;
    if (al_results_read(r->results_path, &rows, &n, 1, err)) return -1;
    int last = n ? rows[n - 1].exp : -1;
    int rc = 0;
    if (r->st.pending) {
        if (last == r->st.pend_exp) {
            say("autoinfer optimise: experiment %d has its row (%s): completing it", last,
                rows[n - 1].status);
            rc = finish_experiment(r, &rows[n - 1], 0, err);
        } else if (last == r->st.pend_exp - 1) {
            say("autoinfer optimise: experiment %d was cut off during %s: reverting it",
                r->st.pend_exp, r->st.pend_step);
            rc = log_interrupted(r, "driver stopped", err);
        } else {
            rc = ai_error_set(err, "%s: last row is experiment %d but experiment %d is in flight",
                              r->results_path, last, r->st.pend_exp);
        }
    } else if (last != r->st.next_exp - 1) {
        rc = ai_error_set(err, "%s: last row is experiment %d but the state expects %d",
                          r->results_path, last, r->st.next_exp - 1);
    } else {
        rc = al_git_reset_hard(&r->git, r->st.best_commit, r->ignored, err);
    }
    free(rows);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: autoinfer optimise [--tag T] [--budget N] [--hours H]\n"
            "                          [--strategy search|knobs|noop]\n"
            "                          [--objective decode|prefill|ttft|request] [--prompt-tokens N]\n"
            "                          [--max-memory MB] [--screen-rounds N] [--final-rounds N]\n"
            "                          [--knobs A,B,...]\n"
            "                          [--agent CMD] [--resume] [--start-only] [-m MODEL] [--worktree]\n"
            "                          [--rounds N] [--tokens N] [--eval-timeout S]\n"
            "                          [--quick] [--recalibrate N] [--agent-timeout S]"
" [--mem-limit MB] [--jobs N]\n\n"
            "Hill-climbs decode (or prefill) tokens/s under the harness's quality gate on branch\n"
            "autoinfer/<tag>; results in .autoinfer/<tag>/results.tsv (see docs/loop.md).\n\n"
            "  --tag T            run name (default: the date and time)\n"
            "  --budget N         stop after N experiments\n"
            "  --hours H          stop after H hours (both: whichever comes first)\n"
            "  --strategy S       search: screened search over pipeline.conf (default: short\n"
            "                     speed-only A/Bs first, full A/Bs for the promising, joint\n"
            "                     moves, refinement); knobs: coordinate descent;\n"
            "                     noop: evaluate empty changes (measures false keeps)\n"
            "  --objective F      the figure to raise: decode (default) or prefill tok/s, time\n"
            "                     to first token, or request: the end-to-end time of one request\n"
            "                     (prompt + answer; with --prompt-tokens and --tokens, a stated\n"
            "                     workload)\n"
            "  --prompt-tokens N  the A/Bs' speed prompts have at least N tokens (default: the\n"
            "                     harness's, ~60-110)\n"
            "  --knobs A,B,...    search only these knobs (--strategy search)\n"
            "  --max-memory MB    reject candidates whose peak RSS is above MB\n"
            "  --screen-rounds N  rounds of a first screening A/B (default 2)\n"
            "  --final-rounds N   rounds of the final best-vs-baseline A/B (default 2 x --rounds:\n"
            "                     60 with the harness's 30)\n"
            "  --agent CMD        run CMD (via /bin/sh) once per experiment with a prompt file\n"
            "                     ($1, stdin, $AUTOINFER_PROMPT); its edits are the proposal;\n"
            "                     with --strategy search, the knobs are re-tuned by the search\n"
            "                     after each agent keep\n"
            "  --resume           continue the run of --tag (or of the current branch)\n"
            "  --start-only       stop before experiment 1 (after the baseline, or once --resume\n"
            "                     has settled the run): the agent-driven way, where each change\n"
            "                     is one `autoinfer try -m MESSAGE` (docs/loop.md)\n"
            "  -m MODEL           GGUF model (default models/SmolLM2-135M-Instruct.Q4_1.gguf)\n"
            "  --worktree         run in a git worktree under .autoinfer/<tag>/tree and leave\n"
            "                     this checkout alone\n"
            "  --rounds N         A/B rounds per evaluation (default: the harness's 30; at least 6,\n"
            "                     or no p-value can reach 0.05)\n"
            "  --tokens N         decode tokens per prompt in a speed run (default: the harness's)\n"
            "  --quick            the harness's smoke-test sizes (shorter answers and text):\n"
            "                     for short demonstration runs\n"
            "  --recalibrate N    re-measure the noise threshold (A/A of the best) every N\n"
            "                     experiments, for machines whose load drifts (0 = never)\n"
            "  --eval-timeout S   wall-clock limit of one evaluation (default: from the A/A run)\n"
            "  --agent-timeout S  wall-clock limit of one agent run (default 3600)\n"
            "  --mem-limit MB     address-space limit of the evaluation (default 3/4 of RAM)\n"
            "  --jobs N           build parallelism (default: the CPU count)\n");
}

static int valid_tag(const char *t) {
    if (!*t || *t == '.' || *t == '-' || strlen(t) > 60) return 0;
    for (const char *p = t; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return !strstr(t, "..");
}

/* Keeps .autoinfer/ out of `git status` even where .gitignore lacks it. */
static void exclude_run_dirs(al_git *g) {
    char path[1100];
    ai_error ignore;
    if (al_git_run(g, path, sizeof path, &ignore, "rev-parse", "--git-path", "info/exclude", NULL))
        return;
    path[strcspn(path, "\n")] = 0;
    char full[2200];
    if (path[0] == '/')
        snprintf(full, sizeof full, "%s", path);
    else
        snprintf(full, sizeof full, "%s/%s", g->repo, path);
    char *text = al_read_file(full, NULL);
    if (!text || !strstr(text, "/.autoinfer/")) {
        FILE *f = fopen(full, "a");
        if (f) {
            fputs("/.autoinfer/\n", f);
            fclose(f);
        }
    }
    free(text);
}

static int fail(const char *msg) {
    fprintf(stderr, "autoinfer optimise: %s\n", msg);
    return 1;
}

/* --start-only: the run is ready for `autoinfer try`; what to do next. */
static void print_started(run *r) {
    char best[32];
    snprintf(best, sizeof best, "%.12s", r->st.best_commit);
    printf("autoinfer optimise: run '%s' is ready on branch %s in %s: %d experiment%s done, best "
           "%s at %.2f tok/s, noise threshold %.1f%%.\n"
           "Next: change engine/ or pipeline.conf in %s, then run one experiment on it with\n"
           "  %s try -m \"what you changed and why\"\n"
           "(lock check, commit, build, interleaved A/B against the best, keep or revert, one row "
           "in %s). The driver can take over at any time: autoinfer optimise --resume --tag %s\n",
           r->st.tag, r->st.branch, r->st.repo, r->st.done_exps, r->st.done_exps == 1 ? "" : "s",
           best, r->st.best_decode, r->st.noise * 100.0, r->st.repo, r->self_exe, r->results_path,
           r->st.tag);
    fflush(stdout);
}

/* A run's session: settings from the environment, signals, subreaper. */
static run *run_new(const char *who, int jobs) {
    run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->who = who;
    r->exp_lock_fd = -1;
    r->session_start = al_now();
    r->knobs = ai_knobs(&r->nk);
    r->jobs = jobs > 0 ? jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (r->jobs < 1) r->jobs = 1;
    ssize_t n = readlink("/proc/self/exe", r->self_exe, sizeof r->self_exe - 1);
    r->self_exe[n > 0 ? n : 0] = 0;
    r->test_eval = getenv("AI_LOOP_TEST_EVAL");
    if (r->test_eval && !*r->test_eval) r->test_eval = NULL;
    if (r->test_eval)
        say("%s: TEST-ONLY: the evaluation is replaced by AI_LOOP_TEST_EVAL=%s", who, r->test_eval);
    r->test_build = getenv("AI_LOOP_TEST_BUILD_DIR");
    if (r->test_build && !*r->test_build) r->test_build = NULL;
    if (r->test_build)
        say("%s: TEST-ONLY: every run builds in AI_LOOP_TEST_BUILD_DIR=%s", who, r->test_build);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_stop = 0;
    /* what an agent or a candidate leaves running in a session of its own
     * comes to the driver when its parent ends, to be killed (al_proc_reap_orphans) */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return r;
}

static void run_free(run *r) {
    if (r) {
        free(r->search);
        free(r->ignored);
        if (r->exp_lock_fd >= 0) close(r->exp_lock_fd);
    }
    free(r);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

/* From the checkout at the current directory: r->top, the checkout holding
 * .autoinfer/ (the main one, also from a run's worktree), and common, the
 * git common dir (the judge's folders live there, named to no agent). */
static int locate(run *r, al_git *here, char *common, size_t cap, ai_error *err) {
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) return ai_error_set(err, "getcwd: %s", strerror(errno));
    if (al_git_init(here, cwd, err)) return -1;
    snprintf(r->top, sizeof r->top, "%s", here->repo);
    if (al_git_run(here, common, cap, err, "rev-parse", "--path-format=absolute",
                   "--git-common-dir", NULL) != 0)
        return -1;
    common[strcspn(common, "\n")] = 0;
    size_t cl = strlen(common);
    if (cl > 5 && !strcmp(common + cl - 5, "/.git"))
        snprintf(r->top, sizeof r->top, "%.*s", (int)(cl - 5), common);
    return 0;
}

/* Opens the existing run `tag` (its state, locks, tree, judge): for
 * --resume, and for `autoinfer try`, which takes only the experiment lock.
 * Returns 0, -2 when a lock is held by another process (err says which),
 * -1 on error. */
static int open_existing(run *r, const char *tag, const char *common, ai_error *err) {
    snprintf(r->run_dir, PATHSZ, "%s/.autoinfer/%s", r->top, tag);
    snprintf(r->judge_root, PATHSZ, "%s/autoinfer/%s", common, tag);
    char sp[PATHSZ];
    path_in(sp, r->run_dir, "state.json");
    if (al_state_load(sp, &r->st, err)) return -1;
    int worktree = strcmp(r->st.repo, r->top) != 0;
    setup_paths(r, worktree);
    if (!r->is_try) {
        char lk[PATHSZ];
        path_in(lk, r->run_dir, "lock");
        if (lock_file(lk, "this run is in use by another autoinfer optimise", err) < 0) return -2;
        snprintf(lk, sizeof lk, "%s/.autoinfer/.tree.lock", r->top);
        if (!worktree && lock_file(lk, "this checkout is in use by another autoinfer optimise",
                                   err) < 0)
            return -2;
    }
    int fd = take_exp_lock(r, err);
    if (fd < 0) return fd;
    if (al_git_init(&r->git, r->st.repo, err)) return -1;
    /* a kill -9 inside a git step leaves its lock behind */
    int stale = al_git_clear_stale_lock(&r->git, err);
    if (stale < 0) return -1;
    if (stale) say("%s: removed the index.lock a killed git step left", r->who);
    char branch[200];
    al_git_branch(&r->git, branch, sizeof branch);
    if (strcmp(branch, r->st.branch) != 0) {
        char dirty[4096];
        int nd = al_git_dirty(&r->git, dirty, sizeof dirty, err);
        if (nd < 0) return -1;
        if (nd)
            return ai_error_set(err, "cannot switch back to %s: the working tree has uncommitted "
                                "changes:\n%s", r->st.branch, dirty);
        if (al_git_run(&r->git, NULL, 0, err, "checkout", "-q", r->st.branch, NULL)) return -1;
    }
    r->prior_elapsed = r->st.elapsed_s;
    if (make_dirs(r, err)) return -1;
    if (strcmp(r->st.phase, "baseline") != 0 && load_judge(r, err)) return -1;
    return al_objective_parse(r->st.objective[0] ? r->st.objective : "decode", &r->objective)
               ? ai_error_set(err, "%s: unknown objective '%s'", sp, r->st.objective)
               : 0;
}

int ai_cmd_optimise(int argc, char **argv) {
    static const struct option opts[] = {
        {"tag", required_argument, 0, 't'},      {"budget", required_argument, 0, 'b'},
        {"hours", required_argument, 0, 'H'},    {"strategy", required_argument, 0, 's'},
        {"agent", required_argument, 0, 'a'},    {"resume", no_argument, 0, 'r'},
        {"model", required_argument, 0, 'm'},    {"worktree", no_argument, 0, 'w'},
        {"rounds", required_argument, 0, 'R'},   {"eval-timeout", required_argument, 0, 'T'},
        {"agent-timeout", required_argument, 0, 'A'}, {"mem-limit", required_argument, 0, 'M'},
        {"jobs", required_argument, 0, 'j'},     {"tokens", required_argument, 0, 'N'},
        {"quick", no_argument, 0, 'q'},         {"recalibrate", required_argument, 0, 'C'},
        {"objective", required_argument, 0, 'O'}, {"max-memory", required_argument, 0, 'X'},
        {"screen-rounds", required_argument, 0, 'S'}, {"final-rounds", required_argument, 0, 'F'},
        {"knobs", required_argument, 0, 'K'},    {"start-only", no_argument, 0, 'P'},
        {"prompt-tokens", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *tag = NULL, *strategy = NULL, *agent = NULL, *model = NULL, *objective = NULL;
    const char *only = NULL;
    int budget = -1, resume = 0, worktree = 0, rounds = 0, jobs = 0, tokens = 0, quick = 0;
    int recal = -1, screen_rounds = 2, final_rounds = 0, start_only = 0, prompt_tokens = 0;
    double hours = -1, eval_timeout = 0, agent_timeout = 3600, max_memory = 0;
    int agent_timeout_set = 0; /* --agent-timeout given: --resume takes it too */
    long mem_mb = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 't': tag = optarg; break;
        case 'b': budget = (int)strtol(optarg, &end, 10); break;
        case 'H': hours = strtod(optarg, &end); break;
        case 's': strategy = optarg; break;
        case 'a': agent = optarg; break;
        case 'r': resume = 1; break;
        case 'm': model = optarg; break;
        case 'w': worktree = 1; break;
        case 'R': rounds = (int)strtol(optarg, &end, 10); break;
        case 'T': eval_timeout = strtod(optarg, &end); break;
        case 'A':
            agent_timeout = strtod(optarg, &end);
            agent_timeout_set = 1;
            break;
        case 'M': mem_mb = strtol(optarg, &end, 10); break;
        case 'j': jobs = (int)strtol(optarg, &end, 10); break;
        case 'N': tokens = (int)strtol(optarg, &end, 10); break;
        case 'q': quick = 1; break;
        case 'C': recal = (int)strtol(optarg, &end, 10); break;
        case 'O': objective = optarg; break;
        case 'K': only = optarg; break;
        case 'X': max_memory = strtod(optarg, &end); break;
        case 'S': screen_rounds = (int)strtol(optarg, &end, 10); break;
        case 'F': final_rounds = (int)strtol(optarg, &end, 10); break;
        case 'P': start_only = 1; break;
        case 'W': prompt_tokens = (int)strtol(optarg, &end, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "autoinfer optimise: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "autoinfer optimise: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (prompt_tokens < 0 || prompt_tokens > 65536) {
        fprintf(stderr, "autoinfer optimise: --prompt-tokens: %d, expected 1..65536\n", prompt_tokens);
        return 2;
    }
    if (budget == 0 || budget < -1 || hours == 0 || hours < -1 || rounds < 0 || tokens < 0 ||
        recal < -1 || max_memory < 0 || screen_rounds < 2 || final_rounds < 0 ||
        eval_timeout < 0 || agent_timeout <= 0 || mem_mb < 0 || jobs < 0) {
        fprintf(stderr, "autoinfer optimise: --budget, --hours, --rounds, timeouts, --mem-limit, "
                        "--max-memory and --jobs must be positive, --screen-rounds at least 2\n");
        return 2;
    }
    char why[200];
    if (rounds > 0 && !al_rounds_can_keep(rounds, why, sizeof why)) {
        fprintf(stderr, "autoinfer optimise: --rounds: %s\n", why);
        return 2;
    }
    if (final_rounds > 0 && !al_rounds_can_keep(final_rounds, why, sizeof why)) {
        fprintf(stderr, "autoinfer optimise: --final-rounds: %s\n", why);
        return 2;
    }
    unsigned objective_mask;
    if (objective && al_objective_parse(objective, &objective_mask)) {
        fprintf(stderr, "autoinfer optimise: unknown objective '%s' (decode, prefill, ttft, request)\n",
                objective);
        return 2;
    }
    if (strategy && strcmp(strategy, "search") && strcmp(strategy, "knobs") &&
        strcmp(strategy, "noop")) {
        fprintf(stderr,
                "autoinfer optimise: unknown strategy '%s' (search, knobs, noop; or --agent CMD)\n",
                strategy);
        return 2;
    }
    if (only && strategy && strcmp(strategy, "search")) {
        fprintf(stderr, "autoinfer optimise: --knobs needs --strategy search\n");
        return 2;
    }
    if (only) {
        int nk;
        const ai_knob_info *k = ai_knobs(&nk);
        char list[512], *save = NULL;
        if (strlen(only) >= sizeof list) {
            fprintf(stderr, "autoinfer optimise: --knobs: list too long\n");
            return 2;
        }
        snprintf(list, sizeof list, "%s", only);
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int i = 0;
            while (i < nk && strcmp(k[i].name, t)) i++;
            if (i == nk) {
                fprintf(stderr, "autoinfer optimise: --knobs: unknown knob '%s' (see pipeline.conf)\n", t);
                return 2;
            }
        }
    }
    if (strategy && agent && strcmp(strategy, "search")) {
        fprintf(stderr, "autoinfer optimise: --agent combines with --strategy search only (a knob "
                        "re-tune after each agent keep)\n");
        return 2;
    }
    if (tag && !valid_tag(tag)) {
        fprintf(stderr, "autoinfer optimise: bad tag '%s' (letters, digits, - _ .)\n", tag);
        return 2;
    }
    if (rounds == 1 || tokens == 1) {
        fprintf(stderr, "autoinfer optimise: --%s 1: the harness needs at least 2 (%s)\n",
                rounds == 1 ? "rounds" : "tokens",
                rounds == 1 ? "a ratio with a confidence interval needs two rounds"
                            : "a decode speed needs two tokens");
        return 2;
    }
    if (agent && !agent[strspn(agent, " \t")]) {
        fprintf(stderr, "autoinfer optimise: --agent: empty command\n");
        return 2;
    }

    run *r = run_new("autoinfer optimise", jobs);
    if (!r) return fail("out of memory");
    ai_error err = {{0}};
    int status = 1;
    al_git main_git;
    char common[1024];
    if (locate(r, &main_git, common, sizeof common, &err)) {
        fail(err.msg);
        goto out;
    }

    char default_tag[64];
    if (resume && !tag) {
        char branch[200];
        al_git_branch(&main_git, branch, sizeof branch);
        if (strncmp(branch, "autoinfer/", 10) != 0) {
            fail("--resume needs --tag T (the current branch is not a run's autoinfer/<tag>)");
            goto out;
        }
        snprintf(default_tag, sizeof default_tag, "%s", branch + 10);
        tag = default_tag;
    }
    if (!tag) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(default_tag, sizeof default_tag, "%Y%m%d-%H%M%S", &tm);
        tag = default_tag;
    }
    snprintf(r->run_dir, PATHSZ, "%s/.autoinfer/%s", r->top, tag);
    snprintf(r->judge_root, PATHSZ, "%s/autoinfer/%s", common, tag);

    if (resume) {
        if (open_existing(r, tag, common, &err)) {
            fail(err.msg);
            goto out;
        }
        if (budget > 0) r->st.budget = budget;
        if (hours > 0) r->st.hours = hours;
        if (eval_timeout > 0) r->st.eval_timeout = eval_timeout;
        if (agent_timeout_set) r->st.agent_timeout = agent_timeout;
        if (mem_mb > 0) r->st.mem_mb = mem_mb;
        if (recal >= 0) r->st.recal = recal;
        if (model) say("autoinfer optimise: -m is ignored on --resume (the run keeps %s)", r->st.model);
        if (!strcmp(r->st.phase, "finished")) snprintf(r->st.phase, sizeof r->st.phase, "running");
        say("autoinfer optimise: resuming run '%s' on %s (%d experiments done)", r->st.tag,
            r->st.branch, r->st.done_exps);
    } else {
        char dirty[8192];
        int nd = al_git_dirty(&main_git, dirty, sizeof dirty, &err);
        if (nd < 0) {
            fail(err.msg);
            goto out;
        }
        if (nd > 0) {
            fprintf(stderr, "autoinfer optimise: the working tree is not clean (%d path%s); commit "
                            "or stash first:\n%s", nd, nd == 1 ? "" : "s", dirty);
            goto out;
        }
        char sp[PATHSZ];
        path_in(sp, r->run_dir, "state.json");
        if (al_exists(sp)) {
            fprintf(stderr, "autoinfer optimise: run '%s' exists (%s): use --resume or another "
                            "--tag\n", tag, r->run_dir);
            goto out;
        }
        snprintf(r->st.tag, sizeof r->st.tag, "%s", tag);
        snprintf(r->st.branch, sizeof r->st.branch, "autoinfer/%s", tag);
        {
            char ref[300];
            snprintf(ref, sizeof ref, "refs/heads/%s", r->st.branch);
            ai_error ignore;
            if (al_git_run(&main_git, NULL, 0, &ignore, "rev-parse", "--verify", "-q", ref, NULL) == 0) {
                fprintf(stderr, "autoinfer optimise: branch %s exists: use --resume or another "
                                "--tag\n", r->st.branch);
                goto out;
            }
        }
        char model_path[PATH_MAX];
        char def_model[PATHSZ];
        snprintf(def_model, sizeof def_model, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                 main_git.repo);
        if (!realpath(model ? model : def_model, model_path)) {
            fprintf(stderr, "autoinfer optimise: model %s: %s%s\n", model ? model : def_model,
                    strerror(errno), model ? "" : " (run `make model`)");
            goto out;
        }
        ah_gguf_bytes gb;
        if (ah_gguf_bytes_per_token(model_path, &gb, &err)) {
            fprintf(stderr, "autoinfer optimise: model %s: %s\n", model_path, err.msg);
            status = 2;
            goto out;
        }
        snprintf(r->st.model, sizeof r->st.model, "%s", model_path);
        snprintf(r->st.strategy, sizeof r->st.strategy, "%s",
                 agent ? "agent" : strategy ? strategy : "search");
        snprintf(r->st.agent, sizeof r->st.agent, "%s", agent ? agent : "");
        r->st.budget = budget > 0 ? budget : 0;
        r->st.hours = hours > 0 ? hours : 0;
        r->st.eval_timeout = eval_timeout;
        r->st.agent_timeout = agent_timeout;
        r->st.rounds = rounds;
        r->st.tokens = tokens;
        r->st.quick = quick;
        r->st.recal = recal > 0 ? recal : 0;
        snprintf(r->st.objective, sizeof r->st.objective, "%s", objective ? objective : "decode");
        r->st.max_memory_mb = max_memory;
        r->st.prompt_tokens = prompt_tokens;
        snprintf(r->st.only, sizeof r->st.only, "%s", only ? only : "");
        r->st.retune = agent && strategy;
        r->st.screen_rounds = screen_rounds;
        r->st.final_rounds = final_rounds > 0 ? final_rounds : 2 * (rounds > 0 ? rounds : 30);
        if (mem_mb == 0) {
            long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
            mem_mb = pages > 0 && psz > 0 ? (long)((double)pages * (double)psz * 0.75 / 1048576.0) : 0;
        }
        r->st.mem_mb = mem_mb;
        if (al_git_head(&main_git, r->st.base_commit, sizeof r->st.base_commit, &err)) {
            fail(err.msg);
            goto out;
        }
        snprintf(r->st.best_commit, sizeof r->st.best_commit, "%s", r->st.base_commit);
        snprintf(r->st.phase, sizeof r->st.phase, "baseline");
        exclude_run_dirs(&main_git);
        if (al_mkdirs(r->run_dir, &err)) {
            fail(err.msg);
            goto out;
        }
        char lk[PATHSZ];
        path_in(lk, r->run_dir, "lock");
        snprintf(r->exp_lock, sizeof r->exp_lock, "%s/exp.lock", r->run_dir);
        if (lock_file(lk, "this run is in use by another autoinfer optimise", &err) < 0 ||
            take_exp_lock(r, &err) < 0) {
            fail(err.msg);
            goto out;
        }
        snprintf(lk, sizeof lk, "%s/.autoinfer/.tree.lock", r->top);
        if (!worktree &&
            lock_file(lk, "this checkout is in use by another autoinfer optimise", &err) < 0) {
            fail(err.msg);
            goto out;
        }
        if (worktree) {
            char tree[PATHSZ];
            path_in(tree, r->run_dir, "tree");
            if (al_git_run(&main_git, NULL, 0, &err, "worktree", "add", "-q", "-b", r->st.branch,
                           tree, r->st.base_commit, NULL)) {
                fail(err.msg);
                goto out;
            }
            snprintf(r->st.repo, sizeof r->st.repo, "%s", tree);
        } else {
            if (al_git_run(&main_git, NULL, 0, &err, "checkout", "-q", "-b", r->st.branch, NULL)) {
                fail(err.msg);
                goto out;
            }
            snprintf(r->st.repo, sizeof r->st.repo, "%s", main_git.repo);
        }
        if (al_git_init(&r->git, r->st.repo, &err)) {
            fail(err.msg);
            goto out;
        }
        setup_paths(r, worktree);
        if (make_dirs(r, &err) || save_state(r, &err)) {
            fail(err.msg);
            goto out;
        }
        say("autoinfer optimise: run '%s' on branch %s%s%s; model %s; strategy %s%s", r->st.tag,
            r->st.branch, worktree ? " in " : "", worktree ? r->st.repo : "", r->st.model,
            r->st.strategy, r->st.budget ? "" : " (no experiment budget)");
    }

    if (!resume && al_objective_parse(r->st.objective, &r->objective)) {
        fail("state.json: unknown objective");
        goto out;
    }
    if (!strcmp(r->st.phase, "baseline")) {
        if (do_baseline(r, &err)) {
            fail(err.msg);
            status = g_stop ? 130 : 1;
            goto out;
        }
    } else if (settle_pending(r, &err)) {
        fail(err.msg);
        goto out;
    }

    if (start_only) {
        print_started(r);
        status = 0;
        goto out;
    }

    const char *why_end = NULL;
    for (;;) {
        if (g_stop) break;
        if (r->st.budget > 0 && r->st.done_exps >= r->st.budget) {
            why_end = "experiment budget spent";
            break;
        }
        if (r->st.hours > 0 && elapsed(r) >= r->st.hours * 3600.0) {
            why_end = "time budget spent";
            break;
        }
        if ((!strcmp(r->st.strategy, "knobs") || !strcmp(r->st.strategy, "search")) &&
            r->st.strat.done) {
            why_end = "no knob move improves any more";
            break;
        }
        if (ensure_best_binary(r, &err)) {
            if (g_stop) break;
            fail(err.msg);
            goto out;
        }
        if (r->st.recal > 0 && r->st.done_exps > 0 && r->st.done_exps % r->st.recal == 0 &&
            r->st.recal_at != r->st.done_exps) {
            int rc = recalibrate(r, &err);
            if (rc < 0) {
                fail(err.msg);
                goto out;
            }
            if (rc == 2) break;
        }
        int rc = experiment(r, &err);
        if (rc < 0) {
            fail(err.msg);
            goto out;
        }
        if (rc == 1 && r->st.tuning) { /* the re-tune is over: back to the agent */
            say("autoinfer optimise: the knobs are re-tuned; the agent proposes again");
            r->st.tuning = 0;
            if (stop_search(r, &err) || save_state(r, &err)) {
                fail(err.msg);
                goto out;
            }
            continue;
        }
        if (rc == 1) {
            r->st.strat.done = 1;
            why_end = "no knob move improves any more";
            break;
        }
        if (rc == 2) break;
    }
    if (g_stop) {
        if (r->st.pending && log_interrupted(r, "Ctrl-C", &err)) {
            fail(err.msg);
            goto out;
        }
        save_state(r, &err);
        fprintf(stderr, "autoinfer optimise: interrupted; the unfinished experiment was reverted "
                        "and logged. Continue with: autoinfer optimise --resume --tag %s\n",
                r->st.tag);
        status = 130;
        goto out;
    }
    char headline[400] = "";
    if (!g_stop) {
        int rc = final_comparison(r, headline, sizeof headline, &err);
        if (rc < 0) {
            fail(err.msg);
            goto out;
        }
    }
    if (g_stop) {
        save_state(r, &err);
        fprintf(stderr, "autoinfer optimise: interrupted during the final comparison. Continue "
                        "with: autoinfer optimise --resume --tag %s\n", r->st.tag);
        status = 130;
        goto out;
    }
    snprintf(r->st.phase, sizeof r->st.phase, "finished");
    if (save_state(r, &err)) {
        fail(err.msg);
        goto out;
    }
    {
        double gain = r->st.base_decode > 0 ? (r->st.best_decode / r->st.base_decode - 1) * 100 : 0;
        say("autoinfer optimise: done (%s): %d experiments; best %.12s at %.2f tok/s (%+.1f%% "
            "over the baseline's %.2f)",
            why_end, r->st.done_exps, r->st.best_commit, r->st.best_decode, gain,
            r->st.base_decode);
        if (al_report_write(r->run_dir, 0, &err))
            say("autoinfer optimise: report: %s", err.msg);
        else
            say("autoinfer optimise: report: %s/report.md (chart.svg); results: %s", r->run_dir,
                r->results_path);
        say("autoinfer optimise: %s", headline);
    }
    status = 0;
out:
    run_free(r);
    return status;
}

/* ---- autoinfer try: one experiment of the driver's, on the tree's change -- */

static int refuse(ai_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(ai_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return AL_TRY_REFUSED;
}

static int try_experiment(run *r, const char *message, al_try_out *o, ai_error *err) {
    al_git here;
    char common[1024], branch[200];
    if (locate(r, &here, common, sizeof common, err)) return AL_TRY_ERROR;
    al_git_branch(&here, branch, sizeof branch);
    if (strncmp(branch, "autoinfer/", 10) != 0)
        return refuse(err, "not in a run: the current branch %s%s%s is not a run's autoinfer/<tag> "
                      "(start one with `autoinfer optimise --tag T --start-only`, then work in "
                      "its tree)", branch[0] ? "'" : "", branch[0] ? branch : "(none: HEAD is "
                      "detached)", branch[0] ? "'" : "");
    const char *tag = branch + 10;
    snprintf(o->tag, sizeof o->tag, "%s", tag);
    char sp[PATHSZ];
    snprintf(sp, sizeof sp, "%s/.autoinfer/%s/state.json", r->top, tag);
    if (!al_exists(sp))
        return refuse(err, "branch %s has no run (%s is missing): start one with `autoinfer "
                      "optimise --tag T --start-only`", branch, sp);
    int rc = open_existing(r, tag, common, err);
    if (rc == -2) return AL_TRY_REFUSED;
    if (rc) return AL_TRY_ERROR;
    snprintf(o->run_dir, sizeof o->run_dir, "%s", r->run_dir);
    if (!strcmp(r->st.phase, "baseline"))
        return refuse(err, "run '%s' has no baseline yet (its start was cut off): finish it with "
                      "`autoinfer optimise --resume --tag %s --start-only`", tag, tag);
    if (r->st.pending)
        return refuse(err, "experiment %d of run '%s' was cut off during %s: `autoinfer optimise "
                      "--resume --tag %s --start-only` settles it (it resets the tree to the "
                      "best: save your change first)", r->st.pend_exp, tag, r->st.pend_step, tag);
    if (r->st.budget > 0 && r->st.done_exps >= r->st.budget)
        return refuse(err, "run '%s' has spent its budget of %d experiments (raise it: `autoinfer "
                      "optimise --resume --tag %s --budget N --start-only`)", tag, r->st.budget, tag);
    if (fold_commits(r, err)) return AL_TRY_ERROR;
    char dirty[256];
    int nd = al_git_dirty(&r->git, dirty, sizeof dirty, err);
    if (nd < 0) return AL_TRY_ERROR;
    if (nd == 0)
        return refuse(err, "nothing to try: the tree of run '%s' has no change against the best "
                      "commit %.12s (change engine/ or pipeline.conf first)", tag, r->st.best_commit);
    /* the run's result is redone by the driver's next --resume */
    if (!strcmp(r->st.phase, "finished")) snprintf(r->st.phase, sizeof r->st.phase, "running");
    if (ensure_best_binary(r, err)) return g_stop ? AL_TRY_INTERRUPTED : AL_TRY_ERROR;

    int k = r->st.next_exp;
    if (mark_pending(r, k, message, "lock", err)) return AL_TRY_ERROR;
    progress_line(r, k, message);
    char *best_text = best_conf_text(r);
    rc = candidate_step(r, k, best_text ? best_text : "", message, "", 0, &o->row, err);
    free(best_text);
    if (rc == 2) {
        if (log_interrupted(r, "Ctrl-C", err)) return AL_TRY_ERROR;
        return AL_TRY_INTERRUPTED;
    }
    if (rc && !r->st.pend_commit[0]) { /* failed before its commit: nothing to settle */
        ai_error ignore;
        r->st.pending = 0;
        save_state(r, &ignore);
    }
    if (rc) return AL_TRY_ERROR;
    verdict_line(&o->row, o->verdict, sizeof o->verdict);
    return AL_TRY_DONE;
}

int al_try_run(const char *message, int jobs, al_try_out *out, ai_error *err) {
    memset(out, 0, sizeof *out);
    run *r = run_new("autoinfer try", jobs);
    if (!r) return ai_error_set(err, "out of memory");
    r->is_try = 1;
    int rc = try_experiment(r, message, out, err);
    run_free(r);
    return rc;
}
