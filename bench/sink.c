/* bench-sink: a minimal InfluxDB write endpoint for the benchmarks. It answers every
 * POST /write and /api/v2/write with 204 at once, and for every line it receives records the
 * latency from the line's own timestamp (the simulator's send time) to that 204, and a hash of
 * the line to count distinct lines (a resent batch is not counted twice).
 *
 *   bench-sink [--port N] [--upstream PORT]
 *                                prints the port it listens on (127.0.0.1), one line; with
 *                                --upstream, every write is forwarded to the store on
 *                                127.0.0.1:PORT and its reply relayed: lines count (and their
 *                                latency ends) when that store acknowledged them
 *   GET /_stats[?latency]        JSON figures (see write_stats); the latency percentiles
 *                                only with ?latency
 *   POST /_reset                 forget everything
 *   GET /ping                    204
 *   SIGUSR1 / SIGUSR2            go down (close the listener and every connection: the store is
 *                                unreachable) / come back up on the same port
 *   SIGTERM, SIGINT              exit 0
 *
 * One thread, epoll, HTTP/1.1 keep-alive, bodies with Content-Length (gzip accepted). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"

#define MAX_CONNS 1024
#define MAX_HEAD 16384
#define MAX_BODY (256u << 20)
#define TAG_LISTEN ((uint64_t)-1)
#define TAG_SIGNAL ((uint64_t)-2)

struct conn {
	int fd;
	struct hub_buf in;
	size_t head_len; /* bytes of the request head, 0 until it is complete */
	size_t body_len; /* Content-Length */
	int gzip, keep, continued;
};

struct stats {
	uint64_t requests, lines, bytes, lines_at_up;
	long long first_ns, last_ns, up_ns, first_after_up_ns, max_ts_ns;
	int64_t *lat; /* ns per line with a timestamp */
	size_t nlat, latcap;
	uint64_t *set; /* open addressing of line hashes; 0 = empty */
	size_t setcap, distinct;
};

struct sink {
	int ep, lfd, sfd, port, down;
	int upstream, ufd; /* --upstream PORT and its connection (-1 = none) */
	struct conn *conns[MAX_CONNS];
	struct stats st;
};

/* ---- figures ---- */

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h ? h : 1;
}

static void set_grow(struct stats *st)
{
	size_t cap = st->setcap ? st->setcap * 2 : 1u << 16;
	uint64_t *old = st->set, *nw = hub_xcalloc(cap, sizeof(*nw));
	for (size_t i = 0; i < st->setcap; i++) {
		if (!old[i])
			continue;
		size_t j = old[i] & (cap - 1);
		while (nw[j])
			j = (j + 1) & (cap - 1);
		nw[j] = old[i];
	}
	free(old);
	st->set = nw;
	st->setcap = cap;
}

static void set_add(struct stats *st, uint64_t h)
{
	if ((st->distinct + 1) * 2 > st->setcap)
		set_grow(st);
	size_t j = h & (st->setcap - 1);
	while (st->set[j]) {
		if (st->set[j] == h)
			return;
		j = (j + 1) & (st->setcap - 1);
	}
	st->set[j] = h;
	st->distinct++;
}

static void lat_add(struct stats *st, int64_t ns)
{
	if (st->nlat == st->latcap) {
		st->latcap = st->latcap ? st->latcap * 2 : 1u << 16;
		st->lat = hub_xrealloc(st->lat, st->latcap * sizeof(*st->lat));
	}
	st->lat[st->nlat++] = ns;
}

/* Nanoseconds per unit of the write's precision= parameter (1 when absent or unknown). */
static long long precision_scale(const char *query)
{
	static const struct {
		const char *name;
		long long scale;
	} units[] = {{"ns", 1},   {"n", 1},        {"us", 1000},
	             {"u", 1000}, {"ms", 1000000}, {"s", 1000000000}};
	const char *p = query ? strstr(query, "precision=") : NULL;
	if (!p)
		return 1;
	p += strlen("precision=");
	size_t n = strcspn(p, "&");
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n && strncmp(p, units[i].name, n) == 0)
			return units[i].scale;
	return 1;
}

