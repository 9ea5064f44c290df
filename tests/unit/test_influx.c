/* hub_influx against tests/tools/stub_sink.py (one reply class per test) and a real influxd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "influx.h"

#define TS0 1700000000000000000LL
#define INFLUXD "/usr/bin/influxd"

static pid_t stub_pid;
static char stub_base[64]; /* http://127.0.0.1:<port> */

/* ---- small HTTP client for the stub's control endpoints and influxd ---- */

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	hub_buf_append(ud, p, size * n);
	return size * n;
}

/* Sends method url (body may be NULL); returns the status, the reply body in out if non-NULL. */
static long http(const char *method, const char *url, const char *body, struct hub_buf *out)
{
	struct hub_buf sink = {0};
	CURL *c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (body || strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out ? out : &sink);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	hub_buf_fini(&sink);
	return status;
}

static void control(const char *json)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/_control", stub_base);
	assert_int_equal(http("POST", url, json, NULL), 204);
}

static json_t *stub_get(const char *what)
{
	char url[128];
	struct hub_buf out = {0};
	snprintf(url, sizeof(url), "%s/%s", stub_base, what);
	assert_int_equal(http("GET", url, NULL, &out), 200);
	json_t *j = json_loadb(out.data, out.len, 0, NULL);
	hub_buf_fini(&out);
	assert_true(json_is_array(j));
	return j;
}

/* ---- batches ---- */

static void batch_add(struct hub_lpbatch *b, const char *line)
{
	if (b->nlines == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->ends = hub_xrealloc(b->ends, b->cap * sizeof(*b->ends));
	}
	hub_buf_puts(&b->buf, line);
	hub_buf_append(&b->buf, "\n", 1);
	b->ends[b->nlines++] = b->buf.len;
}

/* Line i of the test batches; bad_at names a line written with sensor=BAD, or -1. */
static void make_line(char *out, size_t n, int i, int bad_at)
{
	if (i == bad_at)
		snprintf(out, n, "traffic_flow,sensor_id=BAD vehicle_count=%di %lld", i, TS0 + i);
	else
		snprintf(out, n, "traffic_flow,district=d1,sensor_id=s%d vehicle_count=%di,speed=%d.5 %lld",
			 i, i, i, TS0 + i);
}

static void make_batch(struct hub_lpbatch *b, int n, int bad_at)
{
	char line[200];
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < n; i++) {
		make_line(line, sizeof(line), i, bad_at);
		batch_add(b, line);
	}
}

static void batch_free(struct hub_lpbatch *b)
{
	hub_buf_fini(&b->buf);
	free(b->ends);
	memset(b, 0, sizeof(*b));
}

/* ---- assertions on what the stub stored ---- */

#define ANY_SIZE SIZE_MAX

/* Returns the stub's log what ("_lines" or "_requests"), which must hold n entries unless n is
 * ANY_SIZE. The caller decrefs it. */
static json_t *stub_log(const char *what, size_t n)
{
	json_t *log = stub_get(what);
	if (n != ANY_SIZE)
		assert_int_equal(json_array_size(log), n);
	return log;
}

/* The stub stored exactly lines 0..n-1 (except skip), in order. */
static void assert_lines_exact(int n, int skip)
{
	json_t *lines = stub_log("_lines", (size_t)(n - (skip >= 0)));
	char want[200];
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		if (i == skip)
			continue;
		make_line(want, sizeof(want), i, -1);
		assert_string_equal(json_string_value(json_array_get(lines, k++)), want);
	}
	json_decref(lines);
}

/* The set of distinct lines the stub stored is exactly lines 0..n-1 (except skip). */
static void assert_lines_set(int n, int skip)
{
	json_t *lines = stub_log("_lines", ANY_SIZE);
	char want[200];
	size_t stored = json_array_size(lines);
	for (int i = 0; i < n; i++) {
		make_line(want, sizeof(want), i, -1);
		int found = 0;
		for (size_t k = 0; k < stored; k++)
			found |= strcmp(json_string_value(json_array_get(lines, k)), want) == 0;
		assert_int_equal(found, i != skip);
	}
	for (size_t k = 0; k < stored; k++)
		assert_null(strstr(json_string_value(json_array_get(lines, k)), "BAD"));
	json_decref(lines);
}

static const char *req_str(json_t *reqs, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(reqs, i), key));
}

static long long req_int(json_t *reqs, size_t i, const char *key)
{
	return json_integer_value(json_object_get(json_array_get(reqs, i), key));
}

