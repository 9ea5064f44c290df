/* Internals of the live state, shared by live.c (state), live_json.c (replies, save/load,
 * stream) and live_registry.c (the sensor registry file). Not for other modules. */
#ifndef HUB_LIVE_INT_H
#define HUB_LIVE_INT_H

#include <pthread.h>

#include "live.h"

#define HUB_LIVE_MAX_VALUES 64  /* fields remembered per sensor */
#define HUB_LIVE_BLOCK 512      /* sensors per allocation */
#define HUB_LIVE_LINGER_MS 60000 /* readings stay in the ring this long after the last client */
#define HUB_LIVE_MIN_STALE_S 120 /* never stale before this much silence */
#define HUB_LIVE_MIN_GAP_S 0.05  /* shorter receive gaps do not teach the interval */

enum { HUB_LIVE_MISSING, HUB_LIVE_OK, HUB_LIVE_STALE, HUB_LIVE_ALERTING };

/* What the registry file says of a sensor (names owned by the intern pool). */
struct hub_live_reg {
	const char *name_vi, *name_en;
	float interval_s; /* 0 = learn it */
	float lat, lon;   /* NAN = not given */
	const char *kind, *district;
};

struct hub_live_val {
	int64_t ts; /* event time, ns */
	union {
		double d; /* double, int and bool (0/1) */
		char *s;  /* string (owned) */
	} v;
	uint16_t field; /* index into hub_live.fields */
	uint8_t type;   /* enum hub_ftype */
};

struct hub_live_sensor {
	const char *id, *kind, *district; /* interned; kind and district may be NULL */
	struct hub_live_reg *reg;         /* NULL when not in the registry */
	const char **tags;                /* key, value pairs but district, interned (owned) */
	struct hub_live_val *vals;        /* owned */
	uint8_t *rejects;                 /* 60 slots, allocated at the first reject */
	int64_t last_seen, last_ts;       /* receive time, event time (ns); 0 = never */
	float lat, lon;                   /* from records (NAN = none) */
	float interval;                   /* learned from receive gaps (s); 0 = not yet */
	uint32_t minute;                  /* minute (since the epoch) of the ring's newest slot */
	uint8_t ntags, nvals, state, severity, known_state;
	uint8_t msgs[60];                 /* messages per minute, saturating at 255 */
};

struct hub_live_event {
	uint64_t id;
	unsigned type;
	const char *kind, *district; /* interned, for filters */
	char *text;                  /* "id: ..\nevent: ..\ndata: ..\n\n" (owned) */
	size_t len;
};

struct hub_live {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled on every stream event */
	const struct hub_schemas *schemas;
	struct hub_live_sensor **blocks; /* HUB_LIVE_BLOCK sensors each: no copy when growing */
	size_t n, nblocks, max;
	uint32_t *index; /* open addressing: sensor index + 1, 0 = empty */
	size_t icap;
	const char **fields; /* field names (interned) by index */
	size_t nfields;
	char **pool; /* interned strings (open addressing set) */
	size_t npool, poolcap;
	uint64_t over_limit;
	int64_t now_ns; /* the receive clock */
	json_t *active; /* "rule\x1fsensor\x1flevel" -> active alert */
	json_t *recent; /* the last HUB_LIVE_RECENT events */
	struct hub_live_event ring[HUB_LIVE_STREAM_RING];
	uint64_t next_id; /* id of the next stream event (first = 1) */
	int listeners;    /* stream clients connected */
	long long linger_until_ms; /* readings go into the ring while listeners or until then */
	int closed;
};

/* Returns the live state's own copy of s (kept once for all sensors, freed with it). */
const char *hub_live_intern(struct hub_live *l, const char *s);
/* The index of field name (added when new), or -1 when the table is full. */
int hub_live_field_id(struct hub_live *l, const char *name);
/* The i-th sensor (i < l->n). */
static inline struct hub_live_sensor *hub_live_at(const struct hub_live *l, size_t i)
{
	return &l->blocks[i / HUB_LIVE_BLOCK][i % HUB_LIVE_BLOCK];
}
/* Returns the sensor called id, or NULL. */
struct hub_live_sensor *hub_live_find(struct hub_live *l, const char *id);
/* Finds or adds a sensor; NULL when max is reached (counted). */
struct hub_live_sensor *hub_live_add(struct hub_live *l, const char *id);
/* Returns the sum of the sensor's per-minute ring over the hour before now_ns. */
unsigned hub_live_last_hour(const struct hub_live_sensor *s, const uint8_t *ring, int64_t now_ns);
/* Returns the API name of a state (ok, stale, alerting, missing). */
const char *hub_live_state_name(int state);
/* Returns the name of a severity rank, or NULL for none. */
const char *hub_live_severity_name(int sev);
/* Returns the rank of a severity name (higher is worse; 0 for unknown). */
int hub_live_severity_rank(const char *name);
/* Returns the sensor's usual interval in seconds (registry or learned), or 0 when unknown. */
double hub_live_interval(const struct hub_live_sensor *s);
/* The state the sensor is in at now_ns (receive clock). */
int hub_live_compute_state(const struct hub_live_sensor *s, int64_t now_ns);

/* Stream events (live_json.c); lock held. */
/* Put a reading, a sensor state change or an alert transition into the stream ring. */
void hub_live_emit_reading(struct hub_live *l, const struct hub_live_sensor *s,
			   const struct hub_record *rec, int64_t ts);
void hub_live_emit_sensor(struct hub_live *l, const struct hub_live_sensor *s);
void hub_live_emit_alert(struct hub_live *l, const json_t *ev);

#endif
