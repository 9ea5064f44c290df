/* The Prometheus Alertmanager notifier (API v2, POST <url>/api/v2/alerts), sending to every
 * configured instance (an Alertmanager cluster deduplicates, as it does for Prometheus).
 *
 * One event becomes one postable alert:
 *   labels:      the event's labels, plus alertname (= rule), sensor_id, severity and level
 *                (bands) from the event where labels lack them; values as strings, empty ones
 *                dropped; names outside [a-zA-Z_][a-zA-Z0-9_]* get '_' for each bad character;
 *   annotations: the event's annotations (summary_vi, summary_en, value, ...) as strings;
 *   startsAt:    the event's starts_at (its at when absent);
 *   endsAt:      firing: now + ttl, ttl = max(3 x resend_ms, 5 min), so that an Alertmanager
 *                resolves by itself only when three re-sends in a row were lost (or the hub is
 *                gone); resolved: the event's ends_at, no later than now (an endsAt ahead would
 *                keep it active) and no earlier than startsAt (Alertmanager refuses that);
 *   generatorURL: the event's generator_url, when it has one.
 * The notifier keeps the alerts it sent, keyed by their labels: firing ones are re-sent every
 * resend_ms; resolved ones too, for one ttl, so that an instance that missed the resolve learns
 * it before its copy would expire. The set is saved to <state_dir>/notify-<name>.alerts.json
 * after each delivery, so that the re-sends go on after a restart.
 * A delivery succeeds when at least one instance answered 2xx; otherwise it is retried if any
 * failure was transient (network, 408, 429, 5xx), else refused for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "cityhub/timefmt.h"
#include "internal.h"
#include "metrics.h"

#define NS_PER_MS 1000000LL
#define MIN_TTL_NS (300LL * 1000 * NS_PER_MS)
#define PATH_V2 "/api/v2/alerts"

struct instance {
	struct hub_post *post;
	int ok; /* the last request's outcome, to log changes only */
	struct hub_metric *errors;
};

struct am {
	const struct hub_cfg_notifier *cfg;
	struct instance *inst;
	size_t ninst;
	int64_t resend_ns, ttl_ns;
	int64_t last_resend_ns;
	json_t *set;     /* canonical labels -> {"alert": {...}, "resolved_until": ns or 0} */
	char *save_path; /* or NULL without a state_dir */
};

/* ---- event -> postable alert ---- */

static void put_label_name(struct hub_buf *b, const char *k)
{
	if (!*k || (*k >= '0' && *k <= '9'))
		hub_buf_puts(b, "_");
	for (; *k; k++) {
		char c = *k;
		int ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9');
		hub_buf_append(b, ok ? &c : "_", 1);
	}
}

/* Returns v as a new string, or NULL for null, objects and arrays. */
static json_t *as_string(json_t *v)
{
	if (json_is_string(v))
		return json_incref(v);
	if (json_is_boolean(v))
		return json_string(json_is_true(v) ? "true" : "false");
	if (json_is_integer(v)) {
		char buf[32];
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_string(buf);
	}
	if (!json_is_real(v))
		return NULL;
	/* The shortest of 15 or 17 digits that reads back the same: 4.2, not 4.2000000000000002. */
	char buf[40];
	double d = json_real_value(v);
	snprintf(buf, sizeof buf, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof buf, "%.17g", d);
	return json_string(buf);
}

/* Copies the members of src into a new object of strings; labels drop empty values. */
static json_t *string_map(json_t *src, int drop_empty)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	struct hub_buf name = {0};
	json_object_foreach(src, k, v)
	{
		json_t *s = as_string(v);
		if (!s || (drop_empty && json_string_length(s) == 0)) {
			json_decref(s);
			continue;
		}
		hub_buf_clear(&name);
		put_label_name(&name, k);
		json_object_set_new(out, name.data, s);
	}
	hub_buf_fini(&name);
	return out;
}

