/* The native cityhub JSON format (docs/payloads.md): one reading, or many under "readings". */
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"

#include <string.h>

/* Reading-level keys; anything else at that level is a format error, never ignored. */
static const char *const reading_keys[] = {"sensor_id", "kind",     "time",     "ts", "tags",
                                           "fields",    "location", "readings", NULL};

static int known_key(const char *key)
{
	for (size_t i = 0; reading_keys[i]; i++)
		if (strcmp(reading_keys[i], key) == 0)
			return 1;
	return 0;
}

static int read_time(json_t *obj, struct hub_record *rec, struct hub_reject *rej)
{
	json_t *t = json_object_get(obj, "time"), *ts = json_object_get(obj, "ts");
	if (t && ts)
		return hub_reject(rej, HUB_R_BAD_TIME, "give either time or ts, not both");
	if (t) {
		if (!json_is_string(t) ||
		    hub_time_parse_rfc3339(json_string_value(t), json_string_length(t), &rec->ts_ns))
			return hub_reject(rej, HUB_R_BAD_TIME, "time must be an RFC 3339 string");
		rec->has_ts = 1;
	} else if (ts) {
		if (!json_is_integer(ts) ||
		    hub_time_from_int(json_integer_value(ts), 1000000, &rec->ts_ns))
			return hub_reject(rej, HUB_R_BAD_TIME, "ts must be integer Unix milliseconds");
		rec->has_ts = 1;
	}
	return HUB_OK;
}

static int read_tags(json_t *tags, struct hub_recset *rs, struct hub_record *rec,
		     struct hub_reject *rej)
{
	const char *key;
	json_t *v;
	if (!json_is_object(tags))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "tags must be an object of strings");
	json_object_foreach(tags, key, v) {
		if (!json_is_string(v))
			return hub_reject(rej, HUB_R_BAD_TAG, "tag %.64s must be a string", key);
		if (hub_record_set_tag(rs, rec, key, json_string_value(v)) != HUB_OK)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	}
	return HUB_OK;
}

static int add_value(struct hub_recset *rs, struct hub_record *rec, const char *name, json_t *v,
		     const char *unit)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return hub_record_add_int(rs, rec, name, unit, json_integer_value(v));
	case JSON_REAL:
		return hub_record_add_double(rs, rec, name, unit, json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return unit ? HUB_EINVAL : hub_record_add_bool(rs, rec, name, json_is_true(v));
	case JSON_STRING:
		return unit ? HUB_EINVAL
			    : hub_record_add_string(rs, rec, name, json_string_value(v),
						    json_string_length(v));
	default:
		return HUB_EINVAL;
	}
}

static int read_field(struct hub_recset *rs, struct hub_record *rec, const char *name, json_t *v,
		      struct hub_reject *rej)
{
	const char *unit = NULL, *kind = NULL;
	if (json_is_null(v))
		return HUB_OK; /* documented: null = no reading for this field */
	if (json_is_object(v)) {
		json_t *u = json_object_get(v, "unit"), *k = json_object_get(v, "kind");
		if (json_object_size(v) != 1u + !!u + !!k || (u && !json_is_string(u)) ||
		    (k && (!json_is_string(k) || json_string_length(k) == 0)))
			return hub_reject(rej, HUB_R_BAD_FORMAT,
			                  "field %.64s: object form is {\"value\": v, \"unit\": u, "
			                  "\"kind\": k}",
			                  name);
		unit = json_string_value(u);
		kind = json_string_value(k);
		v = json_object_get(v, "value");
		if (!v)
			return hub_reject(rej, HUB_R_BAD_FORMAT, "field %.64s: no value", name);
		if (json_is_null(v))
			return HUB_OK;
	}
	int rc = add_value(rs, rec, name, v, unit);
	if (rc == HUB_OK && kind) /* the pipeline moves it to a record of that kind */
		rec->fields[rec->nfields - 1].kind = hub_recset_strdup(rs, kind);
	if (rc == HUB_ENOMEM)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields", HUB_MAX_FIELDS);
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_BAD_TYPE, "field %.64s: unsupported value", name);
	return HUB_OK;
}

