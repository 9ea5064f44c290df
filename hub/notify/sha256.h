/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the webhook signature. Pure functions,
 * no allocation; a context is owned by its caller. */
#ifndef HUB_SHA256_H
#define HUB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HUB_SHA256_LEN 32
#define HUB_SHA256_BLOCK 64

struct hub_sha256 {
	uint32_t h[8];
	uint64_t bytes; /* message length so far */
	uint8_t block[HUB_SHA256_BLOCK];
	size_t fill; /* bytes waiting in block */
};

/* Starts a new digest in ctx. */
void hub_sha256_init(struct hub_sha256 *ctx);

/* Feeds len bytes of p into the digest. */
void hub_sha256_update(struct hub_sha256 *ctx, const void *p, size_t len);

/* Writes the 32-byte digest into out; ctx must be initialised again before reuse. */
void hub_sha256_final(struct hub_sha256 *ctx, uint8_t out[HUB_SHA256_LEN]);

/* One-shot SHA-256 of p[0..len-1] into out. */
void hub_sha256(const void *p, size_t len, uint8_t out[HUB_SHA256_LEN]);

/* HMAC-SHA256(key, msg) into out. */
void hub_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                     uint8_t out[HUB_SHA256_LEN]);

/* Writes the 64 lower-case hex digits of a digest and a NUL into hex (at least 65 bytes). */
void hub_sha256_hex(const uint8_t digest[HUB_SHA256_LEN], char *hex);

#endif
