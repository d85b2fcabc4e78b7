/* gpu_probe_check.cu — a by-hand check of harness/gpu_probe.cu on a GPU
 * machine (not built by CMake): the probes on every buffer size, a
 * read-only kernel's bandwidth beside the copy's (the roofline margin must
 * cover the difference), the memory readings before and after
 * ah_gpu_release, and the no-GPU path:
 *
 *   nvcc -O2 -arch=sm_90 -Iharness harness/gpu_probe_check.cu harness/gpu_probe.cu -o /tmp/probe
 *   /tmp/probe; CUDA_VISIBLE_DEVICES= /tmp/probe quick
 *   compute-sanitizer --tool memcheck --leak-check full /tmp/probe quick */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "gpu_probe.h"

__global__ void readk(const uint4 *p, size_t n, unsigned long long *out) {
    unsigned long long s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint4 v = __ldcs(p + i);
        s += v.x ^ v.y ^ v.z ^ v.w;
    }
    if (s == 0x123456789ull) *out = s;
}

static double read_bw(size_t bytes) {
    void *p; unsigned long long *o;
    if (cudaMalloc(&p, bytes) || cudaMalloc(&o, 8)) return NAN;
    cudaMemset(p, 1, bytes);
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    int sms = 0; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    double best = 1e9;
    for (int r = 0; r < 30; r++) {
        cudaEventRecord(a);
        readk<<<sms * 4, 512>>>((const uint4 *)p, bytes / 16, o);
        cudaEventRecord(b); cudaEventSynchronize(b);
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (r > 2 && ms * 1e-3 < best) best = ms * 1e-3;
    }
    cudaError_t e = cudaGetLastError();
    if (e) printf("read kernel: %s\n", cudaGetErrorString(e));
    cudaFree(p); cudaFree(o);
    return bytes / best / 1e9;
}

int main(int argc, char **argv) {
    char why[256] = "", name[160] = "";
    int n = ah_gpu_count(why, sizeof why);
    printf("built %d, count %d (%s)\n", ah_gpu_built(), n, why);
    uint64_t used = 0, total = 0;
    int rc = ah_gpu_mem(&used, &total, why, sizeof why);
    printf("mem rc %d used %.1f MiB total %.1f MiB (%s)\n", rc, used / 1048576.0, total / 1048576.0, rc ? why : "");
    size_t sizes[] = {64u << 20, 256u << 20, 0};
    int quick = argc > 1 && !strcmp(argv[1], "quick");
    for (int i = quick ? 0 : 0; i < (quick ? 1 : 3); i++) {
        double bw = ah_gpu_bandwidth_probe(sizes[i], name, sizeof name, why, sizeof why);
        printf("probe max %zu MiB: %.1f GB/s name '%s' (%s)\n", sizes[i] >> 20, bw, name, why);
    }
    rc = ah_gpu_mem(&used, &total, why, sizeof why);
    printf("mem after probes rc %d used %.1f MiB\n", rc, used / 1048576.0);
    if (n > 0 && !quick) {
        printf("read-only kernel, 2 GiB: %.1f GB/s\n", read_bw((size_t)2 << 30));
        printf("read-only kernel, 256 MiB: %.1f GB/s\n", read_bw((size_t)256 << 20));
        printf("read-only kernel, 32 MiB (L2): %.1f GB/s\n", read_bw((size_t)32 << 20));
    }
    ah_gpu_release();
    rc = ah_gpu_mem(&used, &total, why, sizeof why);
    printf("mem after release rc %d used %.1f MiB\n", rc, used / 1048576.0);
    return 0;
}
