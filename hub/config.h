/* The hub's configuration: one YAML file parsed with libyaml, every key declared once in a
 * table (type, default, range, doc). The struct is filled by hub_config_load() and owned by
 * the caller (hub_config_free). Read-only after load, so any thread may read it. */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cityhub/adapter.h"

enum hub_fsync { HUB_FSYNC_NONE, HUB_FSYNC_INTERVAL, HUB_FSYNC_ALWAYS };
enum hub_full_policy { HUB_FULL_BLOCK, HUB_FULL_DROP_OLDEST };

struct hub_cfg_route {
	char *filter;   /* MQTT topic filter, e.g. city/# */
	char *adapter;  /* adapter name, e.g. native */
	char *kind;     /* default kind, or NULL */
	char *template; /* topic template, e.g. city/{kind}/{district}/{sensor_id}, or NULL */
	json_t *options; /* adapter options as a JSON object (never NULL; owned) */
	json_t
	    *kinds; /* kind -> list of fields moved to a record of that kind (never NULL; owned) */
	int unknown_fields;  /* enum hub_unknown_policy: reject | drop | keep */
	int keep_max_fields; /* keep: most unknown fields kept per record; more are dropped */
	int line;       /* line of the route in the file, for messages */
};

enum hub_unknown_policy { HUB_UNKNOWN_REJECT, HUB_UNKNOWN_DROP, HUB_UNKNOWN_KEEP };

enum hub_sink_start { HUB_SINK_START_OLDEST, HUB_SINK_START_HEAD };

struct hub_cfg_sink {
	char *name;   /* unique; names the journal cursor */
	enum hub_sink_start start; /* where a new sink's cursor starts */
	char *type;   /* "influxdb" */
	char *url;    /* base URL, e.g. http://127.0.0.1:8086 */
	int version;  /* 1 = /write, 2 = /api/v2/write */
	char *database, *retention_policy, *username, *password; /* v1 */
	char *org, *bucket, *token;                              /* v2 */
	int gzip;
	int batch_max_lines;
	int batch_max_bytes;
	int flush_ms;
	int timeout_ms;
	int retry_base_ms;
	int retry_cap_ms;
	char *path;   /* write path overriding /write or /api/v2/write, or NULL */
	int line;
};

/* One alert rule (rules: in the config or in alerts.rule_files); see docs/alerts.md. */
struct hub_cfg_rule {
	char *name;     /* alertname: letters, digits, _ ; unique over every rule */
	char *type;     /* threshold | bands | rate | window | stale */
	char *kind;     /* records of this kind; NULL or "*" = any (stale only) */
	char *field;    /* the field evaluated (not for stale) */
	char *sensor;   /* glob (* and ?) over sensor_id; NULL = every sensor */
	json_t *match;  /* tag key -> required value (object of strings; never NULL; owned) */
	char *hours;    /* "H1-H2": only readings whose local hour h has H1 <= h < H2 (wrapping) */
	double above;   /* fire at value >= above (NAN = not set) */
	double below;   /* fire at value <= below (NAN = not set) */
	double clear;   /* hysteresis: the value that ends the breach (NAN = the threshold) */
	json_t *bands;  /* bands: array of {level, above, severity} ascending (owned) */
	double clear_margin; /* bands: leave a band only below its lower edge minus this */
	int64_t window_ms;   /* rate, window: length of the window */
	char *stat;          /* window: mean | max | min */
	int min_samples;     /* rate, window: fewest readings in the window to judge */
	double factor;       /* stale: silent for factor x the usual interval */
	int64_t interval_ms; /* stale: the usual interval; 0 = learned per sensor */
	int64_t min_silence_ms; /* stale: never stale before this much silence */
	int64_t for_ms;      /* breach must last this long (event time) before firing */
	int64_t keep_firing_for_ms; /* keep firing this long after the breach ends */
	char *severity;      /* info | warning | major | critical */
	json_t *labels;      /* extra labels (object of strings; never NULL; owned) */
	char *summary_vi, *summary_en; /* templates: {{sensor_id}} {{value}} {{level}} {{district}} {{kind}} */
	char *file;          /* the file the rule was read from (owned) */
	int line;
};

