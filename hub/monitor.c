/* The monitor consumer: decodes each message once and runs every handler over that one record
 * set: counting by adapter, kind and reject reason, dead letters (invariant 5), the alert
 * engine, the hourly VN_AQI and the live state behind /api/v1 (live.h). Its state (alert
 * instances, windows, AQI hours, the events not yet delivered, the live state) is saved
 * atomically with its journal position (alerts.state_dir/monitor.state) before any transition is
 * notified, so that after any crash none is lost or sent twice. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert/alerts.h"
#include "alert/aqi.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "consumer.h"
#include "lineproto.h"
#include "live.h"
#include "metrics.h"
#include "notify/notify.h"

#define METRIC_CACHE 48
#define COMMIT_MS 1000
#define NAP_MS 50
#define TICK_NS INT64_C(1000000000)
#define RELEASE_MS 100 /* events wait at most this long for the snapshot that frees them */
#define DEADLETTER_WAIT_MS 2000
#define STATE_VERSION 1
#define LIVE_SAVE_MS 10000 /* the live state alone (the screens) is not worth more writes */

struct metric_cache {
	char key[128];
	struct hub_metric *m;
};

struct monitor {
	struct hub_consumer *c;
	const struct hub_consumer_env *env;
	struct hub_recset rs;
	struct hub_buf scratch; /* each record encoded once, to see it can be */
	struct metric_cache cache[METRIC_CACHE];
	size_t ncache;
	long long last_commit_ms;
	/* alerting; NULL when there are no rules / no AQI */
	struct hub_alerts *alerts;
	struct hub_aqi *aqi;
	json_t *fresh;   /* transitions not yet in a snapshot */
	json_t *unsent;  /* in a snapshot, not yet delivered by every notifier */
	char *state_path;
	int dirty;       /* state changed since the last snapshot */
	int live_dirty;  /* only the live state changed: saved at most every LIVE_SAVE_MS */
	int64_t clock_ns, last_tick_ns; /* the receive clock (stale rules) */
	struct hub_metric *m_transitions, *m_firing, *m_pending, *m_saves, *m_aqi, *m_derived_err;
};

static struct hub_metric *cached(struct monitor *m, const char *name, const char *help,
				 const char *labels)
{
	char key[128];
	snprintf(key, sizeof(key), "%s{%s}", name, labels);
	for (size_t i = 0; i < m->ncache; i++)
		if (strcmp(m->cache[i].key, key) == 0)
			return m->cache[i].m;
	struct hub_metric *h = hub_counter(name, help, labels);
	if (m->ncache < METRIC_CACHE) {
		snprintf(m->cache[m->ncache].key, sizeof(m->cache[0].key), "%s", key);
		m->cache[m->ncache++].m = h;
	}
	return h;
}

/* ---- counting and dead letters ---- */

/* The encoder has the last word on what a store can be given: a record it refuses (e.g. a tag
 * value with a backslash before a comma, space, equals sign or quote, which cannot round-trip)
 * rejects the whole message, in the monitor (counted, dead-lettered) and in every sink alike. */
static int encodable(struct hub_buf *scratch, const struct hub_recset *rs, struct hub_reject *rej)
{
	for (size_t i = 0; i < rs->n; i++) {
		hub_buf_clear(scratch);
		if (hub_lp_encode(scratch, &rs->recs[i]) != HUB_OK)
			return hub_reject(rej, HUB_R_BAD_TAG,
					  "record %zu cannot be written as line protocol "
					  "unchanged (a backslash before a comma, space, equals "
					  "sign or quote?)",
					  i);
	}
	return HUB_OK;
}

static void base64(struct hub_buf *out, const uint8_t *p, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63], i + 1 < n ? tbl[(v >> 6) & 63] : '=',
			     i + 2 < n ? tbl[v & 63] : '='};
		hub_buf_append(out, q, 4);
	}
}

