#include "episode.h"

#include "cityhub/log.h"
#include "kind.h"
#include "model.h"
#include "scenario.h"
#include "simtime.h"

#include <math.h>
#include <stdlib.h>

double sim_episode_profile(const struct sim_field_episode *e, int64_t off)
{
	const struct sim_ep_point *p = e->points;
	if (e->npoints == 1 || off <= p[0].at_ns)
		return p[0].v;
	for (int i = 1; i < e->npoints; i++) {
		if (off <= p[i].at_ns) {
			double span = (double)(p[i].at_ns - p[i - 1].at_ns);
			double f = span > 0 ? (double)(off - p[i - 1].at_ns) / span : 1.0;
			return p[i - 1].v + f * (p[i].v - p[i - 1].v);
		}
	}
	return p[e->npoints - 1].v;
}

/* New value of one field under episode e, or NAN when the reading keeps its own. */
static double apply_one(const struct sim_field_episode *e, double v, int present, double x)
{
	if (e->op == SIM_EP_VALUE)
		return x;
	if (!present)
		return NAN;
	return e->op == SIM_EP_ADD ? v + x : v * x;
}

int sim_episodes_apply(const struct sim_scenario *sc, const struct sim_sensor *s, int64_t t,
                       struct sim_reading *rd, int n)
{
	int changed = 0;
	for (int i = 0; i < sc->nepisodes; i++) {
		const struct sim_field_episode *e = &sc->episodes[i];
		int64_t off = t - (sc->start_ns + e->from_ns);
		if (e->sensor_index != s->index || off < 0 || off >= e->for_ns)
			continue;
		if (!(s->fields & (1u << e->field_index)))
			continue;
		const struct sim_fielddef *f = &sim_kind_def(s->kind)->fields[e->field_index];
		double x = sim_episode_profile(e, off);
		uint32_t bit = 1u << e->field_index;
		for (int j = 0; j < n; j++) {
			double v =
			    apply_one(e, rd[j].v[e->field_index], (rd[j].present & bit) != 0, x);
			if (isnan(v))
				continue;
			rd[j].present |= bit;
			rd[j].v[e->field_index] =
			    sim_round(fmin(f->hi, fmax(f->lo, v)), f->decimals);
			changed++;
		}
	}
	return changed;
}

static void log_outage(const struct sim_scenario *sc, const struct sim_outage *o)
{
	char from[48], to[48], who[256] = "";
	size_t n = 0;
	for (int j = 0; j < o->nsensors && n < sizeof(who); j++)
		n += (size_t)snprintf(who + n, sizeof(who) - n, "%s%s", j ? "," : "", o->sensors[j]);
	sim_time_format(sc->start_ns + o->from_ns, 3, from, sizeof(from));
	sim_time_format(sc->start_ns + o->from_ns + o->for_ns, 3, to, sizeof(to));
	hub_info("msg=outage %s=%s from=%s to=%s%s%s",
	         o->nsensors ? "sensors" : o->gateway ? "gateway" : "format",
	         hub_logq(o->nsensors ? who : o->gateway ? o->gateway : o->format), from, to,
	         o->alert ? " alert=" : "", o->alert ? hub_logq(o->alert) : "");
}

void sim_episodes_log(const struct sim_scenario *sc)
{
	static const char *const ops[] = {"value", "add", "scale"};
	char from[48], to[48];
	for (int i = 0; i < sc->nepisodes; i++) {
		const struct sim_field_episode *e = &sc->episodes[i];
		sim_time_format(sc->start_ns + e->from_ns, 3, from, sizeof(from));
		sim_time_format(sc->start_ns + e->from_ns + e->for_ns, 3, to, sizeof(to));
		hub_info("msg=episode sensor=%s field=%s op=%s points=%d from=%s to=%s%s%s",
		         e->sensor, e->field, ops[e->op], e->npoints, from, to,
		         e->alert ? " alert=" : "", e->alert ? hub_logq(e->alert) : "");
	}
	for (int i = 0; i < sc->noutages; i++)
		log_outage(sc, &sc->outages[i]);
}

void sim_episode_fini(struct sim_field_episode *e)
{
	free(e->sensor);
	free(e->field);
	free(e->points);
	free(e->alert);
}
