/* test_kernels.c — the forward pass's fast kernels held to their scalar
 * references on random inputs, at every ISA level this CPU runs:
 *  - four-row dot products (ai_vec_dot4_get), and repacked groups
 *    (ai_repack4, ai_vec_dot4p_get), against four one-row scalar dots;
 *  - attention K dot / V axpy for every KV type, softmax exp_sum, SwiGLU
 *    (ai_vec_kernels_get) against the scalar set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "quant.h"
#include "quant_impl.h"
#include "vec.h"
#include "sampler.h"
#include "gemm.h"

typedef struct { uint64_t s; } rng;
static uint64_t rng_next(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
static float rng_unit(rng *r) { return (float)((rng_next(r) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

/* ISA levels this CPU runs (scalar always). */
static int isa_levels(ai_isa *out) {
    ai_isa best = ai_isa_detect();
    int n = 0;
    out[n++] = AI_ISA_SCALAR;
    if (best == AI_ISA_NEON) out[n++] = AI_ISA_NEON;
    if (best == AI_ISA_AVX2 || best == AI_ISA_AVX512) out[n++] = AI_ISA_AVX2;
    if (best == AI_ISA_AVX512) out[n++] = AI_ISA_AVX512;
    return n;
}

static const uint32_t TYPES[] = {AI_F32, AI_F16, AI_BF16, AI_Q4_0, AI_Q4_1, AI_Q5_0,
                                 AI_Q5_1, AI_Q8_0, AI_Q4_K, AI_Q5_K, AI_Q6_K};

/* Random rows: quantized random data, then random bits in the quant codes
 * (scales stay as the quantizer wrote them), so every code occurs. */
static void random_rows(rng *r, uint32_t type, int64_t n, int rows, uint8_t *dst) {
    float *tmp = malloc((size_t)n * sizeof(float));
    size_t rb = ai_row_bytes(type, n);
    const ai_dtype_info *info = ai_dtype_get(type);
    size_t off, len;
    tu_quant_code_span(type, &off, &len);
    for (int k = 0; k < rows; k++) {
        for (int64_t i = 0; i < n; i++) tmp[i] = rng_unit(r) * (1.0f + (float)(k % 3));
        ai_quantize_row(type, tmp, dst + k * rb, n);
        for (int64_t b = 0; len && b < n / info->block; b++)
            for (size_t j = 0; j < len; j++) dst[k * rb + b * info->type_size + off + j] = (uint8_t)rng_next(r);
    }
    free(tmp);
}

