/* libFuzzer harness for The Things Stack v3 uplink adapter (and the shared LoRaWAN and LPP
 * helpers), through a whole one-route pipeline and the line protocol encoder. Input = the JSON
 * payload, byte for byte; its length picks the route's default kind and one of three option sets.
 *
 * Invariants: HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a terminated detail and
 * no records; every accepted record has kind, sensor id and time, and encodes to exactly one
 * line ending in '\n'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "config.h"
#include "lineproto.h"
#include "pipeline.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

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
    "{\"kind\": \"weather\", \"payload\": \"decoded\", \"sensor_id\": \"device_id\", " FIELDS "}",
};

static char *const kinds[] = {"water_quality", "weather",     "water_level",
                                    "traffic_flow",  "air_quality", "noise"};

#define NOPTS (sizeof(options) / sizeof(options[0]))
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
#define NPIPES (NOPTS * NKINDS)

static struct hub_pipeline *pipes[NPIPES];

static void setup(void)
{
	char err[512];
	struct hub_schemas *schemas = hub_schemas_load_builtin(err, sizeof(err));
	CHECK(schemas);
	for (size_t i = 0; i < NPIPES; i++) {
		json_error_t jerr;
		struct hub_cfg_route r = {.filter = "#",
		                          .adapter = "ttn",
		                          .kind = kinds[i % NKINDS],
		                          .template = "v3/{_}/devices/{sensor_id}/up",
		                          .options = json_loads(options[i / NKINDS], 0, &jerr)};
		struct hub_config cfg = {.routes = &r, .nroutes = 1};
		if (!r.options)
			fprintf(stderr, "options %zu: %s\n", i, jerr.text);
		CHECK(r.options);
		cfg.limits.max_payload_bytes = 1 << 20;
		cfg.limits.max_fields = 32;
		cfg.limits.max_records = 200;
		cfg.limits.max_string_bytes = 256;
		cfg.limits.max_series = 1000000;
		pipes[i] = hub_pipeline_new(&cfg, schemas, err, sizeof(err));
		if (!pipes[i])
			fprintf(stderr, "%s\n", err);
		CHECK(pipes[i]);
		json_decref(r.options);
	}
}

static int reason_ok(const char *r)
{
	if (!r || !*r)
		return 0;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || *r == '_'))
			return 0;
	return 1;
}

static void check(int rc, const struct hub_recset *rs, const struct hub_reject *rej)
{
	CHECK(rc == HUB_OK || rc == HUB_EREJECT);
	if (rc != HUB_OK) {
		CHECK(reason_ok(rej->reason));
		CHECK(memchr(rej->detail, '\0', sizeof(rej->detail)) != NULL);
		CHECK(rs->n == 0);
		return;
	}
	CHECK(rs->n > 0);
	struct hub_buf line = {0};
	for (size_t i = 0; i < rs->n; i++) {
		const struct hub_record *rec = &rs->recs[i];
		CHECK(rec->kind && rec->sensor_id && rec->has_ts && rec->ts_ns >= 0);
		hub_buf_clear(&line);
		CHECK(hub_lp_encode(&line, rec) == HUB_OK);
		CHECK(line.len > 0 && line.data[line.len - 1] == '\n');
		CHECK(memchr(line.data, '\n', line.len) == line.data + line.len - 1);
		CHECK(memchr(line.data, '\r', line.len) == NULL);
	}
	hub_buf_fini(&line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		setup();
		ready = 1;
	}
	/* Exactly size bytes plus the NUL the journal adds: any over-read is caught by ASan. */
	uint8_t *payload = malloc(size + 1);
	CHECK(payload);
	if (size)
		memcpy(payload, data, size);
	payload[size] = '\0';
	const char *topic = "v3/mytho@ttn/devices/dev-1/up";
	struct hub_msg msg = {.topic = topic,
	                      .topic_len = strlen(topic),
	                      .payload = payload,
	                      .len = size,
	                      .recv_ns = 1795686000000000000LL};
	struct hub_recset rs;
	struct hub_reject rej = {0};
	const char *adapter;
	hub_recset_init(&rs, 0);
	check(hub_pipeline_decode(pipes[size % NPIPES], &msg, &rs, &rej, &adapter), &rs, &rej);
	hub_recset_fini(&rs);
	free(payload);
	return 0;
}