/* One notifier (notifiers: in the config); see docs/alerts.md. */
struct hub_cfg_notifier {
	char *name;          /* unique; names its delivery watermark file */
	char *type;          /* alertmanager | mqtt | webhook */
	char **urls;         /* alertmanager: every instance's base URL; webhook: urls[0] (NULL-terminated; owned) */
	char *topic_prefix;  /* mqtt: retained <prefix>/alerts/<rule>/<sensor>, events on <prefix>/alerts/events */
	char *secret;        /* webhook: HMAC-SHA256 key of the signature header; NULL = unsigned */
	char *token;         /* alertmanager/webhook: bearer token; NULL = none */
	int resend_ms;       /* alertmanager: firing alerts are re-sent this often */
	int queue_max;       /* events waiting; beyond it new events are dropped and counted */
	int timeout_ms, retry_base_ms, retry_cap_ms;
	int line;
};

struct hub_config {
	struct {
		char *url;
		char *client_id;
		int version; /* 3 (MQTT 3.1.1) or 5 */
		char *username, *password;
		char *ca_file, *cert_file, *key_file;
		int tls_insecure;
		int keepalive_s;
		int session_expiry_s; /* MQTT 5 */
		char *share_group;    /* non-empty: subscribe $share/<group>/<filter> */
		char *deadletter_prefix; /* dead letters go to <prefix>/deadletter/<reason> */
		int deadletter_unrouted; /* also dead-letter messages no route matches (no_route) */
		int max_inflight;
	} mqtt;
	struct {
		char *dir;
		int64_t max_bytes;
		int64_t segment_bytes;
		enum hub_fsync fsync;
		int fsync_interval_ms;
		enum hub_full_policy full_policy;
	} journal;
	struct {
		int64_t max_payload_bytes;
		int max_fields;
		int max_records;
		int max_string_bytes;
		int64_t max_series;
		int require_timestamp; /* reject records without a payload timestamp (bad_time) */
	} limits;
	struct {
		char *dir; /* NULL or empty = the schemas built into the binary */
	} schemas;
	struct {
		char *listen; /* address, default 127.0.0.1 */
		int port;     /* 0 = no HTTP API */
		char *token;  /* bearer token, NULL = none */
	} http;
	struct {
		char *level;
		int progress_s; /* seconds between progress lines; 0 = none */
	} log;
	struct {
		char *state_dir;   /* alert state and delivery watermarks; NULL = journal.dir */
		int snapshot_ms;   /* state is saved at most this often (and on every transition batch) */
		int aqi;           /* compute the hourly VN_AQI (kind aqi) from air_quality records */
		int64_t max_instances; /* most alert instances (rule x sensor x level) tracked */
		int utc_offset_h;  /* local time for rules' hours: (7 = Asia/Ho_Chi_Minh) */
		char **rule_files; /* NULL-terminated, as written (relative to the config file) */
	} alerts;
	struct {
		char *registry;      /* sensor registry file (relative to the config file), or NULL */
		int64_t max_sensors; /* most sensors tracked by the live state */
		int heartbeat_ms;    /* SSE heartbeat comment interval */
		int stream_backlog;  /* events an SSE client may lag behind before it is dropped */
		int max_clients;     /* most SSE clients at once */
	} live;
	struct hub_cfg_rule *rules;
	size_t nrules;
	struct hub_cfg_notifier *notifiers;
	size_t nnotifiers;
	struct hub_cfg_route *routes;
	size_t nroutes;
	struct hub_cfg_sink *sinks;
	size_t nsinks;
	char *path; /* the file loaded, or NULL for defaults */
};

/* Loads path (NULL = no file: built-in defaults) into cfg. Route options are checked against
 * the option table of their adapter in adapters (NULL-terminated, borrowed, e.g.
 * hub_adapter_all(); NULL or an adapter not in it: left to the pipeline). On error returns
 * HUB_EINVAL and writes "file:line: key: what is wrong" into err; cfg is then freed and
 * zeroed. */
int hub_config_load(const char *path, const struct hub_adapter *const *adapters,
		    struct hub_config *cfg, char *err, size_t errlen);

/* Reads any YAML file (one document) into a new JSON value with the config's scalar rules.
 * HUB_EINVAL with "file:line: ..." in err. */
int hub_config_read_json(const char *path, json_t **out, char *err, size_t errlen);

/* Appends the rules of rule file path (a mapping with one key, rules:) to cfg->rules, checking
 * names stay unique. HUB_EINVAL with "file:line: ..." in err. */
int hub_config_load_rules(const char *path, struct hub_config *cfg, char *err, size_t errlen);

/* Frees everything cfg owns and zeroes it; safe on a zeroed struct. */
void hub_config_free(struct hub_config *cfg);

/* Writes the reference of every key (Markdown table per section) to out, with the options
 * of each adapter in adapters (NULL-terminated, e.g. hub_adapter_all()). */
void hub_config_write_doc(FILE *out, const struct hub_adapter *const *adapters);

#endif