/* The last space-separated token of a line as an integer timestamp; 0 when there is none. */
static long long line_ts(const char *line, size_t n, long long scale)
{
	const char *sp = memrchr(line, ' ', n);
	if (!sp || sp + 1 >= line + n)
		return 0;
	char num[32];
	size_t len = (size_t)(line + n - sp - 1);
	if (len >= sizeof(num))
		return 0;
	memcpy(num, sp + 1, len);
	num[len] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(num, &end, 10);
	if (*end || errno || v <= 0 || v > INT64_MAX / scale)
		return 0;
	return v * scale;
}

static void count_body(struct stats *st, const char *body, size_t n, long long scale)
{
	long long now = hub_now_real_ns();
	if (!st->first_ns)
		st->first_ns = now;
	st->last_ns = now;
	if (st->up_ns && !st->first_after_up_ns)
		st->first_after_up_ns = now;
	st->requests++;
	st->bytes += n;
	for (const char *p = body, *e = body + n; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = (size_t)((nl ? nl : e) - p);
		if (len && p[len - 1] == '\r')
			len--;
		if (len) {
			st->lines++;
			set_add(st, fnv1a(p, len));
			long long ts = line_ts(p, len, scale);
			if (ts) {
				lat_add(st, now - ts);
				if (ts > st->max_ts_ns)
					st->max_ts_ns = ts;
			}
		}
		p = nl ? nl + 1 : e;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

/* The figures as JSON; the latency percentiles (a sort of every latency) only with latency. */
static void write_stats(const struct stats *st, int latency, struct hub_buf *b)
{
	size_t n = latency ? st->nlat : 0;
	int64_t *v = hub_xmalloc((n ? n : 1) * sizeof(*v));
	memcpy(v, st->lat, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_i64);
	hub_buf_printf(
	    b,
	    "{\"requests\":%llu,\"lines\":%llu,\"distinct\":%zu,\"bytes\":%llu,"
	    "\"first_ns\":%lld,\"last_ns\":%lld,\"up_ns\":%lld,\"first_after_up_ns\":%lld,"
	    "\"lines_at_up\":%llu,\"max_ts_ns\":%lld,\"latency\":{\"n\":%zu,\"p50_ms\":%.3f,"
	    "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"min_ms\":%.3f}}",
	    (unsigned long long)st->requests, (unsigned long long)st->lines, st->distinct,
	    (unsigned long long)st->bytes, st->first_ns, st->last_ns, st->up_ns,
	    st->first_after_up_ns, (unsigned long long)st->lines_at_up, st->max_ts_ns, n,
	    pct_ms(v, n, 0.5), pct_ms(v, n, 0.99), pct_ms(v, n, 1.0), pct_ms(v, n, 0.0));
	free(v);
}

static void reset_stats(struct stats *st)
{
	free(st->lat);
	free(st->set);
	memset(st, 0, sizeof(*st));
}

/* ---- HTTP ---- */

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			usleep(100); /* replies are small: the socket buffer drains at once */
			continue;
		}
		if (w <= 0)
			return HUB_EIO;
		p += w;
		n -= (size_t)w;
	}
	return HUB_OK;
}

static const char *reason_phrase(int status)
{
	static const struct {
		int status;
		const char *text;
	} phrases[] = {{200, "OK"},
	               {204, "No Content"},
	               {400, "Bad Request"},
	               {404, "Not Found"},
	               {502, "Bad Gateway"}};
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].status == status)
			return phrases[i].text;
	return "Status";
}

static int reply(struct conn *c, int status, const char *ctype, const char *body, size_t n)
{
	const char *reason = reason_phrase(status);
	char head[256];
	int len =
	    snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
	             status, reason, n, ctype ? "Content-Type: " : "", ctype ? ctype : "",
	             ctype ? "\r\n" : "", c->keep ? "" : "Connection: close\r\n");
	if (send_all(c->fd, head, (size_t)len) != HUB_OK)
		return HUB_EIO;
	return n ? send_all(c->fd, body, n) : HUB_OK;
}

