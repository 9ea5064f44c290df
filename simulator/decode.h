/* Table-driven decoding of a JSON tree (from YAML) into a C struct: every accepted key is
 * declared once with its type and range; unknown keys and bad values are errors that name
 * the key's path (e.g. "sensors[3].lat"). */
#ifndef SIM_DECODE_H
#define SIM_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum sim_ktype {
	SIM_K_STR,      /* char *, owned by the struct (hub_xstrdup) */
	SIM_K_DOUBLE,   /* double in [lo, hi] */
	SIM_K_INT,      /* int in [lo, hi] */
	SIM_K_U64,      /* uint64_t */
	SIM_K_BOOL,     /* int 0/1 */
	SIM_K_TIME,     /* int64_t ns from a date/time string */
	SIM_K_DURATION, /* int64_t ns from "1h30m" or a number of seconds */
	SIM_K_SUB,      /* nested object decoded with `sub` into base + off */
	SIM_K_CUSTOM,   /* decoded by `custom` */
	SIM_K_IGNORE    /* accepted and skipped (documentation keys) */
};

struct sim_decoder {
	char *err;
	size_t errlen;
	int tz_offset_s; /* for SIM_K_TIME values without a zone */
	void *user;      /* for custom decoders */
};

struct sim_key;
/* Decodes v into field (= base + key offset); returns HUB_OK or an error set via
 * sim_decode_fail. */
typedef int (*sim_custom_fn)(struct sim_decoder *d, json_t *v, void *field, const char *path);

struct sim_key {
	const char *name;
	enum sim_ktype type;
	size_t off;
	double lo, hi;
	const struct sim_key *sub; /* SIM_K_SUB: table ending with a NULL name */
	sim_custom_fn custom;      /* SIM_K_CUSTOM */
};

/* Decodes obj with the NULL-terminated table keys into base; path names obj in messages. */
int sim_decode_object(struct sim_decoder *d, json_t *obj, const struct sim_key *keys, void *base,
                      const char *path);

/* Writes "path: message" into d->err and returns HUB_EINVAL. */
int sim_decode_fail(struct sim_decoder *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a number (integer or real) from v into *out; HUB_EINVAL if v is not one. */
int sim_json_number(json_t *v, double *out);

/* Reads a duration ("1h30m" or a number of seconds) from v into *ns. */
int sim_decode_duration(struct sim_decoder *d, json_t *v, int64_t *ns, const char *path);

/* Builds "parent.key" or "parent[i]" into buf. */
void sim_path_key(char *buf, size_t len, const char *parent, const char *key);
void sim_path_index(char *buf, size_t len, const char *parent, size_t i);

#endif
