/* libFuzzer harness for the generic JSON mapping adapter, through the whole pipeline (route,
 * adapter, topic template, limits, schema) and the line protocol encoder. Input: the payload,
 * byte for byte; its length picks one of the routes (iterating records or not).
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
    {"gw/{district}/#",
     "{\"records\": \"data.readings[*]\", \"sensor_id\": \"id\", \"time\": {\"path\": "
     "\"ts\", \"format\": \"unix_ms\", \"required\": false}, \"kind\": {\"path\": "
     "\"$.type\", \"map\": {\"aq\": \"air_quality\", \"wx\": \"weather\"}}, \"tags\": "
     "{\"site\": \"$.site\", \"station\": \"station\"}, \"fields\": {\"pm25\": {\"path\": "
     "\"pm.pm2\\\\.5\", \"unit\": \"ug/m3\"}, \"temperature_c\": {\"path\": \"env[0]\", "
     "\"type\": \"double\"}, \"humidity\": {\"path\": \"env[-1]\", \"unit\": \"%RH\"}, "
     "\"aqi_vn\": {\"path\": \"aqi\", \"type\": \"int\"}}}"},
    {"gw/{district}/#",
     "{\"sensor_id\": \"deviceId\", \"kind\": \"traffic_flow\", \"time\": {\"path\": "
     "\"timestamp\", \"format\": \"rfc3339\"}, \"tags\": {\"lane\": \"lane\"}, "
     "\"fields\": {\"vehicle_count\": {\"path\": \"count\", \"type\": \"int\", "
     "\"required\": true}, \"occupancy\": {\"path\": \"occ\", \"unit\": \"%\"}, "
     "\"lane_id\": \"lane\", \"congested\": {\"path\": \"jam\", \"type\": \"bool\"}}}"},
};

static const char *const topics[] = {"gw/phuong-1/up"};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_route r[NROUTES];
	for (size_t i = 0; i < NROUTES; i++)
		r[i] = (struct fuzz_route){routes[i].template, NULL, routes[i].options};
	fuzz_setup("jsonmap", r, NROUTES, topics, sizeof(topics) / sizeof(topics[0]));
	fuzz_decode(data, size);
	return 0;
}
