/* The static table of every adapter compiled into cityhub. No dlopen: to add an adapter, add
 * its name to adapter_names in adapters/meson.build, which generates the table
 * (adapter_table.c). */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"

/* adapter_table.c: every adapter in adapter_names' order, NULL-terminated. */
extern const struct hub_adapter *const hub_adapter_table[];

const struct hub_adapter *const *hub_adapter_all(void)
{
	return hub_adapter_table;
}

const struct hub_adapter *hub_adapter_lookup(const struct hub_adapter *const *table,
					     const char *name)
{
	for (size_t i = 0; table && name && table[i]; i++)
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	return NULL;
}

const struct hub_adapter *hub_adapter_find(const char *name)
{
	return hub_adapter_lookup(hub_adapter_table, name);
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

int hub_adapter_options_bind(const struct hub_adapter *a, const json_t *options, void **opts,
			     char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.err = err, .errlen = errlen};
	struct hub_yaml_node *map = options ? hub_yaml_from_json(options, 1) : NULL;
	void *base = hub_xcalloc(1, a->options_size);
	int rc;

	if (err && errlen)
		err[0] = '\0';
	rc = hub_options_bind_all(&c, map, a->options, "options", base, 1);
	hub_yaml_free(map);
	if (rc != HUB_OK) {
		hub_adapter_options_free(a, base);
		return HUB_EINVAL;
	}
	*opts = base;
	return HUB_OK;
}

void hub_adapter_options_free(const struct hub_adapter *a, void *opts)
{
	if (!opts)
		return;
	hub_options_free(a->options, opts);
	free(opts);
}
