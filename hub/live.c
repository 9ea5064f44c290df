/* Live city state (see live.h). Compact per-sensor structs (strings interned, values in one
 * small array, a 60-slot per-minute ring of bytes) so 10,000 sensors cost well under 4 MiB. */
#include "live.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cityhub/error.h"
#include "cityhub/timefmt.h"
#include "live_int.h"

/* ---- interned strings: kinds, districts, field names, tag keys and values, ids ---- */

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

const char *hub_live_intern(struct hub_live *l, const char *s)
{
	if (!s)
		return NULL;
	if (l->npool * 2 >= l->poolcap) {
		size_t cap = l->poolcap ? l->poolcap * 2 : 256;
		char **slots = hub_xcalloc(cap, sizeof(*slots));
		for (size_t i = 0; i < l->poolcap; i++)
			if (l->pool[i]) {
				size_t j = hash(l->pool[i]) & (cap - 1);
				while (slots[j])
					j = (j + 1) & (cap - 1);
				slots[j] = l->pool[i];
			}
		free(l->pool);
		l->pool = slots;
		l->poolcap = cap;
	}
	size_t j = hash(s) & (l->poolcap - 1);
	while (l->pool[j] && strcmp(l->pool[j], s) != 0)
		j = (j + 1) & (l->poolcap - 1);
	if (!l->pool[j]) {
		l->pool[j] = hub_xstrdup(s);
		l->npool++;
	}
	return l->pool[j];
}

int hub_live_field_id(struct hub_live *l, const char *name)
{
	const char *f = hub_live_intern(l, name);
	for (size_t i = 0; i < l->nfields; i++)
		if (l->fields[i] == f)
			return (int)i;
	if (l->nfields >= UINT16_MAX)
		return -1;
	l->fields = hub_xrealloc(l->fields, (l->nfields + 1) * sizeof(*l->fields));
	l->fields[l->nfields] = f;
	return (int)l->nfields++;
}

/* ---- the sensor table ---- */

struct hub_live_sensor *hub_live_find(struct hub_live *l, const char *id)
{
	if (!l->icap)
		return NULL;
	size_t j = hash(id) & (l->icap - 1);
	for (; l->index[j]; j = (j + 1) & (l->icap - 1))
		if (strcmp(hub_live_at(l, l->index[j] - 1)->id, id) == 0)
			return hub_live_at(l, l->index[j] - 1);
	return NULL;
}

static void reindex(struct hub_live *l, size_t cap)
{
	free(l->index);
	l->index = hub_xcalloc(cap, sizeof(*l->index));
	l->icap = cap;
	for (size_t i = 0; i < l->n; i++) {
		size_t j = hash(hub_live_at(l, i)->id) & (cap - 1);
		while (l->index[j])
			j = (j + 1) & (cap - 1);
		l->index[j] = (uint32_t)(i + 1);
	}
}

struct hub_live_sensor *hub_live_add(struct hub_live *l, const char *id)
{
	struct hub_live_sensor *s = hub_live_find(l, id);
	if (s)
		return s;
	if (l->n >= l->max) {
		l->over_limit++;
		return NULL;
	}
	if (l->n == l->nblocks * HUB_LIVE_BLOCK) {
		l->blocks = hub_xrealloc(l->blocks, (l->nblocks + 1) * sizeof(*l->blocks));
		l->blocks[l->nblocks++] = hub_xmalloc(HUB_LIVE_BLOCK * sizeof(**l->blocks));
	}
	s = hub_live_at(l, l->n++);
	memset(s, 0, sizeof(*s));
	s->id = hub_live_intern(l, id);
	s->lat = s->lon = NAN;
	if ((l->n + 1) * 2 > l->icap)
		reindex(l, l->icap ? l->icap * 2 : 128);
	else {
		size_t j = hash(id) & (l->icap - 1);
		while (l->index[j])
			j = (j + 1) & (l->icap - 1);
		l->index[j] = (uint32_t)l->n;
	}
	return s;
}

