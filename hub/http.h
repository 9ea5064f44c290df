/* The operations HTTP API (libmicrohttpd, its own thread): /healthz, /readyz, /metrics.
 * Binds to loopback unless configured; optional bearer token. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

struct hub_http;

/* Answers readiness: returns 1 when ready, else 0 after appending one string per problem to
 * the JSON array problems (borrowed). */
typedef int (*hub_ready_fn)(void *ctx, json_t *problems);

/* Starts serving on cfg->http.listen:port (borrowed cfg). NULL with err when it cannot bind. */
struct hub_http *hub_http_start(const struct hub_config *cfg, hub_ready_fn ready, void *ctx,
				char *err, size_t errlen);

/* Stops serving and frees; NULL is a no-op. */
void hub_http_stop(struct hub_http *h);

#endif
