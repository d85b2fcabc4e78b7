/* none.c — the CUDA backend's entry points in a build without CUDA (no nvcc
 * at configure time, or -DAI_CUDA=off): asking for it is a clear error, and
 * backend = auto falls back to the CPU. */
#include <stdio.h>

#include "backend.h"

#ifndef AI_HAVE_CUDA
ai_backend *ai_cuda_backend_new(ai_model *m, const ai_settings *s, ai_error *err) {
    (void)m;
    (void)s;
    ai_error_set(err, "backend = cuda: this autoinfer was built without CUDA (no nvcc found when it "
                      "was configured, or -DAI_CUDA=off); install the CUDA toolkit and rebuild, or set "
                      "backend = cpu");
    return NULL;
}

int ai_cuda_probe(char *name, size_t cap) {
    snprintf(name, cap, "built without CUDA");
    return 0;
}
#else
/* ISO C forbids an empty translation unit */
typedef int ai_cuda_none_unused;
#endif
