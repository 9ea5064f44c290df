/* Schema loading and validation: unit conversion, type coercion, ranges, tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "cityhub/error.h"
#include "cityhub/schema.h"

static struct hub_schemas *schemas;
static struct hub_recset rs;

static int setup(void **state)
{
	(void)state;
	char err[256];
	schemas = hub_schemas_load_builtin(err, sizeof(err));
	hub_recset_init(&rs, 0);
	return schemas ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	hub_schemas_free(schemas);
	hub_recset_fini(&rs);
	return 0;
}

static struct hub_record *rec(const char *kind)
{
	hub_recset_clear(&rs);
	struct hub_record *r = hub_recset_add(&rs);
	r->kind = kind;
	r->sensor_id = "s";
	return r;
}

static const char *apply(struct hub_record *r)
{
	struct hub_reject rej;
	return hub_schemas_apply(schemas, &rs, r, &rej) == HUB_OK ? "ok" : rej.reason;
}

static void builtin_kinds(void **state)
{
	(void)state;
	const char *const *names;
	size_t n = hub_schemas_kinds(schemas, &names);
	assert_true(n >= 8); /* other kinds (aqi, alerts) may join */
	const char *want[] = {"traffic_flow", "air_quality",   "noise", "weather",
	                      "water_level",  "water_quality", "link",  "device"};
	for (size_t i = 0; i < 8; i++)
		assert_true(hub_schemas_has_kind(schemas, want[i]));
	assert_false(hub_schemas_has_kind(schemas, "radiation"));
	assert_false(hub_schemas_has_kind(schemas, NULL));
}

/* The RFC 8428 example names (voltage, current) are aliases of the device kind's fields. */
static void device_kind_takes_aliases_and_units(void **state)
{
	(void)state;
	struct hub_record *r = rec("device");
	hub_record_add_double(&rs, r, "voltage", "V", 120.1);
	hub_record_add_double(&rs, r, "current", "A", 1.2);
	hub_record_add_double(&rs, r, "battery_v", "mV", 3650);
	hub_record_add_int(&rs, r, "uptime_s", "h", 2);
	hub_record_add_string(&rs, r, "firmware", "v1.4.2", 6);
	hub_record_add_double(&rs, r, "rssi_dbm", "dBm", -97);
	assert_string_equal(apply(r), "ok");
	assert_string_equal(r->fields[0].name, "supply_v");
	assert_true(r->fields[0].v.u.d == 120.1);
	assert_string_equal(r->fields[1].name, "current_a");
	assert_true(fabs(r->fields[2].v.u.d - 3.65) < 1e-12);
	assert_int_equal(r->fields[3].v.type, HUB_FT_INT);
	assert_int_equal(r->fields[3].v.u.i, 7200);
	assert_string_equal(r->fields[4].v.u.s, "v1.4.2");
	r = rec("device");
	hub_record_add_double(&rs, r, "voltage", "V", 1);
	hub_record_add_double(&rs, r, "supply_v", "V", 2);
	assert_string_equal(apply(r), "duplicate_field");
	r = rec("device");
	hub_record_add_double(&rs, r, "current_a", "mA", -250000);
	assert_string_equal(apply(r), "out_of_range");
	r = rec("device");
	hub_record_add_double(&rs, r, "firmware", NULL, 1.0);
	assert_string_equal(apply(r), "bad_type");
	assert_true(hub_schemas_field_known(schemas, "device", "voltage"));
	assert_false(hub_schemas_field_known(schemas, "device", "level_m"));
	assert_true(hub_schemas_field_known(schemas, "radiation", "x")); /* apply rejects it */
}

/* Every kind has the position fields lat and lon, in degrees, range-checked. */
static void every_kind_has_a_position(void **state)
{
	(void)state;
	const char *const *names;
	size_t n = hub_schemas_kinds(schemas, &names);
	for (size_t i = 0; i < n; i++) {
		struct hub_record *r = rec(names[i]);
		hub_record_add_double(&rs, r, "lat", "lat", 10.3541);
		hub_record_add_double(&rs, r, "lon", "deg", 106.3636);
		assert_string_equal(apply(r), "ok");
		assert_null(r->fields[0].unit);
	}
	struct hub_record *r = rec("water_level");
	hub_record_add_double(&rs, r, "lat", NULL, 90.5);
	assert_string_equal(apply(r), "out_of_range");
	r = rec("water_level");
	hub_record_add_double(&rs, r, "lon", NULL, -180.01);
	assert_string_equal(apply(r), "out_of_range");
	r = rec("noise");
	hub_record_add_string(&rs, r, "lat", "10.35", 5);
	assert_string_equal(apply(r), "bad_type");
}

static void converts_units_to_canonical(void **state)
{
	(void)state;
	struct hub_record *r = rec("weather");
	hub_record_add_double(&rs, r, "temperature_c", "degF", 86.0);
	hub_record_add_int(&rs, r, "humidity", "%RH", 55);
	hub_record_add_double(&rs, r, "pressure_hpa", "kPa", 101.3);
	hub_record_add_double(&rs, r, "wind_speed_ms", "km/h", 36.0);
	assert_string_equal(apply(r), "ok");
	assert_int_equal(r->fields[0].v.type, HUB_FT_DOUBLE);
	assert_true(r->fields[0].v.u.d > 29.999999 && r->fields[0].v.u.d < 30.000001);
	assert_null(r->fields[0].unit);
	assert_int_equal(r->fields[1].v.type, HUB_FT_DOUBLE);
	assert_true(r->fields[1].v.u.d == 0.55);
	assert_true(r->fields[2].v.u.d > 1012.999 && r->fields[2].v.u.d < 1013.001);
	assert_true(r->fields[3].v.u.d > 9.999999 && r->fields[3].v.u.d < 10.000001);
}

