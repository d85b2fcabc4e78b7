/* blocks.h — the GGUF/ggml block layouts, bit for bit, defined once for the
 * C kernels and the CUDA backend (it compiles as C and as CUDA C++, as
 * ggml-common.h does).
 *
 * Everything is little-endian. fp16 fields are raw IEEE half bits
 * (ai_f16_to_f32). A "block" covers QK elements of a row; a row is a plain
 * array of blocks.
 */
#ifndef AI_BLOCKS_H
#define AI_BLOCKS_H

#include <stdint.h>

#ifdef __cplusplus
#define AI_STATIC_ASSERT static_assert
#else
#define AI_STATIC_ASSERT _Static_assert
#endif

#ifdef __CUDACC__
#define AI_HD __host__ __device__
#else
#define AI_HD
#endif

#define QK 32   /* elements per block of the 32-formats */
#define QKK 256 /* elements per super-block of the K formats */

/* Q4_0: x = d * (q - 8), q in 0..15. qs[j] holds element j in its low
 * nibble and element j+16 in its high nibble. */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_q4_0;
/* Q4_1: x = d * q + m, q in 0..15, same nibble order as Q4_0. */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } blk_q4_1;
/* Q5_0: x = d * (q - 16), q in 0..31: low 4 bits as in Q4_0, bit 4 of
 * element j is bit j of qh (read as a little-endian uint32). */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_0;
/* Q5_1: x = d * q + m, q in 0..31, bits as in Q5_0. */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_1;
/* Q8_0: x = d * q, q in -128..127 (the quantizer writes -127..127). */
typedef struct { uint16_t d; int8_t qs[QK]; } blk_q8_0;
/* Q8_1 (activations only): as Q8_0, plus s = d * sum(qs) (fp16). */
typedef struct { uint16_t d, s; int8_t qs[QK]; } blk_q8_1;

/* Q4_K: 8 sub-blocks of 32. Sub-block j has a 6-bit scale sc_j and a 6-bit
 * min m_j packed in scales[12] (see k4_scale_min);
 * x = d * sc_j * q - dmin * m_j, q in 0..15. qs is laid out in 4 chunks of
 * 32 bytes; chunk c holds sub-block 2c in its low nibbles and 2c+1 in its
 * high nibbles. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QKK / 2];
} blk_q4_K;
/* Q5_K: as Q4_K with a fifth bit: bit 4 of element l of sub-block j is bit
 * j of qh[l] (l in 0..31). */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QKK / 8];
    uint8_t qs[QKK / 2];
} blk_q5_K;
/* Q6_K: 16 sub-blocks of 16, int8 scale each; x = d * sc * (q - 32), q in
 * 0..63. Per half (128 elements) h: ql[64h + l] holds the low nibbles of
 * elements l (low) and l+64 (high); ql[64h + 32 + l] those of l+32 and l+96;
 * qh[32h + l] holds the top 2 bits of l, l+32, l+64, l+96 at bit 0, 2, 4, 6
 * (l in 0..31, element indexes relative to the half). */
typedef struct {
    uint8_t ql[QKK / 2];
    uint8_t qh[QKK / 4];
    int8_t scales[QKK / 16];
    uint16_t d;
} blk_q6_K;
/* Q8_K (activations only): float scale, bsums[g] = sum of qs[16g..16g+15]. */
typedef struct {
    float d;
    int8_t qs[QKK];
    int16_t bsums[QKK / 16];
} blk_q8_K;

AI_STATIC_ASSERT(sizeof(blk_q4_0) == 18, "q4_0 block");
AI_STATIC_ASSERT(sizeof(blk_q4_1) == 20, "q4_1 block");
AI_STATIC_ASSERT(sizeof(blk_q5_0) == 22, "q5_0 block");
AI_STATIC_ASSERT(sizeof(blk_q5_1) == 24, "q5_1 block");
AI_STATIC_ASSERT(sizeof(blk_q8_0) == 34, "q8_0 block");
AI_STATIC_ASSERT(sizeof(blk_q8_1) == 36, "q8_1 block");
AI_STATIC_ASSERT(sizeof(blk_q4_K) == 144, "q4_K block");
AI_STATIC_ASSERT(sizeof(blk_q5_K) == 176, "q5_K block");
AI_STATIC_ASSERT(sizeof(blk_q6_K) == 210, "q6_K block");
AI_STATIC_ASSERT(sizeof(blk_q8_K) == 292, "q8_K block");

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block:
 * j < 4: low 6 bits of scales[j] and scales[j+4];
 * j >= 4: low nibble / high nibble of scales[j+4], with the top 2 bits taken
 * from the top 2 bits of scales[j-4] / scales[j]. */
static inline AI_HD void k4_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

#endif
