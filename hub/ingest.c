#include "ingest.h"

#include <MQTTAsync.h>
#include <limits.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "metrics.h"

#define PUBLISH_ACK_WAIT_MS 5000
#define REMIND_MS 60000 /* while the broker stays unreachable, one reminder line this often */
#define PROBE_MS 1000   /* the TCP probe of an unreachable broker waits at most this long */
#define CHANGE_MS 10000 /* a new cause is logged at once, but then at most this often */

/* One text for every way a missing client certificate shows (a TLS alert, or the session
 * closed before CONNACK), so that alternating symptoms do not alternate log lines. */
#define NEEDS_CERT \
	"broker closed the TLS connection: it probably requires a client certificate " \
	"(mqtt.cert_file, key_file)"

/* Why the broker cannot be used, for the log and /readyz. Written by Paho's threads (the
 * connect callbacks and the TLS error callback), read by any thread: guarded by lock. */
struct link_state {
	pthread_mutex_t lock;
	char tls_error[256];  /* the last OpenSSL error of the running connect, or "" */
	char cause[256];      /* why the last connect failed, or "" while connected */
	char logged[256];     /* the cause last written to the log */
	long failures;        /* connect attempts failed in a row */
	long long since_ms;   /* monotonic time of the first of them */
	long long logged_ms;  /* when the last warning about them was written */
};

struct hub_ingest {
	MQTTAsync client;
	const struct hub_config *cfg;
	struct hub_journal *journal;
	char **filters;
	int *qos;
	int nfilters;
	_Atomic int ready;
	_Atomic int stopping;
	_Atomic int need_connect; /* the last connect attempt failed: hub_ingest_tick retries */
	_Atomic int parked;       /* it holds a message it cannot journal (see park) */
	_Atomic int disconnected; /* the disconnect thread of hub_ingest_stop finished */
	_Atomic int abandoned;    /* stop left the client alone: a callback never returns */
	int stop_timeout_ms;
	MQTTAsync_SSLOptions ssl;
	MQTTProperties props;
	struct link_state link;
	struct hub_metric *m_received, *m_bytes, *m_truncated, *m_connects;
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Shutdown stopped the journal while this message waited for space (or for the disk). Returning
 * would acknowledge a message that is not on disk, so the callback stays here, holding Paho's
 * lock, until the process exits; the broker then redelivers the message to the next run. */
static void park(struct hub_ingest *in)
{
	atomic_store(&in->parked, 1);
	for (;;)
		sleep_ms(1000);
}

/* Paho holds its lock while this runs: append and return, nothing slow. Always returns 1
 * (a 0 would make Paho queue this and later messages and acknowledge them unseen). */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct hub_ingest *in = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
	size_t cap = (size_t)in->cfg->limits.max_payload_bytes + 1;
	if (len > cap) {
		/* Keep only enough for the pipeline to see it is too large and dead-letter it. */
		len = cap;
		hub_metric_add(in->m_truncated, 1);
	}
	int rc, warned = 0;
	while ((rc = hub_journal_append(in->journal, hub_now_real_ns(), topic, tlen, m->payload,
					len)) == HUB_EIO && !atomic_load(&in->stopping)) {
		if (!warned++)
			hub_error("msg=\"journal append failed, retrying\" err=\"%s\"", hub_strerror(rc));
		sleep_ms(100);
	}
	if ((rc == HUB_ESTOP || rc == HUB_EIO) && atomic_load(&in->stopping))
		park(in);
	if (rc == HUB_OK) {
		hub_metric_add(in->m_received, 1);
		hub_metric_add(in->m_bytes, len);
	} else {
		hub_error("msg=\"message not journaled\" topic=%s err=\"%s\"",
			  hub_logqn(topic, tlen), hub_strerror(rc));
	}
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void on_connection_lost(void *ctx, char *cause)
{
	struct hub_ingest *in = ctx;
	atomic_store(&in->ready, 0);
	pthread_mutex_lock(&in->link.lock);
	snprintf(in->link.cause, sizeof(in->link.cause), "connection lost");
	pthread_mutex_unlock(&in->link.lock);
	if (!atomic_load(&in->stopping))
		hub_warn("msg=\"broker connection lost, reconnecting\" url=%s cause=%s",
			 hub_logq(in->cfg->mqtt.url), hub_logq(cause ? cause : "unknown"));
}

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	struct hub_ingest *in = ctx;
	atomic_store(&in->ready, 1);
	hub_info("msg=\"subscribed\" filters=%d", in->nfilters);
}

