/* The alert engine: instances per (rule, sensor), the lifecycle, stale sensors, and the events
 * every transition produces (hub/notify/notify.h describes their JSON). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_int.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL; /* a separator, so "ab","c" != "a","bc" */
}

/* ---- instances ---- */

static void grow(struct rule *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64;
	struct inst **slots = hub_xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < r->cap; i++) {
		if (!r->slots[i])
			continue;
		size_t j = fnv1a(r->slots[i]->sensor, 0xcbf29ce484222325ULL) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = r->slots[i];
	}
	free(r->slots);
	r->slots = slots;
	r->cap = cap;
}

struct inst *hub_alerts_inst(struct hub_alerts *a, struct rule *r, const char *sensor, int create)
{
	if (r->cap && r->n * 10 >= r->cap * 7)
		grow(r);
	if (!r->cap) {
		if (!create)
			return NULL;
		grow(r);
	}
	size_t j = fnv1a(sensor, 0xcbf29ce484222325ULL) & (r->cap - 1);
	for (; r->slots[j]; j = (j + 1) & (r->cap - 1))
		if (strcmp(r->slots[j]->sensor, sensor) == 0)
			return r->slots[j];
	if (!create)
		return NULL;
	if (a->st.instances >= a->max_instances) {
		a->st.over_limit++;
		return NULL;
	}
	struct inst *in = hub_xcalloc(1, sizeof(*in));
	in->sensor = hub_xstrdup(sensor);
	r->slots[j] = in;
	r->n++;
	a->st.instances++;
	return in;
}

static void free_rule(struct rule *r)
{
	for (size_t i = 0; i < r->cap; i++) {
		if (!r->slots[i])
			continue;
		free(r->slots[i]->s);
		free(r->slots[i]->b);
		free(r->slots[i]->sensor);
		free(r->slots[i]);
	}
	free(r->slots);
}

/* ---- events ---- */

static const char *level_name(const struct rule *r, int level)
{
	return r->type == R_BANDS && level > 0 ? r->bands[level - 1].level : NULL;
}

static const char *severity_of(const struct rule *r, int level)
{
	return r->type == R_BANDS && level > 0 ? r->bands[level - 1].severity : r->cfg->severity;
}

/* Fills {{sensor_id}} {{value}} {{level}} {{district}} {{kind}} in tmpl. */
static json_t *render(const char *tmpl, const struct inst *in, const char *level, double value)
{
	static const char *const names[] = {"sensor_id", "value", "level", "district", "kind", NULL};
	struct hub_buf b = {0};
	char num[32];
	snprintf(num, sizeof(num), "%.4g", value);
	const char *vals[] = {in->sensor, num, level ? level : "", in->district, in->kind};
	for (const char *p = tmpl; *p;) {
		size_t k = 0;
		if (p[0] == '{' && p[1] == '{')
			for (; names[k]; k++)
				if (strncmp(p + 2, names[k], strlen(names[k])) == 0 &&
				    strncmp(p + 2 + strlen(names[k]), "}}", 2) == 0)
					break;
		if (p[0] == '{' && p[1] == '{' && names[k]) {
			hub_buf_puts(&b, vals[k]);
			p += 4 + strlen(names[k]);
		} else {
			hub_buf_append(&b, p++, 1);
		}
	}
	json_t *s = json_string(b.data ? b.data : "");
	hub_buf_fini(&b);
	return s ? s : json_string("");
}

static json_t *labels_of(const struct rule *r, const struct inst *in, int level)
{
	json_t *l = json_deep_copy(r->cfg->labels);
	json_object_set_new(l, "alertname", json_string(r->cfg->name));
	json_object_set_new(l, "sensor_id", json_string(in->sensor));
	json_object_set_new(l, "severity", json_string(severity_of(r, level)));
	if (in->kind[0])
		json_object_set_new(l, "kind", json_string(in->kind));
	if (in->district[0])
		json_object_set_new(l, "district", json_string(in->district));
	if (level_name(r, level))
		json_object_set_new(l, "level", json_string(level_name(r, level)));
	return l;
}

