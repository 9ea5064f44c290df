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
	assert_int_equal(n, 7);
	const char *want[] = {"traffic_flow", "air_quality", "noise", "weather", "water_level",
			      "water_quality", "link"};
	for (size_t i = 0; i < 7; i++)
		assert_true(hub_schemas_has_kind(schemas, want[i]));
	assert_false(hub_schemas_has_kind(schemas, "radiation"));
	assert_false(hub_schemas_has_kind(schemas, NULL));
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
	const char *const *names;
	assert_int_equal(hub_schemas_kinds(s, &names), 7);
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
		cmocka_unit_test(schema_dir_in_the_source_tree_loads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
