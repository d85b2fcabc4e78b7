/* bench_kernels.c — `autoinfer bench --kernels`: how fast each weight
 * format's matrix-vector kernel goes, in GB/s of weights, once from cache
 * (a matrix that fits L2, read over and over) and once streaming from
 * memory (a matrix of --mib MiB). The first is the kernel's arithmetic
 * ceiling, the second what decode can get; a format whose cache figure is
 * not well above the streaming read bandwidth cannot reach the roofline.
 * Where the batched prefill path runs (gemm.h), also its tile's rate in
 * multiply-adds per second over 64 expanded rows from cache, for one, two
 * and three 16-token groups per tile. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"
#include "quant.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile float bench_sink;

typedef struct {
    uint32_t type;
    int64_t rows, cols;
    size_t row_bytes;
    void *w;   /* the rows, repacked in groups of four when the kernel wants it */
    void *xq;  /* activations in the companion type */
    ai_act_pair *xp; /* the same prepared for dot4p */
    ai_vec_dot_fn dot;
    ai_vec_dot4_fn dot4;
    ai_vec_dot4p_fn dot4p;
    const char *kernel;
} kmat;

/* One matrix-vector product over all rows; returns a checksum so the work
 * cannot be dropped. */
static float product(const kmat *m, size_t prefetch) {
    float sum = 0, v[64];
    int64_t r = 0;
    /* runs of 64 rows, as the engine calls it (rows: a multiple of 4) */
    for (; m->dot4p && r < m->rows; r += 64) {
        int64_t nr = m->rows - r < 64 ? m->rows - r : 64;
        m->dot4p((const uint8_t *)m->w + (size_t)r * m->row_bytes, m->xp, m->cols, nr / 4, prefetch, v);
        for (int64_t k = 0; k < nr; k++) sum += v[k];
    }
    for (; m->dot4 && r + 4 <= m->rows; r += 4) {
        m->dot4((const uint8_t *)m->w + (size_t)r * m->row_bytes, m->row_bytes, m->xq, m->cols, v);
        sum += v[0] + v[1] + v[2] + v[3];
    }
    for (; r < m->rows; r++) sum += m->dot((const uint8_t *)m->w + (size_t)r * m->row_bytes, m->xq, m->cols);
    return sum;
}

/* aligned_alloc wants a multiple of the alignment */
static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static int kmat_init(kmat *m, uint32_t type, int64_t rows, int64_t cols, uint64_t *seed) {
    memset(m, 0, sizeof *m);
    ai_isa isa = ai_isa_detect();
    m->type = type;
    m->rows = rows;
    m->cols = cols;
    m->row_bytes = ai_row_bytes(type, cols);
    uint32_t vt = ai_vec_type(type);
    float *x = malloc((size_t)cols * sizeof *x);
    m->w = aligned_alloc(64, round64((size_t)rows * m->row_bytes));
    m->xq = aligned_alloc(64, round64(ai_row_bytes(vt, cols)));
    m->xp = malloc(ai_act_pairs(cols) * sizeof *m->xp);
    void *tmp = malloc(4 * m->row_bytes);
    if (!x || !m->w || !m->xq || !m->xp || !tmp) {
        free(x);
        free(tmp);
        return -1;
    }
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < cols; i++) {
            *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((int)(*seed >> 40) % 2001 - 1000) / 1000.0f;
        }
        ai_quantize_row(type, x, (uint8_t *)m->w + (size_t)r * m->row_bytes, cols);
    }
    ai_quantize_act_get(vt, isa)(x, m->xq, cols);
    ai_act_pair_prep(vt, m->xq, cols, m->xp);
    m->dot = ai_vec_dot_get(type, isa);
    m->kernel = "dot";
    if (ai_repack4_supported(type) && (m->dot4p = ai_vec_dot4p_get(type, isa))) {
        m->kernel = "dot4p";
        for (int64_t r = 0; r + 4 <= rows; r += 4) {
            uint8_t *g = (uint8_t *)m->w + (size_t)r * m->row_bytes;
            memcpy(tmp, g, 4 * m->row_bytes);
            ai_repack4(type, tmp, m->row_bytes, cols, g);
        }
    } else if ((m->dot4 = ai_vec_dot4_get(type, isa))) {
        m->kernel = "dot4";
    }
    free(x);
    free(tmp);
    return 0;
}

/* best GB/s over reps timed runs of at least min_s seconds each */
static double measure(const kmat *m, int reps, double min_s, size_t prefetch, float *sink) {
    double best = 0, bytes = (double)m->rows * (double)m->row_bytes;
    *sink += product(m, prefetch); /* warm-up: page faults, caches */
    for (int r = 0; r < reps; r++) {
        long n = 0;
        double t0 = now_s(), t;
        do {
            *sink += product(m, prefetch);
            n++;
        } while ((t = now_s() - t0) < min_s);
        double gbps = bytes * (double)n / t / 1e9;
        if (gbps > best) best = gbps;
    }
    return best;
}

