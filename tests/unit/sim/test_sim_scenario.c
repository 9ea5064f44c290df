/* Scenario files: the shipped My Tho network, overlays, and errors that name the bad key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cityhub/error.h"
#include "scenario.h"
#include "simtime.h"
#include "cityhub/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void shipped(char *path, size_t len)
{
	snprintf(path, len, "%s/mytho.yaml", getenv("CITYHUB_SIM_SCENARIO_DIR"));
}

static void test_network(void **state)
{
	(void)state;
	char path[1024], err[512];
	struct sim_scenario *sc = NULL;
	int kinds[SIM_KIND_COUNT] = {0}, formats[SIM_FMT_COUNT] = {0};
	shipped(path, sizeof(path));
	assert_int_equal(sim_scenario_load(path, NULL, &sc, err, sizeof(err)), HUB_OK);
	for (int i = 0; i < sc->nsensors; i++) {
		const struct sim_sensor *s = &sc->sensors[i];
		kinds[s->kind]++;
		formats[s->format]++;
		assert_true(s->lat >= 10.35 && s->lat <= 10.37);
		assert_true(s->lon >= 106.34 && s->lon <= 106.40);
		assert_true(s->interval_s >= 60);
		assert_int_equal(strlen(s->dev_eui), 16);
	}
	assert_int_equal(kinds[SIM_KIND_TRAFFIC], 12);
	assert_int_equal(kinds[SIM_KIND_AIR], 6);
	assert_int_equal(kinds[SIM_KIND_NOISE], 4);
	assert_int_equal(kinds[SIM_KIND_WEATHER], 2);
	assert_int_equal(kinds[SIM_KIND_LEVEL], 2);
	assert_true(kinds[SIM_KIND_QUALITY] >= 2);
	for (int f = 0; f < SIM_FMT_COUNT; f++)
		assert_true(formats[f] > 0);
	const struct sim_sensor *aq = sim_scenario_sensor(sc, "aq-market");
	assert_non_null(aq);
	assert_string_equal(sc->sensors[aq->near_index].id, "tf-leloi-nguyenhue");
	assert_int_equal(sc->utc_offset_h, 7);
	assert_string_equal(sc->network, "mytho-pilot");
	sim_scenario_free(sc);
}

static void test_overlays(void **state)
{
	(void)state;
	char path[1024], err[512];
	struct sim_scenario *sc = NULL;
	int64_t t;
	shipped(path, sizeof(path));
	assert_int_equal(sim_scenario_load(path, "rush-hour-congestion", &sc, err, sizeof(err)), 0);
	assert_string_equal(sc->name, "rush-hour-congestion");
	assert_true(sc->traffic.scale == 1.2);
	assert_true(sc->weather.rain_mm_h == 6); /* untouched keys keep the base value */
	assert_true(sc->duration_ns == 4 * 3600LL * 1000000000LL);
	assert_int_equal(sim_time_parse("2026-03-09T23:00:00Z", 0, &t), 0);
	assert_true(sc->start_ns == t);
	sim_scenario_free(sc);
	assert_int_equal(sim_scenario_load(path, "sensor-outage", &sc, err, sizeof(err)), 0);
	assert_int_equal(sc->noutages, 3);
	assert_string_equal(sc->outages[0].gateway, "mytho-gw-02");
	assert_true(sc->outages[0].for_ns == 90 * 60LL * 1000000000LL);
	assert_true(sc->fault_rate[SIM_FAULT_DROPOUT] == 0.03);
	sim_scenario_free(sc);
	assert_int_equal(sim_scenario_load(path, "hostile-gateway", &sc, err, sizeof(err)), 0);
	assert_true(sc->hostile_interval_ns == 60LL * 1000000000LL);
	sim_scenario_free(sc);
	assert_int_equal(sim_scenario_load(path, "no-such", &sc, err, sizeof(err)), HUB_ENOENT);
	assert_non_null(strstr(err, "no-such"));
}

/* Loads text as a scenario file; returns the code and leaves the message in err. */
static int load_text(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/test_sim_scenario_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct sim_scenario *sc = NULL;
	int rc = sim_scenario_load(path, NULL, &sc, err, errlen);
	sim_scenario_free(sc);
	unlink(path);
	return rc;
}

#define BASE "start: 2026-03-10T00:00:00+07:00\n"
#define ONE "sensors:\n  - {id: a, kind: noise, district: d, lon: 106.36, "

