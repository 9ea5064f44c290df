/* Unit tests for the live state (hub/live.h): a sensor's state through ok, stale, alerting and
 * missing with the stream events each change makes; the per-minute ring of the last hour;
 * save/load giving the same replies; the registry file (YAML and CSV, and its errors with
 * file:line); the stream ring (order, filters, overwritten events); and the memory that 10,000
 * sensors take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "live.h"

#define S_NS INT64_C(1000000000)
#define MIN_NS (60 * S_NS)
/* 2026-12-04T00:00:00Z */
#define T0 (INT64_C(1796342400) * S_NS)

static struct hub_schemas *schemas;

static int setup(void **state)
{
	char err[256];
	(void)state;
	schemas = hub_schemas_load_builtin(err, sizeof(err));
	return schemas ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	hub_schemas_free(schemas);
	return 0;
}

/* One record of kind for sensor with field = v (event time ts), tag district. */
static void feed(struct hub_live *l, const char *kind, const char *sensor, const char *district,
		 const char *field, double v, int64_t ts, int64_t recv)
{
	struct hub_recset rs;
	hub_recset_init(&rs, 0);
	struct hub_record *r = hub_recset_add(&rs);
	r->kind = kind;
	r->sensor_id = sensor;
	r->ts_ns = ts;
	r->has_ts = 1;
	if (district)
		hub_record_set_tag(&rs, r, "district", district);
	hub_record_add_double(&rs, r, field, NULL, v);
	hub_live_record(l, r, recv);
	hub_recset_fini(&rs);
}

static json_t *sensor(struct hub_live *l, const char *id)
{
	json_t *s = hub_live_sensor_json(l, id);
	assert_non_null(s);
	return s;
}

static void assert_state(struct hub_live *l, const char *id, const char *want)
{
	json_t *s = sensor(l, id);
	const char *got = json_string_value(json_object_get(s, "state"));
	if (strcmp(got, want) != 0) {
		print_error("%s: state %s, want %s\n", id, got, want);
		fail();
	}
	json_decref(s);
}

/* The stream's events after *cursor as one string. */
static char *events(struct hub_live *l, uint64_t *cursor, unsigned types)
{
	struct hub_live_filter f = {NULL, NULL, types};
	struct hub_buf b = {0};
	hub_live_stream_read(l, cursor, &f, &b, 1 << 20);
	return b.data ? b.data : hub_xstrdup("");
}

static json_t *alert_event(const char *state, const char *sensor, const char *severity)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:{s:s}, s:{s:s}}", "rule", "salinity",
			 "sensor_id", sensor, "state", state, "severity", severity, "starts_at",
			 "2026-12-04T00:10:00Z", "value", 4.2, "labels", "district", "p6",
			 "annotations", "summary_en", "salty");
}

