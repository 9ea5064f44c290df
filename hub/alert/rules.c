/* What each rule type judges: a table of measures over one reading (threshold, bands, rate,
 * window); stale rules are judged on the receive clock in engine.c. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert_int.h"
#include "buf.h"
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

static void push_sample(struct inst *in, int64_t ts, double v)
{
	if (!in->s)
		in->s = hub_xcalloc(MAX_SAMPLES, sizeof(*in->s));
	uint32_t at = (in->head + in->n) % MAX_SAMPLES;
	in->s[at] = (struct sample){ts, v};
	if (in->n < MAX_SAMPLES)
		in->n++;
	else
		in->head = (in->head + 1) % MAX_SAMPLES;
}

/* Drops samples before from (inclusive = keep ts == from). */
static void trim(struct inst *in, int64_t from, int inclusive)
{
	while (in->n > 0) {
		int64_t t = in->s[in->head].ts;
		if (t > from || (inclusive && t == from))
			break;
		in->head = (in->head + 1) % MAX_SAMPLES;
		in->n--;
	}
}

static const struct sample *nth(const struct inst *in, uint32_t i)
{
	return &in->s[(in->head + i) % MAX_SAMPLES];
}

/* Change per hour between the window's first and last readings. */
static int rate_of(const struct rule *r, struct inst *in, int64_t ts, double v, double *out)
{
	push_sample(in, ts, v);
	trim(in, ts - r->cfg->window_ms * 1000000, 1);
	if (in->n < (uint32_t)r->cfg->min_samples || in->n < 2)
		return -1;
	const struct sample *first = nth(in, 0), *last = nth(in, in->n - 1);
	if (last->ts == first->ts)
		return -1;
	*out = (last->v - first->v) / ((double)(last->ts - first->ts) / 3.6e12);
	return 0;
}

/* mean, max or min of the readings in (ts - window, ts]. */
static int window_of(const struct rule *r, struct inst *in, int64_t ts, double v, double *out)
{
	push_sample(in, ts, v);
	trim(in, ts - r->cfg->window_ms * 1000000, 0);
	if (in->n < (uint32_t)r->cfg->min_samples)
		return -1;
	double acc = r->cfg->stat[1] == 'e' ? 0 : nth(in, 0)->v;
	for (uint32_t i = 0; i < in->n; i++) {
		double x = nth(in, i)->v;
		if (r->cfg->stat[1] == 'e')
			acc += x;
		else if (r->cfg->stat[1] == 'a' ? x > acc : x < acc)
			acc = x;
	}
	*out = r->cfg->stat[1] == 'e' ? acc / in->n : acc;
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
	if (r->type == R_BANDS)
		return init_bands(r, err, errlen);
	return HUB_OK;
}
