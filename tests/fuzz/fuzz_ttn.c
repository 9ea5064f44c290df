/* libFuzzer harness for The Things Stack v3 uplink adapter (and the shared LoRaWAN and LPP
 * helpers), through a whole one-route pipeline and the line protocol encoder. Input = the JSON
 * payload, byte for byte; its length picks the route's default kind and one of three option sets.
 *
 * Invariants: see fuzz_common.h. */
#include "fuzz_common.h"

static const struct fuzz_route routes[] =
    FUZZ_LORAWAN_ROUTES("v3/{_}/devices/{sensor_id}/up", "device_id");

static const char *const topics[] = {"v3/mytho@ttn/devices/dev-1/up"};

FUZZ_TARGET("ttn", routes, topics, 1);
