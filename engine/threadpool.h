/* threadpool.h — a persistent pool: the caller runs one job on all threads
 * (itself included) and returns when every thread has finished it. */
#ifndef AI_THREADPOOL_H
#define AI_THREADPOOL_H

#include <stdbool.h>

typedef void (*ai_job_fn)(void *ctx, int ith, int nth);
typedef struct ai_pool ai_pool;

/* n_threads >= 1 (the caller counts as one). spin: busy-wait between jobs
 * instead of spinning briefly then yielding. NULL on failure. */
ai_pool *ai_pool_new(int n_threads, bool spin);
void ai_pool_free(ai_pool *p);
int ai_pool_size(const ai_pool *p);
/* Runs fn(ctx, ith, nth) for ith in [0, nth) and waits for all. */
void ai_pool_run(ai_pool *p, ai_job_fn fn, void *ctx);

#endif
