/* The YAML reader: libyaml events -> node tree -> JSON (see cityhub/yaml.h). */
#include "cityhub/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_DEPTH 32 /* nesting deeper than this is refused (stack safety) */

/* ---------------------------------------------------------------------------------------- */
/* The node tree */

/* Appends one error line to c->err and returns HUB_EINVAL, so that callers may either stop or
 * note it and go on to find the file's other errors. Only the first line may be cut short. */
int hub_yaml_fail(struct hub_yaml_ctx *c, int line, const char *path, const char *fmt, ...)
{
	char what[512], where[32] = "", text[1024];
	va_list ap;
	size_t len;

	if (c->nerr++ >= HUB_YAML_MAX_ERRORS || !c->err || !c->errlen || c->used + 1 >= c->errlen)
		return HUB_EINVAL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	if (c->file)
		snprintf(text, sizeof(text), "%s%s%s%s%s: %s", c->used ? "\n" : "", c->file, where,
		         path ? ": " : "", path ? path : "", what);
	else /* a value not read from a file: the caller says where */
		snprintf(text, sizeof(text), "%s%s: %s", c->used ? "\n" : "", path ? path : "(top)",
		         what);
	len = strlen(text);
	if (c->used && c->used + len >= c->errlen) {
		c->used = c->errlen; /* whole lines only: write no more */
		return HUB_EINVAL;
	}
	snprintf(c->err + c->used, c->errlen - c->used, "%s", text);
	c->used += len < c->errlen - c->used ? len : c->errlen - c->used - 1;
	return HUB_EINVAL;
}

static struct hub_yaml_node *node_new(enum hub_yaml_kind kind, int line)
{
	struct hub_yaml_node *n = hub_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = line;
	return n;
}

static void node_push(struct hub_yaml_node *n, struct hub_yaml_node *kid)
{
	if (n->n == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 8;
		n->items = hub_xrealloc(n->items, n->cap * sizeof(*n->items));
	}
	n->items[n->n++] = kid;
}

void hub_yaml_free(struct hub_yaml_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		hub_yaml_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

/* YAML 1.2 core schema null: empty, ~, null, Null, NULL (plain only). */
bool hub_yaml_is_null(const struct hub_yaml_node *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->kind != HUB_YAML_SCALAR || n->quoted)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(nulls); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

const char *hub_yaml_kind_noun(const struct hub_yaml_node *n)
{
	if (n->kind == HUB_YAML_MAP)
		return "a mapping";
	if (n->kind == HUB_YAML_SEQ)
		return "a sequence";
	return hub_yaml_is_null(n) ? "null" : "a scalar";
}

/* ---------------------------------------------------------------------------------------- */
/* libyaml events -> tree */

struct reader {
	yaml_parser_t parser;
	struct hub_yaml_ctx *c;
};

static int next_event(struct reader *r, yaml_event_t *ev)
{
	const yaml_parser_t *p = &r->parser;
	const char *problem;
	int line;

	if (yaml_parser_parse(&r->parser, ev))
		return HUB_OK;
	problem = p->problem ? p->problem : "unknown problem";
	/* reader errors (bad UTF-8, I/O) carry no problem mark; use the reader's position */
	line = (int)(p->error == YAML_READER_ERROR ? p->mark.line : p->problem_mark.line) + 1;
	if (p->context)
		return hub_yaml_fail(r->c, line, NULL, "YAML syntax error: %s %s", problem,
		                     p->context);
	return hub_yaml_fail(r->c, line, NULL, "YAML syntax error: %s", problem);
}

static int make_scalar(struct reader *r, const yaml_event_t *ev, struct hub_yaml_node **out)
{
	int line = (int)ev->start_mark.line + 1;
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	if (ev->data.scalar.tag)
		return hub_yaml_fail(r->c, line, NULL, "YAML tags (%s) are not supported",
		                     (const char *)ev->data.scalar.tag);
	if (memchr(value, '\0', len))
		return hub_yaml_fail(r->c, line, NULL, "NUL characters are not allowed in values");
	*out = node_new(HUB_YAML_SCALAR, line);
	(*out)->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	(*out)->text = hub_xmalloc(len + 1);
	memcpy((*out)->text, value, len);
	(*out)->text[len] = '\0';
	return HUB_OK;
}

static int parse_node(struct reader *r, yaml_event_t *ev, int depth, struct hub_yaml_node **out);

/* ev is a mapping or sequence start; reads its items up to the matching end event. */
static int parse_collection(struct reader *r, const yaml_event_t *ev, int depth,
                            struct hub_yaml_node **out)
{
	int line = (int)ev->start_mark.line + 1;
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct hub_yaml_node *n, *kid;
	yaml_event_t kid_ev;
	int rc;

	if (tag)
		return hub_yaml_fail(r->c, line, NULL, "YAML tags (%s) are not supported",
		                     (const char *)tag);
	if (depth >= MAX_DEPTH)
		return hub_yaml_fail(r->c, line, NULL, "nesting deeper than %d levels", MAX_DEPTH);
	n = node_new(map ? HUB_YAML_MAP : HUB_YAML_SEQ, line);
	for (;;) {
		if ((rc = next_event(r, &kid_ev)) != HUB_OK)
			goto fail;
		if (kid_ev.type == end) {
			yaml_event_delete(&kid_ev);
			break;
		}
		if ((rc = parse_node(r, &kid_ev, depth + 1, &kid)) != HUB_OK)
			goto fail;
		node_push(n, kid);
	}
	*out = n;
	return HUB_OK;
fail:
	hub_yaml_free(n);
	return rc;
}

/* Builds the node that starts with ev (consumed). */
static int parse_node(struct reader *r, yaml_event_t *ev, int depth, struct hub_yaml_node **out)
{
	int line = (int)ev->start_mark.line + 1;
	int rc;

	*out = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		rc = make_scalar(r, ev, out);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		rc = parse_collection(r, ev, depth, out);
		break;
	case YAML_ALIAS_EVENT:
		rc = hub_yaml_fail(r->c, line, NULL, "YAML aliases (*%s) are not supported",
		                   (const char *)ev->data.alias.anchor);
		break;
	default:
		rc = hub_yaml_fail(r->c, line, NULL, "YAML syntax error: unexpected event");
		break;
	}
	yaml_event_delete(ev);
	return rc;
}