static void coerces_types(void **state)
{
	(void)state;
	struct hub_record *r = rec("traffic_flow");
	hub_record_add_double(&rs, r, "vehicle_count", NULL, 41.0);
	hub_record_add_int(&rs, r, "avg_speed_kmh", NULL, 30);
	hub_record_add_double(&rs, r, "interval_s", "min", 1.0);
	assert_string_equal(apply(r), "ok");
	assert_int_equal(r->fields[0].v.type, HUB_FT_INT);
	assert_int_equal(r->fields[0].v.u.i, 41);
	assert_int_equal(r->fields[1].v.type, HUB_FT_DOUBLE);
	assert_true(r->fields[1].v.u.d == 30.0);
	assert_int_equal(r->fields[2].v.type, HUB_FT_INT);
	assert_int_equal(r->fields[2].v.u.i, 60);

	r = rec("traffic_flow");
	hub_record_add_double(&rs, r, "vehicle_count", NULL, 41.5);
	assert_string_equal(apply(r), HUB_R_BAD_TYPE);
	r = rec("traffic_flow");
	hub_record_add_string(&rs, r, "occupancy", "high", 4);
	assert_string_equal(apply(r), HUB_R_BAD_TYPE);
	r = rec("traffic_flow");
	hub_record_add_int(&rs, r, "congested", NULL, 1);
	assert_string_equal(apply(r), "ok");
	assert_int_equal(r->fields[0].v.type, HUB_FT_BOOL);
	assert_int_equal(r->fields[0].v.u.b, 1);
	r = rec("traffic_flow");
	hub_record_add_int(&rs, r, "congested", NULL, 2);
	assert_string_equal(apply(r), HUB_R_BAD_TYPE);
	r = rec("traffic_flow");
	hub_record_add_double(&rs, r, "congested", NULL, 1.0);
	assert_string_equal(apply(r), HUB_R_BAD_TYPE);
}

static void rejects(void **state)
{
	(void)state;
	struct hub_record *r = rec("water_quality");
	hub_record_add_double(&rs, r, "salinity_ppt", "g/l", 61.0);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("water_quality");
	hub_record_add_double(&rs, r, "ph", NULL, 0.0 / 0.0);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("water_quality");
	hub_record_add_double(&rs, r, "ph", "furlong", 7.0);
	assert_string_equal(apply(r), HUB_R_BAD_UNIT);
	r = rec("water_quality");
	hub_record_add_double(&rs, r, "lead_ppb", NULL, 7.0);
	assert_string_equal(apply(r), HUB_R_UNKNOWN_FIELD);
	r = rec("water_quality");
	hub_record_add_double(&rs, r, "ph", NULL, 7.0);
	hub_record_add_double(&rs, r, "ph", NULL, 7.1);
	assert_string_equal(apply(r), HUB_R_DUPLICATE);
	r = rec("water_quality");
	hub_record_set_tag(&rs, r, "owner", "me");
	hub_record_add_double(&rs, r, "ph", NULL, 7.0);
	assert_string_equal(apply(r), HUB_R_BAD_TAG);
	r = rec("water_quality");
	assert_string_equal(apply(r), HUB_R_EMPTY);
	r = rec("radiation");
	hub_record_add_double(&rs, r, "dose", NULL, 1.0);
	assert_string_equal(apply(r), HUB_R_UNKNOWN_KIND);
	r = rec(NULL);
	assert_string_equal(apply(r), HUB_R_NO_KIND);
}

static void load_dir_reports_the_bad_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/cityhub-schema-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[300], err[300];
	snprintf(path, sizeof(path), "%s/a.json", dir);
	FILE *fp = fopen(path, "w");
	fputs("{\"kind\":\"a\",\"fields\":{\"x\":{\"type\":\"double\",\"units\":{\"m\":[1,0]}}}}", fp);
	fclose(fp);
	struct hub_schemas *s = hub_schemas_load_dir(dir, err, sizeof(err));
	assert_non_null(s);
	assert_true(hub_schemas_has_kind(s, "a"));
	hub_schemas_free(s);
	snprintf(path, sizeof(path), "%s/b.json", dir);
	fp = fopen(path, "w");
	fputs("{\"kind\":\"b\",\"fields\":{\"x\":{\"type\":\"decimal\"}}}", fp);
	fclose(fp);
	assert_null(hub_schemas_load_dir(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "b.json"));
	assert_non_null(strstr(err, "field x"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.json", dir);
	unlink(path);
	rmdir(dir);
}

static void schema_dir_in_the_source_tree_loads(void **state)
{
	(void)state;
	const char *root = getenv("CITYHUB_SOURCE_ROOT");
	if (!root)
		skip();
	char dir[4096], err[300];
	snprintf(dir, sizeof(dir), "%s/schemas", root);
	struct hub_schemas *s = hub_schemas_load_dir(dir, err, sizeof(err));
	assert_non_null(s);
	const char *const *names, *const *builtin;
	/* the directory holds exactly the kinds built into the binary */
	assert_int_equal(hub_schemas_kinds(s, &names), hub_schemas_kinds(schemas, &builtin));
	hub_schemas_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(builtin_kinds),
	    cmocka_unit_test(converts_units_to_canonical),
	    cmocka_unit_test(device_kind_takes_aliases_and_units),
	    cmocka_unit_test(every_kind_has_a_position),
	    cmocka_unit_test(coerces_types),
	    cmocka_unit_test(rejects),
	    cmocka_unit_test(load_dir_reports_the_bad_file),
	    cmocka_unit_test(schema_dir_in_the_source_tree_loads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
