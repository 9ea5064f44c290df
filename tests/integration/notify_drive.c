/* Drives one notifier for tests/integration/test_notify.py.
 *
 * Usage: notify_drive TYPE NAME STATE_DIR URL[,URL...] [key=value ...]
 *   keys: secret, token, topic_prefix, resend_ms, timeout_ms, retry_base_ms, retry_cap_ms,
 *         queue_max, stop_ms (how long stop() may deliver at the end, default 10000)
 * For TYPE mqtt, URL is the broker's: the hub's own MQTT client (hub/ingest.c, with a journal
 * in STATE_DIR/journal) publishes through hub_ingest_publish_opts, as in the daemon.
 * Reads stdin line by line: a JSON object is an event to push; "sleep MS" sleeps; "wait"
 * waits (up to 30 s) until the watermark reaches the highest seq pushed. At end of input it
 * stops the notifier and prints one JSON line with the watermark, the health and the metrics. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"
#include "notify/notify.h"

/* The hub's MQTT client for the mqtt notifier, as the daemon sets it up. */
struct mqtt_side {
	struct hub_config cfg;
	struct hub_cfg_route route;
	struct hub_journal *journal;
	struct hub_ingest *in;
	char *journal_dir;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > 100000000)
		return HUB_EINVAL;
	*out = (int)v;
	return HUB_OK;
}

/* Splits "a,b,c" into a NULL-terminated array of copies. */
static char **split_urls(const char *s)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	char **urls = hub_xcalloc(n + 1, sizeof *urls);
	char *copy = hub_xstrdup(s), *save = NULL;
	size_t i = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		urls[i++] = hub_xstrdup(t);
	free(copy);
	return urls;
}

static int set_option(struct hub_cfg_notifier *c, int *stop_ms, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq)
		return HUB_EINVAL;
	*eq = '\0';
	const char *v = eq + 1;
	struct {
		const char *key;
		int *dst;
	} ints[] = {{"resend_ms", &c->resend_ms},         {"timeout_ms", &c->timeout_ms},
	            {"retry_base_ms", &c->retry_base_ms}, {"retry_cap_ms", &c->retry_cap_ms},
	            {"queue_max", &c->queue_max},         {"stop_ms", stop_ms}};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		if (strcmp(kv, ints[i].key) == 0)
			return parse_int(v, ints[i].dst);
	if (strcmp(kv, "secret") == 0)
		c->secret = hub_xstrdup(v);
	else if (strcmp(kv, "token") == 0)
		c->token = hub_xstrdup(v);
	else if (strcmp(kv, "topic_prefix") == 0)
		c->topic_prefix = hub_xstrdup(v);
	else
		return HUB_EINVAL;
	return HUB_OK;
}

static double metric(const char *name, const char *notifier)
{
	char labels[200];
	snprintf(labels, sizeof labels, "notifier=\"%s\"", notifier);
	return hub_metric_value(hub_counter(name, "", labels));
}

/* Connects the hub's client to url (subscribed to a filter nothing publishes on). */
static int mqtt_open(struct mqtt_side *m, const char *url, const char *state_dir)
{
	char err[512];
	struct hub_buf dir = {0};
	hub_buf_printf(&dir, "%s/journal", state_dir);
	m->journal_dir = dir.data;
	struct hub_journal_opts o = {m->journal_dir, 64 << 20, 4 << 20,
	                             HUB_FSYNC_NONE, 0,        HUB_FULL_BLOCK};
	m->journal = hub_journal_open(&o, err, sizeof err);
	if (!m->journal)
		goto fail;
	m->route.filter = "cityhub-notify-drive/unused/#";
	m->cfg.mqtt.url = (char *)url;
	m->cfg.mqtt.client_id = "cityhub-notify-drive";
	m->cfg.mqtt.version = 3;
	m->cfg.mqtt.keepalive_s = 30;
	m->cfg.mqtt.max_inflight = 20;
	m->cfg.limits.max_payload_bytes = 1 << 20;
	m->cfg.routes = &m->route;
	m->cfg.nroutes = 1;
	m->in = hub_ingest_new(&m->cfg, m->journal, err, sizeof err);
	if (!m->in || hub_ingest_start(m->in) != HUB_OK)
		goto fail;
	for (int i = 0; i < 1000 && !hub_ingest_ready(m->in); i++)
		sleep_ms(10);
	if (hub_ingest_ready(m->in))
		return HUB_OK;
	snprintf(err, sizeof err, "not connected to %s", url);
fail:
	fprintf(stderr, "notify_drive: mqtt: %s\n", err);
	return HUB_EIO;
}

