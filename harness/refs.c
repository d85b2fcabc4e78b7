/* refs.c — see refs.h.
 *
 * refs.bin layout (little-endian host order, this machine only):
 *   "AIREFS01"  u32 version(1)  u32 topk  u32 n_vocab  u32 n_seq
 *   per sequence: char name[32]  u32 kind  u32 n  u32 score_from
 *                 i32 tokens[n]
 *                 per scored position: i32 id[topk] f32 lp[topk] f32 rest f32 nll
 *   32-byte SHA-256 of everything before it. */
#include "refs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static const char MAGIC[8] = {'A', 'I', 'R', 'E', 'F', 'S', '0', '1'};

void ah_refs_init(ah_refs *r, int n_vocab) {
    memset(r, 0, sizeof *r);
    r->n_vocab = n_vocab;
}

void ah_refs_free(ah_refs *r) {
    for (int i = 0; i < r->n_seq; i++) {
        free(r->seq[i].tokens);
        free(r->seq[i].pos);
    }
    free(r->seq);
    memset(r, 0, sizeof *r);
}

ah_ref_seq *ah_refs_add(ah_refs *r, const char *name, int kind, const int32_t *tokens,
                        int n, int score_from) {
    ah_ref_seq *grown = realloc(r->seq, sizeof *grown * (size_t)(r->n_seq + 1));
    if (!grown) abort();
    r->seq = grown;
    ah_ref_seq *s = &r->seq[r->n_seq++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = kind;
    s->n = n;
    s->score_from = score_from;
    s->tokens = malloc(sizeof *tokens * (size_t)(n > 0 ? n : 1));
    int ns = n - 1 - score_from;
    s->pos = calloc((size_t)(ns > 0 ? ns : 1), sizeof *s->pos);
    if (!s->tokens || !s->pos) abort();
    if (n > 0) memcpy(s->tokens, tokens, sizeof *tokens * (size_t)n);
    return s;
}

/* ---- serialization -------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1 << 16;
        while (nc < b->len + n) nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) abort();
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }

int ah_refs_save(const ah_refs *r, const char *path, ai_error *err) {
    bytes b = {0};
    put(&b, MAGIC, 8);
    put_u32(&b, 1);
    put_u32(&b, AH_TOPK);
    put_u32(&b, (uint32_t)r->n_vocab);
    put_u32(&b, (uint32_t)r->n_seq);
    for (int i = 0; i < r->n_seq; i++) {
        const ah_ref_seq *s = &r->seq[i];
        char name[32] = {0};
        snprintf(name, sizeof name, "%s", s->name);
        put(&b, name, 32);
        put_u32(&b, (uint32_t)s->kind);
        put_u32(&b, (uint32_t)s->n);
        put_u32(&b, (uint32_t)s->score_from);
        put(&b, s->tokens, sizeof(int32_t) * (size_t)s->n);
        for (int k = 0; k < ah_seq_n_scored(s); k++) {
            const ah_ref_pos *p = &s->pos[k];
            put(&b, p->id, sizeof p->id);
            put(&b, p->lp, sizeof p->lp);
            put(&b, &p->rest, 4);
            put(&b, &p->nll, 4);
        }
    }
    ah_sha256 c;
    uint8_t digest[32];
    ah_sha256_init(&c);
    ah_sha256_update(&c, b.p, b.len);
    ah_sha256_final(&c, digest);
    put(&b, digest, 32);

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = ai_error_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    } else {
        size_t w = fwrite(b.p, 1, b.len, f);
        if (fclose(f) || w != b.len)
            rc = ai_error_set(err, "%s: write failed: %s", tmp, strerror(errno));
        else if (rename(tmp, path))
            rc = ai_error_set(err, "%s: cannot rename into place: %s", path, strerror(errno));
    }
    free(b.p);
    return rc;
}

typedef struct {
    const uint8_t *p;
    size_t len, off;
} reader;

static int get(reader *rd, void *out, size_t n) {
    if (rd->len - rd->off < n) return -1;
    memcpy(out, rd->p + rd->off, n);
    rd->off += n;
    return 0;
}

int ah_refs_load(ah_refs *r, const char *path, ai_error *err) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) return ai_error_set(err, "%s: cannot open reference file: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 8 + 16 + 32) {
        fclose(f);
        return ai_error_set(err, "%s: corrupt reference file: %ld bytes is too short", path, sz);
    }
    uint8_t *data = malloc((size_t)sz);
    if (!data) abort();
    size_t got = fread(data, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        free(data);
        return ai_error_set(err, "%s: read failed", path);
    }
    int rc = 0;
    uint8_t digest[32];
    ah_sha256 c;
    ah_sha256_init(&c);
    ah_sha256_update(&c, data, (size_t)sz - 32);
    ah_sha256_final(&c, digest);
    reader rd = {data, (size_t)sz - 32, 0};
    uint32_t version, topk, n_vocab, n_seq;
    if (memcmp(data, MAGIC, 8)) {
        rc = ai_error_set(err, "%s: corrupt reference file: bad magic (expected AIREFS01)", path);
        goto done;
    }
    if (memcmp(digest, data + sz - 32, 32)) {
        rc = ai_error_set(err, "%s: corrupt reference file: checksum mismatch", path);
        goto done;
    }
    rd.off = 8;
    get(&rd, &version, 4);
    get(&rd, &topk, 4);
    get(&rd, &n_vocab, 4);
    get(&rd, &n_seq, 4);
    if (version != 1 || topk != AH_TOPK || n_vocab == 0 || n_vocab > (1u << 24) ||
        n_seq > 100000) {
        rc = ai_error_set(err,
                          "%s: corrupt reference file: version %u topk %u n_vocab %u n_seq %u "
                          "(expected version 1, topk %d)",
                          path, version, topk, n_vocab, n_seq, AH_TOPK);
        goto done;
    }
    ah_refs_init(r, (int)n_vocab);
    for (uint32_t i = 0; i < n_seq; i++) {
        char name[33] = {0};
        uint32_t kind, n, from;
        if (get(&rd, name, 32) || get(&rd, &kind, 4) || get(&rd, &n, 4) || get(&rd, &from, 4) ||
            kind > 1 || n < 2 || n > (1u << 24) || from >= n - 1 ||
            rd.len - rd.off < (size_t)n * 4) {
            rc = ai_error_set(err, "%s: corrupt reference file: bad header of sequence %u at "
                              "offset %zu", path, i, rd.off);
            goto done;
        }
        int32_t *copy = malloc((size_t)n * 4);
        if (!copy) abort();
        get(&rd, copy, (size_t)n * 4);
        ah_ref_seq *s = ah_refs_add(r, name, (int)kind, copy, (int)n, (int)from);
        free(copy);
        for (uint32_t k = 0; k < n; k++)
            if (s->tokens[k] < 0 || (uint32_t)s->tokens[k] >= n_vocab) {
                rc = ai_error_set(err, "%s: corrupt reference file: token %d out of range in "
                                  "sequence %u", path, s->tokens[k], i);
                goto done;
            }
        for (int k = 0; k < ah_seq_n_scored(s); k++) {
            ah_ref_pos *p = &s->pos[k];
            if (get(&rd, p->id, sizeof p->id) || get(&rd, p->lp, sizeof p->lp) ||
                get(&rd, &p->rest, 4) || get(&rd, &p->nll, 4)) {
                rc = ai_error_set(err, "%s: corrupt reference file: truncated in sequence %u",
                                  path, i);
                goto done;
            }
            for (int j = 0; j < AH_TOPK; j++)
                if (p->id[j] < 0 || (uint32_t)p->id[j] >= n_vocab || !(p->lp[j] <= 0.001f)) {
                    rc = ai_error_set(err, "%s: corrupt reference file: bad entry in sequence "
                                      "%u position %d", path, i, k);
                    goto done;
                }
        }
    }
    if (rd.off != rd.len)
        rc = ai_error_set(err, "%s: corrupt reference file: %zu trailing bytes", path,
                          rd.len - rd.off);
done:
    free(data);
    if (rc) ah_refs_free(r);
    return rc;
}

/* ---- distributions ---------------------------------------------------------- */

double ah_logsumexp(const float *logits, int n) {
    float m = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > m) m = logits[i];
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)logits[i] - m);
    return m + log(s);
}

