/* libFuzzer harness for the NGSI adapter, through the whole pipeline (route, adapter, topic
 * template, limits, schema) and the line protocol encoder. Input: the payload, byte for byte;
 * its length picks the route (unknown attributes rejected or skipped).
 *
 * Invariants: decode returns HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a
 * terminated detail and no records; every accepted record has kind, sensor id and a time at
 * or after 1970, and encodes to exactly one line ending in '\n'. */

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

static const struct {
	char *template;
	const char *options;
} routes[] = {
    {"fiware/{district}/#", "{\"attributes\": {\"dissolvedOxygen\": \"do_mg_l\"}}"},
    {"fiware/{district}/#", "{\"unknown_attributes\": \"skip\"}"},
};

static const char *const topics[] = {"fiware/phuong-1/notify"};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_route r[NROUTES];
	for (size_t i = 0; i < NROUTES; i++)
		r[i] = (struct fuzz_route){routes[i].template, NULL, routes[i].options};
	fuzz_setup("ngsi", r, NROUTES, topics, sizeof(topics) / sizeof(topics[0]));
	fuzz_decode(data, size);
	return 0;
}
