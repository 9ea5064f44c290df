/* GET /api/v1/sensors/{id}/history?field=&since=&step=: the hub asks its first InfluxDB sink
 * with InfluxQL over /query (v2 sinks through the v1-compatible endpoint with their token),
 * so screens draw history without database credentials of their own. Bounded: since at most
 * 7 days back, step at least 10 s, at most 2,000 points (a smaller step is raised). Every
 * identifier and string is validated (a known sensor, a numeric field of its kind) and escaped. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"

#define MAX_SINCE_S (7 * 86400)
#define MIN_STEP_S 10
#define MAX_POINTS 2000
#define DEFAULT_SINCE_S 86400
#define QUERY_TIMEOUT_MS 5000
#define MAX_REPLY (16 * 1024 * 1024)

/* "90s", "30m", "6h", "7d" or plain seconds; 0 on success. */
static int duration_s(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	long long mult = !*end ? 1 : strcmp(end, "s") == 0 ? 1 : strcmp(end, "m") == 0 ? 60
		       : strcmp(end, "h") == 0 ? 3600 : strcmp(end, "d") == 0 ? 86400 : 0;
	if (!mult || v > INT64_C(1) << 40)
		return -1;
	*out = v * mult;
	return 0;
}

/* since: a duration back from now, or an RFC 3339 instant. Seconds back in *back. */
static int parse_since(const char *s, long long now_s, long long *back)
{
	int64_t ns;
	if (!s) {
		*back = DEFAULT_SINCE_S;
		return 0;
	}
	if (duration_s(s, back) == 0)
		return 0;
	if (hub_time_parse_rfc3339(s, strlen(s), &ns) != HUB_OK)
		return -1;
	*back = now_s - ns / 1000000000;
	return 0;
}

static void quote(struct hub_buf *b, const char *s, char q)
{
	hub_buf_append(b, &q, 1);
	for (; *s; s++) {
		if (*s == q || *s == '\\')
			hub_buf_puts(b, "\\");
		hub_buf_append(b, s, 1);
	}
	hub_buf_append(b, &q, 1);
}

static size_t collect(char *p, size_t size, size_t n, void *cls)
{
	struct hub_buf *b = cls;
	if (b->len + size * n > MAX_REPLY)
		return 0;
	hub_buf_append(b, p, size * n);
	return size * n;
}

struct query {
	const struct hub_cfg_sink *sink;
	const char *kind, *field, *id;
	long long start_ns, step_s;
};

/* The InfluxQL statement: identifiers double-quoted, the sensor id single-quoted, each with
 * its quote and backslashes escaped. */
static void influxql(struct hub_buf *text, const struct query *q)
{
	hub_buf_puts(text, "SELECT mean(");
	quote(text, q->field, '"');
	hub_buf_puts(text, ") FROM ");
	quote(text, q->kind, '"');
	hub_buf_puts(text, " WHERE \"sensor_id\" = ");
	quote(text, q->id, '\'');
	hub_buf_printf(text, " AND time >= %lld GROUP BY time(%llds) fill(none)", q->start_ns,
		       q->step_s);
}

