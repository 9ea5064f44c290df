/* The cityhub-sim binary in --dry-run mode: smoke run, byte-identical output per seed,
 * fault logging against the summary, load-mode output, command-line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_test_util.h"

#include <time.h>

/* Undoes the dry-run escaping of one line segment into out. */
static void unescape(const char *s, size_t n, struct hub_buf *out)
{
	hub_buf_clear(out);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {
			char e = s[++i];
			if (e == 'n')
				c = '\n';
			else if (e == 'r')
				c = '\r';
			else if (e == 't')
				c = '\t';
			else if (e == 'x' && i + 2 < n) {
				char hex[3] = {s[i + 1], s[i + 2], 0};
				c = (char)strtol(hex, NULL, 16);
				i += 2;
			} else
				c = e;
		}
		hub_buf_append(out, &c, 1);
	}
	if (!out->data)
		hub_buf_puts(out, "");
}

static const char *const prefixes[] = {"city/", "senml/", "v3/mytho-pilot@ttn/devices/",
                                       "application/", "ngsi/"};

static int hostile_topic(const char *t)
{
	static const char *const marks[] = {"evil",  "utf8-", "num-",  "nul-",
	                                    "deep-", "big-",  "empty", "//"};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(t, marks[i]))
			return 1;
	return t[0] == '/' || t[strlen(t) - 1] == '/';
}

struct line_stats {
	size_t lines, bad_json, big, prefix_ok;
};

static void scan_lines(const struct hub_buf *out, size_t big_bytes, struct line_stats *ls)
{
	struct hub_buf topic = {0}, payload = {0};
	const char *p = out->data, *end = out->data + out->len;
	memset(ls, 0, sizeof(*ls));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *tab = memchr(p, '\t', (size_t)(nl - p));
		if (!tab) /* the summary */
			break;
		unescape(p, (size_t)(tab - p), &topic);
		unescape(tab + 1, (size_t)(nl - tab - 1), &payload);
		ls->lines++;
		for (size_t i = 0; i < 5; i++)
			if (strncmp(topic.data, prefixes[i], strlen(prefixes[i])) == 0)
				ls->prefix_ok++;
		if (!hostile_topic(topic.data)) {
			json_t *v = json_loadb(payload.data, payload.len, 0, NULL);
			ls->bad_json += v == NULL;
			ls->big += payload.len >= big_bytes;
			json_decref(v);
		}
		p = nl + 1;
	}
	hub_buf_fini(&topic);
	hub_buf_fini(&payload);
}

