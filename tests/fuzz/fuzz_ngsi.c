/* libFuzzer harness for the NGSI adapter, through the whole pipeline (route, adapter, topic
 * template, limits, schema) and the line protocol encoder. Input: the payload, byte for byte;
 * its length picks the route (unknown attributes rejected or skipped).
 *
 * Invariants: see fuzz_common.h. */
#include "fuzz_common.h"

static const struct fuzz_route routes[] = {
    {"fiware/{district}/#", NULL, "{\"attributes\": {\"dissolvedOxygen\": \"do_mg_l\"}}"},
    {"fiware/{district}/#", NULL, "{\"unknown_attributes\": \"skip\"}"},
};

static const char *const topics[] = {"fiware/phuong-1/notify"};

FUZZ_TARGET("ngsi", routes, topics, 0);
