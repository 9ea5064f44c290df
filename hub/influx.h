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

struct hub_influx_stats {
	uint64_t requests;     /* HTTP requests made */
	uint64_t lines_ok;     /* lines the store acknowledged */
	uint64_t lines_dropped; /* lines dropped after 400 */
	uint64_t retries;      /* retried requests (429/503/5xx/network) */
	uint64_t splits;       /* batches split after 413 or 400 */
	int healthy;           /* 0 after 401/403 or while retrying */
	char last_error[200];
};

/* Creates a writer for cfg (borrowed; must outlive the writer). NULL with a message in err. */
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
