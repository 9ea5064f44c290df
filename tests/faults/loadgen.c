/* loadgen: a paced QoS 1 publisher for the fault suite.
 *
 * Publishes --count native cityhub JSON readings at --rate messages per second, message i
 * (i = --start .. --start+count-1) on city/air_quality/<district>/<prefix>-<i mod sensors> with
 * "ts" = --t0-ms + i, so every (sensor, ts) is unique and counts read back from a store are
 * exact. Survives broker restarts (reconnects; messages in flight are published again, new
 * ones buffered). Waits until the broker acknowledged every message, then prints a JSON summary on
 * stdout; exit status 0 only when all were acknowledged. */
#include <MQTTAsync.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 1000000L /* the pacing loop wakes every millisecond */
#define MAX_BUFFERED 1000000
#define RETRY_QUEUE 65536

struct opts {
	const char *broker;
	const char *client_id;
	const char *district;
	const char *prefix;
	long long count, start, sensors, t0_ms;
	double rate;
	int qos, max_inflight, wait_s;
};

struct state {
	MQTTAsync client;
	const struct opts *o;
	_Atomic long long acked;
	_Atomic long long failed;
	_Atomic int connected;
	_Atomic int connect_failed;
	pthread_mutex_t lock; /* guards the retry queue */
	long long retry[RETRY_QUEUE];
	size_t nretry;
	long long retry_dropped;
};

static struct state st;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ns(long ns)
{
	struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
	nanosleep(&ts, NULL);
}

static int parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_rate(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fputs("usage: loadgen --broker URL --rate MSGS_PER_S --count N [--start I] [--sensors K]\n"
	      "               [--district D] [--prefix P] [--t0-ms MS] [--qos 0|1]\n"
	      "               [--client-id ID] [--max-inflight N] [--wait-s S]\n",
	      stderr);
}

/* Sets one option from name and value; -1 when unknown or out of range. */
static int set_opt(struct opts *o, const char *name, const char *v)
{
	long long n;
	if (strcmp(name, "--broker") == 0)
		o->broker = v;
	else if (strcmp(name, "--client-id") == 0)
		o->client_id = v;
	else if (strcmp(name, "--district") == 0)
		o->district = v;
	else if (strcmp(name, "--prefix") == 0)
		o->prefix = v;
	else if (strcmp(name, "--rate") == 0)
		return parse_rate(v, &o->rate);
	else if (strcmp(name, "--count") == 0)
		return parse_ll(v, 0, 1000000000LL, &o->count);
	else if (strcmp(name, "--start") == 0)
		return parse_ll(v, 0, 1000000000000LL, &o->start);
	else if (strcmp(name, "--sensors") == 0)
		return parse_ll(v, 1, 100000000LL, &o->sensors);
	else if (strcmp(name, "--t0-ms") == 0)
		return parse_ll(v, 0, 4102444800000LL, &o->t0_ms);
	else if (strcmp(name, "--qos") == 0 && parse_ll(v, 0, 1, &n) == 0)
		o->qos = (int)n;
	else if (strcmp(name, "--max-inflight") == 0 && parse_ll(v, 1, 65535, &n) == 0)
		o->max_inflight = (int)n;
	else if (strcmp(name, "--wait-s") == 0 && parse_ll(v, 1, 3600, &n) == 0)
		o->wait_s = (int)n;
	else
		return -1;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.district = "faults",
	                   .prefix = "lg",
	                   .sensors = 50,
	                   .t0_ms = 1795687200000LL,
	                   .qos = 1,
	                   .max_inflight = 1000,
	                   .wait_s = 120,
	                   .rate = 0,
	                   .count = -1};
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc || set_opt(o, argv[i], argv[i + 1]) != 0) {
			fprintf(stderr, "loadgen: bad or incomplete argument: %s\n", argv[i]);
			return -1;
		}
	}
	if (!o->broker || o->rate <= 0 || o->count < 0) {
		usage();
		return -1;
	}
	return 0;
}

