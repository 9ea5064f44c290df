/* InfluxDB writer (see influx.h): one libcurl easy handle per writer, reused so the connection
 * stays alive; reply classes as in DESIGN.md "Sinks". Owned by one sink thread, except the
 * stats, which any thread may read through hub_influx_get_stats(). */
#include "influx.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"

#define REPLY_KEEP 4096      /* bytes of a reply body kept for messages */
#define WAIT_SLICE_MS 50     /* a wait looks at *stop at least this often */
#define CONNECT_CAP_MS 5000  /* connect timeout, unless timeout_ms is shorter */

enum reply_class { REPLY_OK, REPLY_AUTH, REPLY_SPLIT, REPLY_THROTTLE, REPLY_RETRY };
enum health { H_OK, H_RETRYING, H_AUTH };

struct hub_influx {
	const struct hub_cfg_sink *cfg;
	CURL *curl;
	struct curl_slist *headers;
	char *url;
	long timeout_ms, base_ms, cap_ms;
	struct hub_buf reply;  /* body of the last reply, at most REPLY_KEEP bytes */
	struct hub_buf gz;     /* the gzip'd request body */
	long retry_after_ms;   /* the last reply's Retry-After in ms, or -1 */
	char curl_err[CURL_ERROR_SIZE];
	char msg[512];         /* the store's message (or curl's) for the last failure */
	const _Atomic int *stop; /* the running write's stop flag, or NULL */
	uint64_t rng;
	enum health health;    /* last state logged */
	char hint[400];        /* what the operator can do about the last failure */
	pthread_mutex_t lock;  /* guards st */
	struct hub_influx_stats st;
};

/* What one hub_influx_write call works on. */
struct job {
	const struct hub_lpbatch *batch;
	hub_influx_drop_fn drop;
	void *ctx;
	const _Atomic int *stop;
};

/* libcurl counts its own init/cleanup pairs; the lock keeps the pairs atomic for us. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;

static int global_acquire(void)
{
	pthread_mutex_lock(&global_lock);
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_unlock(&global_lock);
	return rc == CURLE_OK ? HUB_OK : HUB_EIO;
}

static void global_release(void)
{
	pthread_mutex_lock(&global_lock);
	curl_global_cleanup();
	pthread_mutex_unlock(&global_lock);
}

static void set_err(char *err, size_t errlen, const struct hub_cfg_sink *cfg, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "sink %s: %s", cfg && cfg->name ? cfg->name : "?", what);
}

static int empty(const char *s)
{
	return !s || !*s;
}

static int add_escaped(CURL *c, struct hub_buf *b, const char *s)
{
	char *e = curl_easy_escape(c, s ? s : "", 0);
	if (!e)
		return HUB_ENOMEM;
	hub_buf_puts(b, e);
	curl_free(e);
	return HUB_OK;
}

/* Returns the write URL (caller frees) or NULL when escaping failed. */
static char *build_url(CURL *c, const struct hub_cfg_sink *cfg)
{
	struct hub_buf u = {0};
	size_t n = strlen(cfg->url);
	int rc;
	while (n > 0 && cfg->url[n - 1] == '/')
		n--;
	hub_buf_append(&u, cfg->url, n);
	/* sinks[].path: a cluster's or proxy's own path to the same line-protocol endpoint */
	hub_buf_puts(&u, !empty(cfg->path) ? cfg->path : cfg->version == 2 ? "/api/v2/write"
									    : "/write");
	if (cfg->version == 2) {
		hub_buf_puts(&u, "?org=");
		rc = add_escaped(c, &u, cfg->org);
		hub_buf_puts(&u, "&bucket=");
		rc |= add_escaped(c, &u, cfg->bucket);
	} else {
		hub_buf_puts(&u, "?db=");
		rc = add_escaped(c, &u, cfg->database);
		if (!empty(cfg->retention_policy)) {
			hub_buf_puts(&u, "&rp=");
			rc |= add_escaped(c, &u, cfg->retention_policy);
		}
	}
	hub_buf_puts(&u, "&precision=ns");
	if (rc != HUB_OK) {
		hub_buf_fini(&u);
		return NULL;
	}
	return u.data;
}

static int add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *l = curl_slist_append(*list, h);
	if (!l)
		return HUB_ENOMEM;
	*list = l;
	return HUB_OK;
}

