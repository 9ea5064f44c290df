/* Loads the canonical kinds (the JSON files in schemas/) and validates records against them. */
#include "cityhub/schema.h"
#include "cityhub/error.h"
#include "cityhub/buf.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_conv {
	char *name;
	double scale;
	double divisor; /* scale = 1/divisor exactly: dividing keeps 55 %RH -> 0.55 exact */
	double offset;
};

struct field_def {
	char *name;
	char *unit; /* canonical unit, or NULL */
	enum hub_ftype type;
	int has_min, has_max;
	double min, max;
	struct unit_conv *units;
	size_t nunits;
	char **aliases; /* other names the field is sent under (e.g. SenML "voltage") */
	size_t naliases;
};

struct kind_def {
	char *name;
	char *fiware_type; /* FIWARE Smart Data Models entity type, or NULL */
	struct hub_fiware_attr *fiware; /* every FIWARE attribute of the kind; strings in pool */
	size_t nfiware;
	char **pool;
	size_t npool;
	int pass_unknown;
	char **tags;
	size_t ntags;
	char **required;
	size_t nrequired;
	struct field_def *fields;
	size_t nfields;
};

struct hub_schemas {
	struct kind_def *kinds;
	size_t n;
	const char **names;
};

struct hub_schema_text {
	const char *name;
	const char *text;
};
extern const struct hub_schema_text hub_schemas_builtin[];

static const char *const type_names[] = {
	[HUB_FT_DOUBLE] = "double", [HUB_FT_INT] = "int", [HUB_FT_BOOL] = "bool",
	[HUB_FT_STRING] = "string"};

static int parse_type(const char *s, enum hub_ftype *out)
{
	for (int i = 0; i < 4; i++) {
		if (s && strcmp(s, type_names[i]) == 0) {
			*out = (enum hub_ftype)i;
			return HUB_OK;
		}
	}
	return HUB_EINVAL;
}

static int load_strings(json_t *arr, char ***out, size_t *n)
{
	if (!arr) {
		*out = NULL;
		*n = 0;
		return HUB_OK;
	}
	if (!json_is_array(arr))
		return HUB_EINVAL;
	*n = json_array_size(arr);
	*out = hub_xcalloc(*n, sizeof(char *));
	for (size_t i = 0; i < *n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (!s)
			return HUB_EINVAL;
		(*out)[i] = hub_xstrdup(s);
	}
	return HUB_OK;
}

static int load_units(json_t *units, struct field_def *fd)
{
	fd->nunits = units ? json_object_size(units) : 0;
	fd->units = hub_xcalloc(fd->nunits, sizeof(*fd->units));
	const char *name;
	json_t *conv;
	size_t i = 0;
	json_object_foreach(units, name, conv) {
		if (!json_is_array(conv) || json_array_size(conv) != 2 ||
		    !json_is_number(json_array_get(conv, 0)) || !json_is_number(json_array_get(conv, 1)))
			return HUB_EINVAL;
		fd->units[i].name = hub_xstrdup(name);
		fd->units[i].scale = json_number_value(json_array_get(conv, 0));
		fd->units[i].offset = json_number_value(json_array_get(conv, 1));
		double inv = 1.0 / fd->units[i].scale;
		fd->units[i].divisor = inv > 1 && fabs(inv - nearbyint(inv)) < 1e-9 ? nearbyint(inv) : 0;
		i++;
	}
	return HUB_OK;
}

