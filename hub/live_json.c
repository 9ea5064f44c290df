/* The live state as JSON: the API's replies (jansson, built under the lock), the snapshot
 * (text written directly: no DOM of 10,000 sensors) and its restore, and the stream ring. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cityhub/error.h"
#include "cityhub/timefmt.h"
#include "live_int.h"

#define SAVE_VERSION 1
#define BATCH 256 /* sensors described per hold of the lock */

/* ---- small writers ---- */

static void put_str(struct hub_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	hub_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			hub_buf_append(b, e, 2);
		} else if (*p < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
			hub_buf_append(b, e, 6);
		} else {
			hub_buf_append(b, p, 1);
		}
	}
	hub_buf_puts(b, "\"");
}

static void put_num(struct hub_buf *b, double d)
{
	char s[40];
	if (!isfinite(d)) {
		hub_buf_puts(b, "null");
		return;
	}
	snprintf(s, sizeof(s), "%.15g", d);
	if (strtod(s, NULL) != d)
		snprintf(s, sizeof(s), "%.17g", d);
	hub_buf_puts(b, s);
}

static void put_value(struct hub_buf *b, const struct hub_live_val *v)
{
	if (v->type == HUB_FT_STRING)
		put_str(b, v->v.s);
	else if (v->type == HUB_FT_BOOL)
		hub_buf_puts(b, v->v.d != 0 ? "true" : "false");
	else if (v->type == HUB_FT_INT)
		hub_buf_printf(b, "%.0f", v->v.d);
	else
		put_num(b, v->v.d);
}

static json_t *value_json(const struct hub_live_val *v)
{
	switch (v->type) {
	case HUB_FT_STRING: return json_string(v->v.s);
	case HUB_FT_BOOL: return json_boolean(v->v.d != 0);
	case HUB_FT_INT: return json_integer((json_int_t)v->v.d);
	default: return isfinite(v->v.d) ? json_real(v->v.d) : json_null();
	}
}

static json_t *time_json(int64_t ns)
{
	char t[40];
	if (!ns)
		return json_null();
	hub_time_format(ns, t, sizeof(t));
	return json_string(t);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* ---- the API's replies (lock held) ---- */

/* The canonical unit of a sensor's field: from its kind, else the first kind that has it. */
static const char *unit_of(struct hub_live *l, const struct hub_live_sensor *s, const char *f)
{
	const char *u = hub_live_unit(l, s->kind, f);
	const char *const *kinds;
	size_t n = l->schemas && !u ? hub_schemas_kinds(l->schemas, &kinds) : 0;
	for (size_t i = 0; i < n && !u; i++)
		u = hub_live_unit(l, kinds[i], f);
	return u;
}

static json_t *position(float rec, const struct hub_live_reg *reg, int lat)
{
	double v = !isnan(rec) ? rec : reg ? (lat ? reg->lat : reg->lon) : NAN;
	return isnan(v) ? json_null() : json_real(round(v * 1e6) / 1e6);
}

static json_t *sensor_json(struct hub_live *l, const struct hub_live_sensor *s)
{
	json_t *tags = json_object(), *vals = json_object();
	for (size_t i = 0; i < s->ntags; i++)
		json_object_set_new(tags, s->tags[2 * i], json_string(s->tags[2 * i + 1]));
	if (s->district)
		json_object_set_new(tags, "district", json_string(s->district));
	for (size_t i = 0; i < s->nvals; i++) {
		const struct hub_live_val *v = &s->vals[i];
		const char *f = l->fields[v->field];
		json_object_set_new(vals, f,
				    json_pack("{s:o, s:o, s:o}", "value", value_json(v), "unit",
					      str_or_null(unit_of(l, s, f)), "ts", time_json(v->ts)));
	}
	double iv = hub_live_interval(s);
	json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "id", s->id, "kind",
			      str_or_null(s->kind), "district", str_or_null(s->district), "tags",
			      tags, "name_vi", str_or_null(s->reg ? s->reg->name_vi : NULL),
			      "name_en", str_or_null(s->reg ? s->reg->name_en : NULL));
	json_object_set_new(o, "lat", position(s->lat, s->reg, 1));
	json_object_set_new(o, "lon", position(s->lon, s->reg, 0));
	json_object_set_new(o, "state", json_string(hub_live_state_name(s->state)));
	json_object_set_new(o, "severity", str_or_null(hub_live_severity_name(s->severity)));
	json_object_set_new(o, "last_seen", time_json(s->last_seen));
	json_object_set_new(o, "last_ts", time_json(s->last_ts));
	json_object_set_new(o, "interval_s", iv > 0 ? json_real(round(iv * 10) / 10) : json_null());
	json_object_set_new(o, "values", vals);
	json_object_set_new(o, "msgs_1h", json_integer(hub_live_last_hour(s, s->msgs, l->now_ns)));
	json_object_set_new(o, "rejects_1h",
			    json_integer(hub_live_last_hour(s, s->rejects, l->now_ns)));
	return o;
}

