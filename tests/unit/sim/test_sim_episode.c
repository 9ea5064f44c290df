/* Field episodes and `only:`: profiles, how they change readings, their errors, and the
 * shipped alert episodes played by the binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cityhub/error.h"
#include "episode.h"
#include "model.h"
#include "scenario.h"
#include "sim_test_util.h"
#include "simtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN (60LL * SIM_NS_PER_S)
#define HOUR (60 * MIN)

static int load_text(const char *text, struct sim_scenario **sc, char *err, size_t errlen)
{
	char path[] = "/tmp/test_sim_episode_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*sc = NULL;
	int rc = sim_scenario_load(path, NULL, sc, err, errlen);
	unlink(path);
	return rc;
}

static int load_error(const char *text, char *err, size_t errlen)
{
	struct sim_scenario *sc;
	int rc = load_text(text, &sc, err, errlen);
	sim_scenario_free(sc);
	return rc;
}

#define NET                                                                                        \
	"start: 2026-03-10T00:00:00+07:00\n"                                                       \
	"sensors:\n"                                                                               \
	"  - {id: wq, kind: water_quality, district: d, fields: [salinity_ppt, ph]}\n"             \
	"  - {id: tf, kind: traffic_flow, district: d, lanes: [a, b]}\n"                           \
	"  - {id: nz, kind: noise, district: d}\n"

static void test_profile(void **state)
{
	(void)state;
	struct sim_ep_point pts[] = {{0, 1.0}, {HOUR, 3.0}, {HOUR, 5.0}, {2 * HOUR, 4.0}};
	struct sim_field_episode e = {.points = pts, .npoints = 4};
	assert_true(sim_episode_profile(&e, -MIN) == 1.0);
	assert_true(sim_episode_profile(&e, 0) == 1.0);
	assert_true(fabs(sim_episode_profile(&e, 15 * MIN) - 1.5) < 1e-12);
	assert_true(sim_episode_profile(&e, HOUR) ==
	            3.0); /* a step keeps the old value at its instant */
	assert_true(fabs(sim_episode_profile(&e, HOUR + 1) - 5.0) < 1e-9);
	assert_true(fabs(sim_episode_profile(&e, 90 * MIN) - 4.5) < 1e-12);
	assert_true(sim_episode_profile(&e, 3 * HOUR) == 4.0);
	e.npoints = 1;
	assert_true(sim_episode_profile(&e, 5 * HOUR) == 1.0);
}

/* One reading of sensor id at start + off with every measured field of its kind set to v. */
static int sample(const struct sim_scenario *sc, const char *id, int64_t off, double v,
                  struct sim_reading *rd, int n)
{
	const struct sim_sensor *s = sim_scenario_sensor(sc, id);
	for (int j = 0; j < n; j++) {
		memset(&rd[j], 0, sizeof(rd[j]));
		rd[j].sensor = s;
		rd[j].ts_ns = sc->start_ns + off;
		for (int i = 0; i < SIM_MAX_FIELDS; i++)
			rd[j].v[i] = v;
		rd[j].present = s->fields;
	}
	return sim_episodes_apply(sc, s, sc->start_ns + off, rd, n);
}

