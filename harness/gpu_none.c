/* gpu_none.c — the GPU probes (gpu_probe.h) in a build without CUDA (no
 * nvcc at configure time, or -DAI_CUDA=off): each fails with the reason.
 * With CUDA, harness/gpu_probe.cu defines them and this file is empty. */
#include <math.h>
#include <stdio.h>

#include "gpu_probe.h"

#ifndef AI_HAVE_CUDA
static const char WHY[] = "this autoinfer was built without CUDA: the harness cannot measure a GPU";

int ah_gpu_built(void) { return 0; }

int ah_gpu_count(char *why, size_t cap) {
    if (why && cap) snprintf(why, cap, "%s", WHY);
    return 0;
}

double ah_gpu_bandwidth_probe(size_t max_bytes, char *name, size_t name_cap, char *why, size_t cap) {
    (void)max_bytes;
    if (name && name_cap) name[0] = 0;
    if (why && cap) snprintf(why, cap, "%s", WHY);
    return NAN;
}

int ah_gpu_mem(uint64_t *used, uint64_t *total, char *why, size_t cap) {
    *used = *total = 0;
    if (why && cap) snprintf(why, cap, "%s", WHY);
    return -1;
}

void ah_gpu_release(void) {}
#else
typedef int ah_gpu_none_unused; /* ISO C forbids an empty translation unit */
#endif
