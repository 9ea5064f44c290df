#include "consumer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "metrics.h"

#define IDLE_WAIT_MS 100

struct hub_consumer {
	char *name;
	struct hub_consumer_env env;
	const struct hub_consumer_ops *ops;
	void *state;
	pthread_t thread;
	int started;
	_Atomic int stop;     /* hard stop: also read by writes in progress */
	_Atomic int draining;
	struct hub_journal_reader *reader;
	_Atomic uint64_t committed; /* durable cursor (read by hub_consumer_tick) */
	uint64_t done;        /* every entry before this is handled (in a batch or finished) */
	long long last_commit_ms;
	struct hub_metric *m_lag;
};

extern const struct hub_consumer_ops hub_influx_sink_ops;

static const struct hub_consumer_ops *const sink_kinds[] = {&hub_influx_sink_ops, NULL};

const struct hub_consumer_ops *hub_consumer_sink_ops(const char *type)
{
	for (size_t i = 0; sink_kinds[i]; i++)
		if (strcmp(sink_kinds[i]->type, type) == 0)
			return sink_kinds[i];
	return NULL;
}

void hub_consumer_nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void update_lag(struct hub_consumer *c);

int hub_consumer_commit(struct hub_consumer *c)
{
	if (c->done == atomic_load(&c->committed))
		return HUB_OK;
	int rc = hub_journal_cursor_commit(c->env.journal, c->name, c->done);
	if (rc != HUB_OK) {
		hub_error("msg=\"cursor commit failed\" consumer=%s err=\"%s\"", hub_logq(c->name),
			  hub_strerror(rc));
		return rc;
	}
	atomic_store(&c->committed, c->done);
	c->last_commit_ms = hub_now_mono_ms();
	update_lag(c);
	return HUB_OK;
}

/* Caught up with the journal: flush what is due, then sleep or wait for more. A nap instead of
 * a wait on the journal saves a wake-up per append at thousands of messages a second. */
static int idle(struct hub_consumer *c)
{
	int rc = c->ops->flush(c->state, 1);
	int ms = rc == HUB_OK ? c->ops->nap_ms(c->state) : 0;
	if (ms > 0)
		hub_consumer_nap(ms);
	else if (rc == HUB_OK || rc == HUB_EAUTH)
		hub_journal_wait(c->env.journal, hub_journal_reader_offset(c->reader), IDLE_WAIT_MS);
	return rc;
}

static void *run(void *arg)
{
	struct hub_consumer *c = arg;
	struct hub_jentry e;
	int rc = HUB_OK;
	while (!atomic_load(&c->stop) && rc != HUB_EAUTH) {
		if (hub_journal_reader_next(c->reader, &e) == HUB_OK) {
			c->ops->handle(c->state, &e);
			c->done = e.next;
			rc = c->ops->flush(c->state, 0);
			continue;
		}
		c->done = hub_journal_reader_offset(c->reader);
		if (atomic_load(&c->draining)) {
			c->ops->flush(c->state, 1);
			break;
		}
		rc = idle(c);
	}
	/* After an auth failure, keep the backlog and idle until told to stop. */
	while (rc == HUB_EAUTH && !atomic_load(&c->stop) && !atomic_load(&c->draining))
		hub_journal_wait(c->env.journal, UINT64_MAX, IDLE_WAIT_MS);
	return NULL;
}

static int start(struct hub_consumer *c, char *err, size_t errlen)
{
	uint64_t at;
	int fresh = !hub_journal_cursor_exists(c->env.journal, c->name);
	if (hub_journal_cursor_open(c->env.journal, c->name, &at) != HUB_OK) {
		snprintf(err, errlen, "cannot open journal cursor %s", c->name);
		return HUB_EIO;
	}
	atomic_store(&c->committed, at);
	if (c->ops->start_at)
		at = c->ops->start_at(c->state, at, fresh);
	c->done = at;
	c->last_commit_ms = hub_now_mono_ms();
	c->reader = hub_journal_reader_new(c->env.journal, at);
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		snprintf(err, errlen, "cannot start thread for %s", c->name);
		return HUB_EIO;
	}
	char tname[16]; /* the thread's name in top, perf and /proc (bench/run reads it) */
	snprintf(tname, sizeof(tname), "c:%s", c->name);
	pthread_setname_np(c->thread, tname);
	c->started = 1;
	hub_info("msg=\"consumer started\" consumer=%s offset=%llu", hub_logq(c->name),
		 (unsigned long long)at);
	return HUB_OK;
}

struct hub_consumer *hub_consumer_start(const struct hub_consumer_env *env,
					const struct hub_consumer_ops *ops, const char *name,
					const void *conf, char *err, size_t errlen)
{
	struct hub_consumer *c = hub_xcalloc(1, sizeof(*c));
	c->name = hub_xstrdup(name);
	c->env = *env;
	c->ops = ops;
	char labels[160];
	snprintf(labels, sizeof(labels), "consumer=\"%s\"", name);
	c->m_lag = hub_gauge("cityhub_consumer_lag_bytes",
			     "Journal bytes not yet committed by a consumer", labels);
	if (ops->init(c, conf, &c->state, err, errlen) != HUB_OK || start(c, err, errlen) != HUB_OK) {
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
	atomic_store(&c->stop, 1);
}

int hub_consumer_join(struct hub_consumer *c, int timeout_ms)
{
	if (!c->started)
		return HUB_OK;
	struct timespec ts;
	hub_deadline(&ts, CLOCK_REALTIME, timeout_ms);
	if (pthread_timedjoin_np(c->thread, NULL, &ts) != 0)
		return HUB_EAGAIN;
	c->started = 0;
	return HUB_OK;
}

int hub_consumer_healthy(struct hub_consumer *c, char *why, size_t len)
{
	why[0] = '\0';
	return c->ops->healthy ? c->ops->healthy(c->state, why, len) : 1;
}

static void update_lag(struct hub_consumer *c)
{
	struct hub_journal_stats st;
	hub_journal_get_stats(c->env.journal, &st);
	hub_metric_set(c->m_lag, (double)(st.end_offset - atomic_load(&c->committed)));
}

/* The lag gauge also moves while the thread is stuck retrying a write or idle after a 401. */
void hub_consumer_tick(struct hub_consumer *c)
{
	update_lag(c);
	if (c->ops->tick && c->state)
		c->ops->tick(c->state);
}

const char *hub_consumer_name(const struct hub_consumer *c)
{
	return c->name;
}

const struct hub_consumer_env *hub_consumer_env(const struct hub_consumer *c)
{
	return &c->env;
}

uint64_t hub_consumer_done(const struct hub_consumer *c)
{
	return c->done;
}

int hub_consumer_draining(const struct hub_consumer *c)
{
	return atomic_load(&c->draining);
}

const _Atomic int *hub_consumer_stop_flag(const struct hub_consumer *c)
{
	return &c->stop;
}

long long hub_consumer_last_commit_ms(const struct hub_consumer *c)
{
	return c->last_commit_ms;
}

void hub_consumer_free(struct hub_consumer *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stop, 1);
		pthread_join(c->thread, NULL);
	}
	hub_journal_reader_free(c->reader);
	if (c->state)
		c->ops->free_state(c->state);
	free(c->name);
	free(c);
}
