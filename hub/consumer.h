/* Journal consumers: each a thread with its own named cursor (invariant 3), reading the journal
 * in order and handing every entry to its kind's ops. The kinds are table entries in their own
 * files: the monitor (monitor.c: counting, dead letters, alerts, one decode for all) and the
 * InfluxDB sink (sink_influx.c). This file keeps the thread loop, the cursor and the reading.
 * A consumer's state belongs to its thread; drain/stop/healthy/tick are safe from any thread. */
#ifndef HUB_CONSUMER_H
#define HUB_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/schema.h"
#include "config.h"
#include "ingest.h"
#include "journal.h"
#include "pipeline.h"

struct hub_consumer;
struct hub_notifier;
struct hub_live;

/* What consumers share; every member borrowed and outliving the consumers. */
struct hub_consumer_env {
	const struct hub_config *cfg;
	struct hub_journal *journal;
	struct hub_pipeline *pipeline;
	const struct hub_schemas *schemas;
	struct hub_ingest *ingest; /* for dead letters; may be NULL (then only counted) */
	struct hub_notifier *const *notifiers; /* alert notifiers (monitor only) */
	size_t nnotifiers;
	struct hub_live *live; /* live state the monitor feeds (live.h); may be NULL */
};

/* One kind of consumer. Every callback runs on the consumer's thread except healthy. */
struct hub_consumer_ops {
	const char *type; /* sinks: as written in sinks[].type; "monitor" */
	/* Builds the state from conf (a struct hub_cfg_sink for sinks, NULL for the monitor). */
	int (*init)(struct hub_consumer *c, const void *conf, void **state, char *err,
		    size_t errlen);
	/* Optional: where to start reading given the committed cursor; fresh = the cursor was
	 * just created (a new sink may start at the journal's head; the monitor resumes from its
	 * state snapshot). Runs before the thread starts. */
	uint64_t (*start_at)(void *state, uint64_t committed, int fresh);
	/* Handles one entry (its bytes are valid during the call only). */
	void (*handle)(void *state, const struct hub_jentry *e);
	/* Does what is due (write a batch, commit); at_end: the journal is read to its end.
	 * HUB_EAUTH parks the consumer (backlog kept) until it is stopped. */
	int (*flush)(void *state, int at_end);
	/* How long to sleep once caught up; 0 = wait on the journal for the next append. */
	int (*nap_ms)(void *state);
	/* Optional: 1 when healthy, else 0 with why. Any thread. */
	int (*healthy)(void *state, char *why, size_t len);
	/* Optional: about once a second from the main thread (gauges that move while the
	 * consumer's thread is busy in a long write). */
	void (*tick)(void *state);
	void (*free_state)(void *state);
};

/* The monitor's ops (monitor.c). */
extern const struct hub_consumer_ops hub_monitor_ops;

/* Returns the ops of sink type name ("influxdb"), or NULL. */
const struct hub_consumer_ops *hub_consumer_sink_ops(const char *type);

/* Starts a consumer of kind ops named name (its cursor), configured by conf (borrowed, like env's
 * members). NULL with err. */
struct hub_consumer *hub_consumer_start(const struct hub_consumer_env *env,
					const struct hub_consumer_ops *ops, const char *name,
					const void *conf, char *err, size_t errlen);

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

/* Refreshes the consumer's gauges (journal lag, its kind's tick); the main thread, once a second. */
void hub_consumer_tick(struct hub_consumer *c);

/* ---- for the kinds' own files (consumer thread only, unless said) ---- */

/* Returns the shared environment. */
const struct hub_consumer_env *hub_consumer_env(const struct hub_consumer *c);

/* Returns the offset before which every entry has been handled. */
uint64_t hub_consumer_done(const struct hub_consumer *c);

/* Durably moves the cursor to hub_consumer_done() (no-op when already there). */
int hub_consumer_commit(struct hub_consumer *c);

/* Returns 1 once a drain was asked for. */
int hub_consumer_draining(const struct hub_consumer *c);

/* Returns the stop flag (for writes that must give up when the consumer is stopped). */
const _Atomic int *hub_consumer_stop_flag(const struct hub_consumer *c);

/* Returns the monotonic time (ms) of the last commit. */
long long hub_consumer_last_commit_ms(const struct hub_consumer *c);

/* Sleeps ms milliseconds (restarting after signals). */
void hub_consumer_nap(int ms);

#endif
