/* /api/v1: the routes and the replies read from the live state. History is in api_history.c,
 * the stream in api_stream.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cityhub/buf.h"

#define PREFIX "/api/v1/"

extern const char hub_openapi_json[];

enum MHD_Result hub_api_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct hub_buf b = {0};
	hub_buf_printf(&b, "%s\n", text ? text : "{\"error\": \"reply could not be encoded\"}");
	free(text);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, text ? status : 500, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result hub_api_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *s = json_string(msg);
	if (!s)
		s = json_string("(error text not valid UTF-8)");
	return hub_api_json(conn, status, json_pack("{s:o}", "error", s));
}

struct args_check {
	const char *const *allowed;
	char *bad;
	size_t len;
	int ok;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct args_check *c = cls;
	(void)kind;
	(void)value;
	for (size_t i = 0; c->allowed[i]; i++)
		if (strcmp(c->allowed[i], key) == 0)
			return MHD_YES;
	if (c->ok)
		snprintf(c->bad, c->len, "%s", key);
	c->ok = 0;
	return MHD_YES;
}

int hub_api_args_ok(struct MHD_Connection *conn, const char *const *allowed, char *bad,
		    size_t len)
{
	struct args_check c = {allowed, bad, len, 1};
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, &c);
	return c.ok;
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL;
}

static enum MHD_Result bad_args(struct MHD_Connection *conn, const char *const *allowed)
{
	char bad[128];
	if (hub_api_args_ok(conn, allowed, bad, sizeof(bad)))
		return MHD_NO;
	return hub_api_error(conn, 400, "unknown query parameter %s", bad);
}

static enum MHD_Result sensors(struct hub_api *a, struct MHD_Connection *conn, const char *rest)
{
	static const char *const allowed[] = {"kind", "district", "state", NULL};
	static const char *const states[] = {"ok", "stale", "alerting", "missing", NULL};
	(void)rest;
	if (bad_args(conn, allowed) == MHD_YES)
		return MHD_YES;
	const char *state = arg(conn, "state");
	int known = !state;
	for (size_t i = 0; state && states[i]; i++)
		known |= strcmp(states[i], state) == 0;
	if (!known)
		return hub_api_error(conn, 400, "state must be ok, stale, alerting or missing");
	return hub_api_json(conn, 200, hub_live_sensors_json(a->live, arg(conn, "kind"),
							    arg(conn, "district"), state));
}

static enum MHD_Result sensor(struct hub_api *a, struct MHD_Connection *conn, const char *id)
{
	static const char *const none[] = {NULL};
	if (bad_args(conn, none) == MHD_YES)
		return MHD_YES;
	json_t *s = hub_live_sensor_json(a->live, id);
	if (!s)
		return hub_api_error(conn, 404, "no sensor %s", id);
	return hub_api_json(conn, 200, s);
}

static enum MHD_Result districts(struct hub_api *a, struct MHD_Connection *conn, const char *rest)
{
	static const char *const none[] = {NULL};
	(void)rest;
	if (bad_args(conn, none) == MHD_YES)
		return MHD_YES;
	return hub_api_json(conn, 200, hub_live_districts_json(a->live));
}

static enum MHD_Result alerts(struct hub_api *a, struct MHD_Connection *conn, const char *rest)
{
	static const char *const none[] = {NULL};
	(void)rest;
	if (bad_args(conn, none) == MHD_YES)
		return MHD_YES;
	return hub_api_json(conn, 200, hub_live_alerts_json(a->live));
}

static enum MHD_Result openapi(struct hub_api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a;
	(void)rest;
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(hub_openapi_json), (void *)hub_openapi_json, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result stream(struct hub_api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	return hub_api_stream(a, conn);
}

/* /sensors/{id} and /sensors/{id}/history. */
static enum MHD_Result sensor_paths(struct hub_api *a, struct MHD_Connection *conn,
				    const char *rest)
{
	char id[512];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= sizeof(id) || (slash && strcmp(slash, "/history") != 0))
		return hub_api_error(conn, 404, "no such path");
	memcpy(id, rest, n);
	id[n] = '\0';
	return slash ? hub_api_history(a, conn, id) : sensor(a, conn, id);
}

static const struct route {
	const char *path; /* after /api/v1/ */
	int prefix;       /* path ends in '/': the rest goes to the handler */
	enum MHD_Result (*fn)(struct hub_api *, struct MHD_Connection *, const char *);
} routes[] = {
	{"sensors", 0, sensors},     {"sensors/", 1, sensor_paths}, {"districts", 0, districts},
	{"alerts", 0, alerts},       {"stream", 0, stream},         {"openapi.json", 0, openapi},
};

enum MHD_Result hub_api_handle(struct hub_api *a, struct MHD_Connection *conn, const char *url,
			       const char *method)
{
	const struct route *r = NULL;
	const char *rest = url + strlen(PREFIX);
	for (size_t i = 0; strncmp(url, PREFIX, strlen(PREFIX)) == 0 &&
			   i < sizeof(routes) / sizeof(routes[0]) && !r;
	     i++)
		if (routes[i].prefix ? strncmp(rest, routes[i].path, strlen(routes[i].path)) == 0
				     : strcmp(rest, routes[i].path) == 0)
			r = &routes[i];
	if (!r)
		return hub_api_error(conn, 404, "no such path: %s", url);
	if (strcmp(method, "GET") != 0 && (strcmp(method, "HEAD") != 0 || r->fn == stream)) {
		enum MHD_Result rc = hub_api_error(conn, 405, "method %s not allowed", method);
		return rc;
	}
	return r->fn(a, conn, r->prefix ? rest + strlen(r->path) : rest);
}

struct hub_api *hub_api_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
			    struct hub_live *live)
{
	struct hub_api *a = hub_xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	a->schemas = schemas;
	a->live = live;
	pthread_mutex_init(&a->lock, NULL);
	a->m_clients = hub_gauge("cityhub_sse_clients", "Clients of /api/v1/stream now", "");
	a->m_dropped = hub_counter("cityhub_sse_dropped_total",
				   "Stream clients dropped for lagging too far behind", "");
	return a;
}

void hub_api_stop(struct hub_api *a)
{
	if (a)
		hub_api_stream_stop(a);
}

void hub_api_free(struct hub_api *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

unsigned hub_api_max_connections(const struct hub_config *cfg)
{
	return (unsigned)cfg->live.max_clients + 200;
}
