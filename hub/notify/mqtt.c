/* The MQTT notifier, through the hub's own client (env->publish), QoS 1:
 *   <prefix>/alerts/<rule>/<sensor_id>[/<level>]  retained: the last firing event of the alert,
 *                                                 cleared (zero-length retained) on resolve;
 *   <prefix>/alerts/events                        not retained: every event, in order, with its
 *                                                 stable id (receivers drop repeated ids).
 * Topic levels taken from the event have '+', '#' and '/' replaced by '_'. A failed publish
 * (queue full, broker gone) is HUB_EAGAIN: the event is offered again, and re-publishing the
 * retained state is harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "internal.h"

struct mqtt {
	const struct hub_cfg_notifier *cfg;
	int (*publish)(void *ctx, const char *topic, const void *payload, size_t len, int qos,
	               int retained);
	void *publish_ctx;
	char *prefix; /* without trailing '/'; "" for none */
	struct hub_buf topic;
	struct hub_buf events_topic;
};

void hub_notify_topic_level(struct hub_buf *out, const char *s)
{
	if (!s || !*s) {
		hub_buf_puts(out, "_");
		return;
	}
	size_t start = out->len;
	hub_buf_puts(out, s);
	for (size_t i = start; i < out->len; i++)
		if (out->data[i] == '+' || out->data[i] == '#' || out->data[i] == '/')
			out->data[i] = '_';
}

static void put_prefix(struct hub_buf *out, const char *prefix)
{
	if (prefix && *prefix) {
		hub_buf_puts(out, prefix);
		hub_buf_puts(out, "/");
	}
	hub_buf_puts(out, "alerts");
}

void hub_notify_mqtt_topic(const json_t *event, const char *prefix, struct hub_buf *out)
{
	put_prefix(out, prefix);
	hub_buf_puts(out, "/");
	hub_notify_topic_level(out, hub_notify_event_str(event, "rule"));
	hub_buf_puts(out, "/");
	hub_notify_topic_level(out, hub_notify_event_str(event, "sensor_id"));
	const char *level = hub_notify_event_str(event, "level");
	if (level && *level) {
		hub_buf_puts(out, "/");
		hub_notify_topic_level(out, level);
	}
}

static int mqtt_init(const struct hub_cfg_notifier *cfg, const struct hub_notify_env *env,
                     void **state, char *err, size_t errlen)
{
	const char *p = cfg->topic_prefix ? cfg->topic_prefix : "";
	if (!env || !env->publish) {
		snprintf(err, errlen, "notifier %s: the mqtt notifier needs the hub's MQTT client",
		         cfg->name);
		return HUB_EINVAL;
	}
	if (strpbrk(p, "+#")) {
		snprintf(err, errlen, "notifier %s: topic_prefix must not contain '+' or '#'",
		         cfg->name);
		return HUB_EINVAL;
	}
	struct mqtt *m = hub_xcalloc(1, sizeof *m);
	m->cfg = cfg;
	m->publish = env->publish;
	m->publish_ctx = env->publish_ctx;
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	m->prefix = hub_xmalloc(n + 1);
	memcpy(m->prefix, p, n);
	m->prefix[n] = '\0';
	put_prefix(&m->events_topic, m->prefix);
	hub_buf_puts(&m->events_topic, "/events");
	*state = m;
	return HUB_OK;
}

static int publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int retained,
                   char *err, size_t errlen)
{
	int rc = m->publish(m->publish_ctx, topic, payload, len, 1, retained);
	if (rc == HUB_OK)
		return HUB_OK;
	snprintf(err, errlen, "publish to %.200s failed: %s", topic, hub_strerror(rc));
	return HUB_EAGAIN;
}

static int publish_event(struct mqtt *m, json_t *event, char *err, size_t errlen)
{
	char *body = json_dumps(event, JSON_COMPACT);
	if (!body) {
		snprintf(err, errlen, "event cannot be encoded");
		return HUB_EINVAL;
	}
	size_t len = strlen(body);
	const char *state = hub_notify_event_str(event, "state");
	int resolved = state && strcmp(state, "resolved") == 0;
	hub_buf_clear(&m->topic);
	hub_notify_mqtt_topic(event, m->prefix, &m->topic);
	int rc =
	    publish(m, m->topic.data, resolved ? "" : body, resolved ? 0 : len, 1, err, errlen);
	if (rc == HUB_OK)
		rc = publish(m, m->events_topic.data, body, len, 0, err, errlen);
	free(body);
	return rc;
}

static int mqtt_deliver(void *state, json_t *const *events, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc = publish_event(state, events[i], err, errlen);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

static void mqtt_free(void *state)
{
	struct mqtt *m = state;
	if (!m)
		return;
	hub_buf_fini(&m->topic);
	hub_buf_fini(&m->events_topic);
	free(m->prefix);
	free(m);
}

const struct hub_notifier_ops hub_notify_mqtt_ops = {
    .type = "mqtt",
    .init = mqtt_init,
    .deliver = mqtt_deliver,
    .tick = NULL,
    .free_state = mqtt_free,
    .max_batch = 1, /* a retry repeats no earlier event on the stream */
};
