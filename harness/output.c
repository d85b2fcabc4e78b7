/* output.c — the JSON document and the printed report. Everything printed
 * is read back from the document, so stdout and the JSON file can't
 * disagree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "stats.h"

static cJSON *num_or_null(double v) {
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *ah_json_dist(const double *x, int n) {
    ah_summary s;
    ah_summarize(x, n, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "median", num_or_null(s.median));
    cJSON_AddItemToObject(o, "ci_lo", num_or_null(s.ci_lo));
    cJSON_AddItemToObject(o, "ci_hi", num_or_null(s.ci_hi));
    cJSON_AddItemToObject(o, "ci_level", num_or_null(s.ci_level));
    cJSON_AddItemToObject(o, "mean", num_or_null(s.mean));
    cJSON_AddItemToObject(o, "sd", num_or_null(s.sd));
    cJSON_AddNumberToObject(o, "outliers", s.outliers);
    cJSON *arr = cJSON_AddArrayToObject(o, "samples");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, num_or_null(x[i]));
    return o;
}

/* The report's file behind path (path, or the regular file a symlink there
 * names) and its temporary target.tmp, created empty and never followed (a
 * stale one is removed first). The engine's GGUF writer does the same for its
 * outputs; the harness keeps its own copy, out of the candidate's reach. */
static int json_open_tmp(const char *path, char *target, char *tmp, size_t cap, ai_error *err) {
    struct stat st;
    bool exists = lstat(path, &st) == 0;
    if (exists && S_ISLNK(st.st_mode)) {
        char resolved[PATH_MAX];
        if (!realpath(path, resolved) || stat(resolved, &st) != 0)
            return ai_error_set(err, "%s: a symlink to nothing (expected a regular file or a new path)",
                                path);
        snprintf(target, cap, "%s", resolved);
    } else {
        snprintf(target, cap, "%s", path);
    }
    if (exists && !S_ISREG(st.st_mode))
        return ai_error_set(err, "%s: not a regular file (%s); refusing to replace it", path,
                            S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                            : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file");
    if ((size_t)snprintf(tmp, cap, "%s.tmp", target) >= cap)
        return ai_error_set(err, "%s: path too long", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return ai_error_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    return fd;
}

int ah_json_check_path(const char *path, ai_error *err) {
    char target[4200], tmp[4200];
    int fd = json_open_tmp(path, target, tmp, sizeof tmp, err);
    if (fd < 0) return -1;
    close(fd);
    unlink(tmp);
    return 0;
}

int ah_json_write(const cJSON *doc, const char *path, ai_error *err) {
    char target[4200], tmp[4200];
    int fd = json_open_tmp(path, target, tmp, sizeof tmp, err);
    if (fd < 0) return -1;
    char *text = cJSON_Print(doc);
    FILE *f = text ? fdopen(fd, "w") : NULL;
    if (!f) {
        close(fd);
        unlink(tmp);
        free(text);
        return ai_error_set(err, "%s: cannot serialize the report", path);
    }
    size_t len = strlen(text);
    size_t w = fwrite(text, 1, len, f);
    int bad = fputc('\n', f) == EOF;
    free(text);
    if (fclose(f) || w != len || bad) {
        remove(tmp);
        return ai_error_set(err, "%s: write failed", tmp);
    }
    if (rename(tmp, target)) {
        remove(tmp);
        return ai_error_set(err, "%s: cannot rename into place: %s", target, strerror(errno));
    }
    return 0;
}

cJSON *ah_json_read(const char *path, ai_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ai_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 0 || sz > (64l << 20)) {
        fclose(f);
        ai_error_set(err, "%s: not a JSON report (size %ld)", path, sz);
        return NULL;
    }
    char *buf = malloc((size_t)sz + 1);
    if (!buf) abort();
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[got] = 0;
    cJSON *doc = cJSON_Parse(buf);
    if (!doc) {
        const char *at = cJSON_GetErrorPtr();
        ai_error_set(err, "%s: invalid JSON near byte %ld", path,
                     at ? (long)(at - buf) : -1l);
    }
    free(buf);
    return doc;
}

double ah_jnum(const cJSON *obj, const char *path) {
    char key[128];
    const char *p = path;
    while (obj && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof key) return NAN;
        memcpy(key, p, n);
        key[n] = 0;
        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
        p += n;
        if (*p == '.') p++;
    }
    if (cJSON_IsNumber(obj)) return obj->valuedouble;
    if (cJSON_IsBool(obj)) return cJSON_IsTrue(obj);
    return NAN;
}

static const char *jstr(const cJSON *obj, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(s) ? s->valuestring : "";
}

