/* Routing, topic templates, limits, the series guard, several kinds per message and the
 * unknown_fields policies of hub/pipeline.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "config.h"
#include "pipeline.h"

static void topic_filters(void **state)
{
	(void)state;
	assert_true(hub_topic_matches("city/#", "city/air_quality/p1/a"));
	assert_true(hub_topic_matches("city/#", "city"));
	assert_true(hub_topic_matches("#", "anything/at/all"));
	assert_true(hub_topic_matches("city/+/p1/+", "city/noise/p1/n-1"));
	assert_true(hub_topic_matches("+/+", "a/b"));
	assert_true(hub_topic_matches("a/+/c", "a//c"));
	assert_false(hub_topic_matches("city/+", "city/a/b"));
	assert_false(hub_topic_matches("city/+/x", "city/a"));
	assert_false(hub_topic_matches("city", "city/a"));
	assert_false(hub_topic_matches("city/a", "city/ab"));
	assert_false(hub_topic_matches("city/ab", "city/a"));
	assert_false(hub_topic_matches("#", "$SYS/broker/uptime"));
	assert_false(hub_topic_matches("+/broker", "$SYS/broker"));
	assert_true(hub_topic_matches("$SYS/#", "$SYS/broker"));
}

static void text_validation(void **state)
{
	(void)state;
	assert_true(hub_text_valid("plain", 5));
	assert_true(hub_text_valid("Mỹ Tho", strlen("Mỹ Tho")));
	assert_true(hub_text_valid("\xf0\x9f\x8c\x8a", 4)); /* a 4-byte emoji */
	assert_false(hub_text_valid("a\nb", 3));
	assert_false(hub_text_valid("a\rb", 3));
	assert_false(hub_text_valid("a\tb", 3));
	assert_false(hub_text_valid("a\0b", 3));
	assert_false(hub_text_valid("\x7f", 1));
	assert_false(hub_text_valid("\xff", 1));
	/* dead letters keep UTF-8 text as text, line breaks included (issue 13 #5) */
	assert_true(hub_utf8_valid("{\"a\": 1}\n", 9));
	assert_true(hub_utf8_valid("a\r\n\tb\x7f", 6));
	assert_true(hub_utf8_valid("Mỹ Tho\n", strlen("Mỹ Tho\n")));
	assert_true(hub_utf8_valid("", 0));
	assert_false(hub_utf8_valid("a\0b", 3));
	assert_false(hub_utf8_valid("\xff\n", 2));
	assert_false(hub_utf8_valid("\xed\xa0\x80", 3)); /* a surrogate */
	assert_false(hub_utf8_valid("\xc3", 1));         /* cut short */
	assert_false(hub_text_valid("\xc3", 1));          /* truncated sequence */
	assert_false(hub_text_valid("\xc0\xaf", 2));      /* overlong '/' */
	assert_false(hub_text_valid("\xed\xa0\x80", 3));  /* UTF-16 surrogate */
	assert_false(hub_text_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
}

struct fixture {
	struct hub_config cfg;
	struct hub_cfg_route routes[3];
	struct hub_schemas *schemas;
	struct hub_pipeline *p;
	struct hub_recset rs;
};

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	char err[256];
	f.schemas = hub_schemas_load_builtin(err, sizeof(err));
	assert_non_null(f.schemas);
	f.routes[0] = (struct hub_cfg_route){.filter = "city/#", .adapter = "native",
					     .template = "city/{kind}/{district}/{sensor_id}",
					     .options = json_object()};
	f.routes[1] = (struct hub_cfg_route){.filter = "legacy/+", .adapter = "native",
					     .kind = "noise", .template = "legacy/{_}/#",
					     .options = json_object()};
	f.routes[2] = (struct hub_cfg_route){.filter = "plain/#", .adapter = "native",
					     .kind = "noise", .options = json_object()};
	f.cfg.routes = f.routes;
	f.cfg.nroutes = 3;
	f.cfg.limits.max_payload_bytes = 1024;
	f.cfg.limits.max_fields = 4;
	f.cfg.limits.max_records = 3;
	f.cfg.limits.max_string_bytes = 16;
	f.cfg.limits.max_series = 3;
	f.p = hub_pipeline_new(&f.cfg, f.schemas, hub_adapter_all(), err, sizeof(err));
	assert_non_null(f.p);
	hub_recset_init(&f.rs, 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hub_recset_fini(&f->rs);
	hub_pipeline_free(f->p);
	hub_schemas_free(f->schemas);
	json_decref(f->routes[0].options);
	json_decref(f->routes[1].options);
	json_decref(f->routes[2].options);
	return 0;
}

