/* pipeline.c — the public API of include/autoinfer.h: a model, its
 * tokenizer, the settings from pipeline.conf, the run state and the sampler,
 * and the generate loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"
#include "backend.h"
#include "config.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

struct ai_pipeline {
    char path[512];
    ai_settings settings;
    ai_model *model;
    ai_tokenizer *tok;
    ai_backend *be;          /* the forward pass (knob backend) */
    ai_sampler *sampler;
    ai_chat_template chat;   /* chat.family == AI_CHAT_NONE when unusable */
};

void ai_pipeline_close(ai_pipeline *p) {
    if (!p) return;
    ai_sampler_free(p->sampler);
    if (p->be) p->be->free(p->be);
    ai_tokenizer_free(p->tok);
    ai_model_free(p->model);
    free(p);
}

/* The backend the knob asks for; `auto` takes CUDA when a usable GPU is
 * present and the CUDA backend runs the model's architecture, and the CPU
 * otherwise. */
static ai_backend *open_backend(ai_model *m, const ai_settings *s, ai_error *err) {
    char why[256];
    ai_error unsupported;
    switch (s->backend) {
    case AI_BACKEND_CPU: return ai_cpu_backend_new(m, s, err);
    case AI_BACKEND_CUDA: return ai_cuda_supports(m, err) ? NULL : ai_cuda_backend_new(m, s, err);
    case AI_BACKEND_AUTO: break;
    }
    if (ai_cuda_supports(m, &unsupported) == 0 && ai_cuda_probe(why, sizeof why) > 0)
        return ai_cuda_backend_new(m, s, err);
    return ai_cpu_backend_new(m, s, err);
}

ai_pipeline *ai_pipeline_open(const char *model_path, const ai_conf *conf, ai_error *err) {
    ai_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        ai_error_set(err, "out of memory");
        return NULL;
    }
    snprintf(p->path, sizeof p->path, "%s", model_path);
    if (ai_settings_from_conf(conf, &p->settings, err)) goto fail;
    gguf_file *f = gguf_open(model_path, err);
    if (!f) goto fail;
    p->tok = ai_tokenizer_load(f, err);
    if (!p->tok) {
        gguf_close(f);
        goto fail;
    }
    p->model = ai_model_load(f, err);
    if (!p->model) {
        gguf_close(f);
        goto fail;
    }
    if (ai_tokenizer_n_vocab(p->tok) > p->model->hp.n_vocab) {
        ai_error_set(err, "%s: tokenizer has %d tokens but token_embd.weight only %d rows",
                     model_path, ai_tokenizer_n_vocab(p->tok), p->model->hp.n_vocab);
        goto fail;
    }
    char tmpl[32768];
    ai_error ignore;
    /* A model without a usable template still runs raw prompts; the error
     * comes when someone asks for chat formatting. */
    if (gguf_get_str(f, "tokenizer.chat_template", tmpl, sizeof tmpl, &ignore) ||
        ai_chat_parse(tmpl, &p->chat, &ignore))
        p->chat.family = AI_CHAT_NONE;
    p->be = open_backend(p->model, &p->settings, err);
    if (!p->be) goto fail;
    p->sampler = ai_sampler_new(&p->settings, p->model->hp.n_vocab);
    if (!p->sampler) {
        ai_error_set(err, "out of memory for the sampler");
        goto fail;
    }
    return p;
fail:
    ai_pipeline_close(p);
    return NULL;
}

void ai_pipeline_describe(const ai_pipeline *p, ai_model_desc *out) {
    const ai_hparams *hp = &p->model->hp;
    memset(out, 0, sizeof *out);
    snprintf(out->arch, sizeof out->arch, "%s", hp->arch);
    ai_error ignore;
    if (gguf_get_str(p->model->gguf, "general.name", out->name, sizeof out->name, &ignore)) {
        const char *slash = strrchr(p->path, '/');
        snprintf(out->name, sizeof out->name, "%s", slash ? slash + 1 : p->path);
    }
    out->n_vocab = hp->n_vocab;
    out->n_ctx_train = hp->n_ctx_train;
    out->n_layer = hp->n_layer;
    out->n_embd = hp->n_embd;
    out->n_head = hp->n_head;
    out->n_head_kv = hp->n_head_kv;
    out->n_ff = hp->n_ff;
    out->n_params = p->model->n_params;
    uint64_t wb = 0;
    for (uint64_t i = 0; i < p->model->gguf->n_tensors; i++) wb += p->model->gguf->tensors[i].size;
    out->weight_bytes = wb;
    out->bytes_per_token = ai_model_bytes_per_token(p->model);
    out->bos = ai_tokenizer_bos(p->tok);
    out->eos = ai_tokenizer_eos(p->tok);
    out->eot = ai_tokenizer_eot(p->tok);
    out->add_bos = ai_tokenizer_add_bos(p->tok);
    snprintf(out->backend, sizeof out->backend, "%s", p->be->name);
    snprintf(out->device, sizeof out->device, "%s", p->be->device);
    out->device_bytes = p->be->device_bytes(p->be);
    snprintf(out->chat_family, sizeof out->chat_family, "%s",
             p->chat.family == AI_CHAT_NONE ? "" : ai_chat_family_name(p->chat.family));
}

int ai_context_length(const ai_pipeline *p) { return p->settings.ctx; }

