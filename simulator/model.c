#include "model_int.h"

#include "cityhub/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS 1e9
#define HOUR_NS (3600 * 1000000000LL)

double sim_local_hour(int64_t t_ns, double utc_offset_h, int *weekend)
{
	double local_s = (double)t_ns / NS + utc_offset_h * 3600.0;
	double days = floor(local_s / 86400.0);
	/* 1970-01-01 was a Thursday: (days + 4) % 7 gives 0 = Sunday. */
	int dow = (int)(((int64_t)days % 7 + 7 + 4) % 7);
	if (weekend)
		*weekend = dow == 0 || dow == 6;
	return (local_s - days * 86400.0) / 3600.0;
}

/* Rain events: Poisson in count, afternoon-heavy in the wet season, exponential length and
 * intensity. Drawn once from the world's own stream. */
static void rain_init(struct sim_world *w, struct sim_rng *rng)
{
	const struct sim_scenario *sc = w->sc;
	int64_t from = sc->start_ns - 12 * HOUR_NS, to = sc->start_ns + sc->duration_ns;
	double days = (double)(to - from) / (86400.0 * NS);
	int64_t n = sim_rng_poisson(rng, sc->weather.rain_per_day * days * (w->dry ? 0.4 : 1.0));
	w->rain = hub_xcalloc((size_t)n + 1, sizeof(*w->rain));
	for (int64_t i = 0; i < n; i++) {
		struct sim_episode *e = &w->rain[w->nrain];
		double at = sim_rng_uniform(rng);
		double hour = sim_local_hour(from + (int64_t)(at * (double)(to - from)),
		                             sc->utc_offset_h, NULL);
		double afternoon = exp(-pow((hour - 16.0) / 3.0, 2));
		if (!w->dry && !sim_rng_chance(rng, 0.25 + 0.75 * afternoon))
			continue;
		e->start_ns = from + (int64_t)(at * (double)(to - from));
		e->end_ns = e->start_ns + (int64_t)((600.0 + sim_rng_exp(rng, 4800.0)) * NS);
		e->value = 0.5 + sim_rng_exp(rng, sc->weather.rain_mm_h);
		w->nrain++;
	}
}

struct sim_world *sim_world_new(const struct sim_scenario *sc)
{
	struct sim_world *w = hub_xcalloc(1, sizeof(*w));
	struct sim_rng city;
	w->sc = sc;
	w->dry = strcmp(sc->season, "dry") == 0;
	sim_rng_seed(&city, sc->seed, 0x6369747921ULL);
	rain_init(w, &city);
	w->st = hub_xcalloc((size_t)sc->nsensors, sizeof(*w->st));
	for (int i = 0; i < sc->nsensors; i++) {
		const struct sim_sensor *s = &sc->sensors[i];
		struct sim_sensor_state *st = &w->st[i];
		sim_rng_seed(&st->rng, sc->seed, sim_hash_str(s->id));
		for (int l = 0; l < s->nlanes; l++)
			st->lane_share[l] = 0.85 + 0.3 * sim_rng_uniform(&st->rng);
		if (s->kind == SIM_KIND_TRAFFIC)
			sim_congestion_init(w, st, s);
	}
	return w;
}

void sim_world_free(struct sim_world *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->sc->nsensors; i++)
		free(w->st[i].cong);
	free(w->st);
	free(w->rain);
	free(w);
}

double sim_rain_between(const struct sim_world *w, int64_t t0, int64_t t1)
{
	double mm = 0;
	for (int i = 0; i < w->nrain; i++) {
		int64_t a = w->rain[i].start_ns > t0 ? w->rain[i].start_ns : t0;
		int64_t b = w->rain[i].end_ns < t1 ? w->rain[i].end_ns : t1;
		if (b > a)
			mm += w->rain[i].value * (double)(b - a) / (3600.0 * NS);
	}
	return mm;
}

static void rain_at(const struct sim_world *w, int64_t t, double *rate, double *wet)
{
	*rate = 0;
	*wet = 0;
	for (int i = 0; i < w->nrain; i++) {
		const struct sim_episode *e = &w->rain[i];
		if (t < e->start_ns)
			continue;
		if (t < e->end_ns) {
			*rate += e->value;
			*wet += e->value;
		} else {
			*wet += e->value * exp(-(double)(t - e->end_ns) / (2.0 * 3600.0 * NS));
		}
	}
}

void sim_city_at(const struct sim_world *w, int64_t t, struct sim_city *c)
{
	const struct sim_scenario *sc = w->sc;
	c->hour = sim_local_hour(t, sc->utc_offset_h, &c->weekend);
	double s = sin(M_PI * (c->hour - 6.0) / 12.0);
	c->sun = s > 0 ? s : 0;
	rain_at(w, t, &c->rain_mm_h, &c->wet);
	double mean = w->dry ? 28.5 : 28.0, amp = w->dry ? 4.5 : 3.5;
	double cool = 3.0 * fmin(1.0, c->rain_mm_h / 10.0);
	c->temp_c =
	    mean + amp * cos(2 * M_PI * (c->hour - 14.0) / 24.0) - cool + sc->weather.temp_offset_c;
	double rh = 0.95 - 0.035 * (c->temp_c - (mean - amp)) + (w->dry ? 0.0 : 0.05);
	rh += 0.3 * fmin(1.0, c->rain_mm_h / 5.0);
	c->humidity = fmax(0.35, fmin(0.98, rh));
	c->traffic = sim_traffic_profile(c->hour, c->weekend) * sc->traffic.scale;
}

double sim_ar_step(struct sim_sensor_state *st, int i, double dt_s, double tau_s, double sigma)
{
	double rho = dt_s > 0 ? exp(-dt_s / tau_s) : 0;
	st->ar[i] = rho * st->ar[i] + sqrt(1 - rho * rho) * sigma * sim_rng_normal(&st->rng);
	return st->ar[i];
}

void sim_reading_set(struct sim_reading *r, int idx, double v)
{
	if (!(r->sensor->fields & (1u << idx)))
		return;
	const struct sim_fielddef *f = &sim_kind_def(r->sensor->kind)->fields[idx];
	r->present |= 1u << idx;
	r->v[idx] = sim_round(v, f->decimals);
}

typedef void (*sampler_fn)(struct sim_world *, const struct sim_sensor *, int64_t,
                           const struct sim_city *, struct sim_reading *);

static const sampler_fn samplers[SIM_KIND_COUNT] = {
    [SIM_KIND_AIR] = sim_sample_air,         [SIM_KIND_NOISE] = sim_sample_noise,
    [SIM_KIND_WEATHER] = sim_sample_weather, [SIM_KIND_LEVEL] = sim_sample_level,
    [SIM_KIND_QUALITY] = sim_sample_quality,
};

int sim_world_sample(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                     struct sim_reading *out, int max)
{
	struct sim_city c;
	int n = s->kind == SIM_KIND_TRAFFIC ? s->nlanes : 1;
	if (n > max)
		n = max;
	sim_city_at(w, t, &c);
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].sensor = s;
		out[i].ts_ns = t;
		if (s->kind == SIM_KIND_TRAFFIC)
			sim_sample_traffic(w, s, i, t, &c, &out[i]);
		else
			samplers[s->kind](w, s, t, &c, &out[i]);
	}
	w->st[s->index].last_ns = t;
	return n;
}
