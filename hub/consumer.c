#include "consumer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "influx.h"
#include "lineproto.h"
#include "metrics.h"

#define METRIC_CACHE 48
#define IDLE_WAIT_MS 100
#define MONITOR_COMMIT_MS 1000
#define MONITOR_NAP_MS 50
#define NAP_MAX_MS 50
#define DEADLETTER_WAIT_MS 2000

struct metric_cache {
	char key[128];
	struct hub_metric *m;
};

struct hub_consumer {
	char *name;
	struct hub_consumer_env env;
	pthread_t thread;
	int started;
	volatile int stop; /* hard stop: read by hub_influx_write while it waits */
	_Atomic int draining;
	_Atomic int healthy;
	pthread_mutex_t lock; /* guards why */
	char why[200];
	struct hub_journal_reader *reader;
	struct hub_recset rs;
	struct hub_buf scratch; /* monitor: each record encoded once, to see it can be */
	_Atomic uint64_t committed; /* durable cursor (read by hub_consumer_tick) */
	uint64_t done;      /* every entry before this is handled (in a batch or finished) */
	long long last_commit_ms;
	/* sink consumers */
	const struct hub_cfg_sink *sink;
	struct hub_influx *influx;
	struct hub_lpbatch batch;
	long long batch_started_ms;
	FILE *deadletter_log;
	/* the kind of consumer: handle one entry, flush what is pending (0 = ok) */
	void (*handle)(struct hub_consumer *c, const struct hub_jentry *e);
	int (*flush)(struct hub_consumer *c, int at_end);
	struct metric_cache cache[METRIC_CACHE];
	size_t ncache;
	struct hub_metric *m_lag, *m_lines, *m_encode_err, *m_dropped, *m_healthy;
	struct hub_metric *m_requests, *m_retries, *m_splits;
	struct hub_influx_stats seen; /* the writer's figures already added to the counters */
};

static struct hub_metric *cached(struct hub_consumer *c, const char *name, const char *help,
				 const char *labels)
{
	char key[128];
	snprintf(key, sizeof(key), "%s{%s}", name, labels);
	for (size_t i = 0; i < c->ncache; i++)
		if (strcmp(c->cache[i].key, key) == 0)
			return c->cache[i].m;
	struct hub_metric *m = hub_counter(name, help, labels);
	if (c->ncache < METRIC_CACHE) {
		snprintf(c->cache[c->ncache].key, sizeof(c->cache[0].key), "%s", key);
		c->cache[c->ncache++].m = m;
	}
	return m;
}

static void set_health(struct hub_consumer *c, int healthy, const char *why)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->healthy, healthy);
	if (c->m_healthy)
		hub_metric_set(c->m_healthy, healthy);
}

static void nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int commit(struct hub_consumer *c)
{
	if (c->done == c->committed)
		return HUB_OK;
	int rc = hub_journal_cursor_commit(c->env.journal, c->name, c->done);
	if (rc != HUB_OK) {
		hub_error("msg=\"cursor commit failed\" consumer=%s err=\"%s\"", c->name, hub_strerror(rc));
		return rc;
	}
	c->committed = c->done;
	c->last_commit_ms = hub_now_mono_ms();
	return HUB_OK;
}

static void update_lag(struct hub_consumer *c)
{
	struct hub_journal_stats st;
	hub_journal_get_stats(c->env.journal, &st);
	hub_metric_set(c->m_lag, (double)(st.end_offset - atomic_load(&c->committed)));
}

/* ---- sink consumers ---- */

static void on_dropped_line(void *ctx, const char *line, size_t len, const char *why)
{
	struct hub_consumer *c = ctx;
	hub_metric_add(c->m_dropped, 1);
	if (c->deadletter_log) {
		fprintf(c->deadletter_log, "sink=%s why=\"%s\" line=%.*s\n", c->name, why, (int)len, line);
		fflush(c->deadletter_log);
	}
	hub_warn("msg=\"store refused a line; dropped to the dead-letter log\" sink=%s why=\"%.120s\"",
		 c->name, why);
}

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

static void sink_handle(struct hub_consumer *c, const struct hub_jentry *e)
{
	struct hub_msg msg = {e->topic, e->topic_len, e->payload, e->len, e->recv_ns};
	struct hub_reject rej;
	const char *adapter;
	/* Rejects are counted and dead-lettered by the monitor consumer, not here. */
	if (hub_pipeline_decode(c->env.pipeline, &msg, &c->rs, &rej, &adapter) != HUB_OK)
		return;
	if (c->batch.nlines == 0)
		c->batch_started_ms = hub_now_mono_ms();
	/* Whole or nothing, as the monitor's verdict (see encodable). */
	if (hub_lpbatch_add_all(&c->batch, c->rs.recs, c->rs.n) != HUB_OK)
		hub_metric_add(c->m_encode_err, 1);
}

