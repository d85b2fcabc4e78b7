/* threadpool.c — a job is a number of chunks that the threads claim one at
 * a time from a shared counter, the caller included; the caller returns when
 * every chunk is done.
 *
 * Claiming (rather than a fixed chunk per thread) matters on a busy or
 * oversubscribed machine: a worker that the OS has descheduled simply takes
 * no chunk, and the others do its share, so a job never waits a whole time
 * slice for a sleeping thread (a static split does, at every barrier).
 *
 * The claim word packs (generation, chunk count, next chunk) into one
 * 64-bit atomic, so a single fetch_add hands out a chunk index together with
 * the job it belongs to: a claim below the count is a chunk of the current
 * job, which cannot end before that chunk is done, so the job's fn/ctx read
 * after the claim are the right ones. Workers that stay idle long (between
 * generate calls) fall asleep on a condition variable. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Idle polls before a worker sleeps (~ a few ms of spinning). */
#define SPIN_BEFORE_SLEEP 200000

#define GEN_SHIFT 44 /* [63:44] generation, [43:32] chunk count, [31:0] next */
#define CNT_SHIFT 32

struct ai_pool {
    int n;
    bool spin;
    pthread_t *threads;
    /* the current job (written before the claim word is published) */
    ai_job_fn fn;
    ai_chunk_fn cfn;
    void *ctx;
    atomic_uint_fast64_t claim;
    atomic_int done;      /* chunks finished */
    unsigned gen;         /* caller's side */
    atomic_int sleepers;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

typedef struct {
    ai_pool *pool;
    int ith;
} worker_arg;

static inline unsigned gen_of(uint64_t c) { return (unsigned)(c >> GEN_SHIFT); }
static inline int count_of(uint64_t c) { return (int)((c >> CNT_SHIFT) & 0xFFF); }

/* Runs chunks of the current job until none is left. */
static void take_chunks(ai_pool *p, int tid) {
    for (;;) {
        uint64_t c = atomic_fetch_add_explicit(&p->claim, 1, memory_order_acquire);
        int k = (int)(uint32_t)c, n = count_of(c);
        if (k >= n) return;
        if (p->cfn) p->cfn(p->ctx, k, n, tid);
        else p->fn(p->ctx, k, n);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static void wait_new(ai_pool *p, unsigned seen) {
    for (long i = 0; gen_of(atomic_load_explicit(&p->claim, memory_order_acquire)) == seen; i++) {
        if (atomic_load(&p->stop)) return;
        if (i < SPIN_BEFORE_SLEEP) {
            if (p->spin || i < 2000) cpu_relax();
            else sched_yield();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleepers, 1);
        while (gen_of(atomic_load(&p->claim)) == seen && !atomic_load(&p->stop))
            pthread_cond_wait(&p->wake, &p->mu);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mu);
        i = 0;
    }
}

static void *worker(void *argp) {
    worker_arg *a = argp;
    ai_pool *p = a->pool;
    unsigned seen = 0;
    for (;;) {
        wait_new(p, seen);
        if (atomic_load(&p->stop)) break;
        seen = gen_of(atomic_load_explicit(&p->claim, memory_order_acquire));
        take_chunks(p, a->ith);
    }
    free(a);
    return NULL;
}

ai_pool *ai_pool_new(int n_threads, bool spin) {
    if (n_threads < 1) return NULL;
    ai_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    p->spin = spin;
    atomic_init(&p->claim, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        ai_pool_free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) {
            p->n = i;
            ai_pool_free(p);
            return NULL;
        }
        a->pool = p;
        a->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, a)) {
            free(a);
            p->n = i;
            ai_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void ai_pool_free(ai_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        if (p->threads) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int ai_pool_size(const ai_pool *p) { return p->n; }

static void run(ai_pool *p, ai_job_fn fn, ai_chunk_fn cfn, void *ctx, int n_chunks) {
    if (n_chunks < 1) return;
    if (n_chunks > AI_POOL_MAX_CHUNKS) n_chunks = AI_POOL_MAX_CHUNKS;
    if (p->n == 1) {
        for (int k = 0; k < n_chunks; k++) {
            if (cfn) cfn(ctx, k, n_chunks, 0);
            else fn(ctx, k, n_chunks);
        }
        return;
    }
    p->fn = fn;
    p->cfn = cfn;
    p->ctx = ctx;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    p->gen = (p->gen + 1) & 0xFFFFF;
    if (p->gen == 0) p->gen = 1; /* workers start having seen generation 0 */
    /* seq_cst: publishes the job, and pairs with the sleepers check */
    atomic_store(&p->claim, (uint64_t)p->gen << GEN_SHIFT | (uint64_t)n_chunks << CNT_SHIFT);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    take_chunks(p, 0);
    for (long i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n_chunks; i++) {
        if (p->spin || i < 2000) cpu_relax();
        else sched_yield();
    }
}

void ai_pool_run(ai_pool *p, ai_job_fn fn, void *ctx) { run(p, fn, NULL, ctx, p->n); }

void ai_pool_run_chunks(ai_pool *p, ai_chunk_fn fn, void *ctx, int n_chunks) {
    run(p, NULL, fn, ctx, n_chunks);
}