static int same(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

json_t *hub_live_sensors_json(struct hub_live *l, const char *kind, const char *district,
			      const char *state)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n; i++) {
		const struct hub_live_sensor *s = hub_live_at(l, i);
		if (same(kind, s->kind) && same(district, s->district) &&
		    same(state, hub_live_state_name(s->state)))
			json_array_append_new(arr, sensor_json(l, s));
		if (i % BATCH == BATCH - 1) { /* let the monitor in: sensors never move */
			pthread_mutex_unlock(&l->lock);
			pthread_mutex_lock(&l->lock);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(arr), "sensors", arr);
}

json_t *hub_live_sensor_json(struct hub_live *l, const char *id)
{
	json_t *o = NULL;
	pthread_mutex_lock(&l->lock);
	const struct hub_live_sensor *s = hub_live_find(l, id);
	if (s) {
		const char *k;
		json_t *a, *alerts = json_array();
		o = sensor_json(l, s);
		json_object_foreach(l->active, k, a)
			if (strcmp(json_string_value(json_object_get(a, "sensor_id")), id) == 0)
				json_array_append(alerts, a);
		json_object_set_new(o, "alerts", alerts);
	}
	pthread_mutex_unlock(&l->lock);
	return o;
}

int hub_live_sensor_kind(struct hub_live *l, const char *id, char *kind, size_t len)
{
	pthread_mutex_lock(&l->lock);
	const struct hub_live_sensor *s = hub_live_find(l, id);
	int rc = s && s->kind ? HUB_OK : HUB_ENOENT;
	if (rc == HUB_OK)
		snprintf(kind, len, "%s", s->kind);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static const struct hub_live_val *find_val(const struct hub_live *l,
					   const struct hub_live_sensor *s, const char *f)
{
	for (size_t i = 0; i < s->nvals; i++)
		if (strcmp(l->fields[s->vals[i].field], f) == 0)
			return &s->vals[i];
	return NULL;
}

/* Keeps the larger value of field f over a district's sensors in *best ({value, sensor_id}). */
static void keep_max(const struct hub_live *l, json_t *d, const char *key,
		     const struct hub_live_sensor *s, const char *f)
{
	const struct hub_live_val *v = find_val(l, s, f);
	if (!v || v->type == HUB_FT_STRING || !isfinite(v->v.d))
		return;
	json_t *cur = json_object_get(d, key);
	if (json_is_object(cur) && json_number_value(json_object_get(cur, "value")) >= v->v.d)
		return;
	json_t *o = json_pack("{s:o, s:s}", "value", value_json(v), "sensor_id", s->id);
	if (strcmp(f, "aqi") == 0) {
		const struct hub_live_val *c = find_val(l, s, "category");
		const struct hub_live_val *n = find_val(l, s, "category_name");
		json_object_set_new(o, "category", c ? value_json(c) : json_null());
		json_object_set_new(o, "category_name", n ? value_json(n) : json_null());
	}
	json_object_set_new(d, key, o);
}

static json_t *district_entry(json_t *by, const char *name)
{
	json_t *d = json_object_get(by, name);
	if (d)
		return d;
	d = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:n, s:n, s:n}", "district", name, "sensors",
		      0, "ok", 0, "stale", 0, "alerting", 0, "missing", 0, "worst_aqi",
		      "max_salinity_ppt", "max_level_m");
	json_object_set_new(by, name, d);
	return d;
}

