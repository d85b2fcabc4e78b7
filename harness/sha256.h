/* sha256.h — SHA-256 (FIPS 180-4), for build, model and reference identities. */
#ifndef AH_SHA256_H
#define AH_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct ah_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} ah_sha256;

void ah_sha256_init(ah_sha256 *c);
void ah_sha256_update(ah_sha256 *c, const void *data, size_t n);
void ah_sha256_final(ah_sha256 *c, uint8_t out[32]);
/* Hex digest of a buffer into hex[65]. */
void ah_sha256_hex(const void *data, size_t n, char hex[65]);
void ah_hex(const uint8_t *b, size_t n, char *out);
/* Hex digest of the first `limit` bytes of a file (0 = whole file).
 * Returns -1 when the file cannot be read. */
int ah_sha256_file(const char *path, uint64_t limit, char hex[65]);

#endif
