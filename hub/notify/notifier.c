/* The notifier runtime (see notify.h): one thread per notifier, a bounded ring of event
 * references, full-jitter exponential backoff, and the delivery watermark file.
 *
 * Threads: push() runs on any thread and only touches the ring under `lock`; the notifier's own
 * thread owns the ops state, the backoff and the watermark file; stop()/free() run on the
 * thread that started the notifier. The watermark is atomic so push() can read it. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "internal.h"
#include "metrics.h"

#define DEFAULT_BATCH 64
#define TICK_MS 1000
#define WHY_LEN 256

struct hub_notifier {
	const struct hub_cfg_notifier *cfg;
	const struct hub_notifier_ops *ops;
	void *state;  /* the notifier thread's */
	int fd;       /* watermark file, or -1 without a state_dir; the notifier thread's */
	size_t batch; /* most events per deliver call */
	long base_ms, cap_ms;
	pthread_t thread;
	int running; /* the thread exists and is not joined; the starting thread's */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	json_t **ring; /* ring, head and len under lock */
	size_t cap, head, len;
	int stopping;          /* under lock */
	long long deadline_ms; /* under lock: when stopping gives up */
	int healthy;           /* healthy and why under lock */
	char why[WHY_LEN];
	_Atomic uint64_t watermark;
	uint64_t rng;       /* the notifier thread's, as the two below */
	unsigned attempt;   /* failed attempts in a row */
	long long retry_at; /* monotonic ms before which the head is not offered again */
	int stop_seen;      /* the thread has seen stopping (and cut the backoff short once) */
	struct hub_metric *sent, *failed, *dropped, *retries, *skipped, *queue;
};

static const struct hub_notifier_ops *const table[] = {
    &hub_notify_alertmanager_ops,
    &hub_notify_mqtt_ops,
    &hub_notify_webhook_ops,
};

const struct hub_notifier_ops *hub_notifier_find(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i]->type, type) == 0)
			return table[i];
	return NULL;
}

uint64_t hub_notify_event_seq(const json_t *event)
{
	json_t *s = json_object_get(event, "seq");
	if (!json_is_integer(s) || json_integer_value(s) <= 0)
		return 0;
	return (uint64_t)json_integer_value(s);
}

const char *hub_notify_event_str(const json_t *event, const char *key)
{
	return json_string_value(json_object_get(event, key));
}

static void set_err(char *err, size_t errlen, const char *name, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "notifier %s: %s", name ? name : "?", what);
}

/* A name becomes a file name and a metric label: keep it to a plain file name. */
static int check_name(const char *name)
{
	if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return HUB_EINVAL;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return HUB_EINVAL;
	return HUB_OK;
}

static int positive_or(int v, int dflt)
{
	return v > 0 ? v : dflt;
}

static void make_metrics(struct hub_notifier *n)
{
	char labels[200];
	snprintf(labels, sizeof labels, "notifier=\"%s\"", n->cfg->name);
	n->sent = hub_counter("cityhub_notify_sent_total", "Alert events delivered.", labels);
	n->failed = hub_counter("cityhub_notify_failed_total",
	                        "Alert events the receiver refused for good (dropped).", labels);
	n->dropped =
	    hub_counter("cityhub_notify_dropped_total",
	                "Alert events dropped because the notifier's queue was full.", labels);
	n->retries = hub_counter("cityhub_notify_retries_total",
	                         "Deliveries retried after a transient failure.", labels);
	n->skipped =
	    hub_counter("cityhub_notify_skipped_total",
	                "Alert events skipped as already delivered before a restart.", labels);
	n->queue = hub_gauge("cityhub_notify_queue",
	                     "Alert events waiting in the notifier's queue.", labels);
}

/* Opens <state_dir>/notify-<name>.seq and reads the watermark (0 for a new or short file). */
static int open_watermark(struct hub_notifier *n, const char *dir, char *err, size_t errlen)
{
	n->fd = -1;
	if (!dir || !*dir)
		return HUB_OK;
	struct hub_buf path = {0};
	hub_buf_printf(&path, "%s/notify-%s.seq", dir, n->cfg->name);
	n->fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (n->fd < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "cannot open %s: %s", path.data, strerror(errno));
		set_err(err, errlen, n->cfg->name, msg);
		hub_buf_fini(&path);
		return HUB_EIO;
	}
	hub_buf_fini(&path);
	uint8_t b[8];
	uint64_t w = 0;
	if (pread(n->fd, b, sizeof b, 0) == (ssize_t)sizeof b)
		for (int i = 7; i >= 0; i--)
			w = w << 8 | b[i];
	atomic_store(&n->watermark, w);
	return HUB_OK;
}