static int load_field(const char *name, json_t *spec, struct field_def *fd, char *err, size_t errlen)
{
	fd->name = hub_xstrdup(name);
	if (!json_is_object(spec) ||
	    parse_type(json_string_value(json_object_get(spec, "type")), &fd->type) != HUB_OK) {
		snprintf(err, errlen, "field %s: \"type\" must be double|int|bool|string", name);
		return HUB_EINVAL;
	}
	const char *unit = json_string_value(json_object_get(spec, "unit"));
	fd->unit = unit ? hub_xstrdup(unit) : NULL;
	json_t *min = json_object_get(spec, "min"), *max = json_object_get(spec, "max");
	fd->has_min = json_is_number(min);
	fd->has_max = json_is_number(max);
	fd->min = json_number_value(min);
	fd->max = json_number_value(max);
	if (load_units(json_object_get(spec, "units"), fd) != HUB_OK) {
		snprintf(err, errlen, "field %s: \"units\" maps a unit to [scale, offset]", name);
		return HUB_EINVAL;
	}
	if (load_strings(json_object_get(spec, "aliases"), &fd->aliases, &fd->naliases) != HUB_OK) {
		snprintf(err, errlen, "field %s: \"aliases\" is an array of strings", name);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

static int in_list(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static const char *keep(struct kind_def *k, const char *s)
{
	k->pool = hub_xrealloc(k->pool, (k->npool + 1) * sizeof(*k->pool));
	return k->pool[k->npool++] = hub_xstrdup(s);
}

static int add_fiware(struct kind_def *k, const char *attr, const char *field, const char *tag,
		      const char *unit, char *err, size_t errlen)
{
	for (size_t i = 0; i < k->nfiware; i++) {
		if (strcmp(k->fiware[i].attr, attr) == 0) {
			snprintf(err, errlen, "FIWARE attribute %.64s named twice", attr);
			return HUB_EINVAL;
		}
	}
	k->fiware = hub_xrealloc(k->fiware, (k->nfiware + 1) * sizeof(*k->fiware));
	k->fiware[k->nfiware++] = (struct hub_fiware_attr){
		keep(k, attr), field, tag ? keep(k, tag) : NULL, unit ? keep(k, unit) : NULL};
	return HUB_OK;
}

static const struct unit_conv *find_unit(const struct field_def *fd, const char *unit)
{
	for (size_t i = 0; i < fd->nunits; i++)
		if (strcmp(fd->units[i].name, unit) == 0)
			return &fd->units[i];
	return NULL;
}

/* A field's FIWARE names: "fiware" (its attribute), "fiware_aliases" (other spellings read
 * too), "fiware_unit" (the model's unit code, one of "units", for a value sent without one). */
static int load_field_fiware(struct kind_def *k, const struct field_def *fd, json_t *spec,
			     char *err, size_t errlen)
{
	json_t *name = json_object_get(spec, "fiware");
	json_t *aliases = json_object_get(spec, "fiware_aliases");
	json_t *unit = json_object_get(spec, "fiware_unit");
	if (!name && !aliases && !unit)
		return HUB_OK;
	if (!json_is_string(name) || (unit && !json_is_string(unit)) ||
	    (aliases && !json_is_array(aliases))) {
		snprintf(err, errlen, "field %s: \"fiware\" and \"fiware_unit\" are strings, "
			 "\"fiware_aliases\" an array of strings", fd->name);
		return HUB_EINVAL;
	}
	const char *u = json_string_value(unit);
	if (u && !find_unit(fd, u)) {
		snprintf(err, errlen, "field %s: fiware_unit %.32s is not one of its units",
			 fd->name, u);
		return HUB_EINVAL;
	}
	int rc = add_fiware(k, json_string_value(name), fd->name, NULL, u, err, errlen);
	for (size_t i = 0; rc == HUB_OK && i < json_array_size(aliases); i++) {
		const char *alias = json_string_value(json_array_get(aliases, i));
		if (!alias) {
			snprintf(err, errlen, "field %s: fiware_aliases holds strings", fd->name);
			return HUB_EINVAL;
		}
		rc = add_fiware(k, alias, fd->name, NULL, u, err, errlen);
	}
	return rc;
}

/* The kind's "fiware_type" and "fiware_tags" (attribute -> one of its tags), after its
 * fields and tags are loaded. */
static int load_kind_fiware(json_t *root, struct kind_def *k, char *err, size_t errlen)
{
	json_t *type = json_object_get(root, "fiware_type");
	json_t *tags = json_object_get(root, "fiware_tags");
	if ((type && !json_is_string(type)) || (tags && !json_is_object(tags))) {
		snprintf(err, errlen, "\"fiware_type\" is a string, \"fiware_tags\" an object");
		return HUB_EINVAL;
	}
	if (type)
		k->fiware_type = hub_xstrdup(json_string_value(type));
	const char *attr;
	json_t *tag;
	json_object_foreach(tags, attr, tag) {
		const char *t = json_string_value(tag);
		if (!t || !in_list(k->tags, k->ntags, t)) {
			snprintf(err, errlen, "fiware_tags.%.64s: must name one of the kind's tags",
				 attr);
			return HUB_EINVAL;
		}
		if (add_fiware(k, attr, NULL, t, NULL, err, errlen) != HUB_OK)
			return HUB_EINVAL;
	}
	return HUB_OK;
}

/* Position fields every kind has (docs/payloads.md "Positions"): degrees, WGS 84. The built-in
 * files spell them out; a kind whose file leaves them out (a site's own schemas.dir) gets them
 * here, so every format's position is accepted for every kind. */
static const struct {
	const char *name, *unit_alt;
	double lim;
} positions[] = {{"lat", "lat", 90}, {"lon", "lon", 180}};

static void add_positions(struct kind_def *k)
{
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		int have = 0;
		for (size_t f = 0; f < k->nfields; f++)
			have |= strcmp(k->fields[f].name, positions[i].name) == 0;
		if (have)
			continue;
		k->fields = hub_xrealloc(k->fields, (k->nfields + 1) * sizeof(*k->fields));
		struct field_def *fd = &k->fields[k->nfields++];
		memset(fd, 0, sizeof(*fd));
		fd->name = hub_xstrdup(positions[i].name);
		fd->type = HUB_FT_DOUBLE;
		fd->has_min = fd->has_max = 1;
		fd->min = -positions[i].lim;
		fd->max = positions[i].lim;
		const char *units[] = {"deg", "DD", positions[i].unit_alt};
		fd->nunits = 3;
		fd->units = hub_xcalloc(3, sizeof(*fd->units));
		for (size_t u = 0; u < 3; u++) {
			fd->units[u].name = hub_xstrdup(units[u]);
			fd->units[u].scale = 1;
		}
	}
}

static int load_kind(json_t *root, struct kind_def *k, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(root, "kind"));
	json_t *fields = json_object_get(root, "fields");
	if (!name || !json_is_object(fields)) {
		snprintf(err, errlen, "needs \"kind\" (string) and \"fields\" (object)");
		return HUB_EINVAL;
	}
	k->name = hub_xstrdup(name);
	const char *unknown = json_string_value(json_object_get(root, "unknown_fields"));
	k->pass_unknown = unknown && strcmp(unknown, "pass") == 0;
	if (load_strings(json_object_get(root, "tags"), &k->tags, &k->ntags) ||
	    load_strings(json_object_get(root, "required_tags"), &k->required, &k->nrequired)) {
		snprintf(err, errlen, "\"tags\" and \"required_tags\" are arrays of strings");
		return HUB_EINVAL;
	}
	k->nfields = json_object_size(fields);
	k->fields = hub_xcalloc(k->nfields, sizeof(*k->fields));
	const char *fname;
	json_t *spec;
	size_t i = 0;
	json_object_foreach(fields, fname, spec) {
		struct field_def *fd = &k->fields[i++];
		if (load_field(fname, spec, fd, err, errlen) != HUB_OK ||
		    load_field_fiware(k, fd, spec, err, errlen) != HUB_OK)
			return HUB_EINVAL;
	}
	add_positions(k);
	return load_kind_fiware(root, k, err, errlen);
}

/* Adds the kind in text (from source, for messages) to s. */
static int add_text(struct hub_schemas *s, const char *source, const char *text, size_t len,
		    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d: %s", source, jerr.line, jerr.text);
		return HUB_EINVAL;
	}
	s->kinds = hub_xrealloc(s->kinds, (s->n + 1) * sizeof(*s->kinds));
	struct kind_def *k = &s->kinds[s->n++];
	memset(k, 0, sizeof(*k));
	char msg[200] = "";
	int rc = load_kind(root, k, msg, sizeof(msg));
	json_decref(root);
	if (rc != HUB_OK)
		snprintf(err, errlen, "%s: %s", source, msg);
	for (size_t i = 0; rc == HUB_OK && i + 1 < s->n; i++) {
		if (strcmp(s->kinds[i].name, k->name) == 0) {
			snprintf(err, errlen, "%s: kind %s defined twice", source, k->name);
			rc = HUB_EINVAL;
		}
	}
	return rc;
}

