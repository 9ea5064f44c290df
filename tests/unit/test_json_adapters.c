/* Route-option validation of the senml, ngsi and jsonmap adapters (and device_tags of ttn and
 * chirpstack): every bad option is refused
 * in init with HUB_EINVAL and a message that names it; good options build a state that frees
 * cleanly. (Decoding is covered by the fixtures in tests/adapters/{senml,ngsi,jsonmap}.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"

/* Runs adapter name's init on the JSON text opts; returns its code, message in err. */
static int try_init(const char *name, const char *opts, char *err, size_t errlen)
{
	const struct hub_adapter *a = hub_adapter_find(name);
	assert_non_null(a);
	assert_non_null(a->options);
	json_error_t jerr;
	json_t *o = json_loads(opts, 0, &jerr);
	assert_non_null(o);
	void *state = NULL;
	err[0] = '\0';
	struct hub_schemas *schemas = hub_schemas_load_builtin(err, errlen);
	assert_non_null(schemas);
	void *bound = NULL;
	int rc;
	/* as the pipeline does: the table first, then init on the filled struct */
	rc = hub_adapter_options_bind(a, o, &bound, err, errlen) == HUB_OK
	         ? a->init(bound, schemas, &state, err, errlen)
	         : HUB_EINVAL;
	if (rc == HUB_OK) {
		assert_non_null(state);
		if (a->free_state)
			a->free_state(state);
	} else {
		assert_null(state);
	}
	hub_adapter_options_free(a, bound);
	hub_schemas_free(schemas);
	json_decref(o);
	return rc;
}

/* Asserts that opts is refused with a message starting with prefix. */
static void refused(const char *name, const char *opts, const char *prefix)
{
	char err[256];
	assert_int_equal(try_init(name, opts, err, sizeof(err)), HUB_EINVAL);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("%s %s: got \"%s\", want a message starting \"%s\"", name, opts, err,
		         prefix);
}

static void accepted(const char *name, const char *opts)
{
	char err[256];
	int rc = try_init(name, opts, err, sizeof(err));
	if (rc != HUB_OK)
		fail_msg("%s %s: refused: %s", name, opts, err);
}

static void test_registered(void **unused)
{
	(void)unused;
	assert_string_equal(hub_adapter_find("senml")->name, "senml");
	assert_string_equal(hub_adapter_find("ngsi")->name, "ngsi");
	assert_string_equal(hub_adapter_find("jsonmap")->name, "jsonmap");
}

static void test_senml_options(void **unused)
{
	(void)unused;
	accepted("senml", "{}");
	accepted("senml",
	         "{\"sensor_id_from\": \"topic\", \"fields\": {\"temp\": \"temperature_c\"}}");
	accepted("senml", "{\"sensor_id_from\": \"base_name\"}");
	refused("senml", "{\"sensor_id_from\": \"mac\"}", "options.sensor_id_from:");
	refused("senml", "{\"sensor_id_from\": 1}", "options.sensor_id_from:");
	refused("senml", "{\"fields\": [\"temp\"]}", "options.fields:");
	refused("senml", "{\"fields\": {\"temp\": 1}}", "options.fields.temp:");
	refused("senml", "{\"fields\": {\"temp\": \"\"}}", "options.fields.temp:");
	refused("senml", "{\"base_name\": \"x\"}", "options.base_name: unknown key");
}

static void test_ngsi_options(void **unused)
{
	(void)unused;
	accepted("ngsi", "{}");
	accepted("ngsi",
	         "{\"unknown_attributes\": \"skip\", \"attributes\": {\"DO\": \"do_mg_l\"}}");
	accepted("ngsi", "{\"unknown_attributes\": \"reject\"}");
	refused("ngsi", "{\"unknown_attributes\": \"ignore\"}", "options.unknown_attributes:");
	refused("ngsi", "{\"attributes\": [\"DO\"]}", "options.attributes:");
	refused("ngsi", "{\"attributes\": {\"DO\": null}}", "options.attributes.DO:");
	refused("ngsi", "{\"types\": {}}", "options.types: unknown key");
}

/* device_tags (ttn, chirpstack): a list of tag keys; positions are fields, never tags. */
static void test_lorawan_device_tags(void **unused)
{
	(void)unused;
	static const char *const names[] = {"ttn", "chirpstack"};
	for (size_t i = 0; i < 2; i++) {
		accepted(names[i], "{\"device_tags\": [\"district\", \"station\"]}");
		accepted(names[i], "{\"device_tags\": []}");
		accepted(names[i], "{\"ports\": {\"2\": {\"kind\": \"noise\"}}, "
		                   "\"device_tags\": [\"site\"]}");
		refused(names[i], "{\"device_tags\": \"district\"}", "options.device_tags must");
		refused(names[i], "{\"device_tags\": [\"district\", 3]}",
		        "options.device_tags[1] must be a tag key");
		refused(names[i], "{\"device_tags\": [\"\"]}", "options.device_tags[0]");
		refused(names[i], "{\"device_tags\": [\"latitude\"]}",
		        "options.device_tags[0] must be a tag key (positions are fields)");
		refused(names[i], "{\"device_tags\": [\"lon\"]}", "options.device_tags[0]");
		refused(names[i],
		        "{\"device_tags\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
		        "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
		        "options.device_tags must list at most 16");
		refused(names[i], "{\"ports\": {\"2\": {\"device_tags\": [\"site\"]}}}",
		        "options.ports.2.device_tags: unknown key");
	}
}

