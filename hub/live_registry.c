/* The sensor registry file: names, positions and expected intervals of the city's sensors, so
 * that the screens can name them and show a sensor that never reported as missing. A YAML list
 * of mappings (optionally under a top-level `sensors:` key), or CSV with a header line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cityhub/error.h"
#include "live_int.h"
#include "pipeline.h"

enum { K_ID, K_KIND, K_DISTRICT, K_LAT, K_LON, K_NAME_VI, K_NAME_EN, K_INTERVAL, K_COUNT };
static const char *const keys[K_COUNT] = {"id",      "kind",    "district", "lat",
					  "lon",     "name_vi", "name_en",  "interval_s"};
#define MAX_VALUE 512

struct entry {
	char v[K_COUNT][MAX_VALUE];
	int set[K_COUNT];
	int line;
};

struct reader {
	struct hub_live *l;
	const char *path;
	char *err;
	size_t errlen;
};

static int fail(struct reader *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct reader *r, int line, const char *fmt, ...)
{
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%d: %s", r->path, line, what);
	return HUB_EINVAL;
}

static int key_index(const char *k)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(keys[i], k) == 0)
			return i;
	return -1;
}

static int set_key(struct reader *r, struct entry *e, const char *k, const char *v, int line)
{
	int i = key_index(k);
	if (i < 0)
		return fail(r, line, "unknown key %s (id, kind, district, lat, lon, name_vi, "
				     "name_en, interval_s)", k);
	if (strlen(v) >= MAX_VALUE)
		return fail(r, line, "%s: longer than %d bytes", k, MAX_VALUE - 1);
	if (!hub_text_valid(v, strlen(v)))
		return fail(r, line, "%s: not valid UTF-8 text", k);
	snprintf(e->v[i], MAX_VALUE, "%s", v);
	e->set[i] = *v != '\0';
	return HUB_OK;
}

static int number(struct reader *r, const struct entry *e, int k, double lo, double hi,
		  float *out)
{
	char *end;
	if (!e->set[k])
		return HUB_OK;
	errno = 0;
	double d = strtod(e->v[k], &end);
	if (errno || end == e->v[k] || *end || !isfinite(d) || d < lo || d > hi)
		return fail(r, e->line, "%s: %s is not a number in %g..%g", keys[k], e->v[k], lo,
			    hi);
	*out = (float)d;
	return HUB_OK;
}

/* Checks one entry and adds its sensor. */
static int add_entry(struct reader *r, const struct entry *e)
{
	struct hub_live_reg reg = {.lat = NAN, .lon = NAN};
	if (!e->set[K_ID])
		return fail(r, e->line, "id: missing");
	if (e->set[K_KIND] && r->l->schemas && !hub_schemas_has_kind(r->l->schemas, e->v[K_KIND]))
		return fail(r, e->line, "kind: no schema for kind %s", e->v[K_KIND]);
	if (number(r, e, K_LAT, -90, 90, &reg.lat) || number(r, e, K_LON, -180, 180, &reg.lon) ||
	    number(r, e, K_INTERVAL, 0.001, 7 * 86400, &reg.interval_s))
		return HUB_EINVAL;
	if (hub_live_find(r->l, e->v[K_ID]))
		return fail(r, e->line, "id: %s appears twice", e->v[K_ID]);
	struct hub_live_sensor *s = hub_live_add(r->l, e->v[K_ID]);
	if (!s)
		return fail(r, e->line, "more sensors than live.max_sensors");
	struct hub_live *l = r->l;
	reg.name_vi = e->set[K_NAME_VI] ? hub_live_intern(l, e->v[K_NAME_VI]) : NULL;
	reg.name_en = e->set[K_NAME_EN] ? hub_live_intern(l, e->v[K_NAME_EN]) : NULL;
	reg.kind = e->set[K_KIND] ? hub_live_intern(l, e->v[K_KIND]) : NULL;
	reg.district = e->set[K_DISTRICT] ? hub_live_intern(l, e->v[K_DISTRICT]) : NULL;
	s->reg = hub_xmalloc(sizeof(*s->reg));
	*s->reg = reg;
	s->kind = reg.kind;
	s->district = reg.district;
	s->known_state = 1; /* missing until heard: no event for that */
	return HUB_OK;
}

/* ---- YAML ---- */

static int next(struct reader *r, yaml_parser_t *p, yaml_event_t *ev)
{
	if (yaml_parser_parse(p, ev))
		return HUB_OK;
	return fail(r, (int)p->problem_mark.line + 1, "YAML: %s",
		    p->problem ? p->problem : "syntax error");
}

static int read_mapping(struct reader *r, yaml_parser_t *p, struct entry *e)
{
	yaml_event_t k, v;
	for (;;) {
		if (next(r, p, &k) != HUB_OK)
			return HUB_EINVAL;
		if (k.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&k);
			return HUB_OK;
		}
		int line = (int)k.start_mark.line + 1, rc = HUB_OK;
		if (k.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&k);
			return fail(r, line, "keys are plain words");
		}
		if (next(r, p, &v) != HUB_OK) {
			yaml_event_delete(&k);
			return HUB_EINVAL;
		}
		if (v.type != YAML_SCALAR_EVENT)
			rc = fail(r, line, "%s: must be a scalar", (char *)k.data.scalar.value);
		else
			rc = set_key(r, e, (char *)k.data.scalar.value, (char *)v.data.scalar.value,
				     line);
		yaml_event_delete(&k);
		yaml_event_delete(&v);
		if (rc != HUB_OK)
			return rc;
	}
}