/* The stub's request log has exactly these statuses (0 = connection reset), in order, and, where
 * nlines is non-NULL and nlines[i] non-zero, request i carried nlines[i] lines. */
static void assert_requests(const int *want, const int *nlines, size_t n)
{
	json_t *reqs = stub_log("_requests", n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(req_int(reqs, i, "status"), want[i]);
		if (nlines && nlines[i])
			assert_int_equal(req_int(reqs, i, "nlines"), nlines[i]);
	}
	json_decref(reqs);
}

/* Request i of reqs went to path?query with this Authorization header. */
static void assert_target(json_t *reqs, size_t i, const char *path, const char *query,
			  const char *auth)
{
	assert_string_equal(req_str(reqs, i, "path"), path);
	assert_string_equal(req_str(reqs, i, "query"), query);
	assert_string_equal(req_str(reqs, i, "auth"), auth);
}

/* ---- assertions on the writer's figures ---- */

struct stat_want {
	const char *name; /* a counter of struct hub_influx_stats, or NULL at the end of a list */
	long long value;
};

/* A NULL-ended list of stat_want, for assert_stats(). */
#define STATS(...) ((const struct stat_want[]){__VA_ARGS__, {NULL, 0}})

static long long stat_value(const struct hub_influx_stats *st, const char *name)
{
	const struct stat_want all[] = {
		{"requests", (long long)st->requests},
		{"lines_ok", (long long)st->lines_ok},
		{"lines_dropped", (long long)st->lines_dropped},
		{"retries", (long long)st->retries},
		{"splits", (long long)st->splits},
		{"healthy", st->healthy},
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(all[i].name, name) == 0)
			return all[i].value;
	}
	fail_msg("no stat %s", name);
	return -1;
}

/* Every stat named in want (ended by a NULL name) has its value in st. */
static void assert_stats(const struct hub_influx_stats *st, const struct stat_want *want)
{
	for (; want->name; want++) {
		long long got = stat_value(st, want->name);
		if (got != want->value)
			fail_msg("stat %s is %lld, want %lld", want->name, got, want->value);
	}
}

/* ---- writer set-up ---- */

static struct hub_cfg_sink base_cfg(void)
{
	struct hub_cfg_sink c = {
		.name = "test",
		.type = "influxdb",
		.url = stub_base,
		.version = 1,
		.database = "city",
		.timeout_ms = 5000,
		.retry_base_ms = 1,
		.retry_cap_ms = 20,
	};
	return c;
}

struct drops {
	int n;
	char line[200];
	char why[600];
};

static void on_drop(void *ctx, const char *line, size_t len, const char *why)
{
	struct drops *d = ctx;
	d->n++;
	snprintf(d->line, sizeof(d->line), "%.*s", (int)len, line);
	snprintf(d->why, sizeof(d->why), "%s", why);
}

/* d saw n dropped lines, the last being line i of a batch made with bad_at. */
static void assert_drops(const struct drops *d, int n, int i, int bad_at)
{
	char want[200];
	assert_int_equal(d->n, n);
	make_line(want, sizeof(want), i, bad_at);
	assert_string_equal(d->line, want);
}

static struct hub_influx *writer(const struct hub_cfg_sink *cfg)
{
	char err[200] = "";
	struct hub_influx *w = hub_influx_new(cfg, err, sizeof(err));
	if (!w)
		fail_msg("hub_influx_new: %s", err);
	return w;
}

/* Writes b once with a new writer for cfg and *stop (stop may be NULL); returns the write's
 * result, the writer's stats in st and the dropped lines in d (each if non-NULL). */
static int write_once(const struct hub_cfg_sink *cfg, const struct hub_lpbatch *b, struct drops *d,
		      const _Atomic int *stop, struct hub_influx_stats *st)
{
	struct hub_influx *w = writer(cfg);
	int rc = hub_influx_write(w, b, d ? on_drop : NULL, d, stop);
	if (st)
		hub_influx_get_stats(w, st);
	hub_influx_free(w);
	return rc;
}

/* Writes the n lines of make_batch(n, bad_at) with cfg; returns as write_once(). */
static int write_batch(const struct hub_cfg_sink *cfg, int n, int bad_at, struct drops *d,
		       struct hub_influx_stats *st)
{
	struct hub_lpbatch b;
	make_batch(&b, n, bad_at);
	int rc = write_once(cfg, &b, d, NULL, st);
	batch_free(&b);
	return rc;
}

/* ---- stub process ---- */

