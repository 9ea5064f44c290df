/* Unit tests of hub/config.c: defaults, full files, sizes and durations, route options as
 * JSON, sink defaults and checks, every error class with its exact message, and the
 * generated reference in docs/config.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cityhub/error.h"
#include "config.h"

static char tmpdir[64];
static char tmpfile_path[128];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cityhub-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(tmpfile_path, sizeof(tmpfile_path), "%s/cityhub.yaml", tmpdir);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	unlink(tmpfile_path);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads text as $tmpdir/cityhub.yaml. */
static int load_text(const char *text, struct hub_config *cfg, char *err, size_t errlen)
{
	write_file(tmpfile_path, text);
	return hub_config_load(tmpfile_path, hub_adapter_all(), cfg, err, errlen);
}

static void source_path(char *buf, size_t len, const char *rel)
{
	const char *root = getenv("CITYHUB_SOURCE_ROOT");
	assert_non_null(root);
	snprintf(buf, len, "%s/%s", root, rel);
}

static int is_zeroed(const struct hub_config *cfg)
{
	static const struct hub_config zero;
	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

static void assert_default_sink(const struct hub_cfg_sink *s)
{
	assert_string_equal(s->type, "influxdb");
	assert_int_equal(s->version, 1);
	assert_string_equal(s->database, "city");
	assert_null(s->retention_policy);
	assert_null(s->username);
	assert_null(s->password);
	assert_null(s->org);
	assert_null(s->bucket);
	assert_null(s->token);
	assert_int_equal(s->gzip, 0);
	assert_int_equal(s->batch_max_lines, 5000);
	assert_int_equal(s->batch_max_bytes, 1048576);
	assert_int_equal(s->flush_ms, 200);
	assert_int_equal(s->timeout_ms, 10000);
	assert_int_equal(s->retry_base_ms, 100);
	assert_int_equal(s->retry_cap_ms, 30000);
}

static void assert_default_route(const struct hub_config *cfg)
{
	assert_int_equal(cfg->nroutes, 1);
	assert_string_equal(cfg->routes[0].filter, "city/#");
	assert_string_equal(cfg->routes[0].adapter, "native");
	assert_null(cfg->routes[0].kind);
	assert_string_equal(cfg->routes[0].template, "city/{kind}/{district}/{sensor_id}");
	assert_true(json_is_object(cfg->routes[0].options));
	assert_int_equal(json_object_size(cfg->routes[0].options), 0);
}

static void assert_defaults(const struct hub_config *cfg)
{
	assert_string_equal(cfg->mqtt.url, "tcp://127.0.0.1:1883");
	assert_string_equal(cfg->mqtt.client_id, "cityhub");
	assert_int_equal(cfg->mqtt.version, 3);
	assert_null(cfg->mqtt.username);
	assert_null(cfg->mqtt.password);
	assert_null(cfg->mqtt.ca_file);
	assert_null(cfg->mqtt.cert_file);
	assert_null(cfg->mqtt.key_file);
	assert_int_equal(cfg->mqtt.tls_insecure, 0);
	assert_int_equal(cfg->mqtt.keepalive_s, 30);
	assert_int_equal(cfg->mqtt.session_expiry_s, 86400);
	assert_string_equal(cfg->mqtt.share_group, "");
	assert_string_equal(cfg->mqtt.deadletter_prefix, "cityhub");
	assert_int_equal(cfg->mqtt.max_inflight, 1000);
	assert_string_equal(cfg->journal.dir, "./cityhub-journal");
	assert_int_equal(cfg->journal.max_bytes, INT64_C(1073741824));
	assert_int_equal(cfg->journal.segment_bytes, 16777216);
	assert_int_equal(cfg->journal.fsync, HUB_FSYNC_INTERVAL);
	assert_int_equal(cfg->journal.fsync_interval_ms, 1000);
	assert_int_equal(cfg->journal.full_policy, HUB_FULL_BLOCK);
	assert_int_equal(cfg->limits.max_payload_bytes, 262144);
	assert_int_equal(cfg->limits.max_fields, 32);
	assert_int_equal(cfg->limits.max_records, 1000);
	assert_int_equal(cfg->limits.max_string_bytes, 1024);
	assert_int_equal(cfg->limits.max_series, 100000);
	assert_null(cfg->schemas.dir);
	assert_string_equal(cfg->http.listen, "127.0.0.1");
	assert_int_equal(cfg->http.port, 8080);
	assert_null(cfg->http.token);
	assert_string_equal(cfg->log.level, "info");
	assert_default_route(cfg);
	assert_int_equal(cfg->nsinks, 1);
	assert_string_equal(cfg->sinks[0].name, "influxdb");
	assert_string_equal(cfg->sinks[0].url, "http://127.0.0.1:8086");
	assert_default_sink(&cfg->sinks[0]);
}

static void test_defaults(void **state)
{
	struct hub_config cfg;
	char err[256] = "x";

	(void)state;
	assert_int_equal(hub_config_load(NULL, hub_adapter_all(), &cfg, err, sizeof(err)), HUB_OK);
	assert_string_equal(err, "");
	assert_null(cfg.path);
	assert_defaults(&cfg);
	assert_int_equal(cfg.routes[0].line, 0);
	assert_int_equal(cfg.sinks[0].line, 0);
	hub_config_free(&cfg);
	assert_true(is_zeroed(&cfg));
	hub_config_free(&cfg); /* a zeroed struct is fine */
	hub_config_free(NULL);
}

static void test_comments_only(void **state)
{
	struct hub_config cfg;
	char path[512], err[256];

	(void)state;
	source_path(path, sizeof(path), "tests/unit/configs/comments_only.yaml");
	assert_int_equal(hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)), HUB_OK);
	assert_string_equal(cfg.path, path);
	assert_defaults(&cfg);
	hub_config_free(&cfg);
	/* empty sections keep their defaults too */
	assert_int_equal(load_text("mqtt:\nlog: ~\n", &cfg, err, sizeof(err)), HUB_OK);
	assert_defaults(&cfg);
	hub_config_free(&cfg);
}

