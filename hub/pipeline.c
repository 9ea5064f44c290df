#include "pipeline.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"

#define MAX_LEVELS 16

struct route {
	char *filter;
	const struct hub_adapter *adapter;
	void *state;
	void *opts; /* the route's options bound with the adapter's table (owned), or NULL */
	char *kind;
	char *levels[MAX_LEVELS]; /* template levels; NULL = no template */
	size_t nlevels;
	int tail_wild;    /* template ends in '#' */
	int has_template; /* without one, any topic the filter matched is fine */
	json_t *field_kinds; /* field name -> kind, from the route's `kinds` (owned; NULL = none) */
	enum hub_unknown_policy unknown;
	size_t keep_max; /* unknown_fields: keep: most kept per record */
	int derived;     /* the hub's own route: the only one that may carry derived kinds */
};

struct series_set {
	pthread_mutex_t lock;
	uint64_t *slots; /* open addressing; 0 = empty */
	size_t cap;
	size_t n;
	size_t max;
};

struct hub_pipeline {
	struct route *routes;
	size_t nroutes;
	const struct hub_schemas *schemas;
	size_t max_payload;
	size_t max_fields;
	size_t max_records;
	size_t max_string;
	int deadletter_unrouted;
	int require_ts; /* limits.require_timestamp: refuse records without a payload time */
	struct series_set series;
	struct series_set dropped_names; /* (kind, field) names counted by name; the rest _other */
	struct series_set kept_names; /* (kind, field) names kept raw; beyond, they are dropped */
};

/* Distinct names: bounds the labels of cityhub_dropped_fields_total and the field keys that
 * unknown_fields: keep may add to the store, whatever the gateways send. */
#define MAX_DROPPED_NAMES 64
#define MAX_KEPT_NAMES 256

int hub_topic_matches(const char *filter, const char *topic)
{
	/* MQTT: wildcards at the first level never match topics starting with '$'. */
	if (topic[0] == '$' && (filter[0] == '#' || filter[0] == '+'))
		return 0;
	for (;;) {
		const char *fe = strchrnul(filter, '/'), *te = strchrnul(topic, '/');
		size_t fl = (size_t)(fe - filter), tl = (size_t)(te - topic);
		if (fl == 1 && filter[0] == '#')
			return 1;
		if (!(fl == 1 && filter[0] == '+') && (fl != tl || memcmp(filter, topic, fl) != 0))
			return 0;
		if (!*fe && !*te)
			return 1;
		if (!*te)
			return strcmp(fe, "/#") == 0; /* "a/#" also matches "a" */
		if (!*fe)
			return 0;
		filter = fe + 1;
		topic = te + 1;
	}
}

static void series_init(struct series_set *ss, size_t max)
{
	ss->max = max;
	ss->cap = 1024;
	ss->n = 0;
	ss->slots = hub_xcalloc(ss->cap, sizeof(uint64_t));
	pthread_mutex_init(&ss->lock, NULL);
}

static void series_fini(struct series_set *ss)
{
	free(ss->slots);
	pthread_mutex_destroy(&ss->lock);
}

static int parse_template(struct route *r, const char *tmpl, char *err, size_t errlen)
{
	char *copy = hub_xstrdup(tmpl), *save = NULL;
	int rc = HUB_OK;
	for (char *lv = strtok_r(copy, "/", &save); lv; lv = strtok_r(NULL, "/", &save)) {
		if (r->tail_wild || r->nlevels == MAX_LEVELS) {
			snprintf(err, errlen, "template: '#' must be last, at most %d levels", MAX_LEVELS);
			rc = HUB_EINVAL;
			break;
		}
		if (strcmp(lv, "#") == 0)
			r->tail_wild = 1;
		else
			r->levels[r->nlevels++] = hub_xstrdup(lv);
	}
	free(copy);
	return rc;
}

