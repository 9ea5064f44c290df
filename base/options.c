/* The option engine: table rows bind YAML nodes into structs (see cityhub/options.h). */
#include "cityhub/options.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

bool hub_options_is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Numbers */

struct unit {
	const char *suffix;
	int64_t mult;
};

static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit size_units[] = {{"", 1},
                                         {"B", 1},
                                         {"kB", 1000},
                                         {"KB", 1000},
                                         {"MB", 1000000},
                                         {"GB", 1000000000},
                                         {"TB", INT64_C(1000000000000)},
                                         {"KiB", HUB_KIB},
                                         {"MiB", HUB_MIB},
                                         {"GiB", HUB_GIB},
                                         {"TiB", HUB_TIB},
                                         {NULL, 0}};
static const struct unit duration_units[] = {{"", 1},        {"ms", 1},       {"s", HUB_SEC},
                                             {"m", HUB_MIN}, {"h", HUB_HOUR}, {NULL, 0}};

/* Parses "<integer><suffix>": HUB_EPARSE if malformed, HUB_ERANGE if it overflows int64. */
static int parse_scaled(const char *s, const struct unit *units, int64_t *out)
{
	char *end;
	long long v;

	if (!(*s >= '0' && *s <= '9') && *s != '-' && *s != '+')
		return HUB_EPARSE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || !(end[-1] >= '0' && end[-1] <= '9'))
		return HUB_EPARSE;
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcmp(end, u->suffix) != 0)
			continue;
		if (errno == ERANGE || __builtin_mul_overflow((int64_t)v, u->mult, out))
			return HUB_ERANGE;
		return HUB_OK;
	}
	return HUB_EPARSE;
}

static const struct unit *units_of(enum hub_opt_type type)
{
	if (type == HUB_OPT_BYTES)
		return size_units;
	if (type == HUB_OPT_DURATION)
		return duration_units;
	return plain_units;
}

/* Writes v the way the reference shows it: 1GiB, 30s, 2m, 1000. */
void hub_options_format(enum hub_opt_type type, int64_t v, char *buf, size_t len)
{
	static const struct unit big_sizes[] = {
	    {"TiB", HUB_TIB}, {"GiB", HUB_GIB}, {"MiB", HUB_MIB}, {"KiB", HUB_KIB}, {NULL, 0}};
	static const struct unit big_durations[] = {
	    {"h", HUB_HOUR}, {"m", HUB_MIN}, {"s", HUB_SEC}, {NULL, 0}};
	const struct unit *u = type == HUB_OPT_BYTES      ? big_sizes
	                       : type == HUB_OPT_DURATION ? big_durations
	                                                  : plain_units + 1;

	for (; u->suffix; u++) {
		if (v != 0 && v % u->mult == 0) {
			snprintf(buf, len, "%lld%s", (long long)(v / u->mult), u->suffix);
			return;
		}
	}
	snprintf(buf, len, "%lld%s", (long long)v, type == HUB_OPT_DURATION ? "ms" : "");
}

