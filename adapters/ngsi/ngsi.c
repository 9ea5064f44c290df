/* FIWARE NGSI-v2 and NGSI-LD entities (normalized or keyValues; one entity, an array, or a
 * notification {"subscriptionId", "data": [...]}) of six Smart Data Models types, mapped to
 * canonical kinds and fields. docs/payloads/ngsi.md has the tables and every rejection. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "cityhub/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../options.h"
#include "cityhub/buf.h"

/* Which entity type is which kind, and which attribute is which field or tag (with the
 * model's unit), come from the schemas ("fiware_type", "fiware", "fiware_aliases",
 * "fiware_unit", "fiware_tags"). Two value conventions of the models stay here: */
enum special { SP_NONE, SP_LANE_ID, SP_WIND_DIR };

/* A number becomes its decimal text (laneId); windDirection may be -180..180. */
static enum special special_of(const char *field)
{
	if (field && strcmp(field, "lane_id") == 0)
		return SP_LANE_ID;
	if (field && strcmp(field, "wind_dir_deg") == 0)
		return SP_WIND_DIR;
	return SP_NONE;
}

/* An entity type the schemas name, with its kind's attributes (all borrowed from them). */
struct type_map {
	const char *type;
	const char *kind;
	const struct hub_fiware_attr *attrs;
	size_t nattrs;
};

/* Descriptive attributes of the Smart Data Models commons and of these six models: never
 * measurements, so skipped whatever unknown_attributes says. */
static const char *const ignored[] = {
    "id",
    "type",
    "@context",
    "dateCreated",
    "dateModified",
    "createdAt",
    "modifiedAt",
    "dateObserved",
    "dateObservedFrom",
    "dateObservedTo",
    "TimeInstant",
    "location",
    "observationSpace",
    "operationSpace",
    "address",
    "name",
    "alternateName",
    "description",
    "dataProvider",
    "source",
    "owner",
    "seeAlso",
    "areaServed",
    "measurand",
    "typeOfLocation",
    "reliability",
    "airQualityLevel",
    "airQualityIndex",
    "stationName",
    "reversedLane",
    NULL,
};

/* Attribute types that never carry a measurement. */
static const char *const ignored_types[] = {"Relationship", "GeoProperty", "geo:json",
                                            "LanguageProperty", NULL};

/* The route's options, filled by the option engine from the table below. */
struct ngsi_options {
	int skip_unknown;   /* unknown_attributes: 0 reject, 1 skip */
	json_t *attributes; /* extra attribute -> canonical field (owned by the options) */
};

struct ngsi_state {
	const struct ngsi_options *opt; /* borrowed: the pipeline keeps it for the state's life */
	struct type_map *types;         /* every kind with a FIWARE entity type (owned array) */
	size_t ntypes;
};

/* ---- route options ---- */

static const char *const unknown_attributes[] = {"reject", "skip", NULL};

#define OPT(member) HUB_OPT_AT(struct ngsi_options, member)
static const struct hub_opt option_rows[] = {
	{.path = "unknown_attributes", .type = HUB_OPT_ENUM, .at = OPT(skip_unknown),
	 .def = "reject", .names = unknown_attributes,
	 .doc = "An attribute that maps to no field of the entity's kind: reject the message, or "
	        "skip the attribute."},
	{.path = "attributes", .type = HUB_OPT_MAP, .at = OPT(attributes),
	 .doc = "Maps further attribute names to canonical field names, e.g. "
	        "`{dissolvedOxygen: do_mg_l}`."},
};
static const struct hub_opt_table options = HUB_OPT_TABLE(option_rows);

static void free_state(void *state)
{
	struct ngsi_state *st = state;
	if (!st)
		return;
	free(st->types);
	free(st);
}

static void build_types(struct ngsi_state *st, const struct hub_schemas *schemas)
{
	const char *const *kinds;
	size_t n = hub_schemas_kinds(schemas, &kinds);
	st->types = hub_xcalloc(n ? n : 1, sizeof(*st->types));
	for (size_t i = 0; i < n; i++) {
		struct type_map *tm = &st->types[st->ntypes];
		tm->type = hub_schemas_fiware_type(schemas, kinds[i]);
		if (!tm->type)
			continue;
		tm->kind = kinds[i];
		tm->nattrs = hub_schemas_fiware_attrs(schemas, kinds[i], &tm->attrs);
		st->ntypes++;
	}
}

