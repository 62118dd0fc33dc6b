// SHA-256 (FIPS 180-4): the digest of `len` bytes at `data` into `out`.
#ifndef PII_SCRUBBER_SHA256_H
#define PII_SCRUBBER_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif
