/* SHA-256 as specified in FIPS 180-4 section 6.2, HMAC as in RFC 2104 (see sha256.h). */
#include "sha256.h"

#include <string.h>

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 6.2.2: one 512-bit block into the hash value h. */
static void compress(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = s1 + w[t - 7] + s0 + w[t - 16];
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
		              K[t] + w[t];
		uint32_t t2 =
		    (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

void hub_sha256_init(struct hub_sha256 *ctx)
{
	/* FIPS 180-4 5.3.3 */
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(ctx->h, h0, sizeof h0);
	ctx->bytes = 0;
	ctx->fill = 0;
}

void hub_sha256_update(struct hub_sha256 *ctx, const void *p, size_t len)
{
	const uint8_t *in = p;
	ctx->bytes += len;
	while (len > 0) {
		size_t n = HUB_SHA256_BLOCK - ctx->fill;
		if (n > len)
			n = len;
		memcpy(ctx->block + ctx->fill, in, n);
		ctx->fill += n;
		in += n;
		len -= n;
		if (ctx->fill == HUB_SHA256_BLOCK) {
			compress(ctx->h, ctx->block);
			ctx->fill = 0;
		}
	}
}

void hub_sha256_final(struct hub_sha256 *ctx, uint8_t out[HUB_SHA256_LEN])
{
	/* FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, the length in bits (64 bits). */
	uint64_t bits = ctx->bytes * 8;
	ctx->block[ctx->fill++] = 0x80;
	if (ctx->fill > 56) {
		memset(ctx->block + ctx->fill, 0, HUB_SHA256_BLOCK - ctx->fill);
		compress(ctx->h, ctx->block);
		ctx->fill = 0;
	}
	memset(ctx->block + ctx->fill, 0, 56 - ctx->fill);
	for (int i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(ctx->h, ctx->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)ctx->h[i];
	}
	memset(ctx, 0, sizeof *ctx);
}

void hub_sha256(const void *p, size_t len, uint8_t out[HUB_SHA256_LEN])
{
	struct hub_sha256 ctx;
	hub_sha256_init(&ctx);
	hub_sha256_update(&ctx, p, len);
	hub_sha256_final(&ctx, out);
}

void hub_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                     uint8_t out[HUB_SHA256_LEN])
{
	/* RFC 2104: keys longer than a block are hashed first, then padded with zeros. */
	uint8_t k[HUB_SHA256_BLOCK] = {0}, pad[HUB_SHA256_BLOCK], inner[HUB_SHA256_LEN];
	if (keylen > HUB_SHA256_BLOCK)
		hub_sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	struct hub_sha256 ctx;
	for (int i = 0; i < HUB_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	hub_sha256_init(&ctx);
	hub_sha256_update(&ctx, pad, sizeof pad);
	hub_sha256_update(&ctx, msg, len);
	hub_sha256_final(&ctx, inner);
	for (int i = 0; i < HUB_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	hub_sha256_init(&ctx);
	hub_sha256_update(&ctx, pad, sizeof pad);
	hub_sha256_update(&ctx, inner, sizeof inner);
	hub_sha256_final(&ctx, out);
	memset(k, 0, sizeof k);
	memset(pad, 0, sizeof pad);
}

void hub_sha256_hex(const uint8_t digest[HUB_SHA256_LEN], char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < HUB_SHA256_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[2 * HUB_SHA256_LEN] = '\0';
}