/* Decodes payload on topic; returns the reject reason, or "ok". */
static const char *decode(struct fixture *f, const char *topic, const char *payload)
{
	struct hub_msg m = {topic, strlen(topic), (const uint8_t *)payload, strlen(payload), 42};
	struct hub_reject rej;
	const char *adapter;
	int rc = hub_pipeline_decode(f->p, &m, &f->rs, &rej, &adapter);
	return rc == HUB_OK ? "ok" : rej.reason;
}

static void template_fills_identity_and_tags(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(decode(f, "city/noise/phuong-9/n-1", "{\"fields\":{\"laeq_db\":60}}"),
			    "ok");
	assert_int_equal(f->rs.n, 1);
	struct hub_record *r = &f->rs.recs[0];
	assert_string_equal(r->kind, "noise");
	assert_string_equal(r->sensor_id, "n-1");
	assert_string_equal(hub_record_tag(r, "district"), "phuong-9");
	assert_int_equal(r->ts_ns, 42); /* no time in the payload: the receive time */
	/* Topic tags win over payload tags. */
	assert_string_equal(decode(f, "city/noise/phuong-9/n-1",
				   "{\"tags\":{\"district\":\"forged\"},\"fields\":{\"laeq_db\":60}}"),
			    "ok");
	assert_string_equal(hub_record_tag(&f->rs.recs[0], "district"), "phuong-9");
	/* The route's default kind, '{_}' ignored, '#' accepts deeper topics. */
	assert_string_equal(decode(f, "legacy/x", "{\"sensor_id\":\"n-2\",\"fields\":{\"laeq_db\":1}}"),
			    "ok");
	assert_string_equal(f->rs.recs[0].kind, "noise");
	assert_int_equal(f->rs.recs[0].ntags, 0);
	/* No template: any topic the filter matched is accepted. */
	assert_string_equal(decode(f, "plain/a/b/c", "{\"sensor_id\":\"n-3\",\"fields\":{\"laeq_db\":1}}"),
			    "ok");
	assert_string_equal(decode(f, "plain/a", "{\"fields\":{\"laeq_db\":1}}"), HUB_R_NO_SENSOR);
}

static void rejects_by_reason(void **state)
{
	struct fixture *f = *state;
	const char *ok = "{\"fields\":{\"laeq_db\":60}}";
	assert_string_equal(decode(f, "other/topic", ok), HUB_R_NO_ROUTE);
	assert_string_equal(decode(f, "city/noise/phuong-9", ok), HUB_R_BAD_TOPIC);
	assert_string_equal(decode(f, "city/noise/phuong-9/n-1/extra", ok), HUB_R_BAD_TOPIC);
	assert_string_equal(decode(f, "city/noise//n-1", ok), HUB_R_BAD_TOPIC);
	assert_string_equal(decode(f, "city/noise/p/n-1/", ok), HUB_R_BAD_TOPIC);
	assert_string_equal(decode(f, "city/noise/p/n-1", ""), HUB_R_EMPTY);
	assert_string_equal(decode(f, "city/noise/p/0123456789abcdefX", ok), HUB_R_BAD_STRING);
	assert_string_equal(decode(f, "city/noise/p/n\\", ok), HUB_R_BAD_TAG);
	assert_string_equal(
		decode(f, "city/weather/p/w", "{\"fields\":{\"temperature_c\":1,\"humidity\":0.5,"
					      "\"rain_mm\":0,\"wind_speed_ms\":1,\"pressure_hpa\":1000}}"),
		HUB_R_TOO_MANY);
	assert_string_equal(decode(f, "city/noise/p/n-1", "[{\"fields\":{\"laeq_db\":1}},"
							  "{\"fields\":{\"laeq_db\":1}},{\"fields\":{\"laeq_db\":1}},"
							  "{\"fields\":{\"laeq_db\":1}}]"),
			    HUB_R_TOO_MANY);
	char big[1100];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(decode(f, "city/noise/p/n-1", big), HUB_R_TOO_LARGE);
	/* A rejected message leaves no records behind. */
	assert_int_equal(f->rs.n, 0);
}