static int build_headers(struct hub_influx *w)
{
	const struct hub_cfg_sink *cfg = w->cfg;
	int rc = add_header(&w->headers, "Content-Type: text/plain; charset=utf-8");
	/* An empty Expect: stops curl from waiting for "100 Continue" on large bodies. */
	if (rc == HUB_OK)
		rc = add_header(&w->headers, "Expect:");
	if (rc == HUB_OK && cfg->gzip)
		rc = add_header(&w->headers, "Content-Encoding: gzip");
	if (rc == HUB_OK && cfg->version == 2 && !empty(cfg->token)) {
		struct hub_buf h = {0};
		hub_buf_printf(&h, "Authorization: Token %s", cfg->token);
		rc = add_header(&w->headers, h.data);
		hub_buf_fini(&h);
	}
	return rc;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct hub_buf *b = ud;
	size_t len = size * n;
	if (b->len < REPLY_KEEP)
		hub_buf_append(b, p, len < REPLY_KEEP - b->len ? len : REPLY_KEEP - b->len);
	return len;
}

/* Takes the seconds form of Retry-After; the HTTP-date form is ignored (backoff instead). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	static const char name[] = "retry-after:";
	struct hub_influx *w = ud;
	size_t len = size * n, k = sizeof(name) - 1;
	char val[32];
	if (len <= k || strncasecmp(p, name, k) != 0)
		return len;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	size_t m = 0;
	while (k < len && m + 1 < sizeof(val) && p[k] != '\r' && p[k] != '\n' && p[k] != ' ')
		val[m++] = p[k++];
	val[m] = '\0';
	char *end;
	long s = strtol(val, &end, 10);
	if (m > 0 && *end == '\0' && s >= 0)
		w->retry_after_ms = s > 86400 ? 86400000L : s * 1000L;
	return len;
}

/* Lets a stop request end a slow request too (libcurl calls this about once a second or
 * more often). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct hub_influx *w = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return w->stop && *w->stop;
}

static void configure(struct hub_influx *w)
{
	const struct hub_cfg_sink *cfg = w->cfg;
	CURL *c = w->curl;
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cityhub");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, w->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 w->timeout_ms < CONNECT_CAP_MS ? w->timeout_ms : (long)CONNECT_CAP_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &w->reply);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->curl_err);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (cfg->version == 1 && !empty(cfg->username)) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
	}
}

/* cfg comes from hub_config_load(), which checked it and gave every key its default
 * (hub/config.c sink_keys, check_sink): no second set of rules here. */
static void set_limits(struct hub_influx *w)
{
	w->timeout_ms = w->cfg->timeout_ms;
	w->base_ms = w->cfg->retry_base_ms;
	w->cap_ms = w->cfg->retry_cap_ms;
}

struct hub_influx *hub_influx_new(const struct hub_cfg_sink *cfg, char *err, size_t errlen)
{
	if (global_acquire() != HUB_OK) {
		set_err(err, errlen, cfg, "curl_global_init failed");
		return NULL;
	}
	struct hub_influx *w = hub_xcalloc(1, sizeof(*w));
	w->cfg = cfg;
	pthread_mutex_init(&w->lock, NULL);
	w->st.healthy = 1;
	w->rng = (uint64_t)hub_now_real_ns() ^ (uint64_t)(uintptr_t)w;
	set_limits(w);
	w->curl = curl_easy_init();
	if (!w->curl) {
		set_err(err, errlen, cfg, "curl_easy_init failed");
		goto fail;
	}
	w->url = build_url(w->curl, cfg);
	if (!w->url || build_headers(w) != HUB_OK) {
		set_err(err, errlen, cfg, "out of memory building the request");
		goto fail;
	}
	configure(w);
	return w;
fail:
	hub_influx_free(w);
	return NULL;
}

void hub_influx_free(struct hub_influx *w)
{
	if (!w)
		return;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	free(w->url);
	hub_buf_fini(&w->reply);
	hub_buf_fini(&w->gz);
	pthread_mutex_destroy(&w->lock);
	free(w);
	global_release();
}