static void fill_label(json_t *labels, const char *name, const char *value)
{
	if (value && *value && !json_object_get(labels, name))
		json_object_set_new(labels, name, json_string(value));
}

static int event_time(const json_t *event, const char *key, int64_t *ns)
{
	const char *s = hub_notify_event_str(event, key);
	return s ? hub_time_parse_rfc3339(s, strlen(s), ns) : HUB_ENOENT;
}

static void put_time(json_t *alert, const char *key, int64_t ns)
{
	char buf[40];
	hub_time_format(ns, buf, sizeof buf);
	json_object_set_new(alert, key, json_string(buf));
}

/* Sets endsAt to ends_ns, or to startsAt when that is later (Alertmanager refuses an end
 * before the start, which event time ahead of the wall clock, as in a fast replay, gives). */
static void set_ends(json_t *alert, int64_t ends_ns)
{
	int64_t starts;
	const char *s = json_string_value(json_object_get(alert, "startsAt"));
	if (s && hub_time_parse_rfc3339(s, strlen(s), &starts) == HUB_OK && ends_ns < starts)
		ends_ns = starts;
	put_time(alert, "endsAt", ends_ns);
}

json_t *hub_notify_am_alert(const json_t *event, int64_t ends_ns)
{
	json_t *labels = string_map(json_object_get(event, "labels"), 1);
	fill_label(labels, "alertname", hub_notify_event_str(event, "rule"));
	fill_label(labels, "sensor_id", hub_notify_event_str(event, "sensor_id"));
	fill_label(labels, "severity", hub_notify_event_str(event, "severity"));
	fill_label(labels, "level", hub_notify_event_str(event, "level"));
	if (json_object_size(labels) == 0) {
		json_decref(labels);
		return NULL;
	}
	json_t *alert = json_object();
	json_object_set_new(alert, "labels", labels);
	json_object_set_new(alert, "annotations",
	                    string_map(json_object_get(event, "annotations"), 0));
	int64_t starts;
	if (event_time(event, "starts_at", &starts) == HUB_OK ||
	    event_time(event, "at", &starts) == HUB_OK)
		put_time(alert, "startsAt", starts);
	set_ends(alert, ends_ns);
	const char *gen = hub_notify_event_str(event, "generator_url");
	if (gen && *gen)
		json_object_set_new(alert, "generatorURL", json_string(gen));
	return alert;
}

/* ---- sending to every instance ---- */

