/* Generic JSON mapping: the route declares where the sensor id, time, kind, tags and fields
 * are (dot paths with [i] indexes, optionally iterating records[*]); for gateways that fit no
 * other adapter. docs/payloads/jsonmap.md is the reference, with worked examples. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"

struct step {
	char *key;       /* NULL for an index step */
	long long index; /* negative counts from the end */
};

struct path {
	char *text;
	int from_root; /* "$..." paths start at the document, others at the record */
	struct step *steps;
	size_t n;
};

enum vtype { VT_AUTO, VT_DOUBLE, VT_INT, VT_BOOL, VT_STRING };
static const char *const vtype_names[] = {"auto", "double", "int", "bool", "string", NULL};

enum tfmt { TF_RFC3339, TF_UNIX_S, TF_UNIX_MS, TF_UNIX_US, TF_UNIX_NS };
static const char *const tfmt_names[] = {"rfc3339", "unix_s",  "unix_ms",
                                         "unix_us", "unix_ns", NULL};
static const int64_t tfmt_unit[] = {0, 1000000000, 1000000, 1000, 1};

struct spec {
	char *name;
	struct path path;
	char *unit;
	enum vtype type;
	int required;
	int set; /* configured at all */
};

struct jsonmap_state {
	struct path records; /* records.n == 0: the document is one record */
	int has_records;
	struct spec sensor;
	struct spec time;
	enum tfmt tfmt;
	char *kind_fixed;
	struct spec kind;
	json_t *kind_map; /* owned, NULL = values used as they are */
	struct spec *tags;
	size_t ntags;
	struct spec *fields;
	size_t nfields;
};

/* ---- paths ---- */

static void path_free(struct path *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].key);
	free(p->steps);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static void add_step(struct path *p, char *key, long long index)
{
	p->steps = hub_xrealloc(p->steps, (p->n + 1) * sizeof(*p->steps));
	p->steps[p->n].key = key;
	p->steps[p->n++].index = index;
}

/* Reads a key up to '.', '[', ']' or the end ('\' escapes the next character). */
static const char *parse_key(const char *s, struct path *p)
{
	struct hub_buf b = {0};
	hub_buf_reserve(&b, 1);
	for (; *s && *s != '.' && *s != '[' && *s != ']'; s++) {
		if (*s == '\\' && s[1])
			s++;
		hub_buf_append(&b, s, 1);
	}
	add_step(p, b.data, 0);
	return s;
}

/* Reads "[n]", "[-n]" or, when star is allowed, "[*]" (index LLONG_MIN marks it). */
static const char *parse_index(const char *s, struct path *p, int star)
{
	char *end;
	if (star && strncmp(s, "[*]", 3) == 0) {
		add_step(p, NULL, LLONG_MIN);
		return s + 3;
	}
	if (!(s[1] == '-' || (s[1] >= '0' && s[1] <= '9')) || (s[1] == '-' && s[2] == '-'))
		return NULL;
	errno = 0;
	long long v = strtoll(s + 1, &end, 10);
	if (errno || *end != ']' || v == LLONG_MIN)
		return NULL;
	add_step(p, NULL, v);
	return end + 1;
}

/* Compiles text ("a.b[0].c", "$.meta.site", "[2].id", "data[*]"); 0 on success. A key is
 * followed by '.', an index or the end; '.' is always followed by a key. */
static int parse_path(const char *text, int star, struct path *p)
{
	const char *s = text;
	int need_key = 0;
	memset(p, 0, sizeof(*p));
	p->text = hub_xstrdup(text);
	if (*s == '$') {
		p->from_root = 1;
		need_key = *++s == '.';
		s += need_key;
		if (*s && *s != '[' && !need_key)
			return -1;
	}
	while (*s) {
		if (*s == '[' && !need_key)
			s = parse_index(s, p, star);
		else if (*s != '.' && *s != '[' && *s != ']')
			s = parse_key(s, p);
		else
			return -1;
		if (!s)
			return -1;
		need_key = *s == '.';
		s += need_key;
		if (*s && *s != '[' && !need_key)
			return -1;
	}
	for (size_t i = 0; i + 1 < p->n; i++)
		if (!p->steps[i].key && p->steps[i].index == LLONG_MIN)
			return -1; /* [*] only at the end */
	return !need_key && (p->n > 0 || p->from_root) ? 0 : -1;
}