/* Runs the query; HUB_OK with the reply's JSON in *out, else an error text in why. */
static int ask(const struct query *q, json_t **out, char *why, size_t len)
{
	struct hub_buf text = {0}, url = {0}, body = {0};
	influxql(&text, q);
	CURL *h = curl_easy_init();
	char *eq = curl_easy_escape(h, text.data, (int)text.len);
	const struct hub_cfg_sink *s = q->sink;
	char *edb = curl_easy_escape(h, s->version == 2 ? s->bucket : s->database, 0);
	hub_buf_printf(&url, "%s/query?db=%s&q=%s", s->url, edb, eq);
	if (s->version != 2 && s->retention_policy && *s->retention_policy) {
		char *erp = curl_easy_escape(h, s->retention_policy, 0);
		hub_buf_printf(&url, "&rp=%s", erp);
		curl_free(erp);
	}
	curl_free(eq);
	curl_free(edb);
	struct curl_slist *hdr = NULL;
	struct hub_buf auth = {0};
	if (s->version == 2 && s->token) {
		hub_buf_printf(&auth, "Authorization: Token %s", s->token);
		hdr = curl_slist_append(hdr, auth.data);
	} else if (s->username) {
		curl_easy_setopt(h, CURLOPT_USERNAME, s->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)QUERY_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	int rc = HUB_EIO;
	if (cc != CURLE_OK)
		snprintf(why, len, "%s", curl_easy_strerror(cc));
	else if (status != 200)
		snprintf(why, len, "the store answered HTTP %ld", status);
	else if (!(*out = json_loadb(body.data ? body.data : "", body.len, 0, NULL)))
		snprintf(why, len, "the store's reply is not JSON");
	else
		rc = HUB_OK;
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	hub_buf_fini(&auth);
	hub_buf_fini(&text);
	hub_buf_fini(&url);
	hub_buf_fini(&body);
	return rc;
}

/* [[time, value], ...] from the store's reply; NULL with why when it reports an error. */
static json_t *points(json_t *reply, char *why, size_t len)
{
	json_t *res = json_array_get(json_object_get(reply, "results"), 0);
	const char *err = json_string_value(json_object_get(res, "error"));
	if (!res || err) {
		snprintf(why, len, "%s", err ? err : "no results in the store's reply");
		return NULL;
	}
	json_t *out = json_array(), *row;
	size_t i;
	json_t *values = json_object_get(json_array_get(json_object_get(res, "series"), 0), "values");
	json_array_foreach(values, i, row) {
		json_t *t = json_array_get(row, 0), *v = json_array_get(row, 1);
		if (json_is_string(t) && json_is_number(v))
			json_array_append_new(out, json_pack("[O, O]", t, v));
	}
	return out;
}

static const struct hub_cfg_sink *store(const struct hub_config *cfg)
{
	for (size_t i = 0; i < cfg->nsinks; i++)
		if (strcmp(cfg->sinks[i].type, "influxdb") == 0)
			return &cfg->sinks[i];
	return NULL;
}

/* The kind whose field it is: the sensor's, or for an air-quality station also its hourly
 * index (kind aqi, written under the station's id). Replaces kind; HUB_OK or HUB_ENOENT. */
static int field_kind(struct hub_api *a, char *kind, size_t klen, const char *field,
		      enum hub_ftype *type)
{
	const char *unit;
	if (hub_schemas_field_info(a->schemas, kind, field, type, &unit) == HUB_OK)
		return HUB_OK;
	if (strcmp(kind, "air_quality") != 0 ||
	    hub_schemas_field_info(a->schemas, "aqi", field, type, &unit) != HUB_OK)
		return HUB_ENOENT;
	snprintf(kind, klen, "aqi");
	return HUB_OK;
}

/* Checks the query; 0, or -1 after queueing the error reply. */
static int check(struct hub_api *a, struct MHD_Connection *conn, struct query *q, char *kind,
		 size_t klen, enum MHD_Result *rc)
{
	static const char *const allowed[] = {"field", "since", "step", NULL};
	char bad[128];
	enum hub_ftype type;
	long long now_s = hub_now_real_ns() / 1000000000, back = 0, step = 0;
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *st = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "step");
	q->field = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "field");
	if (!hub_api_args_ok(conn, allowed, bad, sizeof(bad)))
		*rc = hub_api_error(conn, 400, "unknown query parameter %s", bad);
	else if (hub_live_sensor_kind(a->live, q->id, kind, klen) != HUB_OK)
		*rc = hub_api_error(conn, 404, "no sensor %s", q->id);
	else if (!q->field || !*q->field)
		*rc = hub_api_error(conn, 400, "field is required");
	else if (field_kind(a, kind, klen, q->field, &type) != HUB_OK ||
		 (type != HUB_FT_DOUBLE && type != HUB_FT_INT) || strcmp(q->field, "lat") == 0 ||
		 strcmp(q->field, "lon") == 0)
		*rc = hub_api_error(conn, 400, "field %s is not a numeric field of kind %s",
				    q->field, kind);
	else if (parse_since(since, now_s, &back) != 0 || back <= 0 || back > MAX_SINCE_S)
		*rc = hub_api_error(conn, 400, "since: a duration (90s, 30m, 6h, 7d) or RFC 3339 "
					       "time, at most 7 days back");
	else if (st && (duration_s(st, &step) != 0 || step < MIN_STEP_S))
		*rc = hub_api_error(conn, 400, "step: a duration of at least 10s");
	else if (!(q->sink = store(a->cfg)))
		*rc = hub_api_error(conn, 503, "store unavailable: no influxdb sink configured");
	else {
		if (!st)
			step = back / 300 > MIN_STEP_S ? back / 300 : MIN_STEP_S;
		if ((back + step - 1) / step > MAX_POINTS)
			step = (back + MAX_POINTS - 1) / MAX_POINTS;
		q->step_s = step;
		q->start_ns = (now_s - back) * 1000000000LL;
		q->kind = kind;
		return 0;
	}
	return -1;
}

enum MHD_Result hub_api_history(struct hub_api *a, struct MHD_Connection *conn, const char *id)
{
	char kind[128], why[300];
	enum MHD_Result rc = MHD_NO;
	struct query q = {.id = id};
	if (check(a, conn, &q, kind, sizeof(kind), &rc) != 0)
		return rc;
	json_t *reply = NULL, *pts = NULL;
	if (ask(&q, &reply, why, sizeof(why)) != HUB_OK || !(pts = points(reply, why, sizeof(why)))) {
		json_decref(reply);
		return hub_api_error(conn, 503, "store unavailable: %s", why);
	}
	json_decref(reply);
	const char *unit = hub_live_unit(a->live, kind, q.field);
	return hub_api_json(conn, 200,
			    json_pack("{s:s, s:s, s:s?, s:I, s:o}", "sensor_id", id, "field",
				      q.field, "unit", unit, "step_s", (json_int_t)q.step_s,
				      "points", pts));
}
