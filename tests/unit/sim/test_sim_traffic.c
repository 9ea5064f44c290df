/* Traffic: diurnal peaks in the right hours, weekend shape, Greenshields relation, and the
 * air/noise coupling through samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"
#include "simtime.h"

#include <math.h>

/* Hour (to 0.01 h) of the profile's maximum within [from, to). */
static double peak_hour(double from, double to, int weekend)
{
	double best = from, max = -1;
	for (double h = from; h < to; h += 0.01) {
		double v = sim_traffic_profile(h, weekend);
		if (v > max) {
			max = v;
			best = h;
		}
	}
	return best;
}

static void test_weekday_peaks(void **state)
{
	(void)state;
	double am = peak_hour(4, 12, 0), pm = peak_hour(12, 22, 0);
	assert_true(am >= 6.5 && am <= 7.5);
	assert_true(pm >= 16.5 && pm <= 17.5);
	/* Peaks are several times the night-time trough. */
	double night = sim_traffic_profile(3.0, 0);
	assert_true(sim_traffic_profile(am, 0) > 10 * night);
	assert_true(sim_traffic_profile(pm, 0) > 10 * night);
	/* Midday sits between. */
	double noon = sim_traffic_profile(12.5, 0);
	assert_true(noon < sim_traffic_profile(am, 0) && noon > 5 * night);
}

static void test_weekend_shape(void **state)
{
	(void)state;
	double am = peak_hour(4, 12, 1), pm = peak_hour(12, 23, 1);
	/* Later, lower morning; the evening outing is the weekend's main peak. */
	assert_true(am > 8.0 && am < 11.0);
	assert_true(pm > 17.0 && pm < 19.0);
	assert_true(sim_traffic_profile(7.0, 1) < 0.6 * sim_traffic_profile(7.0, 0));
	assert_true(sim_traffic_profile(pm, 1) > sim_traffic_profile(am, 1));
}

static void test_local_hour(void **state)
{
	(void)state;
	int64_t t;
	int weekend = -1;
	/* 2026-03-10 is a Tuesday; 2026-03-14 a Saturday; 2026-03-15 a Sunday. */
	assert_int_equal(sim_time_parse("2026-03-10T07:30:00+07:00", 0, &t), 0);
	assert_true(fabs(sim_local_hour(t, 7, &weekend) - 7.5) < 1e-9);
	assert_int_equal(weekend, 0);
	assert_int_equal(sim_time_parse("2026-03-14T23:00:00+07:00", 0, &t), 0);
	assert_true(fabs(sim_local_hour(t, 7, &weekend) - 23.0) < 1e-9);
	assert_int_equal(weekend, 1);
	assert_int_equal(sim_time_parse("2026-03-15T12:00:00Z", 0, &t), 0);
	assert_true(fabs(sim_local_hour(t, 7, &weekend) - 19.0) < 1e-9);
	assert_int_equal(weekend, 1);
	assert_int_equal(sim_time_parse("2026-03-16T12:00:00Z", 0, &t), 0);
	sim_local_hour(t, 7, &weekend);
	assert_int_equal(weekend, 0);
}

/* Speed falls as demand rises; above capacity the lane is congested and flow drops. */
static void test_greenshields(void **state)
{
	(void)state;
	struct sim_flow f, prev;
	sim_traffic_state(0, 1800, 40, 0, &prev);
	assert_true(fabs(prev.speed_kmh - 40) < 1e-9);
	assert_true(prev.occupancy == 0);
	for (double d = 100; d <= 1800; d += 100) {
		sim_traffic_state(d, 1800, 40, 0, &f);
		assert_true(f.speed_kmh < prev.speed_kmh);
		assert_true(f.occupancy > prev.occupancy);
		assert_true(fabs(f.flow_vph - d) < 1e-9);
		assert_int_equal(f.congested, 0);
		prev = f;
	}
	/* At capacity: half the free speed, critical density. */
	assert_true(fabs(prev.speed_kmh - 20) < 1e-9);
	sim_traffic_state(2600, 1800, 40, 0, &f);
	assert_int_equal(f.congested, 1);
	assert_true(f.flow_vph < 1800 && f.speed_kmh < 15);
	/* A congestion episode slows even light demand. */
	sim_traffic_state(600, 1800, 40, 0.8, &f);
	assert_int_equal(f.congested, 1);
	assert_true(f.speed_kmh < 10 && f.occupancy > 0.6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_weekday_peaks),
	    cmocka_unit_test(test_weekend_shape),
	    cmocka_unit_test(test_local_hour),
	    cmocka_unit_test(test_greenshields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