static int transient(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

static void note_instance(struct am *a, struct instance *in, int ok, const char *why)
{
	if (!ok)
		hub_metric_add(in->errors, 1);
	if (in->ok && !ok)
		hub_warn("msg=\"alertmanager instance failing\" notifier=%s url=%s error=\"%s\"",
		         a->cfg->name, hub_post_url(in->post), why);
	else if (!in->ok && ok)
		hub_info("msg=\"alertmanager instance recovered\" notifier=%s url=%s", a->cfg->name,
		         hub_post_url(in->post));
	in->ok = ok;
}

/* POSTs body to every instance: HUB_OK when one took it, else HUB_EAGAIN or HUB_EREJECT. */
static int send_all(struct am *a, const char *body, char *err, size_t errlen)
{
	size_t took = 0, retry = 0;
	char first[300] = "";
	for (size_t i = 0; i < a->ninst; i++) {
		struct instance *in = &a->inst[i];
		char why[300] = "", reply[160];
		long status = 0;
		hub_post_send(in->post, body, strlen(body), NULL, &status, why, sizeof why);
		int ok = status >= 200 && status < 300;
		if (!ok && status != 0) {
			hub_post_reply(in->post, reply, sizeof reply);
			snprintf(why, sizeof why, "%s: HTTP %ld: %s", hub_post_url(in->post),
			         status, reply);
		}
		note_instance(a, in, ok, why);
		took += ok;
		retry += !ok && transient(status);
		if (!ok && !first[0])
			snprintf(first, sizeof first, "%s", why);
	}
	if (took > 0)
		return HUB_OK;
	snprintf(err, errlen, "no Alertmanager took the alerts (%zu tried): %s", a->ninst, first);
	return retry ? HUB_EAGAIN : HUB_EREJECT;
}

static int send_array(struct am *a, json_t *arr, char *err, size_t errlen)
{
	char *body = json_dumps(arr, JSON_COMPACT);
	if (!body) {
		snprintf(err, errlen, "alerts cannot be encoded");
		return HUB_EINVAL;
	}
	int rc = send_all(a, body, err, errlen);
	free(body);
	return rc;
}

/* ---- the set of alerts sent ---- */

static void save_set(struct am *a)
{
	if (!a->save_path)
		return;
	struct hub_buf tmp = {0};
	hub_buf_printf(&tmp, "%s.tmp", a->save_path);
	if (json_dump_file(a->set, tmp.data, JSON_COMPACT) != 0 ||
	    rename(tmp.data, a->save_path) != 0)
		hub_warn("msg=\"cannot save the alerts sent\" notifier=%s path=%s", a->cfg->name,
		         a->save_path);
	hub_buf_fini(&tmp);
}

static void load_set(struct am *a)
{
	a->set = NULL;
	if (a->save_path)
		a->set = json_load_file(a->save_path, 0, NULL);
	if (!json_is_object(a->set)) {
		json_decref(a->set);
		a->set = json_object();
	}
}

/* Records alert (a reference is taken) under its labels. */
static void remember(struct am *a, json_t *alert, int64_t resolved_until)
{
	char *key = json_dumps(json_object_get(alert, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
	json_t *entry =
	    json_pack("{sOsI}", "alert", alert, "resolved_until", (json_int_t)resolved_until);
	json_object_set_new(a->set, key, entry);
	free(key);
}

/* ---- ops ---- */

static int am_check(const struct hub_cfg_notifier *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	if (!cfg->urls || !cfg->urls[0])
		why = "an alertmanager notifier needs at least one URL (urls)";
	else if (cfg->token && strpbrk(cfg->token, "\r\n"))
		why = "token must not contain a line break";
	for (size_t i = 0; !why && cfg->urls[i]; i++)
		if (!*cfg->urls[i])
			why = "urls must not be empty";
	if (!why)
		return HUB_OK;
	snprintf(err, errlen, "notifier %s: %s", cfg->name, why);
	return HUB_EINVAL;
}

static void am_free(void *state);

static int add_instance(struct am *a, const char *url)
{
	struct hub_buf u = {0};
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	hub_buf_append(&u, url, n);
	hub_buf_puts(&u, PATH_V2);
	struct instance *in = &a->inst[a->ninst];
	in->post = hub_post_new(u.data, a->cfg->timeout_ms, a->cfg->token);
	hub_buf_clear(&u);
	hub_buf_printf(&u, "notifier=\"%s\",url=\"", a->cfg->name);
	size_t from = u.len;
	hub_notify_redact_url(url, &u);
	for (size_t i = from; i < u.len; i++)
		if (u.data[i] == '"' || u.data[i] == '\\' || u.data[i] == '\n')
			u.data[i] = '_';
	hub_buf_puts(&u, "\"");
	in->errors = hub_counter("cityhub_notify_instance_errors_total",
	                         "Requests to one Alertmanager instance that failed.", u.data);
	hub_buf_fini(&u);
	in->ok = 1;
	if (!in->post)
		return HUB_EIO;
	a->ninst++;
	return HUB_OK;
}

static int am_init(const struct hub_cfg_notifier *cfg, const struct hub_notify_env *env,
                   void **state, char *err, size_t errlen)
{
	if (am_check(cfg, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	size_t n = 0;
	while (cfg->urls[n])
		n++;
	struct am *a = hub_xcalloc(1, sizeof *a);
	a->cfg = cfg;
	a->inst = hub_xcalloc(n, sizeof *a->inst);
	for (size_t i = 0; i < n; i++)
		if (add_instance(a, cfg->urls[i]) != HUB_OK) {
			snprintf(err, errlen, "notifier %s: cannot create an HTTP client",
			         cfg->name);
			am_free(a);
			return HUB_EIO;
		}
	int resend_ms = cfg->resend_ms > 0 ? cfg->resend_ms : HUB_NOTIFY_DEFAULT_RESEND_MS;
	a->resend_ns = resend_ms * NS_PER_MS;
	a->ttl_ns = 3 * a->resend_ns > MIN_TTL_NS ? 3 * a->resend_ns : MIN_TTL_NS;
	if (env && env->state_dir && *env->state_dir) {
		struct hub_buf p = {0};
		hub_buf_printf(&p, "%s/notify-%s.alerts.json", env->state_dir, cfg->name);
		a->save_path = p.data;
	}
	load_set(a);
	*state = a;
	return HUB_OK;
}

/* Returns the alert of event with its endsAt for now, or NULL; *resolved says which. */
static json_t *alert_of(struct am *a, const json_t *event, int64_t now, int *resolved)
{
	const char *st = hub_notify_event_str(event, "state");
	*resolved = st && strcmp(st, "resolved") == 0;
	int64_t ends = now + a->ttl_ns;
	if (*resolved && event_time(event, "ends_at", &ends) != HUB_OK &&
	    event_time(event, "at", &ends) != HUB_OK)
		ends = now;
	if (*resolved && ends > now)
		ends = now;
	return hub_notify_am_alert(event, ends);
}

static int am_deliver(void *state, json_t *const *events, size_t n, char *err, size_t errlen)
{
	struct am *a = state;
	int64_t now = hub_now_real_ns();
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		int resolved;
		json_t *alert = alert_of(a, events[i], now, &resolved);
		if (!alert) {
			const char *id = hub_notify_event_str(events[i], "id");
			hub_warn("msg=\"alert event without labels, not sent\" notifier=%s id=%s",
			         a->cfg->name, id ? id : "?");
			continue;
		}
		remember(a, alert, resolved ? now + a->ttl_ns : 0);
		json_array_append_new(arr, alert);
	}
	int rc = HUB_EREJECT;
	if (json_array_size(arr) > 0)
		rc = send_array(a, arr, err, errlen);
	else
		snprintf(err, errlen, "no event had labels to send");
	json_decref(arr);
	if (rc != HUB_EAGAIN)
		save_set(a);
	return rc;
}

/* Re-sends every alert of the set (firing ones with a new endsAt); forgets old resolves. */
static int am_tick(void *state, int64_t now, char *err, size_t errlen)
{
	struct am *a = state;
	if (now - a->last_resend_ns < a->resend_ns || json_object_size(a->set) == 0)
		return HUB_OK;
	a->last_resend_ns = now;
	json_t *arr = json_array();
	const char *k;
	json_t *entry, *tmp;
	json_object_foreach_safe(a->set, tmp, k, entry)
	{
		json_int_t until = json_integer_value(json_object_get(entry, "resolved_until"));
		json_t *alert = json_object_get(entry, "alert");
		if (until > 0 && until < now) {
			json_object_del(a->set, k);
			continue;
		}
		if (until == 0)
			set_ends(alert, now + a->ttl_ns);
		json_array_append(arr, alert);
	}
	int rc = HUB_OK;
	if (json_array_size(arr) > 0)
		rc = send_array(a, arr, err, errlen);
	json_decref(arr);
	return rc == HUB_EREJECT ? HUB_EAGAIN : rc;
}

static void am_free(void *state)
{
	struct am *a = state;
	if (!a)
		return;
	for (size_t i = 0; i < a->ninst; i++)
		hub_post_free(a->inst[i].post);
	free(a->inst);
	json_decref(a->set);
	free(a->save_path);
	free(a);
}

const struct hub_notifier_ops hub_notify_alertmanager_ops = {
    .type = "alertmanager",
    .init = am_init,
    .deliver = am_deliver,
    .tick = am_tick,
    .free_state = am_free,
    .max_batch = 64,
};