/* The dead letter: JSON with the reason, the original topic and the payload (as text when it is
 * valid UTF-8, else base64), so an operator can replay it after fixing the route or gateway. */
static char *dead_letter(const struct hub_jentry *e, const char *adapter, const struct hub_reject *rej)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s%, s:I}", "reason", rej->reason, "detail", rej->detail,
			      "adapter", adapter, "topic", e->topic, e->topic_len, "recv_ns",
			      (json_int_t)e->recv_ns);
	/* Any valid UTF-8 is text (JSON escapes its control characters, a final newline too). */
	json_t *text = json_stringn((const char *)e->payload, e->len);
	if (text) {
		json_object_set_new(o, "payload", text);
	} else {
		struct hub_buf b = {0};
		json_decref(text);
		base64(&b, e->payload, e->len);
		json_object_set_new(o, "payload_base64", json_stringn(b.data ? b.data : "", b.len));
		hub_buf_fini(&b);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Hands a dead letter to the MQTT client. While connected and its queue is full (a burst of
 * rejects), waits for room, up to DEADLETTER_WAIT_MS: the burst slows the monitor, it does not
 * lose dead letters. Disconnected, stopping or draining: one try (the client buffers a bound). */
static int publish_deadletter(struct monitor *m, const char *topic, const char *body)
{
	int waited = 0, step = 1;
	for (;;) {
		int rc = hub_ingest_publish(m->env->ingest, topic, body, strlen(body));
		if (rc == HUB_OK || atomic_load(hub_consumer_stop_flag(m->c)) ||
		    hub_consumer_draining(m->c) || !hub_ingest_ready(m->env->ingest) ||
		    waited >= DEADLETTER_WAIT_MS)
			return rc;
		hub_consumer_nap(step);
		waited += step;
		step = step < 32 ? step * 2 : step;
	}
}

static void on_reject(struct monitor *m, const struct hub_jentry *e, const char *adapter,
		      const struct hub_reject *rej)
{
	char labels[96];
	if (hub_pipeline_unrouted(rej))
		hub_metric_add(cached(m, "cityhub_unrouted_total",
				      "Messages whose topic no route matches", ""), 1);
	snprintf(labels, sizeof(labels), "reason=\"%s\",adapter=\"%s\"", rej->reason, adapter);
	if (!hub_pipeline_unrouted(rej))
		hub_metric_add(cached(m, "cityhub_rejected_total",
				      "Messages rejected, by reason and adapter", labels), 1);
	hub_debug("msg=\"rejected\" reason=%s adapter=%s detail=%s", rej->reason, adapter,
		  hub_logq(rej->detail));
	char sensor[256];
	if (m->env->live && hub_pipeline_topic_sensor(m->env->pipeline, e->topic, sensor,
						      sizeof(sensor)) == HUB_OK)
		hub_live_reject(m->env->live, sensor, e->recv_ns);
	if (!m->env->ingest || !hub_pipeline_deadletter(m->env->pipeline, rej))
		return;
	char topic[256];
	snprintf(topic, sizeof(topic), "%s/deadletter/%s", m->env->cfg->mqtt.deadletter_prefix,
		 rej->reason);
	char *body = dead_letter(e, adapter, rej);
	int rc = body ? publish_deadletter(m, topic, body) : HUB_ENOMEM;
	free(body);
	hub_metric_add(cached(m, rc == HUB_OK ? "cityhub_deadletter_published_total"
					      : "cityhub_deadletter_failed_total",
			      "Dead letters handed to the MQTT client / that could not be", ""),
		       1);
}

/* Fields a route's unknown_fields: drop removed (names already bounded and label-safe). */
static void count_dropped(struct monitor *m)
{
	static const char help[] = "Unknown fields dropped by unknown_fields: drop, by kind and field";
	char labels[160];
	for (size_t i = 0; i < m->rs.ndropped; i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\",field=\"%s\"", m->rs.dropped[i].kind,
			 m->rs.dropped[i].field);
		hub_metric_add(hub_counter("cityhub_dropped_fields_total", help, labels), 1);
	}
	if (m->rs.dropped_more)
		hub_metric_add(hub_counter("cityhub_dropped_fields_total", help,
					   "kind=\"_other\",field=\"_other\""),
			       m->rs.dropped_more);
}

