/* git.c — the repository through the git CLI, always as an argv (no shell),
 * always `git -C <repo>`, with output captured. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

#define AL_GIT_MAX_ARGS 32

int al_git_run(const al_git *g, char *out, size_t cap, ai_error *err, ...) {
    const char *argv[AL_GIT_MAX_ARGS + 12];
    int n = 0;
    argv[n++] = "git";
    argv[n++] = "-C";
    argv[n++] = g->repo;
    argv[n++] = "-c";
    argv[n++] = "core.quotepath=off";
    /* no gc or maintenance left running in the background: the driver
     * kills what outlives a step (al_proc_reap_orphans), and a gc killed
     * midway could leave a lock behind */
    argv[n++] = "-c";
    argv[n++] = "gc.autoDetach=false";
    argv[n++] = "-c";
    argv[n++] = "maintenance.autoDetach=false";
    if (g->need_identity) {
        argv[n++] = "-c";
        argv[n++] = "user.name=autoinfer";
        argv[n++] = "-c";
        argv[n++] = "user.email=autoinfer@localhost";
    }
    int cmd = n; /* the git command's name, for messages */
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        if (n >= AL_GIT_MAX_ARGS + 11) {
            va_end(ap);
            return ai_error_set(err, "git: too many arguments");
        }
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;

    char errbuf[2048];
    char dummy[4096];
    const char *env[] = {"GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "LC_ALL=C", NULL};
    al_proc_opts o = {0};
    o.out = out ? out : dummy;
    o.out_cap = out ? cap : sizeof dummy;
    o.errbuf = errbuf;
    o.err_cap = sizeof errbuf;
    o.env = env;
    o.timeout_s = 600;
    al_proc_result r;
    if (al_proc_run(argv, &o, &r, err)) return -1;
    if (!r.exited) return ai_error_set(err, "git %s: ended abnormally", argv[cmd]);
    if (r.code != 0) {
        char *nl = strchr(errbuf, '\n');
        if (nl) *nl = 0;
        ai_error_set(err, "git %s failed: %s", argv[cmd],
                     errbuf[0] ? errbuf : "(no message)");
    }
    return r.code;
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = 0;
}

int al_git_init(al_git *g, const char *dir, ai_error *err) {
    memset(g, 0, sizeof *g);
    snprintf(g->repo, sizeof g->repo, "%s", dir);
    char top[1024];
    if (al_git_run(g, top, sizeof top, err, "rev-parse", "--show-toplevel", NULL))
        return ai_error_set(err, "%s is not inside a git repository", dir);
    chomp(top);
    snprintf(g->repo, sizeof g->repo, "%s", top);
    char who[256];
    ai_error ignore;
    g->need_identity = al_git_run(g, who, sizeof who, &ignore, "config", "user.email", NULL) != 0;
    return 0;
}

int al_git_head(const al_git *g, char *sha, size_t cap, ai_error *err) {
    char out[128];
    if (al_git_run(g, out, sizeof out, err, "rev-parse", "--verify", "HEAD", NULL)) return -1;
    chomp(out);
    snprintf(sha, cap, "%s", out);
    return 0;
}

int al_git_branch(const al_git *g, char *name, size_t cap) {
    char out[512];
    ai_error ignore;
    name[0] = 0;
    if (al_git_run(g, out, sizeof out, &ignore, "symbolic-ref", "-q", "--short", "HEAD", NULL))
        return -1;
    chomp(out);
    snprintf(name, cap, "%s", out);
    return 0;
}

int al_git_dirty(const al_git *g, char *out, size_t cap, ai_error *err) {
    char buf[16384];
    if (al_git_run(g, buf, sizeof buf, err, "status", "--porcelain=v1", "-z",
                   "--untracked-files=all", NULL))
        return -1;
    int n = 0;
    size_t used = 0;
    out[0] = 0;
    /* Entries: "XY path\0" (renames add "orig\0"). */
    for (char *p = buf; *p; p += strlen(p) + 1) {
        int rename = (p[0] == 'R' || p[0] == 'C');
        int w = snprintf(out + used, cap > used ? cap - used : 0, "  %s\n", p);
        if (w > 0 && used + (size_t)w < cap) used += (size_t)w;
        n++;
        if (rename) p += strlen(p) + 1;
        if (!*p) break;
    }
    return n;
}

int al_git_reset_hard(const al_git *g, const char *commit, const char *ignored_at_start,
                      ai_error *err) {
    if (al_git_run(g, NULL, 0, err, "reset", "-q", "--hard", commit, NULL)) return -1;
    /* Untracked files appeared during the experiment: the run started from
     * a clean tree, so they belong to the candidate; so do ignored paths
     * that were not there at the start. */
    if (al_git_run(g, NULL, 0, err, "clean", "-q", "-f", "-f", "-d", NULL)) return -1;
    if (ignored_at_start && al_clean_new_ignored(g, ignored_at_start, err)) return -1;
    return 0;
}

/* Is a git process working in dir (its cwd, as `git -C dir` sets it)? */
static pid_t git_running_in(const char *dir) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char p[300], comm[64] = "", cwd[1100];
        snprintf(p, sizeof p, "/proc/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "git", 3) != 0) continue;
        snprintf(p, sizeof p, "/proc/%s/cwd", e->d_name);
        ssize_t n = readlink(p, cwd, sizeof cwd - 1);
        if (n <= 0) continue;
        cwd[n] = 0;
        if (!strcmp(cwd, dir)) found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

int al_git_clear_stale_lock(const al_git *g, ai_error *err) {
    char gitdir[1100];
    if (al_git_run(g, gitdir, sizeof gitdir, err, "rev-parse", "--path-format=absolute",
                   "--git-dir", NULL))
        return -1;
    chomp(gitdir);
    char lock[1200];
    snprintf(lock, sizeof lock, "%s/index.lock", gitdir);
    if (access(lock, F_OK) != 0) return 0;
    pid_t pid = git_running_in(g->repo);
    if (pid)
        return ai_error_set(err, "%s exists and git (pid %d) is still working in %s", lock,
                            (int)pid, g->repo);
    if (unlink(lock) != 0)
        return ai_error_set(err, "%s: cannot remove the stale lock: %s", lock, strerror(errno));
    return 1;
}

int al_git_commit_all(const al_git *g, const char *message, char *sha,
                      size_t cap, ai_error *err) {
    if (al_git_run(g, NULL, 0, err, "add", "-A", NULL)) return -1;
    if (al_git_run(g, NULL, 0, err, "commit", "-q", "--no-verify", "--allow-empty",
                   "-m", message, NULL))
        return -1;
    return al_git_head(g, sha, cap, err);
}

int al_git_engine_numstat(const al_git *g, const char *from, const char *to,
                          int *added, int *removed, ai_error *err) {
    char buf[16384];
    *added = *removed = 0;
    if (al_git_run(g, buf, sizeof buf, err, "diff", "--numstat", "--no-renames", from, to,
                   "--", "engine", NULL))
        return -1;
    for (char *line = buf; line && *line;) {
        int a = 0, r = 0;
        if (sscanf(line, "%d\t%d", &a, &r) == 2) {
            *added += a;
            *removed += r;
        }
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}