static void finish(struct hub_schemas *s)
{
	s->names = hub_xcalloc(s->n, sizeof(char *));
	for (size_t i = 0; i < s->n; i++)
		s->names[i] = s->kinds[i].name;
}

struct hub_schemas *hub_schemas_load_builtin(char *err, size_t errlen)
{
	struct hub_schemas *s = hub_xcalloc(1, sizeof(*s));
	for (const struct hub_schema_text *t = hub_schemas_builtin; t->name; t++) {
		if (add_text(s, t->name, t->text, strlen(t->text), err, errlen) != HUB_OK) {
			hub_schemas_free(s);
			return NULL;
		}
	}
	finish(s);
	return s;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int add_file(struct hub_schemas *s, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: cannot open", path);
		return HUB_EIO;
	}
	struct hub_buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		hub_buf_append(&b, chunk, n);
	fclose(fp);
	int rc = add_text(s, path, b.data ? b.data : "", b.len, err, errlen);
	hub_buf_fini(&b);
	return rc;
}

struct hub_schemas *hub_schemas_load_dir(const char *dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read directory", dir);
		return NULL;
	}
	struct hub_schemas *s = hub_xcalloc(1, sizeof(*s));
	int rc = HUB_OK;
	for (int i = 0; i < n; i++) {
		if (rc == HUB_OK && ends_with(names[i]->d_name, ".json")) {
			struct hub_buf path = {0};
			hub_buf_printf(&path, "%s/%s", dir, names[i]->d_name);
			rc = add_file(s, path.data, err, errlen);
			hub_buf_fini(&path);
		}
		free(names[i]);
	}
	free(names);
	if (rc == HUB_OK && s->n == 0) {
		snprintf(err, errlen, "%s: no *.json schema files", dir);
		rc = HUB_EINVAL;
	}
	if (rc != HUB_OK) {
		hub_schemas_free(s);
		return NULL;
	}
	finish(s);
	return s;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void hub_schemas_free(struct hub_schemas *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct kind_def *k = &s->kinds[i];
		for (size_t f = 0; f < k->nfields; f++) {
			for (size_t u = 0; u < k->fields[f].nunits; u++)
				free(k->fields[f].units[u].name);
			free(k->fields[f].units);
			free_strings(k->fields[f].aliases, k->fields[f].naliases);
			free(k->fields[f].name);
			free(k->fields[f].unit);
		}
		free(k->fields);
		free(k->fiware);
		free_strings(k->pool, k->npool);
		free(k->fiware_type);
		free_strings(k->tags, k->ntags);
		free_strings(k->required, k->nrequired);
		free(k->name);
	}
	free(s->kinds);
	free(s->names);
	free(s);
}