/* Inverts the route's `kinds` (kind -> [field, ...]) into r->field_kinds (field -> kind). */
static int build_kinds(struct route *r, const json_t *kinds, const struct hub_schemas *schemas,
                       char *err, size_t errlen)
{
	const char *kind;
	json_t *fields;
	if (!kinds || json_object_size(kinds) == 0)
		return HUB_OK;
	r->field_kinds = json_object();
	json_object_foreach((json_t *)kinds, kind, fields)
	{
		if (!hub_schemas_has_kind(schemas, kind)) {
			snprintf(err, errlen, "kinds.%.64s: no schema for this kind", kind);
			return HUB_EINVAL;
		}
		if (!json_is_array(fields) || json_array_size(fields) == 0) {
			snprintf(err, errlen, "kinds.%.64s: must be a list of field names", kind);
			return HUB_EINVAL;
		}
		for (size_t i = 0; i < json_array_size(fields); i++) {
			json_t *f = json_array_get(fields, i);
			const char *name = json_string_value(f);
			if (!name || !*name) {
				snprintf(err, errlen, "kinds.%.64s[%zu]: must be a field name",
				         kind, i);
				return HUB_EINVAL;
			}
			if (json_object_get(r->field_kinds, name)) {
				snprintf(err, errlen, "kinds.%.64s: field %.64s is mapped twice",
				         kind, name);
				return HUB_EINVAL;
			}
			json_object_set_new(r->field_kinds, name, json_string(kind));
		}
	}
	return HUB_OK;
}

