/* The InfluxDB sink consumer (v1 /write, v2 /api/v2/write): decode, encode line protocol,
 * batch, write, and commit the cursor only after the store acknowledged every line before it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "consumer.h"
#include "influx.h"
#include "lineproto.h"
#include "metrics.h"

#define NAP_MAX_MS 50

struct sink {
	struct hub_consumer *c;
	const struct hub_cfg_sink *cfg;
	struct hub_influx *influx;
	struct hub_recset rs;
	struct hub_lpbatch batch;
	long long batch_started_ms;
	FILE *deadletter_log;
	struct hub_metric *m_lines, *m_encode_err, *m_dropped, *m_healthy;
	struct hub_metric *m_requests, *m_retries, *m_splits, *m_last_ok;
	struct hub_metric *m_failed[HUB_INFLUX_F_COUNT];
	pthread_mutex_t count_lock; /* the sink's thread and the main thread's tick both count */
	struct hub_influx_stats seen; /* the writer's figures already added to the counters */
	_Atomic int auth_failed;
};

static void on_dropped_line(void *ctx, const char *line, size_t len, const char *why)
{
	struct sink *s = ctx;
	hub_metric_add(s->m_dropped, 1);
	if (s->deadletter_log) {
		fprintf(s->deadletter_log, "sink=%s why=\"%s\" line=%.*s\n", s->cfg->name, why,
			(int)len, line);
		fflush(s->deadletter_log);
	}
	hub_warn("msg=\"store refused a line; dropped to the dead-letter log\" sink=%s why=%s",
		 hub_logq(s->cfg->name), hub_logq(why));
}

static void handle(void *state, const struct hub_jentry *e)
{
	struct sink *s = state;
	struct hub_msg msg = {e->topic, e->topic_len, e->payload, e->len, e->recv_ns};
	struct hub_reject rej;
	const char *adapter;
	/* Rejects are counted and dead-lettered by the monitor, not here. */
	if (hub_pipeline_decode(hub_consumer_env(s->c)->pipeline, &msg, &s->rs, &rej, &adapter) !=
	    HUB_OK)
		return;
	if (s->batch.nlines == 0)
		s->batch_started_ms = hub_now_mono_ms();
	/* Whole or nothing, as the monitor's verdict (the encoder has the last word). */
	if (hub_lpbatch_add_all(&s->batch, s->rs.recs, s->rs.n) != HUB_OK)
		hub_metric_add(s->m_encode_err, 1);
}

/* A full batch is due at once. By age, a batch is due flush_ms after its first line once the
 * journal has nothing more to read (at_end), so that what arrived while the sink slept still
 * goes into it; while there is more to read, NAP_MAX_MS later (a reader that never catches up
 * still writes in time, and a backlog is written in full batches). */
static int due(struct sink *s, int at_end)
{
	const struct hub_cfg_sink *k = s->cfg;
	if (s->batch.nlines >= (size_t)k->batch_max_lines || s->batch.buf.len >= (size_t)k->batch_max_bytes)
		return 1;
	if (s->batch.nlines > 0)
		return hub_now_mono_ms() - s->batch_started_ms >= k->flush_ms + (at_end ? 0 : NAP_MAX_MS);
	/* Nothing to send: still move the cursor past rejected messages, but not on every one. */
	return at_end;
}

/* Adds what the writer did since the last call to the counters: after each write, and once a
 * second from the main thread, so that an outage shows while a write is still being retried. */
static void count_writes(struct sink *s)
{
	struct hub_influx_stats st;
	pthread_mutex_lock(&s->count_lock);
	hub_influx_get_stats(s->influx, &st);
	hub_metric_add(s->m_lines, st.lines_ok - s->seen.lines_ok);
	hub_metric_add(s->m_requests, st.requests - s->seen.requests);
	hub_metric_add(s->m_retries, st.retries - s->seen.retries);
	hub_metric_add(s->m_splits, st.splits - s->seen.splits);
	for (int f = 0; f < HUB_INFLUX_F_COUNT; f++)
		hub_metric_add(s->m_failed[f], st.failed[f] - s->seen.failed[f]);
	hub_metric_set(s->m_last_ok, (double)st.last_success_ns / 1e9);
	hub_metric_set(s->m_healthy, st.healthy && !atomic_load(&s->auth_failed));
	s->seen = st;
	pthread_mutex_unlock(&s->count_lock);
}

static void tick(void *state)
{
	count_writes(state);
}

static int flush(void *state, int at_end)
{
	struct sink *s = state;
	if (!due(s, at_end) && !hub_consumer_draining(s->c))
		return HUB_OK;
	if (s->batch.nlines > 0) {
		int rc = hub_influx_write(s->influx, &s->batch, on_dropped_line, s,
					  hub_consumer_stop_flag(s->c));
		count_writes(s);
		if (rc == HUB_EAUTH) {
			struct hub_influx_stats st;
			hub_influx_get_stats(s->influx, &st);
			hub_error("msg=\"store refused our credentials; sink stopped, backlog kept\" sink=%s "
				  "detail=%s", hub_logq(s->cfg->name), hub_logq(st.last_error));
			atomic_store(&s->auth_failed, 1);
			hub_metric_set(s->m_healthy, 0);
			return rc;
		}
		if (rc != HUB_OK)
			return rc;
		hub_lpbatch_clear(&s->batch);
	}
	return hub_consumer_commit(s->c);
}