/* A full batch is due at once. By age, a batch is due flush_ms after its first line once the
 * journal has nothing more to read (at_end), so that what arrived while the sink slept still
 * goes into it; while there is more to read, NAP_MAX_MS later (a reader that never catches up
 * still writes in time, and a backlog is written in full batches). */
static int sink_due(struct hub_consumer *c, int at_end)
{
	const struct hub_cfg_sink *s = c->sink;
	if (c->batch.nlines >= (size_t)s->batch_max_lines || c->batch.buf.len >= (size_t)s->batch_max_bytes)
		return 1;
	if (c->batch.nlines > 0)
		return hub_now_mono_ms() - c->batch_started_ms >= s->flush_ms + (at_end ? 0 : NAP_MAX_MS);
	/* Nothing to send: still move the cursor past rejected messages, but not on every one. */
	return at_end && c->done != c->committed;
}

/* Adds what the writer did since the last call to the counters: lines acknowledged (a batch
 * with a line dropped after a 400 has one line fewer), requests, retries and splits. */
static void count_writes(struct hub_consumer *c)
{
	struct hub_influx_stats st;
	hub_influx_get_stats(c->influx, &st);
	hub_metric_add(c->m_lines, st.lines_ok - c->seen.lines_ok);
	hub_metric_add(c->m_requests, st.requests - c->seen.requests);
	hub_metric_add(c->m_retries, st.retries - c->seen.retries);
	hub_metric_add(c->m_splits, st.splits - c->seen.splits);
	c->seen = st;
}

static int sink_flush(struct hub_consumer *c, int at_end)
{
	if (!sink_due(c, at_end) && !atomic_load(&c->draining))
		return HUB_OK;
	if (c->batch.nlines > 0) {
		int rc = hub_influx_write(c->influx, &c->batch, on_dropped_line, c, &c->stop);
		count_writes(c);
		if (rc == HUB_EAUTH) {
			struct hub_influx_stats st;
			hub_influx_get_stats(c->influx, &st);
			hub_error("msg=\"store refused our credentials; sink stopped, backlog kept\" sink=%s "
				  "detail=\"%s\"", c->name, st.last_error);
			set_health(c, 0, st.last_error);
			return rc;
		}
		if (rc != HUB_OK)
			return rc;
		hub_lpbatch_clear(&c->batch);
		set_health(c, 1, NULL);
	}
	int rc = commit(c);
	update_lag(c);
	return rc;
}

/* ---- the monitor consumer ---- */

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
	if (hub_text_valid((const char *)e->payload, e->len) || e->len == 0) {
		json_object_set_new(o, "payload", json_stringn((const char *)e->payload, e->len));
	} else {
		struct hub_buf b = {0};
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
static int publish_deadletter(struct hub_consumer *c, const char *topic, const char *body)
{
	int waited = 0, step = 1;
	for (;;) {
		int rc = hub_ingest_publish(c->env.ingest, topic, body, strlen(body));
		if (rc == HUB_OK || c->stop || atomic_load(&c->draining) ||
		    !hub_ingest_ready(c->env.ingest) || waited >= DEADLETTER_WAIT_MS)
			return rc;
		nap(step);
		waited += step;
		step = step < 32 ? step * 2 : step;
	}
}

static void monitor_reject(struct hub_consumer *c, const struct hub_jentry *e, const char *adapter,
			   const struct hub_reject *rej)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "reason=\"%s\",adapter=\"%s\"", rej->reason, adapter);
	hub_metric_add(cached(c, "cityhub_rejected_total", "Messages rejected, by reason and adapter",
			      labels), 1);
	hub_debug("msg=\"rejected\" reason=%s adapter=%s detail=\"%s\"", rej->reason, adapter,
		  rej->detail);
	if (!c->env.ingest)
		return;
	char topic[256];
	snprintf(topic, sizeof(topic), "%s/deadletter/%s", c->env.cfg->mqtt.deadletter_prefix,
		 rej->reason);
	char *body = dead_letter(e, adapter, rej);
	int rc = body ? publish_deadletter(c, topic, body) : HUB_ENOMEM;
	free(body);
	hub_metric_add(cached(c, rc == HUB_OK ? "cityhub_deadletter_published_total"
					      : "cityhub_deadletter_failed_total",
			      "Dead letters handed to the MQTT client / that could not be", ""),
		       1);
}

