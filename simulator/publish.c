#include "publish.h"

#include "buf.h"
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
	int inflight;
	int state; /* 0 connecting, 1 connected, -1 failed or lost */
	char why[128];
};

struct sim_pub {
	struct sim_pub_opts o;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn *conns;
	int nconns;
	int next;
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

/* ---- Paho callbacks: they run on Paho's threads and only touch counters. ---- */

static void on_connected(void *ctx, MQTTAsync_successData *resp)
{
	struct conn *c = ctx;
	(void)resp;
	pthread_mutex_lock(&c->pub->lock);
	c->state = 1;
	pthread_cond_broadcast(&c->pub->cond);
	pthread_mutex_unlock(&c->pub->lock);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct conn *c = ctx;
	pthread_mutex_lock(&c->pub->lock);
	c->state = -1;
	snprintf(c->why, sizeof(c->why), "connect failed: code %d%s%s", resp ? resp->code : 0,
	         resp && resp->message ? ": " : "", resp && resp->message ? resp->message : "");
	pthread_cond_broadcast(&c->pub->cond);
	pthread_mutex_unlock(&c->pub->lock);
}

static void on_conn_lost(void *ctx, char *cause)
{
	struct conn *c = ctx;
	pthread_mutex_lock(&c->pub->lock);
	c->state = -1;
	snprintf(c->why, sizeof(c->why), "connection lost: %s", cause ? cause : "unknown");
	pthread_cond_broadcast(&c->pub->cond);
	pthread_mutex_unlock(&c->pub->lock);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)topic_len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void finish_send(struct conn *c, int ok)
{
	pthread_mutex_lock(&c->pub->lock);
	c->inflight--;
	if (ok)
		c->pub->counts.acked++;
	else
		c->pub->counts.failed++;
	pthread_cond_broadcast(&c->pub->cond);
	pthread_mutex_unlock(&c->pub->lock);
}

static void on_sent(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	finish_send(ctx, 1);
}

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
	co.cleansession = 1;
	co.maxInflight = o->max_inflight;
	co.username = o->username;
	co.password = o->password;
	co.onSuccess = on_connected;
	co.onFailure = on_connect_failed;
	co.context = c;
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
	/* Paho refuses sends when more than this many wait for its sender thread. */
	cro.maxBufferedMessages = p->o.max_inflight + 100;
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
		while (p->conns[i].state == 0)
			if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT)
				break;
		if (p->conns[i].state != 1) {
			snprintf(err, errlen, "%s: %s", p->o.broker,
			         p->conns[i].state ? p->conns[i].why : "connect timed out");
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
		if (c->state != 1)
			continue;
		(*alive)++;
		if (c->inflight < p->o.max_inflight) {
			p->next = (p->next + k + 1) % p->nconns;
			return c;
		}
	}
	return NULL;
}

/* Reserves a window slot, waiting up to timeout_ms. */
static int reserve(struct sim_pub *p, int timeout_ms, struct conn **out)
{
	struct timespec dl;
	int alive, rc = HUB_OK;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (!(*out = pick_conn(p, &alive))) {
		if (!alive) {
			rc = HUB_EIO;
			break;
		}
		if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT) {
			rc = HUB_EAGAIN;
			break;
		}
	}
	if (*out)
		(*out)->inflight++;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Hands one message to Paho, retrying while its own queue or window is full. */
static int paho_send(struct conn *c, const char *topic, const void *payload, size_t len, int qos,
                     int timeout_ms)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_sent;
	ro.onFailure = on_send_failed;
	ro.context = c;
	long long give_up = hub_now_mono_ms() + timeout_ms;
	for (;;) {
		int rc = MQTTAsync_send(c->client, topic, (int)len, payload, qos, 0, &ro);
		if (rc != MQTTASYNC_MAX_BUFFERED_MESSAGES && rc != MQTTASYNC_MAX_MESSAGES_INFLIGHT)
			return rc;
		if (hub_now_mono_ms() >= give_up)
			return rc;
		usleep(500);
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
	struct conn *c;
	int rc = reserve(p, timeout_ms, &c);
	if (rc)
		return rc;
	int prc = paho_send(c, topic, payload, len, p->o.qos, timeout_ms);
	pthread_mutex_lock(&p->lock);
	if (prc == MQTTASYNC_SUCCESS) {
		p->counts.sent++;
	} else {
		c->inflight--;
		p->counts.failed++;
	}
	pthread_mutex_unlock(&p->lock);
	return prc == MQTTASYNC_SUCCESS ? HUB_OK : HUB_EIO;
}

int sim_pub_flush(struct sim_pub *p, int timeout_ms)
{
	struct timespec dl;
	int rc = HUB_OK;
	if (p->o.dry_run) {
		fflush(p->o.out);
		return HUB_OK;
	}
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		int busy = 0;
		for (int i = 0; i < p->nconns; i++)
			busy += p->conns[i].state == 1 ? p->conns[i].inflight : 0;
		if (!busy)
			break;
		if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT) {
			rc = HUB_EAGAIN;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
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
		if (p->conns[i].state == 1)
			MQTTAsync_disconnect(p->conns[i].client, &dopt);
	}
	/* Give disconnects a moment, then destroy (which also stops Paho's threads). */
	for (int i = 0; i < p->nconns; i++) {
		for (int k = 0; k < 100 && MQTTAsync_isConnected(p->conns[i].client); k++)
			usleep(20000);
		MQTTAsync_destroy(&p->conns[i].client);
	}
	free(p->conns);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