void hub_influx_get_stats(struct hub_influx *w, struct hub_influx_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

/* Compresses len bytes of body into out with a gzip wrapper. */
static int gzip_body(struct hub_buf *out, const char *body, size_t len)
{
	z_stream zs;
	if (len > UINT32_MAX / 2)
		return HUB_EINVAL;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return HUB_ENOMEM;
	hub_buf_clear(out);
	hub_buf_reserve(out, deflateBound(&zs, (uLong)len));
	zs.next_in = (Bytef *)(uintptr_t)body;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->data;
	zs.avail_out = (uInt)(out->cap - 1);
	int zrc = deflate(&zs, Z_FINISH);
	out->len = zs.total_out;
	deflateEnd(&zs);
	return zrc == Z_STREAM_END ? HUB_OK : HUB_EIO;
}

/* Copies text into dst (size n), turning control characters into spaces. */
static void copy_clean(char *dst, size_t n, const char *text, size_t len)
{
	size_t i = 0;
	for (; i < len && i + 1 < n && text[i]; i++)
		dst[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
	dst[i] = '\0';
}

/* Sets w->msg from the reply: InfluxDB's {"error": ...} (v1) or {"message": ...} (v2), or the
 * body itself. */
static void take_message(struct hub_influx *w)
{
	json_t *root = w->reply.len ? json_loadb(w->reply.data, w->reply.len, 0, NULL) : NULL;
	json_t *m = json_object_get(root, "error");
	if (!json_is_string(m))
		m = json_object_get(root, "message");
	if (json_is_string(m))
		copy_clean(w->msg, sizeof(w->msg), json_string_value(m), json_string_length(m));
	else
		copy_clean(w->msg, sizeof(w->msg), w->reply.data ? w->reply.data : "", w->reply.len);
	json_decref(root);
}

/* Sends one body; HUB_OK with the HTTP status in *status, HUB_ESTOP when *stop ended the
 * request, or HUB_EIO (message in w->msg). */
static int post(struct hub_influx *w, const char *body, size_t len, long *status)
{
	hub_buf_clear(&w->reply);
	w->retry_after_ms = -1;
	w->curl_err[0] = '\0';
	w->msg[0] = '\0';
	*status = 0;
	if (w->cfg->gzip) {
		if (gzip_body(&w->gz, body, len) != HUB_OK) {
			snprintf(w->msg, sizeof(w->msg), "gzip failed");
			return HUB_EIO;
		}
		body = w->gz.data;
		len = w->gz.len;
	}
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	CURLcode rc = curl_easy_perform(w->curl);
	pthread_mutex_lock(&w->lock);
	w->st.requests++;
	pthread_mutex_unlock(&w->lock);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return HUB_ESTOP;
	if (rc != CURLE_OK) {
		const char *e = w->curl_err[0] ? w->curl_err : curl_easy_strerror(rc);
		copy_clean(w->msg, sizeof(w->msg), e, strlen(e));
		return HUB_EIO;
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
	take_message(w);
	return HUB_OK;
}

const char *hub_influx_fail_name(enum hub_influx_fail f)
{
	static const char *const names[HUB_INFLUX_F_COUNT] = {
		[HUB_INFLUX_F_NETWORK] = "network",     [HUB_INFLUX_F_AUTH] = "auth",
		[HUB_INFLUX_F_REJECTED] = "rejected",   [HUB_INFLUX_F_TOO_LARGE] = "too_large",
		[HUB_INFLUX_F_THROTTLED] = "throttled", [HUB_INFLUX_F_SERVER] = "server",
		[HUB_INFLUX_F_OTHER] = "other",
	};
	return (unsigned)f < HUB_INFLUX_F_COUNT ? names[f] : "other";
}

/* The failure class of a reply (status 0: no reply at all). */
static enum hub_influx_fail fail_class(long status)
{
	if (status <= 0)
		return HUB_INFLUX_F_NETWORK;
	if (status == 401 || status == 403)
		return HUB_INFLUX_F_AUTH;
	if (status == 400 || status == 422)
		return HUB_INFLUX_F_REJECTED;
	if (status == 413)
		return HUB_INFLUX_F_TOO_LARGE;
	if (status == 429 || status == 503)
		return HUB_INFLUX_F_THROTTLED;
	return status >= 500 && status < 600 ? HUB_INFLUX_F_SERVER : HUB_INFLUX_F_OTHER;
}

/* Counts one reply (status 0: network error) in the stats as soon as it arrives. */
static void count_reply(struct hub_influx *w, long status)
{
	pthread_mutex_lock(&w->lock);
	w->st.last_status = (int)status;
	if (status >= 200 && status < 300) {
		w->st.failing = 0;
		w->st.last_success_ns = hub_now_real_ns();
	} else {
		w->st.failing++;
		w->st.failed[fail_class(status)]++;
	}
	pthread_mutex_unlock(&w->lock);
}

static enum reply_class classify(long status)
{
	if (status >= 200 && status < 300)
		return REPLY_OK;
	if (status == 401 || status == 403)
		return REPLY_AUTH;
	/* 422: InfluxDB v2's "unprocessable" points; settled line by line like a 400. */
	if (status == 400 || status == 413 || status == 422)
		return REPLY_SPLIT;
	if (status == 429 || status == 503)
		return REPLY_THROTTLE;
	return REPLY_RETRY; /* other 5xx, and statuses we have no rule for (e.g. 404 no database) */
}

/* Records a failed reply in the stats; healthy only changes when the store is unusable. */
static void note_error(struct hub_influx *w, long status, int healthy)
{
	pthread_mutex_lock(&w->lock);
	if (status > 0)
		snprintf(w->st.last_error, sizeof(w->st.last_error), "HTTP %ld: %.150s", status,
			 w->msg);
	else
		snprintf(w->st.last_error, sizeof(w->st.last_error), "network: %.150s", w->msg);
	if (healthy >= 0)
		w->st.healthy = healthy;
	pthread_mutex_unlock(&w->lock);
}

/* 404 "database not found" (v1) or "bucket ... not found" (v2): the writes are retried
 * until someone creates it, so say how in w->hint. 1 when that is the case. */
static int missing_target(struct hub_influx *w, const char *error)
{
	const struct hub_cfg_sink *cfg = w->cfg;
	if (strncmp(error, "HTTP 404", 8) != 0 || !strstr(error, "not found"))
		return 0;
	if (cfg->version == 2)
		snprintf(w->hint, sizeof(w->hint),
			 "create the bucket: influx bucket create --org %.60s --name %.60s", cfg->org,
			 cfg->bucket);
	else
		snprintf(w->hint, sizeof(w->hint),
			 "create the database: curl -XPOST %.100s/query --data-urlencode "
			 "'q=CREATE DATABASE %.60s' (or influx -execute 'CREATE DATABASE %.60s')",
			 cfg->url, cfg->database, cfg->database);
	for (char *p = w->hint; *p; p++)
		if (*p == '"' || *p == '\\')
			*p = '\'';
	return 1;
}

/* Logs one line when the writer's state changes (never per retry). */
static void change_health(struct hub_influx *w, enum health h)
{
	if (h == w->health)
		return;
	char error[sizeof(w->st.last_error)];
	const char *name = hub_logq(w->cfg->name ? w->cfg->name : "?");
	pthread_mutex_lock(&w->lock);
	snprintf(error, sizeof(error), "%s", w->st.last_error);
	pthread_mutex_unlock(&w->lock);
	if (h == H_OK)
		hub_info("msg=\"influxdb writes recovered\" sink=%s", name);
	else if (h == H_RETRYING && missing_target(w, error))
		hub_error("msg=\"influxdb write failed, retrying\" sink=%s url=%s error=%s hint=%s",
			  name, hub_logq(w->cfg->url), hub_logq(error), hub_logq(w->hint));
	else if (h == H_RETRYING)
		hub_warn("msg=\"influxdb write failed, retrying\" sink=%s url=%s error=%s", name,
			 hub_logq(w->cfg->url), hub_logq(error));
	else
		hub_error("msg=\"influxdb refused credentials, sink stopped\" sink=%s error=%s",
			  name, hub_logq(error));
	w->health = h;
}

static void note_ok(struct hub_influx *w, size_t nlines)
{
	pthread_mutex_lock(&w->lock);
	w->st.lines_ok += nlines;
	w->st.healthy = 1;
	pthread_mutex_unlock(&w->lock);
	change_health(w, H_OK);
}

static void drop_line(struct hub_influx *w, const struct job *job, size_t i, long status)
{
	const struct hub_lpbatch *b = job->batch;
	size_t from = i ? b->ends[i - 1] : 0, to = b->ends[i];
	char why[sizeof(w->msg) + 16];
	if (w->msg[0])
		snprintf(why, sizeof(why), "%s", w->msg);
	else
		snprintf(why, sizeof(why), "HTTP %ld", status);
	note_error(w, status, -1);
	pthread_mutex_lock(&w->lock);
	w->st.lines_dropped++;
	pthread_mutex_unlock(&w->lock);
	if (job->drop)
		job->drop(job->ctx, b->buf.data + from, to - from - 1, why);
}

/* Sleeps ms milliseconds, looking at *stop every WAIT_SLICE_MS. */
static int wait_ms(long ms, const _Atomic int *stop)
{
	long long end = hub_now_mono_ms() + ms;
	for (;;) {
		if (stop && *stop)
			return HUB_ESTOP;
		long long left = end - hub_now_mono_ms();
		if (left <= 0)
			return HUB_OK;
		if (left > WAIT_SLICE_MS)
			left = WAIT_SLICE_MS;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static uint64_t next_rand(struct hub_influx *w)
{
	/* splitmix64: jitter needs spread, not secrecy */
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
static long backoff_ms(struct hub_influx *w, unsigned attempt)
{
	long long ceil = w->base_ms;
	for (unsigned i = 0; i < attempt && ceil < w->cap_ms; i++)
		ceil *= 2;
	if (ceil > w->cap_ms)
		ceil = w->cap_ms;
	return (long)(next_rand(w) % (uint64_t)(ceil + 1));
}

/* How long to wait before resending after a retryable failure. Retry-After is a minimum (so
 * "Retry-After: 0" cannot make a busy loop), and capped like the backoff. */
static long retry_wait_ms(struct hub_influx *w, enum reply_class cls, unsigned attempt)
{
	long ms = backoff_ms(w, attempt);
	if (cls == REPLY_THROTTLE && w->retry_after_ms > ms)
		ms = w->retry_after_ms;
	return ms < w->cap_ms ? ms : w->cap_ms;
}

static int write_range(struct hub_influx *w, const struct job *job, size_t lo, size_t hi);

/* After a 400/413: halves are written on their own; a single line is dropped. */
static int split(struct hub_influx *w, const struct job *job, size_t lo, size_t hi, long status)
{
	if (hi - lo == 1) {
		drop_line(w, job, lo, status);
		return HUB_OK;
	}
	note_error(w, status, -1);
	pthread_mutex_lock(&w->lock);
	w->st.splits++;
	pthread_mutex_unlock(&w->lock);
	size_t mid = lo + (hi - lo) / 2;
	int rc = write_range(w, job, lo, mid);
	if (rc != HUB_OK)
		return rc;
	return write_range(w, job, mid, hi);
}

/* Writes lines [lo, hi) of the batch until each is acknowledged or dropped. */
static int write_range(struct hub_influx *w, const struct job *job, size_t lo, size_t hi)
{
	const struct hub_lpbatch *b = job->batch;
	size_t from = lo ? b->ends[lo - 1] : 0, to = b->ends[hi - 1];
	for (unsigned attempt = 0;; attempt++) {
		long status;
		int rc = post(w, b->buf.data + from, to - from, &status);
		if (rc == HUB_ESTOP)
			return HUB_ESTOP;
		count_reply(w, rc == HUB_OK ? status : 0);
		enum reply_class cls = rc == HUB_OK ? classify(status) : REPLY_RETRY;
		if (cls == REPLY_OK) {
			note_ok(w, hi - lo);
			return HUB_OK;
		}
		if (cls == REPLY_AUTH) {
			note_error(w, status, 0);
			change_health(w, H_AUTH);
			return HUB_EAUTH;
		}
		if (cls == REPLY_SPLIT)
			return split(w, job, lo, hi, status);
		note_error(w, status, 0);
		change_health(w, H_RETRYING);
		if (wait_ms(retry_wait_ms(w, cls, attempt), job->stop) != HUB_OK)
			return HUB_ESTOP;
		pthread_mutex_lock(&w->lock);
		w->st.retries++;
		w->st.retried[fail_class(rc == HUB_OK ? status : 0)]++;
		pthread_mutex_unlock(&w->lock);
	}
}

static int batch_ok(const struct hub_lpbatch *b)
{
	size_t prev = 0;
	for (size_t i = 0; i < b->nlines; i++) {
		if (b->ends[i] <= prev || b->ends[i] > b->buf.len || b->buf.data[b->ends[i] - 1] != '\n')
			return 0;
		prev = b->ends[i];
	}
	return 1;
}

int hub_influx_write(struct hub_influx *w, const struct hub_lpbatch *batch, hub_influx_drop_fn drop,
		     void *ctx, const _Atomic int *stop)
{
	if (!w || !batch)
		return HUB_EINVAL;
	if (batch->nlines == 0)
		return HUB_OK;
	if (!batch_ok(batch))
		return HUB_EINVAL;
	if (stop && *stop)
		return HUB_ESTOP;
	struct job job = {.batch = batch, .drop = drop, .ctx = ctx, .stop = stop};
	w->stop = stop;
	int rc = write_range(w, &job, 0, batch->nlines);
	w->stop = NULL;
	return rc;
}
