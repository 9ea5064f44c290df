/* libFuzzer harness for the ChirpStack v4 event/up adapter (and the shared LoRaWAN and LPP
 * helpers), through a whole one-route pipeline and the line protocol encoder. Input = the JSON
 * payload, byte for byte; its length picks the route's default kind and one of three option sets.
 *
 * Invariants: HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a terminated detail and
 * no records; every accepted record has kind, sensor id and time, and encodes to exactly one
 * line ending in '\n'. */

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

/* Channels and decoded keys for every kind and every mapping form. */
#define CHANNELS                                                                                   \
	"\"channels\": {\"1\": \"temperature_c\", \"2\": {\"field\": \"salinity_ppt\", \"unit\": " \
	"\"g/l\"}, \"3\": \"ph\", \"5\": \"humidity\", \"6\": \"pressure_hpa\", \"9\": null, "     \
	"\"10\": \"time\", \"11\": {\"fields\": [null, null, \"level_m\"]}, \"13\": "              \
	"\"congested\", "                                                                          \
	"\"14\": \"vehicle_count\", \"16\": {\"field\": \"laeq_db\", \"unit\": \"dB\"}, \"17\": "  \
	"\"pm25\", \"19\": {\"field\": \"temperature_c\", \"unit\": \"K\"}}"
#define FIELDS                                                                                     \
	"\"fields\": {\"temp\": \"temperature_c\", \"hum\": {\"field\": \"humidity\", \"unit\": "  \
	"\"%RH\"}, \"battery\": null, \"probe.ph\": \"ph\", \"level\": {\"unit\": \"cm\"}, "       \
	"\"speed\": {\"field\": \"avg_speed_kmh\", \"unit\": \"m/s\"}}"

static const char *const options[] = {
    "{" CHANNELS ", " FIELDS "}",
    "{\"unmapped\": \"skip\", \"payload\": \"lpp\", \"sensor_id\": \"dev_eui\", \"link\": "
    "false, " CHANNELS "}",
    "{\"kind\": \"weather\", \"payload\": \"decoded\", \"sensor_id\": \"device_name\", " FIELDS "}",
};

static char *const kinds[] = {"water_quality", "weather",     "water_level",
                              "traffic_flow",  "air_quality", "noise"};

#define NOPTS (sizeof(options) / sizeof(options[0]))
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const char *const topics[] = {"application/7/device/0016c001f0000a01/event/up"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_route r[NOPTS * NKINDS];
	for (size_t i = 0; i < NOPTS * NKINDS; i++)
		r[i] = (struct fuzz_route){"application/{_}/device/{sensor_id}/event/up",
		                           kinds[i % NKINDS], options[i / NKINDS]};
	fuzz_setup("chirpstack", r, NOPTS * NKINDS, topics, 1);
	fuzz_decode(data, size);
	return 0;
}