static int build_route(struct route *r, const struct hub_cfg_route *c,
                       const struct hub_schemas *schemas,
                       const struct hub_adapter *const *adapters, char *err, size_t errlen)
{
	r->filter = hub_xstrdup(c->filter);
	r->unknown = (enum hub_unknown_policy)c->unknown_fields;
	r->keep_max = c->keep_max_fields > 0 ? (size_t)c->keep_max_fields : 8;
	if (build_kinds(r, c->kinds, schemas, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	r->kind = c->kind ? hub_xstrdup(c->kind) : NULL;
	r->adapter = hub_adapter_lookup(adapters, c->adapter);
	if (!r->adapter) {
		snprintf(err, errlen, "adapter: no adapter called %s", c->adapter);
		return HUB_EINVAL;
	}
	r->has_template = c->template != NULL;
	if (c->template && parse_template(r, c->template, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	if (r->adapter->options) {
		if (hub_adapter_options_bind(r->adapter, c->options, &r->opts, err, errlen) != HUB_OK)
			return HUB_EINVAL;
		if (!r->adapter->init) {
			r->state = r->opts;
			return HUB_OK;
		}
		return r->adapter->init(r->opts, schemas, &r->state, err, errlen);
	}
	if (c->options && json_object_size(c->options) > 0) {
		snprintf(err, errlen, "options: adapter %s takes no options", c->adapter);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

/* Records the monitor derives (hourly VN_AQI, alert transitions) travel through the journal
 * like any message, so every sink stores them with its own cursor; config refuses user routes
 * under $cityhub/, and brokers never deliver $ topics to wildcard subscriptions. */
static struct hub_pipeline *add_derived_route(struct hub_pipeline *p,
					      const struct hub_adapter *const *adapters, char *err,
					      size_t errlen)
{
	json_t *none = json_object();
	struct hub_cfg_route derived = {.filter = HUB_DERIVED_PREFIX "#", .adapter = "native",
					.template = HUB_DERIVED_PREFIX "{kind}", .options = none};
	p->routes[p->nroutes].derived = 1;
	int rc = build_route(&p->routes[p->nroutes++], &derived, p->schemas, adapters, err, errlen);
	json_decref(none);
	if (rc != HUB_OK) {
		hub_pipeline_free(p);
		return NULL;
	}
	return p;
}

struct hub_pipeline *hub_pipeline_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
				      const struct hub_adapter *const *adapters, char *err,
				      size_t errlen)
{
	struct hub_pipeline *p = hub_xcalloc(1, sizeof(*p));
	p->schemas = schemas;
	p->max_payload = (size_t)cfg->limits.max_payload_bytes;
	p->max_fields = (size_t)cfg->limits.max_fields;
	p->max_records = (size_t)cfg->limits.max_records;
	p->max_string = (size_t)cfg->limits.max_string_bytes;
	p->deadletter_unrouted = cfg->mqtt.deadletter_unrouted;
	p->require_ts = cfg->limits.require_timestamp;
	series_init(&p->series, (size_t)cfg->limits.max_series);
	series_init(&p->dropped_names, MAX_DROPPED_NAMES);
	series_init(&p->kept_names, MAX_KEPT_NAMES);
	p->routes = hub_xcalloc(cfg->nroutes + 1, sizeof(*p->routes));
	for (size_t i = 0; i < cfg->nroutes; i++) {
		p->nroutes++;
		char msg[200] = "";
		if (build_route(&p->routes[i], &cfg->routes[i], schemas, adapters, msg,
				sizeof(msg)) != HUB_OK) {
			snprintf(err, errlen, "%s:%d: routes[%zu].%s", cfg->path ? cfg->path : "(defaults)",
				 cfg->routes[i].line, i, msg);
			hub_pipeline_free(p);
			return NULL;
		}
	}
	return add_derived_route(p, adapters, err, errlen);
}

void hub_pipeline_free(struct hub_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nroutes; i++) {
		struct route *r = &p->routes[i];
		if (r->state && r->state != r->opts && r->adapter->free_state)
			r->adapter->free_state(r->state);
		if (r->opts)
			hub_adapter_options_free(r->adapter, r->opts);
		for (size_t l = 0; l < r->nlevels; l++)
			free(r->levels[l]);
		free(r->filter);
		free(r->kind);
		json_decref(r->field_kinds);
	}
	free(p->routes);
	series_fini(&p->series);
	series_fini(&p->dropped_names);
	series_fini(&p->kept_names);
	free(p);
}

/* Valid UTF-8 without NUL; control characters (newline, tab, DEL ...) only if controls_ok. */
static int utf8_check(const char *s, size_t len, int controls_ok)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		size_t n;
		unsigned min;
		if (c == 0 || ((c < 0x20 || c == 0x7f) && !controls_ok))
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, min = 0x80, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			n = 2, min = 0x800, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			n = 3, min = 0x10000, c &= 0x07;
		else
			return 0;
		if ((size_t)(end - p) <= n)
			return 0;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

int hub_text_valid(const char *s, size_t len)
{
	return utf8_check(s, len, 0);
}

/* Issue 13 #5: what a dead letter may carry as text. A payload is text when it is UTF-8, line
 * breaks and tabs included (any file sent with mosquitto_pub -f ends in a newline). */
int hub_utf8_valid(const char *s, size_t len)
{
	return utf8_check(s, len, 1);
}

static const struct route *find_route(const struct hub_pipeline *p, const char *topic)
{
	for (size_t i = 0; i < p->nroutes; i++)
		if (hub_topic_matches(p->routes[i].filter, topic))
			return &p->routes[i];
	return NULL;
}

/* Values a topic gave through the route's template ({name} levels). */
struct topic_vals {
	const char *names[MAX_LEVELS];
	const char *values[MAX_LEVELS];
	size_t n;
};

static int match_template(const struct route *r, const char *topic, struct hub_recset *rs,
			  struct topic_vals *tv, struct hub_reject *rej)
{
	int more = 0; /* a '/' follows the last matched level, even if nothing comes after it */
	tv->n = 0;
	if (!r->has_template)
		return HUB_OK;
	for (size_t i = 0; i < r->nlevels; i++) {
		const char *end = strchrnul(topic, '/');
		size_t len = (size_t)(end - topic), tl = strlen(r->levels[i]);
		int ph = tl > 2 && r->levels[i][0] == '{' && r->levels[i][tl - 1] == '}';
		if (ph && len == 0)
			return hub_reject(rej, HUB_R_BAD_TOPIC, "empty topic level for %s", r->levels[i]);
		if (!ph && (len != tl || memcmp(topic, r->levels[i], len) != 0))
			return hub_reject(rej, HUB_R_BAD_TOPIC, "topic does not fit template at %s",
					  r->levels[i]);
		if (ph) {
			tv->names[tv->n] = hub_recset_strndup(rs, r->levels[i] + 1, tl - 2);
			tv->values[tv->n++] = hub_recset_strndup(rs, topic, len);
		}
		if (!*end && i + 1 < r->nlevels)
			return hub_reject(rej, HUB_R_BAD_TOPIC, "topic has too few levels");
		more = *end != '\0';
		topic = more ? end + 1 : end;
	}
	if (more && !r->tail_wild)
		return hub_reject(rej, HUB_R_BAD_TOPIC, "topic has more levels than its template");
	return HUB_OK;
}

/* Fills what the payload left out from the topic and route; topic tags win over payload tags. */
static int fill_from_topic(const struct route *r, const struct topic_vals *tv, struct hub_recset *rs,
			   struct hub_record *rec, int64_t recv_ns, struct hub_reject *rej)
{
	for (size_t i = 0; i < tv->n; i++) {
		if (strcmp(tv->names[i], "kind") == 0) {
			if (!rec->kind)
				rec->kind = tv->values[i];
		} else if (strcmp(tv->names[i], "sensor_id") == 0) {
			if (!rec->sensor_id)
				rec->sensor_id = tv->values[i];
		} else if (strcmp(tv->names[i], "_") != 0 &&
			   hub_record_set_tag(rs, rec, tv->names[i], tv->values[i]) != HUB_OK) {
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
		}
	}
	if (!rec->kind)
		rec->kind = r->kind;
	if (!rec->has_ts) {
		rec->ts_ns = recv_ns;
		rec->has_ts = 1;
	}
	if (!rec->sensor_id || !*rec->sensor_id)
		return hub_reject(rej, HUB_R_NO_SENSOR, "neither payload nor topic names the sensor");
	return HUB_OK;
}

static int check_text(const struct hub_pipeline *p, const char *what, const char *s,
		      struct hub_reject *rej)
{
	size_t len = strlen(s);
	if (len > p->max_string)
		return hub_reject(rej, HUB_R_BAD_STRING, "%s longer than %zu bytes", what,
				  p->max_string);
	if (!hub_text_valid(s, len))
		return hub_reject(rej, HUB_R_BAD_STRING, "%s has control characters or invalid UTF-8", what);
	return HUB_OK;
}

/* Strings that reach line protocol: valid UTF-8, no control characters, bounded length. */
static int check_limits(const struct hub_pipeline *p, const struct hub_record *rec,
			struct hub_reject *rej)
{
	if (rec->nfields > p->max_fields)
		return hub_reject(rej, HUB_R_TOO_MANY, "%zu fields, limit %zu", rec->nfields,
				  p->max_fields);
	int rc = check_text(p, "sensor_id", rec->sensor_id, rej);
	for (size_t i = 0; rc == HUB_OK && i < rec->ntags; i++) {
		const char *v = rec->tags[i].value;
		rc = check_text(p, "tag key", rec->tags[i].key, rej);
		if (rc == HUB_OK)
			rc = check_text(p, "tag value", v, rej);
		if (rc == HUB_OK && *v && v[strlen(v) - 1] == '\\')
			rc = hub_reject(rej, HUB_R_BAD_TAG, "tag %.64s ends in a backslash",
					rec->tags[i].key);
	}
	if (rc == HUB_OK && rec->sensor_id[strlen(rec->sensor_id) - 1] == '\\')
		rc = hub_reject(rej, HUB_R_BAD_TAG, "sensor_id ends in a backslash");
	for (size_t i = 0; rc == HUB_OK && i < rec->nfields; i++) {
		const struct hub_field *f = &rec->fields[i];
		rc = check_text(p, "field name", f->name, rej);
		if (rc == HUB_OK && f->v.type == HUB_FT_STRING)
			rc = check_text(p, "string value", f->v.u.s, rej);
	}
	return rc;
}

static uint64_t series_hash(const char *kind, const char *sensor)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *s = kind; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *s = sensor; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

static void series_grow(struct series_set *ss)
{
	uint64_t *old = ss->slots;
	size_t oldcap = ss->cap;
	ss->cap *= 2;
	ss->slots = hub_xcalloc(ss->cap, sizeof(uint64_t));
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i])
			continue;
		size_t j = old[i] & (ss->cap - 1);
		while (ss->slots[j])
			j = (j + 1) & (ss->cap - 1);
		ss->slots[j] = old[i];
	}
	free(old);
}

/* Admits (kind, sensor) if already known or while fewer than max series exist. Shared by every
 * consumer thread, and only ever grows, so all consumers reach the same verdict. */
static int series_admit(struct series_set *ss, const char *kind, const char *sensor)
{
	uint64_t h = series_hash(kind, sensor);
	int ok = 1;
	pthread_mutex_lock(&ss->lock);
	size_t j = h & (ss->cap - 1);
	while (ss->slots[j] && ss->slots[j] != h)
		j = (j + 1) & (ss->cap - 1);
	if (!ss->slots[j]) {
		if (ss->max && ss->n >= ss->max) {
			ok = 0;
		} else {
			ss->slots[j] = h;
			if (++ss->n * 2 > ss->cap)
				series_grow(ss);
		}
	}
	pthread_mutex_unlock(&ss->lock);
	return ok;
}

/* ---- several kinds from one message ---- */

/* The kind field f goes to: the one the payload named, else the route's map; NULL = its
 * record's. */
static const char *field_kind(const struct route *r, const struct hub_field *f)
{
	if (f->kind)
		return f->kind;
	return json_string_value(json_object_get(r->field_kinds, f->name));
}

static int is_position(const char *name)
{
	return strcmp(name, "lat") == 0 || strcmp(name, "lon") == 0;
}

/* Returns the index of the record of kind for the reading at index src, among the siblings
 * made for it from index first on, adding it (same sensor, time and tags) when new; -1 when the
 * set is full. */
static ptrdiff_t sibling(struct hub_recset *rs, size_t src, size_t first, const char *kind)
{
	for (size_t i = first; i < rs->n; i++)
		if (strcmp(rs->recs[i].kind, kind) == 0)
			return (ptrdiff_t)i;
	struct hub_record *sib = hub_recset_add(rs);
	if (!sib)
		return -1;
	const struct hub_record *rec = &rs->recs[src]; /* after the add: recs may have moved */
	sib->kind = hub_recset_strdup(rs, kind);
	sib->sensor_id = rec->sensor_id;
	sib->ts_ns = rec->ts_ns;
	sib->has_ts = rec->has_ts;
	sib->ntags = rec->ntags;
	memcpy(sib->tags, rec->tags, rec->ntags * sizeof(rec->tags[0]));
	return (ptrdiff_t)(rs->n - 1);
}

/* Copies the reading's position (lat, lon) into every sibling made for it: a map places each
 * kind's record. */
static int copy_position(struct hub_recset *rs, size_t src, size_t first, struct hub_reject *rej)
{
	for (size_t f = 0; f < rs->recs[src].nfields; f++) {
		const struct hub_field *pos = &rs->recs[src].fields[f];
		if (!is_position(pos->name))
			continue;
		for (size_t i = first; i < rs->n; i++) {
			struct hub_record *sib = &rs->recs[i];
			if (hub_record_field(sib, pos->name))
				continue;
			if (sib->nfields >= HUB_MAX_FIELDS)
				return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields",
				                  HUB_MAX_FIELDS);
			sib->fields[sib->nfields++] = *pos;
		}
	}
	return HUB_OK;
}