static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	const struct ngsi_options *o = opts;
	if (hub_options_field_map(o->attributes, "attributes", "an attribute to a field", err,
	                          errlen) != HUB_OK)
		return HUB_EINVAL;
	struct ngsi_state *st = hub_xcalloc(1, sizeof(*st));
	st->opt = o;
	build_types(st, schemas);
	*state = st;
	return HUB_OK;
}

/* ---- times ---- */

/* Parses an RFC 3339 instant; Smart Data Models times are UTC, so a time without a zone
 * designator is read as UTC. */
static int parse_instant(const char *s, size_t len, int64_t *ns)
{
	char buf[80];
	int rc = hub_time_parse_rfc3339(s, len, ns);
	if (rc != HUB_EPARSE || len + 2 > sizeof(buf))
		return rc;
	memcpy(buf, s, len);
	buf[len] = 'Z';
	buf[len + 1] = '\0';
	return hub_time_parse_rfc3339(buf, len + 1, ns);
}

/* Reads a DateTime in any of its spellings: "t", {"@type": "DateTime", "@value": "t"}
 * (NGSI-LD), or a v2 attribute/metadata {"type": "DateTime", "value": ...}. An ISO 8601
 * interval "start/end" gives its end. */
static int read_datetime(json_t *v, const char *what, int64_t *ns, struct hub_reject *rej)
{
	for (int depth = 0; depth < 3 && json_is_object(v); depth++) {
		json_t *inner = json_object_get(v, "@value");
		v = inner ? inner : json_object_get(v, "value");
	}
	if (!json_is_string(v))
		return hub_reject(rej, HUB_R_BAD_TIME, "%s is not a DateTime", what);
	const char *all = json_string_value(v), *s = all, *slash = strchr(s, '/');
	size_t len = json_string_length(v);
	if (slash) {
		len -= (size_t)(slash + 1 - s);
		s = slash + 1;
	}
	int rc = parse_instant(s, len, ns);
	if (rc == HUB_ERANGE)
		return hub_reject(rej, HUB_R_BAD_TIME, "%s: %.64s is outside 1970..2262", what,
		                  all);
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_BAD_TIME,
		                  "%s: %.64s is not an RFC 3339 time or "
		                  "interval",
		                  what, all);
	return HUB_OK;
}

/* The entity's observation time: dateObservedTo, else dateObserved (end of an interval),
 * else TimeInstant (FIWARE IoT Agents). *has = 0 when none is given. */
static int entity_time(json_t *ent, int64_t *ns, int *has, struct hub_reject *rej)
{
	static const char *const keys[] = {"dateObservedTo", "dateObserved", "TimeInstant"};
	*has = 0;
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(ent, keys[i]);
		if (v && !json_is_null(v)) {
			*has = 1;
			return read_datetime(v, keys[i], ns, rej);
		}
	}
	return HUB_OK;
}

/* An attribute's own observation time: observedAt (LD), metadata TimeInstant or timestamp
 * (v2). Falls back to the entity's time. */
static int attr_time(json_t *attr, const char *name, int64_t ent_ns, int ent_has, int64_t *ns,
                     int *has, struct hub_reject *rej)
{
	json_t *md = json_is_object(attr) ? json_object_get(attr, "metadata") : NULL;
	json_t *t = json_is_object(attr) ? json_object_get(attr, "observedAt") : NULL;
	if (!t && json_is_object(md))
		t = json_object_get(md, "TimeInstant");
	if (!t && json_is_object(md))
		t = json_object_get(md, "timestamp");
	if (t) {
		*has = 1;
		return read_datetime(t, name, ns, rej);
	}
	*ns = ent_ns;
	*has = ent_has;
	return HUB_OK;
}

/* ---- attributes ---- */

static int in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; s && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int is_ignored(const char *name, json_t *attr)
{
	size_t len = strlen(name);
	if (in_list(ignored, name))
		return 1;
	if (len > 3 && strncmp(name, "ref", 3) == 0 && name[3] >= 'A' && name[3] <= 'Z')
		return 1; /* refDevice, refPointOfInterest, ...: relationships */
	if (len > 6 && strcmp(name + len - 6, "_Level") == 0)
		return 1; /* CO_Level: qualitative levels */
	return json_is_object(attr) &&
	       in_list(ignored_types, json_string_value(json_object_get(attr, "type")));
}