static void store_int(void *p, size_t width, int64_t v)
{
	if (width == sizeof(int64_t)) {
		memcpy(p, &v, sizeof(v));
	} else if (width == sizeof(int)) {
		int iv = (int)v;
		memcpy(p, &iv, sizeof(iv));
	} else {
		abort(); /* a table row with an unsupported member type */
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Setting one value */

static const char *type_noun(enum hub_opt_type type)
{
	static const char *const nouns[] = {
	    [HUB_OPT_STRING] = "a string",
	    [HUB_OPT_INT] = "an integer",
	    [HUB_OPT_BOOL] = "true or false",
	    [HUB_OPT_ENUM] = "a name",
	    [HUB_OPT_BYTES] = "a size such as 65536, 64KiB or 100MB",
	    [HUB_OPT_DURATION] = "a duration such as 250, 250ms, 5s or 2m",
	    [HUB_OPT_MAP] = "a mapping",
	    [HUB_OPT_DOUBLE] = "a number",
	    [HUB_OPT_LIST] = "a sequence of strings",
	    [HUB_OPT_JSON] = "a value",
	};
	return nouns[type];
}

static void join_names(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
}

static int set_string(struct hub_yaml_ctx *c, const struct hub_opt *k,
                      const struct hub_yaml_node *v, const char *path, char **p)
{
	const char *s = hub_yaml_is_null(v) ? "" : v->text;
	const char *why;
	char list[256];

	if (!*s && (k->flags & HUB_OPT_NULLABLE)) {
		free(*p);
		*p = NULL;
		return HUB_OK;
	}
	if ((int64_t)strlen(s) < k->min)
		return hub_yaml_fail(c, v->line, path, "must not be empty");
	if (k->names && !hub_options_is_one_of(s, k->names)) {
		join_names(k->names, list, sizeof(list));
		return hub_yaml_fail(c, v->line, path, "must be one of %s", list);
	}
	if (k->check && (why = k->check->fn(s)))
		return hub_yaml_fail(c, v->line, path, "%s", why);
	free(*p);
	*p = hub_xstrdup(s);
	return HUB_OK;
}

static int set_number(struct hub_yaml_ctx *c, const struct hub_opt *k,
                      const struct hub_yaml_node *v, const char *path, void *p)
{
	char lo[32], hi[32], list[256];
	int64_t n = 0;
	int rc = parse_scaled(v->text, units_of(k->type), &n);

	if (rc == HUB_EPARSE)
		return hub_yaml_fail(c, v->line, path, "expected %s, got \"%.40s\"",
		                     type_noun(k->type), v->text);
	if (k->names) {
		hub_options_format(HUB_OPT_INT, n, lo, sizeof(lo));
		if (rc != HUB_OK || !hub_options_is_one_of(lo, k->names)) {
			join_names(k->names, list, sizeof(list));
			return hub_yaml_fail(c, v->line, path, "must be one of %s", list);
		}
	}
	if (rc != HUB_OK || n < k->min || n > k->max) {
		hub_options_format(k->type, k->min, lo, sizeof(lo));
		hub_options_format(k->type, k->max, hi, sizeof(hi));
		return hub_yaml_fail(c, v->line, path, "must be between %s and %s", lo, hi);
	}
	store_int(p, k->at.width, n);
	return HUB_OK;
}

static int set_named(struct hub_yaml_ctx *c, const struct hub_opt *k, const struct hub_yaml_node *v,
                     const char *path, void *p)
{
	static const char *const bools[] = {"false", "true", NULL};
	const char *const *names = k->type == HUB_OPT_BOOL ? bools : k->names;
	char list[256];

	for (size_t i = 0; names[i]; i++) {
		if (strcmp(v->text, names[i]) == 0) {
			store_int(p, k->at.width, (int64_t)i);
			return HUB_OK;
		}
	}
	if (k->type == HUB_OPT_BOOL)
		return hub_yaml_fail(c, v->line, path, "expected true or false, got \"%.40s\"",
		                     v->text);
	join_names(names, list, sizeof(list));
	return hub_yaml_fail(c, v->line, path, "must be one of %s", list);
}

static int set_options(struct hub_yaml_ctx *c, const struct hub_yaml_node *v, const char *path,
                       json_t **p)
{
	json_t *obj = NULL;
	int rc;

	if (hub_yaml_is_null(v))
		obj = json_object();
	else if (v->kind != HUB_YAML_MAP)
		return hub_yaml_fail(c, v->line, path, "expected a mapping, got %s",
		                     hub_yaml_kind_noun(v));
	else if ((rc = hub_yaml_to_json(c, v, path, &obj)) != HUB_OK)
		return rc;
	json_decref(*p);
	*p = obj;
	return HUB_OK;
}

static int set_double(struct hub_yaml_ctx *c, const struct hub_yaml_node *v, const char *path,
                      double *p)
{
	char *end;
	errno = 0;
	double d = strtod(v->text, &end);
	if (end == v->text || *end || !hub_yaml_is_float(v->text) || errno == ERANGE ||
	    !isfinite(d))
		return hub_yaml_fail(c, v->line, path, "expected a number, got \"%.40s\"", v->text);
	*p = d;
	return HUB_OK;
}

static void free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

/* A sequence of non-empty strings, or one string alone: a NULL-terminated array. */
static int set_list(struct hub_yaml_ctx *c, const struct hub_yaml_node *v, const char *path,
                    char ***p)
{
	const struct hub_yaml_node *const *items =
	    v->kind == HUB_YAML_SEQ ? (const struct hub_yaml_node *const *)v->items : &v;
	size_t n = v->kind == HUB_YAML_SEQ ? v->n : 1;
	if (v->kind == HUB_YAML_MAP)
		return hub_yaml_fail(c, v->line, path,
		                     "expected a sequence of strings, got a mapping");
	char **list = hub_xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		if (items[i]->kind != HUB_YAML_SCALAR || hub_yaml_is_null(items[i]) ||
		    !items[i]->text[0]) {
			free_list(list);
			return hub_yaml_fail(c, items[i]->line, path,
			                     "item %zu: expected a non-empty string", i);
		}
		list[i] = hub_xstrdup(items[i]->text);
	}
	free_list(*p);
	*p = list;
	return HUB_OK;
}

/* Binds value node v to key k of the struct at base; path names it in messages. */
static int set_value(struct hub_yaml_ctx *c, const struct hub_opt *k, const struct hub_yaml_node *v,
                     const char *path, void *base)
{
	void *p = (char *)base + k->at.off;

	if (k->type == HUB_OPT_MAP)
		return set_options(c, v, path, p);
	if (k->type == HUB_OPT_LIST)
		return set_list(c, v, path, p);
	if (k->type == HUB_OPT_JSON) {
		json_t *j;
		int rc = hub_yaml_to_json(c, v, path, &j);
		if (rc == HUB_OK) {
			json_decref(*(json_t **)p);
			*(json_t **)p = j;
		}
		return rc;
	}
	if (k->type == HUB_OPT_DOUBLE && v->kind == HUB_YAML_SCALAR && !hub_yaml_is_null(v))
		return set_double(c, v, path, p);
	if (v->kind != HUB_YAML_SCALAR || (hub_yaml_is_null(v) && k->type != HUB_OPT_STRING)) {
		char list[256];
		if (!k->names)
			return hub_yaml_fail(c, v->line, path, "expected %s, got %s",
			                     type_noun(k->type), hub_yaml_kind_noun(v));
		join_names(k->names, list, sizeof(list));
		return hub_yaml_fail(c, v->line, path, "expected one of %s, got %s", list,
		                     hub_yaml_kind_noun(v));
	}
	switch (k->type) {
	case HUB_OPT_STRING:
		return set_string(c, k, v, path, p);
	case HUB_OPT_BOOL:
	case HUB_OPT_ENUM:
		return set_named(c, k, v, path, p);
	default:
		return set_number(c, k, v, path, p);
	}
}

/* Sets key name of table t to text, as if it were written quoted in a file. */
int hub_options_set_text(struct hub_yaml_ctx *c, const struct hub_opt_table *t, const char *name,
                         const char *text, void *base)
{
	struct hub_yaml_node n = {.kind = HUB_YAML_SCALAR, .quoted = 1, .text = (char *)text};

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].path, name) == 0)
			return set_value(c, &t->keys[i], &n, name, base);
	abort(); /* a default names a key that is not in the table */
}

