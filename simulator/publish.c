#include "publish.h"

#include "cityhub/buf.h"
#include "cityhub/error.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct conn {
	struct sim_pub *pub;
	MQTTAsync client;
	int inflight; /* reserved window slots: handed to Paho and not completed */
	int state;    /* 0 connecting (or reconnecting), 1 connected, -1 failed or lost */
	char why[128];
};

/* A message handed to Paho and the context of its completion callbacks. It keeps topic and
 * payload so that, with reconnect, a message a lost connection failed can go out again. While
 * Paho has it, it is on p->pending; while it waits to go out again, on p->retry. */
struct msg {
	struct conn *c;
	struct msg *prev, *next;
	size_t len;    /* payload bytes */
	char *payload; /* after the topic's NUL in data */
	char data[];   /* topic NUL payload */
};

struct mlist {
	struct msg *head, *tail;
};

struct sim_pub {
	struct sim_pub_opts o;
	pthread_mutex_t lock; /* guards everything below, the conns' state and the msg lists */
	pthread_cond_t cond;
	struct conn *conns;
	int nconns;
	int next;
	struct mlist pending; /* handed to Paho, not completed */
	struct mlist retry;   /* failed by a lost connection, to publish again (reconnect) */
	struct sim_pub_counts counts;
};

void sim_pub_write_line(FILE *out, const char *topic, size_t topic_len, const void *payload,
                        size_t len)
{
	const unsigned char *parts[2] = {(const unsigned char *)topic, payload};
	size_t lens[2] = {topic_len, len};
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < lens[k]; i++) {
			unsigned char c = parts[k][i];
			if (c == '\\')
				fputs("\\\\", out);
			else if (c == '\n')
				fputs("\\n", out);
			else if (c == '\r')
				fputs("\\r", out);
			else if (c == '\t')
				fputs("\\t", out);
			else if (c < 0x20 || c == 0x7f)
				fprintf(out, "\\x%02x", c);
			else
				putc(c, out);
		}
		putc(k == 0 ? '\t' : '\n', out);
	}
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- message lists (callers hold p->lock) ---- */

static struct msg *msg_new(const char *topic, const void *payload, size_t len)
{
	size_t tlen = strlen(topic);
	struct msg *m = hub_xmalloc(sizeof(*m) + tlen + 1 + len);
	memset(m, 0, sizeof(*m));
	memcpy(m->data, topic, tlen + 1);
	m->payload = m->data + tlen + 1;
	if (len)
		memcpy(m->payload, payload, len);
	m->len = len;
	return m;
}

/* Inserts m before `at`, or at the tail when at is NULL. */
static void mlist_insert(struct mlist *l, struct msg *m, struct msg *at)
{
	m->next = at;
	m->prev = at ? at->prev : l->tail;
	if (m->prev)
		m->prev->next = m;
	else
		l->head = m;
	if (at)
		at->prev = m;
	else
		l->tail = m;
}

static void mlist_remove(struct mlist *l, struct msg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	m->prev = m->next = NULL;
}

static struct msg *mlist_pop(struct mlist *l)
{
	struct msg *m = l->head;
	if (m)
		mlist_remove(l, m);
	return m;
}

static void mlist_free(struct mlist *l)
{
	struct msg *m;
	while ((m = mlist_pop(l)))
		free(m);
}

/* ---- Paho callbacks: they run on Paho's threads and only touch counters and lists. ---- */

static void set_state(struct conn *c, int state, const char *why)
{
	pthread_mutex_lock(&c->pub->lock);
	c->state = state;
	if (why)
		snprintf(c->why, sizeof(c->why), "%s", why);
	pthread_cond_broadcast(&c->pub->cond);
	pthread_mutex_unlock(&c->pub->lock);
}

static void on_connected(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	set_state(ctx, 1, NULL);
}

/* Every successful connection, automatic reconnections included. */
static void on_reconnected(void *ctx, char *cause)
{
	(void)cause;
	set_state(ctx, 1, NULL);
}

/* With reconnect Paho tries again by itself: the connection stays "connecting". */
static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct conn *c = ctx;
	char why[128];
	snprintf(why, sizeof(why), "connect failed: code %d%s%s", resp ? resp->code : 0,
	         resp && resp->message ? ": " : "", resp && resp->message ? resp->message : "");
	set_state(c, c->pub->o.reconnect ? 0 : -1, why);
}