static const struct kind_def *find_kind(const struct hub_schemas *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->kinds[i].name, name) == 0)
			return &s->kinds[i];
	return NULL;
}

int hub_schemas_has_kind(const struct hub_schemas *s, const char *kind)
{
	return kind && find_kind(s, kind) != NULL;
}

size_t hub_schemas_kinds(const struct hub_schemas *s, const char *const **names)
{
	*names = s->names;
	return s->n;
}

static const struct field_def *find_field(const struct kind_def *k, const char *name);

const char *hub_schemas_fiware_type(const struct hub_schemas *s, const char *kind)
{
	const struct kind_def *k = kind ? find_kind(s, kind) : NULL;
	return k ? k->fiware_type : NULL;
}

size_t hub_schemas_fiware_attrs(const struct hub_schemas *s, const char *kind,
				const struct hub_fiware_attr **attrs)
{
	const struct kind_def *k = kind ? find_kind(s, kind) : NULL;
	*attrs = k ? k->fiware : NULL;
	return k ? k->nfiware : 0;
}

int hub_schemas_unit_conv(const struct hub_schemas *s, const char *kind, const char *field,
			  const char *unit, double *scale, double *offset)
{
	const struct kind_def *k = kind ? find_kind(s, kind) : NULL;
	const struct field_def *fd = k && field ? find_field(k, field) : NULL;
	const struct unit_conv *u = fd && unit ? find_unit(fd, unit) : NULL;
	if (!u)
		return HUB_ENOENT;
	*scale = u->scale;
	*offset = u->offset;
	return HUB_OK;
}

