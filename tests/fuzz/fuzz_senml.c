/* libFuzzer harness for the SenML adapter, through the whole pipeline (route, adapter, topic
 * template, limits, schema) and the line protocol encoder. Input: the payload, byte for byte;
 * its length picks the topic (so the kind) and the route options.
 *
 * Invariants: see fuzz_common.h. */
#include "fuzz_common.h"

static const struct fuzz_route routes[] = {
    {"f/{kind}/{sensor_id}", NULL,
     "{\"fields\": {\"temp\": \"temperature_c\", \"hum\": \"humidity\", \"pres\": "
     "\"pressure_hpa\", \"vehicles_sum\": \"vehicle_count\", \"lane\": \"lane_id\"}}"},
    {"f/{kind}/{sensor_id}", NULL, "{\"sensor_id_from\": \"topic\"}"},
};

static const char *const topics[] = {"f/weather/s1", "f/air_quality/s2",   "f/traffic_flow/s3",
                                     "f/noise/s4",   "f/water_quality/s5", "f/water_level/s6"};

FUZZ_TARGET("senml", routes, topics, 0);