static void states_and_their_events(void **state)
{
	(void)state;
	struct hub_live *l = hub_live_new(schemas, 100);
	uint64_t cursor = 0;
	hub_live_stream_listen(l, 1);
	/* every 10 s for a minute: the interval is learned as 10 s */
	for (int i = 0; i < 7; i++)
		feed(l, "water_quality", "wq-1", "p6", "salinity_ppt", 1.0 + i, T0 + i * 10 * S_NS,
		     T0 + i * 10 * S_NS);
	assert_state(l, "wq-1", "ok");
	json_t *s = sensor(l, "wq-1");
	assert_true(fabs(json_real_value(json_object_get(s, "interval_s")) - 10.0) < 0.01);
	json_t *v = json_object_get(json_object_get(s, "values"), "salinity_ppt");
	assert_true(json_real_value(json_object_get(v, "value")) == 7.0);
	assert_string_equal(json_string_value(json_object_get(v, "unit")), "g/l");
	assert_string_equal(json_string_value(json_object_get(v, "ts")),
			    "2026-12-04T00:01:00.000000000Z");
	json_decref(s);
	/* 3 x 10 s = 30 s, but never stale before 120 s of silence */
	hub_live_tick(l, T0 + 60 * S_NS + 119 * S_NS);
	assert_state(l, "wq-1", "ok");
	hub_live_tick(l, T0 + 60 * S_NS + 121 * S_NS);
	assert_state(l, "wq-1", "stale");
	feed(l, "water_quality", "wq-1", "p6", "salinity_ppt", 4.2, T0 + 190 * S_NS, T0 + 190 * S_NS);
	assert_state(l, "wq-1", "ok");
	json_t *ev = alert_event("firing", "wq-1", "major");
	hub_live_alert(l, ev);
	json_decref(ev);
	assert_state(l, "wq-1", "alerting");
	s = sensor(l, "wq-1");
	assert_string_equal(json_string_value(json_object_get(s, "severity")), "major");
	assert_int_equal(json_array_size(json_object_get(s, "alerts")), 1);
	json_decref(s);
	ev = alert_event("resolved", "wq-1", "major");
	hub_live_alert(l, ev);
	json_decref(ev);
	assert_state(l, "wq-1", "ok");
	char *text = events(l, &cursor, HUB_LIVE_EV_SENSOR);
	const char *want[] = {"\"state\":\"ok\",\"severity\":null", "\"state\":\"stale\"",
			      "\"state\":\"ok\"", "\"state\":\"alerting\",\"severity\":\"major\"",
			      "\"state\":\"ok\""};
	const char *p = text;
	for (size_t i = 0; i < 5; i++) {
		p = strstr(p, want[i]);
		if (!p) {
			print_error("sensor event %zu (%s) missing in:\n%s\n", i, want[i], text);
			fail();
		}
		p++;
	}
	assert_null(strstr(p, "event: sensor"));
	free(text);
	json_t *al = hub_live_alerts_json(l);
	assert_int_equal(json_array_size(json_object_get(al, "active")), 0);
	assert_int_equal(json_array_size(json_object_get(al, "recent")), 2);
	json_decref(al);
	/* the engine's active list after a restart wins: pending ones are not active */
	json_t *act = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:f}, {s:s, s:s, s:s, s:s}]", "rule",
				"salinity", "sensor_id", "wq-1", "state", "firing", "severity",
				"critical", "since", "2026-12-04T00:10:00Z", "value", 5.0, "rule",
				"other", "sensor_id", "wq-1", "state", "pending", "severity", "info");
	hub_live_set_active(l, act);
	s = sensor(l, "wq-1");
	assert_string_equal(json_string_value(json_object_get(s, "state")), "alerting");
	assert_string_equal(json_string_value(json_object_get(s, "severity")), "critical");
	json_t *one = json_array_get(json_object_get(s, "alerts"), 0);
	assert_true(json_is_null(json_object_get(one, "level")));
	assert_null(json_object_get(one, "state"));
	json_decref(s);
	json_array_clear(act);
	hub_live_set_active(l, act);
	json_decref(act);
	assert_state(l, "wq-1", "ok");
	hub_live_free(l);
}

static void ring_of_the_last_hour(void **state)
{
	(void)state;
	struct hub_live *l = hub_live_new(schemas, 100);
	/* two messages a minute for 90 minutes */
	for (int m = 0; m < 90; m++)
		for (int k = 0; k < 2; k++)
			feed(l, "noise", "n-1", NULL, "laeq_db", 50, T0 + m * MIN_NS + k * 30 * S_NS,
			     T0 + m * MIN_NS + k * 30 * S_NS);
	hub_live_reject(l, "n-1", T0 + 89 * MIN_NS + 40 * S_NS);
	hub_live_reject(l, "nobody", T0 + 89 * MIN_NS);
	json_t *s = sensor(l, "n-1");
	assert_int_equal(json_integer_value(json_object_get(s, "msgs_1h")), 120);
	assert_int_equal(json_integer_value(json_object_get(s, "rejects_1h")), 1);
	json_decref(s);
	assert_null(hub_live_sensor_json(l, "nobody"));
	/* 30 minutes later only the last 30 minutes of messages are within the hour */
	hub_live_tick(l, T0 + 119 * MIN_NS + 59 * S_NS);
	s = sensor(l, "n-1");
	assert_int_equal(json_integer_value(json_object_get(s, "msgs_1h")), 60);
	json_decref(s);
	hub_live_tick(l, T0 + 150 * MIN_NS);
	s = sensor(l, "n-1");
	assert_int_equal(json_integer_value(json_object_get(s, "msgs_1h")), 0);
	assert_int_equal(json_integer_value(json_object_get(s, "rejects_1h")), 0);
	json_decref(s);
	hub_live_free(l);
}

