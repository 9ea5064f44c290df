/* Unit tests for the VN_AQI calculator (Decision 1459/QD-TCMT hourly index): sub-indices at and
 * between breakpoints, NowCast against hand-computed tables, categories, hour closing, skipped
 * hours, the station bound, and a save/load round trip. Every expected figure carries the
 * arithmetic that produced it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/aqi.h"
#include "cityhub/error.h"

#define MIN_NS (INT64_C(60) * 1000000000)
#define HOUR_NS (60 * MIN_NS)
/* 2026-12-04T00:00:00Z = 1796342400 s */
#define DAY0 (INT64_C(1796342400) * 1000000000)
/* h:mm on 2026-12-04 (UTC) in ns */
#define AT(h, m) (DAY0 + (h) * HOUR_NS + (m) * MIN_NS)

static void assert_close(double got, double want)
{
	if (!(fabs(got - want) <= 1e-9 * fmax(1, fabs(want)))) {
		print_error("got %.17g, want %.17g\n", got, want);
		fail();
	}
}

struct subcase {
	enum hub_aqi_pollutant p;
	double c;
	int want;
};

/* Every breakpoint of every column, a point inside each segment, and values past the top. */
static const struct subcase subcases[] = {
	/* PM2.5: 0, 25, 50, 80, 150, 250, 350, 500 -> 0..500 */
	{HUB_AQI_PM25, 0, 0},
	{HUB_AQI_PM25, 25, 50},
	{HUB_AQI_PM25, 50, 100},
	{HUB_AQI_PM25, 80, 150},
	{HUB_AQI_PM25, 150, 200},
	{HUB_AQI_PM25, 250, 300},
	{HUB_AQI_PM25, 350, 400},
	{HUB_AQI_PM25, 500, 500},
	{HUB_AQI_PM25, 12.5, 25},  /* 50/25 * 12.5 = 25 */
	{HUB_AQI_PM25, 35, 70},    /* 50 + 50/25 * (35 - 25) = 70 */
	{HUB_AQI_PM25, 65, 125},   /* 100 + 50/30 * (65 - 50) = 125 */
	{HUB_AQI_PM25, 100, 164},  /* 150 + 50/70 * (100 - 80) = 164.29 -> 164 */
	{HUB_AQI_PM25, 200, 250},  /* 200 + 100/100 * (200 - 150) = 250 */
	{HUB_AQI_PM25, 300, 350},  /* 300 + 100/100 * (300 - 250) = 350 */
	{HUB_AQI_PM25, 425, 450},  /* 400 + 100/150 * (425 - 350) = 450 */
	{HUB_AQI_PM25, 25.25, 51}, /* 50 + 2 * 0.25 = 50.5, half rounds up -> 51 */
	{HUB_AQI_PM25, 25.2, 50},  /* 50 + 2 * 0.2 = 50.4 -> 50 */
	{HUB_AQI_PM25, 0.2, 0},    /* 2 * 0.2 = 0.4 -> 0 */
	{HUB_AQI_PM25, 500.1, 500}, /* above the last breakpoint */
	{HUB_AQI_PM25, 9000, 500},
	/* PM10: 0, 50, 150, 250, 350, 420, 500, 600 */
	{HUB_AQI_PM10, 50, 50},
	{HUB_AQI_PM10, 150, 100},
	{HUB_AQI_PM10, 250, 150},
	{HUB_AQI_PM10, 350, 200},
	{HUB_AQI_PM10, 420, 300},
	{HUB_AQI_PM10, 500, 400},
	{HUB_AQI_PM10, 600, 500},
	{HUB_AQI_PM10, 30, 30},   /* 50/50 * 30 = 30 */
	{HUB_AQI_PM10, 100, 75},  /* 50 + 50/100 * (100 - 50) = 75 */
	{HUB_AQI_PM10, 200, 125}, /* 100 + 50/100 * (200 - 150) = 125 */
	{HUB_AQI_PM10, 300, 175}, /* 150 + 50/100 * (300 - 250) = 175 */
	{HUB_AQI_PM10, 385, 250}, /* 200 + 100/70 * (385 - 350) = 250 */
	{HUB_AQI_PM10, 460, 350}, /* 300 + 100/80 * (460 - 420) = 350 */
	{HUB_AQI_PM10, 550, 450}, /* 400 + 100/100 * (550 - 500) = 450 */
	{HUB_AQI_PM10, 700, 500},
	/* O3 (1 h): 0, 160, 200, 300, 400, 800, 1000, 1200 */
	{HUB_AQI_O3, 160, 50},
	{HUB_AQI_O3, 200, 100},
	{HUB_AQI_O3, 300, 150},
	{HUB_AQI_O3, 400, 200},
	{HUB_AQI_O3, 800, 300},
	{HUB_AQI_O3, 1000, 400},
	{HUB_AQI_O3, 1200, 500},
	{HUB_AQI_O3, 80, 25},   /* 50/160 * 80 = 25 */
	{HUB_AQI_O3, 180, 75},  /* 50 + 50/40 * (180 - 160) = 75 */
	{HUB_AQI_O3, 250, 125}, /* 100 + 50/100 * (250 - 200) = 125 */
	{HUB_AQI_O3, 350, 175}, /* 150 + 50/100 * (350 - 300) = 175 */
	{HUB_AQI_O3, 600, 250}, /* 200 + 100/400 * (600 - 400) = 250 */
	{HUB_AQI_O3, 900, 350}, /* 300 + 100/200 * (900 - 800) = 350 */
	{HUB_AQI_O3, 1100, 450}, /* 400 + 100/200 * (1100 - 1000) = 450 */
	{HUB_AQI_O3, 1300, 500},
	/* NO2 (1 h): 0, 100, 200, 700, 1200, 2350, 3100, 3850 */
	{HUB_AQI_NO2, 100, 50},
	{HUB_AQI_NO2, 200, 100},
	{HUB_AQI_NO2, 700, 150},
	{HUB_AQI_NO2, 1200, 200},
	{HUB_AQI_NO2, 2350, 300},
	{HUB_AQI_NO2, 3100, 400},
	{HUB_AQI_NO2, 3850, 500},
	{HUB_AQI_NO2, 50, 25},    /* 50/100 * 50 = 25 */
	{HUB_AQI_NO2, 150, 75},   /* 50 + 50/100 * (150 - 100) = 75 */
	{HUB_AQI_NO2, 450, 125},  /* 100 + 50/500 * (450 - 200) = 125 */
	{HUB_AQI_NO2, 950, 175},  /* 150 + 50/500 * (950 - 700) = 175 */
	{HUB_AQI_NO2, 1775, 250}, /* 200 + 100/1150 * (1775 - 1200) = 250 */
	{HUB_AQI_NO2, 2725, 350}, /* 300 + 100/750 * (2725 - 2350) = 350 */
	{HUB_AQI_NO2, 3475, 450}, /* 400 + 100/750 * (3475 - 3100) = 450 */
	{HUB_AQI_NO2, 4000, 500},
	/* CO (1 h, ug/m3): 0, 10000, 30000, 45000, 60000, 90000, 120000, 150000 */
	{HUB_AQI_CO, 10000, 50},
	{HUB_AQI_CO, 30000, 100},
	{HUB_AQI_CO, 45000, 150},
	{HUB_AQI_CO, 60000, 200},
	{HUB_AQI_CO, 90000, 300},
	{HUB_AQI_CO, 120000, 400},
	{HUB_AQI_CO, 150000, 500},
	{HUB_AQI_CO, 5000, 25},    /* 50/10000 * 5000 = 25 */
	{HUB_AQI_CO, 20000, 75},   /* 50 + 50/20000 * (20000 - 10000) = 75 */
	{HUB_AQI_CO, 37500, 125},  /* 100 + 50/15000 * (37500 - 30000) = 125 */
	{HUB_AQI_CO, 52500, 175},  /* 150 + 50/15000 * (52500 - 45000) = 175 */
	{HUB_AQI_CO, 75000, 250},  /* 200 + 100/30000 * (75000 - 60000) = 250 */
	{HUB_AQI_CO, 105000, 350}, /* 300 + 100/30000 * (105000 - 90000) = 350 */
	{HUB_AQI_CO, 135000, 450}, /* 400 + 100/30000 * (135000 - 120000) = 450 */
	{HUB_AQI_CO, 200000, 500},
	/* SO2 (1 h): 0, 125, 350, 550, 800, 1600, 2100, 2630 */
	{HUB_AQI_SO2, 125, 50},
	{HUB_AQI_SO2, 350, 100},
	{HUB_AQI_SO2, 550, 150},
	{HUB_AQI_SO2, 800, 200},
	{HUB_AQI_SO2, 1600, 300},
	{HUB_AQI_SO2, 2100, 400},
	{HUB_AQI_SO2, 2630, 500},
	{HUB_AQI_SO2, 62.5, 25},  /* 50/125 * 62.5 = 25 */
	{HUB_AQI_SO2, 237.5, 75}, /* 50 + 50/225 * (237.5 - 125) = 75 */
	{HUB_AQI_SO2, 450, 125},  /* 100 + 50/200 * (450 - 350) = 125 */
	{HUB_AQI_SO2, 675, 175},  /* 150 + 50/250 * (675 - 550) = 175 */
	{HUB_AQI_SO2, 1200, 250}, /* 200 + 100/800 * (1200 - 800) = 250 */
	{HUB_AQI_SO2, 1850, 350}, /* 300 + 100/500 * (1850 - 1600) = 350 */
	{HUB_AQI_SO2, 2365, 450}, /* 400 + 100/530 * (2365 - 2100) = 450 */
	{HUB_AQI_SO2, 3000, 500},
};

