/* util.c — file helpers for the driver: atomic writes that survive a crash
 * (tmp + fsync + rename + fsync of the directory), copies, small readers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

int al_mkdirs(const char *path, ai_error *err) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ai_error_set(err, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return ai_error_set(err, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return ai_error_set(err, "mkdir %s: %s", buf, strerror(errno));
    return 0;
}

static void fsync_dir_of(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int write_all(int fd, const char *data, size_t n) {
    while (n) {
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_atomic_mode(const char *path, const char *data, size_t n,
                             mode_t mode, ai_error *err) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return ai_error_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    if (write_all(fd, data, n) || fsync(fd)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ai_error_set(err, "%s: write failed: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return ai_error_set(err, "rename %s -> %s: %s", tmp, path, strerror(e));
    }
    fsync_dir_of(path);
    return 0;
}

int al_write_atomic(const char *path, const char *data, size_t n, ai_error *err) {
    return write_atomic_mode(path, data, n, 0644, err);
}

char *al_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int al_copy_file(const char *src, const char *dst, ai_error *err) {
    size_t n;
    char *data = al_read_file(src, &n);
    if (!data) return ai_error_set(err, "%s: cannot read: %s", src, strerror(errno));
    struct stat st;
    mode_t mode = (stat(src, &st) == 0) ? (st.st_mode & 0777) : 0644;
    int rc = write_atomic_mode(dst, data, n, mode, err);
    free(data);
    return rc;
}

int al_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

double al_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void al_format_duration(double s, char *out, size_t cap) {
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

void al_sanitize(char *s) {
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

void al_file_grep_line(const char *path, const char *needle, char *out, size_t cap) {
    out[0] = 0;
    char *text = al_read_file(path, NULL);
    if (!text) return;
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s && (!needle || strstr(s, needle))) {
            snprintf(out, cap, "%s", s);
            if (needle) break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    al_sanitize(out);
}

void al_buf_printf(al_buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if (b->s && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)w + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
}