int hub_options_defaults(struct hub_yaml_ctx *c, const struct hub_opt_table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct hub_opt *k = &t->keys[i];
		int rc;
		if (k->type == HUB_OPT_MAP) {
			*(json_t **)((char *)base + k->at.off) = json_object();
			continue;
		}
		if (k->type == HUB_OPT_DOUBLE && !k->def) {
			*(double *)((char *)base + k->at.off) = NAN;
			continue;
		}
		if (k->def && (rc = hub_options_set_text(c, t, k->path, k->def, base)) != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

void hub_options_free(const struct hub_opt_table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		void *p = (char *)base + t->keys[i].at.off;
		if (t->keys[i].type == HUB_OPT_STRING) {
			free(*(char **)p);
			*(char **)p = NULL;
		} else if (t->keys[i].type == HUB_OPT_MAP || t->keys[i].type == HUB_OPT_JSON) {
			json_decref(*(json_t **)p);
			*(json_t **)p = NULL;
		} else if (t->keys[i].type == HUB_OPT_LIST) {
			free_list(*(char ***)p);
			*(char ***)p = NULL;
		}
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Binding mappings */

/* Finds key name in t: rows are "<section>.<name>" when section is non-NULL, else "<name>". */
static const struct hub_opt *find_key(const struct hub_opt_table *t, const char *section,
                                      const char *name, size_t *idx)
{
	size_t slen = section ? strlen(section) : 0;

	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->keys[i].path;
		if (section && (strncmp(p, section, slen) != 0 || p[slen] != '.'))
			continue;
		if (strcmp(section ? p + slen + 1 : p, name) == 0) {
			*idx = i;
			return &t->keys[i];
		}
	}
	return NULL;
}

/* Binds mapping map into base using rows of t, reporting every bad key; lines[i] gets the line
 * of row i when set, negated when its value was refused (cross-key checks then skip it). */
int hub_options_bind(struct hub_yaml_ctx *c, const struct hub_yaml_node *map,
                     const struct hub_opt_table *t, const char *section, const char *path,
                     void *base, int *lines)
{
	char kp[HUB_YAML_PATH_MAX];
	const struct hub_opt *k;
	size_t idx;
	int rc;

	if (hub_yaml_is_null(map))
		return HUB_OK;
	if (map->kind != HUB_YAML_MAP)
		return hub_yaml_fail(c, map->line, path, "expected a mapping, got %s",
		                     hub_yaml_kind_noun(map));
	rc = hub_yaml_check_keys(c, map, path);
	for (size_t i = 0; i < map->n; i += 2) {
		const struct hub_yaml_node *key = map->items[i];
		if (!hub_yaml_key_bindable(map, i))
			continue;
		hub_yaml_child_path(kp, path, key->text);
		if (!(k = find_key(t, section, key->text, &idx))) {
			rc = hub_yaml_fail(c, key->line, kp, "unknown key");
			continue;
		}
		lines[idx] = key->line;
		if (set_value(c, k, map->items[i + 1], kp, base) != HUB_OK) {
			lines[idx] = -key->line;
			rc = HUB_EINVAL;
		}
	}
	return rc;
}

/* Reports every required key that is not given (a key given with a bad value is reported
 * as such, not as missing). */
int hub_options_check_required(struct hub_yaml_ctx *c, const struct hub_opt_table *t,
                               const char *path, const void *base, int line, const int *lines)
{
	char kp[HUB_YAML_PATH_MAX];
	int rc = HUB_OK;

	for (size_t i = 0; i < t->n; i++) {
		if (!(t->keys[i].flags & HUB_OPT_REQUIRED) || lines[i] ||
		    *(char *const *)((const char *)base + t->keys[i].at.off))
			continue;
		hub_yaml_child_path(kp, path, t->keys[i].path);
		rc = hub_yaml_fail(c, line, kp, "required key is missing");
	}
	return rc;
}

/* The line of row name, negative when its value was refused, 0 when not given. */
int hub_options_line(const int *lines, const struct hub_opt_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].path, name) == 0)
			return lines[i];
	return 0;
}