static void save_load_same_replies(void **state)
{
	(void)state;
	struct hub_live *l = hub_live_new(schemas, 100);
	for (int i = 0; i < 5; i++) {
		feed(l, "water_level", "wl-1", "p1", "level_m", 1.2 + i * 0.1, T0 + i * MIN_NS,
		     T0 + i * MIN_NS);
		feed(l, "air_quality", "aq-\"q\"", "p2", "pm25", 30 + i, T0 + i * MIN_NS,
		     T0 + i * MIN_NS + S_NS);
	}
	json_t *ev = alert_event("firing", "wl-1", "critical");
	hub_live_alert(l, ev);
	json_decref(ev);
	struct hub_buf b = {0};
	hub_live_save(l, &b, NULL, NULL);
	json_error_t jerr;
	json_t *saved = json_loads(b.data, 0, &jerr);
	if (!saved) {
		print_error("not JSON: %s: %s\n", jerr.text, b.data);
		fail();
	}
	struct hub_live *l2 = hub_live_new(schemas, 100);
	assert_int_equal(hub_live_load(l2, saved), HUB_OK);
	json_t *a = hub_live_sensors_json(l, NULL, NULL, NULL);
	json_t *c = hub_live_sensors_json(l2, NULL, NULL, NULL);
	assert_true(json_equal(a, c));
	assert_int_equal(json_integer_value(json_object_get(c, "count")), 2);
	json_decref(a);
	json_decref(c);
	a = hub_live_alerts_json(l);
	c = hub_live_alerts_json(l2);
	assert_true(json_equal(a, c));
	json_decref(a);
	json_decref(c);
	/* stream ids go on from where they were */
	assert_int_equal(hub_live_stream_head(l2), hub_live_stream_head(l));
	assert_state(l2, "wl-1", "alerting");
	json_t *bad = json_pack("{s:i}", "version", 99);
	assert_int_equal(hub_live_load(l2, bad), HUB_EINVAL);
	json_decref(bad);
	json_decref(saved);
	hub_buf_fini(&b);
	hub_live_free(l);
	hub_live_free(l2);
}