/* Reads the whole stream: nothing, or exactly one document. *root is NULL for no document. */
static int parse_stream(struct reader *r, struct hub_yaml_node **root)
{
	yaml_event_t ev;
	int rc;

	*root = NULL;
	if ((rc = next_event(r, &ev)) != HUB_OK) /* stream start */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(r, &ev)) != HUB_OK)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT)
		goto done;
	yaml_event_delete(&ev); /* document start */
	if ((rc = next_event(r, &ev)) != HUB_OK || (rc = parse_node(r, &ev, 0, root)) != HUB_OK)
		return rc;
	if ((rc = next_event(r, &ev)) != HUB_OK) /* document end */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(r, &ev)) != HUB_OK)
		return rc;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		rc = hub_yaml_fail(r->c, (int)ev.start_mark.line + 1, NULL,
		                   "only one YAML document is allowed");
		yaml_event_delete(&ev);
		return rc;
	}
done:
	yaml_event_delete(&ev);
	return HUB_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Options: YAML -> JSON, plain scalars resolved with the YAML 1.2 core schema */

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
bool hub_yaml_is_float(const char *s)
{
	size_t n;

	if (*s == '-' || *s == '+')
		s++;
	n = strspn(s, "0123456789");
	s += n;
	if (*s == '.') {
		size_t frac = strspn(s + 1, "0123456789");
		if (n == 0 && frac == 0)
			return false;
		s += 1 + frac;
	} else if (n == 0) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		return all_in(s, "0123456789");
	}
	return *s == '\0';
}

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Resolves a plain scalar; NULL with *why set when it cannot be a JSON value. */
static json_t *resolve_plain(const char *s, const char **why)
{
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const nonfinite[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
	                                        "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
	                                        ".NaN",  ".NAN",  NULL};
	const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
	int base = 0;
	char *end;

	if (is_one_of(s, trues) || is_one_of(s, falses))
		return json_boolean(is_one_of(s, trues));
	if (all_in(digits, "0123456789"))
		base = 10;
	else if (strncmp(s, "0o", 2) == 0 && all_in(s + 2, "01234567"))
		base = 8;
	else if (strncmp(s, "0x", 2) == 0 && all_in(s + 2, "0123456789abcdefABCDEF"))
		base = 16;
	errno = 0;
	if (base) {
		long long v = strtoll(base == 10 ? s : s + 2, &end, base);
		*why = "integer out of range";
		return errno == ERANGE ? NULL : json_integer(v);
	}
	if (hub_yaml_is_float(s)) {
		double d = strtod(s, &end);
		*why = "number out of range";
		return isinf(d) ? NULL : json_real(d);
	}
	*why = "infinity and NaN cannot be represented in JSON";
	if (is_one_of(s, nonfinite))
		return NULL;
	*why = "not valid UTF-8";
	return json_string(s);
}

