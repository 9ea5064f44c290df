/* The one YAML reader of the tree: libyaml events -> a small node tree with line numbers, and
 * that tree -> JSON with the YAML 1.2 core schema (plain scalars become null, booleans, integers
 * or numbers; quoted ones stay strings). Tags, aliases, NUL characters and more than one document
 * are refused. Errors are collected, not logged: struct hub_yaml_ctx gathers one
 * "file:line: path: what" line per error, so a caller may report every error of a file. */
#ifndef CITYHUB_YAML_H
#define CITYHUB_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define HUB_YAML_MAX_ERRORS 50 /* errors written into one ctx; the rest are counted */
#define HUB_YAML_PATH_MAX 256  /* longest key path in messages */

enum hub_yaml_kind { HUB_YAML_SCALAR, HUB_YAML_MAP, HUB_YAML_SEQ };

/* One node. Read-only for callers; owned by the tree (hub_yaml_free on the root). */
struct hub_yaml_node {
	enum hub_yaml_kind kind;
	int line;   /* 1-based line where the node starts */
	int quoted; /* scalar: written quoted or as a block scalar, so never null/bool/number */
	char *text; /* scalar: the value */
	struct hub_yaml_node **items; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n, cap;
};

/* Where errors go. Set file, err and errlen (err may be NULL to only count); zero the rest.
 * file NULL: lines are "path: what" (for values that do not come from a file). */
struct hub_yaml_ctx {
	const char *file;
	char *err;
	size_t errlen;
	size_t used; /* bytes of err written */
	int nerr;    /* errors found, shown or not */
	const void *user; /* the caller's, for its list checks (the config: the adapter table) */
};

/* Appends "file[:line][: path]: what" as one line of c->err (at most HUB_YAML_MAX_ERRORS lines;
 * line <= 0 leaves the line out, path NULL the path) and returns HUB_EINVAL, so a caller may
 * stop or go on to find the file's other errors. */
int hub_yaml_fail(struct hub_yaml_ctx *c, int line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends "file: N more errors not shown" to c->err when errors were left out. */
void hub_yaml_fail_summary(struct hub_yaml_ctx *c);

/* Reads the file at path (nothing, or one document) into *root (NULL for an empty file; the
 * caller frees it with hub_yaml_free). HUB_EINVAL with the error in c otherwise. */
int hub_yaml_read_file(struct hub_yaml_ctx *c, const char *path, struct hub_yaml_node **root);

/* The same for len bytes of YAML text; c->file names it in messages. */
int hub_yaml_read_string(struct hub_yaml_ctx *c, const char *text, size_t len,
			 struct hub_yaml_node **root);

/* Frees a tree; NULL is a no-op. */
void hub_yaml_free(struct hub_yaml_node *n);

/* Converts n into a new JSON value (*out, the caller decrefs): mappings (keys must be scalars
 * and unique) to objects, sequences to arrays, scalars by the core schema. path names n in
 * messages. HUB_EINVAL with the error in c. */
int hub_yaml_to_json(struct hub_yaml_ctx *c, const struct hub_yaml_node *n, const char *path,
		     json_t **out);

/* Builds the node tree of JSON value v, every node on line (for values that come from JSON, e.g.
 * a fixture's route): strings are quoted scalars, numbers, booleans and null plain ones, so
 * binding them follows the same rules as a file. The caller frees it with hub_yaml_free. */
struct hub_yaml_node *hub_yaml_from_json(const json_t *v, int line);

/* Reads a whole YAML file into a new JSON value; an empty file is an error.
 * HUB_EINVAL with "file:line: ..." lines in err. */
int hub_yaml_read_json(const char *path, json_t **out, char *err, size_t errlen);

/* Checks that every key of mapping map is a scalar and appears once; reports every offender
 * (path names the mapping, "" for the root). */
int hub_yaml_check_keys(struct hub_yaml_ctx *c, const struct hub_yaml_node *map, const char *path);

/* True when key i of mapping map is a scalar and the first of its name. */
bool hub_yaml_key_bindable(const struct hub_yaml_node *map, size_t i);

/* True for a plain null scalar: empty, ~, null, Null, NULL. */
bool hub_yaml_is_null(const struct hub_yaml_node *n);

/* "a mapping", "a sequence", "null" or "a scalar", for messages. */
const char *hub_yaml_kind_noun(const struct hub_yaml_node *n);

/* True when s is a YAML 1.2 core-schema float (or integer) written in decimal. */
bool hub_yaml_is_float(const char *s);

/* Writes "path.key" into buf (HUB_YAML_PATH_MAX bytes), cut with "..." when too long. */
void hub_yaml_child_path(char *buf, const char *path, const char *key);

#endif