static void series_guard_admits_known_sensors_only_up_to_the_limit(void **state)
{
	struct fixture *f = *state;
	const char *ok = "{\"fields\":{\"laeq_db\":60}}";
	assert_string_equal(decode(f, "city/noise/p/s1", ok), "ok");
	assert_string_equal(decode(f, "city/noise/p/s2", ok), "ok");
	assert_string_equal(decode(f, "city/noise/p/s3", ok), "ok");
	assert_string_equal(decode(f, "city/noise/p/s4", ok), HUB_R_SERIES_LIMIT);
	assert_string_equal(decode(f, "city/noise/p/s2", ok), "ok");
	/* Same sensor id, other kind: another series. */
	assert_string_equal(decode(f, "city/weather/p/s1", "{\"fields\":{\"rain_mm\":1}}"),
			    HUB_R_SERIES_LIMIT);
}

/* Several kinds from one reading: each moved field makes a record, bounded by max_records. */
static void fields_naming_other_kinds_make_records_up_to_the_limit(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(decode(f, "city/noise/p/s1",
	                           "{\"fields\":{\"laeq_db\":60,"
	                           "\"battery_v\":{\"value\":3.6,\"kind\":\"device\"}}}"),
	                    "ok");
	assert_int_equal(f->rs.n, 2);
	assert_string_equal(f->rs.recs[1].kind, "device");
	assert_string_equal(f->rs.recs[1].sensor_id, "s1");
	assert_string_equal(hub_record_tag(&f->rs.recs[1], "district"), "p");
	assert_null(f->rs.recs[1].fields[0].kind);
	assert_string_equal(decode(f, "city/noise/p/s1",
	                           "{\"fields\":{\"laeq_db\":60,"
	                           "\"battery_v\":{\"value\":3.6,\"kind\":\"device\"},"
	                           "\"pm25\":{\"value\":3,\"kind\":\"air_quality\"},"
	                           "\"rain_mm\":{\"value\":0,\"kind\":\"weather\"}}}"),
	                    HUB_R_TOO_MANY);
	assert_int_equal(f->rs.n, 0);
}

/* A topic no route matches is told apart from other rejections, and dead-lettered only when
 * mqtt.deadletter_unrouted says so. */
static void unrouted_is_counted_apart_and_dead_lettered_on_request(void **state)
{
	struct fixture *f = *state;
	struct hub_msg m = {"nowhere/x", 9, (const uint8_t *)"{}", 2, 42};
	struct hub_reject rej;
	const char *adapter;
	assert_int_equal(hub_pipeline_decode(f->p, &m, &f->rs, &rej, &adapter), HUB_EREJECT);
	assert_string_equal(adapter, "none");
	assert_true(hub_pipeline_unrouted(&rej));
	assert_false(hub_pipeline_deadletter(f->p, &rej));
	m.topic = "city/noise/p/s1";
	m.topic_len = strlen(m.topic);
	assert_int_equal(hub_pipeline_decode(f->p, &m, &f->rs, &rej, &adapter), HUB_EREJECT);
	assert_false(hub_pipeline_unrouted(&rej));
	assert_true(hub_pipeline_deadletter(f->p, &rej));

	char err[256];
	f->cfg.mqtt.deadletter_unrouted = 1;
	struct hub_pipeline *p = hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err,
						  sizeof(err));
	assert_non_null(p);
	m.topic = "nowhere/x";
	m.topic_len = strlen(m.topic);
	assert_int_equal(hub_pipeline_decode(p, &m, &f->rs, &rej, &adapter), HUB_EREJECT);
	assert_true(hub_pipeline_unrouted(&rej));
	assert_true(hub_pipeline_deadletter(p, &rej));
	hub_pipeline_free(p);
}

/* A route's `kinds` is checked when the pipeline is built: known kinds, lists of names, each
 * field under one kind. */
