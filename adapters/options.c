/* Route options shared by the JSON adapters. */
#include "options.h"

#include <stdio.h>

#include "cityhub/error.h"

int hub_options_field_map(const json_t *v, const char *opt, const char *what, char *err,
                          size_t errlen)
{
	const char *name;
	json_t *field;
	if (!v)
		return HUB_OK;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "options.%s: must map %s", opt, what);
		return HUB_EINVAL;
	}
	json_object_foreach((json_t *)v, name, field)
	{
		if (!json_is_string(field) || json_string_length(field) == 0) {
			snprintf(err, errlen, "options.%s.%.64s: must be a field name", opt, name);
			return HUB_EINVAL;
		}
	}
	return HUB_OK;
}