static void test_apply(void **state)
{
	(void)state;
	char err[512];
	struct sim_scenario *sc;
	struct sim_reading rd[2];
	const char *text =
	    NET "episodes:\n"
	        "  - {sensor: wq, field: salinity_ppt, from: 1h, value: [[0, 1], [1h, 5]]}\n"
	        "  - {sensor: wq, field: ph, from: 1h, for: 30m, add: 0.5}\n"
	        "  - {sensor: wq, field: do_mg_l, from: 0, for: 1d, value: 7}\n"
	        "  - {sensor: tf, field: occupancy, from: 0, for: 1h, scale: 3}\n"
	        "  - {sensor: tf, field: congested, from: 0, for: 1h, value: 1}\n"
	        "  - {sensor: nz, field: laeq_db, from: 0, for: 1h, add: -100}\n";
	assert_int_equal(load_text(text, &sc, err, sizeof(err)), HUB_OK);
	assert_int_equal(sc->nepisodes, 6);
	assert_true(sc->episodes[0].for_ns == HOUR); /* the last point's offset */
	/* before the window: untouched */
	assert_int_equal(sample(sc, "wq", HOUR - 1, 0.3, rd, 1), 0);
	assert_true(rd[0].v[0] == 0.3);
	/* at its start: value 1 and ph + 0.5 (0.8, clamped to ph's lower bound 4); do_mg_l is
	 * not measured, so left out */
	assert_int_equal(sample(sc, "wq", HOUR, 0.3, rd, 1), 2);
	assert_true(rd[0].v[0] == 1.0);
	assert_true(rd[0].v[2] == 4.0);
	assert_int_equal(sample(sc, "wq", HOUR, 7.0, rd, 1), 2);
	assert_true(fabs(rd[0].v[2] - 7.5) < 1e-9);
	assert_false(rd[0].present & (1u << 3));
	/* 20 min 30 s in: 1 + 4 x 20.5/60 = 2.3666.. rounded to the field's 2 decimals */
	assert_int_equal(sample(sc, "wq", HOUR + 20 * MIN + 30 * SIM_NS_PER_S, 0.3, rd, 1), 2);
	assert_true(rd[0].v[0] == 2.37);
	/* the ph episode has ended (window [from, from + for)), the salinity one not yet */
	assert_int_equal(sample(sc, "wq", HOUR + 30 * MIN, 0.3, rd, 1), 1);
	assert_true(rd[0].v[2] == 0.3);
	/* the window excludes its end */
	assert_int_equal(sample(sc, "wq", 2 * HOUR, 0.3, rd, 1), 0);
	/* every lane; a scale is clamped to the field's range; bools set */
	assert_int_equal(sample(sc, "tf", 10 * MIN, 0.4, rd, 2), 4);
	assert_true(rd[0].v[3] == 1.0 && rd[1].v[3] == 1.0); /* 0.4 x 3 clamped to 1 */
	assert_true(rd[1].v[5] == 1.0);
	/* add clamps to the lower bound too (laeq_db >= 20) */
	assert_int_equal(sample(sc, "nz", 0, 60, rd, 1), 1);
	assert_true(rd[0].v[0] == 20.0);
	/* add and scale leave a field the model did not set alone; value sets it */
	const struct sim_sensor *tf = sim_scenario_sensor(sc, "tf");
	memset(rd, 0, sizeof(rd[0]));
	rd[0].sensor = tf;
	assert_int_equal(sim_episodes_apply(sc, tf, sc->start_ns, rd, 1), 1);
	assert_true(rd[0].present == (1u << 5));
	sim_scenario_free(sc);
}

static void test_errors(void **state)
{
	(void)state;
	char err[512];
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"  - {sensor: zz, field: ph, for: 1h, value: 7}\n",
	     "episodes[0]: sensor: no sensor \"zz\""},
	    {"  - {sensor: wq, field: pm25, for: 1h, value: 7}\n",
	     "episodes[0]: field: not a field of water_quality"},
	    {"  - {sensor: tf, field: lane_id, for: 1h, value: 7}\n",
	     "episodes[0]: field: lane_id is a string"},
	    {"  - {sensor: wq, field: ph, value: 7}\n",
	     "episodes[0]: `for` must be a positive duration"},
	    {"  - {sensor: wq, field: ph, for: 1h}\n",
	     "episodes[0]: give one of value, add, scale"},
	    {"  - {sensor: wq, field: ph, for: 1h, value: 7, add: 1}\n",
	     "episodes[0].add: give one of value, add, scale"},
	    {"  - {sensor: wq, field: ph, for: 1h, value: 15}\n",
	     "episodes[0]: value 15 is outside ph's [4, 10]"},
	    {"  - {sensor: wq, field: ph, value: [[1h, 7], [30m, 8]]}\n",
	     "episodes[0].value[1]: offsets must not decrease"},
	    {"  - {sensor: wq, field: ph, value: [[1h, 7, 3]]}\n",
	     "episodes[0].value[0]: a point is [offset, value]"},
	    {"  - {sensor: wq, field: ph, value: [[soon, 7]]}\n",
	     "episodes[0].value[0]: expected a duration such as 90s, 10m, 1h30m, 2d"},
	    {"  - {sensor: wq, field: ph, for: 1h, value: high}\n",
	     "episodes[0].value: expected a number or a list of [offset, value]"},
	    {"  - {sensor: wq, field: ph, for: 1h, value: 7, colour: red}\n",
	     "episodes[0]: unknown key \"colour\""},
	};
	char text[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), NET "episodes:\n%s", bad[i].yaml);
		assert_int_equal(load_error(text, err, sizeof(err)), HUB_EINVAL);
		assert_string_equal(err, bad[i].msg);
	}
	assert_int_equal(load_error(NET "only: [wq, zz]\n", err, sizeof(err)), HUB_EINVAL);
	assert_string_equal(err, "only: item 1 is not a sensor id");
	assert_int_equal(load_error(NET "only: []\n", err, sizeof(err)), HUB_EINVAL);
}