/* "location": {"lat": .., "lon": ..} becomes the position fields lat and lon (degrees). */
static int read_location(json_t *loc, struct hub_recset *rs, struct hub_record *rec,
                         struct hub_reject *rej)
{
	json_t *lat = json_object_get(loc, "lat"), *lon = json_object_get(loc, "lon");
	if (!json_is_object(loc) || json_object_size(loc) != 2 || !json_is_number(lat) ||
	    !json_is_number(lon))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "location is {\"lat\": n, \"lon\": n}");
	if (hub_record_field(rec, "lat") || hub_record_field(rec, "lon"))
		return hub_reject(rej, HUB_R_DUPLICATE, "position given in location and fields");
	if (hub_record_add_double(rs, rec, "lat", "deg", json_number_value(lat)) != HUB_OK ||
	    hub_record_add_double(rs, rec, "lon", "deg", json_number_value(lon)) != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields", HUB_MAX_FIELDS);
	return HUB_OK;
}

static int read_fields(json_t *fields, struct hub_recset *rs, struct hub_record *rec,
		       struct hub_reject *rej)
{
	const char *name;
	json_t *v;
	if (!json_is_object(fields))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "fields must be an object");
	json_object_foreach(fields, name, v) {
		int rc = read_field(rs, rec, name, v, rej);
		if (rc != HUB_OK)
			return rc;
	}
	if (rec->nfields == 0)
		return hub_reject(rej, HUB_R_EMPTY, "the reading has no non-null fields");
	return HUB_OK;
}

static int read_string(json_t *obj, const char *key, struct hub_recset *rs, const char **out,
		       struct hub_reject *rej)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return HUB_OK;
	if (!json_is_string(v))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "%s must be a string", key);
	*out = hub_recset_strndup(rs, json_string_value(v), json_string_length(v));
	return HUB_OK;
}

/* Decodes one reading; base (may be NULL) supplies sensor_id, kind, time and tags defaults,
 * base_loc (may be NULL) the batch's location. */
static int read_reading(json_t *obj, const struct hub_record *base, json_t *base_loc,
                        struct hub_recset *rs, struct hub_reject *rej)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "a reading must be a JSON object");
	json_object_foreach(obj, key, v) {
		if (!known_key(key) || (base && strcmp(key, "readings") == 0))
			return hub_reject(rej, HUB_R_BAD_FORMAT, "unknown key %.64s", key);
	}
	struct hub_record *rec = hub_recset_add(rs);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many readings in one message");
	if (base)
		*rec = *base;
	rec->nfields = 0;
	int rc = read_string(obj, "sensor_id", rs, &rec->sensor_id, rej);
	if (rc == HUB_OK)
		rc = read_string(obj, "kind", rs, &rec->kind, rej);
	if (rc == HUB_OK)
		rc = read_time(obj, rec, rej);
	if (rc == HUB_OK && json_object_get(obj, "tags"))
		rc = read_tags(json_object_get(obj, "tags"), rs, rec, rej);
	if (rc == HUB_OK)
		rc = read_fields(json_object_get(obj, "fields"), rs, rec, rej);
	json_t *loc = json_object_get(obj, "location");
	if (rc == HUB_OK && (loc || base_loc))
		rc = read_location(loc ? loc : base_loc, rs, rec, rej);
	return rc;
}

/* A batch: top-level keys other than readings are defaults for every reading. */
static int read_batch(json_t *root, json_t *list, struct hub_recset *rs, struct hub_reject *rej)
{
	if (json_object_get(root, "fields"))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "a batch has readings, not fields");
	struct hub_record base = {0};
	int rc = read_string(root, "sensor_id", rs, &base.sensor_id, rej);
	if (rc == HUB_OK)
		rc = read_string(root, "kind", rs, &base.kind, rej);
	if (rc == HUB_OK)
		rc = read_time(root, &base, rej);
	if (rc == HUB_OK && json_object_get(root, "tags"))
		rc = read_tags(json_object_get(root, "tags"), rs, &base, rej);
	if (rc == HUB_OK && json_array_size(list) == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "readings is empty");
	for (size_t i = 0; rc == HUB_OK && i < json_array_size(list); i++)
		rc = read_reading(json_array_get(list, i), &base, json_object_get(root, "location"),
		                  rs, rej);
	return rc;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
		  struct hub_reject *rej)
{
	(void)state;
	json_t *root;
	if (hub_adapter_parse_json(msg, 0, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	int rc;
	json_t *list = json_object_get(root, "readings");
	if (json_is_array(root))
		rc = read_batch(NULL, root, out, rej);
	else if (list && json_is_array(list))
		rc = read_batch(root, list, out, rej);
	else if (list)
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "readings must be an array");
	else
		rc = read_reading(root, NULL, NULL, out, rej);
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_native = {
	.name = "native",
	.doc = "cityhub native JSON: {sensor_id, kind, time, tags, fields} or {readings: [...]}",
	.decode = decode,
};
