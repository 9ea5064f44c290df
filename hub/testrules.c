/* The rule test runner: a test is input series (one record per step), a clock end, and the
 * firing/resolved transitions expected, compared as sorted lists. Receive time = event time. */
#include "testrules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alerts.h"
#include "alert/aqi.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "cityhub/timefmt.h"
#include "config.h"

struct input {
	int64_t ts;
	size_t order;
	const json_t *series;
	double v;
};

struct run {
	const struct hub_config *cfg;
	const struct hub_schemas *schemas;
	struct hub_alerts *alerts;
	struct hub_aqi *aqi;
	struct hub_recset rs;
	json_t *got;
	FILE *out;
	char err[512];
};

static int parse_duration(const char *s, int64_t *ns)
{
	static const struct { const char *suffix; int64_t mult; } units[] = {
		{"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000},
		{"d", 86400000000000}, {NULL, 0}};
	char *end;
	long long v = strtoll(s, &end, 10);
	for (size_t i = 0; end != s && v > 0 && units[i].suffix; i++)
		if (strcmp(end, units[i].suffix) == 0) {
			*ns = v * units[i].mult;
			return HUB_OK;
		}
	return HUB_EPARSE;
}

static int parse_time(const json_t *v, int64_t *ns)
{
	return json_is_string(v) ? hub_time_parse_rfc3339(json_string_value(v),
							  json_string_length(v), ns)
				 : HUB_EPARSE;
}

/* One series' steps as inputs: values separated by spaces, _ for a step without a reading. */
static int expand(struct run *r, const json_t *s, size_t idx, struct input **in, size_t *n)
{
	int64_t t0, step;
	const char *vals = json_string_value(json_object_get(s, "values"));
	if (parse_time(json_object_get(s, "start"), &t0) != HUB_OK ||
	    parse_duration(json_string_value(json_object_get(s, "step")) ?: "", &step) != HUB_OK ||
	    !vals || !json_is_string(json_object_get(s, "kind")) ||
	    !json_is_string(json_object_get(s, "sensor_id")) ||
	    !json_is_string(json_object_get(s, "field"))) {
		snprintf(r->err, sizeof(r->err), "series[%zu]: needs kind, sensor_id, field, start "
			 "(RFC 3339), step (e.g. 5m) and values", idx);
		return HUB_EINVAL;
	}
	char *copy = hub_xstrdup(vals), *save = NULL;
	size_t k = 0;
	for (char *tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save), k++) {
		if (strcmp(tok, "_") == 0)
			continue;
		char *end;
		double v = strtod(tok, &end);
		if (*end || !isfinite(v)) {
			snprintf(r->err, sizeof(r->err), "series[%zu]: bad value %.40s", idx, tok);
			free(copy);
			return HUB_EINVAL;
		}
		*in = hub_xrealloc(*in, (*n + 1) * sizeof(**in));
		(*in)[*n] = (struct input){t0 + (int64_t)k * step, *n, s, v};
		(*n)++;
	}
	free(copy);
	return HUB_OK;
}

