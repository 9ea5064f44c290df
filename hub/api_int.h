/* Internals of the API shared by api.c, api_history.c and api_stream.c. */
#ifndef HUB_API_INT_H
#define HUB_API_INT_H

#include <jansson.h>
#include <pthread.h>

#include "api.h"
#include "metrics.h"

struct hub_api_client;

struct hub_api {
	const struct hub_config *cfg;
	const struct hub_schemas *schemas;
	struct hub_live *live;
	pthread_mutex_t lock; /* clients */
	struct hub_api_client *clients;
	int nclients;
	int stopping;
	long long last_sweep_ms;
	struct hub_metric *m_clients, *m_dropped;
};

/* Queues a JSON reply (body stolen) with status. */
enum MHD_Result hub_api_json(struct MHD_Connection *conn, unsigned status, json_t *body);

/* Queues {"error": "<printf text>"} with status. */
enum MHD_Result hub_api_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Returns 1 when every query argument of conn is one of allowed (NULL-terminated); else 0 with
 * the first other name in bad. */
int hub_api_args_ok(struct MHD_Connection *conn, const char *const *allowed, char *bad,
		    size_t len);

/* GET /api/v1/sensors/{id}/history. */
enum MHD_Result hub_api_history(struct hub_api *a, struct MHD_Connection *conn, const char *id);

/* GET /api/v1/stream. */
enum MHD_Result hub_api_stream(struct hub_api *a, struct MHD_Connection *conn);

/* Ends every stream (hub_api_stop). */
void hub_api_stream_stop(struct hub_api *a);

#endif