/* "12.34" or "n/a" */
static const char *fmt(char *buf, size_t cap, const char *f, double v) {
    if (!isfinite(v)) snprintf(buf, cap, "n/a");
    else snprintf(buf, cap, f, v);
    return buf;
}

static void print_dist_cell(FILE *out, const cJSON *d, const char *f) {
    char a[32], b[32], c[32];
    char cell[128];
    snprintf(cell, sizeof cell, "%s [%s, %s]", fmt(a, sizeof a, f, ah_jnum(d, "median")),
             fmt(b, sizeof b, f, ah_jnum(d, "ci_lo")), fmt(c, sizeof c, f, ah_jnum(d, "ci_hi")));
    fprintf(out, "  %-26s", cell);
}

static void print_changes(const cJSON *doc, FILE *out) {
    const char *bar = "============================================================";
    fprintf(out, "%s\nCHANGES FROM BASELINE\n%s\n", bar, bar);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(doc, "changes");
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(ch, "knobs");
    if (!cJSON_IsArray(knobs)) {
        fprintf(out, "  (no baseline given: nothing to compare with)\n%s\n", bar);
        return;
    }
    const cJSON *k;
    int n = 0;
    cJSON_ArrayForEach(k, knobs) {
        fprintf(out, "  %s: %s -> %s\n", jstr(k, "key"), jstr(k, "baseline"), jstr(k, "current"));
        n++;
    }
    double la = ah_jnum(ch, "engine_lines_added"), lr = ah_jnum(ch, "engine_lines_removed");
    if (isfinite(la) && (la > 0 || lr > 0))
        fprintf(out, "  engine/: +%.0f -%.0f lines\n", la, lr);
    else if (!isfinite(la))
        fprintf(out, "  engine/: diff size unknown (git could not compare with %s)\n",
                jstr(ch, "baseline_commit"));
    const char *lists[2] = {"functions_added", "functions_removed"};
    for (int l = 0; l < 2; l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ch, lists[l]);
        int cnt = cJSON_GetArraySize(arr);
        if (cnt <= 0) continue;
        fprintf(out, "  %s (%d):", l ? "functions removed" : "functions added", cnt);
        const cJSON *f;
        int shown = 0;
        cJSON_ArrayForEach(f, arr) {
            if (shown++ == 12) {
                fprintf(out, " ...");
                break;
            }
            fprintf(out, " %s", cJSON_IsString(f) ? f->valuestring : "?");
        }
        fprintf(out, "\n");
    }
    if (!n && !(isfinite(la) && (la > 0 || lr > 0))) fprintf(out, "  (none)\n");
    if (n) {
        fprintf(out, "\nTradeoff warnings:\n");
        cJSON_ArrayForEach(k, knobs) fprintf(out, "  - %s: %s\n", jstr(k, "key"), jstr(k, "tradeoff"));
    }
    fprintf(out, "%s\n", bar);
}