static void on_subscribed5(void *ctx, MQTTAsync_successData5 *resp)
{
	(void)resp;
	on_subscribed(ctx, NULL);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)ctx;
	hub_error("msg=\"subscribe failed\" code=%d", resp ? resp->code : 0);
}

static void on_subscribe_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	(void)ctx;
	hub_error("msg=\"subscribe failed\" code=%d reason=%d", resp ? resp->code : 0,
		  resp ? (int)resp->reasonCode : 0);
}

/* Called on the first connect and after every automatic reconnect: (re)subscribe. */
static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	struct hub_ingest *in = ctx;
	hub_metric_add(in->m_connects, 1);
	pthread_mutex_lock(&in->link.lock);
	long failures = in->link.failures;
	in->link.failures = 0;
	in->link.cause[0] = '\0';
	pthread_mutex_unlock(&in->link.lock);
	hub_info("msg=\"connected to broker\" url=%s client_id=%s failed_attempts=%ld",
		 hub_logq(in->cfg->mqtt.url), hub_logq(in->cfg->mqtt.client_id), failures);
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.context = in;
	if (in->cfg->mqtt.version == 5) {
		ro.onSuccess5 = on_subscribed5;
		ro.onFailure5 = on_subscribe_failed5;
	} else {
		ro.onSuccess = on_subscribed;
		ro.onFailure = on_subscribe_failed;
	}
	int rc = MQTTAsync_subscribeMany(in->client, in->nfilters, in->filters, in->qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		hub_error("msg=\"subscribe request failed\" rc=%d", rc);
}

/* MQTT 3.1.1 CONNACK return codes 1..5, as an operator can act on them. */
static const char *connack3_cause(int code)
{
	static const char *const causes[] = {
		[1] = "broker refused the protocol version (try mqtt.version 3 or 5)",
		[2] = "broker refused the client identifier (mqtt.client_id)",
		[3] = "broker unavailable",
		[4] = "bad user name or password",
		[5] = "not authorized (bad user name or password, or not allowed to connect)",
	};
	return code >= 1 && code <= 5 ? causes[code] : NULL;
}

/* MQTT 5 CONNACK reason codes (0x80 and above). */
static const char *connack5_cause(enum MQTTReasonCodes rc)
{
	switch (rc) {
	case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
		return "bad user name or password";
	case MQTTREASONCODE_NOT_AUTHORIZED:
		return "not authorized (bad user name or password, or not allowed to connect)";
	case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION:
		return "broker refused the protocol version (try mqtt.version 3)";
	case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
		return "broker refused the client identifier (mqtt.client_id)";
	case MQTTREASONCODE_SERVER_UNAVAILABLE:
		return "broker unavailable";
	case MQTTREASONCODE_BANNED:
		return "banned by the broker";
	default:
		return NULL;
	}
}

/* A failed TLS handshake, from the OpenSSL error text Paho handed to on_tls_error. */
static void tls_cause(const char *tls, int have_cert, char *out, size_t len)
{
	if (strstr(tls, "certificate verify failed"))
		snprintf(out, len, "broker certificate verify failed (is mqtt.ca_file the CA that "
				   "signed it, and does it name the host?)");
	else if (strstr(tls, "certificate required") ||
		 (!have_cert && strstr(tls, "handshake failure")))
		snprintf(out, len, NEEDS_CERT);
	else if (strstr(tls, "unknown ca") || strstr(tls, "bad certificate"))
		snprintf(out, len, "broker refused our client certificate (%s)", tls);
	else if (strstr(tls, "wrong version number"))
		snprintf(out, len, "TLS handshake failed: the port does not speak TLS (use tcp://)");
	else
		snprintf(out, len, "TLS handshake failed: %s", tls);
}

