/* lp_encode: reads records as JSON lines on stdin and writes each one's line protocol to stdout,
 * or "ERR <code>" when the encoder (or the JSON reader) refuses it. A test helper.
 *
 * {"kind": "m", "sensor_id": "s", "tags": {"k": "v"}, "ts_ns": 1,
 *  "fields": {"name": {"type": "double|int|bool|string", "v": ...}}}
 *
 * kind and sensor_id may be null or absent (left NULL); tags may also be an array of [key,
 * value] pairs and fields an array of [name, {"type": .., "v": ..}] pairs, so that duplicates
 * can be expressed. A double's v may be a string for strtod ("nan", "-inf", "-0"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cityhub/error.h"
#include "lineproto.h"

static const char *opt_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)); /* NULL unless a string */
}

static int set_double(struct hub_value *v, json_t *j)
{
	v->type = HUB_FT_DOUBLE;
	if (json_is_number(j)) {
		v->u.d = json_number_value(j);
		return HUB_OK;
	}
	const char *s = json_string_value(j);
	if (!s)
		return HUB_EPARSE;
	char *end;
	v->u.d = strtod(s, &end);
	return end != s && *end == '\0' ? HUB_OK : HUB_EPARSE;
}

static int set_value(struct hub_value *v, json_t *spec)
{
	const char *type = opt_str(spec, "type");
	json_t *j = json_object_get(spec, "v");
	if (!type || !j)
		return HUB_EPARSE;
	if (strcmp(type, "double") == 0)
		return set_double(v, j);
	if (strcmp(type, "int") == 0 && json_is_integer(j)) {
		v->type = HUB_FT_INT;
		v->u.i = json_integer_value(j);
		return HUB_OK;
	}
	if (strcmp(type, "bool") == 0 && json_is_boolean(j)) {
		v->type = HUB_FT_BOOL;
		v->u.b = json_is_true(j);
		return HUB_OK;
	}
	if (strcmp(type, "string") == 0 && json_is_string(j)) {
		v->type = HUB_FT_STRING;
		v->u.s = json_string_value(j);
		return HUB_OK;
	}
	return HUB_EPARSE;
}

/* Calls fn(key, value) for every member of an object or [key, value] pair of an array. */
static int each_pair(json_t *j, int (*fn)(struct hub_record *, const char *, json_t *),
		     struct hub_record *rec)
{
	if (!j)
		return HUB_OK;
	if (json_is_object(j)) {
		const char *key;
		json_t *val;
		json_object_foreach(j, key, val) {
			if (fn(rec, key, val) != HUB_OK)
				return HUB_EPARSE;
		}
		return HUB_OK;
	}
	if (!json_is_array(j))
		return HUB_EPARSE;
	size_t i;
	json_t *pair;
	json_array_foreach(j, i, pair) {
		const char *key = json_string_value(json_array_get(pair, 0));
		if (!key || fn(rec, key, json_array_get(pair, 1)) != HUB_OK)
			return HUB_EPARSE;
	}
	return HUB_OK;
}

static int add_tag(struct hub_record *rec, const char *key, json_t *val)
{
	if (rec->ntags >= HUB_MAX_TAGS || !(json_is_string(val) || json_is_null(val)))
		return HUB_EPARSE;
	rec->tags[rec->ntags].key = key;
	rec->tags[rec->ntags].value = json_string_value(val);
	rec->ntags++;
	return HUB_OK;
}

static int add_field(struct hub_record *rec, const char *name, json_t *spec)
{
	if (rec->nfields >= HUB_MAX_FIELDS)
		return HUB_EPARSE;
	struct hub_field *f = &rec->fields[rec->nfields++];
	f->name = name;
	f->unit = NULL;
	return set_value(&f->v, spec);
}

/* Fills rec from a parsed JSON record; strings are borrowed from root. */
static int to_record(json_t *root, struct hub_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (!json_is_object(root))
		return HUB_EPARSE;
	rec->kind = opt_str(root, "kind");
	rec->sensor_id = opt_str(root, "sensor_id");
	json_t *ts = json_object_get(root, "ts_ns");
	if (ts && !json_is_integer(ts))
		return HUB_EPARSE;
	rec->ts_ns = ts ? json_integer_value(ts) : 0;
	rec->has_ts = ts != NULL;
	if (each_pair(json_object_get(root, "tags"), add_tag, rec) != HUB_OK)
		return HUB_EPARSE;
	return each_pair(json_object_get(root, "fields"), add_field, rec);
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct hub_buf out = { 0 };
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n == 0 || line[0] == '\n')
			continue;
		json_error_t jerr;
		json_t *root = json_loadb(line, (size_t)n, 0, &jerr);
		struct hub_record rec;
		int rc = root ? to_record(root, &rec) : HUB_EPARSE;
		hub_buf_clear(&out);
		if (rc == HUB_OK)
			rc = hub_lp_encode(&out, &rec);
		if (rc == HUB_OK)
			fwrite(out.data, 1, out.len, stdout);
		else
			printf("ERR %d\n", rc);
		json_decref(root);
	}
	free(line);
	hub_buf_fini(&out);
	if (fflush(stdout) != 0 || ferror(stdin)) {
		fprintf(stderr, "lp_encode: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
