/* Canonical kinds (schemas/ *.json files): fields, types, units, ranges, allowed tags.
 * Loaded once at start; read-only afterwards, so any thread may use it. */
#ifndef CITYHUB_SCHEMA_H
#define CITYHUB_SCHEMA_H

#include <stddef.h>

#include "cityhub/record.h"
#include "cityhub/reject.h"

struct hub_schemas;

/* Loads the schemas compiled into the binary; NULL with a message in err on failure. */
struct hub_schemas *hub_schemas_load_builtin(char *err, size_t errlen);

/* Loads every *.json in dir instead; NULL with "file: message" in err on failure. */
struct hub_schemas *hub_schemas_load_dir(const char *dir, char *err, size_t errlen);

/* Frees the schemas; NULL is a no-op. */
void hub_schemas_free(struct hub_schemas *s);

/* Returns 1 when kind has a schema. */
int hub_schemas_has_kind(const struct hub_schemas *s, const char *kind);

/* Validates rec against its kind and converts every field to its canonical unit and type,
 * in place (strings are allocated from rs). Computes nothing (the hourly VN_AQI is written as
 * kind aqi). HUB_EREJECT with rej filled when the record breaks the schema. */
int hub_schemas_apply(const struct hub_schemas *s, struct hub_recset *rs, struct hub_record *rec,
		      struct hub_reject *rej);

/* Returns 1 when kind has a field called name (or aliased so), when the kind passes unknown
 * fields, or when kind has no schema (hub_schemas_apply then rejects it); 0 otherwise. */
int hub_schemas_field_known(const struct hub_schemas *s, const char *kind, const char *name);

/* Gives the type and canonical unit (borrowed from s; NULL when the schema names none) of
 * kind's field (a name or an alias). HUB_OK, or HUB_ENOENT when kind or field is unknown. */
int hub_schemas_field_info(const struct hub_schemas *s, const char *kind, const char *field,
			   enum hub_ftype *type, const char **unit);

/* Returns the number of kinds and, through names, their names (borrowed). */
size_t hub_schemas_kinds(const struct hub_schemas *s, const char *const **names);

/* One FIWARE Smart Data Models attribute of a kind, from its schema: a field's "fiware" name
 * or one of its "fiware_aliases", or a key of the kind's "fiware_tags". Borrowed from s. */
struct hub_fiware_attr {
	const char *attr;  /* the attribute's name */
	const char *field; /* the canonical field it carries, or NULL for a tag */
	const char *tag;   /* the tag it sets, or NULL for a field */
	const char *unit;  /* the model's unit code ("fiware_unit") for a value sent without a
			    * unit: one of the field's units; NULL = the canonical unit */
};

/* Returns kind's FIWARE entity type ("fiware_type"; borrowed), or NULL. */
const char *hub_schemas_fiware_type(const struct hub_schemas *s, const char *kind);

/* Returns the number of kind's FIWARE attributes and, through attrs, them (borrowed): each
 * field's "fiware" name first, then its aliases, fields in schema order, then the tags. */
size_t hub_schemas_fiware_attrs(const struct hub_schemas *s, const char *kind,
				const struct hub_fiware_attr **attrs);

/* The conversion of unit, one of kind's field's units, to canonical: canonical value =
 * value * *scale + *offset. HUB_ENOENT when the kind, field or unit is unknown. */
int hub_schemas_unit_conv(const struct hub_schemas *s, const char *kind, const char *field,
			  const char *unit, double *scale, double *offset);

#endif