static void test_smoke(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	struct line_stats ls;
	assert_int_equal(run_sim("--dry-run --duration 10m --speed 0", &out, &err), 0);
	scan_lines(&out, SIZE_MAX, &ls);
	json_t *sum = summary_of(&out);
	assert_non_null(sum);
	assert_string_equal(json_string_value(json_object_get(sum, "scenario")), "normal-day");
	assert_int_equal(jint(sum, "messages", "total", NULL), (long long)ls.lines);
	assert_int_equal(ls.prefix_ok, ls.lines);
	assert_int_equal(ls.bad_json, 0);
	long long samples = jint(sum, "samples", NULL);
	assert_true(samples >= 160 && samples <= 180);
	assert_int_equal(samples - jint(sum, "faults", "by_type", "dropout", NULL),
	                 jint(sum, "messages", "total", NULL));
	/* Every traffic sensor reports once a minute. */
	assert_int_equal(jint(sum, "messages", "by_kind", "traffic_flow", NULL) +
	                     (long long)count_of(&err, "fault=dropout sensor=tf-"),
	                 120);
	assert_int_equal(jint(sum, "expected_rejects", "total", NULL), 0);
	assert_int_equal(jint(sum, "publish", "failed", NULL), 0);
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

static void test_determinism(void **state)
{
	(void)state;
	struct hub_buf a = {0}, b = {0}, c = {0}, err = {0};
	const char *args = "--dry-run --scenario hostile-gateway --duration 20m --seed 7";
	assert_int_equal(run_sim(args, &a, &err), 0);
	assert_int_equal(run_sim(args, &b, &err), 0);
	assert_int_equal(
	    run_sim("--dry-run --scenario hostile-gateway --duration 20m --seed 8", &c, &err), 0);
	assert_true(a.len > 10000);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
	hub_buf_fini(&a);
	hub_buf_fini(&b);
	hub_buf_fini(&c);
	hub_buf_fini(&err);
}

/* Every fault is logged once; rejects in the summary match what the payloads show. */
static void test_faults_logged(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	struct line_stats ls;
	assert_int_equal(
	    run_sim("--dry-run --scenario hostile-gateway --duration 30m --seed 3", &out, &err), 0);
	json_t *sum = summary_of(&out);
	assert_non_null(sum);
	assert_int_equal(jint(sum, "faults", "total", NULL), (long long)count_of(&err, " fault="));
	assert_true(jint(sum, "faults", "total", NULL) > 30);
	/* The hostile gateway speaks every 60 s, first at 30 s. */
	assert_int_equal(jint(sum, "messages", "hostile", NULL), 30);
	assert_int_equal(count_of(&err, "sensor=hostile-gateway"), 30);
	scan_lines(&out, 2 * 1024 * 1024, &ls);
	assert_int_equal(jint(sum, "messages", "total", NULL), (long long)ls.lines);
	assert_int_equal(jint(sum, "expected_rejects", "bad_json", NULL), (long long)ls.bad_json);
	assert_int_equal(jint(sum, "expected_rejects", "too_large", NULL), (long long)ls.big);
	assert_true(ls.bad_json > 0);
	assert_int_equal(jint(sum, "faults", "by_type", "malformed_json", NULL),
	                 (long long)count_of(&err, "fault=malformed_json "));
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

static void test_load_mode(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	struct line_stats ls;
	assert_int_equal(run_sim("--dry-run --rate 20000 --count 500 --sensors 50", &out, &err), 0);
	scan_lines(&out, SIZE_MAX, &ls);
	assert_int_equal(ls.lines, 500);
	assert_int_equal(ls.bad_json, 0);
	json_t *sum = summary_of(&out);
	assert_string_equal(json_string_value(json_object_get(sum, "mode")), "load");
	assert_int_equal(jint(sum, "sent", NULL), 500);
	/* One line checked closely: ~100 bytes, the 51st sensor wraps to load-00000. */
	const char *l = out.data;
	for (int i = 0; i < 50; i++)
		l = strchr(l, '\n') + 1;
	const char *tab = strchr(l, '\t');
	size_t plen = (size_t)(strchr(l, '\n') - tab - 1);
	assert_true(plen >= 90 && plen <= 130);
	assert_int_equal(strncmp(tab + 1, "{\"sensor_id\":\"load-00000\",\"kind\":\"noise\"", 40),
	                 0);
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

/* The default line, byte for byte apart from the send time (bench/run reads these). */
static void test_load_default_line(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	const char *head = "city/noise/phuong-1/load-00000\t{\"sensor_id\":\"load-00000\","
	                   "\"kind\":\"noise\",\"time\":\"";
	const char *tail = "Z\",\"fields\":{\"laeq_db\":50.0,\"lamax_db\":59.5}}\n";
	assert_int_equal(run_sim("--dry-run --count 1", &out, &err), 0);
	/* the time: 2026-11-26T23:48:21.632451 (microseconds) */
	assert_int_equal(strncmp(out.data, head, strlen(head)), 0);
	const char *t = out.data + strlen(head);
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[19], '.');
	assert_int_equal(strncmp(t + 26, tail, strlen(tail)), 0);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

/* --first, --prefix, --district, --load-kind and --seq-time: exact lines. */
static void test_load_sequence(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	const char *want = "city/air_quality/faults/"
	                   "lg-00048\t{\"sensor_id\":\"lg-00048\",\"kind\":\"air_quality\","
	                   "\"time\":\"2026-11-26T10:00:00.998Z\",\"fields\":{\"pm25\":998.25}}\n"
	                   "city/air_quality/faults/"
	                   "lg-00049\t{\"sensor_id\":\"lg-00049\",\"kind\":\"air_quality\","
	                   "\"time\":\"2026-11-26T10:00:00.999Z\",\"fields\":{\"pm25\":999.25}}\n"
	                   "city/air_quality/faults/"
	                   "lg-00000\t{\"sensor_id\":\"lg-00000\",\"kind\":\"air_quality\","
	                   "\"time\":\"2026-11-26T10:00:01.000Z\",\"fields\":{\"pm25\":0.25}}\n";
	const char *opts = "--dry-run --rate 1e7 --count 3 --first 998 --sensors 50 --prefix lg "
	                   "--district faults --load-kind air_quality --summary /dev/null";
	const char *t0[] = {"1795687200000", "2026-11-26T17:00:00+07:00"}; /* the same instant */
	char args[512];
	for (int i = 0; i < 2; i++) {
		hub_buf_clear(&out);
		snprintf(args, sizeof(args), "%s --seq-time %s", opts, t0[i]);
		assert_int_equal(run_sim(args, &out, &err), 0);
		assert_string_equal(out.data, want);
	}
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

static void test_load_bad_options(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	const char *bad[] = {"--count 1 --load-kind water", "--count 1 --prefix a/b",
	                     "--count 1 --district 'a b'",  "--count 1 --seq-time yesterday",
	                     "--count 1 --first -1",        "--count 1 --ack-timeout 0",
	                     "--first 5 --dry-run",         "--seq-time 0 --dry-run"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hub_buf_clear(&err);
		assert_int_equal(run_sim(bad[i], &out, &err), 2);
		assert_non_null(strstr(err.data, "cityhub-sim:"));
	}
	/* issue 13 #14: an option of the other mode is an error, never silently ignored (this one
	 * used to pace 10,000 messages at 5/s for 33 minutes) */
	const struct {
		const char *args, *err;
	} mixed[] = {
	    {"--dry-run --duration 10s --rate 5",
	     "cityhub-sim: --duration is a scenario option: it has no effect in load mode"},
	    {"--dry-run --count 3 --scenario normal-day", "--scenario is a scenario option"},
	    {"--dry-run --count 3 --seed 7", "--seed is a scenario option"},
	    {"--dry-run --count 3 --speed max", "--speed is a scenario option"},
	    {"--dry-run --count 3 --start 2026-03-10T06:00:00Z", "--start is a scenario option"},
	    {"--dry-run --sensors 5", "--sensors is a load-mode option: it needs --rate or --count"},
	    {"--dry-run --district p1 --duration 1m", "--district is a load-mode option"},
	};
	for (size_t i = 0; i < sizeof(mixed) / sizeof(mixed[0]); i++) {
		hub_buf_clear(&err);
		hub_buf_clear(&out);
		assert_int_equal(run_sim(mixed[i].args, &out, &err), 2);
		if (!strstr(err.data, mixed[i].err))
			fail_msg("%s: stderr %s", mixed[i].args, err.data);
		assert_true(out.len == 0);
	}
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

static void test_cli(void **state)
{
	(void)state;
	struct hub_buf out = {0}, err = {0};
	assert_int_equal(run_sim("--qos 3", &out, &err), 2);
	assert_non_null(strstr(err.data, "--qos"));
	assert_int_equal(run_sim("--dry-run --scenario no-such", &out, &err), 2);
	assert_int_equal(run_sim("--bogus", &out, &err), 2);
	hub_buf_clear(&out);
	assert_int_equal(run_sim("--help", &out, &err), 0);
	assert_non_null(strstr(out.data, "--broker URL"));
	assert_non_null(strstr(out.data, "--dry-run"));
	hub_buf_clear(&out);
	assert_int_equal(run_sim("--list-scenarios", &out, &err), 0);
	assert_int_equal(count_of(&out, "\n"), 11);
	assert_non_null(strstr(out.data, "flood-tide-salinity\t"));
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smoke),
	    cmocka_unit_test(test_determinism),
	    cmocka_unit_test(test_faults_logged),
	    cmocka_unit_test(test_load_mode),
	    cmocka_unit_test(test_load_default_line),
	    cmocka_unit_test(test_load_sequence),
	    cmocka_unit_test(test_load_bad_options),
	    cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