/* Splits "scheme://[user@]host[:port][/path]" into host and port (the scheme's default when
 * none is given). HUB_EINVAL when the URL has no host. */
static int url_host_port(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *p = strstr(url, "://"), *end, *colon;
	int tls = strncmp(url, "ssl", 3) == 0 || strncmp(url, "mqtts", 5) == 0 ||
		  strncmp(url, "wss", 3) == 0;
	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	for (const char *at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return HUB_EINVAL;
		snprintf(host, hlen, "%.*s", (int)(close - p - 1), p + 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		snprintf(host, hlen, "%.*s", (int)((colon ? colon : end) - p), p);
	}
	if (colon)
		snprintf(port, plen, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(port, plen, "%s", strncmp(url, "ws", 2) == 0 ? (tls ? "443" : "80")
					   : tls			  ? "8883"
									  : "1883");
	return host[0] ? HUB_OK : HUB_EINVAL;
}

/* Tries a plain TCP connection to the broker (PROBE_MS at most per address), to tell "cannot
 * reach it" (and why) from "it answered, then the TLS or MQTT session failed", which Paho
 * reports alike. HUB_OK when the port answers; else HUB_EIO with the reason in why. */
static int probe_broker(const char *url, char *why, size_t len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char host[256], port[16];
	int rc, err = 0;

	if (url_host_port(url, host, sizeof(host), port, sizeof(port)) != HUB_OK) {
		snprintf(why, len, "no host in the URL");
		return HUB_EIO;
	}
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, len, "%.100s: %s", host, gai_strerror(rc));
		return HUB_EIO;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		socklen_t elen = sizeof(err);
		if (fd < 0)
			continue;
		err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		if (err == EINPROGRESS)
			err = poll(&pfd, 1, PROBE_MS) == 1 &&
					      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0
				      ? err
				      : ETIMEDOUT;
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	if (err == 0)
		return HUB_OK;
	snprintf(why, len, "%s", strerror(err));
	return HUB_EIO;
}

/* Writes why a connect failed: from the CONNACK code, the TLS error, or Paho's message. */
static void connect_cause(struct hub_ingest *in, const char *refused, const char *message,
			  char *out, size_t len)
{
	const struct hub_config *cfg = in->cfg;
	int tls = strncmp(cfg->mqtt.url, "ssl://", 6) == 0 ||
		  strncmp(cfg->mqtt.url, "mqtts://", 8) == 0 || strncmp(cfg->mqtt.url, "wss://", 6) == 0;
	char tls_error[sizeof(in->link.tls_error)];

	pthread_mutex_lock(&in->link.lock);
	snprintf(tls_error, sizeof(tls_error), "%s", in->link.tls_error);
	in->link.tls_error[0] = '\0';
	pthread_mutex_unlock(&in->link.lock);
	/* Paho's messages: "TCP/TLS connect failure", "TCP connect timeout" (no session yet),
	 * "TCP connect completion failure", "socket error" (the session ended before CONNACK) */
	int connecting = message && (strstr(message, "connect failure") || strstr(message, "timeout"));
	int closed = message && (strstr(message, "completion failure") ||
				 strstr(message, "socket error"));
	char why[160];

	if (refused) {
		snprintf(out, len, "%s", refused);
	} else if (tls_error[0]) {
		tls_cause(tls_error, cfg->mqtt.cert_file != NULL, out, len);
	} else if (connecting && probe_broker(cfg->mqtt.url, why, sizeof(why)) != HUB_OK) {
		snprintf(out, len, "cannot reach the broker: %s", why);
	} else if (tls && (closed || connecting)) {
		/* The port answers but the TLS session ends before CONNACK. With TLS 1.3 a broker
		 * that wants a client certificate says so only after our side of the handshake,
		 * so this, not a TLS error, is how a missing certificate shows. */
		snprintf(out, len, "%s",
			 cfg->mqtt.cert_file ? "broker closed the TLS connection: client certificate "
					       "refused? (not signed by a CA the broker trusts)"
					     : NEEDS_CERT);
	} else if (closed) {
		snprintf(out, len, "broker closed the connection before CONNACK (is this an MQTT "
				   "port? a TLS port needs ssl://)");
	} else {
		snprintf(out, len, "%s", message && *message ? message : "unknown error");
	}
}

/* Logs state changes only: the first failure, a new cause (at most every CHANGE_MS), then a
 * reminder every REMIND_MS with the number of attempts (retries run every second or so). */
static void connect_failed(struct hub_ingest *in, const char *cause)
{
	long long now = hub_now_mono_ms();
	int changed, remind;
	long n;

	atomic_store(&in->ready, 0);
	pthread_mutex_lock(&in->link.lock);
	if (in->link.failures++ == 0) {
		in->link.since_ms = now;
		in->link.logged[0] = '\0';
	}
	changed = strcmp(cause, in->link.logged) != 0 &&
		  (!in->link.logged[0] || now - in->link.logged_ms >= CHANGE_MS);
	remind = !changed && now - in->link.logged_ms >= REMIND_MS;
	if (changed || remind) {
		in->link.logged_ms = now;
		snprintf(in->link.logged, sizeof(in->link.logged), "%s", cause);
	}
	snprintf(in->link.cause, sizeof(in->link.cause), "%s", cause);
	n = in->link.failures;
	long long since_s = (now - in->link.since_ms) / 1000;
	pthread_mutex_unlock(&in->link.lock);
	if (changed)
		hub_warn("msg=\"broker connect failed, retrying\" url=%s cause=%s",
			 hub_logq(in->cfg->mqtt.url), hub_logq(cause));
	else if (remind)
		hub_warn("msg=\"broker still unreachable, retrying\" url=%s cause=%s attempts=%ld "
			 "since_s=%lld", hub_logq(in->cfg->mqtt.url), hub_logq(cause), n, since_s);
	else
		hub_debug("msg=\"broker connect failed\" url=%s cause=%s attempts=%ld",
			  hub_logq(in->cfg->mqtt.url), hub_logq(cause), n);
	atomic_store(&in->need_connect, 1);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct hub_ingest *in = ctx;
	char cause[300];
	/* a CONNACK refusal carries its return code (1..5); library errors are negative */
	connect_cause(in, resp ? connack3_cause(resp->code) : NULL, resp ? resp->message : NULL,
		      cause, sizeof(cause));
	connect_failed(in, cause);
}

static void on_connect_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	struct hub_ingest *in = ctx;
	char cause[300];
	const char *refused = NULL;
	/* Paho puts a refusing CONNACK's reason code in code (reasonCode stays 0) */
	int reason = resp ? (resp->reasonCode >= 0x80 ? (int)resp->reasonCode : resp->code) : 0;
	if (reason >= 0x80) {
		refused = connack5_cause((enum MQTTReasonCodes)reason);
		if (!refused)
			refused = MQTTReasonCode_toString((enum MQTTReasonCodes)reason);
	}
	connect_cause(in, refused, resp ? resp->message : NULL, cause, sizeof(cause));
	connect_failed(in, cause);
}

