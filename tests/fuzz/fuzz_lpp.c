/* libFuzzer harness for the Cayenne LPP adapter (and the shared LPP decoder), through a whole
 * one-route pipeline and the line protocol encoder. Input = the binary frame; its length picks
 * the topic (so the kind) and one of two channel maps (unmapped: reject / skip).
 *
 * Invariants: HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a terminated detail and
 * no records; every accepted record has kind, sensor id and time, and encodes to exactly one
 * line ending in '\n'. */

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

/* Channels for every kind and every mapping form (name, unit, list with holes, time, drop). */
#define CHANNELS                                                                                   \
	"\"channels\": {\"1\": \"temperature_c\", \"2\": {\"field\": \"salinity_ppt\", \"unit\": " \
	"\"g/l\"}, \"3\": \"ph\", \"4\": {\"field\": \"conductivity_us_cm\", \"unit\": "           \
	"\"uS/cm\"}, "                                                                             \
	"\"5\": \"humidity\", \"6\": \"pressure_hpa\", \"7\": \"wind_dir_deg\", \"8\": "           \
	"{\"field\": "                                                                             \
	"\"wind_speed_ms\", \"unit\": \"km/h\"}, \"9\": null, \"10\": \"time\", \"11\": "          \
	"{\"fields\": "                                                                            \
	"[null, null, \"level_m\"]}, \"12\": \"level_m\", \"13\": \"congested\", \"14\": "         \
	"\"vehicle_count\", \"15\": \"occupancy\", \"16\": {\"field\": \"laeq_db\", \"unit\": "    \
	"\"dB\"}, \"17\": \"pm25\", \"18\": \"accel\", \"19\": {\"field\": \"temperature_c\", "    \
	"\"unit\": \"K\"}, \"20\": {\"fields\": [\"pm10\", \"pm1\"]}, \"255\": \"lane_id\"}"

static const char *const options[] = {
    "{" CHANNELS "}",
    "{\"unmapped\": \"skip\", " CHANNELS "}",
};

static const char *const topics[] = {"l/water_quality/s1", "l/weather/s2",     "l/water_level/s3",
                                     "l/traffic_flow/s4",  "l/air_quality/s5", "l/noise/s6"};

#define NOPTS (sizeof(options) / sizeof(options[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_route r[NOPTS];
	for (size_t i = 0; i < NOPTS; i++)
		r[i] = (struct fuzz_route){"l/{kind}/{sensor_id}", NULL, options[i]};
	fuzz_setup("lpp", r, NOPTS, topics, sizeof(topics) / sizeof(topics[0]));
	fuzz_decode(data, size);
	return 0;
}