static void test_example(void **state)
{
	struct hub_config cfg;
	char path[512], err[256] = "";

	(void)state;
	source_path(path, sizeof(path), "cityhub.example.yaml");
	if (hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)) != HUB_OK)
		fail_msg("cityhub.example.yaml does not load: %s", err);
	/* the example spells out the defaults, so it must load to exactly them */
	assert_defaults(&cfg);
	assert_string_equal(cfg.path, path);
	assert_int_equal(cfg.routes[0].line, 73);
	assert_int_equal(cfg.sinks[0].line, 86);
	hub_config_free(&cfg);
}

static void assert_full_main(const struct hub_config *cfg)
{
	assert_string_equal(cfg->mqtt.url, "ssl://broker.example.org:8883");
	assert_string_equal(cfg->mqtt.client_id, "hub-mytho-1");
	assert_int_equal(cfg->mqtt.version, 5);
	assert_string_equal(cfg->mqtt.username, "hub");
	assert_string_equal(cfg->mqtt.password, "s3cret: yes");
	assert_string_equal(cfg->mqtt.ca_file, "tests/unit/configs/tls/ca.pem");
	assert_string_equal(cfg->mqtt.cert_file, "tests/unit/configs/tls/client.pem");
	assert_string_equal(cfg->mqtt.key_file, "tests/unit/configs/tls/client.key");
	assert_int_equal(cfg->mqtt.tls_insecure, 1);
	assert_int_equal(cfg->mqtt.keepalive_s, 45);
	assert_int_equal(cfg->mqtt.session_expiry_s, 3600);
	assert_string_equal(cfg->mqtt.share_group, "district-a");
	assert_string_equal(cfg->mqtt.deadletter_prefix, "mytho/hub");
	assert_int_equal(cfg->mqtt.max_inflight, 200);
	assert_string_equal(cfg->journal.dir, "/var/lib/cityhub/journal");
	assert_int_equal(cfg->journal.max_bytes, INT64_C(20) * 1024 * 1024 * 1024);
	assert_int_equal(cfg->journal.segment_bytes, 64 * 1024 * 1024);
	assert_int_equal(cfg->journal.fsync, HUB_FSYNC_ALWAYS);
	assert_int_equal(cfg->journal.fsync_interval_ms, 250);
	assert_int_equal(cfg->journal.full_policy, HUB_FULL_DROP_OLDEST);
	assert_int_equal(cfg->limits.max_payload_bytes, 65536);
	assert_int_equal(cfg->limits.max_fields, 64);
	assert_int_equal(cfg->limits.max_records, 500);
	assert_int_equal(cfg->limits.max_string_bytes, 512);
	assert_int_equal(cfg->limits.max_series, 2000000);
	assert_string_equal(cfg->schemas.dir, "/etc/cityhub/schemas");
	assert_string_equal(cfg->http.listen, "0.0.0.0");
	assert_int_equal(cfg->http.port, 9090);
	assert_string_equal(cfg->http.token, "t0ken");
	assert_string_equal(cfg->log.level, "debug");
}

static void test_full(void **state)
{
	struct hub_config cfg;
	char path[512], err[256];
	const struct hub_cfg_sink *s;

	(void)state;
	source_path(path, sizeof(path), "tests/unit/configs/full.yaml");
	/* the TLS files are relative to the working directory, as at run time */
	assert_int_equal(chdir(getenv("CITYHUB_SOURCE_ROOT")), 0);
	if (hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)) != HUB_OK)
		fail_msg("full.yaml: %s", err);
	assert_full_main(&cfg);
	assert_int_equal(cfg.nroutes, 2);
	assert_string_equal(cfg.routes[0].filter, "city/+/+/+");
	assert_string_equal(cfg.routes[0].adapter, "native");
	assert_string_equal(cfg.routes[0].kind, "weather");
	assert_string_equal(cfg.routes[0].template, "city/{kind}/{district}/{sensor_id}");
	assert_int_equal(cfg.routes[0].line, 39);
	assert_true(json_is_true(json_object_get(cfg.routes[0].options, "strict")));
	assert_int_equal(json_object_size(cfg.routes[0].options), 1);
	assert_string_equal(cfg.routes[1].filter, "ttn/v3/+/devices/+/up");
	assert_string_equal(cfg.routes[1].adapter, "ttn");
	assert_null(cfg.routes[1].kind);
	assert_null(cfg.routes[1].template);
	assert_int_equal(cfg.routes[1].line, 44);
	assert_int_equal(cfg.nsinks, 2);
	s = &cfg.sinks[0];
	assert_string_equal(s->name, "local");
	assert_string_equal(s->type, "influxdb");
	assert_string_equal(s->url, "http://127.0.0.1:8086");
	assert_int_equal(s->version, 1);
	assert_string_equal(s->database, "mytho");
	assert_string_equal(s->retention_policy, "one_year");
	assert_string_equal(s->username, "writer");
	assert_string_equal(s->password, "pw");
	assert_int_equal(s->gzip, 1);
	assert_int_equal(s->batch_max_lines, 10000);
	assert_int_equal(s->batch_max_bytes, 4 * 1024 * 1024);
	assert_int_equal(s->flush_ms, 1000);
	assert_int_equal(s->timeout_ms, 30000);
	assert_int_equal(s->retry_base_ms, 250);
	assert_int_equal(s->retry_cap_ms, 120000);
	assert_int_equal(s->line, 47);
	s = &cfg.sinks[1];
	assert_string_equal(s->name, "cloud");
	assert_string_equal(s->url, "https://influx.example.org");
	assert_int_equal(s->version, 2);
	assert_string_equal(s->org, "mytho");
	assert_string_equal(s->bucket, "city");
	assert_string_equal(s->token, "abc==");
	assert_int_equal(s->line, 62);
	hub_config_free(&cfg);
}

