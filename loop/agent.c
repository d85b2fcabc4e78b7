/* agent.c — the prompt an external coding agent gets for one experiment
 * (--agent CMD): the rules, the current best, the recent results. The
 * protocol itself is program.md; this file is the per-experiment brief. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

#define AL_RECENT 12

static void num(char *out, size_t cap, double v, const char *fmt) {
    if (v == AL_NA)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, fmt, v);
}

int al_agent_write_prompt(const al_agent_ctx *c, const char *path, ai_error *err) {
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    if (!buf) return ai_error_set(err, "out of memory");
#define OUT(...)                                                                     \
    do {                                                                             \
        int w_ = snprintf(buf + used, cap - used, __VA_ARGS__);                      \
        if (w_ > 0) used = (used + (size_t)w_ < cap) ? used + (size_t)w_ : cap - 1; \
    } while (0)
    OUT("# autoinfer experiment %d", c->exp);
    if (c->budget > 0) OUT(" of %d", c->budget);
    OUT("\n\nYou are optimising the decode speed (tokens/s) of the autoinfer C inference "
        "engine in %s on the model %s. Read program.md in the repository for the protocol "
        "and the ideas list.\n\n",
        c->repo, c->model);
    OUT("## Rules for this experiment\n\n"
        "- Make ONE optimisation change, then exit. Change only files under `engine/` and "
        "`pipeline.conf`. Anything else (harness/, loop/, include/, cli/, tests/, program.md, "
        "CMakeLists.txt, ...) gets the whole experiment rejected.\n"
        "- Do not commit, reset, or switch branches: the driver builds, commits, evaluates "
        "(interleaved A/B against the current best, quality gate against the baseline) and "
        "keeps or reverts your change.\n"
        "- Write one line saying what you changed and why to the file named by "
        "$AUTOINFER_MESSAGE (it becomes the commit message and the results row).\n"
        "- Keep the build warning-free (-Wall -Wextra -Werror) and outputs correct: a change "
        "that breaks the quality gate (sanity, KL divergence vs the baseline) is reverted.\n"
        "- A change is kept only if it is faster beyond the noise threshold (%.1f%%), or "
        "equally fast with less code.\n\n",
        c->noise * 100.0);
    char best[32], base[32];
    num(best, sizeof best, c->best_decode, "%.2f");
    num(base, sizeof base, c->base_decode, "%.2f");
    OUT("## Current best\n\ncommit %s: decode %s tok/s (baseline %s tok/s)", c->best_commit,
        best, base);
    if (c->best_decode != AL_NA && c->base_decode != AL_NA && c->base_decode > 0)
        OUT(", %+.1f%% over the baseline", (c->best_decode / c->base_decode - 1.0) * 100.0);
    OUT(".\n\n");

    al_row *rows = NULL;
    int n = 0;
    ai_error ignore;
    if (al_results_read(c->results_path, &rows, &n, 0, &ignore) == 0 && n > 0) {
        OUT("## Recent results (results.tsv)\n\n| # | decode tok/s | ratio vs best | KL | "
            "sanity | status | experiment | reason |\n|---|---|---|---|---|---|---|---|\n");
        for (int i = n > AL_RECENT ? n - AL_RECENT : 0; i < n; i++) {
            const al_row *r = &rows[i];
            char d[32], ra[32], kl[32], sa[32];
            num(d, sizeof d, r->decode, "%.2f");
            num(ra, sizeof ra, r->ratio, "%.3f");
            num(kl, sizeof kl, r->kl, "%.4f");
            num(sa, sizeof sa, r->sanity, "%.2f");
            OUT("| %d | %s | %s | %s | %s | %s | %s | %s |\n", r->exp, d, ra, kl, sa, r->status,
                r->description, r->reason);
        }
        OUT("\nDo not repeat an experiment that was already reverted unless you change "
            "something about it.\n");
    }
    free(rows);
#undef OUT
    int rc = al_write_atomic(path, buf, used, err);
    free(buf);
    return rc;
}