static json_t *annotations_of(const struct rule *r, const struct inst *in, int level, double v)
{
	char num[32];
	snprintf(num, sizeof(num), "%.6g", v);
	json_t *an = json_object();
	const char *lv = level_name(r, level);
	if (r->cfg->summary_vi)
		json_object_set_new(an, "summary_vi", render(r->cfg->summary_vi, in, lv, v));
	if (r->cfg->summary_en)
		json_object_set_new(an, "summary_en", render(r->cfg->summary_en, in, lv, v));
	json_object_set_new(an, "value", json_string(num));
	return an;
}

static void set_time(json_t *o, const char *key, int64_t ns)
{
	char buf[48];
	hub_time_format(ns, buf, sizeof(buf));
	json_object_set_new(o, key, json_string(buf));
}

/* One transition of in (firing or resolved, of level) at event time at. */
static void emit(struct hub_alerts *a, const struct rule *r, const struct inst *in, int firing,
		 int level, int64_t at, double v)
{
	char id[17], atbuf[24];
	const char *lv = level_name(r, level);
	snprintf(atbuf, sizeof(atbuf), "%lld", (long long)at);
	uint64_t h = fnv1a(r->cfg->name, 0xcbf29ce484222325ULL);
	h = fnv1a(in->sensor, h);
	h = fnv1a(lv ? lv : "", h);
	h = fnv1a(firing ? "firing" : "resolved", h);
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)fnv1a(atbuf, h));
	json_t *e = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:f}", "id", id, "seq",
			      (json_int_t)++a->seq, "rule", r->cfg->name, "sensor_id", in->sensor,
			      "state", firing ? "firing" : "resolved", "severity",
			      severity_of(r, level), "at_ns", (json_int_t)at, "value",
			      isfinite(v) ? v : 0.0);
	if (lv)
		json_object_set_new(e, "level", json_string(lv));
	set_time(e, "at", at);
	set_time(e, "starts_at", firing ? at : in->starts);
	if (!firing)
		set_time(e, "ends_at", at);
	json_object_set_new(e, "labels", labels_of(r, in, level));
	json_object_set_new(e, "annotations", annotations_of(r, in, level, v));
	json_array_append_new(a->events, e);
	a->st.transitions++;
}

/* ---- the lifecycle ---- */

static void fire(struct hub_alerts *a, const struct rule *r, struct inst *in, int level,
		 int64_t ts)
{
	in->state = ST_FIRING;
	in->level = level;
	in->starts = ts;
	in->clear_since = 0;
	in->pend_level = 0;
	emit(a, r, in, 1, level, ts, in->value);
}

static void resolve(struct hub_alerts *a, const struct rule *r, struct inst *in, int64_t ts)
{
	emit(a, r, in, 0, in->level, ts, in->value);
	in->state = ST_INACTIVE;
	in->level = in->pend_level = 0;
	in->clear_since = 0;
}

/* Pending for target since ts, or firing once it has lasted for_ms. */
static void await(struct hub_alerts *a, const struct rule *r, struct inst *in, int target,
		  int64_t ts)
{
	if (in->pend_level != target) {
		in->pend_level = target;
		in->pend_since = ts;
	}
	if (ts - in->pend_since < r->cfg->for_ms * 1000000) {
		if (in->state == ST_INACTIVE)
			in->state = ST_PENDING;
		return;
	}
	if (in->state == ST_FIRING)
		resolve(a, r, in, ts); /* a band move: the old level ends as the new one fires */
	fire(a, r, in, target, ts);
}

/* Moves in toward target (0 = no breach) at event time ts. */
static void step(struct hub_alerts *a, const struct rule *r, struct inst *in, int target,
		 int64_t ts)
{
	if (in->state == ST_FIRING && target == in->level) {
		in->clear_since = 0;
		in->pend_level = 0;
	} else if (in->state == ST_FIRING && target > 0) {
		in->clear_since = 0;
		await(a, r, in, target, ts);
	} else if (in->state == ST_FIRING) {
		in->pend_level = 0;
		if (!in->clear_since)
			in->clear_since = ts;
		if (ts - in->clear_since >= r->cfg->keep_firing_for_ms * 1000000)
			resolve(a, r, in, ts);
	} else if (target == 0) {
		in->state = ST_INACTIVE;
		in->pend_level = 0;
	} else {
		await(a, r, in, target, ts);
	}
}