static void route_kinds_are_checked_at_start(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *kinds, *want;
	} cases[] = {
	    {"{\"radiation\": [\"dose\"]}", "kinds.radiation: no schema"},
	    {"{\"device\": \"battery_v\"}", "kinds.device: must be a list"},
	    {"{\"device\": []}", "kinds.device: must be a list"},
	    {"{\"device\": [\"battery_v\", 3]}", "kinds.device[1]: must be a field name"},
	    {"{\"device\": [\"\"]}", "kinds.device[0]: must be a field name"},
	    {"{\"device\": [\"temperature_c\"], \"weather\": [\"temperature_c\"]}",
	     "field temperature_c is mapped twice"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		f->routes[2].kinds = json_loads(cases[i].kinds, 0, NULL);
		assert_non_null(f->routes[2].kinds);
		assert_null(hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err,
					     sizeof(err)));
		if (!strstr(err, cases[i].want) || !strstr(err, "routes[2].kinds"))
			fail_msg("kinds %s: got \"%s\", want \"%s\"", cases[i].kinds, err,
			         cases[i].want);
		json_decref(f->routes[2].kinds);
		f->routes[2].kinds = NULL;
	}
}

/* The pipeline looks adapters up in the table it is handed, not in the registry (issue 10):
 * with a table of native alone, a route to senml is refused; with the registry's, it builds. */
static void adapters_come_from_the_table_given(void **state)
{
	struct fixture *f = *state;
	const struct hub_adapter *const only_native[] = {hub_adapter_find("native"), NULL};
	struct hub_pipeline *p;
	char err[256] = "";

	f->routes[2].adapter = "senml";
	f->routes[2].kind = NULL;
	assert_null(hub_pipeline_new(&f->cfg, f->schemas, only_native, err, sizeof(err)));
	if (!strstr(err, "routes[2].adapter: no adapter called senml"))
		fail_msg("got \"%s\"", err);
	p = hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err, sizeof(err));
	assert_non_null(p);
	hub_pipeline_free(p);
	f->routes[2].adapter = "native";
	f->routes[2].kind = "noise";
}

/* unknown_fields: drop notes each dropped name; past MAX_DROPPED_NAMES distinct names (and for
 * names unfit for a label) the name is "_other"; past HUB_MAX_DROPPED per message, a count. */
static void dropped_fields_are_noted_with_bounded_names(void **state)
{
	struct fixture *f = *state;
	char err[256], payload[256];
	f->routes[2].unknown_fields = HUB_UNKNOWN_DROP;
	f->cfg.limits.max_series = 1000;
	f->cfg.limits.max_records = 10;
	f->cfg.limits.max_fields = 32;
	struct hub_pipeline *p = hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err,
						  sizeof(err));
	assert_non_null(p);
	hub_pipeline_free(f->p);
	f->p = p;
	for (int i = 0; i < 70; i++) {
		snprintf(payload, sizeof(payload),
		         "{\"sensor_id\":\"n\",\"fields\":{\"laeq_db\":60,\"x%d\":1}}", i);
		assert_string_equal(decode(f, "plain/a", payload), "ok");
		assert_int_equal(f->rs.ndropped, 1);
		assert_string_equal(f->rs.dropped[0].kind, "noise");
		if (i < 64) {
			char want[16];
			snprintf(want, sizeof(want), "x%d", i);
			assert_string_equal(f->rs.dropped[0].field, want);
		} else {
			assert_string_equal(f->rs.dropped[0].field, "_other");
		}
		assert_int_equal(f->rs.recs[0].nfields, 1);
	}
	assert_string_equal(decode(f, "plain/a",
	                           "{\"sensor_id\":\"n\",\"fields\":{\"laeq_db\":60,\"x3\":1,"
	                           "\"q\\\"uote\":2}}"),
	                    "ok");
	assert_string_equal(f->rs.dropped[0].field, "x3"); /* known names keep theirs */
	assert_string_equal(f->rs.dropped[1].field, "_other");
	struct hub_buf b = {0};
	hub_buf_puts(&b, "[");
	for (int r = 0; r < 2; r++) {
		hub_buf_printf(&b, "%s{\"sensor_id\":\"n\",\"fields\":{\"laeq_db\":1",
		               r ? "," : "");
		for (int i = 0; i < 20; i++)
			hub_buf_printf(&b, ",\"y%d\":%d", i, i);
		hub_buf_puts(&b, "}}");
	}
	hub_buf_puts(&b, "]");
	assert_string_equal(decode(f, "plain/a", b.data), "ok");
	assert_int_equal(f->rs.ndropped, HUB_MAX_DROPPED);
	assert_int_equal(f->rs.dropped_more, 40 - HUB_MAX_DROPPED);
	hub_buf_fini(&b);
	/* A message rejected later forgets what it dropped. */
	assert_string_equal(decode(f, "plain/a",
	                           "{\"sensor_id\":\"n\",\"fields\":{\"laeq_db\":1e9,"
	                           "\"zz\":1}}"),
	                    HUB_R_OUT_OF_RANGE);
	assert_int_equal(f->rs.ndropped, 0);
}

