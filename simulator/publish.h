/* Where messages go: an MQTT broker over one or more Paho MQTTAsync connections, or, in
 * dry-run mode, `topic<TAB>payload` lines on a stream. The publisher is used from one thread;
 * Paho's callbacks only update its counters and queues.
 *
 * Without `reconnect` a lost connection stays lost: its messages in flight count as failed
 * and sends fail once no connection is left (sim_pub_lost). With `reconnect` Paho reconnects
 * by itself, sends wait while no connection is up, and every message a lost connection
 * failed is published again, byte for byte, before any new one. */
#ifndef SIM_PUBLISH_H
#define SIM_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sim_pub_opts {
	const char *broker;    /* tcp://host:port, ssl://host:port, mqtts:// */
	const char *client_id; /* NULL = cityhub-sim-<pid>; "-<i>" appended per connection */
	const char *username, *password;
	const char *cafile, *cert, *key;
	int qos;          /* 0, 1 or 2 */
	int connections;  /* >= 1 */
	int max_inflight; /* unacknowledged messages per connection */
	int dry_run;
	int reconnect; /* reconnect automatically and publish failed messages again */
	FILE *out;     /* dry-run output */
};

struct sim_pub_counts {
	uint64_t sent;   /* accepted by the client library (or written, in dry-run) */
	uint64_t acked;  /* completed: PUBACK for QoS 1, written for QoS 0 */
	uint64_t failed; /* refused or lost (with reconnect: refused only) */
	uint64_t resent; /* with reconnect: messages published again after a lost connection */
	uint64_t lost;   /* connections lost */
};

struct sim_pub;

/* Connects (waiting up to 10 s; with reconnect, failed attempts are retried within that time)
 * or prepares the dry-run writer. Returns NULL with a message in err on failure. Close with
 * sim_pub_close. */
struct sim_pub *sim_pub_open(const struct sim_pub_opts *o, char *err, size_t errlen);

/* Publishes len bytes on topic (copied), waiting up to timeout_ms for room in the in-flight
 * window (with reconnect: also for a connection, and failed messages go out first). HUB_OK,
 * HUB_EAGAIN when no room came in time (nothing new was sent), HUB_EIO when the client
 * refused it or no connection is left. */
int sim_pub_send(struct sim_pub *p, const char *topic, const void *payload, size_t len,
                 int timeout_ms);

/* Waits up to timeout_ms until every sent message completed (with reconnect: was
 * acknowledged, publishing failed ones again); HUB_EAGAIN on timeout. */
int sim_pub_flush(struct sim_pub *p, int timeout_ms);

/* 1 when every connection is lost for good (never with reconnect or in dry-run mode). */
int sim_pub_lost(struct sim_pub *p);

/* Reads the counters. */
void sim_pub_counts(struct sim_pub *p, struct sim_pub_counts *out);

/* Disconnects and frees; NULL is a no-op. */
void sim_pub_close(struct sim_pub *p);

/* Writes one dry-run line: topic TAB payload LF, escaping '\\' as "\\\\", LF as "\\n", CR
 * as "\\r", TAB as "\\t" and other control bytes as "\\xNN" in both. */
void sim_pub_write_line(FILE *out, const char *topic, size_t topic_len, const void *payload,
                        size_t len);

#endif
