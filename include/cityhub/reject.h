/* Why a message was rejected: a short machine-readable reason (used in counters and the
 * dead-letter topic) plus a human-readable detail. */
#ifndef CITYHUB_REJECT_H
#define CITYHUB_REJECT_H

#include <stddef.h>

/* Reason tokens. Keep them short, lowercase, [a-z_]: they become topic levels and labels. */
#define HUB_R_NO_ROUTE "no_route"           /* no route matches the topic */
#define HUB_R_TOO_LARGE "too_large"         /* payload over limits.max_payload_bytes */
#define HUB_R_EMPTY "empty"                 /* no payload or no readings in it */
#define HUB_R_BAD_JSON "bad_json"           /* not parseable JSON */
#define HUB_R_BAD_FORMAT "bad_format"       /* valid syntax, wrong structure for the adapter */
#define HUB_R_BAD_TIME "bad_time"           /* unparseable or out-of-range timestamp */
#define HUB_R_NO_SENSOR "no_sensor_id"      /* neither payload nor topic names the sensor */
#define HUB_R_NO_KIND "no_kind"             /* neither payload, topic nor route names the kind */
#define HUB_R_UNKNOWN_KIND "unknown_kind"   /* kind has no schema */
#define HUB_R_UNKNOWN_FIELD "unknown_field" /* field not in the kind's schema */
#define HUB_R_BAD_TYPE "bad_type"           /* field value of the wrong type */
#define HUB_R_BAD_UNIT "bad_unit"           /* unit not accepted for the field */
#define HUB_R_OUT_OF_RANGE "out_of_range"   /* value outside the schema's valid range, NaN, Inf */
#define HUB_R_BAD_STRING "bad_string"       /* invalid UTF-8, control characters, too long */
#define HUB_R_BAD_TAG "bad_tag"             /* tag not allowed, or bad tag value */
#define HUB_R_MISSING_TAG "missing_tag"     /* a tag the schema requires is absent */
#define HUB_R_TOO_MANY "too_many"           /* over the fields/tags/records-per-message limits */
#define HUB_R_DUPLICATE "duplicate_field"   /* the same field twice in one reading */
#define HUB_R_SERIES_LIMIT "series_limit"   /* over limits.max_series distinct sensors */
#define HUB_R_TRUNCATED "truncated"         /* binary frame ends early (Cayenne LPP) */
#define HUB_R_UNSUPPORTED "unsupported"     /* well-formed but not supported (version, type) */
#define HUB_R_BAD_TOPIC "bad_topic"         /* topic does not fit the route's template */

struct hub_reject {
	const char *reason; /* one of HUB_R_*, static */
	char detail[240];
};

/* Fills rej (when not NULL) with reason and a printf-style detail; returns HUB_EREJECT. */
int hub_reject(struct hub_reject *rej, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