void ah_print_report(const cJSON *doc, FILE *out) {
    char a[64], b[64], c[64];
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(doc, "build");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(doc, "speed");
    const cJSON *quality = cJSON_GetObjectItemCaseSensitive(doc, "quality");
    const cJSON *plaus = cJSON_GetObjectItemCaseSensitive(doc, "plausible");
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(doc, "compare");
    int dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(build, "dirty"));

    fprintf(out, "\nautoinfer eval: %s (%s, %.1fM params, %.1f MB)\n", jstr(model, "path"),
            jstr(model, "arch"), ah_jnum(model, "n_params") / 1e6, ah_jnum(model, "bytes") / 1e6);
    fprintf(out, "build: %.12s%s  %s\n", jstr(build, "commit"), dirty ? "+dirty" : "",
            jstr(build, "cflags"));
    const cJSON *device = cJSON_GetObjectItemCaseSensitive(doc, "device");
    if (*jstr(device, "backend"))
        fprintf(out, "device: %s (%s)\n", jstr(device, "backend"), jstr(device, "name"));
    fprintf(out, "\n");

    fprintf(out, "speed: median [95%% CI] over %.0f runs, %.0f tokens decoded per prompt (EOS "
                 "ignored)\n", ah_jnum(speed, "runs"), ah_jnum(speed, "tokens"));
    fprintf(out, "  %-14s %8s  %-26s  %-26s  %-26s\n", "prompt", "n_prompt", "prefill tok/s",
            "decode tok/s", "ttft ms");
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(speed, "per_prompt");
    const cJSON *row;
    cJSON_ArrayForEach(row, pp) {
        fprintf(out, "  %-14s %8.0f", jstr(row, "prompt"), ah_jnum(row, "n_prompt"));
        print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(row, "prefill_tps"), "%.1f");
        print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(row, "decode_tps"), "%.1f");
        print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(row, "ttft_ms"), "%.1f");
        fprintf(out, "\n");
    }
    fprintf(out, "  %-14s %8s", "overall", "");
    print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(speed, "prefill_tps"), "%.1f");
    print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(speed, "decode_tps"), "%.1f");
    print_dist_cell(out, cJSON_GetObjectItemCaseSensitive(speed, "ttft_ms"), "%.1f");
    /* GPU memory: the harness's measurement (device-wide in use, minus
     * before the open), then what the pipeline says it holds; "-" on the CPU */
    double gpu = ah_jnum(speed, "peak_gpu_mb.median"), egpu = ah_jnum(speed, "engine_gpu_mb");
    char gcell[96] = "-";
    if (isfinite(gpu) || isfinite(egpu))
        snprintf(gcell, sizeof gcell, "%s MB (the pipeline says %s MB)",
                 isfinite(gpu) ? fmt(b, sizeof b, "%.1f", gpu) : "-",
                 isfinite(egpu) ? fmt(c, sizeof c, "%.1f", egpu) : "-");
    fprintf(out, "\n  peak RSS %s MB   peak GPU memory %s\n\n",
            fmt(a, sizeof a, "%.1f", ah_jnum(speed, "peak_rss_mb.median")), gcell);

    int qpass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(quality, "pass"));
    fprintf(out, "quality:\n");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(quality, "sanity_detail");
    cJSON_ArrayForEach(row, sd) {
        int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "pass"));
        fprintf(out, "  sanity %-14s %s  %s\n", jstr(row, "prompt"), ok ? "pass" : "FAIL",
                jstr(row, "why"));
    }
    fprintf(out, "  perplexity %s (baseline ratio %s), self-perplexity %s (parity only)\n",
            fmt(a, sizeof a, "%.3f", ah_jnum(quality, "ppl")),
            fmt(b, sizeof b, "%.4f", ah_jnum(quality, "ppl_ratio")),
            fmt(c, sizeof c, "%.3f", ah_jnum(quality, "self_ppl")));
    fprintf(out, "  KL mean %s, KL p99 %s, top-1 agreement %s over %.0f positions\n",
            fmt(a, sizeof a, "%.5f", ah_jnum(quality, "kl_mean")),
            fmt(b, sizeof b, "%.4f", ah_jnum(quality, "kl_p99")),
            fmt(c, sizeof c, "%.4f", ah_jnum(quality, "top1_agree")),
            ah_jnum(quality, "n_scored"));
    fprintf(out, "  gate: %s\n", qpass ? "PASS" : "FAIL");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(quality, "failures");
    cJSON_ArrayForEach(row, fl)
        fprintf(out, "    - %s\n", cJSON_IsString(row) ? row->valuestring : "?");
    int pok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(plaus, "ok"));
    fprintf(out, "plausible: %s (roofline %s tok/s at %s GB/s, %s MB per token)%s%s\n",
            pok ? "yes" : "NO", fmt(a, sizeof a, "%.1f", ah_jnum(plaus, "roofline_tps")),
            fmt(b, sizeof b, "%.1f", ah_jnum(plaus, "bandwidth_gbps")),
            fmt(c, sizeof c, "%.2f", ah_jnum(plaus, "bytes_per_token") / 1e6), pok ? "" : ": ",
            pok ? "" : jstr(plaus, "why"));
    if (*jstr(plaus, "bandwidth_source") || isfinite(ah_jnum(plaus, "engine_bytes_per_token")))
        fprintf(out, "  bandwidth: %s; bytes per token counted by the harness from the GGUF "
                     "(the pipeline says %s MB)\n",
                *jstr(plaus, "bandwidth_source") ? jstr(plaus, "bandwidth_source") : "?",
                fmt(a, sizeof a, "%.2f", ah_jnum(plaus, "engine_bytes_per_token") / 1e6));

    if (cmp) {
        fprintf(out, "\ncompare (B/A, %.0f interleaved rounds, %s):\n", ah_jnum(cmp, "rounds"),
                jstr(cmp, "test"));
        fprintf(out, "  A decode %s tok/s   B decode %s tok/s (median step; throughput %s / %s)\n",
                fmt(a, sizeof a, "%.2f", ah_jnum(cmp, "a.decode_tps_med.median")),
                fmt(b, sizeof b, "%.2f", ah_jnum(cmp, "b.decode_tps_med.median")),
                fmt(c, sizeof c, "%.2f", ah_jnum(cmp, "a.decode_tps.median")),
                fmt(a + 40, 24, "%.2f", ah_jnum(cmp, "b.decode_tps.median")));
        fprintf(out, "  throughput ratio %s [%s, %s] -> %s (for reference)\n",
                fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "throughput_ratio")),
                fmt(b, sizeof b, "%.4f", ah_jnum(cmp, "throughput_ci_lo")),
                fmt(c, sizeof c, "%.4f", ah_jnum(cmp, "throughput_ci_hi")),
                jstr(cmp, "throughput_verdict"));
        fprintf(out, "  decode ratio %s [%s, %s] p=%s -> %s\n",
                fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "decode_ratio")),
                fmt(b, sizeof b, "%.4f", ah_jnum(cmp, "ci_lo")),
                fmt(c, sizeof c, "%.4f", ah_jnum(cmp, "ci_hi")), 
                fmt(a + 32, 32, "%.4f", ah_jnum(cmp, "p")), jstr(cmp, "verdict"));
        fprintf(out, "  prefill ratio %s [%s, %s] -> %s\n",
                fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "prefill_ratio")),
                fmt(b, sizeof b, "%.4f", ah_jnum(cmp, "prefill_ci_lo")),
                fmt(c, sizeof c, "%.4f", ah_jnum(cmp, "prefill_ci_hi")),
                jstr(cmp, "prefill_verdict"));
        fprintf(out, "  status: %s%s%s\n", jstr(cmp, "status"), *jstr(cmp, "why") ? ": " : "",
                jstr(cmp, "why"));
    }

    /* the seed's summary lines, exactly */
    fprintf(out, "\n---\n");
    fprintf(out, "avg_generation_tps: %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(speed, "decode_tps.median")));
    fprintf(out, "avg_prompt_tps: %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(speed, "prefill_tps.median")));
    fprintf(out, "avg_peak_memory_gb: %s\n",
            fmt(a, sizeof a, "%.3f", ah_jnum(speed, "peak_rss_mb.median") / 1024));
    fprintf(out, "avg_perplexity: %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(quality, "ppl")));
    fprintf(out, "sanity_check: %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(quality, "sanity")));
    fprintf(out, "quality_pass: %s\n", qpass ? "True" : "False");
    /* ours */
    fprintf(out, "decode_tps_ci: %s %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(speed, "decode_tps.ci_lo")),
            fmt(b, sizeof b, "%.2f", ah_jnum(speed, "decode_tps.ci_hi")));
    fprintf(out, "prompt_tps_ci: %s %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(speed, "prefill_tps.ci_lo")),
            fmt(b, sizeof b, "%.2f", ah_jnum(speed, "prefill_tps.ci_hi")));
    fprintf(out, "ttft_ms: %s\n", fmt(a, sizeof a, "%.2f", ah_jnum(speed, "ttft_ms.median")));
    fprintf(out, "peak_gpu_mb: %s\n", isfinite(gpu) ? fmt(a, sizeof a, "%.1f", gpu) : "-");
    fprintf(out, "kl_mean: %s\n", fmt(a, sizeof a, "%.6f", ah_jnum(quality, "kl_mean")));
    fprintf(out, "kl_p99: %s\n", fmt(a, sizeof a, "%.6f", ah_jnum(quality, "kl_p99")));
    fprintf(out, "top1_agree: %s\n", fmt(a, sizeof a, "%.4f", ah_jnum(quality, "top1_agree")));
    fprintf(out, "ppl_ratio: %s\n", fmt(a, sizeof a, "%.4f", ah_jnum(quality, "ppl_ratio")));
    fprintf(out, "self_ppl: %s\n", fmt(a, sizeof a, "%.3f", ah_jnum(quality, "self_ppl")));
    fprintf(out, "plausible: %s\n", pok ? "True" : "False");
    if (cmp) {
        fprintf(out, "decode_ratio: %s\n", fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "decode_ratio")));
        fprintf(out, "decode_ratio_ci: %s %s\n", fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "ci_lo")),
                fmt(b, sizeof b, "%.4f", ah_jnum(cmp, "ci_hi")));
        fprintf(out, "p_value: %s\n", fmt(a, sizeof a, "%.4f", ah_jnum(cmp, "p")));
        fprintf(out, "verdict: %s\n", jstr(cmp, "verdict"));
        fprintf(out, "compare_status: %s\n", jstr(cmp, "status"));
    }
    fprintf(out, "build: %s%s\n", jstr(build, "commit"), dirty ? "+dirty" : "");
    fprintf(out, "eval_seconds: %s\n", fmt(a, sizeof a, "%.1f", ah_jnum(doc, "duration_s")));
    fprintf(out, "\n");
    print_changes(doc, out);
    fflush(out);
}