/* Counts a valid message; the hub's own derived entries count as records, not messages. */
static void count(struct monitor *m, const struct hub_jentry *e, const char *adapter)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "adapter=\"%s\"", adapter);
	if (strncmp(e->topic, HUB_DERIVED_PREFIX, strlen(HUB_DERIVED_PREFIX)) != 0)
		hub_metric_add(cached(m, "cityhub_messages_accepted_total",
				      "Messages decoded and valid", labels), 1);
	for (size_t i = 0; i < m->rs.n; i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", m->rs.recs[i].kind);
		hub_metric_add(cached(m, "cityhub_records_total", "Canonical records, by kind", labels),
			       1);
	}
	count_dropped(m);
}

/* ---- derived records: through the journal, so every sink stores them with its cursor ---- */

static void append_derived(struct monitor *m, const char *kind, json_t *doc, int64_t recv_ns)
{
	char topic[64];
	snprintf(topic, sizeof(topic), HUB_DERIVED_PREFIX "%s", kind);
	char *body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	/* Never wait for space: the monitor's own cursor may be what holds the journal full, and
	 * alerts must go on while a store is down. A refused record is counted. */
	int rc = body ? hub_journal_append_nowait(m->env->journal, recv_ns, topic, strlen(topic),
						  body, strlen(body))
		      : HUB_ENOMEM;
	free(body);
	if (rc != HUB_OK)
		hub_metric_add(m->m_derived_err, 1);
}

static void add_tag(json_t *tags, const char *key, const char *value)
{
	if (value && *value)
		json_object_set_new(tags, key, json_string(value));
}

/* One alert transition as a record of kind alerts (history for Grafana and the sinks). */
static void alert_record(struct monitor *m, const json_t *ev, int64_t recv_ns)
{
	json_t *an = json_object_get(ev, "annotations"), *tags = json_object();
	add_tag(tags, "rule", json_string_value(json_object_get(ev, "rule")));
	add_tag(tags, "level", json_string_value(json_object_get(ev, "level")));
	add_tag(tags, "district",
		json_string_value(json_object_get(json_object_get(ev, "labels"), "district")));
	json_t *fields = json_pack("{s:O, s:O, s:O, s:O}", "state", json_object_get(ev, "state"),
				   "severity", json_object_get(ev, "severity"), "event_id",
				   json_object_get(ev, "id"), "value", json_object_get(ev, "value"));
	if (json_object_get(an, "summary_en"))
		json_object_set(fields, "summary_en", json_object_get(an, "summary_en"));
	if (json_object_get(an, "summary_vi"))
		json_object_set(fields, "summary_vi", json_object_get(an, "summary_vi"));
	json_int_t at = json_integer_value(json_object_get(ev, "at_ns"));
	append_derived(m, "alerts",
		       json_pack("{s:O, s:I, s:o, s:o}", "sensor_id", json_object_get(ev, "sensor_id"),
				 "ts", at / 1000000, "tags", tags, "fields", fields),
		       recv_ns);
}

/* Takes the engine's new transitions: recorded now, notified once in a snapshot. */
static void collect(struct monitor *m, int64_t recv_ns)
{
	json_t *evs;
	size_t i;
	json_t *ev;
	if (hub_alerts_take(m->alerts, &evs) > 0) {
		json_array_foreach(evs, i, ev) {
			alert_record(m, ev, recv_ns);
			if (m->env->live)
				hub_live_alert(m->env->live, ev);
		}
		json_array_extend(m->fresh, evs);
		hub_metric_add(m->m_transitions, json_array_size(evs));
		m->dirty = 1;
	}
	json_decref(evs);
}

