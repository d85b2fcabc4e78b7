/* test_noalloc.c — decoding allocates nothing after the first token.
 *
 * This executable interposes malloc/calloc/realloc/free and the aligned
 * allocators (aligned_alloc, which the engine uses for its scratch buffers,
 * posix_memalign, memalign), forwarding to glibc's, and counts calls while a
 * flag is up; the flag goes up in the callback of the first generated token.
 * Skipped under ASan, which owns the allocator. */
#include "testutil.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoinfer.h"

#ifndef __SANITIZE_ADDRESS__
#include <stdatomic.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* Test-only process state: the interposed allocator has no other place. */
static atomic_int counting, n_allocs;

static void count(void) {
    if (atomic_load(&counting)) atomic_fetch_add(&n_allocs, 1);
}

void *malloc(size_t n) {
    count();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    count();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    count();
    return __libc_realloc(p, n);
}
/* glibc's aligned_alloc and memalign are one function, __libc_memalign. */
void *aligned_alloc(size_t align, size_t n) {
    count();
    return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n) {
    count();
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
    count();
    if (align == 0 || align % sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p) { __libc_free(p); }

typedef struct {
    int n;
} gen_state;

static int on_token(void *user, int32_t tok, const char *text, size_t len) {
    gen_state *g = user;
    if (++g->n == 1) atomic_store(&counting, 1);
    return 0;
}

static void decode_without_allocating(const char **sets, int n_sets) {
    ai_conf c;
    ai_conf_defaults(&c);
    ai_error err;
    for (int i = 0; i < n_sets; i++) assert_int_equal(ai_conf_set(&c, sets[i], &err), 0);
    ai_pipeline *p = ai_pipeline_open(TU_MODEL, &c, &err);
    if (!p) fail_msg("%s", err.msg);
    int32_t toks[64];
    int n = ai_tokenize(p, "Once upon a time, in a small village by the sea,", 1, 0, toks, 64, &err);
    assert_true(n > 0);
    gen_state g = {0};
    ai_gen_params gp = {.max_tokens = 256, .ignore_eos = 1};
    atomic_store(&n_allocs, 0);
    int got = ai_generate(p, toks, n, &gp, on_token, &g, &err);
    atomic_store(&counting, 0);
    assert_int_equal(got, 256);
    printf("  %s%s: %d allocations during 255 decode steps\n", n_sets ? sets[0] : "defaults",
           n_sets > 1 ? " ..." : "", atomic_load(&n_allocs));
    assert_int_equal(atomic_load(&n_allocs), 0);
    ai_pipeline_close(p);
}

static void test_decode_allocates_nothing(void **state) {
    decode_without_allocating(NULL, 0); /* the default sampler: temperature + top-p */
    const char *greedy[] = {"temperature=0", "threads=1"};
    decode_without_allocating(greedy, 2);
    const char *kv[] = {"kv_type=q8_0", "top_k=40", "min_p=0.05", "repeat_penalty=1.1"};
    decode_without_allocating(kv, 4);
}
#else
static void test_decode_allocates_nothing(void **state) {
    printf("  skipped: the allocator is ASan's in this build\n");
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
