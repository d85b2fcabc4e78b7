/* lock.c — the lock: during a run only engine/ and pipeline.conf may
 * differ from the run's baseline commit. Checked mechanically on the
 * working tree before anything is committed or evaluated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Adds each path of a NUL-separated list that is not allowed to bad. */
static int collect(const char *list, char *bad, size_t cap, size_t *used, int all) {
    int n = 0;
    for (const char *p = list; *p; p += strlen(p) + 1) {
        if (!all && al_lock_allowed(p)) continue;
        /* Skip duplicates (a path can be listed by two queries). */
        char probe[1100];
        snprintf(probe, sizeof probe, ", %s,", p);
        char hay[8300];
        snprintf(hay, sizeof hay, ", %s,", bad);
        if (strstr(hay, probe)) continue;
        int w = snprintf(bad + *used, cap > *used ? cap - *used : 0, "%s%s",
                         *used ? ", " : "", p);
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
    n += collect(buf, bad, cap, &used, 0);
    /* Untracked paths that are not ignored. */
    if (al_git_run(g, buf, BUF, err, "ls-files", "-z", "--others", "--exclude-standard",
                   NULL)) {
        free(buf);
        return -1;
    }
    n += collect(buf, bad, cap, &used, 0);
    /* Ignored paths under engine/ would be compiled but never committed. */
    if (al_git_run(g, buf, BUF, err, "ls-files", "-z", "--others", "--ignored",
                   "--exclude-standard", "--", "engine", NULL)) {
        free(buf);
        return -1;
    }
    n += collect(buf, bad, cap, &used, 1);
    free(buf);
    return n ? 1 : 0;
}
