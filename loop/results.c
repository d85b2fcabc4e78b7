/* results.c — results.tsv: one row per experiment, appended with a single
 * write and fsync'd before the driver does anything else (git reset,
 * state update). The seed's columns first, then the evidence. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

static const char HEADER[] =
    "exp\tcommit\tavg_generation_tps\tdecode_ci_lo\tdecode_ci_hi\tavg_prompt_tps\t"
    "avg_peak_memory_gb\tavg_perplexity\tsanity_check\tquality_pass\tkl_mean\ttop1_agree\t"
    "decode_ratio\tratio_ci_lo\tratio_ci_hi\tp_value\tstatus\tdescription\treason\t"
    "tradeoff\ttime\tbest_tps_same_session";
#define N_COLS 22 /* rows of 21 (before best_tps_same_session) are read too */

const char *al_results_header(void) { return HEADER; }

void al_row_init(al_row *r, int exp) {
    memset(r, 0, sizeof *r);
    r->exp = exp;
    snprintf(r->commit, sizeof r->commit, "-");
    r->decode = r->decode_lo = r->decode_hi = r->prefill = r->mem_gb = r->ppl = AL_NA;
    r->sanity = r->kl = r->top1 = r->ratio = r->ratio_lo = r->ratio_hi = r->p = AL_NA;
    r->best_same = AL_NA;
    r->quality_pass = -1;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(r->time, sizeof r->time, "%Y-%m-%dT%H:%M:%S", &tm);
}

static void put_num(char *out, size_t cap, double v, const char *fmt) {
    if (v == AL_NA || !isfinite(v))
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, fmt, v);
}

static int format_row(const al_row *r, char *out, size_t cap) {
    char f[14][32];
    put_num(f[0], 32, r->decode, "%.2f");
    put_num(f[1], 32, r->decode_lo, "%.2f");
    put_num(f[2], 32, r->decode_hi, "%.2f");
    put_num(f[3], 32, r->prefill, "%.2f");
    put_num(f[4], 32, r->mem_gb, "%.3f");
    put_num(f[5], 32, r->ppl, "%.3f");
    put_num(f[6], 32, r->sanity, "%.2f");
    put_num(f[7], 32, r->kl, "%.5f");
    put_num(f[8], 32, r->top1, "%.4f");
    put_num(f[9], 32, r->ratio, "%.4f");
    put_num(f[10], 32, r->ratio_lo, "%.4f");
    put_num(f[11], 32, r->ratio_hi, "%.4f");
    put_num(f[12], 32, r->p, "%.4f");
    put_num(f[13], 32, r->best_same, "%.2f");
    char desc[256], reason[256], trade[512];
    snprintf(desc, sizeof desc, "%s", r->description[0] ? r->description : "-");
    snprintf(reason, sizeof reason, "%s", r->reason[0] ? r->reason : "-");
    snprintf(trade, sizeof trade, "%s", r->tradeoff[0] ? r->tradeoff : "-");
    al_sanitize(desc);
    al_sanitize(reason);
    al_sanitize(trade);
    const char *qp = r->quality_pass < 0 ? "-" : r->quality_pass ? "True" : "False";
    return snprintf(out, cap,
                    "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                    r->exp, r->commit[0] ? r->commit : "-", f[0], f[1], f[2], f[3], f[4], f[5],
                    f[6], qp, f[7], f[8], f[9], f[10], f[11], f[12], r->status, desc, reason,
                    trade, r->time, f[13]);
}

