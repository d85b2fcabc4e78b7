/* gpu_probe.cu — the harness's GPU measurements (see gpu_probe.h): memory
 * bandwidth by device-to-device cudaMemcpy timed with CUDA events, and the
 * device memory in use. Built only when CMake finds nvcc (AI_HAVE_CUDA);
 * harness/gpu_none.c stands in otherwise. Every CUDA call's return code is
 * checked: on a machine without a GPU or a driver each function returns
 * its failure value with the reason, never crashes. No kernels: the copy
 * engine's DMA needs no device code, so this file has no architecture of
 * its own. */
#include <cuda_runtime.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gpu_probe.h"

static void say(char *why, size_t cap, const char *fmt, ...) {
    if (!why || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* On failure of `call`: the reason (call and CUDA's message) into why, then
 * to the function's cleanup label `done`. */
#define CK(call)                                                                            \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess) {                                                            \
            say(why, cap, "%s: %s (%s)", #call, cudaGetErrorString(e_), cudaGetErrorName(e_)); \
            (void)cudaGetLastError(); /* clear a sticky-free error for the next caller */  \
            goto done;                                                                      \
        }                                                                                   \
    } while (0)

extern "C" int ah_gpu_built(void) { return 1; }

extern "C" int ah_gpu_count(char *why, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        say(why, cap, "no usable GPU: cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
            cudaGetErrorName(e));
        (void)cudaGetLastError();
        return 0;
    }
    if (n <= 0) {
        say(why, cap, "no GPU: cudaGetDeviceCount found none");
        return 0;
    }
    return n;
}

extern "C" int ah_gpu_mem(uint64_t *used, uint64_t *total, char *why, size_t cap) {
    size_t free_b = 0, total_b = 0;
    int rc = -1;
    *used = *total = 0;
    if (ah_gpu_count(why, cap) <= 0) return -1;
    CK(cudaMemGetInfo(&free_b, &total_b));
    if (free_b > total_b) {
        say(why, cap, "cudaMemGetInfo: free %zu > total %zu bytes", free_b, total_b);
        goto done;
    }
    *used = (uint64_t)(total_b - free_b);
    *total = (uint64_t)total_b;
    rc = 0;
done:
    return rc;
}

extern "C" double ah_gpu_bandwidth_probe(size_t max_bytes, char *name, size_t name_cap,
                                         char *why, size_t cap) {
    const size_t MIB = (size_t)1 << 20, FLOOR = 64 * MIB;
    double best = NAN;
    void *src = NULL, *dst = NULL;
    cudaStream_t stream = NULL;
    cudaEvent_t ev0 = NULL, ev1 = NULL;
    cudaDeviceProp prop;
    size_t free_b = 0, total_b = 0, bytes = 0;
    int dev = 0, reps = 0;
    double t_spent = 0, best_s = INFINITY;
    cudaError_t e = cudaSuccess;

    if (name && name_cap) name[0] = 0;
    if (ah_gpu_count(why, cap) <= 0) return NAN;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    if (name && name_cap) snprintf(name, name_cap, "%s", prop.name);
    CK(cudaMemGetInfo(&free_b, &total_b));
    /* two buffers: each at most a third of what is free */
    bytes = max_bytes ? max_bytes : 1024 * MIB;
    if (bytes > free_b / 3) bytes = free_b / 3;
    bytes = bytes / MIB * MIB;
    if (bytes < FLOOR) {
        say(why, cap, "GPU %d (%s): only %zu MiB free, the probe needs 2 x %zu MiB", dev, prop.name,
            free_b / MIB, FLOOR / MIB);
        goto done;
    }
    /* another process may take memory meanwhile: halve until both fit */
    for (;;) {
        e = cudaMalloc(&src, bytes);
        if (e == cudaSuccess) {
            e = cudaMalloc(&dst, bytes);
            if (e == cudaSuccess) break;
            cudaError_t f_ = cudaFree(src);
            src = NULL;
            CK(f_);
        }
        (void)cudaGetLastError();
        if (e != cudaErrorMemoryAllocation || bytes / 2 < FLOOR) {
            say(why, cap, "cudaMalloc of 2 x %zu MiB on GPU %d (%s): %s", bytes / MIB, dev, prop.name,
                cudaGetErrorString(e));
            goto done;
        }
        bytes = bytes / 2 / MIB * MIB;
    }
    CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CK(cudaEventCreate(&ev0));
    CK(cudaEventCreate(&ev1));
    /* touch both buffers, then two untimed copies (clocks up, TLBs warm) */
    CK(cudaMemsetAsync(src, 0x5a, bytes, stream));
    CK(cudaMemsetAsync(dst, 0, bytes, stream));
    for (int i = 0; i < 2; i++) CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
    CK(cudaStreamSynchronize(stream));
    /* the best copy, as STREAM reports: at least 10 copies and 100 ms, at
     * most 1000 copies */
    while ((reps < 10 || t_spent < 0.1) && reps < 1000) {
        float ms = 0;
        CK(cudaEventRecord(ev0, stream));
        CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
        CK(cudaEventRecord(ev1, stream));
        CK(cudaEventSynchronize(ev1));
        CK(cudaEventElapsedTime(&ms, ev0, ev1));
        if (ms > 0 && ms * 1e-3 < best_s) best_s = ms * 1e-3;
        t_spent += ms * 1e-3;
        reps++;
    }
    if (!(best_s > 0) || !isfinite(best_s)) {
        say(why, cap, "GPU %d (%s): the copies took no measurable time", dev, prop.name);
        goto done;
    }
    best = 2.0 * (double)bytes / best_s / 1e9; /* read + written */
    say(why, cap, "GPU %d (%s): device-to-device copy of 2 x %zu MiB, best of %d", dev, prop.name,
        bytes / MIB, reps);
done:
    /* release everything; a failure here after a good measurement is only noted */
    if (ev0 && cudaEventDestroy(ev0) != cudaSuccess) (void)cudaGetLastError();
    if (ev1 && cudaEventDestroy(ev1) != cudaSuccess) (void)cudaGetLastError();
    if (stream && cudaStreamDestroy(stream) != cudaSuccess) (void)cudaGetLastError();
    if (src && cudaFree(src) != cudaSuccess) (void)cudaGetLastError();
    if (dst && cudaFree(dst) != cudaSuccess) (void)cudaGetLastError();
    return best;
}

extern "C" void ah_gpu_release(void) {
    char why[8];
    if (ah_gpu_count(why, sizeof why) <= 0) return;
    if (cudaDeviceReset() != cudaSuccess) (void)cudaGetLastError();
}