void hub_yaml_child_path(char *buf, const char *path, const char *key)
{
	if (snprintf(buf, HUB_YAML_PATH_MAX, "%s.%s", path, key) >= HUB_YAML_PATH_MAX)
		strcpy(buf + HUB_YAML_PATH_MAX - 4, "...");
}

/* Index of the first key of map equal to key i (a scalar), or i when there is none before. */
static size_t first_of_key(const struct hub_yaml_node *map, size_t i)
{
	for (size_t j = 0; j < i; j += 2)
		if (map->items[j]->kind == HUB_YAML_SCALAR &&
		    strcmp(map->items[j]->text, map->items[i]->text) == 0)
			return j;
	return i;
}

/* Checks that every key of map is a scalar and appears once; reports every offender. */
int hub_yaml_check_keys(struct hub_yaml_ctx *c, const struct hub_yaml_node *map, const char *path)
{
	char kp[HUB_YAML_PATH_MAX];
	int rc = HUB_OK;

	for (size_t i = 0; i < map->n; i += 2) {
		const struct hub_yaml_node *key = map->items[i];
		size_t j;
		if (key->kind != HUB_YAML_SCALAR) {
			rc = hub_yaml_fail(c, key->line, path[0] ? path : NULL,
			                   "mapping keys must be scalars, not %s",
			                   hub_yaml_kind_noun(key));
			continue;
		}
		if ((j = first_of_key(map, i)) == i)
			continue;
		if (path[0])
			hub_yaml_child_path(kp, path, key->text);
		else
			snprintf(kp, sizeof(kp), "%s", key->text);
		rc = hub_yaml_fail(c, key->line, kp, "duplicate key (first set on line %d)",
		                   map->items[j]->line);
	}
	return rc;
}

static int map_to_json(struct hub_yaml_ctx *c, const struct hub_yaml_node *n, const char *path,
                       json_t **out)
{
	char kp[HUB_YAML_PATH_MAX];
	json_t *obj = json_object(), *v;
	int rc;

	if ((rc = hub_yaml_check_keys(c, n, path)) != HUB_OK)
		goto fail;
	for (size_t i = 0; i < n->n; i += 2) {
		hub_yaml_child_path(kp, path, n->items[i]->text);
		if ((rc = hub_yaml_to_json(c, n->items[i + 1], kp, &v)) != HUB_OK)
			goto fail;
		json_object_set_new(obj, n->items[i]->text, v);
	}
	*out = obj;
	return HUB_OK;
fail:
	json_decref(obj);
	return rc;
}

int hub_yaml_to_json(struct hub_yaml_ctx *c, const struct hub_yaml_node *n, const char *path,
                     json_t **out)
{
	char ip[HUB_YAML_PATH_MAX];
	const char *why = NULL;
	json_t *arr, *v;
	int rc;

	*out = NULL;
	if (n->kind == HUB_YAML_MAP)
		return map_to_json(c, n, path, out);
	if (n->kind == HUB_YAML_SCALAR) {
		*out = n->quoted             ? json_string(n->text)
		       : hub_yaml_is_null(n) ? json_null()
		                             : resolve_plain(n->text, &why);
		if (!*out)
			return hub_yaml_fail(c, n->line, path, "%s", why ? why : "not valid UTF-8");
		return HUB_OK;
	}
	arr = json_array();
	for (size_t i = 0; i < n->n; i++) {
		snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
		if ((rc = hub_yaml_to_json(c, n->items[i], ip, &v)) != HUB_OK) {
			json_decref(arr);
			return rc;
		}
		json_array_append_new(arr, v);
	}
	*out = arr;
	return HUB_OK;
}

