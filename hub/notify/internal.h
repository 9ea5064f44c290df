/* Shared by the notifier files and their tests; not for the rest of the hub (notify.h is). */
#ifndef HUB_NOTIFY_INTERNAL_H
#define HUB_NOTIFY_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/buf.h"
#include "notify.h"

/* Defaults for config values left at 0 (the config binding normally sets them). */
#define HUB_NOTIFY_DEFAULT_QUEUE 1000
#define HUB_NOTIFY_DEFAULT_TIMEOUT_MS 5000
#define HUB_NOTIFY_DEFAULT_BASE_MS 500
#define HUB_NOTIFY_DEFAULT_CAP_MS 60000
#define HUB_NOTIFY_DEFAULT_RESEND_MS 60000

extern const struct hub_notifier_ops hub_notify_alertmanager_ops;
extern const struct hub_notifier_ops hub_notify_mqtt_ops;
extern const struct hub_notifier_ops hub_notify_webhook_ops;

/* Returns the event's seq (a positive integer member "seq"), or 0 when it has none. */
uint64_t hub_notify_event_seq(const json_t *event);

/* Returns the string member key of event, or NULL (borrowed). */
const char *hub_notify_event_str(const json_t *event, const char *key);

/* Appends the retained-state topic of event to out: <prefix>/alerts/<rule>/<sensor_id>, plus
 * /<level> for bands, each level from the event sanitised (see hub_notify_topic_level). An
 * empty or NULL prefix gives alerts/... */
void hub_notify_mqtt_topic(const json_t *event, const char *prefix, struct hub_buf *out);

/* Appends s as one topic level: '+', '#' and '/' become '_', and an empty s becomes "_", so
 * that no data can add a level or a wildcard. */
void hub_notify_topic_level(struct hub_buf *out, const char *s);

/* Returns a new Alertmanager v2 postable alert for event (labels and annotations as strings,
 * startsAt from starts_at), endsAt = ends_ns; NULL when event has no usable labels. */
json_t *hub_notify_am_alert(const json_t *event, int64_t ends_ns);

/* An HTTP POST client: one libcurl easy handle per URL, kept alive. Owned by one thread. */
struct hub_post;

/* Creates a client for url with timeout_ms and, when token is set, a bearer token. */
struct hub_post *hub_post_new(const char *url, long timeout_ms, const char *token);

/* POSTs body with the given extra headers (NULL-terminated array, may be NULL); *status is the
 * HTTP status (0 on a network error, then err has curl's message). HUB_OK when a reply came. */
int hub_post_send(struct hub_post *p, const char *body, size_t len, const char *const *headers,
                  long *status, char *err, size_t errlen);

/* Appends url without its user:password@ part (for logs and metric labels) to out. */
void hub_notify_redact_url(const char *url, struct hub_buf *out);

/* Returns the URL posted to, without user:password@. */
const char *hub_post_url(const struct hub_post *p);

/* Frees the client; NULL is a no-op. */
void hub_post_free(struct hub_post *p);

/* Copies at most len-1 bytes of the reply body of the last send into buf (for messages). */
void hub_post_reply(const struct hub_post *p, char *buf, size_t len);

#endif
