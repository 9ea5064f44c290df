/* The static table of every adapter compiled into cityhub. No dlopen: to add an adapter, add
 * its name to adapter_names in adapters/meson.build, which generates the table
 * (adapter_table.c). */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <string.h>

/* adapter_table.c: every adapter in adapter_names' order, NULL-terminated. */
extern const struct hub_adapter *const hub_adapter_table[];

const struct hub_adapter *const *hub_adapter_all(void)
{
	return hub_adapter_table;
}

const struct hub_adapter *hub_adapter_find(const char *name)
{
	for (size_t i = 0; hub_adapter_table[i]; i++)
		if (strcmp(hub_adapter_table[i]->name, name) == 0)
			return hub_adapter_table[i];
	return NULL;
}

int hub_adapter_parse_json(const struct hub_msg *msg, size_t flags, json_t **root,
			   struct hub_reject *rej)
{
	const char *nul = memchr(msg->payload, '\0', msg->len);
	if (nul)
		return hub_reject(rej, HUB_R_BAD_JSON, "NUL byte at offset %zu",
				  (size_t)(nul - (const char *)msg->payload));
	json_error_t jerr;
	*root = json_loadb((const char *)msg->payload, msg->len, JSON_REJECT_DUPLICATES | flags, &jerr);
	if (!*root)
		return hub_reject(rej, HUB_R_BAD_JSON, "line %d column %d: %s", jerr.line, jerr.column,
				  jerr.text);
	return HUB_OK;
}