static void subindex_at_and_between_breakpoints(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(subcases) / sizeof(subcases[0]); i++) {
		int got = hub_aqi_subindex(subcases[i].p, subcases[i].c);
		if (got != subcases[i].want) {
			print_error("pollutant %d at %g: got %d, want %d\n", (int)subcases[i].p,
				    subcases[i].c, got, subcases[i].want);
			fail();
		}
	}
	for (int p = 0; p < HUB_AQI_NPOLL; p++) {
		assert_int_equal(hub_aqi_subindex((enum hub_aqi_pollutant)p, 0), 0);
		assert_int_equal(hub_aqi_subindex((enum hub_aqi_pollutant)p, -1), -1);
		assert_int_equal(hub_aqi_subindex((enum hub_aqi_pollutant)p, NAN), -1);
	}
}

static void pollutant_names(void **state)
{
	(void)state;
	assert_int_equal(hub_aqi_pollutant("pm25"), HUB_AQI_PM25);
	assert_int_equal(hub_aqi_pollutant("pm10"), HUB_AQI_PM10);
	assert_int_equal(hub_aqi_pollutant("o3"), HUB_AQI_O3);
	assert_int_equal(hub_aqi_pollutant("no2"), HUB_AQI_NO2);
	assert_int_equal(hub_aqi_pollutant("co"), HUB_AQI_CO);
	assert_int_equal(hub_aqi_pollutant("so2"), HUB_AQI_SO2);
	assert_int_equal(hub_aqi_pollutant("pm1"), -1);
	assert_int_equal(hub_aqi_pollutant("PM25"), -1);
	assert_int_equal(hub_aqi_pollutant(NULL), -1);
}

