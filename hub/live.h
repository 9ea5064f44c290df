/* Live city state for the operations room: per sensor its kind, district, tags, position,
 * latest value of every field (with unit and event time), last receive time, usual interval
 * (learned), state (ok / stale / alerting / missing), messages and rejects in the last hour;
 * the active alerts and the recent transitions; and a bounded ring of stream events (reading,
 * sensor, alert) for server-sent events.
 *
 * Threads: the monitor thread writes (record, reject, alert, tick, save/load); HTTP threads read
 * (the hub_live_*_json and stream functions). One mutex, held briefly: replies are built under
 * it from compact structs, 256 sensors per hold (sensors never move or go away, so a reply may
 * let the monitor in between). Memory is bounded by live.max_sensors. */
#ifndef HUB_LIVE_H
#define HUB_LIVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/buf.h"
#include "cityhub/record.h"
#include "cityhub/schema.h"

struct hub_live;

/* Stream event types (bit values for filters). */
enum {
	HUB_LIVE_EV_READING = 1,
	HUB_LIVE_EV_SENSOR = 2,
	HUB_LIVE_EV_ALERT = 4,
	HUB_LIVE_EV_ALL = 7,
};

#define HUB_LIVE_STREAM_RING 4096
#define HUB_LIVE_RECENT 200

/* Creates an empty live state over schemas (borrowed, outliving it; units and field checks),
 * tracking at most max_sensors sensors. Free with hub_live_free. */
struct hub_live *hub_live_new(const struct hub_schemas *schemas, size_t max_sensors);

/* Frees l; NULL is a no-op. */
void hub_live_free(struct hub_live *l);

/* Loads the sensor registry file path (YAML list of mappings, or CSV with a header line; keys
 * id, kind, district, lat, lon, name_vi, name_en, interval_s) into l.
 * HUB_OK, or HUB_EINVAL with "file:line: what" in err. */
int hub_live_load_registry(struct hub_live *l, const char *path, char *err, size_t errlen);

/* ---- the monitor thread ---- */

/* Takes one valid record of a message received at recv_ns. */
void hub_live_record(struct hub_live *l, const struct hub_record *rec, int64_t recv_ns);

/* Counts a rejected message of sensor_id (unknown sensors are skipped). */
void hub_live_reject(struct hub_live *l, const char *sensor_id, int64_t recv_ns);

/* Takes one alert transition event (hub/notify/notify.h; borrowed). */
void hub_live_alert(struct hub_live *l, const json_t *event);

/* Replaces the active alerts with the firing ones of active (hub_alerts_active's array,
 * borrowed): the engine's word after a restart (rules removed meanwhile, for one). */
void hub_live_set_active(struct hub_live *l, const json_t *active);

/* Advances the receive clock to now_ns: silent sensors become stale (sensor events). */
void hub_live_tick(struct hub_live *l, int64_t now_ns);

/* Called by hub_live_save with the text so far (in b) to write it out and clear b; returns
 * HUB_OK or an error that ends the save. */
typedef int (*hub_live_flush_fn)(void *ctx, struct hub_buf *b);

/* Appends the state as one JSON object (text, written without a DOM) to out, handing it to
 * flush (when not NULL) in pieces of about 64 KiB so that no copy of the whole is held.
 * Returns HUB_OK or flush's error. */
int hub_live_save(struct hub_live *l, struct hub_buf *out, hub_live_flush_fn flush, void *ctx);

/* Restores a state saved by hub_live_save (borrowed). HUB_OK or HUB_EINVAL. */
int hub_live_load(struct hub_live *l, const json_t *saved);

/* Gives the number of sensors tracked and of records left out at live.max_sensors. */
void hub_live_count(struct hub_live *l, size_t *sensors, uint64_t *over_limit);

/* ---- any thread: the API's replies (new JSON values the caller decrefs) ---- */

/* {"count", "sensors": [...]} filtered by kind, district and state (each NULL = any). */
json_t *hub_live_sensors_json(struct hub_live *l, const char *kind, const char *district,
			      const char *state);

/* One sensor with its active alerts, or NULL when unknown. */
json_t *hub_live_sensor_json(struct hub_live *l, const char *id);

/* {"districts": [...]}. */
json_t *hub_live_districts_json(struct hub_live *l);

/* {"active": [...], "recent": [...]}. */
json_t *hub_live_alerts_json(struct hub_live *l);

/* Copies the kind of sensor id into kind (len bytes). HUB_OK or HUB_ENOENT. */
int hub_live_sensor_kind(struct hub_live *l, const char *id, char *kind, size_t len);

/* Returns the canonical unit of kind's field (borrowed from the schemas), or NULL. */
const char *hub_live_unit(struct hub_live *l, const char *kind, const char *field);

/* ---- the stream ---- */

struct hub_live_filter {
	const char *kind, *district; /* NULL = any */
	unsigned types;              /* HUB_LIVE_EV_* bits */
};

/* Returns the id of the newest event (0 when none yet). */
uint64_t hub_live_stream_head(struct hub_live *l);

/* Appends to out (as SSE text: id, event, data lines) the events after *cursor that match f,
 * up to max_bytes (at least one event), and moves *cursor past every event examined. Returns
 * HUB_OK, or HUB_ENOENT when events after *cursor were already overwritten (the reader is too
 * far behind; *cursor jumps to the oldest kept). */
int hub_live_stream_read(struct hub_live *l, uint64_t *cursor, const struct hub_live_filter *f,
			 struct hub_buf *out, size_t max_bytes);

/* Waits up to timeout_ms for an event after cursor; returns 1 when there is one. */
int hub_live_stream_wait(struct hub_live *l, uint64_t cursor, int timeout_ms);

/* Counts a stream client in (delta 1) or out (-1). Reading and sensor events go into the ring
 * only while a client is connected and for a minute after the last one left (time to reconnect
 * and resume): with nobody watching they would only cost memory. Alert events always do. */
void hub_live_stream_listen(struct hub_live *l, int delta);

/* Wakes every waiter for good (shutdown): later waits return at once. */
void hub_live_stream_close(struct hub_live *l);

#endif
