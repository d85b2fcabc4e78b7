/* report.c — `autoinfer report [BRANCH|TAG|DIR]`: the seed-style markdown
 * experiment log of a run and its chart (chart.svg), from results.tsv. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loop.h"

static void fmt_num(char *out, size_t cap, double v, const char *fmt) {
    if (v == AL_NA)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, fmt, v);
}

/* "|" would break a markdown table cell. */
static void cell(al_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            al_buf_printf(b, "\\|");
        else
            al_buf_printf(b, "%c", *s);
    }
}

static const char *decision_label(const char *status) {
    if (!strcmp(status, "baseline")) return "--";
    if (!strcmp(status, "keep")) return "KEEP";
    if (!strcmp(status, "revert")) return "REVERT";
    if (!strcmp(status, "crash")) return "CRASH";
    if (!strcmp(status, "reject")) return "REJECT";
    if (!strcmp(status, "interrupted")) return "INTERRUPTED";
    return status;
}

static void change(char *out, size_t cap, double a, double b, int pct) {
    if (a == AL_NA || b == AL_NA || a == 0)
        snprintf(out, cap, "-");
    else if (pct)
        snprintf(out, cap, "%+.1f%%", (b / a - 1.0) * 100.0);
    else
        snprintf(out, cap, "%+.3g", b - a);
}

char *al_report_markdown(const al_row *rows, int n, const char *title, const char *chart_name) {
    al_buf b = {0};
    al_buf_printf(&b, "# %s\n\n", title);
    if (n == 0) {
        al_buf_printf(&b, "No experiments yet.\n");
        return b.s;
    }
    const al_row *base = &rows[0], *best = &rows[0];
    int kept = 0, reverted = 0, crashed = 0, rejected = 0, interrupted = 0, exps = 0;
    for (int i = 0; i < n; i++) {
        const char *s = rows[i].status;
        if (!strcmp(s, "baseline")) continue;
        if (!strcmp(s, "interrupted")) {
            interrupted++;
            continue;
        }
        exps++;
        if (!strcmp(s, "keep")) {
            kept++;
            best = &rows[i];
        } else if (!strcmp(s, "crash"))
            crashed++;
        else if (!strcmp(s, "reject"))
            rejected++;
        else
            reverted++;
    }
    al_buf_printf(&b, "Experiments: %d total, %d kept, %d reverted", exps, kept, reverted);
    if (crashed) al_buf_printf(&b, ", %d crashed", crashed);
    if (rejected) al_buf_printf(&b, ", %d rejected by the lock", rejected);
    if (interrupted) al_buf_printf(&b, " (%d interrupted and retried)", interrupted);
    al_buf_printf(&b, ".\n\n");

    char a[32], o[32], c[32];
    al_buf_printf(&b, "| Metric | Baseline | Optimised | Change |\n|---|---:|---:|---:|\n");
#define METRIC(name, field, fmt, pct)                               \
    fmt_num(a, sizeof a, base->field, fmt);                         \
    fmt_num(o, sizeof o, best->field, fmt);                         \
    change(c, sizeof c, base->field, best->field, pct);             \
    al_buf_printf(&b, "| %s | %s | %s | %s |\n", name, a, o, c);
    METRIC("avg_generation_tps (decode tok/s)", decode, "%.2f", 1)
    METRIC("avg_prompt_tps (prefill tok/s)", prefill, "%.2f", 1)
    METRIC("avg_peak_memory_gb", mem_gb, "%.3f", 1)
    METRIC("avg_perplexity", ppl, "%.3f", 1)
    METRIC("sanity_check", sanity, "%.2f", 0)
#undef METRIC
    /* Absolute figures come from different sessions (machine load drifts);
     * the kept A/B ratios, each measured interleaved, chain into the
     * speed-up that the decisions actually saw. */
    double chain = 1.0;
    int chained = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].status, "keep") && rows[i].ratio != AL_NA) {
            chain *= rows[i].ratio;
            chained++;
        }
    al_buf_printf(&b, "| **decode speed-up** (kept A/B ratios chained) | 1 | %.3f× | %+.1f%% |\n", chain,
              (chain - 1.0) * 100.0);
    (void)chained;
    fmt_num(o, sizeof o, best->kl, "%.5f");
    al_buf_printf(&b, "| kl_mean vs baseline | 0 | %s | |\n", best == base ? "0" : o);
    al_buf_printf(&b, "| quality_pass | %s | %s | |\n\n",
              base->quality_pass == 1 ? "True" : base->quality_pass == 0 ? "False" : "-",
              best->quality_pass == 1 ? "True" : best->quality_pass == 0 ? "False" : "-");
    if (best != base)
        al_buf_printf(&b, "Best: experiment %d, commit `%s`.\n\n", best->exp, best->commit);
    if (chart_name) al_buf_printf(&b, "![decode tok/s per experiment](%s)\n\n", chart_name);

    al_buf_printf(&b, "## Experiment log\n\n| # | Experiment | decode tok/s | prefill tok/s | KL "
                  "| sanity | Decision | Tradeoff |\n|---:|---|---:|---:|---:|---:|---|---|\n");
    for (int i = 0; i < n; i++) {
        const al_row *r = &rows[i];
        char d[48], p[32], kl[32], sa[32];
        if (r->decode != AL_NA && r->decode_lo != AL_NA && r->decode_hi != AL_NA)
            snprintf(d, sizeof d, "%.2f [%.1f, %.1f]", r->decode, r->decode_lo, r->decode_hi);
        else
            fmt_num(d, sizeof d, r->decode, "%.2f");
        fmt_num(p, sizeof p, r->prefill, "%.1f");
        fmt_num(kl, sizeof kl, r->kl, "%.4f");
        fmt_num(sa, sizeof sa, r->sanity, "%.2f");
        al_buf_printf(&b, "| %d | ", r->exp);
        cell(&b, r->description[0] ? r->description : "-");
        al_buf_printf(&b, " | %s | %s | %s | %s | %s | ", d, p, kl, sa, decision_label(r->status));
        cell(&b, r->reason[0] ? r->reason : "");
        if (r->tradeoff[0] && strcmp(r->tradeoff, "-")) {
            al_buf_printf(&b, " — ");
            cell(&b, r->tradeoff);
        }
        al_buf_printf(&b, " |\n");
    }
    al_buf_printf(&b, "\nThe speed-up row multiplies the decode ratios of the kept experiments, each "
                  "measured interleaved against the best of its time; the absolute tok/s rows "
                  "come from different sessions and move with the machine's load.\n");
    al_buf_printf(&b, "\nDecode tok/s: the candidate's median over the interleaved A/B rounds "
                  "[95%% CI]. KL: mean KL divergence of the next-token distributions against "
                  "the baseline's. Kept only when the quality gate passes and the whole CI of "
                  "the speed ratio over the current best lies above the noise threshold.\n");
    return b.s;
}

