/* Journal consumers, each a thread with its own named cursor (invariant 3):
 * - a sink consumer reads, decodes, encodes line protocol, batches and writes to its store,
 *   committing its cursor only after the store acknowledged every line before it;
 * - the monitor consumer counts every message by adapter, kind and reject reason and
 *   republishes rejects to <prefix>/deadletter/<reason> (invariant 5).
 * A consumer owns its reader, record set and batch; the journal and pipeline are shared. */
#ifndef HUB_CONSUMER_H
#define HUB_CONSUMER_H

#include <stddef.h>

#include "config.h"
#include "ingest.h"
#include "journal.h"
#include "pipeline.h"

struct hub_consumer;

struct hub_consumer_env {
	const struct hub_config *cfg;
	struct hub_journal *journal;
	struct hub_pipeline *pipeline;
	struct hub_ingest *ingest; /* for dead letters; may be NULL (then only counted) */
};

/* Starts the consumer for sink (borrowed, like env's members). NULL with err. */
struct hub_consumer *hub_consumer_start_sink(const struct hub_consumer_env *env,
					     const struct hub_cfg_sink *sink, char *err, size_t errlen);

/* Starts the monitor consumer (cursor "monitor"). NULL with err. */
struct hub_consumer *hub_consumer_start_monitor(const struct hub_consumer_env *env, char *err,
						size_t errlen);

/* Asks the consumer to catch up with the journal, flush, commit and exit. */
void hub_consumer_drain(struct hub_consumer *c);

/* Asks the consumer to exit now, abandoning any write in progress (its cursor stays put). */
void hub_consumer_stop(struct hub_consumer *c);

/* Waits up to timeout_ms for the thread to exit; HUB_OK or HUB_EAGAIN. */
int hub_consumer_join(struct hub_consumer *c, int timeout_ms);

/* Returns 1 when healthy; otherwise 0 with the reason in why. */
int hub_consumer_healthy(struct hub_consumer *c, char *why, size_t len);

/* Returns the consumer's name (its cursor name). */
const char *hub_consumer_name(const struct hub_consumer *c);

/* Frees a joined consumer; NULL is a no-op. */
void hub_consumer_free(struct hub_consumer *c);

/* Refreshes the consumer's gauges (journal lag); safe from any thread, about once a second. */
void hub_consumer_tick(struct hub_consumer *c);

#endif