static void nowcast_w_above_half(void **state)
{
	(void)state;
	/* Constant 12 hours: w* = 40/40 = 1, every weight 1 -> 40. */
	double flat[12];
	for (int i = 0; i < 12; i++)
		flat[i] = 40;
	assert_close(hub_aqi_nowcast(flat, 12), 40);

	/* w* = 40/60 = 2/3 > 1/2, w = 2/3:
	 * (60 + 2/3*50 + 4/9*40) / (1 + 2/3 + 4/9) = (1000/9) / (19/9) = 1000/19 = 52.6316 */
	const double c1[] = {60, 50, 40};
	assert_close(hub_aqi_nowcast(c1, 3), 1000.0 / 19);

	/* A gap at hour 3: w* = 20/30 = 2/3, w = 2/3; hours 1, 2, 4 weigh 1, 2/3, 8/27:
	 * (30 + 20*2/3 + 24*8/27) / (1 + 2/3 + 8/27) = (1362/27) / (53/27) = 1362/53 = 25.6981 */
	const double c2[] = {30, 20, NAN, 24};
	assert_close(hub_aqi_nowcast(c2, 4), 1362.0 / 53);

	/* Hours 2 and 3 only (2 of 3): w* = 30/50 = 0.6, w = 0.6:
	 * (0.6*30 + 0.36*50) / (0.6 + 0.36) = 36 / 0.96 = 37.5 */
	const double c3[] = {NAN, 30, 50};
	assert_close(hub_aqi_nowcast(c3, 3), 37.5);
}