struct num_case {
	const char *key;  /* section.key */
	const char *text; /* as written after "key: " */
	int64_t want;     /* value when ok */
	const char *err;  /* expected message after "<file>:<line>: <key>: ", or NULL */
};

static int64_t get_num(const struct hub_config *cfg, const char *key)
{
	if (strcmp(key, "journal.max_bytes") == 0)
		return cfg->journal.max_bytes;
	if (strcmp(key, "limits.max_payload_bytes") == 0)
		return cfg->limits.max_payload_bytes;
	if (strcmp(key, "limits.max_string_bytes") == 0)
		return cfg->limits.max_string_bytes;
	if (strcmp(key, "journal.fsync_interval_ms") == 0)
		return cfg->journal.fsync_interval_ms;
	if (strcmp(key, "http.port") == 0)
		return cfg->http.port;
	fail_msg("no getter for %s", key);
	return 0;
}

static void run_num_cases(const struct num_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct hub_config cfg;
		char text[256], want[512], err[512] = "";
		const char *dot = strchr(cases[i].key, '.');
		int rc;

		snprintf(text, sizeof(text), "# case\n%.*s:\n  %s: %s\n", (int)(dot - cases[i].key),
			 cases[i].key, dot + 1, cases[i].text);
		rc = load_text(text, &cfg, err, sizeof(err));
		if (!cases[i].err) {
			if (rc != HUB_OK)
				fail_msg("%s: %s: unexpected error %s", cases[i].key, cases[i].text,
					 err);
			if (get_num(&cfg, cases[i].key) != cases[i].want)
				fail_msg("%s: %s: got %lld, want %lld", cases[i].key, cases[i].text,
					 (long long)get_num(&cfg, cases[i].key),
					 (long long)cases[i].want);
			hub_config_free(&cfg);
			continue;
		}
		snprintf(want, sizeof(want), "%s:3: %s: %s", tmpfile_path, cases[i].key,
			 cases[i].err);
		assert_int_equal(rc, HUB_EINVAL);
		assert_string_equal(err, want);
		assert_true(is_zeroed(&cfg));
	}
}

static void test_sizes(void **state)
{
	static const struct num_case cases[] = {
		{"journal.max_bytes", "16777216", 16777216, NULL},
		{"journal.max_bytes", "512MiB", INT64_C(536870912), NULL},
		{"journal.max_bytes", "1GiB", INT64_C(1073741824), NULL},
		{"journal.max_bytes", "1TiB", INT64_C(1099511627776), NULL},
		{"journal.max_bytes", "100MB", 100000000, NULL},
		{"journal.max_bytes", "16384KiB", 16777216, NULL},
		{"journal.max_bytes", "\"2GB\"", INT64_C(2000000000), NULL},
		{"journal.max_bytes", "1048575", 0, "must be between 1MiB and 1TiB"},
		{"journal.max_bytes", "2TB", 0, "must be between 1MiB and 1TiB"},
		{"journal.max_bytes", "-1MiB", 0, "must be between 1MiB and 1TiB"},
		{"journal.max_bytes", "9223372036854775807GiB", 0, "must be between 1MiB and 1TiB"},
		{"journal.max_bytes", "99999999999999999999", 0, "must be between 1MiB and 1TiB"},
		{"journal.max_bytes", "1.5GiB", 0,
		 "expected a size such as 65536, 64KiB or 100MB, got \"1.5GiB\""},
		{"journal.max_bytes", "64 MiB", 0,
		 "expected a size such as 65536, 64KiB or 100MB, got \"64 MiB\""},
		{"journal.max_bytes", "64mib", 0,
		 "expected a size such as 65536, 64KiB or 100MB, got \"64mib\""},
		{"journal.max_bytes", "0x100000", 0,
		 "expected a size such as 65536, 64KiB or 100MB, got \"0x100000\""},
		{"journal.max_bytes", "MiB", 0,
		 "expected a size such as 65536, 64KiB or 100MB, got \"MiB\""},
		{"limits.max_payload_bytes", "1", 1, NULL},
		{"limits.max_payload_bytes", "1B", 1, NULL},
		{"limits.max_payload_bytes", "64kB", 64000, NULL},
		{"limits.max_payload_bytes", "64KB", 64000, NULL},
		{"limits.max_payload_bytes", "64KiB", 65536, NULL},
		{"limits.max_payload_bytes", "0", 0, "must be between 1 and 256MiB"},
		{"limits.max_string_bytes", "64KiB", 65536, NULL},
		{"limits.max_string_bytes", "65537", 0, "must be between 1 and 64KiB"},
		{"http.port", "\"8081\"", 8081, NULL},
		{"http.port", "0", 0, NULL},
		{"http.port", "65536", 0, "must be between 0 and 65535"},
		{"http.port", "80kB", 0, "expected an integer, got \"80kB\""},
		{"http.port", "+80", 80, NULL},
	};

	struct hub_config cfg;
	char err[256];

	(void)state;
	run_num_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* the lowest journal size, with segments small enough to fit and big enough for a message */
	assert_int_equal(load_text("journal:\n  segment_bytes: 72KiB\n  max_bytes: 1024KiB\n"
				   "limits:\n  max_payload_bytes: 1KiB\n",
				   &cfg, err, sizeof(err)),
			 HUB_OK);
	assert_int_equal(cfg.journal.max_bytes, 1048576);
	assert_int_equal(cfg.journal.segment_bytes, 73728);
	hub_config_free(&cfg);
}