static void aqi_record(struct monitor *m, const struct hub_aqi_result *r, int64_t recv_ns)
{
	static const char *const sub[HUB_AQI_NPOLL] = {"aqi_pm25", "aqi_pm10", "aqi_o3",
						      "aqi_no2",  "aqi_co",   "aqi_so2"};
	if (r->aqi < 0)
		return;
	json_t *fields = json_pack("{s:i, s:i, s:s, s:s}", "aqi", r->aqi, "category", r->category,
				   "category_name", r->category_name, "dominant", r->dominant);
	for (int p = 0; p < HUB_AQI_NPOLL; p++)
		if (r->sub[p] >= 0)
			json_object_set_new(fields, sub[p], json_integer(r->sub[p]));
	if (isfinite(r->conc[HUB_AQI_PM25]))
		json_object_set_new(fields, "pm25_nowcast", json_real(r->conc[HUB_AQI_PM25]));
	if (isfinite(r->conc[HUB_AQI_PM10]))
		json_object_set_new(fields, "pm10_nowcast", json_real(r->conc[HUB_AQI_PM10]));
	json_t *tags = json_object();
	add_tag(tags, "district", r->district);
	append_derived(m, "aqi",
		       json_pack("{s:s, s:I, s:o, s:o}", "sensor_id", r->station, "ts",
				 (json_int_t)(r->hour_end_ns / 1000000), "tags", tags, "fields",
				 fields),
		       recv_ns);
	hub_metric_add(m->m_aqi, 1);
}

static void feed_aqi(struct monitor *m, const struct hub_record *rec, int64_t recv_ns)
{
	struct hub_aqi_result r;
	if (hub_aqi_add_record(m->aqi, rec, recv_ns, &r) == 1)
		aqi_record(m, &r, recv_ns);
	m->dirty = 1;
}

/* Alerts and AQI over one message's records; derived records feed rules, not the AQI again. */
static void evaluate(struct monitor *m, const struct hub_jentry *e)
{
	int derived = strncmp(e->topic, HUB_DERIVED_PREFIX, strlen(HUB_DERIVED_PREFIX)) == 0;
	for (size_t i = 0; i < m->rs.n; i++) {
		const struct hub_record *rec = &m->rs.recs[i];
		if (derived && strcmp(rec->kind, "alerts") == 0)
			continue;
		if (m->env->live) {
			hub_live_record(m->env->live, rec, e->recv_ns);
			m->live_dirty = 1;
		}
		if (m->alerts) {
			hub_alerts_record(m->alerts, rec, e->recv_ns);
			m->dirty = 1;
		}
		if (m->aqi && !derived)
			feed_aqi(m, rec, e->recv_ns);
	}
	if (m->alerts)
		collect(m, e->recv_ns);
	if (e->recv_ns > m->clock_ns)
		m->clock_ns = e->recv_ns;
}

static void handle(void *state, const struct hub_jentry *e)
{
	struct monitor *m = state;
	struct hub_msg msg = {e->topic, e->topic_len, e->payload, e->len, e->recv_ns};
	struct hub_reject rej = {0};
	const char *adapter;
	if (hub_pipeline_decode(m->env->pipeline, &msg, &m->rs, &rej, &adapter) != HUB_OK ||
	    encodable(&m->scratch, &m->rs, &rej) != HUB_OK) {
		on_reject(m, e, adapter, &rej);
		return;
	}
	count(m, e, adapter);
	evaluate(m, e);
}

/* ---- the snapshot: state and journal position in one file, replaced atomically ---- */

static int write_all(int fd, const char *data, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno != EINTR)
			return HUB_EIO;
		off += n > 0 ? (size_t)n : 0;
	}
	return HUB_OK;
}

static int write_piece(void *ctx, struct hub_buf *b)
{
	int rc = write_all(*(int *)ctx, b->data, b->len);
	hub_buf_clear(b);
	return rc;
}