static const struct hub_fiware_attr *find_attr(const struct type_map *tm, const char *name)
{
	for (size_t i = 0; i < tm->nattrs; i++)
		if (strcmp(tm->attrs[i].attr, name) == 0)
			return &tm->attrs[i];
	return NULL;
}

/* The attribute's value and unit, normalized (v2 metadata.unitCode, LD unitCode) or
 * keyValues (the bare value). */
static json_t *attr_value(json_t *attr, const char **unit)
{
	*unit = NULL;
	if (!json_is_object(attr))
		return attr;
	json_t *u = json_object_get(attr, "unitCode"), *md = json_object_get(attr, "metadata");
	if (!u && json_is_object(md))
		u = json_object_get(json_object_get(md, "unitCode"), "value");
	*unit = json_string_value(u);
	return json_object_get(attr, "value");
}

struct entity {
	const struct ngsi_state *st;
	const struct type_map *tm;
	struct hub_recset *out;
	size_t first; /* this entity's first record in out */
	const char *sensor;
	const char *tags[HUB_MAX_TAGS][2]; /* key, value: tags for every record of the entity */
	size_t ntags;
	int64_t ts;
	int has_ts;
	int has_pos; /* location was a Point: lat, lon fields on every record */
	double lat, lon;
};

/* Returns the entity's record for (has_ts, ts), adding it when new; NULL when full. */
static struct hub_record *group(struct entity *e, int has_ts, int64_t ts)
{
	for (size_t i = e->first; i < e->out->n; i++) {
		struct hub_record *r = &e->out->recs[i];
		if (r->has_ts == has_ts && (!has_ts || r->ts_ns == ts))
			return r;
	}
	struct hub_record *r = hub_recset_add(e->out);
	if (r) {
		r->kind = e->tm->kind;
		r->sensor_id = e->sensor;
		r->ts_ns = has_ts ? ts : 0;
		r->has_ts = has_ts;
	}
	return r;
}

static int add_value(struct entity *e, struct hub_record *rec, const char *field, const char *unit,
                     json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return hub_record_add_int(e->out, rec, field, unit, json_integer_value(v));
	case JSON_REAL:
		return hub_record_add_double(e->out, rec, field, unit, json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return unit ? HUB_EINVAL : hub_record_add_bool(e->out, rec, field, json_is_true(v));
	case JSON_STRING:
		return unit ? HUB_EINVAL
		            : hub_record_add_string(e->out, rec, field, json_string_value(v),
		                                    json_string_length(v));
	default:
		return HUB_EINVAL;
	}
}

/* Text of a string or integer value (tags, lane ids), copied into the set; NULL otherwise. */
static const char *text_of(struct hub_recset *rs, json_t *v)
{
	char num[32];
	if (json_is_string(v))
		return hub_recset_strndup(rs, json_string_value(v), json_string_length(v));
	if (!json_is_integer(v))
		return NULL;
	snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return hub_recset_strdup(rs, num);
}

/* Newer models allow windDirection in -180..180; canonical degrees are 0..360. */
static json_t *wind_dir(json_t *v, const char *unit, json_t **owned)
{
	if (!json_is_number(v) || (unit && strcmp(unit, "DD") != 0 && strcmp(unit, "deg") != 0))
		return v;
	double d = json_number_value(v);
	if (d < 0 && d >= -180)
		return *owned = json_real(d + 360);
	return v;
}

static int add_field(struct entity *e, const char *name, json_t *attr, const char *field,
                     const struct hub_fiware_attr *am, struct hub_reject *rej)
{
	const char *unit;
	json_t *v = attr_value(attr, &unit), *owned = NULL;
	int64_t ts;
	int has_ts;
	if (json_is_object(attr) && !json_object_get(attr, "value"))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "attribute %.64s has no value", name);
	if (!v || json_is_null(v))
		return HUB_OK; /* no reading for this attribute */
	int rc = attr_time(attr, name, e->ts, e->has_ts, &ts, &has_ts, rej);
	if (rc != HUB_OK)
		return rc;
	struct hub_record *rec = group(e, has_ts, ts);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %zu records", e->out->max);
	enum special sp = am ? special_of(am->field) : SP_NONE;
	if (!unit && am)
		unit = am->unit;
	if (sp == SP_LANE_ID) {
		const char *lane = text_of(e->out, v);
		if (!lane)
			return hub_reject(rej, HUB_R_BAD_TYPE, "laneId must be a number or text");
		rc = hub_record_add_string(e->out, rec, field, lane, strlen(lane));
	} else {
		if (sp == SP_WIND_DIR)
			v = wind_dir(v, unit, &owned);
		rc = add_value(e, rec, field, unit, v);
		json_decref(owned);
	}
	if (rc == HUB_ENOMEM)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields", HUB_MAX_FIELDS);
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_BAD_TYPE, "attribute %.64s: unsupported value", name);
	return HUB_OK;
}

