/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_run(const char *cmd, char *out, size_t cap) {
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = 0;
    if (out && cap) {
        size_t r;
        char buf[4096];
        while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
            size_t take = (n + r < cap - 1) ? r : cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
        out[n] = 0;
    } else {
        char buf[4096];
        while (fread(buf, 1, sizeof buf, p) > 0) {}
    }
    int st = pclose(p);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int tu_runf(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return tu_run(cmd, out, cap);
}

void tu_write_temp(const void *data, size_t n, const char *suffix, char *path,
                   size_t cap) {
    snprintf(path, cap, "/tmp/autoinfer-test-XXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(path, suffix ? (int)strlen(suffix) : 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[sz] = 0;
        if (len) *len = (size_t)sz;
    }
    return buf;
}

void tu_temp_dir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/autoinfer-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}
