/* Shared body of the adapter fuzz harnesses: one pipeline per route (built once, kept for the
 * whole run), the payload decoded through one of them, and every invariant checked:
 * decode returns HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a terminated detail and
 * no records; every accepted record has kind, sensor id and a time at or after 1970, and encodes
 * to exactly one line ending in '\n' with no other newline or CR. A broken invariant aborts. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_route {
	const char *template; /* topic template, or NULL */
	const char *kind;     /* the route's default kind, or NULL */
	const char *options;  /* the route's options as JSON text */
};

/* Builds the pipelines for adapter (once; later calls do nothing). Aborts on a bad route. */
void fuzz_setup(const char *adapter, const struct fuzz_route *routes, size_t nroutes,
                const char *const *topics, size_t ntopics);

/* Decodes data as a payload (NUL-terminated past its length, as the journal hands it over)
 * through route size % nroutes on topic size % ntopics, and checks the invariants. */
void fuzz_decode(const uint8_t *data, size_t size);

#endif