/* Until the batch is due; 0 (wait on the journal) with nothing pending: a new batch starts at
 * once. At most NAP_MAX_MS so that a drain or stop is seen at once. */
static int nap_ms(void *state)
{
	struct sink *s = state;
	if (s->batch.nlines == 0)
		return 0;
	long long left = s->batch_started_ms + s->cfg->flush_ms - hub_now_mono_ms();
	return left <= 0 ? 1 : left > NAP_MAX_MS ? NAP_MAX_MS : (int)left;
}

/* A sink added to a running city (start: head) skips the backlog; by default a new sink
 * writes everything the journal still holds. */
static uint64_t start_at(void *state, uint64_t committed, int fresh)
{
	struct sink *s = state;
	struct hub_journal_stats st;
	if (!fresh || s->cfg->start != HUB_SINK_START_HEAD)
		return committed;
	hub_journal_get_stats(hub_consumer_env(s->c)->journal, &st);
	return st.end_offset;
}

static int healthy(void *state, char *why, size_t len)
{
	struct sink *s = state;
	struct hub_influx_stats st;
	hub_influx_get_stats(s->influx, &st);
	if (atomic_load(&s->auth_failed) || (!st.healthy && st.requests > 0)) {
		/* While a write is being retried the store is not taking data. */
		snprintf(why, len, "%s", st.last_error);
		return 0;
	}
	return 1;
}

static void open_deadletter_log(struct sink *s, const char *dir)
{
	struct hub_buf path = {0};
	hub_buf_printf(&path, "%s/deadletter.log", dir);
	s->deadletter_log = fopen(path.data, "a");
	if (!s->deadletter_log)
		hub_warn("msg=\"cannot open the dead-letter log\" path=%s", hub_logq(path.data));
	hub_buf_fini(&path);
}

static void make_metrics(struct sink *s)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "sink=\"%s\"", s->cfg->name);
	s->m_lines = hub_counter("cityhub_sink_lines_total", "Lines the store acknowledged", labels);
	s->m_dropped = hub_counter("cityhub_sink_lines_dropped_total",
				   "Lines the store refused (HTTP 400), sent to the dead-letter log", labels);
	s->m_encode_err = hub_counter("cityhub_sink_encode_errors_total",
				      "Messages skipped: the line-protocol encoder refused a "
				      "record (the monitor rejects them as bad_tag)",
				      labels);
	s->m_healthy = hub_gauge("cityhub_sink_healthy", "1 while the sink's store accepts writes",
				 labels);
	s->m_requests = hub_counter("cityhub_sink_requests_total",
				    "Write requests sent to the store", labels);
	s->m_retries = hub_counter("cityhub_sink_retries_total",
				   "Writes resent after 429/5xx/network errors/timeouts", labels);
	s->m_splits = hub_counter("cityhub_sink_splits_total",
				  "Batches split in half after HTTP 413 or 400", labels);
	s->m_last_ok = hub_gauge("cityhub_sink_last_success_timestamp_seconds",
				 "Wall-clock time of the store's last 2xx (0 = none yet)", labels);
	for (int f = 0; f < HUB_INFLUX_F_COUNT; f++) {
		char fl[200];
		snprintf(fl, sizeof(fl), "%s,class=\"%s\"", labels,
			 hub_influx_fail_name((enum hub_influx_fail)f));
		s->m_failed[f] = hub_counter("cityhub_sink_requests_failed_total",
					     "Write requests that failed, by reply class (network, auth, "
					     "rejected, too_large, throttled, server, other)", fl);
	}
	hub_metric_set(s->m_healthy, 1);
}

static void free_state(void *state)
{
	struct sink *s = state;
	hub_influx_free(s->influx);
	hub_lpbatch_fini(&s->batch);
	hub_recset_fini(&s->rs);
	if (s->deadletter_log)
		fclose(s->deadletter_log);
	pthread_mutex_destroy(&s->count_lock);
	free(s);
}

static int init(struct hub_consumer *c, const void *conf, void **state, char *err, size_t errlen)
{
	struct sink *s = hub_xcalloc(1, sizeof(*s));
	s->c = c;
	s->cfg = conf;
	pthread_mutex_init(&s->count_lock, NULL);
	hub_recset_init(&s->rs, 0);
	make_metrics(s);
	s->influx = hub_influx_new(s->cfg, err, errlen);
	if (!s->influx) {
		free_state(s);
		return HUB_EINVAL;
	}
	open_deadletter_log(s, hub_consumer_env(c)->cfg->journal.dir);
	*state = s;
	return HUB_OK;
}

const struct hub_consumer_ops hub_influx_sink_ops = {
	.type = "influxdb",
	.init = init,
	.start_at = start_at,
	.handle = handle,
	.flush = flush,
	.nap_ms = nap_ms,
	.healthy = healthy,
	.tick = tick,
	.free_state = free_state,
};