static void incr(json_t *d, const char *key)
{
	json_object_set_new(d, key, json_integer(json_integer_value(json_object_get(d, key)) + 1));
}

json_t *hub_live_districts_json(struct hub_live *l)
{
	json_t *by = json_object(), *arr = json_array();
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n; i++) {
		const struct hub_live_sensor *s = hub_live_at(l, i);
		json_t *d = district_entry(by, s->district ? s->district : "");
		incr(d, "sensors");
		incr(d, hub_live_state_name(s->state));
		keep_max(l, d, "worst_aqi", s, "aqi");
		keep_max(l, d, "max_salinity_ppt", s, "salinity_ppt");
		keep_max(l, d, "max_level_m", s, "level_m");
	}
	pthread_mutex_unlock(&l->lock);
	const char *k;
	json_t *d;
	json_object_foreach(by, k, d)
		json_array_append(arr, d);
	json_decref(by);
	return json_pack("{s:o}", "districts", arr);
}

json_t *hub_live_alerts_json(struct hub_live *l)
{
	json_t *active = json_array();
	const char *k;
	json_t *a;
	pthread_mutex_lock(&l->lock);
	json_object_foreach(l->active, k, a)
		json_array_append_new(active, json_deep_copy(a));
	json_t *recent = json_deep_copy(l->recent);
	pthread_mutex_unlock(&l->lock);
	return json_pack("{s:o, s:o}", "active", active, "recent", recent);
}

/* ---- the stream ring ---- */

static void emit(struct hub_live *l, unsigned type, const char *kind, const char *district,
		 struct hub_buf *data)
{
	static const char *const names[] = {[HUB_LIVE_EV_READING] = "reading",
					    [HUB_LIVE_EV_SENSOR] = "sensor",
					    [HUB_LIVE_EV_ALERT] = "alert"};
	if (!l->next_id)
		l->next_id = 1;
	struct hub_live_event *e = &l->ring[l->next_id % HUB_LIVE_STREAM_RING];
	struct hub_buf b = {0};
	hub_buf_printf(&b, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)l->next_id,
		       names[type], data->data);
	free(e->text);
	e->text = b.data;
	e->len = b.len;
	e->id = l->next_id++;
	e->type = type;
	e->kind = kind;
	e->district = district;
	pthread_cond_broadcast(&l->cond);
}

static void put_record_value(struct hub_buf *b, const struct hub_field *f)
{
	switch (f->v.type) {
	case HUB_FT_DOUBLE: put_num(b, f->v.u.d); break;
	case HUB_FT_INT: hub_buf_printf(b, "%lld", (long long)f->v.u.i); break;
	case HUB_FT_BOOL: hub_buf_puts(b, f->v.u.b ? "true" : "false"); break;
	case HUB_FT_STRING: put_str(b, f->v.u.s); break;
	}
}

void hub_live_emit_reading(struct hub_live *l, const struct hub_live_sensor *s,
			   const struct hub_record *rec, int64_t ts)
{
	char t[40];
	if (!l->listeners && hub_now_mono_ms() > l->linger_until_ms)
		return; /* nobody to read it: spare the ring's memory and the time */
	struct hub_buf b = {0};
	hub_time_format(ts, t, sizeof(t));
	hub_buf_puts(&b, "{\"sensor_id\":");
	put_str(&b, s->id);
	hub_buf_puts(&b, ",\"kind\":");
	put_str(&b, rec->kind);
	hub_buf_puts(&b, ",\"district\":");
	if (s->district)
		put_str(&b, s->district);
	else
		hub_buf_puts(&b, "null");
	hub_buf_printf(&b, ",\"ts\":\"%s\",\"values\":{", t);
	for (size_t i = 0; i < rec->nfields; i++) {
		put_str(&b, rec->fields[i].name);
		hub_buf_puts(&b, ":");
		put_record_value(&b, &rec->fields[i]);
		hub_buf_puts(&b, i + 1 < rec->nfields ? "," : "");
	}
	hub_buf_puts(&b, "}}");
	emit(l, HUB_LIVE_EV_READING, hub_live_intern(l, rec->kind), s->district, &b);
	hub_buf_fini(&b);
}