static void nowcast_w_half_or_below(void **state)
{
	(void)state;
	/* w* = 20/40 = 1/2 exactly: the w* <= 1/2 branch, w = 1/2:
	 * (40 + 0.5*20) / (1 + 0.5) = 50 / 1.5 = 33.3333 */
	const double c1[] = {40, 20};
	assert_close(hub_aqi_nowcast(c1, 2), 100.0 / 3);

	/* w* = 10/80 = 1/8 <= 1/2, so w = 1/2 (not 1/8):
	 * (80 + 0.5*10 + 0.25*40) / (1 + 0.5 + 0.25) = 95 / 1.75 = 380/7 = 54.2857
	 * (w = 1/8 would give 81.875 / 1.140625 = 71.78) */
	const double c2[] = {80, 10, 40};
	assert_close(hub_aqi_nowcast(c2, 3), 380.0 / 7);

	/* 12 hours with gaps (hours 3, 5..11 empty): w* = 10/100, w = 1/2; weights 1, 1/2, 1/8,
	 * 1/2048: num = 100 + 25 + 2.5 + 10/2048 = 261130/2048, den = 1 + 0.5 + 0.125 + 1/2048 =
	 * 3329/2048 -> 261130/3329 = 78.4410 */
	const double c3[] = {100, 50, NAN, 20, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 10};
	assert_close(hub_aqi_nowcast(c3, 12), 261130.0 / 3329);

	/* cmin = 0: w* = 0, w = 1/2: (0 + 0.5*10 + 0.25*20) / 1.75 = 10 / 1.75 = 40/7 */
	const double c4[] = {0, 10, 20};
	assert_close(hub_aqi_nowcast(c4, 3), 40.0 / 7);

	/* All zero: 0 (w* is 0/0; any weight gives 0). */
	const double c5[] = {0, 0, 0};
	assert_close(hub_aqi_nowcast(c5, 3), 0);
}

static void nowcast_two_of_three(void **state)
{
	(void)state;
	/* Latest 3 hours with one value: no NowCast, however full the older hours are. */
	const double c1[] = {50, NAN, NAN, 40, 40, 40, 40, 40, 40, 40, 40, 40};
	assert_true(isnan(hub_aqi_nowcast(c1, 12)));
	const double c2[] = {NAN, NAN, 50, 40, 40};
	assert_true(isnan(hub_aqi_nowcast(c2, 5)));
	const double c3[] = {NAN, NAN, NAN};
	assert_true(isnan(hub_aqi_nowcast(c3, 3)));
	const double c4[] = {50};
	assert_true(isnan(hub_aqi_nowcast(c4, 1)));
	/* Two of three: a value (see nowcast_w_above_half). */
	const double c5[] = {50, NAN, 50};
	assert_close(hub_aqi_nowcast(c5, 3), 50);
}

