/* Route options shared by the JSON adapters. */
#include "options.h"

#include <stdio.h>

#include "buf.h"
#include "cityhub/error.h"

int hub_options_init(const json_t *options, size_t size,
                     int (*one)(const char *key, json_t *v, void *state, char *err, size_t errlen),
                     void (*free_state)(void *state), void **state, char *err, size_t errlen)
{
	void *st = hub_xcalloc(1, size);
	const char *key;
	json_t *v;
	int rc = HUB_OK;
	if (options && !json_is_object(options)) {
		snprintf(err, errlen, "options: must be a mapping");
		rc = HUB_EINVAL;
	}
	json_object_foreach((json_t *)options, key, v)
	{
		if (rc == HUB_OK)
			rc = one(key, v, st, err, errlen);
	}
	if (rc == HUB_OK)
		*state = st;
	else
		free_state(st);
	return rc;
}

int hub_options_field_map(json_t *v, const char *opt, const char *what, json_t **out, char *err,
                          size_t errlen)
{
	const char *name;
	json_t *field;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "options.%s: must map %s", opt, what);
		return HUB_EINVAL;
	}
	json_object_foreach(v, name, field)
	{
		if (!json_is_string(field) || json_string_length(field) == 0) {
			snprintf(err, errlen, "options.%s.%.64s: must be a field name", opt, name);
			return HUB_EINVAL;
		}
	}
	*out = json_deep_copy(v);
	return HUB_OK;
}