void hub_live_emit_sensor(struct hub_live *l, const struct hub_live_sensor *s)
{
	struct hub_buf b = {0};
	if (!l->listeners && hub_now_mono_ms() > l->linger_until_ms)
		return;
	const char *sev = hub_live_severity_name(s->severity);
	hub_buf_puts(&b, "{\"sensor_id\":");
	put_str(&b, s->id);
	hub_buf_printf(&b, ",\"state\":\"%s\",\"severity\":%s%s%s}", hub_live_state_name(s->state),
		       sev ? "\"" : "", sev ? sev : "null", sev ? "\"" : "");
	emit(l, HUB_LIVE_EV_SENSOR, s->kind, s->district, &b);
	hub_buf_fini(&b);
}

void hub_live_emit_alert(struct hub_live *l, const json_t *ev)
{
	const struct hub_live_sensor *s =
		hub_live_find(l, json_string_value(json_object_get(ev, "sensor_id")));
	char *text = json_dumps(ev, JSON_COMPACT);
	struct hub_buf b = {0};
	hub_buf_puts(&b, text ? text : "{}");
	free(text);
	const char *d = json_string_value(json_object_get(json_object_get(ev, "labels"), "district"));
	emit(l, HUB_LIVE_EV_ALERT, s ? s->kind : NULL,
	     s && s->district ? s->district : hub_live_intern(l, d), &b);
	hub_buf_fini(&b);
}

uint64_t hub_live_stream_head(struct hub_live *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t head = l->next_id ? l->next_id - 1 : 0;
	pthread_mutex_unlock(&l->lock);
	return head;
}

static int matches(const struct hub_live_event *e, const struct hub_live_filter *f)
{
	return (e->type & f->types) && same(f->kind, e->kind) && same(f->district, e->district);
}