/* Moves the fields of the reading at index src that belong to another kind into records of
 * that kind, appended to rs. */
static int split_one(const struct route *r, struct hub_recset *rs, size_t src,
                     struct hub_reject *rej)
{
	size_t first = rs->n, w = 0;
	for (size_t f = 0; f < rs->recs[src].nfields; f++) {
		struct hub_field fld = rs->recs[src].fields[f];
		const char *kind = field_kind(r, &fld), *own = rs->recs[src].kind;
		if (!kind || (own && strcmp(kind, own) == 0)) {
			rs->recs[src].fields[w++] = fld;
			continue;
		}
		ptrdiff_t i = sibling(rs, src, first, kind);
		if (i < 0)
			return hub_reject(rej, HUB_R_TOO_MANY,
			                  "more than %zu records in one message", rs->max);
		struct hub_record *sib = &rs->recs[i];
		if (sib->nfields >= HUB_MAX_FIELDS)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields",
			                  HUB_MAX_FIELDS);
		fld.kind = NULL;
		sib->fields[sib->nfields++] = fld;
	}
	rs->recs[src].nfields = w;
	int rc = copy_position(rs, src, first, rej);
	size_t npos = 0;
	for (size_t f = 0; f < w; f++)
		npos += is_position(rs->recs[src].fields[f].name);
	if (rs->n > first && npos == w)
		rs->recs[src].nfields = 0; /* only its position is left: the siblings carry it */
	return rc;
}