/* OpenSSL's errors of a failed handshake (Paho's thread): the last line is kept. */
static int on_tls_error(const char *str, size_t len, void *u)
{
	struct hub_ingest *in = u;
	char line[sizeof(in->link.tls_error)];
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, str, n);
	line[n] = '\0';
	for (char *p = line; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = *p == '\n' || *p == '\r' ? '\0' : '\'';
	pthread_mutex_lock(&in->link.lock);
	snprintf(in->link.tls_error, sizeof(in->link.tls_error), "%s", line);
	pthread_mutex_unlock(&in->link.lock);
	return 0;
}

static void build_filters(struct hub_ingest *in)
{
	const struct hub_config *cfg = in->cfg;
	in->nfilters = (int)cfg->nroutes;
	in->filters = hub_xcalloc(cfg->nroutes, sizeof(char *));
	in->qos = hub_xcalloc(cfg->nroutes, sizeof(int));
	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct hub_buf b = {0};
		if (cfg->mqtt.share_group && *cfg->mqtt.share_group)
			hub_buf_printf(&b, "$share/%s/", cfg->mqtt.share_group);
		hub_buf_puts(&b, cfg->routes[i].filter);
		in->filters[i] = b.data;
		in->qos[i] = 1;
	}
}

static int create_client(struct hub_ingest *in, char *err, size_t errlen)
{
	const struct hub_config *cfg = in->cfg;
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	if (cfg->mqtt.version == 5)
		co.MQTTVersion = MQTTVERSION_5;
	/* Dead letters queued while the broker is away are sent on reconnect. */
	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = 10000;
	int rc = MQTTAsync_createWithOptions(&in->client, cfg->mqtt.url, cfg->mqtt.client_id,
					     MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "mqtt.url: cannot create client for %s (rc %d)", cfg->mqtt.url, rc);
		return HUB_EINVAL;
	}
	MQTTAsync_setCallbacks(in->client, in, on_connection_lost, on_message, NULL);
	MQTTAsync_setConnected(in->client, in, on_connected);
	return HUB_OK;
}

