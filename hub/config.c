/* Configuration: the hub's own key tables (one row per key: path, type, place, default, range,
 * doc) bound by the option engine (cityhub/options.h) from the YAML tree (cityhub/yaml.h), and
 * the checks across keys. Loading, defaults, freeing and the generated reference all walk the
 * same rows. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netdb.h>

#include "cityhub/buf.h"
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/options.h"
#include "cityhub/yaml.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------- */
/* Key tables */

/* A message built at check time (checks run on the loading thread only). */
static _Thread_local char check_msg[320];

/* What is wrong with the authority of a URL (after "scheme://"): [user[:pw]@]host[:port], the
 * host possibly a bracketed IPv6 address; the port, when given, 1..65535. NULL when fine. */
static const char *check_authority(const char *s)
{
	size_t n = strcspn(s, "/?#");
	const char *at = memchr(s, '@', n), *host, *colon, *end = s + n;
	char *stop;
	long port;

	host = at ? at + 1 : s;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (!close)
			return "has an unclosed [ in its host";
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		if (close + 1 < end && !colon)
			return "has text after the ] of its host";
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	if (host == end || (colon && colon == host))
		return "must name a host";
	if (!colon)
		return NULL;
	errno = 0;
	port = strtol(colon + 1, &stop, 10);
	if (stop != end || colon + 1 == end || colon[1] == '-' || colon[1] == '+' || port < 1 ||
	    port > 65535) {
		snprintf(check_msg, sizeof(check_msg), "port %.*s: must be between 1 and 65535",
			 (int)(end - colon - 1), colon + 1);
		return check_msg;
	}
	return NULL;
}

static const char *check_url(const char *s, const char *const *schemes, const char *why)
{
	for (size_t i = 0; schemes[i]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(s, schemes[i], n) == 0 && s[n])
			return check_authority(s + n);
	}
	return why;
}

static const char *check_mqtt_url(const char *s)
{
	static const char *const schemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://", "ws://",
					      "wss://", NULL};

	return check_url(s, schemes, "must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or "
				     "wss:// and name a host");
}

static const char *check_http_url(const char *s)
{
	static const char *const schemes[] = {"http://", "https://", NULL};

	return check_url(s, schemes, "must start with http:// or https:// and name a host");
}

/* A PEM file the TLS library will read at connect time: readable, a file, PEM inside. */
static const char *check_pem_file(const char *s)
{
	char head[65536];
	FILE *fp = fopen(s, "rb");
	struct stat st;
	size_t n;

	if (!fp) {
		snprintf(check_msg, sizeof(check_msg), "cannot read %.200s: %s", s, strerror(errno));
		return check_msg;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		snprintf(check_msg, sizeof(check_msg), "%.200s is a directory, not a PEM file", s);
		return check_msg;
	}
	n = fread(head, 1, sizeof(head) - 1, fp);
	fclose(fp);
	head[n] = '\0';
	if (!strstr(head, "-----BEGIN ")) {
		snprintf(check_msg, sizeof(check_msg), "%.200s is not a PEM file (no -----BEGIN line)",
			 s);
		return check_msg;
	}
	return NULL;
}

/* http.listen: an IPv4 or IPv6 address or a host name that resolves (as the daemon binds). */
static const char *check_listen(const char *s)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(s, NULL, &hints, &res);

	if (rc == 0) {
		freeaddrinfo(res);
		return NULL;
	}
	snprintf(check_msg, sizeof(check_msg), "cannot resolve %.200s: %s", s, gai_strerror(rc));
	return check_msg;
}

/* Topic template: levels separated by /, each literal text or one {name} placeholder, and #
 * only as the last level. */
static const char *check_template(const char *s)
{
	for (const char *lv = s; lv; lv = strchr(lv, '/') ? strchr(lv, '/') + 1 : NULL) {
		size_t n = strcspn(lv, "/");
		const char *open = memchr(lv, '{', n), *close = memchr(lv, '}', n);
		if (n == 1 && *lv == '#' && lv[1] != '\0')
			return "# may only be the last level of a template";
		if (memchr(lv, '+', n))
			return "+ matches nothing in a template: name the level, e.g. {site}";
		if (!open && !close)
			continue;
		if (open != lv || !close || close != lv + n - 1) {
			snprintf(check_msg, sizeof(check_msg),
				 "level \"%.*s\": write a placeholder as a whole level {name}",
				 (int)(n > 100 ? 100 : n), lv);
			return check_msg;
		}
		if (n == 2 || strspn(lv + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_-") != n - 2)
			return "a {name} placeholder names a tag: letters, digits, _ and -";
	}
	return NULL;
}

static const char *check_topic_prefix(const char *s)
{
	return strpbrk(s, "+#") ? "must not contain the wildcards + or #" : NULL;
}

/* A sink's write path: absolute, no query or fragment (the hub adds the query). */
static const char *check_write_path(const char *s)
{
	if (s[0] != '/')
		return "must start with /";
	for (const char *p = s; *p; p++)
		if (*p == '?' || *p == '#' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return "must not contain ?, #, spaces or control characters";
	return NULL;
}

/* The token goes into an HTTP header line: a line break would end it and start another. */
static const char *check_header_value(const char *s)
{
	for (const char *p = s; *p; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return "must not contain line breaks or control characters";
	return NULL;
}

static const char *check_share_group(const char *s)
{
	return strpbrk(s, "/+#") ? "must not contain /, + or #" : NULL;
}

/* MQTT topic filter: # only as the last whole level, + only as a whole level. */
static const char *check_filter(const char *s)
{
	if (strncmp(s, "$cityhub", 8) == 0)
		return "$cityhub/ topics are the hub's own";
	for (const char *p = s; *p; p++) {
		bool starts = p == s || p[-1] == '/';
		bool ends = p[1] == '\0' || p[1] == '/';
		if (*p == '#' && (!starts || p[1] != '\0'))
			return "# may only be the last level of a topic filter";
		if (*p == '+' && (!starts || !ends))
			return "+ must be a whole level of a topic filter";
	}
	return NULL;
}

/* Sink names become journal cursor file names. */
static const char *check_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p))
			return "may only contain letters, digits, _ and -";
	return NULL;
}

/* Alert rule names become the alertname label and MQTT topic levels. */
static const char *check_rule_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", *p))
			return "may only contain letters, digits and _";
	return NULL;
}

/* "H1-H2" with whole hours 0..23 and H1 != H2. */
static const char *check_hours(const char *s)
{
	int a, b, n = 0;
	if (sscanf(s, "%2d-%2d%n", &a, &b, &n) != 2 || s[n] || a < 0 || a > 23 || b < 0 || b > 23 ||
	    a == b)
		return "must be two different hours 0..23 as H1-H2, e.g. 21-6";
	return NULL;
}

static const struct hub_opt_check chk_mqtt_url = {check_mqtt_url, "tcp://, ssl://, mqtt://, mqtts://, "
							  "ws:// or wss:// URL"};
static const struct hub_opt_check chk_http_url = {check_http_url, "http:// or https:// URL"};
static const struct hub_opt_check chk_topic_prefix = {check_topic_prefix, "no + or #"};
static const struct hub_opt_check chk_share_group = {check_share_group, "no /, + or #"};
static const struct hub_opt_check chk_header_value = {check_header_value,
						      "no line breaks or control characters"};
static const struct hub_opt_check chk_write_path = {check_write_path, "absolute path, no query"};
static const struct hub_opt_check chk_filter = {check_filter, "MQTT topic filter"};
static const struct hub_opt_check chk_name = {check_name, "letters, digits, _ and -"};
static const struct hub_opt_check chk_rule_name = {check_rule_name, "letters, digits and _"};
static const struct hub_opt_check chk_hours = {check_hours, "H1-H2, local hours 0..23"};
static const struct hub_opt_check chk_pem_file = {check_pem_file, "a readable PEM file"};
static const struct hub_opt_check chk_listen = {check_listen,
					"IPv4 or IPv6 address, or a host name that resolves"};
static const struct hub_opt_check chk_template = {check_template,
					  "levels of text, `{name}` placeholders, `#` last"};