static void test_dot4(void **state) {
    (void)state;
    ai_isa lv[4];
    int nl = isa_levels(lv);
    rng r = {99};
    static const int64_t LEN32[] = {32, 64, 96, 576, 896, 1536, 4864, 160};
    static const int64_t LEN256[] = {256, 512, 1536, 2816};
    for (int li = 0; li < nl; li++) {
        for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) {
            uint32_t type = TYPES[t];
            ai_vec_dot4_fn f4 = ai_vec_dot4_get(type, lv[li]);
            ai_vec_dot4p_fn fp = ai_vec_dot4p_get(type, lv[li]);
            if (!f4 && !ai_repack4_supported(type)) continue;
            bool k = ai_dtype_get(type)->block == 256;
            int nlen = k ? 4 : 8;
            for (int i = 0; i < nlen; i++) {
                int64_t n = k ? LEN256[i] : LEN32[i];
                size_t rb = ai_row_bytes(type, n), stride = rb + 64 * (size_t)(i % 2);
                uint8_t *w = calloc(4, stride);
                uint8_t *tmpw = malloc(4 * rb);
                random_rows(&r, type, n, 4, tmpw);
                for (int k4 = 0; k4 < 4; k4++) memcpy(w + k4 * stride, tmpw + k4 * rb, rb);
                float *x = malloc((size_t)n * sizeof(float));
                for (int64_t e = 0; e < n; e++) x[e] = rng_unit(&r);
                uint32_t vt = ai_vec_type(type);
                void *xq = malloc(ai_row_bytes(vt, n) + 64);
                ai_quantize_row(vt, x, xq, n);
                float got[4] = {0, 0, 0, 0};
                if (f4) f4(w, stride, xq, n, got);
                /* repacked groups: exact round trip, and the same products */
                float gotp[4] = {0, 0, 0, 0};
                if (ai_repack4_supported(type)) {
                    uint8_t *grp = malloc(4 * rb), *back = malloc(4 * rb);
                    ai_repack4(type, tmpw, rb, n, grp);
                    ai_unpack4(type, grp, n, back, rb);
                    assert_memory_equal(back, tmpw, 4 * rb);
                    ai_act_pair *ap = malloc(ai_act_pairs(n) * sizeof *ap);
                    ai_act_pair_prep(vt, xq, n, ap);
                    if (fp) { /* three copies of the group in a run: each gives the same four */
                        uint8_t *run = malloc(3 * 4 * rb);
                        float got3[12];
                        for (int c = 0; c < 3; c++) memcpy(run + c * 4 * rb, grp, 4 * rb);
                        fp(run, ap, n, 3, (i % 2) ? 4096 : 0, got3); /* prefetching changes nothing */
                        memcpy(gotp, got3, sizeof gotp);
                        assert_memory_equal(got3 + 4, gotp, sizeof gotp);
                        assert_memory_equal(got3 + 8, gotp, sizeof gotp);
                        free(run);
                    }
                    free(ap);
                    free(grp);
                    free(back);
                }
                for (int k4 = 0; k4 < 4; k4++) {
                    float want = ai_vec_dot_ref(type, w + k4 * stride, xq, n);
                    /* same integer sums; float order differs */
                    double mag = 0;
                    float *wd = malloc((size_t)n * sizeof(float)), *xd = malloc((size_t)n * sizeof(float));
                    ai_dequantize_row(type, w + k4 * stride, wd, n);
                    ai_dequantize_row(vt, xq, xd, n);
                    for (int64_t e = 0; e < n; e++) mag += fabs((double)wd[e] * xd[e]);
                    if (vt == AI_Q8_1) mag *= 2; /* m*s terms add their own magnitude */
                    if (fp && fabs((double)gotp[k4] - want) > 4e-6 * mag + 1e-30) {
                        print_error("%s dot4p %s n=%lld row %d: %.9g vs %.9g\n", ai_isa_name(lv[li]),
                                    ai_dtype_get(type)->name, (long long)n, k4, gotp[k4], want);
                        fail();
                    }
                    if (f4 && fabs((double)got[k4] - want) > 4e-6 * mag + 1e-30) {
                        print_error("%s dot4 %s n=%lld row %d: %.9g vs %.9g\n", ai_isa_name(lv[li]),
                                    ai_dtype_get(type)->name, (long long)n, k4, got[k4], want);
                        fail();
                    }
                    free(wd);
                    free(xd);
                }
                free(w); free(tmpw); free(x); free(xq);
            }
        }
    }
}

/* Activation records straight from floats equal quantizing to blocks and
 * preparing those, byte for byte, at every level. */
static void test_act_pairs(void **state) {
    (void)state;
    ai_isa lv[4];
    int nl = isa_levels(lv);
    rng r = {7};
    static const int64_t LEN[] = {32, 64, 96, 576, 1536, 160};
    static const uint32_t VT[] = {AI_Q8_0, AI_Q8_1};
    for (int li = 0; li < nl; li++)
        for (size_t v = 0; v < 2; v++)
            for (size_t i = 0; i < sizeof LEN / sizeof LEN[0]; i++) {
                int64_t n = LEN[i];
                float *x = malloc((size_t)n * sizeof *x);
                for (int64_t e = 0; e < n; e++) x[e] = rng_unit(&r) * (float)(1 + e % 7);
                for (int64_t e = 0; e < 32 && i == 2; e++) x[e] = 0.0f; /* an all-zero block */
                for (int64_t e = 0; e < n && i == 3; e += 5) x[e] = 63.5f; /* ties at the largest value's scale */
                size_t np = ai_act_pairs(n);
                ai_act_pair *want = calloc(np, sizeof *want), *got = malloc(np * sizeof *got);
                void *xq = malloc(ai_row_bytes(VT[v], n));
                ai_quantize_row(VT[v], x, xq, n);
                ai_act_pair_prep(VT[v], xq, n, want);
                memset(got, 0x5A, np * sizeof *got);
                ai_act_pairs_get(VT[v], lv[li])(x, n, got);
                if (memcmp(got, want, np * sizeof *got)) {
                    print_error("%s act pairs %s n=%lld differ\n", ai_isa_name(lv[li]), ai_dtype_get(VT[v])->name,
                                (long long)n);
                    fail();
                }
                free(x); free(want); free(got); free(xq);
            }
}