/* Tag attributes (laneDirection, stationCode) apply to every record of the entity. */
static int read_tag(struct entity *e, const char *name, json_t *attr,
                    const struct hub_fiware_attr *am, struct hub_reject *rej)
{
	const char *unit;
	json_t *v = attr_value(attr, &unit);
	if (!v || json_is_null(v))
		return HUB_OK;
	const char *s = text_of(e->out, v);
	if (!s)
		return hub_reject(rej, HUB_R_BAD_TAG, "%.64s must be text", name);
	if (e->ntags == HUB_MAX_TAGS)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	e->tags[e->ntags][0] = am->tag;
	e->tags[e->ntags++][1] = s;
	return HUB_OK;
}

static int read_attr(struct entity *e, const char *name, json_t *attr, int tags_pass,
                     struct hub_reject *rej)
{
	const char *field = json_string_value(json_object_get(e->st->opt->attributes, name));
	if (!field && is_ignored(name, attr))
		return HUB_OK;
	const struct hub_fiware_attr *am = field ? NULL : find_attr(e->tm, name);
	int is_tag = am && am->tag;
	if (tags_pass)
		return is_tag ? read_tag(e, name, attr, am, rej) : HUB_OK;
	if (is_tag)
		return HUB_OK;
	if (!field && !am) {
		if (e->st->opt->skip_unknown)
			return HUB_OK;
		return hub_reject(rej, HUB_R_UNKNOWN_FIELD,
		                  "%s has no canonical field for "
		                  "attribute %.64s",
		                  e->tm->type, name);
	}
	return add_field(e, name, attr, field ? field : am->field, am, rej);
}

/* "urn:ngsi-ld:<Type>:<rest>" -> "<rest>"; other ids stay as they are. */
static const char *sensor_of(struct hub_recset *rs, const char *id)
{
	const char *rest = id;
	if (strncasecmp(id, "urn:ngsi-ld:", 12) == 0) {
		const char *colon = strchr(id + 12, ':');
		if (colon && colon[1])
			rest = colon + 1;
	}
	return hub_recset_strdup(rs, rest);
}

static int set_tags(struct entity *e, struct hub_reject *rej)
{
	for (size_t i = e->first; i < e->out->n; i++) {
		struct hub_record *r = &e->out->recs[i];
		for (size_t t = 0; t < e->ntags; t++)
			if (hub_record_set_tag(e->out, r, e->tags[t][0], e->tags[t][1]))
				return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags",
				                  HUB_MAX_TAGS);
		if (e->has_pos &&
		    (hub_record_add_double(e->out, r, "lat", "deg", e->lat) != HUB_OK ||
		     hub_record_add_double(e->out, r, "lon", "deg", e->lon) != HUB_OK))
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields",
			                  HUB_MAX_FIELDS);
	}
	return HUB_OK;
}

/* v2 geo:point text "lat, lon". */
static int geo_point(const char *s, struct entity *e)
{
	char *end;
	e->lat = strtod(s, &end);
	if (end == s || *end != ',')
		return HUB_EPARSE;
	s = end + 1;
	e->lon = strtod(s, &end);
	while (*end == ' ')
		end++;
	return end == s || *end ? HUB_EPARSE : HUB_OK;
}

/* The entity's location (GeoProperty, geo:json, keyValues GeoJSON or v2 geo:point): a Point
 * gives the position fields; other geometries (a road segment, an area) are not a position. */