static const char *const mqtt_versions[] = {"3", "5", NULL};
static const char *const fsync_names[] = {"none", "interval", "always", NULL};
static const char *const full_names[] = {"block", "drop_oldest", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const sink_types[] = {"influxdb", NULL};
static const char *const sink_starts[] = {"oldest", "head", NULL};
static const char *const rule_types[] = {"threshold", "bands", "rate", "window", "stale", NULL};
static const char *const severities[] = {"info", "warning", "major", "critical", NULL};
static const char *const stats[] = {"mean", "max", "min", NULL};
static const char *const notifier_types[] = {"alertmanager", "mqtt", "webhook", NULL};
static const char *const unknown_names[] = {"reject", "drop", "keep", NULL};

/* Short names of the engine's units, for the rows' ranges. */
#define KIB HUB_KIB
#define MIB HUB_MIB
#define GIB HUB_GIB
#define TIB HUB_TIB
#define SEC HUB_SEC
#define MIN HUB_MIN
#define HOUR HUB_HOUR

#define AT(type, member) HUB_OPT_AT(type, member)
#define CFG(member) AT(struct hub_config, member)
#define ROUTE(member) AT(struct hub_cfg_route, member)
#define SINK(member) AT(struct hub_cfg_sink, member)
#define RULE(member) AT(struct hub_cfg_rule, member)
#define NOTIFIER(member) AT(struct hub_cfg_notifier, member)
#define DAY HUB_DAY

static const struct hub_opt main_keys[] = {
	{.path = "mqtt.url", .type = HUB_OPT_STRING, .at = CFG(mqtt.url),
	 .def = "tcp://127.0.0.1:1883", .min = 1, .check = &chk_mqtt_url,
	 .doc = "Broker URL."},
	{.path = "mqtt.client_id", .type = HUB_OPT_STRING, .at = CFG(mqtt.client_id),
	 .def = "cityhub", .min = 1,
	 .doc = "Client identifier; fixed, so the broker keeps the persistent session across "
	        "restarts."},
	{.path = "mqtt.version", .type = HUB_OPT_INT, .at = CFG(mqtt.version), .def = "3", .min = 3,
	 .max = 5, .names = mqtt_versions,
	 .doc = "Protocol version: 3 (MQTT 3.1.1) or 5."},
	{.path = "mqtt.username", .type = HUB_OPT_STRING, .at = CFG(mqtt.username),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "User name, if the broker wants one."},
	{.path = "mqtt.password", .type = HUB_OPT_STRING, .at = CFG(mqtt.password),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Password, if the broker wants one."},
	{.path = "mqtt.ca_file", .type = HUB_OPT_STRING, .at = CFG(mqtt.ca_file),
	 .check = &chk_pem_file, .flags = HUB_OPT_NULLABLE,
	 .doc = "PEM file of the CAs trusted for the broker's certificate (TLS URLs)."},
	{.path = "mqtt.cert_file", .type = HUB_OPT_STRING, .at = CFG(mqtt.cert_file),
	 .check = &chk_pem_file, .flags = HUB_OPT_NULLABLE,
	 .doc = "PEM client certificate, for brokers that authenticate clients by certificate."},
	{.path = "mqtt.key_file", .type = HUB_OPT_STRING, .at = CFG(mqtt.key_file),
	 .check = &chk_pem_file, .flags = HUB_OPT_NULLABLE,
	 .doc = "PEM private key of the client certificate."},
	{.path = "mqtt.tls_insecure", .type = HUB_OPT_BOOL, .at = CFG(mqtt.tls_insecure),
	 .def = "false",
	 .doc = "Skip verification of the broker's certificate (testing only)."},
	{.path = "mqtt.keepalive_s", .type = HUB_OPT_INT, .at = CFG(mqtt.keepalive_s), .def = "30",
	 .max = 65535,
	 .doc = "Keep-alive interval in seconds; 0 disables it."},
	{.path = "mqtt.session_expiry_s", .type = HUB_OPT_INT, .at = CFG(mqtt.session_expiry_s),
	 .def = "86400", .max = INT32_MAX,
	 .doc = "MQTT 5: how long the broker keeps the session (and queues QoS 1) while we are "
	        "away."},
	{.path = "mqtt.share_group", .type = HUB_OPT_STRING, .at = CFG(mqtt.share_group), .def = "",
	 .check = &chk_share_group,
	 .doc = "Non-empty: subscribe as `$share/<group>/<filter>` so several hubs split the "
	        "load."},
	{.path = "mqtt.deadletter_prefix", .type = HUB_OPT_STRING,
	 .at = CFG(mqtt.deadletter_prefix), .def = "cityhub", .min = 1, .check = &chk_topic_prefix,
	 .doc = "Rejected messages are republished to `<prefix>/deadletter/<reason>`."},
	{.path = "mqtt.deadletter_unrouted", .type = HUB_OPT_BOOL,
	 .at = CFG(mqtt.deadletter_unrouted), .def = "false",
	 .doc = "Also dead-letter messages whose topic no route matches (always counted)."},
	{.path = "mqtt.max_inflight", .type = HUB_OPT_INT, .at = CFG(mqtt.max_inflight),
	 .def = "1000", .min = 1, .max = 65535,
	 .doc = "Most unacknowledged QoS 1 messages in flight at once."},

	{.path = "journal.dir", .type = HUB_OPT_STRING, .at = CFG(journal.dir),
	 .def = "./cityhub-journal", .min = 1,
	 .doc = "Directory of the journal segments and sink cursors (relative to the working "
	        "directory)."},
	{.path = "journal.max_bytes", .type = HUB_OPT_BYTES, .at = CFG(journal.max_bytes),
	 .def = "1GiB", .min = MIB, .max = TIB,
	 .doc = "Most disk space the journal may use; then full_policy applies."},
	{.path = "journal.segment_bytes", .type = HUB_OPT_BYTES, .at = CFG(journal.segment_bytes),
	 .def = "16MiB", .min = 64 * KIB, .max = GIB,
	 .doc = "Size of one segment file; at most max_bytes, and at least "
	        "limits.max_payload_bytes + 64KiB + 64 (a message and its topic fit in one)."},
	{.path = "journal.fsync", .type = HUB_OPT_ENUM, .at = CFG(journal.fsync), .def = "interval",
	 .names = fsync_names,
	 .doc = "When appended messages are forced to disk: never, every fsync_interval_ms, or "
	        "each one."},
	{.path = "journal.fsync_interval_ms", .type = HUB_OPT_DURATION,
	 .at = CFG(journal.fsync_interval_ms), .def = "1s", .min = 1, .max = HOUR,
	 .doc = "Interval between fsyncs when fsync is interval."},
	{.path = "journal.full_policy", .type = HUB_OPT_ENUM, .at = CFG(journal.full_policy),
	 .def = "block", .names = full_names,
	 .doc = "When max_bytes is reached: block ingest (the broker queues), or drop the oldest "
	        "segment."},

	{.path = "limits.max_payload_bytes", .type = HUB_OPT_BYTES,
	 .at = CFG(limits.max_payload_bytes), .def = "256KiB", .min = 1, .max = 256 * MIB,
	 .doc = "Larger messages are rejected."},
	{.path = "limits.max_fields", .type = HUB_OPT_INT, .at = CFG(limits.max_fields),
	 .def = "32", .min = 1, .max = 10000,
	 .doc = "Most fields in one record."},
	{.path = "limits.max_records", .type = HUB_OPT_INT, .at = CFG(limits.max_records),
	 .def = "1000", .min = 1, .max = 1000000,
	 .doc = "Most records decoded from one message."},
	{.path = "limits.max_string_bytes", .type = HUB_OPT_BYTES,
	 .at = CFG(limits.max_string_bytes), .def = "1KiB", .min = 1, .max = 64 * KIB,
	 .doc = "Longest string field value, tag value or sensor id."},
	{.path = "limits.max_series", .type = HUB_OPT_INT, .at = CFG(limits.max_series),
	 .def = "100000", .min = 1, .max = INT64_C(100000000),
	 .doc = "Most distinct series (kind + tag set); records of new series beyond it are "
	        "rejected."},
	{.path = "limits.require_timestamp", .type = HUB_OPT_BOOL,
	 .at = CFG(limits.require_timestamp), .def = "false",
	 .doc = "Reject (bad_time) a record whose payload gives no time, instead of stamping it "
	        "with the receive time: needed by an HA pair (docs/scaling.md), whose two hubs "
	        "would otherwise write such a record as two points."},

	{.path = "schemas.dir", .type = HUB_OPT_STRING, .at = CFG(schemas.dir),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Directory of `<kind>.json` schema files; empty = the schemas built into the "
	        "binary."},

	{.path = "http.listen", .type = HUB_OPT_STRING, .at = CFG(http.listen), .def = "127.0.0.1",
	 .min = 1, .check = &chk_listen,
	 .doc = "Address the operations API binds to: IPv4, IPv6 (`::1`, `::` for all) or a host "
	        "name (the first of its addresses that can be bound)."},
	{.path = "http.port", .type = HUB_OPT_INT, .at = CFG(http.port), .def = "8080",
	 .max = 65535,
	 .doc = "TCP port of the operations API; 0 disables it."},
	{.path = "http.token", .type = HUB_OPT_STRING, .at = CFG(http.token),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Bearer token required by the API; empty = none."},

	{.path = "log.level", .type = HUB_OPT_STRING, .at = CFG(log.level), .def = "info", .min = 1,
	 .names = level_names,
	 .doc = "Lowest level written to the log."},
	{.path = "log.progress_s", .type = HUB_OPT_INT, .at = CFG(log.progress_s), .def = "60",
	 .min = 0, .max = 86400,
	 .doc = "Seconds between two `msg=progress` info lines (messages, records, rejects, "
	        "journal lag, alerts firing); 0 = none."},

	{.path = "alerts.rule_files", .type = HUB_OPT_LIST, .at = CFG(alerts.rule_files),
	 .doc = "Rule files (each a mapping with `rules:`), relative to this file's directory."},
	{.path = "alerts.state_dir", .type = HUB_OPT_STRING, .at = CFG(alerts.state_dir),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Directory of the alert state snapshot and delivery marks; empty = journal.dir."},
	{.path = "alerts.snapshot_ms", .type = HUB_OPT_DURATION, .at = CFG(alerts.snapshot_ms),
	 .def = "10s", .min = 100, .max = 10 * MIN,
	 .doc = "Alert state is saved at least this often while it changes (and before any "
	        "transition is notified)."},
	{.path = "alerts.aqi", .type = HUB_OPT_BOOL, .at = CFG(alerts.aqi), .def = "true",
	 .doc = "Compute the hourly VN_AQI of every air_quality station and write it as kind "
	        "`aqi`."},
	{.path = "alerts.max_instances", .type = HUB_OPT_INT, .at = CFG(alerts.max_instances),
	 .def = "200000", .min = 1, .max = INT64_C(10000000),
	 .doc = "Most alert instances (rule x sensor) tracked; further ones are counted and not "
	        "evaluated."},
	{.path = "alerts.utc_offset_h", .type = HUB_OPT_INT, .at = CFG(alerts.utc_offset_h),
	 .def = "7", .min = -12, .max = 14,
	 .doc = "Local time of rules' `hours:` (7 = Asia/Ho_Chi_Minh)."},

	{.path = "live.registry", .type = HUB_OPT_STRING, .at = CFG(live.registry),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Sensor registry file (YAML list or CSV with a header: id, kind, district, lat, "
	        "lon, name_vi, name_en, interval_s), relative to this file's directory; empty = "
	        "none."},
	{.path = "live.max_sensors", .type = HUB_OPT_INT, .at = CFG(live.max_sensors),
	 .def = "20000", .min = 1, .max = 1000000,
	 .doc = "Most sensors the live state tracks; further ones are left out of /api/v1."},
	{.path = "live.heartbeat_ms", .type = HUB_OPT_DURATION, .at = CFG(live.heartbeat_ms),
	 .def = "15s", .min = 100, .max = MIN,
	 .doc = "Interval of the heartbeat comments on /api/v1/stream."},
	{.path = "live.stream_backlog", .type = HUB_OPT_INT, .at = CFG(live.stream_backlog),
	 .def = "1024", .min = 16, .max = 4000,
	 .doc = "Events an /api/v1/stream client may lag behind before it is dropped."},
	{.path = "live.max_clients", .type = HUB_OPT_INT, .at = CFG(live.max_clients),
	 .def = "500", .min = 1, .max = 2000,
	 .doc = "Most /api/v1/stream clients at once; more are answered 503."},
};

static const struct hub_opt route_keys[] = {
	{.path = "filter", .type = HUB_OPT_STRING, .at = ROUTE(filter), .min = 1,
	 .check = &chk_filter, .flags = HUB_OPT_REQUIRED,
	 .doc = "MQTT topic filter this route subscribes to."},
	{.path = "adapter", .type = HUB_OPT_STRING, .at = ROUTE(adapter), .min = 1,
	 .flags = HUB_OPT_REQUIRED,
	 .doc = "Payload format of the messages (an adapter name, e.g. native, senml)."},
	{.path = "kind", .type = HUB_OPT_STRING, .at = ROUTE(kind), .flags = HUB_OPT_NULLABLE,
	 .doc = "Kind of the records when neither the payload nor the template says."},
	{.path = "template", .type = HUB_OPT_STRING, .at = ROUTE(template), .check = &chk_template,
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Topic template naming levels as `{kind}`, `{sensor_id}` or a tag name, e.g. "
	        "`city/{kind}/{district}/{sensor_id}`."},
	{.path = "options", .type = HUB_OPT_MAP, .at = ROUTE(options),
	 .doc = "Adapter options: the keys of the adapter's own table (`routes[].options` of "
	        "each adapter, below)."},
	{.path = "kinds", .type = HUB_OPT_MAP, .at = ROUTE(kinds),
	 .doc = "Maps a kind to the fields that go to a record of that kind, e.g. `{device: "
	        "[battery_v]}`: one message then yields records of several kinds "
	        "(docs/payloads.md)."},
	{.path = "unknown_fields", .type = HUB_OPT_ENUM, .at = ROUTE(unknown_fields),
	 .def = "reject", .names = unknown_names,
	 .doc = "A field its kind does not define: reject the message, drop the field (counted), "
	        "or keep it raw."},
	{.path = "keep_max_fields", .type = HUB_OPT_INT, .at = ROUTE(keep_max_fields), .def = "8",
	 .min = 1, .max = 32,
	 .doc = "unknown_fields: keep: most unknown fields kept per record; the rest are "
	        "dropped."},
};

static const struct hub_opt sink_keys[] = {
	{.path = "name", .type = HUB_OPT_STRING, .at = SINK(name), .min = 1, .check = &chk_name,
	 .flags = HUB_OPT_REQUIRED,
	 .doc = "Unique name; it names the sink's cursor in the journal."},
	{.path = "type", .type = HUB_OPT_STRING, .at = SINK(type), .def = "influxdb", .min = 1,
	 .names = sink_types,
	 .doc = "Kind of store."},
	{.path = "url", .type = HUB_OPT_STRING, .at = SINK(url), .min = 1, .check = &chk_http_url,
	 .flags = HUB_OPT_REQUIRED,
	 .doc = "Base URL of the store, e.g. http://127.0.0.1:8086."},
	{.path = "version", .type = HUB_OPT_INT, .at = SINK(version), .def = "1", .min = 1,
	 .max = 2,
	 .doc = "InfluxDB API: 1 (/write) or 2 (/api/v2/write)."},
	{.path = "database", .type = HUB_OPT_STRING, .at = SINK(database), .def = "city",
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "v1: database to write to (required for v1)."},
	{.path = "retention_policy", .type = HUB_OPT_STRING, .at = SINK(retention_policy),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "v1: retention policy; empty = the database's default."},
	{.path = "username", .type = HUB_OPT_STRING, .at = SINK(username),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "v1: user name, if authentication is on."},
	{.path = "password", .type = HUB_OPT_STRING, .at = SINK(password),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "v1: password, if authentication is on."},
	{.path = "org", .type = HUB_OPT_STRING, .at = SINK(org), .flags = HUB_OPT_NULLABLE,
	 .doc = "v2: organization (required for v2)."},
	{.path = "bucket", .type = HUB_OPT_STRING, .at = SINK(bucket), .flags = HUB_OPT_NULLABLE,
	 .doc = "v2: bucket (required for v2)."},
	{.path = "token", .type = HUB_OPT_STRING, .at = SINK(token), .check = &chk_header_value,
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "v2: API token (required for v2)."},
	{.path = "gzip", .type = HUB_OPT_BOOL, .at = SINK(gzip), .def = "false",
	 .doc = "Compress request bodies."},
	{.path = "batch_max_lines", .type = HUB_OPT_INT, .at = SINK(batch_max_lines), .def = "5000",
	 .min = 1, .max = 1000000,
	 .doc = "Most lines in one write request."},
	{.path = "batch_max_bytes", .type = HUB_OPT_BYTES, .at = SINK(batch_max_bytes),
	 .def = "1MiB", .min = KIB, .max = 64 * MIB,
	 .doc = "Most bytes (before compression) in one write request."},
	{.path = "flush_ms", .type = HUB_OPT_DURATION, .at = SINK(flush_ms), .def = "200ms",
	 .min = 1, .max = 10 * MIN,
	 .doc = "A partial batch is sent after this long."},
	{.path = "timeout_ms", .type = HUB_OPT_DURATION, .at = SINK(timeout_ms), .def = "10s",
	 .min = 100, .max = 10 * MIN,
	 .doc = "Timeout of one write request."},
	{.path = "retry_base_ms", .type = HUB_OPT_DURATION, .at = SINK(retry_base_ms),
	 .def = "100ms", .min = 1, .max = MIN,
	 .doc = "First retry delay; doubles on each failure (full jitter)."},
	{.path = "retry_cap_ms", .type = HUB_OPT_DURATION, .at = SINK(retry_cap_ms), .def = "30s",
	 .min = 1, .max = HOUR,
	 .doc = "Longest retry delay; at least retry_base_ms."},
	{.path = "path", .type = HUB_OPT_STRING, .at = SINK(path), .check = &chk_write_path,
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Write path instead of `/write` (v1) or `/api/v2/write` (v2), e.g. "
	        "`/insert/0/influx/write` for VictoriaMetrics cluster; the version's query "
	        "parameters are still added."},
	{.path = "start", .type = HUB_OPT_ENUM, .at = SINK(start), .def = "oldest",
	 .names = sink_starts,
	 .doc = "Where a sink seen for the first time starts: the oldest entry the journal holds, "
	        "or its head (skip the backlog). A sink that ran before resumes at its cursor."},
};

static const struct hub_opt rule_keys[] = {
	{.path = "name", .type = HUB_OPT_STRING, .at = RULE(name), .min = 1,
	 .check = &chk_rule_name, .flags = HUB_OPT_REQUIRED,
	 .doc = "Alert name (the `alertname` label); unique over every rule."},
	{.path = "type", .type = HUB_OPT_STRING, .at = RULE(type), .min = 1, .names = rule_types,
	 .flags = HUB_OPT_REQUIRED,
	 .doc = "Kind of rule."},
	{.path = "kind", .type = HUB_OPT_STRING, .at = RULE(kind), .flags = HUB_OPT_NULLABLE,
	 .doc = "Records of this kind; `*` or empty = any (stale rules only)."},
	{.path = "field", .type = HUB_OPT_STRING, .at = RULE(field), .flags = HUB_OPT_NULLABLE,
	 .doc = "The field evaluated (every type but stale)."},
	{.path = "sensor", .type = HUB_OPT_STRING, .at = RULE(sensor), .flags = HUB_OPT_NULLABLE,
	 .doc = "Glob (`*`, `?`) over sensor_id; empty = every sensor."},
	{.path = "match", .type = HUB_OPT_MAP, .at = RULE(match),
	 .doc = "Tags the record must carry, as `tag: value`."},
	{.path = "hours", .type = HUB_OPT_STRING, .at = RULE(hours), .check = &chk_hours,
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Only readings whose local hour h has H1 <= h < H2 (wrapping past midnight)."},
	{.path = "above", .type = HUB_OPT_DOUBLE, .at = RULE(above),
	 .doc = "Breach at value >= above (threshold, rate, window)."},
	{.path = "below", .type = HUB_OPT_DOUBLE, .at = RULE(below),
	 .doc = "Breach at value <= below (threshold, rate, window)."},
	{.path = "clear", .type = HUB_OPT_DOUBLE, .at = RULE(clear),
	 .doc = "Hysteresis: the breach ends only past this value; default the threshold itself."},
	{.path = "bands", .type = HUB_OPT_JSON, .at = RULE(bands),
	 .doc = "bands: ascending `{level, above, severity}` items."},
	{.path = "clear_margin", .type = HUB_OPT_DOUBLE, .at = RULE(clear_margin), .def = "0",
	 .doc = "bands: a band is left downward only below its edge minus this."},
	{.path = "window", .type = HUB_OPT_DURATION, .at = RULE(window_ms), .def = "0",
	 .max = 31 * DAY,
	 .doc = "rate, window: length of the sliding window."},
	{.path = "stat", .type = HUB_OPT_STRING, .at = RULE(stat), .def = "mean", .min = 1,
	 .names = stats,
	 .doc = "window: the aggregate."},
	{.path = "min_samples", .type = HUB_OPT_INT, .at = RULE(min_samples), .def = "2", .min = 1,
	 .max = 100000,
	 .doc = "rate, window: fewest readings in the window to judge it."},
	{.path = "factor", .type = HUB_OPT_DOUBLE, .at = RULE(factor), .def = "3",
	 .doc = "stale: silent for factor x the usual interval."},
	{.path = "interval", .type = HUB_OPT_DURATION, .at = RULE(interval_ms), .def = "0",
	 .max = 31 * DAY,
	 .doc = "stale: the usual interval; 0 = learned per sensor from its receive gaps."},
	{.path = "min_silence", .type = HUB_OPT_DURATION, .at = RULE(min_silence_ms), .def = "1m",
	 .max = 31 * DAY,
	 .doc = "stale: never stale before this much silence."},
	{.path = "for", .type = HUB_OPT_DURATION, .at = RULE(for_ms), .def = "0", .max = 31 * DAY,
	 .doc = "The breach must last this long (event time) before the alert fires."},
	{.path = "keep_firing_for", .type = HUB_OPT_DURATION, .at = RULE(keep_firing_for_ms),
	 .def = "0", .max = 31 * DAY,
	 .doc = "Keep firing this long after the breach ends."},
	{.path = "severity", .type = HUB_OPT_STRING, .at = RULE(severity), .def = "warning",
	 .min = 1, .names = severities,
	 .doc = "The `severity` label (bands: per band)."},
	{.path = "labels", .type = HUB_OPT_MAP, .at = RULE(labels),
	 .doc = "Extra labels, as `name: value`."},
	{.path = "summary_vi", .type = HUB_OPT_STRING, .at = RULE(summary_vi),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Summary in Vietnamese; `{{sensor_id}} {{value}} {{level}} {{district}} "
	        "{{kind}}` are filled in."},
	{.path = "summary_en", .type = HUB_OPT_STRING, .at = RULE(summary_en),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "Summary in English; the same placeholders."},
};

static const struct hub_opt notifier_keys[] = {
	{.path = "name", .type = HUB_OPT_STRING, .at = NOTIFIER(name), .min = 1, .check = &chk_name,
	 .flags = HUB_OPT_REQUIRED,
	 .doc = "Unique name; it names the notifier's delivery mark in alerts.state_dir."},
	{.path = "type", .type = HUB_OPT_STRING, .at = NOTIFIER(type), .min = 1,
	 .names = notifier_types, .flags = HUB_OPT_REQUIRED,
	 .doc = "Where alerts go."},
	{.path = "urls", .type = HUB_OPT_LIST, .at = NOTIFIER(urls),
	 .doc = "alertmanager: the base URL of every instance (all are sent every alert); "
	        "webhook: the one URL posted to."},
	{.path = "topic_prefix", .type = HUB_OPT_STRING, .at = NOTIFIER(topic_prefix),
	 .def = "cityhub", .min = 1, .check = &chk_topic_prefix,
	 .doc = "mqtt: retained state at `<prefix>/alerts/<rule>/<sensor>`, events on "
	        "`<prefix>/alerts/events`."},
	{.path = "secret", .type = HUB_OPT_STRING, .at = NOTIFIER(secret),
	 .flags = HUB_OPT_NULLABLE,
	 .doc = "webhook: key of the `X-Cityhub-Signature: sha256=<HMAC>` header."},
	{.path = "token", .type = HUB_OPT_STRING, .at = NOTIFIER(token), .flags = HUB_OPT_NULLABLE,
	 .doc = "alertmanager, webhook: bearer token sent with each request."},
	{.path = "resend_ms", .type = HUB_OPT_DURATION, .at = NOTIFIER(resend_ms), .def = "1m",
	 .min = SEC, .max = HOUR,
	 .doc = "alertmanager: firing alerts are sent again this often."},
	{.path = "queue_max", .type = HUB_OPT_INT, .at = NOTIFIER(queue_max), .def = "10000",
	 .min = 1, .max = 10000000,
	 .doc = "Most events waiting; beyond it new events are dropped and counted."},
	{.path = "timeout_ms", .type = HUB_OPT_DURATION, .at = NOTIFIER(timeout_ms), .def = "5s",
	 .min = 100, .max = 10 * MIN,
	 .doc = "Timeout of one request."},
	{.path = "retry_base_ms", .type = HUB_OPT_DURATION, .at = NOTIFIER(retry_base_ms),
	 .def = "500ms", .min = 1, .max = MIN,
	 .doc = "First retry delay; doubles on each failure (full jitter)."},
	{.path = "retry_cap_ms", .type = HUB_OPT_DURATION, .at = NOTIFIER(retry_cap_ms),
	 .def = "30s", .min = 1, .max = HOUR,
	 .doc = "Longest retry delay."},
};

_Static_assert(ARRAY_LEN(main_keys) <= HUB_OPT_MAX_KEYS, "main_keys too long");
_Static_assert(ARRAY_LEN(rule_keys) <= HUB_OPT_MAX_KEYS, "rule_keys too long");
_Static_assert(ARRAY_LEN(notifier_keys) <= HUB_OPT_MAX_KEYS, "notifier_keys too long");
_Static_assert(ARRAY_LEN(route_keys) <= HUB_OPT_MAX_KEYS, "route_keys too long");
_Static_assert(ARRAY_LEN(sink_keys) <= HUB_OPT_MAX_KEYS, "sink_keys too long");

static const struct hub_opt_table main_table = {main_keys, ARRAY_LEN(main_keys)};
static const struct hub_opt_table route_table = {route_keys, ARRAY_LEN(route_keys)};
static const struct hub_opt_table sink_table = {sink_keys, ARRAY_LEN(sink_keys)};
static const struct hub_opt_table rule_table = {rule_keys, ARRAY_LEN(rule_keys)};
static const struct hub_opt_table notifier_table = {notifier_keys, ARRAY_LEN(notifier_keys)};

static const struct section {
	const char *name;
	const char *doc;
} sections[] = {
	{"mqtt",
	 "The broker connection. Messages are received with QoS 1 in a persistent session."},
	{"journal", "The on-disk journal every message is appended to before it is acknowledged."},
	{"limits",
	 "Bounds on hostile or broken input; what exceeds them is rejected with a reason."},
	{"schemas", "The canonical kinds (fields, units, ranges)."},
	{"http", "The operations API: /healthz, /readyz, /metrics, /api/v1 (docs/operations.md)."},
	{"log", "Logging (logfmt on standard error)."},
	{"alerts", "The alert engine (docs/alerts.md): rule files, state, the derived VN_AQI."},
	{"live", "The live state behind /api/v1 (docs/operations.md): sensor registry, limits."},
};

/* Default route and sink used when the file has no routes: or sinks: key. */
static const char *const default_route[] = {
	"filter", "city/#", "adapter", "native", "template", "city/{kind}/{district}/{sensor_id}",
	NULL};
static const char *const default_sink[] = {"name", "influxdb", "url", "http://127.0.0.1:8086",
					   NULL};

/* ---------------------------------------------------------------------------------------- */
/* Checks that need more than one key of a sink; sinks[0..i-1] are already bound. */
static int check_sink(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
		      size_t i, const char *path, const int *lines)
{
	const struct hub_cfg_sink *sinks = arr, *s = &sinks[i];
	(void)item;
	char kp[HUB_YAML_PATH_MAX];
	const char *missing = NULL;

	for (size_t j = 0; j < i; j++) {
		if (!sinks[j].name || strcmp(sinks[j].name, s->name) != 0) /* NULL: a bad name */
			continue;
		hub_yaml_child_path(kp, path, "name");
		return hub_yaml_fail(c, hub_options_line(lines, &sink_table, "name"), kp,
			    "duplicate sink name \"%s\" (also sinks[%zu])", s->name, j);
	}
	if (s->version == 1 && !s->database)
		missing = "database";
	else if (s->version == 2)
		missing = !s->org ? "org" : !s->bucket ? "bucket" : !s->token ? "token" : NULL;
	if (missing) {
		hub_yaml_child_path(kp, path, missing);
		return hub_yaml_fail(c, s->line, kp, "required when version is %d", s->version);
	}
	if (s->retry_base_ms > s->retry_cap_ms) {
		int a = hub_options_line(lines, &sink_table, "retry_base_ms");
		int b = hub_options_line(lines, &sink_table, "retry_cap_ms");
		hub_yaml_child_path(kp, path, "retry_base_ms");
		return hub_yaml_fail(c, a > b ? a : b, kp, "must not exceed retry_cap_ms");
	}
	return HUB_OK;
}

/* A route's options: bound against its adapter's table (when the adapter declares one), so
 * that each bad key is reported on its own line; the pipeline binds them again when it builds
 * the route. An unknown adapter is the pipeline's to report. */
static int check_route(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
		       size_t i, const char *path, const int *lines)
{
	const struct hub_cfg_route *r = (const struct hub_cfg_route *)arr + i;
	const struct hub_adapter *a = hub_adapter_lookup(c->user, r->adapter);
	const struct hub_yaml_node *opts = hub_options_get(item, "options");
	char kp[HUB_YAML_PATH_MAX];
	void *base;
	int rc;

	(void)lines;
	if (!a || !a->options)
		return HUB_OK;
	hub_yaml_child_path(kp, path, "options");
	base = hub_xcalloc(1, a->options_size);
	/* a missing key is reported on the line of `options:` (the value may start below it) */
	rc = hub_options_bind_all(c, opts, a->options, kp, base,
				  opts ? hub_options_get_key_line(item, "options") : r->line);
	hub_options_free(a->options, base);
	free(base);
	return rc;
}

/* An empty routes: would subscribe to nothing (Paho sends an empty SUBSCRIBE, which the
 * broker answers by closing the connection): refused, see docs/config.md. */
static const struct hub_opt_list route_list = {
	"routes", &route_table, sizeof(struct hub_cfg_route), offsetof(struct hub_cfg_route, line),
	check_route, 1,
	"must list at least one route (leave routes: out for the default route city/#)"};
static const struct hub_opt_list sink_list = {
	"sinks", &sink_table, sizeof(struct hub_cfg_sink), offsetof(struct hub_cfg_sink, line),
	check_sink, 0, NULL};
static int check_rule(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
		      size_t i, const char *path, const int *lines);
static int check_notifier(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
			  size_t i, const char *path, const int *lines);
static const struct hub_opt_list rule_list = {
	"rules", &rule_table, sizeof(struct hub_cfg_rule), offsetof(struct hub_cfg_rule, line),
	check_rule, 0, NULL};
static const struct hub_opt_list notifier_list = {
	"notifiers", &notifier_table, sizeof(struct hub_cfg_notifier),
	offsetof(struct hub_cfg_notifier, line), check_notifier, 0, NULL};

/* Appends the rules bound from seq (read from file) to cfg->rules. */
static int add_rules(struct hub_yaml_ctx *c, const struct hub_yaml_node *seq, struct hub_config *cfg)
{
	void *arr;
	size_t n;
	int rc = hub_options_bind_list(c, &rule_list, seq, &arr, &n);

	if (rc != HUB_OK)
		return rc;
	cfg->rules = hub_xrealloc(cfg->rules, (cfg->nrules + n + 1) * sizeof(*cfg->rules));
	for (size_t i = 0; i < n; i++) {
		struct hub_cfg_rule *r = (struct hub_cfg_rule *)arr + i;
		r->file = hub_xstrdup(c->file);
		cfg->rules[cfg->nrules++] = *r;
	}
	free(arr);
	return HUB_OK;
}

static bool label_name_ok(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* labels: and match: are objects of strings; labels may not set the engine's own labels. */
static int check_string_map(struct hub_yaml_ctx *c, const json_t *obj, const char *path, int line,
			    bool labels)
{
	static const char *const reserved[] = {"alertname", "sensor_id", "severity", "level",
					       "kind", NULL};
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (!json_is_string(v))
			return hub_yaml_fail(c, line, path, "%s: the value must be a string", key);
		if (labels && (!label_name_ok(key) || hub_options_is_one_of(key, reserved)))
			return hub_yaml_fail(c, line, path, "%s: not a label name of your own (letters, "
				    "digits, _; not alertname, sensor_id, severity, level, kind)", key);
	}
	return HUB_OK;
}

/* bands: ascending {level, above, severity?} items; levels become label values. */
static int check_bands(struct hub_yaml_ctx *c, const json_t *bands, const char *path, int line)
{
	double prev = -INFINITY;
	size_t i;
	json_t *b;

	if (!json_is_array(bands) || json_array_size(bands) == 0 || json_array_size(bands) > 16)
		return hub_yaml_fail(c, line, path, "expected 1 to 16 items {level, above, severity}");
	json_array_foreach(bands, i, b) {
		json_t *lv = json_object_get(b, "level"), *ab = json_object_get(b, "above");
		json_t *sv = json_object_get(b, "severity");
		if (!json_is_object(b) || json_object_size(b) != 2u + (sv != NULL) ||
		    !json_is_string(lv) || !json_string_length(lv) || !json_is_number(ab))
			return hub_yaml_fail(c, line, path, "item %zu: expected {level: NAME, above: NUMBER, "
				    "severity: ...} and nothing else", i);
		if (sv && (!json_is_string(sv) || !hub_options_is_one_of(json_string_value(sv), severities)))
			return hub_yaml_fail(c, line, path, "item %zu: severity must be one of info, warning, "
				    "major, critical", i);
		if (json_number_value(ab) <= prev)
			return hub_yaml_fail(c, line, path, "item %zu: bands must be in ascending order", i);
		prev = json_number_value(ab);
	}
	return HUB_OK;
}

static int rule_fail(struct hub_yaml_ctx *c, const struct hub_cfg_rule *r, const char *path,
		     const char *key, const char *what, const int *lines)
{
	char kp[HUB_YAML_PATH_MAX];
	int line = hub_options_line(lines, &rule_table, key);
	hub_yaml_child_path(kp, path, key);
	return hub_yaml_fail(c, line ? line : r->line, kp, "%s", what);
}

/* What a rule's type needs (file:line of the key at fault, else of the rule). */
static int check_rule_type(struct hub_yaml_ctx *c, const struct hub_cfg_rule *r, const char *path,
			   const int *lines)
{
	bool stale = strcmp(r->type, "stale") == 0, bands = strcmp(r->type, "bands") == 0;
	bool windowed = strcmp(r->type, "rate") == 0 || strcmp(r->type, "window") == 0;

	if (!stale && (!r->kind || strcmp(r->kind, "*") == 0))
		return rule_fail(c, r, path, "kind", "required (a kind name) for this type", lines);
	if (!stale && !r->field)
		return rule_fail(c, r, path, "field", "required for this type", lines);
	if (bands)
		return r->bands ? check_bands(c, r->bands, path, r->line)
				: rule_fail(c, r, path, "bands", "required for type bands", lines);
	if (r->bands)
		return rule_fail(c, r, path, "bands", "only for type bands", lines);
	if (windowed && r->window_ms <= 0)
		return rule_fail(c, r, path, "window", "required for this type", lines);
	if (stale)
		return r->factor > 0 ? HUB_OK
				     : rule_fail(c, r, path, "factor", "must be above 0", lines);
	if (isnan(r->above) == isnan(r->below))
		return rule_fail(c, r, path, "above", "give exactly one of above and below", lines);
	if (!isnan(r->clear) && (isnan(r->above) ? r->clear < r->below : r->clear > r->above))
		return rule_fail(c, r, path, "clear",
				 "must be on the safe side of the threshold (at most above, at "
				 "least below)", lines);
	return HUB_OK;
}

static int check_rule(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
		      size_t i, const char *path, const int *lines)
{
	const struct hub_cfg_rule *r = (const struct hub_cfg_rule *)arr + i;
	(void)item;
	char kp[HUB_YAML_PATH_MAX];
	int rc;

	hub_yaml_child_path(kp, path, "labels");
	if ((rc = check_string_map(c, r->labels, kp, r->line, true)) != HUB_OK)
		return rc;
	hub_yaml_child_path(kp, path, "match");
	if ((rc = check_string_map(c, r->match, kp, r->line, false)) != HUB_OK)
		return rc;
	return check_rule_type(c, r, path, lines);
}

static int check_notifier(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
			  size_t i, const char *path, const int *lines)
{
	const struct hub_cfg_notifier *all = arr, *n = &all[i];
	(void)item;
	char kp[HUB_YAML_PATH_MAX];
	bool http = strcmp(n->type, "mqtt") != 0;
	const char *why;

	for (size_t j = 0; j < i; j++)
		if (strcmp(all[j].name, n->name) == 0)
			return hub_yaml_fail(c, n->line, path, "duplicate notifier name \"%s\" (also "
				    "notifiers[%zu])", n->name, j);
	hub_yaml_child_path(kp, path, "urls");
	if (http && (!n->urls || !n->urls[0]))
		return hub_yaml_fail(c, n->line, kp, "required for type %s", n->type);
	if (!http && n->urls && n->urls[0])
		return hub_yaml_fail(c, hub_options_line(lines, &notifier_table, "urls"), kp, "not used by type mqtt");
	for (size_t j = 0; n->urls && n->urls[j]; j++)
		if ((why = check_http_url(n->urls[j])))
			return hub_yaml_fail(c, hub_options_line(lines, &notifier_table, "urls"), kp, "%s: %s",
				    n->urls[j], why);
	if (strcmp(n->type, "webhook") == 0 && n->urls[1])
		return hub_yaml_fail(c, hub_options_line(lines, &notifier_table, "urls"), kp,
			    "a webhook posts to one URL");
	return HUB_OK;
}

static bool is_section(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(sections); i++)
		if (strcmp(sections[i].name, name) == 0)
			return true;
	return false;
}

static int bind_top_key(struct hub_yaml_ctx *c, const struct hub_yaml_node *key, const struct hub_yaml_node *val,
			struct hub_config *cfg, int *lines)
{
	void *arr;
	int rc;

	if (strcmp(key->text, "routes") == 0) {
		rc = hub_options_bind_list(c, &route_list, val, &arr, &cfg->nroutes);
		cfg->routes = arr;
		return rc;
	}
	if (strcmp(key->text, "sinks") == 0) {
		rc = hub_options_bind_list(c, &sink_list, val, &arr, &cfg->nsinks);
		cfg->sinks = arr;
		return rc;
	}
	if (strcmp(key->text, "rules") == 0)
		return add_rules(c, val, cfg);
	if (strcmp(key->text, "notifiers") == 0) {
		rc = hub_options_bind_list(c, &notifier_list, val, &arr, &cfg->nnotifiers);
		cfg->notifiers = arr;
		return rc;
	}
	if (!is_section(key->text))
		return hub_yaml_fail(c, key->line, key->text, "unknown key");
	return hub_options_bind(c, val, &main_table, key->text, key->text, cfg, lines);
}

static int check_journal(struct hub_yaml_ctx *c, const struct hub_config *cfg, const int *lines)
{
	int a = hub_options_line(lines, &main_table, "journal.segment_bytes");
	int b = hub_options_line(lines, &main_table, "journal.max_bytes");
	char max[32];

	if (a < 0 || b < 0 || cfg->journal.segment_bytes <= cfg->journal.max_bytes)
		return HUB_OK;
	hub_options_format(HUB_OPT_BYTES, cfg->journal.max_bytes, max, sizeof(max));
	return hub_yaml_fail(c, a > b ? a : b, "journal.segment_bytes",
		    "must not exceed journal.max_bytes (%s)", max);
}

/* An entry must fit in one segment: the largest payload, a topic (MQTT caps it at 64 KiB) and
 * the entry header. */
static int check_segment_fits(struct hub_yaml_ctx *c, const struct hub_config *cfg,
			      const int *lines)
{
	int a = hub_options_line(lines, &main_table, "journal.segment_bytes");
	int b = hub_options_line(lines, &main_table, "limits.max_payload_bytes");
	char pay[32];

	if (a < 0 || b < 0 || /* a bad value, already reported */
	    cfg->journal.segment_bytes >= cfg->limits.max_payload_bytes + 65536 + 64)
		return HUB_OK;
	hub_options_format(HUB_OPT_BYTES, cfg->limits.max_payload_bytes, pay, sizeof(pay));
	return hub_yaml_fail(c, a > b ? a : b, "journal.segment_bytes",
		    "must exceed limits.max_payload_bytes (%s) by at least 64KiB", pay);
}

static bool is_tls_url(const char *url)
{
	return strncmp(url, "ssl://", 6) == 0 || strncmp(url, "mqtts://", 8) == 0 ||
	       strncmp(url, "wss://", 6) == 0;
}

/* TLS options with a plain URL would be ignored without a word: refuse them. */
static int check_mqtt(struct hub_yaml_ctx *c, const struct hub_config *cfg, const int *lines)
{
	static const char *const tls_keys[] = {"mqtt.ca_file", "mqtt.cert_file", "mqtt.key_file",
					       "mqtt.tls_insecure"};
	const bool set[] = {cfg->mqtt.ca_file != NULL, cfg->mqtt.cert_file != NULL,
			    cfg->mqtt.key_file != NULL, cfg->mqtt.tls_insecure != 0};
	int url_line = hub_options_line(lines, &main_table, "mqtt.url");
	int rc = HUB_OK;

	if (url_line < 0)
		return HUB_OK;
	for (size_t i = 0; i < ARRAY_LEN(tls_keys) && !is_tls_url(cfg->mqtt.url); i++) {
		int line = hub_options_line(lines, &main_table, tls_keys[i]);
		if (line > 0 && set[i])
			rc = hub_yaml_fail(c, line, tls_keys[i],
				  "TLS option given with the non-TLS URL %s (use ssl:// or mqtts://)",
				  cfg->mqtt.url);
	}
	if (cfg->mqtt.key_file && !cfg->mqtt.cert_file && hub_options_line(lines, &main_table,
								     "mqtt.key_file") > 0)
		rc = hub_yaml_fail(c, hub_options_line(lines, &main_table, "mqtt.key_file"), "mqtt.key_file",
			  "given without mqtt.cert_file");
	return rc;
}

/* Where keys that later checks name were set (0 = not in the file). */
struct notable {
	int share_group, aqi;
};

static int bind_root(struct hub_yaml_ctx *c, const struct hub_yaml_node *root, struct hub_config *cfg,
		     bool *have_routes, bool *have_sinks, struct notable *at)
{
	int lines[HUB_OPT_MAX_KEYS] = {0};
	int rc;

	if (!root || hub_yaml_is_null(root))
		return HUB_OK;
	if (root->kind != HUB_YAML_MAP)
		return hub_yaml_fail(c, root->line, NULL, "the file must be a mapping of sections "
			    "(mqtt, journal, ...), not %s", hub_yaml_kind_noun(root));
	rc = hub_yaml_check_keys(c, root, "");
	for (size_t i = 0; i < root->n; i += 2) {
		const struct hub_yaml_node *key = root->items[i];
		if (!hub_yaml_key_bindable(root, i))
			continue;
		if (bind_top_key(c, key, root->items[i + 1], cfg, lines) != HUB_OK)
			rc = HUB_EINVAL;
		*have_routes |= strcmp(key->text, "routes") == 0;
		*have_sinks |= strcmp(key->text, "sinks") == 0;
	}
	if (check_journal(c, cfg, lines) != HUB_OK)
		rc = HUB_EINVAL;
	if (check_segment_fits(c, cfg, lines) != HUB_OK)
		rc = HUB_EINVAL;
	if (check_mqtt(c, cfg, lines) != HUB_OK)
		rc = HUB_EINVAL;
	at->share_group = hub_options_line(lines, &main_table, "mqtt.share_group");
	at->aqi = hub_options_line(lines, &main_table, "alerts.aqi");
	return rc;
}

static int set_pairs(struct hub_yaml_ctx *c, const struct hub_opt_table *t, const char *const *pairs, void *base)
{
	int rc;

	for (size_t i = 0; pairs[i]; i += 2)
		if ((rc = hub_options_set_text(c, t, pairs[i], pairs[i + 1], base)) != HUB_OK)
			return rc;
	return HUB_OK;
}

static int add_defaults(struct hub_yaml_ctx *c, struct hub_config *cfg, bool have_routes, bool have_sinks)
{
	int rc;

	if (!have_routes) {
		cfg->routes = hub_xcalloc(1, sizeof(*cfg->routes));
		cfg->nroutes = 1;
		if ((rc = hub_options_defaults(c, &route_table, cfg->routes)) != HUB_OK ||
		    (rc = set_pairs(c, &route_table, default_route, cfg->routes)) != HUB_OK)
			return rc;
	}
	if (!have_sinks) {
		cfg->sinks = hub_xcalloc(1, sizeof(*cfg->sinks));
		cfg->nsinks = 1;
		if ((rc = hub_options_defaults(c, &sink_table, cfg->sinks)) != HUB_OK ||
		    (rc = set_pairs(c, &sink_table, default_sink, cfg->sinks)) != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

/* Reads a rule file (a mapping with one key, rules:) and appends its rules to cfg. */
static int load_rule_file(struct hub_yaml_ctx *parent, const char *path, struct hub_config *cfg)
{
	struct hub_yaml_ctx c = {.file = path, .err = parent->err, .errlen = parent->errlen};
	struct hub_yaml_node *root = NULL;
	int rc = hub_yaml_read_file(&c, path, &root);

	if (rc != HUB_OK)
		return rc;
	if (!root || root->kind != HUB_YAML_MAP || root->n != 2 ||
	    strcmp(root->items[0]->text, "rules") != 0)
		rc = hub_yaml_fail(&c, root ? root->line : 0, NULL,
			  "a rule file is a mapping with one key, rules:");
	else
		rc = add_rules(&c, root->items[1], cfg);
	hub_yaml_free(root);
	return rc;
}

/* Resolves name against the directory of base (unless name is absolute). */
static char *relative_to(const char *base, const char *name)
{
	const char *slash = base ? strrchr(base, '/') : NULL;
	struct hub_buf b = {0};

	if (name[0] == '/' || !slash)
		return hub_xstrdup(name);
	hub_buf_printf(&b, "%.*s/%s", (int)(slash - base), base, name);
	return b.data;
}

/* Every rule name appears once, over the config and all rule files. */
static int check_rule_names(struct hub_yaml_ctx *c, const struct hub_config *cfg)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->rules[i].name, cfg->rules[j].name) == 0) {
				struct hub_yaml_ctx at = *c;
				at.file = cfg->rules[i].file;
				return hub_yaml_fail(&at, cfg->rules[i].line, "rules",
					    "duplicate rule name \"%s\" (also %s:%d)",
					    cfg->rules[i].name, cfg->rules[j].file,
					    cfg->rules[j].line);
			}
	return HUB_OK;
}

static int load_rule_files(struct hub_yaml_ctx *c, const char *config_path, struct hub_config *cfg)
{
	for (size_t i = 0; cfg->alerts.rule_files && cfg->alerts.rule_files[i]; i++) {
		char *p = relative_to(config_path, cfg->alerts.rule_files[i]);
		int rc = load_rule_file(c, p, cfg);
		free(p);
		if (rc != HUB_OK)
			return rc;
	}
	return check_rule_names(c, cfg);
}

/* What makes a rule's outcome depend on more than one reading; every rule has some (an alert
 * that fired resolves only when the hub that fired it sees a reading that clears it). */
static const char *rule_state(const struct hub_cfg_rule *r)
{
	if (r->for_ms > 0)
		return "its for: waits for later readings";
	if (r->keep_firing_for_ms > 0)
		return "its keep_firing_for: waits for later readings";
	if (strcmp(r->type, "threshold") != 0 && strcmp(r->type, "bands") != 0)
		return "a rate, window or stale rule needs every reading of the sensor";
	if (r->bands && r->clear_margin > 0)
		return "its clear_margin depends on the band of the last reading";
	return "it fires on one reading and resolves only on a later one";
}

/* In a share group the broker hands each message to any member, so no hub sees every reading
 * of a sensor: rules and the VN_AQI would fire, hold and resolve on fragments. */
static int check_share_group_state(struct hub_yaml_ctx *c, const struct hub_config *cfg,
				   const struct notable *at)
{
	static const char why[] = "the broker hands each message to any member, so no hub sees "
				  "every reading of a sensor; partition by topic instead (each hub "
				  "its own routes filters, e.g. by district: docs/scaling.md)";
	int rc = HUB_OK;

	if (!cfg->mqtt.share_group || !*cfg->mqtt.share_group)
		return HUB_OK;
	if (cfg->alerts.aqi)
		rc = hub_yaml_fail(c, at->aqi, "alerts.aqi",
			  "must be false (it is true by default) in a share group (mqtt.share_group: "
			  "%s, line %d): the hourly "
			  "VN_AQI needs every reading of a station, and %s", cfg->mqtt.share_group,
			  at->share_group, why);
	for (size_t i = 0; i < cfg->nrules; i++) {
		const struct hub_cfg_rule *r = &cfg->rules[i];
		struct hub_yaml_ctx where = *c;
		where.file = r->file;
		rc = hub_yaml_fail(&where, r->line, "rules",
			  "rule %s cannot run in a share group (mqtt.share_group: %s, %s:%d): %s, "
			  "and %s", r->name, cfg->mqtt.share_group, c->file, at->share_group,
			  rule_state(r), why);
		c->used = where.used;
		c->nerr = where.nerr;
	}
	return rc;
}

int hub_config_read_json(const char *path, json_t **out, char *err, size_t errlen)
{
	return hub_yaml_read_json(path, out, err, errlen);
}

int hub_config_load_rules(const char *path, struct hub_config *cfg, char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.file = path, .err = err, .errlen = errlen};
	int rc = load_rule_file(&c, path, cfg);
	return rc == HUB_OK ? check_rule_names(&c, cfg) : rc;
}

int hub_config_load(const char *path, const struct hub_adapter *const *adapters,
		    struct hub_config *cfg, char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.file = path ? path : "(defaults)", .err = err, .errlen = errlen,
				 .user = adapters};
	struct hub_yaml_node *root = NULL;
	bool have_routes = false, have_sinks = false;
	struct notable at = {0};
	int rc;

	if (!cfg)
		return HUB_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	if ((rc = hub_options_defaults(&c, &main_table, cfg)) != HUB_OK)
		goto fail;
	if (path) {
		cfg->path = hub_xstrdup(path);
		if ((rc = hub_yaml_read_file(&c, path, &root)) != HUB_OK)
			goto fail;
		if ((rc = bind_root(&c, root, cfg, &have_routes, &have_sinks, &at)) != HUB_OK)
			goto fail;
		if ((rc = load_rule_files(&c, path, cfg)) != HUB_OK)
			goto fail;
		if ((rc = check_share_group_state(&c, cfg, &at)) != HUB_OK)
			goto fail;
		if (cfg->live.registry) {
			char *p = relative_to(path, cfg->live.registry);
			free(cfg->live.registry);
			cfg->live.registry = p;
		}
	}
	if ((rc = add_defaults(&c, cfg, have_routes, have_sinks)) != HUB_OK)
		goto fail;
	hub_yaml_free(root);
	return HUB_OK;
fail:
	hub_yaml_fail_summary(&c);
	hub_yaml_free(root);
	hub_config_free(cfg);
	return HUB_EINVAL;
}

void hub_config_free(struct hub_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nroutes; i++)
		hub_options_free(&route_table, &cfg->routes[i]);
	for (size_t i = 0; i < cfg->nsinks; i++)
		hub_options_free(&sink_table, &cfg->sinks[i]);
	for (size_t i = 0; i < cfg->nrules; i++) {
		hub_options_free(&rule_table, &cfg->rules[i]);
		free(cfg->rules[i].file);
	}
	for (size_t i = 0; i < cfg->nnotifiers; i++)
		hub_options_free(&notifier_table, &cfg->notifiers[i]);
	free(cfg->routes);
	free(cfg->sinks);
	free(cfg->rules);
	free(cfg->notifiers);
	hub_options_free(&main_table, cfg);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void hub_config_write_doc(FILE *out, const struct hub_adapter *const *adapters)
{
	for (size_t s = 0; s < ARRAY_LEN(sections); s++) {
		hub_options_doc_header(out, sections[s].name, sections[s].doc);
		hub_options_doc_rows(out, &main_table, sections[s].name, "");
		fputs("\n", out);
	}
	hub_options_doc_header(out, "routes",
		   "A sequence of routes, each mapping a topic filter to an adapter. Without a "
		   "`routes:` key there is one route: filter `city/#`, adapter `native`, template "
		   "`city/{kind}/{district}/{sensor_id}`.");
	hub_options_doc_rows(out, &route_table, NULL, "routes[].");
	fputs("\n", out);
	for (const struct hub_adapter *const *a = adapters; a && *a; a++) {
		char title[64];
		if (!(*a)->options)
			continue;
		snprintf(title, sizeof(title), "routes[].options` of adapter `%s", (*a)->name);
		hub_options_doc_header(out, title, (*a)->doc);
		hub_options_doc_rows(out, (*a)->options, NULL, "routes[].options.");
		fputs("\n", out);
	}
	hub_options_doc_header(out, "sinks",
		   "A sequence of stores the records are written to, each with its own cursor in "
		   "the journal. Without a `sinks:` key there is one sink named `influxdb` at "
		   "`http://127.0.0.1:8086` (version 1, database `city`).");
	hub_options_doc_rows(out, &sink_table, NULL, "sinks[].");
	fputs("\n", out);
	hub_options_doc_header(out, "rules",
		   "Alert rules (docs/alerts.md), here or in `alerts.rule_files` (each a mapping "
		   "with one key, `rules:`). Keys a rule's type does not use are refused where "
		   "they would mislead.");
	hub_options_doc_rows(out, &rule_table, NULL, "rules[].");
	fputs("\n", out);
	hub_options_doc_header(out, "notifiers",
		   "Where alert transitions are sent, each from its own thread and bounded queue.");
	hub_options_doc_rows(out, &notifier_table, NULL, "notifiers[].");
	fputs("\n", out);
}
