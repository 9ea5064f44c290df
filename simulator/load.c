#include "load.h"

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "cityhub/timefmt.h"
#include "simtime.h"
#include "simtypes.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC 1000000000LL
#define MS 1000000LL
#define NAME_MAX_LEN 64

static const char *const wards[] = {"phuong-1", "phuong-2", "phuong-4",  "phuong-5",
                                    "phuong-6", "phuong-9", "phuong-10", "tan-long"};

#define NWARDS (sizeof(wards) / sizeof(wards[0]))

/* The fields of message seq of a kind of load reading. */
typedef int (*load_fields_fn)(uint64_t seq, char *buf, size_t len);

static int noise_fields(uint64_t seq, char *buf, size_t len)
{
	double laeq = 50.0 + (double)(seq * 7 % 300) / 10.0;
	return snprintf(buf, len, "\"laeq_db\":%.1f,\"lamax_db\":%.1f", laeq, laeq + 9.5);
}

/* Exact in binary and in decimal text, well inside the schema's 0..10000 ug/m3, so a read-back
 * value tells which message a point came from. */
static int air_quality_fields(uint64_t seq, char *buf, size_t len)
{
	return snprintf(buf, len, "\"pm25\":%u.25", (unsigned)(seq % 1000));
}

/* The kinds load mode can send; the others have no entry. */
static const load_fields_fn kind_fields[SIM_KIND_COUNT] = {
    [SIM_KIND_NOISE] = noise_fields,
    [SIM_KIND_AIR] = air_quality_fields,
};

int sim_load_kind_parse(const char *name, enum sim_kind *out)
{
	enum sim_kind k;
	if (sim_kind_parse(name, &k) || !kind_fields[k])
		return HUB_ENOENT;
	*out = k;
	return HUB_OK;
}

int sim_load_check_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	              "rstuvwxyz0123456789._-") != n)
		return HUB_EINVAL;
	return HUB_OK;
}

int sim_load_parse_time(const char *s, int64_t *ns)
{
	if (*s && strspn(s, "0123456789") == strlen(s)) {
		char *end;
		errno = 0;
		long long ms = strtoll(s, &end, 10);
		if (errno || *end)
			return HUB_ERANGE;
		return hub_time_from_int(ms, MS, ns);
	}
	return sim_time_parse(s, 0, ns);
}

void sim_load_format(const struct sim_load_opts *o, uint64_t seq, int64_t t_ns, char *topic,
                     size_t tlen, char *payload, size_t plen, size_t *len)
{
	char when[48], id[NAME_MAX_LEN + 24], fields[96];
	const char *kind = sim_kind_name(o->kind);
	unsigned n = (unsigned)(seq % (uint64_t)o->sensors);
	snprintf(id, sizeof(id), "%s-%05u", o->prefix ? o->prefix : "load", n);
	/* a sequence time is whole milliseconds; a send time keeps microseconds for latency */
	sim_time_format(t_ns, o->have_seq_time ? 3 : 6, when, sizeof(when));
	kind_fields[o->kind](seq, fields, sizeof(fields));
	snprintf(topic, tlen, "city/%s/%s/%s", kind, o->district ? o->district : wards[n % NWARDS],
	         id);
	int r = snprintf(payload, plen,
	                 "{\"sensor_id\":\"%s\",\"kind\":\"%s\",\"time\":\"%s\",\"fields\":{%s}}",
	                 id, kind, when, fields);
	*len = r < 0 ? 0 : (size_t)r < plen ? (size_t)r : plen - 1;
}

