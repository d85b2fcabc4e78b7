/* dtype.c — the table of ggml tensor types (block size and bytes per block,
 * for every id a GGUF may hold) and fp16/bf16 conversions. */
#include <ctype.h>
#include <string.h>

#include "quant.h"

/* Ids a GGUF may name. `weight` marks those this engine computes with; the
 * rest are known so that a file holding them is reported as "unsupported
 * type" rather than "corrupt". */
static const ai_dtype_info DTYPES[AI_DTYPE_MAX] = {
    [AI_F32] = {"f32", 1, 4, true},
    [AI_F16] = {"f16", 1, 2, true},
    [AI_Q4_0] = {"q4_0", 32, 18, true},
    [AI_Q4_1] = {"q4_1", 32, 20, true},
    [AI_Q5_0] = {"q5_0", 32, 22, true},
    [AI_Q5_1] = {"q5_1", 32, 24, true},
    [AI_Q8_0] = {"q8_0", 32, 34, true},
    [AI_Q8_1] = {"q8_1", 32, 36, false},
    [AI_Q2_K] = {"q2_k", 256, 84, false},
    [AI_Q3_K] = {"q3_k", 256, 110, false},
    [AI_Q4_K] = {"q4_k", 256, 144, true},
    [AI_Q5_K] = {"q5_k", 256, 176, true},
    [AI_Q6_K] = {"q6_k", 256, 210, true},
    [AI_Q8_K] = {"q8_k", 256, 292, false},
    [16] = {"iq2_xxs", 256, 66, false},
    [17] = {"iq2_xs", 256, 74, false},
    [18] = {"iq3_xxs", 256, 98, false},
    [19] = {"iq1_s", 256, 50, false},
    [20] = {"iq4_nl", 32, 18, false},
    [21] = {"iq3_s", 256, 110, false},
    [22] = {"iq2_s", 256, 82, false},
    [23] = {"iq4_xs", 256, 136, false},
    [24] = {"i8", 1, 1, false},
    [25] = {"i16", 1, 2, false},
    [26] = {"i32", 1, 4, false},
    [27] = {"i64", 1, 8, false},
    [28] = {"f64", 1, 8, false},
    [29] = {"iq1_m", 256, 56, false},
    [AI_BF16] = {"bf16", 1, 2, true},
    [34] = {"tq1_0", 256, 54, false},
    [35] = {"tq2_0", 256, 66, false},
    [39] = {"mxfp4", 32, 17, false},
};

const ai_dtype_info *ai_dtype_get(uint32_t type) {
    if (type >= AI_DTYPE_MAX || !DTYPES[type].name) return NULL;
    return &DTYPES[type];
}

int ai_dtype_from_name(const char *name) {
    char low[16];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof low) return -1;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    for (int t = 0; t < AI_DTYPE_MAX; t++)
        if (DTYPES[t].name && !strcmp(DTYPES[t].name, low)) return t;
    return -1;
}

size_t ai_row_bytes(uint32_t type, int64_t n) {
    const ai_dtype_info *d = ai_dtype_get(type);
    if (!d || n < 0 || n % d->block) return 0;
    return (size_t)(n / d->block) * (size_t)d->type_size;
}

/* IEEE half <-> single, bit-level so results do not depend on the compiler's
 * _Float16 support. */
float ai_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ai_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t mant = x & 0x7fffff;
    if (exp == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow → inf */
    if (e <= 0) {                                  /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: correct */
    return (uint16_t)half;
}

float ai_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ai_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
