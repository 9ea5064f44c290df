#include "yamltree.h"

#include "buf.h"
#include "cityhub/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

struct builder {
	json_t *stack[MAX_DEPTH]; /* open containers; borrowed from root */
	char *keys[MAX_DEPTH];    /* pending key per open mapping (owned) */
	int depth;
	json_t *root;
	const char *name;
	char *err;
	size_t errlen;
};

static int fail(struct builder *b, size_t line, const char *why)
{
	snprintf(b->err, b->errlen, "%s:%zu: %s", b->name, line + 1, why);
	return HUB_EPARSE;
}

static int is_plain_null(const char *s)
{
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

/* Resolves a plain scalar to the JSON value it reads as. */
static json_t *plain_scalar(const char *s)
{
	if (is_plain_null(s))
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	char *end;
	errno = 0;
	long long i = strtoll(s, &end, 10);
	if (end != s && *end == '\0' && errno == 0)
		return json_integer(i);
	if (strpbrk(s, "0123456789") && !strpbrk(s, "xXpP") && strcspn(s, "iInN") == strlen(s)) {
		errno = 0;
		double d = strtod(s, &end);
		if (end != s && *end == '\0' && errno == 0 && isfinite(d))
			return json_real(d);
	}
	return json_string(s);
}

/* Hangs v (a new reference) under the innermost open container. */
static int attach(struct builder *b, json_t *v, size_t line)
{
	if (b->depth == 0) {
		b->root = v;
		return HUB_OK;
	}
	json_t *top = b->stack[b->depth - 1];
	if (json_is_array(top))
		return json_array_append_new(top, v) ? HUB_EPARSE : HUB_OK;
	char *key = b->keys[b->depth - 1];
	b->keys[b->depth - 1] = NULL;
	if (json_object_get(top, key)) {
		json_decref(v);
		free(key);
		return fail(b, line, "duplicate key");
	}
	int rc = json_object_set_new(top, key, v);
	free(key);
	return rc ? fail(b, line, "bad key (not UTF-8?)") : HUB_OK;
}

static int on_scalar(struct builder *b, yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t line = ev->start_mark.line;
	if (b->depth > 0 && json_is_object(b->stack[b->depth - 1]) && !b->keys[b->depth - 1]) {
		b->keys[b->depth - 1] = hub_xstrdup(s);
		return HUB_OK;
	}
	json_t *v =
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s) : json_string(s);
	if (!v)
		return fail(b, line, "scalar is not valid UTF-8");
	return attach(b, v, line);
}

static int on_open(struct builder *b, json_t *c, size_t line)
{
	if (b->depth > 0 && json_is_object(b->stack[b->depth - 1]) && !b->keys[b->depth - 1]) {
		json_decref(c);
		return fail(b, line, "mapping keys must be scalars");
	}
	if (b->depth >= MAX_DEPTH) {
		json_decref(c);
		return fail(b, line, "nesting too deep");
	}
	int rc = attach(b, c, line);
	if (rc)
		return rc;
	b->stack[b->depth] = c;
	b->keys[b->depth] = NULL;
	b->depth++;
	return HUB_OK;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	size_t line = ev->start_mark.line;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_open(b, json_array(), line);
	case YAML_MAPPING_START_EVENT:
		return on_open(b, json_object(), line);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		free(b->keys[b->depth]);
		b->keys[b->depth] = NULL;
		return HUB_OK;
	case YAML_ALIAS_EVENT:
		return fail(b, line, "aliases are not supported");
	default:
		return HUB_OK;
	}
}

static void builder_fini(struct builder *b)
{
	for (int i = 0; i < b->depth; i++)
		free(b->keys[i]);
}

int sim_yaml_parse(const char *text, size_t len, const char *name, json_t **out, char *err,
                   size_t errlen)
{
	struct builder b = {.name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = HUB_OK, done = 0;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && rc == HUB_OK) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = fail(&b, parser.problem_mark.line,
			          parser.problem ? parser.problem : "YAML syntax error");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	builder_fini(&b);
	if (rc == HUB_OK && !b.root)
		b.root = json_object();
	if (rc != HUB_OK) {
		json_decref(b.root);
		return rc;
	}
	*out = b.root;
	return HUB_OK;
}

int sim_yaml_load(const char *path, json_t **out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return HUB_EIO;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	char chunk[8192];
	size_t n;
	while (mem && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		fwrite(chunk, 1, n, mem);
	int bad = ferror(fp) || !mem;
	fclose(fp);
	if (mem)
		fclose(mem);
	if (bad) {
		free(text);
		snprintf(err, errlen, "%s: read error", path);
		return HUB_EIO;
	}
	int rc = sim_yaml_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

void sim_json_merge(json_t *base, json_t *overlay)
{
	const char *key;
	json_t *v;
	json_object_foreach(overlay, key, v)
	{
		json_t *cur = json_object_get(base, key);
		if (json_is_object(cur) && json_is_object(v))
			sim_json_merge(cur, v);
		else
			json_object_set(base, key, v);
	}
}