static int bind_item(struct hub_yaml_ctx *c, const struct hub_opt_list *ls,
                     const struct hub_yaml_node *item, char *arr, size_t i)
{
	char path[HUB_YAML_PATH_MAX];
	int lines[HUB_OPT_MAX_KEYS] = {0};
	void *base = arr + i * ls->size;
	int rc;

	snprintf(path, sizeof(path), "%s[%zu]", ls->name, i);
	memcpy((char *)base + ls->line_off, &item->line, sizeof(int));
	if ((rc = hub_options_defaults(c, ls->t, base)) != HUB_OK)
		return rc;
	if (item->kind != HUB_YAML_MAP)
		return hub_yaml_fail(c, item->line, path, "expected a mapping, got %s",
		                     hub_yaml_kind_noun(item));
	rc = hub_options_bind(c, item, ls->t, NULL, path, base, lines);
	if (hub_options_check_required(c, ls->t, path, base, item->line, lines) != HUB_OK)
		rc = HUB_EINVAL;
	/* checks across keys only make sense once every key of the item is good */
	if (rc == HUB_OK && ls->check)
		return ls->check(c, item, arr, i, path, lines);
	return rc;
}

/* Binds seq into a new array (*out, *n), every item even after a bad one (hub_config_free
 * frees them all). */