static int by_time(const void *a, const void *b)
{
	const struct input *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void take(struct run *r)
{
	json_t *evs;
	hub_alerts_take(r->alerts, &evs);
	json_array_extend(r->got, evs);
	json_decref(evs);
}

/* The hourly AQI records the monitor would derive, fed back to the rules. */
static void derive_aqi(struct run *r, const struct hub_record *rec)
{
	struct hub_aqi_result res;
	if (!r->aqi || hub_aqi_add_record(r->aqi, rec, rec->ts_ns, &res) != 1 || res.aqi < 0)
		return;
	struct hub_recset rs;
	hub_recset_init(&rs, 0);
	struct hub_record *a = hub_recset_add(&rs);
	a->kind = "aqi";
	a->sensor_id = hub_recset_strdup(&rs, res.station);
	a->ts_ns = res.hour_end_ns;
	a->has_ts = 1;
	if (res.district[0])
		hub_record_set_tag(&rs, a, "district", res.district);
	hub_record_add_int(&rs, a, "aqi", NULL, res.aqi);
	hub_record_add_int(&rs, a, "category", NULL, res.category);
	hub_alerts_record(r->alerts, a, res.hour_end_ns);
	hub_recset_fini(&rs);
}

static void feed(struct run *r, const struct input *in)
{
	const char *key;
	json_t *v;
	hub_recset_clear(&r->rs);
	struct hub_record *rec = hub_recset_add(&r->rs);
	rec->kind = hub_recset_strdup(&r->rs, json_string_value(json_object_get(in->series, "kind")));
	rec->sensor_id = hub_recset_strdup(&r->rs,
					   json_string_value(json_object_get(in->series, "sensor_id")));
	rec->ts_ns = in->ts;
	rec->has_ts = 1;
	json_object_foreach(json_object_get(in->series, "tags"), key, v)
		if (json_is_string(v))
			hub_record_set_tag(&r->rs, rec, key, json_string_value(v));
	hub_record_add_double(&r->rs, rec,
			      json_string_value(json_object_get(in->series, "field")), NULL, in->v);
	hub_alerts_tick(r->alerts, in->ts - 1);
	hub_alerts_record(r->alerts, rec, in->ts);
	derive_aqi(r, rec);
	take(r);
}

/* A transition as one comparable line: "at rule sensor state [level]". */
static char *line_of(const json_t *ev, int64_t at)
{
	struct hub_buf b = {0};
	char when[48];
	const char *level = json_string_value(json_object_get(ev, "level"));
	hub_time_format(at, when, sizeof(when));
	hub_buf_printf(&b, "%s %s %s %s%s%s", when,
		       json_string_value(json_object_get(ev, "rule")) ?: "?",
		       json_string_value(json_object_get(ev, "sensor_id")) ?: "?",
		       json_string_value(json_object_get(ev, "state")) ?: "?", level ? " level=" : "",
		       level ? level : "");
	return b.data;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted lines of events; expected ones have their time as text. */
static char **lines(const json_t *evs, int expected, size_t *n, char *err, size_t errlen)
{
	size_t i;
	json_t *ev;
	char **out = hub_xcalloc(json_array_size(evs) + 1, sizeof(*out));
	*n = 0;
	json_array_foreach(evs, i, ev) {
		int64_t at = json_integer_value(json_object_get(ev, "at_ns"));
		if (expected && parse_time(json_object_get(ev, "at"), &at) != HUB_OK) {
			snprintf(err, errlen, "expect[%zu]: needs rule, sensor_id, state and at "
				 "(RFC 3339)", i);
			break;
		}
		out[(*n)++] = line_of(ev, at);
	}
	qsort(out, *n, sizeof(*out), cmp_str);
	return out;
}

static void free_lines(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* Prints what differs; returns the number of differences. */
static int compare(struct run *r, const json_t *expect)
{
	size_t ng, ne, i = 0, j = 0;
	int diffs = 0;
	char **got = lines(r->got, 0, &ng, r->err, sizeof(r->err));
	char **exp = lines(expect, 1, &ne, r->err, sizeof(r->err));
	while (i < ng || j < ne) {
		int c = i == ng ? 1 : j == ne ? -1 : strcmp(got[i], exp[j]);
		if (c == 0) {
			i++, j++;
			continue;
		}
		fprintf(r->out, "    %s %s\n", c < 0 ? "unexpected:" : "missing:   ",
			c < 0 ? got[i++] : exp[j++]);
		diffs++;
	}
	if (ne != json_array_size(expect))
		diffs++;
	free_lines(got, ng);
	free_lines(exp, ne);
	return diffs;
}

static int run_test(struct run *r, const json_t *t, size_t idx)
{
	struct input *in = NULL;
	size_t n = 0, i;
	json_t *s;
	int64_t until = 0;
	int rc = HUB_OK;
	json_array_foreach(json_object_get(t, "series"), i, s)
		if ((rc = expand(r, s, i, &in, &n)) != HUB_OK)
			break;
	if (rc == HUB_OK && json_object_get(t, "until") &&
	    parse_time(json_object_get(t, "until"), &until) != HUB_OK) {
		snprintf(r->err, sizeof(r->err), "until: expected an RFC 3339 time");
		rc = HUB_EINVAL;
	}
	r->alerts = rc == HUB_OK ? hub_alerts_new(r->cfg, r->schemas, r->err, sizeof(r->err)) : NULL;
	r->aqi = r->alerts ? hub_aqi_new(1000) : NULL;
	r->got = json_array();
	if (r->alerts) {
		qsort(in, n, sizeof(*in), by_time);
		for (i = 0; i < n; i++)
			feed(r, &in[i]);
		if (until) {
			hub_alerts_tick(r->alerts, until);
			take(r);
		}
	}
	const char *name = json_string_value(json_object_get(t, "name"));
	int diffs = r->alerts ? compare(r, json_object_get(t, "expect")) : -1;
	fprintf(r->out, "%s tests[%zu] %s%s%s\n", diffs == 0 ? "PASS" : "FAIL", idx,
		name ? name : "", diffs < 0 || r->err[0] ? ": " : "", r->err);
	hub_alerts_free(r->alerts);
	hub_aqi_free(r->aqi);
	json_decref(r->got);
	free(in);
	r->err[0] = '\0';
	return diffs == 0 ? 0 : 1;
}

/* The rules of every file in rule_files (relative to the test file) over default settings. */
static int load_rules(const char *path, const json_t *doc, struct hub_config *cfg, char *err,
		      size_t errlen)
{
	size_t i;
	json_t *f;
	const json_t *files = json_object_get(doc, "rule_files");
	const char *slash = strrchr(path, '/');
	if (hub_config_load(NULL, NULL, cfg, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	if (!json_is_array(files) || !json_is_array(json_object_get(doc, "tests"))) {
		snprintf(err, errlen, "%s: a rule test file has rule_files: [...] and tests: [...]", path);
		return HUB_EINVAL;
	}
	json_array_foreach(files, i, f) {
		struct hub_buf p = {0};
		const char *name = json_string_value(f) ?: "";
		hub_buf_printf(&p, "%.*s%s", name[0] == '/' || !slash ? 0 : (int)(slash - path + 1), path,
			       name);
		int rc = hub_config_load_rules(p.data, cfg, err, errlen);
		hub_buf_fini(&p);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

int hub_test_rules(const char *path, FILE *out)
{
	struct hub_config cfg;
	struct run r = {.cfg = &cfg, .out = out};
	char err[1024] = "";
	json_t *doc = NULL, *t;
	size_t i;
	int failed = 0;
	if (hub_config_read_json(path, &doc, err, sizeof(err)) != HUB_OK ||
	    load_rules(path, doc, &cfg, err, sizeof(err)) != HUB_OK ||
	    !(r.schemas = hub_schemas_load_builtin(err, sizeof(err)))) {
		fprintf(stderr, "cityhub: %s\n", err);
		json_decref(doc);
		hub_config_free(&cfg);
		return 2;
	}
	hub_recset_init(&r.rs, 0);
	json_array_foreach(json_object_get(doc, "tests"), i, t)
		failed += run_test(&r, t, i);
	fprintf(out, "%zu tests, %d failed\n", json_array_size(json_object_get(doc, "tests")), failed);
	hub_recset_fini(&r.rs);
	hub_schemas_free((struct hub_schemas *)r.schemas);
	hub_config_free(&cfg);
	json_decref(doc);
	return failed ? 1 : 0;
}