/* Records seq as delivered: little-endian, one pwrite, no fsync (the page cache survives a
 * SIGKILL; a power cut may repeat the last notifications, never lose one). */
static void save_watermark(struct hub_notifier *n, uint64_t seq)
{
	if (seq <= atomic_load(&n->watermark))
		return;
	atomic_store(&n->watermark, seq);
	if (n->fd < 0)
		return;
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(seq >> (8 * i));
	if (pwrite(n->fd, b, sizeof b, 0) != (ssize_t)sizeof b)
		hub_warn("msg=\"cannot write the notifier watermark\" notifier=%s error=\"%s\"",
		         n->cfg->name, strerror(errno));
}

/* Sets the health; logs the changes only, so a long outage writes two lines. */
static void set_health(struct hub_notifier *n, int ok, const char *why)
{
	char quoted[WHY_LEN];
	snprintf(quoted, sizeof quoted, "%s", why ? why : "");
	for (char *p = quoted; *p; p++)
		if (*p == '"' || *p == '\n' || *p == '\r')
			*p = '\'';
	pthread_mutex_lock(&n->lock);
	int was = n->healthy;
	n->healthy = ok;
	snprintf(n->why, sizeof n->why, "%s", ok ? "" : quoted);
	pthread_mutex_unlock(&n->lock);
	if (was && !ok)
		hub_warn("msg=\"notifier failing\" notifier=%s error=\"%s\"", n->cfg->name, quoted);
	else if (!was && ok)
		hub_info("msg=\"notifier recovered\" notifier=%s", n->cfg->name);
}

static uint64_t next_random(struct hub_notifier *n)
{
	/* xorshift64*: enough to spread retries; not for secrets. */
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return n->rng * 2685821657736338717ULL;
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)]. */
static long backoff_ms(struct hub_notifier *n)
{
	unsigned a = n->attempt < 30 ? n->attempt : 30;
	long long ceiling = (long long)n->base_ms << a;
	if (ceiling > n->cap_ms || ceiling <= 0)
		ceiling = n->cap_ms;
	n->attempt++;
	return (long)(next_random(n) % (uint64_t)(ceiling + 1));
}

/* Takes the k delivered (or refused) events off the head and advances the watermark. */
static void pop_delivered(struct hub_notifier *n, json_t **batch, size_t k)
{
	uint64_t top = 0;
	pthread_mutex_lock(&n->lock);
	n->head = (n->head + k) % n->cap;
	n->len -= k;
	hub_metric_set(n->queue, (double)n->len);
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < k; i++) {
		uint64_t s = hub_notify_event_seq(batch[i]);
		if (s > top)
			top = s;
		json_decref(batch[i]);
	}
	if (top)
		save_watermark(n, top);
}

static void deliver(struct hub_notifier *n, json_t **batch, size_t k)
{
	char err[WHY_LEN] = "";
	int rc = n->ops->deliver(n->state, batch, k, err, sizeof err);
	if (rc == HUB_EAGAIN) {
		hub_metric_add(n->retries, 1);
		set_health(n, 0, err[0] ? err : "delivery failed");
		n->retry_at = hub_now_mono_ms() + backoff_ms(n);
		return;
	}
	n->attempt = 0;
	n->retry_at = 0;
	if (rc == HUB_OK) {
		hub_metric_add(n->sent, k);
		set_health(n, 1, NULL);
	} else {
		hub_metric_add(n->failed, k);
		hub_warn(
		    "msg=\"notifier refused events for good\" notifier=%s events=%zu error=\"%s\"",
		    n->cfg->name, k, err[0] ? err : hub_strerror(rc));
		set_health(n, 0, err[0] ? err : hub_strerror(rc));
	}
	pop_delivered(n, batch, k);
}