static int group_setup(void **state)
{
	(void)state;
	const char *root = getenv("CITYHUB_SOURCE_ROOT");
	char script[4096];
	int fds[2];
	if (!root || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || pipe(fds) != 0)
		return -1;
	snprintf(script, sizeof(script), "%s/tests/tools/stub_sink.py", root);
	stub_pid = fork();
	if (stub_pid < 0)
		return -1;
	if (stub_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan when the test dies */
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--port", "0", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *fp = fdopen(fds[0], "r");
	char line[32] = "";
	int ok = fp && fgets(line, sizeof(line), fp) != NULL;
	if (fp)
		fclose(fp);
	char *end;
	long port = strtol(line, &end, 10);
	if (!ok || end == line || port <= 0 || port > 65535)
		return -1;
	snprintf(stub_base, sizeof(stub_base), "http://127.0.0.1:%ld", port);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (stub_pid > 0) {
		kill(stub_pid, SIGTERM);
		waitpid(stub_pid, NULL, 0);
	}
	curl_global_cleanup();
	return 0;
}

static int reset_stub(void **state)
{
	(void)state;
	control("{\"clear\": true}");
	return 0;
}

/* ---- tests: reply classes, one table row each ---- */

enum lines_check { LINES_UNCHECKED, LINES_EXACT, LINES_SET };

#define MAX_REQS 8

/* One write of nlines good lines while the stub follows rule, and what must come of it. A zero
 * or NULL field keeps base_cfg()'s value or is not checked. */
struct write_case {
	const char *rule;             /* the stub's _control rule */
	int timeout_ms, retry_cap_ms; /* cfg */
	int nlines;
	int rc;                       /* what hub_influx_write() returns */
	long long min_ms, max_ms;     /* bounds on the write's duration */
	struct stat_want stats[7];    /* ended by a NULL name */
	const char *last_error;       /* st.last_error, whole */
	const char *error_prefix;     /* st.last_error starts with this */
	size_t nrequests;             /* the stub's request log: nrequests requests, */
	int statuses[MAX_REQS];       /* with these statuses, */
	int nlines_sent[MAX_REQS];    /* carrying these numbers of lines (where non-zero) */
	size_t nstored;               /* lines the stub stored, duplicates included */
	enum lines_check lines;       /* how the stored lines must match the written ones */
};

/* Runs the write_case in *state (see WRITE_CASE). */
static void run_write_case(void **state)
{
	const struct write_case *c = *state;
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_influx_stats st;
	if (c->rule)
		control(c->rule);
	cfg.timeout_ms = c->timeout_ms ? c->timeout_ms : cfg.timeout_ms;
	cfg.retry_cap_ms = c->retry_cap_ms ? c->retry_cap_ms : cfg.retry_cap_ms;
	long long t0 = hub_now_mono_ms();
	assert_int_equal(write_batch(&cfg, c->nlines, -1, NULL, &st), c->rc);
	long long took = hub_now_mono_ms() - t0;
	assert_true(took >= c->min_ms);
	if (c->max_ms)
		assert_true(took < c->max_ms);
	assert_stats(&st, c->stats);
	if (c->last_error)
		assert_string_equal(st.last_error, c->last_error);
	if (c->error_prefix)
		assert_memory_equal(st.last_error, c->error_prefix, strlen(c->error_prefix));
	if (c->nrequests)
		assert_requests(c->statuses, c->nlines_sent, c->nrequests);
	if (c->nstored)
		json_decref(stub_log("_lines", c->nstored));
	if (c->lines == LINES_EXACT)
		assert_lines_exact(c->nlines, -1);
	else if (c->lines == LINES_SET)
		assert_lines_set(c->nlines, -1);
}

/* A cmocka test named after the write_case c, run with a cleared stub. */
#define WRITE_CASE(c) {#c, run_write_case, reset_stub, NULL, (void *)&c}

static const struct write_case test_exact_lines_once = {.nlines = 7, .lines = LINES_EXACT};

static const struct write_case test_500_twice = {
	.rule = "{\"mode\": \"status\", \"status\": 500, \"times\": 2}", .nlines = 6,
	.stats = {{"retries", 2}, {"requests", 3}, {"lines_ok", 6}, {"healthy", 1}},
	.last_error = "HTTP 500: stub status 500",
	.nrequests = 3, .statuses = {500, 500, 204}, .lines = LINES_SET,
};

/* The header asks for 1 s; the backoff alone is <= 1 ms. */
static const struct write_case test_503_retry_after = {
	.rule = "{\"status\": 503, \"retry_after\": 1, \"times\": 1}", .retry_cap_ms = 5000,
	.nlines = 3, .min_ms = 900, .stats = {{"retries", 1}},
	.nrequests = 2, .statuses = {503, 204}, .lines = LINES_EXACT,
};

/* An hour asked for, capped at retry_cap_ms; without the cap this test would hang. */
static const struct write_case test_429_capped = {
	.rule = "{\"status\": 429, \"retry_after\": 3600, \"times\": 1}", .retry_cap_ms = 200,
	.nlines = 3, .max_ms = 60000, .stats = {{"retries", 1}},
	.nrequests = 2, .statuses = {429, 204}, .lines = LINES_EXACT,
};

static const struct write_case test_429_no_header = {
	.rule = "{\"status\": 429, \"times\": 2}", .nlines = 4, .stats = {{"retries", 2}},
	.nrequests = 3, .statuses = {429, 429, 204}, .lines = LINES_EXACT,
};

static const struct write_case test_413_split = {
	.rule = "{\"status\": 413, \"times\": 1}", .nlines = 10,
	.stats = {{"splits", 1}, {"requests", 3}, {"lines_ok", 10}, {"retries", 0}},
	.nrequests = 3, .statuses = {413, 204, 204}, .nlines_sent = {10, 5, 5},
	.lines = LINES_EXACT,
};

/* 401 and 403 end the write at once: one request, no retry, the writer unhealthy. */
#define AUTH_REFUSED(status, body)                                                                 \
	{                                                                                          \
		.rule = "{\"status\": " #status ", \"times\": 1, \"body\": \"" body "\"}",         \
		.nlines = 5, .rc = HUB_EAUTH,                                                      \
		.stats = {{"healthy", 0}, {"requests", 1}, {"retries", 0}, {"lines_ok", 0}},       \
		.last_error = "HTTP " #status ": " body, .nrequests = 1, .statuses = {status},     \
	}

static const struct write_case test_auth_refused_401 = AUTH_REFUSED(401, "authorization failed");
static const struct write_case test_auth_refused_403 = AUTH_REFUSED(403, "forbidden");

static const struct write_case test_reset_then_ok = {
	.rule = "{\"reset\": true, \"times\": 1}", .nlines = 4,
	.stats = {{"retries", 1}, {"requests", 2}, {"healthy", 1}}, .error_prefix = "network: ",
	.nrequests = 2, .statuses = {0, 204}, .lines = LINES_EXACT,
};

/* The slow store keeps the first copy too: a resend duplicates, never loses. */
static const struct write_case test_timeout_then_ok = {
	.rule = "{\"mode\": \"ok\", \"delay_ms\": 1500, \"times\": 1}", .timeout_ms = 300,
	.nlines = 4, .stats = {{"retries", 1}, {"requests", 2}, {"lines_ok", 4}},
	.error_prefix = "network: ", .nstored = 8, .lines = LINES_SET,
};

/* ---- tests: the rest ---- */

static void test_ok_204(void **state)
{
	(void)state;
	struct hub_cfg_sink cfg = base_cfg();
	cfg.retention_policy = "one week";
	cfg.username = "u";
	cfg.password = "p";
	struct hub_lpbatch b;
	make_batch(&b, 5, -1);
	struct hub_influx *w = writer(&cfg);
	assert_int_equal(hub_influx_write(w, &b, NULL, NULL, NULL), HUB_OK);
	assert_int_equal(hub_influx_write(w, &b, NULL, NULL, NULL), HUB_OK);
	struct hub_influx_stats st;
	hub_influx_get_stats(w, &st);
	hub_influx_free(w);
	batch_free(&b);

	assert_stats(&st, STATS({"requests", 2}, {"lines_ok", 10}, {"retries", 0},
				{"lines_dropped", 0}, {"healthy", 1}));
	assert_string_equal(st.last_error, "");
	json_t *reqs = stub_log("_requests", 2);
	assert_target(reqs, 0, "/write", "db=city&rp=one%20week&precision=ns", "Basic dTpw");
	assert_string_equal(req_str(reqs, 0, "content_type"), "text/plain; charset=utf-8");
	assert_null(req_str(reqs, 0, "expect"));
	assert_int_equal(req_int(reqs, 0, "nlines"), 5);
	assert_false(json_is_true(json_object_get(json_array_get(reqs, 0), "gzip")));
	/* keep-alive: the second request came over the same connection */
	assert_string_equal(req_str(reqs, 0, "conn"), req_str(reqs, 1, "conn"));
	json_decref(reqs);
	json_decref(stub_log("_lines", 10));
}

/* Writes make_batch(n, bad_at) while the stub follows rule, which must end in HUB_OK; returns the
 * dropped lines in d and the writer's stats in st. */
static void write_dropping(const char *rule, int n, int bad_at, struct drops *d,
			   struct hub_influx_stats *st)
{
	control(rule);
	struct hub_cfg_sink cfg = base_cfg();
	assert_int_equal(write_batch(&cfg, n, bad_at, d, st), HUB_OK);
}

static void test_413_single_line_dropped(void **state)
{
	(void)state;
	struct drops d = {0};
	struct hub_influx_stats st;
	write_dropping("{\"status\": 413, \"times\": -1, \"body\": \"request entity too large\"}",
		       2, -1, &d, &st);
	assert_drops(&d, 2, 1, -1);
	assert_string_equal(d.why, "request entity too large");
	assert_stats(&st, STATS({"lines_dropped", 2}, {"lines_ok", 0}, {"splits", 1}));
	static const int statuses[] = {413, 413, 413};
	assert_requests(statuses, NULL, 3);
}

static void test_400_bisect(void **state)
{
	(void)state;
	struct drops d = {0};
	struct hub_influx_stats st;
	write_dropping("{\"bad_substring\": \"BAD\", \"times\": -1}", 10, 6, &d, &st);
	assert_drops(&d, 1, 6, 6);
	assert_non_null(strstr(d.why, "unable to parse 'traffic_flow,sensor_id=BAD"));
	/* splits: 10 -> 5+5, 5..10 -> 2+3, 5..7 -> 1+1 */
	assert_stats(&st, STATS({"lines_dropped", 1}, {"lines_ok", 9}, {"splits", 3},
				{"retries", 0}, {"healthy", 1}));
	/* (0,10) (0,5) (5,10) (5,7) (5,6) (6,7) (7,10) */
	static const int statuses[] = {400, 204, 400, 400, 204, 400, 204};
	assert_requests(statuses, NULL, 7);
	assert_lines_set(10, 6);
}

static void test_large_body_no_expect(void **state)
{
	(void)state;
	/* curl adds "Expect: 100-continue" to bodies over 1 MB unless told not to */
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_lpbatch b;
	make_batch(&b, 20000, -1);
	assert_true(b.buf.len > 1500000);
	assert_int_equal(write_once(&cfg, &b, NULL, NULL, NULL), HUB_OK);
	json_t *reqs = stub_log("_requests", 1);
	assert_int_equal(req_int(reqs, 0, "bytes"), (long long)b.buf.len);
	assert_null(req_str(reqs, 0, "expect"));
	json_decref(reqs);
	batch_free(&b);
}

static void test_gzip(void **state)
{
	(void)state;
	struct hub_cfg_sink cfg = base_cfg();
	cfg.gzip = 1;
	struct hub_lpbatch b;
	make_batch(&b, 200, -1);
	size_t raw = b.buf.len;
	assert_int_equal(write_once(&cfg, &b, NULL, NULL, NULL), HUB_OK);
	batch_free(&b);
	json_t *reqs = stub_log("_requests", 1);
	assert_true(json_is_true(json_object_get(json_array_get(reqs, 0), "gzip")));
	assert_int_equal(req_int(reqs, 0, "nlines"), 200);
	assert_true((size_t)req_int(reqs, 0, "bytes") < raw / 2);
	json_decref(reqs);
	assert_lines_exact(200, -1);
}

static void test_v2_url_and_token(void **state)
{
	(void)state;
	struct hub_cfg_sink cfg = base_cfg();
	cfg.version = 2;
	cfg.database = NULL;
	cfg.org = "my org&x";
	cfg.bucket = "b/1";
	cfg.token = "s3cr3t";
	assert_int_equal(write_batch(&cfg, 3, -1, NULL, NULL), HUB_OK);
	json_t *reqs = stub_log("_requests", 1);
	assert_target(reqs, 0, "/api/v2/write", "org=my%20org%26x&bucket=b%2F1&precision=ns",
		      "Token s3cr3t");
	json_decref(reqs);
	assert_lines_exact(3, -1);
}

struct stopper {
	_Atomic int *stop;
	int after_ms;
	long long set_at;
	struct hub_influx *w;
	int healthy_seen;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;
	struct timespec ts = {.tv_sec = s->after_ms / 1000, .tv_nsec = (s->after_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	struct hub_influx_stats st;
	hub_influx_get_stats(s->w, &st); /* from another thread, as the HTTP API does */
	s->healthy_seen = st.healthy;
	s->set_at = hub_now_mono_ms();
	*s->stop = 1;
	return NULL;
}

/* Runs a write that can only end by *stop; returns ms from setting stop to the return. */
static long long write_until_stopped(const struct hub_cfg_sink *cfg, struct hub_influx_stats *st,
				     int *healthy_seen)
{
	struct hub_lpbatch b;
	_Atomic int stop = 0;
	pthread_t th;
	make_batch(&b, 3, -1);
	struct stopper s = {.stop = &stop, .after_ms = 300, .w = writer(cfg)};
	assert_int_equal(pthread_create(&th, NULL, stop_later, &s), 0);
	assert_int_equal(hub_influx_write(s.w, &b, NULL, NULL, &stop), HUB_ESTOP);
	long long done = hub_now_mono_ms();
	pthread_join(th, NULL);
	hub_influx_get_stats(s.w, st);
	hub_influx_free(s.w);
	batch_free(&b);
	*healthy_seen = s.healthy_seen;
	return done - s.set_at;
}

/* A write with cfg that cannot succeed ends within 200 ms of the stop request, and the writer
 * said unhealthy while it was waiting. Returns its stats in st. */
static void assert_stops_promptly(const struct hub_cfg_sink *cfg, struct hub_influx_stats *st)
{
	int healthy_seen;
	long long ms = write_until_stopped(cfg, st, &healthy_seen);
	assert_true(ms >= 0 && ms <= 200);
	assert_int_equal(healthy_seen, 0);
}

static void test_stop_during_backoff(void **state)
{
	(void)state;
	control("{\"status\": 500, \"times\": -1}");
	struct hub_cfg_sink cfg = base_cfg();
	cfg.retry_base_ms = 60000;
	cfg.retry_cap_ms = 60000;
	struct hub_influx_stats st;
	assert_stops_promptly(&cfg, &st);
	assert_stats(&st, STATS({"healthy", 0}, {"lines_ok", 0}));
	assert_string_equal(st.last_error, "HTTP 500: stub status 500");
}

static void test_stop_during_slow_request(void **state)
{
	(void)state;
	/* the reply would come after 5 s (and then be a 204): only the stop flag can end it sooner */
	control("{\"mode\": \"ok\", \"delay_ms\": 5000, \"times\": 1}");
	struct hub_cfg_sink cfg = base_cfg();
	cfg.timeout_ms = 20000;
	struct hub_influx_stats st;
	int healthy_seen;
	write_until_stopped(&cfg, &st, &healthy_seen);
	assert_stats(&st, STATS({"requests", 1}, {"lines_ok", 0}, {"retries", 0}));
}

static void test_stop_already_set(void **state)
{
	(void)state;
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_lpbatch b;
	_Atomic int stop = 1;
	make_batch(&b, 2, -1);
	assert_int_equal(write_once(&cfg, &b, NULL, &stop, NULL), HUB_ESTOP);
	batch_free(&b);
	json_decref(stub_log("_requests", 0));
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_network_error_retries(void **state)
{
	(void)state;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port()); /* nobody listens */
	struct hub_cfg_sink cfg = base_cfg();
	cfg.url = url;
	struct hub_influx_stats st;
	assert_stops_promptly(&cfg, &st);
	assert_true(st.retries >= 1);
	assert_int_equal(st.requests, st.retries + 1);
	assert_memory_equal(st.last_error, "network: ", 9);
}

/* Issue 13 #15: while the store fails, the figures move as each request fails, not when the
 * write returns: a reader on another thread sees the failures, the retries by class, healthy 0
 * and no success yet; the next 2xx sets the time of the last success. */
struct sampler {
	struct hub_influx *w;
	_Atomic int *stop;
	struct hub_influx_stats seen;
};

static void *sample_then_stop(void *arg)
{
	struct sampler *s = arg;
	struct timespec ts = {0, 400 * 1000000L};
	nanosleep(&ts, NULL);
	hub_influx_get_stats(s->w, &s->seen);
	*s->stop = 1;
	return NULL;
}

static void test_stats_during_outage(void **state)
{
	(void)state;
	control("{\"status\": 500, \"times\": -1}");
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_lpbatch b;
	_Atomic int stop = 0;
	pthread_t th;
	struct sampler s = {.w = writer(&cfg), .stop = &stop};
	make_batch(&b, 3, -1);
	assert_int_equal(pthread_create(&th, NULL, sample_then_stop, &s), 0);
	assert_int_equal(hub_influx_write(s.w, &b, NULL, NULL, &stop), HUB_ESTOP);
	pthread_join(th, NULL);
	assert_int_equal(s.seen.healthy, 0);
	assert_true(s.seen.failed[HUB_INFLUX_F_SERVER] >= 2);
	assert_true(s.seen.retried[HUB_INFLUX_F_SERVER] >= 1);
	assert_int_equal(s.seen.failed[HUB_INFLUX_F_NETWORK], 0);
	assert_true(s.seen.failing >= 2);
	assert_int_equal(s.seen.last_status, 500);
	assert_int_equal(s.seen.last_success_ns, 0);
	assert_string_equal(hub_influx_fail_name(HUB_INFLUX_F_SERVER), "server");
	/* the store is back */
	control("{\"clear\": true}");
	stop = 0;
	int64_t before = hub_now_real_ns();
	assert_int_equal(hub_influx_write(s.w, &b, NULL, NULL, &stop), HUB_OK);
	struct hub_influx_stats st;
	hub_influx_get_stats(s.w, &st);
	assert_true(st.last_success_ns >= before && st.last_success_ns <= hub_now_real_ns());
	assert_int_equal(st.failing, 0);
	assert_int_equal(st.healthy, 1);
	assert_int_equal(st.last_status, 204);
	hub_influx_free(s.w);
	batch_free(&b);
}

/* Issue 13 #10: a 404 "database not found" is retried (someone may create it), and the log says
 * how to create it. */
static void test_404_database_hint(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *log = open_memstream(&text, &len);
	assert_non_null(log);
	hub_log_set_stream(log);
	control("{\"status\": 404, \"times\": 1, \"body\": \"database not found: city\"}");
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_influx_stats st;
	assert_int_equal(write_batch(&cfg, 2, -1, NULL, &st), HUB_OK);
	hub_log_set_stream(stderr);
	fclose(log);
	assert_int_equal(st.failed[HUB_INFLUX_F_OTHER], 1);
	assert_int_equal(st.retried[HUB_INFLUX_F_OTHER], 1);
	assert_int_equal(st.lines_ok, 2);
	if (!strstr(text, "error=\"HTTP 404: database not found: city\" hint=\"create the database: "
			  "curl -XPOST http://127.0.0.1:"))
		fail_msg("no hint in the log:\n%s", text);
	assert_non_null(strstr(text, "--data-urlencode 'q=CREATE DATABASE city'"));
	free(text);
}

static void test_empty_batch_sends_nothing(void **state)
{
	(void)state;
	struct hub_cfg_sink cfg = base_cfg();
	struct hub_lpbatch b = {0};
	struct hub_influx_stats st;
	assert_int_equal(write_once(&cfg, &b, NULL, NULL, &st), HUB_OK);
	assert_int_equal(st.requests, 0);
	json_decref(stub_log("_requests", 0));
}

/* ---- a real influxd ---- */

struct influxd {
	char dir[64];
	char base[64];
	pid_t pid;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void influxd_start(struct influxd *d)
{
	char path[128], conf[1024];
	int http_port = free_port(), rpc_port = free_port();
	while (rpc_port == http_port)
		rpc_port = free_port();
	snprintf(d->dir, sizeof(d->dir), "/tmp/cityhub-influxd-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(conf, sizeof(conf),
		 "reporting-disabled = true\nbind-address = \"127.0.0.1:%d\"\n"
		 "[meta]\n  dir = \"%s/meta\"\n"
		 "[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n  query-log-enabled = false\n"
		 "[http]\n  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
		 "[monitor]\n  store-enabled = false\n",
		 rpc_port, d->dir, d->dir, d->dir, http_port);
	snprintf(path, sizeof(path), "%s/influxdb.conf", d->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(conf, fp);
	fclose(fp);
	snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", http_port);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		char logp[128];
		snprintf(logp, sizeof(logp), "%s/influxd.log", d->dir);
		int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(INFLUXD, INFLUXD, "run", "-config", path, (char *)NULL);
		_exit(127);
	}
}

static void influxd_stop(struct influxd *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
	}
	nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void influxd_wait_ready(struct influxd *d)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/ping", d->base);
	for (int i = 0; i < 300; i++) {
		if (http("GET", url, NULL, NULL) == 204)
			return;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
		nanosleep(&ts, NULL);
	}
	fail_msg("influxd did not answer /ping at %s", d->base);
}

/* Returns count(vehicle_count) of traffic_flow in database x. */
static long long influxd_count(struct influxd *d)
{
	char url[256];
	struct hub_buf out = {0};
	snprintf(url, sizeof(url), "%s/query?db=x&q=%s", d->base,
		 "SELECT%20count(vehicle_count)%20FROM%20traffic_flow");
	assert_int_equal(http("GET", url, NULL, &out), 200);
	json_t *j = json_loadb(out.data, out.len, 0, NULL);
	hub_buf_fini(&out);
	json_t *row = json_array_get(json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(j, "results"), 0), "series"), 0), "values"), 0);
	json_t *v = json_array_get(row, 1);
	assert_true(json_is_integer(v));
	long long n = json_integer_value(v);
	json_decref(j);
	return n;
}

