/* The Tien River and Bao Dinh canal: tidal levels, flow, and salinity intrusion. */
#include "model_int.h"

#include <math.h>

#define NS 1e9

/* Periods in hours of the principal constituents at My Tho (mixed, mainly semidiurnal). */
static const double periods_h[SIM_TIDE_N] = {
    [SIM_TIDE_M2] = 12.4206012,
    [SIM_TIDE_S2] = 12.0,
    [SIM_TIDE_K1] = 23.9344697,
    [SIM_TIDE_O1] = 25.8193417,
};

double sim_tide_period_h(enum sim_tide_part p)
{
	return periods_h[p];
}

double sim_tide_level(const struct sim_tide *tide, double gain, int64_t lag_ns, int64_t t)
{
	double hours = (double)(t - lag_ns - tide->reference_ns) / (3600.0 * NS);
	double sum = 0;
	for (int i = 0; i < SIM_TIDE_N; i++)
		sum += tide->amp_m[i] *
		       cos(2 * M_PI * hours / periods_h[i] - tide->phase_deg[i] * M_PI / 180.0);
	return tide->mean_m + gain * sum;
}

/* Rate of change of the tidal level in m/h (central difference over 5 minutes). */
static double tide_rate(const struct sim_tide *tide, double gain, int64_t lag, int64_t t)
{
	int64_t h = 150 * 1000000000LL;
	return (sim_tide_level(tide, gain, lag, t + h) - sim_tide_level(tide, gain, lag, t - h)) *
	       12.0;
}

void sim_sample_level(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                      const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	const struct sim_tide *tide = &w->sc->tide;
	double level = sim_tide_level(tide, s->tide_gain, s->tide_lag_ns, t) + s->level_offset_m +
	               0.006 * sim_rng_normal(&st->rng) + 0.002 * c->wet;
	/* Rising water means flood-tide flow upstream (negative); falling means ebb. */
	double rate = tide_rate(tide, s->tide_gain, s->tide_lag_ns, t);
	double flow = s->flow_net_m3s - s->flow_gain * rate;
	flow *= 1.0 + 0.02 * sim_rng_normal(&st->rng);
	sim_reading_set(r, 0, level);
	sim_reading_set(r, 1, flow);
}

enum { Q_SAL, Q_COND, Q_PH, Q_DO, Q_TURB, Q_TEMP };

void sim_sample_quality(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                        const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	const struct sim_tide *tide = &w->sc->tide;
	/* The salt wedge peaks about an hour after high water at the intake. */
	int64_t lag = s->tide_lag_ns + 3600 * 1000000000LL;
	double dh = sim_tide_level(tide, s->tide_gain, lag, t) - tide->mean_m;
	double sal = s->salinity_ppt * w->sc->salinity.scale * exp(s->salinity_gain * dh) *
	             (1.0 + 0.03 * sim_rng_normal(&st->rng));
	sal = fmax(0.01, sal);
	double rate = fabs(tide_rate(tide, s->tide_gain, s->tide_lag_ns, t));
	sim_reading_set(r, Q_SAL, sal);
	sim_reading_set(r, Q_COND, 200.0 + 1515.0 * sal);
	sim_reading_set(r, Q_PH,
	                7.0 + 0.04 * sal + 0.15 * c->sun + 0.03 * sim_rng_normal(&st->rng));
	sim_reading_set(
	    r, Q_DO, fmax(0.5, 6.2 + 1.2 * c->sun - 0.05 * sal + 0.1 * sim_rng_normal(&st->rng)));
	sim_reading_set(
	    r, Q_TURB, fmax(1, 40.0 + 60.0 * rate + 5.0 * c->wet + 3.0 * sim_rng_normal(&st->rng)));
	sim_reading_set(r, Q_TEMP,
	                28.5 + 1.2 * cos(2 * M_PI * (c->hour - 15.0) / 24.0) +
	                    0.1 * sim_rng_normal(&st->rng));
}
