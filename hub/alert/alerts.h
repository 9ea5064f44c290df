/* The alert engine: rules evaluated on the record stream, on event time (the record's
 * timestamp); stale rules on the receive clock. Instances per (rule, sensor), each
 * inactive -> pending -> firing -> resolved, with hysteresis, for, keep_firing_for and, for
 * bands, a level that follows the value. Pure logic: no I/O, no clock, no threads; the monitor
 * (one thread) owns an engine and feeds it, --test-rules feeds it from a file. */
#ifndef HUB_ALERTS_H
#define HUB_ALERTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/record.h"
#include "cityhub/schema.h"
#include "config.h"

struct hub_alerts;

struct hub_alerts_stats {
	uint64_t instances; /* (rule, sensor) pairs tracked */
	uint64_t firing;
	uint64_t pending;
	uint64_t over_limit; /* readings not evaluated: alerts.max_instances reached */
	uint64_t late;       /* readings older than their instance's latest, ignored */
	uint64_t transitions;
};

/* Builds the engine over cfg's rules (borrowed; cfg must outlive it). Kinds and fields are
 * checked against schemas when given (NULL: unchecked). NULL with "file:line: ..." in err. */
struct hub_alerts *hub_alerts_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
				  char *err, size_t errlen);

/* Frees the engine; NULL is a no-op. */
void hub_alerts_free(struct hub_alerts *a);

/* Sets the receive-clock time before which no sensor is judged stale (the hub's start): a
 * sensor known before a restart goes stale only after a full silence since then. */
void hub_alerts_set_start(struct hub_alerts *a, int64_t start_ns);

/* Evaluates one valid record; recv_ns is its message's receive time. */
void hub_alerts_record(struct hub_alerts *a, const struct hub_record *rec, int64_t recv_ns);

/* Advances the receive clock to now_ns: sensors silent for too long go stale. */
void hub_alerts_tick(struct hub_alerts *a, int64_t now_ns);

/* Moves the events produced since the last call into *out (a new JSON array the caller
 * decrefs; each event as described in hub/notify/notify.h). Returns how many. */
size_t hub_alerts_take(struct hub_alerts *a, json_t **out);

/* Returns the state (instances, timers, windows, learned intervals, event sequence) as a new
 * JSON object. */
json_t *hub_alerts_save(const struct hub_alerts *a);

struct hub_buf;

/* Appends the same state as JSON text to b (what the monitor's snapshot writes: faster). */
void hub_alerts_save_text(const struct hub_alerts *a, struct hub_buf *b);

/* Restores a saved state into a fresh engine; instances of rules no longer configured are
 * dropped. HUB_OK or HUB_EINVAL with err. */
int hub_alerts_load(struct hub_alerts *a, const json_t *saved, char *err, size_t errlen);

/* Returns the firing and pending alerts as a new JSON array of {rule, sensor_id, state, level,
 * severity, since, value, labels, annotations}. */
json_t *hub_alerts_active(const struct hub_alerts *a);

/* Fills st. */
void hub_alerts_get_stats(const struct hub_alerts *a, struct hub_alerts_stats *st);

/* Returns 1 when the engine has any rule. */
int hub_alerts_any(const struct hub_alerts *a);

#endif