/* The field called name, or else the field that has name as an alias; NULL when none. */
static const struct field_def *find_field(const struct kind_def *k, const char *name)
{
	for (size_t i = 0; i < k->nfields; i++)
		if (strcmp(k->fields[i].name, name) == 0)
			return &k->fields[i];
	for (size_t i = 0; i < k->nfields; i++)
		if (in_list(k->fields[i].aliases, k->fields[i].naliases, name))
			return &k->fields[i];
	return NULL;
}

int hub_schemas_field_info(const struct hub_schemas *s, const char *kind, const char *field,
			   enum hub_ftype *type, const char **unit)
{
	const struct kind_def *k = kind ? find_kind(s, kind) : NULL;
	const struct field_def *fd = k && field ? find_field(k, field) : NULL;
	if (!fd)
		return HUB_ENOENT;
	*type = fd->type;
	*unit = fd->unit;
	return HUB_OK;
}

int hub_schemas_field_known(const struct hub_schemas *s, const char *kind, const char *name)
{
	const struct kind_def *k = kind ? find_kind(s, kind) : NULL;
	return !k || k->pass_unknown || find_field(k, name) != NULL;
}

static int check_tags(const struct kind_def *k, const struct hub_record *rec, struct hub_reject *rej)
{
	for (size_t i = 0; i < rec->ntags; i++) {
		if (!in_list(k->tags, k->ntags, rec->tags[i].key))
			return hub_reject(rej, HUB_R_BAD_TAG, "tag %.64s is not allowed for kind %s",
					  rec->tags[i].key, k->name);
	}
	for (size_t i = 0; i < k->nrequired; i++) {
		const char *v = hub_record_tag(rec, k->required[i]);
		if (!v || !*v)
			return hub_reject(rej, HUB_R_MISSING_TAG, "kind %s requires tag %s", k->name,
					  k->required[i]);
	}
	return HUB_OK;
}

/* Converts f's value to double for arithmetic; 0 if it is not numeric. */
static int numeric(const struct hub_field *f, double *out)
{
	if (f->v.type == HUB_FT_DOUBLE)
		*out = f->v.u.d;
	else if (f->v.type == HUB_FT_INT)
		*out = (double)f->v.u.i;
	else
		return 0;
	return 1;
}

/* Rounds a converted value to 15 significant digits, the most a double always holds: this
 * drops the binary artefacts of the conversion (45.3 cm / 100 is 0.45299999999999996, stored
 * as 0.453) and nothing a sensor measured (issue 13 #16). */
static double round15(double v)
{
	char buf[32];
	if (!isfinite(v))
		return v;
	snprintf(buf, sizeof(buf), "%.15g", v);
	return strtod(buf, NULL);
}

static int convert_unit(const struct field_def *fd, struct hub_field *f, struct hub_reject *rej)
{
	if (!f->unit)
		return HUB_OK;
	for (size_t i = 0; i < fd->nunits; i++) {
		const struct unit_conv *u = &fd->units[i];
		if (strcmp(u->name, f->unit) != 0)
			continue;
		f->unit = NULL;
		if (u->scale == 1 && u->offset == 0)
			return HUB_OK;
		double v;
		if (numeric(f, &v)) {
			f->v.type = HUB_FT_DOUBLE;
			f->v.u.d = round15((u->divisor ? v / u->divisor : v * u->scale) + u->offset);
		}
		return HUB_OK;
	}
	return hub_reject(rej, HUB_R_BAD_UNIT, "field %s: unit %.32s not accepted", fd->name,
			  f->unit);
}

/* Writes d with the fewest significant digits (15 to 17) that read back to the same double, so
 * details show -3276.8, not -3276.8000000000002. */
static const char *shortest(double d, char buf[32])
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return buf;
}

/* Brings f to fd's type: ints widen to doubles, integral doubles narrow to ints, and the
 * integers 0 and 1 (a digital input, e.g. Cayenne LPP) become booleans. */