int hub_live_stream_read(struct hub_live *l, uint64_t *cursor, const struct hub_live_filter *f,
			 struct hub_buf *out, size_t max_bytes)
{
	int rc = HUB_OK;
	pthread_mutex_lock(&l->lock);
	uint64_t head = l->next_id ? l->next_id - 1 : 0;
	uint64_t oldest = head >= HUB_LIVE_STREAM_RING ? head - HUB_LIVE_STREAM_RING + 1 : 1;
	if (*cursor > head)
		*cursor = head; /* a Last-Event-ID from before a reset: from now on */
	if (*cursor + 1 < oldest) {
		*cursor = oldest - 1;
		rc = HUB_ENOENT;
	}
	size_t start = out->len;
	while (*cursor < head && (out->len == start || out->len - start < max_bytes)) {
		const struct hub_live_event *e = &l->ring[(*cursor + 1) % HUB_LIVE_STREAM_RING];
		if (matches(e, f))
			hub_buf_append(out, e->text, e->len);
		(*cursor)++;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int hub_live_stream_wait(struct hub_live *l, uint64_t cursor, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->closed && (l->next_id ? l->next_id - 1 : 0) <= cursor)
		if (pthread_cond_timedwait(&l->cond, &l->lock, &until) != 0)
			break;
	int any = (l->next_id ? l->next_id - 1 : 0) > cursor;
	pthread_mutex_unlock(&l->lock);
	return any;
}

void hub_live_stream_listen(struct hub_live *l, int delta)
{
	pthread_mutex_lock(&l->lock);
	l->listeners += delta;
	if (delta < 0)
		l->linger_until_ms = hub_now_mono_ms() + HUB_LIVE_LINGER_MS;
	pthread_mutex_unlock(&l->lock);
}

void hub_live_stream_close(struct hub_live *l)
{
	pthread_mutex_lock(&l->lock);
	l->closed = 1;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* ---- the snapshot ---- */

static void put_ring(struct hub_buf *b, const uint8_t *ring)
{
	static const char hex[] = "0123456789abcdef";
	char s[121];
	for (int i = 0; i < 60; i++) {
		s[2 * i] = hex[ring[i] >> 4];
		s[2 * i + 1] = hex[ring[i] & 15];
	}
	s[120] = '\0';
	hub_buf_printf(b, "\"%s\"", s);
}

/* [id, kind, district, {tags}, lat, lon, last_seen, last_ts, interval, minute, msgs, rejects,
 *  {field: [type, value, ts]}] */
static void save_sensor(const struct hub_live *l, struct hub_buf *b,
			const struct hub_live_sensor *s)
{
	hub_buf_puts(b, "[");
	put_str(b, s->id);
	hub_buf_puts(b, ",");
	s->kind ? put_str(b, s->kind) : hub_buf_puts(b, "null");
	hub_buf_puts(b, ",");
	s->district ? put_str(b, s->district) : hub_buf_puts(b, "null");
	hub_buf_puts(b, ",{");
	for (size_t i = 0; i < s->ntags; i++) {
		put_str(b, s->tags[2 * i]);
		hub_buf_puts(b, ":");
		put_str(b, s->tags[2 * i + 1]);
		hub_buf_puts(b, i + 1 < s->ntags ? "," : "");
	}
	hub_buf_puts(b, "},");
	put_num(b, s->lat);
	hub_buf_puts(b, ",");
	put_num(b, s->lon);
	hub_buf_printf(b, ",%lld,%lld,", (long long)s->last_seen, (long long)s->last_ts);
	put_num(b, s->interval);
	hub_buf_printf(b, ",%u,", s->minute);
	put_ring(b, s->msgs);
	hub_buf_puts(b, ",");
	s->rejects ? put_ring(b, s->rejects) : hub_buf_puts(b, "null");
	hub_buf_puts(b, ",{");
	for (size_t i = 0; i < s->nvals; i++) {
		put_str(b, l->fields[s->vals[i].field]);
		hub_buf_printf(b, ":[%d,", s->vals[i].type);
		put_value(b, &s->vals[i]);
		hub_buf_printf(b, ",%lld]%s", (long long)s->vals[i].ts, i + 1 < s->nvals ? "," : "");
	}
	hub_buf_puts(b, "}]");
}

#define SAVE_PIECE (64 * 1024)

int hub_live_save(struct hub_live *l, struct hub_buf *out, hub_live_flush_fn flush, void *ctx)
{
	int rc = HUB_OK;
	pthread_mutex_lock(&l->lock);
	hub_buf_printf(out, "{\"version\":%d,\"next_id\":%llu,\"sensors\":[", SAVE_VERSION,
		       (unsigned long long)l->next_id);
	size_t first = 1;
	for (size_t i = 0; i < l->n && rc == HUB_OK; i++) {
		if (!hub_live_at(l, i)->last_seen)
			continue; /* registry-only: the file says it again */
		hub_buf_puts(out, first ? "" : ",");
		save_sensor(l, out, hub_live_at(l, i));
		first = 0;
		if (flush && out->len >= SAVE_PIECE)
			rc = flush(ctx, out);
	}
	char *active = json_dumps(l->active, JSON_COMPACT);
	char *recent = json_dumps(l->recent, JSON_COMPACT);
	hub_buf_printf(out, "],\"active\":%s,\"recent\":%s}", active ? active : "{}",
		       recent ? recent : "[]");
	free(active);
	free(recent);
	pthread_mutex_unlock(&l->lock);
	return rc == HUB_OK && flush ? flush(ctx, out) : rc;
}

static void load_ring(uint8_t *ring, const char *hex)
{
	for (int i = 0; hex && i < 60 && hex[2 * i] && hex[2 * i + 1]; i++) {
		char pair[3] = {hex[2 * i], hex[2 * i + 1], 0};
		ring[i] = (uint8_t)strtoul(pair, NULL, 16);
	}
}

static void load_values(struct hub_live *l, struct hub_live_sensor *s, json_t *vals)
{
	const char *f;
	json_t *v;
	json_object_foreach(vals, f, v) {
		json_int_t type = json_integer_value(json_array_get(v, 0));
		json_t *val = json_array_get(v, 1);
		int id = hub_live_field_id(l, f);
		if (id < 0 || s->nvals >= HUB_LIVE_MAX_VALUES || type < HUB_FT_DOUBLE ||
		    type > HUB_FT_STRING || (type == HUB_FT_STRING && !json_is_string(val)))
			continue;
		s->vals = hub_xrealloc(s->vals, (s->nvals + 1) * sizeof(*s->vals));
		struct hub_live_val *lv = &s->vals[s->nvals++];
		lv->field = (uint16_t)id;
		lv->type = (uint8_t)type;
		lv->ts = json_integer_value(json_array_get(v, 2));
		if (type == HUB_FT_STRING)
			lv->v.s = hub_xstrdup(json_string_value(val));
		else
			lv->v.d = json_is_boolean(val) ? json_is_true(val) : json_number_value(val);
	}
}

static void load_sensor(struct hub_live *l, json_t *a)
{
	const char *id = json_string_value(json_array_get(a, 0));
	struct hub_live_sensor *s = id ? hub_live_add(l, id) : NULL;
	if (!s || s->last_seen)
		return;
	if (json_is_string(json_array_get(a, 1)))
		s->kind = hub_live_intern(l, json_string_value(json_array_get(a, 1)));
	if (json_is_string(json_array_get(a, 2)))
		s->district = hub_live_intern(l, json_string_value(json_array_get(a, 2)));
	json_t *tags = json_array_get(a, 3), *tv;
	const char *tk;
	s->ntags = (uint8_t)(json_object_size(tags) < HUB_MAX_TAGS ? json_object_size(tags)
								 : HUB_MAX_TAGS);
	s->tags = s->ntags ? hub_xmalloc(s->ntags * 2 * sizeof(*s->tags)) : NULL;
	size_t i = 0;
	json_object_foreach(tags, tk, tv) {
		if (i >= s->ntags || !json_is_string(tv))
			break;
		if (strcmp(tk, "district") == 0)
			continue;
		s->tags[2 * i] = hub_live_intern(l, tk);
		s->tags[2 * i + 1] = hub_live_intern(l, json_string_value(tv));
		i++;
	}
	s->ntags = (uint8_t)i;
	s->lat = json_is_number(json_array_get(a, 4)) ? (float)json_number_value(json_array_get(a, 4)) : NAN;
	s->lon = json_is_number(json_array_get(a, 5)) ? (float)json_number_value(json_array_get(a, 5)) : NAN;
	s->last_seen = json_integer_value(json_array_get(a, 6));
	s->last_ts = json_integer_value(json_array_get(a, 7));
	s->interval = (float)json_number_value(json_array_get(a, 8));
	s->minute = (uint32_t)json_integer_value(json_array_get(a, 9));
	load_ring(s->msgs, json_string_value(json_array_get(a, 10)));
	if (json_is_string(json_array_get(a, 11))) {
		s->rejects = hub_xcalloc(60, 1);
		load_ring(s->rejects, json_string_value(json_array_get(a, 11)));
	}
	load_values(l, s, json_array_get(a, 12));
}

int hub_live_load(struct hub_live *l, const json_t *saved)
{
	json_t *sensors = json_object_get(saved, "sensors");
	json_t *active = json_object_get(saved, "active"), *recent = json_object_get(saved, "recent");
	if (json_integer_value(json_object_get(saved, "version")) != SAVE_VERSION ||
	    !json_is_array(sensors) || !json_is_object(active) || !json_is_array(recent))
		return HUB_EINVAL;
	size_t i;
	json_t *a;
	pthread_mutex_lock(&l->lock);
	l->next_id = (uint64_t)json_integer_value(json_object_get(saved, "next_id"));
	json_array_foreach(sensors, i, a)
		if (json_is_array(a))
			load_sensor(l, a);
	json_object_update(l->active, active);
	json_array_extend(l->recent, recent);
	for (i = 0; i < l->n; i++) {
		struct hub_live_sensor *s = hub_live_at(l, i);
		const char *k;
		json_t *al;
		int worst = 0;
		json_object_foreach(l->active, k, al)
			if (strcmp(json_string_value(json_object_get(al, "sensor_id")), s->id) == 0) {
				int r = hub_live_severity_rank(
					json_string_value(json_object_get(al, "severity")));
				worst = r > worst ? r : worst;
			}
		s->severity = (uint8_t)worst;
		if (s->last_seen > l->now_ns)
			l->now_ns = s->last_seen;
	}
	for (i = 0; i < l->n; i++) {
		hub_live_at(l, i)->state = (uint8_t)hub_live_compute_state(hub_live_at(l, i), l->now_ns);
		hub_live_at(l, i)->known_state = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return HUB_OK;
}
