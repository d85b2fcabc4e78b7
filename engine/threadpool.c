/* threadpool.c — workers wait on a generation counter. A job costs one
 * atomic increment to start and one per worker to finish, so a layer's
 * handful of jobs adds microseconds, not a mutex round trip each. Workers
 * that stay idle long (between generate calls) fall asleep on a condition
 * variable, so an idle pipeline does not burn the CPU. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Idle polls before a worker sleeps (~ a few ms of spinning). */
#define SPIN_BEFORE_SLEEP 200000

struct ai_pool {
    int n;
    bool spin;
    pthread_t *threads;
    ai_job_fn fn;
    void *ctx;
    atomic_uint gen;      /* bumped once per job */
    atomic_int pending;   /* workers still running the current job */
    atomic_int sleepers;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

typedef struct {
    ai_pool *pool;
    int ith;
} worker_arg;

static void wait_idle(ai_pool *p, unsigned seen) {
    for (long i = 0; atomic_load_explicit(&p->gen, memory_order_acquire) == seen; i++) {
        if (atomic_load(&p->stop)) return;
        if (i < SPIN_BEFORE_SLEEP) {
            if (p->spin || i < 2000) cpu_relax();
            else sched_yield();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleepers, 1);
        while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
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
        wait_idle(p, seen);
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        p->fn(p->ctx, a->ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
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

void ai_pool_run(ai_pool *p, ai_job_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: pairs with the sleepers check */
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    for (long i = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        if (p->spin || i < 2000) cpu_relax();
        else sched_yield();
    }
}
