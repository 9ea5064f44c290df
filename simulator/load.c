#include "load.h"

#include "buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "simtime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#define SEC 1000000000LL

static const char *const wards[] = {"phuong-1", "phuong-2", "phuong-4",  "phuong-5",
                                    "phuong-6", "phuong-9", "phuong-10", "tan-long"};

void sim_load_message(uint64_t seq, int sensors, int64_t now_ns, char *topic, size_t tlen,
                      char *payload, size_t plen, size_t *len)
{
	char when[48];
	unsigned id = (unsigned)(seq % (uint64_t)sensors);
	const char *ward = wards[id % (sizeof(wards) / sizeof(wards[0]))];
	double laeq = 50.0 + (double)(seq * 7 % 300) / 10.0;
	sim_time_format(now_ns, 6, when, sizeof(when));
	snprintf(topic, tlen, "city/noise/%s/load-%05u", ward, id);
	int n = snprintf(payload, plen,
	                 "{\"sensor_id\":\"load-%05u\",\"kind\":\"noise\",\"time\":\"%s\","
	                 "\"fields\":{\"laeq_db\":%.1f,\"lamax_db\":%.1f}}",
	                 id, when, laeq, laeq + 9.5);
	*len = n < 0 ? 0 : (size_t)n < plen ? (size_t)n : plen - 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {(time_t)(t / SEC), (long)(t % SEC)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Sends the messages due by now; returns how many went out (stops early on errors). */
static uint64_t send_due(const struct sim_load_opts *o, struct sim_pub *pub, uint64_t sent,
                         uint64_t due, uint64_t *errors)
{
	char topic[96], payload[256];
	size_t len;
	while (sent < due && !(o->stop && *o->stop)) {
		sim_load_message(sent, o->sensors, hub_now_real_ns(), topic, sizeof(topic), payload,
		                 sizeof(payload), &len);
		int rc = sim_pub_send(pub, topic, payload, len, 1000);
		if (rc == HUB_EAGAIN)
			continue; /* window still full: wait again, the schedule catches up */
		if (rc) {
			(*errors)++;
			if (*errors > 1000)
				break;
		}
		sent++;
	}
	return sent;
}

static json_t *load_summary(const struct sim_load_opts *o, struct sim_pub *pub, double send_s,
                            double total_s)
{
	struct sim_pub_counts c;
	sim_pub_counts(pub, &c);
	return json_pack("{s:s,s:f,s:I,s:i,s:i,s:i,s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "mode", "load",
	                 "rate_target", o->rate, "count", (json_int_t)o->count, "sensors",
	                 o->sensors, "connections", o->connections, "qos", o->qos, "sent",
	                 (json_int_t)c.sent, "acked", (json_int_t)c.acked, "failed",
	                 (json_int_t)c.failed, "send_seconds", send_s, "achieved_rate",
	                 send_s > 0 ? (double)c.sent / send_s : 0.0, "total_seconds", total_s,
	                 "ack_rate", total_s > 0 ? (double)c.acked / total_s : 0.0);
}

int sim_run_load(const struct sim_load_opts *o, struct sim_pub *pub, json_t **summary)
{
	/* Message i is due at t0 + i / rate; wake-ups fall on tick boundaries, so high rates go
	 * out in batches every millisecond, and a late wake-up catches up at once. */
	int64_t tick = (int64_t)fmax(1e6, fmin(1e8, 1e9 / o->rate));
	int64_t t0 = mono_ns();
	uint64_t sent = 0, errors = 0;
	while (sent < o->count && !(o->stop && *o->stop) && errors <= 1000) {
		double elapsed = (double)(mono_ns() - t0);
		uint64_t due = (uint64_t)fmin((double)o->count, floor(o->rate * elapsed / 1e9) + 1);
		sent = send_due(o, pub, sent, due, &errors);
		if (sent >= o->count)
			break;
		int64_t next = (int64_t)ceil((double)sent * 1e9 / o->rate);
		sleep_until(t0 + (next + tick - 1) / tick * tick);
	}
	double send_s = (double)(mono_ns() - t0) / 1e9;
	int rc = sim_pub_flush(pub, 60000);
	double total_s = (double)(mono_ns() - t0) / 1e9;
	*summary = load_summary(o, pub, send_s, total_s);
	if (errors)
		hub_error("msg=\"publish errors\" count=%llu", (unsigned long long)errors);
	if (o->stop && *o->stop)
		return HUB_ESTOP;
	return rc ? rc : errors > 1000 ? HUB_EIO : HUB_OK;
}
