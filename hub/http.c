#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

struct hub_http {
	struct MHD_Daemon *daemon;
	const struct hub_config *cfg;
	hub_ready_fn ready;
	void *ctx;
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

static int authorized(struct hub_http *h, struct MHD_Connection *conn)
{
	const char *token = h->cfg->http.token;
	if (!token || !*token)
		return 1;
	const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	return got && strncmp(got, "Bearer ", 7) == 0 && strcmp(got + 7, token) == 0;
}

static enum MHD_Result serve_ready(struct hub_http *h, struct MHD_Connection *conn)
{
	char why[1024] = "";
	int ok = h->ready ? h->ready(h->ctx, why, sizeof(why)) : 1;
	char body[1200];
	int n = snprintf(body, sizeof(body), "{\"ready\":%s,\"problems\":%s}\n", ok ? "true" : "false",
			 why[0] ? why : "[]");
	return reply(conn, ok ? 200 : 503, "application/json", body, (size_t)n);
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn)
{
	struct hub_buf b = {0};
	hub_metrics_render(&b);
	enum MHD_Result rc = reply(conn, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
	hub_buf_fini(&b);
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
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, "text/plain", "method not allowed\n", 19);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, 200, "text/plain", "ok\n", 3);
	if (!authorized(h, conn))
		return reply(conn, 401, "text/plain", "unauthorized\n", 13);
	if (strcmp(url, "/readyz") == 0)
		return serve_ready(h, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(conn);
	return reply(conn, 404, "text/plain", "not found\n", 10);
}

struct hub_http *hub_http_start(const struct hub_config *cfg, hub_ready_fn ready, void *ctx,
				char *err, size_t errlen)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->http.port)};
	if (inet_pton(AF_INET, cfg->http.listen, &addr.sin_addr) != 1) {
		snprintf(err, errlen, "http.listen: %s is not an IPv4 address", cfg->http.listen);
		return NULL;
	}
	struct hub_http *h = hub_xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->ready = ready;
	h->ctx = ctx;
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
				     (uint16_t)cfg->http.port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)30, MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, errlen, "http: cannot listen on %s:%d", cfg->http.listen, cfg->http.port);
		free(h);
		return NULL;
	}
	return h;
}

void hub_http_stop(struct hub_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