static int coerce_type(const struct field_def *fd, struct hub_field *f, struct hub_reject *rej)
{
	double v;
	if (fd->type == f->v.type)
		return HUB_OK;
	if (fd->type == HUB_FT_BOOL && f->v.type == HUB_FT_INT && (f->v.u.i == 0 || f->v.u.i == 1)) {
		f->v.type = HUB_FT_BOOL;
		f->v.u.b = (int)f->v.u.i;
		return HUB_OK;
	}
	if (fd->type == HUB_FT_DOUBLE && f->v.type == HUB_FT_INT) {
		f->v.type = HUB_FT_DOUBLE;
		f->v.u.d = (double)f->v.u.i;
		return HUB_OK;
	}
	if (fd->type == HUB_FT_INT && numeric(f, &v) && isfinite(v)) {
		double r = nearbyint(v);
		if (fabs(v - r) <= 1e-9 * fabs(r) && r >= -9.2e18 && r <= 9.2e18) {
			f->v.type = HUB_FT_INT;
			f->v.u.i = (int64_t)r;
			return HUB_OK;
		}
		char vb[32];
		return hub_reject(rej, HUB_R_BAD_TYPE, "field %s: %s is not an integer", fd->name,
				  shortest(v, vb));
	}
	return hub_reject(rej, HUB_R_BAD_TYPE, "field %s: expected %s, got %s", fd->name,
			  type_names[fd->type], type_names[f->v.type]);
}

static int check_range(const struct field_def *fd, const struct hub_field *f, struct hub_reject *rej)
{
	char vb[32], lo[32], hi[32];
	double v;
	if (!numeric(f, &v))
		return HUB_OK;
	if (!isfinite(v))
		return hub_reject(rej, HUB_R_OUT_OF_RANGE, "field %s: not a finite number", fd->name);
	if ((fd->has_min && v < fd->min) || (fd->has_max && v > fd->max))
		return hub_reject(rej, HUB_R_OUT_OF_RANGE, "field %s: %s outside [%s, %s]",
				  fd->name, shortest(v, vb), shortest(fd->min, lo),
				  shortest(fd->max, hi));
	return HUB_OK;
}

static int check_field(const struct kind_def *k, struct hub_recset *rs, struct hub_record *rec,
                       size_t idx, struct hub_reject *rej)
{
	struct hub_field *f = &rec->fields[idx];
	const struct field_def *fd = find_field(k, f->name);
	if (fd)
		f->name = fd->name == f->name || strcmp(fd->name, f->name) == 0
		              ? f->name
		              : hub_recset_strdup(rs, fd->name);
	for (size_t j = 0; j < idx; j++)
		if (strcmp(rec->fields[j].name, f->name) == 0)
			return hub_reject(rej, HUB_R_DUPLICATE, "field %.64s given twice", f->name);
	if (!fd) {
		if (!k->pass_unknown)
			return hub_reject(rej, HUB_R_UNKNOWN_FIELD, "kind %s has no field %.64s",
					  k->name, f->name);
		f->unit = NULL;
		double v;
		if (numeric(f, &v) && !isfinite(v))
			return hub_reject(rej, HUB_R_OUT_OF_RANGE, "field %.64s: not finite", f->name);
		return HUB_OK;
	}
	int rc = convert_unit(fd, f, rej);
	if (rc == HUB_OK)
		rc = coerce_type(fd, f, rej);
	if (rc == HUB_OK)
		rc = check_range(fd, f, rej);
	return rc;
}

int hub_schemas_apply(const struct hub_schemas *s, struct hub_recset *rs, struct hub_record *rec,
		      struct hub_reject *rej)
{

	if (!rec->kind)
		return hub_reject(rej, HUB_R_NO_KIND, "the reading names no kind");
	const struct kind_def *k = find_kind(s, rec->kind);
	if (!k)
		return hub_reject(rej, HUB_R_UNKNOWN_KIND, "no schema for kind %.64s", rec->kind);
	if (rec->nfields == 0)
		return hub_reject(rej, HUB_R_EMPTY, "the reading has no fields");
	int rc = check_tags(k, rec, rej);
	for (size_t i = 0; rc == HUB_OK && i < rec->nfields; i++)
		rc = check_field(k, rs, rec, i, rej);
	return rc;
}