/* Cached rows of n elements in a KV type, from random floats. */
static void *kv_rows(rng *r, uint32_t type, int n, float *src) {
    for (int i = 0; i < n; i++) src[i] = rng_unit(r) * 2.0f;
    size_t bytes = type == AI_F32 ? (size_t)n * 4 : ai_row_bytes(type, n);
    void *dst = malloc(bytes);
    ai_quantize_row(type, src, dst, n);
    return dst;
}

/* Block attention (16 queries in the lanes) and one-query attention of g
 * query heads over a ring of cached rows equal the reference's
 * one-query-at-a-time softmax and weighted sum, for every KV type, head size
 * (odd tails for f32/f16), start position, block size, group size and wrap. */
static void test_attend(void **state) {
    (void)state;
    ai_isa lv[4];
    int nl = isa_levels(lv);
    rng r = {777};
    static const uint32_t KV[] = {AI_F32, AI_F16, AI_Q8_0, AI_Q4_0};
    static const int HD[] = {32, 64, 128};
    static const int P0[] = {0, 37, 5, 20, 0}, NQ[] = {16, 16, 9, 1, 3};
    for (size_t t = 0; t < 4; t++) {
        ai_vec_kernels ref;
        assert_int_equal(ai_vec_kernels_get(&ref, KV[t], AI_ISA_SCALAR), 0);
        for (int hi = 0; hi < 3; hi++) {
            int n = HD[hi] + ((KV[t] == AI_F32 || KV[t] == AI_F16) ? hi % 3 : 0);
            /* rows of a cache hold several heads: the head's bytes, then others' */
            size_t hb = KV[t] == AI_F32 ? (size_t)n * 4 : ai_row_bytes(KV[t], n), rb = hb + 36;
            enum { KEYS = 64 };
            uint8_t *kc = calloc(KEYS, rb), *vc = calloc(KEYS, rb);
            float *src = malloc((size_t)n * 4);
            for (int i = 0; i < KEYS; i++) {
                void *kr = kv_rows(&r, KV[t], n, src), *vr = kv_rows(&r, KV[t], n, src);
                memcpy(kc + i * rb, kr, hb);
                memcpy(vc + i * rb, vr, hb);
                free(kr);
                free(vr);
            }
            size_t qs = (size_t)n + 5;
            float *q = malloc(16 * qs * 4), *want = malloc(16 * qs * 4), *got = malloc(16 * qs * 4);
            for (size_t i = 0; i < 16 * qs; i++) q[i] = rng_unit(&r) * 2.0f;
            float *scratch = aligned_alloc(64, ai_vec_attend_scratch(n, KEYS) * sizeof(float));
            for (int c = 0; c < 5; c++) {
                ref.attend(kc, vc, rb, P0[c], NQ[c], q, qs, want, qs, n, 0.125f, scratch);
                for (int li = 0; li < nl; li++) {
                    ai_vec_kernels k;
                    assert_int_equal(ai_vec_kernels_get(&k, KV[t], lv[li]), 0);
                    for (size_t i = 0; i < 16 * qs; i++) got[i] = NAN;
                    k.attend(kc, vc, rb, P0[c], NQ[c], q, qs, got, qs, n, 0.125f, scratch);
                    for (int u = 0; u < NQ[c]; u++)
                        for (int d = 0; d < n; d++) {
                            float g = got[(size_t)u * qs + d], w = want[(size_t)u * qs + d];
                            if (!(fabsf(g - w) <= 2e-5f * 4.0f)) { /* |v| <= 2: a convex combination */
                                print_error("%s attend %s n=%d p0=%d nq=%d q%d[%d]: %.9g vs %.9g\n",
                                            ai_isa_name(lv[li]), ai_dtype_get(KV[t])->name, n, P0[c], NQ[c], u, d,
                                            g, w);
                                fail();
                            }
                        }
                }
            }
            /* g queries sharing the cached head over a ring of KEYS rows: from
             * the start, and wrapping; the reference's one call for g queries
             * is held to g one-query calls too */
            static const int FIRST[] = {0, 0, 0, 50, 30}, NK[] = {1, 17, KEYS, 40, KEYS}, G[] = {1, 3, 7, 16};
            for (int c = 0; c < 5; c++)
                for (int gi = 0; gi < 4; gi++) {
                    const int g = G[gi];
                    for (int i = 0; i < g; i++)
                        ref.attend1(kc, vc, rb, KEYS, FIRST[c], NK[c], 1, q + (size_t)i * n, want + (size_t)i * n, n,
                                    0.125f, scratch);
                    for (int li = -1; li < nl; li++) {
                        ai_vec_kernels k = ref;
                        if (li >= 0) assert_int_equal(ai_vec_kernels_get(&k, KV[t], lv[li]), 0);
                        for (size_t d = 0; d < (size_t)g * n; d++) got[d] = NAN;
                        k.attend1(kc, vc, rb, KEYS, FIRST[c], NK[c], g, q, got, n, 0.125f, scratch);
                        for (size_t d = 0; d < (size_t)g * n; d++)
                            if (!(fabsf(got[d] - want[d]) <= 2e-5f * 4.0f)) {
                                print_error("%s attend1 %s n=%d first=%d nk=%d g=%d q%d[%d]: %.9g vs %.9g\n",
                                            li < 0 ? "reference" : ai_isa_name(lv[li]), ai_dtype_get(KV[t])->name, n,
                                            FIRST[c], NK[c], g, (int)(d / n), (int)(d % n), got[d], want[d]);
                                fail();
                            }
                    }
                }
            free(kc); free(vc); free(src); free(q); free(want); free(got); free(scratch);
        }
    }
}

