/* The operations API under /api/v1 (docs/operations.md, docs/openapi.json): sensors,
 * districts, alerts and history as JSON, and the live stream as server-sent events. Served by
 * http.c's libmicrohttpd daemon (one thread per connection); every handler runs on the
 * connection's thread and reads the live state (live.h) under its lock. */
#ifndef HUB_API_H
#define HUB_API_H

#include <microhttpd.h>

#include "cityhub/schema.h"
#include "config.h"
#include "live.h"

struct hub_api;

/* Creates the API over cfg, schemas and live (borrowed, outliving it). */
struct hub_api *hub_api_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
			    struct hub_live *live);

/* Ends every stream (their threads return at once); call before stopping the daemon. */
void hub_api_stop(struct hub_api *a);

/* Frees the API after the daemon stopped; NULL is a no-op. */
void hub_api_free(struct hub_api *a);

/* Answers a request for url (under /api/) with method. */
enum MHD_Result hub_api_handle(struct hub_api *a, struct MHD_Connection *conn, const char *url,
			       const char *method);

/* Most connections the daemon should accept: the stream clients plus room for requests. */
unsigned hub_api_max_connections(const struct hub_config *cfg);

#endif