static void test_errors(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(load_text(BASE ONE "format: native}\n", err, sizeof(err)), HUB_OK);
	assert_int_equal(load_text(BASE ONE "format: native, colour: red}\n", err, sizeof(err)),
	                 HUB_EINVAL);
	assert_string_equal(err, "sensors[0]: unknown key \"colour\"");
	assert_int_equal(load_text(BASE ONE "format: xml}\n", err, sizeof(err)), HUB_EINVAL);
	assert_non_null(strstr(err, "sensors[0].format"));
	assert_int_equal(load_text(BASE ONE "format: native, lat: 99}\n", err, sizeof(err)),
	                 HUB_EINVAL);
	assert_non_null(strstr(err, "sensors[0].lat"));
	assert_int_equal(load_text(BASE ONE "format: native, fields: [pm25]}\n", err, sizeof(err)),
	                 HUB_EINVAL);
	assert_int_equal(
	    load_text(BASE ONE "format: senml, units: {laeq_db: dB}}\n", err, sizeof(err)),
	    HUB_EINVAL);
	assert_int_equal(load_text(BASE ONE "format: ttn}\n", err, sizeof(err)), HUB_EINVAL);
	assert_non_null(strstr(err, "lorawan.gateways"));
	assert_int_equal(
	    load_text(BASE "faults: {dropout: 1.5}\n" ONE "format: native}\n", err, sizeof(err)),
	    HUB_EINVAL);
	assert_string_equal(err, "faults.dropout: a rate is a number in [0, 1]");
	assert_int_equal(
	    load_text(BASE "duration: soon\n" ONE "format: native}\n", err, sizeof(err)),
	    HUB_EINVAL);
	assert_int_equal(load_text(ONE "format: native}\n", err, sizeof(err)), HUB_EINVAL);
	assert_int_equal(load_text(BASE ONE "format: native}\n  - {id: a, kind: noise, district: d,"
	                                    " format: native}\n",
	                           err, sizeof(err)),
	                 HUB_EINVAL);
	assert_non_null(strstr(err, "duplicate id"));
	assert_int_equal(load_text(BASE "sensors: [\n", err, sizeof(err)), HUB_EPARSE);
	assert_int_equal(load_text(BASE "a: &x 1\nb: *x\n", err, sizeof(err)), HUB_EPARSE);
}

/* Scenario text through the hub's YAML reader, as sim_scenario_load reads a file. */
static int parse_yaml(const char *text, const char *name, json_t **out, char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.file = name, .err = err, .errlen = errlen};
	struct hub_yaml_node *root = NULL;
	int rc = hub_yaml_read_string(&c, text, strlen(text), &root);
	if (rc == HUB_OK)
		rc = hub_yaml_to_json(&c, root, "", out);
	hub_yaml_free(root);
	return rc;
}

static void test_yaml_scalars(void **state)
{
	(void)state;
	const char *y = "i: 42\nf: 1.5\nb: true\nn: ~\ns: '42'\nt: 2026-03-10\nd: 1h30m\n";
	json_t *v = NULL;
	char err[256];
	assert_int_equal(parse_yaml(y, "x", &v, err, sizeof(err)), 0);
	assert_true(json_is_integer(json_object_get(v, "i")));
	assert_true(json_is_real(json_object_get(v, "f")));
	assert_true(json_is_true(json_object_get(v, "b")));
	assert_true(json_is_null(json_object_get(v, "n")));
	assert_string_equal(json_string_value(json_object_get(v, "s")), "42");
	assert_string_equal(json_string_value(json_object_get(v, "t")), "2026-03-10");
	assert_string_equal(json_string_value(json_object_get(v, "d")), "1h30m");
	json_decref(v);
	assert_int_equal(parse_yaml("a: 1\na: 2\n", "dup.yaml", &v, err, sizeof(err)), HUB_EINVAL);
	assert_string_equal(err, "dup.yaml:2: a: duplicate key (first set on line 1)");
}

static void test_times(void **state)
{
	(void)state;
	int64_t ns;
	char buf[48];
	assert_int_equal(sim_time_parse("2026-03-10T00:00:00+07:00", 0, &ns), 0);
	assert_true(ns == 1773075600LL * 1000000000LL);
	sim_time_format(ns + 123456789, 3, buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-09T17:00:00.123Z");
	sim_time_format(ns + 123456789, 6, buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-09T17:00:00.123456Z");
	assert_int_equal(sim_time_parse("2026-03-10", 7 * 3600, &ns), 0);
	assert_true(ns == 1773075600LL * 1000000000LL);
	assert_int_equal(sim_time_parse("2026-03-09 17:00Z", 0, &ns), 0);
	assert_true(ns == 1773075600LL * 1000000000LL);
	assert_int_equal(sim_time_parse("2026-03-09T17:00:00.5Z", 0, &ns), 0);
	assert_true(ns == 1773075600500000000LL);
	assert_int_equal(sim_time_parse("2026-13-01T00:00:00Z", 0, &ns), HUB_ERANGE);
	assert_int_equal(sim_time_parse("yesterday", 0, &ns), HUB_EPARSE);
	assert_int_equal(sim_time_parse("2026-03-10T00:00:00+7", 0, &ns), HUB_EPARSE);
	assert_int_equal(sim_duration_parse("1h30m", &ns), 0);
	assert_true(ns == 5400LL * 1000000000LL);
	assert_int_equal(sim_duration_parse("250ms", &ns), 0);
	assert_true(ns == 250000000LL);
	assert_int_equal(sim_duration_parse("2d", &ns), 0);
	assert_true(ns == 172800LL * 1000000000LL);
	assert_int_equal(sim_duration_parse("90", &ns), 0);
	assert_true(ns == 90LL * 1000000000LL);
	assert_int_equal(sim_duration_parse("-1h", &ns), HUB_EPARSE);
	assert_int_equal(sim_duration_parse("1x", &ns), HUB_EPARSE);
	assert_int_equal(sim_duration_parse("", &ns), HUB_EPARSE);
	assert_int_equal(sim_duration_parse("nan", &ns), HUB_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_network), cmocka_unit_test(test_overlays),
	    cmocka_unit_test(test_errors),  cmocka_unit_test(test_yaml_scalars),
	    cmocka_unit_test(test_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
