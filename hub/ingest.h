/* MQTT ingest: a Paho MQTTAsync client with a persistent session whose message callback only
 * appends to the journal (invariant 1). Also publishes dead letters. The callback runs on
 * Paho's thread; every other call is safe from any thread. */
#ifndef HUB_INGEST_H
#define HUB_INGEST_H

#include <stddef.h>

#include "config.h"
#include "journal.h"

struct hub_ingest;

/* Creates the client for cfg (borrowed, must outlive it) appending to j. NULL with err. */
struct hub_ingest *hub_ingest_new(const struct hub_config *cfg, struct hub_journal *j, char *err,
				  size_t errlen);

/* Starts connecting (and reconnecting forever); subscriptions are made on every connect. */
int hub_ingest_start(struct hub_ingest *in);

/* Retries the connection if the last attempt failed; call about once a second. */
void hub_ingest_tick(struct hub_ingest *in);

/* Returns 1 while connected and subscribed. */
int hub_ingest_ready(struct hub_ingest *in);

/* Writes why the broker is not usable (e.g. "bad user name or password (12 attempts)"), or ""
 * when nothing is known, into why (len bytes). */
void hub_ingest_why(struct hub_ingest *in, char *why, size_t len);

/* Queues a QoS 1 publish (kept while disconnected, up to a bound). HUB_EAGAIN when full. */
int hub_ingest_publish(struct hub_ingest *in, const char *topic, const void *payload, size_t len);

/* Queues a publish with the given QoS (0..2) and retain flag; HUB_EAGAIN when full or stopping,
 * HUB_EINVAL on a bad QoS. ctx is the struct hub_ingest: the signature of
 * hub_notify_env.publish, so that it can be passed there with the client as publish_ctx. */
int hub_ingest_publish_opts(void *ctx, const char *topic, const void *payload, size_t len, int qos,
			    int retained);

/* As hub_ingest_publish_opts, but returns HUB_OK only once the broker acknowledged the message
 * (QoS 1/2; waits up to 5 s; HUB_EAGAIN otherwise): for notifiers, whose delivery marks must
 * not run ahead of the broker. Blocks the calling thread. */
int hub_ingest_publish_acked(void *ctx, const char *topic, const void *payload, size_t len,
			     int qos, int retained);

/* Disconnects cleanly, waiting at most timeout_ms; no message callback runs afterwards. */
void hub_ingest_stop(struct hub_ingest *in, int timeout_ms);

/* Frees the client; NULL is a no-op. */
void hub_ingest_free(struct hub_ingest *in);

#endif