static void test_only(void **state)
{
	(void)state;
	char err[512];
	struct sim_scenario *sc;
	assert_int_equal(load_text(NET "only: [nz, wq]\n", &sc, err, sizeof(err)), HUB_OK);
	assert_int_equal(sim_scenario_playing(sc), 2);
	assert_true(sim_scenario_sensor(sc, "tf")->quiet);
	assert_false(sim_scenario_sensor(sc, "wq")->quiet);
	sim_scenario_free(sc);
	assert_int_equal(load_text(NET, &sc, err, sizeof(err)), HUB_OK);
	assert_int_equal(sim_scenario_playing(sc), 3);
	sim_scenario_free(sc);
}

static void test_shipped(void **state)
{
	(void)state;
	static const struct {
		const char *name, *sensor;
		int nepisodes, playing;
	} eps[] = {
	    {"salinity_intrusion", "wq-binhduc-intake", 1, 1},
	    {"spring_tide_flood", "wl-tien-mytho", 1, 1},
	    {"smog", "aq-busstation", 2, 1},
	    {"congestion", "tf-30thang4-leloi", 4, 1},
	    {"sensor_dark", NULL, 0, 2},
	};
	char path[1024], err[512];
	snprintf(path, sizeof(path), "%s/mytho.yaml", getenv("CITYHUB_SIM_SCENARIO_DIR"));
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		struct sim_scenario *sc = NULL;
		assert_int_equal(sim_scenario_load(path, eps[i].name, &sc, err, sizeof(err)),
		                 HUB_OK);
		assert_int_equal(sc->nepisodes, eps[i].nepisodes);
		assert_int_equal(sim_scenario_playing(sc), eps[i].playing);
		if (eps[i].sensor)
			assert_string_equal(sc->episodes[0].sensor, eps[i].sensor);
		sim_scenario_free(sc);
	}
}

/* Value of `"n":"<field>"...` or `"<attr>":{..."value":` after key in line, as a double. */
static double number_after(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	assert_non_null(p);
	p = strstr(p, "\"value\":");
	assert_non_null(p);
	return strtod(p + 8, NULL);
}

/* The salinity drill played by the binary: exact values, logged window, one sensor. */
static void test_salinity_run(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	assert_int_equal(run_sim("--dry-run --scenario salinity_intrusion", &out, &err), 0);
	assert_non_null(strstr(err.data, "msg=episode sensor=wq-binhduc-intake field=salinity_ppt "
	                                 "op=value points=13 from=2026-03-09T17:00:00.000Z "
	                                 "to=2026-03-10T17:00:00.000Z"));
	assert_int_equal(count_of(&out, "\n"), 145); /* 144 readings every 10 min, the summary */
	assert_int_equal(count_of(&out, "ngsi/trung-an/wq-binhduc-intake\t"), 144);
	/* 03:16:47.625 local = 3h16m47.625s in: 0.9 + 1.6 x 16.79375/120 = 1.1239 -> 1.12 */
	const char *line = strstr(out.data, "2026-03-09T20:16:47.625Z");
	assert_non_null(line);
	assert_true(number_after(line, "\"salinity\"") == 1.12);
	/* 08:06:47.625 local: 5.0 - 0.4 x 6.79375/60 = 4.9547 -> 4.95 */
	line = strstr(out.data, "2026-03-10T01:06:47.625Z");
	assert_non_null(line);
	assert_true(number_after(line, "\"salinity\"") == 4.95);
	json_t *sum = summary_of(&out);
	assert_int_equal(jint(sum, "sensors", NULL), 1);
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

/* The dark station sends nothing from 09:00 to 12:00 local, then resumes. */
static void test_dark_run(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	assert_int_equal(run_sim("--dry-run --scenario sensor_dark", &out, &err), 0);
	size_t before = 0, during = 0, after = 0;
	for (const char *p = out.data; (p = strstr(p, "\"sensor_id\":\"wx-center\"")); p++) {
		const char *t = strstr(p, "\"time\":\"") + 8;
		if (strncmp(t, "2026-03-10T02:00", 16) < 0)
			before++;
		else if (strncmp(t, "2026-03-10T05:00", 16) < 0)
			during++;
		else
			after++;
	}
	assert_int_equal(before, 12); /* 08:00-09:00 local every 5 min */
	assert_int_equal(during, 0);
	assert_int_equal(after, 12);
	assert_int_equal(count_of(&out, "senml/phuong-10/wx-phuong10\t"), 30);
	assert_int_equal(count_of(&err, "fault=outage sensor=wx-center"), 36);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profile),  cmocka_unit_test(test_apply),
	    cmocka_unit_test(test_errors),   cmocka_unit_test(test_only),
	    cmocka_unit_test(test_shipped),  cmocka_unit_test(test_salinity_run),
	    cmocka_unit_test(test_dark_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