static void test_durations(void **state)
{
	static const struct num_case cases[] = {
		{"journal.fsync_interval_ms", "250", 250, NULL},
		{"journal.fsync_interval_ms", "250ms", 250, NULL},
		{"journal.fsync_interval_ms", "5s", 5000, NULL},
		{"journal.fsync_interval_ms", "2m", 120000, NULL},
		{"journal.fsync_interval_ms", "1h", 3600000, NULL},
		{"journal.fsync_interval_ms", "'1s'", 1000, NULL},
		{"journal.fsync_interval_ms", "0", 0, "must be between 1ms and 1h"},
		{"journal.fsync_interval_ms", "61m", 0, "must be between 1ms and 1h"},
		{"journal.fsync_interval_ms", "1.5s", 0,
		 "expected a duration such as 250, 250ms, 5s or 2m, got \"1.5s\""},
		{"journal.fsync_interval_ms", "5 s", 0,
		 "expected a duration such as 250, 250ms, 5s or 2m, got \"5 s\""},
		{"journal.fsync_interval_ms", "5min", 0,
		 "expected a duration such as 250, 250ms, 5s or 2m, got \"5min\""},
		{"journal.fsync_interval_ms", "5S", 0,
		 "expected a duration such as 250, 250ms, 5s or 2m, got \"5S\""},
	};

	(void)state;
	run_num_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_routes_options(void **state)
{
	static const char *const want_json =
		"{\"plain_int\": 42, \"negative\": -7, \"octal\": 15, \"hex\": 31,"
		" \"float\": 2.5, \"exp\": 1000.0, \"dot\": 0.5, \"yes_is_string\": \"yes\","
		" \"t\": true, \"f\": false, \"t2\": true, \"f2\": false, \"n2\": null,"
		" \"n\": null, \"tilde\": null, \"empty\": null,"
		" \"quoted_int\": \"42\", \"quoted_true\": \"true\", \"quoted_null\": \"null\","
		" \"text\": \"hello world\", \"block\": \"line one\\nline two\\n\","
		" \"seq\": [1, \"two\", 3.0, [\"nested\"]],"
		" \"map\": {\"inner\": {\"a\": 1}, \"list\": [{\"x\": 1}, {\"y\": \"2\"}]},"
		" \"version_like\": \"1.2.3\", \"date\": \"2024-05-01\"}";
	struct hub_config cfg;
	char path[512], err[256];
	json_t *want, *opts;

	(void)state;
	source_path(path, sizeof(path), "tests/unit/configs/routes_options.yaml");
	if (hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)) != HUB_OK)
		fail_msg("routes_options.yaml: %s", err);
	assert_int_equal(cfg.nroutes, 2);
	assert_string_equal(cfg.routes[0].filter, "gw/+/up");
	assert_string_equal(cfg.routes[0].adapter, "scalars");
	assert_string_equal(cfg.routes[0].kind, "air_quality");
	assert_null(cfg.routes[0].template);
	opts = cfg.routes[0].options;
	want = json_loads(want_json, 0, NULL);
	assert_non_null(want);
	if (!json_equal(opts, want)) {
		char *got = json_dumps(opts, JSON_SORT_KEYS);
		fail_msg("options differ: %s", got);
	}
	/* json_equal tells 3 from 3.0 already; spell the important types out anyway */
	assert_true(json_is_integer(json_object_get(opts, "plain_int")));
	assert_true(json_is_real(json_object_get(opts, "exp")));
	assert_true(json_is_string(json_object_get(opts, "quoted_int")));
	assert_true(json_is_null(json_object_get(opts, "empty")));
	json_decref(want);
	assert_true(json_is_object(cfg.routes[1].options));
	assert_int_equal(json_object_size(cfg.routes[1].options), 0);
	/* the file has routes but no sinks: the default sink is there */
	assert_int_equal(cfg.nsinks, 1);
	assert_string_equal(cfg.sinks[0].name, "influxdb");
	hub_config_free(&cfg);
}