/* Splits every reading by kind, then forgets the readings left with no field. */
static int split_kinds(const struct route *r, struct hub_recset *rs, struct hub_reject *rej)
{
	size_t n = rs->n, w = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = split_one(r, rs, i, rej);
		if (rc != HUB_OK)
			return rc;
	}
	for (size_t i = 0; i < rs->n; i++)
		if (rs->recs[i].nfields > 0 || i >= n)
			rs->recs[w++] = rs->recs[i];
	rs->n = w;
	return HUB_OK;
}

/* ---- unknown fields: reject | drop | keep ---- */

/* A name safe as a Prometheus label value and short; else "_other". */
static const char *label_name(struct hub_pipeline *p, const char *kind, const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 64 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789_.:-") != len)
		return "_other";
	return series_admit(&p->dropped_names, kind, name) ? name : "_other";
}

static int keep_raw(struct hub_field *f, struct hub_reject *rej)
{
	f->unit = NULL;
	if (f->v.type == HUB_FT_INT) { /* one type per field key, whatever the JSON spelling */
		f->v.type = HUB_FT_DOUBLE;
		f->v.u.d = (double)f->v.u.i;
	}
	if (f->v.type == HUB_FT_DOUBLE && !isfinite(f->v.u.d))
		return hub_reject(rej, HUB_R_OUT_OF_RANGE, "field %.64s: not finite", f->name);
	return HUB_OK;
}

