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
	assert_int_equal(n, 10);
	const char *want[] = {"traffic_flow", "air_quality", "noise", "weather", "water_level",
			      "water_quality", "link", "aqi", "alerts", "device"};
	for (size_t i = 0; i < 10; i++)
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

/* The derived kinds the hub writes itself: the hourly VN_AQI and alert transitions. */
static void derived_kinds(void **state)
{
	(void)state;
	struct hub_record *r = rec("aqi");
	hub_record_set_tag(&rs, r, "district", "phuong-1");
	hub_record_add_int(&rs, r, "aqi", NULL, 156);
	hub_record_add_int(&rs, r, "category", NULL, 4);
	hub_record_add_string(&rs, r, "category_name", "Xau", 3);
	hub_record_add_string(&rs, r, "dominant", "pm10", 4);
	hub_record_add_double(&rs, r, "pm25_nowcast", NULL, 35.0);
	hub_record_add_double(&rs, r, "pm10_nowcast", NULL, 262.857);
	const char *subs[] = {"aqi_pm25", "aqi_pm10", "aqi_o3", "aqi_no2", "aqi_co", "aqi_so2"};
	for (int i = 0; i < 6; i++)
		hub_record_add_int(&rs, r, subs[i], NULL, 25 * i);
	assert_string_equal(apply(r), "ok");
	r = rec("aqi");
	hub_record_add_int(&rs, r, "aqi", NULL, 501);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("aqi");
	hub_record_add_int(&rs, r, "category", NULL, 0);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("aqi");
	hub_record_add_double(&rs, r, "pm25_nowcast", NULL, -0.5);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("aqi");
	hub_record_add_int(&rs, r, "aqi_vn", NULL, 80);
	assert_string_equal(apply(r), HUB_R_UNKNOWN_FIELD);
	r = rec("aqi");
	hub_record_set_tag(&rs, r, "site", "cho");
	hub_record_add_int(&rs, r, "aqi", NULL, 80);
	assert_string_equal(apply(r), HUB_R_BAD_TAG);

	r = rec("alerts");
	hub_record_set_tag(&rs, r, "rule", "salinity");
	hub_record_set_tag(&rs, r, "level", "II");
	hub_record_set_tag(&rs, r, "district", "phuong-1");
	hub_record_add_string(&rs, r, "state", "firing", 6);
	hub_record_add_string(&rs, r, "severity", "major", 5);
	hub_record_add_string(&rs, r, "event_id", "e-1", 3);
	hub_record_add_string(&rs, r, "summary_en", "Salinity 4.2 g/L", 16);
	const char *vi = "\xc4\x90\xe1\xbb\x99 m\xe1\xba\xb7n 4.2 g/L"; /* Do man, UTF-8 */
	hub_record_add_string(&rs, r, "summary_vi", vi, strlen(vi));
	hub_record_add_double(&rs, r, "value", NULL, 4.2);
	hub_record_add_int(&rs, r, "starts_ms", NULL, INT64_C(1796342400000));
	assert_string_equal(apply(r), "ok");
	r = rec("alerts");
	hub_record_add_int(&rs, r, "starts_ms", NULL, -1);
	assert_string_equal(apply(r), HUB_R_OUT_OF_RANGE);
	r = rec("alerts");
	hub_record_add_int(&rs, r, "state", NULL, 1);
	assert_string_equal(apply(r), HUB_R_BAD_TYPE);
}

/* Returns kind's FIWARE attribute attr, or NULL. */
static const struct hub_fiware_attr *fiware(const char *kind, const char *attr)
{
	const struct hub_fiware_attr *a;
	size_t n = hub_schemas_fiware_attrs(schemas, kind, &a);
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].attr, attr) == 0)
			return &a[i];
	return NULL;
}

/* The FIWARE Smart Data Models names come from the schema files, for the NGSI adapter and
 * the simulator alike. */
static void fiware_names(void **state)
{
	(void)state;
	assert_string_equal(hub_schemas_fiware_type(schemas, "water_quality"),
			    "WaterQualityObserved");
	assert_string_equal(hub_schemas_fiware_type(schemas, "traffic_flow"), "TrafficFlowObserved");
	assert_null(hub_schemas_fiware_type(schemas, "link"));
	assert_null(hub_schemas_fiware_type(schemas, "nope"));

	const struct hub_fiware_attr *a = fiware("water_quality", "conductivity");
	assert_non_null(a);
	assert_string_equal(a->field, "conductivity_us_cm");
	assert_null(a->tag);
	assert_string_equal(a->unit, "D10");
	a = fiware("water_quality", "pH");
	assert_string_equal(a->field, "ph");
	assert_null(a->unit);
	a = fiware("water_quality", "stationCode");
	assert_null(a->field);
	assert_string_equal(a->tag, "station");
	assert_string_equal(fiware("traffic_flow", "laneDirection")->tag, "direction");
	/* an older spelling reads the same field; the model's own name comes first */
	assert_string_equal(fiware("air_quality", "PM25")->field, "pm25");
	const struct hub_fiware_attr *all;
	size_t n = hub_schemas_fiware_attrs(schemas, "air_quality", &all);
	assert_true(n > 2);
	assert_string_equal(all[0].attr, "pm1");
	assert_string_equal(all[1].attr, "PM1");
	assert_null(fiware("air_quality", "aqi_vn"));
	assert_null(fiware("traffic_flow", "intervalSeconds")); /* no such attribute in the model */
	assert_int_equal(hub_schemas_fiware_attrs(schemas, "link", &all), 0);

	double scale, offset;
	assert_int_equal(hub_schemas_unit_conv(schemas, "water_quality", "conductivity_us_cm", "D10",
					       &scale, &offset), HUB_OK);
	assert_true(scale == 10000 && offset == 0);
	assert_int_equal(hub_schemas_unit_conv(schemas, "water_quality", "ph", "D10", &scale,
					       &offset), HUB_ENOENT);
}