static void run_tick(struct hub_notifier *n)
{
	char err[WHY_LEN] = "";
	int rc = n->ops->tick(n->state, hub_now_real_ns(), err, sizeof err);
	if (rc == HUB_OK)
		set_health(n, 1, NULL);
	else if (rc == HUB_EAGAIN)
		set_health(n, 0, err[0] ? err : "re-send failed");
}

static void wait_until(struct hub_notifier *n, long long until_ms)
{
	long long now = hub_now_mono_ms();
	if (until_ms <= now)
		return;
	/* The condition variable runs on CLOCK_MONOTONIC (see start), as hub_now_mono_ms. */
	struct timespec ts;
	hub_deadline(&ts, CLOCK_MONOTONIC, until_ms - now);
	pthread_cond_timedwait(&n->wake, &n->lock, &ts);
}

enum step { STEP_EXIT, STEP_DELIVER, STEP_TICK };

/* Waits (under lock) until there is something to do; copies the head into batch. */
static enum step next_step(struct hub_notifier *n, long long next_tick, json_t **batch, size_t *k)
{
	for (;;) {
		long long now = hub_now_mono_ms();
		if (n->stopping && !n->stop_seen) {
			/* One more try at once: the last chance may come before the backoff ends. */
			n->stop_seen = 1;
			n->retry_at = 0;
		}
		if (n->stopping && (n->len == 0 || now >= n->deadline_ms))
			return STEP_EXIT;
		if (!n->stopping && n->ops->tick && now >= next_tick)
			return STEP_TICK;
		if (n->len > 0 && now >= n->retry_at) {
			*k = n->len < n->batch ? n->len : n->batch;
			for (size_t i = 0; i < *k; i++)
				batch[i] = n->ring[(n->head + i) % n->cap];
			return STEP_DELIVER;
		}
		/* Without a tick, next_tick means nothing: sleep until woken (or a second). */
		long long until = n->stopping ? n->deadline_ms
				  : n->ops->tick  ? next_tick
						  : now + 1000;
		if (n->len > 0 && n->retry_at < until)
			until = n->retry_at;
		wait_until(n, until);
	}
}

static void *run(void *arg)
{
	struct hub_notifier *n = arg;
	json_t **batch = hub_xcalloc(n->batch, sizeof *batch);
	long long next_tick = hub_now_mono_ms() + TICK_MS;
	for (;;) {
		size_t k = 0;
		pthread_mutex_lock(&n->lock);
		enum step s = next_step(n, next_tick, batch, &k);
		pthread_mutex_unlock(&n->lock);
		if (s == STEP_EXIT)
			break;
		if (s == STEP_TICK) {
			run_tick(n);
			next_tick = hub_now_mono_ms() + TICK_MS;
		} else {
			deliver(n, batch, k);
		}
	}
	free(batch);
	return NULL;
}

static int init_sync(struct hub_notifier *n)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&n->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return HUB_EIO;
	if (pthread_mutex_init(&n->lock, NULL) != 0) {
		pthread_cond_destroy(&n->wake);
		return HUB_EIO;
	}
	return HUB_OK;
}