static void on_conn_lost(void *ctx, char *cause)
{
	struct conn *c = ctx;
	char why[128];
	snprintf(why, sizeof(why), "connection lost: %s", cause ? cause : "unknown");
	pthread_mutex_lock(&c->pub->lock);
	c->pub->counts.lost++;
	pthread_mutex_unlock(&c->pub->lock);
	set_state(c, c->pub->o.reconnect ? 0 : -1, why);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)topic_len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

/* Completes m: acknowledged, failed, or (with reconnect) queued to go out again. */
static void finish_send(struct msg *m, int ok)
{
	struct conn *c = m->c;
	struct sim_pub *p = c->pub;
	int again = !ok && p->o.reconnect;
	pthread_mutex_lock(&p->lock);
	mlist_remove(&p->pending, m);
	c->inflight--;
	if (ok)
		p->counts.acked++;
	else if (again)
		mlist_insert(&p->retry, m, NULL);
	else
		p->counts.failed++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (!again)
		free(m);
}

static void on_sent(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	finish_send(ctx, 1);
}

/* With a clean session Paho fails every message in flight when the connection drops. */
static void on_send_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	finish_send(ctx, 0);
}

/* ---- connecting ---- */

static int is_tls(const struct sim_pub_opts *o)
{
	return strncmp(o->broker, "ssl://", 6) == 0 || strncmp(o->broker, "mqtts://", 8) == 0 ||
	       strncmp(o->broker, "wss://", 6) == 0;
}

static int start_connect(struct conn *c, const struct sim_pub_opts *o)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	co.keepAliveInterval = 30;
	/* A clean session, also with reconnect: on a lost connection Paho fails the messages in
	 * flight and finish_send queues them to go out again. With cleansession 0, Paho 1.3.12
	 * sometimes resends a failed message's freed buffer after a failed reconnect attempt
	 * (the broker sees a "malformed packet"). */
	co.cleansession = 1;
	co.MQTTVersion = MQTTVERSION_3_1_1; /* no fall back to 3.1 after a failed attempt */
	co.maxInflight = o->max_inflight;
	co.username = o->username;
	co.password = o->password;
	co.onSuccess = on_connected;
	co.onFailure = on_connect_failed;
	co.context = c;
	if (o->reconnect) {
		co.automaticReconnect = 1;
		co.minRetryInterval = 1;
		co.maxRetryInterval = 2;
	}
	if (is_tls(o) || o->cafile) {
		ssl.trustStore = o->cafile;
		ssl.keyStore = o->cert;
		ssl.privateKey = o->key;
		ssl.enableServerCertAuth = o->cafile != NULL;
		co.ssl = &ssl;
	}
	return MQTTAsync_connect(c->client, &co);
}

static int open_conn(struct sim_pub *p, int i, char *err, size_t errlen)
{
	struct conn *c = &p->conns[i];
	char id[256], def[64];
	const char *base = p->o.client_id;
	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
	cro.MQTTVersion = MQTTVERSION_3_1_1;
	/* Paho refuses sends when more than this many wait for its sender thread. Our window
	 * keeps at most max_inflight there, also while a connection is down. */
	cro.maxBufferedMessages = p->o.max_inflight + 100;
	/* A message handed over just before Paho noticed a loss is kept for the reconnection. */
	cro.sendWhileDisconnected = p->o.reconnect;
	if (!base) {
		snprintf(def, sizeof(def), "cityhub-sim-%ld", (long)getpid());
		base = def;
	}
	if (p->o.connections == 1)
		snprintf(id, sizeof(id), "%s", base);
	else
		snprintf(id, sizeof(id), "%s-%d", base, i);
	c->pub = p;
	int rc = MQTTAsync_createWithOptions(&c->client, p->o.broker, id,
	                                     MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
	if (rc == MQTTASYNC_SUCCESS) {
		p->nconns++; /* created: sim_pub_close destroys it */
		rc = MQTTAsync_setCallbacks(c->client, c, on_conn_lost, on_message, NULL);
		if (rc == MQTTASYNC_SUCCESS)
			rc = MQTTAsync_setConnected(c->client, c, on_reconnected);
		if (rc == MQTTASYNC_SUCCESS)
			rc = start_connect(c, &p->o);
	}
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "%s: %s", p->o.broker, MQTTAsync_strerror(rc));
		return HUB_EIO;
	}
	return HUB_OK;
}