static void monitor_handle(struct hub_consumer *c, const struct hub_jentry *e)
{
	struct hub_msg msg = {e->topic, e->topic_len, e->payload, e->len, e->recv_ns};
	struct hub_reject rej = {0};
	const char *adapter;
	char labels[96];
	if (hub_pipeline_decode(c->env.pipeline, &msg, &c->rs, &rej, &adapter) != HUB_OK ||
	    encodable(&c->scratch, &c->rs, &rej) != HUB_OK) {
		monitor_reject(c, e, adapter, &rej);
		return;
	}
	snprintf(labels, sizeof(labels), "adapter=\"%s\"", adapter);
	hub_metric_add(cached(c, "cityhub_messages_accepted_total", "Messages decoded and valid",
			      labels), 1);
	for (size_t i = 0; i < c->rs.n; i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", c->rs.recs[i].kind);
		hub_metric_add(cached(c, "cityhub_records_total", "Canonical records, by kind", labels),
			       1);
	}
}

static int monitor_flush(struct hub_consumer *c, int at_end)
{
	(void)at_end;
	if (hub_now_mono_ms() - c->last_commit_ms < MONITOR_COMMIT_MS && !atomic_load(&c->draining))
		return HUB_OK;
	int rc = commit(c);
	c->last_commit_ms = hub_now_mono_ms();
	update_lag(c);
	return rc;
}

/* ---- the thread ---- */

/* How long to sleep once caught up without being woken by every append (a waiter on the
 * journal makes each append broadcast, and at thousands of messages a second that is a wake-up
 * and two context switches per message per consumer): a sink with an open batch until the batch
 * is due, the monitor MONITOR_NAP_MS, both at most NAP_MAX_MS so that a drain or stop is seen
 * at once; 0 = wait on the journal (a sink with nothing pending: a new batch starts at once). */
static int nap_ms(struct hub_consumer *c)
{
	if (!c->sink)
		return MONITOR_NAP_MS;
	if (c->batch.nlines == 0)
		return 0;
	long long left = c->batch_started_ms + c->sink->flush_ms - hub_now_mono_ms();
	return left <= 0 ? 1 : left > NAP_MAX_MS ? NAP_MAX_MS : (int)left;
}

/* Caught up with the journal: flush what is due, then sleep or wait for more. */
static int idle(struct hub_consumer *c)
{
	int rc = c->flush(c, 1);
	int ms = rc == HUB_OK ? nap_ms(c) : 0;
	if (ms > 0)
		nap(ms);
	else if (rc == HUB_OK || rc == HUB_EAUTH)
		hub_journal_wait(c->env.journal, hub_journal_reader_offset(c->reader), IDLE_WAIT_MS);
	return rc;
}

static void *run(void *arg)
{
	struct hub_consumer *c = arg;
	struct hub_jentry e;
	int rc = HUB_OK;
	while (!c->stop && rc != HUB_EAUTH) {
		if (hub_journal_reader_next(c->reader, &e) == HUB_OK) {
			c->handle(c, &e);
			c->done = e.next;
			rc = c->flush(c, 0);
			continue;
		}
		c->done = hub_journal_reader_offset(c->reader);
		if (atomic_load(&c->draining)) {
			c->flush(c, 1);
			break;
		}
		rc = idle(c);
	}
	/* After an auth failure, keep the backlog and idle until told to stop. */
	while (rc == HUB_EAUTH && !c->stop && !atomic_load(&c->draining))
		hub_journal_wait(c->env.journal, UINT64_MAX, IDLE_WAIT_MS);
	return NULL;
}

static struct hub_consumer *new_consumer(const struct hub_consumer_env *env, const char *name)
{
	struct hub_consumer *c = hub_xcalloc(1, sizeof(*c));
	c->name = hub_xstrdup(name);
	c->env = *env;
	pthread_mutex_init(&c->lock, NULL);
	atomic_store(&c->healthy, 1);
	hub_recset_init(&c->rs, 0);
	char labels[160];
	snprintf(labels, sizeof(labels), "consumer=\"%s\"", name);
	c->m_lag = hub_gauge("cityhub_consumer_lag_bytes",
			     "Journal bytes not yet committed by a consumer", labels);
	return c;
}

static int start(struct hub_consumer *c, char *err, size_t errlen)
{
	uint64_t at;
	if (hub_journal_cursor_open(c->env.journal, c->name, &at) != HUB_OK) {
		snprintf(err, errlen, "cannot open journal cursor %s", c->name);
		return HUB_EIO;
	}
	c->committed = c->done = at;
	c->last_commit_ms = hub_now_mono_ms();
	c->reader = hub_journal_reader_new(c->env.journal, at);
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		snprintf(err, errlen, "cannot start thread for %s", c->name);
		return HUB_EIO;
	}
	c->started = 1;
	hub_info("msg=\"consumer started\" consumer=%s offset=%llu", c->name,
		 (unsigned long long)at);
	return HUB_OK;
}

