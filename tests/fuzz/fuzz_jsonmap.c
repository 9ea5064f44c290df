/* libFuzzer harness for the generic JSON mapping adapter, through the whole pipeline (route,
 * adapter, topic template, limits, schema) and the line protocol encoder. Input: the payload,
 * byte for byte; its length picks one of the routes (iterating records or not).
 *
 * Invariants: see fuzz_common.h. */
#include "fuzz_common.h"

static const struct fuzz_route routes[] = {
    {"gw/{district}/#", NULL,
     "{\"records\": \"data.readings[*]\", \"sensor_id\": \"id\", \"time\": {\"path\": "
     "\"ts\", \"format\": \"unix_ms\", \"required\": false}, \"kind\": {\"path\": "
     "\"$.type\", \"map\": {\"aq\": \"air_quality\", \"wx\": \"weather\"}}, \"tags\": "
     "{\"site\": \"$.site\", \"station\": \"station\"}, \"fields\": {\"pm25\": {\"path\": "
     "\"pm.pm2\\\\.5\", \"unit\": \"ug/m3\"}, \"temperature_c\": {\"path\": \"env[0]\", "
     "\"type\": \"double\"}, \"humidity\": {\"path\": \"env[-1]\", \"unit\": \"%RH\"}, "
     "\"aqi_vn\": {\"path\": \"aqi\", \"type\": \"int\"}}}"},
    {"gw/{district}/#", NULL,
     "{\"sensor_id\": \"deviceId\", \"kind\": \"traffic_flow\", \"time\": {\"path\": "
     "\"timestamp\", \"format\": \"rfc3339\"}, \"tags\": {\"lane\": \"lane\"}, "
     "\"fields\": {\"vehicle_count\": {\"path\": \"count\", \"type\": \"int\", "
     "\"required\": true}, \"occupancy\": {\"path\": \"occ\", \"unit\": \"%\"}, "
     "\"lane_id\": \"lane\", \"congested\": {\"path\": \"jam\", \"type\": \"bool\"}}}"},
};

static const char *const topics[] = {"gw/phuong-1/up"};

FUZZ_TARGET("jsonmap", routes, topics, 0);
