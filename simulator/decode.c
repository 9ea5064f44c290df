#include "decode.h"

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "simtime.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

int sim_decode_fail(struct sim_decoder *d, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(d->err, d->errlen, "%s: %s", path && *path ? path : "(top)", msg);
	return HUB_EINVAL;
}

int sim_json_number(json_t *v, double *out)
{
	if (!json_is_number(v))
		return HUB_EINVAL;
	*out = json_number_value(v);
	return HUB_OK;
}

void sim_path_key(char *buf, size_t len, const char *parent, const char *key)
{
	snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
}

void sim_path_index(char *buf, size_t len, const char *parent, size_t i)
{
	snprintf(buf, len, "%s[%zu]", parent, i);
}

static int decode_number(struct sim_decoder *d, const struct sim_key *k, json_t *v, void *field,
                         const char *path)
{
	double x;
	if (sim_json_number(v, &x))
		return sim_decode_fail(d, path, "expected a number");
	if (x < k->lo || x > k->hi)
		return sim_decode_fail(d, path, "%g is outside [%g, %g]", x, k->lo, k->hi);
	if (k->type == SIM_K_DOUBLE) {
		*(double *)field = x;
		return HUB_OK;
	}
	if (!json_is_integer(v))
		return sim_decode_fail(d, path, "expected an integer");
	if (k->type == SIM_K_INT)
		*(int *)field = (int)json_integer_value(v);
	else
		*(uint64_t *)field = (uint64_t)json_integer_value(v);
	return HUB_OK;
}

int sim_decode_duration(struct sim_decoder *d, json_t *v, int64_t *ns, const char *path)
{
	if (json_is_number(v)) {
		double s = json_number_value(v);
		if (!(s >= 0 && s <= 9.0e9))
			return sim_decode_fail(d, path, "duration out of range");
		*ns = (int64_t)(s * 1e9 + 0.5);
		return HUB_OK;
	}
	if (!json_is_string(v) || sim_duration_parse(json_string_value(v), ns))
		return sim_decode_fail(d, path, "expected a duration such as 90s, 10m, 1h30m, 2d");
	return HUB_OK;
}

static int decode_time(struct sim_decoder *d, json_t *v, int64_t *ns, const char *path)
{
	if (!json_is_string(v) || sim_time_parse(json_string_value(v), d->tz_offset_s, ns))
		return sim_decode_fail(d, path,
		                       "expected a date/time such as 2026-03-15T06:00:00+07:00");
	return HUB_OK;
}

static int decode_value(struct sim_decoder *d, const struct sim_key *k, json_t *v, void *base,
                        const char *path)
{
	void *field = (char *)base + k->off;
	switch (k->type) {
	case SIM_K_STR:
		if (!json_is_string(v))
			return sim_decode_fail(d, path, "expected a string");
		free(*(char **)field);
		*(char **)field = hub_xstrdup(json_string_value(v));
		return HUB_OK;
	case SIM_K_DOUBLE:
	case SIM_K_INT:
	case SIM_K_U64:
		return decode_number(d, k, v, field, path);
	case SIM_K_BOOL:
		if (!json_is_boolean(v))
			return sim_decode_fail(d, path, "expected true or false");
		*(int *)field = json_is_true(v);
		return HUB_OK;
	case SIM_K_TIME:
		return decode_time(d, v, field, path);
	case SIM_K_DURATION:
		return sim_decode_duration(d, v, field, path);
	case SIM_K_SUB:
		if (!json_is_object(v))
			return sim_decode_fail(d, path, "expected a mapping");
		return sim_decode_object(d, v, k->sub, field, path);
	case SIM_K_CUSTOM:
		return k->custom(d, v, field, path);
	case SIM_K_IGNORE:
		return HUB_OK;
	}
	return HUB_EINVAL;
}

int sim_decode_object(struct sim_decoder *d, json_t *obj, const struct sim_key *keys, void *base,
                      const char *path)
{
	char sub[PATH_MAX_LEN];
	const char *name;
	json_t *v;
	if (!json_is_object(obj))
		return sim_decode_fail(d, path, "expected a mapping");
	json_object_foreach(obj, name, v)
	{
		const struct sim_key *k = keys;
		while (k->name && strcmp(k->name, name) != 0)
			k++;
		if (!k->name)
			return sim_decode_fail(d, path, "unknown key \"%s\"", name);
	}
	/* Table order, not file order: a key may depend on one decoded before it. */
	for (const struct sim_key *k = keys; k->name; k++) {
		v = json_object_get(obj, k->name);
		if (!v || json_is_null(v))
			continue;
		sim_path_key(sub, sizeof(sub), path, k->name);
		int rc = decode_value(d, k, v, base, sub);
		if (rc)
			return rc;
	}
	return HUB_OK;
}