/* Takes the fields rec's kind does not define out of rec: per the route, reject (left for the
 * schema to refuse), drop (noted in rs for the monitor) or keep (moved to kept, raw, within the
 * route's budget and MAX_KEPT_NAMES; the rest dropped). */
static int sort_unknown(struct hub_pipeline *p, const struct route *r, struct hub_recset *rs,
                        struct hub_record *rec, struct hub_field *kept, size_t *nkept,
                        struct hub_reject *rej)
{
	size_t w = 0;
	*nkept = 0;
	if (r->unknown == HUB_UNKNOWN_REJECT || !hub_schemas_has_kind(p->schemas, rec->kind))
		return HUB_OK;
	for (size_t i = 0; i < rec->nfields; i++) {
		struct hub_field *f = &rec->fields[i];
		if (hub_schemas_field_known(p->schemas, rec->kind, f->name)) {
			rec->fields[w++] = *f;
			continue;
		}
		if (r->unknown == HUB_UNKNOWN_KEEP && *nkept < r->keep_max &&
		    series_admit(&p->kept_names, rec->kind, f->name)) {
			for (size_t j = 0; j < *nkept; j++)
				if (strcmp(kept[j].name, f->name) == 0)
					return hub_reject(rej, HUB_R_DUPLICATE,
					                  "field %.64s given twice", f->name);
			if (keep_raw(f, rej) != HUB_OK)
				return HUB_EREJECT;
			kept[(*nkept)++] = *f;
			continue;
		}
		hub_recset_note_dropped(rs, rec->kind, label_name(p, rec->kind, f->name));
	}
	rec->nfields = w;
	return HUB_OK;
}

