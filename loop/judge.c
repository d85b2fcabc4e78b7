/* judge.c — the judge out of the candidate's reach (docs/loop.md, "The judge").
 *
 * Everything that judges a candidate — the harness binary, side A's binary
 * and pipeline.conf, the baseline's references, the harness's gate, prompts
 * and reference text, the build flags, the model — is copied when the run
 * starts into a directory of the driver's own, outside the working tree
 * (<git common dir>/autoinfer/<tag>/judge, named to no agent), read-only,
 * and its SHA-256 recorded in the manifest there. Evaluations read only
 * these copies. Before and after every evaluation each copy and its visible
 * twin (the run directory's bin/harness, best.conf, baseline/..., the tree's
 * harness/gate.conf, ...) are hashed again: a changed file is named, and
 * restored from whichever twin is intact. A process of the same user can
 * still write anywhere the driver can; the hashes make that visible. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "harness.h"
#include "sha256.h"

#define MANIFEST "MANIFEST"

static void priv_path(const al_judge *j, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", j->dir, name);
}

void al_judge_path(const al_judge *j, const char *name, char *out, size_t cap) {
    priv_path(j, name, out, cap);
}

static al_judge_file *find(al_judge *j, const char *name) {
    for (int i = 0; i < j->n; i++)
        if (!strcmp(j->f[i].name, name)) return &j->f[i];
    return NULL;
}

int al_judge_has(const al_judge *j, const char *name) {
    return find((al_judge *)j, name) != NULL;
}

/* Copies src to the private name (mode 0444, or 0555 for executables). */
static int put_private(al_judge *j, const char *name, const char *src, ai_error *err) {
    char dst[AL_JUDGE_PATH], dir[AL_JUDGE_PATH];
    priv_path(j, name, dst, sizeof dst);
    snprintf(dir, sizeof dir, "%s", dst);
    *strrchr(dir, '/') = 0;
    if (al_mkdirs(dir, err)) return -1;
    if (al_copy_file(src, dst, err)) return -1; /* tmp + rename: replaces a read-only copy */
    struct stat st;
    int exec = stat(src, &st) == 0 && (st.st_mode & 0111);
    chmod(dst, exec ? 0555 : 0444);
    return 0;
}

int al_judge_open(al_judge *j, const char *dir, ai_error *err) {
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    return al_mkdirs(dir, err);
}

int al_judge_add(al_judge *j, const char *name, const char *src, const char *pub,
                 const char *label, ai_error *err) {
    al_judge_file *f = find(j, name);
    if (!f) {
        if (j->n == AL_JUDGE_MAX) return ai_error_set(err, "judge: more than %d files", AL_JUDGE_MAX);
        f = &j->f[j->n++];
    }
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->pub, sizeof f->pub, "%s", pub ? pub : "");
    snprintf(f->label, sizeof f->label, "%s", label ? label : name);
    if (src && put_private(j, name, src, err)) return -1;
    char hashed[AL_JUDGE_PATH];
    if (src) priv_path(j, name, hashed, sizeof hashed);
    else snprintf(hashed, sizeof hashed, "%s", pub);
    f->copied = src != NULL;
    if (!f->copied) f->have_stat = stat(pub, &f->st) == 0;
    if (ah_sha256_file(hashed, 0, f->sha) != 0)
        return ai_error_set(err, "judge: cannot read %s: %s", hashed, strerror(errno));
    return 0;
}

void al_judge_drop(al_judge *j, const char *name) {
    al_judge_file *f = find(j, name);
    if (!f) return;
    char p[AL_JUDGE_PATH];
    priv_path(j, name, p, sizeof p);
    unlink(p);
    *f = j->f[--j->n];
}

/* Every regular file of dir, as prefix/<file>. */
static int add_dir(al_judge *j, const char *prefix, const char *dir, ai_error *err) {
    DIR *d = opendir(dir);
    if (!d) return ai_error_set(err, "%s: cannot open: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        char src[AL_JUDGE_PATH], name[64], label[160];
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || stat(src, &st) || !S_ISREG(st.st_mode)) continue;
        snprintf(name, sizeof name, "%s/%s", prefix, e->d_name);
        snprintf(label, sizeof label, "%s/%s", prefix, e->d_name);
        rc = al_judge_add(j, name, src, src, label, err);
    }
    closedir(d);
    return rc;
}

int al_judge_set_best(al_judge *j, const char *best_bin, const char *best_conf, ai_error *err) {
    if (al_judge_add(j, "best", best_bin, best_bin, "bin/best", err)) return -1;
    if (access(best_conf, F_OK) == 0) {
        if (al_judge_add(j, "best.conf", best_conf, best_conf, "best.conf", err)) return -1;
    } else {
        al_judge_drop(j, "best.conf");
    }
    return al_judge_save(j, err);
}

