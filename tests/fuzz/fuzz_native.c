/* libFuzzer harness for the native cityhub JSON adapter, through the whole pipeline (route, adapter, topic
 * template, limits, schema) and the line protocol encoder. Input: the payload, byte for byte;
 * its length picks the topic (so the kind) and the route options.
 *
 * Invariants: decode returns HUB_OK or HUB_EREJECT; a rejection has a [a-z_] reason, a
 * terminated detail and no records; every accepted record has kind, sensor id and a time at
 * or after 1970, and encodes to exactly one line ending in '\n'. */
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

#define ADAPTER "native"

static const struct {
	char *template;
	const char *options;
} routes[] = {
    {"f/{kind}/{sensor_id}", "{}"},
    {"f/{_}/{district}", "{}"},
};

static const char *const topics[] = {"f/weather/s1", "f/air_quality/s2",   "f/traffic_flow/s3",
                                     "f/noise/s4",   "f/water_quality/s5", "f/water_level/s6"};

#define NPIPES (sizeof(routes) / sizeof(routes[0]))

static struct hub_pipeline *pipes[NPIPES];

/* Builds one pipeline per route (kept for the whole run: libFuzzer never returns). */
static void setup(void)
{
	char err[512];
	struct hub_schemas *schemas = hub_schemas_load_builtin(err, sizeof(err));
	CHECK(schemas);
	for (size_t i = 0; i < NPIPES; i++) {
		json_error_t jerr;
		struct hub_cfg_route r = {.filter = "#",
		                          .adapter = ADAPTER,
		                          .template = routes[i].template,
		                          .options = json_loads(routes[i].options, 0, &jerr)};
		struct hub_config cfg = {.routes = &r, .nroutes = 1};
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

/* Every accepted record must encode to exactly one line; a rejection leaves no records. */
static void check(int rc, struct hub_recset *rs, const struct hub_reject *rej)
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
	/* The payload is NUL-terminated past its length, as the journal hands it over. */
	char *payload = malloc(size + 1);
	CHECK(payload);
	if (size)
		memcpy(payload, data, size);
	payload[size] = '\0';
	const char *topic = topics[size % (sizeof(topics) / sizeof(topics[0]))];
	struct hub_msg msg = {.topic = topic,
	                      .topic_len = strlen(topic),
	                      .payload = (const uint8_t *)payload,
	                      .len = size,
	                      .recv_ns = 1795686000000000000LL};
	struct hub_recset rs;
	struct hub_reject rej = {0};
	const char *adapter;
	hub_recset_init(&rs, 0);
	int rc = hub_pipeline_decode(pipes[size % NPIPES], &msg, &rs, &rej, &adapter);
	check(rc, &rs, &rej);
	hub_recset_fini(&rs);
	free(payload);
	return 0;
}