static void mqtt_close(struct mqtt_side *m)
{
	if (m->in) {
		hub_ingest_stop(m->in, 5000);
		hub_ingest_free(m->in);
	}
	hub_journal_close(m->journal);
	free(m->journal_dir);
}

static void run_input(struct hub_notifier *n)
{
	char line[65536];
	uint64_t top = 0;
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "sleep ", 6) == 0) {
			sleep_ms(strtol(line + 6, NULL, 10));
			continue;
		}
		if (strncmp(line, "wait", 4) == 0) {
			for (int i = 0; i < 3000 && hub_notifier_watermark(n) < top; i++)
				sleep_ms(10);
			continue;
		}
		json_error_t jerr;
		json_t *e = json_loads(line, 0, &jerr);
		if (!e) {
			if (strspn(line, " \t\r\n") != strlen(line))
				fprintf(stderr, "notify_drive: bad line: %s\n", jerr.text);
			continue;
		}
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));
		if (seq > 0 && (uint64_t)seq > top)
			top = (uint64_t)seq;
		int rc = hub_notifier_push(n, e);
		if (rc != HUB_OK)
			fprintf(stderr, "notify_drive: push: %s\n", hub_strerror(rc));
		json_decref(e);
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: notify_drive TYPE NAME STATE_DIR URL[,URL...] [k=v ...]\n");
		return 2;
	}
	struct hub_cfg_notifier c = {0};
	int stop_ms = 10000;
	c.type = argv[1];
	c.name = argv[2];
	c.urls = split_urls(argv[4]);
	c.timeout_ms = 2000;
	c.retry_base_ms = 50;
	c.retry_cap_ms = 500;
	for (int i = 5; i < argc; i++)
		if (set_option(&c, &stop_ms, argv[i]) != HUB_OK) {
			fprintf(stderr, "notify_drive: bad option %s\n", argv[i]);
			return 2;
		}
	struct hub_notify_env env = {.state_dir = argv[3]};
	struct mqtt_side m = {0};
	if (strcmp(c.type, "mqtt") == 0) {
		if (mqtt_open(&m, c.urls[0], argv[3]) != HUB_OK)
			return 1;
		env.publish = hub_ingest_publish_opts;
		env.publish_ctx = m.in;
	}
	char err[512];
	struct hub_notifier *n = hub_notifier_start(&c, &env, err, sizeof err);
	if (!n) {
		fprintf(stderr, "notify_drive: %s\n", err);
		mqtt_close(&m);
		return 1;
	}
	run_input(n);
	hub_notifier_stop(n, stop_ms);
	char why[512];
	int ok = hub_notifier_healthy(n, why, sizeof why);
	json_t *out = json_pack("{sIsbsssfsfsfsfsf}", "watermark",
	                        (json_int_t)hub_notifier_watermark(n), "healthy", ok, "why", why,
	                        "sent", metric("cityhub_notify_sent_total", c.name), "failed",
	                        metric("cityhub_notify_failed_total", c.name), "retries",
	                        metric("cityhub_notify_retries_total", c.name), "dropped",
	                        metric("cityhub_notify_dropped_total", c.name), "skipped",
	                        metric("cityhub_notify_skipped_total", c.name));
	hub_notifier_free(n);
	mqtt_close(&m);
	char *s = json_dumps(out, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(out);
	for (size_t i = 0; c.urls[i]; i++)
		free(c.urls[i]);
	free(c.urls);
	free(c.secret);
	free(c.token);
	free(c.topic_prefix);
	hub_metrics_reset();
	return 0;
}
