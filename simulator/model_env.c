/* Air quality, noise and weather stations. */
#include "model_int.h"

#include <math.h>

#define NS 1e9

static double dt_since(const struct sim_sensor_state *st, int64_t t)
{
	return st->last_ns ? (double)(t - st->last_ns) / NS : 0;
}

/* Traffic index near a station: its intersection's load, else the city's. */
static double local_traffic(const struct sim_world *w, const struct sim_sensor *s, int64_t t,
                            const struct sim_city *c)
{
	if (s->near_index < 0)
		return c->traffic;
	const struct sim_sensor *n = &w->sc->sensors[s->near_index];
	return sim_near_flow(w, s->near_index, t, c) / (n->capacity_vph * n->nlanes);
}

enum { A_PM1, A_PM25, A_PM10, A_NO2, A_O3, A_CO, A_SO2, A_TEMP, A_HUM };

void sim_sample_air(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                    const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	double dt = dt_since(st, t);
	double ti = local_traffic(w, s, t, c);
	/* A shallow night-time boundary layer traps pollution; rain washes particles out. */
	double bl = 1.0 + 0.35 * cos(2 * M_PI * (c->hour - 5.0) / 24.0);
	double washout = exp(-0.12 * c->wet);
	double base = w->dry ? 28.0 : 16.0;
	double k = w->sc->air.pm_scale;
	double pm25 =
	    k * (base * bl + 22.0 * ti) * washout * exp(sim_ar_step(st, 0, dt, 5400, 0.15));
	double pm10 = pm25 * 1.65 + k * 9.0 * ti * washout + fabs(sim_ar_step(st, 1, dt, 1800, 3));
	double pm1 = pm25 * 0.72 * exp(sim_ar_step(st, 2, dt, 1800, 0.05));
	double no2 = 12.0 + 38.0 * ti * bl + sim_ar_step(st, 3, dt, 1800, 3);
	double o3 = 15.0 + 70.0 * pow(c->sun, 1.5) * (1.0 - 0.3 * fmin(ti, 1.0)) +
	            sim_ar_step(st, 4, dt, 3600, 4);
	double co = 350.0 + 1100.0 * ti * bl + sim_ar_step(st, 5, dt, 1800, 60);
	double so2 = 4.0 + 6.0 * ti + sim_ar_step(st, 6, dt, 3600, 1);
	sim_reading_set(r, A_PM1, fmax(0, pm1));
	sim_reading_set(r, A_PM25, fmax(0, pm25));
	sim_reading_set(r, A_PM10, fmax(0, pm10));
	sim_reading_set(r, A_NO2, fmax(0, no2));
	sim_reading_set(r, A_O3, fmax(0, o3));
	sim_reading_set(r, A_CO, fmax(0, co));
	sim_reading_set(r, A_SO2, fmax(0, so2));
	sim_reading_set(r, A_TEMP, c->temp_c + 0.4 + 0.2 * sim_rng_normal(&st->rng));
	sim_reading_set(r, A_HUM, fmin(1, fmax(0, c->humidity + 0.01 * sim_rng_normal(&st->rng))));
}

void sim_sample_noise(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                      const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	double q;
	if (s->near_index >= 0)
		q = sim_near_flow(w, s->near_index, t, c);
	else
		q = 4 * 1800.0 * c->traffic;
	/* Road noise grows with 10 log10 of the flow; horns make LAmax spiky. */
	double laeq = 42.0 + 10.0 * log10(1.0 + q / 6.0) + 1.2 * sim_rng_normal(&st->rng);
	double lamax = laeq + 6.0 + sim_rng_exp(&st->rng, 5.0);
	sim_reading_set(r, 0, fmin(125, laeq));
	sim_reading_set(r, 1, fmin(135, lamax));
}

enum { W_TEMP, W_HUM, W_PRES, W_RAIN, W_WIND, W_DIR };

void sim_sample_weather(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                        const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	double dt = dt_since(st, t);
	/* Semidiurnal atmospheric tide: pressure peaks near 10h and 22h. */
	double pres = (w->dry ? 1011.0 : 1007.0) + 1.1 * cos(2 * M_PI * (c->hour - 10.0) / 12.0) +
	              sim_ar_step(st, 0, dt, 6 * 3600, 0.6);
	double rain = sim_rain_between(w, t - (int64_t)s->interval_s * 1000000000LL, t);
	rain = floor(rain / 0.2) * 0.2; /* tipping bucket of 0.2 mm */
	double wind =
	    1.5 + 2.5 * c->sun + 0.3 * c->rain_mm_h + fabs(sim_ar_step(st, 1, dt, 900, 0.8));
	/* Dry season: the south-easterly "gio chuong" monsoon; wet season: south-westerly. */
	double dir = (w->dry ? 120.0 : 230.0) + sim_ar_step(st, 2, dt, 3600, 20);
	dir = fmod(fmod(dir, 360.0) + 360.0, 360.0);
	sim_reading_set(r, W_TEMP, c->temp_c + 0.15 * sim_rng_normal(&st->rng));
	sim_reading_set(r, W_HUM, fmin(1, fmax(0, c->humidity + 0.008 * sim_rng_normal(&st->rng))));
	sim_reading_set(r, W_PRES, pres);
	sim_reading_set(r, W_RAIN, rain);
	sim_reading_set(r, W_WIND, wind);
	sim_reading_set(r, W_DIR, dir >= 359.5 ? 0 : dir);
}
