/* libFuzzer harness for the Cayenne LPP adapter (and the shared LPP decoder), through a whole
 * one-route pipeline and the line protocol encoder. Input = the binary frame; its length picks
 * the topic (so the kind) and one of two channel maps (unmapped: reject / skip).
 *
 * Invariants: see fuzz_common.h. */
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

static const struct fuzz_route routes[] = {
    {"l/{kind}/{sensor_id}", NULL, "{" CHANNELS "}"},
    {"l/{kind}/{sensor_id}", NULL, "{\"unmapped\": \"skip\", " CHANNELS "}"},
};

static const char *const topics[] = {"l/water_quality/s1", "l/weather/s2",     "l/water_level/s3",
                                     "l/traffic_flow/s4",  "l/air_quality/s5", "l/noise/s6"};

FUZZ_TARGET("lpp", routes, topics, 0);