static void categories_at_every_boundary(void **state)
{
	(void)state;
	static const struct {
		int aqi, cat;
		const char *name;
	} cases[] = {
		{0, 1, "Tot"},       {50, 1, "Tot"},       {51, 2, "Trung binh"},
		{100, 2, "Trung binh"}, {101, 3, "Kem"},   {150, 3, "Kem"},
		{151, 4, "Xau"},     {200, 4, "Xau"},      {201, 5, "Rat xau"},
		{300, 5, "Rat xau"}, {301, 6, "Nguy hai"}, {500, 6, "Nguy hai"},
		{-1, 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = NULL;
		assert_int_equal(hub_aqi_category(cases[i].aqi, &name), cases[i].cat);
		assert_string_equal(name, cases[i].name);
	}
	assert_int_equal(hub_aqi_category(75, NULL), 2);
}

static int add(struct hub_aqi *a, const char *st, enum hub_aqi_pollutant p, double c, int64_t ts,
	       struct hub_aqi_result *out)
{
	return hub_aqi_add(a, st, "phuong-1", p, c, ts, out);
}

static void closes_the_hour_on_a_later_reading(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 30, AT(10, 5), &r), 0);
	assert_int_equal(add(a, "aq-01", HUB_AQI_O3, 180, AT(10, 10), &r), 0);
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 40, AT(10, 35), &r), 0);
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, -5, AT(10, 40), &r), 0); /* ignored */
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, -5, AT(11, 1), &r), 0);  /* no close */
	/* 11:02 closes [10:00, 11:00). PM2.5 mean (30 + 40)/2 = 35, but one closed hour is 1 of
	 * 3: no NowCast, and without PM no index; O3 180 -> 50 + 50/40*20 = 75 still reported. */
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 40, AT(11, 2), &r), 1);
	assert_string_equal(r.station, "aq-01");
	assert_string_equal(r.district, "phuong-1");
	assert_true(r.hour_end_ns == AT(11, 0));
	assert_int_equal(r.aqi, -1);
	assert_int_equal(r.category, 0);
	assert_string_equal(r.category_name, "");
	assert_string_equal(r.dominant, "");
	assert_true(isnan(r.conc[HUB_AQI_PM25]));
	assert_int_equal(r.sub[HUB_AQI_PM25], -1);
	assert_close(r.conc[HUB_AQI_O3], 180);
	assert_int_equal(r.sub[HUB_AQI_O3], 75);
	assert_true(isnan(r.conc[HUB_AQI_NO2]));
	assert_int_equal(r.sub[HUB_AQI_NO2], -1);
	/* A reading of the closed hour is late: ignored, it changes nothing below. */
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 1000, AT(10, 50), &r), 0);
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 60, AT(11, 40), &r), 0);
	/* 12:00:00 exactly opens the next hour. Hours (latest first): (40 + 60)/2 = 50, 35.
	 * w* = 35/50 = 0.7: (50 + 0.7*35) / 1.7 = 74.5/1.7 = 43.8235;
	 * sub = 50 + 50/25 * (43.8235 - 25) = 87.65 -> 88; O3 had no reading in 11:00-12:00. */
	assert_int_equal(add(a, "aq-01", HUB_AQI_PM25, 10, AT(12, 0), &r), 1);
	assert_true(r.hour_end_ns == AT(12, 0));
	assert_close(r.conc[HUB_AQI_PM25], 74.5 / 1.7);
	assert_int_equal(r.sub[HUB_AQI_PM25], 88);
	assert_int_equal(r.sub[HUB_AQI_O3], -1);
	assert_int_equal(r.aqi, 88);
	assert_int_equal(r.category, 2);
	assert_string_equal(r.category_name, "Trung binh");
	assert_string_equal(r.dominant, "pm25");
	hub_aqi_free(a);
}

/* Feeds one reading of every pollutant in c (NAN = none) in hour h at h:10. */
static int add_hour(struct hub_aqi *a, const char *st, int h, const double c[HUB_AQI_NPOLL],
		    struct hub_aqi_result *out)
{
	int closed = 0;
	for (int p = 0; p < HUB_AQI_NPOLL; p++)
		if (!isnan(c[p]))
			closed |= add(a, st, (enum hub_aqi_pollutant)p, c[p], AT(h, 10 + p), out);
	return closed;
}

static void station_max_and_dominant(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	/* Two equal PM hours: w* = 1, the NowCast is the value itself. */
	const double h10[] = {35, 100, NAN, NAN, NAN, NAN};
	/* PM2.5 35 -> 70, PM10 100 -> 75, O3 250 -> 125, NO2 50 -> 25, CO 5000 -> 25,
	 * SO2 62.5 -> 25 (see subcases): max 125 from O3, Kem. */
	const double h11[] = {35, 100, 250, 50, 5000, 62.5};
	assert_int_equal(add_hour(a, "aq-02", 10, h10, &r), 0);
	assert_int_equal(add_hour(a, "aq-02", 11, h11, &r), 1); /* closes 10: 1 hour, no index */
	assert_int_equal(r.aqi, -1);
	/* PM10 385 -> 250 beats NO2 450 -> 125; PM2.5 NowCast (35 + 35)/2 = 35 -> 70. */
	const double h12[] = {35, 385, NAN, 450, NAN, NAN};
	assert_int_equal(add_hour(a, "aq-02", 12, h12, &r), 1);
	assert_true(r.hour_end_ns == AT(12, 0));
	const int want11[] = {70, 75, 125, 25, 25, 25};
	for (int p = 0; p < HUB_AQI_NPOLL; p++)
		assert_int_equal(r.sub[p], want11[p]);
	assert_int_equal(r.aqi, 125);
	assert_string_equal(r.dominant, "o3");
	assert_int_equal(r.category, 3);
	assert_string_equal(r.category_name, "Kem");
	/* Close 12: PM10 hours 385, 100, 100: w* = 100/385 <= 1/2, w = 1/2:
	 * (385 + 50 + 25) / 1.75 = 460/1.75 = 262.857 -> 150 + 50/100 * 12.857 = 156.43 -> 156;
	 * NO2 450 -> 125; PM2.5 35 -> 70. Max 156 from PM10, Xau. */
	const double h13[] = {90, 90, NAN, NAN, NAN, NAN};
	assert_int_equal(add_hour(a, "aq-02", 13, h13, &r), 1);
	assert_close(r.conc[HUB_AQI_PM10], 460 / 1.75);
	assert_int_equal(r.sub[HUB_AQI_PM10], 156);
	assert_int_equal(r.sub[HUB_AQI_NO2], 125);
	assert_int_equal(r.aqi, 156);
	assert_string_equal(r.dominant, "pm10");
	assert_int_equal(r.category, 4);
	hub_aqi_free(a);
}

