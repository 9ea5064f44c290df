#include "pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cityhub/error.h"

#define MAX_LEVELS 16

struct route {
	char *filter;
	const struct hub_adapter *adapter;
	void *state;
	char *kind;
	char *levels[MAX_LEVELS]; /* template levels; NULL = no template */
	size_t nlevels;
	int tail_wild;    /* template ends in '#' */
	int has_template; /* without one, any topic the filter matched is fine */
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
	struct series_set series;
};

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

static int build_route(struct route *r, const struct hub_cfg_route *c,
		       const struct hub_schemas *schemas, char *err, size_t errlen)
{
	r->filter = hub_xstrdup(c->filter);
	r->kind = c->kind ? hub_xstrdup(c->kind) : NULL;
	r->adapter = hub_adapter_find(c->adapter);
	if (!r->adapter) {
		snprintf(err, errlen, "adapter: no adapter called %s", c->adapter);
		return HUB_EINVAL;
	}
	r->has_template = c->template != NULL;
	if (c->template && parse_template(r, c->template, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	if (r->adapter->init_with_schemas)
		return r->adapter->init_with_schemas(c->options, schemas, &r->state, err, errlen);
	if (r->adapter->init)
		return r->adapter->init(c->options, &r->state, err, errlen);
	if (c->options && json_object_size(c->options) > 0) {
		snprintf(err, errlen, "options: adapter %s takes no options", c->adapter);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

/* Records the monitor derives (hourly VN_AQI, alert transitions) travel through the journal
 * like any message, so every sink stores them with its own cursor; config refuses user routes
 * under $cityhub/, and brokers never deliver $ topics to wildcard subscriptions. */
static struct hub_pipeline *add_derived_route(struct hub_pipeline *p, char *err, size_t errlen)
{
	json_t *none = json_object();
	struct hub_cfg_route derived = {.filter = HUB_DERIVED_PREFIX "#", .adapter = "native",
					.template = HUB_DERIVED_PREFIX "{kind}", .options = none};
	int rc = build_route(&p->routes[p->nroutes++], &derived, p->schemas, err, errlen);
	json_decref(none);
	if (rc != HUB_OK) {
		hub_pipeline_free(p);
		return NULL;
	}
	return p;
}

struct hub_pipeline *hub_pipeline_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
				      char *err, size_t errlen)
{
	struct hub_pipeline *p = hub_xcalloc(1, sizeof(*p));
	p->schemas = schemas;
	p->max_payload = (size_t)cfg->limits.max_payload_bytes;
	p->max_fields = (size_t)cfg->limits.max_fields;
	p->max_records = (size_t)cfg->limits.max_records;
	p->max_string = (size_t)cfg->limits.max_string_bytes;
	p->series.max = (size_t)cfg->limits.max_series;
	p->series.cap = 1024;
	p->series.slots = hub_xcalloc(p->series.cap, sizeof(uint64_t));
	pthread_mutex_init(&p->series.lock, NULL);
	p->routes = hub_xcalloc(cfg->nroutes + 1, sizeof(*p->routes));
	for (size_t i = 0; i < cfg->nroutes; i++) {
		p->nroutes++;
		char msg[200] = "";
		if (build_route(&p->routes[i], &cfg->routes[i], schemas, msg, sizeof(msg)) !=
		    HUB_OK) {
			snprintf(err, errlen, "%s:%d: routes[%zu].%s", cfg->path ? cfg->path : "(defaults)",
				 cfg->routes[i].line, i, msg);
			hub_pipeline_free(p);
			return NULL;
		}
	}
	return add_derived_route(p, err, errlen);
}

void hub_pipeline_free(struct hub_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nroutes; i++) {
		struct route *r = &p->routes[i];
		if (r->state && r->adapter->free_state)
			r->adapter->free_state(r->state);
		for (size_t l = 0; l < r->nlevels; l++)
			free(r->levels[l]);
		free(r->filter);
		free(r->kind);
	}
	free(p->routes);
	free(p->series.slots);
	pthread_mutex_destroy(&p->series.lock);
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
	if (!rec->kind)
		return hub_reject(rej, HUB_R_NO_KIND, "neither payload, topic nor route names a kind");
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

static int finish_record(struct hub_pipeline *p, const struct route *r, const struct topic_vals *tv,
			 struct hub_recset *out, struct hub_record *rec, int64_t recv_ns,
			 struct hub_reject *rej)
{
	int rc = fill_from_topic(r, tv, out, rec, recv_ns, rej);
	if (rc == HUB_OK)
		rc = check_limits(p, rec, rej);
	if (rc == HUB_OK)
		rc = hub_schemas_apply(p->schemas, out, rec, rej);
	if (rc == HUB_OK && !series_admit(&p->series, rec->kind, rec->sensor_id))
		rc = hub_reject(rej, HUB_R_SERIES_LIMIT, "more than %zu distinct sensors",
				p->series.max);
	return rc;
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
	for (size_t i = 0; rc == HUB_OK && i < out->n; i++)
		rc = finish_record(p, r, &tv, out, &out->recs[i], msg->recv_ns, rej);
	if (rc != HUB_OK) {
		if (rc != HUB_EREJECT || !rej->reason)
			hub_reject(rej, HUB_R_BAD_FORMAT, "adapter failed: %s", hub_strerror(rc));
		hub_recset_clear(out);
		return HUB_EREJECT;
	}
	return HUB_OK;
}