static void test_exp_kernels(void **state) {
    (void)state;
    ai_isa lv[4];
    int nl = isa_levels(lv);
    rng r = {5};
    ai_vec_kernels ref;
    ai_vec_kernels_get(&ref, AI_F32, AI_ISA_SCALAR);
    for (int li = 0; li < nl; li++) {
        ai_vec_kernels k;
        ai_vec_kernels_get(&k, AI_F32, lv[li]);
        for (int n = 1; n < 300; n += 37) {
            float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4), *u = malloc((size_t)n * 4);
            float mx = -INFINITY;
            for (int i = 0; i < n; i++) {
                a[i] = b[i] = rng_unit(&r) * 30.0f;
                if (i % 17 == 5) a[i] = b[i] = -INFINITY; /* masked scores */
                if (a[i] > mx) mx = a[i];
                u[i] = rng_unit(&r) * 3.0f;
            }
            float s1 = ref.exp_sum(a, n, mx), s2 = k.exp_sum(b, n, mx);
            assert_true(fabsf(s1 - s2) <= 1e-6f * s1);
            for (int i = 0; i < n; i++)
                if (fabsf(a[i] - b[i]) > 4e-7f * a[i] + 2e-38f) {
                    print_error("%s exp_sum [%d] %.9g vs %.9g\n", ai_isa_name(lv[li]), i, b[i], a[i]);
                    fail();
                }
            /* SwiGLU over the whole float range that matters, and beyond */
            for (int i = 0; i < n; i++) a[i] = b[i] = rng_unit(&r) * (i % 5 == 0 ? 120.0f : 12.0f);
            ref.swiglu(a, u, n);
            k.swiglu(b, u, n);
            for (int i = 0; i < n; i++)
                if (fabsf(a[i] - b[i]) > 1e-6f * fabsf(a[i]) + 1e-30f) {
                    print_error("%s swiglu [%d] %.9g vs %.9g\n", ai_isa_name(lv[li]), i, b[i], a[i]);
                    fail();
                }
            free(a); free(b); free(u);
        }
    }
}