static int finish_record(struct hub_pipeline *p, const struct route *r, struct hub_recset *out,
                         struct hub_record *rec, struct hub_reject *rej)
{
	struct hub_field kept[HUB_MAX_FIELDS];
	size_t nkept = 0;
	if (!rec->kind)
		return hub_reject(rej, HUB_R_NO_KIND,
		                  "neither payload, topic nor route names a kind");
	/* aqi and alerts are the hub's own: a gateway must not be able to forge an alert history. */
	if (!r->derived && (strcmp(rec->kind, "aqi") == 0 || strcmp(rec->kind, "alerts") == 0))
		return hub_reject(rej, HUB_R_UNKNOWN_KIND,
		                  "kind %s is derived by the hub and cannot be published", rec->kind);
	int rc = check_limits(p, rec, rej);
	if (rc == HUB_OK)
		rc = sort_unknown(p, r, out, rec, kept, &nkept, rej);
	/* Kept fields go beside a reading, not instead of one (the schema also checks the tags). */
	if (rc == HUB_OK && rec->nfields == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "no field of kind %.64s is left", rec->kind);
	if (rc == HUB_OK)
		rc = hub_schemas_apply(p->schemas, out, rec, rej);
	for (size_t i = 0; rc == HUB_OK && i < nkept; i++) {
		if (hub_record_field(rec, kept[i].name))
			rc = hub_reject(rej, HUB_R_DUPLICATE, "field %.64s given twice",
			                kept[i].name);
		else
			rec->fields[rec->nfields++] = kept[i];
	}
	if (rc == HUB_OK && !series_admit(&p->series, rec->kind, rec->sensor_id))
		rc = hub_reject(rej, HUB_R_SERIES_LIMIT, "more than %zu distinct sensors",
				p->series.max);
	return rc;
}

int hub_pipeline_topic_sensor(const struct hub_pipeline *p, const char *topic, char *out,
			      size_t len)
{
	const struct route *r = find_route(p, topic);
	for (size_t i = 0; r && r->has_template && i < r->nlevels; i++) {
		const char *end = strchrnul(topic, '/');
		if (strcmp(r->levels[i], "{sensor_id}") == 0 && end > topic &&
		    (size_t)(end - topic) < len && hub_text_valid(topic, (size_t)(end - topic))) {
			snprintf(out, len, "%.*s", (int)(end - topic), topic);
			return HUB_OK;
		}
		if (!*end)
			break;
		topic = end + 1;
	}
	return HUB_ENOENT;
}

int hub_pipeline_unrouted(const struct hub_reject *rej)
{
	return rej->reason && strcmp(rej->reason, HUB_R_NO_ROUTE) == 0;
}

int hub_pipeline_deadletter(const struct hub_pipeline *p, const struct hub_reject *rej)
{
	return !hub_pipeline_unrouted(rej) || p->deadletter_unrouted;
}

int hub_pipeline_decode(struct hub_pipeline *p, const struct hub_msg *msg, struct hub_recset *out,
			struct hub_reject *rej, const char **adapter)
{
	hub_recset_clear(out);
	out->max = p->max_records;
	*adapter = "none";
	rej->reason = NULL;
	const struct route *r = find_route(p, msg->topic);
	if (!r)
		return hub_reject(rej, HUB_R_NO_ROUTE, "no route matches the topic");
	*adapter = r->adapter->name;
	if (msg->len > p->max_payload)
		return hub_reject(rej, HUB_R_TOO_LARGE, "payload of %zu bytes, limit %zu", msg->len,
				  p->max_payload);
	if (msg->len == 0)
		return hub_reject(rej, HUB_R_EMPTY, "empty payload");
	struct topic_vals tv;
	int rc = match_template(r, msg->topic, out, &tv, rej);
	if (rc == HUB_OK)
		rc = r->adapter->decode(msg, r->state, out, rej);
	if (rc == HUB_OK && out->n == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "no readings in the message");
	for (size_t i = 0; rc == HUB_OK && p->require_ts && i < out->n; i++)
		if (!out->recs[i].has_ts)
			rc = hub_reject(rej, HUB_R_BAD_TIME, "no timestamp in the payload");
	for (size_t i = 0; rc == HUB_OK && i < out->n; i++)
		rc = fill_from_topic(r, &tv, out, &out->recs[i], msg->recv_ns, rej);
	if (rc == HUB_OK)
		rc = split_kinds(r, out, rej);
	for (size_t i = 0; rc == HUB_OK && i < out->n; i++)
		rc = finish_record(p, r, out, &out->recs[i], rej);
	if (rc != HUB_OK) {
		if (rc != HUB_EREJECT || !rej->reason)
			hub_reject(rej, HUB_R_BAD_FORMAT, "adapter failed: %s", hub_strerror(rc));
		hub_recset_clear(out);
		return HUB_EREJECT;
	}
	return HUB_OK;
}