/* Parses the stream set as r's input into *root; frees a partial tree on error. */
static int parse_input(struct reader *r, struct hub_yaml_node **root)
{
	int rc = parse_stream(r, root);

	if (rc != HUB_OK) {
		hub_yaml_free(*root);
		*root = NULL;
	}
	yaml_parser_delete(&r->parser);
	return rc;
}

int hub_yaml_read_file(struct hub_yaml_ctx *c, const char *path, struct hub_yaml_node **root)
{
	struct reader r = {.c = c};
	FILE *fp = fopen(path, "rb");
	struct stat st;
	int rc;

	*root = NULL;
	if (!fp)
		return hub_yaml_fail(c, 0, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return hub_yaml_fail(c, 0, NULL, "is a directory, not a config file");
	}
	if (!yaml_parser_initialize(&r.parser)) {
		fclose(fp);
		return hub_yaml_fail(c, 0, NULL, "cannot initialize the YAML parser");
	}
	yaml_parser_set_input_file(&r.parser, fp);
	rc = parse_input(&r, root);
	fclose(fp);
	return rc;
}

int hub_yaml_read_string(struct hub_yaml_ctx *c, const char *text, size_t len,
                         struct hub_yaml_node **root)
{
	struct reader r = {.c = c};

	*root = NULL;
	if (!yaml_parser_initialize(&r.parser))
		return hub_yaml_fail(c, 0, NULL, "cannot initialize the YAML parser");
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	return parse_input(&r, root);
}

void hub_yaml_fail_summary(struct hub_yaml_ctx *c)
{
	if (c->nerr > HUB_YAML_MAX_ERRORS && c->err && c->used + 1 < c->errlen)
		snprintf(c->err + c->used, c->errlen - c->used, "\n%s: %d more errors not shown",
		         c->file, c->nerr - HUB_YAML_MAX_ERRORS);
}

int hub_yaml_read_json(const char *path, json_t **out, char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.file = path, .err = err, .errlen = errlen};
	struct hub_yaml_node *root = NULL;
	int rc = hub_yaml_read_file(&c, path, &root);

	*out = NULL;
	if (rc == HUB_OK && !root)
		rc = hub_yaml_fail(&c, 0, NULL, "the file is empty");
	if (rc == HUB_OK)
		rc = hub_yaml_to_json(&c, root, "", out);
	hub_yaml_free(root);
	return rc;
}

bool hub_yaml_key_bindable(const struct hub_yaml_node *map, size_t i)
{
	return map->items[i]->kind == HUB_YAML_SCALAR && first_of_key(map, i) == i;
}

/* A scalar node of text (copied); quoted says it is a string, not a plain scalar. */
static struct hub_yaml_node *scalar_node(const char *text, int quoted, int line)
{
	struct hub_yaml_node *n = node_new(HUB_YAML_SCALAR, line);
	n->quoted = quoted;
	n->text = hub_xstrdup(text);
	return n;
}

struct hub_yaml_node *hub_yaml_from_json(const json_t *v, int line)
{
	char num[64];
	struct hub_yaml_node *n;
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		n = node_new(HUB_YAML_MAP, line);
		json_object_foreach((json_t *)v, key, item) {
			node_push(n, scalar_node(key, 1, line));
			node_push(n, hub_yaml_from_json(item, line));
		}
		return n;
	case JSON_ARRAY:
		n = node_new(HUB_YAML_SEQ, line);
		json_array_foreach(v, i, item)
			node_push(n, hub_yaml_from_json(item, line));
		return n;
	case JSON_STRING:
		return scalar_node(json_string_value(v), 1, line);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return scalar_node(num, 0, line);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return scalar_node(num, 0, line);
	case JSON_TRUE:
		return scalar_node("true", 0, line);
	case JSON_FALSE:
		return scalar_node("false", 0, line);
	default:
		return scalar_node("null", 0, line);
	}
}