/* Best G multiply-adds per second of the batched tile over 64 rows of
 * `type` (cols columns, expanded) x groups of 16 prepared tokens, over reps
 * runs of at least 50 ms; 0 when out of memory. */
static double gemm_rate(uint32_t type, int64_t cols, int groups, int reps, uint64_t *seed, float *sink) {
    enum { ROWS = 64 };
    const size_t rb = ai_row_bytes(type, cols), xb = ai_gemm_row_bytes(cols), ab = ai_gemm_act_bytes(cols);
    const int nt = groups * AI_GEMM_TOKENS;
    float *x = malloc((size_t)nt * (size_t)cols * sizeof *x), *y = malloc((size_t)nt * ROWS * sizeof *y);
    uint8_t *w = malloc(rb), *xw = aligned_alloc(64, ROWS * xb), *act = aligned_alloc(64, (size_t)groups * ab);
    double best = 0;
    if (x && y && w && xw && act) {
        for (int64_t i = 0; i < (int64_t)nt * cols; i++) {
            *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((int)(*seed >> 40) % 2001 - 1000) / 1000.0f;
        }
        for (int r = 0; r < ROWS; r++) { /* token rows double as weight rows */
            ai_quantize_row(type, x + (size_t)(r % nt) * cols, w, cols);
            ai_gemm_expand_row(type, w, cols, xw + (size_t)r * xb);
        }
        for (int g = 0; g < groups; g++)
            ai_gemm_prepare_act(x + (size_t)g * AI_GEMM_TOKENS * cols, cols, AI_GEMM_TOKENS, act + (size_t)g * ab,
                                ai_isa_detect());
        memset(y, 0, (size_t)nt * ROWS * sizeof *y);
        for (int rep = 0; rep < reps; rep++) {
            long n = 0;
            double t0 = now_s(), t;
            do {
                for (int r = 0; r < ROWS; r += AI_GEMM_ROWS)
                    ai_gemm_tile(xw + (size_t)r * xb, act, cols, nt, AI_GEMM_ROWS,
                                 &(ai_gemm_out){y + r, ROWS, NULL, true});
                n++;
            } while ((t = now_s() - t0) < 0.05);
            double rate = (double)n * ROWS * (double)nt * (double)cols / t / 1e9;
            if (rate > best) best = rate;
        }
        *sink += y[0];
    }
    free(x); free(y); free(w); free(xw); free(act);
    return best;
}

int ai_bench_kernels(long mib, int reps, size_t prefetch) {
    static const uint32_t types[] = {AI_Q4_0, AI_Q4_1, AI_Q5_0, AI_Q5_1, AI_Q8_0, AI_Q4_K, AI_Q5_K, AI_Q6_K};
    const int64_t cols = 1536; /* a multiple of 256 (K formats), like SmolLM2's ffn */
    uint64_t seed = 42;
    float sink = 0;
    printf("kernels isa=%s cols=%lld cache_kib=256 stream_mib=%ld prefetch=%zu\n", ai_isa_name(ai_isa_detect()),
           (long long)cols, mib, prefetch);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint32_t t = types[i];
        size_t rb = ai_row_bytes(t, cols);
        int64_t small_rows = (int64_t)(256 * 1024 / rb) / 4 * 4;
        int64_t big_rows = (int64_t)((size_t)mib * 1024 * 1024 / rb) / 4 * 4;
        kmat small, big;
        if (kmat_init(&small, t, small_rows, cols, &seed) || kmat_init(&big, t, big_rows, cols, &seed)) {
            fprintf(stderr, "autoinfer bench: out of memory for the %s kernel matrices\n", ai_dtype_get(t)->name);
            return 1;
        }
        double cache = measure(&small, reps, 0.05, prefetch, &sink);
        double stream = measure(&big, reps, 0.0, prefetch, &sink);
        printf("sample kind=kernel type=%s kernel=%s bytes_per_weight=%.4f cache_gbps=%.2f stream_gbps=%.2f\n",
               ai_dtype_get(t)->name, small.kernel, (double)rb / (double)cols, cache, stream);
        for (int g = 1; ai_gemm_supported(t, cols, ai_isa_detect()) && g <= AI_GEMM_GROUPS; g++) {
            double rate = gemm_rate(t, cols, g, reps, &seed, &sink);
            if (rate == 0) {
                fprintf(stderr, "autoinfer bench: out of memory for the %s gemm tile\n", ai_dtype_get(t)->name);
                return 1;
            }
            printf("sample kind=gemm type=%s groups=%d cache_gmacs=%.2f\n", ai_dtype_get(t)->name, g, rate);
        }
        fflush(stdout);
        free(small.w);
        free(small.xq);
        free(small.xp);
        free(big.w);
        free(big.xq);
        free(big.xp);
    }
    bench_sink = sink; /* keeps the products live */
    return 0;
}