struct hub_ingest *hub_ingest_new(const struct hub_config *cfg, struct hub_journal *j, char *err,
				  size_t errlen)
{
	struct hub_ingest *in = hub_xcalloc(1, sizeof(*in));
	in->cfg = cfg;
	in->journal = j;
	pthread_mutex_init(&in->link.lock, NULL);
	in->m_received = hub_counter("cityhub_mqtt_messages_total",
				     "Messages received from the broker and journaled", "");
	in->m_bytes = hub_counter("cityhub_mqtt_bytes_total", "Payload bytes journaled", "");
	in->m_truncated = hub_counter("cityhub_mqtt_truncated_total",
				      "Oversize payloads cut to limits.max_payload_bytes+1 before journaling", "");
	in->m_connects = hub_counter("cityhub_mqtt_connects_total", "Successful broker connects", "");
	build_filters(in);
	if (create_client(in, err, errlen) != HUB_OK) {
		hub_ingest_free(in);
		return NULL;
	}
	return in;
}

static void set_tls(struct hub_ingest *in, MQTTAsync_connectOptions *o)
{
	const struct hub_config *cfg = in->cfg;
	if (strncmp(cfg->mqtt.url, "ssl://", 6) != 0 && strncmp(cfg->mqtt.url, "mqtts://", 8) != 0 &&
	    strncmp(cfg->mqtt.url, "wss://", 6) != 0)
		return;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	ssl.trustStore = cfg->mqtt.ca_file;
	ssl.keyStore = cfg->mqtt.cert_file;
	ssl.privateKey = cfg->mqtt.key_file;
	ssl.enableServerCertAuth = !cfg->mqtt.tls_insecure;
	ssl.verify = !cfg->mqtt.tls_insecure;
	ssl.ssl_error_cb = on_tls_error; /* struct_version 5 of the initializer has it */
	ssl.ssl_error_context = in;
	in->ssl = ssl;
	o->ssl = &in->ssl;
}

