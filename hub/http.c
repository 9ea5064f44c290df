#include "http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api.h"
#include "cityhub/buf.h"
#include "cityhub/log.h"
#include "metrics.h"
#include "web.h"

struct hub_http {
	struct MHD_Daemon *daemon;
	const struct hub_config *cfg;
	hub_ready_fn ready;
	void *ctx;
	struct hub_api *api;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* 401 with the challenge RFC 6750 asks for, so clients know a bearer token is wanted. */
static enum MHD_Result reply_unauthorized(struct MHD_Connection *conn)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"cityhub\"");
	enum MHD_Result rc = MHD_queue_response(conn, 401, r);
	MHD_destroy_response(r);
	return rc;
}

/* Compares without an early exit, so the reply time does not tell how much of a guess matched. */
static int same_secret(const char *got, const char *want)
{
	size_t glen = strlen(got), wlen = strlen(want);
	unsigned char diff = glen != wlen;
	for (size_t i = 0; i < glen; i++)
		diff |= (unsigned char)got[i] ^ (unsigned char)want[i % (wlen ? wlen : 1)];
	return diff == 0;
}

/* "Authorization: Bearer <token>": the scheme is case-insensitive (RFC 7235 2.1), followed by
 * one or more spaces. */
static int authorized(struct hub_http *h, struct MHD_Connection *conn)
{
	const char *token = h->cfg->http.token;
	if (!token || !*token)
		return 1;
	const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (!got || strncasecmp(got, "Bearer ", 7) != 0)
		return 0;
	got += 7;
	while (*got == ' ')
		got++;
	return same_secret(got, token);
}

static enum MHD_Result serve_ready(struct hub_http *h, struct MHD_Connection *conn)
{
	json_t *problems = json_array();
	int ok = h->ready ? h->ready(h->ctx, problems) : 1;
	json_t *body = json_pack("{s:b, s:o}", "ready", ok, "problems", problems);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct hub_buf b = {0};
	hub_buf_printf(&b, "%s\n", text ? text : "{}");
	free(text);
	enum MHD_Result rc = reply(conn, ok ? 200 : 503, "application/json", b.data, b.len);
	hub_buf_fini(&b);
	return rc;
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn)
{
	struct hub_buf b = {0};
	hub_metrics_render(&b);
	enum MHD_Result rc = reply(conn, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
	hub_buf_fini(&b);
	return rc;
}

static int is_web_path(const char *url)
{
	const unsigned char *data;
	size_t len;
	const char *type;
	return hub_web_find(url, &data, &len, &type, NULL) == HUB_OK;
}

/* A dashboard file (web/). Served without the token: the files hold no city data, and the page
 * sends the token (given once as ?token=) with its own API calls. "no-cache" plus the content's
 * ETag: browsers revalidate, so a new binary's page is never mixed with an old script. */
static enum MHD_Result serve_web(struct MHD_Connection *conn, const char *url)
{
	const unsigned char *data;
	size_t len;
	const char *type, *etag;
	if (hub_web_find(url, &data, &len, &type, &etag) != HUB_OK)
		return reply(conn, 404, "text/plain", "not found\n", 10);
	const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
	int fresh = inm && strstr(inm, etag) != NULL;
	struct MHD_Response *r = MHD_create_response_from_buffer(fresh ? 0 : len, (void *)data,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; object-src 'none'; "
				"base-uri 'none'; frame-ancestors 'none'");
	enum MHD_Result rc = MHD_queue_response(conn, fresh ? 304 : 200, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **state)
{
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)state;
	struct hub_http *h = cls;
	if (h->api && strncmp(url, "/api/", 5) == 0)
		return authorized(h, conn) ? hub_api_handle(h->api, conn, url, method)
					   : reply_unauthorized(conn);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, "text/plain", "method not allowed\n", 19);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, 200, "text/plain", "ok\n", 3);
	if (is_web_path(url))
		return serve_web(conn, url);
	if (!authorized(h, conn))
		return reply_unauthorized(conn);
	if (strcmp(url, "/readyz") == 0)
		return serve_ready(h, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(conn);
	return reply(conn, 404, "text/plain", "not found\n", 10);
}

/* libmicrohttpd's own messages (e.g. "Error processing request (HTTP response code is 431
 * ...)" on an oversized header) become logfmt lines instead of raw text on stderr. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char text[512];
	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	size_t n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	for (char *p = text; *p; p++)
		if (*p == '"' || *p == '\\')
			*p = '\'';
		else if ((unsigned char)*p < 0x20)
			*p = ' ';
	hub_warn("msg=\"http server\" detail=\"%s\"", text);
}

static struct MHD_Daemon *start_on(struct hub_http *h, const struct addrinfo *ai)
{
	/* One thread per connection: a stream client's callback waits for events in its own
	 * thread; poll() so that hundreds of connections are fine (select stops at 1024 fds). */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the logger must be the first option, or early messages go to stderr raw */
	return MHD_start_daemon(flags, (uint16_t)h->cfg->http.port, NULL, NULL, handle, h,
				MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_SOCK_ADDR,
				ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_CONNECTION_LIMIT, hub_api_max_connections(h->cfg),
				MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024), MHD_OPTION_END);
}

struct hub_http *hub_http_start(const struct hub_config *cfg, hub_ready_fn ready, void *ctx,
				struct hub_api *api, char *err, size_t errlen)
{
	char port[16];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	snprintf(port, sizeof(port), "%d", cfg->http.port);
	int gai = getaddrinfo(cfg->http.listen, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "http.listen: cannot resolve %s: %s", cfg->http.listen,
			 gai_strerror(gai));
		return NULL;
	}
	struct hub_http *h = hub_xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->ready = ready;
	h->ctx = ctx;
	h->api = api;
	/* A host name may have several addresses (localhost: ::1 and 127.0.0.1): the first that
	 * binds is used. */
	for (const struct addrinfo *ai = res; ai && !h->daemon; ai = ai->ai_next)
		h->daemon = start_on(h, ai);
	freeaddrinfo(res);
	if (!h->daemon) {
		snprintf(err, errlen, "http: cannot listen on %s port %d", cfg->http.listen,
			 cfg->http.port);
		free(h);
		return NULL;
	}
	return h;
}

void hub_http_stop(struct hub_http *h)
{
	if (!h)
		return;
	hub_api_stop(h->api); /* streams end, so their threads can be joined */
	MHD_stop_daemon(h->daemon);
	free(h);
}
