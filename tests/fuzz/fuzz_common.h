/* Shared body of the adapter fuzz harnesses: one pipeline per route (built once, kept for the
 * whole run), the payload decoded through one of them, and every invariant checked:
 * decode returns HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a terminated detail and
 * no records; every accepted record has kind, sensor id and a time at or after 1970, and encodes
 * to exactly one line ending in '\n' with no other newline or CR. A broken invariant aborts.
 * A harness is data: it defines fuzz_target, and fuzz_common.c holds LLVMFuzzerTestOneInput. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct fuzz_route {
	const char *template; /* topic template, or NULL */
	const char *kind;     /* the route's default kind, or NULL */
	const char *options;  /* the route's options as JSON text */
};

/* What a harness fuzzes. An input of size bytes goes through route size % (number of routes)
 * on topic size % ntopics. */
struct fuzz_target {
	const char *adapter;
	const struct fuzz_route *routes;
	size_t nroutes;
	const char *const *topics;
	size_t ntopics;
	/* 1: route i is routes[i / 6] with the default kind set to the i % 6th canonical kind,
	 * so there are nroutes * 6 routes. */
	int every_kind;
};

/* Defined by each harness, with FUZZ_TARGET. */
extern const struct fuzz_target fuzz_target;

/* Defines fuzz_target from static arrays routes and topics. */
#define FUZZ_TARGET(adapter, routes, topics, every_kind)                                           \
	const struct fuzz_target fuzz_target = {                                                   \
	    adapter, routes, FUZZ_COUNT(routes), topics, FUZZ_COUNT(topics), every_kind}

/* libFuzzer's entry point: builds fuzz_target's pipelines on the first call (aborting on a bad
 * route), then decodes data (NUL-terminated past its length, as the journal hands it over) and
 * checks the invariants. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The ttn and chirpstack harnesses' three option sets on template: channels and decoded keys for
 * every kind and every mapping form; LPP only with dev_eui as sensor id and no link record; and
 * decoded only with device (the adapter's device name choice) as sensor id. */
#define FUZZ_LORAWAN_CHANNELS                                                                      \
	"\"channels\": {\"1\": \"temperature_c\", \"2\": {\"field\": \"salinity_ppt\", \"unit\": " \
	"\"g/l\"}, \"3\": \"ph\", \"5\": \"humidity\", \"6\": \"pressure_hpa\", \"9\": null, "     \
	"\"10\": \"time\", \"11\": {\"fields\": [null, null, \"level_m\"]}, \"13\": "              \
	"\"congested\", "                                                                          \
	"\"14\": \"vehicle_count\", \"16\": {\"field\": \"laeq_db\", \"unit\": \"dB\"}, \"17\": "  \
	"\"pm25\", \"19\": {\"field\": \"temperature_c\", \"unit\": \"K\"}}"
#define FUZZ_LORAWAN_FIELDS                                                                        \
	"\"fields\": {\"temp\": \"temperature_c\", \"hum\": {\"field\": \"humidity\", \"unit\": "  \
	"\"%RH\"}, \"battery\": null, \"probe.ph\": \"ph\", \"level\": {\"unit\": \"cm\"}, "       \
	"\"speed\": {\"field\": \"avg_speed_kmh\", \"unit\": \"m/s\"}}"
#define FUZZ_LORAWAN_MIXED "{" FUZZ_LORAWAN_CHANNELS ", " FUZZ_LORAWAN_FIELDS "}"
#define FUZZ_LORAWAN_LPP                                                                           \
	"{\"unmapped\": \"skip\", \"payload\": \"lpp\", \"sensor_id\": \"dev_eui\", \"link\": "    \
	"false, " FUZZ_LORAWAN_CHANNELS "}"
#define FUZZ_LORAWAN_DECODED(device)                                                               \
	"{\"kind\": \"weather\", \"payload\": \"decoded\", \"sensor_id\": \"" device               \
	"\", " FUZZ_LORAWAN_FIELDS "}"
#define FUZZ_LORAWAN_ROUTES(template, device)                                                      \
	{                                                                                          \
		{template, NULL, FUZZ_LORAWAN_MIXED}, {template, NULL, FUZZ_LORAWAN_LPP},          \
		    {template, NULL, FUZZ_LORAWAN_DECODED(device)},                                \
	}

#endif
