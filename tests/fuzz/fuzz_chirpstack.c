/* libFuzzer harness for the ChirpStack v4 event/up adapter (and the shared LoRaWAN and LPP
 * helpers), through a whole one-route pipeline and the line protocol encoder. Input = the JSON
 * payload, byte for byte; its length picks the route's default kind and one of three option sets.
 *
 * Invariants: see fuzz_common.h. */
#include "fuzz_common.h"

static const struct fuzz_route routes[] =
    FUZZ_LORAWAN_ROUTES("application/{_}/device/{sensor_id}/event/up", "device_name");

static const char *const topics[] = {"application/7/device/0016c001f0000a01/event/up"};

FUZZ_TARGET("chirpstack", routes, topics, 1);
