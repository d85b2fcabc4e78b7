/* threadpool.h — a persistent pool: the caller runs one job on all threads
 * (itself included) and returns when the whole job is done. */
#ifndef AI_THREADPOOL_H
#define AI_THREADPOOL_H

#include <stdbool.h>

typedef void (*ai_job_fn)(void *ctx, int ith, int nth);
/* One chunk of a job: chunk k of n_chunks, run by thread tid (0 = the
 * caller; tid < ai_pool_size, for per-thread scratch). */
typedef void (*ai_chunk_fn)(void *ctx, int chunk, int n_chunks, int tid);
typedef struct ai_pool ai_pool;

#define AI_POOL_MAX_CHUNKS 4095

/* n_threads >= 1 (the caller counts as one). spin: busy-wait between jobs
 * instead of spinning briefly then yielding. NULL on failure. */
ai_pool *ai_pool_new(int n_threads, bool spin);
void ai_pool_free(ai_pool *p);
int ai_pool_size(const ai_pool *p);
/* Runs fn(ctx, ith, nth) once for every ith in [0, nth), nth = pool size,
 * and waits for all; each call may run on any thread. */
void ai_pool_run(ai_pool *p, ai_job_fn fn, void *ctx);
/* Runs fn(ctx, k, n_chunks, tid) once for every chunk k (n_chunks at most
 * AI_POOL_MAX_CHUNKS); threads claim chunks in order as they come free, so
 * a descheduled thread delays nobody. Waits for all. */
void ai_pool_run_chunks(ai_pool *p, ai_chunk_fn fn, void *ctx, int n_chunks);

#endif
