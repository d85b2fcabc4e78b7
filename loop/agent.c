/* agent.c — the prompt an external coding agent gets for one experiment
 * (--agent CMD): the rules, the files it reads and writes (literal paths),
 * the current best, the last evaluation, the recent results with the diffs
 * of the latest failed attempts, and the knob table. The protocol itself is
 * program.md; this file is the per-experiment brief. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"
#include "loop.h"

#define AL_RECENT 12       /* rows of results.tsv shown */
#define AL_FAILED_DIFFS 3  /* latest reverted attempts shown with their diff */
#define AL_DIFF_LINES 60   /* lines of each such diff */

/* The prompt under construction: a growing buffer (a full one truncates). */
typedef struct brief {
    char *buf;
    size_t used, cap;
} brief;

static void out(brief *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(brief *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->buf + b->used, b->cap - b->used, fmt, ap);
    va_end(ap);
    if (w > 0) b->used = (b->used + (size_t)w < b->cap) ? b->used + (size_t)w : b->cap - 1;
}

static void num(char *s, size_t cap, double v, const char *fmt) {
    if (v == AL_NA)
        snprintf(s, cap, "-");
    else
        snprintf(s, cap, fmt, v);
}

static void rules(brief *b, const al_agent_ctx *c) {
    out(b, "## Rules for this experiment\n\n"
           "- Make ONE optimisation change, then exit. Change only files under `engine/` and "
           "`pipeline.conf`. Anything else (harness/, loop/, include/, cli/, tests/, program.md, "
           "CMakeLists.txt, ...) gets the whole experiment rejected.\n"
           "- Do not commit, reset, or switch branches: the driver builds, commits, evaluates "
           "(interleaved A/B against the current best, quality gate against the baseline) and "
           "keeps or reverts your change.\n"
           "- Keep the build warning-free (-Wall -Wextra -Werror) and outputs correct: a change "
           "that breaks the quality gate (sanity, KL divergence vs the baseline) is reverted.\n"
           "- A change is kept only if it is faster beyond the noise threshold (%.1f%%), or "
           "equally fast with less code.\n",
        c->noise * 100.0);
    if (c->try_cmd)
        out(b, "- You may also judge changes yourself during this turn: after a change, "
               "`%s -m \"what you changed and why\"` runs the driver's own experiment step on it "
               "now (lock check, commit, build, A/B, gate, keep or revert, one row) and prints "
               "the verdict; exit status 0 kept, 3 reverted, 4 crashed, 5 rejected. Each try is "
               "an experiment of its own; what you leave uncommitted when you exit is one more, "
               "and a clean tree ends the turn with your tries. (try commits: in a sandbox that "
               "keeps .git read-only, as Codex's workspace-write does, it fails; then just "
               "exit and leave the change to the driver.)\n",
            c->try_cmd);
    out(b, "\n");
    out(b, "## Files\n\n"
           "- `%s`: write ONE line there saying what you changed and why (it becomes the commit "
           "message and the results row).\n"
           "- `%s`: your notes, kept across experiments and outside the lock. Read them first; "
           "append what you learned (what was tried, why it won or lost, what to try next).\n"
           "- `%s`: every experiment's row; `%s/<k>.json`: each evaluation's full figures; "
           "`%s/<k>.patch`: each experiment's diff against the best of its time.\n\n",
        c->message_path, c->notes_path, c->results_path, c->evals_dir, c->diffs_dir);
}

/* The newest evaluation before this experiment (the baseline's at first). */
static void last_eval(brief *b, const al_agent_ctx *c, const al_row *rows, int n) {
    for (int i = n - 1; i >= 0; i--) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%d.json", c->evals_dir, rows[i].exp);
        al_eval e;
        ai_error ignore;
        if (al_eval_parse(path, &e, &ignore)) continue;
        out(b, "## The last evaluation (experiment %d, %s)\n\n", rows[i].exp, rows[i].status);
        if (e.verdict[0])
            out(b, "- A/B: decode ratio %.3f [%.3f, %.3f] (p %.3g), verdict \"%s\"; best %.2f, "
                   "candidate %.2f tok/s\n",
                e.ratio, e.ratio_lo, e.ratio_hi, e.p, e.verdict, e.a_decode.median, e.decode.median);
        else
            out(b, "- decode %.2f tok/s [%.2f, %.2f], prefill %.1f tok/s\n", e.decode.median,
                e.decode.lo, e.decode.hi, e.prefill.median);
        out(b, "- quality gate: %s (KL mean %.2g, p99 %.2g, top-1 agreement %.3f, sanity %.2f)%s%s\n",
            e.quality_pass ? "pass" : "FAIL", e.kl_mean, e.kl_p99, e.top1, e.sanity,
            e.failures[0] ? ": " : "", e.failures);
        if (e.roofline > 0 && e.decode.median > 0)
            out(b, "- memory-bandwidth roofline %.1f tok/s: the candidate reached %.0f %% of it\n",
                e.roofline, 100.0 * e.decode.median / e.roofline);
        if (e.why[0]) out(b, "- %s\n", e.why);
        out(b, "\n");
        return;
    }
}