/* Follows p from the document or the record; NULL when any step is missing. */
static json_t *resolve(const struct path *p, size_t nsteps, json_t *root, json_t *rec)
{
	json_t *v = p->from_root ? root : rec;
	for (size_t i = 0; v && i < nsteps; i++) {
		const struct step *st = &p->steps[i];
		if (st->key) {
			v = json_object_get(v, st->key);
			continue;
		}
		long long n = (long long)json_array_size(v);
		long long idx = st->index < 0 ? n + st->index : st->index;
		v = idx >= 0 && idx < n ? json_array_get(v, (size_t)idx) : NULL;
	}
	return v;
}

/* ---- options ---- */

struct opterr {
	char *buf;
	size_t len;
};

static int fail(struct opterr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct opterr *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return HUB_EINVAL;
}

/* Returns 1 when word is one of the space-separated words of list. */
static int word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; n && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static int pick(const char *const *names, const char *s, int *out)
{
	for (int i = 0; s && names[i]; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* YAML booleans may reach us as JSON booleans or as the strings "true"/"false". */
static int opt_bool(json_t *v, int *out)
{
	const char *s = json_string_value(v);
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
		*out = s[0] == 't';
	else
		return -1;
	return 0;
}

/* One key of a spec object: path, unit, type, required, format (what says which apply). */
static int spec_key(const char *where, const char *key, json_t *v, struct spec *sp,
                    const char *allowed, struct jsonmap_state *st, struct opterr *e)
{
	const char *s = json_string_value(v);
	int ival;
	if (!word_in(allowed, key))
		return fail(e, "options.%s.%.64s: unknown key", where, key);
	if (strcmp(key, "path") == 0) {
		if (!s || parse_path(s, 0, &sp->path) != 0)
			return fail(e, "options.%s.path: bad path %.64s", where, s ? s : "");
	} else if (strcmp(key, "unit") == 0) {
		if (!s || !*s)
			return fail(e, "options.%s.unit: must be a unit string", where);
		sp->unit = hub_xstrdup(s);
	} else if (strcmp(key, "type") == 0) {
		if (pick(vtype_names, s, &ival) != 0)
			return fail(e,
			            "options.%s.type: must be auto, double, int, bool or "
			            "string",
			            where);
		sp->type = (enum vtype)ival;
	} else if (strcmp(key, "required") == 0) {
		if (opt_bool(v, &sp->required) != 0)
			return fail(e, "options.%s.required: must be true or false", where);
	} else if (strcmp(key, "format") == 0) {
		if (pick(tfmt_names, s, &ival) != 0)
			return fail(e,
			            "options.%s.format: must be rfc3339, unix_s, unix_ms, "
			            "unix_us or unix_ns",
			            where);
		st->tfmt = (enum tfmt)ival;
	}
	return HUB_OK;
}

/* A spec is "path" or {path: ..., <allowed keys>}; where names it in messages. */
static int parse_spec(const char *where, json_t *v, struct spec *sp, const char *allowed,
                      int required_default, struct jsonmap_state *st, struct opterr *e)
{
	const char *key;
	json_t *kv;
	sp->set = 1;
	sp->required = required_default;
	if (json_is_string(v)) {
		if (parse_path(json_string_value(v), 0, &sp->path) != 0)
			return fail(e, "options.%s: bad path %.64s", where, json_string_value(v));
		return HUB_OK;
	}
	if (!json_is_object(v))
		return fail(e, "options.%s: must be a path or a mapping with path", where);
	json_object_foreach(v, key, kv)
	{
		int rc = spec_key(where, key, kv, sp, allowed, st, e);
		if (rc != HUB_OK)
			return rc;
	}
	if (!sp->path.text)
		return fail(e, "options.%s.path: is required", where);
	return HUB_OK;
}

static int parse_named(const char *what, json_t *v, struct spec **out, size_t *n,
                       const char *allowed, struct jsonmap_state *st, struct opterr *e)
{
	const char *name;
	json_t *sv;
	if (!json_is_object(v))
		return fail(e, "options.%s: must map a name to a path", what);
	*out = hub_xcalloc(json_object_size(v) + 1, sizeof(**out));
	json_object_foreach(v, name, sv)
	{
		struct spec *sp = &(*out)[(*n)++];
		struct hub_buf where = {0};
		sp->name = hub_xstrdup(name);
		hub_buf_printf(&where, "%s.%.64s", what, name);
		int rc = parse_spec(where.data, sv, sp, allowed, 0, st, e);
		hub_buf_fini(&where);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

static int parse_kind(json_t *v, struct jsonmap_state *st, struct opterr *e)
{
	if (json_is_string(v)) {
		st->kind_fixed = hub_xstrdup(json_string_value(v));
		return HUB_OK;
	}
	json_t *map = json_object_get(v, "map");
	if (map) {
		const char *k;
		json_t *kv;
		if (!json_is_object(map))
			return fail(e, "options.kind.map: must map a value to a kind");
		json_object_foreach(map, k, kv)
		{
			if (!json_is_string(kv))
				return fail(e, "options.kind.map.%.64s: must be a kind", k);
		}
		st->kind_map = json_deep_copy(map);
		json_t *rest = json_deep_copy(v);
		json_object_del(rest, "map");
		int rc = parse_spec("kind", rest, &st->kind, "path required", 1, st, e);
		json_decref(rest);
		return rc;
	}
	return parse_spec("kind", v, &st->kind, "path required", 1, st, e);
}

static int parse_records_text(const char *s, struct jsonmap_state *st, struct opterr *e)
{
	st->has_records = 1;
	if (!s || parse_path(s, 1, &st->records) != 0 || st->records.n == 0 ||
	    st->records.steps[st->records.n - 1].key ||
	    st->records.steps[st->records.n - 1].index != LLONG_MIN)
		return fail(e, "options.records: must be a path ending in [*], e.g. data[*]");
	return HUB_OK;
}

static void spec_free(struct spec *sp)
{
	free(sp->name);
	free(sp->unit);
	path_free(&sp->path);
}

static void free_state(void *state)
{
	struct jsonmap_state *st = state;
	if (!st)
		return;
	path_free(&st->records);
	spec_free(&st->sensor);
	spec_free(&st->time);
	spec_free(&st->kind);
	free(st->kind_fixed);
	json_decref(st->kind_map);
	for (size_t i = 0; i < st->ntags; i++)
		spec_free(&st->tags[i]);
	for (size_t i = 0; i < st->nfields; i++)
		spec_free(&st->fields[i]);
	free(st->tags);
	free(st->fields);
	free(st);
}

/* The route's options as the option engine fills them from the table below; the values that
 * are a path or a mapping are read into the state by init. */
struct jsonmap_options {
	char *records;
	json_t *sensor_id, *time, *kind; /* NULL = not given */
	json_t *tags, *fields;           /* objects, empty when not given */
};

#define OPT(member) HUB_OPT_AT(struct jsonmap_options, member)
static const struct hub_opt option_rows[] = {
	{.path = "records", .type = HUB_OPT_STRING, .at = OPT(records), .flags = HUB_OPT_NULLABLE,
	 .doc = "Path of the array whose items are the records, ending in `[*]` (e.g. "
	        "`data.readings[*]`); none = the document is one record."},
	{.path = "sensor_id", .type = HUB_OPT_JSON, .at = OPT(sensor_id),
	 .doc = "Path of the sensor id, or `{path, required}`; none = the topic's `{sensor_id}`."},
	{.path = "time", .type = HUB_OPT_JSON, .at = OPT(time),
	 .doc = "`{path, format, required}`, format `rfc3339`, `unix_s`, `unix_ms`, `unix_us` or "
	        "`unix_ns`; none = the receive time."},
	{.path = "kind", .type = HUB_OPT_JSON, .at = OPT(kind),
	 .doc = "A kind name, or `{path, map, required}` reading it from the record (map: value "
	        "-> kind)."},
	{.path = "tags", .type = HUB_OPT_MAP, .at = OPT(tags),
	 .doc = "Tag name -> path, or `{path, required}`."},
	{.path = "fields", .type = HUB_OPT_MAP, .at = OPT(fields),
	 .doc = "Field name -> path, or `{path, unit, type, required}`; at least one."},
};
static const struct hub_opt_table options = HUB_OPT_TABLE(option_rows);

/* Reads the options that are paths or mappings, in the table's order. */
static int read_options(const struct jsonmap_options *o, struct jsonmap_state *st,
                        struct opterr *e)
{
	int rc = HUB_OK;
	if (o->records)
		rc = parse_records_text(o->records, st, e);
	if (rc == HUB_OK && o->sensor_id)
		rc = parse_spec("sensor_id", o->sensor_id, &st->sensor, "path required", 1, st, e);
	if (rc == HUB_OK && o->time) {
		if (!json_is_object(o->time) || !json_object_get(o->time, "format"))
			return fail(e, "options.time: must be {path, format[, required]}");
		rc = parse_spec("time", o->time, &st->time, "path format required", 1, st, e);
	}
	if (rc == HUB_OK && o->kind)
		rc = parse_kind(o->kind, st, e);
	if (rc == HUB_OK && json_object_size(o->tags))
		rc = parse_named("tags", o->tags, &st->tags, &st->ntags, "path required", st, e);
	if (rc == HUB_OK)
		rc = parse_named("fields", o->fields, &st->fields, &st->nfields,
		                 "path unit type required", st, e);
	return rc;
}

static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	struct jsonmap_state *st = hub_xcalloc(1, sizeof(*st));
	struct opterr e = {err, errlen};
	(void)schemas;
	int rc = read_options(opts, st, &e);
	if (rc == HUB_OK && st->nfields == 0)
		rc = fail(&e, "options.fields: jsonmap needs at least one field");
	if (rc != HUB_OK) {
		free_state(st);
		return rc;
	}
	*state = st;
	return HUB_OK;
}

/* ---- decoding ---- */

struct ctx {
	const struct jsonmap_state *st;
	json_t *root, *elem;
	struct hub_recset *out;
	struct hub_record *rec;
	size_t idx;
};

static json_t *lookup(const struct ctx *c, const struct spec *sp)
{
	json_t *v = resolve(&sp->path, sp->path.n, c->root, c->elem);
	return json_is_null(v) ? NULL : v;
}

/* Text of a string, integer or boolean value (ids, tags, kinds); NULL for anything else. */
static const char *text_of(struct hub_recset *rs, json_t *v)
{
	char num[32];
	if (json_is_string(v))
		return hub_recset_strndup(rs, json_string_value(v), json_string_length(v));
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (!json_is_integer(v))
		return NULL;
	snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return hub_recset_strdup(rs, num);
}

/* Parses a whole string as a decimal integer (no float detour). */
static int text_int(json_t *v, long long *out)
{
	const char *s = json_string_value(v);
	char *end;
	if (!s || !*s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Parses a whole string as a finite decimal number. */
static int text_double(json_t *v, double *out)
{
	const char *s = json_string_value(v);
	char *end;
	if (!s || !*s || strspn(s, "0123456789+-.eE") != strlen(s))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || !isfinite(*out) ? -1 : 0;
}

static int map_sensor(struct ctx *c, struct hub_reject *rej)
{
	const struct spec *sp = &c->st->sensor;
	json_t *v = sp->set ? lookup(c, sp) : NULL;
	if (!sp->set)
		return HUB_OK;
	if (!v)
		return sp->required ? hub_reject(rej, HUB_R_NO_SENSOR,
		                                 "record %zu: no sensor id at "
		                                 "%.64s",
		                                 c->idx, sp->path.text)
		                    : HUB_OK;
	c->rec->sensor_id = json_is_boolean(v) ? NULL : text_of(c->out, v);
	if (!c->rec->sensor_id)
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "record %zu: sensor id at %.64s is not "
		                  "text or an integer",
		                  c->idx, sp->path.text);
	return HUB_OK;
}

static int map_time(struct ctx *c, struct hub_reject *rej)
{
	const struct spec *sp = &c->st->time;
	json_t *v = sp->set ? lookup(c, sp) : NULL;
	long long n = 0;
	int rc;
	if (!sp->set || (!v && !sp->required))
		return HUB_OK;
	if (!v)
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: no time at %.64s", c->idx,
		                  sp->path.text);
	if (c->st->tfmt == TF_RFC3339)
		rc = json_is_string(v)
		         ? hub_time_parse_rfc3339(json_string_value(v), json_string_length(v),
		                                  &c->rec->ts_ns)
		         : HUB_EPARSE;
	else if (json_is_integer(v) || text_int(v, &n) == 0)
		rc = hub_time_from_int(json_is_integer(v) ? json_integer_value(v) : n,
		                       tfmt_unit[c->st->tfmt], &c->rec->ts_ns);
	else
		rc = HUB_EPARSE; /* a float where an integer is required, or not a number */
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: time at %.64s is not %s%s",
		                  c->idx, sp->path.text,
		                  c->st->tfmt == TF_RFC3339 ? "" : "an integer ",
		                  tfmt_names[c->st->tfmt]);
	c->rec->has_ts = 1;
	return HUB_OK;
}

static int map_kind(struct ctx *c, struct hub_reject *rej)
{
	const struct spec *sp = &c->st->kind;
	if (c->st->kind_fixed) {
		c->rec->kind = hub_recset_strdup(c->out, c->st->kind_fixed);
		return HUB_OK;
	}
	json_t *v = sp->set ? lookup(c, sp) : NULL;
	if (!sp->set || (!v && !sp->required))
		return HUB_OK;
	if (!v)
		return hub_reject(rej, HUB_R_NO_KIND, "record %zu: no kind at %.64s", c->idx,
		                  sp->path.text);
	const char *k = text_of(c->out, v);
	if (k && c->st->kind_map) {
		const char *mapped = json_string_value(json_object_get(c->st->kind_map, k));
		if (!mapped)
			return hub_reject(rej, HUB_R_UNKNOWN_KIND,
			                  "record %zu: kind %.64s is not in "
			                  "kind.map",
			                  c->idx, k);
		k = hub_recset_strdup(c->out, mapped);
	}
	if (!k)
		return hub_reject(rej, HUB_R_NO_KIND, "record %zu: kind at %.64s is not text",
		                  c->idx, sp->path.text);
	c->rec->kind = k;
	return HUB_OK;
}

static int map_tags(struct ctx *c, struct hub_reject *rej)
{
	for (size_t i = 0; i < c->st->ntags; i++) {
		const struct spec *sp = &c->st->tags[i];
		json_t *v = lookup(c, sp);
		if (!v && sp->required)
			return hub_reject(rej, HUB_R_MISSING_TAG,
			                  "record %zu: no tag %.64s at %.64s", c->idx, sp->name,
			                  sp->path.text);
		if (!v)
			continue;
		const char *s = text_of(c->out, v);
		if (!s)
			return hub_reject(rej, HUB_R_BAD_TAG,
			                  "record %zu: tag %.64s at %.64s is not "
			                  "text",
			                  c->idx, sp->name, sp->path.text);
		if (hub_record_set_tag(c->out, c->rec, sp->name, s) != HUB_OK)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	}
	return HUB_OK;
}

/* Adds v as the spec's declared type (or as its JSON type); HUB_EINVAL when it is not one. */
static int add_typed(struct ctx *c, const struct spec *sp, json_t *v)
{
	struct hub_recset *rs = c->out;
	double d = 0;
	long long n = 0;
	enum vtype t = sp->type;
	if (t == VT_AUTO)
		t = json_is_integer(v)   ? VT_INT
		    : json_is_real(v)    ? VT_DOUBLE
		    : json_is_boolean(v) ? VT_BOOL
		    : json_is_string(v)  ? VT_STRING
		                         : VT_AUTO;
	switch (t) {
	case VT_DOUBLE:
		if (json_is_number(v) || text_double(v, &d) == 0)
			return hub_record_add_double(rs, c->rec, sp->name, sp->unit,
			                             json_is_number(v) ? json_number_value(v) : d);
		return HUB_EINVAL;
	case VT_INT:
		if (json_is_integer(v) || text_int(v, &n) == 0)
			return hub_record_add_int(rs, c->rec, sp->name, sp->unit,
			                          json_is_integer(v) ? json_integer_value(v) : n);
		return HUB_EINVAL;
	case VT_BOOL:
		return json_is_boolean(v)
		           ? hub_record_add_bool(rs, c->rec, sp->name, json_is_true(v))
		           : HUB_EINVAL;
	case VT_STRING:
		return json_is_string(v)
		           ? hub_record_add_string(rs, c->rec, sp->name, json_string_value(v),
		                                   json_string_length(v))
		           : HUB_EINVAL;
	default:
		return HUB_EINVAL;
	}
}

static int map_fields(struct ctx *c, struct hub_reject *rej)
{
	for (size_t i = 0; i < c->st->nfields; i++) {
		const struct spec *sp = &c->st->fields[i];
		json_t *v = lookup(c, sp);
		if (!v && sp->required)
			return hub_reject(rej, HUB_R_BAD_FORMAT,
			                  "record %zu: required field %.64s "
			                  "missing at %.64s",
			                  c->idx, sp->name, sp->path.text);
		if (!v)
			continue;
		int rc = add_typed(c, sp, v);
		if (rc == HUB_ENOMEM)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields",
			                  HUB_MAX_FIELDS);
		if (rc != HUB_OK)
			return hub_reject(rej, HUB_R_BAD_TYPE,
			                  "record %zu: field %.64s at %.64s is "
			                  "not %s",
			                  c->idx, sp->name, sp->path.text,
			                  sp->type == VT_AUTO ? "a number, bool or string"
			                                      : vtype_names[sp->type]);
	}
	if (c->rec->nfields == 0)
		return hub_reject(rej, HUB_R_EMPTY, "record %zu: none of the fields is present",
		                  c->idx);
	return HUB_OK;
}

static int map_record(struct ctx *c, struct hub_reject *rej)
{
	c->rec = hub_recset_add(c->out);
	if (!c->rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %zu records", c->out->max);
	int rc = map_sensor(c, rej);
	if (rc == HUB_OK)
		rc = map_time(c, rej);
	if (rc == HUB_OK)
		rc = map_kind(c, rej);
	if (rc == HUB_OK)
		rc = map_tags(c, rej);
	if (rc == HUB_OK)
		rc = map_fields(c, rej);
	return rc;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	const struct jsonmap_state *st = state;
	json_t *root;
	if (hub_adapter_parse_json(msg, JSON_DECODE_ANY, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	struct ctx c = {.st = st, .root = root, .elem = root, .out = out};
	int rc = HUB_OK;
	if (!st->has_records) {
		rc = map_record(&c, rej);
	} else {
		json_t *list = resolve(&st->records, st->records.n - 1, root, root);
		if (!json_is_array(list))
			rc = hub_reject(rej, HUB_R_BAD_FORMAT, "records path %.64s: %s",
			                st->records.text, list ? "not an array" : "missing");
		for (size_t i = 0; rc == HUB_OK && i < json_array_size(list); i++) {
			c.elem = json_array_get(list, i);
			c.idx = i;
			rc = map_record(&c, rej);
		}
	}
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_jsonmap = {
    .name = "jsonmap",
    .doc = "generic JSON: route options map paths to sensor id, time, kind, tags and fields",
    .options = &options,
    .options_size = sizeof(struct jsonmap_options),
    .init = init,
    .free_state = free_state,
    .decode = decode,
};