static void on_sent(void *ctx, MQTTAsync_successData *resp)
{
	(void)ctx;
	(void)resp;
	atomic_fetch_add(&st.acked, 1);
}

/* Logs an event of the connection on stderr, with the time since the start. */
static void note(const char *what, int code)
{
	static double t0;
	if (t0 == 0)
		t0 = now_s();
	fprintf(stderr, "loadgen: %.3f %s %d acked=%lld\n", now_s() - t0, what, code,
	        atomic_load(&st.acked));
}

/* A message the library gave up on is published again (same payload: idempotent). */
static void on_send_failed(void *ctx, MQTTAsync_failureData *resp)
{
	long long seq = (long long)(intptr_t)ctx;
	if (atomic_fetch_add(&st.failed, 1) < 3)
		note("publish failed", resp ? resp->code : 0);
	pthread_mutex_lock(&st.lock);
	if (st.nretry < RETRY_QUEUE)
		st.retry[st.nretry++] = seq;
	else
		st.retry_dropped++;
	pthread_mutex_unlock(&st.lock);
}

static void on_connected(void *ctx, char *cause)
{
	(void)ctx;
	(void)cause;
	note("connected", 0);
	atomic_store(&st.connected, 1);
}

static void on_lost(void *ctx, char *cause)
{
	(void)ctx;
	(void)cause;
	note("connection lost", 0);
	atomic_store(&st.connected, 0);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)ctx;
	note("connect failed", resp ? resp->code : 0);
	atomic_store(&st.connect_failed, 1);
}

static int on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

/* Returns MQTTASYNC_SUCCESS or the library's error for message seq. */
static int publish(long long seq)
{
	const struct opts *o = st.o;
	char topic[256], payload[128];
	snprintf(topic, sizeof(topic), "city/air_quality/%s/%s-%lld", o->district, o->prefix,
	         seq % o->sensors);
	int n = snprintf(payload, sizeof(payload), "{\"ts\":%lld,\"fields\":{\"pm25\":%lld.25}}",
	                 o->t0_ms + seq, seq % 1000);
	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = payload;
	m.payloadlen = n;
	m.qos = o->qos;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_sent;
	ro.onFailure = on_send_failed;
	ro.context = (void *)(intptr_t)seq;
	return MQTTAsync_sendMessage(st.client, topic, &m, &ro);
}

/* Publishes seq, waiting while the library's queues are full. */
static void publish_until_taken(long long seq)
{
	int rc;
	while ((rc = publish(seq)) != MQTTASYNC_SUCCESS) {
		if (rc != MQTTASYNC_MAX_MESSAGES_INFLIGHT &&
		    rc != MQTTASYNC_MAX_BUFFERED_MESSAGES && rc != MQTTASYNC_DISCONNECTED &&
		    rc != MQTTASYNC_FAILURE) {
			fprintf(stderr, "loadgen: publish of %lld failed: rc %d\n", seq, rc);
			exit(1);
		}
		sleep_ns(TICK_NS);
	}
}

static void publish_retries(void)
{
	for (;;) {
		long long seq;
		pthread_mutex_lock(&st.lock);
		int have = st.nretry > 0;
		if (have)
			seq = st.retry[--st.nretry];
		pthread_mutex_unlock(&st.lock);
		if (!have)
			return;
		publish_until_taken(seq);
	}
}

static int connect_once(const struct opts *o)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	/* A clean session: on a lost connection the library fails the messages in flight and
	 * on_send_failed publishes them again (with cleansession 0, Paho 1.3.12 sometimes resends
	 * a failed message's freed buffer after a failed reconnect attempt: "malformed packet"). */
	co.cleansession = 1;
	co.MQTTVersion = MQTTVERSION_3_1_1; /* no fall back to 3.1 after a failed attempt */
	co.keepAliveInterval = 10;
	co.maxInflight = o->max_inflight;
	co.automaticReconnect = 1;
	co.minRetryInterval = 1;
	co.maxRetryInterval = 2;
	co.onFailure = on_connect_failed;
	atomic_store(&st.connect_failed, 0);
	return MQTTAsync_connect(st.client, &co);
}

