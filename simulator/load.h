/* Load mode: ~100-byte native readings from many synthetic sensors at a precise rate, over
 * one or more connections. By default each reading's "time" is its send time, so the hub's
 * stored timestamps give end-to-end latency; with a sequence time, message i is stamped
 * T0 + i ms, so every message maps to exactly one stored point and a resend is idempotent. */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include "publish.h"
#include "simtypes.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct sim_load_opts {
	double rate;    /* messages per second */
	uint64_t count; /* messages in total */
	uint64_t first; /* index of the first message: first .. first + count - 1 */
	int sensors;    /* distinct sensor ids <prefix>-00000 .., message i from i mod sensors */
	const char *prefix;   /* sensor id prefix; NULL = "load" */
	const char *district; /* every topic's district level; NULL = 8 wards in turn */
	/* SIM_KIND_NOISE (laeq_db, lamax_db) or SIM_KIND_AIR (pm25 = i mod 1000 + 0.25) */
	enum sim_kind kind;
	int have_seq_time; /* message i's time = seq_time_ns + i ms instead of the send time */
	int64_t seq_time_ns;
	int ack_timeout_ms; /* wait this long for acknowledgements at the end, and at most this
	                     * long for window room or a connection while sending */
	int connections;    /* for the summary only: pub already has them */
	int qos;            /* for the summary only */
	volatile sig_atomic_t *stop;
};

/* Publishes o->count messages at o->rate through pub, waits for their acknowledgements
 * (up to o->ack_timeout_ms) and returns a new summary object in *summary. HUB_OK, HUB_ESTOP
 * when stopped early, HUB_EAGAIN when acknowledgements did not all arrive or nothing could be
 * sent for o->ack_timeout_ms, HUB_EIO on publish errors. */
int sim_run_load(const struct sim_load_opts *o, struct sim_pub *pub, json_t **summary);

/* Writes message seq of the stream o describes (rate, count and the rest are not used),
 * stamped t_ns, into the topic and payload buffers; *len is the payload's length. */
void sim_load_format(const struct sim_load_opts *o, uint64_t seq, int64_t t_ns, char *topic,
                     size_t tlen, char *payload, size_t plen, size_t *len);

/* Writes message seq of the default stream (noise readings of `sensors` sensors load-NNNNN
 * in 8 wards), stamped with now_ns, into topic/payload buffers. */
void sim_load_message(uint64_t seq, int sensors, int64_t now_ns, char *topic, size_t tlen,
                      char *payload, size_t plen, size_t *len);

/* Looks up a --load-kind name (noise, air_quality). HUB_ENOENT when unknown or not one load
 * mode sends. */
int sim_load_kind_parse(const char *name, enum sim_kind *out);

/* Checks a sensor id prefix or district: 1 to 64 of [A-Za-z0-9._-], so that it is one
 * topic level and needs no escaping in JSON or line protocol. HUB_EINVAL otherwise. */
int sim_load_check_name(const char *s);

/* Parses a --seq-time value: Unix time in milliseconds, or RFC 3339 (UTC without a zone).
 * HUB_EPARSE or HUB_ERANGE on bad input. */
int sim_load_parse_time(const char *s, int64_t *ns);

#endif
