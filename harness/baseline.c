/* baseline.c — build and model identity, and the baseline directory:
 *   baseline.json  the baseline's full report + "baseline_meta"
 *   pipeline.conf  the configuration it was evaluated with
 *   refs.bin       reference next-token distributions (refs.c) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "sha256.h"

#ifndef AI_SOURCE_DIR
#define AI_SOURCE_DIR "."
#endif
#ifndef AI_CFLAGS_ID
#define AI_CFLAGS_ID "unknown"
#endif

/* First line of a command's output into out ("" on failure). Returns the
 * exit status. */
static int run_line(const char *cmd, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    if (fgets(out, (int)cap, f)) out[strcspn(out, "\r\n")] = 0;
    char sink[256];
    while (fgets(sink, sizeof sink, f)) {
    }
    return pclose(f);
}

void ah_build_identify(ah_build_id *b) {
    memset(b, 0, sizeof *b);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", AI_SOURCE_DIR);
    if (run_line(cmd, b->commit, sizeof b->commit) || !b->commit[0])
        snprintf(b->commit, sizeof b->commit, "unknown");
    char line[512];
    snprintf(cmd, sizeof cmd,
             "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -1",
             AI_SOURCE_DIR);
    run_line(cmd, line, sizeof line);
    b->dirty = line[0] != 0;
    snprintf(b->cflags, sizeof b->cflags, "%s", AI_CFLAGS_ID);
    if (ah_sha256_file("/proc/self/exe", 0, b->exe_sha256))
        snprintf(b->exe_sha256, sizeof b->exe_sha256, "unknown");
}

int ah_model_identify(const char *path, ah_model_id *m, ai_error *err) {
    memset(m, 0, sizeof *m);
    struct stat st;
    if (stat(path, &st)) return ai_error_set(err, "%s: cannot open model: %s", path, strerror(errno));
    char *real = realpath(path, NULL);
    snprintf(m->path, sizeof m->path, "%s", real ? real : path);
    free(real);
    m->bytes = (uint64_t)st.st_size;
    if (ah_sha256_file(path, 1 << 20, m->sha256_head))
        return ai_error_set(err, "%s: cannot read model", path);
    return 0;
}

/* ---- save ------------------------------------------------------------------------ */

static int copy_file(const char *from, const char *to, ai_error *err) {
    FILE *in = fopen(from, "rb");
    if (!in) return ai_error_set(err, "%s: cannot read: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return ai_error_set(err, "%s: cannot write: %s", to, strerror(errno));
    }
    char buf[8192];
    size_t r;
    int bad = 0;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, r, out) != r) bad = 1;
    fclose(in);
    if (fclose(out) || bad) return ai_error_set(err, "%s: write failed", to);
    return 0;
}

int ah_baseline_save(const char *dir, const cJSON *report, const ah_model_id *m,
                     const char *conf_path, const ah_refs *refs, ai_error *err) {
    if (mkdir(dir, 0777) && errno != EEXIST)
        return ai_error_set(err, "%s: cannot create baseline directory: %s", dir, strerror(errno));
    char path[4400];
    snprintf(path, sizeof path, "%s/refs.bin", dir);
    if (ah_refs_save(refs, path, err)) return -1;

    snprintf(path, sizeof path, "%s/pipeline.conf", dir);
    if (conf_path) {
        if (copy_file(conf_path, path, err)) return -1;
    } else {
        FILE *f = fopen(path, "w");
        if (!f) return ai_error_set(err, "%s: cannot write: %s", path, strerror(errno));
        fprintf(f, "# no pipeline.conf was given: the knob defaults\n");
        fclose(f);
    }

    cJSON *doc = cJSON_Duplicate(report, 1);
    cJSON *meta = cJSON_AddObjectToObject(doc, "baseline_meta");
    cJSON_AddNumberToObject(meta, "format", 1);
    cJSON_AddStringToObject(meta, "model_path", m->path);
    cJSON_AddNumberToObject(meta, "model_bytes", (double)m->bytes);
    cJSON_AddStringToObject(meta, "model_sha256_head", m->sha256_head);
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(report, "build");
    const cJSON *commit = cJSON_GetObjectItemCaseSensitive(build, "commit");
    cJSON_AddStringToObject(meta, "commit", cJSON_IsString(commit) ? commit->valuestring : "unknown");
    cJSON *answers = cJSON_AddArrayToObject(meta, "greedy_answers");
    for (int i = 0; i < refs->n_seq; i++) {
        const ah_ref_seq *s = &refs->seq[i];
        if (s->kind != AH_SEQ_ANSWER) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "prompt", s->name);
        cJSON_AddNumberToObject(a, "n_tokens", s->n - s->score_from - 1);
        cJSON_AddItemToArray(answers, a);
    }
    snprintf(path, sizeof path, "%s/baseline.json", dir);
    int rc = ah_json_write(doc, path, err);
    cJSON_Delete(doc);
    return rc;
}

/* ---- load ------------------------------------------------------------------------ */

int ah_baseline_load(const char *dir, ah_baseline *b, ai_error *err) {
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return ai_error_set(err, "baseline %s: no such directory (create one with "
                            "--save-baseline)", dir);
    char path[4400];
    snprintf(path, sizeof path, "%s/baseline.json", dir);
    ai_error jerr;
    b->doc = ah_json_read(path, &jerr);
    if (!b->doc)
        return ai_error_set(err, "baseline %s: %s", dir, jerr.msg);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(b->doc, "baseline_meta");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(meta, "model_path");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(meta, "model_bytes");
    const cJSON *mh = cJSON_GetObjectItemCaseSensitive(meta, "model_sha256_head");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(meta, "commit");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(b->doc, "config");
    if (!cJSON_IsNumber(fmt) || fmt->valuedouble != 1 || !cJSON_IsString(mp) ||
        !cJSON_IsNumber(mb) || !cJSON_IsString(mh) || !cJSON_IsString(cm) ||
        !cJSON_IsObject(conf)) {
        ah_baseline_free(b);
        return ai_error_set(err, "baseline %s: corrupt baseline.json: baseline_meta (format 1, "
                            "model_path, model_bytes, model_sha256_head, commit) or config "
                            "missing", dir);
    }
    snprintf(b->model.path, sizeof b->model.path, "%s", mp->valuestring);
    b->model.bytes = (uint64_t)mb->valuedouble;
    snprintf(b->model.sha256_head, sizeof b->model.sha256_head, "%s", mh->valuestring);
    snprintf(b->commit, sizeof b->commit, "%s", cm->valuestring);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, conf) {
        if (b->conf.n >= 64 || !cJSON_IsString(kv) || strlen(kv->string) >= 48 ||
            strlen(kv->valuestring) >= 64) {
            ah_baseline_free(b);
            return ai_error_set(err, "baseline %s: corrupt baseline.json: bad config entry", dir);
        }
        snprintf(b->conf.keys[b->conf.n], 48, "%s", kv->string);
        snprintf(b->conf.values[b->conf.n], 64, "%s", kv->valuestring);
        b->conf.n++;
    }
    b->sanity = ah_jnum(b->doc, "quality.sanity");
    b->ppl = ah_jnum(b->doc, "quality.ppl");
    snprintf(path, sizeof path, "%s/refs.bin", dir);
    if (ah_refs_load(&b->refs, path, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        ah_baseline_free(b);
        return ai_error_set(err, "baseline %s: %s", dir, msg);
    }
    return 0;
}

void ah_baseline_free(ah_baseline *b) {
    cJSON_Delete(b->doc);
    b->doc = NULL;
    ah_refs_free(&b->refs);
}