/* unknown_fields: keep stores the fields raw (numbers as doubles, no unit conversion), at most
 * keep_max_fields per record; the rest are dropped and noted. */
static void kept_fields_are_raw_and_bounded(void **state)
{
	struct fixture *f = *state;
	char err[256];
	f->routes[2].unknown_fields = HUB_UNKNOWN_KEEP;
	f->routes[2].keep_max_fields = 2;
	f->cfg.limits.max_series = 1000;
	f->cfg.limits.max_fields = 32;
	struct hub_pipeline *p = hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err,
						  sizeof(err));
	assert_non_null(p);
	hub_pipeline_free(f->p);
	f->p = p;
	assert_string_equal(
	    decode(f, "plain/a",
	           "{\"sensor_id\":\"n\",\"fields\":{\"laeq_db\":60,"
	           "\"gain\":{\"value\":3,\"unit\":\"dB\"},\"mode\":\"eco\",\"spare\":true}}"),
	    "ok");
	struct hub_record *r = &f->rs.recs[0];
	assert_int_equal(r->nfields, 3);
	struct hub_field *g = hub_record_field(r, "gain");
	assert_non_null(g);
	assert_int_equal(g->v.type, HUB_FT_DOUBLE);
	assert_null(g->unit);
	assert_non_null(hub_record_field(r, "mode"));
	assert_int_equal(f->rs.ndropped, 1);
	assert_string_equal(f->rs.dropped[0].field, "spare");
}

/* limits.require_timestamp (issue 14, HA pairs): a record without a payload time is refused
 * (bad_time) instead of taking the receive time; one with a time passes unchanged. */
static void require_timestamp_refuses_receive_time(void **state)
{
	struct fixture *f = *state;
	char err[256];
	f->cfg.limits.require_timestamp = 1;
	struct hub_pipeline *p = hub_pipeline_new(&f->cfg, f->schemas, hub_adapter_all(), err,
						  sizeof(err));
	assert_non_null(p);
	hub_pipeline_free(f->p);
	f->p = p;
	const char *topic = "city/noise/p/n-1", *payload = "{\"fields\":{\"laeq_db\":60}}";
	struct hub_msg m = {topic, strlen(topic), (const uint8_t *)payload, strlen(payload), 42};
	struct hub_reject rej;
	const char *adapter;
	assert_int_equal(hub_pipeline_decode(f->p, &m, &f->rs, &rej, &adapter), HUB_EREJECT);
	assert_string_equal(rej.reason, HUB_R_BAD_TIME);
	assert_string_equal(rej.detail, "no timestamp in the payload");
	assert_int_equal(f->rs.n, 0);
	assert_string_equal(decode(f, "city/noise/p/n-1",
				   "{\"ts\":1795687200000,\"fields\":{\"laeq_db\":60}}"),
			    "ok");
	assert_int_equal(f->rs.recs[0].ts_ns, INT64_C(1795687200000) * 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(topic_filters),
	    cmocka_unit_test(text_validation),
	    cmocka_unit_test_setup_teardown(template_fills_identity_and_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(rejects_by_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(series_guard_admits_known_sensors_only_up_to_the_limit,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(fields_naming_other_kinds_make_records_up_to_the_limit,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(unrouted_is_counted_apart_and_dead_lettered_on_request,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(route_kinds_are_checked_at_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(adapters_come_from_the_table_given, setup, teardown),
	    cmocka_unit_test_setup_teardown(dropped_fields_are_noted_with_bounded_names, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(kept_fields_are_raw_and_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(require_timestamp_refuses_receive_time, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