static void test_sinks_defaults(void **state)
{
	struct hub_config cfg;
	char path[512], err[256];
	const struct hub_cfg_sink *s;

	(void)state;
	source_path(path, sizeof(path), "tests/unit/configs/sinks_defaults.yaml");
	if (hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)) != HUB_OK)
		fail_msg("sinks_defaults.yaml: %s", err);
	assert_default_route(&cfg);
	assert_int_equal(cfg.nsinks, 2);
	assert_string_equal(cfg.sinks[0].name, "a");
	assert_string_equal(cfg.sinks[0].url, "http://127.0.0.1:8086");
	assert_int_equal(cfg.sinks[0].line, 3);
	assert_default_sink(&cfg.sinks[0]);
	s = &cfg.sinks[1];
	assert_string_equal(s->name, "b-2");
	assert_string_equal(s->url, "https://influx.example.org:8443");
	assert_int_equal(s->version, 2);
	assert_string_equal(s->org, "city");
	assert_string_equal(s->bucket, "sensors");
	assert_string_equal(s->token, "tok");
	assert_null(s->database); /* "" on an optional key is unset */
	assert_int_equal(s->batch_max_lines, 5000);
	assert_int_equal(s->flush_ms, 200);
	assert_int_equal(s->retry_cap_ms, 30000);
	hub_config_free(&cfg);
	/* an explicit empty list means no sinks at all, not the default one */
	assert_int_equal(load_text("sinks: []\n", &cfg, err, sizeof(err)), HUB_OK);
	assert_int_equal(cfg.nsinks, 0);
	assert_null(cfg.sinks);
	assert_default_route(&cfg);
	hub_config_free(&cfg);
}

struct err_case {
	const char *yaml;
	const char *err; /* expected message after "<file>:" */
};

