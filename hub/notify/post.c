/* HTTP POST for the Alertmanager and webhook notifiers (see internal.h): one libcurl easy handle
 * per URL, reused so that the connection stays alive. Owned by the notifier's thread. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "internal.h"

#define REPLY_KEEP 1024      /* bytes of a reply body kept for messages */
#define CONNECT_CAP_MS 5000L /* connect timeout, unless the request timeout is shorter */

struct hub_post {
	CURL *curl;
	char *url;
	char *shown; /* url without user:password@, for messages */
	char *auth;  /* "Authorization: Bearer ..." or NULL */
	long timeout_ms;
	struct hub_buf reply;
	char curl_err[CURL_ERROR_SIZE];
};

/* libcurl counts its init/cleanup pairs; the lock keeps each pair atomic. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct hub_buf *b = ud;
	size_t len = size * n;
	if (b->len < REPLY_KEEP)
		hub_buf_append(b, p, len < REPLY_KEEP - b->len ? len : REPLY_KEEP - b->len);
	return len;
}

void hub_notify_redact_url(const char *url, struct hub_buf *out)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	const char *end = host + strcspn(host, "/?#");
	const char *at = memchr(host, '@', (size_t)(end - host));
	if (!at) {
		hub_buf_puts(out, url);
		return;
	}
	hub_buf_append(out, url, (size_t)(host - url));
	hub_buf_puts(out, at + 1);
}

struct hub_post *hub_post_new(const char *url, long timeout_ms, const char *token)
{
	if (!url || !*url)
		return NULL;
	pthread_mutex_lock(&global_lock);
	CURLcode grc = curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_unlock(&global_lock);
	if (grc != CURLE_OK)
		return NULL;
	struct hub_post *p = hub_xcalloc(1, sizeof *p);
	p->curl = curl_easy_init();
	if (!p->curl) {
		hub_post_free(p);
		return NULL;
	}
	p->url = hub_xstrdup(url);
	struct hub_buf shown = {0};
	hub_notify_redact_url(url, &shown);
	p->shown = shown.data;
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : HUB_NOTIFY_DEFAULT_TIMEOUT_MS;
	if (token && *token) {
		struct hub_buf h = {0};
		hub_buf_printf(&h, "Authorization: Bearer %s", token);
		p->auth = h.data;
	}
	CURL *c = p->curl;
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cityhub");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 p->timeout_ms < CONNECT_CAP_MS ? p->timeout_ms : CONNECT_CAP_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->reply);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->curl_err);
	return p;
}

/* Builds the header list: Content-Type, no Expect, the token, then extra. NULL on failure. */
static struct curl_slist *make_headers(const struct hub_post *p, const char *const *extra)
{
	const char *fixed[] = {"Content-Type: application/json", "Expect:", p->auth};
	struct curl_slist *list = NULL;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (!fixed[i])
			continue;
		struct curl_slist *l = curl_slist_append(list, fixed[i]);
		if (!l)
			goto fail;
		list = l;
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		struct curl_slist *l = curl_slist_append(list, extra[i]);
		if (!l)
			goto fail;
		list = l;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

int hub_post_send(struct hub_post *p, const char *body, size_t len, const char *const *headers,
                  long *status, char *err, size_t errlen)
{
	*status = 0;
	struct curl_slist *h = make_headers(p, headers);
	if (!h) {
		snprintf(err, errlen, "%s: cannot build the request headers", p->shown);
		return HUB_ENOMEM;
	}
	hub_buf_clear(&p->reply);
	p->curl_err[0] = '\0';
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	CURLcode rc = curl_easy_perform(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", p->shown,
		         p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
		return HUB_EIO;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, status);
	return HUB_OK;
}

const char *hub_post_url(const struct hub_post *p)
{
	return p->shown;
}

void hub_post_reply(const struct hub_post *p, char *buf, size_t len)
{
	if (!len)
		return;
	size_t n = p->reply.len < len - 1 ? p->reply.len : len - 1;
	if (n)
		memcpy(buf, p->reply.data, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '"')
			buf[i] = ' ';
}

void hub_post_free(struct hub_post *p)
{
	if (!p)
		return;
	if (p->curl)
		curl_easy_cleanup(p->curl);
	free(p->url);
	free(p->shown);
	free(p->auth);
	hub_buf_fini(&p->reply);
	free(p);
	pthread_mutex_lock(&global_lock);
	curl_global_cleanup();
	pthread_mutex_unlock(&global_lock);
}