/* Connects, retrying for up to 30 s (the broker may still be starting). */
static int connect_client(const struct opts *o)
{
	MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer;
	cr.sendWhileDisconnected = 1;
	cr.maxBufferedMessages = MAX_BUFFERED;
	char id[64];
	if (!o->client_id)
		snprintf(id, sizeof(id), "loadgen-%ld", (long)getpid());
	if (MQTTAsync_createWithOptions(&st.client, o->broker, o->client_id ? o->client_id : id,
	                                MQTTCLIENT_PERSISTENCE_NONE, NULL,
	                                &cr) != MQTTASYNC_SUCCESS)
		return -1;
	MQTTAsync_setCallbacks(st.client, NULL, on_lost, on_message, NULL);
	MQTTAsync_setConnected(st.client, NULL, on_connected);
	double deadline = now_s() + 30;
	if (connect_once(o) != MQTTASYNC_SUCCESS)
		return -1;
	while (!atomic_load(&st.connected)) {
		if (now_s() > deadline)
			return -1;
		if (atomic_load(&st.connect_failed)) {
			sleep_ns(200 * TICK_NS);
			if (connect_once(o) != MQTTASYNC_SUCCESS)
				return -1;
		}
		sleep_ns(TICK_NS);
	}
	return 0;
}

/* Sends on schedule: message k is due at t0 + k / rate. Returns the largest number of messages
 * the sender was ever behind schedule. */
static long long run_schedule(const struct opts *o, double t0)
{
	long long sent = 0, max_behind = 0;
	while (sent < o->count) {
		double due = (now_s() - t0) * o->rate + 1;
		long long target = due > (double)o->count ? o->count : (long long)due;
		if (target - sent > max_behind)
			max_behind = target - sent;
		while (sent < target)
			publish_until_taken(o->start + sent++);
		publish_retries();
		double next = t0 + (double)sent / o->rate;
		double wait = next - now_s();
		if (wait > 0)
			sleep_ns(wait * 1e9 < TICK_NS ? (long)(wait * 1e9) : TICK_NS);
	}
	return max_behind;
}

/* Waits until every message was acknowledged (resending those the library gave up on). */
static int wait_acked(const struct opts *o)
{
	double deadline = now_s() + o->wait_s;
	while (atomic_load(&st.acked) < o->count) {
		publish_retries();
		if (now_s() > deadline)
			return -1;
		sleep_ns(10 * TICK_NS);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o) != 0)
		return 2;
	st.o = &o;
	pthread_mutex_init(&st.lock, NULL);
	if (connect_client(&o) != 0) {
		fprintf(stderr, "loadgen: cannot connect to %s\n", o.broker);
		return 1;
	}
	double t0 = now_s();
	long long max_behind = run_schedule(&o, t0);
	double t_sent = now_s();
	int rc = wait_acked(&o);
	double t_acked = now_s();
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	d.timeout = 2000;
	MQTTAsync_disconnect(st.client, &d);
	sleep_ns(50 * TICK_NS);
	MQTTAsync_destroy(&st.client);
	double send_s = t_sent - t0;
	printf("{\"count\":%lld,\"start\":%lld,\"acked\":%lld,\"failed_resent\":%lld,"
	       "\"send_s\":%.3f,\"rate\":%.1f,\"target_rate\":%.1f,\"max_behind\":%lld,"
	       "\"ack_wait_s\":%.3f}\n",
	       o.count, o.start, atomic_load(&st.acked), atomic_load(&st.failed), send_s,
	       send_s > 0 ? (double)o.count / send_s : 0.0, o.rate, max_behind, t_acked - t_sent);
	pthread_mutex_destroy(&st.lock);
	return rc == 0 && st.retry_dropped == 0 ? 0 : 1;
}
