/* The static table of every adapter compiled into cityhub. No dlopen: add a line here. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <string.h>

extern const struct hub_adapter hub_adapter_native;
extern const struct hub_adapter hub_adapter_lpp;
extern const struct hub_adapter hub_adapter_ttn;
extern const struct hub_adapter hub_adapter_chirpstack;
extern const struct hub_adapter hub_adapter_senml;
extern const struct hub_adapter hub_adapter_ngsi;
extern const struct hub_adapter hub_adapter_jsonmap;

static const struct hub_adapter *const adapters[] = {
	&hub_adapter_native,
	&hub_adapter_lpp,
	&hub_adapter_ttn,
	&hub_adapter_chirpstack,
	&hub_adapter_senml,
	&hub_adapter_ngsi,
	&hub_adapter_jsonmap,
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