struct hub_live *hub_live_new(const struct hub_schemas *schemas, size_t max_sensors)
{
	struct hub_live *l = hub_xcalloc(1, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->schemas = schemas;
	l->max = max_sensors ? max_sensors : 1;
	l->active = json_object();
	l->recent = json_array();
	return l;
}

static void free_sensor(struct hub_live_sensor *s)
{
	for (size_t i = 0; i < s->nvals; i++)
		if (s->vals[i].type == HUB_FT_STRING)
			free(s->vals[i].v.s);
	free(s->vals);
	free((void *)s->tags);
	free(s->rejects);
	free(s->reg);
}

void hub_live_free(struct hub_live *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free_sensor(hub_live_at(l, i));
	for (size_t i = 0; i < l->nblocks; i++)
		free(l->blocks[i]);
	free(l->blocks);
	free(l->index);
	for (size_t i = 0; i < l->poolcap; i++)
		free(l->pool[i]);
	free(l->pool);
	for (size_t i = 0; i < HUB_LIVE_STREAM_RING; i++)
		free(l->ring[i].text);
	free(l->fields);
	json_decref(l->active);
	json_decref(l->recent);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* ---- the per-minute ring (receive time) ---- */

static void advance(struct hub_live_sensor *s, uint32_t minute)
{
	if (minute <= s->minute)
		return;
	uint32_t gap = minute - s->minute;
	for (uint32_t k = 1; k <= gap && k <= 60; k++) {
		s->msgs[(s->minute + k) % 60] = 0;
		if (s->rejects)
			s->rejects[(s->minute + k) % 60] = 0;
	}
	s->minute = minute;
}

static void bump(uint8_t *slot)
{
	if (*slot < UINT8_MAX)
		(*slot)++;
}

unsigned hub_live_last_hour(const struct hub_live_sensor *s, const uint8_t *ring, int64_t now_ns)
{
	if (!ring)
		return 0;
	uint32_t now = now_ns > 0 ? (uint32_t)(now_ns / INT64_C(60000000000)) : 0;
	unsigned sum = 0;
	for (uint32_t k = 0; k < 60; k++) {
		if (s->minute < k)
			break;
		uint32_t m = s->minute - k;
		if (m + 60 <= now)
			break;
		sum += ring[m % 60];
	}
	return sum;
}

/* ---- state ---- */

static const char *const state_names[] = {"missing", "ok", "stale", "alerting"};
static const char *const severity_names[] = {NULL, "info", "warning", "major", "critical"};

const char *hub_live_state_name(int state)
{
	return state_names[state];
}

const char *hub_live_severity_name(int sev)
{
	return severity_names[sev];
}

int hub_live_severity_rank(const char *name)
{
	for (int i = 1; name && i < 5; i++)
		if (strcmp(severity_names[i], name) == 0)
			return i;
	return 0;
}

double hub_live_interval(const struct hub_live_sensor *s)
{
	if (s->reg && s->reg->interval_s > 0)
		return s->reg->interval_s;
	return s->interval;
}

int hub_live_compute_state(const struct hub_live_sensor *s, int64_t now_ns)
{
	if (s->severity)
		return HUB_LIVE_ALERTING;
	if (!s->last_seen)
		return HUB_LIVE_MISSING;
	double limit = 3 * hub_live_interval(s);
	if (limit < HUB_LIVE_MIN_STALE_S)
		limit = HUB_LIVE_MIN_STALE_S;
	if (now_ns > 0 && (double)(now_ns - s->last_seen) / 1e9 > limit)
		return HUB_LIVE_STALE;
	return HUB_LIVE_OK;
}

/* Recomputes the state; a change becomes a sensor event. Lock held. */
static void restate(struct hub_live *l, struct hub_live_sensor *s, int64_t now_ns)
{
	int st = hub_live_compute_state(s, now_ns);
	if (st == s->state && s->known_state)
		return;
	s->state = (uint8_t)st;
	s->known_state = 1;
	hub_live_emit_sensor(l, s);
}

void hub_live_tick(struct hub_live *l, int64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	l->now_ns = now_ns > l->now_ns ? now_ns : l->now_ns;
	for (size_t i = 0; i < l->n; i++)
		restate(l, hub_live_at(l, i), l->now_ns);
	pthread_mutex_unlock(&l->lock);
}

static void resevere(struct hub_live *l, struct hub_live_sensor *s);

/* ---- records ---- */

/* Kinds that describe another kind's sensor (its battery, its hourly index, its alerts): they
 * add values but do not name the sensor's kind while a primary kind is known. */
static int secondary_kind(const char *kind)
{
	return strcmp(kind, "device") == 0 || strcmp(kind, "aqi") == 0 ||
	       strcmp(kind, "alerts") == 0 || strcmp(kind, "link") == 0;
}

static struct hub_live_val *value_slot(struct hub_live_sensor *s, int field)
{
	for (size_t i = 0; i < s->nvals; i++)
		if (s->vals[i].field == field)
			return &s->vals[i];
	if (field < 0 || s->nvals >= HUB_LIVE_MAX_VALUES)
		return NULL;
	s->vals = hub_xrealloc(s->vals, (s->nvals + 1) * sizeof(*s->vals));
	struct hub_live_val *v = &s->vals[s->nvals++];
	memset(v, 0, sizeof(*v));
	v->field = (uint16_t)field;
	v->type = HUB_FT_DOUBLE;
	return v;
}

static void set_value(struct hub_live *l, struct hub_live_sensor *s, const struct hub_field *f,
		      int64_t ts)
{
	if (strcmp(f->name, "lat") == 0 || strcmp(f->name, "lon") == 0) {
		if (f->v.type == HUB_FT_DOUBLE)
			*(f->name[1] == 'a' ? &s->lat : &s->lon) = (float)f->v.u.d;
		return;
	}
	struct hub_live_val *v = value_slot(s, hub_live_field_id(l, f->name));
	if (!v || ts < v->ts)
		return;
	if (v->type == HUB_FT_STRING)
		free(v->v.s);
	v->type = (uint8_t)f->v.type;
	v->ts = ts;
	switch (f->v.type) {
	case HUB_FT_DOUBLE: v->v.d = f->v.u.d; break;
	case HUB_FT_INT: v->v.d = (double)f->v.u.i; break;
	case HUB_FT_BOOL: v->v.d = f->v.u.b ? 1 : 0; break;
	case HUB_FT_STRING: v->v.s = hub_xstrdup(f->v.u.s); break;
	}
}

static void set_tags(struct hub_live *l, struct hub_live_sensor *s, const struct hub_record *rec)
{
	const char *d = hub_record_tag(rec, "district");
	if (d && *d)
		s->district = hub_live_intern(l, d);
	size_t n = rec->ntags - (d != NULL);
	if (n == 0 && s->ntags == 0)
		return; /* the common case: district alone, kept in s->district */
	free((void *)s->tags);
	s->tags = n ? hub_xmalloc(n * 2 * sizeof(*s->tags)) : NULL;
	s->ntags = 0;
	for (size_t i = 0; i < rec->ntags; i++) {
		if (strcmp(rec->tags[i].key, "district") == 0)
			continue;
		s->tags[2 * s->ntags] = hub_live_intern(l, rec->tags[i].key);
		s->tags[2 * s->ntags++ + 1] = hub_live_intern(l, rec->tags[i].value);
	}
}

static void learn_interval(struct hub_live_sensor *s, int64_t recv_ns)
{
	if (!s->last_seen || recv_ns <= s->last_seen)
		return;
	double gap = (double)(recv_ns - s->last_seen) / 1e9;
	if (gap < HUB_LIVE_MIN_GAP_S || gap > 86400)
		return;
	s->interval = s->interval > 0 ? (float)(s->interval * 0.75 + gap * 0.25) : (float)gap;
}

void hub_live_record(struct hub_live *l, const struct hub_record *rec, int64_t recv_ns)
{
	if (!rec->sensor_id || !rec->kind || strcmp(rec->kind, "alerts") == 0)
		return;
	int64_t ts = rec->has_ts ? rec->ts_ns : recv_ns;
	pthread_mutex_lock(&l->lock);
	struct hub_live_sensor *s = hub_live_add(l, rec->sensor_id);
	if (!s)
		goto out;
	if (!s->last_seen && json_object_size(l->active) > 0)
		resevere(l, s); /* alerts restored before the sensor was heard of */
	if (!s->kind || (secondary_kind(s->kind) && !secondary_kind(rec->kind)))
		s->kind = hub_live_intern(l, rec->kind);
	set_tags(l, s, rec);
	for (size_t i = 0; i < rec->nfields; i++)
		set_value(l, s, &rec->fields[i], ts);
	if (recv_ns != s->last_seen) {
		learn_interval(s, recv_ns);
		advance(s, (uint32_t)(recv_ns / INT64_C(60000000000)));
		bump(&s->msgs[s->minute % 60]);
	}
	if (recv_ns > s->last_seen)
		s->last_seen = recv_ns;
	if (ts > s->last_ts)
		s->last_ts = ts;
	if (recv_ns > l->now_ns)
		l->now_ns = recv_ns;
	hub_live_emit_reading(l, s, rec, ts);
	restate(l, s, l->now_ns);
out:
	pthread_mutex_unlock(&l->lock);
}

void hub_live_reject(struct hub_live *l, const char *sensor_id, int64_t recv_ns)
{
	if (!sensor_id)
		return;
	pthread_mutex_lock(&l->lock);
	struct hub_live_sensor *s = hub_live_find(l, sensor_id);
	if (s) {
		advance(s, (uint32_t)(recv_ns / INT64_C(60000000000)));
		if (!s->rejects)
			s->rejects = hub_xcalloc(60, 1);
		uint32_t m = (uint32_t)(recv_ns / INT64_C(60000000000));
		if (m + 60 > s->minute)
			bump(&s->rejects[m % 60]);
	}
	pthread_mutex_unlock(&l->lock);
}

/* ---- alerts ---- */

static void alert_key(const json_t *ev, char *key, size_t len)
{
	const char *level = json_string_value(json_object_get(ev, "level"));
	snprintf(key, len, "%s\x1f%s\x1f%s", json_string_value(json_object_get(ev, "rule")),
		 json_string_value(json_object_get(ev, "sensor_id")), level ? level : "");
}

/* The worst severity of the sensor's active alerts. Lock held. */
static void resevere(struct hub_live *l, struct hub_live_sensor *s)
{
	const char *k;
	json_t *a;
	int worst = 0;
	json_object_foreach(l->active, k, a) {
		if (strcmp(json_string_value(json_object_get(a, "sensor_id")), s->id) != 0)
			continue;
		int r = hub_live_severity_rank(json_string_value(json_object_get(a, "severity")));
		worst = r > worst ? r : worst;
	}
	s->severity = (uint8_t)worst;
}

static json_t *active_entry(const json_t *ev)
{
	json_t *a = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "rule",
			      json_object_get(ev, "rule"), "sensor_id",
			      json_object_get(ev, "sensor_id"), "severity",
			      json_object_get(ev, "severity"), "since",
			      json_object_get(ev, "starts_at"), "value", json_object_get(ev, "value"),
			      "labels", json_object_get(ev, "labels"), "annotations",
			      json_object_get(ev, "annotations"));
	json_t *level = json_object_get(ev, "level");
	json_object_set(a, "level", level ? level : json_null());
	return a;
}

void hub_live_alert(struct hub_live *l, const json_t *ev)
{
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *sensor = json_string_value(json_object_get(ev, "sensor_id"));
	if (!state || !sensor || !json_is_string(json_object_get(ev, "rule")))
		return;
	char key[512];
	alert_key(ev, key, sizeof(key));
	pthread_mutex_lock(&l->lock);
	if (strcmp(state, "firing") == 0) {
		json_t *a = active_entry(ev);
		if (a)
			json_object_set_new(l->active, key, a);
	} else {
		json_object_del(l->active, key);
	}
	json_array_append_new(l->recent, json_deep_copy(ev));
	while (json_array_size(l->recent) > HUB_LIVE_RECENT)
		json_array_remove(l->recent, 0);
	hub_live_emit_alert(l, ev);
	struct hub_live_sensor *s = hub_live_find(l, sensor);
	if (s) {
		resevere(l, s);
		restate(l, s, l->now_ns);
	}
	pthread_mutex_unlock(&l->lock);
}

void hub_live_count(struct hub_live *l, size_t *sensors, uint64_t *over_limit)
{
	pthread_mutex_lock(&l->lock);
	*sensors = l->n;
	*over_limit = l->over_limit;
	pthread_mutex_unlock(&l->lock);
}

void hub_live_set_active(struct hub_live *l, const json_t *active)
{
	size_t i;
	json_t *a;
	char key[512];
	pthread_mutex_lock(&l->lock);
	json_object_clear(l->active);
	json_array_foreach(active, i, a) {
		const char *state = json_string_value(json_object_get(a, "state"));
		if (!state || strcmp(state, "firing") != 0 ||
		    !json_is_string(json_object_get(a, "sensor_id")) ||
		    !json_is_string(json_object_get(a, "rule")))
			continue;
		json_t *e = json_deep_copy(a);
		json_object_del(e, "state");
		if (!json_object_get(e, "level"))
			json_object_set_new(e, "level", json_null());
		alert_key(a, key, sizeof(key));
		json_object_set_new(l->active, key, e);
	}
	for (i = 0; i < l->n; i++) {
		resevere(l, hub_live_at(l, i));
		restate(l, hub_live_at(l, i), l->now_ns);
	}
	pthread_mutex_unlock(&l->lock);
}

const char *hub_live_unit(struct hub_live *l, const char *kind, const char *field)
{
	enum hub_ftype type;
	const char *unit = NULL;
	if (!l->schemas || !kind ||
	    hub_schemas_field_info(l->schemas, kind, field, &type, &unit) != HUB_OK)
		return NULL;
	return unit;
}