int al_results_append(const char *path, const al_row *r, ai_error *err) {
    char line[2048 + 512];
    int n = format_row(r, line, sizeof line);
    if (n < 0 || (size_t)n >= sizeof line) return ai_error_set(err, "results row too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    char buf[sizeof line + sizeof HEADER + 1];
    size_t len = 0;
    if (fstat(fd, &st) == 0 && st.st_size == 0) {
        memcpy(buf, HEADER, sizeof HEADER - 1);
        buf[sizeof HEADER - 1] = '\n';
        len = sizeof HEADER;
    }
    memcpy(buf + len, line, (size_t)n);
    len += (size_t)n;
    /* One write: the row is either all there or (power loss) a torn tail
     * that al_results_read repairs. */
    ssize_t w = write(fd, buf, len);
    if (w != (ssize_t)len || fsync(fd)) {
        int e = errno;
        close(fd);
        return ai_error_set(err, "%s: cannot append row: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

static double get_num(const char *s) {
    if (!strcmp(s, "-") || !*s) return AL_NA;
    return strtod(s, NULL);
}

static int parse_row(char *line, al_row *r) {
    char *col[N_COLS];
    int n = 0;
    char *p = line;
    while (n < N_COLS) {
        col[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
    }
    if (n != N_COLS && n != N_COLS - 1) return -1;
    al_row_init(r, atoi(col[0]));
    snprintf(r->commit, sizeof r->commit, "%s", col[1]);
    r->decode = get_num(col[2]);
    r->decode_lo = get_num(col[3]);
    r->decode_hi = get_num(col[4]);
    r->prefill = get_num(col[5]);
    r->mem_gb = get_num(col[6]);
    r->ppl = get_num(col[7]);
    r->sanity = get_num(col[8]);
    r->quality_pass = !strcmp(col[9], "True") ? 1 : !strcmp(col[9], "False") ? 0 : -1;
    r->kl = get_num(col[10]);
    r->top1 = get_num(col[11]);
    r->ratio = get_num(col[12]);
    r->ratio_lo = get_num(col[13]);
    r->ratio_hi = get_num(col[14]);
    r->p = get_num(col[15]);
    snprintf(r->status, sizeof r->status, "%s", col[16]);
    snprintf(r->description, sizeof r->description, "%s", strcmp(col[17], "-") ? col[17] : "");
    snprintf(r->reason, sizeof r->reason, "%s", strcmp(col[18], "-") ? col[18] : "");
    snprintf(r->tradeoff, sizeof r->tradeoff, "%s", strcmp(col[19], "-") ? col[19] : "");
    snprintf(r->time, sizeof r->time, "%s", col[20]);
    r->best_same = n == N_COLS ? get_num(col[21]) : AL_NA;
    return 0;
}

int al_results_read(const char *path, al_row **rows, int *n, int repair,
                    ai_error *err) {
    *rows = NULL;
    *n = 0;
    size_t len;
    char *text = al_read_file(path, &len);
    if (!text) {
        if (errno == ENOENT) return 0;
        return ai_error_set(err, "%s: cannot read: %s", path, strerror(errno));
    }
    if (len && text[len - 1] != '\n') {
        char *last = strrchr(text, '\n');
        size_t keep = last ? (size_t)(last - text) + 1 : 0;
        if (repair && truncate(path, (off_t)keep) != 0) {
            free(text);
            return ai_error_set(err, "%s: cannot drop a torn last line: %s", path,
                                strerror(errno));
        }
        text[keep] = 0;
    }
    int cap = 16, count = 0, lineno = 0;
    al_row *out = malloc(sizeof *out * (size_t)cap);
    for (char *line = text; out && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        if (lineno == 1 && !strncmp(line, "exp\t", 4)) {
            line = nl ? nl + 1 : NULL;
            continue;
        }
        if (count == cap) {
            cap *= 2;
            al_row *grown = realloc(out, sizeof *out * (size_t)cap);
            if (!grown) break;
            out = grown;
        }
        if (parse_row(line, &out[count])) {
            free(out);
            free(text);
            return ai_error_set(err, "%s:%d: expected %d tab-separated columns", path,
                                lineno, N_COLS);
        }
        count++;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (!out) return ai_error_set(err, "out of memory");
    *rows = out;
    *n = count;
    return 0;
}
