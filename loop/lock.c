/* lock.c — the lock: during a run only engine/ and pipeline.conf may
 * differ from the run's baseline commit. Checked mechanically on the
 * working tree before anything is committed or evaluated. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loop.h"

int al_lock_allowed(const char *path) {
    if (!strcmp(path, "pipeline.conf")) return 1;
    if (strncmp(path, "engine/", 7) != 0) return 0;
    /* No escaping through "..", no git-ignore files that could hide a
     * source file from the commit while CMake still compiles it. */
    if (strstr(path, "/../") || strstr(path, "/./")) return 0;
    const char *base = strrchr(path, '/') + 1;
    if (!strcmp(base, ".gitignore") || !strcmp(base, ".gitattributes")) return 0;
    return 1;
}

/* A symbolic link in the tree: writing through it would change whatever
 * it points at, locked or not, so none may be added or changed. */
static int is_symlink(const char *repo, const char *path) {
    char full[2200];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", repo, path);
    return lstat(full, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Adds each path of a NUL-separated list that is not allowed to bad. */
static int collect(const char *repo, const char *list, char *bad, size_t cap, size_t *used) {
    int n = 0;
    for (const char *p = list; *p; p += strlen(p) + 1) {
        int link = is_symlink(repo, p);
        if (al_lock_allowed(p) && !link) continue;
        /* Skip duplicates (a path can be listed by two queries). */
        char probe[1100];
        snprintf(probe, sizeof probe, ", %s,", p);
        char hay[8300];
        snprintf(hay, sizeof hay, ", %s,", bad);
        if (strstr(hay, probe)) continue;
        int w = snprintf(bad + *used, cap > *used ? cap - *used : 0, "%s%s%s",
                         *used ? ", " : "", p, link ? " (a symbolic link)" : "");
        if (w > 0 && *used + (size_t)w < cap) *used += (size_t)w;
        n++;
    }
    return n;
}

int al_lock_check(const al_git *g, const char *base, char *bad, size_t cap,
                  ai_error *err) {
    enum { BUF = 1 << 16 };
    char *buf = malloc(BUF);
    if (!buf) return ai_error_set(err, "out of memory");
    size_t used = 0;
    int n = 0;
    bad[0] = 0;
    /* Tracked paths (staged or not) that differ from the baseline commit,
     * renames split into delete + add so both sides are checked. */
    if (al_git_run(g, buf, BUF, err, "diff", "--name-only", "--no-renames", "-z", base,
                   "--", NULL)) {
        free(buf);
        return -1;
    }
    n += collect(g->repo, buf, bad, cap, &used);
    /* Untracked paths that are not ignored. */
    if (al_git_run(g, buf, BUF, err, "ls-files", "-z", "--others", "--exclude-standard",
                   NULL)) {
        free(buf);
        return -1;
    }
    n += collect(g->repo, buf, bad, cap, &used);
    free(buf);
    return n ? 1 : 0;
}

/* Is path (a line of al_ignored_list) on the start's list? */
static int on_list(const char *list, const char *path) {
    size_t n = strlen(path);
    for (const char *p = list; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && !memcmp(p, path, n)) return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* A path git ignores now that the candidate created: not on the start's
 * list, and not an agent tool's own state (al_agent_tool_state). */
static int created_ignored(const char *start, const char *path) {
    return !on_list(start, path) && !al_agent_tool_state(path);
}

int al_lock_new_ignored(const al_git *g, const char *start, char *bad, size_t cap,
                        ai_error *err) {
    char *now = al_ignored_list(g, err);
    if (!now) return -1;
    char *save = NULL;
    int n = 0;
    size_t used = 0;
    bad[0] = 0;
    for (char *p = strtok_r(now, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        if (!created_ignored(start, p)) continue;
        int w = snprintf(bad + used, cap > used ? cap - used : 0, "%s%s", used ? ", " : "", p);
        if (w > 0 && used + (size_t)w < cap) used += (size_t)w;
        n++;
    }
    free(now);
    return n;
}

int al_clean_new_ignored(const al_git *g, const char *start, ai_error *err) {
    char *now = al_ignored_list(g, err);
    if (!now) return -1;
    char *save = NULL;
    int rc = 0;
    for (char *p = strtok_r(now, "\n", &save); p && !rc; p = strtok_r(NULL, "\n", &save))
        if (created_ignored(start, p))
            rc = al_git_run(g, NULL, 0, err, "clean", "-q", "-f", "-f", "-d", "-x", "--", p, NULL)
                     ? -1 : 0;
    free(now);
    return rc;
}
