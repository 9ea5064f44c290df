/* What each rule type judges: a table of measures over one reading (threshold, bands, rate,
 * window); stale rules are judged on the receive clock in engine.c. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert_int.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"

static const char *const type_names[] = {"threshold", "bands", "rate", "window", "stale", NULL};

int hub_rule_selects(const struct rule *r, const struct hub_record *rec)
{
	const struct hub_cfg_rule *c = r->cfg;
	const char *key;
	json_t *v;

	if (c->kind && strcmp(c->kind, "*") != 0 && strcmp(c->kind, rec->kind) != 0)
		return 0;
	if (c->sensor && (!rec->sensor_id || fnmatch(c->sensor, rec->sensor_id, 0) != 0))
		return 0;
	json_object_foreach(c->match, key, v) {
		const char *have = hub_record_tag(rec, key);
		if (!have || strcmp(have, json_string_value(v)) != 0)
			return 0;
	}
	return 1;
}

static int in_hours(const struct hub_alerts *a, const struct rule *r, int64_t ts)
{
	if (r->h1 < 0)
		return 1;
	int64_t secs = ts / 1000000000 + (int64_t)a->utc_offset_h * 3600;
	int h = (int)(((secs / 3600) % 24 + 24) % 24);
	return r->h1 < r->h2 ? (h >= r->h1 && h < r->h2) : (h >= r->h1 || h < r->h2);
}

/* above/below with hysteresis: once firing, the breach lasts until the value passes clear
 * (while pending it must stay past the threshold itself). */
static int breaches(const struct rule *r, const struct inst *in, double x)
{
	const struct hub_cfg_rule *c = r->cfg;
	int active = in->state == ST_FIRING;
	if (!isnan(c->above))
		return x >= (active && !isnan(c->clear) ? c->clear : c->above);
	return x <= (active && !isnan(c->clear) ? c->clear : c->below);
}

/* Highest band whose edge v reaches; going down, a band is left only below edge - margin. */
static int band_of(const struct rule *r, const struct inst *in, double v)
{
	int raw = 0;
	for (size_t i = 0; i < r->nbands; i++)
		if (v >= r->bands[i].above)
			raw = (int)i + 1;
	int cur = in->state == ST_FIRING ? in->level : 0;
	if (raw >= cur || cur == 0)
		return raw;
	return v < r->bands[cur - 1].above - r->cfg->clear_margin ? raw : cur;
}

/* Ring positions: a ring of cap entries starting at in->head. */
static uint32_t at(const struct inst *in, uint32_t i, uint32_t cap)
{
	return (in->head + i) % cap;
}

static void drop_oldest(struct inst *in, uint32_t cap)
{
	in->head = (in->head + 1) % cap;
	in->n--;
}

/* rate keeps readings at least window/64 apart: a closer one replaces the newest, so the
 * newest is always exact and the oldest within window/64 of the window's start. */
static void push_reading(struct inst *in, int64_t window_ns, int64_t ts, double v)
{
	if (!in->s)
		in->s = hub_xcalloc(RATE_SAMPLES, sizeof(*in->s));
	if (in->n >= 2 && ts - in->s[at(in, in->n - 2, RATE_SAMPLES)].ts < window_ns / 64) {
		in->s[at(in, in->n - 1, RATE_SAMPLES)] = (struct sample){ts, v};
		return;
	}
	if (in->n == RATE_SAMPLES)
		drop_oldest(in, RATE_SAMPLES);
	in->s[at(in, in->n++, RATE_SAMPLES)] = (struct sample){ts, v};
}

/* Change per hour between the first and last readings from ts - window (inclusive) to ts. */
static int rate_of(const struct rule *r, struct inst *in, int64_t ts, double v, double *out)
{
	int64_t window = r->cfg->window_ms * 1000000;
	push_reading(in, window, ts, v);
	while (in->n > 0 && in->s[in->head].ts < ts - window)
		drop_oldest(in, RATE_SAMPLES);
	if (in->n < (uint32_t)r->cfg->min_samples || in->n < 2)
		return -1;
	const struct sample *first = &in->s[in->head], *last = &in->s[at(in, in->n - 1, RATE_SAMPLES)];
	if (last->ts == first->ts)
		return -1;
	*out = (last->v - first->v) / ((double)(last->ts - first->ts) / 3.6e12);
	return 0;
}

