/* Fault injection: observed rates match the configured ones, rejecting faults exclude each
 * other, and each value fault does what it says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "encode.h"
#include "fault.h"
#include "model.h"
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sim_scenario *sc;

static int setup(void **state)
{
	char path[1024], err[512];
	(void)state;
	snprintf(path, sizeof(path), "%s/mytho.yaml", getenv("CITYHUB_SIM_SCENARIO_DIR"));
	if (sim_scenario_load(path, NULL, &sc, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_scenario_free(sc);
	return 0;
}

/* Observed count within 5 standard deviations of n * p. */
static void assert_rate(uint64_t got, uint64_t n, double p)
{
	double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
	if (fabs((double)got - mean) > 5 * sd + 1)
		fail_msg("count %llu, expected %.0f +- %.0f", (unsigned long long)got, mean,
		         5 * sd);
}

static void test_rates(void **state)
{
	(void)state;
	const uint64_t n = 200000;
	uint64_t count[SIM_FAULT_COUNT] = {0};
	memset(sc->fault_rate, 0, sizeof(sc->fault_rate));
	sc->fault_rate[SIM_FAULT_DROPOUT] = 0.05;
	sc->fault_rate[SIM_FAULT_DUPLICATE] = 0.02;
	sc->fault_rate[SIM_FAULT_CLOCK_SKEW] = 0.001;
	sc->fault_rate[SIM_FAULT_TRUNCATED_LPP] = 0.1;
	struct sim_faults *f = sim_faults_new(sc);
	const struct sim_sensor *native = sim_scenario_sensor(sc, "aq-market");
	const struct sim_sensor *lpp = sim_scenario_sensor(sc, "wq-baodinh-sluice");
	assert_false(sim_sensor_uses_lpp(native));
	assert_true(sim_sensor_uses_lpp(lpp));
	for (uint64_t i = 0; i < n; i++) {
		uint32_t m = sim_faults_draw(f, i % 2 ? native : lpp);
		for (int t = 0; t < SIM_FAULT_COUNT; t++)
			count[t] += (m >> t) & 1;
		/* Truncated LPP only ever hits the LPP sensor. */
		if (i % 2)
			assert_false(m & SIM_FAULT_BIT(SIM_FAULT_TRUNCATED_LPP));
	}
	assert_rate(count[SIM_FAULT_DROPOUT], n, 0.05);
	assert_rate(count[SIM_FAULT_DUPLICATE], n, 0.02);
	assert_rate(count[SIM_FAULT_CLOCK_SKEW], n, 0.001);
	assert_rate(count[SIM_FAULT_TRUNCATED_LPP], n / 2, 0.1);
	assert_int_equal(count[SIM_FAULT_SPIKE], 0);
	assert_int_equal(count[SIM_FAULT_OUTAGE], 0);
	sim_faults_free(f);
}

/* With every rejecting fault at rate 1, a message carries exactly one: the first. */
static void test_rejecting_exclusive(void **state)
{
	(void)state;
	memset(sc->fault_rate, 0, sizeof(sc->fault_rate));
	sc->fault_rate[SIM_FAULT_OUT_OF_RANGE] = 1;
	sc->fault_rate[SIM_FAULT_MALFORMED_JSON] = 1;
	sc->fault_rate[SIM_FAULT_OVERSIZE] = 1;
	struct sim_faults *f = sim_faults_new(sc);
	uint32_t m = sim_faults_draw(f, &sc->sensors[0]);
	assert_int_equal(m & SIM_FAULT_REJECTING, SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE));
	sc->fault_rate[SIM_FAULT_OUT_OF_RANGE] = 0.3;
	uint64_t oor = 0, bad = 0;
	for (int i = 0; i < 100000; i++) {
		m = sim_faults_draw(f, &sc->sensors[0]);
		oor += (m & SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE)) != 0;
		bad += (m & SIM_FAULT_BIT(SIM_FAULT_MALFORMED_JSON)) != 0;
		assert_int_equal(__builtin_popcount(m & SIM_FAULT_REJECTING), 1);
	}
	assert_rate(oor, 100000, 0.3);
	assert_rate(bad, 100000, 0.7);
	sim_faults_free(f);
}

static void sample(const struct sim_sensor *s, struct sim_world *w, int64_t t,
                   struct sim_reading *r)
{
	assert_int_equal(sim_world_sample(w, s, t, r, SIM_MAX_LANES), 1);
}

static void test_value_faults(void **state)
{
	(void)state;
	struct sim_world *w = sim_world_new(sc);
	struct sim_faults *f = sim_faults_new(sc);
	const struct sim_sensor *s = sim_scenario_sensor(sc, "wx-center");
	struct sim_reading r, first;
	struct sim_rng rng;
	sim_rng_seed(&rng, 1, 1);
	int64_t t = sc->start_ns;
	/* Stuck: the first frozen reading's values come back for 3..12 messages. */
	sample(s, w, t, &first);
	assert_int_equal(sim_fault_stuck(f, s, 1, &first, 1), 1);
	int stuck = 1;
	for (int i = 1; i < 20; i++) {
		sample(s, w, t + i * 300000000000LL, &r);
		if (!sim_fault_stuck(f, s, 0, &r, 1))
			break;
		assert_memory_equal(r.v, first.v, sizeof(r.v));
		stuck++;
	}
	assert_true(stuck >= 3 && stuck <= 12);
	/* Out of range: one field takes its impossible value; LPP limits the choice. */
	sample(s, w, t, &r);
	struct sim_reading orig = r;
	assert_int_equal(sim_fault_out_of_range(&rng, &r, 1, 1), 1);
	int changed = 0;
	const struct sim_kinddef *kd = sim_kind_def(s->kind);
	for (int i = 0; i < kd->nfields; i++) {
		if (r.v[i] != orig.v[i]) {
			changed++;
			assert_true(r.v[i] == kd->fields[i].oor);
		}
	}
	assert_int_equal(changed, 1);
	/* Spike: one field moves, and stays within its plausible bounds. */
	for (int k = 0; k < 100; k++) {
		r = orig;
		assert_int_equal(sim_fault_spike(&rng, &r, 1), 1);
		for (int i = 0; i < kd->nfields; i++)
			assert_true(r.v[i] >= kd->fields[i].lo && r.v[i] <= kd->fields[i].hi);
	}
	/* Skew: at least a minute, at most the scenario's maximum, either way. */
	for (int k = 0; k < 100; k++) {
		r = orig;
		sim_fault_skew(&rng, &r, 1, 3600LL * 1000000000LL);
		int64_t d = llabs(r.ts_ns - orig.ts_ns);
		assert_true(d >= 60LL * 1000000000LL && d <= 3600LL * 1000000000LL);
	}
	sim_faults_free(f);
	sim_world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_rejecting_exclusive),
	    cmocka_unit_test(test_value_faults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