static int numeric(const struct hub_record *rec, const char *field, double *v)
{
	const struct hub_field *f = hub_record_field((struct hub_record *)rec, field);
	if (!f)
		return 0;
	if (f->v.type == HUB_FT_DOUBLE)
		*v = f->v.u.d;
	else if (f->v.type == HUB_FT_INT)
		*v = (double)f->v.u.i;
	else if (f->v.type == HUB_FT_BOOL)
		*v = f->v.u.b;
	else
		return 0;
	return isfinite(*v);
}

/* Keeps the instance's district and kind for labels; copied only when they change (this runs
 * on every reading). */
static void describe(struct inst *in, const struct hub_record *rec)
{
	const char *d = hub_record_tag(rec, "district");
	if (!d)
		d = "";
	if (strncmp(in->district, d, sizeof(in->district) - 1) != 0)
		snprintf(in->district, sizeof(in->district), "%s", d);
	if (strncmp(in->kind, rec->kind, sizeof(in->kind) - 1) != 0)
		snprintf(in->kind, sizeof(in->kind), "%s", rec->kind);
}

/* A reading of a sensor a stale rule watches: it is not silent (any more). */
static void seen(struct hub_alerts *a, struct rule *r, const struct hub_record *rec,
		 int64_t recv_ns)
{
	struct inst *in = hub_alerts_inst(a, r, rec->sensor_id, 1);
	if (!in)
		return;
	describe(in, rec);
	int64_t gap = in->last_recv ? recv_ns - in->last_recv : 0;
	if (gap > 0) {
		in->interval_ns = in->gaps ? 0.8 * in->interval_ns + 0.2 * (double)gap : (double)gap;
		in->gaps++;
	}
	if (recv_ns > in->last_recv)
		in->last_recv = recv_ns;
	if (in->state == ST_FIRING) {
		in->value = 0;
		resolve(a, r, in, recv_ns);
	}
}

static void judge(struct hub_alerts *a, struct rule *r, const struct hub_record *rec, int64_t ts)
{
	double v, shown;
	if (!numeric(rec, r->cfg->field, &v))
		return;
	struct inst *in = hub_alerts_inst(a, r, rec->sensor_id, 1);
	if (!in)
		return;
	if (in->last_ts && ts <= in->last_ts) {
		a->st.late++;
		return;
	}
	in->last_ts = ts;
	describe(in, rec);
	int target = hub_rule_target(a, r, in, ts, v, &shown);
	if (target < 0)
		return;
	in->value = shown;
	step(a, r, in, target, ts);
}

void hub_alerts_record(struct hub_alerts *a, const struct hub_record *rec, int64_t recv_ns)
{
	int64_t ts = rec->has_ts ? rec->ts_ns : recv_ns;
	if (!rec->sensor_id || !rec->kind)
		return;
	for (size_t i = 0; i < a->nrules; i++) {
		struct rule *r = &a->rules[i];
		if (!hub_rule_selects(r, rec))
			continue;
		if (r->type == R_STALE)
			seen(a, r, rec, recv_ns);
		else
			judge(a, r, rec, ts);
	}
}

/* When in's silence becomes too long (0 = not judged yet: no interval known). */
static int64_t stale_at(const struct hub_alerts *a, const struct rule *r, const struct inst *in)
{
	const struct hub_cfg_rule *c = r->cfg;
	double interval = c->interval_ms > 0 ? (double)c->interval_ms * 1e6
			  : in->gaps > 0     ? in->interval_ns
					     : 0;
	if (interval <= 0)
		return 0;
	double silence = fmax(c->factor * interval, (double)c->min_silence_ms * 1e6);
	int64_t from = in->last_recv > a->start_ns ? in->last_recv : a->start_ns;
	return from + (int64_t)silence;
}