static void tie_goes_to_the_first_pollutant(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	/* PM2.5 35 -> 50 + 2*10 = 70; PM10 90 -> 50 + 0.5*40 = 70: a tie, PM2.5 is named. */
	const double h[] = {35, 90, NAN, NAN, NAN, NAN};
	add_hour(a, "aq-03", 10, h, &r);
	add_hour(a, "aq-03", 11, h, &r);
	assert_int_equal(add_hour(a, "aq-03", 12, h, &r), 1);
	assert_int_equal(r.sub[HUB_AQI_PM25], 70);
	assert_int_equal(r.sub[HUB_AQI_PM10], 70);
	assert_int_equal(r.aqi, 70);
	assert_string_equal(r.dominant, "pm25");
	hub_aqi_free(a);
}

static void skipped_hours_are_gaps(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 40, AT(10, 0), &r), 0);
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 40, AT(11, 0), &r), 1);
	/* 14:10 closes 11 (12 and 13 are skipped): hours 40, 40 -> 40 -> 50 + 2*15 = 80. */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 40, AT(14, 10), &r), 1);
	assert_true(r.hour_end_ns == AT(12, 0));
	assert_int_equal(r.aqi, 80);
	/* 15:05 closes 14: hours 40, -, -, 40, 40: 1 of the latest 3, no NowCast. */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 20, AT(15, 5), &r), 1);
	assert_true(r.hour_end_ns == AT(15, 0));
	assert_int_equal(r.aqi, -1);
	/* 16:00 closes 15: hours 20, 40, -, -, 40, 40; w* = 20/40 = 1/2, w = 1/2; weights 1, 1/2,
	 * 1/16, 1/32: (20 + 20 + 2.5 + 1.25) / 1.59375 = 43.75/1.59375 = 27.451
	 * -> 50 + 2 * 2.451 = 54.90 -> 55. */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 30, AT(16, 0), &r), 1);
	assert_close(r.conc[HUB_AQI_PM25], 43.75 / 1.59375);
	assert_int_equal(r.aqi, 55);
	/* 20 hours later. The reading at 36:00 closes 16: hours 30, 20, 40, -, -, 40, 40; w* =
	 * 20/40, w = 1/2; weights 1, 1/2, 1/4, 1/32, 1/64: (30 + 10 + 10 + 1.25 + 0.625) /
	 * 1.796875 = 51.875/1.796875 = 28.8696 -> 50 + 2 * 3.8696 = 57.74 -> 58. Hours 17..35
	 * enter as 19 empty hours, more than the 12-hour window holds. */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 50, AT(36, 0), &r), 1);
	assert_true(r.hour_end_ns == AT(17, 0));
	assert_close(r.conc[HUB_AQI_PM25], 51.875 / 1.796875);
	assert_int_equal(r.aqi, 58);
	/* 37:00 closes 36: hours 50, then 11 empty: 1 of 3, no NowCast. */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 50, AT(37, 0), &r), 1);
	assert_true(r.hour_end_ns == AT(37, 0));
	assert_int_equal(r.aqi, -1);
	/* Then 50, 50 -> 50 -> 100: the 40s of yesterday are gone (else w* < 1 would lower it). */
	assert_int_equal(add(a, "aq-04", HUB_AQI_PM25, 50, AT(38, 0), &r), 1);
	assert_close(r.conc[HUB_AQI_PM25], 50);
	assert_int_equal(r.aqi, 100);
	hub_aqi_free(a);
}

