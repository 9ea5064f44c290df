/* GET /api/v1/stream: server-sent events from the live state's ring. Each client is a
 * libmicrohttpd connection thread whose content callback waits on the ring (no spinning) and
 * hands out events past its cursor. A client is never waited for: it only reads the shared
 * ring, and one that lags more than live.stream_backlog events behind (it stopped reading, its
 * socket buffer is full) is dropped by whichever client thread notices first: its socket is
 * shut down, which ends its connection. Its kernel send buffer is kept small so the lag shows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api_int.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"

#define SNDBUF_BYTES (64 * 1024)
#define STALL_MS 1000 /* a lagging client is dropped once it took nothing for this long */
#define SWEEP_MS 200  /* the clients are looked over at most this often */
#define CHUNK_BYTES (16 * 1024)

struct hub_api_client {
	struct hub_api *api;
	struct hub_api_client *next;
	int fd;
	int dropped;
	int busy;        /* in our callback (so not stuck in a send); under api->lock */
	uint64_t cursor; /* last event examined */
	struct hub_live_filter f;
	char kind[64], district[128];
	struct hub_buf out; /* produced, not yet handed to libmicrohttpd */
	size_t off;
	long long last_ms; /* when something was last handed out; under api->lock */
};

/* Drops the clients too far behind that took nothing for STALL_MS: their threads are stuck in
 * a send to a peer that does not read. */
static void sweep(struct hub_api *a)
{
	uint64_t head = hub_live_stream_head(a->live);
	long long now = hub_now_mono_ms();
	pthread_mutex_lock(&a->lock);
	if (now - a->last_sweep_ms < SWEEP_MS) { /* one sweep serves every waiter */
		pthread_mutex_unlock(&a->lock);
		return;
	}
	a->last_sweep_ms = now;
	for (struct hub_api_client *c = a->clients; c; c = c->next) {
		if (c->dropped || c->busy || now - c->last_ms < STALL_MS ||
		    head - c->cursor <= (uint64_t)a->cfg->live.stream_backlog)
			continue;
		c->dropped = 1;
		hub_metric_add(a->m_dropped, 1);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&a->lock);
}

static ssize_t hand_out(struct hub_api_client *c, char *buf, size_t max)
{
	size_t n = c->out.len - c->off;
	n = n < max ? n : max;
	memcpy(buf, c->out.data + c->off, n);
	c->off += n;
	if (c->off == c->out.len) {
		hub_buf_clear(&c->out);
		c->off = 0;
	}
	return (ssize_t)n;
}

/* Fills c->out: events past the cursor, else a heartbeat once due. 0, or -1 to end. */
static int produce(struct hub_api_client *c)
{
	struct hub_api *a = c->api;
	for (;;) {
		pthread_mutex_lock(&a->lock);
		int end = a->stopping || c->dropped;
		pthread_mutex_unlock(&a->lock);
		if (end)
			return -1;
		if (hub_live_stream_read(a->live, &c->cursor, &c->f, &c->out, CHUNK_BYTES) ==
		    HUB_ENOENT) {
			pthread_mutex_lock(&a->lock);
			c->dropped = 1;
			pthread_mutex_unlock(&a->lock);
			hub_metric_add(a->m_dropped, 1);
			return -1;
		}
		if (c->out.len > 0)
			return 0;
		pthread_mutex_lock(&a->lock);
		long long wait = c->last_ms + a->cfg->live.heartbeat_ms - hub_now_mono_ms();
		pthread_mutex_unlock(&a->lock);
		if (wait <= 0) {
			hub_buf_puts(&c->out, ": heartbeat\n\n");
			return 0;
		}
		/* waiters also sweep, at least every STALL_MS */
		hub_live_stream_wait(a->live, c->cursor, (int)(wait < STALL_MS ? wait : STALL_MS));
		sweep(a);
	}
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hub_api_client *c = cls;
	struct hub_api *a = c->api;
	(void)pos;
	pthread_mutex_lock(&a->lock);
	c->busy = 1;
	pthread_mutex_unlock(&a->lock);
	int end = c->out.len == 0 && produce(c) != 0;
	pthread_mutex_lock(&a->lock);
	c->busy = 0;
	c->last_ms = hub_now_mono_ms();
	pthread_mutex_unlock(&a->lock);
	return end ? MHD_CONTENT_READER_END_WITH_ERROR : hand_out(c, buf, max);
}