void hub_alerts_tick(struct hub_alerts *a, int64_t now_ns)
{
	for (size_t i = 0; i < a->nrules; i++) {
		struct rule *r = &a->rules[i];
		if (r->type != R_STALE)
			continue;
		for (size_t j = 0; j < r->cap; j++) {
			struct inst *in = r->slots[j];
			int64_t at = in && in->state != ST_FIRING ? stale_at(a, r, in) : 0;
			if (!at || now_ns < at)
				continue;
			in->value = (double)(at - in->last_recv) / 1e9;
			fire(a, r, in, 1, at);
		}
	}
}

size_t hub_alerts_take(struct hub_alerts *a, json_t **out)
{
	*out = a->events;
	a->events = json_array();
	return json_array_size(*out);
}

static int check_kind(const struct hub_cfg_rule *c, const struct hub_schemas *schemas, char *err,
		      size_t errlen)
{
	static const char *const derived[] = {"aqi", "alerts", NULL};
	if (!schemas || !c->kind || strcmp(c->kind, "*") == 0 || hub_schemas_has_kind(schemas, c->kind))
		return HUB_OK;
	for (size_t i = 0; derived[i]; i++)
		if (strcmp(derived[i], c->kind) == 0)
			return HUB_OK;
	snprintf(err, errlen, "kind: no schema defines kind %s", c->kind);
	return HUB_EINVAL;
}

struct hub_alerts *hub_alerts_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
				  char *err, size_t errlen)
{
	struct hub_alerts *a = hub_xcalloc(1, sizeof(*a));
	a->utc_offset_h = cfg->alerts.utc_offset_h;
	a->max_instances = (uint64_t)cfg->alerts.max_instances;
	a->events = json_array();
	a->rules = hub_xcalloc(cfg->nrules + 1, sizeof(*a->rules));
	for (size_t i = 0; i < cfg->nrules; i++) {
		const struct hub_cfg_rule *c = &cfg->rules[i];
		char why[200] = "";
		a->nrules++;
		if (hub_rule_init(&a->rules[i], c, why, sizeof(why)) != HUB_OK ||
		    check_kind(c, schemas, why, sizeof(why)) != HUB_OK) {
			snprintf(err, errlen, "%s:%d: rules[%s].%s", c->file ? c->file : "(config)",
				 c->line, c->name, why);
			hub_alerts_free(a);
			return NULL;
		}
	}
	return a;
}

void hub_alerts_free(struct hub_alerts *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nrules; i++)
		free_rule(&a->rules[i]);
	free(a->rules);
	json_decref(a->events);
	free(a);
}

void hub_alerts_set_start(struct hub_alerts *a, int64_t start_ns)
{
	a->start_ns = start_ns;
}

int hub_alerts_any(const struct hub_alerts *a)
{
	return a && a->nrules > 0;
}

static json_t *active_one(const struct rule *r, const struct inst *in)
{
	int level = in->state == ST_FIRING ? in->level : in->pend_level;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "rule", r->cfg->name, "sensor_id",
			      in->sensor, "state", in->state == ST_FIRING ? "firing" : "pending",
			      "severity", severity_of(r, level), "value", in->value);
	if (level_name(r, level))
		json_object_set_new(o, "level", json_string(level_name(r, level)));
	set_time(o, "since", in->state == ST_FIRING ? in->starts : in->pend_since);
	json_object_set_new(o, "labels", labels_of(r, in, level));
	json_object_set_new(o, "annotations", annotations_of(r, in, level, in->value));
	return o;
}

json_t *hub_alerts_active(const struct hub_alerts *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; a && i < a->nrules; i++)
		for (size_t j = 0; j < a->rules[i].cap; j++) {
			const struct inst *in = a->rules[i].slots[j];
			if (in && in->state != ST_INACTIVE)
				json_array_append_new(arr, active_one(&a->rules[i], in));
		}
	return arr;
}

void hub_alerts_get_stats(const struct hub_alerts *a, struct hub_alerts_stats *st)
{
	*st = a->st;
	st->firing = st->pending = 0;
	for (size_t i = 0; i < a->nrules; i++)
		for (size_t j = 0; j < a->rules[i].cap; j++) {
			const struct inst *in = a->rules[i].slots[j];
			st->firing += in && in->state == ST_FIRING;
			st->pending += in && in->state == ST_PENDING;
		}
}
