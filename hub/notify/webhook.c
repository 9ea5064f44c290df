/* The webhook notifier: each event is one JSON POST to urls[0] with
 *   Content-Type: application/json
 *   X-Cityhub-Event: <event id>
 *   X-Cityhub-Signature: sha256=<hex HMAC-SHA256(secret, body)>   (when a secret is set)
 *   Authorization: Bearer <token>                                 (when a token is set)
 * 2xx: delivered; 408, 429, 5xx and network errors: retried; any other status: refused for good.
 * The body is the event in compact JSON, the exact bytes that were signed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/error.h"
#include "internal.h"
#include "sha256.h"

struct webhook {
	const struct hub_cfg_notifier *cfg;
	struct hub_post *post;
};

static int bad_header_value(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

/* The event id goes into a header: only letters, digits, '-' and '_' pass (ids are hex). */
static const char *safe_id(const char *id)
{
	if (!id)
		return "";
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return "";
	return id;
}

static int webhook_init(const struct hub_cfg_notifier *cfg, const struct hub_notify_env *env,
                        void **state, char *err, size_t errlen)
{
	(void)env;
	const char *why = NULL;
	if (!cfg->urls || !cfg->urls[0] || !*cfg->urls[0])
		why = "a webhook needs a URL (urls[0])";
	else if (cfg->urls[1])
		why = "a webhook takes one URL";
	else if (bad_header_value(cfg->token))
		why = "token must not contain a line break";
	if (why) {
		snprintf(err, errlen, "notifier %s: %s", cfg->name, why);
		return HUB_EINVAL;
	}
	struct webhook *w = hub_xcalloc(1, sizeof *w);
	w->cfg = cfg;
	w->post = hub_post_new(cfg->urls[0], cfg->timeout_ms, cfg->token);
	if (!w->post) {
		free(w);
		snprintf(err, errlen, "notifier %s: cannot create an HTTP client", cfg->name);
		return HUB_EINVAL;
	}
	*state = w;
	return HUB_OK;
}

/* Returns 1 for the statuses worth retrying. */
static int transient(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

static int post_one(struct webhook *w, json_t *event, char *err, size_t errlen)
{
	char *body = json_dumps(event, JSON_COMPACT);
	if (!body) {
		snprintf(err, errlen, "event cannot be encoded");
		return HUB_EINVAL;
	}
	size_t len = strlen(body);
	char idh[128], sigh[100], hex[2 * HUB_SHA256_LEN + 1];
	const char *id = hub_notify_event_str(event, "id");
	snprintf(idh, sizeof idh, "X-Cityhub-Event: %.80s", safe_id(id));
	const char *headers[3] = {idh, NULL, NULL};
	if (w->cfg->secret && *w->cfg->secret) {
		uint8_t mac[HUB_SHA256_LEN];
		hub_hmac_sha256(w->cfg->secret, strlen(w->cfg->secret), body, len, mac);
		hub_sha256_hex(mac, hex);
		snprintf(sigh, sizeof sigh, "X-Cityhub-Signature: sha256=%s", hex);
		headers[1] = sigh;
	}
	long status = 0;
	int rc = hub_post_send(w->post, body, len, headers, &status, err, errlen);
	free(body);
	if (rc != HUB_OK)
		return HUB_EAGAIN;
	if (status >= 200 && status < 300)
		return HUB_OK;
	char reply[200];
	hub_post_reply(w->post, reply, sizeof reply);
	snprintf(err, errlen, "%s: HTTP %ld: %s", hub_post_url(w->post), status, reply);
	return transient(status) ? HUB_EAGAIN : HUB_EREJECT;
}

static int webhook_deliver(void *state, json_t *const *events, size_t n, char *err, size_t errlen)
{
	/* max_batch is 1, so n is 1; a loop keeps the contract for any n. */
	for (size_t i = 0; i < n; i++) {
		int rc = post_one(state, events[i], err, errlen);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

static void webhook_free(void *state)
{
	struct webhook *w = state;
	if (!w)
		return;
	hub_post_free(w->post);
	free(w);
}

const struct hub_notifier_ops hub_notify_webhook_ops = {
    .type = "webhook",
    .init = webhook_init,
    .deliver = webhook_deliver,
    .tick = NULL,
    .free_state = webhook_free,
    .max_batch = 1,
};