static void test_jsonmap_good(void **unused)
{
	(void)unused;
	accepted("jsonmap", "{\"fields\": {\"pm25\": \"pm25\"}}");
	accepted(
	    "jsonmap",
	    "{\"records\": \"data.readings[*]\", \"sensor_id\": {\"path\": \"id\", "
	    "\"required\": false}, \"time\": {\"path\": \"ts\", \"format\": \"unix_ns\", "
	    "\"required\": \"false\"}, \"kind\": {\"path\": \"$.type\", \"map\": {\"a\": "
	    "\"air_quality\"}, \"required\": false}, \"tags\": {\"site\": \"$.meta.site\", "
	    "\"lane\": {\"path\": \"lane[-1]\", \"required\": true}}, \"fields\": {\"pm25\": "
	    "{\"path\": \"pm\\\\.2\\\\.5\", \"unit\": \"ug/m3\", \"type\": \"double\", "
	    "\"required\": true}, \"congested\": {\"path\": \"[0].jam\", \"type\": \"bool\"}}}");
	accepted("jsonmap", "{\"records\": \"[*]\", \"kind\": \"noise\", \"fields\": {\"laeq_db\": "
	                    "\"$[0].l\"}}");
	accepted("jsonmap", "{\"fields\": {\"x\": \"$\"}}");
}

static void test_jsonmap_refused(void **unused)
{
	(void)unused;
	refused("jsonmap", "{}", "options.fields: jsonmap needs at least one field");
	refused("jsonmap", "{\"fields\": {}}", "options.fields: jsonmap needs at least one field");
	refused("jsonmap", "{\"fields\": [1]}", "options.fields: expected a mapping");
	refused("jsonmap", "{\"fields\": {\"pm25\": 3}}", "options.fields.pm25: must be a path");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"unit\": \"GQ\"}}}",
	        "options.fields.pm25.path: is required");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"path\": \"a\", \"type\": \"float\"}}}",
	        "options.fields.pm25.type:");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"path\": \"a\", \"colour\": \"red\"}}}",
	        "options.fields.pm25.colour: unknown key");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"path\": \"a\", \"format\": \"unix_s\"}}}",
	        "options.fields.pm25.format: unknown key");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"path\": \"a\", \"required\": \"yes\"}}}",
	        "options.fields.pm25.required:");
	refused("jsonmap", "{\"fields\": {\"pm25\": {\"path\": \"a\", \"unit\": \"\"}}}",
	        "options.fields.pm25.unit:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"records\": \"data\"}",
	        "options.records:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"records\": \"a[*].b\"}",
	        "options.records:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"time\": {\"path\": \"ts\"}}",
	        "options.time:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"time\": \"ts\"}", "options.time:");
	refused("jsonmap",
	        "{\"fields\": {\"a\": \"x\"}, \"time\": {\"path\": \"ts\", \"format\": "
	        "\"unix_min\"}}",
	        "options.time.format:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"kind\": {\"map\": {\"a\": 1}}}",
	        "options.kind.map.a:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"kind\": {\"map\": {\"a\": \"b\"}}}",
	        "options.kind.path: is required");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"kind\": 7}", "options.kind:");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"tags\": {\"site\": 5}}",
	        "options.tags.site:");
	refused("jsonmap",
	        "{\"fields\": {\"a\": \"x\"}, \"tags\": {\"site\": {\"path\": \"s\", "
	        "\"unit\": \"m\"}}}",
	        "options.tags.site.unit: unknown key");
	refused("jsonmap", "{\"fields\": {\"a\": \"x\"}, \"sensor\": \"id\"}",
	        "options.sensor: unknown key");
}

static void test_jsonmap_paths(void **unused)
{
	(void)unused;
	static const char *const bad[] = {"",    "a..b",   "a.",     ".a",     "a.[0]",
	                                  "a[0", "a[x]",   "a[]",    "a[*]",   "$x",
	                                  "a]",  "a[0]b[", "a[1.5]", "a[--1]", NULL};
	char opts[128];
	for (size_t i = 0; bad[i]; i++) {
		snprintf(opts, sizeof(opts), "{\"fields\": {\"f\": \"%s\"}}", bad[i]);
		refused("jsonmap", opts, "options.fields.f: bad path");
	}
	static const char *const good[] = {"a",   "a.b",  "a[0]",    "a[-1].b", "[2]", "$",
	                                   "$.a", "$[0]", "a[0][1]", "a\\\\.b", "a b", NULL};
	for (size_t i = 0; good[i]; i++) {
		snprintf(opts, sizeof(opts), "{\"fields\": {\"f\": \"%s\"}}", good[i]);
		accepted("jsonmap", opts);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registered),      cmocka_unit_test(test_senml_options),
	    cmocka_unit_test(test_ngsi_options),    cmocka_unit_test(test_jsonmap_good),
	    cmocka_unit_test(test_jsonmap_refused), cmocka_unit_test(test_jsonmap_paths),
	    cmocka_unit_test(test_lorawan_device_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