/* Gunzips into out; HUB_OK or HUB_EPARSE. */
static int gunzip(const char *p, size_t n, struct hub_buf *out)
{
	z_stream z = {0};
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return HUB_EPARSE;
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	int rc;
	do {
		hub_buf_reserve(out, 65536);
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		rc = inflate(&z, Z_NO_FLUSH);
		out->len = (size_t)((char *)z.next_out - out->data);
	} while (rc == Z_OK && out->len < MAX_BODY);
	inflateEnd(&z);
	return rc == Z_STREAM_END ? HUB_OK : HUB_EPARSE;
}

/* The value of header name in the head [p, e), or NULL. */
static const char *header(const char *p, const char *e, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *l = memchr(p, '\n', (size_t)(e - p)); l && l + 1 < e;
	     l = memchr(l + 1, '\n', (size_t)(e - l - 1))) {
		const char *h = l + 1;
		if ((size_t)(e - h) > n && strncasecmp(h, name, n) == 0 && h[n] == ':') {
			const char *v = h + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			*len = strcspn(v, "\r\n");
			return v;
		}
	}
	return NULL;
}

static int has_value(const char *v, size_t n, const char *want)
{
	return v && n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* ---- --upstream: forward writes to a real store and count what it acknowledged ---- */

static int upstream_connect(struct sink *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)s->upstream),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {60, 0};
	int one = 1;
	if (fd < 0)
		return HUB_EIO;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return HUB_EIO;
	}
	s->ufd = fd;
	return HUB_OK;
}

static void upstream_close(struct sink *s)
{
	if (s->ufd >= 0)
		close(s->ufd);
	s->ufd = -1;
}

/* Receives more bytes into b (kept NUL-terminated); the count, 0 at EOF, < 0 on error. */
static ssize_t recv_more(int fd, struct hub_buf *b)
{
	hub_buf_reserve(b, 65536);
	ssize_t r;
	do
		r = recv(fd, b->data + b->len, b->cap - b->len - 1, 0);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		b->len += (size_t)r;
	b->data[b->len] = '\0';
	return r;
}

/* Reads the upstream's reply; returns its status (0 when the connection failed) and its body
 * in answer. A reply without Content-Length is read to its chunked end, then the connection
 * is closed. */
static int read_reply(struct sink *s, struct hub_buf *answer)
{
	struct hub_buf in = {0};
	char *end;
	int status = 0;
	while (!(end = in.len ? strstr(in.data, "\r\n\r\n") : NULL))
		if (recv_more(s->ufd, &in) <= 0)
			goto out;
	size_t head = (size_t)(end + 4 - in.data), n = 0, body = 0;
	if (sscanf(in.data, "HTTP/1.%*d %d", &status) != 1)
		goto out;
	const char *v = header(in.data, end + 2, "Content-Length", &n);
	int sized = v != NULL;
	if (sized)
		body = (size_t)strtoull(v, NULL, 10);
	v = header(in.data, end + 2, "Connection", &n);
	int keep = !has_value(v, n, "close");
	while (sized ? in.len < head + body
	             : status != 204 &&
	                   !(in.len >= head + 5 && !strcmp(in.data + in.len - 5, "0\r\n\r\n")))
		if (recv_more(s->ufd, &in) <= 0)
			break;
	hub_buf_append(answer, in.data + head, in.len - head);
	if (!sized && status != 204)
		keep = 0;
	if (!keep)
		upstream_close(s);
out:
	hub_buf_fini(&in);
	return status;
}

/* Sends the write to the upstream store (reconnecting once) and returns its status, 502 when
 * it cannot be reached. */
static int forward(struct sink *s, const struct conn *c, const char *target, const char *query,
                   const char *body, struct hub_buf *answer)
{
	struct hub_buf req = {0};
	hub_buf_printf(&req,
	               "POST %s%s%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %zu\r\n"
	               "Content-Type: text/plain; charset=utf-8\r\n%s\r\n",
	               target, query ? "?" : "", query ? query : "", s->upstream, c->body_len,
	               c->gzip ? "Content-Encoding: gzip\r\n" : "");
	hub_buf_append(&req, body, c->body_len);
	int status = 0;
	for (int attempt = 0; attempt < 2 && !status; attempt++) {
		if (s->ufd < 0 && upstream_connect(s) != HUB_OK)
			break;
		if (send_all(s->ufd, req.data, req.len) == HUB_OK)
			status = read_reply(s, answer);
		if (!status)
			upstream_close(s);
	}
	hub_buf_fini(&req);
	return status ? status : 502;
}

