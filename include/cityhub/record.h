/* Canonical records: what every adapter produces and every sink consumes.
 * A record set owns the records and every string they point to (an arena);
 * strings stay valid until hub_recset_clear() or hub_recset_fini(). */
#ifndef CITYHUB_RECORD_H
#define CITYHUB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define HUB_MAX_TAGS 16
#define HUB_MAX_FIELDS 32

enum hub_ftype { HUB_FT_DOUBLE, HUB_FT_INT, HUB_FT_BOOL, HUB_FT_STRING };

struct hub_value {
	enum hub_ftype type;
	union {
		double d;
		int64_t i;
		int b;
		const char *s;
	} u;
};

struct hub_field {
	const char *name;
	const char *unit; /* unit as sent; NULL once converted to the canonical unit */
	const char *kind; /* kind the payload names for this field; NULL = the record's (or the
	                   * route's `kinds` map): the pipeline moves it to a record of that kind */
	struct hub_value v;
};

struct hub_tag {
	const char *key;
	const char *value;
};

struct hub_record {
	const char *kind;      /* measurement; NULL = take it from the route */
	const char *sensor_id; /* NULL = take it from the topic */
	int64_t ts_ns;         /* valid when has_ts */
	int has_ts;            /* 0 = use the journal receive time */
	size_t ntags;
	size_t nfields;
	struct hub_tag tags[HUB_MAX_TAGS];
	struct hub_field fields[HUB_MAX_FIELDS];
};

struct hub_arena_block;

/* Unknown fields a route with `unknown_fields: drop` (or over its keep budget) left out of one
 * message, for the monitor to count by kind and field name (cityhub_dropped_fields_total). */
#define HUB_MAX_DROPPED 32
struct hub_dropped {
	const char *kind;  /* arena string */
	const char *field; /* arena string; "_other" once the pipeline's name budget is spent */
};

struct hub_recset {
	struct hub_record *recs;
	size_t n;
	size_t cap;
	size_t max; /* most records one message may produce (0 = no limit) */
	struct hub_arena_block *blocks;
	size_t ndropped;       /* entries used in dropped */
	uint64_t dropped_more; /* fields dropped beyond HUB_MAX_DROPPED in this message */
	struct hub_dropped dropped[HUB_MAX_DROPPED];
};

/* Initialises an empty set; max bounds the records per message (0 = none). */
void hub_recset_init(struct hub_recset *rs, size_t max);

/* Forgets every record and string but keeps the memory for reuse. */
void hub_recset_clear(struct hub_recset *rs);

/* Frees everything the set owns; the set may be initialised again. */
void hub_recset_fini(struct hub_recset *rs);

/* Appends a zeroed record owned by the set; NULL when max is reached. */
struct hub_record *hub_recset_add(struct hub_recset *rs);

/* Copies len bytes of s into the set's arena, NUL-terminated; the set owns the copy. */
const char *hub_recset_strndup(struct hub_recset *rs, const char *s, size_t len);

/* Copies a NUL-terminated string into the set's arena. */
const char *hub_recset_strdup(struct hub_recset *rs, const char *s);

/* Sets tag key=value on rec (replacing an existing key); copies both. HUB_ENOMEM when full. */
int hub_record_set_tag(struct hub_recset *rs, struct hub_record *rec, const char *key,
		       const char *value);

/* Returns the tag value for key, or NULL. */
const char *hub_record_tag(const struct hub_record *rec, const char *key);

/* Appends a field (name and unit copied, unit may be NULL); HUB_ENOMEM when full. */
int hub_record_add_double(struct hub_recset *rs, struct hub_record *rec, const char *name,
			  const char *unit, double v);
/* As hub_record_add_double, for an integer field. */
int hub_record_add_int(struct hub_recset *rs, struct hub_record *rec, const char *name,
		       const char *unit, int64_t v);
/* As hub_record_add_double, for a boolean field (v is 0 or 1). */
int hub_record_add_bool(struct hub_recset *rs, struct hub_record *rec, const char *name, int v);
/* As hub_record_add_double, for a string field (len bytes of s copied). */
int hub_record_add_string(struct hub_recset *rs, struct hub_record *rec, const char *name,
			  const char *s, size_t len);

/* Notes that field name of kind was dropped from this message (copied; counted in dropped_more
 * once dropped is full). */
void hub_recset_note_dropped(struct hub_recset *rs, const char *kind, const char *name);

/* Returns the field called name, or NULL. */
struct hub_field *hub_record_field(struct hub_record *rec, const char *name);

#endif
