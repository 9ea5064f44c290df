/* Notifiers: alert transitions leave the hub through here, never through the monitor thread.
 * Each configured notifier is one thread with a bounded queue, retrying with full-jitter
 * exponential backoff (retry_base_ms .. retry_cap_ms); a slow or dead receiver never stalls
 * the monitor (push never blocks; what a full queue refuses is counted).
 *
 * An event is a JSON object (docs/alerts.md "Events"):
 *   {"id": "<16 hex, stable per transition>", "seq": <outbox sequence, increasing>,
 *    "rule": "...", "sensor_id": "...", "level": "III" (bands only), "state": "firing"|"resolved",
 *    "severity": "...", "at": "<RFC 3339>", "at_ns": <int>, "starts_at": "<RFC 3339>",
 *    "ends_at": "<RFC 3339>" (resolved only), "value": <number>,
 *    "labels": {"alertname": ..., "sensor_id": ..., "severity": ..., ...},
 *    "annotations": {"summary_vi": ..., "summary_en": ..., "value": "..."}}
 *
 * Delivery watermark: after each delivered event the notifier records its seq in
 * <state_dir>/notify-<name>.seq (an 8-byte pwrite, no fsync: survives SIGKILL), so that after a
 * restart the events the alert engine restores from its snapshot are not delivered twice. */
#ifndef HUB_NOTIFY_H
#define HUB_NOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What a notifier may use of the hub; members borrowed, outliving the notifier. */
struct hub_notify_env {
	const char *state_dir;
	/* MQTT publish through the hub's client (NULL when there is none): HUB_OK or an error. */
	int (*publish)(void *ctx, const char *topic, const void *payload, size_t len, int qos,
		       int retained);
	void *publish_ctx;
};

/* One notifier type: a table entry in its own file (alertmanager.c, mqtt.c, webhook.c). */
struct hub_notifier_ops {
	const char *type; /* as written in notifiers[].type */
	/* Builds the notifier's state from its config (checked: HUB_EINVAL with a message). */
	int (*init)(const struct hub_cfg_notifier *cfg, const struct hub_notify_env *env,
		    void **state, char *err, size_t errlen);
	/* Delivers events[0..n-1] in order (borrowed). HUB_OK: all delivered; HUB_EAGAIN: a
	 * transient failure, the same events are offered again after the backoff; another code:
	 * refused for good (counted, dropped). err gets the reason. */
	int (*deliver)(void *state, json_t *const *events, size_t n, char *err, size_t errlen);
	/* Optional: called on the notifier's thread about once a second (Alertmanager re-sends
	 * its firing alerts). HUB_EAGAIN makes the notifier report unhealthy until a success. */
	int (*tick)(void *state, int64_t now_ns, char *err, size_t errlen);
	void (*free_state)(void *state);
	/* Most events offered to one deliver call (0 = the runtime's default, 64). A notifier
	 * that sends one request per event says 1, so that a retry never repeats a delivered one. */
	size_t max_batch;
};

struct hub_notifier;

/* Returns the ops for a type name, or NULL. */
const struct hub_notifier_ops *hub_notifier_find(const char *type);

/* Starts a notifier thread for cfg (borrowed, like env). NULL with err. */
struct hub_notifier *hub_notifier_start(const struct hub_cfg_notifier *cfg,
					const struct hub_notify_env *env, char *err, size_t errlen);

/* Starts a notifier thread with the given ops instead of the one cfg->type names (tests, and
 * notifiers outside the table). NULL with err. */
struct hub_notifier *hub_notifier_start_ops(const struct hub_notifier_ops *ops,
					    const struct hub_cfg_notifier *cfg,
					    const struct hub_notify_env *env, char *err,
					    size_t errlen);

/* Queues event (a reference is taken) unless its seq is at or below the delivery watermark
 * (then it is skipped: already delivered before a restart). Never blocks: HUB_EFULL when the
 * queue is full (the event is dropped and counted), HUB_ESTOP once stopping. An event without a
 * positive integer seq is always queued and leaves the watermark alone. Safe from any thread. */
int hub_notifier_push(struct hub_notifier *n, json_t *event);

/* Returns the highest seq delivered (or skipped as refused) so far, as persisted. */
uint64_t hub_notifier_watermark(struct hub_notifier *n);

/* Returns 1 when the last delivery (or tick) succeeded; otherwise 0 with the reason in why. */
int hub_notifier_healthy(struct hub_notifier *n, char *why, size_t len);

/* Returns the notifier's name. */
const char *hub_notifier_name(const struct hub_notifier *n);

/* Delivers what is queued for up to timeout_ms, then stops the thread. */
void hub_notifier_stop(struct hub_notifier *n, int timeout_ms);

/* Stops (if needed) and frees; NULL is a no-op. */
void hub_notifier_free(struct hub_notifier *n);

#endif
