/* evalrun.c — reading the locked harness's JSON report (docs/eval.md).
 * The driver never computes a speed itself: every figure comes from here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loop.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : AL_NA;
}

static void str(const cJSON *o, const char *key, char *out, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static al_stat stat_of(const cJSON *o, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    al_stat st = {AL_NA, AL_NA, AL_NA};
    if (cJSON_IsObject(s)) {
        st.median = num(s, "median");
        st.lo = num(s, "ci_lo");
        st.hi = num(s, "ci_hi");
    } else if (cJSON_IsNumber(s)) {
        st.median = s->valuedouble;
    }
    return st;
}

int al_eval_parse(const char *json_path, al_eval *e, ai_error *err) {
    memset(e, 0, sizeof *e);
    size_t len;
    char *text = al_read_file(json_path, &len);
    if (!text) return ai_error_set(err, "%s: no evaluation report", json_path);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ai_error_set(err, "%s: not a JSON object", json_path);
    }
    e->have_json = 1;
    snprintf(e->status, sizeof e->status, "ok");
    e->ratio = e->ratio_lo = e->ratio_hi = e->p = e->noise = AL_NA;
    for (int i = 0; i < 3; i++) e->fig[i] = (struct al_figure){AL_NA, AL_NA, AL_NA, AL_NA, ""};

    const cJSON *build = cJSON_GetObjectItemCaseSensitive(root, "build");
    str(build, "commit", e->build_commit, sizeof e->build_commit);
    e->build_dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(build, "dirty"));

    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(root, "speed");
    e->decode = stat_of(speed, "decode_tps");
    e->prefill = stat_of(speed, "prefill_tps");
    e->rss_mb = stat_of(speed, "peak_rss_mb");
    e->a_decode = (al_stat){AL_NA, AL_NA, AL_NA};

    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quality");
    e->quality_pass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "pass"));
    e->sanity = num(q, "sanity");
    e->ppl = num(q, "ppl");
    e->ppl_ratio = num(q, "ppl_ratio");
    e->kl_mean = num(q, "kl_mean");
    e->kl_p99 = num(q, "kl_p99");
    e->top1 = num(q, "top1_agree");
    const cJSON *fails = cJSON_GetObjectItemCaseSensitive(q, "failures");
    const cJSON *f;
    size_t used = 0;
    cJSON_ArrayForEach(f, fails) {
        if (!cJSON_IsString(f)) continue;
        int w = snprintf(e->failures + used, sizeof e->failures - used, "%s%s",
                         used ? "; " : "", f->valuestring);
        if (w > 0 && used + (size_t)w < sizeof e->failures) used += (size_t)w;
    }

    str(cJSON_GetObjectItemCaseSensitive(root, "device"), "backend", e->backend, sizeof e->backend);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "plausible");
    const cJSON *pok = cJSON_GetObjectItemCaseSensitive(pl, "ok");
    e->plausible_ok = pok ? cJSON_IsTrue(pok) : 1;
    e->roofline = num(pl, "roofline_tps");
    str(pl, "why", e->plausible_why, sizeof e->plausible_why);

    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "changes");
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(ch, "knobs");
    const cJSON *k;
    used = 0;
    cJSON_ArrayForEach(k, knobs) {
        char key[64], trade[256];
        str(k, "key", key, sizeof key);
        str(k, "tradeoff", trade, sizeof trade);
        int w = snprintf(e->tradeoff + used, sizeof e->tradeoff - used, "%s%s: %s",
                         used ? "; " : "", key, trade);
        if (w > 0 && used + (size_t)w < sizeof e->tradeoff) used += (size_t)w;
    }

    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "compare");
    if (cJSON_IsObject(c)) {
        str(c, "status", e->status, sizeof e->status);
        if (!e->status[0]) snprintf(e->status, sizeof e->status, "ok");
        str(c, "why", e->why, sizeof e->why);
        str(c, "verdict", e->verdict, sizeof e->verdict);
        e->ratio = num(c, "decode_ratio");
        e->ratio_lo = num(c, "ci_lo");
        e->ratio_hi = num(c, "ci_hi");
        e->p = num(c, "p");
        e->noise = num(c, "noise");
        const cJSON *figs = cJSON_GetObjectItemCaseSensitive(c, "figures");
        const char *names[3] = {"prefill", "ttft", "request"};
        for (int i = 0; i < 3; i++) {
            const cJSON *fj = cJSON_GetObjectItemCaseSensitive(figs, names[i]);
            e->fig[i] = (struct al_figure){num(fj, "ratio"), num(fj, "ci_lo"), num(fj, "ci_hi"),
                                           num(fj, "p"), ""};
            str(fj, "verdict", e->fig[i].verdict, sizeof e->fig[i].verdict);
        }
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "a");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "b");
        e->a_decode = stat_of(a, "decode_tps");
        /* B's interleaved samples are the candidate's speed. */
        al_stat bd = stat_of(b, "decode_tps"), bp = stat_of(b, "prefill_tps");
        if (bd.median != AL_NA) e->decode = bd;
        if (bp.median != AL_NA) e->prefill = bp;
        al_stat br = stat_of(b, "peak_rss_mb");
        if (br.median != AL_NA) e->rss_mb = br;
    }
    e->duration_s = num(root, "duration_s");
    al_sanitize(e->why);
    al_sanitize(e->failures);
    al_sanitize(e->tradeoff);
    al_sanitize(e->plausible_why);
    cJSON_Delete(root);
    return 0;
}