static int connect_now(struct hub_ingest *in)
{
	const struct hub_config *cfg = in->cfg;
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions o5 = MQTTAsync_connectOptions_initializer5;
	if (cfg->mqtt.version == 5) {
		o = o5;
		/* Persistent session: the broker keeps our subscription and queued QoS 1 messages. */
		o.cleanstart = 0;
		MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL};
		p.value.integer4 = (unsigned)cfg->mqtt.session_expiry_s;
		MQTTProperties_free(&in->props);
		MQTTProperties_add(&in->props, &p);
		o.connectProperties = &in->props;
		o.onFailure5 = on_connect_failed5;
	} else {
		o.cleansession = 0;
		o.onFailure = on_connect_failed;
	}
	o.context = in;
	o.keepAliveInterval = cfg->mqtt.keepalive_s;
	o.maxInflight = cfg->mqtt.max_inflight;
	o.automaticReconnect = 1;
	o.minRetryInterval = 1;
	o.maxRetryInterval = 16;
	o.username = cfg->mqtt.username;
	o.password = cfg->mqtt.password;
	set_tls(in, &o);
	atomic_store(&in->need_connect, 0);
	int rc = MQTTAsync_connect(in->client, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		hub_warn("msg=\"broker connect request failed\" url=%s rc=%d", hub_logq(cfg->mqtt.url), rc);
		atomic_store(&in->need_connect, 1);
		return HUB_EIO;
	}
	return HUB_OK;
}

int hub_ingest_start(struct hub_ingest *in)
{
	return connect_now(in);
}

void hub_ingest_tick(struct hub_ingest *in)
{
	if (!atomic_load(&in->stopping) && atomic_load(&in->need_connect))
		connect_now(in);
}

int hub_ingest_ready(struct hub_ingest *in)
{
	return atomic_load(&in->ready);
}

void hub_ingest_why(struct hub_ingest *in, char *why, size_t len)
{
	pthread_mutex_lock(&in->link.lock);
	if (in->link.cause[0] && in->link.failures > 0)
		snprintf(why, len, "%s (%ld attempts)", in->link.cause, in->link.failures);
	else
		snprintf(why, len, "%s", in->link.cause);
	pthread_mutex_unlock(&in->link.lock);
}

int hub_ingest_publish(struct hub_ingest *in, const char *topic, const void *payload, size_t len)
{
	return hub_ingest_publish_opts(in, topic, payload, len, 1, 0);
}

/* One acknowledged publish: the response callbacks run on Paho's thread and may outlive a
 * waiter that timed out, so the last of the two to let go frees it. */
struct ack_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, ok, refs;
};