static const struct err_case err_cases[] = {
	/* unknown keys */
	{"mqtt:\n  urll: tcp://x\n", "2: mqtt.urll: unknown key"},
	{"mqttt:\n  url: tcp://x\n", "1: mqttt: unknown key"},
	{"routes:\n  - filter: a/#\n    adapter: native\n    adpater: x\n",
	 "4: routes[0].adpater: unknown key"},
	/* wrong types */
	{"http:\n  port: {a: 1}\n", "2: http.port: expected an integer, got a mapping"},
	{"http:\n  port:\n", "2: http.port: expected an integer, got null"},
	{"mqtt:\n  tls_insecure: yes\n",
	 "2: mqtt.tls_insecure: expected true or false, got \"yes\""},
	{"mqtt:\n  tls_insecure: True\n",
	 "2: mqtt.tls_insecure: expected true or false, got \"True\""},
	{"mqtt:\n  url: [tcp://a]\n", "2: mqtt.url: expected a string, got a sequence"},
	{"journal: 5\n", "1: journal: expected a mapping, got a scalar"},
	{"journal:\n  fsync: [a]\n",
	 "2: journal.fsync: expected one of none, interval, always, got a sequence"},
	{"routes:\n", "1: routes: expected a sequence of mappings, got null"},
	{"sinks: 1\n", "1: sinks: expected a sequence of mappings ([] for none), got a scalar"},
	/* issue 13 #1: an empty SUBSCRIBE made the broker drop the hub every second */
	{"mqtt:\n  url: tcp://h\nroutes: []\n",
	 "3: routes: must list at least one route (leave routes: out for the default route city/#)"},
	{"routes:\n  - a/#\n", "2: routes[0]: expected a mapping, got a scalar"},
	{"routes:\n  - filter: a/#\n    adapter: x\n    options: [1]\n",
	 "4: routes[0].options: expected a mapping, got a sequence"},
	/* an adapter's own table: each bad option on its own line, all of them */
	{"routes:\n  - filter: a/#\n    adapter: senml\n    options:\n"
	 "      fields: {t: temperature_c}\n      sensor_id_from: mac\n",
	 "6: routes[0].options.sensor_id_from: must be one of base_name, topic"},
	{"routes:\n  - filter: a/#\n    adapter: lpp\n    options:\n      channels: {}\n"
	 "      unmaped: skip\n",
	 "6: routes[0].options.unmaped: unknown key"},
	{"routes:\n  - filter: a/#\n    adapter: lpp\n    options:\n      kind: noise\n",
	 "4: routes[0].options.channels: required key is missing"},
	{"routes:\n  - filter: a/#\n    adapter: ttn\n    options:\n      link: maybe\n",
	 "5: routes[0].options.link: expected true or false, got \"maybe\""},
	{"- a\n- b\n",
	 "1: the file must be a mapping of sections (mqtt, journal, ...), not a sequence"},
	{"? [a]\n: 1\n", "1: mapping keys must be scalars, not a sequence"},
	/* out of range */
	{"\n\njournal:\n  max_bytes: 512KiB\n",
	 "4: journal.max_bytes: must be between 1MiB and 1TiB"},
	{"limits:\n  max_series: 99999999999999999999\n",
	 "2: limits.max_series: must be between 1 and 100000000"},
	{"mqtt:\n  version: 4\n", "2: mqtt.version: must be one of 3, 5"},
	{"sinks:\n  - name: a\n    url: http://h\n    version: 3\n",
	 "4: sinks[0].version: must be between 1 and 2"},
	{"journal:\n  max_bytes: 1MiB\n  segment_bytes: 2MiB\n",
	 "3: journal.segment_bytes: must not exceed journal.max_bytes (1MiB)"},
	/* issue 10: checked here, not in main.c, so the error has the file and line */
	{"journal:\n  segment_bytes: 1MiB\nlimits:\n  max_payload_bytes: 1MiB\n",
	 "4: journal.segment_bytes: must exceed limits.max_payload_bytes (1MiB) by at least 64KiB"},
	{"limits:\n  max_payload_bytes: 16MiB\n",
	 "2: journal.segment_bytes: must exceed limits.max_payload_bytes (16MiB) by at least 64KiB"},
	{"sinks:\n  - name: a\n    url: http://h\n    retry_cap_ms: 50ms\n",
	 "4: sinks[0].retry_base_ms: must not exceed retry_cap_ms"},
	{"mqtt:\n  client_id: \"\"\n", "2: mqtt.client_id: must not be empty"},
	/* bad enum and checked strings */
	{"journal:\n  fsync: sometimes\n",
	 "2: journal.fsync: must be one of none, interval, always"},
	{"journal:\n  full_policy: drop-oldest\n",
	 "2: journal.full_policy: must be one of block, drop_oldest"},
	{"log:\n  level: verbose\n", "2: log.level: must be one of debug, info, warn, error"},
	{"sinks:\n  - name: a\n    type: kafka\n    url: http://h\n",
	 "3: sinks[0].type: must be one of influxdb"},
	{"sinks:\n  - name: a\n    url: ftp://h\n",
	 "3: sinks[0].url: must start with http:// or https:// and name a host"},
	{"sinks:\n  - name: a/b\n    url: http://h\n",
	 "2: sinks[0].name: may only contain letters, digits, _ and -"},
	{"mqtt:\n  url: localhost:1883\n",
	 "2: mqtt.url: must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss:// and "
	 "name a host"},
	{"mqtt:\n  share_group: a/b\n", "2: mqtt.share_group: must not contain /, + or #"},
	/* issue 14: a share group takes no VN_AQI (nor rules: tests/integration/test_scale.py) */
	{"mqtt:\n  share_group: g\n",
	 " alerts.aqi: must be false (it is true by default) in a share group (mqtt.share_group: "
	 "g, line 2): the hourly VN_AQI needs every reading of a station, and the broker hands "
	 "each message to any member, so no hub sees every reading of a sensor; partition by "
	 "topic instead (each hub its own routes filters, e.g. by district: docs/scaling.md)"},
	{"sinks:\n  - name: a\n    url: http://h\n    path: insert/0/influx/write\n",
	 "4: sinks[0].path: must start with /"},
	{"sinks:\n  - name: a\n    url: http://h\n    path: /write?db=x\n",
	 "4: sinks[0].path: must not contain ?, #, spaces or control characters"},
	{"mqtt:\n  deadletter_prefix: dl/#\n",
	 "2: mqtt.deadletter_prefix: must not contain the wildcards + or #"},
	{"routes:\n  - filter: a/#/b\n    adapter: native\n",
	 "2: routes[0].filter: # may only be the last level of a topic filter"},
	{"routes:\n  - filter: a/b+\n    adapter: native\n",
	 "2: routes[0].filter: + must be a whole level of a topic filter"},
	/* duplicate keys */
	{"http:\n  port: 1\n  listen: 127.0.0.1\n  port: 2\n",
	 "4: http.port: duplicate key (first set on line 2)"},
	{"log:\n  level: info\nlog:\n  level: debug\n",
	 "3: log: duplicate key (first set on line 1)"},
	{"routes:\n  - filter: a/#\n    adapter: x\n    options:\n"
	 "      a: 1\n      b: {c: 1, c: 2}\n",
	 "6: routes[0].options.b.c: duplicate key (first set on line 6)"},
	/* YAML syntax and unsupported YAML */
	{"mqtt:\n  url: tcp://a\n bad: 1\n",
	 "3: YAML syntax error: did not find expected key while parsing a block mapping"},
	{"mqtt: {url: tcp://a\n", "2: YAML syntax error: did not find expected ',' or '}' "
				 "while parsing a flow mapping"},
	{"a: &x 1\nb: *x\n", "2: YAML aliases (*x) are not supported"},
	{"log:\n  level: !!str info\n", "2: YAML tags (tag:yaml.org,2002:str) are not supported"},
	{"log: {level: info}\n---\nlog: {level: info}\n", "2: only one YAML document is allowed"},
	/* routes and sinks: required keys and checks across keys */
	{"routes:\n  - filter: a/#\n    adapter: native\n  - filter: b/#\n    adapter: native\n"
	 "  - filter: c/#\n",
	 "6: routes[2].adapter: required key is missing"},
	{"routes:\n  - adapter: native\n", "2: routes[0].filter: required key is missing"},
	{"routes:\n  - filter: a/#\n    adapter: native\n  - filter: b/#\n    adapter: native\n"
	 "  - filter: c/#\n    adapter: {x: 1}\n",
	 "7: routes[2].adapter: expected a string, got a mapping"},
	{"sinks:\n  - name: a\n", "2: sinks[0].url: required key is missing"},
	{"sinks:\n  - url: http://h\n", "2: sinks[0].name: required key is missing"},
	{"sinks:\n  - name: a\n    url: http://h\n  - name: a\n    url: http://h2\n",
	 "4: sinks[1].name: duplicate sink name \"a\" (also sinks[0])"},
	{"sinks:\n  - name: a\n    url: http://h\n    version: 2\n    org: o\n    bucket: b\n",
	 "2: sinks[0].token: required when version is 2"},
	{"sinks:\n  - name: a\n    url: http://h\n    version: 2\n    token: t\n",
	 "2: sinks[0].org: required when version is 2"},
	/* issue 10: the sink's rules live here only (hub/influx.c checks nothing again) */
	{"sinks:\n  - name: a\n    url: http://h\n    version: 2\n    org: o\n    bucket: b\n"
	 "    token: \"x\\r\\nX-Evil: 1\"\n",
	 "7: sinks[0].token: must not contain line breaks or control characters"},
	{"sinks:\n  - name: a\n    url: http://h\n    version: 2\n    token: t\n    org: o\n",
	 "2: sinks[0].bucket: required when version is 2"},
	{"sinks:\n  - name: a\n    url: http://h\n    database: ''\n",
	 "2: sinks[0].database: required when version is 1"},
	/* issue 13 #2: TLS files are checked at config time, not at connect time */
	{"mqtt:\n  url: ssl://h:8883\n  ca_file: /nonexistent/ca.pem\n",
	 "3: mqtt.ca_file: cannot read /nonexistent/ca.pem: No such file or directory"},
	{"mqtt:\n  url: ssl://h:8883\n  cert_file: /tmp\n",
	 "3: mqtt.cert_file: /tmp is a directory, not a PEM file"},
	{"mqtt:\n  url: mqtts://h\n  key_file: /etc/hostname\n",
	 "3: mqtt.key_file: /etc/hostname is not a PEM file (no -----BEGIN line)"},
	/* issue 13 #11: TLS options with a plain URL, and URL ports */
	{"mqtt:\n  url: tcp://h:1883\n  tls_insecure: true\n",
	 "3: mqtt.tls_insecure: TLS option given with the non-TLS URL tcp://h:1883 (use ssl:// or "
	 "mqtts://)"},
	{"mqtt:\n  url: tcp://h:99999\n", "2: mqtt.url: port 99999: must be between 1 and 65535"},
	{"mqtt:\n  url: ssl://[::1:8883\n", "2: mqtt.url: has an unclosed [ in its host"},
	{"sinks:\n  - name: a\n    url: http://127.0.0.1:99999\n",
	 "3: sinks[0].url: port 99999: must be between 1 and 65535"},
	{"sinks:\n  - name: a\n    url: http://h:80x/\n",
	 "3: sinks[0].url: port 80x: must be between 1 and 65535"},
	{"sinks:\n  - name: a\n    url: http://:8086\n", "3: sinks[0].url: must name a host"},
	/* issue 13 #4: templates are checked at config time, not dead-lettered at run time */
	{"routes:\n  - filter: a/#\n    adapter: native\n    template: a/{sensor_id\n",
	 "4: routes[0].template: level \"{sensor_id\": write a placeholder as a whole level {name}"},
	{"routes:\n  - filter: a/#\n    adapter: native\n    template: a/x{kind}\n",
	 "4: routes[0].template: level \"x{kind}\": write a placeholder as a whole level {name}"},
	{"routes:\n  - filter: a/#\n    adapter: native\n    template: a/{}/b\n",
	 "4: routes[0].template: a {name} placeholder names a tag: letters, digits, _ and -"},
	{"routes:\n  - filter: a/#\n    adapter: native\n    template: a/#/{kind}\n",
	 "4: routes[0].template: # may only be the last level of a template"},
	{"routes:\n  - filter: a/#\n    adapter: native\n    template: a/+/{kind}\n",
	 "4: routes[0].template: + matches nothing in a template: name the level, e.g. {site}"},
	/* route options that JSON cannot hold */
	{"routes:\n  - filter: a/#\n    adapter: x\n    options:\n      scale: .inf\n",
	 "5: routes[0].options.scale: infinity and NaN cannot be represented in JSON"},
	{"routes:\n  - filter: a/#\n    adapter: x\n    options:\n"
	 "      l: [1, 9223372036854775808]\n",
	 "5: routes[0].options.l[1]: integer out of range"},
	{"routes:\n  - filter: a/#\n    adapter: x\n    options:\n      big: 1e999\n",
	 "5: routes[0].options.big: number out of range"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		struct hub_config cfg;
		char want[512], err[512] = "";
		int rc = load_text(err_cases[i].yaml, &cfg, err, sizeof(err));

		snprintf(want, sizeof(want), "%s:%s", tmpfile_path, err_cases[i].err);
		if (rc != HUB_EINVAL || strcmp(err, want) != 0)
			fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc, err, want);
		assert_true(is_zeroed(&cfg));
	}
}