void sim_load_message(uint64_t seq, int sensors, int64_t now_ns, char *topic, size_t tlen,
                      char *payload, size_t plen, size_t *len)
{
	struct sim_load_opts o = {.sensors = sensors, .kind = SIM_KIND_NOISE};
	sim_load_format(&o, seq, now_ns, topic, tlen, payload, plen, len);
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

/* One run's progress. Used by the sending thread only. */
struct load_run {
	const struct sim_load_opts *o;
	struct sim_pub *pub;
	uint64_t sent;         /* messages handed over: the next one is o->first + sent */
	uint64_t errors;       /* messages the client refused (skipped) */
	int64_t stalled_since; /* mono_ns of the first wait without progress; 0 = progressing */
	uint64_t lost_seen;    /* connection losses logged so far */
};

static int stopped(const struct sim_load_opts *o)
{
	return o->stop && *o->stop;
}

/* Logs connection losses once each (the publisher reconnects by itself). */
static void note_losses(struct load_run *r)
{
	struct sim_pub_counts c;
	sim_pub_counts(r->pub, &c);
	if (c.lost > r->lost_seen)
		hub_warn("msg=\"connection lost, reconnecting\" losses=%llu sent=%llu",
		         (unsigned long long)c.lost, (unsigned long long)r->sent);
	r->lost_seen = c.lost;
}

/* Sends the messages due by now. HUB_OK; HUB_EAGAIN when nothing could be sent for
 * o->ack_timeout_ms (window full, broker away); HUB_EIO after more than 1000 refusals. */
static int send_due(struct load_run *r, uint64_t due)
{
	const struct sim_load_opts *o = r->o;
	char topic[256], payload[512];
	size_t len;
	while (r->sent < due && !stopped(o)) {
		uint64_t seq = o->first + r->sent;
		int64_t t =
		    o->have_seq_time ? o->seq_time_ns + (int64_t)seq * MS : hub_now_real_ns();
		sim_load_format(o, seq, t, topic, sizeof(topic), payload, sizeof(payload), &len);
		int rc = sim_pub_send(r->pub, topic, payload, len, 1000);
		if (rc == HUB_EAGAIN) {
			/* window full or no connection: wait again, the schedule catches up */
			int64_t now = mono_ns();
			if (!r->stalled_since)
				r->stalled_since = now;
			else if (now - r->stalled_since > (int64_t)o->ack_timeout_ms * MS)
				return HUB_EAGAIN;
			note_losses(r);
			continue;
		}
		r->stalled_since = 0;
		if (rc && ++r->errors > 1000)
			return HUB_EIO;
		r->sent++;
	}
	return HUB_OK;
}

static json_t *load_summary(const struct sim_load_opts *o, const struct sim_pub_counts *c,
                            double send_s, double total_s)
{
	return json_pack("{s:s,s:f,s:I,s:i,s:i,s:i,s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "mode", "load",
	                 "rate_target", o->rate, "count", (json_int_t)o->count, "sensors",
	                 o->sensors, "connections", o->connections, "qos", o->qos, "sent",
	                 (json_int_t)c->sent, "acked", (json_int_t)c->acked, "failed",
	                 (json_int_t)c->failed, "send_seconds", send_s, "achieved_rate",
	                 send_s > 0 ? (double)c->sent / send_s : 0.0, "total_seconds", total_s,
	                 "ack_rate", total_s > 0 ? (double)c->acked / total_s : 0.0);
}

/* Logs how the run ended and picks its result: stop, then the sender's error, then the
 * final wait's, then messages that never made it. */
static int load_result(const struct load_run *r, const struct sim_pub_counts *c, int rc, int frc)
{
	hub_info("msg=\"load done\" sent=%llu acked=%llu failed=%llu resent=%llu "
	         "connection_losses=%llu",
	         (unsigned long long)c->sent, (unsigned long long)c->acked,
	         (unsigned long long)c->failed, (unsigned long long)c->resent,
	         (unsigned long long)c->lost);
	if (r->errors)
		hub_error("msg=\"publish errors\" count=%llu", (unsigned long long)r->errors);
	if (rc == HUB_EAGAIN)
		hub_error("msg=\"nothing could be sent\" seconds=%d", r->o->ack_timeout_ms / 1000);
	if (frc)
		hub_error("msg=\"not every message was acknowledged\" unacked=%llu",
		          (unsigned long long)(c->sent - c->acked));
	if (stopped(r->o))
		return HUB_ESTOP;
	if (rc)
		return rc;
	if (frc)
		return frc;
	return r->errors || c->failed ? HUB_EIO : HUB_OK;
}

int sim_run_load(const struct sim_load_opts *o, struct sim_pub *pub, json_t **summary)
{
	/* Message i is due at t0 + i / rate; wake-ups fall on tick boundaries, so high rates go
	 * out in batches every millisecond, and a late wake-up catches up at once. */
	int64_t tick = (int64_t)fmax(1e6, fmin(1e8, 1e9 / o->rate));
	struct load_run r = {.o = o, .pub = pub};
	struct sim_pub_counts c;
	int rc = HUB_OK;
	int64_t t0 = mono_ns();
	while (r.sent < o->count && !stopped(o)) {
		double elapsed = (double)(mono_ns() - t0);
		uint64_t due = (uint64_t)fmin((double)o->count, floor(o->rate * elapsed / 1e9) + 1);
		rc = send_due(&r, due);
		note_losses(&r);
		if (rc || r.sent >= o->count)
			break;
		int64_t next = (int64_t)ceil((double)r.sent * 1e9 / o->rate);
		sleep_until(t0 + (next + tick - 1) / tick * tick);
	}
	double send_s = (double)(mono_ns() - t0) / 1e9;
	int frc = sim_pub_flush(pub, o->ack_timeout_ms);
	double total_s = (double)(mono_ns() - t0) / 1e9;
	note_losses(&r);
	sim_pub_counts(pub, &c);
	*summary = load_summary(o, &c, send_s, total_s);
	return load_result(&r, &c, rc, frc);
}