static char *write_tmp(const char *name, const char *text)
{
	char *path = malloc(256);
	snprintf(path, 256, "/tmp/cityhub-test-live-%d-%s", (int)getpid(), name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void registry_yaml_and_csv(void **state)
{
	(void)state;
	char err[512] = "";
	char *yaml = write_tmp("reg.yaml", "sensors:\n"
					   "  - id: wl-1\n    kind: water_level\n    district: p1\n"
					   "    lat: 10.36\n    lon: 106.37\n"
					   "    name_vi: \"Cầu Quay\"\n    name_en: Quay bridge\n"
					   "    interval_s: 60\n"
					   "  - id: aq-1\n    kind: air_quality\n");
	char *csv = write_tmp("reg.csv", "id,kind,district,lat,lon,name_vi,name_en,interval_s\n"
					 "# comment\n"
					 "wq-1,water_quality,p6,10.35,106.36,\"Trạm, cống\",Sluice,300\n");
	struct hub_live *l = hub_live_new(schemas, 100);
	assert_int_equal(hub_live_load_registry(l, yaml, err, sizeof(err)), HUB_OK);
	assert_int_equal(hub_live_load_registry(l, csv, err, sizeof(err)), HUB_OK);
	json_t *all = hub_live_sensors_json(l, NULL, NULL, "missing");
	assert_int_equal(json_integer_value(json_object_get(all, "count")), 3);
	json_decref(all);
	json_t *s = sensor(l, "wq-1");
	assert_string_equal(json_string_value(json_object_get(s, "name_vi")), "Trạm, cống");
	assert_true(fabs(json_real_value(json_object_get(s, "lat")) - 10.35) < 1e-5);
	assert_true(json_is_null(json_object_get(s, "last_seen")));
	json_decref(s);
	s = sensor(l, "wl-1");
	assert_string_equal(json_string_value(json_object_get(s, "name_en")), "Quay bridge");
	assert_true(json_real_value(json_object_get(s, "interval_s")) == 60.0);
	json_decref(s);
	feed(l, "water_level", "wl-1", NULL, "level_m", 1.0, T0, T0);
	assert_state(l, "wl-1", "ok");
	s = sensor(l, "wl-1");
	assert_string_equal(json_string_value(json_object_get(s, "district")), "p1");
	json_decref(s);
	/* the registry's interval: stale after 3 x 60 s = 180 s */
	hub_live_tick(l, T0 + 170 * S_NS);
	assert_state(l, "wl-1", "ok");
	hub_live_tick(l, T0 + 181 * S_NS);
	assert_state(l, "wl-1", "stale");
	assert_state(l, "aq-1", "missing");
	json_t *d = hub_live_districts_json(l);
	assert_int_equal(json_array_size(json_object_get(d, "districts")), 3);
	json_decref(d);
	hub_live_free(l);
	unlink(yaml);
	unlink(csv);
	free(yaml);
	free(csv);
}

struct bad_case {
	const char *name, *text, *want;
};

static void registry_errors(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{"a.yaml", "- id: x\n  colour: red\n", ":2: unknown key colour"},
		{"b.yaml", "- id: x\n- id: y\n  lat: 91\n", ":2: lat: 91 is not a number"},
		{"c.yaml", "- id: x\n- id: x\n", ":2: id: x appears twice"},
		{"d.yaml", "- id: x\n  kind: rocket\n", ":1: kind: no schema for kind rocket"},
		{"e.yaml", "- kind: noise\n", ":1: id: missing"},
		{"f.yaml", "- id: [a, b]\n", ":1: id: must be a scalar"},
		{"g.yaml", "- id: x\n  lat: \"10\n", ":3: YAML"},
		{"h.yaml", "id: x\n", ":1: a list of sensors"},
		{"i.csv", "id,kind\nx,noise,extra\n", ":2: 3 cells where the header has 2"},
		{"j.csv", "kind\nnoise\n", ":1: header: no id column"},
		{"k.csv", "id,size\n", ":1: header: unknown column size"},
		{"l.csv", "id,interval_s\nx,0\n", ":2: interval_s: 0 is not a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		char *path = write_tmp(cases[i].name, cases[i].text);
		struct hub_live *l = hub_live_new(schemas, 100);
		int rc = hub_live_load_registry(l, path, err, sizeof(err));
		if (rc != HUB_EINVAL || strncmp(err, path, strlen(path)) != 0 ||
		    !strstr(err, cases[i].want)) {
			print_error("%s: rc %d err \"%s\", want \"%s\"\n", cases[i].name, rc, err,
				    cases[i].want);
			fail();
		}
		hub_live_free(l);
		unlink(path);
		free(path);
	}
}

static void stream_order_filters_overwrite(void **state)
{
	(void)state;
	struct hub_live *l = hub_live_new(schemas, 100);
	uint64_t cursor = 0;
	feed(l, "noise", "n-0", "p1", "laeq_db", 50, T0, T0);
	assert_int_equal(hub_live_stream_head(l), 0); /* no reader: nothing kept */
	hub_live_stream_listen(l, 1);
	feed(l, "noise", "n-1", "p1", "laeq_db", 50, T0, T0);
	feed(l, "water_level", "wl-1", "p2", "level_m", 1.5, T0, T0);
	struct hub_live_filter f = {"water_level", NULL, HUB_LIVE_EV_READING};
	struct hub_buf b = {0};
	assert_int_equal(hub_live_stream_read(l, &cursor, &f, &b, 1 << 20), HUB_OK);
	assert_non_null(strstr(b.data, "event: reading\ndata: {\"sensor_id\":\"wl-1\",\"kind\":"
					 "\"water_level\",\"district\":\"p2\",\"ts\":"
					 "\"2026-12-04T00:00:00.000000000Z\",\"values\":{\"level_m\":1.5}}"));
	assert_null(strstr(b.data, "n-1"));
	assert_int_equal(cursor, hub_live_stream_head(l));
	hub_buf_clear(&b);
	/* ids increase by one, in order */
	uint64_t from = 0;
	struct hub_live_filter all = {NULL, NULL, HUB_LIVE_EV_ALL};
	hub_live_stream_read(l, &from, &all, &b, 1 << 20);
	unsigned long long want = 1;
	for (const char *p = b.data; (p = strstr(p, "id: ")); p++, want++)
		assert_int_equal(strtoull(p + 4, NULL, 10), want);
	assert_int_equal(want - 1, hub_live_stream_head(l));
	/* a reader more than the ring behind is told, and moved to the oldest kept */
	for (int i = 0; i < HUB_LIVE_STREAM_RING + 10; i++)
		feed(l, "noise", "n-1", "p1", "laeq_db", 50, T0 + i, T0 + i);
	hub_buf_clear(&b);
	uint64_t old = 1;
	assert_int_equal(hub_live_stream_read(l, &old, &all, &b, 100), HUB_ENOENT);
	assert_int_equal(old + HUB_LIVE_STREAM_RING, hub_live_stream_head(l) + 1); /* one read */
	assert_int_equal(hub_live_stream_wait(l, hub_live_stream_head(l), 10), 0);
	assert_int_equal(hub_live_stream_wait(l, hub_live_stream_head(l) - 1, 10), 1);
	hub_buf_fini(&b);
	hub_live_free(l);
}

static void cap_and_hostile_text(void **state)
{
	(void)state;
	struct hub_live *l = hub_live_new(schemas, 2);
	size_t n;
	uint64_t over;
	hub_live_stream_listen(l, 1);
	feed(l, "noise", "a\\\"b", "d\"q", "laeq_db", 50, T0, T0);
	feed(l, "noise", "n-2", NULL, "laeq_db", 50, T0, T0);
	feed(l, "noise", "n-3", NULL, "laeq_db", 50, T0, T0);
	hub_live_count(l, &n, &over);
	assert_int_equal(n, 2);
	assert_int_equal(over, 1);
	assert_null(hub_live_sensor_json(l, "n-3"));
	/* every event's data line is JSON, whatever the id and district hold */
	uint64_t cursor = 0;
	char *text = events(l, &cursor, HUB_LIVE_EV_ALL);
	int seen = 0;
	for (char *p = strstr(text, "data: "); p; p = strstr(p + 1, "data: ")) {
		char *end = strchr(p, '\n');
		json_t *j = json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL);
		assert_non_null(j);
		if (strcmp(json_string_value(json_object_get(j, "sensor_id")), "a\\\"b") == 0)
			seen++;
		json_decref(j);
	}
	assert_int_equal(seen, 2); /* its reading and its sensor event */
	free(text);
	hub_live_free(l);
}

/* 10,000 sensors with four fields and two tags each: the live state's heap. */
static void memory_of_10k_sensors(void **state)
{
	(void)state;
	struct mallinfo2 before = mallinfo2();
	struct hub_live *l = hub_live_new(schemas, 20000);
	char id[32], site[32];
	static const char *const districts[] = {"phuong-1", "phuong-2", "phuong-4", "phuong-5",
						"phuong-6", "phuong-10", "tan-long", "my-phong"};
	for (int i = 0; i < 10000; i++) {
		struct hub_recset rs;
		hub_recset_init(&rs, 0);
		struct hub_record *r = hub_recset_add(&rs);
		snprintf(id, sizeof(id), "aq-%05d", i);
		snprintf(site, sizeof(site), "site-%d", i / 10);
		r->kind = "air_quality";
		r->sensor_id = id;
		r->has_ts = 1;
		r->ts_ns = T0;
		hub_record_set_tag(&rs, r, "district", districts[i % 8]);
		hub_record_set_tag(&rs, r, "site", site);
		hub_record_add_double(&rs, r, "pm25", NULL, 30);
		hub_record_add_double(&rs, r, "pm10", NULL, 50);
		hub_record_add_double(&rs, r, "temperature_c", NULL, 29);
		hub_record_add_double(&rs, r, "humidity", NULL, 0.8);
		hub_live_record(l, r, T0 + i);
		r->ts_ns = T0 + S_NS;
		hub_live_record(l, r, T0 + S_NS + i);
		hub_recset_fini(&rs);
	}
	struct mallinfo2 after = mallinfo2();
	/* small blocks (uordblks) and mmap'd large ones (hblkhd) */
	double mib = (double)(after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) /
		     (1024.0 * 1024.0);
	long long t = hub_now_mono_ms();
	json_t *all = hub_live_sensors_json(l, NULL, NULL, NULL);
	printf("GET /api/v1/sensors of 10,000 sensors built in %lld ms (lock held per 256)\n",
	       hub_now_mono_ms() - t);
	assert_int_equal(json_integer_value(json_object_get(all, "count")), 10000);
	json_decref(all);
	struct hub_buf b = {0};
	hub_live_save(l, &b, NULL, NULL);
	double save_mib = (double)b.len / (1024.0 * 1024.0);
	hub_buf_fini(&b);
	printf("live state for 10,000 sensors: %.2f MiB heap (no stream client: ring empty); "
	       "snapshot text %.2f MiB (written in 64 KiB pieces)\n", mib, save_mib);
	assert_true(mib < 6.0);
	hub_live_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(states_and_their_events),
		cmocka_unit_test(ring_of_the_last_hour),
		cmocka_unit_test(save_load_same_replies),
		cmocka_unit_test(registry_yaml_and_csv),
		cmocka_unit_test(registry_errors),
		cmocka_unit_test(stream_order_filters_overwrite),
		cmocka_unit_test(cap_and_hostile_text),
		cmocka_unit_test(memory_of_10k_sensors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