static void results_table(brief *b, const al_row *rows, int n) {
    out(b, "## Recent results (results.tsv)\n\n| # | decode tok/s | ratio vs best | KL | "
           "sanity | status | experiment | reason |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = n > AL_RECENT ? n - AL_RECENT : 0; i < n; i++) {
        const al_row *r = &rows[i];
        char d[32], ra[32], kl[32], sa[32];
        num(d, sizeof d, r->decode, "%.2f");
        num(ra, sizeof ra, r->ratio, "%.3f");
        num(kl, sizeof kl, r->kl, "%.4f");
        num(sa, sizeof sa, r->sanity, "%.2f");
        out(b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", r->exp, d, ra, kl, sa, r->status,
            r->description, r->reason);
    }
    out(b, "\nDo not repeat an experiment that was already reverted unless you change "
           "something about it.\n\n");
}

/* The diffs of the latest attempts that were not kept, with their reasons. */
static void failed_attempts(brief *b, const al_agent_ctx *c, const al_row *rows, int n) {
    int shown = 0;
    for (int i = n - 1; i >= 0 && shown < AL_FAILED_DIFFS; i--) {
        const al_row *r = &rows[i];
        if (!strcmp(r->status, "keep") || !strcmp(r->status, "baseline")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%d.patch", c->diffs_dir, r->exp);
        char *diff = al_read_file(path, NULL);
        if (!diff) continue;
        if (!shown) out(b, "## The latest attempts that were not kept\n\n");
        out(b, "### Experiment %d (%s): %s\n\nReason: %s\n\n```diff\n", r->exp, r->status,
            r->description, r->reason);
        int lines = 0;
        const char *p = diff;
        for (; *p && lines < AL_DIFF_LINES; lines++) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
            out(b, "%.*s", (int)len, p);
            p += len;
        }
        if (*p) out(b, "... (%s has the rest)\n", path);
        out(b, "```\n\n");
        free(diff);
        shown++;
    }
}

static void knob_table(brief *b) {
    int nk = 0;
    const ai_knob_info *k = ai_knobs(&nk);
    out(b, "## The knobs of pipeline.conf\n\n| knob | domain | default | what it does | tradeoff |\n"
           "|---|---|---|---|---|\n");
    for (int i = 0; i < nk; i++)
        out(b, "| %s | %s | %s | %s | %s |\n", k[i].name, k[i].domain, k[i].default_value, k[i].help,
            k[i].tradeoff);
    out(b, "\n");
}

int al_agent_write_prompt(const al_agent_ctx *c, const char *path, ai_error *err) {
    brief b = {malloc(1 << 17), 0, 1 << 17};
    if (!b.buf) return ai_error_set(err, "out of memory");
    out(&b, "# autoinfer experiment %d", c->exp);
    if (c->budget > 0) out(&b, " of %d", c->budget);
    out(&b, "\n\nYou are optimising the decode speed (tokens/s) of the autoinfer C inference "
            "engine in %s on the model %s. Read program.md in the repository for the protocol "
            "and the ideas list.\n\n",
        c->repo, c->model);
    rules(&b, c);
    char best[32], base[32];
    num(best, sizeof best, c->best_decode, "%.2f");
    num(base, sizeof base, c->base_decode, "%.2f");
    out(&b, "## Current best\n\ncommit %s: decode %s tok/s (baseline %s tok/s)", c->best_commit, best,
        base);
    if (c->best_decode != AL_NA && c->base_decode != AL_NA && c->base_decode > 0)
        out(&b, ", %+.1f%% over the baseline", (c->best_decode / c->base_decode - 1.0) * 100.0);
    out(&b, ".\n\n");

    al_row *rows = NULL;
    int n = 0;
    ai_error ignore;
    if (al_results_read(c->results_path, &rows, &n, 0, &ignore) == 0 && n > 0) {
        last_eval(&b, c, rows, n);
        results_table(&b, rows, n);
        failed_attempts(&b, c, rows, n);
    }
    free(rows);
    knob_table(&b);
    int rc = al_write_atomic(path, b.buf, b.used, err);
    free(b.buf);
    return rc;
}

/* Agent tools keep state files in the repository's root (aider: its tag
 * cache .aider.tags.cache.v*, whatever history files its flags do not move
 * elsewhere). They are not proposals: listing them in the repository's
 * info/exclude (never in a tracked .gitignore) keeps them out of the lock
 * check and out of every commit. */
int al_agent_tool_state(const char *path) {
    const char *slash = strchr(path, '/');
    return !strncmp(path, ".aider", 6) && (!slash || !slash[1]);
}

int al_agent_exclude_tool_state(const al_git *g, ai_error *err) {
    static const char line[] = "/.aider*";
    char path[1200];
    if (al_git_run(g, path, sizeof path, err, "rev-parse", "--path-format=absolute", "--git-path",
                   "info/exclude", NULL))
        return -1;
    path[strcspn(path, "\n")] = 0;
    char *text = al_read_file(path, NULL);
    int present = 0;
    for (const char *p = text; p && *p && !present;) {
        size_t len = strcspn(p, "\n");
        present = len == sizeof line - 1 && !memcmp(p, line, len);
        p += len + (p[len] == '\n');
    }
    int rc = 0;
    if (!present) {
        size_t n = text ? strlen(text) : 0;
        char *next = malloc(n + sizeof line + 2);
        if (!next) {
            free(text);
            return ai_error_set(err, "out of memory");
        }
        int w = snprintf(next, n + sizeof line + 2, "%s%s%s\n", text ? text : "",
                         n && text[n - 1] != '\n' ? "\n" : "", line);
        char dir[1200];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        rc = al_mkdirs(dir, err) || al_write_atomic(path, next, (size_t)w, err) ? -1 : 0;
        free(next);
    }
    free(text);
    return rc;
}
