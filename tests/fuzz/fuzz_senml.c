/* libFuzzer harness for the SenML adapter, through the whole pipeline (route, adapter, topic
 * template, limits, schema) and the line protocol encoder. Input: the payload, byte for byte;
 * its length picks the topic (so the kind) and the route options.
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
    {"f/{kind}/{sensor_id}",
     "{\"fields\": {\"temp\": \"temperature_c\", \"hum\": \"humidity\", \"pres\": "
     "\"pressure_hpa\", \"vehicles_sum\": \"vehicle_count\", \"lane\": \"lane_id\"}}"},
    {"f/{kind}/{sensor_id}", "{\"sensor_id_from\": \"topic\"}"},
};

static const char *const topics[] = {"f/weather/s1", "f/air_quality/s2",   "f/traffic_flow/s3",
                                     "f/noise/s4",   "f/water_quality/s5", "f/water_level/s6"};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_route r[NROUTES];
	for (size_t i = 0; i < NROUTES; i++)
		r[i] = (struct fuzz_route){routes[i].template, NULL, routes[i].options};
	fuzz_setup("senml", r, NROUTES, topics, sizeof(topics) / sizeof(topics[0]));
	fuzz_decode(data, size);
	return 0;
}
