/* The static table of every adapter compiled into cityhub. No dlopen: add a line here. */
#include "cityhub/adapter.h"

#include <string.h>

extern const struct hub_adapter hub_adapter_native;

static const struct hub_adapter *const adapters[] = {
	&hub_adapter_native,
	NULL,
};

const struct hub_adapter *const *hub_adapter_all(void)
{
	return adapters;
}

const struct hub_adapter *hub_adapter_find(const char *name)
{
	for (size_t i = 0; adapters[i]; i++)
		if (strcmp(adapters[i]->name, name) == 0)
			return adapters[i];
	return NULL;
}
