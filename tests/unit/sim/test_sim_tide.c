/* Tides: constituent periods, and the shipped scenarios' extremes at My Tho. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_NS (3600.0 * 1e9)

static struct sim_tide only(enum sim_tide_part p, double amp)
{
	struct sim_tide t;
	memset(&t, 0, sizeof(t));
	t.mean_m = 0.2;
	t.reference_ns = 1773075600LL * 1000000000LL;
	t.amp_m[p] = amp;
	return t;
}

static int64_t at_hours(const struct sim_tide *t, double h)
{
	return t->reference_ns + (int64_t)(h * HOUR_NS);
}

static void test_periods(void **state)
{
	(void)state;
	assert_true(fabs(sim_tide_period_h(SIM_TIDE_M2) - 12.4206) < 1e-3);
	assert_true(fabs(sim_tide_period_h(SIM_TIDE_S2) - 12.0) < 1e-9);
	assert_true(fabs(sim_tide_period_h(SIM_TIDE_K1) - 23.9345) < 1e-3);
	assert_true(fabs(sim_tide_period_h(SIM_TIDE_O1) - 25.8193) < 1e-3);
}

/* The M2 component alone repeats every 12.42 h and is at its trough half a period later. */
static void test_m2_period(void **state)
{
	(void)state;
	struct sim_tide t = only(SIM_TIDE_M2, 0.7);
	double period = sim_tide_period_h(SIM_TIDE_M2);
	for (double h = 0; h < 48; h += 1.7) {
		double a = sim_tide_level(&t, 1.0, 0, at_hours(&t, h));
		double b = sim_tide_level(&t, 1.0, 0, at_hours(&t, h + period));
		assert_true(fabs(a - b) < 1e-6);
	}
	assert_true(fabs(sim_tide_level(&t, 1.0, 0, at_hours(&t, 0)) - 0.9) < 1e-9);
	assert_true(fabs(sim_tide_level(&t, 1.0, 0, at_hours(&t, period / 2)) - (-0.5)) < 1e-6);
	/* Not periodic at the S2 period: the two are distinct constituents. */
	double a = sim_tide_level(&t, 1.0, 0, at_hours(&t, 0));
	double b = sim_tide_level(&t, 1.0, 0, at_hours(&t, 12.0));
	assert_true(fabs(a - b) > 0.01);
}

/* Successive high waters of M2 found by scanning are 12.42 h apart (within a minute). */
static void test_m2_high_waters(void **state)
{
	(void)state;
	struct sim_tide t = only(SIM_TIDE_M2, 0.7);
	double prev = 0, highs[4];
	int n = 0;
	double step = 1.0 / 60.0;
	for (double h = 1; h < 50 && n < 4; h += step) {
		double y0 = sim_tide_level(&t, 1.0, 0, at_hours(&t, h - step));
		double y1 = sim_tide_level(&t, 1.0, 0, at_hours(&t, h));
		double y2 = sim_tide_level(&t, 1.0, 0, at_hours(&t, h + step));
		if (y1 > y0 && y1 >= y2)
			highs[n++] = h;
	}
	assert_int_equal(n, 4);
	for (int i = 1; i < n; i++) {
		prev = highs[i] - highs[i - 1];
		assert_true(fabs(prev - 12.4206) < 1.5 / 60.0);
	}
}

/* Gain scales the tidal part and lag shifts it in time. */
static void test_gain_and_lag(void **state)
{
	(void)state;
	struct sim_tide t = only(SIM_TIDE_K1, 0.4);
	int64_t lag = (int64_t)(0.5 * HOUR_NS);
	assert_true(fabs(sim_tide_level(&t, 0.5, 0, at_hours(&t, 0)) - 0.4) < 1e-9);
	assert_true(fabs(sim_tide_level(&t, 1.0, lag, at_hours(&t, 0.5)) - 0.6) < 1e-9);
}

static double day_max(const struct sim_scenario *sc, const struct sim_sensor *s)
{
	double max = -99;
	for (int64_t t = sc->start_ns; t < sc->start_ns + sc->duration_ns; t += 60000000000LL) {
		double y =
		    sim_tide_level(&sc->tide, s->tide_gain, s->tide_lag_ns, t) + s->level_offset_m;
		if (y > max)
			max = y;
	}
	return max;
}

static struct sim_scenario *load(const char *overlay)
{
	char path[1024], err[512];
	struct sim_scenario *sc = NULL;
	snprintf(path, sizeof(path), "%s/mytho.yaml", getenv("CITYHUB_SIM_SCENARIO_DIR"));
	int rc = sim_scenario_load(path, overlay, &sc, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	return sc;
}

/* flood-tide-salinity passes alert level III (1.60 m) at My Tho; normal-day stays below I. */
static void test_scenario_alert_levels(void **state)
{
	(void)state;
	struct sim_scenario *flood = load("flood-tide-salinity");
	struct sim_scenario *normal = load("normal-day");
	const struct sim_sensor *f = sim_scenario_sensor(flood, "wl-tien-mytho");
	const struct sim_sensor *n = sim_scenario_sensor(normal, "wl-tien-mytho");
	assert_non_null(f);
	assert_non_null(n);
	double fmax = day_max(flood, f), nmax = day_max(normal, n);
	assert_true(fmax > 1.60);
	assert_true(fmax < 2.2);
	assert_true(nmax < 1.40);
	sim_scenario_free(flood);
	sim_scenario_free(normal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_periods),
	    cmocka_unit_test(test_m2_period),
	    cmocka_unit_test(test_m2_high_waters),
	    cmocka_unit_test(test_gain_and_lag),
	    cmocka_unit_test(test_scenario_alert_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
