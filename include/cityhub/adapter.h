/* Adapters: one per gateway payload format. Pure: no I/O, no globals, no logging. */
#ifndef CITYHUB_ADAPTER_H
#define CITYHUB_ADAPTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/options.h"
#include "cityhub/record.h"
#include "cityhub/reject.h"

struct hub_schemas;

/* One MQTT message as the journal holds it. topic and payload are NUL-terminated
 * (the terminator is not counted in len), borrowed for the duration of the call. */
struct hub_msg {
	const char *topic;
	size_t topic_len;
	const uint8_t *payload;
	size_t len;
	int64_t recv_ns; /* broker-to-hub receive time, ns since the Unix epoch */
};

struct hub_adapter {
	const char *name; /* as written in a route's `adapter:` */
	const char *doc;  /* one line for --list-adapters */
	/* Optional: the keys of a route's `options:`, one row each (cityhub/options.h); NULL =
	 * the adapter takes no options. The config binds `options:` against it when it loads
	 * (every bad key reported with its file:line) and `cityhub --config-doc` lists it. */
	const struct hub_opt_table *options;
	size_t options_size; /* bytes of the struct the table fills */
	/* Optional, with options: builds the route's state from opts, the struct filled from the
	 * table (defaults applied; borrowed: the pipeline keeps it as long as the state), and the
	 * loaded schemas (borrowed too, for facts about the kinds such as FIWARE names). On a bad
	 * option (a check the table cannot make) returns HUB_EINVAL with a message in err.
	 * NULL: the state is opts itself. */
	int (*init)(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
		    size_t errlen);
	void (*free_state)(void *state); /* NULL: nothing to free beyond opts */
	/* Decodes one message into out (appending records). On rejection returns HUB_EREJECT
	 * with rej filled; records already appended are then discarded by the caller. */
	int (*decode)(const struct hub_msg *msg, const void *state, struct hub_recset *out,
		      struct hub_reject *rej);
};

/* Binds options (a JSON object, or NULL for none) against a's table into a new struct
 * (*opts; free it with hub_adapter_options_free). HUB_EINVAL with "options.<key>: what" lines
 * in err. For a route that does not come from a file (fixtures, fuzzing); hub_config_load
 * binds the file's own nodes, with their lines. */
int hub_adapter_options_bind(const struct hub_adapter *a, const json_t *options, void **opts,
			     char *err, size_t errlen);

/* Frees a struct from hub_adapter_options_bind; NULL is a no-op. */
void hub_adapter_options_free(const struct hub_adapter *a, void *opts);

/* Parses msg's payload as one JSON document into *root (the caller decrefs it), with
 * JSON_REJECT_DUPLICATES plus flags. A payload with a NUL byte is refused too (jansson 2.14
 * skips one after a number). On failure returns HUB_EREJECT with bad_json and the position. */
int hub_adapter_parse_json(const struct hub_msg *msg, size_t flags, json_t **root,
			   struct hub_reject *rej);

/* Returns the adapter called name in table (NULL-terminated), or NULL. */
const struct hub_adapter *hub_adapter_lookup(const struct hub_adapter *const *table,
					     const char *name);

/* Returns the adapter registered under name, or NULL. Only main.c, tests and tools use the
 * registry: the pipeline and the config module are handed a table. */
const struct hub_adapter *hub_adapter_find(const char *name);

/* Returns the NULL-terminated table of all adapters (static). */
const struct hub_adapter *const *hub_adapter_all(void);

#endif