static struct influxd the_influxd;

static int influxd_teardown(void **state)
{
	(void)state;
	if (the_influxd.dir[0])
		influxd_stop(&the_influxd);
	memset(&the_influxd, 0, sizeof(the_influxd));
	return 0;
}

static void test_real_influxd(void **state)
{
	(void)state;
	if (access(INFLUXD, X_OK) != 0)
		skip();
	struct influxd *dp = &the_influxd, d;
	influxd_start(dp);
	d = *dp;
	influxd_wait_ready(&d);
	char url[160];
	snprintf(url, sizeof(url), "%s/query?q=CREATE%%20DATABASE%%20x", d.base);
	assert_int_equal(http("POST", url, NULL, NULL), 200);

	struct hub_cfg_sink cfg = base_cfg();
	cfg.url = d.base;
	cfg.database = "x";
	cfg.gzip = 1;
	struct hub_lpbatch b;
	struct drops drops = {0};
	make_batch(&b, 1000, -1);
	struct hub_influx *w = writer(&cfg);
	assert_int_equal(hub_influx_write(w, &b, on_drop, &drops, NULL), HUB_OK);
	long long n1 = influxd_count(&d);
	batch_free(&b);
	/* the store's own partial write: line 1010 cannot be parsed (no field value) */
	char line[200];
	memset(&b, 0, sizeof(b));
	for (int i = 1000; i < 1020; i++) {
		make_line(line, sizeof(line), i, -1);
		batch_add(&b, i == 1010 ? "traffic_flow,sensor_id=BAD vehicle_count= 1" : line);
	}
	assert_int_equal(hub_influx_write(w, &b, on_drop, &drops, NULL), HUB_OK);
	long long n2 = influxd_count(&d);
	struct hub_influx_stats st;
	hub_influx_get_stats(w, &st);
	hub_influx_free(w);
	batch_free(&b);

	assert_int_equal(n1, 1000);
	assert_int_equal(n2, 1019);
	assert_int_equal(drops.n, 1);
	assert_string_equal(drops.line, "traffic_flow,sensor_id=BAD vehicle_count= 1");
	assert_non_null(strstr(drops.why, "unable to parse"));
	assert_stats(&st, STATS({"lines_ok", 1019}, {"lines_dropped", 1}, {"healthy", 1}));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ok_204, reset_stub),
		WRITE_CASE(test_exact_lines_once),
		WRITE_CASE(test_500_twice),
		WRITE_CASE(test_503_retry_after),
		WRITE_CASE(test_429_capped),
		WRITE_CASE(test_429_no_header),
		WRITE_CASE(test_413_split),
		cmocka_unit_test_setup(test_413_single_line_dropped, reset_stub),
		cmocka_unit_test_setup(test_400_bisect, reset_stub),
		WRITE_CASE(test_auth_refused_401),
		WRITE_CASE(test_auth_refused_403),
		WRITE_CASE(test_reset_then_ok),
		WRITE_CASE(test_timeout_then_ok),
		cmocka_unit_test_setup(test_large_body_no_expect, reset_stub),
		cmocka_unit_test_setup(test_gzip, reset_stub),
		cmocka_unit_test_setup(test_v2_url_and_token, reset_stub),
		cmocka_unit_test_setup(test_stop_during_backoff, reset_stub),
		cmocka_unit_test_setup(test_network_error_retries, reset_stub),
		cmocka_unit_test_setup(test_stop_during_slow_request, reset_stub),
		cmocka_unit_test_setup(test_stop_already_set, reset_stub),
		cmocka_unit_test_setup(test_stats_during_outage, reset_stub),
		cmocka_unit_test_setup(test_404_database_hint, reset_stub),
		cmocka_unit_test_setup(test_empty_batch_sends_nothing, reset_stub),
		cmocka_unit_test_teardown(test_real_influxd, influxd_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