static int read_sequence(struct reader *r, yaml_parser_t *p)
{
	yaml_event_t ev;
	for (;;) {
		if (next(r, p, &ev) != HUB_OK)
			return HUB_EINVAL;
		int line = (int)ev.start_mark.line + 1;
		yaml_event_type_t t = ev.type;
		yaml_event_delete(&ev);
		if (t == YAML_SEQUENCE_END_EVENT)
			return HUB_OK;
		if (t != YAML_MAPPING_START_EVENT)
			return fail(r, line, "each sensor is a mapping (id: ..., kind: ...)");
		struct entry *e = hub_xcalloc(1, sizeof(*e));
		e->line = line;
		int rc = read_mapping(r, p, e);
		if (rc == HUB_OK)
			rc = add_entry(r, e);
		free(e);
		if (rc != HUB_OK)
			return rc;
	}
}

/* Skips to the list: the document's root, or its `sensors:` value. */
static int find_list(struct reader *r, yaml_parser_t *p)
{
	yaml_event_t ev;
	int in_map = 0;
	for (;;) {
		if (next(r, p, &ev) != HUB_OK)
			return HUB_EINVAL;
		int line = (int)ev.start_mark.line + 1, rc = 2; /* 2: read on */
		if (ev.type == YAML_SEQUENCE_START_EVENT)
			rc = HUB_OK;
		else if (ev.type == YAML_MAPPING_START_EVENT && !in_map)
			in_map = 1;
		else if (ev.type == YAML_SCALAR_EVENT && in_map &&
			 strcmp((char *)ev.data.scalar.value, "sensors") == 0)
			;
		else if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT)
			rc = 1;
		else if (ev.type != YAML_STREAM_START_EVENT && ev.type != YAML_DOCUMENT_START_EVENT)
			rc = fail(r, line, "a list of sensors (or sensors: followed by one) "
					   "expected");
		yaml_event_delete(&ev);
		if (rc != 2)
			return rc;
	}
}

static int load_yaml(struct reader *r, FILE *f)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return fail(r, 0, "out of memory");
	yaml_parser_set_input_file(&p, f);
	int rc = find_list(r, &p);
	if (rc == HUB_OK)
		rc = read_sequence(r, &p);
	yaml_parser_delete(&p);
	return rc > 0 ? HUB_OK : rc; /* 1: an empty file */
}

/* ---- CSV ---- */

/* Splits line into at most max cells (quoted cells may hold commas and "" for a quote),
 * in place. Returns the count, or -1 on an unterminated quote. */
static int split(char *line, char **cells, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return max + 1;
		char *out = p;
		cells[n++] = p;
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p)
					return -1;
				if (*p == '"' && p[1] == '"')
					*out++ = *p++;
				else if (*p == '"')
					break;
				else
					*out++ = *p;
			}
			p++;
		} else {
			while (*p && *p != ',')
				*out++ = *p++;
		}
		char end = *p;
		*out = '\0';
		if (end != ',')
			return end ? -1 : n;
		p++;
	}
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int csv_row(struct reader *r, char *line, int lineno, int *cols, int ncols)
{
	char *cells[K_COUNT + 1];
	int n = split(line, cells, K_COUNT);
	if (n != ncols)
		return fail(r, lineno, "%d cells where the header has %d", n < 0 ? 0 : n, ncols);
	struct entry *e = hub_xcalloc(1, sizeof(*e));
	e->line = lineno;
	int rc = HUB_OK;
	for (int i = 0; i < n && rc == HUB_OK; i++)
		rc = set_key(r, e, keys[cols[i]], cells[i], lineno);
	if (rc == HUB_OK)
		rc = add_entry(r, e);
	free(e);
	return rc;
}

static int load_csv(struct reader *r, FILE *f)
{
	char line[8192], *cells[K_COUNT + 1];
	int cols[K_COUNT], ncols = 0, lineno = 0, rc = HUB_OK;
	while (rc == HUB_OK && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			return fail(r, lineno, "line longer than %zu bytes", sizeof(line) - 1);
		chomp(line);
		if (!line[0] || line[0] == '#')
			continue;
		if (ncols > 0) {
			rc = csv_row(r, line, lineno, cols, ncols);
			continue;
		}
		ncols = split(line, cells, K_COUNT);
		if (ncols < 0 || ncols > K_COUNT)
			return fail(r, lineno, "header: at most %d columns", K_COUNT);
		int has_id = 0;
		for (int i = 0; i < ncols; i++) {
			cols[i] = key_index(cells[i]);
			if (cols[i] < 0)
				return fail(r, lineno, "header: unknown column %s", cells[i]);
			for (int j = 0; j < i; j++)
				if (cols[j] == cols[i])
					return fail(r, lineno, "header: %s twice", cells[i]);
			has_id |= cols[i] == K_ID;
		}
		if (!has_id)
			return fail(r, lineno, "header: no id column");
	}
	return rc;
}

int hub_live_load_registry(struct hub_live *l, const char *path, char *err, size_t errlen)
{
	struct reader r = {l, path, err, errlen};
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return HUB_EINVAL;
	}
	size_t n = strlen(path);
	int csv = n > 4 && strcmp(path + n - 4, ".csv") == 0;
	pthread_mutex_lock(&l->lock);
	int rc = csv ? load_csv(&r, f) : load_yaml(&r, f);
	pthread_mutex_unlock(&l->lock);
	fclose(f);
	return rc;
}