static void open_deadletter_log(struct hub_consumer *c)
{
	struct hub_buf path = {0};
	hub_buf_printf(&path, "%s/deadletter.log", c->env.cfg->journal.dir);
	c->deadletter_log = fopen(path.data, "a");
	if (!c->deadletter_log)
		hub_warn("msg=\"cannot open the dead-letter log\" path=%s", path.data);
	hub_buf_fini(&path);
}

struct hub_consumer *hub_consumer_start_sink(const struct hub_consumer_env *env,
					     const struct hub_cfg_sink *sink, char *err, size_t errlen)
{
	struct hub_consumer *c = new_consumer(env, sink->name);
	char labels[160];
	snprintf(labels, sizeof(labels), "sink=\"%s\"", sink->name);
	c->m_lines = hub_counter("cityhub_sink_lines_total", "Lines the store acknowledged", labels);
	c->m_dropped = hub_counter("cityhub_sink_lines_dropped_total",
				   "Lines the store refused (HTTP 400), sent to the dead-letter log", labels);
	c->m_encode_err = hub_counter("cityhub_sink_encode_errors_total",
				      "Messages skipped: the line-protocol encoder refused a "
				      "record (the monitor rejects them as bad_tag)",
				      labels);
	c->m_healthy = hub_gauge("cityhub_sink_healthy", "1 while the sink's store accepts writes",
				 labels);
	c->m_requests = hub_counter("cityhub_sink_requests_total",
				    "Write requests sent to the store", labels);
	c->m_retries = hub_counter("cityhub_sink_retries_total",
				   "Writes resent after 429/5xx/network errors/timeouts", labels);
	c->m_splits = hub_counter("cityhub_sink_splits_total",
				  "Batches split in half after HTTP 413 or 400", labels);
	hub_metric_set(c->m_healthy, 1);
	c->sink = sink;
	c->handle = sink_handle;
	c->flush = sink_flush;
	c->influx = hub_influx_new(sink, err, errlen);
	open_deadletter_log(c);
	if (!c->influx || start(c, err, errlen) != HUB_OK) {
		hub_consumer_free(c);
		return NULL;
	}
	return c;
}

struct hub_consumer *hub_consumer_start_monitor(const struct hub_consumer_env *env, char *err,
						size_t errlen)
{
	struct hub_consumer *c = new_consumer(env, "monitor");
	c->handle = monitor_handle;
	c->flush = monitor_flush;
	if (start(c, err, errlen) != HUB_OK) {
		hub_consumer_free(c);
		return NULL;
	}
	return c;
}

void hub_consumer_drain(struct hub_consumer *c)
{
	atomic_store(&c->draining, 1);
}

void hub_consumer_stop(struct hub_consumer *c)
{
	c->stop = 1;
}

int hub_consumer_join(struct hub_consumer *c, int timeout_ms)
{
	if (!c->started)
		return HUB_OK;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(c->thread, NULL, &ts) != 0)
		return HUB_EAGAIN;
	c->started = 0;
	return HUB_OK;
}

int hub_consumer_healthy(struct hub_consumer *c, char *why, size_t len)
{
	int ok = atomic_load(&c->healthy);
	pthread_mutex_lock(&c->lock);
	snprintf(why, len, "%s", c->why);
	pthread_mutex_unlock(&c->lock);
	if (ok && c->influx) {
		/* While a write is being retried the store is not taking data. */
		struct hub_influx_stats st;
		hub_influx_get_stats(c->influx, &st);
		if (!st.healthy && st.requests > 0) {
			snprintf(why, len, "%s", st.last_error);
			ok = 0;
		}
	}
	return ok;
}

/* The lag gauge also moves while the thread is stuck retrying a write or idle after a 401. */
void hub_consumer_tick(struct hub_consumer *c)
{
	update_lag(c);
}

const char *hub_consumer_name(const struct hub_consumer *c)
{
	return c->name;
}

void hub_consumer_free(struct hub_consumer *c)
{
	if (!c)
		return;
	if (c->started) {
		c->stop = 1;
		pthread_join(c->thread, NULL);
	}
	hub_journal_reader_free(c->reader);
	hub_influx_free(c->influx);
	hub_lpbatch_fini(&c->batch);
	hub_recset_fini(&c->rs);
	hub_buf_fini(&c->scratch);
	if (c->deadletter_log)
		fclose(c->deadletter_log);
	pthread_mutex_destroy(&c->lock);
	free(c->name);
	free(c);
}
