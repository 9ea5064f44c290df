/* Traffic at signalised intersections: weekday/weekend diurnal demand, per-lane counts,
 * Greenshields speed and occupancy, and congestion episodes. */
#include "model_int.h"

#include "cityhub/buf.h"

#include <math.h>

#define NS 1e9

static double bump(double h, double at, double width)
{
	double d = (h - at) / width;
	return exp(-0.5 * d * d);
}

double sim_traffic_profile(double h, int weekend)
{
	if (weekend)
		return 0.05 + 0.45 * bump(h, 9.5, 2.0) + 0.40 * bump(h, 13.0, 3.0) +
		       0.65 * bump(h, 18.0, 1.8);
	/* Weekday: school and work trips make a sharp 7h peak and a broader 17h one. */
	return 0.04 + 0.92 * bump(h, 7.0, 0.9) + 0.45 * bump(h, 11.5, 2.2) +
	       0.95 * bump(h, 17.0, 1.1) + 0.25 * bump(h, 20.0, 1.5);
}

void sim_traffic_state(double demand, double capacity, double vf, double severity,
                       struct sim_flow *out)
{
	double x = capacity > 0 ? demand / capacity : 0;
	double kr; /* density / jam density */
	if (x > 1.0)
		severity = fmax(severity, fmin(1.0, (x - 1.0) * 2.0));
	if (severity > 0) {
		/* Congested branch: density beyond critical, flow below capacity. */
		kr = 0.5 + 0.45 * severity;
		out->flow_vph = fmin(demand, 4.0 * capacity * kr * (1.0 - kr));
	} else {
		kr = 0.5 * (1.0 - sqrt(1.0 - x));
		out->flow_vph = demand;
	}
	out->speed_kmh = vf * (1.0 - kr);
	out->occupancy = 0.9 * kr;
	out->congested = kr > 0.6;
}

/* Severity of the congestion episode in progress at t, 0 when none. */
static double episode_at(const struct sim_sensor_state *st, int64_t t)
{
	double sev = 0;
	for (int i = 0; i < st->ncong; i++)
		if (t >= st->cong[i].start_ns && t < st->cong[i].end_ns)
			sev = fmax(sev, st->cong[i].value);
	return sev;
}

/* Episodes by thinning: candidates at the peak rate, kept in proportion to demand. */
void sim_congestion_init(struct sim_world *w, struct sim_sensor_state *st,
                         const struct sim_sensor *s)
{
	const struct sim_scenario *sc = w->sc;
	double hours = (double)sc->duration_ns / (3600.0 * NS);
	int64_t n = sim_rng_poisson(&st->rng, sc->traffic.congestion_per_h * hours);
	st->cong = hub_xcalloc((size_t)n + 1, sizeof(*st->cong));
	for (int64_t i = 0; i < n; i++) {
		int64_t at =
		    sc->start_ns + (int64_t)(sim_rng_uniform(&st->rng) * (double)sc->duration_ns);
		int weekend;
		double h = sim_local_hour(at, sc->utc_offset_h, &weekend);
		double keep = sim_traffic_profile(h, weekend);
		double len =
		    300.0 + sim_rng_exp(&st->rng, (double)sc->traffic.congestion_mean_ns / NS);
		double sev = sim_rng_range(&st->rng, 0.3, 1.0);
		if (!sim_rng_chance(&st->rng, keep))
			continue;
		st->cong[st->ncong].start_ns = at;
		st->cong[st->ncong].end_ns = at + (int64_t)(len * NS);
		st->cong[st->ncong].value = sev;
		st->ncong++;
	}
	(void)s;
}

void sim_lane_state(const struct sim_world *w, int idx, int lane, int64_t t,
                    const struct sim_city *c, struct sim_flow *out)
{
	const struct sim_sensor *s = &w->sc->sensors[idx];
	const struct sim_sensor_state *st = &w->st[idx];
	double demand = s->capacity_vph * c->traffic * st->lane_share[lane];
	sim_traffic_state(demand, s->capacity_vph, s->free_speed_kmh, episode_at(st, t), out);
}

double sim_near_flow(const struct sim_world *w, int idx, int64_t t, const struct sim_city *c)
{
	struct sim_flow f;
	double total = 0;
	for (int l = 0; l < w->sc->sensors[idx].nlanes; l++) {
		sim_lane_state(w, idx, l, t, c, &f);
		total += f.flow_vph;
	}
	return total;
}

enum { F_COUNT, F_INTERVAL, F_SPEED, F_OCC, F_LANE, F_CONGESTED };

void sim_sample_traffic(struct sim_world *w, const struct sim_sensor *s, int lane, int64_t t,
                        const struct sim_city *c, struct sim_reading *r)
{
	struct sim_sensor_state *st = &w->st[s->index];
	struct sim_flow f;
	sim_lane_state(w, s->index, lane, t, c, &f);
	int64_t count = sim_rng_poisson(&st->rng, f.flow_vph * s->interval_s / 3600.0);
	double speed = fmax(3.0, f.speed_kmh + 1.5 * sim_rng_normal(&st->rng));
	double occ = fmin(0.98, fmax(0.0, f.occupancy + 0.01 * sim_rng_normal(&st->rng)));
	sim_reading_set(r, F_COUNT, (double)count);
	sim_reading_set(r, F_INTERVAL, s->interval_s);
	if (count > 0)
		sim_reading_set(r, F_SPEED, speed);
	sim_reading_set(r, F_OCC, occ);
	if (s->fields & (1u << F_LANE)) {
		r->present |= 1u << F_LANE;
		r->str[F_LANE] = s->lanes[lane];
	}
	sim_reading_set(r, F_CONGESTED, f.congested);
}
