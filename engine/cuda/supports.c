/* supports.c — which models the CUDA backend runs. Compiled in every build
 * (it needs no CUDA), so that backend = auto can pick the CPU for the others
 * before touching the GPU. */
#include <string.h>

#include "backend.h"

/* The architectures whose differences (model.h) the kernels of
 * engine/cuda/ implement and test_cuda.c checks against the CPU. */
static const char *const CUDA_ARCHS[] = {"llama", "qwen2"};

int ai_cuda_supports(const ai_model *m, ai_error *err) {
    for (size_t i = 0; i < sizeof CUDA_ARCHS / sizeof CUDA_ARCHS[0]; i++)
        if (!strcmp(m->arch->name, CUDA_ARCHS[i])) return 0;
    return ai_error_set(err, "backend = cuda: the CUDA backend does not run architecture '%s' yet "
                             "(it runs llama, qwen2); set backend = cpu or auto", m->arch->name);
}