int al_judge_fill(al_judge *j, const al_judge_sources *s, ai_error *err) {
    if (al_judge_add(j, "harness", s->harness_bin, s->harness_bin, "bin/harness", err) ||
        al_judge_add(j, "model", NULL, s->model, "the model file", err))
        return -1;
    static const char *const data[] = {"gate.conf", "prompts.tsv", "reference.txt"};
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) {
        char src[AL_JUDGE_PATH], name[64], label[64];
        snprintf(src, sizeof src, "%s/harness/%s", s->repo, data[i]);
        snprintf(name, sizeof name, "data/%s", data[i]);
        snprintf(label, sizeof label, "harness/%s", data[i]);
        if (al_judge_add(j, name, src, src, label, err)) return -1;
    }
    if (access(s->baseline_dir, F_OK) == 0 && add_dir(j, "baseline", s->baseline_dir, err))
        return -1;
    char *flags = al_build_flags(s->build_dir);
    if (!flags) return ai_error_set(err, "%s: no configured build to take the flags from", s->build_dir);
    int rc = al_judge_add_text(j, "build.flags", flags, err);
    free(flags);
    char *ignored = al_ignored_list(s->git, err);
    if (rc || !ignored) {
        free(ignored);
        return -1;
    }
    rc = al_judge_add_text(j, "ignored.list", ignored, err);
    free(ignored);
    if (rc) return -1;
    return al_judge_set_best(j, s->best_bin, s->best_conf, err);
}

int al_judge_add_baseline(al_judge *j, const char *baseline_dir, ai_error *err) {
    return add_dir(j, "baseline", baseline_dir, err) || al_judge_save(j, err) ? -1 : 0;
}

int al_judge_add_text(al_judge *j, const char *name, const char *text, ai_error *err) {
    char tmp[AL_JUDGE_PATH];
    priv_path(j, name, tmp, sizeof tmp);
    strcat(tmp, ".new");
    if (al_write_atomic(tmp, text, strlen(text), err)) return -1;
    int rc = al_judge_add(j, name, tmp, NULL, name, err);
    unlink(tmp);
    return rc;
}

char *al_judge_read(const al_judge *j, const char *name) {
    char p[AL_JUDGE_PATH];
    priv_path(j, name, p, sizeof p);
    return al_read_file(p, NULL);
}

int al_judge_save(const al_judge *j, ai_error *err) {
    al_buf b = {0};
    for (int i = 0; i < j->n; i++)
        al_buf_printf(&b, "%s\t%d\t%s\t%s\t%s\n", j->f[i].sha, j->f[i].copied, j->f[i].name,
                      j->f[i].label, j->f[i].pub);
    char p[AL_JUDGE_PATH];
    priv_path(j, MANIFEST, p, sizeof p);
    int rc = b.s ? al_write_atomic(p, b.s, b.n, err) : ai_error_set(err, "out of memory");
    free(b.s);
    return rc;
}

int al_judge_load(al_judge *j, const char *dir, ai_error *err) {
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    char p[AL_JUDGE_PATH];
    priv_path(j, MANIFEST, p, sizeof p);
    char *text = al_read_file(p, NULL);
    if (!text) return ai_error_set(err, "%s: the judge's manifest is missing", p);
    char *save = NULL;
    int rc = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *field[5];
        int nf = 0;
        for (char *s = line; nf < 5; nf++) {
            field[nf] = s;
            char *tab = strchr(s, '\t');
            if (!tab) {
                nf++;
                break;
            }
            *tab = 0;
            s = tab + 1;
        }
        if (nf != 5 || strlen(field[0]) != 64 || j->n == AL_JUDGE_MAX) {
            rc = ai_error_set(err, "%s: bad manifest line '%s'", p, line);
            break;
        }
        al_judge_file *f = &j->f[j->n++];
        snprintf(f->sha, sizeof f->sha, "%s", field[0]);
        f->copied = atoi(field[1]);
        snprintf(f->name, sizeof f->name, "%s", field[2]);
        snprintf(f->label, sizeof f->label, "%s", field[3]);
        snprintf(f->pub, sizeof f->pub, "%s", field[4]);
    }
    free(text);
    return rc;
}

/* 1 when path hashes to sha, 0 when it differs or is gone. */
static int intact(const char *path, const char *sha) {
    char h[65];
    return ah_sha256_file(path, 0, h) == 0 && !strcmp(h, sha);
}

static void note(char *changed, size_t cap, const char *what) {
    size_t used = strlen(changed);
    snprintf(changed + used, cap > used ? cap - used : 0, "%s%s", used ? ", " : "", what);
}