int ai_tokenize(ai_pipeline *p, const char *text, int add_bos, int parse_special, int32_t *out,
                int cap, ai_error *err) {
    int n = ai_tokenizer_encode(p->tok, text, strlen(text), add_bos, parse_special, out, cap, err);
    /* A template that writes the BOS text itself plus add_bos would give two
     * BOS tokens; keep one, as the model was trained. */
    int32_t bos = ai_tokenizer_bos(p->tok);
    if (n >= 2 && cap >= 2 && add_bos && bos >= 0 && out[0] == bos && out[1] == bos) {
        memmove(out, out + 1, (size_t)((n < cap ? n : cap) - 1) * sizeof *out);
        n--;
    }
    return n;
}

int ai_token_bytes(ai_pipeline *p, int32_t token, char *out, int cap) {
    if (token < 0 || token >= ai_tokenizer_n_vocab(p->tok)) return -1;
    return ai_tokenizer_piece(p->tok, token, false, out, cap);
}

int ai_chat_format(ai_pipeline *p, const char *system, const char *user, char *out, size_t cap,
                   ai_error *err) {
    if (p->chat.family == AI_CHAT_NONE) return ai_chat_unknown_error(err, p->path);
    return ai_chat_template_render(&p->chat, system, user, out, cap, err);
}

int ai_chat_set_thinking(ai_pipeline *p, int enable, ai_error *err) {
    if (p->chat.family == AI_CHAT_NONE) return ai_chat_unknown_error(err, p->path);
    if (!p->chat.thinking)
        return ai_error_set(err, "%s: the chat template (%s) has no thinking switch (it never reads enable_thinking); "
                            "leave out --think", p->path, ai_chat_family_name(p->chat.family));
    p->chat.enable_thinking = enable != 0;
    return 0;
}

/* Runs the prompt through the model in chunks of prefill_chunk tokens. */
static int prefill(ai_pipeline *p, const int32_t *prompt, int n_prompt, bool all_logits,
                   ai_logits_fn fn, void *user, ai_error *err) {
    int chunk = p->be->max_batch;
    for (int i = 0; i < n_prompt; i += chunk) {
        int n = n_prompt - i < chunk ? n_prompt - i : chunk;
        if (p->be->forward(p->be, prompt + i, n, i, all_logits, err)) return -1;
        if (fn) {
            int V = p->model->hp.n_vocab;
            for (int t = 0; t < n && i + t < n_prompt - 1; t++)
                if (fn(user, i + t, p->be->logits_all + (size_t)t * V, V)) return 0;
        }
    }
    return 0;
}

int ai_generate(ai_pipeline *p, const int32_t *prompt, int n_prompt, const ai_gen_params *params,
                ai_token_fn fn, void *user, ai_error *err) {
    if (n_prompt < 1) return ai_error_set(err, "generate: the prompt is empty");
    if (params->max_tokens < 0)
        return ai_error_set(err, "generate: max_tokens %d is negative", params->max_tokens);
    const int ctx = p->settings.ctx;
    const bool rotating = p->be->kv_rotating;
    /* greedy decoding takes the backend's argmax where the logits are, and
     * sampling draws there with the host sampler's draw, so the logits never
     * leave the device; the sampler still sees each token */
    const bool greedy = p->be->decode_greedy && ai_sampler_is_greedy(p->sampler);
    const bool device_sample = !greedy && p->be->decode_sample && ai_sampler_device_ok(p->sampler);
    if (!rotating && n_prompt > ctx)
        return ai_error_set(err, "context overflow: the prompt has %d tokens but ctx is %d "
                            "(raise ctx in pipeline.conf or shorten the prompt)", n_prompt, ctx);
    ai_sampler_reset(p->sampler);
    for (int i = 0; i < n_prompt; i++) ai_sampler_accept(p->sampler, prompt[i]);
    if (prefill(p, prompt, n_prompt, false, NULL, NULL, err)) return -1;

    ai_detok det;
    ai_detok_init(&det);
    det.first = false; /* a continuation keeps its leading space */
    int pos = n_prompt, generated = 0;
    int32_t next = ai_sampler_sample(p->sampler, p->be->logits);
    while (generated < params->max_tokens) {
        int32_t tok = next;
        if (!params->ignore_eos && ai_tokenizer_is_eog(p->tok, tok)) break;
        ai_sampler_accept(p->sampler, tok);
        generated++;
        char text[256];
        int len = ai_detok_push(&det, p->tok, tok, text, sizeof text);
        if (len > (int)sizeof text) len = (int)sizeof text;
        if (fn && fn(user, tok, text, (size_t)len)) break;
        if (generated == params->max_tokens) break;
        if (!rotating && pos >= ctx) break; /* the context is full */
        if (greedy) {
            if (p->be->decode_greedy(p->be, tok, pos, &next, err)) return -1;
        } else if (device_sample) {
            const double u = ai_sampler_draw(p->sampler);
            int r = p->be->decode_sample(p->be, tok, pos, u, &next, err);
            if (r < 0) return -1;
            if (r == 0) next = ai_sampler_sample_u(p->sampler, p->be->logits, u);
        } else {
            if (p->be->forward(p->be, &tok, 1, pos, false, err)) return -1;
            next = ai_sampler_sample(p->sampler, p->be->logits);
        }
        pos++;
    }
    return generated;
}

int ai_score(ai_pipeline *p, const int32_t *tokens, int n, ai_logits_fn fn, void *user,
             ai_error *err) {
    if (n < 2) return ai_error_set(err, "score: need at least 2 tokens, got %d", n);
    if (!p->be->kv_rotating && n > p->settings.ctx)
        return ai_error_set(err, "context overflow: %d tokens to score but ctx is %d "
                            "(raise ctx in pipeline.conf)", n, p->settings.ctx);
    return prefill(p, tokens, n, true, fn, user, err);
}