static void ack_release(struct ack_wait *w)
{
	pthread_mutex_lock(&w->lock);
	int last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

static void ack_done(struct ack_wait *w, int ok)
{
	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->ok = ok;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	ack_release(w);
}

static void on_ack(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	ack_done(ctx, 1);
}

static void on_ack5(void *ctx, MQTTAsync_successData5 *d)
{
	(void)d;
	ack_done(ctx, 1);
}

static void on_nack(void *ctx, MQTTAsync_failureData *d)
{
	(void)d;
	ack_done(ctx, 0);
}

static void on_nack5(void *ctx, MQTTAsync_failureData5 *d)
{
	(void)d;
	ack_done(ctx, 0);
}

static int ack_wait_for(struct ack_wait *w, int timeout_ms)
{
	struct timespec ts;
	hub_deadline(&ts, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&w->lock);
	while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
		;
	int ok = w->done && w->ok;
	pthread_mutex_unlock(&w->lock);
	return ok;
}

int hub_ingest_publish_acked(void *ctx, const char *topic, const void *payload, size_t len,
			     int qos, int retained)
{
	struct hub_ingest *in = ctx;
	if (qos < 0 || qos > 2 || len > INT_MAX)
		return HUB_EINVAL;
	if (atomic_load(&in->stopping))
		return HUB_EAGAIN;
	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = qos;
	m.retained = retained ? 1 : 0;
	struct ack_wait *w = hub_xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->refs = 2;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.context = w;
	if (in->cfg->mqtt.version == 5) {
		ro.onSuccess5 = on_ack5;
		ro.onFailure5 = on_nack5;
	} else {
		ro.onSuccess = on_ack;
		ro.onFailure = on_nack;
	}
	if (MQTTAsync_sendMessage(in->client, topic, &m, &ro) != MQTTASYNC_SUCCESS) {
		w->refs = 1; /* no callback will come */
		ack_release(w);
		return HUB_EAGAIN;
	}
	/* Delivered means acknowledged by the broker: a message only queued in the client is lost
	 * with the process. */
	int ok = ack_wait_for(w, PUBLISH_ACK_WAIT_MS);
	ack_release(w);
	return ok ? HUB_OK : HUB_EAGAIN;
}

int hub_ingest_publish_opts(void *ctx, const char *topic, const void *payload, size_t len, int qos,
			    int retained)
{
	struct hub_ingest *in = ctx;
	if (qos < 0 || qos > 2 || len > INT_MAX)
		return HUB_EINVAL;
	if (atomic_load(&in->stopping))
		return HUB_EAGAIN; /* never block on the lock of a callback parked at shutdown */
	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = qos;
	m.retained = retained ? 1 : 0;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc = MQTTAsync_sendMessage(in->client, topic, &m, &ro);
	return rc == MQTTASYNC_SUCCESS ? HUB_OK : HUB_EAGAIN;
}

static void *disconnect_main(void *arg)
{
	struct hub_ingest *in = arg;
	if (MQTTAsync_isConnected(in->client)) {
		MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
		d.timeout = in->stop_timeout_ms;
		MQTTAsync_disconnect(in->client, &d);
		int waited = 0;
		while (MQTTAsync_isConnected(in->client) && waited < in->stop_timeout_ms) {
			sleep_ms(10);
			waited += 10;
		}
	}
	atomic_store(&in->disconnected, 1);
	return NULL;
}

/* Waits up to ms for the disconnect thread; with stuck set, gives up early when an append (the
 * message callback's: it is the journal's only writer) has waited for journal space for 200 ms:
 * the space will not come before shutdown, and the callback holds the lock every Paho call
 * needs. 1 when the thread is done. */
static int wait_disconnected(struct hub_ingest *in, int ms, int *stuck)
{
	int same = 0;
	for (int waited = 0; waited < ms; waited += 10) {
		if (atomic_load(&in->disconnected))
			return 1;
		if (atomic_load(&in->parked))
			return 0;
		struct hub_journal_stats st;
		hub_journal_get_stats(in->journal, &st);
		same = stuck && st.waiting ? same + 10 : 0;
		if (same >= 200) {
			*stuck = 1;
			return 0;
		}
		sleep_ms(10);
	}
	return atomic_load(&in->disconnected);
}

/* The disconnect runs on its own thread so that a callback stuck on a full journal cannot hold
 * up shutdown: then the journal is stopped, the callback parks without acknowledging its
 * message, and the client is abandoned (see park). */
void hub_ingest_stop(struct hub_ingest *in, int timeout_ms)
{
	atomic_store(&in->stopping, 1);
	if (!in->client)
		return;
	in->stop_timeout_ms = timeout_ms;
	pthread_t t;
	if (pthread_create(&t, NULL, disconnect_main, in) != 0) {
		disconnect_main(in);
		atomic_store(&in->ready, 0);
		return;
	}
	int stuck = 0;
	if (!wait_disconnected(in, timeout_ms + 500, &stuck)) {
		hub_journal_stop(in->journal);
		if (!wait_disconnected(in, stuck ? 1000 : 100, NULL)) {
			hub_warn("msg=\"message callback stuck (journal full?); leaving without a "
				 "clean disconnect, the broker redelivers what was not "
				 "acknowledged\"");
			atomic_store(&in->abandoned, 1);
			pthread_detach(t);
			atomic_store(&in->ready, 0);
			return;
		}
	}
	pthread_join(t, NULL);
	atomic_store(&in->ready, 0);
}

void hub_ingest_free(struct hub_ingest *in)
{
	/* An abandoned client still has a parked callback and a blocked disconnect thread using
	 * it: leave both to the process exit. */
	if (!in || atomic_load(&in->abandoned))
		return;
	if (in->client)
		MQTTAsync_destroy(&in->client);
	for (int i = 0; i < in->nfilters; i++)
		free(in->filters[i]);
	free(in->filters);
	free(in->qos);
	MQTTProperties_free(&in->props);
	pthread_mutex_destroy(&in->link.lock);
	free(in);
}