static void unregister(void *cls)
{
	struct hub_api_client *c = cls;
	struct hub_api *a = c->api;
	pthread_mutex_lock(&a->lock);
	for (struct hub_api_client **p = &a->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	a->nclients--;
	hub_metric_set(a->m_clients, a->nclients);
	pthread_mutex_unlock(&a->lock);
	hub_live_stream_listen(a->live, -1);
	hub_buf_fini(&c->out);
	free(c);
}

/* Reads the filters; 0, or -1 after queueing a 400. */
static int filters(struct MHD_Connection *conn, struct hub_api_client *c, enum MHD_Result *rc)
{
	static const char *const allowed[] = {"kind", "district", "types", NULL};
	static const char *const names[] = {"reading", "sensor", "alert"};
	char bad[128];
	if (!hub_api_args_ok(conn, allowed, bad, sizeof(bad))) {
		*rc = hub_api_error(conn, 400, "unknown query parameter %s", bad);
		return -1;
	}
	const char *kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
	const char *district = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "district");
	const char *types = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "types");
	if ((kind && strlen(kind) >= sizeof(c->kind)) ||
	    (district && strlen(district) >= sizeof(c->district))) {
		*rc = hub_api_error(conn, 400, "kind or district too long");
		return -1;
	}
	snprintf(c->kind, sizeof(c->kind), "%s", kind ? kind : "");
	snprintf(c->district, sizeof(c->district), "%s", district ? district : "");
	c->f.kind = *c->kind ? c->kind : NULL;
	c->f.district = *c->district ? c->district : NULL;
	c->f.types = types && *types ? 0 : HUB_LIVE_EV_ALL;
	for (const char *p = types; p && *p;) {
		size_t n = strcspn(p, ","), i;
		for (i = 0; i < 3 && (strlen(names[i]) != n || strncmp(p, names[i], n) != 0); i++)
			;
		if (i == 3) {
			*rc = hub_api_error(conn, 400, "types: a list of reading, sensor, alert");
			return -1;
		}
		c->f.types |= 1u << i;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* Where to start: after Last-Event-ID when given (resume), else from now. */
static uint64_t start_cursor(struct hub_api *a, struct MHD_Connection *conn)
{
	const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	char *end;
	if (last && *last) {
		errno = 0;
		unsigned long long v = strtoull(last, &end, 10);
		if (!errno && !*end)
			return v;
	}
	return hub_live_stream_head(a->live);
}

static int admit(struct hub_api *a, struct hub_api_client *c)
{
	pthread_mutex_lock(&a->lock);
	int ok = !a->stopping && a->nclients < a->cfg->live.max_clients;
	if (ok) {
		c->next = a->clients;
		a->clients = c;
		a->nclients++;
		hub_metric_set(a->m_clients, a->nclients);
	}
	pthread_mutex_unlock(&a->lock);
	if (ok)
		hub_live_stream_listen(a->live, 1);
	return ok;
}

enum MHD_Result hub_api_stream(struct hub_api *a, struct MHD_Connection *conn)
{
	enum MHD_Result rc = MHD_NO;
	struct hub_api_client *c = hub_xcalloc(1, sizeof(*c));
	c->api = a;
	c->fd = -1;
	if (filters(conn, c, &rc) != 0) {
		free(c);
		return rc;
	}
	c->cursor = start_cursor(a, conn);
	c->last_ms = hub_now_mono_ms();
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		int sndbuf = SNDBUF_BYTES;
		c->fd = ci->connect_fd;
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	if (!admit(a, c)) {
		free(c);
		return hub_api_error(conn, 503, "too many stream clients (live.max_clients)");
	}
	hub_buf_puts(&c->out, "retry: 2000\n: cityhub stream\n\n");
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK_BYTES, reader, c, unregister);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	unsigned idle_s = (unsigned)(3 * a->cfg->live.heartbeat_ms / 1000 + 30);
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, idle_s);
	rc = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return rc;
}

void hub_api_stream_stop(struct hub_api *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_mutex_unlock(&a->lock);
	hub_live_stream_close(a->live);
}
