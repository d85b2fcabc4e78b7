/* gpu_probe.h — what the harness measures on the GPU itself, independently
 * of the pipeline: the device's memory bandwidth (the roofline of a decode
 * step on backend = cuda) and the device memory in use (the pipeline's
 * footprint, from outside). harness/gpu_probe.cu with CUDA; without it
 * harness/gpu_none.c, whose functions fail with a reason.
 *
 * Every function is safe to call on a machine without a GPU or a driver:
 * it returns NAN / 0 / -1 and says why in `why`, never crashes. They act on
 * the calling thread's current CUDA device (device 0 unless changed), the
 * one the engine's backend takes by default. */
#ifndef AH_GPU_PROBE_H
#define AH_GPU_PROBE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build has the CUDA probes (harness/gpu_probe.cu), else 0. */
int ah_gpu_built(void);

/* CUDA devices visible to this process (> 0), or 0 with the reason (no
 * driver, no device, built without CUDA). Creates no context. */
int ah_gpu_count(char *why, size_t cap);

/* The current device's memory bandwidth in GB/s (1e9 bytes): device-to-device
 * cudaMemcpy between two buffers of up to max_bytes each (1 GiB if 0; less
 * when less is free, at least 64 MiB), best of >= 10 copies and 100 ms,
 * timed with CUDA events, counting the bytes read plus the bytes written.
 * name (may be NULL) gets the device's name. NAN with the reason on any
 * failure. Leaves the CUDA context in place (see ah_gpu_release). */
double ah_gpu_bandwidth_probe(size_t max_bytes, char *name, size_t name_cap, char *why,
                              size_t cap);

/* Device memory in use on the current device, all processes together:
 * cudaMemGetInfo's total - free, in bytes. 0, or -1 with the reason. The
 * first call in a process creates its CUDA context (which the engine then
 * shares: take the "before" figure after that). */
int ah_gpu_mem(uint64_t *used, uint64_t *total, char *why, size_t cap);

/* Releases this process's context on the current device (cudaDeviceReset).
 * Only for a process that runs no pipeline (the --ab orchestrator): the
 * engine's own CUDA state would not survive it. */
void ah_gpu_release(void);

#ifdef __cplusplus
}
#endif
#endif