static void read_meta(const char *run_dir, char *tag, size_t tcap, char *model, size_t mcap,
                      char *strategy, size_t scap) {
    char path[1200];
    snprintf(path, sizeof path, "%s/state.json", run_dir);
    al_state st;
    ai_error ignore;
    tag[0] = model[0] = strategy[0] = 0;
    if (al_state_load(path, &st, &ignore) == 0) {
        snprintf(tag, tcap, "%s", st.tag);
        const char *slash = strrchr(st.model, '/');
        snprintf(model, mcap, "%s", slash ? slash + 1 : st.model);
        snprintf(strategy, scap, "%s", st.strategy);
    } else {
        const char *slash = strrchr(run_dir, '/');
        snprintf(tag, tcap, "%s", slash ? slash + 1 : run_dir);
    }
}

int al_report_write(const char *run_dir, int print, ai_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/results.tsv", run_dir);
    al_row *rows;
    int n;
    if (al_results_read(path, &rows, &n, 0, err)) return -1;
    if (!al_exists(path)) return ai_error_set(err, "%s: no results.tsv", run_dir);
    char tag[64], model[256], strategy[32], title[512], chart_title[512];
    read_meta(run_dir, tag, sizeof tag, model, sizeof model, strategy, sizeof strategy);
    snprintf(title, sizeof title, "autoinfer run `%s`%s%s%s%s", tag, model[0] ? " — " : "", model,
             strategy[0] ? ", strategy " : "", strategy);
    snprintf(chart_title, sizeof chart_title, "autoinfer %s%s%s", tag, model[0] ? " — " : "", model);
    char *md = al_report_markdown(rows, n, title, "chart.svg");
    /* the final best-vs-baseline comparison (optimise writes final.md) is the
     * headline: right under the title */
    snprintf(path, sizeof path, "%s/final.md", run_dir);
    char *final = al_read_file(path, NULL);
    char *title_end = md ? strstr(md, "\n\n") : NULL;
    if (final && title_end) {
        al_buf b = {0};
        al_buf_printf(&b, "%.*s\n\n%s%s", (int)(title_end - md), md, final, title_end + 2);
        if (b.s) {
            free(md);
            md = b.s;
        }
    }
    free(final);
    char *svg = al_chart_svg(rows, n, chart_title);
    free(rows);
    int rc = 0;
    if (!md || !svg) {
        rc = ai_error_set(err, "out of memory");
    } else {
        snprintf(path, sizeof path, "%s/report.md", run_dir);
        rc = al_write_atomic(path, md, strlen(md), err);
        snprintf(path, sizeof path, "%s/chart.svg", run_dir);
        if (!rc) rc = al_write_atomic(path, svg, strlen(svg), err);
        if (!rc && print) fputs(md, stdout);
    }
    free(md);
    free(svg);
    return rc;
}

