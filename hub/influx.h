/* HTTP writer for InfluxDB v1 (/write) and v2 (/api/v2/write): one libcurl handle kept alive,
 * optional gzip, and the reply classes of DESIGN.md. Owned by one sink thread. */
#ifndef HUB_INFLUX_H
#define HUB_INFLUX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lineproto.h"

struct hub_influx;

/* Called for each line dropped after a 400 (the store refused that line alone): the line
 * (without '\n'), and the store's error text. */
typedef void (*hub_influx_drop_fn)(void *ctx, const char *line, size_t len, const char *why);

/* How a failed request ended: the reply classes of DESIGN.md "Sinks". */
enum hub_influx_fail {
	HUB_INFLUX_F_NETWORK,   /* no HTTP reply: refused, reset, timeout, DNS */
	HUB_INFLUX_F_AUTH,      /* 401, 403: the sink stops */
	HUB_INFLUX_F_REJECTED,  /* 400, 422: split down to the offending lines */
	HUB_INFLUX_F_TOO_LARGE, /* 413: split in half */
	HUB_INFLUX_F_THROTTLED, /* 429, 503: retried after Retry-After */
	HUB_INFLUX_F_SERVER,    /* other 5xx: retried with backoff */
	HUB_INFLUX_F_OTHER,     /* any other status (e.g. 404 database not found): retried */
	HUB_INFLUX_F_COUNT
};

/* Every figure is updated the moment it happens (not when hub_influx_write returns), so a
 * reader sees an outage while the writer is still retrying. */
struct hub_influx_stats {
	uint64_t requests;     /* HTTP requests made */
	uint64_t lines_ok;     /* lines the store acknowledged */
	uint64_t lines_dropped; /* lines dropped after 400 */
	uint64_t retries;      /* retried requests (429/503/5xx/network/other), counted as resent */
	uint64_t splits;       /* batches split after 413 or 400 */
	uint64_t failed[HUB_INFLUX_F_COUNT];  /* failed requests by class, counted at the reply */
	uint64_t retried[HUB_INFLUX_F_COUNT]; /* retries by the class of the failure before them */
	uint64_t failing;      /* requests failed in a row (0 after a 2xx) */
	int64_t last_success_ns; /* wall-clock time of the last 2xx, 0 = none yet */
	int last_status;       /* HTTP status of the last reply, 0 = network error or none */
	int healthy;           /* 0 after 401/403 or while retrying */
	char last_error[200];
};

/* Returns the label of a failure class: network, auth, rejected, too_large, throttled, server,
 * other (static). */
const char *hub_influx_fail_name(enum hub_influx_fail f);

/* Creates a writer for cfg (borrowed; must outlive the writer), as checked and completed by
 * hub_config_load(). NULL with a message in err. */
struct hub_influx *hub_influx_new(const struct hub_cfg_sink *cfg, char *err, size_t errlen);

/* Frees the writer; NULL is a no-op. */
void hub_influx_free(struct hub_influx *w);

/* Writes every line of batch, retrying until the store has acknowledged or permanently
 * refused each line: 2xx done; 429/503 wait Retry-After (or backoff); other 5xx and network
 * errors full-jitter exponential backoff; 413 split in half; 400 split down to the offending
 * lines, which go to drop(). Returns HUB_OK when all is settled, HUB_EAUTH on 401/403 (nothing
 * more is sent), HUB_ESTOP when *stop became non-zero while waiting. */
int hub_influx_write(struct hub_influx *w, const struct hub_lpbatch *batch, hub_influx_drop_fn drop,
		     void *ctx, const _Atomic int *stop);

/* Copies the writer's figures into st (thread-safe). */
void hub_influx_get_stats(struct hub_influx *w, struct hub_influx_stats *st);

#endif