/* Waits for every connection to settle; HUB_EIO with the first failure in err. */
static int wait_connected(struct sim_pub *p, char *err, size_t errlen)
{
	struct timespec dl;
	int rc = HUB_OK;
	deadline_in(&dl, 10000);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->nconns && rc == HUB_OK; i++) {
		struct conn *c = &p->conns[i];
		while (c->state == 0)
			if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT)
				break;
		if (c->state != 1) {
			snprintf(err, errlen, "%s: %s", p->o.broker,
			         c->why[0] ? c->why : "connect timed out");
			rc = HUB_EIO;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

struct sim_pub *sim_pub_open(const struct sim_pub_opts *o, char *err, size_t errlen)
{
	struct sim_pub *p = hub_xcalloc(1, sizeof(*p));
	p->o = *o;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (o->dry_run)
		return p;
	p->conns = hub_xcalloc((size_t)o->connections, sizeof(*p->conns));
	int rc = HUB_OK;
	for (int i = 0; i < o->connections && rc == HUB_OK; i++)
		rc = open_conn(p, i, err, errlen);
	if (rc == HUB_OK)
		rc = wait_connected(p, err, errlen);
	if (rc) {
		sim_pub_close(p);
		return NULL;
	}
	return p;
}

/* ---- publishing ---- */

/* Picks a connected connection with room in its window; NULL when none. Holds the lock. */
static struct conn *pick_conn(struct sim_pub *p, int *alive)
{
	*alive = 0;
	for (int k = 0; k < p->nconns; k++) {
		struct conn *c = &p->conns[(p->next + k) % p->nconns];
		if (c->state == -1)
			continue;
		(*alive)++;
		if (c->state == 1 && c->inflight < p->o.max_inflight) {
			p->next = (p->next + k + 1) % p->nconns;
			return c;
		}
	}
	return NULL;
}

/* Reserves a window slot for m, waiting up to timeout_ms (for room, or for a connection that
 * is coming back), and puts m on p->pending with m->c set. HUB_ENOENT when no connection is
 * left. */
static int reserve(struct sim_pub *p, struct msg *m, int timeout_ms)
{
	struct timespec dl;
	struct conn *c;
	int alive, rc = HUB_OK;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (!(c = pick_conn(p, &alive))) {
		if (!alive) {
			rc = HUB_ENOENT;
			break;
		}
		if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT) {
			rc = HUB_EAGAIN;
			break;
		}
	}
	if (c) {
		c->inflight++;
		m->c = c;
		/* before the send: its callback may come at once */
		mlist_insert(&p->pending, m, NULL);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Hands m to Paho on m->c, retrying while its own queue or window is full. */
static int paho_send(struct msg *m, int qos, int timeout_ms)
{
	MQTTAsync client = m->c->client;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_sent;
	ro.onFailure = on_send_failed;
	ro.context = m;
	long long give_up = hub_now_mono_ms() + timeout_ms;
	for (;;) {
		int rc = MQTTAsync_send(client, m->data, (int)m->len, m->payload, qos, 0, &ro);
		if (rc != MQTTASYNC_MAX_BUFFERED_MESSAGES && rc != MQTTASYNC_MAX_MESSAGES_INFLIGHT)
			return rc;
		if (hub_now_mono_ms() >= give_up)
			return rc;
		usleep(500);
	}
}

/* Publishes m through a connection with room. HUB_OK: m belongs to the callbacks now.
 * Otherwise m is still the caller's: HUB_EAGAIN (no room in time), HUB_ENOENT (no
 * connection left), HUB_EIO (Paho refused it). */
static int submit(struct sim_pub *p, struct msg *m, int timeout_ms)
{
	int rc = reserve(p, m, timeout_ms);
	if (rc)
		return rc;
	if (paho_send(m, p->o.qos, timeout_ms) == MQTTASYNC_SUCCESS)
		return HUB_OK;
	pthread_mutex_lock(&p->lock);
	mlist_remove(&p->pending, m);
	m->c->inflight--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return HUB_EIO;
}

/* Publishes again, oldest first, what lost connections failed. HUB_OK when none is left
 * waiting, HUB_EAGAIN when no room came in time. A message Paho refuses counts as failed. */
static int resend_failed(struct sim_pub *p, int timeout_ms)
{
	for (;;) {
		pthread_mutex_lock(&p->lock);
		struct msg *m = mlist_pop(&p->retry);
		pthread_mutex_unlock(&p->lock);
		if (!m)
			return HUB_OK;
		int rc = submit(p, m, timeout_ms);
		pthread_mutex_lock(&p->lock);
		if (rc == HUB_OK)
			p->counts.resent++;
		else if (rc == HUB_EAGAIN)
			mlist_insert(&p->retry, m, p->retry.head); /* first again */
		else
			p->counts.failed++;
		pthread_mutex_unlock(&p->lock);
		if (rc == HUB_EAGAIN)
			return rc;
		if (rc)
			free(m);
	}
}

int sim_pub_send(struct sim_pub *p, const char *topic, const void *payload, size_t len,
                 int timeout_ms)
{
	if (p->o.dry_run) {
		sim_pub_write_line(p->o.out, topic, strlen(topic), payload, len);
		p->counts.sent++;
		p->counts.acked++;
		return HUB_OK;
	}
	if (p->o.reconnect && resend_failed(p, timeout_ms) == HUB_EAGAIN)
		return HUB_EAGAIN;
	struct msg *m = msg_new(topic, payload, len);
	int rc = submit(p, m, timeout_ms);
	pthread_mutex_lock(&p->lock);
	if (rc == HUB_OK)
		p->counts.sent++;
	else if (rc == HUB_EIO)
		p->counts.failed++;
	pthread_mutex_unlock(&p->lock);
	if (rc)
		free(m);
	return rc == HUB_ENOENT ? HUB_EIO : rc;
}

/* Messages not completed yet (with reconnect: also those waiting to go out again; without,
 * only those on live connections: a lost one's never complete). Holds the lock. */
static int busy(const struct sim_pub *p)
{
	int n = p->retry.head != NULL;
	for (int i = 0; i < p->nconns; i++)
		if (p->o.reconnect || p->conns[i].state == 1)
			n += p->conns[i].inflight;
	return n;
}

int sim_pub_flush(struct sim_pub *p, int timeout_ms)
{
	if (p->o.dry_run) {
		fflush(p->o.out);
		return HUB_OK;
	}
	long long give_up = hub_now_mono_ms() + timeout_ms;
	for (;;) {
		long long left = give_up - hub_now_mono_ms();
		int slice = left < 100 ? (left > 0 ? (int)left : 0) : 100;
		if (p->o.reconnect)
			resend_failed(p, slice);
		struct timespec dl;
		deadline_in(&dl, slice);
		pthread_mutex_lock(&p->lock);
		int n = busy(p);
		if (n && slice > 0)
			pthread_cond_timedwait(&p->cond, &p->lock, &dl);
		pthread_mutex_unlock(&p->lock);
		if (!n)
			return HUB_OK;
		if (slice <= 0)
			return HUB_EAGAIN;
	}
}

int sim_pub_lost(struct sim_pub *p)
{
	int alive = 0;
	if (p->o.dry_run || p->o.reconnect)
		return 0;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->nconns; i++)
		alive += p->conns[i].state != -1;
	pthread_mutex_unlock(&p->lock);
	return alive == 0;
}

void sim_pub_counts(struct sim_pub *p, struct sim_pub_counts *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->counts;
	pthread_mutex_unlock(&p->lock);
}

void sim_pub_close(struct sim_pub *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nconns; i++) {
		MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
		dopt.timeout = 2000;
		/* also when not connected: it stops automatic reconnection */
		MQTTAsync_disconnect(p->conns[i].client, &dopt);
	}
	/* Give disconnects a moment, then destroy (which also stops Paho's threads). */
	for (int i = 0; i < p->nconns; i++) {
		for (int k = 0; k < 100 && MQTTAsync_isConnected(p->conns[i].client); k++)
			usleep(20000);
		MQTTAsync_destroy(&p->conns[i].client);
	}
	/* What Paho never completed (a run that ended early) */
	mlist_free(&p->pending);
	mlist_free(&p->retry);
	free(p->conns);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