/* A schema file's FIWARE keys are checked at load: the unit must be one of the field's, a
 * tag one of the kind's, and no attribute named twice. */
static void bad_fiware_keys_are_refused(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
	    {"{\"kind\":\"k\",\"fields\":{\"x\":{\"type\":\"double\",\"fiware\":\"X\","
	     "\"fiware_unit\":\"MTR\",\"units\":{\"m\":[1,0]}}}}",
	     "fiware_unit MTR is not one of its units"},
	    {"{\"kind\":\"k\",\"tags\":[\"site\"],\"fiware_tags\":{\"stationCode\":\"station\"},"
	     "\"fields\":{\"x\":{\"type\":\"double\"}}}",
	     "fiware_tags.stationCode"},
	    {"{\"kind\":\"k\",\"fields\":{\"x\":{\"type\":\"double\",\"fiware\":\"A\"},"
	     "\"y\":{\"type\":\"double\",\"fiware\":\"B\",\"fiware_aliases\":[\"A\"]}}}",
	     "FIWARE attribute A named twice"},
	    {"{\"kind\":\"k\",\"fields\":{\"x\":{\"type\":\"double\",\"fiware_unit\":\"m\"}}}",
	     "field x: \"fiware\""},
	};
	char dir[] = "/tmp/cityhub-schema-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[300], err[300];
	snprintf(path, sizeof(path), "%s/k.json", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(bad[i][0], fp);
		fclose(fp);
		err[0] = '\0';
		assert_null(hub_schemas_load_dir(dir, err, sizeof(err)));
		if (!strstr(err, bad[i][1]))
			fail_msg("case %zu: '%s' not in: %s", i, bad[i][1], err);
	}
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

/* Issue 13 #8: details print the shortest text that reads back to the value, never float
 * artefacts such as -3276.8000000000002 (the LPP temperature -32768 x 0.1). */
static void details_shortest_numbers(void **state)
{
	(void)state;
	struct hub_reject rej;
	struct hub_record *r = rec("weather");
	hub_record_add_double(&rs, r, "temperature_c", NULL, -32768 * 0.1);
	assert_int_equal(hub_schemas_apply(schemas, &rs, r, &rej), HUB_EREJECT);
	assert_string_equal(rej.detail, "field temperature_c: -3276.8 outside [-40, 70]");
	r = rec("weather");
	hub_record_add_double(&rs, r, "temperature_c", NULL, 70.00000000000001);
	assert_int_equal(hub_schemas_apply(schemas, &rs, r, &rej), HUB_EREJECT);
	assert_string_equal(rej.detail, "field temperature_c: 70.00000000000001 outside [-40, 70]");
	r = rec("traffic_flow");
	hub_record_add_double(&rs, r, "vehicle_count", NULL, 0.1 + 0.2);
	assert_int_equal(hub_schemas_apply(schemas, &rs, r, &rej), HUB_EREJECT);
	assert_string_equal(rej.detail, "field vehicle_count: 0.30000000000000004 is not an integer");
	r = rec("traffic_flow");
	hub_record_add_double(&rs, r, "vehicle_count", NULL, 2.5000001);
	assert_int_equal(hub_schemas_apply(schemas, &rs, r, &rej), HUB_EREJECT);
	assert_string_equal(rej.detail, "field vehicle_count: 2.5000001 is not an integer");
}

/* Issue 13 #16: a converted value carries no binary artefact of the conversion. */
static void converted_values_have_no_artefacts(void **state)
{
	(void)state;
	struct hub_record *r = rec("water_level");
	hub_record_add_double(&rs, r, "level_m", "cm", 45.3);
	assert_string_equal(apply(r), "ok");
	assert_true(r->fields[0].v.u.d == 0.453); /* 45.3 / 100 is 0.45299999999999996 */
	r = rec("weather");
	hub_record_add_double(&rs, r, "wind_speed_ms", "km/h", 8.3);
	assert_string_equal(apply(r), "ok");
	assert_true(r->fields[0].v.u.d == 2.30555555555556); /* not 2.305555555555556 */
	r = rec("weather");
	hub_record_add_double(&rs, r, "wind_speed_ms", "km/h", 8.28);
	assert_string_equal(apply(r), "ok");
	assert_true(r->fields[0].v.u.d == 2.3); /* not 2.2999999999999994 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builtin_kinds),
		cmocka_unit_test(details_shortest_numbers),
		cmocka_unit_test(converted_values_have_no_artefacts),
		cmocka_unit_test(converts_units_to_canonical),
		cmocka_unit_test(coerces_types),
		cmocka_unit_test(rejects),
		cmocka_unit_test(load_dir_reports_the_bad_file),
		cmocka_unit_test(derived_kinds),
		cmocka_unit_test(schema_dir_in_the_source_tree_loads),
		cmocka_unit_test(fiware_names),
		cmocka_unit_test(bad_fiware_keys_are_refused),
		cmocka_unit_test(device_kind_takes_aliases_and_units),
		cmocka_unit_test(every_kind_has_a_position),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