/* The document, with the live state (when there is one) as its last member "live", written
 * piece by piece: no copy of 10,000 sensors' text is held. */
static int write_doc(int fd, const char *doc, struct hub_live *live)
{
	size_t len = strlen(doc);
	if (!live || len < 2)
		return write_all(fd, doc, len);
	struct hub_buf b = {0};
	hub_buf_append(&b, doc, len - 1); /* without its closing brace */
	hub_buf_puts(&b, ",\"live\":");
	int rc = hub_live_save(live, &b, write_piece, &fd);
	if (rc == HUB_OK)
		rc = write_all(fd, "}", 1);
	hub_buf_fini(&b);
	return rc;
}

static int write_file(const char *path, const char *doc, struct hub_live *live, int sync)
{
	struct hub_buf tmp = {0};
	hub_buf_printf(&tmp, "%s.tmp", path);
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int rc = fd < 0 ? HUB_EIO : write_doc(fd, doc, live);
	if (rc == HUB_OK && sync && fsync(fd) != 0)
		rc = HUB_EIO;
	if (fd >= 0 && close(fd) != 0)
		rc = HUB_EIO;
	if (rc == HUB_OK && rename(tmp.data, path) != 0)
		rc = HUB_EIO;
	hub_buf_fini(&tmp);
	return rc;
}

/* Appends a jansson value as JSON text (null for NULL) and drops the reference. */
static void put_json(struct hub_buf *b, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	hub_buf_puts(b, text ? text : "null");
	free(text);
	json_decref(v);
}

static int snapshot(struct monitor *m)
{
	struct hub_buf b = {0};
	json_t *pending = json_copy(m->unsent);
	json_array_extend(pending, m->fresh);
	hub_buf_printf(&b, "{\"version\":%d,\"offset\":%llu,\"alerts\":", STATE_VERSION,
		       (unsigned long long)hub_consumer_done(m->c));
	if (m->alerts)
		hub_alerts_save_text(m->alerts, &b);
	else
		hub_buf_puts(&b, "null");
	hub_buf_puts(&b, ",\"aqi\":");
	put_json(&b, m->aqi ? hub_aqi_save(m->aqi) : NULL);
	hub_buf_puts(&b, ",\"unsent\":");
	put_json(&b, pending);
	hub_buf_puts(&b, "}");
	int rc = write_file(m->state_path, b.data, m->env->live,
			    m->env->cfg->journal.fsync != HUB_FSYNC_NONE);
	hub_buf_fini(&b);
	if (rc != HUB_OK) {
		hub_error("msg=\"cannot save the alert state; transitions wait\" path=%s err=\"%s\"",
			  hub_logq(m->state_path), strerror(errno));
		return rc;
	}
	hub_metric_add(m->m_saves, 1);
	m->dirty = m->live_dirty = 0;
	return HUB_OK;
}

/* Forgets delivered events: those every notifier has passed. */
static void trim_unsent(struct monitor *m)
{
	uint64_t low = UINT64_MAX;
	for (size_t i = 0; i < m->env->nnotifiers; i++) {
		uint64_t w = hub_notifier_watermark(m->env->notifiers[i]);
		low = w < low ? w : low;
	}
	size_t keep = 0;
	while (keep < json_array_size(m->unsent) &&
	       (uint64_t)json_integer_value(json_object_get(json_array_get(m->unsent, keep), "seq")) <=
		       low)
		keep++;
	for (size_t i = 0; i < keep; i++)
		json_array_remove(m->unsent, 0);
}

static void push_all(struct monitor *m, json_t *events)
{
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev)
		for (size_t n = 0; n < m->env->nnotifiers; n++)
			hub_notifier_push(m->env->notifiers[n], ev);
}

/* The snapshot holds the new transitions: now they may leave. */
static void release(struct monitor *m)
{
	push_all(m, m->fresh);
	json_array_extend(m->unsent, m->fresh);
	json_array_clear(m->fresh);
	trim_unsent(m);
}

