/* The operations HTTP API (libmicrohttpd, one thread per connection): /healthz, /readyz,
 * /metrics, and /api/v1 (api.h). Binds to loopback unless configured; optional bearer token. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

struct hub_http;
struct hub_api;

/* Answers readiness: returns 1 when ready, else 0 after appending one string per problem to
 * the JSON array problems (borrowed). */
typedef int (*hub_ready_fn)(void *ctx, json_t *problems);

/* Starts serving on cfg->http.listen:port (borrowed cfg), /api/ through api (borrowed; NULL =
 * none). NULL with err when it cannot bind. */
struct hub_http *hub_http_start(const struct hub_config *cfg, hub_ready_fn ready, void *ctx,
				struct hub_api *api, char *err, size_t errlen);

/* Ends the API's streams, stops serving and frees (not the api); NULL is a no-op. */
void hub_http_stop(struct hub_http *h);

#endif