/* Greedy sampling (the SIMD argmax) picks the first index of the maximum,
 * ties and NaNs included. */
static void test_greedy_argmax(void **state) {
    (void)state;
    rng r = {31337};
    ai_settings st = {.temperature = 0, .top_p = 1, .repeat_penalty = 1, .repeat_last_n = 0};
    for (int n = 1; n < 200; n += 13) {
        ai_sampler *s = ai_sampler_new(&st, n);
        assert_non_null(s);
        float *l = malloc((size_t)n * 4);
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < n; i++) l[i] = (float)(rng_next(&r) % 7); /* many ties */
            if (rep % 5 == 1) l[rng_next(&r) % n] = NAN;
            int32_t want = 0;
            for (int i = 1; i < n; i++)
                if (l[i] > l[want]) want = i;
            assert_int_equal(ai_sampler_sample(s, l), want);
        }
        free(l);
        ai_sampler_free(s);
    }
}

/* Meaningful bytes of an expanded row of n elements in blocks of g: header,
 * codes, then the used start values, scales and terms (gemm.c's layout). */
static void assert_expanded_equal(const uint8_t *a, const uint8_t *b, int64_t n) {
    int32_t g;
    memcpy(&g, a, 4);
    assert_memory_equal(a, b, 64 + (size_t)n);
    for (int part = 0; part < 3; part++) {
        size_t off = 64 + (size_t)n + (size_t)part * 4 * (size_t)(n / 16);
        assert_memory_equal(a + off, b + off, 4 * (size_t)(n / g));
    }
}

/* Batched products: the SIMD expanders write the reference expander's bytes,
 * and a tile of 4 rows x 16, 32 or 48 tokens (token-major) equals the float dot of the dequantized row with the
 * float activations within the activation rounding (Q8_0-style, 32 blocks)
 * plus float summation error; lanes past the tokens given read as zero. */
