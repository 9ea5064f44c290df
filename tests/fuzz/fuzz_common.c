#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "config.h"
#include "fuzz_check.h"
#include "lineproto.h"
#include "pipeline.h"

#define MAX_PIPES 64

static const char *const kinds[] = {"water_quality", "weather",     "water_level",
                                    "traffic_flow",  "air_quality", "noise"};
#define NKINDS FUZZ_COUNT(kinds)

static struct hub_pipeline *pipes[MAX_PIPES];
static size_t npipes;

/* Route i of target t (see every_kind). */
static struct fuzz_route route_at(const struct fuzz_target *t, size_t i)
{
	if (!t->every_kind)
		return t->routes[i];
	struct fuzz_route r = t->routes[i / NKINDS];
	r.kind = kinds[i % NKINDS];
	return r;
}

/* Builds the one-route pipeline of route i; aborts on a bad route. */
static struct hub_pipeline *new_pipe(const char *adapter, size_t i, struct fuzz_route route,
                                     const struct hub_schemas *schemas)
{
	char err[512];
	json_error_t jerr;
	struct hub_cfg_route r = {.filter = "#",
	                          .adapter = (char *)adapter,
	                          .kind = (char *)route.kind,
	                          .template = (char *)route.template,
	                          .options = json_loads(route.options, 0, &jerr)};
	if (!r.options)
		fprintf(stderr, "route %zu options: %s\n", i, jerr.text);
	CHECK(r.options);
	struct hub_config cfg = {.routes = &r, .nroutes = 1};
	cfg.limits.max_payload_bytes = 1 << 20;
	cfg.limits.max_fields = 32;
	cfg.limits.max_records = 200;
	cfg.limits.max_string_bytes = 256;
	cfg.limits.max_series = 1000000;
	struct hub_pipeline *p = hub_pipeline_new(&cfg, schemas, hub_adapter_all(), err, sizeof(err));
	if (!p)
		fprintf(stderr, "%s\n", err);
	CHECK(p);
	json_decref(r.options);
	return p;
}

/* Builds the pipelines of t once; later calls do nothing. */
static void setup(const struct fuzz_target *t)
{
	if (npipes)
		return;
	char err[512];
	struct hub_schemas *schemas = hub_schemas_load_builtin(err, sizeof(err));
	size_t n = t->nroutes * (t->every_kind ? NKINDS : 1);
	CHECK(schemas && n > 0 && n <= MAX_PIPES && t->ntopics > 0);
	for (size_t i = 0; i < n; i++)
		pipes[i] = new_pipe(t->adapter, i, route_at(t, i), schemas);
	npipes = n;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup(&fuzz_target);
	char *payload = malloc(size + 1);
	CHECK(payload);
	if (size)
		memcpy(payload, data, size);
	payload[size] = '\0';
	const char *topic = fuzz_target.topics[size % fuzz_target.ntopics];
	struct hub_msg msg = {.topic = topic,
	                      .topic_len = strlen(topic),
	                      .payload = (const uint8_t *)payload,
	                      .len = size,
	                      .recv_ns = 1795686000000000000LL};
	struct hub_recset rs;
	struct hub_reject rej = {0};
	const char *adapter;
	hub_recset_init(&rs, 0);
	int rc = hub_pipeline_decode(pipes[size % npipes], &msg, &rs, &rej, &adapter);
	check(rc, &rs, &rej);
	hub_recset_fini(&rs);
	free(payload);
	return 0;
}
