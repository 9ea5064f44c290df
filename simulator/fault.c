#include "fault.h"

#include "encode.h"
#include "lpp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fault_state {
	struct sim_rng rng;
	int stuck_left;
	struct sim_reading frozen[SIM_MAX_LANES];
};

struct sim_faults {
	const struct sim_scenario *sc;
	struct fault_state *st;
};

struct sim_faults *sim_faults_new(const struct sim_scenario *sc)
{
	struct sim_faults *f = hub_xcalloc(1, sizeof(*f));
	f->sc = sc;
	f->st = hub_xcalloc((size_t)sc->nsensors, sizeof(*f->st));
	for (int i = 0; i < sc->nsensors; i++)
		sim_rng_seed(&f->st[i].rng, sc->seed ^ 0x6661756c74ULL,
		             sim_hash_str(sc->sensors[i].id));
	return f;
}

void sim_faults_free(struct sim_faults *f)
{
	if (!f)
		return;
	free(f->st);
	free(f);
}

struct sim_rng *sim_faults_rng(struct sim_faults *f, const struct sim_sensor *s)
{
	return &f->st[s->index].rng;
}

static int applies(const struct sim_sensor *s, enum sim_fault t)
{
	if (t == SIM_FAULT_TRUNCATED_LPP)
		return sim_sensor_uses_lpp(s);
	return t < SIM_FAULT_OUTAGE;
}

uint32_t sim_faults_draw(struct sim_faults *f, const struct sim_sensor *s)
{
	struct sim_rng *rng = &f->st[s->index].rng;
	uint32_t mask = 0;
	for (int t = 0; t < SIM_FAULT_OUTAGE; t++) {
		double rate = f->sc->fault_rate[t];
		/* Draw even when zero so a rate change elsewhere keeps the stream aligned. */
		double u = sim_rng_uniform(rng);
		if (rate <= 0 || !applies(s, (enum sim_fault)t) || u >= rate)
			continue;
		if ((SIM_FAULT_BIT(t) & SIM_FAULT_REJECTING) && (mask & SIM_FAULT_REJECTING))
			continue;
		mask |= SIM_FAULT_BIT(t);
	}
	return mask;
}

int sim_fault_stuck(struct sim_faults *f, const struct sim_sensor *s, int start,
                    struct sim_reading *r, int n)
{
	struct fault_state *st = &f->st[s->index];
	if (n > SIM_MAX_LANES)
		n = SIM_MAX_LANES;
	if (st->stuck_left == 0 && start) {
		st->stuck_left = 3 + (int)sim_rng_below(&st->rng, 10);
		memcpy(st->frozen, r, (size_t)n * sizeof(*r));
	}
	if (st->stuck_left == 0)
		return 0;
	st->stuck_left--;
	for (int i = 0; i < n; i++) {
		memcpy(r[i].v, st->frozen[i].v, sizeof(r[i].v));
		r[i].present = st->frozen[i].present;
	}
	return 1;
}

/* Picks a present field of r[*which] that satisfies ok(); -1 when none. */
static int pick_field(struct sim_rng *rng, struct sim_reading *r, int n, int *which,
                      int (*ok)(const struct sim_fielddef *, int lpp), int lpp)
{
	int cand[SIM_MAX_FIELDS], nc = 0;
	*which = (int)sim_rng_below(rng, (uint64_t)n);
	const struct sim_kinddef *kd = sim_kind_def(r[*which].sensor->kind);
	for (int i = 0; i < kd->nfields; i++)
		if ((r[*which].present & (1u << i)) && ok(&kd->fields[i], lpp))
			cand[nc++] = i;
	return nc ? cand[sim_rng_below(rng, (uint64_t)nc)] : -1;
}

static int spikable(const struct sim_fielddef *f, int lpp)
{
	(void)lpp;
	return (f->type == SIM_VT_NUM || f->type == SIM_VT_INT) && f->spike > 0;
}

int sim_fault_spike(struct sim_rng *rng, struct sim_reading *r, int n)
{
	int w;
	int i = pick_field(rng, r, n, &w, spikable, 0);
	if (i < 0)
		return 0;
	const struct sim_fielddef *f = &sim_kind_def(r[w].sensor->kind)->fields[i];
	double v = r[w].v[i] + sim_rng_range(rng, 2.0, 5.0) * f->spike;
	r[w].v[i] = sim_round(fmin(f->hi, fmax(f->lo, v)), f->decimals);
	return 1;
}

static int has_oor(const struct sim_fielddef *f, int lpp)
{
	if (isnan(f->oor))
		return 0;
	return !lpp || (f->lpp != SIM_LPP_NONE && sim_lpp_fits(f->lpp, f->oor));
}

int sim_fault_out_of_range(struct sim_rng *rng, struct sim_reading *r, int n, int lpp)
{
	int w;
	int i = pick_field(rng, r, n, &w, has_oor, lpp);
	if (i < 0)
		return 0;
	r[w].v[i] = sim_kind_def(r[w].sensor->kind)->fields[i].oor;
	return 1;
}

void sim_fault_skew(struct sim_rng *rng, struct sim_reading *r, int n, int64_t max_ns)
{
	double lo = 60e9, hi = fmax(lo, (double)max_ns);
	int64_t off = (int64_t)sim_rng_range(rng, lo, hi);
	if (sim_rng_chance(rng, 0.5))
		off = -off;
	for (int i = 0; i < n; i++)
		r[i].ts_ns += off;
}

void sim_fault_malform(struct sim_rng *rng, struct hub_buf *p)
{
	if (p->len < 2)
		return;
	char *colon = memchr(p->data, ':', p->len);
	switch (sim_rng_below(rng, 4)) {
	case 0: /* cut anywhere: no proper prefix of an object or array is JSON */
		p->len = 1 + sim_rng_below(rng, p->len - 1);
		break;
	case 1: /* lose the closing bracket */
		p->len--;
		break;
	case 2: /* trailing comma before the closing bracket */
		p->data[p->len - 1] = ',';
		hub_buf_append(p, p->data[0] == '[' ? "]" : "}", 1);
		break;
	default: /* key=value instead of key:value */
		if (colon)
			*colon = '=';
		else
			p->len--;
		break;
	}
	p->data[p->len] = '\0';
}

void sim_fault_oversize(struct hub_buf *p, size_t target)
{
	if (p->len == 0 || p->len >= target)
		return;
	char last = p->data[p->len - 1];
	size_t pad = target - p->len;
	hub_buf_reserve(p, pad + 1);
	memset(p->data + p->len - 1, ' ', pad);
	p->len += pad;
	p->data[p->len - 1] = last;
	p->data[p->len] = '\0';
}