static int read_location(struct entity *e, json_t *loc, struct hub_reject *rej)
{
	const char *unit;
	json_t *v = loc, *c;
	if (!loc || json_is_null(loc))
		return HUB_OK;
	const char *t = json_string_value(json_object_get(loc, "type"));
	if (t && strcmp(t, "Point") != 0 && json_object_get(loc, "value"))
		v = attr_value(loc, &unit); /* an attribute wrapping the geometry */
	if (json_is_string(v)) {
		if (geo_point(json_string_value(v), e) != HUB_OK)
			return hub_reject(rej, HUB_R_BAD_FORMAT,
			                  "location: geo:point is \"lat, lon\"");
		e->has_pos = 1;
		return HUB_OK;
	}
	t = json_string_value(json_object_get(v, "type"));
	if (!json_is_object(v) || !t)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "location must be a GeoJSON geometry");
	if (strcmp(t, "Point") != 0)
		return HUB_OK;
	c = json_object_get(v, "coordinates");
	if (!json_is_array(c) || json_array_size(c) < 2 || json_array_size(c) > 3 ||
	    !json_is_number(json_array_get(c, 0)) || !json_is_number(json_array_get(c, 1)))
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "location: a Point has [lon, lat] numbers");
	e->lon = json_number_value(json_array_get(c, 0)); /* GeoJSON: longitude first */
	e->lat = json_number_value(json_array_get(c, 1));
	e->has_pos = 1;
	return HUB_OK;
}

static int read_entity(const struct ngsi_state *st, json_t *ent, size_t idx, struct hub_recset *out,
                       struct hub_reject *rej)
{
	struct entity e = {.st = st, .out = out, .first = out->n};
	const char *type = json_string_value(json_object_get(ent, "type"));
	const char *id = json_string_value(json_object_get(ent, "id"));
	if (!json_is_object(ent) || !type || !id || !*id)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "entity %zu needs a string id and type",
		                  idx);
	for (size_t i = 0; i < st->ntypes && !e.tm; i++)
		if (strcmp(st->types[i].type, type) == 0)
			e.tm = &st->types[i];
	if (!e.tm)
		return hub_reject(rej, HUB_R_UNSUPPORTED, "entity type %.64s is not supported",
		                  type);
	e.sensor = sensor_of(out, id);
	int rc = entity_time(ent, &e.ts, &e.has_ts, rej);
	if (rc == HUB_OK)
		rc = read_location(&e, json_object_get(ent, "location"), rej);
	for (int pass = 1; pass >= 0; pass--) {
		const char *name;
		json_t *attr;
		json_object_foreach(ent, name, attr)
		{
			if (rc == HUB_OK)
				rc = read_attr(&e, name, attr, pass, rej);
		}
	}
	return rc == HUB_OK ? set_tags(&e, rej) : rc;
}

/* A notification (v2: subscriptionId + data; LD: type Notification) carries its entities in
 * "data"; otherwise the payload is one entity or an array of them. */
static json_t *entity_list(json_t *root, int *single, struct hub_reject *rej, int *rc)
{
	*single = 0;
	*rc = HUB_OK;
	if (json_is_array(root))
		return root;
	if (!json_is_object(root)) {
		*rc = hub_reject(rej, HUB_R_BAD_FORMAT,
		                 "expected an entity, an array of entities "
		                 "or a notification");
		return NULL;
	}
	const char *type = json_string_value(json_object_get(root, "type"));
	if (json_object_get(root, "subscriptionId") || (type && !strcmp(type, "Notification"))) {
		json_t *data = json_object_get(root, "data");
		if (!json_is_array(data))
			*rc =
			    hub_reject(rej, HUB_R_BAD_FORMAT, "notification data must be an array");
		return data;
	}
	*single = 1;
	return root;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	json_t *root;
	if (hub_adapter_parse_json(msg, 0, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	int single, rc;
	json_t *list = entity_list(root, &single, rej, &rc);
	if (rc == HUB_OK && single)
		rc = read_entity(state, list, 0, out, rej);
	for (size_t i = 0; rc == HUB_OK && !single && i < json_array_size(list); i++)
		rc = read_entity(state, json_array_get(list, i), i, out, rej);
	if (rc == HUB_OK && out->n == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "no measured attributes in the message");
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_ngsi = {
    .name = "ngsi",
    .doc = "FIWARE NGSI-v2 / NGSI-LD entities and notifications (Smart Data Models)",
    .options = &options,
    .options_size = sizeof(struct ngsi_options),
    .init = init,
    .free_state = free_state,
    .decode = decode,
};
