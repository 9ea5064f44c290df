/* bench-rawsub: the smallest Paho MQTTAsync QoS 1 subscriber, as the hub's ingest uses the
 * library (persistent session, the callback returns 1 at once) but doing nothing with the
 * messages. It separates what the MQTT library costs from what cityhub adds.
 *
 *   bench-rawsub URL CLIENT_ID FILTER COUNT TIMEOUT_S
 *
 * Prints "ready" once subscribed, then, after COUNT messages or TIMEOUT_S seconds, one JSON
 * line {"received":N,"first_ns":...,"last_ns":...} and exits (0 when all COUNT arrived). */
#include <MQTTAsync.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cityhub/buf.h"

struct sub {
	MQTTAsync client;
	char *filter;
	unsigned long long want;
	_Atomic unsigned long long received;
	_Atomic long long first_ns, last_ns;
	_Atomic int subscribed, failed;
};

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	(void)topic_len;
	struct sub *s = ctx;
	long long now = hub_now_real_ns();
	long long zero = 0;
	atomic_compare_exchange_strong(&s->first_ns, &zero, now);
	atomic_store(&s->last_ns, now);
	atomic_fetch_add(&s->received, 1);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	struct sub *s = ctx;
	atomic_store(&s->subscribed, 1);
}

static void on_failure(void *ctx, MQTTAsync_failureData *r)
{
	struct sub *s = ctx;
	fprintf(stderr, "bench-rawsub: connect/subscribe failed: %d\n", r ? r->code : 0);
	atomic_store(&s->failed, 1);
}

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	struct sub *s = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.context = s;
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_failure;
	if (MQTTAsync_subscribe(s->client, s->filter, 1, &ro) != MQTTASYNC_SUCCESS)
		atomic_store(&s->failed, 1);
}

static int parse_u64(const char *arg, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (end == arg || *end || errno || *arg == '-')
		return -1;
	*out = v;
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	static struct sub s;
	unsigned long long timeout_s;
	if (argc != 6 || parse_u64(argv[4], &s.want) || parse_u64(argv[5], &timeout_s)) {
		fputs("usage: bench-rawsub URL CLIENT_ID FILTER COUNT TIMEOUT_S\n", stderr);
		return 2;
	}
	s.filter = argv[3];
	if (MQTTAsync_create(&s.client, argv[1], argv[2], MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
	    MQTTASYNC_SUCCESS)
		return 1;
	MQTTAsync_setCallbacks(s.client, &s, NULL, on_message, NULL);
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	o.cleansession = 0;
	o.keepAliveInterval = 30;
	o.context = &s;
	o.onSuccess = on_connected;
	o.onFailure = on_failure;
	if (MQTTAsync_connect(s.client, &o) != MQTTASYNC_SUCCESS)
		return 1;
	long long deadline = hub_now_mono_ms() + (long long)timeout_s * 1000;
	int said_ready = 0;
	while (!atomic_load(&s.failed) && atomic_load(&s.received) < s.want &&
	       hub_now_mono_ms() < deadline) {
		if (!said_ready && atomic_load(&s.subscribed)) {
			puts("ready");
			fflush(stdout);
			said_ready = 1;
		}
		sleep_ms(5);
	}
	printf("{\"received\":%llu,\"first_ns\":%lld,\"last_ns\":%lld}\n",
	       (unsigned long long)atomic_load(&s.received), (long long)atomic_load(&s.first_ns),
	       (long long)atomic_load(&s.last_ns));
	fflush(stdout);
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	d.timeout = 1000;
	MQTTAsync_disconnect(s.client, &d);
	sleep_ms(100);
	MQTTAsync_destroy(&s.client);
	return atomic_load(&s.received) >= s.want ? 0 : 1;
}