static void district_follows_the_station(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	assert_int_equal(hub_aqi_add(a, "aq-05", NULL, HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(hub_aqi_add(a, "aq-05", "", HUB_AQI_PM25, 10, AT(11, 0), &r), 1);
	assert_string_equal(r.district, "");
	assert_int_equal(hub_aqi_add(a, "aq-05", "phuong-4", HUB_AQI_PM25, 10, AT(11, 5), &r), 0);
	assert_int_equal(hub_aqi_add(a, "aq-05", NULL, HUB_AQI_PM25, 10, AT(12, 0), &r), 1);
	assert_string_equal(r.district, "phuong-4");
	hub_aqi_free(a);
}

static void station_bound(void **state)
{
	(void)state;
	struct hub_aqi *a = hub_aqi_new(2);
	struct hub_aqi_result r;
	assert_int_equal(add(a, "aq-b", HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(add(a, "aq-a", HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(add(a, "aq-c", HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(add(a, "aq-c", HUB_AQI_PM25, 10, AT(11, 0), &r), 0); /* never closes */
	char long_id[200];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(add(a, long_id, HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(hub_aqi_dropped(a), 3);
	assert_int_equal(add(a, "aq-a", HUB_AQI_PM25, 10, AT(11, 0), &r), 1);
	assert_string_equal(r.station, "aq-a");
	assert_int_equal(add(a, "aq-b", HUB_AQI_PM25, 10, AT(11, 0), &r), 1);
	assert_string_equal(r.station, "aq-b");
	json_t *saved = hub_aqi_save(a);
	assert_int_equal(json_array_size(json_object_get(saved, "stations")), 2);
	json_decref(saved);
	hub_aqi_free(a);

	struct hub_aqi *none = hub_aqi_new(0);
	assert_int_equal(add(none, "aq-a", HUB_AQI_PM25, 10, AT(10, 0), &r), 0);
	assert_int_equal(hub_aqi_dropped(none), 1);
	hub_aqi_free(none);
}

/* Asserts two results are the same, NAN equal to NAN. */
static void assert_same_result(const struct hub_aqi_result *x, const struct hub_aqi_result *y)
{
	assert_string_equal(x->station, y->station);
	assert_string_equal(x->district, y->district);
	assert_true(x->hour_end_ns == y->hour_end_ns);
	assert_int_equal(x->aqi, y->aqi);
	assert_int_equal(x->category, y->category);
	assert_string_equal(x->category_name, y->category_name);
	assert_string_equal(x->dominant, y->dominant);
	for (int p = 0; p < HUB_AQI_NPOLL; p++) {
		assert_int_equal(x->sub[p], y->sub[p]);
		assert_true(isnan(x->conc[p]) ? isnan(y->conc[p]) : x->conc[p] == y->conc[p]);
	}
}

/* Builds a calculator with history: two stations over six hours, gaps, an open hour. */
static struct hub_aqi *with_history(void)
{
	struct hub_aqi *a = hub_aqi_new(8);
	struct hub_aqi_result r;
	const double pm25[] = {12.3, 45.6, NAN, 78.9, 33.3, 21.7};
	for (int h = 0; h < 6; h++) {
		if (!isnan(pm25[h])) {
			add(a, "aq-10", HUB_AQI_PM25, pm25[h], AT(8 + h, 1), &r);
			add(a, "aq-10", HUB_AQI_PM25, pm25[h] / 3, AT(8 + h, 31), &r);
		}
		add(a, "aq-10", HUB_AQI_PM10, 40 + 7.7 * h, AT(8 + h, 2), &r);
		add(a, "aq-10", HUB_AQI_NO2, 90.5 + h, AT(8 + h, 3), &r);
		add(a, "aq-11", HUB_AQI_PM25, 60 - 3.1 * h, AT(8 + h, 4), &r);
	}
	/* Close hour 13; hour 14 stays open with one reading per station. */
	add(a, "aq-10", HUB_AQI_PM25, 55.5, AT(14, 5), &r);
	add(a, "aq-11", HUB_AQI_PM25, 66.6, AT(14, 6), &r);
	return a;
}

static void save_load_gives_the_same_next_result(void **state)
{
	(void)state;
	struct hub_aqi *a = with_history();
	json_t *saved = hub_aqi_save(a);
	char *text = json_dumps(saved, JSON_COMPACT);
	assert_non_null(text);
	assert_non_null(strstr(text, "null")); /* hours without data */
	json_error_t jerr;
	json_t *reread = json_loads(text, 0, &jerr);
	assert_non_null(reread);

	struct hub_aqi *b = hub_aqi_new(8);
	assert_int_equal(hub_aqi_load(b, reread), HUB_OK);
	json_t *again = hub_aqi_save(b);
	assert_true(json_equal(saved, again));
	assert_int_equal(hub_aqi_load(b, reread), HUB_EINVAL); /* not empty any more */

	/* The open hour keeps its readings: one more, then the close, in both. */
	struct hub_aqi_result ra, rb;
	const char *st[] = {"aq-10", "aq-11"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(add(a, st[i], HUB_AQI_PM25, 44.4, AT(14, 30), &ra), 0);
		assert_int_equal(add(b, st[i], HUB_AQI_PM25, 44.4, AT(14, 30), &rb), 0);
		assert_int_equal(add(a, st[i], HUB_AQI_PM25, 10, AT(15, 0), &ra), 1);
		assert_int_equal(add(b, st[i], HUB_AQI_PM25, 10, AT(15, 0), &rb), 1);
		assert_true(ra.aqi > 0);
		assert_same_result(&ra, &rb);
	}
	free(text);
	json_decref(saved);
	json_decref(reread);
	json_decref(again);
	hub_aqi_free(a);
	hub_aqi_free(b);
}

static void load_rejects_bad_state(void **state)
{
	(void)state;
	struct hub_aqi *a = with_history();
	json_t *saved = hub_aqi_save(a);
	hub_aqi_free(a);
	json_t *stations = json_object_get(saved, "stations");

	/* A short history in the second station: refused, and nothing half-loaded stays. */
	json_t *bad = json_deep_copy(saved);
	json_t *second = json_array_get(json_object_get(bad, "stations"), 1);
	json_t *means = json_object_get(second, "means");
	json_array_remove(json_object_get(means, "pm25"), 0);
	struct hub_aqi *b = hub_aqi_new(8);
	assert_int_equal(hub_aqi_load(b, bad), HUB_EINVAL);
	json_t *empty = hub_aqi_save(b);
	assert_int_equal(json_array_size(json_object_get(empty, "stations")), 0);
	json_decref(empty);
	json_decref(bad);

	/* The same station twice. */
	bad = json_deep_copy(saved);
	json_array_append(json_object_get(bad, "stations"), json_array_get(stations, 0));
	assert_int_equal(hub_aqi_load(b, bad), HUB_EINVAL);
	json_decref(bad);

	/* Another version, a negative mean, an open hour not on a whole hour. */
	bad = json_deep_copy(saved);
	json_object_set_new(bad, "version", json_integer(2));
	assert_int_equal(hub_aqi_load(b, bad), HUB_EINVAL);
	json_decref(bad);
	bad = json_deep_copy(saved);
	means = json_object_get(json_array_get(json_object_get(bad, "stations"), 0), "means");
	json_array_set_new(json_object_get(means, "pm10"), 0, json_real(-1));
	assert_int_equal(hub_aqi_load(b, bad), HUB_EINVAL);
	json_decref(bad);
	bad = json_deep_copy(saved);
	json_object_set_new(json_array_get(json_object_get(bad, "stations"), 0), "open_hour_ns",
			    json_integer(AT(14, 5)));
	assert_int_equal(hub_aqi_load(b, bad), HUB_EINVAL);
	json_decref(bad);

	/* A smaller bound keeps the first stations in id order. */
	struct hub_aqi *one = hub_aqi_new(1);
	assert_int_equal(hub_aqi_load(one, saved), HUB_OK);
	json_t *kept = hub_aqi_save(one);
	json_t *ks = json_object_get(kept, "stations");
	assert_int_equal(json_array_size(ks), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ks, 0), "id")),
			    "aq-10");
	json_decref(kept);
	hub_aqi_free(one);
	hub_aqi_free(b);
	json_decref(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(subindex_at_and_between_breakpoints),
		cmocka_unit_test(pollutant_names),
		cmocka_unit_test(nowcast_w_above_half),
		cmocka_unit_test(nowcast_w_half_or_below),
		cmocka_unit_test(nowcast_two_of_three),
		cmocka_unit_test(categories_at_every_boundary),
		cmocka_unit_test(closes_the_hour_on_a_later_reading),
		cmocka_unit_test(station_max_and_dominant),
		cmocka_unit_test(tie_goes_to_the_first_pollutant),
		cmocka_unit_test(skipped_hours_are_gaps),
		cmocka_unit_test(district_follows_the_station),
		cmocka_unit_test(station_bound),
		cmocka_unit_test(save_load_gives_the_same_next_result),
		cmocka_unit_test(load_rejects_bad_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