/* Stale rules run on the receive clock: the journal's while catching up, the wall clock once
 * the journal is read to its end. */
static void tick(struct monitor *m, int at_end)
{
	int64_t now = at_end ? hub_now_real_ns() : m->clock_ns;
	if (now > m->clock_ns)
		m->clock_ns = now;
	if (m->clock_ns - m->last_tick_ns < TICK_NS)
		return;
	m->last_tick_ns = m->clock_ns;
	if (m->env->live)
		hub_live_tick(m->env->live, m->clock_ns);
	if (!m->alerts)
		return;
	hub_alerts_tick(m->alerts, m->clock_ns);
	collect(m, m->clock_ns);
	struct hub_alerts_stats st;
	hub_alerts_get_stats(m->alerts, &st);
	hub_metric_set(m->m_firing, (double)st.firing);
	hub_metric_set(m->m_pending, (double)st.pending);
}

static int save_due(struct monitor *m, int at_end, long long since)
{
	if (hub_consumer_draining(m->c))
		return 1;
	if (json_array_size(m->fresh) > 0)
		return at_end || since >= RELEASE_MS;
	return (m->dirty && since >= m->env->cfg->alerts.snapshot_ms) ||
	       (m->live_dirty && since >= LIVE_SAVE_MS);
}

static int flush(void *state, int at_end)
{
	struct monitor *m = state;
	long long since = hub_now_mono_ms() - m->last_commit_ms;
	if (!m->state_path) {
		if (since < COMMIT_MS && !hub_consumer_draining(m->c))
			return HUB_OK;
		m->last_commit_ms = hub_now_mono_ms();
		return hub_consumer_commit(m->c);
	}
	tick(m, at_end);
	if (!save_due(m, at_end, since)) {
		if (since >= COMMIT_MS)
			trim_unsent(m);
		return HUB_OK;
	}
	m->last_commit_ms = hub_now_mono_ms();
	int rc = snapshot(m);
	if (rc != HUB_OK)
		return rc;
	release(m);
	return hub_consumer_commit(m->c);
}

/* ---- start: resume from the snapshot ---- */