static void push_bucket(struct inst *in, int64_t idx, double v)
{
	if (!in->b)
		in->b = hub_xcalloc(WINDOW_BUCKETS + 1, sizeof(*in->b));
	struct bucket *last = in->n ? &in->b[at(in, in->n - 1, WINDOW_BUCKETS + 1)] : NULL;
	if (!last || last->idx != idx) {
		if (in->n == WINDOW_BUCKETS + 1)
			drop_oldest(in, WINDOW_BUCKETS + 1);
		last = &in->b[at(in, in->n++, WINDOW_BUCKETS + 1)];
		*last = (struct bucket){idx, 0, (float)v, (float)v, 0};
	}
	last->sum += v;
	last->min = fminf(last->min, (float)v);
	last->max = fmaxf(last->max, (float)v);
	last->n++;
}

/* mean, max or min of the readings in the window ending at ts, in steps of window/48: a step
 * counts while any of it lies after ts - window. */
static int window_of(const struct rule *r, struct inst *in, int64_t ts, double v, double *out)
{
	int64_t window = r->cfg->window_ms * 1000000;
	int64_t step = window / WINDOW_BUCKETS > 0 ? window / WINDOW_BUCKETS : 1;
	push_bucket(in, ts / step, v);
	while (in->n > 0 && (in->b[in->head].idx + 1) * step <= ts - window)
		drop_oldest(in, WINDOW_BUCKETS + 1);
	double sum = 0, lo = INFINITY, hi = -INFINITY;
	uint64_t n = 0;
	for (uint32_t i = 0; i < in->n; i++) {
		const struct bucket *b = &in->b[at(in, i, WINDOW_BUCKETS + 1)];
		sum += b->sum;
		n += b->n;
		lo = fmin(lo, b->min);
		hi = fmax(hi, b->max);
	}
	if (n < (uint64_t)r->cfg->min_samples)
		return -1;
	*out = r->stat == STAT_MEAN ? sum / (double)n : r->stat == STAT_MAX ? hi : lo;
	return 0;
}

int hub_rule_target(const struct hub_alerts *a, const struct rule *r, struct inst *in,
		    int64_t ts, double v, double *shown)
{
	double x = v;
	int rc = 0;
	if (r->type == R_RATE)
		rc = rate_of(r, in, ts, v, &x);
	else if (r->type == R_WINDOW)
		rc = window_of(r, in, ts, v, &x);
	if (rc < 0)
		return -1;
	*shown = x;
	/* Outside its hours a rule sees no breach: a night alert ends when the day begins. */
	if (!in_hours(a, r, ts))
		return 0;
	if (r->type == R_BANDS)
		return band_of(r, in, x);
	return breaches(r, in, x);
}

static int init_bands(struct rule *r, char *err, size_t errlen)
{
	size_t i;
	json_t *b;
	json_array_foreach(r->cfg->bands, i, b) {
		const char *lv = json_string_value(json_object_get(b, "level"));
		json_t *sv = json_object_get(b, "severity");
		if (strlen(lv) >= sizeof(r->bands[i].level) || strpbrk(lv, "/+#")) {
			snprintf(err, errlen, "bands[%zu].level: at most 31 characters, no / + #", i);
			return HUB_EINVAL;
		}
		snprintf(r->bands[i].level, sizeof(r->bands[i].level), "%s", lv);
		r->bands[i].above = json_number_value(json_object_get(b, "above"));
		r->bands[i].severity = sv ? json_string_value(sv) : r->cfg->severity;
	}
	r->nbands = i;
	return HUB_OK;
}

int hub_rule_init(struct rule *r, const struct hub_cfg_rule *cfg, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	for (int i = 0; type_names[i]; i++)
		if (strcmp(type_names[i], cfg->type) == 0)
			r->type = (enum rule_type)i;
	r->h1 = r->h2 = -1;
	if (cfg->hours && sscanf(cfg->hours, "%d-%d", &r->h1, &r->h2) != 2) {
		snprintf(err, errlen, "hours: expected H1-H2");
		return HUB_EINVAL;
	}
	r->stat = strcmp(cfg->stat, "max") == 0 ? STAT_MAX
		  : strcmp(cfg->stat, "min") == 0 ? STAT_MIN
						  : STAT_MEAN;
	if (r->type == R_BANDS)
		return init_bands(r, err, errlen);
	return HUB_OK;
}