int al_judge_verify(al_judge *j, char *changed, size_t cap, ai_error *err) {
    int n = 0;
    changed[0] = 0;
    for (int i = 0; i < j->n; i++) {
        al_judge_file *f = &j->f[i];
        char priv[AL_JUDGE_PATH];
        priv_path(j, f->name, priv, sizeof priv);
        int priv_ok = f->copied ? intact(priv, f->sha) : -1;
        int pub_ok = -1;
        if (f->pub[0]) {
            /* a file only hashed (the model: large) is hashed again only
             * when its inode, size or times moved; the kernel sets ctime */
            struct stat st;
            int same = !f->copied && f->have_stat && stat(f->pub, &st) == 0 &&
                       !memcmp(&st.st_ino, &f->st.st_ino, sizeof st.st_ino) &&
                       st.st_size == f->st.st_size &&
                       st.st_mtim.tv_sec == f->st.st_mtim.tv_sec &&
                       st.st_mtim.tv_nsec == f->st.st_mtim.tv_nsec &&
                       st.st_ctim.tv_sec == f->st.st_ctim.tv_sec &&
                       st.st_ctim.tv_nsec == f->st.st_ctim.tv_nsec;
            pub_ok = same || intact(f->pub, f->sha);
            if (pub_ok && !f->copied) f->have_stat = stat(f->pub, &f->st) == 0;
        }
        if (priv_ok == 0) {
            if (pub_ok != 1)
                return ai_error_set(err, "judge: %s changed and no intact copy is left (%s)",
                                    f->label, priv);
            if (put_private(j, f->name, f->pub, err)) return -1;
            note(changed, cap, f->label);
            n++;
        } else if (pub_ok == 0) {
            if (priv_ok != 1)
                return ai_error_set(err, "judge: %s changed and the run cannot continue without "
                                    "it (%s)", f->label, f->pub);
            char parent[AL_JUDGE_PATH];
            snprintf(parent, sizeof parent, "%s", f->pub);
            *strrchr(parent, '/') = 0;
            if (al_mkdirs(parent, err) || al_copy_file(priv, f->pub, err)) return -1;
            note(changed, cap, f->label);
            n++;
        }
    }
    return n;
}

/* ---- build flags --------------------------------------------------------- */

/* link.txt without its object files (*.o): a legal new engine file adds
 * one to its library's archive line, and that is no change of flags. */
static void append_link_line(al_buf *b, char *text) {
    char *save = NULL;
    for (char *tok = strtok_r(text, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        size_t n = strlen(tok);
        if (n > 2 && !strcmp(tok + n - 2, ".o")) continue;
        al_buf_printf(b, "%s ", tok);
    }
    al_buf_printf(b, "\n");
}

/* What decides how a build compiles: the cache's flag, compiler and option
 * entries, every generated flags.make and link.txt (less its objects). */
char *al_build_flags(const char *build_dir) {
    al_buf b = {0};
    char p[AL_JUDGE_PATH];
    snprintf(p, sizeof p, "%s/CMakeCache.txt", build_dir);
    char *cache = al_read_file(p, NULL);
    if (!cache) return NULL;
    char *save = NULL;
    for (char *line = strtok_r(cache, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '/') continue;
        if ((!strncmp(line, "CMAKE_", 6) &&
             (strstr(line, "FLAGS") || strstr(line, "COMPILER:") || strstr(line, "BUILD_TYPE") ||
              strstr(line, "LINKER"))) ||
            !strncmp(line, "AI_", 3))
            al_buf_printf(&b, "%s\n", line);
    }
    free(cache);
    const char *patterns[] = {"CMakeFiles/*.dir/flags.make", "CMakeFiles/*.dir/link.txt"};
    for (size_t k = 0; k < 2; k++) {
        glob_t g;
        snprintf(p, sizeof p, "%s/%s", build_dir, patterns[k]);
        if (glob(p, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *text = al_read_file(g.gl_pathv[i], NULL);
            al_buf_printf(&b, "== %s\n", g.gl_pathv[i] + strlen(build_dir) + 1);
            if (!text) al_buf_printf(&b, "(unreadable)\n");
            else if (k == 1) append_link_line(&b, text);
            else al_buf_printf(&b, "%s", text);
            free(text);
        }
        globfree(&g);
    }
    return b.s;
}

/* ---- files git ignores -------------------------------------------------- */

char *al_ignored_list(const al_git *g, ai_error *err) {
    enum { CAP = 1 << 20 };
    char *buf = malloc(CAP);
    if (!buf) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    if (al_git_run(g, buf, CAP, err, "ls-files", "-z", "--others", "--ignored",
                   "--exclude-standard", "--directory", NULL)) {
        free(buf);
        return NULL;
    }
    /* NUL-separated → one per line */
    for (char *p = buf; *p;) {
        size_t l = strlen(p);
        char *next = p + l + 1;
        p[l] = '\n';
        p = next;
    }
    return buf;
}