static int restore(struct monitor *m, const json_t *doc, uint64_t *offset, char *err,
		   size_t errlen)
{
	json_int_t off;
	int version;
	json_t *alerts = NULL, *aqi = NULL, *unsent = NULL, *live = NULL;
	if (json_unpack((json_t *)doc, "{s:i, s:I, s?o, s?o, s?o, s?o}", "version", &version,
			"offset", &off, "alerts", &alerts, "aqi", &aqi, "unsent", &unsent, "live",
			&live) != 0 ||
	    version != STATE_VERSION || !json_is_array(unsent)) {
		snprintf(err, errlen, "not a monitor state of version %d", STATE_VERSION);
		return HUB_EINVAL;
	}
	if (m->alerts && json_is_object(alerts) &&
	    hub_alerts_load(m->alerts, alerts, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	if (m->aqi && json_is_object(aqi) && hub_aqi_load(m->aqi, aqi) != HUB_OK) {
		snprintf(err, errlen, "damaged AQI state");
		return HUB_EINVAL;
	}
	if (m->env->live && json_is_object(live) && hub_live_load(m->env->live, live) != HUB_OK)
		hub_warn("msg=\"live state in the snapshot refused; the screens fill as sensors "
			 "report\"");
	json_array_extend(m->unsent, unsent);
	*offset = (uint64_t)off;
	return HUB_OK;
}

/* The snapshot's position, or the cursor when there is none. Events saved but not delivered
 * go to the notifiers again; each skips what it had delivered (its watermark). */
static uint64_t start_at(void *state, uint64_t committed, int fresh)
{
	struct monitor *m = state;
	(void)fresh;
	char err[256];
	uint64_t at = committed;
	if (!m->state_path)
		return committed;
	json_error_t jerr;
	json_t *doc = json_load_file(m->state_path, 0, &jerr);
	if (!doc && access(m->state_path, F_OK) == 0)
		hub_error("msg=\"alert state unreadable; starting without it\" path=%s err=%s",
			  hub_logq(m->state_path), hub_logq(jerr.text));
	if (doc && restore(m, doc, &at, err, sizeof(err)) != HUB_OK) {
		hub_error("msg=\"alert state refused; starting without it\" path=%s err=%s",
			  hub_logq(m->state_path), hub_logq(err));
		at = committed;
	} else if (doc && at < committed) {
		hub_warn("msg=\"alert state older than the monitor cursor; resuming at the cursor\" "
			 "state_offset=%llu cursor=%llu", (unsigned long long)at,
			 (unsigned long long)committed);
		at = committed;
	} else if (doc) {
		hub_info("msg=\"alert state restored\" path=%s offset=%llu unsent=%zu", hub_logq(m->state_path),
			 (unsigned long long)at, json_array_size(m->unsent));
	}
	json_decref(doc);
	if (m->env->live && m->alerts) {
		json_t *active = hub_alerts_active(m->alerts);
		hub_live_set_active(m->env->live, active);
		json_decref(active);
	}
	push_all(m, m->unsent);
	return at;
}

static int nap_ms(void *state)
{
	(void)state;
	return NAP_MS;
}

static void free_state(void *state)
{
	struct monitor *m = state;
	hub_recset_fini(&m->rs);
	hub_buf_fini(&m->scratch);
	hub_alerts_free(m->alerts);
	hub_aqi_free(m->aqi);
	json_decref(m->fresh);
	json_decref(m->unsent);
	free(m->state_path);
	free(m);
}

static void make_metrics(struct monitor *m)
{
	m->m_transitions = hub_counter("cityhub_alert_transitions_total",
				       "Alert transitions (firing and resolved)", "");
	m->m_firing = hub_gauge("cityhub_alerts_firing", "Alert instances firing now", "");
	m->m_pending = hub_gauge("cityhub_alerts_pending", "Alert instances pending now", "");
	m->m_saves = hub_counter("cityhub_alert_state_saves_total",
				 "Snapshots of the alert state with the monitor's position", "");
	m->m_aqi = hub_counter("cityhub_aqi_records_total", "Hourly VN_AQI records derived", "");
	m->m_derived_err = hub_counter("cityhub_derived_append_failed_total",
				       "Derived records (aqi, alerts) the journal refused", "");
}

static int init(struct hub_consumer *c, const void *conf, void **state, char *err, size_t errlen)
{
	const struct hub_config *cfg = hub_consumer_env(c)->cfg;
	struct monitor *m = hub_xcalloc(1, sizeof(*m));
	(void)conf;
	m->c = c;
	m->env = hub_consumer_env(c);
	m->last_commit_ms = hub_now_mono_ms();
	m->fresh = json_array();
	m->unsent = json_array();
	hub_recset_init(&m->rs, 0);
	make_metrics(m);
	if (cfg->nrules > 0) {
		m->alerts = hub_alerts_new(cfg, m->env->schemas, err, errlen);
		if (!m->alerts) {
			free_state(m);
			return HUB_EINVAL;
		}
		hub_alerts_set_start(m->alerts, hub_now_real_ns());
	}
	if (cfg->alerts.aqi)
		m->aqi = hub_aqi_new((size_t)cfg->alerts.max_instances);
	if (m->alerts || m->aqi || m->env->live) {
		struct hub_buf p = {0};
		hub_buf_printf(&p, "%s/monitor.state",
			       cfg->alerts.state_dir ? cfg->alerts.state_dir : cfg->journal.dir);
		m->state_path = p.data;
	}
	*state = m;
	return HUB_OK;
}

const struct hub_consumer_ops hub_monitor_ops = {
	.type = "monitor",
	.init = init,
	.start_at = start_at,
	.handle = handle,
	.flush = flush,
	.nap_ms = nap_ms,
	.free_state = free_state,
};
