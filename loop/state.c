/* state.c — the run's journal: state.json in the run directory, replaced
 * atomically (tmp + fsync + rename) so a kill -9 leaves the old or the new
 * version, never a torn one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loop.h"

int al_state_save(const char *path, const al_state *s, ai_error *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "tag", s->tag);
    cJSON_AddStringToObject(o, "branch", s->branch);
    cJSON_AddStringToObject(o, "repo", s->repo);
    cJSON_AddStringToObject(o, "model", s->model);
    cJSON_AddStringToObject(o, "strategy", s->strategy);
    cJSON_AddStringToObject(o, "agent", s->agent);
    cJSON_AddNumberToObject(o, "budget", s->budget);
    cJSON_AddNumberToObject(o, "hours", s->hours);
    cJSON_AddNumberToObject(o, "elapsed_s", s->elapsed_s);
    cJSON_AddStringToObject(o, "base_commit", s->base_commit);
    cJSON_AddStringToObject(o, "best_commit", s->best_commit);
    cJSON_AddStringToObject(o, "best_bin_commit", s->best_bin_commit);
    cJSON_AddNumberToObject(o, "base_decode", s->base_decode);
    cJSON_AddNumberToObject(o, "best_decode", s->best_decode);
    cJSON_AddNumberToObject(o, "noise", s->noise);
    cJSON_AddNumberToObject(o, "eval_timeout", s->eval_timeout);
    cJSON_AddNumberToObject(o, "agent_timeout", s->agent_timeout);
    cJSON_AddNumberToObject(o, "rounds", s->rounds);
    cJSON_AddNumberToObject(o, "tokens", s->tokens);
    cJSON_AddNumberToObject(o, "quick", s->quick);
    cJSON_AddNumberToObject(o, "recalibrate", s->recal);
    cJSON_AddNumberToObject(o, "recalibrated_at", s->recal_at);
    cJSON_AddNumberToObject(o, "mem_mb", (double)s->mem_mb);
    cJSON_AddStringToObject(o, "objective", s->objective);
    cJSON_AddNumberToObject(o, "max_memory_mb", s->max_memory_mb);
    cJSON_AddNumberToObject(o, "screen_rounds", s->screen_rounds);
    cJSON_AddNumberToObject(o, "prompt_tokens", s->prompt_tokens);
    cJSON_AddNumberToObject(o, "final_rounds", s->final_rounds);
    cJSON_AddStringToObject(o, "knobs", s->only);
    cJSON_AddNumberToObject(o, "retune", s->retune);
    cJSON_AddNumberToObject(o, "tuning", s->tuning);
    cJSON_AddStringToObject(o, "phase", s->phase);
    cJSON_AddNumberToObject(o, "next_exp", s->next_exp);
    cJSON_AddNumberToObject(o, "done_exps", s->done_exps);
    cJSON *st = cJSON_AddObjectToObject(o, "strat");
    cJSON_AddNumberToObject(st, "pass", s->strat.pass);
    cJSON_AddNumberToObject(st, "knob", s->strat.knob);
    cJSON_AddNumberToObject(st, "value", s->strat.value);
    cJSON_AddNumberToObject(st, "kept_in_pass", s->strat.kept_in_pass);
    cJSON_AddNumberToObject(st, "done", s->strat.done);
    if (s->pending) {
        cJSON *p = cJSON_AddObjectToObject(o, "pending");
        cJSON_AddNumberToObject(p, "exp", s->pend_exp);
        cJSON_AddStringToObject(p, "step", s->pend_step);
        cJSON_AddStringToObject(p, "desc", s->pend_desc);
        cJSON_AddStringToObject(p, "commit", s->pend_commit);
    } else {
        cJSON_AddNullToObject(o, "pending");
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return ai_error_set(err, "out of memory");
    int rc = al_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

static void gets_(const cJSON *o, const char *k, char *out, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double getn(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int al_state_load(const char *path, al_state *s, ai_error *err) {
    memset(s, 0, sizeof *s);
    size_t len;
    char *text = al_read_file(path, &len);
    if (!text) return ai_error_set(err, "%s: no run state (was this run started?)", path);
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(o) || getn(o, "version") != 1) {
        cJSON_Delete(o);
        return ai_error_set(err, "%s: not a version-1 run state", path);
    }
    gets_(o, "tag", s->tag, sizeof s->tag);
    gets_(o, "branch", s->branch, sizeof s->branch);
    gets_(o, "repo", s->repo, sizeof s->repo);
    gets_(o, "model", s->model, sizeof s->model);
    gets_(o, "strategy", s->strategy, sizeof s->strategy);
    gets_(o, "agent", s->agent, sizeof s->agent);
    s->budget = (int)getn(o, "budget");
    s->hours = getn(o, "hours");
    s->elapsed_s = getn(o, "elapsed_s");
    gets_(o, "base_commit", s->base_commit, sizeof s->base_commit);
    gets_(o, "best_commit", s->best_commit, sizeof s->best_commit);
    gets_(o, "best_bin_commit", s->best_bin_commit, sizeof s->best_bin_commit);
    s->base_decode = getn(o, "base_decode");
    s->best_decode = getn(o, "best_decode");
    s->noise = getn(o, "noise");
    s->eval_timeout = getn(o, "eval_timeout");
    s->agent_timeout = getn(o, "agent_timeout");
    s->rounds = (int)getn(o, "rounds");
    s->tokens = (int)getn(o, "tokens");
    s->quick = (int)getn(o, "quick");
    s->recal = (int)getn(o, "recalibrate");
    s->recal_at = (int)getn(o, "recalibrated_at");
    s->mem_mb = (long)getn(o, "mem_mb");
    gets_(o, "objective", s->objective, sizeof s->objective);
    s->max_memory_mb = getn(o, "max_memory_mb");
    s->screen_rounds = (int)getn(o, "screen_rounds");
    s->prompt_tokens = (int)getn(o, "prompt_tokens");
    s->final_rounds = (int)getn(o, "final_rounds");
    gets_(o, "knobs", s->only, sizeof s->only);
    s->retune = (int)getn(o, "retune");
    s->tuning = (int)getn(o, "tuning");
    gets_(o, "phase", s->phase, sizeof s->phase);
    s->next_exp = (int)getn(o, "next_exp");
    s->done_exps = (int)getn(o, "done_exps");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "strat");
    s->strat.pass = (int)getn(st, "pass");
    s->strat.knob = (int)getn(st, "knob");
    s->strat.value = (int)getn(st, "value");
    s->strat.kept_in_pass = (int)getn(st, "kept_in_pass");
    s->strat.done = (int)getn(st, "done");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pending");
    if (cJSON_IsObject(p)) {
        s->pending = 1;
        s->pend_exp = (int)getn(p, "exp");
        gets_(p, "step", s->pend_step, sizeof s->pend_step);
        gets_(p, "desc", s->pend_desc, sizeof s->pend_desc);
        gets_(p, "commit", s->pend_commit, sizeof s->pend_commit);
    }
    cJSON_Delete(o);
    return 0;
}