static void test_gemm(void **state) {
    (void)state;
    if (!ai_gemm_supported(AI_Q8_0, 64, ai_isa_detect())) {
        print_message("batched products need AVX-512: skipped\n");
        return;
    }
    rng r = {2024};
    static const uint32_t GT[] = {AI_Q4_0, AI_Q4_1, AI_Q5_0, AI_Q5_1, AI_Q8_0, AI_Q4_K, AI_Q5_K, AI_Q6_K};
    static const int64_t LEN[] = {256, 576, 1536, 32 * 5};
    enum { R = AI_GEMM_ROWS, T = AI_GEMM_TOKENS, G = AI_GEMM_GROUPS };
    for (size_t ti = 0; ti < sizeof GT / sizeof GT[0]; ti++) {
        for (int li = 0; li < 4; li++) {
            int64_t n = LEN[li];
            if (!ai_gemm_supported(GT[ti], n, ai_isa_detect())) continue;
            size_t rb = ai_row_bytes(GT[ti], n), xb = ai_gemm_row_bytes(n), ab = ai_gemm_act_bytes(n);
            uint8_t *w = malloc(R * rb);
            random_rows(&r, GT[ti], n, R, w);
            uint8_t *xw = aligned_alloc(64, R * xb), *xr = aligned_alloc(64, xb);
            for (int k = 0; k < R; k++) {
                ai_gemm_expand_row(GT[ti], w + k * rb, n, xw + k * xb);
                ai_gemm_expand_row_ref(GT[ti], w + k * rb, n, xr);
                assert_expanded_equal(xw + k * xb, xr, n);
            }
            if (ai_repack4_supported(GT[ti])) { /* straight from a repacked group: same bytes */
                uint8_t *grp = malloc(R * rb), *xg = aligned_alloc(64, R * xb);
                ai_repack4(GT[ti], w, rb, n, grp);
                assert_true(ai_gemm_expand_group(GT[ti], grp, n, xg));
                for (int k = 0; k < R; k++) assert_expanded_equal(xg + k * xb, xw + k * xb, n);
                free(grp);
                free(xg);
            }
            float *x = malloc(G * T * (size_t)n * sizeof(float));
            for (int64_t i = 0; i < G * T * n; i++) x[i] = rng_unit(&r) * (i % 97 == 0 ? 8.0f : 1.0f);
            memset(x + 3 * n, 0, 32 * sizeof(float)); /* a zero block: d = 0 */
            uint8_t *act = aligned_alloc(64, G * ab), *act_ref = aligned_alloc(64, ab);
            float *wd = malloc((size_t)n * sizeof(float));
            /* tokens given: three, then two groups of a tile (the last one
             * partly filled), then one group alone */
            static const int NT[] = {48, 40, 33, 32, 21, 17, 16, 1, 5};
            for (int c = 0; c < 9; c++) {
                int nt = NT[c], ng = (nt + T - 1) / T;
                float out[R * G * T] = {0};
                for (int g = 0; g < ng; g++) { /* the same bytes as the scalar quantizer's */
                    int gt = nt - g * T < T ? nt - g * T : T;
                    ai_gemm_prepare_act(x + (size_t)g * T * n, n, gt, act + g * ab, ai_isa_detect());
                    ai_gemm_prepare_act_ref(x + (size_t)g * T * n, n, gt, act_ref);
                    assert_memory_equal(act + g * ab, act_ref, ab);
                }
                ai_gemm_tile(xw, act, n, nt, R, &(ai_gemm_out){out, R, NULL, false});
                if (nt % T == 0 && ng > 1) { /* each group alone gives the same bits */
                    float one[R * T];
                    for (int g = 0; g < ng; g++) {
                        ai_gemm_tile(xw, act + g * ab, n, T, R, &(ai_gemm_out){one, R, NULL, false});
                        assert_memory_equal(one, out + g * R * T, sizeof one);
                    }
                }
                /* the epilogue: y += result + bias for the first nr rows and
                 * nt tokens, every other float of y untouched */
                enum { LD = R + 1 };
                float y[LD * G * T], y0[LD * G * T], bias[R] = {0.5f, -1.25f, 2.0f, 0.125f};
                for (int i = 0; i < LD * G * T; i++) y[i] = y0[i] = rng_unit(&r);
                int nr = 1 + c % R;
                ai_gemm_tile(xw, act, n, nt, nr, &(ai_gemm_out){y, LD, bias, true});
                for (int t = 0; t < G * T; t++)
                    for (int k = 0; k < LD; k++) {
                        float want = t < nt && k < nr ? y0[t * LD + k] + (out[t * R + k] + bias[k]) : y0[t * LD + k];
                        assert_true(y[t * LD + k] == want);
                    }
                for (int k = 0; k < R; k++) {
                    ai_dequantize_row(GT[ti], w + k * rb, wd, n);
                    for (int t = 0; t < ng * T; t++) {
                        const float *xt = x + (size_t)t * n;
                        double exact = 0, mag = 0, bound = 0;
                        for (int64_t b = 0; t < nt && b < n / 32; b++) {
                            float amax = 0;
                            for (int e = 0; e < 32; e++) amax = fmaxf(amax, fabsf(xt[32 * b + e]));
                            double step = amax / 127.0 * (1 + 1e-3); /* d and its fp16 rounding */
                            for (int e = 0; e < 32; e++) {
                                int64_t i = 32 * b + e;
                                exact += (double)wd[i] * xt[i];
                                mag += fabs((double)wd[i] * xt[i]);
                                bound += fabs((double)wd[i]) * (step / 2 + fabs(xt[i]) * 1e-3);
                            }
                        }
                        if (fabs(out[t * R + k] - exact) > bound + 1e-5 * mag + 1e-6) {
                            print_error("gemm %s n=%lld row %d tok %d of %d: %.7g vs %.7g (bound %.3g)\n",
                                        ai_dtype_get(GT[ti])->name, (long long)n, k, t, nt, out[t * R + k], exact,
                                        bound);
                            fail();
                        }
                    }
                }
            }
            free(w); free(xw); free(xr); free(x); free(act); free(act_ref); free(wd);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot4),
        cmocka_unit_test(test_act_pairs),
        cmocka_unit_test(test_attend),
        cmocka_unit_test(test_exp_kernels),
        cmocka_unit_test(test_greedy_argmax),
        cmocka_unit_test(test_gemm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