int hub_options_bind_list(struct hub_yaml_ctx *c, const struct hub_opt_list *ls,
                          const struct hub_yaml_node *seq, void **out, size_t *n)
{
	char *arr;
	int rc = HUB_OK;

	*out = NULL;
	*n = 0;
	if (seq->kind != HUB_YAML_SEQ)
		return hub_yaml_fail(
		    c, seq->line, ls->name, "expected a sequence of mappings%s, got %s",
		    ls->min_items ? "" : " ([] for none)", hub_yaml_kind_noun(seq));
	if (seq->n < ls->min_items)
		return hub_yaml_fail(c, seq->line, ls->name, "%s", ls->too_few);
	if (seq->n == 0)
		return HUB_OK;
	arr = hub_xcalloc(seq->n, ls->size);
	for (size_t i = 0; i < seq->n; i++)
		if (bind_item(c, ls, seq->items[i], arr, i) != HUB_OK)
			rc = HUB_EINVAL;
	*out = arr;
	*n = seq->n;
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The reference */

static const char *type_name(enum hub_opt_type type)
{
	static const char *const names[] = {
	    [HUB_OPT_STRING] = "string", [HUB_OPT_INT] = "integer",
	    [HUB_OPT_BOOL] = "bool",     [HUB_OPT_ENUM] = "enum",
	    [HUB_OPT_BYTES] = "size",    [HUB_OPT_DURATION] = "duration",
	    [HUB_OPT_MAP] = "mapping",   [HUB_OPT_DOUBLE] = "number",
	    [HUB_OPT_LIST] = "list",     [HUB_OPT_JSON] = "YAML",
	};
	return names[type];
}

static void doc_names(struct hub_buf *b, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		hub_buf_printf(b, "%s`%s`", i ? ", " : "", names[i]);
}

static void doc_range(struct hub_buf *b, const struct hub_opt *k)
{
	char lo[32], hi[32];

	if (k->type == HUB_OPT_BOOL) {
		doc_names(b, (const char *const[]){"true", "false", NULL});
	} else if (k->names) {
		doc_names(b, k->names);
	} else if (k->type == HUB_OPT_STRING || k->type == HUB_OPT_MAP ||
	           k->type == HUB_OPT_DOUBLE || k->type == HUB_OPT_LIST ||
	           k->type == HUB_OPT_JSON) {
		if (k->check)
			hub_buf_puts(b, k->check->doc);
		else if (k->min > 0)
			hub_buf_puts(b, "non-empty");
	} else {
		hub_options_format(k->type, k->min, lo, sizeof(lo));
		hub_options_format(k->type, k->max, hi, sizeof(hi));
		hub_buf_printf(b, "%s .. %s", lo, hi);
	}
}

static void doc_default(struct hub_buf *b, const struct hub_opt *k)
{
	if (k->type == HUB_OPT_MAP)
		hub_buf_puts(b, "`{}`");
	else if (k->type == HUB_OPT_LIST)
		hub_buf_puts(b, "`[]`");
	else if (k->flags & HUB_OPT_REQUIRED)
		hub_buf_puts(b, "required");
	else if (!k->def)
		hub_buf_puts(b, "none");
	else if (!k->def[0])
		hub_buf_puts(b, "`\"\"`");
	else
		hub_buf_printf(b, "`%s`", k->def);
}

/* Writes one table row; prefix is prepended to the key name (e.g. "routes[]."). */
static void doc_row(FILE *out, const struct hub_opt *k, const char *prefix)
{
	struct hub_buf b = {0};

	hub_buf_printf(&b, "| `%s%s` | %s | ", prefix, k->path, type_name(k->type));
	doc_default(&b, k);
	hub_buf_puts(&b, " | ");
	doc_range(&b, k);
	hub_buf_printf(&b, " | %s |\n", k->doc);
	fputs(b.data, out);
	hub_buf_fini(&b);
}

void hub_options_doc_header(FILE *out, const char *title, const char *text)
{
	fprintf(out, "### `%s`\n\n%s\n\n", title, text);
	fputs("| Key | Type | Default | Range | Description |\n", out);
	fputs("|---|---|---|---|---|\n", out);
}

void hub_options_doc_rows(FILE *out, const struct hub_opt_table *t, const char *section,
                          const char *prefix)
{
	size_t len = section ? strlen(section) : 0;

	for (size_t i = 0; i < t->n; i++)
		if (!section ||
		    (strncmp(t->keys[i].path, section, len) == 0 && t->keys[i].path[len] == '.'))
			doc_row(out, &t->keys[i], prefix);
}

int hub_options_bind_all(struct hub_yaml_ctx *c, const struct hub_yaml_node *map,
                         const struct hub_opt_table *t, const char *path, void *base, int line)
{
	int lines[HUB_OPT_MAX_KEYS] = {0};
	int rc = hub_options_defaults(c, t, base);

	if (rc != HUB_OK)
		return rc;
	if (map)
		rc = hub_options_bind(c, map, t, NULL, path, base, lines);
	if (hub_options_check_required(c, t, path, base, line, lines) != HUB_OK)
		rc = HUB_EINVAL;
	return rc;
}

const struct hub_yaml_node *hub_options_get(const struct hub_yaml_node *map, const char *name)
{
	if (!map || map->kind != HUB_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i += 2)
		if (map->items[i]->kind == HUB_YAML_SCALAR && strcmp(map->items[i]->text, name) == 0)
			return map->items[i + 1];
	return NULL;
}

int hub_options_get_key_line(const struct hub_yaml_node *map, const char *name)
{
	if (!map || map->kind != HUB_YAML_MAP)
		return 0;
	for (size_t i = 0; i < map->n; i += 2)
		if (map->items[i]->kind == HUB_YAML_SCALAR && strcmp(map->items[i]->text, name) == 0)
			return map->items[i]->line;
	return 0;
}