int ah_argmax(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

void ah_ref_from_logits(const float *logits, int n_vocab, int32_t target, ah_ref_pos *out) {
    double lse = ah_logsumexp(logits, n_vocab);
    /* top-K by insertion into a small sorted array */
    int k = 0;
    int32_t id[AH_TOPK];
    float v[AH_TOPK];
    for (int i = 0; i < n_vocab; i++) {
        float x = logits[i];
        if (k == AH_TOPK && x <= v[k - 1]) continue;
        int j = k < AH_TOPK ? k++ : k - 1;
        while (j > 0 && v[j - 1] < x) {
            v[j] = v[j - 1];
            id[j] = id[j - 1];
            j--;
        }
        v[j] = x;
        id[j] = i;
    }
    double top = 0;
    memset(out, 0, sizeof *out);
    for (int j = 0; j < AH_TOPK; j++) {
        if (j < k) {
            out->id[j] = id[j];
            out->lp[j] = (float)(v[j] - lse);
            top += exp(v[j] - lse);
        } else { /* n_vocab < K: pad with impossible entries */
            out->id[j] = 0;
            out->lp[j] = -1e30f;
        }
    }
    double rest = 1 - top;
    out->rest = rest > 1e-12 ? (float)log(rest) : -1e30f;
    out->nll = (float)(lse - logits[target]);
}

void ah_ref_compare(const ah_ref_pos *ref, const float *logits, int n_vocab, int32_t target,
                    ah_pos_cmp *out) {
    double lse = ah_logsumexp(logits, n_vocab);
    double kl = 0, q_top = 0, p_top = 0;
    for (int j = 0; j < AH_TOPK; j++) {
        if (ref->lp[j] < -1e29f) continue;
        double lp = ref->lp[j], lq = logits[ref->id[j]] - lse;
        double p = exp(lp);
        p_top += p;
        q_top += exp(lq);
        kl += p * (lp - lq);
    }
    if (ref->rest > -1e29f) {
        double p_rest = exp((double)ref->rest);
        double q_rest = 1 - q_top;
        if (q_rest < 1e-30) q_rest = 1e-30;
        kl += p_rest * ((double)ref->rest - log(q_rest));
    }
    out->kl = kl > 0 ? kl : 0;
    out->nll = lse - logits[target];
    out->top1_same = ah_argmax(logits, n_vocab) == ref->id[0];
}