struct hub_notifier *hub_notifier_start_ops(const struct hub_notifier_ops *ops,
                                            const struct hub_cfg_notifier *cfg,
                                            const struct hub_notify_env *env, char *err,
                                            size_t errlen)
{
	if (!ops || !ops->deliver || !cfg || check_name(cfg->name) != HUB_OK) {
		set_err(err, errlen, cfg ? cfg->name : NULL,
		        "a name without '/', quotes or control characters is required");
		return NULL;
	}
	struct hub_notifier *n = hub_xcalloc(1, sizeof *n);
	n->cfg = cfg;
	n->ops = ops;
	n->healthy = 1;
	n->batch = ops->max_batch ? ops->max_batch : DEFAULT_BATCH;
	n->cap = (size_t)positive_or(cfg->queue_max, HUB_NOTIFY_DEFAULT_QUEUE);
	n->base_ms = positive_or(cfg->retry_base_ms, HUB_NOTIFY_DEFAULT_BASE_MS);
	n->cap_ms = positive_or(cfg->retry_cap_ms, HUB_NOTIFY_DEFAULT_CAP_MS);
	if (n->cap_ms < n->base_ms)
		n->cap_ms = n->base_ms;
	n->rng = (uint64_t)hub_now_real_ns() ^ (uint64_t)(uintptr_t)n ^ 0x9e3779b97f4a7c15ULL;
	n->ring = hub_xcalloc(n->cap, sizeof *n->ring);
	if (open_watermark(n, env ? env->state_dir : NULL, err, errlen) != HUB_OK)
		goto fail_fd;
	if (ops->init && ops->init(cfg, env, &n->state, err, errlen) != HUB_OK)
		goto fail_init;
	if (init_sync(n) != HUB_OK) {
		set_err(err, errlen, cfg->name, "cannot create the thread's lock");
		goto fail_sync;
	}
	make_metrics(n);
	if (pthread_create(&n->thread, NULL, run, n) != 0) {
		set_err(err, errlen, cfg->name, "cannot start the thread");
		goto fail_thread;
	}
	n->running = 1;
	return n;
fail_thread:
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
fail_sync:
	if (ops->free_state)
		ops->free_state(n->state);
fail_init:
	if (n->fd >= 0)
		close(n->fd);
fail_fd:
	free(n->ring);
	free(n);
	return NULL;
}

struct hub_notifier *hub_notifier_start(const struct hub_cfg_notifier *cfg,
                                        const struct hub_notify_env *env, char *err, size_t errlen)
{
	const struct hub_notifier_ops *ops = hub_notifier_find(cfg ? cfg->type : NULL);
	if (!ops) {
		char msg[200];
		snprintf(msg, sizeof msg, "unknown type \"%.100s\" (alertmanager, mqtt or webhook)",
		         cfg && cfg->type ? cfg->type : "");
		set_err(err, errlen, cfg ? cfg->name : NULL, msg);
		return NULL;
	}
	return hub_notifier_start_ops(ops, cfg, env, err, errlen);
}

int hub_notifier_push(struct hub_notifier *n, json_t *event)
{
	if (!n || !json_is_object(event))
		return HUB_EINVAL;
	uint64_t seq = hub_notify_event_seq(event);
	if (seq && seq <= atomic_load(&n->watermark)) {
		hub_metric_add(n->skipped, 1);
		return HUB_OK;
	}
	pthread_mutex_lock(&n->lock);
	if (n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return HUB_ESTOP;
	}
	if (n->len == n->cap) {
		pthread_mutex_unlock(&n->lock);
		hub_metric_add(n->dropped, 1);
		return HUB_EFULL;
	}
	n->ring[(n->head + n->len) % n->cap] = json_incref(event);
	n->len++;
	hub_metric_set(n->queue, (double)n->len);
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	return HUB_OK;
}

uint64_t hub_notifier_watermark(struct hub_notifier *n)
{
	return n ? atomic_load(&n->watermark) : 0;
}

int hub_notifier_healthy(struct hub_notifier *n, char *why, size_t len)
{
	if (!n)
		return 0;
	pthread_mutex_lock(&n->lock);
	int ok = n->healthy;
	if (why && len)
		snprintf(why, len, "%s", n->why);
	pthread_mutex_unlock(&n->lock);
	return ok;
}

const char *hub_notifier_name(const struct hub_notifier *n)
{
	return n ? n->cfg->name : NULL;
}

void hub_notifier_stop(struct hub_notifier *n, int timeout_ms)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	if (!n->stopping) {
		n->stopping = 1;
		n->deadline_ms = hub_now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	}
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	if (n->running) {
		pthread_join(n->thread, NULL);
		n->running = 0;
	}
}

void hub_notifier_free(struct hub_notifier *n)
{
	if (!n)
		return;
	hub_notifier_stop(n, 0);
	for (size_t i = 0; i < n->len; i++)
		json_decref(n->ring[(n->head + i) % n->cap]);
	if (n->len)
		hub_warn("msg=\"notifier stopped with events undelivered\" notifier=%s events=%zu",
		         n->cfg->name, n->len);
	hub_metric_set(n->queue, 0);
	if (n->ops->free_state)
		n->ops->free_state(n->state);
	if (n->fd >= 0)
		close(n->fd);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n->ring);
	free(n);
}
