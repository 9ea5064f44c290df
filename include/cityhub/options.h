/* The declarative option engine: a table of rows, one per key (path, type, place in a struct,
 * default, range, doc), binds YAML mappings (cityhub/yaml.h) into a C struct. Loading, defaults,
 * freeing and the generated reference (`cityhub --config-doc`) all walk the same rows; every bad
 * key is reported as "file:line: path: what" through a struct hub_yaml_ctx. Tables are const
 * data, so any thread may use them; a bound struct belongs to the caller. */
#ifndef CITYHUB_OPTIONS_H
#define CITYHUB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cityhub/yaml.h"

#define HUB_OPT_MAX_KEYS 64 /* rows per table */

enum hub_opt_type {
	HUB_OPT_STRING,   /* char *, owned */
	HUB_OPT_INT,      /* int or int64_t in [min, max] */
	HUB_OPT_BOOL,     /* int 0/1 */
	HUB_OPT_ENUM,     /* int: the index of the value in names */
	HUB_OPT_BYTES,    /* int or int64_t: 65536, 64KiB, 100MB */
	HUB_OPT_DURATION, /* int or int64_t milliseconds: 250, 250ms, 5s, 2m, 1h */
	HUB_OPT_MAP,      /* json_t * object (never NULL once defaults are applied), owned */
	HUB_OPT_DOUBLE,   /* double; NAN when not given and without default */
	HUB_OPT_LIST,     /* char ** NULL-terminated list of non-empty strings, owned */
	HUB_OPT_JSON,     /* json_t * any value, owned; NULL when not given */
};

enum {
	HUB_OPT_NULLABLE = 1, /* strings: empty or null -> NULL */
	HUB_OPT_REQUIRED = 2, /* no default: must be given */
};

/* An extra check on a string value: returns what is wrong, or NULL. */
struct hub_opt_check {
	const char *(*fn)(const char *s);
	const char *doc; /* the rule, for the reference */
};

/* Where a value lives in its struct: HUB_OPT_AT(struct x, member). */
struct hub_opt_at {
	size_t off, width;
};
#define HUB_OPT_AT(type, member)                                                                   \
	{                                                                                          \
		offsetof(type, member), sizeof(((type *)0)->member)                                \
	}

/* One key. */
struct hub_opt {
	const char *path; /* "section.key" in a sectioned table, or the key alone */
	enum hub_opt_type type;
	struct hub_opt_at at;
	const char *def;          /* default as text (parsed like a quoted scalar); NULL = none */
	int64_t min, max;         /* numbers: inclusive range; strings: min length (max unused) */
	const char *const *names; /* enum names; for strings and integers, the allowed values */
	const struct hub_opt_check *check;
	unsigned flags; /* HUB_OPT_NULLABLE, HUB_OPT_REQUIRED */
	const char *doc;
};

struct hub_opt_table {
	const struct hub_opt *keys;
	size_t n;
};
#define HUB_OPT_TABLE(rows)                                                                        \
	{                                                                                          \
		rows, sizeof(rows) / sizeof((rows)[0])                                             \
	}

/* Size and duration units for rows' ranges. */
#define HUB_KIB INT64_C(1024)
#define HUB_MIB (HUB_KIB * 1024)
#define HUB_GIB (HUB_MIB * 1024)
#define HUB_TIB (HUB_GIB * 1024)
#define HUB_SEC INT64_C(1000)
#define HUB_MIN (HUB_SEC * 60)
#define HUB_HOUR (HUB_MIN * 60)
#define HUB_DAY (HUB_HOUR * 24)

/* Binds mapping map (or null: nothing) into base using the rows of t, reporting every bad key;
 * rows are "<section>.<name>" when section is non-NULL, else "<name>"; path names map in
 * messages. lines[i] (HUB_OPT_MAX_KEYS entries, zeroed by the caller) gets the line of row i
 * when set, negated when its value was refused (cross-key checks then skip it). */
int hub_options_bind(struct hub_yaml_ctx *c, const struct hub_yaml_node *map,
		     const struct hub_opt_table *t, const char *section, const char *path,
		     void *base, int *lines);

/* Sets every row of t that has a default (maps to {}, doubles without one to NAN). */
int hub_options_defaults(struct hub_yaml_ctx *c, const struct hub_opt_table *t, void *base);

/* Sets row name of t to text, as if it were written quoted in a file (aborts if t has no such
 * row: a programming error). */
int hub_options_set_text(struct hub_yaml_ctx *c, const struct hub_opt_table *t, const char *name,
			 const char *text, void *base);

/* Reports every required row of t that lines says was not given and base does not hold; line is
 * the mapping's, path names it. */
int hub_options_check_required(struct hub_yaml_ctx *c, const struct hub_opt_table *t,
			       const char *path, const void *base, int line, const int *lines);

/* Frees what the rows of t own in base and NULLs those members; other members stay. */
void hub_options_free(const struct hub_opt_table *t, void *base);

/* The line row name was given on (from hub_options_bind's lines), negative when its value was
 * refused, 0 when not given. */
int hub_options_line(const int *lines, const struct hub_opt_table *t, const char *name);

/* A sequence of mappings bound with one table (e.g. routes, sinks), each item a struct of
 * size bytes with an int member at line_off that gets the item's line. */
struct hub_opt_list {
	const char *name;
	const struct hub_opt_table *t;
	size_t size, line_off;
	/* Optional: checks across keys of item i (items 0..i-1 are bound), run only when every key
	 * of the item is good; path names the item. */
	int (*check)(struct hub_yaml_ctx *c, const struct hub_yaml_node *item, const void *arr,
		     size_t i, const char *path, const int *lines);
	size_t min_items;    /* fewer items is an error ... */
	const char *too_few; /* ... with this message */
};

/* Binds sequence seq into a new array (*out, *n; the caller frees each item with
 * hub_options_free, then the array), every item even after a bad one. */
int hub_options_bind_list(struct hub_yaml_ctx *c, const struct hub_opt_list *ls,
			  const struct hub_yaml_node *seq, void **out, size_t *n);

/* Binds a whole mapping into base, which holds size zeroed bytes: the defaults of t, then map
 * (NULL or null: nothing more), then the check of required rows; line is where the mapping
 * stands (for a missing key). Every error goes to c. On failure base may hold values: free them
 * with hub_options_free. */
int hub_options_bind_all(struct hub_yaml_ctx *c, const struct hub_yaml_node *map,
			 const struct hub_opt_table *t, const char *path, void *base, int line);

/* Finds the value of key name in mapping map (the first one), or NULL. */
const struct hub_yaml_node *hub_options_get(const struct hub_yaml_node *map, const char *name);

/* The line of key name in mapping map (the first one), or 0. */
int hub_options_get_key_line(const struct hub_yaml_node *map, const char *name);

/* Writes v the way the reference shows it for type: 1GiB, 30s, 2m, 1000. */
void hub_options_format(enum hub_opt_type type, int64_t v, char *buf, size_t len);

/* True when s is one of the NULL-terminated list. */
bool hub_options_is_one_of(const char *s, const char *const *list);

/* Writes "### `title`", text and the head of a Markdown table of keys to out. */
void hub_options_doc_header(FILE *out, const char *title, const char *text);

/* Writes the reference row of every row of t whose path starts with "<section>." (every row
 * when section is NULL); prefix is prepended to the key name (e.g. "routes[]."). */
void hub_options_doc_rows(FILE *out, const struct hub_opt_table *t, const char *section,
			  const char *prefix);

#endif