/* issue 13 #16: every error of the file in one run, one line each, capped */
static void test_all_errors(void **state)
{
	static const char *const yaml =
		"mqtt:\n  urll: tcp://x\n  version: 4\n"
		"journal:\n  fsync: sometimes\n"
		"http:\n  port: 70000\n"
		"bogus: 1\n"
		"routes:\n  - filter: a/#/b\n    adapter: native\n  - template: x/{y\n"
		"sinks:\n  - name: a/b\n    url: http://h:0\n  - name: ok\n    url: http://h\n"
		"    version: 2\n";
	static const char *const want[] = {
		"2: mqtt.urll: unknown key",
		"3: mqtt.version: must be one of 3, 5",
		"5: journal.fsync: must be one of none, interval, always",
		"7: http.port: must be between 0 and 65535",
		"8: bogus: unknown key",
		"10: routes[0].filter: # may only be the last level of a topic filter",
		"12: routes[1].template: level \"{y\": write a placeholder as a whole level {name}",
		"12: routes[1].filter: required key is missing",
		"12: routes[1].adapter: required key is missing",
		"14: sinks[0].name: may only contain letters, digits, _ and -",
		"15: sinks[0].url: port 0: must be between 1 and 65535",
		"16: sinks[1].org: required when version is 2",
	};
	struct hub_config cfg;
	struct hub_buf_text { char s[8192]; } *b = malloc(sizeof(*b));
	char err[8192], line[512], *text;
	size_t at = 0;

	(void)state;
	assert_non_null(b);
	b->s[0] = '\0';
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "%s%s:%s", i ? "\n" : "", tmpfile_path, want[i]);
		at += (size_t)snprintf(b->s + at, sizeof(b->s) - at, "%s", line);
	}
	assert_int_equal(load_text(yaml, &cfg, err, sizeof(err)), HUB_EINVAL);
	assert_string_equal(err, b->s);
	assert_true(is_zeroed(&cfg));
	free(b);

	/* 60 unknown keys: 50 lines, then a count of the rest */
	text = calloc(60, 32);
	assert_non_null(text);
	at = (size_t)sprintf(text, "log:\n");
	for (int i = 0; i < 60; i++)
		at += (size_t)sprintf(text + at, "  k%d: 1\n", i);
	assert_int_equal(load_text(text, &cfg, err, sizeof(err)), HUB_EINVAL);
	free(text);
	{
		int lines = 1;
		for (const char *p = err; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 51);
	}
	snprintf(line, sizeof(line), "%s:51: log.k49: unknown key\n%s: 10 more errors not shown",
		 tmpfile_path, tmpfile_path);
	assert_non_null(strstr(err, line));
	/* a small buffer holds whole lines only (the first one cut if it must) */
	assert_int_equal(load_text("log:\n  a: 1\n  b: 2\n", &cfg, err, 80), HUB_EINVAL);
	snprintf(line, sizeof(line), "%s:2: log.a: unknown key", tmpfile_path);
	assert_string_equal(err, line);
}