static int handle_write(struct sink *s, struct conn *c, const char *target, const char *query,
                        const char *body)
{
	struct hub_buf plain = {0}, answer = {0};
	const char *text = body;
	size_t n = c->body_len;
	int rc;
	if (c->gzip) {
		if (gunzip(body, c->body_len, &plain) != HUB_OK) {
			rc = reply(c, 400, "application/json", "{\"error\":\"bad gzip\"}", 20);
			goto out;
		}
		text = plain.data;
		n = plain.len;
	}
	int status = s->upstream ? forward(s, c, target, query, body, &answer) : 204;
	if (status / 100 == 2)
		count_body(&s->st, text, n, precision_scale(query));
	rc = reply(c, status, answer.len ? "application/json" : NULL, answer.data, answer.len);
out:
	hub_buf_fini(&plain);
	hub_buf_fini(&answer);
	return rc;
}

/* Answers the complete request at the start of c->in. */
static int dispatch(struct sink *s, struct conn *c)
{
	char method[8] = "", target[1024] = "";
	if (sscanf(c->in.data, "%7s %1023s", method, target) != 2)
		return reply(c, 400, NULL, NULL, 0);
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	const char *body = c->in.data + c->head_len;
	if (strcmp(method, "POST") == 0 &&
	    (strcmp(target, "/write") == 0 || strcmp(target, "/api/v2/write") == 0))
		return handle_write(s, c, target, query, body);
	if (strcmp(target, "/ping") == 0 || strcmp(target, "/health") == 0)
		return reply(c, 204, NULL, NULL, 0);
	if (strcmp(target, "/_reset") == 0 && strcmp(method, "POST") == 0) {
		reset_stats(&s->st);
		return reply(c, 204, NULL, NULL, 0);
	}
	if (strcmp(target, "/_stats") == 0) {
		struct hub_buf b = {0};
		write_stats(&s->st, query && strstr(query, "latency"), &b);
		int rc = reply(c, 200, "application/json", b.data, b.len);
		hub_buf_fini(&b);
		return rc;
	}
	return reply(c, 404, NULL, NULL, 0);
}

/* Reads the head once it is complete: HUB_OK, HUB_EAGAIN (incomplete) or HUB_EINVAL. */
static int parse_head(struct conn *c)
{
	char *end = strstr(c->in.data, "\r\n\r\n");
	if (!end)
		return c->in.len > MAX_HEAD ? HUB_EINVAL : HUB_EAGAIN;
	c->head_len = (size_t)(end + 4 - c->in.data);
	const char *e = end + 2;
	size_t n;
	const char *v = header(c->in.data, e, "Content-Length", &n);
	c->body_len = 0;
	if (v) {
		char *stop;
		errno = 0;
		unsigned long long len = strtoull(v, &stop, 10);
		if (stop != v + n || errno || len > MAX_BODY)
			return HUB_EINVAL;
		c->body_len = (size_t)len;
	} else if (header(c->in.data, e, "Transfer-Encoding", &n)) {
		return HUB_EINVAL; /* chunked bodies are not needed by any client here */
	}
	v = header(c->in.data, e, "Content-Encoding", &n);
	c->gzip = has_value(v, n, "gzip");
	v = header(c->in.data, e, "Connection", &n);
	const char *eol = strstr(c->in.data, "\r\n");
	int http10 = eol - c->in.data >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
	c->keep = !has_value(v, n, "close") && !http10;
	v = header(c->in.data, e, "Expect", &n);
	if (has_value(v, n, "100-continue") && !c->continued) {
		c->continued = 1;
		send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	return HUB_OK;
}

/* Handles every complete request buffered on c; HUB_OK to keep the connection. */
static int serve(struct sink *s, struct conn *c)
{
	for (;;) {
		if (!c->head_len) {
			int rc = parse_head(c);
			if (rc == HUB_EAGAIN)
				return HUB_OK;
			if (rc != HUB_OK) {
				c->keep = 0;
				reply(c, 400, NULL, NULL, 0);
				return HUB_EINVAL;
			}
		}
		size_t total = c->head_len + c->body_len;
		if (c->in.len < total) {
			hub_buf_reserve(&c->in, total - c->in.len);
			return HUB_OK;
		}
		char saved = c->in.data[total];
		c->in.data[total] = '\0';
		int rc = dispatch(s, c);
		c->in.data[total] = saved;
		if (rc != HUB_OK || !c->keep)
			return HUB_EIO;
		memmove(c->in.data, c->in.data + total, c->in.len - total + 1);
		c->in.len -= total;
		c->head_len = c->body_len = 0;
		c->continued = 0;
	}
}

/* ---- sockets ---- */

static void close_conn(struct sink *s, int fd)
{
	struct conn *c = s->conns[fd];
	epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if (c) {
		hub_buf_fini(&c->in);
		free(c);
		s->conns[fd] = NULL;
	}
}

static void on_readable(struct sink *s, int fd)
{
	struct conn *c = s->conns[fd];
	for (;;) {
		hub_buf_reserve(&c->in, 65536);
		ssize_t r = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0 ||
		    (c->in.len += (size_t)r, c->in.data[c->in.len] = '\0', serve(s, c) != HUB_OK)) {
			close_conn(s, fd);
			return;
		}
	}
}