/* The run directory for BRANCH, TAG or DIR (or the current branch, or the
 * newest run) under top/.autoinfer. */
static int resolve_run(const char *top, const char *arg, char *out, size_t cap, ai_error *err) {
    char probe[2400];
    if (arg) {
        snprintf(probe, sizeof probe, "%s/results.tsv", arg);
        if (al_exists(probe)) {
            snprintf(out, cap, "%s", arg);
            return 0;
        }
        const char *tag = !strncmp(arg, "autoinfer/", 10) ? arg + 10 : arg;
        snprintf(probe, sizeof probe, "%s/.autoinfer/%s/results.tsv", top, tag);
        if (al_exists(probe)) {
            snprintf(out, cap, "%s/.autoinfer/%s", top, tag);
            return 0;
        }
        return ai_error_set(err, "no run '%s': neither a directory with results.tsv nor "
                                 "%s/.autoinfer/%s", arg, top, tag);
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/.autoinfer", top);
    DIR *d = opendir(dir);
    if (!d) return ai_error_set(err, "no runs in %s (start one with autoinfer optimise)", dir);
    struct dirent *e;
    double newest = -1;
    out[0] = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(probe, sizeof probe, "%s/%s/results.tsv", dir, e->d_name);
        struct stat st;
        if (stat(probe, &st)) continue;
        double t = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9;
        if (t > newest) {
            newest = t;
            snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (!out[0]) return ai_error_set(err, "no runs in %s (start one with autoinfer optimise)", dir);
    return 0;
}

int ai_cmd_report(int argc, char **argv) {
    const char *arg = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: autoinfer report [BRANCH|TAG|DIR] [--quiet]\n\n"
                   "Writes report.md (the experiment log) and chart.svg (decode tok/s per\n"
                   "experiment) into the run's directory and prints the markdown. Without an\n"
                   "argument: the run of the current autoinfer/<tag> branch, else the newest.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "autoinfer report: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (arg) {
            fprintf(stderr, "autoinfer report: more than one run named\n");
            return 2;
        } else {
            arg = argv[i];
        }
    }
    ai_error err = {{0}};
    char cwd[1024], top[1024] = ".", run_dir[1200];
    al_git g;
    if (getcwd(cwd, sizeof cwd) && al_git_init(&g, cwd, &err) == 0) {
        snprintf(top, sizeof top, "%s", g.repo);
        char common[1024];
        ai_error ignore;
        if (al_git_run(&g, common, sizeof common, &ignore, "rev-parse", "--path-format=absolute",
                       "--git-common-dir", NULL) == 0) {
            common[strcspn(common, "\n")] = 0;
            size_t cl = strlen(common);
            if (cl > 5 && !strcmp(common + cl - 5, "/.git")) {
                common[cl - 5] = 0;
                snprintf(top, sizeof top, "%s", common);
            }
        }
        char branch[200];
        if (!arg && al_git_branch(&g, branch, sizeof branch) == 0 &&
            !strncmp(branch, "autoinfer/", 10)) {
            char probe[1400];
            snprintf(probe, sizeof probe, "%s/.autoinfer/%s/results.tsv", top, branch + 10);
            if (al_exists(probe)) snprintf(run_dir, sizeof run_dir, "%s/.autoinfer/%s", top, branch + 10);
            else run_dir[0] = 0;
            if (run_dir[0]) goto have;
        }
    }
    if (resolve_run(top, arg, run_dir, sizeof run_dir, &err)) {
        fprintf(stderr, "autoinfer report: %s\n", err.msg);
        return 1;
    }
have:
    if (al_report_write(run_dir, !quiet, &err)) {
        fprintf(stderr, "autoinfer report: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "autoinfer report: wrote %s/report.md and %s/chart.svg\n", run_dir, run_dir);
    return 0;
}