/* issue 13 #11: IPv6 and host names are fine for http.listen; a directory is no config file */
static void test_listen_and_dir(void **state)
{
	static const char *const ok[] = {"::1", "::", "localhost", "0.0.0.0", "127.0.0.1"};
	struct hub_config cfg;
	char text[128], err[512], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "http:\n  listen: \"%s\"\n", ok[i]);
		if (load_text(text, &cfg, err, sizeof(err)) != HUB_OK)
			fail_msg("listen %s: %s", ok[i], err);
		assert_string_equal(cfg.http.listen, ok[i]);
		hub_config_free(&cfg);
	}
	/* the resolver's words vary (no such name, or no DNS at all): only the start is fixed */
	assert_int_equal(load_text("http:\n  listen: no-such-host.invalid\n", &cfg, err,
				   sizeof(err)), HUB_EINVAL);
	snprintf(want, sizeof(want), "%s:2: http.listen: cannot resolve no-such-host.invalid: ",
		 tmpfile_path);
	assert_memory_equal(err, want, strlen(want));
	assert_null(strchr(err, '\n'));
	assert_int_equal(hub_config_load(tmpdir, hub_adapter_all(), &cfg, err, sizeof(err)), HUB_EINVAL);
	snprintf(want, sizeof(want), "%s: is a directory, not a config file", tmpdir);
	assert_string_equal(err, want);
	assert_true(is_zeroed(&cfg));
}

static void test_missing_file(void **state)
{
	struct hub_config cfg;
	char path[256], want[512], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope.yaml", tmpdir);
	assert_int_equal(hub_config_load(path, hub_adapter_all(), &cfg, err, sizeof(err)), HUB_EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
	assert_true(is_zeroed(&cfg));
	/* a short error buffer is truncated, never overrun */
	memset(err, 'x', sizeof(err));
	assert_int_equal(hub_config_load(path, hub_adapter_all(), &cfg, err, 8), HUB_EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'x');
	assert_int_equal(hub_config_load(path, hub_adapter_all(), &cfg, NULL, 0), HUB_EINVAL);
}

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *text;
	long n;

	if (!fp)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	text[n] = '\0';
	fclose(fp);
	return text;
}

/* docs/config.md holds hub_config_write_doc's output between the markers, byte for byte. */
static void test_doc(void **state)
{
	static const char begin[] = "<!-- BEGIN GENERATED -->\n", end[] = "<!-- END GENERATED -->";
	char path[512], *doc, *gen = NULL, *from, *to;
	size_t genlen = 0;
	FILE *mem = open_memstream(&gen, &genlen);

	(void)state;
	assert_non_null(mem);
	hub_config_write_doc(mem, hub_adapter_all());
	assert_int_equal(fclose(mem), 0);
	assert_non_null(strstr(gen, "| `journal.max_bytes` | size | `1GiB` | 1MiB .. 1TiB |"));
	source_path(path, sizeof(path), "docs/config.md");
	doc = read_all(path);
	assert_non_null(doc);
	from = strstr(doc, begin);
	to = from ? strstr(from, end) : NULL;
	if (!from || !to)
		fail_msg("%s: markers %s and %s not found", path, begin, end);
	from += strlen(begin);
	if ((size_t)(to - from) != genlen || memcmp(from, gen, genlen) != 0) {
		const char *build = getenv("CITYHUB_BUILD_ROOT");
		char out[512];
		snprintf(out, sizeof(out), "%s/config-doc.md", build ? build : ".");
		FILE *fp = fopen(out, "w");
		if (fp) {
			fwrite(gen, 1, genlen, fp);
			fclose(fp);
		}
		fail_msg("docs/config.md is out of date: replace the text between the markers with "
			 "the output of `cityhub --config-doc` (also written to %s)", out);
	}
	free(doc);
	free(gen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_comments_only),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_routes_options),
		cmocka_unit_test(test_sinks_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_listen_and_dir),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_doc),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