static void on_accept(struct sink *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (fd >= MAX_CONNS) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = hub_xcalloc(1, sizeof(*c));
		c->fd = fd;
		s->conns[fd] = c;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
		epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static int open_listener(struct sink *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)s->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (fd < 0)
		return HUB_EIO;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		close(fd);
		return HUB_EIO;
	}
	s->port = ntohs(a.sin_port);
	s->lfd = fd;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
	epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
	return HUB_OK;
}

/* SIGUSR1: unreachable (connections refused); SIGUSR2: back; 1 when told to exit. */
static int on_signal(struct sink *s)
{
	struct signalfd_siginfo si;
	if (read(s->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGUSR1 && !s->down) {
		s->down = 1;
		close_conn(s, s->lfd);
		for (int fd = 0; fd < MAX_CONNS; fd++)
			if (s->conns[fd])
				close_conn(s, fd);
	} else if (si.ssi_signo == SIGUSR2 && s->down) {
		if (open_listener(s) != HUB_OK) {
			perror("bench-sink: cannot listen again");
			return 1;
		}
		s->down = 0;
		s->st.up_ns = hub_now_real_ns();
		s->st.first_after_up_ns = 0;
		s->st.lines_at_up = s->st.lines;
	}
	return si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
}

static int parse_int(const char *arg, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (end == arg || *end || errno || v < lo || v > hi)
		return HUB_ERANGE;
	*out = (int)v;
	return HUB_OK;
}

static int parse_args(int argc, char **argv, struct sink *s)
{
	for (int i = 1; i < argc; i += 2) {
		int *dst = strcmp(argv[i], "--port") == 0       ? &s->port
		           : strcmp(argv[i], "--upstream") == 0 ? &s->upstream
		                                                : NULL;
		if (!dst || i + 1 >= argc ||
		    parse_int(argv[i + 1], dst == &s->port ? 0 : 1, 65535, dst) != HUB_OK)
			return HUB_EINVAL;
	}
	return HUB_OK;
}

static int setup(struct sink *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s->ep < 0 || s->sfd < 0)
		return HUB_EIO;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_SIGNAL};
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sfd, &ev);
	return open_listener(s);
}

int main(int argc, char **argv)
{
	static struct sink s;
	s.ufd = -1;
	if (parse_args(argc, argv, &s) != HUB_OK) {
		fputs("usage: bench-sink [--port N] [--upstream PORT]\n", stderr);
		return 2;
	}
	if (setup(&s) != HUB_OK) {
		perror("bench-sink");
		return 1;
	}
	printf("%d\n", s.port);
	fflush(stdout);
	for (int quit = 0; !quit;) {
		struct epoll_event evs[64];
		int n = epoll_wait(s.ep, evs, 64, -1);
		for (int i = 0; i < n && !quit; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == TAG_SIGNAL)
				quit = on_signal(&s);
			else if (tag == TAG_LISTEN)
				on_accept(&s);
			else if (s.conns[tag])
				on_readable(&s, (int)tag);
		}
	}
	reset_stats(&s.st);
	return 0;
}
